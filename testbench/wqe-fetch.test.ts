/** The wqe-fetch scenario end to end (lockstep, defect build), and what the wqe_oracle catches. */
import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../core/block.ts";
import { RunFailure } from "../cosim/index.ts";
import { WQE_OPCODE_NAMES, WqeError, WqeOpcode } from "../hca/formats/wqe.ts";
import { DmaReadReq, WorkRequest, WqeFetchError, WqeFetchTwin, WR_HEADER_BYTES } from "../hca/wqe-fetch/index.ts";
import { runScenario } from "./runner.ts";
import { loadScenario } from "./scenario.ts";
import { generateWqeFetchTraffic, wqeFetchStimulus, type WqeFetchTraffic } from "./traffic/wqe-fetch-traffic.ts";
import { WqeFetchOracle } from "./wqe-fetch-oracle.ts";

const SCENARIO = new URL("./scenarios/wqe-fetch.yaml", import.meta.url).pathname;

function smallScenario(fetches: number) {
  const sc = loadScenario(SCENARIO);
  if (sc.traffic.source !== "wqe_fetches") throw new Error("not a wqe-fetch scenario");
  sc.traffic.fetches = fetches;
  return sc;
}

describe("wqe-fetch scenario", () => {
  it("passes in lockstep: every work request and rejection as the source wrote it, in per-queue order", async () => {
    const r = await runScenario(smallScenario(4000));
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.scoreboard!.functional).toBe("pass");
    expect(r.scoreboard!.timing).toBe("pass");
    for (const s of r.scoreboard!.streams) expect(s.throughputError, s.port).toBeLessThanOrEqual(0.02);
    const w = r.wqe!;
    expect(w.failures).toEqual([]);
    expect(w.reads).toBe(w.wqes);
    expect(w.wrs + Object.values(w.rejects).reduce((a, b) => a + b, 0)).toBe(w.wqes);
    for (const op of [...Object.keys(WqeOpcode), "RECV"]) expect(w.wrsByOpcode[op], op).toBeGreaterThan(0);
    for (const reason of ["stale_owner", "bad_opcode", "bad_size", "bad_segment"]) expect(w.rejects[reason], reason).toBeGreaterThan(0);
    for (const k of ["outOfOrderCompletions", "inline", "multiSge", "spanning", "ringWraps", "counterWraps", "emptyFetches", "foreignFetches"] as const) expect(w[k], k).toBeGreaterThan(0);
    expect(r.scoreboard!.wires!.stat_err_owner).toEqual({ model: w.staleOwnerRejects, rtl: w.staleOwnerRejects });
  });

  it("an RTL built without the owner check fails the run (HCASIM_DEFECT_SKIP_OWNER_CHECK)", async () => {
    const err = await runScenario(smallScenario(600), { defects: ["HCASIM_DEFECT_SKIP_OWNER_CHECK"] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect(String(err)).toMatch(/MISMATCH in block wqe_fetch, stream m_(wr|err)/);
  });
});

// ---- the oracle on the twin's outputs, untouched and tampered with ----------------------

interface Output {
  port: string;
  txn: StreamTransaction;
}

function twinRun(skipOwnerCheck = false): { t: WqeFetchTraffic; outs: Output[]; wires: Record<string, number> } {
  const t = generateWqeFetchTraffic({ seed: 11, fetches: 800, qps: 12, stale: 0.06, malformed: 0.05, adversarial: 0.03 });
  const twin = new WqeFetchTwin({ ...t.params, skipOwnerCheck });
  for (const { port, txn } of wqeFetchStimulus(t)) twin.offer(port, txn);
  twin.runUntil((t.cpl.at(-1)?.startCycle ?? 0) + 1000);
  const outs = ["m_dma_rd", "m_wr", "m_err"].flatMap((port) => twin.take(port).map((txn) => ({ port, txn })));
  return { t, outs, wires: twin.wires() };
}

function judge(t: WqeFetchTraffic, outs: Output[], wires: Record<string, number>): string[] {
  const oracle = new WqeFetchOracle(t);
  for (const o of outs) oracle.output(o.port, o.txn);
  return oracle.report(wires).failures;
}

const copy = (o: Output, data = o.txn.data.slice(), cycle = o.txn.endCycle): Output => ({ port: o.port, txn: { ...o.txn, data, startCycle: cycle, endCycle: cycle } });

describe("wqe_oracle", () => {
  const clean = twinRun();
  const { t, outs, wires } = clean;
  const wrs = outs.filter((o) => o.port === "m_wr");
  const errs = outs.filter((o) => o.port === "m_err");
  /** index in outs of the first m_wr matching */
  const findWr = (pred: (r: ReturnType<typeof WorkRequest.decode>) => boolean) => outs.findIndex((o) => o.port === "m_wr" && pred(WorkRequest.decode(o.txn.data)));
  const replaced = (i: number, o: Output | null) => outs.flatMap((x, k) => (k === i ? (o ? [o] : []) : [x]));

  it("passes the correct block's outputs, with every kind of traffic present", () => {
    expect(judge(t, outs, wires)).toEqual([]);
    expect(wrs.length).toBe(t.counts.wrs);
    expect(errs.length).toBe(t.counts.staleOwner + t.counts.malformed);
    expect(t.counts.emptyFetches + t.counts.foreignFetches).toBeGreaterThan(0);
  });

  it("catches a stale WQE executed (the twin without its owner check)", () => {
    const bad = twinRun(true);
    expect(judge(bad.t, bad.outs, bad.wires).join("\n")).toMatch(/WQE \d+ executed as \w+ at cycle \d+: the source wrote it to be rejected \(stale_owner\)/);
  });

  it("catches a work-request field that differs from the WQE written (rkey)", () => {
    const i = findWr((r) => r.opcode === WqeOpcode.RDMA_WRITE && r.kind === 0);
    const data = outs[i]!.txn.data.slice();
    WorkRequest.set(data, 0, "rkey", (WorkRequest.get(data, 0, "rkey") ^ 1) >>> 0);
    expect(judge(t, replaced(i, copy(outs[i]!, data)), wires).join("\n")).toMatch(/\(RDMA_WRITE, cycle \d+\): rkey 0x[0-9a-f]+ \(written 0x[0-9a-f]+\)/);
  });

  it("catches a changed SGE and a non-zero byte beyond the payload written", () => {
    const i = findWr((r) => r.nsge >= 2 && r.nsge < 8);
    const r = WorkRequest.decode(outs[i]!.txn.data);
    const sge = outs[i]!.txn.data.slice();
    sge[WR_HEADER_BYTES + 16 + 9] ^= 0x40; // SGE 1, address
    expect(judge(t, replaced(i, copy(outs[i]!, sge)), wires).join("\n")).toMatch(/SGE 1 \{0x[0-9a-f]+, \d+, lkey 0x[0-9a-f]+\} \(written/);
    const junk = outs[i]!.txn.data.slice();
    junk[WR_HEADER_BYTES + r.nsge * 16] = 0x5a;
    expect(judge(t, replaced(i, copy(outs[i]!, junk)), wires).join("\n")).toMatch(new RegExp(`payload byte ${r.nsge * 16} 0x5a beyond the ${r.nsge * 16} bytes written`));
  });

  it("catches a changed swap mask or compare mask of a masked atomic, and a mask on a plain atomic", () => {
    for (const [opcode, field] of [[WqeOpcode.MASKED_ATOMIC_CS, "swapMask"], [WqeOpcode.MASKED_ATOMIC_FA, "compareMask"], [WqeOpcode.ATOMIC_CS, "swapMask"]] as const) {
      const i = findWr((r) => r.kind === 0 && r.opcode === opcode);
      const name = WQE_OPCODE_NAMES[opcode];
      expect(i, `a ${name} work request in the traffic`).toBeGreaterThanOrEqual(0);
      const data = outs[i]!.txn.data.slice();
      WorkRequest.set(data, 0, field, WorkRequest.getBig(data, 0, field) ^ 0x100n);
      expect(judge(t, replaced(i, copy(outs[i]!, data)), wires).join("\n")).toMatch(new RegExp(`\\(${name}, cycle \\d+\\): ${field} 0x[0-9a-f]+ \\(written 0x[0-9a-f]+\\)`));
    }
  });

  it("catches a non-zero reserved byte of a work request, naming the field", () => {
    const i = findWr((r) => r.kind === 0);
    const data = outs[i]!.txn.data.slice();
    data[WorkRequest.field("reserved1").byteOffset + 2] = 0x11;
    expect(judge(t, replaced(i, copy(outs[i]!, data)), wires).join("\n")).toMatch(/WQE \d+ \(\w+, cycle \d+\): byte 30 \(reserved1\) 0x11 \(expected 0x0\)/);
  });

  it("catches a changed inline byte", () => {
    const i = findWr((r) => r.inlineBytes > 0);
    const data = outs[i]!.txn.data.slice();
    data[WR_HEADER_BYTES] ^= 0xff;
    expect(judge(t, replaced(i, copy(outs[i]!, data)), wires).join("\n")).toMatch(/inline byte 0 0x[0-9a-f]+ \(written 0x[0-9a-f]+\)/);
  });

  it("catches a rejection for the wrong reason, and a valid WQE rejected", () => {
    const i = outs.findIndex((o) => o.port === "m_err" && WqeFetchError.decode(o.txn.data).reason === WqeError.staleOwner);
    const data = outs[i]!.txn.data.slice();
    WqeFetchError.set(data, 0, "reason", WqeError.badSize);
    expect(judge(t, replaced(i, copy(outs[i]!, data)), wires).join("\n")).toMatch(/rejected as bad_size at cycle \d+: the source wrote it to be rejected as stale_owner/);

    const w = findWr((r) => r.kind === 0 && r.opcode === WqeOpcode.SEND);
    const r = WorkRequest.decode(outs[w]!.txn.data);
    const asErr: Output = { port: "m_err", txn: { ...outs[w]!.txn, data: WqeFetchError.encode({ reason: WqeError.badSegment, kind: r.kind, qpn: r.qpn, index: r.index, opcode: r.opcode }) } };
    expect(judge(t, replaced(w, asErr), wires).join("\n")).toMatch(/rejected \(bad_segment\) at cycle \d+: the source wrote a valid SEND WQE/);
  });

  it("catches two WQEs of one queue emitted out of posted order", () => {
    // two consecutive outputs of one queue, their cycles swapped
    const all = outs.map((o, k) => ({ o, k })).filter(({ o }) => o.port !== "m_dma_rd");
    const ring = (o: Output) => (o.port === "m_wr" ? WorkRequest.decode(o.txn.data) : WqeFetchError.decode(o.txn.data));
    const a = all.find(({ o }) => ring(o).qpn === ring(all[0]!.o).qpn && ring(o).kind === ring(all[0]!.o).kind && o !== all[0]!.o)!;
    const first = all[0]!;
    const swapped = outs.map((o, k) => (k === first.k ? copy(o, undefined, a.o.txn.endCycle) : k === a.k ? copy(o, undefined, first.o.txn.endCycle) : o));
    expect(judge(t, swapped, wires).join("\n")).toMatch(/queue: WQE \d+ emitted at cycle \d+, after WQE \d+ that was posted after it/);
  });

  it("catches a WQE never emitted, and one emitted twice", () => {
    const i = outs.findIndex((o) => o.port === "m_wr");
    expect(judge(t, replaced(i, null), wires).join("\n")).toMatch(/1 of \d+ WQEs never emitted as a work request or rejection \(first: QP 0x[0-9a-f]+ (send|receive) queue WQE \d+\)/);
    const twice = [...outs, copy(outs[i]!, undefined, outs[i]!.txn.endCycle + 1_000_000)];
    expect(judge(t, twice, wires).join("\n")).toMatch(/work request \(\w+\) for QP 0x[0-9a-f]+ \w+ queue WQE \d+ at cycle \d+: the source posted no such WQE, or it was already emitted/);
  });

  it("catches a DMA read of the wrong address or tag, and a read too many", () => {
    const i = outs.findIndex((o) => o.port === "m_dma_rd");
    const addr = outs[i]!.txn.data.slice();
    DmaReadReq.set(addr, 0, "addr", DmaReadReq.getBig(addr, 0, "addr") + 128n);
    expect(judge(t, replaced(i, copy(outs[i]!, addr)), wires).join("\n")).toMatch(/DMA read #0 \(cycle \d+\) of QP .* WQE \d+: expected tag 0, 128 bytes at 0x[0-9a-f]+; got tag 0, 128 bytes at/);
    const tag = outs[i]!.txn.data.slice();
    DmaReadReq.set(tag, 0, "tag", 3);
    expect(judge(t, replaced(i, copy(outs[i]!, tag)), wires).join("\n")).toMatch(/expected tag 0, .*; got tag 3/);
    const reserved = outs[i]!.txn.data.slice();
    reserved[DmaReadReq.field("reserved1").byteOffset] = 0x22;
    expect(judge(t, replaced(i, copy(outs[i]!, reserved)), wires).join("\n")).toMatch(/DMA read #0 \(cycle \d+\) of QP .* WQE \d+: byte 4 \(reserved1\) 0x22 \(expected 0x0\)/);
    expect(judge(t, [...outs, copy(outs[i]!)], wires).join("\n")).toMatch(new RegExp(`DMA read #${t.reads.length} .*: the source posted only ${t.reads.length} WQEs`));
  });

  it("catches counters that disagree with the source", () => {
    expect(judge(t, outs, { ...wires, stat_err_owner: wires.stat_err_owner! - 1 })).toEqual([`stat_err_owner ${t.counts.staleOwner - 1}, the source expects ${t.counts.staleOwner}`]);
    expect(judge(t, outs, { ...wires, stat_fetches: wires.stat_fetches! + 1 }).join("\n")).toMatch(/stat_fetches \d+, the source expects/);
  });
});
