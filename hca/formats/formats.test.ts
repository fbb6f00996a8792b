import { describe, expect, it } from "vitest";
import type { Layout } from "../../core/layout.ts";
import {
  Access, cfgMptInvalidate, cfgMptRead, cfgMptWrite, cfgMttRead, cfgMttWrite, decodeCfgReadback, decodeMpt, decodeMtt, encodeCfgReadback,
  encodeMpt, encodeMtt, keyIndex, keyVariant, makeKey, MptEntryLayout, MptState, mptUsable, MttEntryLayout, readbackMpt, readbackMtt,
  TPT_CFG_BEAT_BYTES, TptCfgHeaderLayout, TptCfgOp, TptCfgRdHeaderLayout, type MptEntry,
} from "./index.ts";

function contiguous(l: Layout): void {
  let bit = 0;
  for (const f of l.fields) {
    expect(f.bitOffset, `${l.name}.${f.name}`).toBe(bit);
    bit += f.bits;
  }
  expect(bit).toBe(l.sizeBytes * 8);
}

const entry: MptEntry = {
  state: MptState.valid, access: Access.remoteRead | Access.remoteWrite, variant: 0xa5, pd: 0x123456, log2PageSize: 12,
  start: 0xffff_ffff_ffff_f000n, length: 0x1000n, mttBase: 0xdeadbeef,
};

describe("memory-protection formats", () => {
  it("every field starts where the previous one ends (offsets = sum of sizes)", () => {
    for (const l of [MptEntryLayout, MttEntryLayout, TptCfgHeaderLayout, TptCfgRdHeaderLayout] as Layout[]) contiguous(l);
    expect([MptEntryLayout.sizeBytes, MttEntryLayout.sizeBytes, TptCfgHeaderLayout.sizeBytes, TPT_CFG_BEAT_BYTES]).toEqual([32, 8, 8, 40]);
    expect(MptEntryLayout.field("start").byteOffset).toBe(8);
    expect(MptEntryLayout.field("mttBase").byteOffset).toBe(24);
  });

  it("keys are index << 8 | variant", () => {
    const k = makeKey(0x12345, 0x9c);
    expect(k).toBe(0x123459c);
    expect([keyIndex(k), keyVariant(k)]).toEqual([0x12345, 0x9c]);
    expect(keyIndex(makeKey(0xffffff, 0xff))).toBe(0xffffff);
    expect(() => makeKey(1 << 24, 0)).toThrow(/index/);
    expect(() => makeKey(0, 256)).toThrow(/variant/);
  });

  it("MPT entries round-trip, big-endian, and only valid entries with a page size 12..31 are usable", () => {
    const b = encodeMpt(entry);
    expect(b.length).toBe(32);
    expect(b[0]).toBe(0x16); // state 1, access 6
    expect(b[1]).toBe(0xa5);
    expect([...b.slice(2, 5)]).toEqual([0x12, 0x34, 0x56]);
    expect(decodeMpt(b)).toEqual(entry);
    expect(mptUsable(entry)).toBe(true);
    expect(mptUsable({ ...entry, state: MptState.free })).toBe(false);
    expect(mptUsable({ ...entry, log2PageSize: 11 })).toBe(false);
    expect(mptUsable({ ...entry, log2PageSize: 32 })).toBe(false);
  });

  it("MTT entries round-trip with the present bit in bit 0 of byte 7", () => {
    const b = encodeMtt({ addr: 0x1234_5678_9000n, present: true });
    expect([...b]).toEqual([0, 0, 0x12, 0x34, 0x56, 0x78, 0x90, 0x01]);
    expect(decodeMtt(b)).toEqual({ addr: 0x1234_5678_9000n, present: true });
    expect(decodeMtt(encodeMtt({ addr: 0n, present: false }))).toEqual({ addr: 0n, present: false });
    expect(() => encodeMtt({ addr: 0x1001n, present: true })).toThrow(/aligned/);
  });

  it("configuration commands carry op, index and the entry bytes", () => {
    const w = cfgMptWrite(7, entry);
    expect(w.length).toBe(40);
    expect(TptCfgHeaderLayout.decode(w)).toMatchObject({ op: TptCfgOp.mptWrite, index: 7 });
    expect(decodeMpt(w, 8)).toEqual(entry);
    const inv = cfgMptInvalidate(9);
    expect([...inv]).toEqual([2, 0, 0, 0, 0, 0, 0, 9]);
    const m = cfgMttWrite(0x10000, { addr: 0x5000n, present: true });
    expect(m.length).toBe(16);
    expect(TptCfgHeaderLayout.get(m, 0, "index")).toBe(0x10000);
    expect(decodeMtt(m, 8)).toEqual({ addr: 0x5000n, present: true });
  });

  it("reads carry op and index only; an answer is one 40-byte beat: op, valid and live bits, index, the entry (zero when not valid)", () => {
    expect([...cfgMptRead(0x102)]).toEqual([4, 0, 0, 0, 0, 0, 1, 2]);
    expect([...cfgMttRead(3)]).toEqual([5, 0, 0, 0, 0, 0, 0, 3]);
    const mpt = encodeCfgReadback({ op: TptCfgOp.mptRead, index: 7, valid: true, live: true, entry: encodeMpt(entry) });
    expect(mpt.length).toBe(TPT_CFG_BEAT_BYTES);
    expect(mpt[1]).toBe(0b11);
    expect(readbackMpt(decodeCfgReadback(mpt))).toEqual(entry);
    const owned = decodeCfgReadback(encodeCfgReadback({ op: TptCfgOp.mptRead, index: 7, valid: true, live: false, entry: encodeMpt({ ...entry, state: MptState.free }) }));
    expect([owned.valid, owned.live, readbackMpt(owned)!.state]).toEqual([true, false, MptState.free]);
    const none = encodeCfgReadback({ op: TptCfgOp.mptRead, index: 7, valid: false, live: false, entry: encodeMpt(entry) });
    expect([...none.subarray(8)].every((x) => x === 0)).toBe(true);
    expect(readbackMpt(decodeCfgReadback(none))).toBeNull();
    const mtt = decodeCfgReadback(encodeCfgReadback({ op: TptCfgOp.mttRead, index: 9, valid: true, live: false, entry: encodeMtt({ addr: 0x7000n, present: true }) }));
    expect(mtt.entry.length).toBe(8);
    expect(readbackMtt(mtt)).toEqual({ addr: 0x7000n, present: true });
    expect(() => decodeCfgReadback(new Uint8Array(16))).toThrow(/40-byte beat/);
  });
});
