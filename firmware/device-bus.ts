/**
 * The device bus: how the firmware programs the datapath's tables. The TypeScript model
 * implements it in memory (ModelDeviceBus below); an RTL block implements it through its
 * configuration port. The firmware only ever reaches the tables through this interface,
 * so one firmware drives either.
 *
 * Every method may return a promise: a table behind an RTL configuration port, or a bus in
 * another thread, answers asynchronously. The firmware awaits each call in order.
 *
 * The firmware calls the bus only after a command has passed validation, so a bus
 * implementation never sees a rejected command.
 */

type Awaitable<T> = T | Promise<T>;

/** Table sizes set by INIT_HCA (entries). */
export interface TableSizes {
  readonly qps: number;
  readonly cqs: number;
  readonly eqs: number;
  readonly mpts: number;
  readonly mtts: number;
}

export interface DeviceBus {
  /** INIT_HCA: size the tables; every entry starts invalid */
  configure(sizes: TableSizes): Awaitable<void>;
  /** CLOSE_HCA: drop every table and port back to the state after reset */
  reset(): Awaitable<void>;
  /** INIT_PORT / CLOSE_PORT (port is 1-based) */
  setPortUp(port: number, up: boolean): Awaitable<void>;

  /** SW2HW_MPT: a valid, hardware-owned MPT entry (64 bytes, hca/formats layout) */
  writeMpt(index: number, entry: Uint8Array): Awaitable<void>;
  /** HW2SW_MPT: the entry is no longer valid; any cached copy must be dropped */
  invalidateMpt(index: number): Awaitable<void>;
  /** the hardware's copy of a valid entry (QUERY_MPT, HW2SW_MPT's outbox) */
  readMpt(index: number): Awaitable<Uint8Array>;
  /** WRITE_MTT: consecutive 8-byte MTT entries starting at `index` */
  writeMtt(index: number, entries: Uint8Array): Awaitable<void>;
  /** SYNC_TPT: flush cached translations */
  syncTpt(): Awaitable<void>;

  writeCqContext(cqn: number, context: Uint8Array): Awaitable<void>;
  invalidateCq(cqn: number): Awaitable<void>;
  /** the hardware's current CQ context (its indexes move while it is hardware-owned) */
  readCqContext(cqn: number): Awaitable<Uint8Array>;

  writeEqContext(eqn: number, context: Uint8Array): Awaitable<void>;
  invalidateEq(eqn: number): Awaitable<void>;
  readEqContext(eqn: number): Awaitable<Uint8Array>;
  /** MAP_EQ: route event type `eventType` (0..63) to `eqn`, or nowhere (null) */
  mapEvent(eventType: number, eqn: number | null): Awaitable<void>;

  /** a QP context with its state (RST2INIT … RTS2RTS, 2ERR) */
  writeQpContext(qpn: number, context: Uint8Array): Awaitable<void>;
  /** 2RST: the QP context is cleared */
  resetQp(qpn: number): Awaitable<void>;
  readQpContext(qpn: number): Awaitable<Uint8Array>;

  /** every table's contents, comparable with toEqual (see DeviceTables) */
  snapshot(): Awaitable<DeviceTables>;
}

/**
 * A bus's tables, in a plain, comparable form: sorted [index, hex bytes] pairs for the
 * valid entries only, so two buses with the same contents give equal snapshots whatever
 * the order of writes. Plain data, so it crosses a worker boundary unchanged.
 */
export interface DeviceTables {
  readonly sizes: TableSizes | null;
  /** 1-based ports that are up */
  readonly portsUp: readonly number[];
  readonly mpt: readonly (readonly [number, string])[];
  /** MTT entries ever written (nonzero or not), sorted by index */
  readonly mtt: readonly (readonly [number, string])[];
  readonly cq: readonly (readonly [number, string])[];
  readonly eq: readonly (readonly [number, string])[];
  readonly qp: readonly (readonly [number, string])[];
  /** [event type, eqn] for mapped event types */
  readonly eventMap: readonly (readonly [number, number])[];
  /** SYNC_TPT calls seen (a cache flush has no other visible effect on the tables) */
  readonly tptSyncs: number;
}

export function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function sorted<V>(m: ReadonlyMap<number, V>, f: (v: V) => string): [number, string][] {
  return [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => [k, f(v)]);
}

/**
 * The TypeScript model's tables, in memory. It checks its own preconditions and throws
 * on a call the firmware should never make (an index outside the configured table, a read
 * of an invalid entry): such a throw is a firmware bug, not a command error.
 */
export class ModelDeviceBus implements DeviceBus {
  /** `name` starts the messages of the throws (a bus that keeps part of its tables in one of these names itself) */
  constructor(private readonly name = "ModelDeviceBus") {}

  private sizes: TableSizes | null = null;
  private readonly ports = new Set<number>();
  readonly mpt = new Map<number, Uint8Array>();
  readonly mtt = new Map<number, Uint8Array>();
  readonly cq = new Map<number, Uint8Array>();
  readonly eq = new Map<number, Uint8Array>();
  readonly qp = new Map<number, Uint8Array>();
  readonly eventMap = new Map<number, number>();
  private tptSyncs = 0;

  configure(sizes: TableSizes): void {
    if (this.sizes !== null) throw new Error(`${this.name}.configure: already configured (CLOSE_HCA first)`);
    this.sizes = { ...sizes };
  }

  reset(): void {
    this.sizes = null;
    this.ports.clear();
    for (const t of [this.mpt, this.mtt, this.cq, this.eq, this.qp]) t.clear();
    this.eventMap.clear();
    this.tptSyncs = 0;
  }

  setPortUp(port: number, up: boolean): void {
    this.need();
    if (up) this.ports.add(port);
    else this.ports.delete(port);
  }

  writeMpt(index: number, entry: Uint8Array): void {
    this.check("mpts", index);
    this.mpt.set(index, entry.slice());
  }
  invalidateMpt(index: number): void {
    this.check("mpts", index);
    this.mpt.delete(index);
  }
  readMpt(index: number): Uint8Array {
    return this.read(this.mpt, "mpt", index);
  }
  writeMtt(index: number, entries: Uint8Array): void {
    const n = entries.length / 8;
    if (!Number.isInteger(n) || n < 1) throw new Error(`${this.name}.writeMtt: ${entries.length} bytes is not a whole number of 8-byte entries`);
    this.check("mtts", index);
    this.check("mtts", index + n - 1);
    for (let i = 0; i < n; i++) this.mtt.set(index + i, entries.slice(8 * i, 8 * i + 8));
  }
  syncTpt(): void {
    this.need();
    this.tptSyncs++;
  }

  writeCqContext(cqn: number, context: Uint8Array): void {
    this.check("cqs", cqn);
    this.cq.set(cqn, context.slice());
  }
  invalidateCq(cqn: number): void {
    this.check("cqs", cqn);
    this.cq.delete(cqn);
  }
  readCqContext(cqn: number): Uint8Array {
    return this.read(this.cq, "cq", cqn);
  }

  writeEqContext(eqn: number, context: Uint8Array): void {
    this.check("eqs", eqn);
    this.eq.set(eqn, context.slice());
  }
  invalidateEq(eqn: number): void {
    this.check("eqs", eqn);
    this.eq.delete(eqn);
  }
  readEqContext(eqn: number): Uint8Array {
    return this.read(this.eq, "eq", eqn);
  }
  mapEvent(eventType: number, eqn: number | null): void {
    this.need();
    if (!Number.isInteger(eventType) || eventType < 0 || eventType > 63) throw new Error(`${this.name}.mapEvent: event type ${eventType}`);
    if (eqn === null) this.eventMap.delete(eventType);
    else {
      this.check("eqs", eqn);
      this.eventMap.set(eventType, eqn);
    }
  }

  writeQpContext(qpn: number, context: Uint8Array): void {
    this.check("qps", qpn);
    this.qp.set(qpn, context.slice());
  }
  resetQp(qpn: number): void {
    this.check("qps", qpn);
    this.qp.delete(qpn);
  }
  readQpContext(qpn: number): Uint8Array {
    return this.read(this.qp, "qp", qpn);
  }

  snapshot(): DeviceTables {
    return {
      sizes: this.sizes === null ? null : { ...this.sizes },
      portsUp: [...this.ports].sort((a, b) => a - b),
      mpt: sorted(this.mpt, toHex),
      mtt: sorted(this.mtt, toHex),
      cq: sorted(this.cq, toHex),
      eq: sorted(this.eq, toHex),
      qp: sorted(this.qp, toHex),
      eventMap: [...this.eventMap.entries()].sort((a, b) => a[0] - b[0]),
      tptSyncs: this.tptSyncs,
    };
  }

  /** the configured sizes; throws before INIT_HCA */
  need(): TableSizes {
    if (this.sizes === null) throw new Error(`${this.name}: the tables are not configured (INIT_HCA first)`);
    return this.sizes;
  }

  /** throws unless `index` lies inside the configured `table` */
  check(table: keyof TableSizes, index: number): void {
    const n = this.need()[table];
    if (!Number.isInteger(index) || index < 0 || index >= n) {
      throw new RangeError(`${this.name}: ${table} index ${index} outside the table (0..${n - 1})`);
    }
  }

  private read(m: Map<number, Uint8Array>, what: string, index: number): Uint8Array {
    const v = m.get(index);
    if (v === undefined) throw new Error(`${this.name}: ${what} ${index} is not valid`);
    return v.slice();
  }
}
