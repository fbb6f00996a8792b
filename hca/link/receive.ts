/** Receiving a frame of either format. */
import type { CrcMode, Frame } from "./frame.ts";
import { type IbParse, receiveIb } from "./ib-framing.ts";
import { receiveRoce, type RoceParse } from "./roce-framing.ts";

/** receiveRoce or receiveIb, by the frame's format */
export function receiveFrame(frame: Frame, mode: CrcMode = "trusted"): RoceParse | IbParse {
  return frame.format === "rocev2" ? receiveRoce(frame, mode) : receiveIb(frame, mode);
}
