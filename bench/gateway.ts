/** Benchmarks of the gateway: the 6×1 GbE configuration, 64-byte frames at line rate both ways. */
import { loadBlockManifest, resolveBlock, type StimulusItem } from "../cosim/index.ts";
import { GatewayTwin } from "../hca/index.ts";
import { ibDataRate } from "../testbench/links.ts";
import { GatewayTraffic } from "../testbench/traffic/gateway-traffic.ts";
import { benchBlock } from "./cosim-bench.ts";

export async function benchGateway(opts: { durationUs: number }): Promise<Record<string, number>> {
  const params = { ETH_PORTS: 6, DATA_BYTES: 8, TABLE_ENTRIES: 64, FIFO_BEATS: 512, MTU_BYTES: 2048 };
  const block = resolveBlock(loadBlockManifest("gateway"), params);
  const ib = { width: "4X", speed: "SDR" } as const;
  const traffic = new GatewayTraffic({
    seed: 3, ethPorts: 6, ethBps: 1e9, ib, ibBps: ibDataRate(ib), clockMhz: 156.25, frameBytes: 64,
    durationPs: opts.durationUs * 1e6, ethToIbLoad: 1, ibToEthLoad: 1, ibHosts: 16, ethHostsPerPort: 4,
    gwLid: 0x0001, gwQpn: 0x000048, pkey: 0xffff,
  });
  const items: StimulusItem[] = [...traffic.items()].map((i) => ({ port: i.port, txn: i.txn }));
  const twin = () => new GatewayTwin({ ethPorts: 6, dataBytes: 8, tableEntries: 64, fifoBeats: 512, mtuBytes: 2048 });
  const f = await benchBlock(block, twin, items);
  return {
    "model.gateway.frames_per_s": Math.round(f.modelTransactionsPerSecond),
    "cosim.gateway.lockstep_cycles_per_s": Math.round(f.lockstepCyclesPerSecond),
    "cosim.gateway.verilator_alone_cycles_per_s": Math.round(f.verilatorAloneCyclesPerSecond),
    "cosim.gateway.model_alone_cycles_per_s": Math.round(f.modelAloneCyclesPerSecond),
    "cosim.gateway.ratio": Number(f.ratio.toFixed(3)),
    "cosim.gateway.cycles": f.cycles,
    "cosim.gateway.frames": f.transactions,
  };
}
