import { describe, expect, it } from "vitest";
import {
  flowLabelFromQpns,
  formatGid,
  formatMac,
  ipv4MappedGid,
  isIpv4MappedGid,
  isLinkLocalGid,
  isMulticastGid,
  linkLocalGid,
  macOfLinkLocalGid,
  multicastMac,
  NeighbourTable,
  parseGid,
  parseMac,
  resolveDestMac,
  rocev2SourcePort,
  udpSourcePortOfFlowLabel,
} from "./addresses.ts";

/** Linux's rdma_calc_flow_label with 64-bit arithmetic, written out with BigInt */
function flowLabelBig(l: number, r: number): number {
  let v = BigInt(l) * BigInt(r);
  v ^= v >> 20n;
  v ^= v >> 40n;
  return Number(v & 0xfffffn);
}

describe("GID and MAC text", () => {
  it("parses and prints IPv6, IPv4-mapped and plain IPv4 GIDs", () => {
    expect(formatGid(parseGid("fe80::21b:21ff:feaa:bbcc"))).toBe("fe80::21b:21ff:feaa:bbcc");
    expect(formatGid(parseGid("10.1.2.3"))).toBe("::ffff:10.1.2.3");
    expect(parseGid("::ffff:10.1.2.3")).toEqual(ipv4MappedGid(0x0a010203));
    expect(formatGid(parseGid("ff02::1"))).toBe("ff02::1");
    expect(formatGid(parseGid("2001:db8:0:0:1:0:0:1"))).toBe("2001:db8::1:0:0:1");
    expect(formatGid(new Uint8Array(16))).toBe("::");
    expect(() => parseGid("fe80::1::2")).toThrow(/not a GID/);
    expect(() => parseGid("10.0.0.256")).toThrow(/not a GID/);
    expect(formatMac(parseMac("02-00-0A-0b-0c-0d"))).toBe("02:00:0a:0b:0c:0d");
    expect(() => parseMac("02:00:00:00:00")).toThrow(/not a MAC/);
  });

  it("classifies GIDs", () => {
    expect(isIpv4MappedGid(parseGid("10.0.0.1"))).toBe(true);
    expect(isIpv4MappedGid(parseGid("fe80::1"))).toBe(false);
    expect(isLinkLocalGid(parseGid("fe80::1"))).toBe(true);
    expect(isLinkLocalGid(parseGid("fe80:1::1"))).toBe(false);
    expect(isMulticastGid(parseGid("ff0e::1"))).toBe(true);
    expect(isMulticastGid(parseGid("239.255.0.1"))).toBe(true);
    expect(isMulticastGid(parseGid("192.168.0.1"))).toBe(false);
  });
});

describe("GID → MAC", () => {
  it("link-local GIDs carry the MAC as a modified EUI-64 (universal/local bit flipped, ff:fe inserted)", () => {
    const mac = parseMac("00:1b:21:aa:bb:cc");
    expect(formatGid(linkLocalGid(mac))).toBe("fe80::21b:21ff:feaa:bbcc");
    expect(macOfLinkLocalGid(linkLocalGid(mac))).toEqual(mac);
    expect(macOfLinkLocalGid(parseGid("fe80::1"))).toBeUndefined(); // not EUI-64
  });

  it("maps multicast GIDs as the IP stack maps groups", () => {
    expect(formatMac(multicastMac(parseGid("ff02::1:ff00:1234")))).toBe("33:33:ff:00:12:34");
    expect(formatMac(multicastMac(parseGid("239.1.2.3")))).toBe("01:00:5e:01:02:03");
    expect(formatMac(multicastMac(parseGid("224.129.1.1")))).toBe("01:00:5e:01:01:01"); // 23 bits only
    expect(() => multicastMac(parseGid("10.0.0.1"))).toThrow(/not a multicast GID/);
  });

  it("resolves multicast, then link-local EUI-64, then the neighbour table, and names a GID it cannot resolve", () => {
    const n = new NeighbourTable().set("10.0.0.2", "02:00:00:00:00:02").set("fe80::1", "02:00:00:00:00:09");
    expect(formatMac(resolveDestMac(parseGid("10.0.0.2"), n))).toBe("02:00:00:00:00:02");
    expect(formatMac(resolveDestMac(parseGid("fe80::1"), n))).toBe("02:00:00:00:00:09");
    expect(formatMac(resolveDestMac(parseGid("fe80::21b:21ff:feaa:bbcc"), n))).toBe("00:1b:21:aa:bb:cc");
    expect(formatMac(resolveDestMac(parseGid("ff02::2"), n))).toBe("33:33:00:00:00:02");
    expect(() => resolveDestMac(parseGid("10.0.0.3"), n)).toThrow("no MAC for GID ::ffff:10.0.0.3");
    expect(n.delete(parseGid("10.0.0.2"))).toBe(true);
    expect(n.size).toBe(1);
  });
});

describe("RoCEv2 UDP source port", () => {
  it("folds the QP product into 20 bits exactly as the 64-bit formula does", () => {
    const qps = [0, 1, 2, 0x11, 0x123, 0xabcde, 0x7fffff, 0xfffffe, 0xffffff];
    for (const l of qps) for (const r of qps) expect(flowLabelFromQpns(l, r), `${l} ${r}`).toBe(flowLabelBig(l, r));
  });

  it("is the same both ways of a connection, in 0xC000–0xFFFF, and spreads over QPs", () => {
    const ports = new Set<number>();
    for (let q = 1; q <= 256; q++) {
      const s = rocev2SourcePort(0x100 + q, 0x2000 + q);
      expect(s).toBe(rocev2SourcePort(0x2000 + q, 0x100 + q));
      expect(s).toBeGreaterThanOrEqual(0xc000);
      expect(s).toBeLessThanOrEqual(0xffff);
      ports.add(s);
    }
    expect(ports.size).toBeGreaterThan(200);
  });

  it("uses the path's flow label when it has one: low 14 bits XOR the high 6", () => {
    expect(udpSourcePortOfFlowLabel(0xfffff)).toBe(0xc000 | (0x3fff ^ 0x3f));
    expect(rocev2SourcePort(5, 7, 0x12345)).toBe(0xc000 | ((0x12345 & 0x3fff) ^ (0x12345 >>> 14)));
    expect(rocev2SourcePort(5, 7)).toBe(udpSourcePortOfFlowLabel(35));
  });
});
