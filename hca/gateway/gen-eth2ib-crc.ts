/**
 * Generates rtl-models/gateway/gateway_eth2ib_crc.svh: the CRC constants of the
 * Ethernet→IB direction (gateway_eth2ib.sv), derived from the same code as the twin
 * (core/crc.ts for the ICRC's CRC-32, hca/ib for the VCRC's CRC-16), so the two cannot
 * disagree:
 *  - per data width W: the parallel step of the ICRC (CRC-32) and of the VCRC (CRC-16)
 *    over one W-byte beat, split into register part (Z^W) and data part, written as
 *    masked reduction-XORs (`n[o] = ^(d & MASK)`, which Verilator evaluates word-wide);
 *  - the ICRC's variant-field term per header beat: the contribution of forcing LRH.VL
 *    and BTH byte 4 to ones (the gateway sends both as zero, so the forced bits are a
 *    constant XOR);
 *  - Z^-4, Z^-8, Z^-16, Z^-32 for both CRCs, to undo the zero lanes after the last
 *    covered byte (the covered length is a multiple of 4);
 *  - the VCRC register after the 4 ICRC bytes (LSB first) have been shifted in.
 *
 *   npx tsx hca/gateway/gen-eth2ib-crc.ts      # rewrites the include file
 *
 * gen-eth2ib-crc.test.ts regenerates in memory and fails if the committed file differs.
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32Update } from "../../core/crc.ts";
import { parity32 } from "../icrc/crc-matrix.ts";
import { vcrcUpdate } from "../ib/index.ts";
import { IB_HDR_BYTES } from "./eth2ib.ts";

export const ETH2IB_CRC_INCLUDE_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../rtl-models/gateway/gateway_eth2ib_crc.svh");

/** data widths the RTL supports */
export const ETH2IB_DATA_BYTES = [8, 64] as const;
/** trailing zero byte counts the RTL undoes (bits of a multiple of 4 below 64) */
const UNSHIFTS = [4, 8, 16, 32] as const;

/** A linear map of an n-bit register: rows[o] = mask of input bits feeding output bit o. */
type Rows = number[];


/** the rows of f over n state bits, probing unit vectors (f must be linear) */
function probe(n: number, f: (s: number) => number): Rows {
  const rows = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    const r = f((2 ** i) >>> 0);
    for (let o = 0; o < n; o++) if ((r >>> o) & 1) rows[o] = (rows[o] | (1 << i)) >>> 0;
  }
  return rows;
}

function applyRows(rows: Rows, s: number): number {
  let r = 0;
  for (let o = 0; o < rows.length; o++) r |= parity32(s & rows[o]) << o;
  return r >>> 0;
}

/** inverse by Gauss–Jordan elimination over GF(2) */
function invertRows(m: Rows): Rows {
  const n = m.length;
  const a = m.slice();
  const inv = Array.from({ length: n }, (_, i) => (1 << i) >>> 0);
  for (let col = 0; col < n; col++) {
    let pivot = -1;
    for (let r = col; r < n; r++) if ((a[r] >>> col) & 1) { pivot = r; break; }
    if (pivot < 0) throw new Error(`gen-eth2ib-crc: singular matrix (column ${col})`);
    [a[col], a[pivot]] = [a[pivot], a[col]];
    [inv[col], inv[pivot]] = [inv[pivot], inv[col]];
    for (let r = 0; r < n; r++) {
      if (r !== col && (a[r] >>> col) & 1) {
        a[r] = (a[r] ^ a[col]) >>> 0;
        inv[r] = (inv[r] ^ inv[col]) >>> 0;
      }
    }
  }
  return inv;
}

interface Crc {
  name: string;
  bits: number;
  /** raw register update (no init, no final complement) */
  update: (state: number, bytes: Uint8Array) => number;
}

const ICRC: Crc = { name: "icrc", bits: 32, update: (s, b) => crc32Update(s, b) };
const VCRC: Crc = { name: "vcrc", bits: 16, update: (s, b) => vcrcUpdate(s, b) };

/** data rows over `bytes`: bit j of the result mask = byte j>>3, bit j&7 (the tdata lane order) */
function dataRows(c: Crc, nBytes: number): bigint[] {
  const rows: bigint[] = new Array(c.bits).fill(0n);
  const beat = new Uint8Array(nBytes);
  for (let j = 0; j < nBytes * 8; j++) {
    beat.fill(0);
    beat[j >>> 3] = 1 << (j & 7);
    const r = c.update(0, beat);
    for (let o = 0; o < c.bits; o++) if ((r >>> o) & 1) rows[o] |= 1n << BigInt(j);
  }
  return rows;
}

const zeroRows = (c: Crc, n: number): Rows => probe(c.bits, (s) => c.update(s, new Uint8Array(n)));

const hex = (v: bigint | number, bits: number) => `${bits}'h${v.toString(16).padStart(Math.ceil(bits / 4), "0")}`;

function stateFunction(name: string, doc: string, bits: number, rows: Rows): string[] {
  const out = [`// ${doc}`, `function automatic [${bits - 1}:0] ${name}(input [${bits - 1}:0] c);`];
  for (let o = 0; o < bits; o++) out.push(`  ${name}[${o}] = ^(c & ${hex(rows[o], bits)});`);
  out.push("endfunction", "");
  return out;
}

function dataFunction(name: string, doc: string, bits: number, width: number, rows: bigint[]): string[] {
  const out = [`// ${doc}`, `function automatic [${bits - 1}:0] ${name}(input [${width - 1}:0] d);`];
  for (let o = 0; o < bits; o++) out.push(`  ${name}[${o}] = ^(d & ${hex(rows[o], width)});`);
  out.push("endfunction", "");
  return out;
}

/** The ICRC's variant bytes of the IB header, forced to ones: LRH.VL (byte 0, high nibble), BTH byte 4 (packet byte 12). */
export function icrcVariantMask(): Uint8Array {
  const m = new Uint8Array(IB_HDR_BYTES);
  m[0] = 0xf0;
  m[12] = 0xff;
  return m;
}

/** per header beat j of a W-byte datapath: the CRC-32 data term of the forced bits of that beat */
export function icrcHeaderTerms(dataBytes: number): number[] {
  const mask = icrcVariantMask();
  const beats = Math.ceil(IB_HDR_BYTES / dataBytes);
  const terms: number[] = [];
  for (let j = 0; j < beats; j++) {
    const beat = new Uint8Array(dataBytes);
    beat.set(mask.subarray(j * dataBytes, Math.min(IB_HDR_BYTES, (j + 1) * dataBytes)));
    terms.push(crc32Update(0, beat));
  }
  return terms;
}

export function renderEth2IbCrcInclude(): string {
  const out: string[] = [
    "// Generated by hca/gateway/gen-eth2ib-crc.ts from core/crc.ts (ICRC, CRC-32) and",
    "// hca/ib (VCRC, CRC-16/0x100B). Do not edit: run",
    "//   npx tsx hca/gateway/gen-eth2ib-crc.ts",
    "// hca/gateway/gen-eth2ib-crc.test.ts fails when this file is stale.",
    "//",
    "// Included inside module gateway_eth2ib. Both CRCs are reflected: register bit 0 is the",
    "// highest power, bytes enter LSB first; byte i of a beat is d[8i +: 8].",
    "",
  ];
  for (const w of ETH2IB_DATA_BYTES) {
    for (const c of [ICRC, VCRC]) {
      out.push(...stateFunction(`e2i_${c.name}_zeros_${w}`, `${c.name.toUpperCase()}: Z^${w}, the register after ${w} zero bytes`, c.bits, zeroRows(c, w)));
      out.push(
        ...dataFunction(
          `e2i_${c.name}_data_${w}`,
          `${c.name.toUpperCase()}: one ${w}-byte beat shifted into a zero register`,
          c.bits,
          w * 8,
          dataRows(c, w),
        ),
      );
    }
    const terms = icrcHeaderTerms(w);
    const vec = terms.reduceRight((v, t) => (v << 32n) | BigInt(t), 0n);
    out.push(
      `// ICRC term of the forced variant bits (LRH.VL, BTH byte 4) per ${w}-byte header beat j at [32j +: 32]`,
      `localparam integer E2I_HDR_BEATS_${w} = ${terms.length};`,
      `localparam [${terms.length * 32 - 1}:0] E2I_ICRC_HDR_TERM_${w} = ${hex(vec, terms.length * 32)};`,
      "",
    );
  }
  for (const c of [ICRC, VCRC]) {
    const zInv = invertRows(zeroRows(c, 1));
    for (const k of UNSHIFTS) {
      let m = probe(c.bits, (s) => s); // identity
      for (let i = 0; i < k; i++) {
        const mm = m;
        m = probe(c.bits, (s) => applyRows(zInv, applyRows(mm, s)));
      }
      out.push(...stateFunction(`e2i_${c.name}_unshift_${k}`, `${c.name.toUpperCase()}: Z^-${k}, undoes ${k} trailing zero bytes`, c.bits, m));
    }
  }
  // VCRC after the ICRC: Z16^4 · v ^ B16 · icrc (icrc bytes LSB first = lanes 0..3)
  const z4 = zeroRows(VCRC, 4);
  const b4 = dataRows(VCRC, 4);
  out.push(
    "// VCRC register after the 4 ICRC bytes (icrc[7:0] first) are shifted into v",
    "function automatic [15:0] e2i_vcrc_after_icrc(input [15:0] v, input [31:0] icrc);",
  );
  for (let o = 0; o < 16; o++) out.push(`  e2i_vcrc_after_icrc[${o}] = ^(v & ${hex(z4[o], 16)}) ^ ^(icrc & ${hex(b4[o], 32)});`);
  out.push("endfunction", "");
  return out.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(ETH2IB_CRC_INCLUDE_FILE, renderEth2IbCrcInclude());
  console.log(`wrote ${ETH2IB_CRC_INCLUDE_FILE}`);
}
