/**
 * Seeded traffic for the tpt block: a configuration (regions registered with MPT + MTT
 * writes) and a lookup stream mixing hits, misses, multi-page lookups and adversarial
 * requests, each with the answer an oracle expects. The oracle is independent of the twin:
 * it works from the generator's own record of what it registered (a Map of regions and
 * their pages), not from the block's tables or its code.
 *
 * Phases, far enough apart in time that no lookup of one phase can still be in flight
 * when the next phase's table writes land (so the expected answers do not depend on the
 * block's timing):
 *   1. register regions (MPT + MTT writes), one s_cfg write per cycle;
 *   2. lookups: hot single-page hits, multi-page, cold (misses), and every fault kind;
 *   3. deregister (HW2SW) some regions that phase 2 left cached, re-register others with a
 *      new variant (and a new PD for some);
 *   4. lookups again: old keys of phase 3's regions (invalid / stale), new keys, the mix.
 * After phases 1 and 3 the source reads the tables back on s_cfg (every region's MPT entry,
 * some MTT entries, entries never written, indexes beyond the tables); each answer is
 * expected from the source's own record of what it wrote.
 *
 *   const t = tptTraffic({ seed: 1, lookups: 4000 });
 *   for (const item of tptStimulus(t)) ...   // cfg and req items ordered by startCycle
 *   t.requests[i].expected                   // { fault, segments? }
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import {
  Access, cfgMptInvalidate, cfgMptRead, cfgMptWrite, cfgMttRead, cfgMttWrite, decodeMpt, encodeCfgReadback, makeKey, MPT_ENTRY_BYTES,
  mptUsable, MptState, MTT_ENTRY_BYTES, TPT_CFG_HEADER_BYTES, TptCfgHeaderLayout, TptCfgOp,
} from "../../hca/formats/index.ts";
import { encodeRequest, resolveTptParams, TptFault, type TptParams, type TptSegment } from "../../hca/tpt/tpt-format.ts";

/** what a request is meant to exercise; `expected.fault` is computed, not assumed from it */
export type TptRequestKind =
  | "hot" | "cold" | "multi" | "zero" | "stale" | "other_pd" | "no_right" | "past_end" | "before_start"
  | "wrap" | "unregistered" | "beyond_table" | "too_many" | "hole" | "deregistered" | "reregistered";

export interface TptExpected {
  fault: number;
  /** on success: the physical segments, page-split */
  segments?: TptSegment[];
}

export interface TptTrafficRequest {
  txn: StreamTransaction;
  kind: TptRequestKind;
  expected: TptExpected;
}

/** an s_cfg read and the m_cfg_rd answer the source expects */
export interface TptReadback {
  txn: StreamTransaction;
  expected: Uint8Array;
}

export interface TptTraffic {
  params: TptParams;
  /** s_cfg transactions (writes and the reads of `readbacks`), startCycle non-decreasing */
  config: StreamTransaction[];
  /** the reads among `config`, in order, with their expected answers */
  readbacks: TptReadback[];
  /** s_req transactions with the oracle's answers, in order (tags are the index mod 2^16) */
  requests: TptTrafficRequest[];
}

export interface TptTrafficOptions {
  seed: number | string;
  /** lookups in total (phases 2 and 4 share them) */
  lookups?: number;
  params?: Partial<TptParams>;
  /** mean idle cycles between lookups (0: back to back) */
  meanGap?: number;
}

/** A region as the generator registered it: the oracle's ground truth. */
interface Region {
  index: number;
  variant: number;
  pd: number;
  access: number;
  ps: number;
  start: bigint;
  length: bigint;
  mttBase: number;
  /** physical page address per MTT entry from mttBase, or null when not present */
  pages: (bigint | null)[];
  live: boolean;
}

const TWO64 = 1n << 64n;
const PDS = [0x000001, 0x000002, 0x0abcde, 0xfffffe];
const PAGE_SHIFTS = [12, 12, 13, 16, 21];

export function tptTraffic(opts: TptTrafficOptions): TptTraffic {
  const params = resolveTptParams(opts.params);
  const rng = new Prng(opts.seed);
  const lookups = opts.lookups ?? 4000;
  const meanGap = opts.meanGap ?? 0;
  const regions = new Map<number, Region>();
  const config: StreamTransaction[] = [];
  const readbacks: TptReadback[] = [];
  let cfgCycle = 0;
  // what the source wrote: MPT bytes while owned, MTT bytes once written (the read-back oracle)
  const wroteMpt = new Map<number, Uint8Array>();
  const wroteMtt = new Map<number, Uint8Array>();
  const cfg = (data: Uint8Array) => {
    const txn = { data, user: {}, startCycle: cfgCycle, endCycle: cfgCycle };
    config.push(txn);
    cfgCycle++;
    const op = TptCfgHeaderLayout.get(data, 0, "op");
    const index = TptCfgHeaderLayout.get(data, 0, "index");
    const entry = data.subarray(TPT_CFG_HEADER_BYTES);
    if (op === TptCfgOp.mptWrite && index < params.mptEntries) wroteMpt.set(index, entry.slice());
    else if (op === TptCfgOp.mptInvalidate) wroteMpt.delete(index);
    else if (op === TptCfgOp.mttWrite && index < params.mttEntries) {
      const e = entry.slice();
      e[6]! &= 0xf0; // the table keeps the page address and the present bit, not the reserved bits
      e[7]! &= 0x01;
      wroteMtt.set(index, e);
    } else if (op === TptCfgOp.mptRead) {
      const e = wroteMpt.get(index);
      const live = e !== undefined && mptUsable(decodeMpt(e));
      readbacks.push({ txn, expected: encodeCfgReadback({ op, index, valid: e !== undefined, live, entry: e ?? new Uint8Array(MPT_ENTRY_BYTES) }) });
    } else if (op === TptCfgOp.mttRead) {
      const e = wroteMtt.get(index);
      readbacks.push({ txn, expected: encodeCfgReadback({ op, index, valid: e !== undefined, live: false, entry: e ?? new Uint8Array(MTT_ENTRY_BYTES) }) });
    }
  };
  /** reads every entry in `mpts` and `mtts` back */
  const readBack = (mpts: readonly number[], mtts: readonly number[]) => {
    for (const i of mpts) cfg(cfgMptRead(i));
    for (const i of mtts) cfg(cfgMttRead(i));
  };

  // ---- phase 1: regions ---------------------------------------------------------------
  let mttNext = 0;
  const indices = shuffle(rng, [...Array(params.mptEntries).keys()]);
  const nRegions = Math.min(params.mptEntries - 8, 40);
  const registerRegion = (index: number, variant: number, opt: { wrap?: boolean; hole?: boolean; big?: boolean; pd?: number } = {}): Region | null => {
    const ps = opt.wrap ? 12 : PAGE_SHIFTS[rng.int(0, PAGE_SHIFTS.length - 1)];
    const page = 1n << BigInt(ps);
    const nPages = opt.wrap ? 2 : opt.big ? params.maxSegments + 2 : rng.int(1, Math.min(params.maxSegments + 2, 8));
    if (mttNext + nPages > params.mttEntries) return null;
    const startOff = rng.bool(0.5) ? 0n : BigInt(rng.int(0, Number(page) - 1)) & ~7n;
    let start: bigint;
    if (opt.wrap) start = TWO64 - page; // the region itself crosses 2^64 (start + length > 2^64)
    else start = (BigInt(rng.int(1, 0xfffff)) << 32n | BigInt(rng.u32())) & ~(page - 1n);
    start += startOff;
    // length: the pages minus the start offset, minus a random tail inside the last page
    const tail = nPages > 1 || startOff === 0n ? BigInt(rng.int(0, Number(page) / 2)) : 0n;
    let length = BigInt(nPages) * page - startOff - tail;
    if (length <= 0n) length = 1n;
    // access: a random non-empty subset, never all four (so "no_right" always has a right to ask for)
    let access = rng.int(1, 14);
    if (opt.wrap) access = Access.remoteRead | Access.localWrite;
    const pages: (bigint | null)[] = [];
    for (let k = 0; k < nPages; k++) {
      const addr = (BigInt(rng.u32() & 0x3ffff) << 21n) | (BigInt(rng.u32() & 0x1ff) << 12n);
      pages.push(addr & ~(page - 1n));
    }
    if (opt.hole && nPages > 1) pages[rng.int(1, nPages - 1)] = null;
    const r: Region = { index, variant, pd: opt.pd ?? PDS[rng.int(0, PDS.length - 1)], access, ps, start, length, mttBase: mttNext, pages, live: true };
    mttNext += nPages;
    for (let k = 0; k < nPages; k++) {
      const a = pages[k];
      cfg(cfgMttWrite(r.mttBase + k, { addr: a ?? (BigInt(rng.u32() & 0xfffff) << 12n), present: a !== null }));
    }
    cfg(cfgMptWrite(index, { state: MptState.valid, access, variant, pd: r.pd, log2PageSize: ps, start, length, mttBase: r.mttBase }));
    regions.set(index, r);
    return r;
  };
  const used = indices.slice(0, nRegions);
  const unregistered = indices.slice(nRegions);
  for (let i = 0; i < used.length; i++) {
    registerRegion(used[i], rng.int(0, 255), { wrap: i === 0, hole: i % 7 === 3, big: i % 9 === 5 });
  }
  // a free entry that was once written (state free) reads as invalid too
  cfg(cfgMptWrite(unregistered[0], { state: MptState.free, access: 15, variant: 0, pd: PDS[0], log2PageSize: 12, start: 0n, length: 1n << 40n, mttBase: 0 }));

  // every region, a free-state entry, a never-written one, beyond the table; some MTT entries
  readBack(
    [...used, ...unregistered.slice(0, 2), params.mptEntries, 0xffff_ffff],
    [...Array.from({ length: Math.min(mttNext, 24) }, (_, k) => k), mttNext, params.mttEntries - 1, params.mttEntries],
  );

  const live = () => [...regions.values()].filter((r) => r.live);
  // a hot set smaller than the cache, on distinct cache lines, so it stays cached
  const hot: Region[] = [];
  const lines = new Set<number>();
  for (const r of live()) {
    const line = r.index % params.cacheEntries;
    if (!lines.has(line) && r.index !== used[0] && hot.length < Math.max(1, params.cacheEntries / 2)) { lines.add(line); hot.push(r); }
  }

  // ---- requests ----------------------------------------------------------------------
  const requests: TptTrafficRequest[] = [];
  let reqCycle = cfgCycle + 4;
  const worstCycles = params.missLatency + 2 * params.maxSegments + 6;
  const oldKeys: { key: number; r: Region; kind: TptRequestKind }[] = [];

  const push = (kind: TptRequestKind, key: number, pd: number, access: number, va: bigint, len: number) => {
    const tag = requests.length & 0xffff;
    const data = encodeRequest({ tag, access, key, pd, va: va & (TWO64 - 1n), len });
    requests.push({ txn: { data, user: {}, startCycle: reqCycle, endCycle: reqCycle }, kind, expected: oracle(regions, params, key, pd, access, va & (TWO64 - 1n), len) });
    reqCycle += meanGap > 0 && rng.bool(0.5) ? rng.int(0, 2 * meanGap) : 0;
  };
  const keyOf = (r: Region) => makeKey(r.index, r.variant);
  const inside = (r: Region, maxLen: number): [bigint, number] => {
    const len = Math.max(1, Math.min(maxLen, Number(r.length)));
    const va = r.start + BigInt(rng.int(0, Math.max(0, Math.min(Number(r.length) - len, 0x7fffffff))));
    return [va, len];
  };
  const onePage = (r: Region): [bigint, number] => {
    const page = 1n << BigInt(r.ps);
    const [va] = inside(r, 1);
    const room = Number(page - (va & (page - 1n)));
    const endRoom = Number(r.start + r.length - va);
    return [va, rng.int(1, Math.max(1, Math.min(room, endRoom, 4096)))];
  };
  const grantedSubset = (r: Region) => r.access & rng.int(0, 15);

  const phase = (n: number) => {
    for (let i = 0; i < n; i++) {
      const all = live().filter((r) => r.index !== used[0]);
      const x = rng.int(0, 99);
      if (x < 45 && hot.some((r) => r.live)) {
        const r = pick(rng, hot.filter((h) => h.live));
        const [va, len] = onePage(r);
        push("hot", keyOf(r), r.pd, grantedSubset(r), va, len);
      } else if (x < 58) {
        const r = pick(rng, all);
        const [va, len] = onePage(r);
        push("cold", keyOf(r), r.pd, grantedSubset(r), va, len);
      } else if (x < 66) {
        const r = pick(rng, all);
        const [va, len] = inside(r, rng.int(1, 3 << r.ps));
        push("multi", keyOf(r), r.pd, grantedSubset(r), va, len);
      } else if (x < 68) {
        const r = pick(rng, all);
        const [va] = inside(r, 1);
        push("zero", keyOf(r), r.pd, 0, rng.bool(0.3) ? r.start + r.length : va, 0);
      } else {
        const k = x % 10;
        const r = pick(rng, all);
        const [va, len] = onePage(r);
        if (k === 0) push("stale", makeKey(r.index, (r.variant + rng.int(1, 255)) & 0xff), r.pd, 0, va, len);
        else if (k === 1) push("other_pd", keyOf(r), PDS.find((p) => p !== r.pd)!, 0, va, len);
        else if (k === 2) {
          const missing = [1, 2, 4, 8].filter((b) => (r.access & b) === 0);
          push("no_right", keyOf(r), r.pd, pick(rng, missing) | grantedSubset(r), va, len);
        } else if (k === 3) {
          const l = rng.int(1, 64);
          push("past_end", keyOf(r), r.pd, 0, r.start + r.length - BigInt(l) + 1n, l);
        } else if (k === 4) {
          const w = regions.get(used[0])!;
          push("wrap", keyOf(w), w.pd, 0, TWO64 - BigInt(rng.int(1, 64)), rng.int(65, 4000));
        } else if (k === 5) {
          if (rng.bool(0.5)) push("unregistered", makeKey(pick(rng, unregistered), rng.int(0, 255)), r.pd, 0, va, len);
          else push("beyond_table", makeKey(rng.int(params.mptEntries, 0xffffff), rng.int(0, 255)), r.pd, 0, va, len);
        } else if (k === 6) {
          const big = all.filter((q) => BigInt((params.maxSegments + 1) << q.ps) <= q.length && ((params.maxSegments + 1) << q.ps) < 2 ** 32);
          if (big.length) {
            const q = pick(rng, big);
            push("too_many", keyOf(q), q.pd, 0, q.start, (params.maxSegments + 1) << q.ps);
          }
          else push("before_start", keyOf(r), r.pd, 0, r.start - 1n, 2);
        } else if (k === 7) {
          const h = all.find((q) => q.pages.includes(null));
          if (h) {
            const page = 1n << BigInt(h.ps);
            const hv = (h.start / page + BigInt(h.pages.indexOf(null))) * page;
            push("hole", keyOf(h), h.pd, 0, hv, rng.int(1, 64));
          }
          else push("before_start", keyOf(r), r.pd, 0, r.start - 1n, 2);
        } else if (k === 8 && oldKeys.length) {
          const o = pick(rng, oldKeys);
          const [v, l] = onePage(o.r);
          push(o.kind, o.key, o.r.pd, 0, v, l);
        } else {
          push("before_start", keyOf(r), r.pd, 0, r.start - BigInt(rng.int(1, 4096)), len);
        }
      }
    }
  };

  const half = Math.floor(lookups / 2);
  phase(half);

  // ---- phase 3: deregister / re-register, after everything in flight has drained ---------
  cfgCycle = reqCycle + half * worstCycles + 64;
  const victims = hot.slice(0, Math.max(2, Math.floor(hot.length / 2)));
  // touch each victim last, so its entry is in the cache when phase 3 changes the table
  for (const r of victims) {
    const [va, len] = onePage(r);
    push("hot", keyOf(r), r.pd, 0, va, len);
  }
  for (const [i, r] of victims.entries()) {
    const oldKey = keyOf(r);
    cfg(cfgMptInvalidate(r.index));
    if (i % 2 === 0) {
      r.live = false; // deregistered, stays free: the cached copy must not answer
      regions.set(r.index, { ...r, live: false });
      oldKeys.push({ key: oldKey, r, kind: "deregistered" });
    } else {
      // re-registered with a new variant (and PD): the old key is stale
      const nr = registerRegion(r.index, (r.variant + 1 + rng.int(0, 200)) & 0xff, { pd: PDS[(PDS.indexOf(r.pd) + 1) % PDS.length] });
      if (nr) {
        oldKeys.push({ key: oldKey, r: { ...r }, kind: "reregistered" });
        hot[hot.indexOf(r)] = nr;
      }
    }
  }
  readBack(victims.map((r) => r.index), victims.flatMap((r) => [r.mttBase, regions.get(r.index)!.mttBase]));
  reqCycle = cfgCycle + 4;
  // the first lookups after phase 3: every old key, while lines may still hold the old copies
  for (const o of oldKeys) {
    const [v, l] = onePage(o.r);
    push(o.kind, o.key, o.r.pd, 0, v, l);
  }
  phase(lookups - half - oldKeys.length);
  config.sort((a, b) => a.startCycle - b.startCycle);
  return { params, config, readbacks, requests };
}

/** cfg and req items in startCycle order (cfg first on a tie), for runLockstep */
export function* tptStimulus(t: TptTraffic): Generator<{ port: string; txn: StreamTransaction }> {
  let i = 0;
  let j = 0;
  while (i < t.config.length || j < t.requests.length) {
    if (j >= t.requests.length || (i < t.config.length && t.config[i].startCycle <= t.requests[j].txn.startCycle)) {
      yield { port: "s_cfg", txn: t.config[i++] };
    } else {
      yield { port: "s_req", txn: t.requests[j++].txn };
    }
  }
}

/**
 * The oracle: the answer the spec (hca/tpt/README.md) requires, from the generator's
 * record of registered regions. Written apart from the twin, from the spec text.
 */
function oracle(regions: Map<number, Region>, p: TptParams, key: number, pd: number, access: number, va: bigint, len: number): TptExpected {
  const index = Math.floor(key / 256);
  const r = regions.get(index);
  if (index >= p.mptEntries || r === undefined || !r.live) return { fault: TptFault.invalidKey };
  if (key % 256 !== r.variant) return { fault: TptFault.staleKey };
  if (pd !== r.pd) return { fault: TptFault.pdViolation };
  for (let bit = 1; bit < 256; bit <<= 1) {
    if ((access & bit) !== 0 && (r.access & bit) === 0) return { fault: TptFault.accessViolation };
  }
  const last = va + BigInt(len); // one past the last byte, exact
  if (va < r.start || last > r.start + r.length || last > TWO64) return { fault: TptFault.boundsViolation };
  if (len === 0) return { fault: TptFault.ok, segments: [] };
  const page = 1n << BigInt(r.ps);
  const segments: TptSegment[] = [];
  let a = va;
  while (a < last) {
    const pageStart = a - (a % page);
    const end = pageStart + page < last ? pageStart + page : last;
    segments.push({ addr: a, len: Number(end - a) });
    a = end;
  }
  if (segments.length > p.maxSegments) return { fault: TptFault.tooManySegments };
  const firstPage = r.start / page;
  for (const s of segments) {
    const n = Number(s.addr / page - firstPage);
    const phys = r.mttBase + n < p.mttEntries ? r.pages[n] : undefined;
    if (phys === null || phys === undefined) return { fault: TptFault.translationFault };
    s.addr = (phys + (s.addr % page)) % TWO64;
  }
  return { fault: TptFault.ok, segments };
}

function pick<T>(rng: Prng, xs: readonly T[]): T {
  return xs[rng.int(0, xs.length - 1)];
}

function shuffle<T>(rng: Prng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [xs[i], xs[j]] = [xs[j], xs[i]];
  }
  return xs;
}
