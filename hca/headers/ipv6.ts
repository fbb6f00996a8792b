/** IPv6 fixed header (RFC 8200 §3). RoCEv2 carries no extension headers: next header is UDP. */
import { defineLayout } from "../../core/layout.ts";

export const Ipv6 = defineLayout(
  "ipv6",
  [
    { name: "version", bits: 4, doc: "6" },
    { name: "trafficClass", bits: 8, doc: "DSCP and ECN" },
    { name: "flowLabel", bits: 20 },
    { name: "payloadLength", bits: 16, doc: "bytes after this header" },
    { name: "nextHeader", bits: 8, doc: "17 = UDP" },
    { name: "hopLimit", bits: 8, doc: "[hops]" },
    { name: "src", bytes: 16 },
    { name: "dst", bytes: 16 },
  ],
  { sizeBytes: 40 },
);
