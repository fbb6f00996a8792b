/** Benchmarks of the icrc block: mixed RoCEv2 traffic, 0–4096-byte payloads, back to back. */
import { loadBlockManifest, resolveBlock, type StimulusItem } from "../cosim/index.ts";
import { IcrcTwin, type IcrcDataBytes } from "../hca/index.ts";
import type { RoceFramesTraffic } from "../testbench/scenario.ts";
import { openSource } from "../testbench/sources.ts";
import { benchBlock } from "./cosim-bench.ts";

export async function benchIcrc(opts: { packets: number; dataBytes?: number }): Promise<Record<string, number>> {
  const block = resolveBlock(loadBlockManifest("icrc"), { DATA_BYTES: opts.dataBytes ?? 64 });
  const dataBytes = block.params.DATA_BYTES!;
  const traffic: RoceFramesTraffic = { source: "roce_frames", port: "s_axis", count: opts.packets, ipv6Fraction: 0.5, payloadBytes: [0, 4096], mode: "mixed", corruptFraction: 0.02, otherFraction: 0.02, gapCycles: [0, 0] };
  const items: StimulusItem[] = [...openSource(traffic, { seed: 7, dataBytes })];
  const f = await benchBlock(block, () => new IcrcTwin({ dataBytes: dataBytes as IcrcDataBytes }), items);
  return {
    "model.icrc.packets_per_s": Math.round(f.modelTransactionsPerSecond),
    "cosim.icrc.lockstep_cycles_per_s": Math.round(f.lockstepCyclesPerSecond),
    "cosim.icrc.verilator_alone_cycles_per_s": Math.round(f.verilatorAloneCyclesPerSecond),
    "cosim.icrc.model_alone_cycles_per_s": Math.round(f.modelAloneCyclesPerSecond),
    "cosim.icrc.ratio": Number(f.ratio.toFixed(3)),
    "cosim.icrc.cycles": f.cycles,
    "cosim.icrc.packets": f.transactions,
  };
}
