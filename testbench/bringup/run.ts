/**
 * The firmware bring-up run: the host side (firmware worker, driver, work requests), then
 * the pipeline stages doorbell → wqe_fetch → tpt, each RTL in lockstep with its twin, then
 * the end-to-end oracle. `hcasim run <file>` comes here for a scenario with `stages:`.
 */
import { UserError } from "../../cosim/index.ts";
import { writeJson } from "../report.ts";
import type { RtlTableCapacity } from "../../firmware/device-config.ts";
import { TPT_PARAM_NAMES } from "../../hca/tpt/tpt-format.ts";
import { runHost } from "./host.ts";
import { EndToEndOracle, type EndToEndReport } from "./oracle.ts";
import { BRINGUP_STAGES, type BringupScenario, type BringupStageName } from "./scenario.ts";
import { doorbellStimulus, runStage, stageBlock, tptStimulus, wqeFetchStimulus, type StageResult } from "./stages.ts";

export interface BringupOptions {
  /** defect defines per stage (each declared in that block's block.yaml) */
  readonly defects?: Partial<Record<BringupStageName, string[]>>;
  readonly log?: (line: string) => void;
}

/** a stage in the result: its figures, not its transactions */
export interface StageSummary {
  readonly name: BringupStageName;
  readonly params: Record<string, number>;
  readonly mode: "rtl" | "model";
  readonly build?: StageResult["build"];
  readonly inputs: Record<string, number>;
  readonly outputs: Record<string, number>;
  /** mismatches between RTL and twin: 0, or 1 with the first one's report (a run stops there) */
  readonly mismatches: number;
  readonly mismatch?: string;
  readonly timing: "pass" | "fail" | "not checked" | "model only" | "stopped";
  /** per output stream: latency error (RTL − model end cycle) and throughput error */
  readonly streams: { port: string; transactions: number; latencyError: { p50: number; p99: number; maxAbs: number }; throughputError: number }[];
  readonly cycles: number;
  readonly wallSeconds: number;
  readonly failure?: string;
}

export interface BringupResult {
  readonly scenario: string;
  readonly seed: number;
  readonly host: {
    contexts: number;
    qps: number;
    regions: number;
    /** firmware commands by name, in order of first use, with counts */
    commands: Record<string, number>;
    /** configuration transactions per block */
    config: Record<string, number>;
    doorbells: number;
    workRequests: number;
  };
  readonly stages: StageSummary[];
  endToEnd?: EndToEndReport;
  verdict: "PASS" | "FAIL";
  readonly failures: string[];
}

function summarise(r: StageResult): StageSummary {
  const sb = r.scoreboard;
  const outputs = Object.fromEntries(Object.entries(r.outputs).map(([p, t]) => [p, t.length]));
  return {
    name: r.name,
    params: r.block.params,
    mode: r.rtl ? "rtl" : "model",
    ...(r.build ? { build: r.build } : {}),
    inputs: r.inputs,
    outputs,
    mismatches: sb?.mismatch ? 1 : 0,
    ...(sb?.mismatch ? { mismatch: sb.mismatch } : {}),
    timing: r.failure && sb?.mismatch ? "stopped" : sb ? sb.timing : "model only",
    streams: (sb?.streams ?? []).map((s) => ({ port: s.port, transactions: s.transactions, latencyError: { p50: s.latencyError.p50, p99: s.latencyError.p99, maxAbs: s.latencyError.maxAbs }, throughputError: s.throughputError })),
    cycles: r.lockstep?.cycles ?? r.modelOnly?.cycles ?? 0,
    wallSeconds: r.lockstep?.wallSeconds ?? r.modelOnly?.wallSeconds ?? 0,
    ...(r.failure ? { failure: r.failure } : {}),
  };
}

export async function runBringup(sc: BringupScenario, o: BringupOptions = {}): Promise<BringupResult> {
  const log = o.log ?? (() => undefined);
  for (const k of Object.keys(o.defects ?? {})) {
    if (!(BRINGUP_STAGES as readonly string[]).includes(k)) throw new UserError(`defect for "${k}": not a stage (stages: ${BRINGUP_STAGES.join(", ")})`);
  }
  const spec = (n: BringupStageName) => sc.stages.find((s) => s.name === n)!;
  const blocks = Object.fromEntries(BRINGUP_STAGES.map((n) => [n, stageBlock(spec(n))])) as Record<BringupStageName, ReturnType<typeof stageBlock>>;
  const p = (n: BringupStageName, name: string) => blocks[n].params[name]!;
  // the firmware may hand out only what every block holds: QPs in both the doorbell and wqe_fetch tables
  const capacity: RtlTableCapacity = {
    qps: Math.min(p("doorbell", "QP_ENTRIES"), p("wqe_fetch", "QP_ENTRIES")),
    cqs: p("doorbell", "CQ_ENTRIES"),
    mpts: p("tpt", TPT_PARAM_NAMES.mptEntries),
    mtts: p("tpt", TPT_PARAM_NAMES.mttEntries),
  };

  log("host: bring-up through the firmware worker, registration, work requests");
  const host = await runHost(sc, {
    capacity, uarPages: p("doorbell", "UAR_PAGES"), maxSegments: p("tpt", TPT_PARAM_NAMES.maxSegments), cacheEntries: p("tpt", TPT_PARAM_NAMES.cacheEntries),
  });
  const commands: Record<string, number> = {};
  for (const c of host.commands) commands[c] = (commands[c] ?? 0) + 1;
  const config: Record<string, number> = {};
  for (const c of host.config) config[c.block] = (config[c.block] ?? 0) + 1;
  const result: BringupResult = {
    scenario: sc.name, seed: sc.seed,
    host: { contexts: host.contexts, qps: host.qps, regions: host.regions, commands, config, doorbells: host.doorbells.length, workRequests: host.wrs.length },
    stages: [], verdict: "PASS", failures: [],
  };
  const stageOpts = (n: BringupStageName) => ({
    defects: o.defects?.[n] ?? [], quantumCycles: sc.cosim.quantumCycles, timeoutMs: sc.cosim.timeoutMs, checkTiming: sc.checks.includes("timing"), log,
  });
  const oracle = new EndToEndOracle(host);
  const run = async (n: BringupStageName, stim: Parameters<typeof runStage>[2]): Promise<StageResult | null> => {
    log(`stage ${n}: ${stim.items.length} input transactions${spec(n).rtl ? ", RTL in lockstep with its twin" : ", twin alone"}`);
    const r = await runStage(spec(n), blocks[n], stim, stageOpts(n));
    result.stages.push(summarise(r));
    if (r.failure) {
      result.failures.push(r.failure);
      return null;
    }
    return r;
  };

  const db = await run("doorbell", doorbellStimulus(host, blocks.doorbell.manifest.clock.mhz));
  if (db) {
    oracle.doorbell(db.outputs.m_err!);
    const wf = wqeFetchStimulus(host, db.outputs.m_fetch!, db.windows, p("wqe_fetch", "TAGS"), sc.traffic.dmaLatency, sc.seed);
    const wqe = await run("wqe_fetch", wf);
    if (wqe) {
      oracle.wqeFetch(wqe.outputs, wf.reads);
      const tp = tptStimulus(host, wqe.outputs.m_wr!, wqe.windows);
      const tpt = await run("tpt", tp);
      if (tpt) {
        oracle.tpt(tpt.outputs.m_resp!, tp.lookups);
        oracle.execute();
        result.endToEnd = oracle.report;
        if (sc.checks.includes("end_to_end")) result.failures.push(...oracle.report.failures.map((f) => `end_to_end: ${f}`));
      }
    }
  }
  for (const n of BRINGUP_STAGES) if (!result.stages.some((s) => s.name === n)) result.failures.push(`stage ${n}: not run (an earlier stage failed)`);
  if (result.failures.length) result.verdict = "FAIL";
  return result;
}

/** `--defect BLOCK:DEFINE` (or a bare DEFINE that exactly one stage's block declares) → defects per stage */
export function defectsByStage(sc: BringupScenario, defects: readonly string[]): Partial<Record<BringupStageName, string[]>> {
  const out: Partial<Record<BringupStageName, string[]>> = {};
  for (const d of defects) {
    const m = /^([a-z_]+):(\w+)$/.exec(d);
    let stage: BringupStageName;
    let define: string;
    if (m) {
      if (!(BRINGUP_STAGES as readonly string[]).includes(m[1]!)) throw new UserError(`--defect ${d}: "${m[1]}" is not a stage of ${sc.file} (stages: ${BRINGUP_STAGES.join(", ")})`);
      stage = m[1] as BringupStageName;
      define = m[2]!;
    } else {
      const owners = sc.stages.filter((s) => stageBlock(s).manifest.defects.includes(d)).map((s) => s.name);
      if (owners.length !== 1) {
        throw new UserError(`--defect ${d}: ${owners.length ? `declared by ${owners.join(" and ")}; say which: --defect ${owners[0]}:${d}` : "no stage's block declares it"}`);
      }
      stage = owners[0]!;
      define = d;
    }
    (out[stage] ??= []).push(define);
  }
  return out;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => "  " + r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join("  ")).join("\n");
}

export function formatBringup(r: BringupResult): string {
  const out: string[] = [];
  const h = r.host;
  out.push(`scenario ${r.scenario} (seed ${r.seed}) — firmware bring-up, pipeline ${BRINGUP_STAGES.join(" → ")}`);
  out.push(`  host: ${h.contexts} contexts, ${h.qps} QPs, ${h.regions} regions; ${h.workRequests} work requests in ${h.doorbells} doorbells`);
  out.push(`  firmware (worker thread): ${Object.entries(h.commands).map(([k, v]) => (v > 1 ? `${k}×${v}` : k)).join(", ")}`);
  out.push(`  configuration transactions: ${Object.entries(h.config).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  out.push("");
  const rows = [["stage", "mode", "inputs", "outputs", "mismatches", "latency err p50/p99/max", "thr err", "timing", "cycles"]];
  for (const s of r.stages) {
    const worst = s.streams.reduce((a, x) => (x.latencyError.maxAbs > a.latencyError.maxAbs ? x : a), s.streams[0] ?? { latencyError: { p50: 0, p99: 0, maxAbs: 0 } });
    const thr = Math.max(0, ...s.streams.map((x) => x.throughputError));
    const sum = (x: Record<string, number>) => Object.values(x).reduce((a, b) => a + b, 0);
    rows.push([
      s.name,
      s.mode === "rtl" ? `RTL+twin${s.build?.defects.length ? ` (${s.build.defects.join(",")})` : ""}` : "twin",
      String(sum(s.inputs)),
      String(sum(s.outputs)),
      s.mode === "rtl" ? String(s.mismatches) : "-",
      s.mode === "rtl" ? `${worst.latencyError.p50}/${worst.latencyError.p99}/${worst.latencyError.maxAbs} cyc` : "-",
      s.mode === "rtl" ? `${(100 * thr).toFixed(3)}%` : "-",
      s.timing,
      s.timing === "stopped" ? "-" : String(s.cycles),
    ]);
  }
  out.push(table(rows));
  for (const s of r.stages) {
    out.push(`  ${s.name}: in ${Object.entries(s.inputs).map(([k, v]) => `${k} ${v}`).join(", ")}; out ${Object.entries(s.outputs).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
  const e = r.endToEnd;
  if (e) {
    out.push("");
    out.push(`  end_to_end: ${e.failures.length ? "FAIL" : "PASS"} — ${e.workRequests} work requests (${e.valid} valid; invalid: ${Object.entries(e.invalid).map(([k, v]) => `${k} ${v}`).join(", ") || "none"})`);
    out.push(`    ${e.lookups} translations (${Object.entries(e.faults).map(([k, v]) => `${k} ${v}`).join(", ")})`);
    out.push(`    data mover: ${e.dmaWrites} DMA writes (${e.bytesWritten} bytes), ${e.dmaReads} DMA reads; no byte written outside the valid requests' segments${e.failures.some((f) => f.startsWith("host memory")) ? " — VIOLATED" : ""}`);
    for (const f of e.failures) out.push(`    ${f}`);
  }
  out.push("");
  for (const f of r.failures) out.push(`  failure: ${f}`);
  out.push(r.verdict);
  return out.join("\n");
}


/** the `hcasim run` options that apply to a bring-up scenario */
export interface BringupCommandOptions {
  json?: string;
  seed?: number;
  defect: string[];
  modelOnly?: boolean;
  quiet?: boolean;
  /** one-block options, refused here */
  trace?: string;
  pcap?: string;
  count?: number;
  param: string[];
}

/** `hcasim run` on a bring-up scenario: prints the summary, writes the JSON; returns the exit code */
export async function runBringupCommand(sc: BringupScenario, o: BringupCommandOptions, write: (text: string) => void, log: (line: string) => void): Promise<number> {
  const refused = [["--trace", o.trace], ["--pcap", o.pcap], ["--count", o.count], ["--param", o.param.length ? o.param : undefined]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (refused.length) throw new UserError(`${refused.join(", ")}: not for a pipeline scenario (${sc.file}); set stage parameters under stages: in the file`);
  if (o.seed !== undefined) sc.seed = o.seed;
  if (o.modelOnly) for (const s of sc.stages) s.rtl = false;
  const r = await runBringup(sc, { defects: defectsByStage(sc, o.defect), log: o.quiet ? undefined : log });
  write(formatBringup(r) + "\n");
  if (o.json) writeJson(o.json, r);
  return r.verdict === "PASS" ? 0 : 1;
}
