/**
 * A pool of table indexes [first, limit) handing out the lowest free one, as mthca_alloc
 * does for PDs, MPTs, CQs and QPs. `first` is where the firmware's reserved entries end
 * (QUERY_DEV_CAP's log_rsvd_*), `limit` the table size INIT_HCA chose.
 */
export class IndexPool {
  private readonly used = new Set<number>();
  private next: number;

  constructor(
    /** names the table in messages */
    readonly what: string,
    /** lowest index handed out */
    readonly first: number,
    /** one past the highest index */
    readonly limit: number,
  ) {
    if (!(Number.isSafeInteger(first) && Number.isSafeInteger(limit) && 0 <= first && first <= limit)) {
      throw new RangeError(`IndexPool ${what}: need 0 ≤ first ≤ limit, got [${first}, ${limit})`);
    }
    this.next = first;
  }

  /** the lowest free index; throws when the table is full */
  alloc(): number {
    for (let i = this.next; i < this.limit; i++) {
      if (!this.used.has(i)) {
        this.used.add(i);
        this.next = i + 1;
        return i;
      }
    }
    throw new RangeError(`${this.what}: all ${this.limit - this.first} usable entries [${this.first}, ${this.limit}) are in use`);
  }

  release(i: number): void {
    if (!this.used.delete(i)) throw new RangeError(`${this.what}: index ${i} is not allocated`);
    if (i < this.next) this.next = i;
  }

  get inUse(): number {
    return this.used.size;
  }
}
