/**
 * RoCEv2 framing (IBTA Annex A17): a transport packet (BTH … pad) in
 *
 *   | Ethernet (14) | IPv4 (20) or IPv6 (40) | UDP → 4791 (8) | BTH … pad | ICRC (4) | [pad] | FCS (4) |
 *
 * and the parser that takes it apart again with a verdict per check.
 *
 * The sender side (RoceFramer) keeps one header template per path (address vector) and
 * per packet writes only the lengths, the IPv4 header checksum and the UDP source port.
 * IPv4 is sent with DF set and identification 0 by default (an atomic datagram, RFC 6864); the
 * UDP checksum is 0 (not computed), as RoCEv2 senders do. Frames whose ICRC ends before
 * byte 60 are padded with zeros to the Ethernet minimum before the FCS.
 *
 * CRCs: the ICRC and the FCS both cover the payload after the BTH; they are computed in
 * one pass over it (the register is linear: see crc32Shift), the headers apart.
 */
import { crc32Shift, crc32Update } from "../../core/crc.ts";
import { Bth } from "../headers/bth.ts";
import { Ethernet, EtherType } from "../headers/ethernet.ts";
import { IpProtocol, Ipv4, ipv4HeaderChecksum } from "../headers/ipv4.ts";
import { Ipv6 } from "../headers/ipv6.ts";
import { ICRC_BYTES, ROCEV2_IPV4, ROCEV2_IPV6 } from "../headers/rocev2.ts";
import { ROCEV2_UDP_PORT, Udp } from "../headers/udp.ts";
import { ICRC_RESIDUE, ICRC_SEED, icrcHeaderMask, type NotRocev2Reason } from "../icrc/icrc.ts";
import {
  formatGid,
  type Gid,
  gidIpv4,
  ipv4MappedGid,
  isIpv4MappedGid,
  type Mac,
  type NeighbourTable,
  parseGid,
  parseMac,
  resolveDestMac,
  rocev2SourcePort,
} from "./addresses.ts";
import { type CrcMode, Frame, type FrameCodec } from "./frame.ts";
import { ETHERNET_MIN_FRAME, FCS_BYTES } from "./speeds.ts";

/** an Ethernet frame without its FCS is at least this long (shorter ones are padded) */
const MIN_WITHOUT_FCS = ETHERNET_MIN_FRAME - FCS_BYTES;
const IP_AT = Ethernet.sizeBytes;
const ETHERTYPE_AT = Ethernet.field("etherType").byteOffset;
const CRC32_RESIDUE = ICRC_RESIDUE; // the CRC-32 residue, the same for the FCS
const MASK_V4 = icrcHeaderMask(4);
const MASK_V6 = icrcHeaderMask(6);
/** masked copy of IP + UDP + BTH for the ICRC (the model runs on one thread) */
const scratch = new Uint8Array(MASK_V6.length);

/** bytes of an Ethernet + IPv4 + UDP head (42) or Ethernet + IPv6 + UDP head (62) */
export const ROCEV2_HEAD_BYTES = { 4: ROCEV2_IPV4.bth, 6: ROCEV2_IPV6.bth } as const;

function padBytes(headBytes: number, packetBytes: number): number {
  const n = headBytes + packetBytes + ICRC_BYTES;
  return n < MIN_WITHOUT_FCS ? MIN_WITHOUT_FCS - n : 0;
}

/**
 * The registers the ICRC and the FCS have reached at the ICRC, in one pass over the
 * payload after the BTH: [icrc register, fcs register]. `img` holds head and packet.
 */
function crcsAtIcrc(img: Uint8Array, headBytes: number, packetBytes: number): [number, number] {
  const mask = headBytes === ROCEV2_HEAD_BYTES[4] ? MASK_V4 : MASK_V6;
  const n = mask.length; // IP + UDP + BTH
  for (let i = 0; i < n; i++) scratch[i] = img[IP_AT + i]! | mask[i]!;
  const icrcHead = crc32Update(ICRC_SEED, scratch, 0, n);
  const afterBth = headBytes + Bth.sizeBytes;
  const fcsHead = crc32Update(0xffffffff, img, 0, afterBth);
  const icrcAt = headBytes + packetBytes;
  const icrcReg = crc32Update(icrcHead, img, afterBth, icrcAt);
  // The registers differ only by where they started: shift that difference over the payload.
  return [icrcReg, (icrcReg ^ crc32Shift(icrcHead ^ fcsHead, icrcAt - afterBth)) >>> 0];
}

function writeLe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

function readLe32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** RoCEv2 frames: trailer = ICRC, zero padding to 60 bytes, FCS */
export const ROCEV2_CODEC: FrameCodec = Object.freeze({
  format: "rocev2" as const,
  trailerBytes(headBytes: number, packetBytes: number): number {
    return ICRC_BYTES + padBytes(headBytes, packetBytes) + FCS_BYTES;
  },
  writeTrailer(img: Uint8Array, headBytes: number, packetBytes: number): void {
    const [icrcReg, fcsReg] = crcsAtIcrc(img, headBytes, packetBytes);
    const icrcAt = headBytes + packetBytes;
    writeLe32(img, icrcAt, ~icrcReg);
    const fcsAt = img.length - FCS_BYTES; // the padding between is already zero
    writeLe32(img, fcsAt, ~crc32Update(fcsReg, img, icrcAt, fcsAt));
  },
  linkCrcOk(img: Uint8Array): boolean {
    return img.length >= FCS_BYTES && crc32Update(0xffffffff, img) === CRC32_RESIDUE;
  },
});

// ---- sender ----------------------------------------------------------------------------

/** Where a RoCEv2 packet goes and how (a RoCE address vector). */
export interface RocePath {
  srcMac: Mac | string;
  /** default: resolved from dstGid (multicast mapping, link-local EUI-64, neighbour table) */
  dstMac?: Mac | string;
  /** an IPv4-mapped GID (::ffff:a.b.c.d) sends IPv4; any other GID sends IPv6 */
  srcGid: Gid | string;
  dstGid: Gid | string;
  /** the sending QP; with the packet's destination QP it makes the UDP source port (UD packets use the DETH's source QP) */
  localQpn?: number;
  /** a fixed UDP source port instead of the derived one */
  udpSrcPort?: number;
  /** differentiated services code point, 0..63; default 0 */
  dscp?: number;
  /** ECN codepoint, 0..3 (2 = ECT(0)); default 0 */
  ecn?: number;
  /** IPv4 TTL / IPv6 hop limit; default 64 */
  hopLimit?: number;
  /** IPv6 flow label (and, if non-zero, the source of the UDP source port); default 0 */
  flowLabel?: number;
  /** IPv4 identification; default 0 (with DF set the field identifies nothing, RFC 6864) */
  ipv4Identification?: number;
  /** IPv4 don't-fragment flag; default true */
  dontFragment?: boolean;
}

export interface RoceFramerOptions {
  /** for destination GIDs that need a neighbour entry */
  neighbours?: NeighbourTable;
}

const asMac = (m: Mac | string): Mac => (typeof m === "string" ? parseMac(m) : m);
const asGid = (g: Gid | string): Gid => (typeof g === "string" ? parseGid(g) : g);

const V4_TOTAL_LENGTH = IP_AT + Ipv4.field("totalLength").byteOffset;
const V4_CHECKSUM = IP_AT + Ipv4.field("headerChecksum").byteOffset;
const V6_PAYLOAD_LENGTH = IP_AT + Ipv6.field("payloadLength").byteOffset;
const BTH_OPCODE = Bth.field("opcode").byteOffset;
/** frame offsets the parser reads, from the layouts */
const P = {
  v4Flags: IP_AT + Ipv4.field("reserved").byteOffset,
  v4Protocol: IP_AT + Ipv4.field("protocol").byteOffset,
  v6NextHeader: IP_AT + Ipv6.field("nextHeader").byteOffset,
  udpDstPort: Udp.field("dstPort").byteOffset,
  udpLength: Udp.field("length").byteOffset,
};
const BTH_DEST_QP = Bth.field("destQp").byteOffset;
/** UD opcodes (0x60–0x7f) carry a DETH right after the BTH; its source QP is in bytes 5..7 */
const DETH_SRC_QP = Bth.sizeBytes + 5;

/** Frames transport packets for one path. */
export class RoceFramer {
  readonly ipVersion: 4 | 6;
  readonly headBytes: number;
  readonly srcGid: Gid;
  readonly dstGid: Gid;
  readonly dstMac: Mac;
  private readonly template: Uint8Array;
  private readonly udpAt: number;
  /** IPv4: ones'-complement sum of the template's header words (length and checksum zero) */
  private readonly v4Sum: number;
  private readonly localQpn: number | undefined;
  private readonly fixedSport: number | undefined;
  private readonly flowLabel: number;
  private lastQpPair = -1;
  private lastSport = 0;

  constructor(path: RocePath, opts: RoceFramerOptions = {}) {
    this.srcGid = asGid(path.srcGid);
    this.dstGid = asGid(path.dstGid);
    const v4 = isIpv4MappedGid(this.srcGid);
    if (v4 !== isIpv4MappedGid(this.dstGid)) {
      throw new RangeError(`RoCEv2 path ${formatGid(this.srcGid)} → ${formatGid(this.dstGid)}: one GID is IPv4-mapped and the other is not`);
    }
    this.ipVersion = v4 ? 4 : 6;
    this.headBytes = ROCEV2_HEAD_BYTES[this.ipVersion];
    this.dstMac = path.dstMac !== undefined ? asMac(path.dstMac) : resolveDestMac(this.dstGid, opts.neighbours);
    const dscp = path.dscp ?? 0;
    const ecn = path.ecn ?? 0;
    const hopLimit = path.hopLimit ?? 64;
    if (!(Number.isInteger(dscp) && dscp >= 0 && dscp <= 63 && Number.isInteger(ecn) && ecn >= 0 && ecn <= 3)) {
      throw new RangeError(`RoCEv2 path: dscp ${dscp} must be 0..63 and ecn ${ecn} 0..3`);
    }
    this.flowLabel = path.flowLabel ?? 0;
    this.localQpn = path.localQpn;
    this.fixedSport = path.udpSrcPort;

    const t = new Uint8Array(this.headBytes);
    Ethernet.encode({ dst: this.dstMac, src: asMac(path.srcMac), etherType: v4 ? EtherType.ipv4 : EtherType.ipv6 }, t, 0);
    if (v4) {
      Ipv4.encode(
        { version: 4, ihl: 5, dscp, ecn, identification: path.ipv4Identification ?? 0, dontFragment: path.dontFragment === false ? 0 : 1, ttl: hopLimit, protocol: IpProtocol.udp, src: gidIpv4(this.srcGid), dst: gidIpv4(this.dstGid) },
        t,
        IP_AT,
      );
    } else {
      Ipv6.encode(
        { version: 6, trafficClass: (dscp << 2) | ecn, flowLabel: this.flowLabel, nextHeader: IpProtocol.udp, hopLimit, src: this.srcGid, dst: this.dstGid },
        t,
        IP_AT,
      );
    }
    this.udpAt = this.headBytes - Udp.sizeBytes;
    Udp.encode({ srcPort: this.fixedSport ?? 0, dstPort: ROCEV2_UDP_PORT, length: 0, checksum: 0 }, t, this.udpAt);
    this.template = t;
    let sum = 0;
    for (let i = 0; i < Ipv4.sizeBytes; i += 2) sum += (t[IP_AT + i]! << 8) | t[IP_AT + i + 1]!;
    this.v4Sum = sum;
  }

  /** the UDP source port this framer puts on a packet to `destQp` from `srcQp` */
  private sourcePort(packet: Uint8Array): number {
    if (this.fixedSport !== undefined) return this.fixedSport;
    const destQp = (packet[BTH_DEST_QP]! << 16) | (packet[BTH_DEST_QP + 1]! << 8) | packet[BTH_DEST_QP + 2]!;
    let local = this.localQpn;
    if ((packet[BTH_OPCODE]! & 0xe0) === 0x60 && packet.length >= DETH_SRC_QP + 3) {
      local = (packet[DETH_SRC_QP]! << 16) | (packet[DETH_SRC_QP + 1]! << 8) | packet[DETH_SRC_QP + 2]!;
    }
    if (local === undefined) {
      throw new RangeError("RoCEv2 path: the UDP source port needs localQpn (or udpSrcPort) for a packet that is not UD");
    }
    const pair = local * 0x100_0000 + destQp;
    if (pair !== this.lastQpPair) {
      this.lastQpPair = pair;
      this.lastSport = rocev2SourcePort(local, destQp, this.flowLabel);
    }
    return this.lastSport;
  }

  /**
   * The frame of one transport packet (BTH … pad, a multiple of 4 bytes). The packet is
   * referenced, not copied: do not change it afterwards.
   */
  frame(packet: Uint8Array): Frame {
    const p = packet.length;
    if (p < Bth.sizeBytes || (p & 3) !== 0) {
      throw new RangeError(`RoCEv2 framing: a transport packet is a BTH and more, padded to 4 bytes; got ${p} bytes`);
    }
    const udpLength = Udp.sizeBytes + p + ICRC_BYTES;
    const h = this.template.slice();
    if (this.ipVersion === 4) {
      const total = Ipv4.sizeBytes + udpLength;
      if (total > 0xffff) throw new RangeError(`RoCEv2 framing: a ${p}-byte packet does not fit an IPv4 datagram`);
      h[V4_TOTAL_LENGTH] = total >>> 8;
      h[V4_TOTAL_LENGTH + 1] = total;
      let sum = this.v4Sum + total;
      sum = (sum & 0xffff) + (sum >>> 16);
      sum = (sum & 0xffff) + (sum >>> 16);
      const csum = ~sum & 0xffff;
      h[V4_CHECKSUM] = csum >>> 8;
      h[V4_CHECKSUM + 1] = csum;
    } else {
      if (udpLength > 0xffff) throw new RangeError(`RoCEv2 framing: a ${p}-byte packet does not fit an IPv6 payload`);
      h[V6_PAYLOAD_LENGTH] = udpLength >>> 8;
      h[V6_PAYLOAD_LENGTH + 1] = udpLength;
    }
    const sport = this.sourcePort(packet);
    const u = this.udpAt;
    h[u] = sport >>> 8;
    h[u + 1] = sport;
    h[u + 4] = udpLength >>> 8;
    h[u + 5] = udpLength;
    return new Frame(ROCEV2_CODEC, h, packet);
  }
}

/** One packet, one frame: a RoceFramer made for it (keep a framer per path for speed). */
export function frameRoce(packet: Uint8Array, path: RocePath, opts: RoceFramerOptions = {}): Frame {
  return new RoceFramer(path, opts).frame(packet);
}

// ---- receiver --------------------------------------------------------------------------

/**
 * What a receiving RoCEv2 port concludes, first failure wins, in the order a NIC checks:
 * runt, FCS, then the headers (not IP … wrong UDP port), the IPv4 header checksum, the
 * lengths, and last the ICRC.
 */
export type RoceVerdict =
  | "ok"
  | "runt"
  | "fcs-bad"
  | Exclude<NotRocev2Reason, "not-rocev2-port">
  | "wrong-udp-port"
  | "ipv4-checksum-bad"
  | "length-mismatch"
  | "icrc-bad";

/** The addresses of a received frame, read from its headers on demand. */
export class RoceAddresses {
  constructor(
    private readonly buf: Uint8Array,
    readonly ipVersion: 4 | 6,
  ) {}
  /** the IPv4 (20 bytes) or IPv6 (40 bytes) header as received: a view into the frame */
  get ipHeader(): Uint8Array {
    return this.buf.subarray(IP_AT, IP_AT + (this.ipVersion === 4 ? Ipv4.sizeBytes : Ipv6.sizeBytes));
  }
  get dstMac(): Mac {
    return this.buf.slice(0, 6);
  }
  get srcMac(): Mac {
    return this.buf.slice(6, 12);
  }
  get srcGid(): Gid {
    return this.ipVersion === 4 ? ipv4MappedGid(Ipv4.get(this.buf, IP_AT, "src")) : Ipv6.getBytes(this.buf, IP_AT, "src");
  }
  get dstGid(): Gid {
    return this.ipVersion === 4 ? ipv4MappedGid(Ipv4.get(this.buf, IP_AT, "dst")) : Ipv6.getBytes(this.buf, IP_AT, "dst");
  }
  get dscp(): number {
    return this.ipVersion === 4 ? Ipv4.get(this.buf, IP_AT, "dscp") : Ipv6.get(this.buf, IP_AT, "trafficClass") >>> 2;
  }
  /** 3 = CE: a switch on the way saw congestion */
  get ecn(): number {
    return this.ipVersion === 4 ? Ipv4.get(this.buf, IP_AT, "ecn") : Ipv6.get(this.buf, IP_AT, "trafficClass") & 3;
  }
  get hopLimit(): number {
    return this.ipVersion === 4 ? Ipv4.get(this.buf, IP_AT, "ttl") : Ipv6.get(this.buf, IP_AT, "hopLimit");
  }
  /** 0 for IPv4 */
  get flowLabel(): number {
    return this.ipVersion === 4 ? 0 : Ipv6.get(this.buf, IP_AT, "flowLabel");
  }
  get udpSrcPort(): number {
    return Udp.get(this.buf, ROCEV2_HEAD_BYTES[this.ipVersion] - Udp.sizeBytes, "srcPort");
  }
}

export interface RoceParse {
  verdict: RoceVerdict;
  /** why, for anything but "ok" */
  detail: string;
  /** each check's result; undefined when it was not made (no FCS, not IPv4, or the frame could not be taken apart) */
  fcsOk?: boolean;
  ipChecksumOk?: boolean;
  icrcOk?: boolean;
  /** once the IP and UDP headers could be read */
  addresses?: RoceAddresses;
  /** the transport packet (BTH … pad), once the lengths are consistent; a view into the frame */
  packet?: Uint8Array;
}

interface HeaderParse {
  verdict: RoceVerdict;
  detail: string;
  ipChecksumOk?: boolean;
  addresses?: RoceAddresses;
  /** where the packet is, when the lengths are consistent */
  headBytes?: number;
  packetBytes?: number;
}

/**
 * Takes apart the headers of a frame `length` bytes long without its FCS; `buf` holds at
 * least its headers (the whole frame, or just a framer's head).
 */
function parseRoceHeaders(buf: Uint8Array, length: number): HeaderParse {
  if (length < Ethernet.sizeBytes) return { verdict: "runt", detail: `${length} bytes, shorter than an Ethernet header` };
  const etherType = (buf[ETHERTYPE_AT]! << 8) | buf[ETHERTYPE_AT + 1]!;
  let ipVersion: 4 | 6;
  if (etherType === EtherType.ipv4) ipVersion = 4;
  else if (etherType === EtherType.ipv6) ipVersion = 6;
  else if (etherType === EtherType.vlan || etherType === EtherType.qinq) {
    return { verdict: "vlan-tagged", detail: `VLAN-tagged (TPID 0x${etherType.toString(16)}); only untagged frames are handled` };
  } else return { verdict: "not-ip", detail: `EtherType 0x${etherType.toString(16).padStart(4, "0")} is neither IPv4 nor IPv6` };
  const headBytes = ROCEV2_HEAD_BYTES[ipVersion];
  const needed = headBytes + Bth.sizeBytes + ICRC_BYTES;
  if (length < needed) return { verdict: "runt", detail: `${length} bytes, shorter than the IPv${ipVersion} RoCEv2 headers, a BTH and the ICRC (${needed})` };
  let ipChecksumOk: boolean | undefined;
  let ipEnd: number;
  if (ipVersion === 4) {
    const vi = buf[IP_AT]!;
    if (vi >>> 4 !== 4) return { verdict: "ip-version", detail: `IPv4 EtherType but IP version ${vi >>> 4}` };
    if ((vi & 0xf) !== 5) return { verdict: "ipv4-options", detail: `IPv4 IHL ${vi & 0xf} (options present)` };
    // MF flag or a non-zero fragment offset; DF and the reserved bit do not matter
    if ((buf[P.v4Flags]! & 0x3f) !== 0 || buf[P.v4Flags + 1] !== 0) return { verdict: "ipv4-fragment", detail: "IPv4 fragment" };
    const proto = buf[P.v4Protocol]!;
    if (proto !== IpProtocol.udp) return { verdict: "not-udp", detail: `IPv4 protocol ${proto} is not UDP` };
    ipChecksumOk = ipv4HeaderChecksum(buf, IP_AT) === ((buf[V4_CHECKSUM]! << 8) | buf[V4_CHECKSUM + 1]!);
    ipEnd = IP_AT + ((buf[V4_TOTAL_LENGTH]! << 8) | buf[V4_TOTAL_LENGTH + 1]!);
  } else {
    const v = buf[IP_AT]! >>> 4;
    if (v !== 6) return { verdict: "ip-version", detail: `IPv6 EtherType but IP version ${v}` };
    const nh = buf[P.v6NextHeader]!;
    if (nh !== IpProtocol.udp) return { verdict: "not-udp", detail: `IPv6 next header ${nh} is not UDP` };
    ipEnd = IP_AT + Ipv6.sizeBytes + ((buf[V6_PAYLOAD_LENGTH]! << 8) | buf[V6_PAYLOAD_LENGTH + 1]!);
  }
  const udpAt = headBytes - Udp.sizeBytes;
  const dstPort = (buf[udpAt + P.udpDstPort]! << 8) | buf[udpAt + P.udpDstPort + 1]!;
  if (dstPort !== ROCEV2_UDP_PORT) {
    return { verdict: "wrong-udp-port", detail: `UDP destination port ${dstPort} is not ${ROCEV2_UDP_PORT}`, ipChecksumOk };
  }
  const addresses = new RoceAddresses(buf, ipVersion);
  // lengths: UDP = IP payload; the frame ends where IP says (or is padded to the minimum); BTH … pad in 4-byte words
  const udpLength = (buf[udpAt + P.udpLength]! << 8) | buf[udpAt + P.udpLength + 1]!;
  const ipPayload = ipEnd - headBytes + Udp.sizeBytes;
  const p = udpLength - Udp.sizeBytes - ICRC_BYTES;
  let lengthProblem = "";
  if (udpLength !== ipPayload) lengthProblem = `UDP length ${udpLength} but IP payload ${ipPayload}`;
  else if (!(length === ipEnd || (ipEnd < MIN_WITHOUT_FCS && length === MIN_WITHOUT_FCS))) lengthProblem = `${length}-byte frame but the IP header says ${ipEnd}`;
  else if (p < Bth.sizeBytes || (p & 3) !== 0) lengthProblem = `UDP length ${udpLength} leaves ${p} bytes for BTH … pad (a multiple of 4, at least ${Bth.sizeBytes})`;
  const located = lengthProblem === "";
  if (ipChecksumOk === false) {
    const detail = `IPv4 header checksum 0x${((buf[V4_CHECKSUM]! << 8) | buf[V4_CHECKSUM + 1]!).toString(16)}, expected 0x${ipv4HeaderChecksum(buf, IP_AT).toString(16)}`;
    return { verdict: "ipv4-checksum-bad", detail, ipChecksumOk, addresses, headBytes: located ? headBytes : undefined, packetBytes: located ? p : undefined };
  }
  if (!located) return { verdict: "length-mismatch", detail: lengthProblem, ipChecksumOk, addresses };
  return { verdict: "ok", detail: "", ipChecksumOk, addresses, headBytes, packetBytes: p };
}

function verdictOf(fcsOk: boolean | undefined, h: HeaderParse, icrcOk: boolean | undefined, fcsDetail: () => string, icrcDetail: () => string): { verdict: RoceVerdict; detail: string } {
  if (fcsOk === false) return { verdict: "fcs-bad", detail: fcsDetail() };
  if (h.verdict !== "ok") return { verdict: h.verdict, detail: h.detail };
  if (icrcOk === false) return { verdict: "icrc-bad", detail: icrcDetail() };
  return { verdict: "ok", detail: "" };
}

const hex32 = (v: number) => (v >>> 0).toString(16).padStart(8, "0");

/**
 * Takes a RoCEv2 frame apart from its bytes, recomputing every check: Ethernet
 * destination MAC first, ending with the FCS unless `fcs` is false (a capture without
 * it), possibly padded to the Ethernet minimum.
 */
export function parseRoceFrame(bytes: Uint8Array, opts: { fcs?: boolean } = {}): RoceParse {
  const fcs = opts.fcs ?? true;
  const fcsBytes = fcs ? FCS_BYTES : 0;
  if (bytes.length < Ethernet.sizeBytes + fcsBytes) {
    return { verdict: "runt", detail: `${bytes.length} bytes, shorter than an Ethernet header${fcs ? " and FCS" : ""}` };
  }
  const length = bytes.length - fcsBytes;
  const h = parseRoceHeaders(bytes, length);
  let fcsOk: boolean | undefined;
  let icrcOk: boolean | undefined;
  let carried = 0;
  let computed = 0;
  if (h.headBytes !== undefined) {
    const icrcAt = h.headBytes + h.packetBytes!;
    const [icrcReg, fcsReg] = crcsAtIcrc(bytes, h.headBytes, h.packetBytes!);
    computed = ~icrcReg >>> 0;
    carried = readLe32(bytes, icrcAt);
    icrcOk = computed === carried;
    if (fcs) fcsOk = crc32Update(fcsReg, bytes, icrcAt, bytes.length) === CRC32_RESIDUE;
  } else if (fcs) {
    fcsOk = crc32Update(0xffffffff, bytes) === CRC32_RESIDUE;
  }
  const v = verdictOf(
    fcsOk,
    h,
    icrcOk,
    () => `FCS ${hex32(readLe32(bytes, length))}, expected ${hex32(~crc32Update(0xffffffff, bytes, 0, length))}`,
    () => `ICRC ${hex32(carried)}, expected ${hex32(computed)}`,
  );
  const out: RoceParse = { ...v, fcsOk, ipChecksumOk: h.ipChecksumOk, icrcOk, addresses: h.addresses };
  if (h.headBytes !== undefined) out.packet = bytes.subarray(h.headBytes, h.headBytes + h.packetBytes!);
  return out;
}

/**
 * What a RoCEv2 port makes of a frame it received. "recompute" parses the wire image
 * (parseRoceFrame); "trusted" does too for a frame corrupted in flight, and for an intact
 * one reads only its headers and takes its CRCs as right (see CrcMode), handing back the
 * sender's packet view.
 */
export function receiveRoce(frame: Frame, mode: CrcMode = "trusted"): RoceParse {
  if (frame.format !== "rocev2") throw new TypeError(`receiveRoce: a ${frame.format} frame is not RoCEv2`);
  if (mode === "recompute" || frame.corrupted) return parseRoceFrame(frame.bytes());
  const h = parseRoceHeaders(frame.head, frame.length - FCS_BYTES);
  const located = h.headBytes !== undefined;
  const out: RoceParse = { verdict: h.verdict, detail: h.detail, fcsOk: true, ipChecksumOk: h.ipChecksumOk, icrcOk: located ? true : undefined, addresses: h.addresses };
  if (located) out.packet = frame.packet;
  return out;
}
