/**
 * Work requests from the WQE format to the transport: a masked atomic the driver's encoder
 * wrote, parsed by the wqe_fetch twin, loads into the requester's fields with its masks and
 * executes; the transport's own record encoder writes the same record.
 */
import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { encodeSendWqe, ownerBitOf, WqeOpcode, type SendWr } from "../formats/index.ts";
import { DmaCompletion, FetchRequest, WorkRequest, WqeFetchTwin, WqeRingCfg } from "../wqe-fetch/index.ts";
import { backToBack, connectRc, encodeWorkRequest, WrFields } from "./index.ts";

const txn = (data: Uint8Array, cycle: number): StreamTransaction => ({ data, user: {}, startCycle: cycle, endCycle: cycle });

/** send WQEs at producer counters 0.. of one ring, through the wqe_fetch twin: its m_wr records */
function throughWqeFetch(wrs: readonly SendWr[], qpn = 3): Uint8Array[] {
  const logSize = 3;
  const twin = new WqeFetchTwin();
  twin.offer("s_cfg", txn(WqeRingCfg.encode({ qpn, kind: 0, logSize, ci: 0, base: 0x10_0000n }), 0));
  twin.offer("s_fetch", txn(FetchRequest.encode({ qpn, kind: 0, counter: wrs.length }), 2));
  // read n carries tag n (fewer WQEs than tags)
  wrs.forEach((wr, n) => twin.offer("s_dma_cpl", txn(DmaCompletion.encode({ tag: n, data: encodeSendWqe(wr, ownerBitOf(n, logSize)) }), 10 + n)));
  twin.runUntil(100);
  expect(twin.take("m_err")).toEqual([]);
  return twin.take("m_wr").map((t) => t.data);
}

const be64 = (...v: bigint[]): number[] => v.flatMap((x) => Array.from({ length: 8 }, (_, k) => Number((x >> BigInt(56 - 8 * k)) & 0xffn)));

describe("masked atomics posted as WQEs", () => {
  const sge = { addr: 0x2000_0040n, length: 8, lkey: 0x1234 };
  const masked: SendWr[] = [
    { opcode: WqeOpcode.MASKED_ATOMIC_CS, signalled: true, raddr: 0x3000n, rkey: 0x77, swapAdd: 0x1111_2222_3333_4444n, compare: 0x5555n, swapMask: 0xffff_0000_ffff_0000n, compareMask: 0xff00n, sgl: [sge] },
    { opcode: WqeOpcode.MASKED_ATOMIC_FA, raddr: 0x3008n, rkey: 0x77, swapAdd: 0x0101n, compare: 0x8080n, swapMask: 0xabn, compareMask: 0xcdn, sgl: [sge] },
  ];

  it("WQE → wqe_fetch twin → WrFields: operands and masks in wire order, one SGE", () => {
    const recs = throughWqeFetch(masked);
    expect(recs).toHaveLength(2);
    masked.forEach((wr, i) => {
      const r = WorkRequest.decode(recs[i]!);
      expect(r).toMatchObject({ opcode: wr.opcode, nsge: 1, swapAdd: wr.swapAdd, compare: wr.compare, swapMask: wr.swapMask, compareMask: wr.compareMask });
      const f = new WrFields();
      f.load(recs[i]!);
      expect(f.opcode).toBe(wr.opcode);
      expect(Array.from(f.atomicArgs)).toEqual(be64(wr.swapAdd!, wr.compare!, wr.swapMask!, wr.compareMask!));
      expect(f.sgl.n).toBe(1);
      expect(f.length).toBe(8);
      // the transport's own encoder writes the same record (bar the slot fields the block fills)
      expect(Array.from(encodeWorkRequest(wr).subarray(WorkRequest.field("opcode").byteOffset))).toEqual(Array.from(recs[i]!.subarray(WorkRequest.field("opcode").byteOffset)));
    });
  });

  it("a plain atomic's record has zero masks, so it loads zero masks whatever the WR said", () => {
    const [rec] = throughWqeFetch([{ opcode: WqeOpcode.ATOMIC_CS, raddr: 0x3000n, rkey: 1, swapAdd: 9n, compare: 8n, swapMask: 7n, compareMask: 6n, sgl: [sge, sge] }]);
    const f = new WrFields();
    f.load(rec!);
    expect(Array.from(f.atomicArgs)).toEqual(be64(9n, 8n, 0n, 0n));
    // and the transport's encoder agrees
    f.load(encodeWorkRequest({ opcode: WqeOpcode.ATOMIC_CS, swapAdd: 9n, compare: 8n, swapMask: 7n, compareMask: 6n, sgl: [sge] }));
    expect(Array.from(f.atomicArgs)).toEqual(be64(9n, 8n, 0n, 0n));
  });

  it("executes in the transport from the twin's records", () => {
    const t = backToBack();
    const { a, b, sim } = t;
    const cqa = a.cq(12);
    const cqb = b.cq(12);
    const qa = a.qp("RC", cqa, cqa, 10);
    const qb = b.qp("RC", cqb, cqb, 10);
    connectRc(a, qa, b, qb, {}, 0x100, 0x200);
    const ctr = b.buffer(64);
    b.memory.writeU64Le(ctr.addr, 0x1234_5678_9abc_def0n);
    b.memory.writeU64Le(ctr.addr + 8, 0x00ff_ffffn);
    const res = a.buffer(64);
    const wrs: SendWr[] = [
      // compare bits 0..7 (0xf0 = 0xf0): swap the upper 16 bits of each 32-bit half
      {
        opcode: WqeOpcode.MASKED_ATOMIC_CS, raddr: BigInt(ctr.addr), rkey: ctr.key, compare: 0xf0n, compareMask: 0xffn, swapAdd: 0xaaaa_0000_bbbb_0000n,
        swapMask: 0xffff_0000_ffff_0000n, sgl: [{ addr: BigInt(res.addr), length: 8, lkey: res.key }],
      },
      // two 16-bit fields (boundary bits 15 and 31): each adds 1, the low one's carry is dropped
      { opcode: WqeOpcode.MASKED_ATOMIC_FA, raddr: BigInt(ctr.addr + 8), rkey: ctr.key, swapAdd: 0x0001_0001n, compare: 0x8000_8000n, signalled: true, sgl: [{ addr: BigInt(res.addr + 8), length: 8, lkey: res.key }] },
    ];
    for (const rec of throughWqeFetch(wrs)) a.engine.postSend(qa, rec);
    sim.run();
    expect(a.memory.readU64Le(res.addr)).toBe(0x1234_5678_9abc_def0n);
    expect(b.memory.readU64Le(ctr.addr)).toBe(0xaaaa_5678_bbbb_def0n);
    expect(a.memory.readU64Le(res.addr + 8)).toBe(0x00ff_ffffn);
    expect(b.memory.readU64Le(ctr.addr + 8)).toBe(0x0100_0000n);
    expect(a.poll(cqa).map((c) => c.status)).toEqual([0]);
  });
});
