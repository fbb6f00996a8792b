/**
 * The tpt block's configuration port (s_cfg) and its read-back stream (m_cfg_rd): what the
 * firmware's SW2HW_MPT, HW2SW_MPT, WRITE_MTT, QUERY_MPT and the device bus's table reads
 * become. One transaction per operation, one beat of TPT_CFG_BEAT_BYTES (40): an 8-byte
 * header, then the entry bytes.
 *
 * s_cfg:
 *   byte  field   bits  meaning
 *      0  op         8  TptCfgOp: 1 MPT write, 2 MPT invalidate, 3 MTT write, 4 MPT read, 5 MTT read
 *      1  rsvd      24
 *      4  index     32  MPT or MTT index
 *      8  entry         MPT write: 32-byte MptEntry; MTT write: 8-byte MttEntry; others: none
 *
 * m_cfg_rd (one 40-byte beat per read, in order):
 *   byte  field   bits  meaning
 *      0  op         8  the read's op (4 or 5)
 *      1  rsvd       6
 *      1  live       1  MPT: the lookup path treats the entry as valid (valid state, page size 12..31)
 *      1  valid      1  MPT: hardware-owned (written, not invalidated since); MTT: written since reset
 *      2  rsvd      16
 *      4  index     32  the index read
 *      8  entry         MPT: the 32-byte entry as written; MTT: the 8-byte entry; zero when not valid
 *
 * An index beyond the table, or an unknown op, changes nothing (the firmware validates first
 * and returns BAD_INDEX); a read beyond the table answers valid 0 and a zero entry. An MPT
 * write or invalidate also drops the MPT cache line of that index in the same cycle. A read
 * sees every s_cfg write before it; its answer is valid the cycle after its handshake, and
 * s_cfg waits while an answer is not taken (m_cfg_rd_tready low).
 */
import { defineLayout } from "../../core/layout.ts";
import { decodeMpt, encodeMpt, MPT_ENTRY_BYTES, type MptEntry } from "./mpt.ts";
import { decodeMtt, encodeMtt, MTT_ENTRY_BYTES, type MttEntry } from "./mtt.ts";

export const TptCfgOp = { mptWrite: 1, mptInvalidate: 2, mttWrite: 3, mptRead: 4, mttRead: 5 } as const;

const cfgFields = [
  { name: "op", bits: 8, doc: "TptCfgOp" },
  { name: "rsvd", bits: 24 },
  { name: "index", bits: 32, doc: "MPT or MTT index" },
] as const;

export const TptCfgHeaderLayout = defineLayout("tpt_cfg_header", cfgFields, { sizeBytes: 8 });
export const TPT_CFG_HEADER_BYTES = TptCfgHeaderLayout.sizeBytes;
/** s_cfg and m_cfg_rd beat width: header + the largest entry */
export const TPT_CFG_BEAT_BYTES = TPT_CFG_HEADER_BYTES + MPT_ENTRY_BYTES;

const cfgRdFields = [
  { name: "op", bits: 8, doc: "the read's TptCfgOp" },
  { name: "rsvd0", bits: 6 },
  { name: "live", bits: 1, doc: "MPT: usable by lookups" },
  { name: "valid", bits: 1, doc: "MPT: hardware-owned; MTT: written" },
  { name: "rsvd1", bits: 16 },
  { name: "index", bits: 32 },
] as const;

/** the header of an m_cfg_rd beat; the entry follows at TPT_CFG_HEADER_BYTES */
export const TptCfgRdHeaderLayout = defineLayout("tpt_cfg_rd_header", cfgRdFields, { sizeBytes: 8 });

/** SW2HW_MPT: 40 bytes */
export function cfgMptWrite(index: number, e: MptEntry): Uint8Array {
  return cfgMptWriteBytes(index, encodeMpt(e));
}

/** SW2HW_MPT of an entry's 32 bytes as they are (reserved bits included) */
export function cfgMptWriteBytes(index: number, entry: Uint8Array): Uint8Array {
  if (entry.length !== MPT_ENTRY_BYTES) throw new RangeError(`tpt s_cfg: an MPT entry is ${MPT_ENTRY_BYTES} bytes, got ${entry.length}`);
  const b = TptCfgHeaderLayout.encode({ op: TptCfgOp.mptWrite, index }, new Uint8Array(TPT_CFG_HEADER_BYTES + MPT_ENTRY_BYTES));
  b.set(entry, TPT_CFG_HEADER_BYTES);
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

/** read MPT entry `index` back: 8 bytes, answered on m_cfg_rd */
export function cfgMptRead(index: number): Uint8Array {
  return TptCfgHeaderLayout.encode({ op: TptCfgOp.mptRead, index });
}

/** read MTT entry `index` back: 8 bytes, answered on m_cfg_rd */
export function cfgMttRead(index: number): Uint8Array {
  return TptCfgHeaderLayout.encode({ op: TptCfgOp.mttRead, index });
}

/** an m_cfg_rd answer, decoded */
export interface TptCfgReadback {
  op: number;
  index: number;
  valid: boolean;
  live: boolean;
  /** the entry bytes (32 for an MPT read, 8 for an MTT read; zero when not valid) */
  entry: Uint8Array;
}

/** the m_cfg_rd beat answering a read (what the block puts out; also the twin's encoder) */
export function encodeCfgReadback(r: TptCfgReadback): Uint8Array {
  const b = TptCfgRdHeaderLayout.encode({ op: r.op, index: r.index, valid: r.valid ? 1 : 0, live: r.live ? 1 : 0 }, new Uint8Array(TPT_CFG_BEAT_BYTES));
  if (r.valid) b.set(r.entry, TPT_CFG_HEADER_BYTES);
  return b;
}

export function decodeCfgReadback(b: Uint8Array): TptCfgReadback {
  if (b.length !== TPT_CFG_BEAT_BYTES) throw new Error(`tpt m_cfg_rd: an answer is one ${TPT_CFG_BEAT_BYTES}-byte beat, got ${b.length} bytes`);
  const h = TptCfgRdHeaderLayout.decode(b);
  const n = h.op === TptCfgOp.mttRead ? MTT_ENTRY_BYTES : MPT_ENTRY_BYTES;
  return { op: h.op, index: h.index, valid: h.valid === 1, live: h.live === 1, entry: b.slice(TPT_CFG_HEADER_BYTES, TPT_CFG_HEADER_BYTES + n) };
}

/** an MPT read answer as an entry (null when the entry is not hardware-owned) */
export function readbackMpt(r: TptCfgReadback): MptEntry | null {
  return r.valid ? decodeMpt(r.entry) : null;
}

/** an MTT read answer as an entry (null when the entry was never written) */
export function readbackMtt(r: TptCfgReadback): MttEntry | null {
  return r.valid ? decodeMtt(r.entry) : null;
}
