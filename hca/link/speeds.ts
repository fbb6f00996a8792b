/**
 * Link speeds and what one frame costs on the wire, as data (DESIGN.md §6: line rates
 * count every byte the wire carries).
 *
 * Ethernet: the data rate is the MAC rate; every frame (FCS included, at least 64 bytes)
 * is preceded by preamble + SFD (8 bytes) and followed by the minimum inter-frame gap
 * (12 bytes): 20 bytes of link time per frame.
 *
 * InfiniBand: the data rate is the lane rate after line encoding times the lanes; each
 * packet (LRH … VCRC) costs its bytes plus a start and an end delimiter, rounded up to a
 * whole symbol time across the lanes, since a packet starts on lane 0. Flow-control
 * packets and skip ordered sets are not counted.
 */

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
/** the Ethernet frame check sequence [bytes] */
export const FCS_BYTES = 4;

/**
 * InfiniBand lane signalling rates [Gb/s] and the share of it that carries data (IBA
 * Vol 2): SDR/DDR/QDR 8b/10b; FDR/EDR 64b/66b; HDR PAM4 with 256b/257b transcoding and
 * RS(544,514) FEC, 514/544 × 256/257 = 16/17, so 50 Gb/s of data per 53.125 Gb/s lane.
 */
export const IB_SPEEDS = {
  SDR: { laneGbps: 2.5, encoding: 8 / 10 },
  DDR: { laneGbps: 5, encoding: 8 / 10 },
  QDR: { laneGbps: 10, encoding: 8 / 10 },
  FDR: { laneGbps: 14.0625, encoding: 64 / 66 },
  EDR: { laneGbps: 25.78125, encoding: 64 / 66 },
  HDR: { laneGbps: 53.125, encoding: 16 / 17 },
} as const;
export type IbSpeed = keyof typeof IB_SPEEDS;
export const IB_WIDTHS = { "1X": 1, "4X": 4, "8X": 8, "12X": 12 } as const;
export type IbWidth = keyof typeof IB_WIDTHS;

export interface IbLink {
  width: IbWidth;
  speed: IbSpeed;
}

/** data rate after line encoding [bit/s]: 4X SDR = 8 Gb/s, 4X EDR = 100 Gb/s, 4X HDR = 200 Gb/s */
export function ibDataRate(l: IbLink): number {
  const s = IB_SPEEDS[l.speed];
  return IB_WIDTHS[l.width] * s.laneGbps * 1e9 * s.encoding;
}

/** IB start + end delimiter [bytes] */
export const IB_DELIMITER_BYTES = 2;

/**
 * Bytes of link time one IB packet (LRH … VCRC) occupies: the packet and its two
 * delimiters, rounded up to a whole symbol time across the lanes.
 */
export function ibWireBytes(packetBytes: number, l: IbLink): number {
  const lanes = IB_WIDTHS[l.width];
  return Math.ceil((packetBytes + IB_DELIMITER_BYTES) / lanes) * lanes;
}

/** Ethernet line rate in frames per second for frames of `frameBytes` (FCS included). */
export function ethernetLineFps(frameBytes: number, bps: number): number {
  return bps / ethernetWireBytes(frameBytes) / 8;
}

/** Bytes of link time one Ethernet frame (FCS included) occupies: padded to 64, plus 20. */
export function ethernetWireBytes(frameBytes: number): number {
  return Math.max(frameBytes, ETHERNET_MIN_FRAME) + ETHERNET_OVERHEAD_BYTES;
}

/** A link's speed: an Ethernet rate or an IB width and speed. */
export type LinkSpeed =
  | { readonly kind: "ethernet"; readonly name: EthernetSpeed }
  | { readonly kind: "ib"; readonly width: IbWidth; readonly speed: IbSpeed };

/**
 * A speed from its name: "100GbE", "25GbE", … or IB "4X EDR", "EDR" (4X), "12X QDR",
 * "IB 4X HDR". Throws, listing the known names, for anything else.
 */
export function linkSpeed(name: string | LinkSpeed): LinkSpeed {
  if (typeof name !== "string") return name;
  const s = name.trim();
  if (s in ETHERNET_SPEEDS) return { kind: "ethernet", name: s as EthernetSpeed };
  const m = /^(?:IB\s+)?(?:(1X|4X|8X|12X)\s*)?(SDR|DDR|QDR|FDR|EDR|HDR)$/i.exec(s);
  if (m) {
    const width = (m[1]?.toUpperCase() ?? "4X") as IbWidth;
    return { kind: "ib", width, speed: m[2]!.toUpperCase() as IbSpeed };
  }
  throw new RangeError(
    `unknown link speed "${name}" (known: ${Object.keys(ETHERNET_SPEEDS).join(", ")}; IB: [1X|4X|8X|12X] ${Object.keys(IB_SPEEDS).join("|")})`,
  );
}

/** "100GbE" or "4X EDR" */
export function linkSpeedName(s: LinkSpeed): string {
  return s.kind === "ethernet" ? s.name : `${s.width} ${s.speed}`;
}

/** the data rate of a link [bit/s] */
export function linkDataRate(s: LinkSpeed): number {
  return s.kind === "ethernet" ? ETHERNET_SPEEDS[s.name] : ibDataRate(s);
}

/**
 * Bytes of link time a frame occupies: an Ethernet frame from its destination MAC through
 * its FCS, or an IB packet from its LRH through its VCRC, plus the per-frame overhead.
 */
export function linkWireBytes(s: LinkSpeed, frameBytes: number): number {
  return s.kind === "ethernet" ? ethernetWireBytes(frameBytes) : ibWireBytes(frameBytes, s);
}
