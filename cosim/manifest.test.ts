import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SourceError, UserError } from "./errors.ts";
import { listBlocks, loadBlockManifest, loadManifest, resolveBlock } from "./manifest.ts";

const GOOD = `block: demo
module: demo
sources: [demo.sv]
clock: { port: clk, mhz: 250 }
reset: { port: rst_n, active: low }
parameters:
  - { name: W, default: 8, allowed: [8, 64] }
tolerance: { latency_cycles: 1, throughput: 0.02 }
ports:
  - name: s_axis
    kind: stream
    direction: in
    data_bytes: W
    user:
      - { name: flag, bits: 1 }
  - name: m_axis
    kind: stream
    direction: out
    data_bytes: W
`;

function write(yaml: string): string {
  const dir = mkdtempSync(join(tmpdir(), "hcasim-manifest-"));
  writeFileSync(join(dir, "demo.sv"), "module demo; endmodule\n");
  const f = join(dir, "block.yaml");
  writeFileSync(f, yaml);
  return f;
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

describe("block.yaml loader", () => {
  it("loads a manifest and resolves widths from parameters", () => {
    const m = loadManifest(write(GOOD));
    expect(m.reset.cycles).toBe(4);
    const r = resolveBlock(m, { W: 64 });
    expect(r.streams.map((s) => [s.name, s.direction, s.index, s.dataBytes, s.userBits])).toEqual([
      ["s_axis", "in", 0, 64, 1],
      ["m_axis", "out", 0, 64, 0],
    ]);
  });

  it("hashes the interface: parameters change it, comments do not", () => {
    const a = resolveBlock(loadManifest(write(GOOD)));
    const b = resolveBlock(loadManifest(write(GOOD.replace("block: demo", "# a comment\nblock: demo"))));
    const c = resolveBlock(loadManifest(write(GOOD)), { W: 64 });
    expect(a.hash).toBe(b.hash);
    expect(a.hash).not.toBe(c.hash);
  });

  const cases: [string, string, RegExp][] = [
    ["a syntax error", GOOD.replace("clock: { port: clk, mhz: 250 }", "clock: { port: clk, mhz: 250"), /block\.yaml:\d+:\d+: YAML syntax error/],
    ["a missing key", GOOD.replace("module: demo\n", ""), /block\.yaml:1:1: document: missing required key "module"/],
    ["an unknown key", GOOD.replace("module: demo", "module: demo\nmodul: x"), /block\.yaml:3:1: document: unknown key "modul"/],
    ["a wrong type", GOOD.replace("mhz: 250", "mhz: fast"), /block\.yaml:4:26: clock\.mhz: expected a number, found string "fast"/],
    ["a bad port kind", GOOD.replace("kind: stream\n    direction: out", "kind: bus\n    direction: out"), /block\.yaml:17:11: ports\[1\]\.kind: "bus" is not one of "stream", "wire"/],
    ["user bits out of range", GOOD.replace("bits: 1", "bits: 40"), /block\.yaml:15:29: ports\[0\]\.user\[0\]\.bits: 40 is out of range \[1, 32\]/],
    ["an unknown width parameter", GOOD.replace("data_bytes: W\n    user", "data_bytes: WIDTH\n    user"), /ports\[0\]\.data_bytes: "WIDTH" is neither a number nor a parameter \(parameters: W\)/],
    ["a missing source", GOOD.replace("[demo.sv]", "[nope.sv]"), /block\.yaml:3:\d+: sources\[0\]: file "nope.sv" not found/],
  ];
  for (const [what, yaml, re] of cases) {
    it(`reports ${what} as file:line:col`, () => {
      const e = errorOf(() => loadManifest(write(yaml)));
      expect(e).toBeInstanceOf(SourceError);
      expect(e.message).toMatch(re);
    });
  }

  it("rejects an unknown or unsupported parameter value", () => {
    const m = loadManifest(write(GOOD));
    expect(errorOf(() => resolveBlock(m, { W: 16 })).message).toBe("block demo: parameter W=16 is not supported (allowed: 8, 64)");
    expect(errorOf(() => resolveBlock(m, { X: 1 })).message).toContain('unknown parameter "X" (parameters: W)');
  });

  it("an unknown block lists the known ones", () => {
    const root = mkdtempSync(join(tmpdir(), "hcasim-models-"));
    for (const name of ["beta", "alpha"]) {
      mkdirSync(join(root, name));
      writeFileSync(join(root, name, "demo.sv"), "");
      writeFileSync(join(root, name, "block.yaml"), GOOD.replace("block: demo", `block: ${name}`));
    }
    mkdirSync(join(root, "not-a-block"));
    const e = errorOf(() => loadBlockManifest("nosuch", root));
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toBe('unknown block "nosuch" (known blocks: alpha, beta)');
    expect(listBlocks(root)).toEqual(["alpha", "beta"]);
    expect(loadBlockManifest("beta", root).block).toBe("beta");
  });
});
