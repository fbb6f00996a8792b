/**
 * Traffic for the wqe_fetch block, open loop: ring configuration, fetch requests (the
 * doorbell block's FetchRequest) and, because the harness does not feed the block's DMA
 * reads back, the DMA completions too. The block issues one read per WQE, in fetch order,
 * with tag = (read number) mod TAGS; so the generator knows read n's tag and bytes. Each
 * completion is offered `latency` cycles after the earliest cycle its read could have been
 * issued, and completions are shuffled inside aligned windows of TAGS reads (out of order
 * across tags, in order per tag). The block buffers a completion by tag whether it arrives
 * before or after its read is issued, and holds s_dma_cpl when that tag's buffer is full.
 *
 * The oracle: the expected work request or error of every WQE, computed with the formats'
 * own parseSendWqe / parseRecvWqe (not the twin's parser).
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import {
  CtrlSeg,
  encodeRecvWqe,
  encodeSendWqe,
  ownerBitOf,
  parseRecvWqe,
  parseSendWqe,
  WqeOpcode,
  type SendWr,
  type Sge,
} from "../../hca/formats/wqe.ts";
import { DmaCompletion, FetchRequest, WQE_FETCH_DEFAULTS, WqeRingCfg, type WqeFetchParams } from "../../hca/wqe-fetch/index.ts";

export interface WqeFetchTrafficConfig {
  seed: number;
  params?: Partial<WqeFetchParams>;
  qps?: number;
  fetches: number;
  /** share of WQEs written with a stale owner bit */
  stale?: number;
  /** share of malformed WQEs (bad opcode, size, inline overrun) */
  malformed?: number;
  /** DMA read latency [cycles] */
  latency?: number;
}

export type ExpectedWqe =
  | { qpn: number; kind: number; index: number; ok: true; opcode: number; flags: number; imm: number; raddr: bigint; rkey: number; swapAdd: bigint; compare: bigint; sgl: Sge[]; inline?: Uint8Array }
  | { qpn: number; kind: number; index: number; ok: false; reason: number };

export interface WqeFetchTraffic {
  params: WqeFetchParams;
  cfg: StreamTransaction[];
  fetch: StreamTransaction[];
  cpl: StreamTransaction[];
  /** per WQE read, in read order */
  expected: ExpectedWqe[];
  counts: { wrs: number; staleOwner: number; malformed: number };
}

const OPS = [WqeOpcode.SEND, WqeOpcode.SEND_IMM, WqeOpcode.RDMA_WRITE, WqeOpcode.RDMA_WRITE_IMM, WqeOpcode.RDMA_READ, WqeOpcode.ATOMIC_CS, WqeOpcode.ATOMIC_FA, WqeOpcode.NOP];

export function generateWqeFetchTraffic(config: WqeFetchTrafficConfig): WqeFetchTraffic {
  const params: WqeFetchParams = { ...WQE_FETCH_DEFAULTS, ...config.params };
  const rng = new Prng(config.seed);
  const T = params.tags;
  const latency = config.latency ?? 40;
  const stale = config.stale ?? 0.05;
  const malformed = config.malformed ?? 0.04;
  const nq = Math.min(config.qps ?? 8, params.qpEntries);
  const big = (): bigint => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());

  const rings: { qpn: number; kind: number; logSize: number; base: bigint; pi: number }[] = [];
  const cfg: StreamTransaction[] = [];
  let cycle = 0;
  for (let i = 0; i < nq; i++) {
    const qpn = rng.int(0, params.qpEntries - 1);
    if (rings.some((r) => r.qpn === qpn)) continue;
    for (const kind of [0, 1]) {
      const logSize = rng.int(2, 5);
      const base = (big() & ~0xfffn) | BigInt(rng.int(0, 15) * 128);
      const pi = rng.int(0, 0xffff);
      rings.push({ qpn, kind, logSize, base, pi });
      cfg.push({ data: WqeRingCfg.encode({ qpn, kind, logSize, ci: pi, base }), user: {}, startCycle: cycle, endCycle: cycle });
      cycle++;
    }
  }
  const sgl = (n: number): Sge[] => Array.from({ length: n }, () => ({ addr: big(), length: rng.int(0, 0x7fff_ffff), lkey: rng.u32() === INVALID ? 1 : rng.int(0x200, 0xffff_ffff) }));
  const expected: ExpectedWqe[] = [];
  const reads: { data: Uint8Array; earliest: number }[] = [];
  const fetch: StreamTransaction[] = [];
  const counts = { wrs: 0, staleOwner: 0, malformed: 0 };
  let t = cycle + 2;
  for (let f = 0; f < config.fetches; f++) {
    const r = rings[rng.int(0, rings.length - 1)];
    const n = rng.int(1, Math.min(6, 1 << r.logSize));
    for (let k = 0; k < n; k++) {
      const index = (r.pi + k) & 0xffff;
      let bytes: Uint8Array;
      if (r.kind === 1) {
        bytes = encodeRecvWqe(sgl(rng.int(0, 8)));
        if (rng.bool(malformed)) bytes[rng.int(0, 7) * 16] |= 0x80; // a data segment with the inline bit
      } else {
        const opcode = OPS[rng.int(0, OPS.length - 1)];
        const wr: SendWr = { opcode, signalled: rng.bool(), solicited: rng.bool(0.2), fence: rng.bool(0.1), imm: rng.u32(), raddr: big(), rkey: rng.u32(), swapAdd: big(), compare: big() };
        const fixed = opcode === WqeOpcode.ATOMIC_CS || opcode === WqeOpcode.ATOMIC_FA ? 3 : [WqeOpcode.RDMA_WRITE, WqeOpcode.RDMA_WRITE_IMM, WqeOpcode.RDMA_READ].includes(opcode as 8) ? 2 : 1;
        if (rng.bool(0.3) && opcode !== WqeOpcode.RDMA_READ) wr.inline = Uint8Array.from({ length: rng.int(0, (8 - fixed) * 16 - 4) }, () => rng.int(0, 255));
        else wr.sgl = sgl(rng.int(0, 8 - fixed));
        const owner = ownerBitOf(index, r.logSize) ^ (rng.bool(stale) ? 1 : 0);
        bytes = encodeSendWqe(wr, owner);
        // garbage after the WQE's size, inside the stride: the block must ignore it
        const used = CtrlSeg.get(bytes, 0, "size") * 16;
        for (let b = used; b < bytes.length; b++) bytes[b] = rng.int(0, 255);
        if (rng.bool(malformed)) {
          const m = rng.int(0, 2);
          if (m === 0) CtrlSeg.set(bytes, 0, "opcode", [0x01, 0x0e, 0x1f, 0x15][rng.int(0, 3)]);
          else if (m === 1) CtrlSeg.set(bytes, 0, "size", rng.bool() ? 9 + rng.int(0, 54) : 0);
          else if (wr.inline !== undefined) CtrlSeg.set(bytes, 0, "size", fixed + Math.floor((4 + wr.inline.length) / 16) - (wr.inline.length % 16 === 12 ? 1 : 0));
        }
      }
      expected.push(oracle(r.qpn, r.kind, index, r.logSize, bytes, counts));
      reads.push({ data: bytes, earliest: t + 1 + k });
    }
    r.pi = (r.pi + n) & 0xffff;
    fetch.push({ data: FetchRequest.encode({ qpn: r.qpn, kind: r.kind, counter: r.pi }), user: {}, startCycle: t, endCycle: t });
    t += n + rng.int(0, 2);
  }
  // completions: read i carries tag i mod T; shuffled inside windows of T reads
  const cpl: StreamTransaction[] = [];
  for (let w = 0; w < reads.length; w += T) {
    const idx = Array.from({ length: Math.min(T, reads.length - w) }, (_, i) => w + i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx) {
      const start = Math.max(reads[i].earliest + latency + rng.int(-Math.floor(latency / 2), Math.floor(latency / 2)), cpl.at(-1)?.startCycle ?? 0);
      const data = new Uint8Array(DmaCompletion.sizeBytes);
      DmaCompletion.set(data, 0, "tag", i % T);
      data.set(reads[i].data, 8);
      cpl.push({ data, user: {}, startCycle: start, endCycle: start });
    }
  }
  return { params, cfg, fetch, cpl, expected, counts };
}

const INVALID = 0x100;

function oracle(qpn: number, kind: number, index: number, logSize: number, bytes: Uint8Array, counts: WqeFetchTraffic["counts"]): ExpectedWqe {
  if (kind === 1) {
    const p = parseRecvWqe(bytes);
    if ("error" in p) {
      counts.malformed++;
      return { qpn, kind, index, ok: false, reason: p.error };
    }
    counts.wrs++;
    return { qpn, kind, index, ok: true, opcode: 0, flags: 0, imm: 0, raddr: 0n, rkey: 0, swapAdd: 0n, compare: 0n, sgl: p };
  }
  const p = parseSendWqe(bytes, ownerBitOf(index, logSize));
  if ("error" in p) {
    if (p.error === 1) counts.staleOwner++;
    else counts.malformed++;
    return { qpn, kind, index, ok: false, reason: p.error };
  }
  counts.wrs++;
  const flags = (p.signalled ? 1 : 0) | (p.solicited ? 2 : 0) | (p.fence ? 4 : 0) | (p.inline ? 8 : 0);
  return { qpn, kind, index, ok: true, opcode: p.opcode, flags, imm: p.imm, raddr: p.raddr, rkey: p.rkey, swapAdd: p.swapAdd, compare: p.compare, sgl: p.sgl, ...(p.inline ? { inline: p.inline } : {}) };
}

export function* wqeFetchStimulus(t: WqeFetchTraffic): Generator<{ port: string; txn: StreamTransaction }> {
  for (const txn of t.cfg) yield { port: "s_cfg", txn };
  for (const txn of t.fetch) yield { port: "s_fetch", txn };
  for (const txn of t.cpl) yield { port: "s_dma_cpl", txn };
}
