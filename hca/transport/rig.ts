/**
 * Two hosts, each with host memory, a region table and a transport engine, back to back
 * over a BackToBackWire: the fixture of the transport's tests and benches, and a worked
 * example of wiring an engine (regions, CQ rings in host memory, QPs taken to RTS).
 */
import { HostMemory, Simulator } from "../../core/index.ts";
import { ACCESS_ALL, CQE_BYTES, CqeLayout } from "../formats/index.ts";
import { CompletionQueue, EQE_BYTES, EqeOwner, EventQueue } from "./cq.ts";
import { TransportEngine, type TransportConfig } from "./engine.ts";
import { RegionTable } from "./protection.ts";
import { QpState } from "./qp-state.ts";
import type { QpAttributes, QpType } from "./qp.ts";
import { BackToBackWire, type WireOptions } from "./wire.ts";
import { encodeWorkRequest, type WorkRequestInit } from "./work-request.ts";

/** a CQE as the driver decodes it */
export type Cqe = ReturnType<typeof CqeLayout.decode>;

// A poll decodes one CQE per completion: through a codec of every field (each a uint, so
// the record is all numbers, as CqeLayout.decode gives it) and a record literal generated
// from the layout's field list (as the codec itself is generated), rather than a
// field-by-field walk that builds the record one dynamic property at a time.
const CQE_FIELD_NAMES = CqeLayout.fields.map((f) => f.name as keyof Cqe);
const cqeCodec = CqeLayout.codec(CQE_FIELD_NAMES);
const cqeRecord = new Function(
  "v",
  `"use strict";\nreturn { ${CQE_FIELD_NAMES.map((n) => `${JSON.stringify(n)}: v[${cqeCodec.slot[n]}]`).join(", ")} };`,
) as (v: Uint32Array) => Cqe;

/** CqeLayout.decode(buf) of the CQE at offset 0 (the same record); `slots` is scratch space */
export function decodeCqe(buf: Uint8Array, slots: Uint32Array = new Uint32Array(cqeCodec.slots)): Cqe {
  cqeCodec.read(buf, 0, slots);
  return cqeRecord(slots);
}

export class HostNode {
  readonly memory = new HostMemory();
  readonly tables = new RegionTable();
  readonly engine: TransportEngine;
  readonly pd = 1;
  private nextCqn = 1;
  private nextQpn = 0x10;
  private readonly ci = new Map<number, number>();
  /** the CQE being polled (read once, decoded only when it is valid) */
  private readonly cqe = new Uint8Array(CQE_BYTES);
  private readonly cqeSlots = new Uint32Array(cqeCodec.slots);

  constructor(
    readonly sim: Simulator,
    readonly name: string,
    lid: number,
    config: Partial<Omit<TransportConfig, "sim" | "memory" | "tables">> = {},
  ) {
    this.engine = new TransportEngine({ ...config, sim, memory: this.memory, tables: this.tables, name, lid });
  }

  /** `bytes` of fresh host memory registered with `access`; returns its address and key */
  buffer(bytes: number, access: number = ACCESS_ALL, align = 4096): { addr: number; key: number } {
    const addr = this.memory.alloc(bytes, align);
    return { addr, key: this.tables.register(this.pd, addr, bytes, access).key };
  }

  /** an EQ ring (entries start hardware-owned) */
  eq(eqn: number, logSize = 6, onEvent?: (eqn: number, e: { type: number; cqn: number }) => void): EventQueue {
    const ring = this.memory.alloc(EQE_BYTES << logSize, 4096);
    this.memory.fill(ring, EQE_BYTES << logSize, EqeOwner.hardware);
    return this.engine.createEq({ eqn, ring, logSize, onEvent });
  }

  /** a CQ ring (owner 1 everywhere: nothing valid on lap 0) */
  cq(logSize = 10, eqn?: number): CompletionQueue {
    const ring = this.memory.alloc(CQE_BYTES << logSize, 4096);
    const init = new Uint8Array(CQE_BYTES << logSize);
    for (let i = 0; i < 2 ** logSize; i++) CqeLayout.set(init, i * CQE_BYTES, "owner", 1);
    this.memory.write(ring, init);
    return this.engine.createCq({ cqn: this.nextCqn++, ring, logSize, eqn });
  }

  /** a QP in RESET */
  qp(type: QpType, sendCq: CompletionQueue, recvCq = sendCq, logSize = 8): number {
    const qpn = this.nextQpn++;
    this.engine.createQp({ qpn, type, pd: this.pd, sendCqn: sendCq.cqn, recvCqn: recvCq.cqn, logSqSize: logSize, logRqSize: logSize });
    return qpn;
  }

  /** CQEs the hardware has written since the last poll, oldest first (as a driver polls) */
  poll(cq: CompletionQueue, max = Infinity): Cqe[] {
    const out: Cqe[] = [];
    let ci = this.ci.get(cq.cqn) ?? 0;
    while (out.length < max) {
      const at = Number(cq.ring) + (ci & cq.mask) * CQE_BYTES;
      this.memory.readInto(at, this.cqe, 0, CQE_BYTES);
      if (CqeLayout.get(this.cqe, 0, "owner") !== ((ci >>> cq.logSize) & 1)) break;
      out.push(decodeCqe(this.cqe, this.cqeSlots));
      ci++;
    }
    this.ci.set(cq.cqn, ci);
    this.engine.setCqConsumerIndex(cq.cqn, ci);
    return out;
  }

  postSend(qpn: number, wr: WorkRequestInit, ud?: Parameters<TransportEngine["postSend"]>[2]): void {
    this.engine.postSend(qpn, encodeWorkRequest(wr), ud);
  }

  postRecv(qpn: number, sgl: WorkRequestInit["sgl"]): void {
    this.engine.postRecv(qpn, encodeWorkRequest({ sgl }, 1));
  }
}

/** the attributes connectRc uses unless told otherwise */
export const RC_DEFAULTS: Omit<QpAttributes, "state"> = { mtu: 4096, timeout: 10, retryCount: 7, rnrRetry: 7, minRnrTimer: 1 };

/** takes RC QPs `qa` (on a) and `qb` (on b) through INIT and RTR to RTS, connected to each other */
export function connectRc(a: HostNode, qa: number, b: HostNode, qb: number, attrs: Partial<Omit<QpAttributes, "state">> = {}, psnA = 0x100, psnB = 0x200): void {
  for (const [n, q, peer, peerQ, sq, rq] of [[a, qa, b, qb, psnA, psnB], [b, qb, a, qa, psnB, psnA]] as const) {
    n.engine.modifyQp(q, { state: QpState.INIT });
    n.engine.modifyQp(q, { ...RC_DEFAULTS, ...attrs, state: QpState.RTR, remoteQpn: peerQ, rqPsn: rq, path: { dlid: peer.engine.lid } });
    n.engine.modifyQp(q, { state: QpState.RTS, sqPsn: sq });
  }
}

/** a UD QP to RTS with its Q_Key */
export function activateUd(n: HostNode, qpn: number, qkey: number, attrs: Partial<Omit<QpAttributes, "state">> = {}): void {
  n.engine.modifyQp(qpn, { state: QpState.INIT, qkey });
  n.engine.modifyQp(qpn, { mtu: 4096, ...attrs, state: QpState.RTR, rqPsn: 0 });
  n.engine.modifyQp(qpn, { state: QpState.RTS, sqPsn: 0 });
}

export interface BackToBack {
  readonly sim: Simulator;
  readonly a: HostNode;
  readonly b: HostNode;
  readonly wire: BackToBackWire;
}

type EngineOptions = Partial<Omit<TransportConfig, "sim" | "memory" | "tables">>;

/** two hosts over a wire (default 1 µs one way); `config` applies to both, `perHost` to one */
export function backToBack(wire: Partial<WireOptions> = {}, config: EngineOptions = {}, perHost: { a?: EngineOptions; b?: EngineOptions } = {}): BackToBack {
  const sim = new Simulator();
  const a = new HostNode(sim, "hostA", 1, { ...config, ...perHost.a });
  const b = new HostNode(sim, "hostB", 2, { ...config, ...perHost.b });
  return { sim, a, b, wire: new BackToBackWire(sim, a.engine, b.engine, { delayPs: 1_000_000, ...wire }) };
}
