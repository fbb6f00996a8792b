/**
 * `hcasim run` on perftest scenarios as a user meets it: exit codes, the report, --json,
 * --seed, --count, --pcap (each capture dissected by tshark header by header, and every
 * ICRC/VCRC right per `hcasim icrc-check`), and scenario errors at file:line:col.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { parseYaml, SourceError } from "../../cosim/index.ts";
import { icrcCheckFile } from "../icrc-check.ts";
import { parsePerftestScenario } from "./scenario.ts";
import { tsharkAvailable, tsharkFields } from "../../core/tshark.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const SCENARIOS = join(ROOT, "testbench/scenarios");

function hcasim(args: string[]) {
  return execa(process.execPath, [join(ROOT, "bin/hcasim.mjs"), ...args], { cwd: ROOT, reject: false, all: true });
}

const tmp = () => mkdtempSync(join(tmpdir(), "hcasim-perftest-"));

/** a scenario file from YAML text */
function file(text: string): string {
  const f = join(tmp(), "s.yaml");
  writeFileSync(f, text);
  return f;
}

const hasTshark = tsharkAvailable();

/**
 * The fields of every packet. The "eth_over_ib" heuristic of InfiniBand payloads is off: it
 * reads message bytes as an EtherType and, for some random payloads, reports a malformed
 * packet that has nothing to do with the headers.
 */
function tshark(path: string, fields: string[]): string[][] {
  return tsharkFields(path, fields, { disableHeuristics: ["eth_over_ib"] });
}

const SMALL_WRITE = `
scenario: small-write
perftest: write_bw
fabric: { transport: rocev2-ipv4, link: 100GbE }
test: { sizes: [8, 8192], iterations: 40 }
checks: { goodput: { min_percent: 90, from_bytes: 8192 } }
`;

describe("hcasim run (perftest)", () => {
  it("runs a scenario: perftest's table, PASS, exit 0, --json and --seed", async () => {
    const json = join(tmp(), "r.json");
    const r = await hcasim(["run", file(SMALL_WRITE), "--json", json, "--seed", "5", "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(r.stdout).toContain("perftest write_bw — scenario small-write (seed 5)");
    expect(r.stdout).toContain("BW peak[Gb/sec]    BW average[Gb/sec]");
    expect(r.stdout).toMatch(/\n 8192 +40 +/);
    expect(r.stdout.trim().endsWith("PASS")).toBe(true);
    const j = JSON.parse(readFileSync(json, "utf8"));
    expect(j.verdict).toBe("PASS");
    expect(j.seed).toBe(5);
    expect(j.bw.map((b: { bytes: number }) => b.bytes)).toEqual([8, 8192]);
    expect(j.bw[1].percentOfMax).toBeGreaterThan(90);
  });

  it("a failed check exits 1; --count sets the iterations", async () => {
    const json = join(tmp(), "r.json");
    const r = await hcasim(["run", file(SMALL_WRITE.replace("min_percent: 90", "min_percent: 99.99")), "--count", "30", "--json", json, "-q"]);
    expect(r.exitCode, r.all).toBe(1);
    expect(r.stdout).toMatch(/goodput: FAIL — below 99.99% of the theoretical maximum: 8192 B/);
    expect(r.stdout).toMatch(/\n 8192 +30 +/);
    expect(JSON.parse(readFileSync(json, "utf8")).verdict).toBe("FAIL");
  });

  it("scenario errors name file:line:col and exit 2, without a stack trace", async () => {
    const cases: [string, RegExp][] = [
      [SMALL_WRITE.replace("write_bw", "write_bandwidth"), /s\.yaml:3:11: perftest: "write_bandwidth" is not one of "write_bw", "read_bw"/],
      [SMALL_WRITE.replace("link: 100GbE", "link: 4X EDR"), /s\.yaml:4:41: fabric\.link: rocev2-ipv4 runs over an Ethernet link, "4X EDR" is InfiniBand/],
      [SMALL_WRITE.replace("link: 100GbE", "link: 400GbE"), /s\.yaml:4:41: fabric\.link: unknown link speed "400GbE"/],
      [SMALL_WRITE.replace("iterations: 40", "iterations: 40, mtu: 1500"), /s\.yaml:5:48: test\.mtu: 1500 is not a path MTU \(256, 512, 1024, 2048, 4096\)/],
      [SMALL_WRITE.replace("sizes: [8, 8192]", "sizes: { from: 3, to: 64 }"), /s\.yaml:5:24: test\.sizes\.from: a 2\^n sweep runs between powers of two, 3 is not one/],
      [SMALL_WRITE + "adapter: { wqe_fetch_tagz: 4 }\n", /s\.yaml:7:12: adapter: unknown key "wqe_fetch_tagz"/],
      [SMALL_WRITE.replace("fabric: { ", "fabric: { faults: [{ kind: drop, rate: 2 }], "), /s\.yaml:4:20: fabric\.faults\[0\]: rate must be in \[0, 1\], got 2/],
      [SMALL_WRITE.replace("write_bw", "write_lat"), /s\.yaml:6:35: checks\.goodput: a bandwidth check, write_lat is a latency test/],
    ];
    // the command, for the first; the parser it calls, for the rest
    const r = await hcasim(["run", file(cases[0]![0]), "-q"]);
    expect(r.exitCode, r.all).toBe(2);
    expect(r.stderr).toMatch(cases[0]![1]);
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
    for (const [text, want] of cases.slice(1)) {
      let thrown: unknown;
      try {
        parsePerftestScenario(parseYaml(text, "s.yaml"));
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(SourceError);
      expect((thrown as Error).message).toMatch(want);
    }
    const flags = await hcasim(["run", file(SMALL_WRITE), "--defect", "X", "-q"]);
    expect(flags.exitCode).toBe(2);
    expect(flags.stderr).toMatch(/--defect: not for a perftest scenario/);
  });

  it("parses every shipped perftest scenario", () => {
    for (const f of readdirSync(SCENARIOS).filter((n) => /^(roce|ib)-.*\.yaml$/.test(n))) {
      const s = parsePerftestScenario(parseYaml(readFileSync(join(SCENARIOS, f), "utf8"), f));
      expect(s.name).toBe(f.replace(/\.yaml$/, ""));
    }
  });
});

describe.skipIf(!hasTshark)("captures (--pcap)", () => {
  it("RoCEv2: one file per link, every header dissected by tshark, every ICRC right", async () => {
    const dir = tmp();
    const text = SMALL_WRITE.replace("rocev2-ipv4, link: 100GbE", "rocev2-ipv6, link: 25GbE, topology: switch").replace("iterations: 40", "iterations: 6").replace(/checks: .*\n/, "");
    const r = await hcasim(["run", file(text), "--pcap", dir, "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["a-sw.pcap", "sw-b.pcap"]);
    const path = join(dir, "a-sw.pcap");
    const rows = tshark(path, ["frame.protocols", "udp.dstport", "infiniband.bth.opcode", "infiniband.reth.va", "infiniband.aeth.syndrome", "_ws.malformed"]);
    // 8 B: 6 WRITE ONLY; 8192 B: 6 × (FIRST + LAST) requests; and the ACKs back
    const writes = rows.filter((x) => ["10", "6", "8"].includes(x[2]!));
    expect(writes).toHaveLength(6 + 12);
    for (const row of rows) {
      expect(row[0]).toMatch(/^eth:ethertype:ipv6:udp:infiniband/);
      expect(row[1]).toBe("4791");
      expect(row[5]).toBe("");
      const op = Number(row[2]);
      if (op === 6 || op === 10) expect(row[3], "RETH on WRITE FIRST/ONLY").not.toBe("");
      if (op === 17) expect(row[4], "AETH on an ACK").not.toBe("");
    }
    expect(rows.some((x) => x[2] === "17")).toBe(true);
    const lines: string[] = [];
    const s = await icrcCheckFile(path, { stripFcs: false, write: (l) => lines.push(l) });
    expect(s.bad).toBe(0);
    expect(s.ok).toBe(rows.length);
  });

  it("InfiniBand: ERF records, LRH and BTH dissected, every ICRC and VCRC right; icrc-check exits 0", async () => {
    const dir = tmp();
    const text = `
scenario: small-ib-send
perftest: send_bw
fabric: { transport: ib, link: 4X HDR }
test: { sizes: [64, 8192], iterations: 5 }
`;
    const r = await hcasim(["run", file(text), "--pcap", dir, "-q"]);
    expect(r.exitCode, r.all).toBe(0);
    const path = join(dir, "a-b.pcap");
    expect(existsSync(path)).toBe(true);
    const rows = tshark(path, ["frame.protocols", "infiniband.lrh.dlid", "infiniband.lrh.slid", "infiniband.bth.opcode", "infiniband.aeth.syndrome", "_ws.malformed"]);
    expect(rows.length).toBeGreaterThan(15);
    for (const row of rows) {
      expect(row[0]).toMatch(/^erf:infiniband/);
      expect([row[1], row[2]].sort()).toEqual(["1", "2"]);
      expect(row[5]).toBe("");
    }
    // SEND ONLY (4), FIRST (0), LAST (2) from A; ACKs (17) from B
    expect(new Set(rows.map((x) => x[3]))).toEqual(new Set(["4", "0", "2", "17"]));
    const check = await hcasim(["icrc-check", path]);
    expect(check.exitCode, check.all).toBe(0);
    expect(check.stdout).toContain(`${rows.length} packets: ${rows.length} InfiniBand (${rows.length} ok, 0 bad), 0 other`);
  });
});
