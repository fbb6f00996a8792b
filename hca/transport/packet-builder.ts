/**
 * Builds and decodes transport packets field by field through the header layouts: for
 * tests, fuzzing and traffic generators. It shares no code with the requester and
 * responder (which write bytes directly), so tests built on it check them independently.
 */
import { Bth, BTH_BYTES, bthOpcode, BTH_OPCODES, Deth } from "../headers/index.ts";
import { Aeth, AtomicAckEth, AtomicEth, Ieth, ImmDt, MaskedCompareSwapPayload, Reth } from "./eth.ts";
import { packetFrom, type TransportPacket } from "./packet.ts";

export interface PacketFields {
  /** opcode name, e.g. "RC_SEND_ONLY" */
  readonly opcode: string;
  readonly destQp: number;
  readonly psn: number;
  readonly pkey?: number;
  readonly ackReq?: boolean;
  readonly solicited?: boolean;
  readonly reth?: { readonly va: bigint; readonly rkey: number; readonly len: number };
  readonly aeth?: { readonly syndrome: number; readonly msn: number };
  readonly atomic?: { readonly va: bigint; readonly rkey: number; readonly swapAdd: bigint; readonly compare: bigint };
  /** masked compare-swap: its payload */
  readonly masks?: { readonly swapMask: bigint; readonly compareMask: bigint };
  readonly atomicAck?: bigint;
  readonly imm?: number;
  readonly invalidateRkey?: number;
  readonly deth?: { readonly qkey: number; readonly srcQp: number };
  readonly payload?: Uint8Array;
  /** address fields */
  readonly slid?: number;
  readonly sl?: number;
  readonly grh?: Uint8Array;
}

/** the bytes of a packet: BTH, the extension headers its opcode lists, payload, pad */
export function buildPacketBytes(f: PacketFields): Uint8Array {
  const o = BTH_OPCODES.find((x) => x.name === f.opcode);
  if (o === undefined) throw new Error(`buildPacket: no opcode ${f.opcode}`);
  let payload = f.payload ?? new Uint8Array(0);
  if (f.masks !== undefined) payload = MaskedCompareSwapPayload.encode({ swapMask: f.masks.swapMask, compareMask: f.masks.compareMask });
  const pad = -payload.length & 3;
  const b = new Uint8Array(o.payloadOffset + payload.length + pad);
  Bth.encode({ opcode: o.opcode, solicitedEvent: f.solicited ? 1 : 0, padCount: pad, pkey: f.pkey ?? 0xffff, destQp: f.destQp, ackReq: f.ackReq ? 1 : 0, psn: f.psn }, b, 0);
  const at = o.offsets;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`buildPacket: ${f.opcode} needs ${what}`);
    return v;
  };
  if (at.DETH !== undefined) Deth.encode({ ...need(f.deth, "deth") }, b, at.DETH);
  if (at.RETH !== undefined) {
    const r = need(f.reth, "reth");
    Reth.encode({ va: r.va, rkey: r.rkey >>> 0, dmaLen: r.len >>> 0 }, b, at.RETH);
  }
  if (at.AETH !== undefined) Aeth.encode({ ...need(f.aeth, "aeth") }, b, at.AETH);
  if (at.AtomicETH !== undefined) {
    const a = need(f.atomic, "atomic");
    AtomicEth.encode({ va: a.va, rkey: a.rkey >>> 0, swapAdd: a.swapAdd, compare: a.compare }, b, at.AtomicETH);
  }
  if (at.AtomicAckETH !== undefined) AtomicAckEth.encode({ orig: need(f.atomicAck, "atomicAck") }, b, at.AtomicAckETH);
  if (at.ImmDt !== undefined) ImmDt.encode({ imm: need(f.imm, "imm") >>> 0 }, b, at.ImmDt);
  if (at.IETH !== undefined) Ieth.encode({ rkey: need(f.invalidateRkey, "invalidateRkey") >>> 0 }, b, at.IETH);
  b.set(payload, o.payloadOffset);
  return b;
}

/** a packet (outside any pool) with its address fields */
export function buildPacket(f: PacketFields): TransportPacket {
  return packetFrom(buildPacketBytes(f), { slid: f.slid, sl: f.sl, grh: f.grh });
}

/** a transport packet decoded: BTH fields, each extension header, the payload */
export interface DecodedPacket {
  readonly opcode: string;
  readonly bth: ReturnType<typeof Bth.decode>;
  readonly reth?: ReturnType<typeof Reth.decode>;
  readonly aeth?: ReturnType<typeof Aeth.decode>;
  readonly atomic?: ReturnType<typeof AtomicEth.decode>;
  readonly atomicAck?: ReturnType<typeof AtomicAckEth.decode>;
  readonly imm?: number;
  readonly invalidateRkey?: number;
  readonly deth?: ReturnType<typeof Deth.decode>;
  readonly payload: Uint8Array;
  readonly slid: number;
  readonly dlid: number;
  readonly hasGrh: boolean;
}

export function decodePacket(p: TransportPacket | Uint8Array): DecodedPacket {
  const bytes = p instanceof Uint8Array ? p : p.bytes;
  if (bytes.length < BTH_BYTES) throw new Error(`decodePacket: ${bytes.length} bytes is shorter than a BTH`);
  const bth = Bth.decode(bytes, 0);
  const o = bthOpcode(bth.opcode);
  if (o === undefined) throw new Error(`decodePacket: unknown opcode 0x${bth.opcode.toString(16)}`);
  const at = o.offsets;
  return {
    opcode: o.name,
    bth,
    reth: at.RETH !== undefined ? Reth.decode(bytes, at.RETH) : undefined,
    aeth: at.AETH !== undefined ? Aeth.decode(bytes, at.AETH) : undefined,
    atomic: at.AtomicETH !== undefined ? AtomicEth.decode(bytes, at.AtomicETH) : undefined,
    atomicAck: at.AtomicAckETH !== undefined ? AtomicAckEth.decode(bytes, at.AtomicAckETH) : undefined,
    imm: at.ImmDt !== undefined ? ImmDt.get(bytes, at.ImmDt, "imm") : undefined,
    invalidateRkey: at.IETH !== undefined ? Ieth.get(bytes, at.IETH, "rkey") : undefined,
    deth: at.DETH !== undefined ? Deth.decode(bytes, at.DETH) : undefined,
    payload: bytes.slice(o.payloadOffset, bytes.length - bth.padCount),
    slid: p instanceof Uint8Array ? 0 : p.slid,
    dlid: p instanceof Uint8Array ? 0 : p.dlid,
    hasGrh: p instanceof Uint8Array ? false : p.hasGrh,
  };
}
