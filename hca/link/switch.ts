/**
 * A simple switch: N ports, each the endpoint of one link; forwarding by destination MAC
 * (Ethernet, RoCEv2 frames) or DLID (InfiniBand) from a static table.
 *
 * - Latency: store-and-forward takes the frame once its last bit is in, checks its
 *   FCS/VCRC (bad frames are dropped and counted), and may start it on the way out
 *   `latencyPs` later. Cut-through starts it `latencyPs` after the first bit, but never so
 *   early that the output would finish before the input (a faster output waits); it
 *   cannot check the CRC first, so a corrupted frame goes through.
 * - Output queues hold up to `queueDepth` frames per port. Ethernet drops a frame that
 *   finds its queue full (counted). InfiniBand is lossless: the frame waits, keeping the
 *   buffer it took at its input port, so the sender runs out of credit (back-pressure).
 * - Table misses: an unknown unicast MAC or LID is dropped (counted; no learning); an
 *   Ethernet broadcast or multicast MAC without an entry is flooded to every other port.
 * - The switch does not change frames: no VLAN or SL-to-VL mapping, so no CRC to redo.
 */
import type { Simulator } from "../../core/kernel.ts";
import type { Picoseconds } from "../../core/time.ts";
import { type Mac, parseMac } from "./addresses.ts";
import type { CrcMode, Frame, FrameFormat } from "./frame.ts";
import type { Arrival, LinkEndpoint, LinkPort } from "./link.ts";

export type SwitchMode = "store-and-forward" | "cut-through";

export interface SwitchOptions {
  name: string;
  /** number of ports */
  ports: number;
  /** default "store-and-forward" */
  mode?: SwitchMode;
  /** from the frame being in (store-and-forward) or its first bit (cut-through) to the earliest output start [ps]; default 200 ns */
  latencyPs?: number;
  /** frames an output queue holds; default 64 */
  queueDepth?: number;
  /** how a store-and-forward switch checks the link CRC; default "trusted" */
  crcMode?: CrcMode;
}

export interface SwitchDrops {
  /** Ethernet: the output queue was full */
  queueFull: number;
  /** no table entry for a unicast destination */
  unknownDestination: number;
  /** store-and-forward: bad FCS or VCRC */
  crcBad: number;
  /** the destination is the port the frame came in on */
  sameport: number;
}

export interface SwitchPortCounters {
  received: number;
  sent: number;
  /** the longest the output queue got [frames] */
  maxQueue: number;
}

interface Queued {
  frame: Frame;
  notBeforePs: Picoseconds;
  copy: Copies;
}

/** one received frame and the output copies still to send (its input buffer is freed after the last) */
interface Copies {
  frame: Frame;
  input: SwitchPort;
  left: number;
}

export class SwitchPort implements LinkEndpoint {
  link: LinkPort | undefined;
  readonly counters: SwitchPortCounters = { received: 0, sent: 0, maxQueue: 0 };
  readonly queue: Queued[] = [];
  /** IB: frames waiting for room in this output queue */
  readonly waiting: Queued[] = [];
  private wakeAtPs = -1;

  constructor(
    readonly sw: Switch,
    readonly index: number,
  ) {}

  receive(frame: Frame, arrival: Arrival): void {
    this.counters.received++;
    this.sw.forward(this, frame, arrival);
  }

  ready(): void {
    this.pump();
  }

  /** sends what the queue and the link allow now, and arranges to come back */
  pump(): void {
    const link = this.link!;
    const sim = this.sw.sim;
    while (this.queue.length > 0) {
      const q = this.queue[0]!;
      if (q.notBeforePs > sim.now) {
        if (this.wakeAtPs !== q.notBeforePs) {
          this.wakeAtPs = q.notBeforePs;
          sim.schedule(q.notBeforePs, () => {
            this.wakeAtPs = -1;
            this.pump();
          });
        }
        return;
      }
      if (!link.canSend(q.frame)) {
        link.whenReady(q.frame);
        return;
      }
      this.queue.shift();
      link.send(q.frame);
      this.counters.sent++;
      this.sw.sentCopy(q.copy);
      const w = this.waiting.shift();
      if (w !== undefined) this.enqueue(w, false);
    }
  }

  /** @internal */
  enqueue(q: Queued, kick = true): void {
    this.queue.push(q);
    if (this.queue.length > this.counters.maxQueue) this.counters.maxQueue = this.queue.length;
    if (kick && this.queue.length === 1) this.pump();
  }
}

export class Switch {
  readonly name: string;
  readonly mode: SwitchMode;
  readonly latencyPs: Picoseconds;
  readonly queueDepth: number;
  readonly crcMode: CrcMode;
  readonly ports: readonly SwitchPort[];
  readonly drops: SwitchDrops = { queueFull: 0, unknownDestination: 0, crcBad: 0, sameport: 0 };
  /** frames forwarded (a flooded frame counts once) */
  forwarded = 0;
  private format: FrameFormat | undefined;
  private readonly macTable = new Map<number, readonly number[]>();
  private readonly lidTable = new Map<number, readonly number[]>();

  constructor(
    readonly sim: Simulator,
    opts: SwitchOptions,
  ) {
    this.name = opts.name;
    this.mode = opts.mode ?? "store-and-forward";
    this.latencyPs = opts.latencyPs ?? 200_000;
    this.queueDepth = opts.queueDepth ?? 64;
    this.crcMode = opts.crcMode ?? "trusted";
    if (!(Number.isInteger(opts.ports) && opts.ports >= 2)) throw new RangeError(`switch ${this.name}: needs at least 2 ports, got ${opts.ports}`);
    if (!(Number.isInteger(this.queueDepth) && this.queueDepth >= 1)) throw new RangeError(`switch ${this.name}: queueDepth must be ≥ 1, got ${this.queueDepth}`);
    if (!(Number.isSafeInteger(this.latencyPs) && this.latencyPs >= 0)) throw new RangeError(`switch ${this.name}: latencyPs must be whole picoseconds ≥ 0`);
    this.ports = Array.from({ length: opts.ports }, (_, i) => new SwitchPort(this, i));
  }

  /** attaches switch port `index` to one end of a link */
  connect(index: number, linkPort: LinkPort): this {
    const p = this.port(index);
    if (p.link !== undefined) throw new Error(`switch ${this.name}: port ${index} is already connected`);
    const f = linkPort.link.format;
    if (this.format !== undefined && f !== this.format) throw new TypeError(`switch ${this.name}: port ${index} is on a ${f} link, the others on ${this.format}`);
    this.format = f;
    p.link = linkPort;
    linkPort.attach(p, { cutThrough: this.mode === "cut-through", holdCredits: f === "ib" });
    return this;
  }

  port(index: number): SwitchPort {
    const p = this.ports[index];
    if (p === undefined) throw new RangeError(`switch ${this.name}: no port ${index} (it has ${this.ports.length})`);
    return p;
  }

  /** frames to this MAC (Ethernet) or LID (IB) leave by these ports */
  route(dest: Mac | string | number, ports: number | readonly number[]): this {
    const list = typeof ports === "number" ? [ports] : [...ports];
    for (const i of list) this.port(i);
    if (typeof dest === "number") {
      if (!(Number.isInteger(dest) && dest >= 0 && dest <= 0xffff)) throw new RangeError(`switch ${this.name}: LID ${dest} is not 16 bits`);
      this.lidTable.set(dest, list);
    } else {
      this.macTable.set(macKey(typeof dest === "string" ? parseMac(dest) : dest), list);
    }
    return this;
  }

  /** @internal a frame came in on `input` */
  forward(input: SwitchPort, frame: Frame, arrival: Arrival): void {
    const ib = frame.format === "ib";
    const store = this.mode === "store-and-forward";
    const drop = (why: keyof SwitchDrops) => {
      this.drops[why]++;
      if (ib && !arrival.duplicate) input.link!.release(frame);
    };
    if (store && !frame.linkCrcOk(this.crcMode)) return drop("crcBad");
    const h = frame.head;
    let outs: readonly number[] | undefined;
    if (ib) {
      outs = this.lidTable.get((h[2]! << 8) | h[3]!);
    } else {
      outs = this.macTable.get(macKey(h));
      if (outs === undefined && (h[0]! & 1) === 1) outs = this.ports.map((p) => p.index); // flood
    }
    if (outs === undefined) return drop("unknownDestination");
    outs = outs.filter((i) => i !== input.index);
    if (outs.length === 0) return drop("sameport");
    const now = this.sim.now;
    const copy: Copies = { frame, input, left: outs.length };
    if (arrival.duplicate) copy.left = Infinity; // a duplicate holds no input buffer
    this.forwarded++;
    for (const i of outs) {
      const out = this.ports[i]!;
      const dur = out.link!.link.serialisationPs(frame.length);
      const notBeforePs = store ? now + this.latencyPs : Math.max(arrival.firstBitPs + this.latencyPs, arrival.lastBitPs - dur);
      const q: Queued = { frame, notBeforePs, copy };
      if (out.queue.length < this.queueDepth) out.enqueue(q);
      else if (ib) out.waiting.push(q);
      else {
        this.drops.queueFull++;
        this.sentCopy(copy);
      }
    }
  }

  /** @internal one output copy left (or was dropped): the last frees the input buffer (IB) */
  sentCopy(c: Copies): void {
    if (--c.left === 0 && c.frame.format === "ib") c.input.link!.release(c.frame);
  }

  /** per-port counters and the drops, for reports */
  counters(): { forwarded: number; drops: SwitchDrops; ports: SwitchPortCounters[] } {
    return { forwarded: this.forwarded, drops: { ...this.drops }, ports: this.ports.map((p) => ({ ...p.counters })) };
  }
}

/** the 48-bit MAC as a number (exact in a double) */
function macKey(b: Uint8Array): number {
  return (b[0]! * 0x100 + b[1]!) * 0x1_0000_0000 + (((b[2]! << 24) | (b[3]! << 16) | (b[4]! << 8) | b[5]!) >>> 0);
}
