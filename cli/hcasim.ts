/**
 * The hcasim command line. Exit codes: 0 pass, 1 a check failed (mismatch, timing,
 * RTL crash), 2 a user error (bad scenario, bad flag, missing tool). User errors print
 * one clear message, never a stack trace.
 */
import { Command, CommanderError, InvalidArgumentError } from "commander";
import cliProgress from "cli-progress";
import { buildBlock, loadBlockManifest, readYamlFile, resolveBlock, RunFailure, serveRtl, UserError } from "../cosim/index.ts";
import { loadScenario } from "../testbench/scenario.ts";
import { isBringupScenario, parseBringupScenario } from "../testbench/bringup/scenario.ts";
import { runBringupCommand } from "../testbench/bringup/run.ts";
import { isPerftestScenario, parsePerftestScenario, runPerftestCommand } from "../testbench/perftest/index.ts";
import { runScenario, type RunResult } from "../testbench/runner.ts";
import { formatSummary, writeJson, writeText } from "../testbench/report.ts";
import { formatSweep, runSweep, sweepSvg } from "../testbench/sweep.ts";
import { icrcCheckFile } from "../testbench/icrc-check.ts";
import { lintBlocks } from "../cosim/lint.ts";

function intArg(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer, got "${v}"`);
    return n;
  };
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

function progressReporter(quiet: boolean) {
  if (quiet) return { update: () => undefined, stop: () => undefined };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: "  {bar} {percentage}% | {value}/{total} frames | cycle {cycle} | {rate} cycles/s", stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update: (p: { cycle: number; inputTransactions: number; totalInputs: number; wallSeconds: number }) => {
        const payload = { cycle: p.cycle, rate: (p.cycle / Math.max(p.wallSeconds, 1e-3) / 1e6).toFixed(2) + " M" };
        if (!started) { bar.start(p.totalInputs || 1, 0, payload); started = true; }
        bar.update(p.inputTransactions, payload);
      },
      stop: () => { if (started) bar.stop(); },
    };
  }
  // not a terminal (CI logs): one line every few seconds
  let lastPrint = 0;
  return {
    update: (p: { cycle: number; inputTransactions: number; totalInputs: number; wallSeconds: number }) => {
      if (p.wallSeconds - lastPrint < 5) return;
      lastPrint = p.wallSeconds;
      process.stderr.write(`  … cycle ${p.cycle}, ${p.inputTransactions}${p.totalInputs ? `/${p.totalInputs}` : ""} inputs, ${p.wallSeconds.toFixed(0)} s\n`);
    },
    stop: () => undefined,
  };
}

const program = new Command();
program.name("hcasim").description("RDMA adapter models and lockstep co-simulation with Verilator RTL").exitOverride();
program.configureOutput({ outputError: (str, write) => write(`hcasim: ${str.replace(/^error: /, "")}`) });

program
  .command("run")
  .description("run a scenario: the block's model and RTL in lockstep, with its checks")
  .argument("<scenario>", "scenario file (.yaml)")
  .option("--json <file>", "write the results as JSON")
  .option("--trace <file>", "write a VCD waveform of the RTL (builds a traced variant)")
  .option("--pcap <dir>", "write one capture per port and direction into this folder")
  .option("--seed <n>", "override the scenario's seed", intArg("--seed"))
  .option("--count <n>", "override the number of generated frames", intArg("--count"))
  .option("--defect <define>", "build the RTL with a declared defect (repeatable; a pipeline scenario: STAGE:DEFINE)", collect, [])
  .option("--param <name=value>", "override a block parameter (repeatable)", collect, [])
  .option("--model-only", "run the TypeScript model alone")
  .option("-q, --quiet", "no progress display")
  .action(async (file: string, o: { json?: string; trace?: string; pcap?: string; seed?: number; count?: number; defect: string[]; param: string[]; modelOnly?: boolean; quiet?: boolean }) => {
    const doc = readYamlFile(file);
    if (isBringupScenario(doc)) {
      // a pipeline of blocks (testbench/bringup): --defect takes STAGE:DEFINE
      process.exitCode = await runBringupCommand(parseBringupScenario(doc), o, (t) => process.stdout.write(t), (l) => process.stderr.write(`${l}\n`));
      return;
    }
    if (isPerftestScenario(doc)) {
      // two adapters over real links (testbench/perftest): --count sets the iterations
      process.exitCode = runPerftestCommand(parsePerftestScenario(doc), o, (t) => process.stdout.write(t), (l) => process.stderr.write(`${l}\n`));
      return;
    }
    const sc = loadScenario(file);
    if (o.seed !== undefined) sc.seed = o.seed;
    if (o.count !== undefined) {
      if (sc.traffic.source !== "roce_frames") throw new UserError(`--count applies to generated frames (source roce_frames); ${file} has source ${sc.traffic.source}`);
      sc.traffic.count = o.count;
    }
    for (const p of o.param) {
      const m = /^([A-Za-z_]\w*)=(-?\d+)$/.exec(p);
      if (!m) throw new UserError(`--param ${p}: expected NAME=INTEGER`);
      sc.block.params[m[1]!] = Number(m[2]);
    }
    if (o.modelOnly) sc.block.rtl = false;
    const progress = progressReporter(o.quiet ?? false);
    let result: RunResult;
    try {
      result = await runScenario(sc, {
        tracePath: o.trace,
        pcapDir: o.pcap,
        defects: o.defect,
        log: (l) => process.stderr.write(`${l}\n`),
        onProgress: (p) => progress.update(p),
      });
    } catch (e) {
      progress.stop();
      const partial = (e as { partialResult?: RunResult }).partialResult;
      if (partial && o.json && e instanceof RunFailure) {
        writeJson(o.json, { ...partial, verdict: "FAIL", failures: [e.message] });
      }
      throw e;
    }
    progress.stop();
    process.stdout.write(formatSummary(result) + "\n");
    if (o.json) writeJson(o.json, result);
    if (o.trace) process.stderr.write(`waveform: ${o.trace}\n`);
    process.exitCode = result.verdict === "PASS" ? 0 : 1;
  });

program
  .command("sweep")
  .description("run a gateway scenario at each frame size of its sweep section: table and SVG chart")
  .argument("<scenario>", "scenario file (.yaml) with a sweep section")
  .option("--plot <file>", "the SVG chart (default: out/<scenario>-sweep.svg)")
  .option("--json <file>", "write the points as JSON")
  .option("--sizes <list>", "frame sizes to run instead of the scenario's, comma-separated")
  .option("--model-only", "run the TypeScript model alone")
  .action(async (file: string, o: { plot?: string; json?: string; sizes?: string; modelOnly?: boolean }) => {
    const sc = loadScenario(file);
    if (!sc.sweep) throw new UserError(`${file}: no sweep section (add sweep: { frame_bytes: [...], duration_us: N })`);
    if (o.sizes) {
      const sizes = o.sizes.split(",").map((v) => Number(v.trim()));
      if (sizes.some((v) => !Number.isInteger(v) || v < 64)) throw new UserError(`--sizes ${o.sizes}: expected frame sizes ≥ 64, comma-separated`);
      sc.sweep.frameBytes = sizes;
    }
    if (o.modelOnly) sc.block.rtl = false;
    process.stdout.write(`sweep ${sc.name}: ${sc.sweep.frameBytes.length} frame sizes, ${sc.sweep.durationUs} µs each\n`);
    const points = await runSweep(sc, {
      log: (l) => process.stderr.write(`${l}\n`),
      onPoint: (p) => process.stderr.write(`  ${p.frameBytes} B: ${p.skipped ? `not run (${p.skipped})` : p.holdsLineRate ? "holds line rate" : "short of line rate"}\n`),
    });
    process.stdout.write(formatSweep(points) + "\n");
    const plot = o.plot ?? `out/${sc.name}-sweep.svg`;
    writeText(plot, sweepSvg(points, `${sc.name}: forwarded rate vs frame size`));
    process.stdout.write(`chart: ${plot}\n`);
    if (o.json) writeJson(o.json, points);
    process.exitCode = points.every((p) => p.skipped || p.verdict === "PASS") ? 0 : 1;
  });

program
  .command("rtl-server")
  .description("serve a block's RTL on tcp:// for co-simulations on other hosts (scenario: block.endpoint)")
  .argument("<block>", "block name (rtl-models/<block>)")
  .requiredOption("--listen <endpoint>", "tcp://ADDRESS:PORT to listen on")
  .option("--param <name=value>", "block parameter (repeatable); must match the scenario's", collect, [])
  .option("--defect <define>", "build with a declared, injected defect (repeatable)", collect, [])
  .option("--trace", "build the traced variant")
  .option("--once", "serve one session, then exit")
  .action(async (name: string, o: { listen: string; param: string[]; defect: string[]; trace?: boolean; once?: boolean }) => {
    const params: Record<string, number> = {};
    for (const p of o.param) {
      const m = /^([A-Za-z_]\w*)=(-?\d+)$/.exec(p);
      if (!m) throw new UserError(`--param ${p}: expected NAME=INTEGER`);
      params[m[1]!] = Number(m[2]);
    }
    const block = resolveBlock(loadBlockManifest(name), params);
    const log = (l: string) => process.stderr.write(`${l}\n`);
    const built = await buildBlock(block, { defines: o.defect, trace: o.trace ?? false, log });
    const stop = new Promise<void>((res) => {
      process.once("SIGINT", () => res());
      process.once("SIGTERM", () => res());
    });
    await serveRtl(built, o.listen, { once: o.once ?? false, log, stop });
  });

program
  .command("icrc-check")
  .description("check the ICRC of every RoCEv2 packet in a pcap (Wireshark does not)")
  .argument("<pcap>", "capture file (Ethernet link type)")
  .option("--strip-fcs", "the frames end with a 4-byte Ethernet FCS")
  .action(async (file: string, o: { stripFcs?: boolean }) => {
    const r = await icrcCheckFile(file, { stripFcs: o.stripFcs ?? false, write: (l) => process.stdout.write(l + "\n") });
    process.exitCode = r.bad > 0 ? 1 : 0;
  });

program
  .command("lint")
  .description("lint every block's RTL with verilator -Wall, for each allowed parameter value")
  .option("--synth", "also synthesise with Yosys (synth_xilinx) and report LUT and FF counts")
  .action(async (o: { synth?: boolean }) => {
    const ok = await lintBlocks({ synth: o.synth ?? false, write: (l) => process.stdout.write(l + "\n") });
    process.exitCode = ok ? 0 : 1;
  });

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else if (e instanceof UserError) {
    process.stderr.write(`hcasim: error: ${e.message}\n`);
    process.exitCode = 2;
  } else if (e instanceof RunFailure) {
    process.stderr.write(`\n${e.message}\nFAIL\n`);
    process.exitCode = 1;
  } else {
    // an internal error: this one deserves its stack
    process.stderr.write(`hcasim: internal error: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 3;
  }
}
