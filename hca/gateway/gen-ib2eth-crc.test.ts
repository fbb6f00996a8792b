import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32 } from "../../core/crc.ts";
import { Prng } from "../../core/prng.ts";
import { Bth } from "../headers/bth.ts";
import { Deth } from "../headers/deth.ts";
import { Ipoib } from "../headers/ipoib.ts";
import { Lrh } from "../headers/lrh.ts";
import { apply, applyRows, beatStep, bytesToBigLE, compose, identity, invert, power, zeroByteMatrix } from "../icrc/crc-matrix.ts";
import { appendIbCrcs, checkIbIcrc, checkVcrc, vcrc, VCRC_RESIDUE, vcrcUpdate } from "../ib/index.ts";
import {
  I2E_DATA_BYTES,
  I2E_INCLUDE_FILE,
  I2E_TABLE_FIELDS,
  I2E_VARIANT_BYTES,
  ib2ethRtlConstants,
  renderIb2ethInclude,
  vcrcBeatStep,
  vcrcZeroByteMatrix,
} from "./gen-ib2eth-crc.ts";
import { headerField, IB_HEADER_FIELDS, IB_OFF } from "./ib2eth.ts";
import { decodeTableEntry, encodeTableEntry, tableEntry, TableEntryLayout } from "./table.ts";

describe("rtl-models/gateway/gateway_ib2eth_crc.svh", () => {
  it("is what gen-ib2eth-crc.ts generates (run `npx tsx hca/gateway/gen-ib2eth-crc.ts` after changing a source)", () => {
    expect(readFileSync(I2E_INCLUDE_FILE, "utf8")).toBe(renderIb2ethInclude());
  });
});

/**
 * The RTL's input-side algorithm with the generated constants: both CRCs over the whole
 * packet in full-width beats (variant bits set for the CRC-32, lanes past tkeep zeroed),
 * the trailing zero lanes undone, then the two checks as gateway_ib2eth.sv makes them.
 */
function rtlChecks(packet: Uint8Array, db: number): { icrcOk: boolean; vcrcOk: boolean } {
  const k = ib2ethRtlConstants();
  const s32 = beatStep(db);
  const s16 = vcrcBeatStep(db);
  const variant = bytesToBigLE(k.variant);
  const w = BigInt(db * 8);
  const beats = Math.max(1, Math.ceil(packet.length / db));
  let c32 = 0xffffffff;
  let c16 = 0xffff;
  for (let b = 0; b < beats; b++) {
    const beat = new Uint8Array(db);
    beat.set(packet.subarray(b * db, Math.min(packet.length, (b + 1) * db)));
    const valid = Math.min(db, packet.length - b * db);
    const keep = (1n << BigInt(valid * 8)) - 1n;
    const d = bytesToBigLE(beat) & keep;
    const v = (variant >> (BigInt(b) * w)) & keep;
    c32 = (apply(s32.state, c32) ^ applyRows(s32.data, d | v)) >>> 0;
    c16 = (apply(s16.state, c16) ^ applyRows(s16.data, d)) & 0xffff;
  }
  const trailing = beats * db - packet.length;
  k.crc32Unshift.forEach((m, i) => {
    if ((trailing >> i) & 1) c32 = apply(m, c32);
  });
  k.crc16Unshift.forEach((m, i) => {
    if ((trailing >> i) & 1) c16 = apply(m, c16) & 0xffff;
  });
  const n = packet.length;
  const vBytes = BigInt(packet[n - 2] | (packet[n - 1] << 8));
  const syndrome = applyRows(k.icrcSyndrome, (vBytes << 32n) | BigInt(c32));
  return { icrcOk: syndrome === k.icrcResidue, vcrcOk: c16 === k.vcrcResidue };
}

/** The FCS path: CRC-32 of a frame in full-width beats, trailing lanes undone, complemented. */
function rtlFcs(frame: Uint8Array, db: number): number {
  const k = ib2ethRtlConstants();
  const s32 = beatStep(db);
  const beats = Math.max(1, Math.ceil(frame.length / db));
  let c = 0xffffffff;
  for (let b = 0; b < beats; b++) {
    const beat = new Uint8Array(db);
    beat.set(frame.subarray(b * db, Math.min(frame.length, (b + 1) * db)));
    c = (apply(s32.state, c) ^ applyRows(s32.data, bytesToBigLE(beat))) >>> 0;
  }
  const trailing = beats * db - frame.length;
  k.crc32Unshift.forEach((m, i) => {
    if ((trailing >> i) & 1) c = apply(m, c);
  });
  return ~c >>> 0;
}

function randomPacket(p: Prng, len: number): Uint8Array {
  // LRH … pad of len - 6 bytes, then the two CRCs
  const body = p.bytes(len - 6);
  return appendIbCrcs(body);
}

describe("CRC-16/0x100B matrices (the VCRC of hca/ib)", () => {
  it("Z16 is one zero byte of vcrcUpdate and is invertible", () => {
    const z = vcrcZeroByteMatrix();
    expect(compose(z, invert(z))).toEqual(identity());
    const p = new Prng("z16");
    for (let t = 0; t < 16; t++) {
      const s = p.u32() & 0xffff;
      expect(apply(z, s) & 0xffff).toBe(vcrcUpdate(s, new Uint8Array(1)));
    }
  });

  it("the beat step equals vcrcUpdate byte by byte, at 8 and 64 bytes", () => {
    const p = new Prng("vcrc-beat");
    for (const db of I2E_DATA_BYTES) {
      const { state, data } = vcrcBeatStep(db);
      for (let t = 0; t < 8; t++) {
        const s = p.u32() & 0xffff;
        const beat = p.bytes(db);
        expect((apply(state, s) ^ applyRows(data, bytesToBigLE(beat))) & 0xffff, `width ${db}`).toBe(vcrcUpdate(s, beat));
      }
    }
  });

  it("the unshift tables hold Z^-1, Z^-2 … Z^-32 of both CRCs", () => {
    const k = ib2ethRtlConstants();
    const z32 = zeroByteMatrix();
    const z16 = vcrcZeroByteMatrix();
    expect(k.crc32Unshift).toHaveLength(6);
    k.crc32Unshift.forEach((m, i) => expect(compose(power(z32, 2 ** i), m)).toEqual(identity()));
    k.crc16Unshift.forEach((m, i) => expect(compose(power(z16, 2 ** i), m)).toEqual(identity()));
  });
});

describe("the RTL's checks with the generated constants agree with hca/ib on random packets", () => {
  for (const db of I2E_DATA_BYTES) {
    it(`at ${db} bytes per beat: good packets pass both, a flipped bit fails the CRC it hits`, () => {
      const p = new Prng(`ib2eth-crc-${db}`);
      for (let t = 0; t < 60; t++) {
        const len = t < 20 ? 38 + t : p.int(38, 600);
        const pkt = randomPacket(p, len);
        expect(checkIbIcrc(pkt) && checkVcrc(pkt)).toBe(true);
        expect(rtlChecks(pkt, db), `len ${len}`).toEqual({ icrcOk: true, vcrcOk: true });
        // corrupt one bit anywhere: the VCRC covers everything, the ICRC all but VL, BTH byte 4 and the VCRC
        const bad = pkt.slice();
        const bit = p.int(0, len * 8 - 1);
        bad[bit >>> 3] ^= 1 << (bit & 7);
        expect(rtlChecks(bad, db), `len ${len} bit ${bit}`).toEqual({ icrcOk: checkIbIcrc(bad), vcrcOk: checkVcrc(bad) });
      }
    });

    it(`at ${db} bytes per beat: the variant fields are not covered by the ICRC, only by the VCRC`, () => {
      const p = new Prng(`ib2eth-variant-${db}`);
      const pkt = randomPacket(p, 90);
      const bad = pkt.slice();
      bad[0] ^= 0xa0; // VL
      bad[IB_OFF.bth + 4] ^= 0xc1; // FECN, BECN, resv6
      expect(checkIbIcrc(bad)).toBe(true);
      expect(rtlChecks(bad, db)).toEqual({ icrcOk: true, vcrcOk: false });
      // with the VCRC fixed up, the packet is good again
      const n = bad.length;
      const v = vcrc(bad, n - 2);
      bad[n - 2] = v & 0xff;
      bad[n - 1] = v >>> 8;
      expect(rtlChecks(bad, db)).toEqual({ icrcOk: true, vcrcOk: true });
    });

    it(`at ${db} bytes per beat: the FCS path gives core/crc.ts crc32 for every length`, () => {
      const p = new Prng(`ib2eth-fcs-${db}`);
      for (let len = 60; len < 60 + 2 * db; len++) {
        const frame = p.bytes(len);
        expect(rtlFcs(frame, db), `len ${len}`).toBe(crc32(frame));
      }
    });
  }

  it("the VCRC residue is the register after a packet and its VCRC", () => {
    const pkt = randomPacket(new Prng("residue"), 50);
    expect(vcrcUpdate(0xffff, pkt)).toBe(VCRC_RESIDUE);
  });
});

describe("constants", () => {
  it("the ICRC variant mask is LRH.VL and BTH byte 4, nothing else", () => {
    const v = ib2ethRtlConstants().variant;
    expect(v).toHaveLength(I2E_VARIANT_BYTES);
    const expected = new Uint8Array(I2E_VARIANT_BYTES);
    expected[0] = 0xf0;
    expected[IB_OFF.bth + 4] = 0xff;
    expect(v).toEqual(expected);
  });

  it("the table entry fields the RTL reads sit where decodeTableEntry reads them", () => {
    const e = tableEntry({ index: 37, valid: true, ib: true, group: false, mac: 0x0a0b0c0d0e0f, lid: 0xbeef, qpn: 0x123456, sl: 9, port: 5, pkey: 0x8abc });
    const bytes = encodeTableEntry(e);
    const d = decodeTableEntry(bytes);
    const expected: Record<string, number> = { index: d.index, valid: +d.valid, ib: +d.ib, group: +d.group, mac: d.mac, lid: d.lid, qpn: d.qpn, port: d.port, pkey: d.pkey };
    for (const name of I2E_TABLE_FIELDS) {
      const f = TableEntryLayout.field(name);
      let v = 0;
      for (let b = f.bitOffset; b < f.bitOffset + f.bits; b++) v = v * 2 + ((bytes[b >>> 3] >>> (7 - (b & 7))) & 1);
      expect(v, name).toBe(expected[name]);
    }
  });

  it("header field offsets are the layouts' offsets plus the sum of the headers before", () => {
    expect(IB_OFF).toEqual({ lrh: 0, bth: 8, deth: 20, ipoib: 28, payload: 32 });
    const pkt = new Uint8Array(32);
    Lrh.encode({ vl: 3, sl: 5, lnh: 2, dlid: 0xc012, pktLen: 0x5a5, slid: 0x1234 }, pkt, IB_OFF.lrh);
    Bth.encode({ opcode: 0x64, padCount: 3, pkey: 0xffff, destQp: 0xabcdef }, pkt, IB_OFF.bth);
    Deth.encode({ qkey: 0x0b1b, srcQp: 0x123456 }, pkt, IB_OFF.deth);
    Ipoib.encode({ type: 0x86dd }, pkt, IB_OFF.ipoib);
    const expected: Record<string, number> = {
      lnh: 2, dlid: 0xc012, pkt_len: 0x5a5, slid: 0x1234, opcode: 0x64, pad_count: 3,
      pkey: 0xffff, dest_qp: 0xabcdef, qkey: 0x0b1b, src_qp: 0x123456, ether_type: 0x86dd,
    };
    for (const [name] of IB_HEADER_FIELDS) {
      const f = headerField(name);
      let v = 0;
      for (let b = f.bitOffset; b < f.bitOffset + f.bits; b++) v = v * 2 + ((pkt[b >>> 3] >>> (7 - (b & 7))) & 1);
      expect(v, name).toBe(expected[name]);
    }
  });
});
