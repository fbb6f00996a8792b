/**
 * Counters and histograms that models keep and reports print. Percentiles are exact
 * (every sample is kept, sorted on demand), so two runs with the same seed report the
 * same figures bit for bit.
 */

export class Counter {
  private v = 0;

  constructor(readonly name: string) {}

  add(n: number): void {
    this.v += n;
  }

  inc(): void {
    this.v++;
  }

  get value(): number {
    return this.v;
  }

  reset(): void {
    this.v = 0;
  }
}

/** a plain-object summary of a histogram; statistics of an empty histogram are NaN (null in JSON) */
export interface HistogramSummary {
  count: number;
  min: number;
  max: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
}

export class Histogram {
  private samples = new Float64Array(64);
  /** samples in `samples` */
  private stored = 0;
  /** samples recorded with recordRepeated: value → times */
  private readonly repeated = new Map<number, number>();
  /** all samples */
  private n = 0;
  private sorted = true;
  private sum = 0;
  private lo = Infinity;
  private hi = -Infinity;

  constructor(readonly name: string) {}

  /** adds one sample: any finite number, negative included */
  record(v: number): void {
    if (!Number.isFinite(v)) throw new RangeError(`histogram "${this.name}": samples must be finite numbers, got ${v}`);
    if (this.stored === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    if (this.stored > 0 && v < this.samples[this.stored - 1]!) this.sorted = false;
    this.samples[this.stored++] = v;
    this.n++;
    this.sum += v;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  /**
   * adds the same sample `times` times (a batch of equal latency errors, say): counted, not
   * stored `times` times, so a long run of equal samples costs one map entry
   */
  recordRepeated(v: number, times: number): void {
    if (!Number.isFinite(v)) throw new RangeError(`histogram "${this.name}": samples must be finite numbers, got ${v}`);
    if (times <= 0) return;
    this.repeated.set(v, (this.repeated.get(v) ?? 0) + times);
    this.n += times;
    this.sum += v * times;
    if (v < this.lo) this.lo = v;
    if (v > this.hi) this.hi = v;
  }

  get count(): number {
    return this.n;
  }

  get min(): number {
    return this.n === 0 ? NaN : this.lo;
  }

  get max(): number {
    return this.n === 0 ? NaN : this.hi;
  }

  get mean(): number {
    return this.n === 0 ? NaN : this.sum / this.n;
  }

  /** sum of all samples */
  get total(): number {
    return this.sum;
  }

  /**
   * The p-th percentile (0 ≤ p ≤ 100) by the nearest-rank method: the smallest sample
   * with at least p% of the samples at or below it (p = 0 gives the minimum). Always one
   * of the recorded samples; NaN if there are none.
   */
  percentile(p: number): number {
    if (!(p >= 0 && p <= 100)) throw new RangeError(`histogram "${this.name}": percentile must be in [0, 100], got ${p}`);
    if (this.n === 0) return NaN;
    if (!this.sorted) {
      this.samples.subarray(0, this.stored).sort();
      this.sorted = true;
    }
    const rank = Math.max(1, Math.ceil((p / 100) * this.n));
    if (this.repeated.size === 0) return this.samples[rank - 1]!;
    // merge the sorted stored samples with the counted ones up to the rank
    const counted = [...this.repeated].sort((a, b) => a[0] - b[0]);
    let seen = 0;
    let i = 0;
    let k = 0;
    for (;;) {
      const fromStored = i < this.stored && (k === counted.length || this.samples[i]! <= counted[k]![0]);
      if (fromStored) {
        seen++;
        if (seen >= rank) return this.samples[i]!;
        i++;
      } else {
        const [v, times] = counted[k++]!;
        seen += times;
        if (seen >= rank) return v;
      }
    }
  }

  get p50(): number {
    return this.percentile(50);
  }

  get p99(): number {
    return this.percentile(99);
  }

  summary(): HistogramSummary {
    return {
      count: this.n,
      min: this.min,
      max: this.max,
      mean: this.mean,
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
    };
  }

  reset(): void {
    this.n = 0;
    this.stored = 0;
    this.repeated.clear();
    this.sorted = true;
    this.sum = 0;
    this.lo = Infinity;
    this.hi = -Infinity;
  }
}

/** counters and histograms by name; a name holds one kind of statistic */
export class StatsRegistry {
  private readonly counters = new Map<string, Counter>();
  private readonly histograms = new Map<string, Histogram>();

  /** the counter `name`, created on first use */
  counter(name: string): Counter {
    let c = this.counters.get(name);
    if (c === undefined) {
      if (this.histograms.has(name)) throw new Error(`stats: "${name}" is already a histogram, not a counter`);
      c = new Counter(name);
      this.counters.set(name, c);
    }
    return c;
  }

  /** the histogram `name`, created on first use */
  histogram(name: string): Histogram {
    let h = this.histograms.get(name);
    if (h === undefined) {
      if (this.counters.has(name)) throw new Error(`stats: "${name}" is already a counter, not a histogram`);
      h = new Histogram(name);
      this.histograms.set(name, h);
    }
    return h;
  }

  /** a view that prefixes every name with `prefix.` (e.g. one per component), sharing this registry */
  scope(prefix: string): StatsScope {
    return new StatsScope(this, prefix);
  }

  /** every statistic, names sorted so the output is stable */
  toJSON(): { counters: Record<string, number>; histograms: Record<string, HistogramSummary> } {
    const counters: Record<string, number> = {};
    for (const name of [...this.counters.keys()].sort()) counters[name] = this.counters.get(name)!.value;
    const histograms: Record<string, HistogramSummary> = {};
    for (const name of [...this.histograms.keys()].sort()) histograms[name] = this.histograms.get(name)!.summary();
    return { counters, histograms };
  }

  reset(): void {
    for (const c of this.counters.values()) c.reset();
    for (const h of this.histograms.values()) h.reset();
  }
}

/** a name-prefixing view of a StatsRegistry */
export class StatsScope {
  constructor(
    readonly registry: StatsRegistry,
    readonly prefix: string,
  ) {}

  counter(name: string): Counter {
    return this.registry.counter(`${this.prefix}.${name}`);
  }

  histogram(name: string): Histogram {
    return this.registry.histogram(`${this.prefix}.${name}`);
  }

  scope(prefix: string): StatsScope {
    return new StatsScope(this.registry, `${this.prefix}.${prefix}`);
  }
}
