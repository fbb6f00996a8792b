/** Protection: key checks remembered only while they would still pass, and the stand-alone tables. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HostMemory } from "../../core/index.ts";
import { Access, ACCESS_ALL, decodeMpt, MptState } from "../formats/index.ts";
import { mptCheckEntry, tptCheck, TptFault, UNUSABLE_MPT } from "../tpt/index.ts";
import { KeyCheck, KeyRequest, Protection, RegionTable } from "./protection.ts";

const request = (key: number, pd: number, access: number, va: number, len: number): KeyRequest =>
  Object.assign(new KeyRequest(), { key, pd, access, vaHi: Math.floor(va / 2 ** 32), vaLo: va % 2 ** 32, len });

describe("Protection.check", () => {
  it("answers as the tpt block's check does, asked again and again (property)", () => {
    const tables = new RegionTable();
    const prot = new Protection(tables, new HostMemory(), "t");
    const regions = [
      tables.register(1, 0x1_0000_0000, 64 * 4096, ACCESS_ALL),
      tables.register(1, 0x2_0000_0800, 3000, Access.remoteRead, 7),
      tables.register(2, 0x7fff_f000, 0x3000, Access.localWrite | Access.remoteWrite),
    ];
    const starts = [0x1_0000_0000, 0x2_0000_0800, 0x7fff_f000];
    const arb = fc.record({ r: fc.nat(2), stale: fc.boolean(), pd: fc.integer({ min: 1, max: 2 }), access: fc.nat(15), off: fc.integer({ min: -100, max: 70 * 4096 }), len: fc.nat(9000) });
    fc.assert(
      fc.property(fc.array(arb, { minLength: 1, maxLength: 40 }), (asks) => {
        // each request twice in a row and once more at the end: remembered answers must equal fresh ones
        for (const a of [...asks, ...asks.slice(0, 5)]) {
          const key = regions[a.r].key ^ (a.stale ? 1 : 0);
          const va = Math.max(0, starts[a.r] + a.off);
          for (let k = 0; k < 2; k++) {
            const got = new KeyCheck();
            const want = new KeyCheck();
            const bytes = tables.mpt(key >>> 8);
            const r = request(key, a.pd, a.access, va, a.len);
            expect(prot.check(r, got)).toBe(got.fault);
            tptCheck(bytes === undefined ? UNUSABLE_MPT : mptCheckEntry(decodeMpt(bytes)), r, Infinity, want);
            expect(got.fault).toBe(want.fault);
            if (want.fault === TptFault.ok) expect({ ...got }).toEqual({ ...want });
          }
        }
      }),
    );
  });

  it("fails a request that passed once its region is invalidated or registered anew", () => {
    const tables = new RegionTable();
    const prot = new Protection(tables, new HostMemory(), "t");
    const a = tables.register(1, 0x1_0000_0000, 8192, ACCESS_ALL);
    const r = request(a.key, 1, Access.remoteWrite, 0x1_0000_0100, 4096);
    expect(prot.check(r, new KeyCheck())).toBe(TptFault.ok);
    expect(prot.check(r, new KeyCheck())).toBe(TptFault.ok);
    expect(prot.invalidate(a.key, 1)).toBe(true);
    expect(prot.check(r, new KeyCheck())).toBe(TptFault.invalidKey);
    // a new entry at another index with a narrower right: the old key stays invalid, the new one is checked afresh
    const b = tables.registerEntry({ state: MptState.valid, access: Access.remoteRead, variant: 0, pd: 1, log2PageSize: 12, start: 0x1_0000_0000n, length: 8192n, mttBase: 0 });
    expect(prot.check(request(b.key, 1, Access.remoteWrite, 0x1_0000_0100, 4096), new KeyCheck())).toBe(TptFault.accessViolation);
    expect(prot.check(request(b.key, 1, Access.remoteRead, 0x1_0000_0100, 4096), new KeyCheck())).toBe(TptFault.ok);
  });
});

describe("RegionTable", () => {
  it("has no entry outside what was registered, nor after an invalidation", () => {
    const t = new RegionTable();
    expect(t.mpt(0)).toBeUndefined();
    expect(t.mpt(1)).toBeUndefined();
    expect(t.mtt(0)).toBeUndefined();
    const { index } = t.register(1, 0x1000, 3 * 4096, ACCESS_ALL);
    expect(t.mpt(index)).toBeDefined();
    expect([0, 1, 2].map((i) => t.mtt(i) !== undefined)).toEqual([true, true, true]);
    expect(t.mtt(3)).toBeUndefined();
    expect(t.mpt(index + 1)).toBeUndefined();
    t.invalidateMpt(index);
    expect(t.mpt(index)).toBeUndefined();
    t.invalidateMpt(99); // nothing there: nothing happens
    expect(t.register(1, 0x9000, 1, ACCESS_ALL).index).toBe(index + 1);
  });
});
