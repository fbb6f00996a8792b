/**
 * The requester's front end: what a work request costs between the host's post and the
 * transport engine taking it, as explicit, documented stages (DESIGN.md §2: limits come
 * from widths, clocks, queue depths and DMA latency, not from hand-tuned delays).
 *
 *   host post ─▶ doorbell (MMIO) ─▶ doorbell block ─▶ WQE fetch (DMA read) ─▶ WQE parse ─▶ payload read (DMA) ─▶ engine.postSend
 *   CPU time      PCIe MWr          cycles/record     tags × round trip       cycles        tags × round trip
 *
 * Every stage serves work requests in order. A stage is busy for its *occupancy* per
 * request (the time before it can start the next one) and hands the request on after its
 * *latency* (≥ occupancy). A tag-limited DMA read holds one of `tags` tags for a whole
 * PCIe round trip, so its occupancy is round trip ÷ tags (Little's law), or the
 * completion's time on the PCIe link if that is longer. The figures (read latency, link
 * latency, bandwidth, TLP overheads, MRRS/MPS) are core/dma.ts's (DMA_DEFAULTS), and the
 * round trip is hca/transport's `pcieReadRoundTripPs`, the one its responder charges.
 *
 * The front end costs one kernel event per work request (the post into the engine);
 * the stages themselves are arithmetic on "free from" times.
 *
 * The responder's reads of host memory (READ response data, an atomic's read-modify-write)
 * are the engine's (hca/transport responder-dma.ts), with the same `pcie` figures: node.ts
 * gives them to it. Not modelled here: contention for the PCIe link between the WQE fetch,
 * the payload reads and the responder's reads (at most a few percent of its bandwidth for
 * WQEs; a node is rarely requester and responder at full rate at once in perftest).
 */
import { type Prng } from "../../core/index.ts";
import { PCIE_READ_DEFAULTS, pcieCompletionBytes, pcieOnLinkPs, pcieReadRoundTripPs, type PcieReadTiming } from "../../hca/transport/index.ts";

/** the adapter's timing parameters (scenario `adapter:`), every one with a unit */
export interface AdapterTiming {
  /** datapath clock [MHz] */
  readonly clockMhz: number;
  /** datapath width [bytes per cycle] */
  readonly datapathBytes: number;
  /** receive-to-response latency in the engine [cycles] */
  readonly pipelineCycles: number;
  /** CPU time to write a WQE into the send queue and ring its doorbell [ns] */
  readonly hostPostNs: number;
  /** doorbell block time per doorbell record [cycles] */
  readonly doorbellCycles: number;
  /** bytes the WQE fetch reads per work request (a WQE: ctrl + raddr + data segment, 64) [bytes] */
  readonly wqeBytes: number;
  /** WQE reads in flight (the wqe_fetch block's TAGS) */
  readonly wqeFetchTags: number;
  /** WQE parse time per work request [cycles] */
  readonly wqeParseCycles: number;
  /** frames the port's egress FIFO holds before the transmit datapath waits */
  readonly egressFifoFrames: number;
  /** payloads up to this many bytes travel inside the WQE (no payload read) [bytes] */
  readonly maxInline: number;
  readonly pcie: PcieTiming;
}

/**
 * the adapter's PCIe figures (scenario `adapter.pcie`): completer latency and jitter, link
 * latency, tags, MRRS, MPS, link rate, TLP overheads — hca/transport's PcieReadTiming, one
 * set for the front end's reads and the responder's
 */
export type PcieTiming = PcieReadTiming;

/** core/dma.ts's figures (DMA_DEFAULTS) */
export const PCIE_DEFAULTS: PcieTiming = PCIE_READ_DEFAULTS;

export const ADAPTER_DEFAULTS: AdapterTiming = {
  clockMhz: 250,
  datapathBytes: 64,
  pipelineCycles: 8,
  hostPostNs: 20,
  doorbellCycles: 2,
  wqeBytes: 64,
  wqeFetchTags: 8,
  wqeParseCycles: 4,
  egressFifoFrames: 4,
  maxInline: 0,
  pcie: PCIE_DEFAULTS,
};

/** what a work request carries into the front end */
export interface FrontEndRequest {
  /** payload the requester must read from host memory (SEND, WRITE); 0 for READ and atomics [bytes] */
  readonly payloadBytes: number;
}

/** one stage's cost for one request [ps] */
interface Cost {
  occupancyPs: number;
  latencyPs: number;
}

export const FRONT_END_STAGES = ["host_post", "doorbell", "wqe_fetch", "wqe_parse", "payload_read"] as const;
export type FrontEndStageName = (typeof FRONT_END_STAGES)[number];

/** what each stage is, for reports */
export const FRONT_END_STAGE_TEXT: Record<FrontEndStageName, string> = {
  host_post: "host post (CPU writes the WQE, rings the doorbell)",
  doorbell: "doorbell block",
  wqe_fetch: "WQE fetch (DMA read per work request)",
  wqe_parse: "WQE parse",
  payload_read: "payload read (DMA)",
};

export class FrontEndStage {
  /** the stage serves nothing before this time [ps] */
  freePs = 0;
  /** the last request left then: requests leave in order [ps] */
  private lastDonePs = 0;
  /** total occupancy so far [ps] */
  busyPs = 0;
  requests = 0;
  constructor(
    readonly name: FrontEndStageName,
    /** the cost of one request, and how the figure comes about */
    readonly cost: (r: FrontEndRequest) => Cost,
    readonly explain: (r: FrontEndRequest) => string,
    /** extra latency drawn per request [ps] */
    private readonly jitterPs?: () => number,
  ) {}

  /** serves a request arriving at `t`; returns when it is handed on [ps] */
  serve(t: number, r: FrontEndRequest): number {
    const c = this.cost(r);
    if (c.occupancyPs === 0 && c.latencyPs === 0) return t;
    const start = t > this.freePs ? t : this.freePs;
    this.freePs = start + c.occupancyPs;
    this.busyPs += c.occupancyPs;
    this.requests++;
    let done = start + c.latencyPs + (this.jitterPs?.() ?? 0);
    if (done < this.lastDonePs) done = this.lastDonePs;
    this.lastDonePs = done;
    return done;
  }
}

const psOf = (ns: number) => Math.round(ns * 1000);
const us = (ps: number) => (ps / 1e6).toFixed(2);

/** the stages of one adapter, from its timing */
export class FrontEnd {
  readonly stages: readonly FrontEndStage[];
  private readonly byName: Record<FrontEndStageName, FrontEndStage>;
  /** one PCIe read of `bytes` (≤ MRRS): request up, host latency, completions down [ps] */
  readonly readRoundTripPs: (bytes: number) => number;

  /** `prng` draws the PCIe read latency jitter */
  constructor(
    readonly timing: AdapterTiming,
    prng?: Prng,
  ) {
    const p = timing.pcie;
    const jitterPs = Math.round(p.readLatencyJitterNs * 1000);
    const jitter = jitterPs > 0 && prng !== undefined ? () => prng.int(0, jitterPs) : undefined;
    const cyclePs = 1e6 / timing.clockMhz;
    const onLink = (bytes: number) => pcieOnLinkPs(p, bytes);
    const cplBytes = (bytes: number) => pcieCompletionBytes(p, bytes);
    this.readRoundTripPs = (bytes) => pcieReadRoundTripPs(p, bytes);
    const doorbellPs = psOf(p.linkLatencyNs) + onLink(8 + p.requestOverheadBytes);
    const inline = (r: FrontEndRequest) => r.payloadBytes > 0 && r.payloadBytes <= timing.maxInline;
    const wqeBytes = (r: FrontEndRequest) => timing.wqeBytes + (inline(r) ? Math.ceil(r.payloadBytes / 16) * 16 : 0);
    const wqeCost = (r: FrontEndRequest): Cost => {
      const rtt = this.readRoundTripPs(wqeBytes(r));
      return { occupancyPs: Math.max(Math.ceil(rtt / timing.wqeFetchTags), onLink(cplBytes(wqeBytes(r)))), latencyPs: rtt };
    };
    const payloadCost = (r: FrontEndRequest): Cost => {
      const n = r.payloadBytes;
      if (n === 0 || inline(r)) return { occupancyPs: 0, latencyPs: 0 };
      const mrrs = p.maxReadRequestBytes;
      const requests = Math.ceil(n / mrrs);
      const first = this.readRoundTripPs(Math.min(n, mrrs));
      const tagBound = Math.ceil((requests * this.readRoundTripPs(Math.min(n, mrrs))) / p.tags);
      return { occupancyPs: Math.max(tagBound, onLink(cplBytes(n))), latencyPs: first };
    };
    const cycles = (c: number): Cost => ({ occupancyPs: Math.round(c * cyclePs), latencyPs: Math.round(c * cyclePs) });
    this.byName = {
      host_post: new FrontEndStage(
        "host_post",
        () => ({ occupancyPs: psOf(timing.hostPostNs), latencyPs: psOf(timing.hostPostNs) + doorbellPs }),
        () => `${timing.hostPostNs} ns of CPU per post`,
      ),
      doorbell: new FrontEndStage("doorbell", () => cycles(timing.doorbellCycles), () => `${timing.doorbellCycles} cycles per doorbell at ${timing.clockMhz} MHz`),
      wqe_fetch: new FrontEndStage("wqe_fetch", wqeCost, (r) => {
        const rtt = this.readRoundTripPs(wqeBytes(r));
        return `${timing.wqeFetchTags} reads in flight × ${us(rtt)} µs PCIe round trip for a ${wqeBytes(r)}-byte WQE = ${((timing.wqeFetchTags / rtt) * 1e6).toFixed(1)} M WQE/s`;
      }, jitter),
      wqe_parse: new FrontEndStage("wqe_parse", () => cycles(timing.wqeParseCycles), () => `${timing.wqeParseCycles} cycles per WQE at ${timing.clockMhz} MHz`),
      payload_read: new FrontEndStage("payload_read", payloadCost, (r) => {
        const c = payloadCost(r);
        return `${p.tags} tags, ${us(this.readRoundTripPs(Math.min(r.payloadBytes, p.maxReadRequestBytes)))} µs round trip, ${(p.bytesPerSecond / 1e9).toFixed(2)} GB/s link: ${us(c.occupancyPs)} µs per ${r.payloadBytes}-byte payload`;
      }, jitter),
    };
    this.stages = FRONT_END_STAGES.map((n) => this.byName[n]);
  }

  stage(name: FrontEndStageName): FrontEndStage {
    return this.byName[name];
  }

  /** a work request posted at `t` [ps]: when the engine may take it [ps] */
  submit(t: number, r: FrontEndRequest): number {
    let at = t;
    for (const s of this.stages) at = s.serve(at, r);
    return at;
  }
}
