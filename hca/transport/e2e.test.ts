/**
 * Two engines back to back: data moves byte-exact for every operation, over a clean wire
 * and over a lossy one (seeded drops, duplicates, reordering), where every message must
 * arrive exactly once, in order. And the transport against the real driver and firmware:
 * keys from regMr in the firmware's tables, CQEs polled by the driver, WQEs the driver
 * wrote, parsed as the wqe_fetch block parses them.
 */
import { describe, expect, it } from "vitest";
import { HostMemory, MmioBar, Prng, Simulator } from "../../core/index.ts";
import { Firmware, ModelDeviceBus, QpState as FwQpState } from "../../firmware/index.ts";
import { openDevice } from "../driver/index.ts";
import { Access, CqeRecvOpcode, ownerBitOf, WcStatus, WQE_STRIDE, WqeOpcode } from "../formats/index.ts";
import { parseWqe, WorkRequest, WR_HEADER_BYTES } from "../wqe-fetch/index.ts";
import {
  BackToBackWire, backToBack, connectRc, deviceBusTables, PCIE_READ_DEFAULTS, QpState, TransportEngine, TransportWqeOpcode as Op, type BackToBack, type HostNode,
} from "./index.ts";

const data = (n: number, seed: number) => {
  const p = new Prng(seed);
  return p.bytes(n);
};

function pair(b2b: BackToBack, attrs: Parameters<typeof connectRc>[4] = {}, psns: [number, number] = [0x100, 0x200]) {
  const { a, b } = b2b;
  const cqa = a.cq(12);
  const cqb = b.cq(12);
  const qa = a.qp("RC", cqa, cqa, 10);
  const qb = b.qp("RC", cqb, cqb, 10);
  connectRc(a, qa, b, qb, attrs, psns[0], psns[1]);
  return { cqa, cqb, qa, qb };
}

const sge = (buf: { addr: number; key: number }, off: number, length: number) => ({ addr: BigInt(buf.addr + off), length, lkey: buf.key });

describe("back to back, clean wire", () => {
  for (const mtu of [256, 1024, 4096]) {
    it(`moves WRITE, READ, SEND and atomics byte-exact at MTU ${mtu}`, () => {
      const t = backToBack();
      const { a, b, sim } = t;
      const { cqa, cqb, qa, qb } = pair(t, { mtu });
      const src = a.buffer(64 << 10);
      const dst = b.buffer(64 << 10);
      const back = a.buffer(64 << 10);
      const payload = data(20_000, mtu);
      a.memory.write(src.addr, payload);
      // WRITE from three SGEs to an unaligned remote address, then READ it back into two
      a.postSend(qa, { opcode: Op.RDMA_WRITE, raddr: BigInt(dst.addr + 5), rkey: dst.key, sgl: [sge(src, 0, 7000), sge(src, 7000, 1), sge(src, 7001, 12_999)] });
      a.postSend(qa, { opcode: Op.RDMA_READ, raddr: BigInt(dst.addr + 5), rkey: dst.key, sgl: [sge(back, 3, 10_000), sge(back, 20_003, 10_000)] });
      // SEND with immediate (multi-packet) and an inline SEND
      const rcv = b.buffer(32 << 10);
      b.postRecv(qb, [sge(rcv, 0, 16 << 10)]);
      b.postRecv(qb, [sge(rcv, 16 << 10, 64)]);
      a.postSend(qa, { opcode: Op.SEND_IMM, imm: 0xfeed, solicited: true, sgl: [sge(src, 100, 9000)] });
      a.postSend(qa, { opcode: Op.SEND, inline: payload.subarray(0, 33) });
      // zero-length WRITE, WRITE with immediate
      a.postSend(qa, { opcode: Op.RDMA_WRITE, raddr: 0n, rkey: 0, sgl: [] });
      b.postRecv(qb, []);
      a.postSend(qa, { opcode: Op.RDMA_WRITE_IMM, imm: 7, raddr: BigInt(dst.addr + 40_000), rkey: dst.key, sgl: [sge(src, 0, mtu + 1)] });
      // atomics
      const ctr = b.buffer(64);
      b.memory.writeU64Le(ctr.addr, 40n);
      const res = a.buffer(64);
      a.postSend(qa, { opcode: Op.ATOMIC_FA, raddr: BigInt(ctr.addr), rkey: ctr.key, swapAdd: 2n, sgl: [sge(res, 0, 8)] });
      a.postSend(qa, { opcode: Op.ATOMIC_CS, raddr: BigInt(ctr.addr), rkey: ctr.key, compare: 42n, swapAdd: 1000n, sgl: [sge(res, 8, 8)] });
      a.postSend(qa, { opcode: Op.MASKED_ATOMIC_FA, raddr: BigInt(ctr.addr), rkey: ctr.key, swapAdd: 0xffn, compare: 0x80n, sgl: [sge(res, 16, 8)] });
      a.postSend(qa, {
        opcode: Op.MASKED_ATOMIC_CS, raddr: BigInt(ctr.addr + 8), rkey: ctr.key, compare: 0n, compareMask: 0xffn, swapAdd: 0xab00n, swapMask: 0xff00n, sgl: [sge(res, 24, 8)],
        signalled: true,
      });
      sim.run();
      expect(b.memory.read(dst.addr + 5, 20_000)).toEqual(payload);
      expect(a.memory.read(back.addr + 3, 10_000)).toEqual(payload.subarray(0, 10_000));
      expect(a.memory.read(back.addr + 20_003, 10_000)).toEqual(payload.subarray(10_000));
      expect(b.memory.read(rcv.addr, 9000)).toEqual(payload.subarray(100, 9100));
      expect(b.memory.read(rcv.addr + (16 << 10), 33)).toEqual(payload.subarray(0, 33));
      expect(b.memory.read(dst.addr + 40_000, mtu + 1)).toEqual(payload.subarray(0, mtu + 1));
      expect([0, 8, 16, 24].map((o) => a.memory.readU64Le(res.addr + o))).toEqual([40n, 42n, 1000n, 0n]);
      // 1000 + 0xff with the carry stopped at bit 7: low byte 0xe8 + 0xff → 0xe7, bits above kept
      expect(b.memory.readU64Le(ctr.addr)).toBe((1000n & ~0xffn) | ((1000n + 0xffn) & 0xffn));
      expect(b.memory.readU64Le(ctr.addr + 8)).toBe(0xab00n);
      const rc = b.poll(cqb);
      expect(rc.map((c) => [c.opcode, c.byteCount, c.imm, c.status])).toEqual([
        [CqeRecvOpcode.SEND_IMM, 9000, 0xfeed, 0], [CqeRecvOpcode.SEND, 33, 0, 0], [CqeRecvOpcode.RDMA_WRITE_IMM, mtu + 1, 7, 0],
      ]);
      expect(a.poll(cqa).map((c) => [c.wqeIndex, c.status])).toEqual([[9, 0]]);
      expect(a.engine.stats.retransmissions).toBe(0);
    });
  }

  it("carries on across the 24-bit PSN wrap", () => {
    const t = backToBack();
    const { a, b, sim } = t;
    const { cqa, qa } = pair(t, { mtu: 256 }, [0xff_fffd, 0xff_fff0]);
    const src = a.buffer(4096);
    const dst = b.buffer(4096);
    a.memory.write(src.addr, data(4096, 1));
    a.postSend(qa, { opcode: Op.RDMA_WRITE, signalled: true, raddr: BigInt(dst.addr), rkey: dst.key, sgl: [sge(src, 0, 2000)] });
    a.postSend(qa, { opcode: Op.RDMA_READ, signalled: true, raddr: BigInt(dst.addr), rkey: dst.key, sgl: [sge(src, 2048, 2000)] });
    sim.run();
    expect(a.poll(cqa).map((c) => c.status)).toEqual([0, 0]);
    expect(b.memory.read(dst.addr, 2000)).toEqual(data(4096, 1).subarray(0, 2000));
    expect(a.memory.read(src.addr + 2048, 2000)).toEqual(data(4096, 1).subarray(0, 2000));
    expect(a.engine.qp(qa).reqPsn).toBe((0xff_fffd + 8 + 8) & 0xff_ffff);
  });

  it("completes a requester's error locally without touching the responder", () => {
    const t = backToBack();
    const { a, b, sim } = t;
    const { cqa, qa, qb } = pair(t);
    const dst = b.buffer(4096);
    a.postSend(qa, { opcode: Op.RDMA_WRITE, raddr: BigInt(dst.addr), rkey: dst.key, sgl: [{ addr: 0x1234n, length: 8, lkey: 0xdead00 }] });
    sim.run();
    expect(a.poll(cqa)).toMatchObject([{ status: WcStatus.localProtectionError }]);
    expect(a.engine.qp(qa).state).toBe(QpState.ERR);
    expect(b.engine.qp(qb).state).toBe(QpState.RTS);
    expect(b.engine.stats.packetsReceived).toBe(0);
  });
});

describe("back to back, lossy wire", () => {
  /**
   * Both sides send a seeded mix of SEND (numbered payloads), WRITE with immediate
   * (numbered), WRITE, READ and FETCH_ADD while the wire drops, duplicates and reorders
   * packets. Exactly once, in order, byte-exact: each receive completion carries the next
   * number and its bytes; the counters end at the sum of what was added and each
   * fetch-add saw a distinct prefix sum; reads return the bytes of a region set up
   * beforehand (read data is fetched as responses leave, so a read racing a later write
   * to the same bytes, or replayed after a loss, may see that write).
   */
  it.each([
    ["a flat host read latency", {}],
    // few tags and jitter: responses wait for their reads, duplicates read again
    ["host reads over PCIe (2 tags, jitter)", { responderDma: { ...PCIE_READ_DEFAULTS, tags: 2, readLatencyJitterNs: 300, prng: new Prng("lossy-pcie") } }],
  ] as const)("delivers every message exactly once, in order, byte-exact, with %s at the responder", (_name, responder) => {
    const t = backToBack({ delayPs: 2_000_000, prng: new Prng("lossy-wire"), drop: 0.04, duplicate: 0.03, reorder: 0.03 }, { dmaReadLatencyNs: 200, ...responder });
    const { a, b, sim, wire } = t;
    const { cqa, cqb, qa, qb } = pair(t, { mtu: 1024, timeout: 6, retryCount: 7, rnrRetry: 7, minRnrTimer: 1, window: 64 });
    const prng = new Prng("lossy-traffic");
    const sides: [HostNode, number, HostNode, number][] = [[a, qa, b, qb], [b, qb, a, qa]];
    const N = 150;
    const verify: (() => void)[] = [];
    for (const [src, sq, dst, dq] of sides) {
      const out = src.buffer(1 << 20);
      const win = dst.buffer(1 << 20);
      const rcv = dst.buffer(N * 4096);
      const ctr = dst.buffer(64);
      const res = src.buffer(N * 8);
      const back = src.buffer(1 << 20);
      const ro = dst.buffer(1 << 16);
      const roBytes = prng.bytes(1 << 16);
      dst.memory.write(ro.addr, roBytes);
      let sends = 0;
      let writeImms = 0;
      let added = 0n;
      const adds: bigint[] = [];
      const expectRecv: { opcode: number; imm: number; bytes: Uint8Array }[] = [];
      const written = new Uint8Array(1 << 20);
      let outOff = 0;
      let backOff = 0;
      for (let i = 0; i < N; i++) {
        const kind = prng.int(0, 4);
        const len = prng.int(1, 3000);
        const body = prng.bytes(len);
        if (outOff + len > out.addr + (1 << 20) - out.addr) outOff = 0;
        src.memory.write(out.addr + outOff, body);
        const s = [sge(out, outOff, len)];
        outOff += len;
        if (kind === 0) {
          dst.postRecv(dq, [sge(rcv, sends * 4096, 4096)]);
          body[0] = sends & 0xff;
          src.memory.write(out.addr + outOff - len, body);
          expectRecv.push({ opcode: CqeRecvOpcode.SEND, imm: 0, bytes: body.slice() });
          const slot = sends++;
          verify.push(() => expect(dst.memory.read(rcv.addr + slot * 4096, len)).toEqual(body));
          src.postSend(sq, { opcode: Op.SEND, sgl: s });
        } else if (kind === 1) {
          dst.postRecv(dq, []);
          const at = prng.int(0, (1 << 20) - len);
          written.set(body, at);
          expectRecv.push({ opcode: CqeRecvOpcode.RDMA_WRITE_IMM, imm: writeImms, bytes: new Uint8Array(0) });
          src.postSend(sq, { opcode: Op.RDMA_WRITE_IMM, imm: writeImms++, raddr: BigInt(win.addr + at), rkey: win.key, sgl: s });
        } else if (kind === 2) {
          const at = prng.int(0, (1 << 20) - len);
          written.set(body, at);
          src.postSend(sq, { opcode: Op.RDMA_WRITE, raddr: BigInt(win.addr + at), rkey: win.key, sgl: s });
        } else if (kind === 3) {
          const at = backOff;
          backOff += len;
          const from = prng.int(0, (1 << 16) - len);
          verify.push(() => expect(src.memory.read(back.addr + at, len)).toEqual(roBytes.subarray(from, from + len)));
          src.postSend(sq, { opcode: Op.RDMA_READ, raddr: BigInt(ro.addr + from), rkey: ro.key, sgl: [sge(back, at, len)] });
        } else {
          const add = BigInt(prng.int(1, 1000));
          adds.push(added);
          added += add;
          src.postSend(sq, { opcode: Op.ATOMIC_FA, raddr: BigInt(ctr.addr), rkey: ctr.key, swapAdd: add, sgl: [sge(res, 8 * (adds.length - 1), 8)] });
        }
        // every 16th WR signalled: completions must still come in order
        if (i % 16 === 15) src.postSend(sq, { opcode: Op.RDMA_WRITE, signalled: true, raddr: 0n, rkey: 0, sgl: [] });
      }
      verify.push(() => {
        expect(dst.memory.readU64Le(ctr.addr)).toBe(added);
        for (let k = 0; k < adds.length; k++) expect(src.memory.readU64Le(res.addr + 8 * k)).toBe(adds[k]);
        const rc = polled.get(dst)!.filter((c) => c.isSend === 0);
        expect(rc.map((c) => [c.opcode, c.imm, c.status])).toEqual(expectRecv.map((e) => [e.opcode, e.imm, 0]));
        const sent = polled.get(src)!.filter((c) => c.isSend === 1);
        expect(sent.map((c) => c.status).every((s) => s === 0)).toBe(true);
        expect(sent.map((c) => c.wqeIndex)).toEqual([...sent.map((c) => c.wqeIndex)].sort((x, y) => x - y));
        expect(sent).toHaveLength(Math.floor(N / 16));
        expect(dst.memory.read(win.addr, 1 << 20)).toEqual(written);
      });
    }
    sim.run();
    const polled = new Map([[a, a.poll(cqa)], [b, b.poll(cqb)]]);
    // the faults happened, and the transport recovered from them
    expect(wire.stats.dropped).toBeGreaterThan(20);
    expect(wire.stats.duplicated).toBeGreaterThan(10);
    expect(wire.stats.reordered).toBeGreaterThan(10);
    expect(a.engine.stats.retransmissions + b.engine.stats.retransmissions).toBeGreaterThan(20);
    expect(a.engine.qp(qa).state).toBe(QpState.RTS);
    expect(b.engine.qp(qb).state).toBe(QpState.RTS);
    // with the PCIe model, every READ and atomic (and the duplicates of READs) went through it
    if ("responderDma" in responder) for (const n of [a, b]) expect(n.engine.responderDma!.reads).toBeGreaterThan(40);
    for (const v of verify) v();
  });
});

describe("with the driver and the firmware", () => {
  it("takes keys from regMr, WQEs the driver wrote, and writes CQEs and EQEs the driver reads", async () => {
    const sim = new Simulator();
    const hosts = await Promise.all([0, 1].map(async (n) => {
      const memory = new HostMemory();
      const bus = new ModelDeviceBus();
      const uar = new MmioBar(sim, { name: `uar${n}`, sizeBytes: 8 * 4096 });
      uar.mapPages(0, 8, () => {});
      const dev = await openDevice({ firmware: new Firmware(bus), memory, uar });
      const ctx = dev.openContext();
      const pd = ctx.allocPd();
      const cq = await ctx.createCq(16);
      const qp = await ctx.createQp(pd, { sendCq: cq, recvCq: cq, maxSendWr: 8, maxRecvWr: 8 });
      await ctx.modifyQp(qp, { state: FwQpState.INIT });
      const engine = new TransportEngine({ sim, memory, tables: deviceBusTables(bus), name: `host${n}`, lid: n + 1 });
      engine.createEq({ eqn: dev.eqn, ring: dev.eqRing, logSize: 6 });
      engine.createCq({ cqn: cq.cqn, ring: cq.ring.addr, logSize: cq.logSize, eqn: dev.eqn });
      engine.createQp({ qpn: qp.qpn, type: "RC", pd: pd.pdn, sendCqn: cq.cqn, recvCqn: cq.cqn, logSqSize: qp.logSq, logRqSize: qp.logRq });
      return { memory, bus, dev, ctx, pd, cq, qp, engine };
    }));
    const [h0, h1] = hosts;
    new BackToBackWire(sim, h0.engine, h1.engine, { delayPs: 1_000_000 });
    for (const [h, peer] of [[h0, h1], [h1, h0]] as const) {
      await h.ctx.modifyQp(h.qp, { state: FwQpState.RTR, mtu: 3, remoteQpn: peer.qp.qpn, rqPsn: 7 });
      await h.ctx.modifyQp(h.qp, { state: FwQpState.RTS, sqPsn: 7 });
      h.engine.modifyQp(h.qp.qpn, { state: QpState.INIT });
      h.engine.modifyQp(h.qp.qpn, { state: QpState.RTR, mtu: 1024, remoteQpn: peer.qp.qpn, rqPsn: 7, path: { dlid: peer.engine.lid } });
      h.engine.modifyQp(h.qp.qpn, { state: QpState.RTS, sqPsn: 7 });
    }
    const srcAddr = h0.memory.alloc(8192, 4096);
    const src = await h0.ctx.regMr(h0.pd, srcAddr, 8192, Access.localWrite);
    const dstAddr = h1.memory.alloc(8192, 4096);
    const dst = await h1.ctx.regMr(h1.pd, dstAddr, 8192, Access.localWrite | Access.remoteWrite);
    const body = data(5000, 9);
    h0.memory.write(srcAddr, body);
    h1.engine.armCq(h1.cq.cqn);
    h1.ctx.postRecv(h1.qp, [{ sgl: [{ addr: BigInt(dstAddr + 6000), length: 2000, lkey: dst.lkey }] }]);
    const rqWqe = h1.memory.read(h1.qp.rqAddr, WQE_STRIDE);
    h1.engine.postRecv(h1.qp.qpn, toRecord(rqWqe, 1, 0));
    h0.ctx.postSend(h0.qp, [
      { opcode: WqeOpcode.RDMA_WRITE, signalled: true, raddr: BigInt(dstAddr), rkey: dst.rkey, sgl: [{ addr: BigInt(srcAddr), length: 5000, lkey: src.lkey }] },
      { opcode: WqeOpcode.SEND_IMM, signalled: true, imm: 0xcafe, sgl: [{ addr: BigInt(srcAddr), length: 1500, lkey: src.lkey }] },
    ]);
    for (let i = 0; i < 2; i++) {
      const wqe = h0.memory.read(h0.qp.sqAddr + i * WQE_STRIDE, WQE_STRIDE);
      h0.engine.postSend(h0.qp.qpn, toRecord(wqe, 0, ownerBitOf(i, h0.qp.logSq), i));
    }
    sim.run();
    expect(h1.memory.read(dstAddr, 5000)).toEqual(body);
    expect(h1.memory.read(dstAddr + 6000, 1500)).toEqual(body.subarray(0, 1500));
    const sent = h0.ctx.pollCq(h0.cq);
    expect(sent.map((c) => [c.isSend, c.opcode, c.wqeIndex, c.status])).toEqual([[true, WqeOpcode.RDMA_WRITE, 0, 0], [true, WqeOpcode.SEND_IMM, 1, 0]]);
    expect(h0.qp.sqTail).toBe(2);
    const recv = h1.ctx.pollCq(h1.cq);
    expect(recv.map((c) => [c.isSend, c.opcode, c.byteCount, c.imm])).toEqual([[false, CqeRecvOpcode.SEND_IMM, 1500, 0xcafe]]);
    // the completion event landed in the driver's EQ, software-owned
    expect(h1.memory.read(h1.dev.eqRing, 32)[31]).toBe(0x00);
    expect(h1.memory.read(h1.dev.eqRing + 4, 4)).toEqual(Uint8Array.of(0, 0, 0, h1.cq.cqn));
  });
});

/** a WQE from a ring, parsed as the wqe_fetch block parses it, as its WorkRequest record */
function toRecord(wqe: Uint8Array, kind: 0 | 1, owner: number, index = 0): Uint8Array {
  const r = parseWqe(wqe, kind, owner);
  if ("reason" in r) throw new Error(`WQE rejected: reason ${r.reason}`);
  const rec = WorkRequest.encode({ ...r.header, qpn: 0, kind, index });
  rec.set(r.payload, WR_HEADER_BYTES);
  return rec;
}
