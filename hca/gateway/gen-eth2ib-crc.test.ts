import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { crc32Update } from "../../core/crc.ts";
import { vcrcUpdate } from "../ib/index.ts";
import { ETH2IB_CRC_INCLUDE_FILE, icrcHeaderTerms, renderEth2IbCrcInclude } from "./gen-eth2ib-crc.ts";

/** evaluates a generated `name[o] = ^(d & MASK)` data function of the include on `beat` */
function evalDataFunction(text: string, name: string, beat: Uint8Array): number {
  let v = 0n;
  for (let i = beat.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(beat[i]);
  let out = 0;
  const re = new RegExp(`  ${name}\\[(\\d+)\\] = \\^\\(d & \\d+'h([0-9a-f]+)\\);`, "g");
  for (const m of text.matchAll(re)) {
    let x = v & BigInt(`0x${m[2]}`);
    let par = 0;
    while (x) {
      par ^= Number(x & 1n);
      x >>= 1n;
    }
    out |= par << Number(m[1]);
  }
  return out >>> 0;
}

describe("gen-eth2ib-crc", () => {
  const text = renderEth2IbCrcInclude();

  it("the committed rtl-models/gateway/gateway_eth2ib_crc.svh is the generator's output", () => {
    expect(readFileSync(ETH2IB_CRC_INCLUDE_FILE, "utf8")).toBe(text);
  });

  it("the beat functions compute the same CRC steps as core/crc.ts and hca/ib", () => {
    const beat = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff);
    expect(evalDataFunction(text, "e2i_icrc_data_64", beat)).toBe(crc32Update(0, beat));
    expect(evalDataFunction(text, "e2i_vcrc_data_64", beat)).toBe(vcrcUpdate(0, beat));
    expect(evalDataFunction(text, "e2i_icrc_data_8", beat.subarray(0, 8))).toBe(crc32Update(0, beat.subarray(0, 8)));
    expect(evalDataFunction(text, "e2i_vcrc_data_8", beat.subarray(0, 8))).toBe(vcrcUpdate(0, beat.subarray(0, 8)));
  });

  it("has one ICRC variant term per header beat: VL in beat 0, BTH byte 4 in beat 1 (8-byte beats)", () => {
    const t8 = icrcHeaderTerms(8);
    expect(t8.length).toBe(4);
    expect(t8[0]).toBe(crc32Update(0, Uint8Array.of(0xf0, 0, 0, 0, 0, 0, 0, 0)));
    expect(t8[1]).toBe(crc32Update(0, Uint8Array.of(0, 0, 0, 0, 0xff, 0, 0, 0)));
    expect([t8[2], t8[3]]).toEqual([0, 0]);
    expect(icrcHeaderTerms(64).length).toBe(1);
  });
});
