/**
 * A PCIe-like DMA engine: how the adapter reads and writes host memory (DESIGN.md §5).
 *
 *   device (this engine, its clock domain)                       host (root complex + memory)
 *     read() ─▶ split at MRRS ─▶ wait for a tag ─▶ MRd ═══ upstream link ══▶ + readLatency
 *     write() ─▶ split at MPS ─────────────────────▶ MWr ═══ upstream link ══▶ memory updated
 *     onComplete ◀─ reassemble ◀─ device edge ◀═══ downstream link ═══ CplD (split at RCB, ≤ MPS)
 *
 * What limits throughput, as on a real link (PCIe Base Spec r3.0):
 * - Read requests (MRd) ask for at most MRRS bytes and never cross a 4 KiB boundary
 *   (§2.2.7); this engine cuts them at MRRS-aligned addresses, as most DMA engines do.
 * - Each MRd holds a tag until its last completion arrives (§2.2.6.2); with all tags in
 *   use, further requests wait in order. Tags bound the reads in flight and so, with
 *   the read latency, the read throughput (Little's law).
 * - The completer returns the data in CplD TLPs of at most MPS bytes, split only at
 *   read completion boundary (RCB) aligned addresses (§2.3.1.1). Completions of one
 *   request arrive in address order; completions of different requests (tags) may
 *   interleave and overtake each other (§2.4.1): here the downstream arbiter picks among
 *   ready requests with a seeded Prng, and per-request latency jitter adds more.
 * - Posted writes (MWr) carry at most MPS bytes and never cross 4 KiB.
 * - Each direction is a serialiser of `bytesPerSecond`; every TLP costs its payload plus
 *   a fixed overhead (framing, header, LCRC). MRd and MWr share the upstream link: an
 *   arbiter alternates TLP by TLP between the write queue and the read queue, so a long
 *   write does not stall reads, nor reads a write. A read is eligible only once every
 *   write issued before it is on the link, so it arrives after them and sees their data
 *   (reads never pass posted writes, §2.4.1); writes do not wait behind reads waiting
 *   for a tag (posted requests may pass non-posted ones).
 *
 * Not modelled: flow-control credits (the upstream queue is unbounded; tags are the only
 * back-pressure), DLLPs (ACK/UpdateFC) beyond the per-TLP overhead, poisoned or
 * unsuccessful completions (an out-of-range address throws at `read`/`write`), and
 * relaxed ordering of writes.
 *
 * Times: links are modelled in picoseconds (serialisation rounded up per TLP to the
 * picosecond); the engine issues requests at its own clock edges and sees completions at
 * the first edge at or after they arrive.
 */

import { checkHostRange, HostMemory, isPowerOfTwo, type HostAddress } from "./host-memory.ts";
import { Component, type EventHandle, type Simulator } from "./kernel.ts";
import { Prng } from "./prng.ts";
import { StatsRegistry, type StatsScope } from "./stats.ts";
import { nsToPs, PS_PER_S, type ClockDomain, type Picoseconds } from "./time.ts";

/** PCIe Gen3 x16, one direction: 8 GT/s × 16 lanes × 128b/130b ÷ 8 [bytes/s] ≈ 15.75 GB/s */
export const PCIE_GEN3_X16_BYTES_PER_S = (8e9 * 16 * 128) / 130 / 8;
/** PCIe Gen4 x16, one direction [bytes/s] ≈ 31.5 GB/s */
export const PCIE_GEN4_X16_BYTES_PER_S = 2 * PCIE_GEN3_X16_BYTES_PER_S;

export interface DmaConfig {
  /** max read request size (Device Control register) [bytes]; 128…4096, power of two; default 512 */
  maxReadRequestBytes?: number;
  /** max payload size of MWr and CplD TLPs [bytes]; 128…4096, power of two; default 256 */
  maxPayloadBytes?: number;
  /** read completion boundary [bytes]; 64 or 128; completions split only at RCB-aligned addresses; default 64 */
  readCompletionBoundaryBytes?: number;
  /** tags: read requests in flight at once; 1…1024 (32 = 5-bit tags, 256 = extended tags); default 32 */
  tags?: number;
  /** host completer latency: MRd arrival at the root complex → its completions ready to send [ns]; default 500 */
  readLatencyNs?: number;
  /** extra completer latency per request, uniform in [0, jitter] from the seeded Prng [ns]; default 0 */
  readLatencyJitterNs?: number;
  /** one-way latency of the link (PHY, data link layer, wire), each direction [ns]; default 100 */
  linkLatencyNs?: number;
  /** upstream (device → host: MRd, MWr) bandwidth [bytes/s]; Infinity for none; default Gen3 x16 */
  upstreamBytesPerSecond?: number;
  /** downstream (host → device: CplD) bandwidth [bytes/s]; Infinity for none; default Gen3 x16 */
  downstreamBytesPerSecond?: number;
  /** wire bytes per MRd/MWr besides payload: Gen3 framing 4 + 4DW header 16 + LCRC 4 [bytes]; default 24 */
  requestOverheadBytes?: number;
  /** wire bytes per CplD besides payload: framing 4 + 3DW header 12 + LCRC 4 [bytes]; default 20 */
  completionOverheadBytes?: number;
  /** let completions of different tags interleave in a seeded random order (real root complexes do); default true */
  reorderCompletions?: boolean;
  /** the engine's random stream (reordering, jitter); default `new Prng(name)` — pass `root.fork(name)` */
  prng?: Prng;
  /** where statistics go; default a private registry scoped by name */
  stats?: StatsScope;
}

/** the resolved configuration, every default filled in */
export type ResolvedDmaConfig = Required<Omit<DmaConfig, "prng" | "stats">>;

export const DMA_DEFAULTS: ResolvedDmaConfig = {
  maxReadRequestBytes: 512,
  maxPayloadBytes: 256,
  readCompletionBoundaryBytes: 64,
  tags: 32,
  readLatencyNs: 500,
  readLatencyJitterNs: 0,
  linkLatencyNs: 100,
  upstreamBytesPerSecond: PCIE_GEN3_X16_BYTES_PER_S,
  downstreamBytesPerSecond: PCIE_GEN3_X16_BYTES_PER_S,
  requestOverheadBytes: 24,
  completionOverheadBytes: 20,
  reorderCompletions: true,
};

export type TlpType = "MRd" | "MWr" | "CplD";

/** one TLP on a link, as reported to `onTlp` observers when it is put on the link */
export interface DmaTlp {
  readonly type: TlpType;
  /** the request's tag (MRd, CplD); undefined for posted writes */
  readonly tag: number | undefined;
  /** first byte: requested (MRd), written (MWr) or carried (CplD) [address] */
  readonly addr: bigint;
  /** bytes requested (MRd) or carried (MWr, CplD) */
  readonly len: number;
  /** bytes on the wire: payload (none for MRd) + overhead */
  readonly wireBytes: number;
  /** first byte enters the link [ps] */
  readonly startPs: Picoseconds;
  /** last byte leaves the serialiser [ps] */
  readonly endPs: Picoseconds;
  /** seen by the far end: host arrival (MRd, MWr), device clock edge (CplD) [ps] */
  readonly arrivePs: Picoseconds;
}

/** one completion as the device saw it */
export interface DmaCompletion {
  readonly tag: number;
  readonly addr: bigint;
  /** where its bytes go in the read's buffer [bytes from the read's start] */
  readonly offset: number;
  readonly len: number;
  /** device clock edge at which it arrived [ps] */
  readonly atPs: Picoseconds;
  /** the last completion of its request: the tag is free again */
  readonly lastOfRequest: boolean;
}

export interface DmaReadResult {
  readonly id: number;
  readonly addr: bigint;
  readonly len: number;
  /** `read` was called [ps] */
  readonly issuedPs: Picoseconds;
  /** the last completion arrived [ps] */
  readonly completedPs: Picoseconds;
  /** every completion, in arrival order */
  readonly completions: readonly DmaCompletion[];
}

export interface DmaWriteResult {
  readonly id: number;
  readonly addr: bigint;
  readonly len: number;
  readonly issuedPs: Picoseconds;
  /** the last byte reached host memory [ps] (a real device is never told; the model is) */
  readonly donePs: Picoseconds;
  /** MWr TLPs it took */
  readonly tlps: number;
}

export interface DmaReadOptions {
  /** called at each completion's arrival with its payload, before the read as a whole completes */
  onCompletion?: (c: DmaCompletion, payload: Uint8Array) => void;
}

/** a piece of a transfer: `len` bytes at `offset` from its start */
export interface TlpPiece {
  readonly offset: number;
  readonly len: number;
}

/**
 * Splits `len` bytes starting at an address whose value modulo 2^32 is `addrLow` into
 * pieces of at most `maxBytes` that end at a multiple of `boundary` (all but the last).
 * With boundary = maxBytes (MRRS, MPS, both dividing 4096) this is the MRd/MWr split,
 * which never crosses 4 KiB; with boundary = RCB it is the completer's CplD split.
 */
export function splitTlps(addrLow: number, len: number, maxBytes: number, boundary: number): TlpPiece[] {
  const out: TlpPiece[] = [];
  const end = addrLow + len;
  for (let cur = addrLow; cur < end; ) {
    const next = Math.min(end, Math.floor((cur + maxBytes) / boundary) * boundary);
    out.push({ offset: cur - addrLow, len: next - cur });
    cur = next;
  }
  return out;
}

/** an address modulo 2^32: enough to place it against any boundary up to 4 KiB */
function low32(addr: bigint): number {
  return Number(BigInt.asUintN(32, addr));
}

interface ReadOp {
  readonly id: number;
  readonly addr: bigint;
  readonly len: number;
  readonly data: Uint8Array;
  remaining: number;
  readonly issuedPs: Picoseconds;
  readonly completions: DmaCompletion[];
  readonly onComplete: (data: Uint8Array, result: DmaReadResult) => void;
  readonly onCompletion?: (c: DmaCompletion, payload: Uint8Array) => void;
}

/** one MRd: a piece of a read, from tag allocation to its last completion */
interface ReadRequest {
  readonly op: ReadOp;
  readonly offset: number;
  readonly len: number;
  /** write ops issued before it: it may go on the link once that many are fully on it */
  readonly afterWrites: number;
  tag: number;
  tagPs: Picoseconds;
  remaining: number;
  // at the completer:
  readyPs: Picoseconds;
  cpls: TlpPiece[];
  data: Uint8Array;
  nextCpl: number;
}

/** one MWr of a write op, queued for the upstream link */
interface WriteTlp {
  readonly w: WriteOp;
  readonly piece: TlpPiece;
  readonly last: boolean;
  /** MWr TLPs in its write op */
  readonly count: number;
}

/** a FIFO with O(1) shift */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peek(): T | undefined {
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head];
    this.items[this.head++] = undefined as T;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return x;
  }
}

interface WriteOp {
  readonly id: number;
  readonly addr: bigint;
  readonly bytes: Uint8Array;
  readonly issuedPs: Picoseconds;
  readonly onDone?: (result: DmaWriteResult) => void;
}

export class DmaEngine extends Component {
  readonly config: ResolvedDmaConfig;
  readonly stats: StatsScope;

  private readonly prng: Prng;
  private readonly readLatencyPs: Picoseconds;
  private readonly jitterPs: Picoseconds;
  private readonly linkLatencyPs: Picoseconds;

  private nextId = 0;
  // requests made since the last clock edge; they reach the link queues at the next edge
  private newReads: ReadRequest[] = [];
  private newWrites: WriteTlp[] = [];
  // MRds waiting for the link (and a tag), and MWrs waiting for the link, oldest first
  private readonly readQueue = new Fifo<ReadRequest>();
  private readonly writeQueue = new Fifo<WriteTlp>();
  private writesCalled = 0;
  private writesOnLink = 0;
  private readTurn = false;
  private upArbiter: EventHandle | undefined;
  private readonly tagBusy: boolean[];
  private inUse = 0;
  private readonly tagTimePs: number[];
  private tagChangedPs: Picoseconds = 0;
  private readsInFlight = 0;
  private writesInFlight = 0;

  // the upstream serialiser is free from this time on
  private upFreePs: Picoseconds = 0;
  private downFreePs: Picoseconds = 0;
  // requests with completions still to send, by ready time (ties in arrival order)
  private readonly atCompleter: ReadRequest[] = [];
  private arbiter: EventHandle | undefined;
  private readonly tlpObservers: Array<(t: DmaTlp) => void> = [];

  constructor(
    sim: Simulator,
    name: string,
    domain: ClockDomain,
    /** the host memory it reaches */
    readonly memory: HostMemory,
    config: DmaConfig = {},
  ) {
    super(sim, name, domain);
    const c: ResolvedDmaConfig = { ...DMA_DEFAULTS };
    for (const k of Object.keys(DMA_DEFAULTS) as Array<keyof ResolvedDmaConfig>) {
      if (config[k] !== undefined) (c as Record<string, unknown>)[k] = config[k];
    }
    validate(name, c);
    this.config = c;
    this.prng = config.prng ?? new Prng(name);
    this.stats = config.stats ?? new StatsRegistry().scope(name);
    this.readLatencyPs = nsToPs(c.readLatencyNs);
    this.jitterPs = nsToPs(c.readLatencyJitterNs);
    this.linkLatencyPs = nsToPs(c.linkLatencyNs);
    this.tagBusy = new Array<boolean>(c.tags).fill(false);
    this.tagTimePs = new Array<number>(c.tags + 1).fill(0);
  }

  /**
   * Reads `len` (≥ 1) bytes at `addr`. `onComplete` gets the data when the last
   * completion has arrived. Returns the read's id. Host memory is sampled when each MRd
   * reaches the completer.
   */
  read(addr: HostAddress, len: number, onComplete: (data: Uint8Array, result: DmaReadResult) => void, options: DmaReadOptions = {}): number {
    const a = checkHostRange(addr, len, `${this.name}: read`);
    if (len < 1) throw new RangeError(`${this.name}: read of ${len} bytes (need ≥ 1)`);
    const op: ReadOp = {
      id: this.nextId++,
      addr: a,
      len,
      data: new Uint8Array(len),
      remaining: len,
      issuedPs: this.now,
      completions: [],
      onComplete,
      onCompletion: options.onCompletion,
    };
    const mrrs = this.config.maxReadRequestBytes;
    for (const p of splitTlps(low32(a), len, mrrs, mrrs)) {
      this.newReads.push({ op, offset: p.offset, len: p.len, afterWrites: this.writesCalled, tag: -1, tagPs: 0, remaining: p.len, readyPs: 0, cpls: [], data: EMPTY, nextCpl: 0 });
    }
    this.readsInFlight++;
    this.stats.counter("reads").inc();
    this.wakeAtPs(this.now);
    return op.id;
  }

  /**
   * Writes `bytes` (copied now; ≥ 1 byte) at `addr` as posted MWr TLPs. `onDone`, if given,
   * is called when the last TLP has reached host memory. Returns the write's id.
   */
  write(addr: HostAddress, bytes: Uint8Array, onDone?: (result: DmaWriteResult) => void): number {
    const a = checkHostRange(addr, bytes.length, `${this.name}: write`);
    if (bytes.length < 1) throw new RangeError(`${this.name}: write of 0 bytes`);
    const id = this.nextId++;
    const w: WriteOp = { id, addr: a, bytes: bytes.slice(), issuedPs: this.now, onDone };
    const mps = this.config.maxPayloadBytes;
    const pieces = splitTlps(low32(a), bytes.length, mps, mps);
    pieces.forEach((piece, i) => this.newWrites.push({ w, piece, last: i === pieces.length - 1, count: pieces.length }));
    this.writesCalled++;
    this.writesInFlight++;
    this.stats.counter("writes").inc();
    this.wakeAtPs(this.now);
    return id;
  }

  /** calls `observer` for every TLP put on either link; returns its remover */
  onTlp(observer: (t: DmaTlp) => void): () => void {
    this.tlpObservers.push(observer);
    return () => {
      const i = this.tlpObservers.indexOf(observer);
      if (i >= 0) this.tlpObservers.splice(i, 1);
    };
  }

  /** tags held by read requests now */
  get tagsInUse(): number {
    return this.inUse;
  }

  /** reads and writes not yet complete */
  get busy(): boolean {
    return this.readsInFlight > 0 || this.writesInFlight > 0;
  }

  /**
   * Time spent with k tags in use, for k = 0…tags [ps], up to now: the time-weighted
   * tag occupancy (the `tags_in_use` histogram samples it at each allocation instead).
   */
  tagOccupancyPs(): number[] {
    const t = this.tagTimePs.slice();
    t[this.inUse] += this.now - this.tagChangedPs;
    return t;
  }

  /** wire time of a TLP of `bytes` on a link of `bytesPerSecond`, rounded up [ps] */
  static serialisePs(bytes: number, bytesPerSecond: number): Picoseconds {
    return bytesPerSecond === Infinity ? 0 : Math.ceil((bytes * PS_PER_S) / bytesPerSecond);
  }

  override onWake(): void {
    for (const r of this.newReads) this.readQueue.push(r);
    for (const w of this.newWrites) this.writeQueue.push(w);
    this.newReads = [];
    this.newWrites = [];
    this.kickUpstream();
  }

  // --- upstream: device → host

  /** runs the upstream arbiter when the link is free, if anything is queued */
  private kickUpstream(): void {
    if (this.upArbiter !== undefined || (this.readQueue.length === 0 && this.writeQueue.length === 0)) return;
    this.upArbiter = this.sim.schedule(Math.max(this.now, this.upFreePs), () => {
      this.upArbiter = undefined;
      this.arbitrateUpstream();
    });
  }

  /**
   * Puts one TLP on the free upstream link: the next MWr or the next MRd, alternating when
   * both are eligible. Stops when nothing is eligible (a read waiting for a tag is kicked
   * again when a tag frees).
   */
  private arbitrateUpstream(): void {
    const w = this.writeQueue.peek();
    const r = this.readQueue.peek();
    const readOk = r !== undefined && this.inUse < this.config.tags && this.writesOnLink >= r.afterWrites;
    if (w === undefined && !readOk) return;
    if (readOk && (w === undefined || this.readTurn)) {
      this.readQueue.shift();
      this.readTurn = false;
      this.sendRead(r!);
    } else {
      this.writeQueue.shift();
      this.readTurn = true;
      this.sendWrite(w!);
    }
    this.kickUpstream();
  }

  /** puts a TLP on the upstream link (free now); returns [start, end, arrival at host] */
  private upstream(wireBytes: number): [Picoseconds, Picoseconds, Picoseconds] {
    const start = Math.max(this.now, this.upFreePs);
    const end = start + DmaEngine.serialisePs(wireBytes, this.config.upstreamBytesPerSecond);
    this.upFreePs = end;
    this.stats.counter("upstream_bytes").add(wireBytes);
    return [start, end, end + this.linkLatencyPs];
  }

  private sendWrite(t: WriteTlp): void {
    const { w, piece, last, count } = t;
    const addr = w.addr + BigInt(piece.offset);
    const wire = piece.len + this.config.requestOverheadBytes;
    const [start, end, arrive] = this.upstream(wire);
    this.stats.counter("mwr_tlps").inc();
    this.stats.counter("upstream_payload_bytes").add(piece.len);
    if (last) this.writesOnLink++;
    this.emit({ type: "MWr", tag: undefined, addr, len: piece.len, wireBytes: wire, startPs: start, endPs: end, arrivePs: arrive });
    const payload = w.bytes.subarray(piece.offset, piece.offset + piece.len);
    this.sim.schedule(arrive, () => {
      this.memory.write(addr, payload, this.name);
      if (!last) return;
      this.writesInFlight--;
      w.onDone?.({ id: w.id, addr: w.addr, len: w.bytes.length, issuedPs: w.issuedPs, donePs: arrive, tlps: count });
    });
  }

  private sendRead(req: ReadRequest): void {
    // the lowest free tag: deterministic, and what simple tag allocators do
    const tag = this.tagBusy.indexOf(false);
    this.tagBusy[tag] = true;
    this.setInUse(this.inUse + 1);
    this.stats.histogram("tags_in_use").record(this.inUse);
    req.tag = tag;
    req.tagPs = this.now;
    const addr = req.op.addr + BigInt(req.offset);
    const wire = this.config.requestOverheadBytes;
    const [start, end, arrive] = this.upstream(wire);
    this.stats.counter("mrd_tlps").inc();
    this.emit({ type: "MRd", tag, addr, len: req.len, wireBytes: wire, startPs: start, endPs: end, arrivePs: arrive });
    const jitter = this.jitterPs > 0 ? this.prng.int(0, this.jitterPs) : 0;
    this.sim.schedule(arrive, () => this.atRootComplex(req, addr, arrive + this.readLatencyPs + jitter));
  }

  // --- at the host: the completer, and the downstream link

  private atRootComplex(req: ReadRequest, addr: bigint, readyPs: Picoseconds): void {
    // Sampled on arrival: every posted write that went upstream before this MRd is in.
    req.data = this.memory.read(addr, req.len, this.name);
    const c = this.config;
    req.cpls = splitTlps(low32(addr), req.len, c.maxPayloadBytes, c.readCompletionBoundaryBytes);
    req.readyPs = readyPs;
    // kept in order of readiness; equal times stay in arrival order
    const q = this.atCompleter;
    let i = q.length;
    while (i > 0 && q[i - 1].readyPs > readyPs) i--;
    q.splice(i, 0, req);
    this.scheduleArbiter();
  }

  /** (re)schedules the downstream arbiter for when the link is free and a completion is ready */
  private scheduleArbiter(): void {
    if (this.atCompleter.length === 0) return;
    const at = Math.max(this.now, this.downFreePs, this.atCompleter[0].readyPs);
    if (this.arbiter !== undefined) {
      if (this.arbiter.atPs <= at) return;
      this.sim.cancel(this.arbiter);
    }
    this.arbiter = this.sim.schedule(at, () => {
      this.arbiter = undefined;
      this.sendCompletion();
    });
  }

  private sendCompletion(): void {
    const now = this.now;
    const q = this.atCompleter;
    let ready = 0;
    while (ready < q.length && q[ready].readyPs <= now) ready++;
    if (ready > 0) {
      // In order within a request (its next completion); across requests, any ready one.
      const k = this.config.reorderCompletions && ready > 1 ? this.prng.int(0, ready - 1) : 0;
      const req = q[k];
      const piece = req.cpls[req.nextCpl++];
      if (req.nextCpl === req.cpls.length) q.splice(k, 1);
      const wire = piece.len + this.config.completionOverheadBytes;
      const start = Math.max(now, this.downFreePs);
      const end = start + DmaEngine.serialisePs(wire, this.config.downstreamBytesPerSecond);
      this.downFreePs = end;
      // the device's PCIe core hands it over at its next clock edge
      const arrive = this.domain.cycleToPs(this.domain.psToCycle(end + this.linkLatencyPs));
      const addr = req.op.addr + BigInt(req.offset + piece.offset);
      this.stats.counter("cpld_tlps").inc();
      this.stats.counter("downstream_bytes").add(wire);
      this.stats.counter("downstream_payload_bytes").add(piece.len);
      this.emit({ type: "CplD", tag: req.tag, addr, len: piece.len, wireBytes: wire, startPs: start, endPs: end, arrivePs: arrive });
      const payload = req.data.subarray(piece.offset, piece.offset + piece.len);
      this.sim.schedule(arrive, () => this.atDevice(req, addr, piece, payload, arrive));
    }
    this.scheduleArbiter();
  }

  // --- back at the device

  private atDevice(req: ReadRequest, addr: bigint, piece: TlpPiece, payload: Uint8Array, atPs: Picoseconds): void {
    const op = req.op;
    const offset = req.offset + piece.offset;
    op.data.set(payload, offset);
    req.remaining -= piece.len;
    const last = req.remaining === 0;
    const cpl: DmaCompletion = { tag: req.tag, addr, offset, len: piece.len, atPs, lastOfRequest: last };
    op.completions.push(cpl);
    if (last) {
      this.tagBusy[req.tag] = false;
      this.setInUse(this.inUse - 1);
      this.stats.histogram("request_latency_ps").record(atPs - req.tagPs);
      // a freed tag may be taken in this same cycle
      this.kickUpstream();
    }
    op.onCompletion?.(cpl, payload);
    op.remaining -= piece.len;
    if (op.remaining === 0) {
      this.readsInFlight--;
      this.stats.histogram("read_latency_ps").record(atPs - op.issuedPs);
      op.onComplete(op.data, { id: op.id, addr: op.addr, len: op.len, issuedPs: op.issuedPs, completedPs: atPs, completions: op.completions });
    }
  }

  private setInUse(n: number): void {
    this.tagTimePs[this.inUse] += this.now - this.tagChangedPs;
    this.tagChangedPs = this.now;
    this.inUse = n;
  }

  private emit(t: DmaTlp): void {
    for (const o of this.tlpObservers) o(t);
  }
}

const EMPTY = new Uint8Array(0);

function validate(name: string, c: ResolvedDmaConfig): void {
  const fail = (msg: string): never => {
    throw new RangeError(`DmaEngine "${name}": ${msg}`);
  };
  const pow2In = (k: keyof ResolvedDmaConfig, lo: number, hi: number): void => {
    const v = c[k] as number;
    if (!isPowerOfTwo(v) || v < lo || v > hi) fail(`${k} must be a power of two in [${lo}, ${hi}], got ${v}`);
  };
  pow2In("maxReadRequestBytes", 128, 4096);
  pow2In("maxPayloadBytes", 128, 4096);
  pow2In("readCompletionBoundaryBytes", 64, 128);
  if (!Number.isSafeInteger(c.tags) || c.tags < 1 || c.tags > 1024) fail(`tags must be a whole number in [1, 1024], got ${c.tags}`);
  for (const k of ["readLatencyNs", "readLatencyJitterNs", "linkLatencyNs"] as const) {
    if (!(Number.isFinite(c[k]) && c[k] >= 0)) fail(`${k} must be a finite number ≥ 0, got ${c[k]}`);
  }
  for (const k of ["upstreamBytesPerSecond", "downstreamBytesPerSecond"] as const) {
    if (!(c[k] > 0)) fail(`${k} must be > 0 (Infinity for no limit), got ${c[k]}`);
  }
  for (const k of ["requestOverheadBytes", "completionOverheadBytes"] as const) {
    if (!(Number.isSafeInteger(c[k]) && c[k] >= 0)) fail(`${k} must be a whole number ≥ 0, got ${c[k]}`);
  }
}
