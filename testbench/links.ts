/**
 * Link speeds and per-frame wire overheads for the testbenches: the tables live in
 * hca/link/speeds.ts (the link model uses them too); this adds the scenario-facing lookup
 * that reports an unknown speed as a user error.
 */
import { UserError } from "../cosim/index.ts";
import { ETHERNET_SPEEDS, type EthernetSpeed } from "../hca/link/index.ts";

export {
  ETHERNET_MIN_FRAME,
  ETHERNET_OVERHEAD_BYTES,
  ETHERNET_SPEEDS,
  ethernetLineFps,
  type EthernetSpeed,
  IB_SPEEDS,
  IB_WIDTHS,
  ibDataRate,
  type IbLink,
  type IbSpeed,
  type IbWidth,
  ibWireBytes,
} from "../hca/link/index.ts";

export function ethernetRate(speed: string, where: string): number {
  const r = ETHERNET_SPEEDS[speed as EthernetSpeed];
  if (r === undefined) throw new UserError(`${where}: unknown Ethernet speed "${speed}" (known: ${Object.keys(ETHERNET_SPEEDS).join(", ")})`);
  return r;
}
