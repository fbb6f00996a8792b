/** The doorbell scenario end to end: lockstep, the oracle, and the counters. */
import { describe, expect, it } from "vitest";
import { loadScenario } from "./scenario.ts";
import { runScenario } from "./runner.ts";

describe("doorbell scenario", () => {
  it("passes in lockstep with every rejected doorbell and every queue's last index accounted for", async () => {
    const sc = loadScenario(new URL("./scenarios/doorbell.yaml", import.meta.url).pathname);
    if (sc.traffic.source !== "doorbells") throw new Error("not a doorbell scenario");
    sc.traffic.doorbells = 10_000;
    const r = await runScenario(sc);
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.scoreboard!.timing).toBe("pass");
    const d = r.doorbells!;
    expect(d.failures).toEqual([]);
    expect(d.readbacks).toBeGreaterThan(0);
    for (const v of ["owner", "invalid_queue", "bad_offset", "bad_command"] as const) expect(d.verdicts[v], v).toBeGreaterThan(0);
    expect(d.coalesced).toBeGreaterThan(0);
    expect(r.scoreboard!.wires!.stat_rejected_owner).toEqual({ model: d.verdicts.owner, rtl: d.verdicts.owner });
  });
});
