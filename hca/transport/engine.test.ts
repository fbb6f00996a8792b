/** The engine: timing in simulated time, QP transitions and the errors of bad calls. */
import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/index.ts";
import { BTH_BYTES } from "../headers/index.ts";
import { backToBack, buildPacket, connectRc, HostNode, packetFrom, QpState, TransportError, TransportWqeOpcode as Op } from "./index.ts";

describe("engine timing (simulated time)", () => {
  it("sends a message's packets back to back, each ceil(bytes / datapath) cycles after the one before", () => {
    const t = backToBack({}, { clockMhz: 250, datapathBytes: 64, dmaReadLatencyNs: 500, pipelineCycles: 8 });
    const { a, b, sim } = t;
    const cq = a.cq(6);
    const qa = a.qp("RC", cq);
    const qb = b.qp("RC", b.cq(6));
    connectRc(a, qa, b, qb, { mtu: 1024 });
    const times: [number, number][] = [];
    t.wire.tap = (from, p) => {
      if (from === a.engine) times.push([sim.now, p.length]);
    };
    const src = a.buffer(8192);
    const dst = b.buffer(8192);
    const posted = sim.now;
    a.postSend(qa, { opcode: Op.RDMA_WRITE, raddr: BigInt(dst.addr), rkey: dst.key, sgl: [{ addr: BigInt(src.addr), length: 3000, lkey: src.key }] });
    sim.run();
    const cyclePs = 4000;
    // the payload's host read, then the pipeline
    expect(times[0][0] - posted).toBe(500_000 + 8 * cyclePs);
    for (let i = 1; i < times.length; i++) expect(times[i][0] - times[i - 1][0]).toBe(Math.ceil(times[i - 1][1] / 64) * cyclePs);
    expect(times.map(([, n]) => n)).toEqual([BTH_BYTES + 16 + 1024, BTH_BYTES + 1024, BTH_BYTES + 952]);
  });

  it("holds its next packet until the link says it has room (transmit back pressure)", () => {
    const t = backToBack({}, { dmaReadLatencyNs: 0 });
    const { a, b, sim } = t;
    const qa = a.qp("RC", a.cq(6));
    const qb = b.qp("RC", b.cq(6));
    connectRc(a, qa, b, qb, { mtu: 256 });
    const times: number[] = [];
    a.engine.connect((p) => {
      times.push(sim.now);
      p.release();
      return sim.now + 10_000_000; // a slow link: room again 10 µs later
    });
    const src = a.buffer(4096);
    a.postSend(qa, { opcode: Op.RDMA_WRITE, raddr: 0n, rkey: 0, sgl: [{ addr: BigInt(src.addr), length: 1000, lkey: src.key }] });
    sim.run(1_000_000_000);
    expect(times.slice(1, 4).map((x, i) => x - times[i])).toEqual([10_000_000, 10_000_000, 10_000_000]);
  });

  it("answers a request once it is through the receive datapath and the pipeline", () => {
    const sim = new Simulator();
    const n = new HostNode(sim, "r", 2, { clockMhz: 250, datapathBytes: 32, pipelineCycles: 10 });
    const cq = n.cq(4);
    const qpn = n.qp("RC", cq);
    n.engine.modifyQp(qpn, { state: QpState.INIT });
    n.engine.modifyQp(qpn, { state: QpState.RTR, remoteQpn: 1, rqPsn: 0, mtu: 256, path: { dlid: 1 } });
    const out: number[] = [];
    n.engine.connect((p) => {
      out.push(sim.now);
      p.release();
    });
    const d = n.buffer(256);
    const pkt = buildPacket({ opcode: "RC_RDMA_WRITE_ONLY", destQp: qpn, slid: 1, psn: 0, ackReq: true, reth: { va: BigInt(d.addr), rkey: d.key, len: 100 }, payload: new Uint8Array(100) });
    sim.schedule(1_000_000, () => n.engine.receive(pkt));
    sim.run();
    // 128 bytes on a 32-byte datapath: 4 cycles, then 10 cycles of pipeline (responder in RTR answers)
    expect(out).toEqual([1_000_000 + (4 + 10) * 4000]);
  });
});

describe("engine calls", () => {
  it("refuses a transition the table lacks, and one without the attributes it needs", () => {
    const sim = new Simulator();
    const n = new HostNode(sim, "n", 1);
    const qpn = n.qp("RC", n.cq(2));
    expect(() => n.engine.modifyQp(qpn, { state: QpState.RTS, sqPsn: 0 })).toThrow(/no transition RESET → RTS/);
    n.engine.modifyQp(qpn, { state: QpState.INIT });
    expect(() => n.engine.modifyQp(qpn, { state: QpState.RTR, rqPsn: 0 })).toThrow(/INIT → RTR needs remoteQpn, mtu/);
    expect(() => n.engine.modifyQp(qpn, { state: QpState.RTR, rqPsn: 0, remoteQpn: 2, mtu: 300 })).toThrow(/mtu 300 is not one of/);
    expect(() => n.engine.modifyQp(qpn, { state: QpState.RTR, rqPsn: 1 << 24, remoteQpn: 2, mtu: 256 })).toThrow(/rqPsn 16777216 is not in 0\.\.16777215/);
    expect(() => n.engine.modifyQp(0x999, { state: QpState.INIT })).toThrow(TransportError);
  });

  it("refuses to post in RESET, past a full queue, or a UD send without a destination", () => {
    const sim = new Simulator();
    const n = new HostNode(sim, "n", 1);
    const cq = n.cq(4);
    const qpn = n.qp("RC", cq, cq, 1);
    const wr = { opcode: Op.RDMA_WRITE, sgl: [] };
    expect(() => n.postSend(qpn, wr)).toThrow(/postSend 0x[0-9a-f]+: the QP is in RESET/);
    n.engine.modifyQp(qpn, { state: QpState.INIT });
    n.postSend(qpn, wr);
    n.postSend(qpn, wr);
    expect(() => n.postSend(qpn, wr)).toThrow(/send queue full \(2 outstanding\)/);
    const ud = n.qp("UD", cq);
    n.engine.modifyQp(ud, { state: QpState.INIT });
    expect(() => n.postSend(ud, wr)).toThrow(/a UD send needs its destination/);
  });

  it("drops a packet shorter than its headers, and one for an unknown QP", () => {
    const sim = new Simulator();
    const n = new HostNode(sim, "n", 1);
    const qpn = n.qp("RC", n.cq(2));
    n.engine.modifyQp(qpn, { state: QpState.INIT });
    n.engine.modifyQp(qpn, { state: QpState.RTR, remoteQpn: 1, rqPsn: 0, mtu: 256 });
    const w = buildPacket({ opcode: "RC_RDMA_WRITE_ONLY", destQp: qpn, psn: 0, reth: { va: 0n, rkey: 0, len: 0 } }).bytes;
    n.engine.receive(packetFrom(w.subarray(0, BTH_BYTES + 10)));
    n.engine.receive(packetFrom(w.subarray(0, 5)));
    n.engine.receive(buildPacket({ opcode: "RC_SEND_ONLY", destQp: 0x4242, psn: 0 }));
    expect(n.engine.stats.drops).toEqual({ truncated: 1, short_packet: 1, unknown_qp: 1 });
  });
});
