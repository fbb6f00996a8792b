/**
 * One side of the testbench: a host (memory, region table, CQ rings — hca/transport's
 * HostNode) and its adapter (transport engine, front end, port on a link). The adapter's
 * PCIe figures serve both ends of its reads of host memory: the front end's (WQEs,
 * payloads) and the responder's (READ response data, atomics: the engine's responderDma).
 *
 * The host posts work requests through the front end (front-end.ts), which decides when
 * the engine takes each one. It learns of completions as a polling driver would: an EQ
 * callback says a CQE was written, and the host reads the ring `noticePs` later (the CQE's
 * PCIe write reaching memory); it learns of RDMA-written data the same way, watching the
 * last byte of a buffer (perftest's write_lat polls that byte).
 */
import type { Prng, Simulator } from "../../core/index.ts";
import { Access } from "../../hca/formats/index.ts";
import type { Gid, Mac } from "../../hca/link/index.ts";
import { type CompletionQueue, type Cqe, encodeWorkRequest, HostNode, QpState, type WorkRequestInit } from "../../hca/transport/index.ts";
import { FrontEnd, type AdapterTiming } from "./front-end.ts";
import { NicPort, type PerftestTransport } from "./port.ts";
import type { QpParams } from "./scenario.ts";

export interface NodeAddress {
  readonly name: string;
  readonly mac: Mac;
  readonly gid: Gid;
  readonly lid: number;
}

export interface PerftestNodeOptions {
  readonly address: NodeAddress;
  readonly peer: NodeAddress;
  readonly transport: PerftestTransport;
  readonly timing: AdapterTiming;
  readonly crcMode: "trusted" | "recompute";
  /** log2 of CQ entries */
  readonly logCqSize: number;
  /** the adapter's random stream (PCIe read latency jitter; the responder's reads draw from a fork of it) */
  readonly prng?: Prng;
}

/** QP numbers: side A's start here, side B's 0x100 above (so a trace tells them apart) */
const QPN_BASE = { a: 0x10, b: 0x110 } as const;

export class PerftestNode {
  readonly host: HostNode;
  readonly frontEnd: FrontEnd;
  readonly port: NicPort;
  readonly sendCq: CompletionQueue;
  readonly recvCq: CompletionQueue;
  /** time from a DMA write into host memory to the host seeing it [ps] */
  readonly noticePs: number;
  /** local QPN → remote QPN */
  readonly remoteOf = new Map<number, number>();
  private readonly localOf = new Map<number, number>();
  /** per QP: the time its last work request enters the engine (posts keep their order) [ps] */
  private readonly lastReadyPs = new Map<number, number>();
  private readonly cqHandlers = new Map<number, (cqes: Cqe[]) => void>();
  private readonly watches = new Map<bigint, () => void>();
  private watching = false;

  constructor(
    readonly sim: Simulator,
    readonly o: PerftestNodeOptions,
  ) {
    const t = o.timing;
    this.host = new HostNode(sim, o.address.name, o.address.lid, {
      gid: o.address.gid,
      clockMhz: t.clockMhz,
      datapathBytes: t.datapathBytes,
      pipelineCycles: t.pipelineCycles,
      // the front end models the payload read (payload_read stage)
      dmaReadLatencyNs: 0,
      // the responder's reads for READ responses and atomics, over the same PCIe
      responderDma: { ...t.pcie, prng: o.prng?.fork("responder_dma") },
    });
    this.frontEnd = new FrontEnd(t, o.prng);
    const p = t.pcie;
    this.noticePs = Math.round(p.linkLatencyNs * 1000 + ((32 + p.requestOverheadBytes) * 1e12) / p.bytesPerSecond);
    this.port = new NicPort({
      name: o.address.name,
      engine: this.host.engine,
      transport: o.transport,
      local: o.address,
      peer: o.peer,
      localQpnOf: (dest) => this.localOf.get(dest) ?? dest,
      fifoFrames: t.egressFifoFrames,
      crcMode: o.crcMode,
    });
    const eq = this.host.eq(1, 8, (_eqn, e) => this.onEvent(e.cqn));
    this.sendCq = this.host.cq(o.logCqSize, eq.eqn);
    this.recvCq = this.host.cq(o.logCqSize, eq.eqn);
    for (const cq of [this.sendCq, this.recvCq]) this.host.engine.armCq(cq.cqn);
  }

  get engine() {
    return this.host.engine;
  }

  get memory() {
    return this.host.memory;
  }

  /** `count` RC QPs of 2^logSize slots each, numbered from side's base */
  createQps(side: "a" | "b", count: number, logSize: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const qpn = QPN_BASE[side] + i;
      this.engine.createQp({ qpn, type: "RC", pd: this.host.pd, sendCqn: this.sendCq.cqn, recvCqn: this.recvCq.cqn, logSqSize: logSize, logRqSize: logSize });
      out.push(qpn);
    }
    return out;
  }

  /** takes `qpn` through INIT and RTR to RTS, connected to `remoteQpn` on the peer */
  connect(qpn: number, remoteQpn: number, q: QpParams, mtu: number, outstandingReads: number, sqPsn: number, rqPsn: number): void {
    const e = this.engine;
    const roce = this.o.transport !== "ib";
    e.modifyQp(qpn, { state: QpState.INIT, access: Access.remoteRead | Access.remoteWrite | Access.remoteAtomic });
    e.modifyQp(qpn, {
      state: QpState.RTR,
      remoteQpn,
      rqPsn,
      mtu,
      timeout: q.timeout,
      retryCount: q.retryCount,
      rnrRetry: q.rnrRetry,
      minRnrTimer: q.minRnrTimer,
      window: q.window,
      ackReqEvery: q.ackReqEvery,
      maxRdAtomic: outstandingReads,
      maxDestRdAtomic: outstandingReads,
      // RoCE always routes by GID (the GRH becomes the IP header); native IB stays in the subnet
      path: roce ? { dlid: 0, grh: { dgid: this.o.peer.gid } } : { dlid: this.o.peer.lid },
    });
    e.modifyQp(qpn, { state: QpState.RTS, sqPsn });
    this.remoteOf.set(qpn, remoteQpn);
    this.localOf.set(remoteQpn, qpn);
  }

  /** `bytes` of registered memory */
  buffer(bytes: number): { addr: number; key: number } {
    return this.host.buffer(bytes);
  }

  /**
   * Posts a send work request: the host's post starts when its CPU is free; the engine
   * takes it when the front end is through with it. Returns the post's start time [ps].
   */
  post(qpn: number, wr: WorkRequestInit, payloadBytes: number): number {
    const record = encodeWorkRequest(wr);
    const now = this.sim.now;
    const cpu = this.frontEnd.stage("host_post");
    const postedPs = now > cpu.freePs ? now : cpu.freePs;
    let ready = this.frontEnd.submit(now, { payloadBytes });
    const last = this.lastReadyPs.get(qpn) ?? 0;
    if (ready < last) ready = last;
    this.lastReadyPs.set(qpn, ready);
    this.sim.schedule(ready, () => this.engine.postSend(qpn, record));
    return postedPs;
  }

  /** posts a receive (no front end: a receive WQE is fetched when a SEND needs it) */
  postRecv(qpn: number, addr: number, length: number, lkey: number): void {
    this.host.postRecv(qpn, [{ addr: BigInt(addr), length, lkey }]);
  }

  /** `handler` gets the CQEs of `cq` each time the host notices new ones */
  onCompletions(cq: CompletionQueue, handler: (cqes: Cqe[]) => void): void {
    this.cqHandlers.set(cq.cqn, handler);
  }

  private onEvent(cqn: number): void {
    const cq = cqn === this.sendCq.cqn ? this.sendCq : this.recvCq;
    this.sim.schedule(this.sim.now + this.noticePs, () => {
      const cqes = this.host.poll(cq);
      this.engine.armCq(cq.cqn);
      if (cqes.length > 0) this.cqHandlers.get(cq.cqn)?.(cqes);
    });
  }

  /** `then` runs when the host sees a DMA write of byte `addr` (once per write; returns the remover) */
  watchByte(addr: number, then: () => void): () => void {
    const key = BigInt(addr);
    this.watches.set(key, then);
    if (!this.watching) {
      this.watching = true;
      const dma = this.engine.name;
      this.memory.onWrite((w) => {
        if (this.watches.size === 0 || w.initiator !== dma) return;
        for (const [a, fn] of this.watches) {
          if (a >= w.addr && a < w.addr + BigInt(w.len)) this.sim.schedule(this.sim.now + this.noticePs, fn);
        }
      });
    }
    return () => void this.watches.delete(key);
  }
}
