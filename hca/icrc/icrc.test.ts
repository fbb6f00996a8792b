import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Bth } from "../headers/bth.ts";
import { Ipv4 } from "../headers/ipv4.ts";
import { Ipv6 } from "../headers/ipv6.ts";
import { ROCEV2_IPV4, ROCEV2_IPV6 } from "../headers/rocev2.ts";
import { Udp } from "../headers/udp.ts";
import {
  appendIcrc,
  checkIcrc,
  classifyRoce,
  computeIcrc,
  icrcBlockFunction,
  icrcBytes,
  icrcHeaderMask,
  IcrcStatus,
  ICRC_VARIANT_FIELDS,
} from "./icrc.ts";

const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)));
const toHex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** copied from /work/shared/vectors/roce_icrc.json: ICRC in wire byte order */
const VECTORS: { frame: Uint8Array; icrc: Uint8Array }[] = JSON.parse(
  readFileSync(new URL("./testdata/roce_icrc.json", import.meta.url), "utf8"),
).vectors.map((v: { frame_without_icrc: string; icrc: string }) => ({ frame: hex(v.frame_without_icrc), icrc: hex(v.icrc) }));

const v4 = VECTORS.find((v) => v.frame[12] === 0x08)!.frame;
const v6 = VECTORS.find((v) => v.frame[12] === 0x86)!.frame;

describe("ICRC reference vectors", () => {
  it("has IPv4 and IPv6 vectors", () => {
    expect(VECTORS.length).toBeGreaterThanOrEqual(16);
    expect(v4).toBeDefined();
    expect(v6).toBeDefined();
  });

  VECTORS.forEach(({ frame, icrc }, i) => {
    it(`vector ${i} (IPv${frame[12] === 0x08 ? 4 : 6}, ${frame.length} bytes): icrc ${toHex(icrc)}`, () => {
      expect(toHex(icrcBytes(frame))).toBe(toHex(icrc));
      // the number goes on the wire least-significant byte first
      expect(computeIcrc(frame)).toBe((icrc[0] | (icrc[1] << 8) | (icrc[2] << 16) | (icrc[3] << 24)) >>> 0);
      const withIcrc = appendIcrc(frame);
      expect(toHex(withIcrc)).toBe(toHex(frame) + toHex(icrc));
      expect(checkIcrc(withIcrc)).toBe(true);
    });
  });

  it("checkIcrc rejects any single flipped bit after the Ethernet header outside the variant fields", () => {
    const good = appendIcrc(v6);
    const mask = icrcHeaderMask(6);
    for (let byte = 14; byte < good.length; byte++) {
      for (let bit = 0; bit < 8; bit++) {
        const hdr = byte - ROCEV2_IPV6.ip;
        if (hdr < mask.length && mask[hdr] & (1 << bit)) continue;
        const bad = good.slice();
        bad[byte] ^= 1 << bit;
        if (classifyRoce(bad, { icrcPresent: true }).kind !== "rocev2") continue;
        expect(checkIcrc(bad), `byte ${byte} bit ${bit}`).toBe(false);
      }
    }
  });
});

describe("variant fields", () => {
  it("are exactly TOS, TTL, IPv4 checksum; traffic class, flow label, hop limit; UDP checksum; BTH byte 4", () => {
    const bits = (m: Uint8Array) => m.reduce((s, b) => s + popcount(b), 0);
    expect(bits(icrcHeaderMask(4))).toBe(8 + 8 + 16 + 16 + 8);
    expect(bits(icrcHeaderMask(6))).toBe(8 + 20 + 8 + 16 + 8);
    expect(toHex(icrcHeaderMask(4).subarray(0, 20))).toBe("00ff000000000000ff00ffff0000000000000000");
    expect(toHex(icrcHeaderMask(6).subarray(0, 8))).toBe("0fffffff000000ff");
    expect(ICRC_VARIANT_FIELDS.map((v) => v.layout.name)).toEqual(["ipv4", "ipv6", "udp", "bth"]);
  });

  it("changing any variant field leaves the ICRC unchanged; changing its neighbours does not", () => {
    const cases: [Uint8Array, number][] = [
      [v4, 4],
      [v6, 6],
    ];
    for (const [frame, ver] of cases) {
      const off = ver === 4 ? ROCEV2_IPV4 : ROCEV2_IPV6;
      const ip = ver === 4 ? Ipv4 : Ipv6;
      const want = computeIcrc(frame);
      const set = (layout: typeof Udp | typeof Bth | typeof Ipv4 | typeof Ipv6, at: number, field: string, value: number) => {
        const f = frame.slice();
        layout.set(f, at, field as never, value);
        return computeIcrc(f);
      };
      for (const field of ver === 4 ? ["dscp", "ecn", "ttl", "headerChecksum"] : ["trafficClass", "flowLabel", "hopLimit"]) {
        expect(set(ip, off.ip, field, 1), `IPv${ver}.${field}`).toBe(want);
        expect(set(ip, off.ip, field, 0), `IPv${ver}.${field}`).toBe(want);
      }
      expect(set(Udp, off.udp, "checksum", 0x1234)).toBe(want);
      expect(set(Bth, off.bth, "fecn", 1)).toBe(want);
      expect(set(Bth, off.bth, "becn", 1)).toBe(want);
      expect(set(Bth, off.bth, "resv6", 0x2a)).toBe(want);
      // invariant neighbours are covered
      expect(set(Udp, off.udp, "srcPort", 0x1234)).not.toBe(want);
      expect(set(Bth, off.bth, "destQp", 0x123456)).not.toBe(want);
      expect(set(Bth, off.bth, "pkey", 0x1234)).not.toBe(want);
      if (ver === 4) expect(set(Ipv4, off.ip, "identification", 7)).not.toBe(want);
      else expect(set(Ipv6, off.ip, "payloadLength", 7)).not.toBe(want);
    }
  });

  it("the Ethernet header is not covered", () => {
    const f = v4.slice();
    f.fill(0x5a, 0, 12);
    expect(computeIcrc(f)).toBe(computeIcrc(v4));
  });
});

describe("classifyRoce", () => {
  const mutate = (frame: Uint8Array, fn: (f: Uint8Array) => void) => {
    const f = frame.slice();
    fn(f);
    return f;
  };

  it("accepts the vectors, with or without their ICRC", () => {
    for (const { frame } of VECTORS) {
      expect(classifyRoce(frame).kind).toBe("rocev2");
      expect(classifyRoce(appendIcrc(frame), { icrcPresent: true }).kind).toBe("rocev2");
    }
    const c = classifyRoce(v6);
    expect(c.kind === "rocev2" && c.offsets).toEqual(ROCEV2_IPV6);
  });

  const notRoce: [string, Uint8Array, string][] = [
    ["ARP EtherType", mutate(v4, (f) => f.set([0x08, 0x06], 12)), "not-ip"],
    ["VLAN tag", (() => { const f = new Uint8Array(v4.length + 4); f.set(v4.subarray(0, 12)); f.set([0x81, 0x00, 0x00, 0x05], 12); f.set(v4.subarray(12), 16); return f; })(), "vlan-tagged"],
    ["IPv4 version 5", mutate(v4, (f) => (f[14] = 0x55)), "ip-version"],
    ["IPv4 IHL 6", mutate(v4, (f) => (f[14] = 0x46)), "ipv4-options"],
    ["IPv4 more fragments", mutate(v4, (f) => (f[20] |= 0x20)), "ipv4-fragment"],
    ["IPv4 fragment offset", mutate(v4, (f) => (f[21] = 1)), "ipv4-fragment"],
    ["IPv4 TCP", mutate(v4, (f) => (f[23] = 6)), "not-udp"],
    ["IPv4 UDP port 4792", mutate(v4, (f) => f.set([0x12, 0xb8], 36)), "not-rocev2-port"],
    ["IPv6 version 4", mutate(v6, (f) => (f[14] = 0x46)), "ip-version"],
    ["IPv6 next header TCP", mutate(v6, (f) => (f[20] = 6)), "not-udp"],
    ["IPv6 UDP port 53", mutate(v6, (f) => f.set([0x00, 0x35], 56)), "not-rocev2-port"],
  ];
  for (const [name, frame, reason] of notRoce) {
    it(`${name} → not RoCEv2 (${reason}), passed through with status 2`, () => {
      const c = classifyRoce(frame);
      expect(c.kind).toBe("not-rocev2");
      expect(c.kind === "not-rocev2" && c.reason).toBe(reason);
      expect(() => computeIcrc(frame)).toThrow(/not a RoCEv2 frame/);
      for (const check of [false, true]) {
        const out = icrcBlockFunction(frame, check);
        expect(out.status).toBe(IcrcStatus.notRocev2);
        expect(out.data).toEqual(frame);
      }
    });
  }

  it("the DF flag does not make a fragment", () => {
    expect(classifyRoce(mutate(v4, (f) => (f[20] |= 0x40))).kind).toBe("rocev2");
  });

  it("runts: shorter than Ethernet, than the headers, than headers + ICRC in check mode", () => {
    expect(classifyRoce(new Uint8Array(0)).kind).toBe("runt");
    expect(classifyRoce(v4.subarray(0, 13)).kind).toBe("runt");
    expect(classifyRoce(v4.subarray(0, 53)).kind).toBe("runt");
    expect(classifyRoce(v4.subarray(0, 54)).kind).toBe("rocev2");
    expect(classifyRoce(v4.subarray(0, 57), { icrcPresent: true }).kind).toBe("runt");
    expect(classifyRoce(v4.subarray(0, 58), { icrcPresent: true }).kind).toBe("rocev2");
    expect(classifyRoce(v6.subarray(0, 73)).kind).toBe("runt");
    expect(classifyRoce(v6.subarray(0, 74)).kind).toBe("rocev2");
    expect(classifyRoce(v6.subarray(0, 77), { icrcPresent: true }).kind).toBe("runt");
    // a non-IP frame is "not RoCEv2" however short, once it has an EtherType
    expect(classifyRoce(mutate(v4.subarray(0, 20), (f) => f.set([0x08, 0x06], 12))).kind).toBe("not-rocev2");
    const r = classifyRoce(v4.subarray(0, 40));
    expect(r.kind === "runt" && [r.length, r.needed]).toEqual([40, 54]);
  });
});

describe("icrcBlockFunction", () => {
  it("generate: appends the ICRC; check: flags good and bad ICRCs", () => {
    for (const { frame, icrc } of VECTORS.slice(0, 4)) {
      const g = icrcBlockFunction(frame, false);
      expect(g.status).toBe(IcrcStatus.ok);
      expect(toHex(g.data)).toBe(toHex(frame) + toHex(icrc));
      expect(icrcBlockFunction(g.data, true)).toEqual({ data: g.data, status: IcrcStatus.ok });
      const bad = g.data.slice();
      bad[bad.length - 1] ^= 0x80;
      expect(icrcBlockFunction(bad, true).status).toBe(IcrcStatus.icrcBad);
    }
  });

  it("runts pass through with status 3 in both modes", () => {
    expect(icrcBlockFunction(v4.subarray(0, 30), false).status).toBe(IcrcStatus.runt);
    expect(icrcBlockFunction(v4, true).status).toBe(IcrcStatus.icrcBad); // 78 bytes: its last 4 are not an ICRC
    expect(icrcBlockFunction(v4.subarray(0, 56), true).status).toBe(IcrcStatus.runt);
  });
});

function popcount(b: number): number {
  let n = 0;
  for (; b; b &= b - 1) n++;
  return n;
}
