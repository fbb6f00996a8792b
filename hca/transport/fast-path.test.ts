/**
 * The stages' fast path (TransportConfig.fastPath) against their state machines: the same
 * traffic run both ways must put the same packets on the wire at the same times, leave the
 * same bytes in both hosts' memory, write the same CQEs and count the same. Traffic: every
 * operation at several lengths, work-request slots refilled with the same buffers, an
 * invalidated L_Key reused, a bad R_Key, a missing right, RNR, over a clean wire and a
 * lossy one (drops, duplicates, reordering: duplicates, sequence NAKs, retransmissions).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { HostMemory, Prng, toHex, type HostMemorySnapshot } from "../../core/index.ts";
import { Access, ACCESS_ALL, WcStatus } from "../formats/index.ts";
import {
  backToBack, Completer, CompState, connectRc, QpState, Requester, ReqState, Responder, RespState, TransportPacket, TransportWqeOpcode as Op,
  type Cqe, type HostNode, type WireOptions,
} from "./index.ts";

interface Outcome {
  /** every packet put on the wire: time, sender, bytes */
  wire: string[];
  memory: HostMemorySnapshot[];
  /** CQEs polled after each round, per host */
  cqes: Cqe[][];
  stats: unknown[];
  events: number;
  now: number;
}

const sge = (buf: { addr: number; key: number }, off: number, length: number) => ({ addr: BigInt(buf.addr + off), length, lkey: buf.key });

/** one run of the whole traffic; `tap` records the wire (reading a packet copies a payload held by reference) */
function run(fastPath: boolean, wireOptions: Partial<WireOptions>, tap: boolean): Outcome {
  const t = backToBack({ delayPs: 700_000, ...wireOptions }, { fastPath, dmaReadLatencyNs: 300 });
  const { sim, a, b, wire } = t;
  const log: string[] = [];
  if (tap) wire.tap = (from, pkt) => log.push(`${sim.now} ${from.name} ${toHex(pkt.bytes)}`);
  const cqa = a.cq(12);
  const cqb = b.cq(12);
  const rc = { mtu: 1024, timeout: 6, retryCount: 7, rnrRetry: 7, minRnrTimer: 1, window: 8, ackReqEvery: 3 };
  // p1: the mixed traffic, both ways; p2: a bad R_Key, then a missing right; p3: RNR until it gives up; p4: an invalidated L_Key
  const pairs = [0, 1, 2, 3].map(() => [a.qp("RC", cqa, cqa, 5), b.qp("RC", cqb, cqb, 5)] as const);
  pairs.forEach(([qa, qb], i) => connectRc(a, qa, b, qb, i === 2 ? { ...rc, rnrRetry: 2 } : rc));
  const prng = new Prng("fast-path-traffic");
  const hosts: [HostNode, HostNode, number, number][] = [[a, b, pairs[0][0], pairs[0][1]], [b, a, pairs[0][1], pairs[0][0]]];
  const region = (n: HostNode, bytes: number, access = ACCESS_ALL) => n.buffer(bytes, access);
  const bufs = hosts.map(([src, dst]) => ({
    out: region(src, 1 << 16), back: region(src, 1 << 16), res: region(src, 4096),
    win: region(dst, 1 << 16), rcv: region(dst, 1 << 16), ctr: region(dst, 64), ro: region(dst, 1 << 16, Access.remoteRead | Access.localWrite),
  }));
  hosts.forEach(([src, dst], i) => {
    src.memory.write(bufs[i].out.addr, prng.bytes(1 << 16));
    dst.memory.write(bufs[i].ro.addr, prng.bytes(1 << 16));
  });
  const cqes: Cqe[][] = [];
  const settle = () => {
    sim.run();
    cqes.push(a.poll(cqa), b.poll(cqb));
  };
  // the same work requests posted round after round: slots are refilled with the same buffers
  const script = Array.from({ length: 40 }, () => ({ kind: prng.int(0, 7), len: [0, 1, 3, 1024, 1025, 2048, 3000][prng.int(0, 6)], off: prng.int(0, 4000), signalled: prng.bool(0.3), fence: prng.bool(0.1) }));
  for (let round = 0; round < 5; round++) {
    hosts.forEach(([src, dst, sq, dq], h) => {
      const { out, back, res, win, rcv, ctr, ro } = bufs[h];
      script.forEach(({ kind, len, off, signalled, fence }, i) => {
        const s = [sge(out, off, len)];
        const common = { signalled, fence };
        if (kind === 0) {
          dst.postRecv(dq, [sge(rcv, (i % 8) * 4096, 4096)]);
          src.postSend(sq, { ...common, opcode: Op.SEND, sgl: s });
        } else if (kind === 1) {
          dst.postRecv(dq, [sge(rcv, (i % 8) * 4096, 4096)]);
          src.postSend(sq, { ...common, opcode: Op.SEND_IMM, imm: i, solicited: true, sgl: s });
        } else if (kind === 2) {
          dst.postRecv(dq, []);
          src.postSend(sq, { ...common, opcode: Op.RDMA_WRITE_IMM, imm: round, raddr: BigInt(win.addr + off), rkey: win.key, sgl: s });
        } else if (kind === 3) {
          src.postSend(sq, { ...common, opcode: Op.RDMA_READ, raddr: BigInt(ro.addr + off), rkey: ro.key, sgl: [sge(back, off, len)] });
        } else if (kind === 4) {
          src.postSend(sq, { ...common, opcode: Op.ATOMIC_FA, raddr: BigInt(ctr.addr), rkey: ctr.key, swapAdd: BigInt(i), sgl: [sge(res, 8 * i, 8)] });
        } else if (kind === 5) {
          dst.postRecv(dq, [sge(rcv, (i % 8) * 4096, 4096)]);
          src.postSend(sq, { ...common, opcode: Op.SEND, inline: src.memory.read(out.addr + off, Math.min(len, 100)) });
        } else {
          src.postSend(sq, { ...common, opcode: Op.RDMA_WRITE, raddr: BigInt(win.addr + off), rkey: win.key, sgl: s });
        }
        // a window's worth at a time: the send queue holds 32
        if (i % 16 === 15) settle();
      });
      settle();
      // the application rewrites its send buffer between rounds, once everything completed
      src.memory.write(out.addr + 100 * round, prng.bytes(3000));
    });
  }
  // p2: a READ, a WRITE to a region without the remote write right (NAK, error state), then flushes
  const [e1a, e1b] = pairs[1];
  const dst2 = region(b, 8192, Access.localWrite | Access.remoteRead);
  const src2 = region(a, 8192);
  a.postSend(e1a, { opcode: Op.RDMA_READ, raddr: BigInt(dst2.addr), rkey: dst2.key, sgl: [sge(src2, 0, 100)] });
  a.postSend(e1a, { opcode: Op.RDMA_WRITE, raddr: BigInt(dst2.addr), rkey: dst2.key, sgl: [sge(src2, 0, 100)] });
  a.postSend(e1a, { opcode: Op.RDMA_WRITE, signalled: true, raddr: BigInt(dst2.addr), rkey: 0xabcd00, sgl: [sge(src2, 0, 100)] });
  a.postSend(e1a, { opcode: Op.RDMA_WRITE, signalled: true, raddr: BigInt(dst2.addr), rkey: dst2.key, sgl: [sge(src2, 0, 100)] });
  settle();
  expect(b.engine.qp(e1b).state).toBe(QpState.ERR);
  // p3: SENDs with one receive posted: RNR NAKs, retries, then RNR retry exceeded
  const [rnA, rnB] = pairs[2];
  b.postRecv(rnB, [sge(bufs[0].rcv, 0, 4096)]);
  for (let i = 0; i < 3; i++) a.postSend(rnA, { opcode: Op.SEND, signalled: true, sgl: [sge(bufs[0].out, 0, 1500)] });
  settle();
  // p4: a slot refilled with the same buffer after its region was invalidated must fail
  const [lkA] = pairs[3];
  const gone = region(a, 4096);
  const dst4 = region(b, 4096);
  for (let i = 0; i < 48; i++) {
    a.postSend(lkA, { opcode: Op.RDMA_WRITE, signalled: i === 47, raddr: BigInt(dst4.addr), rkey: dst4.key, sgl: [sge(gone, 0, 64)] });
    if (i % 16 === 15) settle();
  }
  a.tables.invalidateMpt(gone.key >>> 8);
  a.postSend(lkA, { opcode: Op.RDMA_WRITE, signalled: true, raddr: BigInt(dst4.addr), rkey: dst4.key, sgl: [sge(gone, 0, 64)] });
  settle();
  expect(cqes.at(-2)).toMatchObject([{ status: WcStatus.localProtectionError }]);
  return {
    wire: log,
    memory: [a.memory.snapshot(), b.memory.snapshot()],
    cqes,
    stats: [a.engine.stats, b.engine.stats, { ...wire.stats }, a.engine.prot.bytesRead, b.engine.prot.bytesWritten],
    events: sim.eventsProcessed,
    now: sim.now,
  };
}

function expectSame(fast: Outcome, slow: Outcome): void {
  expect(fast.wire.length).toBe(slow.wire.length);
  for (let i = 0; i < fast.wire.length; i++) if (fast.wire[i] !== slow.wire[i]) expect(fast.wire[i]).toBe(slow.wire[i]);
  fast.memory.forEach((m, i) => expect(HostMemory.diffSnapshots(m, slow.memory[i], 4)).toEqual([]));
  expect(fast.cqes).toEqual(slow.cqes);
  expect(fast.stats).toEqual(slow.stats);
  expect([fast.events, fast.now]).toEqual([slow.events, slow.now]);
}

/** how often each stage's fast path took a packet (returned anything but its general start) */
function countFastPath() {
  const spy = <T extends object>(proto: T, name: string, general: number) => {
    const s = vi.spyOn(proto as unknown as Record<string, (...a: unknown[]) => number>, name);
    return () => s.mock.results.filter((r) => r.value !== general).length;
  };
  const responder = spy(Responder.prototype, "inOrder", RespState.GET_REQ);
  const requester = spy(Requester.prototype, "inOrder", ReqState.GET_WQE);
  const completer = spy(Completer.prototype, "plainAck", CompState.GET_ACK);
  const byReference = vi.spyOn(TransportPacket.prototype, "referPayload");
  return () => ({ responder: responder(), requester: requester(), completer: completer(), byReference: byReference.mock.calls.length });
}

const CLEAN = (): Partial<WireOptions> => ({});
const LOSSY = (): Partial<WireOptions> => ({ prng: new Prng("fast-path-wire"), drop: 0.03, duplicate: 0.03, reorder: 0.03 });

describe("fast path and state machines", () => {
  afterEach(() => vi.restoreAllMocks());

  for (const [name, wire] of [["a clean wire", CLEAN], ["a lossy wire", LOSSY]] as const) {
    it(`give the same packets, memory, CQEs and counts over ${name}`, () => {
      const counts = countFastPath();
      const slow = run(false, wire(), true);
      expect(counts()).toMatchObject({ responder: 0, requester: 0, completer: 0 });
      const fast = run(true, wire(), true);
      const taken = counts();
      expect(taken.responder).toBeGreaterThan(400);
      expect(taken.requester).toBeGreaterThan(400);
      expect(taken.completer).toBeGreaterThan(100);
      expect(slow.wire.length).toBeGreaterThan(800);
      expectSame(fast, slow);
    });
  }
});

describe("payloads by reference", () => {
  afterEach(() => vi.restoreAllMocks());

  it("land as payloads copied into their packets do (a wire tap reads, and so copies, every packet)", () => {
    const counts = countFastPath();
    const copied = run(true, LOSSY(), true);
    const held = counts().byReference;
    const byReference = run(true, LOSSY(), false);
    expect(counts().byReference - held).toBeGreaterThan(400);
    expectSame({ ...byReference, wire: copied.wire }, copied);
  });
});
