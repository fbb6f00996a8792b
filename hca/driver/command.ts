/**
 * The driver's command channel (mthca_cmd.c's role): one inbox and one outbox mailbox in
 * host memory, and the HCR go-bit protocol of firmware/hcr.ts (`postCommand`). The
 * firmware is injected as a `CommandExecutor`: the in-thread `Firmware` in tests, the
 * worker-thread endpoint elsewhere; hca/ itself never touches Node's worker_threads.
 *
 * Commands are issued one at a time (QUERY_FW's log_max_cmd is 0 and the mailboxes are
 * shared): `run` queues callers in arrival order.
 */
import type { HostMemory } from "../../core/index.ts";
import {
  COMMAND_BY_OPCODE, type CommandExecutor, Hcr, MAILBOX_BYTES, postCommand, Status,
} from "../../firmware/index.ts";
import { FirmwareCommandError } from "./errors.ts";

/** what the driver passes for one command */
export interface CommandRequest {
  readonly opcode: number;
  readonly opModifier?: number;
  readonly inModifier?: number;
  /** immediate in_param (MAP_EQ's event mask); ignored when `inbox` is given */
  readonly inParam?: bigint;
  /** inbox bytes, copied into the inbox mailbox; in_param then carries its address */
  readonly inbox?: Uint8Array;
}

/** the MMIO face of an HCR, as `postCommand` uses it */
export type HcrPort = Parameters<typeof postCommand>[0];

export class CommandChannel {
  /** the HCR this channel posts to */
  readonly hcr: HcrPort;
  /** host addresses of the two mailboxes (4 KiB each, 4 KiB-aligned) */
  readonly inboxAddr: number;
  readonly outboxAddr: number;
  /** commands posted, by name (for tests and traces) */
  readonly posted: string[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly memory: HostMemory,
    executor: CommandExecutor,
    /** an HCR to use instead of a fresh `Hcr` over `executor` and `memory` */
    hcr?: HcrPort,
  ) {
    this.hcr = hcr ?? new Hcr(executor, { read: (a, n) => memory.read(a, n, "hcr"), write: (a, b) => memory.write(a, b, "hcr") });
    this.inboxAddr = memory.alloc(MAILBOX_BYTES, MAILBOX_BYTES);
    this.outboxAddr = memory.alloc(MAILBOX_BYTES, MAILBOX_BYTES);
  }

  /**
   * Posts one command and waits for it. Returns the outbox bytes (the command table's
   * outbox size) for commands that write one. Throws `FirmwareCommandError` on any status
   * other than OK.
   */
  run(req: CommandRequest): Promise<Uint8Array | undefined> {
    const go = this.queue.then(() => this.post(req));
    this.queue = go.catch(() => undefined);
    return go;
  }

  private async post(req: CommandRequest): Promise<Uint8Array | undefined> {
    const spec = COMMAND_BY_OPCODE.get(req.opcode);
    const name = spec?.name ?? `opcode 0x${req.opcode.toString(16)}`;
    let inParam = req.inParam ?? 0n;
    if (req.inbox !== undefined) {
      if (req.inbox.length > MAILBOX_BYTES) throw new RangeError(`${name}: inbox of ${req.inbox.length} bytes exceeds the ${MAILBOX_BYTES}-byte mailbox`);
      this.memory.write(this.inboxAddr, req.inbox);
      inParam = BigInt(this.inboxAddr);
    }
    const wantsOutbox = spec?.outbox !== undefined;
    this.posted.push(name);
    const r = await postCommand(this.hcr, {
      opcode: req.opcode,
      opModifier: req.opModifier ?? 0,
      inModifier: req.inModifier ?? 0,
      inParam,
      outParam: wantsOutbox ? BigInt(this.outboxAddr) : 0n,
    });
    if (r.status !== Status.OK) throw new FirmwareCommandError(name, req.opcode, r.status, req.inModifier ?? 0);
    return wantsOutbox ? this.memory.read(this.outboxAddr, spec!.outbox!.bytes) : undefined;
  }
}
