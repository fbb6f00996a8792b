/** UDP header (RFC 768). RoCEv2 runs on destination port 4791 (IBTA Annex A17). */
import { defineLayout } from "../../core/layout.ts";

/** the IANA-assigned RoCEv2 UDP destination port */
export const ROCEV2_UDP_PORT = 4791;

export const Udp = defineLayout(
  "udp",
  [
    { name: "srcPort", bits: 16, doc: "RoCEv2: entropy for ECMP, chosen per QP" },
    { name: "dstPort", bits: 16, doc: "4791 for RoCEv2" },
    { name: "length", bits: 16, doc: "header + payload [bytes]" },
    { name: "checksum", bits: 16, doc: "RoCEv2 senders may send 0 (not computed)" },
  ],
  { sizeBytes: 8 },
);
