/**
 * First-in first-out queues on a ring that doubles when full: the engine's transmit queue
 * of QPs and the wire's packets in flight. Steady traffic through them allocates nothing
 * (an array used as a queue with push and splice copies and reallocates as it goes).
 */

/** a FIFO of references */
export class Fifo<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;
  private mask: number;

  /** `capacity` is rounded up to a power of two; the ring grows past it as needed */
  constructor(capacity = 16) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.items = new Array<T | undefined>(n).fill(undefined);
    this.mask = n - 1;
  }

  get length(): number {
    return this.count;
  }

  push(x: T): void {
    if (this.count > this.mask) this.grow();
    this.items[(this.head + this.count) & this.mask] = x;
    this.count++;
  }

  /** the oldest element (undefined when empty) */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** removes and returns the oldest element (undefined when empty) */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const x = this.items[this.head];
    this.items[this.head] = undefined; // the queue keeps no reference to what left it
    this.head = (this.head + 1) & this.mask;
    this.count--;
    return x;
  }

  private grow(): void {
    const n = this.items.length;
    const next = new Array<T | undefined>(2 * n).fill(undefined);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = 2 * n - 1;
  }
}

/**
 * a FIFO of numbers (times [ps] and the like), kept unboxed: a free slot holds NaN, so the
 * oldest number is one load whichever way the queue stands (a NaN constant beside a loaded
 * number would make the JIT box the number it returns)
 */
export class NumberFifo {
  private items: Float64Array;
  private head = 0;
  private count = 0;
  private mask: number;

  /** `capacity` is rounded up to a power of two; the ring grows past it as needed */
  constructor(capacity = 16) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.items = new Float64Array(n).fill(NaN);
    this.mask = n - 1;
  }

  get length(): number {
    return this.count;
  }

  push(x: number): void {
    if (this.count > this.mask) this.grow();
    this.items[(this.head + this.count) & this.mask] = x;
    this.count++;
  }

  /** the oldest number; NaN when empty */
  peek(): number {
    return this.items[this.head];
  }

  /** removes and returns the oldest number; NaN when empty */
  shift(): number {
    const x = this.items[this.head];
    if (this.count > 0) {
      this.items[this.head] = NaN;
      this.head = (this.head + 1) & this.mask;
      this.count--;
    }
    return x;
  }

  private grow(): void {
    const n = this.items.length;
    const next = new Float64Array(2 * n).fill(NaN);
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & this.mask];
    this.items = next;
    this.head = 0;
    this.mask = 2 * n - 1;
  }
}
