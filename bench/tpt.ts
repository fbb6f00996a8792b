/** Benchmarks of the tpt block: the tpt scenario's traffic (hits, misses, faults). */
import { loadBlockManifest, packStimulus, resolveBlock, type StimulusInput } from "../cosim/index.ts";
import { TPT_PARAM_NAMES, TptTwin, type TptParams } from "../hca/index.ts";
import { tptStimulus, tptTraffic } from "../testbench/traffic/tpt-traffic.ts";
import { benchBlock } from "./cosim-bench.ts";

export async function benchTpt(opts: { lookups: number }): Promise<Record<string, number>> {
  const block = resolveBlock(loadBlockManifest("tpt"), {});
  const params = Object.fromEntries(Object.entries(TPT_PARAM_NAMES).map(([k, name]) => [k, block.params[name]!])) as unknown as TptParams;
  const traffic = tptTraffic({ seed: 5, lookups: opts.lookups, params, meanGap: 1 });
  // packed as a stimulus generator writing records would give them (the twin reads them in place)
  const items: StimulusInput[] = [...packStimulus(tptStimulus(traffic), block)];
  const f = await benchBlock(block, () => new TptTwin(params), items);
  return {
    "model.tpt.lookups_per_s": Math.round(f.modelTransactionsPerSecond),
    "cosim.tpt.lockstep_cycles_per_s": Math.round(f.lockstepCyclesPerSecond),
    "cosim.tpt.verilator_alone_cycles_per_s": Math.round(f.verilatorAloneCyclesPerSecond),
    "cosim.tpt.model_alone_cycles_per_s": Math.round(f.modelAloneCyclesPerSecond),
    "cosim.tpt.ratio": Number(f.ratio.toFixed(3)),
  };
}
