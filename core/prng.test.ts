import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Prng } from "./prng.ts";

function draw(p: Prng, n: number): number[] {
  return Array.from({ length: n }, () => p.u32());
}

describe("Prng", () => {
  it("implements xoshiro128** (reference outputs from state {1,2,3,4})", () => {
    const p = new Prng(0) as unknown as { restart(s: Uint32Array): Prng };
    const r = p.restart(new Uint32Array([1, 2, 3, 4]));
    // First outputs of the reference C implementation for this state.
    expect(draw(r, 4)).toEqual([11520, 0, 5927040, 70819200]);
  });

  it("gives the same sequence for the same seed (number and string)", () => {
    expect(draw(new Prng(42), 100)).toEqual(draw(new Prng(42), 100));
    expect(draw(new Prng("scenario-a"), 100)).toEqual(draw(new Prng("scenario-a"), 100));
  });

  it("gives different sequences for different seeds", () => {
    expect(draw(new Prng(1), 8)).not.toEqual(draw(new Prng(2), 8));
    expect(draw(new Prng("a"), 8)).not.toEqual(draw(new Prng("b"), 8));
    expect(draw(new Prng(0), 8)).not.toEqual(draw(new Prng(0x1_0000_0001), 8));
  });

  it("u32 stays within 32 bits and float within [0, 1)", () => {
    const p = new Prng(7);
    for (let i = 0; i < 10_000; i++) {
      const x = p.u32();
      expect(Number.isInteger(x) && x >= 0 && x < 2 ** 32).toBe(true);
      const f = p.float();
      expect(f >= 0 && f < 1).toBe(true);
    }
  });

  it("int(lo, hi) never leaves [lo, hi] (property)", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: -1e12, max: 1e12 }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (seed, lo, span) => {
          const p = new Prng(seed);
          const hi = lo + span;
          for (let i = 0; i < 20; i++) {
            const x = p.int(lo, hi);
            if (!Number.isInteger(x) || x < lo || x > hi) return false;
          }
          return true;
        },
      ),
    );
  });

  it("int(lo, hi) hits both ends of a small range, and is roughly uniform", () => {
    const p = new Prng(3);
    const counts = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const x = p.int(-2, 3);
      counts.set(x, (counts.get(x) ?? 0) + 1);
    }
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2, 3]);
    for (const c of counts.values()) expect(c).toBeGreaterThan(800); // expected 1000 each
    expect(p.int(5, 5)).toBe(5);
  });

  it("int handles the full 32-bit range and ranges wider than 2^32", () => {
    const p = new Prng(11);
    for (let i = 0; i < 1000; i++) {
      const x = p.int(0, 2 ** 32 - 1);
      expect(x >= 0 && x <= 2 ** 32 - 1).toBe(true);
      const y = p.int(-(2 ** 50), 2 ** 50);
      expect(y >= -(2 ** 50) && y <= 2 ** 50).toBe(true);
    }
  });

  it("rejects bad arguments with clear errors", () => {
    const p = new Prng(1);
    expect(() => p.int(3, 2)).toThrow(/empty range \[3, 2\]/);
    expect(() => p.int(0.5, 2)).toThrow(/safe integers/);
    expect(() => p.bool(1.5)).toThrow(/probability/);
    expect(() => p.pick([])).toThrow(/empty array/);
    expect(() => new Prng(1.5)).toThrow(/seed/);
  });

  it("bool honours its probability", () => {
    const p = new Prng(5);
    let t = 0;
    for (let i = 0; i < 10_000; i++) if (p.bool(0.25)) t++;
    expect(t).toBeGreaterThan(2300);
    expect(t).toBeLessThan(2700);
    expect(p.bool(0)).toBe(false);
    expect(p.bool(1)).toBe(true);
  });

  it("bytes and fill are deterministic and fill every length", () => {
    for (const n of [0, 1, 3, 4, 5, 17]) {
      const a = new Prng(9).bytes(n);
      const b = new Prng(9).fill(new Uint8Array(n));
      expect(a.length).toBe(n);
      expect(a).toEqual(b);
    }
    const big = new Prng(9).bytes(4096);
    expect(new Set(big).size).toBeGreaterThan(250);
  });

  it("pick returns elements of the array", () => {
    const p = new Prng(2);
    const arr = ["a", "b", "c"] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(p.pick(arr));
    expect([...seen].sort()).toEqual(["a", "b", "c"]);
  });

  it("fork gives independent, deterministic child streams", () => {
    const root = new Prng(100);
    const a = root.fork("a");
    const b = root.fork("b");
    expect(draw(a, 8)).not.toEqual(draw(b, 8));
    expect(draw(root.fork("a"), 8)).not.toEqual(draw(new Prng(100), 8));

    // A fork does not depend on draws from the parent, nor perturb it.
    const r1 = new Prng(100);
    const r2 = new Prng(100);
    draw(r2, 50);
    expect(draw(r1.fork("x"), 16)).toEqual(draw(r2.fork("x"), 16));
    const r3 = new Prng(100);
    const r4 = new Prng(100);
    draw(r3.fork("x"), 100);
    expect(draw(r3, 16)).toEqual(draw(r4, 16));

    // Fork paths compose and differ by seed.
    expect(draw(new Prng(1).fork("a").fork("b"), 8)).toEqual(draw(new Prng(1).fork("a").fork("b"), 8));
    expect(draw(new Prng(1).fork("a"), 8)).not.toEqual(draw(new Prng(2).fork("a"), 8));
    expect(draw(new Prng(1).fork("a").fork("b"), 8)).not.toEqual(draw(new Prng(1).fork("b").fork("a"), 8));
  });
});
