/**
 * The transport packet: the unit the transport hands to the link layer and takes from it.
 *
 *   link layer (hca/link)                        transport (this folder)
 *   LRH [GRH] | BTH ext-headers payload pad | ICRC VCRC        (InfiniBand)
 *   Eth IP UDP | BTH ext-headers payload pad | ICRC            (RoCEv2)
 *               └──────── TransportPacket.bytes ────────┘
 *
 * `bytes` starts at the BTH and ends after the pad, before the ICRC: the BTH's PadCnt
 * says how many of its last bytes are pad. The link layer adds and strips everything
 * outside it (framing, ICRC/VCRC, fault injection). Beside the bytes a packet carries
 * the few address fields that travel outside the BTH:
 *
 *   field    on transmit (set by the transport)        on receive (set by the link layer)
 *   slid     the port's LID                            LRH SLID (0 on RoCE)
 *   dlid     the destination LID (QP path / UD AV)     LRH DLID (0 on RoCE)
 *   sl       service level                             LRH SL (RoCE: from the IP DSCP, or 0)
 *   hasGrh   a GRH (IB) / an IP header (RoCE) is due   one came with the packet
 *   grh      40-byte GRH: version/tclass/flow label,   the GRH as received; RoCEv2 over IPv6:
 *            hop limit, SGID, DGID (payload length     the IPv6 header; over IPv4: the IPv4
 *            and next header are the link's to fill)   header in bytes 20..39, 0..19 zero
 *
 * The P_Key travels in the BTH; UD's source QP and Q_Key travel in the DETH.
 *
 * Ownership: a packet handed to `transmit` (or to an engine's `receive`) belongs to the
 * callee, which calls `release()` when done with it; a pooled packet then returns to its
 * pool, so the hot path allocates nothing per packet. The requester never keeps a copy:
 * it rebuilds a packet from its WQE when it must retransmit.
 *
 * Payload by reference: a payload that lies in one page of the sender's host memory may
 * stay there (`referPayload`) until someone reads the packet: `buf`, `bytes` and `view`
 * copy it in first, while the transport's receive path copies it from that page straight
 * into the receiver's memory (`source`). The bytes are those of host memory when the packet
 * is read, as when a real adapter fetches a payload as it leaves; RDMA lets the application
 * touch a send buffer only after its completion, so what a packet carries is the same.
 */
import { BTH_BYTES, BTH_OPCODES } from "../headers/index.ts";

/** largest path MTU [bytes] */
export const MAX_MTU = 4096;
/** bytes of a GRH (and of the address-field copy a packet carries) */
export const GRH_BYTES = 40;
/** the longest transport packet: BTH, the largest extension headers, a full MTU and pad */
export const MAX_PACKET_BYTES = BTH_BYTES + Math.max(...BTH_OPCODES.map((o) => o.headerBytes)) + MAX_MTU + 3;
/** IB path MTU codes (PortInfo / QP context `mtu`) → bytes */
export const MTU_BYTES: Readonly<Record<number, number>> = { 1: 256, 2: 512, 3: 1024, 4: 2048, 5: 4096 };

const NO_BYTES = new Uint8Array(0);

export class TransportPacket {
  /**
   * backing store: the packet is its first `length` bytes, except a payload still held by
   * reference (`referPayload`). `buf` is the same array with the payload copied in.
   */
  readonly store: Uint8Array;
  /**
   * `store` as a DataView: the stages read and write header fields through it (big-endian,
   * as on the wire), which the JIT turns into plain loads and stores
   */
  readonly dv: DataView;
  /** bytes in the packet, BTH to pad [bytes] */
  length = 0;
  /** source LID */
  slid = 0;
  /** destination LID */
  dlid = 0;
  /** service level */
  sl = 0;
  /** a GRH (or, on RoCEv2, an IP header) goes or came with the packet */
  hasGrh = false;
  /** the GRH, 40 bytes (see the table above) */
  readonly grh = new Uint8Array(GRH_BYTES);
  /** where the bytes the last `source` call returned start in the array it returned */
  sourceOffset = 0;

  // a payload held by reference: packet bytes [refAt, refAt + refLength) are refArray[refOffset..]
  private refArray: Uint8Array | null = null;
  private refOffset = 0;
  private refAt = 0;
  private refLength = 0;

  constructor(
    /** where `release` returns it; null: it is left to the garbage collector */
    readonly pool: PacketPool | null,
    capacity = MAX_PACKET_BYTES,
  ) {
    this.store = new Uint8Array(capacity);
    this.dv = new DataView(this.store.buffer);
  }

  /** backing store with every byte in it (a payload held by reference is copied in first) */
  get buf(): Uint8Array {
    if (this.refArray !== null) this.copyPayloadIn();
    return this.store;
  }

  /** the packet: BTH to pad (a view, valid until release) */
  get bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  /**
   * Packet bytes [at, at + length) are src[srcOffset, srcOffset + length) (a host-memory
   * page), read when the packet is: nothing is copied now. The rest of the packet is in `store`.
   */
  referPayload(at: number, length: number, src: Uint8Array, srcOffset: number): void {
    this.refArray = src;
    this.refOffset = srcOffset;
    this.refAt = at;
    this.refLength = length;
  }

  /** the payload is held by reference (not in `store` yet) */
  get payloadByReference(): boolean {
    return this.refArray !== null;
  }

  private copyPayloadIn(): void {
    const src = this.refArray!;
    const o = this.refOffset;
    this.store.set(o === 0 && this.refLength === src.length ? src : src.subarray(o, o + this.refLength), this.refAt);
    this.refArray = null;
  }

  /**
   * The array holding packet bytes [offset, offset + length), without copying them: the
   * referred page when they are the payload held by reference, else `store`; they start at
   * `sourceOffset` in it.
   */
  source(offset: number, length: number): Uint8Array {
    const r = this.refArray;
    if (r !== null) {
      if (offset === this.refAt && length === this.refLength) {
        this.sourceOffset = this.refOffset;
        return r;
      }
      this.copyPayloadIn();
    }
    this.sourceOffset = offset;
    return this.store;
  }

  // the last view handed out by view(): a pooled packet carries the same kind of packet
  // again and again, so the receive path finds its payload view made already
  private viewOffset = 0;
  private viewLength = 0;
  private viewBytes: Uint8Array = NO_BYTES;

  /** buf[offset, offset+length) as a view (the same view while offset and length repeat) */
  view(offset: number, length: number): Uint8Array {
    if (this.refArray !== null) this.copyPayloadIn();
    if (offset !== this.viewOffset || length !== this.viewLength) {
      this.viewBytes = this.store.subarray(offset, offset + length);
      this.viewOffset = offset;
      this.viewLength = length;
    }
    return this.viewBytes;
  }

  /** hands the packet back to its pool; it must not be used afterwards */
  release(): void {
    this.refArray = null;
    this.pool?.put(this);
  }

  /** copies bytes and address fields from `p` */
  copyFrom(p: TransportPacket): void {
    this.refArray = null;
    this.store.set(p.buf.subarray(0, p.length));
    this.length = p.length;
    this.slid = p.slid;
    this.dlid = p.dlid;
    this.sl = p.sl;
    this.hasGrh = p.hasGrh;
    this.grh.set(p.grh);
  }
}

/** a free list of packets of MAX_PACKET_BYTES */
export class PacketPool {
  private readonly free: TransportPacket[] = [];
  /** packets made (the pool's high-water mark) */
  created = 0;

  /** a packet with length 0, no GRH and zero address fields */
  get(): TransportPacket {
    const p = this.free.pop() ?? (this.created++, new TransportPacket(this));
    p.length = 0;
    p.slid = 0;
    p.dlid = 0;
    p.sl = 0;
    p.hasGrh = false;
    return p;
  }

  /** @internal use packet.release() */
  put(p: TransportPacket): void {
    this.free.push(p);
  }

  /** packets waiting in the pool */
  get available(): number {
    return this.free.length;
  }
}

/**
 * A packet of exactly `bytes` (a copy) with the given address fields, outside any pool:
 * for tests and for a link layer that builds packets from frames.
 */
export function packetFrom(bytes: Uint8Array, addr: { slid?: number; dlid?: number; sl?: number; grh?: Uint8Array } = {}): TransportPacket {
  const p = new TransportPacket(null, Math.max(bytes.length, 1));
  p.store.set(bytes);
  p.length = bytes.length;
  p.slid = addr.slid ?? 0;
  p.dlid = addr.dlid ?? 0;
  p.sl = addr.sl ?? 0;
  if (addr.grh !== undefined) {
    if (addr.grh.length !== GRH_BYTES) throw new RangeError(`packetFrom: a GRH is ${GRH_BYTES} bytes, got ${addr.grh.length}`);
    p.hasGrh = true;
    p.grh.set(addr.grh);
  }
  return p;
}

/**
 * What a link (or a test wire) implements to carry packets away from an engine. It may
 * return when it can take the next packet [ps] (its egress FIFO is full until then): the
 * engine's transmit datapath then waits, which is how a slower wire pushes back.
 */
export type TransmitFn = (pkt: TransportPacket) => void | number;
