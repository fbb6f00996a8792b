/**
 * One input port's stimulus read ahead of its quantum: runs of transaction objects and of
 * packed transactions (core/packed-transactions.ts) in the order the stimulus gave them.
 * Each quantum takes what may start in it, within a budget of beats, and writes it into
 * the H2R_STREAM_INPUT message as packed records: a packed run is copied, not re-encoded.
 */
import type { BlockTwin, StreamTransaction } from "../core/block.ts";
import { PACKED_HEADER_BYTES, packTransactions, spanPacked, unpack, type PackedSpan } from "../core/packed-transactions.ts";

interface ObjectRun {
  txns: StreamTransaction[];
  /** next transaction not taken */
  at: number;
}

interface PackedRun {
  bytes: Uint8Array;
  dv: DataView;
  /** offset of the next transaction not taken */
  at: number;
}

type Run = ObjectRun | PackedRun;

/** a part of one quantum's input: transactions [from, to) of a run (byte offsets for a packed run), `count` of them */
interface Piece {
  run: Run;
  from: number;
  to: number;
  count: number;
}

/** what one quantum takes from a backlog */
export interface QuantumInput {
  /** transactions taken */
  count: number;
  /** beats they take on the port */
  beats: number;
  /** bytes of their packed records */
  packedBytes: number;
  pieces: Piece[];
}

function isPacked(r: Run): r is PackedRun {
  return (r as PackedRun).bytes !== undefined;
}

export class StimulusBacklog {
  private readonly runs: Run[] = [];
  private head = 0;
  /** bytes held (record bytes, plus an allowance per transaction object) */
  heldBytes = 0;
  private readonly span: PackedSpan = { end: 0, startCycle: 0, endCycle: 0, dataBytes: 0 };

  constructor(
    /** data bytes per beat of the port (0: one beat per transaction) */
    private readonly dataBytesPerBeat: number,
    private readonly userNames: readonly string[],
  ) {}

  get empty(): boolean {
    return this.head === this.runs.length;
  }

  pushTransaction(t: StreamTransaction): void {
    const last = this.runs[this.runs.length - 1];
    if (last && !isPacked(last)) last.txns.push(t);
    else this.runs.push({ txns: [t], at: 0 });
    this.heldBytes += PACKED_HEADER_BYTES + 4 * this.userNames.length + t.data.length + 64;
  }

  /** packed transactions; the backlog keeps a view of `bytes` */
  pushPacked(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.runs.push({ bytes, dv: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), at: 0 });
    this.heldBytes += bytes.length;
  }

  private beats(dataBytes: number): number {
    const w = this.dataBytesPerBeat;
    return w === 0 ? 1 : Math.max(1, Math.ceil(dataBytes / w));
  }

  /**
   * Takes the transactions that may start before `windowEnd`, in order, while fewer than
   * `beatLimit` beats are taken (the first that does not fit still goes: a transaction is
   * never split).
   */
  take(windowEnd: number, beatLimit: number): QuantumInput {
    const q: QuantumInput = { count: 0, beats: 0, packedBytes: 0, pieces: [] };
    const recordFixed = PACKED_HEADER_BYTES + 4 * this.userNames.length;
    const sp = this.span;
    while (this.head < this.runs.length && q.beats < beatLimit) {
      const run = this.runs[this.head]!;
      const from = run.at;
      const countBefore = q.count;
      let at = from;
      if (isPacked(run)) {
        const b = run.bytes;
        while (at < b.length && q.beats < beatLimit) {
          if (!spanPacked(b, run.dv, at, sp)) throw new Error(`stimulus: packed transactions cut short at byte ${at} of ${b.length}`);
          if (sp.startCycle >= windowEnd) break;
          q.beats += this.beats(sp.dataBytes);
          q.count++;
          at = sp.end;
        }
        q.packedBytes += at - from;
        this.heldBytes -= at - from;
      } else {
        const txns = run.txns;
        while (at < txns.length && q.beats < beatLimit) {
          const t = txns[at]!;
          if (t.startCycle >= windowEnd) break;
          const n = t.data.length;
          q.beats += this.beats(n);
          q.count++;
          q.packedBytes += recordFixed + n;
          this.heldBytes -= recordFixed + n + 64;
          at++;
        }
      }
      if (at > from) q.pieces.push({ run, from, to: at, count: q.count - countBefore });
      run.at = at;
      const done = isPacked(run) ? at === run.bytes.length : at === run.txns.length;
      if (!done) break;
      this.head++;
    }
    if (this.head > 64 || this.head === this.runs.length) {
      this.runs.splice(0, this.head);
      this.head = 0;
    }
    return q;
  }

  /** writes the records of `q` at `off` of `out` (`dv` over the same buffer); returns the offset after them */
  write(q: QuantumInput, out: Uint8Array, dv: DataView, off: number): number {
    for (const p of q.pieces) {
      if (isPacked(p.run)) {
        out.set(p.run.bytes.subarray(p.from, p.to), off);
        off += p.to - p.from;
      } else {
        off = packTransactions(out, dv, off, p.run.txns.slice(p.from, p.to), this.userNames);
      }
    }
    return off;
  }

  /** offers the transactions of `q` one by one (for a twin without offerPacked) */
  offerEach(q: QuantumInput, port: string, twin: BlockTwin): void {
    for (const p of q.pieces) {
      if (isPacked(p.run)) {
        for (const t of unpack(p.run.bytes.subarray(p.from, p.to), p.count, this.userNames, `stimulus ${port}`)) twin.offer(port, t);
      } else {
        const txns = p.run.txns;
        for (let i = p.from; i < p.to; i++) twin.offer(port, txns[i]!);
      }
    }
  }
}
