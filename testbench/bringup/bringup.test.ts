/**
 * The firmware bring-up end to end: the scenario passes with every stage's RTL in lockstep;
 * a defect build of a stage fails it; the end-to-end oracle catches a translation that
 * should have been refused and the memory it would write; scenario and option errors are
 * clear.
 */
import { describe, expect, it } from "vitest";
import { SourceError, UserError, parseYaml } from "../../cosim/index.ts";
import { TPT_RESP_BEAT_BYTES, TptFault, TptRespBeatLayout } from "../../hca/tpt/tpt-format.ts";
import { runHost } from "./host.ts";
import { EndToEndOracle } from "./oracle.ts";
import { runBringup, runBringupCommand } from "./run.ts";
import { INVALID_KINDS, loadBringupScenario, parseBringupScenario, type BringupScenario } from "./scenario.ts";
import { doorbellStimulus, runStage, stageBlock, tptStimulus, wqeFetchStimulus } from "./stages.ts";

const FILE = new URL("../scenarios/firmware-bringup.yaml", import.meta.url).pathname;

function small(workRequests = 150): BringupScenario {
  const sc = loadBringupScenario(FILE);
  sc.traffic.workRequests = workRequests;
  return sc;
}

describe("firmware bring-up scenario", () => {
  it("passes: every stage's RTL agrees with its twin cycle for cycle, and every request ends as the host posted it", async () => {
    const r = await runBringup(small());
    expect(r.verdict, r.failures.join("\n")).toBe("PASS");
    // the bring-up went through the firmware, command by command
    for (const c of ["QUERY_FW", "QUERY_DEV_CAP", "INIT_HCA", "INIT_PORT", "SW2HW_EQ", "MAP_EQ", "SW2HW_CQ", "RST2INIT_QP", "INIT2RTR_QP", "RTR2RTS_QP", "WRITE_MTT", "SW2HW_MPT", "HW2SW_MPT"]) {
      expect(r.host.commands[c], c).toBeGreaterThan(0);
    }
    expect(Object.keys(r.host.config).sort()).toEqual(["doorbell", "tpt", "wqe_fetch"]);
    expect(r.stages.map((s) => [s.name, s.mode, s.mismatches, s.timing])).toEqual([
      ["doorbell", "rtl", 0, "pass"], ["wqe_fetch", "rtl", 0, "pass"], ["tpt", "rtl", 0, "pass"],
    ]);
    for (const s of r.stages) for (const x of s.streams) if (x.transactions > 0) expect(x.latencyError.maxAbs, `${s.name}.${x.port}`).toBe(0);
    const e = r.endToEnd!;
    expect(e.failures).toEqual([]);
    for (const k of INVALID_KINDS) expect(e.invalid[k], k).toBeGreaterThan(0);
    for (const f of ["ok", "stale_key", "invalid_key", "pd_violation", "access_violation", "bounds_violation"]) expect(e.faults[f], f).toBeGreaterThan(0);
    expect(e.dmaWrites).toBeGreaterThan(0);
    // every posted WR reached the tpt: one lookup per SGE
    const wqe = r.stages.find((s) => s.name === "wqe_fetch")!;
    expect(wqe.outputs.m_wr).toBe(r.host.workRequests);
    expect(wqe.outputs.m_err).toBe(0);
  });

  it("fails when the tpt RTL keeps a stale MPT cache line (HCASIM_DEFECT_KEEP_STALE_CACHE): a re-registered region's old key still translates", async () => {
    const r = await runBringup(small(), { defects: { tpt: ["HCASIM_DEFECT_KEEP_STALE_CACHE"] } });
    expect(r.verdict).toBe("FAIL");
    const tpt = r.stages.find((s) => s.name === "tpt")!;
    expect(tpt.mismatches).toBe(1);
    expect(tpt.mismatch).toMatch(/^MISMATCH in block tpt, stream m_resp/);
  });

  it("fails when the doorbell RTL skips the ownership check (HCASIM_DEFECT_SKIP_OWNER_CHECK): a doorbell from another context's page gets through", async () => {
    const r = await runBringup(small(), { defects: { doorbell: ["HCASIM_DEFECT_SKIP_OWNER_CHECK"] } });
    expect(r.verdict).toBe("FAIL");
    expect(r.stages.map((s) => s.name)).toEqual(["doorbell"]);
    expect(r.failures[0]).toMatch(/^MISMATCH in block doorbell, stream m_(fetch|err)/);
    expect(r.failures).toContain("stage tpt: not run (an earlier stage failed)");
  });
});

describe("the end-to-end oracle", () => {
  /** the pipeline with twins only, keeping every stage's outputs */
  async function pipeline() {
    const sc = small(120);
    for (const s of sc.stages) s.rtl = false;
    const host = await runHost(sc, { capacity: { qps: 64, cqs: 64, mpts: 256, mtts: 4096 }, uarPages: 64, maxSegments: 8, cacheEntries: 16 });
    const opts = { defects: [], quantumCycles: 4096, timeoutMs: 10_000, checkTiming: false };
    const block = (n: "doorbell" | "wqe_fetch" | "tpt") => stageBlock(sc.stages.find((s) => s.name === n)!);
    const db = await runStage(sc.stages[0]!, block("doorbell"), doorbellStimulus(host, 250), opts);
    const wf = wqeFetchStimulus(host, db.outputs.m_fetch!, db.windows, 8, 40, sc.seed);
    const wqe = await runStage(sc.stages[1]!, block("wqe_fetch"), wf, opts);
    const tp = tptStimulus(host, wqe.outputs.m_wr!, wqe.windows);
    const tpt = await runStage(sc.stages[2]!, block("tpt"), tp, opts);
    return { host, db, wf, wqe, tp, tpt };
  }

  it("passes the twins' outputs, and catches a refused translation turned into an accepted one, and the write it caused", async () => {
    const p = await pipeline();
    const clean = new EndToEndOracle(p.host);
    clean.doorbell(p.db.outputs.m_err!);
    clean.wqeFetch(p.wqe.outputs, p.wf.reads);
    clean.tpt(p.tpt.outputs.m_resp!, p.tp.lookups);
    clean.execute();
    expect(clean.report.failures).toEqual([]);

    // a receive into a read-only region: make the tpt say "ok, here are the pages"
    const bad = p.host.wrs.find((w) => w.invalid === "no_write")!;
    const k = bad.expected.findIndex((e) => e.fault !== TptFault.ok);
    const i = p.tp.lookups.findIndex((l) => l.qpn === bad.qpn && l.kind === bad.kind && l.index === bad.index && l.sge === k);
    const resp = p.tpt.outputs.m_resp!.slice();
    const forged = new Uint8Array(TPT_RESP_BEAT_BYTES);
    TptRespBeatLayout.encode({ tag: p.tp.lookups[i]!.tag, fault: TptFault.ok, nseg: 1, addr: bad.sgl[k]!.addr, len: bad.sgl[k]!.length }, forged);
    resp[i] = { ...resp[i]!, data: forged };
    const o = new EndToEndOracle(p.host);
    o.tpt(resp, p.tp.lookups);
    o.execute();
    expect(o.report.failures.some((f) => f.includes(`work request #${bad.id} (no_write)`) && f.includes("expected access_violation"))).toBe(true);
    expect(o.report.failures.some((f) => f.startsWith("host memory: DMA writes differ"))).toBe(true);
    expect(o.report.failures.some((f) => f.includes("changed outside the valid requests' segments"))).toBe(true);
  });

  it("catches a doorbell from another context's page that was not dropped, and a work request that went missing", async () => {
    const p = await pipeline();
    const o = new EndToEndOracle(p.host);
    o.doorbell([]);
    o.wqeFetch({ ...p.wqe.outputs, m_wr: p.wqe.outputs.m_wr!.slice(1) }, p.wf.reads);
    expect(o.report.failures[0]).toMatch(/^doorbell: \d+ doorbells rung on another context's page were not dropped/);
    expect(o.report.failures[1]).toMatch(/^wqe_fetch: 1 posted work requests never came out/);
  });
});

describe("bring-up scenario files and options", () => {
  it("a schema error names file, line and column", () => {
    const doc = parseYaml("scenario: x\nstages:\n  doorbell: {}\n  dma: {}\nhost: {}\ntraffic: { work_requests: 10 }\n", "bad.yaml");
    expect(() => parseBringupScenario(doc)).toThrow(SourceError);
    expect(() => parseBringupScenario(doc)).toThrow(/^bad\.yaml:4:\d+: stages: "dma" is not a stage of the pipeline \(stages, in order: doorbell, wqe_fetch, tpt\)/);
    const kinds = parseYaml("scenario: x\nstages: {}\nhost: {}\ntraffic: { work_requests: 10, invalid_kinds: [bounds, forged] }\n", "k.yaml");
    expect(() => parseBringupScenario(kinds)).toThrow(/^k\.yaml:4:\d+: traffic\.invalid_kinds\[1\]: "forged" is not one of/);
  });

  it("one-block options are refused; a defect names its stage when two blocks declare it", async () => {
    const opts = { defect: [], param: [] };
    await expect(runBringupCommand(small(), { ...opts, trace: "x.vcd" }, () => undefined, () => undefined)).rejects.toThrow(UserError);
    await expect(runBringupCommand(small(), { ...opts, defect: ["HCASIM_DEFECT_SKIP_OWNER_CHECK"] }, () => undefined, () => undefined))
      .rejects.toThrow("--defect HCASIM_DEFECT_SKIP_OWNER_CHECK: declared by doorbell and wqe_fetch; say which: --defect doorbell:HCASIM_DEFECT_SKIP_OWNER_CHECK");
    await expect(runBringupCommand(small(), { ...opts, defect: ["dma:X"] }, () => undefined, () => undefined)).rejects.toThrow(/"dma" is not a stage/);
  });
});
