/**
 * Ethernet II framing (IEEE 802.3 clause 3, the DIX type interpretation), untagged and
 * with one IEEE 802.1Q tag. Frames here start at the destination MAC and carry no FCS.
 *
 *   untagged:  | dst MAC (6) | src MAC (6) | ethertype (2) | payload ...
 *   802.1Q:    | dst MAC (6) | src MAC (6) | TPID 0x8100 (2) | PCP DEI VID (2) | ethertype (2) | ...
 */
import { defineLayout } from "../../core/layout.ts";

export const EtherType = {
  ipv4: 0x0800,
  ipv6: 0x86dd,
  /** IEEE 802.1Q customer VLAN tag protocol identifier */
  vlan: 0x8100,
  /** IEEE 802.1ad service VLAN tag (QinQ outer tag) */
  qinq: 0x88a8,
} as const;

export const Ethernet = defineLayout(
  "ethernet",
  [
    { name: "dst", bytes: 6, doc: "destination MAC" },
    { name: "src", bytes: 6, doc: "source MAC" },
    { name: "etherType", bits: 16, doc: "payload protocol (EtherType)" },
  ],
  { sizeBytes: 14 },
);

export const EthernetVlan = defineLayout(
  "ethernet-802.1q",
  [
    { name: "dst", bytes: 6, doc: "destination MAC" },
    { name: "src", bytes: 6, doc: "source MAC" },
    { name: "tpid", bits: 16, doc: "tag protocol identifier, 0x8100" },
    { name: "pcp", bits: 3, doc: "priority code point" },
    { name: "dei", bits: 1, doc: "drop eligible indicator" },
    { name: "vid", bits: 12, doc: "VLAN identifier" },
    { name: "etherType", bits: 16, doc: "payload protocol (EtherType)" },
  ],
  { sizeBytes: 18 },
);
