/**
 * The RoCEv2 invariant CRC (ICRC): functional model.
 *
 * The ICRC (IBTA Vol 1 §7.8.1, carried over to RoCEv2 by Annex A17) is the Ethernet
 * CRC-32 over the fields no router may change: for RoCEv2, 8 bytes of 0xFF standing for
 * the (absent) IB LRH, then the IP header, UDP header, BTH and the rest of the packet
 * (extension headers, payload, pad), with every variant field replaced by all ones.
 * The Ethernet header is not covered. It is sent after the pad, before the FCS,
 * least-significant byte first (the same byte order as the FCS; checked against
 * /work/shared/vectors/roce_icrc.json).
 *
 * Frames here start at the Ethernet destination MAC and carry no FCS. Only untagged
 * frames are handled: a VLAN-tagged frame is classified "not RoCEv2" (reason
 * "vlan-tagged"), as the RTL block does, because the RTL takes the IP header at a fixed
 * offset.
 */
import { crc32Update } from "../../core/crc.ts";
import type { Layout } from "../../core/layout.ts";
import { Bth } from "../headers/bth.ts";
import { Ethernet, EtherType } from "../headers/ethernet.ts";
import { IpProtocol, Ipv4 } from "../headers/ipv4.ts";
import { Ipv6 } from "../headers/ipv6.ts";
import { ICRC_BYTES, ROCEV2_IPV4, ROCEV2_IPV6, type Rocev2Offsets } from "../headers/rocev2.ts";
import { ROCEV2_UDP_PORT, Udp } from "../headers/udp.ts";

/**
 * The variant fields, masked to all ones before the CRC (IBTA Vol 1 §7.8.1 and Annex
 * A17): what routers rewrite (TOS/traffic class, TTL/hop limit, IPv4 checksum, flow
 * label), the UDP checksum (may be zero or recomputed), and the BTH byte that holds
 * FECN/BECN (resv8a). Declared once: the TS model and the RTL masks derive from this.
 */
export const ICRC_VARIANT_FIELDS: readonly { readonly layout: Layout; readonly fields: readonly string[] }[] = [
  { layout: Ipv4, fields: ["dscp", "ecn", "ttl", "headerChecksum"] },
  { layout: Ipv6, fields: ["trafficClass", "flowLabel", "hopLimit"] },
  { layout: Udp, fields: ["checksum"] },
  { layout: Bth, fields: ["fecn", "becn", "resv6"] },
];

/** the register after the pseudo LRH (8 bytes of 0xFF) from the usual all-ones start */
export const ICRC_SEED = crc32Update(0xffffffff, new Uint8Array(8).fill(0xff));

/**
 * The register after a correct frame *and its ICRC* have been shifted in: the CRC-32
 * residue. Checking against it needs no knowledge of where the ICRC starts.
 */
export const ICRC_RESIDUE = 0xdebb20e3;

/** Status values of the block's output `status` user field (rtl-models/icrc/block.yaml). */
export const IcrcStatus = {
  /** generate mode: ICRC appended; check mode: ICRC correct */
  ok: 0,
  /** check mode: the trailing ICRC is wrong */
  icrcBad: 1,
  /** not a RoCEv2 frame this block handles: passed through unchanged */
  notRocev2: 2,
  /** too short for the headers (and, in check mode, the ICRC): passed through unchanged */
  runt: 3,
} as const;
export type IcrcStatusValue = (typeof IcrcStatus)[keyof typeof IcrcStatus];

export type NotRocev2Reason =
  | "not-ip"
  | "vlan-tagged"
  | "ip-version"
  | "ipv4-options"
  | "ipv4-fragment"
  | "not-udp"
  | "not-rocev2-port";

export type RoceClass =
  | { readonly kind: "rocev2"; readonly offsets: Rocev2Offsets }
  | { readonly kind: "not-rocev2"; readonly reason: NotRocev2Reason; readonly detail: string }
  | { readonly kind: "runt"; readonly length: number; readonly needed: number; readonly detail: string };

/** Bit mask (network bit order) of the named fields of `layout`, one byte per header byte. */
export function fieldMask(layout: Layout, fields: readonly string[]): Uint8Array {
  const mask = new Uint8Array(layout.sizeBytes);
  for (const name of fields) {
    const f = layout.field(name);
    for (let b = f.bitOffset; b < f.bitOffset + f.bits; b++) mask[b >>> 3] |= 0x80 >>> (b & 7);
  }
  return mask;
}

function variantFieldsOf(layout: Layout): readonly string[] {
  return ICRC_VARIANT_FIELDS.find((v) => v.layout === layout)?.fields ?? [];
}

/**
 * The all-ones mask of the ICRC-covered header bytes (IP, UDP, BTH) of a frame, indexed
 * from the IP header: byte i of the covered headers is OR-ed with mask[i].
 */
export function icrcHeaderMask(ipVersion: 4 | 6): Uint8Array {
  const off = ipVersion === 4 ? ROCEV2_IPV4 : ROCEV2_IPV6;
  const ip = ipVersion === 4 ? Ipv4 : Ipv6;
  const mask = new Uint8Array(off.afterBth - off.ip);
  mask.set(fieldMask(ip, variantFieldsOf(ip)), 0);
  mask.set(fieldMask(Udp, variantFieldsOf(Udp)), off.udp - off.ip);
  mask.set(fieldMask(Bth, variantFieldsOf(Bth)), off.bth - off.ip);
  return mask;
}

const HEADER_MASK_V4 = icrcHeaderMask(4);
const HEADER_MASK_V6 = icrcHeaderMask(6);
/** scratch for the masked header copy (the model runs on one thread) */
const scratch = new Uint8Array(HEADER_MASK_V6.length);

const ETHERTYPE_AT = Ethernet.field("etherType").byteOffset;
const V4 = {
  versionIhl: ROCEV2_IPV4.ip + Ipv4.field("version").byteOffset,
  flagsFragment: ROCEV2_IPV4.ip + Ipv4.field("reserved").byteOffset,
  protocol: ROCEV2_IPV4.ip + Ipv4.field("protocol").byteOffset,
  dstPort: ROCEV2_IPV4.udp + Udp.field("dstPort").byteOffset,
};
const V6 = {
  version: ROCEV2_IPV6.ip + Ipv6.field("version").byteOffset,
  nextHeader: ROCEV2_IPV6.ip + Ipv6.field("nextHeader").byteOffset,
  dstPort: ROCEV2_IPV6.udp + Udp.field("dstPort").byteOffset,
};

/**
 * Why a frame is or is not a RoCEv2 frame this block handles. Decided in this order,
 * exactly as the RTL does: shorter than an Ethernet header → runt; EtherType neither
 * IPv4 nor IPv6 → not RoCEv2 (a VLAN tag is reported as such); shorter than the RoCEv2
 * headers (plus the ICRC when `icrcPresent`) → runt; then IPv4 version/IHL ≠ 4/5,
 * IPv4 fragment (MF or offset ≠ 0), IPv6 version ≠ 6, protocol/next header ≠ UDP,
 * UDP destination port ≠ 4791 → not RoCEv2.
 */
export function classifyRoce(frame: Uint8Array, opts: { icrcPresent?: boolean } = {}): RoceClass {
  const len = frame.length;
  if (len < Ethernet.sizeBytes) {
    return { kind: "runt", length: len, needed: Ethernet.sizeBytes, detail: `${len} bytes, shorter than an Ethernet header` };
  }
  const etherType = (frame[ETHERTYPE_AT] << 8) | frame[ETHERTYPE_AT + 1];
  let offsets: Rocev2Offsets;
  if (etherType === EtherType.ipv4) offsets = ROCEV2_IPV4;
  else if (etherType === EtherType.ipv6) offsets = ROCEV2_IPV6;
  else if (etherType === EtherType.vlan || etherType === EtherType.qinq) {
    return { kind: "not-rocev2", reason: "vlan-tagged", detail: `VLAN-tagged (TPID 0x${hex16(etherType)}); only untagged frames are handled` };
  } else {
    return { kind: "not-rocev2", reason: "not-ip", detail: `EtherType 0x${hex16(etherType)} is neither IPv4 nor IPv6` };
  }
  const needed = offsets.afterBth + (opts.icrcPresent ? ICRC_BYTES : 0);
  if (len < needed) {
    return {
      kind: "runt",
      length: len,
      needed,
      detail: `${len} bytes, shorter than the IPv${offsets.ipVersion} RoCEv2 headers${opts.icrcPresent ? " and ICRC" : ""} (${needed})`,
    };
  }
  let dstPort: number;
  if (offsets.ipVersion === 4) {
    const vi = frame[V4.versionIhl];
    if (vi >>> 4 !== 4) return { kind: "not-rocev2", reason: "ip-version", detail: `IPv4 EtherType but IP version ${vi >>> 4}` };
    if ((vi & 0xf) !== 5) return { kind: "not-rocev2", reason: "ipv4-options", detail: `IPv4 IHL ${vi & 0xf} (options present)` };
    // MF flag or a non-zero fragment offset; DF and the reserved bit do not matter.
    if ((frame[V4.flagsFragment] & 0x3f) !== 0 || frame[V4.flagsFragment + 1] !== 0) {
      return { kind: "not-rocev2", reason: "ipv4-fragment", detail: "IPv4 fragment" };
    }
    if (frame[V4.protocol] !== IpProtocol.udp) {
      return { kind: "not-rocev2", reason: "not-udp", detail: `IPv4 protocol ${frame[V4.protocol]} is not UDP` };
    }
    dstPort = (frame[V4.dstPort] << 8) | frame[V4.dstPort + 1];
  } else {
    const v = frame[V6.version] >>> 4;
    if (v !== 6) return { kind: "not-rocev2", reason: "ip-version", detail: `IPv6 EtherType but IP version ${v}` };
    if (frame[V6.nextHeader] !== IpProtocol.udp) {
      return { kind: "not-rocev2", reason: "not-udp", detail: `IPv6 next header ${frame[V6.nextHeader]} is not UDP` };
    }
    dstPort = (frame[V6.dstPort] << 8) | frame[V6.dstPort + 1];
  }
  if (dstPort !== ROCEV2_UDP_PORT) {
    return { kind: "not-rocev2", reason: "not-rocev2-port", detail: `UDP destination port ${dstPort} is not ${ROCEV2_UDP_PORT}` };
  }
  return { kind: "rocev2", offsets };
}

function hex16(v: number): string {
  return v.toString(16).padStart(4, "0");
}

/** The raw CRC register over the ICRC-covered bytes of frame[0, end). */
function icrcRegister(frame: Uint8Array, off: Rocev2Offsets, end: number): number {
  const mask = off.ipVersion === 4 ? HEADER_MASK_V4 : HEADER_MASK_V6;
  const n = mask.length;
  for (let i = 0; i < n; i++) scratch[i] = frame[off.ip + i] | mask[i];
  const s = crc32Update(ICRC_SEED, scratch, 0, n);
  return crc32Update(s, frame, off.afterBth, end);
}

function requireRocev2(frame: Uint8Array, icrcPresent: boolean, fn: string): Rocev2Offsets {
  const c = classifyRoce(frame, { icrcPresent });
  if (c.kind !== "rocev2") throw new Error(`${fn}: not a RoCEv2 frame: ${c.detail}`);
  return c.offsets;
}

/**
 * The ICRC of a RoCEv2 frame (Ethernet header through pad; no ICRC, no FCS), as a
 * number; on the wire it goes least-significant byte first (see icrcBytes).
 * Throws, saying why, if the frame is not RoCEv2.
 */
export function computeIcrc(frame: Uint8Array): number {
  const off = requireRocev2(frame, false, "computeIcrc");
  return ~icrcRegister(frame, off, frame.length) >>> 0;
}

/** The 4 ICRC bytes in wire order. */
export function icrcBytes(frame: Uint8Array): Uint8Array {
  const c = computeIcrc(frame);
  return Uint8Array.of(c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24);
}

/** A new frame: `frame` followed by its ICRC. */
export function appendIcrc(frame: Uint8Array): Uint8Array {
  return withIcrc(frame, computeIcrc(frame));
}

function withIcrc(frame: Uint8Array, crc: number): Uint8Array {
  const out = new Uint8Array(frame.length + ICRC_BYTES);
  out.set(frame);
  const n = frame.length;
  out[n] = crc;
  out[n + 1] = crc >>> 8;
  out[n + 2] = crc >>> 16;
  out[n + 3] = crc >>> 24;
  return out;
}

/**
 * True if the frame (ending with its 4 ICRC bytes) is RoCEv2 and its ICRC is correct;
 * false for a wrong ICRC and for a frame that is not RoCEv2 (it has no ICRC to check).
 */
export function checkIcrc(frameWithIcrc: Uint8Array): boolean {
  const c = classifyRoce(frameWithIcrc, { icrcPresent: true });
  if (c.kind !== "rocev2") return false;
  // Over the data and its ICRC the register lands on the residue: no need to split them.
  return icrcRegister(frameWithIcrc, c.offsets, frameWithIcrc.length) === ICRC_RESIDUE;
}

/**
 * What the icrc block does to one frame, as data: the output bytes and status.
 * `check` selects check mode (the frame ends with its ICRC) or generate mode.
 */
export function icrcBlockFunction(frame: Uint8Array, check: boolean): { data: Uint8Array; status: IcrcStatusValue } {
  const c = classifyRoce(frame, { icrcPresent: check });
  if (c.kind === "runt") return { data: frame, status: IcrcStatus.runt };
  if (c.kind === "not-rocev2") return { data: frame, status: IcrcStatus.notRocev2 };
  if (check) {
    const ok = icrcRegister(frame, c.offsets, frame.length) === ICRC_RESIDUE;
    return { data: frame, status: ok ? IcrcStatus.ok : IcrcStatus.icrcBad };
  }
  return { data: withIcrc(frame, ~icrcRegister(frame, c.offsets, frame.length) >>> 0), status: IcrcStatus.ok };
}
