import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DEFAULT_QUANTUM_CYCLES, SourceError } from "../cosim/index.ts";
import { CHECKS, loadScenario, TRAFFIC_SOURCES } from "./scenario.ts";

const quoted = (xs: readonly string[]) => xs.map((x) => `"${x}"`).join(", ");

const shipped = new URL("./scenarios/icrc.yaml", import.meta.url).pathname;

function write(text: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "hcasim-sc-")), "s.yaml");
  writeFileSync(f, text);
  return f;
}

const BASE = `scenario: t
seed: 3
block:
  name: icrc
  params: { DATA_BYTES: 8 }
traffic:
  source: roce_frames
  count: 10
  mode: check
checks: [content, icrc_status]
`;

describe("scenario files", () => {
  it("the shipped icrc scenario loads with 100,000 frames through the RTL", () => {
    const s = loadScenario(shipped);
    expect(s.block).toEqual({ name: "icrc", params: { DATA_BYTES: 64 }, rtl: true });
    expect(s.traffic.source).toBe("roce_frames");
    expect(s.traffic.source === "roce_frames" && s.traffic.count).toBeGreaterThanOrEqual(100_000);
    expect(s.checks).toEqual(["content", "timing", "icrc_status"]);
  });

  it("applies defaults", () => {
    const s = loadScenario(write(BASE));
    expect(s.cosim).toEqual({ quantumCycles: DEFAULT_QUANTUM_CYCLES, timeoutMs: 10_000, outReadyPercent: 100 });
    expect(s.traffic).toMatchObject({ port: "s_axis", ipv6Fraction: 0.5, payloadBytes: [0, 4096], gapCycles: [0, 0], corruptFraction: 0 });
  });

  const bad: [string, string, string][] = [
    ["malformed YAML", BASE.replace("  count: 10", "  count: [10"), ":9:3: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]"],
    ["an unknown key", BASE.replace("seed: 3", "sed: 3"), ":2:1: document: unknown key \"sed\" (allowed: block, checks, cosim, description, scenario, seed, sweep, traffic)"],
    ["a bad source", BASE.replace("roce_frames", "udp"), `:7:11: traffic.source: "udp" is not one of ${quoted(TRAFFIC_SOURCES)}`],
    ["a negative count", BASE.replace("count: 10", "count: -1"), ":8:10: traffic.count: -1 is out of range [1, 100000000]"],
    ["a bad range", BASE.replace("  mode: check", "  mode: check\n  payload_bytes: [9, 2]"), ":10:18: traffic.payload_bytes: min 9 is greater than max 2"],
    ["an unknown check", BASE.replace("icrc_status]", "crc]"), `:10:19: checks[1]: "crc" is not one of ${quoted(CHECKS)}`],
    ["a missing block", BASE.replace(/block:\n  name: icrc\n  params: \{ DATA_BYTES: 8 \}\n/, ""), ':1:1: document: missing required key "block"'],
  ];
  for (const [what, text, msg] of bad) {
    it(`reports ${what} with file:line:col`, () => {
      const f = write(text);
      let err: unknown;
      try {
        loadScenario(f);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(SourceError);
      expect((err as Error).message).toBe(`${f}${msg}`);
    });
  }
});
