/**
 * The transport's view of the opcode table in hca/headers/bth.ts, compiled once into dense
 * arrays indexed by wire opcode (a lookup per packet, no object walk), and the table of
 * work-request opcodes the requester executes: which wire opcode each position of a
 * message uses. Everything here is derived from BTH_OPCODES; nothing is declared twice.
 */
import { BTH_OPCODES, BthOpFlag, type ExtensionHeader, type TransportName } from "../headers/index.ts";
import { Access, WqeOpcode } from "../formats/index.ts";

/** BthOpFlag bits by wire opcode; 0 for an opcode the table does not know */
export const OP_FLAGS: Uint32Array = new Uint32Array(256);
/** payload offset from the BTH start by wire opcode */
export const OP_PAYLOAD_OFFSET: Uint8Array = new Uint8Array(256);
/** transport of each known opcode */
export const OP_TRANSPORT: (TransportName | undefined)[] = new Array(256).fill(undefined);
/** opcode names, for traces */
export const OP_NAME: string[] = Array.from({ length: 256 }, (_, i) => `opcode_0x${i.toString(16)}`);

const HEADERS: readonly ExtensionHeader[] = ["RETH", "AETH", "AtomicETH", "AtomicAckETH", "ImmDt", "IETH", "DETH"];
/** offset of an extension header from the BTH start by wire opcode, −1 when absent */
export const OP_HEADER_OFFSET: Readonly<Record<ExtensionHeader, Int16Array>> = Object.fromEntries(
  ["RDETH", ...HEADERS].map((h) => [h, new Int16Array(256).fill(-1)]),
) as Record<ExtensionHeader, Int16Array>;

for (const o of BTH_OPCODES) {
  OP_FLAGS[o.opcode] = o.flags;
  OP_PAYLOAD_OFFSET[o.opcode] = o.payloadOffset;
  OP_TRANSPORT[o.opcode] = o.transport;
  OP_NAME[o.opcode] = o.name;
  for (const [h, off] of Object.entries(o.offsets) as [ExtensionHeader, number][]) OP_HEADER_OFFSET[h][o.opcode] = off;
}

const RETH_OFF = OP_HEADER_OFFSET.RETH;
const AETH_OFF = OP_HEADER_OFFSET.AETH;
const ATOMIC_OFF = OP_HEADER_OFFSET.AtomicETH;
const ATOMIC_ACK_OFF = OP_HEADER_OFFSET.AtomicAckETH;
const IMM_OFF = OP_HEADER_OFFSET.ImmDt;
const IETH_OFF = OP_HEADER_OFFSET.IETH;
const DETH_OFF = OP_HEADER_OFFSET.DETH;
export { AETH_OFF, ATOMIC_ACK_OFF, ATOMIC_OFF, DETH_OFF, IETH_OFF, IMM_OFF, RETH_OFF };

/** bytes of a masked compare-swap's payload: its swap and compare masks */
export const MASKED_CS_PAYLOAD = 16;

/** the wire opcode called `name` (e.g. "RC_SEND_ONLY"); throws for an unknown name */
export function wireOpcode(name: string): number {
  const o = BTH_OPCODES.find((x) => x.name === name);
  if (o === undefined) throw new Error(`no BTH opcode named ${name}`);
  return o.opcode;
}

/** the Access bit the responder needs for a request's BthOpFlag bits (0: none) */
export function remoteAccessOf(flags: number): number {
  return flags & BthOpFlag.write ? Access.remoteWrite : flags & BthOpFlag.read ? Access.remoteRead : flags & BthOpFlag.atomic ? Access.remoteAtomic : 0;
}

// ---- work-request opcodes -----------------------------------------------------------------

/**
 * Work-request opcodes the requester executes: the mlx4 WQE opcodes of hca/formats
 * (WqeOpcode: SEND_INV 0x0c, whose R_Key to invalidate rides in the ctrl `imm`, and the
 * masked atomics MASKED_ATOMIC_CS 0x14 / MASKED_ATOMIC_FA 0x15, whose masks the wqe_fetch
 * block parses from the masked atomic segment into the record's swapMask / compareMask).
 */
export const TransportWqeOpcode = WqeOpcode;

export const WqeKind = { send: 0, write: 1, read: 2, atomic: 3 } as const;

export interface WqeOpInfo {
  readonly name: string;
  /** WqeKind */
  readonly kind: number;
  /** RC wire opcodes by position in the message */
  readonly first: number;
  readonly middle: number;
  readonly last: number;
  readonly only: number;
  /** UD wire opcode (SEND and SEND_IMM only), −1 otherwise */
  readonly ud: number;
  /** Access bits its local SGEs need: local write for what lands in them (read data, atomic result) */
  readonly localAccess: number;
}

const WQE_OPS: readonly (readonly [number, string, number, readonly [string, string, string, string], string | null])[] = [
  [WqeOpcode.SEND, "SEND", WqeKind.send, ["SEND_FIRST", "SEND_MIDDLE", "SEND_LAST", "SEND_ONLY"], "SEND_ONLY"],
  [WqeOpcode.SEND_IMM, "SEND_IMM", WqeKind.send, ["SEND_FIRST", "SEND_MIDDLE", "SEND_LAST_WITH_IMMEDIATE", "SEND_ONLY_WITH_IMMEDIATE"], "SEND_ONLY_WITH_IMMEDIATE"],
  [TransportWqeOpcode.SEND_INV, "SEND_INV", WqeKind.send, ["SEND_FIRST", "SEND_MIDDLE", "SEND_LAST_WITH_INVALIDATE", "SEND_ONLY_WITH_INVALIDATE"], null],
  [WqeOpcode.RDMA_WRITE, "RDMA_WRITE", WqeKind.write, ["RDMA_WRITE_FIRST", "RDMA_WRITE_MIDDLE", "RDMA_WRITE_LAST", "RDMA_WRITE_ONLY"], null],
  [
    WqeOpcode.RDMA_WRITE_IMM, "RDMA_WRITE_IMM", WqeKind.write,
    ["RDMA_WRITE_FIRST", "RDMA_WRITE_MIDDLE", "RDMA_WRITE_LAST_WITH_IMMEDIATE", "RDMA_WRITE_ONLY_WITH_IMMEDIATE"], null,
  ],
  [WqeOpcode.RDMA_READ, "RDMA_READ", WqeKind.read, ["RDMA_READ_REQUEST", "RDMA_READ_REQUEST", "RDMA_READ_REQUEST", "RDMA_READ_REQUEST"], null],
  [WqeOpcode.ATOMIC_CS, "ATOMIC_CS", WqeKind.atomic, ["COMPARE_SWAP", "COMPARE_SWAP", "COMPARE_SWAP", "COMPARE_SWAP"], null],
  [WqeOpcode.ATOMIC_FA, "ATOMIC_FA", WqeKind.atomic, ["FETCH_ADD", "FETCH_ADD", "FETCH_ADD", "FETCH_ADD"], null],
  [TransportWqeOpcode.MASKED_ATOMIC_CS, "MASKED_ATOMIC_CS", WqeKind.atomic, ["MASKED_COMPARE_SWAP", "MASKED_COMPARE_SWAP", "MASKED_COMPARE_SWAP", "MASKED_COMPARE_SWAP"], null],
  [TransportWqeOpcode.MASKED_ATOMIC_FA, "MASKED_ATOMIC_FA", WqeKind.atomic, ["MASKED_FETCH_ADD", "MASKED_FETCH_ADD", "MASKED_FETCH_ADD", "MASKED_FETCH_ADD"], null],
];

/** per WQE opcode (5 bits), its info, or undefined for one the requester does not execute */
export const WQE_OP_INFO: readonly (WqeOpInfo | undefined)[] = (() => {
  const t: (WqeOpInfo | undefined)[] = new Array(32).fill(undefined);
  for (const [op, name, kind, [first, middle, last, only], ud] of WQE_OPS) {
    t[op] = Object.freeze({
      name, kind,
      first: wireOpcode(`RC_${first}`), middle: wireOpcode(`RC_${middle}`), last: wireOpcode(`RC_${last}`), only: wireOpcode(`RC_${only}`),
      ud: ud === null ? -1 : wireOpcode(`UD_${ud}`),
      localAccess: kind === WqeKind.read || kind === WqeKind.atomic ? Access.localWrite : 0,
    });
  }
  return t;
})();
