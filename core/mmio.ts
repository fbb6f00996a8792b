/**
 * A device BAR as the host CPU sees it: stores into BAR pages become posted writes that
 * reach the device some time later (DESIGN.md §5). This is how the driver rings doorbells
 * in its UAR page and writes the HCR.
 *
 *   CPU store ─▶ write(offset, bytes) ─▶ [ link: latency + serialisation ] ─▶ page handler
 *
 * - Handlers are registered per page (default 4 KiB, the size the OS maps into one
 *   process), because that is the protection unit: a process can only store into the
 *   UAR pages mapped to it, and the doorbell block recovers the UAR index from the page.
 * - Stores are delivered in issue order (posted writes never pass each other) at
 *   max(now + postedWriteLatency, previous delivery + serialisation time), so a burst of
 *   doorbells is bounded by the link rate.
 * - A store to a page nobody registered is dropped and counted: a posted write that no
 *   function claims gets no reply on a real host either.
 * - A store may not cross a page boundary (a CPU store or write-combining flush of at
 *   most 64 B never does; one that would is a driver bug, so it throws).
 * - Reads (e.g. polling the HCR go bit) are non-posted: the request travels behind
 *   earlier writes, the page's read handler answers on arrival, and the data is back
 *   `readReturnLatencyNs` later. An unclaimed read returns all ones, as on a real host.
 */

import { PCIE_GEN3_X16_BYTES_PER_S, DmaEngine } from "./dma.ts";
import { isPowerOfTwo } from "./host-memory.ts";
import type { Simulator } from "./kernel.ts";
import { nsToPs, type Picoseconds } from "./time.ts";

/** a store as delivered to the device */
export interface MmioWrite {
  readonly bar: string;
  /** offset in the BAR [bytes] */
  readonly offset: number;
  /** page index in the BAR (the UAR index for a UAR BAR) */
  readonly page: number;
  /** offset in the page [bytes] */
  readonly pageOffset: number;
  /** the stored bytes (a copy) */
  readonly bytes: Uint8Array;
  /** the CPU issued it [ps] */
  readonly issuedPs: Picoseconds;
  /** it reached the device (now, when the handler runs) [ps] */
  readonly deliveredPs: Picoseconds;
}

/** a load as it reaches the device */
export interface MmioRead {
  readonly bar: string;
  readonly offset: number;
  readonly page: number;
  readonly pageOffset: number;
  readonly len: number;
  readonly issuedPs: Picoseconds;
  readonly deliveredPs: Picoseconds;
}

export interface MmioPageHandler {
  /** a store arrived */
  onWrite?(w: MmioWrite): void;
  /** a load arrived; return exactly `r.len` bytes */
  onRead?(r: MmioRead): Uint8Array;
}

export interface MmioBarConfig {
  /** names the BAR in events and messages, e.g. "uar" or "hcr" */
  name: string;
  /** BAR size [bytes]; a multiple of pageBytes */
  sizeBytes: number;
  /** registration granularity [bytes]; power of two ≥ 64; default 4096 */
  pageBytes?: number;
  /** CPU store → the device sees it: core, uncore, root complex and link [ns]; default 300 */
  postedWriteLatencyNs?: number;
  /** the device answered a load → the CPU has the data [ns]; default 300 */
  readReturnLatencyNs?: number;
  /** downstream link rate for stores [bytes/s]; Infinity for none; default Gen3 x16 */
  bytesPerSecond?: number;
  /** wire bytes per store besides its payload (framing, 4DW header, LCRC) [bytes]; default 24 */
  overheadBytes?: number;
}

export class MmioBar {
  readonly name: string;
  readonly sizeBytes: number;
  readonly pageBytes: number;
  readonly postedWriteLatencyPs: Picoseconds;
  readonly readReturnLatencyPs: Picoseconds;
  readonly bytesPerSecond: number;
  readonly overheadBytes: number;

  /** stores issued, bytes stored, and stores dropped because their page had no handler */
  writes = 0;
  bytesWritten = 0;
  droppedWrites = 0;
  reads = 0;

  private readonly handlers = new Map<number, MmioPageHandler>();
  // the last delivery: later stores and loads arrive no earlier (posted writes stay in order)
  private lastDeliveryPs: Picoseconds = 0;

  constructor(
    readonly sim: Simulator,
    config: MmioBarConfig,
  ) {
    const { name, sizeBytes, pageBytes = 4096, postedWriteLatencyNs = 300, readReturnLatencyNs = 300, bytesPerSecond = PCIE_GEN3_X16_BYTES_PER_S, overheadBytes = 24 } = config;
    const fail = (msg: string): never => {
      throw new RangeError(`MmioBar "${name}": ${msg}`);
    };
    if (!isPowerOfTwo(pageBytes) || pageBytes < 64) fail(`pageBytes must be a power of two ≥ 64, got ${pageBytes}`);
    if (!Number.isSafeInteger(sizeBytes) || sizeBytes < pageBytes || sizeBytes % pageBytes !== 0) {
      fail(`sizeBytes must be a positive multiple of pageBytes (${pageBytes}), got ${sizeBytes}`);
    }
    for (const [k, v] of [["postedWriteLatencyNs", postedWriteLatencyNs], ["readReturnLatencyNs", readReturnLatencyNs]] as const) {
      if (!(Number.isFinite(v) && v >= 0)) fail(`${k} must be a finite number ≥ 0, got ${v}`);
    }
    if (!(bytesPerSecond > 0)) fail(`bytesPerSecond must be > 0 (Infinity for no limit), got ${bytesPerSecond}`);
    if (!(Number.isSafeInteger(overheadBytes) && overheadBytes >= 0)) fail(`overheadBytes must be a whole number ≥ 0, got ${overheadBytes}`);
    this.name = name;
    this.sizeBytes = sizeBytes;
    this.pageBytes = pageBytes;
    this.postedWriteLatencyPs = nsToPs(postedWriteLatencyNs);
    this.readReturnLatencyPs = nsToPs(readReturnLatencyNs);
    this.bytesPerSecond = bytesPerSecond;
    this.overheadBytes = overheadBytes;
  }

  /** pages in the BAR */
  get pages(): number {
    return this.sizeBytes / this.pageBytes;
  }

  /** routes stores and loads to page `page` to `handler` (a function is a store handler); replaces any earlier one */
  mapPage(page: number, handler: MmioPageHandler | ((w: MmioWrite) => void)): void {
    this.checkPage(page);
    this.handlers.set(page, typeof handler === "function" ? { onWrite: handler } : handler);
  }

  /** maps `count` pages from `first` to one handler (e.g. every UAR page to the doorbell block) */
  mapPages(first: number, count: number, handler: MmioPageHandler | ((w: MmioWrite) => void)): void {
    for (let p = first; p < first + count; p++) this.mapPage(p, handler);
  }

  unmapPage(page: number): void {
    this.checkPage(page);
    this.handlers.delete(page);
  }

  /**
   * A CPU store of `bytes` at `offset` in the BAR. Returns when it reaches the device [ps];
   * the page's handler is called then (or the store is dropped if the page is unmapped).
   */
  write(offset: number, bytes: Uint8Array): Picoseconds {
    const page = this.checkAccess(offset, bytes.length, "write");
    const issuedPs = this.sim.now;
    const deliveredPs = this.deliveryTime(bytes.length);
    const w: MmioWrite = { bar: this.name, offset, page, pageOffset: offset - page * this.pageBytes, bytes: bytes.slice(), issuedPs, deliveredPs };
    this.writes++;
    this.bytesWritten += bytes.length;
    this.sim.schedule(deliveredPs, () => {
      // looked up on arrival: a page unmapped while the store was in flight drops it
      const h = this.handlers.get(page);
      if (h?.onWrite === undefined) this.droppedWrites++;
      else h.onWrite(w);
    });
    return deliveredPs;
  }

  /**
   * A CPU load of `len` bytes at `offset`; `onData` gets the bytes when they are back at
   * the CPU. Returns the time the load reaches the device [ps].
   */
  read(offset: number, len: number, onData: (bytes: Uint8Array, atPs: Picoseconds) => void): Picoseconds {
    const page = this.checkAccess(offset, len, "read");
    const issuedPs = this.sim.now;
    const deliveredPs = this.deliveryTime(0);
    this.reads++;
    this.sim.schedule(deliveredPs, () => {
      const h = this.handlers.get(page);
      const r: MmioRead = { bar: this.name, offset, page, pageOffset: offset - page * this.pageBytes, len, issuedPs, deliveredPs };
      const data = h?.onRead !== undefined ? h.onRead(r) : new Uint8Array(len).fill(0xff);
      if (data.length !== len) throw new Error(`MmioBar "${this.name}": read handler of page ${page} returned ${data.length} bytes, expected ${len}`);
      const back = deliveredPs + this.readReturnLatencyPs;
      const copy = data.slice();
      this.sim.schedule(back, () => onData(copy, back));
    });
    return deliveredPs;
  }

  private deliveryTime(payloadBytes: number): Picoseconds {
    const wire = DmaEngine.serialisePs(payloadBytes + this.overheadBytes, this.bytesPerSecond);
    const t = Math.max(this.sim.now + this.postedWriteLatencyPs, this.lastDeliveryPs + wire);
    this.lastDeliveryPs = t;
    return t;
  }

  private checkPage(page: number): void {
    if (!Number.isSafeInteger(page) || page < 0 || page >= this.pages) {
      throw new RangeError(`MmioBar "${this.name}": page ${page} is outside [0, ${this.pages})`);
    }
  }

  private checkAccess(offset: number, len: number, what: string): number {
    if (!Number.isSafeInteger(len) || len < 1) throw new RangeError(`MmioBar "${this.name}": ${what} of ${len} bytes (need ≥ 1)`);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + len > this.sizeBytes) {
      throw new RangeError(`MmioBar "${this.name}": ${what} [${offset}, +${len}) is outside the ${this.sizeBytes}-byte BAR`);
    }
    const page = Math.floor(offset / this.pageBytes);
    if (Math.floor((offset + len - 1) / this.pageBytes) !== page) {
      throw new RangeError(`MmioBar "${this.name}": ${what} [${offset}, +${len}) crosses a ${this.pageBytes}-byte page boundary`);
    }
    return page;
  }
}
