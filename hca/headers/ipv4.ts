/**
 * IPv4 header without options (RFC 791 §3.1). RoCEv2 never sends IPv4 options, so a
 * header with IHL ≠ 5 is not handled as RoCEv2 (see hca/icrc classifyRoce).
 */
import { defineLayout } from "../../core/layout.ts";

export const IpProtocol = { udp: 17 } as const;

export const Ipv4 = defineLayout(
  "ipv4",
  [
    { name: "version", bits: 4, doc: "4" },
    { name: "ihl", bits: 4, doc: "header length in 32-bit words; 5 without options" },
    { name: "dscp", bits: 6, doc: "differentiated services code point (RFC 2474), upper TOS" },
    { name: "ecn", bits: 2, doc: "explicit congestion notification (RFC 3168), lower TOS" },
    { name: "totalLength", bits: 16, doc: "header + payload [bytes]" },
    { name: "identification", bits: 16 },
    { name: "reserved", bits: 1, doc: "must be zero" },
    { name: "dontFragment", bits: 1 },
    { name: "moreFragments", bits: 1 },
    { name: "fragmentOffset", bits: 13, doc: "[8-byte units]" },
    { name: "ttl", bits: 8, doc: "time to live [hops]" },
    { name: "protocol", bits: 8, doc: "17 = UDP" },
    { name: "headerChecksum", bits: 16, doc: "ones' complement sum over the header (RFC 1071)" },
    { name: "src", bits: 32 },
    { name: "dst", bits: 32 },
  ],
  { sizeBytes: 20 },
);

/**
 * The header checksum of the 20-byte header at `offset` (RFC 1071): the ones' complement
 * of the ones' complement sum of its 16-bit words, taking the checksum field as zero.
 */
export function ipv4HeaderChecksum(buf: Uint8Array, offset: number): number {
  const csum = Ipv4.field("headerChecksum").byteOffset;
  let sum = 0;
  for (let i = 0; i < Ipv4.sizeBytes; i += 2) {
    if (i === csum) continue;
    sum += (buf[offset + i] << 8) | buf[offset + i + 1];
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}
