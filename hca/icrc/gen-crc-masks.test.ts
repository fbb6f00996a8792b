import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32Update } from "../../core/crc.ts";
import { Prng } from "../../core/prng.ts";
import { apply, applyRows, beatStep, bytesToBigLE, compose, identity, invert, power, zeroByteMatrix } from "./crc-matrix.ts";
import { ICRC_DATA_BYTES, ICRC_INCLUDE_FILE, icrcRtlConstants, renderIcrcInclude } from "./gen-crc-masks.ts";
import { computeIcrc, ICRC_RESIDUE } from "./icrc.ts";

describe("rtl-models/icrc/icrc_tables.svh", () => {
  it("is what gen-crc-masks.ts generates (run `npx tsx hca/icrc/gen-crc-masks.ts` after changing a source)", () => {
    expect(readFileSync(ICRC_INCLUDE_FILE, "utf8")).toBe(renderIcrcInclude());
  });
});

describe("CRC matrices", () => {
  it("Z^-1 inverts Z, and the unshift table holds Z^-1, Z^-2, Z^-4 … Z^-32", () => {
    const z = zeroByteMatrix();
    expect(compose(z, invert(z))).toEqual(identity());
    const k = icrcRtlConstants();
    expect(k.unshift).toHaveLength(6);
    k.unshift.forEach((m, i) => expect(compose(power(z, 2 ** i), m)).toEqual(identity()));
  });

  it("the beat step equals shifting the bytes in one by one, at every width", () => {
    const p = new Prng("beat-step");
    for (const db of ICRC_DATA_BYTES) {
      const { state, data } = beatStep(db);
      for (let t = 0; t < 8; t++) {
        const c = p.u32();
        const beat = p.bytes(db);
        expect(apply(state, c) ^ dataTerm(data, beat), `width ${db}`).toBe(crc32Update(c, beat) | 0);
      }
    }
  });

  it("the header masks are disjoint and cover what the model masks", () => {
    const k = icrcRtlConstants();
    expect(k.uncovered & k.variantV4).toBe(0n);
    expect(k.uncovered & k.variantV6).toBe(0n);
    expect(k.ttlV4 & ~k.variantV4).toBe(0n);
    expect(k.uncovered).toBe((1n << 112n) - 1n); // the 14 Ethernet header bytes
  });
});

/**
 * The RTL's algorithm, with the generated constants: zero the Ethernet lanes, set the
 * variant bits, zero lanes past the end, full-width step per beat from the frame seed,
 * then undo the trailing zero lanes. Returns the register over the frame's bytes.
 */
function rtlRegister(frame: Uint8Array, db: number): number {
  const k = icrcRtlConstants();
  const { state, data } = beatStep(db);
  const isV6 = frame[12] === 0x86 && frame[13] === 0xdd;
  const variant = isV6 ? k.variantV6 : k.variantV4;
  const w = BigInt(db * 8);
  const beats = Math.max(1, Math.ceil(frame.length / db));
  let crc = k.frameSeed;
  for (let b = 0; b < beats; b++) {
    const beat = new Uint8Array(db);
    beat.set(frame.subarray(b * db, Math.min(frame.length, (b + 1) * db)));
    const window = (m: bigint) => (m >> (BigInt(b) * w)) & ((1n << w) - 1n);
    const valid = Math.min(db, frame.length - b * db);
    const keep = (1n << BigInt(valid * 8)) - 1n;
    const d = ((bytesToBigLE(beat) | window(variant)) & ~window(k.uncovered)) & keep;
    crc = (apply(state, crc) ^ applyRows(data, d)) >>> 0;
  }
  const trailing = beats * db - frame.length;
  k.unshift.forEach((m, i) => {
    if ((trailing >> i) & 1) crc = apply(m, crc);
  });
  return crc;
}

describe("the RTL algorithm with the generated constants", () => {
  // the reference vectors: IPv4 and IPv6, 54 to 4150 bytes
  const frames: Uint8Array[] = JSON.parse(readFileSync(new URL("./testdata/roce_icrc.json", import.meta.url), "utf8")).vectors.map(
    (v: { frame_without_icrc: string }) => Uint8Array.from(v.frame_without_icrc.match(/../g)!.map((b) => parseInt(b, 16))),
  );
  for (const db of ICRC_DATA_BYTES) {
    it(`gives the model's ICRC, and the residue over frame + ICRC, at ${db} bytes per beat`, () => {
      for (const frame of frames) {
        const icrc = computeIcrc(frame);
        expect(~rtlRegister(frame, db) >>> 0).toBe(icrc);
        const withIcrc = new Uint8Array([...frame, icrc & 0xff, (icrc >>> 8) & 0xff, (icrc >>> 16) & 0xff, icrc >>> 24]);
        expect(rtlRegister(withIcrc, db)).toBe(ICRC_RESIDUE);
      }
    });
  }
});

function dataTerm(rows: bigint[], beat: Uint8Array): number {
  return applyRows(rows, bytesToBigLE(beat));
}
