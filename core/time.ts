/**
 * Simulated time and clock domains (DESIGN.md §2).
 *
 * Global time is an integer count of picoseconds, held in a number: safe integers reach
 * 2^53 ps ≈ 2.5 hours of simulated time. A clock domain numbers its own rising edges
 * (cycle 0 at time 0) and converts between its cycles and global time. Edge times are
 * rounded to the picosecond by one formula, so every conversion is deterministic even
 * when the period is not a whole number of picoseconds (322.265625 MHz ≈ 3103.03 ps).
 */

/** a point in simulated time or a duration, in picoseconds; always a safe integer */
export type Picoseconds = number;

/** picoseconds per nanosecond */
export const PS_PER_NS = 1_000;
/** picoseconds per microsecond */
export const PS_PER_US = 1_000_000;
/** picoseconds per millisecond */
export const PS_PER_MS = 1_000_000_000;
/** picoseconds per second */
export const PS_PER_S = 1_000_000_000_000;

/** nanoseconds (may be fractional) → picoseconds, rounded */
export function nsToPs(ns: number): Picoseconds {
  return Math.round(ns * PS_PER_NS);
}

/** picoseconds → nanoseconds (fractional) */
export function psToNs(ps: Picoseconds): number {
  return ps / PS_PER_NS;
}

/** a human-readable time: "0 ps", "3.104 ns", "1.5 us", "2 ms", "1 s" */
export function formatPs(ps: Picoseconds): string {
  const a = Math.abs(ps);
  const [unit, div] =
    a >= PS_PER_S ? ["s", PS_PER_S] : a >= PS_PER_MS ? ["ms", PS_PER_MS] : a >= PS_PER_US ? ["us", PS_PER_US] : a >= PS_PER_NS ? ["ns", PS_PER_NS] : ["ps", 1];
  return `${Number((ps / div).toFixed(3))} ${unit}`;
}

export class ClockDomain {
  /** clock period in picoseconds; may be fractional (edges are rounded, see cycleToPs) */
  readonly periodPs: number;

  constructor(
    readonly name: string,
    /** clock frequency [MHz] */
    readonly mhz: number,
  ) {
    if (typeof mhz !== "number" || !Number.isFinite(mhz) || mhz <= 0) {
      throw new RangeError(`clock domain "${name}": frequency must be a positive number of MHz, got ${mhz}`);
    }
    if (mhz > 1_000_000) {
      // Below 1 ps per cycle two edges would fall on the same picosecond.
      throw new RangeError(`clock domain "${name}": ${mhz} MHz has a period under 1 ps, the time resolution`);
    }
    this.periodPs = 1e6 / mhz;
  }

  /** time of the rising edge of cycle c */
  cycleToPs(c: number): Picoseconds {
    return Math.round((c * 1e6) / this.mhz);
  }

  /** the first cycle whose edge is at or after t (the next edge a component can act on) */
  psToCycle(t: Picoseconds): number {
    if (t <= 0) return 0;
    let c = Math.ceil((t * this.mhz) / 1e6);
    // The estimate can be one off either way because cycleToPs rounds; settle it exactly.
    while (this.cycleToPs(c) < t) c++;
    while (c > 0 && this.cycleToPs(c - 1) >= t) c--;
    return c;
  }

  /** the cycle in progress at t: the last cycle whose edge is at or before t */
  cycleAt(t: Picoseconds): number {
    const c = this.psToCycle(t);
    return this.cycleToPs(c) === t ? c : c - 1;
  }

  /** a duration of n cycles, in picoseconds, rounded */
  cyclesToPs(n: number): Picoseconds {
    return Math.round((n * 1e6) / this.mhz);
  }

  toString(): string {
    return `${this.name} (${this.mhz} MHz)`;
  }
}
