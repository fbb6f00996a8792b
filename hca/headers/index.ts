export { Ethernet, EthernetVlan, EtherType } from "./ethernet.ts";
export { Ipv4, IpProtocol, ipv4HeaderChecksum } from "./ipv4.ts";
export { Ipv6 } from "./ipv6.ts";
export { Udp, ROCEV2_UDP_PORT } from "./udp.ts";
export {
  Bth,
  BTH_BYTES,
  BTH_OPCODES,
  BthOpFlag,
  bthOpcode,
  EXTENSION_HEADER_BYTES,
  Transport,
  type BthOpcode,
  type ExtensionHeader,
  type RemoteRight,
  type TransportName,
} from "./bth.ts";
export { ROCEV2_IPV4, ROCEV2_IPV6, ICRC_BYTES, type Rocev2Offsets } from "./rocev2.ts";
export { Lrh, Lnh, MULTICAST_LID_BASE } from "./lrh.ts";
export { Grh, GRH_IPVER, GRH_NXTHDR_IBA } from "./grh.ts";
export { Deth } from "./deth.ts";
export { Ipoib, IPOIB_QKEY } from "./ipoib.ts";
