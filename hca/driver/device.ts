/**
 * The driver: device bring-up through the HCR, resource allocation, and the verbs each
 * user context calls (mthca_main.c / mthca_provider.c in spirit).
 *
 *   openDevice ─ QUERY_FW, QUERY_DEV_CAP, INIT_HCA, INIT_PORT (each port),
 *                then the driver's own PD, an EQ (SW2HW_EQ) and MAP_EQ for completions
 *   Device.kernel      the kernel's context, UAR page 0
 *   Device.openContext a user context with its own UAR page (1, 2, …)
 *
 * Table indexes come from the usable range only: [2^log_rsvd_*, table size), with the
 * reserved counts read from QUERY_DEV_CAP. Keys are index << 8 | variant; the variant of
 * an MPT index moves on every registration, so a key kept across deregister and
 * re-register no longer matches.
 *
 * Memory regions map VA = PA: the host model has no CPU page tables, so an MR over
 * [addr, addr+length) gets one MTT entry per 4 KiB page of that range, each pointing at the
 * same address.
 */
import type { HostMemory, MmioBar } from "../../core/index.ts";
import {
  type CommandExecutor, CqContext, EqContext, InitHcaIn, MAX_MTT_PER_WRITE, Opcode, QueryDevCapOut, QueryFwOut, WriteMttHeader,
} from "../../firmware/index.ts";
import { Access, encodeMpt, encodeMtt, makeKey, MptState, MTT_ENTRY_BYTES } from "../formats/index.ts";
import { RangeAllocator } from "../../core/index.ts";
import { CommandChannel, type HcrPort } from "./command.ts";
import { IndexPool } from "./index-pool.ts";
import { VerbsError } from "./errors.ts";
import { Context } from "./context.ts";
import { UAR_PAGE_BYTES } from "../doorbell/formats.ts";

/** QUERY_DEV_CAP, decoded: counts, not logs */
export interface DeviceCaps {
  readonly maxQps: number;
  readonly reservedQps: number;
  readonly maxQpWr: number;
  readonly maxCqs: number;
  readonly reservedCqs: number;
  readonly maxCqes: number;
  readonly maxEqs: number;
  readonly reservedEqs: number;
  readonly maxMpts: number;
  readonly reservedMpts: number;
  readonly maxMrSizeLog2: number;
  readonly maxMtts: number;
  readonly reservedMtts: number;
  readonly maxPds: number;
  readonly reservedPds: number;
  readonly pageSizeLog2: number;
  readonly numPorts: number;
  /** the raw outbox fields, logs as the firmware sent them */
  readonly raw: ReturnType<typeof QueryDevCapOut.decode>;
}

export interface FirmwareInfo {
  readonly major: number;
  readonly minor: number;
  readonly subminor: number;
  readonly maxCommands: number;
}

/** log2 table sizes for INIT_HCA; each defaults to min(the device maximum, the value below) */
export interface TableLogs {
  /** default 8 (256 QPs) */
  readonly qps?: number;
  /** default 8 */
  readonly cqs?: number;
  /** default 3 */
  readonly eqs?: number;
  /** default 10 */
  readonly mpts?: number;
  /** default 14 */
  readonly mtts?: number;
}

export interface OpenDeviceOptions {
  /** the firmware: the in-thread `Firmware`, or the worker endpoint */
  readonly firmware: CommandExecutor;
  /** host memory: mailboxes, rings and buffers live here */
  readonly memory: HostMemory;
  /** the UAR BAR: context n rings its doorbells in page n (the kernel in page 0) */
  readonly uar: MmioBar;
  /** an HCR other than a fresh one over `firmware` (e.g. one behind a device model) */
  readonly hcr?: HcrPort;
  readonly tables?: TableLogs;
  /** ports to bring up (1-based); default every port QUERY_DEV_CAP reports */
  readonly ports?: readonly number[];
  /** log2 EQEs of the driver's EQ; default 6 */
  readonly logEqSize?: number;
}

/** bytes of one EQE (mthca_eqe) */
export const EQE_BYTES = 32;
/** mthca MTHCA_EVENT_TYPE_COMP: completion events, mapped to the driver's EQ */
export const EVENT_TYPE_COMP = 0x00;

/** a protection domain */
export interface Pd {
  readonly pdn: number;
  readonly context: Context;
}

/** a registered memory region */
export interface Mr {
  readonly pd: Pd;
  /** the MPT index */
  readonly index: number;
  readonly variant: number;
  readonly lkey: number;
  readonly rkey: number;
  readonly addr: number;
  readonly length: number;
  /** Access bits (local read is always granted) */
  readonly access: number;
  /** first MTT index, and entries used */
  readonly mttBase: number;
  readonly mttCount: number;
}

export class Device {
  readonly cmd: CommandChannel;
  readonly memory: HostMemory;
  readonly uar: MmioBar;
  /** the kernel's context, UAR page 0 */
  readonly kernel: Context;
  /** the PD the driver registers its own rings in (CQ and EQ buffers) */
  driverPd!: Pd;
  /** the driver's EQ: every CQ reports to it */
  eqn = -1;
  eqRing = -1;
  eqMr!: Mr;

  readonly pds: IndexPool;
  readonly mpts: IndexPool;
  readonly cqs: IndexPool;
  readonly qps: IndexPool;
  readonly eqs: IndexPool;
  /** MTT entries: runs of consecutive indexes */
  readonly mtts: RangeAllocator;
  readonly uarPages: IndexPool;
  /** variant of each MPT index's latest registration */
  private readonly variants = new Map<number, number>();

  constructor(
    o: OpenDeviceOptions,
    readonly fw: FirmwareInfo,
    readonly caps: DeviceCaps,
    /** table sizes INIT_HCA set [entries] */
    readonly sizes: { readonly qps: number; readonly cqs: number; readonly eqs: number; readonly mpts: number; readonly mtts: number },
    cmd: CommandChannel,
  ) {
    this.cmd = cmd;
    this.memory = o.memory;
    this.uar = o.uar;
    this.pds = new IndexPool("PD", caps.reservedPds, caps.maxPds);
    this.mpts = new IndexPool("MPT", caps.reservedMpts, sizes.mpts);
    this.cqs = new IndexPool("CQ", caps.reservedCqs, sizes.cqs);
    this.qps = new IndexPool("QP", caps.reservedQps, sizes.qps);
    this.eqs = new IndexPool("EQ", caps.reservedEqs, sizes.eqs);
    this.mtts = new RangeAllocator(caps.reservedMtts, sizes.mtts);
    this.uarPages = new IndexPool("UAR page", 0, o.uar.pages);
    this.kernel = new Context(this, this.uarPages.alloc());
  }

  /** a user context with its own UAR page */
  openContext(): Context {
    return new Context(this, this.uarPages.alloc());
  }

  // ---- the verbs' device-wide halves (contexts call these) ----

  /** @internal */
  allocPd(context: Context): Pd {
    return { pdn: this.pds.alloc(), context };
  }

  /** @internal */
  deallocPd(pd: Pd): void {
    this.pds.release(pd.pdn);
  }

  /** @internal WRITE_MTT for the pages of [addr, addr+length), then SW2HW_MPT */
  async regMr(pd: Pd, addr: number, length: number, access: number): Promise<Mr> {
    if (!Number.isSafeInteger(addr) || addr < 0 || !Number.isSafeInteger(length) || length < 1) {
      throw new VerbsError("regMr", `need a safe address ≥ 0 and a length ≥ 1, got 0x${addr.toString(16)} +${length}`);
    }
    if ((access & ~0xf) !== 0) throw new VerbsError("regMr", `unknown access bits 0x${access.toString(16)}`);
    const pageBytes = 2 ** this.caps.pageSizeLog2;
    const firstPage = Math.floor(addr / pageBytes);
    const pages = Math.floor((addr + length - 1) / pageBytes) - firstPage + 1;
    const index = this.mpts.alloc();
    let mttBase = -1;
    try {
      mttBase = this.mtts.alloc(pages, 1);
      for (let done = 0; done < pages; done += MAX_MTT_PER_WRITE) {
        const n = Math.min(MAX_MTT_PER_WRITE, pages - done);
        const box = new Uint8Array(WriteMttHeader.sizeBytes + n * MTT_ENTRY_BYTES);
        WriteMttHeader.encode({ mtt_index: BigInt(mttBase + done) }, box);
        for (let i = 0; i < n; i++) {
          encodeMtt({ addr: BigInt((firstPage + done + i) * pageBytes), present: true }, box, WriteMttHeader.sizeBytes + i * MTT_ENTRY_BYTES);
        }
        await this.cmd.run({ opcode: Opcode.WRITE_MTT, inModifier: n, inbox: box });
      }
      const variant = this.variants.has(index) ? (this.variants.get(index)! + 1) & 0xff : 0;
      const entry = encodeMpt({
        state: MptState.valid, access, variant, pd: pd.pdn, log2PageSize: this.caps.pageSizeLog2,
        start: BigInt(addr), length: BigInt(length), mttBase,
      });
      await this.cmd.run({ opcode: Opcode.SW2HW_MPT, inModifier: index, inbox: entry });
      this.variants.set(index, variant);
      const key = makeKey(index, variant);
      return { pd, index, variant, lkey: key, rkey: key, addr, length, access, mttBase, mttCount: pages };
    } catch (e) {
      if (mttBase >= 0) this.mtts.release(mttBase);
      this.mpts.release(index);
      throw e;
    }
  }

  /** @internal HW2SW_MPT (no outbox), then the MPT index and MTT run go back to their pools */
  async deregMr(mr: Mr): Promise<void> {
    await this.cmd.run({ opcode: Opcode.HW2SW_MPT, opModifier: 1, inModifier: mr.index });
    this.mtts.release(mr.mttBase);
    this.mpts.release(mr.index);
  }

  /** @internal a ring of `bytes` in host memory, registered for local write in the driver's PD or `pd` */
  async allocRing(bytes: number, pd: Pd = this.driverPd): Promise<{ addr: number; mr: Mr }> {
    const addr = this.memory.alloc(bytes, 4096);
    try {
      return { addr, mr: await this.regMr(pd, addr, bytes, Access.localWrite) };
    } catch (e) {
      this.memory.free(addr);
      throw e;
    }
  }

  /** @internal */
  async freeRing(ring: { addr: number; mr: Mr }): Promise<void> {
    await this.deregMr(ring.mr);
    this.memory.free(ring.addr);
  }

  /** bring-up after INIT_HCA: the driver's PD, EQ and completion-event mapping */
  async setUp(logEqSize: number): Promise<void> {
    this.driverPd = this.allocPd(this.kernel);
    const ring = await this.allocRing(EQE_BYTES << logEqSize);
    this.eqRing = ring.addr;
    this.eqMr = ring.mr;
    this.memory.fill(ring.addr, EQE_BYTES << logEqSize, 0x80); // EQEs start hardware-owned (mthca MTHCA_EQ_ENTRY_OWNER_HW)
    const eqn = this.eqs.alloc();
    const ctx = EqContext.encode({
      start: BigInt(ring.addr), log_size: logEqSize, uar: this.kernel.uarPage, intr: 0, pd: this.driverPd.pdn, lkey: ring.mr.lkey,
    });
    await this.cmd.run({ opcode: Opcode.SW2HW_EQ, inModifier: eqn, inbox: ctx });
    this.eqn = eqn;
    await this.cmd.run({ opcode: Opcode.MAP_EQ, inModifier: eqn, inParam: 1n << BigInt(EVENT_TYPE_COMP) });
  }

  /** @internal a CQ context for SW2HW_CQ */
  cqContext(cqn: number, ring: { addr: number; mr: Mr }, logSize: number, uarPage: number): Uint8Array {
    return CqContext.encode({
      start: BigInt(ring.addr), log_size: logSize, uar: uarPage, error_eqn: this.eqn, comp_eqn: this.eqn,
      pd: this.driverPd.pdn, lkey: ring.mr.lkey, consumer_index: 0, producer_index: 0, cqn,
    });
  }
}

/**
 * Brings the adapter up through the HCR: QUERY_FW, QUERY_DEV_CAP, INIT_HCA with table
 * sizes within the device's limits, INIT_PORT per port; then the driver's PD and EQ.
 */
export async function openDevice(o: OpenDeviceOptions): Promise<Device> {
  if (o.uar.pageBytes !== UAR_PAGE_BYTES) throw new RangeError(`openDevice: the UAR BAR's pages must be ${UAR_PAGE_BYTES} bytes, got ${o.uar.pageBytes}`);
  const cmd = new CommandChannel(o.memory, o.firmware, o.hcr);
  const fwOut = QueryFwOut.decode((await cmd.run({ opcode: Opcode.QUERY_FW }))!);
  const fw: FirmwareInfo = { major: fwOut.fw_major, minor: fwOut.fw_minor, subminor: fwOut.fw_subminor, maxCommands: 2 ** fwOut.log_max_cmd };
  const raw = QueryDevCapOut.decode((await cmd.run({ opcode: Opcode.QUERY_DEV_CAP }))!);
  const caps: DeviceCaps = {
    maxQps: 2 ** raw.log_max_qp, reservedQps: 2 ** raw.log_rsvd_qp, maxQpWr: 2 ** raw.log_max_qp_sz,
    maxCqs: 2 ** raw.log_max_cq, reservedCqs: 2 ** raw.log_rsvd_cq, maxCqes: 2 ** raw.log_max_cq_sz,
    maxEqs: 2 ** raw.log_max_eq, reservedEqs: 2 ** raw.log_rsvd_eq,
    maxMpts: 2 ** raw.log_max_mpt, reservedMpts: 2 ** raw.log_rsvd_mrw, maxMrSizeLog2: raw.log_max_mrw_sz,
    maxMtts: 2 ** raw.log_max_mtt, reservedMtts: 2 ** raw.log_rsvd_mtt,
    maxPds: 2 ** raw.log_max_pd, reservedPds: 2 ** raw.log_rsvd_pd,
    pageSizeLog2: raw.log_pg_sz, numPorts: raw.num_ports, raw,
  };
  // each table: the asked size, capped by the device, and above the reserved entries
  const t = o.tables ?? {};
  const pick = (asked: number | undefined, dflt: number, max: number, rsvd: number) => Math.max(Math.min(asked ?? dflt, max), rsvd + 1);
  const logs = {
    log_num_qps: pick(t.qps, 8, raw.log_max_qp, raw.log_rsvd_qp),
    log_num_cqs: pick(t.cqs, 8, raw.log_max_cq, raw.log_rsvd_cq),
    log_num_eqs: pick(t.eqs, 3, raw.log_max_eq, raw.log_rsvd_eq),
    log_mpt_sz: pick(t.mpts, 10, raw.log_max_mpt, raw.log_rsvd_mrw),
    log_mtt_sz: pick(t.mtts, 14, raw.log_max_mtt, raw.log_rsvd_mtt),
  };
  await cmd.run({ opcode: Opcode.INIT_HCA, inbox: InitHcaIn.encode(logs) });
  const ports = o.ports ?? Array.from({ length: caps.numPorts }, (_, i) => i + 1);
  for (const p of ports) await cmd.run({ opcode: Opcode.INIT_PORT, inModifier: p });
  const sizes = {
    qps: 2 ** logs.log_num_qps, cqs: 2 ** logs.log_num_cqs, eqs: 2 ** logs.log_num_eqs, mpts: 2 ** logs.log_mpt_sz, mtts: 2 ** logs.log_mtt_sz,
  };
  const dev = new Device(o, fw, caps, sizes, cmd);
  await dev.setUp(o.logEqSize ?? 6);
  return dev;
}
