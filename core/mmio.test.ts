import { describe, it, expect } from "vitest";
import { Simulator } from "./kernel.ts";
import { MmioBar, type MmioRead, type MmioWrite } from "./mmio.ts";

/** a UAR-like BAR of 16 pages on a fresh simulator */
function bar(config: Partial<ConstructorParameters<typeof MmioBar>[1]> = {}) {
  const sim = new Simulator();
  return { sim, uar: new MmioBar(sim, { name: "uar", sizeBytes: 16 * 4096, ...config }) };
}

describe("MmioBar stores", () => {
  it("delivers a doorbell store to its page's handler 300 ns later (default), with page and in-page offset", () => {
    const { sim, uar } = bar();
    const got: MmioWrite[] = [];
    uar.mapPage(3, (w) => got.push(w));
    sim.run(1_000);
    const bytes = Uint8Array.of(0, 0, 0, 0x12, 0, 0, 0x0a, 0xbc);
    expect(uar.write(3 * 4096 + 0x10, bytes)).toBe(301_000);
    bytes[0] = 0xff; // the model took a copy
    sim.run(300_999);
    expect(got).toHaveLength(0);
    sim.run();
    expect(got).toEqual([
      { bar: "uar", offset: 3 * 4096 + 0x10, page: 3, pageOffset: 0x10, bytes: Uint8Array.of(0, 0, 0, 0x12, 0, 0, 0x0a, 0xbc), issuedPs: 1_000, deliveredPs: 301_000 },
    ]);
    expect(sim.now).toBe(301_000);
  });

  it("routes each store by page: each context's UAR page to its own handler, unmapped pages dropped and counted", () => {
    const { sim, uar } = bar();
    const log: string[] = [];
    uar.mapPages(0, 4, (w) => log.push(`kernel:${w.page}`));
    uar.mapPage(5, { onWrite: (w) => log.push(`ctx5:${w.pageOffset}`) });
    for (const page of [0, 3, 4, 5, 15]) uar.write(page * 4096 + 8, new Uint8Array(4));
    sim.run();
    expect(log).toEqual(["kernel:0", "kernel:3", "ctx5:8"]);
    expect(uar.writes).toBe(5);
    expect(uar.droppedWrites).toBe(2);
    expect(uar.bytesWritten).toBe(20);
  });

  it("drops a store whose page is unmapped while it is in flight", () => {
    const { sim, uar } = bar();
    let n = 0;
    uar.mapPage(1, () => n++);
    uar.write(4096, new Uint8Array(8));
    uar.unmapPage(1);
    sim.run();
    expect(n).toBe(0);
    expect(uar.droppedWrites).toBe(1);
  });

  it("keeps stores in order and spaces a burst by its wire time (8 B + 24 B at 1 B/ns = 32 ns)", () => {
    const { sim, uar } = bar({ bytesPerSecond: 1e9, postedWriteLatencyNs: 300 });
    const at: Array<[number, number]> = [];
    uar.mapPage(0, (w) => at.push([w.bytes[0], w.deliveredPs]));
    for (let i = 0; i < 5; i++) uar.write(0, Uint8Array.of(i, 0, 0, 0, 0, 0, 0, 0));
    sim.run();
    expect(at).toEqual([0, 1, 2, 3, 4].map((i) => [i, 300_000 + i * 32_000]));
    // an isolated store later on sees only the latency
    uar.write(0, new Uint8Array(8));
    sim.run();
    expect(at[5][1]).toBe(sim.now);
    expect(at[5][1]).toBe(428_000 + 300_000);
  });

  it("refuses stores that cross a page or leave the BAR, and bad configurations", () => {
    const { uar, sim } = bar();
    expect(() => uar.write(4096 - 4, new Uint8Array(8))).toThrow(/crosses a 4096-byte page boundary/);
    expect(() => uar.write(16 * 4096 - 4, new Uint8Array(8))).toThrow(/outside the 65536-byte BAR/);
    expect(() => uar.write(0, new Uint8Array(0))).toThrow(/≥ 1/);
    expect(() => uar.mapPage(16, () => {})).toThrow(/page 16 is outside \[0, 16\)/);
    expect(() => new MmioBar(sim, { name: "b", sizeBytes: 5000 })).toThrow(/MmioBar "b": sizeBytes/);
    expect(() => new MmioBar(sim, { name: "b", sizeBytes: 8192, pageBytes: 3000 })).toThrow(/pageBytes/);
    expect(() => new MmioBar(sim, { name: "b", sizeBytes: 8192, postedWriteLatencyNs: -1 })).toThrow(/postedWriteLatencyNs/);
  });
});

describe("MmioBar loads", () => {
  it("returns the page handler's bytes after the request and return latencies (300 + 300 ns)", () => {
    const { sim, uar } = bar();
    const reqs: MmioRead[] = [];
    uar.mapPage(2, {
      onRead: (r) => {
        reqs.push(r);
        return Uint8Array.of(0xca, 0xfe, 0xba, 0xbe);
      },
    });
    let got: [Uint8Array, number] | undefined;
    expect(uar.read(2 * 4096 + 0x18, 4, (b, t) => (got = [b, t]))).toBe(300_000);
    sim.run();
    expect(got).toEqual([Uint8Array.of(0xca, 0xfe, 0xba, 0xbe), 600_000]);
    expect(reqs[0]).toMatchObject({ page: 2, pageOffset: 0x18, len: 4, deliveredPs: 300_000 });
  });

  it("reads all ones from an unclaimed page, as a host does after an unsupported request", () => {
    const { sim, uar } = bar();
    let got: Uint8Array | undefined;
    uar.read(0, 4, (b) => (got = b));
    sim.run();
    expect(got).toEqual(Uint8Array.of(0xff, 0xff, 0xff, 0xff));
  });

  it("does not pass earlier stores: polling a register right after writing it sees the new value", () => {
    const { sim, uar } = bar();
    let reg = 0;
    uar.mapPage(0, {
      onWrite: (w) => (reg = w.bytes[0]),
      onRead: () => Uint8Array.of(reg),
    });
    uar.write(0, Uint8Array.of(0x5a));
    let got = -1;
    uar.read(0, 1, (b) => (got = b[0]));
    sim.run();
    expect(got).toBe(0x5a);
  });
});
