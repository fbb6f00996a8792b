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
 * Adversarial fetches (no new WQE, or a QPN beyond the block's table) must issue no read.
 * One send queue starts a few WQEs before its 16-bit producer counter wraps.
 *
 * The oracle: the expected work request or error of every WQE, computed with the formats'
 * own parseSendWqe / parseRecvWqe (not the twin's parser), the address of every read, and
 * the figures of what was exercised (counts).
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import {
  CtrlSeg,
  encodeRecvWqe,
  encodeSendWqe,
  fixedUnits,
  isMaskedAtomic,
  ownerBitOf,
  parseRecvWqe,
  parseSendWqe,
  WQE_BB_BYTES,
  WQE_STRIDE,
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
  /** DMA read latency [cycles]; each completion is jittered by ± half of it */
  latency?: number;
  /** most idle cycles between one fetch's WQEs and the next fetch */
  gapMax?: number;
  /** share of fetches that must issue no read: a counter equal to the ring's (nothing new) or a QPN beyond the table */
  adversarial?: number;
  /** most WQEs one fetch asks for (also capped by the ring size) */
  maxWqesPerFetch?: number;
}

export type ExpectedWqe =
  | {
      qpn: number; kind: number; index: number; ok: true; opcode: number; flags: number; imm: number; raddr: bigint; rkey: number;
      swapAdd: bigint; compare: bigint; swapMask: bigint; compareMask: bigint; sgl: Sge[]; inline?: Uint8Array;
    }
  | { qpn: number; kind: number; index: number; ok: false; reason: number };

export interface WqeRing {
  qpn: number;
  kind: number;
  logSize: number;
  base: bigint;
}

export interface WqeFetchCounts {
  wrs: number;
  staleOwner: number;
  malformed: number;
  /** send WQEs carrying inline data */
  inline: number;
  /** WQEs with two or more SGEs */
  multiSge: number;
  /** WQEs whose segments reach into the second 64-byte basic block */
  spanning: number;
  /** WQEs at slot 0 of their ring: a new lap, the owner bit flips */
  ringWraps: number;
  /** WQEs at producer counter 0: the 16-bit counter wrapped */
  counterWraps: number;
  /** fetches that must issue no read: nothing new on the ring / a QPN beyond the table */
  emptyFetches: number;
  foreignFetches: number;
  /** completions offered ahead of an earlier read's completion */
  outOfOrderCompletions: number;
}

export interface WqeFetchTraffic {
  params: WqeFetchParams;
  rings: WqeRing[];
  cfg: StreamTransaction[];
  fetch: StreamTransaction[];
  cpl: StreamTransaction[];
  /** per WQE read, in read order */
  expected: ExpectedWqe[];
  /** per WQE read, in read order: where the WQE lies in host memory */
  reads: { addr: bigint }[];
  counts: WqeFetchCounts;
}

const OPS = [
  WqeOpcode.SEND, WqeOpcode.SEND_IMM, WqeOpcode.SEND_INV, WqeOpcode.RDMA_WRITE, WqeOpcode.RDMA_WRITE_IMM, WqeOpcode.RDMA_READ,
  WqeOpcode.ATOMIC_CS, WqeOpcode.ATOMIC_FA, WqeOpcode.MASKED_ATOMIC_CS, WqeOpcode.MASKED_ATOMIC_FA, WqeOpcode.NOP,
];
/** ctrl opcodes that are not in the table (a malformed WQE's) */
const BAD_OPCODES = [0x01, 0x0e, 0x13, 0x1f];

export function generateWqeFetchTraffic(config: WqeFetchTrafficConfig): WqeFetchTraffic {
  const params: WqeFetchParams = { ...WQE_FETCH_DEFAULTS, ...config.params };
  const rng = new Prng(config.seed);
  const T = params.tags;
  const latency = config.latency ?? 40;
  const stale = config.stale ?? 0.05;
  const malformed = config.malformed ?? 0.04;
  const nq = Math.min(config.qps ?? 8, params.qpEntries);
  const gapMax = config.gapMax ?? 2;
  const adversarial = config.adversarial ?? 0;
  const maxWqes = config.maxWqesPerFetch ?? 6;
  const big = (): bigint => (BigInt(rng.u32()) << 32n) | BigInt(rng.u32());

  // nq distinct QPNs of the table, each with a send and a receive ring
  const qpns = Array.from({ length: params.qpEntries }, (_, i) => i);
  for (let i = qpns.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [qpns[i], qpns[j]] = [qpns[j], qpns[i]];
  }
  const rings: (WqeRing & { pi: number })[] = [];
  const cfg: StreamTransaction[] = [];
  let cycle = 0;
  for (const qpn of qpns.slice(0, nq)) {
    for (const kind of [0, 1]) {
      const logSize = rng.int(2, 5);
      const base = (big() & ~0xfffn) | BigInt(rng.int(0, 15) * 128);
      const pi = rings.length === 0 ? 0x1_0000 - rng.int(1, 8) : rng.int(0, 0xffff);
      rings.push({ qpn, kind, logSize, base, pi });
      cfg.push({ data: WqeRingCfg.encode({ qpn, kind, logSize, ci: pi, base }), user: {}, startCycle: cycle, endCycle: cycle });
      cycle++;
    }
  }
  const sgl = (n: number): Sge[] => Array.from({ length: n }, () => ({ addr: big(), length: rng.int(0, 0x7fff_ffff), lkey: rng.u32() === INVALID ? 1 : rng.int(0x200, 0xffff_ffff) }));
  const expected: ExpectedWqe[] = [];
  const reads: { data: Uint8Array; earliest: number }[] = [];
  const fetch: StreamTransaction[] = [];
  const counts: WqeFetchCounts = { wrs: 0, staleOwner: 0, malformed: 0, inline: 0, multiSge: 0, spanning: 0, ringWraps: 0, counterWraps: 0, emptyFetches: 0, foreignFetches: 0, outOfOrderCompletions: 0 };
  const readAddrs: { addr: bigint }[] = [];
  let t = cycle + 2;
  for (let f = 0; f < config.fetches; f++) {
    const r = rings[rng.int(0, rings.length - 1)];
    if (adversarial > 0 && rng.bool(adversarial)) {
      // a fetch the block must take without issuing a read
      const foreign = params.qpEntries < 0x100_0000 && rng.bool();
      const qpn = foreign ? rng.int(params.qpEntries, 0xff_ffff) : r.qpn;
      if (foreign) counts.foreignFetches++;
      else counts.emptyFetches++;
      fetch.push({ data: fetchRecord(qpn, r.kind, r.pi), user: {}, startCycle: t, endCycle: t });
      t += 1 + rng.int(0, gapMax);
      continue;
    }
    const n = rng.int(1, Math.min(maxWqes, 1 << r.logSize));
    for (let k = 0; k < n; k++) {
      const index = (r.pi + k) & 0xffff;
      const slot = index & ((1 << r.logSize) - 1);
      if (slot === 0) counts.ringWraps++;
      if (index === 0) counts.counterWraps++;
      readAddrs.push({ addr: (r.base + BigInt(slot * WQE_STRIDE)) & 0xffff_ffff_ffff_ffffn });
      let bytes: Uint8Array;
      if (r.kind === 1) {
        bytes = encodeRecvWqe(sgl(rng.int(0, 8)));
        if (rng.bool(malformed)) bytes[rng.int(0, 7) * 16] |= 0x80; // a data segment with the inline bit
      } else {
        const opcode = OPS[rng.int(0, OPS.length - 1)];
        const wr: SendWr = {
          opcode, signalled: rng.bool(), solicited: rng.bool(0.2), fence: rng.bool(0.1), imm: rng.u32(), raddr: big(), rkey: rng.u32(),
          swapAdd: big(), compare: big(), swapMask: big(), compareMask: big(),
        };
        const fixed = fixedUnits(opcode)!;
        if (isMaskedAtomic(opcode)) {
          wr.sgl = sgl(1); // mlx4: exactly one data segment
        } else if (rng.bool(0.3) && opcode !== WqeOpcode.RDMA_READ) {
          wr.inline = new Uint8Array(rng.int(0, (8 - fixed) * 16 - 4));
          for (let b = 0; b < wr.inline.length; b++) wr.inline[b] = rng.int(0, 255);
        } else {
          wr.sgl = sgl(rng.int(0, 8 - fixed));
        }
        const owner = ownerBitOf(index, r.logSize) ^ (rng.bool(stale) ? 1 : 0);
        bytes = encodeSendWqe(wr, owner);
        // garbage after the WQE's size, inside the stride: the block must ignore it
        const used = CtrlSeg.get(bytes, 0, "size") * 16;
        for (let b = used; b < bytes.length; b++) bytes[b] = rng.int(0, 255);
        if (rng.bool(malformed)) {
          const m = rng.int(0, 2);
          if (m === 0) CtrlSeg.set(bytes, 0, "opcode", BAD_OPCODES[rng.int(0, BAD_OPCODES.length - 1)]);
          else if (m === 1) CtrlSeg.set(bytes, 0, "size", rng.bool() ? 9 + rng.int(0, 54) : 0);
          else if (wr.inline !== undefined) CtrlSeg.set(bytes, 0, "size", fixed + Math.floor((4 + wr.inline.length) / 16) - (wr.inline.length % 16 === 12 ? 1 : 0));
        }
      }
      const e = oracle(r.qpn, r.kind, index, r.logSize, bytes, counts);
      expected.push(e);
      if (e.ok) {
        if (e.inline) counts.inline++;
        if (e.sgl.length >= 2) counts.multiSge++;
        // the last byte the block must look at: ctrl size (send) or the scatter list and its end marker (receive)
        const used = r.kind === 0 ? CtrlSeg.get(bytes, 0, "size") * 16 : Math.min(WQE_STRIDE, (e.sgl.length + 1) * 16);
        if (used > WQE_BB_BYTES) counts.spanning++;
      }
      reads.push({ data: bytes, earliest: t + 1 + k });
    }
    r.pi = (r.pi + n) & 0xffff;
    fetch.push({ data: fetchRecord(r.qpn, r.kind, r.pi), user: {}, startCycle: t, endCycle: t });
    t += n + rng.int(0, gapMax);
  }
  // completions: read i carries tag i mod T; shuffled inside windows of T reads. Their
  // records share one buffer, in the order they are offered: one allocation instead of one
  // per completion, and the consumers read them sequentially.
  const cpl: StreamTransaction[] = [];
  const cplBytes = new Uint8Array(reads.length * DmaCompletion.sizeBytes);
  const cplRead: number[] = [];
  for (let w = 0; w < reads.length; w += T) {
    const idx = Array.from({ length: Math.min(T, reads.length - w) }, (_, i) => w + i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    for (const i of idx) {
      const start = Math.max(reads[i].earliest + latency + rng.int(-Math.floor(latency / 2), Math.floor(latency / 2)), cpl.at(-1)?.startCycle ?? 0);
      const data = cplBytes.subarray(cpl.length * DmaCompletion.sizeBytes, (cpl.length + 1) * DmaCompletion.sizeBytes);
      DmaCompletion.set(data, 0, "tag", i % T);
      data.set(reads[i].data, CPL_DATA);
      cpl.push({ data, user: {}, startCycle: start, endCycle: start });
      cplRead.push(i);
    }
  }
  let laterMin = Infinity;
  for (let k = cplRead.length - 1; k >= 0; k--) {
    if (cplRead[k] > laterMin) counts.outOfOrderCompletions++;
    laterMin = Math.min(laterMin, cplRead[k]);
  }
  return { params, rings: rings.map(({ qpn, kind, logSize, base }) => ({ qpn, kind, logSize, base })), cfg, fetch, cpl, expected, reads: readAddrs, counts };
}

const INVALID = 0x100;
const CPL_DATA = DmaCompletion.field("data").byteOffset;
const fetchFields = FetchRequest.codec(["qpn", "kind", "counter"]);

/** an s_fetch record (the doorbell block's FetchRequest; the fields the block ignores zero) */
function fetchRecord(qpn: number, kind: number, counter: number): Uint8Array {
  const b = new Uint8Array(FetchRequest.sizeBytes);
  fetchFields.write(b, 0, [qpn, kind, counter]);
  return b;
}

function oracle(qpn: number, kind: number, index: number, logSize: number, bytes: Uint8Array, counts: WqeFetchCounts): ExpectedWqe {
  if (kind === 1) {
    const p = parseRecvWqe(bytes);
    if ("error" in p) {
      counts.malformed++;
      return { qpn, kind, index, ok: false, reason: p.error };
    }
    counts.wrs++;
    return { qpn, kind, index, ok: true, opcode: 0, flags: 0, imm: 0, raddr: 0n, rkey: 0, swapAdd: 0n, compare: 0n, swapMask: 0n, compareMask: 0n, sgl: p };
  }
  const p = parseSendWqe(bytes, ownerBitOf(index, logSize));
  if ("error" in p) {
    if (p.error === 1) counts.staleOwner++;
    else counts.malformed++;
    return { qpn, kind, index, ok: false, reason: p.error };
  }
  counts.wrs++;
  const flags = (p.signalled ? 1 : 0) | (p.solicited ? 2 : 0) | (p.fence ? 4 : 0) | (p.inline ? 8 : 0);
  return {
    qpn, kind, index, ok: true, opcode: p.opcode, flags, imm: p.imm, raddr: p.raddr, rkey: p.rkey,
    swapAdd: p.swapAdd, compare: p.compare, swapMask: p.swapMask, compareMask: p.compareMask, sgl: p.sgl, ...(p.inline ? { inline: p.inline } : {}),
  };
}

/** The input transactions of all three ports, merged in startCycle order (each port's list is already in order). */
export function* wqeFetchStimulus(t: WqeFetchTraffic): Generator<{ port: string; txn: StreamTransaction }> {
  const lists: [string, StreamTransaction[]][] = [["s_cfg", t.cfg], ["s_fetch", t.fetch], ["s_dma_cpl", t.cpl]];
  const at = [0, 0, 0];
  for (;;) {
    let best = -1;
    for (let p = 0; p < lists.length; p++) {
      const txn = lists[p][1][at[p]];
      if (txn !== undefined && (best < 0 || txn.startCycle < lists[best][1][at[best]].startCycle)) best = p;
    }
    if (best < 0) return;
    yield { port: lists[best][0], txn: lists[best][1][at[best]++] };
  }
}
