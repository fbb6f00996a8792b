import { describe, it, expect } from "vitest";
import { DmaEngine, splitTlps, type DmaCompletion, type DmaConfig, type DmaReadResult, type DmaTlp, type DmaWriteResult } from "./dma.ts";
import { HostMemory } from "./host-memory.ts";
import { Simulator } from "./kernel.ts";
import { Prng } from "./prng.ts";
import { ClockDomain } from "./time.ts";

/** a fresh engine on a fresh simulator, with every TLP recorded */
function rig(config: DmaConfig = {}, mhz = 1000) {
  const sim = new Simulator();
  const mem = new HostMemory();
  const dma = new DmaEngine(sim, "dma", new ClockDomain("pcie", mhz), mem, config);
  const tlps: DmaTlp[] = [];
  dma.onTlp((t) => tlps.push(t));
  return { sim, mem, dma, tlps };
}

/** 1 byte per ns each way: wire times are easy to add up by hand */
const ONE_GB = { upstreamBytesPerSecond: 1e9, downstreamBytesPerSecond: 1e9 };
/** no bandwidth limit, no link latency: only tags and the completer latency matter */
const IDEAL = { upstreamBytesPerSecond: Infinity, downstreamBytesPerSecond: Infinity, linkLatencyNs: 0 };

const lens = (ts: DmaTlp[], type: string) => ts.filter((t) => t.type === type).map((t) => t.len);

describe("TLP splitting (splitTlps)", () => {
  it("cuts read requests at MRRS-aligned addresses, so none crosses 4 KiB", () => {
    expect(splitTlps(0, 4096, 512, 512).map((p) => p.len)).toEqual(Array(8).fill(512));
    expect(splitTlps(4000, 1000, 512, 512)).toEqual([
      { offset: 0, len: 96 },
      { offset: 96, len: 512 },
      { offset: 608, len: 392 },
    ]);
    // MRRS 4096: only the 4 KiB boundary cuts
    expect(splitTlps(2048, 8192, 4096, 4096).map((p) => p.len)).toEqual([2048, 4096, 2048]);
    expect(splitTlps(100, 1, 128, 128).map((p) => p.len)).toEqual([1]);
  });

  it("cuts completions at RCB-aligned addresses with at most MPS bytes each", () => {
    // 0x1020 is 32 bytes past a 64-byte RCB: the first CplD runs to 0x1100 (224 bytes)
    expect(splitTlps(0x1020, 512, 256, 64).map((p) => p.len)).toEqual([224, 256, 32]);
    expect(splitTlps(0x1050, 256, 256, 64).map((p) => p.len)).toEqual([240, 16]);
    expect(splitTlps(0x1050, 256, 256, 128).map((p) => p.len)).toEqual([176, 80]);
    expect(splitTlps(0, 512, 128, 64).map((p) => p.len)).toEqual([128, 128, 128, 128]);
  });
});

describe("DmaEngine TLPs", () => {
  it("splits a read at MRRS and 4 KiB into 3 MRd and 5 CplD, a write at MPS into 5 MWr, and counts wire bytes", () => {
    const { sim, mem, dma, tlps } = rig({ maxReadRequestBytes: 512, maxPayloadBytes: 256, reorderCompletions: false });
    const src = new Prng(3).bytes(1000);
    mem.write(4000, src);
    const wdata = new Prng(4).bytes(1000);
    let got: Uint8Array | undefined;
    let wres: DmaWriteResult | undefined;
    dma.read(4000, 1000, (d) => (got = d));
    dma.write(0x10000 + 4000, wdata, (r) => (wres = r));
    sim.run();
    expect(got).toEqual(src);
    expect(mem.read(0x10000 + 4000, 1000)).toEqual(wdata);
    expect(wres?.tlps).toBe(5);
    expect(lens(tlps, "MRd")).toEqual([96, 512, 392]);
    expect(tlps.filter((t) => t.type === "MRd").map((t) => t.addr)).toEqual([4000n, 4096n, 4608n]);
    expect(lens(tlps, "CplD")).toEqual([96, 256, 256, 256, 136]);
    expect(lens(tlps, "MWr")).toEqual([96, 256, 256, 256, 136]);
    const c = dma.stats.registry.toJSON().counters;
    expect(c["dma.mrd_tlps"]).toBe(3);
    expect(c["dma.cpld_tlps"]).toBe(5);
    expect(c["dma.mwr_tlps"]).toBe(5);
    expect(c["dma.upstream_bytes"]).toBe(3 * 24 + 5 * 24 + 1000);
    expect(c["dma.upstream_payload_bytes"]).toBe(1000);
    expect(c["dma.downstream_bytes"]).toBe(5 * 20 + 1000);
    expect(c["dma.downstream_payload_bytes"]).toBe(1000);
    expect(dma.busy).toBe(false);
  });

  it("reaches addresses above 2^53 (bigint) and refuses a range that wraps past 2^64", () => {
    const { sim, mem, dma, tlps } = rig();
    const hi = (1n << 64n) - 4096n;
    mem.writeU64Be(hi + 4088n, 0x0123_4567_89ab_cdefn);
    let got: Uint8Array | undefined;
    dma.read(hi, 4096, (d) => (got = d));
    sim.run();
    expect(got!.subarray(4088)).toEqual(Uint8Array.of(0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef));
    expect(tlps.filter((t) => t.type === "MRd")).toHaveLength(8);
    expect(() => dma.read(hi, 4097, () => {})).toThrow(/past 2\^64/);
    expect(() => dma.write(hi + 4095n, new Uint8Array(2))).toThrow(/past 2\^64/);
    expect(() => dma.read(0, 0, () => {})).toThrow(/≥ 1/);
  });
});

describe("DmaEngine timing", () => {
  it("unloaded 64-byte read: MRd wire + link + completer + CplD wire + link = 808 ns at 1 B/ns", () => {
    const { sim, dma, tlps } = rig({ ...ONE_GB, readLatencyNs: 500, linkLatencyNs: 100 });
    let res: DmaReadResult | undefined;
    dma.read(0x1000, 64, (_, r) => (res = r));
    sim.run();
    // 24 (MRd) + 100 + 500 + 84 (CplD: 64 + 20) + 100
    expect(res!.completedPs).toBe(808_000);
    expect(tlps.map((t) => [t.type, t.startPs, t.endPs, t.arrivePs])).toEqual([
      ["MRd", 0, 24_000, 124_000],
      ["CplD", 624_000, 708_000, 808_000],
    ]);
  });

  it("issues on its own clock edges and sees completions at the next edge (250 MHz)", () => {
    const { sim, dma, tlps } = rig({ ...ONE_GB, readLatencyNs: 500, linkLatencyNs: 101 }, 250);
    sim.run(1_000);
    let res: DmaReadResult | undefined;
    dma.read(0x1000, 64, (_, r) => (res = r));
    sim.run();
    expect(tlps[0].startPs).toBe(4_000); // the first edge after 1 ns
    // CplD leaves the wire at 713 ns, +101 ns = 814 ns, seen at the 816 ns edge
    expect(tlps[1].arrivePs).toBe(816_000);
    expect(res!.completedPs - res!.issuedPs).toBe(815_000);
  });

  it("with the defaults (Gen3 x16, 500 ns completer, 100 ns link) a 64-byte read takes 707 ns", () => {
    const { sim, dma } = rig();
    let res: DmaReadResult | undefined;
    dma.read(0, 64, (_, r) => (res = r));
    sim.run();
    // MRd 24 B = 1.5234 ns → 1524 ps; CplD 84 B = 5.332 ns → 5333 ps; 706.857 ns → 707 ns edge
    expect(DmaEngine.serialisePs(24, dma.config.upstreamBytesPerSecond)).toBe(1524);
    expect(DmaEngine.serialisePs(84, dma.config.downstreamBytesPerSecond)).toBe(5333);
    expect(res!.completedPs).toBe(707_000);
  });

  it("a 1 MiB read is bound by the downstream link: 4096 CplD × 276 B at 16 GB/s after the first latency", () => {
    const bw = 16e9;
    const { sim, dma } = rig({ upstreamBytesPerSecond: bw, downstreamBytesPerSecond: bw, tags: 64, maxReadRequestBytes: 512, maxPayloadBytes: 256 });
    let res: DmaReadResult | undefined;
    dma.read(0, 1 << 20, (_, r) => (res = r));
    sim.run();
    // first CplD starts at 1.5 (MRd) + 100 + 500 ns; then the link never idles: 4096 × 17.25 ns
    expect(res!.completedPs).toBe(601_500 + 4096 * 17_250 + 100_000 + 500);
    const ideal = ((1 << 20) * (276 / 256) * 1e12) / bw; // [ps]
    expect(Math.abs(res!.completedPs - 701_500 - ideal) / ideal).toBeLessThan(0.001);
    const payloadRate = (1 << 20) / (res!.completedPs / 1e12);
    // 256/276 = 0.9275 of the raw link, less the first 0.7 µs latency over 71.4 µs: 0.918
    expect(payloadRate / bw).toBeGreaterThan(0.918);
    expect(payloadRate / bw).toBeLessThan(256 / 276);
  });

  it("a 1 MiB write is bound by the upstream link: 4096 MWr × 280 B at 16 GB/s", () => {
    const bw = 16e9;
    const { sim, dma } = rig({ upstreamBytesPerSecond: bw, downstreamBytesPerSecond: bw, maxPayloadBytes: 256 });
    let res: DmaWriteResult | undefined;
    dma.write(0, new Uint8Array(1 << 20).fill(1), (r) => (res = r));
    sim.run();
    expect(res!.tlps).toBe(4096);
    expect(res!.donePs).toBe(4096 * 17_500 + 100_000);
  });

  it("models the directions separately: a 256 KiB read and write at once each take about as long as alone", () => {
    const bw = 16e9;
    const cfg = { upstreamBytesPerSecond: bw, downstreamBytesPerSecond: bw, tags: 64 };
    const alone = (what: "read" | "write" | "both") => {
      const { sim, dma } = rig(cfg);
      let r = 0;
      let w = 0;
      if (what !== "write") dma.read(0, 256 << 10, (_, res) => (r = res.completedPs));
      if (what !== "read") dma.write(1 << 30, new Uint8Array(256 << 10), (res) => (w = res.donePs));
      sim.run();
      return { r, w };
    };
    const { r: readAlone } = alone("read");
    const { w: writeAlone } = alone("write");
    const both = alone("both");
    expect(readAlone).toBe(601_500 + 1024 * 17_250 + 100_000 + 500);
    expect(writeAlone).toBe(1024 * 17_500 + 100_000);
    // the 512 MRds share the upstream link with the 1024 MWrs: at most 512 × 1.5 ns later
    expect(both.w).toBeGreaterThan(writeAlone);
    expect(both.w).toBeLessThanOrEqual(writeAlone + 512 * 1_500);
    // CplDs have the downstream link to themselves; MRds interleave with MWrs TLP by TLP
    expect(both.r / readAlone).toBeLessThan(1.01);
  });
});

describe("DmaEngine tags", () => {
  it("holds requests while all tags are in use and reuses a tag in the cycle it frees", () => {
    const { sim, dma, tlps } = rig({ ...IDEAL, tags: 2, readLatencyNs: 1000, maxReadRequestBytes: 512 });
    let done = -1;
    dma.read(0, 2048, (_, r) => (done = r.completedPs));
    sim.run(500_000);
    expect(dma.tagsInUse).toBe(2);
    expect(lens(tlps, "MRd")).toHaveLength(2);
    sim.run();
    const mrd = tlps.filter((t) => t.type === "MRd");
    expect(mrd.map((t) => t.startPs)).toEqual([0, 0, 1_000_000, 1_000_000]);
    expect(mrd.map((t) => t.tag)).toEqual([0, 1, 0, 1]);
    expect(done).toBe(2_000_000);
    expect(dma.stats.histogram("tags_in_use").max).toBe(2);
    expect(dma.tagOccupancyPs()).toEqual([0, 0, 2_000_000]);
  });

  it("tag-limited throughput is tags × MRRS per round trip: 64 KiB with 4 tags and 1 µs latency takes 32 µs", () => {
    const { sim, dma } = rig({ ...IDEAL, tags: 4, readLatencyNs: 1000, maxReadRequestBytes: 512 });
    let done = -1;
    dma.read(0, 64 << 10, (_, r) => (done = r.completedPs));
    sim.run();
    expect(done).toBe(((64 << 10) / (4 * 512)) * 1_000_000);
  });

  it("keeps read latency percentiles: 16 reads through 4 tags finish in four waves (p50 2 µs, p99 4 µs)", () => {
    const { sim, dma } = rig({ ...IDEAL, tags: 4, readLatencyNs: 1000 });
    for (let i = 0; i < 16; i++) dma.read(i * 64, 64, () => {});
    sim.run();
    const h = dma.stats.histogram("read_latency_ps");
    expect(h.count).toBe(16);
    expect(h.p50).toBe(2_000_000);
    expect(h.p99).toBe(4_000_000);
    expect(dma.stats.histogram("request_latency_ps").max).toBe(1_000_000);
    // each freed tag is taken again at once: after the first wave every allocation sees 4 in use
    expect(dma.stats.histogram("tags_in_use").summary()).toMatchObject({ count: 16, min: 1, max: 4, p50: 4 });
    expect(dma.tagOccupancyPs()).toEqual([0, 0, 0, 0, 4_000_000]);
  });

  it("reports the unloaded latency exactly for back-to-back dependent reads", () => {
    const { sim, dma } = rig({ ...ONE_GB, readLatencyNs: 500, linkLatencyNs: 100 });
    let left = 100;
    const next = (): void => {
      if (left-- > 0) dma.read(0x2000, 64, next);
    };
    next();
    sim.run();
    const h = dma.stats.histogram("read_latency_ps");
    expect(h.count).toBe(100);
    expect([h.p50, h.p99]).toEqual([808_000, 808_000]);
  });
});

describe("DmaEngine completion order", () => {
  /** reads 8 KiB (16 MRds of 512, 4 CplDs of 128 each) and returns the completions in arrival order */
  function scatter(config: DmaConfig) {
    const { sim, mem, dma, tlps } = rig({ maxReadRequestBytes: 512, maxPayloadBytes: 128, tags: 8, ...config });
    const src = new Prng(11).bytes(8192);
    mem.write(0x4000_0000, src);
    const seen: DmaCompletion[] = [];
    let got: Uint8Array | undefined;
    dma.read(0x4000_0000, 8192, (d) => (got = d), { onCompletion: (c) => seen.push(c) });
    sim.run();
    expect(got).toEqual(src);
    return { seen, tlps };
  }

  it("completions of different tags overtake each other; within a request they stay in address order", () => {
    const { seen } = scatter({ readLatencyJitterNs: 400, prng: new Prng(1) });
    expect(seen).toHaveLength(64);
    const offsets = seen.map((c) => c.offset);
    expect(offsets).not.toEqual([...offsets].sort((a, b) => a - b));
    for (let req = 0; req < 16; req++) {
      const mine = seen.filter((c) => Math.floor(c.offset / 512) === req).map((c) => c.offset);
      expect(mine).toEqual([0, 128, 256, 384].map((o) => req * 512 + o));
    }
    // a request's last completion frees its tag, and only that one
    expect(seen.filter((c) => c.lastOfRequest).map((c) => c.offset % 512)).toEqual(Array(16).fill(384));
  });

  it("interleaves completions of ready requests on the link even without latency jitter", () => {
    const { seen } = scatter({ prng: new Prng(1) });
    const reqs = seen.map((c) => Math.floor(c.offset / 512));
    const switchesMidRequest = reqs.filter((r, i) => i > 0 && r !== reqs[i - 1] && !seen[i - 1].lastOfRequest).length;
    expect(switchesMidRequest).toBeGreaterThan(0);
  });

  it("returns completions in address order when reordering is off and there is no jitter", () => {
    const { seen } = scatter({ reorderCompletions: false });
    expect(seen.map((c) => c.offset)).toEqual(Array.from({ length: 64 }, (_, i) => i * 128));
  });

  it("is deterministic by seed: the same seed gives the same TLP trace, another seed another", () => {
    const trace = (seed: number) => JSON.stringify(scatter({ readLatencyJitterNs: 400, prng: new Prng(seed) }).tlps, (_, v) => (typeof v === "bigint" ? v.toString() : v));
    expect(trace(7)).toBe(trace(7));
    expect(trace(7)).not.toBe(trace(8));
  });
});

describe("DmaEngine ordering", () => {
  it("a read issued after a write sees its data, even when the write is 64 KiB of MWrs ahead of it", () => {
    const { sim, mem, dma, tlps } = rig();
    const data = new Prng(5).bytes(64 << 10);
    const base = mem.alloc(64 << 10, 4096);
    let got: Uint8Array | undefined;
    dma.write(base, data);
    dma.read(base + (64 << 10) - 64, 64, (d) => (got = d));
    sim.run();
    expect(got).toEqual(data.subarray((64 << 10) - 64));
    const mrd = tlps.findIndex((t) => t.type === "MRd");
    expect(mrd).toBe(256); // behind all 256 MWrs
  });

  it("lets a read issued before a write share the upstream link with it TLP by TLP", () => {
    const { sim, dma, tlps } = rig({ maxReadRequestBytes: 512 });
    dma.read(0, 2048, () => {});
    dma.write(1 << 20, new Uint8Array(1024));
    sim.run();
    expect(tlps.filter((t) => t.type !== "CplD").map((t) => t.type)).toEqual(["MWr", "MRd", "MWr", "MRd", "MWr", "MRd", "MWr", "MRd"]);
  });

  it("tags its memory accesses with its name, so observers can tell DMA from the CPU", () => {
    const { sim, mem, dma } = rig();
    const who: string[] = [];
    mem.onWrite((a) => who.push(`w:${a.initiator}`));
    mem.onRead((a) => who.push(`r:${a.initiator}`));
    dma.write(0, new Uint8Array(8));
    sim.run();
    dma.read(0, 8, () => {});
    sim.run();
    expect(who).toEqual(["w:dma", "r:dma"]);
  });
});

describe("DmaEngine configuration", () => {
  it("rejects sizes PCIe does not allow, naming the instance", () => {
    const sim = new Simulator();
    const d = new ClockDomain("pcie", 250);
    const m = new HostMemory();
    expect(() => new DmaEngine(sim, "dma7", d, m, { maxReadRequestBytes: 100 })).toThrow(/DmaEngine "dma7": maxReadRequestBytes must be a power of two in \[128, 4096\]/);
    expect(() => new DmaEngine(sim, "x", d, m, { maxPayloadBytes: 8192 })).toThrow(/maxPayloadBytes/);
    expect(() => new DmaEngine(sim, "x", d, m, { readCompletionBoundaryBytes: 32 })).toThrow(/readCompletionBoundaryBytes/);
    expect(() => new DmaEngine(sim, "x", d, m, { tags: 0 })).toThrow(/tags/);
    expect(() => new DmaEngine(sim, "x", d, m, { downstreamBytesPerSecond: 0 })).toThrow(/downstreamBytesPerSecond/);
    expect(() => new DmaEngine(sim, "x", d, m, { readLatencyNs: -1 })).toThrow(/readLatencyNs/);
    expect(new DmaEngine(sim, "x", d, m, { tags: 256 }).config).toMatchObject({ tags: 256, maxReadRequestBytes: 512, maxPayloadBytes: 256 });
  });
});
