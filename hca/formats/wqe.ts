/**
 * mlx4-style work-queue-entry layouts, declared once (core/layout.ts). The driver writes
 * these bytes into host-memory rings; hca/wqe-fetch parses them. Big-endian, bit 0 = MSB.
 *
 * Values follow the public Linux mlx4 headers (our own code, not a copy):
 *  - include/linux/mlx4/qp.h: struct mlx4_wqe_ctrl_seg {owner_opcode; vlan_tag, ins_vlan,
 *    fence_size; srcrb_flags; imm}, MLX4_WQE_CTRL_FENCE = 1 << 6 (of fence_size),
 *    MLX4_WQE_CTRL_CQ_UPDATE = 3 << 2, MLX4_WQE_CTRL_SOLICITED = 1 << 1, owner bit = bit 31
 *    of owner_opcode; mlx4_wqe_raddr_seg {raddr 64, rkey, reserved}; mlx4_wqe_atomic_seg
 *    {swap_add, compare}; mlx4_wqe_masked_atomic_seg {swap_add, compare, swap_add_mask,
 *    compare_mask}; mlx4_wqe_data_seg {byte_count, lkey, addr}; mlx4_wqe_inline_seg
 *    {byte_count} with MLX4_INLINE_SEG = 1 << 31; MLX4_INVALID_LKEY = 0x100 ends a receive
 *    WQE's scatter list.
 *  - include/linux/mlx4/device.h (also rdma-core providers/mlx4/mlx4dv.h): MLX4_OPCODE_NOP
 *    0x00, RDMA_WRITE 0x08, RDMA_WRITE_IMM 0x09, SEND 0x0a, SEND_IMM 0x0b, SEND_INVAL 0x0c,
 *    RDMA_READ 0x10, ATOMIC_CS 0x11, ATOMIC_FA 0x12, MASKED_ATOMIC_CS 0x14, MASKED_ATOMIC_FA
 *    0x15 (a masked atomic WQE is ctrl + raddr + masked atomic segment + one data segment).
 *
 * hcasim conventions (the block's, documented in hca/wqe-fetch/README.md):
 *  - every WQE occupies a fixed stride of WQE_STRIDE = 2 basic blocks (128 bytes), so the
 *    ctrl `size` is 1..8 sixteen-byte units;
 *  - owner bit of the WQE at producer counter `idx` in a ring of 2^logSize WQEs is
 *    (idx >> logSize) & 1 (it flips every lap; a WQE left from the previous lap is stale);
 *  - a send WQE carries either data segments or exactly one inline segment (first segment
 *    after ctrl/raddr/atomic), never both; inline data is contiguous (no 64-byte split).
 */
import { defineLayout } from "../../core/layout.ts";

/** a WQE basic block [bytes] */
export const WQE_BB_BYTES = 64;
/** the stride of one WQE in a ring: 2 basic blocks [bytes] */
export const WQE_STRIDE = 128;
/** one segment unit of the ctrl `size` field [bytes] */
export const WQE_SEG_BYTES = 16;
/** largest ctrl size [16-byte units] */
export const WQE_MAX_SIZE = WQE_STRIDE / WQE_SEG_BYTES;
/** lkey that ends a receive WQE's scatter list (mlx4 MLX4_INVALID_LKEY) */
export const INVALID_LKEY = 0x100;
/** bit 31 of a segment's first word marks an inline segment (mlx4 MLX4_INLINE_SEG) */
export const INLINE_SEG_BIT = 0x8000_0000;

/** send opcodes (mlx4 values) */
export const WqeOpcode = {
  NOP: 0x00,
  RDMA_WRITE: 0x08,
  RDMA_WRITE_IMM: 0x09,
  SEND: 0x0a,
  SEND_IMM: 0x0b,
  /** SEND with invalidate: the R_Key to invalidate at the responder rides in the ctrl `imm` */
  SEND_INV: 0x0c,
  RDMA_READ: 0x10,
  ATOMIC_CS: 0x11,
  ATOMIC_FA: 0x12,
  /** 8-byte compare-swap under a swap mask and a compare mask */
  MASKED_ATOMIC_CS: 0x14,
  /** 8-byte fetch-add split into fields: `compare` carries the field-boundary mask */
  MASKED_ATOMIC_FA: 0x15,
} as const;
export type WqeOpcodeValue = (typeof WqeOpcode)[keyof typeof WqeOpcode];
export const WQE_OPCODE_NAMES: Record<number, keyof typeof WqeOpcode> = Object.fromEntries(
  Object.entries(WqeOpcode).map(([k, v]) => [v, k as keyof typeof WqeOpcode]),
);

/** per opcode: carries a raddr segment, its atomic segment's size, immediate data */
export interface OpcodeInfo {
  raddr: boolean;
  /** 16-byte units of its atomic segment: 0 none, 1 AtomicSeg, 2 MaskedAtomicSeg */
  atomicUnits: 0 | 1 | 2;
  imm: boolean;
}
/** the largest atomicUnits of OPCODE_INFO (the RTL's table entry has room for it) */
export const MAX_ATOMIC_UNITS = 2;
export const OPCODE_INFO: Record<number, OpcodeInfo> = {
  [WqeOpcode.NOP]: { raddr: false, atomicUnits: 0, imm: false },
  [WqeOpcode.RDMA_WRITE]: { raddr: true, atomicUnits: 0, imm: false },
  [WqeOpcode.RDMA_WRITE_IMM]: { raddr: true, atomicUnits: 0, imm: true },
  [WqeOpcode.SEND]: { raddr: false, atomicUnits: 0, imm: false },
  [WqeOpcode.SEND_IMM]: { raddr: false, atomicUnits: 0, imm: true },
  [WqeOpcode.SEND_INV]: { raddr: false, atomicUnits: 0, imm: true },
  [WqeOpcode.RDMA_READ]: { raddr: true, atomicUnits: 0, imm: false },
  [WqeOpcode.ATOMIC_CS]: { raddr: true, atomicUnits: 1, imm: false },
  [WqeOpcode.ATOMIC_FA]: { raddr: true, atomicUnits: 1, imm: false },
  [WqeOpcode.MASKED_ATOMIC_CS]: { raddr: true, atomicUnits: 2, imm: false },
  [WqeOpcode.MASKED_ATOMIC_FA]: { raddr: true, atomicUnits: 2, imm: false },
};

/** 16-byte units of ctrl + raddr + atomic segments for an opcode (undefined: not an opcode) */
export function fixedUnits(opcode: number): number | undefined {
  const i = OPCODE_INFO[opcode];
  return i === undefined ? undefined : 1 + (i.raddr ? 1 : 0) + i.atomicUnits;
}

/** whether an opcode is a masked atomic (its atomic segment carries the two masks) */
export function isMaskedAtomic(opcode: number): boolean {
  return OPCODE_INFO[opcode]?.atomicUnits === 2;
}

/** control segment, 16 bytes (mlx4_wqe_ctrl_seg) */
export const CtrlSeg = defineLayout(
  "wqe-ctrl",
  [
    { name: "owner", bits: 1, doc: "ownership: (index >> logSize) & 1 when valid for hardware" },
    { name: "reserved0", bits: 26 },
    { name: "opcode", bits: 5, doc: "WqeOpcode" },
    { name: "vlanTag", bits: 16 },
    { name: "insVlan", bits: 8 },
    { name: "reserved1", bits: 1 },
    { name: "fence", bits: 1, doc: "MLX4_WQE_CTRL_FENCE" },
    { name: "size", bits: 6, doc: "WQE size [16-byte units], ctrl included" },
    { name: "srcrb", bits: 24 },
    { name: "reserved2", bits: 4 },
    { name: "cqUpdate", bits: 2, doc: "3 = signalled (MLX4_WQE_CTRL_CQ_UPDATE)" },
    { name: "solicited", bits: 1, doc: "MLX4_WQE_CTRL_SOLICITED" },
    { name: "loopback", bits: 1 },
    { name: "imm", bits: 32, doc: "immediate data (SEND_IMM, RDMA_WRITE_IMM), or the R_Key to invalidate (SEND_INV)" },
  ],
  { sizeBytes: 16 },
);

/** remote-address segment, 16 bytes (mlx4_wqe_raddr_seg) */
export const RaddrSeg = defineLayout(
  "wqe-raddr",
  [
    { name: "raddr", bits: 64 },
    { name: "rkey", bits: 32 },
    { name: "reserved", bits: 32 },
  ],
  { sizeBytes: 16 },
);

/** the operands every atomic segment starts with (mlx4_wqe_atomic_seg) */
const ATOMIC_OPERANDS = [
  { name: "swapAdd", bits: 64, doc: "swap value (CS) or addend (FA)" },
  { name: "compare", bits: 64, doc: "compare value (CS); field-boundary mask (masked FA)" },
] as const;

/** atomic segment, 16 bytes (mlx4_wqe_atomic_seg) */
export const AtomicSeg = defineLayout("wqe-atomic", ATOMIC_OPERANDS, { sizeBytes: 16 });

/**
 * masked atomic segment, 32 bytes (mlx4_wqe_masked_atomic_seg): the atomic segment's
 * operands, then a second 16-byte unit with the masks
 */
export const MaskedAtomicSeg = defineLayout(
  "wqe-masked-atomic",
  [
    ...ATOMIC_OPERANDS,
    { name: "swapMask", bits: 64, doc: "bits of swapAdd that replace the target's (masked CS)" },
    { name: "compareMask", bits: 64, doc: "bits of compare that must match the target's (masked CS)" },
  ],
  { sizeBytes: 32 },
);

/** data (scatter/gather) segment, 16 bytes (mlx4_wqe_data_seg); bit 31 of byteCount must be 0 */
export const DataSeg = defineLayout(
  "wqe-data",
  [
    { name: "byteCount", bits: 32 },
    { name: "lkey", bits: 32 },
    { name: "addr", bits: 64 },
  ],
  { sizeBytes: 16 },
);

/** inline segment header, 4 bytes (mlx4_wqe_inline_seg); the data follows it */
export const InlineSegHeader = defineLayout(
  "wqe-inline",
  [
    { name: "inline", bits: 1, doc: "1 (MLX4_INLINE_SEG)" },
    { name: "byteCount", bits: 31 },
  ],
  { sizeBytes: 4 },
);

// ---- work requests ------------------------------------------------------------------------

export interface Sge {
  addr: bigint;
  length: number;
  lkey: number;
}

export interface SendWr {
  opcode: number;
  signalled?: boolean;
  solicited?: boolean;
  fence?: boolean;
  /** immediate data (SEND_IMM, RDMA_WRITE_IMM), or the R_Key the responder invalidates (SEND_INV) */
  imm?: number;
  raddr?: bigint;
  rkey?: number;
  /** ATOMIC_CS swap value / ATOMIC_FA addend */
  swapAdd?: bigint;
  /** ATOMIC_CS compare value; MASKED_ATOMIC_FA field-boundary mask */
  compare?: bigint;
  /** MASKED_ATOMIC_CS: the bits of swapAdd written */
  swapMask?: bigint;
  /** MASKED_ATOMIC_CS: the bits of compare compared */
  compareMask?: bigint;
  sgl?: Sge[];
  /** inline payload instead of an SGE list */
  inline?: Uint8Array;
}

/** the 16-byte units an encoded WR needs (ctrl included) */
export function sendWqeUnits(wr: SendWr): number {
  const fixed = fixedUnits(wr.opcode);
  if (fixed === undefined) throw new RangeError(`unknown WQE opcode 0x${wr.opcode.toString(16)}`);
  const body = wr.inline !== undefined ? Math.ceil((4 + wr.inline.length) / 16) : (wr.sgl?.length ?? 0);
  return fixed + body;
}

/** a send WQE, WQE_STRIDE bytes; throws if it does not fit in the stride */
export function encodeSendWqe(wr: SendWr, ownerBit: number): Uint8Array {
  if (wr.inline !== undefined && (wr.sgl?.length ?? 0) > 0) throw new RangeError("a WQE carries inline data or an SGE list, not both");
  // the original value lands in exactly one local buffer (mlx4 builds a masked atomic with one data segment)
  if (isMaskedAtomic(wr.opcode) && (wr.inline !== undefined || wr.sgl?.length !== 1)) {
    throw new RangeError(`a masked atomic WQE carries exactly one SGE, got ${wr.inline !== undefined ? "inline data" : (wr.sgl?.length ?? 0)}`);
  }
  const size = sendWqeUnits(wr);
  if (size > WQE_MAX_SIZE) throw new RangeError(`WQE needs ${size} 16-byte units; the stride holds ${WQE_MAX_SIZE}`);
  const b = new Uint8Array(WQE_STRIDE);
  const info = OPCODE_INFO[wr.opcode];
  CtrlSeg.encode(
    {
      owner: ownerBit & 1,
      opcode: wr.opcode,
      fence: wr.fence ? 1 : 0,
      size,
      cqUpdate: wr.signalled ? 3 : 0,
      solicited: wr.solicited ? 1 : 0,
      imm: (wr.imm ?? 0) >>> 0,
    },
    b,
    0,
  );
  let off = 16;
  if (info.raddr) {
    RaddrSeg.encode({ raddr: wr.raddr ?? 0n, rkey: (wr.rkey ?? 0) >>> 0 }, b, off);
    off += 16;
  }
  if (info.atomicUnits === 2) {
    MaskedAtomicSeg.encode({ swapAdd: wr.swapAdd ?? 0n, compare: wr.compare ?? 0n, swapMask: wr.swapMask ?? 0n, compareMask: wr.compareMask ?? 0n }, b, off);
  } else if (info.atomicUnits === 1) {
    AtomicSeg.encode({ swapAdd: wr.swapAdd ?? 0n, compare: wr.compare ?? 0n }, b, off);
  }
  off += info.atomicUnits * WQE_SEG_BYTES;
  if (wr.inline !== undefined) {
    InlineSegHeader.encode({ inline: 1, byteCount: wr.inline.length }, b, off);
    b.set(wr.inline, off + 4);
  } else {
    for (const s of wr.sgl ?? []) {
      DataSeg.encode({ byteCount: s.length >>> 0, lkey: s.lkey >>> 0, addr: s.addr }, b, off);
      off += 16;
    }
  }
  return b;
}

/** why a WQE was rejected (the wqe_fetch block's m_err reasons) */
export const WqeError = {
  /** the owner bit says the WQE belongs to the previous lap: not executed */
  staleOwner: 1,
  /** not an opcode of the table */
  badOpcode: 2,
  /** size below the opcode's fixed segments or above the stride */
  badSize: 3,
  /** an inline segment that overruns the WQE, or a data segment with the inline bit */
  badSegment: 4,
} as const;
export const WQE_ERROR_NAMES: Record<number, string> = { 1: "stale_owner", 2: "bad_opcode", 3: "bad_size", 4: "bad_segment" };

export interface ParsedSendWqe {
  owner: number;
  opcode: number;
  size: number;
  fence: boolean;
  signalled: boolean;
  solicited: boolean;
  imm: number;
  raddr: bigint;
  rkey: number;
  swapAdd: bigint;
  compare: bigint;
  /** masked atomics only (0 otherwise) */
  swapMask: bigint;
  compareMask: bigint;
  sgl: Sge[];
  inline?: Uint8Array;
}

/**
 * Parses a send WQE (at least WQE_STRIDE bytes from `offset`). Returns the WR, or the
 * WqeError reason. `expectedOwner` (if given) is checked first.
 */
export function parseSendWqe(bytes: Uint8Array, expectedOwner?: number, offset = 0): ParsedSendWqe | { error: number } {
  const c = CtrlSeg.decode(bytes, offset);
  if (expectedOwner !== undefined && c.owner !== (expectedOwner & 1)) return { error: WqeError.staleOwner };
  const fixed = fixedUnits(c.opcode);
  if (fixed === undefined) return { error: WqeError.badOpcode };
  if (c.size < fixed || c.size > WQE_MAX_SIZE) return { error: WqeError.badSize };
  const info = OPCODE_INFO[c.opcode];
  const wr: ParsedSendWqe = {
    owner: c.owner,
    opcode: c.opcode,
    size: c.size,
    fence: c.fence === 1,
    signalled: c.cqUpdate !== 0,
    solicited: c.solicited === 1,
    imm: c.imm,
    raddr: 0n,
    rkey: 0,
    swapAdd: 0n,
    compare: 0n,
    swapMask: 0n,
    compareMask: 0n,
    sgl: [],
  };
  let off = offset + 16;
  if (info.raddr) {
    wr.raddr = RaddrSeg.getBig(bytes, off, "raddr");
    wr.rkey = RaddrSeg.get(bytes, off, "rkey");
    off += 16;
  }
  if (info.atomicUnits > 0) {
    wr.swapAdd = AtomicSeg.getBig(bytes, off, "swapAdd");
    wr.compare = AtomicSeg.getBig(bytes, off, "compare");
  }
  if (info.atomicUnits === 2) {
    wr.swapMask = MaskedAtomicSeg.getBig(bytes, off, "swapMask");
    wr.compareMask = MaskedAtomicSeg.getBig(bytes, off, "compareMask");
  }
  off += info.atomicUnits * WQE_SEG_BYTES;
  const end = offset + c.size * 16;
  if (off < end && InlineSegHeader.get(bytes, off, "inline") === 1) {
    const n = InlineSegHeader.get(bytes, off, "byteCount");
    if (off + 4 + n > end) return { error: WqeError.badSegment };
    wr.inline = bytes.slice(off + 4, off + 4 + n);
    return wr;
  }
  for (; off < end; off += 16) {
    const bc = DataSeg.get(bytes, off, "byteCount");
    if (bc >= INLINE_SEG_BIT) return { error: WqeError.badSegment };
    wr.sgl.push({ length: bc, lkey: DataSeg.get(bytes, off, "lkey"), addr: DataSeg.getBig(bytes, off, "addr") });
  }
  return wr;
}

/** a receive WQE (data segments only), WQE_STRIDE bytes; fewer than 8 SGEs end with INVALID_LKEY */
export function encodeRecvWqe(sgl: readonly Sge[]): Uint8Array {
  const max = WQE_STRIDE / 16;
  if (sgl.length > max) throw new RangeError(`a receive WQE holds at most ${max} SGEs`);
  const b = new Uint8Array(WQE_STRIDE);
  sgl.forEach((s, i) => DataSeg.encode({ byteCount: s.length >>> 0, lkey: s.lkey >>> 0, addr: s.addr }, b, i * 16));
  if (sgl.length < max) DataSeg.encode({ byteCount: 0, lkey: INVALID_LKEY, addr: 0n }, b, sgl.length * 16);
  return b;
}

/** the SGEs of a receive WQE, up to the first INVALID_LKEY; badSegment if one has the inline bit */
export function parseRecvWqe(bytes: Uint8Array, offset = 0): Sge[] | { error: number } {
  const out: Sge[] = [];
  for (let off = offset; off < offset + WQE_STRIDE; off += 16) {
    const lkey = DataSeg.get(bytes, off, "lkey");
    if (lkey === INVALID_LKEY) break;
    const bc = DataSeg.get(bytes, off, "byteCount");
    if (bc >= INLINE_SEG_BIT) return { error: WqeError.badSegment };
    out.push({ length: bc, lkey, addr: DataSeg.getBig(bytes, off, "addr") });
  }
  return out;
}

/** the owner bit a valid WQE at producer counter `index` carries in a ring of 2^logSize WQEs */
export function ownerBitOf(index: number, logSize: number): number {
  return (index >>> logSize) & 1;
}
