import { describe, it, expect } from "vitest";
import fc from "fast-check";
import {
  erfInfinibandRecord,
  erfTimestamp,
  LINKTYPE_ERF,
  PcapFormatError,
  PcapWriter,
  readErfHeader,
  readPcap,
} from "./pcap.ts";
import { fromHex, toHex } from "./hex.ts";

const frameA = fromHex("ffffffffffff 020000000001 0800 4500");
const frameB = new Uint8Array(100).map((_, i) => i);

describe("PcapWriter", () => {
  it("writes the classic little-endian nanosecond header", () => {
    const w = new PcapWriter();
    expect(toHex(w.header())).toBe(
      "4d3cb2a1" + "0200" + "0400" + "00000000" + "00000000" + "00000400" + "01000000",
    );
    expect(toHex(new PcapWriter(1, { nanosecond: false }).header()).slice(0, 8)).toBe("d4c3b2a1");
  });

  it("writes record headers: seconds, fraction, captured and original length", () => {
    const w = new PcapWriter(1, { snaplen: 8 });
    // 2 s + 123456789 ns + 999 ps: the picoseconds are truncated.
    const r = w.record(2_123_456_789_999, frameB);
    expect(toHex(r.subarray(0, 16))).toBe("02000000" + "15cd5b07" + "08000000" + "64000000");
    expect(r.length).toBe(16 + 8);
  });

  it("round-trips packets, timestamps and truncation (property)", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 10 ** 15 }), fc.uint8Array({ maxLength: 300 })), { maxLength: 20 }),
        (nanosecond, pkts) => {
          const w = new PcapWriter(LINKTYPE_ERF, { nanosecond, snaplen: 200 });
          for (const [t, data] of pkts) w.add(t, data);
          const bytes = w.toBytes();
          expect(bytes.length).toBe(w.byteLength);
          const f = readPcap(bytes, "rt.pcap");
          expect(f.linkType).toBe(LINKTYPE_ERF);
          expect(f.nanosecond).toBe(nanosecond);
          expect(f.snaplen).toBe(200);
          expect(f.byteOrder).toBe("little");
          expect(f.packets.length).toBe(pkts.length);
          f.packets.forEach((p, i) => {
            const [t, data] = pkts[i];
            const expectedNs = nanosecond ? Math.floor(t / 1000) : Math.floor(t / 1e6) * 1000;
            expect(p.timestampNs).toBe(expectedNs);
            expect(p.seconds * 1e9 + p.nanoseconds).toBe(expectedNs);
            expect(p.originalLength).toBe(data.length);
            expect(p.data).toEqual(data.subarray(0, 200));
          });
        },
      ),
    );
  });

  it("streams: header() followed by record()s equals toBytes()", () => {
    const w = new PcapWriter();
    w.add(1000, frameA);
    w.add(2000, frameB);
    const streamed = [w.header(), w.record(1000, frameA), w.record(2000, frameB)];
    const joined = new Uint8Array(streamed.reduce((n, b) => n + b.length, 0));
    let o = 0;
    for (const b of streamed) {
      joined.set(b, o);
      o += b.length;
    }
    expect(joined).toEqual(w.toBytes());
    expect(w.packetCount).toBe(2);
  });

  it("rejects bad timestamps and options", () => {
    expect(() => new PcapWriter().record(-1, frameA)).toThrow(/timestamp must be a whole number of picoseconds/);
    expect(() => new PcapWriter().record(1.5, frameA)).toThrow(/timestamp/);
    expect(() => new PcapWriter(1, { snaplen: 0 })).toThrow(/snaplen/);
  });
});

describe("readPcap", () => {
  /** a big-endian microsecond file with two packets, built by hand */
  function bigEndianFile(): Uint8Array {
    const out = new Uint8Array(24 + 16 + frameA.length + 16 + 3);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, 0xa1b2c3d4, false);
    dv.setUint16(4, 2, false);
    dv.setUint16(6, 4, false);
    dv.setUint32(16, 65535, false);
    dv.setUint32(20, 1, false);
    let o = 24;
    dv.setUint32(o, 7, false);
    dv.setUint32(o + 4, 250_000, false);
    dv.setUint32(o + 8, frameA.length, false);
    dv.setUint32(o + 12, frameA.length, false);
    out.set(frameA, o + 16);
    o += 16 + frameA.length;
    dv.setUint32(o, 8, false);
    dv.setUint32(o + 4, 1, false);
    dv.setUint32(o + 8, 3, false);
    dv.setUint32(o + 12, 60, false);
    out.set([1, 2, 3], o + 16);
    return out;
  }

  it("reads a file written in big-endian byte order", () => {
    const f = readPcap(bigEndianFile(), "be.pcap");
    expect(f.byteOrder).toBe("big");
    expect(f.nanosecond).toBe(false);
    expect(f.linkType).toBe(1);
    expect(f.snaplen).toBe(65535);
    expect(f.packets.map((p) => [p.timestampNs, p.originalLength, toHex(p.data)])).toEqual([
      [7_250_000_000, frameA.length, toHex(frameA)],
      [8_000_001_000, 60, "010203"],
    ]);
  });

  it("reads big-endian nanosecond files", () => {
    const bytes = bigEndianFile();
    new DataView(bytes.buffer).setUint32(0, 0xa1b23c4d, false);
    const f = readPcap(bytes);
    expect(f.nanosecond).toBe(true);
    expect(f.packets[0].timestampNs).toBe(7_000_250_000);
  });

  it("names the source, record and byte offset of a truncated packet", () => {
    const w = new PcapWriter();
    w.add(0, frameA);
    w.add(0, frameB);
    const bytes = w.toBytes();
    const second = 24 + 16 + frameA.length;
    const cut = bytes.subarray(0, second + 16 + 40);
    expect(() => readPcap(cut, "capture.pcap")).toThrow(
      `capture.pcap: record 2 at byte ${second}: truncated (needs 100 bytes, 40 left)`,
    );
    try {
      readPcap(cut, "capture.pcap");
    } catch (e) {
      expect(e).toBeInstanceOf(PcapFormatError);
      expect(e).toMatchObject({ source: "capture.pcap", record: 2, byteOffset: second });
    }
    expect(() => readPcap(bytes.subarray(0, second + 5), "capture.pcap")).toThrow(
      `capture.pcap: record 2 at byte ${second}: truncated record header (needs 16 bytes, 5 left)`,
    );
  });

  it("rejects a bad magic, a pcapng file, a short header and a bad version", () => {
    const bad = fromHex("12345678" + "00".repeat(20));
    expect(() => readPcap(bad, "x.pcap")).toThrow("x.pcap: not a pcap file (magic 0x12345678)");
    expect(() => readPcap(fromHex("0a0d0d0a" + "00".repeat(20)), "x.pcapng")).toThrow(/x.pcapng: this is a pcapng file/);
    expect(() => readPcap(new Uint8Array(2), "tiny")).toThrow("tiny: not a pcap file (only 2 bytes)");
    const header = new PcapWriter().header();
    expect(() => readPcap(header.subarray(0, 10), "h.pcap")).toThrow(
      "h.pcap: byte 0: truncated file header (needs 24 bytes, 10 present)",
    );
    const v3 = header.slice();
    v3[4] = 3;
    expect(() => readPcap(v3, "v.pcap")).toThrow(/v.pcap: byte 4: unsupported pcap version 3.4/);
  });

  it("accepts a file with no packets", () => {
    expect(readPcap(new PcapWriter().toBytes()).packets).toEqual([]);
  });
});

describe("ERF InfiniBand records", () => {
  const ib = fromHex("f0020001000e0002" + "6400ffff00000001"); // LRH + start of BTH

  it("lays out the 16-byte ERF header", () => {
    const r = erfInfinibandRecord(1_500_000_000_000, ib); // 1.5 s
    expect(toHex(r.subarray(0, 16))).toBe(
      "00000080" + "01000000" + // ts LE: fraction 0x80000000 (½ s), then 1 s
        "15" + "04" + // type 21 (InfiniBand), flags: varying length
        "0020" + // rlen = 16 + 16 (BE)
        "0000" + // lctr
        "0010", // wlen = 16 (BE)
    );
    expect(r.subarray(16)).toEqual(ib);
  });

  it("reads back type, lengths and a timestamp within ERF's 2^-32 s resolution", () => {
    for (const t of [0, 1, 232, 233, 999_999_999_999, 3_141_592_653_589]) {
      const h = readErfHeader(erfInfinibandRecord(t, ib));
      expect(h).toMatchObject({ type: 21, flags: 0x04, rlen: 32, lctr: 0, wlen: 16 });
      expect(Math.abs(h.timestampPs - t)).toBeLessThanOrEqual(233);
    }
    expect(erfTimestamp(2_000_000_000_000)).toBe(2n << 32n);
  });

  it("rejects packets too long for a 16-bit record length", () => {
    expect(() => erfInfinibandRecord(0, new Uint8Array(65520))).toThrow(/does not fit an ERF record/);
  });
});
