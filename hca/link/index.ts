/**
 * hca/link: the wire side of the adapter. Transport packets (BTH … pad) become RoCEv2
 * frames or native IB packets and back; links carry them on the event kernel with
 * serialisation, propagation, IB credits, injected faults and captures; a switch joins
 * links. See README.md.
 */
export {
  flowLabelFromQpns,
  formatGid,
  formatMac,
  type Gid,
  gidIpv4,
  ipv4MappedGid,
  isIpv4MappedGid,
  isLinkLocalGid,
  isMulticastGid,
  linkLocalGid,
  type Mac,
  macOfLinkLocalGid,
  multicastMac,
  NeighbourTable,
  parseGid,
  parseMac,
  resolveDestMac,
  ROCEV2_SPORT_MIN,
  rocev2SourcePort,
  udpSourcePortOfFlowLabel,
} from "./addresses.ts";
export { type CrcMode, Frame, type FrameCodec, type FrameFormat } from "./frame.ts";
export {
  frameRoce,
  parseRoceFrame,
  receiveRoce,
  RoceAddresses,
  ROCEV2_CODEC,
  ROCEV2_HEAD_BYTES,
  RoceFramer,
  type RoceFramerOptions,
  type RoceParse,
  type RocePath,
  type RoceVerdict,
} from "./roce-framing.ts";
export { frameIb, IB_CODEC, IB_HEAD_BYTES, IbAddresses, IbFramer, ibIcrcOf, type IbParse, type IbPath, type IbVerdict, parseIbPacket, receiveIb } from "./ib-framing.ts";
export * from "./speeds.ts";
export { CREDIT_BLOCK_BYTES, CreditAccount, type CreditOptions, creditBlocks, DEFAULT_CREDIT_BUFFER_BYTES, MANAGEMENT_VL } from "./credits.ts";
export {
  burst,
  checkFaultTable,
  DEFAULT_REORDER_HOLD_PS,
  FAULT_KINDS,
  type FaultCounts,
  FaultInjector,
  type FaultKind,
  type FaultOutcome,
  type FaultRule,
  MAX_BURST_BITS,
} from "./faults.ts";
export { type Arrival, type AttachOptions, type CaptureTap, Link, type LinkEndpoint, type LinkOptions, LinkPort, type WireCounters } from "./link.ts";
export { Switch, type SwitchDrops, type SwitchMode, type SwitchOptions, SwitchPort, type SwitchPortCounters } from "./switch.ts";
export { LinkCapture, type LinkCaptureOptions } from "./capture.ts";
export { type Goodput, type GoodputOperation, type GoodputQuery, type GoodputTransport, PATH_MTUS, theoreticalGoodput } from "./goodput.ts";
export { opcodeName, type SamplePacket, samplePacket } from "./sample-packets.ts";

export { receiveFrame } from "./receive.ts";
