import fc from "fast-check";
import { describe, it, expect } from "vitest";
import { Counter, Histogram, StatsRegistry } from "./stats.ts";
import { Prng } from "./prng.ts";

describe("Counter", () => {
  it("adds and increments", () => {
    const c = new Counter("frames");
    c.inc();
    c.add(41);
    expect(c.value).toBe(42);
    c.reset();
    expect(c.value).toBe(0);
  });
});

describe("Histogram", () => {
  it("property: samples added with recordRepeated give the statistics of the same samples added one by one", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: -20, max: 20 }), fc.integer({ min: 0, max: 30 }), fc.boolean()), { maxLength: 40 }), (ops) => {
        const one = new Histogram("one");
        const batched = new Histogram("batched");
        for (const [v, times, asBatch] of ops) {
          for (let i = 0; i < times; i++) one.record(v);
          if (asBatch) batched.recordRepeated(v, times);
          else for (let i = 0; i < times; i++) batched.record(v);
        }
        expect(batched.summary()).toEqual(one.summary());
        for (const p of [0, 1, 10, 33.3, 50, 66, 90, 99, 100]) expect(batched.percentile(p)).toBe(one.percentile(p));
        batched.reset();
        expect(batched.count).toBe(0);
        batched.record(3);
        expect(batched.p50).toBe(3);
      }),
      { numRuns: 300 },
    );
  });

  it("gives exact nearest-rank percentiles for 1..100 recorded in shuffled order", () => {
    const h = new Histogram("lat");
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    const rng = new Prng(1);
    for (let i = values.length - 1; i > 0; i--) {
      const j = rng.int(0, i);
      [values[i], values[j]] = [values[j], values[i]];
    }
    for (const v of values) h.record(v);
    expect(h.count).toBe(100);
    expect(h.min).toBe(1);
    expect(h.max).toBe(100);
    expect(h.mean).toBe(50.5);
    expect(h.p50).toBe(50);
    expect(h.p99).toBe(99);
    expect(h.percentile(0)).toBe(1);
    expect(h.percentile(100)).toBe(100);
    expect(h.percentile(90)).toBe(90);
    expect(h.percentile(90.5)).toBe(91);
  });

  it("handles negatives, fractions, growth past the initial buffer, and recording after a query", () => {
    const h = new Histogram("err");
    for (let i = 0; i < 1000; i++) h.record(-i / 2 + 0); // + 0 turns -0 into 0
    expect(h.min).toBe(-499.5);
    expect(h.max).toBe(0);
    expect(h.percentile(50)).toBe(-250); // 500th smallest of -499.5..0
    h.record(-1000);
    expect(h.min).toBe(-1000);
    expect(h.percentile(0)).toBe(-1000);
    expect(h.count).toBe(1001);
  });

  it("sorts numerically, not as strings", () => {
    const h = new Histogram("x");
    for (const v of [10, 9, 100, 2, -5]) h.record(v);
    expect(h.p50).toBe(9);
    expect(h.max).toBe(100);
  });

  it("summarises, with NaN (null in JSON) for an empty histogram", () => {
    const h = new Histogram("x");
    expect(h.summary().count).toBe(0);
    expect(h.p50).toBeNaN();
    expect(JSON.parse(JSON.stringify(h.summary())).p50).toBeNull();
    h.record(3);
    expect(h.summary()).toEqual({ count: 1, min: 3, max: 3, mean: 3, p50: 3, p90: 3, p99: 3, p999: 3 });
  });

  it("rejects non-finite samples and bad percentiles", () => {
    const h = new Histogram("lat");
    expect(() => h.record(NaN)).toThrow(/histogram "lat": samples must be finite numbers, got NaN/);
    expect(() => h.record(Infinity)).toThrow(/finite/);
    expect(() => h.percentile(101)).toThrow(/\[0, 100\]/);
  });
});

describe("StatsRegistry", () => {
  it("groups named statistics, scopes names, and serialises in a stable order", () => {
    const reg = new StatsRegistry();
    const hca = reg.scope("hca0");
    hca.counter("tx.frames").add(3);
    reg.counter("a").inc();
    expect(reg.counter("hca0.tx.frames")).toBe(hca.counter("tx.frames"));
    hca.scope("qp1").histogram("latency").record(5);
    expect(JSON.parse(JSON.stringify(reg))).toEqual({
      counters: { a: 1, "hca0.tx.frames": 3 },
      histograms: { "hca0.qp1.latency": { count: 1, min: 5, max: 5, mean: 5, p50: 5, p90: 5, p99: 5, p999: 5 } },
    });
    expect(Object.keys(reg.toJSON().counters)).toEqual(["a", "hca0.tx.frames"]);
    expect(() => reg.histogram("a")).toThrow(/"a" is already a counter/);
    expect(() => reg.counter("hca0.qp1.latency")).toThrow(/already a histogram/);
    reg.reset();
    expect(reg.counter("a").value).toBe(0);
  });
});
