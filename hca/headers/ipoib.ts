/**
 * IPoIB encapsulation header (RFC 4391 §6): 4 bytes before the IP (or ARP) packet in
 * the payload of a UD SEND.
 *
 *   | type (EtherType, 16) | reserved, zero (16) |
 */
import { defineLayout } from "../../core/layout.ts";

export const Ipoib = defineLayout(
  "ipoib",
  [
    { name: "type", bits: 16, doc: "the EtherType of the packet that follows (0x0800 IPv4, 0x86DD IPv6, 0x0806 ARP)" },
    { name: "reserved", bits: 16, doc: "zero" },
  ],
  { sizeBytes: 4 },
);

/** the IPoIB well-known Q_Key (RFC 4391 §4: 0x00000B1B, used by the broadcast group) */
export const IPOIB_QKEY = 0x0000_0b1b;
