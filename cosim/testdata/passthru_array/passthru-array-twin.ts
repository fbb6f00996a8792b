/** Twin of the passthru_array fixture: COUNT independent register slices and a frame counter. */
import type { BlockTwin, StreamTransaction } from "../../../core/block.ts";
import { PassthruTwin } from "../passthru/passthru-twin.ts";

export class PassthruArrayTwin implements BlockTwin {
  readonly block = "passthru_array";
  private readonly lanes: PassthruTwin[];
  private framesOut: { endCycle: number }[] = [];
  private now = 0;

  constructor(count: number, dataBytes: number) {
    this.lanes = Array.from({ length: count }, () => new PassthruTwin(dataBytes));
  }

  private lane(port: string, prefix: string): [PassthruTwin, number] {
    const m = new RegExp(`^${prefix}\\[(\\d+)\\]$`).exec(port);
    const i = m ? Number(m[1]) : -1;
    const lane = this.lanes[i];
    if (!lane) throw new Error(`passthru_array has no port ${port}`);
    return [lane, i];
  }

  offer(port: string, txn: StreamTransaction): void {
    this.lane(port, "s_axis")[0].offer("s_axis", txn);
  }

  runUntil(cycle: number): void {
    this.now = cycle;
    for (const l of this.lanes) l.runUntil(cycle);
  }

  take(port: string): StreamTransaction[] {
    const [lane, i] = this.lane(port, "m_axis");
    const out = lane.take("m_axis").map((t) => ({ ...t, user: { tag: (t.user.tag ?? 0) ^ i } }));
    for (const t of out) this.framesOut.push({ endCycle: t.endCycle });
    return out;
  }

  wires(): Record<string, number> {
    // the counter register shows a frame one cycle after its last beat
    return { frames_out: this.framesOut.filter((f) => f.endCycle + 1 < this.now).length };
  }
}
