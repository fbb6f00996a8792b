import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { fromHex, hexDump, toHex } from "./hex.ts";

describe("hex", () => {
  it("encodes lowercase, two digits per byte, with an optional separator", () => {
    expect(toHex(Uint8Array.from([0x00, 0x0f, 0xa5, 0xff]))).toBe("000fa5ff");
    expect(toHex(Uint8Array.from([0xde, 0xad]), ":")).toBe("de:ad");
    expect(toHex(new Uint8Array(0))).toBe("");
  });

  it("decodes either case and ignores whitespace", () => {
    expect(fromHex("DEadBEef")).toEqual(Uint8Array.from([0xde, 0xad, 0xbe, 0xef]));
    expect(fromHex("45 00\n 00 73")).toEqual(Uint8Array.from([0x45, 0x00, 0x00, 0x73]));
    expect(fromHex("")).toEqual(new Uint8Array(0));
  });

  it("round-trips (property)", () => {
    fc.assert(fc.property(fc.uint8Array(), (b) => {
        expect(fromHex(toHex(b))).toEqual(b);
      }));
  });

  it("names the position of a bad digit or an odd length", () => {
    expect(() => fromHex("00g1")).toThrow('fromHex: bad hex digit "g" at position 2');
    expect(() => fromHex("abc")).toThrow(/odd number of hex digits \(the last byte, at position 2, has one digit\)/);
    expect(() => fromHex("0x12")).toThrow(/"x" at position 1/);
  });

  it("dumps offset, hex and ASCII", () => {
    const d = hexDump(fromHex("4500007300004000401 1b861c0a80001 41".replace(/ /g, "")));
    expect(d.split("\n")).toEqual([
      "00000000  45 00 00 73 00 00 40 00  40 11 b8 61 c0 a8 00 01  |E..s..@.@..a....|",
      "00000010  41                                                |A|",
    ]);
  });
});
