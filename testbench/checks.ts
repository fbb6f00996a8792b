/**
 * Checks that judge the block's outputs against what the traffic source knows, not
 * against the model: the scoreboard proves model = RTL, these prove both are right.
 */
import type { StreamTransaction } from "../core/block.ts";
import { IcrcStatus } from "../hca/index.ts";

export interface StatusCheckReport {
  pass: boolean;
  /** outputs by status name */
  byStatus: Record<string, number>;
  /** outputs whose expected status the source knew, and of those the ones that differed */
  judged: number;
  wrong: number;
  firstFailure?: string;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(IcrcStatus).map(([k, v]) => [v, k])) as Record<number, string>;

/** icrc_status: each frame's output status must be the one the source intended. */
export class StatusCheck {
  private readonly expected: (number | undefined)[] = [];
  private head = 0;
  private index = 0;
  private readonly counts: Record<string, number> = {};
  private judged = 0;
  private wrong = 0;
  private firstFailure: string | undefined;

  input(expectedStatus: number | undefined): void {
    this.expected.push(expectedStatus);
  }

  output(t: StreamTransaction): void {
    const status = t.user.status ?? -1;
    const name = STATUS_NAMES[status] ?? `status ${status}`;
    this.counts[name] = (this.counts[name] ?? 0) + 1;
    const exp = this.expected[this.head++];
    if (this.head > 65_536) {
      this.expected.splice(0, this.head);
      this.head = 0;
    }
    if (exp !== undefined) {
      this.judged++;
      if (exp !== status) {
        this.wrong++;
        this.firstFailure ??= `frame #${this.index} (${t.data.length} bytes, cycle ${t.endCycle}): expected status ${STATUS_NAMES[exp]}, got ${name}`;
      }
    }
    this.index++;
  }

  report(): StatusCheckReport {
    return { pass: this.wrong === 0 && this.head === this.expected.length, byStatus: { ...this.counts }, judged: this.judged, wrong: this.wrong, firstFailure: this.firstFailure };
  }
}
