// Layout checks for the IB headers in hca/headers (lrh.ts, deth.ts, ipoib.ts), kept here
// beside the IB code that uses them.
import { describe, expect, it } from "vitest";
import type { Layout } from "../../core/layout.ts";
import { Deth, Ipoib, IPOIB_QKEY, Lnh, Lrh } from "../headers/index.ts";

describe("IB header layouts", () => {
  it("have the sizes of their specs (LRH 8, DETH 8, IPoIB 4)", () => {
    expect([Lrh.sizeBytes, Deth.sizeBytes, Ipoib.sizeBytes]).toEqual([8, 8, 4]);
  });

  it("place each field at the sum of the sizes before it", () => {
    for (const layout of [Lrh, Deth, Ipoib] as Layout[]) {
      let bit = 0;
      for (const f of layout.fields) {
        expect(f.bitOffset, `${layout.name}.${f.name}`).toBe(bit);
        bit += f.bits;
      }
      expect(bit).toBe(layout.sizeBits);
    }
  });

  it("decode an LRH as IBTA §7.7 draws it", () => {
    const b = Uint8Array.of(0x72, 0x52, 0xc0, 0x01, 0x00, 0x10, 0x00, 0x05);
    expect(Lrh.decode(b)).toEqual({ vl: 7, lver: 2, sl: 5, resv2: 0, lnh: Lnh.ibaLocal, dlid: 0xc001, resv5: 0, pktLen: 16, slid: 5 });
    const e = Lrh.encode({ vl: 0, sl: 3, lnh: 2, dlid: 0x1234, pktLen: 0x7ff, slid: 0xbeef });
    expect(Array.from(e)).toEqual([0x00, 0x32, 0x12, 0x34, 0x07, 0xff, 0xbe, 0xef]);
  });

  it("place DETH.srcQp and the IPoIB type where RFC 4391 / §9.3.3 put them", () => {
    const d = Deth.encode({ qkey: IPOIB_QKEY, srcQp: 0x123456 });
    expect(Array.from(d)).toEqual([0, 0, 0x0b, 0x1b, 0, 0x12, 0x34, 0x56]);
    expect(Array.from(Ipoib.encode({ type: 0x86dd }))).toEqual([0x86, 0xdd, 0, 0]);
  });
});
