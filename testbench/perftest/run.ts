/**
 * A perftest run: the testbench, each size of the test in turn on the same QPs (as
 * perftest -a does), the checks, and the result. `hcasim run <file>` comes here for a
 * scenario with a top-level `perftest:` key (runPerftestCommand).
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { RunFailure, UserError } from "../../cosim/index.ts";
import { qpStateName, QpState } from "../../hca/transport/index.ts";
import { writeJson } from "../report.ts";
import { runBwSize } from "./bw.ts";
import { runLatSize } from "./lat.ts";
import { type BwRow, type CheckResult, formatPerftest, type LatRow, type LinkReport, maxGoodputGbps, type PerftestResult } from "./report.ts";
import { iterationsFor, MIN_LAT_ITERATIONS, PERFTEST_TESTS, type PerftestScenario } from "./scenario.ts";
import { PerftestBench, StallError } from "./testbench.ts";

export interface PerftestOptions {
  /** one capture per link in this folder */
  readonly pcapDir?: string;
  /** progress, one line per size */
  readonly log?: (line: string) => void;
  /** called with the testbench once it is built (tests reach into it) */
  readonly onBench?: (tb: PerftestBench) => void;
}

interface OpenCapture {
  fd: number;
  tmp: string;
  path: string;
}

export function runPerftest(sc: PerftestScenario, o: PerftestOptions = {}): PerftestResult {
  const t0 = performance.now();
  const { kind } = PERFTEST_TESTS[sc.test];
  let tb: PerftestBench;
  try {
    tb = new PerftestBench(sc);
  } catch (e) {
    throw new UserError(`${sc.file}: cannot build the testbench: ${(e as Error).message}`);
  }
  o.onBench?.(tb);
  const files: OpenCapture[] = [];
  if (o.pcapDir !== undefined) {
    mkdirSync(o.pcapDir, { recursive: true });
    tb.fabric.capture((link, header) => {
      const path = join(o.pcapDir!, `${link.name}.pcap`);
      const tmp = `${path}.tmp`;
      const fd = openSync(tmp, "w");
      writeSync(fd, header);
      files.push({ fd, tmp, path });
      return (record) => void writeSync(fd, record);
    });
  }

  const bw: BwRow[] = [];
  const lat: LatRow[] = [];
  const dataProblems: string[] = [];
  let messagesChecked = 0;
  const failures: string[] = [];
  try {
    for (const size of sc.params.sizes) {
      const iterations = iterationsFor(sc.params, size, kind);
      const w0 = performance.now();
      if (kind === "bw") {
        const r = runBwSize(tb, size, iterations);
        dataProblems.push(...r.dataProblems.map((d) => `${size} B: ${d}`));
        messagesChecked += r.messagesChecked;
        if (r.figures !== undefined && r.limit !== undefined) {
          const maxGbps = maxGoodputGbps(sc, size);
          bw.push({ bytes: size, iterations: iterations * sc.params.qps, bwPeakGbps: r.figures.peakGbps, bwAvgGbps: r.figures.avgGbps, maxGbps, percentOfMax: (r.figures.avgGbps / maxGbps) * 100, msgRateMpps: r.figures.msgRateMpps, limit: r.limit });
        }
        o.log?.(`  ${sc.test} ${size} B × ${iterations}: ${r.figures ? `${r.figures.avgGbps.toFixed(2)} Gb/s` : "failed"} (${((performance.now() - w0) / 1000).toFixed(1)} s)`);
        if (r.failed) break;
      } else {
        const r = runLatSize(tb, size, iterations);
        dataProblems.push(...r.dataProblems.map((d) => `${size} B: ${d}`));
        messagesChecked += r.messagesChecked;
        if (r.figures !== undefined) lat.push({ bytes: size, iterations, ...r.figures });
        o.log?.(`  ${sc.test} ${size} B × ${iterations}: ${r.figures ? `t_typical ${r.figures.tTypical.toFixed(2)} µs` : "failed"} (${((performance.now() - w0) / 1000).toFixed(1)} s)`);
        if (r.failed) break;
      }
    }
  } catch (e) {
    for (const f of files) {
      closeSync(f.fd);
      rmSync(f.tmp, { force: true });
    }
    if (e instanceof StallError) throw new RunFailure(`perftest ${sc.name}: ${e.message}`);
    throw e;
  }
  const captured = tb.fabric.capturedFrames();
  const captures = files.map((f) => {
    closeSync(f.fd);
    renameSync(f.tmp, f.path);
    const name = f.path.replace(/^.*\//, "").replace(/\.pcap$/, "");
    return { path: f.path, frames: captured[name] ?? 0 };
  });

  // ---- checks
  const checks: CheckResult[] = [];
  if (tb.errors.length > 0) {
    const e = tb.errors[0]!;
    checks.push({ name: "completions", verdict: "FAIL", detail: `${tb.errors.length} QP${tb.errors.length === 1 ? "" : "s"} failed; first: ${e.node} QP 0x${e.qpn.toString(16)} work request ${e.index}: ${e.statusName} (status ${e.status}, syndrome 0x${e.syndrome.toString(16).padStart(2, "0")})` });
  } else {
    checks.push({ name: "completions", verdict: "PASS", detail: `every work request of ${sc.params.sizes.length} size${sc.params.sizes.length === 1 ? "" : "s"} completed successfully` });
  }
  if (sc.checks.goodput !== undefined && kind === "bw") {
    const g = sc.checks.goodput;
    const rows = bw.filter((b) => b.bytes >= g.fromBytes);
    const low = rows.filter((b) => b.percentOfMax < g.minPercent);
    const worst = rows.reduce<BwRow | undefined>((w, b) => (w === undefined || b.percentOfMax < w.percentOfMax ? b : w), undefined);
    if (rows.length === 0) checks.push({ name: "goodput", verdict: "FAIL", detail: `no size ≥ ${g.fromBytes} B was measured` });
    else if (low.length > 0) {
      checks.push({ name: "goodput", verdict: "FAIL", detail: `below ${g.minPercent}% of the theoretical maximum: ${low.map((b) => `${b.bytes} B ${b.percentOfMax.toFixed(1)}% (limited by ${b.limit.resource})`).join(", ")}` });
    } else {
      checks.push({ name: "goodput", verdict: "PASS", detail: `every size ≥ ${g.fromBytes} B at ≥ ${g.minPercent}% of the theoretical maximum (lowest ${worst!.percentOfMax.toFixed(1)}% at ${worst!.bytes} B)` });
    }
  }
  if (sc.checks.data) {
    const how = sc.params.verify && PERFTEST_TESTS[sc.test].op === "write" ? ", each written exactly once and in order" : "";
    if (dataProblems.length > 0) checks.push({ name: "data", verdict: "FAIL", detail: `${dataProblems.length} problem${dataProblems.length === 1 ? "" : "s"}; ${dataProblems.slice(0, 3).join("; ")}` });
    else checks.push({ name: "data", verdict: "PASS", detail: `${messagesChecked} message${messagesChecked === 1 ? "" : "s"} checked byte for byte against what the initiator wrote${how}` });
  }
  for (const c of checks) if (c.verdict === "FAIL") failures.push(`${c.name}: ${c.detail}`);

  const engines = Object.fromEntries(
    [tb.a, tb.b].map((n) => {
      const s = n.engine.stats;
      return [n.host.name, { packetsSent: s.packetsSent, packetsReceived: s.packetsReceived, retransmissions: s.retransmissions, timeouts: s.timeouts, naksSent: s.naksSent, rnrNaksSent: s.rnrNaksSent, acksSent: s.acksSent, drops: { ...s.drops } }];
    }),
  );
  const ports = Object.fromEntries(
    [tb.a, tb.b].map((n) => {
      const c = n.port.counters;
      return [n.host.name, { framesSent: c.framesSent, framesReceived: c.framesReceived, crcDrops: n.port.crcDrops, icrcBad: c.icrcBad, drops: { ...c.drops }, maxEgressFifo: c.maxFifo }];
    }),
  );
  const links: LinkReport[] = tb.fabric.links.map((l) => ({
    name: l.name,
    directions: [
      ["a→b", l.a],
      ["b→a", l.b],
    ].map(([direction, port]) => {
      const c = (port as typeof l.a).counters;
      return { direction: direction as string, frames: c.frames, bytes: c.bytes, busyPs: c.busyPs, delivered: c.delivered, injected: { ...c.injected }, creditWaits: c.creditWaits };
    }),
  }));
  const qpStates = [tb.a, tb.b].flatMap((n, side) =>
    (side === 0 ? tb.qpsA : tb.qpsB).map((qpn) => ({ node: n.host.name, qpn, state: n.engine.qp(qpn).state })).filter((q) => q.state !== QpState.RTS).map((q) => ({ ...q, state: qpStateName(q.state) })),
  );
  const sw = tb.fabric.switch?.counters();
  const p = sc.params;
  return {
    scenario: sc.name,
    file: sc.file,
    test: sc.test,
    seed: sc.seed,
    setup: { transport: sc.fabric.transport, link: sc.fabric.linkName, topology: sc.fabric.topology, cableM: sc.fabric.propagationPs / 5000, mtu: p.mtu, qps: p.qps, txDepth: p.txDepth, cqMod: p.cqMod, outstandingReads: p.outstandingReads, faults: sc.fabric.faults.length },
    ...(kind === "bw" ? { bw } : { lat }),
    engines,
    ports,
    links,
    ...(sw !== undefined ? { switch: { forwarded: sw.forwarded, drops: { ...sw.drops } } } : {}),
    errors: tb.errors,
    qpStates,
    ...(o.pcapDir !== undefined ? { captures } : {}),
    checks,
    verdict: failures.length === 0 ? "PASS" : "FAIL",
    failures,
    simulatedUs: tb.sim.now / 1e6,
    events: tb.sim.eventsProcessed,
    wallSeconds: (performance.now() - t0) / 1000,
  };
}

export interface PerftestCommandOptions {
  json?: string;
  trace?: string;
  pcap?: string;
  seed?: number;
  count?: number;
  defect: string[];
  param: string[];
  modelOnly?: boolean;
  quiet?: boolean;
}

/** `hcasim run` for a perftest scenario; returns the exit code */
export function runPerftestCommand(sc: PerftestScenario, o: PerftestCommandOptions, write: (text: string) => void, log: (line: string) => void): number {
  const refused = [["--trace", o.trace], ["--defect", o.defect.length ? o.defect : undefined], ["--param", o.param.length ? o.param : undefined]].filter(([, v]) => v !== undefined).map(([k]) => k);
  if (refused.length) throw new UserError(`${refused.join(", ")}: not for a perftest scenario (${sc.file}); it runs models only, set parameters under adapter: in the file`);
  if (o.seed !== undefined) sc.seed = o.seed;
  if (o.count !== undefined) {
    const least = PERFTEST_TESTS[sc.test].kind === "lat" ? MIN_LAT_ITERATIONS : 1;
    if (o.count < least) throw new UserError(`--count ${o.count}: ${sc.test} needs at least ${least} iteration${least === 1 ? "" : "s"}${least > 1 ? " (perftest drops the 2 largest latency samples)" : ""}`);
    sc.params.iterations = o.count;
  }
  if (!o.quiet) log(`perftest ${sc.test}: ${sc.params.sizes.length} size${sc.params.sizes.length === 1 ? "" : "s"}, ${sc.fabric.transport} over ${sc.fabric.linkName}`);
  const r = runPerftest(sc, { pcapDir: o.pcap, log: o.quiet ? undefined : log });
  write(formatPerftest(r, sc) + "\n");
  if (o.json) writeJson(o.json, r);
  return r.verdict === "PASS" ? 0 : 1;
}
