/**
 * Line-rate accounting for the gateway: per port and direction, frames offered and
 * forwarded, the forwarded rate against the line rate, and latency. Outputs are matched
 * to inputs by the tag every generated frame carries.
 */
import type { StreamTransaction } from "../core/block.ts";
import { Histogram } from "../core/stats.ts";
import { ethernetLineFps } from "./links.ts";
import { findTag, type GatewayTraffic } from "./traffic/gateway-traffic.ts";

export interface LineRateRow {
  port: number;
  direction: "eth→ib" | "ib→eth";
  offered: number;
  forwarded: number;
  /** offered and forwarded rates [frames/s]; forwarded is measured between the first and last output */
  offeredFps: number;
  forwardedFps: number;
  lineFps: number;
  /** forwarded rate as a share of the Ethernet line rate [%] */
  percentOfLine: number;
  latencyNs: { p50: number; p99: number; max: number };
}

export interface LineRateReport {
  frameBytes: number;
  rows: LineRateRow[];
  ibLimited: boolean;
  /** drops by reason, from the block's counters */
  drops: Record<string, number>;
  slowPath: number;
  untagged: number;
}

interface Acc {
  forwarded: number;
  first: number;
  last: number;
  latency: Histogram;
}

export class LineRateMeter {
  private readonly acc = new Map<string, Acc>();
  private untagged = 0;

  constructor(
    private readonly traffic: GatewayTraffic,
    private readonly ethPorts: number,
    private readonly ethBps: number,
    private readonly frameBytes: number,
    private readonly nsPerCycle: number,
  ) {}

  private row(key: string): Acc {
    let a = this.acc.get(key);
    if (!a) this.acc.set(key, (a = { forwarded: 0, first: Infinity, last: -Infinity, latency: new Histogram(key) }));
    return a;
  }

  /** an output transaction of the block */
  output(stream: string, t: StreamTransaction): void {
    if (stream === "m_slow_axis") return;
    const seq = findTag(t.data);
    const sent = seq >= 0 ? this.traffic.sent.get(seq) : undefined;
    if (!sent) {
      this.untagged++;
      return;
    }
    // eth→ib rows are keyed by the input port, ib→eth rows by the output port
    const key = stream === "m_ib_axis" ? `e2i:${sent.stream}` : `i2e:${stream}`;
    const a = this.row(key);
    a.forwarded++;
    a.first = Math.min(a.first, t.endCycle);
    a.last = Math.max(a.last, t.endCycle);
    a.latency.record((t.endCycle - sent.startCycle) * this.nsPerCycle);
  }

  report(wires: Record<string, number>): LineRateReport {
    const lineFps = ethernetLineFps(this.frameBytes, this.ethBps);
    const rows: LineRateRow[] = [];
    const make = (port: number, direction: LineRateRow["direction"], key: string, offered: number, offeredFps: number): LineRateRow => {
      const a = this.acc.get(key);
      const n = a?.forwarded ?? 0;
      const span = a && n > 1 ? (a.last - a.first) * this.nsPerCycle * 1e-9 : 0;
      const forwardedFps = span > 0 ? (n - 1) / span : 0;
      const h = a?.latency;
      return {
        port, direction, offered, forwarded: n, offeredFps, forwardedFps, lineFps,
        percentOfLine: (100 * forwardedFps) / lineFps,
        latencyNs: h && h.count ? { p50: h.p50, p99: h.p99, max: h.max } : { p50: 0, p99: 0, max: 0 },
      };
    };
    const offer = this.traffic.offer.streams;
    for (let p = 0; p < this.ethPorts; p++) {
      const s = offer[`s_eth_axis[${p}]`];
      if (s) rows.push(make(p, "eth→ib", `e2i:s_eth_axis[${p}]`, s.frames, s.fps));
    }
    const ib = offer["s_ib_axis"];
    if (ib) {
      for (let p = 0; p < this.ethPorts; p++) {
        // packet k goes to port k mod ETH_PORTS
        const frames = Math.floor(ib.frames / this.ethPorts) + (p < ib.frames % this.ethPorts ? 1 : 0);
        rows.push(make(p, "ib→eth", `i2e:m_eth_axis[${p}]`, frames, ib.fps / this.ethPorts));
      }
    }
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(wires)) if (k.startsWith("stat_drop_")) drops[k.slice("stat_drop_".length)] = v;
    return { frameBytes: this.frameBytes, rows, ibLimited: this.traffic.offer.ibLimited, drops, slowPath: wires.stat_slow_path ?? 0, untagged: this.untagged };
  }
}

/** The line_rate check: every offered frame forwarded, at the offered rate, with no drops. */
export function lineRateFailures(r: LineRateReport): string[] {
  const out: string[] = [];
  for (const row of r.rows) {
    if (row.forwarded !== row.offered) out.push(`port ${row.port} ${row.direction}: ${row.forwarded} of ${row.offered} frames forwarded`);
    else if (row.offered > 1 && row.forwardedFps < 0.99 * row.offeredFps) {
      out.push(`port ${row.port} ${row.direction}: forwarded ${(row.forwardedFps / 1e6).toFixed(4)} Mframes/s < offered ${(row.offeredFps / 1e6).toFixed(4)}`);
    }
  }
  const dropped = Object.entries(r.drops).filter(([, v]) => v > 0);
  if (dropped.length) out.push(`drops: ${dropped.map(([k, v]) => `${k} ${v}`).join(", ")}`);
  return out;
}
