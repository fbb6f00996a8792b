/**
 * The hcasim command as a user meets it: exit codes, messages, files written.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SCENARIO = join(ROOT, "testbench/scenarios/icrc.yaml");

function hcasim(args: string[], env: Record<string, string> = {}) {
  return execa(process.execPath, [join(ROOT, "bin/hcasim.mjs"), ...args], { cwd: ROOT, reject: false, env: { ...process.env, ...env }, all: true });
}

function tmp(name: string, text?: string): string {
  const f = join(mkdtempSync(join(tmpdir(), "hcasim-cli-")), name);
  if (text !== undefined) writeFileSync(f, text);
  return f;
}

describe("hcasim run", () => {
  it("passes a short icrc run in lockstep and writes JSON (exit 0)", async () => {
    const json = tmp("r.json");
    const r = await hcasim(["run", SCENARIO, "--count", "3000", "--json", json, "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toMatch(/content: PASS — 3000 output transactions identical in content and order/);
    expect(r.stdout).toMatch(/icrc_status: PASS/);
    expect(r.stdout.trim().endsWith("PASS")).toBe(true);
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.verdict).toBe("PASS");
    expect(j.scoreboard.streams[0].transactions).toBe(3000);
    expect(j.lockstep.cycles).toBeGreaterThan(3000);
  });

  it("an RTL with an injected defect fails with exit 1 and the mismatch report", async () => {
    const json = tmp("r.json");
    const r = await hcasim(["run", SCENARIO, "--count", "500", "--defect", "HCASIM_DEFECT_FLIP_ICRC_BIT", "--json", json, "-q"]);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toMatch(/MISMATCH in block icrc, stream m_axis, transaction #\d+/);
    expect(r.stderr).toMatch(/model: cycles \d+\.\.\d+, \d+ bytes/);
    expect(r.stderr).toMatch(/rtl: {3}cycles \d+\.\.\d+, \d+ bytes/);
    expect(r.stderr).toMatch(/first difference: data byte \d+ \(beat \d+, lane \d+\): expected 0x[0-9a-f]{2}, actual 0x[0-9a-f]{2}/);
    expect(r.stderr).toContain("FAIL");
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/); // no stack trace
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.verdict).toBe("FAIL");
  });

  it("--trace writes a VCD waveform of the RTL with the block's ports", async () => {
    const vcd = tmp("w.vcd");
    const r = await hcasim(["run", SCENARIO, "--count", "20", "--param", "DATA_BYTES=8", "--trace", vcd, "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    const text = readFileSync(vcd, "utf8");
    expect(text).toContain("$enddefinitions");
    for (const sig of ["s_axis_tdata", "s_axis_tready", "m_axis_tuser", "clk"]) expect(text).toMatch(new RegExp(`\\$var wire +\\d+ \\S+ ${sig} `));
    expect(text.split("\n").filter((l) => l.startsWith("#")).length).toBeGreaterThan(100);
  });

  it("skipping the TTL mask is caught too", async () => {
    const r = await hcasim(["run", SCENARIO, "--count", "500", "--defect", "HCASIM_DEFECT_SKIP_TTL_MASK", "-q"]);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stderr).toMatch(/MISMATCH in block icrc, stream m_axis/);
  });

  it("malformed scenario YAML: exit 2, file:line:col, no stack trace", async () => {
    const f = tmp("bad.yaml", "scenario: x\nblock: { name: icrc\ntraffic: {}\n");
    const r = await hcasim(["run", f]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(new RegExp(`^hcasim: error: ${f.replace(/[.]/g, "\\.")}:\\d+:\\d+: YAML syntax error`));
    expect(r.stderr).not.toContain("    at ");
  });

  it("an unknown block: exit 2 and the known blocks listed", async () => {
    const f = tmp("s.yaml", readFileSync(SCENARIO, "utf8").replace("name: icrc", "name: icrx"));
    const r = await hcasim(["run", f]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/^hcasim: error: unknown block "icrx" \(known blocks: .*icrc.*\)/);
  });

  it("an unsupported parameter value: exit 2", async () => {
    const r = await hcasim(["run", SCENARIO, "--param", "DATA_BYTES=12"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("parameter DATA_BYTES=12 is not supported (allowed: 8, 16, 32, 64)");
  });

  it("a missing Verilator: exit 2 and how to install it", async () => {
    const r = await hcasim(["run", SCENARIO, "--count", "10"], { PATH: "/nonexistent" });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/Verilator not found .*apt-get install -y verilator/);
  });

  it("a missing scenario file and a bad flag: exit 2", async () => {
    const a = await hcasim(["run", "/nope.yaml"]);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toContain("/nope.yaml: cannot read (no such file)");
    const b = await hcasim(["run", SCENARIO, "--count", "many"]);
    expect(b.exitCode).toBe(2);
    expect(b.stderr).toContain("--count must be a non-negative integer");
  });
});

describe("hcasim run with a pcap", () => {
  it("replays a capture through the RTL in check mode and flags the corrupted frame", async () => {
    const { PcapWriter } = await import("../core/pcap.ts");
    const { writePcapFile } = await import("../core/pcap-file.ts");
    const { RoceFrameGenerator } = await import("./traffic/roce-frames.ts");
    const { appendIcrc } = await import("../hca/index.ts");
    const gen = new RoceFrameGenerator(11, { payloadBytes: [0, 1500] });
    const w = new PcapWriter(1);
    for (let i = 0; i < 50; i++) {
      const f = appendIcrc(gen.next().data);
      if (i === 17) f[f.length - 10]! ^= 0x40;
      w.add(i * 1000, f);
    }
    const pcap = tmp("c.pcap");
    await writePcapFile(pcap, w);
    const sc = tmp("replay.yaml", `scenario: replay\nblock: { name: icrc, params: { DATA_BYTES: 8 } }\ntraffic: { source: pcap, file: ${pcap}, mode: check }\nchecks: [content, timing, icrc_status]\n`);
    const json = tmp("r.json");
    const r = await hcasim(["run", sc, "--json", json, "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.scoreboard.streams[0].transactions).toBe(50);
    expect(j.status.byStatus).toEqual({ ok: 49, icrcBad: 1 });

    const c = await hcasim(["icrc-check", pcap]);
    expect(c.exitCode).toBe(1);
    const lines = c.stdout.trim().split("\n");
    expect(lines).toHaveLength(51);
    expect(lines[17]).toMatch(/^18\tbad\t.*ICRC [0-9a-f]{8}, expected [0-9a-f]{8}$/);
    expect(lines.filter((l) => /\tok\t/.test(l))).toHaveLength(49);
    expect(lines[50]).toBe("50 packets: 50 RoCEv2 (49 ok, 1 bad), 0 other");
  });

  it("icrc-check on a file that is not a pcap: exit 2 naming the file", async () => {
    const f = tmp("x.pcap", "not a capture at all");
    const r = await hcasim(["icrc-check", f]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(`${f}: not a pcap file`);
    expect(existsSync(f)).toBe(true);
  });
});
