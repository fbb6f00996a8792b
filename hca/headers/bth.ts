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

/** the BTH's size [bytes]; extension headers start here */
export const BTH_BYTES = 12;

/**
 * What an opcode means to the transport stages, as bits of `BthOpcode.flags` (the role of
 * rxe's opcode mask): stage code asks `flags & BthOpFlag.x`, it does not switch on opcodes.
 * The header bits are derived from `headers`; the others are declared per operation.
 */
export const BthOpFlag = {
  /** sent by a requester, executed by a responder */
  request: 1 << 0,
  /** sent by a responder (read response, ACK, atomic ACK), consumed by a completer */
  response: 1 << 1,
  /** starts a message: FIRST or ONLY */
  first: 1 << 2,
  /** MIDDLE of a message */
  middle: 1 << 3,
  /** ends a message: LAST or ONLY */
  last: 1 << 4,
  send: 1 << 5,
  /** RDMA WRITE (needs the remote write right) */
  write: 1 << 6,
  /** RDMA READ request (needs the remote read right) */
  read: 1 << 7,
  readResponse: 1 << 8,
  /** atomic request (needs the remote atomic right) */
  atomic: 1 << 9,
  ack: 1 << 10,
  atomicAck: 1 << 11,
  /** masked (extended) atomic: hcasim's 8-byte masked compare-swap / fetch-add */
  masked: 1 << 12,
  /** the responder takes a receive WQE with this packet: SEND FIRST/ONLY, WRITE with immediate LAST/ONLY */
  takesRecvWqe: 1 << 13,
  /** carries a payload field (possibly 0 bytes) */
  payload: 1 << 14,
  // derived from the header list
  reth: 1 << 16,
  aeth: 1 << 17,
  atomicEth: 1 << 18,
  atomicAckEth: 1 << 20,
  immDt: 1 << 21,
  ieth: 1 << 22,
  deth: 1 << 23,
} as const;

const HEADER_FLAG: Partial<Record<ExtensionHeader, number>> = {
  RETH: BthOpFlag.reth,
  AETH: BthOpFlag.aeth,
  AtomicETH: BthOpFlag.atomicEth,
  AtomicAckETH: BthOpFlag.atomicAckEth,
  ImmDt: BthOpFlag.immDt,
  IETH: BthOpFlag.ieth,
  DETH: BthOpFlag.deth,
};

/** the remote access right a request needs at the responder */
export type RemoteRight = "read" | "write" | "atomic";

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
  /** BthOpFlag bits */
  readonly flags: number;
  /** byte offset of each extension header it carries, from the start of the BTH */
  readonly offsets: Readonly<Partial<Record<ExtensionHeader, number>>>;
  /** byte offset of the payload from the start of the BTH: BTH + extension headers */
  readonly payloadOffset: number;
  /** the remote right the responder checks (R_Key), or null */
  readonly right: RemoteRight | null;
}

const F = BthOpFlag;
const REQ = F.request;
const RSP = F.response;
const ONLY = F.first | F.last;

/**
 * Operations (the opcode's 5 low bits) as data: extension headers, payload and what the
 * operation means (BthOpFlag). Which transport allows which operation is in
 * TRANSPORT_OPERATIONS. RD and XRC are omitted for now; the RoCEv2 CNP (0x81) is not a
 * transport operation and is not listed. 0x18/0x19 are hcasim's masked (extended) 8-byte
 * atomics, in the range IBTA 1.4 reserves for RC (not interoperable): masked compare-swap
 * carries its swap and compare masks as a 16-byte payload after the AtomicETH; masked
 * fetch-add carries its field-boundary mask in the AtomicETH compare field.
 */
const OPERATIONS: readonly (readonly [number, string, readonly ExtensionHeader[], boolean, number])[] = [
  [0x00, "SEND_FIRST", [], true, REQ | F.send | F.first | F.takesRecvWqe],
  [0x01, "SEND_MIDDLE", [], true, REQ | F.send | F.middle],
  [0x02, "SEND_LAST", [], true, REQ | F.send | F.last],
  [0x03, "SEND_LAST_WITH_IMMEDIATE", ["ImmDt"], true, REQ | F.send | F.last],
  [0x04, "SEND_ONLY", [], true, REQ | F.send | ONLY | F.takesRecvWqe],
  [0x05, "SEND_ONLY_WITH_IMMEDIATE", ["ImmDt"], true, REQ | F.send | ONLY | F.takesRecvWqe],
  [0x06, "RDMA_WRITE_FIRST", ["RETH"], true, REQ | F.write | F.first],
  [0x07, "RDMA_WRITE_MIDDLE", [], true, REQ | F.write | F.middle],
  [0x08, "RDMA_WRITE_LAST", [], true, REQ | F.write | F.last],
  [0x09, "RDMA_WRITE_LAST_WITH_IMMEDIATE", ["ImmDt"], true, REQ | F.write | F.last | F.takesRecvWqe],
  [0x0a, "RDMA_WRITE_ONLY", ["RETH"], true, REQ | F.write | ONLY],
  [0x0b, "RDMA_WRITE_ONLY_WITH_IMMEDIATE", ["RETH", "ImmDt"], true, REQ | F.write | ONLY | F.takesRecvWqe],
  [0x0c, "RDMA_READ_REQUEST", ["RETH"], false, REQ | F.read | ONLY],
  [0x0d, "RDMA_READ_RESPONSE_FIRST", ["AETH"], true, RSP | F.readResponse | F.first],
  [0x0e, "RDMA_READ_RESPONSE_MIDDLE", [], true, RSP | F.readResponse | F.middle],
  [0x0f, "RDMA_READ_RESPONSE_LAST", ["AETH"], true, RSP | F.readResponse | F.last],
  [0x10, "RDMA_READ_RESPONSE_ONLY", ["AETH"], true, RSP | F.readResponse | ONLY],
  [0x11, "ACKNOWLEDGE", ["AETH"], false, RSP | F.ack | ONLY],
  [0x12, "ATOMIC_ACKNOWLEDGE", ["AETH", "AtomicAckETH"], false, RSP | F.atomicAck | ONLY],
  [0x13, "COMPARE_SWAP", ["AtomicETH"], false, REQ | F.atomic | ONLY],
  [0x14, "FETCH_ADD", ["AtomicETH"], false, REQ | F.atomic | ONLY],
  [0x16, "SEND_LAST_WITH_INVALIDATE", ["IETH"], true, REQ | F.send | F.last],
  [0x17, "SEND_ONLY_WITH_INVALIDATE", ["IETH"], true, REQ | F.send | ONLY | F.takesRecvWqe],
  [0x18, "MASKED_COMPARE_SWAP", ["AtomicETH"], true, REQ | F.atomic | F.masked | ONLY],
  [0x19, "MASKED_FETCH_ADD", ["AtomicETH"], false, REQ | F.atomic | F.masked | ONLY],
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
      const [, name, headers, payload, declared] = OPERATIONS.find(([o]) => o === op)!;
      const all: ExtensionHeader[] = transport === "UD" ? ["DETH", ...headers] : [...headers];
      const offsets: Partial<Record<ExtensionHeader, number>> = {};
      let at = BTH_BYTES;
      let flags = declared | (payload ? F.payload : 0);
      for (const h of all) {
        offsets[h] = at;
        at += EXTENSION_HEADER_BYTES[h];
        flags |= HEADER_FLAG[h] ?? 0;
      }
      out.push(
        Object.freeze({
          opcode: Transport[transport] | op,
          name: `${transport}_${name}`,
          transport,
          headers: Object.freeze(all),
          headerBytes: at - BTH_BYTES,
          payload,
          flags,
          offsets: Object.freeze(offsets),
          payloadOffset: at,
          right: flags & F.write ? "write" : flags & F.read ? "read" : flags & F.atomic ? "atomic" : null,
        } satisfies BthOpcode),
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
