/**
 * Native InfiniBand framing (IBTA Vol 1 ch. 7–8): a transport packet (BTH … pad) in
 *
 *   | LRH (8) | [GRH (40)] | BTH … pad | ICRC (4) | VCRC (2) |
 *
 * and the parser that takes it apart with a verdict per check.
 *
 * LRH.LNH is 2 (IBA local) without a GRH and 3 (IBA global) with one; PktLen counts
 * 4-byte words from the LRH through the ICRC (§7.7.8); GRH.PayLen counts bytes from the
 * BTH through the ICRC (§8.3.1).
 *
 * The ICRC (§7.8.1) covers what no switch or router changes, the rest replaced by ones:
 *  - local packet: the LRH with VL as ones, then BTH (byte 4, resv8a, as ones) … pad;
 *  - global packet: the whole LRH as ones (a router rewrites it), the GRH with TClass,
 *    FlowLabel and HopLmt as ones, then BTH (byte 4 as ones) … pad. This is the RoCEv2
 *    computation without the UDP header: RoCEv2's 8 bytes of 0xFF are this masked LRH.
 * The VCRC (§7.8.2) covers LRH … ICRC and is recomputed per hop.
 */
import { crc32Update } from "../../core/crc.ts";
import { Bth } from "../headers/bth.ts";
import { Grh, GRH_IPVER, GRH_NXTHDR_IBA } from "../headers/grh.ts";
import { Lnh, Lrh } from "../headers/lrh.ts";
import { fieldMask, ICRC_SEED } from "../icrc/icrc.ts";
import { checkVcrc, IB_ICRC_BYTES, IB_VCRC_BYTES, ibIcrc, vcrc } from "../ib/ib-crc.ts";
import { formatGid, type Gid, parseGid } from "./addresses.ts";
import { type CrcMode, Frame, type FrameCodec } from "./frame.ts";

const LRH_BYTES = Lrh.sizeBytes;
const GRH_AT = LRH_BYTES;
/** head bytes: LRH only (LNH 2) or LRH + GRH (LNH 3) */
export const IB_HEAD_BYTES = { local: LRH_BYTES, global: LRH_BYTES + Grh.sizeBytes } as const;
const TRAILER = IB_ICRC_BYTES + IB_VCRC_BYTES;
/** PktLen is 11 bits of 4-byte words */
const MAX_PKTLEN_BYTES = 0x7ff * 4;
/** the shortest IBA packet: LRH, BTH, ICRC, VCRC */
const MIN_PACKET = LRH_BYTES + Bth.sizeBytes + TRAILER;

/** GRH + BTH with the ICRC's variant fields as ones, indexed from the GRH */
const GLOBAL_MASK = (() => {
  const m = new Uint8Array(Grh.sizeBytes + Bth.sizeBytes);
  m.set(fieldMask(Grh, ["tClass", "flowLabel", "hopLmt"]), 0);
  m.set(fieldMask(Bth, ["fecn", "becn", "resv6"]), Grh.sizeBytes);
  return m;
})();
const scratch = new Uint8Array(GLOBAL_MASK.length);

/** The ICRC of img[0, end) whose headers take `headBytes` (8: local, 48: global). */
export function ibIcrcOf(img: Uint8Array, headBytes: number, end: number): number {
  if (headBytes === IB_HEAD_BYTES.local) return ibIcrc(img, end);
  const n = GLOBAL_MASK.length;
  for (let i = 0; i < n; i++) scratch[i] = img[GRH_AT + i]! | GLOBAL_MASK[i]!;
  const s = crc32Update(ICRC_SEED, scratch, 0, n);
  return ~crc32Update(s, img, GRH_AT + n, end) >>> 0;
}

function writeLe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v;
  b[at + 1] = v >>> 8;
  b[at + 2] = v >>> 16;
  b[at + 3] = v >>> 24;
}

const readLe32 = (b: Uint8Array, at: number) => (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;

/** IB packets: trailer = ICRC, VCRC */
export const IB_CODEC: FrameCodec = Object.freeze({
  format: "ib" as const,
  trailerBytes(): number {
    return TRAILER;
  },
  writeTrailer(img: Uint8Array, headBytes: number, packetBytes: number): void {
    const icrcAt = headBytes + packetBytes;
    writeLe32(img, icrcAt, ibIcrcOf(img, headBytes, icrcAt));
    const v = vcrc(img, icrcAt + IB_ICRC_BYTES);
    img[icrcAt + 4] = v;
    img[icrcAt + 5] = v >>> 8;
  },
  linkCrcOk(img: Uint8Array): boolean {
    return checkVcrc(img);
  },
});

// ---- sender ----------------------------------------------------------------------------

/** Where an IB packet goes: LIDs and service level, and a GRH for a global route. */
export interface IbPath {
  slid: number;
  dlid: number;
  /** service level, 0..15 */
  sl: number;
  /** virtual lane, 0..15 (15 = management); default 0: the sender's SL-to-VL table is not modelled */
  vl?: number;
  grh?: {
    sgid: Gid | string;
    dgid: Gid | string;
    /** default 0 */
    tClass?: number;
    /** default 0 */
    flowLabel?: number;
    /** default 64 */
    hopLimit?: number;
  };
}

const PKTLEN_AT = Lrh.field("pktLen").byteOffset; // bytes 4..5: resv5 and the 11-bit PktLen
const PAYLEN_AT = GRH_AT + Grh.field("payLen").byteOffset;

/** Frames transport packets for one IB path. */
export class IbFramer {
  readonly headBytes: number;
  private readonly template: Uint8Array;

  constructor(readonly path: IbPath) {
    const global = path.grh !== undefined;
    this.headBytes = global ? IB_HEAD_BYTES.global : IB_HEAD_BYTES.local;
    const t = new Uint8Array(this.headBytes);
    Lrh.encode({ vl: path.vl ?? 0, lver: 0, sl: path.sl, lnh: global ? Lnh.ibaGlobal : Lnh.ibaLocal, dlid: path.dlid, pktLen: 0, slid: path.slid }, t, 0);
    if (path.grh) {
      const g = path.grh;
      const sgid = typeof g.sgid === "string" ? parseGid(g.sgid) : g.sgid;
      const dgid = typeof g.dgid === "string" ? parseGid(g.dgid) : g.dgid;
      if (sgid.length !== 16 || dgid.length !== 16) throw new RangeError(`IB path: GIDs have 16 bytes (${formatGid(sgid)} → ${formatGid(dgid)})`);
      Grh.encode(
        { ipVer: GRH_IPVER, tClass: g.tClass ?? 0, flowLabel: g.flowLabel ?? 0, payLen: 0, nxtHdr: GRH_NXTHDR_IBA, hopLmt: g.hopLimit ?? 64, sgid, dgid },
        t,
        GRH_AT,
      );
    }
    this.template = t;
  }

  /** The frame of one transport packet (BTH … pad, a multiple of 4 bytes); the packet is referenced, not copied. */
  frame(packet: Uint8Array): Frame {
    const p = packet.length;
    if (p < Bth.sizeBytes || (p & 3) !== 0) {
      throw new RangeError(`IB framing: a transport packet is a BTH and more, padded to 4 bytes; got ${p} bytes`);
    }
    const covered = this.headBytes + p + IB_ICRC_BYTES;
    if (covered > MAX_PKTLEN_BYTES) throw new RangeError(`IB framing: a ${p}-byte packet makes ${covered} bytes, more than LRH.PktLen can count (${MAX_PKTLEN_BYTES})`);
    const h = this.template.slice();
    const words = covered >>> 2;
    h[PKTLEN_AT] = (h[PKTLEN_AT]! & 0xf8) | (words >>> 8);
    h[PKTLEN_AT + 1] = words;
    if (this.headBytes === IB_HEAD_BYTES.global) {
      const payLen = p + IB_ICRC_BYTES;
      h[PAYLEN_AT] = payLen >>> 8;
      h[PAYLEN_AT + 1] = payLen;
    }
    return new Frame(IB_CODEC, h, packet);
  }
}

export function frameIb(packet: Uint8Array, path: IbPath): Frame {
  return new IbFramer(path).frame(packet);
}

// ---- receiver --------------------------------------------------------------------------

/**
 * What a receiving IB port concludes, first failure wins: runt, VCRC (link layer), link
 * version, LNH (raw and non-IBA packets are not handled), PktLen, GRH version and next
 * header, GRH PayLen, ICRC.
 */
export type IbVerdict = "ok" | "runt" | "vcrc-bad" | "link-version" | "not-iba" | "length-mismatch" | "grh-version" | "grh-next-header" | "icrc-bad";

/** The addresses of a received IB packet, read from its headers on demand. */
export class IbAddresses {
  constructor(private readonly buf: Uint8Array) {}
  get vl(): number {
    return Lrh.get(this.buf, 0, "vl");
  }
  get sl(): number {
    return Lrh.get(this.buf, 0, "sl");
  }
  get dlid(): number {
    return Lrh.get(this.buf, 0, "dlid");
  }
  get slid(): number {
    return Lrh.get(this.buf, 0, "slid");
  }
  get global(): boolean {
    return Lrh.get(this.buf, 0, "lnh") === Lnh.ibaGlobal;
  }
  /** GRH fields; undefined for a local packet */
  get grh(): { sgid: Gid; dgid: Gid; tClass: number; flowLabel: number; hopLimit: number } | undefined {
    if (!this.global) return undefined;
    const b = this.buf;
    return {
      sgid: Grh.getBytes(b, GRH_AT, "sgid"),
      dgid: Grh.getBytes(b, GRH_AT, "dgid"),
      tClass: Grh.get(b, GRH_AT, "tClass"),
      flowLabel: Grh.get(b, GRH_AT, "flowLabel"),
      hopLimit: Grh.get(b, GRH_AT, "hopLmt"),
    };
  }
}

export interface IbParse {
  verdict: IbVerdict;
  detail: string;
  vcrcOk?: boolean;
  icrcOk?: boolean;
  addresses?: IbAddresses;
  /** the transport packet (BTH … pad), once the lengths are consistent; a view into the frame */
  packet?: Uint8Array;
}

interface HeaderParse {
  verdict: IbVerdict;
  detail: string;
  addresses?: IbAddresses;
  headBytes?: number;
  packetBytes?: number;
}

/** the headers of an IB packet `length` bytes long (LRH … VCRC); `buf` holds at least the headers */
function parseIbHeaders(buf: Uint8Array, length: number): HeaderParse {
  if (length < MIN_PACKET) return { verdict: "runt", detail: `${length} bytes, shorter than an LRH, a BTH, ICRC and VCRC (${MIN_PACKET})` };
  const lver = Lrh.get(buf, 0, "lver");
  if (lver !== 0) return { verdict: "link-version", detail: `LRH.LVer ${lver} is not 0` };
  const lnh = Lrh.get(buf, 0, "lnh");
  if (lnh !== Lnh.ibaLocal && lnh !== Lnh.ibaGlobal) return { verdict: "not-iba", detail: `LRH.LNH ${lnh}: ${lnh === Lnh.raw ? "raw" : "IPv6 non-IBA"} packets are not handled` };
  const addresses = new IbAddresses(buf);
  const headBytes = lnh === Lnh.ibaGlobal ? IB_HEAD_BYTES.global : IB_HEAD_BYTES.local;
  if (length < headBytes + Bth.sizeBytes + TRAILER) return { verdict: "runt", detail: `${length} bytes, shorter than LRH, GRH, BTH, ICRC and VCRC`, addresses };
  const pktLen = Lrh.get(buf, 0, "pktLen") * 4;
  if (pktLen !== length - IB_VCRC_BYTES) return { verdict: "length-mismatch", detail: `LRH.PktLen says ${pktLen} bytes through the ICRC, the packet has ${length - IB_VCRC_BYTES}`, addresses };
  const packetBytes = length - headBytes - TRAILER;
  if (headBytes === IB_HEAD_BYTES.global) {
    const ipVer = Grh.get(buf, GRH_AT, "ipVer");
    if (ipVer !== GRH_IPVER) return { verdict: "grh-version", detail: `GRH.IPVer ${ipVer} is not ${GRH_IPVER}`, addresses };
    const nxt = Grh.get(buf, GRH_AT, "nxtHdr");
    if (nxt !== GRH_NXTHDR_IBA) return { verdict: "grh-next-header", detail: `GRH.NxtHdr 0x${nxt.toString(16)} is not 0x1b (IBA)`, addresses };
    const payLen = Grh.get(buf, GRH_AT, "payLen");
    if (payLen !== packetBytes + IB_ICRC_BYTES) return { verdict: "length-mismatch", detail: `GRH.PayLen ${payLen}, the packet has ${packetBytes + IB_ICRC_BYTES} bytes after the GRH through the ICRC`, addresses };
  }
  return { verdict: "ok", detail: "", addresses, headBytes, packetBytes };
}

const hex = (v: number, digits: number) => v.toString(16).padStart(digits, "0");

/** Takes an IB packet (LRH … VCRC) apart from its bytes, recomputing the VCRC and the ICRC. */
export function parseIbPacket(bytes: Uint8Array): IbParse {
  if (bytes.length < MIN_PACKET) return { verdict: "runt", detail: `${bytes.length} bytes, shorter than an LRH, a BTH, ICRC and VCRC (${MIN_PACKET})` };
  const vcrcOk = checkVcrc(bytes);
  const h = parseIbHeaders(bytes, bytes.length);
  let icrcOk: boolean | undefined;
  let computed = 0;
  let carried = 0;
  if (h.headBytes !== undefined) {
    const at = h.headBytes + h.packetBytes!;
    computed = ibIcrcOf(bytes, h.headBytes, at);
    carried = readLe32(bytes, at);
    icrcOk = computed === carried;
  }
  let verdict: IbVerdict = h.verdict;
  let detail = h.detail;
  if (!vcrcOk) {
    const n = bytes.length - IB_VCRC_BYTES;
    verdict = "vcrc-bad";
    detail = `VCRC ${hex(bytes[n]! | (bytes[n + 1]! << 8), 4)}, expected ${hex(vcrc(bytes, n), 4)}`;
  } else if (verdict === "ok" && icrcOk === false) {
    verdict = "icrc-bad";
    detail = `ICRC ${hex(carried, 8)}, expected ${hex(computed, 8)}`;
  }
  const out: IbParse = { verdict, detail, vcrcOk, icrcOk, addresses: h.addresses };
  if (h.headBytes !== undefined) out.packet = bytes.subarray(h.headBytes, h.headBytes + h.packetBytes!);
  return out;
}

/** What an IB port makes of a packet it received; see receiveRoce for the two modes. */
export function receiveIb(frame: Frame, mode: CrcMode = "trusted"): IbParse {
  if (frame.format !== "ib") throw new TypeError(`receiveIb: a ${frame.format} frame is not InfiniBand`);
  if (mode === "recompute" || frame.corrupted) return parseIbPacket(frame.bytes());
  const h = parseIbHeaders(frame.head, frame.length);
  const located = h.headBytes !== undefined;
  const out: IbParse = { verdict: h.verdict, detail: h.detail, vcrcOk: true, icrcOk: located ? true : undefined, addresses: h.addresses };
  if (located) out.packet = frame.packet;
  return out;
}
