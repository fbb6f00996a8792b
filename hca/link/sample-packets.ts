/**
 * Transport packets (BTH … pad) for link tests, benches and examples: the opcode's
 * extension headers (zero except the DETH), a payload, the pad. The transport builds
 * real ones; this only has to be well-formed.
 */
import { Bth, bthOpcode, BTH_OPCODES, Deth } from "../headers/index.ts";

export interface SamplePacket {
  /** opcode name, e.g. "RC_RDMA_WRITE_ONLY" or "UD_SEND_ONLY" */
  opcode: string;
  payloadBytes?: number;
  destQp?: number;
  psn?: number;
  /** UD: the DETH's source QP */
  srcQp?: number;
  /** payload byte i is (i × 7 + fill) mod 256 */
  fill?: number;
}

/** a transport packet built from `s` */
export function samplePacket(s: SamplePacket): Uint8Array {
  const op = BTH_OPCODES.find((o) => o.name === s.opcode);
  if (op === undefined) throw new RangeError(`samplePacket: unknown opcode "${s.opcode}"`);
  const payload = s.payloadBytes ?? 0;
  if (payload > 0 && !op.payload) throw new RangeError(`samplePacket: ${s.opcode} carries no payload`);
  const pad = -payload & 3;
  const at = Bth.sizeBytes + op.headerBytes;
  const p = new Uint8Array(at + payload + pad);
  Bth.encode({ opcode: op.opcode, padCount: pad, pkey: 0xffff, destQp: s.destQp ?? 0x11, psn: s.psn ?? 0 }, p, 0);
  if (op.headers[0] === "DETH") Deth.encode({ qkey: 0x11111111, srcQp: s.srcQp ?? 0x22 }, p, Bth.sizeBytes);
  const fill = s.fill ?? 0;
  for (let i = 0; i < payload; i++) p[at + i] = (i * 7 + fill) & 0xff;
  return p;
}

/** the opcode of a transport packet, by name */
export function opcodeName(packet: Uint8Array): string {
  return bthOpcode(packet[0]!)?.name ?? `0x${packet[0]!.toString(16)}`;
}
