import { describe, expect, it } from "vitest";
import { buildBlock } from "../../cosim/build.ts";
import { runLockstep } from "../../cosim/lockstep.ts";
import { loadManifest, resolveBlock } from "../../cosim/manifest.ts";
import { RtlProcess } from "../../cosim/rtl-process.ts";
import { MismatchError, Scoreboard } from "../../cosim/scoreboard.ts";
import { WqeFetchTwin, type WqeFetchParams } from "../../hca/wqe-fetch/index.ts";
import { generateWqeFetchTraffic, wqeFetchStimulus, type WqeFetchTrafficConfig } from "./wqe-fetch-traffic.ts";

const manifest = loadManifest(new URL("../../rtl-models/wqe_fetch/block.yaml", import.meta.url).pathname);

const BASE: WqeFetchTrafficConfig = { seed: 21, fetches: 3000, qps: 8, stale: 0.05, malformed: 0.04, latency: 40 };

function rtlParams(p: WqeFetchParams): Record<string, number> {
  return { QP_ENTRIES: p.qpEntries, TAGS: p.tags };
}

async function lockstep(cfg: WqeFetchTrafficConfig, opts: { defines?: string[]; skipOwnerCheck?: boolean } = {}) {
  const t = generateWqeFetchTraffic(cfg);
  const block = resolveBlock(manifest, rtlParams(t.params));
  const rtl = await RtlProcess.start(await buildBlock(block, { defines: opts.defines ?? [] }));
  try {
    const twin = new WqeFetchTwin({ ...t.params });
    const scoreboard = new Scoreboard(block);
    const result = await runLockstep({ rtl, twin, scoreboard, stimulus: wqeFetchStimulus(t), quantumCycles: 8192, outReadyPercent: 100, seed: 5 });
    return { t, result, report: scoreboard.report() };
  } finally {
    await rtl.close();
  }
}

describe("wqe_fetch lockstep: twin vs RTL", () => {
  it("zero mismatches, exact timing and matching wires on the generator's traffic (stale owners, malformed WQEs, out-of-order completions)", async () => {
    const { t, result, report } = await lockstep(BASE);
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    for (const s of report.streams) {
      expect(s.transactions, s.port).toBeGreaterThan(0);
      expect(s.latencyError.maxAbs, s.port).toBe(0);
    }
    expect(result.inputTransactions).toBe(t.cfg.length + t.fetch.length + t.cpl.length);
    expect(result.rtlWires.stat_reads).toBe(t.expected.length);
    expect(result.rtlWires.stat_wrs).toBe(t.counts.wrs);
    expect(result.rtlWires.stat_err_owner).toBe(t.counts.staleOwner);
    expect(result.rtlWires.stat_err_malformed).toBe(t.counts.malformed);
    expect(t.counts.staleOwner).toBeGreaterThan(10);
    expect(t.counts.malformed).toBeGreaterThan(10);
    expect(report.wires).toBeDefined();
    for (const [k, v] of Object.entries(report.wires!)) expect(v.model, k).toBe(v.rtl);
    console.log(`cosim.wqe_fetch: ${result.cycles} cycles in ${result.wallSeconds.toFixed(2)} s (${Math.round(result.cyclesPerSecond)} cycles/s)`);
  });

  it("an RTL built without the owner check is caught (HCASIM_DEFECT_SKIP_OWNER_CHECK)", async () => {
    const err = await lockstep({ ...BASE, fetches: 400 }, { defines: ["HCASIM_DEFECT_SKIP_OWNER_CHECK"] }).catch((e: unknown) => e);
    expect(err, String(err)).toBeInstanceOf(MismatchError);
    // a stale WQE executed: a work request where the twin reports a stale-owner error
    expect(String(err)).toMatch(/stream m_(wr|err)/);
  });
});
