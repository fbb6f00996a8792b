import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { buildBlock } from "../../cosim/build.ts";
import { runLockstep } from "../../cosim/lockstep.ts";
import { loadManifest, resolveBlock } from "../../cosim/manifest.ts";
import { outputReady } from "../../cosim/ready-pattern.ts";
import { RtlProcess } from "../../cosim/rtl-process.ts";
import { MismatchError, Scoreboard } from "../../cosim/scoreboard.ts";
import { CfgWrite, CqArmUpdate, DoorbellError, DoorbellKind, DoorbellTwin, FetchRequest, type DoorbellParams } from "../../hca/doorbell/index.ts";
import { doorbellStimulus, generateDoorbellTraffic, queueKey, VERDICT_OF_REASON, type DoorbellTrafficConfig, type Verdict } from "./doorbell-traffic.ts";

const manifest = loadManifest(new URL("../../rtl-models/doorbell/block.yaml", import.meta.url).pathname);

const BASE: DoorbellTrafficConfig = { seed: 11, doorbells: 20_000, processes: 6, qpsPerProcess: 7, cqsPerProcess: 2, hotShare: 0.4, adversarial: 0.08 };
const VERDICTS: Verdict[] = ["accept", "owner", "invalid_queue", "bad_offset", "bad_command"];

function rtlParams(p: DoorbellParams): Record<string, number> {
  return { QP_ENTRIES: p.qpEntries, CQ_ENTRIES: p.cqEntries, UAR_PAGES: p.uarPages, PENDING: p.pending };
}

/** the twin on the traffic, drained */
function runTwin(cfg: DoorbellTrafficConfig, ready?: (port: number) => (c: number) => boolean) {
  const t = generateDoorbellTraffic(cfg);
  const twin = new DoorbellTwin({ ...t.params, ...(ready ? { outputReady: { m_fetch: ready(0), m_cq_arm: ready(1), m_err: ready(2), m_cfg_rd: ready(3) } } : {}) });
  for (const { port, txn } of doorbellStimulus(t)) twin.offer(port, txn);
  twin.runUntil((t.mmio.at(-1)?.startCycle ?? 0) * 3 + 10_000);
  return { t, twin };
}

describe("doorbell traffic: generator and oracle", () => {
  it("is deterministic per seed and covers every verdict", () => {
    const a = generateDoorbellTraffic(BASE);
    const b = generateDoorbellTraffic(BASE);
    expect(a.mmio.map((x) => [...x.data, x.startCycle])).toEqual(b.mmio.map((x) => [...x.data, x.startCycle]));
    for (const v of VERDICTS) expect(a.counts[v], v).toBeGreaterThan(20);
  });

  it("the twin agrees with the oracle: every rejected doorbell's reason in order, every queue's last counter, every counter", () => {
    // the fetch engine downstream takes a request on 40% of cycles, so hot queues wait and coalesce
    const { t, twin } = runTwin(BASE, (port) => outputReady(3, 40, port));
    const errs = twin.take("m_err").map((e) => DoorbellError.decode(e.data));
    const rejected = t.expected.filter((e) => e.verdict !== "accept");
    expect(errs.map((e) => [VERDICT_OF_REASON[e.reason], e.offset, e.kind, e.number])).toEqual(rejected.map((e) => [e.verdict, e.offset, e.kind, e.number]));
    const last = new Map<string, number>();
    for (const x of twin.take("m_fetch")) {
      const f = FetchRequest.decode(x.data);
      last.set(queueKey(f.kind, f.qpn), f.counter);
    }
    for (const x of twin.take("m_cq_arm")) {
      const f = CqArmUpdate.decode(x.data);
      last.set(queueKey(DoorbellKind.cq, f.cqn), f.ci);
    }
    expect(last).toEqual(t.lastCounter);
    // every ownership read-back answers what the generator configured, in order
    expect(twin.take("m_cfg_rd").map((x) => [...x.data])).toEqual(t.readbacks.map((r) => [...r.expected]));
    expect(t.readbacks.some((r) => CfgWrite.get(r.expected, 0, "valid") === 0)).toBe(true);
    const w = twin.wires();
    expect(w.stat_doorbells).toBe(t.mmio.length);
    expect(w.stat_rejected_owner).toBe(t.counts.owner);
    expect(w.stat_rejected_other).toBe(t.counts.invalid_queue + t.counts.bad_offset + t.counts.bad_command);
    expect(w.stat_coalesced).toBeGreaterThan(100);
  });
});

async function lockstep(cfg: DoorbellTrafficConfig, opts: { readyPercent?: number; defines?: string[] } = {}) {
  const t = generateDoorbellTraffic(cfg);
  const block = resolveBlock(manifest, rtlParams(t.params));
  const rtl = await RtlProcess.start(await buildBlock(block, { defines: opts.defines ?? [] }));
  try {
    const pct = opts.readyPercent ?? 100;
    const seed = 5;
    const ready = pct < 100 ? { m_fetch: outputReady(seed, pct, 0), m_cq_arm: outputReady(seed, pct, 1), m_err: outputReady(seed, pct, 2), m_cfg_rd: outputReady(seed, pct, 3) } : undefined;
    const twin = new DoorbellTwin({ ...t.params, ...(ready ? { outputReady: ready } : {}) });
    const scoreboard = new Scoreboard(block);
    const rtlReasons = new Map<number, number>();
    const rtlReadbacks: Uint8Array[] = [];
    const result = await runLockstep({
      rtl,
      twin,
      scoreboard,
      stimulus: doorbellStimulus(t),
      quantumCycles: 8192,
      outReadyPercent: pct,
      seed,
      onRtlOutput: (port, txns: readonly StreamTransaction[]) => {
        if (port === "m_cfg_rd") for (const x of txns) rtlReadbacks.push(x.data.slice());
        if (port !== "m_err") return;
        for (const x of txns) {
          const r = DoorbellError.decode(x.data).reason;
          rtlReasons.set(r, (rtlReasons.get(r) ?? 0) + 1);
        }
      },
    });
    return { t, result, report: scoreboard.report(), rtlReasons, rtlReadbacks };
  } finally {
    await rtl.close();
  }
}

describe("doorbell lockstep: twin vs RTL", () => {
  it("zero mismatches and exact timing on mixed, hot and adversarial traffic under 50% output readiness; every reject reason present", async () => {
    const { t, result, report, rtlReasons, rtlReadbacks } = await lockstep(BASE, { readyPercent: 50 });
    expect(rtlReadbacks.map((x) => [...x])).toEqual(t.readbacks.map((r) => [...r.expected]));
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    for (const s of report.streams) { expect(s.transactions, s.port).toBeGreaterThan(0); expect(s.latencyError.maxAbs, s.port).toBe(0); }
    expect(result.inputTransactions).toBe(t.cfg.length + t.mmio.length);
    for (const v of VERDICTS.slice(1)) {
      const reason = Number(Object.entries(VERDICT_OF_REASON).find(([, n]) => n === v)![0]);
      expect(rtlReasons.get(reason), v).toBe(t.counts[v]);
    }
    expect(result.rtlWires.stat_rejected_owner).toBe(t.counts.owner);
    expect(result.rtlWires.stat_coalesced).toBeGreaterThan(100);
    expect(report.wires).toBeDefined();
    for (const [k, v] of Object.entries(report.wires!)) expect(v.model, k).toBe(v.rtl);
    console.log(`cosim.doorbell: ${result.cycles} cycles in ${result.wallSeconds.toFixed(2)} s (${Math.round(result.cyclesPerSecond)} cycles/s; RTL alone ${Math.round(result.cycles / result.rtlSimSeconds)} cycles/s)`);
  });

  it("stays exact with outputs always ready and small tables (QP/CQ 16, 8 pages, PENDING 4)", async () => {
    const cfg: DoorbellTrafficConfig = { ...BASE, seed: 12, doorbells: 8000, processes: 5, qpsPerProcess: 3, cqsPerProcess: 2, params: { qpEntries: 16, cqEntries: 16, uarPages: 8, pending: 4 } };
    const { report } = await lockstep(cfg);
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    for (const s of report.streams) { expect(s.transactions, s.port).toBeGreaterThan(0); expect(s.latencyError.maxAbs, s.port).toBe(0); }
  });

  it("an RTL built without the ownership check is caught (HCASIM_DEFECT_SKIP_OWNER_CHECK)", async () => {
    const err = await lockstep({ ...BASE, doorbells: 2000 }, { defines: ["HCASIM_DEFECT_SKIP_OWNER_CHECK"] }).catch((e) => e);
    expect(err, String(err)).toBeInstanceOf(MismatchError);
  });
});
