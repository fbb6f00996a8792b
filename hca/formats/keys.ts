/**
 * Memory keys (lkey/rkey), mthca/mlx4 style: key = index << 8 | variant. The index selects
 * the MPT entry; the 8-bit variant ("key" byte) changes on every re-registration, so a key
 * handed out before a deregister no longer matches the re-registered entry (stale key).
 */

/** bits of the variant (the low byte of a key) */
export const KEY_VARIANT_BITS = 8;
/** largest MPT index a 32-bit key can carry */
export const KEY_INDEX_MAX = 0xff_ffff;

/** a 32-bit key from an MPT index (0..2^24-1) and an 8-bit variant */
export function makeKey(index: number, variant: number): number {
  if (!Number.isInteger(index) || index < 0 || index > KEY_INDEX_MAX) {
    throw new RangeError(`makeKey: MPT index ${index} is not in 0..${KEY_INDEX_MAX}`);
  }
  if (!Number.isInteger(variant) || variant < 0 || variant > 0xff) {
    throw new RangeError(`makeKey: variant ${variant} is not in 0..255`);
  }
  return (index * 256 + variant) >>> 0;
}

/** the MPT index of a key (its upper 24 bits) */
export function keyIndex(key: number): number {
  return key >>> KEY_VARIANT_BITS;
}

/** the 8-bit variant of a key (its low byte) */
export function keyVariant(key: number): number {
  return key & 0xff;
}
