/**
 * The figures of a perftest report, computed the way perftest computes them (facts from
 * linux-rdma/perftest src/perftest_resources.c, print_report_bw / print_report_lat):
 *
 * Bandwidth (per size): `tposted[i]` is when post i started and `tcompleted[j]` when the
 * completion covering work request j was polled (set only at signalled completions, every
 * cq_mod work requests, and at the last one).
 * - BW average = bytes × work requests / (tcompleted[last] − tposted[0]);
 * - MsgRate = work requests / that time;
 * - BW peak = bytes / min over i, and over signalled j ≥ i, of (tcompleted[j] − tposted[i]) / (j − i + 1).
 * Gb/s are 10^9 bit/s (perftest's --report_gbits: bytes / 125,000,000).
 *
 * Latency: samples are the times between consecutive posts (ping-pong and read round
 * trips), divided by 2 for write and send (a ping-pong holds two one-way trips), by 1 for
 * read and atomic. Sorted; the 2 largest are dropped (LAT_MEASURE_TAIL); of the n left:
 * t_min = first, t_max = element n (the largest kept one's successor in perftest's
 * indexing), t_typical = the median (mean of the two middle ones when n is even), t_avg
 * and t_stdev (population) over the n, 99% = element ceil(0.99 n), 99.9% = element
 * ceil(0.999 n).
 */

export interface BwFigures {
  /** [Gb/s] */
  peakGbps: number;
  /** [Gb/s] */
  avgGbps: number;
  /** [M messages/s] */
  msgRateMpps: number;
  /** tcompleted[last] − tposted[0] [ps] */
  elapsedPs: number;
}

/**
 * `posted[i]`: start of post i [ps]; `completed`: polled time of each signalled completion,
 * as [index of the last work request it covers, time] in completion order.
 */
export function bwFigures(bytes: number, posted: Float64Array | readonly number[], completed: readonly (readonly [number, number])[]): BwFigures {
  const n = posted.length;
  if (n === 0 || completed.length === 0) throw new RangeError("bwFigures: no work requests");
  const last = completed[completed.length - 1]!;
  const elapsedPs = last[1] - posted[0]!;
  // best (smallest) time per work request over every window [i, j]; j walks the signalled ones
  let best = elapsedPs / n;
  let k = 0;
  for (let i = 0; i < n; i++) {
    while (k < completed.length && completed[k]![0] < i) k++;
    for (let m = k; m < completed.length; m++) {
      const [j, t] = completed[m]!;
      const per = (t - posted[i]!) / (j - i + 1);
      if (per < best) best = per;
    }
  }
  const gbps = (b: number, ps: number) => (b * 8) / (ps / 1e12) / 1e9;
  return { peakGbps: gbps(bytes, best), avgGbps: gbps(bytes * n, elapsedPs), msgRateMpps: n / (elapsedPs / 1e12) / 1e6, elapsedPs };
}

export interface LatFigures {
  /** all [µs] */
  tMin: number;
  tMax: number;
  tTypical: number;
  tAvg: number;
  tStdev: number;
  p99: number;
  p999: number;
}

/** perftest drops this many of the largest samples */
export const LAT_MEASURE_TAIL = 2;

/** `posted[i]`: start of post i [ps]; `rttFactor` 2 for ping-pong tests, 1 for read and atomic */
export function latFigures(posted: Float64Array | readonly number[], rttFactor: 1 | 2): LatFigures {
  const deltas: number[] = [];
  for (let i = 0; i + 1 < posted.length; i++) deltas.push((posted[i + 1]! - posted[i]!) / rttFactor / 1e6);
  const n = deltas.length - LAT_MEASURE_TAIL;
  if (n < 1) throw new RangeError(`latFigures: ${posted.length} posts give no samples after dropping ${LAT_MEASURE_TAIL}`);
  deltas.sort((a, b) => a - b);
  const median = (n - 1) % 2 ? (deltas[n / 2]! + deltas[n / 2 - 1]!) / 2 : deltas[(n - 1) / 2]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += deltas[i]!;
  const avg = sum / n;
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (deltas[i]! - avg) ** 2;
  return {
    tMin: deltas[0]!,
    tMax: deltas[n]!,
    tTypical: median,
    tAvg: avg,
    tStdev: Math.sqrt(sq / n),
    p99: deltas[Math.ceil(n * 0.99)]!,
    p999: deltas[Math.ceil(n * 0.999)]!,
  };
}
