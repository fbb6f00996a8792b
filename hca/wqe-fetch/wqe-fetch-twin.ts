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
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { CtrlSeg, DataSeg, INLINE_SEG_BIT, INVALID_LKEY, OPCODE_INFO, WQE_STRIDE, WqeError, fixedUnits } from "../formats/wqe.ts";
import { DmaCompletion, DmaReadReq, FetchRequest, WorkRequest, WqeFetchError, WqeRingCfg, WrFlag, WR_HEADER_BYTES } from "./formats.ts";

export interface WqeFetchParams {
  /** QPs in the ring table (QPNs 0..QP_ENTRIES-1; fetches for others are ignored) */
  qpEntries: number;
  /** DMA tags = read slots in flight */
  tags: number;
}
export const WQE_FETCH_DEFAULTS: WqeFetchParams = { qpEntries: 64, tags: 8 };

interface Ring {
  base: bigint;
  logSize: number;
  ci: number;
}
interface Slot {
  issued: boolean;
  hasData: boolean;
  data: Uint8Array;
  qpn: number;
  kind: number;
  index: number;
  owner: number;
}
interface InQ {
  q: StreamTransaction[];
  head: number;
}

export class WqeFetchTwin implements BlockTwin {
  readonly block = "wqe_fetch";
  readonly params: WqeFetchParams;
  private now = 0;
  private readonly rings: Ring[];
  private readonly slots: Slot[];
  private rp = 0;
  private wp = 0;
  private busy = false;
  private cur = { qpn: 0, kind: 0, ci: 0, end: 0, base: 0n, logSize: 0 };
  private readonly inq: Record<string, InQ> = { s_fetch: { q: [], head: 0 }, s_cfg: { q: [], head: 0 }, s_dma_cpl: { q: [], head: 0 } };
  private readonly out: Record<string, { valid: Uint8Array | null; done: StreamTransaction[] }> = {
    m_dma_rd: { valid: null, done: [] },
    m_wr: { valid: null, done: [] },
    m_err: { valid: null, done: [] },
  };
  private readonly stats = { stat_fetches: 0, stat_reads: 0, stat_wrs: 0, stat_err_owner: 0, stat_err_malformed: 0 };

  /** defect injection for the security test: the owner check removed (as HCASIM_DEFECT_SKIP_OWNER_CHECK in the RTL) */
  private readonly skipOwnerCheck: boolean;

  constructor(opts: Partial<WqeFetchParams> & { skipOwnerCheck?: boolean } = {}) {
    this.params = { qpEntries: opts.qpEntries ?? WQE_FETCH_DEFAULTS.qpEntries, tags: opts.tags ?? WQE_FETCH_DEFAULTS.tags };
    this.skipOwnerCheck = opts.skipOwnerCheck ?? false;
    this.rings = Array.from({ length: this.params.qpEntries * 2 }, () => ({ base: 0n, logSize: 0, ci: 0 }));
    this.slots = Array.from({ length: this.params.tags }, () => ({ issued: false, hasData: false, data: new Uint8Array(WQE_STRIDE), qpn: 0, kind: 0, index: 0, owner: 0 }));
  }

  offer(port: string, txn: StreamTransaction): void {
    const q = this.inq[port];
    if (q === undefined) throw new Error(`wqe_fetch: no input port ${port}`);
    q.q.push(txn);
  }

  take(port: string): StreamTransaction[] {
    const o = this.out[port];
    if (o === undefined) throw new Error(`wqe_fetch: no output port ${port}`);
    return o.done.splice(0);
  }

  wires(): Record<string, number> {
    return { ...this.stats };
  }

  runUntil(cycle: number): void {
    while (this.now < cycle) {
      this.step(this.now);
      this.now++;
    }
  }

  private head(port: string, c: number): StreamTransaction | undefined {
    const q = this.inq[port];
    const t = q.q[q.head];
    return t !== undefined && t.startCycle <= c ? t : undefined;
  }

  private pop(port: string): void {
    const q = this.inq[port];
    q.head++;
    if (q.head > 1024) {
      q.q.splice(0, q.head);
      q.head = 0;
    }
  }

  private step(c: number): void {
    // 1. outputs handshake
    for (const o of Object.values(this.out)) {
      if (o.valid !== null) {
        o.done.push({ data: o.valid, user: {}, startCycle: c, endCycle: c });
        o.valid = null;
      }
    }
    const T = this.params.tags;
    // state at the start of c
    const rs = this.slots[this.rp];
    const doRetire = rs.issued && rs.hasData;
    const ws = this.slots[this.wp];
    const doIssue = this.busy && !ws.issued;
    const cpl = this.head("s_dma_cpl", c);
    const cplTag = cpl === undefined ? -1 : DmaCompletion.get(padTo(cpl.data, DmaCompletion.sizeBytes), 0, "tag") % T;
    const doCpl = cpl !== undefined && !this.slots[cplTag].hasData;
    const fetch = !this.busy ? this.head("s_fetch", c) : undefined;
    const cfg = this.head("s_cfg", c);

    // 2. retire
    if (doRetire) {
      this.retire(rs);
      rs.issued = false;
      rs.hasData = false;
      this.rp = (this.rp + 1) % T;
    }
    // 3. issue
    if (doIssue) {
      const k = this.cur;
      const mask = (1 << k.logSize) - 1;
      const addr = (k.base + BigInt((k.ci & mask) * WQE_STRIDE)) & 0xffff_ffff_ffff_ffffn;
      this.out.m_dma_rd.valid = DmaReadReq.encode({ tag: this.wp, length: WQE_STRIDE, addr });
      ws.issued = true;
      ws.qpn = k.qpn;
      ws.kind = k.kind;
      ws.index = k.ci;
      ws.owner = (k.ci >>> k.logSize) & 1;
      const next = (k.ci + 1) & 0xffff;
      this.rings[k.qpn * 2 + k.kind].ci = next;
      k.ci = next;
      if (next === k.end) this.busy = false;
      this.wp = (this.wp + 1) % T;
      this.stats.stat_reads++;
    }
    // 4. completion
    if (doCpl) {
      const s = this.slots[cplTag];
      s.data = padTo(cpl.data, DmaCompletion.sizeBytes).slice(8, 8 + WQE_STRIDE);
      s.hasData = true;
      this.pop("s_dma_cpl");
    }
    // 5. fetch and cfg
    if (fetch !== undefined) {
      const f = padTo(fetch.data, FetchRequest.sizeBytes);
      const qpn = FetchRequest.get(f, 0, "qpn");
      const kind = FetchRequest.get(f, 0, "kind") & 1;
      const end = FetchRequest.get(f, 0, "counter");
      this.pop("s_fetch");
      this.stats.stat_fetches++;
      if (qpn < this.params.qpEntries) {
        const r = this.rings[qpn * 2 + kind];
        this.cur = { qpn, kind, ci: r.ci, end, base: r.base, logSize: r.logSize };
        this.busy = r.ci !== end;
      }
    }
    if (cfg !== undefined) {
      const b = padTo(cfg.data, WqeRingCfg.sizeBytes);
      const qpn = WqeRingCfg.get(b, 0, "qpn");
      if (qpn < this.params.qpEntries) {
        const r = this.rings[qpn * 2 + WqeRingCfg.get(b, 0, "kind")];
        r.base = WqeRingCfg.getBig(b, 0, "base");
        r.logSize = WqeRingCfg.get(b, 0, "logSize");
        r.ci = WqeRingCfg.get(b, 0, "ci");
      }
      this.pop("s_cfg");
    }
  }

  private retire(s: Slot): void {
    const r = parseWqe(s.data, s.kind, this.skipOwnerCheck ? CtrlSeg.get(s.data, 0, "owner") : s.owner);
    if ("reason" in r) {
      this.out.m_err.valid = WqeFetchError.encode({ reason: r.reason, kind: s.kind, qpn: s.qpn, index: s.index, opcode: r.opcode });
      if (r.reason === WqeError.staleOwner) this.stats.stat_err_owner++;
      else this.stats.stat_err_malformed++;
      return;
    }
    const rec = WorkRequest.encode({ ...r.header, qpn: s.qpn, kind: s.kind, index: s.index });
    rec.set(r.payload, WR_HEADER_BYTES);
    this.out.m_wr.valid = rec;
    this.stats.stat_wrs++;
  }
}

function padTo(b: Uint8Array, n: number): Uint8Array {
  if (b.length >= n) return b;
  const o = new Uint8Array(n);
  o.set(b);
  return o;
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
}

/**
 * The block's parse of one WQE (what the RTL computes in the retire cycle): the m_wr header
 * fields and 128-byte payload, or the m_err reason.
 */
export function parseWqe(d: Uint8Array, kind: number, owner: number): { header: WrHeaderFields; payload: Uint8Array } | { reason: number; opcode: number } {
  const payload = new Uint8Array(WQE_STRIDE);
  const header: WrHeaderFields = { opcode: 0, flags: 0, nsge: 0, inlineBytes: 0, imm: 0, raddr: 0n, rkey: 0, swapAdd: 0n, compare: 0n };
  if (kind === 1) {
    let n = 0;
    for (; n < WQE_STRIDE / 16; n++) {
      if (DataSeg.get(d, n * 16, "lkey") === INVALID_LKEY) break;
      if (DataSeg.get(d, n * 16, "byteCount") >= INLINE_SEG_BIT) return { reason: WqeError.badSegment, opcode: 0 };
    }
    header.nsge = n;
    payload.set(d.subarray(0, n * 16));
    return { header, payload };
  }
  const opcode = CtrlSeg.get(d, 0, "opcode");
  if (CtrlSeg.get(d, 0, "owner") !== owner) return { reason: WqeError.staleOwner, opcode };
  const fixed = fixedUnits(opcode);
  if (fixed === undefined) return { reason: WqeError.badOpcode, opcode };
  const size = CtrlSeg.get(d, 0, "size");
  if (size < fixed || size > WQE_STRIDE / 16) return { reason: WqeError.badSize, opcode };
  const info = OPCODE_INFO[opcode];
  header.opcode = opcode;
  header.imm = CtrlSeg.get(d, 0, "imm");
  header.flags =
    (CtrlSeg.get(d, 0, "cqUpdate") !== 0 ? WrFlag.signalled : 0) |
    (CtrlSeg.get(d, 0, "solicited") ? WrFlag.solicited : 0) |
    (CtrlSeg.get(d, 0, "fence") ? WrFlag.fence : 0);
  if (info.raddr) {
    header.raddr = getU64(d, 16);
    header.rkey = be32(d, 24);
  }
  if (info.atomic) {
    header.swapAdd = getU64(d, 32);
    header.compare = getU64(d, 40);
  }
  const off = fixed * 16;
  const end = size * 16;
  if (off < end && be32(d, off) >= INLINE_SEG_BIT) {
    const n = be32(d, off) - INLINE_SEG_BIT;
    if (off + 4 + n > end) return { reason: WqeError.badSegment, opcode };
    header.flags |= WrFlag.inline;
    header.inlineBytes = n;
    payload.set(d.subarray(off + 4, off + 4 + n));
    return { header, payload };
  }
  for (let o = off; o < end; o += 16) if (be32(d, o) >= INLINE_SEG_BIT) return { reason: WqeError.badSegment, opcode };
  header.nsge = (end - off) / 16;
  payload.set(d.subarray(off, end));
  return { header, payload };
}

function be32(d: Uint8Array, o: number): number {
  return d[o] * 0x100_0000 + ((d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]);
}
function getU64(d: Uint8Array, o: number): bigint {
  return (BigInt(be32(d, o)) << 32n) | BigInt(be32(d, o + 4));
}
