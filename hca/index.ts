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
