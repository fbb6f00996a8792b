/**
 * The TypeScript twin of each block that has RTL, by the block's one name.
 */
import type { BlockTwin } from "../core/block.ts";
import { UserError, type ResolvedBlock } from "../cosim/index.ts";
import { IcrcTwin, type IcrcDataBytes } from "../hca/index.ts";

export interface TwinOptions {
  /** m_axis tready per cycle, when the run applies output backpressure */
  outputReady?: (port: number) => ((cycle: number) => boolean) | undefined;
}

type TwinFactory = (block: ResolvedBlock, opts: TwinOptions) => BlockTwin;

const TWINS: Record<string, TwinFactory> = {
  icrc: (b, o) => new IcrcTwin({ dataBytes: b.params.DATA_BYTES as IcrcDataBytes, outputReady: o.outputReady?.(0) }),
};

export function createTwin(block: ResolvedBlock, opts: TwinOptions = {}): BlockTwin {
  const f = TWINS[block.manifest.block];
  if (!f) throw new UserError(`block ${block.manifest.block} has no TypeScript twin (twins: ${Object.keys(TWINS).join(", ")})`);
  return f(block, opts);
}
