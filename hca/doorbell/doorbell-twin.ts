/**
 * The TypeScript twin of rtl-models/doorbell: the same output transactions, bytes and
 * cycles as the RTL under the shim's driver convention (core/block.ts). Spec and timing:
 * hca/doorbell/README.md.
 *
 * The twin steps the RTL's registers cycle by cycle while anything is in flight and jumps
 * over idle stretches. Per cycle c, using the state at the start of c (as the RTL's
 * combinational logic does):
 *  1. output registers that are valid and see tready handshake at c;
 *  2. the arbiter grants the first pending entry at or after the round-robin pointer whose
 *     output register is free at c (empty, or handshaking at c);
 *  3. the doorbell in the check stage (taken from s_mmio at c-1) is checked against the
 *     ownership tables and either rejected (needs m_err free), merged into its queue's
 *     pending entry (not the one being granted), or placed in the lowest free entry; if it
 *     cannot move it stays and s_mmio is not ready;
 *  4. s_mmio and s_cfg handshake (s_cfg is ready unless a read answer waits on m_cfg_rd;
 *     its write is seen from c+1; a read loads its answer into m_cfg_rd, valid from c+1);
 *  5. every register takes its next value at the clock edge ending c.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import type { FieldCodec, Layout } from "../../core/layout.ts";
import { PackedTransactionQueue, PackedTransactionWriter, unpack, type PackedTransactions } from "../../core/packed-transactions.ts";
import {
  CfgTable,
  cfgReadback,
  CfgWrite,
  CqArm,
  CqArmUpdate,
  CqCommand,
  CqDoorbell,
  DOORBELL_WRITE_BYTES,
  DoorbellError,
  DoorbellKind,
  DoorbellOffset,
  FetchRequest,
  MmioWrite,
  ReceiveDoorbell,
  RejectReason,
  SendDoorbell,
  UAR_PAGE_SHIFT,
} from "./formats.ts";

/** the block's parameters (rtl-models/doorbell/block.yaml) */
export interface DoorbellParams {
  /** QP ownership-table entries (QPNs 0..QP_ENTRIES-1) */
  qpEntries: number;
  /** CQ ownership-table entries */
  cqEntries: number;
  /** UAR pages in the BAR */
  uarPages: number;
  /** pending-table entries (queues with a doorbell not yet issued) */
  pending: number;
}

export const DOORBELL_DEFAULTS: DoorbellParams = { qpEntries: 64, cqEntries: 64, uarPages: 64, pending: 16 };

export interface DoorbellTwinOptions extends Partial<DoorbellParams> {
  /** tready per output port and cycle (the shim's backpressure pattern); omitted = always ready */
  outputReady?: Partial<Record<"m_fetch" | "m_cq_arm" | "m_err" | "m_cfg_rd", (cycle: number) => boolean>>;
}

export const DOORBELL_PORTS = {
  in: ["s_mmio", "s_cfg"],
  out: ["m_fetch", "m_cq_arm", "m_err", "m_cfg_rd"],
} as const;

/** a doorbell as the check stage holds it: decoded from the MMIO record at handshake */
export interface Decoded {
  offset: number;
  /** DoorbellKind (unknown when the offset is bad) */
  kind: number;
  uar: number;
  badOffset: boolean;
  /** QPN or CQN */
  number: number;
  /** send/receive producer counter, or CQ consumer index */
  counter: number;
  fence: number;
  opcode: number;
  size: number;
  nreq: number;
  sn: number;
  cmd: number;
}

const READY = (): boolean => true;

const MMIO = MmioWrite.codec(["offset", "length"]);
const SEND = SendDoorbell.codec(["qpn", "counter", "fence", "opcode", "size"]);
const RECEIVE = ReceiveDoorbell.codec(["qpn", "counter", "nreq"]);
const CQ = CqDoorbell.codec(["cqn", "ci", "sn", "cmd"]);
const DATA = MmioWrite.field("data").byteOffset;

/** a fresh stage value */
function decoded(): Decoded {
  return { offset: 0, kind: DoorbellKind.unknown, uar: 0, badOffset: true, number: 0, counter: 0, fence: 0, opcode: 0, size: 0, nreq: 0, sn: 0, cmd: 0 };
}

/** zero padding for s_mmio records shorter than the layout (the RTL sees the missing lanes as zero) */
const PADDED = new Uint8Array(MmioWrite.sizeBytes);
const SLOTS = new Float64Array(8);

/**
 * Decodes the s_mmio record of `length` bytes at `at` of `b` into `d` (reused: the check
 * stage is one register, not an object per doorbell).
 */
function decodeMmioInto(b: Uint8Array, at: number, length: number, uarPages: number, d: Decoded): void {
  if (length < MmioWrite.sizeBytes) {
    PADDED.fill(0);
    PADDED.set(b.subarray(at, at + length));
    b = PADDED;
    at = 0;
  }
  const v = SLOTS;
  MMIO.read(b, at, v);
  const offset = v[0]!;
  const uar = offset >>> UAR_PAGE_SHIFT;
  const page = offset & 0xfff;
  let kind: number = DoorbellKind.unknown;
  if (page === DoorbellOffset.send) kind = DoorbellKind.send;
  else if (page === DoorbellOffset.receive) kind = DoorbellKind.receive;
  else if (page === DoorbellOffset.cq) kind = DoorbellKind.cq;
  const badOffset = uar >= uarPages || kind === DoorbellKind.unknown || v[1] !== DOORBELL_WRITE_BYTES;
  d.offset = offset;
  d.uar = uar;
  d.badOffset = badOffset;
  d.number = d.counter = d.fence = d.opcode = d.size = d.nreq = d.sn = d.cmd = 0;
  d.kind = badOffset ? DoorbellKind.unknown : kind;
  if (badOffset) return;
  if (kind === DoorbellKind.send) {
    SEND.read(b, at + DATA, v);
    d.number = v[0]!;
    d.counter = v[1]!;
    d.fence = v[2]!;
    d.opcode = v[3]!;
    d.size = v[4]!;
  } else if (kind === DoorbellKind.receive) {
    RECEIVE.read(b, at + DATA, v);
    d.number = v[0]!;
    d.counter = v[1]!;
    d.nreq = v[2]!;
  } else {
    CQ.read(b, at + DATA, v);
    d.number = v[0]!;
    d.counter = v[1]!;
    d.sn = v[2]!;
    d.cmd = v[3]!;
  }
}

/** decodes an s_mmio record (16 bytes; shorter records read as zero-padded, as the RTL sees them) */
export function decodeMmio(rec: Uint8Array, uarPages: number): Decoded {
  const d = decoded();
  decodeMmioInto(rec, 0, Math.min(rec.length, MmioWrite.sizeBytes), uarPages, d);
  return d;
}

/**
 * A writer for the integer fields `names` (each ≤ 32 bits) of `layout`: a record per call,
 * filled by the layout's generated codec (Layout.codec). doorbell-twin.test.ts checks it
 * against Layout.encode.
 */
export function recordWriter(layout: Layout, names: readonly string[]): (values: ArrayLike<number>) => Uint8Array {
  const codec = layout.codec(names);
  if (codec.slots !== names.length) throw new Error(`recordWriter: ${layout.name} has fields wider than 32 bits among ${names.join(", ")} (use Layout.codec)`);
  return (values) => {
    const b = new Uint8Array(layout.sizeBytes);
    codec.write(b, 0, values);
    return b;
  };
}

const FETCH = FetchRequest.codec(["qpn", "kind", "fence", "opcode", "counter", "size", "doorbells", "count"]);
const CQ_ARM = CqArmUpdate.codec(["cqn", "sn", "arm", "ci", "doorbells"]);
const ERR = DoorbellError.codec(["reason", "kind", "number", "offset"]);

function armOf(cmd: number): number {
  return cmd === CqCommand.reqNot ? CqArm.next : cmd === CqCommand.reqNotSol ? CqArm.solicited : CqArm.none;
}

/**
 * One output register of the RTL: whether it is valid and the record loaded, kept as the
 * codec's field values (or as bytes, for the rare read answers) and packed into the
 * port's output only when it handshakes.
 */
class OutReg {
  valid = false;
  readonly values: Float64Array;
  bytes: Uint8Array | null = null;
  readonly out = new PackedTransactionWriter(0, 64 * 1024);

  constructor(
    readonly port: string,
    private readonly codec: FieldCodec | null,
    private readonly size: number,
  ) {
    this.values = new Float64Array(codec ? codec.slots : 0);
  }

  /** the register handshakes at cycle c */
  handshake(c: number): void {
    const at = this.out.append(c, c, this.size);
    if (this.bytes) this.out.bytes.set(this.bytes, at);
    else this.codec!.write(this.out.bytes, at, this.values);
  }
}

export class DoorbellTwin implements BlockTwin {
  readonly block = "doorbell";
  readonly params: DoorbellParams;
  /** every cycle below this has been simulated */
  private now = 0;

  private readonly mmio = new PackedTransactionQueue([], "doorbell twin: s_mmio");
  private readonly cfg = new PackedTransactionQueue([], "doorbell twin: s_cfg");
  private readonly lastStart = { s_mmio: 0, s_cfg: 0 };

  // ownership tables
  private readonly qpValid: Uint8Array;
  private readonly qpUar: Uint32Array;
  private readonly cqValid: Uint8Array;
  private readonly cqUar: Uint32Array;

  // the check stage
  private s1Valid = false;
  private readonly s1: Decoded = decoded();

  // the pending table, with bit masks of its valid and its CQ entries (PENDING ≤ 32) and,
  // per queue, the entry that holds it (-1: none), so that merge, allocation and the
  // round-robin grant are a few bit operations rather than scans
  private readonly eKind: Uint8Array;
  private readonly eNumber: Uint32Array;
  private readonly eCounter: Uint32Array;
  private readonly eFence: Uint8Array;
  private readonly eOpcode: Uint8Array;
  private readonly eSize: Uint8Array;
  private readonly eDoorbells: Uint16Array;
  private readonly eCount: Uint32Array;
  private readonly eSn: Uint8Array;
  private readonly eArm: Uint8Array;
  private validMask = 0;
  private cqMask = 0;
  private readonly entryOf: Int8Array[];
  private entries = 0;
  private ptr = 0;

  private readonly fetch = new OutReg("m_fetch", FETCH, FetchRequest.sizeBytes);
  private readonly cqArm = new OutReg("m_cq_arm", CQ_ARM, CqArmUpdate.sizeBytes);
  private readonly err = new OutReg("m_err", ERR, DoorbellError.sizeBytes);
  private readonly cfgRd = new OutReg("m_cfg_rd", null, CfgWrite.sizeBytes);
  private readonly readyFetch: (c: number) => boolean;
  private readonly readyCq: (c: number) => boolean;
  private readonly readyErr: (c: number) => boolean;
  private readonly readyCfgRd: (c: number) => boolean;
  private readonly alwaysReady: boolean;

  private stats = { doorbells: 0, coalesced: 0, rejectedOwner: 0, rejectedOther: 0, fetches: 0 };

  constructor(opts: DoorbellTwinOptions = {}) {
    const p: DoorbellParams = {
      qpEntries: opts.qpEntries ?? DOORBELL_DEFAULTS.qpEntries,
      cqEntries: opts.cqEntries ?? DOORBELL_DEFAULTS.cqEntries,
      uarPages: opts.uarPages ?? DOORBELL_DEFAULTS.uarPages,
      pending: opts.pending ?? DOORBELL_DEFAULTS.pending,
    };
    for (const [k, v] of Object.entries(p)) {
      if (!Number.isInteger(v) || v < 2 || (v & (v - 1)) !== 0) {
        throw new RangeError(`doorbell twin: ${k} = ${v}; it must be a power of two, at least 2`);
      }
    }
    if (p.pending > 32) throw new RangeError(`doorbell twin: pending = ${p.pending}; at most 32 entries`);
    this.params = p;
    this.qpValid = new Uint8Array(p.qpEntries);
    this.qpUar = new Uint32Array(p.qpEntries);
    this.cqValid = new Uint8Array(p.cqEntries);
    this.cqUar = new Uint32Array(p.cqEntries);
    const n = p.pending;
    this.eKind = new Uint8Array(n);
    this.eNumber = new Uint32Array(n);
    this.eCounter = new Uint32Array(n);
    this.eFence = new Uint8Array(n);
    this.eOpcode = new Uint8Array(n);
    this.eSize = new Uint8Array(n);
    this.eDoorbells = new Uint16Array(n);
    this.eCount = new Uint32Array(n);
    this.eSn = new Uint8Array(n);
    this.eArm = new Uint8Array(n);
    // by DoorbellKind: send and receive queues are QPs, the third kind CQs
    this.entryOf = [p.qpEntries, p.qpEntries, p.cqEntries].map((k) => new Int8Array(k).fill(-1));
    const r = opts.outputReady ?? {};
    this.readyFetch = r.m_fetch ?? READY;
    this.readyCq = r.m_cq_arm ?? READY;
    this.readyErr = r.m_err ?? READY;
    this.readyCfgRd = r.m_cfg_rd ?? READY;
    this.alwaysReady = !r.m_fetch && !r.m_cq_arm && !r.m_err && !r.m_cfg_rd;
  }

  private input(port: string): PackedTransactionQueue {
    if (port === "s_mmio") return this.mmio;
    if (port === "s_cfg") return this.cfg;
    throw new Error(`doorbell twin: no input stream port "${port}" (input ports: ${DOORBELL_PORTS.in.join(", ")})`);
  }

  offer(port: string, txn: StreamTransaction): void {
    const q = this.input(port);
    const p = port as keyof typeof this.lastStart;
    if (txn.startCycle < this.lastStart[p]) {
      throw new Error(`doorbell twin: ${port} startCycle ${txn.startCycle} is before the previous transaction's ${this.lastStart[p]}`);
    }
    this.lastStart[p] = txn.startCycle;
    q.offer(txn);
  }

  offerPacked(port: string, bytes: Uint8Array, _count: number): void {
    // the shim cannot drive a transaction before the cycle the harness had reached when it sent it
    this.input(port).push(bytes, this.now);
  }

  runUntil(cycle: number): void {
    this.mmio.flushOffered(this.now);
    this.cfg.flushOffered(this.now);
    while (this.now < cycle) {
      if (this.idle()) {
        const next = Math.min(this.mmio.startCycle, this.cfg.startCycle);
        if (next >= cycle) {
          this.now = cycle;
          return;
        }
        if (next > this.now) this.now = next;
      }
      this.step(this.now);
      this.now++;
    }
  }

  private output(port: string): OutReg {
    const reg = port === "m_fetch" ? this.fetch : port === "m_cq_arm" ? this.cqArm : port === "m_err" ? this.err : port === "m_cfg_rd" ? this.cfgRd : null;
    if (!reg) throw new Error(`doorbell twin: no output stream port "${port}" (output ports: ${DOORBELL_PORTS.out.join(", ")})`);
    return reg;
  }

  take(port: string): StreamTransaction[] {
    const { bytes, count } = this.output(port).out.takeView();
    return unpack(bytes.slice(), count, [], `doorbell twin: ${port}`);
  }

  /** the outputs, lent until the twin next runs (the scoreboard copies them) */
  takePacked(port: string): PackedTransactions {
    return this.output(port).out.takeView();
  }

  wires(): Record<string, number> {
    const s = this.stats;
    return {
      stat_doorbells: s.doorbells >>> 0,
      stat_coalesced: s.coalesced >>> 0,
      stat_rejected_owner: s.rejectedOwner >>> 0,
      stat_rejected_other: s.rejectedOther >>> 0,
      stat_fetches: s.fetches >>> 0,
    };
  }

  /** queues with work pending (for tests and reports) */
  pendingEntries(): number {
    return this.entries;
  }

  private idle(): boolean {
    return !this.s1Valid && this.entries === 0 && !this.fetch.valid && !this.cqArm.valid && !this.err.valid && !this.cfgRd.valid;
  }

  /** the reject reason of doorbell d against the tables as they are now, or 0 */
  private check(d: Decoded): number {
    if (d.badOffset) return RejectReason.badOffset;
    const isCq = d.kind === DoorbellKind.cq;
    const entries = isCq ? this.params.cqEntries : this.params.qpEntries;
    if (d.number >= entries) return RejectReason.invalidQueue;
    if (!(isCq ? this.cqValid : this.qpValid)[d.number]) return RejectReason.invalidQueue;
    if ((isCq ? this.cqUar : this.qpUar)[d.number] !== d.uar) return RejectReason.owner;
    if (isCq && d.cmd !== CqCommand.reqNotSol && d.cmd !== CqCommand.reqNot && d.cmd !== CqCommand.setCi) return RejectReason.badCommand;
    return 0;
  }

  private step(c: number): void {
    const P = this.params.pending;
    // 1. output handshakes
    const fR = this.alwaysReady || this.readyFetch(c);
    const cR = this.alwaysReady || this.readyCq(c);
    const eR = this.alwaysReady || this.readyErr(c);
    const rR = this.alwaysReady || this.readyCfgRd(c);
    const fHs = this.fetch.valid && fR;
    const cHs = this.cqArm.valid && cR;
    const eHs = this.err.valid && eR;
    const rHs = this.cfgRd.valid && rR;
    if (fHs) this.fetch.handshake(c);
    if (cHs) this.cqArm.handshake(c);
    if (eHs) this.err.handshake(c);
    if (rHs) this.cfgRd.handshake(c);
    const fetchFree = !this.fetch.valid || fR;
    const cqFree = !this.cqArm.valid || cR;
    const errFree = !this.err.valid || eR;

    // 2. round-robin grant: the first eligible entry at or after the pointer, else the first
    let g = -1;
    if (this.entries > 0) {
      const eligible = (cqFree ? this.cqMask : 0) | (fetchFree ? this.validMask & ~this.cqMask : 0);
      if (eligible !== 0) {
        const fromPtr = eligible & (-1 << this.ptr);
        const pick = fromPtr !== 0 ? fromPtr : eligible;
        g = 31 - Math.clz32(pick & -pick);
      }
    }

    // 3. the check stage
    const d = this.s1;
    const hasD = this.s1Valid;
    let advance = false;
    let reason = 0;
    let merge = -1;
    let alloc = -1;
    if (hasD) {
      reason = this.check(d);
      if (reason) {
        advance = errFree;
      } else {
        // at most one entry holds a queue (apart from one being granted this cycle)
        merge = this.entryOf[d.kind]![d.number]!;
        if (merge === g) merge = -1;
        if (merge < 0) {
          // the lowest free entry (the one being granted is not free yet)
          const free = ~this.validMask & (this.validMask + 1);
          const i = 31 - Math.clz32(free);
          if (free !== 0 && i < P) alloc = i;
        }
        advance = merge >= 0 || alloc >= 0;
      }
    }

    // 4. input handshake: s_mmio moves into the check stage when it is free or advances
    //    (decoded after the register updates below, which still need this cycle's doorbell)
    const m = this.mmio;
    const takeMmio = (!hasD || advance) && m.startCycle <= c;

    // 5. register updates
    if (fHs) this.fetch.valid = false;
    if (cHs) this.cqArm.valid = false;
    if (eHs) this.err.valid = false;
    if (rHs) this.cfgRd.valid = false;
    if (g >= 0) this.issue(g);
    if (hasD && advance) {
      this.stats.doorbells++;
      if (reason) {
        if (reason === RejectReason.owner) this.stats.rejectedOwner++;
        else this.stats.rejectedOther++;
        const v = this.err.values;
        v[0] = reason;
        v[1] = d.kind;
        v[2] = d.number;
        v[3] = d.offset;
        this.err.valid = true;
      } else if (merge >= 0) {
        this.stats.coalesced++;
        this.mergeInto(merge, d);
      } else {
        this.place(alloc, d);
      }
    }
    if (takeMmio) {
      decodeMmioInto(m.bytes, m.dataAt, Math.min(m.dataBytes, MmioWrite.sizeBytes), this.params.uarPages, d);
      m.shift();
      this.s1Valid = true;
    } else if (advance) {
      this.s1Valid = false;
    }

    // s_cfg (applied after the check stage has read the tables) waits while a read answer is not taken
    const q = this.cfg;
    if (q.startCycle <= c && !this.cfgRd.valid) {
      this.applyCfg(q.bytes, q.dataAt, q.dataBytes);
      q.shift();
    }
  }

  private issue(g: number): void {
    const P = this.params.pending;
    const kind = this.eKind[g]!;
    if (kind === DoorbellKind.cq) {
      const v = this.cqArm.values;
      v[0] = this.eNumber[g]!;
      v[1] = this.eSn[g]!;
      v[2] = this.eArm[g]!;
      v[3] = this.eCounter[g]!;
      v[4] = this.eDoorbells[g]!;
      this.cqArm.valid = true;
    } else {
      this.stats.fetches++;
      const v = this.fetch.values;
      v[0] = this.eNumber[g]!;
      v[1] = kind;
      v[2] = this.eFence[g]!;
      v[3] = this.eOpcode[g]!;
      v[4] = this.eCounter[g]!;
      v[5] = this.eSize[g]!;
      v[6] = this.eDoorbells[g]!;
      v[7] = this.eCount[g]!;
      this.fetch.valid = true;
    }
    const bit = 1 << g;
    this.validMask &= ~bit;
    this.cqMask &= ~bit;
    this.entryOf[kind]![this.eNumber[g]!] = -1;
    this.entries--;
    this.ptr = (g + 1) & (P - 1);
  }

  private place(i: number, d: Decoded): void {
    const bit = 1 << i;
    this.validMask |= bit;
    this.entries++;
    this.entryOf[d.kind]![d.number] = i;
    this.eKind[i] = d.kind;
    this.eNumber[i] = d.number;
    this.eCounter[i] = d.counter;
    const send = d.kind === DoorbellKind.send;
    this.eFence[i] = send ? d.fence : 0;
    this.eOpcode[i] = send ? d.opcode : 0;
    this.eSize[i] = send ? d.size : 0;
    this.eCount[i] = d.kind === DoorbellKind.receive ? d.nreq : 0;
    this.eDoorbells[i] = 1;
    const cq = d.kind === DoorbellKind.cq;
    if (cq) this.cqMask |= bit;
    this.eSn[i] = cq ? d.sn : 0;
    this.eArm[i] = cq ? armOf(d.cmd) : 0;
  }

  private mergeInto(i: number, d: Decoded): void {
    this.eCounter[i] = d.counter; // the latest producer counter (or consumer index) wins
    if (this.eDoorbells[i]! < 255) this.eDoorbells[i]!++;
    if (d.kind === DoorbellKind.receive) this.eCount[i] = Math.min(0xffff, this.eCount[i]! + d.nreq);
    if (d.kind === DoorbellKind.cq) {
      this.eSn[i] = d.sn;
      this.eArm[i] = Math.max(this.eArm[i]!, armOf(d.cmd));
    }
  }

  private applyCfg(rec: Uint8Array, at: number, length: number): void {
    let b = rec.subarray(at, at + length);
    if (b.length < CfgWrite.sizeBytes) {
      const padded = new Uint8Array(CfgWrite.sizeBytes);
      padded.set(b);
      b = padded;
    }
    const table = CfgWrite.get(b, 0, "table");
    const n = CfgWrite.get(b, 0, "number");
    if (CfgWrite.get(b, 0, "read") === 1) {
      // the entry as the writes before this cycle left it (this cycle's check read the same tables)
      const inQp = table === CfgTable.qp && n < this.params.qpEntries;
      const inCq = table === CfgTable.cq && n < this.params.cqEntries;
      const valid = inQp ? this.qpValid[n] === 1 : inCq ? this.cqValid[n] === 1 : false;
      const uar = inQp ? this.qpUar[n]! : inCq ? this.cqUar[n]! : 0;
      this.cfgRd.valid = true;
      this.cfgRd.bytes = cfgReadback(table, n, valid, uar);
      return;
    }
    const uar = CfgWrite.get(b, 0, "uar");
    const valid = CfgWrite.get(b, 0, "valid") === 1 && uar < this.params.uarPages ? 1 : 0;
    if (table === CfgTable.qp && n < this.params.qpEntries) {
      this.qpValid[n] = valid;
      this.qpUar[n] = uar & (this.params.uarPages - 1);
    } else if (table === CfgTable.cq && n < this.params.cqEntries) {
      this.cqValid[n] = valid;
      this.cqUar[n] = uar & (this.params.uarPages - 1);
    }
  }
}
