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
import { RecordSlab } from "../../core/record-slab.ts";
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import type { Layout } from "../../core/layout.ts";
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
interface Decoded {
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

/** an input stream's transactions not yet taken: records and earliest cycles, side by side (no object per transaction) */
interface InQueue {
  data: Uint8Array[];
  at: number[];
  head: number;
}

/** outputs carry no user fields; one shared, frozen object instead of one per transaction */
const NO_USER: Record<string, number> = Object.freeze({});

const READY = (): boolean => true;

const mOffset = MmioWrite.accessor("offset");
const mLength = MmioWrite.accessor("length");
const sCounter = SendDoorbell.accessor("counter");
const sFence = SendDoorbell.accessor("fence");
const sOpcode = SendDoorbell.accessor("opcode");
const sQpn = SendDoorbell.accessor("qpn");
const sSize = SendDoorbell.accessor("size");
const rCounter = ReceiveDoorbell.accessor("counter");
const rQpn = ReceiveDoorbell.accessor("qpn");
const rNreq = ReceiveDoorbell.accessor("nreq");
const cSn = CqDoorbell.accessor("sn");
const cCmd = CqDoorbell.accessor("cmd");
const cCqn = CqDoorbell.accessor("cqn");
const cCi = CqDoorbell.accessor("ci");
const DATA = MmioWrite.field("data").byteOffset;

/** decodes an s_mmio record (16 bytes; shorter records read as zero-padded, as the RTL sees them) */
export function decodeMmio(rec: Uint8Array, uarPages: number): Decoded {
  const b = rec.length >= MmioWrite.sizeBytes ? rec : padded(rec);
  const offset = mOffset.get(b, 0);
  const length = mLength.get(b, 0);
  const uar = offset >>> UAR_PAGE_SHIFT;
  const page = offset & 0xfff;
  let kind: number = DoorbellKind.unknown;
  if (page === DoorbellOffset.send) kind = DoorbellKind.send;
  else if (page === DoorbellOffset.receive) kind = DoorbellKind.receive;
  else if (page === DoorbellOffset.cq) kind = DoorbellKind.cq;
  const badOffset = uar >= uarPages || kind === DoorbellKind.unknown || length !== DOORBELL_WRITE_BYTES;
  const d: Decoded = { offset, kind, uar, badOffset, number: 0, counter: 0, fence: 0, opcode: 0, size: 0, nreq: 0, sn: 0, cmd: 0 };
  if (badOffset) {
    d.kind = DoorbellKind.unknown;
  } else if (kind === DoorbellKind.send) {
    d.number = sQpn.get(b, DATA);
    d.counter = sCounter.get(b, DATA);
    d.fence = sFence.get(b, DATA);
    d.opcode = sOpcode.get(b, DATA);
    d.size = sSize.get(b, DATA);
  } else if (kind === DoorbellKind.receive) {
    d.number = rQpn.get(b, DATA);
    d.counter = rCounter.get(b, DATA);
    d.nreq = rNreq.get(b, DATA);
  } else {
    d.number = cCqn.get(b, DATA);
    d.counter = cCi.get(b, DATA);
    d.sn = cSn.get(b, DATA);
    d.cmd = cCmd.get(b, DATA);
  }
  return d;
}

function padded(rec: Uint8Array): Uint8Array {
  const b = new Uint8Array(MmioWrite.sizeBytes);
  b.set(rec.subarray(0, MmioWrite.sizeBytes));
  return b;
}

/** output records: views into shared chunks, not an ArrayBuffer each */
const OUTPUT_SLAB = new RecordSlab();

/**
 * A writer for the integer fields `names` (each ≤ 32 bits) of `layout`: a record per call,
 * cut from the output slab and filled by the layout's generated codec (Layout.codec), since
 * Layout.encode's generality costs a third of the twin's time. doorbell-twin.test.ts checks
 * it against Layout.encode.
 */
export function recordWriter(layout: Layout, names: readonly string[]): (values: ArrayLike<number>) => Uint8Array {
  const codec = layout.codec(names);
  if (codec.slots !== names.length) throw new Error(`recordWriter: ${layout.name} has fields wider than 32 bits among ${names.join(", ")} (use Layout.codec)`);
  const size = layout.sizeBytes;
  return (values) => {
    const b = OUTPUT_SLAB.take(size);
    codec.write(b, 0, values);
    return b;
  };
}

const FETCH_FIELDS = ["qpn", "kind", "fence", "opcode", "counter", "size", "doorbells", "count"] as const;
const CQ_FIELDS = ["cqn", "sn", "arm", "ci", "doorbells"] as const;
const ERR_FIELDS = ["reason", "kind", "number", "offset"] as const;
const writeFetch = recordWriter(FetchRequest, FETCH_FIELDS);
const writeCq = recordWriter(CqArmUpdate, CQ_FIELDS);
const writeErr = recordWriter(DoorbellError, ERR_FIELDS);

function armOf(cmd: number): number {
  return cmd === CqCommand.reqNot ? CqArm.next : cmd === CqCommand.reqNotSol ? CqArm.solicited : CqArm.none;
}

/** one output register of the RTL: the record loaded and whether it is valid */
class OutReg {
  valid = false;
  data: Uint8Array = new Uint8Array(0);
  readonly done: StreamTransaction[] = [];
}

export class DoorbellTwin implements BlockTwin {
  readonly block = "doorbell";
  readonly params: DoorbellParams;
  /** every cycle below this has been simulated */
  private now = 0;

  private readonly mmio: InQueue = { data: [], at: [], head: 0 };
  private readonly cfg: InQueue = { data: [], at: [], head: 0 };
  private readonly lastStart = { s_mmio: 0, s_cfg: 0 };

  // ownership tables
  private readonly qpValid: Uint8Array;
  private readonly qpUar: Uint32Array;
  private readonly cqValid: Uint8Array;
  private readonly cqUar: Uint32Array;

  // the check stage
  private s1: Decoded | null = null;

  // the pending table
  private readonly eValid: Uint8Array;
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
  private entries = 0;
  private ptr = 0;

  private readonly fetch = new OutReg();
  private readonly cqArm = new OutReg();
  private readonly err = new OutReg();
  private readonly cfgRd = new OutReg();
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
    this.params = p;
    this.qpValid = new Uint8Array(p.qpEntries);
    this.qpUar = new Uint32Array(p.qpEntries);
    this.cqValid = new Uint8Array(p.cqEntries);
    this.cqUar = new Uint32Array(p.cqEntries);
    const n = p.pending;
    this.eValid = new Uint8Array(n);
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
    const r = opts.outputReady ?? {};
    this.readyFetch = r.m_fetch ?? READY;
    this.readyCq = r.m_cq_arm ?? READY;
    this.readyErr = r.m_err ?? READY;
    this.readyCfgRd = r.m_cfg_rd ?? READY;
    this.alwaysReady = !r.m_fetch && !r.m_cq_arm && !r.m_err && !r.m_cfg_rd;
  }

  offer(port: string, txn: StreamTransaction): void {
    if (port !== "s_mmio" && port !== "s_cfg") {
      throw new Error(`doorbell twin: no input stream port "${port}" (input ports: ${DOORBELL_PORTS.in.join(", ")})`);
    }
    if (txn.startCycle < this.lastStart[port]) {
      throw new Error(`doorbell twin: ${port} startCycle ${txn.startCycle} is before the previous transaction's ${this.lastStart[port]}`);
    }
    this.lastStart[port] = txn.startCycle;
    // the shim cannot drive a transaction before the cycle the harness had reached when it sent it
    const q = port === "s_mmio" ? this.mmio : this.cfg;
    q.data.push(txn.data);
    q.at.push(Math.max(txn.startCycle, this.now));
  }

  runUntil(cycle: number): void {
    while (this.now < cycle) {
      if (this.idle()) {
        const next = Math.min(this.nextAt(this.mmio), this.nextAt(this.cfg));
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

  take(port: string): StreamTransaction[] {
    const reg = port === "m_fetch" ? this.fetch : port === "m_cq_arm" ? this.cqArm : port === "m_err" ? this.err : port === "m_cfg_rd" ? this.cfgRd : null;
    if (!reg) throw new Error(`doorbell twin: no output stream port "${port}" (output ports: ${DOORBELL_PORTS.out.join(", ")})`);
    return reg.done.splice(0, reg.done.length);
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
    return this.s1 === null && this.entries === 0 && !this.fetch.valid && !this.cqArm.valid && !this.err.valid && !this.cfgRd.valid;
  }

  private nextAt(q: InQueue): number {
    return q.head < q.at.length ? q.at[q.head]! : Infinity;
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
    if (fHs) this.fetch.done.push({ data: this.fetch.data, user: NO_USER, startCycle: c, endCycle: c });
    if (cHs) this.cqArm.done.push({ data: this.cqArm.data, user: NO_USER, startCycle: c, endCycle: c });
    if (eHs) this.err.done.push({ data: this.err.data, user: NO_USER, startCycle: c, endCycle: c });
    if (rHs) this.cfgRd.done.push({ data: this.cfgRd.data, user: NO_USER, startCycle: c, endCycle: c });
    const fetchFree = !this.fetch.valid || fR;
    const cqFree = !this.cqArm.valid || cR;
    const errFree = !this.err.valid || eR;

    // 2. round-robin grant
    let g = -1;
    if (this.entries > 0) {
      for (let k = 0; k < P; k++) {
        const i = (this.ptr + k) & (P - 1);
        if (this.eValid[i] && (this.eKind[i] === DoorbellKind.cq ? cqFree : fetchFree)) {
          g = i;
          break;
        }
      }
    }

    // 3. the check stage
    const d = this.s1;
    let advance = false;
    let reason = 0;
    let merge = -1;
    let alloc = -1;
    if (d) {
      reason = this.check(d);
      if (reason) {
        advance = errFree;
      } else {
        for (let i = 0; i < P; i++) {
          if (this.eValid[i] && i !== g && this.eKind[i] === d.kind && this.eNumber[i] === d.number) {
            merge = i;
            break;
          }
        }
        if (merge < 0) {
          for (let i = 0; i < P; i++) {
            if (!this.eValid[i]) {
              alloc = i;
              break;
            }
          }
        }
        advance = merge >= 0 || alloc >= 0;
      }
    }

    // 4. input handshakes
    let nextS1 = advance ? null : d;
    if (d === null || advance) {
      const m = this.mmio;
      if (m.head < m.at.length && m.at[m.head]! <= c) {
        nextS1 = decodeMmio(m.data[m.head]!, this.params.uarPages);
        this.shift(m);
      }
    }
    // (the s_cfg write is applied below, after the check stage has read the tables)

    // 5. register updates
    if (fHs) this.fetch.valid = false;
    if (cHs) this.cqArm.valid = false;
    if (eHs) this.err.valid = false;
    if (rHs) this.cfgRd.valid = false;
    if (g >= 0) this.issue(g);
    if (d && advance) {
      this.stats.doorbells++;
      if (reason) {
        if (reason === RejectReason.owner) this.stats.rejectedOwner++;
        else this.stats.rejectedOther++;
        this.err.valid = true;
        this.err.data = writeErr([reason, d.kind, d.number, d.offset]);
      } else if (merge >= 0) {
        this.stats.coalesced++;
        this.mergeInto(merge, d);
      } else {
        this.place(alloc, d);
      }
    }
    this.s1 = nextS1;

    // s_cfg waits while a read answer is not taken
    const q = this.cfg;
    if (q.head < q.at.length && q.at[q.head]! <= c && (!this.cfgRd.valid || rHs)) {
      this.applyCfg(q.data[q.head]!);
      this.shift(q);
    }
  }

  private shift(q: InQueue): void {
    q.head++;
    if (q.head > 4096 && q.head * 2 > q.at.length) {
      q.data.splice(0, q.head);
      q.at.splice(0, q.head);
      q.head = 0;
    }
  }

  private issue(g: number): void {
    const P = this.params.pending;
    if (this.eKind[g] === DoorbellKind.cq) {
      this.cqArm.valid = true;
      this.cqArm.data = writeCq([this.eNumber[g], this.eSn[g], this.eArm[g], this.eCounter[g], this.eDoorbells[g]]);
    } else {
      this.stats.fetches++;
      this.fetch.valid = true;
      const g8 = g;
      this.fetch.data = writeFetch([
        this.eNumber[g8], this.eKind[g8], this.eFence[g8], this.eOpcode[g8],
        this.eCounter[g8], this.eSize[g8], this.eDoorbells[g8], this.eCount[g8],
      ]);
    }
    this.eValid[g] = 0;
    this.entries--;
    this.ptr = (g + 1) & (P - 1);
  }

  private place(i: number, d: Decoded): void {
    this.eValid[i] = 1;
    this.entries++;
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
    this.eSn[i] = cq ? d.sn : 0;
    this.eArm[i] = cq ? armOf(d.cmd) : 0;
  }

  private mergeInto(i: number, d: Decoded): void {
    this.eCounter[i] = d.counter; // the latest producer counter (or consumer index) wins
    if (this.eDoorbells[i] < 255) this.eDoorbells[i]++;
    if (d.kind === DoorbellKind.receive) this.eCount[i] = Math.min(0xffff, this.eCount[i] + d.nreq);
    if (d.kind === DoorbellKind.cq) {
      this.eSn[i] = d.sn;
      this.eArm[i] = Math.max(this.eArm[i], armOf(d.cmd));
    }
  }

  private applyCfg(rec: Uint8Array): void {
    const b = rec.length >= CfgWrite.sizeBytes ? rec : padded(rec);
    const table = CfgWrite.get(b, 0, "table");
    const n = CfgWrite.get(b, 0, "number");
    if (CfgWrite.get(b, 0, "read") === 1) {
      // the entry as the writes before this cycle left it (this cycle's check read the same tables)
      const inQp = table === CfgTable.qp && n < this.params.qpEntries;
      const inCq = table === CfgTable.cq && n < this.params.cqEntries;
      const valid = inQp ? this.qpValid[n] === 1 : inCq ? this.cqValid[n] === 1 : false;
      const uar = inQp ? this.qpUar[n] : inCq ? this.cqUar[n] : 0;
      this.cfgRd.valid = true;
      this.cfgRd.data = cfgReadback(table, n, valid, uar);
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
