import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import {
  Access, cfgMptInvalidate, cfgMptRead, cfgMptWrite, cfgMttRead, cfgMttWrite, decodeCfgReadback, makeKey, MptState, readbackMpt, readbackMtt,
  TptCfgOp, type MptEntry,
} from "../formats/index.ts";
import { decodeResponse, encodeRequest, TptFault, TptRequestLayout, TptRespBeatLayout, type TptRequest } from "./tpt-format.ts";
import { TptTwin } from "./tpt-twin.ts";

const PD = 0x42;
const START = 0x7f00_0000_1000n;
const REGION: MptEntry = {
  state: MptState.valid, access: Access.localWrite | Access.remoteRead, variant: 0x11, pd: PD, log2PageSize: 12,
  start: START, length: 0x3000n, mttBase: 100,
};
const KEY = makeKey(5, 0x11);
const PAGES = [0x10_0000n, 0x23_4000n, 0x9_9000n];

const txn = (data: Uint8Array, cycle: number): StreamTransaction => ({ data, user: {}, startCycle: cycle, endCycle: cycle });

/** a twin with REGION registered at MPT index 5 (cycles 0..3) */
function setup(entry: MptEntry = REGION, params = {}) {
  const twin = new TptTwin(params);
  PAGES.forEach((a, k) => twin.offer("s_cfg", txn(cfgMttWrite(100 + k, { addr: a, present: true }), k)));
  twin.offer("s_cfg", txn(cfgMptWrite(5, entry), 3));
  return twin;
}

function req(over: Partial<TptRequest> = {}): TptRequest {
  return { tag: 1, access: Access.remoteRead, key: KEY, pd: PD, va: START + 0x10n, len: 100, ...over };
}

function lookup(twin: TptTwin, r: TptRequest, cycle: number) {
  twin.offer("s_req", txn(encodeRequest(r), cycle));
  twin.runUntil(cycle + 200);
  const out = twin.take("m_resp");
  expect(out).toHaveLength(1);
  return { ...decodeResponse(out[0]!.data), start: out[0]!.startCycle, end: out[0]!.endCycle };
}

describe("tpt twin: the protection checks (each test fails if its check is removed)", () => {
  it("a valid lookup translates through the MTT, split at page boundaries", () => {
    const r = lookup(setup(), req({ va: START + 0xff0n, len: 0x20 }), 10);
    expect(r.fault).toBe(TptFault.ok);
    expect(r.segments).toEqual([{ addr: 0x10_0ff0n, len: 0x10 }, { addr: 0x23_4000n, len: 0x10 }]);
  });

  it("a stale key after deregister and re-register → stale key; the new key works", () => {
    const t = setup();
    expect(lookup(t, req(), 10).fault).toBe(TptFault.ok); // now cached
    t.offer("s_cfg", txn(cfgMptInvalidate(5), 50));
    t.offer("s_cfg", txn(cfgMptWrite(5, { ...REGION, variant: 0x12 }), 51));
    expect(lookup(t, req({ tag: 2 }), 60).fault).toBe(TptFault.staleKey);
    expect(lookup(t, req({ tag: 3, key: makeKey(5, 0x12) }), 300).fault).toBe(TptFault.ok);
  });

  it("a key from another PD → PD violation", () => {
    expect(lookup(setup(), req({ pd: PD + 1 }), 10).fault).toBe(TptFault.pdViolation);
  });

  it("an access right not granted → access violation, for each right", () => {
    for (const right of [Access.remoteWrite, Access.remoteAtomic]) {
      expect(lookup(setup(), req({ access: right }), 10).fault).toBe(TptFault.accessViolation);
    }
    expect(lookup(setup({ ...REGION, access: Access.remoteRead }), req({ access: Access.localWrite }), 10).fault).toBe(TptFault.accessViolation);
    expect(lookup(setup(), req({ access: 0x10 }), 10).fault).toBe(TptFault.accessViolation);
    expect(lookup(setup(), req({ access: Access.localWrite | Access.remoteRead }), 10).fault).toBe(TptFault.ok);
  });

  it("one byte past the region → bounds violation; the last byte itself is fine; one byte before start too", () => {
    const end = START + 0x3000n;
    expect(lookup(setup(), req({ va: end - 8n, len: 8 }), 10).fault).toBe(TptFault.ok);
    expect(lookup(setup(), req({ va: end - 8n, len: 9 }), 10).fault).toBe(TptFault.boundsViolation);
    expect(lookup(setup(), req({ va: START - 1n, len: 2 }), 10).fault).toBe(TptFault.boundsViolation);
  });

  it("a range that wraps around 2^64 → bounds violation, even inside a region that itself crosses 2^64", () => {
    const top = (1n << 64n) - 0x1000n;
    const wrapRegion = { ...REGION, start: top, length: 0x2000n }; // start + length = 2^64 + 0x1000
    expect(lookup(setup(wrapRegion), req({ va: top + 0xff0n, len: 0x10 }), 10).fault).toBe(TptFault.ok); // ends exactly at 2^64
    expect(lookup(setup(wrapRegion), req({ va: top + 0xff0n, len: 0x11 }), 10).fault).toBe(TptFault.boundsViolation);
  });

  it("MPT invalidation takes effect although the entry is cached", () => {
    const t = setup();
    expect(lookup(t, req(), 10).fault).toBe(TptFault.ok);
    expect(lookup(t, req(), 30).fault).toBe(TptFault.ok); // a hit
    t.offer("s_cfg", txn(cfgMptInvalidate(5), 60));
    expect(lookup(t, req(), 61).fault).toBe(TptFault.invalidKey);
    expect(t.wires()).toMatchObject({ stat_lookups: 3, stat_hits: 1, stat_misses: 2, stat_faults: 1 });
  });

  it("an MPT write in the very cycle a miss fills the line still drops it (no stale copy)", () => {
    const t = setup(REGION, { missLatency: 8 });
    // accepted at 20, probe 21 misses, fill at 29: the invalidate lands at the end of 29
    t.offer("s_cfg", txn(cfgMptInvalidate(5), 29));
    expect(lookup(t, req(), 20).fault).toBe(TptFault.invalidKey);
    const t2 = setup(REGION, { missLatency: 8 });
    t2.offer("s_cfg", txn(cfgMptInvalidate(5), 30)); // after the fill: the re-probe at 30 still sees the old copy
    expect(lookup(t2, req(), 20).fault).toBe(TptFault.ok);
  });

  it("unregistered keys, keys beyond the table, free entries → invalid key", () => {
    expect(lookup(setup(), req({ key: makeKey(6, 0x11) }), 10).fault).toBe(TptFault.invalidKey);
    expect(lookup(setup(), req({ key: makeKey(256, 0x11) }), 10).fault).toBe(TptFault.invalidKey);
    expect(lookup(setup({ ...REGION, state: MptState.free }), req(), 10).fault).toBe(TptFault.invalidKey);
    expect(lookup(setup({ ...REGION, log2PageSize: 11 }), req(), 10).fault).toBe(TptFault.invalidKey);
  });

  it("a page not present → translation fault, and no segment leaves", () => {
    const t = setup();
    t.offer("s_cfg", txn(cfgMttWrite(101, { addr: 0x23_4000n, present: false }), 4));
    const r = lookup(t, req({ va: START + 0xff0n, len: 0x20 }), 10);
    expect(r.fault).toBe(TptFault.translationFault);
    expect(r.segments).toEqual([]);
  });

  it("more pages than MAX_SEGMENTS → too many segments; zero length → ok with no segment", () => {
    expect(lookup(setup(REGION, { maxSegments: 2 }), req({ va: START, len: 0x2001 }), 10).fault).toBe(TptFault.tooManySegments);
    const z = lookup(setup(), req({ va: START + 0x3000n, len: 0 }), 10);
    expect([z.fault, z.segments.length]).toEqual([TptFault.ok, 0]);
  });

  it("checks apply in fault-table order", () => {
    expect(lookup(setup(), req({ key: makeKey(5, 0x12), pd: 9, access: 8, len: 0x10000 }), 10).fault).toBe(TptFault.staleKey);
    expect(lookup(setup(), req({ pd: 9, access: 8, len: 0x10000 }), 10).fault).toBe(TptFault.pdViolation);
    expect(lookup(setup(), req({ access: 8, len: 0x10000 }), 10).fault).toBe(TptFault.accessViolation);
  });
});

describe("tpt twin: table read-back on s_cfg (m_cfg_rd)", () => {
  /** the answers to reads offered at `cycle`, one per cycle */
  function read(t: TptTwin, reads: Uint8Array[], cycle: number) {
    reads.forEach((r, i) => t.offer("s_cfg", txn(r, cycle + i)));
    t.runUntil(cycle + reads.length + 10);
    return t.take("m_cfg_rd").map((x) => ({ ...decodeCfgReadback(x.data), cycle: x.endCycle }));
  }

  it("an MPT read answers the entry as written, owned and live, the cycle after the read", () => {
    const [r] = read(setup(), [cfgMptRead(5)], 20);
    expect(r).toMatchObject({ op: TptCfgOp.mptRead, index: 5, valid: true, live: true, cycle: 21 });
    expect(readbackMpt(r!)).toEqual(REGION);
  });

  it("after HW2SW the entry reads back not owned, with a zero entry; never-written and out-of-table entries likewise", () => {
    const t = setup();
    t.offer("s_cfg", txn(cfgMptInvalidate(5), 10));
    const rs = read(t, [cfgMptRead(5), cfgMptRead(6), cfgMptRead(256)], 20);
    expect(rs.map((r) => [r.index, r.valid, r.live, r.entry.every((b) => b === 0)])).toEqual([[5, false, false, true], [6, false, false, true], [256, false, false, true]]);
  });

  it("an entry written in the free state is owned but not live (the lookup path refuses it)", () => {
    const [r] = read(setup({ ...REGION, state: MptState.free }), [cfgMptRead(5)], 20);
    expect([r!.valid, r!.live, readbackMpt(r!)!.state]).toEqual([true, false, MptState.free]);
  });

  it("MTT reads answer address and present bit of written entries only", () => {
    const t = setup();
    t.offer("s_cfg", txn(cfgMttWrite(101, { addr: 0xabc_d000n, present: false }), 10));
    const rs = read(t, [cfgMttRead(100), cfgMttRead(101), cfgMttRead(103), cfgMttRead(4096)], 20);
    expect(rs.map((r) => readbackMtt(r))).toEqual([{ addr: PAGES[0], present: true }, { addr: 0xabc_d000n, present: false }, null, null]);
    expect(rs.map((r) => r.cycle)).toEqual([21, 22, 23, 24]);
  });

  it("a read sees exactly the writes before it on s_cfg, however lookups interleave", () => {
    const t = setup();
    // a lookup that misses and fills across the writes and reads below
    t.offer("s_req", txn(encodeRequest(req()), 10));
    const e2 = { ...REGION, variant: 0x22 };
    t.offer("s_cfg", txn(cfgMptRead(5), 12));
    t.offer("s_cfg", txn(cfgMptWrite(5, e2), 13));
    t.offer("s_cfg", txn(cfgMptRead(5), 14));
    for (let c = 11; c < 60; c += 3) t.runUntil(c); // small quanta
    const rs = t.take("m_cfg_rd").map((x) => readbackMpt(decodeCfgReadback(x.data))!.variant);
    expect(rs).toEqual([0x11, 0x22]);
    expect(decodeResponse(t.take("m_resp")[0]!.data).fault).toBe(TptFault.staleKey); // its fill came after the rewrite
  });
});

describe("tpt twin: timing", () => {
  it("a miss costs MISS_LATENCY + 1 cycles more than a hit", () => {
    for (const ml of [1, 8, 32]) {
      const t = setup(REGION, { missLatency: ml });
      const miss = lookup(t, req(), 100);
      expect(miss.end - 100).toBe(ml + 4);
      const hit = lookup(t, req(), 300);
      expect(hit.end - 300).toBe(3);
    }
  });

  it("service latency is recorded per lookup by what the first probe found (the report's hit and miss latency)", () => {
    const t = setup(REGION, { missLatency: 8 });
    lookup(t, req(), 100); // cold: misses
    lookup(t, req(), 300); // cached: hits
    lookup(t, req({ key: makeKey(6, 1) }), 500); // index 6 maps to another line: misses, then faults
    expect([t.serviceLatency.miss.count, t.serviceLatency.hit.count]).toEqual([2, 1]);
    expect(t.serviceLatency.hit.max).toBe(3);
    expect(t.serviceLatency.miss.min).toBe(3 + 8 + 1);
  });

  it("single-page hits sustain one lookup per cycle; a k-page lookup takes k cycles", () => {
    const t = setup();
    lookup(t, req(), 10); // warm the line
    for (let i = 0; i < 1000; i++) t.offer("s_req", txn(encodeRequest(req({ tag: i })), 100));
    t.runUntil(2000);
    const out = t.take("m_resp");
    expect(out).toHaveLength(1000);
    expect(out[999]!.endCycle - out[0]!.endCycle).toBe(999);
    const t2 = setup();
    lookup(t2, req(), 10);
    for (let i = 0; i < 100; i++) t2.offer("s_req", txn(encodeRequest(req({ tag: i, va: START, len: 0x3000 })), 100));
    t2.runUntil(2000);
    const o2 = t2.take("m_resp");
    expect(o2[99]!.endCycle - o2[0]!.endCycle).toBe(99 * 3);
    expect(o2[0]!.endCycle - o2[0]!.startCycle).toBe(2);
  });

  // speed is measured by `make bench` (model.tpt.lookups_per_s), not here
  it("answers 300,000 back-to-back single-page hits", () => {
    const t = setup();
    lookup(t, req(), 10);
    const data = Array.from({ length: 256 }, (_, i) => encodeRequest(req({ tag: i })));
    const cycle = 1000;
    let answered = 0;
    for (let i = 0; i < 300_000; i++) {
      t.offer("s_req", txn(data[i & 255]!, cycle + i));
      if ((i & 4095) === 4095) { t.runUntil(cycle + i); answered += t.take("m_resp").length; }
    }
    t.runUntil(cycle + 400_000);
    answered += t.take("m_resp").length;
    expect(answered).toBe(300_000);
  });

  it("layouts: every field starts where the previous ends", () => {
    for (const l of [TptRequestLayout, TptRespBeatLayout]) {
      let bit = 0;
      for (const f of l.fields) { expect(f.bitOffset).toBe(bit); bit += f.bits; }
      expect(bit).toBe(l.sizeBits);
    }
  });
});
