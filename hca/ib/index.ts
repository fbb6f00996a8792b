/** hca/ib: native InfiniBand link-level helpers (IBTA Vol 1 §7.8 CRCs). */
export {
  appendIbCrcs,
  carriedIcrc,
  carriedVcrc,
  checkIbIcrc,
  checkVcrc,
  IB_ICRC_BYTES,
  IB_VCRC_BYTES,
  ibIcrc,
  ICRC_BTH_VARIANT_BYTE,
  vcrc,
  vcrcUpdate,
  writeIbCrcs,
  VCRC_POLY_REFLECTED,
  VCRC_RESIDUE,
} from "./ib-crc.ts";
