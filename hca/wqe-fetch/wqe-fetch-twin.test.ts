import { describe, expect, it } from "vitest";
import { CtrlSeg, encodeRecvWqe, encodeSendWqe, WqeError, WqeOpcode } from "../formats/wqe.ts";
import { generateWqeFetchTraffic, wqeFetchStimulus, type ExpectedWqe, type WqeFetchTrafficConfig } from "../../testbench/traffic/wqe-fetch-traffic.ts";
import { DataSeg } from "../formats/wqe.ts";
import { parseWqe, WorkRequest, WqeFetchError, WqeFetchTwin, WrFlag, WR_HEADER_BYTES } from "./index.ts";

const BASE: WqeFetchTrafficConfig = { seed: 3, fetches: 600, qps: 10, stale: 0.06, malformed: 0.05 };

function run(cfg: WqeFetchTrafficConfig, skipOwnerCheck = false) {
  const t = generateWqeFetchTraffic(cfg);
  const twin = new WqeFetchTwin({ ...t.params, skipOwnerCheck });
  for (const { port, txn } of wqeFetchStimulus(t)) twin.offer(port, txn);
  twin.runUntil((t.cpl.at(-1)?.startCycle ?? 0) + 1000);
  return { t, twin };
}

/** the twin's outputs, merged back into read order by (qpn, kind, index) sequence */
function observed(twin: WqeFetchTwin): ExpectedWqe[] {
  const wrs = twin.take("m_wr").map((x) => ({ c: x.startCycle, r: WorkRequest.decode(x.data), raw: x.data }));
  const errs = twin.take("m_err").map((x) => ({ c: x.startCycle, e: WqeFetchError.decode(x.data) }));
  const all: { c: number; v: ExpectedWqe }[] = [];
  for (const { c, r, raw } of wrs) {
    const p = raw.subarray(WR_HEADER_BYTES);
    const sgl = Array.from({ length: r.nsge }, (_, i) => ({ length: DataSeg.get(p, i * 16, "byteCount"), lkey: DataSeg.get(p, i * 16, "lkey"), addr: DataSeg.getBig(p, i * 16, "addr") }));
    all.push({ c, v: { qpn: r.qpn, kind: r.kind, index: r.index, ok: true, opcode: r.opcode, flags: r.flags, imm: r.imm, raddr: r.raddr, rkey: r.rkey, swapAdd: r.swapAdd, compare: r.compare, swapMask: r.swapMask, compareMask: r.compareMask, sgl, ...(r.flags & 8 ? { inline: p.slice(0, r.inlineBytes) } : {}) } });
  }
  for (const { c, e } of errs) all.push({ c, v: { qpn: e.qpn, kind: e.kind, index: e.index, ok: false, reason: e.reason } });
  return all.sort((a, b) => a.c - b.c).map((x) => x.v);
}

describe("wqe_fetch twin", () => {
  it("emits every WQE's parsed WR or error, in read (hence per-QP) order, as the oracle expects", () => {
    const { t, twin } = run(BASE);
    expect(t.counts.staleOwner).toBeGreaterThan(20);
    expect(t.counts.malformed).toBeGreaterThan(20);
    const w = twin.wires();
    const got = observed(twin);
    expect(got.length).toBe(t.expected.length);
    expect(got).toEqual(t.expected);
    expect(w.stat_reads).toBe(t.expected.length);
    expect(w.stat_fetches).toBe(t.fetch.length);
    expect(w.stat_err_owner).toBe(t.counts.staleOwner);
    expect(w.stat_wrs).toBe(t.counts.wrs);
  });

  it("handles every TAGS setting with completions early and late", () => {
    for (const tags of [4, 16]) for (const latency of [1, 200]) {
      const { t, twin } = run({ ...BASE, seed: tags + latency, fetches: 200, params: { tags }, latency });
      expect(observed(twin)).toEqual(t.expected);
    }
  });

  it("security: a WQE with a stale owner bit is never emitted as a work request (fails without the check)", () => {
    const { t, twin } = run(BASE);
    const staleIdx = t.expected.filter((e) => !e.ok && e.reason === WqeError.staleOwner);
    expect(staleIdx.length).toBeGreaterThan(0);
    const wrs = twin.take("m_wr");
    expect(wrs.length).toBe(t.counts.wrs);
    const bad = run(BASE, true);
    expect(observed(bad.twin)).not.toEqual(bad.t.expected);
    expect(bad.twin.wires().stat_err_owner).toBe(0);
  });
});

describe("parseWqe", () => {
  const sgl = [
    { addr: 0xfedc_ba98_7654_3210n, length: 4096, lkey: 0x1234 },
    { addr: 0x10n, length: 1, lkey: 0xffff_ffff },
  ];
  it("gives the header and payload the driver's encoder wrote, 64-bit fields exact", () => {
    const atomic = parseWqe(encodeSendWqe({ opcode: WqeOpcode.ATOMIC_CS, signalled: true, raddr: 0x8000_0000_0000_0008n, rkey: 0xdead_beef, swapAdd: 0xffff_ffff_ffff_ffffn, compare: 0x1_0000_0000n, sgl }, 1), 0, 1);
    if ("reason" in atomic) throw new Error("rejected");
    expect(atomic.header).toEqual({ opcode: WqeOpcode.ATOMIC_CS, flags: WrFlag.signalled, nsge: 2, inlineBytes: 0, imm: 0, raddr: 0x8000_0000_0000_0008n, rkey: 0xdead_beef, swapAdd: 0xffff_ffff_ffff_ffffn, compare: 0x1_0000_0000n, swapMask: 0n, compareMask: 0n });
    expect(DataSeg.getBig(atomic.payload, 0, "addr")).toBe(sgl[0]!.addr);
    expect(DataSeg.get(atomic.payload, 16, "lkey")).toBe(0xffff_ffff);
    expect(atomic.payload.subarray(32).every((b) => b === 0)).toBe(true);

    const inline = parseWqe(encodeSendWqe({ opcode: WqeOpcode.SEND_IMM, imm: 0xcafe, solicited: true, inline: Uint8Array.of(1, 2, 3) }, 0), 0, 0);
    if ("reason" in inline) throw new Error("rejected");
    expect(inline.header).toMatchObject({ flags: WrFlag.solicited | WrFlag.inline, inlineBytes: 3, nsge: 0, imm: 0xcafe, raddr: 0n });
    expect(Array.from(inline.payload.subarray(0, 4))).toEqual([1, 2, 3, 0]);

    const recv = parseWqe(encodeRecvWqe(sgl), 1, 0);
    if ("reason" in recv) throw new Error("rejected");
    expect(recv.header.nsge).toBe(2);
    expect(DataSeg.get(recv.payload, 0, "byteCount")).toBe(4096);
  });

  it("gives a masked atomic's masks from the second unit of its atomic segment, its SGE after the segment", () => {
    const one = [sgl[0]!];
    for (const opcode of [WqeOpcode.MASKED_ATOMIC_CS, WqeOpcode.MASKED_ATOMIC_FA]) {
      const wqe = encodeSendWqe({ opcode, raddr: 0x10n, rkey: 7, swapAdd: 0x0102_0304_0506_0708n, compare: 0x1112_1314_1516_1718n, swapMask: 0xff00_0000_0000_00ffn, compareMask: 0x8000_0000_0000_0001n, sgl: one }, 0);
      expect(CtrlSeg.get(wqe, 0, "size")).toBe(5); // ctrl + raddr + 2 atomic units + 1 data segment
      const r = parseWqe(wqe, 0, 0);
      if ("reason" in r) throw new Error(`rejected: ${r.reason}`);
      expect(r.header).toEqual({
        opcode, flags: 0, nsge: 1, inlineBytes: 0, imm: 0, raddr: 0x10n, rkey: 7,
        swapAdd: 0x0102_0304_0506_0708n, compare: 0x1112_1314_1516_1718n, swapMask: 0xff00_0000_0000_00ffn, compareMask: 0x8000_0000_0000_0001n,
      });
      expect(DataSeg.getBig(r.payload, 0, "addr")).toBe(one[0]!.addr);
      expect(r.payload.subarray(16).every((b) => b === 0)).toBe(true);
    }
  });

  it("gives a plain atomic zero masks, whatever follows its atomic segment", () => {
    const wqe = encodeSendWqe({ opcode: WqeOpcode.ATOMIC_FA, raddr: 0x10n, rkey: 7, swapAdd: 1n, sgl }, 0);
    const r = parseWqe(wqe, 0, 0);
    if ("reason" in r) throw new Error(`rejected: ${r.reason}`);
    expect([r.header.swapMask, r.header.compareMask]).toEqual([0n, 0n]);
    expect(r.header.nsge).toBe(2);
  });

  it("rejects a masked atomic whose size leaves no room for its masks", () => {
    const wqe = encodeSendWqe({ opcode: WqeOpcode.MASKED_ATOMIC_CS, sgl: [sgl[0]!] }, 0);
    CtrlSeg.set(wqe, 0, "size", 3);
    expect(parseWqe(wqe, 0, 0)).toEqual({ reason: WqeError.badSize, opcode: WqeOpcode.MASKED_ATOMIC_CS });
  });

  it("gives the reason and opcode of a WQE it rejects", () => {
    const send = encodeSendWqe({ opcode: WqeOpcode.SEND, sgl }, 1);
    expect(parseWqe(send, 0, 0)).toEqual({ reason: WqeError.staleOwner, opcode: WqeOpcode.SEND });
    CtrlSeg.set(send, 0, "opcode", 0x1f);
    expect(parseWqe(send, 0, 1)).toEqual({ reason: WqeError.badOpcode, opcode: 0x1f });
    const recv = encodeRecvWqe(sgl);
    recv[16] |= 0x80;
    expect(parseWqe(recv, 1, 0)).toEqual({ reason: WqeError.badSegment, opcode: 0 });
  });
});
