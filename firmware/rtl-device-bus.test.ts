/**
 * The firmware against the RTL tables: the whole firmware suite with the tpt and doorbell
 * RTL as the device bus, then what only an RTL bus can show.
 */
import { afterEach, describe, expect, it } from "vitest";
import { HostMemory, MmioBar, Simulator } from "../core/index.ts";
import { Access, cfgMptWrite } from "../hca/formats/index.ts";
import { openDevice } from "../hca/driver/index.ts";
import { CfgTable, cfgRead, CfgWrite } from "../hca/doorbell/formats.ts";
import { InitHcaIn, QpState, Status, statusName } from "./commands.ts";
import { Firmware } from "./firmware.ts";
import { firmwareSuite, FIRST, mptEntry, Rig, SUITE_INIT } from "./firmware-suite.ts";
import { RtlDeviceBus } from "./rtl-device-bus.ts";

firmwareSuite("RTL", () => RtlDeviceBus.start());

describe("RtlDeviceBus", () => {
  const buses: RtlDeviceBus[] = [];
  const start = async (o: Parameters<typeof RtlDeviceBus.start>[0] = {}) => {
    const b = await RtlDeviceBus.start(o);
    buses.push(b);
    return b;
  };
  afterEach(async () => {
    for (const b of buses.splice(0)) await b.close();
  });

  it("the snapshot is read from the RTL: a table write that bypasses the firmware shows up, a firmware write the RTL lost goes missing", async () => {
    const bus = await start();
    const r = new Rig(bus);
    await r.bringUp();
    const before = await r.state();
    expect(before.device.mpt.map(([i]) => i)).toEqual(before.firmware.mpt.map(([i]) => i));
    // an MPT written straight into the tpt RTL
    await bus.session("tpt").transact([{ port: "s_cfg", data: cfgMptWrite(FIRST.mpt + 3, mptEntry({ variant: 9 })) }]);
    expect((await bus.snapshot()).mpt.map(([i]) => i)).toEqual([FIRST.mpt, FIRST.mpt + 3]);
    // the doorbell RTL reset behind the firmware's back: the CQ it held is gone from the device's view
    await bus.session("doorbell").reset();
    const after = await r.state();
    expect(after.device.cq).toEqual([]);
    expect(after.firmware.cq.map(([i]) => i)).toEqual([FIRST.cq]);
  });

  it("QP and CQ ownership reach the doorbell RTL with the UAR page of their contexts", async () => {
    const bus = await start();
    const r = new Rig(bus);
    await r.bringUp();
    await r.qpTo(FIRST.qp, QpState.RTS);
    const s = bus.session("doorbell");
    const reads = await s.transact([CfgTable.qp, CfgTable.cq].map((t) => ({ port: "s_cfg", data: cfgRead(t, t === CfgTable.qp ? FIRST.qp : FIRST.cq) })), { expect: { m_cfg_rd: 2 } });
    // the suite's contexts name UAR page 1
    expect(reads.outputs.m_cfg_rd!.map((a) => CfgWrite.decode(a.data)).map((a) => [a.valid, a.uar])).toEqual([[1, 1], [1, 1]]);
    await r.ok("2RST_QP", { inModifier: FIRST.qp, opModifier: 3 });
    const again = await s.transact([{ port: "s_cfg", data: cfgRead(CfgTable.qp, FIRST.qp) }], { expect: { m_cfg_rd: 1 } });
    expect(CfgWrite.decode(again.outputs.m_cfg_rd![0]!.data).valid).toBe(0);
  });

  it("INIT_HCA larger than the RTL's tables: refused with EXCEED_LIM under the bus's limits, and never configured silently", async () => {
    const bus = await start({ doorbellParams: { QP_ENTRIES: 16 } });
    expect(bus.capacity.qps).toBe(16);
    // a firmware told the RTL's limits refuses the command itself
    const fw = new Firmware(bus, { limits: bus.limits() });
    const big = { opcode: 0x007, opModifier: 0, inParam: 0n, inModifier: 0, token: 0, inbox: InitHcaIn.encode({ ...SUITE_INIT, log_num_qps: 6 }) };
    expect(statusName((await fw.execute(big)).status)).toBe("EXCEED_LIM");
    // one that is not fails the command, and the bus says why
    const blind = new Firmware(bus);
    expect(statusName((await blind.execute(big)).status)).toBe("INTERNAL_ERR");
    expect(bus.lastError?.message).toBe("INIT_HCA asks for 64 QP entries; the doorbell RTL holds QP_ENTRIES=16 (start the firmware with RtlDeviceBus.limits(), or build the block larger)");
    expect((await bus.snapshot()).sizes).toBeNull();
    expect((await fw.execute({ ...big, inbox: InitHcaIn.encode({ ...SUITE_INIT, log_num_qps: 4 }) })).status).toBe(Status.OK);
  });

  it("the driver brings the adapter up within the RTL's tables when the firmware reports them", async () => {
    const bus = await start();
    const sim = new Simulator();
    const uar = new MmioBar(sim, { name: "uar", sizeBytes: 8 * 4096 });
    const dev = await openDevice({ firmware: new Firmware(bus, { limits: bus.limits() }), memory: new HostMemory(), uar });
    expect(dev.sizes.qps).toBeLessThanOrEqual(bus.capacity.qps);
    expect(dev.sizes.mtts).toBeLessThanOrEqual(bus.capacity.mtts);
    const ctx = dev.openContext();
    const mr = await ctx.regMr(ctx.allocPd(), 0x10_0000, 3 * 4096, Access.localWrite);
    expect((await bus.snapshot()).mpt.map(([i]) => i)).toContain(mr.index);
  });
});
