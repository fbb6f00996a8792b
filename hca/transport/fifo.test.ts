/** The rings behind the transmit queue and the wire: order kept across growth and wrap. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { Fifo, NumberFifo } from "./fifo.ts";

describe("Fifo and NumberFifo", () => {
  it("give back what went in, in order, under any interleaving of push and shift (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: 0, max: 2 ** 40 }), fc.constant(-1)), { maxLength: 300 }), fc.integer({ min: 1, max: 9 }), (ops, capacity) => {
        const refs = new Fifo<{ v: number }>(capacity);
        const nums = new NumberFifo(capacity);
        const model: number[] = [];
        for (const op of ops) {
          if (op >= 0) {
            refs.push({ v: op });
            nums.push(op);
            model.push(op);
          } else {
            const want = model.shift();
            expect(refs.peek()?.v).toBe(want);
            expect(refs.shift()?.v).toBe(want);
            if (want === undefined) {
              expect(nums.peek()).toBeNaN();
              expect(nums.shift()).toBeNaN();
            } else {
              expect(nums.peek()).toBe(want);
              expect(nums.shift()).toBe(want);
            }
          }
          expect(refs.length).toBe(model.length);
          expect(nums.length).toBe(model.length);
        }
      }),
    );
  });

  it("keeps no reference to an element once it has left", () => {
    const q = new Fifo<object>(2);
    const gone = {};
    q.push(gone);
    q.push({});
    q.shift();
    expect((q as unknown as { items: unknown[] }).items.includes(gone)).toBe(false);
  });
});
