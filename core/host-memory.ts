/**
 * Sparse, byte-addressable host memory with a 64-bit physical address space
 * (DESIGN.md §5): what the driver writes rings and buffers into and what the adapter
 * reaches by DMA.
 *
 * Addresses (`HostAddress`) are either a `number` or a `bigint`:
 * - a `number` must be a safe integer (0 ≤ a < 2^53); it is exact, and cheap;
 * - a `bigint` may be anything in [0, 2^64), so a TPT test can use a VA or PA near 2^64.
 *   A `number` at or above 2^53 is refused (it may already have been rounded), with a
 *   message saying to pass a bigint.
 * Internally an address is split into a 4 KiB page number (at most 2^52, so always a safe
 * number, whichever form the address came in) and an offset in the page; no access is
 * ever rounded. An access may not run past 2^64: a range that would wrap is an error,
 * never a silent wrap to address 0.
 *
 * Pages are allocated on first write only; reading bytes that were never written returns
 * zeros and allocates nothing.
 *
 * The DMA path (one 4 KiB payload per packet, at millions of packets per second) takes
 * the number fast path: a `number` range that ends below 2^53 is checked and split
 * without any bigint, `readInto` copies into the caller's buffer instead of allocating,
 * and recently used pages are found without a map lookup.
 * Every other access goes the exact bigint way; the two agree byte for byte.
 */

/** a host physical (or, for the TPT, virtual) address: a safe integer or a bigint < 2^64 */
export type HostAddress = number | bigint;

/** granularity of the sparse store [bytes]; also the PCIe 4 KiB boundary TLPs must not cross */
export const HOST_PAGE_BYTES = 4096;
const PAGE_SHIFT = 12n;
const PAGE_MASK = 4095n;
/** one past the highest address */
export const HOST_ADDRESS_LIMIT = 1n << 64n;

/** an access seen by a `HostMemory` observer */
export interface HostMemoryAccess {
  /** first byte [address] */
  readonly addr: bigint;
  /** length [bytes] */
  readonly len: number;
  /** who made it: "cpu" for the driver's own loads and stores, the DMA engine's name for DMA */
  readonly initiator: string;
  /** the bytes written (a copy); undefined for reads */
  readonly bytes?: Uint8Array;
}

export type HostMemoryObserver = (access: HostMemoryAccess) => void;

/** a byte range that differs between two states of memory */
export interface HostMemoryDiff {
  readonly addr: bigint;
  readonly before: Uint8Array;
  readonly after: Uint8Array;
}

/** a frozen copy of memory contents, from `HostMemory.snapshot()` */
export class HostMemorySnapshot {
  /** @internal pages by page number; an absent page is all zeros */
  constructor(readonly pages: ReadonlyMap<number, Uint8Array>) {}
}

/** checks an address and returns it as a bigint; `what` names the caller in the message */
export function toHostAddress(addr: HostAddress, what = "host address"): bigint {
  if (typeof addr === "bigint") {
    if (addr < 0n || addr >= HOST_ADDRESS_LIMIT) throw new RangeError(`${what}: 0x${addr.toString(16)} is outside [0, 2^64)`);
    return addr;
  }
  if (!Number.isSafeInteger(addr) || addr < 0) {
    throw new RangeError(
      `${what}: ${addr} is not a non-negative safe integer` + (Number.isInteger(addr) && addr > 0 ? " (addresses ≥ 2^53 must be passed as bigint)" : ""),
    );
  }
  return BigInt(addr);
}

/** checks [addr, addr+len) lies in [0, 2^64) and returns addr as a bigint */
export function checkHostRange(addr: HostAddress, len: number, what = "host range"): bigint {
  const a = toHostAddress(addr, what);
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError(`${what}: length must be a whole number of bytes ≥ 0, got ${len}`);
  if (a + BigInt(len) > HOST_ADDRESS_LIMIT) {
    throw new RangeError(`${what}: [0x${a.toString(16)}, +${len}) runs past 2^64 (would wrap around)`);
  }
  return a;
}

/**
 * true when [addr, addr+len) is a safe number range: addr and len safe integers ≥ 0 whose
 * sum is ≤ 2^53 − 1 (if the exact sum were larger, the rounded one is ≥ 2^53 too, so the
 * comparison cannot be fooled by rounding). Such a range needs no bigint check at all.
 */
function isSafeNumberRange(addr: HostAddress, len: number): addr is number {
  return typeof addr === "number" && Number.isSafeInteger(addr) && addr >= 0 && Number.isSafeInteger(len) && len >= 0 && addr + len <= Number.MAX_SAFE_INTEGER;
}

/** page number and in-page offset of a checked bigint address (numbers are split inline) */
function splitAddress(addr: bigint): [page: number, offset: number] {
  return [Number(addr >> PAGE_SHIFT), Number(addr & PAGE_MASK)];
}

function pageAddress(page: number, offset: number): bigint {
  return (BigInt(page) << PAGE_SHIFT) + BigInt(offset);
}

const ZERO_PAGE = new Uint8Array(HOST_PAGE_BYTES);
/** slots of HostMemory's page cache (a power of two) */
const PAGE_CACHE_SLOTS = 256;

/**
 * A first-fit allocator over [base, limit), with free. Used by tests and the driver to
 * place rings, buffers and tables; ranges handed out never overlap. Addresses are safe
 * numbers: the arena must lie below 2^53 (use bigint addresses directly to reach above).
 */
export class RangeAllocator {
  // Free ranges [start, end), sorted by start and never adjacent (merged on free).
  private free: Array<[number, number]>;
  private readonly live = new Map<number, number>();
  private liveBytes = 0;

  constructor(
    /** lowest address handed out */
    readonly base: number,
    /** one past the highest address handed out */
    readonly limit: number,
  ) {
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(limit) || base < 0 || limit <= base) {
      throw new RangeError(`RangeAllocator: need safe integers 0 ≤ base < limit, got [${base}, ${limit})`);
    }
    this.free = [[base, limit]];
  }

  /**
   * A range of `bytes` (≥ 1) starting at a multiple of `align` (a power of two); the
   * lowest such range that is free. Throws if none is left.
   */
  alloc(bytes: number, align = 64): number {
    if (!Number.isSafeInteger(bytes) || bytes < 1) throw new RangeError(`alloc: size must be a whole number of bytes ≥ 1, got ${bytes}`);
    if (!isPowerOfTwo(align)) throw new RangeError(`alloc: alignment must be a power of two, got ${align}`);
    for (let i = 0; i < this.free.length; i++) {
      const [start, end] = this.free[i];
      // Division by a power of two is exact in floating point, so this stays exact.
      const at = Math.ceil(start / align) * align;
      if (at + bytes > end) continue;
      const pieces: Array<[number, number]> = [];
      if (at > start) pieces.push([start, at]);
      if (at + bytes < end) pieces.push([at + bytes, end]);
      this.free.splice(i, 1, ...pieces);
      this.live.set(at, bytes);
      this.liveBytes += bytes;
      return at;
    }
    throw new RangeError(`alloc: no free range of ${bytes} bytes aligned to ${align} in [0x${this.base.toString(16)}, 0x${this.limit.toString(16)})`);
  }

  /** returns a range from `alloc` (by its start address) */
  release(addr: number): void {
    const bytes = this.live.get(addr);
    if (bytes === undefined) throw new RangeError(`free: 0x${addr.toString(16)} is not the start of an allocated range`);
    this.live.delete(addr);
    this.liveBytes -= bytes;
    let start = addr;
    let end = addr + bytes;
    // index of the first free range after this one
    let i = 0;
    while (i < this.free.length && this.free[i][0] < start) i++;
    let remove = 0;
    let at = i;
    if (i > 0 && this.free[i - 1][1] === start) {
      start = this.free[i - 1][0];
      at = i - 1;
      remove++;
    }
    if (i < this.free.length && this.free[i][0] === end) {
      end = this.free[i][1];
      remove++;
    }
    this.free.splice(at, remove, [start, end]);
  }

  /** bytes handed out and not returned */
  get allocatedBytes(): number {
    return this.liveBytes;
  }

  /** live allocations as [start, size], by start address */
  allocations(): Array<[number, number]> {
    return [...this.live.entries()].sort((a, b) => a[0] - b[0]);
  }
}

export interface HostMemoryOptions {
  /** lowest address `alloc` hands out; default 0x1_0000_0000 (4 GiB), so small or null addresses are never valid buffers */
  allocBase?: number;
  /** one past the highest address `alloc` hands out; default 2^48 (a 48-bit physical address space) */
  allocLimit?: number;
}

export class HostMemory {
  private readonly pages = new Map<number, Uint8Array>();
  /**
   * pages looked up recently, direct-mapped by the low bits of the page number (pages are
   * never freed, so an entry cannot go stale): a DMA stream over a few dozen pages finds
   * them without a map lookup. Page numbers are < 2^52, so −1 marks an empty slot.
   */
  private readonly cachedPageNumber = new Float64Array(PAGE_CACHE_SLOTS).fill(-1);
  private readonly cachedPage: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(PAGE_CACHE_SLOTS).fill(undefined);
  /** the typed readers' buffer */
  private readonly scratch = new Uint8Array(8);
  private readonly scratchView = new DataView(this.scratch.buffer);
  private readonly writeObservers: HostMemoryObserver[] = [];
  private readonly readObservers: HostMemoryObserver[] = [];
  readonly allocator: RangeAllocator;

  /** accesses and bytes since construction, all initiators */
  bytesRead = 0.5; // 0 from the constructor on: see there
  bytesWritten = 0.5;
  readCount = 0;
  writeCount = 0;

  constructor(options: HostMemoryOptions = {}) {
    // A byte count passes 2^31 in a long run. A field that starts as a small integer changes
    // representation then, and the JIT throws away the code that adds to it in the middle of
    // the run; a field made with a fraction is a double from the start and stays one.
    this.bytesRead = this.bytesWritten = 0;
    this.allocator = new RangeAllocator(options.allocBase ?? 0x1_0000_0000, options.allocLimit ?? 2 ** 48);
  }

  /** pages holding data (allocated by a write) */
  get pagesAllocated(): number {
    return this.pages.size;
  }

  /** a copy of `len` bytes at `addr`; never-written bytes read as zero */
  read(addr: HostAddress, len: number, initiator = "cpu"): Uint8Array {
    if (!isSafeNumberRange(addr, len)) checkHostRange(addr, len, "HostMemory.read");
    const out = new Uint8Array(len);
    this.copyOut(addr, out, 0, len, initiator);
    return out;
  }

  /**
   * Copies `len` bytes at `addr` into dst[dstOffset..] without allocating (never-written
   * bytes read as zero): the DMA engines' read. Seen by read observers like `read`.
   */
  readInto(addr: HostAddress, dst: Uint8Array, dstOffset: number, len: number, initiator = "cpu"): void {
    if (!isSafeNumberRange(addr, len)) checkHostRange(addr, len, "HostMemory.readInto");
    if (!Number.isSafeInteger(dstOffset) || dstOffset < 0 || dstOffset + len > dst.length) throw outside("readInto", "does not fit a destination", dstOffset, len, dst);
    this.copyOut(addr, dst, dstOffset, len, initiator);
  }

  /** the read itself, on a checked range */
  private copyOut(addr: HostAddress, dst: Uint8Array, dstOffset: number, len: number, initiator: string): void {
    let page: number;
    let off: number;
    if (typeof addr === "number") {
      page = Math.floor(addr / HOST_PAGE_BYTES);
      off = addr - page * HOST_PAGE_BYTES;
    } else [page, off] = splitAddress(addr);
    for (let done = 0; done < len; page++, off = 0) {
      const n = len - done < HOST_PAGE_BYTES - off ? len - done : HOST_PAGE_BYTES - off;
      const p = this.pageAt(page);
      if (p === undefined) dst.fill(0, dstOffset + done, dstOffset + done + n);
      // a whole page copies without making a view of it
      else if (n === HOST_PAGE_BYTES) dst.set(p, dstOffset + done);
      else dst.set(p.subarray(off, off + n), dstOffset + done);
      done += n;
    }
    this.bytesRead += len;
    this.readCount++;
    if (this.readObservers.length > 0) this.notify(this.readObservers, { addr: toHostAddress(addr), len, initiator });
  }

  /**
   * A read without a copy: the page array that holds [addr, addr+len), when that range lies
   * in one page that has been written (its first byte is at `addr % HOST_PAGE_BYTES` in it);
   * undefined otherwise (a range across pages or in never-written memory: use `readInto`).
   * It counts and is observed as a read of the range now; the caller reads the bytes from the
   * array later, and sees whatever is written there in between (a DMA engine that reads its
   * source when the bytes leave, not when it was asked). The array must not be written.
   */
  pageOf(addr: number, len: number, initiator = "cpu"): Uint8Array | undefined {
    if (!isSafeNumberRange(addr, len)) return undefined;
    const page = Math.floor(addr / HOST_PAGE_BYTES);
    if (addr - page * HOST_PAGE_BYTES + len > HOST_PAGE_BYTES) return undefined;
    const p = this.pageAt(page);
    if (p === undefined) return undefined;
    this.bytesRead += len;
    this.readCount++;
    if (this.readObservers.length > 0) this.notify(this.readObservers, { addr: toHostAddress(addr), len, initiator });
    return p;
  }

  /** calls each observer (out of line: the accesses stay small enough for the JIT to inline them) */
  private notify(observers: readonly HostMemoryObserver[], ev: HostMemoryAccess): void {
    for (const o of observers) o(ev);
  }

  /** stores `bytes` at `addr`, allocating pages as needed */
  write(addr: HostAddress, bytes: Uint8Array, initiator = "cpu"): void {
    this.writeFrom(addr, bytes, 0, bytes.length, initiator);
  }

  /**
   * Stores src[srcOffset..srcOffset+len) at `addr` (what `write` does with a subarray,
   * without making one): the DMA engines' write. Observers see a copy of those bytes.
   */
  writeFrom(addr: HostAddress, src: Uint8Array, srcOffset: number, len: number, initiator = "cpu"): void {
    if (!isSafeNumberRange(addr, len)) checkHostRange(addr, len, "HostMemory.write");
    const srcLength = src.length;
    if (!Number.isSafeInteger(srcOffset) || srcOffset < 0 || srcOffset + len > srcLength) throw outside("writeFrom", "is not inside a source", srcOffset, len, src);
    if (typeof addr === "number") {
      // a range inside one page already written (a packet's payload, a CQE): one copy. This
      // part is kept short, so that the JIT inlines it into the DMA engines' write.
      const page = Math.floor(addr / HOST_PAGE_BYTES);
      const off = addr - page * HOST_PAGE_BYTES;
      const p = off + len <= HOST_PAGE_BYTES ? this.pageAt(page) : undefined;
      if (p !== undefined) {
        p.set(srcOffset === 0 && len === srcLength ? src : src.subarray(srcOffset, srcOffset + len), off);
        this.bytesWritten += len;
        this.writeCount++;
        if (this.writeObservers.length > 0) this.notifyWrite(addr, src, srcOffset, len, initiator);
        return;
      }
    }
    this.store(addr, src, srcOffset, len, initiator);
  }

  /** writeFrom on a checked range, page by page, allocating pages as needed */
  private store(addr: HostAddress, src: Uint8Array, srcOffset: number, len: number, initiator: string): void {
    const srcLength = src.length;
    let page: number;
    let off: number;
    if (typeof addr === "number") {
      page = Math.floor(addr / HOST_PAGE_BYTES);
      off = addr - page * HOST_PAGE_BYTES;
    } else [page, off] = splitAddress(addr);
    for (let done = 0; done < len; page++, off = 0) {
      const n = len - done < HOST_PAGE_BYTES - off ? len - done : HOST_PAGE_BYTES - off;
      let p = this.pageAt(page);
      if (p === undefined) {
        p = new Uint8Array(HOST_PAGE_BYTES);
        this.pages.set(page, p);
      }
      const from = srcOffset + done;
      // the whole source in one piece copies without making a view of it
      p.set(from === 0 && n === srcLength ? src : src.subarray(from, from + n), off);
      done += n;
    }
    this.bytesWritten += len;
    this.writeCount++;
    if (this.writeObservers.length > 0) this.notifyWrite(addr, src, srcOffset, len, initiator);
  }

  private notifyWrite(addr: HostAddress, src: Uint8Array, srcOffset: number, len: number, initiator: string): void {
    this.notify(this.writeObservers, { addr: toHostAddress(addr), len, initiator, bytes: src.slice(srcOffset, srcOffset + len) });
  }

  /** the page numbered `page`, or undefined if it was never written */
  private pageAt(page: number): Uint8Array | undefined {
    // the low bits of the page number: `&` takes them modulo 2^32 first, which keeps them
    // exact for any page number (and `%` on a double would be a library call)
    const slot = page & (PAGE_CACHE_SLOTS - 1);
    if (this.cachedPageNumber[slot] === page) return this.cachedPage[slot];
    const p = this.pages.get(page);
    if (p !== undefined) {
      this.cachedPageNumber[slot] = page;
      this.cachedPage[slot] = p;
    }
    return p;
  }

  /** sets `len` bytes at `addr` to `value` (a write like any other, seen by observers) */
  fill(addr: HostAddress, len: number, value = 0, initiator = "cpu"): void {
    this.write(addr, new Uint8Array(len).fill(value), initiator);
  }

  /**
   * Calls `observer` after every write, from any initiator. Returns a function that
   * removes it. Security tests use it to assert that a rejected request touched nothing.
   */
  onWrite(observer: HostMemoryObserver): () => void {
    return addObserver(this.writeObservers, observer);
  }

  /** calls `observer` after every read (including the typed helpers); returns its remover */
  onRead(observer: HostMemoryObserver): () => void {
    return addObserver(this.readObservers, observer);
  }

  // --- typed helpers. 64-bit values are bigints (a u64 does not fit a number); writes
  // accept a number too when it is a safe non-negative integer.

  readU8(addr: HostAddress): number {
    return this.readScratch(addr, 1).getUint8(0);
  }
  writeU8(addr: HostAddress, v: number): void {
    this.write(addr, Uint8Array.of(checkUint(v, 8)));
  }
  readU16Le(addr: HostAddress): number {
    return this.readScratch(addr, 2).getUint16(0, true);
  }
  readU16Be(addr: HostAddress): number {
    return this.readScratch(addr, 2).getUint16(0, false);
  }
  writeU16Le(addr: HostAddress, v: number): void {
    this.writeWith(addr, 2, (dv) => dv.setUint16(0, checkUint(v, 16), true));
  }
  writeU16Be(addr: HostAddress, v: number): void {
    this.writeWith(addr, 2, (dv) => dv.setUint16(0, checkUint(v, 16), false));
  }
  readU32Le(addr: HostAddress): number {
    return this.readScratch(addr, 4).getUint32(0, true);
  }
  readU32Be(addr: HostAddress): number {
    return this.readScratch(addr, 4).getUint32(0, false);
  }
  writeU32Le(addr: HostAddress, v: number): void {
    this.writeWith(addr, 4, (dv) => dv.setUint32(0, checkUint(v, 32), true));
  }
  writeU32Be(addr: HostAddress, v: number): void {
    this.writeWith(addr, 4, (dv) => dv.setUint32(0, checkUint(v, 32), false));
  }
  readU64Le(addr: HostAddress): bigint {
    return this.readScratch(addr, 8).getBigUint64(0, true);
  }
  readU64Be(addr: HostAddress): bigint {
    return this.readScratch(addr, 8).getBigUint64(0, false);
  }
  writeU64Le(addr: HostAddress, v: bigint | number): void {
    this.writeWith(addr, 8, (dv) => dv.setBigUint64(0, checkU64(v), true));
  }
  writeU64Be(addr: HostAddress, v: bigint | number): void {
    this.writeWith(addr, 8, (dv) => dv.setBigUint64(0, checkU64(v), false));
  }

  /** reads `len` ≤ 8 bytes into a reused buffer and returns a view of it (valid until the next call) */
  private readScratch(addr: HostAddress, len: number): DataView {
    if (!isSafeNumberRange(addr, len)) checkHostRange(addr, len, "HostMemory.read");
    this.copyOut(addr, this.scratch, 0, len, "cpu");
    return this.scratchView;
  }

  private writeWith(addr: HostAddress, len: number, put: (dv: DataView) => void): void {
    const b = new Uint8Array(len);
    put(view(b));
    this.write(addr, b);
  }

  // --- allocator (test and driver use; touches no memory)

  /** a fresh range of `bytes`, aligned to `align` (power of two, default 64: a cache line / WQE basic block); contents are whatever was there */
  alloc(bytes: number, align = 64): number {
    return this.allocator.alloc(bytes, align);
  }

  /** returns a range from `alloc` */
  free(addr: number): void {
    this.allocator.release(addr);
  }

  // --- snapshot and compare

  /** a copy of every page, for `diff`/`equals` later */
  snapshot(): HostMemorySnapshot {
    const copy = new Map<number, Uint8Array>();
    for (const [k, p] of this.pages) copy.set(k, p.slice());
    return new HostMemorySnapshot(copy);
  }

  /** true if memory holds exactly what it held at `snap` (a page written with zeros equals a never-written one) */
  equals(snap: HostMemorySnapshot): boolean {
    return diffPages(snap.pages, this.pages, 1).length === 0;
  }

  /** byte ranges that changed since `snap`, in address order; at most `maxRanges` of them */
  diff(snap: HostMemorySnapshot, maxRanges = Infinity): HostMemoryDiff[] {
    return diffPages(snap.pages, this.pages, maxRanges);
  }

  /** byte ranges that differ from snapshot `a` to snapshot `b` */
  static diffSnapshots(a: HostMemorySnapshot, b: HostMemorySnapshot, maxRanges = Infinity): HostMemoryDiff[] {
    return diffPages(a.pages, b.pages, maxRanges);
  }
}

/** the error of a buffer range that does not fit its buffer */
function outside(call: string, what: string, offset: number, len: number, buf: Uint8Array): RangeError {
  return new RangeError(`HostMemory.${call}: [${offset}, +${len}) ${what} of ${buf.length} bytes`);
}

function addObserver(list: HostMemoryObserver[], o: HostMemoryObserver): () => void {
  list.push(o);
  return () => {
    const i = list.indexOf(o);
    if (i >= 0) list.splice(i, 1);
  };
}

/** true for 1, 2, 4, … up to 2^52 (checked by halving: `&` would truncate to 32 bits) */
export function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function checkUint(v: number, bits: number): number {
  if (!Number.isInteger(v) || v < 0 || v >= 2 ** bits) throw new RangeError(`u${bits} value out of range: ${v}`);
  return v;
}

function checkU64(v: bigint | number): bigint {
  const b = typeof v === "bigint" ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
  if (b < 0n || b >= HOST_ADDRESS_LIMIT) throw new RangeError(`u64 value out of range: ${v}`);
  return b;
}

/** differing runs between two page maps; runs continue across a page boundary */
function diffPages(a: ReadonlyMap<number, Uint8Array>, b: ReadonlyMap<number, Uint8Array>, maxRanges: number): HostMemoryDiff[] {
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort((x, y) => x - y);
  const out: HostMemoryDiff[] = [];
  let run: { page: number; off: number; before: number[]; after: number[] } | undefined;
  // where the open run would continue: page and offset of its next byte
  let nextPage = -1;
  let nextOff = -1;
  const close = (): void => {
    if (run === undefined) return;
    out.push({ addr: pageAddress(run.page, run.off), before: Uint8Array.from(run.before), after: Uint8Array.from(run.after) });
    run = undefined;
  };
  for (const k of keys) {
    const pa = a.get(k) ?? ZERO_PAGE;
    const pb = b.get(k) ?? ZERO_PAGE;
    if (pa === pb) continue;
    for (let i = 0; i < HOST_PAGE_BYTES; i++) {
      if (pa[i] === pb[i]) {
        close();
        continue;
      }
      if (run !== undefined && !(k === nextPage && i === nextOff)) close();
      if (run === undefined) {
        if (out.length >= maxRanges) return out;
        run = { page: k, off: i, before: [], after: [] };
      }
      run.before.push(pa[i]);
      run.after.push(pb[i]);
      nextPage = i + 1 === HOST_PAGE_BYTES ? k + 1 : k;
      nextOff = i + 1 === HOST_PAGE_BYTES ? 0 : i + 1;
    }
  }
  close();
  return out;
}
