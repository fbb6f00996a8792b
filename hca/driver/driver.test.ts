import { describe, expect, it } from "vitest";
import { HostMemory, MmioBar, type MmioWrite, Simulator } from "../../core/index.ts";
import { CqContext, DEFAULT_LIMITS, Firmware, ModelDeviceBus, QpContext, QpState, Status, toHex } from "../../firmware/index.ts";
import { CqCommand, CqDoorbell, DoorbellOffset, ReceiveDoorbell, SendDoorbell } from "../doorbell/formats.ts";
import {
  Access, decodeMpt, decodeMtt, encodeMpt, keyIndex, keyVariant, MptState, parseRecvWqe, parseSendWqe, WQE_STRIDE, WqeError, WqeOpcode,
  type SendWr,
} from "../formats/index.ts";
import { CQE_BYTES, encodeCqe, FirmwareCommandError, openDevice, SQ_SPARE_WQES, VerbsError, type Cq } from "./index.ts";
import type { Context } from "./context.ts";

/** hex (the device tables' snapshot form) → bytes */
function fromHex(h: string): Uint8Array {
  return Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));
}

const RSVD_MPT = 2 ** DEFAULT_LIMITS.logRsvdMrw;

async function setup() {
  const sim = new Simulator();
  const memory = new HostMemory();
  const bus = new ModelDeviceBus();
  const firmware = new Firmware(bus);
  const uar = new MmioBar(sim, { name: "uar", sizeBytes: 8 * 4096 });
  const doorbells: MmioWrite[] = [];
  uar.mapPages(0, 8, (w) => doorbells.push(w));
  const dev = await openDevice({ firmware, memory, uar });
  /** delivers every store in flight and returns those delivered */
  const drain = (): MmioWrite[] => {
    sim.run();
    return doorbells.splice(0);
  };
  return { sim, memory, bus, firmware, uar, dev, drain };
}

/** a user context with a PD, a CQ and an RC QP taken to RTS */
async function rtsQp(ctx: Context, maxSendWr = 3) {
  const pd = ctx.allocPd();
  const cq = await ctx.createCq(16);
  const qp = await ctx.createQp(pd, { sendCq: cq, recvCq: cq, maxSendWr, maxRecvWr: 4 });
  await ctx.modifyQp(qp, { state: QpState.INIT });
  await ctx.modifyQp(qp, { state: QpState.RTR, mtu: 5, remoteQpn: 0x42, rqPsn: 100 });
  await ctx.modifyQp(qp, { state: QpState.RTS, sqPsn: 200, retryCount: 7, rnrRetry: 7 });
  return { pd, cq, qp };
}

/** what a completion engine would do: one CQE at the CQ's next producer slot */
function writeCqe(memory: HostMemory, cq: Cq, pi: number, f: Parameters<typeof encodeCqe>[0]): void {
  memory.write(cq.ring.addr + (pi & (cq.size - 1)) * CQE_BYTES, encodeCqe(f, pi, cq.logSize));
}

describe("openDevice", () => {
  it("brings the HCA up through the HCR: QUERY_FW, QUERY_DEV_CAP, INIT_HCA, INIT_PORT per port, then the driver's EQ", async () => {
    const { dev, bus, firmware } = await setup();
    expect(dev.cmd.posted.slice(0, 5)).toEqual(["QUERY_FW", "QUERY_DEV_CAP", "INIT_HCA", "INIT_PORT", "INIT_PORT"]);
    expect(dev.cmd.posted).toContain("SW2HW_EQ");
    expect(dev.cmd.posted).toContain("MAP_EQ");
    expect(firmware.hcaState).toBe("initialised");
    expect(dev.fw).toMatchObject({ major: 1, minor: 0, maxCommands: 1 });
    expect(dev.caps.reservedMpts).toBe(RSVD_MPT);
    expect(dev.caps.reservedQps).toBe(2 ** DEFAULT_LIMITS.logRsvdQp);
    const t = bus.snapshot();
    expect(t.sizes).toEqual(dev.sizes);
    expect(t.portsUp).toEqual([1, 2]);
    expect(t.eq.map(([i]) => i)).toEqual([dev.eqn]);
    expect(dev.eqn).toBe(2 ** DEFAULT_LIMITS.logRsvdEq); // the first usable EQ, not a reserved one
    expect(t.eventMap).toEqual([[0, dev.eqn]]);
    expect(dev.kernel.uarPage).toBe(0);
    expect(dev.openContext().uarPage).toBe(1);
  });
});

describe("verbs against the firmware's tables", () => {
  it("regMr writes the MTT and an MPT entry the device holds exactly as the driver meant", async () => {
    const { dev, bus, memory } = await setup();
    const ctx = dev.openContext();
    const pd = ctx.allocPd();
    const buf = memory.alloc(3 * 4096, 4096) + 0x100; // spans 4 pages
    const mr = await ctx.regMr(pd, buf, 3 * 4096, Access.localWrite | Access.remoteRead);
    expect(mr.index).toBeGreaterThanOrEqual(RSVD_MPT);
    expect(keyIndex(mr.lkey)).toBe(mr.index);
    expect(mr.rkey).toBe(mr.lkey);
    const t = bus.snapshot();
    const entry = t.mpt.find(([i]) => i === mr.index)!;
    expect(entry[1]).toBe(
      toHex(encodeMpt({ state: MptState.valid, access: 3, variant: mr.variant, pd: pd.pdn, log2PageSize: 12, start: BigInt(buf), length: 3n * 4096n, mttBase: mr.mttBase })),
    );
    expect(mr.mttCount).toBe(4);
    const mtts = t.mtt.filter(([i]) => i >= mr.mttBase && i < mr.mttBase + 4).map(([, h]) => decodeMtt(fromHex(h)));
    expect(mtts).toEqual([0, 1, 2, 3].map((p) => ({ addr: BigInt(buf - 0x100 + p * 4096), present: true })));
    expect(mr.mttBase).toBeGreaterThanOrEqual(dev.caps.reservedMtts);
  });

  it("createCq and createQp + modifyQp put the contexts the driver built into the device tables", async () => {
    const { dev, bus, firmware } = await setup();
    const ctx = dev.openContext();
    const { pd, cq, qp } = await rtsQp(ctx);
    const t = bus.snapshot();
    const cqHex = t.cq.find(([i]) => i === cq.cqn)![1];
    const c = CqContext.decode(fromHex(cqHex));
    expect(c).toMatchObject({ cqn: cq.cqn, log_size: 4, uar: ctx.uarPage, comp_eqn: dev.eqn, lkey: cq.ring.mr.lkey });
    expect(c.start).toBe(BigInt(cq.ring.addr));
    const q = QpContext.decode(fromHex(t.qp.find(([i]) => i === qp.qpn)![1]));
    expect(q).toMatchObject({
      state: QpState.RTS, st: 0, uar: ctx.uarPage, pd: pd.pdn, send_cqn: cq.cqn, recv_cqn: cq.cqn, local_qpn: qp.qpn, remote_qpn: 0x42,
      mtu: 5, sq_psn: 200, rq_psn: 100, log_sq_size: qp.logSq, log_rq_size: qp.logRq, wqe_lkey: qp.ring.mr.lkey, port: 1,
    });
    expect(q.wqe_base).toBe(BigInt(qp.ring.addr));
    expect(qp.qpn).toBeGreaterThanOrEqual(dev.caps.reservedQps);
    expect(firmware.qpState(qp.qpn)).toBe(QpState.RTS);
    // the QP's ring is registered in its own PD
    expect(decodeMpt(fromHex(t.mpt.find(([i]) => i === qp.ring.mr.index)![1])).pd).toBe(pd.pdn);
  });

  it("modifyQp: →ERR and →RESET use 2ERR and 2RST; RESET clears the context and the QP can come up again", async () => {
    const { dev, bus, firmware } = await setup();
    const ctx = dev.openContext();
    const { qp } = await rtsQp(ctx);
    await ctx.modifyQp(qp, { state: QpState.RTS, sqPsn: 300 });
    await ctx.modifyQp(qp, { state: QpState.ERR });
    expect(firmware.qpState(qp.qpn)).toBe(QpState.ERR);
    await ctx.modifyQp(qp, { state: QpState.RESET });
    expect(firmware.qpState(qp.qpn)).toBe(QpState.RESET);
    expect(bus.snapshot().qp.find(([i]) => i === qp.qpn)).toBeUndefined();
    await ctx.modifyQp(qp, { state: QpState.INIT });
    expect(firmware.qpState(qp.qpn)).toBe(QpState.INIT);
    await expect(ctx.modifyQp(qp, { state: QpState.RTS })).rejects.toBeInstanceOf(VerbsError);
    expect(dev.cmd.posted.slice(-4)).toEqual(["RTS2RTS_QP", "2ERR_QP", "2RST_QP", "RST2INIT_QP"]);
  });

  it("regMr → deregMr → regMr reuses the MPT index with a new variant, so the stale key no longer matches", async () => {
    const { dev, bus, memory } = await setup();
    const ctx = dev.openContext();
    const pd = ctx.allocPd();
    const buf = memory.alloc(4096, 4096);
    const a = await ctx.regMr(pd, buf, 4096, Access.remoteWrite);
    await ctx.deregMr(a);
    expect(bus.snapshot().mpt.find(([i]) => i === a.index)).toBeUndefined();
    const b = await ctx.regMr(pd, buf, 4096, Access.remoteWrite);
    expect(b.index).toBe(a.index);
    expect(b.variant).not.toBe(a.variant);
    expect(b.rkey).not.toBe(a.rkey);
    const hw = decodeMpt(fromHex(bus.snapshot().mpt.find(([i]) => i === b.index)![1]));
    expect(hw.variant).toBe(keyVariant(b.rkey));
    expect(hw.variant).not.toBe(keyVariant(a.rkey));
    // and again: every re-registration moves it on
    await ctx.deregMr(b);
    const c = await ctx.regMr(pd, buf, 4096, Access.remoteWrite);
    expect(new Set([a.rkey, b.rkey, c.rkey]).size).toBe(3);
  });

  it("a firmware error surfaces as FirmwareCommandError naming the command and status, and changes nothing", async () => {
    const { dev, bus, firmware } = await setup();
    const ctx = dev.openContext();
    const pd = ctx.allocPd();
    const cq = await ctx.createCq(4);
    const qp = await ctx.createQp(pd, { sendCq: cq, recvCq: cq, maxSendWr: 2, maxRecvWr: 2, port: 3 }); // the device has 2 ports
    const before = bus.snapshot();
    const fwBefore = firmware.snapshot();
    const err = await ctx.modifyQp(qp, { state: QpState.INIT }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FirmwareCommandError);
    const fe = err as FirmwareCommandError;
    expect(fe.command).toBe("RST2INIT_QP");
    expect(fe.status).toBe(Status.BAD_PARAM);
    expect(fe.statusName).toBe("BAD_PARAM");
    expect(fe.message).toMatch(/RST2INIT_QP.*BAD_PARAM/);
    expect(qp.state).toBe(QpState.RESET);
    expect(bus.snapshot()).toEqual(before);
    expect(firmware.snapshot()).toEqual(fwBefore);
    // a second kind: INIT2RTR without a path MTU
    const ok = await ctx.createQp(pd, { sendCq: cq, recvCq: cq, maxSendWr: 2, maxRecvWr: 2 });
    await ctx.modifyQp(ok, { state: QpState.INIT });
    await expect(ctx.modifyQp(ok, { state: QpState.RTR })).rejects.toMatchObject({ command: "INIT2RTR_QP", status: Status.BAD_PARAM });
    // and a deregister of a region the hardware no longer owns
    const mr = await ctx.regMr(pd, dev.memory.alloc(64), 64, 0);
    await ctx.deregMr(mr);
    await expect(ctx.deregMr(mr)).rejects.toMatchObject({ command: "HW2SW_MPT", status: Status.BAD_RES_STATE });
  });
});

describe("postSend / postRecv / pollCq / doorbells", () => {
  it("postSend writes WQEs that parse back to the work requests, with the owner bit flipping every lap", async () => {
    const { dev, memory, drain } = await setup();
    const ctx = dev.openContext();
    const { cq, qp } = await rtsQp(ctx, 3); // 4 slots (3 + 1 spare)
    const size = 2 ** qp.logSq;
    expect(size).toBe(4);
    const owners: number[] = [];
    let pi = 0;
    for (let n = 0; n < 10; n++) {
      const wr: SendWr = n % 2 === 0
        ? { opcode: WqeOpcode.RDMA_WRITE, signalled: true, raddr: 0x1234_5678_9000n + BigInt(n), rkey: 0xabcd00 + n, sgl: [{ addr: 0x1_0000_0000n, length: 100 + n, lkey: 0x1100 }] }
        : { opcode: WqeOpcode.SEND_IMM, signalled: true, solicited: true, imm: 0xdead0000 + n, inline: Uint8Array.of(1, 2, 3, n) };
      ctx.postSend(qp, [wr]);
      const slot = memory.read(qp.sqAddr + (n % size) * WQE_STRIDE, WQE_STRIDE);
      const p = parseSendWqe(slot, (n >>> qp.logSq) & 1);
      expect("error" in p).toBe(false);
      if ("error" in p) return;
      owners.push(p.owner);
      expect(p.opcode).toBe(wr.opcode);
      expect(p.signalled).toBe(true);
      if (wr.sgl) {
        expect(p.raddr).toBe(wr.raddr);
        expect(p.rkey).toBe(wr.rkey);
        expect(p.sgl).toEqual(wr.sgl);
      } else {
        expect(p.imm).toBe(wr.imm);
        expect(p.solicited).toBe(true);
        expect([...p.inline!]).toEqual([...wr.inline!]);
      }
      // the doorbell: this context's page, the send offset, the new producer counter
      const [db] = drain();
      expect(db.page).toBe(ctx.uarPage);
      expect(db.pageOffset).toBe(DoorbellOffset.send);
      expect(SendDoorbell.decode(db.bytes)).toMatchObject({ qpn: qp.qpn, counter: n + 1, opcode: wr.opcode });
      // the hardware completes it
      writeCqe(memory, cq, pi++, { qpn: qp.qpn, isSend: true, opcode: wr.opcode, wqeIndex: n });
      expect(ctx.pollCq(cq)).toHaveLength(1);
      drain();
    }
    expect(owners).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
  });

  it("stamps the slot ahead so a stale WQE from the previous lap is rejected by its owner bit", async () => {
    const { dev, memory } = await setup();
    const ctx = dev.openContext();
    const { qp } = await rtsQp(ctx, 3);
    // fresh ring: every slot is stale for its lap-0 WQE
    for (let i = 0; i < 4; i++) {
      expect(parseSendWqe(memory.read(qp.sqAddr + i * WQE_STRIDE, WQE_STRIDE), 0)).toEqual({ error: WqeError.staleOwner });
    }
    ctx.postSend(qp, [{ opcode: WqeOpcode.SEND, sgl: [{ addr: 0x1000n, length: 8, lkey: 0x1100 }] }]);
    // slot 1 (counter 1 + 0 laps) was stamped: owner invalid, every basic block's first word set
    const s1 = memory.read(qp.sqAddr + SQ_SPARE_WQES * WQE_STRIDE, WQE_STRIDE);
    expect(new DataView(s1.buffer).getUint32(0)).toBe(0xffff_ffff);
    expect(new DataView(s1.buffer).getUint32(64)).toBe(0xffff_ffff);
    // the WQE just posted is valid for lap 0 and stale for lap 1
    const s0 = memory.read(qp.sqAddr, WQE_STRIDE);
    expect("error" in parseSendWqe(s0, 0)).toBe(false);
    expect(parseSendWqe(s0, 1)).toEqual({ error: WqeError.staleOwner });
  });

  it("refuses a send beyond the queue's capacity (the spare slot stays free)", async () => {
    const { dev } = await setup();
    const ctx = dev.openContext();
    const { qp } = await rtsQp(ctx, 3);
    const wr: SendWr = { opcode: WqeOpcode.NOP };
    ctx.postSend(qp, [wr, wr, wr]);
    expect(() => ctx.postSend(qp, [wr])).toThrow(VerbsError);
  });

  it("postRecv writes receive WQEs and rings the receive doorbell with the counter and count", async () => {
    const { dev, memory, drain } = await setup();
    const ctx = dev.openContext();
    const { qp } = await rtsQp(ctx);
    const sgl = [{ addr: 0x2_0000_0000n, length: 4096, lkey: 0x1200 }, { addr: 0x2_0000_1000n, length: 64, lkey: 0x1201 }];
    ctx.postRecv(qp, [{ sgl }, { sgl: sgl.slice(0, 1) }]);
    expect(parseRecvWqe(memory.read(qp.rqAddr, WQE_STRIDE))).toEqual(sgl);
    expect(parseRecvWqe(memory.read(qp.rqAddr + WQE_STRIDE, WQE_STRIDE))).toEqual(sgl.slice(0, 1));
    const [db] = drain();
    expect(db.page).toBe(ctx.uarPage);
    expect(db.pageOffset).toBe(DoorbellOffset.receive);
    expect(ReceiveDoorbell.decode(db.bytes)).toMatchObject({ qpn: qp.qpn, counter: 2, nreq: 2 });
  });

  it("each context rings its own UAR page; the kernel rings page 0", async () => {
    const { dev, drain } = await setup();
    const a = dev.openContext();
    const b = dev.openContext();
    const qa = await rtsQp(a);
    const qb = await rtsQp(b);
    const qk = await rtsQp(dev.kernel);
    a.postSend(qa.qp, [{ opcode: WqeOpcode.NOP }]);
    b.postSend(qb.qp, [{ opcode: WqeOpcode.NOP }, { opcode: WqeOpcode.NOP }]);
    dev.kernel.postSend(qk.qp, [{ opcode: WqeOpcode.NOP }]);
    const got = drain().map((w) => [w.page, SendDoorbell.decode(w.bytes).qpn, SendDoorbell.decode(w.bytes).counter]);
    expect(got).toEqual([[a.uarPage, qa.qp.qpn, 1], [b.uarPage, qb.qp.qpn, 2], [0, qk.qp.qpn, 1]]);
    expect(new Set([0, a.uarPage, b.uarPage]).size).toBe(3);
  });

  it("pollCq reads CQEs by owner bit across laps and reports the consumer index; reqNotifyCq arms the CQ", async () => {
    const { dev, memory, drain } = await setup();
    const ctx = dev.openContext();
    const { cq, qp } = await rtsQp(ctx);
    expect(ctx.pollCq(cq)).toEqual([]); // a fresh ring holds nothing valid
    expect(drain()).toEqual([]); // and no SET_CI doorbell for nothing
    for (let lap = 0; lap < 2; lap++) {
      for (let i = 0; i < cq.size; i++) {
        writeCqe(memory, cq, lap * cq.size + i, { qpn: qp.qpn, isSend: false, opcode: WqeOpcode.SEND, wqeIndex: i, byteCount: 10 + i });
      }
      const wcs = ctx.pollCq(cq, 100);
      expect(wcs.map((w) => w.byteCount)).toEqual(Array.from({ length: cq.size }, (_, i) => 10 + i));
      expect(ctx.pollCq(cq)).toEqual([]); // the entries just read are stale for the next lap
      const [db] = drain();
      expect(db.pageOffset).toBe(DoorbellOffset.cq);
      expect(CqDoorbell.decode(db.bytes)).toMatchObject({ cqn: cq.cqn, cmd: CqCommand.setCi, ci: (lap + 1) * cq.size });
    }
    ctx.reqNotifyCq(cq);
    ctx.ackCqEvent(cq);
    ctx.reqNotifyCq(cq, true);
    const arms = drain().map((w) => ({ page: w.page, ...CqDoorbell.decode(w.bytes) }));
    expect(arms).toMatchObject([
      { page: ctx.uarPage, cqn: cq.cqn, cmd: CqCommand.reqNot, sn: 0, ci: 2 * cq.size },
      { page: ctx.uarPage, cqn: cq.cqn, cmd: CqCommand.reqNotSol, sn: 1 },
    ]);
  });
});

describe("teardown", () => {
  it("destroyQp and destroyCq hand everything back to software", async () => {
    const { dev, bus } = await setup();
    const before = bus.snapshot();
    const ctx = dev.openContext();
    const { cq, qp } = await rtsQp(ctx);
    await ctx.destroyQp(qp);
    await ctx.destroyCq(cq);
    const after = bus.snapshot();
    expect(after.qp).toEqual(before.qp);
    expect(after.cq).toEqual(before.cq);
    expect(after.mpt).toEqual(before.mpt);
  });
});

