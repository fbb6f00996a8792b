/** Benchmarks of the wqe_fetch block: the wqe-fetch scenario's traffic (many QPs, every opcode, out-of-order DMA completions, stale and malformed WQEs). */
import { loadBlockManifest, packStimulus, resolveBlock, type StimulusInput } from "../cosim/index.ts";
import { WqeFetchTwin } from "../hca/wqe-fetch/index.ts";
import { generateWqeFetchTraffic, wqeFetchStimulus } from "../testbench/traffic/wqe-fetch-traffic.ts";
import { benchBlock } from "./cosim-bench.ts";

export async function benchWqeFetch(opts: { fetches: number }): Promise<Record<string, number>> {
  const block = resolveBlock(loadBlockManifest("wqe_fetch"), {});
  const params = { qpEntries: block.params.QP_ENTRIES!, tags: block.params.TAGS! };
  const traffic = generateWqeFetchTraffic({ seed: 7, params, fetches: opts.fetches, qps: 48, stale: 0.05, malformed: 0.04, adversarial: 0.02, latency: 40 });
  // packed as a stimulus generator writing records would give them (the twin reads them in place)
  const items: StimulusInput[] = [...packStimulus(wqeFetchStimulus(traffic), block)];
  const f = await benchBlock(block, () => new WqeFetchTwin(params), items);
  // the twin's rate counted in the work requests it emits (inputs are cfg, fetches and completions)
  const wrsPerInput = traffic.counts.wrs / f.transactions;
  return {
    "model.wqe_fetch.wrs_per_s": Math.round(f.modelTransactionsPerSecond * wrsPerInput),
    "cosim.wqe_fetch.lockstep_cycles_per_s": Math.round(f.lockstepCyclesPerSecond),
    "cosim.wqe_fetch.verilator_alone_cycles_per_s": Math.round(f.verilatorAloneCyclesPerSecond),
    "cosim.wqe_fetch.model_alone_cycles_per_s": Math.round(f.modelAloneCyclesPerSecond),
    "cosim.wqe_fetch.ratio": Number(f.ratio.toFixed(3)),
  };
}
