import { describe, expect, it } from "vitest";
import {
  AtomicSeg, CtrlSeg, DataSeg, encodeRecvWqe, encodeSendWqe, fixedUnits, MaskedAtomicSeg, OPCODE_INFO, ownerBitOf, parseRecvWqe, parseSendWqe, RaddrSeg, WqeError, WqeOpcode, WQE_SEG_BYTES, WQE_STRIDE,
} from "./wqe.ts";

describe("WQE formats", () => {
  it("lays the ctrl segment out as mlx4: owner bit 31, opcode low bits, fence 0x40 and size in fence_size, C = 3 << 2, SE = 1 << 1", () => {
    const b = encodeSendWqe({ opcode: WqeOpcode.SEND_IMM, signalled: true, solicited: true, fence: true, imm: 0xdeadbeef, sgl: [{ addr: 1n, length: 2, lkey: 3 }] }, 1);
    const v = new DataView(b.buffer);
    expect(v.getUint32(0)).toBe(0x8000_000b);
    expect(v.getUint32(4) & 0xff).toBe(0x40 | 2);
    expect(v.getUint32(8) & 0xff).toBe((3 << 2) | (1 << 1));
    expect(v.getUint32(12)).toBe(0xdeadbeef);
    expect(CtrlSeg.sizeBytes).toBe(16);
    expect(b.length).toBe(WQE_STRIDE);
  });

  it("round-trips every opcode with SGEs or inline data", () => {
    const a = encodeSendWqe({ opcode: WqeOpcode.ATOMIC_CS, raddr: 0x1122334455667788n, rkey: 7, swapAdd: 5n, compare: 9n, sgl: [{ addr: 0xffff_0000_0000n, length: 8, lkey: 4 }] }, 0);
    expect(parseSendWqe(a, 0)).toMatchObject({ opcode: 0x11, size: 4, raddr: 0x1122334455667788n, rkey: 7, swapAdd: 5n, compare: 9n, sgl: [{ addr: 0xffff_0000_0000n, length: 8, lkey: 4 }] });
    const data = Uint8Array.from({ length: 60 }, (_, i) => i + 1);
    const w = encodeSendWqe({ opcode: WqeOpcode.RDMA_WRITE, raddr: 42n, rkey: 9, inline: data }, 1);
    const p = parseSendWqe(w, 1);
    expect(p).toMatchObject({ opcode: 0x08, size: 2 + 4, sgl: [] });
    expect("inline" in p && p.inline).toEqual(data);
    expect(() => encodeSendWqe({ opcode: WqeOpcode.SEND, inline: new Uint8Array(200) }, 0)).toThrow(RangeError);
  });

  it("rejects a stale owner, an unknown opcode, a bad size, an overrunning inline segment", () => {
    const w = encodeSendWqe({ opcode: WqeOpcode.SEND, sgl: [{ addr: 0n, length: 1, lkey: 1 }] }, 1);
    expect(parseSendWqe(w, 0)).toEqual({ error: WqeError.staleOwner });
    const bad = w.slice();
    CtrlSeg.set(bad, 0, "opcode", 0x1f);
    expect(parseSendWqe(bad, 1)).toEqual({ error: WqeError.badOpcode });
    const small = encodeSendWqe({ opcode: WqeOpcode.RDMA_READ }, 0);
    CtrlSeg.set(small, 0, "size", 1);
    expect(parseSendWqe(small, 0)).toEqual({ error: WqeError.badSize });
    const inl = encodeSendWqe({ opcode: WqeOpcode.SEND, inline: new Uint8Array(20) }, 0);
    CtrlSeg.set(inl, 0, "size", 2);
    expect(parseSendWqe(inl, 0)).toEqual({ error: WqeError.badSegment });
    expect(ownerBitOf(0x13, 4)).toBe(1);
  });

  it("lays a masked atomic out as mlx4: ctrl, raddr, swap_add, compare, swap_add_mask, compare_mask (big-endian), one data segment", () => {
    const sge = { addr: 0x0a0b_0c0d_0e0f_1011n, length: 8, lkey: 0x4242 };
    const b = encodeSendWqe({ opcode: WqeOpcode.MASKED_ATOMIC_CS, raddr: 0x1000n, rkey: 5, swapAdd: 0x11n, compare: 0x22n, swapMask: 0x33n, compareMask: 0x44n, sgl: [sge] }, 0);
    const v = new DataView(b.buffer);
    expect(v.getUint32(0) & 0x1f).toBe(0x14);
    expect(CtrlSeg.get(b, 0, "size")).toBe(5);
    // the masked atomic segment starts after ctrl + raddr, 8 bytes per operand
    const at = CtrlSeg.sizeBytes + RaddrSeg.sizeBytes;
    expect([0, 8, 16, 24].map((k) => v.getBigUint64(at + k))).toEqual([0x11n, 0x22n, 0x33n, 0x44n]);
    expect(DataSeg.getBig(b, at + 32, "addr")).toBe(sge.addr);
    expect(parseSendWqe(b, 0)).toMatchObject({ opcode: 0x14, size: 5, swapAdd: 0x11n, compare: 0x22n, swapMask: 0x33n, compareMask: 0x44n, sgl: [sge] });
    const fa = encodeSendWqe({ opcode: WqeOpcode.MASKED_ATOMIC_FA, swapAdd: 1n, compare: 0x80n, swapMask: 7n, compareMask: 9n, sgl: [sge] }, 1);
    expect(parseSendWqe(fa, 1)).toMatchObject({ opcode: 0x15, swapAdd: 1n, compare: 0x80n, swapMask: 7n, compareMask: 9n, sgl: [sge] });
    // a plain atomic parses with zero masks
    expect(parseSendWqe(encodeSendWqe({ opcode: WqeOpcode.ATOMIC_CS, swapMask: 5n, sgl: [sge] }, 0), 0)).toMatchObject({ swapMask: 0n, compareMask: 0n });
  });

  it("sizes each opcode's atomic segment from OPCODE_INFO: 0, 1 or 2 sixteen-byte units", () => {
    expect(AtomicSeg.sizeBytes).toBe(WQE_SEG_BYTES);
    expect(MaskedAtomicSeg.sizeBytes).toBe(2 * WQE_SEG_BYTES);
    // the masked segment starts with the plain one's fields
    for (const f of AtomicSeg.fields) expect(MaskedAtomicSeg.field(f.name as "swapAdd").bitOffset).toBe(f.bitOffset);
    expect(OPCODE_INFO[WqeOpcode.ATOMIC_FA]!.atomicUnits).toBe(1);
    expect(OPCODE_INFO[WqeOpcode.MASKED_ATOMIC_FA]!.atomicUnits).toBe(2);
    expect(OPCODE_INFO[WqeOpcode.SEND]!.atomicUnits).toBe(0);
    expect([WqeOpcode.SEND, WqeOpcode.RDMA_WRITE, WqeOpcode.ATOMIC_CS, WqeOpcode.MASKED_ATOMIC_CS].map(fixedUnits)).toEqual([1, 2, 3, 4]);
  });

  it("rejects a masked atomic without exactly one SGE", () => {
    const sge = { addr: 0n, length: 8, lkey: 1 };
    for (const opcode of [WqeOpcode.MASKED_ATOMIC_CS, WqeOpcode.MASKED_ATOMIC_FA]) {
      expect(() => encodeSendWqe({ opcode, sgl: [sge, sge] }, 0)).toThrow(/exactly one SGE, got 2/);
      expect(() => encodeSendWqe({ opcode }, 0)).toThrow(/exactly one SGE, got 0/);
      expect(() => encodeSendWqe({ opcode, inline: new Uint8Array(8) }, 0)).toThrow(/exactly one SGE, got inline data/);
    }
    // plain atomics keep their SGE list free
    expect(() => encodeSendWqe({ opcode: WqeOpcode.ATOMIC_CS, sgl: [sge, sge] }, 0)).not.toThrow();
  });

  it("receive WQEs end at the invalid lkey", () => {
    const r = encodeRecvWqe([{ addr: 5n, length: 6, lkey: 7 }]);
    expect(parseRecvWqe(r)).toEqual([{ addr: 5n, length: 6, lkey: 7 }]);
  });
});
