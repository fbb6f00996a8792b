/**
 * Table-write commands on the tpt block's configuration port (s_cfg): what the firmware's
 * SW2HW_MPT, HW2SW_MPT and WRITE_MTT become on the device bus. One transaction per write,
 * one beat of TPT_CFG_BEAT_BYTES (40): an 8-byte header, then the entry bytes.
 *
 *   byte  field   bits  meaning
 *      0  op         8  TptCfgOp: 1 MPT write, 2 MPT invalidate, 3 MTT write
 *      1  rsvd      24
 *      4  index     32  MPT or MTT index
 *      8  entry         MPT write: 32-byte MptEntry; MTT write: 8-byte MttEntry; invalidate: none
 *
 * An index beyond the table, or an unknown op, is ignored by the block (the firmware
 * validates first and returns BAD_INDEX). An MPT write or invalidate also drops the MPT
 * cache line of that index in the same cycle.
 */
import { defineLayout } from "../../core/layout.ts";
import { encodeMpt, MPT_ENTRY_BYTES, type MptEntry } from "./mpt.ts";
import { encodeMtt, MTT_ENTRY_BYTES, type MttEntry } from "./mtt.ts";

export const TptCfgOp = { mptWrite: 1, mptInvalidate: 2, mttWrite: 3 } as const;

const cfgFields = [
  { name: "op", bits: 8, doc: "TptCfgOp" },
  { name: "rsvd", bits: 24 },
  { name: "index", bits: 32, doc: "MPT or MTT index" },
] as const;

export const TptCfgHeaderLayout = defineLayout("tpt_cfg_header", cfgFields, { sizeBytes: 8 });
export const TPT_CFG_HEADER_BYTES = TptCfgHeaderLayout.sizeBytes;
/** s_cfg beat width: header + the largest entry */
export const TPT_CFG_BEAT_BYTES = TPT_CFG_HEADER_BYTES + MPT_ENTRY_BYTES;

/** SW2HW_MPT: 40 bytes */
export function cfgMptWrite(index: number, e: MptEntry): Uint8Array {
  const b = TptCfgHeaderLayout.encode({ op: TptCfgOp.mptWrite, index }, new Uint8Array(TPT_CFG_HEADER_BYTES + MPT_ENTRY_BYTES));
  encodeMpt(e, b, TPT_CFG_HEADER_BYTES);
  return b;
}

/** HW2SW_MPT: 8 bytes; the entry becomes free */
export function cfgMptInvalidate(index: number): Uint8Array {
  return TptCfgHeaderLayout.encode({ op: TptCfgOp.mptInvalidate, index });
}

/** WRITE_MTT (one entry): 16 bytes */
export function cfgMttWrite(index: number, e: MttEntry): Uint8Array {
  const b = TptCfgHeaderLayout.encode({ op: TptCfgOp.mttWrite, index }, new Uint8Array(TPT_CFG_HEADER_BYTES + MTT_ENTRY_BYTES));
  encodeMtt(e, b, TPT_CFG_HEADER_BYTES);
  return b;
}
