import { describe, expect, it } from "vitest";
import { RecordSlab } from "./record-slab.ts";

describe("RecordSlab", () => {
  it("hands out zeroed, disjoint records, moving to a new chunk when one is full", () => {
    const slab = new RecordSlab(64);
    const a = slab.take(40);
    a.fill(0xaa);
    const b = slab.take(24);
    expect([...b]).toEqual(new Array(24).fill(0));
    b.fill(0xbb);
    const c = slab.take(8); // does not fit: a fresh chunk
    expect(c.buffer).not.toBe(a.buffer);
    expect(b.buffer).toBe(a.buffer);
    expect([...c]).toEqual(new Array(8).fill(0));
    expect(a.every((x) => x === 0xaa) && b.every((x) => x === 0xbb)).toBe(true);
  });

  it("a record larger than a chunk gets a buffer of its own", () => {
    const slab = new RecordSlab(16);
    const big = slab.take(100);
    expect(big.length).toBe(100);
    expect(big.byteOffset).toBe(0);
  });
});
