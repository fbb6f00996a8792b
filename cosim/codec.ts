/**
 * TypeScript codec for the co-simulation protocol, driven by the tables in protocol.ts.
 */
import type { StreamTransaction } from "../core/block.ts";
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
  STREAM_RECORD_SIZE,
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

function writeU64(dv: DataView, off: number, v: number): void {
  // ToUint32 (>>> 0) is the low word of any safe integer; `%` on a double would be an fmod
  dv.setUint32(off, v >>> 0, true);
  dv.setUint32(off + 4, (v / 0x1_0000_0000) >>> 0, true);
}

function readU64(dv: DataView, off: number): number {
  return dv.getUint32(off, true) + dv.getUint32(off + 4, true) * 0x1_0000_0000;
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
/** bytes the records of `txns` take in a stream message's tail */
export function streamRecordsSize(txns: readonly StreamTransaction[], nUser: number): number {
  let total = txns.length * (STREAM_RECORD_SIZE + 4 * nUser);
  for (let k = 0; k < txns.length; k++) total += txns[k]!.data.length;
  return total;
}

/** writes `txns` as stream records at `off` of `out`; returns the offset after the last */
function writeStreamRecords(out: Uint8Array, dv: DataView, off: number, txns: readonly StreamTransaction[], userNames: readonly string[]): number {
  const nUser = userNames.length;
  for (let k = 0; k < txns.length; k++) {
    const t = txns[k]!;
    const data = t.data;
    const n = data.length;
    writeU64(dv, off, t.startCycle);
    writeU64(dv, off + 8, t.endCycle);
    dv.setUint32(off + 16, n, true);
    dv.setUint32(off + 20, nUser, true);
    off += STREAM_RECORD_SIZE;
    for (let i = 0; i < nUser; i++) {
      dv.setUint32(off, (t.user[userNames[i]!] ?? 0) >>> 0, true);
      off += 4;
    }
    // TypedArray.set has a fixed cost that dominates for the short records of control streams
    if (n <= 64) for (let i = 0; i < n; i++) out[off + i] = data[i]!;
    else out.set(data, off);
    off += n;
  }
  return off;
}

/** Transactions as the records of a stream message's tail (the bytes the RTL side sends for them). */
export function encodeStreamRecords(txns: readonly StreamTransaction[], userNames: readonly string[]): Uint8Array {
  const out = new Uint8Array(streamRecordsSize(txns, userNames.length));
  writeStreamRecords(out, new DataView(out.buffer), 0, txns, userNames);
  return out;
}

export function encodeStreamMessage(
  name: "H2R_STREAM_INPUT" | "R2H_STREAM_OUTPUT",
  seq: number,
  port: number,
  txns: readonly StreamTransaction[],
  userNames: readonly string[],
): Uint8Array {
  const def = messageDef(name);
  const body = bodySize(def);
  const total = HEADER_SIZE + body + streamRecordsSize(txns, userNames.length);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  writeHeader(dv, def.type, total - HEADER_SIZE, seq);
  writeFields(dv, out, HEADER_SIZE, def, { port, count: txns.length });
  writeStreamRecords(out, dv, HEADER_SIZE + body, txns, userNames);
  return out;
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
  const dv = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
  const out: StreamTransaction[] = new Array(count);
  let off = 0;
  for (let i = 0; i < count; i++) {
    if (off + STREAM_RECORD_SIZE > tail.length) throw new ProtocolError(`${where}: record ${i} of ${count} truncated`);
    const startCycle = readU64(dv, off);
    const endCycle = readU64(dv, off + 8);
    const dataBytes = dv.getUint32(off + 16, true);
    const userWords = dv.getUint32(off + 20, true);
    off += STREAM_RECORD_SIZE;
    if (userWords !== userNames.length) throw new ProtocolError(`${where}: record ${i} has ${userWords} user fields, the manifest declares ${userNames.length}`);
    const user: Record<string, number> = {};
    for (let u = 0; u < userWords; u++) {
      user[userNames[u]!] = dv.getUint32(off, true);
      off += 4;
    }
    if (off + dataBytes > tail.length) throw new ProtocolError(`${where}: record ${i} data truncated`);
    out[i] = { data: tail.subarray(off, off + dataBytes), user, startCycle, endCycle };
    off += dataBytes;
  }
  if (off !== tail.length) throw new ProtocolError(`${where}: ${tail.length - off} bytes after the last record`);
  return out;
}

/** The u64 values of an R2H_WIRES tail (as numbers: exact below 2^53). */
/** A stream record's place in a tail, read without decoding it (see StreamRecordCursor). */
export interface StreamRecordSpan {
  /** offset after the record */
  end: number;
  startCycle: number;
  endCycle: number;
  dataBytes: number;
}

/**
 * Reads the header of the record at `off` of `tail` into `span` (reused: no allocation),
 * or returns false when the record does not fit in the tail (a record cut at the end).
 */
export function spanStreamRecord(tail: Uint8Array, dv: DataView, off: number, span: StreamRecordSpan): boolean {
  if (off + STREAM_RECORD_SIZE > tail.length) return false;
  const dataBytes = dv.getUint32(off + 16, true);
  const end = off + STREAM_RECORD_SIZE + 4 * dv.getUint32(off + 20, true) + dataBytes;
  if (end > tail.length) return false;
  span.startCycle = readU64(dv, off);
  span.endCycle = readU64(dv, off + 8);
  span.dataBytes = dataBytes;
  span.end = end;
  return true;
}

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
