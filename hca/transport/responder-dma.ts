/**
 * The responder's reads of host memory over PCIe: a READ's response data and an atomic's
 * original value come from host memory by DMA read, so a response may not leave before
 * its bytes are back in the adapter (PCIe Base Spec r3.0 sets the costs; IBTA leaves them
 * to the adapter).
 *
 *   request executed ─▶ MRd (≤ MRRS, `tags` in flight) ═ link ═▶ host completer ═ link ═▶ CplD (≤ MPS) ─▶ response may leave
 *                       requestOverheadBytes            readLatency (+ jitter)             bytes + completionOverheadBytes each
 *
 * Arithmetic on a "free from" time, no events (core/dma.ts models the TLPs one by one;
 * this is its steady state, with the same figures and the round trip testbench/perftest's
 * front end charges the requester's payload reads):
 * - one read of n ≤ MRRS bytes takes a round trip (`pcieReadRoundTripPs`): its MRd on the
 *   link, the link latency up, the completer's read latency, its completions on the link
 *   (n bytes plus the overhead of each MPS-sized CplD), the link latency down;
 * - a READ of L bytes is ceil(L / MRRS) such reads, issued one every `spacingPs` =
 *   max(round trip of MRRS ÷ tags, MRRS's completions on the link): `tags` reads in flight
 *   over a round trip (Little's law) or the link's rate, whichever binds. Read i's bytes
 *   are in i × spacingPs + its own round trip after the first was issued;
 * - the reads of all QPs of an engine share the tags and the link: each READ or atomic
 *   issues its first read once the one before has issued its last (`freePs`), in the
 *   order the responder executed them;
 * - a READ response packet may leave when the read holding its last byte is in; an atomic
 *   (8 bytes, one read) when its read is in. The atomic's write back is a posted write:
 *   the response does not wait for it;
 * - the jitter (uniform in [0, readLatencyJitterNs], one draw per READ or atomic from a
 *   seeded stream) lengthens a whole READ's latency, not the spacing of its reads.
 * A READ's reads are counted as ceil(L / MRRS), not cut at MRRS-aligned addresses as
 * core/dma.ts cuts them (at most one read more for an unaligned READ there).
 */
import { DMA_DEFAULTS, Prng, PS_PER_S } from "../../core/index.ts";

/** an adapter's PCIe figures for its reads of host memory (core/dma.ts names and defaults) */
export interface PcieReadTiming {
  /** host completer latency (MRd in → completions out) [ns] */
  readonly readLatencyNs: number;
  /** extra completer latency per read, uniform in [0, jitter] from the seeded stream [ns] */
  readonly readLatencyJitterNs: number;
  /** one-way link latency [ns] */
  readonly linkLatencyNs: number;
  /** read requests in flight (DMA engine tags) */
  readonly tags: number;
  /** max read request size [bytes] */
  readonly maxReadRequestBytes: number;
  /** max payload of a TLP [bytes] */
  readonly maxPayloadBytes: number;
  /** each direction [bytes/s] */
  readonly bytesPerSecond: number;
  /** MRd/MWr bytes besides payload [bytes] */
  readonly requestOverheadBytes: number;
  /** CplD bytes besides payload [bytes] */
  readonly completionOverheadBytes: number;
}

/** core/dma.ts's defaults (DMA_DEFAULTS: Gen3 x16, 500 ns completer, 100 ns link, 32 tags, MRRS 512, MPS 256) */
export const PCIE_READ_DEFAULTS: PcieReadTiming = {
  readLatencyNs: DMA_DEFAULTS.readLatencyNs,
  readLatencyJitterNs: DMA_DEFAULTS.readLatencyJitterNs,
  linkLatencyNs: DMA_DEFAULTS.linkLatencyNs,
  tags: DMA_DEFAULTS.tags,
  maxReadRequestBytes: DMA_DEFAULTS.maxReadRequestBytes,
  maxPayloadBytes: DMA_DEFAULTS.maxPayloadBytes,
  bytesPerSecond: DMA_DEFAULTS.downstreamBytesPerSecond,
  requestOverheadBytes: DMA_DEFAULTS.requestOverheadBytes,
  completionOverheadBytes: DMA_DEFAULTS.completionOverheadBytes,
};

/** the engine's `responderDma`: the figures, and the stream its jitter draws from (default: one named after the engine) */
export interface ResponderDmaConfig extends PcieReadTiming {
  readonly prng?: Prng;
}

const psOfNs = (ns: number): number => Math.round(ns * 1000);

/** `bytes` on a PCIe link of `p`, rounded up [ps] */
export function pcieOnLinkPs(p: PcieReadTiming, bytes: number): number {
  return Math.ceil((bytes * PS_PER_S) / p.bytesPerSecond);
}

/** wire bytes of the completions that carry `bytes`: one CplD overhead per MPS piece [bytes] */
export function pcieCompletionBytes(p: PcieReadTiming, bytes: number): number {
  return bytes + Math.ceil(bytes / p.maxPayloadBytes) * p.completionOverheadBytes;
}

/** one read of `bytes` (≤ MRRS): MRd on the link, link latency up, completer latency, completions on the link, link latency down [ps] */
export function pcieReadRoundTripPs(p: PcieReadTiming, bytes: number): number {
  return pcieOnLinkPs(p, p.requestOverheadBytes) + 2 * psOfNs(p.linkLatencyNs) + psOfNs(p.readLatencyNs) + pcieOnLinkPs(p, pcieCompletionBytes(p, bytes));
}

/** how long one read of `bytes` (≤ MRRS) holds the read stream: its tag's share of a round trip, or its completions' link time [ps] */
export function pcieReadOccupancyPs(p: PcieReadTiming, bytes: number): number {
  const tagShare = Math.ceil(pcieReadRoundTripPs(p, bytes) / p.tags);
  const onLink = pcieOnLinkPs(p, pcieCompletionBytes(p, bytes));
  return tagShare > onLink ? tagShare : onLink;
}

/** what is wrong with `p` (empty when nothing is): the names and ranges core/dma.ts checks */
export function pcieReadTimingProblems(p: PcieReadTiming): string[] {
  const out: string[] = [];
  const pow2 = (k: "maxReadRequestBytes" | "maxPayloadBytes") => {
    const v = p[k];
    if (!(Number.isInteger(v) && v >= 128 && v <= 4096 && (v & (v - 1)) === 0)) out.push(`${k} must be a power of two in [128, 4096], got ${v}`);
  };
  pow2("maxReadRequestBytes");
  pow2("maxPayloadBytes");
  if (!(Number.isInteger(p.tags) && p.tags >= 1 && p.tags <= 1024)) out.push(`tags must be a whole number in [1, 1024], got ${p.tags}`);
  for (const k of ["readLatencyNs", "readLatencyJitterNs", "linkLatencyNs"] as const) {
    if (!(Number.isFinite(p[k]) && p[k] >= 0)) out.push(`${k} must be a finite number ≥ 0, got ${p[k]}`);
  }
  if (!(Number.isFinite(p.bytesPerSecond) && p.bytesPerSecond > 0)) out.push(`bytesPerSecond must be a finite number > 0, got ${p.bytesPerSecond}`);
  for (const k of ["requestOverheadBytes", "completionOverheadBytes"] as const) {
    if (!(Number.isInteger(p[k]) && p[k] >= 0)) out.push(`${k} must be a whole number ≥ 0, got ${p[k]}`);
  }
  return out;
}

/** the read stream of one engine's responder: when a READ's or atomic's bytes are back from host memory */
export class ResponderDma {
  /** max read request size [bytes] */
  readonly mrrs: number;
  /** between two MRRS reads of one READ: max(round trip ÷ tags, completions on the link) [ps] */
  readonly spacingPs: number;
  /** round trip of an MRRS read [ps] */
  private readonly fullRoundTripPs: number;
  private readonly jitterPs: number;
  /** the next READ or atomic issues its first read from then on [ps] */
  private freePs = 0;
  /** time the stream was occupied, summed [ps] (busy share = busyPs ÷ elapsed) */
  busyPs = 0;
  /** READs (first executions and duplicates) and atomics served */
  reads = 0;
  /** bytes read [bytes] */
  bytes = 0;

  constructor(
    readonly timing: PcieReadTiming,
    private readonly prng: Prng,
  ) {
    this.mrrs = timing.maxReadRequestBytes;
    this.fullRoundTripPs = pcieReadRoundTripPs(timing, this.mrrs);
    this.spacingPs = pcieReadOccupancyPs(timing, this.mrrs);
    this.jitterPs = psOfNs(timing.readLatencyJitterNs);
  }

  /**
   * A read of `len` ≥ 1 bytes asked for at `t` [ps]: it takes its place in the stream
   * (after the reads asked for before it) and returns its start [ps] — when its first
   * read is issued, plus its latency jitter — for `arrivalPs`.
   */
  issue(t: number, len: number): number {
    const start = t > this.freePs ? t : this.freePs;
    const reads = Math.ceil(len / this.mrrs);
    const last = len - (reads - 1) * this.mrrs;
    const occupancy = (reads - 1) * this.spacingPs + (last === this.mrrs ? this.spacingPs : pcieReadOccupancyPs(this.timing, last));
    this.freePs = start + occupancy;
    this.busyPs += occupancy;
    this.reads++;
    this.bytes += len;
    return this.jitterPs > 0 ? start + this.prng.int(0, this.jitterPs) : start;
  }

  /** bytes [0, end) of a read of `len` bytes started at `startPs` (from `issue`) are in the adapter [ps] */
  arrivalPs(startPs: number, len: number, end: number): number {
    const i = Math.ceil(end / this.mrrs) - 1;
    const size = len - i * this.mrrs;
    return startPs + i * this.spacingPs + (size >= this.mrrs ? this.fullRoundTripPs : pcieReadRoundTripPs(this.timing, size));
  }
}
