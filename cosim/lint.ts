/**
 * `hcasim lint`: every block's RTL through `verilator --lint-only -Wall`, once per
 * allowed value of each parameter (widths change which code elaborates), and on
 * request through Yosys `synth_xilinx` for LUT and FF counts.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { DEFAULT_BUILD_ROOT, verilatorVersion } from "./build.ts";
import { listBlocks, loadBlockManifest, type Manifest } from "./manifest.ts";

/** Parameter sets to lint: the defaults, then each allowed value of each parameter in turn. */
export function lintVariants(m: Manifest): Record<string, number>[] {
  const base = Object.fromEntries(m.parameters.map((p) => [p.name, p.default]));
  const out = [base];
  for (const p of m.parameters) {
    for (const v of p.allowed ?? []) {
      if (v !== p.default) out.push({ ...base, [p.name]: v });
    }
  }
  return out;
}

export interface SynthCounts {
  luts: number;
  ffs: number;
  cells: number;
}

export function parseYosysStat(log: string): SynthCounts {
  // the last `stat` section is the top module's (or the design's) totals
  const tail = log.slice(log.lastIndexOf("Number of cells:"));
  let luts = 0;
  let ffs = 0;
  for (const m of tail.matchAll(/^\s+(\S+)\s+(\d+)$/gm)) {
    const [, cell, count] = m;
    if (/^LUT\d$/.test(cell!)) luts += Number(count);
    if (/^FD[CEPRS]E?$/.test(cell!)) ffs += Number(count);
  }
  const cells = Number(/Number of cells:\s+(\d+)/.exec(tail)?.[1] ?? 0);
  return { luts, ffs, cells };
}

/** Synthesis takes minutes: results are kept under build/synth/ by a hash of what went in. */
export async function synthesiseCached(m: Manifest, params: Record<string, number>): Promise<SynthCounts & { cached: boolean }> {
  const h = createHash("sha256");
  const yosys = await execa("yosys", ["-V"], { reject: false });
  h.update(yosys.stdout ?? "").update(JSON.stringify(params)).update(m.module);
  for (const f of [...m.sources, ...m.includes]) h.update(f).update(readFileSync(join(m.dir, f)));
  const file = join(DEFAULT_BUILD_ROOT, "synth", `${m.block}-${h.digest("hex").slice(0, 20)}.json`);
  if (existsSync(file)) return { ...(JSON.parse(readFileSync(file, "utf8")) as SynthCounts), cached: true };
  const counts = await synthesise(m, params);
  mkdirSync(join(DEFAULT_BUILD_ROOT, "synth"), { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(counts));
  renameSync(`${file}.tmp`, file);
  return { ...counts, cached: false };
}

export async function synthesise(m: Manifest, params: Record<string, number>): Promise<SynthCounts> {
  const files = m.sources.map((s) => join(m.dir, s)).join(" ");
  const chparam = Object.entries(params).map(([k, v]) => `-set ${k} ${v}`).join(" ");
  const script = `read_verilog -sv -I${m.dir} ${files}; ${chparam ? `chparam ${chparam} ${m.module};` : ""} synth_xilinx -top ${m.module}; stat`;
  const r = await execa("yosys", ["-p", script], { all: true, reject: false });
  if (r.exitCode !== 0) throw new Error(`yosys failed on ${m.block}:\n${(r.all ?? "").split("\n").slice(-15).join("\n")}`);
  return parseYosysStat(r.all ?? "");
}

export async function lintBlocks(opts: { synth: boolean; write: (line: string) => void }): Promise<boolean> {
  await verilatorVersion();
  let ok = true;
  for (const name of listBlocks()) {
    const m = loadBlockManifest(name);
    for (const params of lintVariants(m)) {
      const label = `${name} ${Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" ")}`.trim();
      const args = [
        "--lint-only", "-Wall", "--top-module", m.module, `-I${m.dir}`,
        ...Object.entries(params).map(([k, v]) => `-G${k}=${v}`),
        ...m.sources.map((s) => join(m.dir, s)),
      ];
      const r = await execa("verilator", args, { all: true, reject: false });
      if (r.exitCode === 0 && !/%Warning/.test(r.all ?? "")) {
        opts.write(`lint ${label}: clean`);
      } else {
        ok = false;
        opts.write(`lint ${label}: FAILED\n${r.all}`);
      }
    }
  }
  if (opts.synth) {
    // Yosys is single-threaded: synthesise two blocks at a time on this 2-core machine
    const blocks = listBlocks();
    const lines = new Map<string, string>();
    let next = 0;
    const worker = async () => {
      while (next < blocks.length) {
        const name = blocks[next++]!;
        const m = loadBlockManifest(name);
        const params = lintVariants(m)[0]!;
        const label = Object.entries(params).map(([k, v]) => `${k}=${v}`).join(" ");
        try {
          const t0 = performance.now();
          const c = await synthesiseCached(m, params);
          lines.set(name, `synth ${name} ${label} (yosys synth_xilinx): ${c.luts} LUTs, ${c.ffs} FFs, ${c.cells} cells${c.cached ? " (cached)" : ` (${((performance.now() - t0) / 1000).toFixed(0)} s)`}`);
        } catch (e) {
          ok = false;
          lines.set(name, `synth ${name}: FAILED\n${(e as Error).message}`);
        }
      }
    };
    await Promise.all([worker(), worker()]);
    for (const name of blocks) opts.write(lines.get(name)!);
  }
  return ok;
}
