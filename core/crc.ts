/**
 * CRC-32 (IEEE 802.3, the Ethernet FCS and the RoCEv2/IB ICRC) and CRC-32C (Castagnoli,
 * the iSCSI and iWARP MPA CRC), both reflected, computed slicing-by-8.
 *
 * Two faces per algorithm:
 *  - `crc32(bytes)` / `crc32c(bytes)`: the standard check value (init all-ones, final
 *    complement), e.g. crc32("123456789") = 0xCBF43926.
 *  - `crc32Update(state, bytes)` / `crc32cUpdate(state, bytes)`: the raw shift register,
 *    no init and no final complement, so callers can chain pieces and start from any
 *    precomputed state (the ICRC starts from the state after 8 bytes of 0xFF).
 *    `crc32(b) === (~crc32Update(0xFFFFFFFF, b)) >>> 0`.
 *
 * All values are unsigned 32-bit numbers. In the reflected convention register bit 0
 * is the coefficient of x^31 and the first byte enters at bit 0, so the final value goes
 * on the wire least-significant byte first.
 */

/** One reflected CRC-32 variant, as data. */
export interface CrcAlgorithm {
  readonly name: string;
  /** generator polynomial, reflected (bit 0 = x^31 coefficient) */
  readonly polyReflected: number;
  /** the standard check value: the CRC of the ASCII bytes "123456789" */
  readonly check: number;
}

export const CRC32_IEEE: CrcAlgorithm = { name: "CRC-32/IEEE 802.3", polyReflected: 0xedb88320, check: 0xcbf43926 };
export const CRC32C_CASTAGNOLI: CrcAlgorithm = { name: "CRC-32C/Castagnoli", polyReflected: 0x82f63b78, check: 0xe3069283 };

/**
 * Slicing-by-8 tables of a reflected CRC (of any width up to 32 bits): table k (entries
 * k*256 … k*256+255) maps a byte to its effect on the register after it and k more zero
 * bytes have been shifted in.
 */
export function slicingTables(polyReflected: number): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let b = 0; b < 256; b++) {
    let r = b;
    for (let i = 0; i < 8; i++) r = r & 1 ? (r >>> 1) ^ polyReflected : r >>> 1;
    t[b] = r;
  }
  for (let b = 0; b < 256; b++) {
    let r = t[b];
    for (let k = 1; k < 8; k++) {
      r = t[r & 0xff] ^ (r >>> 8);
      t[k * 256 + b] = r;
    }
  }
  return t;
}

function update(t: Int32Array, state: number, bytes: Uint8Array, start: number, end: number): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc: range [${start}, ${end}) is outside the ${bytes.length}-byte buffer`);
  }
  let crc = state | 0;
  let i = start;
  const end8 = start + ((end - start) & ~7);
  while (i < end8) {
    const lo = crc ^ (bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24));
    const hi = bytes[i + 4] | (bytes[i + 5] << 8) | (bytes[i + 6] << 16) | (bytes[i + 7] << 24);
    crc =
      t[1792 + (lo & 0xff)] ^
      t[1536 + ((lo >>> 8) & 0xff)] ^
      t[1280 + ((lo >>> 16) & 0xff)] ^
      t[1024 + (lo >>> 24)] ^
      t[768 + (hi & 0xff)] ^
      t[512 + ((hi >>> 8) & 0xff)] ^
      t[256 + ((hi >>> 16) & 0xff)] ^
      t[hi >>> 24];
    i += 8;
  }
  while (i < end) crc = t[(crc ^ bytes[i++]) & 0xff] ^ (crc >>> 8);
  return crc >>> 0;
}

const CRC32_TABLES = slicingTables(CRC32_IEEE.polyReflected);
const CRC32C_TABLES = slicingTables(CRC32C_CASTAGNOLI.polyReflected);

/** CRC-32 (IEEE 802.3) of bytes[start, end): init 0xFFFFFFFF, final complement. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return ~update(CRC32_TABLES, 0xffffffff, bytes, start, end) >>> 0;
}

/** Raw CRC-32 register after shifting bytes[start, end) into `state` (no init, no final complement). */
export function crc32Update(state: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  return update(CRC32_TABLES, state, bytes, start, end);
}

/** CRC-32C (Castagnoli) of bytes[start, end): init 0xFFFFFFFF, final complement. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return ~update(CRC32C_TABLES, 0xffffffff, bytes, start, end) >>> 0;
}

/** Raw CRC-32C register after shifting bytes[start, end) into `state` (no init, no final complement). */
export function crc32cUpdate(state: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  return update(CRC32C_TABLES, state, bytes, start, end);
}

// ---- combining: the register after runs of zero bytes ------------------------------------

/**
 * a·b mod P for two polynomials in the reflected register form (bit 31 = x^0, bit 0 =
 * x^31) and the reflected generator `poly`: multiply by x is a right shift with reduction.
 */
function mulModP(poly: number, a: number, b: number): number {
  let p = 0;
  for (let m = 0x8000_0000; m !== 0 && a !== 0; m >>>= 1) {
    if (a & m) {
      p ^= b;
      a ^= m;
    }
    b = b & 1 ? (b >>> 1) ^ poly : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) mod P for k = 0..52 (byte counts up to 2^50 suffice) */
function powersOfX(poly: number): Int32Array {
  const t = new Int32Array(53);
  t[0] = 0x4000_0000; // x
  for (let k = 1; k < t.length; k++) t[k] = mulModP(poly, t[k - 1] >>> 0, t[k - 1] >>> 0);
  return t;
}

const CRC32_POWERS = powersOfX(CRC32_IEEE.polyReflected);
/** x^(8n) mod P by byte count n, filled on first use (0 = not yet: x^k mod P is never 0) */
const CRC32_SHIFT_CACHE = new Int32Array(1 << 16);

function xPow8n(n: number): number {
  if (n < CRC32_SHIFT_CACHE.length) {
    const c = CRC32_SHIFT_CACHE[n];
    if (c !== 0) return c >>> 0;
  }
  let r = 0x8000_0000; // x^0
  let bits = n * 8;
  for (let k = 0; bits > 0; k++, bits = Math.floor(bits / 2)) {
    if (bits % 2 === 1) r = mulModP(CRC32_IEEE.polyReflected, r, CRC32_POWERS[k] >>> 0);
  }
  if (n < CRC32_SHIFT_CACHE.length) CRC32_SHIFT_CACHE[n] = r;
  return r;
}

/**
 * The raw CRC-32 register after `zeroBytes` zero bytes are shifted into `state`, in time
 * independent of the count. With it one pass over shared bytes serves two CRCs that differ
 * only in what precedes them (the ICRC and the FCS of a RoCEv2 frame both cover the
 * payload), because the register is linear:
 *   crc32Update(s, d) === (crc32Shift(s, d.length) ^ crc32Update(0, d)) >>> 0
 */
export function crc32Shift(state: number, zeroBytes: number): number {
  if (!(Number.isSafeInteger(zeroBytes) && zeroBytes >= 0)) {
    throw new RangeError(`crc32Shift: byte count must be a whole number ≥ 0, got ${zeroBytes}`);
  }
  if (zeroBytes === 0) return state >>> 0;
  return mulModP(CRC32_IEEE.polyReflected, xPow8n(zeroBytes), state >>> 0);
}
