import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import { cfgMptInvalidate, decodeCfgReadback, TptCfgHeaderLayout, TptCfgOp } from "../../hca/formats/index.ts";
import { buildBlock, loadManifest, MismatchError, resolveBlock, RtlProcess, runLockstep, Scoreboard } from "../../cosim/index.ts";
import { decodeResponse, faultName, TptFault, type TptParams, TPT_PARAM_NAMES } from "../../hca/tpt/tpt-format.ts";
import { TptTwin } from "../../hca/tpt/tpt-twin.ts";
import { tptStimulus, tptTraffic, type TptTraffic } from "./tpt-traffic.ts";

const manifest = loadManifest(new URL("../../rtl-models/tpt/block.yaml", import.meta.url).pathname);

/** runs the traffic through the twin alone (every input offered up front); checks the read-backs */
function runTwin(t: TptTraffic): StreamTransaction[] {
  const twin = new TptTwin(t.params);
  for (const item of tptStimulus(t)) twin.offer(item.port, item.txn);
  const last = t.requests.at(-1)!.txn.startCycle;
  twin.runUntil(last + t.requests.length * 64 + 10_000);
  checkReadbacks(t, twin.take("m_cfg_rd"));
  return twin.take("m_resp");
}

/** every table read-back answered as the source wrote the tables, the cycle after the read */
function checkReadbacks(t: TptTraffic, out: StreamTransaction[]): void {
  expect(out.map((o) => [...o.data])).toEqual(t.readbacks.map((r) => [...r.expected]));
  expect(out.map((o) => o.endCycle)).toEqual(t.readbacks.map((r) => r.txn.startCycle + 1));
}

function checkAgainstOracle(t: TptTraffic, out: StreamTransaction[]): void {
  expect(out.length).toBe(t.requests.length);
  out.forEach((o, i) => {
    const r = decodeResponse(o.data);
    const exp = t.requests[i]!;
    const ctx = `request #${i} (${exp.kind})`;
    expect(r.tag, ctx).toBe(i & 0xffff);
    expect(faultName(r.fault), ctx).toBe(faultName(exp.expected.fault));
    if (exp.expected.fault === TptFault.ok) expect(r.segments, ctx).toEqual(exp.expected.segments);
  });
}

describe("tpt traffic", () => {
  it("is deterministic per seed and covers every fault kind and every adversarial kind", () => {
    const a = tptTraffic({ seed: 11, lookups: 3000 });
    const b = tptTraffic({ seed: 11, lookups: 3000 });
    expect(a.requests.map((r) => r.txn.data)).toEqual(b.requests.map((r) => r.txn.data));
    expect(a.config.map((c) => c.data)).toEqual(b.config.map((c) => c.data));
    const faults = new Set(a.requests.map((r) => r.expected.fault));
    for (const f of Object.values(TptFault)) expect(faults, faultName(f)).toContain(f);
    // the read-backs cover owned, free-state, never-written and out-of-table MPT entries, written and unwritten MTT entries
    const rb = a.readbacks.map((r) => decodeCfgReadback(r.expected));
    expect(new Set(rb.map((r) => `${r.op}:${r.valid}:${r.live}`))).toEqual(new Set([`${TptCfgOp.mptRead}:true:true`, `${TptCfgOp.mptRead}:true:false`, `${TptCfgOp.mptRead}:false:false`, `${TptCfgOp.mttRead}:true:false`, `${TptCfgOp.mttRead}:false:false`]));
    const kinds = new Set(a.requests.map((r) => r.kind));
    for (const k of ["hot", "cold", "multi", "zero", "stale", "other_pd", "no_right", "past_end", "wrap", "unregistered", "beyond_table", "hole", "deregistered", "reregistered"]) {
      expect(kinds, k).toContain(k);
    }
    // the adversarial kinds get the fault they were built for
    const want: Record<string, number> = {
      stale: TptFault.staleKey, other_pd: TptFault.pdViolation, no_right: TptFault.accessViolation, past_end: TptFault.boundsViolation,
      wrap: TptFault.boundsViolation, unregistered: TptFault.invalidKey, beyond_table: TptFault.invalidKey, hole: TptFault.translationFault,
      deregistered: TptFault.invalidKey, reregistered: TptFault.staleKey,
    };
    for (const r of a.requests) if (r.kind in want) expect(faultName(r.expected.fault), r.kind).toBe(faultName(want[r.kind]!));
  });

  it("the twin agrees with the independent oracle on every request", () => {
    for (const seed of [1, 2, 3]) {
      const t = tptTraffic({ seed, lookups: 3000, meanGap: seed - 1 });
      checkAgainstOracle(t, runTwin(t));
    }
  });

  it("the twin agrees with the oracle at the smallest and largest parameters", () => {
    for (const params of [
      { mptEntries: 64, mttEntries: 1024, cacheEntries: 4, missLatency: 1, maxSegments: 1 },
      { mptEntries: 1024, mttEntries: 16384, cacheEntries: 64, missLatency: 32, maxSegments: 16 },
    ] satisfies TptParams[]) {
      const t = tptTraffic({ seed: 5, lookups: 2000, params });
      checkAgainstOracle(t, runTwin(t));
    }
  });
});

async function lockstep(t: TptTraffic, quantumCycles = 4096, defines: string[] = []) {
  const values = Object.fromEntries(Object.entries(t.params).map(([k, v]) => [TPT_PARAM_NAMES[k as keyof TptParams], v]));
  const block = resolveBlock(manifest, values);
  const rtl = await RtlProcess.start(await buildBlock(block, { defines }));
  try {
    const scoreboard = new Scoreboard(block);
    const rtlOut: StreamTransaction[] = [];
    const rtlCfgRd: StreamTransaction[] = [];
    const result = await runLockstep({
      rtl, twin: new TptTwin(t.params), scoreboard, stimulus: tptStimulus(t), quantumCycles,
      onRtlOutput: (p, txns) => (p === "m_resp" ? rtlOut : rtlCfgRd).push(...txns),
    });
    return { result, report: scoreboard.report(), rtlOut, rtlCfgRd };
  } finally {
    await rtl.close();
  }
}

describe("tpt lockstep: twin against the Verilator RTL", () => {
  it("zero mismatches, exact timing and equal counters on the generator's traffic; the RTL meets the oracle", async () => {
    const t = tptTraffic({ seed: 42, lookups: 6000 });
    const { result, report, rtlOut, rtlCfgRd } = await lockstep(t);
    expect(result.outputTransactions).toBe(t.requests.length + t.readbacks.length);
    checkReadbacks(t, rtlCfgRd);
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    expect(report.streams[0]!.latencyError.maxAbs).toBe(0);
    checkAgainstOracle(t, rtlOut);
    const w = report.wires!;
    for (const n of ["stat_lookups", "stat_hits", "stat_misses", "stat_faults"]) expect(w[n]!.model, n).toBe(w[n]!.rtl);
    expect(w.stat_lookups!.rtl).toBe(t.requests.length);
    expect(w.stat_faults!.rtl).toBe(t.requests.filter((r) => r.expected.fault !== TptFault.ok).length);
    expect(w.stat_hits!.rtl).toBeGreaterThan(w.stat_misses!.rtl);
  });

  it("matches at the smallest and largest parameters, with gaps and small quanta", async () => {
    for (const [params, gap] of [
      [{ mptEntries: 64, mttEntries: 1024, cacheEntries: 4, missLatency: 1, maxSegments: 1 }, 1],
      [{ mptEntries: 1024, mttEntries: 16384, cacheEntries: 64, missLatency: 32, maxSegments: 16 }, 3],
    ] as [TptParams, number][]) {
      const t = tptTraffic({ seed: 7, lookups: 2500, params, meanGap: gap });
      const { report, rtlOut, rtlCfgRd } = await lockstep(t, 512);
      expect(report.functional).toBe("pass");
      expect(report.timing).toBe("pass");
      checkAgainstOracle(t, rtlOut);
      checkReadbacks(t, rtlCfgRd);
    }
  });

  it("table writes racing in-flight lookups (invalidate, re-register, MTT flips at random cycles): model and RTL agree cycle for cycle", async () => {
    const t = tptTraffic({ seed: 9, lookups: 5000, params: { mptEntries: 64, mttEntries: 1024, cacheEntries: 4, missLatency: 8, maxSegments: 4 } });
    const rng = new Prng("churn");
    const first = t.requests[0]!.txn.startCycle;
    const last = t.requests.at(-1)!.txn.startCycle + 2000;
    const mpt = t.config.filter((c) => TptCfgHeaderLayout.get(c.data, 0, "op") === TptCfgOp.mptWrite);
    const mtt = t.config.filter((c) => TptCfgHeaderLayout.get(c.data, 0, "op") === TptCfgOp.mttWrite);
    const extra: StreamTransaction[] = [];
    const at = (data: Uint8Array, cycle: number) => extra.push({ data, user: {}, startCycle: cycle, endCycle: cycle });
    for (let i = 0; i < 1500; i++) {
      const c = rng.bool(0.5) ? rng.int(first, first + 30_000) : rng.int(first, last);
      if (rng.bool(0.6)) {
        const w = mpt[rng.int(0, mpt.length - 1)]!;
        at(cfgMptInvalidate(TptCfgHeaderLayout.get(w.data, 0, "index")), c);
        at(w.data, c + rng.int(0, 30)); // re-registered (same key) a little later
      } else {
        const w = mtt[rng.int(0, mtt.length - 1)]!;
        const flipped = w.data.slice();
        flipped[15]! ^= 1; // present bit
        at(flipped, c);
        at(w.data, c + rng.int(0, 30));
      }
    }
    const churned: TptTraffic = { ...t, config: [...t.config, ...extra].sort((a, b) => a.startCycle - b.startCycle) };
    const { result, report } = await lockstep(churned, 1024);
    expect(result.outputTransactions).toBe(t.requests.length + t.readbacks.length);
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    expect(report.streams[0]!.latencyError.maxAbs).toBe(0);
    for (const n of ["stat_lookups", "stat_hits", "stat_misses", "stat_faults"]) expect(report.wires![n]!.model, n).toBe(report.wires![n]!.rtl);
  });

  it("an RTL whose MPT writes leave the cached copy (HCASIM_DEFECT_KEEP_STALE_CACHE) is caught: a deregistered key still translates", async () => {
    const t = tptTraffic({ seed: 42, lookups: 1500 });
    const err = await lockstep(t, 4096, ["HCASIM_DEFECT_KEEP_STALE_CACHE"]).catch((e) => e);
    expect(err, String(err)).toBeInstanceOf(MismatchError);
    expect((err as Error).message).toContain("stream m_resp");
  });
});
