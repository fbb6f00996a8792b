/**
 * The completer (IBTA Vol 1 §9.7.5.2, rxe_comp.c in role): matches responses to the send
 * WQEs they answer, in order, and completes them.
 *
 * - An ACK, a read response or an atomic ACK for a PSN past a SEND/WRITE WQE acknowledges
 *   it (coalesced and implicit ACKs); past a read or atomic WQE still missing its data, it
 *   means that data was lost: the requester goes back to that WQE.
 * - Read response packets must arrive in PSN order; their payload lands in the WQE's local
 *   SGEs at (PSN − first PSN) × MTU. An atomic ACK's original data lands in its SGE.
 * - A PSN sequence NAK sends the requester back to the NAK's PSN; an RNR NAK does the same
 *   after the AETH's timer; the other NAKs complete the WQE with their status (aeth.ts
 *   NAK_ACTIONS) and take the QP to the error state, flushing the rest.
 * - The local ACK timer (engine.ts) expiring sends the requester back to the oldest
 *   unacknowledged PSN. Retries are counted (retry_cnt for timeouts and sequence NAKs,
 *   rnr_retry for RNR NAKs, 7 = without limit), refilled by forward progress; running out
 *   completes the WQE with "retry exceeded" (or "RNR retry exceeded").
 *
 *   GET_ACK → CHECK_PSN → CHECK_ACK ─┬─▶ READ ──────┐
 *                                    ├─▶ ATOMIC ────┤
 *                                    ├─▶ ACK ───────┼─▶ DONE
 *                                    ├─▶ RNR_RETRY ─┤
 *                                    ├─▶ ERROR_RETRY┤
 *                                    └─▶ ERROR ─────┘
 */
import { BthOpFlag } from "../headers/index.ts";
import { WcStatus } from "../formats/index.ts";
import { AETH_TYPE_SHIFT, AETH_VALUE_MASK, AethType, NAK_ACTIONS, RNR_TIMER_US } from "./aeth.ts";
import type { TransportEngine } from "./engine.ts";
import { OFF, rd24 } from "./eth.ts";
import { AETH_OFF, ATOMIC_ACK_OFF, OP_FLAGS, OP_PAYLOAD_OFFSET, OP_TRANSPORT, WqeKind, WQE_OP_INFO, wireOpcode } from "./opcodes.ts";
import type { TransportPacket } from "./packet.ts";
import { PSN_MASK, psnAdd, psnDiff } from "./psn.ts";
import { QP_STATE_BEHAVIOUR } from "./qp-state.ts";
import { fromPeer, WqeStatus, type SendWqe, type TransportQp } from "./qp.ts";
import { errorStateOf } from "./requester.ts";

export const CompState = {
  GET_ACK: 0,
  CHECK_PSN: 1,
  CHECK_ACK: 2,
  READ: 3,
  ATOMIC: 4,
  ACK: 5,
  RNR_RETRY: 6,
  ERROR_RETRY: 7,
  ERROR: 8,
  DONE: 9,
} as const;
export const COMP_STATE_NAMES: readonly string[] = Object.keys(CompState);

const PS_PER_US = 1_000_000;
const OP_ACK = wireOpcode("RC_ACKNOWLEDGE");
/** where an ACK's AETH is, and the bytes of an ACK without pad */
const ACK_AETH = AETH_OFF[OP_ACK];
const ACK_BYTES = OP_PAYLOAD_OFFSET[OP_ACK];

export class Completer {
  private qp!: TransportQp;
  private pkt: TransportPacket | null = null;
  private op = 0;
  private flags = 0;
  private psn = 0;
  private syndrome = 0;
  private w!: SendWqe;
  /** ERROR: the status; ERROR_RETRY: where to go back to */
  private status = 0;
  private retryPsn = 0;
  private progress = false;
  private readonly orig = new Uint8Array(8);
  constructor(private readonly e: TransportEngine) {}

  /** one state: runs it and returns the next */
  private step(s: number): number {
    switch (s) {
      case CompState.GET_ACK: return this.getAck();
      case CompState.CHECK_PSN: return this.checkPsn();
      case CompState.CHECK_ACK: return this.checkAck();
      case CompState.READ: return this.read();
      case CompState.ATOMIC: return this.atomic();
      case CompState.ACK: return this.ack();
      case CompState.RNR_RETRY: return this.rnrRetry();
      case CompState.ERROR_RETRY: return this.errorRetry();
      case CompState.ERROR: return this.error();
      default: throw new Error(`completer: no state ${s}`);
    }
  }

  /** a response packet for `qp` (the engine releases it afterwards) */
  receive(qp: TransportQp, pkt: TransportPacket): void {
    this.pkt = pkt;
    this.run(qp, CompState.GET_ACK);
  }

  /**
   * The common case without the state dispatch: an ACK (the AETH says ACK) for PSNs sent
   * and not yet completed. The checks of GET_ACK and CHECK_PSN run here as straight-line
   * code with the same outcome, then CHECK_ACK and ACK, the states every path shares.
   * Anything else returns GET_ACK with nothing changed: the general path decides.
   */
  private plainAck(qp: TransportQp, pkt: TransportPacket): number {
    const b = pkt.store;
    const op = b[0];
    if (op !== OP_ACK || !qp.isRc || !QP_STATE_BEHAVIOUR[qp.state].completer || !fromPeer(qp, pkt)) return CompState.GET_ACK;
    // an ACK carries no payload: its packet ends after the AETH and the pad
    if (pkt.length !== ACK_BYTES + ((b[1] >> 4) & 3)) return CompState.GET_ACK;
    const syndrome = b[ACK_AETH];
    const psn = pkt.dv.getUint32(OFF.bthPsn - 1) & PSN_MASK;
    if (syndrome >> AETH_TYPE_SHIFT !== AethType.ack || psnDiff(psn, qp.compPsn) < 0 || psnDiff(psn, qp.sentPsn) >= 0) return CompState.GET_ACK;
    this.op = op;
    this.flags = OP_FLAGS[op];
    this.psn = psn;
    this.syndrome = syndrome;
    const s = this.checkAck();
    return s === CompState.ACK ? this.ack() : s;
  }

  /** the local ACK timer of `qp` expired */
  timeout(qp: TransportQp): void {
    if (qp.compIdx === qp.sentIdx || qp.rnrUntilPs > this.e.sim.now) return;
    this.pkt = null;
    this.w = qp.wqe(qp.compIdx);
    this.retryPsn = qp.compPsn;
    this.run(qp, CompState.ERROR_RETRY);
  }

  /** completes a WQE the requester failed locally once it is the oldest outstanding one */
  drainLocalError(qp: TransportQp): void {
    if (qp.compIdx >= qp.sqPi) return;
    const w = qp.wqe(qp.compIdx);
    if (w.status !== WqeStatus.posted || w.localError === 0) return;
    this.e.completeSend(qp, w, w.localError, 0);
    qp.compIdx++;
    this.e.toError(qp, errorStateOf(qp));
  }

  private run(qp: TransportQp, start: number): void {
    this.qp = qp;
    this.progress = false;
    const trace = this.e.trace;
    let s = start === CompState.GET_ACK && trace === null && this.e.fastPath ? this.plainAck(qp, this.pkt!) : start;
    while (s !== CompState.DONE) {
      if (trace !== null) this.e.traceStep("completer", qp, this.pkt === null ? qp.compPsn : this.psn, COMP_STATE_NAMES[s]);
      s = this.step(s);
    }
    if (this.progress) {
      qp.retryLeft = qp.retryCount;
      qp.rnrRetryLeft = qp.rnrRetry;
      qp.retryPending = false;
      this.e.restartTimer(qp);
      this.drainLocalError(qp);
      this.e.kick(qp);
    }
  }

  private drop(reason: string): number {
    this.e.stats.drop(reason);
    return CompState.DONE;
  }

  private getAck(): number {
    const qp = this.qp;
    const pkt = this.pkt!;
    const b = pkt.store;
    if (!qp.isRc || !QP_STATE_BEHAVIOUR[qp.state].completer) return this.drop("completer_not_ready");
    this.op = b[0];
    this.flags = OP_FLAGS[this.op];
    if (OP_TRANSPORT[this.op] !== "RC") return this.drop("wrong_transport");
    if (!fromPeer(qp, pkt)) return this.drop("not_from_peer");
    const pad = (b[1] >> 4) & 3;
    const payload = pkt.length - OP_PAYLOAD_OFFSET[this.op] - pad;
    if (payload < 0 || (payload > 0 && !(this.flags & BthOpFlag.payload)) || payload > qp.mtu) return this.drop("malformed_response");
    this.psn = rd24(b, OFF.bthPsn);
    const a = AETH_OFF[this.op];
    this.syndrome = a >= 0 ? b[a] : 0;
    return CompState.CHECK_PSN;
  }

  /** only PSNs sent and not yet completed */
  private checkPsn(): number {
    const qp = this.qp;
    if (psnDiff(this.psn, qp.compPsn) < 0) return this.drop("duplicate_response");
    if (psnDiff(this.psn, qp.sentPsn) >= 0) return this.drop("response_not_requested");
    return CompState.CHECK_ACK;
  }

  /** a response past a WQE acknowledges it; then dispatch on what the response is */
  private checkAck(): number {
    const qp = this.qp;
    const e = this.e;
    while (qp.compIdx !== qp.sentIdx) {
      const w = qp.wqe(qp.compIdx);
      if (psnDiff(this.psn, w.lastPsn) <= 0) break;
      const kind = WQE_OP_INFO[w.opcode]!.kind;
      if (kind === WqeKind.read || kind === WqeKind.atomic) {
        // answered later requests but not this one: its response was lost
        this.w = w;
        this.retryPsn = qp.compPsn;
        return CompState.ERROR_RETRY;
      }
      e.completeSend(qp, w, WcStatus.success, w.length);
      qp.compIdx++;
      qp.compPsn = psnAdd(w.lastPsn, 1);
      this.progress = true;
    }
    if (qp.compIdx === qp.sentIdx) return this.drop("response_not_requested");
    this.w = qp.wqe(qp.compIdx);
    const f = this.flags;
    if (f & BthOpFlag.readResponse) return CompState.READ;
    if (f & BthOpFlag.atomicAck) return CompState.ATOMIC;
    const type = this.syndrome >> AETH_TYPE_SHIFT;
    if (type === AethType.ack) return CompState.ACK;
    if (type === AethType.rnrNak) return CompState.RNR_RETRY;
    if (type === AethType.nak) {
      // a NAK acknowledges everything before its PSN
      if (psnDiff(this.psn, qp.compPsn) > 0) {
        qp.compPsn = this.psn;
        this.progress = true;
      }
      const a = NAK_ACTIONS[this.syndrome & AETH_VALUE_MASK];
      if (a === undefined) return this.badResponse();
      if (a.retry) {
        this.retryPsn = this.psn;
        return CompState.ERROR_RETRY;
      }
      this.status = a.status;
      return CompState.ERROR;
    }
    return this.badResponse();
  }

  private badResponse(): number {
    this.status = WcStatus.badResponseError;
    return CompState.ERROR;
  }

  private read(): number {
    const qp = this.qp;
    const w = this.w;
    const pkt = this.pkt!;
    if (WQE_OP_INFO[w.opcode]!.kind !== WqeKind.read) return this.badResponse();
    if (this.psn !== qp.compPsn) {
      // a gap: the response packets in between were lost
      this.retryPsn = qp.compPsn;
      return CompState.ERROR_RETRY;
    }
    if (AETH_OFF[this.op] >= 0 && this.syndrome >> AETH_TYPE_SHIFT !== AethType.ack) return this.badResponse();
    const off = psnDiff(this.psn, w.firstPsn) * qp.mtu;
    const rest = w.length - off;
    const expected = rest > qp.mtu ? qp.mtu : rest;
    const last = this.psn === w.lastPsn;
    const po = OP_PAYLOAD_OFFSET[this.op];
    const payload = pkt.length - po - ((pkt.store[1] >> 4) & 3);
    if (((this.flags & BthOpFlag.last) !== 0) !== last || payload !== expected) return this.badResponse();
    if (payload > 0 && !w.sgl.write(this.e.prot, off, pkt.source(po, payload), pkt.sourceOffset, payload)) {
      this.status = WcStatus.localProtectionError;
      return CompState.ERROR;
    }
    qp.compPsn = psnAdd(this.psn, 1);
    this.progress = true;
    if (last) this.finishRdAtomic(w);
    return CompState.DONE;
  }

  private atomic(): number {
    const qp = this.qp;
    const w = this.w;
    if (WQE_OP_INFO[w.opcode]!.kind !== WqeKind.atomic || this.psn !== w.firstPsn) return this.badResponse();
    // the wire carries the original data big-endian; the host keeps it little-endian
    const h = ATOMIC_ACK_OFF[this.op];
    const b = this.pkt!.store;
    for (let k = 0; k < 8; k++) this.orig[k] = b[h + 7 - k];
    if (!w.sgl.write(this.e.prot, 0, this.orig)) {
      this.status = WcStatus.localProtectionError;
      return CompState.ERROR;
    }
    qp.compPsn = psnAdd(this.psn, 1);
    this.progress = true;
    this.finishRdAtomic(w);
    return CompState.DONE;
  }

  private finishRdAtomic(w: SendWqe): void {
    const qp = this.qp;
    if (w.counted) {
      w.counted = false;
      qp.rdAtomicOut--;
    }
    this.e.completeSend(qp, w, WcStatus.success, w.length);
    qp.compIdx++;
  }

  private ack(): number {
    const qp = this.qp;
    const w = this.w;
    const kind = WQE_OP_INFO[w.opcode]!.kind;
    if (kind === WqeKind.read || kind === WqeKind.atomic) {
      // acknowledged up to a read or atomic without its data: the data was lost
      this.retryPsn = qp.compPsn;
      return CompState.ERROR_RETRY;
    }
    qp.compPsn = psnAdd(this.psn, 1);
    this.progress = true;
    if (this.psn === w.lastPsn) {
      this.e.completeSend(qp, w, WcStatus.success, w.length);
      qp.compIdx++;
    }
    return CompState.DONE;
  }

  private rnrRetry(): number {
    const qp = this.qp;
    if (psnDiff(this.psn, qp.compPsn) > 0) {
      // an RNR NAK acknowledges everything before its PSN
      qp.compPsn = this.psn;
      qp.retryLeft = qp.retryCount;
    }
    if (qp.rnrRetryLeft === 0) {
      this.status = WcStatus.rnrRetryExceeded;
      return CompState.ERROR;
    }
    if (qp.rnrRetryLeft !== 7) qp.rnrRetryLeft--;
    qp.rnrUntilPs = this.e.sim.now + RNR_TIMER_US[this.syndrome & AETH_VALUE_MASK] * PS_PER_US;
    // no timer while waiting; the requester starts it again when it resends
    this.progress = false;
    this.e.stopTimer(qp);
    this.rewind(this.psn);
    this.e.kick(qp);
    return CompState.DONE;
  }

  private errorRetry(): number {
    const qp = this.qp;
    if (this.progress) {
      qp.retryLeft = qp.retryCount;
      qp.rnrRetryLeft = qp.rnrRetry;
    } else if (this.pkt !== null && qp.retryPending && qp.retryPsn === this.retryPsn) {
      // the requester is already going back there: later responses of the same gap do not
      // count again (if the resent packets are lost too, the timer goes back once more)
      return this.drop("retry_under_way");
    }
    if (qp.retryLeft === 0) {
      this.w = qp.wqe(qp.compIdx);
      this.status = WcStatus.retryExceeded;
      return CompState.ERROR;
    }
    qp.retryLeft--;
    this.progress = false;
    qp.retryPending = true;
    qp.retryPsn = this.retryPsn;
    this.rewind(this.retryPsn);
    this.e.restartTimer(qp);
    this.e.kick(qp);
    return CompState.DONE;
  }

  /** completes the WQE at the completion cursor with `status`; the QP goes to the error state */
  private error(): number {
    const qp = this.qp;
    const w = qp.wqe(qp.compIdx);
    if (w.counted) {
      w.counted = false;
      qp.rdAtomicOut--;
    }
    this.e.completeSend(qp, w, this.status, 0);
    qp.compIdx++;
    this.progress = false;
    this.e.toError(qp);
    return CompState.DONE;
  }

  /** sends the requester back to `psn`: the WQE holding it, and the offset in that WQE */
  private rewind(psn: number): void {
    const qp = this.qp;
    let idx = qp.compIdx;
    while (idx !== qp.sentIdx && psnDiff(psn, qp.wqe(idx).lastPsn) > 0) idx++;
    qp.reqIdx = idx;
    qp.packetsSinceAckReq = 0;
    if (idx === qp.sentIdx) {
      qp.reqPsn = psn;
      qp.reqOffset = 0;
      return;
    }
    const w = qp.wqe(idx);
    const k = Math.max(0, psnDiff(psn, w.firstPsn));
    if (WQE_OP_INFO[w.opcode]!.kind === WqeKind.atomic) {
      qp.reqPsn = w.firstPsn;
      qp.reqOffset = 0;
    } else {
      qp.reqPsn = psnAdd(w.firstPsn, k);
      qp.reqOffset = k * qp.mtu;
    }
  }
}
