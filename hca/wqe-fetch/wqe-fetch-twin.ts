/**
 * The TypeScript twin of rtl-models/wqe_fetch, cycle-exact with outputs always ready.
 * Spec and timing: hca/wqe-fetch/README.md. Per cycle c, from the state at the start of c:
 *  1. output registers valid at c handshake (outputs are always ready);
 *  2. retire: if the slot at the retire pointer is issued and holds data, it is parsed and
 *     loaded into m_wr or m_err (valid from c+1); the slot is freed; the pointer advances;
 *  3. issue: if a fetch is active and the slot at the issue pointer is not issued, a read of
 *     WQE `ci` is loaded into m_dma_rd (valid from c+1) with that slot's number as tag;
 *  4. s_dma_cpl handshakes if the slot named by its tag holds no data (data stored at c+1);
 *  5. s_fetch handshakes if no fetch is active (tables read at c); s_cfg always handshakes.
 *
 * The twin runs once per cycle of every co-simulation, so its per-cycle path reads and
 * writes records through FieldCodecs compiled from the port layouts (plain numbers: 64-bit
 * addresses as high and low 32-bit halves, no bigint), reads its inputs packed where the
 * harness put them (a completion's bytes stay there until the WQE is parsed), writes its
 * outputs packed (core/packed-transactions.ts), and skips idle cycles.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { PackedTransactionQueue, PackedTransactionWriter, unpack, type PackedTransactions } from "../../core/packed-transactions.ts";
import {
  AtomicSeg, CtrlSeg, DataSeg, INLINE_SEG_BIT, INVALID_LKEY, InlineSegHeader, MaskedAtomicSeg, OPCODE_INFO, RaddrSeg, WQE_MAX_SIZE, WQE_SEG_BYTES, WQE_STRIDE, WqeError, fixedUnits,
} from "../formats/wqe.ts";
import { DmaCompletion, DmaReadReq, FetchRequest, WorkRequest, WqeFetchError, WqeRingCfg, WrFlag } from "./formats.ts";

export interface WqeFetchParams {
  /** QPs in the ring table (QPNs 0..QP_ENTRIES-1; fetches for others are ignored) */
  qpEntries: number;
  /** DMA tags = read slots in flight */
  tags: number;
}
export const WQE_FETCH_DEFAULTS: WqeFetchParams = { qpEntries: 64, tags: 8 };

// ---- record access, compiled once from the layouts ----------------------------------------

const fetchIn = FetchRequest.codec(["qpn", "kind", "counter"]);
const cfgIn = WqeRingCfg.codec(["qpn", "kind", "logSize", "ci", "base"]);
const cplTag = DmaCompletion.accessor("tag");
/** where a completion's WQE bytes start in its record */
const CPL_DATA = DmaCompletion.field("data").byteOffset;

const ctrl = CtrlSeg.codec(["owner", "opcode", "fence", "size", "cqUpdate", "solicited", "imm"]);
const raddrSeg = RaddrSeg.codec(["raddr", "rkey"]);
const atomicSeg = AtomicSeg.codec(["swapAdd", "compare"]);
/** a masked atomic segment's masks (its second 16-byte unit) */
const maskSeg = MaskedAtomicSeg.codec(["swapMask", "compareMask"]);
/** a segment's first word: the inline bit (an inline segment; a data segment must not have it) and the inline length */
const segHead = InlineSegHeader.codec(["inline", "byteCount"]);
/** a receive WQE's data segment: byte count (inline bit included) and lkey */
const recvSeg = DataSeg.codec(["byteCount", "lkey"]);
const ctrlOwner = CtrlSeg.accessor("owner");
/** where the optional raddr and atomic segments sit in a send WQE: right after ctrl, in that order */
const RADDR_OFF = CtrlSeg.sizeBytes;
const ATOMIC_OFF = CtrlSeg.sizeBytes + RaddrSeg.sizeBytes;

const readOut = DmaReadReq.codec(["tag", "length", "addr"]);
const wrOut = WorkRequest.codec(["qpn", "kind", "index", "opcode", "flags", "nsge", "inlineBytes", "imm", "raddr", "rkey", "swapAdd", "compare", "swapMask", "compareMask"]);
const errOut = WqeFetchError.codec(["reason", "kind", "qpn", "index", "opcode"]);
const PAYLOAD_OFF = WorkRequest.field("payload").byteOffset;

/** per 5-bit ctrl opcode: 16-byte units of ctrl + raddr + atomic (0: not an opcode), whether it has a raddr segment, its atomic segment's units */
const OPCODES = 1 << CtrlSeg.field("opcode").bits;
const FIXED_UNITS = Uint8Array.from({ length: OPCODES }, (_, op) => fixedUnits(op) ?? 0);
const HAS_RADDR = Uint8Array.from({ length: OPCODES }, (_, op) => (OPCODE_INFO[op]?.raddr ? 1 : 0));
const ATOMIC_UNITS = Uint8Array.from({ length: OPCODES }, (_, op) => OPCODE_INFO[op]?.atomicUnits ?? 0);

const TWO_32 = 0x1_0000_0000;

/** one read slot (DMA tag): the WQE it reads and, once completed, where its bytes are */
class Slot {
  issued = false;
  hasData = false;
  /** the completion record holding the WQE, from byte `at` */
  data: Uint8Array = new Uint8Array(0);
  at = 0;
  qpn = 0;
  kind = 0;
  index = 0;
  owner = 0;
}

/**
 * One output register: the record loaded (one buffer, reused: a register holds one record
 * at a time), valid from the next cycle, packed into the port's output when it handshakes.
 */
class OutReg {
  valid = false;
  readonly data: Uint8Array;
  readonly out = new PackedTransactionWriter(0, 64 * 1024);

  constructor(readonly size: number) {
    this.data = new Uint8Array(size);
  }

  handshake(c: number): void {
    if (!this.valid) return;
    const at = this.out.append(c, c, this.size);
    copyBytes(this.out.bytes, at, this.data, 0, this.size);
    this.valid = false;
  }
}

/**
 * An input port's queue, and its head record as the RTL sees it: `rec` from byte `at`, at
 * least `size` bytes (a shorter record is read zero-extended, from a copy).
 */
class InQueue {
  readonly q: PackedTransactionQueue;
  rec: Uint8Array = new Uint8Array(0);
  at = 0;

  constructor(
    port: string,
    private readonly size: number,
  ) {
    this.q = new PackedTransactionQueue([], `wqe_fetch twin: ${port}`);
  }

  /** whether the head may handshake at cycle c (and then rec/at locate its record) */
  ready(c: number): boolean {
    if (this.q.startCycle > c) return false;
    this.locate();
    return true;
  }

  get nextStart(): number {
    return this.q.startCycle;
  }

  /** points rec/at at the head's record */
  locate(): void {
    const q = this.q;
    if (q.dataBytes >= this.size) {
      this.rec = q.bytes;
      this.at = q.dataAt;
    } else {
      this.rec = new Uint8Array(this.size);
      this.rec.set(q.bytes.subarray(q.dataAt, q.dataAt + q.dataBytes));
      this.at = 0;
    }
  }

  pop(): void {
    this.q.shift();
  }
}

export class WqeFetchTwin implements BlockTwin {
  readonly block = "wqe_fetch";
  readonly params: WqeFetchParams;
  /** every cycle below this has been simulated */
  private now = 0;

  // the ring table, per (qpn, kind) at qpn * 2 + kind; base as two 32-bit halves
  private readonly baseHi: Uint32Array;
  private readonly baseLo: Uint32Array;
  private readonly logSize: Uint8Array;
  private readonly ringCi: Uint16Array;

  private readonly slots: Slot[];
  private rp = 0;
  private wp = 0;
  /** the active fetch: its ring (copied when the fetch was taken) and where it ends */
  private busy = false;
  private curRing = 0;
  private curQpn = 0;
  private curKind = 0;
  private curCi = 0;
  private curEnd = 0;
  private curBaseHi = 0;
  private curBaseLo = 0;
  private curLogSize = 0;

  private readonly sFetch = new InQueue("s_fetch", FetchRequest.sizeBytes);
  private readonly sCfg = new InQueue("s_cfg", WqeRingCfg.sizeBytes);
  private readonly sCpl = new InQueue("s_dma_cpl", DmaCompletion.sizeBytes);
  private readonly mDmaRd = new OutReg(DmaReadReq.sizeBytes);
  private readonly mWr = new OutReg(WorkRequest.sizeBytes);
  private readonly mErr = new OutReg(WqeFetchError.sizeBytes);
  /** payload bytes of the last work request loaded into m_wr (zeroed before a shorter one) */
  private wrPayload = 0;
  private readonly stats = { stat_fetches: 0, stat_reads: 0, stat_wrs: 0, stat_err_owner: 0, stat_err_malformed: 0 };

  // scratch values of the records read and written (reused: nothing allocated per cycle)
  private readonly inVals = new Float64Array(Math.max(fetchIn.slots, cfgIn.slots));
  private readonly readVals = new Float64Array(readOut.slots);
  private readonly errVals = new Float64Array(errOut.slots);
  private readonly wqe = new WqeParse();

  /** defect injection for the security test: the owner check removed (as HCASIM_DEFECT_SKIP_OWNER_CHECK in the RTL) */
  private readonly skipOwnerCheck: boolean;

  constructor(opts: Partial<WqeFetchParams> & { skipOwnerCheck?: boolean } = {}) {
    this.params = { qpEntries: opts.qpEntries ?? WQE_FETCH_DEFAULTS.qpEntries, tags: opts.tags ?? WQE_FETCH_DEFAULTS.tags };
    this.skipOwnerCheck = opts.skipOwnerCheck ?? false;
    const rings = this.params.qpEntries * 2;
    this.baseHi = new Uint32Array(rings);
    this.baseLo = new Uint32Array(rings);
    this.logSize = new Uint8Array(rings);
    this.ringCi = new Uint16Array(rings);
    this.slots = Array.from({ length: this.params.tags }, () => new Slot());
  }

  private input(port: string): InQueue {
    switch (port) {
      case "s_fetch":
        return this.sFetch;
      case "s_cfg":
        return this.sCfg;
      case "s_dma_cpl":
        return this.sCpl;
      default:
        throw new Error(`wqe_fetch: no input port ${port}`);
    }
  }

  private output(port: string): OutReg {
    switch (port) {
      case "m_dma_rd":
        return this.mDmaRd;
      case "m_wr":
        return this.mWr;
      case "m_err":
        return this.mErr;
      default:
        throw new Error(`wqe_fetch: no output port ${port}`);
    }
  }

  offer(port: string, txn: StreamTransaction): void {
    this.input(port).q.offer(txn);
  }

  offerPacked(port: string, bytes: Uint8Array, _count: number): void {
    // the shim cannot drive a transaction before the cycle the harness had reached when it sent it
    this.input(port).q.push(bytes, this.now);
  }

  take(port: string): StreamTransaction[] {
    const { bytes, count } = this.output(port).out.takeView();
    return unpack(bytes.slice(), count, [], `wqe_fetch twin: ${port}`);
  }

  /** the outputs, lent until the twin next runs (the scoreboard copies them) */
  takePacked(port: string): PackedTransactions {
    return this.output(port).out.takeView();
  }

  wires(): Record<string, number> {
    return { ...this.stats };
  }

  runUntil(cycle: number): void {
    this.sFetch.q.flushOffered(this.now);
    this.sCfg.q.flushOffered(this.now);
    this.sCpl.q.flushOffered(this.now);
    while (this.now < cycle) {
      // idle cycles cost nothing: skip to the first cycle at which anything can change
      const next = this.nextActive();
      if (next > this.now) {
        if (next >= cycle) {
          this.now = cycle;
          return;
        }
        this.now = next;
      }
      this.step(this.now);
      this.now++;
    }
  }

  /**
   * The first cycle from `now` at which step() would change anything: now if an output is
   * valid, a retire or an issue can happen; else the start of the first input that could
   * be taken (a completion whose slot is full, or a fetch while one is active, waits for a
   * retire or an issue, which cannot happen before then either).
   */
  private nextActive(): number {
    if (this.mDmaRd.valid || this.mWr.valid || this.mErr.valid) return this.now;
    const rs = this.slots[this.rp];
    if (rs.issued && rs.hasData) return this.now;
    if (this.busy && !this.slots[this.wp].issued) return this.now;
    let next = this.sCfg.nextStart;
    if (!this.busy) next = Math.min(next, this.sFetch.nextStart);
    const cpl = this.sCpl;
    if (cpl.nextStart !== Infinity) {
      cpl.locate();
      if (!this.slots[cplTag.get(cpl.rec, cpl.at) % this.params.tags]!.hasData) next = Math.min(next, cpl.nextStart);
    }
    return Math.max(next, this.now);
  }

  private step(c: number): void {
    // 1. outputs handshake
    this.mDmaRd.handshake(c);
    this.mWr.handshake(c);
    this.mErr.handshake(c);
    const T = this.params.tags;
    // state at the start of c
    const rs = this.slots[this.rp];
    const doRetire = rs.issued && rs.hasData;
    const ws = this.slots[this.wp];
    const doIssue = this.busy && !ws.issued;
    const cpl = this.sCpl;
    const cs = cpl.ready(c) ? this.slots[cplTag.get(cpl.rec, cpl.at) % T] : undefined;
    const doCpl = cs !== undefined && !cs.hasData;
    const fetch = !this.busy && this.sFetch.ready(c);
    const cfg = this.sCfg.ready(c);

    // 2. retire
    if (doRetire) {
      this.retire(rs);
      rs.issued = false;
      rs.hasData = false;
      this.rp = (this.rp + 1) % T;
    }
    // 3. issue
    if (doIssue) this.issue(ws);
    // 4. completion: the WQE stays in the completion's record, which nobody changes
    if (doCpl) {
      cs.data = cpl.rec;
      cs.at = cpl.at + CPL_DATA;
      cs.hasData = true;
      cpl.pop();
    }
    // 5. fetch and cfg
    if (fetch) this.takeFetch(this.sFetch.rec, this.sFetch.at);
    if (cfg) {
      const v = this.inVals;
      cfgIn.read(this.sCfg.rec, this.sCfg.at, v);
      const qpn = v[cfgIn.slot.qpn];
      if (qpn < this.params.qpEntries) {
        const r = qpn * 2 + v[cfgIn.slot.kind];
        this.logSize[r] = v[cfgIn.slot.logSize];
        this.ringCi[r] = v[cfgIn.slot.ci];
        this.baseHi[r] = v[cfgIn.slot.base];
        this.baseLo[r] = v[cfgIn.slot.base + 1];
      }
      this.sCfg.pop();
    }
  }

  private issue(ws: Slot): void {
    // the WQE's address: base + (ci mod 2^logSize) * stride, modulo 2^64, in 32-bit halves
    const lo = this.curBaseLo + (this.curCi & ((1 << this.curLogSize) - 1)) * WQE_STRIDE;
    const carry = lo >= TWO_32 ? 1 : 0;
    const v = this.readVals;
    v[readOut.slot.tag] = this.wp;
    v[readOut.slot.length] = WQE_STRIDE;
    v[readOut.slot.addr] = this.curBaseHi + carry; // reduced modulo 2^32 by the write
    v[readOut.slot.addr + 1] = lo;
    readOut.write(this.mDmaRd.data, 0, v);
    this.mDmaRd.valid = true;
    ws.issued = true;
    ws.qpn = this.curQpn;
    ws.kind = this.curKind;
    ws.index = this.curCi;
    ws.owner = (this.curCi >>> this.curLogSize) & 1;
    const next = (this.curCi + 1) & 0xffff;
    this.ringCi[this.curRing] = next;
    this.curCi = next;
    if (next === this.curEnd) this.busy = false;
    this.wp = (this.wp + 1) % this.params.tags;
    this.stats.stat_reads++;
  }

  private takeFetch(rec: Uint8Array, at: number): void {
    const v = this.inVals;
    fetchIn.read(rec, at, v);
    const qpn = v[fetchIn.slot.qpn];
    const end = v[fetchIn.slot.counter];
    this.sFetch.pop();
    this.stats.stat_fetches++;
    if (qpn >= this.params.qpEntries) return;
    const kind = v[fetchIn.slot.kind] & 1;
    const r = qpn * 2 + kind;
    this.curRing = r;
    this.curQpn = qpn;
    this.curKind = kind;
    this.curCi = this.ringCi[r];
    this.curEnd = end;
    this.curBaseHi = this.baseHi[r];
    this.curBaseLo = this.baseLo[r];
    this.curLogSize = this.logSize[r];
    this.busy = this.curCi !== end;
  }

  private retire(s: Slot): void {
    const p = this.wqe;
    if (!p.run(s.data, s.at, s.kind, this.skipOwnerCheck ? ctrlOwner.get(s.data, s.at) : s.owner)) {
      const e = this.errVals;
      e[errOut.slot.reason] = p.reason;
      e[errOut.slot.kind] = s.kind;
      e[errOut.slot.qpn] = s.qpn;
      e[errOut.slot.index] = s.index;
      e[errOut.slot.opcode] = p.opcode;
      errOut.write(this.mErr.data, 0, e);
      this.mErr.valid = true;
      if (p.reason === WqeError.staleOwner) this.stats.stat_err_owner++;
      else this.stats.stat_err_malformed++;
      return;
    }
    const w = p.wr;
    w[wrOut.slot.qpn] = s.qpn;
    w[wrOut.slot.kind] = s.kind;
    w[wrOut.slot.index] = s.index;
    const rec = this.mWr.data;
    wrOut.write(rec, 0, w);
    copyBytes(rec, PAYLOAD_OFF, s.data, s.at + p.payloadFrom, p.payloadLen);
    // the register is reused: payload bytes of a longer work request before it go back to zero
    if (this.wrPayload > p.payloadLen) rec.fill(0, PAYLOAD_OFF + p.payloadLen, PAYLOAD_OFF + this.wrPayload);
    this.wrPayload = p.payloadLen;
    this.mWr.valid = true;
    this.stats.stat_wrs++;
  }
}

/**
 * The block's parse of one WQE (what the RTL computes in the retire cycle), into values
 * reused from one WQE to the next: the m_wr header (all but qpn, kind and index, which the
 * slot knows) and where the payload lies in the WQE, or the m_err reason and opcode.
 */
class WqeParse {
  /** m_wr header values, in wrOut's slots */
  readonly wr = new Float64Array(wrOut.slots);
  /** rejected: the WqeError reason and the opcode read (0 for a receive WQE) */
  reason = 0;
  opcode = 0;
  /** the payload: bytes [payloadFrom, payloadFrom + payloadLen) of the WQE */
  payloadFrom = 0;
  payloadLen = 0;
  private readonly ctrlVals = new Float64Array(ctrl.slots);
  private readonly segVals = new Float64Array(Math.max(raddrSeg.slots, atomicSeg.slots, maskSeg.slots, segHead.slots, recvSeg.slots));

  /** parses the WQE at d[at..]; false if it is rejected */
  run(d: Uint8Array, at: number, kind: number, owner: number): boolean {
    const w = this.wr;
    for (let i = 0; i < w.length; i++) w[i] = 0;
    this.payloadFrom = 0;
    this.payloadLen = 0;
    if (kind === 1) {
      // a receive WQE: data segments up to the first invalid lkey or the stride
      const s = this.segVals;
      let n = 0;
      for (; n < WQE_MAX_SIZE; n++) {
        recvSeg.read(d, at + n * WQE_SEG_BYTES, s);
        if (s[recvSeg.slot.lkey] === INVALID_LKEY) break;
        if (s[recvSeg.slot.byteCount] >= INLINE_SEG_BIT) return this.reject(WqeError.badSegment, 0);
      }
      w[wrOut.slot.nsge] = n;
      this.payloadLen = n * WQE_SEG_BYTES;
      return true;
    }
    const c = this.ctrlVals;
    ctrl.read(d, at, c);
    const opcode = c[ctrl.slot.opcode];
    if (c[ctrl.slot.owner] !== owner) return this.reject(WqeError.staleOwner, opcode);
    const fixed = FIXED_UNITS[opcode];
    if (fixed === 0) return this.reject(WqeError.badOpcode, opcode);
    const size = c[ctrl.slot.size];
    if (size < fixed || size > WQE_MAX_SIZE) return this.reject(WqeError.badSize, opcode);
    w[wrOut.slot.opcode] = opcode;
    w[wrOut.slot.imm] = c[ctrl.slot.imm];
    const flags =
      (c[ctrl.slot.cqUpdate] !== 0 ? WrFlag.signalled : 0) | (c[ctrl.slot.solicited] !== 0 ? WrFlag.solicited : 0) | (c[ctrl.slot.fence] !== 0 ? WrFlag.fence : 0);
    const s = this.segVals;
    if (HAS_RADDR[opcode] !== 0) {
      raddrSeg.read(d, at + RADDR_OFF, s);
      w[wrOut.slot.raddr] = s[raddrSeg.slot.raddr];
      w[wrOut.slot.raddr + 1] = s[raddrSeg.slot.raddr + 1];
      w[wrOut.slot.rkey] = s[raddrSeg.slot.rkey];
    }
    const units = ATOMIC_UNITS[opcode];
    if (units !== 0) {
      atomicSeg.read(d, at + ATOMIC_OFF, s);
      w[wrOut.slot.swapAdd] = s[atomicSeg.slot.swapAdd];
      w[wrOut.slot.swapAdd + 1] = s[atomicSeg.slot.swapAdd + 1];
      w[wrOut.slot.compare] = s[atomicSeg.slot.compare];
      w[wrOut.slot.compare + 1] = s[atomicSeg.slot.compare + 1];
    }
    if (units === 2) {
      // a masked atomic: the masks are its segment's second unit
      maskSeg.read(d, at + ATOMIC_OFF, s);
      w[wrOut.slot.swapMask] = s[maskSeg.slot.swapMask];
      w[wrOut.slot.swapMask + 1] = s[maskSeg.slot.swapMask + 1];
      w[wrOut.slot.compareMask] = s[maskSeg.slot.compareMask];
      w[wrOut.slot.compareMask + 1] = s[maskSeg.slot.compareMask + 1];
    }
    const off = fixed * WQE_SEG_BYTES;
    const end = size * WQE_SEG_BYTES;
    if (off < end) segHead.read(d, at + off, s);
    if (off < end && s[segHead.slot.inline] !== 0) {
      // one inline segment: its data must end inside the WQE's size
      const n = s[segHead.slot.byteCount];
      if (off + InlineSegHeader.sizeBytes + n > end) return this.reject(WqeError.badSegment, opcode);
      w[wrOut.slot.flags] = flags | WrFlag.inline;
      w[wrOut.slot.inlineBytes] = n;
      this.payloadFrom = off + InlineSegHeader.sizeBytes;
      this.payloadLen = n;
      return true;
    }
    for (let o = off; o < end; o += WQE_SEG_BYTES) {
      segHead.read(d, at + o, s);
      if (s[segHead.slot.inline] !== 0) return this.reject(WqeError.badSegment, opcode);
    }
    w[wrOut.slot.flags] = flags;
    w[wrOut.slot.nsge] = (end - off) / WQE_SEG_BYTES;
    this.payloadFrom = off;
    this.payloadLen = end - off;
    return true;
  }

  private reject(reason: number, opcode: number): false {
    this.reason = reason;
    this.opcode = opcode;
    return false;
  }
}

export interface WrHeaderFields {
  opcode: number;
  flags: number;
  nsge: number;
  inlineBytes: number;
  imm: number;
  raddr: bigint;
  rkey: number;
  swapAdd: bigint;
  compare: bigint;
  swapMask: bigint;
  compareMask: bigint;
}

/**
 * The block's parse of one WQE (WqeParse, the twin's own): the m_wr header fields and the
 * 128-byte payload, or the m_err reason. For callers that want one WQE's work request;
 * the twin itself builds its records without these objects.
 */
export function parseWqe(d: Uint8Array, kind: number, owner: number): { header: WrHeaderFields; payload: Uint8Array } | { reason: number; opcode: number } {
  const p = new WqeParse();
  if (!p.run(d, 0, kind, owner)) return { reason: p.reason, opcode: p.opcode };
  const rec = new Uint8Array(WorkRequest.sizeBytes);
  wrOut.write(rec, 0, p.wr);
  copyBytes(rec, PAYLOAD_OFF, d, p.payloadFrom, p.payloadLen);
  const { opcode, flags, nsge, inlineBytes, imm, raddr, rkey, swapAdd, compare, swapMask, compareMask, payload } = WorkRequest.decode(rec);
  return { header: { opcode, flags, nsge, inlineBytes, imm, raddr, rkey, swapAdd, compare, swapMask, compareMask }, payload };
}

/**
 * n bytes from src[from..] to dst[to..], four per iteration: a view for TypedArray.set
 * would be one more object per work request, and the co-simulation keeps the twin's
 * outputs alive until the RTL's arrive, so every object per cycle costs garbage-collector
 * copying there.
 */
function copyBytes(dst: Uint8Array, to: number, src: Uint8Array, from: number, n: number): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    dst[to + i] = src[from + i];
    dst[to + i + 1] = src[from + i + 1];
    dst[to + i + 2] = src[from + i + 2];
    dst[to + i + 3] = src[from + i + 3];
  }
  for (; i < n; i++) dst[to + i] = src[from + i];
}
