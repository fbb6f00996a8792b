/**
 * The 32-byte CQE (mlx4_cqe, include/linux/mlx4/cq.h: vlan_my_qpn, immed_rss_invalid,
 * g_mlpath_rqpn, sl_vid, rlid, status, byte_cnt, wqe_index, checksum, reserved,
 * owner_sr_opcode with MLX4_CQE_OWNER_MASK 0x80 and MLX4_CQE_IS_SEND_MASK 0x40).
 * The transport's completer writes these into host-memory CQ rings; the driver polls them.
 *
 * hcasim puts the IB work-completion status byte where mlx4 keeps its status word's first
 * byte, and the mlx4 error syndrome in `vendorErr`: an error CQE has a nonzero `status`
 * (CQE_SYNDROMES below). `imm` holds the immediate data of SEND/WRITE with immediate, or
 * the invalidated R_Key of a SEND with invalidate (as mlx4's immed_rss_invalid does).
 *
 * Ownership (mlx4): the CQE at consumer index `ci` in a ring of 2^logSize belongs to
 * software when its owner bit equals (ci >> logSize) & 1; the hardware writes the bit that
 * way, and the driver fills a new ring with owner = 1 so nothing is valid on lap 0.
 */
import { defineLayout } from "../../core/layout.ts";

export const CQE_BYTES = 32;

export const CqeLayout = defineLayout(
  "cqe",
  [
    { name: "reserved0", bits: 8 },
    { name: "qpn", bits: 24, doc: "the local QP the completion belongs to" },
    { name: "imm", bits: 32, doc: "immediate data (receive of SEND_IMM / RDMA_WRITE_IMM) or invalidated R_Key (SEND_INV)" },
    { name: "grh", bits: 1, doc: "receive: a GRH came with the message (UD: in the first 40 bytes of the buffer)" },
    { name: "reserved1", bits: 7 },
    { name: "rqpn", bits: 24, doc: "remote QPN (UD receives)" },
    { name: "sl", bits: 4 },
    { name: "reserved2", bits: 12 },
    { name: "rlid", bits: 16 },
    { name: "status", bits: 8, doc: "WcStatus: 0 success" },
    { name: "vendorErr", bits: 8, doc: "mlx4 error syndrome of an error CQE (CQE_SYNDROMES)" },
    { name: "reserved3", bits: 16 },
    { name: "byteCount", bits: 32, doc: "bytes received (receives) or transferred [bytes]" },
    { name: "wqeIndex", bits: 16, doc: "producer counter of the completed WQE (mod 2^16)" },
    { name: "checksum", bits: 16 },
    { name: "reserved4", bits: 24 },
    { name: "owner", bits: 1, doc: "(producer index >> logSize) & 1 when written by hardware" },
    { name: "isSend", bits: 1 },
    { name: "reserved5", bits: 1 },
    { name: "opcode", bits: 5, doc: "send: the WQE opcode; receive: CqeRecvOpcode" },
  ],
  { sizeBytes: CQE_BYTES },
);

/** IB work-completion statuses (IBA vol. 1 §11.4.2.1; ib_wc_status order) */
export const WcStatus = {
  success: 0,
  localLengthError: 1,
  localQpOpError: 2,
  localProtectionError: 4,
  wrFlushError: 5,
  memoryWindowBindError: 6,
  badResponseError: 7,
  localAccessError: 8,
  remoteInvalidRequestError: 9,
  remoteAccessError: 10,
  remoteOperationError: 11,
  retryExceeded: 12,
  rnrRetryExceeded: 13,
} as const;
export type WcStatusName = keyof typeof WcStatus;

/** opcode of a receive CQE: what arrived (mlx4 MLX4_RECV_OPCODE_*) */
export const CqeRecvOpcode = {
  RDMA_WRITE_IMM: 0x00,
  SEND: 0x01,
  SEND_IMM: 0x02,
  SEND_INV: 0x03,
} as const;

/**
 * Error syndromes: the WcStatus an error CQE carries and the mlx4 syndrome written beside
 * it in `vendorErr` (include/linux/mlx4/cq.h MLX4_CQE_SYNDROME_*). One row per status the
 * transport can report.
 */
export const CQE_SYNDROMES: readonly { readonly status: WcStatusName; readonly mlx4: number }[] = [
  { status: "localLengthError", mlx4: 0x01 },
  { status: "localQpOpError", mlx4: 0x02 },
  { status: "localProtectionError", mlx4: 0x04 },
  { status: "wrFlushError", mlx4: 0x05 },
  { status: "memoryWindowBindError", mlx4: 0x06 },
  { status: "badResponseError", mlx4: 0x10 },
  { status: "localAccessError", mlx4: 0x11 },
  { status: "remoteInvalidRequestError", mlx4: 0x12 },
  { status: "remoteAccessError", mlx4: 0x13 },
  { status: "remoteOperationError", mlx4: 0x14 },
  { status: "retryExceeded", mlx4: 0x15 },
  { status: "rnrRetryExceeded", mlx4: 0x16 },
];

/** mlx4 syndrome of each WcStatus value (0 for success), indexed by status */
export const CQE_VENDOR_SYNDROME: readonly number[] = (() => {
  const t = new Array<number>(256).fill(0);
  for (const s of CQE_SYNDROMES) t[WcStatus[s.status]] = s.mlx4;
  return t;
})();

export interface CqeFields {
  qpn: number;
  isSend: boolean;
  opcode: number;
  wqeIndex: number;
  byteCount?: number;
  status?: number;
  imm?: number;
  rqpn?: number;
  rlid?: number;
  sl?: number;
  grh?: boolean;
}

/** a CQE as the hardware writes it at producer index `pi` of a 2^logSize ring */
export function encodeCqe(f: CqeFields, pi: number, logSize: number): Uint8Array {
  const status = f.status ?? 0;
  return CqeLayout.encode({
    qpn: f.qpn, imm: (f.imm ?? 0) >>> 0, status, vendorErr: CQE_VENDOR_SYNDROME[status] ?? 0, byteCount: (f.byteCount ?? 0) >>> 0,
    wqeIndex: f.wqeIndex & 0xffff, owner: (pi >>> logSize) & 1, isSend: f.isSend ? 1 : 0, opcode: f.opcode,
    rqpn: f.rqpn ?? 0, rlid: f.rlid ?? 0, sl: f.sl ?? 0, grh: f.grh ? 1 : 0,
  });
}
