/**
 * Extended transport headers (IBTA Vol 1 §9.3) as layouts, and the byte helpers the
 * stages use on the hot path. Field offsets come from the layouts, never by hand; the
 * sizes are checked against EXTENSION_HEADER_BYTES by the tests.
 *
 *   RETH (16)        | virtual address (64) | R_Key (32) | DMA length (32) |
 *   AETH (4)         | syndrome (8) | MSN (24) |
 *   AtomicETH (28)   | virtual address (64) | R_Key (32) | swap or add data (64) | compare data (64) |
 *   masked compare-swap payload | swap mask (64) | compare mask (64) |   (hcasim extension, README.md)
 *   AtomicAckETH (8) | original remote data (64) |
 *   ImmDt (4)        | immediate data (32) |
 *   IETH (4)         | R_Key to invalidate (32) |
 *   DETH (8)         hca/headers/deth.ts
 */
import { defineLayout } from "../../core/layout.ts";
import { Bth, Deth } from "../headers/index.ts";

export const Reth = defineLayout(
  "reth",
  [
    { name: "va", bits: 64, doc: "first virtual address at the responder" },
    { name: "rkey", bits: 32 },
    { name: "dmaLen", bits: 32, doc: "bytes of the whole message [bytes]" },
  ],
  { sizeBytes: 16 },
);

export const Aeth = defineLayout(
  "aeth",
  [
    { name: "syndrome", bits: 8, doc: "AETH_SYNDROME: ACK + credits, RNR NAK + timer, NAK + code" },
    { name: "msn", bits: 24, doc: "message sequence number" },
  ],
  { sizeBytes: 4 },
);

export const AtomicEth = defineLayout(
  "atomic_eth",
  [
    { name: "va", bits: 64 },
    { name: "rkey", bits: 32 },
    { name: "swapAdd", bits: 64, doc: "swap data (compare-swap) or add data (fetch-add)" },
    { name: "compare", bits: 64, doc: "compare data (compare-swap); field boundary mask (masked fetch-add)" },
  ],
  { sizeBytes: 28 },
);

/** the 16-byte payload of a masked compare-swap (opcode 0x18, hcasim's extended atomics) */
export const MaskedCompareSwapPayload = defineLayout(
  "masked_compare_swap_payload",
  [
    { name: "swapMask", bits: 64 },
    { name: "compareMask", bits: 64 },
  ],
  { sizeBytes: 16 },
);

export const AtomicAckEth = defineLayout("atomic_ack_eth", [{ name: "orig", bits: 64, doc: "the remote data before the operation" }], { sizeBytes: 8 });
export const ImmDt = defineLayout("immdt", [{ name: "imm", bits: 32 }], { sizeBytes: 4 });
export const Ieth = defineLayout("ieth", [{ name: "rkey", bits: 32, doc: "R_Key the responder invalidates" }], { sizeBytes: 4 });

/** byte offsets inside each header, from the layouts */
export const OFF = {
  bthOpcode: Bth.field("opcode").byteOffset,
  /** SE, M, PadCnt, TVer */
  bthFlags: Bth.field("solicitedEvent").byteOffset,
  bthPkey: Bth.field("pkey").byteOffset,
  bthDestQp: Bth.field("destQp").byteOffset,
  /** AckReq in its top bit */
  bthAckReq: Bth.field("ackReq").byteOffset,
  bthPsn: Bth.field("psn").byteOffset,
  rethVa: Reth.field("va").byteOffset,
  rethRkey: Reth.field("rkey").byteOffset,
  rethLen: Reth.field("dmaLen").byteOffset,
  aethSyndrome: Aeth.field("syndrome").byteOffset,
  aethMsn: Aeth.field("msn").byteOffset,
  atomicVa: AtomicEth.field("va").byteOffset,
  atomicRkey: AtomicEth.field("rkey").byteOffset,
  atomicSwapAdd: AtomicEth.field("swapAdd").byteOffset,
  atomicCompare: AtomicEth.field("compare").byteOffset,
  maskedSwapMask: MaskedCompareSwapPayload.field("swapMask").byteOffset,
  maskedCompareMask: MaskedCompareSwapPayload.field("compareMask").byteOffset,
  atomicAckOrig: AtomicAckEth.field("orig").byteOffset,
  immDt: ImmDt.field("imm").byteOffset,
  iethRkey: Ieth.field("rkey").byteOffset,
  dethQkey: Deth.field("qkey").byteOffset,
  dethSrcQp: Deth.field("srcQp").byteOffset,
} as const;

/** BTH byte 1: SE (bit 7), M (bit 6), PadCnt (bits 5..4), TVer (bits 3..0) */
export const BTH_SE = 0x80;
export const BTH_MIGREQ = 0x40;
export const BTH_PAD_SHIFT = 4;
/** BTH byte 8: AckReq (bit 7) */
export const BTH_ACKREQ = 0x80;

export function rd32(b: Uint8Array, o: number): number {
  return b[o] * 0x100_0000 + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
}
export function rd24(b: Uint8Array, o: number): number {
  return (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
}
export function rd16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}
export function wr32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = v >>> 16;
  b[o + 2] = v >>> 8;
  b[o + 3] = v;
}
export function wr24(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 16;
  b[o + 1] = v >>> 8;
  b[o + 2] = v;
}
export function wr16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8;
  b[o + 1] = v;
}
