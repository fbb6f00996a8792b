/**
 * The host side of the bring-up, all in the TypeScript model: host memory, the UAR BAR, the
 * firmware in its worker thread over a recording device bus, and the driver. It brings the
 * adapter up (QUERY_FW, QUERY_DEV_CAP, INIT_HCA, INIT_PORT, SW2HW_EQ, MAP_EQ), opens user
 * contexts (each its UAR page, PD, CQ, QPs taken RESET → INIT → RTR → RTS, and memory
 * regions), then posts work requests in two epochs:
 *
 *   epoch 0  bring-up and registration (configuration only)
 *   epoch 1  work requests; the last ones touch the regions about to change, so the tpt
 *            block holds them in its MPT cache
 *   epoch 2  first some regions are deregistered and re-registered (a new key variant) and
 *            others deregistered for good; then work requests, among them ones using the
 *            keys kept from before (stale and deregistered keys)
 *
 * Invalid requests (scenario traffic.invalid): a doorbell rung on another context's UAR
 * page, a stale key, a deregistered key, another context's key (another PD), an SGE past the
 * end of its region, a receive into a region without local write.
 *
 * Each work request carries what the oracle expects, worked out here from the regions the
 * driver registered (their keys, PDs, rights, and pages: the driver maps VA = PA, one MTT
 * entry per page), not from any model of the blocks.
 */
import { HostMemory, MmioBar, Simulator, type MmioWrite } from "../../core/index.ts";
import { Prng } from "../../core/prng.ts";
import { limitsWithin, type RtlTableCapacity } from "../../firmware/device-config.ts";
import { DEFAULT_LIMITS, QpState } from "../../firmware/index.ts";
import { startFirmwareWorker } from "../../firmware/thread.ts";
import { mmioWrite, UAR_PAGE_BYTES, DoorbellOffset, ReceiveDoorbell, SendDoorbell } from "../../hca/doorbell/formats.ts";
import { openDevice, type Context, type Cq, type Device, type Mr, type Pd, type Qp } from "../../hca/driver/index.ts";
import { Access, keyIndex, keyVariant, WqeOpcode, type SendWr, type Sge } from "../../hca/formats/index.ts";
import { TptFault, type TptSegment } from "../../hca/tpt/tpt-format.ts";
import type { BringupScenario, InvalidKind } from "./scenario.ts";
import { RecordingBus, type RecordedTxn } from "./recording-bus.ts";

/** the driver's page size: one MTT entry per 4 KiB page */
const PAGE = 4096;
/** host time between the end of epoch 1's traffic and the requests that touch the victims [ps] */
const TOUCH_PAUSE_PS = 40_000_000;

/** what a work request is, and what must become of it */
export interface PostedWr {
  readonly id: number;
  readonly epoch: number;
  readonly qpn: number;
  /** 0 send queue, 1 receive queue (WorkRequest.kind) */
  readonly kind: 0 | 1;
  /** its WQE counter (16 bits) */
  readonly index: number;
  /** send opcode (WqeOpcode), 0 for a receive */
  readonly opcode: number;
  readonly sgl: readonly Sge[];
  /** the QP's protection domain */
  readonly pd: number;
  /** the operation writes the local buffers (receive, RDMA read) */
  readonly writesLocal: boolean;
  /** why it is invalid, if it is */
  readonly invalid?: Exclude<InvalidKind, "foreign_uar">;
  /** per SGE: the fault (TptFault) and, when 0, the physical segments */
  readonly expected: readonly { fault: number; segments: TptSegment[] }[];
}

/** a doorbell rung from a page that does not own the QP */
export interface RogueDoorbell {
  readonly epoch: number;
  readonly qpn: number;
  /** the BAR offset written (its UAR page is the ringing context's) */
  readonly offset: number;
  readonly kind: 0 | 1;
}

/** one MMIO store that reached the doorbell block */
export interface DoorbellWrite {
  readonly epoch: number;
  /** the s_mmio record */
  readonly record: Uint8Array;
  /** when it arrived [ps] */
  readonly deliveredPs: number;
}

export interface HostRun {
  readonly memory: HostMemory;
  readonly capacity: RtlTableCapacity;
  /** configuration transactions for every block, in order, with their epochs */
  readonly config: readonly RecordedTxn[];
  readonly doorbells: readonly DoorbellWrite[];
  readonly wrs: readonly PostedWr[];
  readonly rogue: readonly RogueDoorbell[];
  /** each QP's protection domain (its context's) */
  readonly qpPd: ReadonlyMap<number, number>;
  /** the firmware commands the driver posted, in order */
  readonly commands: readonly string[];
  readonly contexts: number;
  readonly qps: number;
  readonly regions: number;
  readonly epochs: number;
}

/** a region as the oracle knows it: what the driver registered */
interface Region {
  mr: Mr;
  ctx: number;
  live: boolean;
}

interface HostContext {
  index: number;
  ctx: Context;
  pd: Pd;
  cq: Cq;
  qps: Qp[];
  /** regions usable by valid requests now */
  regions: Region[];
  /** the region registered without local write */
  readOnly: Region;
}

export interface HostOptions {
  /** table capacities of the RTL blocks (the firmware reports them as its limits) */
  readonly capacity: RtlTableCapacity;
  /** UAR pages of the doorbell block (the BAR) */
  readonly uarPages: number;
  /** tpt MAX_SEGMENTS and CACHE_ENTRIES (expected answers, and which regions stay cached) */
  readonly maxSegments: number;
  readonly cacheEntries: number;
}

/** brings the adapter up and posts the scenario's work requests; the firmware runs in its worker */
export async function runHost(sc: BringupScenario, o: HostOptions): Promise<HostRun> {
  const rng = new Prng(sc.seed);
  const sim = new Simulator();
  const memory = new HostMemory();
  if (sc.host.contexts >= o.uarPages) throw new RangeError(`${sc.file}: host.contexts ${sc.host.contexts} needs ${sc.host.contexts + 1} UAR pages; the doorbell block has UAR_PAGES=${o.uarPages}`);
  const uar = new MmioBar(sim, { name: "uar", sizeBytes: o.uarPages * UAR_PAGE_BYTES });
  let epoch = 0;
  const doorbells: DoorbellWrite[] = [];
  uar.mapPages(0, o.uarPages, (w: MmioWrite) => doorbells.push({ epoch, record: mmioWrite(w.offset, w.bytes), deliveredPs: w.deliveredPs }));
  const bus = new RecordingBus();
  const worker = await startFirmwareWorker(bus, { limits: limitsWithin(o.capacity, DEFAULT_LIMITS) });
  try {
    const dev = await openDevice({ firmware: worker, memory, uar });
    const host = await openContexts(sc, dev, memory, rng);
    const wrs: PostedWr[] = [];
    const rogue: RogueDoorbell[] = [];
    const post = new Poster(sc, o, rng, host, wrs, rogue, sim, uar);

    // epoch 1: traffic, then one valid request per region about to change, last
    epoch = bus.epoch = 1;
    const first = Math.ceil(sc.traffic.workRequests * 0.6);
    post.traffic(first, 1);
    // a pause long enough for everything before to drain through every stage, then the touches
    sim.run();
    sim.runFor(TOUCH_PAUSE_PS);
    const victims = pickVictims(host, o.cacheEntries, rng);
    for (const v of victims) post.touch(v.region, 1);
    for (const h of host) h.ctx.reqNotifyCq(h.cq); // CQ doorbells, from each context's page
    sim.run();

    // epoch 2: re-register half the victims (each gets its MPT index back with a new variant:
    // the driver hands out the lowest free index), then deregister the rest for good
    epoch = bus.epoch = 2;
    const retire = async (v: { region: Region }) => {
      const hc = host[v.region.ctx]!;
      await hc.ctx.deregMr(v.region.mr);
      v.region.live = false;
      hc.regions.splice(hc.regions.indexOf(v.region), 1);
      return hc;
    };
    for (const v of victims.filter((_, i) => i % 2 === 0)) {
      const hc = await retire(v);
      const old = v.region.mr;
      const renewed: Region = { mr: await hc.ctx.regMr(hc.pd, old.addr, old.length, old.access), ctx: hc.index, live: true };
      hc.regions.push(renewed);
      post.keep("stale_key", old);
    }
    for (const v of victims.filter((_, i) => i % 2 === 1)) {
      await retire(v);
      post.keep("deregistered", v.region.mr);
    }
    post.traffic(sc.traffic.workRequests - wrs.length - rogue.length, 2);
    for (const h of host) h.ctx.reqNotifyCq(h.cq, true);
    sim.run();

    const qps = host.reduce((n, h) => n + h.qps.length, 0);
    const qpPd = new Map(host.flatMap((h) => h.qps.map((q) => [q.qpn, q.pd.pdn] as const)));
    const regions = host.reduce((n, h) => n + h.regions.length + 1, 0);
    return {
      memory, capacity: o.capacity, config: bus.recorded, doorbells, wrs, rogue, qpPd, commands: [...dev.cmd.posted],
      contexts: host.length, qps, regions, epochs: 3,
    };
  } finally {
    await worker.terminate();
  }
}

async function openContexts(sc: BringupScenario, dev: Device, memory: HostMemory, rng: Prng): Promise<HostContext[]> {
  const out: HostContext[] = [];
  const perQp = Math.ceil(sc.traffic.workRequests / (sc.host.contexts * sc.host.qpsPerContext));
  // rings large enough that no queue fills up (nothing completes in this pipeline)
  const maxWr = Math.min(dev.caps.maxQpWr - 1, Math.max(8, 2 * perQp + 16));
  for (let c = 0; c < sc.host.contexts; c++) {
    const ctx = dev.openContext();
    const pd = ctx.allocPd();
    const cq = await ctx.createCq(64);
    const qps: Qp[] = [];
    for (let q = 0; q < sc.host.qpsPerContext; q++) {
      const qp = await ctx.createQp(pd, { sendCq: cq, recvCq: cq, maxSendWr: maxWr, maxRecvWr: maxWr });
      await ctx.modifyQp(qp, { state: QpState.INIT });
      await ctx.modifyQp(qp, { state: QpState.RTR, mtu: 5, remoteQpn: 0x100 + qp.qpn, rqPsn: rng.int(0, 0xffffff) });
      await ctx.modifyQp(qp, { state: QpState.RTS, sqPsn: rng.int(0, 0xffffff), retryCount: 7, rnrRetry: 7 });
      qps.push(qp);
    }
    const regions: Region[] = [];
    let readOnly: Region | undefined;
    for (let m = 0; m < sc.host.mrsPerContext; m++) {
      const pages = rng.int(sc.host.mrPages[0], sc.host.mrPages[1]);
      // a region starting inside a page: SGEs cross page boundaries at offsets other than 0
      const start = rng.int(0, 31) * 64;
      const length = pages * PAGE - start - rng.int(0, 15) * 64;
      const addr = memory.alloc(pages * PAGE, PAGE) + start;
      const access = m === 0 ? Access.remoteRead : Access.localWrite | Access.remoteRead | Access.remoteWrite;
      const region: Region = { mr: await ctx.regMr(pd, addr, length, access), ctx: c, live: true };
      if (m === 0) readOnly = region;
      else regions.push(region);
    }
    out.push({ index: c, ctx, pd, cq, qps, regions, readOnly: readOnly! });
  }
  return out;
}

/** writable regions of distinct contexts and distinct MPT cache lines, at most four */
function pickVictims(host: HostContext[], cacheLines: number, rng: Prng): { region: Region }[] {
  const lines = new Set<number>();
  const out: { region: Region }[] = [];
  for (const h of host) {
    // keep at least one writable region per context for the valid requests of epoch 2
    if (h.regions.length < 2 || out.length >= 4) continue;
    const r = h.regions[rng.int(0, h.regions.length - 1)]!;
    const line = r.mr.index % cacheLines;
    if (lines.has(line)) continue;
    lines.add(line);
    out.push({ region: r });
  }
  return out;
}

/** builds and posts the work requests, each with the answer the oracle expects */
class Poster {
  /** keys kept across a deregistration, usable by epoch-2 invalid requests */
  private readonly kept: { kind: "stale_key" | "deregistered"; old: Mr }[] = [];

  constructor(
    private readonly sc: BringupScenario,
    private readonly o: HostOptions,
    private readonly rng: Prng,
    private readonly host: HostContext[],
    private readonly wrs: PostedWr[],
    private readonly rogue: RogueDoorbell[],
    private readonly sim: Simulator,
    private readonly uar: MmioBar,
  ) {}

  keep(kind: "stale_key" | "deregistered", old: Mr): void {
    this.kept.push({ kind, old });
  }

  /** `n` requests (rogue doorbells count as one each) in epoch `epoch` */
  traffic(n: number, epoch: number): void {
    const t = this.sc.traffic;
    let done = 0;
    while (done < n) {
      const h = this.host[this.rng.int(0, this.host.length - 1)]!;
      const qp = h.qps[this.rng.int(0, h.qps.length - 1)]!;
      const recv = this.rng.bool(t.recvShare);
      const count = Math.min(n - done, this.rng.int(t.wrsPerDoorbell[0], t.wrsPerDoorbell[1]));
      if (this.rng.bool(t.invalid) && t.invalidKinds.includes("foreign_uar") && this.rng.bool(1 / t.invalidKinds.length)) {
        this.ringForeign(h, qp, recv, epoch);
        done++;
        continue;
      }
      this.post(h, qp, recv, count, epoch);
      done += count;
      this.sim.runFor(this.rng.int(0, 80) * 1000); // the CPU's time between posts
    }
  }

  /** one valid request on `region` (on its context's first QP), so the tpt caches its MPT entry */
  touch(region: Region, epoch: number): void {
    const h = this.host[region.ctx]!;
    const qp = h.qps[0]!;
    const sge = this.inside(region, 64);
    this.postWrs(h, qp, false, [{ opcode: WqeOpcode.SEND, sgl: [sge] }], epoch, [undefined]);
  }

  private post(h: HostContext, qp: Qp, recv: boolean, count: number, epoch: number): void {
    const t = this.sc.traffic;
    const wrs: { opcode: number; sgl: Sge[] }[] = [];
    const why: (PostedWr["invalid"] | undefined)[] = [];
    for (let i = 0; i < count; i++) {
      const opcode = recv ? 0 : [WqeOpcode.SEND, WqeOpcode.SEND_IMM, WqeOpcode.RDMA_WRITE, WqeOpcode.RDMA_READ][this.rng.int(0, 3)]!;
      const writes = recv || opcode === WqeOpcode.RDMA_READ;
      const n = this.rng.int(1, Math.min(t.maxSge, opcode === WqeOpcode.RDMA_WRITE || opcode === WqeOpcode.RDMA_READ ? 6 : 7));
      const sgl: Sge[] = [];
      for (let k = 0; k < n; k++) sgl.push(this.inside(this.pick(h.regions), 3 * PAGE));
      let invalid: PostedWr["invalid"] | undefined;
      if (this.rng.bool(t.invalid)) {
        const kinds = t.invalidKinds.filter((k): k is NonNullable<PostedWr["invalid"]> =>
          k !== "foreign_uar" && (k !== "no_write" || writes) && (k !== "stale_key" || this.kept.some((x) => x.kind === k)) && (k !== "deregistered" || this.kept.some((x) => x.kind === k)));
        if (kinds.length) {
          invalid = kinds[this.rng.int(0, kinds.length - 1)]!;
          sgl[this.rng.int(0, n - 1)] = this.badSge(invalid, h);
        }
      }
      wrs.push({ opcode, sgl });
      why.push(invalid);
    }
    this.postWrs(h, qp, recv, wrs, epoch, why);
  }

  private postWrs(h: HostContext, qp: Qp, recv: boolean, wrs: { opcode: number; sgl: Sge[] }[], epoch: number, why: (PostedWr["invalid"] | undefined)[]): void {
    const base = recv ? qp.rqHead : qp.sqHead;
    if (recv) h.ctx.postRecv(qp, wrs.map((w) => ({ sgl: w.sgl })));
    else {
      h.ctx.postSend(qp, wrs.map((w): SendWr => ({
        opcode: w.opcode, signalled: this.rng.bool(0.5), imm: this.rng.u32(), raddr: BigInt(this.rng.u32()) << 12n, rkey: this.rng.u32(), sgl: w.sgl,
      })));
    }
    wrs.forEach((w, i) => {
      const writesLocal = recv || w.opcode === WqeOpcode.RDMA_READ;
      this.wrs.push({
        id: this.wrs.length, epoch, qpn: qp.qpn, kind: recv ? 1 : 0, index: (base + i) & 0xffff, opcode: w.opcode, sgl: w.sgl, pd: qp.pd.pdn, writesLocal,
        ...(why[i] ? { invalid: why[i] } : {}),
        expected: w.sgl.map((s) => this.expect(s, qp.pd.pdn, writesLocal)),
      });
    });
  }

  /** another context rings this QP's doorbell from its own page, claiming one more WQE */
  private ringForeign(owner: HostContext, qp: Qp, recv: boolean, epoch: number): void {
    const others = this.host.filter((x) => x !== owner);
    const from = others[this.rng.int(0, others.length - 1)]!;
    const offset = from.ctx.uarPage * UAR_PAGE_BYTES + (recv ? DoorbellOffset.receive : DoorbellOffset.send);
    const word = recv
      ? ReceiveDoorbell.encode({ counter: (qp.rqHead + 1) & 0xffff, qpn: qp.qpn, nreq: 1 })
      : SendDoorbell.encode({ counter: (qp.sqHead + 1) & 0xffff, qpn: qp.qpn, opcode: WqeOpcode.SEND, size: 2 });
    this.uar.write(offset, word);
    this.rogue.push({ epoch, qpn: qp.qpn, offset, kind: recv ? 1 : 0 });
  }

  private pick(regions: Region[]): Region {
    return regions[this.rng.int(0, regions.length - 1)]!;
  }

  /** an SGE inside a region, at most `max` bytes */
  private inside(r: Region, max: number): Sge {
    const len = this.rng.int(1, Math.min(max, r.mr.length));
    const off = this.rng.int(0, r.mr.length - len);
    return { addr: BigInt(r.mr.addr + off), length: len, lkey: r.mr.lkey };
  }

  /** an SGE that must fail with the given kind */
  private badSge(kind: NonNullable<PostedWr["invalid"]>, h: HostContext): Sge {
    switch (kind) {
      case "stale_key":
      case "deregistered": {
        const k = this.kept.filter((x) => x.kind === kind);
        const x = k[this.rng.int(0, k.length - 1)]!;
        const len = this.rng.int(1, Math.min(256, x.old.length));
        return { addr: BigInt(x.old.addr + this.rng.int(0, x.old.length - len)), length: len, lkey: x.old.lkey };
      }
      case "wrong_pd": {
        const others = this.host.filter((x) => x !== h);
        return this.inside(this.pick(others[this.rng.int(0, others.length - 1)]!.regions), 512);
      }
      case "bounds": {
        const r = this.pick(h.regions);
        const over = this.rng.int(1, 64);
        const len = this.rng.int(over + 1, over + 512);
        return { addr: BigInt(r.mr.addr + r.mr.length + over - len), length: len, lkey: r.mr.lkey };
      }
      case "no_write":
        return this.inside(h.readOnly, 512);
    }
  }

  /**
   * The answer the translation must give, from the regions the driver registered: the
   * checks in the tpt's fault order (hca/tpt/README.md), then the pages split at 4 KiB
   * boundaries, each page's physical address the one the driver wrote into its MTT entry.
   */
  private expect(s: Sge, pd: number, writesLocal: boolean): { fault: number; segments: TptSegment[] } {
    const fault = (f: number) => ({ fault: f, segments: [] });
    const r = this.liveRegion(keyIndex(s.lkey));
    if (r === undefined) return fault(TptFault.invalidKey);
    if (keyVariant(s.lkey) !== r.mr.variant) return fault(TptFault.staleKey);
    if (pd !== r.mr.pd.pdn) return fault(TptFault.pdViolation);
    if (writesLocal && (r.mr.access & Access.localWrite) === 0) return fault(TptFault.accessViolation);
    const start = BigInt(r.mr.addr);
    if (s.addr < start || s.addr + BigInt(s.length) > start + BigInt(r.mr.length)) return fault(TptFault.boundsViolation);
    const segments: TptSegment[] = [];
    const firstPage = Math.floor(r.mr.addr / PAGE);
    for (let a = Number(s.addr), end = Number(s.addr) + s.length; a < end;) {
      const page = Math.floor(a / PAGE);
      const next = Math.min(end, (page + 1) * PAGE);
      // the driver wrote MTT entry k of the region as (firstPage + k) * PAGE (VA = PA in the host model)
      const k = page - firstPage;
      segments.push({ addr: BigInt((firstPage + k) * PAGE + (a % PAGE)), len: next - a });
      a = next;
    }
    if (segments.length > this.o.maxSegments) return fault(TptFault.tooManySegments);
    return { fault: TptFault.ok, segments };
  }

  private liveRegion(index: number): Region | undefined {
    for (const h of this.host) {
      for (const r of [...h.regions, h.readOnly]) if (r.live && r.mr.index === index) return r;
    }
    return undefined;
  }
}
