/**
 * The firmware bring-up scenario file: a pipeline of blocks (`stages:`) instead of one
 * block, the host side (contexts, QPs, memory regions) and the work requests the driver
 * posts. Every schema error names file:line:col (cosim/yaml-source.ts).
 *
 *   scenario: firmware-bringup
 *   seed: 1
 *   stages:                  # in pipeline order; each runs its RTL in lockstep with its twin
 *     doorbell:  { params: { QP_ENTRIES: 64, ... }, rtl: true }
 *     wqe_fetch: { params: { ... } }
 *     tpt:       { params: { ... } }
 *   host: { contexts: 3, qps_per_context: 2, mrs_per_context: 3, mr_pages: [1, 5] }
 *   traffic: { work_requests: 240, max_sge: 4, recv_share: 0.3, invalid: 0.2, wrs_per_doorbell: [1, 3], dma_latency: 40 }
 *   checks: [content, timing, end_to_end]
 *   cosim: { quantum_cycles: 8192, timeout_ms: 20000 }
 */
import { DEFAULT_QUANTUM_CYCLES, readYamlFile, type YamlValue } from "../../cosim/index.ts";
import { yamlFraction, yamlRange } from "../yaml-fields.ts";

/** the pipeline, in order: doorbells → WQE fetch → translation and protection */
export const BRINGUP_STAGES = ["doorbell", "wqe_fetch", "tpt"] as const;
export type BringupStageName = (typeof BRINGUP_STAGES)[number];

/** the kinds of invalid request the host makes */
export const INVALID_KINDS = [
  /** a context rings another context's QP from its own UAR page (the doorbell block drops it) */
  "foreign_uar",
  /** an lkey kept across deregister and re-register of its region */
  "stale_key",
  /** an lkey of a region deregistered for good */
  "deregistered",
  /** an lkey of another context's region (another PD) */
  "wrong_pd",
  /** an SGE running past the end of its region */
  "bounds",
  /** a receive SGE into a region registered without local write */
  "no_write",
] as const;
export type InvalidKind = (typeof INVALID_KINDS)[number];

export const BRINGUP_CHECKS = ["content", "timing", "end_to_end"] as const;
export type BringupCheck = (typeof BRINGUP_CHECKS)[number];

export interface BringupStageSpec {
  readonly name: BringupStageName;
  /** block parameters by block.yaml name (the manifest's defaults for the rest) */
  readonly params: Record<string, number>;
  /** run the RTL in lockstep with the twin (false: the twin alone) */
  rtl: boolean;
}

export interface BringupScenario {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  seed: number;
  readonly stages: readonly BringupStageSpec[];
  readonly host: {
    /** user contexts, each with its own UAR page, PD and CQ */
    readonly contexts: number;
    readonly qpsPerContext: number;
    readonly mrsPerContext: number;
    /** pages per region, inclusive range */
    readonly mrPages: readonly [number, number];
  };
  readonly traffic: {
    /** work requests posted, over two epochs (regions are deregistered and re-registered between them) */
    workRequests: number;
    readonly maxSge: number;
    /** share of receive WRs */
    readonly recvShare: number;
    /** share of invalid requests */
    readonly invalid: number;
    readonly invalidKinds: readonly InvalidKind[];
    /** WRs posted per doorbell, inclusive range */
    readonly wrsPerDoorbell: readonly [number, number];
    /** DMA read latency of the WQE fetches [cycles] */
    readonly dmaLatency: number;
  };
  readonly checks: readonly BringupCheck[];
  readonly cosim: { readonly quantumCycles: number; readonly timeoutMs: number };
}

/** a pipeline scenario names its blocks under `stages:` (a one-block scenario under `block:`) */
export function isBringupScenario(root: YamlValue): boolean {
  return root.isMap() && root.map().has("stages");
}


export function parseBringupScenario(root: YamlValue): BringupScenario {
  const m = root.map();
  const name = m.req("scenario").str();
  const description = m.opt("description")?.str() ?? "";
  const seed = m.opt("seed")?.int(0, 0xffffffff) ?? 1;

  const stagesNode = m.req("stages");
  const sm = stagesNode.map();
  const keys = sm.keys();
  for (const k of keys) {
    if (!(BRINGUP_STAGES as readonly string[]).includes(k)) sm.req(k).fail(`stages: "${k}" is not a stage of the pipeline (stages, in order: ${BRINGUP_STAGES.join(", ")})`);
  }
  const stages = BRINGUP_STAGES.map((stage): BringupStageSpec => {
    const v = sm.opt(stage);
    if (!v || v.node === null) return { name: stage, params: {}, rtl: true };
    const s = v.map();
    const params: Record<string, number> = {};
    const pm = s.opt("params")?.map();
    if (pm) for (const k of pm.keys()) params[k] = pm.req(k).int();
    const rtl = s.opt("rtl")?.bool() ?? true;
    s.done();
    return { name: stage, params, rtl };
  });
  sm.done();

  const hm = m.req("host").map();
  const host = {
    contexts: hm.opt("contexts")?.int(2, 64) ?? 3,
    qpsPerContext: hm.opt("qps_per_context")?.int(1, 16) ?? 2,
    mrsPerContext: hm.opt("mrs_per_context")?.int(3, 32) ?? 3,
    mrPages: hm.opt("mr_pages") ? yamlRange(hm.opt("mr_pages")!, 1, 64) : ([1, 5] as const),
  };
  hm.done();

  const tm = m.req("traffic").map();
  const kindsNode = tm.opt("invalid_kinds");
  const traffic = {
    workRequests: tm.req("work_requests").int(1, 1_000_000),
    maxSge: tm.opt("max_sge")?.int(1, 6) ?? 4,
    recvShare: yamlFraction(tm.opt("recv_share"), 0.3),
    invalid: yamlFraction(tm.opt("invalid"), 0.2),
    invalidKinds: kindsNode ? kindsNode.list().map((k) => k.oneOf(INVALID_KINDS)) : [...INVALID_KINDS],
    wrsPerDoorbell: tm.opt("wrs_per_doorbell") ? yamlRange(tm.opt("wrs_per_doorbell")!, 1, 16) : ([1, 3] as const),
    dmaLatency: tm.opt("dma_latency")?.int(1, 10_000) ?? 40,
  };
  tm.done();

  const checksNode = m.opt("checks");
  const checks = checksNode ? checksNode.list().map((c) => c.oneOf(BRINGUP_CHECKS)) : [...BRINGUP_CHECKS];
  const cm = m.opt("cosim")?.map();
  const cosim = {
    quantumCycles: cm?.opt("quantum_cycles")?.int(16, 1 << 24) ?? DEFAULT_QUANTUM_CYCLES,
    timeoutMs: cm?.opt("timeout_ms")?.int(100, 3_600_000) ?? 20_000,
  };
  cm?.done();
  m.done();
  return { file: root.file, name, description, seed, stages, host, traffic, checks, cosim };
}

export function loadBringupScenario(file: string): BringupScenario {
  return parseBringupScenario(readYamlFile(file));
}
