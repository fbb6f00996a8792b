/**
 * The TypeScript twin of each block that has RTL, by the block's one name.
 */
import type { BlockTwin } from "../core/block.ts";
import { UserError, type ResolvedBlock } from "../cosim/index.ts";


export interface TwinOptions {
  /** m_axis tready per cycle, when the run applies output backpressure */
  outputReady?: (port: number) => ((cycle: number) => boolean) | undefined;
}

/** Loaded on demand, so a run imports only its own block's model. */
type TwinFactory = (block: ResolvedBlock, opts: TwinOptions) => Promise<BlockTwin>;

const TWINS: Record<string, TwinFactory> = {
  icrc: async (b, o) => {
    const { IcrcTwin } = await import("../hca/index.ts");
    return new IcrcTwin({ dataBytes: b.params.DATA_BYTES as 8 | 16 | 32 | 64, outputReady: o.outputReady?.(0) });
  },
  gateway: async (b, o) => {
    const { GatewayTwin } = await import("../hca/index.ts");
    return new GatewayTwin({
      ethPorts: b.params.ETH_PORTS!,
      dataBytes: b.params.DATA_BYTES!,
      tableEntries: b.params.TABLE_ENTRIES!,
      fifoBeats: b.params.FIFO_BEATS!,
      mtuBytes: b.params.MTU_BYTES!,
      // m_eth_axis[i] are the first output streams (manifest order)
      outputReady: o.outputReady,
    });
  },
  doorbell: async (b, o) => {
    const { DoorbellTwin } = await import("../hca/index.ts");
    // output streams in manifest order: m_fetch 0, m_cq_arm 1, m_err 2, m_cfg_rd 3
    const ready = o.outputReady ? { m_fetch: o.outputReady(0), m_cq_arm: o.outputReady(1), m_err: o.outputReady(2), m_cfg_rd: o.outputReady(3) } : undefined;
    return new DoorbellTwin({
      qpEntries: b.params.QP_ENTRIES!,
      cqEntries: b.params.CQ_ENTRIES!,
      uarPages: b.params.UAR_PAGES!,
      pending: b.params.PENDING!,
      ...(ready ? { outputReady: ready } : {}),
    });
  },
  tpt: async (b) => {
    const { TptTwin, TPT_PARAM_NAMES } = await import("../hca/index.ts");
    const params = Object.fromEntries(Object.entries(TPT_PARAM_NAMES).map(([k, name]) => [k, b.params[name]!]));
    return new TptTwin(params);
  },
  wqe_fetch: async (b, o) => {
    // the twin is cycle-exact with its outputs always ready (hca/wqe-fetch/README.md)
    if (o.outputReady) throw new UserError("block wqe_fetch: its twin assumes outputs always ready; set cosim.out_ready_percent to 100");
    const { WqeFetchTwin } = await import("../hca/wqe-fetch/index.ts");
    return new WqeFetchTwin({ qpEntries: b.params.QP_ENTRIES!, tags: b.params.TAGS! });
  },
};

export function createTwin(block: ResolvedBlock, opts: TwinOptions = {}): Promise<BlockTwin> {
  const f = TWINS[block.manifest.block];
  if (!f) throw new UserError(`block ${block.manifest.block} has no TypeScript twin (twins: ${Object.keys(TWINS).join(", ")})`);
  return f(block, opts);
}
