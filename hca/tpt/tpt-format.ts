/**
 * The tpt block's lookup interface: request and response layouts, the fault table and the
 * block parameters, declared once (the RTL's tpt_layouts.svh is generated from these by
 * gen-tpt-layouts.ts). Table writes use hca/formats (tpt-cfg.ts).
 */
import { defineLayout } from "../../core/layout.ts";

/**
 * s_req: one 24-byte beat per lookup.
 *
 *   byte  field   bits  meaning
 *      0  tag       16  returned in the response
 *      2  access     8  Access bits the operation needs (0 = local read only; bits 4..7 never granted)
 *      3  rsvd0      8
 *      4  key       32  lkey/rkey: MPT index << 8 | variant
 *      8  pd        24  protection domain of the requester (the QP's PD)
 *     11  rsvd1      8
 *     12  va        64  first virtual address
 *     20  len       32  length [bytes]; 0 is allowed (see README)
 */
const reqFields = [
  { name: "tag", bits: 16 },
  { name: "access", bits: 8 },
  { name: "rsvd0", bits: 8 },
  { name: "key", bits: 32 },
  { name: "pd", bits: 24 },
  { name: "rsvd1", bits: 8 },
  { name: "va", bits: 64 },
  { name: "len", bits: 32 },
] as const;
export const TptRequestLayout = defineLayout("tpt_req", reqFields, { sizeBytes: 24 });

/**
 * m_resp: one transaction per lookup, in request order, of max(1, nseg) 16-byte beats.
 * Beat k carries segment k; every beat repeats tag, fault and nseg. A fault (or a
 * zero-length lookup) is one beat with nseg 0, addr 0, len 0.
 *
 *   byte  field   bits  meaning
 *      0  tag       16  the request's tag
 *      2  fault      8  TptFault
 *      3  nseg       8  segments in this response (0 on a fault)
 *      4  addr      64  physical address of segment k
 *     12  len       32  bytes in segment k (never crosses a page)
 */
const respFields = [
  { name: "tag", bits: 16 },
  { name: "fault", bits: 8 },
  { name: "nseg", bits: 8 },
  { name: "addr", bits: 64 },
  { name: "len", bits: 32 },
] as const;
export const TptRespBeatLayout = defineLayout("tpt_resp_beat", respFields, { sizeBytes: 16 });

export const TPT_REQ_BYTES = TptRequestLayout.sizeBytes;
export const TPT_RESP_BEAT_BYTES = TptRespBeatLayout.sizeBytes;

/** Fault codes, in the order the checks are applied (the first failing check wins). */
export const TptFault = {
  ok: 0,
  /** key index ≥ MPT_ENTRIES, entry free, or its page size outside 12..31 */
  invalidKey: 1,
  /** key variant ≠ entry variant (stale key after deregister / re-register) */
  staleKey: 2,
  /** request PD ≠ entry PD */
  pdViolation: 3,
  /** a required access bit is not granted */
  accessViolation: 4,
  /** va < start, va+len > start+length, or va+len > 2^64 (exact 65-bit arithmetic) */
  boundsViolation: 5,
  /** the range spans more than MAX_SEGMENTS pages */
  tooManySegments: 6,
  /** an MTT index ≥ MTT_ENTRIES or an MTT entry not present */
  translationFault: 7,
} as const;
export type TptFaultCode = (typeof TptFault)[keyof typeof TptFault];

/** name, and the IB completion error a requester/responder reports for it */
export const TPT_FAULT_TABLE: readonly { code: TptFaultCode; name: string; ib: string }[] = [
  { code: 0, name: "ok", ib: "-" },
  { code: 1, name: "invalid_key", ib: "local protection error / remote access error (R_Key violation)" },
  { code: 2, name: "stale_key", ib: "local protection error / remote access error (R_Key violation)" },
  { code: 3, name: "pd_violation", ib: "local protection error / remote access error" },
  { code: 4, name: "access_violation", ib: "local protection error / remote access error" },
  { code: 5, name: "bounds_violation", ib: "local length error / remote access error" },
  { code: 6, name: "too_many_segments", ib: "local length error / remote invalid request" },
  { code: 7, name: "translation_fault", ib: "local protection error / remote access error" },
];

export function faultName(code: number): string {
  return TPT_FAULT_TABLE[code]?.name ?? `fault_${code}`;
}

/** Block parameters (block.yaml). */
export interface TptParams {
  /** MPT entries (memory regions) */
  mptEntries: number;
  /** MTT entries (pages) */
  mttEntries: number;
  /** MPT cache lines, direct-mapped on the MPT index */
  cacheEntries: number;
  /** cycles to read an MPT entry from the backing table on a cache miss */
  missLatency: number;
  /** most pages one lookup may span */
  maxSegments: number;
}

export const TPT_ALLOWED = {
  mptEntries: [64, 256, 1024],
  mttEntries: [1024, 4096, 16384],
  cacheEntries: [4, 16, 64],
  missLatency: [1, 2, 4, 8, 16, 32],
  maxSegments: [1, 2, 4, 8, 16],
} as const satisfies Record<keyof TptParams, readonly number[]>;

export const TPT_DEFAULTS: TptParams = { mptEntries: 256, mttEntries: 4096, cacheEntries: 16, missLatency: 8, maxSegments: 8 };

/** manifest parameter names (block.yaml) of each TptParams field */
export const TPT_PARAM_NAMES: Record<keyof TptParams, string> = {
  mptEntries: "MPT_ENTRIES",
  mttEntries: "MTT_ENTRIES",
  cacheEntries: "CACHE_ENTRIES",
  missLatency: "MISS_LATENCY",
  maxSegments: "MAX_SEGMENTS",
};

export function resolveTptParams(p: Partial<TptParams> = {}): TptParams {
  const out = { ...TPT_DEFAULTS, ...p };
  for (const k of Object.keys(TPT_ALLOWED) as (keyof TptParams)[]) {
    const allowed = TPT_ALLOWED[k] as readonly number[];
    if (!allowed.includes(out[k])) {
      throw new RangeError(`tpt: ${TPT_PARAM_NAMES[k]} = ${out[k]} is not allowed (allowed: ${allowed.join(", ")})`);
    }
  }
  return out;
}

/** a request beat */
export interface TptRequest {
  tag: number;
  access: number;
  key: number;
  pd: number;
  va: bigint;
  len: number;
}

export function encodeRequest(r: TptRequest): Uint8Array {
  return TptRequestLayout.encode({ tag: r.tag, access: r.access, key: r.key, pd: r.pd, va: r.va, len: r.len });
}

export interface TptSegment {
  addr: bigint;
  len: number;
}

export interface TptResponse {
  tag: number;
  fault: number;
  segments: TptSegment[];
}

/** decodes an m_resp transaction; throws if beats disagree on tag/fault/nseg or the count is wrong */
export function decodeResponse(data: Uint8Array): TptResponse {
  const B = TPT_RESP_BEAT_BYTES;
  if (data.length === 0 || data.length % B !== 0) throw new Error(`tpt response: ${data.length} bytes is not a whole number of ${B}-byte beats`);
  const L = TptRespBeatLayout;
  const tag = L.get(data, 0, "tag");
  const fault = L.get(data, 0, "fault");
  const nseg = L.get(data, 0, "nseg");
  const beats = data.length / B;
  if (beats !== Math.max(1, nseg)) throw new Error(`tpt response: ${beats} beats but nseg ${nseg}`);
  const segments: TptSegment[] = [];
  for (let k = 0; k < nseg; k++) {
    if (L.get(data, k * B, "tag") !== tag || L.get(data, k * B, "fault") !== fault) throw new Error(`tpt response: beat ${k} disagrees with beat 0`);
    segments.push({ addr: L.getBig(data, k * B, "addr"), len: L.get(data, k * B, "len") });
  }
  return { tag, fault, segments };
}
