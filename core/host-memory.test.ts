import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { HOST_PAGE_BYTES, HostMemory, RangeAllocator, type HostMemoryAccess } from "./host-memory.ts";

const TOP = 1n << 64n;

describe("HostMemory sparse store", () => {
  it("reads never-written bytes as zero and allocates no page for a read", () => {
    const m = new HostMemory();
    expect(m.read(0x1234_5678, 100)).toEqual(new Uint8Array(100));
    expect(m.read(TOP - 16n, 16)).toEqual(new Uint8Array(16));
    expect(m.pagesAllocated).toBe(0);
  });

  it("allocates one 4 KiB page per page touched by a write, and reads back across the boundary", () => {
    const m = new HostMemory();
    m.write(0x1000, Uint8Array.of(1));
    expect(m.pagesAllocated).toBe(1);
    m.write(0x2ffe, Uint8Array.of(0xa, 0xb, 0xc, 0xd)); // last 2 bytes of page 2, first 2 of page 3
    expect(m.pagesAllocated).toBe(3);
    expect([...m.read(0x2ffc, 8)]).toEqual([0, 0, 0xa, 0xb, 0xc, 0xd, 0, 0]);
    // a 3-page write touches exactly the pages it spans
    m.write(0x10_0800, new Uint8Array(2 * HOST_PAGE_BYTES).fill(7));
    expect(m.pagesAllocated).toBe(6);
    expect(m.read(0x10_0800, 2 * HOST_PAGE_BYTES).every((b) => b === 7)).toBe(true);
    expect(m.readU8(0x10_07ff)).toBe(0);
    expect(m.readU8(0x10_2800)).toBe(0);
  });

  it("treats a number and a bigint for the same address as the same byte", () => {
    const m = new HostMemory();
    m.write(0x1_0000_0040, Uint8Array.of(0x5a));
    expect(m.readU8(0x1_0000_0040n)).toBe(0x5a);
    m.write((1n << 53n) - 1n, Uint8Array.of(0x77)); // the highest safe number, written as bigint
    expect(m.readU8(2 ** 53 - 1)).toBe(0x77);
  });

  it("reaches the top of the 64-bit space with bigints and refuses ranges that would wrap past 2^64", () => {
    const m = new HostMemory();
    m.writeU64Be(TOP - 8n, 0xffee_ddcc_bbaa_9988n);
    expect(m.readU64Be(TOP - 8n)).toBe(0xffee_ddcc_bbaa_9988n);
    expect(m.readU8(TOP - 1n)).toBe(0x88);
    expect(() => m.write(TOP - 8n, new Uint8Array(9))).toThrow(/past 2\^64/);
    expect(() => m.read(TOP - 1n, 2)).toThrow(/past 2\^64/);
    expect(() => m.read(TOP, 1)).toThrow(/outside \[0, 2\^64\)/);
    expect(() => m.read(-1n, 1)).toThrow(RangeError);
    expect(() => m.read(-1, 1)).toThrow(RangeError);
    expect(() => m.read(1.5, 1)).toThrow(RangeError);
    expect(() => m.read(2 ** 53, 1)).toThrow(/must be passed as bigint/);
    expect(() => m.read(0, -1)).toThrow(/length/);
    // a zero-length access at the last address is fine
    expect(m.read(TOP - 1n, 0)).toEqual(new Uint8Array(0));
    expect(m.pagesAllocated).toBe(1);
  });

  it("stores typed values in the byte order their names say", () => {
    const m = new HostMemory();
    m.writeU32Be(0x100, 0x1122_3344);
    expect([...m.read(0x100, 4)]).toEqual([0x11, 0x22, 0x33, 0x44]);
    expect(m.readU32Le(0x100)).toBe(0x4433_2211);
    m.writeU32Le(0x104, 0xdead_beef);
    expect([...m.read(0x104, 4)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect(m.readU32Be(0x104)).toBe(0xefbe_adde);
    m.writeU16Be(0x108, 0xabcd);
    expect(m.readU16Le(0x108)).toBe(0xcdab);
    m.writeU64Le(0x110, 0x0102_0304_0506_0708n);
    expect([...m.read(0x110, 8)]).toEqual([8, 7, 6, 5, 4, 3, 2, 1]);
    expect(m.readU64Be(0x110)).toBe(0x0807_0605_0403_0201n);
    m.writeU64Be(0x118, 2 ** 40 + 5); // a safe number is accepted
    expect(m.readU64Be(0x118)).toBe(2n ** 40n + 5n);
    // a u64 straddling a page boundary
    m.writeU64Be(0xffc, 0xa1a2_a3a4_a5a6_a7a8n);
    expect(m.readU64Be(0xffc)).toBe(0xa1a2_a3a4_a5a6_a7a8n);
    expect(() => m.writeU32Be(0, 2 ** 32)).toThrow(RangeError);
    expect(() => m.writeU8(0, -1)).toThrow(RangeError);
    expect(() => m.writeU64Le(0, 1n << 64n)).toThrow(RangeError);
    expect(() => m.writeU64Le(0, 2 ** 53)).toThrow(RangeError);
  });
});

describe("HostMemory copies without allocating (readInto, writeFrom)", () => {
  it("readInto fills the caller's buffer at an offset, zeros included, and leaves the rest alone", () => {
    const m = new HostMemory();
    m.write(0x1ffe, Uint8Array.of(1, 2, 3, 4)); // across a page boundary
    const dst = new Uint8Array(12).fill(0xaa);
    m.readInto(0x1ffc, dst, 3, 8);
    expect([...dst]).toEqual([0xaa, 0xaa, 0xaa, 0, 0, 1, 2, 3, 4, 0, 0, 0xaa]);
    // bytes never written read as zero even where the buffer held something
    m.readInto(0x9_0000, dst, 0, 12);
    expect(dst.every((b) => b === 0)).toBe(true);
    expect(m.pagesAllocated).toBe(2);
  });

  it("writeFrom stores a range of the source as write does with a subarray", () => {
    const a = new HostMemory();
    const b = new HostMemory();
    const src = Uint8Array.from({ length: 6000 }, (_, i) => (i * 7) & 0xff);
    a.writeFrom(0x2f00, src, 100, 5000, "dma0");
    b.write(0x2f00, src.subarray(100, 5100), "dma0");
    expect(a.equals(b.snapshot())).toBe(true);
    expect(a.read(0x2f00, 5000)).toEqual(src.subarray(100, 5100));
    expect([a.pagesAllocated, a.bytesWritten, a.writeCount]).toEqual([b.pagesAllocated, b.bytesWritten, b.writeCount]);
  });

  it("refuses a buffer range that does not fit, and the address checks are those of read and write", () => {
    const m = new HostMemory();
    const buf = new Uint8Array(16);
    expect(() => m.readInto(0, buf, 10, 8)).toThrow(/readInto: \[10, \+8\) does not fit a destination of 16 bytes/);
    expect(() => m.readInto(0, buf, -1, 1)).toThrow(RangeError);
    expect(() => m.writeFrom(0, buf, 12, 5)).toThrow(/writeFrom: \[12, \+5\) is not inside a source of 16 bytes/);
    expect(() => m.readInto(2 ** 53, buf, 0, 1)).toThrow(/must be passed as bigint/);
    expect(() => m.writeFrom(TOP - 1n, buf, 0, 2)).toThrow(/past 2\^64/);
    expect(() => m.readInto(1.5, buf, 0, 1)).toThrow(RangeError);
    expect(m.pagesAllocated).toBe(0);
  });

  it("is seen by the observers like read and write", () => {
    const m = new HostMemory();
    const seen: HostMemoryAccess[] = [];
    m.onRead((a) => seen.push(a));
    m.onWrite((a) => seen.push(a));
    const src = Uint8Array.of(9, 8, 7, 6);
    m.writeFrom(0x100, src, 1, 2, "dma1");
    m.readInto(0x100, new Uint8Array(4), 0, 4, "dma1");
    expect(seen).toEqual([
      { addr: 0x100n, len: 2, initiator: "dma1", bytes: Uint8Array.of(8, 7) },
      { addr: 0x100n, len: 4, initiator: "dma1" },
    ]);
  });

  it("pageOf gives the page holding a range inside one written page, counted and observed as a read; undefined otherwise", () => {
    const m = new HostMemory();
    const reads: HostMemoryAccess[] = [];
    m.onRead((a) => reads.push(a));
    m.write(0x3000, Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff));
    const p = m.pageOf(0x3010, 32, "dma2")!;
    expect(p).toHaveLength(4096);
    expect(p.subarray(0x10, 0x30)).toEqual(m.read(0x3010, 32));
    expect(m.pageOf(0x3000, 4096)).toBe(p);
    // a view, not a copy: a later write shows through
    m.write(0x3010, Uint8Array.of(0xab));
    expect(p[0x10]).toBe(0xab);
    expect(m.pageOf(0x3ff0, 17)).toBeUndefined(); // runs into the next page
    expect(m.pageOf(0x9000, 16)).toBeUndefined(); // never written
    expect(m.pageOf(2 ** 53, 1)).toBeUndefined();
    expect(m.pagesAllocated).toBe(1);
    expect(reads.slice(0, 2)).toEqual([
      { addr: 0x3010n, len: 32, initiator: "dma2" },
      { addr: 0x3010n, len: 32, initiator: "cpu" },
    ]);
    expect(reads[2]).toEqual({ addr: 0x3000n, len: 4096, initiator: "cpu" });
    expect(reads).toHaveLength(3);
  });

  it("gives the same bytes whether an address comes as a number or a bigint, near 2^53 too (property)", () => {
    // the number fast path (ranges ending below 2^53) against the bigint path, one memory each
    const bases = [0, 0x1_0000_0000, 2 ** 53 - 3 * HOST_PAGE_BYTES];
    fc.assert(
      fc.property(
        fc.array(fc.record({ base: fc.constantFrom(...bases), off: fc.integer({ min: 0, max: 3 * HOST_PAGE_BYTES }), len: fc.integer({ min: 0, max: 9000 }), seed: fc.nat(255), read: fc.boolean() }), { maxLength: 30 }),
        (ops) => {
          const byNumber = new HostMemory();
          const byBigint = new HostMemory();
          for (const o of ops) {
            const a = o.base + o.off;
            const inRange = a + o.len <= 2 ** 53; // a number must stay a safe integer; a bigint need not
            if (o.read) {
              const x = new Uint8Array(o.len + 2).fill(0xee);
              const y = new Uint8Array(o.len + 2).fill(0xee);
              if (inRange) byNumber.readInto(a, x, 1, o.len);
              byBigint.readInto(BigInt(a), y, 1, o.len);
              if (inRange) expect(x).toEqual(y);
            } else {
              const bytes = Uint8Array.from({ length: o.len }, (_, i) => (i + o.seed) & 0xff);
              byBigint.write(BigInt(a), bytes);
              if (inRange) byNumber.write(a, bytes);
              else byNumber.write(BigInt(a), bytes);
            }
          }
          expect(byNumber.equals(byBigint.snapshot())).toBe(true);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("finds every page again when more pages are in use than it keeps at hand", () => {
    // 600 pages, written and read back in an order that makes pages share the lookup slots
    const m = new HostMemory();
    const pages = Array.from({ length: 600 }, (_, i) => ((i * 257) % 600) * 256 + (i % 3));
    pages.forEach((p, i) => m.writeU32Le(p * HOST_PAGE_BYTES + 8, i));
    pages.forEach((p, i) => expect(m.readU32Le(p * HOST_PAGE_BYTES + 8)).toBe(i));
    expect(m.pagesAllocated).toBe(600);
  });
});

describe("HostMemory observers", () => {
  it("reports every write with its initiator, address and a copy of the bytes; the remover stops it", () => {
    const m = new HostMemory();
    const seen: HostMemoryAccess[] = [];
    const off = m.onWrite((a) => seen.push(a));
    const buf = Uint8Array.of(1, 2, 3);
    m.write(0x2000, buf, "dma0");
    buf[0] = 99; // the observer got a copy
    m.writeU32Be(TOP - 4n, 5);
    expect(seen).toEqual([
      { addr: 0x2000n, len: 3, initiator: "dma0", bytes: Uint8Array.of(1, 2, 3) },
      { addr: TOP - 4n, len: 4, initiator: "cpu", bytes: Uint8Array.of(0, 0, 0, 5) },
    ]);
    off();
    m.fill(0x3000, 16, 0xff);
    expect(seen).toHaveLength(2);
    expect(m.writeCount).toBe(3);
    expect(m.bytesWritten).toBe(3 + 4 + 16);
  });

  it("reports reads (typed helpers included) without bytes", () => {
    const m = new HostMemory();
    const reads: HostMemoryAccess[] = [];
    m.onRead((a) => reads.push(a));
    m.read(0x40, 8, "dma0");
    m.readU32Be(0x80);
    expect(reads).toEqual([
      { addr: 0x40n, len: 8, initiator: "dma0" },
      { addr: 0x80n, len: 4, initiator: "cpu" },
    ]);
  });
});

describe("HostMemory snapshot and diff", () => {
  it("lists exactly the changed byte runs, joining a run across a page boundary", () => {
    const m = new HostMemory();
    m.fill(0x5000, 64, 0x11);
    const snap = m.snapshot();
    expect(m.equals(snap)).toBe(true);
    m.write(0x5ffe, Uint8Array.of(1, 2, 3, 4)); // pages 5 and 6, one run
    m.write(0x5010, Uint8Array.of(0x11, 0x99)); // first byte unchanged: run is one byte at 0x5011
    m.write(TOP - 1n, Uint8Array.of(0xee));
    expect(m.equals(snap)).toBe(false);
    expect(m.diff(snap)).toEqual([
      { addr: 0x5011n, before: Uint8Array.of(0x11), after: Uint8Array.of(0x99) },
      { addr: 0x5ffen, before: Uint8Array.of(0, 0, 0, 0), after: Uint8Array.of(1, 2, 3, 4) },
      { addr: TOP - 1n, before: Uint8Array.of(0), after: Uint8Array.of(0xee) },
    ]);
    expect(m.diff(snap, 1)).toHaveLength(1);
    expect(HostMemory.diffSnapshots(snap, m.snapshot())).toHaveLength(3);
  });

  it("does not tell a page written with zeros from a page never written", () => {
    const m = new HostMemory();
    const snap = m.snapshot();
    m.fill(0x9000, 4096, 0);
    expect(m.pagesAllocated).toBe(1);
    expect(m.equals(snap)).toBe(true);
  });

  it("keeps the snapshot frozen while memory changes", () => {
    const m = new HostMemory();
    m.writeU32Be(0, 1);
    const snap = m.snapshot();
    m.writeU32Be(0, 2);
    const again = m.snapshot();
    m.writeU32Be(0, 1);
    expect(m.equals(snap)).toBe(true);
    expect(m.equals(again)).toBe(false);
  });
});

describe("allocator", () => {
  it("hands out aligned ranges from 4 GiB up by default, and touches no memory", () => {
    const m = new HostMemory();
    let writes = 0;
    m.onWrite(() => writes++);
    const a = m.alloc(100);
    const b = m.alloc(4096, 4096);
    const c = m.alloc(1, 1);
    expect(a).toBe(0x1_0000_0000);
    expect(b).toBe(0x1_0000_1000);
    expect(c).toBe(0x1_0000_0064); // first fit: the gap after a
    expect(writes).toBe(0);
    expect(m.pagesAllocated).toBe(0);
    expect(m.allocator.allocatedBytes).toBe(100 + 4096 + 1);
  });

  it("merges freed neighbours so the whole arena can be handed out again", () => {
    const r = new RangeAllocator(0, 1024);
    const xs = [r.alloc(256), r.alloc(256), r.alloc(256), r.alloc(256)];
    expect(xs).toEqual([0, 256, 512, 768]);
    expect(() => r.alloc(1)).toThrow(/no free range/);
    for (const i of [1, 3, 0, 2]) r.release(xs[i]);
    expect(r.alloc(1024)).toBe(0);
  });

  it("rejects bad sizes, alignments and frees", () => {
    const r = new RangeAllocator(0x1000, 0x10000);
    expect(() => r.alloc(0)).toThrow(RangeError);
    expect(() => r.alloc(8, 48)).toThrow(/power of two/);
    expect(() => r.release(0x1234)).toThrow(/not the start/);
    const a = r.alloc(64, 4096);
    expect(a).toBe(0x1000);
    r.release(a);
    expect(() => r.release(a)).toThrow(/not the start/);
    expect(() => new RangeAllocator(10, 10)).toThrow(RangeError);
    expect(() => new RangeAllocator(0, 2 ** 53 + 2)).toThrow(RangeError);
  });

  it("never hands out overlapping or misaligned ranges, under any alloc/free sequence (property)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("alloc" as const), size: fc.integer({ min: 1, max: 5000 }), alignLog: fc.integer({ min: 0, max: 13 }) }),
      fc.record({ kind: fc.constant("free" as const), pick: fc.nat() }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), (ops) => {
        const base = 0x10_0000;
        const limit = base + 256 * 1024;
        const r = new RangeAllocator(base, limit);
        const live: Array<[number, number]> = [];
        for (const o of ops) {
          if (o.kind === "alloc") {
            const align = 2 ** o.alignLog;
            let at: number;
            try {
              at = r.alloc(o.size, align);
            } catch {
              continue; // arena full for this size: allowed, but nothing may change
            }
            expect(at % align).toBe(0);
            expect(at).toBeGreaterThanOrEqual(base);
            expect(at + o.size).toBeLessThanOrEqual(limit);
            for (const [s, n] of live) expect(at + o.size <= s || s + n <= at).toBe(true);
            live.push([at, o.size]);
          } else if (live.length > 0) {
            const [s] = live.splice(o.pick % live.length, 1)[0];
            r.release(s);
          }
        }
        expect(r.allocations()).toEqual([...live].sort((x, y) => x[0] - y[0]));
        expect(r.allocatedBytes).toBe(live.reduce((t, [, n]) => t + n, 0));
      }),
      { numRuns: 200 },
    );
  });
});
