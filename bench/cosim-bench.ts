/**
 * One block, one stimulus, three measurements side by side in one run: the TypeScript
 * twin alone, the RTL alone (the generated shim replaying the stimulus from a file, no
 * transport), and the two in lockstep over ZeroMQ.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import type { BlockTwin } from "../core/block.ts";
import {
  buildBlock,
  DEFAULT_QUANTUM_CYCLES,
  encodeMessage,
  encodeStreamMessage,
  RtlProcess,
  runLockstep,
  Scoreboard,
  type ResolvedBlock,
  stimulusTransactions,
  type StimulusInput,
} from "../cosim/index.ts";

export interface BlockFigures {
  /** input transactions through the twin alone per wall second */
  modelTransactionsPerSecond: number;
  /** the twin alone over the lockstep run's cycles: the lockstep can never be faster */
  modelAloneCyclesPerSecond: number;
  lockstepCyclesPerSecond: number;
  verilatorAloneCyclesPerSecond: number;
  ratio: number;
  cycles: number;
  transactions: number;
}

/**
 * Wall seconds the twin alone takes for `items`: offered in order, and run up to the
 * latest start offered after every 1,024 transactions (and after every packed batch), its
 * outputs taken the way the lockstep takes them (packed if it can).
 */
function modelSeconds(block: ResolvedBlock, twin: BlockTwin, items: StimulusInput[]): number {
  const outs = block.streams.filter((s) => s.direction === "out").map((s) => s.name);
  const userNames = new Map(block.streams.map((s) => [s.name, s.user.map((f) => f.name)]));
  // where to run to after each item, found before the clock starts
  const runTo: number[] = [];
  let latest = 0;
  let n = 0;
  for (const it of items) {
    const txns = stimulusTransactions(it, userNames.get(it.port));
    for (const t of txns) latest = Math.max(latest, t.startCycle);
    const before = n;
    n += txns.length;
    runTo.push(it.packed || before >> 10 !== n >> 10 ? latest : -1);
  }
  const take = twin.takePacked ? (o: string) => twin.takePacked!(o) : (o: string) => twin.take(o);
  const t0 = performance.now();
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    if (!it.packed) twin.offer(it.port, it.txn);
    else if (twin.offerPacked) twin.offerPacked(it.port, it.packed, it.count);
    else for (const t of stimulusTransactions(it, userNames.get(it.port))) twin.offer(it.port, t);
    const cycle = runTo[i]!;
    if (cycle >= 0) {
      twin.runUntil(cycle);
      for (const o of outs) take(o);
    }
  }
  const cycle = latest;
  twin.runUntil(cycle + (1 << 22));
  for (const o of outs) take(o);
  return (performance.now() - t0) / 1000;
}

/** The stimulus as the shim's standalone replay file: u32 length, then the frame, repeated. */
function writeReplay(block: ResolvedBlock, items: StimulusInput[], untilCycle: number, path: string): void {
  const frames: Uint8Array[] = [];
  let seq = 0;
  frames.push(encodeMessage("H2R_RESET", seq++, { cycles: block.manifest.reset.cycles, outReadyPercent: 100, seed: 0 }));
  for (const port of block.streams.filter((s) => s.direction === "in")) {
    const userNames = port.user.map((f) => f.name);
    const txns = items.filter((i) => i.port === port.name).flatMap((i) => stimulusTransactions(i, userNames));
    for (let i = 0; i < txns.length; i += 2048) {
      frames.push(encodeStreamMessage("H2R_STREAM_INPUT", seq++, port.index, txns.slice(i, i + 2048), port.user.map((f) => f.name)));
    }
  }
  frames.push(encodeMessage("H2R_ADVANCE", seq++, { untilCycle }));
  frames.push(encodeMessage("H2R_END", seq++));
  const buf = Buffer.alloc(frames.reduce((s, f) => s + 4 + f.length, 0));
  let off = 0;
  for (const f of frames) {
    buf.writeUInt32LE(f.length, off);
    buf.set(f, off + 4);
    off += 4 + f.length;
  }
  writeFileSync(path, buf);
}

/** best of this many runs on each side: the first run of anything also pays for JIT compilation and cold caches */
const RUNS = 3;
/**
 * Unmeasured lockstep runs first: the harness's own code (stimulus, codec, scoreboard)
 * reaches its optimised form only after a few runs of a bench-sized stimulus, while a real
 * scenario runs for seconds to minutes and spends nearly all of them warm.
 */
const WARMUP_RUNS = 2;

export async function benchBlock(block: ResolvedBlock, makeTwin: () => BlockTwin, items: StimulusInput[], quantumCycles = DEFAULT_QUANTUM_CYCLES): Promise<BlockFigures> {
  const built = await buildBlock(block);
  const model = Math.min(...[0, 1, 2, 3, 4].map(() => modelSeconds(block, makeTwin(), items)));

  let lock: Awaited<ReturnType<typeof runLockstep>> | undefined;
  for (let run = 0; run < WARMUP_RUNS + RUNS; run++) {
    const rtl = await RtlProcess.start(built);
    const scoreboard = new Scoreboard(block);
    try {
      const r = await runLockstep({ rtl, twin: makeTwin(), scoreboard, stimulus: items[Symbol.iterator](), quantumCycles });
      await rtl.close();
      if (scoreboard.report().functional !== "pass") throw new Error(`bench ${block.manifest.block}: the lockstep run did not pass`);
      if (run >= WARMUP_RUNS && (!lock || r.wallSeconds < lock.wallSeconds)) lock = r;
    } finally {
      await rtl.kill();
    }
  }

  const dir = mkdtempSync(join(tmpdir(), "hcasim-bench-"));
  try {
    const file = join(dir, "stimulus.bin");
    writeReplay(block, items, lock!.cycles, file);
    let alone = 0;
    for (let run = 0; run < RUNS; run++) {
      const r = await execa(built.binary, ["--standalone", file]);
      const m = /cycles=(\d+) sim_ns=(\d+)/.exec(r.stdout);
      if (!m) throw new Error(`bench: unexpected standalone output: ${r.stdout}`);
      alone = Math.max(alone, Number(m[1]) / (Number(m[2]) / 1e9));
    }
    const lockRate = lock!.cycles / lock!.wallSeconds;
    const transactions = items.reduce((n, it) => n + (it.packed ? it.count : 1), 0);
    return {
      modelTransactionsPerSecond: transactions / model,
      modelAloneCyclesPerSecond: lock!.cycles / model,
      lockstepCyclesPerSecond: lockRate,
      verilatorAloneCyclesPerSecond: alone,
      ratio: lockRate / alone,
      cycles: lock!.cycles,
      transactions,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
