/**
 * Datagram Extended Transport Header (IBTA Vol 1 §9.3.3), after the BTH of every UD
 * packet (opcodes 0x64 UD SEND only, 0x65 with immediate). 8 bytes:
 *
 *   | Q_Key (32)                               |
 *   | resv8 | source QP (24)                   |
 */
import { defineLayout } from "../../core/layout.ts";

export const Deth = defineLayout(
  "deth",
  [
    { name: "qkey", bits: 32, doc: "queue key the destination QP requires" },
    { name: "resv8", bits: 8 },
    { name: "srcQp", bits: 24, doc: "the sender's QP number" },
  ],
  { sizeBytes: 8 },
);
