import { afterEach, describe, expect, it } from "vitest";
import { InitHcaIn, QueryFwOut, Status, command, type FirmwareCommand } from "./commands.ts";
import { ModelDeviceBus } from "./device-bus.ts";
import { eqContext, FIRST, mptEntry, mttBox, SUITE_INIT } from "./firmware-suite.ts";
import { startFirmwareWorker, type FirmwareWorker } from "./thread.ts";
import { encodeMpt } from "../hca/formats/index.ts";

const cmd = (name: string, c: Partial<FirmwareCommand> = {}): FirmwareCommand => ({ opcode: command(name).opcode, opModifier: 0, inParam: 0n, inModifier: 0, token: 0, ...c });

describe("firmware in a worker thread (comlink)", () => {
  let worker: FirmwareWorker | undefined;
  afterEach(async () => {
    await worker?.terminate();
    worker = undefined;
  });

  it("runs commands in the worker and programs the bus in this thread through a proxy", async () => {
    const bus = new ModelDeviceBus();
    worker = await startFirmwareWorker(bus);
    const fw = await worker.execute(cmd("QUERY_FW"));
    expect(QueryFwOut.decode(fw.outbox!).fw_major).toBe(1);
    expect((await worker.execute(cmd("INIT_HCA", { inbox: InitHcaIn.encode(SUITE_INIT) }))).status).toBe(Status.OK);
    // several commands in flight at once: the firmware runs them in order
    const results = await Promise.all([
      worker.execute(cmd("INIT_PORT", { inModifier: 1 })),
      worker.execute(cmd("SW2HW_EQ", { inModifier: FIRST.eq, inbox: eqContext() })),
      worker.execute(cmd("WRITE_MTT", { inModifier: 2, inbox: mttBox(FIRST.mtt, [0x1000n, 0x2000n]) })),
      worker.execute(cmd("SW2HW_MPT", { inModifier: FIRST.mpt, inbox: encodeMpt(mptEntry()) })),
      worker.execute(cmd("SW2HW_MPT", { inModifier: FIRST.mpt, inbox: encodeMpt(mptEntry()) })),
    ]);
    expect(results.map((r) => r.status)).toEqual([Status.OK, Status.OK, Status.OK, Status.OK, Status.BAD_RES_STATE]);
    const device = bus.snapshot();
    expect(device.portsUp).toEqual([1]);
    expect(device.mpt.map(([i]) => i)).toEqual([FIRST.mpt]);
    expect(device.mtt.length).toBe(2);
    const firmware = await worker.snapshot();
    expect(firmware.mpt.map(([i, key]) => [i, key])).toEqual([[FIRST.mpt, (FIRST.mpt << 8) | 0x5a]]);
    expect(firmware.hca).toBe("initialised");
  });

  it("terminates cleanly, and twice is harmless", async () => {
    worker = await startFirmwareWorker(new ModelDeviceBus());
    expect((await worker.execute(cmd("NOP"))).status).toBe(Status.OK);
    await worker.terminate();
    await worker.terminate();
  });
});
