/**
 * The pipeline stages of the bring-up, open loop: each stage's RTL runs in lockstep with its
 * twin on a stimulus derived from the previous stage's outputs (the RTL's, which the
 * scoreboard has just proven equal to the twin's), plus its share of the recorded
 * configuration transactions.
 *
 *   doorbell   s_cfg: QP/CQ ownership            s_mmio: the driver's UAR stores
 *   wqe_fetch  s_cfg: the QPs' rings             s_fetch: doorbell m_fetch
 *              s_dma_cpl: each WQE read served from host memory (see wqeFetchStimulus)
 *   tpt        s_cfg: MPT and MTT writes         s_req: one lookup per SGE of wqe_fetch m_wr
 *
 * Time. Each stage has its own timeline, cut into the host's epochs: an epoch's
 * configuration transactions first (one per cycle), then its data at the times the previous
 * stage produced them (shifted as a whole, so the traffic's shape is kept), then a quiet
 * gap long enough for everything in flight to leave before the next epoch's configuration.
 * An output belongs to the epoch whose window it ends in.
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import {
  buildBlock, loadBlockManifest, MismatchError, resolveBlock, RtlProcess, RunFailure, runLockstep, Scoreboard,
  type LockstepResult, type ResolvedBlock, type ScoreboardReport, type StimulusItem,
} from "../../cosim/index.ts";
import { CONFIG_PORT, type ConfigBlock } from "../../firmware/device-config.ts";
import { FetchRequest } from "../../hca/doorbell/formats.ts";
import { Access, DataSeg, WQE_STRIDE, WqeOpcode } from "../../hca/formats/index.ts";
import { encodeRequest } from "../../hca/tpt/tpt-format.ts";
import { DmaCompletion, WorkRequest, WqeRingCfg, WR_HEADER_BYTES } from "../../hca/wqe-fetch/formats.ts";
import { createTwin } from "../blocks.ts";
import type { HostRun } from "./host.ts";
import type { RecordedTxn } from "./recording-bus.ts";
import type { BringupStageName, BringupStageSpec } from "./scenario.ts";

// ---- the epoch schedule ------------------------------------------------------------------

/** a data transaction at its natural time (from the host, or the previous stage's output) */
export interface TimedInput {
  readonly port: string;
  readonly data: Uint8Array;
  readonly epoch: number;
  /** cycle in the source's timeline; only differences within an epoch matter */
  readonly natural: number;
}

export interface StageStimulus {
  readonly items: StimulusItem[];
  /** windows[e]: first cycle of epoch e; windows[epochs]: end of the last */
  readonly windows: readonly number[];
}

/** quiet cycles after an epoch's last input, before the next epoch's configuration */
const EPOCH_GAP = 8192;

export function schedule(config: readonly RecordedTxn[], data: readonly TimedInput[], epochs: number): StageStimulus {
  const items: StimulusItem[] = [];
  const windows: number[] = [];
  const at = (port: string, data: Uint8Array, cycle: number) => items.push({ port, txn: { data, user: {}, startCycle: cycle, endCycle: cycle } });
  let t = 0;
  for (let e = 0; e < epochs; e++) {
    windows.push(t);
    for (const c of config) if (c.epoch === e) at(CONFIG_PORT, c.data, t++);
    t += 2; // a configuration write is seen from the cycle after it
    const mine = data.filter((d) => d.epoch === e);
    if (mine.length) {
      const base = Math.min(...mine.map((d) => d.natural));
      let last = t;
      for (const d of mine) {
        const c = t + d.natural - base;
        at(d.port, d.data, c);
        last = Math.max(last, c);
      }
      t = last + 1;
    }
    t += EPOCH_GAP + 8 * mine.length;
  }
  windows.push(t);
  // per port in order; across ports by cycle (a stable sort keeps each port's order on ties)
  items.sort((a, b) => a.txn.startCycle - b.txn.startCycle);
  return { items, windows };
}

/** the epoch whose window holds `cycle` */
export function epochOf(windows: readonly number[], cycle: number): number {
  let e = 0;
  while (e + 1 < windows.length - 1 && windows[e + 1]! <= cycle) e++;
  return e;
}

const configOf = (run: HostRun, block: ConfigBlock) => run.config.filter((c) => c.block === block);

// ---- the stages' stimulus ------------------------------------------------------------------

export function doorbellStimulus(run: HostRun, clockMhz: number): StageStimulus {
  const psPerCycle = 1e6 / clockMhz;
  const data = run.doorbells.map((d): TimedInput => ({ port: "s_mmio", data: d.record, epoch: d.epoch, natural: Math.floor(d.deliveredPs / psPerCycle) }));
  return schedule(configOf(run, "doorbell"), data, run.epochs);
}

/** one WQE read the wqe_fetch block will issue, as the stimulus predicts it */
export interface PredictedRead {
  readonly tag: number;
  readonly addr: bigint;
  readonly qpn: number;
  readonly kind: number;
  readonly index: number;
}

/**
 * wqe_fetch's stimulus: the fetch requests, and — open loop — the DMA completions the host
 * would return. The block reads WQE ci..counter-1 of the ring per fetch, in fetch order,
 * and tags read n (since reset) n mod TAGS (hca/wqe-fetch/README.md), so every read's
 * address and tag is known from the fetches and the ring configuration alone. Each
 * completion carries the WQE bytes the driver left in host memory, `latency` cycles after
 * the earliest cycle its read could be issued, shuffled inside aligned windows of TAGS reads.
 */
export function wqeFetchStimulus(run: HostRun, fetches: readonly StreamTransaction[], doorbellWindows: readonly number[], tags: number, latency: number, seed: number): StageStimulus & { reads: PredictedRead[] } {
  const rings = new Map<string, { base: bigint; logSize: number; ci: number }>();
  const cfg = configOf(run, "wqe_fetch");
  const rng = new Prng(`${seed}:dma`);
  const data: TimedInput[] = [];
  const reads: (PredictedRead & { epoch: number; natural: number })[] = [];
  for (let e = 0; e < run.epochs; e++) {
    for (const c of cfg) {
      if (c.epoch !== e) continue;
      const r = WqeRingCfg.decode(c.data);
      rings.set(`${r.qpn}:${r.kind}`, { base: r.base, logSize: r.logSize, ci: r.ci });
    }
    for (const f of fetches) {
      if (epochOf(doorbellWindows, f.endCycle) !== e) continue;
      const natural = f.endCycle + 1;
      data.push({ port: "s_fetch", data: f.data, epoch: e, natural });
      const req = FetchRequest.decode(f.data);
      const ring = rings.get(`${req.qpn}:${req.kind}`);
      if (ring === undefined) continue;
      for (let k = 0; ring.ci !== req.counter; k++) {
        const addr = ring.base + BigInt((ring.ci % 2 ** ring.logSize) * WQE_STRIDE);
        reads.push({ tag: reads.length % tags, addr, qpn: req.qpn, kind: req.kind, index: ring.ci, epoch: e, natural: natural + 2 + k + latency });
        ring.ci = (ring.ci + 1) & 0xffff;
      }
    }
  }
  // out of order across tags, in order per tag: shuffle inside aligned windows of TAGS reads
  let last = -Infinity;
  for (let w = 0; w < reads.length; w += tags) {
    const idx = Array.from({ length: Math.min(tags, reads.length - w) }, (_, i) => w + i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    for (const i of idx) {
      const r = reads[i]!;
      const cpl = new Uint8Array(DmaCompletion.sizeBytes);
      DmaCompletion.set(cpl, 0, "tag", r.tag);
      DmaCompletion.setBytes(cpl, 0, "data", run.memory.read(r.addr, WQE_STRIDE, "dma"));
      last = Math.max(last, r.natural);
      data.push({ port: "s_dma_cpl", data: cpl, epoch: r.epoch, natural: last });
    }
  }
  return { ...schedule(cfg, data, run.epochs), reads: reads.map(({ tag, addr, qpn, kind, index }) => ({ tag, addr, qpn, kind, index })) };
}

/** one TPT lookup: which work request and SGE it checks */
export interface Lookup {
  readonly tag: number;
  readonly qpn: number;
  readonly kind: number;
  readonly index: number;
  readonly sge: number;
  readonly epoch: number;
}

/** tpt's stimulus: one lookup per SGE of every work request, with the QP's PD and the access the operation needs */
export function tptStimulus(run: HostRun, wrs: readonly StreamTransaction[], fetchWindows: readonly number[]): StageStimulus & { lookups: Lookup[] } {
  const data: TimedInput[] = [];
  const lookups: Lookup[] = [];
  for (const w of wrs) {
    const h = WorkRequest.decode(w.data);
    const epoch = epochOf(fetchWindows, w.endCycle);
    const pd = run.qpPd.get(h.qpn) ?? 0;
    // a receive, and an RDMA read's local buffers, are written: local write is needed; the rest is read
    const access = h.kind === 1 || h.opcode === WqeOpcode.RDMA_READ ? Access.localWrite : 0;
    for (let k = 0; k < h.nsge; k++) {
      const off = WR_HEADER_BYTES + 16 * k;
      const tag = lookups.length & 0xffff;
      const req = encodeRequest({ tag, access, key: DataSeg.get(w.data, off, "lkey"), pd, va: DataSeg.getBig(w.data, off, "addr"), len: DataSeg.get(w.data, off, "byteCount") });
      data.push({ port: "s_req", data: req, epoch, natural: w.endCycle + 1 });
      lookups.push({ tag, qpn: h.qpn, kind: h.kind, index: h.index, sge: k, epoch });
    }
  }
  return { ...schedule(configOf(run, "tpt"), data, run.epochs), lookups };
}

// ---- running a stage ----------------------------------------------------------------------

export interface StageResult {
  readonly name: BringupStageName;
  readonly block: ResolvedBlock;
  readonly rtl: boolean;
  build?: { key: string; cached: boolean; seconds: number; defects: string[] };
  /** input transactions per port */
  readonly inputs: Record<string, number>;
  /** output transactions per port (the RTL's when it ran) */
  readonly outputs: Record<string, StreamTransaction[]>;
  readonly windows: readonly number[];
  scoreboard?: ScoreboardReport;
  lockstep?: LockstepResult;
  /** model-only runs: cycles simulated and wall time */
  modelOnly?: { cycles: number; wallSeconds: number };
  /** why the stage failed (a mismatch, the RTL failing), if it did */
  failure?: string;
}

export interface StageOptions {
  readonly defects: readonly string[];
  readonly quantumCycles: number;
  readonly timeoutMs: number;
  readonly checkTiming: boolean;
  readonly log?: (line: string) => void;
}

export function stageBlock(spec: BringupStageSpec): ResolvedBlock {
  return resolveBlock(loadBlockManifest(spec.name), spec.params);
}

export async function runStage(spec: BringupStageSpec, block: ResolvedBlock, stim: StageStimulus, o: StageOptions): Promise<StageResult> {
  const inputs: Record<string, number> = {};
  for (const it of stim.items) inputs[it.port] = (inputs[it.port] ?? 0) + 1;
  const outPorts = block.streams.filter((s) => s.direction === "out").map((s) => s.name);
  const outputs: Record<string, StreamTransaction[]> = Object.fromEntries(outPorts.map((p) => [p, []]));
  const result: StageResult = { name: spec.name, block, rtl: spec.rtl, inputs, outputs, windows: stim.windows };
  const twin = await createTwin(block);
  if (!spec.rtl) {
    if (o.defects.length) throw new RunFailure(`stage ${spec.name}: a defect build needs the RTL (the stage runs its twin alone)`);
    const t0 = performance.now();
    for (const it of stim.items) twin.offer(it.port, it.txn);
    let cycle = (stim.items.at(-1)?.txn.startCycle ?? 0) + 1;
    for (let quiet = 0; quiet < 2; cycle += 1 << 16) {
      twin.runUntil(cycle);
      let n = 0;
      for (const p of outPorts) for (const t of twin.take(p)) { outputs[p]!.push(t); n++; }
      quiet = n === 0 ? quiet + 1 : 0;
    }
    result.modelOnly = { cycles: cycle, wallSeconds: (performance.now() - t0) / 1000 };
    return result;
  }
  const built = await buildBlock(block, { defines: [...o.defects], log: o.log });
  result.build = { key: built.key, cached: built.cached, seconds: built.seconds, defects: built.defines };
  const rtl = await RtlProcess.start(built, { timeoutMs: o.timeoutMs });
  const scoreboard = new Scoreboard(block, o.checkTiming);
  try {
    result.lockstep = await runLockstep({
      rtl, twin, scoreboard, stimulus: stim.items[Symbol.iterator](), quantumCycles: o.quantumCycles,
      // the records are views into a received frame: keep copies
      onRtlOutput: (port, txns) => { for (const t of txns) outputs[port]!.push({ ...t, data: t.data.slice() }); },
    });
    await rtl.close();
  } catch (e) {
    await rtl.kill();
    if (!(e instanceof RunFailure)) throw e;
    result.failure = e instanceof MismatchError ? e.report : e.message;
  }
  result.scoreboard = scoreboard.report();
  if (!result.failure && o.checkTiming && result.scoreboard.timing === "fail") result.failure = `stage ${spec.name}: timing outside the block's tolerance`;
  return result;
}
