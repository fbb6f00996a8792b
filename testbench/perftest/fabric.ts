/**
 * The links between the two adapters: back to back (one link), or through a switch (a
 * link from each adapter to a switch port). Every link gets the same speed, propagation
 * delay and fault table (each direction its own seeded streams), and can be captured.
 *
 *   back to back:  A ══ a-b ══ B
 *   switch:        A ══ a-sw ══ [switch] ══ sw-b ══ B
 */
import type { Simulator } from "../../core/index.ts";
import { type FaultRule, Link, LinkCapture, type LinkPort, type Mac, Switch, type SwitchMode } from "../../hca/link/index.ts";

export type Topology = "back-to-back" | "switch";
export const TOPOLOGIES: readonly Topology[] = ["back-to-back", "switch"];
export const SWITCH_MODES: readonly SwitchMode[] = ["store-and-forward", "cut-through"];

export interface FabricOptions {
  /** "100GbE", "4X EDR", … */
  readonly speed: string;
  readonly topology: Topology;
  /** one-way propagation of each link [ps] */
  readonly propagationPs: number;
  readonly faults: readonly FaultRule[];
  /** root of the fault streams */
  readonly seed: number;
  readonly switch?: { readonly mode: SwitchMode; readonly latencyPs: number; readonly queueDepth: number };
  /** where each adapter is, for the switch's table: MAC (Ethernet) or LID (IB) */
  readonly a: { readonly mac: Mac; readonly lid: number };
  readonly b: { readonly mac: Mac; readonly lid: number };
}

export class Fabric {
  readonly links: readonly Link[];
  readonly switch: Switch | undefined;
  /** the link end adapter A attaches to */
  readonly portA: LinkPort;
  /** the link end adapter B attaches to */
  readonly portB: LinkPort;
  private readonly captures = new Map<string, LinkCapture>();

  constructor(
    readonly sim: Simulator,
    readonly o: FabricOptions,
  ) {
    const link = (name: string) => new Link(sim, { name, speed: o.speed, propagationPs: o.propagationPs, faults: o.faults, seed: `${o.seed}/${name}` });
    if (o.topology === "back-to-back") {
      const l = link("a-b");
      this.links = [l];
      this.portA = l.a;
      this.portB = l.b;
      this.switch = undefined;
    } else {
      const la = link("a-sw");
      const lb = link("sw-b");
      const s = o.switch ?? { mode: "store-and-forward", latencyPs: 200_000, queueDepth: 64 };
      const sw = new Switch(sim, { name: "sw", ports: 2, mode: s.mode, latencyPs: s.latencyPs, queueDepth: s.queueDepth });
      sw.connect(0, la.b).connect(1, lb.a);
      const ib = la.format === "ib";
      sw.route(ib ? o.a.lid : o.a.mac, 0).route(ib ? o.b.lid : o.b.mac, 1);
      this.links = [la, lb];
      this.portA = la.a;
      this.portB = lb.b;
      this.switch = sw;
    }
  }

  /**
   * Captures every link as its ends sent it (so a capture holds the frames with the CRCs
   * their senders computed, before any injected fault): one LinkCapture per link, both
   * directions, records handed to `stream(link, record)` as they come.
   */
  capture(open: (link: Link, header: Uint8Array) => (record: Uint8Array) => void): void {
    for (const l of this.links) {
      let write: ((record: Uint8Array) => void) | undefined;
      const cap = new LinkCapture(l.format, { stream: (r) => write!(r) });
      write = open(l, cap.header());
      l.tap(cap.tap, { at: "sender" });
      this.captures.set(l.name, cap);
    }
  }

  /** frames captured per link name */
  capturedFrames(): Record<string, number> {
    return Object.fromEntries([...this.captures].map(([n, c]) => [n, c.packetCount]));
  }
}
