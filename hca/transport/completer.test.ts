/**
 * Completer paths: engine A's requester sends, the test plays the responder with crafted
 * responses (packet-builder.ts), and reads A's CQEs from host memory. Each test fails if
 * its path is taken out.
 */
import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/index.ts";
import { Access, CQE_SYNDROMES, WcStatus } from "../formats/index.ts";
import {
  ackTimeoutPs, aethSyndrome, AethType, buildPacket, COMP_STATE_NAMES, decodePacket, EqeLayout, EqeOwner, EventType, HostNode, NakCode, QpState,
  RNR_TIMER_US, TransportWqeOpcode as Op, type DecodedPacket, type PacketFields, type WorkRequestInit,
} from "./index.ts";

const PEER = 0x77;
const SQ_PSN = 1000;
const MTU = 256;
const TIMEOUT = 5; // 131 µs

function rig(o: { retryCount?: number; rnrRetry?: number; maxRdAtomic?: number } = {}) {
  const sim = new Simulator();
  const trace: string[] = [];
  const node = new HostNode(sim, "req", 1, { trace: (l) => trace.push(l), dmaReadLatencyNs: 0 });
  const events: { eqn: number; cqn: number }[] = [];
  node.eq(3, 4, (eqn, e) => events.push({ eqn, cqn: e.cqn }));
  const cq = node.cq(6, 3);
  const qpn = node.qp("RC", cq);
  const e = node.engine;
  e.modifyQp(qpn, { state: QpState.INIT });
  e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: PEER, rqPsn: 0, mtu: MTU, path: { dlid: 2 } });
  e.modifyQp(qpn, {
    state: QpState.RTS, sqPsn: SQ_PSN, timeout: TIMEOUT, retryCount: o.retryCount ?? 3, rnrRetry: o.rnrRetry ?? 2, maxRdAtomic: o.maxRdAtomic ?? 4,
  });
  const sent: DecodedPacket[] = [];
  e.connect((p) => {
    sent.push(decodePacket(p));
    p.release();
  });
  const buf = node.buffer(1 << 16, Access.localWrite);
  const post = (wr: WorkRequestInit) => node.postSend(qpn, { signalled: true, ...wr });
  const sgl = (off: number, length: number) => [{ addr: BigInt(buf.addr + off), length, lkey: buf.key }];
  /** a response arrives now; then the model runs for 1 µs */
  const respond = (f: Omit<PacketFields, "destQp">) => {
    e.receive(buildPacket({ destQp: qpn, slid: 2, ...f }));
    sim.runFor(1_000_000);
  };
  const ack = (psn: number, msn = 1) => respond({ opcode: "RC_ACKNOWLEDGE", psn, aeth: { syndrome: aethSyndrome(AethType.ack, 31), msn } });
  const nak = (psn: number, code: number) => respond({ opcode: "RC_ACKNOWLEDGE", psn, aeth: { syndrome: aethSyndrome(AethType.nak, code), msn: 0 } });
  const cqes = () => node.poll(cq);
  const psns = () => sent.map((p) => p.bth.psn);
  return { sim, node, e, cq, qpn, qp: e.qp(qpn), sent, post, sgl, buf, respond, ack, nak, cqes, psns, events, trace };
}

const raddr = 0x5000_0000n;
const write = (r: ReturnType<typeof rig>, len = 100, signalled = true): WorkRequestInit => ({ opcode: Op.RDMA_WRITE, raddr, rkey: 0x42, sgl: r.sgl(0, len), signalled });

describe("completer: acknowledgements", () => {
  it("completes a WRITE when its ACK arrives: a CQE with its opcode, index and length", () => {
    const r = rig();
    r.post(write(r));
    r.sim.runFor(1_000_000);
    expect(r.sent.map((p) => [p.opcode, p.bth.psn, p.bth.ackReq])).toEqual([["RC_RDMA_WRITE_ONLY", SQ_PSN, 1]]);
    expect(r.cqes()).toEqual([]);
    r.ack(SQ_PSN);
    expect(r.cqes()).toMatchObject([{ isSend: 1, opcode: Op.RDMA_WRITE, wqeIndex: 0, byteCount: 100, status: 0, qpn: r.qpn }]);
  });

  it("completes every WQE up to a coalesced ACK's PSN, in order; unsignalled ones without a CQE", () => {
    const r = rig();
    r.post(write(r));
    r.post(write(r, 100, false));
    r.post(write(r));
    r.sim.runFor(1_000_000);
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN + 1, SQ_PSN + 2]);
    r.ack(SQ_PSN + 2, 3);
    expect(r.cqes().map((c) => c.wqeIndex)).toEqual([0, 2]);
    expect(r.qp.compIdx).toBe(3);
  });

  it("ignores an ACK older than what it already completed", () => {
    const r = rig();
    r.post(write(r));
    r.post(write(r));
    r.sim.runFor(1_000_000);
    r.ack(SQ_PSN + 1);
    r.ack(SQ_PSN);
    expect(r.cqes()).toHaveLength(2);
    expect(r.e.stats.drops.duplicate_response).toBe(1);
  });
});

describe("completer: read and atomic responses", () => {
  it("places read response payloads at (PSN − first) × MTU and completes on the last", () => {
    const r = rig();
    r.post({ opcode: Op.RDMA_READ, raddr, rkey: 0x42, sgl: r.sgl(8, 600) });
    r.sim.runFor(1_000_000);
    expect(r.sent.map((p) => [p.opcode, p.bth.psn, p.reth!.dmaLen])).toEqual([["RC_RDMA_READ_REQUEST", SQ_PSN, 600]]);
    const data = Uint8Array.from({ length: 600 }, (_, i) => (i * 13) & 0xff);
    const aeth = { syndrome: aethSyndrome(AethType.ack, 31), msn: 1 };
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_FIRST", psn: SQ_PSN, aeth, payload: data.subarray(0, 256) });
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_MIDDLE", psn: SQ_PSN + 1, payload: data.subarray(256, 512) });
    expect(r.cqes()).toEqual([]);
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_LAST", psn: SQ_PSN + 2, aeth, payload: data.subarray(512) });
    expect(r.node.memory.read(r.buf.addr + 8, 600)).toEqual(data);
    expect(r.cqes()).toMatchObject([{ opcode: Op.RDMA_READ, byteCount: 600, status: 0 }]);
  });

  it("asks again for the rest of a read when a response packet is missing", () => {
    const r = rig();
    r.post({ opcode: Op.RDMA_READ, raddr, rkey: 0x42, sgl: r.sgl(0, 600) });
    r.sim.runFor(1_000_000);
    const aeth = { syndrome: aethSyndrome(AethType.ack, 31), msn: 1 };
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_FIRST", psn: SQ_PSN, aeth, payload: new Uint8Array(256) });
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_LAST", psn: SQ_PSN + 2, aeth, payload: new Uint8Array(88) });
    const again = r.sent.at(-1)!;
    expect([again.opcode, again.bth.psn, again.reth!.va, again.reth!.dmaLen]).toEqual(["RC_RDMA_READ_REQUEST", SQ_PSN + 1, raddr + 256n, 344]);
    expect(r.cqes()).toEqual([]);
  });

  it("spends one retry on a gap, however many later responses of it arrive", () => {
    const r = rig({ retryCount: 2 });
    r.post({ opcode: Op.RDMA_READ, raddr, rkey: 0x42, sgl: r.sgl(0, 5 * MTU) });
    r.sim.runFor(1_000_000);
    const aeth = { syndrome: aethSyndrome(AethType.ack, 31), msn: 1 };
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_FIRST", psn: SQ_PSN, aeth, payload: new Uint8Array(MTU) });
    for (let k = 2; k < 4; k++) r.respond({ opcode: "RC_RDMA_READ_RESPONSE_MIDDLE", psn: SQ_PSN + k, payload: new Uint8Array(MTU) });
    r.respond({ opcode: "RC_RDMA_READ_RESPONSE_LAST", psn: SQ_PSN + 4, aeth, payload: new Uint8Array(MTU) });
    expect(r.sent.map((p) => p.bth.psn)).toEqual([SQ_PSN, SQ_PSN + 1]);
    expect(r.qp.retryLeft).toBe(1);
    expect(r.e.stats.drops.retry_under_way).toBe(2);
    expect(r.qp.state).toBe(QpState.RTS);
  });

  it("writes an atomic ACK's original data into the local SGE, little-endian", () => {
    const r = rig();
    r.post({ opcode: Op.ATOMIC_FA, raddr, rkey: 0x42, swapAdd: 1n, sgl: r.sgl(16, 8) });
    r.sim.runFor(1_000_000);
    expect(r.sent[0].atomic).toMatchObject({ va: raddr, rkey: 0x42, swapAdd: 1n });
    r.respond({ opcode: "RC_ATOMIC_ACKNOWLEDGE", psn: SQ_PSN, aeth: { syndrome: 0, msn: 1 }, atomicAck: 0x0102_0304_0506_0708n });
    expect(r.node.memory.readU64Le(r.buf.addr + 16)).toBe(0x0102_0304_0506_0708n);
    expect(r.cqes()).toMatchObject([{ opcode: Op.ATOMIC_FA, byteCount: 8, status: 0 }]);
  });

  it("treats an ACK past a read that has no data yet as a lost response and reads again", () => {
    const r = rig();
    r.post({ opcode: Op.RDMA_READ, raddr, rkey: 0x42, sgl: r.sgl(0, 100) });
    r.post(write(r));
    r.sim.runFor(1_000_000);
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN + 1]);
    r.ack(SQ_PSN + 1);
    expect(r.sent.slice(2).map((p) => [p.opcode, p.bth.psn])).toEqual([["RC_RDMA_READ_REQUEST", SQ_PSN], ["RC_RDMA_WRITE_ONLY", SQ_PSN + 1]]);
    expect(r.cqes()).toEqual([]);
  });

  it("treats an ACK at a read's own PSN (a duplicate's re-ACK) as a lost response and reads again", () => {
    const r = rig();
    r.post({ opcode: Op.RDMA_READ, raddr, rkey: 0x42, sgl: r.sgl(0, 100) });
    r.sim.runFor(1_000_000);
    r.ack(SQ_PSN);
    expect(r.sent.map((p) => [p.opcode, p.bth.psn])).toEqual([["RC_RDMA_READ_REQUEST", SQ_PSN], ["RC_RDMA_READ_REQUEST", SQ_PSN]]);
    expect(r.cqes()).toEqual([]);
  });

  it("keeps at most maxRdAtomic reads and atomics in flight", () => {
    const r = rig({ maxRdAtomic: 2 });
    for (let i = 0; i < 3; i++) r.post({ opcode: Op.ATOMIC_FA, raddr, rkey: 0x42, swapAdd: 1n, sgl: r.sgl(8 * i, 8) });
    r.sim.runFor(1_000_000);
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN + 1]);
    r.respond({ opcode: "RC_ATOMIC_ACKNOWLEDGE", psn: SQ_PSN, aeth: { syndrome: 0, msn: 1 }, atomicAck: 0n });
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN + 1, SQ_PSN + 2]);
  });
});

describe("completer: NAKs", () => {
  it("goes back to a PSN sequence NAK's PSN, counting everything before it as acknowledged", () => {
    const r = rig();
    for (let i = 0; i < 3; i++) r.post(write(r));
    r.sim.runFor(1_000_000);
    r.nak(SQ_PSN + 1, NakCode.psnSequenceError);
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN + 1, SQ_PSN + 2, SQ_PSN + 1, SQ_PSN + 2]);
    expect(r.cqes().map((c) => [c.wqeIndex, c.status])).toEqual([[0, 0]]);
    expect(r.e.stats.retransmissions).toBe(2);
  });

  const fatal: [string, number, number][] = [
    ["invalid request", NakCode.invalidRequest, WcStatus.remoteInvalidRequestError],
    ["remote access error", NakCode.remoteAccessError, WcStatus.remoteAccessError],
    ["remote operational error", NakCode.remoteOperationalError, WcStatus.remoteOperationError],
  ];
  for (const [what, code, status] of fatal) {
    it(`completes the WQE at a ${what} NAK with its status, then flushes the rest and the receive queue`, () => {
      const r = rig();
      r.node.postRecv(r.qpn, r.sgl(4096, 64));
      for (let i = 0; i < 3; i++) r.post(write(r));
      r.sim.runFor(1_000_000);
      r.nak(SQ_PSN + 1, code);
      const c = r.cqes();
      expect(c.map((x) => [x.isSend, x.wqeIndex, x.status])).toEqual([[1, 0, 0], [1, 1, status], [1, 2, WcStatus.wrFlushError], [0, 0, WcStatus.wrFlushError]]);
      expect(c[1].vendorErr).toBe(CQE_SYNDROMES.find((s) => WcStatus[s.status] === status)!.mlx4);
      expect(r.qp.state).toBe(QpState.ERR);
      // a WR posted in the error state completes with a flush error at once
      r.post(write(r));
      expect(r.cqes().map((x) => x.status)).toEqual([WcStatus.wrFlushError]);
    });
  }

  it("waits the RNR NAK's timer, then sends again from its PSN", () => {
    const r = rig();
    r.post({ opcode: Op.SEND, sgl: r.sgl(0, 10) });
    r.sim.runFor(1_000_000);
    r.respond({ opcode: "RC_ACKNOWLEDGE", psn: SQ_PSN, aeth: { syndrome: aethSyndrome(AethType.rnrNak, 3), msn: 0 } });
    const t0 = r.sim.now;
    r.sim.run(t0 + RNR_TIMER_US[3] * 1e6 - 2_000_000);
    expect(r.sent).toHaveLength(1);
    r.sim.run(t0 + RNR_TIMER_US[3] * 1e6);
    expect(r.sent.map((p) => p.bth.psn)).toEqual([SQ_PSN, SQ_PSN]);
    r.ack(SQ_PSN);
    expect(r.cqes()).toMatchObject([{ status: 0 }]);
  });

  it("completes with RNR retry exceeded after rnr_retry RNR NAKs in a row", () => {
    const r = rig({ rnrRetry: 2 });
    r.post({ opcode: Op.SEND, sgl: r.sgl(0, 10) });
    r.post({ opcode: Op.SEND, sgl: r.sgl(0, 10) });
    for (let i = 0; i < 3; i++) {
      r.sim.runFor(RNR_TIMER_US[1] * 1e6 + 1_000_000);
      r.respond({ opcode: "RC_ACKNOWLEDGE", psn: SQ_PSN, aeth: { syndrome: aethSyndrome(AethType.rnrNak, 1), msn: 0 } });
    }
    expect(r.cqes().map((c) => [c.wqeIndex, c.status])).toEqual([[0, WcStatus.rnrRetryExceeded], [1, WcStatus.wrFlushError]]);
  });
});

describe("completer: local ACK timeout", () => {
  it("sends the oldest unacknowledged packet again after 4.096 µs × 2^timeout", () => {
    const r = rig();
    r.post(write(r));
    r.sim.run(ackTimeoutPs(TIMEOUT) - 1_000_000);
    expect(r.sent).toHaveLength(1);
    r.sim.run(ackTimeoutPs(TIMEOUT) + 2_000_000);
    expect(r.psns()).toEqual([SQ_PSN, SQ_PSN]);
    expect(r.e.stats.timeouts).toBe(1);
    r.ack(SQ_PSN);
    expect(r.cqes()).toMatchObject([{ status: 0 }]);
  });

  it("after retry_cnt retries completes with retry exceeded and flushes the rest", () => {
    const r = rig({ retryCount: 3 });
    r.post(write(r));
    r.post(write(r, 10, false));
    r.sim.run(10 * ackTimeoutPs(TIMEOUT));
    expect(r.psns().filter((p) => p === SQ_PSN)).toHaveLength(4); // the first send and 3 retries
    expect(r.cqes().map((c) => [c.wqeIndex, c.status, c.vendorErr])).toEqual([[0, WcStatus.retryExceeded, 0x15], [1, WcStatus.wrFlushError, 0x05]]);
    expect(r.qp.state).toBe(QpState.ERR);
    expect(r.trace.some((l) => l.endsWith(COMP_STATE_NAMES[8]))).toBe(true);
  });

  it("refills the retry counter when a response makes progress", () => {
    const r = rig({ retryCount: 1 });
    r.post(write(r));
    r.post(write(r));
    r.sim.run(ackTimeoutPs(TIMEOUT) + 2_000_000); // one retry used
    r.ack(SQ_PSN);
    r.sim.run(r.sim.now + ackTimeoutPs(TIMEOUT) + 2_000_000); // a retry again: allowed
    r.ack(SQ_PSN + 1);
    expect(r.cqes().map((c) => c.status)).toEqual([0, 0]);
  });
});

describe("completer: CQ ring", () => {
  it("writes each CQE with the owner bit of its lap, around the ring", () => {
    const sim = new Simulator();
    const node = new HostNode(sim, "req", 1, { dmaReadLatencyNs: 0 });
    const cq = node.cq(1); // two CQEs
    const qpn = node.qp("RC", cq);
    const e = node.engine;
    e.modifyQp(qpn, { state: QpState.INIT });
    e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: PEER, rqPsn: 0, mtu: MTU, path: { dlid: 2 } });
    e.modifyQp(qpn, { state: QpState.RTS, sqPsn: SQ_PSN });
    e.connect((p) => p.release());
    const buf = node.buffer(64);
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      node.postSend(qpn, { opcode: Op.RDMA_WRITE, signalled: true, raddr, rkey: 1, sgl: [{ addr: BigInt(buf.addr), length: 8, lkey: buf.key }] });
      sim.runFor(1_000_000);
      e.receive(buildPacket({ destQp: qpn, slid: 2, opcode: "RC_ACKNOWLEDGE", psn: SQ_PSN + i, aeth: { syndrome: 0, msn: i + 1 } }));
      sim.runFor(1_000_000);
      seen.push(...node.poll(cq).map((c) => c.wqeIndex));
    }
    expect(seen).toEqual([0, 1, 2, 3, 4]);
  });
});

describe("completer: local errors and events", () => {
  it("completes a WQE whose local key fails with a local protection error and takes the QP to error", () => {
    const r = rig();
    r.post(write(r));
    r.post({ opcode: Op.RDMA_WRITE, raddr, rkey: 1, sgl: [{ addr: BigInt(r.buf.addr), length: 8, lkey: r.buf.key ^ 0x10 }] });
    r.sim.runFor(1_000_000);
    expect(r.sent).toHaveLength(1);
    expect(r.cqes()).toEqual([]); // the WRITE before it is still outstanding
    r.ack(SQ_PSN);
    expect(r.cqes().map((c) => [c.wqeIndex, c.status])).toEqual([[0, 0], [1, WcStatus.localProtectionError]]);
    expect(r.qp.state).toBe(QpState.ERR);
  });

  it("raises one completion event on an armed CQ (an EQE in host memory), none once disarmed", () => {
    const r = rig();
    r.e.armCq(r.cq.cqn);
    r.post(write(r));
    r.post(write(r));
    r.sim.runFor(1_000_000);
    r.ack(SQ_PSN + 1, 2);
    expect(r.events).toEqual([{ eqn: 3, cqn: r.cq.cqn }]);
    const eq = r.e.eqs.get(3)!;
    const eqe = EqeLayout.decode(r.node.memory.read(Number(eq.ring), 32));
    expect(eqe).toMatchObject({ type: EventType.completion, cqn: r.cq.cqn, owner: EqeOwner.software });
    expect(EqeLayout.get(r.node.memory.read(Number(eq.ring) + 32, 32), 0, "owner")).toBe(EqeOwner.hardware);
  });

  it("on a CQ armed for solicited events, raises none for a plain send completion but one for an error", () => {
    const r = rig();
    r.e.armCq(r.cq.cqn, true);
    r.post(write(r));
    r.post(write(r));
    r.sim.runFor(1_000_000);
    r.ack(SQ_PSN);
    expect(r.events).toEqual([]);
    r.nak(SQ_PSN + 1, NakCode.remoteAccessError);
    expect(r.events).toHaveLength(1);
  });
});
