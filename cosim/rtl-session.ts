/**
 * An interactive session with one RTL process, for request/response use such as a device
 * bus programming a block's configuration port: send input transactions, advance until the
 * outputs the caller expects have arrived (and every input was taken), or give up after a
 * cycle limit; get back what came out.
 *
 * Each step is one round trip (inputs, H2R_ADVANCE, outputs and R2H_ADVANCED). A call first
 * advances by its estimate of the cycles needed (default: the input beats plus a margin),
 * then by twice as much each further step, so a short request costs one round trip and a
 * slow one a few, never one per cycle (DESIGN.md §4). Calls are serialised in arrival order.
 *
 * Inputs of a call may start at the cycle the session has reached; a transaction sent in a
 * later call therefore starts after every handshake of the earlier calls, which is what
 * makes "write, then read it back" an ordered pair on one port.
 */
import type { StreamTransaction, UserFields } from "../core/block.ts";
import type { BuiltBlock } from "./build.ts";
import { decodeStreamRecords, decodeWireValues, encodeMessage, encodeStreamMessage } from "./codec.ts";
import { RunFailure, UserError } from "./errors.ts";
import type { ResolvedStreamPort } from "./manifest.ts";
import { RtlProcess, type RtlProcessOptions } from "./rtl-process.ts";

export interface SessionInput {
  /** input stream port */
  port: string;
  data: Uint8Array;
  user?: UserFields;
}

export interface TransactOptions {
  /** output transactions to wait for, per output stream port (default: none, only the inputs taken) */
  expect?: Readonly<Record<string, number>>;
  /** give up after advancing this many cycles in the call [cycles] (default 100,000) */
  maxCycles?: number;
  /** the first advance [cycles] (default: the call's input beats + 16) */
  stepCycles?: number;
}

export interface TransactResult {
  /** every output transaction that ended during the call, per output stream port (each port present) */
  outputs: Record<string, StreamTransaction[]>;
  /** the cycle the session reached [cycles] */
  cycle: number;
  /** cycles the call advanced [cycles] */
  cycles: number;
  /** round trips the call took */
  roundTrips: number;
}

export interface RtlSessionOptions extends RtlProcessOptions {
  /** output tready probability per cycle [%] (default 100: never back-pressured) */
  outReadyPercent?: number;
  seed?: number;
}

const DEFAULT_MAX_CYCLES = 100_000;
const STEP_MARGIN = 16;

export class RtlSession {
  /** output wires as sampled at the end of the last step */
  readonly wires: Record<string, number> = {};
  /** round trips since the session started */
  roundTrips = 0;
  private offeredBeats = 0;
  private acceptedBeats = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly inPorts: Map<string, ResolvedStreamPort>;
  private readonly outPorts: ResolvedStreamPort[];
  private readonly userNames: Map<string, string[]>;
  private readonly wireNames: string[];

  private constructor(
    readonly rtl: RtlProcess,
    private readonly resetOpts: { outReadyPercent?: number; seed?: number },
  ) {
    const b = rtl.resolved;
    this.inPorts = new Map(b.streams.filter((s) => s.direction === "in").map((s) => [s.name, s]));
    this.outPorts = b.streams.filter((s) => s.direction === "out");
    this.userNames = new Map(b.streams.map((s) => [s.name, s.user.map((f) => f.name)]));
    this.wireNames = b.wires.filter((w) => w.direction === "out").map((w) => w.name);
  }

  /** starts the block's RTL process and resets it */
  static async start(built: BuiltBlock, opts: RtlSessionOptions = {}): Promise<RtlSession> {
    const rtl = await RtlProcess.start(built, opts);
    try {
      return await RtlSession.over(rtl, opts);
    } catch (e) {
      await rtl.kill();
      throw e;
    }
  }

  /** a session over a process already started (e.g. connected to an rtl-server); resets it */
  static async over(rtl: RtlProcess, opts: { outReadyPercent?: number; seed?: number } = {}): Promise<RtlSession> {
    const s = new RtlSession(rtl, { outReadyPercent: opts.outReadyPercent, seed: opts.seed });
    await s.reset();
    return s;
  }

  get block(): string {
    return this.rtl.block;
  }

  /** the cycle reached: inputs sent now may start here */
  get cycle(): number {
    return this.rtl.cycle;
  }

  /** sends `inputs` (in order per port), advances until they are taken and `expect` has arrived */
  transact(inputs: readonly SessionInput[], opts: TransactOptions = {}): Promise<TransactResult> {
    const run = this.queue.then(() => this.run(inputs, opts));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** resets the RTL (its tables and queues); the session restarts at cycle 0 */
  reset(): Promise<void> {
    const run = this.queue.then(async () => {
      await this.rtl.reset(this.resetOpts);
      this.offeredBeats = 0;
      this.acceptedBeats = 0;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** ends the RTL process (idempotent) */
  async close(): Promise<void> {
    await this.queue;
    await this.rtl.close();
  }

  /** kills the RTL process without the closing handshake */
  kill(): Promise<void> {
    return this.rtl.kill();
  }

  private async run(inputs: readonly SessionInput[], opts: TransactOptions): Promise<TransactResult> {
    const block = this.block;
    const want = Object.entries(opts.expect ?? {});
    for (const [port, n] of want) {
      if (!this.outPorts.some((p) => p.name === port)) {
        throw new UserError(`block ${block}: no output stream "${port}" (outputs: ${this.outPorts.map((p) => p.name).join(", ")})`);
      }
      if (!Number.isInteger(n) || n < 0) throw new UserError(`block ${block}: expected ${n} transactions on ${port}`);
    }
    const start = this.cycle;
    const byPort = new Map<string, StreamTransaction[]>();
    let beats = 0;
    for (const x of inputs) {
      const port = this.inPorts.get(x.port);
      if (!port) throw new UserError(`block ${block}: no input stream "${x.port}" (inputs: ${[...this.inPorts.keys()].join(", ")})`);
      let q = byPort.get(x.port);
      if (!q) byPort.set(x.port, (q = []));
      q.push({ data: x.data, user: x.user ?? {}, startCycle: start, endCycle: start });
      beats += port.dataBytes === 0 ? 1 : Math.max(1, Math.ceil(x.data.length / port.dataBytes));
    }
    for (const [name, txns] of byPort) {
      await this.rtl.send(encodeStreamMessage("H2R_STREAM_INPUT", this.rtl.nextSeq(), this.inPorts.get(name)!.index, txns, this.userNames.get(name)!));
    }
    this.offeredBeats += beats;

    const outputs: Record<string, StreamTransaction[]> = Object.fromEntries(this.outPorts.map((p) => [p.name, []]));
    const maxCycles = opts.maxCycles ?? DEFAULT_MAX_CYCLES;
    const limit = start + maxCycles;
    let step = Math.max(1, opts.stepCycles ?? beats + STEP_MARGIN);
    let trips = 0;
    const done = () => this.acceptedBeats >= this.offeredBeats && want.every(([p, n]) => outputs[p]!.length >= n);
    for (;;) {
      const until = Math.min(this.cycle + step, limit);
      await this.step(until, outputs);
      trips++;
      if (done()) break;
      if (this.cycle >= limit) {
        const missing = want.filter(([p, n]) => outputs[p]!.length < n).map(([p, n]) => `${p}: ${outputs[p]!.length} of ${n} transactions`);
        const taken = this.acceptedBeats < this.offeredBeats ? [`inputs: ${this.acceptedBeats} of ${this.offeredBeats} beats taken since reset`] : [];
        throw new RunFailure(
          `block ${block}: what was expected did not arrive by cycle ${this.cycle} (gave up after ${maxCycles} cycles, from cycle ${start})\n` +
            `  ${[...missing, ...taken].join("; ")}\n` +
            `  endpoint: ${this.rtl.endpoint}`,
        );
      }
      step *= 2;
    }
    this.roundTrips += trips;
    return { outputs, cycle: this.cycle, cycles: this.cycle - start, roundTrips: trips };
  }

  /** one round trip: advance to `until`, collecting outputs and wires */
  private async step(until: number, outputs: Record<string, StreamTransaction[]>): Promise<void> {
    const rtl = this.rtl;
    rtl.targetCycle = until;
    await rtl.send(encodeMessage("H2R_ADVANCE", rtl.nextSeq(), { untilCycle: until }));
    for (;;) {
      const msg = await rtl.receive();
      if (msg.name === "R2H_STREAM_OUTPUT") {
        const port = this.outPorts[msg.fields.port as number];
        if (!port) throw new RunFailure(`block ${this.block}: the RTL sent output for unknown stream ${msg.fields.port} at cycle ${rtl.cycle}`);
        const txns = decodeStreamRecords(msg.tail, msg.fields.count as number, this.userNames.get(port.name)!, `${this.block}.${port.name}`);
        // records are views into the frame: copy, the caller keeps them
        for (const t of txns) outputs[port.name]!.push({ ...t, data: t.data.slice() });
        continue;
      }
      if (msg.name === "R2H_WIRES") {
        const values = decodeWireValues(msg);
        this.wireNames.forEach((n, i) => { this.wires[n] = values[i] ?? 0; });
        continue;
      }
      if (msg.name === "R2H_ADVANCED") {
        rtl.cycle = msg.fields.cycle as number;
        this.acceptedBeats = msg.fields.inputBeats as number;
        return;
      }
      throw new RunFailure(`block ${this.block}: the RTL sent ${msg.name} while advancing to cycle ${until} (at cycle ${rtl.cycle})`);
    }
  }
}
