/** hca: InfiniBand HCA and RoCE models. The public face; other folders import only this. */
export * from "./headers/index.ts";
export {
  appendIcrc,
  checkIcrc,
  classifyRoce,
  computeIcrc,
  icrcBlockFunction,
  icrcBytes,
  ICRC_RESIDUE,
  ICRC_SEED,
  ICRC_VARIANT_FIELDS,
  IcrcStatus,
  type IcrcStatusValue,
  type NotRocev2Reason,
  type RoceClass,
} from "./icrc/icrc.ts";
export { IcrcTwin, ICRC_TWIN_DATA_BYTES, type IcrcDataBytes, type IcrcTwinOptions } from "./icrc/icrc-twin.ts";
export * from "./ib/index.ts";
export {
  BROADCAST_MAC,
  decodeTableEntry,
  encodeTableEntry,
  ForwardingTable,
  MULTICAST_QPN,
  QKEY,
  TABLE_ENTRY_BYTES,
  tableEntry,
  TableEntryLayout,
  type TableEntry,
} from "./gateway/table.ts";
export { GatewayTwin, GATEWAY_LID, GATEWAY_QPN, type GatewayTwinOptions } from "./gateway/gateway-twin.ts";
export { Eth2IbTwin } from "./gateway/eth2ib.ts";
export { Ib2EthTwin } from "./gateway/ib2eth.ts";
export * from "./doorbell/index.ts";
export * from "./tpt/index.ts";

// the transport (requester, responder, completer) and the wire (framing, links, faults, switch)
export * from "./transport/index.ts";
export * from "./link/index.ts";
