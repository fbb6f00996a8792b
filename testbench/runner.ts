/**
 * Runs a scenario: builds the block's RTL (cached), starts it, drives the same traffic
 * into the RTL and the TypeScript twin in lockstep, and applies the checks.
 */
import type { BlockTwin, StreamTransaction } from "../core/block.ts";
import {
  buildBlock,
  loadBlockManifest,
  outputReady,
  resolveBlock,
  RtlProcess,
  runLockstep,
  Scoreboard,
  stimulusTransactions,
  UserError,
  type LockstepProgress,
  type StimulusInput,
  type LockstepResult,
  type ResolvedBlock,
  type ScoreboardReport,
} from "../cosim/index.ts";
import { createTwin } from "./blocks.ts";
import { CaptureSet } from "./capture.ts";
import type { StatusCheckReport } from "./checks.ts";
import type { DoorbellOracleReport } from "./doorbell-oracle.ts";
import type { LineRateReport } from "./line-rate.ts";
import type { TptOracleReport } from "./tpt-oracle.ts";
import type { WqeFetchOracleReport } from "./wqe-fetch-oracle.ts";
import { createPlan } from "./plans.ts";
import type { Scenario } from "./scenario.ts";

export interface RunOptions {
  /** build the traced RTL and write a VCD waveform here */
  tracePath?: string;
  /** defect-injection defines for the RTL build */
  defects?: string[];
  /** write one capture per stream into this folder */
  pcapDir?: string;
  log?: (line: string) => void;
  onProgress?: (p: LockstepProgress & { totalInputs: number }) => void;
}

export interface RunResult {
  scenario: string;
  seed: number;
  block: { name: string; params: Record<string, number>; clockMhz: number; rtl: boolean; endpoint?: string; build?: { key: string; cached: boolean; seconds: number; defects: string[] } };
  lockstep?: LockstepResult;
  modelOnly?: { cycles: number; wallSeconds: number; transactions: number };
  scoreboard?: ScoreboardReport;
  status?: StatusCheckReport;
  lineRate?: LineRateReport;
  doorbells?: DoorbellOracleReport;
  tpt?: TptOracleReport;
  wqe?: WqeFetchOracleReport;
  /** output transactions and bytes, and the cycles of the first and last */
  outputs: { transactions: number; bytes: number; firstCycle: number; lastCycle: number };
  captures?: { path: string; packets: number }[];
  verdict: "PASS" | "FAIL";
  failures: string[];
}

/** Wraps a twin so the run sees every output transaction the model produces. */
class ObservedTwin implements BlockTwin {
  constructor(
    private readonly inner: BlockTwin,
    private readonly observe: (port: string, t: StreamTransaction) => void,
  ) {}
  get block(): string {
    return this.inner.block;
  }
  offer(port: string, txn: StreamTransaction): void {
    this.inner.offer(port, txn);
  }
  runUntil(cycle: number): void {
    this.inner.runUntil(cycle);
  }
  take(port: string): StreamTransaction[] {
    const out = this.inner.take(port);
    for (const t of out) this.observe(port, t);
    return out;
  }
  wires(): Record<string, number> {
    return this.inner.wires?.() ?? {};
  }
}

export async function runScenario(sc: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => undefined);
  const manifest = loadBlockManifest(sc.block.name);
  const block: ResolvedBlock = resolveBlock(manifest, sc.block.params);
  const clockMhz = sc.block.clockMhz ?? manifest.clock.mhz;
  const plan = createPlan(sc, block, clockMhz);
  const capture = opts.pcapDir ? new CaptureSet(opts.pcapDir, block, 1e6 / clockMhz) : undefined;

  const outputs = { transactions: 0, bytes: 0, firstCycle: Infinity, lastCycle: 0 };
  const seeOutput = (port: string, t: StreamTransaction) => {
    outputs.transactions++;
    outputs.bytes += t.data.length;
    if (t.startCycle < outputs.firstCycle) outputs.firstCycle = t.startCycle;
    if (t.endCycle > outputs.lastCycle) outputs.lastCycle = t.endCycle;
    plan.output(port, t);
    capture?.add(port, t, t.endCycle);
  };
  const rtlRuns = sc.block.rtl;
  const model = await createTwin(block, { outputReady: sc.cosim.outReadyPercent < 100 ? (port) => outputReady(sc.seed, sc.cosim.outReadyPercent, port) : undefined });
  plan.observeTwin?.(model);
  // with the RTL running, the RTL's outputs are the ones seen (onRtlOutput) and the twin runs bare
  const twin: BlockTwin = rtlRuns ? model : new ObservedTwin(model, seeOutput);
  const userNames = new Map(block.streams.map((s) => [s.name, s.user.map((f) => f.name)]));
  function* stimulus(): Generator<StimulusInput> {
    for (const item of plan.stimulus()) {
      if (capture) for (const t of stimulusTransactions(item, userNames.get(item.port))) capture.add(item.port, t, t.startCycle);
      yield item;
    }
  }

  const result: RunResult = {
    scenario: sc.name,
    seed: sc.seed,
    block: { name: manifest.block, params: block.params, clockMhz, rtl: rtlRuns },
    outputs,
    verdict: "PASS",
    failures: [],
  };

  let wires: Record<string, number> = {};
  try {
    if (!rtlRuns) {
      const t0 = performance.now();
      let n = 0;
      let cycle = 0;
      const outPorts = block.streams.filter((p) => p.direction === "out").map((p) => p.name);
      const drain = () => { for (const p of outPorts) twin.take(p); };
      for (const item of stimulus()) {
        for (const t of stimulusTransactions(item, userNames.get(item.port))) {
          twin.offer(item.port, t);
          n++;
          if (n % 1024 === 0) {
            cycle = Math.max(cycle, t.startCycle);
            twin.runUntil(cycle);
            drain();
          }
        }
      }
      // let everything drain
      let last = -1;
      while (outputs.transactions !== last) {
        last = outputs.transactions;
        cycle += 1 << 16;
        twin.runUntil(cycle);
        drain();
      }
      wires = twin.wires?.() ?? {};
      result.modelOnly = { cycles: outputs.lastCycle + 1, wallSeconds: (performance.now() - t0) / 1000, transactions: n };
    } else {
      let rtl: RtlProcess;
      if (sc.block.endpoint) {
        if (opts.tracePath || opts.defects?.length) throw new UserError(`--trace and --defect apply to a local build; block ${manifest.block} runs on ${sc.block.endpoint} (give them to hcasim rtl-server there)`);
        log(`rtl ${manifest.block}: connecting to ${sc.block.endpoint}`);
        rtl = await RtlProcess.connect(block, sc.block.endpoint, { timeoutMs: sc.cosim.timeoutMs });
        result.block.endpoint = sc.block.endpoint;
      } else {
        const built = await buildBlock(block, { trace: opts.tracePath !== undefined, defines: opts.defects, log });
        result.block.build = { key: built.key, cached: built.cached, seconds: built.seconds, defects: built.defines };
        rtl = await RtlProcess.start(built, { timeoutMs: sc.cosim.timeoutMs, tracePath: opts.tracePath });
      }
      const scoreboard = new Scoreboard(block, sc.checks.includes("timing"));
      try {
        result.lockstep = await runLockstep({
          rtl,
          twin,
          scoreboard,
          stimulus: stimulus(),
          quantumCycles: sc.cosim.quantumCycles,
          outReadyPercent: sc.cosim.outReadyPercent,
          seed: sc.seed,
          onProgress: (p) => opts.onProgress?.({ ...p, totalInputs: plan.totalInputs }),
          onRtlOutput: (port, txns) => { for (const t of txns) seeOutput(port, t); },
        });
        await rtl.close();
      } catch (e) {
        await rtl.kill();
        result.scoreboard = scoreboard.report();
        throw Object.assign(e as Error, { partialResult: result });
      }
      result.scoreboard = scoreboard.report();
      wires = result.lockstep.rtlWires;
      if (result.scoreboard.timing === "fail") result.failures.push("timing outside the block's tolerance");
    }
  } finally {
    if (capture) result.captures = capture.close();
  }
  const planned = plan.finish(wires);
  if (planned.status) result.status = planned.status;
  if (planned.lineRate) result.lineRate = planned.lineRate;
  if (planned.doorbells) result.doorbells = planned.doorbells;
  if (planned.tpt) result.tpt = planned.tpt;
  if (planned.wqe) result.wqe = planned.wqe;
  result.failures.push(...planned.failures);
  if (result.failures.length) result.verdict = "FAIL";
  return result;
}
