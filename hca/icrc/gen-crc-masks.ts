/**
 * Generates rtl-models/icrc/icrc_tables.svh: every constant the icrc RTL needs, derived
 * from the same sources as the TypeScript model (core/crc.ts, hca/headers layouts,
 * ICRC_VARIANT_FIELDS), so the two cannot disagree:
 *  - the parallel CRC-32 step per data width, as masked reduction-XORs
 *    (`n[o] = ^(c & MASK) ^ ^(d & MASK)`, which Verilator evaluates word-wide), split
 *    into its register part (Z^N) and its data part;
 *  - Z^-1, Z^-2, … Z^-32, the inverses of shifting in zero bytes, to undo the zeroed
 *    trailing lanes of a partial last beat;
 *  - the frame start state, the residue, the per-byte masks of the covered and variant
 *    header fields, and the header byte offsets the classifier reads.
 *
 *   npx tsx hca/icrc/gen-crc-masks.ts        # rewrites the include file
 *
 * gen-crc-masks.test.ts regenerates in memory and fails if the committed file differs.
 */
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Ethernet, EtherType } from "../headers/ethernet.ts";
import { IpProtocol, Ipv4 } from "../headers/ipv4.ts";
import { Ipv6 } from "../headers/ipv6.ts";
import { ICRC_BYTES, ROCEV2_IPV4, ROCEV2_IPV6 } from "../headers/rocev2.ts";
import { ROCEV2_UDP_PORT, Udp } from "../headers/udp.ts";
import { apply, beatStep, invert, power, zeroByteMatrix, type Matrix32 } from "./crc-matrix.ts";
import { fieldMask, ICRC_RESIDUE, ICRC_SEED, icrcHeaderMask } from "./icrc.ts";

export const ICRC_INCLUDE_FILE = resolve(dirname(fileURLToPath(import.meta.url)), "../../rtl-models/icrc/icrc_tables.svh");

/** data widths the RTL supports (block.yaml `allowed`) */
export const ICRC_DATA_BYTES = [8, 16, 32, 64] as const;

/** the per-byte masks cover this many leading frame bytes (a multiple of every width, ≥ the IPv6 headers) */
const MASK_BYTES = 128;

/**
 * Header bytes the classifier reads, captured as they pass: [name, frame byte offset,
 * length]. Multi-byte fields are big-endian.
 */
const CLASSIFIER_FIELDS: readonly (readonly [string, number, number])[] = [
  ["ETHERTYPE", Ethernet.field("etherType").byteOffset, 2],
  ["IPV4_VERSION_IHL", ROCEV2_IPV4.ip + Ipv4.field("version").byteOffset, 1],
  ["IPV4_FLAGS_FRAGMENT", ROCEV2_IPV4.ip + Ipv4.field("reserved").byteOffset, 2],
  ["IPV4_PROTOCOL", ROCEV2_IPV4.ip + Ipv4.field("protocol").byteOffset, 1],
  ["IPV4_UDP_DST_PORT", ROCEV2_IPV4.udp + Udp.field("dstPort").byteOffset, 2],
  ["IPV6_VERSION", ROCEV2_IPV6.ip + Ipv6.field("version").byteOffset, 1],
  ["IPV6_NEXT_HEADER", ROCEV2_IPV6.ip + Ipv6.field("nextHeader").byteOffset, 1],
  ["IPV6_UDP_DST_PORT", ROCEV2_IPV6.udp + Udp.field("dstPort").byteOffset, 2],
];

const hex = (v: bigint | number, bits: number) => `${bits}'h${v.toString(16).padStart(bits / 4, "0")}`;

/** little-endian bytes → bigint with byte i at bits [8i +: 8] (the tdata lane order) */
function bytesToVector(bytes: Uint8Array): bigint {
  let v = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
  return v;
}

/** a MASK_BYTES-long frame-indexed mask with `mask` placed at `offset` */
function frameMask(mask: Uint8Array, offset: number): bigint {
  const frame = new Uint8Array(MASK_BYTES);
  frame.set(mask, offset);
  return bytesToVector(frame);
}

/**
 * The beat step as two functions, step(c, d) = icrc_zeros_N(c) ^ icrc_data_N(d): the RTL
 * evaluates the wide data part on input-only signals (see icrc.sv, "CRC over the beat").
 */
function stepFunctions(dataBytes: number): string[] {
  const w = dataBytes * 8;
  const { state, data } = beatStep(dataBytes);
  const lines = matrixFunction(`icrc_zeros_${dataBytes}`, `Z^${dataBytes}: the register after ${dataBytes} zero bytes`, state);
  const fn = `icrc_data_${dataBytes}`;
  lines.push(
    `// contribution of one ${dataBytes}-byte beat d (lane i at d[8i +: 8]) shifted into a zero register`,
    `function automatic [31:0] ${fn}(input [${w - 1}:0] d);`,
  );
  for (let o = 0; o < 32; o++) lines.push(`  ${fn}[${o}] = ^(d & ${hex(data[o], w)});`);
  lines.push("endfunction", "");
  return lines;
}

function matrixFunction(name: string, doc: string, m: Matrix32): string[] {
  const lines = [`// ${doc}`, `function automatic [31:0] ${name}(input [31:0] c);`];
  for (let o = 0; o < 32; o++) lines.push(`  ${name}[${o}] = ^(c & ${hex(m[o], 32)});`);
  lines.push("endfunction", "");
  return lines;
}

/** The constants the RTL uses, as values (the include file renders these; tests check them). */
export function icrcRtlConstants() {
  const zInv = invert(zeroByteMatrix());
  const ethBytes = Ethernet.sizeBytes;
  return {
    maskBytes: MASK_BYTES,
    // Zeroing the Ethernet header and starting from Z^-14·seed lands exactly on the
    // pseudo-LRH state when the first covered byte (the IP header) enters.
    frameSeed: apply(power(zInv, ethBytes), ICRC_SEED),
    uncovered: frameMask(new Uint8Array(ethBytes).fill(0xff), 0),
    variantV4: frameMask(icrcHeaderMask(4), ROCEV2_IPV4.ip),
    variantV6: frameMask(icrcHeaderMask(6), ROCEV2_IPV6.ip),
    ttlV4: frameMask(fieldMask(Ipv4, ["ttl"]), ROCEV2_IPV4.ip),
    /** Z^-k for k = 1, 2, 4, … half the widest beat */
    unshift: Array.from({ length: Math.log2(Math.max(...ICRC_DATA_BYTES)) }, (_, i) => power(zInv, 2 ** i)),
    classifierFields: CLASSIFIER_FIELDS,
  };
}

export function renderIcrcInclude(): string {
  const k = icrcRtlConstants();
  const ethBytes = Ethernet.sizeBytes;
  const { frameSeed, uncovered, variantV4, variantV6, ttlV4 } = k;

  const capture: number[] = [];
  const captureIndex: string[] = [];
  for (const [name, offset, length] of CLASSIFIER_FIELDS) {
    captureIndex.push(`localparam integer ICRC_CAP_${name} = ${capture.length};  // frame byte ${offset}, ${length} byte${length > 1 ? "s" : ""}`);
    for (let i = 0; i < length; i++) capture.push(offset + i);
  }
  const captureVector = capture.reduceRight((v, off) => (v << 8n) | BigInt(off), 0n);

  const mb = MASK_BYTES * 8;
  const out: string[] = [
    "// Generated by hca/icrc/gen-crc-masks.ts from core/crc.ts, hca/headers and",
    "// ICRC_VARIANT_FIELDS (hca/icrc/icrc.ts). Do not edit: run",
    "//   npx tsx hca/icrc/gen-crc-masks.ts",
    "// hca/icrc/gen-crc-masks.test.ts fails when this file is stale.",
    "//",
    "// Included inside module icrc. Frame bytes are numbered from the Ethernet destination",
    "// MAC (untagged frames); byte i of a beat travels in lane i, tdata[8i +: 8].",
    "",
    "// ---- RoCEv2 frame facts (IBTA Annex A17): untagged Ethernet II, IPv4/IPv6, UDP, BTH",
    `localparam integer ICRC_HDR_BYTES_IPV4 = ${ROCEV2_IPV4.afterBth};  // Ethernet through BTH`,
    `localparam integer ICRC_HDR_BYTES_IPV6 = ${ROCEV2_IPV6.afterBth};`,
    `localparam integer ICRC_BYTES = ${ICRC_BYTES};`,
    `localparam integer ICRC_ETH_BYTES = ${ethBytes};  // not covered by the ICRC`,
    `localparam [15:0] ICRC_ETHERTYPE_IPV4 = ${hex(EtherType.ipv4, 16)};`,
    `localparam [15:0] ICRC_ETHERTYPE_IPV6 = ${hex(EtherType.ipv6, 16)};`,
    `localparam [7:0] ICRC_IP_PROTOCOL_UDP = 8'd${IpProtocol.udp};`,
    `localparam [15:0] ICRC_ROCEV2_UDP_PORT = 16'd${ROCEV2_UDP_PORT};`,
    "",
    "// ---- header bytes the classifier reads: entry k of the capture is frame byte",
    "// ICRC_CAPTURE_OFFSETS[8k +: 8]; a field starts at entry ICRC_CAP_<name>, MSB byte first",
    `localparam integer ICRC_CAPTURE_BYTES = ${capture.length};`,
    `localparam [${capture.length * 8 - 1}:0] ICRC_CAPTURE_OFFSETS = ${hex(captureVector, capture.length * 8)};`,
    ...captureIndex,
    "",
    "// ---- CRC-32 (IEEE 802.3, reflected) register constants",
    `// start of frame: Z^-${ethBytes} applied to the register after the pseudo LRH (8 x 0xFF),`,
    `// so that after the ${ethBytes} zeroed Ethernet header bytes the register holds that state`,
    `localparam [31:0] ICRC_FRAME_SEED = ${hex(frameSeed, 32)};`,
    "// register after a frame and its correct ICRC (the CRC-32 residue)",
    `localparam [31:0] ICRC_RESIDUE = ${hex(ICRC_RESIDUE, 32)};`,
    "",
    `// ---- per-bit masks over the first ${MASK_BYTES} frame bytes (byte i at [8i +: 8])`,
    `localparam integer ICRC_MASK_BYTES = ${MASK_BYTES};`,
    "// not covered by the ICRC: zeroed before the CRC (the frame seed accounts for them)",
    `localparam [${mb - 1}:0] ICRC_UNCOVERED = ${hex(uncovered, mb)};`,
    "// variant fields, forced to ones (IPv4: TOS, TTL, header checksum; IPv6: traffic class,",
    "// flow label, hop limit; UDP checksum; BTH FECN/BECN/resv6)",
    `localparam [${mb - 1}:0] ICRC_VARIANT_IPV4 = ${hex(variantV4, mb)};`,
    `localparam [${mb - 1}:0] ICRC_VARIANT_IPV6 = ${hex(variantV6, mb)};`,
    "// the IPv4 TTL alone (the HCASIM_DEFECT_SKIP_TTL_MASK defect leaves it unmasked)",
    `localparam [${mb - 1}:0] ICRC_IPV4_TTL = ${hex(ttlV4, mb)};`,
    "",
  ];
  for (const db of ICRC_DATA_BYTES) out.push(...stepFunctions(db));
  k.unshift.forEach((m, i) => {
    const n = 2 ** i;
    out.push(...matrixFunction(`icrc_unshift_${n}`, `Z^-${n}: undoes ${n} trailing zero byte${n > 1 ? "s" : ""}`, m));
  });
  return out.join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeFileSync(ICRC_INCLUDE_FILE, renderIcrcInclude());
  console.log(`wrote ${ICRC_INCLUDE_FILE}`);
}
