import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { BlockTwin, StreamTransaction } from "../core/block.ts";
import { pack } from "../core/packed-transactions.ts";
import { StimulusBacklog, type QuantumInput } from "./stimulus-backlog.ts";

const USER = ["tag"];

function stimulus(lengths: number[], gaps: number[]): StreamTransaction[] {
  let start = 0;
  return lengths.map((n, i) => {
    start += gaps[i % gaps.length] ?? 0;
    const data = new Uint8Array(n);
    for (let k = 0; k < n; k++) data[k] = (i * 13 + k) & 0xff;
    return { data, user: { tag: i }, startCycle: start, endCycle: start };
  });
}

function written(b: StimulusBacklog, q: QuantumInput): number[] {
  const out = new Uint8Array(q.packedBytes);
  expect(b.write(q, out, new DataView(out.buffer), 0)).toBe(q.packedBytes);
  return [...out];
}

describe("stimulus backlog", () => {
  it("property: packed runs and transaction objects give the same quanta, byte for byte", () => {
    fc.assert(
      fc.property(
        fc.array(fc.nat(40), { minLength: 1, maxLength: 80 }),
        fc.array(fc.nat(9), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(80), { maxLength: 6 }),
        fc.constantFrom(0, 4, 8),
        fc.integer({ min: 1, max: 30 }),
        (lengths, gaps, cuts, width, Q) => {
          const ts = stimulus(lengths, gaps);
          const objects = new StimulusBacklog(width, USER);
          const mixed = new StimulusBacklog(width, USER);
          for (const t of ts) objects.pushTransaction(t);
          // the same transactions as alternating runs: packed, objects, packed, …
          const bounds = [...new Set([0, ...cuts.filter((c) => c < ts.length), ts.length])].sort((a, b) => a - b);
          for (let r = 0; r + 1 < bounds.length; r++) {
            const run = ts.slice(bounds[r], bounds[r + 1]);
            if (r % 2 === 0) mixed.pushPacked(pack(run, USER));
            else for (const t of run) mixed.pushTransaction(t);
          }
          let windowEnd = 0;
          let offered = 0;
          const all: number[] = [];
          for (let guard = 0; !objects.empty && guard < 10_000; guard++) {
            windowEnd += Q;
            const a = objects.take(windowEnd, windowEnd + Q - offered);
            const b = mixed.take(windowEnd, windowEnd + Q - offered);
            expect([b.count, b.beats, b.packedBytes]).toEqual([a.count, a.beats, a.packedBytes]);
            const bytes = written(mixed, b);
            expect(bytes).toEqual(written(objects, a));
            // what may start in the window, within the beat budget
            offered += a.beats;
            all.push(...bytes);
          }
          expect(objects.empty && mixed.empty).toBe(true);
          expect(all).toEqual([...pack(ts, USER)]);
          expect(objects.heldBytes).toBe(0);
          expect(mixed.heldBytes).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("takes only what starts before the window's end, and stops once the beat budget is spent", () => {
    const ts = stimulus([16, 16, 16, 16, 16], [0, 10]);
    const b = new StimulusBacklog(8, USER);
    b.pushPacked(pack(ts, USER));
    // starts 0, 10, 10, 20, 20
    const q1 = b.take(10, 100);
    expect([q1.count, q1.beats]).toEqual([1, 2]);
    // budget of 3 beats: the second transaction (2 beats) still goes, the third does not start
    const q2 = b.take(30, 3);
    expect([q2.count, q2.beats]).toEqual([2, 4]);
    const q3 = b.take(30, 100);
    expect(q3.count).toBe(2);
    expect(b.empty).toBe(true);
  });

  it("offers a twin without offerPacked the same transactions, packed or not", () => {
    const ts = stimulus([3, 0, 7, 12], [1]);
    const seen: StreamTransaction[] = [];
    const twin: BlockTwin = { block: "t", offer: (_p, t) => { seen.push(t); }, runUntil: () => undefined, take: () => [] };
    const b = new StimulusBacklog(4, USER);
    b.pushPacked(pack(ts.slice(0, 2), USER));
    for (const t of ts.slice(2)) b.pushTransaction(t);
    b.offerEach(b.take(100, 100), "s_axis", twin);
    expect(seen.map((t) => ({ ...t, data: [...t.data] }))).toEqual(ts.map((t) => ({ ...t, data: [...t.data] })));
  });
});
