/** UD: datagrams with an address vector, the GRH in the first 40 bytes, Q_Key rules, DETH. */
import { describe, expect, it } from "vitest";
import { CqeRecvOpcode, WcStatus } from "../formats/index.ts";
import { Grh } from "../headers/index.ts";
import { activateUd, backToBack, GRH_BYTES, QpState, TransportWqeOpcode as Op } from "./index.ts";

const QKEY = 0x1111_2222;
const GID_A = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);
const GID_B = Uint8Array.from({ length: 16 }, (_, i) => 0xb0 + i);

function rig(qkeyB = QKEY) {
  const t = backToBack({}, {}, { a: { gid: GID_A }, b: { gid: GID_B } });
  const { a, b } = t;
  const cqa = a.cq(6);
  const cqb = b.cq(6);
  const qa = a.qp("UD", cqa);
  const qb = b.qp("UD", cqb);
  activateUd(a, qa, QKEY, { mtu: 1024 });
  activateUd(b, qb, qkeyB, { mtu: 1024 });
  const src = a.buffer(4096);
  const rcv = b.buffer(4096);
  const body = Uint8Array.from({ length: 700 }, (_, i) => (i * 3) & 0xff);
  a.memory.write(src.addr, body);
  return { ...t, cqa, cqb, qa, qb, src, rcv, body };
}

describe("UD", () => {
  it("delivers a datagram with its GRH in the first 40 bytes; the CQE names the sender", () => {
    const r = rig();
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    r.a.postSend(r.qa, { opcode: Op.SEND_IMM, imm: 0x77, signalled: true, sgl: [{ addr: BigInt(r.src.addr), length: 700, lkey: r.src.key }] }, {
      remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2, sl: 3, grh: { dgid: GID_B, flowLabel: 0x12345, trafficClass: 0x20, hopLimit: 9 } },
    });
    r.sim.run();
    expect(r.b.memory.read(r.rcv.addr + GRH_BYTES, 700)).toEqual(r.body);
    const grh = Grh.decode(r.b.memory.read(r.rcv.addr, GRH_BYTES));
    expect(grh).toMatchObject({ ipVer: 6, tClass: 0x20, flowLabel: 0x12345, nxtHdr: 0x1b, hopLmt: 9, sgid: GID_A, dgid: GID_B });
    expect(r.b.poll(r.cqb)).toMatchObject([
      { opcode: CqeRecvOpcode.SEND_IMM, imm: 0x77, byteCount: GRH_BYTES + 700, rqpn: r.qa, rlid: 1, sl: 3, grh: 1, status: 0, isSend: 0 },
    ]);
    // the send completed as it left: no acknowledgement in UD
    expect(r.a.poll(r.cqa)).toMatchObject([{ isSend: 1, opcode: Op.SEND_IMM, status: 0 }]);
    expect(r.b.engine.stats.packetsSent).toBe(0);
  });

  it("leaves the GRH area alone when no GRH came, and says so in the CQE", () => {
    const r = rig();
    r.b.memory.fill(r.rcv.addr, GRH_BYTES, 0xee);
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 10, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2 } });
    r.sim.run();
    expect(r.b.memory.read(r.rcv.addr, GRH_BYTES)).toEqual(new Uint8Array(GRH_BYTES).fill(0xee));
    expect(r.b.poll(r.cqb)).toMatchObject([{ grh: 0, byteCount: GRH_BYTES + 10 }]);
  });

  it("drops a datagram whose Q_Key is not the QP's, silently", () => {
    const r = rig();
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 10, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: QKEY + 1, av: { dlid: 2 } });
    r.sim.run();
    expect(r.b.poll(r.cqb)).toEqual([]);
    expect(r.b.engine.stats.drops.qkey_mismatch).toBe(1);
  });

  it("sends the QP's own Q_Key when the work request's has its top bit set (privileged Q_Key)", () => {
    const r = rig();
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 10, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: 0x8000_0001, av: { dlid: 2 } });
    r.sim.run();
    expect(r.b.poll(r.cqb)).toMatchObject([{ status: 0, byteCount: GRH_BYTES + 10 }]);
  });

  it("completes a datagram too large for its receive buffer with a length error; the QP carries on", () => {
    const r = rig();
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: GRH_BYTES + 100, lkey: r.rcv.key }]);
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    const dest = { remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2 } };
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 101, lkey: r.src.key }] }, dest);
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 100, lkey: r.src.key }] }, dest);
    r.sim.run();
    expect(r.b.poll(r.cqb).map((c) => [c.status, c.byteCount])).toEqual([[WcStatus.localLengthError, 0], [0, GRH_BYTES + 100]]);
    expect(r.b.engine.qp(r.qb).state).toBe(QpState.RTS);
  });

  it("drops a datagram when no receive WQE is posted (no RNR in UD)", () => {
    const r = rig();
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 10, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2 } });
    r.sim.run();
    expect(r.b.engine.stats.drops.no_receive_wqe).toBe(1);
    expect(r.a.engine.stats.packetsReceived).toBe(0);
  });

  it("refuses a send larger than the path MTU with a local length error and the send-queue error state", () => {
    const r = rig();
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 1025, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2 } });
    r.sim.run();
    expect(r.a.poll(r.cqa)).toMatchObject([{ status: WcStatus.localLengthError }]);
    expect(r.a.engine.qp(r.qa).state).toBe(QpState.SQE);
    expect(r.a.engine.stats.packetsSent).toBe(0);
  });

  it("puts the Q_Key and the sender's QP in the DETH", () => {
    const r = rig();
    const seen: Uint8Array[] = [];
    r.wire.tap = (_from, p) => seen.push(p.bytes.slice());
    r.b.postRecv(r.qb, [{ addr: BigInt(r.rcv.addr), length: 2048, lkey: r.rcv.key }]);
    r.a.postSend(r.qa, { opcode: Op.SEND, sgl: [{ addr: BigInt(r.src.addr), length: 10, lkey: r.src.key }] }, { remoteQpn: r.qb, qkey: QKEY, av: { dlid: 2 } });
    r.sim.run();
    expect(seen).toHaveLength(1);
    expect([...seen[0].subarray(12, 20)]).toEqual([0x11, 0x11, 0x22, 0x22, 0, 0, 0, r.qa]);
    expect(seen[0][0]).toBe(0x64);
  });
});
