import { describe, expect, it } from "vitest";
import { ethernetLineFps, ethernetWireBytes, ibDataRate, ibWireBytes, linkDataRate, linkSpeed, linkSpeedName, linkWireBytes } from "./speeds.ts";

describe("link speeds", () => {
  it("parses Ethernet and IB names, 4X by default", () => {
    expect(linkSpeed("25GbE")).toEqual({ kind: "ethernet", name: "25GbE" });
    expect(linkSpeed("EDR")).toEqual({ kind: "ib", width: "4X", speed: "EDR" });
    expect(linkSpeed("IB 12x qdr")).toEqual({ kind: "ib", width: "12X", speed: "QDR" });
    expect(linkSpeedName(linkSpeed("4X HDR"))).toBe("4X HDR");
    expect(() => linkSpeed("400GbE")).toThrow(/unknown link speed "400GbE" \(known: 1GbE, 10GbE, 25GbE, 40GbE, 100GbE; IB: .*SDR\|DDR/);
  });

  it("IB 4X data rates after encoding: 8b/10b, 64b/66b, and HDR's 16/17", () => {
    const rate = (s: string) => linkDataRate(linkSpeed(s)) / 1e9;
    expect(rate("4X SDR")).toBeCloseTo(8, 9);
    expect(rate("4X DDR")).toBeCloseTo(16, 9);
    expect(rate("4X QDR")).toBeCloseTo(32, 9);
    expect(rate("4X FDR")).toBeCloseTo((4 * 14.0625 * 64) / 66, 9);
    expect(rate("4X EDR")).toBeCloseTo(100, 9);
    expect(rate("4X HDR")).toBeCloseTo(200, 9);
    expect(ibDataRate({ width: "1X", speed: "EDR" })).toBeCloseTo(25e9, 0);
    expect(rate("40GbE")).toBe(40);
  });

  it("counts wire overhead: Ethernet padded to 64 plus 20; IB delimiters rounded to the lanes", () => {
    expect(ethernetWireBytes(60)).toBe(84);
    expect(ethernetWireBytes(1518)).toBe(1538);
    expect(ibWireBytes(37, { width: "4X", speed: "EDR" })).toBe(40);
    expect(ibWireBytes(37, { width: "1X", speed: "EDR" })).toBe(39);
    expect(linkWireBytes(linkSpeed("4X EDR"), 38)).toBe(40);
    expect(ethernetLineFps(64, 10e9)).toBeCloseTo(10e9 / (84 * 8), 6);
  });
});
