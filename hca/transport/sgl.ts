/**
 * A scatter/gather list (up to MAX_SGE data segments, hca/formats DataSeg) with the
 * translation of each segment once its L_Key passed the check. Gather and scatter walk it
 * by byte offset, so a retransmission restarts anywhere in the message.
 */
import { DataSeg } from "../formats/index.ts";
import { TptFault } from "../tpt/index.ts";
import { rd32 } from "./eth.ts";
import { KeyCheck, KeyRequest, type Protection } from "./protection.ts";

/** segments a work request (128-byte payload area) or receive WQE holds */
export const MAX_SGE = 8;
const SEG = DataSeg.sizeBytes;
const SEG_LEN = DataSeg.field("byteCount").byteOffset;
const SEG_LKEY = DataSeg.field("lkey").byteOffset;
const SEG_ADDR = DataSeg.field("addr").byteOffset;

const req = new KeyRequest();

export class SgeList {
  /** segments in use */
  n = 0;
  /** sum of the segment lengths [bytes] */
  total = 0;
  readonly vaHi = new Uint32Array(MAX_SGE);
  readonly vaLo = new Uint32Array(MAX_SGE);
  readonly len = new Uint32Array(MAX_SGE);
  readonly lkey = new Uint32Array(MAX_SGE);
  /** per segment, its translation once validate() accepted it */
  readonly range: readonly KeyCheck[] = Array.from({ length: MAX_SGE }, () => new KeyCheck());
  /** validate() ran and accepted every segment */
  validated = false;

  /** loads `n` data segments from `buf` at `off` */
  loadDataSegs(buf: Uint8Array, off: number, n: number): void {
    this.n = n;
    this.total = 0;
    this.validated = false;
    for (let i = 0; i < n; i++) {
      const o = off + i * SEG;
      const len = rd32(buf, o + SEG_LEN);
      this.len[i] = len;
      this.lkey[i] = rd32(buf, o + SEG_LKEY);
      this.vaHi[i] = rd32(buf, o + SEG_ADDR);
      this.vaLo[i] = rd32(buf, o + SEG_ADDR + 4);
      this.total += len;
    }
  }

  clear(): void {
    this.n = 0;
    this.total = 0;
    this.validated = false;
  }

  /** checks every segment's L_Key for `access` in `pd`; returns TptFault.ok or the first fault */
  validate(prot: Protection, pd: number, access: number): number {
    for (let i = 0; i < this.n; i++) {
      req.key = this.lkey[i];
      req.pd = pd;
      req.access = access;
      req.vaHi = this.vaHi[i];
      req.vaLo = this.vaLo[i];
      req.len = this.len[i];
      const f = prot.check(req, this.range[i]);
      if (f !== TptFault.ok) return f;
    }
    this.validated = true;
    return TptFault.ok;
  }

  /** copies `len` bytes from message offset `offset` into dst[dstOff..]; false on a fault */
  read(prot: Protection, offset: number, len: number, dst: Uint8Array, dstOff: number): boolean {
    let i = 0;
    while (i < this.n && offset >= this.len[i]) offset -= this.len[i++];
    while (len > 0) {
      if (i >= this.n) return false;
      const n = Math.min(len, this.len[i] - offset);
      if (!prot.read(this.range[i], offset, n, dst, dstOff)) return false;
      dstOff += n;
      len -= n;
      offset = 0;
      i++;
    }
    return true;
  }

  /** writes `src` at message offset `offset`; false on a fault or if it does not fit */
  write(prot: Protection, offset: number, src: Uint8Array): boolean {
    let i = 0;
    while (i < this.n && offset >= this.len[i]) offset -= this.len[i++];
    let done = 0;
    while (done < src.length) {
      if (i >= this.n) return false;
      const n = Math.min(src.length - done, this.len[i] - offset);
      if (!prot.write(this.range[i], offset, n === src.length ? src : src.subarray(done, done + n))) return false;
      done += n;
      offset = 0;
      i++;
    }
    return true;
  }
}
