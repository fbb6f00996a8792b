/**
 * Seeded random RoCEv2 frames (IBTA Annex A17): Ethernet II (untagged), IPv4 or IPv6,
 * UDP to port 4791, BTH with a valid opcode, its extension headers (random contents),
 * a payload padded to 4 bytes, and optionally the ICRC. No FCS.
 *
 * Every field a router may change (TOS/traffic class, TTL/hop limit, flow label, the UDP
 * checksum, FECN/BECN) is random, so a model that forgets to mask one fails. Lengths are
 * consistent: IP total/payload length and UDP length count the ICRC whether or not it is
 * appended (a frame without it is a frame whose trailer has not been added yet), and the
 * IPv4 header checksum is correct.
 */
import { Prng } from "../../core/prng.ts";
import {
  appendIcrc,
  Bth,
  BTH_OPCODES,
  Ethernet,
  EtherType,
  ICRC_BYTES,
  IpProtocol,
  Ipv4,
  ipv4HeaderChecksum,
  Ipv6,
  ROCEV2_IPV4,
  ROCEV2_IPV6,
  ROCEV2_UDP_PORT,
  Udp,
  type BthOpcode,
  type Rocev2Offsets,
} from "../../hca/index.ts";

export interface RoceFrameOptions {
  /** share of IPv6 frames, 0..1; default 0.5 */
  ipv6Fraction?: number;
  /** payload length range [bytes], inclusive, for opcodes that carry a payload; default [0, 4096] */
  payloadBytes?: readonly [number, number];
  /** append the 4 ICRC bytes; default false */
  withIcrc?: boolean;
  /** share of frames with one bit flipped after the ICRC was computed, 0..1; default 0 */
  corruptFraction?: number;
  /** opcodes to draw from; default every opcode in BTH_OPCODES */
  opcodes?: readonly BthOpcode[];
}

export interface RoceFrame {
  /** the frame, Ethernet destination MAC first, no FCS */
  data: Uint8Array;
  offsets: Rocev2Offsets;
  opcode: BthOpcode;
  /** payload bytes, excluding the pad */
  payloadBytes: number;
  padBytes: number;
  /** the frame ends with its ICRC */
  withIcrc: boolean;
  /** the frame bit flipped (frame bit = 8 × byte + bit, bit 0 = LSB), or -1 if intact */
  corruptedBit: number;
}

const MAX_PAYLOAD = 1 << 16;

/** Draws random RoCEv2 frames from its own seeded stream. */
export class RoceFrameGenerator {
  private readonly prng: Prng;
  private readonly ipv6Fraction: number;
  private readonly payloadRange: readonly [number, number];
  private readonly withIcrc: boolean;
  private readonly corruptFraction: number;
  private readonly opcodes: readonly BthOpcode[];

  constructor(seed: number | string | Prng, opts: RoceFrameOptions = {}) {
    this.prng = seed instanceof Prng ? seed : new Prng(seed);
    this.ipv6Fraction = fraction(opts.ipv6Fraction ?? 0.5, "ipv6Fraction");
    this.corruptFraction = fraction(opts.corruptFraction ?? 0, "corruptFraction");
    const [lo, hi] = opts.payloadBytes ?? [0, 4096];
    if (!(Number.isInteger(lo) && Number.isInteger(hi) && 0 <= lo && lo <= hi && hi <= MAX_PAYLOAD)) {
      throw new RangeError(`roce-frames: payloadBytes [${lo}, ${hi}] must be integers with 0 ≤ lo ≤ hi ≤ ${MAX_PAYLOAD}`);
    }
    this.payloadRange = [lo, hi];
    this.withIcrc = opts.withIcrc ?? false;
    this.opcodes = opts.opcodes ?? BTH_OPCODES;
    if (this.opcodes.length === 0) throw new RangeError("roce-frames: opcodes is empty");
  }

  next(): RoceFrame {
    const p = this.prng;
    const ipVersion = p.bool(this.ipv6Fraction) ? 6 : 4;
    const off = ipVersion === 4 ? ROCEV2_IPV4 : ROCEV2_IPV6;
    const opcode = p.pick(this.opcodes);
    const payloadBytes = opcode.payload ? p.int(this.payloadRange[0], this.payloadRange[1]) : 0;
    const padBytes = -payloadBytes & 3;
    const afterHeaders = off.afterBth + opcode.headerBytes;
    const frameLen = afterHeaders + payloadBytes + padBytes; // without ICRC
    const udpLength = frameLen + ICRC_BYTES - off.udp;

    const f = new Uint8Array(frameLen);
    // Extension headers and payload are random; the pad is zero.
    p.fill(f.subarray(off.afterBth, afterHeaders + payloadBytes));

    Ethernet.setBytes(f, 0, "dst", unicastMac(p));
    Ethernet.setBytes(f, 0, "src", unicastMac(p));
    Ethernet.set(f, 0, "etherType", ipVersion === 4 ? EtherType.ipv4 : EtherType.ipv6);

    if (ipVersion === 4) {
      Ipv4.encode(
        {
          version: 4,
          ihl: 5,
          dscp: p.int(0, 63),
          ecn: p.int(0, 3),
          totalLength: Ipv4.sizeBytes + udpLength,
          identification: p.int(0, 0xffff),
          dontFragment: p.int(0, 1),
          ttl: p.int(1, 255),
          protocol: IpProtocol.udp,
          src: p.u32(),
          dst: p.u32(),
        },
        f,
        off.ip,
      );
      Ipv4.set(f, off.ip, "headerChecksum", ipv4HeaderChecksum(f, off.ip));
    } else {
      Ipv6.encode(
        {
          version: 6,
          trafficClass: p.int(0, 255),
          flowLabel: p.int(0, 0xfffff),
          payloadLength: udpLength,
          nextHeader: IpProtocol.udp,
          hopLimit: p.int(1, 255),
          src: p.bytes(16),
          dst: p.bytes(16),
        },
        f,
        off.ip,
      );
    }

    Udp.encode({ srcPort: p.int(0xc000, 0xffff), dstPort: ROCEV2_UDP_PORT, length: udpLength, checksum: p.int(0, 0xffff) }, f, off.udp);

    Bth.encode(
      {
        opcode: opcode.opcode,
        solicitedEvent: p.int(0, 1),
        migReq: p.int(0, 1),
        padCount: padBytes,
        pkey: p.int(0, 0xffff),
        fecn: p.int(0, 1),
        becn: p.int(0, 1),
        destQp: p.int(0, 0xffffff),
        ackReq: p.int(0, 1),
        psn: p.int(0, 0xffffff),
      },
      f,
      off.bth,
    );

    const data = this.withIcrc ? appendIcrc(f) : f;
    let corruptedBit = -1;
    if (this.corruptFraction > 0 && p.bool(this.corruptFraction)) {
      // A bit after the UDP header that is neither variant (BTH FECN/BECN/resv6) nor read by
      // the classifier, so the frame stays RoCEv2 and its ICRC no longer matches.
      const variantByte = off.bth + Bth.field("fecn").byteOffset;
      let byte = p.int(off.bth, data.length - 2);
      if (byte >= variantByte) byte++;
      corruptedBit = byte * 8 + p.int(0, 7);
      data[byte] ^= 1 << (corruptedBit & 7);
    }
    return { data, offsets: off, opcode, payloadBytes, padBytes, withIcrc: this.withIcrc, corruptedBit };
  }

  /** the next `count` frames */
  take(count: number): RoceFrame[] {
    return Array.from({ length: count }, () => this.next());
  }
}

/** `count` frames from `seed`: the same seed and options give the same frames. */
export function roceFrames(seed: number | string, count: number, opts: RoceFrameOptions = {}): RoceFrame[] {
  return new RoceFrameGenerator(seed, opts).take(count);
}

/** a random locally administered unicast MAC */
function unicastMac(p: Prng): Uint8Array {
  const mac = p.bytes(6);
  mac[0] = (mac[0] & 0xfc) | 0x02;
  return mac;
}

function fraction(x: number, name: string): number {
  if (!(x >= 0 && x <= 1)) throw new RangeError(`roce-frames: ${name} must be in [0, 1], got ${x}`);
  return x;
}
