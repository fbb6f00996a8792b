/**
 * Ethernet → IB direction of the gateway (README "Ethernet → IB"): the functional model
 * (classify, look up, build) and `Eth2IbTwin`, the TypeScript twin of
 * rtl-models/gateway/gateway_eth2ib.sv, cycle-exact with m_ib_axis / m_slow_axis always
 * ready.
 *
 * RTL structure and timing (the twin computes the same per frame, never per cycle):
 *  - input: each port writes its beats into its FIFO as they arrive (s_eth_axis_tready
 *    is always 1). At the last beat (cycle tl) the frame is judged, in this order:
 *    fcs_bad → drop bad_crc; shorter than 14 bytes (18 with an 802.1Q tag) → drop runt;
 *    longer than header + MTU_BYTES − 4 → drop giant; a beat found the FIFO full → drop
 *    queue_full; else it is committed: its descriptor (length, tag, class, dst MAC) is
 *    pushed and visible to the arbiter from cycle tl + 1. A beat may be written at cycle
 *    t when (beats written and not rolled back) − (beats read at edges before t) <
 *    FIFO_BEATS.
 *  - arbiter + lookup: a round-robin arbiter (from the port after the last grant) takes
 *    one descriptor at an edge c when the "next" slot is empty or emptied at c, looks the
 *    destination up in the table as of c (writes handshaken before c) and fills the slot.
 *  - emitter: takes the next slot at edge x = max(fill + 1, the edge it loads the last
 *    beat of the frame before), then loads one output beat per cycle at x + 1 … x + T:
 *    T = ceil((packet bytes) / DATA_BYTES) for an IB packet, the frame's beat count for a
 *    slow-path frame. Beats handshake one cycle after loading: startCycle = x + 2,
 *    endCycle = x + T + 1. No bubble between packets.
 *  - FIFO reads: an IB packet reads frame beat k at the edge it loads output beat
 *    J0 + k (J0 = beats of the 32-byte IB header not needing frame data, per tag); a
 *    slow frame reads beat k at x + 1 + k.
 *  - counters: drops count at tl; e2i_frames / e2i_slow_path at the last beat's handshake.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { Bth } from "../headers/bth.ts";
import { Deth } from "../headers/deth.ts";
import { EtherType } from "../headers/ethernet.ts";
import { Ipoib } from "../headers/ipoib.ts";
import { Lnh, Lrh } from "../headers/lrh.ts";
import { IB_ICRC_BYTES, IB_VCRC_BYTES, writeIbCrcs } from "../ib/index.ts";
import { ForwardingTable, isMulticastMac, macAt, QKEY, type TableEntry } from "./table.ts";

export const ETHERTYPE_ARP = 0x0806;
/** BTH opcode of everything this direction sends: UD SEND only */
export const UD_SEND_ONLY = 0x64;
/** untagged / 802.1Q-tagged Ethernet header bytes */
export const ETH_HDR_BYTES = 14;
export const ETH_VLAN_HDR_BYTES = 18;
/** LRH + BTH + DETH + IPoIB header */
export const IB_HDR_BYTES = Lrh.sizeBytes + Bth.sizeBytes + Deth.sizeBytes + Ipoib.sizeBytes;

/** m_slow_axis `reason` (README) */
export const SlowReason = { arp: 0, unknown: 1, notIp: 2 } as const;

/** the counter wires of this direction, in block.yaml order */
export const E2I_COUNTERS = [
  "e2i_drop_bad_crc",
  "e2i_drop_runt",
  "e2i_drop_giant",
  "e2i_drop_queue_full",
  "e2i_drop_unknown",
  "e2i_slow_path",
  "e2i_frames",
] as const;
export type E2iCounter = (typeof E2I_COUNTERS)[number];

export type DropReason = "bad_crc" | "runt" | "giant";

/** What the input stage decides from the frame alone. */
export type EthClass =
  | { readonly kind: "drop"; readonly reason: DropReason }
  | { readonly kind: "slow"; readonly reason: number; readonly hdrBytes: number }
  | { readonly kind: "ip"; readonly hdrBytes: number; readonly etherType: number; readonly dstMac: number };

/** README steps 1–3 (and where the payload starts), for a frame without FCS. */
export function classifyEthFrame(frame: Uint8Array, fcsBad: boolean, mtuBytes: number): EthClass {
  const len = frame.length;
  if (fcsBad) return { kind: "drop", reason: "bad_crc" };
  if (len < ETH_HDR_BYTES) return { kind: "drop", reason: "runt" };
  const tagged = ((frame[12] << 8) | frame[13]) === EtherType.vlan;
  const hdrBytes = tagged ? ETH_VLAN_HDR_BYTES : ETH_HDR_BYTES;
  if (len < hdrBytes) return { kind: "drop", reason: "runt" };
  if (len > hdrBytes + mtuBytes - Ipoib.sizeBytes) return { kind: "drop", reason: "giant" };
  const etherType = (frame[hdrBytes - 2] << 8) | frame[hdrBytes - 1];
  if (etherType === ETHERTYPE_ARP) return { kind: "slow", reason: SlowReason.arp, hdrBytes };
  if (etherType !== EtherType.ipv4 && etherType !== EtherType.ipv6) return { kind: "slow", reason: SlowReason.notIp, hdrBytes };
  return { kind: "ip", hdrBytes, etherType, dstMac: macAt(frame, 0) };
}

/** README step 4: the IB destination of an IP frame, or undefined (slow path, unknown). */
export function lookupDestination(table: ForwardingTable, dstMac: number): TableEntry | undefined {
  return table.ibByMac(dstMac) ?? (isMulticastMac(dstMac) ? table.broadcastGroup() : undefined);
}

export interface GatewayIdentity {
  gwLid: number;
  gwQpn: number;
}

/**
 * Output buffers are views carved from 256 KiB slabs: creating a view costs ~30 ns where a
 * fresh 90-byte Uint8Array (its own backing store) costs ~400 ns, which dominated the twin.
 * Slabs are never reused, so every view starts zeroed.
 */
const SLAB_BYTES = 256 * 1024;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;
function allocBytes(n: number): Uint8Array {
  if (n > SLAB_BYTES / 16) return new Uint8Array(n);
  if (slabUsed + n > SLAB_BYTES) {
    slab = new ArrayBuffer(SLAB_BYTES);
    slabUsed = 0;
  }
  const v = new Uint8Array(slab, slabUsed, n);
  slabUsed += (n + 7) & ~7;
  return v;
}

/** README step 5: the IB packet (LRH … ICRC, VCRC) carrying an IP frame's payload. */
export function buildIbPacket(
  frame: Uint8Array,
  hdrBytes: number,
  etherType: number,
  dest: TableEntry,
  psn: number,
  gw: GatewayIdentity,
): Uint8Array {
  const payLen = frame.length - hdrBytes;
  const pad = -payLen & 3;
  const covered = IB_HDR_BYTES + payLen + pad;
  const p = allocBytes(covered + IB_ICRC_BYTES + IB_VCRC_BYTES);
  // LRH (§7.7): VL 0, LVer 0, SL, LNH 2; PktLen counts LRH … ICRC in words
  p[1] = ((dest.sl & 0xf) << 4) | Lnh.ibaLocal;
  p[2] = dest.lid >>> 8;
  p[3] = dest.lid & 0xff;
  const pktLen = (covered + IB_ICRC_BYTES) >>> 2;
  p[4] = pktLen >>> 8;
  p[5] = pktLen & 0xff;
  p[6] = gw.gwLid >>> 8;
  p[7] = gw.gwLid & 0xff;
  // BTH (§9.2): UD SEND only, M 1, PadCnt, P_Key, DestQP, PSN
  p[8] = UD_SEND_ONLY;
  p[9] = 0x40 | (pad << 4);
  p[10] = dest.pkey >>> 8;
  p[11] = dest.pkey & 0xff;
  p[13] = dest.qpn >>> 16;
  p[14] = (dest.qpn >>> 8) & 0xff;
  p[15] = dest.qpn & 0xff;
  p[17] = psn >>> 16;
  p[18] = (psn >>> 8) & 0xff;
  p[19] = psn & 0xff;
  // DETH (§9.3.3)
  p[20] = QKEY >>> 24;
  p[21] = (QKEY >>> 16) & 0xff;
  p[22] = (QKEY >>> 8) & 0xff;
  p[23] = QKEY & 0xff;
  p[25] = gw.gwQpn >>> 16;
  p[26] = (gw.gwQpn >>> 8) & 0xff;
  p[27] = gw.gwQpn & 0xff;
  // IPoIB header (RFC 4391 §6)
  p[28] = etherType >>> 8;
  p[29] = etherType & 0xff;
  if (payLen < 256) {
    // a loop beats a subarray view for short payloads (the common 64-byte frame)
    for (let i = 0; i < payLen; i++) p[IB_HDR_BYTES + i] = frame[hdrBytes + i];
  } else {
    p.set(frame.subarray(hdrBytes), IB_HDR_BYTES);
  }
  writeIbCrcs(p, covered);
  return p;
}

export interface Eth2IbTwinOptions {
  /** ETH_PORTS, 1..8 (default 6) */
  ethPorts?: number;
  /** DATA_BYTES [bytes/beat]: 8 or 64 (default 8) */
  dataBytes?: number;
  /** TABLE_ENTRIES (default 64) */
  tableEntries?: number;
  /** FIFO_BEATS, per-port input FIFO depth [beats], a power of two (default 512) */
  fifoBeats?: number;
  /** GW_LID (default 1) */
  gwLid?: number;
  /** GW_QPN (default 0x48) */
  gwQpn?: number;
  /** MTU_BYTES: the largest IB payload (IPoIB header + IP packet) (default 2048) */
  mtuBytes?: number;
}

/** Beats of the output before the one that reads frame beat 0, per header length. */
export function firstReadBeat(dataBytes: number, hdrBytes: number): number {
  const shift = IB_HDR_BYTES - hdrBytes; // output byte o carries frame byte o − shift
  return Math.max(0, Math.ceil((shift - dataBytes) / dataBytes));
}

/** A frame offered on an input port; once committed, also its descriptor. */
interface InputFrame {
  port: number;
  data: Uint8Array;
  cls: EthClass;
  beats: number;
  /** the cycle its last beat handshakes (and it is judged, and committed if kept) */
  lastCycle: number;
}
type Desc = InputFrame;

interface Port {
  pending: InputFrame[];
  pendHead: number;
  inputFree: number;
  descs: Desc[];
  descHead: number;
  /** beats committed to the FIFO, ever */
  written: number;
  /** beats read by finished reads, ever */
  readBase: number;
  /** the read in progress: first read edge and beats */
  readStart: number;
  readBeats: number;
}

/** A decided frame in the "next" slot. */
interface Next {
  desc: Desc;
  /** IB destination, or undefined for the slow path */
  dest: TableEntry | undefined;
  reason: number;
}

/** m_ib_axis carries no user fields: one frozen empty record for every packet */
const NO_USER: Readonly<Record<string, number>> = Object.freeze({});

const IN_PREFIX = "s_eth_axis[";
const CFG_PORT = "s_cfg_axis";
const IB_PORT = "m_ib_axis";
const SLOW_PORT = "m_slow_axis";

export class Eth2IbTwin implements BlockTwin {
  readonly block = "gateway";
  readonly ethPorts: number;
  readonly dataBytes: number;
  readonly fifoBeats: number;
  readonly mtuBytes: number;
  readonly gw: GatewayIdentity;
  readonly table: ForwardingTable;

  private now = 0;
  private readonly ports: Port[];
  private readonly cfg: { cycle: number; data: Uint8Array }[] = [];
  private cfgHead = 0;
  private cfgFree = 0;
  private cfgLastStart = 0;

  private next: Next | null = null;
  private nextFill = 0;
  private nextEmptySince = 0;
  /** the edge the emitter can take the next frame */
  private emitterFree = 0;
  private rr = 0;
  private psn = 0;

  private readonly ibDone: StreamTransaction[] = [];
  private readonly slowDone: StreamTransaction[] = [];
  /** completion cycles of emitted packets not yet counted, in order */
  private readonly ends: { end: number; slow: boolean }[] = [];
  private endsHead = 0;
  private readonly counts: Record<E2iCounter, number> = Object.fromEntries(E2I_COUNTERS.map((c) => [c, 0])) as Record<E2iCounter, number>;

  constructor(opts: Eth2IbTwinOptions = {}) {
    this.ethPorts = opts.ethPorts ?? 6;
    this.dataBytes = opts.dataBytes ?? 8;
    this.fifoBeats = opts.fifoBeats ?? 512;
    this.mtuBytes = opts.mtuBytes ?? 2048;
    this.gw = { gwLid: opts.gwLid ?? 1, gwQpn: opts.gwQpn ?? 0x48 };
    const entries = opts.tableEntries ?? 64;
    if (!(Number.isInteger(this.ethPorts) && this.ethPorts >= 1 && this.ethPorts <= 8)) {
      throw new RangeError(`gateway eth2ib twin: ethPorts ${this.ethPorts} is not 1..8`);
    }
    if (this.dataBytes !== 8 && this.dataBytes !== 64) {
      throw new RangeError(`gateway eth2ib twin: dataBytes ${this.dataBytes} is not supported (8 or 64)`);
    }
    if (!(Number.isInteger(this.fifoBeats) && this.fifoBeats >= 4 && (this.fifoBeats & (this.fifoBeats - 1)) === 0)) {
      throw new RangeError(`gateway eth2ib twin: fifoBeats ${this.fifoBeats} is not a power of two ≥ 4`);
    }
    this.table = new ForwardingTable(entries);
    this.ports = Array.from({ length: this.ethPorts }, () => ({
      pending: [],
      pendHead: 0,
      inputFree: 0,
      descs: [],
      descHead: 0,
      written: 0,
      readBase: 0,
      readStart: 0,
      readBeats: 0,
    }));
  }

  offer(port: string, txn: StreamTransaction): void {
    if (port === CFG_PORT) {
      if (txn.startCycle < this.cfgLastStart) throw this.orderError(port, txn.startCycle, this.cfgLastStart);
      this.cfgLastStart = txn.startCycle;
      const t = Math.max(txn.startCycle, this.cfgFree, this.now);
      this.cfgFree = t + 1;
      this.cfg.push({ cycle: t, data: txn.data.slice(0, 16) });
      return;
    }
    const p = this.portIndex(port);
    const ps = this.ports[p];
    const beats = Math.max(1, Math.ceil(txn.data.length / this.dataBytes));
    const t0 = Math.max(txn.startCycle, ps.inputFree, this.now);
    const lastCycle = t0 + beats - 1;
    ps.inputFree = lastCycle + 1;
    const fcsBad = ((txn.user.fcs_bad ?? 0) & 1) === 1;
    ps.pending.push({ port: p, data: txn.data, cls: classifyEthFrame(txn.data, fcsBad, this.mtuBytes), beats, lastCycle });
  }

  runUntil(cycle: number): void {
    if (cycle <= this.now) return;
    this.process(cycle);
    this.now = cycle;
  }

  take(port: string): StreamTransaction[] {
    const list = port === IB_PORT ? this.ibDone : port === SLOW_PORT ? this.slowDone : undefined;
    if (list === undefined) throw new Error(`gateway eth2ib twin: no output stream port "${port}" (output ports: ${IB_PORT}, ${SLOW_PORT})`);
    let n = 0;
    while (n < list.length && list[n].endCycle < this.now) n++;
    return list.splice(0, n);
  }

  /** the counter wires as of the cycles simulated so far (32-bit, wrapping) */
  wires(): Record<string, number> {
    while (this.endsHead < this.ends.length && this.ends[this.endsHead].end < this.now) {
      const e = this.ends[this.endsHead++];
      this.counts[e.slow ? "e2i_slow_path" : "e2i_frames"]++;
    }
    if (this.endsHead > 4096) {
      this.ends.splice(0, this.endsHead);
      this.endsHead = 0;
    }
    const out: Record<string, number> = {};
    for (const c of E2I_COUNTERS) out[c] = this.counts[c] >>> 0;
    return out;
  }

  // ---- the event loop: input commits, arbiter fills and emitter takes, in cycle order

  private process(limit: number): void {
    for (;;) {
      // next input commit
      let tin = Infinity;
      let pin = -1;
      for (let p = 0; p < this.ethPorts; p++) {
        const ps = this.ports[p];
        if (ps.pendHead < ps.pending.length && ps.pending[ps.pendHead].lastCycle < tin) {
          tin = ps.pending[ps.pendHead].lastCycle;
          pin = p;
        }
      }
      // next arbiter / emitter edge
      let ta: number;
      if (this.next !== null) {
        ta = Math.max(this.nextFill + 1, this.emitterFree);
      } else {
        let avail = Infinity;
        for (const ps of this.ports) {
          if (ps.descHead < ps.descs.length) avail = Math.min(avail, ps.descs[ps.descHead].lastCycle + 1);
        }
        ta = Math.max(avail, this.nextEmptySince);
      }
      const t = Math.min(tin, ta);
      if (t >= limit) return;
      if (tin <= ta) this.commit(pin, tin);
      else this.arbiterEdge(ta);
    }
  }

  private commit(p: number, t: number): void {
    const ps = this.ports[p];
    const f = ps.pending[ps.pendHead++];
    if (ps.pendHead > 1024) {
      ps.pending.splice(0, ps.pendHead);
      ps.pendHead = 0;
    }
    if (f.cls.kind === "drop") {
      this.counts[`e2i_drop_${f.cls.reason}`]++;
      return;
    }
    const read = ps.readBase + Math.min(Math.max(t - ps.readStart, 0), ps.readBeats);
    if (ps.written + f.beats - 1 - read >= this.fifoBeats) {
      this.counts.e2i_drop_queue_full++;
      return;
    }
    ps.written += f.beats;
    ps.descs.push(f);
  }

  private arbiterEdge(t: number): void {
    if (this.next !== null) {
      this.emit(this.next, t);
      this.next = null;
      this.nextEmptySince = t;
    }
    // fill the next slot from the first port (round robin) with a descriptor committed before t
    for (let i = 0; i < this.ethPorts; i++) {
      const p = (this.rr + i) % this.ethPorts;
      const ps = this.ports[p];
      if (ps.descHead < ps.descs.length && ps.descs[ps.descHead].lastCycle < t) {
        const d = ps.descs[ps.descHead++];
        if (ps.descHead > 1024) {
          ps.descs.splice(0, ps.descHead);
          ps.descHead = 0;
        }
        this.rr = (p + 1) % this.ethPorts;
        this.next = this.decide(d, t);
        this.nextFill = t;
        return;
      }
    }
  }

  /** the lookup at edge t: table writes handshaken before t are visible */
  private decide(d: Desc, t: number): Next {
    while (this.cfgHead < this.cfg.length && this.cfg[this.cfgHead].cycle < t) this.table.write(this.cfg[this.cfgHead++].data);
    if (d.cls.kind === "slow") return { desc: d, dest: undefined, reason: d.cls.reason };
    if (d.cls.kind !== "ip") throw new Error("unreachable: dropped frames have no descriptor");
    const dest = lookupDestination(this.table, d.cls.dstMac);
    return { desc: d, dest, reason: SlowReason.unknown };
  }

  /** the emitter takes `n` at edge x */
  private emit(n: Next, x: number): void {
    const d = n.desc;
    const ps = this.ports[d.port];
    ps.readBase += ps.readBeats;
    let beats: number;
    if (n.dest !== undefined && d.cls.kind === "ip") {
      const pkt = buildIbPacket(d.data, d.cls.hdrBytes, d.cls.etherType, n.dest, this.psn, this.gw);
      this.psn = (this.psn + 1) & 0xff_ffff;
      beats = Math.ceil(pkt.length / this.dataBytes);
      ps.readStart = x + 1 + firstReadBeat(this.dataBytes, d.cls.hdrBytes);
      this.ibDone.push({ data: pkt, user: NO_USER, startCycle: x + 2, endCycle: x + beats + 1 });
      this.ends.push({ end: x + beats + 1, slow: false });
    } else {
      beats = d.beats;
      ps.readStart = x + 1;
      const copy = allocBytes(d.data.length);
      copy.set(d.data);
      this.slowDone.push({ data: copy, user: { src_port: d.port, reason: n.reason }, startCycle: x + 2, endCycle: x + beats + 1 });
      this.ends.push({ end: x + beats + 1, slow: true });
    }
    ps.readBeats = d.beats;
    this.emitterFree = x + beats;
  }

  private portIndex(port: string): number {
    if (port.startsWith(IN_PREFIX) && port.endsWith("]")) {
      const i = Number(port.slice(IN_PREFIX.length, -1));
      if (Number.isInteger(i) && i >= 0 && i < this.ethPorts) return i;
    }
    throw new Error(
      `gateway eth2ib twin: no input stream port "${port}" (input ports: ${IN_PREFIX}0] … ${IN_PREFIX}${this.ethPorts - 1}], ${CFG_PORT})`,
    );
  }

  private orderError(port: string, start: number, prev: number): Error {
    return new Error(`gateway eth2ib twin: ${port} startCycle ${start} is before the previous transaction's ${prev}`);
  }
}

/** bytes the emitted IB packet of a frame with `payloadBytes` after its Ethernet header has */
export function ibPacketBytes(payloadBytes: number): number {
  return IB_HDR_BYTES + payloadBytes + (-payloadBytes & 3) + IB_ICRC_BYTES + IB_VCRC_BYTES;
}
