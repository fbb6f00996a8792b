/**
 * The perftest scenario file: a perftest-style test between two adapters over real links.
 * `hcasim run` comes here for a file with a top-level `perftest:` key. Every schema error
 * names file:line:col (cosim/yaml-source.ts).
 *
 *   scenario: roce-write-bw-100g
 *   perftest: write_bw          # write_bw read_bw send_bw atomic_bw write_lat read_lat send_lat
 *   seed: 1
 *   fabric:
 *     transport: rocev2-ipv4    # rocev2-ipv4 | rocev2-ipv6 | ib
 *     link: 100GbE              # 10GbE 25GbE 40GbE 100GbE | [1X|4X|8X|12X] SDR DDR QDR FDR EDR HDR
 *     topology: back-to-back    # or switch (switch: { mode, latency_ns, queue_depth })
 *     cable_m: 2                # propagation, 5 ns per metre
 *     crc: trusted              # or recompute
 *     faults: [ { kind: drop, rate: 0.01 }, { kind: corrupt, rate: 0.001, bits: 3 }, { kind: reorder, rate: 0.005 } ]
 *   test:
 *     sizes: { from: 2, to: 8388608 }   # every power of two between, or a list [2, 4096]
 *     iterations: 5000          # per QP and size
 *     max_bytes_per_size: 33554432      # fewer iterations for large sizes: size × iterations ≤ this
 *     tx_depth: 128
 *     qps: 1
 *     mtu: 4096
 *     cq_mod: 100
 *     outstanding_reads: 16
 *     rx_depth: 512
 *     verify: false             # distinct data per message, checked byte for byte, and (writes) exactly once in order
 *   qp: { timeout: 14, retry_count: 7, rnr_retry: 7, window: 128, ack_req_every: 64 }
 *   adapter: { clock_mhz: 250, datapath_bytes: 64, ..., pcie: { read_latency_ns: 500, ... } }
 *   checks:
 *     goodput: { min_percent: 97, from_bytes: 65536 }   # BW average ≥ this share of the theoretical maximum
 *     data: true                # target memory equals what the initiator wrote
 */
import { readYamlFile, type YamlMap, type YamlValue } from "../../cosim/index.ts";
import { checkFaultTable, FAULT_KINDS, type FaultRule, linkSpeed, type LinkSpeed, PATH_MTUS, type SwitchMode } from "../../hca/link/index.ts";
import { ADAPTER_DEFAULTS, type AdapterTiming, PCIE_DEFAULTS, type PcieTiming } from "./front-end.ts";
import { type PerftestTransport, PERFTEST_TRANSPORTS } from "./port.ts";
import { SWITCH_MODES, type Topology, TOPOLOGIES } from "./fabric.ts";

/** the tests, as perftest names them, with what each does */
export const PERFTEST_TESTS = {
  write_bw: { kind: "bw", op: "write" },
  read_bw: { kind: "bw", op: "read" },
  send_bw: { kind: "bw", op: "send" },
  atomic_bw: { kind: "bw", op: "atomic" },
  write_lat: { kind: "lat", op: "write" },
  read_lat: { kind: "lat", op: "read" },
  send_lat: { kind: "lat", op: "send" },
} as const;
export type PerftestTestName = keyof typeof PERFTEST_TESTS;
export type PerftestOp = (typeof PERFTEST_TESTS)[PerftestTestName]["op"];

/** perftest's defaults (perftest_parameters.h): iterations of a bandwidth and a latency test */
export const DEFAULT_ITERATIONS = { bw: 5000, lat: 1000 } as const;
/** an atomic moves 8 bytes */
export const ATOMIC_BYTES = 8;

export interface PerftestParams {
  /** message sizes, in order [bytes] */
  sizes: number[];
  /** per QP and size */
  iterations: number;
  /** size × iterations at most this (fewer iterations for large sizes) [bytes]; undefined: no cap */
  maxBytesPerSize: number | undefined;
  txDepth: number;
  qps: number;
  mtu: number;
  cqMod: number;
  outstandingReads: number;
  rxDepth: number;
  verify: boolean;
}

export interface QpParams {
  timeout: number;
  retryCount: number;
  rnrRetry: number;
  minRnrTimer: number;
  window: number;
  ackReqEvery: number;
}

export interface FabricParams {
  transport: PerftestTransport;
  link: LinkSpeed;
  linkName: string;
  topology: Topology;
  /** one-way propagation of each link [ps] */
  propagationPs: number;
  crcMode: "trusted" | "recompute";
  faults: FaultRule[];
  switch: { mode: SwitchMode; latencyPs: number; queueDepth: number };
}

export interface PerftestChecks {
  goodput?: { minPercent: number; fromBytes: number };
  /** the memory the test wrote equals what the initiator meant to write */
  data: boolean;
}

export interface PerftestScenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  seed: number;
  readonly test: PerftestTestName;
  readonly fabric: FabricParams;
  readonly params: PerftestParams;
  readonly qp: QpParams;
  readonly adapter: AdapterTiming;
  readonly checks: PerftestChecks;
}

/** a perftest scenario names its test under `perftest:` */
export function isPerftestScenario(root: YamlValue): boolean {
  return root.isMap() && root.map().has("perftest");
}

const PS_PER_NS = 1000;
/** signal propagation in a cable [ps per metre] */
const PS_PER_METRE = 5000;

function sizesOf(v: YamlValue, op: PerftestOp): number[] {
  let sizes: number[];
  if (v.isSeq()) {
    sizes = v.list().map((x) => x.int(1, 2 ** 31));
    if (sizes.length === 0) v.fail(`${v.path}: give at least one size`);
  } else {
    const m = v.map();
    const fromV = m.req("from");
    const toV = m.req("to");
    const from = fromV.int(1, 2 ** 31);
    const to = toV.int(1, 2 ** 31);
    m.done();
    for (const [x, n] of [[fromV, from], [toV, to]] as const) if ((n & (n - 1)) !== 0) x.fail(`${x.path}: a 2^n sweep runs between powers of two, ${n} is not one`);
    if (from > to) fromV.fail(`${fromV.path}: ${from} is above to (${to})`);
    sizes = [];
    for (let s = from; s <= to; s *= 2) sizes.push(s);
  }
  if (op === "atomic" && sizes.some((s) => s !== ATOMIC_BYTES)) v.fail(`${v.path}: an atomic moves ${ATOMIC_BYTES} bytes; sizes must be [${ATOMIC_BYTES}]`);
  return sizes;
}

function faultsOf(v: YamlValue): FaultRule[] {
  const rules = v.list().map((item): FaultRule => {
    const m = item.map();
    const kind = m.req("kind").oneOf(FAULT_KINDS);
    const rate = m.opt("rate")?.num();
    const frames = m.opt("frames")?.list().map((f) => f.int(1));
    const bits = m.opt("bits")?.int();
    const seed = m.opt("seed")?.int(0, 0xffffffff);
    const delay = m.opt("delay_ns");
    let delayPs: FaultRule["delayPs"];
    if (delay !== undefined) delayPs = delay.isSeq() ? (delay.list().map((d) => Math.round(d.num() * PS_PER_NS)) as [number, number]) : Math.round(delay.num() * PS_PER_NS);
    m.done();
    const rule: FaultRule = { kind, rate, frames, bits, seed, delayPs };
    try {
      checkFaultTable([rule], "fault");
    } catch (e) {
      item.fail(`${item.path}: ${(e as Error).message.replace(/^fault\[0\] \([a-z]+\): /, "")}`);
    }
    return rule;
  });
  return rules;
}

function adapterOf(m: YamlMap | undefined): AdapterTiming {
  const d = ADAPTER_DEFAULTS;
  if (m === undefined) return d;
  const pm = m.opt("pcie")?.map();
  const pd = PCIE_DEFAULTS;
  const pow2 = (v: YamlValue | undefined, dflt: number, lo: number, hi: number) => {
    if (v === undefined) return dflt;
    const n = v.int(lo, hi);
    if ((n & (n - 1)) !== 0) v.fail(`${v.path}: ${n} is not a power of two`);
    return n;
  };
  const pcie: PcieTiming = pm === undefined ? pd : {
    readLatencyNs: pm.opt("read_latency_ns")?.num() ?? pd.readLatencyNs,
    readLatencyJitterNs: pm.opt("read_latency_jitter_ns")?.num() ?? pd.readLatencyJitterNs,
    linkLatencyNs: pm.opt("link_latency_ns")?.num() ?? pd.linkLatencyNs,
    tags: pm.opt("tags")?.int(1, 1024) ?? pd.tags,
    maxReadRequestBytes: pow2(pm.opt("max_read_request"), pd.maxReadRequestBytes, 128, 4096),
    maxPayloadBytes: pow2(pm.opt("max_payload"), pd.maxPayloadBytes, 128, 4096),
    bytesPerSecond: (pm.opt("gbytes_per_s")?.num() ?? pd.bytesPerSecond / 1e9) * 1e9,
    requestOverheadBytes: pm.opt("request_overhead_bytes")?.int(0, 64) ?? pd.requestOverheadBytes,
    completionOverheadBytes: pm.opt("completion_overhead_bytes")?.int(0, 64) ?? pd.completionOverheadBytes,
  };
  pm?.done();
  for (const [k, v] of [["read_latency_ns", pcie.readLatencyNs], ["read_latency_jitter_ns", pcie.readLatencyJitterNs], ["link_latency_ns", pcie.linkLatencyNs]] as const) {
    if (v < 0) pm!.req(k).fail(`adapter.pcie.${k}: ${v} is below 0`);
  }
  if (!(pcie.bytesPerSecond > 0)) pm!.req("gbytes_per_s").fail("adapter.pcie.gbytes_per_s: must be above 0");
  const nonNeg = (key: string, dflt: number) => {
    const v = m.opt(key);
    if (v === undefined) return dflt;
    const x = v.num();
    if (x < 0) v.fail(`${v.path}: ${x} is below 0`);
    return x;
  };
  const clock = m.opt("clock_mhz");
  const a: AdapterTiming = {
    clockMhz: clock?.num() ?? d.clockMhz,
    datapathBytes: m.opt("datapath_bytes")?.int(1, 4096) ?? d.datapathBytes,
    pipelineCycles: m.opt("pipeline_cycles")?.int(0, 1_000_000) ?? d.pipelineCycles,
    hostPostNs: nonNeg("host_post_ns", d.hostPostNs),
    doorbellCycles: m.opt("doorbell_cycles")?.int(0, 1_000_000) ?? d.doorbellCycles,
    wqeBytes: m.opt("wqe_bytes")?.int(16, 4096) ?? d.wqeBytes,
    wqeFetchTags: m.opt("wqe_fetch_tags")?.int(1, 1024) ?? d.wqeFetchTags,
    wqeParseCycles: m.opt("wqe_parse_cycles")?.int(0, 1_000_000) ?? d.wqeParseCycles,
    egressFifoFrames: m.opt("egress_fifo_frames")?.int(1, 1 << 20) ?? d.egressFifoFrames,
    maxInline: m.opt("max_inline")?.int(0, 912) ?? d.maxInline,
    pcie,
  };
  if (!(a.clockMhz > 0 && a.clockMhz <= 100_000)) clock!.fail(`adapter.clock_mhz: ${a.clockMhz} is not in (0, 100000]`);
  m.done();
  return a;
}

export function parsePerftestScenario(root: YamlValue): PerftestScenario {
  const m = root.map();
  const name = m.req("scenario").str();
  const description = m.opt("description")?.str() ?? "";
  const seed = m.opt("seed")?.int(0, 0xffffffff) ?? 1;
  const test = m.req("perftest").oneOf(Object.keys(PERFTEST_TESTS) as PerftestTestName[]);
  const { kind, op } = PERFTEST_TESTS[test];

  const fm = m.req("fabric").map();
  const transport = fm.req("transport").oneOf(PERFTEST_TRANSPORTS);
  const linkV = fm.req("link");
  const linkName = linkV.str();
  const link = ((): LinkSpeed => {
    try {
      return linkSpeed(linkName);
    } catch (e) {
      return linkV.fail(`${linkV.path}: ${(e as Error).message}`);
    }
  })();
  if ((link.kind === "ib") !== (transport === "ib")) {
    linkV.fail(`${linkV.path}: ${transport} runs over ${transport === "ib" ? "an InfiniBand" : "an Ethernet"} link, "${linkName}" is ${link.kind === "ib" ? "InfiniBand" : "Ethernet"}`);
  }
  const topology = fm.opt("topology")?.oneOf(TOPOLOGIES) ?? "back-to-back";
  const cable = fm.opt("cable_m");
  const cableM = cable?.num() ?? 2;
  if (cableM < 0 || cableM > 100_000) cable!.fail(`${cable!.path}: ${cableM} m is not in [0, 100000]`);
  const crcMode = fm.opt("crc")?.oneOf(["trusted", "recompute"] as const) ?? "trusted";
  const faultsV = fm.opt("faults");
  const faults = faultsV === undefined || faultsV.node === null ? [] : faultsOf(faultsV);
  const sm = fm.opt("switch")?.map();
  const sw = {
    mode: sm?.opt("mode")?.oneOf(SWITCH_MODES) ?? ("store-and-forward" as SwitchMode),
    latencyPs: Math.round((sm?.opt("latency_ns")?.num() ?? 200) * PS_PER_NS),
    queueDepth: sm?.opt("queue_depth")?.int(1, 1 << 20) ?? 64,
  };
  sm?.done();
  if (sm !== undefined && topology !== "switch") fm.req("switch").fail(`fabric.switch: only for topology: switch (this fabric is ${topology})`);
  fm.done();
  const fabric: FabricParams = { transport, link, linkName, topology, propagationPs: Math.round(cableM * PS_PER_METRE), crcMode, faults, switch: sw };

  const tm = m.opt("test")?.map();
  const sizesV = tm?.opt("sizes");
  const maxBytes = tm?.opt("max_bytes_per_size");
  const mtuV = tm?.opt("mtu");
  const params: PerftestParams = {
    sizes: sizesV ? sizesOf(sizesV, op) : [op === "atomic" ? ATOMIC_BYTES : kind === "bw" ? 65536 : 2],
    iterations: tm?.opt("iterations")?.int(kind === "lat" ? MIN_LAT_ITERATIONS : 1, 100_000_000) ?? DEFAULT_ITERATIONS[kind],
    maxBytesPerSize: maxBytes?.int(1, Number.MAX_SAFE_INTEGER),
    txDepth: tm?.opt("tx_depth")?.int(1, 16384) ?? (kind === "bw" ? 128 : 1),
    qps: tm?.opt("qps")?.int(1, 1024) ?? 1,
    mtu: mtuV?.int() ?? 4096,
    cqMod: tm?.opt("cq_mod")?.int(1, 1024) ?? 100,
    outstandingReads: tm?.opt("outstanding_reads")?.int(1, 255) ?? 16,
    rxDepth: tm?.opt("rx_depth")?.int(1, 16384) ?? 512,
    verify: tm?.opt("verify")?.bool() ?? false,
  };
  tm?.done();
  if (!(PATH_MTUS as readonly number[]).includes(params.mtu)) mtuV!.fail(`test.mtu: ${params.mtu} is not a path MTU (${PATH_MTUS.join(", ")})`);

  const qm = m.opt("qp")?.map();
  const qp: QpParams = {
    timeout: qm?.opt("timeout")?.int(0, 31) ?? 14,
    retryCount: qm?.opt("retry_count")?.int(0, 7) ?? 7,
    rnrRetry: qm?.opt("rnr_retry")?.int(0, 7) ?? 7,
    minRnrTimer: qm?.opt("min_rnr_timer")?.int(0, 31) ?? 12,
    window: qm?.opt("window")?.int(1, 0x7f_ffff) ?? 128,
    ackReqEvery: qm?.opt("ack_req_every")?.int(1, 0x7f_ffff) ?? 64,
  };
  qm?.done();

  const adapter = adapterOf(m.opt("adapter")?.map());

  const cm = m.opt("checks")?.map();
  const checks: PerftestChecks = { data: true };
  const gm = cm?.opt("goodput")?.map();
  if (gm !== undefined) {
    const pV = gm.req("min_percent");
    const minPercent = pV.num();
    if (!(minPercent > 0 && minPercent <= 100)) pV.fail(`${pV.path}: ${minPercent} is not a percentage in (0, 100]`);
    if (kind !== "bw") pV.fail(`checks.goodput: a bandwidth check, ${test} is a latency test`);
    checks.goodput = { minPercent, fromBytes: gm.opt("from_bytes")?.int(1) ?? 1 };
    gm.done();
  }
  checks.data = cm?.opt("data")?.bool() ?? true;
  cm?.done();
  m.done();
  return { file: root.file, name, description, seed, test, fabric, params, qp, adapter, checks };
}

export function loadPerftestScenario(file: string): PerftestScenario {
  return parsePerftestScenario(readYamlFile(file));
}

/** a latency test needs this many iterations: perftest drops the 2 largest of the samples between posts */
export const MIN_LAT_ITERATIONS = 5;

/** iterations of one size: the scenario's, capped by max_bytes_per_size (at least 1; a latency test's at least MIN_LAT_ITERATIONS) */
export function iterationsFor(p: PerftestParams, size: number, kind: "bw" | "lat" = "bw"): number {
  if (p.maxBytesPerSize === undefined) return p.iterations;
  const least = kind === "lat" ? Math.min(p.iterations, MIN_LAT_ITERATIONS) : 1;
  return Math.max(least, Math.min(p.iterations, Math.floor(p.maxBytesPerSize / size)));
}
