/**
 * The TypeScript twin of rtl-models/tpt: same response transactions, bytes and cycles as
 * the RTL with m_resp always ready, and the same counters. Micro-architecture and timing
 * rules: README.md and the header of tpt.sv. In short, for lookup i:
 *
 *   a  accept     = max(startCycle, cycle offered, d[i-1])           (s_req handshake)
 *   x  probe      = max(a + 1, h[i-1])    stage A reads the cache (and sees s_cfg writes < x)
 *      miss:  fill at f = x + MISS_LATENCY (reads the MPT table, writes < f), re-probe at
 *             max(f + 1, h[i-1]); an MPT write at f or later drops the line again
 *   d  A → B      = the probe that hit (or a key index beyond the table: no probe needed)
 *      B reads MTT page k at d + 1 + k (writes < that cycle), n = max(1, pages) cycles
 *   h  B → C      = max(d + n, e[i-1]); counters count at h
 *   response beats h + 1 .. e = h + max(1, nseg)
 *
 * The twin is event-driven: work per lookup (a few probes at most), never per cycle. An
 * event at cycle c is only resolved once runUntil(T > c) says every s_cfg write before c
 * is known; a lookup whose next event lies beyond T waits in `cur`.
 *
 * s_cfg reads (MPT / MTT read-back) are answered where they stand in the s_cfg queue, so an
 * answer sees exactly the writes before its handshake w; it leaves on m_cfg_rd at w + 1
 * (m_cfg_rd always ready, like m_resp). The queue is applied up to the earliest table
 * access a pending lookup may still make, never past it.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { PackedTransactionWriter, spanPacked, unpack, type PackedSpan, type PackedTransactions } from "../../core/packed-transactions.ts";
import { Histogram } from "../../core/stats.ts";
import { mptCheckEntry, tptCheck, UNUSABLE_MPT, type MptCheckEntry } from "./tpt-check.ts";
import {
  decodeMpt, encodeCfgReadback, MPT_ENTRY_BYTES, MTT_ENTRY_BYTES, TPT_CFG_BEAT_BYTES,
  TPT_CFG_HEADER_BYTES, TptCfgHeaderLayout, TptCfgOp,
} from "../formats/index.ts";
import {
  resolveTptParams, TPT_REQ_BYTES, TPT_RESP_BEAT_BYTES, TptFault, TptRequestLayout, TptRespBeatLayout, type TptParams,
} from "./tpt-format.ts";

const IN_CFG = "s_cfg";
const IN_REQ = "s_req";
const OUT_RESP = "m_resp";
const OUT_CFG_RD = "m_cfg_rd";
const TWO32 = 0x1_0000_0000;

/** An MPT table entry as the block holds it (tpt-check.ts): immutable, the cache keeps references. */
type Entry = MptCheckEntry;

const DEAD: Entry = UNUSABLE_MPT;

interface Cfg {
  /** handshake cycle */
  w: number;
  data: Uint8Array;
}

interface Req {
  tag: number;
  access: number;
  key: number;
  pd: number;
  vaHi: number;
  vaLo: number;
  len: number;
  /** accept cycle */
  a: number;
}

const enum Phase {
  Probe,
  Fill,
  Translate,
}

interface Cur {
  req: Req;
  phase: Phase;
  /** cycle of the next event (probe, fill) or, in Translate, the A → B handoff d */
  at: number;
  /** 0 no probe, 1 first probe hit, 2 first probe missed */
  kind: 0 | 1 | 2;
  fault: number;
  nseg: number;
  mttIdx0: number;
  off0: number;
  ps: number;
}

/** Offsets of the request fields, taken from the layout once. */
const RQ = {
  tag: TptRequestLayout.field("tag").byteOffset,
  access: TptRequestLayout.field("access").byteOffset,
  key: TptRequestLayout.field("key").byteOffset,
  pd: TptRequestLayout.field("pd").byteOffset,
  va: TptRequestLayout.field("va").byteOffset,
  len: TptRequestLayout.field("len").byteOffset,
};
const RS = {
  tag: TptRespBeatLayout.field("tag").byteOffset,
  fault: TptRespBeatLayout.field("fault").byteOffset,
  nseg: TptRespBeatLayout.field("nseg").byteOffset,
  addr: TptRespBeatLayout.field("addr").byteOffset,
  len: TptRespBeatLayout.field("len").byteOffset,
};

export interface TptCounters {
  stat_lookups: number;
  stat_hits: number;
  stat_misses: number;
  stat_faults: number;
}

export class TptTwin implements BlockTwin {
  readonly block = "tpt";
  readonly params: TptParams;
  private now = 0;

  // tables (state as of the last applied s_cfg write)
  private readonly mpt: Entry[];
  /** MTT page addresses, high and low halves */
  private readonly mttHi: Uint32Array;
  private readonly mttLo: Uint32Array;
  private readonly mttPresent: Uint8Array;
  /** read-back state: each MPT entry's bytes while hardware-owned (else null), MTT entries written */
  private readonly mptOwned: (Uint8Array | null)[];
  private readonly mttWritten: Uint8Array;
  /** stage B's segment buffer (the last translation) */
  private readonly segHi: Uint32Array;
  private readonly segLo: Uint32Array;
  private readonly segLen: Uint32Array;
  /** cache line → MPT index held (-1: invalid) */
  private readonly cTag: Int32Array;
  private readonly cEntry: Entry[];

  private readonly cfgQ: Cfg[] = [];
  private cfgHead = 0;
  private lastCfgW = -1;
  private readonly reqQ: Req[] = [];
  private reqHead = 0;
  private lastReqStart = 0;
  private lastCfgStart = 0;
  private cur: Cur | null = null;

  /** previous lookup: A → B handoff, B → C handoff, last response beat */
  private dPrev = -1;
  private hPrev = -1;
  private ePrev = -1;

  /** m_resp transactions, packed as they are resolved (possibly before the run reaches their end) */
  private readonly resp = new PackedTransactionWriter(0, 64 * 1024);
  /**
   * Per lookup, s_req handshake to first response beat [cycles], by what the first probe
   * of the MPT cache found: the block's hit and miss latency as a requester sees them
   * (stalls behind the lookup ahead included, input queueing not).
   */
  readonly serviceLatency = { hit: new Histogram("tpt.hit_latency"), miss: new Histogram("tpt.miss_latency") };
  private readonly cfgRd = new PackedTransactionWriter(0, 4 * 1024);
  private readonly span: PackedSpan = { end: 0, startCycle: 0, endCycle: 0, dataBytes: 0 };
  /** counter events (cycle h, what) not yet visible at `now` */
  private readonly statQ: { h: number; kind: number; fault: boolean }[] = [];
  private statHead = 0;
  private readonly counters: TptCounters = { stat_lookups: 0, stat_hits: 0, stat_misses: 0, stat_faults: 0 };

  constructor(params: Partial<TptParams> = {}) {
    this.params = resolveTptParams(params);
    const p = this.params;
    this.mpt = new Array<Entry>(p.mptEntries).fill(DEAD);
    this.mttHi = new Uint32Array(p.mttEntries);
    this.mttLo = new Uint32Array(p.mttEntries);
    this.mttPresent = new Uint8Array(p.mttEntries);
    this.mptOwned = new Array<Uint8Array | null>(p.mptEntries).fill(null);
    this.mttWritten = new Uint8Array(p.mttEntries);
    this.segHi = new Uint32Array(p.maxSegments);
    this.segLo = new Uint32Array(p.maxSegments);
    this.segLen = new Uint32Array(p.maxSegments);
    this.cTag = new Int32Array(p.cacheEntries).fill(-1);
    this.cEntry = new Array<Entry>(p.cacheEntries).fill(DEAD);
  }

  offer(port: string, txn: StreamTransaction): void {
    this.offerRecord(port, txn.data, 0, txn.data.length, txn.startCycle);
  }

  /** offer() for packed transactions: each read where it lies (the twin keeps no object per input but its own) */
  offerPacked(port: string, bytes: Uint8Array, count: number): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const sp = this.span;
    let at = 0;
    for (let i = 0; i < count; i++) {
      if (!spanPacked(bytes, dv, at, sp)) throw new Error(`tpt twin: ${port}: packed transactions cut short at transaction ${i} of ${count}`);
      const dataAt = sp.end - sp.dataBytes;
      this.offerRecord(port, bytes, dataAt, sp.dataBytes, sp.startCycle);
      at = sp.end;
    }
  }

  /** one input transaction: its record is `n` bytes of `b` from `at` */
  private offerRecord(port: string, b: Uint8Array, at: number, n: number, startCycle: number): void {
    if (port === IN_CFG) {
      if (startCycle < this.lastCfgStart) throw new Error(`tpt twin: ${IN_CFG} startCycle ${startCycle} is before the previous ${this.lastCfgStart}`);
      if (n < TPT_CFG_HEADER_BYTES || n > TPT_CFG_BEAT_BYTES) {
        throw new Error(`tpt twin: an ${IN_CFG} transaction is one beat of ${TPT_CFG_HEADER_BYTES}..${TPT_CFG_BEAT_BYTES} bytes, got ${n}`);
      }
      this.lastCfgStart = startCycle;
      const w = Math.max(startCycle, this.now, this.lastCfgW + 1);
      this.lastCfgW = w;
      this.cfgQ.push({ w, data: b.subarray(at, at + n) });
    } else if (port === IN_REQ) {
      if (startCycle < this.lastReqStart) throw new Error(`tpt twin: ${IN_REQ} startCycle ${startCycle} is before the previous ${this.lastReqStart}`);
      if (n !== TPT_REQ_BYTES) throw new Error(`tpt twin: an ${IN_REQ} transaction is one ${TPT_REQ_BYTES}-byte beat, got ${n} bytes`);
      this.lastReqStart = startCycle;
      this.reqQ.push({
        tag: (b[at + RQ.tag]! << 8) | b[at + RQ.tag + 1]!,
        access: b[at + RQ.access]!,
        key: be32(b, at + RQ.key),
        pd: (b[at + RQ.pd]! << 16) | (b[at + RQ.pd + 1]! << 8) | b[at + RQ.pd + 2]!,
        vaHi: be32(b, at + RQ.va),
        vaLo: be32(b, at + RQ.va + 4),
        len: be32(b, at + RQ.len),
        // accept cycle: resolved below when the lookup reaches stage A (needs d[i-1]);
        // the earliest the shim can drive it is max(startCycle, now)
        a: Math.max(startCycle, this.now),
      });
    } else {
      throw new Error(`tpt twin: no input stream port "${port}" (input ports: ${IN_CFG}, ${IN_REQ})`);
    }
  }

  runUntil(cycle: number): void {
    if (cycle <= this.now) return;
    const T = cycle;
    for (;;) {
      let c = this.cur;
      if (c === null) {
        if (this.reqHead === this.reqQ.length) break;
        const req = this.reqQ[this.reqHead++];
        req.a = Math.max(req.a, this.dPrev);
        c = this.cur = { req, phase: Phase.Probe, at: Math.max(req.a + 1, this.hPrev), kind: 0, fault: 0, nseg: 0, mttIdx0: 0, off0: 0, ps: 12 };
        if (this.reqHead > 4096) { this.reqQ.splice(0, this.reqHead); this.reqHead = 0; }
      }
      if (c.phase === Phase.Probe) {
        if (c.at >= T) break;
        this.applyCfgBefore(c.at);
        const idx = c.req.key >>> 8;
        if (idx >= this.params.mptEntries) {
          c.fault = TptFault.invalidKey;
        } else {
          const line = idx & (this.params.cacheEntries - 1);
          if (this.cTag[line] !== idx) {
            if (c.kind === 0) c.kind = 2;
            c.phase = Phase.Fill;
            c.at += this.params.missLatency;
            continue;
          }
          if (c.kind === 0) c.kind = 1;
          this.check(c, this.cEntry[line]);
        }
        c.phase = Phase.Translate;
        continue;
      }
      if (c.phase === Phase.Fill) {
        if (c.at >= T) break;
        this.applyCfgBefore(c.at);
        const idx = c.req.key >>> 8;
        const line = idx & (this.params.cacheEntries - 1);
        this.cTag[line] = idx;
        this.cEntry[line] = this.mpt[idx];
        c.phase = Phase.Probe;
        c.at = Math.max(c.at + 1, this.hPrev);
        continue;
      }
      // Translate: B reads the MTT at d + 1 .. d + nseg
      const d = c.at;
      const reads = c.fault === TptFault.ok ? c.nseg : 0;
      if (d + reads >= T) break;
      if (reads > 0 && !this.translate(c, d)) c.fault = TptFault.translationFault;
      const h = Math.max(d + Math.max(1, reads), this.ePrev);
      const faulted = c.fault !== TptFault.ok;
      const nseg = faulted ? 0 : c.nseg;
      const beats = Math.max(1, nseg);
      const at = this.resp.append(h + 1, h + beats, beats * TPT_RESP_BEAT_BYTES);
      const data = this.resp.bytes;
      for (let k = 0; k < beats; k++) {
        const o = at + k * TPT_RESP_BEAT_BYTES;
        data[o + RS.tag] = c.req.tag >>> 8;
        data[o + RS.tag + 1] = c.req.tag;
        data[o + RS.fault] = c.fault;
        data[o + RS.nseg] = nseg;
        if (nseg > 0) {
          put32(data, o + RS.addr, this.segHi[k]);
          put32(data, o + RS.addr + 4, this.segLo[k]);
          put32(data, o + RS.len, this.segLen[k]);
        }
      }
      this.statQ.push({ h, kind: c.kind, fault: faulted });
      if (c.kind === 1) this.serviceLatency.hit.record(h + 1 - c.req.a);
      else if (c.kind === 2) this.serviceLatency.miss.record(h + 1 - c.req.a);
      this.dPrev = d;
      this.hPrev = h;
      this.ePrev = h + beats;
      this.cur = null;
    }
    // answer the s_cfg reads before the earliest table access still to come: a lookup
    // waiting in A (probe or fill at c.at), or in B (MTT reads from d + 1); without one,
    // the next lookup cannot probe before T + 1
    const c = this.cur;
    this.applyCfgBefore(c === null ? T : c.phase === Phase.Translate ? c.at + 1 : c.at);
    this.now = cycle;
  }

  private output(port: string): PackedTransactionWriter {
    if (port === OUT_RESP) return this.resp;
    if (port === OUT_CFG_RD) return this.cfgRd;
    throw new Error(`tpt twin: no output stream port "${port}" (output ports: ${OUT_RESP}, ${OUT_CFG_RD})`);
  }

  take(port: string): StreamTransaction[] {
    const { bytes, count } = this.output(port).takeViewBefore(this.now);
    return unpack(bytes.slice(), count, [], `tpt twin: ${port}`);
  }

  /** the outputs that ended before the time run to, lent until the twin next runs (the scoreboard copies them) */
  takePacked(port: string): PackedTransactions {
    return this.output(port).takeViewBefore(this.now);
  }

  wires(): Record<string, number> {
    const q = this.statQ;
    const s = this.counters;
    while (this.statHead < q.length && q[this.statHead].h < this.now) {
      const e = q[this.statHead++];
      s.stat_lookups = (s.stat_lookups + 1) >>> 0;
      if (e.kind === 1) s.stat_hits = (s.stat_hits + 1) >>> 0;
      if (e.kind === 2) s.stat_misses = (s.stat_misses + 1) >>> 0;
      if (e.fault) s.stat_faults = (s.stat_faults + 1) >>> 0;
    }
    if (this.statHead > 4096) { q.splice(0, this.statHead); this.statHead = 0; }
    return { ...s };
  }

  // ---- internals -------------------------------------------------------------------

  /** applies every s_cfg write that handshook before `cycle` */
  private applyCfgBefore(cycle: number): void {
    const q = this.cfgQ;
    while (this.cfgHead < q.length && q[this.cfgHead].w < cycle) {
      const c = q[this.cfgHead++];
      this.applyCfg(c.data, c.w);
    }
    if (this.cfgHead > 4096) { q.splice(0, this.cfgHead); this.cfgHead = 0; }
  }

  /** one s_cfg transaction that handshook at cycle w */
  private applyCfg(b: Uint8Array, w: number): void {
    const op = TptCfgHeaderLayout.get(b, 0, "op");
    const index = TptCfgHeaderLayout.get(b, 0, "index");
    const p = this.params;
    if (op === TptCfgOp.mptRead || op === TptCfgOp.mttRead) {
      const answer = this.readback(op, index);
      const at = this.cfgRd.append(w + 1, w + 1, answer.length); // may move the buffer: before .bytes
      this.cfgRd.bytes.set(answer, at);
      return;
    }
    if (op === TptCfgOp.mptWrite || op === TptCfgOp.mptInvalidate) {
      if (index >= p.mptEntries) return;
      if (op === TptCfgOp.mptWrite) {
        if (b.length < TPT_CFG_HEADER_BYTES + 32) throw new Error(`tpt twin: an MPT write needs 40 bytes, got ${b.length}`);
        this.mptOwned[index] = b.slice(TPT_CFG_HEADER_BYTES, TPT_CFG_HEADER_BYTES + MPT_ENTRY_BYTES);
        this.mpt[index] = mptCheckEntry(decodeMpt(b, TPT_CFG_HEADER_BYTES));
      } else {
        this.mpt[index] = DEAD;
        this.mptOwned[index] = null;
      }
      // the cache line of this index is dropped, whatever it holds
      this.cTag[index & (p.cacheEntries - 1)] = -1;
    } else if (op === TptCfgOp.mttWrite) {
      if (index >= p.mttEntries) return;
      if (b.length < TPT_CFG_HEADER_BYTES + 8) throw new Error(`tpt twin: an MTT write needs 16 bytes, got ${b.length}`);
      const dv = new DataView(b.buffer, b.byteOffset + TPT_CFG_HEADER_BYTES, 8);
      const lo = dv.getUint32(4);
      this.mttHi[index] = dv.getUint32(0);
      this.mttLo[index] = lo & ~0xfff;
      this.mttPresent[index] = lo & 1;
      this.mttWritten[index] = 1;
    }
  }

  /** the m_cfg_rd answer to a read of `index`, from the tables as they stand */
  private readback(op: number, index: number): Uint8Array {
    const p = this.params;
    if (op === TptCfgOp.mptRead) {
      const raw = index < p.mptEntries ? this.mptOwned[index] : null;
      const live = index < p.mptEntries && this.mpt[index].usable;
      return encodeCfgReadback({ op, index, valid: raw !== null, live, entry: raw ?? new Uint8Array(MPT_ENTRY_BYTES) });
    }
    const valid = index < p.mttEntries && this.mttWritten[index] === 1;
    const entry = new Uint8Array(MTT_ENTRY_BYTES);
    if (valid) {
      const dv = new DataView(entry.buffer);
      dv.setUint32(0, this.mttHi[index]);
      dv.setUint32(4, (this.mttLo[index] | this.mttPresent[index]) >>> 0);
    }
    return encodeCfgReadback({ op, index, valid, live: false, entry });
  }

  /** stage A's checks against an MPT entry, in fault-table order */
  private check(c: Cur, e: Entry): void {
    tptCheck(e, c.req, this.params.maxSegments, c);
  }

  /** stage B: MTT page k read at cycle d + 1 + k; null on a translation fault */
  private translate(c: Cur, d: number): boolean {
    const hi = this.segHi;
    const lo = this.segLo;
    const len = this.segLen;
    let ok = true;
    let rem = c.req.len;
    const pageSize = 2 ** c.ps;
    for (let k = 0; k < c.nseg; k++) {
      this.applyCfgBefore(d + 1 + k);
      const i = c.mttIdx0 + k;
      if (i >= this.params.mttEntries || this.mttPresent[i] === 0) { ok = false; continue; }
      const off = k === 0 ? c.off0 : 0;
      const l = Math.min(rem, pageSize - off);
      rem -= l;
      const a = this.mttLo[i] + off;
      lo[k] = a >>> 0;
      hi[k] = (this.mttHi[i] + (a >= TWO32 ? 1 : 0)) >>> 0;
      len[k] = l;
    }
    return ok;
  }
}

function be32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

function put32(b: Uint8Array, p: number, v: number): void {
  b[p] = v >>> 24;
  b[p + 1] = v >>> 16;
  b[p + 2] = v >>> 8;
  b[p + 3] = v;
}
