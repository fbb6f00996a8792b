/** TypeScript twin of the passthru test block: one register stage, no backpressure. */
import type { BlockTwin, StreamTransaction } from "../../../core/block.ts";

export class PassthruTwin implements BlockTwin {
  readonly block = "passthru";
  private queue: StreamTransaction[] = [];
  private out: StreamTransaction[] = [];
  /** first cycle at which the input port is free */
  private inputFree = 0;

  constructor(private readonly dataBytes: number) {}

  offer(port: string, txn: StreamTransaction): void {
    if (port !== "s_axis") throw new Error(`passthru has no input ${port}`);
    this.queue.push(txn);
  }

  runUntil(cycle: number): void {
    while (this.queue.length) {
      const t = this.queue[0]!;
      const beats = Math.max(1, Math.ceil(t.data.length / this.dataBytes));
      const start = Math.max(t.startCycle, this.inputFree);
      const end = start + beats - 1;
      // the output's last beat leaves one cycle after the input's; done only if before `cycle`
      if (end + 1 >= cycle) break;
      this.queue.shift();
      this.inputFree = end + 1;
      this.out.push({ data: t.data, user: { tag: t.user.tag ?? 0 }, startCycle: start + 1, endCycle: end + 1 });
    }
  }

  take(port: string): StreamTransaction[] {
    if (port !== "m_axis") throw new Error(`passthru has no output ${port}`);
    const o = this.out;
    this.out = [];
    return o;
  }
}
