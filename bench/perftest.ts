/**
 * Speed of the perftest testbench (testbench/perftest): the 100 GbE RoCEv2 write_bw of
 * testbench/scenarios/roce-write-bw-100g.yaml at one large size (1 MiB messages, 256
 * packets each), both adapters, the link and the checks included.
 *
 *   sim.write_bw_100g.wall_s_per_sim_ms   wall seconds per simulated millisecond (lower is faster)
 *   sim.write_bw_100g.packets_per_s       transport packets (both ways) per wall second
 *
 * Run alone: `npx tsx bench/perftest.ts`.
 */
import { fileURLToPath } from "node:url";
import { loadPerftestScenario, runPerftest } from "../testbench/perftest/index.ts";

const SCENARIO = fileURLToPath(new URL("../testbench/scenarios/roce-write-bw-100g.yaml", import.meta.url));

export function benchPerftest(opts: { messages: number; messageBytes?: number }): Record<string, number> {
  const run = (messages: number) => {
    const sc = loadPerftestScenario(SCENARIO);
    sc.params.sizes = [opts.messageBytes ?? 1 << 20];
    sc.params.iterations = messages;
    sc.params.maxBytesPerSize = undefined;
    const t0 = performance.now();
    const r = runPerftest(sc);
    const wallS = (performance.now() - t0) / 1000;
    if (r.verdict !== "PASS") throw new Error(`bench perftest: the run failed: ${r.failures.join("; ")}`);
    return { wallS, simMs: r.simulatedUs / 1000, packets: r.engines.hostA!.packetsSent + r.engines.hostB!.packetsSent };
  };
  run(Math.max(2, Math.floor(opts.messages / 4))); // warm up the JIT
  const m = run(opts.messages);
  return {
    "sim.write_bw_100g.wall_s_per_sim_ms": Number((m.wallS / m.simMs).toFixed(4)),
    "sim.write_bw_100g.packets_per_s": Math.round(m.packets / m.wallS),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const [k, v] of Object.entries(benchPerftest({ messages: Number(process.env.HCASIM_BENCH_PERFTEST_MESSAGES ?? 256) }))) process.stdout.write(`${k}=${v}\n`);
}
