/**
 * An adapter's physical port: the glue between a transport engine and one end of a link.
 *
 *   engine ──transmit──▶ framer (RoCEv2: Eth/IP/UDP … ICRC, FCS; IB: LRH … ICRC, VCRC) ─▶ egress FIFO ─▶ link
 *   engine ◀──receive─── parser (FCS/VCRC, headers, lengths, ICRC: a bad frame is dropped and counted) ◀─ link
 *
 * Transmit: the packet's bytes are copied into the frame (the engine's pooled packet goes
 * back to its pool at once; a frame may be duplicated or captured later). The FIFO holds
 * `fifoFrames` frames; when it is full the port tells the engine when it will have room
 * (TransmitFn's return), so the transmit datapath waits for the wire instead of running
 * ahead of it. IB credits can keep the head waiting longer; the engine then sends one
 * more and is told again.
 *
 * Receive: frames go through the real parsers (hca/link receiveRoce / receiveIb), so an
 * injected corruption is caught by the FCS or VCRC (and the ICRC when it covers the flipped
 * bits). In "trusted" CRC mode an intact frame is taken as intact without computing its
 * CRCs, which gives the same verdicts (hca/link README); "recompute" computes every one.
 */
import { type CrcMode, type Frame, type Gid, IbFramer, type LinkEndpoint, type LinkPort, type Mac, receiveIb, receiveRoce, RoceFramer } from "../../hca/link/index.ts";
import type { TransportEngine, TransportPacket } from "../../hca/transport/index.ts";

export type PerftestTransport = "rocev2-ipv4" | "rocev2-ipv6" | "ib";
export const PERFTEST_TRANSPORTS: readonly PerftestTransport[] = ["rocev2-ipv4", "rocev2-ipv6", "ib"];

/** the addresses of an adapter port */
export interface PortAddress {
  readonly mac: Mac;
  readonly gid: Gid;
  readonly lid: number;
}

export interface NicPortOptions {
  readonly name: string;
  readonly engine: TransportEngine;
  readonly transport: PerftestTransport;
  readonly local: PortAddress;
  /** the port at the other end of the fabric (the two-node testbench has one) */
  readonly peer: PortAddress;
  /** the local QP that sends to remote QP `destQp` (RoCEv2: the UDP source port comes from the pair) */
  readonly localQpnOf: (destQp: number) => number;
  /** frames the egress FIFO holds; default 4 */
  readonly fifoFrames?: number;
  /** default "trusted" */
  readonly crcMode?: CrcMode;
}

export class NicPortCounters {
  framesSent = 0;
  framesReceived = 0;
  /** transmit datapath busy time [ps] (the engine's ceil(bytes / width) cycles per packet) */
  transmitBusyPs = 0;
  /** receive datapath busy time [ps] */
  receiveBusyPs = 0;
  /** the most frames the egress FIFO held */
  maxFifo = 0;
  /** frames dropped at receive, by verdict (fcs-bad, vcrc-bad, icrc-bad, …) */
  readonly drops: Record<string, number> = {};
  /** frames whose ICRC was found bad (whatever the first failing check) */
  icrcBad = 0;
}

const BTH_DEST_QP = 5;

export class NicPort implements LinkEndpoint {
  readonly counters = new NicPortCounters();
  private link: LinkPort | undefined;
  private readonly fifo: Frame[] = [];
  private fifoHead = 0;
  private readonly roceFramers = new Map<number, RoceFramer>();
  private readonly ibFramers = new Map<number, IbFramer>();
  private readonly fifoFrames: number;
  private readonly crcMode: CrcMode;
  private readonly cyclePs: number;

  constructor(readonly o: NicPortOptions) {
    this.fifoFrames = o.fifoFrames ?? 4;
    if (!(Number.isInteger(this.fifoFrames) && this.fifoFrames >= 1)) throw new RangeError(`port ${o.name}: the egress FIFO holds at least 1 frame, got ${o.fifoFrames}`);
    this.crcMode = o.crcMode ?? "trusted";
    this.cyclePs = o.engine.clock.periodPs;
    o.engine.connect((pkt) => this.transmit(pkt));
  }

  /** attaches to one end of a link */
  attach(link: LinkPort): void {
    const want = this.o.transport === "ib" ? "ib" : "rocev2";
    if (link.link.format !== want) throw new TypeError(`port ${this.o.name}: ${this.o.transport} needs a${want === "ib" ? "n InfiniBand" : "n Ethernet"} link, ${link.link.name} is ${link.link.format}`);
    this.link = link;
    link.attach(this);
  }

  private framerFor(packet: Uint8Array, pkt: TransportPacket): { frame(p: Uint8Array): Frame } {
    if (this.o.transport === "ib") {
      const key = pkt.dlid * 16 + pkt.sl;
      let f = this.ibFramers.get(key);
      if (f === undefined) {
        f = new IbFramer({ slid: this.o.local.lid, dlid: pkt.dlid, sl: pkt.sl });
        this.ibFramers.set(key, f);
      }
      return f;
    }
    const destQp = (packet[BTH_DEST_QP]! << 16) | (packet[BTH_DEST_QP + 1]! << 8) | packet[BTH_DEST_QP + 2]!;
    const local = this.o.localQpnOf(destQp);
    let f = this.roceFramers.get(local);
    if (f === undefined) {
      f = new RoceFramer({ srcMac: this.o.local.mac, dstMac: this.o.peer.mac, srcGid: this.o.local.gid, dstGid: this.o.peer.gid, localQpn: local });
      this.roceFramers.set(local, f);
    }
    return f;
  }

  /** the engine hands over a packet; returns when the FIFO has room again, if it is full [ps] */
  transmit(pkt: TransportPacket): number | undefined {
    const bytes = pkt.buf.slice(0, pkt.length);
    const frame = this.framerFor(bytes, pkt).frame(bytes);
    this.counters.transmitBusyPs += Math.ceil(pkt.length / this.o.engine.datapathBytes) * this.cyclePs;
    pkt.release();
    this.fifo.push(frame);
    this.pump();
    const queued = this.fifo.length - this.fifoHead;
    if (queued > this.counters.maxFifo) this.counters.maxFifo = queued;
    if (queued < this.fifoFrames) return undefined;
    // room once the head has left, and every frame beyond the FIFO's size after it
    const link = this.link!;
    let t = link.readyAtPs;
    for (let i = this.fifoHead, n = queued - this.fifoFrames; n > 0; i++, n--) t += link.link.serialisationPs(this.fifo[i]!.length);
    return Math.ceil(t);
  }

  private pump(): void {
    const link = this.link;
    if (link === undefined) throw new Error(`port ${this.o.name}: not attached to a link`);
    while (this.fifoHead < this.fifo.length) {
      const f = this.fifo[this.fifoHead]!;
      if (!link.canSend(f)) {
        link.whenReady(f);
        return;
      }
      this.fifo[this.fifoHead++] = undefined as unknown as Frame;
      link.send(f);
      this.counters.framesSent++;
    }
    if (this.fifoHead > 256) {
      this.fifo.splice(0, this.fifoHead);
      this.fifoHead = 0;
    }
  }

  ready(): void {
    this.pump();
  }

  receive(frame: Frame): void {
    const c = this.counters;
    c.framesReceived++;
    const e = this.o.engine;
    if (this.o.transport === "ib") {
      const r = receiveIb(frame, this.crcMode);
      if (r.icrcOk === false) c.icrcBad++;
      if (r.verdict !== "ok") return this.drop(r.verdict);
      const a = r.addresses!;
      const p = e.pool.get();
      p.buf.set(r.packet!);
      p.length = r.packet!.length;
      p.slid = a.slid;
      p.dlid = a.dlid;
      p.sl = a.sl;
      if (a.global) {
        // the GRH as received: bytes 8..47 of the packet
        p.hasGrh = true;
        p.grh.set(frame.head.subarray(8, 48));
      }
      this.deliver(p);
    } else {
      const r = receiveRoce(frame, this.crcMode);
      if (r.icrcOk === false) c.icrcBad++;
      if (r.verdict !== "ok") return this.drop(r.verdict);
      const a = r.addresses!;
      const p = e.pool.get();
      p.buf.set(r.packet!);
      p.length = r.packet!.length;
      p.sl = a.dscp >>> 3;
      p.hasGrh = true;
      const ip = a.ipHeader;
      p.grh.fill(0);
      p.grh.set(ip, 40 - ip.length);
      this.deliver(p);
    }
  }

  private deliver(p: TransportPacket): void {
    this.counters.receiveBusyPs += Math.ceil(p.length / this.o.engine.datapathBytes) * this.cyclePs;
    this.o.engine.receive(p);
  }

  private drop(verdict: string): void {
    this.counters.drops[verdict] = (this.counters.drops[verdict] ?? 0) + 1;
  }

  /** frames dropped for a bad FCS, VCRC or ICRC */
  get crcDrops(): number {
    const d = this.counters.drops;
    return (d["fcs-bad"] ?? 0) + (d["vcrc-bad"] ?? 0) + (d["icrc-bad"] ?? 0);
  }
}
