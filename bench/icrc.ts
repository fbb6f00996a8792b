/**
 * Benchmarks of the icrc block, side by side in one run on the same stimulus:
 * the TypeScript twin alone, the RTL alone (the generated shim replaying the stimulus
 * from a file, no transport), and the two in lockstep over ZeroMQ.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import type { StreamTransaction } from "../core/block.ts";
import {
  buildBlock,
  encodeMessage,
  encodeStreamMessage,
  loadBlockManifest,
  resolveBlock,
  RtlProcess,
  runLockstep,
  Scoreboard,
  type ResolvedBlock,
} from "../cosim/index.ts";
import { IcrcTwin, type IcrcDataBytes } from "../hca/index.ts";
import { openSource } from "../testbench/sources.ts";

export interface Figures {
  [key: string]: number;
}

function stimulus(count: number, dataBytes: number): StreamTransaction[] {
  const out: StreamTransaction[] = [];
  const traffic = { source: "roce_frames", port: "s_axis", count, ipv6Fraction: 0.5, payloadBytes: [0, 4096], mode: "mixed", corruptFraction: 0.02, otherFraction: 0.02, gapCycles: [0, 0] } as const;
  for (const item of openSource({ ...traffic, payloadBytes: [0, 4096], gapCycles: [0, 0] }, { seed: 7, dataBytes })) out.push(item.txn);
  return out;
}

function modelRate(block: ResolvedBlock, txns: StreamTransaction[]): number {
  const twin = new IcrcTwin({ dataBytes: block.params.DATA_BYTES as IcrcDataBytes });
  const t0 = performance.now();
  let done = 0;
  let cycle = 0;
  for (let i = 0; i < txns.length; i++) {
    twin.offer("s_axis", txns[i]!);
    if ((i & 1023) === 1023) {
      cycle += 1 << 20;
      twin.runUntil(cycle);
      done += twin.take("m_axis").length;
    }
  }
  while (done < txns.length) {
    cycle += 1 << 20;
    twin.runUntil(cycle);
    done += twin.take("m_axis").length;
  }
  return txns.length / ((performance.now() - t0) / 1000);
}

/** The stimulus as the shim's standalone replay file: u32 length, then the frame, repeated. */
function replayFile(block: ResolvedBlock, txns: StreamTransaction[], untilCycle: number, path: string): void {
  const frames: Uint8Array[] = [];
  let seq = 0;
  frames.push(encodeMessage("H2R_RESET", seq++, { cycles: block.manifest.reset.cycles, outReadyPercent: 100, seed: 0 }));
  for (let i = 0; i < txns.length; i += 2048) {
    frames.push(encodeStreamMessage("H2R_STREAM_INPUT", seq++, 0, txns.slice(i, i + 2048), ["check"]));
  }
  frames.push(encodeMessage("H2R_ADVANCE", seq++, { untilCycle }));
  frames.push(encodeMessage("H2R_END", seq++));
  const total = frames.reduce((s, f) => s + 4 + f.length, 0);
  const buf = Buffer.alloc(total);
  let off = 0;
  for (const f of frames) {
    buf.writeUInt32LE(f.length, off);
    buf.set(f, off + 4);
    off += 4 + f.length;
  }
  writeFileSync(path, buf);
}

export async function benchIcrc(opts: { packets: number; dataBytes?: number }): Promise<Figures> {
  const block = resolveBlock(loadBlockManifest("icrc"), { DATA_BYTES: opts.dataBytes ?? 64 });
  const built = await buildBlock(block);
  const txns = stimulus(opts.packets, block.params.DATA_BYTES!);

  const model = modelRate(block, txns);

  const rtl = await RtlProcess.start(built);
  const scoreboard = new Scoreboard(block);
  let lock;
  try {
    lock = await runLockstep({ rtl, twin: new IcrcTwin({ dataBytes: block.params.DATA_BYTES as IcrcDataBytes }), scoreboard, stimulus: txns.map((txn) => ({ port: "s_axis", txn }))[Symbol.iterator](), quantumCycles: 65_536 });
    await rtl.close();
  } finally {
    await rtl.kill();
  }
  if (scoreboard.report().functional !== "pass") throw new Error("bench: lockstep run did not pass");

  const dir = mkdtempSync(join(tmpdir(), "hcasim-bench-"));
  try {
    const file = join(dir, "stimulus.bin");
    replayFile(block, txns, lock.cycles, file);
    const r = await execa(built.binary, ["--standalone", file]);
    const m = /cycles=(\d+) sim_ns=(\d+)/.exec(r.stdout);
    if (!m) throw new Error(`bench: unexpected standalone output: ${r.stdout}`);
    const alone = Number(m[1]) / (Number(m[2]) / 1e9);
    const lockRate = lock.cycles / lock.wallSeconds;
    return {
      "model.icrc.packets_per_s": Math.round(model),
      "cosim.icrc.lockstep_cycles_per_s": Math.round(lockRate),
      "cosim.icrc.verilator_alone_cycles_per_s": Math.round(alone),
      "cosim.icrc.ratio": Number((lockRate / alone).toFixed(3)),
      "cosim.icrc.cycles": lock.cycles,
      "cosim.icrc.packets": txns.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
