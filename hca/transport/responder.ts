/**
 * The responder (IBTA Vol 1 §9.7.5.1, rxe_resp.c in role): takes request packets, checks
 * them in a fixed order, executes them into host memory, and owes the requester ACKs,
 * NAKs, read responses and atomic ACKs, which it sends through the transmit datapath.
 *
 *   GET_REQ → CHECK_QP_STATE → CHECK_PKEY ─┬─ RC ─▶ CHECK_ADDR → CHECK_PSN ─┬─▶ CHECK_OP_SEQ → CHECK_OP_VALID → CHECK_LENGTH
 *                                          │                                ├─▶ DUPLICATE      → CHECK_RESOURCE → CHECK_RKEY → EXECUTE
 *                                          │                                └─▶ ERR_SEQUENCE   → ACKNOWLEDGE → DONE
 *                                          └─ UD ─▶ CHECK_QKEY → UD_RECEIVE
 *   errors: ERR_RNR (RNR NAK, nothing consumed), ERR_INVALID_REQUEST, ERR_REMOTE_ACCESS,
 *   ERR_REMOTE_OP (NAK with the code, the QP to the error state), DROP (silently, counted)
 *
 * - Source: an RC packet must come from the QP's peer (SLID, source GID / IP: fromPeer).
 * - PSN: the expected PSN executes; a PSN behind it (within half the PSN space) is a
 *   duplicate: SEND/WRITE are acknowledged again, a READ is answered again from the
 *   responder resources (from the duplicate's PSN on), an ATOMIC's saved result is sent
 *   again (never executed twice); a PSN ahead is a sequence error, NAKed once until the
 *   expected PSN arrives.
 * - ACKs owed and not yet sent coalesce: a later ACK replaces an earlier one, and a PSN
 *   sequence NAK stands for an ACK of everything before it. Responses leave in PSN order.
 * - Keys: R_Keys through the tpt check (right, PD, bounds); a zero-length RDMA operation
 *   checks none (IBTA C9-88). Receive buffers through their L_Keys (local write).
 * - UD: Q_Key must match; the first 40 bytes of the receive buffer take the GRH (written
 *   when one came); a datagram larger than the buffer completes with a length error.
 * - Atomics: 8 bytes, 8-byte aligned, on host memory kept little-endian; the wire carries
 *   operands and results big-endian (as rxe does). Masked compare-swap: new = (orig &
 *   ~swapMask) | (swap & swapMask) when (orig ^ compare) & compareMask is 0; masked
 *   fetch-add: a set bit in the boundary mask (AtomicETH compare field) ends a field, the
 *   carry out of it is dropped.
 * - Host reads (the engine's responderDma, responder-dma.ts): a READ's response packets
 *   leave as their bytes come back over PCIe (a round trip for the first, then the tags or
 *   the link rate), a duplicate READ reads again; an atomic ACK waits for the read of its 8
 *   bytes, a duplicate atomic's saved result goes without a read. When memory is sampled:
 *   a READ response's bytes are read when its packet is built (or later, when a payload
 *   held by reference is read), at or after the modelled arrival of its bytes; an atomic
 *   reads and writes its 8 bytes when it executes, in request order, before its modelled
 *   read round trip (its ACK waits for that).
 */
import { Access, CqeRecvOpcode, WcStatus } from "../formats/index.ts";
import { BthOpFlag } from "../headers/index.ts";
import { TptFault } from "../tpt/index.ts";
import { ACK_CREDITS_INVALID, aethSyndrome, AethType, AETH_TYPE_SHIFT, creditCode, NakCode } from "./aeth.ts";
import { Completion } from "./cq.ts";
import type { TransportEngine } from "./engine.ts";
import { BTH_PAD_SHIFT, OFF, rd16, rd24, rd32, wr16, wr24, wr32 } from "./eth.ts";
import {
  AETH_OFF, ATOMIC_ACK_OFF, ATOMIC_OFF, DETH_OFF, IETH_OFF, IMM_OFF, MASKED_CS_PAYLOAD, OP_FLAGS, OP_PAYLOAD_OFFSET, OP_TRANSPORT, remoteAccessOf,
  RETH_OFF, wireOpcode,
} from "./opcodes.ts";
import { GRH_BYTES, type TransportPacket } from "./packet.ts";
import { PSN_MASK, psnAdd, psnDiff } from "./psn.ts";
import { QP_STATE_BEHAVIOUR } from "./qp-state.ts";
import { fromPeer, InMessage, JobKind, ResourceKind, type RecvWqe, type Resource, type ResponseJob, type TransportQp } from "./qp.ts";
import { KeyCheck, KeyRequest } from "./protection.ts";

export const RespState = {
  GET_REQ: 0,
  CHECK_QP_STATE: 1,
  CHECK_PKEY: 2,
  CHECK_ADDR: 3,
  CHECK_QKEY: 4,
  CHECK_PSN: 5,
  CHECK_OP_SEQ: 6,
  CHECK_OP_VALID: 7,
  CHECK_LENGTH: 8,
  CHECK_RESOURCE: 9,
  CHECK_RKEY: 10,
  EXECUTE: 11,
  ACKNOWLEDGE: 12,
  DUPLICATE: 13,
  UD_RECEIVE: 14,
  ERR_SEQUENCE: 15,
  ERR_RNR: 16,
  ERR_INVALID_REQUEST: 17,
  ERR_REMOTE_ACCESS: 18,
  ERR_REMOTE_OP: 19,
  DROP: 20,
  DONE: 21,
} as const;
export const RESP_STATE_NAMES: readonly string[] = Object.keys(RespState);

const F = BthOpFlag;
const OP_ACK = wireOpcode("RC_ACKNOWLEDGE");
const OP_ATOMIC_ACK = wireOpcode("RC_ATOMIC_ACKNOWLEDGE");
const OP_READ_FIRST = wireOpcode("RC_RDMA_READ_RESPONSE_FIRST");
const OP_READ_MIDDLE = wireOpcode("RC_RDMA_READ_RESPONSE_MIDDLE");
const OP_READ_LAST = wireOpcode("RC_RDMA_READ_RESPONSE_LAST");
const OP_READ_ONLY = wireOpcode("RC_RDMA_READ_RESPONSE_ONLY");
const SEQ_NAK = aethSyndrome(AethType.nak, NakCode.psnSequenceError);
const OP_FETCH_ADD = wireOpcode("RC_FETCH_ADD");
const OP_COMPARE_SWAP = wireOpcode("RC_COMPARE_SWAP");
const U64 = (1n << 64n) - 1n;

/** P_Key match (IBTA §10.9.3): same partition, not both limited members, not the invalid P_Key */
export function pkeyMatch(a: number, b: number): boolean {
  return (a & 0x7fff) === (b & 0x7fff) && (a & 0x7fff) !== 0 && ((a | b) & 0x8000) !== 0;
}

/** masked fetch-add: bitwise add whose carry stops at every set bit of `boundary` */
export function maskedAdd(orig: bigint, add: bigint, boundary: bigint): bigint {
  let out = 0n;
  let carry = 0n;
  for (let i = 0n; i < 64n; i++) {
    const s = ((orig >> i) & 1n) + ((add >> i) & 1n) + carry;
    out |= (s & 1n) << i;
    carry = (boundary >> i) & 1n ? 0n : s >> 1n;
  }
  return out;
}

export class Responder {
  private qp!: TransportQp;
  private pkt!: TransportPacket;
  private b!: Uint8Array;
  private op = 0;
  private flags = 0;
  private psn = 0;
  private payloadOff = 0;
  private payloadLen = 0;
  /** DMA length of the request's RETH */
  private dmaLen = 0;
  /** status the receive WQE in use completes with if this packet fails */
  private recvStatus = 0;
  private dropReason = "";
  private readonly req = new KeyRequest();
  private readonly range = new KeyCheck();
  private readonly completion = new Completion();
  private readonly scratch = new Uint8Array(8);
  private readonly dv = new DataView(this.scratch.buffer);
  constructor(private readonly e: TransportEngine) {}

  /** one state: runs it and returns the next */
  private step(s: number): number {
    switch (s) {
      case RespState.GET_REQ: return this.getReq();
      case RespState.CHECK_QP_STATE: return this.checkQpState();
      case RespState.CHECK_PKEY: return this.checkPkey();
      case RespState.CHECK_ADDR: return this.checkAddr();
      case RespState.CHECK_QKEY: return this.checkQkey();
      case RespState.CHECK_PSN: return this.checkPsn();
      case RespState.CHECK_OP_SEQ: return this.checkOpSeq();
      case RespState.CHECK_OP_VALID: return this.checkOpValid();
      case RespState.CHECK_LENGTH: return this.checkLength();
      case RespState.CHECK_RESOURCE: return this.checkResource();
      case RespState.CHECK_RKEY: return this.checkRkey();
      case RespState.EXECUTE: return this.execute();
      case RespState.ACKNOWLEDGE: return this.acknowledge();
      case RespState.DUPLICATE: return this.duplicate();
      case RespState.UD_RECEIVE: return this.udReceive();
      case RespState.ERR_SEQUENCE: return this.errSequence();
      case RespState.ERR_RNR: return this.errRnr();
      case RespState.ERR_INVALID_REQUEST: return this.errInvalidRequest();
      case RespState.ERR_REMOTE_ACCESS: return this.errRemoteAccess();
      case RespState.ERR_REMOTE_OP: return this.errRemoteOp();
      case RespState.DROP: return this.dropPacket();
      default: throw new Error(`responder: no state ${s}`);
    }
  }

  /** a request packet for `qp` (the engine releases it afterwards) */
  receive(qp: TransportQp, pkt: TransportPacket): void {
    this.qp = qp;
    this.pkt = pkt;
    this.b = pkt.store;
    this.recvStatus = 0;
    const trace = this.e.trace;
    let s: number = trace === null && this.e.fastPath ? this.inOrder(qp, pkt) : RespState.GET_REQ;
    while (s !== RespState.DONE) {
      if (trace !== null) this.e.traceStep("responder", qp, this.psn, RESP_STATE_NAMES[s]);
      s = this.step(s);
    }
  }

  /**
   * The common case without the state dispatch: an RC SEND or RDMA WRITE packet (any
   * position in its message) carrying the expected PSN. The checks of GET_REQ … CHECK_RKEY
   * run here as straight-line code, in the same order and with the same outcome; when they
   * all pass, EXECUTE and ACKNOWLEDGE run (the states every path shares; an error they find
   * goes on through the state machine). Else nothing has been changed and the general path
   * takes the packet from GET_REQ, where the same check fails and takes its error route.
   */
  private inOrder(qp: TransportQp, pkt: TransportPacket): number {
    const b = pkt.store;
    const op = b[0];
    const f = OP_FLAGS[op];
    // GET_REQ, CHECK_QP_STATE, CHECK_PKEY, CHECK_ADDR
    if ((f & (F.send | F.write)) === 0 || !qp.isRc || OP_TRANSPORT[op] !== "RC") return RespState.GET_REQ;
    if ((b[1] & 0x0f) !== 0) return RespState.GET_REQ;
    const payloadOff = OP_PAYLOAD_OFFSET[op];
    const n = pkt.length - payloadOff - ((b[1] >> BTH_PAD_SHIFT) & 3);
    if (n < 0 || (!(f & F.payload) && pkt.length !== payloadOff)) return RespState.GET_REQ;
    const dv = pkt.dv;
    if (!QP_STATE_BEHAVIOUR[qp.state].responder || !pkeyMatch(dv.getUint16(OFF.bthPkey), qp.pkey) || !fromPeer(qp, pkt)) return RespState.GET_REQ;
    // CHECK_PSN: the expected one
    const psn = dv.getUint32(OFF.bthPsn - 1) & PSN_MASK;
    if (psn !== qp.epsn) return RespState.GET_REQ;
    // CHECK_OP_SEQ
    const inMessage = qp.inMessage;
    if (inMessage === InMessage.none ? (f & F.first) === 0 : (f & (inMessage === InMessage.send ? F.send : F.write)) === 0 || (f & F.first) !== 0) return RespState.GET_REQ;
    // CHECK_OP_VALID
    const need = remoteAccessOf(f);
    if (need !== 0 && (qp.access & need) === 0) return RespState.GET_REQ;
    // CHECK_LENGTH (what it asks of a SEND or WRITE)
    const mtu = qp.mtu;
    if (n > mtu || (!(f & F.last) && n !== mtu) || (!(f & F.first) && n === 0)) return RespState.GET_REQ;
    const r = RETH_OFF[op];
    const dmaLen = r >= 0 ? dv.getUint32(r + OFF.rethLen) : 0;
    if (f & F.write && f & F.first && !(f & F.last) && dmaLen <= mtu) return RespState.GET_REQ;
    // CHECK_RESOURCE
    if (f & F.takesRecvWqe && qp.rqCi === qp.rqPi) return RespState.GET_REQ;
    // CHECK_RKEY (a SEND or WRITE carries no AtomicETH)
    if (r >= 0) {
      if (dmaLen === 0) {
        this.range.fault = TptFault.ok;
        this.range.nseg = 0;
      } else {
        const k = this.req;
        k.vaHi = dv.getUint32(r + OFF.rethVa);
        k.vaLo = dv.getUint32(r + OFF.rethVa + 4);
        k.key = dv.getUint32(r + OFF.rethRkey);
        k.pd = qp.pd;
        k.access = need;
        k.len = dmaLen;
        if (this.e.prot.check(k, this.range) !== TptFault.ok) return RespState.GET_REQ;
      }
    }
    // what the checks leave for EXECUTE
    this.op = op;
    this.flags = f;
    this.psn = psn;
    this.payloadOff = payloadOff;
    this.payloadLen = n;
    this.dmaLen = dmaLen;
    qp.nakSeqSent = false;
    const s = f & F.send ? this.executeSend() : this.executeWrite();
    return s === RespState.ACKNOWLEDGE ? this.acknowledge() : s;
  }

  private drop(reason: string): number {
    this.dropReason = reason;
    return RespState.DROP;
  }

  private dropPacket(): number {
    this.e.stats.drop(this.dropReason);
    return RespState.DONE;
  }

  // ---- header checks ----------------------------------------------------------------------

  private getReq(): number {
    const b = this.b;
    const qp = this.qp;
    this.op = b[0];
    this.flags = OP_FLAGS[this.op];
    this.psn = rd24(b, OFF.bthPsn);
    if (OP_TRANSPORT[this.op] !== qp.type) return this.drop("wrong_transport");
    if ((b[1] & 0x0f) !== 0) return this.drop("bad_tver");
    const pad = (b[1] >> BTH_PAD_SHIFT) & 3;
    this.payloadOff = OP_PAYLOAD_OFFSET[this.op];
    this.payloadLen = this.pkt.length - this.payloadOff - pad;
    if (this.payloadLen < 0) return this.drop("truncated");
    if (!(this.flags & F.payload) && this.pkt.length !== this.payloadOff) return this.drop("malformed");
    return RespState.CHECK_QP_STATE;
  }

  private checkQpState(): number {
    return QP_STATE_BEHAVIOUR[this.qp.state].responder ? RespState.CHECK_PKEY : this.drop("qp_state");
  }

  private checkPkey(): number {
    if (!pkeyMatch(rd16(this.b, OFF.bthPkey), this.qp.pkey)) return this.drop("pkey_mismatch");
    return this.qp.isRc ? RespState.CHECK_ADDR : RespState.CHECK_QKEY;
  }

  private checkAddr(): number {
    return fromPeer(this.qp, this.pkt) ? RespState.CHECK_PSN : this.drop("not_from_peer");
  }

  private checkQkey(): number {
    return rd32(this.b, DETH_OFF[this.op] + OFF.dethQkey) === this.qp.qkey ? RespState.UD_RECEIVE : this.drop("qkey_mismatch");
  }

  private checkPsn(): number {
    const d = psnDiff(this.psn, this.qp.epsn);
    if (d > 0) return RespState.ERR_SEQUENCE;
    if (d < 0) return RespState.DUPLICATE;
    this.qp.nakSeqSent = false;
    return RespState.CHECK_OP_SEQ;
  }

  /** a MIDDLE or LAST only inside a message of its kind; a FIRST/ONLY only between messages */
  private checkOpSeq(): number {
    const f = this.flags;
    let ok: boolean;
    switch (this.qp.inMessage) {
      case InMessage.send:
        ok = (f & F.send) !== 0 && (f & F.first) === 0;
        break;
      case InMessage.write:
        ok = (f & F.write) !== 0 && (f & F.first) === 0;
        break;
      default:
        ok = (f & F.first) !== 0;
    }
    return ok ? RespState.CHECK_OP_VALID : RespState.ERR_INVALID_REQUEST;
  }

  /** the QP must allow the remote operation */
  private checkOpValid(): number {
    const need = remoteAccessOf(this.flags);
    return need !== 0 && (this.qp.access & need) === 0 ? RespState.ERR_INVALID_REQUEST : RespState.CHECK_LENGTH;
  }

  /** payload sizes by position (IBTA C9-29..): FIRST/MIDDLE a full MTU, LAST 1..MTU, ONLY 0..MTU */
  private checkLength(): number {
    const f = this.flags;
    const n = this.payloadLen;
    const mtu = this.qp.mtu;
    if (f & (F.send | F.write)) {
      if (n > mtu) return RespState.ERR_INVALID_REQUEST;
      if (!(f & F.last) && n !== mtu) return RespState.ERR_INVALID_REQUEST;
      if (!(f & F.first) && n === 0) return RespState.ERR_INVALID_REQUEST;
    }
    const r = RETH_OFF[this.op];
    this.dmaLen = r >= 0 ? rd32(this.b, r + OFF.rethLen) : 0;
    if (f & F.write && f & F.first && !(f & F.last) && this.dmaLen <= mtu) return RespState.ERR_INVALID_REQUEST;
    if (f & F.read && this.dmaLen > 2 ** 31) return RespState.ERR_INVALID_REQUEST;
    if (f & F.atomic && rd32(this.b, ATOMIC_OFF[this.op] + OFF.atomicVa + 4) % 8 !== 0) return RespState.ERR_INVALID_REQUEST;
    if (f & F.atomic && f & F.payload && n !== MASKED_CS_PAYLOAD) return RespState.ERR_INVALID_REQUEST;
    return RespState.CHECK_RESOURCE;
  }

  /** a packet that takes a receive WQE needs one: otherwise RNR NAK */
  private checkResource(): number {
    const qp = this.qp;
    if (this.flags & F.takesRecvWqe && qp.rqCi === qp.rqPi) return RespState.ERR_RNR;
    return RespState.CHECK_RKEY;
  }

  /** R_Key of a RETH (WRITE FIRST/ONLY, READ) or AtomicETH: right, PD, bounds */
  private checkRkey(): number {
    const f = this.flags;
    let h = RETH_OFF[this.op];
    let len = this.dmaLen;
    if (h < 0) {
      h = ATOMIC_OFF[this.op];
      len = 8;
    }
    if (h < 0) return RespState.EXECUTE;
    if (len === 0) {
      this.range.fault = TptFault.ok;
      this.range.nseg = 0;
      return RespState.EXECUTE;
    }
    const r = this.req;
    r.vaHi = rd32(this.b, h);
    r.vaLo = rd32(this.b, h + 4);
    r.key = rd32(this.b, h + 8);
    r.pd = this.qp.pd;
    r.access = remoteAccessOf(f);
    r.len = len;
    return this.e.prot.check(r, this.range) === TptFault.ok ? RespState.EXECUTE : RespState.ERR_REMOTE_ACCESS;
  }

  // ---- execution --------------------------------------------------------------------------

  private execute(): number {
    const f = this.flags;
    if (f & F.send) return this.executeSend();
    if (f & F.write) return this.executeWrite();
    if (f & F.read) return this.executeRead();
    return this.executeAtomic();
  }

  /** the array holding this packet's payload (from `pkt.sourceOffset` on): see TransportPacket.source */
  private payloadSource(): Uint8Array {
    return this.pkt.source(this.payloadOff, this.payloadLen);
  }

  private takeRecvWqe(): RecvWqe {
    const qp = this.qp;
    return qp.rq[qp.rqCi++ & qp.rqMask];
  }

  private executeSend(): number {
    const qp = this.qp;
    const e = this.e;
    const f = this.flags;
    if (f & F.first) {
      qp.rqCur = this.takeRecvWqe();
      qp.rqOffset = 0;
    }
    const r = qp.rqCur!;
    if (!r.sgl.validated && r.sgl.validate(e.prot, qp.pd, Access.localWrite) !== TptFault.ok) {
      this.recvStatus = WcStatus.localProtectionError;
      return RespState.ERR_REMOTE_OP;
    }
    if (qp.rqOffset + this.payloadLen > r.sgl.total) {
      this.recvStatus = WcStatus.localLengthError;
      return RespState.ERR_INVALID_REQUEST;
    }
    if (this.payloadLen > 0 && !r.sgl.write(e.prot, qp.rqOffset, this.payloadSource(), this.pkt.sourceOffset, this.payloadLen)) {
      this.recvStatus = WcStatus.localProtectionError;
      return RespState.ERR_REMOTE_OP;
    }
    qp.rqOffset += this.payloadLen;
    qp.epsn = psnAdd(qp.epsn, 1);
    if (!(f & F.last)) {
      qp.inMessage = InMessage.send;
      return RespState.ACKNOWLEDGE;
    }
    const c = this.completion;
    c.opcode = CqeRecvOpcode.SEND;
    c.imm = 0;
    const ih = IMM_OFF[this.op];
    if (ih >= 0) {
      c.opcode = CqeRecvOpcode.SEND_IMM;
      c.imm = rd32(this.b, ih);
    }
    const vh = IETH_OFF[this.op];
    if (vh >= 0) {
      const key = rd32(this.b, vh);
      if (!e.prot.invalidate(key, qp.pd)) {
        this.recvStatus = WcStatus.remoteInvalidRequestError;
        return RespState.ERR_INVALID_REQUEST;
      }
      c.opcode = CqeRecvOpcode.SEND_INV;
      c.imm = key;
    }
    this.finishRecv(r, qp.rqOffset);
    qp.rqCur = null;
    qp.inMessage = InMessage.none;
    qp.msn = psnAdd(qp.msn, 1);
    return RespState.ACKNOWLEDGE;
  }

  /** completes receive WQE `r` (opcode and imm already in this.completion) */
  private finishRecv(r: RecvWqe, byteCount: number, status: number = WcStatus.success): void {
    const c = this.completion;
    const p = this.pkt;
    c.byteCount = byteCount;
    c.status = status;
    const d = DETH_OFF[this.op];
    c.rqpn = d >= 0 ? rd24(this.b, d + OFF.dethSrcQp) : 0;
    c.rlid = p.slid;
    c.sl = p.sl;
    c.grh = p.hasGrh;
    c.solicited = (this.b[1] & 0x80) !== 0;
    this.e.completeRecv(this.qp, r, c);
  }

  private executeWrite(): number {
    const qp = this.qp;
    const f = this.flags;
    const n = this.payloadLen;
    if (f & F.first) {
      // WRITE FIRST or ONLY: the range its RETH passed the check for, its length
      const w = qp.writeRange;
      const r = this.range;
      w.fault = r.fault;
      w.mttIdx0 = r.mttIdx0;
      w.off0 = r.off0;
      w.ps = r.ps;
      qp.writeLen = this.dmaLen;
      qp.writeOffset = 0;
    }
    const at = qp.writeOffset;
    if (at + n > qp.writeLen || (f & F.last && at + n !== qp.writeLen)) return RespState.ERR_INVALID_REQUEST;
    if (n > 0 && !this.e.prot.write(qp.writeRange, at, this.payloadSource(), this.pkt.sourceOffset, n)) return RespState.ERR_REMOTE_ACCESS;
    qp.writeOffset = at + n;
    qp.epsn = psnAdd(qp.epsn, 1);
    if (!(f & F.last)) {
      qp.inMessage = InMessage.write;
      return RespState.ACKNOWLEDGE;
    }
    if (IMM_OFF[this.op] >= 0) this.completeWriteImm(qp);
    qp.inMessage = InMessage.none;
    qp.msn = psnAdd(qp.msn, 1);
    return RespState.ACKNOWLEDGE;
  }

  /** a WRITE with immediate ended: it completes a receive WQE */
  private completeWriteImm(qp: TransportQp): void {
    const c = this.completion;
    c.opcode = CqeRecvOpcode.RDMA_WRITE_IMM;
    c.imm = rd32(this.b, IMM_OFF[this.op]);
    this.finishRecv(this.takeRecvWqe(), qp.writeLen);
  }

  private nextResource(): Resource {
    const qp = this.qp;
    const r = qp.resources[qp.nextResource];
    qp.nextResource = (qp.nextResource + 1) % qp.resources.length;
    return r;
  }

  private executeRead(): number {
    const qp = this.qp;
    const n = Math.max(1, Math.ceil(this.dmaLen / qp.mtu));
    const res = this.nextResource();
    res.kind = ResourceKind.read;
    res.firstPsn = this.psn;
    res.lastPsn = psnAdd(this.psn, n - 1);
    res.length = this.dmaLen;
    copyRange(res.range, this.range);
    qp.epsn = psnAdd(res.lastPsn, 1);
    qp.msn = psnAdd(qp.msn, 1);
    this.queueRead(res, this.psn);
    return RespState.DONE;
  }

  /** a read response stream from PSN `from` on (a first execution, or a duplicate: its bytes are read again) */
  private queueRead(res: Resource, from: number): void {
    const qp = this.qp;
    const e = this.e;
    const j = qp.responses.push();
    j.kind = JobKind.read;
    j.psn = j.startPsn = from;
    j.firstPsn = res.firstPsn;
    j.lastPsn = res.lastPsn;
    j.length = res.length;
    copyRange(j.range, res.range);
    j.msn = qp.msn;
    j.dmaStartPs = -1;
    if (e.responderDma === null) j.notBeforePs = e.rxDonePs + e.dmaReadLatencyPs;
    else this.readFromHost(j, qp.mtu);
    e.kick(qp, j.notBeforePs);
  }

  /**
   * responderDma: the stream's bytes (from its first PSN on) are read from host memory once
   * the request is through the pipeline; its first packet may leave when its bytes are in
   * (a zero-length READ reads nothing and answers after the pipeline)
   */
  private readFromHost(j: ResponseJob, mtu: number): void {
    const dma = this.e.responderDma!;
    const base = psnDiff(j.startPsn, j.firstPsn) * mtu;
    const len = j.length - base;
    j.dmaBase = base;
    if (len <= 0) {
      j.notBeforePs = this.e.rxDonePs;
      return;
    }
    j.dmaStartPs = dma.issue(this.e.rxDonePs, len);
    j.notBeforePs = dma.arrivalPs(j.dmaStartPs, len, len < mtu ? len : mtu);
  }

  /** responderDma: the read response packet after the one that ended at byte `from` may leave when its last byte is in */
  private nextReadPacketDue(j: ResponseJob, from: number, mtu: number): void {
    const end = from + mtu < j.length ? from + mtu : j.length;
    j.notBeforePs = this.e.responderDma!.arrivalPs(j.dmaStartPs, j.length - j.dmaBase, end - j.dmaBase);
  }

  private executeAtomic(): number {
    const qp = this.qp;
    const e = this.e;
    const b = this.b;
    const h = ATOMIC_OFF[this.op];
    const dv = this.dv;
    if (!e.prot.read(this.range, 0, 8, this.scratch, 0)) return RespState.ERR_REMOTE_ACCESS;
    const orig = dv.getBigUint64(0, true);
    const swapAdd = readU64(b, h + OFF.atomicSwapAdd);
    const compare = readU64(b, h + OFF.atomicCompare);
    let next: bigint;
    const m = this.payloadOff;
    if (this.op === OP_FETCH_ADD) next = (orig + swapAdd) & U64;
    else if (this.op === OP_COMPARE_SWAP) next = orig === compare ? swapAdd : orig;
    else if (this.flags & F.payload) {
      // masked compare-swap: the masks are its payload
      const swapMask = readU64(b, m + OFF.maskedSwapMask);
      const compareMask = readU64(b, m + OFF.maskedCompareMask);
      next = ((orig ^ compare) & compareMask) === 0n ? (orig & ~swapMask & U64) | (swapAdd & swapMask) : orig;
    } else next = maskedAdd(orig, swapAdd, compare);
    dv.setBigUint64(0, next, true);
    if (!e.prot.write(this.range, 0, this.scratch)) return RespState.ERR_REMOTE_ACCESS;
    const res = this.nextResource();
    res.kind = ResourceKind.atomic;
    res.firstPsn = res.lastPsn = this.psn;
    res.length = 8;
    dv.setBigUint64(0, orig, false);
    res.orig.set(this.scratch);
    qp.epsn = psnAdd(qp.epsn, 1);
    qp.msn = psnAdd(qp.msn, 1);
    this.queueAtomic(res, false);
    return RespState.DONE;
  }

  /**
   * an atomic ACK with the saved original value; with responderDma it waits for the read of
   * the 8 bytes, unless it replays a duplicate's saved result (nothing is read again)
   */
  private queueAtomic(res: Resource, replay: boolean): void {
    const qp = this.qp;
    const e = this.e;
    const j = qp.responses.push();
    j.kind = JobKind.atomic;
    j.psn = res.firstPsn;
    j.msn = qp.msn;
    j.orig.set(res.orig);
    const dma = e.responderDma;
    if (dma === null) j.notBeforePs = e.rxDonePs + e.dmaReadLatencyPs;
    else j.notBeforePs = replay ? e.rxDonePs : dma.arrivalPs(dma.issue(e.rxDonePs, 8), 8, 8);
    e.kick(qp, j.notBeforePs);
  }

  private acknowledge(): number {
    if (this.b[OFF.bthAckReq] & 0x80) this.queueAck(this.psn, this.ackSyndrome());
    return RespState.DONE;
  }

  private ackSyndrome(): number {
    const qp = this.qp;
    return aethSyndrome(AethType.ack, qp.rqPi === qp.rqCi && qp.rqPi === 0 ? ACK_CREDITS_INVALID : creditCode(qp.rqPi - qp.rqCi));
  }

  // ---- duplicates and errors --------------------------------------------------------------

  private duplicate(): number {
    const qp = this.qp;
    const f = this.flags;
    if (f & (F.send | F.write)) {
      this.queueAck(psnAdd(qp.epsn, -1), this.ackSyndrome());
      return RespState.DONE;
    }
    for (const res of qp.resources) {
      if (f & F.read && res.kind === ResourceKind.read && psnDiff(this.psn, res.firstPsn) >= 0 && psnDiff(this.psn, res.lastPsn) <= 0) {
        this.queueRead(res, this.psn);
        return RespState.DONE;
      }
      if (f & F.atomic && res.kind === ResourceKind.atomic && res.firstPsn === this.psn) {
        this.queueAtomic(res, true);
        return RespState.DONE;
      }
    }
    return this.drop("duplicate_without_resource");
  }

  private errSequence(): number {
    const qp = this.qp;
    if (!qp.nakSeqSent) {
      qp.nakSeqSent = true;
      this.queueAck(qp.epsn, aethSyndrome(AethType.nak, NakCode.psnSequenceError));
    }
    return this.drop("out_of_sequence");
  }

  private errRnr(): number {
    this.queueAck(this.psn, aethSyndrome(AethType.rnrNak, this.qp.minRnrTimer));
    this.e.stats.rnrNaksSent++;
    return this.drop("rnr");
  }

  private errInvalidRequest(): number {
    return this.classError(NakCode.invalidRequest, WcStatus.remoteInvalidRequestError);
  }
  private errRemoteAccess(): number {
    return this.classError(NakCode.remoteAccessError, WcStatus.remoteAccessError);
  }
  private errRemoteOp(): number {
    return this.classError(NakCode.remoteOperationalError, WcStatus.localQpOpError);
  }

  /** a NAK with `code` for this PSN; the receive WQE in use fails; the QP goes to the error state */
  private classError(code: number, recvStatus: number): number {
    const qp = this.qp;
    this.queueAck(this.psn, aethSyndrome(AethType.nak, code));
    if (qp.rqCur !== null) {
      const c = this.completion;
      c.opcode = CqeRecvOpcode.SEND;
      c.imm = 0;
      c.byteCount = 0;
      c.status = this.recvStatus !== 0 ? this.recvStatus : recvStatus;
      c.rqpn = c.rlid = c.sl = 0;
      c.grh = false;
      c.solicited = false;
      this.e.completeRecv(qp, qp.rqCur, c);
      qp.rqCur = null;
    }
    this.e.toError(qp);
    return RespState.DONE;
  }

  // ---- UD ---------------------------------------------------------------------------------

  private udReceive(): number {
    const qp = this.qp;
    const e = this.e;
    if (this.payloadLen > qp.mtu) return this.drop("too_long");
    if (qp.rqCi === qp.rqPi) return this.drop("no_receive_wqe");
    const r = this.takeRecvWqe();
    const c = this.completion;
    c.opcode = CqeRecvOpcode.SEND;
    c.imm = 0;
    const ih = IMM_OFF[this.op];
    if (ih >= 0) {
      c.opcode = CqeRecvOpcode.SEND_IMM;
      c.imm = rd32(this.b, ih);
    }
    let status: number = WcStatus.success;
    const need = GRH_BYTES + this.payloadLen;
    if (!r.sgl.validated && r.sgl.validate(e.prot, qp.pd, Access.localWrite) !== TptFault.ok) status = WcStatus.localProtectionError;
    else if (need > r.sgl.total) status = WcStatus.localLengthError;
    else if ((this.pkt.hasGrh && !r.sgl.write(e.prot, 0, this.pkt.grh)) || (this.payloadLen > 0 && !r.sgl.write(e.prot, GRH_BYTES, this.payloadSource(), this.pkt.sourceOffset, this.payloadLen))) {
      status = WcStatus.localProtectionError;
    }
    this.finishRecv(r, status === WcStatus.success ? need : 0, status);
    // a receive buffer the QP cannot write into is a local QP error; a short one only fails its WQE
    if (status === WcStatus.localProtectionError) this.e.toError(qp);
    return RespState.DONE;
  }

  // ---- responses --------------------------------------------------------------------------

  /** an ACK or NAK owed for `psn`, coalesced with the one before it when that is not sent yet */
  private queueAck(psn: number, syndrome: number): void {
    const qp = this.qp;
    const q = qp.responses;
    if (q.length > 0 && q.tail().kind === JobKind.ack && this.coalesced(q.tail(), psn, syndrome)) return;
    this.fillAck(q.push(), psn, syndrome, this.e.rxDonePs);
    this.e.kick(qp, this.e.rxDonePs);
  }

  /** true when the ACK or NAK owed for `psn` merged into ACK job `t`, not sent yet (or needs none) */
  private coalesced(t: ResponseJob, psn: number, syndrome: number): boolean {
    const tType = t.syndrome >> AETH_TYPE_SHIFT;
    const nType = syndrome >> AETH_TYPE_SHIFT;
    const seqNak = t.syndrome === SEQ_NAK;
    if (nType === AethType.ack && (tType === AethType.ack || seqNak)) {
      if (psnDiff(psn, t.psn) >= 0) {
        this.mergeAck(t, psn, syndrome);
        return true;
      }
      if (seqNak) return true; // the NAK already acknowledges everything before its PSN
    }
    if (nType === AethType.nak && tType === AethType.ack && psnDiff(psn, t.psn) > 0) {
      this.mergeAck(t, psn, syndrome);
      return true;
    }
    return false;
  }

  private fillAck(j: ResponseJob, psn: number, syndrome: number, notBefore: number): void {
    j.kind = JobKind.ack;
    j.psn = psn;
    j.syndrome = syndrome;
    j.msn = this.qp.msn;
    j.notBeforePs = notBefore;
  }

  /** merges a later ACK into one owed and not sent: it leaves when the first was due */
  private mergeAck(j: ResponseJob, psn: number, syndrome: number): void {
    const due = j.notBeforePs;
    this.fillAck(j, psn, syndrome, due);
  }

  /** the next response packet of `qp` now, or null (qp.eligiblePs set when it waits for time) */
  nextPacket(qp: TransportQp): TransportPacket | null {
    const now = this.e.sim.now;
    const j = qp.responses.peek();
    if (j.notBeforePs > now) {
      if (j.notBeforePs < qp.eligiblePs) qp.eligiblePs = j.notBeforePs;
      return null;
    }
    const e = this.e;
    const pkt = e.pool.get();
    const b = pkt.store;
    let op: number;
    let len: number;
    let payload = 0;
    let psn = j.psn;
    if (j.kind === JobKind.ack) {
      op = OP_ACK;
      len = AETH_OFF[op] + 4;
      wr32(b, AETH_OFF[op], ((j.syndrome << 24) | j.msn) >>> 0);
      const type = j.syndrome >> AETH_TYPE_SHIFT;
      if (type === AethType.ack) e.stats.acksSent++;
      else if (type === AethType.nak) e.stats.naksSent++;
      qp.responses.shift();
    } else if (j.kind === JobKind.atomic) {
      op = OP_ATOMIC_ACK;
      wr32(b, AETH_OFF[op], ((aethSyndrome(AethType.ack, ACK_CREDITS_INVALID) << 24) | j.msn) >>> 0);
      b.set(j.orig, ATOMIC_ACK_OFF[op]);
      len = ATOMIC_ACK_OFF[op] + 8;
      qp.responses.shift();
    } else {
      const off = psnDiff(psn, j.firstPsn) * qp.mtu;
      const rest = j.length - off;
      payload = rest > qp.mtu ? qp.mtu : rest;
      const first = psn === j.startPsn;
      const last = psn === j.lastPsn;
      op = first ? (last ? OP_READ_ONLY : OP_READ_FIRST) : last ? OP_READ_LAST : OP_READ_MIDDLE;
      const a = AETH_OFF[op];
      if (a >= 0) wr32(b, a, ((aethSyndrome(AethType.ack, ACK_CREDITS_INVALID) << 24) | j.msn) >>> 0);
      const po = OP_PAYLOAD_OFFSET[op];
      if (payload > 0 && !e.prot.readToPacket(j.range, off, payload, pkt, po)) {
        // the region's pages went away after the check: the read cannot be answered
        pkt.release();
        qp.responses.shift();
        this.qp = qp;
        this.psn = psn;
        this.recvStatus = 0;
        this.classError(NakCode.remoteOperationalError, WcStatus.localQpOpError);
        return null;
      }
      const pad = -payload & 3;
      for (let k = 0; k < pad; k++) b[po + payload + k] = 0;
      b[1] = pad << BTH_PAD_SHIFT;
      len = po + payload + pad;
      j.psn = psnAdd(psn, 1);
      if (last) qp.responses.shift();
      else if (j.dmaStartPs >= 0) this.nextReadPacketDue(j, off + payload, qp.mtu);
    }
    b[0] = op;
    if (j.kind !== JobKind.read) b[1] = 0;
    wr16(b, OFF.bthPkey, qp.pkey);
    b[4] = 0;
    wr24(b, OFF.bthDestQp, qp.remoteQpn);
    b[OFF.bthAckReq] = 0;
    wr24(b, OFF.bthPsn, psn);
    pkt.length = len;
    pkt.slid = e.lid;
    pkt.dlid = qp.dlid;
    pkt.sl = qp.sl;
    pkt.hasGrh = qp.hasGrh;
    if (qp.hasGrh) pkt.grh.set(qp.grh);
    return pkt;
  }
}

function copyRange(to: KeyCheck, from: KeyCheck): void {
  to.fault = from.fault;
  to.nseg = from.nseg;
  to.mttIdx0 = from.mttIdx0;
  to.off0 = from.off0;
  to.ps = from.ps;
}

function readU64(b: Uint8Array, o: number): bigint {
  return (BigInt(rd32(b, o)) << 32n) | BigInt(rd32(b, o + 4));
}
