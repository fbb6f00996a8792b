/**
 * The co-simulation wire protocol, declared once. The TypeScript codec below and the
 * C++ header the shim includes (protocol-cpp.ts) are both derived from these tables.
 *
 * Every message is one ZeroMQ frame: a fixed 16-byte header, a fixed-size body
 * (per type), then an optional tail (stream records or UTF-8 text). All integers are
 * little-endian. Type numbers are split by direction and role:
 *   0x01–0x3f harness → RTL control   0x40–0x7f harness → RTL data
 *   0x81–0xbf RTL → harness control   0xc0–0xff RTL → harness data
 */
import { PACKED_TRANSACTION_FIELDS } from "../core/packed-transactions.ts";

/** Bump on any change to these tables; the handshake rejects a peer built for another version. */
export const PROTOCOL_VERSION = 2;
/** "HCAS" read as a little-endian u32 */
export const PROTOCOL_MAGIC = 0x53414348;

export type FieldType = "u16" | "u32" | "u64" | "hash32";

export const FIELD_SIZE: Record<FieldType, number> = { u16: 2, u32: 4, u64: 8, hash32: 32 };

export interface FieldDef {
  name: string;
  type: FieldType;
  /** meaning and unit, copied into the generated C++ */
  doc: string;
}

export interface MessageDef {
  name: string;
  type: number;
  doc: string;
  fields: FieldDef[];
  /** what follows the fixed body */
  tail: "none" | "text" | "records" | "values";
}

export const HEADER_FIELDS: FieldDef[] = [
  { name: "magic", type: "u32", doc: "PROTOCOL_MAGIC" },
  { name: "version", type: "u16", doc: "PROTOCOL_VERSION of the sender" },
  { name: "type", type: "u16", doc: "message type number" },
  { name: "bodyBytes", type: "u32", doc: "bytes after this header [bytes]" },
  { name: "seq", type: "u32", doc: "sender's message counter, from 0" },
];

export const MESSAGES = [
  {
    name: "H2R_HELLO", type: 0x01, tail: "none",
    doc: "first message: versions and interface must agree before anything else",
    fields: [
      { name: "protocolVersion", type: "u32", doc: "PROTOCOL_VERSION the harness speaks" },
      { name: "flags", type: "u32", doc: "reserved, 0" },
      { name: "manifestHash", type: "hash32", doc: "sha256 of the resolved block interface" },
    ],
  },
  {
    name: "H2R_RESET", type: 0x02, tail: "none",
    doc: "drop all queued transactions, hold reset for `cycles` edges, restart at cycle 0",
    fields: [
      { name: "cycles", type: "u32", doc: "reset length [cycles]" },
      { name: "outReadyPercent", type: "u32", doc: "probability that an output tready is high each cycle [%], 100 = always" },
      { name: "seed", type: "u32", doc: "seed of the output-ready pattern" },
    ],
  },
  {
    name: "H2R_ADVANCE", type: 0x03, tail: "none",
    doc: "simulate every cycle below untilCycle, then report outputs and R2H_ADVANCED",
    fields: [{ name: "untilCycle", type: "u64", doc: "exclusive end of the quantum [cycles]" }],
  },
  {
    name: "H2R_END", type: 0x04, tail: "none",
    doc: "finish: the RTL process answers R2H_END and exits",
    fields: [],
  },
  {
    name: "H2R_WIRE_SET", type: 0x05, tail: "none",
    doc: "set an input wire; it holds its value until set again",
    fields: [
      { name: "port", type: "u32", doc: "index among input wires" },
      { name: "value", type: "u64", doc: "value, LSB-aligned" },
    ],
  },
  {
    name: "H2R_STREAM_INPUT", type: 0x40, tail: "records",
    doc: "input transactions for one input stream, in order",
    fields: [
      { name: "port", type: "u32", doc: "index among input streams" },
      { name: "count", type: "u32", doc: "number of records in the tail" },
    ],
  },
  {
    name: "R2H_HELLO", type: 0x81, tail: "text",
    doc: "answer to H2R_HELLO; the tail names the module and its build",
    fields: [
      { name: "protocolVersion", type: "u32", doc: "PROTOCOL_VERSION the shim was generated for" },
      { name: "pid", type: "u32", doc: "process id of the RTL process" },
      { name: "manifestHash", type: "hash32", doc: "sha256 of the interface the shim was generated from" },
    ],
  },
  {
    name: "R2H_ADVANCED", type: 0x82, tail: "none",
    doc: "the quantum is done; every output transaction that ended in it was sent before this",
    fields: [
      { name: "cycle", type: "u64", doc: "current cycle (= untilCycle) [cycles]" },
      { name: "simNs", type: "u64", doc: "wall time spent clocking the model so far [ns]" },
      { name: "inputBeats", type: "u64", doc: "input beats accepted so far [beats]" },
      { name: "outputBeats", type: "u64", doc: "output beats produced so far [beats]" },
    ],
  },
  {
    name: "R2H_END", type: 0x83, tail: "none",
    doc: "answer to H2R_END",
    fields: [{ name: "cycle", type: "u64", doc: "final cycle [cycles]" }],
  },
  {
    name: "R2H_ERROR", type: 0x84, tail: "text",
    doc: "the RTL side refuses a message or hit $fatal/$error; the tail says why",
    fields: [{ name: "cycle", type: "u64", doc: "cycle at which it happened [cycles]" }],
  },
  {
    name: "R2H_WIRES", type: 0xc1, tail: "values",
    doc: "output wire values at the end of a quantum, in manifest order, each a u64 in the tail",
    fields: [
      { name: "cycle", type: "u64", doc: "sample cycle (= the quantum's untilCycle) [cycles]" },
      { name: "count", type: "u32", doc: "number of u64 values in the tail" },
    ],
  },
  {
    name: "R2H_STREAM_OUTPUT", type: 0xc0, tail: "records",
    doc: "output transactions that completed on one output stream, in order",
    fields: [
      { name: "port", type: "u32", doc: "index among output streams" },
      { name: "count", type: "u32", doc: "number of records in the tail" },
    ],
  },
] as const satisfies readonly MessageDef[];

export type MessageName = (typeof MESSAGES)[number]["name"];

/**
 * One transaction in a records tail: this fixed part, then userWords × u32, then dataBytes
 * bytes (the packed form of core/packed-transactions.ts, which twins may read and write too).
 */
export const STREAM_RECORD_FIELDS: FieldDef[] = PACKED_TRANSACTION_FIELDS.map((f) => ({ ...f }));

export function fieldsSize(fields: readonly FieldDef[]): number {
  return fields.reduce((s, f) => s + FIELD_SIZE[f.type], 0);
}

export const HEADER_SIZE = fieldsSize(HEADER_FIELDS);
export const STREAM_RECORD_SIZE = fieldsSize(STREAM_RECORD_FIELDS);

export function messageDef(name: MessageName): MessageDef {
  return BY_NAME.get(name)!;
}
export function messageByType(type: number): MessageDef | undefined {
  return BY_TYPE.get(type);
}

const BY_NAME = new Map<string, MessageDef>(MESSAGES.map((m) => [m.name, m as MessageDef]));
const BY_TYPE = new Map<number, MessageDef>(MESSAGES.map((m) => [m.type, m as MessageDef]));

/** Byte offset of each field within a fixed body (or header), derived from the sizes before it. */
export function fieldOffsets(fields: readonly FieldDef[]): Map<string, number> {
  const out = new Map<string, number>();
  let off = 0;
  for (const f of fields) {
    out.set(f.name, off);
    off += FIELD_SIZE[f.type];
  }
  return out;
}
