/**
 * The TypeScript twin of rtl-models/icrc: same transactions, same bytes, same status,
 * and the same startCycle/endCycle as the RTL under the shim's driver convention.
 *
 * The RTL is a one-cycle pipeline (see the timing notes in icrc.sv). With m_axis_tready
 * always high its timing follows from frame lengths alone, so the twin computes per
 * transaction, never per cycle:
 *  - an input frame of n beats (n = ceil(len / dataBytes), at least 1) has its first
 *    beat accepted at t = max(startCycle, first cycle s_axis is free, the cycle the
 *    harness had reached when it offered the frame); its beats follow back to back;
 *  - its output starts at t + 1 and ends at t + n, or at t + n + 1 when the generated
 *    ICRC spills into an extra beat;
 *  - s_axis is free again at t + n, or t + n + 1 after a spill (the one bubble).
 *
 * With an `outputReady(cycle)` predicate (output backpressure, as the shim can apply)
 * the twin instead steps the RTL's handshake state beat by beat, still skipping idle
 * stretches.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { ICRC_BYTES } from "../headers/rocev2.ts";
import { icrcBlockFunction, IcrcStatus } from "./icrc.ts";

export const ICRC_TWIN_DATA_BYTES = [8, 16, 32, 64] as const;
export type IcrcDataBytes = (typeof ICRC_TWIN_DATA_BYTES)[number];

export interface IcrcTwinOptions {
  /** datapath width [bytes per beat], the RTL's DATA_BYTES; default 64 */
  dataBytes?: IcrcDataBytes;
  /** m_axis_tready per cycle; omitted = always ready (what the shim drives today) */
  outputReady?: (cycle: number) => boolean;
}

const IN_PORT = "s_axis";
const OUT_PORT = "m_axis";

/** One frame through the block: its function, computed at offer time. */
interface Frame {
  startCycle: number;
  /** input beats */
  beats: number;
  /** output bytes and status */
  data: Uint8Array;
  status: number;
  /** the generated ICRC needs one output beat more than the input had */
  spills: boolean;
  /** the harness's time when the frame was offered: the shim cannot drive it earlier */
  offeredAt: number;
}

export class IcrcTwin implements BlockTwin {
  readonly block = "icrc";
  readonly dataBytes: IcrcDataBytes;
  private readonly outputReady?: (cycle: number) => boolean;
  /** every cycle below this has been simulated */
  private now = 0;
  private lastOfferedStart = 0;
  /** frames offered and not yet fully through (backpressure mode) */
  private readonly queue: Frame[] = [];
  /** output transactions with their cycles known, in order; released once endCycle < now */
  private readonly done: StreamTransaction[] = [];
  /** fast mode: first cycle s_axis can take a new frame's first beat */
  private inputFree = 0;
  private readonly pipe = new BeatPipeline();

  constructor(opts: IcrcTwinOptions = {}) {
    const db = opts.dataBytes ?? 64;
    if (!(ICRC_TWIN_DATA_BYTES as readonly number[]).includes(db)) {
      throw new RangeError(`icrc twin: dataBytes ${db} is not supported (DATA_BYTES: ${ICRC_TWIN_DATA_BYTES.join(", ")})`);
    }
    this.dataBytes = db;
    this.outputReady = opts.outputReady;
  }

  offer(port: string, txn: StreamTransaction): void {
    if (port !== IN_PORT) throw new Error(`icrc twin: no input stream port "${port}" (input ports: ${IN_PORT})`);
    if (txn.startCycle < this.lastOfferedStart) {
      throw new Error(`icrc twin: ${IN_PORT} startCycle ${txn.startCycle} is before the previous transaction's ${this.lastOfferedStart}`);
    }
    this.lastOfferedStart = txn.startCycle;
    const check = ((txn.user.check ?? 0) & 1) === 1;
    const { data, status } = icrcBlockFunction(txn.data, check);
    const len = txn.data.length;
    const beats = Math.max(1, Math.ceil(len / this.dataBytes));
    // The ICRC lands after the last valid lane; it spills when that lane is one of the last three.
    const appended = data.length === len + ICRC_BYTES && !check && status === IcrcStatus.ok;
    const spills = appended && len - (beats - 1) * this.dataBytes > this.dataBytes - ICRC_BYTES;
    const frame: Frame = {
      startCycle: txn.startCycle,
      beats,
      data: data === txn.data ? data.slice() : data,
      status,
      spills,
      offeredAt: this.now,
    };
    if (this.outputReady) this.queue.push(frame);
    else this.scheduleAlwaysReady(frame);
  }

  runUntil(cycle: number): void {
    if (cycle <= this.now) return;
    if (this.outputReady) this.pipe.run(this.queue, this.done, this.now, cycle, this.outputReady);
    this.now = cycle;
  }

  take(port: string): StreamTransaction[] {
    if (port !== OUT_PORT) throw new Error(`icrc twin: no output stream port "${port}" (output ports: ${OUT_PORT})`);
    let n = 0;
    while (n < this.done.length && this.done[n].endCycle < this.now) n++;
    return this.done.splice(0, n);
  }

  private scheduleAlwaysReady(f: Frame): void {
    const t = Math.max(f.startCycle, this.inputFree, f.offeredAt);
    const end = t + f.beats + (f.spills ? 1 : 0);
    this.inputFree = end;
    this.done.push({ data: f.data, user: { status: f.status }, startCycle: t + 1, endCycle: end });
  }
}

/**
 * The RTL's handshake state, stepped beat by beat under output backpressure: the output
 * register (one beat), the pending spill beat, and the input driver. Mirrors icrc.sv:
 * s_axis_tready = !spill && (!m_valid || m_axis_tready).
 */
class BeatPipeline {
  /** the output register: which frame's beat, and whether it ends the transaction */
  private mValid = false;
  private mFrame: Frame | null = null;
  private mLast = false;
  private spill = false;
  /** the input frame in progress and how many of its beats were accepted */
  private inBeat = 0;
  /** output transaction being sent: first beat's cycle */
  private outStart = -1;

  run(queue: Frame[], done: StreamTransaction[], from: number, to: number, ready: (c: number) => boolean): void {
    let c = from;
    while (c < to) {
      const head = queue[0] as Frame | undefined;
      const inValid = head !== undefined && (this.inBeat > 0 || Math.max(head.startCycle, head.offeredAt) <= c);
      if (!this.mValid && !this.spill && !inValid) {
        // idle: jump to the next frame's first drivable cycle
        if (head === undefined) return;
        c = Math.max(head.startCycle, head.offeredAt, c);
        continue;
      }
      const r = ready(c);
      const sReady = !this.spill && (!this.mValid || r);
      if (this.mValid && r) {
        if (this.outStart < 0) this.outStart = c;
        if (this.mLast) {
          const f = this.mFrame!;
          done.push({ data: f.data, user: { status: f.status }, startCycle: this.outStart, endCycle: c });
          this.outStart = -1;
        }
      }
      if (inValid && sReady) {
        const f = head!;
        this.inBeat++;
        this.mValid = true;
        this.mFrame = f;
        if (this.inBeat === f.beats) {
          queue.shift();
          this.inBeat = 0;
          this.mLast = !f.spills;
          this.spill = f.spills;
        } else {
          this.mLast = false;
        }
      } else if (this.spill && (!this.mValid || r)) {
        this.mValid = true;
        this.mLast = true;
        this.spill = false;
      } else if (this.mValid && r) {
        this.mValid = false;
      }
      c++;
    }
  }
}
