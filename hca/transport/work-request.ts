/**
 * Work requests as the requester and responder take them: the wqe_fetch block's parsed
 * record (hca/wqe-fetch WorkRequest: opcode, flags, imm, raddr/rkey, atomic operands, and
 * a 128-byte payload area holding the SGE list or the inline data), loaded into reusable
 * WQE slots without allocation; and an encoder of such records for tests and benches.
 *
 * Masked atomics (MASKED_ATOMIC_CS / _FA, mlx4's opcodes, 8-byte): swapAdd and compare
 * carry the swap/add and compare (or field-boundary) operands as for the plain atomics, and
 * swapMask / compareMask the masks, as the wqe_fetch block parses them from a WQE's masked
 * atomic segment; the payload area holds the one local SGE.
 *
 * UD sends carry their destination beside the record (UdDestination): the wqe_fetch block
 * does not parse mlx4 datagram segments.
 */
import { WorkRequest, WrFlag } from "../wqe-fetch/index.ts";
import { DataSeg, isMaskedAtomic, type SendWr, type Sge } from "../formats/index.ts";
import { Grh, GRH_IPVER, GRH_NXTHDR_IBA } from "../headers/index.ts";
import { rd16, rd32 } from "./eth.ts";
import { MAX_SGE, SgeList } from "./sgl.ts";
import { WQE_OP_INFO, WqeKind } from "./opcodes.ts";

const W = {
  opcode: WorkRequest.field("opcode").byteOffset,
  flags: WorkRequest.field("flags").byteOffset,
  nsge: WorkRequest.field("nsge").byteOffset,
  index: WorkRequest.field("index").byteOffset,
  inlineBytes: WorkRequest.field("inlineBytes").byteOffset,
  imm: WorkRequest.field("imm").byteOffset,
  raddr: WorkRequest.field("raddr").byteOffset,
  rkey: WorkRequest.field("rkey").byteOffset,
  swapAdd: WorkRequest.field("swapAdd").byteOffset,
  compare: WorkRequest.field("compare").byteOffset,
  swapMask: WorkRequest.field("swapMask").byteOffset,
  compareMask: WorkRequest.field("compareMask").byteOffset,
  payload: WorkRequest.field("payload").byteOffset,
};
/** 1 for the WQE opcodes (a byte) of atomics, whose operands `load` copies */
const ATOMIC_WQE_OPCODE = Uint8Array.from({ length: 256 }, (_, op) => (WQE_OP_INFO[op]?.kind === WqeKind.atomic ? 1 : 0));
/** bytes of a WorkRequest record */
export const WORK_REQUEST_BYTES = WorkRequest.sizeBytes;
/** bytes of WrFields.atomicArgs and WrFields.inline */
export const ATOMIC_ARGS_BYTES = 32;
export const INLINE_BYTES = WorkRequest.field("payload").bits / 8;

/** where a UD send goes */
export interface AddressVector {
  readonly dlid: number;
  readonly sl?: number;
  /** a GRH is sent: destination GID and its fields */
  readonly grh?: { readonly dgid: Uint8Array; readonly flowLabel?: number; readonly trafficClass?: number; readonly hopLimit?: number };
}

export interface UdDestination {
  readonly remoteQpn: number;
  /** Q_Key; with its most significant bit set the QP's own Q_Key is sent instead (privileged Q_Key rule) */
  readonly qkey: number;
  readonly av: AddressVector;
}

/** the fields of a send work request that the requester reads, loaded from a record */
export class WrFields {
  opcode = 0;
  /** WrFlag bits */
  flags = 0;
  imm = 0;
  raddrHi = 0;
  raddrLo = 0;
  rkey = 0;
  inlineLen = 0;
  /** total message length [bytes] */
  length = 0;

  constructor(
    readonly sgl: SgeList = new SgeList(),
    /** swap/add, compare, swap mask, compare mask: 8 bytes each, wire (big-endian) order */
    readonly atomicArgs: Uint8Array = new Uint8Array(ATOMIC_ARGS_BYTES),
    /** inline payload (valid when flags has WrFlag.inline) */
    readonly inline: Uint8Array = new Uint8Array(INLINE_BYTES),
  ) {}

  /** loads a WorkRequest record (its `index` field is not used: the transport counts WQEs itself) */
  load(rec: Uint8Array): void {
    if (rec.length < WORK_REQUEST_BYTES) throw new RangeError(`work request: ${rec.length} bytes, a record is ${WORK_REQUEST_BYTES}`);
    this.opcode = rec[W.opcode];
    this.flags = rec[W.flags];
    this.imm = rd32(rec, W.imm);
    this.raddrHi = rd32(rec, W.raddr);
    this.raddrLo = rd32(rec, W.raddr + 4);
    this.rkey = rd32(rec, W.rkey);
    if (ATOMIC_WQE_OPCODE[this.opcode] === 1) {
      // operands and masks matter to atomics only (the requester reads them for no other WQE)
      const a = this.atomicArgs;
      for (let k = 0; k < 8; k++) {
        a[k] = rec[W.swapAdd + k];
        a[8 + k] = rec[W.compare + k];
        a[16 + k] = rec[W.swapMask + k];
        a[24 + k] = rec[W.compareMask + k];
      }
    }
    if (this.flags & WrFlag.inline) {
      this.inlineLen = Math.min(rd16(rec, W.inlineBytes), this.inline.length);
      this.inline.set(rec.subarray(W.payload, W.payload + this.inlineLen));
      this.sgl.clear();
      this.length = this.inlineLen;
    } else {
      this.inlineLen = 0;
      this.sgl.loadDataSegs(rec, W.payload, Math.min(rec[W.nsge], MAX_SGE));
      this.length = this.sgl.total;
    }
  }
}

/** loads a receive record's SGE list */
export function loadRecvSgl(sgl: SgeList, rec: Uint8Array): void {
  if (rec.length < WORK_REQUEST_BYTES) throw new RangeError(`receive work request: ${rec.length} bytes, a record is ${WORK_REQUEST_BYTES}`);
  sgl.loadDataSegs(rec, W.payload, Math.min(rec[W.nsge], MAX_SGE));
}

/** a driver work request (hca/formats SendWr, masks of the masked atomics included) */
export interface WorkRequestInit extends Omit<SendWr, "opcode" | "sgl"> {
  /** WQE opcode (TransportWqeOpcode); 0 for a receive */
  opcode?: number;
  sgl?: readonly Sge[];
}

/** a WorkRequest record as the wqe_fetch block would emit it (kind 0 send, 1 receive) */
export function encodeWorkRequest(w: WorkRequestInit, kind: 0 | 1 = 0): Uint8Array {
  const sgl = w.sgl ?? [];
  if (sgl.length > MAX_SGE) throw new RangeError(`a work request holds at most ${MAX_SGE} SGEs, got ${sgl.length}`);
  if (w.inline !== undefined && sgl.length > 0) throw new RangeError("a work request carries inline data or an SGE list, not both");
  if ((w.swapMask !== undefined || w.compareMask !== undefined) && sgl.length > 1) throw new RangeError("a masked atomic has one local SGE");
  // as the block: masks only from a masked atomic segment
  const masked = isMaskedAtomic(w.opcode ?? 0);
  const rec = WorkRequest.encode({
    kind,
    opcode: w.opcode ?? 0,
    flags: (w.signalled ? WrFlag.signalled : 0) | (w.solicited ? WrFlag.solicited : 0) | (w.fence ? WrFlag.fence : 0) | (w.inline ? WrFlag.inline : 0),
    nsge: sgl.length,
    inlineBytes: w.inline?.length ?? 0,
    imm: (w.imm ?? 0) >>> 0,
    raddr: w.raddr ?? 0n,
    rkey: (w.rkey ?? 0) >>> 0,
    swapAdd: w.swapAdd ?? 0n,
    compare: w.compare ?? 0n,
    swapMask: masked ? (w.swapMask ?? 0n) : 0n,
    compareMask: masked ? (w.compareMask ?? 0n) : 0n,
  });
  const p = W.payload;
  if (w.inline !== undefined) {
    if (w.inline.length > 128) throw new RangeError(`inline data holds at most 128 bytes, got ${w.inline.length}`);
    rec.set(w.inline, p);
  }
  sgl.forEach((s, i) => DataSeg.encode({ byteCount: s.length >>> 0, lkey: s.lkey >>> 0, addr: s.addr }, rec, p + i * DataSeg.sizeBytes));
  return rec;
}

/** the GRH of an address vector (hca/headers Grh; the payload length is the link's to fill) */
export function grhFromAv(av: AddressVector, sgid: Uint8Array, out: Uint8Array): void {
  const g = av.grh!;
  Grh.encode(
    { ipVer: GRH_IPVER, tClass: g.trafficClass ?? 0, flowLabel: g.flowLabel ?? 0, nxtHdr: GRH_NXTHDR_IBA, hopLmt: g.hopLimit ?? 64, sgid, dgid: g.dgid },
    out,
    0,
  );
}
