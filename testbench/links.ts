/**
 * Link speeds and per-frame wire overheads, as data (DESIGN.md §6: line rates count
 * every byte the wire carries).
 */
import { UserError } from "../cosim/index.ts";

/** Ethernet data rates [bit/s] */
export const ETHERNET_SPEEDS = {
  "1GbE": 1e9,
  "10GbE": 10e9,
  "25GbE": 25e9,
  "40GbE": 40e9,
  "100GbE": 100e9,
} as const;
export type EthernetSpeed = keyof typeof ETHERNET_SPEEDS;

/** preamble (7) + start-of-frame delimiter (1) + minimum inter-frame gap (12) [bytes] */
export const ETHERNET_OVERHEAD_BYTES = 20;
/** smallest frame on the wire, FCS included [bytes] */
export const ETHERNET_MIN_FRAME = 64;

/**
 * InfiniBand lane signalling rates [Gbaud] and line encodings (IBA Vol 2: SDR/DDR/QDR use
 * 8b/10b, FDR/EDR 64b/66b; HDR is 53.125 Gb/s per lane, PAM4, 64b/66b).
 */
export const IB_SPEEDS = {
  SDR: { laneGbps: 2.5, encoding: 8 / 10 },
  DDR: { laneGbps: 5, encoding: 8 / 10 },
  QDR: { laneGbps: 10, encoding: 8 / 10 },
  FDR: { laneGbps: 14.0625, encoding: 64 / 66 },
  EDR: { laneGbps: 25.78125, encoding: 64 / 66 },
  HDR: { laneGbps: 53.125, encoding: 64 / 66 },
} as const;
export type IbSpeed = keyof typeof IB_SPEEDS;
export const IB_WIDTHS = { "1X": 1, "4X": 4, "8X": 8, "12X": 12 } as const;
export type IbWidth = keyof typeof IB_WIDTHS;

export interface IbLink {
  width: IbWidth;
  speed: IbSpeed;
}

/** data rate after line encoding [bit/s]: 4X SDR = 8 Gb/s, 4X EDR = 100 Gb/s */
export function ibDataRate(l: IbLink): number {
  const s = IB_SPEEDS[l.speed];
  return IB_WIDTHS[l.width] * s.laneGbps * 1e9 * s.encoding;
}

/**
 * Bytes of link time one IB packet occupies: the packet, its start and end delimiters
 * (one byte-time each), rounded up to a whole symbol time across the lanes, since a packet
 * starts on lane 0. Flow-control packets and skip ordered sets are not counted.
 */
export function ibWireBytes(packetBytes: number, l: IbLink): number {
  const lanes = IB_WIDTHS[l.width];
  return Math.ceil((packetBytes + 2) / lanes) * lanes;
}

export function ethernetRate(speed: string, where: string): number {
  const r = ETHERNET_SPEEDS[speed as EthernetSpeed];
  if (r === undefined) throw new UserError(`${where}: unknown Ethernet speed "${speed}" (known: ${Object.keys(ETHERNET_SPEEDS).join(", ")})`);
  return r;
}

/** Ethernet line rate in frames per second for frames of `frameBytes` (FCS included). */
export function ethernetLineFps(frameBytes: number, bps: number): number {
  return bps / ((Math.max(frameBytes, ETHERNET_MIN_FRAME) + ETHERNET_OVERHEAD_BYTES) * 8);
}
