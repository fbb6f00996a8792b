import { describe, it, expect } from "vitest";
import { Channel } from "./channel.ts";
import { Component, Simulator } from "./kernel.ts";
import { ClockDomain } from "./time.ts";

const clk = new ClockDomain("core", 250); // 4000 ps per cycle

function channel<T>(sim: Simulator, over: Partial<ConstructorParameters<typeof Channel<T>>[1]> = {}) {
  return new Channel<T>(sim, { name: "ch", domain: clk, capacity: 4, latencyCycles: 0, widthBytes: 64, ...over });
}

/** sends `frames` frames of `size` bytes as fast as credits allow */
class Source extends Component {
  sent = 0;
  constructor(sim: Simulator, readonly out: Channel<number>, readonly frames: number, readonly size: number) {
    super(sim, "src", out.domain);
  }
  onWake(): void {
    while (this.sent < this.frames && this.out.canSend()) this.out.send(this.sent++, this.size);
  }
}

/** takes at most one item per cycle, logging the cycle it took each */
class Sink extends Component {
  got: Array<[number, number]> = [];
  constructor(sim: Simulator, readonly inp: Channel<number>, domain = inp.domain) {
    super(sim, "sink", domain);
  }
  onWake(): void {
    const x = this.inp.receive();
    if (x === undefined) return;
    this.got.push([x, this.cycle]);
    if (this.inp.peek() !== undefined) this.wakeIn(1);
  }
}

describe("Channel", () => {
  it("serialises ceil(size / width) beats, at least one", () => {
    const ch = channel(new Simulator());
    expect(ch.beatsFor(1500)).toBe(24);
    expect(ch.beatsFor(64)).toBe(1);
    expect(ch.beatsFor(65)).toBe(2);
    expect(ch.beatsFor(1)).toBe(1);
    expect(ch.beatsFor(0)).toBe(1);
  });

  it("a 1500-byte frame on a 64-byte datapath arrives after its 24th beat plus latency", () => {
    const sim = new Simulator();
    expect(channel(sim).send(1, 1500)).toBe(23); // beats at cycles 0..23, no latency
    const ch = channel(sim, { latencyCycles: 3 });
    expect(ch.send(1, 1500)).toBe(26);
    expect(ch.serialiserFreeAt).toBe(24);
  });

  it("makes an item visible exactly latencyCycles after its last beat and wakes the receiver then", () => {
    const sim = new Simulator();
    const ch = channel<string>(sim, { latencyCycles: 5 });
    const woken: number[] = [];
    ch.connect({ receiver: () => woken.push(sim.now) });
    sim.run(clk.cycleToPs(10));
    expect(ch.send("x", 8)).toBe(15);
    sim.run(clk.cycleToPs(14));
    expect(ch.peek()).toBeUndefined();
    expect(ch.receive()).toBeUndefined();
    expect(ch.available).toBe(0);
    sim.run(clk.cycleToPs(15));
    expect(woken).toEqual([clk.cycleToPs(15)]);
    expect(ch.available).toBe(1);
    expect(ch.peek()).toBe("x");
    expect(ch.receive()).toBe("x");
    expect(ch.receive()).toBeUndefined();
  });

  it("sends back to back at the full width: ten 1500-byte frames in 240 cycles", () => {
    const sim = new Simulator();
    const ch = channel<number>(sim, { capacity: 10, latencyCycles: 2 });
    const arrivals = Array.from({ length: 10 }, (_, i) => ch.send(i, 1500));
    expect(arrivals).toEqual(Array.from({ length: 10 }, (_, i) => 24 * i + 23 + 2));
    expect(ch.serialiserFreeAt).toBe(240);
    expect(ch.busyCycles).toBe(240);
    expect(ch.sentBytes).toBe(15_000);
  });

  it("sustains line rate through a credit loop between two components", () => {
    const sim = new Simulator();
    const ch = channel<number>(sim, { capacity: 4, latencyCycles: 3 });
    const src = new Source(sim, ch, 100, 256); // 4 beats each
    const sink = new Sink(sim, ch);
    ch.connect({ sender: src, receiver: sink });
    src.wakeAt(0);
    sim.run();
    expect(sink.got.map(([x]) => x)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // 4 beats per frame: frame i's last beat is at 4i+3, +3 latency.
    expect(sink.got.map(([, c]) => c)).toEqual(Array.from({ length: 100 }, (_, i) => 4 * i + 6));
    expect(ch.occupancy).toBe(0);
    // Event-driven: far fewer events than (cycles × components).
    expect(sim.eventsProcessed).toBeLessThan(400);
  });

  it("blocks sends when credits run out and frees them on receive, waking the sender", () => {
    const sim = new Simulator();
    const ch = channel<number>(sim, { capacity: 2, latencyCycles: 1 });
    const senderWakes: number[] = [];
    ch.connect({ sender: () => senderWakes.push(sim.now) });
    ch.send(1, 64);
    ch.send(2, 64);
    expect(ch.canSend()).toBe(false);
    expect(ch.credits).toBe(0);
    expect(() => ch.send(3, 64)).toThrow(/channel "ch": send with no free credit \(all 2 in use\)/);
    sim.run(clk.cycleToPs(1));
    expect(ch.occupancy).toBe(2); // arrived but not taken: still holds credits
    expect(ch.canSend()).toBe(false);
    expect(ch.receive()).toBe(1);
    expect(ch.canSend()).toBe(true);
    expect(ch.credits).toBe(1);
    sim.run(clk.cycleToPs(1));
    expect(senderWakes).toEqual([clk.cycleToPs(1)]);
  });

  it("returns credits after creditLatencyCycles when asked to", () => {
    const sim = new Simulator();
    const ch = channel<number>(sim, { capacity: 1, creditLatencyCycles: 2 });
    ch.send(1, 64);
    expect(ch.receive()).toBe(1);
    expect(ch.canSend()).toBe(false);
    sim.run(clk.cycleToPs(1));
    expect(ch.canSend()).toBe(false);
    sim.run(clk.cycleToPs(2));
    expect(ch.canSend()).toBe(true);
  });

  it("wakes a receiver in another clock domain at its first edge after arrival", () => {
    const sim = new Simulator();
    const ch = channel<number>(sim, { latencyCycles: 1 });
    const slow = new ClockDomain("slow", 100); // 10000 ps
    const sink = new Sink(sim, ch, slow);
    ch.connect({ receiver: sink });
    ch.send(7, 64); // arrives at channel cycle 1 = 4000 ps
    sim.run();
    expect(sink.got).toEqual([[7, 1]]); // slow cycle 1 = 10000 ps
    expect(sim.now).toBe(10_000);
  });

  it("rejects bad parameters, naming the channel", () => {
    const sim = new Simulator();
    expect(() => channel(sim, { name: "rx_fifo", capacity: 0 })).toThrow(/channel "rx_fifo": capacity must be/);
    expect(() => channel(sim, { name: "rx_fifo", widthBytes: 0 })).toThrow(/channel "rx_fifo": widthBytes/);
    expect(() => channel(sim, { name: "rx_fifo", latencyCycles: -1 })).toThrow(/latencyCycles/);
    expect(() => channel(sim).send(1, -1)).toThrow(/size must be/);
    expect(() => channel(sim, { capacity: Infinity })).not.toThrow();
  });
});
