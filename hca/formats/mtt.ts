/**
 * MTT entry (memory translation table), one per page, 8 bytes, big-endian, as in mthca/mlx4:
 * the physical page address with its low 12 bits replaced by flags, bit 0 = present.
 *
 *   byte  field      bits  meaning
 *      0  pageAddr     52  physical address >> 12 of the page
 *      6  rsvd         11
 *      7  present       1  1 = the page is mapped
 */
import { defineLayout } from "../../core/layout.ts";

const mttFields = [
  { name: "pageAddr", bits: 52, doc: "physical page address >> 12" },
  { name: "rsvd", bits: 11 },
  { name: "present", bits: 1, doc: "1 = mapped" },
] as const;

export const MttEntryLayout = defineLayout("mtt_entry", mttFields, { sizeBytes: 8 });
export const MTT_ENTRY_BYTES = MttEntryLayout.sizeBytes;
/** MTT addresses are in units of 4 KiB */
export const MTT_ADDR_SHIFT = 12;

export interface MttEntry {
  /** physical address of the page, a multiple of 4096 */
  addr: bigint;
  present: boolean;
}

export function encodeMtt(e: MttEntry, buf?: Uint8Array, offset = 0): Uint8Array {
  if (e.addr < 0n || e.addr >= 1n << 64n || (e.addr & 0xfffn) !== 0n) {
    throw new RangeError(`MTT entry: address 0x${e.addr.toString(16)} is not a 4 KiB-aligned 64-bit address`);
  }
  return MttEntryLayout.encode({ pageAddr: e.addr >> 12n, present: e.present ? 1 : 0 }, buf, offset);
}

export function decodeMtt(buf: Uint8Array, offset = 0): MttEntry {
  return { addr: MttEntryLayout.getBig(buf, offset, "pageAddr") << 12n, present: MttEntryLayout.get(buf, offset, "present") === 1 };
}
