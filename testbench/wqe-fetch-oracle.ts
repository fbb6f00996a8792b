/**
 * The wqe_oracle check: every output of the wqe_fetch block against what the traffic
 * generator wrote into its rings, from its own bookkeeping (not the twin):
 *  - each DMA read: tag = read number mod TAGS, length one WQE stride, the WQE's address;
 *  - each work request: the WQE it names (qpn, queue, index) was written valid, and every
 *    field, SGE and inline byte is what was written (unused payload bytes zero);
 *  - each rejected WQE: it was written to be rejected, for that reason;
 *  - per queue, outputs in the order the WQEs were posted; nothing missing, nothing twice;
 *  - the block's counters against the generator's.
 */
import type { StreamTransaction } from "../core/block.ts";
import type { Layout } from "../core/layout.ts";
import { DataSeg, WQE_ERROR_NAMES, WQE_OPCODE_NAMES, WQE_STRIDE } from "../hca/formats/wqe.ts";
import { DmaReadReq, WorkRequest, WqeFetchError, WR_HEADER_BYTES, WrFlag } from "../hca/wqe-fetch/index.ts";
import type { ExpectedWqe, WqeFetchCounts, WqeFetchTraffic } from "./traffic/wqe-fetch-traffic.ts";

// The common case, a correct output, is judged by building the record the source's
// bookkeeping calls for and comparing bytes; only a record that differs is decoded, for the
// message. Building goes through field codecs and, for 64-bit fields, a big-endian DataView
// at the layout's offset: with Layout.decode (bigints, an object per record) the oracle took
// longer than the co-simulation it checks.
type OkWqe = Extract<ExpectedWqe, { ok: true }>;

/** the byte offset of a byte-aligned 64-bit field (written with DataView.setBigUint64, big-endian as the layout) */
function u64At(layout: Layout, name: string): number {
  const f = layout.field(name);
  if (f.bits !== 64 || f.bitOffset % 8 !== 0) throw new Error(`wqe oracle: ${layout.name}.${name} is not a byte-aligned 64-bit field`);
  return f.byteOffset;
}
const wrHeader = WorkRequest.codec(["qpn", "kind", "index", "opcode", "flags", "nsge", "inlineBytes", "imm", "rkey"]);
const WR_RADDR = u64At(WorkRequest, "raddr");
const WR_SWAP_ADD = u64At(WorkRequest, "swapAdd");
const WR_COMPARE = u64At(WorkRequest, "compare");
const WR_SWAP_MASK = u64At(WorkRequest, "swapMask");
const WR_COMPARE_MASK = u64At(WorkRequest, "compareMask");
const sgeWords = DataSeg.codec(["byteCount", "lkey"]);
const SGE_ADDR = u64At(DataSeg, "addr");
const readHeader = DmaReadReq.codec(["tag", "length"]);
const READ_ADDR = u64At(DmaReadReq, "addr");

/** where a record differs from the one expected, named by the layout's field (a reserved one, when the fields checked agree) */
function firstDifference(layout: Layout, got: Uint8Array, want: Uint8Array): string {
  const k = want.findIndex((b, i) => got[i] !== b);
  if (k < 0) return `a record of ${got.length} bytes (expected ${want.length})`;
  const f = layout.fields.find((x) => k >= x.byteOffset && k < x.byteOffset + Math.ceil(x.bits / 8));
  return `byte ${k} (${f?.name}) ${hex(got[k]!)} (expected ${hex(want[k]!)})`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** what the traffic exercised, as the generator counted it */
type Exercised = Pick<WqeFetchCounts, "outOfOrderCompletions" | "inline" | "multiSge" | "spanning" | "ringWraps" | "counterWraps" | "emptyFetches" | "foreignFetches">;

export interface WqeFetchOracleReport extends Exercised {
  fetches: number;
  /** WQEs the generator posted (= reads the block must issue) */
  wqes: number;
  /** DMA reads the block issued (m_dma_rd) */
  reads: number;
  /** work requests emitted (m_wr), by opcode name ("RECV" for receive queues) */
  wrs: number;
  wrsByOpcode: Record<string, number>;
  /** rejected WQEs (m_err), by reason */
  rejects: Record<string, number>;
  staleOwnerRejects: number;
  /** queues the traffic used (the other exercised figures: Exercised) */
  queues: number;
  failures: string[];
}

const queueName = (qpn: number, kind: number): string => `QP 0x${qpn.toString(16)} ${kind === 0 ? "send" : "receive"} queue`;
const wqeName = (e: { qpn: number; kind: number; index: number }): string => `${queueName(e.qpn, e.kind)} WQE ${e.index}`;
const keyOf = (qpn: number, kind: number, index: number): number => (qpn * 2 + kind) * 0x1_0000 + index;
const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

export class WqeFetchOracle {
  // the record a correct block emits, rebuilt per output (scratch)
  private readonly wantWr = new Uint8Array(WorkRequest.sizeBytes);
  private readonly wantWrView = new DataView(this.wantWr.buffer);
  private readonly wantRead = new Uint8Array(DmaReadReq.sizeBytes);
  private readonly wantReadView = new DataView(this.wantRead.buffer);
  private readonly vals = new Float64Array(Math.max(wrHeader.slots, readHeader.slots));
  /** expected entries not yet emitted, by (queue, index), oldest first */
  private readonly pending = new Map<number, number[]>();
  private matched = 0;
  private reads = 0;
  private wrs = 0;
  private readonly wrsByOpcode: Record<string, number> = {};
  private readonly rejects: Record<string, number> = {};
  /** emitted outputs judged against an expected entry: cycle and the entry's position in post order */
  private readonly emitted: { cycle: number; pos: number }[] = [];
  private readonly failures: string[] = [];
  private failed = 0;

  constructor(private readonly t: WqeFetchTraffic) {
    t.expected.forEach((e, i) => {
      const k = keyOf(e.qpn, e.kind, e.index);
      const q = this.pending.get(k);
      if (q) q.push(i);
      else this.pending.set(k, [i]);
    });
  }

  output(port: string, txn: StreamTransaction): void {
    if (port === "m_dma_rd") this.read(txn);
    else if (port === "m_wr") this.workRequest(txn);
    else if (port === "m_err") this.rejected(txn);
  }

  private read(txn: StreamTransaction): void {
    const n = this.reads++;
    const want = this.t.reads[n];
    const tag = n % this.t.params.tags;
    if (want !== undefined) {
      const v = this.vals;
      v[readHeader.slot.tag] = tag;
      v[readHeader.slot.length] = WQE_STRIDE;
      readHeader.write(this.wantRead, 0, v);
      this.wantReadView.setBigUint64(READ_ADDR, want.addr);
      if (sameBytes(txn.data, this.wantRead)) return;
    }
    const r = DmaReadReq.decode(txn.data);
    if (!want) return this.fail(`DMA read #${n} (cycle ${txn.endCycle}, ${hex(r.addr)}): the source posted only ${this.t.reads.length} WQEs`);
    if (r.tag !== tag || r.length !== WQE_STRIDE || r.addr !== want.addr) {
      this.fail(`DMA read #${n} (cycle ${txn.endCycle}) of ${wqeName(this.t.expected[n]!)}: expected tag ${tag}, ${WQE_STRIDE} bytes at ${hex(want.addr)}; got tag ${r.tag}, ${r.length} bytes at ${hex(r.addr)}`);
    } else {
      this.fail(`DMA read #${n} (cycle ${txn.endCycle}) of ${wqeName(this.t.expected[n]!)}: ${firstDifference(DmaReadReq, txn.data, this.wantRead)}`);
    }
  }

  /** the oldest not-yet-emitted entry for (queue, index), or a failure */
  private take(qpn: number, kind: number, index: number, what: string, cycle: number): { e: ExpectedWqe; pos: number } | undefined {
    const q = this.pending.get(keyOf(qpn, kind, index));
    const pos = q?.shift();
    if (pos === undefined) {
      this.fail(`${what} for ${wqeName({ qpn, kind, index })} at cycle ${cycle}: the source posted no such WQE, or it was already emitted`);
      return undefined;
    }
    this.matched++;
    this.emitted.push({ cycle, pos });
    return { e: this.t.expected[pos]!, pos };
  }

  private workRequest(txn: StreamTransaction): void {
    this.wrs++;
    const h = this.vals;
    wrHeader.read(txn.data, 0, h);
    const kind = h[wrHeader.slot.kind];
    const opcode = h[wrHeader.slot.opcode];
    const name = kind === 0 ? (WQE_OPCODE_NAMES[opcode] ?? `opcode ${hex(opcode)}`) : "RECV";
    this.wrsByOpcode[name] = (this.wrsByOpcode[name] ?? 0) + 1;
    const m = this.take(h[wrHeader.slot.qpn], kind, h[wrHeader.slot.index], `work request (${name})`, txn.endCycle);
    if (!m) return;
    const e = m.e;
    if (!e.ok) return this.fail(`${wqeName(e)} executed as ${name} at cycle ${txn.endCycle}: the source wrote it to be rejected (${WQE_ERROR_NAMES[e.reason]})`);
    if (!sameBytes(txn.data, this.expectedWorkRequest(e))) this.workRequestDiffs(txn, e, name);
  }

  /** the m_wr record of a WQE the source wrote valid (scratch, valid until the next call) */
  private expectedWorkRequest(e: OkWqe): Uint8Array {
    const b = this.wantWr;
    const dv = this.wantWrView;
    b.fill(0);
    const v = this.vals;
    v[wrHeader.slot.qpn] = e.qpn;
    v[wrHeader.slot.kind] = e.kind;
    v[wrHeader.slot.index] = e.index;
    v[wrHeader.slot.opcode] = e.opcode;
    v[wrHeader.slot.flags] = e.flags;
    v[wrHeader.slot.nsge] = e.inline ? 0 : e.sgl.length;
    v[wrHeader.slot.inlineBytes] = e.inline ? e.inline.length : 0;
    v[wrHeader.slot.imm] = e.imm;
    v[wrHeader.slot.rkey] = e.rkey;
    wrHeader.write(b, 0, v);
    dv.setBigUint64(WR_RADDR, e.raddr);
    dv.setBigUint64(WR_SWAP_ADD, e.swapAdd);
    dv.setBigUint64(WR_COMPARE, e.compare);
    dv.setBigUint64(WR_SWAP_MASK, e.swapMask);
    dv.setBigUint64(WR_COMPARE_MASK, e.compareMask);
    if (e.inline) {
      b.set(e.inline, WR_HEADER_BYTES);
    } else {
      for (let i = 0; i < e.sgl.length; i++) {
        const s = e.sgl[i]!;
        const at = WR_HEADER_BYTES + i * DataSeg.sizeBytes;
        v[sgeWords.slot.byteCount] = s.length;
        v[sgeWords.slot.lkey] = s.lkey;
        sgeWords.write(b, at, v);
        dv.setBigUint64(at + SGE_ADDR, s.addr);
      }
    }
    return b;
  }

  /** the failure message of a work request that is not the record expected: what differs, field by field */
  private workRequestDiffs(txn: StreamTransaction, e: OkWqe, name: string): void {
    const r = WorkRequest.decode(txn.data);
    const payload = txn.data.subarray(WR_HEADER_BYTES, WR_HEADER_BYTES + WQE_STRIDE);
    const sgl = Array.from({ length: Math.min(r.nsge, WQE_STRIDE / 16) }, (_, i) => ({ length: DataSeg.get(payload, i * 16, "byteCount"), lkey: DataSeg.get(payload, i * 16, "lkey"), addr: DataSeg.getBig(payload, i * 16, "addr") }));
    const wantFlags = e.flags;
    const diffs: string[] = [];
    const field = (f: string, want: number | bigint, got: number | bigint) => {
      if (want !== got) diffs.push(`${f} ${hex(got)} (written ${hex(want)})`);
    };
    field("opcode", e.opcode, r.opcode);
    field("flags", wantFlags, r.flags);
    field("imm", e.imm, r.imm);
    field("raddr", e.raddr, r.raddr);
    field("rkey", e.rkey, r.rkey);
    field("swapAdd", e.swapAdd, r.swapAdd);
    field("compare", e.compare, r.compare);
    field("swapMask", e.swapMask, r.swapMask);
    field("compareMask", e.compareMask, r.compareMask);
    let used: number;
    if (e.inline) {
      field("inlineBytes", e.inline.length, r.inlineBytes);
      field("nsge", 0, r.nsge);
      const at = e.inline.findIndex((b, i) => payload[i] !== b);
      if (at >= 0) diffs.push(`inline byte ${at} ${hex(payload[at]!)} (written ${hex(e.inline[at]!)})`);
      used = e.inline.length;
    } else {
      field("nsge", e.sgl.length, r.nsge);
      field("inlineBytes", 0, r.inlineBytes);
      if (r.flags & WrFlag.inline) diffs.push("inline flag set on a WQE written with an SGE list");
      e.sgl.forEach((s, i) => {
        const g = sgl[i];
        if (g && (g.addr !== s.addr || g.length !== s.length || g.lkey !== s.lkey)) diffs.push(`SGE ${i} {${hex(g.addr)}, ${g.length}, lkey ${hex(g.lkey)}} (written {${hex(s.addr)}, ${s.length}, lkey ${hex(s.lkey)}})`);
      });
      used = e.sgl.length * 16;
    }
    const junk = payload.findIndex((b, i) => i >= used && b !== 0);
    if (junk >= 0) diffs.push(`payload byte ${junk} ${hex(payload[junk]!)} beyond the ${used} bytes written (must be 0)`);
    if (diffs.length === 0) {
      // nothing the fields above cover: a reserved byte
      diffs.push(firstDifference(WorkRequest, txn.data, this.expectedWorkRequest(e)));
    }
    this.fail(`${wqeName(e)} (${name}, cycle ${txn.endCycle}): ${diffs.slice(0, 3).join("; ")}`);
  }

  private rejected(txn: StreamTransaction): void {
    const x = WqeFetchError.decode(txn.data);
    const reason = WQE_ERROR_NAMES[x.reason] ?? `reason ${x.reason}`;
    this.rejects[reason] = (this.rejects[reason] ?? 0) + 1;
    const m = this.take(x.qpn, x.kind, x.index, `rejection (${reason})`, txn.endCycle);
    if (!m) return;
    const e = m.e;
    if (e.ok) this.fail(`${wqeName(e)} rejected (${reason}) at cycle ${txn.endCycle}: the source wrote a valid ${e.kind === 0 ? (WQE_OPCODE_NAMES[e.opcode] ?? hex(e.opcode)) : "receive"} WQE`);
    else if (e.reason !== x.reason) this.fail(`${wqeName(e)} rejected as ${reason} at cycle ${txn.endCycle}: the source wrote it to be rejected as ${WQE_ERROR_NAMES[e.reason]}`);
  }

  private fail(msg: string): void {
    this.failed++;
    if (this.failures.length < 10) this.failures.push(msg);
  }

  report(wires: Record<string, number>): WqeFetchOracleReport {
    const t = this.t;
    // per queue, outputs in post order: by cycle, each queue's positions must rise
    const byCycle = [...this.emitted].sort((a, b) => a.cycle - b.cycle);
    const lastPos = new Map<number, number>();
    for (const o of byCycle) {
      const e = t.expected[o.pos]!;
      const q = e.qpn * 2 + e.kind;
      const prev = lastPos.get(q);
      if (prev !== undefined && prev > o.pos) {
        this.fail(`${queueName(e.qpn, e.kind)}: WQE ${e.index} emitted at cycle ${o.cycle}, after WQE ${t.expected[prev]!.index} that was posted after it`);
      }
      lastPos.set(q, Math.max(prev ?? -1, o.pos));
    }
    if (this.matched < t.expected.length) {
      const first = t.expected.findIndex((e) => this.pending.get(keyOf(e.qpn, e.kind, e.index))?.length);
      this.fail(`${t.expected.length - this.matched} of ${t.expected.length} WQEs never emitted as a work request or rejection (first: ${wqeName(t.expected[first]!)})`);
    }
    if (this.reads < t.reads.length) this.fail(`${this.reads} DMA reads for ${t.reads.length} WQEs posted`);
    const counters: [string, number][] = [
      ["stat_fetches", t.fetch.length],
      ["stat_reads", t.reads.length],
      ["stat_wrs", t.counts.wrs],
      ["stat_err_owner", t.counts.staleOwner],
      ["stat_err_malformed", t.counts.malformed],
    ];
    for (const [w, want] of counters) {
      if (wires[w] !== undefined && wires[w] !== want) this.fail(`${w} ${wires[w]}, the source expects ${want}`);
    }
    const failures = [...this.failures];
    if (this.failed > failures.length) failures.push(`… and ${this.failed - failures.length} more`);
    const c = t.counts;
    return {
      fetches: t.fetch.length,
      wqes: t.expected.length,
      reads: this.reads,
      wrs: this.wrs,
      wrsByOpcode: { ...this.wrsByOpcode },
      rejects: { ...this.rejects },
      staleOwnerRejects: this.rejects.stale_owner ?? 0,
      queues: t.rings.length,
      outOfOrderCompletions: c.outOfOrderCompletions,
      inline: c.inline,
      multiSge: c.multiSge,
      spanning: c.spanning,
      ringWraps: c.ringWraps,
      counterWraps: c.counterWraps,
      emptyFetches: c.emptyFetches,
      foreignFetches: c.foreignFetches,
      failures,
    };
  }
}
