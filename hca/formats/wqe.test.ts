import { describe, expect, it } from "vitest";
import { CtrlSeg, encodeRecvWqe, encodeSendWqe, ownerBitOf, parseRecvWqe, parseSendWqe, WqeError, WqeOpcode, WQE_STRIDE } from "./wqe.ts";

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

  it("receive WQEs end at the invalid lkey", () => {
    const r = encodeRecvWqe([{ addr: 5n, length: 6, lkey: 7 }]);
    expect(parseRecvWqe(r)).toEqual([{ addr: 5n, length: 6, lkey: 7 }]);
  });
});
