/**
 * A scatter/gather list (up to MAX_SGE data segments, hca/formats DataSeg) with the
 * translation of each segment once its L_Key passed the check. Gather and scatter walk it
 * by byte offset, so a retransmission restarts anywhere in the message.
 *
 * A send queue holds thousands of lists, each touched a few times per work request long
 * after the last time: the lists of a queue keep their numbers (a segment's fields and its
 * translation side by side) in one shared array, list after list (`sgeLists`), so a stage
 * walking the queue in order reads memory in order.
 */
import { DataSeg } from "../formats/index.ts";
import { TptFault, type MptCheckEntry } from "../tpt/index.ts";
import { rd32 } from "./eth.ts";
import type { TransportPacket } from "./packet.ts";
import { KeyCheck, KeyRequest, type Protection } from "./protection.ts";

/** segments a work request (128-byte payload area) or receive WQE holds */
export const MAX_SGE = 8;
const SEG = DataSeg.sizeBytes;
const SEG_LEN = DataSeg.field("byteCount").byteOffset;
const SEG_LKEY = DataSeg.field("lkey").byteOffset;
const SEG_ADDR = DataSeg.field("addr").byteOffset;

/** a segment's numbers in SgeList.seg: its DataSeg fields, then its translation (KeyCheck) */
const S_LEN = 0;
const S_LKEY = 1;
const S_VA_HI = 2;
const S_VA_LO = 3;
const S_OFF0 = 4;
const S_PS = 5;
const S_MTT0 = 6;
/** numbers per segment (8 doubles: one 64-byte cache line) */
const S_WORDS = 8;

// what the lists hand the protection checks and DMA: one request and one range, reused
const req = new KeyRequest();
const checked = new KeyCheck();
const range = new KeyCheck();

/** numbers one list takes in a store */
const LIST_WORDS = MAX_SGE * S_WORDS;

/** `count` lists sharing one store, made one after the other (a queue's lists) */
export function sgeLists(count: number): SgeList[] {
  const store = new Float64Array(count * LIST_WORDS);
  const entries = new Array<MptCheckEntry | null>(count * MAX_SGE).fill(null);
  return Array.from({ length: count }, (_, i) => new SgeList(store, i * LIST_WORDS, entries, i * MAX_SGE));
}

export class SgeList {
  /** segments in use */
  n = 0;
  /** sum of the segment lengths [bytes] */
  total = 0;
  /** validate() ran and accepted every segment */
  validated = false;
  /**
   * the segments loaded are those validate() last accepted (for `checkedPd`, `checkedAccess`,
   * on the MPT entries in `entries`): a WQE slot refilled with the same buffers, as a
   * ring of work requests is. The check is a pure function of the entry and the request,
   * so it passes again, with the same translation, while each key selects the same entry.
   */
  private same = false;
  private checkedPd = -1;
  private checkedAccess = -1;

  constructor(
    /** where the segments are: S_WORDS numbers each, from `base` on */
    private readonly seg: Float64Array = new Float64Array(LIST_WORDS),
    private readonly base = 0,
    /** the MPT entry each segment passed its check on, from `entryBase` on */
    private readonly entries: (MptCheckEntry | null)[] = new Array<MptCheckEntry | null>(MAX_SGE).fill(null),
    private readonly entryBase = 0,
  ) {}

  /** length of segment i [bytes] */
  len(i: number): number {
    return this.seg[this.base + i * S_WORDS + S_LEN];
  }

  /** loads `n` data segments from `buf` at `off` */
  loadDataSegs(buf: Uint8Array, off: number, n: number): void {
    let same = this.validated && n === this.n;
    this.n = n;
    this.total = 0;
    this.validated = false;
    const s = this.seg;
    for (let i = 0; i < n; i++) {
      const o = off + i * SEG;
      const w = this.base + i * S_WORDS;
      const len = rd32(buf, o + SEG_LEN);
      const key = rd32(buf, o + SEG_LKEY);
      const hi = rd32(buf, o + SEG_ADDR);
      const lo = rd32(buf, o + SEG_ADDR + 4);
      if (same && (s[w + S_LEN] !== len || s[w + S_LKEY] !== key || s[w + S_VA_LO] !== lo || s[w + S_VA_HI] !== hi)) same = false;
      s[w + S_LEN] = len;
      s[w + S_LKEY] = key;
      s[w + S_VA_HI] = hi;
      s[w + S_VA_LO] = lo;
      this.total += len;
    }
    this.same = same;
  }

  clear(): void {
    this.n = 0;
    this.total = 0;
    this.validated = false;
    this.same = false;
  }

  /** checks every segment's L_Key for `access` in `pd`; returns TptFault.ok or the first fault */
  validate(prot: Protection, pd: number, access: number): number {
    if (this.same && pd === this.checkedPd && access === this.checkedAccess && this.sameEntries(prot)) {
      this.validated = true;
      return TptFault.ok;
    }
    return this.check(prot, pd, access);
  }

  /** validate() of segments not known to pass */
  private check(prot: Protection, pd: number, access: number): number {
    const s = this.seg;
    for (let i = 0; i < this.n; i++) {
      const w = this.base + i * S_WORDS;
      req.key = s[w + S_LKEY];
      req.pd = pd;
      req.access = access;
      req.vaHi = s[w + S_VA_HI];
      req.vaLo = s[w + S_VA_LO];
      req.len = s[w + S_LEN];
      const f = prot.check(req, checked);
      if (f !== TptFault.ok) return f;
      s[w + S_OFF0] = checked.off0;
      s[w + S_PS] = checked.ps;
      s[w + S_MTT0] = checked.mttIdx0;
      this.entries[this.entryBase + i] = prot.checkedEntry;
    }
    this.validated = true;
    this.checkedPd = pd;
    this.checkedAccess = access;
    return TptFault.ok;
  }

  /** each segment's key still selects the MPT entry it passed its check on */
  private sameEntries(prot: Protection): boolean {
    const s = this.seg;
    for (let i = 0; i < this.n; i++) {
      if (prot.entry(s[this.base + i * S_WORDS + S_LKEY]) !== this.entries[this.entryBase + i]) return false;
    }
    return true;
  }

  /** the translation of segment i (valid once validate() accepted it), in the shared range */
  private range(i: number): KeyCheck {
    const s = this.seg;
    const w = this.base + i * S_WORDS;
    range.off0 = s[w + S_OFF0];
    range.ps = s[w + S_PS];
    range.mttIdx0 = s[w + S_MTT0];
    return range;
  }

  /** copies `len` bytes from message offset `offset` into dst[dstOff..]; false on a fault */
  read(prot: Protection, offset: number, len: number, dst: Uint8Array, dstOff: number): boolean {
    let i = 0;
    while (i < this.n && offset >= this.len(i)) offset -= this.len(i++);
    while (len > 0) {
      if (i >= this.n) return false;
      const n = Math.min(len, this.len(i) - offset);
      if (!prot.read(this.range(i), offset, n, dst, dstOff)) return false;
      dstOff += n;
      len -= n;
      offset = 0;
      i++;
    }
    return true;
  }

  /**
   * Puts `len` bytes from message offset `offset` into packet bytes [at, at + len): by
   * reference when they lie in one segment and one host page (Protection.readToPacket), else
   * by a copy; false on a fault.
   */
  readToPacket(prot: Protection, offset: number, len: number, pkt: TransportPacket, at: number): boolean {
    let i = 0;
    while (i < this.n && offset >= this.len(i)) offset -= this.len(i++);
    if (i < this.n && offset + len <= this.len(i)) return prot.readToPacket(this.range(i), offset, len, pkt, at);
    return this.read(prot, offset, len, pkt.store, at);
  }

  /**
   * writes src[srcOffset, srcOffset + len) (default: all of `src`) at message offset
   * `offset`; false on a fault or if it does not fit
   */
  write(prot: Protection, offset: number, src: Uint8Array, srcOffset = 0, len = src.length - srcOffset): boolean {
    let i = 0;
    while (i < this.n && offset >= this.len(i)) offset -= this.len(i++);
    let done = 0;
    while (done < len) {
      if (i >= this.n) return false;
      const n = Math.min(len - done, this.len(i) - offset);
      if (!prot.write(this.range(i), offset, src, srcOffset + done, n)) return false;
      done += n;
      offset = 0;
      i++;
    }
    return true;
  }
}
