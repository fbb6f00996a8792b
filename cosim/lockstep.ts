/**
 * Open-loop lockstep (DESIGN.md §4): the harness and the RTL advance in quanta. For
 * each quantum the harness sends the input transactions that may start in it (and no
 * more than the RTL could consume), then "advance to T"; the RTL runs to T and returns
 * the output transactions that ended, with their cycle stamps. The TypeScript twin gets
 * the same inputs and the scoreboard compares the two output sequences.
 *
 * Open loop means no RTL output feeds back into an RTL input, so lookahead is unbounded:
 * quanta are large and several are kept in flight, so Node (stimulus, twin, scoreboard)
 * and the RTL process run in parallel on two cores.
 */
import type { BlockTwin, StreamTransaction } from "../core/block.ts";
import { PackedTransactionWriter, unpack } from "../core/packed-transactions.ts";
import { decodeStreamRecords, decodeWireValues, encodeMessage, encodeStreamInput, streamMessageRecords } from "./codec.ts";
import { RunFailure } from "./errors.ts";
import type { RtlProcess } from "./rtl-process.ts";
import type { ResolvedBlock } from "./manifest.ts";
import type { Scoreboard } from "./scoreboard.ts";
import { StimulusBacklog } from "./stimulus-backlog.ts";

export interface StimulusItem {
  /** input stream port name */
  port: string;
  txn: StreamTransaction;
  packed?: undefined;
}

/**
 * Transactions for one input stream port packed back to back (core/packed-transactions.ts),
 * in non-decreasing startCycle: they go to the RTL, and to a twin with offerPacked, without
 * an object per transaction.
 */
export interface PackedStimulusItem {
  port: string;
  packed: Uint8Array;
  /** transactions in `packed` */
  count: number;
  txn?: undefined;
}

export type StimulusInput = StimulusItem | PackedStimulusItem;

/** the transactions of a stimulus item (packed ones decoded: views into its bytes) */
export function stimulusTransactions(item: StimulusInput, userNames: readonly string[] = []): StreamTransaction[] {
  return item.packed ? unpack(item.packed, item.count, userNames, `stimulus ${item.port}`) : [item.txn];
}

/**
 * `items` with each port's transactions packed into batches (user fields as `block`
 * declares them): the same stimulus, without an object per transaction on its way to the
 * RTL and to a twin that reads packed inputs. Batches close every `windowCycles` cycles of
 * start time (and at `batch` transactions), so ports interleaved by start cycle stay in
 * step to within a window.
 */
export function* packStimulus(items: Iterable<StimulusInput>, block: ResolvedBlock, windowCycles = 4096, batch = 8192): Generator<StimulusInput> {
  const userNames = new Map(block.streams.map((s) => [s.name, s.user.map((f) => f.name)]));
  const writers = new Map<string, PackedTransactionWriter>();
  let windowEnd = windowCycles;
  const flush = function* (): Generator<PackedStimulusItem> {
    for (const [port, w] of writers) {
      if (w.count === 0) continue;
      const { bytes, count } = w.take();
      yield { port, packed: bytes, count };
    }
  };
  for (const item of items) {
    if (item.packed) {
      yield* flush();
      yield item;
      continue;
    }
    if (item.txn.startCycle >= windowEnd) {
      yield* flush();
      windowEnd = (Math.floor(item.txn.startCycle / windowCycles) + 1) * windowCycles;
    }
    let w = writers.get(item.port);
    if (!w) {
      const names = userNames.get(item.port);
      if (!names) throw new RunFailure(`stimulus names "${item.port}", which is not an input stream of ${block.manifest.block}`);
      w = new PackedTransactionWriter(names.length, 16 * 1024);
      writers.set(item.port, w);
    } else if (w.count >= batch) {
      yield* flush();
    }
    w.appendTransaction(item.txn, userNames.get(item.port)!);
  }
  yield* flush();
}

export interface LockstepProgress {
  cycle: number;
  inputTransactions: number;
  outputTransactions: number;
  wallSeconds: number;
}

/**
 * Quantum length unless a scenario says otherwise [cycles]: long enough that a round trip
 * to the RTL is noise, short enough that the transactions in flight stay few (they are
 * garbage-collected young; with 64 Ki-cycle quanta a high-rate block spent most of its
 * time promoting them).
 */
export const DEFAULT_QUANTUM_CYCLES = 8192;

export interface LockstepOptions {
  rtl: RtlProcess;
  twin: BlockTwin;
  scoreboard: Scoreboard;
  /**
   * input transactions, per port in non-decreasing startCycle order; across ports the
   * order should roughly follow startCycle too (items are read ahead up to maxHeldBytes)
   */
  stimulus: Iterator<StimulusInput>;
  /** quantum length [cycles] */
  quantumCycles?: number;
  /** quanta sent ahead of the RTL's answers */
  maxInFlight?: number;
  /** a run in which nothing moves for this long has stalled [cycles] */
  maxIdleCycles?: number;
  /** after the last input, outputs must stay quiet this long before the run ends [cycles] */
  drainQuietCycles?: number;
  /** stimulus bytes read ahead of their quantum, at most [bytes] */
  maxHeldBytes?: number;
  /** output tready probability per cycle [%] (100: never back-pressure) */
  outReadyPercent?: number;
  seed?: number;
  onProgress?: (p: LockstepProgress) => void;
  /** sees every output transaction of the RTL, as it arrives */
  onRtlOutput?: (port: string, txns: readonly StreamTransaction[]) => void;
}

export interface LockstepResult {
  cycles: number;
  wallSeconds: number;
  cyclesPerSecond: number;
  /** wall time the RTL process spent clocking the model [s] */
  rtlSimSeconds: number;
  inputTransactions: number;
  outputTransactions: number;
  inputBeats: number;
  outputBeats: number;
  quanta: number;
  /** the RTL's output wires at the last cycle */
  rtlWires: Record<string, number>;
}

export async function runLockstep(opts: LockstepOptions): Promise<LockstepResult> {
  const { rtl, twin, scoreboard } = opts;
  const block = rtl.resolved;
  const Q = opts.quantumCycles ?? DEFAULT_QUANTUM_CYCLES;
  const maxInFlight = opts.maxInFlight ?? 3;
  const maxIdle = opts.maxIdleCycles ?? 1_000_000;
  const drainQuiet = opts.drainQuietCycles ?? 4096;
  const drainQ = Math.max(1024, Math.min(Q, drainQuiet));
  const inPorts = new Map(block.streams.filter((s) => s.direction === "in").map((s) => [s.name, s]));
  const outByIndex = block.streams.filter((s) => s.direction === "out");
  const userNames = new Map(block.streams.map((s) => [s.name, s.user.map((f) => f.name)]));

  await rtl.reset({ outReadyPercent: opts.outReadyPercent, seed: opts.seed });
  const t0 = performance.now();

  let next = opts.stimulus.next();
  const maxHeldBytes = opts.maxHeldBytes ?? 32 << 20;
  const offeredBeats = new Map<string, number>([...inPorts.keys()].map((k) => [k, 0]));
  let totalOfferedBeats = 0;
  let inputTxns = 0;
  let windowEnd = 0;
  const inFlight: number[] = [];
  let quanta = 0;
  let finished = false;

  let rtlCycle = 0;
  let rtlSimNs = 0;
  let rtlInBeats = 0;
  let rtlOutBeats = 0;
  let outputTxns = 0;
  const wireNames = block.wires.filter((w) => w.direction === "out").map((w) => w.name);
  const rtlWires: Record<string, number> = {};
  // stall and drain bookkeeping
  let lastMoveCycle = 0;
  let lastMoveMark = "";
  let quietSince = -1;

  // Inputs wait here per port until their quantum: a port whose RTL queue is already
  // full for the next quantum holds back without blocking the other ports.
  const held = new Map<string, StimulusBacklog>([...inPorts].map(([k, p]) => [k, new StimulusBacklog(p.dataBytes, userNames.get(k)!)]));
  const backlogs = [...held];
  let heldBytes = 0;
  const pull = (): void => {
    let lastPort = "";
    let h: StimulusBacklog | undefined;
    while (!next.done && heldBytes < maxHeldBytes) {
      const item = next.value;
      if (item.port !== lastPort) {
        h = held.get(item.port);
        lastPort = item.port;
        if (!h) throw new RunFailure(`stimulus names "${item.port}", which is not an input stream of ${block.manifest.block}`);
      }
      const before = h!.heldBytes;
      if (item.packed) h!.pushPacked(item.packed);
      else h!.pushTransaction(item.txn);
      heldBytes += h!.heldBytes - before;
      next = opts.stimulus.next();
    }
  };
  const stimulusDone = (): boolean => next.done === true && backlogs.every(([, h]) => h.empty);

  const issueWindow = async (): Promise<void> => {
    windowEnd += stimulusDone() ? drainQ : Q;
    pull();
    for (const [name, h] of backlogs) {
      const port = inPorts.get(name)!;
      const offered = offeredBeats.get(name)!;
      // never queue more than the RTL could take by the end of the next quantum
      const before = h.heldBytes;
      const q = h.take(windowEnd, windowEnd + Q - offered);
      heldBytes += h.heldBytes - before;
      if (q.count === 0) continue;
      offeredBeats.set(name, offered + q.beats);
      totalOfferedBeats += q.beats;
      inputTxns += q.count;
      const frame = encodeStreamInput(rtl.nextSeq(), port.index, q.count, q.packedBytes, (out, dv, off) => h.write(q, out, dv, off));
      await rtl.send(frame);
      // a twin that reads packed inputs reads the very records the RTL gets
      if (twin.offerPacked) twin.offerPacked(name, streamMessageRecords(frame), q.count);
      else h.offerEach(q, name, twin);
    }
    await rtl.send(encodeMessage("H2R_ADVANCE", rtl.nextSeq(), { untilCycle: windowEnd }));
    rtl.targetCycle = windowEnd;
    twin.runUntil(windowEnd);
    for (const port of outByIndex) {
      if (twin.takePacked) {
        const p = twin.takePacked(port.name);
        if (p.count) scoreboard.expectPacked(port.name, p.bytes, p.count);
      } else {
        const produced = twin.take(port.name);
        if (produced.length) scoreboard.expect(port.name, produced);
      }
    }
    inFlight.push(windowEnd);
    quanta++;
  };

  const awaitWindow = async (): Promise<void> => {
    for (;;) {
      const msg = await rtl.receive();
      if (msg.name === "R2H_STREAM_OUTPUT") {
        const port = outByIndex[msg.fields.port as number];
        if (!port) throw new RunFailure(`RTL ${block.manifest.block} sent output for unknown stream ${msg.fields.port}`);
        const count = msg.fields.count as number;
        // decoded only for an observer: the scoreboard compares the records where they lie
        if (opts.onRtlOutput) opts.onRtlOutput(port.name, decodeStreamRecords(msg.tail, count, userNames.get(port.name)!, `${block.manifest.block}.${port.name}`));
        outputTxns += count;
        scoreboard.actualRecords(port.name, msg.tail, count);
        continue;
      }
      if (msg.name === "R2H_WIRES") {
        const values = decodeWireValues(msg);
        wireNames.forEach((n, i) => { rtlWires[n] = values[i] ?? 0; });
        continue;
      }
      if (msg.name === "R2H_ADVANCED") {
        rtlCycle = msg.fields.cycle as number;
        rtl.cycle = rtlCycle;
        rtlSimNs = msg.fields.simNs as number;
        rtlInBeats = msg.fields.inputBeats as number;
        rtlOutBeats = msg.fields.outputBeats as number;
        inFlight.shift();
        return;
      }
      throw new RunFailure(`RTL ${block.manifest.block} sent ${msg.name} during a quantum`);
    }
  };

  while (!finished || inFlight.length > 0) {
    while (!finished && inFlight.length < maxInFlight) await issueWindow();
    await awaitWindow();
    opts.onProgress?.({ cycle: rtlCycle, inputTransactions: inputTxns, outputTransactions: outputTxns, wallSeconds: (performance.now() - t0) / 1000 });

    // progress: anything consumed or produced on either side
    const mark = `${rtlInBeats}/${rtlOutBeats}/${scoreboard.outputPorts.map((p) => scoreboard.counts(p).expected).join(",")}`;
    if (mark !== lastMoveMark) { lastMoveMark = mark; lastMoveCycle = rtlCycle; }
    if (finished) continue;

    const allIn = stimulusDone() && rtlInBeats >= totalOfferedBeats;
    const balanced = scoreboard.outputPorts.every((p) => { const c = scoreboard.counts(p); return c.expected === c.actual; });
    if (allIn && balanced) {
      if (quietSince < 0 || lastMoveCycle > quietSince) quietSince = Math.max(lastMoveCycle, rtlCycle - 1);
      if (rtlCycle - quietSince >= drainQuiet) finished = true;
    } else {
      quietSince = -1;
      if (rtlCycle - lastMoveCycle > maxIdle) {
        const pending = [...inPorts.keys()].map((k) => `${k}: ${offeredBeats.get(k)} beats offered`).join(", ");
        throw new RunFailure(
          `block ${block.manifest.block} stalled: nothing accepted or produced for ${rtlCycle - lastMoveCycle} cycles (since cycle ${lastMoveCycle}); ` +
            `RTL accepted ${rtlInBeats} of ${totalOfferedBeats} input beats (${pending}); ` +
            scoreboard.outputPorts.map((p) => { const c = scoreboard.counts(p); return `${p}: model ${c.expected}, rtl ${c.actual} transactions`; }).join("; "),
        );
      }
    }
  }
  scoreboard.finish();
  if (wireNames.length && twin.wires) scoreboard.checkWires(twin.wires(), rtlWires, rtlCycle);
  const wallSeconds = (performance.now() - t0) / 1000;
  return {
    cycles: rtlCycle,
    wallSeconds,
    cyclesPerSecond: rtlCycle / wallSeconds,
    rtlSimSeconds: rtlSimNs / 1e9,
    inputTransactions: inputTxns,
    outputTransactions: outputTxns,
    inputBeats: rtlInBeats,
    outputBeats: rtlOutBeats,
    quanta,
    rtlWires,
  };
}
