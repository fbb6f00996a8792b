/**
 * The firmware command interface as data: statuses, opcodes, mailbox layouts and, per
 * command, which HCR fields it uses, in which HCA states it is legal and which statuses it
 * can return. The firmware dispatcher, the HCR, the tests and the docs all read this table
 * (STYLE.md "Formats are data"); nothing below is repeated elsewhere.
 *
 * Sources (facts only):
 * - opcodes and statuses: Linux drivers/infiniband/hw/mthca/mthca_cmd.c (enum CMD_*),
 *   mthca_cmd.h (enum MTHCA_CMD_STAT_*), and include/linux/mlx4/cmd.h (MLX4_CMD_*), which
 *   keeps the same numbers. mthca calls 0x3 QUERY_DEV_LIM and 0x9/0xa INIT_IB/CLOSE_IB;
 *   mlx4 calls them QUERY_DEV_CAP and INIT_PORT/CLOSE_PORT, the names used here.
 * - HCR use: how mthca_cmd.c calls each command (which value goes in in_param,
 *   in_modifier, op_modifier; whether an outbox is passed).
 * - QUERY_FW and QUERY_DEV_CAP field offsets: the QUERY_FW_*_OFFSET and
 *   QUERY_DEV_LIM_*_OFFSET constants of mthca_cmd.c. The other mailbox layouts are hcasim's
 *   own, smaller than the PRM's (which is not public), with mthca's field names.
 */

import { defineLayout } from "../core/index.ts";
import { MPT_ENTRY_BYTES, MptEntryLayout, MTT_ENTRY_BYTES } from "../hca/formats/index.ts";

// ---- statuses ---------------------------------------------------------------------------

/**
 * Command completion status, the byte the firmware writes into HCR bits 31:24 of the
 * status word (mthca_cmd.h MTHCA_CMD_STAT_*; values verified against the driver).
 */
export const enum Status {
  OK = 0x00,
  /** internal error (firmware fault) */
  INTERNAL_ERR = 0x01,
  /** operation/command not supported, or opcode modifier not supported */
  BAD_OP = 0x02,
  /** parameter not supported or out of range */
  BAD_PARAM = 0x03,
  /** system not enabled or bad system state */
  BAD_SYS_STATE = 0x04,
  /** attempt to access a reserved or unallocated resource */
  BAD_RESOURCE = 0x05,
  /** the resource is executing a command or is otherwise busy */
  RESOURCE_BUSY = 0x06,
  /** memory error (not produced by the model: it has no DDR) */
  DDR_MEM_ERR = 0x07,
  /** required capability exceeds device limits */
  EXCEED_LIM = 0x08,
  /** resource not in the appropriate state or ownership */
  BAD_RES_STATE = 0x09,
  /** index out of range */
  BAD_INDEX = 0x0a,
  /** firmware image corrupted (not produced by the model) */
  BAD_NVMEM = 0x0b,
  /** modify of a QP that is not in the presumed state (BAD_QPEE_STATE) */
  BAD_QP_STATE = 0x10,
  /** bad segment parameters (address/size) */
  BAD_SEG_PARAM = 0x20,
  /** memory region has memory windows bound to it (not produced: no windows yet) */
  REG_BOUND = 0x21,
  /** HCA-attached memory not present (not produced by the model) */
  LAM_NOT_PRE = 0x22,
  /** bad management packet (not produced: no MAD_IFC yet) */
  BAD_PKT = 0x30,
  /** more outstanding CQEs than the new CQ size (not produced: no RESIZE_CQ yet) */
  BAD_SIZE = 0x40,
}

/** Status names by value, for traces, errors and test names. */
export const STATUS_NAMES: Readonly<Record<number, string>> = {
  [Status.OK]: "OK",
  [Status.INTERNAL_ERR]: "INTERNAL_ERR",
  [Status.BAD_OP]: "BAD_OP",
  [Status.BAD_PARAM]: "BAD_PARAM",
  [Status.BAD_SYS_STATE]: "BAD_SYS_STATE",
  [Status.BAD_RESOURCE]: "BAD_RESOURCE",
  [Status.RESOURCE_BUSY]: "RESOURCE_BUSY",
  [Status.DDR_MEM_ERR]: "DDR_MEM_ERR",
  [Status.EXCEED_LIM]: "EXCEED_LIM",
  [Status.BAD_RES_STATE]: "BAD_RES_STATE",
  [Status.BAD_INDEX]: "BAD_INDEX",
  [Status.BAD_NVMEM]: "BAD_NVMEM",
  [Status.BAD_QP_STATE]: "BAD_QP_STATE",
  [Status.BAD_SEG_PARAM]: "BAD_SEG_PARAM",
  [Status.REG_BOUND]: "REG_BOUND",
  [Status.LAM_NOT_PRE]: "LAM_NOT_PRE",
  [Status.BAD_PKT]: "BAD_PKT",
  [Status.BAD_SIZE]: "BAD_SIZE",
};

export function statusName(s: number): string {
  return STATUS_NAMES[s] ?? `0x${s.toString(16).padStart(2, "0")}`;
}

// ---- opcodes ----------------------------------------------------------------------------

/** Command opcodes (12 bits in the HCR), mthca_cmd.c CMD_* / mlx4 cmd.h MLX4_CMD_*. */
export const enum Opcode {
  QUERY_DEV_CAP = 0x003,
  QUERY_FW = 0x004,
  INIT_HCA = 0x007,
  CLOSE_HCA = 0x008,
  INIT_PORT = 0x009,
  CLOSE_PORT = 0x00a,
  SW2HW_MPT = 0x00d,
  QUERY_MPT = 0x00e,
  HW2SW_MPT = 0x00f,
  WRITE_MTT = 0x011,
  MAP_EQ = 0x012,
  SW2HW_EQ = 0x013,
  HW2SW_EQ = 0x014,
  SW2HW_CQ = 0x016,
  HW2SW_CQ = 0x017,
  RST2INIT_QP = 0x019,
  INIT2RTR_QP = 0x01a,
  RTR2RTS_QP = 0x01b,
  RTS2RTS_QP = 0x01c,
  /** any state → ERR (CMD_2ERR_QPEE) */
  TO_ERR_QP = 0x01e,
  /** any state → RESET (CMD_ERR2RST_QPEE; mthca uses it from every state) */
  TO_RST_QP = 0x021,
  QUERY_QP = 0x022,
  SYNC_TPT = 0x02f,
  NOP = 0x031,
}

// ---- states -----------------------------------------------------------------------------

/** HCA-wide state: after reset the firmware runs but the tables are not set up. */
export type HcaState = "reset" | "initialised";

/** QP states (IBA vol. 1 §10.3.1; the subset the command table reaches). */
export const enum QpState {
  RESET = 0,
  INIT = 1,
  RTR = 2,
  RTS = 3,
  ERR = 6,
}

export const QP_STATE_NAMES: Readonly<Record<number, string>> = {
  [QpState.RESET]: "RESET",
  [QpState.INIT]: "INIT",
  [QpState.RTR]: "RTR",
  [QpState.RTS]: "RTS",
  [QpState.ERR]: "ERR",
};

export const ALL_QP_STATES: readonly QpState[] = [QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.ERR];

/** QP service types as carried in the QP context `st` field (mthca MTHCA_QP_ST_*). */
export const enum QpServiceType {
  RC = 0x0,
  UC = 0x1,
  UD = 0x3,
}

// ---- HCR field use ---------------------------------------------------------------------

/** What a command puts in in_modifier (mthca_cmd.c call sites). */
export type ModifierUse =
  | "none"
  | "port" // INIT_PORT / CLOSE_PORT: the port number, 1-based
  | "mpt_index"
  | "mtt_count" // WRITE_MTT: number of MTT entries in the inbox
  | "cqn"
  | "eqn"
  | "map_eq" // bit 31 = unmap, low bits = EQ number
  | "qpn"; // bits 23:0 = QP number, bit 24 = EE (not supported), 31:25 reserved

/** What a command puts in in_param. */
export type InParamUse = "none" | "inbox" | "event_mask";

// ---- mailbox layouts -------------------------------------------------------------------

/** Mailboxes are 4 KiB (MTHCA_MAILBOX_SIZE). */
export const MAILBOX_BYTES = 4096;

/**
 * QUERY_FW outbox. Offsets from mthca_cmd.c: version at 0x00 (major in bits 47:32,
 * subminor above minor, which the driver swaps), log2 of outstanding commands at 0x0f.
 */
export const QueryFwOut = defineLayout(
  "query_fw_out",
  [
    { name: "rsvd0", bits: 16 },
    { name: "fw_major", bits: 16 },
    { name: "fw_subminor", bits: 16 },
    { name: "fw_minor", bits: 16 },
    { name: "rsvd1", bytes: 7 },
    { name: "log_max_cmd", bits: 8, doc: "log2 of commands the firmware accepts in flight" },
    { name: "rsvd2", bytes: 0x100 - 0x10 },
  ],
  { sizeBytes: 0x100 },
);

/**
 * QUERY_DEV_CAP outbox. Byte offsets are mthca's QUERY_DEV_LIM_*_OFFSET; the bit packing
 * inside each byte follows the driver's masks (`field & 0x1f` → a 5-bit log in the low
 * bits). Two hcasim choices: `log_max_mtt` at 0x23 counts MTT entries (the model has no
 * MTT segments), and the PD byte pair at 0x64/0x65 uses the same packing as the others.
 */
export const QueryDevCapOut = defineLayout(
  "query_dev_cap_out",
  [
    { name: "rsvd00", bytes: 0x11 },
    { name: "log_max_qp_sz", bits: 8, doc: "0x11: log2 of WQEs per queue" },
    { name: "rsvd12", bits: 4 },
    { name: "log_rsvd_qp", bits: 4, doc: "0x12" },
    { name: "rsvd13", bits: 3 },
    { name: "log_max_qp", bits: 5, doc: "0x13" },
    { name: "rsvd14", bytes: 5 },
    { name: "log_max_cq_sz", bits: 8, doc: "0x19: log2 of CQEs per CQ" },
    { name: "rsvd1a", bits: 4 },
    { name: "log_rsvd_cq", bits: 4, doc: "0x1a" },
    { name: "rsvd1b", bits: 3 },
    { name: "log_max_cq", bits: 5, doc: "0x1b" },
    { name: "rsvd1c", bits: 8 },
    { name: "rsvd1d", bits: 2 },
    { name: "log_max_mpt", bits: 6, doc: "0x1d" },
    { name: "rsvd1e", bits: 4 },
    { name: "log_rsvd_eq", bits: 4, doc: "0x1e" },
    { name: "rsvd1f", bits: 5 },
    { name: "log_max_eq", bits: 3, doc: "0x1f" },
    { name: "log_rsvd_mtt", bits: 4, doc: "0x20, high nibble" },
    { name: "rsvd20", bits: 4 },
    { name: "log_max_mrw_sz", bits: 8, doc: "0x21: log2 of the largest region in bytes" },
    { name: "rsvd22", bits: 4 },
    { name: "log_rsvd_mrw", bits: 4, doc: "0x22" },
    { name: "rsvd23", bits: 2 },
    { name: "log_max_mtt", bits: 6, doc: "0x23" },
    { name: "rsvd24", bytes: 0x37 - 0x24 },
    { name: "max_vl", bits: 4, doc: "0x37 high nibble" },
    { name: "num_ports", bits: 4, doc: "0x37 low nibble" },
    { name: "rsvd38", bytes: 0x4b - 0x38 },
    { name: "log_pg_sz", bits: 8, doc: "0x4b: log2 of the smallest page" },
    { name: "rsvd4c", bytes: 0x64 - 0x4c },
    { name: "log_rsvd_pd", bits: 4, doc: "0x64 high nibble" },
    { name: "rsvd64", bits: 4 },
    { name: "rsvd65", bits: 2 },
    { name: "log_max_pd", bits: 6, doc: "0x65" },
    { name: "rsvd66", bytes: 0x100 - 0x66 },
  ],
  { sizeBytes: 0x100 },
);

/**
 * INIT_HCA inbox (hcasim layout): the log2 size of each table the driver sets up. The PRM
 * layout also carries ICM base addresses; the model's tables are not in host memory.
 */
export const InitHcaIn = defineLayout(
  "init_hca_in",
  [
    { name: "log_num_qps", bits: 8 },
    { name: "log_num_cqs", bits: 8 },
    { name: "log_num_eqs", bits: 8 },
    { name: "log_mpt_sz", bits: 8 },
    { name: "log_mtt_sz", bits: 8 },
    { name: "rsvd", bytes: 0x40 - 5 },
  ],
  { sizeBytes: 0x40 },
);

/**
 * WRITE_MTT inbox: the first entry's MTT index (mthca passes an MTT address there; the
 * model indexes entries), 8 reserved bytes, then in_modifier 8-byte MTT entries
 * (mthca_mr.c lays out the inbox the same way: 16-byte header, then entries).
 */
export const WriteMttHeader = defineLayout(
  "write_mtt_header",
  [
    { name: "mtt_index", bits: 64 },
    { name: "rsvd", bits: 64 },
  ],
  { sizeBytes: 16 },
);
/** entries that fit one mailbox after the header */
export const MAX_MTT_PER_WRITE = (MAILBOX_BYTES - WriteMttHeader.sizeBytes) / MTT_ENTRY_BYTES;

/** CQ context (hcasim layout after mthca_cq_context's fields). */
export const CqContext = defineLayout(
  "cq_context",
  [
    { name: "flags", bits: 32 },
    { name: "start", bits: 64, doc: "virtual address of the CQE buffer" },
    { name: "rsvd0", bits: 3 },
    { name: "log_size", bits: 5, doc: "log2 of CQEs" },
    { name: "uar", bits: 24, doc: "UAR page whose doorbells may arm this CQ" },
    { name: "error_eqn", bits: 32 },
    { name: "comp_eqn", bits: 32 },
    { name: "pd", bits: 32 },
    { name: "lkey", bits: 32, doc: "key of the region holding the CQE buffer" },
    { name: "consumer_index", bits: 32 },
    { name: "producer_index", bits: 32 },
    { name: "cqn", bits: 32 },
    { name: "rsvd1", bytes: 20 },
  ],
  { sizeBytes: 64 },
);

/** EQ context (hcasim layout after mthca_eq_context's fields). */
export const EqContext = defineLayout(
  "eq_context",
  [
    { name: "flags", bits: 32 },
    { name: "start", bits: 64 },
    { name: "rsvd0", bits: 3 },
    { name: "log_size", bits: 5, doc: "log2 of EQEs" },
    { name: "uar", bits: 24 },
    { name: "intr", bits: 8, doc: "interrupt vector" },
    { name: "rsvd1", bits: 24 },
    { name: "pd", bits: 32 },
    { name: "lkey", bits: 32 },
    { name: "consumer_index", bits: 32 },
    { name: "producer_index", bits: 32 },
    { name: "rsvd2", bytes: 28 },
  ],
  { sizeBytes: 64 },
);

/**
 * QP context (hcasim layout after mthca_qp_context's fields). The state nibble is the
 * firmware's: the driver's value is ignored on input and the current state is reported by
 * QUERY_QP.
 */
export const QpContext = defineLayout(
  "qp_context",
  [
    { name: "state", bits: 4 },
    { name: "rsvd0", bits: 4 },
    { name: "st", bits: 8, doc: "service type: RC 0, UC 1, UD 3" },
    { name: "rsvd1", bits: 16 },
    { name: "mtu", bits: 4, doc: "IB MTU code 1..5 (256..4096), needed from RTR on" },
    { name: "log_rq_size", bits: 4 },
    { name: "log_sq_size", bits: 4 },
    { name: "rsvd2", bits: 4 },
    { name: "port", bits: 8, doc: "1-based" },
    { name: "retry_count", bits: 3 },
    { name: "rnr_retry", bits: 3 },
    { name: "rsvd3", bits: 2 },
    { name: "uar", bits: 32, doc: "UAR page whose doorbells may ring this QP" },
    { name: "rsvd4", bits: 8 },
    { name: "local_qpn", bits: 24, doc: "written by the firmware" },
    { name: "rsvd5", bits: 8 },
    { name: "remote_qpn", bits: 24 },
    { name: "pd", bits: 32 },
    { name: "send_cqn", bits: 32 },
    { name: "recv_cqn", bits: 32 },
    { name: "rsvd6", bits: 8 },
    { name: "sq_psn", bits: 24 },
    { name: "rsvd7", bits: 8 },
    { name: "rq_psn", bits: 24 },
    { name: "wqe_lkey", bits: 32, doc: "key of the region holding the work queues" },
    { name: "wqe_base", bits: 64 },
    { name: "qkey", bits: 32 },
    { name: "pkey_index", bits: 16 },
    { name: "rsvd8", bits: 16 },
    { name: "rsvd9", bits: 32 },
  ],
  { sizeBytes: 64 },
);

/**
 * QP modify mailbox: the optional-parameter mask, 4 reserved bytes, then the QP context
 * (mthca_qp_param: opt_param_mask, reserved, context).
 */
export const QpModifyHeader = defineLayout(
  "qp_modify_header",
  [
    { name: "opt_param_mask", bits: 32 },
    { name: "rsvd", bits: 32 },
  ],
  { sizeBytes: 8 },
);
export const QP_MAILBOX_BYTES = QpModifyHeader.sizeBytes + QpContext.sizeBytes;

/**
 * QP context fields the driver sets at RST2INIT and may not change in later transitions:
 * the queues, their owner and their completion queues are fixed for the QP's life.
 */
export const QP_FIXED_FIELDS = ["st", "log_rq_size", "log_sq_size", "uar", "pd", "send_cqn", "recv_cqn", "wqe_lkey", "wqe_base"] as const;

// ---- the command table ------------------------------------------------------------------

export interface MailboxSpec {
  /** layout name (an MPT entry layout comes from hca/formats) */
  readonly layout: string;
  readonly bytes: number;
}

export interface CommandSpec {
  readonly name: string;
  readonly opcode: Opcode;
  readonly inParam: InParamUse;
  readonly inModifier: ModifierUse;
  /** legal op_modifier values, with what each means */
  readonly opModifiers: Readonly<Record<number, string>>;
  /** inbox (DMA address in in_param), if the command reads one */
  readonly inbox?: MailboxSpec;
  /** outbox (DMA address in out_param), if the command writes one */
  readonly outbox?: MailboxSpec;
  /** HCA states in which the command is legal (BAD_SYS_STATE otherwise) */
  readonly legalIn: readonly HcaState[];
  /** QP commands: the states the QP may be in (BAD_QP_STATE otherwise), and the next state */
  readonly qp?: { readonly from: readonly QpState[]; readonly to: QpState | "same" };
  /** every status the command can return, OK first */
  readonly statuses: readonly Status[];
  readonly doc: string;
}

/** the MPT entry as the tpt block reads it (hca/formats, 32 bytes) */
const MPT_BOX: MailboxSpec = { layout: MptEntryLayout.name, bytes: MPT_ENTRY_BYTES };

const BOTH: readonly HcaState[] = ["reset", "initialised"];
const UP: readonly HcaState[] = ["initialised"];
const NO_OPMOD = { 0: "" } as const;

const QP_STATUSES = [Status.OK, Status.BAD_SYS_STATE, Status.BAD_OP, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_QP_STATE];
const QP_CTX_STATUSES = [...QP_STATUSES, Status.EXCEED_LIM];
const QP_BOX: MailboxSpec = { layout: "qp_modify_header + qp_context", bytes: QP_MAILBOX_BYTES };

export const COMMANDS: readonly CommandSpec[] = [
  {
    name: "QUERY_FW", opcode: Opcode.QUERY_FW, inParam: "none", inModifier: "none", opModifiers: NO_OPMOD,
    outbox: { layout: QueryFwOut.name, bytes: QueryFwOut.sizeBytes }, legalIn: BOTH,
    statuses: [Status.OK, Status.BAD_OP],
    doc: "firmware version and command-interface limits",
  },
  {
    name: "QUERY_DEV_CAP", opcode: Opcode.QUERY_DEV_CAP, inParam: "none", inModifier: "none", opModifiers: NO_OPMOD,
    outbox: { layout: QueryDevCapOut.name, bytes: QueryDevCapOut.sizeBytes }, legalIn: BOTH,
    statuses: [Status.OK, Status.BAD_OP],
    doc: "device limits: table sizes, reserved entries, ports",
  },
  {
    name: "INIT_HCA", opcode: Opcode.INIT_HCA, inParam: "inbox", inModifier: "none", opModifiers: NO_OPMOD,
    inbox: { layout: InitHcaIn.name, bytes: InitHcaIn.sizeBytes }, legalIn: ["reset"],
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.EXCEED_LIM],
    doc: "sizes the tables and enables the HCA (reset → initialised)",
  },
  {
    name: "CLOSE_HCA", opcode: Opcode.CLOSE_HCA, inParam: "none", inModifier: "none",
    opModifiers: { 0: "orderly: every port must be closed", 1: "panic: close regardless" }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.RESOURCE_BUSY],
    doc: "clears every table and returns the HCA to reset (mthca passes `panic` as op_modifier)",
  },
  {
    name: "INIT_PORT", opcode: Opcode.INIT_PORT, inParam: "none", inModifier: "port", opModifiers: NO_OPMOD, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_RES_STATE],
    doc: "brings a port up",
  },
  {
    name: "CLOSE_PORT", opcode: Opcode.CLOSE_PORT, inParam: "none", inModifier: "port", opModifiers: NO_OPMOD, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_RES_STATE, Status.RESOURCE_BUSY],
    doc: "takes a port down; refused while a QP on the port is out of RESET",
  },
  {
    name: "SW2HW_MPT", opcode: Opcode.SW2HW_MPT, inParam: "inbox", inModifier: "mpt_index", opModifiers: NO_OPMOD,
    inbox: MPT_BOX, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE, Status.BAD_SEG_PARAM, Status.EXCEED_LIM],
    doc: "hands an MPT entry to the hardware (software → hardware ownership)",
  },
  {
    name: "HW2SW_MPT", opcode: Opcode.HW2SW_MPT, inParam: "none", inModifier: "mpt_index",
    opModifiers: { 0: "write the entry to the outbox", 1: "no outbox" },
    outbox: MPT_BOX, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE],
    doc: "takes an MPT entry back from the hardware and invalidates it (mthca: op_modifier = !mailbox)",
  },
  {
    name: "QUERY_MPT", opcode: Opcode.QUERY_MPT, inParam: "none", inModifier: "mpt_index", opModifiers: NO_OPMOD,
    outbox: MPT_BOX, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE],
    doc: "reads a hardware-owned MPT entry",
  },
  {
    name: "WRITE_MTT", opcode: Opcode.WRITE_MTT, inParam: "inbox", inModifier: "mtt_count", opModifiers: NO_OPMOD,
    inbox: { layout: `${WriteMttHeader.name} + n × mtt_entry`, bytes: MAILBOX_BYTES }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE],
    doc: "writes consecutive MTT entries (physical page addresses)",
  },
  {
    name: "SYNC_TPT", opcode: Opcode.SYNC_TPT, inParam: "none", inModifier: "none", opModifiers: NO_OPMOD, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE],
    doc: "flushes translations the hardware cached (FMR unmap in mthca)",
  },
  {
    name: "MAP_EQ", opcode: Opcode.MAP_EQ, inParam: "event_mask", inModifier: "map_eq", opModifiers: NO_OPMOD, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE],
    doc: "routes event types (bits of in_param) to an EQ, or unmaps them (in_modifier bit 31)",
  },
  {
    name: "SW2HW_EQ", opcode: Opcode.SW2HW_EQ, inParam: "inbox", inModifier: "eqn", opModifiers: NO_OPMOD,
    inbox: { layout: EqContext.name, bytes: EqContext.sizeBytes }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE, Status.EXCEED_LIM],
    doc: "hands an EQ context to the hardware",
  },
  {
    name: "HW2SW_EQ", opcode: Opcode.HW2SW_EQ, inParam: "none", inModifier: "eqn", opModifiers: NO_OPMOD,
    outbox: { layout: EqContext.name, bytes: EqContext.sizeBytes }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE, Status.RESOURCE_BUSY],
    doc: "takes an EQ back; refused while a hardware CQ reports to it or events are mapped to it",
  },
  {
    name: "SW2HW_CQ", opcode: Opcode.SW2HW_CQ, inParam: "inbox", inModifier: "cqn", opModifiers: NO_OPMOD,
    inbox: { layout: CqContext.name, bytes: CqContext.sizeBytes }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE, Status.EXCEED_LIM],
    doc: "hands a CQ context to the hardware; its EQs must be hardware-owned",
  },
  {
    name: "HW2SW_CQ", opcode: Opcode.HW2SW_CQ, inParam: "none", inModifier: "cqn", opModifiers: NO_OPMOD,
    outbox: { layout: CqContext.name, bytes: CqContext.sizeBytes }, legalIn: UP,
    statuses: [Status.OK, Status.BAD_OP, Status.BAD_SYS_STATE, Status.BAD_INDEX, Status.BAD_RESOURCE, Status.BAD_RES_STATE, Status.RESOURCE_BUSY],
    doc: "takes a CQ back; refused while a QP out of RESET completes to it",
  },
  {
    name: "RST2INIT_QP", opcode: Opcode.RST2INIT_QP, inParam: "inbox", inModifier: "qpn", opModifiers: NO_OPMOD,
    inbox: QP_BOX, legalIn: UP, qp: { from: [QpState.RESET], to: QpState.INIT },
    statuses: QP_CTX_STATUSES,
    doc: "RESET → INIT: fixes the QP's queues, PD, CQs, port and service type",
  },
  {
    name: "INIT2RTR_QP", opcode: Opcode.INIT2RTR_QP, inParam: "inbox", inModifier: "qpn", opModifiers: NO_OPMOD,
    inbox: QP_BOX, legalIn: UP, qp: { from: [QpState.INIT], to: QpState.RTR },
    statuses: QP_STATUSES, // EXCEED_LIM cannot arise: the sizes are fixed at RST2INIT
    doc: "INIT → RTR: path MTU, remote QPN, receive PSN",
  },
  {
    name: "RTR2RTS_QP", opcode: Opcode.RTR2RTS_QP, inParam: "inbox", inModifier: "qpn", opModifiers: NO_OPMOD,
    inbox: QP_BOX, legalIn: UP, qp: { from: [QpState.RTR], to: QpState.RTS },
    statuses: QP_STATUSES, // EXCEED_LIM cannot arise: the sizes are fixed at RST2INIT
    doc: "RTR → RTS: send PSN, retry counts",
  },
  {
    name: "RTS2RTS_QP", opcode: Opcode.RTS2RTS_QP, inParam: "inbox", inModifier: "qpn", opModifiers: NO_OPMOD,
    inbox: QP_BOX, legalIn: UP, qp: { from: [QpState.RTS], to: QpState.RTS },
    statuses: QP_STATUSES, // EXCEED_LIM cannot arise: the sizes are fixed at RST2INIT
    doc: "RTS → RTS: changes modifiable attributes of a running QP",
  },
  {
    name: "2ERR_QP", opcode: Opcode.TO_ERR_QP, inParam: "none", inModifier: "qpn", opModifiers: NO_OPMOD,
    legalIn: UP, qp: { from: ALL_QP_STATES, to: QpState.ERR },
    statuses: [Status.OK, Status.BAD_SYS_STATE, Status.BAD_OP, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE],
    doc: "any state → ERR (mthca's modify table routes every state's →ERR here)",
  },
  {
    name: "2RST_QP", opcode: Opcode.TO_RST_QP, inParam: "none", inModifier: "qpn",
    opModifiers: { 2: "write the old context to the outbox", 3: "no outbox" },
    outbox: QP_BOX, legalIn: UP, qp: { from: ALL_QP_STATES, to: QpState.RESET },
    statuses: [Status.OK, Status.BAD_SYS_STATE, Status.BAD_OP, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE],
    doc: "any state → RESET; the context is cleared (mthca op_modifier 2 = outbox, 3 = none)",
  },
  {
    name: "QUERY_QP", opcode: Opcode.QUERY_QP, inParam: "none", inModifier: "qpn", opModifiers: NO_OPMOD,
    outbox: QP_BOX, legalIn: UP, qp: { from: ALL_QP_STATES, to: "same" },
    statuses: [Status.OK, Status.BAD_SYS_STATE, Status.BAD_OP, Status.BAD_PARAM, Status.BAD_INDEX, Status.BAD_RESOURCE],
    doc: "reads the QP context with its current state",
  },
  {
    name: "NOP", opcode: Opcode.NOP, inParam: "none", inModifier: "none", opModifiers: NO_OPMOD, legalIn: BOTH,
    statuses: [Status.OK, Status.BAD_OP],
    doc: "does nothing (the driver uses it to test the command interface)",
  },
];

/** The command table by opcode. */
export const COMMAND_BY_OPCODE: ReadonlyMap<number, CommandSpec> = new Map(COMMANDS.map((c) => [c.opcode, c]));

/** The command table by name. */
export function command(name: string): CommandSpec {
  const c = COMMANDS.find((x) => x.name === name);
  if (c === undefined) throw new Error(`no firmware command "${name}" (commands: ${COMMANDS.map((x) => x.name).join(", ")})`);
  return c;
}

/** The QP transitions the command table allows: from → to, with the command. */
export function qpTransitions(): { from: QpState; to: QpState; command: string }[] {
  const out: { from: QpState; to: QpState; command: string }[] = [];
  for (const c of COMMANDS) {
    if (c.qp === undefined || c.qp.to === "same") continue;
    for (const from of c.qp.from) out.push({ from, to: c.qp.to, command: c.name });
  }
  return out;
}

// ---- a command as the firmware receives it ----------------------------------------------

/**
 * One command after the HCR has fetched its inbox: the register values plus the inbox
 * bytes. This is what crosses into the firmware worker (structured-clone friendly).
 */
export interface FirmwareCommand {
  readonly opcode: number;
  /** 4 bits */
  readonly opModifier: number;
  /** 64 bits; for inbox commands the mailbox's DMA address (already fetched into `inbox`) */
  readonly inParam: bigint;
  /** 32 bits */
  readonly inModifier: number;
  /** 16 bits; echoed in the completion event when the event bit is set */
  readonly token: number;
  /** the inbox, for commands that read one */
  readonly inbox?: Uint8Array;
}

/** The firmware's answer: a status, and an outbox for commands that write one. */
export interface CommandResult {
  readonly status: Status;
  /** immediate output (none of the implemented commands use it; 0) */
  readonly outParam: bigint;
  /** present only when the command succeeded and writes an outbox */
  readonly outbox?: Uint8Array;
}

/** Anything that runs firmware commands: the firmware itself, or its worker thread. */
export interface CommandExecutor {
  execute(command: FirmwareCommand): Promise<CommandResult>;
}
