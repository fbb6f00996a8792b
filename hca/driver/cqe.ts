/**
 * The 32-byte CQE the driver polls (mlx4_cqe, include/linux/mlx4/cq.h: vlan_my_qpn,
 * immed_rss_invalid, g_mlpath_rqpn, sl_vid, rlid, status, byte_cnt, wqe_index, checksum,
 * reserved, owner_sr_opcode with MLX4_CQE_OWNER_MASK 0x80 and MLX4_CQE_IS_SEND_MASK 0x40).
 * hcasim puts a completion status byte where mlx4 keeps its status word's first byte;
 * an error CQE has a nonzero `status` (IB work-completion status).
 *
 * Ownership (mlx4): the CQE at consumer index `ci` in a ring of 2^logSize belongs to
 * software when its owner bit equals (ci >> logSize) & 1; the hardware writes the bit that
 * way, and the driver fills a new ring with owner = 1 so nothing is valid on lap 0.
 *
 * No completion engine writes these yet; until one exists this is the only copy of the
 * layout (it belongs in hca/formats/ once the engine does). Tests write CQEs with encodeCqe.
 */
import { defineLayout } from "../../core/index.ts";

export const CQE_BYTES = 32;

export const CqeLayout = defineLayout(
  "cqe",
  [
    { name: "reserved0", bits: 8 },
    { name: "qpn", bits: 24, doc: "the local QP the completion belongs to" },
    { name: "imm", bits: 32, doc: "immediate data (receive of SEND_IMM / RDMA_WRITE_IMM)" },
    { name: "reserved1", bits: 8 },
    { name: "rqpn", bits: 24, doc: "remote QPN (UD receives)" },
    { name: "sl", bits: 4 },
    { name: "reserved2", bits: 12 },
    { name: "rlid", bits: 16 },
    { name: "status", bits: 8, doc: "WcStatus: 0 success" },
    { name: "vendorErr", bits: 8 },
    { name: "reserved3", bits: 16 },
    { name: "byteCount", bits: 32, doc: "bytes received (receives) or transferred [bytes]" },
    { name: "wqeIndex", bits: 16, doc: "producer counter of the completed WQE (mod 2^16)" },
    { name: "checksum", bits: 16 },
    { name: "reserved4", bits: 24 },
    { name: "owner", bits: 1, doc: "(producer index >> logSize) & 1 when written by hardware" },
    { name: "isSend", bits: 1 },
    { name: "reserved5", bits: 1 },
    { name: "opcode", bits: 5, doc: "send: the WQE opcode; receive: the opcode received" },
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

export interface CqeFields {
  qpn: number;
  isSend: boolean;
  opcode: number;
  wqeIndex: number;
  byteCount?: number;
  status?: number;
  imm?: number;
}

/** a CQE as the hardware would write it at producer index `pi` of a 2^logSize ring */
export function encodeCqe(f: CqeFields, pi: number, logSize: number): Uint8Array {
  return CqeLayout.encode({
    qpn: f.qpn, imm: (f.imm ?? 0) >>> 0, status: f.status ?? 0, byteCount: (f.byteCount ?? 0) >>> 0,
    wqeIndex: f.wqeIndex & 0xffff, owner: (pi >>> logSize) & 1, isSend: f.isSend ? 1 : 0, opcode: f.opcode,
  });
}
