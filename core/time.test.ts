import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { ClockDomain, formatPs, nsToPs, PS_PER_S } from "./time.ts";

describe("ClockDomain", () => {
  it("converts cycles to picoseconds for whole and fractional periods", () => {
    const core = new ClockDomain("core", 250);
    expect(core.periodPs).toBe(4000);
    expect(core.cycleToPs(0)).toBe(0);
    expect(core.cycleToPs(3)).toBe(12_000);

    const mac = new ClockDomain("mac", 322.265625); // 100GbE MAC clock
    expect(mac.periodPs).toBeCloseTo(3103.0303, 3);
    expect(mac.cycleToPs(1)).toBe(3103);
    expect(mac.cycleToPs(2)).toBe(6206);
    expect(mac.cycleToPs(3)).toBe(9309);
    expect(mac.cycleToPs(33)).toBe(102_400); // 33 cycles = exactly 102.4 ns
  });

  it("psToCycle is the first edge at or after t; cycleAt the last at or before", () => {
    const d = new ClockDomain("d", 250);
    expect(d.psToCycle(0)).toBe(0);
    expect(d.psToCycle(1)).toBe(1);
    expect(d.psToCycle(4000)).toBe(1);
    expect(d.psToCycle(4001)).toBe(2);
    expect(d.cycleAt(4000)).toBe(1);
    expect(d.cycleAt(7999)).toBe(1);
    expect(d.cycleAt(8000)).toBe(2);
  });

  it("psToCycle and cycleAt agree with cycleToPs for any frequency (property)", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 1_000_000, noNaN: true }),
        fc.integer({ min: 0, max: 1e13 }),
        (mhz, t) => {
          const d = new ClockDomain("p", mhz);
          const c = d.psToCycle(t);
          expect(d.cycleToPs(c)).toBeGreaterThanOrEqual(t);
          if (c > 0) expect(d.cycleToPs(c - 1)).toBeLessThan(t);
          const k = d.cycleAt(t);
          expect(d.cycleToPs(k)).toBeLessThanOrEqual(t);
          expect(d.cycleToPs(k + 1)).toBeGreaterThan(t);
          expect(d.psToCycle(d.cycleToPs(c))).toBe(c);
        },
      ),
    );
  });

  it("rejects frequencies that are not positive finite numbers, naming the domain", () => {
    expect(() => new ClockDomain("pcie", 0)).toThrow(/clock domain "pcie": frequency must be a positive number of MHz, got 0/);
    expect(() => new ClockDomain("pcie", -5)).toThrow(/got -5/);
    expect(() => new ClockDomain("pcie", NaN)).toThrow(/got NaN/);
    expect(() => new ClockDomain("pcie", Infinity)).toThrow(/got Infinity/);
    expect(() => new ClockDomain("thz", 2e6)).toThrow(/under 1 ps/);
  });
});

describe("time helpers", () => {
  it("formats and converts", () => {
    expect(formatPs(0)).toBe("0 ps");
    expect(formatPs(3103)).toBe("3.103 ns");
    expect(formatPs(1_500_000)).toBe("1.5 us");
    expect(formatPs(PS_PER_S)).toBe("1 s");
    expect(nsToPs(6.4)).toBe(6400);
  });
});
