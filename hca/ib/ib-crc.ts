/**
 * The two CRCs of a native InfiniBand packet (IBTA Vol 1 §7.8):
 *
 *   | LRH | BTH | ext. headers | payload | pad | ICRC (4) | VCRC (2) |
 *
 * - ICRC, invariant CRC (§7.8.1): the Ethernet CRC-32 (polynomial 0x04C11DB7, reflected,
 *   initial all ones, final complement) over LRH … pad, with the fields a switch or
 *   router may change replaced by ones: LRH.VL (high nibble of byte 0) and BTH byte 4
 *   (FECN, BECN, resv6). Sent least-significant byte first, like the Ethernet FCS (the
 *   same convention the RoCEv2 ICRC uses, checked in hca/icrc against real captures).
 * - VCRC, variant CRC (§7.8.2): CRC-16 with polynomial x^16 + x^12 + x^3 + x + 1 (0x100B),
 *   reflected (0xD008), initial 0xFFFF, final complement, over LRH … ICRC. Sent least-
 *   significant byte first as well. This is the algorithm of Endace's dagcrc
 *   `dagcrc_infiniband_vcrc16_r` (the code the Wireshark InfiniBand dissector came from);
 *   the byte order is pinned by ib-crc.test.ts with a packet Wireshark accepts.
 *
 * Only LNH = 2 (IBA local: LRH then BTH) is handled. A packet with a GRH (LNH = 3) would
 * need the GRH's traffic class, flow label and hop limit masked too; these functions do
 * not do that (no hcasim block sends or accepts GRH packets), and they compute the LNH-2
 * coverage whatever the LNH field says, as a fixed-mask hardware checker would.
 */
import { crc32Update, slicingTables } from "../../core/crc.ts";
import { Lrh } from "../headers/lrh.ts";

/** bytes of the invariant CRC */
export const IB_ICRC_BYTES = 4;
/** bytes of the variant CRC */
export const IB_VCRC_BYTES = 2;

/** The reflected CRC-16/0x100B polynomial, as shifted right (bit 0 = x^15). */
export const VCRC_POLY_REFLECTED = 0xd008;
/** BTH byte 4 (FECN, BECN, resv6) sits at this packet offset (LRH, then BTH) */
export const ICRC_BTH_VARIANT_BYTE = Lrh.sizeBytes + 4;

/** Slicing-by-8 tables, built as core/crc.ts builds them for CRC-32. */
const VCRC_TABLES = slicingTables(VCRC_POLY_REFLECTED);

/** Raw CRC-16/0x100B register after shifting bytes[start, end) into `state` (no init, no final complement). */
export function vcrcUpdate(state: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`vcrc: range [${start}, ${end}) is outside the ${bytes.length}-byte buffer`);
  }
  const t = VCRC_TABLES;
  let c = state & 0xffff;
  let i = start;
  const end8 = start + ((end - start) & ~7);
  while (i < end8) {
    c =
      t[1792 + ((c ^ bytes[i]) & 0xff)] ^
      t[1536 + ((c >>> 8) ^ bytes[i + 1])] ^
      t[1280 + bytes[i + 2]] ^
      t[1024 + bytes[i + 3]] ^
      t[768 + bytes[i + 4]] ^
      t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
    i += 8;
  }
  while (i < end) c = t[(c ^ bytes[i++]) & 0xff] ^ (c >>> 8);
  return c;
}

/** Register after a correct packet *and its VCRC* (LSB first) have been shifted in. */
export const VCRC_RESIDUE = residue16();

function residue16(): number {
  // any message works: shift in a zero byte and its VCRC, LSB first
  const m = Uint8Array.of(0, 0, 0);
  const v = ~vcrcUpdate(0xffff, m, 0, 1) & 0xffff;
  m[1] = v & 0xff;
  m[2] = v >>> 8;
  return vcrcUpdate(0xffff, m);
}

function checkLength(what: string, n: number, min: number): void {
  if (n < min) throw new RangeError(`${what}: a ${n}-byte packet is shorter than the ${min} bytes it covers at least`);
}

/** one byte, reused by ibIcrc (no allocation per packet) */
const SCRATCH = new Uint8Array(1);

/**
 * The ICRC of packet[0, end): LRH, BTH, … pad (no ICRC, no VCRC). `end` defaults to the
 * whole buffer. Throws if the range does not even hold an LRH and a BTH byte 4.
 */
export function ibIcrc(packet: Uint8Array, end = packet.length): number {
  checkLength("ibIcrc", end, ICRC_BTH_VARIANT_BYTE + 1);
  if (end > packet.length) throw new RangeError(`ibIcrc: end ${end} is past the ${packet.length}-byte buffer`);
  const one = SCRATCH;
  one[0] = packet[0] | 0xf0;
  let c = crc32Update(0xffffffff, one);
  c = crc32Update(c, packet, 1, ICRC_BTH_VARIANT_BYTE);
  one[0] = 0xff;
  c = crc32Update(c, one);
  c = crc32Update(c, packet, ICRC_BTH_VARIANT_BYTE + 1, end);
  return ~c >>> 0;
}

/** The VCRC of packet[0, end): LRH … ICRC. `end` defaults to the whole buffer. */
export function vcrc(packet: Uint8Array, end = packet.length): number {
  if (end > packet.length) throw new RangeError(`vcrc: end ${end} is past the ${packet.length}-byte buffer`);
  return ~vcrcUpdate(0xffff, packet, 0, end) & 0xffff;
}

/** `packet` (LRH … pad) followed by its ICRC and VCRC, both LSB first: a new buffer. */
export function appendIbCrcs(packet: Uint8Array): Uint8Array {
  const out = new Uint8Array(packet.length + IB_ICRC_BYTES + IB_VCRC_BYTES);
  out.set(packet);
  writeIbCrcs(out, packet.length);
  return out;
}

/**
 * Writes the ICRC over buf[0, covered) and then the VCRC into buf[covered, covered + 6),
 * in place (for builders that allocate the whole packet once).
 */
export function writeIbCrcs(buf: Uint8Array, covered: number): void {
  if (buf.length < covered + IB_ICRC_BYTES + IB_VCRC_BYTES) {
    throw new RangeError(`writeIbCrcs: a ${buf.length}-byte buffer has no room for the CRCs after ${covered} bytes`);
  }
  const n = covered;
  const i = ibIcrc(buf, n);
  buf[n] = i & 0xff;
  buf[n + 1] = (i >>> 8) & 0xff;
  buf[n + 2] = (i >>> 16) & 0xff;
  buf[n + 3] = i >>> 24;
  const v = vcrc(buf, n + IB_ICRC_BYTES);
  buf[n + 4] = v & 0xff;
  buf[n + 5] = v >>> 8;
}

/** The ICRC a complete packet (LRH … ICRC, VCRC) carries, as sent LSB first. */
export function carriedIcrc(packet: Uint8Array): number {
  const p = packet.length - IB_VCRC_BYTES - IB_ICRC_BYTES;
  return (packet[p] | (packet[p + 1] << 8) | (packet[p + 2] << 16) | (packet[p + 3] << 24)) >>> 0;
}

/** The VCRC a complete packet carries. */
export function carriedVcrc(packet: Uint8Array): number {
  const p = packet.length - IB_VCRC_BYTES;
  return packet[p] | (packet[p + 1] << 8);
}

/** true if a complete packet (LRH … pad, ICRC, VCRC) carries the right ICRC; false if too short */
export function checkIbIcrc(packet: Uint8Array): boolean {
  const end = packet.length - IB_VCRC_BYTES - IB_ICRC_BYTES;
  if (end < ICRC_BTH_VARIANT_BYTE + 1) return false;
  return ibIcrc(packet, end) === carriedIcrc(packet);
}

/** true if a complete packet (LRH … ICRC, VCRC) carries the right VCRC; false if shorter than a VCRC */
export function checkVcrc(packet: Uint8Array): boolean {
  if (packet.length < IB_VCRC_BYTES) return false;
  return vcrc(packet, packet.length - IB_VCRC_BYTES) === carriedVcrc(packet);
}
