/**
 * Formats of the doorbell block (hca/doorbell/README.md), declared once: the UAR MMIO
 * write record on s_mmio, the three doorbell words it may carry, the ownership-table write
 * or read on s_cfg (answered on m_cfg_rd in the same layout), and the records on m_fetch,
 * m_cq_arm and m_err. The RTL
 * (rtl-models/doorbell/doorbell.sv) reads the same offsets: byte 0 of a record travels in
 * lane 0 (tdata[7:0]) and multi-byte fields are big-endian, as drawn here.
 *
 * Doorbell offsets and words follow the public Mellanox drivers (our own layout, not a
 * copy of theirs):
 *  - drivers/infiniband/hw/mthca/mthca_doorbell.h: MTHCA_SEND_DOORBELL 0x10,
 *    MTHCA_RECEIVE_DOORBELL 0x18, MTHCA_CQ_DOORBELL 0x20 inside each UAR page; a doorbell
 *    is one 64-bit write of two big-endian 32-bit words.
 *  - mthca_qp.c (Arbel send doorbell): word0 = producer counter << 8 | fence | opcode,
 *    word1 = QPN << 8 | size of the first WQE in 16-byte units; (Tavor receive doorbell):
 *    word1 = QPN << 8 | number of WQEs posted.
 *  - include/linux/mlx4/doorbell.h: MLX4_CQ_DOORBELL 0x20 (and MLX4_SEND_DOORBELL 0x14,
 *    a 32-bit QPN-only write that this block does not implement); mlx4 cq.h: CQ arm word0 =
 *    sn << 28 | cmd << 24 | CQN, word1 = consumer index (24 bits); cmd 1 = REQ_NOT_SOL,
 *    2 = REQ_NOT; mthca_cq.c adds SET_CI (4) to only move the consumer index.
 */
import { defineLayout } from "../../core/layout.ts";

/** bytes of one UAR page; the page number of a BAR offset is its UAR index */
export const UAR_PAGE_BYTES = 4096;
export const UAR_PAGE_SHIFT = 12;

/** doorbell offsets inside a UAR page [bytes] */
export const DoorbellOffset = {
  send: 0x10,
  receive: 0x18,
  cq: 0x20,
} as const;

/** the doorbell kind carried in fetch, pending-table and error records */
export const DoorbellKind = {
  send: 0,
  receive: 1,
  cq: 2,
  /** the offset named no doorbell */
  unknown: 3,
} as const;
export type DoorbellKindValue = (typeof DoorbellKind)[keyof typeof DoorbellKind];

/** CQ doorbell commands (word0 bits 27..24) */
export const CqCommand = {
  /** arm: an event at the next solicited completion (mlx4 MLX4_CQ_DB_REQ_NOT_SOL) */
  reqNotSol: 1,
  /** arm: an event at the next completion (mlx4 MLX4_CQ_DB_REQ_NOT) */
  reqNot: 2,
  /** only move the consumer index (mthca SET_CI) */
  setCi: 4,
} as const;

/** arm state carried on m_cq_arm; merging keeps the strongest */
export const CqArm = { none: 0, solicited: 1, next: 2 } as const;

/** why a doorbell was dropped (m_err reason) */
export const RejectReason = {
  /** the QP/CQ is valid but belongs to another UAR page (another process) */
  owner: 1,
  /** the QPN/CQN is beyond the table or its entry is not valid */
  invalidQueue: 2,
  /** the page is beyond UAR_PAGES, the offset is no doorbell, or the write is not 8 bytes */
  badOffset: 3,
  /** a CQ doorbell with a command other than 1, 2 or 4 */
  badCommand: 4,
} as const;
export type RejectReasonValue = (typeof RejectReason)[keyof typeof RejectReason];
export const REJECT_REASON_NAMES: Record<number, string> = {
  [RejectReason.owner]: "owner",
  [RejectReason.invalidQueue]: "invalid_queue",
  [RejectReason.badOffset]: "bad_offset",
  [RejectReason.badCommand]: "bad_command",
};

/** bytes every doorbell write must carry */
export const DOORBELL_WRITE_BYTES = 8;

/**
 * s_mmio: one posted MMIO write into the UAR BAR, as the PCIe side delivers it.
 *   byte 0..3    4        5..7   8..15
 *   | offset  | length | rsvd | data (the bytes written, in PCIe byte order) |
 */
export const MmioWrite = defineLayout(
  "doorbell-mmio-write",
  [
    { name: "offset", bits: 32, doc: "BAR offset [bytes]: UAR index = offset >> 12, doorbell = offset & 0xfff" },
    { name: "length", bits: 8, doc: "bytes written (a doorbell is 8)" },
    { name: "reserved", bits: 24 },
    { name: "data", bytes: 8, doc: "the doorbell words: word0 in bytes 0..3, word1 in bytes 4..7, big-endian" },
  ],
  { sizeBytes: 16 },
);

/** send doorbell (offset 0x10), the 8 data bytes */
export const SendDoorbell = defineLayout(
  "doorbell-send",
  [
    { name: "reserved0", bits: 8 },
    { name: "counter", bits: 16, doc: "SQ producer counter after the new WQEs [WQEs]" },
    { name: "reserved1", bits: 2 },
    { name: "fence", bits: 1, doc: "the first new WQE is fenced" },
    { name: "opcode", bits: 5, doc: "opcode of the first new WQE" },
    { name: "qpn", bits: 24 },
    { name: "reserved2", bits: 2 },
    { name: "size", bits: 6, doc: "size of the first new WQE [16-byte units]" },
  ],
  { sizeBytes: 8 },
);

/** receive doorbell (offset 0x18), the 8 data bytes */
export const ReceiveDoorbell = defineLayout(
  "doorbell-receive",
  [
    { name: "reserved0", bits: 8 },
    { name: "counter", bits: 16, doc: "RQ producer counter after the new WQEs [WQEs]" },
    { name: "reserved1", bits: 8 },
    { name: "qpn", bits: 24 },
    { name: "nreq", bits: 8, doc: "WQEs posted by this doorbell" },
  ],
  { sizeBytes: 8 },
);

/** CQ doorbell (offset 0x20), the 8 data bytes */
export const CqDoorbell = defineLayout(
  "doorbell-cq",
  [
    { name: "reserved0", bits: 2 },
    { name: "sn", bits: 2, doc: "arm sequence number" },
    { name: "cmd", bits: 4, doc: "CqCommand" },
    { name: "cqn", bits: 24 },
    { name: "reserved1", bits: 8 },
    { name: "ci", bits: 24, doc: "consumer index [CQEs]" },
  ],
  { sizeBytes: 8 },
);

/** ownership-table target (s_cfg `table`) */
export const CfgTable = { qp: 0, cq: 1 } as const;

/**
 * s_cfg: one ownership-table write (read 0) or read (read 1) from firmware; m_cfg_rd: the
 * answer to a read, in the same layout.
 *   byte 0    1                        2..3   4      5..7
 *   | table | rsvd:6 read:1 valid:1 | uar  | rsvd | number |
 * A write whose number is beyond the table, or whose table is neither QP nor CQ, changes
 * nothing; a write with uar ≥ UAR_PAGES stores an invalid entry. A read (valid and uar
 * ignored) is answered the cycle after it with read 1, the table and number echoed, and the
 * entry's valid bit and UAR page (uar 0 when not valid; valid 0 beyond the table); s_cfg
 * waits while an answer is not taken.
 */
export const CfgWrite = defineLayout(
  "doorbell-cfg-write",
  [
    { name: "table", bits: 8, doc: "CfgTable: 0 QP, 1 CQ" },
    { name: "reserved0", bits: 6 },
    { name: "read", bits: 1, doc: "1: read the entry back on m_cfg_rd instead of writing it" },
    { name: "valid", bits: 1 },
    { name: "uar", bits: 16, doc: "the UAR page (process) the queue belongs to" },
    { name: "reserved1", bits: 8 },
    { name: "number", bits: 24, doc: "QPN or CQN" },
  ],
  { sizeBytes: 8 },
);

/**
 * m_fetch: one WQE fetch request (one or more coalesced doorbells of one QP and kind).
 *   byte 0..2  3                        4..5      6            7          8..9    10..11
 *   | qpn    | kind:2 fence:1 opcode:5 | counter | rsvd:2 size:6 | doorbells | count | rsvd |
 */
export const FetchRequest = defineLayout(
  "doorbell-fetch",
  [
    { name: "qpn", bits: 24 },
    { name: "kind", bits: 2, doc: "DoorbellKind.send or .receive" },
    { name: "fence", bits: 1, doc: "send: from the first doorbell merged" },
    { name: "opcode", bits: 5, doc: "send: from the first doorbell merged" },
    { name: "counter", bits: 16, doc: "producer counter of the latest doorbell merged [WQEs]" },
    { name: "reserved0", bits: 2 },
    { name: "size", bits: 6, doc: "send: from the first doorbell merged [16-byte units]" },
    { name: "doorbells", bits: 8, doc: "doorbells merged, saturating at 255" },
    { name: "count", bits: 16, doc: "receive: sum of nreq, saturating at 65535; send: 0" },
    { name: "reserved1", bits: 16 },
  ],
  { sizeBytes: 12 },
);

/** m_cq_arm: one CQ update (one or more coalesced CQ doorbells of one CQ) */
export const CqArmUpdate = defineLayout(
  "doorbell-cq-arm",
  [
    { name: "cqn", bits: 24 },
    { name: "sn", bits: 2, doc: "of the latest doorbell merged" },
    { name: "reserved0", bits: 4 },
    { name: "arm", bits: 2, doc: "CqArm: the strongest request merged" },
    { name: "ci", bits: 24, doc: "consumer index of the latest doorbell merged" },
    { name: "doorbells", bits: 8, doc: "doorbells merged, saturating at 255" },
  ],
  { sizeBytes: 8 },
);

/** m_err: one dropped doorbell */
export const DoorbellError = defineLayout(
  "doorbell-error",
  [
    { name: "reason", bits: 4, doc: "RejectReason" },
    { name: "kind", bits: 4, doc: "DoorbellKind decoded from the offset (unknown for a bad offset)" },
    { name: "number", bits: 24, doc: "QPN or CQN named by the doorbell (0 for a bad offset)" },
    { name: "offset", bits: 32, doc: "the BAR offset written: UAR index and doorbell offset" },
  ],
  { sizeBytes: 8 },
);

// ---- encoders used by drivers, generators and tests -------------------------------------

export interface SendDoorbellFields {
  qpn: number;
  counter: number;
  opcode?: number;
  fence?: number;
  size?: number;
}
export interface ReceiveDoorbellFields {
  qpn: number;
  counter: number;
  nreq: number;
}
export interface CqDoorbellFields {
  cqn: number;
  cmd: number;
  ci: number;
  sn?: number;
}

/** the s_mmio record of a write of `data` at `offset` */
export function mmioWrite(offset: number, data: Uint8Array, length = data.length): Uint8Array {
  const rec = new Uint8Array(MmioWrite.sizeBytes);
  MmioWrite.set(rec, 0, "offset", offset >>> 0);
  MmioWrite.set(rec, 0, "length", length);
  rec.set(data.subarray(0, 8), 8);
  return rec;
}

export function sendDoorbell(uar: number, f: SendDoorbellFields): Uint8Array {
  const w = SendDoorbell.encode({ qpn: f.qpn, counter: f.counter, opcode: f.opcode ?? 0, fence: f.fence ?? 0, size: f.size ?? 0 });
  return mmioWrite(uar * UAR_PAGE_BYTES + DoorbellOffset.send, w);
}

export function receiveDoorbell(uar: number, f: ReceiveDoorbellFields): Uint8Array {
  const w = ReceiveDoorbell.encode({ qpn: f.qpn, counter: f.counter, nreq: f.nreq });
  return mmioWrite(uar * UAR_PAGE_BYTES + DoorbellOffset.receive, w);
}

export function cqDoorbell(uar: number, f: CqDoorbellFields): Uint8Array {
  const w = CqDoorbell.encode({ cqn: f.cqn, cmd: f.cmd, ci: f.ci, sn: f.sn ?? 0 });
  return mmioWrite(uar * UAR_PAGE_BYTES + DoorbellOffset.cq, w);
}

/** the s_cfg record giving queue `number` of `table` to UAR page `uar` (or invalidating it) */
export function cfgWrite(table: number, number: number, uar: number, valid = true): Uint8Array {
  return CfgWrite.encode({ table, number, uar, valid: valid ? 1 : 0 });
}

/** the s_cfg record reading entry `number` of `table` back (answered on m_cfg_rd) */
export function cfgRead(table: number, number: number): Uint8Array {
  return CfgWrite.encode({ table, number, read: 1 });
}

/** the m_cfg_rd answer for an entry (`valid` false: uar reads 0) */
export function cfgReadback(table: number, number: number, valid: boolean, uar: number): Uint8Array {
  return CfgWrite.encode({ table, number, read: 1, valid: valid ? 1 : 0, uar: valid ? uar : 0 });
}
