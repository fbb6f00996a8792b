/**
 * A QP as the transport holds it: its configuration and attributes, the send queue of
 * work requests with each one's PSN range and progress, the receive queue, and the state
 * each stage keeps (requester cursor and timers, completer cursor, responder expected PSN,
 * message in progress, responder resources and the queue of responses to send).
 * Every per-WQE and per-response record is preallocated and reused.
 */
import { ackTimeoutPs } from "./aeth.ts";
import { Grh, GRH_IPVER, Ipv4 } from "../headers/index.ts";
import { GRH_BYTES, type TransportPacket } from "./packet.ts";
import { KeyCheck } from "./protection.ts";
import { QpState, type QpStateValue } from "./qp-state.ts";
import { SgeList, sgeLists } from "./sgl.ts";
import { ATOMIC_ARGS_BYTES, INLINE_BYTES, type AddressVector, WrFields } from "./work-request.ts";

export type QpType = "RC" | "UD";

/** fixed at creation */
export interface QpConfig {
  readonly qpn: number;
  readonly type: QpType;
  /** protection domain its keys must belong to */
  readonly pd: number;
  readonly sendCqn: number;
  readonly recvCqn: number;
  /** log2 of send-queue slots; default 8 */
  readonly logSqSize?: number;
  /** log2 of receive-queue slots; default 8 */
  readonly logRqSize?: number;
}

/** modifyQp attributes; each is kept for later transitions once given */
export interface QpAttributes {
  readonly state: QpStateValue;
  /** RC: the peer QP */
  readonly remoteQpn?: number;
  /** first PSN the responder expects */
  readonly rqPsn?: number;
  /** first PSN the requester sends */
  readonly sqPsn?: number;
  /** path MTU [bytes]: 256, 512, 1024, 2048 or 4096 */
  readonly mtu?: number;
  /** P_Key sent and matched; default 0xffff */
  readonly pkey?: number;
  /** UD: Q_Key received datagrams must carry (and sent when a WR's Q_Key is privileged) */
  readonly qkey?: number;
  /** local ACK timeout exponent (4.096 µs × 2^timeout; 0 = none); default 14 */
  readonly timeout?: number;
  /** retries after a timeout or PSN sequence NAK, 0..7; default 7 */
  readonly retryCount?: number;
  /** retries after an RNR NAK, 0..7 (7 = without limit); default 7 */
  readonly rnrRetry?: number;
  /** RNR timer code the responder sends in its RNR NAKs (aeth.ts RNR_TIMER_US); default 1 (10 µs) */
  readonly minRnrTimer?: number;
  /** initiator depth: RDMA reads and atomics in flight; default 4 */
  readonly maxRdAtomic?: number;
  /** responder resources: reads and atomics remembered for duplicates; default 4 */
  readonly maxDestRdAtomic?: number;
  /** remote operations the responder allows (Access.remoteRead | remoteWrite | remoteAtomic); default all three */
  readonly access?: number;
  /** RC: where packets go */
  readonly path?: AddressVector;
  /** most PSNs sent and not yet acknowledged; default 128 */
  readonly window?: number;
  /** AckReq at least every this many packets inside a long message; default 64 */
  readonly ackReqEvery?: number;
}

export const WqeStatus = { idle: 0, posted: 1, done: 2 } as const;

/** one send-queue slot */
export class SendWqe extends WrFields {
  /** WQE counter (posted order) */
  index = 0;
  status: number = WqeStatus.idle;
  /** the local SGEs and lengths passed their checks; PSNs are assigned */
  prepared = false;
  /** read/atomic counted in the initiator depth */
  counted = false;
  /** a local error (WcStatus) found while sending it: it completes with it once everything before it has */
  localError = 0;
  firstPsn = 0;
  lastPsn = 0;
  // UD destination
  remoteQpn = 0;
  qkey = 0;
  dlid = 0;
  sl = 0;
  hasGrh = false;

  constructor(sgl?: SgeList, atomicArgs?: Uint8Array, inline?: Uint8Array, readonly grh: Uint8Array = new Uint8Array(GRH_BYTES)) {
    super(sgl, atomicArgs, inline);
  }
}

/** one receive-queue slot */
export class RecvWqe {
  index = 0;
  constructor(readonly sgl: SgeList = new SgeList()) {}
}

/**
 * `count` send-queue slots. Each kind of per-slot state is made for all slots in turn (the
 * lists, then the byte buffers as views of one array each, then the slots), not slot by
 * slot: what the stages touch per packet then lies slot after slot in memory, in the order
 * they walk the queue, rather than spread among buffers most work requests never use.
 */
function sendQueue(count: number): SendWqe[] {
  const sgls = sgeLists(count);
  const views = (bytes: number): Uint8Array[] => {
    const all = new Uint8Array(count * bytes);
    return Array.from({ length: count }, (_, i) => all.subarray(i * bytes, (i + 1) * bytes));
  };
  const atomicArgs = views(ATOMIC_ARGS_BYTES);
  const inline = views(INLINE_BYTES);
  const grh = views(GRH_BYTES);
  return Array.from({ length: count }, (_, i) => new SendWqe(sgls[i], atomicArgs[i], inline[i], grh[i]));
}

/** `count` receive-queue slots, their lists made first (see sendQueue) */
function receiveQueue(count: number): RecvWqe[] {
  const sgls = sgeLists(count);
  return Array.from({ length: count }, (_, i) => new RecvWqe(sgls[i]));
}

export const ResourceKind = { none: 0, read: 1, atomic: 2 } as const;

/** a responder resource: an executed read or atomic, kept to answer its duplicates */
export class Resource {
  kind: number = ResourceKind.none;
  firstPsn = 0;
  lastPsn = 0;
  /** read: the range and its length */
  readonly range = new KeyCheck();
  length = 0;
  /** atomic: the original data, wire order */
  readonly orig = new Uint8Array(8);
}

export const JobKind = { ack: 0, read: 1, atomic: 2 } as const;

/** one response the responder owes: an ACK/NAK, a read response (several packets) or an atomic ACK */
export class ResponseJob {
  kind: number = JobKind.ack;
  /** ACK/NAK PSN; read: next response PSN; atomic: the request's PSN */
  psn = 0;
  /** read: the PSN this response stream starts at (a FIRST or ONLY packet) */
  startPsn = 0;
  /** AETH syndrome (ACK jobs) */
  syndrome = 0;
  msn = 0;
  /** not before this time [ps] */
  notBeforePs = 0;
  // read: the resource's PSN range and length
  firstPsn = 0;
  lastPsn = 0;
  length = 0;
  readonly range = new KeyCheck();
  /** read with the engine's responderDma: the byte of the resource this stream's host read starts at */
  dmaBase = 0;
  /** read with the engine's responderDma: its host read's start (ResponderDma.issue) [ps]; −1: no host read timing */
  dmaStartPs = -1;
  // atomic
  readonly orig = new Uint8Array(8);
}

/**
 * RC: the packet came from the QP's peer (IBTA §9.6.1.5; rxe check_addr): its SLID is the
 * path's DLID (when the path has one: RoCE has no LIDs), and when the path has a GRH, a
 * GRH came whose source is the path's destination GID — for RoCEv2 over IPv4 (the IPv4
 * header in bytes 20..39 of `grh`), the source address against the GID's IPv4-mapped tail.
 */
export function fromPeer(qp: TransportQp, pkt: TransportPacket): boolean {
  if (qp.dlid !== 0 && pkt.slid !== qp.dlid) return false;
  return !qp.hasGrh || grhFromPeer(qp, pkt);
}

/** fromPeer's GRH half (out of line: a path without a GRH never needs it) */
function grhFromPeer(qp: TransportQp, pkt: TransportPacket): boolean {
  if (!pkt.hasGrh) return false;
  const g = pkt.grh;
  const want = qp.grh;
  if (g[0] >> 4 === GRH_IPVER) {
    for (let i = 0; i < 16; i++) if (g[SGID + i] !== want[DGID + i]) return false;
    return true;
  }
  if (g[IPV4_AT] >> 4 === 4) {
    for (let i = 0; i < 4; i++) if (g[IPV4_SRC + i] !== want[DGID + 12 + i]) return false;
    return true;
  }
  return false;
}
const SGID = Grh.field("sgid").byteOffset;
const DGID = Grh.field("dgid").byteOffset;
/** RoCEv2 over IPv4: where the IPv4 header sits in a packet's 40-byte `grh`, and its source address */
const IPV4_AT = GRH_BYTES - Ipv4.sizeBytes;
const IPV4_SRC = IPV4_AT + Ipv4.field("src").byteOffset;

/** a FIFO of reusable records, on a ring of a power-of-two size (indexes wrap by mask) */
export class RecordQueue<T> {
  private items: T[];
  private mask: number;
  private head = 0;
  private count = 0;

  constructor(private readonly make: () => T, initial = 8) {
    const n = 2 ** Math.ceil(Math.log2(Math.max(1, initial)));
    this.items = Array.from({ length: n }, make);
    this.mask = n - 1;
  }

  get length(): number {
    return this.count;
  }
  peek(): T {
    return this.items[this.head];
  }
  tail(): T {
    return this.items[(this.head + this.count - 1) & this.mask];
  }
  /** the next free record, appended (its fields are whatever the last user left) */
  push(): T {
    if (this.count === this.items.length) {
      const n = this.items.length;
      const grown: T[] = [];
      for (let i = 0; i < n; i++) grown.push(this.items[(this.head + i) & this.mask]);
      for (let i = n; i < 2 * n; i++) grown.push(this.make());
      this.items = grown;
      this.mask = 2 * n - 1;
      this.head = 0;
    }
    const r = this.items[(this.head + this.count) & this.mask];
    this.count++;
    return r;
  }
  shift(): void {
    this.head = (this.head + 1) & this.mask;
    this.count--;
  }
  /** keeps only records for which `keep` is true, in order */
  filter(keep: (r: T) => boolean): void {
    const kept: T[] = [];
    const dropped: T[] = [];
    for (let i = 0; i < this.count; i++) {
      const r = this.items[(this.head + i) & this.mask];
      (keep(r) ? kept : dropped).push(r);
    }
    for (let i = this.count; i < this.items.length; i++) dropped.push(this.items[(this.head + i) & this.mask]);
    this.items = [...kept, ...dropped];
    this.head = 0;
    this.count = kept.length;
  }
  clear(): void {
    this.count = 0;
  }
}

/** the message in progress at the responder */
export const InMessage = { none: 0, send: 1, write: 2 } as const;

export class TransportQp {
  readonly qpn: number;
  readonly type: QpType;
  readonly isRc: boolean;
  readonly pd: number;
  readonly sendCqn: number;
  readonly recvCqn: number;
  readonly sq: readonly SendWqe[];
  readonly sqMask: number;
  /**
   * per send-queue slot, when its payload can be fetched [ps] (beside the slots, not in
   * them: a number kept in an object would be a separate boxed value to fetch)
   */
  readonly sqReadyPs: Float64Array;
  readonly rq: readonly RecvWqe[];
  readonly rqMask: number;

  state: QpStateValue = QpState.RESET;
  // attributes
  remoteQpn = 0;
  mtu = 4096;
  /** log2(mtu) */
  mtuShift = 12;
  pkey = 0xffff;
  qkey = 0;
  timeout = 14;
  /** the local ACK timeout [ps] (Infinity: none), from `timeout` */
  timeoutPs = ackTimeoutPs(14);
  retryCount = 7;
  rnrRetry = 7;
  minRnrTimer = 1;
  maxRdAtomic = 4;
  maxDestRdAtomic = 4;
  access = 0;
  window = 128;
  ackReqEvery = 64;
  dlid = 0;
  sl = 0;
  hasGrh = false;
  readonly grh = new Uint8Array(40);
  /** which attributes have been given (for the transition table's `needs`) */
  readonly given = new Set<string>();

  // send queue counters (monotonic): posted, next to send, highest sent + 1, next to complete
  sqPi = 0;
  reqIdx = 0;
  sentIdx = 0;
  compIdx = 0;

  // requester
  /** next PSN the requester sends */
  reqPsn = 0;
  /** highest PSN sent + 1 */
  sentPsn = 0;
  /** bytes of the current WQE already sent (or, for a read, already asked for) */
  reqOffset = 0;
  rdAtomicOut = 0;
  packetsSinceAckReq = 0;
  retryLeft = 7;
  rnrRetryLeft = 7;
  /** the requester waits for an RNR timer until then [ps] */
  rnrUntilPs = 0;
  /** the local ACK timer expires then (Infinity: not running) [ps] */
  timerDeadlinePs = Infinity;
  /** a timer event is scheduled for this time (−1: none) */
  timerEventPs = -1;

  // completer
  /** next response PSN the completer expects */
  compPsn = 0;
  /** the requester was sent back to `retryPsn` and nothing has been acknowledged since */
  retryPending = false;
  retryPsn = 0;

  // responder
  epsn = 0;
  msn = 0;
  nakSeqSent = false;
  inMessage: number = InMessage.none;
  /** receive WQE being filled by a multi-packet SEND, or null */
  rqCur: RecvWqe | null = null;
  rqOffset = 0;
  /** the RDMA WRITE in progress: its checked range, length and bytes written */
  readonly writeRange = new KeyCheck();
  writeLen = 0;
  writeOffset = 0;
  readonly resources: Resource[] = [];
  nextResource = 0;
  readonly responses = new RecordQueue(() => new ResponseJob());

  // receive queue counters
  rqPi = 0;
  rqCi = 0;

  /** in the engine's transmit queue */
  inTxQueue = false;
  /** the earliest time this QP may have something to send (set when it has nothing now) [ps] */
  eligiblePs = Infinity;

  constructor(c: QpConfig) {
    this.qpn = c.qpn;
    this.type = c.type;
    this.isRc = c.type === "RC";
    this.pd = c.pd;
    this.sendCqn = c.sendCqn;
    this.recvCqn = c.recvCqn;
    const sq = 2 ** (c.logSqSize ?? 8);
    const rq = 2 ** (c.logRqSize ?? 8);
    this.sq = sendQueue(sq);
    this.sqMask = sq - 1;
    this.sqReadyPs = new Float64Array(sq);
    this.rq = receiveQueue(rq);
    this.rqMask = rq - 1;
  }

  wqe(counter: number): SendWqe {
    return this.sq[counter & this.sqMask];
  }

  /** the responder resource table, sized by maxDestRdAtomic */
  resizeResources(): void {
    while (this.resources.length < this.maxDestRdAtomic) this.resources.push(new Resource());
    this.resources.length = this.maxDestRdAtomic;
    this.nextResource = 0;
  }

  /** back to the state after creation (2RST) */
  reset(): void {
    this.sqPi = this.reqIdx = this.sentIdx = this.compIdx = 0;
    this.rqPi = this.rqCi = 0;
    this.reqOffset = this.rdAtomicOut = this.packetsSinceAckReq = 0;
    this.rnrUntilPs = 0;
    this.timerDeadlinePs = Infinity;
    this.retryPending = false;
    this.inMessage = InMessage.none;
    this.rqCur = null;
    this.nakSeqSent = false;
    this.responses.clear();
    for (const r of this.resources) r.kind = ResourceKind.none;
    for (const w of this.sq) w.status = WqeStatus.idle;
    this.msn = 0;
  }
}
