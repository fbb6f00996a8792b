/**
 * InfiniBand link-level flow control (IBTA Vol 1 §7.9), simplified to what decides when a
 * sender may send:
 *
 * - The receiver has a buffer per data VL (0..14), counted in 64-byte blocks. A packet
 *   (LRH … VCRC) takes ceil(bytes / 64) blocks of its VL's buffer while it sits there.
 * - The sender may start a packet only if its VL has that many blocks of credit left.
 *   Sending takes the credit.
 * - When the receiver frees the packet's blocks (the consumer took it, or a switch sent it
 *   on), the credit reaches the sender `returnDelayPs` later: the flow-control packet's
 *   trip back. A packet lost or discarded on the way frees its blocks at the time it
 *   would have arrived (the real protocol resynchronises from the sender's block count).
 * - VL 15 (subnet management) is not flow controlled.
 * Flow-control packets are not put on the wire model, so they take no link time.
 */

/** bytes per flow-control block */
export const CREDIT_BLOCK_BYTES = 64;
/** the management VL, outside flow control */
export const MANAGEMENT_VL = 15;
/** data VLs 0..14 */
const DATA_VLS = 15;

export interface CreditOptions {
  /** receive buffer per data VL [bytes]: one size for all, or one per VL from 0; default 32 KiB */
  bufferBytes?: number | readonly number[];
  /** from the receiver freeing blocks to the sender seeing the credit [ps]; default the link's propagation delay + 50 ns */
  returnDelayPs?: number;
}

export const DEFAULT_CREDIT_BUFFER_BYTES = 32 * 1024;

/** blocks a packet of `bytes` takes */
export function creditBlocks(bytes: number): number {
  return Math.ceil(bytes / CREDIT_BLOCK_BYTES);
}

/**
 * The sender's view of one direction's credits. Credits on their way back are kept as a
 * list of (time, VL, blocks) and counted once their time has come (`settle`), so a
 * returning credit costs no kernel event unless a sender is waiting for it.
 */
export class CreditAccount {
  /** buffer per VL [blocks] */
  readonly limit: Int32Array;
  private readonly inUse = new Int32Array(DATA_VLS);
  // credits on their way back, in time order
  private returnAt: number[] = [];
  private returnVl: number[] = [];
  private returnBlocks: number[] = [];
  private head = 0;

  constructor(opts: CreditOptions = {}, where = "credits") {
    const b = opts.bufferBytes ?? DEFAULT_CREDIT_BUFFER_BYTES;
    this.limit = new Int32Array(DATA_VLS);
    for (let vl = 0; vl < DATA_VLS; vl++) {
      const bytes = typeof b === "number" ? b : (b[vl] ?? 0);
      if (!(Number.isSafeInteger(bytes) && bytes >= 0)) throw new RangeError(`${where}: buffer of VL ${vl} must be whole bytes ≥ 0, got ${bytes}`);
      this.limit[vl] = Math.floor(bytes / CREDIT_BLOCK_BYTES);
    }
  }

  /** blocks of credit VL `vl` has left */
  available(vl: number): number {
    return vl === MANAGEMENT_VL ? Infinity : this.limit[vl]! - this.inUse[vl]!;
  }

  /** enough credit for a packet of `bytes` on `vl` */
  canSend(vl: number, bytes: number): boolean {
    return vl === MANAGEMENT_VL || this.inUse[vl]! + creditBlocks(bytes) <= this.limit[vl]!;
  }

  /** a packet that could never be sent: bigger than its VL's whole buffer */
  neverFits(vl: number, bytes: number): boolean {
    return vl !== MANAGEMENT_VL && creditBlocks(bytes) > this.limit[vl]!;
  }

  take(vl: number, bytes: number): void {
    if (vl !== MANAGEMENT_VL) this.inUse[vl]! += creditBlocks(bytes);
  }

  /** the credit for a packet of `bytes` on `vl` reaches the sender at `atPs` */
  giveAt(vl: number, bytes: number, atPs: number): void {
    if (vl === MANAGEMENT_VL) return;
    const t = this.returnAt;
    let i = t.length;
    t.push(atPs);
    this.returnVl.push(vl);
    this.returnBlocks.push(creditBlocks(bytes));
    // keep time order (returns come nearly in order; a delayed packet may be out of it)
    while (i > this.head && t[i - 1]! > atPs) {
      t[i] = t[i - 1]!;
      this.returnVl[i] = this.returnVl[i - 1]!;
      this.returnBlocks[i] = this.returnBlocks[i - 1]!;
      i--;
    }
    t[i] = atPs;
    this.returnVl[i] = vl;
    this.returnBlocks[i] = creditBlocks(bytes);
  }

  /** counts the credits that have arrived by `nowPs` */
  settle(nowPs: number): void {
    const t = this.returnAt;
    let h = this.head;
    while (h < t.length && t[h]! <= nowPs) {
      this.inUse[this.returnVl[h]!]! -= this.returnBlocks[h]!;
      h++;
    }
    if (h === t.length) {
      t.length = 0;
      this.returnVl.length = 0;
      this.returnBlocks.length = 0;
      h = 0;
    } else if (h > 1024) {
      this.returnAt = t.slice(h);
      this.returnVl = this.returnVl.slice(h);
      this.returnBlocks = this.returnBlocks.slice(h);
      h = 0;
    }
    this.head = h;
  }

  /** when the next credit on its way arrives [ps]; undefined if none is */
  get nextReturnPs(): number | undefined {
    return this.head < this.returnAt.length ? this.returnAt[this.head] : undefined;
  }
}
