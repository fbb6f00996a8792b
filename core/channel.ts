/**
 * A bounded, credit-controlled link between two components, with a datapath width and a
 * latency: what makes the models cycle-approximate (DESIGN.md §2). Throughput limits come
 * from these numbers, not from hand-tuned delays.
 *
 *   sender ──send──▶ [ serialiser: ceil(size / widthBytes) beats ] ──latencyCycles──▶ receiver
 *      ▲                                                                                │
 *      └──────────────────────── credit (creditLatencyCycles) ◀────────── receive ──────┘
 *
 * - Credits: at most `capacity` items are in the channel at once, counting items waiting
 *   for the serialiser, in flight, and queued at the receiver. `send` takes a credit;
 *   `receive` gives it back.
 * - Serialiser: an item occupies it for ceil(sizeBytes / widthBytes) cycles (at least 1),
 *   one beat per cycle, items back to back in send order. A 1500-byte frame on a 64-byte
 *   datapath takes 24 cycles.
 * - Latency: an item is visible to the receiver `latencyCycles` after its last beat
 *   (0 = in the cycle of its last beat).
 * All cycles are in the channel's clock domain; endpoints in other domains are woken at
 * their own first edge at or after the event.
 */

import type { Component, Simulator } from "./kernel.ts";
import type { ClockDomain, Picoseconds } from "./time.ts";

/** who to tell: a component (woken) or a callback (called as an event at that time) */
export type WakeTarget = Component | (() => void);

export interface ChannelEndpoints {
  /** woken when a credit returns */
  sender?: WakeTarget;
  /** woken when an item arrives */
  receiver?: WakeTarget;
}

export interface ChannelOptions extends ChannelEndpoints {
  name: string;
  /** clock domain of the serialiser; all cycle counts below are in it */
  domain: ClockDomain;
  /** credits: items that may be in the channel at once (waiting, in flight or queued); Infinity for unbounded */
  capacity: number;
  /** cycles from an item's last beat until the receiver sees it [cycles] */
  latencyCycles: number;
  /** bytes moved per cycle [bytes/cycle] */
  widthBytes: number;
  /** cycles from `receive` until the sender can use the credit again [cycles]; default 0 */
  creditLatencyCycles?: number;
}

export class Channel<T> {
  readonly name: string;
  readonly domain: ClockDomain;
  readonly capacity: number;
  readonly latencyCycles: number;
  readonly widthBytes: number;
  readonly creditLatencyCycles: number;

  /** items sent so far */
  sentItems = 0;
  /** bytes sent so far */
  sentBytes = 0;
  /** items received so far */
  receivedItems = 0;
  /** cycles the serialiser has been (or is booked to be) busy */
  busyCycles = 0;

  private sender?: WakeTarget;
  private receiver?: WakeTarget;
  private inUse = 0;
  private freeAt = 0;
  // FIFO of items in flight or queued at the receiver, in send (= arrival) order.
  private items: T[] = [];
  private arrivals: Picoseconds[] = [];
  private head = 0;

  constructor(
    readonly sim: Simulator,
    options: ChannelOptions,
  ) {
    const { name, domain, capacity, latencyCycles, widthBytes, creditLatencyCycles = 0 } = options;
    const where = `channel "${name}"`;
    if (!(capacity === Infinity || (Number.isSafeInteger(capacity) && capacity >= 1))) {
      throw new RangeError(`${where}: capacity must be a whole number of items ≥ 1 (or Infinity), got ${capacity}`);
    }
    if (!(Number.isSafeInteger(latencyCycles) && latencyCycles >= 0)) {
      throw new RangeError(`${where}: latencyCycles must be a whole number ≥ 0, got ${latencyCycles}`);
    }
    if (!(Number.isSafeInteger(widthBytes) && widthBytes >= 1)) {
      throw new RangeError(`${where}: widthBytes must be a whole number ≥ 1, got ${widthBytes}`);
    }
    if (!(Number.isSafeInteger(creditLatencyCycles) && creditLatencyCycles >= 0)) {
      throw new RangeError(`${where}: creditLatencyCycles must be a whole number ≥ 0, got ${creditLatencyCycles}`);
    }
    this.name = name;
    this.domain = domain;
    this.capacity = capacity;
    this.latencyCycles = latencyCycles;
    this.widthBytes = widthBytes;
    this.creditLatencyCycles = creditLatencyCycles;
    this.connect(options);
  }

  /** sets who is woken on arrival (receiver) and on credit return (sender) */
  connect(endpoints: ChannelEndpoints): this {
    if (endpoints.sender !== undefined) this.sender = endpoints.sender;
    if (endpoints.receiver !== undefined) this.receiver = endpoints.receiver;
    return this;
  }

  /** cycles an item of `sizeBytes` occupies the serialiser: ceil(size / width), at least 1 */
  beatsFor(sizeBytes: number): number {
    return Math.max(1, Math.ceil(sizeBytes / this.widthBytes));
  }

  /** credits not in use */
  get credits(): number {
    return this.capacity - this.inUse;
  }

  /** items holding a credit: waiting for the serialiser, in flight, or queued at the receiver */
  get occupancy(): number {
    return this.inUse;
  }

  /** items visible to the receiver now */
  get available(): number {
    const now = this.sim.now;
    let n = 0;
    for (let i = this.head; i < this.arrivals.length && this.arrivals[i] <= now; i++) n++;
    return n;
  }

  /** the first cycle at which the serialiser is free to start a new item */
  get serialiserFreeAt(): number {
    return this.freeAt;
  }

  /** true if a credit is free */
  canSend(): boolean {
    return this.inUse < this.capacity;
  }

  /**
   * Sends `item` of `sizeBytes` bytes; throws if no credit is free. The item starts on the
   * serialiser at the current cycle or when the serialiser frees, whichever is later.
   * Returns the cycle at which it becomes visible to the receiver.
   */
  send(item: T, sizeBytes: number): number {
    if (this.inUse >= this.capacity) {
      throw new Error(`channel "${this.name}": send with no free credit (all ${this.capacity} in use); check canSend() first`);
    }
    if (!(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0)) {
      throw new RangeError(`channel "${this.name}": size must be a whole number of bytes ≥ 0, got ${sizeBytes}`);
    }
    const nowCycle = this.domain.psToCycle(this.sim.now);
    const start = this.freeAt > nowCycle ? this.freeAt : nowCycle;
    const beats = this.beatsFor(sizeBytes);
    this.freeAt = start + beats;
    const arrival = start + beats - 1 + this.latencyCycles;
    const arrivalPs = this.domain.cycleToPs(arrival);
    this.items.push(item);
    this.arrivals.push(arrivalPs);
    this.inUse++;
    this.sentItems++;
    this.sentBytes += sizeBytes;
    this.busyCycles += beats;
    this.notify(this.receiver, arrivalPs);
    return arrival;
  }

  /** the oldest item visible to the receiver, left in place; undefined if none has arrived */
  peek(): T | undefined {
    if (this.head < this.arrivals.length && this.arrivals[this.head] <= this.sim.now) return this.items[this.head];
    return undefined;
  }

  /** takes the oldest visible item and returns its credit; undefined if none has arrived */
  receive(): T | undefined {
    if (!(this.head < this.arrivals.length && this.arrivals[this.head] <= this.sim.now)) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined as T; // let it be collected
    this.head++;
    this.compact();
    this.receivedItems++;
    if (this.creditLatencyCycles === 0) {
      this.inUse--;
      this.notify(this.sender, this.sim.now);
    } else {
      const at = this.domain.cycleToPs(this.domain.psToCycle(this.sim.now) + this.creditLatencyCycles);
      this.sim.schedule(at, () => {
        this.inUse--;
        this.notify(this.sender, at);
      });
    }
    return item;
  }

  private notify(target: WakeTarget | undefined, atPs: Picoseconds): void {
    if (target === undefined) return;
    if (typeof target === "function") this.sim.schedule(atPs, target);
    else target.wakeAtPs(atPs);
  }

  private compact(): void {
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.arrivals.length = 0;
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.arrivals.splice(0, this.head);
      this.head = 0;
    }
  }
}
