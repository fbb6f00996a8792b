/**
 * The end-to-end oracle of the bring-up: what the host posted, against what came out of the
 * pipeline, stage by stage, and what executing it did to host memory.
 *
 * - doorbell: every doorbell rung on another context's page is dropped (m_err, owner) and
 *   nothing else is;
 * - wqe_fetch: it read exactly the WQEs the stimulus served (addresses and tags), and every
 *   posted work request came out once, with its opcode and SGEs, and nothing else;
 * - tpt: every SGE of a valid request translates to exactly the physical segments of the
 *   pages the driver registered; every invalid request faults with the fault its kind
 *   calls for;
 * - execution: each request all of whose SGEs the tpt translated is carried out against host
 *   memory (a model of the data mover: requests that write locally — receives, RDMA reads —
 *   write their segments; the others read them). Host-memory observers record every DMA
 *   access: the writes must be exactly the valid requests' segments, and a memory diff may
 *   show no changed byte outside them — a rejected request wrote nothing.
 */
import type { StreamTransaction } from "../../core/block.ts";
import type { HostMemoryAccess } from "../../core/host-memory.ts";
import { DoorbellError, RejectReason } from "../../hca/doorbell/formats.ts";
import { DataSeg, WQE_ERROR_NAMES } from "../../hca/formats/index.ts";
import { decodeResponse, faultName, TptFault } from "../../hca/tpt/tpt-format.ts";
import { DmaReadReq, WorkRequest, WqeFetchError, WR_HEADER_BYTES } from "../../hca/wqe-fetch/formats.ts";
import type { HostRun, PostedWr } from "./host.ts";
import type { Lookup, PredictedRead } from "./stages.ts";

export interface EndToEndReport {
  workRequests: number;
  /** valid requests, and invalid ones by kind */
  valid: number;
  invalid: Record<string, number>;
  rogueDoorbells: number;
  lookups: number;
  /** tpt answers by fault name */
  faults: Record<string, number>;
  /** the data mover's accesses */
  dmaWrites: number;
  dmaReads: number;
  bytesWritten: number;
  failures: string[];
}

const key = (qpn: number, kind: number, index: number) => `${qpn}:${kind}:${index}`;

export class EndToEndOracle {
  private readonly failures: string[] = [];
  private readonly byKey = new Map<string, PostedWr>();
  /** the tpt's answers per work request, filled by tpt() */
  private readonly answers = new Map<number, { fault: number; segments: { addr: bigint; len: number }[] }[]>();
  readonly report: EndToEndReport;

  constructor(private readonly run: HostRun) {
    for (const w of run.wrs) this.byKey.set(key(w.qpn, w.kind, w.index), w);
    const invalid: Record<string, number> = {};
    for (const w of run.wrs) if (w.invalid) invalid[w.invalid] = (invalid[w.invalid] ?? 0) + 1;
    if (run.rogue.length) invalid.foreign_uar = run.rogue.length;
    this.report = {
      workRequests: run.wrs.length, valid: run.wrs.filter((w) => !w.invalid).length, invalid, rogueDoorbells: run.rogue.length,
      lookups: 0, faults: {}, dmaWrites: 0, dmaReads: 0, bytesWritten: 0, failures: this.failures,
    };
  }

  private fail(msg: string): void {
    if (this.failures.length < 12) this.failures.push(msg);
  }

  /** the doorbell stage drops exactly the doorbells rung on another context's page */
  doorbell(errs: readonly StreamTransaction[]): void {
    const got = errs.map((e) => DoorbellError.decode(e.data));
    const want = this.run.rogue;
    got.forEach((e, i) => {
      const w = want[i];
      if (!w) return this.fail(`doorbell: dropped a doorbell the host rang legitimately (reason ${e.reason}, QP 0x${e.number.toString(16)}, offset 0x${e.offset.toString(16)})`);
      if (e.reason !== RejectReason.owner || e.number !== w.qpn || e.offset !== w.offset) {
        this.fail(`doorbell: drop #${i} is reason ${e.reason} for 0x${e.number.toString(16)} at 0x${e.offset.toString(16)}; expected owner for QP 0x${w.qpn.toString(16)} rung at 0x${w.offset.toString(16)}`);
      }
    });
    if (got.length < want.length) this.fail(`doorbell: ${want.length - got.length} doorbells rung on another context's page were not dropped (first: QP 0x${want[got.length]!.qpn.toString(16)} at 0x${want[got.length]!.offset.toString(16)})`);
  }

  /** wqe_fetch read what the stimulus served, and turned every posted request into one work request */
  wqeFetch(out: Readonly<Record<string, StreamTransaction[]>>, reads: readonly PredictedRead[]): void {
    const rd = out.m_dma_rd ?? [];
    if (rd.length !== reads.length) this.fail(`wqe_fetch: ${rd.length} DMA reads, the stimulus served ${reads.length}`);
    for (let i = 0; i < Math.min(rd.length, reads.length); i++) {
      const r = DmaReadReq.decode(rd[i]!.data);
      if (r.addr !== reads[i]!.addr || r.tag !== reads[i]!.tag) {
        this.fail(`wqe_fetch: read #${i} is tag ${r.tag} at 0x${r.addr.toString(16)}; the stimulus served tag ${reads[i]!.tag} at 0x${reads[i]!.addr.toString(16)}`);
        break;
      }
    }
    for (const e of out.m_err ?? []) {
      const x = WqeFetchError.decode(e.data);
      this.fail(`wqe_fetch: WQE ${x.index} of QP 0x${x.qpn.toString(16)} (kind ${x.kind}) rejected: ${WQE_ERROR_NAMES[x.reason] ?? x.reason}`);
    }
    const seen = new Set<string>();
    for (const t of out.m_wr ?? []) {
      const h = WorkRequest.decode(t.data);
      const k = key(h.qpn, h.kind, h.index);
      const w = this.byKey.get(k);
      if (!w) { this.fail(`wqe_fetch: work request ${h.index} of QP 0x${h.qpn.toString(16)} (kind ${h.kind}) was never posted`); continue; }
      if (seen.has(k)) { this.fail(`wqe_fetch: work request #${w.id} came out twice`); continue; }
      seen.add(k);
      const sgl = Array.from({ length: h.nsge }, (_, j) => ({
        addr: DataSeg.getBig(t.data, WR_HEADER_BYTES + 16 * j, "addr"), length: DataSeg.get(t.data, WR_HEADER_BYTES + 16 * j, "byteCount"), lkey: DataSeg.get(t.data, WR_HEADER_BYTES + 16 * j, "lkey"),
      }));
      const same = sgl.length === w.sgl.length && sgl.every((x, j) => x.addr === w.sgl[j]!.addr && x.length === w.sgl[j]!.length && x.lkey === w.sgl[j]!.lkey);
      if (h.opcode !== w.opcode || !same) this.fail(`wqe_fetch: work request #${w.id} (QP 0x${w.qpn.toString(16)}, WQE ${w.index}) is not what was posted`);
    }
    const missing = this.run.wrs.filter((w) => !seen.has(key(w.qpn, w.kind, w.index)));
    if (missing.length) this.fail(`wqe_fetch: ${missing.length} posted work requests never came out (first: #${missing[0]!.id}, QP 0x${missing[0]!.qpn.toString(16)}, WQE ${missing[0]!.index})`);
  }

  /** every SGE's translation, against the regions the driver registered */
  tpt(resp: readonly StreamTransaction[], lookups: readonly Lookup[]): void {
    this.report.lookups = resp.length;
    if (resp.length !== lookups.length) this.fail(`tpt: ${resp.length} answers for ${lookups.length} lookups`);
    for (let i = 0; i < Math.min(resp.length, lookups.length); i++) {
      const r = decodeResponse(resp[i]!.data);
      const l = lookups[i]!;
      const name = faultName(r.fault);
      this.report.faults[name] = (this.report.faults[name] ?? 0) + 1;
      const w = this.byKey.get(key(l.qpn, l.kind, l.index));
      if (!w) continue; // reported by wqeFetch
      const want = w.expected[l.sge]!;
      let got = this.answers.get(w.id);
      if (!got) this.answers.set(w.id, (got = []));
      got[l.sge] = { fault: r.fault, segments: r.segments };
      const what = `tpt: work request #${w.id}${w.invalid ? ` (${w.invalid})` : ""}, SGE ${l.sge} (key 0x${w.sgl[l.sge]!.lkey.toString(16)})`;
      if (r.fault !== want.fault) this.fail(`${what}: ${name}, expected ${faultName(want.fault)}`);
      else if (r.fault === TptFault.ok && JSON.stringify(r.segments, big) !== JSON.stringify(want.segments, big)) {
        this.fail(`${what}: segments ${JSON.stringify(r.segments, big)}, the driver registered ${JSON.stringify(want.segments, big)}`);
      }
    }
  }

  /**
   * Carries out every request the tpt fully translated, with observers on host memory, and
   * checks that only the valid requests' segments were written.
   */
  execute(): void {
    const mem = this.run.memory;
    const before = mem.snapshot();
    const writes: HostMemoryAccess[] = [];
    const stopW = mem.onWrite((a) => { if (a.initiator === "dma") writes.push(a); });
    const stopR = mem.onRead((a) => { if (a.initiator === "dma") this.report.dmaReads++; });
    try {
      for (const w of this.run.wrs) {
        const got = this.answers.get(w.id);
        if (!got || got.length !== w.sgl.length || got.some((g) => g === undefined || g.fault !== TptFault.ok)) continue;
        for (const g of got) {
          for (const s of g.segments) {
            if (w.writesLocal) mem.write(s.addr, pattern(w.id, s.len), "dma");
            else mem.read(s.addr, s.len, "dma");
          }
        }
      }
    } finally {
      stopW();
      stopR();
    }
    this.report.dmaWrites = writes.length;
    this.report.bytesWritten = writes.reduce((n, a) => n + a.len, 0);
    // what the valid requests may write, from the host's expectations
    const allowed = this.run.wrs.filter((w) => w.writesLocal && w.expected.every((e) => e.fault === TptFault.ok)).flatMap((w) => w.expected.flatMap((e) => e.segments));
    const ranges = (xs: readonly { addr: bigint; len: number }[]) => xs.map((x) => `${x.addr.toString(16)}+${x.len}`).sort();
    const wrote = ranges(writes);
    const want = ranges(allowed);
    if (wrote.join() !== want.join()) {
      const extra = wrote.filter((x) => !want.includes(x));
      const lost = want.filter((x) => !wrote.includes(x));
      this.fail(`host memory: DMA writes differ from the valid requests' segments (${extra.length} unexpected, e.g. ${extra[0] ?? "-"}; ${lost.length} missing, e.g. ${lost[0] ?? "-"})`);
    }
    // every changed byte lies in the union of those segments (a diff range may span several)
    const union: [bigint, bigint][] = [];
    for (const x of [...allowed].sort((a, b) => (a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : 0))) {
      const end = x.addr + BigInt(x.len);
      const last = union.at(-1);
      if (last && x.addr <= last[1]) last[1] = end > last[1] ? end : last[1];
      else union.push([x.addr, end]);
    }
    const covered = (a: bigint, n: number) => union.some(([lo, hi]) => a >= lo && a + BigInt(n) <= hi);
    for (const d of mem.diff(before)) {
      if (!covered(d.addr, d.after.length)) {
        this.fail(`host memory: ${d.after.length} bytes at 0x${d.addr.toString(16)} changed outside the valid requests' segments`);
        break;
      }
    }
  }
}

/** the bytes a request writes: its id, so a write in the wrong place is recognisable */
function pattern(id: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (id * 131 + i) & 0xff;
  return b;
}

function big(_k: string, v: unknown): unknown {
  return typeof v === "bigint" ? `0x${v.toString(16)}` : v;
}
