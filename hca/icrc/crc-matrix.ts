/**
 * CRC-32 as linear algebra over GF(2), for generating the RTL's parallel CRC masks.
 *
 * A reflected CRC register update is linear: after shifting n bytes d into register s,
 *   s' = A_n · s  ⊕  B_n · d
 * where A_n = Z^n and Z is the effect of one zero byte. A 32×32 matrix is stored as 32
 * row masks: output bit o = parity(s & rows[o]). Because the CRC polynomial has an x^0
 * term, Z is invertible; Z^-k undoes k trailing zero bytes, which lets the RTL run a
 * full-width step on a partial beat (invalid lanes zeroed) and correct afterwards.
 */
import { crc32Update } from "../../core/crc.ts";

/** 32 row masks of a 32×32 GF(2) matrix: out bit o = parity(s & rows[o]). */
export type Matrix32 = Uint32Array;

export function parity32(x: number): number {
  x ^= x >>> 16;
  x ^= x >>> 8;
  x ^= x >>> 4;
  x ^= x >>> 2;
  x ^= x >>> 1;
  return x & 1;
}

export function apply(m: Matrix32, s: number): number {
  let r = 0;
  for (let o = 0; o < 32; o++) r |= parity32(s & m[o]) << o;
  return r >>> 0;
}

/** a ∘ b: apply b first, then a */
export function compose(a: Matrix32, b: Matrix32): Matrix32 {
  const out = new Uint32Array(32);
  for (let o = 0; o < 32; o++) {
    let row = 0;
    for (let i = 0; i < 32; i++) if ((a[o] >>> i) & 1) row ^= b[i];
    out[o] = row;
  }
  return out;
}

export function identity(): Matrix32 {
  return Uint32Array.from({ length: 32 }, (_, i) => (1 << i) >>> 0);
}

/** inverse by Gauss–Jordan elimination; throws if singular */
export function invert(m: Matrix32): Matrix32 {
  const a = Uint32Array.from(m);
  const inv = identity();
  for (let col = 0; col < 32; col++) {
    let pivot = -1;
    for (let r = col; r < 32; r++) if ((a[r] >>> col) & 1) { pivot = r; break; }
    if (pivot < 0) throw new Error(`crc-matrix: matrix is singular (column ${col})`);
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [inv[col], inv[pivot]] = [inv[pivot], inv[col]];
    for (let r = 0; r < 32; r++) {
      if (r !== col && (a[r] >>> col) & 1) {
        a[r] ^= a[col];
        inv[r] ^= inv[col];
      }
    }
  }
  return inv;
}

export function power(m: Matrix32, n: number): Matrix32 {
  let result = identity();
  let base = m;
  for (let k = n; k > 0; k >>>= 1) {
    if (k & 1) result = compose(base, result);
    base = compose(base, base);
  }
  return result;
}

/** Z: the register map of one zero byte (CRC-32 IEEE, reflected) */
export function zeroByteMatrix(): Matrix32 {
  const m = new Uint32Array(32);
  const zero = new Uint8Array(1);
  for (let i = 0; i < 32; i++) {
    const r = crc32Update((1 << i) >>> 0, zero);
    for (let o = 0; o < 32; o++) if ((r >>> o) & 1) m[o] |= 1 << i;
  }
  return m;
}

/**
 * The update over one beat of `dataBytes` bytes: state rows (A = Z^dataBytes) and data
 * rows, each a bigint over dataBytes*8 bits, bit j = bit (j mod 8) of byte (j div 8),
 * which is how tdata packs lane j div 8.
 */
export function beatStep(dataBytes: number): { state: Matrix32; data: bigint[] } {
  const state = power(zeroByteMatrix(), dataBytes);
  const data: bigint[] = new Array(32).fill(0n);
  const beat = new Uint8Array(dataBytes);
  for (let j = 0; j < dataBytes * 8; j++) {
    beat.fill(0);
    beat[j >>> 3] = 1 << (j & 7);
    const r = crc32Update(0, beat);
    for (let o = 0; o < 32; o++) if ((r >>> o) & 1) data[o] |= 1n << BigInt(j);
  }
  return { state, data };
}

/** A little-endian byte string as one wide vector: byte i in bits [8i, 8i+8), as the RTL packs tdata. */
export function bytesToBigLE(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]!);
  return v;
}

/** parity of a vector of any width */
export function parityBig(x: bigint): number {
  let p = 0;
  for (; x; x >>= 32n) p ^= parity32(Number(x & 0xffffffffn));
  return p;
}

/** output bit o = parity(d & rows[o]): the masked reduction XOR the RTL computes */
export function applyRows(rows: readonly bigint[], d: bigint): number {
  let r = 0;
  rows.forEach((row, o) => (r |= parityBig(d & row) << o));
  return r >>> 0;
}
