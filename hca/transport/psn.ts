/** Packet sequence numbers: 24 bits, wrapping (IBTA Vol 1 §9.7.1). No bigint. */

export const PSN_MASK = 0xff_ffff;
/** half the PSN space: a PSN less than this far ahead is "later", otherwise "earlier" */
export const PSN_HALF = 0x80_0000;

/** a + n, modulo 2^24 */
export function psnAdd(a: number, n: number): number {
  return (a + n) & PSN_MASK;
}

/** the signed distance a − b in the 24-bit circle, in [−2^23, 2^23) */
export function psnDiff(a: number, b: number): number {
  return ((a - b) << 8) >> 8;
}
