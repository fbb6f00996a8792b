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
  RunFailure,
  Scoreboard,
  type LockstepProgress,
  type LockstepResult,
  type ResolvedBlock,
  type ScoreboardReport,
} from "../cosim/index.ts";
import { createTwin } from "./blocks.ts";
import { StatusCheck, type StatusCheckReport } from "./checks.ts";
import type { Scenario } from "./scenario.ts";
import { openSource, type SourceItem } from "./sources.ts";

export interface RunOptions {
  /** build the traced RTL and write a VCD waveform here */
  tracePath?: string;
  /** defect-injection defines for the RTL build */
  defects?: string[];
  log?: (line: string) => void;
  onProgress?: (p: LockstepProgress & { totalInputs: number }) => void;
}

export interface RunResult {
  scenario: string;
  seed: number;
  block: { name: string; params: Record<string, number>; clockMhz: number; rtl: boolean; build?: { key: string; cached: boolean; seconds: number; defects: string[] } };
  lockstep?: LockstepResult;
  modelOnly?: { cycles: number; wallSeconds: number; transactions: number };
  scoreboard?: ScoreboardReport;
  status?: StatusCheckReport;
  /** output transactions and bytes, and bytes per cycle, of the model */
  outputs: { transactions: number; bytes: number; firstCycle: number; lastCycle: number };
  verdict: "PASS" | "FAIL";
  failures: string[];
}

/** Wraps a twin so checks see every output transaction the model produces. */
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
}

export async function runScenario(sc: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const log = opts.log ?? (() => undefined);
  const manifest = loadBlockManifest(sc.block.name);
  const block: ResolvedBlock = resolveBlock(manifest, sc.block.params);
  const inPort = block.streams.find((s) => s.name === sc.traffic.port && s.direction === "in");
  if (!inPort) {
    throw new RunFailure(`${sc.file}: traffic.port "${sc.traffic.port}" is not an input stream of ${manifest.block} (inputs: ${block.streams.filter((s) => s.direction === "in").map((s) => s.name).join(", ")})`);
  }

  const statusCheck = sc.checks.includes("icrc_status") ? new StatusCheck() : undefined;
  const outputs = { transactions: 0, bytes: 0, firstCycle: Infinity, lastCycle: 0 };
  const twin = new ObservedTwin(
    createTwin(block, { outputReady: sc.cosim.outReadyPercent < 100 ? (port) => outputReady(sc.seed, sc.cosim.outReadyPercent, port) : undefined }),
    (_port, t) => {
      outputs.transactions++;
      outputs.bytes += t.data.length;
      if (t.startCycle < outputs.firstCycle) outputs.firstCycle = t.startCycle;
      outputs.lastCycle = t.endCycle;
      statusCheck?.output(t);
    },
  );
  const totalInputs = sc.traffic.source === "roce_frames" ? sc.traffic.count : 0;
  function* stimulus(): Generator<SourceItem> {
    for (const item of openSource(sc.traffic, { seed: sc.seed, dataBytes: inPort!.dataBytes })) {
      statusCheck?.input(item.expectedStatus);
      yield item;
    }
  }

  const result: RunResult = {
    scenario: sc.name,
    seed: sc.seed,
    block: { name: manifest.block, params: block.params, clockMhz: manifest.clock.mhz, rtl: sc.block.rtl },
    outputs,
    verdict: "PASS",
    failures: [],
  };

  if (!sc.block.rtl) {
    const t0 = performance.now();
    let n = 0;
    let cycle = 0;
    for (const item of stimulus()) {
      twin.offer(item.port, item.txn);
      n++;
      if (n % 1024 === 0) {
        cycle = Math.max(cycle, item.txn.startCycle);
        twin.runUntil(cycle);
        for (const p of block.streams) if (p.direction === "out") twin.take(p.name);
      }
    }
    // let everything drain: each beat takes at most a few cycles here
    let last = -1;
    while (outputs.transactions !== last) {
      last = outputs.transactions;
      cycle += 1 << 20;
      twin.runUntil(cycle);
      for (const p of block.streams) if (p.direction === "out") twin.take(p.name);
    }
    result.modelOnly = { cycles: outputs.lastCycle + 1, wallSeconds: (performance.now() - t0) / 1000, transactions: n };
  } else {
    const built = await buildBlock(block, { trace: opts.tracePath !== undefined, defines: opts.defects, log });
    result.block.build = { key: built.key, cached: built.cached, seconds: built.seconds, defects: built.defines };
    const rtl = await RtlProcess.start(built, { timeoutMs: sc.cosim.timeoutMs, tracePath: opts.tracePath });
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
        onProgress: (p) => opts.onProgress?.({ ...p, totalInputs }),
      });
      await rtl.close();
    } catch (e) {
      await rtl.kill();
      result.scoreboard = scoreboard.report();
      throw Object.assign(e as Error, { partialResult: result });
    }
    result.scoreboard = scoreboard.report();
    if (result.scoreboard.timing === "fail") result.failures.push("timing outside the block's tolerance");
  }
  if (statusCheck) {
    result.status = statusCheck.report();
    if (!result.status.pass) result.failures.push(`icrc_status: ${result.status.firstFailure}`);
  }
  if (result.failures.length) result.verdict = "FAIL";
  return result;
}
