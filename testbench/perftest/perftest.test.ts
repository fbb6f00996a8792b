/**
 * The perftest testbench end to end: each shipped scenario (fewer sizes and iterations),
 * the goodput check failing on a slower adapter, recovery from a lossy link with every
 * message checked, a QP that runs out of retries, and determinism.
 */
import { describe, expect, it } from "vitest";
import { HostMemory } from "../../core/index.ts";
import { WcStatus } from "../../hca/formats/index.ts";
import { linkSpeed } from "../../hca/link/index.ts";
import { WriteOrderChecker } from "./checks.ts";
import { formatPerftest } from "./report.ts";
import { runPerftest } from "./run.ts";
import { loadPerftestScenario, type PerftestScenario } from "./scenario.ts";

const SCENARIOS = new URL("../scenarios/", import.meta.url).pathname;

/** a shipped scenario with some of its settings changed */
function scenario(name: string, change: (s: PerftestScenario) => void = () => {}): PerftestScenario {
  const s = loadPerftestScenario(`${SCENARIOS}${name}.yaml`);
  change(s);
  return s;
}

describe("roce-write-bw-100g", () => {
  const sc = scenario("roce-write-bw-100g", (s) => {
    s.params.sizes = [2, 4096, 65536, 1048576];
    s.params.iterations = 600;
    s.params.maxBytesPerSize = 8 << 20;
  });
  const r = runPerftest(sc);

  it("reaches 97% of the theoretical maximum from 64 KiB on, limited by the wire", () => {
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.checks.find((c) => c.name === "goodput")!.verdict).toBe("PASS");
    for (const b of r.bw!.filter((x) => x.bytes >= 65536)) {
      expect(b.percentOfMax).toBeGreaterThanOrEqual(97);
      expect(b.percentOfMax).toBeLessThanOrEqual(100);
      expect(b.limit.resource).toBe("wire a-b hostA→hostB");
      expect(b.bwPeakGbps).toBeGreaterThanOrEqual(b.bwAvgGbps);
    }
  });

  it("keeps the egress FIFO short: the transmit datapath waits for the wire", () => {
    // without back-pressure the 128 Gb/s datapath would run ahead of the 100 Gb/s wire by a whole window
    expect(r.ports.hostA!.maxEgressFifo).toBeLessThanOrEqual(sc.adapter.egressFifoFrames + 1);
  });

  it("states what limits 2-byte messages: the WQE fetch, at tags ÷ PCIe round trip", () => {
    const two = r.bw![0]!;
    expect(two.bytes).toBe(2);
    expect(two.limit.resource).toBe("hostA WQE fetch (DMA read per work request)");
    expect(two.limit.utilisation).toBeGreaterThan(0.95);
    // the rate the stage allows, from its parameters: tags per round trip
    const m = /(\d+) reads in flight × ([\d.]+) µs PCIe round trip/.exec(two.limit.detail)!;
    const capacity = Number(m[1]) / Number(m[2]);
    expect(two.msgRateMpps / capacity).toBeGreaterThan(0.95);
    expect(two.msgRateMpps / capacity).toBeLessThan(1.01);
  });

  it("makes a 2-byte message rate that follows the WQE fetch's tags", () => {
    const more = runPerftest(scenario("roce-write-bw-100g", (s) => {
      s.params.sizes = [2];
      s.params.iterations = 600;
      (s.adapter as { wqeFetchTags: number }).wqeFetchTags = 16;
    }));
    // twice the tags: the fetch no longer binds first; the rate rises and another stage takes over
    expect(more.bw![0]!.msgRateMpps).toBeGreaterThan(r.bw![0]!.msgRateMpps * 1.5);
    expect(more.bw![0]!.limit.resource).not.toBe("hostA WQE fetch (DMA read per work request)");
  });

  it("fails the 97% check when each packet costs more (a narrower transmit datapath), and says why", () => {
    const slow = runPerftest(scenario("roce-write-bw-100g", (s) => {
      s.params.sizes = [65536];
      s.params.iterations = 100;
      (s.adapter as { datapathBytes: number }).datapathBytes = 32; // 32 B × 250 MHz = 64 Gb/s
    }));
    expect(slow.verdict).toBe("FAIL");
    const g = slow.checks.find((c) => c.name === "goodput")!;
    expect(g.verdict).toBe("FAIL");
    expect(g.detail).toMatch(/below 97% of the theoretical maximum: 65536 B \d+\.\d% \(limited by hostA transmit datapath\)/);
    expect(slow.bw![0]!.bwAvgGbps).toBeLessThan(64);
  });

  it("prints perftest's columns with the theoretical maximum beside BW average", () => {
    const text = formatPerftest(r, sc);
    expect(text).toContain(" #bytes     #iterations    BW peak[Gb/sec]    BW average[Gb/sec]   BW max[Gb/sec]   of max   MsgRate[Mpps]   limited by");
    expect(text).toMatch(/\n 65536 +128 +\d+\.\d\d +\d+\.\d\d +98\.01 +\d+\.\d% +0\.\d{6} +wire a-b hostA→hostB \(100%\)\n/);
    expect(text).toMatch(/ 2 B: \d+\.\d\d Mpps, limited by hostA WQE fetch .*: 8 reads in flight × 0\.\d\d µs PCIe round trip/);
    expect(text.trim().endsWith("PASS")).toBe(true);
  });
});

describe("roce-read-lat", () => {
  const sc = scenario("roce-read-lat", (s) => {
    s.params.sizes = [2, 4096];
    s.params.iterations = 300;
  });
  const r = runPerftest(sc);

  it("reports perftest's latency columns, ordered figures, larger for larger reads", () => {
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    for (const l of r.lat!) {
      expect(l.iterations).toBe(300);
      expect(l.tMin).toBeLessThanOrEqual(l.tTypical);
      expect(l.tTypical).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.p999);
      expect(l.tStdev).toBeGreaterThan(0); // the PCIe read latency jitter
    }
    expect(r.lat![1]!.tTypical).toBeGreaterThan(r.lat![0]!.tTypical);
    const text = formatPerftest(r, sc);
    expect(text).toContain(" #bytes #iterations    t_min[usec]    t_max[usec]  t_typical[usec]    t_avg[usec]    t_stdev[usec]   99% percentile[usec]   99.9% percentile[usec]");
    expect(text).toMatch(/\n 2 +300 +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d+\.\d\d +\d\.\d\d +\d+\.\d\d +\d+\.\d\d\n/);
  });

  it("follows the model's parameters: 500 ns more host read latency adds 2 × 500 ns to a read round trip (the WQE fetch and the responder's read)", () => {
    const slower = runPerftest(scenario("roce-read-lat", (s) => {
      s.params.sizes = [2];
      s.params.iterations = 300;
      (s.adapter as { pcie: object }).pcie = { ...s.adapter.pcie, readLatencyNs: s.adapter.pcie.readLatencyNs + 500, readLatencyJitterNs: 0 };
    }));
    const base = runPerftest(scenario("roce-read-lat", (s) => {
      s.params.sizes = [2];
      s.params.iterations = 300;
      (s.adapter as { pcie: object }).pcie = { ...s.adapter.pcie, readLatencyJitterNs: 0 };
    }));
    expect(slower.lat![0]!.tTypical - base.lat![0]!.tTypical).toBeCloseTo(2 * 0.5, 3);
  });

  it("waits for every read of a 4 KiB response: with one tag each 512-byte read costs a whole round trip", () => {
    const run = (tags: number) =>
      runPerftest(scenario("roce-read-lat", (s) => {
        s.params.sizes = [4096];
        s.params.iterations = 100;
        (s.adapter as { pcie: object }).pcie = { ...s.adapter.pcie, tags, readLatencyJitterNs: 0 };
      })).lat![0]!;
    // From the figures: the response (one 4096-byte packet) waits for 8 reads of MRRS, one
    // issued every max(round trip ÷ tags, completions on the link); the WQE fetch has its own tags.
    const p = sc.adapter.pcie;
    const onLink = (bytes: number) => Math.ceil((bytes * 1e12) / p.bytesPerSecond);
    const cpl = onLink(p.maxReadRequestBytes + (p.maxReadRequestBytes / p.maxPayloadBytes) * p.completionOverheadBytes);
    const rtt = onLink(p.requestOverheadBytes) + (2 * p.linkLatencyNs + p.readLatencyNs) * 1000 + cpl;
    const spacing = (tags: number) => Math.max(Math.ceil(rtt / tags), cpl);
    const reads = 4096 / p.maxReadRequestBytes;
    const one = run(1);
    const many = run(p.tags);
    expect(one.tMin).toBe(one.tMax);
    expect(one.tTypical - many.tTypical).toBeCloseTo(((reads - 1) * (spacing(1) - spacing(p.tags))) / 1e6, 6);
  });
});

describe("read_bw", () => {
  const readBw = (change: (s: PerftestScenario) => void) =>
    runPerftest(scenario("roce-write-bw-100g", (s) => {
      (s as { test: PerftestScenario["test"] }).test = "read_bw";
      s.params.sizes = [65536];
      s.params.iterations = 100;
      change(s);
    }));

  it("is bound by the responder's PCIe reads when they are slower than the wire: one MRRS read per max(round trip ÷ tags, completions on the link)", () => {
    const tags = 2;
    const r = readBw((s) => {
      (s.adapter as { pcie: object }).pcie = { ...s.adapter.pcie, tags };
    });
    const p = r.bw![0]!;
    const pcie = loadPerftestScenario(`${SCENARIOS}roce-write-bw-100g.yaml`).adapter.pcie;
    const onLink = (bytes: number) => Math.ceil((bytes * 1e12) / pcie.bytesPerSecond);
    const cpl = onLink(pcie.maxReadRequestBytes + (pcie.maxReadRequestBytes / pcie.maxPayloadBytes) * pcie.completionOverheadBytes);
    const rtt = onLink(pcie.requestOverheadBytes) + (2 * pcie.linkLatencyNs + pcie.readLatencyNs) * 1000 + cpl;
    const gbps = (pcie.maxReadRequestBytes * 8) / (Math.max(Math.ceil(rtt / tags), cpl) / 1000);
    expect(gbps).toBeLessThan(p.maxGbps / 2);
    expect(p.limit.resource).toBe("hostB responder host reads (PCIe, READ/atomic data)");
    expect(p.limit.detail).toMatch(/^2 reads of 512 B in flight × 0\.\d\d µs PCIe round trip/);
    expect(p.bwAvgGbps / gbps).toBeGreaterThan(0.99);
    expect(p.bwAvgGbps / gbps).toBeLessThanOrEqual(1);
  });

  it("is bound by the wire with the default PCIe figures (Gen3 x16 outruns 100 GbE)", () => {
    const r = readBw(() => {});
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    expect(r.bw![0]!.limit.resource).toBe("wire a-b hostB→hostA");
    expect(r.bw![0]!.percentOfMax).toBeGreaterThanOrEqual(97);
  });
});

describe("ib-send-bw-edr", () => {
  it("sends over native IB 4X EDR through a switch at the wire's rate, with credits and receives", () => {
    const r = runPerftest(scenario("ib-send-bw-edr", (s) => {
      s.params.sizes = [2, 65536];
      s.params.iterations = 400;
    }));
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    const big = r.bw![1]!;
    expect(big.percentOfMax).toBeGreaterThanOrEqual(97);
    expect(big.limit.resource).toBe("wire a-sw hostA→switch");
    expect(r.switch!.forwarded).toBeGreaterThan(800);
    expect(r.ports.hostB!.framesReceived).toBeGreaterThan(400 * 16);
    expect(r.checks.find((c) => c.name === "data")!.verdict).toBe("PASS");
  });
});

describe("roce-write-lossy", () => {
  const shorten = (s: PerftestScenario) => {
    s.params.sizes = [4096, 65536];
    s.params.iterations = 300;
    s.params.maxBytesPerSize = undefined;
  };
  const r = runPerftest(scenario("roce-write-lossy", shorten));

  it("delivers every message exactly once, in order, byte for byte, through drops, corruption and reordering", () => {
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    const data = r.checks.find((c) => c.name === "data")!;
    expect(data.detail).toBe("600 messages checked byte for byte against what the initiator wrote, each written exactly once and in order");
    const injected = r.links[0]!.directions.reduce((n, d) => ({ drop: n.drop + d.injected.drop!, corrupt: n.corrupt + d.injected.corrupt!, reorder: n.reorder + d.injected.reorder! }), { drop: 0, corrupt: 0, reorder: 0 });
    expect(injected.drop).toBeGreaterThan(0);
    expect(injected.corrupt).toBeGreaterThan(0);
    expect(injected.reorder).toBeGreaterThan(0);
    // every corrupted frame was caught by a CRC at the receiving port, none reached the transport
    const crc = r.ports.hostA!.crcDrops + r.ports.hostB!.crcDrops;
    expect(crc).toBe(injected.corrupt);
    expect(r.engines.hostA!.retransmissions).toBeGreaterThan(0);
    expect(r.engines.hostB!.naksSent).toBeGreaterThan(0);
  });

  it("reports retransmissions, timeouts, NAKs and CRC drops", () => {
    const text = formatPerftest(r, scenario("roce-write-lossy", shorten));
    expect(text).toMatch(/ transport: \d+ packets; retransmissions [1-9]\d*, timeouts \d+, NAKs [1-9]\d* \(RNR 0\), CRC drops [1-9]\d*\n/);
    expect(text).toMatch(/ injected on the links: drop \d+, corrupt \d+, reorder \d+/);
  });

  it("is deterministic: the same seed gives the same figures; another seed other ones", () => {
    const again = runPerftest(scenario("roce-write-lossy", shorten));
    expect(again.bw).toEqual(r.bw);
    expect(again.engines).toEqual(r.engines);
    const other = runPerftest(scenario("roce-write-lossy", (s) => {
      shorten(s);
      s.seed = 8;
    }));
    expect(other.engines.hostA!.retransmissions).not.toBe(r.engines.hostA!.retransmissions);
  });

  it("the write-order check catches a message written twice or out of order", () => {
    const mem = new HostMemory();
    const base = mem.alloc(4 * 100);
    const twice = new WriteOrderChecker(mem, "hostB");
    twice.expect(0x110, base, 100, 4);
    for (const k of [0, 1, 1, 2, 3]) mem.write(base + k * 100, new Uint8Array(100), "hostB");
    expect(twice.finish()[0]).toBe("QP 0x110: 100 bytes written at message 1 offset 0, expected message 2 offset 0");
    const swapped = new WriteOrderChecker(mem, "hostB");
    swapped.expect(0x110, base, 100, 4);
    for (const k of [0, 2, 1, 3]) mem.write(base + k * 100, new Uint8Array(100), "hostB");
    expect(swapped.finish().length).toBeGreaterThan(0);
    const fine = new WriteOrderChecker(mem, "hostB");
    fine.expect(0x110, base, 100, 4);
    for (const k of [0, 1, 2, 3]) {
      mem.write(base + k * 100, new Uint8Array(60), "hostB");
      mem.write(base + k * 100 + 60, new Uint8Array(40), "hostB");
    }
    mem.write(base, new Uint8Array(8), "cpu"); // the host's own stores are not the responder's
    expect(fine.finish()).toEqual([]);
  });
});

describe("every perftest test", () => {
  // each test, small, over each transport in turn; the data checks run on all of them
  const cases: [PerftestScenario["test"], PerftestScenario["fabric"]["transport"], string][] = [
    ["write_bw", "ib", "4X FDR"],
    ["read_bw", "rocev2-ipv4", "40GbE"],
    ["send_bw", "rocev2-ipv6", "10GbE"],
    ["atomic_bw", "ib", "4X QDR"],
    ["write_lat", "rocev2-ipv4", "25GbE"],
    ["read_lat", "ib", "4X HDR"],
    ["send_lat", "rocev2-ipv6", "100GbE"],
  ];
  it.each(cases)("%s over %s (%s) completes and writes what it should", (test, transport, link) => {
    const s = scenario("roce-write-lossy");
    const kind = test.endsWith("_bw") ? "bw" : "lat";
    const r = runPerftest({
      ...s,
      test,
      fabric: { ...s.fabric, transport, link: linkSpeed(link), linkName: link, faults: [], topology: "switch" },
      params: { ...s.params, sizes: test === "atomic_bw" ? [8] : [64, 8192], iterations: kind === "bw" ? 150 : 20, qps: kind === "bw" ? 2 : 1, verify: true },
    });
    expect(r.verdict, r.failures.join("; ")).toBe("PASS");
    const data = r.checks.find((c) => c.name === "data")!;
    expect(data.detail).toMatch(/^[1-9]\d* messages? checked byte for byte/);
    if (kind === "bw") expect(r.bw!.every((b) => b.msgRateMpps > 0 && b.percentOfMax > 0 && b.percentOfMax <= 100)).toBe(true);
    else expect(r.lat!.every((l) => l.tMin > 0 && l.tMin <= l.tTypical)).toBe(true);
  });
});

describe("retry exhaustion", () => {
  it("a QP whose packets never arrive runs out of retries: retry exceeded (syndrome 0x15) on the first WQE, the rest flushed, the QP in ERR", () => {
    const r = runPerftest(scenario("roce-write-bw-100g", (s) => {
      s.params.sizes = [4096];
      s.params.iterations = 40;
      s.fabric.faults = [{ kind: "drop", rate: 1 }];
      s.qp.timeout = 1; // 8.192 µs
      s.qp.retryCount = 2;
    }));
    expect(r.verdict).toBe("FAIL");
    expect(r.errors).toHaveLength(1);
    const e = r.errors[0]!;
    expect(e).toMatchObject({ node: "hostA", qpn: 0x10, index: 0, status: WcStatus.retryExceeded, statusName: "retry exceeded", syndrome: 0x15, flushed: 39 });
    // three tries (the first and two retries), each ended by the timer
    expect(r.engines.hostA!.timeouts).toBe(3);
    expect(r.qpStates).toContainEqual({ node: "hostA", qpn: 0x10, state: "ERR" });
    const c = r.checks.find((x) => x.name === "completions")!;
    expect(c.verdict).toBe("FAIL");
    expect(c.detail).toContain("hostA QP 0x10 work request 0: retry exceeded (status 12, syndrome 0x15)");
  });
});
