import { describe, it, expect } from "vitest";
import fc from "fast-check";
import { defineLayout, type Layout } from "./layout.ts";

const Ipv4 = defineLayout(
  "ipv4",
  [
    { name: "version", bits: 4 },
    { name: "ihl", bits: 4 },
    { name: "dscp", bits: 6 },
    { name: "ecn", bits: 2 },
    { name: "totalLength", bits: 16 },
    { name: "identification", bits: 16 },
    { name: "flags", bits: 3 },
    { name: "fragmentOffset", bits: 13 },
    { name: "ttl", bits: 8 },
    { name: "protocol", bits: 8 },
    { name: "headerChecksum", bits: 16 },
    { name: "src", bits: 32 },
    { name: "dst", bits: 32 },
  ],
  { sizeBytes: 20 },
);

/** Odd widths and alignments: narrow fields spanning up to 5 bytes, an unaligned 64-bit field. */
const Odd = defineLayout("odd", [
  { name: "a", bits: 1 },
  { name: "b", bits: 3 },
  { name: "c", bits: 7 },
  { name: "d", bits: 13 },
  { name: "e", bits: 33 },
  { name: "f", bits: 5 },
  { name: "g", bits: 32 }, // bits 62..93: five bytes
  { name: "h", bits: 64 }, // bits 94..157: unaligned
  { name: "i", bits: 2 },
  { name: "raw", bytes: 3 },
  { name: "k", bits: 17 },
  { name: "l", bits: 47 },
  { name: "m", bits: 8 },
]);

/** Byte-aligned fields of every fast-path width. */
const Aligned = defineLayout("aligned", [
  { name: "u8", bits: 8 },
  { name: "u16", bits: 16 },
  { name: "u24", bits: 24 },
  { name: "u32", bits: 32 },
  { name: "u48", bits: 48 },
  { name: "u64", bits: 64 },
  { name: "addr", bytes: 16 },
]);

/** Reference reader: one bit at a time, MSB first. */
function refRead(buf: Uint8Array, bitOffset: number, bits: number): bigint {
  let v = 0n;
  for (let i = 0; i < bits; i++) {
    const bit = bitOffset + i;
    v = (v << 1n) | BigInt((buf[bit >>> 3] >>> (7 - (bit & 7))) & 1);
  }
  return v;
}

function arbRecordFor(layout: Layout) {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of layout.fields) {
    if (f.kind === "bytes") shape[f.name] = fc.uint8Array({ minLength: f.bits / 8, maxLength: f.bits / 8 });
    else if (f.kind === "bigint") shape[f.name] = fc.bigInt({ min: 0n, max: (1n << BigInt(f.bits)) - 1n });
    else shape[f.name] = fc.integer({ min: 0, max: 2 ** f.bits - 1 });
  }
  return fc.record(shape);
}

describe("defineLayout", () => {
  it("places each field at the sum of the sizes before it", () => {
    for (const layout of [Ipv4, Odd, Aligned] as Layout[]) {
      let sum = 0;
      for (const f of layout.fields) {
        expect(f.bitOffset, `${layout.name}.${f.name}`).toBe(sum);
        expect(f.byteOffset).toBe(Math.floor(sum / 8));
        sum += f.bits;
      }
      expect(layout.sizeBytes * 8).toBe(sum);
    }
    expect(Ipv4.sizeBytes).toBe(20);
    expect(Ipv4.field("ttl")).toMatchObject({ name: "ttl", bits: 8, bitOffset: 64, byteOffset: 8 });
    expect(Odd.field("h")).toMatchObject({ bitOffset: 94, byteOffset: 11, kind: "bigint" });
    expect(Odd.sizeBytes).toBe(32);
  });

  it("rejects malformed layouts with messages naming the layout and field", () => {
    expect(() => defineLayout("bad", [{ name: "x", bits: 4 }, { name: "y", bits: 3 }])).toThrow(
      /layout "bad": fields total 7 bits, not a whole number of bytes/,
    );
    expect(() => defineLayout("dup", [{ name: "x", bits: 4 }, { name: "x", bits: 4 }])).toThrow(
      /layout "dup": field "x" is declared twice/,
    );
    expect(() => defineLayout("wide", [{ name: "w", bits: 65 }, { name: "p", bits: 7 }])).toThrow(
      /layout "wide": field "w" has 65 bits/,
    );
    expect(() => defineLayout("un", [{ name: "p", bits: 4 }, { name: "gid", bytes: 16 }, { name: "q", bits: 4 }])).toThrow(
      /"gid" starts at bit 4/,
    );
    expect(() => defineLayout("sz", [{ name: "p", bits: 8 }], { sizeBytes: 2 })).toThrow(/declared as 2/);
    expect(() => (Ipv4 as Layout).field("tll")).toThrow(/layout "ipv4" has no field "tll"/);
  });
});

describe("Layout access", () => {
  // Wikipedia's IPv4 header checksum example.
  const hdr = Uint8Array.from([
    0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
  ]);

  it("decodes a known IPv4 header", () => {
    expect(Ipv4.decode(hdr)).toEqual({
      version: 4,
      ihl: 5,
      dscp: 0,
      ecn: 0,
      totalLength: 0x73,
      identification: 0,
      flags: 2, // DF
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      headerChecksum: 0xb861,
      src: 0xc0a80001,
      dst: 0xc0a800c7,
    });
    expect(Ipv4.encode(Ipv4.decode(hdr))).toEqual(hdr);
  });

  it("reads and writes at an offset without touching neighbours", () => {
    const frame = new Uint8Array(14 + 20 + 4).fill(0xee);
    frame.set(hdr, 14);
    expect(Ipv4.get(frame, 14, "dst")).toBe(0xc0a800c7);
    Ipv4.set(frame, 14, "ttl", 63);
    Ipv4.set(frame, 14, "flags", 0);
    Ipv4.set(frame, 14, "fragmentOffset", 0x1fff);
    expect(Ipv4.get(frame, 14, "ttl")).toBe(63);
    expect(Ipv4.get(frame, 14, "flags")).toBe(0);
    expect(Ipv4.get(frame, 14, "fragmentOffset")).toBe(0x1fff);
    expect(frame[13]).toBe(0xee);
    expect(frame[34]).toBe(0xee);
    expect(Ipv4.getBig(frame, 14, "src")).toBe(0xc0a80001n);
  });

  it("round-trips encode/decode for odd bit widths (property)", () => {
    fc.assert(
      fc.property(arbRecordFor(Odd), fc.integer({ min: 0, max: 5 }), (rec, off) => {
        const buf = Odd.encode(rec as never, new Uint8Array(off + Odd.sizeBytes + 3), off);
        expect(Odd.decode(buf, off)).toEqual(rec);
      }),
    );
  });

  it("agrees with a bit-by-bit reference on random bytes, every path (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (buf) => {
        for (const layout of [Ipv4, Odd, Aligned] as Layout[]) {
          for (const f of layout.fields) {
            if (f.kind === "bytes") {
              expect(layout.getBytes(buf, 0, f.name)).toEqual(buf.slice(f.byteOffset, f.byteOffset + f.bits / 8));
            } else {
              const ref = refRead(buf, f.bitOffset, f.bits);
              expect(layout.getBig(buf, 0, f.name)).toBe(ref);
              if (f.kind === "uint") expect(layout.get(buf, 0, f.name)).toBe(Number(ref));
            }
          }
        }
      }),
    );
  });

  it("set changes only its own field's bits (property)", () => {
    const fields = Odd.fields.filter((f) => f.kind !== "bytes");
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.constantFrom(...fields),
        fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
        (orig, f, raw) => {
          const v = raw & ((1n << BigInt(f.bits)) - 1n);
          const buf = orig.slice();
          (Odd as Layout).set(buf, 0, f.name, f.kind === "uint" ? Number(v) : v);
          expect(refRead(buf, f.bitOffset, f.bits)).toBe(v);
          expect(refRead(buf, 0, f.bitOffset)).toBe(refRead(orig, 0, f.bitOffset));
          const after = f.bitOffset + f.bits;
          expect(refRead(buf, after, 256 - after)).toBe(refRead(orig, after, 256 - after));
        },
      ),
    );
  });

  it("carries byte-array and 64-bit fields", () => {
    const addr = Uint8Array.from({ length: 16 }, (_, i) => 0xf0 + i);
    const buf = Aligned.encode({ u64: 0xfedc_ba98_7654_3210n, u48: 0x1234_5678_9abcn, addr });
    const rec = Aligned.decode(buf);
    expect(rec.u64).toBe(0xfedc_ba98_7654_3210n);
    expect(rec.u48).toBe(0x1234_5678_9abcn);
    expect(rec.addr).toEqual(addr);
    expect(rec.u8).toBe(0);
    Aligned.setBytes(buf, 0, "addr", new Uint8Array(16));
    expect(Aligned.getBytes(buf, 0, "addr")).toEqual(new Uint8Array(16));
    Aligned.set(buf, 0, "u64", 5); // a safe-integer number is accepted for a bigint field
    expect(Aligned.getBig(buf, 0, "u64")).toBe(5n);
  });

  it("rejects values that do not fit, wrong kinds, typos and short buffers", () => {
    const buf = new Uint8Array(20);
    expect(() => Ipv4.set(buf, 0, "version", 16)).toThrow(/ipv4.version: value 16 does not fit in 4 unsigned bits/);
    expect(() => Ipv4.set(buf, 0, "ttl", -1)).toThrow(/does not fit/);
    expect(() => Ipv4.set(buf, 0, "ttl", 1.5)).toThrow(/does not fit/);
    expect(() => Odd.set(new Uint8Array(32), 0, "h", 1n << 64n)).toThrow(/odd.h: value .* does not fit in 64/);
    expect(() => Odd.get(new Uint8Array(32), 0, "h")).toThrow(/odd.h is a 64-bit bigint field; get cannot access it \(use getBig\/set\)/);
    expect(() => Aligned.setBytes(new Uint8Array(64), 0, "addr", new Uint8Array(4))).toThrow(/aligned.addr: needs 16 bytes, got 4/);
    expect(() => Ipv4.encode({ ttl: 1, tll: 2 } as never)).toThrow(/no field "tll"/);
    expect(() => Ipv4.get(new Uint8Array(30), 14, "dst")).toThrow(/ipv4.dst: field ends at byte 34 but the buffer has 30 bytes/);
    expect(() => Ipv4.decode(new Uint8Array(19))).toThrow(/ipv4: needs 20 bytes at offset 0/);
  });

  it("renders a field table", () => {
    expect(Ipv4.toString()).toContain("ipv4 (20 bytes)");
    expect(Ipv4.toString()).toMatch(/ttl\s+8\s+64\s+8/);
  });
});

describe("FieldAccessor", () => {
  it("reads and writes like get/set, with the same checks", () => {
    const buf = Uint8Array.from([0x45, 0, 0, 0x73, 0, 0, 0x40, 0, 0x40, 0x11, 0xb8, 0x61, 192, 168, 0, 1, 192, 168, 0, 199]);
    const ttl = Ipv4.accessor("ttl");
    const flags = Ipv4.accessor("flags");
    expect(ttl.get(buf, 0)).toBe(64);
    expect(flags.get(buf, 0)).toBe(2);
    expect(ttl.spec.byteOffset).toBe(8);
    ttl.set(buf, 0, 1);
    expect(Ipv4.get(buf, 0, "ttl")).toBe(1);
    expect(ttl.getBig(buf, 0)).toBe(1n);
    expect(() => ttl.get(buf, 12)).toThrow(/ipv4.ttl: field ends at byte 21 but the buffer has 20 bytes/);
    expect(() => ttl.set(buf, 0, 256)).toThrow(/does not fit in 8/);
    expect(() => Odd.accessor("h").get(new Uint8Array(32), 0)).toThrow(/use getBig/);
    expect(() => Aligned.accessor("addr")).toThrow(/aligned.addr is a 128-bit bytes field/);
  });
});

describe("FieldCodec", () => {
  /** a record's integer fields as codec slots: wider fields split into high bits and low 32 */
  function toSlots(layout: Layout, names: readonly string[], rec: Record<string, unknown>): number[] {
    const out: number[] = [];
    for (const n of names) {
      const f = layout.field(n);
      const v = rec[n] as number | bigint;
      if (f.kind === "uint") out.push(Number(v));
      else out.push(Number(BigInt(v) >> 32n), Number(BigInt(v) & 0xffff_ffffn));
    }
    return out;
  }

  it("writes what Layout.encode writes and reads what Layout.decode reads, every width and alignment (property)", () => {
    for (const layout of [Odd, Aligned, Ipv4] as Layout[]) {
      const names = layout.fields.filter((f) => f.kind !== "bytes").map((f) => f.name);
      const codec = layout.codec(names);
      fc.assert(
        fc.property(arbRecordFor(layout), fc.integer({ min: 0, max: 5 }), (rec, off) => {
          const want = layout.encode(rec as never, new Uint8Array(off + layout.sizeBytes), off);
          const got = new Uint8Array(off + layout.sizeBytes);
          // byte-array fields are not the codec's: copy them the checked way
          for (const f of layout.fields) if (f.kind === "bytes") layout.setBytes(got, off, f.name, rec[f.name] as Uint8Array);
          codec.write(got, off, toSlots(layout, names, rec));
          expect(got).toEqual(want);
          const back = new Float64Array(codec.slots);
          codec.read(want, off, back);
          expect(Array.from(back)).toEqual(toSlots(layout, names, layout.decode(want, off)));
        }),
        { numRuns: 50 },
      );
    }
  });

  it("touches only the chosen fields' bits, in the slot order given", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.integer({ min: 0, max: 0x7fff_ffff }), (orig, x) => {
        const codec = Odd.codec(["h", "c"]);
        expect(codec.slot).toEqual({ h: 0, c: 2 });
        const buf = orig.slice();
        codec.write(buf, 0, [x & 0xff, x, x & 0x7f]);
        const want = orig.slice();
        Odd.set(want, 0, "h", (BigInt(x & 0xff) << 32n) | BigInt(x));
        Odd.set(want, 0, "c", x & 0x7f);
        expect(buf).toEqual(want);
      }),
      { numRuns: 50 },
    );
  });

  it("reduces values modulo the slot width instead of range-checking them", () => {
    const codec = Ipv4.codec(["version", "ttl", "src"]);
    const buf = new Uint8Array(20);
    codec.write(buf, 0, [0x1f, 0x1ff, -1]);
    expect(Ipv4.get(buf, 0, "version")).toBe(0xf);
    expect(Ipv4.get(buf, 0, "ihl")).toBe(0);
    expect(Ipv4.get(buf, 0, "ttl")).toBe(0xff);
    expect(Ipv4.get(buf, 0, "src")).toBe(0xffff_ffff);
  });

  it("rejects byte-array fields, unknown and repeated names, and short buffers", () => {
    expect(() => Aligned.codec(["addr" as never])).toThrow(/aligned.addr is a 128-bit bytes field; codec cannot access it/);
    expect(() => Ipv4.codec(["tll" as never])).toThrow(/layout "ipv4" has no field "tll"/);
    expect(() => Ipv4.codec(["ttl", "ttl"])).toThrow(/codec names field "ttl" twice/);
    const codec = Ipv4.codec(["ttl", "dst"]);
    expect(() => codec.read(new Uint8Array(30), 14, [0, 0])).toThrow(/ipv4: the codec's fields end at byte 34 but the buffer has 30 bytes/);
    expect(() => codec.write(new Uint8Array(20), -1, [0, 0])).toThrow(/layout at offset -1/);
  });
});
