import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../core/crc.ts";
import { fromHex } from "../../core/hex.ts";
import { Prng } from "../../core/prng.ts";
import { Bth, Ipv4, ipv4HeaderChecksum, Ipv6, Udp } from "../headers/index.ts";
import { checkIcrc, computeIcrc } from "../icrc/icrc.ts";
import { formatGid, formatMac, NeighbourTable, rocev2SourcePort } from "./addresses.ts";
import { Frame } from "./frame.ts";
import { frameRoce, parseRoceFrame, receiveRoce, ROCEV2_CODEC, RoceFramer, type RocePath, type RoceParse } from "./roce-framing.ts";
import { samplePacket } from "./sample-packets.ts";

const vectors = (JSON.parse(readFileSync("/work/shared/vectors/roce_icrc.json", "utf8")) as { vectors: { frame_without_icrc: string; icrc: string }[] }).vectors;

const V4: RocePath = { srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 0x12 };
const V6: RocePath = { srcMac: "02:00:00:00:00:01", srcGid: "fe80::1", dstGid: "fe80::ff:fe00:2", localQpn: 0x12, dscp: 26, ecn: 2, hopLimit: 9, flowLabel: 0xabcde };

/** a frame's bytes with the FCS recomputed, after a test changed some header on purpose */
function refcs(bytes: Uint8Array): Uint8Array {
  const b = bytes.slice();
  const c = crc32(b, 0, b.length - 4);
  b.set([c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24], b.length - 4);
  return b;
}

/** the checks a receiver reports, for comparing the two CRC modes */
const checks = (r: RoceParse) => ({ verdict: r.verdict, fcsOk: r.fcsOk, ipChecksumOk: r.ipChecksumOk, icrcOk: r.icrcOk, packet: r.packet && Buffer.from(r.packet).toString("hex") });

describe("RoCEv2 reference vectors round-trip", () => {
  it("every vector parses with its ICRC correct, and reframing its packet on its path gives the same ICRC", () => {
    expect(vectors.length).toBeGreaterThan(10);
    for (const [i, v] of vectors.entries()) {
      const frame = fromHex(v.frame_without_icrc);
      const wire = new Uint8Array([...frame, ...fromHex(v.icrc)]);
      const r = parseRoceFrame(wire, { fcs: false });
      expect(r.verdict, `vector ${i}: ${r.detail}`).toBe("ok");
      expect(r.icrcOk).toBe(true);
      const a = r.addresses!;
      const head = a.ipVersion === 4 ? 42 : 62;
      expect(r.packet).toEqual(frame.subarray(head));

      const path: RocePath = {
        srcMac: a.srcMac, dstMac: a.dstMac, srcGid: a.srcGid, dstGid: a.dstGid, dscp: a.dscp, ecn: a.ecn, hopLimit: a.hopLimit,
        flowLabel: a.flowLabel, udpSrcPort: a.udpSrcPort,
        ...(a.ipVersion === 4 ? { ipv4Identification: Ipv4.get(frame, 14, "identification"), dontFragment: Ipv4.get(frame, 14, "dontFragment") === 1 } : {}),
      };
      const out = new RoceFramer(path).frame(r.packet!).bytes();
      const icrcAt = frame.length;
      expect(Buffer.from(out.subarray(icrcAt, icrcAt + 4)).toString("hex"), `vector ${i}`).toBe(v.icrc);
      // identical but for the UDP checksum, which the framer leaves 0 (the ICRC masks it)
      const expect0 = frame.slice();
      Udp.set(expect0, head - 8, "checksum", 0);
      expect(out.subarray(0, icrcAt)).toEqual(expect0);
      // and the framer's own parse agrees
      expect(parseRoceFrame(out).verdict).toBe("ok");
    }
  });

  it("a frame made from a vector's own headers carries the vector's ICRC and a correct FCS", () => {
    for (const v of vectors) {
      const frame = fromHex(v.frame_without_icrc);
      const head = frame[13] === 0x00 ? 42 : 62; // EtherType 0x0800 / 0x86dd
      const f = new Frame(ROCEV2_CODEC, frame.subarray(0, head), frame.subarray(head));
      const b = f.bytes();
      expect(Buffer.from(b.subarray(frame.length, frame.length + 4)).toString("hex")).toBe(v.icrc);
      expect(crc32(b, 0, b.length - 4)).toBe((b[b.length - 4]! | (b[b.length - 3]! << 8) | (b[b.length - 2]! << 16) | (b[b.length - 1]! << 24)) >>> 0);
    }
  });
});

describe("RoceFramer", () => {
  it("builds IPv4 headers: lengths, DF, TTL, a valid header checksum, UDP 4791 from the QP-derived port", () => {
    const pkt = samplePacket({ opcode: "RC_RDMA_WRITE_ONLY", payloadBytes: 1001, destQp: 0x345 });
    const f = new RoceFramer(V4).frame(pkt);
    const b = f.bytes();
    expect(f.length).toBe(14 + 20 + 8 + pkt.length + 4 + 4);
    expect(Ipv4.decode(b, 14)).toMatchObject({ version: 4, ihl: 5, totalLength: 20 + 8 + pkt.length + 4, dontFragment: 1, ttl: 64, protocol: 17 });
    expect(Ipv4.get(b, 14, "headerChecksum")).toBe(ipv4HeaderChecksum(b, 14));
    expect(Udp.decode(b, 34)).toEqual({ srcPort: rocev2SourcePort(0x12, 0x345), dstPort: 4791, length: 8 + pkt.length + 4, checksum: 0 });
    expect(b.subarray(42, 42 + pkt.length)).toEqual(pkt);
    expect(computeIcrc(b.subarray(0, 42 + pkt.length))).toBe((b[42 + pkt.length]! | (b[43 + pkt.length]! << 8) | (b[44 + pkt.length]! << 16) | (b[45 + pkt.length]! << 24)) >>> 0);
    expect(checkIcrc(b.subarray(0, b.length - 4))).toBe(true);
    expect(f.packet).toBe(pkt); // not copied
    expect(frameRoce(pkt, V4).bytes()).toEqual(b);
    const r = parseRoceFrame(b);
    expect(r.addresses!.ipHeader).toEqual(b.subarray(14, 34));
  });

  it("builds IPv6 headers with the path's traffic class, flow label, hop limit, and a MAC from the link-local GID", () => {
    const pkt = samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 64 });
    const f = new RoceFramer(V6).frame(pkt);
    const b = f.bytes();
    expect(Ipv6.decode(b, 14)).toMatchObject({ version: 6, trafficClass: (26 << 2) | 2, flowLabel: 0xabcde, payloadLength: 8 + pkt.length + 4, nextHeader: 17, hopLimit: 9 });
    expect(formatMac(b.subarray(0, 6))).toBe("02:00:00:00:00:02"); // fe80::ff:fe00:2: EUI-64 00:00:00:ff:fe:00:00:02, U/L bit flipped
    const r = receiveRoce(f, "recompute");
    expect(r.verdict).toBe("ok");
    expect(formatGid(r.addresses!.srcGid)).toBe("fe80::1");
    expect([r.addresses!.dscp, r.addresses!.ecn, r.addresses!.hopLimit, r.addresses!.flowLabel]).toEqual([26, 2, 9, 0xabcde]);
    expect(r.addresses!.udpSrcPort).toBe(rocev2SourcePort(0, 0, 0xabcde));
  });

  it("takes the UD source QP from the DETH, and asks for localQpn on a connected QP without one", () => {
    const ud = samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 8, destQp: 0x99, srcQp: 0x77 });
    const f = new RoceFramer({ ...V4, localQpn: undefined }).frame(ud);
    expect(Udp.get(f.head, 34, "srcPort")).toBe(rocev2SourcePort(0x77, 0x99));
    expect(() => new RoceFramer({ ...V4, localQpn: undefined }).frame(samplePacket({ opcode: "RC_SEND_ONLY" }))).toThrow(/localQpn/);
    expect(Udp.get(new RoceFramer({ ...V4, udpSrcPort: 50000 }).frame(ud).head, 34, "srcPort")).toBe(50000);
  });

  it("resolves the destination MAC through the neighbour table or multicast mapping, and rejects bad paths and packets", () => {
    const n = new NeighbourTable().set("10.0.0.2", "02:aa:00:00:00:02");
    expect(formatMac(new RoceFramer({ ...V4, dstMac: undefined }, { neighbours: n }).dstMac)).toBe("02:aa:00:00:00:02");
    expect(formatMac(new RoceFramer({ ...V4, dstMac: undefined, dstGid: "239.0.0.7" }).dstMac)).toBe("01:00:5e:00:00:07");
    expect(() => new RoceFramer({ ...V4, dstMac: undefined })).toThrow(/no MAC for GID ::ffff:10.0.0.2/);
    expect(() => new RoceFramer({ ...V4, dstGid: "fe80::2" })).toThrow(/IPv4-mapped/);
    expect(() => new RoceFramer({ ...V4, dscp: 64 })).toThrow(/dscp/);
    const fr = new RoceFramer(V4);
    expect(() => fr.frame(new Uint8Array(8))).toThrow(/BTH/);
    expect(() => fr.frame(new Uint8Array(14))).toThrow(/padded to 4/);
  });

  it("pads a short frame to the Ethernet minimum between the ICRC and the FCS", () => {
    const pkt = samplePacket({ opcode: "RC_RDMA_READ_REQUEST" }); // BTH + RETH = 28
    const ack = samplePacket({ opcode: "RC_SEND_ONLY" }); // BTH only = 12
    const f = new RoceFramer(V4).frame(ack);
    expect(f.length).toBe(64);
    const b = f.bytes();
    expect(Array.from(b.subarray(58, 60))).toEqual([0, 0]);
    expect(crc32(b, 0, 60)).toBe((b[60]! | (b[61]! << 8) | (b[62]! << 16) | (b[63]! << 24)) >>> 0);
    const r = parseRoceFrame(b);
    expect(r.verdict).toBe("ok");
    expect(r.packet).toEqual(ack);
    expect(new RoceFramer(V4).frame(pkt).length).toBe(42 + 28 + 8);
  });
});

describe("parseRoceFrame verdicts", () => {
  const good = new RoceFramer(V4).frame(samplePacket({ opcode: "RC_RDMA_WRITE_ONLY", payloadBytes: 100 })).bytes();
  const good6 = new RoceFramer(V6).frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 100 })).bytes();
  const edit = (b: Uint8Array, fn: (c: Uint8Array) => void) => {
    const c = b.slice();
    fn(c);
    return refcs(c);
  };

  it("names each failure, first failure first", () => {
    const cases: [string, Uint8Array, string, RegExp][] = [
      ["short", good.subarray(0, 10), "runt", /shorter than an Ethernet header/],
      ["FCS", good.map((x, i) => (i === 70 ? x ^ 4 : x)), "fcs-bad", /FCS [0-9a-f]{8}, expected/],
      ["ARP", edit(good, (c) => c.set([0x08, 0x06], 12)), "not-ip", /EtherType 0x0806/],
      ["VLAN", edit(good, (c) => c.set([0x81, 0x00], 12)), "vlan-tagged", /VLAN/],
      ["v5", edit(good, (c) => (c[14] = 0x55)), "ip-version", /IP version 5/],
      ["options", edit(good, (c) => (c[14] = 0x46)), "ipv4-options", /IHL 6/],
      ["fragment", edit(good, (c) => (c[21] = 1)), "ipv4-fragment", /fragment/],
      ["TCP", edit(good, (c) => (c[23] = 6)), "not-udp", /protocol 6/],
      ["port", edit(good, (c) => Udp.set(c, 34, "dstPort", 4790)), "wrong-udp-port", /4790 is not 4791/],
      ["checksum", edit(good, (c) => (c[24] ^= 1)), "ipv4-checksum-bad", /checksum/],
      ["UDP length", edit(good, (c) => Udp.set(c, 34, "length", Udp.get(c, 34, "length") - 4)), "length-mismatch", /UDP length/],
      ["payload", edit(good, (c) => (c[60] ^= 0x10)), "icrc-bad", /ICRC [0-9a-f]{8}, expected [0-9a-f]{8}/],
      ["v6 next header", edit(good6, (c) => (c[20] = 58)), "not-udp", /next header 58/],
      ["v6 length", edit(good6, (c) => Ipv6.set(c, 14, "payloadLength", 300)), "length-mismatch", /UDP length .* but IP payload 300/],
    ];
    for (const [name, bytes, verdict, detail] of cases) {
      const r = parseRoceFrame(bytes);
      expect(r.verdict, name).toBe(verdict);
      expect(r.detail, name).toMatch(detail);
    }
  });

  it("ignores what routers may change: TTL, DSCP/ECN (with a fixed IPv4 checksum), FECN/BECN", () => {
    const hop = edit(good, (c) => {
      Ipv4.set(c, 14, "ttl", 3);
      Ipv4.set(c, 14, "ecn", 3);
      Ipv4.set(c, 14, "headerChecksum", ipv4HeaderChecksum(c, 14));
      Bth.set(c, 42, "fecn", 1);
    });
    const r = parseRoceFrame(hop);
    expect(r.verdict).toBe("ok");
    expect(r.addresses!.ecn).toBe(3);
  });

  it("reads a capture without FCS, and an unpadded short frame as a sender-side capture has it", () => {
    const ack = new RoceFramer(V4).frame(samplePacket({ opcode: "RC_SEND_ONLY" })).bytes();
    expect(parseRoceFrame(ack.subarray(0, 60), { fcs: false }).verdict).toBe("ok");
    expect(parseRoceFrame(ack.subarray(0, 58), { fcs: false }).verdict).toBe("ok");
    expect(parseRoceFrame(ack.subarray(0, 59), { fcs: false }).verdict).toBe("length-mismatch");
  });
});

describe("trusted and recompute CRC modes agree, and corruption is always caught", () => {
  const frames = [
    new RoceFramer(V4).frame(samplePacket({ opcode: "RC_SEND_ONLY" })), // padded minimum
    new RoceFramer(V4).frame(samplePacket({ opcode: "RC_RDMA_WRITE_FIRST", payloadBytes: 37 })),
    new RoceFramer(V6).frame(samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 20 })),
  ];

  it("intact frames: both modes say ok and hand over the same packet", () => {
    for (const f of frames) expect(checks(receiveRoce(f, "trusted"))).toEqual(checks(receiveRoce(f, "recompute")));
    expect(receiveRoce(frames[0]!, "trusted").verdict).toBe("ok");
  });

  it("every single flipped bit of a frame: FCS bad in both modes, and every other check the same", () => {
    for (const f of frames) {
      for (let bit = 0; bit < f.length * 8; bit++) {
        const c = f.withFlips([bit]);
        const t = receiveRoce(c, "trusted");
        const r = receiveRoce(c, "recompute");
        expect(checks(t), `bit ${bit}`).toEqual(checks(r));
        expect(t.verdict).toBe("fcs-bad");
      }
    }
  });

  it("random bursts of up to 16 flipped bits on 4 KiB frames: detected, and the same verdicts both ways", () => {
    const rng = new Prng("roce-bursts");
    const big = [new RoceFramer(V4).frame(samplePacket({ opcode: "RC_RDMA_WRITE_MIDDLE", payloadBytes: 4096 })), new RoceFramer(V6).frame(samplePacket({ opcode: "RC_RDMA_WRITE_ONLY", payloadBytes: 4000 }))];
    let icrcCaught = 0;
    for (let n = 0; n < 400; n++) {
      const f = rng.pick(big);
      const start = rng.int(0, f.length * 8 - 1);
      const bits = new Set([start]);
      const count = rng.int(1, 16);
      while (bits.size < count) bits.add(Math.min(f.length * 8 - 1, start + rng.int(0, 15)));
      const c = f.withFlips([...bits]);
      const t = receiveRoce(c, "trusted");
      const r = receiveRoce(c, "recompute");
      expect(checks(t)).toEqual(checks(r));
      expect(r.verdict).toBe("fcs-bad");
      if (r.icrcOk === false) icrcCaught++;
    }
    expect(icrcCaught).toBeGreaterThan(300); // most bursts land in the payload, which the ICRC covers too
  });

  it("a frame's CRCs stay the sender's: flipping a bit back restores a good frame", () => {
    const f = frames[1]!;
    const twice = f.withFlips([100]).withFlips([100]);
    expect(twice.corrupted).toBe(false);
    expect(receiveRoce(twice, "recompute").verdict).toBe("ok");
    expect(() => f.withFlips([f.length * 8])).toThrow(/outside/);
  });
});
