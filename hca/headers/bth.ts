/**
 * InfiniBand Base Transport Header (IBTA Vol 1 §9.2) and the opcode table (§9.2.1).
 * In RoCEv2 the BTH follows the UDP header directly (IBTA Annex A17).
 *
 *   byte 0        byte 1            byte 2..3
 *   | opcode     | SE M Pad TVer  | P_Key          |
 *   | F B resv6  | destination QP (24)             |   byte 4 is "resv8a" in older
 *   | A resv7    | PSN (24)                        |   specs; FECN/BECN live there
 */
import { defineLayout } from "../../core/layout.ts";

export const Bth = defineLayout(
  "bth",
  [
    { name: "opcode", bits: 8, doc: "transport (3 msb) and operation (5 lsb), see BTH_OPCODES" },
    { name: "solicitedEvent", bits: 1 },
    { name: "migReq", bits: 1, doc: "APM migration state" },
    { name: "padCount", bits: 2, doc: "pad bytes after the payload, to a 4-byte multiple" },
    { name: "tver", bits: 4, doc: "transport header version, 0" },
    { name: "pkey", bits: 16, doc: "partition key" },
    { name: "fecn", bits: 1, doc: "forward explicit congestion notification" },
    { name: "becn", bits: 1, doc: "backward explicit congestion notification" },
    { name: "resv6", bits: 6 },
    { name: "destQp", bits: 24 },
    { name: "ackReq", bits: 1 },
    { name: "resv7", bits: 7 },
    { name: "psn", bits: 24, doc: "packet sequence number" },
  ],
  { sizeBytes: 12 },
);

/** Extended transport headers (IBTA Vol 1 §9.3), in the order they follow the BTH. */
export const EXTENSION_HEADER_BYTES = {
  RDETH: 4,
  DETH: 8,
  RETH: 16,
  AtomicETH: 28,
  AETH: 4,
  AtomicAckETH: 8,
  ImmDt: 4,
  IETH: 4,
} as const;
export type ExtensionHeader = keyof typeof EXTENSION_HEADER_BYTES;

/** The transport service in the opcode's three most significant bits. */
export const Transport = { RC: 0x00, UC: 0x20, RD: 0x40, UD: 0x60, CNP: 0x80, XRC: 0xa0 } as const;
export type TransportName = keyof typeof Transport;

export interface BthOpcode {
  /** the 8-bit wire opcode */
  readonly opcode: number;
  /** e.g. "RC_SEND_FIRST" */
  readonly name: string;
  readonly transport: TransportName;
  /** extension headers after the BTH, in wire order */
  readonly headers: readonly ExtensionHeader[];
  /** total bytes of the extension headers */
  readonly headerBytes: number;
  /** carries a payload (may still be 0 bytes long) */
  readonly payload: boolean;
}

/**
 * Operations (the opcode's 5 low bits) as data: extension headers and payload. Which
 * transport allows which operation is in TRANSPORT_OPERATIONS. RD and XRC are omitted
 * for now; the RoCEv2 CNP (0x81) is not a transport operation and is not listed.
 */
const OPERATIONS: readonly (readonly [number, string, readonly ExtensionHeader[], boolean])[] = [
  [0x00, "SEND_FIRST", [], true],
  [0x01, "SEND_MIDDLE", [], true],
  [0x02, "SEND_LAST", [], true],
  [0x03, "SEND_LAST_WITH_IMMEDIATE", ["ImmDt"], true],
  [0x04, "SEND_ONLY", [], true],
  [0x05, "SEND_ONLY_WITH_IMMEDIATE", ["ImmDt"], true],
  [0x06, "RDMA_WRITE_FIRST", ["RETH"], true],
  [0x07, "RDMA_WRITE_MIDDLE", [], true],
  [0x08, "RDMA_WRITE_LAST", [], true],
  [0x09, "RDMA_WRITE_LAST_WITH_IMMEDIATE", ["ImmDt"], true],
  [0x0a, "RDMA_WRITE_ONLY", ["RETH"], true],
  [0x0b, "RDMA_WRITE_ONLY_WITH_IMMEDIATE", ["RETH", "ImmDt"], true],
  [0x0c, "RDMA_READ_REQUEST", ["RETH"], false],
  [0x0d, "RDMA_READ_RESPONSE_FIRST", ["AETH"], true],
  [0x0e, "RDMA_READ_RESPONSE_MIDDLE", [], true],
  [0x0f, "RDMA_READ_RESPONSE_LAST", ["AETH"], true],
  [0x10, "RDMA_READ_RESPONSE_ONLY", ["AETH"], true],
  [0x11, "ACKNOWLEDGE", ["AETH"], false],
  [0x12, "ATOMIC_ACKNOWLEDGE", ["AETH", "AtomicAckETH"], false],
  [0x13, "COMPARE_SWAP", ["AtomicETH"], false],
  [0x14, "FETCH_ADD", ["AtomicETH"], false],
  [0x16, "SEND_LAST_WITH_INVALIDATE", ["IETH"], true],
  [0x17, "SEND_ONLY_WITH_INVALIDATE", ["IETH"], true],
];

/** Operations valid per transport (IBTA Vol 1 §9.2.1 opcode table); UD adds a DETH. */
const TRANSPORT_OPERATIONS: Partial<Record<TransportName, readonly number[]>> = {
  RC: OPERATIONS.map(([op]) => op),
  UC: [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b],
  UD: [0x04, 0x05],
};

function buildOpcodes(): readonly BthOpcode[] {
  const out: BthOpcode[] = [];
  for (const [transport, ops] of Object.entries(TRANSPORT_OPERATIONS) as [TransportName, readonly number[]][]) {
    for (const op of ops) {
      const [, name, headers, payload] = OPERATIONS.find(([o]) => o === op)!;
      const all: ExtensionHeader[] = transport === "UD" ? ["DETH", ...headers] : [...headers];
      out.push(
        Object.freeze({
          opcode: Transport[transport] | op,
          name: `${transport}_${name}`,
          transport,
          headers: Object.freeze(all),
          headerBytes: all.reduce((s, h) => s + EXTENSION_HEADER_BYTES[h], 0),
          payload,
        }),
      );
    }
  }
  return Object.freeze(out.sort((a, b) => a.opcode - b.opcode));
}

/** Every opcode hcasim knows, sorted by wire value. */
export const BTH_OPCODES: readonly BthOpcode[] = buildOpcodes();

const BY_OPCODE: readonly (BthOpcode | undefined)[] = (() => {
  const t: (BthOpcode | undefined)[] = new Array(256).fill(undefined);
  for (const o of BTH_OPCODES) t[o.opcode] = o;
  return t;
})();

/** The table entry of a wire opcode, or undefined for one hcasim does not know. */
export function bthOpcode(opcode: number): BthOpcode | undefined {
  return BY_OPCODE[opcode & 0xff];
}
