/**
 * Scenario files (DESIGN.md §6): which block, whether its RTL runs in lockstep with
 * the model, the traffic, the checks and the co-simulation settings. Every schema error
 * names file:line:col.
 */
import { dirname, resolve } from "node:path";
import { DEFAULT_QUANTUM_CYCLES, readYamlFile, type YamlValue } from "../cosim/index.ts";
import { yamlFraction, yamlRange } from "./yaml-fields.ts";
import { ETHERNET_SPEEDS, IB_SPEEDS, IB_WIDTHS, type IbLink, type IbSpeed, type IbWidth } from "./links.ts";

export interface RoceFramesTraffic {
  source: "roce_frames";
  port: string;
  count: number;
  ipv6Fraction: number;
  payloadBytes: [number, number];
  /** generate: append the ICRC; check: frames carry one; mixed: each frame drawn */
  mode: "generate" | "check" | "mixed";
  /** share of check-mode frames with one bit flipped in the ICRC-covered, invariant bytes */
  corruptFraction: number;
  /** share of frames made into something else: another UDP port, ARP, VLAN-tagged, or cut short */
  otherFraction: number;
  /** idle cycles before each frame, inclusive range; [0, 0] = back to back */
  gapCycles: [number, number];
}

export interface PcapTraffic {
  source: "pcap";
  port: string;
  /** absolute path (resolved against the scenario's folder) */
  file: string;
  mode: "generate" | "check";
  /** the capture's frames end with a 4-byte FCS, to be removed */
  stripFcs: boolean;
  repeat: number;
  gapCycles: [number, number];
}

export interface GatewayTrafficSpec {
  source: "gateway";
  /** Ethernet speed of every port, e.g. 1GbE */
  ethernet: string;
  infiniband: IbLink;
  /** Ethernet frame size on the wire, FCS included [bytes] */
  frameBytes: number;
  /** how long the sources offer traffic [µs of simulated time] */
  durationUs: number;
  ethToIbLoad: number;
  ibToEthLoad: number;
  ibHosts: number;
  ethHostsPerPort: number;
  pkey: number;
  /** share of frames made into cases the gateway must not simply forward (ARP, runts, bad CRCs, unknown hosts, …) */
  anomalies: number;
}

export interface DoorbellTrafficSpec {
  source: "doorbells";
  doorbells: number;
  /** processes, each with its own UAR page */
  processes: number;
  qpsPerProcess: number;
  cqsPerProcess: number;
  /** share of doorbells on the hot QPs, and how many there are */
  hotShare: number;
  hotQps: number;
  /** share of adversarial writes: another process's queue, unknown queues, bad offsets and commands */
  adversarial: number;
  /** largest idle gap between two ordinary doorbells [cycles] */
  gapMax: number;
}

export interface TptTrafficSpec {
  source: "tpt_lookups";
  /** lookups in total: hits, misses, multi-page, and every kind of fault */
  lookups: number;
  /** mean idle cycles between lookups (0: back to back) */
  meanGap: number;
}

export interface WqeFetchTrafficSpec {
  source: "wqe_fetches";
  /** fetch requests (doorbells after coalescing), each for 1..maxWqesPerFetch WQEs of one queue */
  fetches: number;
  /** QPs with a send and a receive ring (at most the block's QP_ENTRIES) */
  qps: number;
  /** file:line:col of traffic.qps, for the check against the block's parameters */
  qpsAt: string;
  /** shares of WQEs written with a stale owner bit / malformed (bad opcode, size, segment) */
  stale: number;
  malformed: number;
  /** share of fetches that must issue no read (nothing new on the ring, or a QPN beyond the table) */
  adversarial: number;
  /** DMA read latency [cycles], each completion jittered by ± half of it */
  dmaLatency: number;
  maxWqesPerFetch: number;
  /** most idle cycles between fetches */
  gapMax: number;
}

export type Traffic = RoceFramesTraffic | PcapTraffic | GatewayTrafficSpec | DoorbellTrafficSpec | TptTrafficSpec | WqeFetchTrafficSpec;

export const CHECKS = ["content", "timing", "icrc_status", "line_rate", "doorbell_oracle", "tpt_oracle", "wqe_oracle"] as const;
export const TRAFFIC_SOURCES = ["roce_frames", "pcap", "gateway", "doorbells", "tpt_lookups", "wqe_fetches"] as const;
export type CheckName = (typeof CHECKS)[number];

export interface Sweep {
  /** frame sizes to run, each for `durationUs` */
  frameBytes: number[];
  durationUs: number;
}

export interface Scenario {
  file: string;
  name: string;
  description: string;
  seed: number;
  /** clockMhz: the block's clock in this configuration (default: its block.yaml clock) */
  /** endpoint: a tcp:// RTL server (`hcasim rtl-server`) instead of a local build */
  block: { name: string; params: Record<string, number>; rtl: boolean; clockMhz?: number; endpoint?: string };
  traffic: Traffic;
  sweep?: Sweep;
  checks: CheckName[];
  cosim: { quantumCycles: number; timeoutMs: number; outReadyPercent: number };
}


function parseTraffic(v: YamlValue, scenarioDir: string): Traffic {
  const m = v.map();
  const source = m.req("source").oneOf(TRAFFIC_SOURCES);
  if (source === "wqe_fetches") {
    const t: WqeFetchTrafficSpec = {
      source,
      fetches: m.req("fetches").int(1, 10_000_000),
      qps: m.opt("qps")?.int(1, 0x100_0000) ?? 8,
      qpsAt: ((q) => `${q.file}:${q.position().line}:${q.position().col}`)(m.opt("qps") ?? v),
      stale: yamlFraction(m.opt("stale"), 0.05),
      malformed: yamlFraction(m.opt("malformed"), 0.04),
      adversarial: yamlFraction(m.opt("adversarial"), 0.02),
      dmaLatency: m.opt("dma_latency")?.int(1, 100_000) ?? 40,
      maxWqesPerFetch: m.opt("max_wqes_per_fetch")?.int(1, 0x8000) ?? 6,
      gapMax: m.opt("gap_max")?.int(0, 1_000_000) ?? 2,
    };
    m.done();
    return t;
  }
  if (source === "tpt_lookups") {
    const t: TptTrafficSpec = { source, lookups: m.req("lookups").int(100, 10_000_000), meanGap: m.opt("mean_gap")?.num() ?? 0 };
    m.done();
    return t;
  }
  if (source === "doorbells") {
    const t: DoorbellTrafficSpec = {
      source,
      doorbells: m.req("doorbells").int(1, 100_000_000),
      processes: m.opt("processes")?.int(1, 255) ?? 6,
      qpsPerProcess: m.opt("qps_per_process")?.int(1, 64) ?? 7,
      cqsPerProcess: m.opt("cqs_per_process")?.int(1, 64) ?? 2,
      hotShare: yamlFraction(m.opt("hot_share"), 0.4),
      hotQps: m.opt("hot_qps")?.int(0, 64) ?? 2,
      adversarial: yamlFraction(m.opt("adversarial"), 0.05),
      gapMax: m.opt("gap_max")?.int(0, 1_000_000) ?? 4,
    };
    m.done();
    return t;
  }
  if (source === "gateway") {
    const ib = m.req("infiniband").map();
    const t: GatewayTrafficSpec = {
      source,
      ethernet: m.req("ethernet").oneOf(Object.keys(ETHERNET_SPEEDS)),
      infiniband: {
        width: ib.req("width").oneOf(Object.keys(IB_WIDTHS) as IbWidth[]),
        speed: ib.req("speed").oneOf(Object.keys(IB_SPEEDS) as IbSpeed[]),
      },
      frameBytes: m.req("frame_bytes").int(64, 16_000),
      durationUs: m.req("duration_us").num(),
      ethToIbLoad: yamlFraction(m.opt("eth_to_ib_load"), 1),
      ibToEthLoad: yamlFraction(m.opt("ib_to_eth_load"), 1),
      ibHosts: m.opt("ib_hosts")?.int(1, 64) ?? 16,
      ethHostsPerPort: m.opt("eth_hosts_per_port")?.int(1, 16) ?? 4,
      pkey: m.opt("pkey")?.int(0, 0xffff) ?? 0xffff,
      anomalies: yamlFraction(m.opt("anomalies"), 0),
    };
    ib.done();
    if (t.durationUs <= 0) m.req("duration_us").fail("traffic.duration_us: must be positive");
    m.done();
    return t;
  }
  const port = m.opt("port")?.str() ?? "s_axis";
  const gapNode = m.opt("gap_cycles");
  const gapCycles = gapNode ? yamlRange(gapNode, 0, 1_000_000) : ([0, 0] as [number, number]);
  if (source === "roce_frames") {
    const payloadNode = m.opt("payload_bytes");
    const t: RoceFramesTraffic = {
      source,
      port,
      count: m.req("count").int(1, 100_000_000),
      ipv6Fraction: yamlFraction(m.opt("ipv6_fraction"), 0.5),
      payloadBytes: payloadNode ? yamlRange(payloadNode, 0, 65_536) : [0, 4096],
      mode: m.opt("mode")?.oneOf(["generate", "check", "mixed"] as const) ?? "mixed",
      corruptFraction: yamlFraction(m.opt("corrupt_fraction"), 0),
      otherFraction: yamlFraction(m.opt("other_fraction"), 0),
      gapCycles,
    };
    m.done();
    return t;
  }
  const fileNode = m.req("file");
  const t: PcapTraffic = {
    source,
    port,
    file: resolve(scenarioDir, fileNode.str()),
    mode: m.opt("mode")?.oneOf(["generate", "check"] as const) ?? "check",
    stripFcs: m.opt("strip_fcs")?.bool() ?? false,
    repeat: m.opt("repeat")?.int(1, 1_000_000) ?? 1,
    gapCycles,
  };
  m.done();
  return t;
}

export function parseScenario(root: YamlValue): Scenario {
  const m = root.map();
  if (m.has("stages")) root.fail(`a pipeline scenario (stages:, testbench/bringup) runs with \`hcasim run\`, not as a one-block scenario`);
  const name = m.req("scenario").str();
  const description = m.opt("description")?.str() ?? "";
  const seed = m.opt("seed")?.int(0, 0xffffffff) ?? 1;

  const bm = m.req("block").map();
  const blockName = bm.req("name").str();
  const params: Record<string, number> = {};
  const pm = bm.opt("params")?.map();
  if (pm) for (const k of pm.keys()) params[k] = pm.req(k).int();
  const rtl = bm.opt("rtl")?.bool() ?? true;
  const clockNode = bm.opt("clock_mhz");
  const clockMhz = clockNode?.num();
  if (clockNode && !(clockMhz! > 0)) clockNode.fail("block.clock_mhz: must be positive");
  const endpointNode = bm.opt("endpoint");
  const endpoint = endpointNode?.str();
  if (endpointNode && !/^tcp:\/\/[^:/]+:\d+$/.test(endpoint!)) endpointNode.fail(`block.endpoint: "${endpoint}" is not tcp://HOST:PORT`);
  bm.done();

  const traffic = parseTraffic(m.req("traffic"), dirname(root.file));

  let sweep: Sweep | undefined;
  const sw = m.opt("sweep")?.map();
  if (sw) {
    sweep = { frameBytes: sw.req("frame_bytes").list().map((v) => v.int(64, 16_000)), durationUs: sw.req("duration_us").num() };
    sw.done();
  }

  const checksNode = m.opt("checks");
  const checks = checksNode ? checksNode.list().map((c) => c.oneOf(CHECKS)) : (["content", "timing"] as CheckName[]);

  const cm = m.opt("cosim")?.map();
  const cosim = {
    quantumCycles: cm?.opt("quantum_cycles")?.int(16, 1 << 24) ?? DEFAULT_QUANTUM_CYCLES,
    timeoutMs: cm?.opt("timeout_ms")?.int(100, 3_600_000) ?? 10_000,
    outReadyPercent: cm?.opt("out_ready_percent")?.int(1, 100) ?? 100,
  };
  cm?.done();
  m.done();
  return { file: root.file, name, description, seed, block: { name: blockName, params, rtl, ...(clockMhz !== undefined ? { clockMhz } : {}), ...(endpoint ? { endpoint } : {}) }, traffic, ...(sweep ? { sweep } : {}), checks, cosim };
}

export function loadScenario(file: string): Scenario {
  return parseScenario(readYamlFile(file));
}
