/**
 * InfiniBand Local Route Header (IBTA Vol 1 §7.7), the first header of every IB packet
 * on the wire. 8 bytes, network bit order:
 *
 *   byte 0        byte 1               byte 2..3
 *   | VL  | LVer | SL  | rsv2 | LNH   | DLID           |
 *   | rsv5 | PktLen (11)               | SLID           |   bytes 4..7
 *
 * PktLen counts 4-byte words from the first byte of the LRH through the ICRC (the VCRC
 * is not counted), §7.7.8.
 */
import { defineLayout } from "../../core/layout.ts";

export const Lrh = defineLayout(
  "lrh",
  [
    { name: "vl", bits: 4, doc: "virtual lane (15: management); a variant field, not covered by the ICRC" },
    { name: "lver", bits: 4, doc: "link version, 0" },
    { name: "sl", bits: 4, doc: "service level" },
    { name: "resv2", bits: 2 },
    { name: "lnh", bits: 2, doc: "link next header, see Lnh" },
    { name: "dlid", bits: 16, doc: "destination local identifier" },
    { name: "resv5", bits: 5 },
    { name: "pktLen", bits: 11, doc: "packet length [4-byte words], LRH through ICRC" },
    { name: "slid", bits: 16, doc: "source local identifier" },
  ],
  { sizeBytes: 8 },
);

/** LRH.LNH values (§7.7.7): what follows the LRH. */
export const Lnh = {
  /** raw packet, no IBA transport */
  raw: 0,
  /** IPv6 over IB (non-IBA) */
  ipNonIba: 1,
  /** IBA local: BTH follows */
  ibaLocal: 2,
  /** IBA global: GRH, then BTH */
  ibaGlobal: 3,
} as const;

/** LIDs at and above this are multicast LIDs (§4.1.3); 0xFFFF is the permissive LID. */
export const MULTICAST_LID_BASE = 0xc000;
