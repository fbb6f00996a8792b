/**
 * The requester (IBTA Vol 1 §9.7.2–9.7.4, rxe_req.c in role): turns send work requests
 * into request packets. Asked by the transmit datapath for one packet at a time, it runs
 * its state machine on the QP: pick the WQE at the send cursor, honour the fence, the
 * initiator depth and the PSN window, check the local keys once per WQE and assign its
 * PSNs, then build the next packet of the message — segmented by the path MTU, AckReq on
 * the last packet and every `ackReqEvery` packets — and move the cursor.
 *
 * Retransmission rebuilds packets from the WQE: the completer moves the cursor back to a
 * PSN (timeout, NAK, RNR NAK) and the requester sends again from there, a read asking
 * only for what is still missing (RETH address and length moved on).
 *
 *   GET_WQE → CHECK_FENCE → CHECK_RD_ATOMIC → CHECK_WINDOW → PREPARE → BUILD → SENT → DONE
 *                                                              └─────────┴──▶ LOCAL_ERROR
 */
import { BthOpFlag } from "../headers/index.ts";
import { TptFault } from "../tpt/index.ts";
import { WcStatus } from "../formats/index.ts";
import { WrFlag } from "../wqe-fetch/index.ts";
import type { TransportEngine } from "./engine.ts";
import { BTH_ACKREQ, BTH_PAD_SHIFT, BTH_SE, wr16, wr24, wr32 } from "./eth.ts";
import {
  ATOMIC_OFF, DETH_OFF, IETH_OFF, IMM_OFF, MASKED_CS_PAYLOAD, OP_FLAGS, OP_PAYLOAD_OFFSET, RETH_OFF, WQE_OP_INFO, WqeKind, type WqeOpInfo,
} from "./opcodes.ts";
import type { TransportPacket } from "./packet.ts";
import { LOCAL_FAULT_STATUS } from "./protection.ts";
import { psnAdd, psnDiff } from "./psn.ts";
import { QP_STATE_BEHAVIOUR, QpState, type QpStateValue } from "./qp-state.ts";
import type { SendWqe, TransportQp } from "./qp.ts";

export const ReqState = {
  GET_WQE: 0,
  CHECK_FENCE: 1,
  CHECK_RD_ATOMIC: 2,
  CHECK_WINDOW: 3,
  PREPARE: 4,
  BUILD: 5,
  SENT: 6,
  LOCAL_ERROR: 7,
  DONE: 8,
} as const;
export const REQ_STATE_NAMES: readonly string[] = Object.keys(ReqState);

const TWO32 = 0x1_0000_0000;
/** extension headers build() leaves to otherHeaders() */
const OTHER_HEADERS = BthOpFlag.atomicEth | BthOpFlag.immDt | BthOpFlag.ieth | BthOpFlag.deth;
/** the largest message IBTA allows [bytes] */
const MAX_MESSAGE = 2 ** 31;

export class Requester {
  private qp!: TransportQp;
  private w!: SendWqe;
  private info: WqeOpInfo | undefined;
  private now = 0;
  private pkt: TransportPacket | null = null;
  /** the packet being built: its PSN, payload bytes, whether it ends the message */
  private psn = 0;
  private payload = 0;
  private last = false;
  private status = 0;
  constructor(private readonly e: TransportEngine) {}

  /** one state: runs it and returns the next (a switch of direct calls, which the JIT inlines) */
  private step(s: number): number {
    switch (s) {
      case ReqState.GET_WQE: return this.getWqe();
      case ReqState.CHECK_FENCE: return this.checkFence();
      case ReqState.CHECK_RD_ATOMIC: return this.checkRdAtomic();
      case ReqState.CHECK_WINDOW: return this.checkWindow();
      case ReqState.PREPARE: return this.prepare();
      case ReqState.BUILD: return this.build();
      case ReqState.SENT: return this.sent();
      case ReqState.LOCAL_ERROR: return this.localError();
      default: throw new Error(`requester: no state ${s}`);
    }
  }

  /** the next request packet of `qp` now, or null (then qp.eligiblePs says when to ask again, Infinity: when kicked) */
  nextPacket(qp: TransportQp): TransportPacket | null {
    this.qp = qp;
    this.now = this.e.sim.now;
    this.pkt = null;
    const trace = this.e.trace;
    let s: number = trace === null && this.e.fastPath ? this.inOrder(qp) : ReqState.GET_WQE;
    while (s !== ReqState.DONE) {
      if (trace !== null) this.e.traceStep("requester", qp, qp.reqPsn, REQ_STATE_NAMES[s]);
      s = this.step(s);
    }
    return this.pkt;
  }

  /**
   * The common case without the state dispatch: the next packet of an RC SEND or RDMA
   * WRITE that may leave now. The checks of GET_WQE … CHECK_WINDOW run here as straight-line
   * code with the same outcome (a send or write needs no initiator depth); then PREPARE,
   * BUILD and SENT, the states every path shares. Anything else (nothing to send, a wait,
   * a read or atomic, UD) returns GET_WQE with nothing changed: the general path decides.
   */
  private inOrder(qp: TransportQp): number {
    const now = this.now;
    if (!qp.isRc || !QP_STATE_BEHAVIOUR[qp.state].requester || qp.reqIdx === qp.sqPi || qp.rnrUntilPs > now) return ReqState.GET_WQE;
    const w = qp.wqe(qp.reqIdx);
    if (w.localError !== 0 || qp.sqReadyPs[qp.reqIdx & qp.sqMask] > now) return ReqState.GET_WQE;
    const i = WQE_OP_INFO[w.opcode];
    if (i === undefined || (i.kind !== WqeKind.send && i.kind !== WqeKind.write)) return ReqState.GET_WQE;
    if ((w.flags & WrFlag.fence && !w.prepared && qp.rdAtomicOut > 0) || psnDiff(qp.reqPsn, qp.compPsn) >= qp.window) return ReqState.GET_WQE;
    this.w = w;
    this.info = i;
    let s = this.prepare();
    if (s === ReqState.BUILD) s = this.build();
    return s === ReqState.SENT ? this.sent() : s;
  }

  private wait(t: number): number {
    if (t < this.qp.eligiblePs) this.qp.eligiblePs = t;
    return ReqState.DONE;
  }

  private getWqe(): number {
    const qp = this.qp;
    if (!QP_STATE_BEHAVIOUR[qp.state].requester) return ReqState.DONE;
    if (qp.reqIdx === qp.sqPi) return ReqState.DONE;
    if (qp.rnrUntilPs > this.now) return this.wait(qp.rnrUntilPs);
    const w = qp.wqe(qp.reqIdx);
    if (w.localError !== 0) return ReqState.DONE; // blocked until the completer reaches it
    const readyPs = qp.sqReadyPs[qp.reqIdx & qp.sqMask];
    if (readyPs > this.now) return this.wait(readyPs);
    this.w = w;
    this.info = WQE_OP_INFO[w.opcode];
    return ReqState.CHECK_FENCE;
  }

  /** a fenced WQE waits for every read and atomic before it */
  private checkFence(): number {
    if (this.w.flags & WrFlag.fence && !this.w.prepared && this.qp.rdAtomicOut > 0) return ReqState.DONE;
    return ReqState.CHECK_RD_ATOMIC;
  }

  /** initiator depth: reads and atomics in flight */
  private checkRdAtomic(): number {
    const i = this.info;
    if (i !== undefined && (i.kind === WqeKind.read || i.kind === WqeKind.atomic) && !this.w.counted && this.qp.rdAtomicOut >= this.qp.maxRdAtomic) {
      return ReqState.DONE;
    }
    return ReqState.CHECK_WINDOW;
  }

  /** at most `window` PSNs sent and not acknowledged */
  private checkWindow(): number {
    const qp = this.qp;
    if (qp.isRc && psnDiff(qp.reqPsn, qp.compPsn) >= qp.window) return ReqState.DONE;
    return ReqState.PREPARE;
  }

  /** once per WQE: a known opcode, a legal length, the local keys; then its PSN range */
  private prepare(): number {
    const w = this.w;
    const qp = this.qp;
    if (w.prepared) return ReqState.BUILD;
    const i = this.info;
    this.status = this.localCheck(w, qp, i);
    if (this.status !== WcStatus.success) return ReqState.LOCAL_ERROR;
    const n = !qp.isRc || i!.kind === WqeKind.atomic ? 1 : Math.max(1, Math.ceil(w.length / qp.mtu));
    w.firstPsn = qp.reqPsn;
    w.lastPsn = psnAdd(qp.reqPsn, n - 1);
    w.prepared = true;
    return ReqState.BUILD;
  }

  /** a known opcode, a legal length, the local keys: WcStatus.success or the local error */
  private localCheck(w: SendWqe, qp: TransportQp, i: WqeOpInfo | undefined): number {
    if (i === undefined || (!qp.isRc && i.ud < 0)) return WcStatus.localQpOpError;
    if (w.length > MAX_MESSAGE || (!qp.isRc && w.length > qp.mtu) || (i.kind === WqeKind.atomic && w.length < 8)) return WcStatus.localLengthError;
    if (w.inlineLen === 0) {
      const fault = w.sgl.validate(this.e.prot, qp.pd, i.localAccess);
      if (fault !== TptFault.ok) return LOCAL_FAULT_STATUS[fault];
    }
    return WcStatus.success;
  }

  private build(): number {
    const qp = this.qp;
    const w = this.w;
    const i = this.info!;
    const e = this.e;
    const off = qp.reqOffset;
    let op: number;
    let payload = 0;
    let last = true;
    if (!qp.isRc) {
      op = i.ud;
      payload = w.length;
    } else if (i.kind === WqeKind.send || i.kind === WqeKind.write) {
      const remaining = w.length - off;
      payload = remaining > qp.mtu ? qp.mtu : remaining;
      last = payload === remaining;
      op = off === 0 ? (last ? i.only : i.first) : last ? i.last : i.middle;
    } else {
      op = i.only;
      // a masked compare-swap carries its masks as payload
      if (OP_FLAGS[op] & BthOpFlag.payload) payload = MASKED_CS_PAYLOAD;
    }
    let ackReq = false;
    if (qp.isRc) {
      ackReq = last || ++qp.packetsSinceAckReq >= qp.ackReqEvery;
      if (ackReq) qp.packetsSinceAckReq = 0;
    }
    const pkt = e.pool.get();
    const b = pkt.store;
    const pad = -payload & 3;
    const psn = qp.reqPsn;
    b[0] = op;
    b[1] = (last && w.flags & WrFlag.solicited ? BTH_SE : 0) | (pad << BTH_PAD_SHIFT);
    wr16(b, 2, qp.pkey);
    b[4] = 0;
    wr24(b, 5, qp.isRc ? qp.remoteQpn : w.remoteQpn);
    b[8] = ackReq ? BTH_ACKREQ : 0;
    wr24(b, 9, psn);
    const h = RETH_OFF[op];
    if (h >= 0) {
      // the remote address of this packet's first byte: raddr + offset (64-bit, as halves)
      const lo = w.raddrLo + off;
      wr32(b, h, (w.raddrHi + Math.floor(lo / TWO32)) >>> 0);
      wr32(b, h + 4, lo >>> 0);
      wr32(b, h + 8, w.rkey);
      wr32(b, h + 12, OP_FLAGS[op] & BthOpFlag.read ? w.length - off : w.length);
    }
    if (OP_FLAGS[op] & OTHER_HEADERS) this.otherHeaders(b, op);
    const po = OP_PAYLOAD_OFFSET[op];
    if (payload > 0) {
      if (i.kind === WqeKind.atomic) b.set(w.atomicArgs.subarray(16, 16 + MASKED_CS_PAYLOAD), po);
      else if (w.inlineLen > 0) b.set(w.inline.subarray(off, off + payload), po);
      else if (!w.sgl.readToPacket(e.prot, off, payload, pkt, po)) {
        pkt.release();
        this.status = WcStatus.localProtectionError;
        return ReqState.LOCAL_ERROR;
      }
    }
    for (let k = 0; k < pad; k++) b[po + payload + k] = 0;
    pkt.length = po + payload + pad;
    pkt.slid = e.lid;
    if (qp.isRc) {
      pkt.dlid = qp.dlid;
      pkt.sl = qp.sl;
      pkt.hasGrh = qp.hasGrh;
      if (qp.hasGrh) pkt.grh.set(qp.grh);
    } else {
      pkt.dlid = w.dlid;
      pkt.sl = w.sl;
      pkt.hasGrh = w.hasGrh;
      if (w.hasGrh) pkt.grh.set(w.grh);
    }
    this.pkt = pkt;
    this.psn = psn;
    this.payload = payload;
    this.last = last;
    return ReqState.SENT;
  }

  /** the AtomicETH, ImmDt, IETH and DETH of the packet being built (those `op` has) */
  private otherHeaders(b: Uint8Array, op: number): void {
    const w = this.w;
    let h = ATOMIC_OFF[op];
    if (h >= 0) {
      wr32(b, h, w.raddrHi);
      wr32(b, h + 4, w.raddrLo);
      wr32(b, h + 8, w.rkey);
      b.set(w.atomicArgs.subarray(0, 16), h + 12);
    }
    h = IMM_OFF[op];
    if (h >= 0) wr32(b, h, w.imm);
    h = IETH_OFF[op];
    if (h >= 0) wr32(b, h, w.imm); // SEND with invalidate: the R_Key rides in the ctrl imm
    h = DETH_OFF[op];
    if (h >= 0) {
      wr32(b, h, w.qkey);
      b[h + 4] = 0;
      wr24(b, h + 5, this.qp.qpn);
    }
  }

  /** moves the cursor past the packet just built */
  private sent(): number {
    const qp = this.qp;
    if (qp.reqIdx + 1 > qp.sentIdx) qp.sentIdx = qp.reqIdx + 1;
    if (!qp.isRc) return this.sentUd();
    if (psnDiff(this.psn, qp.sentPsn) < 0) this.e.stats.retransmissions++;
    const kind = this.info!.kind;
    if (kind === WqeKind.send || kind === WqeKind.write) {
      qp.reqOffset += this.payload;
      qp.reqPsn = psnAdd(this.psn, 1);
      if (this.last) {
        qp.reqIdx++;
        qp.reqOffset = 0;
      }
    } else this.sentRdAtomic();
    if (psnDiff(qp.reqPsn, qp.sentPsn) > 0) qp.sentPsn = qp.reqPsn;
    this.e.armTimer(qp);
    return ReqState.DONE;
  }

  /** UD: no acknowledgement; the send completes as it leaves */
  private sentUd(): number {
    const qp = this.qp;
    qp.reqPsn = psnAdd(qp.reqPsn, 1);
    qp.reqIdx++;
    this.e.completeSend(qp, this.w, WcStatus.success, this.w.length);
    qp.compIdx++;
    return ReqState.DONE;
  }

  /** a read request covers the PSNs of all its responses; an atomic one PSN */
  private sentRdAtomic(): void {
    const qp = this.qp;
    const w = this.w;
    qp.reqPsn = psnAdd(w.lastPsn, 1);
    qp.reqIdx++;
    qp.reqOffset = 0;
    if (!w.counted) {
      w.counted = true;
      qp.rdAtomicOut++;
    }
  }

  /**
   * A local error: the WQE completes with it once every WQE before it has completed (at
   * once when none is outstanding); then the QP goes to the error state (UD: SQE).
   */
  private localError(): number {
    const qp = this.qp;
    const w = this.w;
    w.localError = this.status;
    if (qp.reqIdx + 1 > qp.sentIdx) qp.sentIdx = qp.reqIdx + 1;
    this.e.completer.drainLocalError(qp);
    return ReqState.DONE;
  }
}

/** the state a local error leaves a QP in */
export function errorStateOf(qp: TransportQp): QpStateValue {
  return qp.isRc ? QpState.ERR : QpState.SQE;
}
