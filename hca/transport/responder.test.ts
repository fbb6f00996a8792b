/**
 * Responder checks, one by one: each test feeds crafted packets (packet-builder.ts, not
 * the requester) to an engine's receive path and reads what it sends back and what it did
 * to host memory. Each test fails if its check is taken out.
 */
import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/index.ts";
import { Access, CqeRecvOpcode, WcStatus } from "../formats/index.ts";
import {
  ACK_CREDITS, aethSyndrome, AethType, buildPacket, creditCode, decodePacket, HostNode, maskedAdd, NakCode, QpState, RESP_STATE_NAMES,
  type DecodedPacket, type PacketFields,
} from "./index.ts";

const PEER = 0x99;
const RQ_PSN = 100;
const MTU = 256;

function rig(o: { access?: number; minRnrTimer?: number; pkey?: number } = {}) {
  const sim = new Simulator();
  const trace: string[] = [];
  const node = new HostNode(sim, "resp", 2, { trace: (l) => trace.push(l) });
  const cq = node.cq(6);
  const qpn = node.qp("RC", cq);
  const e = node.engine;
  e.modifyQp(qpn, { state: QpState.INIT });
  e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: PEER, rqPsn: RQ_PSN, mtu: MTU, path: { dlid: 1 }, minRnrTimer: o.minRnrTimer ?? 5, access: o.access, pkey: o.pkey });
  e.modifyQp(qpn, { state: QpState.RTS, sqPsn: 0 });
  const out: DecodedPacket[] = [];
  e.connect((p) => {
    out.push(decodePacket(p));
    p.release();
  });
  /** delivers packets (all before any response leaves, so ACKs may coalesce) and runs */
  const feed = (...fs: Omit<PacketFields, "destQp">[]) => {
    for (const f of fs) e.receive(buildPacket({ destQp: qpn, slid: 1, ...f }));
    sim.run();
  };
  const region = (bytes: number, access: number = Access.remoteRead | Access.remoteWrite | Access.remoteAtomic | Access.localWrite) => node.buffer(bytes, access);
  const acks = () => out.filter((p) => p.opcode === "RC_ACKNOWLEDGE").map((p) => ({ psn: p.bth.psn, type: p.aeth!.syndrome >> 5, value: p.aeth!.syndrome & 0x1f, msn: p.aeth!.msn }));
  return { sim, node, e, cq, qpn, qp: e.qp(qpn), out, feed, region, acks, trace };
}

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const NAK = AethType.nak;

describe("responder: PSN check", () => {
  it("executes the expected PSN and acknowledges it when AckReq is set, with MSN and credits", () => {
    const r = rig();
    const dst = r.region(512);
    const rcv = r.region(512);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 512, lkey: rcv.key }]);
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: BigInt(dst.addr), rkey: dst.key, len: 100 }, payload: bytes(100, 1) });
    expect(r.node.memory.read(dst.addr, 100)).toEqual(bytes(100, 1));
    expect(r.acks()).toEqual([{ psn: 100, type: AethType.ack, value: creditCode(1), msn: 1 }]);
    expect(ACK_CREDITS[r.acks()[0].value]).toBe(1);
    expect(r.qp.epsn).toBe(101);
    // without AckReq: executed, not acknowledged
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 101, reth: { va: BigInt(dst.addr + 200), rkey: dst.key, len: 4 }, payload: bytes(4, 9) });
    expect(r.node.memory.read(dst.addr + 200, 4)).toEqual(bytes(4, 9));
    expect(r.acks()).toHaveLength(1);
  });

  it("acknowledges a duplicate SEND/WRITE again (last PSN executed) without executing it again", () => {
    const r = rig();
    const dst = r.region(512);
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: BigInt(dst.addr), rkey: dst.key, len: 8 }, payload: bytes(8, 1) });
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 101, ackReq: true, reth: { va: BigInt(dst.addr + 8), rkey: dst.key, len: 8 }, payload: bytes(8, 2) });
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: BigInt(dst.addr), rkey: dst.key, len: 8 }, payload: bytes(8, 77) });
    expect(r.node.memory.read(dst.addr, 8)).toEqual(bytes(8, 1));
    expect(r.acks().map((a) => a.psn)).toEqual([100, 101, 101]);
    expect(r.qp.epsn).toBe(102);
  });

  it("answers a duplicate READ again from the responder resources, from the duplicate's PSN on", () => {
    const r = rig();
    const src = r.region(2048);
    const data = bytes(1000, 5);
    r.node.memory.write(src.addr, data);
    const read = (psn: number, off: number) =>
      r.feed({ opcode: "RC_RDMA_READ_REQUEST", psn, reth: { va: BigInt(src.addr + off), rkey: src.key, len: 1000 - off } });
    read(100, 0);
    expect(r.out.map((p) => [p.opcode, p.bth.psn])).toEqual([
      ["RC_RDMA_READ_RESPONSE_FIRST", 100], ["RC_RDMA_READ_RESPONSE_MIDDLE", 101], ["RC_RDMA_READ_RESPONSE_MIDDLE", 102], ["RC_RDMA_READ_RESPONSE_LAST", 103],
    ]);
    expect(r.qp.epsn).toBe(104);
    r.out.length = 0;
    read(102, 512); // the requester lost 102 and 103 and asks again
    expect(r.out.map((p) => [p.opcode, p.bth.psn])).toEqual([["RC_RDMA_READ_RESPONSE_FIRST", 102], ["RC_RDMA_READ_RESPONSE_LAST", 103]]);
    expect(r.out[0].payload).toEqual(data.subarray(512, 768));
    expect(r.out[1].payload).toEqual(data.subarray(768, 1000));
    expect(r.qp.epsn).toBe(104);
  });

  it("sends a duplicate atomic's saved result again and never executes it twice", () => {
    const r = rig();
    const ctr = r.region(64);
    r.node.memory.writeU64Le(ctr.addr, 10n);
    const fa = { opcode: "RC_FETCH_ADD", psn: 100, atomic: { va: BigInt(ctr.addr), rkey: ctr.key, swapAdd: 5n, compare: 0n } };
    r.feed(fa);
    r.feed(fa);
    expect(r.node.memory.readU64Le(ctr.addr)).toBe(15n);
    expect(r.out.map((p) => [p.opcode, p.bth.psn, p.atomicAck!.orig])).toEqual([["RC_ATOMIC_ACKNOWLEDGE", 100, 10n], ["RC_ATOMIC_ACKNOWLEDGE", 100, 10n]]);
  });

  it("NAKs a PSN ahead of the expected one once (sequence error, expected PSN), drops it, and recovers", () => {
    const r = rig();
    const dst = r.region(512);
    const w = (psn: number, seed: number) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn, ackReq: true, reth: { va: BigInt(dst.addr + 8 * (psn - 100)), rkey: dst.key, len: 8 }, payload: bytes(8, seed) });
    r.feed(w(102, 2));
    r.feed(w(103, 3));
    expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.psnSequenceError, msn: 0 }]);
    expect(r.node.memory.read(dst.addr + 16, 16)).toEqual(new Uint8Array(16));
    r.feed(w(100, 0), w(101, 1), w(102, 2));
    expect(r.acks().slice(1)).toEqual([{ psn: 102, type: AethType.ack, value: expect.any(Number), msn: 3 }]);
    expect(r.node.memory.read(dst.addr + 16, 8)).toEqual(bytes(8, 2));
    // a new gap is NAKed again
    r.feed(w(110, 0));
    expect(r.acks().at(-1)).toMatchObject({ psn: 103, type: NAK });
  });

  it("coalesces ACKs owed and not yet sent into one for the latest PSN", () => {
    const r = rig();
    const dst = r.region(512);
    const w = (psn: number) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn, ackReq: true, reth: { va: BigInt(dst.addr), rkey: dst.key, len: 4 }, payload: bytes(4, psn) });
    r.feed(w(100), w(101), w(102));
    expect(r.acks().map((a) => [a.psn, a.msn])).toEqual([[102, 3]]);
  });
});

describe("responder: opcode sequence", () => {
  it("NAKs a MIDDLE without a FIRST as an invalid request and takes the QP to the error state", () => {
    const r = rig();
    r.feed({ opcode: "RC_RDMA_WRITE_MIDDLE", psn: 100, payload: bytes(MTU, 1) });
    expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
    expect(r.qp.state).toBe(QpState.ERR);
  });

  it("NAKs a new FIRST inside a SEND and fails the receive WQE it was filling", () => {
    const r = rig();
    const rcv = r.region(4096);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 4096, lkey: rcv.key }]);
    r.feed({ opcode: "RC_SEND_FIRST", psn: 100, payload: bytes(MTU, 1) });
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 101, reth: { va: 0n, rkey: 0, len: 0 } });
    expect(r.acks()).toEqual([{ psn: 101, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
    const cqes = r.node.poll(r.cq);
    expect(cqes).toHaveLength(1);
    expect(cqes[0]).toMatchObject({ isSend: 0, status: WcStatus.remoteInvalidRequestError });
  });
});

describe("responder: remote keys", () => {
  const cases: [string, (r: ReturnType<typeof rig>, reg: { addr: number; key: number }) => Omit<PacketFields, "destQp">][] = [
    ["a stale key (wrong variant)", (_r, g) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(g.addr), rkey: g.key ^ 1, len: 8 }, payload: bytes(8, 1) })],
    ["a key of no region", (_r, g) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(g.addr), rkey: 0x7700, len: 8 }, payload: bytes(8, 1) })],
    ["a range past the region's end", (_r, g) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(g.addr + 4090), rkey: g.key, len: 8 }, payload: bytes(8, 1) })],
    ["a range before the region", (_r, g) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(g.addr - 8), rkey: g.key, len: 8 }, payload: bytes(8, 1) })],
    ["a read running past 2^64 (no wrap to 0)", (r) => {
      // an entry whose end lies past 2^64: only the wrap check refuses a range across 2^64
      const top = r.node.tables.registerEntry({ state: 1, access: Access.remoteRead, variant: 3, pd: r.node.pd, log2PageSize: 12, start: 2n ** 64n - 4096n, length: 8192n, mttBase: 0 });
      return { opcode: "RC_RDMA_READ_REQUEST", psn: 100, reth: { va: 2n ** 64n - 16n, rkey: top.key, len: 0x20 } };
    }],
    ["an atomic on a region without the atomic right", (r) => {
      const g = r.region(64, Access.remoteWrite);
      return { opcode: "RC_COMPARE_SWAP", psn: 100, atomic: { va: BigInt(g.addr), rkey: g.key, swapAdd: 1n, compare: 0n } };
    }],
    ["a write to a region without the write right", (r) => {
      const g = r.region(64, Access.remoteRead);
      return { opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(g.addr), rkey: g.key, len: 8 }, payload: bytes(8, 1) };
    }],
    ["a region of another PD", (r) => {
      const addr = r.node.memory.alloc(4096, 4096);
      const key = r.node.tables.register(r.node.pd + 1, addr, 4096, Access.remoteWrite).key;
      return { opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(addr), rkey: key, len: 8 }, payload: bytes(8, 1) };
    }],
  ];
  for (const [what, make] of cases) {
    it(`NAKs ${what} as a remote access error and changes no memory`, () => {
      const r = rig();
      const g = r.region(4096);
      const pkt = make(r, g);
      const snap = r.node.memory.snapshot();
      r.feed(pkt);
      expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.remoteAccessError, msn: 0 }]);
      expect(r.node.memory.diff(snap)).toEqual([]);
      expect(r.qp.state).toBe(QpState.ERR);
    });
  }

  it("checks no key for a zero-length RDMA WRITE (IBTA C9-88)", () => {
    const r = rig();
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: 0n, rkey: 0x1234, len: 0 } });
    expect(r.acks()).toEqual([{ psn: 100, type: AethType.ack, value: expect.any(Number), msn: 1 }]);
  });
});

describe("responder: receive resources", () => {
  it("answers a SEND without a receive WQE with an RNR NAK carrying the QP's timer, consuming nothing", () => {
    const r = rig({ minRnrTimer: 14 });
    const send = { opcode: "RC_SEND_ONLY", psn: 100, ackReq: true, payload: bytes(40, 3) };
    r.feed(send);
    expect(r.acks()).toEqual([{ psn: 100, type: AethType.rnrNak, value: 14, msn: 0 }]);
    expect(r.qp.epsn).toBe(100);
    expect(r.qp.state).toBe(QpState.RTS);
    const rcv = r.region(64);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 64, lkey: rcv.key }]);
    r.feed(send);
    expect(r.acks().at(-1)).toMatchObject({ psn: 100, type: AethType.ack, msn: 1 });
    expect(r.node.memory.read(rcv.addr, 40)).toEqual(bytes(40, 3));
    expect(r.node.poll(r.cq)).toMatchObject([{ isSend: 0, opcode: CqeRecvOpcode.SEND, byteCount: 40, status: 0 }]);
  });

  it("RNR-NAKs an RDMA WRITE with immediate at its last packet when no receive WQE is posted", () => {
    const r = rig();
    const dst = r.region(1024);
    r.feed({ opcode: "RC_RDMA_WRITE_FIRST", psn: 100, reth: { va: BigInt(dst.addr), rkey: dst.key, len: MTU + 10 }, payload: bytes(MTU, 1) });
    r.feed({ opcode: "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", psn: 101, ackReq: true, imm: 0xabc, payload: bytes(10, 2) });
    expect(r.acks()).toEqual([{ psn: 101, type: AethType.rnrNak, value: 5, msn: 0 }]);
    const rcv = r.region(64);
    r.node.postRecv(r.qpn, []);
    r.feed({ opcode: "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", psn: 101, ackReq: true, imm: 0xabc, payload: bytes(10, 2) });
    expect(r.acks().at(-1)).toMatchObject({ psn: 101, type: AethType.ack, msn: 1 });
    expect(r.node.memory.read(dst.addr + MTU, 10)).toEqual(bytes(10, 2));
    expect(r.node.poll(r.cq)).toMatchObject([{ opcode: CqeRecvOpcode.RDMA_WRITE_IMM, imm: 0xabc, byteCount: MTU + 10 }]);
    void rcv;
  });

  it("NAKs a SEND into a receive buffer it cannot write as a remote operational error", () => {
    const r = rig();
    const rcv = r.region(64);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 64, lkey: rcv.key ^ 0x55 }]);
    r.feed({ opcode: "RC_SEND_ONLY", psn: 100, payload: bytes(8, 1) });
    expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.remoteOperationalError, msn: 0 }]);
    expect(r.node.poll(r.cq)).toMatchObject([{ isSend: 0, status: WcStatus.localProtectionError }]);
    expect(r.qp.state).toBe(QpState.ERR);
  });

  it("NAKs a SEND longer than its receive buffer as an invalid request (local length error on the receive)", () => {
    const r = rig();
    const rcv = r.region(64);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 16, lkey: rcv.key }]);
    r.feed({ opcode: "RC_SEND_ONLY", psn: 100, payload: bytes(20, 1) });
    expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
    expect(r.node.poll(r.cq)).toMatchObject([{ status: WcStatus.localLengthError }]);
  });
});

describe("responder: invalid requests", () => {
  const cases: [string, (d: { addr: number; key: number }) => Omit<PacketFields, "destQp">, { access?: number }?][] = [
    ["a payload beyond the path MTU", (d) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: MTU + 4 }, payload: bytes(MTU + 4, 1) })],
    ["a FIRST shorter than the MTU", (d) => ({ opcode: "RC_RDMA_WRITE_FIRST", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: 1000 }, payload: bytes(100, 1) })],
    ["a WRITE ONLY whose payload is not its DMA length", (d) => ({ opcode: "RC_RDMA_WRITE_ONLY", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: 12 }, payload: bytes(8, 1) })],
    ["a misaligned atomic", (d) => ({ opcode: "RC_FETCH_ADD", psn: 100, atomic: { va: BigInt(d.addr + 4), rkey: d.key, swapAdd: 1n, compare: 0n } })],
    ["a READ on a QP that does not allow remote reads", (d) => ({ opcode: "RC_RDMA_READ_REQUEST", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: 8 } }), { access: Access.remoteWrite }],
  ];
  for (const [what, make, o] of cases) {
    it(`NAKs ${what}`, () => {
      const r = rig(o);
      const d = r.region(4096);
      const snap = r.node.memory.snapshot();
      r.feed(make(d));
      expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
      expect(r.node.memory.diff(snap)).toEqual([]);
    });
  }

  it("NAKs a WRITE whose packets run past its DMA length, writing nothing beyond it", () => {
    const r = rig();
    const d = r.region(4096);
    r.feed({ opcode: "RC_RDMA_WRITE_FIRST", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: MTU + 4 }, payload: bytes(MTU, 1) });
    r.feed({ opcode: "RC_RDMA_WRITE_MIDDLE", psn: 101, payload: bytes(MTU, 2) });
    expect(r.acks()).toEqual([{ psn: 101, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
    expect(r.node.memory.read(d.addr + MTU, MTU)).toEqual(new Uint8Array(MTU));
  });

  it("NAKs a WRITE whose last packet leaves it short of its DMA length", () => {
    const r = rig();
    const d = r.region(4096);
    r.feed({ opcode: "RC_RDMA_WRITE_FIRST", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: MTU + 40 }, payload: bytes(MTU, 1) });
    r.feed({ opcode: "RC_RDMA_WRITE_LAST", psn: 101, ackReq: true, payload: bytes(8, 2) });
    expect(r.acks()).toEqual([{ psn: 101, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
  });

  it("NAKs a LAST without payload", () => {
    const r = rig();
    const rcv = r.region(4096);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 4096, lkey: rcv.key }]);
    r.feed({ opcode: "RC_SEND_FIRST", psn: 100, payload: bytes(MTU, 1) });
    r.feed({ opcode: "RC_SEND_LAST", psn: 101, ackReq: true });
    expect(r.acks()).toEqual([{ psn: 101, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
  });

  it("NAKs a FIRST whose DMA length fits one packet", () => {
    const r = rig();
    const d = r.region(4096);
    r.feed({ opcode: "RC_RDMA_WRITE_FIRST", psn: 100, reth: { va: BigInt(d.addr), rkey: d.key, len: MTU }, payload: bytes(MTU, 1) });
    expect(r.acks()).toEqual([{ psn: 100, type: NAK, value: NakCode.invalidRequest, msn: 0 }]);
  });
});

describe("responder: source address", () => {
  it("drops an RC packet whose SLID is not the QP's peer", () => {
    const r = rig();
    const d = r.region(64);
    const w = { opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: BigInt(d.addr), rkey: d.key, len: 4 }, payload: bytes(4, 1) };
    r.feed({ ...w, slid: 9 });
    expect(r.e.stats.drops.not_from_peer).toBe(1);
    expect(r.acks()).toEqual([]);
    r.feed(w);
    expect(r.acks()).toHaveLength(1);
  });

  it("with a GRH on the path, takes only packets from the path's GID (GRH or IPv4 header)", () => {
    const sim = new Simulator();
    const node = new HostNode(sim, "resp", 2);
    const qpn = node.qp("RC", node.cq(4));
    const e = node.engine;
    const peerGid = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1); // IPv4-mapped 10.0.0.1
    e.modifyQp(qpn, { state: QpState.INIT });
    e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: PEER, rqPsn: 0, mtu: MTU, path: { dlid: 0, grh: { dgid: peerGid } } });
    let acks = 0;
    e.connect((p) => {
      acks++;
      p.release();
    });
    const grh6 = (src: Uint8Array) => Uint8Array.from({ length: 40 }, (_, i) => (i === 0 ? 0x60 : i >= 8 && i < 24 ? src[i - 8] : 0));
    const ipv4 = (a: number) => Uint8Array.from({ length: 40 }, (_, i) => (i === 20 ? 0x45 : i === 32 ? 10 : i === 35 ? a : 0));
    const send = (psn: number, grh?: Uint8Array) => {
      e.receive(buildPacket({ opcode: "RC_RDMA_WRITE_ONLY", destQp: qpn, psn, ackReq: true, reth: { va: 0n, rkey: 0, len: 0 }, grh }));
      sim.run();
    };
    send(0); // no GRH
    send(0, grh6(new Uint8Array(16).fill(7)));
    send(0, ipv4(2));
    expect([acks, e.stats.drops.not_from_peer]).toEqual([0, 3]);
    send(0, grh6(peerGid));
    send(1, ipv4(1));
    expect(acks).toBe(2);
  });
});

describe("responder: header checks", () => {
  it("drops silently a packet whose P_Key does not match, or for a QP not ready to receive", () => {
    const r = rig({ pkey: 0x8123 });
    const d = r.region(64);
    const w = { opcode: "RC_RDMA_WRITE_ONLY", psn: 100, ackReq: true, reth: { va: BigInt(d.addr), rkey: d.key, len: 4 }, payload: bytes(4, 1) };
    r.feed({ ...w, pkey: 0x8124 });
    r.feed({ ...w, pkey: 0x0123 }); // limited member against a full one: matches
    expect(r.e.stats.drops.pkey_mismatch).toBe(1);
    expect(r.acks()).toHaveLength(1);
    r.e.modifyQp(r.qpn, { state: QpState.RESET });
    r.feed({ ...w, psn: 101 });
    expect(r.e.stats.drops.qp_state).toBe(1);
  });

  it("names its states in traces", () => {
    const r = rig();
    r.feed({ opcode: "RC_RDMA_WRITE_MIDDLE", psn: 100, payload: bytes(MTU, 1) });
    expect(r.trace.some((l) => l.includes("responder") && l.endsWith("ERR_INVALID_REQUEST"))).toBe(true);
    expect(RESP_STATE_NAMES).toContain("CHECK_OP_SEQ");
  });
});

describe("responder: operations", () => {
  it("runs compare-swap, masked compare-swap and masked fetch-add on little-endian host memory", () => {
    const r = rig();
    const g = r.region(64);
    const m = r.node.memory;
    m.writeU64Le(g.addr, 0x1111_2222_3333_4444n);
    r.feed({ opcode: "RC_COMPARE_SWAP", psn: 100, atomic: { va: BigInt(g.addr), rkey: g.key, swapAdd: 7n, compare: 0x1111_2222_3333_4444n } });
    expect(m.readU64Le(g.addr)).toBe(7n);
    r.feed({ opcode: "RC_COMPARE_SWAP", psn: 101, atomic: { va: BigInt(g.addr), rkey: g.key, swapAdd: 9n, compare: 8n } });
    expect(m.readU64Le(g.addr)).toBe(7n);
    m.writeU64Le(g.addr + 8, 0xaabb_ccddn);
    // compare only the low byte (0xdd), swap only the high half
    r.feed({
      opcode: "RC_MASKED_COMPARE_SWAP", psn: 102, atomic: { va: BigInt(g.addr + 8), rkey: g.key, swapAdd: 0x1234_5678_0000_0000n, compare: 0xffff_00ddn },
      masks: { swapMask: 0xffff_ffff_0000_0000n, compareMask: 0xffn },
    });
    expect(m.readU64Le(g.addr + 8)).toBe(0x1234_5678_aabb_ccddn);
    m.writeU64Le(g.addr + 16, 0x00ff_0001n);
    // two 16-bit fields and the rest: the carry out of bit 15 and bit 31 is dropped
    r.feed({ opcode: "RC_MASKED_FETCH_ADD", psn: 103, atomic: { va: BigInt(g.addr + 16), rkey: g.key, swapAdd: 0x0001_ffffn, compare: 0x8000_8000n } });
    expect(m.readU64Le(g.addr + 16)).toBe(0x0100_0000n);
    expect(r.out.map((p) => p.atomicAck?.orig)).toEqual([0x1111_2222_3333_4444n, 7n, 0xaabb_ccddn, 0x00ff_0001n]);
  });

  it("masked add drops the carry at each field boundary", () => {
    expect(maskedAdd(0xffn, 1n, 0x80n)).toBe(0n);
    expect(maskedAdd(0xffn, 1n, 0n)).toBe(0x100n);
    expect(maskedAdd(0xffff_ffff_ffff_ffffn, 1n, 0n)).toBe(0n);
  });

  it("executes a SEND with invalidate: the region named stops being valid, the CQE carries its key", () => {
    const r = rig();
    const g = r.region(64);
    const rcv = r.region(64);
    r.node.postRecv(r.qpn, [{ addr: BigInt(rcv.addr), length: 64, lkey: rcv.key }]);
    r.feed({ opcode: "RC_SEND_ONLY_WITH_INVALIDATE", psn: 100, invalidateRkey: g.key, payload: bytes(4, 1), solicited: true });
    expect(r.node.poll(r.cq)).toMatchObject([{ opcode: CqeRecvOpcode.SEND_INV, imm: g.key, byteCount: 4, status: 0 }]);
    r.feed({ opcode: "RC_RDMA_WRITE_ONLY", psn: 101, reth: { va: BigInt(g.addr), rkey: g.key, len: 4 }, payload: bytes(4, 2) });
    expect(r.acks().at(-1)).toMatchObject({ type: NAK, value: NakCode.remoteAccessError });
  });

  it("scatters a multi-packet SEND across the receive WQE's SGEs", () => {
    const r = rig();
    const a = r.region(4096);
    const b = r.region(4096);
    r.node.postRecv(r.qpn, [{ addr: BigInt(a.addr + 3), length: 300, lkey: a.key }, { addr: BigInt(b.addr + 1), length: 400, lkey: b.key }]);
    const data = bytes(600, 7);
    r.feed(
      { opcode: "RC_SEND_FIRST", psn: 100, payload: data.subarray(0, 256) },
      { opcode: "RC_SEND_MIDDLE", psn: 101, payload: data.subarray(256, 512) },
      { opcode: "RC_SEND_LAST_WITH_IMMEDIATE", psn: 102, imm: 0x55, ackReq: true, payload: data.subarray(512) },
    );
    expect(r.node.memory.read(a.addr + 3, 300)).toEqual(data.subarray(0, 300));
    expect(r.node.memory.read(b.addr + 1, 300)).toEqual(data.subarray(300));
    expect(r.node.poll(r.cq)).toMatchObject([{ opcode: CqeRecvOpcode.SEND_IMM, imm: 0x55, byteCount: 600 }]);
    expect(aethSyndrome(AethType.ack, 0) >> 5).toBe(AethType.ack);
  });
});
