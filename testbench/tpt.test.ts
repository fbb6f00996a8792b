/** The tpt scenario end to end: lockstep, the oracle, the hit rate. */
import { describe, expect, it } from "vitest";
import { loadScenario } from "./scenario.ts";
import { runScenario } from "./runner.ts";

describe("tpt scenario", () => {
  it("answers every lookup as the source registered it, identically in model and RTL", async () => {
    const sc = loadScenario(new URL("./scenarios/tpt.yaml", import.meta.url).pathname);
    if (sc.traffic.source !== "tpt_lookups") throw new Error("not a tpt scenario");
    sc.traffic.lookups = 6000;
    const r = await runScenario(sc);
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.scoreboard!.timing).toBe("pass");
    const t = r.tpt!;
    expect(t.failures).toEqual([]);
    expect(t.readbacks).toBeGreaterThan(0);
    for (const f of ["invalid_key", "stale_key", "pd_violation", "access_violation", "bounds_violation", "translation_fault"]) expect(t.faults[f], f).toBeGreaterThan(0);
    expect(t.hitRate).toBeGreaterThan(0.2);
    expect(t.hitRate).toBeLessThan(1);
    // hit and miss latency in the report: an uncontended miss costs MISS_LATENCY + 1 more than a hit
    const s = t.service!;
    expect(s.hit.count + s.miss.count).toBeGreaterThan(0.9 * t.lookups);
    expect(s.miss.count / (s.hit.count + s.miss.count)).toBeCloseTo(1 - t.hitRate, 1);
    expect(s.miss.p50 - s.hit.p50).toBe(sc.block.params.MISS_LATENCY! + 1);
    expect(r.scoreboard!.wires!.stat_faults!.rtl).toBe(r.scoreboard!.wires!.stat_faults!.model);
  });
});
