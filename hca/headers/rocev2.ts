/**
 * The RoCEv2 header stack (IBTA Annex A17): Ethernet, IPv4 or IPv6, UDP to port 4791,
 * then the IB BTH. Offsets are summed from the layouts, never by hand.
 */
import { Bth } from "./bth.ts";
import { Ethernet } from "./ethernet.ts";
import { Ipv4 } from "./ipv4.ts";
import { Ipv6 } from "./ipv6.ts";
import { Udp } from "./udp.ts";

/** Where each header starts in an untagged RoCEv2 frame, and how long the stack is. */
export interface Rocev2Offsets {
  readonly ipVersion: 4 | 6;
  readonly ip: number;
  readonly udp: number;
  readonly bth: number;
  /** first byte after the BTH (extension headers, then payload) */
  readonly afterBth: number;
}

function offsets(ipVersion: 4 | 6): Rocev2Offsets {
  const ip = Ethernet.sizeBytes;
  const udp = ip + (ipVersion === 4 ? Ipv4.sizeBytes : Ipv6.sizeBytes);
  const bth = udp + Udp.sizeBytes;
  return Object.freeze({ ipVersion, ip, udp, bth, afterBth: bth + Bth.sizeBytes });
}

export const ROCEV2_IPV4: Rocev2Offsets = offsets(4);
export const ROCEV2_IPV6: Rocev2Offsets = offsets(6);

/** bytes of the trailing invariant CRC */
export const ICRC_BYTES = 4;
