/**
 * Stream transactions packed back to back in one byte buffer. This is the form the
 * co-simulation protocol carries them in (cosim/protocol.ts takes its stream-record layout
 * from here), and the form a twin may take inputs and give outputs in: a twin that writes
 * its outputs packed lets the scoreboard compare them with the RTL's by comparing bytes,
 * and one that reads its inputs packed reads them straight from the message the RTL gets.
 *
 * Per transaction, little-endian: the fields below, then userWords × u32 (the user fields
 * in manifest order), then dataBytes bytes of data.
 */
import type { StreamTransaction } from "./block.ts";

export const PACKED_TRANSACTION_FIELDS = [
  { name: "startCycle", type: "u64", doc: "input: earliest first beat; output: first beat handshake [cycles]" },
  { name: "endCycle", type: "u64", doc: "output: last beat handshake; input: unused [cycles]" },
  { name: "dataBytes", type: "u32", doc: "payload length [bytes]" },
  { name: "userWords", type: "u32", doc: "number of u32 user-field values that follow, in manifest order" },
] as const;

/** bytes of the fixed part of a packed transaction */
export const PACKED_HEADER_BYTES = PACKED_TRANSACTION_FIELDS.reduce((s, f) => s + (f.type === "u64" ? 8 : 4), 0);
const END_CYCLE = 8;
const DATA_BYTES = 16;
const USER_WORDS = 20;

/** transactions in packed form: `count` of them filling `bytes` exactly */
export interface PackedTransactions {
  bytes: Uint8Array;
  count: number;
}

export class PackedTransactionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PackedTransactionError";
  }
}

/** a little-endian u64 from a safe integer (the protocol's cycle stamps and u64 fields) */
export function writeU64(dv: DataView, off: number, v: number): void {
  // ToUint32 (>>> 0) is the low word of any safe integer; `%` on a double would be an fmod
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, (v / 0x1_0000_0000) >>> 0, true);
}

/** a little-endian u64 as a number (exact below 2^53) */
export function readU64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 0x1_0000_0000;
}

/** bytes `txns` take packed, with `userWords` user fields each */
export function packedSize(txns: readonly StreamTransaction[], userWords: number): number {
  let total = txns.length * (PACKED_HEADER_BYTES + 4 * userWords);
  for (let k = 0; k < txns.length; k++) total += txns[k]!.data.length;
  return total;
}

/** packs `txns` at `off` of `out` (`dv` a view of the same buffer); returns the offset after the last */
export function packTransactions(out: Uint8Array, dv: DataView, off: number, txns: readonly StreamTransaction[], userNames: readonly string[]): number {
  const nUser = userNames.length;
  for (let k = 0; k < txns.length; k++) {
    const t = txns[k]!;
    const data = t.data;
    const n = data.length;
    writeU64(dv, off, t.startCycle);
    writeU64(dv, off + END_CYCLE, t.endCycle);
    dv.setUint32(off + DATA_BYTES, n, true);
    dv.setUint32(off + USER_WORDS, nUser, true);
    off += PACKED_HEADER_BYTES;
    for (let i = 0; i < nUser; i++) {
      dv.setUint32(off, (t.user[userNames[i]!] ?? 0) >>> 0, true);
      off += 4;
    }
    // TypedArray.set has a fixed cost that dominates for the short records of control streams
    if (n <= 64) for (let i = 0; i < n; i++) out[off + i] = data[i]!;
    else out.set(data, off);
    off += n;
  }
  return off;
}

/** `txns` packed into a buffer of their own */
export function pack(txns: readonly StreamTransaction[], userNames: readonly string[]): Uint8Array {
  const out = new Uint8Array(packedSize(txns, userNames.length));
  packTransactions(out, new DataView(out.buffer), 0, txns, userNames);
  return out;
}

/**
 * The `count` transactions packed in `bytes`, checked against the buffer's length and the
 * user fields declared (`where` names the stream in errors). Data arrays are views into `bytes`.
 */
export function unpack(bytes: Uint8Array, count: number, userNames: readonly string[], where: string): StreamTransaction[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: StreamTransaction[] = new Array(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + PACKED_HEADER_BYTES > bytes.length) throw new PackedTransactionError(`${where}: record ${i} of ${count} truncated`);
    const startCycle = readU64(dv, off);
    const endCycle = readU64(dv, off + END_CYCLE);
    const dataBytes = dv.getUint32(off + DATA_BYTES, true);
    const userWords = dv.getUint32(off + USER_WORDS, true);
    off += PACKED_HEADER_BYTES;
    if (userWords !== userNames.length) throw new PackedTransactionError(`${where}: record ${i} has ${userWords} user fields, the manifest declares ${userNames.length}`);
    const user: Record<string, number> = {};
    for (let u = 0; u < userWords; u++) {
      user[userNames[u]!] = dv.getUint32(off, true);
      off += 4;
    }
    if (off + dataBytes > bytes.length) throw new PackedTransactionError(`${where}: record ${i} data truncated`);
    out[i] = { data: bytes.subarray(off, off + dataBytes), user, startCycle, endCycle };
    off += dataBytes;
  }
  if (off !== bytes.length) throw new PackedTransactionError(`${where}: ${bytes.length - off} bytes after the last record`);
  return out;
}

/** A packed transaction's place in a buffer, read without unpacking it (see spanPacked). */
export interface PackedSpan {
  /** offset after the transaction */
  end: number;
  startCycle: number;
  endCycle: number;
  dataBytes: number;
}

/**
 * Reads the fixed part of the transaction at `off` of `bytes` into `span` (reused: no
 * allocation), or returns false when the transaction does not fit (one cut at the end).
 */
export function spanPacked(bytes: Uint8Array, dv: DataView, off: number, span: PackedSpan): boolean {
  if (off + PACKED_HEADER_BYTES > bytes.length) return false;
  const dataBytes = dv.getUint32(off + DATA_BYTES, true);
  const end = off + PACKED_HEADER_BYTES + 4 * dv.getUint32(off + USER_WORDS, true) + dataBytes;
  if (end > bytes.length) return false;
  span.startCycle = readU64(dv, off);
  span.endCycle = readU64(dv, off + END_CYCLE);
  span.dataBytes = dataBytes;
  span.end = end;
  return true;
}

const EMPTY = new Uint8Array(0);

/**
 * Appends transactions in packed form to a growing buffer. take() hands the buffer over
 * and starts a new one; takeView() lends it until the next write and then reuses it (for
 * a consumer that copies, such as the scoreboard: no buffer per quantum to allocate, which
 * for the sizes of a quantum's output costs more than the copy).
 */
export class PackedTransactionWriter {
  bytes: Uint8Array;
  private dv: DataView;
  /** bytes written */
  length = 0;
  /** transactions written */
  count = 0;
  /** bytes lent by takeView() that must be zeroed before the buffer is written again */
  private lent = 0;
  /** takeViewBefore()'s second buffer, and how much of it must be zeroed before use */
  private spare: Uint8Array = EMPTY;
  private spareDirty = 0;

  constructor(
    /** user words per transaction */
    readonly userWords = 0,
    private readonly initialBytes = 16 * 1024,
  ) {
    this.bytes = new Uint8Array(initialBytes);
    this.dv = new DataView(this.bytes.buffer);
  }

  /**
   * Appends a transaction's fixed part and reserves its user words and data (zeroed);
   * returns the offset in `bytes` of its first user word (its data follows the user words).
   * `bytes` may be a new buffer after this call.
   */
  append(startCycle: number, endCycle: number, dataBytes: number): number {
    if (this.lent > 0) {
      this.bytes.fill(0, 0, this.lent);
      this.lent = 0;
    }
    const off = this.length;
    const end = off + PACKED_HEADER_BYTES + 4 * this.userWords + dataBytes;
    if (end > this.bytes.length) this.grow(end);
    const dv = this.dv;
    writeU64(dv, off, startCycle);
    writeU64(dv, off + END_CYCLE, endCycle);
    dv.setUint32(off + DATA_BYTES, dataBytes, true);
    dv.setUint32(off + USER_WORDS, this.userWords, true);
    this.length = end;
    this.count++;
    return off + PACKED_HEADER_BYTES;
  }

  /** appends a whole transaction (its user fields in `userNames` order) */
  appendTransaction(t: StreamTransaction, userNames: readonly string[]): void {
    const at = this.append(t.startCycle, t.endCycle, t.data.length);
    for (let i = 0; i < this.userWords; i++) this.dv.setUint32(at + 4 * i, (t.user[userNames[i]!] ?? 0) >>> 0, true);
    this.bytes.set(t.data, at + 4 * this.userWords);
  }

  /**
   * everything written since the last take, lent: valid until the next append or take, after
   * which the writer reuses the buffer
   */
  takeView(): PackedTransactions {
    if (this.count === 0) return { bytes: EMPTY, count: 0 };
    const lent = { bytes: this.bytes.subarray(0, this.length), count: this.count };
    this.lent = Math.max(this.lent, this.length);
    this.length = 0;
    this.count = 0;
    return lent;
  }

  /**
   * The transactions written so far that end before `cycle` (transactions are written in
   * the order they end), lent like takeView(); the rest stay in the writer, moved to a
   * second buffer that takes turns with this one (for a twin that writes a transaction
   * before the run has reached its end).
   */
  takeViewBefore(cycle: number): PackedTransactions {
    const dv = this.dv;
    let at = 0;
    let n = 0;
    while (at < this.length && readU64(dv, at + END_CYCLE) < cycle) {
      at += PACKED_HEADER_BYTES + 4 * dv.getUint32(at + USER_WORDS, true) + dv.getUint32(at + DATA_BYTES, true);
      n++;
    }
    if (at === this.length) return this.takeView();
    if (n === 0) return { bytes: EMPTY, count: 0 };
    const lent = { bytes: this.bytes.subarray(0, at), count: n };
    let spare = this.spare;
    if (spare.length < this.bytes.length) {
      spare = new Uint8Array(this.bytes.length);
    } else {
      // the spare was lent before: what it held goes back to zero
      spare.fill(0, 0, this.spareDirty);
    }
    const rest = this.length - at;
    spare.set(this.bytes.subarray(at, this.length));
    this.spare = this.bytes;
    this.spareDirty = Math.max(this.length, this.lent);
    this.lent = 0;
    this.bytes = spare;
    this.dv = new DataView(spare.buffer, spare.byteOffset, spare.byteLength);
    this.length = rest;
    this.count -= n;
    return lent;
  }

  /** everything written since the last take, handed over; the writer starts a new buffer */
  take(): PackedTransactions {
    if (this.lent > 0) {
      // a lent view may still be read: leave that buffer to it
      this.bytes = new Uint8Array(this.bytes.length);
      this.dv = new DataView(this.bytes.buffer);
      this.lent = 0;
    }
    if (this.count === 0) return { bytes: EMPTY, count: 0 };
    const taken = { bytes: this.bytes.subarray(0, this.length), count: this.count };
    // the next buffer a quarter larger than this one's fill, so that a steady flow never grows
    // one (each growth leaves a big buffer to the collector)
    this.bytes = new Uint8Array(Math.max(this.initialBytes, this.length + (this.length >> 2)));
    this.dv = new DataView(this.bytes.buffer);
    this.length = 0;
    this.count = 0;
    return taken;
  }

  private grow(atLeast: number): void {
    let size = Math.max(this.bytes.length * 2, 64);
    while (size < atLeast) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.bytes.subarray(0, this.length));
    this.bytes = grown;
    this.dv = new DataView(grown.buffer);
  }
}

/**
 * A twin's input queue of packed transactions: chunks as the harness sends them (or as
 * offered one by one), read one transaction at a time. The head transaction is described
 * by `bytes`, `dataAt`, `dataBytes` and `startCycle` (Infinity when the queue is empty);
 * its start is never before the twin's time when it was queued (`notBefore` of push()),
 * since the RTL cannot drive an input before the cycle it had reached when it got it.
 */
export class PackedTransactionQueue {
  /** the chunk holding the head transaction */
  bytes: Uint8Array = EMPTY;
  /** offset of the head's data in `bytes` */
  dataAt = 0;
  dataBytes = 0;
  /** the head's effective start cycle; Infinity when empty */
  startCycle = Infinity;
  /** the head's user words start here in `bytes` */
  userAt = 0;

  private dv: DataView = new DataView(EMPTY.buffer);
  private off = 0;
  private notBefore = 0;
  private readonly chunks: Uint8Array[] = [];
  private readonly chunkNotBefore: number[] = [];
  private chunkHead = 0;
  /** the previous transaction's own startCycle (per port they may not decrease) */
  private lastStart = 0;
  /** transactions offered one at a time, not yet queued */
  private readonly offered: PackedTransactionWriter;

  constructor(
    private readonly userNames: readonly string[] = [],
    /** names the queue in errors */
    private readonly where = "input",
  ) {
    this.offered = new PackedTransactionWriter(userNames.length, 4096);
  }

  /** queues packed transactions (whole ones) that may not start before `notBefore` */
  push(bytes: Uint8Array, notBefore: number): void {
    this.flushOffered(notBefore);
    if (bytes.length === 0) return;
    this.chunks.push(bytes);
    this.chunkNotBefore.push(notBefore);
    if (this.startCycle === Infinity) this.nextChunk();
  }

  /** queues one transaction; it is queued with the next push() or flushOffered() */
  offer(t: StreamTransaction): void {
    this.offered.appendTransaction(t, this.userNames);
  }

  /** moves offered transactions into the queue, not starting before `notBefore` */
  flushOffered(notBefore: number): void {
    if (this.offered.count === 0) return;
    const { bytes } = this.offered.take();
    this.chunks.push(bytes);
    this.chunkNotBefore.push(notBefore);
    if (this.startCycle === Infinity) this.nextChunk();
  }

  /** drops the head transaction */
  shift(): void {
    this.off = this.dataAt + this.dataBytes;
    if (this.off < this.bytes.length) this.load();
    else this.nextChunk();
  }

  private nextChunk(): void {
    if (this.chunkHead === this.chunks.length) {
      this.bytes = EMPTY;
      this.startCycle = Infinity;
      if (this.chunkHead > 0) {
        this.chunks.length = 0;
        this.chunkNotBefore.length = 0;
        this.chunkHead = 0;
      }
      return;
    }
    const b = this.chunks[this.chunkHead]!;
    this.notBefore = this.chunkNotBefore[this.chunkHead]!;
    this.chunkHead++;
    if (this.chunkHead > 64) {
      this.chunks.splice(0, this.chunkHead);
      this.chunkNotBefore.splice(0, this.chunkHead);
      this.chunkHead = 0;
    }
    this.bytes = b;
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.off = 0;
    this.load();
  }

  private load(): void {
    const dv = this.dv;
    const off = this.off;
    if (off + PACKED_HEADER_BYTES > this.bytes.length) throw new PackedTransactionError(`${this.where}: transaction truncated`);
    const start = readU64(dv, off);
    if (start < this.lastStart) throw new PackedTransactionError(`${this.where}: startCycle ${start} is before the previous transaction's ${this.lastStart}`);
    this.lastStart = start;
    const userWords = dv.getUint32(off + USER_WORDS, true);
    if (userWords !== this.userNames.length) throw new PackedTransactionError(`${this.where}: a transaction has ${userWords} user fields, ${this.userNames.length} expected`);
    this.dataBytes = dv.getUint32(off + DATA_BYTES, true);
    this.userAt = off + PACKED_HEADER_BYTES;
    this.dataAt = this.userAt + 4 * userWords;
    if (this.dataAt + this.dataBytes > this.bytes.length) throw new PackedTransactionError(`${this.where}: transaction data truncated`);
    this.startCycle = start > this.notBefore ? start : this.notBefore;
  }
}
