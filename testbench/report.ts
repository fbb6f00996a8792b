/**
 * The terminal summary and the JSON result of a scenario run.
 */
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { LineRateReport } from "./line-rate.ts";
import type { RunResult } from "./runner.ts";

function si(n: number, unit = ""): string {
  const a = Math.abs(n);
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G${unit}`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M${unit}`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(2)} k${unit}`;
  return `${Number.isInteger(n) ? n : n.toFixed(2)} ${unit}`.trimEnd();
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => "  " + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

export function formatSummary(r: RunResult): string {
  const out: string[] = [];
  const params = Object.entries(r.block.params).map(([k, v]) => `${k}=${v}`).join(" ");
  const build = r.block.build;
  out.push(`scenario ${r.scenario} (seed ${r.seed}) — block ${r.block.name} ${params} @ ${r.block.clockMhz} MHz, ${r.block.rtl ? "model and RTL in lockstep" : "model only"}`);
  if (r.block.endpoint) out.push(`  RTL served by ${r.block.endpoint} (hcasim rtl-server)`);
  if (build) out.push(`  RTL build ${build.key}${build.cached ? " (cached)" : ` (built in ${build.seconds.toFixed(1)} s)`}${build.defects.length ? `, defects injected: ${build.defects.join(", ")}` : ""}`);

  const cycles = r.lockstep?.cycles ?? r.modelOnly?.cycles ?? 0;
  const gbps = (bytesPerCycle: number) => (bytesPerCycle * 8 * r.block.clockMhz * 1e6) / 1e9;
  out.push("");
  const head = ["stream", "transactions", "bytes", "Gb/s", "of datapath", "latency err p50/p99/max", "thr err"];
  const rows = [head];
  for (const s of r.scoreboard?.streams ?? []) {
    // every stream of the blocks so far is DATA_BYTES wide
    const capacity = gbps(r.block.params.DATA_BYTES ?? 0);
    const g = gbps(s.rtlBytesPerCycle);
    rows.push([
      s.port,
      String(s.transactions),
      si(s.bytes, "B"),
      g.toFixed(2),
      capacity ? `${((100 * g) / capacity).toFixed(1)}%` : "",
      `${s.latencyError.p50}/${s.latencyError.p99}/${s.latencyError.maxAbs} cyc`,
      `${(100 * s.throughputError).toFixed(3)}%`,
    ]);
  }
  if (!r.scoreboard) rows.push(["(model, all outputs)", String(r.outputs.transactions), si(r.outputs.bytes, "B"), "", "", "-", "-"]);
  out.push(`  ${si(cycles)} cycles simulated (${((cycles / r.block.clockMhz) / 1000).toFixed(3)} ms at ${r.block.clockMhz} MHz)`);
  out.push(table(rows));
  out.push("");
  if (r.scoreboard) {
    const sb = r.scoreboard;
    const n = sb.streams.reduce((a, s) => a + s.transactions, 0);
    out.push(`  content: ${sb.functional.toUpperCase()} — ${n} output transactions identical in content and order`);
    const worst = Math.max(0, ...sb.streams.map((s) => s.latencyError.maxAbs));
    const worstThr = Math.max(0, ...sb.streams.map((s) => s.throughputError));
    out.push(
      `  timing:  ${sb.timing.toUpperCase()} — max |latency error| ${worst} cycles (tolerance ${sb.tolerance.latencyCycles}), ` +
        `throughput error ${(100 * worstThr).toFixed(3)}% (tolerance ${(100 * sb.tolerance.throughput).toFixed(1)}%)`,
    );
  }
  if (r.status) {
    const by = Object.entries(r.status.byStatus).map(([k, v]) => `${k} ${v}`).join(", ");
    out.push(`  icrc_status: ${r.status.pass ? "PASS" : "FAIL"} — ${by}; ${r.status.judged} judged against the source, ${r.status.wrong} wrong`);
    if (r.status.firstFailure) out.push(`    first: ${r.status.firstFailure}`);
  }
  if (r.lineRate) out.push("", formatLineRate(r.lineRate));
  if (r.tpt) {
    const t = r.tpt;
    out.push(`  tpt_oracle: ${t.failures.length ? "FAIL" : "PASS"} — ${t.lookups} lookups (${Object.entries(t.faults).map(([k, v]) => `${k} ${v}`).join(", ")}); ${t.readbacks} table read-backs`);
    out.push(`  MPT cache hit rate ${(100 * t.hitRate).toFixed(1)}% (stat_hits / stat_lookups)`);
    if (t.service) {
      const f = (l: { count: number; p50: number; p99: number; max: number }) => `${l.p50}/${l.p99}/${l.max} cycles (${l.count} lookups)`;
      out.push(`  hit latency p50/p99/max ${f(t.service.hit)}; miss latency ${f(t.service.miss)} — s_req handshake to first response beat`);
    }
    out.push(`  latency from offer to last response beat, queueing included: cached regions p50/p99 ${t.latency.hot.p50}/${t.latency.hot.p99} cycles, cold regions ${t.latency.cold.p50}/${t.latency.cold.p99} cycles`);
    for (const f of t.failures) out.push(`    ${f}`);
  }
  if (r.wqe) {
    const w = r.wqe;
    const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${k} ${v}`).join(", ") || "none";
    out.push(`  wqe_oracle: ${w.failures.length ? "FAIL" : "PASS"} — ${w.wqes} WQEs posted on ${w.queues} queues by ${w.fetches} fetches; ${w.reads} DMA reads issued`);
    out.push(`  ${w.wrs} work requests (${list(w.wrsByOpcode)}); ${w.inline} inline, ${w.multiSge} with 2+ SGEs, ${w.spanning} reaching the second basic block`);
    out.push(`  rejected: ${w.staleOwnerRejects} stale owner (all: ${list(w.rejects)})`);
    out.push(`  ${w.outOfOrderCompletions} DMA completions out of order; ${w.ringWraps} ring wraps, ${w.counterWraps} counter wraps; ${w.emptyFetches} empty and ${w.foreignFetches} foreign-QPN fetches`);
    for (const f of w.failures) out.push(`    ${f}`);
  }
  if (r.doorbells) {
    const d = r.doorbells;
    out.push(`  doorbell_oracle: ${d.failures.length ? "FAIL" : "PASS"} — ${d.doorbells} doorbells (${Object.entries(d.verdicts).map(([k, v]) => `${k} ${v}`).join(", ")}); ${d.fetches} fetches, ${d.cqUpdates} CQ updates, ${d.coalesced} coalesced; ${d.readbacks} ownership read-backs`);
    for (const f of d.failures) out.push(`    ${f}`);
  }
  if (r.captures?.length) out.push(`  captures: ${r.captures.length} files in ${r.captures[0]!.path.replace(/\/[^/]*$/, "/")} (${r.captures.reduce((s, c) => s + c.packets, 0)} packets)`);
  if (r.lockstep) {
    const l = r.lockstep;
    out.push(
      `  speed: ${si(l.cycles)} cycles in ${l.wallSeconds.toFixed(2)} s = ${si(l.cyclesPerSecond)} cycles/s in lockstep ` +
        `(${l.quanta} quanta; the RTL process spent ${l.rtlSimSeconds.toFixed(2)} s clocking)`,
    );
  } else if (r.modelOnly) {
    out.push(`  speed: ${r.modelOnly.transactions} transactions through the model in ${r.modelOnly.wallSeconds.toFixed(2)} s`);
  }
  out.push("");
  for (const f of r.failures) out.push(`  failure: ${f}`);
  out.push(r.verdict);
  return out.join("\n");
}

export function formatLineRate(l: LineRateReport): string {
  const rows: string[][] = [["port", "direction", "offered Mfps", "forwarded Mfps", "line Mfps", "% of line", "delivered", "latency p50/p99/max ns"]];
  for (const r of l.rows) {
    rows.push([
      String(r.port),
      r.direction,
      (r.offeredFps / 1e6).toFixed(4),
      (r.forwardedFps / 1e6).toFixed(4),
      (r.lineFps / 1e6).toFixed(4),
      `${r.percentOfLine.toFixed(2)}%`,
      `${r.forwarded}/${r.offered}`,
      `${r.latencyNs.p50.toFixed(0)}/${r.latencyNs.p99.toFixed(0)}/${r.latencyNs.max.toFixed(0)}`,
    ]);
  }
  const drops = Object.entries(l.drops).map(([k, v]) => `${k} ${v}`).join(", ");
  const lines = [`  line rate, ${l.frameBytes}-byte frames:`, table(rows), `  drops: ${drops || "none"}; slow path: ${l.slowPath}`];
  if (l.ibLimited) lines.push("  note: the IB link cannot carry the offered IB→Ethernet load at this size; it was offered at the IB link's rate");
  if (l.untagged) lines.push(`  note: ${l.untagged} outputs carried no traffic tag`);
  return lines.join("\n");
}

/** Write a file atomically: a crash never leaves half a file behind. */
export function writeText(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export function writeJson(path: string, value: unknown): void {
  writeText(path, JSON.stringify(value, (_k, v) => (v === Infinity ? null : v), 2) + "\n");
}
