import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBlock } from "./build.ts";
import { RunFailure, UserError } from "./errors.ts";
import { loadManifest, resolveBlock } from "./manifest.ts";
import { RtlSession } from "./rtl-session.ts";

const block = resolveBlock(loadManifest(new URL("./testdata/passthru/block.yaml", import.meta.url).pathname), { DATA_BYTES: 8 });
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i) & 0xff);

describe("RtlSession over the passthru fixture", () => {
  let s: RtlSession;
  beforeAll(async () => {
    s = await RtlSession.start(await buildBlock(block));
  });
  afterAll(async () => {
    await s?.close();
  });

  it("sends transactions and returns the outputs they cause, with their cycles, in one round trip", async () => {
    const from = s.cycle;
    const r = await s.transact(
      [0, 1, 2].map((i) => ({ port: "s_axis", data: bytes(8, i), user: { tag: 0x10 + i } })),
      { expect: { m_axis: 3 } },
    );
    expect(r.outputs.m_axis!.map((t) => [[...t.data], t.user.tag])).toEqual([0, 1, 2].map((i) => [[...bytes(8, i)], 0x10 + i]));
    // a one-stage register slice: input beat at c leaves at c + 1, one per cycle
    expect(r.outputs.m_axis!.map((t) => t.endCycle)).toEqual([from + 1, from + 2, from + 3]);
    expect(r.roundTrips).toBe(1);
    expect(r.cycle).toBe(s.cycle);
  });

  it("a later call's inputs start after the earlier call's: the session's cycle moves on", async () => {
    const a = await s.transact([{ port: "s_axis", data: bytes(8, 7) }], { expect: { m_axis: 1 } });
    const b = await s.transact([{ port: "s_axis", data: bytes(8, 8) }], { expect: { m_axis: 1 } });
    expect(b.outputs.m_axis![0]!.startCycle).toBeGreaterThan(a.outputs.m_axis![0]!.endCycle);
  });

  it("multi-beat transactions count their beats; a small first step grows until everything arrived", async () => {
    const data = bytes(8 * 40, 3);
    const r = await s.transact([{ port: "s_axis", data }], { expect: { m_axis: 1 }, stepCycles: 2 });
    expect([...r.outputs.m_axis![0]!.data]).toEqual([...data]);
    expect(r.roundTrips).toBeGreaterThan(1);
    expect(r.roundTrips).toBeLessThan(8); // the step doubles: a few round trips, not one per cycle
  });

  it("calls made at once run one after the other, in order", async () => {
    const rs = await Promise.all([1, 2, 3].map((i) => s.transact([{ port: "s_axis", data: bytes(8, 40 + i) }], { expect: { m_axis: 1 } })));
    expect(rs.map((r) => r.outputs.m_axis![0]!.data[0])).toEqual([1, 2, 3].map((i) => bytes(8, 40 + i)[0]));
    expect(rs[1]!.outputs.m_axis![0]!.startCycle).toBeGreaterThan(rs[0]!.outputs.m_axis![0]!.startCycle);
  });

  it("waiting for outputs that never come ends in a RunFailure naming the block, the cycle and what is missing", async () => {
    const err = await s.transact([{ port: "s_axis", data: bytes(8, 1) }], { expect: { m_axis: 2 }, maxCycles: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect((err as Error).message).toMatch(/^block passthru: what was expected did not arrive by cycle \d+ \(gave up after 200 cycles/);
    expect((err as Error).message).toContain("m_axis: 1 of 2 transactions");
    // the session is still usable
    const r = await s.transact([{ port: "s_axis", data: bytes(8, 2) }], { expect: { m_axis: 1 } });
    expect(r.outputs.m_axis).toHaveLength(1);
  });

  it("unknown ports are user errors naming the block and its ports", async () => {
    await expect(s.transact([{ port: "s_nope", data: bytes(8, 1) }])).rejects.toThrow(UserError);
    await expect(s.transact([{ port: "s_nope", data: bytes(8, 1) }])).rejects.toThrow("block passthru: no input stream \"s_nope\" (inputs: s_axis)");
    await expect(s.transact([], { expect: { m_nope: 1 } })).rejects.toThrow("block passthru: no output stream \"m_nope\" (outputs: m_axis)");
  });

  it("reset restarts at cycle 0", async () => {
    await s.reset();
    expect(s.cycle).toBe(0);
    const r = await s.transact([{ port: "s_axis", data: bytes(8, 9) }], { expect: { m_axis: 1 } });
    expect(r.outputs.m_axis![0]!.endCycle).toBe(1);
  });
});
