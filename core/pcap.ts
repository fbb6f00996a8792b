/**
 * Packet captures in the classic libpcap format, on byte arrays (no file system here; see
 * pcap-file.ts). Every simulated link can be written as a pcap that Wireshark dissects
 * (DESIGN.md §6).
 *
 * File header (24 bytes, in the writer's byte order; we write little-endian):
 *   magic u32 | version_major u16 = 2 | version_minor u16 = 4 | thiszone i32 | sigfigs u32
 *   | snaplen u32 | linktype u32
 * Record header (16 bytes): ts_sec u32 | ts_frac u32 (µs or ns, by magic) | incl_len u32
 *   | orig_len u32, then incl_len bytes of packet.
 * Magic 0xa1b2c3d4 means microsecond timestamps, 0xa1b23c4d nanosecond; read in the
 * other byte order they reveal a big-endian file.
 */

import type { Picoseconds } from "./time.ts";

/** Ethernet (IEEE 802.3) frames, from the destination MAC */
export const LINKTYPE_ETHERNET = 1;
/** Endace ERF records (header + packet), see erfInfinibandRecord */
export const LINKTYPE_ERF = 197;
/** raw InfiniBand packets, from the LRH */
export const LINKTYPE_INFINIBAND = 247;

const MAGIC_US = 0xa1b2c3d4;
const MAGIC_NS = 0xa1b23c4d;
const MAGIC_PCAPNG = 0x0a0d0d0a;
const FILE_HEADER_BYTES = 24;
const RECORD_HEADER_BYTES = 16;

export interface PcapWriterOptions {
  /** nanosecond timestamps (magic 0xa1b23c4d) rather than microseconds; default true */
  nanosecond?: boolean;
  /** longest packet kept per record; longer ones are truncated (orig_len keeps the real length); default 262144 */
  snaplen?: number;
}

export class PcapWriter {
  readonly nanosecond: boolean;
  readonly snaplen: number;
  private readonly records: Uint8Array[] = [];
  private recordBytes = 0;

  constructor(
    /** LINKTYPE_* of every packet in the file */
    readonly linkType: number = LINKTYPE_ETHERNET,
    options: PcapWriterOptions = {},
  ) {
    this.nanosecond = options.nanosecond ?? true;
    this.snaplen = options.snaplen ?? 262_144;
    if (!(Number.isInteger(linkType) && linkType >= 0 && linkType <= 0xffff_ffff)) {
      throw new RangeError(`PcapWriter: link type must be a 32-bit unsigned integer, got ${linkType}`);
    }
    if (!(Number.isInteger(this.snaplen) && this.snaplen >= 1 && this.snaplen <= 0xffff_ffff)) {
      throw new RangeError(`PcapWriter: snaplen must be a positive 32-bit integer, got ${this.snaplen}`);
    }
  }

  /** packets added so far */
  get packetCount(): number {
    return this.records.length;
  }

  /** size of toBytes() */
  get byteLength(): number {
    return FILE_HEADER_BYTES + this.recordBytes;
  }

  /** the 24-byte file header (for streaming: header() once, then record(...) per packet) */
  header(): Uint8Array {
    const out = new Uint8Array(FILE_HEADER_BYTES);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, this.nanosecond ? MAGIC_NS : MAGIC_US, true);
    dv.setUint16(4, 2, true);
    dv.setUint16(6, 4, true);
    dv.setInt32(8, 0, true); // thiszone: timestamps are UTC (simulated time from 0)
    dv.setUint32(12, 0, true); // sigfigs: always 0 in practice
    dv.setUint32(16, this.snaplen, true);
    dv.setUint32(20, this.linkType, true);
    return out;
  }

  /**
   * One record (16-byte header + packet) for a packet seen at `timestampPs`, truncated to
   * the resolution of the file (ns or µs); not stored.
   */
  record(timestampPs: Picoseconds, frame: Uint8Array): Uint8Array {
    if (!(Number.isSafeInteger(timestampPs) && timestampPs >= 0)) {
      throw new RangeError(`PcapWriter: timestamp must be a whole number of picoseconds ≥ 0, got ${timestampPs}`);
    }
    const seconds = Math.floor(timestampPs / 1e12);
    if (seconds > 0xffff_ffff) throw new RangeError(`PcapWriter: timestamp ${timestampPs} ps is past what pcap can hold`);
    const subPs = timestampPs - seconds * 1e12;
    const frac = this.nanosecond ? Math.floor(subPs / 1e3) : Math.floor(subPs / 1e6);
    const incl = Math.min(frame.length, this.snaplen);
    const out = new Uint8Array(RECORD_HEADER_BYTES + incl);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, seconds, true);
    dv.setUint32(4, frac, true);
    dv.setUint32(8, incl, true);
    dv.setUint32(12, frame.length, true);
    out.set(incl === frame.length ? frame : frame.subarray(0, incl), RECORD_HEADER_BYTES);
    return out;
  }

  /** stores a packet (copied) for toBytes() */
  add(timestampPs: Picoseconds, frame: Uint8Array): void {
    const r = this.record(timestampPs, frame);
    this.records.push(r);
    this.recordBytes += r.length;
  }

  /** the whole file: header and every packet added */
  toBytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    out.set(this.header(), 0);
    let off = FILE_HEADER_BYTES;
    for (const r of this.records) {
      out.set(r, off);
      off += r.length;
    }
    return out;
  }
}

export interface PcapPacket {
  /** capture time [ns]; exact while below 2^53 ns (104 days); seconds/nanoseconds are always exact */
  timestampNs: number;
  /** whole seconds of the capture time [s] */
  seconds: number;
  /** the sub-second part of the capture time [ns] (µs files give multiples of 1000) */
  nanoseconds: number;
  /** the captured bytes (a view into the input) */
  data: Uint8Array;
  /** the packet's length on the wire [bytes]; more than data.length if the capture truncated it */
  originalLength: number;
}

export interface PcapFile {
  linkType: number;
  nanosecond: boolean;
  snaplen: number;
  /** byte order the file was written in */
  byteOrder: "little" | "big";
  packets: PcapPacket[];
}

/** malformed capture; the message names the source, and where known the record (1-based, as Wireshark numbers frames) and byte offset */
export class PcapFormatError extends Error {
  constructor(
    readonly source: string,
    readonly detail: string,
    /** 1-based record number, if the error is in a record */
    readonly record?: number,
    /** offset of the problem (for a record: of its header) [bytes] */
    readonly byteOffset?: number,
  ) {
    const where = record !== undefined ? `record ${record} at byte ${byteOffset}: ` : byteOffset !== undefined ? `byte ${byteOffset}: ` : "";
    super(`${source}: ${where}${detail}`);
    this.name = "PcapFormatError";
  }
}

function hex32(x: number): string {
  return `0x${x.toString(16).padStart(8, "0")}`;
}

/**
 * Parses a classic pcap file of either byte order and either timestamp resolution.
 * `sourceName` (usually the file name) starts every error message.
 */
export function readPcap(bytes: Uint8Array, sourceName = "<pcap>"): PcapFile {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) {
    throw new PcapFormatError(sourceName, `not a pcap file (only ${bytes.length} bytes)`);
  }
  const magicBE = dv.getUint32(0, false);
  let little: boolean;
  let nanosecond: boolean;
  switch (dv.getUint32(0, true)) {
    case MAGIC_US:
      [little, nanosecond] = [true, false];
      break;
    case MAGIC_NS:
      [little, nanosecond] = [true, true];
      break;
    default:
      if (magicBE === MAGIC_US) [little, nanosecond] = [false, false];
      else if (magicBE === MAGIC_NS) [little, nanosecond] = [false, true];
      else if (magicBE === MAGIC_PCAPNG) {
        throw new PcapFormatError(sourceName, "this is a pcapng file; only classic pcap is supported (convert with editcap -F pcap)");
      } else throw new PcapFormatError(sourceName, `not a pcap file (magic ${hex32(magicBE)})`);
  }
  if (bytes.length < FILE_HEADER_BYTES) {
    throw new PcapFormatError(sourceName, `truncated file header (needs ${FILE_HEADER_BYTES} bytes, ${bytes.length} present)`, undefined, 0);
  }
  const major = dv.getUint16(4, little);
  const minor = dv.getUint16(6, little);
  if (major !== 2) {
    throw new PcapFormatError(sourceName, `unsupported pcap version ${major}.${minor} (expected 2.x)`, undefined, 4);
  }
  const snaplen = dv.getUint32(16, little);
  const linkType = dv.getUint32(20, little) & 0xffff; // upper bits carry FCS information
  const fracScale = nanosecond ? 1 : 1000;
  const fracLimit = nanosecond ? 1e9 : 1e6;

  const packets: PcapPacket[] = [];
  let off = FILE_HEADER_BYTES;
  for (let record = 1; off < bytes.length; record++) {
    const left = bytes.length - off;
    if (left < RECORD_HEADER_BYTES) {
      throw new PcapFormatError(sourceName, `truncated record header (needs ${RECORD_HEADER_BYTES} bytes, ${left} left)`, record, off);
    }
    const seconds = dv.getUint32(off, little);
    const frac = dv.getUint32(off + 4, little);
    const incl = dv.getUint32(off + 8, little);
    const orig = dv.getUint32(off + 12, little);
    if (frac >= fracLimit) {
      throw new PcapFormatError(sourceName, `timestamp fraction ${frac} is not below ${fracLimit}`, record, off);
    }
    const dataLeft = left - RECORD_HEADER_BYTES;
    if (incl > dataLeft) {
      throw new PcapFormatError(sourceName, `truncated (needs ${incl} bytes, ${dataLeft} left)`, record, off);
    }
    const nanoseconds = frac * fracScale;
    const start = off + RECORD_HEADER_BYTES;
    packets.push({
      timestampNs: seconds * 1e9 + nanoseconds,
      seconds,
      nanoseconds,
      data: bytes.subarray(start, start + incl),
      originalLength: orig,
    });
    off = start + incl;
  }
  return { linkType, nanosecond, snaplen, byteOrder: little ? "little" : "big", packets };
}

// ---- ERF (Endace Extensible Record Format), for LINKTYPE_ERF ---------------------------

/** ERF record type of an InfiniBand packet (from the LRH) */
export const ERF_TYPE_INFINIBAND = 21;
/** ERF flags bit 2: varying-length record (no padding to a fixed size) */
export const ERF_FLAG_VLEN = 0x04;
const ERF_HEADER_BYTES = 16;

/**
 * An ERF type 21 (InfiniBand) record, the payload of a LINKTYPE_ERF (197) pcap packet:
 *
 *   ts u64 LE (seconds << 32 | binary fraction of a second) | type u8 = 21
 *   | flags u8 = 0x04 (vlen) | rlen u16 BE = 16 + length | lctr u16 BE = 0 (loss counter)
 *   | wlen u16 BE = length | the IB packet
 *
 * The fraction is truncated: ERF resolves 2^-32 s ≈ 233 ps.
 */
export function erfInfinibandRecord(timestampPs: Picoseconds, ibPacket: Uint8Array): Uint8Array {
  if (!(Number.isSafeInteger(timestampPs) && timestampPs >= 0)) {
    throw new RangeError(`erfInfinibandRecord: timestamp must be a whole number of picoseconds ≥ 0, got ${timestampPs}`);
  }
  const rlen = ERF_HEADER_BYTES + ibPacket.length;
  if (rlen > 0xffff) {
    throw new RangeError(`erfInfinibandRecord: a ${ibPacket.length}-byte packet does not fit an ERF record (max ${0xffff - ERF_HEADER_BYTES})`);
  }
  const out = new Uint8Array(rlen);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, erfTimestamp(timestampPs), true);
  out[8] = ERF_TYPE_INFINIBAND;
  out[9] = ERF_FLAG_VLEN;
  dv.setUint16(10, rlen, false);
  dv.setUint16(12, 0, false);
  dv.setUint16(14, ibPacket.length, false);
  out.set(ibPacket, ERF_HEADER_BYTES);
  return out;
}

/** ERF 64-bit fixed-point timestamp: whole seconds in the upper 32 bits, the binary fraction below */
export function erfTimestamp(timestampPs: Picoseconds): bigint {
  const ps = BigInt(timestampPs);
  const seconds = ps / 1_000_000_000_000n;
  const fraction = ((ps % 1_000_000_000_000n) << 32n) / 1_000_000_000_000n;
  return (seconds << 32n) | fraction;
}

export interface ErfHeader {
  /** capture time, rounded to the picosecond [ps] */
  timestampPs: number;
  type: number;
  flags: number;
  /** record length including this header [bytes] */
  rlen: number;
  /** loss counter */
  lctr: number;
  /** wire length [bytes] */
  wlen: number;
}

/** decodes the 16-byte ERF header at the start of `record` */
export function readErfHeader(record: Uint8Array): ErfHeader {
  if (record.length < ERF_HEADER_BYTES) {
    throw new RangeError(`readErfHeader: needs ${ERF_HEADER_BYTES} bytes, got ${record.length}`);
  }
  const dv = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const ts = dv.getBigUint64(0, true);
  const fracPs = ((ts & 0xffff_ffffn) * 1_000_000_000_000n + (1n << 31n)) >> 32n;
  return {
    timestampPs: Number((ts >> 32n) * 1_000_000_000_000n + fracPs),
    type: record[8],
    flags: record[9],
    rlen: dv.getUint16(10, false),
    lctr: dv.getUint16(12, false),
    wlen: dv.getUint16(14, false),
  };
}
