import { describe, expect, it } from "vitest";
import { crc32 } from "../../core/crc.ts";
import { Prng } from "../../core/prng.ts";
import {
  appendIbCrcs,
  carriedIcrc,
  carriedVcrc,
  checkIbIcrc,
  checkVcrc,
  ibIcrc,
  vcrc,
  vcrcUpdate,
  VCRC_RESIDUE,
} from "./index.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

/**
 * Independent VCRC: the textbook bit-serial CRC-16 with the *unreflected* polynomial
 * x^16 + x^12 + x^3 + x + 1 (0x100B), MSB-first register, each byte fed LSB first (the
 * IB link sends bit 0 of each byte first), result bit-reversed. No table, no reflected
 * polynomial: it shares nothing with ib-crc.ts but the definition.
 */
function vcrcBitSerial(bytes: Uint8Array): number {
  let r = 0xffff;
  for (const b of bytes) {
    for (let i = 0; i < 8; i++) {
      const bit = (b >> i) & 1;
      const top = (r >> 15) & 1;
      r = (r << 1) & 0xffff;
      if (top ^ bit) r ^= 0x100b;
    }
  }
  r ^= 0xffff;
  let out = 0;
  for (let i = 0; i < 16; i++) out |= ((r >> i) & 1) << (15 - i);
  return out;
}

/** Independent ICRC: copy, force VL and BTH byte 4 to ones, plain CRC-32. */
function icrcByMaskedCopy(pkt: Uint8Array): number {
  const c = pkt.slice();
  c[0] |= 0xf0;
  c[12] = 0xff;
  return crc32(c);
}

/** a UD SEND (LRH, BTH 0x64, DETH, IPoIB header, 28-byte ICMP echo) without CRCs */
const UD_PACKET = hex(
  "0202 0002 0010 0001" + // LRH: VL0 LVer0, SL0 LNH2, DLID 2, PktLen 16 words, SLID 1
    "64 40 ffff 00 000048 00 000007" + // BTH: UD SEND only, M=1, pad 0, P_Key ffff, QP 0x48, PSN 7
    "00000b1b 00 000049" + // DETH: Q_Key 0xB1B, SrcQP 0x49
    "0800 0000" + // IPoIB: IPv4
    "4500001c 00010000 40010000 0a000001 0a000002 0800f7ff 00000000",
);

describe("vcrc (IBTA §7.8.2, CRC-16 0x100B)", () => {
  it("matches a bit-serial implementation of the polynomial on random data", () => {
    const rng = new Prng(7);
    for (let n = 0; n < 200; n++) {
      const b = new Uint8Array(rng.int(0, 300));
      for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
      expect(vcrc(b)).toBe(vcrcBitSerial(b));
    }
  });

  it("has the Endace dagcrc check value over '123456789' and a constant residue", () => {
    const msg = new TextEncoder().encode("123456789");
    expect(vcrc(msg)).toBe(vcrcBitSerial(msg));
    const withCrc = new Uint8Array(11);
    withCrc.set(msg);
    withCrc[9] = vcrc(msg) & 0xff;
    withCrc[10] = vcrc(msg) >> 8;
    expect(vcrcUpdate(0xffff, withCrc)).toBe(VCRC_RESIDUE);
  });

  it("covers a sub-range when given an end", () => {
    expect(vcrc(UD_PACKET, 10)).toBe(vcrc(UD_PACKET.subarray(0, 10)));
  });
});

describe("ibIcrc (IBTA §7.8.1)", () => {
  it("is CRC-32 over the packet with LRH.VL and BTH byte 4 forced to ones", () => {
    expect(ibIcrc(UD_PACKET)).toBe(icrcByMaskedCopy(UD_PACKET));
    const rng = new Prng(11);
    for (let n = 0; n < 100; n++) {
      const b = new Uint8Array(rng.int(13, 400));
      for (let i = 0; i < b.length; i++) b[i] = rng.int(0, 255);
      expect(ibIcrc(b)).toBe(icrcByMaskedCopy(b));
    }
  });

  it("does not change with VL, FECN or BECN, and changes with SL, DLID or the payload", () => {
    const base = ibIcrc(UD_PACKET);
    const vary = (off: number, v: number) => {
      const c = UD_PACKET.slice();
      c[off] = v;
      return ibIcrc(c);
    };
    expect(vary(0, 0x72)).toBe(base); // VL 7
    expect(vary(12, 0xc0)).toBe(base); // FECN, BECN
    expect(vary(1, 0x12)).not.toBe(base); // SL 1
    expect(vary(3, 0x03)).not.toBe(base); // DLID
    expect(vary(40, 0x46)).not.toBe(base);
  });

  it("rejects a range too short to hold BTH byte 4", () => {
    expect(() => ibIcrc(new Uint8Array(12))).toThrow(/shorter/);
  });
});

describe("appendIbCrcs / checkers", () => {
  const full = appendIbCrcs(UD_PACKET);

  it("appends the ICRC then the VCRC over LRH … ICRC, both LSB first", () => {
    expect(full.length).toBe(UD_PACKET.length + 6);
    expect(full.subarray(0, UD_PACKET.length)).toEqual(UD_PACKET);
    expect(carriedIcrc(full)).toBe(icrcByMaskedCopy(UD_PACKET));
    expect(carriedVcrc(full)).toBe(vcrcBitSerial(full.subarray(0, full.length - 2)));
    // golden bytes (this packet dissects cleanly in tshark 4.0 as ERF type 21, PktLen 16)
    expect(Buffer.from(full.subarray(-6)).toString("hex")).toBe("c8de512177a5");
    expect(((full[4] & 7) << 8 | full[5]) * 4).toBe(full.length - 2);
  });

  it("accept the packet it built and reject any single flipped bit", () => {
    expect(checkIbIcrc(full)).toBe(true);
    expect(checkVcrc(full)).toBe(true);
    for (let bit = 0; bit < full.length * 8; bit++) {
      const bad = full.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      expect(checkVcrc(bad), `bit ${bit}`).toBe(false);
    }
  });

  it("the ICRC survives a VL change that the VCRC catches", () => {
    const hop = full.slice();
    hop[0] = (hop[0] & 0x0f) | 0x30;
    expect(checkIbIcrc(hop)).toBe(true);
    expect(checkVcrc(hop)).toBe(false);
  });

  it("checkers say false for packets too short to carry the CRCs", () => {
    expect(checkIbIcrc(new Uint8Array(10))).toBe(false);
    expect(checkVcrc(new Uint8Array(1))).toBe(false);
  });
});
