import { describe, expect, it } from "vitest";
import { InitHcaIn, Opcode, QueryFwOut, Status, type CommandExecutor } from "./commands.ts";
import { ModelDeviceBus } from "./device-bus.ts";
import { Firmware } from "./firmware.ts";
import { Hcr, HCR_STATUS_OFFSET, HcrLayout, postCommand, type CommandCompletion, type MailboxMemory } from "./hcr.ts";
import { SUITE_INIT } from "./firmware-suite.ts";

/** sparse host memory, enough for mailboxes */
class Memory implements MailboxMemory {
  readonly pages = new Map<bigint, Uint8Array>();
  read(address: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = this.byte(address + BigInt(i));
    return out;
  }
  write(address: bigint, bytes: Uint8Array): void {
    bytes.forEach((b, i) => {
      const a = address + BigInt(i);
      this.page(a)[Number(a & 0xfffn)] = b;
    });
  }
  private byte(a: bigint): number {
    return this.pages.get(a >> 12n)?.[Number(a & 0xfffn)] ?? 0;
  }
  private page(a: bigint): Uint8Array {
    let p = this.pages.get(a >> 12n);
    if (p === undefined) this.pages.set(a >> 12n, (p = new Uint8Array(4096)));
    return p;
  }
}

describe("HCR layout", () => {
  it("puts every register where mthca_cmd.c has it (HCR_*_OFFSET, GO bit 23, E bit 22, opmod shift 12)", () => {
    const at = (n: string) => HcrLayout.field(n as never).byteOffset;
    expect([at("in_param"), at("in_modifier"), at("out_param"), at("token"), at("status")]).toEqual([0x00, 0x08, 0x0c, 0x14, 0x18]);
    expect(HCR_STATUS_OFFSET).toBe(0x18);
    const bitInWord = (n: string) => 31 - (HcrLayout.field(n as never).bitOffset - 0x18 * 8) - (HcrLayout.field(n as never).bits - 1);
    expect([bitInWord("go"), bitInWord("e"), bitInWord("opcode_modifier"), bitInWord("opcode"), bitInWord("status")]).toEqual([23, 22, 12, 0, 24]);
    expect(HcrLayout.sizeBytes).toBe(0x1c);
  });
});

describe("HCR go-bit protocol", () => {
  it("the driver posts QUERY_FW; the firmware DMAs the outbox, writes status and clears go", async () => {
    const mem = new Memory();
    const hcr = new Hcr(new Firmware(new ModelDeviceBus()), mem);
    const r = await postCommand(hcr, { opcode: Opcode.QUERY_FW, outParam: 0x9000n });
    expect(r.status).toBe(Status.OK);
    expect(hcr.go).toBe(false);
    expect(QueryFwOut.decode(mem.read(0x9000n, QueryFwOut.sizeBytes)).fw_major).toBe(1);
  });

  it("fetches the inbox from in_param (INIT_HCA) and reports errors in the status byte", async () => {
    const mem = new Memory();
    const bus = new ModelDeviceBus();
    const hcr = new Hcr(new Firmware(bus), mem);
    mem.write(0x4000n, InitHcaIn.encode(SUITE_INIT));
    expect((await postCommand(hcr, { opcode: Opcode.INIT_HCA, inParam: 0x4000n })).status).toBe(Status.OK);
    expect(bus.snapshot().sizes?.qps).toBe(64);
    expect((await postCommand(hcr, { opcode: Opcode.INIT_HCA, inParam: 0x4000n })).status).toBe(Status.BAD_SYS_STATE);
    expect((await postCommand(hcr, { opcode: 0x123 })).status).toBe(Status.BAD_OP);
    expect(hcr.posted).toBe(3);
  });

  it("go stays set while the firmware runs, and writes meanwhile are ignored", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: CommandExecutor = { execute: async () => (await gate, { status: Status.OK, outParam: 0n }) };
    const hcr = new Hcr(slow, new Memory());
    const p = postCommand(hcr, { opcode: Opcode.NOP });
    await Promise.resolve();
    expect(hcr.go).toBe(true);
    hcr.write32(0x08, 0xdead_beef);
    expect(hcr.read32(0x08)).toBe(0);
    release();
    expect((await p).status).toBe(Status.OK);
    expect(hcr.go).toBe(false);
  });

  it("with the event bit, completion is reported with the token", async () => {
    const events: CommandCompletion[] = [];
    const hcr = new Hcr(new Firmware(new ModelDeviceBus()), new Memory(), (c) => events.push(c));
    await postCommand(hcr, { opcode: Opcode.NOP, token: 0x1234, event: true });
    await postCommand(hcr, { opcode: Opcode.SYNC_TPT, token: 0x55, event: true });
    expect(events).toEqual([{ token: 0x1234, status: Status.OK, outParam: 0n }, { token: 0x55, status: Status.BAD_SYS_STATE, outParam: 0n }]);
  });

  it("a failing executor is INTERNAL_ERR, and a misaligned access throws", async () => {
    const hcr = new Hcr({ execute: () => Promise.reject(new Error("worker died")) }, new Memory());
    expect((await postCommand(hcr, { opcode: Opcode.NOP })).status).toBe(Status.INTERNAL_ERR);
    expect(() => hcr.write32(2, 0)).toThrow(/aligned 32-bit/);
    expect(() => hcr.read32(0x1c)).toThrow(/aligned 32-bit/);
  });
});
