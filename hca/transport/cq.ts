/**
 * Completion queues and event queues in host memory: the completer writes 32-byte CQEs
 * (hca/formats/cqe.ts) at the CQ's producer index with the owner bit of its lap, and when
 * the CQ is armed, one 32-byte EQE (mthca_eqe) at the EQ's producer index, then raises
 * the EQ's interrupt callback.
 *
 * EQE (mthca_eqe, drivers/infiniband/hw/mthca/mthca_eq.c): type at byte 1 (0x00 =
 * MTHCA_EVENT_TYPE_COMP), the CQ number at byte 4, the owner byte last: 0x80 while the
 * hardware owns the entry (the driver fills a new ring with it), 0x00 once written.
 */
import { defineLayout, type HostAddress, type HostMemory } from "../../core/index.ts";
import { CQE_BYTES, CQE_VENDOR_SYNDROME, CqeLayout } from "../formats/index.ts";
import { CqArm } from "../doorbell/index.ts";

export const EQE_BYTES = 32;
export const EqeLayout = defineLayout(
  "eqe",
  [
    { name: "reserved0", bits: 8 },
    { name: "type", bits: 8, doc: "EventType" },
    { name: "reserved1", bits: 8 },
    { name: "subtype", bits: 8 },
    { name: "cqn", bits: 32, doc: "completion event: the CQ" },
    { name: "reserved2", bytes: 20 },
    { name: "reserved3", bits: 24 },
    { name: "owner", bits: 8, doc: "EqeOwner" },
  ],
  { sizeBytes: EQE_BYTES },
);
/** event types (mthca MTHCA_EVENT_TYPE_*) */
export const EventType = { completion: 0x00 } as const;
export const EqeOwner = { software: 0x00, hardware: 0x80 } as const;

export interface CqConfig {
  readonly cqn: number;
  /** ring address (host physical) */
  readonly ring: HostAddress;
  /** log2 of CQEs in the ring */
  readonly logSize: number;
  /** EQ its completion events go to; none if omitted */
  readonly eqn?: number;
}

export interface EqConfig {
  readonly eqn: number;
  readonly ring: HostAddress;
  readonly logSize: number;
  /** the interrupt: called after each EQE is written */
  readonly onEvent?: (eqn: number, eqe: { type: number; cqn: number }) => void;
}

export class CompletionQueue {
  readonly cqn: number;
  readonly ring: HostAddress;
  readonly logSize: number;
  readonly mask: number;
  readonly eqn: number;
  /** CQEs written (producer index) */
  pi = 0;
  /** consumer index as the last CQ doorbell reported it */
  ci = 0;
  /** CqArm: none, solicited, next */
  arm: number = CqArm.none;
  /** CQEs written while the ring was full (the driver's CI too far behind) */
  overruns = 0;

  constructor(c: CqConfig) {
    if (!Number.isInteger(c.logSize) || c.logSize < 0 || c.logSize > 24) throw new RangeError(`CQ 0x${c.cqn.toString(16)}: logSize ${c.logSize} is not in 0..24`);
    this.cqn = c.cqn;
    this.ring = c.ring;
    this.logSize = c.logSize;
    this.mask = 2 ** c.logSize - 1;
    this.eqn = c.eqn ?? -1;
  }
}

export class EventQueue {
  readonly eqn: number;
  readonly ring: HostAddress;
  readonly logSize: number;
  readonly mask: number;
  pi = 0;
  readonly onEvent?: EqConfig["onEvent"];

  constructor(c: EqConfig) {
    this.eqn = c.eqn;
    this.ring = c.ring;
    this.logSize = c.logSize;
    this.mask = 2 ** c.logSize - 1;
    this.onEvent = c.onEvent;
  }
}

// The CQE and EQE fields the writer fills, through the layouts' generated codecs (one
// straight-line write per record, no per-field walk): every other bit stays zero.
const CQE_FIELDS = ["qpn", "imm", "grh", "rqpn", "sl", "rlid", "status", "vendorErr", "byteCount", "wqeIndex", "owner", "isSend", "opcode"] as const;
const cqeCodec = CqeLayout.codec(CQE_FIELDS);
const C = cqeCodec.slot;
const eqeCodec = EqeLayout.codec(["type", "cqn", "owner"] as const);
const E = eqeCodec.slot;

/** a completion as the stages report it */
export class Completion {
  qpn = 0;
  isSend = false;
  /** send: WQE opcode; receive: CqeRecvOpcode */
  opcode = 0;
  wqeIndex = 0;
  byteCount = 0;
  /** WcStatus */
  status = 0;
  imm = 0;
  rqpn = 0;
  rlid = 0;
  sl = 0;
  grh = false;
  /** a receive whose last packet had the solicited-event bit */
  solicited = false;
}

/** writes CQEs and EQEs into host memory through one reused buffer */
export class CompletionWriter {
  private readonly cqe = new Uint8Array(CQE_BYTES);
  private readonly eqe = new Uint8Array(EQE_BYTES);
  private readonly cqeValues = new Float64Array(cqeCodec.slots);
  private readonly eqeValues = new Float64Array(eqeCodec.slots);
  cqes = 0;
  events = 0;

  constructor(
    private readonly memory: HostMemory,
    private readonly initiator: string,
    private readonly eqs: ReadonlyMap<number, EventQueue>,
  ) {}

  write(cq: CompletionQueue, c: Completion): void {
    const b = this.cqe;
    const v = this.cqeValues;
    v[C.qpn] = c.qpn;
    v[C.imm] = c.imm >>> 0;
    v[C.grh] = c.grh ? 1 : 0;
    v[C.rqpn] = c.rqpn;
    v[C.sl] = c.sl;
    v[C.rlid] = c.rlid;
    v[C.status] = c.status;
    v[C.vendorErr] = CQE_VENDOR_SYNDROME[c.status] ?? 0;
    v[C.byteCount] = c.byteCount >>> 0;
    v[C.wqeIndex] = c.wqeIndex & 0xffff;
    v[C.owner] = (cq.pi >>> cq.logSize) & 1;
    v[C.isSend] = c.isSend ? 1 : 0;
    v[C.opcode] = c.opcode;
    b.fill(0);
    cqeCodec.write(b, 0, v);
    if (cq.pi - cq.ci > cq.mask) cq.overruns++;
    const at = typeof cq.ring === "bigint" ? cq.ring + BigInt((cq.pi & cq.mask) * CQE_BYTES) : cq.ring + (cq.pi & cq.mask) * CQE_BYTES;
    this.memory.write(at, b, this.initiator);
    cq.pi++;
    this.cqes++;
    // an armed CQ raises one event: at any completion (next), or a solicited or error one (solicited)
    if (cq.arm === CqArm.next || (cq.arm === CqArm.solicited && (c.solicited || c.status !== 0))) {
      cq.arm = CqArm.none;
      this.raise(cq);
    }
  }

  private raise(cq: CompletionQueue): void {
    const eq = this.eqs.get(cq.eqn);
    if (eq === undefined) return;
    const b = this.eqe;
    const v = this.eqeValues;
    v[E.type] = EventType.completion;
    v[E.cqn] = cq.cqn;
    v[E.owner] = EqeOwner.software;
    b.fill(0);
    eqeCodec.write(b, 0, v);
    const at = typeof eq.ring === "bigint" ? eq.ring + BigInt((eq.pi & eq.mask) * EQE_BYTES) : eq.ring + (eq.pi & eq.mask) * EQE_BYTES;
    this.memory.write(at, b, this.initiator);
    eq.pi++;
    this.events++;
    eq.onEvent?.(eq.eqn, { type: EventType.completion, cqn: cq.cqn });
  }
}
