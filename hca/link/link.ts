/**
 * A full-duplex link on the event kernel: two ports (`a`, `b`), one wire each way.
 *
 *   port a ──send──▶ [ serialiser: wire bytes × 8 / data rate ] ── propagation ──▶ port b
 *          ◀──────────────────────────── the same, b → a ──────────────────────────
 *
 * - Serialisation: a frame occupies its direction for its wire bytes (frame + per-frame
 *   overhead: Ethernet preamble/SFD/IFG, IB delimiters; see speeds.ts) at the data rate.
 *   A port sends one frame at a time: `canSend()` says whether it may now, `readyAtPs` when
 *   its serialiser frees, and `whenReady()` asks for the endpoint's `ready()` callback once
 *   it can (back-pressure without polling).
 * - IB links add per-VL credit flow control (credits.ts): a frame needs credit for its VL,
 *   and the credit comes back after the receiver frees the buffer.
 * - The receiving endpoint's `receive` runs when the frame's last bit arrives, or its
 *   first bit for a cut-through endpoint (a switch port).
 * - Fault rules (faults.ts) apply per direction; capture taps (capture.ts) see what is
 *   sent or what arrives; counters keep frames, bytes, busy time and injected faults.
 * A frame costs one kernel event to deliver (IB: one more to return its credit); an idle
 * link costs nothing.
 */
import type { Simulator } from "../../core/kernel.ts";
import type { Picoseconds } from "../../core/time.ts";
import { CreditAccount, type CreditOptions } from "./credits.ts";
import { FaultInjector, type FaultCounts, type FaultRule, noFaults } from "./faults.ts";
import type { Frame } from "./frame.ts";
import { type LinkSpeed, linkDataRate, linkSpeed, linkSpeedName, linkWireBytes } from "./speeds.ts";

/** When a delivered frame's bits reached the receiver. */
export interface Arrival {
  /** first bit [ps] */
  readonly firstBitPs: Picoseconds;
  /** last bit [ps] */
  readonly lastBitPs: Picoseconds;
  /** a duplicate made by fault injection (it holds no link credit) */
  readonly duplicate: boolean;
}

/** What attaches to a port. */
export interface LinkEndpoint {
  /** a frame arrived */
  receive(frame: Frame, arrival: Arrival, port: LinkPort): void;
  /** the port can send again, after `whenReady()` */
  ready?(port: LinkPort): void;
}

export interface AttachOptions {
  /** deliver at the first bit instead of the last (a cut-through switch); default false */
  cutThrough?: boolean;
  /** IB: the endpoint frees a frame's buffer itself with `release(frame)` (a switch, until it sends the frame on); default false: freed on delivery */
  holdCredits?: boolean;
}

/** Per-direction counters. */
export interface WireCounters {
  /** frames put on the wire */
  frames: number;
  /** their bytes between delimiters [bytes] */
  bytes: number;
  /** link time they took, overhead included [bytes] */
  wireBytes: number;
  /** time the serialiser was busy [ps] */
  busyPs: number;
  /** frames delivered to the receiving endpoint (duplicates included) */
  delivered: number;
  /** faults injected */
  injected: FaultCounts;
  /** times a port waited for IB credit */
  creditWaits: number;
}

/** A tap on one direction: called with the time and the frame. */
export type CaptureTap = (timestampPs: Picoseconds, frame: Frame, direction: string) => void;

export interface LinkOptions {
  name: string;
  /** "100GbE", "25GbE", "4X EDR", … or a LinkSpeed */
  speed: LinkSpeed | string;
  /** one-way propagation delay [ps]; default 0 (about 5 ns per metre of cable) */
  propagationPs?: number;
  /** fault rules for each direction (each gets its own streams) */
  faults?: readonly FaultRule[];
  /** fault rules for a → b only (instead of `faults`) */
  faultsAToB?: readonly FaultRule[];
  /** fault rules for b → a only (instead of `faults`) */
  faultsBToA?: readonly FaultRule[];
  /** root seed of the fault streams; default the link's name */
  seed?: number | string;
  /** IB links: credit flow control (default on, with defaults); false turns it off */
  credits?: CreditOptions | false;
}

/** one direction of the link */
class Wire {
  freeAtPs = 0;
  readonly counters: WireCounters = { frames: 0, bytes: 0, wireBytes: 0, busyPs: 0, delivered: 0, injected: noFaults(), creditWaits: 0 };
  readonly faults: FaultInjector | undefined;
  readonly credits: CreditAccount | undefined;
  readonly txTaps: CaptureTap[] = [];
  readonly rxTaps: CaptureTap[] = [];
  /** a reordered frame waiting for the next one */
  held: { frame: Frame; arrival: Arrival; credited: boolean; timeout: ReturnType<Simulator["schedule"]> } | null = null;

  constructor(
    readonly name: string,
    rules: readonly FaultRule[] | undefined,
    seed: number | string,
    credits: CreditOptions | undefined,
  ) {
    this.faults = rules !== undefined && rules.length > 0 ? new FaultInjector(rules, seed, name) : undefined;
    if (this.faults !== undefined) this.counters.injected = this.faults.injected;
    this.credits = credits !== undefined ? new CreditAccount(credits, `link ${name}`) : undefined;
  }
}

export class LinkPort {
  private endpoint: LinkEndpoint | undefined;
  private cutThrough = false;
  private holdCredits = false;
  private waiting = false;
  private waitFrame: Frame | undefined;
  /** time of the pending readiness check [ps]; -1: none */
  private wakeAtPs = -1;
  private peer!: LinkPort;

  /** @internal made by Link */
  constructor(
    readonly link: Link,
    readonly name: string,
    /** @internal the direction this port sends on */
    readonly tx: Wire,
  ) {}

  /** @internal */
  pair(peer: LinkPort): void {
    this.peer = peer;
  }

  /** the port at the other end */
  get remote(): LinkPort {
    return this.peer;
  }

  /** counters of what this port sent */
  get counters(): WireCounters {
    return this.tx.counters;
  }

  /** sets the endpoint that receives this port's frames and hears when it can send */
  attach(endpoint: LinkEndpoint, opts: AttachOptions = {}): this {
    this.endpoint = endpoint;
    this.cutThrough = opts.cutThrough ?? false;
    this.holdCredits = opts.holdCredits ?? false;
    return this;
  }

  /** the time the serialiser is free for the next frame [ps] (now or later) */
  get readyAtPs(): Picoseconds {
    return Math.max(this.tx.freeAtPs, this.link.sim.now);
  }

  /** blocks of IB credit the VL has left now (Infinity without flow control) */
  credits(vl: number): number {
    const c = this.tx.credits;
    if (c === undefined) return Infinity;
    c.settle(this.link.sim.now);
    return c.available(vl);
  }

  /** true if `frame` (or any frame, if none is given, credit aside) may be sent now */
  canSend(frame?: Frame): boolean {
    const now = this.link.sim.now;
    if (this.tx.freeAtPs > now) return false;
    const c = this.tx.credits;
    if (frame === undefined || c === undefined) return true;
    c.settle(now);
    return c.canSend(frame.vl, frame.length);
  }

  /**
   * Puts `frame` on the wire now. Throws if the port cannot send it (check canSend, or
   * wait for ready). Returns when its last bit leaves [ps].
   */
  send(frame: Frame): Picoseconds {
    const link = this.link;
    const now = link.sim.now;
    const w = this.tx;
    if (frame.format !== link.format) {
      throw new TypeError(`link ${link.name}: a ${frame.format} frame cannot go on a ${linkSpeedName(link.speed)} link`);
    }
    if (w.freeAtPs > now) throw new Error(`port ${this.name}: busy until ${w.freeAtPs} ps (now ${now} ps); wait for canSend() or ready()`);
    if (w.credits !== undefined) {
      w.credits.settle(now);
      if (w.credits.neverFits(frame.vl, frame.length)) {
        throw new RangeError(`port ${this.name}: a ${frame.length}-byte packet on VL ${frame.vl} exceeds the receiver's whole buffer (${w.credits.limit[frame.vl]} blocks)`);
      }
      if (!w.credits.canSend(frame.vl, frame.length)) throw new Error(`port ${this.name}: no credit on VL ${frame.vl} for a ${frame.length}-byte packet; wait for ready()`);
      w.credits.take(frame.vl, frame.length);
    }
    const wireBytes = linkWireBytes(link.speed, frame.length);
    const dur = link.serialisationPs(frame.length);
    const end = now + dur;
    w.freeAtPs = end;
    const c = w.counters;
    c.frames++;
    c.bytes += frame.length;
    c.wireBytes += wireBytes;
    c.busyPs += dur;
    for (const tap of w.txTaps) tap(now, frame, w.name);

    const credited = w.credits !== undefined;
    const prop = link.propagationPs;
    const o = w.faults?.apply(frame);
    if (o !== undefined && o.dropped) {
      if (credited) this.peer.returnCredit(frame, end + prop);
      return end;
    }
    const f = o?.frame ?? frame;
    const extra = o?.extraDelayPs ?? 0;
    const arrival: Arrival = { firstBitPs: now + prop + extra, lastBitPs: end + prop + extra, duplicate: false };
    const rx = this.peer;
    if (o !== undefined && o.reordered && w.held === null) {
      const timeout = link.sim.schedule(arrival.lastBitPs + o.reorderHoldPs, () => rx.releaseHeld());
      w.held = { frame: f, arrival, credited, timeout };
    } else {
      link.sim.schedule(rx.cutThrough ? arrival.firstBitPs : arrival.lastBitPs, () => rx.deliver(f, arrival, credited));
    }
    if (o !== undefined && o.duplicated) {
      const dup: Arrival = { firstBitPs: arrival.firstBitPs + dur, lastBitPs: arrival.lastBitPs + dur, duplicate: true };
      link.sim.schedule(rx.cutThrough ? dup.firstBitPs : dup.lastBitPs, () => rx.deliver(f, dup, false));
    }
    return end;
  }

  /**
   * Asks for one `ready()` call on the endpoint as soon as the port can send (`frame`,
   * if given, with its credit): at once (as an event) if it already can.
   */
  whenReady(frame?: Frame): void {
    if (!this.waiting && frame !== undefined && this.credits(frame.vl) < Infinity && !this.tx.credits!.canSend(frame.vl, frame.length)) {
      this.tx.counters.creditWaits++;
    }
    this.waiting = true;
    this.waitFrame = frame;
    this.checkReady();
  }

  private checkReady(): void {
    if (!this.waiting) return;
    const w = this.tx;
    const sim = this.link.sim;
    let at = Math.max(w.freeAtPs, sim.now);
    const c = w.credits;
    if (this.waitFrame !== undefined && c !== undefined) {
      c.settle(sim.now);
      if (!c.canSend(this.waitFrame.vl, this.waitFrame.length)) {
        // look again when the next credit arrives; with none on its way, a later return calls back
        const next = c.nextReturnPs;
        if (next === undefined) return;
        at = Math.max(at, next);
      }
    }
    if (this.wakeAtPs !== -1 && this.wakeAtPs <= at) return; // an earlier look is already due
    this.wakeAtPs = at;
    sim.schedule(at, () => {
      if (this.wakeAtPs !== at) return; // superseded by an earlier look
      this.wakeAtPs = -1;
      if (!this.waiting) return;
      if (!this.canSend(this.waitFrame)) return this.checkReady();
      this.waiting = false;
      this.waitFrame = undefined;
      this.endpoint?.ready?.(this);
    });
  }


  /**
   * IB, for endpoints attached with holdCredits: the buffer `frame` took at this port is
   * free again; its credit reaches the sender after the return delay.
   */
  release(frame: Frame): void {
    if (this.peer.tx.credits !== undefined) this.returnCredit(frame, this.link.sim.now);
  }

  /** @internal credit for `frame` received here goes back to the peer's account */
  returnCredit(frame: Frame, freedAtPs: Picoseconds): void {
    const sender = this.peer;
    sender.tx.credits!.giveAt(frame.vl, frame.length, freedAtPs + this.link.creditReturnPs);
    if (sender.waiting) sender.checkReady();
  }

  /** @internal */
  deliver(frame: Frame, arrival: Arrival, credited: boolean): void {
    const w = this.peer.tx;
    w.counters.delivered++;
    for (const tap of w.rxTaps) tap(arrival.firstBitPs, frame, w.name);
    if (credited && !this.holdCredits) this.returnCredit(frame, this.link.sim.now);
    if (this.endpoint === undefined) throw new Error(`port ${this.name}: a frame arrived but nothing is attached`);
    this.endpoint.receive(frame, arrival, this);
    // a frame held back for reordering goes right after the next one
    if (w.held !== null && w.held.frame !== frame) this.releaseHeld();
  }

  /** @internal */
  releaseHeld(): void {
    const w = this.peer.tx;
    const h = w.held;
    if (h === null) return;
    w.held = null;
    this.link.sim.cancel(h.timeout);
    const now = this.link.sim.now;
    const late: Arrival = { firstBitPs: Math.max(h.arrival.firstBitPs, now), lastBitPs: Math.max(h.arrival.lastBitPs, now), duplicate: false };
    this.deliver(h.frame, late, h.credited);
  }
}

export class Link {
  readonly name: string;
  readonly speed: LinkSpeed;
  /** frames this link carries */
  readonly format: Frame["format"];
  /** data rate [bit/s] */
  readonly bps: number;
  readonly propagationPs: Picoseconds;
  /** credit return delay (IB) [ps] */
  readonly creditReturnPs: Picoseconds;
  readonly a: LinkPort;
  readonly b: LinkPort;
  private readonly psPerByte: number;

  constructor(
    readonly sim: Simulator,
    opts: LinkOptions,
  ) {
    this.name = opts.name;
    this.speed = linkSpeed(opts.speed);
    this.format = this.speed.kind === "ethernet" ? "rocev2" : "ib";
    this.bps = linkDataRate(this.speed);
    this.psPerByte = 8e12 / this.bps;
    this.propagationPs = opts.propagationPs ?? 0;
    if (!(Number.isSafeInteger(this.propagationPs) && this.propagationPs >= 0)) {
      throw new RangeError(`link ${this.name}: propagationPs must be whole picoseconds ≥ 0, got ${opts.propagationPs}`);
    }
    if (this.speed.kind === "ethernet" && opts.credits) throw new RangeError(`link ${this.name}: credit flow control is for InfiniBand links`);
    const credits = this.speed.kind === "ib" && opts.credits !== false ? (opts.credits ?? {}) : undefined;
    this.creditReturnPs = credits?.returnDelayPs ?? this.propagationPs + 50_000;
    const seed = opts.seed ?? this.name;
    const ab = new Wire(`${this.name}:a→b`, opts.faultsAToB ?? opts.faults, seed, credits);
    const ba = new Wire(`${this.name}:b→a`, opts.faultsBToA ?? opts.faults, seed, credits);
    this.a = new LinkPort(this, `${this.name}.a`, ab);
    this.b = new LinkPort(this, `${this.name}.b`, ba);
    this.a.pair(this.b);
    this.b.pair(this.a);
  }

  /** time a frame of `frameBytes` (between delimiters) occupies a direction [ps] */
  serialisationPs(frameBytes: number): Picoseconds {
    return Math.round(linkWireBytes(this.speed, frameBytes) * this.psPerByte);
  }

  /** taps a direction ("a→b", "b→a" or both) at the sender (what was sent) or the receiver (what arrived) */
  tap(tap: CaptureTap, opts: { direction?: "a→b" | "b→a" | "both"; at?: "sender" | "receiver" } = {}): void {
    const dir = opts.direction ?? "both";
    const at = opts.at ?? "receiver";
    for (const w of [dir !== "b→a" ? this.a.tx : undefined, dir !== "a→b" ? this.b.tx : undefined]) {
      if (w !== undefined) (at === "sender" ? w.txTaps : w.rxTaps).push(tap);
    }
  }

  /** share of the time since 0 that each direction was busy */
  utilisation(): { aToB: number; bToA: number } {
    const t = this.sim.now;
    return { aToB: t > 0 ? this.a.counters.busyPs / t : 0, bToA: t > 0 ? this.b.counters.busyPs / t : 0 };
  }
}
