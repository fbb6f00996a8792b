/**
 * Frame-size sweep of a gateway scenario: the same configuration at each frame size,
 * a table of forwarded rate against line rate, and an SVG chart of it.
 */
import type { Scenario } from "./scenario.ts";
import { runScenario, type RunOptions, type RunResult } from "./runner.ts";
import { ethernetLineFps, ethernetRate } from "./links.ts";
import { UserError } from "../cosim/index.ts";

export interface SweepPoint {
  frameBytes: number;
  /** why the size was not run (e.g. it exceeds the IB MTU) */
  skipped?: string;
  /** per direction: forwarded frames/s summed over ports, and the lowest port's % of line rate */
  e2i?: { fps: number; gbps: number; minPercent: number };
  i2e?: { fps: number; gbps: number; minPercent: number };
  lineGbps: number;
  holdsLineRate?: boolean;
  drops?: Record<string, number>;
  /** the largest model-vs-RTL throughput error over the output streams */
  modelRtlThroughputError?: number;
  verdict?: "PASS" | "FAIL";
}

export async function runSweep(base: Scenario, opts: RunOptions & { onPoint?: (p: SweepPoint) => void }): Promise<SweepPoint[]> {
  const t = base.traffic;
  if (t.source !== "gateway" || !base.sweep) throw new UserError(`${base.file}: a sweep needs gateway traffic and a sweep section`);
  const ports = base.block.params.ETH_PORTS ?? 6;
  const mtu = base.block.params.MTU_BYTES ?? 2048;
  const bps = ethernetRate(t.ethernet, base.file);
  const out: SweepPoint[] = [];
  for (const size of base.sweep.frameBytes) {
    const lineGbps = (ports * ethernetLineFps(size, bps) * size * 8) / 1e9;
    // IPoIB carries the IP packet (frame − header − FCS) after a 4-byte header
    const ibPayload = size - 18 + 4;
    let point: SweepPoint;
    if (ibPayload > mtu) {
      point = { frameBytes: size, lineGbps, skipped: `the IPoIB payload (${ibPayload} bytes) exceeds the IB MTU (${mtu})` };
    } else {
      const sc: Scenario = { ...base, traffic: { ...t, frameBytes: size, durationUs: base.sweep.durationUs }, checks: base.checks.filter((c) => c !== "line_rate") };
      let r: RunResult;
      try {
        r = await runScenario(sc, opts);
      } catch (e) {
        const partial = (e as { partialResult?: RunResult }).partialResult;
        if (!partial) throw e;
        throw Object.assign(new Error(`sweep at ${size} bytes: ${(e as Error).message}`), { exitCode: 1, partialResult: partial });
      }
      const rows = r.lineRate!.rows;
      const dir = (d: string) => {
        const rs = rows.filter((x) => x.direction === d);
        if (!rs.length) return undefined;
        const fps = rs.reduce((s, x) => s + x.forwardedFps, 0);
        return { fps, gbps: (fps * size * 8) / 1e9, minPercent: Math.min(...rs.map((x) => x.percentOfLine)) };
      };
      const drops = r.lineRate!.drops;
      const e2i = dir("eth→ib");
      const i2e = dir("ib→eth");
      point = {
        frameBytes: size,
        lineGbps,
        ...(e2i ? { e2i } : {}),
        ...(i2e ? { i2e } : {}),
        holdsLineRate: rows.every((x) => x.forwarded === x.offered) && Object.values(drops).every((v) => v === 0) && [e2i, i2e].every((d) => !d || d.minPercent >= 99),
        drops,
        modelRtlThroughputError: r.scoreboard ? Math.max(0, ...r.scoreboard.streams.filter((s) => s.transactions > 1).map((s) => s.throughputError)) : undefined,
        verdict: r.verdict,
      };
    }
    out.push(point);
    opts.onPoint?.(point);
  }
  return out;
}

export function formatSweep(points: SweepPoint[]): string {
  const head = ["frame B", "eth→ib Gb/s", "min % line", "ib→eth Gb/s", "min % line", "line Gb/s", "line rate", "model/RTL thr err", "drops"];
  const rows = points.map((p) =>
    p.skipped
      ? [String(p.frameBytes), "-", "-", "-", "-", p.lineGbps.toFixed(3), "not run", "-", "-"]
      : [
          String(p.frameBytes),
          p.e2i ? p.e2i.gbps.toFixed(3) : "-",
          p.e2i ? `${p.e2i.minPercent.toFixed(2)}%` : "-",
          p.i2e ? p.i2e.gbps.toFixed(3) : "-",
          p.i2e ? `${p.i2e.minPercent.toFixed(2)}%` : "-",
          p.lineGbps.toFixed(3),
          p.holdsLineRate ? "holds" : "SHORT",
          p.modelRtlThroughputError === undefined ? "-" : `${(100 * p.modelRtlThroughputError).toFixed(2)}%`,
          Object.entries(p.drops ?? {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ") || "none",
        ],
  );
  const all = [head, ...rows];
  const w = head.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const notes = points.filter((p) => p.skipped).map((p) => `  ${p.frameBytes} B not run: ${p.skipped}`);
  const short = points.filter((p) => !p.skipped && !p.holdsLineRate).map((p) => `  ${p.frameBytes} B: short of line rate; the model and the RTL agree within ${(100 * (p.modelRtlThroughputError ?? 0)).toFixed(2)}%`);
  return [...all.map((r) => "  " + r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join("  ")), ...notes, ...short].join("\n");
}

/** An SVG line chart: forwarded Gb/s per direction against the line rate, by frame size (log scale). */
export function sweepSvg(points: SweepPoint[], title: string): string {
  const W = 720, H = 420, L = 70, R = 160, T = 40, B = 50;
  const run = points.filter((p) => !p.skipped);
  const xs = points.map((p) => p.frameBytes);
  const xmin = Math.log2(Math.min(...xs)), xmax = Math.log2(Math.max(...xs)) || xmin + 1;
  const ymax = Math.max(1e-9, ...points.map((p) => p.lineGbps), ...run.flatMap((p) => [p.e2i?.gbps ?? 0, p.i2e?.gbps ?? 0])) * 1.1;
  const x = (v: number) => L + ((Math.log2(v) - xmin) / Math.max(xmax - xmin, 1e-9)) * (W - L - R);
  const y = (v: number) => H - B - (v / ymax) * (H - T - B);
  const line = (pts: [number, number][], color: string, dash = "") =>
    pts.length ? `<polyline fill="none" stroke="${color}" stroke-width="2" ${dash ? `stroke-dasharray="${dash}"` : ""} points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(" ")}"/>` +
      pts.map(([a, b]) => `<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${color}"/>`).join("") : "";
  const ticksY = Array.from({ length: 6 }, (_, i) => (ymax / 1.1) * (i / 5));
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    // size labels, skipping any that would overlap the one before
    ...xs.filter((v, i) => i === 0 || x(v) - x(xs[i - 1]!) >= 24).map((v) => `<text x="${x(v).toFixed(1)}" y="${H - B + 16}" text-anchor="middle">${v}</text>`),
    `<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">Ethernet frame size [bytes]</text>`,
    ...ticksY.map((v) => `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(2)}</text><line x1="${L}" y1="${y(v).toFixed(1)}" x2="${W - R}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`),
    `<text x="16" y="${(T + H - B) / 2}" transform="rotate(-90 16 ${(T + H - B) / 2})" text-anchor="middle">forwarded [Gb/s of frames]</text>`,
    line(points.map((p) => [p.frameBytes, p.lineGbps]), "#888", "6 4"),
    line(run.filter((p) => p.e2i).map((p) => [p.frameBytes, p.e2i!.gbps]), "#1f77b4"),
    line(run.filter((p) => p.i2e).map((p) => [p.frameBytes, p.i2e!.gbps]), "#d62728"),
    ...run.filter((p) => !p.holdsLineRate).map((p) => `<text x="${x(p.frameBytes).toFixed(1)}" y="${T + 12}" text-anchor="middle" fill="#d62728">short</text>`),
    ...points.filter((p) => p.skipped).map((p) => `<text x="${x(p.frameBytes).toFixed(1)}" y="${(y(p.lineGbps) - 8).toFixed(1)}" text-anchor="middle" fill="#888">MTU</text>`),
    `<g transform="translate(${W - R + 12},${T + 10})"><line x1="0" y1="0" x2="24" y2="0" stroke="#888" stroke-dasharray="6 4" stroke-width="2"/><text x="30" y="4">line rate</text>`,
    `<line x1="0" y1="20" x2="24" y2="20" stroke="#1f77b4" stroke-width="2"/><text x="30" y="24">Ethernet → IB</text>`,
    `<line x1="0" y1="40" x2="24" y2="40" stroke="#d62728" stroke-width="2"/><text x="30" y="44">IB → Ethernet</text></g>`,
    `</svg>`,
  ].join("\n");
}
