/**
 * The tpt_oracle check: each lookup's answer (fault, or the physical segments) against
 * what the traffic generator registered — computed from its own bookkeeping, not the
 * twin — and each table read-back (m_cfg_rd) against what it wrote. Also the figures the
 * TPT is judged by: hit rate and miss latency.
 */
import type { StreamTransaction } from "../core/block.ts";
import { Histogram } from "../core/stats.ts";
import { decodeResponse, faultName } from "../hca/index.ts";
import { decodeCfgReadback } from "../hca/formats/index.ts";
import { toHex } from "../core/hex.ts";
import type { TptTraffic } from "./traffic/tpt-traffic.ts";

export interface TptOracleReport {
  lookups: number;
  /** table read-backs answered (all as written, unless listed in failures) */
  readbacks: number;
  faults: Record<string, number>;
  hitRate: number;
  /** response latency [cycles] of lookups of regions the generator expects cached vs cold */
  latency: { hot: { p50: number; p99: number }; cold: { p50: number; p99: number } };
  /** cold p50 − hot p50 [cycles] */
  missPenaltyCycles: number;
  /**
   * s_req handshake to first response beat [cycles] of the lookups whose first MPT-cache
   * probe hit or missed, as the twin measured them (the RTL's are the same cycles whenever
   * the timing check passes with tolerance 0); absent when the twin was not observed
   */
  service?: { hit: LatencySummary; miss: LatencySummary };
  failures: string[];
}

export interface LatencySummary {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

function summary(h: Histogram): LatencySummary {
  return h.count ? { count: h.count, p50: h.p50, p99: h.p99, max: h.max } : { count: 0, p50: 0, p99: 0, max: 0 };
}

export class TptOracle {
  private next = 0;
  private nextRead = 0;
  private readonly faults: Record<string, number> = {};
  private readonly hot = new Histogram("hot");
  private readonly cold = new Histogram("cold");
  private readonly failures: string[] = [];

  constructor(private readonly t: TptTraffic) {}

  output(port: string, txn: StreamTransaction): void {
    if (port === "m_cfg_rd") return this.readback(txn);
    if (port !== "m_resp") return;
    const i = this.next++;
    const want = this.t.requests[i];
    const got = decodeResponse(txn.data);
    const name = faultName(got.fault);
    this.faults[name] = (this.faults[name] ?? 0) + 1;
    if (!want) return this.fail(`response #${i} for a lookup the source never made`);
    const latency = txn.endCycle - want.txn.startCycle;
    if (want.kind === "hot") this.hot.record(latency);
    if (want.kind === "cold") this.cold.record(latency);
    if (got.fault !== want.expected.fault) {
      return this.fail(`lookup #${i} (${want.kind}): expected ${faultName(want.expected.fault)}, got ${name}`);
    }
    const segs = want.expected.segments ?? [];
    if (got.fault === 0 && (segs.length !== got.segments.length || segs.some((s, k) => s.addr !== got.segments[k]!.addr || s.len !== got.segments[k]!.len))) {
      this.fail(`lookup #${i} (${want.kind}): segments ${JSON.stringify(got.segments, (_k, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v))} differ from the registered pages`);
    }
  }

  private readback(txn: StreamTransaction): void {
    const i = this.nextRead++;
    const want = this.t.readbacks[i];
    if (!want) return this.fail(`table read-back #${i} for a read the source never made`);
    if (toHex(txn.data) !== toHex(want.expected)) {
      const got = decodeCfgReadback(txn.data);
      const exp = decodeCfgReadback(want.expected);
      this.fail(`table read-back #${i} (op ${exp.op}, index ${exp.index}): expected valid ${exp.valid} live ${exp.live} ${toHex(exp.entry)}, got valid ${got.valid} live ${got.live} ${toHex(got.entry)}`);
    }
  }

  private fail(msg: string): void {
    if (this.failures.length < 10) this.failures.push(msg);
  }

  report(wires: Record<string, number>, service?: { hit: Histogram; miss: Histogram }): TptOracleReport {
    if (this.next !== this.t.requests.length) this.fail(`${this.next} responses for ${this.t.requests.length} lookups`);
    if (this.nextRead !== this.t.readbacks.length) this.fail(`${this.nextRead} read-back answers for ${this.t.readbacks.length} reads`);
    const pct = (h: Histogram) => (h.count ? { p50: h.p50, p99: h.p99 } : { p50: 0, p99: 0 });
    const lookups = wires.stat_lookups ?? this.next;
    return {
      lookups: this.next,
      readbacks: this.nextRead,
      faults: { ...this.faults },
      hitRate: lookups ? (wires.stat_hits ?? 0) / lookups : 0,
      latency: { hot: pct(this.hot), cold: pct(this.cold) },
      missPenaltyCycles: this.cold.count && this.hot.count ? this.cold.p50 - this.hot.p50 : 0,
      ...(service ? { service: { hit: summary(service.hit), miss: summary(service.miss) } } : {}),
      failures: [...this.failures],
    };
  }
}
