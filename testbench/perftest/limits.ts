/**
 * What limits a bandwidth test, stated by the model: every resource a message passes
 * through keeps its busy time (front-end stages, the responder's PCIe reads, transmit and
 * receive datapaths, each direction of each link), and over a size's run the busiest one is the bottleneck when
 * it was busy nearly all the time. When none was, the test was bound by latency: the
 * work requests in flight (tx depth, or outstanding reads) over the round trip.
 */
import type { Link } from "../../hca/link/index.ts";
import { pcieReadRoundTripPs } from "../../hca/transport/index.ts";
import { FRONT_END_STAGE_TEXT, type FrontEndRequest, type FrontEndStageName } from "./front-end.ts";
import type { PerftestNode } from "./node.ts";
import type { PerftestBench } from "./testbench.ts";

/** a resource this busy over a run is the bottleneck */
export const SATURATED = 0.9;

export interface Resource {
  /** "hostA WQE fetch", "wire a-b hostA→hostB", … */
  readonly name: string;
  readonly kind: "front_end" | "pcie" | "datapath" | "wire";
  /** busy time so far [ps] */
  busyPs(): number;
  /** how its capacity comes about, for a request of this size */
  explain(r: FrontEndRequest): string;
}

function nodeResources(n: PerftestNode): Resource[] {
  const name = n.host.name;
  const t = n.frontEnd.timing;
  const gbps = ((t.datapathBytes * 8 * t.clockMhz) / 1000).toFixed(0);
  const out: Resource[] = n.frontEnd.stages.map((s) => ({
    name: `${name} ${FRONT_END_STAGE_TEXT[s.name as FrontEndStageName]}`,
    kind: "front_end" as const,
    busyPs: () => s.busyPs,
    explain: (r: FrontEndRequest) => s.explain(r),
  }));
  const dma = n.engine.responderDma;
  if (dma !== null) {
    const p = dma.timing;
    const gbs = (dma.mrrs / dma.spacingPs) * 1000;
    out.push({
      name: `${name} responder host reads (PCIe, READ/atomic data)`,
      kind: "pcie",
      busyPs: () => dma.busyPs,
      explain: () =>
        `${p.tags} reads of ${dma.mrrs} B in flight × ${(pcieReadRoundTripPs(p, dma.mrrs) / 1e6).toFixed(2)} µs PCIe round trip, ` +
        `completions on a ${(p.bytesPerSecond / 1e9).toFixed(2)} GB/s link: one read every ${(dma.spacingPs / 1000).toFixed(1)} ns = ${gbs.toFixed(2)} GB/s`,
    });
  }
  const c = n.port.counters;
  const dp = `${t.datapathBytes} bytes per cycle at ${t.clockMhz} MHz = ${gbps} Gb/s, whole cycles per packet`;
  out.push({ name: `${name} transmit datapath`, kind: "datapath", busyPs: () => c.transmitBusyPs, explain: () => dp });
  out.push({ name: `${name} receive datapath`, kind: "datapath", busyPs: () => c.receiveBusyPs, explain: () => dp });
  return out;
}

function linkResources(l: Link, ends: [string, string]): Resource[] {
  const dir = (port: typeof l.a, from: string, to: string): Resource => ({
    name: `wire ${l.name} ${from}→${to}`,
    kind: "wire",
    busyPs: () => port.counters.busyPs,
    explain: () => `${(l.bps / 1e9).toFixed(0)} Gb/s, every frame with its headers, CRCs and ${l.format === "ib" ? "delimiters" : "preamble and gap"}`,
  });
  return [dir(l.a, ends[0], ends[1]), dir(l.b, ends[1], ends[0])];
}

/** every resource of the testbench */
export function resources(tb: PerftestBench): Resource[] {
  const links = tb.fabric.links;
  const ends: [string, string][] = links.length === 1 ? [["hostA", "hostB"]] : [["hostA", "switch"], ["switch", "hostB"]];
  return [...nodeResources(tb.a), ...nodeResources(tb.b), ...links.flatMap((l, i) => linkResources(l, ends[i]!))];
}

export interface Limit {
  /** the busiest resource */
  resource: string;
  kind: Resource["kind"] | "latency" | "recovery";
  /** its busy share of the run, 0..1 */
  utilisation: number;
  /** why, in words */
  detail: string;
  /** the next busiest resources, for the report */
  others: { resource: string; utilisation: number }[];
}

/** busy times now, to difference later */
export function snapshot(rs: readonly Resource[]): number[] {
  return rs.map((r) => r.busyPs());
}

/**
 * The bottleneck of a run of `elapsedPs` between two snapshots; `inFlight` says what
 * bounds a latency-bound run ("128 work requests (tx depth)"), `roundTripPs` its mean
 * post-to-completion time.
 */
export function limitOf(rs: readonly Resource[], before: readonly number[], after: readonly number[], elapsedPs: number, r: FrontEndRequest, inFlight: string, roundTripPs: number): Limit {
  const u = rs.map((res, i) => ({ res, utilisation: elapsedPs > 0 ? (after[i]! - before[i]!) / elapsedPs : 0 }));
  u.sort((x, y) => y.utilisation - x.utilisation);
  const top = u[0]!;
  const others = u.slice(1, 4).map((x) => ({ resource: x.res.name, utilisation: x.utilisation }));
  if (top.utilisation >= SATURATED) {
    return { resource: top.res.name, kind: top.res.kind, utilisation: top.utilisation, detail: top.res.explain(r), others };
  }
  return {
    resource: `${inFlight} in flight`,
    kind: "latency",
    utilisation: top.utilisation,
    detail: `no resource saturated (busiest: ${top.res.name}, ${(top.utilisation * 100).toFixed(0)}%): ${inFlight} over a ${(roundTripPs / 1e6).toFixed(2)} µs post-to-completion time`,
    others: [{ resource: top.res.name, utilisation: top.utilisation }, ...others],
  };
}
