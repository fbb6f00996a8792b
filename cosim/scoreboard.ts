/**
 * Compares a block's output transactions from the model and from the RTL, per stream:
 * content and order must match exactly; timing may differ within the block's declared
 * tolerance. The first content mismatch stops the run with a report that names the
 * stream, the transaction, the cycles on both sides and the first differing field or byte.
 */
import type { StreamTransaction } from "../core/block.ts";
import { Histogram } from "../core/stats.ts";
import { PACKED_HEADER_BYTES, spanPacked, unpack, type PackedSpan } from "../core/packed-transactions.ts";
import { decodeStreamRecords } from "./codec.ts";
import { RunFailure } from "./errors.ts";
import type { ResolvedBlock, ResolvedStreamPort } from "./manifest.ts";

export interface StreamTiming {
  port: string;
  transactions: number;
  bytes: number;
  /** rtl.endCycle − model.endCycle per transaction [cycles] */
  latencyError: { mean: number; p50: number; p99: number; maxAbs: number };
  /** output bytes per cycle over the span from the first start to the last end */
  modelBytesPerCycle: number;
  rtlBytesPerCycle: number;
  /** |rtl − model| / model */
  throughputError: number;
  withinTolerance: boolean;
}

export interface ScoreboardReport {
  block: string;
  functional: "pass" | "fail";
  timing: "pass" | "fail" | "not checked";
  streams: StreamTiming[];
  tolerance: { latencyCycles: number; throughput: number };
  mismatch?: string;
  /** output wires at the end of the run, both sides (absent when not compared) */
  wires?: Record<string, { model: number; rtl: number }>;
}

export class MismatchError extends RunFailure {
  constructor(
    readonly report: string,
    readonly port: string,
    readonly index: number,
  ) {
    super(report);
    this.name = "MismatchError";
  }
}

interface StreamState {
  port: ResolvedStreamPort;
  userNames: readonly string[];
  expected: StreamTransaction[];
  actual: StreamTransaction[];
  /** read positions in the queues (avoid shifting big arrays) */
  eHead: number;
  aHead: number;
  /**
   * expected transactions the twin gave packed (takePacked), not yet compared: copied into
   * `pq` (reused, so a long run allocates nothing here) at [pHead, pTail), `packedCount`
   * transactions in all. While any
   * are queued, `expected` is empty (they come before anything queued as objects).
   */
  pq: Uint8Array;
  pHead: number;
  pTail: number;
  packedCount: number;
  compared: number;
  bytes: number;
  latency: Histogram;
  modelFirst: number;
  modelLast: number;
  rtlFirst: number;
  rtlLast: number;
}

function hex(b: Uint8Array, from: number, to: number, mark: number): string {
  const parts: string[] = [];
  for (let i = Math.max(0, from); i < Math.min(b.length, to); i++) {
    const h = b[i]!.toString(16).padStart(2, "0");
    parts.push(i === mark ? `[${h}]` : h);
  }
  return parts.join(" ");
}

/** The first difference between two transactions, as a human-readable paragraph, or null. */
export function describeDifference(port: ResolvedStreamPort, exp: StreamTransaction, act: StreamTransaction): string | null {
  const e = exp.data;
  const a = act.data;
  const n = Math.min(e.length, a.length);
  let first = -1;
  // every transaction passes here: a plain loop for short ones, memcmp (Buffer views) for long ones
  if (n <= 256 || !Buffer.from(e.buffer, e.byteOffset, n).equals(Buffer.from(a.buffer, a.byteOffset, n))) {
    for (let i = 0; i < n; i++) {
      if (e[i] !== a[i]) { first = i; break; }
    }
  }
  const W = Math.max(port.dataBytes, 1);
  if (first >= 0) {
    const lo = first - (first % 16);
    return (
      `first difference: data byte ${first} (beat ${Math.floor(first / W)}, lane ${first % W}): ` +
      `expected 0x${e[first]!.toString(16).padStart(2, "0")}, actual 0x${a[first]!.toString(16).padStart(2, "0")}\n` +
      `  expected @${lo}: ${hex(e, lo, lo + 32, first)}\n` +
      `  actual   @${lo}: ${hex(a, lo, lo + 32, first)}`
    );
  }
  if (e.length !== a.length) {
    return `first difference: length: expected ${e.length} bytes, actual ${a.length} bytes (the first ${n} bytes agree)`;
  }
  for (const f of port.user) {
    const ev = exp.user[f.name] ?? 0;
    const av = act.user[f.name] ?? 0;
    if (ev !== av) return `first difference: user field ${f.name}: expected ${ev}, actual ${av}`;
  }
  return null;
}

/**
 * Whether the record body at `off` (user words, then data) carries exactly `t`'s user
 * fields and bytes: short records byte by byte (a Buffer view would cost more than the
 * compare), long ones with memcmp.
 */
function sameRecordBody(userNames: readonly string[], t: StreamTransaction, rec: Uint8Array, dv: DataView, off: number, sp: PackedSpan): boolean {
  const n = sp.dataBytes;
  const d = t.data;
  if (d.length !== n) return false;
  const nUser = userNames.length;
  if (sp.end - off !== 4 * nUser + n) return false;
  for (let i = 0; i < nUser; i++) {
    if (dv.getUint32(off + 4 * i, true) !== ((t.user[userNames[i]!] ?? 0) >>> 0)) return false;
  }
  const at = off + 4 * nUser;
  if (n <= 64) {
    for (let i = 0; i < n; i++) if (rec[at + i] !== d[i]) return false;
    return true;
  }
  return Buffer.from(rec.buffer, rec.byteOffset + at, n).equals(Buffer.from(d.buffer, d.byteOffset, n));
}

/** whether a[ao, ao+n) equals b[bo, bo+n): memcmp through Buffer views (one call per chunk) */
function sameBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  return Buffer.from(a.buffer, a.byteOffset + ao, n).equals(Buffer.from(b.buffer, b.byteOffset + bo, n));
}

export class Scoreboard {
  private readonly streams = new Map<string, StreamState>();
  private failed: string | undefined;

  constructor(
    readonly block: ResolvedBlock,
    /** check timing against the tolerance (false when e.g. backpressure makes the model's timing moot) */
    readonly checkTiming = true,
  ) {
    for (const p of block.streams) {
      if (p.direction !== "out") continue;
      this.streams.set(p.name, {
        port: p, userNames: p.user.map((f) => f.name),
        expected: [], actual: [], eHead: 0, aHead: 0, pq: new Uint8Array(0), pHead: 0, pTail: 0, packedCount: 0, compared: 0, bytes: 0,
        latency: new Histogram(`${p.name}.latency_error`),
        modelFirst: Infinity, modelLast: -Infinity, rtlFirst: Infinity, rtlLast: -Infinity,
      });
    }
  }

  private stream(port: string): StreamState {
    const s = this.streams.get(port);
    if (!s) throw new Error(`scoreboard: ${port} is not an output stream of ${this.block.manifest.block}`);
    return s;
  }

  /** transactions the model produced */
  expect(port: string, txns: readonly StreamTransaction[]): void {
    const s = this.stream(port);
    if (s.packedCount > 0) this.unpackQueued(s);
    for (const t of txns) s.expected.push(t);
    this.compare(s);
  }

  /**
   * transactions the model produced, packed (core/packed-transactions.ts): queued as bytes
   * (copied: `bytes` may be reused by the caller) and compared with the RTL's records byte
   * for byte
   */
  expectPacked(port: string, bytes: Uint8Array, count: number): void {
    const s = this.stream(port);
    if (count === 0) return;
    if (s.eHead < s.expected.length || s.aHead < s.actual.length) {
      // a side already holds objects (the RTL ran ahead, or a timing difference was met): stay with objects
      this.expect(port, unpack(bytes, count, s.userNames, this.where(s)));
      return;
    }
    const n = bytes.length;
    if (s.pTail + n > s.pq.length) {
      const live = s.pTail - s.pHead;
      if (live + n > s.pq.length) {
        // grow, keeping room for a few more quanta of the same size
        const grown = new Uint8Array(Math.max(2 * s.pq.length, 4 * (live + n)));
        grown.set(s.pq.subarray(s.pHead, s.pTail));
        s.pq = grown;
      } else {
        s.pq.copyWithin(0, s.pHead, s.pTail);
      }
      s.pHead = 0;
      s.pTail = live;
    }
    s.pq.set(bytes, s.pTail);
    s.pTail += n;
    s.packedCount += count;
  }

  /** transactions the RTL produced */
  actual(port: string, txns: readonly StreamTransaction[]): void {
    const s = this.stream(port);
    for (const t of txns) s.actual.push(t);
    this.compare(s);
  }

  /**
   * The RTL's output as the records of its R2H_STREAM_OUTPUT message, compared where
   * they lie against the model's transactions: a record equal to the next expected one in
   * cycles, length, user fields and bytes is counted without being decoded (the common
   * case of a cycle-exact twin); from the first one that is not, the rest are decoded and
   * go the way of actual() (tolerance, mismatch report).
   */
  actualRecords(port: string, records: Uint8Array, count: number): void {
    const s = this.stream(port);
    const dv = new DataView(records.buffer, records.byteOffset, records.byteLength);
    const sp = this.span;
    let off = 0;
    // records of `records` accounted for
    let done = 0;
    if (s.aHead === s.actual.length && s.packedCount > 0) {
      off = this.matchPacked(s, records, dv);
      done = this.matchedBefore;
      // a difference: from here on both sides go as objects, to be told apart precisely
      if (done < count) this.unpackQueued(s);
    }
    if (s.aHead === s.actual.length && done < count) {
      // the hot loop of a co-simulation: locals only, written back once
      const expected = s.expected;
      const userNames = s.userNames;
      let eHead = s.eHead;
      let bytes = 0;
      let last = -1;
      let k = 0;
      while (done + k < count && eHead < expected.length && spanPacked(records, dv, off, sp)) {
        const e = expected[eHead]!;
        if (e.startCycle !== sp.startCycle || e.endCycle !== sp.endCycle || !sameRecordBody(userNames, e, records, dv, off + PACKED_HEADER_BYTES, sp)) break;
        if (s.compared + k === 0) { s.modelFirst = sp.startCycle; s.rtlFirst = sp.startCycle; }
        last = sp.endCycle;
        bytes += sp.dataBytes;
        eHead++;
        k++;
        off = sp.end;
      }
      if (k > 0) {
        s.modelLast = s.rtlLast = last;
        s.bytes += bytes;
        s.compared += k;
        s.latency.recordRepeated(0, k);
      }
      done += k;
      s.eHead = eHead;
      if (eHead > 4096) { expected.splice(0, eHead); s.eHead = 0; }
    }
    if (done < count) this.actual(port, decodeStreamRecords(records.subarray(off), count - done, s.userNames, this.where(s)));
  }

  private where(s: StreamState): string {
    return `${this.block.manifest.block}.${s.port.name}`;
  }

  /** records of the last matchPacked() found equal to the model's */
  private matchedBefore = 0;

  /**
   * Compares the RTL's records with the queued packed ones by one memcmp, and counts the
   * equal ones (two equal byte ranges that start at a record boundary hold the
   * same records). Returns the offset in `records` of the first record not matched
   * (records.length when all are) and leaves their number in matchedBefore.
   */
  private matchPacked(s: StreamState, records: Uint8Array, dv: DataView): number {
    const sp = this.span;
    let off = 0;
    let matched = 0;
    let bytes = 0;
    let last = -1;
    if (s.pHead < s.pTail && off < records.length) {
      const q = s.pq;
      const n = Math.min(s.pTail - s.pHead, records.length);
      const equal = sameBytes(records, 0, q, s.pHead, n);
      // the bytes before `limit` are equal on both sides
      let limit = n;
      if (!equal) {
        let d = 0;
        while (records[d] === q[s.pHead + d]) d++;
        limit = d;
      }
      let at = 0;
      while (at < limit && spanPacked(records, dv, at, sp) && sp.end <= limit) {
        if (s.compared + matched === 0) { s.modelFirst = sp.startCycle; s.rtlFirst = sp.startCycle; }
        last = sp.endCycle;
        bytes += sp.dataBytes;
        matched++;
        at = sp.end;
      }
      s.pHead += at;
      off = at;
      if (s.pHead === s.pTail) s.pHead = s.pTail = 0;
    }
    s.packedCount -= matched;
    if (matched > 0) {
      s.modelLast = s.rtlLast = last;
      s.bytes += bytes;
      s.compared += matched;
      s.latency.recordRepeated(0, matched);
    }
    this.matchedBefore = matched;
    return off;
  }

  private readonly span: PackedSpan = { end: 0, startCycle: 0, endCycle: 0, dataBytes: 0 };

  /** the queued packed transactions, moved to `expected` as objects */
  private unpackQueued(s: StreamState): void {
    const queued = s.pq.slice(s.pHead, s.pTail);
    for (const t of unpack(queued, s.packedCount, s.userNames, this.where(s))) s.expected.push(t);
    s.pHead = s.pTail = 0;
    s.packedCount = 0;
  }

  counts(port: string): { expected: number; actual: number } {
    const s = this.stream(port);
    return {
      expected: s.compared + s.expected.length - s.eHead + s.packedCount,
      actual: s.compared + s.actual.length - s.aHead,
    };
  }

  get outputPorts(): string[] {
    return [...this.streams.keys()];
  }

  private compare(s: StreamState): void {
    while (s.eHead < s.expected.length && s.aHead < s.actual.length) {
      const e = s.expected[s.eHead]!;
      const a = s.actual[s.aHead]!;
      const diff = describeDifference(s.port, e, a);
      if (diff) this.fail(s, s.compared, e, a, diff);
      s.latency.record(a.endCycle - e.endCycle);
      s.bytes += a.data.length;
      if (s.compared === 0) { s.modelFirst = e.startCycle; s.rtlFirst = a.startCycle; }
      s.modelLast = e.endCycle;
      s.rtlLast = a.endCycle;
      s.compared++;
      s.eHead++;
      s.aHead++;
    }
    // drop consumed entries now and then, so long runs keep little memory
    if (s.eHead > 4096) { s.expected.splice(0, s.eHead); s.eHead = 0; }
    if (s.aHead > 4096) { s.actual.splice(0, s.aHead); s.aHead = 0; }
  }

  private fail(s: StreamState, index: number, e: StreamTransaction | undefined, a: StreamTransaction | undefined, diff: string): never {
    const b = this.block.manifest.block;
    const cyc = (t: StreamTransaction | undefined) => (t ? `cycles ${t.startCycle}..${t.endCycle}, ${t.data.length} bytes` : "none");
    const report =
      `MISMATCH in block ${b}, stream ${s.port.name}, transaction #${index}\n` +
      `  model: ${cyc(e)}\n` +
      `  rtl:   ${cyc(a)}\n` +
      `  ${diff}`;
    this.failed = report;
    throw new MismatchError(report, s.port.name, index);
  }

  private wires: Record<string, { model: number; rtl: number }> | undefined;

  /** Output wires (counters, status) must agree at the end of the run. */
  checkWires(model: Record<string, number>, rtl: Record<string, number>, cycle: number): void {
    this.wires = {};
    for (const w of this.block.wires) {
      if (w.direction !== "out") continue;
      const m = model[w.name];
      const r = rtl[w.name];
      if (m === undefined) continue; // the twin does not model this wire
      this.wires[w.name] = { model: m, rtl: r ?? NaN };
      if (m !== r) {
        const report = `MISMATCH in block ${this.block.manifest.block}, wire ${w.name} at cycle ${cycle}: model ${m}, rtl ${r}`;
        this.failed = report;
        throw new MismatchError(report, w.name, -1);
      }
    }
  }

  /** After the run: any transaction left on one side only is a mismatch. */
  finish(): void {
    for (const s of this.streams.values()) {
      if (s.packedCount > 0) this.unpackQueued(s);
      const e = s.expected.length - s.eHead;
      const a = s.actual.length - s.aHead;
      if (e > 0) this.fail(s, s.compared, s.expected[s.eHead], undefined, `the RTL produced ${s.compared} transactions, the model ${s.compared + e}: transaction #${s.compared} is missing from the RTL`);
      if (a > 0) this.fail(s, s.compared, undefined, s.actual[s.aHead], `the RTL produced ${s.compared + a} transactions, the model ${s.compared}: transaction #${s.compared} is extra`);
    }
  }

  report(): ScoreboardReport {
    const tol = this.block.manifest.tolerance;
    const streams: StreamTiming[] = [];
    for (const s of this.streams.values()) {
      const modelSpan = s.modelLast - s.modelFirst + 1;
      const rtlSpan = s.rtlLast - s.rtlFirst + 1;
      const modelRate = s.compared ? s.bytes / modelSpan : 0;
      const rtlRate = s.compared ? s.bytes / rtlSpan : 0;
      const thrErr = modelRate > 0 ? Math.abs(rtlRate - modelRate) / modelRate : 0;
      const h = s.latency;
      const maxAbs = h.count ? Math.max(Math.abs(h.min), Math.abs(h.max)) : 0;
      streams.push({
        port: s.port.name,
        transactions: s.compared,
        bytes: s.bytes,
        latencyError: { mean: h.count ? h.mean : 0, p50: h.count ? h.percentile(50) : 0, p99: h.count ? h.percentile(99) : 0, maxAbs },
        modelBytesPerCycle: modelRate,
        rtlBytesPerCycle: rtlRate,
        throughputError: thrErr,
        withinTolerance: maxAbs <= tol.latencyCycles && thrErr <= tol.throughput,
      });
    }
    return {
      block: this.block.manifest.block,
      functional: this.failed ? "fail" : "pass",
      timing: !this.checkTiming ? "not checked" : streams.every((s) => s.withinTolerance) ? "pass" : "fail",
      streams,
      tolerance: { ...tol },
      mismatch: this.failed,
      ...(this.wires ? { wires: this.wires } : {}),
    };
  }
}
