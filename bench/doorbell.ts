/** Benchmarks of the doorbell block: 6 processes, hot and spread QPs, 5% adversarial writes. */
import { loadBlockManifest, packStimulus, resolveBlock, type StimulusInput } from "../cosim/index.ts";
import { DoorbellTwin } from "../hca/index.ts";
import { doorbellStimulus, generateDoorbellTraffic } from "../testbench/traffic/doorbell-traffic.ts";
import { benchBlock } from "./cosim-bench.ts";

export async function benchDoorbell(opts: { doorbells: number }): Promise<Record<string, number>> {
  const block = resolveBlock(loadBlockManifest("doorbell"), {});
  const p = block.params;
  const params = { qpEntries: p.QP_ENTRIES!, cqEntries: p.CQ_ENTRIES!, uarPages: p.UAR_PAGES!, pending: p.PENDING! };
  const traffic = generateDoorbellTraffic({ seed: 9, params, doorbells: opts.doorbells, processes: 6, qpsPerProcess: 7, cqsPerProcess: 2, hotShare: 0.4, adversarial: 0.05 });
  // packed as a stimulus generator writing records would give them (the twin reads them in place)
  const items: StimulusInput[] = [...packStimulus(doorbellStimulus(traffic), block)];
  const f = await benchBlock(block, () => new DoorbellTwin(params), items);
  return {
    "model.doorbell.doorbells_per_s": Math.round(f.modelTransactionsPerSecond),
    "cosim.doorbell.lockstep_cycles_per_s": Math.round(f.lockstepCyclesPerSecond),
    "cosim.doorbell.verilator_alone_cycles_per_s": Math.round(f.verilatorAloneCyclesPerSecond),
    "cosim.doorbell.model_alone_cycles_per_s": Math.round(f.modelAloneCyclesPerSecond),
    "cosim.doorbell.ratio": Number(f.ratio.toFixed(3)),
  };
}
