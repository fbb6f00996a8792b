/**
 * TypeScript codec for the co-simulation protocol, driven by the tables in protocol.ts.
 */
import type { StreamTransaction } from "../core/block.ts";
import { packedSize, PackedTransactionError, packTransactions, readU64, unpack, writeU64 } from "../core/packed-transactions.ts";
import {
  FIELD_SIZE,
  fieldOffsets,
  fieldsSize,
  HEADER_FIELDS,
  HEADER_SIZE,
  messageByType,
  messageDef,
  PROTOCOL_MAGIC,
  PROTOCOL_VERSION,
  type MessageDef,
  type MessageName,
} from "./protocol.ts";

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProtocolError";
  }
}

export type FieldValue = number | Uint8Array;
export type FieldValues = Record<string, FieldValue>;

export interface DecodedMessage {
  def: MessageDef;
  name: MessageName;
  version: number;
  seq: number;
  fields: Record<string, FieldValue>;
  /** bytes after the fixed body (a view into the frame) */
  tail: Uint8Array;
}

const HEADER_OFFSETS = fieldOffsets(HEADER_FIELDS);
const BODY_SIZES = new Map<string, number>();
const BODY_OFFSETS = new Map<string, Map<string, number>>();

function bodySize(def: MessageDef): number {
  let s = BODY_SIZES.get(def.name);
  if (s === undefined) {
    s = fieldsSize(def.fields);
    BODY_SIZES.set(def.name, s);
    BODY_OFFSETS.set(def.name, fieldOffsets(def.fields));
  }
  return s;
}

function writeFields(dv: DataView, bytes: Uint8Array, base: number, def: MessageDef, values: FieldValues): void {
  let off = base;
  for (const f of def.fields) {
    const v = values[f.name];
    if (v === undefined) throw new ProtocolError(`${def.name}: field ${f.name} missing`);
    switch (f.type) {
      case "u16": dv.setUint16(off, v as number, true); break;
      case "u32": dv.setUint32(off, v as number, true); break;
      case "u64": writeU64(dv, off, v as number); break;
      case "hash32": {
        const h = v as Uint8Array;
        if (h.length !== 32) throw new ProtocolError(`${def.name}: ${f.name} must be 32 bytes`);
        bytes.set(h, off);
        break;
      }
    }
    off += FIELD_SIZE[f.type];
  }
}

function writeHeader(dv: DataView, type: number, bodyBytes: number, seq: number, version = PROTOCOL_VERSION): void {
  dv.setUint32(HEADER_OFFSETS.get("magic")!, PROTOCOL_MAGIC, true);
  dv.setUint16(HEADER_OFFSETS.get("version")!, version, true);
  dv.setUint16(HEADER_OFFSETS.get("type")!, type, true);
  dv.setUint32(HEADER_OFFSETS.get("bodyBytes")!, bodyBytes, true);
  dv.setUint32(HEADER_OFFSETS.get("seq")!, seq, true);
}

/** Encode a message with a fixed body and an optional text or raw tail. */
export function encodeMessage(name: MessageName, seq: number, values: FieldValues = {}, tail?: Uint8Array | string, version = PROTOCOL_VERSION): Uint8Array {
  const def = messageDef(name);
  const tailBytes = typeof tail === "string" ? new TextEncoder().encode(tail) : tail ?? new Uint8Array(0);
  const body = bodySize(def);
  const out = new Uint8Array(HEADER_SIZE + body + tailBytes.length);
  const dv = new DataView(out.buffer);
  writeHeader(dv, def.type, body + tailBytes.length, seq, version);
  writeFields(dv, out, HEADER_SIZE, def, values);
  out.set(tailBytes, HEADER_SIZE + body);
  return out;
}

/** Encode an H2R_STREAM_INPUT or R2H_STREAM_OUTPUT carrying `txns` with `userNames` in manifest order. */
export function encodeStreamMessage(
  name: "H2R_STREAM_INPUT" | "R2H_STREAM_OUTPUT",
  seq: number,
  port: number,
  txns: readonly StreamTransaction[],
  userNames: readonly string[],
): Uint8Array {
  return streamFrame(name, seq, port, txns.length, packedSize(txns, userNames.length), (out, dv, off) => packTransactions(out, dv, off, txns, userNames));
}

/**
 * An H2R_STREAM_INPUT frame for `count` records of `recordBytes` bytes in all, which
 * `writeRecords` writes at `off` of the frame (`dv` a view of it) and returns the end of.
 */
export function encodeStreamInput(seq: number, port: number, count: number, recordBytes: number, writeRecords: (out: Uint8Array, dv: DataView, off: number) => number): Uint8Array {
  return streamFrame("H2R_STREAM_INPUT", seq, port, count, recordBytes, writeRecords);
}

function streamFrame(
  name: "H2R_STREAM_INPUT" | "R2H_STREAM_OUTPUT",
  seq: number,
  port: number,
  count: number,
  recordBytes: number,
  writeRecords: (out: Uint8Array, dv: DataView, off: number) => number,
): Uint8Array {
  const def = messageDef(name);
  const body = bodySize(def);
  const total = HEADER_SIZE + body + recordBytes;
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  writeHeader(dv, def.type, total - HEADER_SIZE, seq);
  writeFields(dv, out, HEADER_SIZE, def, { port, count });
  const end = writeRecords(out, dv, HEADER_SIZE + body);
  if (end !== total) throw new ProtocolError(`${name}: ${end - HEADER_SIZE - body} record bytes written, ${recordBytes} announced`);
  return out;
}

/** The records tail of a frame made by encodeStreamMessage (a view into it). */
export function streamMessageRecords(frame: Uint8Array): Uint8Array {
  return frame.subarray(HEADER_SIZE + bodySize(messageDef("H2R_STREAM_INPUT")));
}

/** Decode one frame; throws ProtocolError naming what is wrong. Version is returned, not checked. */
export function decodeMessage(frame: Uint8Array): DecodedMessage {
  if (frame.length < HEADER_SIZE) throw new ProtocolError(`frame of ${frame.length} bytes is shorter than the ${HEADER_SIZE}-byte header`);
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  const magic = dv.getUint32(HEADER_OFFSETS.get("magic")!, true);
  if (magic !== PROTOCOL_MAGIC) throw new ProtocolError(`bad magic 0x${magic.toString(16).padStart(8, "0")} (expected 0x${PROTOCOL_MAGIC.toString(16)}): not an hcasim peer`);
  const version = dv.getUint16(HEADER_OFFSETS.get("version")!, true);
  const type = dv.getUint16(HEADER_OFFSETS.get("type")!, true);
  const bodyBytes = dv.getUint32(HEADER_OFFSETS.get("bodyBytes")!, true);
  const seq = dv.getUint32(HEADER_OFFSETS.get("seq")!, true);
  const def = messageByType(type);
  if (!def) throw new ProtocolError(`unknown message type 0x${type.toString(16)} (protocol v${version})`);
  if (HEADER_SIZE + bodyBytes !== frame.length) throw new ProtocolError(`${def.name}: header says ${bodyBytes} body bytes, frame has ${frame.length - HEADER_SIZE}`);
  const body = bodySize(def);
  if (bodyBytes < body) throw new ProtocolError(`${def.name}: body of ${bodyBytes} bytes is shorter than its fixed ${body} bytes`);
  if (def.tail === "none" && bodyBytes !== body) throw new ProtocolError(`${def.name}: ${bodyBytes - body} unexpected trailing bytes`);
  const offsets = BODY_OFFSETS.get(def.name)!;
  const fields: Record<string, FieldValue> = {};
  for (const f of def.fields) {
    const off = HEADER_SIZE + offsets.get(f.name)!;
    switch (f.type) {
      case "u16": fields[f.name] = dv.getUint16(off, true); break;
      case "u32": fields[f.name] = dv.getUint32(off, true); break;
      case "u64": fields[f.name] = readU64(dv, off); break;
      case "hash32": fields[f.name] = frame.subarray(off, off + 32); break;
    }
  }
  return { def, name: def.name as MessageName, version, seq, fields, tail: frame.subarray(HEADER_SIZE + body) };
}

/** Decode the records tail of a stream message. Data arrays are views into `tail`. */
export function decodeStreamRecords(tail: Uint8Array, count: number, userNames: readonly string[], where: string): StreamTransaction[] {
  try {
    return unpack(tail, count, userNames, where);
  } catch (e) {
    if (e instanceof PackedTransactionError) throw new ProtocolError(e.message);
    throw e;
  }
}

/** The u64 values of an R2H_WIRES tail (as numbers: exact below 2^53). */
export function decodeWireValues(msg: DecodedMessage): number[] {
  const n = msg.fields.count as number;
  if (msg.tail.length !== 8 * n) throw new ProtocolError(`${msg.name}: ${msg.tail.length} tail bytes for ${n} values`);
  const dv = new DataView(msg.tail.buffer, msg.tail.byteOffset, msg.tail.byteLength);
  return Array.from({ length: n }, (_, i) => readU64(dv, 8 * i));
}

export function textTail(msg: DecodedMessage): string {
  return new TextDecoder().decode(msg.tail);
}

export function hexHash(h: FieldValue | undefined): string {
  if (!(h instanceof Uint8Array)) return "?";
  return Buffer.from(h).toString("hex");
}
