/**
 * Memory protection and DMA for the transport: every key the stages use (the responder's
 * R_Keys, the requester's and responder's L_Keys) goes through the tpt block's functional
 * check (hca/tpt tptCheck) against the firmware's MPT, and every byte moved goes through
 * the MTT translation of the range that check accepted.
 *
 * The tables are read where the firmware wrote them (TptTables; deviceBusTables adapts the
 * model's ModelDeviceBus). A decoded MPT entry is cached per entry buffer, so a rewrite of
 * the entry (a new buffer) is seen at once and the check itself does no bigint arithmetic.
 */
import { HOST_PAGE_BYTES, type HostMemory } from "../../core/index.ts";
import { decodeMpt, encodeMpt, encodeMtt, makeKey, MptState, MTT_ENTRY_BYTES, WcStatus, type MptEntry } from "../formats/index.ts";
import { mptCheckEntry, tptCheck, TptFault, UNUSABLE_MPT, type MptCheckEntry, type TptCheckResult } from "../tpt/index.ts";
import { rd32 } from "./eth.ts";
import type { TransportPacket } from "./packet.ts";

/** where the MPT and MTT live: the firmware's tables */
export interface TptTables {
  /** the bytes of MPT entry `index` (hca/formats layout) while it is valid, else undefined */
  mpt(index: number): Uint8Array | undefined;
  /** the 8 bytes of MTT entry `index`, if written */
  mtt(index: number): Uint8Array | undefined;
  /** a SEND with invalidate took MPT entry `index` out of service */
  invalidateMpt(index: number): void;
}

/** the tables of a firmware DeviceBus model (ModelDeviceBus's maps) */
export function deviceBusTables(bus: {
  readonly mpt: ReadonlyMap<number, Uint8Array>;
  readonly mtt: ReadonlyMap<number, Uint8Array>;
  invalidateMpt(index: number): unknown;
}): TptTables {
  return { mpt: (i) => bus.mpt.get(i), mtt: (i) => bus.mtt.get(i), invalidateMpt: (i) => void bus.invalidateMpt(i) };
}

/**
 * A stand-alone MPT/MTT store with a register call, for tests and benches that run the
 * transport without the firmware: regions map VA = PA in 4 KiB pages, as the driver's do.
 */
export class RegionTable implements TptTables {
  // indexes are handed out densely from 0 (MTT) and 1 (MPT): arrays, looked up per packet
  private readonly mpts: (Uint8Array | undefined)[] = [undefined];
  private readonly mtts: Uint8Array[] = [];
  private nextIndex = 1;
  private nextMtt = 0;

  mpt(i: number): Uint8Array | undefined {
    return i < this.mpts.length ? this.mpts[i] : undefined;
  }
  mtt(i: number): Uint8Array | undefined {
    return i < this.mtts.length ? this.mtts[i] : undefined;
  }
  invalidateMpt(i: number): void {
    if (i < this.mpts.length) this.mpts[i] = undefined;
  }

  /** an MPT entry as given, without MTT entries (a region whose pages are not mapped) */
  registerEntry(e: MptEntry): { key: number; index: number } {
    const index = this.nextIndex++;
    this.mpts.push(encodeMpt(e));
    return { key: makeKey(index, e.variant), index };
  }

  /** registers [addr, addr+length) (VA = PA) in `pd` with Access bits `access`; returns its key */
  register(pd: number, addr: number, length: number, access: number, variant = 0): { key: number; index: number } {
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(length) || length < 1) {
      throw new RangeError(`RegionTable.register: need a safe address and a length ≥ 1, got 0x${addr.toString(16)} +${length}`);
    }
    const index = this.nextIndex++;
    const first = Math.floor(addr / 4096);
    const pages = Math.floor((addr + length - 1) / 4096) - first + 1;
    const mttBase = this.nextMtt;
    this.nextMtt += pages;
    for (let i = 0; i < pages; i++) this.mtts.push(encodeMtt({ addr: BigInt((first + i) * 4096), present: true }));
    const e: MptEntry = { state: MptState.valid, access, variant, pd, log2PageSize: 12, start: BigInt(addr), length: BigInt(length), mttBase };
    this.mpts.push(encodeMpt(e));
    return { key: makeKey(index, variant), index };
  }
}

/** a range that passed the check: where its first byte is in the MTT */
export interface TranslatedRange {
  /** MTT index of the first page */
  mttIdx0: number;
  /** offset of the first byte in its page */
  off0: number;
  /** log2 page size */
  ps: number;
}

/** a check's outcome: TptCheckResult (fault, and the range's translation when fault is ok) */
export class KeyCheck implements TptCheckResult, TranslatedRange {
  fault = 0;
  nseg = 0;
  off0 = 0;
  ps = 12;
  mttIdx0 = 0;
}

/** a request for the check, reused by the caller */
export class KeyRequest {
  key = 0;
  pd = 0;
  access = 0;
  vaHi = 0;
  vaLo = 0;
  len = 0;
}

const TWO32 = 0x1_0000_0000;
/** 2^k, k = 0..64 (a lookup instead of Math.pow per page) */
const POW2: Float64Array = Float64Array.from({ length: 65 }, (_, k) => 2 ** k);
/** 2^-k: multiplying by it is dividing by 2^k exactly, without a division's latency */
const INV_POW2: Float64Array = Float64Array.from({ length: 65 }, (_, k) => 2 ** -k);
const SAFE_HI = 0x20_0000; // hi < 2^21: hi·2^32 + lo is a safe integer

/** slots of Protection's memory of passed checks (a power of two) */
const PASSED_SLOTS = 64;
// a slot's numbers: the request, then the outcome (every field tptCheck writes when it passes)
const P_KEY = 0;
const P_PD = 1;
const P_ACCESS = 2;
const P_VA_HI = 3;
const P_VA_LO = 4;
const P_LEN = 5;
const P_NSEG = 6;
const P_OFF0 = 7;
const P_PS = 8;
const P_MTT0 = 9;
const PASSED_WORDS = 10;

/** key checks, translation and the byte moves of one adapter */
export class Protection {
  private readonly decoded = new WeakMap<Uint8Array, MptCheckEntry>();
  /** the last entry looked up, by its buffer: most packets reuse the key of the one before */
  private lastBytes: Uint8Array | undefined = undefined;
  private lastEntry: MptCheckEntry = UNUSABLE_MPT;
  /** requests that passed the check (direct-mapped by address and key): the entry, the request and the outcome */
  private readonly passedEntry: (MptCheckEntry | null)[] = new Array<MptCheckEntry | null>(PASSED_SLOTS).fill(null);
  private readonly passed = new Float64Array(PASSED_SLOTS * PASSED_WORDS);
  /** the MPT entry the last check() ran on */
  checkedEntry: MptCheckEntry = UNUSABLE_MPT;
  /** bytes moved by DMA */
  bytesRead = 0.5; // 0 from the constructor on (a double from the start: see HostMemory's)
  bytesWritten = 0.5;
  /**
   * where the last translate() landed: physical address (a number below 2^53, else the
   * bigint in paBig; a field that only ever holds numbers is stored unboxed), bytes to the
   * end of its page
   */
  private pa = 0;
  private paBig: bigint | undefined = undefined;
  private chunk = 0;

  constructor(
    readonly tables: TptTables,
    readonly memory: HostMemory,
    /** initiator name host-memory observers see */
    readonly initiator: string,
  ) {
    this.bytesRead = this.bytesWritten = 0;
  }

  /** the MPT entry a key selects, in check form (UNUSABLE_MPT when there is none) */
  entry(key: number): MptCheckEntry {
    const bytes = this.tables.mpt(key >>> 8);
    if (bytes !== undefined && bytes === this.lastBytes) return this.lastEntry;
    return this.lookUp(bytes);
  }

  /** entry() past its one-entry memory (out of line: entry() runs per packet, this rarely) */
  private lookUp(bytes: Uint8Array | undefined): MptCheckEntry {
    if (bytes === undefined) return UNUSABLE_MPT;
    let e = this.decoded.get(bytes);
    if (e === undefined) {
      e = mptCheckEntry(decodeMpt(bytes));
      this.decoded.set(bytes, e);
    }
    this.lastBytes = bytes;
    this.lastEntry = e;
    return e;
  }

  /**
   * The tpt block's check, without a segment limit; the outcome (TptFault) is also in
   * `out.fault`. The check is a pure function of the entry (immutable: a rewritten MPT
   * entry is a new one) and the request, so requests that passed are remembered, a few
   * dozen by address: the same request on the same entry passes the same way again (a
   * requester checks its L_Key per WQE, a responder the R_Key of each WRITE to a buffer).
   */
  check(r: KeyRequest, out: KeyCheck): number {
    const e = this.entry(r.key);
    this.checkedEntry = e;
    const slot = ((r.vaLo >>> 12) + r.key) & (PASSED_SLOTS - 1);
    const p = this.passed;
    const w = slot * PASSED_WORDS;
    if (
      this.passedEntry[slot] === e &&
      p[w + P_VA_LO] === r.vaLo && p[w + P_KEY] === r.key && p[w + P_LEN] === r.len && p[w + P_VA_HI] === r.vaHi && p[w + P_PD] === r.pd && p[w + P_ACCESS] === r.access
    ) {
      out.fault = TptFault.ok;
      out.nseg = p[w + P_NSEG];
      out.off0 = p[w + P_OFF0];
      out.ps = p[w + P_PS];
      out.mttIdx0 = p[w + P_MTT0];
      return TptFault.ok;
    }
    return this.checkAndRemember(e, r, out, slot);
  }

  /** check() of a request not remembered: the tpt check, and the outcome kept if it passed */
  private checkAndRemember(e: MptCheckEntry, r: KeyRequest, out: KeyCheck, slot: number): number {
    const p = this.passed;
    const w = slot * PASSED_WORDS;
    tptCheck(e, r, Infinity, out);
    if (out.fault === TptFault.ok) {
      this.passedEntry[slot] = e;
      p[w + P_KEY] = r.key;
      p[w + P_PD] = r.pd;
      p[w + P_ACCESS] = r.access;
      p[w + P_VA_HI] = r.vaHi;
      p[w + P_VA_LO] = r.vaLo;
      p[w + P_LEN] = r.len;
      p[w + P_NSEG] = out.nseg;
      p[w + P_OFF0] = out.off0;
      p[w + P_PS] = out.ps;
      p[w + P_MTT0] = out.mttIdx0;
    }
    return out.fault;
  }

  /** invalidates the region `key` names if it lies in `pd` and the variant matches; false otherwise */
  invalidate(key: number, pd: number): boolean {
    const e = this.entry(key);
    if (!e.usable || e.variant !== (key & 0xff) || e.pd !== pd) return false;
    this.tables.invalidateMpt(key >>> 8);
    return true;
  }

  /** places `this.pa`/`this.chunk` at byte `offset` of range `r`; false on a translation fault */
  private translate(r: TranslatedRange, offset: number): boolean {
    const pageSize = POW2[r.ps];
    const at = r.off0 + offset;
    const page = Math.floor(at * INV_POW2[r.ps]);
    const inPage = at - page * pageSize;
    const m = this.tables.mtt(r.mttIdx0 + page);
    if (m === undefined || m.length < MTT_ENTRY_BYTES) return false;
    const lo = rd32(m, 4);
    if ((lo & 1) === 0) return false;
    const hi = rd32(m, 0);
    const base = (lo & -4096) >>> 0; // the 4 KiB frame (a bit mask: `%` on a double is a library call)
    if (hi < SAFE_HI) {
      this.pa = hi * TWO32 + base + inPage;
      this.paBig = undefined;
    } else this.setBigPa(hi, base + inPage);
    this.chunk = pageSize - inPage;
    return true;
  }

  /** a physical address at or above 2^53 */
  private setBigPa(hi: number, lo: number): void {
    this.paBig = (BigInt(hi) << 32n) + BigInt(lo);
  }

  /** copies `len` bytes at `offset` of range `r` into dst[dstOff..]; false on a translation fault */
  read(r: TranslatedRange, offset: number, len: number, dst: Uint8Array, dstOff: number): boolean {
    while (len > 0) {
      if (!this.translate(r, offset)) return false;
      const n = this.chunk < len ? this.chunk : len;
      if (this.paBig === undefined) this.memory.readInto(this.pa, dst, dstOff, n, this.initiator);
      else this.memory.readInto(this.paBig, dst, dstOff, n, this.initiator);
      offset += n;
      dstOff += n;
      len -= n;
      this.bytesRead += n;
    }
    return true;
  }

  /**
   * Puts `len` bytes at `offset` of range `r` into packet bytes [at, at + len): by reference
   * to host memory when they lie in one page of it (TransportPacket.referPayload), else by a
   * copy into its store. false on a translation fault.
   */
  readToPacket(r: TranslatedRange, offset: number, len: number, pkt: TransportPacket, at: number): boolean {
    if (!this.translate(r, offset)) return false;
    if (this.chunk >= len && this.paBig === undefined) {
      const pa = this.pa;
      const page = this.memory.pageOf(pa, len, this.initiator);
      if (page !== undefined) {
        pkt.referPayload(at, len, page, pa - Math.floor(pa / HOST_PAGE_BYTES) * HOST_PAGE_BYTES);
        this.bytesRead += len;
        return true;
      }
    }
    return this.read(r, offset, len, pkt.store, at);
  }

  /**
   * writes src[srcOffset, srcOffset + len) (default: all of `src`) at `offset` of range `r`;
   * false on a translation fault (bytes before it are written)
   */
  write(r: TranslatedRange, offset: number, src: Uint8Array, srcOffset = 0, len = src.length - srcOffset): boolean {
    let done = 0;
    while (done < len) {
      if (!this.translate(r, offset + done)) return false;
      const n = this.chunk < len - done ? this.chunk : len - done;
      if (this.paBig === undefined) this.memory.writeFrom(this.pa, src, srcOffset + done, n, this.initiator);
      else this.memory.writeFrom(this.paBig, src, srcOffset + done, n, this.initiator);
      done += n;
      this.bytesWritten += n;
    }
    return true;
  }
}

/**
 * The WcStatus a requester reports when one of its own keys fails the check, by TptFault
 * (the local half of hca/tpt TPT_FAULT_TABLE's IB column).
 */
export const LOCAL_FAULT_STATUS: readonly number[] = (() => {
  const t: number[] = [];
  t[TptFault.ok] = WcStatus.success;
  t[TptFault.invalidKey] = WcStatus.localProtectionError;
  t[TptFault.staleKey] = WcStatus.localProtectionError;
  t[TptFault.pdViolation] = WcStatus.localProtectionError;
  t[TptFault.accessViolation] = WcStatus.localProtectionError;
  t[TptFault.boundsViolation] = WcStatus.localLengthError;
  t[TptFault.tooManySegments] = WcStatus.localLengthError;
  t[TptFault.translationFault] = WcStatus.localProtectionError;
  return t;
})();
