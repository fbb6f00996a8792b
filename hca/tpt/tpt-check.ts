/**
 * The tpt block's protection check as a plain function: key → MPT entry, variant, PD,
 * access right, bounds (exact 65-bit arithmetic, so a range running past 2^64 is a bounds
 * violation, never a wrap), segment count. The twin's stage A runs it on the entry it read
 * from its cache; the transport runs it on the firmware's table for remote and local keys.
 *
 * 64-bit values are carried as high and low 32-bit halves (numbers), so the check does no
 * bigint arithmetic: it runs per packet.
 */
import { ACCESS_ALL, MPT_LOG2_PAGE_MAX, MPT_LOG2_PAGE_MIN, MptState, type MptEntry } from "../formats/index.ts";
import { TptFault } from "./tpt-format.ts";

const TWO32 = 0x1_0000_0000;
/** 2^k for k in 0..64: a table lookup, where `2 ** k` would call Math.pow per check */
const POW2: Float64Array = Float64Array.from({ length: 65 }, (_, k) => 2 ** k);

/** An MPT entry in the form the check reads; immutable (caches keep references). */
export interface MptCheckEntry {
  readonly usable: boolean;
  readonly variant: number;
  readonly pd: number;
  readonly access: number;
  /** log2 of the page size */
  readonly ps: number;
  /** start, as high and low 32-bit halves */
  readonly sHi: number;
  readonly sLo: number;
  /** start + length, exact: eHi may reach 2^33 - 1 */
  readonly eHi: number;
  readonly eLo: number;
  readonly mttBase: number;
}

/** the entry of a free or invalid MPT slot */
export const UNUSABLE_MPT: MptCheckEntry = Object.freeze({ usable: false, variant: 0, pd: 0, access: 0, ps: 12, sHi: 0, sLo: 0, eHi: 0, eLo: 0, mttBase: 0 });

/** a decoded MPT entry in check form (bigints converted once, at registration) */
export function mptCheckEntry(e: MptEntry): MptCheckEntry {
  const end = e.start + e.length;
  return Object.freeze({
    usable: e.state === MptState.valid && e.log2PageSize >= MPT_LOG2_PAGE_MIN && e.log2PageSize <= MPT_LOG2_PAGE_MAX,
    variant: e.variant,
    pd: e.pd,
    access: e.access,
    ps: e.log2PageSize,
    sHi: Number(e.start >> 32n),
    sLo: Number(e.start & 0xffffffffn),
    eHi: Number(end >> 32n),
    eLo: Number(end & 0xffffffffn),
    mttBase: e.mttBase,
  });
}

/** what is asked: a key, the requester's PD, the Access bits needed, va (halves) and length */
export interface TptCheckRequest {
  readonly key: number;
  readonly pd: number;
  readonly access: number;
  readonly vaHi: number;
  readonly vaLo: number;
  readonly len: number;
}

/** the answer, written into a caller's object (no allocation per check) */
export interface TptCheckResult {
  /** TptFault */
  fault: number;
  /** pages the range spans (0 for a zero-length range) */
  nseg: number;
  /** offset of va in its first page */
  off0: number;
  /** log2 page size */
  ps: number;
  /** MTT index of the first page */
  mttIdx0: number;
}

/**
 * Checks `r` against entry `e` in fault-table order (the first failing check wins) and
 * writes the outcome into `out`. `maxSegments` bounds the pages one lookup may span
 * (the block's MAX_SEGMENTS; Infinity for none).
 */
export function tptCheck(e: MptCheckEntry, r: TptCheckRequest, maxSegments: number, out: TptCheckResult): void {
  if (!e.usable) { out.fault = TptFault.invalidKey; return; }
  if ((r.key & 0xff) !== e.variant) { out.fault = TptFault.staleKey; return; }
  if (r.pd !== e.pd) { out.fault = TptFault.pdViolation; return; }
  if ((r.access & ~e.access & 0xff) !== 0 || (r.access & ~ACCESS_ALL) !== 0) { out.fault = TptFault.accessViolation; return; }
  // end of the request, exact 65-bit: (endHi, endLo), endHi ≤ 2^32
  const lo = r.vaLo + r.len;
  const endLo = lo % TWO32;
  const endHi = r.vaHi + (lo - endLo) / TWO32;
  const before = r.vaHi < e.sHi || (r.vaHi === e.sHi && r.vaLo < e.sLo);
  const pastEnd = endHi > e.eHi || (endHi === e.eHi && endLo > e.eLo);
  const wraps = endHi > TWO32 || (endHi === TWO32 && endLo > 0);
  if (before || pastEnd || wraps) { out.fault = TptFault.boundsViolation; return; }
  const ps = e.ps;
  const pageSize = POW2[ps];
  const off0 = r.vaLo % pageSize;
  const nseg = r.len === 0 ? 0 : Math.floor((off0 + r.len - 1) / pageSize) + 1;
  if (nseg > maxSegments) { out.fault = TptFault.tooManySegments; return; }
  out.fault = TptFault.ok;
  out.nseg = nseg;
  out.off0 = off0;
  out.ps = ps;
  // (va >> ps) - (start >> ps) < 2^52: exact in a double
  const scale = POW2[32 - ps];
  out.mttIdx0 = e.mttBase + (r.vaHi * scale + Math.floor(r.vaLo / pageSize)) - (e.sHi * scale + Math.floor(e.sLo / pageSize));
}
