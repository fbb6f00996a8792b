import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/kernel.ts";
import { Bth } from "../headers/index.ts";
import { creditBlocks } from "./credits.ts";
import type { Frame } from "./frame.ts";
import { IbFramer } from "./ib-framing.ts";
import { receiveFrame } from "./index.ts";
import { type Arrival, Link, type LinkEndpoint, type LinkOptions, type LinkPort } from "./link.ts";
import { RoceFramer } from "./roce-framing.ts";
import { samplePacket } from "./sample-packets.ts";
import { ETHERNET_OVERHEAD_BYTES, ibWireBytes, linkDataRate, linkSpeed } from "./speeds.ts";

const roce = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 5 });
const ib = new IbFramer({ slid: 1, dlid: 2, sl: 0 });
const psnOf = (f: Frame) => Bth.get(f.packet, 0, "psn");
const rocePkt = (psn: number, payloadBytes = 1024) => roce.frame(samplePacket({ opcode: "RC_RDMA_WRITE_MIDDLE", payloadBytes, psn }));
const ibPkt = (psn: number, payloadBytes = 1024) => ib.frame(samplePacket({ opcode: "RC_RDMA_WRITE_MIDDLE", payloadBytes, psn }));

/** an endpoint that records arrivals and can hold IB buffers */
class Sink implements LinkEndpoint {
  got: { frame: Frame; arrival: Arrival; at: number }[] = [];
  constructor(readonly sim: Simulator) {}
  receive(frame: Frame, arrival: Arrival): void {
    this.got.push({ frame, arrival, at: this.sim.now });
  }
}

/** a sender that sends `frames` back to back, as fast as the port allows */
class Source implements LinkEndpoint {
  sent: number[] = [];
  private next = 0;
  constructor(
    readonly port: LinkPort,
    readonly frames: Frame[],
    readonly sim: Simulator,
  ) {
    port.attach(this);
    sim.schedule(0, () => this.ready());
  }
  receive(): void {}
  ready(): void {
    while (this.next < this.frames.length) {
      const f = this.frames[this.next]!;
      if (!this.port.canSend(f)) return this.port.whenReady(f);
      this.port.send(f);
      this.sent.push(this.sim.now);
      this.next++;
    }
  }
}

function setup(opts: Partial<LinkOptions>) {
  const sim = new Simulator();
  const link = new Link(sim, { name: "l", speed: "100GbE", ...opts });
  const sink = new Sink(sim);
  link.b.attach(sink);
  return { sim, link, sink };
}

describe("Link timing", () => {
  it("serialises a frame for its wire bytes at the data rate, then propagates it", () => {
    const { sim, link, sink } = setup({ speed: "100GbE", propagationPs: 10_000 });
    const f = rocePkt(0);
    sim.schedule(1000, () => link.a.send(f));
    sim.run();
    const ser = ((f.length + ETHERNET_OVERHEAD_BYTES) * 8 * 1e12) / linkDataRate(linkSpeed("100GbE"));
    expect(link.serialisationPs(f.length)).toBe(Math.round(ser));
    expect(sink.got[0]!.at).toBe(1000 + Math.round(ser) + 10_000);
    expect(sink.got[0]!.arrival.firstBitPs).toBe(1000 + 10_000);
    expect(link.a.counters).toMatchObject({ frames: 1, bytes: f.length, wireBytes: f.length + 20, delivered: 1 });
  });

  it("sends back to back at exactly line rate, one frame at a time, and says when it can send again", () => {
    const { sim, link, sink } = setup({ speed: "25GbE" });
    const frames = Array.from({ length: 50 }, (_, i) => rocePkt(i));
    const src = new Source(link.a, frames, sim);
    sim.run();
    expect(sink.got.map((g) => psnOf(g.frame))).toEqual(frames.map((_, i) => i));
    const per = link.serialisationPs(frames[0]!.length);
    expect(src.sent).toEqual(frames.map((_, i) => i * per));
    expect(link.utilisation().aToB).toBeCloseTo(1, 9);
    expect(link.utilisation().bToA).toBe(0);
  });

  it("refuses to send while busy, and on a link of the other kind", () => {
    const { sim, link } = setup({ speed: "100GbE" });
    sim.schedule(0, () => {
      link.a.send(rocePkt(0));
      expect(link.a.canSend()).toBe(false);
      expect(link.a.readyAtPs).toBe(link.serialisationPs(rocePkt(0).length));
      expect(() => link.a.send(rocePkt(1))).toThrow(/busy until/);
      expect(() => link.b.send(ibPkt(0))).toThrow(/ib frame cannot go on a 100GbE link/);
    });
    sim.run();
  });

  it("is full duplex: both directions at line rate at once", () => {
    const sim = new Simulator();
    const link = new Link(sim, { name: "l", speed: "10GbE" });
    const frames = (n: number) => Array.from({ length: n }, (_, i) => rocePkt(i, 256));
    const ab = new Source(link.a, frames(20), sim);
    const ba = new Source(link.b, frames(20), sim);
    sim.run();
    expect(ab.sent).toEqual(ba.sent);
    expect(link.a.counters.delivered + link.b.counters.delivered).toBe(40);
  });

  it("a cut-through endpoint hears of a frame at its first bit", () => {
    const { sim, link, sink } = setup({ speed: "100GbE", propagationPs: 500 });
    link.b.attach(sink, { cutThrough: true });
    sim.schedule(0, () => link.a.send(rocePkt(0, 4096)));
    sim.run();
    expect(sink.got[0]!.at).toBe(500);
    expect(sink.got[0]!.arrival.lastBitPs).toBe(500 + link.serialisationPs(rocePkt(0, 4096).length));
  });
});

describe("IB link speed and credits", () => {
  it("costs each packet its bytes and delimiters, rounded to the lanes, at the encoded rate", () => {
    const { link } = setup({ speed: "4X EDR" });
    const f = ibPkt(0, 1000);
    expect(link.serialisationPs(f.length)).toBe(Math.round((ibWireBytes(f.length, { width: "4X", speed: "EDR" }) * 8e12) / 100e9));
  });

  it("stops a sender that has used its VL's credit until the receiver frees buffer, and counts the wait", () => {
    const sim = new Simulator();
    const f0 = ibPkt(0, 1024);
    const blocks = creditBlocks(f0.length);
    const link = new Link(sim, { name: "l", speed: "4X EDR", credits: { bufferBytes: 2 * blocks * 64, returnDelayPs: 7_000 } });
    const sink = new Sink(sim);
    link.b.attach(sink, { holdCredits: true });
    const src = new Source(link.a, [f0, ibPkt(1), ibPkt(2)], sim);
    sim.run();
    expect(sink.got).toHaveLength(2);
    expect(link.a.credits(0)).toBe(0);
    expect(link.a.counters.creditWaits).toBe(1);
    const freeAt = sim.now + 1_000_000;
    sim.schedule(freeAt, () => link.b.release(sink.got[0]!.frame));
    sim.run();
    expect(sink.got).toHaveLength(3);
    expect(src.sent[2]).toBe(freeAt + 7_000);
  });

  it("credits limit throughput on a long link with a small buffer: one buffer per round trip", () => {
    const sim = new Simulator();
    const prop = 1_000_000; // 1 µs, about 200 m
    const frames = Array.from({ length: 200 }, (_, i) => ibPkt(i, 2048));
    const buffer = 8 * creditBlocks(frames[0]!.length) * 64;
    const link = new Link(sim, { name: "l", speed: "4X EDR", propagationPs: prop, credits: { bufferBytes: buffer } });
    const sink = new Sink(sim);
    link.b.attach(sink);
    new Source(link.a, frames, sim);
    sim.run();
    expect(sink.got).toHaveLength(200);
    const ser = link.serialisationPs(frames[0]!.length);
    const rtt = ser + prop + link.creditReturnPs; // a packet's credit is back this long after it started
    const expected = Math.max(ser, rtt / 8); // 8 packets per round trip
    const measured = (sink.got[199]!.at - sink.got[0]!.at) / 199;
    expect(measured).toBeGreaterThan(expected * 0.98);
    expect(measured).toBeLessThan(expected * 1.02);
    expect(measured).toBeGreaterThan(ser * 1.5); // slower than line rate
  });

  it("a waiting sender goes as soon as any credit is back, even one that overtook an older one", () => {
    const sim = new Simulator();
    const f = [ibPkt(0), ibPkt(1), ibPkt(2)];
    const link = new Link(sim, {
      name: "l",
      speed: "4X EDR",
      credits: { bufferBytes: 2 * creditBlocks(f[0]!.length) * 64, returnDelayPs: 1_000 },
      faults: [{ kind: "delay", frames: [1], delayPs: 50_000_000 }],
    });
    const sink = new Sink(sim);
    link.b.attach(sink);
    const src = new Source(link.a, f, sim);
    sim.run();
    expect(sink.got.map((g) => psnOf(g.frame))).toEqual([1, 2, 0]);
    expect(src.sent[2]).toBe(sink.got[0]!.at + 1_000); // the credit of packet 1, not of the delayed packet 0
  });

  it("VL 15 is not flow controlled, and a packet bigger than the whole buffer is refused", () => {
    const sim = new Simulator();
    const link = new Link(sim, { name: "l", speed: "4X QDR", credits: { bufferBytes: 512 } });
    link.b.attach(new Sink(sim), { holdCredits: true });
    const smp = new IbFramer({ slid: 1, dlid: 2, sl: 0, vl: 15 });
    const frames = Array.from({ length: 5 }, (_, i) => smp.frame(samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 256, psn: i })));
    new Source(link.a, frames, sim);
    sim.run();
    expect(link.a.counters.delivered).toBe(5);
    sim.schedule(sim.now, () => expect(() => link.a.send(ibPkt(0, 1024))).toThrow(/exceeds the receiver's whole buffer/));
    sim.run();
  });
});

describe("Link faults", () => {
  const run = (opts: Partial<LinkOptions>, n = 1000, payload = 256) => {
    const { sim, link, sink } = setup({ speed: "100GbE", ...opts });
    new Source(link.a, Array.from({ length: n }, (_, i) => rocePkt(i, payload)), sim);
    sim.run();
    return { link, sink, psns: sink.got.map((g) => psnOf(g.frame)) };
  };

  it("drops at a rate, reproducibly, and exactly the frames named", () => {
    const a = run({ faults: [{ kind: "drop", rate: 0.05 }] });
    const b = run({ faults: [{ kind: "drop", rate: 0.05 }] });
    expect(a.psns).toEqual(b.psns);
    const dropped = a.link.a.counters.injected.drop;
    expect(dropped).toBeGreaterThan(25);
    expect(dropped).toBeLessThan(80);
    expect(a.psns).toHaveLength(1000 - dropped);
    const named = run({ faults: [{ kind: "drop", frames: [3, 7] }] }, 10);
    expect(named.psns).toEqual([0, 1, 3, 4, 5, 7, 8, 9]);
    const other = run({ faults: [{ kind: "delay", rate: 0.5, delayPs: 5 }, { kind: "drop", rate: 0.05 }] });
    expect(other.link.a.counters.injected.drop).toBe(dropped); // a rule's hits do not depend on the rules before it
  });

  it("corrupts: every corrupted frame fails the receiver's check in both CRC modes", () => {
    const { sink, link } = run({ faults: [{ kind: "corrupt", rate: 0.1, bits: 4 }] }, 500);
    const corrupted = sink.got.filter((g) => g.frame.corrupted);
    expect(corrupted.length).toBe(link.a.counters.injected.corrupt);
    expect(corrupted.length).toBeGreaterThan(20);
    for (const g of sink.got) {
      for (const mode of ["trusted", "recompute"] as const) {
        expect(receiveFrame(g.frame, mode).verdict === "ok", `${mode} psn ${psnOf(g.frame)}`).toBe(!g.frame.corrupted);
      }
    }
  });

  it("duplicates one frame time later, reorders behind the next frame, delays past later frames", () => {
    const dup = run({ faults: [{ kind: "duplicate", frames: [2] }] }, 4);
    expect(dup.psns).toEqual([0, 1, 1, 2, 3]);
    expect(dup.sink.got[2]!.arrival.duplicate).toBe(true);
    const re = run({ faults: [{ kind: "reorder", frames: [2] }] }, 4);
    expect(re.psns).toEqual([0, 2, 1, 3]);
    const lone = run({ faults: [{ kind: "reorder", frames: [4], delayPs: 3000 }] }, 4);
    expect(lone.psns).toEqual([0, 1, 2, 3]);
    expect(lone.sink.got[3]!.at - lone.sink.got[2]!.at).toBe(lone.link.serialisationPs(rocePkt(0, 256).length) + 3000);
    const late = run({ faults: [{ kind: "delay", frames: [1], delayPs: [100_000, 100_000] }] }, 10);
    const ser = late.link.serialisationPs(rocePkt(0, 256).length);
    const overtaking = Math.floor(100_000 / ser); // frames i ≥ 1 arrive at (i + 1)·ser, frame 0 at ser + 100 ns
    expect(overtaking).toBeGreaterThan(1);
    expect(late.psns).toEqual([...Array.from({ length: overtaking }, (_, i) => i + 1), 0, ...Array.from({ length: 9 - overtaking }, (_, i) => i + 1 + overtaking)]);
    expect(late.link.a.counters.injected).toMatchObject({ delay: 1, drop: 0 });
  });

  it("names the rule and the problem in a bad table", () => {
    expect(() => run({ faults: [{ kind: "corrupt", rate: 0.1, bits: 17 }] })).toThrow("l:a→b faults[0] (corrupt): bits is for corrupt rules, 1..16, got 17");
    expect(() => run({ faults: [{ kind: "drop", rate: 2 }] })).toThrow(/rate must be in \[0, 1\], got 2/);
    expect(() => run({ faults: [{ kind: "drop" }] })).toThrow(/give a rate or frames/);
    expect(() => run({ faults: [{ kind: "delay", rate: 0.1 }] })).toThrow(/needs delayPs/);
    expect(() => run({ faults: [{ kind: "explode" as never, rate: 0.1 }] })).toThrow(/unknown fault kind "explode"/);
  });

  it("a dropped IB packet gives its credit back, so the sender does not starve", () => {
    const sim = new Simulator();
    const frames = Array.from({ length: 100 }, (_, i) => ibPkt(i, 2048));
    const link = new Link(sim, { name: "l", speed: "4X EDR", credits: { bufferBytes: 4 * 2200 }, faults: [{ kind: "drop", rate: 0.3 }] });
    const sink = new Sink(sim);
    link.b.attach(sink);
    new Source(link.a, frames, sim);
    sim.run();
    expect(link.a.counters.frames).toBe(100);
    expect(sink.got.length + link.a.counters.injected.drop).toBe(100);
  });
});
