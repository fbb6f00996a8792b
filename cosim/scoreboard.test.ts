import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../core/block.ts";
import { pack } from "../core/packed-transactions.ts";
import { loadManifest, resolveBlock } from "./manifest.ts";
import { MismatchError, Scoreboard } from "./scoreboard.ts";

// passthru: one output stream m_axis with a user field `tag`, tolerance from its block.yaml
const block = resolveBlock(loadManifest(new URL("./testdata/passthru/block.yaml", import.meta.url).pathname), { DATA_BYTES: 8 });
const USER = ["tag"];

function txn(i: number, bytes: number, end: number, tag = i & 0xff): StreamTransaction {
  const data = new Uint8Array(bytes);
  for (let k = 0; k < bytes; k++) data[k] = (i * 7 + k) & 0xff;
  return { data, user: { tag }, startCycle: end - Math.ceil(bytes / 8) + 1, endCycle: end };
}

function stream(n: number, seed = 1): StreamTransaction[] {
  const out: StreamTransaction[] = [];
  let end = 10;
  for (let i = 0; i < n; i++) {
    const bytes = 1 + ((i * 37 + seed * 11) % 90);
    end += Math.ceil(bytes / 8) + (i % 3);
    out.push(txn(i, bytes, end));
  }
  return out;
}

type Side = "model" | "modelPacked" | "rtl";

/** one side's chunks as the lockstep feeds them: model transactions (as objects or packed), RTL protocol records */
function chunks(sb: Scoreboard, side: Side, txns: readonly StreamTransaction[], cuts: readonly number[]): (() => void)[] {
  const out: (() => void)[] = [];
  let from = 0;
  for (const to of [...cuts, txns.length]) {
    if (to <= from) continue;
    const part = txns.slice(from, to);
    if (side === "model") out.push(() => sb.expect("m_axis", part));
    else if (side === "modelPacked") out.push(() => sb.expectPacked("m_axis", pack(part, USER), part.length));
    else out.push(() => sb.actualRecords("m_axis", pack(part, USER), part.length));
    from = to;
  }
  return out;
}

function feedRecords(sb: Scoreboard, side: Side, txns: readonly StreamTransaction[], cuts: readonly number[]): void {
  for (const f of chunks(sb, side, txns, cuts)) f();
}

/** both sides' chunks interleaved: `order[i]` true takes the model's next chunk, false the RTL's */
function feedInterleaved(m: (() => void)[], r: (() => void)[], order: readonly boolean[]): void {
  let i = 0;
  let j = 0;
  for (const takeModel of order) {
    if (takeModel && i < m.length) m[i++]!();
    else if (!takeModel && j < r.length) r[j++]!();
  }
  while (i < m.length) m[i++]!();
  while (j < r.length) r[j++]!();
}

/** the verdict of a scoreboard fed with `model` and `rtl`: the mismatch report or the final report */
function verdict(feed: (sb: Scoreboard) => void): { mismatch: string | null; report: ReturnType<Scoreboard["report"]> } {
  const sb = new Scoreboard(block);
  let mismatch: string | null = null;
  try {
    feed(sb);
    sb.finish();
  } catch (e) {
    if (!(e instanceof MismatchError)) throw e;
    mismatch = e.message;
  }
  return { mismatch, report: sb.report() };
}

type Edit = [index: number, k: number, delta: number, kind: "data" | "len" | "user" | "time"];
/** a few changes to make to a copy of the model's stream: a data bit, the length, the tag, the end cycle */
const editsArb = fc.array(fc.tuple(fc.nat(59), fc.nat(40), fc.integer({ min: -3, max: 3 }), fc.constantFrom("data" as const, "len" as const, "user" as const, "time" as const)), { maxLength: 3 });

/** `model` as the RTL gives it, with `edits` made */
function edited(model: readonly StreamTransaction[], edits: readonly Edit[]): StreamTransaction[] {
  const rtl = model.map((t) => ({ ...t, data: t.data.slice(), user: { ...t.user } }));
  for (const [i, k, d, kind] of edits) {
    const t = rtl[i];
    if (!t || d === 0) continue;
    if (kind === "data") t.data[k % t.data.length]! ^= 1 << (k % 8);
    else if (kind === "len") rtl[i] = { ...t, data: t.data.subarray(0, Math.max(0, t.data.length - 1)) };
    else if (kind === "user") t.user.tag = (t.user.tag! + d) & 0xff;
    else rtl[i] = { ...t, endCycle: t.endCycle + d };
  }
  return rtl;
}

const sort = (c: number[]) => [...c].sort((a, b) => a - b);

describe("scoreboard: RTL records compared in place and decoded transactions agree", () => {
  it("identical streams pass without decoding, with exact statistics", () => {
    const model = stream(500);
    const sb = new Scoreboard(block);
    feedRecords(sb, "model", model, [100, 101, 350]);
    feedRecords(sb, "rtl", model, [7, 260]);
    expect(sb.counts("m_axis")).toEqual({ expected: 500, actual: 500 });
    sb.finish();
    const r = sb.report();
    expect(r.functional).toBe("pass");
    expect(r.timing).toBe("pass");
    const s = r.streams[0]!;
    expect(s.transactions).toBe(500);
    expect(s.bytes).toBe(model.reduce((n, t) => n + t.data.length, 0));
    expect(s.latencyError).toEqual({ mean: 0, p50: 0, p99: 0, maxAbs: 0 });
    expect(s.modelBytesPerCycle).toBeCloseTo(s.bytes / (model.at(-1)!.endCycle - model[0]!.startCycle + 1), 12);
  });

  it("counts transactions still waiting on one side", () => {
    const model = stream(50);
    const sb = new Scoreboard(block);
    feedRecords(sb, "model", model, []);
    feedRecords(sb, "rtl", model.slice(0, 20), []);
    expect(sb.counts("m_axis")).toEqual({ expected: 50, actual: 20 });
    expect(() => sb.finish()).toThrow(/transaction #20 is missing from the RTL/);
  });

  it("a differing byte is reported exactly as on the transaction path", () => {
    const model = stream(300);
    const rtl = model.map((t) => ({ ...t, data: t.data.slice() }));
    rtl[211]!.data[5]! ^= 0x10;
    const viaRecords = verdict((sb) => { feedRecords(sb, "model", model, [64, 200]); feedRecords(sb, "rtl", rtl, [150]); });
    const viaObjects = verdict((sb) => { sb.expect("m_axis", model); sb.actual("m_axis", rtl); });
    expect(viaRecords.mismatch).toContain("transaction #211");
    expect(viaRecords.mismatch).toContain("data byte 5");
    expect(viaRecords.mismatch).toBe(viaObjects.mismatch);
  });

  it("timing differences are measured on the decoded path, and the in-place path resumes after them", () => {
    const model = stream(400);
    // transaction 100 ends 2 cycles late in the RTL (content equal)
    const rtl = model.map((t, i) => (i === 100 ? { ...t, startCycle: t.startCycle + 2, endCycle: t.endCycle + 2 } : t));
    const sb = new Scoreboard(block);
    feedRecords(sb, "model", model, [50, 120, 300]);
    feedRecords(sb, "rtl", rtl, [50, 120, 300]);
    sb.finish();
    const s = sb.report().streams[0]!;
    expect(sb.report().functional).toBe("pass");
    expect(s.transactions).toBe(400);
    expect(s.latencyError.maxAbs).toBe(2);
    expect(s.latencyError.mean).toBeCloseTo(2 / 400, 12);
  });

  it("property: for any streams and any batching, both paths give the same verdict and statistics", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        editsArb,
        fc.array(fc.nat(60), { maxLength: 5 }),
        fc.array(fc.nat(60), { maxLength: 5 }),
        (n, edits, mCuts, rCuts) => {
          const model = stream(n, n);
          const rtl = edited(model, edits);
          const a = verdict((sb) => { feedRecords(sb, "model", model, sort(mCuts)); feedRecords(sb, "rtl", rtl, sort(rCuts)); });
          const b = verdict((sb) => { sb.expect("m_axis", model); sb.actual("m_axis", rtl); });
          expect(a.mismatch).toBe(b.mismatch);
          if (a.mismatch === null) expect(a.report).toEqual(b.report);
        },
      ),
      { numRuns: 400 },
    );
  });

  it("property: model outputs given packed, in any batching and any interleaving with the RTL's, give the verdict and statistics of objects", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 60 }),
        editsArb,
        fc.array(fc.nat(60), { maxLength: 5 }),
        fc.array(fc.nat(60), { maxLength: 5 }),
        fc.array(fc.boolean(), { maxLength: 12 }),
        fc.boolean(),
        (n, edits, mCuts, rCuts, order, mixObjects) => {
          const model = stream(n, n);
          const rtl = edited(model, edits);
          const a = verdict((sb) => {
            const m = chunks(sb, "modelPacked", model, sort(mCuts));
            // some model chunks as objects among the packed ones: the order must survive the switch
            if (mixObjects) chunks(sb, "model", model, sort(mCuts)).forEach((f, i) => { if (i % 2 === 1) m[i] = f; });
            feedInterleaved(m, chunks(sb, "rtl", rtl, sort(rCuts)), order);
          });
          const b = verdict((sb) => { sb.expect("m_axis", model); sb.actual("m_axis", rtl); });
          expect(a.mismatch).toBe(b.mismatch);
          if (a.mismatch === null) expect(a.report).toEqual(b.report);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("identical packed streams are compared without decoding either side", () => {
    const model = stream(300);
    const sb = new Scoreboard(block);
    feedRecords(sb, "modelPacked", model, [10, 11, 200]);
    feedRecords(sb, "rtl", model, [5, 150, 290]);
    expect(sb.counts("m_axis")).toEqual({ expected: 300, actual: 300 });
    // nothing was decoded into objects: both object queues are empty
    const st = (sb as unknown as { streams: Map<string, { expected: unknown[]; actual: unknown[]; eHead: number; aHead: number }> }).streams.get("m_axis")!;
    expect(st.expected.length - st.eHead).toBe(0);
    expect(st.actual.length).toBe(0);
    sb.finish();
    expect(sb.report().streams[0]!.transactions).toBe(300);
  });

  it("packed model outputs are copied: the twin may reuse its buffer once it has handed it over", () => {
    const model = stream(100);
    const sb = new Scoreboard(block);
    const reused = new Uint8Array(64 * 1024);
    for (const [from, to] of [[0, 40], [40, 41], [41, 100]] as const) {
      const b = pack(model.slice(from, to), USER);
      reused.set(b);
      sb.expectPacked("m_axis", reused.subarray(0, b.length), to - from);
      reused.fill(0xee);
    }
    feedRecords(sb, "rtl", model, [30, 70]);
    sb.finish();
    expect(sb.report().functional).toBe("pass");
    expect(sb.report().streams[0]!.transactions).toBe(100);
  });
});
