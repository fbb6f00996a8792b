import { describe, expect, it } from "vitest";
import { crc32 } from "../../core/crc.ts";
import { Prng } from "../../core/prng.ts";
import { Grh, Ipv6, Lrh } from "../headers/index.ts";
import { appendIbCrcs, vcrc } from "../ib/ib-crc.ts";
import { formatGid } from "./addresses.ts";
import { frameIb, IbFramer, type IbParse, type IbPath, parseIbPacket, receiveIb } from "./ib-framing.ts";
import { samplePacket } from "./sample-packets.ts";

const LOCAL: IbPath = { slid: 1, dlid: 2, sl: 3, vl: 1 };
const GLOBAL: IbPath = { slid: 1, dlid: 2, sl: 0, grh: { sgid: "fe80::1", dgid: "fe80::2", tClass: 0x24, flowLabel: 0x12345, hopLimit: 7 } };

/** the packet's bytes with the VCRC recomputed, after a test changed a header on purpose */
function revcrc(b: Uint8Array): Uint8Array {
  const c = b.slice();
  const v = vcrc(c, c.length - 2);
  c[c.length - 2] = v & 0xff;
  c[c.length - 1] = v >>> 8;
  return c;
}

/** Independent global ICRC: copy, LRH all ones, GRH TClass/FlowLabel/HopLmt ones, BTH byte 4 ones, plain CRC-32. */
function globalIcrcByMaskedCopy(b: Uint8Array): number {
  const c = b.slice(0, b.length - 6);
  c.fill(0xff, 0, 8);
  c[8] |= 0x0f; // IPVer stays, TClass high nibble
  c[9] = 0xff; // TClass low nibble, FlowLabel high nibble
  c[10] = 0xff;
  c[11] = 0xff;
  c[15] = 0xff; // HopLmt
  c[48 + 4] = 0xff;
  return crc32(c);
}

const carriedIcrc = (b: Uint8Array) => {
  const p = b.length - 6;
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
};

const checks = (r: IbParse) => ({ verdict: r.verdict, vcrcOk: r.vcrcOk, icrcOk: r.icrcOk, packet: r.packet && Buffer.from(r.packet).toString("hex") });

describe("GRH layout (IBTA §8.3)", () => {
  it("is 40 bytes, each field at the sum of the sizes before it, bit for bit the IPv6 header", () => {
    expect(Grh.sizeBytes).toBe(40);
    let bit = 0;
    for (const f of Grh.fields) {
      expect(f.bitOffset, f.name).toBe(bit);
      bit += f.bits;
    }
    expect(Grh.fields.map((f) => [f.bitOffset, f.bits])).toEqual(Ipv6.fields.map((f) => [f.bitOffset, f.bits]));
  });
});

describe("IbFramer", () => {
  it("a local packet: LRH with LNH 2 and PktLen, then the ICRC and VCRC that hca/ib computes", () => {
    const pkt = samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 30 });
    const f = new IbFramer(LOCAL).frame(pkt);
    const b = f.bytes();
    expect(Lrh.decode(b)).toEqual({ vl: 1, lver: 0, sl: 3, resv2: 0, lnh: 2, dlid: 2, resv5: 0, pktLen: (8 + pkt.length + 4) / 4, slid: 1 });
    expect(b).toEqual(appendIbCrcs(b.subarray(0, 8 + pkt.length)));
    expect(f.vl).toBe(1);
    expect(frameIb(pkt, LOCAL).bytes()).toEqual(b);
    expect(f.length).toBe(8 + pkt.length + 6);
  });

  it("a global packet: GRH fields, PayLen, and an ICRC over the masked copy with the whole LRH as ones", () => {
    const pkt = samplePacket({ opcode: "RC_RDMA_WRITE_ONLY", payloadBytes: 256 });
    const b = new IbFramer(GLOBAL).frame(pkt).bytes();
    expect(Lrh.get(b, 0, "lnh")).toBe(3);
    expect(Lrh.get(b, 0, "pktLen") * 4).toBe(b.length - 2);
    expect(Grh.decode(b, 8)).toMatchObject({ ipVer: 6, tClass: 0x24, flowLabel: 0x12345, payLen: pkt.length + 4, nxtHdr: 0x1b, hopLmt: 7 });
    expect(formatGid(Grh.getBytes(b, 8, "dgid"))).toBe("fe80::2");
    expect(carriedIcrc(b)).toBe(globalIcrcByMaskedCopy(b));
    const r = parseIbPacket(b);
    expect(r.verdict).toBe("ok");
    expect(r.packet).toEqual(pkt);
    expect(r.addresses!.grh).toMatchObject({ tClass: 0x24, flowLabel: 0x12345, hopLimit: 7 });
  });

  it("the global ICRC ignores what switches and routers change (LRH, TClass, FlowLabel, HopLmt, FECN) and covers the rest", () => {
    const b = new IbFramer(GLOBAL).frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 8 })).bytes();
    const vary = (at: number, x: number) => {
      const c = b.slice();
      c[at] ^= x;
      return parseIbPacket(revcrc(c)).icrcOk;
    };
    for (const [at, x] of [[0, 0xf0], [1, 0xf0], [2, 0xff], [6, 0x01], [8, 0x0f], [9, 0xff], [11, 0x01], [15, 0x80], [52, 0xc0]]) expect(vary(at!, x!), `byte ${at}`).toBe(true);
    for (const [at, x] of [[16, 0x01], [31, 0x40], [47, 0x80], [48, 0x01], [60, 0x01]]) expect(vary(at!, x!), `byte ${at}`).toBe(false);
  });

  it("rejects packets it cannot frame", () => {
    const fr = new IbFramer(LOCAL);
    expect(() => fr.frame(new Uint8Array(6))).toThrow(/BTH/);
    expect(() => fr.frame(new Uint8Array(8192))).toThrow(/PktLen/);
  });
});

describe("parseIbPacket verdicts", () => {
  const local = new IbFramer(LOCAL).frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 40 })).bytes();
  const global = new IbFramer(GLOBAL).frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 40 })).bytes();
  const edit = (b: Uint8Array, fn: (c: Uint8Array) => void) => {
    const c = b.slice();
    fn(c);
    return revcrc(c);
  };

  it("names each failure, the VCRC first", () => {
    const cases: [string, Uint8Array, string, RegExp][] = [
      ["short", local.subarray(0, 20), "runt", /shorter/],
      ["VCRC", local.map((x, i) => (i === 30 ? x ^ 1 : x)), "vcrc-bad", /VCRC [0-9a-f]{4}, expected [0-9a-f]{4}/],
      ["LVer", edit(local, (c) => (c[0] |= 1)), "link-version", /LVer 1/],
      ["raw", edit(local, (c) => (c[1] &= 0xfc)), "not-iba", /raw/],
      ["PktLen", edit(local, (c) => (c[5] += 1)), "length-mismatch", /PktLen/],
      ["IPVer", edit(global, (c) => (c[8] = (c[8]! & 0x0f) | 0x40)), "grh-version", /IPVer 4/],
      ["NxtHdr", edit(global, (c) => (c[14] = 0x11)), "grh-next-header", /NxtHdr 0x11/],
      ["PayLen", edit(global, (c) => (c[13] += 4)), "length-mismatch", /PayLen/],
      ["payload", edit(local, (c) => (c[30] ^= 1)), "icrc-bad", /ICRC [0-9a-f]{8}, expected/],
    ];
    for (const [name, bytes, verdict, detail] of cases) {
      const r = parseIbPacket(bytes);
      expect(r.verdict, name).toBe(verdict);
      expect(r.detail, name).toMatch(detail);
    }
  });

  it("a VL change with a new VCRC is fine: the VCRC is per hop, the ICRC ignores VL", () => {
    const r = parseIbPacket(edit(local, (c) => (c[0] = (c[0]! & 0x0f) | 0x50)));
    expect(r.verdict).toBe("ok");
    expect(r.addresses!.vl).toBe(5);
  });
});

describe("IB: trusted and recompute modes agree, and corruption is always caught", () => {
  // "trusted" recomputes corrupted frames, so the checks below compare against the one
  // thing it skips: the CRC work on intact frames, which must then say ok.
  const frames = [new IbFramer(LOCAL).frame(samplePacket({ opcode: "UD_SEND_ONLY", payloadBytes: 12 })), new IbFramer(GLOBAL).frame(samplePacket({ opcode: "RC_RDMA_WRITE_LAST", payloadBytes: 9 }))];

  it("every single flipped bit: VCRC bad in both modes, other checks the same", () => {
    for (const f of frames) {
      expect(checks(receiveIb(f, "trusted"))).toEqual(checks(receiveIb(f, "recompute")));
      for (let bit = 0; bit < f.length * 8; bit++) {
        const c = f.withFlips([bit]);
        const t = receiveIb(c, "trusted");
        expect(checks(t), `bit ${bit}`).toEqual(checks(receiveIb(c, "recompute")));
        expect(t.verdict).toBe("vcrc-bad");
      }
    }
  });

  it("random bursts of up to 16 bits on 4 KiB packets", () => {
    const rng = new Prng("ib-bursts");
    const f = new IbFramer(GLOBAL).frame(samplePacket({ opcode: "RC_SEND_MIDDLE", payloadBytes: 4096 }));
    for (let n = 0; n < 200; n++) {
      const start = rng.int(0, f.length * 8 - 1);
      const bits = new Set([start]);
      const count = rng.int(1, 16);
      while (bits.size < count) bits.add(Math.min(f.length * 8 - 1, start + rng.int(0, 15)));
      const c = f.withFlips([...bits]);
      const t = receiveIb(c, "trusted");
      expect(checks(t)).toEqual(checks(receiveIb(c, "recompute")));
      expect(t.verdict).toBe("vcrc-bad");
    }
  });
});
