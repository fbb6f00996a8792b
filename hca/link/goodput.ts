/**
 * The most message bytes per second a link can carry: what perftest's bandwidth could
 * reach at best, to print beside the measured figure.
 *
 * A message of M bytes with path MTU m travels in n = max(1, ceil(M / m)) packets
 * (ONLY, or FIRST, n − 2 × MIDDLE, LAST), each costing on the wire:
 *   network headers (Ethernet 14 + IPv4 20 / IPv6 40 + UDP 8; or LRH 8 [+ GRH 40])
 *   + BTH 12 + the opcode's extension headers (RETH on the first WRITE packet, AETH on
 *   READ responses, DETH for UD) + payload + pad to 4 + ICRC 4
 *   + FCS 4, padded to 64, + preamble/SFD/gap 20      (Ethernet)
 *   + VCRC 2 + delimiters, rounded to the lane width   (IB)
 * The link's data rate divided by those bytes, times M, is the goodput. Acknowledgements
 * and read requests travel the other way on a full-duplex link and are not counted.
 */
import { Bth, BTH_OPCODES } from "../headers/index.ts";
import { ICRC_BYTES } from "../headers/rocev2.ts";
import { IB_VCRC_BYTES } from "../ib/ib-crc.ts";
import { IB_HEAD_BYTES } from "./ib-framing.ts";
import { ROCEV2_HEAD_BYTES } from "./roce-framing.ts";
import { FCS_BYTES, type LinkSpeed, linkDataRate, linkSpeed, linkWireBytes } from "./speeds.ts";

export type GoodputTransport = "rocev2-ipv4" | "rocev2-ipv6" | "ib" | "ib-grh";
/** RC RDMA WRITE, RC SEND, RC RDMA READ (its responses), UD SEND (one packet per message) */
export type GoodputOperation = "write" | "send" | "read" | "ud-send";

/** the IB path MTUs (IBTA Vol 1 §7.7.9): payload bytes per packet */
export const PATH_MTUS = [256, 512, 1024, 2048, 4096] as const;

export interface GoodputQuery {
  messageBytes: number;
  /** path MTU [bytes of payload per packet] */
  mtu: number;
  speed: LinkSpeed | string;
  /** default "rocev2-ipv4" on Ethernet, "ib" on IB */
  transport?: GoodputTransport;
  /** default "write" */
  operation?: GoodputOperation;
}

export interface Goodput {
  /** message bytes at line rate [bit/s] */
  goodputBps: number;
  /** goodput / data rate */
  efficiency: number;
  messagesPerSecond: number;
  packets: number;
  /** link time one message takes, overhead included [bytes] */
  wireBytes: number;
}

const OPCODE_PREFIX: Record<GoodputOperation, string> = {
  write: "RC_RDMA_WRITE_",
  send: "RC_SEND_",
  read: "RC_RDMA_READ_RESPONSE_",
  "ud-send": "UD_SEND_",
};

function extensionBytes(op: GoodputOperation, position: "ONLY" | "FIRST" | "MIDDLE" | "LAST"): number {
  const name = OPCODE_PREFIX[op] + position;
  const o = BTH_OPCODES.find((x) => x.name === name);
  if (o === undefined) throw new RangeError(`goodput: no opcode ${name}`);
  return o.headerBytes;
}

export function theoreticalGoodput(q: GoodputQuery): Goodput {
  const speed = linkSpeed(q.speed);
  const ethernet = speed.kind === "ethernet";
  const transport = q.transport ?? (ethernet ? "rocev2-ipv4" : "ib");
  const op = q.operation ?? "write";
  if (transport.startsWith("rocev2") !== ethernet) throw new RangeError(`goodput: ${transport} does not run on an ${ethernet ? "Ethernet" : "InfiniBand"} link`);
  if (!(PATH_MTUS as readonly number[]).includes(q.mtu)) throw new RangeError(`goodput: MTU ${q.mtu} is not one of ${PATH_MTUS.join(", ")}`);
  const m = q.messageBytes;
  if (!(Number.isSafeInteger(m) && m >= 0)) throw new RangeError(`goodput: message size must be whole bytes ≥ 0, got ${m}`);
  if (op === "ud-send" && m > q.mtu) throw new RangeError(`goodput: a UD message fits one packet (${m} > MTU ${q.mtu})`);

  const head = { "rocev2-ipv4": ROCEV2_HEAD_BYTES[4], "rocev2-ipv6": ROCEV2_HEAD_BYTES[6], ib: IB_HEAD_BYTES.local, "ib-grh": IB_HEAD_BYTES.global }[transport];
  const trailer = ICRC_BYTES + (ethernet ? FCS_BYTES : IB_VCRC_BYTES);
  const wire = (position: "ONLY" | "FIRST" | "MIDDLE" | "LAST", payload: number) =>
    linkWireBytes(speed, head + Bth.sizeBytes + extensionBytes(op, position) + payload + (-payload & 3) + trailer);

  const n = Math.max(1, Math.ceil(m / q.mtu));
  const wireBytes = n === 1 ? wire("ONLY", m) : wire("FIRST", q.mtu) + (n - 2) * wire("MIDDLE", q.mtu) + wire("LAST", m - (n - 1) * q.mtu);
  const bps = linkDataRate(speed);
  const messagesPerSecond = bps / (wireBytes * 8);
  const goodputBps = messagesPerSecond * m * 8;
  return { goodputBps, efficiency: goodputBps / bps, messagesPerSecond, packets: n, wireBytes };
}
