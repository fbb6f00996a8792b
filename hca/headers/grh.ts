/**
 * InfiniBand Global Route Header (IBTA Vol 1 §8.3), after the LRH when LRH.LNH = 3
 * (IBA global). 40 bytes; its bit layout is the IPv6 header's (RoCEv2 carries the GRH's
 * contents as a real IPv6 header), with IB names:
 *
 *   | IPVer (4) | TClass (8) | FlowLabel (20)                 |
 *   | PayLen (16)            | NxtHdr (8) | HopLmt (8)        |
 *   | SGID (128) ...                                          |
 *   | DGID (128) ...                                          |
 *
 * PayLen counts the bytes after the GRH up to and including the ICRC (§8.3.1).
 */
import { defineLayout } from "../../core/layout.ts";

export const Grh = defineLayout(
  "grh",
  [
    { name: "ipVer", bits: 4, doc: "6" },
    { name: "tClass", bits: 8, doc: "traffic class; a router may change it (variant for the ICRC)" },
    { name: "flowLabel", bits: 20, doc: "variant for the ICRC" },
    { name: "payLen", bits: 16, doc: "bytes after the GRH through the ICRC" },
    { name: "nxtHdr", bits: 8, doc: "0x1B: an IBA transport header (BTH) follows" },
    { name: "hopLmt", bits: 8, doc: "hops left; routers decrement it (variant for the ICRC)" },
    { name: "sgid", bytes: 16, doc: "source global identifier" },
    { name: "dgid", bytes: 16, doc: "destination global identifier" },
  ],
  { sizeBytes: 40 },
);

/** GRH.NxtHdr of an IBA packet: the BTH follows (§8.3.1) */
export const GRH_NXTHDR_IBA = 0x1b;
/** GRH.IPVer */
export const GRH_IPVER = 6;
