/**
 * The IB → Ethernet direction of the gateway (hca/gateway/README.md, "IB → Ethernet"):
 * its formats, its function on one packet (`ib2ethFunction`), and its TypeScript twin
 * (`Ib2EthTwin`), cycle-exact against rtl-models/gateway/gateway_ib2eth.sv.
 *
 * Behaviour the README leaves open, decided here and in the RTL alike:
 *  - runt also covers a packet too short for its own PadCnt (length < 38 + PadCnt);
 *  - a unicast destination entry whose port is not below ETH_PORTS is `unknown`;
 *  - multicast with no valid broadcast-group entry is `key_mismatch` (no P_Key to match);
 *  - `i2e_frames` and `i2e_drop_queue_full` count when the distributor admits the frame
 *    to the port FIFOs, not when it leaves m_eth_axis.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { crc32 } from "../../core/crc.ts";
import { Bth } from "../headers/bth.ts";
import { Deth } from "../headers/deth.ts";
import { Ethernet } from "../headers/ethernet.ts";
import { Ipoib } from "../headers/ipoib.ts";
import { Lnh, Lrh, MULTICAST_LID_BASE } from "../headers/lrh.ts";
import { checkIbIcrc, checkVcrc, IB_ICRC_BYTES, IB_VCRC_BYTES } from "../ib/index.ts";
import { BROADCAST_MAC, ForwardingTable, MULTICAST_QPN, QKEY } from "./table.ts";

// ---- formats: what the direction reads and writes ---------------------------------
//
//   IB packet (input, LNH 2, UD SEND only):
//   | LRH 8 | BTH 12 | DETH 8 | IPoIB 4 | IP packet … | pad 0..3 | ICRC 4 | VCRC 2 |
//   0       8        20       28        32
//
//   Ethernet frame (output):
//   | dst MAC 6 | src MAC 6 | EtherType 2 | IP packet … | zero pad to 60 | FCS 4 |
//   0           6           12            14
//
// Output byte j ≥ 14 is input byte j + 18 (IPOIB_TO_ETH_SHIFT); bytes 0..13 are built
// from the table lookups and the IPoIB type.

/** packet offsets of the headers [bytes] */
export const IB_OFF = {
  lrh: 0,
  bth: Lrh.sizeBytes,
  deth: Lrh.sizeBytes + Bth.sizeBytes,
  ipoib: Lrh.sizeBytes + Bth.sizeBytes + Deth.sizeBytes,
  payload: Lrh.sizeBytes + Bth.sizeBytes + Deth.sizeBytes + Ipoib.sizeBytes,
} as const;

/** LRH … IPoIB: the header bytes the direction parses (32) */
export const IB_HDR_BYTES = IB_OFF.payload;
/** trailer bytes: ICRC and VCRC (6) */
export const IB_TRAILER_BYTES = IB_ICRC_BYTES + IB_VCRC_BYTES;
/** the shortest packet with every header and both CRCs (38) */
export const IB_MIN_BYTES = IB_HDR_BYTES + IB_TRAILER_BYTES;
/** Ethernet header bytes (14) */
export const ETH_HDR_BYTES = Ethernet.sizeBytes;
/** output byte j (≥ ETH_HDR_BYTES) is input byte j + IPOIB_TO_ETH_SHIFT (18) */
export const IPOIB_TO_ETH_SHIFT = IB_OFF.payload - ETH_HDR_BYTES;
/** frames shorter than this (without FCS) are zero-padded (IEEE 802.3: 64 with the FCS) */
export const ETH_MIN_BYTES = 60;
export const FCS_BYTES = 4;
/** BTH opcode UD SEND only: the only one forwarded */
export const UD_SEND_ONLY = 0x64;

/**
 * Header fields the direction reads: [RTL name, layout, field, packet offset of the
 * layout]. The RTL gets one extraction function per entry (gen-ib2eth-crc.ts).
 */
export const IB_HEADER_FIELDS = [
  ["lnh", Lrh, "lnh", IB_OFF.lrh],
  ["dlid", Lrh, "dlid", IB_OFF.lrh],
  ["pkt_len", Lrh, "pktLen", IB_OFF.lrh],
  ["slid", Lrh, "slid", IB_OFF.lrh],
  ["opcode", Bth, "opcode", IB_OFF.bth],
  ["pad_count", Bth, "padCount", IB_OFF.bth],
  ["pkey", Bth, "pkey", IB_OFF.bth],
  ["dest_qp", Bth, "destQp", IB_OFF.bth],
  ["qkey", Deth, "qkey", IB_OFF.deth],
  ["src_qp", Deth, "srcQp", IB_OFF.deth],
  ["ether_type", Ipoib, "type", IB_OFF.ipoib],
] as const;
export type IbHeaderFieldName = (typeof IB_HEADER_FIELDS)[number][0];

/** bit offset (network order, from packet byte 0) and width of a header field */
export function headerField(name: IbHeaderFieldName): { bitOffset: number; bits: number } {
  const e = IB_HEADER_FIELDS.find((f) => f[0] === name)!;
  const spec = (e[1] as { field(n: string): { bitOffset: number; bits: number } }).field(e[2]);
  return { bitOffset: e[3] * 8 + spec.bitOffset, bits: spec.bits };
}

// ---- the RTL's structure, as numbers (gateway_ib2eth.sv derives the same) ----------

/** descriptor FIFO depth between the checker and the distributor [frames] */
export const I2E_DESC_DEPTH = 16;

/** Sizes of the RTL's buffers for one configuration; see gateway_ib2eth.sv. */
export function ib2ethGeometry(dataBytes: number, mtuBytes: number) {
  /** staged beat k is written with input beat k + writeDelay */
  const writeDelay = Math.floor(IPOIB_TO_ETH_SHIFT / dataBytes) + 1;
  /** the longest frame forwarded, without pad or FCS: 14 + (MTU - 4) */
  const maxFrame = ETH_HDR_BYTES + mtuBytes - 4;
  /** staging beats one packet may write (its frame, one trailing beat more, or the flush) */
  const maxStaged = Math.ceil(maxFrame / dataBytes) + 1;
  let stageBeats = 1;
  while (stageBeats < 2 * maxStaged) stageBeats *= 2;
  return {
    writeDelay,
    maxStaged,
    stageBeats,
    /** a packet's first beat is taken only while the staging level is at most this */
    levelMax: stageBeats - maxStaged - 1,
    /** … and the descriptor count at most this */
    descMax: I2E_DESC_DEPTH - 2,
  };
}

/** Why a packet was dropped; the counter is `i2e_drop_<reason>`. */
export type Ib2EthDrop = "runt" | "bad_crc" | "bad_header" | "giant" | "unknown" | "key_mismatch";

export type Ib2EthResult =
  | { readonly kind: "drop"; readonly reason: Ib2EthDrop; readonly detail: string }
  | {
      readonly kind: "frame";
      /** -1: every port (multicast); else the Ethernet port */
      readonly port: number;
      /** the Ethernet frame: padded to 60 bytes, FCS appended LSB first */
      readonly frame: Uint8Array;
      /** frame bytes before padding and FCS (what the RTL stages) */
      readonly length: number;
    };

export interface Ib2EthParams {
  ethPorts: number;
  gwLid: number;
  mtuBytes: number;
}

// Hot-path copies of imported bindings: module-local constants, so the per-packet code
// does not go through an ESM live-binding accessor on every use (measurable under tsx).
const crc32Fn = crc32;
const checkVcrcFn = checkVcrc;
const checkIbIcrcFn = checkIbIcrc;
const VCRC_BYTES = IB_VCRC_BYTES;
const IBA_LOCAL = Lnh.ibaLocal;
const MC_LID_BASE = MULTICAST_LID_BASE;
const IPOIB_BYTES = Ipoib.sizeBytes;
const MC_QPN = MULTICAST_QPN;
const BCAST_MAC = BROADCAST_MAC;
const Q_KEY = QKEY;

const OFF_LNH = IB_OFF.lrh + 1;
const OFF_DLID = IB_OFF.lrh + 2;
const OFF_PKTLEN = IB_OFF.lrh + 4;
const OFF_SLID = IB_OFF.lrh + 6;
const OFF_OPCODE = IB_OFF.bth;
const OFF_PAD = IB_OFF.bth + 1;
const OFF_PKEY = IB_OFF.bth + 2;
const OFF_DESTQP = IB_OFF.bth + 5;
const OFF_QKEY = IB_OFF.deth;
const OFF_SRCQP = IB_OFF.deth + 5;
const OFF_TYPE = IB_OFF.ipoib;

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u24 = (b: Uint8Array, o: number) => (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

function putMac(out: Uint8Array, at: number, mac: number): void {
  const hi = Math.floor(mac / 0x1_0000_0000);
  const lo = mac >>> 0;
  out[at] = hi >>> 8;
  out[at + 1] = hi;
  out[at + 2] = lo >>> 24;
  out[at + 3] = lo >>> 16;
  out[at + 4] = lo >>> 8;
  out[at + 5] = lo;
}

/**
 * What the direction does to one IB packet (LRH … VCRC), with the table as it is:
 * the checks in the README's order, each the first failure wins, or the frame built.
 *   1. runt: shorter than the headers and both CRCs, PktLen·4 + 2 ≠ length, or too
 *      short for its own PadCnt (the Ethernet payload would be negative)
 *   2. bad_crc: VCRC or ICRC wrong
 *   3. bad_header: LNH ≠ 2, DLID neither the gateway's nor multicast, opcode ≠ UD SEND only
 *   4. giant: IB payload (IPoIB header + packet, without pad) > MTU
 *   5. unknown: unicast DestQP with no valid Ethernet-host entry, or one whose port is
 *      not below ETH_PORTS
 *   6. key_mismatch: P_Key ≠ the entry's (broadcast group's, for multicast; no such
 *      group: mismatch) on the low 15 bits, or Q_Key ≠ QKEY
 *   7. unknown: no valid IB entry with (lid, qpn) = (SLID, SrcQP)
 */
export function ib2ethFunction(pkt: Uint8Array, table: ForwardingTable, p: Ib2EthParams): Ib2EthResult {
  const len = pkt.length;
  if (len < IB_MIN_BYTES) return { kind: "drop", reason: "runt", detail: `${len} bytes, shorter than ${IB_MIN_BYTES}` };
  const pktLen = u16(pkt, OFF_PKTLEN) & 0x7ff;
  if (pktLen * 4 + VCRC_BYTES !== len) {
    return { kind: "drop", reason: "runt", detail: `${len} bytes, LRH PktLen ${pktLen} says ${pktLen * 4 + VCRC_BYTES}` };
  }
  const pad = (pkt[OFF_PAD] >>> 4) & 3;
  const ethPayload = len - IB_MIN_BYTES - pad;
  if (ethPayload < 0) return { kind: "drop", reason: "runt", detail: `${len} bytes cannot hold ${pad} pad bytes` };
  if (!checkVcrcFn(pkt)) return { kind: "drop", reason: "bad_crc", detail: "VCRC wrong" };
  if (!checkIbIcrcFn(pkt)) return { kind: "drop", reason: "bad_crc", detail: "ICRC wrong" };
  const lnh = pkt[OFF_LNH] & 3;
  const dlid = u16(pkt, OFF_DLID);
  const opcode = pkt[OFF_OPCODE];
  if (lnh !== IBA_LOCAL || (dlid !== p.gwLid && dlid < MC_LID_BASE) || opcode !== UD_SEND_ONLY) {
    return { kind: "drop", reason: "bad_header", detail: `LNH ${lnh}, DLID 0x${dlid.toString(16)}, opcode 0x${opcode.toString(16)}` };
  }
  const ibPayload = ethPayload + IPOIB_BYTES;
  if (ibPayload > p.mtuBytes) return { kind: "drop", reason: "giant", detail: `IB payload ${ibPayload} > MTU ${p.mtuBytes}` };
  const destQp = u24(pkt, OFF_DESTQP);
  const multicast = destQp === MC_QPN;
  let port = -1;
  let dstMac = BCAST_MAC;
  let requiredPkey: number | undefined;
  if (multicast) {
    requiredPkey = table.broadcastGroup()?.pkey;
  } else {
    const e = table.ethByQpn(destQp);
    if (e === undefined || e.port >= p.ethPorts) {
      return { kind: "drop", reason: "unknown", detail: `no Ethernet host for DestQP 0x${destQp.toString(16)}${e ? ` (port ${e.port})` : ""}` };
    }
    port = e.port;
    dstMac = e.mac;
    requiredPkey = e.pkey;
  }
  const pkey = u16(pkt, OFF_PKEY);
  const qkey = u32(pkt, OFF_QKEY);
  if (requiredPkey === undefined || ((pkey ^ requiredPkey) & 0x7fff) !== 0 || qkey !== Q_KEY) {
    return { kind: "drop", reason: "key_mismatch", detail: `P_Key 0x${pkey.toString(16)}, Q_Key 0x${qkey.toString(16)}` };
  }
  const slid = u16(pkt, OFF_SLID);
  const srcQp = u24(pkt, OFF_SRCQP);
  const src = table.ibByLidQpn(slid, srcQp);
  if (src === undefined) return { kind: "drop", reason: "unknown", detail: `no IB host (LID 0x${slid.toString(16)}, QPN 0x${srcQp.toString(16)})` };

  const length = ETH_HDR_BYTES + ethPayload;
  const padded = Math.max(ETH_MIN_BYTES, length);
  const frame = new Uint8Array(padded + FCS_BYTES);
  putMac(frame, 0, dstMac);
  putMac(frame, 6, src.mac);
  frame[12] = pkt[OFF_TYPE];
  frame[13] = pkt[OFF_TYPE + 1];
  for (let i = 0, j = IB_OFF.payload; i < ethPayload; i++, j++) frame[ETH_HDR_BYTES + i] = pkt[j];
  const fcs = crc32Fn(frame, 0, padded);
  frame[padded] = fcs;
  frame[padded + 1] = fcs >>> 8;
  frame[padded + 2] = fcs >>> 16;
  frame[padded + 3] = fcs >>> 24;
  return { kind: "frame", port, frame, length };
}

// ---- the twin ------------------------------------------------------------------------

export interface Ib2EthTwinOptions {
  ethPorts: number;
  /** datapath width [bytes per beat]: 8 or 64 */
  dataBytes: number;
  tableEntries: number;
  /** depth of each per-port output FIFO [beats], a power of two */
  fifoBeats: number;
  gwLid: number;
  gwQpn: number;
  mtuBytes: number;
  /** m_eth_axis[port] tready per cycle; undefined (or returning undefined) = always ready */
  outputReady?: (port: number) => ((cycle: number) => boolean) | undefined;
}

export const IB2ETH_COUNTERS = [
  "i2e_drop_bad_crc",
  "i2e_drop_runt",
  "i2e_drop_giant",
  "i2e_drop_bad_header",
  "i2e_drop_key_mismatch",
  "i2e_drop_unknown",
  "i2e_drop_queue_full",
  "i2e_frames",
] as const;
export type Ib2EthCounter = (typeof IB2ETH_COUNTERS)[number];

const IB_PORT = "s_ib_axis";
const CFG_PORT = "s_cfg_axis";
const CFG_BEAT_BYTES = 16;

interface PendingPacket {
  data: Uint8Array;
  startCycle: number;
  offeredAt: number;
}

/** A frame committed to the staging buffer, from its descriptor push to its last read. */
interface Staged {
  /** edge the descriptor is pushed (decision edge) */
  push: number;
  /** edge the distributor pops it (and reads staged beat 0) */
  pop: number;
  staged: number;
}

/** Counter increments with the edge they happen at (non-decreasing), folded in once simulated. */
class CounterEvents {
  /** (edge, counter, increment) triples */
  private ev: number[] = [];
  private head = 0;
  add(cycle: number, counter: number, inc: number): void {
    this.ev.push(cycle, counter, inc);
  }
  /** fold events at edges < now into `values` */
  fold(now: number, values: number[]): void {
    const ev = this.ev;
    let h = this.head;
    while (h < ev.length && ev[h] < now) {
      values[ev[h + 1]] = (values[ev[h + 1]] + ev[h + 2]) >>> 0;
      h += 3;
    }
    this.head = h;
    if (h > 3 * 4096 && h * 2 > ev.length) {
      this.ev = ev.slice(h);
      this.head = 0;
    }
  }
}

/** m_eth_axis has no user fields: one shared, frozen, empty record */
const NO_USER: Readonly<Record<string, number>> = Object.freeze({});

/**
 * One m_eth_axis port: the frame FIFO (reserved whole at admission, read into the output
 * register one beat per cycle) and the output register. Without a ready predicate its
 * timing is computed per frame; with one, the RTL's handshake is stepped per cycle
 * (idle stretches skipped).
 */
class PortModel {
  readonly done: StreamTransaction[] = [];
  /** beats reserved and not yet read out of the FIFO RAM (fast mode: minus pruned frames only) */
  private used = 0;
  // always ready: the per-frame schedule of FIFO reads still needed by later queries
  private lastEnd = -1;
  /** per frame still being read: first read edge and beats, as pairs */
  private loads: number[] = [];
  private loadsHead = 0;
  // backpressure: frames in the FIFO or the output register, the frame/beat to read next
  private readonly frames: { data: Uint8Array; writeStart: number; n: number }[] = [];
  private loadIdx = 0;
  private loadBeat = 0;
  private oValid = false;
  private oFirst = false;
  private oLast = false;
  private outStart = -1;
  /** every edge below this is simulated (backpressure mode) */
  private simulated = 0;

  constructor(private readonly ready: ((cycle: number) => boolean) | undefined) {}

  /** beats reserved as seen by the admission check at edge `a` (non-decreasing a) */
  usedAt(a: number): number {
    if (this.ready) {
      this.advance(a);
      return this.used;
    }
    // frames read out completely before a: their beats are gone for good
    const loads = this.loads;
    let h = this.loadsHead;
    while (h < loads.length && loads[h] + loads[h + 1] <= a) {
      this.used -= loads[h + 1];
      h += 2;
    }
    this.loadsHead = h;
    if (h > 2048 && h * 2 > loads.length) {
      this.loads = loads.slice(h);
      this.loadsHead = 0;
    }
    let used = this.used;
    for (let i = this.loadsHead; i < this.loads.length; i += 2) {
      const started = a - this.loads[i];
      if (started > 0) used -= Math.min(this.loads[i + 1], started);
    }
    return used;
  }

  /** admits a frame of n beats at pop edge a: its beats are written at edges a+1 … a+n */
  admit(a: number, data: Uint8Array, n: number): void {
    this.used += n;
    if (this.ready) {
      this.frames.push({ data, writeStart: a + 1, n });
      return;
    }
    // beat k is read into the output register at max(a + 2 + k, the previous read + 1)
    // and handshakes one edge later
    const first = Math.max(a + 2, this.lastEnd);
    this.loads.push(first, n);
    this.lastEnd = first + n;
    this.done.push({ data, user: NO_USER, startCycle: first + 1, endCycle: first + n });
  }

  /** simulate the edges below `to` (backpressure mode) */
  advance(to: number): void {
    const ready = this.ready;
    if (!ready) return;
    let e = this.simulated;
    while (e < to) {
      if (!this.oValid) {
        const lf = this.frames[this.loadIdx] as (typeof this.frames)[number] | undefined;
        // idle: the next beat can be read the edge after it is written
        const at = lf ? lf.writeStart + this.loadBeat + 1 : Infinity;
        if (at >= to) {
          e = to;
          break;
        }
        if (at > e) e = at;
      }
      let r = false;
      if (this.oValid) {
        r = ready(e);
        if (r) {
          if (this.oFirst) this.outStart = e;
          if (this.oLast) {
            const f = this.frames.shift()!;
            this.loadIdx--;
            this.done.push({ data: f.data, user: NO_USER, startCycle: this.outStart, endCycle: e });
          }
        }
      }
      if (!this.oValid || r) {
        const lf = this.frames[this.loadIdx] as (typeof this.frames)[number] | undefined;
        if (lf && lf.writeStart + this.loadBeat < e) {
          this.oValid = true;
          this.oFirst = this.loadBeat === 0;
          this.loadBeat++;
          this.oLast = this.loadBeat === lf.n;
          this.used--;
          if (this.oLast) {
            this.loadIdx++;
            this.loadBeat = 0;
          }
        } else {
          this.oValid = false;
        }
      }
      e++;
    }
    if (to > this.simulated) this.simulated = to;
  }

  /** completed output transactions with endCycle < now, removed */
  take(now: number): StreamTransaction[] {
    let n = 0;
    while (n < this.done.length && this.done[n].endCycle < now) n++;
    return this.done.splice(0, n);
  }
}

/**
 * The TypeScript twin of rtl-models/gateway/gateway_ib2eth.sv: same frames, same order
 * per port, same cycles (see the timing section of the RTL's header comment), same
 * counters. The timing follows from the RTL's structure, computed per packet:
 *
 *  - s_ib_axis: a packet of nb beats (nb = ceil(len / dataBytes), at least 1) has its
 *    first beat taken at t0 = the first cycle ≥ max(startCycle, offer time, previous
 *    packet's last beat + 1) at which the staging buffer level ≤ levelMax and at most
 *    descMax descriptors wait (both as registered at t0); its beats follow back to back
 *    (s_ib_axis_tready is only ever low before a first beat). Last beat at c = t0 + nb - 1.
 *  - edge c: table lookups (seeing s_cfg_axis writes at edges < c); edge c+1: the decision
 *    (drop counter, or commit + descriptor push).
 *  - distributor: pops a descriptor at pop = max(c + 2, previous pop + its beats), issues
 *    one output beat per edge (frame + FCS, nOut = ceil((max(60, len) + 4) / dataBytes))
 *    and admits the frame to each target port with room for nOut beats (else queue_full).
 *  - port FIFO: beat k written at pop + 1 + k, read into the output register one edge
 *    later at the earliest, handshaken the edge after that: with m_eth_axis_tready high,
 *    startCycle = max(pop + 3, previous endCycle + 1), endCycle = startCycle + nOut - 1.
 */
export class Ib2EthTwin implements BlockTwin {
  readonly block = "gateway";
  readonly table: ForwardingTable;
  private readonly opts: Ib2EthTwinOptions;
  private readonly db: number;
  private readonly geo: ReturnType<typeof ib2ethGeometry>;
  private readonly outPorts: string[];
  private readonly ports: PortModel[];
  private now = 0;
  private lastIbStart = 0;
  private lastCfgStart = 0;
  private readonly packets: PendingPacket[] = [];
  private packetHead = 0;
  /** cfg writes with their handshake edge, applied to the table before a lookup at a later edge */
  private readonly cfg: { edge: number; entry: Uint8Array }[] = [];
  private cfgHead = 0;
  private cfgFree = 0;
  // input side state
  private inFree = 0;
  /** the previous packet: its last-beat edge, and the regular writes it made */
  private prevLast = -1;
  private prevWrites = 0;
  private prevCommitted: Staged | undefined;
  /** staged beats of committed frames (all time) and reads of frames already pruned */
  private stagedTotal = 0;
  private readsPruned = 0;
  /** committed frames whose reads or pop may still matter */
  private readonly staging: Staged[] = [];
  private distFree = 0;
  /** counter events of the decision stage and of the distributor, each in edge order */
  private readonly decisionEvents = new CounterEvents();
  private readonly distributorEvents = new CounterEvents();
  private readonly counterValues = new Array<number>(IB2ETH_COUNTERS.length).fill(0);

  constructor(opts: Ib2EthTwinOptions) {
    const { ethPorts, dataBytes, tableEntries, fifoBeats, mtuBytes } = opts;
    if (!(Number.isInteger(ethPorts) && ethPorts >= 1 && ethPorts <= 8)) throw new RangeError(`ib2eth twin: ethPorts ${ethPorts} is not 1..8`);
    if (dataBytes !== 8 && dataBytes !== 64) throw new RangeError(`ib2eth twin: dataBytes ${dataBytes} is not supported (8 or 64)`);
    if (!(Number.isInteger(fifoBeats) && fifoBeats >= 16 && (fifoBeats & (fifoBeats - 1)) === 0)) {
      throw new RangeError(`ib2eth twin: fifoBeats ${fifoBeats} is not a power of two ≥ 16`);
    }
    if (!(Number.isInteger(mtuBytes) && mtuBytes >= 256 && mtuBytes <= 4096)) throw new RangeError(`ib2eth twin: mtuBytes ${mtuBytes} is not 256..4096`);
    this.opts = opts;
    this.db = dataBytes;
    this.geo = ib2ethGeometry(dataBytes, mtuBytes);
    this.table = new ForwardingTable(tableEntries);
    this.outPorts = Array.from({ length: ethPorts }, (_, i) => `m_eth_axis[${i}]`);
    this.ports = Array.from({ length: ethPorts }, (_, i) => new PortModel(opts.outputReady?.(i)));
  }

  offer(port: string, txn: StreamTransaction): void {
    if (port === IB_PORT) {
      if (txn.startCycle < this.lastIbStart) throw new Error(`ib2eth twin: ${IB_PORT} startCycle ${txn.startCycle} is before the previous transaction's ${this.lastIbStart}`);
      this.lastIbStart = txn.startCycle;
      this.packets.push({ data: txn.data, startCycle: txn.startCycle, offeredAt: this.now });
    } else if (port === CFG_PORT) {
      if (txn.startCycle < this.lastCfgStart) throw new Error(`ib2eth twin: ${CFG_PORT} startCycle ${txn.startCycle} is before the previous transaction's ${this.lastCfgStart}`);
      this.lastCfgStart = txn.startCycle;
      // always ready: one entry per 16-byte beat, back to back
      const beats = Math.max(1, Math.ceil(txn.data.length / CFG_BEAT_BYTES));
      let edge = Math.max(txn.startCycle, this.now, this.cfgFree);
      for (let b = 0; b < beats; b++, edge++) {
        const entry = new Uint8Array(CFG_BEAT_BYTES);
        entry.set(txn.data.subarray(b * CFG_BEAT_BYTES, (b + 1) * CFG_BEAT_BYTES));
        this.cfg.push({ edge, entry });
      }
      this.cfgFree = edge;
    } else {
      throw new Error(`ib2eth twin: no input stream port "${port}" (input ports: ${IB_PORT}, ${CFG_PORT})`);
    }
  }

  runUntil(cycle: number): void {
    if (cycle <= this.now) return;
    while (this.packetHead < this.packets.length) {
      if (!this.process(this.packets[this.packetHead], cycle)) break;
      this.packetHead++;
    }
    if (this.packetHead > 1024) {
      this.packets.splice(0, this.packetHead);
      this.packetHead = 0;
    }
    this.now = cycle;
    for (const p of this.ports) p.advance(cycle);
    // keep the event lists short even if nobody reads the wires
    this.decisionEvents.fold(cycle, this.counterValues);
    this.distributorEvents.fold(cycle, this.counterValues);
    // cfg writes before now with no packet to see them still change the table
    this.applyCfg(cycle);
  }

  take(port: string): StreamTransaction[] {
    const i = this.outPorts.indexOf(port);
    if (i < 0) throw new Error(`ib2eth twin: no output stream port "${port}" (output ports: ${this.outPorts.join(", ")})`);
    return this.ports[i].take(this.now);
  }

  /** the counters as of the cycles simulated (32-bit, wrapping) */
  wires(): Record<string, number> {
    this.decisionEvents.fold(this.now, this.counterValues);
    this.distributorEvents.fold(this.now, this.counterValues);
    const out: Record<string, number> = {};
    IB2ETH_COUNTERS.forEach((name, i) => (out[name] = this.counterValues[i]));
    return out;
  }

  private applyCfg(beforeEdge: number): void {
    while (this.cfgHead < this.cfg.length && this.cfg[this.cfgHead].edge < beforeEdge) {
      this.table.write(this.cfg[this.cfgHead++].entry);
    }
    if (this.cfgHead > 1024) {
      this.cfg.splice(0, this.cfgHead);
      this.cfgHead = 0;
    }
  }

  /** staging level and descriptor count as registered at edge t (t > previous packet's last beat) */
  private admits(t: number): boolean {
    let level = this.stagedTotal - this.readsPruned;
    let descs = 0;
    const pc = this.prevCommitted;
    if (t === this.prevLast + 1) {
      // the previous packet's decision (flush or rollback, descriptor push) happens at edge t
      level += this.prevWrites;
      if (pc) level -= pc.staged;
    }
    for (const s of this.staging) {
      level -= Math.max(0, Math.min(s.staged, t - s.pop));
      if (s.push < t && s.pop >= t) descs++;
    }
    return level <= this.geo.levelMax && descs <= this.geo.descMax;
  }

  /** takes one packet through; false (nothing changed) if its last beat is not below `until` */
  private process(p: PendingPacket, until: number): boolean {
    const db = this.db;
    const len = p.data.length;
    const nb = Math.max(1, Math.ceil(len / db));
    let t0 = Math.max(p.startCycle, p.offeredAt, this.inFree);
    if (t0 + nb - 1 >= until) return false;
    // prune frames fully read and popped before t0 (queries only move forward)
    while (this.staging.length > 0 && this.staging[0].pop + this.staging[0].staged <= t0 && this.staging[0].pop < t0) {
      this.readsPruned += this.staging.shift()!.staged;
    }
    while (!this.admits(t0)) t0++;
    const c = t0 + nb - 1;
    if (c >= until) return false;
    this.inFree = c + 1;
    this.prevLast = c;
    const regular = Math.min(this.geo.maxStaged, Math.max(0, nb - this.geo.writeDelay));
    this.prevWrites = regular;
    this.prevCommitted = undefined;

    this.applyCfg(c);
    const r = ib2ethFunction(p.data, this.table, this.opts);
    const decide = c + 1;
    if (r.kind === "drop") {
      this.decisionEvents.add(decide, IB2ETH_COUNTERS.indexOf(`i2e_drop_${r.reason}`), 1);
      return true;
    }
    const needed = Math.ceil(r.length / db);
    const staged = needed > regular ? regular + 1 : regular;
    const pop = Math.max(decide + 1, this.distFree);
    const s: Staged = { push: decide, pop, staged };
    this.staging.push(s);
    this.stagedTotal += staged;
    this.prevCommitted = s;
    const nOut = Math.ceil(r.frame.length / db);
    this.distFree = pop + nOut;
    // admission to the port FIFOs at the pop edge
    let full = 0;
    let sent = 0;
    const first = r.port < 0 ? 0 : r.port;
    const last = r.port < 0 ? this.ports.length - 1 : r.port;
    for (let i = first; i <= last; i++) {
      const port = this.ports[i];
      if (port.usedAt(pop) + nOut <= this.opts.fifoBeats) {
        port.admit(pop, r.port < 0 && i < last ? r.frame.slice() : r.frame, nOut);
        sent++;
      } else {
        full++;
      }
    }
    if (full) this.distributorEvents.add(pop, IB2ETH_COUNTERS.indexOf("i2e_drop_queue_full"), full);
    if (sent) this.distributorEvents.add(pop, IB2ETH_COUNTERS.indexOf("i2e_frames"), sent);
    return true;
  }
}
