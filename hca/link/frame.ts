/**
 * A frame on a link: the network headers a framer put in front of a transport packet, the
 * packet itself (BTH … pad, not copied), and a trailer of CRCs (RoCEv2: ICRC, padding to
 * the Ethernet minimum, FCS; IB: ICRC, VCRC).
 *
 * The CRCs are honest but lazy. The contiguous wire image, CRCs included, is built the
 * first time anything asks for it (`bytes()`: a capture, a receiver in "recompute" mode,
 * a fault that flips bits). A frame is never changed after it is made: corruption makes a
 * new frame whose image is the intact image with bits flipped, so its CRCs are the ones
 * the sender computed over the intact bytes, exactly as on a real wire. The flipped bits
 * are also recorded (`flips`): a receiver in "trusted" mode skips the CRCs of frames
 * without any (see CrcMode).
 */

/** what a frame carries: RoCEv2 in Ethernet, or a native InfiniBand packet */
export type FrameFormat = "rocev2" | "ib";

/**
 * How a receiver judges the CRCs of a frame.
 * - "recompute": from the bytes, as hardware does: every CRC is computed over the image
 *   and compared. Costs about one pass over the packet per CRC that cannot share a pass.
 * - "trusted": a frame that nothing corrupted in flight (`flips` empty) is taken as
 *   intact without computing a CRC, which is what a recompute would find since the
 *   sender's CRCs are right by construction; a corrupted frame is recomputed from its
 *   bytes like in "recompute". Same verdicts, and the payload is never touched for the
 *   frames that make up nearly all of the traffic.
 */
export type CrcMode = "trusted" | "recompute";

/** What a framing module provides for its format. */
export interface FrameCodec {
  readonly format: FrameFormat;
  /** bytes after the packet (ICRC, padding, FCS or VCRC) for a head and packet of these sizes */
  trailerBytes(headBytes: number, packetBytes: number): number;
  /** writes the trailer into `image`, which already holds the head and the packet */
  writeTrailer(image: Uint8Array, headBytes: number, packetBytes: number): void;
  /** the link CRC (FCS or VCRC) of a complete image is right */
  linkCrcOk(image: Uint8Array): boolean;
}

const NO_FLIPS: readonly number[] = Object.freeze([]);

export class Frame {
  #image: Uint8Array | null;
  /** bytes between the delimiters: Ethernet destination MAC … FCS, or LRH … VCRC */
  readonly length: number;

  constructor(
    readonly codec: FrameCodec,
    /** the headers before the BTH: Ethernet + IP + UDP, or LRH (+ GRH) */
    readonly head: Uint8Array,
    /** the transport packet, BTH … pad; a view, never copied or written by the link */
    readonly packet: Uint8Array,
    image: Uint8Array | null = null,
    /** bits flipped in flight (8 × byte + bit, 0 = LSB of the byte), each at most once; empty if intact */
    readonly flips: readonly number[] = NO_FLIPS,
  ) {
    this.length = head.length + packet.length + codec.trailerBytes(head.length, packet.length);
    this.#image = image;
  }

  get format(): FrameFormat {
    return this.codec.format;
  }

  /** some bit was flipped in flight */
  get corrupted(): boolean {
    return this.flips.length > 0;
  }

  /** the IB virtual lane (LRH.VL); 0 for Ethernet */
  get vl(): number {
    return this.codec.format === "ib" ? this.head[0]! >>> 4 : 0;
  }

  /** the wire image has been built (a capture or a check asked for it) */
  get materialised(): boolean {
    return this.#image !== null;
  }

  /** the frame as on the wire, CRCs included; built on first use, then shared (do not write to it) */
  bytes(): Uint8Array {
    let img = this.#image;
    if (img === null) {
      const h = this.head.length;
      const p = this.packet.length;
      img = new Uint8Array(this.length);
      img.set(this.head, 0);
      img.set(this.packet, h);
      this.codec.writeTrailer(img, h, p);
      this.#image = img;
    }
    return img;
  }

  /**
   * A copy of this frame with `bits` of its image flipped. The CRCs stay those of the
   * intact frame; a bit flipped twice is back to what it was.
   */
  withFlips(bits: readonly number[]): Frame {
    const img = this.bytes().slice();
    const flips = new Set(this.flips);
    for (const b of bits) {
      if (!(Number.isInteger(b) && b >= 0 && b < this.length * 8)) {
        throw new RangeError(`Frame.withFlips: bit ${b} is outside the ${this.length}-byte frame`);
      }
      img[b >>> 3] ^= 1 << (b & 7);
      if (!flips.delete(b)) flips.add(b);
    }
    const h = this.head.length;
    const p = this.packet.length;
    return new Frame(this.codec, img.subarray(0, h), img.subarray(h, h + p), img, Object.freeze([...flips].sort((a, b) => a - b)));
  }

  /** the link CRC (FCS/VCRC) verdict under `mode` */
  linkCrcOk(mode: CrcMode): boolean {
    if (mode === "trusted" && this.flips.length === 0) return true;
    return this.codec.linkCrcOk(this.bytes());
  }
}
