import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { Component, Simulator } from "./kernel.ts";
import { ClockDomain, PS_PER_S } from "./time.ts";

/** wakes itself every `every` cycles, `times` times, logging each wake */
class Ticker extends Component {
  readonly log: Array<[number, string, number]>;
  private left: number;
  constructor(sim: Simulator, name: string, domain: ClockDomain, log: Array<[number, string, number]>, times: number, readonly every = 1) {
    super(sim, name, domain);
    this.log = log;
    this.left = times;
  }
  onWake(): void {
    this.log.push([this.now, this.name, this.cycle]);
    if (--this.left > 0) this.wakeIn(this.every);
  }
}

class Counter extends Component {
  wakes = 0;
  cycles: number[] = [];
  onWake(): void {
    this.wakes++;
    this.cycles.push(this.cycle);
  }
}

describe("Simulator", () => {
  it("runs events in time order, ties in scheduling order", () => {
    const sim = new Simulator();
    const out: string[] = [];
    sim.schedule(300, () => out.push("c"));
    sim.schedule(100, () => out.push("a1"));
    sim.schedule(200, () => out.push("b"));
    sim.schedule(100, () => out.push("a2"));
    sim.schedule(100, () => {
      out.push("a3");
      sim.schedule(100, () => out.push("a5 (scheduled for now, runs after queued ties)"));
    });
    sim.schedule(100, () => out.push("a4"));
    expect(sim.pending).toBe(6);
    expect(sim.run()).toBe(7);
    expect(out).toEqual(["a1", "a2", "a3", "a4", "a5 (scheduled for now, runs after queued ties)", "b", "c"]);
    expect(sim.now).toBe(300);
    expect(sim.pending).toBe(0);
    expect(sim.eventsProcessed).toBe(7);
  });

  it("is deterministic: any insertion order of distinct (time, id) gives time-sorted, stable output (property)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
        const sim = new Simulator();
        const out: number[] = [];
        times.forEach((t, i) => sim.schedule(t, () => out.push(i)));
        sim.run();
        const expected = times.map((t, i) => [t, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]).map(([, i]) => i);
        expect(out).toEqual(expected);
      }),
    );
  });

  it("run(until) stops at until inclusive and advances time to it", () => {
    const sim = new Simulator();
    const out: number[] = [];
    for (const t of [10, 20, 30]) sim.schedule(t, () => out.push(t));
    expect(sim.run(20)).toBe(2);
    expect(out).toEqual([10, 20]);
    expect(sim.now).toBe(20);
    expect(sim.nextEventPs).toBe(30);
    sim.run(1000);
    expect(sim.now).toBe(1000);
    expect(out).toEqual([10, 20, 30]);
    expect(() => sim.run(5)).toThrow(/cannot run until 5 ps, time is already 1000 ps/);
  });

  it("cancels events and rejects scheduling in the past", () => {
    const sim = new Simulator();
    const out: string[] = [];
    const h = sim.schedule(50, () => out.push("cancelled"));
    sim.schedule(60, () => out.push("kept"));
    expect(sim.cancel(h)).toBe(true);
    expect(sim.cancel(h)).toBe(false);
    expect(sim.pending).toBe(1);
    sim.run();
    expect(out).toEqual(["kept"]);
    expect(sim.eventsProcessed).toBe(1);
    expect(() => sim.schedule(10, () => {})).toThrow(/cannot schedule at 10 ps, time is already 60 ps/);
    expect(() => sim.schedule(70.5, () => {})).toThrow(/whole number of picoseconds/);
  });

  it("stop() ends the run after the current event; an exception leaves the simulator usable", () => {
    const sim = new Simulator();
    const out: number[] = [];
    sim.schedule(1, () => {
      out.push(1);
      sim.stop();
    });
    sim.schedule(2, () => {
      throw new Error("boom");
    });
    sim.schedule(3, () => out.push(3));
    sim.run();
    expect(out).toEqual([1]);
    expect(sim.now).toBe(1);
    expect(() => sim.run()).toThrow("boom");
    sim.run();
    expect(out).toEqual([1, 3]);
  });

  it("post() orders its events with scheduled ones by time, then by the order they were queued", () => {
    const sim = new Simulator();
    const out: string[] = [];
    sim.post(100, () => out.push("p1"));
    sim.schedule(100, () => {
      out.push("s2");
      sim.post(100, () => out.push("p5 (posted for now, after the queued ties)"));
    });
    sim.post(50, () => out.push("p0"));
    const h = sim.schedule(100, () => out.push("cancelled"));
    sim.post(100, () => out.push("p4"));
    sim.cancel(h);
    expect(sim.pending).toBe(4);
    expect(sim.run()).toBe(5);
    expect(out).toEqual(["p0", "p1", "s2", "p4", "p5 (posted for now, after the queued ties)"]);
    expect(sim.pending).toBe(0);
    expect(() => sim.post(99, () => {})).toThrow(/Simulator.post: cannot schedule at 99 ps, time is already 100 ps/);
    expect(() => sim.post(100.5, () => {})).toThrow(/whole number of picoseconds/);
    for (const bad of [NaN, Infinity, 2 ** 53]) expect(() => sim.post(bad, () => {})).toThrow(/whole number of picoseconds/);
    expect(sim.pending).toBe(0);
  });

  it("post() reuses the records of events that ran without mixing them up (property)", () => {
    // chains of posts, each event posting its successor at a random delay: the reused
    // records must keep every event's own time and callback, in time-then-posting order
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 30 }), { maxLength: 20 }), { minLength: 1, maxLength: 6 }), (chains) => {
        const sim = new Simulator();
        const ran: Array<[number, number, number]> = [];
        const expected: Array<[number, number, number]> = [];
        chains.forEach((delays, c) => {
          let t = 0;
          const step = (k: number): void => {
            ran.push([sim.now, c, k]);
            if (k < delays.length) sim.post(sim.now + delays[k], () => step(k + 1));
          };
          sim.post(0, () => step(0));
          for (let k = 0; k <= delays.length; k++) {
            expected.push([t, c, k]);
            if (k < delays.length) t += delays[k];
          }
        });
        sim.run();
        // every step of every chain ran once, at its own time, and time never went back
        expect(ran.length).toBe(expected.length);
        expect([...ran].sort((a, b) => a[1] - b[1] || a[2] - b[2])).toEqual(expected);
        for (let i = 1; i < ran.length; i++) expect(ran[i][0]).toBeGreaterThanOrEqual(ran[i - 1][0]);
      }),
    );
  });

  it("is not reentrant", () => {
    const sim = new Simulator();
    sim.schedule(0, () => sim.run());
    expect(() => sim.run()).toThrow(/already running/);
  });
});

describe("Component", () => {
  it("costs nothing while idle: one simulated second with two wakes is two events", () => {
    const sim = new Simulator();
    const c = new Counter(sim, "link", new ClockDomain("mac", 322.265625));
    c.wakeAt(0);
    c.wakeAtPs(PS_PER_S);
    sim.run(PS_PER_S);
    expect(c.wakes).toBe(2);
    expect(sim.eventsProcessed).toBe(2);
    expect(sim.now).toBe(PS_PER_S);
    expect(c.cycles[1]).toBe(c.domain.psToCycle(PS_PER_S));
  });

  it("coalesces wakes for the same cycle", () => {
    const sim = new Simulator();
    const c = new Counter(sim, "c", new ClockDomain("clk", 100));
    c.wakeAt(5);
    c.wakeAt(5);
    c.wakeIn(5);
    c.wakeAt(6);
    expect(sim.pending).toBe(2);
    expect(c.asleep).toBe(false);
    sim.run();
    expect(c.cycles).toEqual([5, 6]);
    expect(c.asleep).toBe(true);
  });

  it("a wake for a cycle already past fires at the next edge", () => {
    const sim = new Simulator();
    const c = new Counter(sim, "c", new ClockDomain("clk", 250)); // 4000 ps
    sim.schedule(4500, () => c.wakeAt(0)); // between edges 1 and 2
    sim.run();
    expect(c.cycles).toEqual([2]);
    expect(sim.now).toBe(8000);
  });

  it("interleaves two clock domains in time order", () => {
    const sim = new Simulator();
    const log: Array<[number, string, number]> = [];
    const fast = new Ticker(sim, "fast", new ClockDomain("fast", 250), log, 10); // 4 ns
    const slow = new Ticker(sim, "slow", new ClockDomain("slow", 100), log, 4); // 10 ns
    slow.wakeAt(0); // scheduled first, so it wins the tie at t = 0
    fast.wakeAt(0);
    sim.run();
    expect(log).toEqual([
      [0, "slow", 0],
      [0, "fast", 0],
      [4000, "fast", 1],
      [8000, "fast", 2],
      [10000, "slow", 1],
      [12000, "fast", 3],
      [16000, "fast", 4],
      [20000, "slow", 2],
      [20000, "fast", 5],
      [24000, "fast", 6],
      [28000, "fast", 7],
      [30000, "slow", 3],
      [32000, "fast", 8],
      [36000, "fast", 9],
    ]);
    expect(sim.eventsProcessed).toBe(14);
  });

  it("gives the same trace on every run", () => {
    const trace = () => {
      const sim = new Simulator();
      const log: Array<[number, string, number]> = [];
      new Ticker(sim, "a", new ClockDomain("a", 322.265625), log, 50, 3).wakeAt(1);
      new Ticker(sim, "b", new ClockDomain("b", 156.25), log, 50, 2).wakeAt(0);
      new Ticker(sim, "c", new ClockDomain("c", 250), log, 50).wakeAt(7);
      sim.run();
      return log;
    };
    const first = trace();
    expect(first.length).toBe(150);
    expect(trace()).toEqual(first);
  });
});
