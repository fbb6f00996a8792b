import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import { appendIcrc, icrcBlockFunction, IcrcStatus } from "./icrc.ts";
import { IcrcTwin, type IcrcDataBytes } from "./icrc-twin.ts";

const VECTORS: Uint8Array[] = JSON.parse(readFileSync(new URL("./testdata/roce_icrc.json", import.meta.url), "utf8")).vectors.map(
  (v: { frame_without_icrc: string }) => Uint8Array.from(v.frame_without_icrc.match(/../g)!.map((b) => parseInt(b, 16))),
);
const bigV4 = VECTORS.find((f) => f[12] === 0x08 && f.length > 1000)!;

/** an IPv4 RoCEv2 frame of exactly `len` bytes (≥ 54): a vector cut short, lengths left stale */
const roceOfLength = (len: number) => bigV4.slice(0, len);

const txn = (data: Uint8Array, startCycle: number, check = 0): StreamTransaction => ({ data, user: { check }, startCycle, endCycle: startCycle });

function run(twin: IcrcTwin, inputs: StreamTransaction[], until = 1_000_000): StreamTransaction[] {
  for (const t of inputs) twin.offer("s_axis", t);
  twin.runUntil(until);
  return twin.take("m_axis");
}

const cycles = (out: StreamTransaction[]) => out.map((t) => [t.startCycle, t.endCycle]);

describe("IcrcTwin: timing with m_axis always ready", () => {
  it("one cycle of latency; the ICRC fits in the last beat up to 60 of 64 lanes", () => {
    const out = run(new IcrcTwin(), [txn(roceOfLength(60), 5)]);
    expect(cycles(out)).toEqual([[6, 6]]);
    expect(out[0].data.length).toBe(64);
    expect(out[0].user).toEqual({ status: IcrcStatus.ok });
  });

  it("an ICRC that spills adds one output beat and one input bubble", () => {
    // 61 bytes: 1 beat in, 2 out; 128 bytes: 2 in, 3 out; then a frame waiting behind them
    const out = run(new IcrcTwin(), [txn(roceOfLength(61), 0), txn(roceOfLength(128), 0), txn(roceOfLength(100), 0)]);
    expect(cycles(out)).toEqual([
      [1, 2], // in at 0, bubble at 1
      [3, 5], // in at 2, 3; bubble at 4
      [6, 7], // in at 5, 6
    ]);
  });

  it("check mode and pass-through never add beats: frames stream back to back", () => {
    const good = appendIcrc(roceOfLength(124)); // 128 bytes = 2 beats
    const notRoce = roceOfLength(128);
    notRoce[23] = 6; // TCP
    const out = run(new IcrcTwin(), [txn(good, 0, 1), txn(notRoce, 0, 0), txn(new Uint8Array(10), 0, 1)]);
    expect(cycles(out)).toEqual([[1, 2], [3, 4], [5, 5]]);
    expect(out.map((t) => t.user.status)).toEqual([IcrcStatus.ok, IcrcStatus.notRocev2, IcrcStatus.runt]);
    expect(out[1].data).toEqual(notRoce);
  });

  it("waits for each frame's startCycle", () => {
    const out = run(new IcrcTwin({ dataBytes: 8 }), [txn(roceOfLength(64), 10), txn(roceOfLength(64), 12), txn(roceOfLength(60), 40)]);
    // 64 bytes at 8/beat: 8 beats in, ICRC in a 9th out beat
    expect(cycles(out)).toEqual([[11, 19], [20, 28], [41, 48]]);
  });

  it("a zero-length frame is one beat, a runt", () => {
    const out = run(new IcrcTwin(), [txn(new Uint8Array(0), 3)]);
    expect(out).toEqual([{ data: new Uint8Array(0), user: { status: IcrcStatus.runt }, startCycle: 4, endCycle: 4 }]);
  });

  it("releases a transaction once its end cycle has been simulated", () => {
    const twin = new IcrcTwin();
    twin.offer("s_axis", txn(roceOfLength(200), 0)); // 4 beats in, 4 out: cycles 1..4
    twin.runUntil(4);
    expect(twin.take("m_axis")).toEqual([]);
    twin.runUntil(5);
    expect(cycles(twin.take("m_axis"))).toEqual([[1, 4]]);
    expect(twin.take("m_axis")).toEqual([]);
  });

  it("a frame offered after its startCycle has passed starts when the harness offers it", () => {
    const twin = new IcrcTwin();
    twin.runUntil(100);
    twin.offer("s_axis", txn(roceOfLength(60), 10));
    twin.runUntil(200);
    expect(cycles(twin.take("m_axis"))).toEqual([[101, 101]]);
  });
});

describe("IcrcTwin: function", () => {
  it("outputs what icrcBlockFunction computes, in order", () => {
    const inputs = mixedTraffic(new Prng("twin-function"), 200);
    const out = run(new IcrcTwin({ dataBytes: 16 }), inputs);
    expect(out).toHaveLength(inputs.length);
    out.forEach((o, i) => {
      const want = icrcBlockFunction(inputs[i].data, inputs[i].user.check === 1);
      expect(o.data).toEqual(want.data);
      expect(o.user.status).toBe(want.status);
    });
  });

  it("copies pass-through data: the output does not alias the input", () => {
    const data = new Uint8Array(20);
    const [out] = run(new IcrcTwin(), [txn(data, 0)]);
    data[0] = 1;
    expect(out.data[0]).toBe(0);
  });
});

describe("IcrcTwin: output backpressure", () => {
  for (const db of [8, 64] as IcrcDataBytes[]) {
    it(`with m_axis always ready, the beat-level path agrees with the per-frame path (${db} bytes)`, () => {
      const inputs = mixedTraffic(new Prng(`bp-${db}`), 300);
      const fast = run(new IcrcTwin({ dataBytes: db }), inputs);
      const stepped = run(new IcrcTwin({ dataBytes: db, outputReady: () => true }), inputs);
      expect(cycles(stepped)).toEqual(cycles(fast));
      expect(stepped.map((t) => t.user.status)).toEqual(fast.map((t) => t.user.status));
    });
  }

  it("m_axis ready every other cycle: the same transactions, stretched, in order", () => {
    const inputs = mixedTraffic(new Prng("bp-half"), 100);
    const fast = run(new IcrcTwin({ dataBytes: 32 }), inputs);
    const slow = run(new IcrcTwin({ dataBytes: 32, outputReady: (c) => c % 2 === 0 }), inputs, 10_000_000);
    expect(slow.map((t) => t.data)).toEqual(fast.map((t) => t.data));
    for (let i = 0; i < slow.length; i++) {
      expect(slow[i].startCycle % 2).toBe(0);
      expect(slow[i].endCycle).toBeGreaterThanOrEqual(fast[i].endCycle);
      if (i > 0) expect(slow[i].startCycle).toBeGreaterThan(slow[i - 1].endCycle);
    }
  });

  it("a stalled output holds the input back across quanta", () => {
    const twin = new IcrcTwin({ outputReady: (c) => c >= 50 });
    twin.offer("s_axis", txn(roceOfLength(200), 0));
    twin.runUntil(30);
    expect(twin.take("m_axis")).toEqual([]);
    twin.runUntil(100);
    // beat 0 accepted at 0, beat 1 at 1 only if the output register drained: it did not
    expect(cycles(twin.take("m_axis"))).toEqual([[50, 53]]);
  });
});

describe("IcrcTwin: bad use", () => {
  it("names the ports it has", () => {
    const twin = new IcrcTwin();
    expect(() => twin.offer("m_axis", txn(new Uint8Array(1), 0))).toThrow(/no input stream port "m_axis".*s_axis/);
    expect(() => twin.take("s_axis")).toThrow(/no output stream port "s_axis".*m_axis/);
  });

  it("rejects an unsupported width and decreasing start cycles", () => {
    expect(() => new IcrcTwin({ dataBytes: 12 as IcrcDataBytes })).toThrow(/dataBytes 12/);
    const twin = new IcrcTwin();
    twin.offer("s_axis", txn(new Uint8Array(1), 10));
    expect(() => twin.offer("s_axis", txn(new Uint8Array(1), 9))).toThrow(/startCycle 9/);
  });
});

/** vectors whole, cut, with ICRC (some corrupted), not RoCEv2; generate and check; random start gaps */
function mixedTraffic(p: Prng, n: number): StreamTransaction[] {
  const out: StreamTransaction[] = [];
  let start = 0;
  for (let i = 0; i < n; i++) {
    const v = p.pick(VECTORS);
    let data: Uint8Array;
    let check = 0;
    switch (p.int(0, 4)) {
      case 0:
        data = v;
        break;
      case 1:
        data = v.slice(0, p.int(0, v.length));
        check = p.int(0, 1);
        break;
      case 2:
        data = appendIcrc(v);
        if (p.bool(0.3)) data[p.int(14, data.length - 1)] ^= 1 << p.int(0, 7);
        check = 1;
        break;
      case 3:
        data = v.slice();
        data[p.pick([12, 23, 36])] ^= 0x40;
        check = p.int(0, 1);
        break;
      default:
        data = v.slice(0, Math.min(v.length, p.int(54, 200)));
    }
    start += p.pick([0, 0, 1, 5]);
    out.push(txn(data, start, check));
  }
  return out;
}
