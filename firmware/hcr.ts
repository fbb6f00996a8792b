/**
 * The HCR (host command register) as the driver sees it, and the go-bit protocol.
 *
 * Layout (mthca_cmd.c HCR_*_OFFSET, HCR_GO_BIT, HCA_E_BIT, HCR_OPMOD_SHIFT), seven
 * big-endian 32-bit words the driver writes with 32-bit MMIO writes only (mthca notes that
 * narrower HCR writes do not work):
 *
 *   0x00  in_param[63:32]
 *   0x04  in_param[31:0]
 *   0x08  in_modifier
 *   0x0c  out_param[63:32]
 *   0x10  out_param[31:0]
 *   0x14  token[15:0] | reserved[15:0]
 *   0x18  status[7:0] | go | e | reserved[5:0] | opcode_modifier[3:0] | opcode[11:0]
 *
 * Protocol: the driver waits for go = 0, writes words 0x00..0x14, then writes the word at
 * 0x18 with go = 1 (and e = 1 if it wants a completion event instead of polling). The
 * device fetches the inbox from host memory (DMA address in in_param), runs the command,
 * writes the outbox to out_param, then writes status and clears go in one store. The driver
 * polls go and reads status from bits 31:24.
 */

import { defineLayout } from "../core/index.ts";
import { COMMAND_BY_OPCODE, type CommandExecutor, type CommandResult, type FirmwareCommand, Status } from "./commands.ts";

export const HcrLayout = defineLayout(
  "hcr",
  [
    { name: "in_param", bits: 64 },
    { name: "in_modifier", bits: 32 },
    { name: "out_param", bits: 64 },
    { name: "token", bits: 16 },
    { name: "rsvd0", bits: 16 },
    { name: "status", bits: 8 },
    { name: "go", bits: 1 },
    { name: "e", bits: 1, doc: "report completion as an event (HCA_E_BIT) instead of by polling" },
    { name: "rsvd1", bits: 6 },
    { name: "opcode_modifier", bits: 4 },
    { name: "opcode", bits: 12 },
  ],
  { sizeBytes: 0x1c },
);

/** Byte offset of the word holding status/go/opcode: writing it with go = 1 posts the command. */
export const HCR_STATUS_OFFSET = HcrLayout.field("status").byteOffset;

/** Host memory as the HCR's mailbox DMA sees it (the host model's memory implements this). */
export interface MailboxMemory {
  read(address: bigint, length: number): Uint8Array | Promise<Uint8Array>;
  write(address: bigint, bytes: Uint8Array): void | Promise<void>;
}

/** A completion reported by event (e = 1): what the command-interface EQE carries. */
export interface CommandCompletion {
  readonly token: number;
  readonly status: Status;
  readonly outParam: bigint;
}

/**
 * The device side of the HCR. `write32` is the driver's MMIO store; a store to the status
 * word with go = 1 starts the command, and `idle()` resolves when the firmware has cleared
 * go. A store while go is set is ignored, as the hardware would (the driver must wait).
 */
export class Hcr {
  readonly regs = new Uint8Array(HcrLayout.sizeBytes);
  private running: Promise<void> = Promise.resolve();
  /** commands started, for statistics and tests */
  posted = 0;

  constructor(
    private readonly firmware: CommandExecutor,
    private readonly memory: MailboxMemory,
    /** called for e = 1 commands after completion; the EQ model turns it into an EQE */
    private readonly onEvent: (c: CommandCompletion) => void = () => {},
  ) {}

  /** the driver's 32-bit MMIO read at `offset` (big-endian register contents) */
  read32(offset: number): number {
    this.checkOffset(offset);
    const r = this.regs;
    return ((r[offset] << 24) | (r[offset + 1] << 16) | (r[offset + 2] << 8) | r[offset + 3]) >>> 0;
  }

  /** the driver's 32-bit MMIO write at `offset` */
  write32(offset: number, value: number): void {
    this.checkOffset(offset);
    if (this.go) return; // the register file belongs to the firmware until go clears
    const r = this.regs;
    r[offset] = value >>> 24;
    r[offset + 1] = value >>> 16;
    r[offset + 2] = value >>> 8;
    r[offset + 3] = value;
    if (offset === HCR_STATUS_OFFSET && this.go) {
      this.posted++;
      this.running = this.run();
    }
  }

  get go(): boolean {
    return HcrLayout.get(this.regs, 0, "go") === 1;
  }

  /** resolves once the command in flight (if any) has completed */
  idle(): Promise<void> {
    return this.running;
  }

  private async run(): Promise<void> {
    const r = this.regs;
    const opcode = HcrLayout.get(r, 0, "opcode");
    const outAddress = HcrLayout.getBig(r, 0, "out_param");
    const spec = COMMAND_BY_OPCODE.get(opcode);
    const inParam = HcrLayout.getBig(r, 0, "in_param");
    let result: CommandResult;
    try {
      const command: FirmwareCommand = {
        opcode,
        opModifier: HcrLayout.get(r, 0, "opcode_modifier"),
        inParam,
        inModifier: HcrLayout.get(r, 0, "in_modifier"),
        token: HcrLayout.get(r, 0, "token"),
        inbox: spec?.inbox === undefined ? undefined : await this.memory.read(inParam, spec.inbox.bytes),
      };
      result = await this.firmware.execute(command);
      if (result.outbox !== undefined) await this.memory.write(outAddress, result.outbox);
    } catch {
      // a fault below the command layer (DMA, worker) is the firmware's internal error
      result = { status: Status.INTERNAL_ERR, outParam: 0n };
    }
    if (spec?.outbox === undefined) HcrLayout.set(r, 0, "out_param", result.outParam);
    const event = HcrLayout.get(r, 0, "e") === 1;
    // status and go land in one store, so a poller never sees go = 0 with a stale status
    HcrLayout.set(r, 0, "status", result.status);
    HcrLayout.set(r, 0, "go", 0);
    if (event) this.onEvent({ token: HcrLayout.get(r, 0, "token"), status: result.status, outParam: result.outParam });
  }

  private checkOffset(offset: number): void {
    if (!Number.isInteger(offset) || offset < 0 || offset > HcrLayout.sizeBytes - 4 || offset % 4 !== 0) {
      throw new RangeError(`HCR access at 0x${offset.toString(16)}: the HCR takes aligned 32-bit accesses at 0x00..0x${(HcrLayout.sizeBytes - 4).toString(16)}`);
    }
  }
}

/** What the driver posts: the HCR fields of one command. */
export interface HcrPost {
  readonly opcode: number;
  readonly opModifier?: number;
  readonly inParam?: bigint;
  readonly inModifier?: number;
  readonly outParam?: bigint;
  readonly token?: number;
  /** ask for a completion event instead of polling */
  readonly event?: boolean;
}

/**
 * The driver's half of the protocol (what mthca_cmd_post_hcr and mthca_cmd_poll do):
 * wait for go = 0, write the six parameter words, then the go word; poll until go clears;
 * return the status byte and out_param. `hcr` is anything with the HCR's MMIO face.
 */
export async function postCommand(
  hcr: { read32(o: number): number; write32(o: number, v: number): void; idle(): Promise<void> },
  p: HcrPost,
): Promise<{ status: number; outParam: bigint }> {
  await hcr.idle();
  const words = new Uint8Array(HcrLayout.sizeBytes);
  HcrLayout.encode(
    {
      in_param: p.inParam ?? 0n,
      in_modifier: p.inModifier ?? 0,
      out_param: p.outParam ?? 0n,
      token: p.token ?? 0xffff, // CMD_POLL_TOKEN when polling
      go: 1,
      e: p.event ? 1 : 0,
      opcode_modifier: p.opModifier ?? 0,
      opcode: p.opcode,
    },
    words,
  );
  const view = new DataView(words.buffer);
  for (let o = 0; o < HCR_STATUS_OFFSET; o += 4) hcr.write32(o, view.getUint32(o));
  hcr.write32(HCR_STATUS_OFFSET, view.getUint32(HCR_STATUS_OFFSET));
  await hcr.idle();
  const status = hcr.read32(HCR_STATUS_OFFSET) >>> 24;
  const outParam = (BigInt(hcr.read32(0x0c)) << 32n) | BigInt(hcr.read32(0x10));
  return { status, outParam };
}
