/**
 * The device bus as configuration-port transactions: what each DeviceBus call becomes on
 * the s_cfg ports of the blocks whose tables live in RTL, and how their read-back answers
 * (m_cfg_rd) become DeviceBus answers. Declared once and used by both the RTL device bus
 * (rtl-device-bus.ts sends them to the running RTL) and the bring-up scenario
 * (testbench/bringup records them as stimulus), so the two cannot drift apart.
 *
 *   DeviceBus call    block      s_cfg transactions
 *   writeMpt          tpt        MPT write: the 32 bytes the firmware validated, as they are
 *   invalidateMpt     tpt        MPT invalidate (drops the cached copy too)
 *   writeMtt          tpt        one MTT write per 8-byte entry (the block keeps the page
 *                                address and the present bit, not the reserved bits)
 *   writeCqContext    doorbell   CQ ownership: the context's UAR page
 *   invalidateCq      doorbell   CQ ownership cleared
 *   writeQpContext    doorbell   QP ownership: the context's UAR page
 *                     wqe_fetch  on RST2INIT (the context in INIT): both rings, consumer index 0
 *   resetQp           doorbell   QP ownership cleared
 *   the rest          (none)     ports, EQs, the event map, SYNC_TPT and every other context
 *                                field are held by the bus in TypeScript
 *
 * The QP's rings follow the driver's layout (hca/driver/context.ts): the send queue of
 * 2^log_sq_size WQEs at wqe_base, then the receive queue of 2^log_rq_size WQEs, each WQE one
 * WQE_STRIDE slot. SYNC_TPT needs no transaction: the tpt block keeps no translation that an
 * MPT write or invalidate does not already drop.
 */
import { CfgTable, cfgRead, cfgWrite, CfgWrite } from "../hca/doorbell/formats.ts";
import {
  cfgMptInvalidate, cfgMptRead, cfgMptWriteBytes, cfgMttRead, cfgMttWrite, decodeCfgReadback, decodeMtt, MPT_ENTRY_BYTES, MTT_ENTRY_BYTES,
  TptCfgOp, WQE_STRIDE,
} from "../hca/formats/index.ts";
import { WqeRingCfg } from "../hca/wqe-fetch/formats.ts";
import { CqContext, QpContext, QpState } from "./commands.ts";
import type { DeviceLimits } from "./firmware.ts";

/** the blocks with a configuration port the device bus programs */
export type ConfigBlock = "tpt" | "doorbell" | "wqe_fetch";

/** one transaction on a block's s_cfg port */
export interface ConfigTxn {
  readonly block: ConfigBlock;
  readonly data: Uint8Array;
}

/** every block takes its configuration on s_cfg and answers reads on m_cfg_rd */
export const CONFIG_PORT = "s_cfg";
export const READBACK_PORT = "m_cfg_rd";

/** the wqe_fetch ring kinds (WqeRingCfg.kind) */
const SEND_RING = 0;
const RECV_RING = 1;

// ---- table sizes -------------------------------------------------------------------------

/** how many entries the RTL's tables hold (block parameters) */
export interface RtlTableCapacity {
  readonly qps: number;
  readonly cqs: number;
  readonly mpts: number;
  readonly mtts: number;
}

/** `base` with table maxima the RTL can hold: QUERY_DEV_CAP reports them, INIT_HCA beyond is EXCEED_LIM */
export function limitsWithin(capacity: RtlTableCapacity, base: DeviceLimits): DeviceLimits {
  const log2 = (n: number) => Math.floor(Math.log2(n));
  return {
    ...base,
    logMaxQp: Math.min(base.logMaxQp, log2(capacity.qps)),
    logMaxCq: Math.min(base.logMaxCq, log2(capacity.cqs)),
    logMaxMpt: Math.min(base.logMaxMpt, log2(capacity.mpts)),
    logMaxMtt: Math.min(base.logMaxMtt, log2(capacity.mtts)),
  };
}

// ---- DeviceBus writes → transactions --------------------------------------------------

export function writeMptTxns(index: number, entry: Uint8Array): ConfigTxn[] {
  return [{ block: "tpt", data: cfgMptWriteBytes(index, entry.subarray(0, MPT_ENTRY_BYTES)) }];
}

export function invalidateMptTxns(index: number): ConfigTxn[] {
  return [{ block: "tpt", data: cfgMptInvalidate(index) }];
}

export function writeMttTxns(index: number, entries: Uint8Array): ConfigTxn[] {
  const n = entries.length / MTT_ENTRY_BYTES;
  if (!Number.isInteger(n)) throw new RangeError(`writeMtt: ${entries.length} bytes is not a whole number of ${MTT_ENTRY_BYTES}-byte entries`);
  return Array.from({ length: n }, (_, i) => ({ block: "tpt" as const, data: cfgMttWrite(index + i, decodeMtt(entries, MTT_ENTRY_BYTES * i)) }));
}

export function writeCqContextTxns(cqn: number, context: Uint8Array): ConfigTxn[] {
  return [{ block: "doorbell", data: cfgWrite(CfgTable.cq, cqn, CqContext.get(context, 0, "uar")) }];
}

export function invalidateCqTxns(cqn: number): ConfigTxn[] {
  return [{ block: "doorbell", data: cfgWrite(CfgTable.cq, cqn, 0, false) }];
}

export function writeQpContextTxns(qpn: number, context: Uint8Array): ConfigTxn[] {
  const get = (f: Parameters<typeof QpContext.get>[2]) => QpContext.get(context, 0, f);
  const out: ConfigTxn[] = [{ block: "doorbell", data: cfgWrite(CfgTable.qp, qpn, get("uar")) }];
  if (get("state") === QpState.INIT) {
    // RST2INIT: the queues start empty (the driver's counters restart at 0 after RESET)
    const base = QpContext.getBig(context, 0, "wqe_base");
    const logSq = get("log_sq_size");
    const logRq = get("log_rq_size");
    out.push(
      { block: "wqe_fetch", data: WqeRingCfg.encode({ qpn, kind: SEND_RING, logSize: logSq, ci: 0, base }) },
      { block: "wqe_fetch", data: WqeRingCfg.encode({ qpn, kind: RECV_RING, logSize: logRq, ci: 0, base: base + (BigInt(WQE_STRIDE) << BigInt(logSq)) }) },
    );
  }
  return out;
}

export function resetQpTxns(qpn: number): ConfigTxn[] {
  return [{ block: "doorbell", data: cfgWrite(CfgTable.qp, qpn, 0, false) }];
}

// ---- reads and their answers -------------------------------------------------------------

export const readMptTxn = (index: number): ConfigTxn => ({ block: "tpt", data: cfgMptRead(index) });
export const readMttTxn = (index: number): ConfigTxn => ({ block: "tpt", data: cfgMttRead(index) });
export const readQpOwnerTxn = (qpn: number): ConfigTxn => ({ block: "doorbell", data: cfgRead(CfgTable.qp, qpn) });
export const readCqOwnerTxn = (cqn: number): ConfigTxn => ({ block: "doorbell", data: cfgRead(CfgTable.cq, cqn) });

/** an MPT read answer: the entry's 32 bytes while hardware-owned, else null */
export function mptFromReadback(answer: Uint8Array, index: number): Uint8Array | null {
  const r = decodeCfgReadback(answer);
  if (r.op !== TptCfgOp.mptRead || r.index !== index) throw new Error(`tpt m_cfg_rd: answer for op ${r.op} index ${r.index} where MPT ${index} was read`);
  return r.valid ? r.entry : null;
}

/** an MTT read answer: the entry's 8 bytes once written, else null */
export function mttFromReadback(answer: Uint8Array, index: number): Uint8Array | null {
  const r = decodeCfgReadback(answer);
  if (r.op !== TptCfgOp.mttRead || r.index !== index) throw new Error(`tpt m_cfg_rd: answer for op ${r.op} index ${r.index} where MTT ${index} was read`);
  return r.valid ? r.entry : null;
}

/** an ownership read answer: the UAR page the queue belongs to, or null when the entry is not valid */
export function ownerFromReadback(answer: Uint8Array, table: "qp" | "cq", n: number): number | null {
  const r = CfgWrite.decode(answer);
  if (r.read !== 1 || r.table !== CfgTable[table] || r.number !== n) throw new Error(`doorbell m_cfg_rd: answer for table ${r.table} number ${r.number} where ${table.toUpperCase()} ${n} was read`);
  return r.valid === 1 ? r.uar : null;
}
