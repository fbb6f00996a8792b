/**
 * block.yaml: the single source of truth for a block's interface (DESIGN.md §3).
 * The loader validates the schema (errors as file:line:col), resolves parameters,
 * derives every port's widths, and hashes the interface so the harness and a built
 * RTL process can prove they agree.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "./errors.ts";
import { readYamlFile, type YamlValue } from "./yaml-source.ts";

export const RTL_MODELS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "..", "rtl-models");

export interface UserFieldSpec {
  name: string;
  /** width in bits, 1..32 */
  bits: number;
  doc: string;
}

export interface StreamPortSpec {
  kind: "stream";
  name: string;
  direction: "in" | "out";
  /** bytes per beat: a number or the name of a parameter */
  dataBytes: number | string;
  /** an array of identical streams packed into one set of signals (a number or a parameter); absent: one stream */
  count?: number | string;
  /** how `--pcap` records this stream's transactions */
  capture: CaptureKind;
  user: UserFieldSpec[];
  doc: string;
}

/** ethernet: pcap link type 1; infiniband: ERF record type 21 in pcap link type 197; none: not captured */
export type CaptureKind = "ethernet" | "infiniband" | "none";

export interface WirePortSpec {
  kind: "wire";
  name: string;
  direction: "in" | "out";
  /** width in bits, 1..64 */
  bits: number;
  doc: string;
}

export type PortSpec = StreamPortSpec | WirePortSpec;

export interface ParameterSpec {
  name: string;
  default: number;
  allowed?: number[];
  doc: string;
}

export interface Manifest {
  block: string;
  module: string;
  description: string;
  /** the block.yaml path and its folder */
  file: string;
  dir: string;
  /** SystemVerilog sources in compile order, relative to dir */
  sources: string[];
  /** include files the sources pull in (part of the build hash, not compiled on their own) */
  includes: string[];
  clock: { port: string; mhz: number };
  reset: { port: string; activeLow: boolean; cycles: number };
  parameters: ParameterSpec[];
  tolerance: { latencyCycles: number; throughput: number };
  /** build defines that inject a known defect (for proving the scoreboard fails) */
  defects: string[];
  ports: PortSpec[];
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function ident(v: YamlValue): string {
  const s = v.str();
  if (!IDENT.test(s)) v.fail(`${v.path}: "${s}" is not a valid identifier`);
  return s;
}

function optDoc(m: { opt(key: string): YamlValue | undefined }): string {
  const d = m.opt("doc");
  if (!d) return "";
  return d.isScalar() ? String((d.node as { value: unknown }).value) : d.str();
}

function parseUserField(v: YamlValue): UserFieldSpec {
  const m = v.map();
  const f = { name: ident(m.req("name")), bits: m.req("bits").int(1, 32), doc: optDoc(m) };
  m.done();
  return f;
}

function parsePort(v: YamlValue, paramNames: Set<string>): PortSpec {
  const m = v.map();
  const name = ident(m.req("name"));
  const kind = m.req("kind").oneOf(["stream", "wire"] as const);
  const direction = m.req("direction").oneOf(["in", "out"] as const);
  const doc = optDoc(m);
  if (kind === "wire") {
    const port: WirePortSpec = { kind, name, direction, bits: m.req("bits").int(1, 64), doc };
    m.done();
    return port;
  }
  const dataBytes = numberOrParam(m.req("data_bytes"), paramNames, 0, 1024);
  const countNode = m.opt("count");
  const count = countNode ? numberOrParam(countNode, paramNames, 1, 64) : undefined;
  const userNode = m.opt("user");
  const user = userNode ? userNode.list().map(parseUserField) : [];
  const seen = new Set<string>();
  userNode?.list().forEach((u, i) => {
    const n = user[i]!.name;
    if (seen.has(n)) u.fail(`${u.path}: duplicate user field "${n}"`);
    seen.add(n);
  });
  const capture = m.opt("capture")?.oneOf(["ethernet", "infiniband", "none"] as const) ?? "ethernet";
  m.done();
  return { kind, name, direction, dataBytes, ...(count !== undefined ? { count } : {}), capture, user, doc };
}

function numberOrParam(v: YamlValue, paramNames: Set<string>, min: number, max: number): number | string {
  if (v.isScalar() && typeof (v.node as { value: unknown }).value === "string") {
    const name = v.str();
    if (!paramNames.has(name)) v.fail(`${v.path}: "${name}" is neither a number nor a parameter (parameters: ${[...paramNames].join(", ") || "none"})`);
    return name;
  }
  return v.int(min, max);
}

/** Load and validate one block.yaml. */
export function loadManifest(file: string): Manifest {
  const root = readYamlFile(file);
  const m = root.map();
  const block = ident(m.req("block"));
  const module = ident(m.req("module"));
  const description = m.opt("description")?.str() ?? "";
  const sources = m.req("sources").list().map((s) => s.str());
  const includes = m.opt("includes")?.list().map((s) => s.str()) ?? [];
  const dir = dirname(file);
  for (const [i, s] of [...sources, ...includes].entries()) {
    if (!existsSync(join(dir, s))) {
      const node = i < sources.length ? m.req("sources").list()[i]! : m.req("includes").list()[i - sources.length]!;
      node.fail(`${node.path}: file "${s}" not found in ${dir}`);
    }
  }

  const cm = m.req("clock").map();
  const clock = { port: ident(cm.req("port")), mhz: cm.req("mhz").num() };
  if (clock.mhz <= 0) cm.req("mhz").fail("clock.mhz: must be positive");
  cm.done();

  const rm = m.req("reset").map();
  const reset = {
    port: ident(rm.req("port")),
    activeLow: rm.req("active").oneOf(["low", "high"] as const) === "low",
    cycles: rm.opt("cycles")?.int(1, 1000) ?? 4,
  };
  rm.done();

  const parameters: ParameterSpec[] = (m.opt("parameters")?.list() ?? []).map((pv) => {
    const pm = pv.map();
    const p: ParameterSpec = { name: ident(pm.req("name")), default: pm.req("default").int(), doc: optDoc(pm) };
    const allowed = pm.opt("allowed");
    if (allowed) {
      p.allowed = allowed.list().map((a) => a.int());
      if (!p.allowed.includes(p.default)) pm.req("default").fail(`parameters: default ${p.default} of ${p.name} is not among allowed values ${p.allowed.join(", ")}`);
    }
    pm.done();
    return p;
  });
  const paramNames = new Set(parameters.map((p) => p.name));

  const tm = m.req("tolerance").map();
  const tolerance = { latencyCycles: tm.req("latency_cycles").int(0), throughput: tm.req("throughput").num() };
  tm.done();

  const defects = m.opt("defects")?.list().map(ident) ?? [];

  const portsNode = m.req("ports");
  const ports = portsNode.list().map((p) => parsePort(p, paramNames));
  const names = new Set<string>();
  portsNode.list().forEach((pv, i) => {
    const n = ports[i]!.name;
    if (names.has(n)) pv.fail(`${pv.path}: duplicate port "${n}"`);
    if (n === clock.port || n === reset.port) pv.fail(`${pv.path}: port "${n}" clashes with the clock or reset`);
    names.add(n);
  });
  m.done();
  return { block, module, description, file, dir, sources, includes, clock, reset, parameters, tolerance, defects, ports };
}

/** The blocks that have a manifest under rtl-models/. */
export function listBlocks(rtlModelsDir = RTL_MODELS_DIR): string[] {
  if (!existsSync(rtlModelsDir)) return [];
  return readdirSync(rtlModelsDir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(rtlModelsDir, d.name, "block.yaml")))
    .map((d) => d.name)
    .sort();
}

/** Load rtl-models/<name>/block.yaml; an unknown name lists the known blocks. */
export function loadBlockManifest(name: string, rtlModelsDir = RTL_MODELS_DIR): Manifest {
  const file = join(rtlModelsDir, name, "block.yaml");
  if (!existsSync(file)) {
    const known = listBlocks(rtlModelsDir);
    throw new UserError(`unknown block "${name}" (known blocks: ${known.join(", ") || "none"})`);
  }
  return loadManifest(file);
}

// ---------------------------------------------------------------------------------
// Resolution: parameters → concrete widths, and the interface hash.

export interface ResolvedStreamPort {
  kind: "stream";
  /** the stream's name; an array element is `base[element]` */
  name: string;
  /** the signal prefix: the port's name in block.yaml */
  base: string;
  /** element number within an array port, and the array's length (1 and -1 for a plain port) */
  element: number;
  count: number;
  /** true when the signals are packed arrays (even of one element) */
  array: boolean;
  direction: "in" | "out";
  /** index among stream ports of the same direction (the wire protocol's port number) */
  index: number;
  dataBytes: number;
  user: UserFieldSpec[];
  /** total tuser width in bits (0 when there are no user fields) */
  userBits: number;
  capture: CaptureKind;
}

export interface ResolvedWirePort {
  kind: "wire";
  name: string;
  direction: "in" | "out";
  index: number;
  bits: number;
}

export interface ResolvedBlock {
  manifest: Manifest;
  params: Record<string, number>;
  streams: ResolvedStreamPort[];
  wires: ResolvedWirePort[];
  /** sha256 (hex) of the interface: module, clock, reset, parameters, ports and fields */
  hash: string;
}

export function resolveBlock(manifest: Manifest, overrides: Record<string, number> = {}): ResolvedBlock {
  const params: Record<string, number> = {};
  for (const p of manifest.parameters) params[p.name] = p.default;
  for (const [k, v] of Object.entries(overrides)) {
    const p = manifest.parameters.find((q) => q.name === k);
    if (!p) throw new UserError(`block ${manifest.block}: unknown parameter "${k}" (parameters: ${manifest.parameters.map((q) => q.name).join(", ") || "none"})`);
    if (!Number.isInteger(v)) throw new UserError(`block ${manifest.block}: parameter ${k} must be an integer, got ${v}`);
    if (p.allowed && !p.allowed.includes(v)) throw new UserError(`block ${manifest.block}: parameter ${k}=${v} is not supported (allowed: ${p.allowed.join(", ")})`);
    params[k] = v;
  }
  const counters = { in: 0, out: 0 };
  const wireCounters = { in: 0, out: 0 };
  const streams: ResolvedStreamPort[] = [];
  const wires: ResolvedWirePort[] = [];
  for (const port of manifest.ports) {
    if (port.kind === "stream") {
      const dataBytes = typeof port.dataBytes === "number" ? port.dataBytes : params[port.dataBytes]!;
      const array = port.count !== undefined;
      const count = port.count === undefined ? 1 : typeof port.count === "number" ? port.count : params[port.count]!;
      if (!Number.isInteger(count) || count < 1) throw new UserError(`block ${manifest.block}: port ${port.name} has count ${count}; it must be at least 1`);
      for (let element = 0; element < count; element++) {
        streams.push({
          kind: "stream",
          name: array ? `${port.name}[${element}]` : port.name,
          base: port.name,
          element: array ? element : -1,
          count,
          array,
          direction: port.direction,
          index: counters[port.direction]++,
          dataBytes,
          user: port.user,
          userBits: port.user.reduce((s, f) => s + f.bits, 0),
          capture: port.capture,
        });
      }
    } else {
      wires.push({ kind: "wire", name: port.name, direction: port.direction, index: wireCounters[port.direction]++, bits: port.bits });
    }
  }
  const canonical = JSON.stringify({
    module: manifest.module,
    clock: manifest.clock,
    reset: manifest.reset,
    params,
    streams: streams.map((s) => ({ n: s.name, a: s.array, d: s.direction, b: s.dataBytes, u: s.user.map((f) => [f.name, f.bits]) })),
    wires: wires.map((w) => ({ n: w.name, d: w.direction, b: w.bits })),
  });
  const hash = createHash("sha256").update(canonical).digest("hex");
  return { manifest, params, streams, wires, hash };
}

export function streamPort(block: ResolvedBlock, name: string): ResolvedStreamPort {
  const p = block.streams.find((s) => s.name === name);
  if (!p) throw new UserError(`block ${block.manifest.block}: no stream port "${name}" (stream ports: ${block.streams.map((s) => s.name).join(", ")})`);
  return p;
}
