/**
 * perftest's report arithmetic (figures.ts) and the front end's per-work-request costs
 * (front-end.ts), on inputs whose answers are known by hand.
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../../core/index.ts";
import { bwFigures, LAT_MEASURE_TAIL, latFigures } from "./figures.ts";
import { ADAPTER_DEFAULTS, FrontEnd } from "./front-end.ts";

const US = 1_000_000; // ps

describe("bwFigures", () => {
  it("average over first post to last completion; message rate; Gb/s of 10^9 bit", () => {
    // 4 messages of 1250 bytes, posted at 0, completion of the last at 1 µs: 5000 B per µs = 40 Gb/s
    const f = bwFigures(1250, [0, 0, 0, 0], [[3, 1 * US]]);
    expect(f.avgGbps).toBeCloseTo(40, 9);
    expect(f.msgRateMpps).toBeCloseTo(4, 9);
    expect(f.elapsedPs).toBe(US);
  });

  it("peak is the best window between a post and a later signalled completion", () => {
    // posts at 0, 8, 9, 10 µs; completions (cq_mod 2) of #1 at 10 µs and #3 at 11 µs:
    // the best window is [1, 3], (11 − 8) / 3 = 1 µs per message (the whole run: 11 / 4)
    const posted = [0, 8, 9, 10].map((t) => t * US);
    const f = bwFigures(1000, posted, [[1, 10 * US], [3, 11 * US]]);
    expect(f.avgGbps).toBeCloseTo((4000 * 8) / 11e-6 / 1e9, 9);
    expect(f.peakGbps).toBeCloseTo((1000 * 8) / 1e-6 / 1e9, 9);
    expect(f.peakGbps).toBeGreaterThan(f.avgGbps);
  });

  it("a completion only counts for posts it covers", () => {
    // completion #0 at 1 µs must not pair with post #1 (a window that ends before it begins)
    const f = bwFigures(1000, [0, 5 * US], [[0, 1 * US], [1, 6 * US]]);
    expect(f.peakGbps).toBeCloseTo((1000 * 8) / 1e-6 / 1e9, 9);
  });
});

describe("latFigures", () => {
  it("drops the two largest samples, takes min, max, median, mean, population stdev and percentiles as perftest does", () => {
    // posts at cumulative sums of these gaps (µs): samples 1..10, then two outliers 50 and 60
    const gaps = [3, 1, 2, 5, 4, 50, 7, 6, 9, 8, 60, 10];
    const posted = [0];
    for (const g of gaps) posted.push(posted[posted.length - 1]! + g * US);
    const f = latFigures(posted, 1);
    const kept = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(LAT_MEASURE_TAIL).toBe(2);
    expect(f.tMin).toBe(1);
    // perftest prints delta[n] after dropping: the first dropped sample
    expect(f.tMax).toBe(50);
    expect(f.tTypical).toBe(5.5); // even count: mean of the middle two
    expect(f.tAvg).toBeCloseTo(5.5, 12);
    expect(f.tStdev).toBeCloseTo(Math.sqrt(kept.reduce((s, x) => s + (x - 5.5) ** 2, 0) / 10), 12);
    expect(f.p99).toBe(50); // delta[ceil(0.99 × 10)] = delta[10]
  });

  it("halves ping-pong samples, takes the middle one of an odd count", () => {
    const posted = [0, 2, 4, 8, 10, 30, 40].map((t) => t * US); // gaps 2 2 4 2 20 10 → kept 2 2 2 4
    const f = latFigures(posted, 2);
    expect(f.tMin).toBe(1);
    expect(f.tTypical).toBe(1); // sorted halves 1 1 1 2: even → (1 + 1) / 2
    const odd = latFigures([0, 1, 3, 6, 100, 200].map((t) => t * US), 1); // gaps 1 2 3 94 100 → kept 1 2 3
    expect(odd.tTypical).toBe(2);
  });

  it("refuses too few posts", () => {
    expect(() => latFigures([0, 1, 2], 1)).toThrow(/no samples/);
  });
});

describe("FrontEnd", () => {
  it("a WQE fetch holds a tag for a PCIe round trip: tags ÷ round trip WQEs per second, in order", () => {
    const fe = new FrontEnd(ADAPTER_DEFAULTS);
    const rtt = fe.readRoundTripPs(ADAPTER_DEFAULTS.wqeBytes);
    // the round trip is the core/dma.ts figures: 2 × link latency + read latency + serialisation
    const p = ADAPTER_DEFAULTS.pcie;
    expect(rtt).toBeGreaterThan((2 * p.linkLatencyNs + p.readLatencyNs) * 1000);
    expect(rtt).toBeLessThan((2 * p.linkLatencyNs + p.readLatencyNs) * 1000 + 20_000);
    const n = 2000;
    let last = 0;
    for (let i = 0; i < n; i++) {
      const t = fe.submit(0, { payloadBytes: 0 });
      expect(t).toBeGreaterThanOrEqual(last);
      last = t;
    }
    const perWqe = last / n;
    const expected = rtt / ADAPTER_DEFAULTS.wqeFetchTags;
    expect(perWqe / expected).toBeGreaterThan(0.99);
    expect(perWqe / expected).toBeLessThan(1.01);
    const fetch = fe.stage("wqe_fetch");
    expect(fetch.requests).toBe(n);
  });

  it("payload reads: bound by tags for small payloads, by the PCIe link for large ones; none when inline", () => {
    const fe = new FrontEnd({ ...ADAPTER_DEFAULTS, wqeFetchTags: 1024, maxInline: 64 });
    const read = fe.stage("payload_read");
    const p = ADAPTER_DEFAULTS.pcie;
    fe.submit(0, { payloadBytes: 64 });
    expect(read.requests).toBe(0); // inline: carried in the WQE
    const big = 1 << 20;
    fe.submit(0, { payloadBytes: big });
    const linkPs = ((big + (big / p.maxPayloadBytes) * p.completionOverheadBytes) * 1e12) / p.bytesPerSecond;
    expect(read.busyPs / linkPs).toBeCloseTo(1, 3);
    const fe2 = new FrontEnd({ ...ADAPTER_DEFAULTS, wqeFetchTags: 1024 });
    fe2.submit(0, { payloadBytes: 256 });
    const r2 = fe2.stage("payload_read");
    expect(r2.busyPs).toBe(Math.ceil(fe2.readRoundTripPs(256) / p.tags));
  });

  it("jitter lengthens latencies, never reorders", () => {
    const fe = new FrontEnd({ ...ADAPTER_DEFAULTS, pcie: { ...ADAPTER_DEFAULTS.pcie, readLatencyJitterNs: 300 } }, new Prng(3));
    const plain = new FrontEnd(ADAPTER_DEFAULTS);
    let last = 0;
    let longer = 0;
    for (let i = 0; i < 100; i++) {
      const t = fe.submit(i * 50_000, { payloadBytes: 8 });
      const u = plain.submit(i * 50_000, { payloadBytes: 8 });
      expect(t).toBeGreaterThanOrEqual(last);
      if (t > u) longer++;
      last = t;
    }
    expect(longer).toBeGreaterThan(50);
  });
});
