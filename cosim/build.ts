/**
 * Builds a block's RTL with its generated shim into one Verilator executable, cached
 * under build/ by a hash of everything that goes into it (sources, manifest, shim,
 * protocol, parameters, defines, tracing, flags and the Verilator version). A second
 * build of the same inputs is a directory lookup.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { RunFailure, UserError } from "./errors.ts";
import type { ResolvedBlock } from "./manifest.ts";
import { generateProtocolHeader } from "./protocol-cpp.ts";
import { generateShim, SHIM_GENERATOR_VERSION } from "./shim-gen.ts";

export const DEFAULT_BUILD_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "build");

export interface BuildOptions {
  /** build the VCD-traced variant (slower; only on request) */
  trace?: boolean;
  /** defect-injection defines; each must be listed in the manifest's `defects` */
  defines?: string[];
  buildRoot?: string;
  /** the verilator executable (default: `verilator` on PATH) */
  verilator?: string;
  env?: Record<string, string | undefined>;
  /** progress lines (build start, cache hit) */
  log?: (line: string) => void;
}

export interface BuiltBlock {
  block: ResolvedBlock;
  binary: string;
  dir: string;
  key: string;
  cached: boolean;
  trace: boolean;
  defines: string[];
  seconds: number;
}

const versionCache = new Map<string, string>();

/** `verilator --version`, or a UserError saying how to install it. */
export async function verilatorVersion(verilator = "verilator", env?: Record<string, string | undefined>): Promise<string> {
  const cacheKey = `${verilator}\0${env?.PATH ?? ""}`;
  const hit = versionCache.get(cacheKey);
  if (hit) return hit;
  try {
    const r = await execa(verilator, ["--version"], { env, extendEnv: env === undefined, reject: true });
    const v = r.stdout.trim();
    versionCache.set(cacheKey, v);
    return v;
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === "ENOENT") {
      throw new UserError(`Verilator not found (looked for "${verilator}" on PATH). Install it with \`make setup\` or \`apt-get update && apt-get install -y verilator libzmq3-dev\`.`);
    }
    throw new UserError(`"${verilator} --version" failed: ${(e as Error).message.split("\n")[0]}`);
  }
}

const CFLAGS = ["-O2", "-std=c++17"];
const VERILATOR_FLAGS = ["-O3", "--x-assign", "fast", "--x-initial", "fast", "-Wno-fatal"];

export async function buildBlock(block: ResolvedBlock, opts: BuildOptions = {}): Promise<BuiltBlock> {
  const m = block.manifest;
  const trace = opts.trace ?? false;
  const defines = [...(opts.defines ?? [])].sort();
  for (const d of defines) {
    if (!m.defects.includes(d)) throw new UserError(`block ${m.block}: unknown defect "${d}" (declared defects: ${m.defects.join(", ") || "none"})`);
  }
  const verilator = opts.verilator ?? "verilator";
  const version = await verilatorVersion(verilator, opts.env);
  const shim = generateShim(block, { trace });
  const header = generateProtocolHeader();

  const h = createHash("sha256");
  const part = (s: string | Buffer) => h.update(s).update("\0");
  part(version);
  part(String(SHIM_GENERATOR_VERSION));
  part(shim);
  part(header);
  part(JSON.stringify({ params: block.params, defines, trace, VERILATOR_FLAGS, CFLAGS, module: m.module }));
  for (const f of [...m.sources, ...m.includes]) {
    part(f);
    part(readFileSync(join(m.dir, f)));
  }
  const key = h.digest("hex").slice(0, 20);
  const buildRoot = opts.buildRoot ?? DEFAULT_BUILD_ROOT;
  const dir = join(buildRoot, m.block, key);
  const exe = `${m.module}_shim`;
  const binary = join(dir, "obj", exe);
  if (existsSync(binary)) {
    opts.log?.(`rtl ${m.block}: cached build ${key}`);
    return { block, binary, dir, key, cached: true, trace, defines, seconds: 0 };
  }

  const t0 = performance.now();
  const params = Object.entries(block.params).map(([k, v]) => `${k}=${v}`).join(" ");
  opts.log?.(`rtl ${m.block}: building with Verilator (${params}${defines.length ? ", " + defines.join(" ") : ""}${trace ? ", traced" : ""})…`);
  const tmp = `${dir}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(tmp, { recursive: true });
  try {
    writeFileSync(join(tmp, "shim.cpp"), shim);
    writeFileSync(join(tmp, "hcasim_protocol.h"), header);
    const args = [
      "--cc", "--exe", "--build", "-j", "2",
      ...VERILATOR_FLAGS,
      ...(trace ? ["--trace"] : []),
      "--top-module", m.module,
      "--Mdir", "obj",
      "-o", exe,
      `-I${m.dir}`,
      ...Object.entries(block.params).map(([k, v]) => `-G${k}=${v}`),
      ...defines.map((d) => `+define+${d}`),
      "-CFLAGS", [...CFLAGS, `-I${tmp}`].join(" "),
      "-LDFLAGS", "-lzmq",
      "-MAKEFLAGS", "OPT_FAST=-O2",
      ...m.sources.map((s) => join(m.dir, s)),
      join(tmp, "shim.cpp"),
    ];
    const r = await execa(verilator, args, { cwd: tmp, all: true, reject: false, env: opts.env, extendEnv: opts.env === undefined });
    if (r.exitCode !== 0 || !existsSync(join(tmp, "obj", exe))) {
      const tail = (r.all ?? "").split("\n").filter((l) => l.trim()).slice(-25).join("\n");
      const msg = `rtl ${m.block}: Verilator build failed (exit ${r.exitCode}) in ${tmp}\n${tail}`;
      // An RTL or generator problem; leave the folder for inspection but never under the final key.
      throw /%Error|error:/.test(tail) ? new UserError(msg) : new RunFailure(msg);
    }
    writeFileSync(join(tmp, "build.log"), r.all ?? "");
    try {
      renameSync(tmp, dir);
    } catch {
      // another process finished the same build first: use theirs
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    if (!(e instanceof UserError || e instanceof RunFailure)) rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  opts.log?.(`rtl ${m.block}: built in ${seconds.toFixed(1)} s`);
  return { block, binary, dir, key, cached: false, trace, defines, seconds };
}
