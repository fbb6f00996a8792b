/**
 * The event-driven simulation kernel (DESIGN.md §2).
 *
 * A Simulator holds one queue of timed callbacks, ordered by time and then by the order
 * they were scheduled, so a run is deterministic. Nothing ticks: a component sleeps until
 * something wakes it, and an idle millisecond costs no calls at all.
 */

import type { ClockDomain, Picoseconds } from "./time.ts";

export type EventCallback = () => void;

/** a scheduled event, as returned by `schedule`; pass it to `cancel` to drop it */
export interface EventHandle {
  /** when the event fires [ps] */
  readonly atPs: Picoseconds;
}

interface QueuedEvent extends EventHandle {
  atPs: Picoseconds;
  seq: number;
  /** null once run or cancelled (a cancelled one is removed lazily when it reaches the top of the heap) */
  fn: EventCallback | null;
  /** posted without a handle: nothing outside the kernel refers to it, so it is reused once run */
  readonly pooled: boolean;
}

function before(a: QueuedEvent, b: QueuedEvent): boolean {
  return a.atPs < b.atPs || (a.atPs === b.atPs && a.seq < b.seq);
}

export class Simulator {
  /** the current simulated time [ps] */
  private nowPs: Picoseconds = 0;
  private readonly heap: QueuedEvent[] = [];
  /** records of posted events that have run, ready for reuse */
  private readonly spare: QueuedEvent[] = [];
  private seq = 0;
  private live = 0;
  private processed = 0;
  private running = false;
  private stopRequested = false;

  get now(): Picoseconds {
    return this.nowPs;
  }

  /** callbacks run since the simulator was made (cancelled events do not count) */
  get eventsProcessed(): number {
    return this.processed;
  }

  /** events scheduled and not yet run or cancelled */
  get pending(): number {
    return this.live;
  }

  /** time of the next pending event, or undefined if there is none */
  get nextEventPs(): Picoseconds | undefined {
    this.dropCancelledTop();
    return this.heap.length > 0 ? this.heap[0].atPs : undefined;
  }

  /**
   * Runs `callback` at `atPs` (a safe integer, not before now). Events at the same time
   * run in the order they were scheduled, including ones scheduled for "now" from inside
   * a callback: they run after every event already queued for this time.
   */
  schedule(atPs: Picoseconds, callback: EventCallback): EventHandle {
    this.checkTime(atPs, "schedule");
    const ev: QueuedEvent = { atPs, seq: this.seq++, fn: callback, pooled: false };
    this.push(ev);
    this.live++;
    return ev;
  }

  /**
   * As `schedule`, for an event that is never cancelled: no handle is returned, so the
   * kernel reuses the event's record once it has run and a steady stream of posted events
   * allocates nothing (the models' per-packet and per-wake events).
   */
  post(atPs: Picoseconds, callback: EventCallback): void {
    // the check inline, the message out of line: a time passed to a call the JIT does not
    // inline is boxed, and post runs per packet
    if (!(atPs >= this.nowPs && atPs <= Number.MAX_SAFE_INTEGER && Math.floor(atPs) === atPs)) this.checkTime(atPs, "post");
    let ev = this.spare.pop();
    if (ev === undefined) ev = { atPs, seq: this.seq++, fn: callback, pooled: true };
    else {
      ev.atPs = atPs;
      ev.seq = this.seq++;
      ev.fn = callback;
    }
    this.push(ev);
    this.live++;
  }

  private checkTime(atPs: Picoseconds, where: string): void {
    if (!Number.isSafeInteger(atPs)) {
      throw new RangeError(`Simulator.${where}: time must be a whole number of picoseconds, got ${atPs}`);
    }
    if (atPs < this.nowPs) {
      throw new RangeError(`Simulator.${where}: cannot schedule at ${atPs} ps, time is already ${this.nowPs} ps`);
    }
  }

  /** runs `callback` `delayPs` after now */
  scheduleIn(delayPs: Picoseconds, callback: EventCallback): EventHandle {
    return this.schedule(this.nowPs + delayPs, callback);
  }

  /** drops a pending event; returns false if it already ran or was cancelled */
  cancel(handle: EventHandle): boolean {
    const ev = handle as QueuedEvent;
    if (ev.fn === null) return false;
    ev.fn = null;
    this.live--;
    return true;
  }

  /**
   * Processes events in order: all of them, or those at or before `untilPs`, after which
   * time stands at `untilPs` even if the queue ran dry earlier. Returns the number of
   * callbacks run. An exception from a callback propagates; the event is consumed and the
   * simulator stays usable. Not reentrant.
   */
  run(untilPs?: Picoseconds): number {
    if (this.running) throw new Error("Simulator.run: already running (called from inside an event?)");
    if (untilPs !== undefined && !(untilPs >= this.nowPs)) {
      throw new RangeError(`Simulator.run: cannot run until ${untilPs} ps, time is already ${this.nowPs} ps`);
    }
    this.running = true;
    this.stopRequested = false;
    const start = this.processed;
    try {
      const heap = this.heap;
      while (heap.length > 0 && !this.stopRequested) {
        const top = heap[0];
        if (untilPs !== undefined && top.atPs > untilPs) break;
        this.pop();
        const fn = top.fn;
        if (fn === null) continue;
        top.fn = null;
        this.live--;
        this.nowPs = top.atPs;
        this.processed++;
        // recycled before the call: whatever the callback posts may take it
        if (top.pooled) this.spare.push(top);
        fn();
      }
    } finally {
      this.running = false;
    }
    if (untilPs !== undefined && !this.stopRequested && untilPs > this.nowPs) this.nowPs = untilPs;
    return this.processed - start;
  }

  /** runs for `durationPs` from now */
  runFor(durationPs: Picoseconds): number {
    return this.run(this.nowPs + durationPs);
  }

  /** makes the current `run` return after the event in progress */
  stop(): void {
    this.stopRequested = true;
  }

  private dropCancelledTop(): void {
    while (this.heap.length > 0 && this.heap[0].fn === null) this.pop();
  }

  private push(ev: QueuedEvent): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(ev);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(ev, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = ev;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(heap[r], heap[l]) ? r : l;
      if (!before(heap[child], last)) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
  }
}

/**
 * A model block bound to a simulator, a name and a clock domain. It thinks in its own
 * cycles and runs only when woken: `onWake` is called at the rising edge of each cycle
 * it asked for. Several wakes asked for the same cycle coalesce into one call.
 */
export abstract class Component {
  // An ES private field: subclasses (every model block) are free to use any name.
  readonly #wakes = new Set<number>();

  constructor(
    readonly sim: Simulator,
    readonly name: string,
    readonly domain: ClockDomain,
  ) {}

  /** the cycle in progress in this component's domain (its last edge at or before now) */
  get cycle(): number {
    return this.domain.cycleAt(this.sim.now);
  }

  /** global time [ps] */
  get now(): Picoseconds {
    return this.sim.now;
  }

  /**
   * Calls onWake at the edge of `cycle`. A cycle whose edge has already passed (e.g. when
   * woken from another clock domain between this domain's edges) means the next edge.
   * At most one wake is pending per cycle; asking again for the same cycle does nothing.
   */
  wakeAt(cycle: number): void {
    if (!Number.isSafeInteger(cycle)) {
      throw new RangeError(`${this.name}: wakeAt needs a whole cycle number, got ${cycle}`);
    }
    const earliest = this.domain.psToCycle(this.sim.now);
    const c = cycle < earliest ? earliest : cycle;
    if (this.#wakes.has(c)) return;
    this.#wakes.add(c);
    this.sim.post(this.domain.cycleToPs(c), () => {
      this.#wakes.delete(c);
      this.onWake();
    });
  }

  /** calls onWake `cycles` cycles after the current one */
  wakeIn(cycles: number): void {
    this.wakeAt(this.cycle + cycles);
  }

  /** calls onWake at this domain's first edge at or after `t` (crossing clock domains) */
  wakeAtPs(t: Picoseconds): void {
    this.wakeAt(this.domain.psToCycle(t));
  }

  /** true if no wake is pending: the component will not run until something wakes it */
  get asleep(): boolean {
    return this.#wakes.size === 0;
  }

  /** the component's work for the current cycle */
  abstract onWake(): void;
}
