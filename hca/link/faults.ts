/**
 * Fault injection on a link direction, declared as a table of rules:
 *
 *   const faults: FaultRule[] = [
 *     { kind: "drop", rate: 1e-3 },
 *     { kind: "corrupt", rate: 1e-4, bits: 3 },
 *     { kind: "drop", frames: [5, 9] },                  // the 5th and 9th frame, for sure
 *     { kind: "delay", rate: 0.01, delayPs: [1_000, 50_000] },
 *     { kind: "reorder", rate: 0.01 },
 *     { kind: "duplicate", rate: 0.01, seed: 42 },
 *   ];
 *
 * Every rule has its own seeded stream (its `seed`, or one forked from the link's seed by
 * direction, index and kind) and draws once for every frame it looks at, whatever the
 * other rules did, so adding a rule never changes which frames another one hits.
 *
 * Effects, applied in this order to a frame on the wire:
 * - drop: the frame takes its wire time and never arrives.
 * - corrupt: `bits` bits (1..16, default 1) flipped within one 16-bit burst that starts at
 *   a uniformly drawn bit of the frame. Every CRC here has degree ≥ 16 and so detects any
 *   such burst (a CRC of degree n detects all bursts of up to n bits): the receiver's
 *   FCS or VCRC check always catches it, and the ICRC too when the burst touches what it
 *   covers.
 * - duplicate: a second copy arrives one frame time after the first (as if a device on
 *   the way sent it twice); the copy takes no link credit.
 * - reorder: the frame is held back and arrives right after the next frame on the same
 *   direction, or `delayPs` (default 10 µs) after its own arrival if none comes.
 * - delay: the frame arrives `delayPs` later (a fixed value or a uniform draw in a range);
 *   later frames may overtake it.
 */
import { Prng } from "../../core/prng.ts";
import type { Picoseconds } from "../../core/time.ts";
import type { Frame } from "./frame.ts";

export const FAULT_KINDS = ["drop", "corrupt", "duplicate", "reorder", "delay"] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** the widest burst the corrupt fault makes [bits] */
export const MAX_BURST_BITS = 16;
/** how long a reordered frame waits for a successor by default [ps] */
export const DEFAULT_REORDER_HOLD_PS = 10_000_000;

export interface FaultRule {
  kind: FaultKind;
  /** probability per frame, 0..1; default 0 */
  rate?: number;
  /** 1-based numbers of the frames (counted in send order, among those `match` accepts) that are hit for sure */
  frames?: readonly number[];
  /** seed of this rule's stream; default: forked from the link's seed */
  seed?: number | string;
  /** corrupt: bits flipped, 1..16; default 1 */
  bits?: number;
  /** delay: the extra delay [ps], fixed or a uniform range; reorder: how long to wait for a successor [ps] */
  delayPs?: number | readonly [number, number];
  /** only frames this accepts are looked at (and numbered); default all */
  match?: (frame: Frame) => boolean;
}

/** What the injector decided for one frame. */
export interface FaultOutcome {
  dropped: boolean;
  /** the frame to deliver: the one sent, or a corrupted copy */
  frame: Frame;
  duplicated: boolean;
  reordered: boolean;
  /** how long a reordered frame waits for a successor [ps] */
  reorderHoldPs: Picoseconds;
  /** added to the arrival time [ps] */
  extraDelayPs: Picoseconds;
}

export type FaultCounts = Record<FaultKind, number>;

export function noFaults(): FaultCounts {
  return { drop: 0, corrupt: 0, duplicate: 0, reorder: 0, delay: 0 };
}

interface CompiledRule {
  readonly rule: FaultRule;
  readonly prng: Prng;
  readonly rate: number;
  readonly frames: ReadonlySet<number>;
  seen: number;
}

/** Validates a fault table; throws naming the rule (`faults[i] (kind)`) and the problem. */
export function checkFaultTable(rules: readonly FaultRule[], where = "faults"): void {
  rules.forEach((r, i) => {
    const at = `${where}[${i}] (${String(r.kind)})`;
    if (!(FAULT_KINDS as readonly string[]).includes(r.kind)) throw new RangeError(`${where}[${i}]: unknown fault kind "${String(r.kind)}" (known: ${FAULT_KINDS.join(", ")})`);
    if (r.rate !== undefined && !(r.rate >= 0 && r.rate <= 1)) throw new RangeError(`${at}: rate must be in [0, 1], got ${r.rate}`);
    if (r.frames !== undefined && !r.frames.every((n) => Number.isSafeInteger(n) && n >= 1)) {
      throw new RangeError(`${at}: frames are 1-based frame numbers, got [${r.frames.join(", ")}]`);
    }
    if (r.rate === undefined && r.frames === undefined) throw new RangeError(`${at}: give a rate or frames, or the rule never fires`);
    if (r.bits !== undefined && (r.kind !== "corrupt" || !(Number.isInteger(r.bits) && r.bits >= 1 && r.bits <= MAX_BURST_BITS))) {
      throw new RangeError(`${at}: bits is for corrupt rules, 1..${MAX_BURST_BITS}, got ${r.bits}`);
    }
    if (r.kind === "delay" && r.delayPs === undefined) throw new RangeError(`${at}: a delay rule needs delayPs`);
    if (r.delayPs !== undefined) {
      if (r.kind !== "delay" && r.kind !== "reorder") throw new RangeError(`${at}: delayPs is for delay and reorder rules`);
      const [lo, hi] = typeof r.delayPs === "number" ? [r.delayPs, r.delayPs] : r.delayPs;
      if (!(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo >= 0 && lo <= hi)) {
        throw new RangeError(`${at}: delayPs must be whole picoseconds ≥ 0, a value or [lo, hi] with lo ≤ hi`);
      }
    }
  });
}

/** Applies a fault table to the frames of one link direction. */
export class FaultInjector {
  /** what was done so far, per kind */
  readonly injected: FaultCounts = noFaults();
  private readonly rules: CompiledRule[];

  constructor(rules: readonly FaultRule[], seed: number | string, direction: string) {
    checkFaultTable(rules, `${direction} faults`);
    const root = new Prng(seed);
    this.rules = rules.map((rule, i) => ({
      rule,
      prng: rule.seed !== undefined ? new Prng(rule.seed) : root.fork(`${direction}/${i}:${rule.kind}`),
      rate: rule.rate ?? 0,
      frames: new Set(rule.frames ?? []),
      seen: 0,
    }));
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /** the decision for the next frame sent */
  apply(frame: Frame): FaultOutcome {
    const out: FaultOutcome = { dropped: false, frame, duplicated: false, reordered: false, reorderHoldPs: DEFAULT_REORDER_HOLD_PS, extraDelayPs: 0 };
    let corruptBits = 0;
    let corruptRule: CompiledRule | undefined;
    for (const c of this.rules) {
      if (c.rule.match !== undefined && !c.rule.match(frame)) continue;
      c.seen++;
      const drawn = c.rate > 0 && c.prng.float() < c.rate;
      if (!(drawn || c.frames.has(c.seen))) continue;
      switch (c.rule.kind) {
        case "drop":
          out.dropped = true;
          break;
        case "corrupt":
          if (corruptRule === undefined) {
            corruptRule = c;
            corruptBits = c.rule.bits ?? 1;
          }
          break;
        case "duplicate":
          out.duplicated = true;
          break;
        case "reorder":
          out.reordered = true;
          if (c.rule.delayPs !== undefined) out.reorderHoldPs = drawDelay(c.prng, c.rule.delayPs);
          break;
        case "delay":
          out.extraDelayPs += drawDelay(c.prng, c.rule.delayPs!);
          break;
      }
    }
    if (out.dropped) {
      this.injected.drop++;
      return { ...out, duplicated: false, reordered: false, extraDelayPs: 0 };
    }
    if (corruptRule !== undefined) {
      out.frame = frame.withFlips(burst(corruptRule.prng, frame.length * 8, corruptBits));
      this.injected.corrupt++;
    }
    if (out.duplicated) this.injected.duplicate++;
    if (out.reordered) this.injected.reorder++;
    if (out.extraDelayPs > 0) this.injected.delay++;
    return out;
  }
}

function drawDelay(p: Prng, d: number | readonly [number, number]): number {
  return typeof d === "number" ? d : p.int(d[0], d[1]);
}

/** `count` distinct bit positions in one burst of at most MAX_BURST_BITS that starts at a uniformly drawn bit */
export function burst(p: Prng, frameBits: number, count: number): number[] {
  const start = p.int(0, frameBits - 1);
  const span = Math.min(MAX_BURST_BITS, frameBits - start);
  const n = Math.min(count, span);
  const bits = new Set([start]);
  while (bits.size < n) bits.add(start + p.int(1, span - 1));
  return [...bits].sort((a, b) => a - b);
}
