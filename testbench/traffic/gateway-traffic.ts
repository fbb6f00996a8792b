/**
 * Traffic for the gateway: the forwarding table it is programmed with, Ethernet frames
 * from every port toward IB hosts and IB packets toward Ethernet hosts, each paced at a
 * share of its link's line rate. Every frame carries a tag (magic + sequence number) in
 * its UDP payload, so the report can match each output to its input for latency.
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import { Bth, Deth, Ethernet, Ipoib, Ipv4, ipv4HeaderChecksum, Lrh, Udp } from "../../hca/index.ts";
import { appendIbCrcs, vcrc, encodeTableEntry, MULTICAST_QPN, QKEY, tableEntry, type TableEntry } from "../../hca/index.ts";
import { ETHERNET_OVERHEAD_BYTES, ibWireBytes, type IbLink } from "../links.ts";

export const TAG_MAGIC = 0x48434757; // "HCGW"
const TAG_BYTES = 8;
const IP_UDP_BYTES = Ipv4.sizeBytes + Udp.sizeBytes;
/** Ethernet header + FCS around the IP packet [bytes] */
const ETH_FRAME_EXTRA = Ethernet.sizeBytes + 4;

export interface GatewayTrafficConfig {
  seed: number;
  ethPorts: number;
  /** Ethernet data rate per port [bit/s] */
  ethBps: number;
  ib: IbLink;
  ibBps: number;
  clockMhz: number;
  /** Ethernet frame size on the wire, FCS included [bytes]; ≥ 64 */
  frameBytes: number;
  /** how long the sources offer traffic [ps] */
  durationPs: number;
  /** share of each Ethernet port's line rate offered toward IB, 0..1 */
  ethToIbLoad: number;
  /** share of each Ethernet port's line rate offered from IB toward that port, 0..1 */
  ibToEthLoad: number;
  ibHosts: number;
  ethHostsPerPort: number;
  gwLid: number;
  gwQpn: number;
  pkey: number;
  /** share of frames made into one of the cases the gateway must not simply forward, 0..1 */
  anomalies?: number;
  /** the block's MTU_BYTES (to make giants) */
  mtuBytes?: number;
}

/** What an anomalous Ethernet frame is made into (and what the gateway should do with it). */
export const ETH_ANOMALIES = ["arp", "unknown_dst", "not_ip", "broadcast", "vlan", "fcs_bad", "runt", "giant"] as const;
/** What an anomalous IB packet is made into. */
export const IB_ANOMALIES = ["bad_icrc", "bad_vcrc", "bad_pkey", "bad_qkey", "unknown_dst", "unknown_src", "multicast", "bad_opcode", "runt"] as const;

/** What the source knows of a frame it sent: where it entered and when. */
export interface SentFrame {
  stream: string;
  startCycle: number;
}

export interface GatewayOffer {
  /** per input stream: frames offered and the offered rate [frames/s] */
  streams: Record<string, { frames: number; fps: number }>;
  /** the IB link limited what could be offered toward Ethernet */
  ibLimited: boolean;
}

const ibHostMac = (i: number) => 0x02_1b_00_00_00_00 + i;
const ethHostMac = (port: number, h: number) => 0x02_e0_00_00_00_00 + port * 0x1_00_00 + h;
const ibHostLid = (i: number) => 0x0100 + i;
const ibHostQpn = (i: number) => 0x00_10_00 + i;
const ethHostQpn = (port: number, h: number) => 0x00_20_00 + port * 0x100 + h;

/** The table the gateway is programmed with: IB hosts, the broadcast group, Ethernet hosts. */
export function gatewayTable(c: GatewayTrafficConfig): TableEntry[] {
  const out: TableEntry[] = [];
  let index = 0;
  for (let i = 0; i < c.ibHosts; i++) out.push(tableEntry({ index: index++, ib: true, mac: ibHostMac(i), lid: ibHostLid(i), qpn: ibHostQpn(i), sl: 0, pkey: c.pkey }));
  out.push(tableEntry({ index: index++, ib: true, group: true, mac: 0xffff_ffff_ffff, lid: 0xc000, qpn: MULTICAST_QPN, pkey: c.pkey }));
  for (let p = 0; p < c.ethPorts; p++) {
    for (let h = 0; h < c.ethHostsPerPort; h++) out.push(tableEntry({ index: index++, mac: ethHostMac(p, h), port: p, qpn: ethHostQpn(p, h), pkey: c.pkey }));
  }
  return out;
}

function putMac(buf: Uint8Array, at: number, mac: number): void {
  for (let i = 5; i >= 0; i--) {
    buf[at + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}

/** An IPv4/UDP packet of `bytes` bytes whose payload starts with the tag. */
function ipPacket(bytes: number, seq: number, rng: Prng): Uint8Array {
  const p = new Uint8Array(bytes);
  Ipv4.encode({ version: 4, ihl: 5, dscp: 0, ecn: 0, totalLength: bytes, identification: seq & 0xffff, ttl: 64, protocol: 17, src: 0x0a000001 + rng.int(0, 255), dst: 0x0a010001 + rng.int(0, 255) }, p, 0);
  Ipv4.set(p, 0, "headerChecksum", ipv4HeaderChecksum(p, 0));
  Udp.encode({ srcPort: 0xc000 + (seq & 0x3fff), dstPort: 9, length: bytes - Ipv4.sizeBytes, checksum: 0 }, p, Ipv4.sizeBytes);
  const dv = new DataView(p.buffer);
  dv.setUint32(IP_UDP_BYTES, TAG_MAGIC);
  dv.setUint32(IP_UDP_BYTES + 4, seq);
  rng.fill(p.subarray(IP_UDP_BYTES + TAG_BYTES));
  return p;
}

/** The sequence number tagged in a frame or packet, or -1 (search: the tag's offset differs by direction). */
export function findTag(data: Uint8Array): number {
  for (let i = 0; i + TAG_BYTES <= data.length; i++) {
    if (data[i] === 0x48 && data[i + 1] === 0x43 && data[i + 2] === 0x47 && data[i + 3] === 0x57) {
      return ((data[i + 4]! << 24) | (data[i + 5]! << 16) | (data[i + 6]! << 8) | data[i + 7]!) >>> 0;
    }
  }
  return -1;
}

/** IB packet bytes for an Ethernet frame of `frameBytes` on the wire (for link budgets). */
export function ibPacketBytes(frameBytes: number): number {
  const ip = frameBytes - ETH_FRAME_EXTRA;
  const payload = Ipoib.sizeBytes + ip;
  return Lrh.sizeBytes + Bth.sizeBytes + Deth.sizeBytes + payload + ((4 - (payload % 4)) % 4) + 4 + 2;
}

function ethAnomaly(f: Uint8Array, kind: (typeof ETH_ANOMALIES)[number], rng: Prng, mtu: number): StreamTransaction {
  const txn = (data: Uint8Array, fcsBad = 0): StreamTransaction => ({ data, user: { fcs_bad: fcsBad }, startCycle: 0, endCycle: 0 });
  switch (kind) {
    case "arp":
      Ethernet.set(f, 0, "etherType", 0x0806);
      return txn(f);
    case "unknown_dst":
      putMac(f, 0, 0x02_99_00_00_00_00 + rng.int(0, 0xffff));
      return txn(f);
    case "not_ip":
      Ethernet.set(f, 0, "etherType", 0x88cc); // LLDP
      return txn(f);
    case "broadcast":
      putMac(f, 0, 0xffff_ffff_ffff);
      return txn(f);
    case "vlan": {
      const t = new Uint8Array(f.length + 4);
      t.set(f.subarray(0, 12));
      t.set([0x81, 0x00, 0x00, rng.int(1, 255)], 12);
      t.set(f.subarray(12), 16);
      return txn(t);
    }
    case "fcs_bad":
      return txn(f, 1);
    case "runt":
      return txn(f.slice(0, rng.int(1, 13)));
    case "giant": {
      const g = new Uint8Array(Ethernet.sizeBytes + mtu - 4 + rng.int(1, 64));
      g.set(f.subarray(0, Ethernet.sizeBytes));
      return txn(g);
    }
  }
}

function ibAnomaly(pkt: Uint8Array, kind: (typeof IB_ANOMALIES)[number], rng: Prng): Uint8Array {
  const bth = Lrh.sizeBytes;
  const deth = bth + Bth.sizeBytes;
  switch (kind) {
    case "bad_icrc": {
      const p = appendIbCrcs(pkt);
      p[p.length - 7]! ^= 1 << rng.int(0, 7); // the last byte the ICRC covers
      // recompute the VCRC (LSB first), so only the ICRC is wrong
      const v = vcrc(p, p.length - 2);
      p[p.length - 2] = v & 0xff;
      p[p.length - 1] = v >>> 8;
      return p;
    }
    case "bad_vcrc": {
      const p = appendIbCrcs(pkt);
      p[p.length - 1] ^= 0x01;
      return p;
    }
    case "bad_pkey":
      Bth.set(pkt, bth, "pkey", 0x1234);
      return appendIbCrcs(pkt);
    case "bad_qkey":
      Deth.set(pkt, deth, "qkey", 0x12345678);
      return appendIbCrcs(pkt);
    case "unknown_dst":
      Bth.set(pkt, bth, "destQp", 0x77_0000 + rng.int(0, 0xffff));
      return appendIbCrcs(pkt);
    case "unknown_src":
      Deth.set(pkt, deth, "srcQp", 0x66_0000 + rng.int(0, 0xffff));
      return appendIbCrcs(pkt);
    case "multicast":
      Lrh.set(pkt, 0, "dlid", 0xc000);
      Bth.set(pkt, bth, "destQp", MULTICAST_QPN);
      return appendIbCrcs(pkt);
    case "bad_opcode":
      Bth.set(pkt, bth, "opcode", 0x04); // RC SEND only
      return appendIbCrcs(pkt);
    case "runt":
      return appendIbCrcs(pkt).slice(0, rng.int(1, 40));
  }
}

interface Lane {
  stream: string;
  next: number;
  intervalPs: number;
  phasePs: number;
  count: number;
  make: (k: number, seq: number) => StreamTransaction;
}

export interface GatewayItem {
  port: string;
  txn: StreamTransaction;
  /** the tag carried, or -1 for table writes */
  seq: number;
}

export class GatewayTraffic {
  readonly table: TableEntry[];
  readonly sent = new Map<number, SentFrame>();
  readonly offer: GatewayOffer;
  private readonly lanes: Lane[] = [];
  private readonly psPerCycle: number;
  /** cycle at which traffic starts: after the table writes */
  readonly firstCycle: number;

  constructor(private readonly c: GatewayTrafficConfig) {
    if (c.frameBytes < 64) throw new RangeError(`gateway traffic: frame size ${c.frameBytes} is below the 64-byte Ethernet minimum`);
    this.table = gatewayTable(c);
    this.psPerCycle = 1e6 / c.clockMhz;
    this.firstCycle = this.table.length + 16;
    const rng = new Prng(c.seed);
    const ipBytes = c.frameBytes - ETH_FRAME_EXTRA;
    const ethLineInterval = ((c.frameBytes + ETHERNET_OVERHEAD_BYTES) * 8 * 1e12) / c.ethBps;
    const streams: GatewayOffer["streams"] = {};

    if (c.ethToIbLoad > 0) {
      for (let p = 0; p < c.ethPorts; p++) {
        const prng = rng.fork(`eth${p}`);
        const interval = ethLineInterval / c.ethToIbLoad;
        const count = Math.floor(c.durationPs / interval);
        const stream = `s_eth_axis[${p}]`;
        streams[stream] = { frames: count, fps: 1e12 / interval };
        this.lanes.push({
          stream, next: 0, intervalPs: interval, phasePs: (interval * p) / c.ethPorts, count,
          make: (k, seq) => {
            const f = new Uint8Array(c.frameBytes - 4);
            putMac(f, 0, ibHostMac(prng.int(0, c.ibHosts - 1)));
            putMac(f, 6, ethHostMac(p, k % c.ethHostsPerPort));
            Ethernet.set(f, 0, "etherType", 0x0800);
            f.set(ipPacket(ipBytes, seq, prng), Ethernet.sizeBytes);
            if (c.anomalies && prng.float() < c.anomalies) return ethAnomaly(f, prng.pick(ETH_ANOMALIES), prng, c.mtuBytes ?? 2048);
            return { data: f, user: { fcs_bad: 0 }, startCycle: 0, endCycle: 0 };
          },
        });
      }
    }
    let ibLimited = false;
    if (c.ibToEthLoad > 0) {
      const prng = rng.fork("ib");
      const wanted = ethLineInterval / c.ibToEthLoad / c.ethPorts;
      const onWire = (ibWireBytes(ibPacketBytes(c.frameBytes), c.ib) * 8 * 1e12) / c.ibBps;
      ibLimited = onWire > wanted;
      const interval = Math.max(wanted, onWire);
      const count = Math.floor(c.durationPs / interval);
      streams["s_ib_axis"] = { frames: count, fps: 1e12 / interval };
      this.lanes.push({
        stream: "s_ib_axis", next: 0, intervalPs: interval, phasePs: interval / 2, count,
        make: (k, seq) => {
          // aimed evenly: packet k goes to port k mod ETH_PORTS
          const port = k % c.ethPorts;
          const host = Math.floor(k / c.ethPorts) % c.ethHostsPerPort;
          const src = prng.int(0, c.ibHosts - 1);
          const ip = ipPacket(ipBytes, seq, prng);
          const payload = Ipoib.sizeBytes + ip.length;
          const pad = (4 - (payload % 4)) % 4;
          const hdr = Lrh.sizeBytes + Bth.sizeBytes + Deth.sizeBytes;
          const pkt = new Uint8Array(hdr + payload + pad);
          Lrh.encode({ vl: 0, lver: 0, sl: 0, lnh: 2, dlid: c.gwLid, pktLen: (pkt.length + 4) / 4, slid: ibHostLid(src) }, pkt, 0);
          Bth.encode({ opcode: 0x64, solicitedEvent: 0, migReq: 1, padCount: pad, tver: 0, pkey: c.pkey, destQp: ethHostQpn(port, host), psn: k & 0xffffff }, pkt, Lrh.sizeBytes);
          Deth.encode({ qkey: QKEY, srcQp: ibHostQpn(src) }, pkt, Lrh.sizeBytes + Bth.sizeBytes);
          Ipoib.encode({ type: 0x0800 }, pkt, hdr);
          pkt.set(ip, hdr + Ipoib.sizeBytes);
          if (c.anomalies && prng.float() < c.anomalies) return { data: ibAnomaly(pkt, prng.pick(IB_ANOMALIES), prng), user: {}, startCycle: 0, endCycle: 0 };
          return { data: appendIbCrcs(pkt), user: {}, startCycle: 0, endCycle: 0 };
        },
      });
    }
    this.offer = { streams, ibLimited };
  }

  /** Table writes at cycles 0…, then every stream's frames merged in time order. */
  *items(): Generator<GatewayItem> {
    for (const e of this.table) yield { port: "s_cfg_axis", txn: { data: encodeTableEntry(e), user: {}, startCycle: 0, endCycle: 0 }, seq: -1 };
    let seq = 0;
    for (;;) {
      let best: Lane | undefined;
      let bestT = Infinity;
      for (const l of this.lanes) {
        if (l.next >= l.count) continue;
        const t = l.phasePs + l.next * l.intervalPs;
        if (t < bestT) { bestT = t; best = l; }
      }
      if (!best) return;
      const txn = best.make(best.next, seq);
      txn.startCycle = this.firstCycle + Math.floor(bestT / this.psPerCycle);
      txn.endCycle = txn.startCycle;
      this.sent.set(seq, { stream: best.stream, startCycle: txn.startCycle });
      yield { port: best.stream, txn, seq };
      best.next++;
      seq++;
    }
  }
}
