/**
 * A verbs context: one process's view of the adapter, with its own UAR page. Every
 * doorbell the context rings is an MMIO write into that page, and every QP and CQ it
 * creates names that page in its context (`uar`), so the doorbell block can refuse a
 * doorbell rung from another process's page.
 *
 * Rings (host memory, registered for local write):
 *  - CQ: 2^logSize CQEs of 32 bytes (hca/formats/cqe.ts), filled with owner = 1 (nothing valid on lap 0).
 *  - QP: one buffer, the send queue (2^logSq WQEs) at wqe_base then the receive queue
 *    (2^logRq WQEs), each WQE one fixed stride of WQE_STRIDE bytes (2 basic blocks,
 *    hca/formats/wqe.ts). Send WQEs carry the owner bit (index >> logSq) & 1.
 *
 * Stamping (mlx4 stamp_send_wqe): the first word of every 64-byte basic block of a send
 * slot is written 0x7fffffff / 0xffffffff so that its owner bit is the *invalid* one for
 * the next WQE that slot will hold (and its opcode is none). The driver stamps the whole
 * ring at create and at RESET, and, after posting at counter i, the slot of counter
 * i + SQ_SPARE_WQES; the send queue keeps those spare slots empty, so the stamp never
 * lands on a WQE the hardware may still read. A partly written WQE or a second basic
 * block left from an older lap therefore never looks valid.
 */
import { CqCommand, CqDoorbell, DoorbellOffset, ReceiveDoorbell, SendDoorbell, UAR_PAGE_BYTES } from "../doorbell/formats.ts";
import {
  encodeRecvWqe, encodeSendWqe, ownerBitOf, sendWqeUnits, WQE_BB_BYTES, WQE_STRIDE, type SendWr, type Sge,
} from "../formats/index.ts";
import { Opcode, QpContext, QpModifyHeader, QpServiceType, QpState, QP_MAILBOX_BYTES, QP_STATE_NAMES } from "../../firmware/index.ts";
import { CQE_BYTES, CqeLayout } from "../formats/cqe.ts";
import type { Device, Mr, Pd } from "./device.ts";
import { VerbsError } from "./errors.ts";

/** send slots kept free ahead of the producer for stamping */
export const SQ_SPARE_WQES = 1;

export interface Cq {
  readonly cqn: number;
  readonly context: Context;
  readonly logSize: number;
  /** CQEs in the ring */
  readonly size: number;
  /** ring address and its MR */
  readonly ring: { readonly addr: number; readonly mr: Mr };
  /** consumer index (counts every CQE consumed; the ring slot is ci mod size) */
  ci: number;
  /** arm sequence number (2 bits), moved on by `ackCqEvent` */
  armSn: number;
}

export type QpType = "RC" | "UC" | "UD";

export interface CreateQpOptions {
  readonly sendCq: Cq;
  readonly recvCq: Cq;
  /** send WRs that may be outstanding; the ring holds this plus SQ_SPARE_WQES, rounded up to a power of two */
  readonly maxSendWr: number;
  readonly maxRecvWr: number;
  /** default "RC" */
  readonly type?: QpType;
  /** 1-based; default 1 */
  readonly port?: number;
}

/** attributes of modifyQp; each is kept for later transitions once given */
export interface QpAttr {
  readonly state: QpState;
  /** IB MTU code 1..5 (256..4096); needed from RTR on */
  readonly mtu?: number;
  readonly remoteQpn?: number;
  readonly rqPsn?: number;
  readonly sqPsn?: number;
  readonly retryCount?: number;
  readonly rnrRetry?: number;
  readonly qkey?: number;
  readonly pkeyIndex?: number;
}

export interface Qp {
  readonly qpn: number;
  readonly context: Context;
  readonly pd: Pd;
  readonly type: QpType;
  readonly port: number;
  readonly sendCq: Cq;
  readonly recvCq: Cq;
  readonly logSq: number;
  readonly logRq: number;
  /** the buffer: send queue at addr, receive queue at rqAddr */
  readonly ring: { readonly addr: number; readonly mr: Mr };
  readonly sqAddr: number;
  readonly rqAddr: number;
  state: QpState;
  /** producer counters (WQEs posted) and consumer counters (WQEs completed) */
  sqHead: number;
  sqTail: number;
  rqHead: number;
  rqTail: number;
  /** the attributes given so far (mtu, psns, …) */
  attr: Omit<QpAttr, "state">;
}

export interface WorkCompletion {
  readonly qpn: number;
  readonly isSend: boolean;
  readonly opcode: number;
  readonly status: number;
  readonly byteCount: number;
  readonly wqeIndex: number;
  readonly imm: number;
}

export interface RecvWr {
  readonly sgl: readonly Sge[];
}

const QP_TYPE_ST: Record<QpType, QpServiceType> = { RC: QpServiceType.RC, UC: QpServiceType.UC, UD: QpServiceType.UD };

/** the command that takes a QP from one state to another: the modify table, as data */
function qpTransition(from: QpState, to: QpState): { opcode: Opcode; inbox: boolean; opModifier?: number } | undefined {
  if (to === QpState.RESET) return { opcode: Opcode.TO_RST_QP, inbox: false, opModifier: 3 }; // 3: no outbox
  if (to === QpState.ERR) return { opcode: Opcode.TO_ERR_QP, inbox: false };
  const key = `${from}>${to}`;
  const table: Record<string, Opcode> = {
    [`${QpState.RESET}>${QpState.INIT}`]: Opcode.RST2INIT_QP,
    [`${QpState.INIT}>${QpState.RTR}`]: Opcode.INIT2RTR_QP,
    [`${QpState.RTR}>${QpState.RTS}`]: Opcode.RTR2RTS_QP,
    [`${QpState.RTS}>${QpState.RTS}`]: Opcode.RTS2RTS_QP,
  };
  const op = table[key];
  return op === undefined ? undefined : { opcode: op, inbox: true };
}

function log2Ceil(n: number): number {
  let l = 0;
  while (2 ** l < n) l++;
  return l;
}

export class Context {
  /** QPs of this context by number (completions find their QP here) */
  readonly qps = new Map<number, Qp>();

  constructor(
    readonly device: Device,
    /** the UAR page this context rings its doorbells in */
    readonly uarPage: number,
  ) {}

  // ---- PD and MR ----

  allocPd(): Pd {
    return this.device.allocPd(this);
  }

  deallocPd(pd: Pd): void {
    this.device.deallocPd(pd);
  }

  /** registers [addr, addr+length) with `access` (Access bits) in `pd` */
  regMr(pd: Pd, addr: number, length: number, access: number): Promise<Mr> {
    return this.device.regMr(pd, addr, length, access);
  }

  deregMr(mr: Mr): Promise<void> {
    return this.device.deregMr(mr);
  }

  // ---- CQ ----

  /** a CQ of at least `cqes` entries (rounded up to a power of two, at least 2) */
  async createCq(cqes: number): Promise<Cq> {
    const d = this.device;
    if (!Number.isSafeInteger(cqes) || cqes < 1 || cqes > d.caps.maxCqes) throw new VerbsError("createCq", `${cqes} CQEs (device maximum ${d.caps.maxCqes})`);
    const logSize = Math.max(1, log2Ceil(cqes));
    const size = 2 ** logSize;
    const ring = await d.allocRing(size * CQE_BYTES);
    // owner = 1 everywhere: no CQE is valid for software on lap 0 until the hardware writes it
    const init = new Uint8Array(size * CQE_BYTES);
    for (let i = 0; i < size; i++) CqeLayout.set(init, i * CQE_BYTES, "owner", 1);
    d.memory.write(ring.addr, init);
    const cqn = d.cqs.alloc();
    try {
      await d.cmd.run({ opcode: Opcode.SW2HW_CQ, inModifier: cqn, inbox: d.cqContext(cqn, ring, logSize, this.uarPage) });
    } catch (e) {
      d.cqs.release(cqn);
      await d.freeRing(ring);
      throw e;
    }
    return { cqn, context: this, logSize, size, ring, ci: 0, armSn: 0 };
  }

  /** HW2SW_CQ, then the ring is freed */
  async destroyCq(cq: Cq): Promise<void> {
    const d = this.device;
    await d.cmd.run({ opcode: Opcode.HW2SW_CQ, inModifier: cq.cqn });
    d.cqs.release(cq.cqn);
    await d.freeRing(cq.ring);
  }

  /**
   * Up to `max` completions, oldest first. Consumed CQEs advance the consumer index,
   * which the driver reports with a SET_CI CQ doorbell (mthca update_cons_index).
   */
  pollCq(cq: Cq, max = 16): WorkCompletion[] {
    const out: WorkCompletion[] = [];
    const mem = this.device.memory;
    while (out.length < max) {
      const at = cq.ring.addr + (cq.ci & (cq.size - 1)) * CQE_BYTES;
      const b = mem.read(at, CQE_BYTES);
      const c = CqeLayout.decode(b);
      if (c.owner !== ((cq.ci >>> cq.logSize) & 1)) break; // still the hardware's
      cq.ci++;
      const wc: WorkCompletion = {
        qpn: c.qpn, isSend: c.isSend === 1, opcode: c.opcode, status: c.status, byteCount: c.byteCount, wqeIndex: c.wqeIndex, imm: c.imm,
      };
      const qp = this.qps.get(c.qpn);
      if (qp !== undefined) {
        // the WQE index is the producer counter mod 2^16: everything up to it is done
        if (wc.isSend) qp.sqTail += ((wc.wqeIndex - qp.sqTail) & 0xffff) + 1;
        else qp.rqTail++;
      }
      out.push(wc);
    }
    if (out.length > 0) this.ringCq(cq, CqCommand.setCi);
    return out;
  }

  /** arms the CQ: an event at the next completion (or the next solicited one) */
  reqNotifyCq(cq: Cq, solicitedOnly = false): void {
    this.ringCq(cq, solicitedOnly ? CqCommand.reqNotSol : CqCommand.reqNot);
  }

  /** acknowledges a completion event: the next arm carries the next sequence number */
  ackCqEvent(cq: Cq): void {
    cq.armSn = (cq.armSn + 1) & 3;
  }

  private ringCq(cq: Cq, cmd: number): void {
    this.doorbell(DoorbellOffset.cq, CqDoorbell.encode({ sn: cq.armSn, cmd, cqn: cq.cqn, ci: cq.ci & 0xff_ffff }));
  }

  // ---- QP ----

  /** a QP in RESET with its rings in host memory (registered in `pd`) */
  async createQp(pd: Pd, o: CreateQpOptions): Promise<Qp> {
    const d = this.device;
    for (const [what, n] of [["maxSendWr", o.maxSendWr], ["maxRecvWr", o.maxRecvWr]] as const) {
      if (!Number.isSafeInteger(n) || n < 1 || n + SQ_SPARE_WQES > d.caps.maxQpWr) throw new VerbsError("createQp", `${what} ${n} (device maximum ${d.caps.maxQpWr - SQ_SPARE_WQES})`);
    }
    const logSq = log2Ceil(o.maxSendWr + SQ_SPARE_WQES);
    const logRq = log2Ceil(o.maxRecvWr);
    const sqBytes = WQE_STRIDE << logSq;
    const ring = await d.allocRing(sqBytes + (WQE_STRIDE << logRq), pd);
    const qpn = d.qps.alloc();
    const qp: Qp = {
      qpn, context: this, pd, type: o.type ?? "RC", port: o.port ?? 1, sendCq: o.sendCq, recvCq: o.recvCq, logSq, logRq, ring,
      sqAddr: ring.addr, rqAddr: ring.addr + sqBytes, state: QpState.RESET, sqHead: 0, sqTail: 0, rqHead: 0, rqTail: 0, attr: {},
    };
    this.initRings(qp);
    this.qps.set(qpn, qp);
    return qp;
  }

  /** 2RST (if out of RESET), then the QPN and the ring go back */
  async destroyQp(qp: Qp): Promise<void> {
    if (qp.state !== QpState.RESET) await this.modifyQp(qp, { state: QpState.RESET });
    this.qps.delete(qp.qpn);
    this.device.qps.release(qp.qpn);
    await this.device.freeRing(qp.ring);
  }

  /**
   * RESET→INIT→RTR→RTS (and RTS→RTS), any→ERR, any→RESET, each with its firmware
   * command. A transition the modify table lacks is refused by the driver; one the
   * firmware refuses throws FirmwareCommandError and leaves the QP as it was.
   */
  async modifyQp(qp: Qp, attr: QpAttr): Promise<void> {
    const t = qpTransition(qp.state, attr.state);
    if (t === undefined) {
      throw new VerbsError("modifyQp", `QP 0x${qp.qpn.toString(16)}: no transition ${QP_STATE_NAMES[qp.state]} → ${QP_STATE_NAMES[attr.state] ?? attr.state}`);
    }
    const { state: _s, ...rest } = attr;
    const merged = { ...qp.attr, ...rest };
    await this.device.cmd.run({
      opcode: t.opcode,
      opModifier: t.opModifier ?? 0,
      inModifier: qp.qpn,
      inbox: t.inbox ? this.qpMailbox(qp, merged) : undefined,
    });
    qp.attr = merged;
    qp.state = attr.state;
    if (attr.state === QpState.RESET) {
      // the hardware forgot the queues: start both at counter 0 with a freshly stamped ring
      qp.sqHead = qp.sqTail = qp.rqHead = qp.rqTail = 0;
      this.initRings(qp);
    }
  }

  private qpMailbox(qp: Qp, a: Omit<QpAttr, "state">): Uint8Array {
    const box = new Uint8Array(QP_MAILBOX_BYTES);
    QpContext.encode(
      {
        st: QP_TYPE_ST[qp.type], mtu: a.mtu ?? 0, log_rq_size: qp.logRq, log_sq_size: qp.logSq, port: qp.port,
        retry_count: a.retryCount ?? 0, rnr_retry: a.rnrRetry ?? 0, uar: this.uarPage, remote_qpn: a.remoteQpn ?? 0,
        pd: qp.pd.pdn, send_cqn: qp.sendCq.cqn, recv_cqn: qp.recvCq.cqn, sq_psn: a.sqPsn ?? 0, rq_psn: a.rqPsn ?? 0,
        wqe_lkey: qp.ring.mr.lkey, wqe_base: BigInt(qp.ring.addr), qkey: (a.qkey ?? 0) >>> 0, pkey_index: a.pkeyIndex ?? 0,
      },
      box,
      QpModifyHeader.sizeBytes,
    );
    return box;
  }

  /** zeroes the receive queue and stamps every send slot invalid for its next use */
  private initRings(qp: Qp): void {
    const mem = this.device.memory;
    const sq = new Uint8Array(WQE_STRIDE << qp.logSq);
    for (let i = 0; i < 2 ** qp.logSq; i++) stampInto(sq, i * WQE_STRIDE, i, qp.logSq);
    mem.write(qp.sqAddr, sq);
    mem.fill(qp.rqAddr, WQE_STRIDE << qp.logRq, 0);
  }

  /**
   * Writes one send WQE per WR at the producer counter, with the owner bit of its lap,
   * stamps the slot SQ_SPARE_WQES ahead, then rings one send doorbell carrying the new
   * producer counter and the first WQE's opcode, fence and size.
   */
  postSend(qp: Qp, wrs: readonly SendWr[]): void {
    if (qp.state !== QpState.RTS) throw new VerbsError("postSend", `QP 0x${qp.qpn.toString(16)} is in ${QP_STATE_NAMES[qp.state]}, not RTS`);
    const size = 2 ** qp.logSq;
    if (qp.sqHead - qp.sqTail + wrs.length > size - SQ_SPARE_WQES) {
      throw new VerbsError("postSend", `QP 0x${qp.qpn.toString(16)}: send queue full (${qp.sqHead - qp.sqTail} outstanding of ${size - SQ_SPARE_WQES})`);
    }
    if (wrs.length === 0) return;
    // encode everything first: a WR that does not fit throws before anything is written
    const wqes = wrs.map((wr, i) => encodeSendWqe(wr, ownerBitOf(qp.sqHead + i, qp.logSq)));
    const mem = this.device.memory;
    const first = wrs[0];
    for (const w of wqes) {
      const at = qp.sqAddr + (qp.sqHead & (size - 1)) * WQE_STRIDE;
      // body first, then the word holding the owner bit, as a driver orders its stores
      mem.write(at + 4, w.subarray(4));
      mem.write(at, w.subarray(0, 4));
      const ahead = qp.sqHead + SQ_SPARE_WQES;
      const stamp = new Uint8Array(WQE_STRIDE);
      stampInto(stamp, 0, ahead, qp.logSq);
      for (let bb = 0; bb < WQE_STRIDE; bb += WQE_BB_BYTES) mem.write(qp.sqAddr + (ahead & (size - 1)) * WQE_STRIDE + bb, stamp.subarray(bb, bb + 4));
      qp.sqHead++;
    }
    this.doorbell(
      DoorbellOffset.send,
      SendDoorbell.encode({ counter: qp.sqHead & 0xffff, fence: first.fence ? 1 : 0, opcode: first.opcode, qpn: qp.qpn, size: sendWqeUnits(first) }),
    );
  }

  /** writes one receive WQE per WR, then rings one receive doorbell (counter and count) */
  postRecv(qp: Qp, wrs: readonly RecvWr[]): void {
    if (qp.state === QpState.RESET || qp.state === QpState.ERR) {
      throw new VerbsError("postRecv", `QP 0x${qp.qpn.toString(16)} is in ${QP_STATE_NAMES[qp.state]}`);
    }
    const size = 2 ** qp.logRq;
    if (qp.rqHead - qp.rqTail + wrs.length > size) throw new VerbsError("postRecv", `QP 0x${qp.qpn.toString(16)}: receive queue full`);
    if (wrs.length === 0) return;
    if (wrs.length > 255) throw new VerbsError("postRecv", `at most 255 WRs per doorbell, got ${wrs.length}`);
    const wqes = wrs.map((wr) => encodeRecvWqe(wr.sgl));
    for (const w of wqes) {
      this.device.memory.write(qp.rqAddr + (qp.rqHead & (size - 1)) * WQE_STRIDE, w);
      qp.rqHead++;
    }
    this.doorbell(DoorbellOffset.receive, ReceiveDoorbell.encode({ counter: qp.rqHead & 0xffff, qpn: qp.qpn, nreq: wrs.length }));
  }

  /** one 8-byte doorbell store into this context's UAR page */
  private doorbell(offset: number, word: Uint8Array): void {
    this.device.uar.write(this.uarPage * UAR_PAGE_BYTES + offset, word);
  }
}

/**
 * Stamps the slot at `off` in `buf` for producer counter `index`: the first word of each
 * basic block gets the owner bit that is invalid for `index` and all other bits set
 * (mlx4: 0x7fffffff when the valid owner would be 1, else 0xffffffff).
 */
function stampInto(buf: Uint8Array, off: number, index: number, logSize: number): void {
  const word = ownerBitOf(index, logSize) === 1 ? 0x7fff_ffff : 0xffff_ffff;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (let bb = 0; bb < WQE_STRIDE; bb += WQE_BB_BYTES) v.setUint32(off + bb, word, false);
}

