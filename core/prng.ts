/**
 * Seeded deterministic pseudo-random numbers: xoshiro128** (Blackman & Vigna, 2018),
 * its 128-bit state filled by splitmix32 from a 32-bit or string seed.
 *
 * Everything random in a model draws from a Prng so that the same scenario and seed give
 * the same numbers bit for bit (DESIGN.md §2). Components take their own stream with
 * `fork(label)`, so adding a component never shifts the numbers another one sees.
 */

const TWO_32 = 0x1_0000_0000;
const TWO_53 = 2 ** 53;

/** splitmix32 finaliser (a bijection on u32): spreads every input bit over the output. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** FNV-1a over the UTF-16 code units: a deterministic 32-bit digest of a string seed or label. */
function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  return h >>> 0;
}

function seedWord(seed: number | string): number {
  if (typeof seed === "string") return hashString(seed);
  if (!Number.isInteger(seed)) {
    throw new RangeError(`Prng: seed must be an integer or a string, got ${seed}`);
  }
  // Any integer is accepted; it is reduced to its low 32 bits (two's complement).
  return (seed % TWO_32) >>> 0;
}

/** Four splitmix32 outputs from `seed`: distinct (the finaliser is a bijection), so never all zero. */
function splitmixState(seed: number): Uint32Array {
  const s = new Uint32Array(4);
  let counter = seed >>> 0;
  for (let i = 0; i < 4; i++) {
    counter = (counter + 0x9e3779b9) >>> 0;
    s[i] = mix32(counter);
  }
  return s;
}

export class Prng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  /** the state this stream started from; forks derive from it, not from the current state */
  private origin: Uint32Array;

  constructor(seed: number | string) {
    this.origin = splitmixState(seedWord(seed));
    [this.s0, this.s1, this.s2, this.s3] = this.origin;
  }

  /** restarts this stream from an explicit 128-bit state (used by fork) */
  private restart(state: Uint32Array): this {
    this.origin = state;
    [this.s0, this.s1, this.s2, this.s3] = state;
    return this;
  }

  /** next 32-bit unsigned integer */
  u32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** uniform in [0, 1) with 53 bits of resolution */
  float(): number {
    const hi = this.u32() >>> 5; // 27 bits
    const lo = this.u32() >>> 6; // 26 bits
    return (hi * 0x400_0000 + lo) / TWO_53;
  }

  /**
   * Uniform integer in [lo, hi], both ends included, without modulo bias (rejection
   * sampling). lo and hi are safe integers; the range may span up to 2^53 values.
   */
  int(lo: number, hi: number): number {
    if (!Number.isSafeInteger(lo) || !Number.isSafeInteger(hi)) {
      throw new RangeError(`Prng.int: bounds must be safe integers, got [${lo}, ${hi}]`);
    }
    if (lo > hi) throw new RangeError(`Prng.int: empty range [${lo}, ${hi}]`);
    const range = hi - lo + 1;
    if (range <= TWO_32) {
      // Largest multiple of `range` not above 2^32: draws at or beyond it are redrawn.
      const limit = TWO_32 - (TWO_32 % range);
      let x = this.u32();
      while (x >= limit) x = this.u32();
      return lo + (x % range);
    }
    if (range > TWO_53) {
      throw new RangeError(`Prng.int: range [${lo}, ${hi}] spans more than 2^53 values`);
    }
    const limit = TWO_53 - (TWO_53 % range);
    for (;;) {
      const x = (this.u32() >>> 11) * TWO_32 + this.u32(); // 53 random bits
      if (x < limit) return lo + (x % range);
    }
  }

  /** true with probability pTrue */
  bool(pTrue = 0.5): boolean {
    if (!(pTrue >= 0 && pTrue <= 1)) {
      throw new RangeError(`Prng.bool: probability must be in [0, 1], got ${pTrue}`);
    }
    return this.float() < pTrue;
  }

  /** n random bytes */
  bytes(n: number): Uint8Array {
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new RangeError(`Prng.bytes: length must be a non-negative integer, got ${n}`);
    }
    return this.fill(new Uint8Array(n));
  }

  /** fills buf with random bytes (four per draw, little-endian) and returns it */
  fill(buf: Uint8Array): Uint8Array {
    const n = buf.length;
    let i = 0;
    for (; i + 4 <= n; i += 4) {
      const x = this.u32();
      buf[i] = x;
      buf[i + 1] = x >>> 8;
      buf[i + 2] = x >>> 16;
      buf[i + 3] = x >>> 24;
    }
    if (i < n) {
      let x = this.u32();
      for (; i < n; i++, x >>>= 8) buf[i] = x;
    }
    return buf;
  }

  /** a uniformly chosen element */
  pick<T>(arr: readonly T[]): T {
    if (arr.length === 0) throw new RangeError("Prng.pick: cannot pick from an empty array");
    return arr[this.int(0, arr.length - 1)];
  }

  /**
   * An independent child stream named `label`. It depends only on this stream's seed
   * (or fork path) and the label, not on how many numbers were drawn so far, and drawing
   * from it leaves this stream untouched: `root.fork("hca0")` is the same stream wherever
   * and whenever it is taken. The same label gives the same stream; use distinct labels.
   */
  fork(label: string): Prng {
    const h = hashString(label);
    const key = splitmixState(h ^ 0x5bd1e995);
    const child = new Uint32Array(4);
    for (let i = 0; i < 4; i++) child[i] = mix32(this.origin[i] ^ key[i] ^ Math.imul(h, i + 1));
    if ((child[0] | child[1] | child[2] | child[3]) === 0) child[0] = 1; // xoshiro's one fixed point
    return new Prng(0).restart(child);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
