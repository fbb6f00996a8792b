/**
 * A DeviceBus whose tables live in RTL: the tpt block's MPT and MTT, the doorbell block's
 * QP and CQ ownership tables, each programmed through its configuration port (s_cfg) and
 * read back on m_cfg_rd, over an interactive RTL session per block (cosim/rtl-session.ts).
 * The translation of DeviceBus calls into transactions is device-config.ts, shared with the
 * bring-up scenario.
 *
 * Node-only (RTL processes over ZeroMQ): import it directly, like thread.ts; it is not part
 * of firmware/index.ts.
 *
 * What the RTL does not hold stays in TypeScript inside this bus: the table sizes and the
 * ports that are up, the EQ contexts and the event map, SYNC_TPT's count, and every field of
 * the QP and CQ contexts except their ownership (the UAR page, which the doorbell block keeps).
 * A snapshot reads the RTL tables back in full and builds the QP and CQ entries from them:
 * the context kept here with the UAR page the RTL holds, and only for the queues the RTL
 * holds, so any drift between firmware and RTL shows in a comparison.
 *
 * The RTL's tables have fixed sizes (block parameters): INIT_HCA may not ask for more.
 * limits() gives the firmware limits that say so (QUERY_DEV_CAP then reports them, and
 * INIT_HCA asking for more is refused with EXCEED_LIM); a bus asked to configure larger
 * tables anyway throws an error naming the block and parameter (the firmware answers
 * INTERNAL_ERR; the message is kept in `lastError`).
 */
import { buildBlock, loadBlockManifest, resolveBlock, type BuiltBlock } from "../cosim/index.ts";
import { RtlSession } from "../cosim/rtl-session.ts";
import { CqContext, QpContext } from "./commands.ts";
import {
  CONFIG_PORT, invalidateCqTxns, invalidateMptTxns, mptFromReadback, mttFromReadback, ownerFromReadback, READBACK_PORT, readCqOwnerTxn,
  readMptTxn, readMttTxn, readQpOwnerTxn, resetQpTxns, writeCqContextTxns, writeMptTxns, writeMttTxns, writeQpContextTxns,
  limitsWithin, type ConfigBlock, type ConfigTxn, type RtlTableCapacity,
} from "./device-config.ts";
import { ModelDeviceBus, toHex, type DeviceBus, type DeviceTables, type TableSizes } from "./device-bus.ts";
import { DEFAULT_LIMITS, type DeviceLimits } from "./firmware.ts";

/** the blocks this bus runs as RTL */
type RtlBlock = Exclude<ConfigBlock, "wqe_fetch">;

export interface RtlDeviceBusOptions {
  /** tpt parameters by block.yaml name (default: the manifest's defaults) */
  readonly tptParams?: Readonly<Record<string, number>>;
  /** doorbell parameters by block.yaml name */
  readonly doorbellParams?: Readonly<Record<string, number>>;
  /** defect defines per block (each must be declared in its block.yaml) */
  readonly defects?: Readonly<Partial<Record<RtlBlock, readonly string[]>>>;
  /** silence of an RTL process longer than this ends the run [ms] */
  readonly timeoutMs?: number;
  /** build progress lines */
  readonly log?: (line: string) => void;
}

/** builds are cached on disk; this keeps the lookup (hashing the sources) to once per process */
const builds = new Map<string, Promise<BuiltBlock>>();

function build(block: RtlBlock, params: Readonly<Record<string, number>>, defects: readonly string[], log?: (l: string) => void): Promise<BuiltBlock> {
  const key = JSON.stringify([block, params, [...defects].sort()]);
  let b = builds.get(key);
  if (b === undefined) {
    b = buildBlock(resolveBlock(loadBlockManifest(block), { ...params }), { defines: [...defects], log });
    builds.set(key, b);
    b.catch(() => builds.delete(key));
  }
  return b;
}

export class RtlDeviceBus implements DeviceBus {
  /** the last error a call failed with (the firmware reports only INTERNAL_ERR) */
  lastError: Error | undefined;

  /**
   * What is held in TypeScript (see the header): sizes, ports, EQ contexts, the event map,
   * SYNC_TPT calls, and the CQ and QP contexts whose ownership the doorbell RTL holds.
   * Its MPT and MTT maps stay empty: those tables live in the tpt RTL.
   */
  private readonly held = new ModelDeviceBus("RtlDeviceBus");

  private constructor(
    private readonly sessions: Readonly<Record<RtlBlock, RtlSession>>,
    readonly capacity: RtlTableCapacity,
  ) {}

  /** builds (or finds cached) and starts the tpt and doorbell RTL */
  static async start(o: RtlDeviceBusOptions = {}): Promise<RtlDeviceBus> {
    const [tpt, doorbell] = await Promise.all([
      build("tpt", o.tptParams ?? {}, o.defects?.tpt ?? [], o.log),
      build("doorbell", o.doorbellParams ?? {}, o.defects?.doorbell ?? [], o.log),
    ]);
    const opts = o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs };
    const started = await Promise.allSettled([RtlSession.start(tpt, opts), RtlSession.start(doorbell, opts)]);
    const failed = started.find((s) => s.status === "rejected");
    if (failed) {
      for (const s of started) if (s.status === "fulfilled") await s.value.kill();
      throw (failed as PromiseRejectedResult).reason;
    }
    const [t, d] = started.map((s) => (s as PromiseFulfilledResult<RtlSession>).value) as [RtlSession, RtlSession];
    const capacity = {
      qps: doorbell.block.params.QP_ENTRIES!,
      cqs: doorbell.block.params.CQ_ENTRIES!,
      mpts: tpt.block.params.MPT_ENTRIES!,
      mtts: tpt.block.params.MTT_ENTRIES!,
    };
    return new RtlDeviceBus({ tpt: t, doorbell: d }, capacity);
  }

  /** `base` with the table maxima the RTL can hold (QUERY_DEV_CAP reports these; INIT_HCA beyond is EXCEED_LIM) */
  limits(base: DeviceLimits = DEFAULT_LIMITS): DeviceLimits {
    return limitsWithin(this.capacity, base);
  }

  /** round trips to the RTL processes so far */
  get roundTrips(): number {
    return this.sessions.tpt.roundTrips + this.sessions.doorbell.roundTrips;
  }

  /** the session of one block (for tests and tools that look at the RTL directly) */
  session(block: RtlBlock): RtlSession {
    return this.sessions[block];
  }

  /** ends both RTL processes */
  async close(): Promise<void> {
    await Promise.all([this.sessions.tpt.close(), this.sessions.doorbell.close()]);
  }

  // ---- DeviceBus --------------------------------------------------------------------

  configure(sizes: TableSizes): Promise<void> {
    return this.guard(async () => {
      const c = this.capacity;
      const over: [keyof RtlTableCapacity, RtlBlock, string][] = [["qps", "doorbell", "QP_ENTRIES"], ["cqs", "doorbell", "CQ_ENTRIES"], ["mpts", "tpt", "MPT_ENTRIES"], ["mtts", "tpt", "MTT_ENTRIES"]];
      for (const [t, block, param] of over) {
        if (sizes[t] > c[t]) {
          throw new RangeError(`INIT_HCA asks for ${sizes[t]} ${t.slice(0, -1).toUpperCase()} entries; the ${block} RTL holds ${param}=${c[t]} (start the firmware with RtlDeviceBus.limits(), or build the block larger)`);
        }
      }
      this.held.configure(sizes);
    });
  }

  reset(): Promise<void> {
    return this.guard(async () => {
      await Promise.all([this.sessions.tpt.reset(), this.sessions.doorbell.reset()]);
      this.held.reset();
    });
  }

  setPortUp(port: number, up: boolean): void {
    this.held.setPortUp(port, up);
  }

  writeMpt(index: number, entry: Uint8Array): Promise<void> {
    return this.guard(() => { this.check("mpts", index); return this.send(writeMptTxns(index, entry)); });
  }

  invalidateMpt(index: number): Promise<void> {
    return this.guard(() => { this.check("mpts", index); return this.send(invalidateMptTxns(index)); });
  }

  readMpt(index: number): Promise<Uint8Array> {
    return this.guard(async () => {
      this.check("mpts", index);
      const [a] = await this.read("tpt", [readMptTxn(index)]);
      const e = mptFromReadback(a!, index);
      if (e === null) throw new Error(`RtlDeviceBus: MPT ${index} is not hardware-owned in the tpt RTL`);
      return e;
    });
  }

  writeMtt(index: number, entries: Uint8Array): Promise<void> {
    return this.guard(() => {
      const n = entries.length / 8;
      this.check("mtts", index);
      this.check("mtts", index + n - 1);
      return this.send(writeMttTxns(index, entries));
    });
  }

  syncTpt(): void {
    this.held.syncTpt();
  }

  writeCqContext(cqn: number, context: Uint8Array): Promise<void> {
    return this.guard(async () => {
      this.check("cqs", cqn);
      await this.send(writeCqContextTxns(cqn, context));
      this.held.writeCqContext(cqn, context);
    });
  }

  invalidateCq(cqn: number): Promise<void> {
    return this.guard(async () => {
      this.check("cqs", cqn);
      await this.send(invalidateCqTxns(cqn));
      this.held.invalidateCq(cqn);
    });
  }

  readCqContext(cqn: number): Promise<Uint8Array> {
    return this.guard(async () => {
      this.check("cqs", cqn);
      const [a] = await this.read("doorbell", [readCqOwnerTxn(cqn)]);
      const ctx = withOwner(this.held.cq.get(cqn), ownerFromReadback(a!, "cq", cqn), CqContext);
      if (ctx === null) throw new Error(`RtlDeviceBus: CQ ${cqn} is not hardware-owned in the doorbell RTL`);
      return ctx;
    });
  }

  writeEqContext(eqn: number, context: Uint8Array): void {
    this.held.writeEqContext(eqn, context);
  }

  invalidateEq(eqn: number): void {
    this.held.invalidateEq(eqn);
  }

  readEqContext(eqn: number): Uint8Array {
    return this.held.readEqContext(eqn);
  }

  mapEvent(eventType: number, eqn: number | null): void {
    this.held.mapEvent(eventType, eqn);
  }

  writeQpContext(qpn: number, context: Uint8Array): Promise<void> {
    return this.guard(async () => {
      this.check("qps", qpn);
      await this.send(writeQpContextTxns(qpn, context));
      this.held.writeQpContext(qpn, context);
    });
  }

  resetQp(qpn: number): Promise<void> {
    return this.guard(async () => {
      this.check("qps", qpn);
      await this.send(resetQpTxns(qpn));
      this.held.resetQp(qpn);
    });
  }

  readQpContext(qpn: number): Promise<Uint8Array> {
    return this.guard(async () => {
      this.check("qps", qpn);
      const [a] = await this.read("doorbell", [readQpOwnerTxn(qpn)]);
      const ctx = withOwner(this.held.qp.get(qpn), ownerFromReadback(a!, "qp", qpn), QpContext);
      if (ctx === null) throw new Error(`RtlDeviceBus: QP ${qpn} is not held by the doorbell RTL`);
      return ctx;
    });
  }

  /** reads every entry of the configured tables back from the RTL (two round trips, one per block, in parallel) */
  snapshot(): Promise<DeviceTables> {
    return this.guard(async () => {
      const tables = this.held.snapshot();
      const s = tables.sizes;
      const mpt: [number, string][] = [];
      const mtt: [number, string][] = [];
      const cq: [number, string][] = [];
      const qp: [number, string][] = [];
      if (s !== null) {
        const range = (n: number) => Array.from({ length: n }, (_, i) => i);
        const [tptAnswers, dbAnswers] = await Promise.all([
          this.read("tpt", [...range(s.mpts).map(readMptTxn), ...range(s.mtts).map(readMttTxn)]),
          this.read("doorbell", [...range(s.qps).map(readQpOwnerTxn), ...range(s.cqs).map(readCqOwnerTxn)]),
        ]);
        for (let i = 0; i < s.mpts; i++) {
          const e = mptFromReadback(tptAnswers[i]!, i);
          if (e !== null) mpt.push([i, toHex(e)]);
        }
        for (let i = 0; i < s.mtts; i++) {
          const e = mttFromReadback(tptAnswers[s.mpts + i]!, i);
          if (e !== null) mtt.push([i, toHex(e)]);
        }
        for (let i = 0; i < s.qps; i++) {
          const ctx = withOwner(this.held.qp.get(i), ownerFromReadback(dbAnswers[i]!, "qp", i), QpContext);
          if (ctx !== null) qp.push([i, toHex(ctx)]);
        }
        for (let i = 0; i < s.cqs; i++) {
          const ctx = withOwner(this.held.cq.get(i), ownerFromReadback(dbAnswers[s.qps + i]!, "cq", i), CqContext);
          if (ctx !== null) cq.push([i, toHex(ctx)]);
        }
      }
      return { ...tables, mpt, mtt, cq, qp };
    });
  }

  // ---- internals --------------------------------------------------------------------

  /** runs `f`, keeping its error for the harness (the firmware only reports INTERNAL_ERR) */
  private async guard<T>(f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      this.lastError = e as Error;
      throw e;
    }
  }

  /** the transactions for the blocks this bus runs, in order, one call per block (wqe_fetch has no RTL here) */
  private async send(txns: readonly ConfigTxn[]): Promise<void> {
    for (const block of ["tpt", "doorbell"] as const) {
      const mine = txns.filter((t) => t.block === block);
      if (mine.length) await this.sessions[block].transact(mine.map((t) => ({ port: CONFIG_PORT, data: t.data })));
    }
  }

  /** reads (all for one block) and their answers, in order */
  private async read(block: RtlBlock, reads: readonly ConfigTxn[]): Promise<Uint8Array[]> {
    const r = await this.sessions[block].transact(reads.map((t) => ({ port: CONFIG_PORT, data: t.data })), { expect: { [READBACK_PORT]: reads.length } });
    const answers = r.outputs[READBACK_PORT]!;
    if (answers.length !== reads.length) throw new Error(`RtlDeviceBus: ${block} answered ${answers.length} reads of ${reads.length} by cycle ${r.cycle}`);
    return answers.map((a) => a.data);
  }

  private check(table: keyof TableSizes, index: number): void {
    this.held.check(table, index);
  }
}

/**
 * A context as the device holds it: the one kept here with the UAR page the RTL holds, or
 * null when the RTL holds no valid entry. A queue the RTL holds but this bus has no context
 * for (drift) gets a context carrying only its UAR page, so a comparison shows it.
 */
function withOwner(context: Uint8Array | undefined, uar: number | null, layout: typeof CqContext | typeof QpContext): Uint8Array | null {
  if (uar === null) return null;
  const ctx = context?.slice() ?? new Uint8Array(layout.sizeBytes);
  layout.set(ctx, 0, "uar" as never, uar);
  return ctx;
}
