/**
 * MPT entry (memory protection table), one per memory region, 32 bytes, big-endian,
 * mthca/mlx4-inspired (the real mlx4 MPT is 64 bytes; hcasim keeps the fields the TPT
 * checks). The firmware writes these bytes with SW2HW_MPT through the tpt block's s_cfg
 * port (see tpt-cfg.ts); the TPT model and RTL read exactly this layout.
 *
 *   byte  field          bits  meaning
 *      0  state             4  0 free, 1 valid (any other value: not valid)
 *      0  access            4  rights granted, Access bits (local read is always granted)
 *      1  variant           8  key variant: the low byte a key must carry
 *      2  pd               24  protection domain
 *      5  log2PageSize      8  page size of the MTT pages, 12..31 (others: entry unusable)
 *      6  rsvd0            16
 *      8  start            64  first virtual address of the region
 *     16  length           64  region length [bytes]
 *     24  mttBase          32  MTT index of the region's first page
 *     28  rsvd1            32
 */
import { defineLayout, type LayoutRecord } from "../../core/layout.ts";

export const MptState = { free: 0, valid: 1 } as const;
export type MptStateValue = (typeof MptState)[keyof typeof MptState];

/** access-right bits, in MptEntry.access and in a lookup's required access */
export const Access = {
  /** local write (local read is always granted) */
  localWrite: 1,
  remoteRead: 2,
  remoteWrite: 4,
  remoteAtomic: 8,
} as const;
/** every defined access bit */
export const ACCESS_ALL = 0xf;

/** smallest and largest page size a usable entry may declare (log2 bytes) */
export const MPT_LOG2_PAGE_MIN = 12;
export const MPT_LOG2_PAGE_MAX = 31;

const mptFields = [
  { name: "state", bits: 4, doc: "0 free, 1 valid" },
  { name: "access", bits: 4, doc: "Access bits granted" },
  { name: "variant", bits: 8, doc: "key variant (low byte of the key)" },
  { name: "pd", bits: 24, doc: "protection domain" },
  { name: "log2PageSize", bits: 8, doc: "log2 of the page size [bytes], 12..31" },
  { name: "rsvd0", bits: 16 },
  { name: "start", bits: 64, doc: "region start, virtual address" },
  { name: "length", bits: 64, doc: "region length [bytes]" },
  { name: "mttBase", bits: 32, doc: "MTT index of the first page" },
  { name: "rsvd1", bits: 32 },
] as const;

export const MptEntryLayout = defineLayout("mpt_entry", mptFields, { sizeBytes: 32 });
export type MptEntryRecord = LayoutRecord<typeof mptFields>;

/** An MPT entry as the models use it (bigints for the 64-bit fields). */
export interface MptEntry {
  state: number;
  access: number;
  variant: number;
  pd: number;
  log2PageSize: number;
  start: bigint;
  length: bigint;
  mttBase: number;
}

export const MPT_ENTRY_BYTES = MptEntryLayout.sizeBytes;

export function encodeMpt(e: MptEntry, buf?: Uint8Array, offset = 0): Uint8Array {
  return MptEntryLayout.encode(
    { state: e.state, access: e.access, variant: e.variant, pd: e.pd, log2PageSize: e.log2PageSize, start: e.start, length: e.length, mttBase: e.mttBase },
    buf,
    offset,
  );
}

export function decodeMpt(buf: Uint8Array, offset = 0): MptEntry {
  const r = MptEntryLayout.decode(buf, offset);
  return { state: r.state, access: r.access, variant: r.variant, pd: r.pd, log2PageSize: r.log2PageSize, start: r.start, length: r.length, mttBase: r.mttBase };
}

/** true if an entry can translate at all: valid state and a supported page size */
export function mptUsable(e: MptEntry): boolean {
  return e.state === MptState.valid && e.log2PageSize >= MPT_LOG2_PAGE_MIN && e.log2PageSize <= MPT_LOG2_PAGE_MAX;
}
