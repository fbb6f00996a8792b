import { describe, expect, it } from "vitest";
import { CRC32C_CASTAGNOLI, CRC32_IEEE, crc32, crc32c, crc32cUpdate, crc32Shift, crc32Update } from "./crc.ts";

const ascii = (s: string) => new TextEncoder().encode(s);
const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

/** bit-at-a-time reflected CRC register update: the definition the tables must agree with */
function bitwiseUpdate(poly: number, state: number, bytes: Uint8Array): number {
  let r = state >>> 0;
  for (const b of bytes) {
    r ^= b;
    for (let i = 0; i < 8; i++) r = r & 1 ? (r >>> 1) ^ poly : r >>> 1;
  }
  return r >>> 0;
}

/** deterministic filler so the test needs no PRNG */
function pattern(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x;
  }
  return out;
}

describe("crc32 (IEEE 802.3)", () => {
  it('check value: "123456789" → 0xCBF43926', () => {
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(crc32(ascii("123456789"))).toBe(CRC32_IEEE.check);
  });

  it("empty input → 0", () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
  });

  it("agrees with the bitwise definition at every length 0..70 and every alignment", () => {
    const buf = pattern(80, 7);
    for (let start = 0; start < 9; start++) {
      for (let len = 0; start + len <= 70; len++) {
        const want = ~bitwiseUpdate(0xedb88320, 0xffffffff, buf.subarray(start, start + len)) >>> 0;
        expect(crc32(buf, start, start + len)).toBe(want);
      }
    }
  });

  it("chaining crc32Update over pieces equals one shot", () => {
    const buf = pattern(1000, 3);
    for (const cuts of [[0, 1000], [0, 1, 1000], [0, 7, 8, 9, 500, 999, 1000], [0, 333, 666, 1000]]) {
      let s = 0xffffffff;
      for (let i = 0; i + 1 < cuts.length; i++) s = crc32Update(s, buf, cuts[i], cuts[i + 1]);
      expect(~s >>> 0).toBe(crc32(buf));
    }
  });

  it("appending the CRC least-significant byte first leaves the residue 0xDEBB20E3 in the register", () => {
    const data = pattern(61, 11);
    const c = crc32(data);
    const framed = new Uint8Array([...data, c & 0xff, (c >>> 8) & 0xff, (c >>> 16) & 0xff, c >>> 24]);
    expect(crc32Update(0xffffffff, framed)).toBe(0xdebb20e3);
  });

  it("rejects a range outside the buffer", () => {
    expect(() => crc32(new Uint8Array(4), 2, 5)).toThrow(RangeError);
    expect(() => crc32(new Uint8Array(4), 3, 2)).toThrow(RangeError);
  });
});

describe("crc32c (Castagnoli)", () => {
  it('check value: "123456789" → 0xE3069283', () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(crc32c(ascii("123456789"))).toBe(CRC32C_CASTAGNOLI.check);
  });

  // RFC 3720 Appendix B.4: the CRC bytes there are listed in wire order (LSB first).
  const rfc3720: [string, Uint8Array, number][] = [
    ["32 bytes of zeros", new Uint8Array(32), 0x8a9136aa],
    ["32 bytes of 0xFF", new Uint8Array(32).fill(0xff), 0x62a8ab43],
    ["32 incrementing bytes 00..1F", Uint8Array.from({ length: 32 }, (_, i) => i), 0x46dd794e],
    ["32 decrementing bytes 1F..00", Uint8Array.from({ length: 32 }, (_, i) => 31 - i), 0x113fdb5c],
    [
      "iSCSI SCSI Read (10) command PDU",
      hex(`01 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00
           14 00 00 00 00 00 04 00 00 00 00 14 00 00 00 18
           28 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00`),
      0xd9963a56,
    ],
  ];
  for (const [name, data, want] of rfc3720) {
    it(`RFC 3720 B.4: ${name} → 0x${want.toString(16).toUpperCase()}`, () => {
      expect(crc32c(data)).toBe(want);
    });
  }

  it("agrees with the bitwise definition on odd lengths and offsets", () => {
    const buf = pattern(300, 5);
    for (const [s, e] of [[0, 0], [1, 2], [3, 17], [5, 300], [0, 299]]) {
      expect(crc32c(buf, s, e)).toBe(~bitwiseUpdate(0x82f63b78, 0xffffffff, buf.subarray(s, e)) >>> 0);
    }
  });

  it("chaining crc32cUpdate over pieces equals one shot", () => {
    const buf = pattern(4096, 9);
    let s = 0xffffffff;
    for (let i = 0; i < buf.length; i += 37) s = crc32cUpdate(s, buf, i, Math.min(i + 37, buf.length));
    expect(~s >>> 0).toBe(crc32c(buf));
  });
});

describe("crc32Shift (zero-byte extension)", () => {
  it("equals shifting the zero bytes in one by one, for short and long runs", () => {
    for (const state of [0xffffffff, 0x12345678, 1, 0x80000000]) {
      for (const n of [0, 1, 2, 3, 7, 8, 64, 1000, 4096, 9000, 70000]) {
        expect(crc32Shift(state, n), `state ${state.toString(16)} n ${n}`).toBe(crc32Update(state, new Uint8Array(n)));
      }
    }
  });

  it("splits a CRC into a shifted prefix state XOR the CRC of the rest from zero", () => {
    const buf = pattern(5000, 13);
    for (const cut of [0, 1, 42, 62, 4999, 5000]) {
      const s = crc32Update(0xffffffff, buf, 0, cut);
      const rest = crc32Update(0, buf, cut, buf.length);
      expect((crc32Shift(s, buf.length - cut) ^ rest) >>> 0).toBe(crc32Update(0xffffffff, buf));
    }
  });

  it("rejects a negative or fractional count", () => {
    expect(() => crc32Shift(0, -1)).toThrow(RangeError);
    expect(() => crc32Shift(0, 1.5)).toThrow(RangeError);
  });
});
