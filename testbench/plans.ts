/**
 * A plan turns a scenario's traffic section into the stimulus of a run and the
 * accounting of its outputs: one plan per kind of traffic source.
 */
import type { BlockTwin, StreamTransaction } from "../core/block.ts";
import { packStimulus, UserError, type ResolvedBlock, type StimulusInput } from "../cosim/index.ts";
import { StatusCheck, type StatusCheckReport } from "./checks.ts";
import { ethernetRate, ibDataRate } from "./links.ts";
import { LineRateMeter, lineRateFailures, type LineRateReport } from "./line-rate.ts";
import type { Scenario, Traffic } from "./scenario.ts";
import { DoorbellOracle, type DoorbellOracleReport } from "./doorbell-oracle.ts";
import { doorbellStimulus, generateDoorbellTraffic } from "./traffic/doorbell-traffic.ts";
import { TptOracle, type TptOracleReport } from "./tpt-oracle.ts";
import { tptStimulus, tptTraffic } from "./traffic/tpt-traffic.ts";
import { WqeFetchOracle, type WqeFetchOracleReport } from "./wqe-fetch-oracle.ts";
import { generateWqeFetchTraffic, wqeFetchStimulus } from "./traffic/wqe-fetch-traffic.ts";
import { TPT_PARAM_NAMES, TptTwin, type TptParams } from "../hca/index.ts";
import { openSource } from "./sources.ts";
import { GatewayTraffic } from "./traffic/gateway-traffic.ts";

export interface PlanResult {
  status?: StatusCheckReport;
  lineRate?: LineRateReport;
  doorbells?: DoorbellOracleReport;
  tpt?: TptOracleReport;
  wqe?: WqeFetchOracleReport;
  failures: string[];
}

export interface TrafficPlan {
  stimulus(): Generator<StimulusInput>;
  /** input transactions the plan will offer, when known (for progress) */
  totalInputs: number;
  /** sees the run's twin before it starts (a plan may report what only the model knows) */
  observeTwin?(twin: BlockTwin): void;
  /** an output of the run: the RTL's when it runs, else the model's */
  output(port: string, t: StreamTransaction): void;
  finish(wires: Record<string, number>): PlanResult;
}

function framesPlan(sc: Scenario, block: ResolvedBlock): TrafficPlan {
  const t = sc.traffic;
  if (t.source === "gateway" || t.source === "doorbells" || t.source === "tpt_lookups" || t.source === "wqe_fetches") throw new Error("unreachable");
  const inPort = block.streams.find((s) => s.name === t.port && s.direction === "in");
  if (!inPort) {
    throw new UserError(`${sc.file}: traffic.port "${t.port}" is not an input stream of ${block.manifest.block} (inputs: ${block.streams.filter((s) => s.direction === "in").map((s) => s.name).join(", ")})`);
  }
  const status = sc.checks.includes("icrc_status") ? new StatusCheck() : undefined;
  return {
    totalInputs: t.source === "roce_frames" ? t.count : 0,
    *stimulus() {
      for (const item of openSource(t, { seed: sc.seed, dataBytes: inPort.dataBytes })) {
        status?.input(item.expectedStatus);
        yield item;
      }
    },
    output: (_port, txn) => status?.output(txn),
    finish: () => {
      const r: PlanResult = { failures: [] };
      if (status) {
        r.status = status.report();
        if (!r.status.pass) r.failures.push(`icrc_status: ${r.status.firstFailure ?? "outputs missing"}`);
      }
      return r;
    },
  };
}

function gatewayPlan(sc: Scenario, block: ResolvedBlock, clockMhz: number): TrafficPlan {
  const t = sc.traffic;
  if (t.source !== "gateway") throw new Error("unreachable");
  if (block.manifest.block !== "gateway") throw new UserError(`${sc.file}: traffic source "gateway" needs block gateway, not ${block.manifest.block}`);
  const ethBps = ethernetRate(t.ethernet, `${sc.file}: traffic.ethernet`);
  const traffic = new GatewayTraffic({
    seed: sc.seed,
    ethPorts: block.params.ETH_PORTS!,
    ethBps,
    ib: t.infiniband,
    ibBps: ibDataRate(t.infiniband),
    clockMhz,
    frameBytes: t.frameBytes,
    durationPs: t.durationUs * 1e6,
    ethToIbLoad: t.ethToIbLoad,
    ibToEthLoad: t.ibToEthLoad,
    ibHosts: t.ibHosts,
    ethHostsPerPort: t.ethHostsPerPort,
    gwLid: 0x0001,
    gwQpn: 0x000048,
    pkey: t.pkey,
    anomalies: t.anomalies,
    mtuBytes: block.params.MTU_BYTES,
  });
  const meter = new LineRateMeter(traffic, block.params.ETH_PORTS!, ethBps, t.frameBytes, 1e3 / clockMhz);
  return {
    totalInputs: traffic.table.length + Object.values(traffic.offer.streams).reduce((s, x) => s + x.frames, 0),
    *stimulus() {
      for (const item of traffic.items()) yield { port: item.port, txn: item.txn };
    },
    output: (port, txn) => meter.output(port, txn),
    finish: (wires) => {
      const lineRate = meter.report(wires);
      return { lineRate, failures: sc.checks.includes("line_rate") ? lineRateFailures(lineRate) : [] };
    },
  };
}

function doorbellPlan(sc: Scenario, block: ResolvedBlock): TrafficPlan {
  const t = sc.traffic;
  if (t.source !== "doorbells") throw new Error("unreachable");
  if (block.manifest.block !== "doorbell") throw new UserError(`${sc.file}: traffic source "doorbells" needs block doorbell, not ${block.manifest.block}`);
  const traffic = generateDoorbellTraffic({
    seed: sc.seed,
    params: { qpEntries: block.params.QP_ENTRIES!, cqEntries: block.params.CQ_ENTRIES!, uarPages: block.params.UAR_PAGES!, pending: block.params.PENDING! },
    doorbells: t.doorbells,
    processes: t.processes,
    qpsPerProcess: t.qpsPerProcess,
    cqsPerProcess: t.cqsPerProcess,
    hotShare: t.hotShare,
    hotQps: t.hotQps,
    adversarial: t.adversarial,
    gapMax: t.gapMax,
  });
  const oracle = new DoorbellOracle(traffic);
  return {
    totalInputs: traffic.cfg.length + traffic.mmio.length,
    // packed: the doorbell twin reads its inputs where the RTL's message holds them
    stimulus: () => packStimulus(doorbellStimulus(traffic), block),
    output: (port, txn) => oracle.output(port, txn),
    finish: (wires) => {
      const doorbells = oracle.report(wires);
      return { doorbells, failures: sc.checks.includes("doorbell_oracle") ? doorbells.failures : [] };
    },
  };
}

function tptPlan(sc: Scenario, block: ResolvedBlock): TrafficPlan {
  const t = sc.traffic;
  if (t.source !== "tpt_lookups") throw new Error("unreachable");
  if (block.manifest.block !== "tpt") throw new UserError(`${sc.file}: traffic source "tpt_lookups" needs block tpt, not ${block.manifest.block}`);
  const params = Object.fromEntries(Object.entries(TPT_PARAM_NAMES).map(([k, name]) => [k, block.params[name]!])) as unknown as TptParams;
  const traffic = tptTraffic({ seed: sc.seed, lookups: t.lookups, params, meanGap: t.meanGap });
  const oracle = new TptOracle(traffic);
  let twin: TptTwin | undefined;
  return {
    observeTwin: (t) => { if (t instanceof TptTwin) twin = t; },
    totalInputs: traffic.config.length + traffic.requests.length,
    stimulus: () => packStimulus(tptStimulus(traffic), block),
    output: (port, txn) => oracle.output(port, txn),
    finish: (wires) => {
      const tpt = oracle.report(wires, twin?.serviceLatency);
      return { tpt, failures: sc.checks.includes("tpt_oracle") ? tpt.failures : [] };
    },
  };
}

function wqeFetchPlan(sc: Scenario, block: ResolvedBlock): TrafficPlan {
  const t = sc.traffic;
  if (t.source !== "wqe_fetches") throw new Error("unreachable");
  if (block.manifest.block !== "wqe_fetch") throw new UserError(`${sc.file}: traffic source "wqe_fetches" needs block wqe_fetch, not ${block.manifest.block}`);
  const params = { qpEntries: block.params.QP_ENTRIES!, tags: block.params.TAGS! };
  if (t.qps > params.qpEntries) throw new UserError(`${t.qpsAt}: traffic.qps ${t.qps} is more than the block's QP_ENTRIES ${params.qpEntries}`);
  const traffic = generateWqeFetchTraffic({
    seed: sc.seed,
    params,
    fetches: t.fetches,
    qps: t.qps,
    stale: t.stale,
    malformed: t.malformed,
    adversarial: t.adversarial,
    latency: t.dmaLatency,
    maxWqesPerFetch: t.maxWqesPerFetch,
    gapMax: t.gapMax,
  });
  const oracle = new WqeFetchOracle(traffic);
  return {
    totalInputs: traffic.cfg.length + traffic.fetch.length + traffic.cpl.length,
    stimulus: () => packStimulus(wqeFetchStimulus(traffic), block),
    output: (port, txn) => oracle.output(port, txn),
    finish: (wires) => {
      const wqe = oracle.report(wires);
      return { wqe, failures: sc.checks.includes("wqe_oracle") ? wqe.failures.map((f) => `wqe_oracle: ${f}`) : [] };
    },
  };
}

const PLANS: Record<Traffic["source"], (sc: Scenario, block: ResolvedBlock, clockMhz: number) => TrafficPlan> = {
  roce_frames: framesPlan,
  pcap: framesPlan,
  gateway: gatewayPlan,
  doorbells: doorbellPlan,
  tpt_lookups: tptPlan,
  wqe_fetches: wqeFetchPlan,
};

export function createPlan(sc: Scenario, block: ResolvedBlock, clockMhz: number): TrafficPlan {
  return PLANS[sc.traffic.source](sc, block, clockMhz);
}
