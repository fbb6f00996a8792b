/**
 * Two engines back to back over an in-memory wire: a fixed one-way delay, an optional
 * line rate, and optional seeded faults (drop, duplicate, reorder) for loss tests. It is
 * not the link layer (hca/link frames and injects faults on real frames); it carries
 * transport packets as they are, for the transport's own tests and benches.
 */
import type { Prng, Simulator } from "../../core/index.ts";
import type { TransportEngine } from "./engine.ts";
import { Fifo, NumberFifo } from "./fifo.ts";
import type { TransportPacket } from "./packet.ts";

export interface WireOptions {
  /** one-way delay [ps] */
  readonly delayPs: number;
  /** line rate [bytes/s]; packets serialise back to back; default: no limit */
  readonly bytesPerSecond?: number;
  /** the faults' random stream (needed when any fault probability is above 0) */
  readonly prng?: Prng;
  /** probability a packet is lost */
  readonly drop?: number;
  /** probability a packet arrives twice */
  readonly duplicate?: number;
  /** probability a packet is held back by `reorderDelayPs`, letting later ones pass it */
  readonly reorder?: number;
  /** extra delay of a reordered packet [ps]; default 4 × delayPs */
  readonly reorderDelayPs?: number;
}

export interface WireStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  reordered: number;
}

/** one direction: in-order deliveries wait in a FIFO served by one pending event */
class Direction {
  /** in-order deliveries: packets and their arrival times [ps] */
  private readonly pkts = new Fifo<TransportPacket>();
  private readonly times = new NumberFifo();
  private eventAt = Infinity;
  private lineFreePs = 0;
  private readonly onEvent = (): void => this.deliverDue();

  constructor(
    private readonly wire: BackToBackWire,
    private readonly sim: Simulator,
    private readonly from: TransportEngine,
    private readonly to: TransportEngine,
  ) {}

  send(pkt: TransportPacket): void {
    const w = this.wire;
    const o = w.options;
    w.stats.sent++;
    w.tap?.(this.from, pkt);
    const now = this.sim.now;
    const start = now > this.lineFreePs ? now : this.lineFreePs;
    const ser = o.bytesPerSecond === undefined ? 0 : Math.ceil((pkt.length * 1e12) / o.bytesPerSecond);
    this.lineFreePs = start + ser;
    const at = start + ser + o.delayPs;
    if (o.prng !== undefined) this.sendWithFaults(pkt, at, o.prng);
    else this.enqueue(pkt, at);
  }

  /** the fault draws for a packet due `at`, in a fixed order (drop, duplicate, reorder) */
  private sendWithFaults(pkt: TransportPacket, at: number, p: Prng): void {
    const w = this.wire;
    const o = w.options;
    if (o.drop !== undefined && p.bool(o.drop)) {
      w.stats.dropped++;
      pkt.release();
      return;
    }
    if (o.duplicate !== undefined && p.bool(o.duplicate)) {
      w.stats.duplicated++;
      const copy = this.from.pool.get();
      copy.copyFrom(pkt);
      this.enqueue(copy, at);
    }
    if (o.reorder !== undefined && p.bool(o.reorder)) {
      w.stats.reordered++;
      this.sim.post(at + (o.reorderDelayPs ?? 4 * o.delayPs), () => this.deliver(pkt));
      return;
    }
    this.enqueue(pkt, at);
  }

  private enqueue(pkt: TransportPacket, at: number): void {
    this.pkts.push(pkt);
    this.times.push(at);
    if (at < this.eventAt) {
      this.eventAt = at;
      this.sim.post(at, this.onEvent);
    }
  }

  private deliverDue(): void {
    const now = this.sim.now;
    if (now === this.eventAt) this.eventAt = Infinity;
    const p = this.pkts;
    const t = this.times;
    while (p.length > 0 && t.peek() <= now) {
      t.shift();
      this.deliver(p.shift()!);
    }
    if (p.length > 0) {
      const next = t.peek();
      if (next < this.eventAt) {
        this.eventAt = next;
        this.sim.post(next, this.onEvent);
      }
    }
  }

  private deliver(pkt: TransportPacket): void {
    this.wire.stats.delivered++;
    this.to.receive(pkt);
  }
}

export class BackToBackWire {
  readonly stats: WireStats = { sent: 0, delivered: 0, dropped: 0, duplicated: 0, reordered: 0 };
  /** sees every packet put on the wire, before faults */
  tap: ((from: TransportEngine, pkt: TransportPacket) => void) | null = null;

  constructor(
    sim: Simulator,
    a: TransportEngine,
    b: TransportEngine,
    readonly options: WireOptions,
  ) {
    for (const k of ["drop", "duplicate", "reorder"] as const) {
      const v = options[k];
      if (v !== undefined && !(v >= 0 && v <= 1)) throw new RangeError(`wire: ${k} must be a probability in [0, 1], got ${v}`);
      if (v !== undefined && v > 0 && options.prng === undefined) throw new RangeError(`wire: ${k} needs a prng`);
    }
    if (!(Number.isSafeInteger(options.delayPs) && options.delayPs >= 0)) throw new RangeError(`wire: delayPs must be a whole number ≥ 0, got ${options.delayPs}`);
    const ab = new Direction(this, sim, a, b);
    const ba = new Direction(this, sim, b, a);
    a.connect((p) => ab.send(p));
    b.connect((p) => ba.send(p));
  }
}
