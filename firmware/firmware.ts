/**
 * The device firmware: the HCA state machine, its own record of every table (who owns
 * each entry, each QP's state), and one planner per command.
 *
 * Every command runs in two phases, and the types keep them apart:
 *   1. plan(view, command): reads a *read-only* view of the firmware state and the
 *      command, and either rejects with a status or returns a commit closure. A planner
 *      has no way to reach the mutable state or the device bus.
 *   2. commit(state, bus): only for accepted commands; programs the device bus, then
 *      updates the firmware's record.
 * So a rejected command changes nothing, by construction.
 *
 * Commands are executed one at a time, in arrival order (the HCR holds one command; the
 * worker may receive several calls at once, so execute() serialises them).
 */

import {
  COMMAND_BY_OPCODE, type CommandExecutor, type CommandResult, type CommandSpec, CqContext, EqContext, type FirmwareCommand,
  type HcaState, InitHcaIn, MAX_MTT_PER_WRITE, MAILBOX_BYTES, Opcode, QP_FIXED_FIELDS, QP_MAILBOX_BYTES, QpContext,
  QpModifyHeader, QpServiceType, QpState, QueryDevCapOut, QueryFwOut, Status, WriteMttHeader,
} from "./commands.ts";
import type { DeviceBus, TableSizes } from "./device-bus.ts";
import { toHex } from "./device-bus.ts";
import { decodeMpt, makeKey, MPT_LOG2_PAGE_MAX, MPT_LOG2_PAGE_MIN, MptState, MTT_ENTRY_BYTES } from "../hca/formats/index.ts";

// ---- device limits ----------------------------------------------------------------------

/**
 * What QUERY_DEV_CAP reports, as log2 values the way the mthca outbox carries them
 * (reserved counts too: mthca computes `1 << field`). INIT_HCA may not exceed them.
 */
export interface DeviceLimits {
  readonly logMaxQp: number;
  readonly logRsvdQp: number;
  /** WQEs per work queue */
  readonly logMaxQpSz: number;
  readonly logMaxCq: number;
  readonly logRsvdCq: number;
  /** CQEs per CQ */
  readonly logMaxCqSz: number;
  /** at most 7: QUERY_DEV_CAP carries it in 3 bits */
  readonly logMaxEq: number;
  readonly logRsvdEq: number;
  /** EQEs per EQ. mthca's QUERY_DEV_LIM has no such field; the model enforces it all the same */
  readonly logMaxEqSz: number;
  readonly logMaxMpt: number;
  readonly logRsvdMrw: number;
  /** largest region [log2 bytes] */
  readonly logMaxMrwSz: number;
  readonly logMaxMtt: number;
  readonly logRsvdMtt: number;
  readonly logMaxPd: number;
  /** smallest page [log2 bytes] */
  readonly logPageSize: number;
  readonly numPorts: number;
}

export const DEFAULT_LIMITS: DeviceLimits = {
  logMaxQp: 12,
  logRsvdQp: 3, // QP0/QP1 and the special QPs live among the first ones (mthca reserves 8+)
  logMaxQpSz: 12,
  logMaxCq: 10,
  logRsvdCq: 0,
  logMaxCqSz: 16,
  logMaxEq: 5,
  logRsvdEq: 0,
  logMaxEqSz: 16,
  logMaxMpt: 14,
  logRsvdMrw: 4,
  logMaxMrwSz: 40,
  logMaxMtt: 16,
  logRsvdMtt: 4,
  logMaxPd: 12,
  logPageSize: 12,
  numPorts: 2,
};

export interface FirmwareVersion {
  readonly major: number;
  readonly minor: number;
  readonly subminor: number;
}

export interface FirmwareOptions {
  readonly limits?: DeviceLimits;
  readonly version?: FirmwareVersion;
}

// ---- firmware state ---------------------------------------------------------------------

interface QpRecord {
  readonly state: QpState;
  /** the context as last programmed (state nibble and local_qpn filled in) */
  readonly context: Uint8Array;
}

/** What a planner may see: the firmware state, read-only. */
export interface FirmwareView {
  readonly hca: HcaState;
  readonly sizes: TableSizes | null;
  readonly limits: DeviceLimits;
  readonly version: FirmwareVersion;
  readonly portsUp: ReadonlySet<number>;
  /** hardware-owned MPT entries (absent = software-owned) */
  readonly mpt: ReadonlyMap<number, Uint8Array>;
  readonly cq: ReadonlyMap<number, Uint8Array>;
  readonly eq: ReadonlyMap<number, Uint8Array>;
  /** QPs out of RESET (absent = RESET) */
  readonly qp: ReadonlyMap<number, QpRecord>;
  /** event type → EQ number */
  readonly eventMap: ReadonlyMap<number, number>;
}

/** The mutable state, visible to commit closures only. */
interface FirmwareState {
  hca: HcaState;
  sizes: TableSizes | null;
  readonly limits: DeviceLimits;
  readonly version: FirmwareVersion;
  readonly portsUp: Set<number>;
  readonly mpt: Map<number, Uint8Array>;
  readonly cq: Map<number, Uint8Array>;
  readonly eq: Map<number, Uint8Array>;
  readonly qp: Map<number, QpRecord>;
  readonly eventMap: Map<number, number>;
}

/** The firmware's record, comparable with toEqual (the device-side twin is DeviceTables). */
export interface FirmwareTables {
  readonly hca: HcaState;
  readonly sizes: TableSizes | null;
  readonly portsUp: readonly number[];
  /** [index, key of the registered entry, entry hex] */
  readonly mpt: readonly (readonly [number, number, string])[];
  readonly cq: readonly (readonly [number, string])[];
  readonly eq: readonly (readonly [number, string])[];
  /** [qpn, state, context hex] for QPs out of RESET */
  readonly qp: readonly (readonly [number, QpState, string])[];
  readonly eventMap: readonly (readonly [number, number])[];
}

// ---- plans ------------------------------------------------------------------------------

type Commit = (s: FirmwareState, bus: DeviceBus) => Promise<Uint8Array | undefined>;
/** a planner's answer: a rejection status, or the commit that carries the command out */
type Plan = Status | Commit;
type Planner = (v: FirmwareView, c: FirmwareCommand) => Plan;

const reserved = (log: number): number => 2 ** log;

/** index checks shared by every table command: range, then reserved entries */
function checkIndex(index: number, size: number, logReserved: number): Status {
  if (index >= size) return Status.BAD_INDEX;
  if (index < reserved(logReserved)) return Status.BAD_RESOURCE;
  return Status.OK;
}

function sizesOf(v: FirmwareView): TableSizes {
  // legalIn guarantees INIT_HCA has run before any table command is planned
  if (v.sizes === null) throw new Error("firmware: table command planned before INIT_HCA");
  return v.sizes;
}

function ok(out?: Uint8Array): Promise<Uint8Array | undefined> {
  return Promise.resolve(out);
}

const planners: Readonly<Record<number, Planner>> = {
  [Opcode.NOP]: () => () => ok(),

  [Opcode.QUERY_FW]: (v) => () => {
    // log_max_cmd 0: one command at a time (mthca: max_cmds = 1 << log_max_cmd)
    return ok(
      QueryFwOut.encode({ fw_major: v.version.major, fw_minor: v.version.minor, fw_subminor: v.version.subminor, log_max_cmd: 0 }),
    );
  },

  [Opcode.QUERY_DEV_CAP]: (v) => () => {
    const l = v.limits;
    return ok(
      QueryDevCapOut.encode({
        log_max_qp_sz: l.logMaxQpSz, log_rsvd_qp: l.logRsvdQp, log_max_qp: l.logMaxQp,
        log_max_cq_sz: l.logMaxCqSz, log_rsvd_cq: l.logRsvdCq, log_max_cq: l.logMaxCq,
        log_max_mpt: l.logMaxMpt, log_rsvd_eq: l.logRsvdEq, log_max_eq: l.logMaxEq,
        log_rsvd_mtt: l.logRsvdMtt, log_max_mrw_sz: l.logMaxMrwSz, log_rsvd_mrw: l.logRsvdMrw, log_max_mtt: l.logMaxMtt,
        num_ports: l.numPorts, log_pg_sz: l.logPageSize, log_max_pd: l.logMaxPd,
      }),
    );
  },

  [Opcode.INIT_HCA]: (v, c) => {
    const p = InitHcaIn.decode(c.inbox!);
    const l = v.limits;
    const asked: [number, number, number][] = [
      [p.log_num_qps, l.logMaxQp, l.logRsvdQp],
      [p.log_num_cqs, l.logMaxCq, l.logRsvdCq],
      [p.log_num_eqs, l.logMaxEq, l.logRsvdEq],
      [p.log_mpt_sz, l.logMaxMpt, l.logRsvdMrw],
      [p.log_mtt_sz, l.logMaxMtt, l.logRsvdMtt],
    ];
    for (const [log, max] of asked) if (log > max) return Status.EXCEED_LIM;
    // a table must hold at least one entry beyond the firmware's reserved ones
    for (const [log, , rsvd] of asked) if (log <= rsvd) return Status.BAD_PARAM;
    const sizes: TableSizes = {
      qps: 2 ** p.log_num_qps, cqs: 2 ** p.log_num_cqs, eqs: 2 ** p.log_num_eqs, mpts: 2 ** p.log_mpt_sz, mtts: 2 ** p.log_mtt_sz,
    };
    return async (s, bus) => {
      await bus.configure(sizes);
      s.sizes = sizes;
      s.hca = "initialised";
      return undefined;
    };
  },

  [Opcode.CLOSE_HCA]: (v, c) => {
    const panic = c.opModifier === 1;
    if (!panic && v.portsUp.size > 0) return Status.RESOURCE_BUSY;
    return async (s, bus) => {
      await bus.reset();
      s.hca = "reset";
      s.sizes = null;
      s.portsUp.clear();
      for (const t of [s.mpt, s.cq, s.eq, s.qp, s.eventMap] as Map<number, unknown>[]) t.clear();
      return undefined;
    };
  },

  [Opcode.INIT_PORT]: (v, c) => {
    const port = c.inModifier;
    if (port < 1 || port > v.limits.numPorts) return Status.BAD_PARAM;
    if (v.portsUp.has(port)) return Status.BAD_RES_STATE;
    return async (s, bus) => {
      await bus.setPortUp(port, true);
      s.portsUp.add(port);
      return undefined;
    };
  },

  [Opcode.CLOSE_PORT]: (v, c) => {
    const port = c.inModifier;
    if (port < 1 || port > v.limits.numPorts) return Status.BAD_PARAM;
    if (!v.portsUp.has(port)) return Status.BAD_RES_STATE;
    for (const q of v.qp.values()) if (QpContext.get(q.context, 0, "port") === port) return Status.RESOURCE_BUSY;
    return async (s, bus) => {
      await bus.setPortUp(port, false);
      s.portsUp.delete(port);
      return undefined;
    };
  },

  // ---- TPT ----

  [Opcode.SW2HW_MPT]: (v, c) => {
    const index = c.inModifier;
    const sizes = sizesOf(v);
    const l = v.limits;
    const idx = checkIndex(index, sizes.mpts, l.logRsvdMrw);
    if (idx !== Status.OK) return idx;
    if (v.mpt.has(index)) return Status.BAD_RES_STATE;
    const bytes = c.inbox!.slice(0, MPT_BOX_BYTES);
    const e = decodeMpt(bytes);
    if (e.state !== MptState.valid) return Status.BAD_PARAM;
    if (e.pd >= 2 ** l.logMaxPd) return Status.BAD_PARAM;
    if (e.log2PageSize < Math.max(MPT_LOG2_PAGE_MIN, l.logPageSize) || e.log2PageSize > MPT_LOG2_PAGE_MAX) return Status.BAD_SEG_PARAM;
    if (e.start + e.length > 1n << 64n) return Status.BAD_SEG_PARAM; // the region may not wrap around 2^64
    if (e.length > 1n << BigInt(l.logMaxMrwSz)) return Status.EXCEED_LIM;
    // the pages the region spans must lie in the MTT, outside the firmware's reserved entries
    const page = 1n << BigInt(e.log2PageSize);
    const first = e.start / page;
    const pages = e.length === 0n ? 0n : (e.start + e.length - 1n) / page - first + 1n;
    if (pages > 0n) {
      if (BigInt(e.mttBase) + pages > BigInt(sizes.mtts)) return Status.BAD_PARAM;
      if (e.mttBase < reserved(l.logRsvdMtt)) return Status.BAD_RESOURCE;
    }
    return async (s, bus) => {
      await bus.writeMpt(index, bytes);
      s.mpt.set(index, bytes);
      return undefined;
    };
  },

  [Opcode.HW2SW_MPT]: (v, c) => {
    const index = c.inModifier;
    const idx = checkIndex(index, sizesOf(v).mpts, v.limits.logRsvdMrw);
    if (idx !== Status.OK) return idx;
    if (!v.mpt.has(index)) return Status.BAD_RES_STATE;
    const wantOutbox = c.opModifier === 0;
    return async (s, bus) => {
      const out = wantOutbox ? await bus.readMpt(index) : undefined;
      await bus.invalidateMpt(index);
      s.mpt.delete(index);
      return out;
    };
  },

  [Opcode.QUERY_MPT]: (v, c) => {
    const index = c.inModifier;
    const idx = checkIndex(index, sizesOf(v).mpts, v.limits.logRsvdMrw);
    if (idx !== Status.OK) return idx;
    if (!v.mpt.has(index)) return Status.BAD_RES_STATE;
    return async (_s, bus) => bus.readMpt(index);
  },

  [Opcode.WRITE_MTT]: (v, c) => {
    const n = c.inModifier;
    if (n < 1 || n > MAX_MTT_PER_WRITE) return Status.BAD_PARAM;
    const inbox = c.inbox!;
    if (inbox.length < WriteMttHeader.sizeBytes + n * MTT_ENTRY_BYTES) return Status.BAD_PARAM;
    const first = WriteMttHeader.getBig(inbox, 0, "mtt_index");
    if (first + BigInt(n) > BigInt(sizesOf(v).mtts)) return Status.BAD_INDEX;
    if (first < BigInt(reserved(v.limits.logRsvdMtt))) return Status.BAD_RESOURCE;
    const index = Number(first);
    const entries = inbox.slice(WriteMttHeader.sizeBytes, WriteMttHeader.sizeBytes + n * MTT_ENTRY_BYTES);
    return async (_s, bus) => {
      await bus.writeMtt(index, entries);
      return undefined;
    };
  },

  [Opcode.SYNC_TPT]: () => async (_s, bus) => {
    await bus.syncTpt();
    return undefined;
  },

  // ---- EQ ----

  [Opcode.MAP_EQ]: (v, c) => {
    const unmap = c.inModifier >>> 31 === 1;
    const eqn = c.inModifier & 0x7fff_ffff;
    const mask = c.inParam;
    if (mask === 0n) return Status.BAD_PARAM;
    const idx = checkIndex(eqn, sizesOf(v).eqs, v.limits.logRsvdEq);
    if (idx !== Status.OK) return idx;
    if (!v.eq.has(eqn)) return Status.BAD_RES_STATE;
    const changes: [number, number | null][] = [];
    for (let t = 0; t < 64; t++) {
      if (((mask >> BigInt(t)) & 1n) === 0n) continue;
      const now = v.eventMap.get(t);
      if (unmap) {
        if (now === eqn) changes.push([t, null]);
      } else if (now !== eqn) changes.push([t, eqn]);
    }
    return async (s, bus) => {
      for (const [t, q] of changes) {
        await bus.mapEvent(t, q);
        if (q === null) s.eventMap.delete(t);
        else s.eventMap.set(t, q);
      }
      return undefined;
    };
  },

  [Opcode.SW2HW_EQ]: (v, c) => {
    const eqn = c.inModifier;
    const l = v.limits;
    const idx = checkIndex(eqn, sizesOf(v).eqs, l.logRsvdEq);
    if (idx !== Status.OK) return idx;
    if (v.eq.has(eqn)) return Status.BAD_RES_STATE;
    const ctx = c.inbox!.slice(0, EqContext.sizeBytes);
    if (EqContext.get(ctx, 0, "pd") >= 2 ** l.logMaxPd) return Status.BAD_PARAM;
    if (EqContext.get(ctx, 0, "log_size") > l.logMaxEqSz) return Status.EXCEED_LIM;
    return async (s, bus) => {
      await bus.writeEqContext(eqn, ctx);
      s.eq.set(eqn, ctx);
      return undefined;
    };
  },

  [Opcode.HW2SW_EQ]: (v, c) => {
    const eqn = c.inModifier;
    const idx = checkIndex(eqn, sizesOf(v).eqs, v.limits.logRsvdEq);
    if (idx !== Status.OK) return idx;
    if (!v.eq.has(eqn)) return Status.BAD_RES_STATE;
    for (const cq of v.cq.values()) {
      if (CqContext.get(cq, 0, "comp_eqn") === eqn || CqContext.get(cq, 0, "error_eqn") === eqn) return Status.RESOURCE_BUSY;
    }
    for (const q of v.eventMap.values()) if (q === eqn) return Status.RESOURCE_BUSY;
    return async (s, bus) => {
      const out = await bus.readEqContext(eqn);
      await bus.invalidateEq(eqn);
      s.eq.delete(eqn);
      return out;
    };
  },

  // ---- CQ ----

  [Opcode.SW2HW_CQ]: (v, c) => {
    const cqn = c.inModifier;
    const l = v.limits;
    const idx = checkIndex(cqn, sizesOf(v).cqs, l.logRsvdCq);
    if (idx !== Status.OK) return idx;
    if (v.cq.has(cqn)) return Status.BAD_RES_STATE;
    const ctx = c.inbox!.slice(0, CqContext.sizeBytes);
    if (CqContext.get(ctx, 0, "cqn") !== cqn) return Status.BAD_PARAM;
    if (CqContext.get(ctx, 0, "pd") >= 2 ** l.logMaxPd) return Status.BAD_PARAM;
    if (CqContext.get(ctx, 0, "log_size") > l.logMaxCqSz) return Status.EXCEED_LIM;
    // the CQ reports to EQs the hardware owns
    if (!v.eq.has(CqContext.get(ctx, 0, "comp_eqn")) || !v.eq.has(CqContext.get(ctx, 0, "error_eqn"))) return Status.BAD_RESOURCE;
    return async (s, bus) => {
      await bus.writeCqContext(cqn, ctx);
      s.cq.set(cqn, ctx);
      return undefined;
    };
  },

  [Opcode.HW2SW_CQ]: (v, c) => {
    const cqn = c.inModifier;
    const idx = checkIndex(cqn, sizesOf(v).cqs, v.limits.logRsvdCq);
    if (idx !== Status.OK) return idx;
    if (!v.cq.has(cqn)) return Status.BAD_RES_STATE;
    for (const q of v.qp.values()) {
      if (QpContext.get(q.context, 0, "send_cqn") === cqn || QpContext.get(q.context, 0, "recv_cqn") === cqn) return Status.RESOURCE_BUSY;
    }
    return async (s, bus) => {
      const out = await bus.readCqContext(cqn);
      await bus.invalidateCq(cqn);
      s.cq.delete(cqn);
      return out;
    };
  },

  // ---- QP ----

  [Opcode.RST2INIT_QP]: (v, c) => planQpModify(v, c, QpState.INIT),
  [Opcode.INIT2RTR_QP]: (v, c) => planQpModify(v, c, QpState.RTR),
  [Opcode.RTR2RTS_QP]: (v, c) => planQpModify(v, c, QpState.RTS),
  [Opcode.RTS2RTS_QP]: (v, c) => planQpModify(v, c, QpState.RTS),

  [Opcode.TO_ERR_QP]: (v, c) => {
    const q = qpnOf(v, c);
    if (typeof q === "number") return q;
    const qpn = q.qpn;
    const old = v.qp.get(qpn);
    const ctx = old === undefined ? emptyQpContext(qpn) : old.context.slice();
    QpContext.set(ctx, 0, "state", QpState.ERR);
    return async (s, bus) => {
      await bus.writeQpContext(qpn, ctx);
      s.qp.set(qpn, { state: QpState.ERR, context: ctx });
      return undefined;
    };
  },

  [Opcode.TO_RST_QP]: (v, c) => {
    const q = qpnOf(v, c);
    if (typeof q === "number") return q;
    const qpn = q.qpn;
    const wantOutbox = c.opModifier === 2;
    const inHardware = v.qp.has(qpn);
    return async (s, bus) => {
      const out = wantOutbox ? qpMailbox(inHardware ? await bus.readQpContext(qpn) : emptyQpContext(qpn)) : undefined;
      if (inHardware) await bus.resetQp(qpn);
      s.qp.delete(qpn);
      return out;
    };
  },

  [Opcode.QUERY_QP]: (v, c) => {
    const q = qpnOf(v, c);
    if (typeof q === "number") return q;
    const qpn = q.qpn;
    const inHardware = v.qp.has(qpn);
    return async (_s, bus) => qpMailbox(inHardware ? await bus.readQpContext(qpn) : emptyQpContext(qpn));
  },
};

/** bytes of the MPT entry in the SW2HW_MPT inbox */
const MPT_BOX_BYTES = COMMAND_BY_OPCODE.get(Opcode.SW2HW_MPT)!.inbox!.bytes;

/**
 * The QP number of a QP command, or the status rejecting it: bits 23:0 are the QPN, bit 24 says EE
 * context (mthca's is_ee; the model has no EE contexts) and 31:25 are reserved.
 */
function qpnOf(v: FirmwareView, c: FirmwareCommand): Status | { readonly qpn: number } {
  if (c.inModifier >>> 24 !== 0) return Status.BAD_PARAM;
  const qpn = c.inModifier;
  const idx = checkIndex(qpn, sizesOf(v).qps, v.limits.logRsvdQp);
  return idx === Status.OK ? { qpn } : idx;
}

function emptyQpContext(qpn: number): Uint8Array {
  return QpContext.encode({ state: QpState.RESET, local_qpn: qpn });
}

function qpMailbox(context: Uint8Array): Uint8Array {
  const box = new Uint8Array(QP_MAILBOX_BYTES);
  box.set(context, QpModifyHeader.sizeBytes);
  return box;
}

/** RST2INIT, INIT2RTR, RTR2RTS, RTS2RTS: the state check, then the context checks */
function planQpModify(v: FirmwareView, c: FirmwareCommand, to: QpState): Plan {
  const spec = COMMAND_BY_OPCODE.get(c.opcode)!;
  const q = qpnOf(v, c);
  if (typeof q === "number") return q;
  const qpn = q.qpn;
  const old = v.qp.get(qpn);
  const from = old?.state ?? QpState.RESET;
  if (!spec.qp!.from.includes(from)) return Status.BAD_QP_STATE;

  const l = v.limits;
  const ctx = c.inbox!.slice(QpModifyHeader.sizeBytes, QpModifyHeader.sizeBytes + QpContext.sizeBytes);
  const get = (f: Parameters<typeof QpContext.get>[2]) => QpContext.get(ctx, 0, f);
  const st = get("st");
  if (st !== QpServiceType.RC && st !== QpServiceType.UC && st !== QpServiceType.UD) return Status.BAD_PARAM;
  if (get("port") < 1 || get("port") > l.numPorts) return Status.BAD_PARAM;
  if (get("pd") >= 2 ** l.logMaxPd) return Status.BAD_PARAM;
  if (to !== QpState.INIT && (get("mtu") < 1 || get("mtu") > 5)) return Status.BAD_PARAM; // IB MTU 256..4096
  if (old !== undefined) {
    for (const f of QP_FIXED_FIELDS) if (QpContext.getBig(old.context, 0, f) !== QpContext.getBig(ctx, 0, f)) return Status.BAD_PARAM;
  }
  if (get("log_sq_size") > l.logMaxQpSz || get("log_rq_size") > l.logMaxQpSz) return Status.EXCEED_LIM;
  if (!v.cq.has(get("send_cqn")) || !v.cq.has(get("recv_cqn"))) return Status.BAD_RESOURCE;

  // the state nibble and the QP's own number are the firmware's to write
  QpContext.set(ctx, 0, "state", to);
  QpContext.set(ctx, 0, "local_qpn", qpn);
  return async (s, bus) => {
    await bus.writeQpContext(qpn, ctx);
    s.qp.set(qpn, { state: to, context: ctx });
    return undefined;
  };
}

/** checks every command shares, from the command table: opcode, modifier, HCA state, inbox */
function planCommon(v: FirmwareView, c: FirmwareCommand): Status | CommandSpec {
  const spec = COMMAND_BY_OPCODE.get(c.opcode);
  if (spec === undefined) return Status.BAD_OP;
  if (!(c.opModifier in spec.opModifiers)) return Status.BAD_OP; // mthca: "opcode modifier not supported" is BAD_OP
  if (!spec.legalIn.includes(v.hca)) return Status.BAD_SYS_STATE;
  if (spec.inbox !== undefined) {
    const need = c.opcode === Opcode.WRITE_MTT ? WriteMttHeader.sizeBytes : spec.inbox.bytes;
    if (c.inbox === undefined || c.inbox.length < need || c.inbox.length > MAILBOX_BYTES) return Status.BAD_PARAM;
  }
  return spec;
}

/** a command with its fields forced into their HCR widths (the registers cannot hold more) */
function normalise(c: FirmwareCommand): FirmwareCommand {
  return {
    opcode: (c.opcode >>> 0) & 0xfff,
    opModifier: (c.opModifier >>> 0) & 0xf,
    inParam: BigInt.asUintN(64, BigInt(c.inParam)),
    inModifier: c.inModifier >>> 0,
    token: (c.token >>> 0) & 0xffff,
    inbox: c.inbox,
  };
}

// ---- the firmware -----------------------------------------------------------------------

export class Firmware implements CommandExecutor {
  private readonly s: FirmwareState;
  private queue: Promise<unknown> = Promise.resolve();
  /** commands executed, by status (for traces and benchmarks) */
  readonly statusCounts = new Map<Status, number>();

  constructor(
    private readonly bus: DeviceBus,
    options: FirmwareOptions = {},
  ) {
    const limits = options.limits ?? DEFAULT_LIMITS;
    if (limits.logMaxEq > 7) throw new Error(`Firmware: logMaxEq ${limits.logMaxEq} does not fit QUERY_DEV_CAP's 3 bits`);
    this.s = {
      hca: "reset", sizes: null, limits, version: options.version ?? { major: 1, minor: 0, subminor: 0 },
      portsUp: new Set(), mpt: new Map(), cq: new Map(), eq: new Map(), qp: new Map(), eventMap: new Map(),
    };
  }

  /** runs one command; never throws: a fault inside the firmware is INTERNAL_ERR */
  execute(command: FirmwareCommand): Promise<CommandResult> {
    const run = this.queue.then(() => this.run(command));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async run(raw: FirmwareCommand): Promise<CommandResult> {
    let plan: Plan;
    try {
      const c = normalise(raw);
      const spec = planCommon(this.s, c);
      plan = typeof spec === "number" ? spec : planners[spec.opcode](this.s, c);
    } catch {
      plan = Status.INTERNAL_ERR; // a planner bug; nothing was changed
    }
    if (typeof plan === "number") return this.done(plan);
    try {
      return this.done(Status.OK, await plan(this.s, this.bus));
    } catch {
      // the device bus failed mid-commit (e.g. the RTL went away): the tables may be torn
      return this.done(Status.INTERNAL_ERR);
    }
  }

  private done(status: Status, outbox?: Uint8Array): CommandResult {
    this.statusCounts.set(status, (this.statusCounts.get(status) ?? 0) + 1);
    return outbox === undefined ? { status, outParam: 0n } : { status, outParam: 0n, outbox };
  }

  /** the HCA state */
  get hcaState(): HcaState {
    return this.s.hca;
  }

  /** a QP's state (RESET for QPs the firmware has no context for) */
  qpState(qpn: number): QpState {
    return this.s.qp.get(qpn)?.state ?? QpState.RESET;
  }

  /** the firmware's record, in comparable form */
  snapshot(): FirmwareTables {
    const s = this.s;
    const sorted = <V>(m: ReadonlyMap<number, V>) => [...m.entries()].sort((a, b) => a[0] - b[0]);
    return {
      hca: s.hca,
      sizes: s.sizes === null ? null : { ...s.sizes },
      portsUp: [...s.portsUp].sort((a, b) => a - b),
      mpt: sorted(s.mpt).map(([i, b]) => [i, makeKey(i, decodeMpt(b).variant), toHex(b)] as const),
      cq: sorted(s.cq).map(([i, b]) => [i, toHex(b)] as const),
      eq: sorted(s.eq).map(([i, b]) => [i, toHex(b)] as const),
      qp: sorted(s.qp).map(([i, q]) => [i, q.state, toHex(q.context)] as const),
      eventMap: sorted(s.eventMap),
    };
  }
}
