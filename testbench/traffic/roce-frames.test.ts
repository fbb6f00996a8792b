import { describe, expect, it } from "vitest";
import { Prng } from "../../core/prng.ts";
import { Bth, BTH_OPCODES, bthOpcode, Ipv4, ipv4HeaderChecksum, Ipv6, Udp } from "../../hca/index.ts";
import { checkIcrc, classifyRoce, computeIcrc } from "../../hca/index.ts";
import { roceFrames, RoceFrameGenerator } from "./roce-frames.ts";

describe("RoceFrameGenerator", () => {
  const frames = roceFrames(42, 400);

  it("every frame is RoCEv2 with a known opcode and its extension headers", () => {
    for (const f of frames) {
      const c = classifyRoce(f.data);
      expect(c.kind).toBe("rocev2");
      expect(c.kind === "rocev2" && c.offsets).toEqual(f.offsets);
      const op = bthOpcode(Bth.get(f.data, f.offsets.bth, "opcode"));
      expect(op).toBe(f.opcode);
      expect(f.data.length).toBe(f.offsets.afterBth + f.opcode.headerBytes + f.payloadBytes + f.padBytes);
    }
  });

  it("lengths are consistent: IP and UDP lengths count the ICRC; pad makes a 4-byte multiple", () => {
    for (const f of frames) {
      const icrcOnWire = f.data.length + 4;
      const udpLength = Udp.get(f.data, f.offsets.udp, "length");
      expect(udpLength).toBe(icrcOnWire - f.offsets.udp);
      if (f.offsets.ipVersion === 4) {
        expect(Ipv4.get(f.data, f.offsets.ip, "totalLength")).toBe(icrcOnWire - f.offsets.ip);
        expect(Ipv4.get(f.data, f.offsets.ip, "headerChecksum")).toBe(ipv4HeaderChecksum(f.data, f.offsets.ip));
      } else {
        expect(Ipv6.get(f.data, f.offsets.ip, "payloadLength")).toBe(udpLength);
      }
      expect((f.payloadBytes + f.padBytes) % 4).toBe(0);
      expect(Bth.get(f.data, f.offsets.bth, "padCount")).toBe(f.padBytes);
      if (!f.opcode.payload) expect(f.payloadBytes).toBe(0);
    }
  });

  it("draws IPv4 and IPv6 in the configured ratio and payloads in the configured range", () => {
    const v6 = frames.filter((f) => f.offsets.ipVersion === 6).length;
    expect(v6 / frames.length).toBeGreaterThan(0.4);
    expect(v6 / frames.length).toBeLessThan(0.6);
    expect(roceFrames(1, 50, { ipv6Fraction: 0 }).every((f) => f.offsets.ipVersion === 4)).toBe(true);
    expect(roceFrames(1, 50, { ipv6Fraction: 1 }).every((f) => f.offsets.ipVersion === 6)).toBe(true);
    const small = roceFrames(3, 200, { payloadBytes: [5, 9] });
    expect(small.every((f) => !f.opcode.payload || (f.payloadBytes >= 5 && f.payloadBytes <= 9))).toBe(true);
    const sizes = frames.map((f) => f.payloadBytes);
    expect(Math.max(...sizes)).toBeGreaterThan(3000);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(4096);
  });

  it("varies the fields the ICRC masks", () => {
    const ttls = new Set(frames.filter((f) => f.offsets.ipVersion === 4).map((f) => Ipv4.get(f.data, f.offsets.ip, "ttl")));
    const flows = new Set(frames.filter((f) => f.offsets.ipVersion === 6).map((f) => Ipv6.get(f.data, f.offsets.ip, "flowLabel")));
    const fecn = new Set(frames.map((f) => Bth.get(f.data, f.offsets.bth, "fecn")));
    expect(ttls.size).toBeGreaterThan(50);
    expect(flows.size).toBeGreaterThan(50);
    expect(fecn.size).toBe(2);
  });

  it("with the ICRC appended, the ICRC checks; corrupted frames fail the check and stay RoCEv2", () => {
    const withIcrc = roceFrames(7, 300, { withIcrc: true, corruptFraction: 0.3 });
    let corrupted = 0;
    for (const f of withIcrc) {
      expect(classifyRoce(f.data, { icrcPresent: true }).kind).toBe("rocev2");
      expect(checkIcrc(f.data)).toBe(f.corruptedBit < 0);
      if (f.corruptedBit >= 0) corrupted++;
      else expect(computeIcrc(f.data.subarray(0, f.data.length - 4))).toBe(new DataView(f.data.buffer).getUint32(f.data.length - 4, true));
    }
    expect(corrupted).toBeGreaterThan(50);
    expect(corrupted).toBeLessThan(150);
  });

  it("is deterministic by seed, and a different seed gives different frames", () => {
    const a = roceFrames("seed-a", 20, { withIcrc: true });
    const b = roceFrames("seed-a", 20, { withIcrc: true });
    expect(b.map((f) => f.data)).toEqual(a.map((f) => f.data));
    const c = roceFrames("seed-b", 20, { withIcrc: true });
    expect(c.map((f) => f.data)).not.toEqual(a.map((f) => f.data));
    const fromPrng = new RoceFrameGenerator(new Prng("seed-a"), { withIcrc: true }).take(20);
    expect(fromPrng.map((f) => f.data)).toEqual(a.map((f) => f.data));
  });

  it("draws only the opcodes it is given", () => {
    const ud = BTH_OPCODES.filter((o) => o.transport === "UD");
    expect(roceFrames(5, 50, { opcodes: ud }).every((f) => f.opcode.transport === "UD")).toBe(true);
  });

  it("rejects bad options", () => {
    expect(() => new RoceFrameGenerator(1, { ipv6Fraction: 2 })).toThrow(/ipv6Fraction/);
    expect(() => new RoceFrameGenerator(1, { payloadBytes: [10, 5] })).toThrow(/payloadBytes/);
    expect(() => new RoceFrameGenerator(1, { corruptFraction: -1 })).toThrow(/corruptFraction/);
    expect(() => new RoceFrameGenerator(1, { opcodes: [] })).toThrow(/opcodes/);
  });
});
