/**
 * Generates rtl-models/gateway/gateway_ib2eth_crc.svh: every constant the IB → Ethernet
 * RTL (gateway_ib2eth.sv) needs, derived from the same sources as the TypeScript model
 * (core/crc.ts, hca/ib/ib-crc.ts, the header layouts), so the two cannot disagree:
 *  - CRC-32 (IEEE 802.3, reflected), used twice: to check the IB ICRC and to generate the
 *    Ethernet FCS. A full-beat step for DATA_BYTES 8 and 64 as masked reduction-XORs
 *    (`n[o] = ^(c & MASK) ^ ^(d & MASK)`, which Verilator evaluates word-wide), split
 *    into its register part (Z^N) and its data part, and Z^-1, Z^-2, … Z^-32, the inverses
 *    of shifting in zero bytes, which undo the zeroed trailing lanes of a partial last beat.
 *  - CRC-16/0x100B (the IB VCRC, bit order of hca/ib vcrc()): the same set of functions.
 *  - the ICRC check: the RTL runs the CRC-32 over the whole packet, VCRC included, and
 *    checks i2e_icrc_syndrome({vcrc bytes, register}) == I2E_ICRC_RESIDUE, which removes
 *    the two VCRC bytes again (Z^-2 · (R ⊕ B2·v)) so the ICRC never has to be located;
 *  - the ICRC variant-field mask (LRH.VL, BTH FECN/BECN/resv6) and the residues;
 *  - one extraction function per header field the RTL reads (offsets from the layouts).
 *
 *   npx tsx hca/gateway/gen-ib2eth-crc.ts        # rewrites the include file
 *
 * gen-ib2eth-crc.test.ts regenerates in memory and fails if the committed file differs.
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { crc32Update } from "../../core/crc.ts";
import { Bth } from "../headers/bth.ts";
import { Ipoib } from "../headers/ipoib.ts";
import { Lrh } from "../headers/lrh.ts";
import { fieldMask } from "../icrc/icrc.ts";
import { beatStep, compose, identity, invert, power, zeroByteMatrix, type Matrix32 } from "../icrc/crc-matrix.ts";
import { vcrcUpdate, VCRC_RESIDUE } from "../ib/index.ts";
import { Lnh, MULTICAST_LID_BASE } from "../headers/lrh.ts";
import {
  ETH_HDR_BYTES,
  ETH_MIN_BYTES,
  headerField,
  I2E_DESC_DEPTH,
  IB_HDR_BYTES,
  IB_HEADER_FIELDS,
  IB_MIN_BYTES,
  IB_OFF,
  IPOIB_TO_ETH_SHIFT,
  UD_SEND_ONLY,
} from "./ib2eth.ts";
import { MULTICAST_QPN, QKEY, TABLE_ENTRY_BYTES, TableEntryLayout } from "./table.ts";

export const I2E_INCLUDE_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../rtl-models/gateway/gateway_ib2eth_crc.svh");

/** data widths the RTL supports */
export const I2E_DATA_BYTES = [8, 64] as const;

/** the ICRC variant mask spans this many leading packet bytes (a multiple of 8, ≥ BTH byte 4) */
export const I2E_VARIANT_BYTES = 16;

/** the CRC-32 register after a correct frame and its CRC, LSB first (Ethernet, ICRC) */
export const CRC32_RESIDUE = 0xdebb20e3;

const hex = (v: bigint | number, bits: number) => `${bits}'h${v.toString(16).padStart(Math.ceil(bits / 4), "0")}`;

// ---- CRC-16/0x100B as GF(2) matrices ------------------------------------------------
// A 16-bit register map is kept in a Matrix32 (crc-matrix.ts) with the identity on bits
// 16..31, so compose, power and invert apply unchanged; rows 0..15 only touch bits 0..15.

/** Z16: the VCRC register map of one zero byte */
export function vcrcZeroByteMatrix(): Matrix32 {
  const m = identity();
  for (let o = 0; o < 16; o++) m[o] = 0;
  const zero = new Uint8Array(1);
  for (let i = 0; i < 16; i++) {
    const r = vcrcUpdate(1 << i, zero);
    for (let o = 0; o < 16; o++) if ((r >>> o) & 1) m[o] |= 1 << i;
  }
  return m;
}

/** The VCRC update over one beat: state rows (Z16^dataBytes) and data rows over dataBytes*8 bits. */
export function vcrcBeatStep(dataBytes: number): { state: Matrix32; data: bigint[] } {
  const state = power(vcrcZeroByteMatrix(), dataBytes);
  const data: bigint[] = new Array(16).fill(0n);
  const beat = new Uint8Array(dataBytes);
  for (let j = 0; j < dataBytes * 8; j++) {
    beat.fill(0);
    beat[j >>> 3] = 1 << (j & 7);
    const r = vcrcUpdate(0, beat);
    for (let o = 0; o < 16; o++) if ((r >>> o) & 1) data[o] |= 1n << BigInt(j);
  }
  return { state, data };
}

/** the CRC-32 register map of two bytes v (v[7:0] first) shifted into a zero register, as 32 rows over 16 bits */
function crc32TwoBytes(): Matrix32 {
  const m = new Uint32Array(32);
  for (let j = 0; j < 16; j++) {
    const r = crc32Update(0, Uint8Array.of(j < 8 ? 1 << j : 0, j >= 8 ? 1 << (j - 8) : 0));
    for (let o = 0; o < 32; o++) if ((r >>> o) & 1) m[o] |= 1 << j;
  }
  return m;
}

/** The constants the RTL uses, as values (the include file renders these; tests check them). */
export function ib2ethRtlConstants() {
  const zInv = invert(zeroByteMatrix());
  const z16Inv = invert(vcrcZeroByteMatrix());
  const levels = Math.log2(Math.max(...I2E_DATA_BYTES));
  // the ICRC variant fields, forced to ones before the CRC (IBTA §7.8.1)
  const variant = new Uint8Array(I2E_VARIANT_BYTES);
  variant.set(fieldMask(Lrh, ["vl"]), IB_OFF.lrh);
  fieldMask(Bth, ["fecn", "becn", "resv6"]).forEach((m, i) => (variant[IB_OFF.bth + i] |= m));
  // ICRC check: register over packet minus its VCRC = Z^-2 · (R ⊕ B2·v)
  const zInv2 = power(zInv, 2);
  const syndromeV = compose(zInv2, crc32TwoBytes());
  return {
    variant,
    crc32Unshift: Array.from({ length: levels }, (_, i) => power(zInv, 2 ** i)),
    crc16Unshift: Array.from({ length: levels }, (_, i) => power(z16Inv, 2 ** i)),
    /** i2e_icrc_syndrome row o: bits 0..31 over the register, 32..47 over the VCRC bytes */
    icrcSyndrome: Array.from({ length: 32 }, (_, o) => (BigInt(syndromeV[o]) << 32n) | BigInt(zInv2[o])),
    icrcResidue: CRC32_RESIDUE,
    vcrcResidue: VCRC_RESIDUE,
  };
}

function bytesToVector(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

function matrixFunction(name: string, doc: string, m: Matrix32, bits: number): string[] {
  const lines = [`// ${doc}`, `function automatic [${bits - 1}:0] ${name}(input [${bits - 1}:0] c);`];
  for (let o = 0; o < bits; o++) lines.push(`  ${name}[${o}] = ^(c & ${hex(bits === 32 ? m[o] >>> 0 : m[o] & 0xffff, bits)});`);
  lines.push("endfunction", "");
  return lines;
}

function dataFunction(name: string, doc: string, rows: bigint[], inBits: number): string[] {
  const lines = [`// ${doc}`, `function automatic [${rows.length - 1}:0] ${name}(input [${inBits - 1}:0] d);`];
  rows.forEach((r, o) => lines.push(`  ${name}[${o}] = ^(d & ${hex(r, inBits)});`));
  lines.push("endfunction", "");
  return lines;
}

/** table entry fields the RTL reads (table.ts layout) */
export const I2E_TABLE_FIELDS = ["index", "valid", "ib", "group", "mac", "lid", "qpn", "port", "pkey"] as const;

/** `h[8*b +: 8]` concatenated MSB byte first, shifted and cut to the field */
function fieldFunction(prefix: string, name: string, bitOffset: number, bits: number, inBytes: number): string[] {
  const first = bitOffset >>> 3;
  const last = (bitOffset + bits - 1) >>> 3;
  const bytes: string[] = [];
  for (let b = first; b <= last; b++) bytes.push(`h[${8 * b} +: 8]`);
  const spanBits = (last - first + 1) * 8;
  const shift = (last + 1) * 8 - (bitOffset + bits);
  const expr = bytes.length === 1 ? bytes[0] : `{${bytes.join(", ")}}`;
  const body = shift === 0 && spanBits === bits ? expr : `${bits}'(${spanBits}'(${expr}) >> ${shift})`;
  return [
    `function automatic [${bits - 1}:0] ${prefix}_${name}(input [${inBytes * 8 - 1}:0] h);  // bits ${bitOffset}..${bitOffset + bits - 1}`,
    `  ${prefix}_${name} = ${body};`,
    "endfunction",
  ];
}

export function renderIb2ethInclude(): string {
  const k = ib2ethRtlConstants();
  const vb = I2E_VARIANT_BYTES * 8;
  const out: string[] = [
    "// Generated by hca/gateway/gen-ib2eth-crc.ts from core/crc.ts, hca/ib/ib-crc.ts and",
    "// the header layouts (hca/headers). Do not edit: run",
    "//   npx tsx hca/gateway/gen-ib2eth-crc.ts",
    "// hca/gateway/gen-ib2eth-crc.test.ts fails when this file is stale.",
    "//",
    "// Included inside module gateway_ib2eth. Bytes are numbered from the first byte of a",
    "// packet (or frame); byte i of a beat travels in lane i, tdata[8i +: 8].",
    "",
    "// ---- formats (hca/gateway/ib2eth.ts, table.ts)",
    `localparam integer I2E_HDR_BYTES = ${IB_HDR_BYTES};  // LRH, BTH, DETH, IPoIB`,
    `localparam integer I2E_IB_MIN_BYTES = ${IB_MIN_BYTES};  // headers, ICRC, VCRC`,
    `localparam integer I2E_IPOIB_BYTES = ${Ipoib.sizeBytes};`,
    `localparam integer I2E_ETH_HDR_BYTES = ${ETH_HDR_BYTES};`,
    `localparam integer I2E_ETH_MIN_BYTES = ${ETH_MIN_BYTES};  // padded to this before the FCS`,
    `localparam integer I2E_SHIFT = ${IPOIB_TO_ETH_SHIFT};  // output byte j >= I2E_ETH_HDR_BYTES is input byte j + I2E_SHIFT`,
    `localparam integer I2E_DESC_DEPTH = ${I2E_DESC_DEPTH};`,
    `localparam [1:0] I2E_LNH_IBA_LOCAL = 2'd${Lnh.ibaLocal};`,
    `localparam [15:0] I2E_MULTICAST_LID_BASE = ${hex(MULTICAST_LID_BASE, 16)};`,
    `localparam [7:0] I2E_UD_SEND_ONLY = ${hex(UD_SEND_ONLY, 8)};`,
    `localparam [23:0] I2E_MULTICAST_QPN = ${hex(MULTICAST_QPN, 24)};`,
    `localparam [31:0] I2E_QKEY = ${hex(QKEY, 32)};`,
    "",
    "// ---- header fields, from the first I2E_HDR_BYTES packet bytes h (byte i at h[8i +: 8])",
    "/* verilator lint_off UNUSEDSIGNAL */  // each function reads its field's bits only",
  ];
  for (const [name] of IB_HEADER_FIELDS) {
    const f = headerField(name);
    out.push(...fieldFunction("i2e_hdr", name, f.bitOffset, f.bits, IB_HDR_BYTES));
  }
  out.push("", `// ---- forwarding table entry fields, from one ${TABLE_ENTRY_BYTES}-byte s_cfg_axis beat e`);
  for (const name of I2E_TABLE_FIELDS) {
    const f = TableEntryLayout.field(name);
    out.push(...fieldFunction("i2e_cfg", name, f.bitOffset, f.bits, TABLE_ENTRY_BYTES));
  }
  out.push("/* verilator lint_on UNUSEDSIGNAL */");
  out.push(
    "",
    "// ---- CRC-32 (IEEE 802.3, reflected): ICRC check and FCS generation",
    `// ICRC variant fields (LRH.VL, BTH FECN/BECN/resv6) over the first ${I2E_VARIANT_BYTES} packet bytes, forced to ones`,
    `localparam integer I2E_VARIANT_BYTES = ${I2E_VARIANT_BYTES};`,
    `localparam [${vb - 1}:0] I2E_ICRC_VARIANT = ${hex(bytesToVector(k.variant), vb)};`,
    "// register after a frame and its correct CRC-32, LSB first",
    `localparam [31:0] I2E_ICRC_RESIDUE = ${hex(k.icrcResidue, 32)};`,
    "// register after a packet and its correct VCRC, LSB first",
    `localparam [15:0] I2E_VCRC_RESIDUE = ${hex(k.vcrcResidue, 16)};`,
    "",
    "// ICRC check: x = {VCRC bytes (first byte in [7:0]), CRC-32 register over the whole packet};",
    "// equals I2E_ICRC_RESIDUE when the ICRC is right (the VCRC bytes are taken out again)",
    ...dataFunction("i2e_icrc_syndrome", "Z^-2 · (register ⊕ B2·vcrc)", k.icrcSyndrome, 48),
  );
  for (const db of I2E_DATA_BYTES) {
    const w = db * 8;
    const s32 = beatStep(db);
    // the variant bits live in the first I2E_VARIANT_BYTES bytes: a narrow copy of the data rows
    const lowBeats = Math.ceil(I2E_VARIANT_BYTES / db);
    const lowBits = Math.min(w, I2E_VARIANT_BYTES * 8);
    const lowMask = (1n << BigInt(lowBits)) - 1n;
    if (lowBeats === 1 && lowBits < w) {
      out.push(...dataFunction(`i2e_crc32_data_${db}_head`, `i2e_crc32_data_${db} of a beat that is zero past its first ${lowBits / 8} bytes`, s32.data.map((r) => r & lowMask), lowBits));
    }
    out.push(...matrixFunction(`i2e_crc32_zeros_${db}`, `CRC-32 Z^${db}: the register after ${db} zero bytes`, s32.state, 32));
    out.push(...dataFunction(`i2e_crc32_data_${db}`, `CRC-32 of one ${db}-byte beat d (lane i at d[8i +: 8]) shifted into a zero register`, s32.data, w));
    const s16 = vcrcBeatStep(db);
    out.push(...matrixFunction(`i2e_crc16_zeros_${db}`, `VCRC Z^${db}: the register after ${db} zero bytes`, s16.state, 16));
    out.push(...dataFunction(`i2e_crc16_data_${db}`, `VCRC of one ${db}-byte beat d shifted into a zero register`, s16.data, w));
  }
  k.crc32Unshift.forEach((m, i) => out.push(...matrixFunction(`i2e_crc32_unshift_${2 ** i}`, `CRC-32 Z^-${2 ** i}: undoes ${2 ** i} trailing zero byte(s)`, m, 32)));
  k.crc16Unshift.forEach((m, i) => out.push(...matrixFunction(`i2e_crc16_unshift_${2 ** i}`, `VCRC Z^-${2 ** i}: undoes ${2 ** i} trailing zero byte(s)`, m, 16)));
  return out.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(I2E_INCLUDE_FILE, renderIb2ethInclude());
  console.log(`wrote ${I2E_INCLUDE_FILE}`);
}
