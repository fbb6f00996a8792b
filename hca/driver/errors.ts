/**
 * Errors the driver raises. A firmware command that completes with a status other than OK
 * surfaces as a `FirmwareCommandError` naming the command and the status (mthca_cmd.c's
 * mthca_status_to_errno keeps the status too; here it stays typed, not folded into errno).
 */
import { statusName } from "../../firmware/index.ts";

export class FirmwareCommandError extends Error {
  override readonly name = "FirmwareCommandError";
  constructor(
    /** the command's name in the firmware command table, e.g. "SW2HW_MPT" */
    readonly command: string,
    /** the 12-bit opcode */
    readonly opcode: number,
    /** the status byte the firmware wrote into the HCR */
    readonly status: number,
    /** in_modifier of the failed command (the index it named) */
    readonly inModifier: number,
  ) {
    super(`${command} (in_modifier 0x${inModifier.toString(16)}) failed with status ${statusName(status)} (0x${status.toString(16).padStart(2, "0")})`);
  }

  /** the status by name, e.g. "BAD_INDEX" */
  get statusName(): string {
    return statusName(this.status);
  }
}

/** a verb refused by the driver itself, before any command or doorbell (full queue, bad argument, …) */
export class VerbsError extends Error {
  override readonly name = "VerbsError";
  constructor(
    readonly verb: string,
    message: string,
  ) {
    super(`${verb}: ${message}`);
  }
}
