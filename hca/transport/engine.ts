/**
 * The transport of one adapter port: QPs, CQs and EQs, the requester, responder and
 * completer, one transmit datapath and one receive datapath, bound to the event kernel.
 *
 *   postSend ─▶ requester ─┐                           ┌─▶ responder ─▶ host memory, receive CQEs
 *                          ├─▶ transmit ══ link ══ receive ┤        └─▶ ACK/NAK, read responses ─┐
 *   responses ─────────────┘  (one packet at a time)     └─▶ completer ─▶ send CQEs, EQEs         │
 *        ▲─────────────────────────────────────────────────────────────────────────────────────┘
 *
 * Timing (cycle-approximate, DESIGN.md §2): the transmit datapath sends one packet at a
 * time, each occupying it ceil(bytes / datapathBytes) cycles; the receive datapath takes
 * packets in arrival order at the same width, and what a packet causes (an ACK, a read
 * response) may leave pipelineCycles after it was taken in. A work request's payload may
 * leave dmaReadLatencyNs after it was posted (the host read). A READ response or an atomic
 * ACK waits for the responder's read of host memory: `responderDma` models it over PCIe
 * (responder-dma.ts: a round trip, then tags or link rate); without it, a flat
 * dmaReadLatencyNs. Memory effects are applied when a packet is received. Nothing ticks:
 * the engine sleeps until a packet, a posted work request or a timer wakes it (one kernel
 * event per transmitted packet and per pending timer, none per cycle).
 *
 * Not modelled: PCIe contention between the requester's and the responder's reads
 * (core/dma.ts), UC and RD, APM, SQ drain events, end-to-end credits at the requester
 * (credits are sent, not obeyed).
 */
import type { HostMemory, Simulator } from "../../core/index.ts";
import { ClockDomain, Prng } from "../../core/index.ts";
import { CqArm, CqArmUpdate } from "../doorbell/index.ts";
import { BTH_BYTES, BthOpFlag } from "../headers/index.ts";
import { WcStatus } from "../formats/index.ts";
import { WrFlag } from "../wqe-fetch/index.ts";
import { ackTimeoutPs } from "./aeth.ts";
import { Completer } from "./completer.ts";
import { Completion, CompletionQueue, CompletionWriter, EventQueue, type CqConfig, type EqConfig } from "./cq.ts";
import { OFF } from "./eth.ts";
import { Fifo } from "./fifo.ts";
import { OP_FLAGS } from "./opcodes.ts";
import { MAX_PACKET_BYTES, MTU_BYTES, PacketPool, type TransmitFn, type TransportPacket } from "./packet.ts";
import { Protection, type TptTables } from "./protection.ts";
import { PSN_MASK } from "./psn.ts";
import { QP_STATE_BEHAVIOUR, QpState, qpStateName, qpTransition, type QpStateValue } from "./qp-state.ts";
import { JobKind, TransportQp, WqeStatus, type QpAttributes, type QpConfig, type RecvWqe, type SendWqe } from "./qp.ts";
import { Requester } from "./requester.ts";
import { Responder } from "./responder.ts";
import { pcieReadTimingProblems, ResponderDma, type ResponderDmaConfig } from "./responder-dma.ts";
import { grhFromAv, loadRecvSgl, type UdDestination } from "./work-request.ts";
import { AethType, AETH_TYPE_SHIFT } from "./aeth.ts";

/** a call the transport refuses (bad QP number, wrong state, full queue, bad attribute) */
export class TransportError extends Error {
  constructor(where: string, what: string) {
    super(`${where}: ${what}`);
    this.name = "TransportError";
  }
}

export interface TransportConfig {
  readonly sim: Simulator;
  readonly memory: HostMemory;
  /** the MPT and MTT (deviceBusTables(bus) for the firmware's, or a RegionTable) */
  readonly tables: TptTables;
  /** names the engine in traces and as the host-memory initiator; default "transport" */
  readonly name?: string;
  /** the port's LID (source LID of what it sends) */
  readonly lid?: number;
  /** the port's GID (source GID of a GRH it sends), 16 bytes */
  readonly gid?: Uint8Array;
  /** datapath clock [MHz]; default 250 */
  readonly clockMhz?: number;
  /** datapath width [bytes per cycle]; default 64 */
  readonly datapathBytes?: number;
  /** receive-to-response latency [cycles]; default 8 */
  readonly pipelineCycles?: number;
  /**
   * host read latency before a payload can leave [ns]: a work request's payload, and (without
   * `responderDma`) a READ response's or atomic ACK's data; default 500
   */
  readonly dmaReadLatencyNs?: number;
  /**
   * the responder's reads of host memory over PCIe (responder-dma.ts): a READ's response
   * packets leave as their bytes come back, an atomic ACK after a read round trip, a
   * duplicate atomic's saved result without a read. Replaces dmaReadLatencyNs for
   * responses. Default none: responses wait dmaReadLatencyNs.
   */
  readonly responderDma?: ResponderDmaConfig;
  /** one line per stage state step: "<name> <stage> qp 0x.. psn ..: STATE" */
  readonly trace?: (line: string) => void;
  /**
   * the stages take the common case (in order, RC SEND/WRITE, plain ACKs) by straight-line
   * code, with the same checks and the same outcome as their state machines; default true.
   * false runs every packet through the state machines (tracing does too).
   */
  readonly fastPath?: boolean;
}

/** counters; `drops` by reason */
export class TransportStats {
  packetsSent = 0;
  bytesSent = 0.5; // 0 from the constructor on (a double from the start: see HostMemory's)
  packetsReceived = 0;
  bytesReceived = 0.5;
  retransmissions = 0;
  timeouts = 0;
  naksSent = 0;
  rnrNaksSent = 0;
  acksSent = 0;
  readonly drops: Record<string, number> = {};
  constructor() {
    this.bytesSent = this.bytesReceived = 0;
  }
  drop(reason: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }
}

export class TransportEngine {
  readonly sim: Simulator;
  readonly name: string;
  readonly clock: ClockDomain;
  readonly memory: HostMemory;
  readonly prot: Protection;
  readonly pool = new PacketPool();
  readonly stats = new TransportStats();
  readonly lid: number;
  readonly gid: Uint8Array;
  readonly datapathBytes: number;
  readonly pipelinePs: number;
  readonly dmaReadLatencyPs: number;
  /** the responder's host reads over PCIe (TransportConfig.responderDma), or null */
  readonly responderDma: ResponderDma | null;
  readonly trace: ((line: string) => void) | null;
  /** TransportConfig.fastPath */
  readonly fastPath: boolean;
  /** datapathPs by packet length, up to the longest transport packet (a lookup per packet) */
  private readonly busyPsByLength: Float64Array;

  readonly qps = new Map<number, TransportQp>();
  readonly cqs = new Map<number, CompletionQueue>();
  readonly eqs = new Map<number, EventQueue>();
  readonly writer: CompletionWriter;
  readonly requester: Requester;
  readonly responder: Responder;
  readonly completer: Completer;

  private transmitFn: TransmitFn | null = null;
  /** transmit datapath free from [ps] */
  private txFreePs = 0;
  /** receive datapath free from [ps] */
  private rxFreePs = 0;
  /** the QP lookUpQp found last (−1: none) */
  private lastQpn = -1;
  private lastQp: TransportQp | undefined = undefined;
  /** when what the packet being received causes may leave [ps] */
  rxDonePs = 0;
  /** earliest pending transmit wake [ps] */
  private txWakePs = Infinity;
  /** QPs that may have something to send, served round robin */
  private readonly txQueue = new Fifo<TransportQp>();
  private readonly onTxWake = (): void => this.txWake();
  private readonly timerCallbacks = new Map<TransportQp, () => void>();
  private readonly completion = new Completion();

  constructor(c: TransportConfig) {
    this.sim = c.sim;
    this.name = c.name ?? "transport";
    this.memory = c.memory;
    this.clock = new ClockDomain(`${this.name}.clk`, c.clockMhz ?? 250);
    this.datapathBytes = c.datapathBytes ?? 64;
    if (!Number.isInteger(this.datapathBytes) || this.datapathBytes < 1) throw new TransportError(this.name, `datapathBytes must be a whole number ≥ 1, got ${c.datapathBytes}`);
    this.pipelinePs = this.clock.cyclesToPs(c.pipelineCycles ?? 8);
    this.busyPsByLength = Float64Array.from({ length: MAX_PACKET_BYTES + 1 }, (_, n) => this.clock.cyclesToPs(Math.ceil(n / this.datapathBytes)));
    this.dmaReadLatencyPs = Math.round((c.dmaReadLatencyNs ?? 500) * 1000);
    const rd = c.responderDma;
    if (rd !== undefined) {
      const problems = pcieReadTimingProblems(rd);
      if (problems.length > 0) throw new TransportError(this.name, `responderDma: ${problems.join("; ")}`);
    }
    this.responderDma = rd === undefined ? null : new ResponderDma(rd, rd.prng ?? new Prng(`${this.name}/responder_dma`));
    this.lid = c.lid ?? 0;
    this.gid = c.gid ?? new Uint8Array(16);
    if (this.gid.length !== 16) throw new TransportError(this.name, `a GID is 16 bytes, got ${this.gid.length}`);
    this.trace = c.trace ?? null;
    this.fastPath = c.fastPath ?? true;
    this.prot = new Protection(c.tables, c.memory, this.name);
    this.writer = new CompletionWriter(c.memory, this.name, this.eqs);
    this.requester = new Requester(this);
    this.responder = new Responder(this);
    this.completer = new Completer(this);
  }

  /** how long a packet of `bytes` occupies a datapath: ceil(bytes / datapathBytes) cycles [ps] */
  datapathPs(bytes: number): number {
    const t = this.busyPsByLength;
    return bytes < t.length ? t[bytes] : this.longDatapathPs(bytes);
  }

  private longDatapathPs(bytes: number): number {
    return this.clock.cyclesToPs(Math.ceil(bytes / this.datapathBytes));
  }

  /** where transmitted packets go (the link, or a test wire) */
  connect(transmit: TransmitFn): void {
    this.transmitFn = transmit;
  }

  // ---- CQs and EQs ------------------------------------------------------------------------

  createEq(c: EqConfig): EventQueue {
    if (this.eqs.has(c.eqn)) throw new TransportError(this.name, `EQ 0x${c.eqn.toString(16)} exists`);
    const eq = new EventQueue(c);
    this.eqs.set(c.eqn, eq);
    return eq;
  }

  createCq(c: CqConfig): CompletionQueue {
    if (this.cqs.has(c.cqn)) throw new TransportError(this.name, `CQ 0x${c.cqn.toString(16)} exists`);
    const cq = new CompletionQueue(c);
    this.cqs.set(c.cqn, cq);
    return cq;
  }

  /** arms a CQ: one event at its next completion, or its next solicited (or error) one */
  armCq(cqn: number, solicitedOnly = false): void {
    const cq = this.cqOf(cqn, "armCq");
    const want = solicitedOnly ? CqArm.solicited : CqArm.next;
    if (want > cq.arm) cq.arm = want;
  }

  /** the consumer index the driver reported (SET_CI) */
  setCqConsumerIndex(cqn: number, ci: number): void {
    this.cqOf(cqn, "setCqConsumerIndex").ci = ci;
  }

  /** a doorbell block m_cq_arm record: consumer index and arm request of one CQ */
  applyCqArmUpdate(record: Uint8Array): void {
    const r = CqArmUpdate.decode(record);
    const cq = this.cqs.get(r.cqn);
    if (cq === undefined) return;
    // the record carries 24 bits of the consumer index: extend it next to the producer index
    cq.ci = cq.pi - ((cq.pi - r.ci) & 0xff_ffff);
    if (r.arm > cq.arm) cq.arm = r.arm;
  }

  private cqOf(cqn: number, where: string): CompletionQueue {
    const cq = this.cqs.get(cqn);
    if (cq === undefined) throw new TransportError(`${this.name} ${where}`, `no CQ 0x${cqn.toString(16)}`);
    return cq;
  }

  // ---- QPs --------------------------------------------------------------------------------

  createQp(c: QpConfig): TransportQp {
    const where = `${this.name} createQp`;
    if (!Number.isInteger(c.qpn) || c.qpn < 0 || c.qpn > 0xff_fffe) throw new TransportError(where, `QPN ${c.qpn} is not in 0..0xfffffe`);
    if (this.qps.has(c.qpn)) throw new TransportError(where, `QP 0x${c.qpn.toString(16)} exists`);
    if (c.type !== "RC" && c.type !== "UD") throw new TransportError(where, `QP type ${String(c.type)} is not modelled (RC and UD are)`);
    this.cqOf(c.sendCqn, "createQp");
    this.cqOf(c.recvCqn, "createQp");
    for (const [k, v] of [["logSqSize", c.logSqSize], ["logRqSize", c.logRqSize]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 15)) throw new TransportError(where, `${k} ${v} is not in 0..15`);
    }
    const qp = new TransportQp(c);
    qp.access = 0xe; // remote read, write, atomic
    qp.resizeResources();
    this.qps.set(c.qpn, qp);
    this.timerCallbacks.set(qp, () => this.onTimer(qp));
    return qp;
  }

  qp(qpn: number, where = "qp"): TransportQp {
    const qp = this.qps.get(qpn);
    if (qp === undefined) throw new TransportError(`${this.name} ${where}`, `no QP 0x${qpn.toString(16)}`);
    return qp;
  }

  destroyQp(qpn: number): void {
    const qp = this.qp(qpn, "destroyQp");
    if (qpn === this.lastQpn) this.lastQpn = -1;
    qp.reset();
    qp.state = QpState.RESET;
    this.qps.delete(qpn);
    this.timerCallbacks.delete(qp);
  }

  /** modify QP: a transition of the QP_TRANSITIONS table with its attributes */
  modifyQp(qpn: number, a: QpAttributes): void {
    const qp = this.qp(qpn, "modifyQp");
    const where = `${this.name} modifyQp 0x${qpn.toString(16)}`;
    const t = qpTransition(qp.state, a.state);
    if (t === undefined) throw new TransportError(where, `no transition ${qpStateName(qp.state)} → ${qpStateName(a.state)}`);
    const range = (k: string, v: number | undefined, lo: number, hi: number): void => {
      if (v !== undefined && !(Number.isInteger(v) && v >= lo && v <= hi)) throw new TransportError(where, `${k} ${v} is not in ${lo}..${hi}`);
    };
    range("remoteQpn", a.remoteQpn, 0, 0xff_ffff);
    range("rqPsn", a.rqPsn, 0, PSN_MASK);
    range("sqPsn", a.sqPsn, 0, PSN_MASK);
    range("pkey", a.pkey, 0, 0xffff);
    range("qkey", a.qkey, 0, 0xffff_ffff);
    range("timeout", a.timeout, 0, 31);
    range("retryCount", a.retryCount, 0, 7);
    range("rnrRetry", a.rnrRetry, 0, 7);
    range("minRnrTimer", a.minRnrTimer, 0, 31);
    range("maxRdAtomic", a.maxRdAtomic, 1, 255);
    range("maxDestRdAtomic", a.maxDestRdAtomic, 1, 255);
    range("access", a.access, 0, 0xf);
    range("window", a.window, 1, 0x7f_ffff);
    range("ackReqEvery", a.ackReqEvery, 1, 0x7f_ffff);
    if (a.mtu !== undefined && !Object.values(MTU_BYTES).includes(a.mtu)) throw new TransportError(where, `mtu ${a.mtu} is not one of 256, 512, 1024, 2048, 4096`);
    for (const [k, v] of Object.entries(a)) if (v !== undefined && k !== "state") qp.given.add(k);
    const missing = [...t.needs, ...(qp.isRc ? (t.rcNeeds ?? []) : [])].filter((k) => !qp.given.has(k));
    if (missing.length > 0) throw new TransportError(where, `${qpStateName(qp.state)} → ${qpStateName(a.state)} needs ${missing.join(", ")}`);

    if (a.remoteQpn !== undefined) qp.remoteQpn = a.remoteQpn;
    if (a.mtu !== undefined) {
      qp.mtu = a.mtu;
      qp.mtuShift = Math.log2(a.mtu);
    }
    if (a.pkey !== undefined) qp.pkey = a.pkey;
    if (a.qkey !== undefined) qp.qkey = a.qkey >>> 0;
    if (a.timeout !== undefined) {
      qp.timeout = a.timeout;
      qp.timeoutPs = ackTimeoutPs(a.timeout);
    }
    if (a.retryCount !== undefined) qp.retryCount = qp.retryLeft = a.retryCount;
    if (a.rnrRetry !== undefined) qp.rnrRetry = qp.rnrRetryLeft = a.rnrRetry;
    if (a.minRnrTimer !== undefined) qp.minRnrTimer = a.minRnrTimer;
    if (a.maxRdAtomic !== undefined) qp.maxRdAtomic = a.maxRdAtomic;
    if (a.maxDestRdAtomic !== undefined) {
      qp.maxDestRdAtomic = a.maxDestRdAtomic;
      qp.resizeResources();
    }
    if (a.access !== undefined) qp.access = a.access;
    if (a.window !== undefined) qp.window = a.window;
    if (a.ackReqEvery !== undefined) qp.ackReqEvery = a.ackReqEvery;
    if (a.path !== undefined) {
      qp.dlid = a.path.dlid;
      qp.sl = a.path.sl ?? 0;
      qp.hasGrh = a.path.grh !== undefined;
      if (qp.hasGrh) grhFromAv(a.path, this.gid, qp.grh);
    }
    if (a.rqPsn !== undefined) qp.epsn = a.rqPsn;
    if (a.sqPsn !== undefined) qp.reqPsn = qp.sentPsn = qp.compPsn = a.sqPsn;

    const from = qp.state;
    if (a.state === QpState.RESET) qp.reset();
    qp.state = a.state;
    if (a.state === QpState.ERR && from !== QpState.ERR) this.flushQp(qp);
    if (a.state === QpState.RTS) this.kick(qp);
  }

  // ---- posting ----------------------------------------------------------------------------

  /** queues a send work request (a wqe_fetch WorkRequest record); UD sends name their destination */
  postSend(qpn: number, record: Uint8Array, ud?: UdDestination): void {
    const qp = this.lookUpQp(qpn) ?? this.qp(qpn, "postSend");
    const b = QP_STATE_BEHAVIOUR[qp.state];
    if (!b.postSend) throw new TransportError(this.where("postSend", qpn), `the QP is in ${qpStateName(qp.state)}`);
    if (qp.sqPi - qp.compIdx > qp.sqMask) throw new TransportError(this.where("postSend", qpn), `send queue full (${qp.sq.length} outstanding)`);
    if (!qp.isRc && ud === undefined) throw new TransportError(this.where("postSend", qpn), "a UD send needs its destination (remote QPN, Q_Key, address vector)");
    const w = qp.wqe(qp.sqPi);
    w.load(record);
    w.index = qp.sqPi;
    w.status = WqeStatus.posted;
    w.prepared = false;
    w.counted = false;
    qp.sqReadyPs[qp.sqPi & qp.sqMask] = this.sim.now + this.pipelinePs + (w.inlineLen === 0 && w.length > 0 ? this.dmaReadLatencyPs : 0);
    if (ud !== undefined) {
      w.remoteQpn = ud.remoteQpn;
      // privileged Q_Key rule (IBTA §10.2.5): a Q_Key with its MSB set means "use the QP's"
      w.qkey = ud.qkey >= 0x8000_0000 ? qp.qkey : ud.qkey;
      w.dlid = ud.av.dlid;
      w.sl = ud.av.sl ?? 0;
      w.hasGrh = ud.av.grh !== undefined;
      if (w.hasGrh) grhFromAv(ud.av, this.gid, w.grh);
    }
    qp.sqPi++;
    if (b.flushSend) this.flushSend(qp);
    else this.kick(qp);
  }

  /** queues a receive work request (a WorkRequest record with its SGE list) */
  postRecv(qpn: number, record: Uint8Array): void {
    const qp = this.qp(qpn, "postRecv");
    const b = QP_STATE_BEHAVIOUR[qp.state];
    if (!b.postRecv) throw new TransportError(this.where("postRecv", qpn), `the QP is in ${qpStateName(qp.state)}`);
    if (qp.rqPi - qp.rqCi > qp.rqMask) throw new TransportError(this.where("postRecv", qpn), `receive queue full (${qp.rq.length} outstanding)`);
    const r = qp.rq[qp.rqPi & qp.rqMask];
    loadRecvSgl(r.sgl, record);
    r.index = qp.rqPi;
    qp.rqPi++;
    if (b.flushRecv) this.flushRecv(qp);
  }

  /** names a call on a QP in an error message (built only when one is thrown: posting runs per work request) */
  private where(call: string, qpn: number): string {
    return `${this.name} ${call} 0x${qpn.toString(16)}`;
  }

  // ---- receive ----------------------------------------------------------------------------

  /** a packet from the link; the engine owns it and releases it */
  receive(pkt: TransportPacket): void {
    const st = this.stats;
    const len = pkt.length;
    st.packetsReceived++;
    st.bytesReceived += len;
    const now = this.sim.now;
    const start = now > this.rxFreePs ? now : this.rxFreePs;
    const busy = this.datapathPs(len);
    this.rxFreePs = start + busy;
    this.rxDonePs = start + busy + this.pipelinePs;
    const flags = len < BTH_BYTES ? 0 : OP_FLAGS[pkt.store[0]];
    const qp = flags === 0 ? undefined : this.lookUpQp(pkt.dv.getUint32(OFF.bthDestQp - 1) & 0xff_ffff);
    if (qp === undefined) this.dropReceived(len, flags);
    else if (flags & BthOpFlag.response) this.completer.receive(qp, pkt);
    else this.responder.receive(qp, pkt);
    pkt.release();
  }

  /** qps.get(qpn), remembering the QP found: packets and work requests come for the same one in runs */
  private lookUpQp(qpn: number): TransportQp | undefined {
    if (qpn === this.lastQpn) return this.lastQp;
    const qp = this.qps.get(qpn);
    if (qp !== undefined) {
      this.lastQpn = qpn;
      this.lastQp = qp;
    }
    return qp;
  }

  /** counts a received packet no stage takes: too short, an unknown opcode or QP */
  private dropReceived(len: number, flags: number): void {
    this.stats.drop(len < BTH_BYTES ? "short_packet" : flags === 0 ? "unknown_opcode" : "unknown_qp");
  }

  // ---- transmit ---------------------------------------------------------------------------

  /** the QP may have something to send (from `atPs` on, default now) */
  kick(qp: TransportQp, atPs = this.sim.now): void {
    if (!qp.inTxQueue) {
      qp.inTxQueue = true;
      this.txQueue.push(qp);
    }
    this.wakeTx(atPs > this.txFreePs ? atPs : this.txFreePs);
  }

  private wakeTx(t: number): void {
    if (t < this.txWakePs) {
      this.txWakePs = t;
      this.sim.post(t, this.onTxWake);
    }
  }

  private txWake(): void {
    const now = this.sim.now;
    if (now === this.txWakePs) this.txWakePs = Infinity;
    if (now < this.txFreePs) {
      this.wakeTx(this.txFreePs);
      return;
    }
    let earliest = Infinity;
    const q = this.txQueue;
    const n = q.length;
    for (let i = 0; i < n; i++) {
      const qp = q.shift()!;
      const pkt = this.nextPacket(qp);
      if (pkt !== null) {
        // stay in the queue while there may be more (a wake that finds nothing costs an event)
        if (qp.responses.length > 0 || qp.reqIdx < qp.sqPi) q.push(qp);
        else qp.inTxQueue = false;
        this.send(pkt);
        if (q.length > 0) this.wakeTx(this.txFreePs);
        return;
      }
      if (qp.eligiblePs !== Infinity) {
        q.push(qp);
        if (qp.eligiblePs < earliest) earliest = qp.eligiblePs;
      } else {
        qp.inTxQueue = false;
      }
    }
    if (earliest !== Infinity) this.wakeTx(earliest);
  }

  /** the next packet of `qp` now: a response owed, else a request (stages read the time themselves: see README) */
  private nextPacket(qp: TransportQp): TransportPacket | null {
    qp.eligiblePs = Infinity;
    if (qp.responses.length > 0) {
      const p = this.responder.nextPacket(qp);
      if (p !== null) return p;
    }
    return this.requester.nextPacket(qp);
  }

  private send(pkt: TransportPacket): void {
    this.stats.packetsSent++;
    this.stats.bytesSent += pkt.length;
    this.txFreePs = this.sim.now + this.datapathPs(pkt.length);
    if (this.transmitFn === null) {
      pkt.release();
      this.stats.drop("not_connected");
    } else {
      // back-pressure: the link may say its egress FIFO takes nothing more until later
      const readyPs = this.transmitFn(pkt);
      if (typeof readyPs === "number" && readyPs > this.txFreePs) this.txFreePs = readyPs;
    }
  }

  // ---- the local ACK timer ----------------------------------------------------------------

  /** starts the timer if it is not running */
  armTimer(qp: TransportQp): void {
    if (qp.timerDeadlinePs === Infinity && qp.timeout !== 0) {
      qp.timerDeadlinePs = this.sim.now + qp.timeoutPs;
      this.ensureTimerEvent(qp);
    }
  }

  /** restarts the timer after progress, or stops it when nothing is outstanding */
  restartTimer(qp: TransportQp): void {
    qp.timerDeadlinePs = qp.compIdx === qp.sentIdx ? Infinity : this.sim.now + qp.timeoutPs;
    this.ensureTimerEvent(qp);
  }

  stopTimer(qp: TransportQp): void {
    qp.timerDeadlinePs = Infinity;
  }

  private ensureTimerEvent(qp: TransportQp): void {
    const d = qp.timerDeadlinePs;
    if (d === Infinity || (qp.timerEventPs !== -1 && qp.timerEventPs <= d)) return;
    qp.timerEventPs = d;
    this.sim.post(d, this.timerCallbacks.get(qp)!);
  }

  private onTimer(qp: TransportQp): void {
    const now = this.sim.now;
    if (now !== qp.timerEventPs) return; // superseded by an earlier event
    qp.timerEventPs = -1;
    if (qp.timerDeadlinePs === Infinity) return;
    if (qp.timerDeadlinePs > now) {
      this.ensureTimerEvent(qp);
      return;
    }
    qp.timerDeadlinePs = Infinity;
    this.stats.timeouts++;
    this.completer.timeout(qp);
  }

  // ---- completions, errors, flush ---------------------------------------------------------

  /** the send completion of `w` (a CQE if it is signalled or failed) */
  completeSend(qp: TransportQp, w: SendWqe, status: number, byteCount: number): void {
    w.status = WqeStatus.done;
    if (status !== WcStatus.success || (w.flags & WrFlag.signalled) !== 0) this.writeSendCqe(qp, w, status, byteCount);
  }

  private writeSendCqe(qp: TransportQp, w: SendWqe, status: number, byteCount: number): void {
    const c = this.completion;
    c.qpn = qp.qpn;
    c.isSend = true;
    c.opcode = w.opcode;
    c.wqeIndex = w.index;
    c.byteCount = byteCount;
    c.status = status;
    c.imm = 0;
    c.rqpn = c.rlid = c.sl = 0;
    c.grh = false;
    c.solicited = false;
    this.writer.write(this.cqs.get(qp.sendCqn)!, c);
  }

  /** a receive completion; `c` is the stage's own Completion, filled but for qpn/isSend/wqeIndex */
  completeRecv(qp: TransportQp, r: RecvWqe, c: Completion): void {
    c.qpn = qp.qpn;
    c.isSend = false;
    c.wqeIndex = r.index;
    this.writer.write(this.cqs.get(qp.recvCqn)!, c);
  }

  /** takes the QP to the error state (RC) or the send-queue error state (UD send errors) and flushes */
  toError(qp: TransportQp, state: QpStateValue = QpState.ERR): void {
    if (qp.state === QpState.ERR || qp.state === state) return;
    qp.state = state;
    if (state === QpState.ERR) this.flushQp(qp);
    else this.flushSend(qp);
  }

  private flushQp(qp: TransportQp): void {
    this.stopTimer(qp);
    // responses owed are dropped, except NAKs already decided: the peer must learn of the error
    qp.responses.filter((j) => j.kind === JobKind.ack && j.syndrome >> AETH_TYPE_SHIFT === AethType.nak);
    this.flushSend(qp);
    this.flushRecv(qp);
  }

  /** every send WQE not yet completed completes with a flush error */
  flushSend(qp: TransportQp): void {
    while (qp.compIdx < qp.sqPi) {
      const w = qp.wqe(qp.compIdx);
      if (w.status === WqeStatus.posted) this.completeSend(qp, w, WcStatus.wrFlushError, 0);
      qp.compIdx++;
    }
    qp.reqIdx = qp.sentIdx = qp.compIdx;
    qp.reqOffset = 0;
    qp.rdAtomicOut = 0;
  }

  /** every receive WQE (and the one a message was filling) completes with a flush error */
  flushRecv(qp: TransportQp): void {
    const c = this.completion;
    const flush = (r: RecvWqe): void => {
      c.opcode = 0;
      c.byteCount = 0;
      c.status = WcStatus.wrFlushError;
      c.imm = c.rqpn = c.rlid = c.sl = 0;
      c.grh = false;
      c.solicited = false;
      this.completeRecv(qp, r, c);
    };
    if (qp.rqCur !== null) {
      flush(qp.rqCur);
      qp.rqCur = null;
    }
    while (qp.rqCi < qp.rqPi) flush(qp.rq[qp.rqCi++ & qp.rqMask]);
  }

  /** a trace line, if tracing */
  traceStep(stage: string, qp: TransportQp, psn: number, state: string): void {
    this.trace?.(`${this.name} ${stage} qp 0x${qp.qpn.toString(16)} psn ${psn}: ${state}`);
  }
}
