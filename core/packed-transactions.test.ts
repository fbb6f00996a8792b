import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "./block.ts";
import {
  pack,
  PACKED_HEADER_BYTES,
  PackedTransactionError,
  PackedTransactionQueue,
  PackedTransactionWriter,
  spanPacked,
  unpack,
  type PackedSpan,
} from "./packed-transactions.ts";

const USER = ["tag", "dest"];

const txnArb = fc.record({
  data: fc.uint8Array({ maxLength: 300 }),
  tag: fc.nat(0xffffffff),
  dest: fc.nat(0xffffffff),
  gap: fc.nat(50),
  len: fc.nat(5),
});

function txns(specs: { data: Uint8Array; tag: number; dest: number; gap: number; len: number }[], first = 0): StreamTransaction[] {
  let start = first;
  return specs.map((s) => {
    start += s.gap;
    return { data: s.data, user: { tag: s.tag, dest: s.dest }, startCycle: start, endCycle: start + s.len };
  });
}

describe("packed transactions", () => {
  it("property: pack → unpack is the identity, cycles past 2^32 included; spans walk the same records", () => {
    fc.assert(
      fc.property(fc.array(txnArb, { maxLength: 40 }), fc.constantFrom(0, 2 ** 33 + 5), (specs, first) => {
        const ts = txns(specs, first);
        const b = pack(ts, USER);
        expect(b.length).toBe(ts.reduce((n, t) => n + PACKED_HEADER_BYTES + 4 * USER.length + t.data.length, 0));
        const back = unpack(b, ts.length, USER, "test");
        expect(back.map((t) => ({ ...t, data: [...t.data] }))).toEqual(ts.map((t) => ({ ...t, data: [...t.data] })));
        const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
        const sp: PackedSpan = { end: 0, startCycle: 0, endCycle: 0, dataBytes: 0 };
        let n = 0;
        for (let at = 0; at < b.length && spanPacked(b, dv, at, sp); at = sp.end) {
          expect([sp.startCycle, sp.endCycle, sp.dataBytes]).toEqual([ts[n]!.startCycle, ts[n]!.endCycle, ts[n]!.data.length]);
          n++;
        }
        expect(n).toBe(ts.length);
      }),
      { numRuns: 300 },
    );
  });

  it("the writer packs what pack() packs, grows past its first buffer, and hands its buffer over on take()", () => {
    const ts = txns(Array.from({ length: 200 }, (_, i) => ({ data: new Uint8Array(i % 97).fill(i), tag: i, dest: 3 * i, gap: i % 4, len: 1 })));
    const w = new PackedTransactionWriter(USER.length, 256);
    for (const t of ts.slice(0, 150)) w.appendTransaction(t, USER);
    const first = w.take();
    expect(first.count).toBe(150);
    expect([...first.bytes]).toEqual([...pack(ts.slice(0, 150), USER)]);
    for (const t of ts.slice(150)) w.appendTransaction(t, USER);
    const second = w.take();
    expect([...second.bytes]).toEqual([...pack(ts.slice(150), USER)]);
    // the first buffer was not reused by the second take
    expect([...first.bytes]).toEqual([...pack(ts.slice(0, 150), USER)]);
    expect(w.take()).toEqual({ bytes: new Uint8Array(0), count: 0 });
  });

  it("takeView() lends the buffer and reuses it: the next records start zeroed and pack as pack() does", () => {
    const w = new PackedTransactionWriter(0, 64);
    let at = w.append(1, 1, 4);
    w.bytes.set([9, 9, 9, 9], at);
    const first = w.takeView();
    expect(first.count).toBe(1);
    const firstBuffer = first.bytes.buffer;
    // bytes reserved after the loan read zero, not what the lent records held
    at = w.append(2, 3, 4);
    expect([...w.bytes.subarray(at, at + 4)]).toEqual([0, 0, 0, 0]);
    w.bytes[at] = 5;
    const second = w.takeView();
    expect(second.bytes.buffer).toBe(firstBuffer);
    expect([...second.bytes]).toEqual([...pack([{ data: Uint8Array.of(5, 0, 0, 0), user: {}, startCycle: 2, endCycle: 3 }], [])]);
    // take() after a loan leaves the lent buffer alone
    w.append(4, 4, 0);
    const owned = w.take();
    expect(owned.bytes.buffer).toBe(firstBuffer);
    w.append(5, 5, 0);
    expect(w.bytes.buffer).not.toBe(firstBuffer);
  });

  it("property: takeViewBefore() lends what ended before the cycle, keeps the rest, and reserved bytes always start zeroed", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ op: fc.constant("append" as const), len: fc.nat(40), dur: fc.nat(6), fill: fc.nat(40) }), fc.record({ op: fc.constant("before" as const), back: fc.nat(10) }), fc.record({ op: fc.constant("view" as const) })), { maxLength: 60 }),
        (ops) => {
          const w = new PackedTransactionWriter(0, 64);
          const pending: StreamTransaction[] = [];
          const got: StreamTransaction[] = [];
          const want: StreamTransaction[] = [];
          let end = 0;
          let i = 0;
          for (const o of ops) {
            if (o.op === "append") {
              // transactions are written in the order they end
              end += o.dur;
              const at = w.append(end - o.dur, end, o.len);
              // only the first `fill` bytes are written: the rest must read zero
              const data = new Uint8Array(o.len);
              for (let k = 0; k < Math.min(o.fill, o.len); k++) data[k] = (i + k) | 1;
              for (let k = 0; k < Math.min(o.fill, o.len); k++) w.bytes[at + k] = data[k]!;
              pending.push({ data, user: {}, startCycle: end - o.dur, endCycle: end });
              i++;
            } else {
              const cycle = o.op === "view" ? Infinity : Math.max(0, end - o.back);
              const { bytes, count } = o.op === "view" ? w.takeView() : w.takeViewBefore(cycle);
              got.push(...unpack(bytes.slice(), count, [], "test"));
              while (pending.length && pending[0]!.endCycle < cycle) want.push(pending.shift()!);
            }
          }
          got.push(...unpack(w.takeView().bytes.slice(), pending.length, [], "test"));
          want.push(...pending);
          const flat = (ts: StreamTransaction[]) => ts.map((t) => [t.startCycle, t.endCycle, ...t.data]);
          expect(flat(got)).toEqual(flat(want));
        },
      ),
      { numRuns: 400 },
    );
  });

  it("takeViewBefore() twice in a row: the buffer coming back into use is zeroed past what it keeps", () => {
    const w = new PackedTransactionWriter(0, 64);
    const add = (end: number, len: number, fill: number) => {
      const at = w.append(end, end, len);
      w.bytes.fill(0xab, at, at + fill);
    };
    add(1, 10, 10);
    add(5, 10, 10);
    expect(w.takeViewBefore(2).count).toBe(1);
    add(6, 10, 10);
    expect(w.takeViewBefore(6).count).toBe(1);
    add(7, 40, 0);
    const { bytes, count } = w.takeView();
    const [c, d] = unpack(bytes.slice(), count, [], "test");
    expect([...c!.data]).toEqual(Array(10).fill(0xab));
    expect([...d!.data]).toEqual(Array(40).fill(0));
  });

  it("append() reserves zeroed user words and data for the caller to fill", () => {
    const w = new PackedTransactionWriter(1, 64);
    const at = w.append(7, 9, 3);
    w.bytes.set([1, 2, 3], at + 4);
    const [t] = unpack(w.take().bytes, 1, ["tag"], "test");
    expect(t).toEqual({ data: Uint8Array.from([1, 2, 3]), user: { tag: 0 }, startCycle: 7, endCycle: 9 });
  });

  it("unpack names the stream and what is wrong with a damaged buffer", () => {
    const b = pack(txns([{ data: new Uint8Array(10), tag: 1, dest: 2, gap: 0, len: 0 }]), USER);
    expect(() => unpack(b.subarray(0, 20), 1, USER, "blk.s_axis")).toThrow(/blk.s_axis: record 0 of 1 truncated/);
    expect(() => unpack(b.subarray(0, b.length - 1), 1, USER, "blk.s_axis")).toThrow(/record 0 data truncated/);
    expect(() => unpack(b, 1, ["tag"], "blk.s_axis")).toThrow(/2 user fields, the manifest declares 1/);
    const two = new Uint8Array(b.length + 3);
    two.set(b);
    expect(() => unpack(two, 1, USER, "blk.s_axis")).toThrow(PackedTransactionError);
  });
});

describe("PackedTransactionQueue", () => {
  const mk = (starts: number[], byte = 0) => txns(starts.map((s, i) => ({ data: Uint8Array.of(byte + i, 0xaa), tag: i, dest: 0, gap: 0, len: 0 }))).map((t, i) => ({ ...t, startCycle: starts[i]!, endCycle: starts[i]! }));

  /** drains the queue: [effective start, first data byte] per transaction */
  function drain(q: PackedTransactionQueue): number[][] {
    const out: number[][] = [];
    while (q.startCycle !== Infinity) {
      out.push([q.startCycle, q.bytes[q.dataAt]!, q.dataBytes]);
      q.shift();
    }
    return out;
  }

  it("reads pushed chunks and offered transactions in order, no earlier than the time they were queued", () => {
    const q = new PackedTransactionQueue(USER, "test");
    q.push(pack(mk([0, 5, 12], 10), USER), 0);
    q.offer(mk([20], 40)[0]!);
    q.offer(mk([21], 50)[0]!);
    // offered ones go in when the next chunk is pushed, with that push's time
    q.push(pack(mk([22, 40], 60), USER), 30);
    expect(drain(q)).toEqual([[0, 10, 2], [5, 11, 2], [12, 12, 2], [30, 40, 2], [30, 50, 2], [30, 60, 2], [40, 61, 2]]);
    q.offer(mk([45], 70)[0]!);
    q.flushOffered(44);
    expect(drain(q)).toEqual([[45, 70, 2]]);
  });

  it("rejects a start before the previous one on the same queue", () => {
    const q = new PackedTransactionQueue(USER, "blk: s_axis");
    expect(() => q.push(pack(mk([10, 4]), USER), 0)).not.toThrow();
    expect(q.startCycle).toBe(10);
    expect(() => q.shift()).toThrow(/blk: s_axis: startCycle 4 is before the previous transaction's 10/);
  });

  it("reads many queued chunks in order (consumed chunks are released on the way)", () => {
    const q = new PackedTransactionQueue(USER, "test");
    for (let c = 0; c < 300; c++) q.push(pack(mk([c * 2, c * 2 + 1], c & 0x7f), USER), 0);
    const starts: number[] = [];
    for (let c = 0; c < 150; c++) {
      starts.push(q.startCycle);
      q.shift();
    }
    // more chunks arrive while the queue is half read
    for (let c = 300; c < 400; c++) q.push(pack(mk([c * 2, c * 2 + 1], c & 0x7f), USER), 0);
    starts.push(...drain(q).map((g) => g[0]!));
    expect(starts).toEqual(Array.from({ length: 800 }, (_, i) => i));
  });
});
