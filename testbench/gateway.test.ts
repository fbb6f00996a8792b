/**
 * The gateway end to end: the shipped scenarios' configurations in lockstep (shortened),
 * a configuration that cannot hold line rate, captures, and the sweep.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readPcap } from "../core/pcap.ts";
import { loadScenario } from "./scenario.ts";
import { runScenario } from "./runner.ts";
import { formatSweep, runSweep, sweepSvg } from "./sweep.ts";
import { tsharkAvailable, tsharkFields } from "../core/tshark.ts";

const scenario = (name: string) => loadScenario(new URL(`./scenarios/${name}.yaml`, import.meta.url).pathname);

function shortened(name: string, durationUs: number) {
  const sc = scenario(name);
  if (sc.traffic.source !== "gateway") throw new Error("not a gateway scenario");
  sc.traffic.durationUs = durationUs;
  return sc;
}

const hasTshark = tsharkAvailable();

describe("gateway in lockstep", () => {
  it("6×1 GbE: 64-byte frames at 100% of line rate both ways on all ports, no drops, model = RTL", async () => {
    const pcapDir = mkdtempSync(join(tmpdir(), "hcasim-gw-"));
    const r = await runScenario(shortened("gateway-6x1g", 400), { pcapDir });
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.scoreboard!.functional).toBe("pass");
    expect(r.scoreboard!.timing).toBe("pass");
    const rows = r.lineRate!.rows;
    expect(rows).toHaveLength(12);
    for (const row of rows) {
      expect(row.forwarded).toBe(row.offered);
      expect(row.offered).toBeGreaterThan(500);
      expect(row.percentOfLine).toBeGreaterThan(99.9);
      expect(row.percentOfLine).toBeLessThan(100.1);
    }
    expect(Object.values(r.lineRate!.drops).every((v) => v === 0)).toBe(true);
    // the counters agree between model and RTL, and count what was forwarded
    expect(r.scoreboard!.wires!.stat_eth2ib_frames).toEqual({ model: 6 * rows[0]!.offered, rtl: 6 * rows[0]!.offered });

    // one capture per port and direction; the IB side as ERF records Wireshark dissects
    const names = r.captures!.map((c) => c.path.split("/").pop()).sort();
    expect(names).toEqual([
      ...Array.from({ length: 6 }, (_, i) => `m_eth_axis-${i}.pcap`),
      "m_ib_axis.pcap",
      "m_slow_axis.pcap",
      ...Array.from({ length: 6 }, (_, i) => `s_eth_axis-${i}.pcap`),
      "s_ib_axis.pcap",
    ].sort());
    const ib = readPcap(readFileSync(join(pcapDir, "m_ib_axis.pcap")));
    expect(ib.linkType).toBe(197);
    expect(ib.packets.length).toBe(6 * rows[0]!.offered);
    const eth = readPcap(readFileSync(join(pcapDir, "m_eth_axis-2.pcap")));
    expect(eth.linkType).toBe(1);
    expect(eth.packets.every((p) => p.data.length === 64)).toBe(true); // padded to 60, plus the FCS
    if (hasTshark) {
      const rows = tsharkFields(join(pcapDir, "m_ib_axis.pcap"), ["infiniband.lrh.slid", "infiniband.bth.opcode", "infiniband.deth.srcqp"], { count: 3 });
      expect(rows).toHaveLength(3);
      for (const r of rows) expect(r).toEqual(["1", "100", "0x00000048"]);
    }
  });

  it("100 GbE on a 512-bit datapath: Ethernet → IB at line rate; IB → Ethernet limited by 4X EDR, and said so", async () => {
    const r = await runScenario(shortened("gateway-100g", 40));
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    const [e2i, i2e] = r.lineRate!.rows;
    expect(e2i!.percentOfLine).toBeGreaterThan(99.9);
    expect(r.lineRate!.ibLimited).toBe(true);
    expect(i2e!.forwarded).toBe(i2e!.offered);
    expect(i2e!.percentOfLine).toBeLessThan(99);
  });

  it("a clock too slow for 6×1 GbE: both model and RTL fall short identically, and the line_rate check fails", async () => {
    const sc = shortened("gateway-6x1g", 200);
    sc.block.clockMhz = 62.5;
    const r = await runScenario(sc);
    expect(r.scoreboard!.functional).toBe("pass"); // the same frames dropped on both sides
    expect(r.scoreboard!.timing).toBe("pass");
    expect(r.verdict).toBe("FAIL");
    expect(r.lineRate!.drops.queue_full).toBeGreaterThan(0);
    expect(r.scoreboard!.wires!.stat_drop_queue_full!.model).toBe(r.lineRate!.drops.queue_full);
    expect(r.failures.some((f) => /port \d eth→ib: \d+ of \d+ frames forwarded/.test(f))).toBe(true);
  });

  it("every drop, slow-path and multicast case goes the same way through model and RTL", async () => {
    const sc = shortened("gateway-6x1g", 300);
    if (sc.traffic.source !== "gateway") throw new Error();
    sc.traffic.anomalies = 0.3;
    sc.traffic.ethToIbLoad = 0.5;
    sc.traffic.ibToEthLoad = 0.5;
    sc.checks = ["content", "timing"];
    const r = await runScenario(sc);
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    const w = r.scoreboard!.wires!;
    for (const name of ["stat_drop_bad_crc", "stat_drop_runt", "stat_drop_giant", "stat_drop_bad_header", "stat_drop_key_mismatch", "stat_drop_unknown", "stat_slow_path"]) {
      expect(w[name]!.rtl, name).toBeGreaterThan(0);
      expect(w[name]!.rtl, name).toBe(w[name]!.model);
    }
    const slow = r.scoreboard!.streams.find((s) => s.port === "m_slow_axis")!;
    expect(slow.transactions).toBe(w.stat_slow_path!.rtl);
    // multicast IB packets reach every port: more frames out than IB packets forwarded to one port each
    expect(w.stat_ib2eth_frames!.rtl).toBeGreaterThan(0);
  });

  it("sweeps frame sizes: a table, a chart, and the sizes the MTU rules out", async () => {
    const sc = scenario("gateway-6x1g");
    sc.sweep = { frameBytes: [64, 1518, 9000], durationUs: 100 };
    const points = await runSweep(sc, {});
    expect(points.map((p) => p.frameBytes)).toEqual([64, 1518, 9000]);
    expect(points[0]!.holdsLineRate).toBe(true);
    expect(points[1]!.holdsLineRate).toBe(true);
    expect(points[2]!.skipped).toContain("exceeds the IB MTU (2048)");
    const table = formatSweep(points);
    expect(table).toMatch(/^ {2}64 +4\.571 +100\.00%/m);
    expect(table).toContain("9000 B not run");
    const svg = sweepSvg(points, "t");
    expect(svg.match(/<polyline/g)).toHaveLength(3);
  });
});
