/**
 * The perftest report: perftest's own table (its column headers, linux-rdma/perftest
 * perftest_parameters.h RESULT_FMT_G and RESULT_FMT_LAT), with two columns beside BW
 * average — the theoretical maximum for that size, MTU and link (hca/link
 * theoreticalGoodput: every header, CRC, FCS, preamble and gap) and the share of it
 * reached — and a last one naming what limits the rate. Then what the transport did
 * (retransmissions, timeouts, NAKs, CRC drops, injected faults), error completions, the
 * checks and the verdict.
 */
import { BTH_OPCODES, Bth, ICRC_BYTES } from "../../hca/headers/index.ts";
import { IB_VCRC_BYTES } from "../../hca/ib/index.ts";
import { FCS_BYTES, IB_HEAD_BYTES, linkDataRate, linkWireBytes, ROCEV2_HEAD_BYTES, theoreticalGoodput } from "../../hca/link/index.ts";
import type { LatFigures } from "./figures.ts";
import type { Limit } from "./limits.ts";
import type { CompletionError } from "./testbench.ts";
import { PERFTEST_TESTS, type PerftestOp, type PerftestScenario } from "./scenario.ts";

export interface BwRow {
  bytes: number;
  iterations: number;
  bwPeakGbps: number;
  bwAvgGbps: number;
  /** the theoretical maximum goodput of this size [Gb/s] */
  maxGbps: number;
  /** BW average as a share of it [%] */
  percentOfMax: number;
  msgRateMpps: number;
  limit: Limit;
}

export interface LatRow extends LatFigures {
  bytes: number;
  iterations: number;
}

export interface EngineCounters {
  packetsSent: number;
  packetsReceived: number;
  retransmissions: number;
  timeouts: number;
  naksSent: number;
  rnrNaksSent: number;
  acksSent: number;
  drops: Record<string, number>;
}

export interface PortReport {
  framesSent: number;
  framesReceived: number;
  /** frames dropped for a bad FCS, VCRC or ICRC */
  crcDrops: number;
  icrcBad: number;
  drops: Record<string, number>;
  maxEgressFifo: number;
}

export interface LinkReport {
  name: string;
  directions: { direction: string; frames: number; bytes: number; busyPs: number; delivered: number; injected: Record<string, number>; creditWaits: number }[];
}

export interface CheckResult {
  name: string;
  verdict: "PASS" | "FAIL";
  detail: string;
}

export interface PerftestResult {
  scenario: string;
  file: string;
  test: string;
  seed: number;
  setup: {
    transport: string;
    link: string;
    topology: string;
    cableM: number;
    mtu: number;
    qps: number;
    txDepth: number;
    cqMod: number;
    outstandingReads: number;
    faults: number;
  };
  bw?: BwRow[];
  lat?: LatRow[];
  engines: Record<string, EngineCounters>;
  ports: Record<string, PortReport>;
  links: LinkReport[];
  switch?: { forwarded: number; drops: Record<string, number> };
  errors: CompletionError[];
  /** QPs that ended in an error state, with their state */
  qpStates: { node: string; qpn: number; state: string }[];
  captures?: { path: string; frames: number }[];
  checks: CheckResult[];
  verdict: "PASS" | "FAIL";
  failures: string[];
  simulatedUs: number;
  events: number;
  wallSeconds: number;
}

const TITLES: Record<PerftestOp, string> = { write: "RDMA_Write", read: "RDMA_Read", send: "Send", atomic: "Atomic" };
const TRANSPORT_TEXT: Record<string, string> = { "rocev2-ipv4": "RoCEv2 over IPv4", "rocev2-ipv6": "RoCEv2 over IPv6", ib: "InfiniBand" };

/** the most message bytes per second the link allows for `size` [Gb/s] */
export function maxGoodputGbps(sc: PerftestScenario, size: number): number {
  const op = PERFTEST_TESTS[sc.test].op;
  const f = sc.fabric;
  if (op !== "atomic") {
    return theoreticalGoodput({ messageBytes: size, mtu: sc.params.mtu, speed: f.link, transport: f.transport, operation: op }).goodputBps / 1e9;
  }
  // an atomic request carries no payload: 8 bytes moved per request packet
  const head = f.transport === "ib" ? IB_HEAD_BYTES.local : ROCEV2_HEAD_BYTES[f.transport === "rocev2-ipv4" ? 4 : 6];
  const ext = BTH_OPCODES.find((o) => o.name === "RC_FETCH_ADD")!.headerBytes;
  const frame = head + Bth.sizeBytes + ext + ICRC_BYTES + (f.transport === "ib" ? IB_VCRC_BYTES : FCS_BYTES);
  return (linkDataRate(f.link) / (linkWireBytes(f.link, frame) * 8)) * 64 / 1e9;
}

const pad = (s: string, n: number) => s.padEnd(n);
const f2 = (x: number) => x.toFixed(2);
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

export function formatPerftest(r: PerftestResult, sc: PerftestScenario): string {
  const { kind, op } = PERFTEST_TESTS[sc.test];
  const line = "-".repeat(87);
  const s = r.setup;
  const out: string[] = [];
  out.push(`perftest ${r.test} — scenario ${r.scenario} (seed ${r.seed})${sc.description ? `: ${sc.description}` : ""}`);
  out.push(line);
  out.push(`                    ${TITLES[op]} ${kind === "bw" ? "BW" : "Latency"} Test`);
  out.push(` Transport       : ${TRANSPORT_TEXT[s.transport]}, RC`);
  out.push(` Link            : ${s.link}, ${s.topology === "switch" ? "through a switch" : "back to back"}, ${s.cableM} m${s.faults > 0 ? `, ${s.faults} fault rule${s.faults === 1 ? "" : "s"} on every link` : ""}`);
  out.push(` Number of qps   : ${s.qps}\t\tTransport type : IB`);
  out.push(` TX depth        : ${s.txDepth}`);
  if (kind === "bw") out.push(` CQ Moderation   : ${s.cqMod}`);
  out.push(` Mtu             : ${s.mtu}[B]`);
  if (op === "read" || op === "atomic") out.push(` Outstand reads  : ${s.outstandingReads}`);
  out.push(line);
  if (r.bw !== undefined) {
    out.push(" #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   BW max[Gb/sec]   of max   MsgRate[Mpps]   limited by");
    for (const b of r.bw) {
      out.push(
        ` ${pad(String(b.bytes), 10)} ${pad(String(b.iterations), 14)} ${pad(f2(b.bwPeakGbps), 18)} ${pad(f2(b.bwAvgGbps), 20)} ${pad(f2(b.maxGbps), 16)} ${pad(`${b.percentOfMax.toFixed(1)}%`, 8)} ${pad(b.msgRateMpps.toFixed(6), 15)} ${b.limit.resource}${b.limit.kind === "latency" || b.limit.kind === "recovery" ? "" : ` (${pct(b.limit.utilisation)})`}`,
      );
    }
    out.push(line);
    const first = r.bw[0];
    if (first !== undefined) {
      out.push(` ${first.bytes} B: ${f2(first.msgRateMpps)} Mpps, limited by ${first.limit.resource}${first.limit.kind === "latency" || first.limit.kind === "recovery" ? "" : ` (busy ${pct(first.limit.utilisation)})`}: ${first.limit.detail}`);
      if (first.limit.others.length > 0) out.push(`   then: ${first.limit.others.map((o) => `${o.resource} ${pct(o.utilisation)}`).join(", ")}`);
      const last = r.bw[r.bw.length - 1]!;
      if (last !== first) out.push(` ${last.bytes} B: ${f2(last.bwAvgGbps)} Gb/s of ${f2(last.maxGbps)} possible, limited by ${last.limit.resource}${last.limit.kind === "latency" || last.limit.kind === "recovery" ? "" : ` (busy ${pct(last.limit.utilisation)})`}: ${last.limit.detail}`);
    }
  }
  if (r.lat !== undefined) {
    out.push(" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]");
    for (const l of r.lat) {
      out.push(` ${pad(String(l.bytes), 7)} ${pad(String(l.iterations), 13)} ${pad(f2(l.tMin), 14)} ${pad(f2(l.tMax), 12)} ${pad(f2(l.tTypical), 18)} ${pad(f2(l.tAvg), 14)} ${pad(f2(l.tStdev), 15)} ${pad(f2(l.p99), 22)} ${f2(l.p999)}`);
    }
    out.push(line);
  }
  // what the transport had to do
  const ea = r.engines.hostA!;
  const eb = r.engines.hostB!;
  const crc = Object.values(r.ports).reduce((n, p) => n + p.crcDrops, 0);
  const injected: Record<string, number> = {};
  for (const l of r.links) for (const d of l.directions) for (const [k, v] of Object.entries(d.injected)) injected[k] = (injected[k] ?? 0) + v;
  const inj = Object.entries(injected).filter(([, v]) => v > 0);
  out.push(
    ` transport: ${ea.packetsSent + eb.packetsSent} packets; retransmissions ${ea.retransmissions + eb.retransmissions}, timeouts ${ea.timeouts + eb.timeouts}, ` +
      `NAKs ${ea.naksSent + eb.naksSent} (RNR ${ea.rnrNaksSent + eb.rnrNaksSent}), CRC drops ${crc}`,
  );
  const drops: Record<string, number> = {};
  for (const e of [ea, eb]) for (const [k, v] of Object.entries(e.drops)) drops[k] = (drops[k] ?? 0) + v;
  const dropList = Object.entries(drops).filter(([, v]) => v > 0);
  if (dropList.length > 0) out.push(` packets the transport set aside: ${dropList.map(([k, v]) => `${k.replace(/_/g, " ")} ${v}`).join(", ")}`);
  if (inj.length > 0) out.push(` injected on the links: ${inj.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  for (const e of r.errors) {
    out.push(` ERROR: ${e.node} QP 0x${e.qpn.toString(16)} work request ${e.index}: ${e.statusName} (status ${e.status}, syndrome 0x${e.syndrome.toString(16).padStart(2, "0")}); ${e.flushed} later work request${e.flushed === 1 ? "" : "s"} flushed`);
  }
  for (const q of r.qpStates) out.push(` ${q.node} QP 0x${q.qpn.toString(16)} is in ${q.state}`);
  for (const c of r.captures ?? []) out.push(` capture: ${c.path} (${c.frames} frames)`);
  for (const c of r.checks) out.push(` ${c.name}: ${c.verdict} — ${c.detail}`);
  out.push(` simulated ${(r.simulatedUs / 1000).toFixed(3)} ms in ${r.wallSeconds.toFixed(1)} s (${r.events} events)`);
  out.push(r.verdict);
  return out.join("\n");
}
