import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/kernel.ts";
import { Bth } from "../headers/index.ts";
import type { Frame } from "./frame.ts";
import { IbFramer } from "./ib-framing.ts";
import { type Arrival, Link, type LinkEndpoint, type LinkPort } from "./link.ts";
import { RoceFramer } from "./roce-framing.ts";
import { samplePacket } from "./sample-packets.ts";
import { Switch, type SwitchOptions } from "./switch.ts";

const MAC = (i: number) => `02:00:00:00:00:0${i}`;
const roceTo = (i: number) => new RoceFramer({ srcMac: MAC(9), dstMac: MAC(i), srcGid: "10.0.0.9", dstGid: `10.0.0.${i}`, localQpn: 1 });
const ibTo = (lid: number) => new IbFramer({ slid: 9, dlid: lid, sl: 0 });
const write = (psn: number, payloadBytes = 1024) => samplePacket({ opcode: "RC_RDMA_WRITE_MIDDLE", payloadBytes, psn });

/** a host: sends its frames as fast as its port allows, records what it receives */
class Host implements LinkEndpoint {
  got: { frame: Frame; at: number; arrival: Arrival }[] = [];
  sentAt: number[] = [];
  private i = 0;
  constructor(
    readonly sim: Simulator,
    readonly port: LinkPort,
    readonly frames: Frame[] = [],
    readonly startPs = 0,
  ) {
    port.attach(this);
    if (frames.length > 0) sim.schedule(startPs, () => this.ready());
  }
  receive(frame: Frame, arrival: Arrival): void {
    this.got.push({ frame, at: this.sim.now, arrival });
  }
  ready(): void {
    while (this.i < this.frames.length) {
      const f = this.frames[this.i]!;
      if (!this.port.canSend(f)) return this.port.whenReady(f);
      this.port.send(f);
      this.sentAt.push(this.sim.now);
      this.i++;
    }
  }
}

/** hosts 0..n-1, each on a link to switch port i */
function star(n: number, speed: string, sw: Partial<SwitchOptions>, frames: (i: number) => Frame[], linkOpts: { propagationPs?: number; credits?: { bufferBytes: number } } = {}) {
  const sim = new Simulator();
  const s = new Switch(sim, { name: "sw", ports: n, ...sw });
  const links: Link[] = [];
  const hosts: Host[] = [];
  for (let i = 0; i < n; i++) {
    const l = new Link(sim, { name: `l${i}`, speed, ...linkOpts });
    links.push(l);
    s.connect(i, l.b);
    hosts.push(new Host(sim, l.a, frames(i)));
  }
  return { sim, s, links, hosts };
}

describe("Switch: Ethernet", () => {
  it("store-and-forward: in, latency, out; cut-through: first bit, latency, out", () => {
    for (const mode of ["store-and-forward", "cut-through"] as const) {
      const f = roceTo(1).frame(write(0, 4096));
      const { sim, s, links, hosts } = star(2, "100GbE", { mode, latencyPs: 300_000 }, (i) => (i === 0 ? [f] : []), { propagationPs: 2_000 });
      s.route(MAC(1), 1);
      sim.run();
      const ser = links[0]!.serialisationPs(f.length);
      const got = hosts[1]!.got[0]!;
      const expected = mode === "store-and-forward" ? 2_000 + ser + 300_000 + ser + 2_000 : 2_000 + 300_000 + ser + 2_000;
      expect(got.at, mode).toBe(expected);
      expect(got.frame).toBe(f);
      expect(s.forwarded).toBe(1);
    }
  });

  it("cut-through to a faster port waits so the output cannot outrun the input", () => {
    const sim = new Simulator();
    const s = new Switch(sim, { name: "sw", ports: 2, mode: "cut-through", latencyPs: 0 }).route(MAC(1), 1);
    const slow = new Link(sim, { name: "slow", speed: "10GbE" });
    const fast = new Link(sim, { name: "fast", speed: "100GbE" });
    s.connect(0, slow.b).connect(1, fast.b);
    const f = roceTo(1).frame(write(0, 2048));
    new Host(sim, slow.a, [f]);
    const rx = new Host(sim, fast.a);
    sim.run();
    expect(rx.got[0]!.at).toBe(slow.serialisationPs(f.length)); // finishes with the input's last bit
  });

  it("drops on a full output queue when two ports send to one at line rate, and counts it", () => {
    const n = 200;
    const { sim, s, hosts } = star(3, "25GbE", { queueDepth: 8 }, (i) => (i < 2 ? Array.from({ length: n }, (_, k) => roceTo(2).frame(write(k))) : []));
    s.route(MAC(2), 2);
    sim.run();
    const c = s.counters();
    expect(c.drops.queueFull).toBeGreaterThan(n / 2);
    expect(hosts[2]!.got.length + c.drops.queueFull).toBe(2 * n);
    expect(c.ports[2]!.maxQueue).toBe(8);
    expect(c.ports[2]!.sent).toBe(hosts[2]!.got.length);
  });

  it("drops unknown unicast, floods broadcast to every other port, never sends back out the input", () => {
    const bcast = new RoceFramer({ srcMac: MAC(9), dstMac: "ff:ff:ff:ff:ff:ff", srcGid: "10.0.0.9", dstGid: "10.0.0.255", localQpn: 1 });
    const { sim, s, hosts } = star(4, "10GbE", {}, (i) => (i === 0 ? [roceTo(7).frame(write(0)), bcast.frame(write(1)), roceTo(0).frame(write(2))] : []));
    s.route(MAC(0), 0);
    sim.run();
    expect(s.drops).toMatchObject({ unknownDestination: 1, sameport: 1 });
    expect(hosts.map((h) => h.got.length)).toEqual([0, 1, 1, 1]);
  });

  it("store-and-forward drops a corrupted frame (bad FCS); cut-through passes it on", () => {
    for (const [mode, crcMode, delivered] of [["store-and-forward", "trusted", 0], ["store-and-forward", "recompute", 0], ["cut-through", "trusted", 1]] as const) {
      const { sim, s, hosts } = star(2, "10GbE", { mode, crcMode }, (i) => (i === 0 ? [roceTo(1).frame(write(0)).withFlips([900])] : []));
      s.route(MAC(1), 1);
      sim.run();
      expect(hosts[1]!.got.length, `${mode} ${crcMode}`).toBe(delivered);
      expect(s.drops.crcBad).toBe(1 - delivered);
    }
  });
});

describe("Switch: InfiniBand", () => {
  it("is lossless: an oversubscribed output back-pressures the senders through credits, nothing is dropped", () => {
    const n = 100;
    const from = (i: number) => new IbFramer({ slid: 10 + i, dlid: 3, sl: 0 });
    const { sim, s, hosts, links } = star(3, "4X EDR", { queueDepth: 2 }, (i) => (i < 2 ? Array.from({ length: n }, (_, k) => from(i).frame(write(k, 2048))) : []), { credits: { bufferBytes: 4 * 2200 } });
    s.route(3, 2);
    sim.run();
    expect(hosts[2]!.got).toHaveLength(2 * n);
    expect(s.drops).toEqual({ queueFull: 0, unknownDestination: 0, crcBad: 0, sameport: 0 });
    expect(links[0]!.a.counters.creditWaits + links[1]!.a.counters.creditWaits).toBeGreaterThan(0);
    for (const slid of [10, 11]) {
      const psns = hosts[2]!.got.filter((g) => g.frame.head[7] === slid).map((g) => Bth.get(g.frame.packet, 0, "psn"));
      expect(psns, `from LID ${slid}`).toEqual(Array.from({ length: n }, (_, k) => k));
    }
    // the output ran at line rate once it had work
    const ser = links[2]!.serialisationPs(hosts[2]!.got[0]!.frame.length);
    const span = hosts[2]!.got[2 * n - 1]!.at - hosts[2]!.got[0]!.at;
    expect(span).toBeLessThan((2 * n - 1) * ser * 1.01);
  });

  it("forwards a multicast LID to every listed port", () => {
    const { sim, s, hosts } = star(4, "4X HDR", {}, (i) => (i === 0 ? [ibTo(0xc001).frame(samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 64 }))] : []));
    s.route(0xc001, [1, 3]);
    sim.run();
    expect(hosts.map((h) => h.got.length)).toEqual([0, 1, 0, 1]);
    expect(() => s.route(0x10000, 1)).toThrow(/not 16 bits/);
    expect(() => s.route(1, 9)).toThrow(/no port 9/);
  });

  it("refuses to join links of different kinds", () => {
    const sim = new Simulator();
    const s = new Switch(sim, { name: "sw", ports: 2 });
    s.connect(0, new Link(sim, { name: "e", speed: "100GbE" }).b);
    expect(() => s.connect(1, new Link(sim, { name: "i", speed: "4X EDR" }).b)).toThrow(/port 1 is on a ib link, the others on rocev2/);
  });
});
