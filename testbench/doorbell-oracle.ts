/**
 * The doorbell_oracle check: what the traffic generator knows it sent, against what the
 * block put out — every rejected doorbell's reason in order, every queue's last counter
 * delivered (coalescing may merge, never lose), every ownership read-back, and the counters.
 */
import type { StreamTransaction } from "../core/block.ts";
import { toHex } from "../core/hex.ts";
import { CfgWrite, CqArmUpdate, DoorbellError, DoorbellKind, FetchRequest } from "../hca/index.ts";
import { queueKey, VERDICT_OF_REASON, type DoorbellTraffic, type Verdict } from "./traffic/doorbell-traffic.ts";

export interface DoorbellOracleReport {
  doorbells: number;
  /** ownership read-backs answered */
  readbacks: number;
  verdicts: Record<Verdict, number>;
  fetches: number;
  cqUpdates: number;
  coalesced: number;
  failures: string[];
}

export class DoorbellOracle {
  private readonly rejected;
  private errIndex = 0;
  private readIndex = 0;
  private readonly last = new Map<string, number>();
  private fetches = 0;
  private cqUpdates = 0;
  private readonly failures: string[] = [];

  constructor(private readonly t: DoorbellTraffic) {
    this.rejected = t.expected.filter((e) => e.verdict !== "accept");
  }

  output(port: string, txn: StreamTransaction): void {
    if (port === "m_cfg_rd") {
      const i = this.readIndex++;
      const want = this.t.readbacks[i];
      if (!want) this.fail(`ownership read-back #${i} for a read the source never made`);
      else if (toHex(want.expected) !== toHex(txn.data)) {
        const [e, g] = [CfgWrite.decode(want.expected), CfgWrite.decode(txn.data)];
        this.fail(`ownership read-back #${i} (table ${e.table}, number 0x${e.number.toString(16)}): expected valid ${e.valid} uar ${e.uar}, got valid ${g.valid} uar ${g.uar}`);
      }
    } else if (port === "m_err") {
      const e = DoorbellError.decode(txn.data);
      const want = this.rejected[this.errIndex++];
      const got = VERDICT_OF_REASON[e.reason];
      if (!want) this.fail(`error event #${this.errIndex - 1} (${got}) for a doorbell the source did not expect rejected`);
      else if (want.verdict !== got || want.number !== e.number || want.offset !== e.offset) {
        this.fail(`error event #${this.errIndex - 1} at cycle ${txn.endCycle}: expected ${want.verdict} for 0x${want.number.toString(16)} at offset 0x${want.offset.toString(16)}, got ${got} for 0x${e.number.toString(16)} at 0x${e.offset.toString(16)}`);
      }
    } else if (port === "m_fetch") {
      const f = FetchRequest.decode(txn.data);
      this.last.set(queueKey(f.kind, f.qpn), f.counter);
      this.fetches++;
    } else if (port === "m_cq_arm") {
      const c = CqArmUpdate.decode(txn.data);
      this.last.set(queueKey(DoorbellKind.cq, c.cqn), c.ci);
      this.cqUpdates++;
    }
  }

  private fail(msg: string): void {
    if (this.failures.length < 10) this.failures.push(msg);
  }

  report(wires: Record<string, number>): DoorbellOracleReport {
    if (this.errIndex !== this.rejected.length) this.fail(`${this.errIndex} error events, the source expected ${this.rejected.length}`);
    if (this.readIndex !== this.t.readbacks.length) this.fail(`${this.readIndex} ownership read-backs, the source made ${this.t.readbacks.length} reads`);
    for (const [q, counter] of this.t.lastCounter) {
      const got = this.last.get(q);
      if (got !== counter) this.fail(`queue ${q}: last counter delivered ${got ?? "none"}, last rung ${counter}`);
    }
    if (wires.stat_rejected_owner !== undefined && wires.stat_rejected_owner !== this.t.counts.owner) {
      this.fail(`stat_rejected_owner ${wires.stat_rejected_owner}, the source sent ${this.t.counts.owner}`);
    }
    return { doorbells: this.t.mmio.length, readbacks: this.readIndex, verdicts: { ...this.t.counts }, fetches: this.fetches, cqUpdates: this.cqUpdates, coalesced: wires.stat_coalesced ?? 0, failures: [...this.failures] };
  }
}
