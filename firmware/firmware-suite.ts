/**
 * The firmware test suite, written once against the DeviceBus interface so that it runs
 * against any bus: `firmwareSuite("model", () => new ModelDeviceBus())` in
 * firmware.test.ts, and later the same call with a bus that programs an RTL block's
 * configuration port. Every case builds a fresh bus and a fresh firmware.
 *
 * For every command the suite runs its success path and one case per error status the
 * command table lists; every rejected command must leave both the firmware's record and
 * the device tables exactly as they were.
 *
 * A bus with a close() method (e.g. one over RTL processes) is closed after each test.
 */
import { afterEach, describe, expect, it } from "vitest";
import {
  COMMANDS, CqContext, EqContext, InitHcaIn, QP_MAILBOX_BYTES, QpContext, QpModifyHeader, QpServiceType, QpState, QP_STATE_NAMES,
  QueryDevCapOut, QueryFwOut, Status, statusName, WriteMttHeader, command, type CommandResult, type FirmwareCommand,
} from "./commands.ts";
import type { DeviceBus, DeviceTables } from "./device-bus.ts";
import { DEFAULT_LIMITS, Firmware, type FirmwareTables } from "./firmware.ts";
import { decodeMpt, encodeMpt, encodeMtt, MptState, type MptEntry } from "../hca/formats/index.ts";

// ---- the bring-up a test starts from -----------------------------------------------------

/** INIT_HCA sizes used by the suite: 64 QPs, 16 CQs, 8 EQs, 64 MPTs, 256 MTTs */
export const SUITE_INIT = { log_num_qps: 6, log_num_cqs: 4, log_num_eqs: 3, log_mpt_sz: 6, log_mtt_sz: 8 } as const;
/** first usable index of each table (DEFAULT_LIMITS' reserved entries) */
export const FIRST = {
  qp: 2 ** DEFAULT_LIMITS.logRsvdQp,
  cq: 2 ** DEFAULT_LIMITS.logRsvdCq,
  eq: 2 ** DEFAULT_LIMITS.logRsvdEq,
  mpt: 2 ** DEFAULT_LIMITS.logRsvdMrw,
  mtt: 2 ** DEFAULT_LIMITS.logRsvdMtt,
} as const;

export function mptEntry(over: Partial<MptEntry> = {}): MptEntry {
  return { state: MptState.valid, access: 0xf, variant: 0x5a, pd: 3, log2PageSize: 12, start: 0x10_0000n, length: 0x4000n, mttBase: FIRST.mtt, ...over };
}

export function cqContext(cqn: number, over: Partial<Record<string, number | bigint>> = {}): Uint8Array {
  return CqContext.encode({ log_size: 6, uar: 1, comp_eqn: FIRST.eq, error_eqn: FIRST.eq, pd: 3, lkey: 0x1000, cqn, ...over } as never);
}

export function eqContext(over: Partial<Record<string, number | bigint>> = {}): Uint8Array {
  return EqContext.encode({ log_size: 6, uar: 0, intr: 0, pd: 3, lkey: 0x1000, ...over } as never);
}

export function qpContext(over: Partial<Record<string, number | bigint>> = {}): Uint8Array {
  return QpContext.encode({
    st: QpServiceType.RC, mtu: 5, log_rq_size: 6, log_sq_size: 6, port: 1, retry_count: 7, rnr_retry: 7, uar: 1, remote_qpn: 0x77,
    pd: 3, send_cqn: FIRST.cq, recv_cqn: FIRST.cq, sq_psn: 1, rq_psn: 2, wqe_lkey: 0x1000, wqe_base: 0x20_0000n, qkey: 0, pkey_index: 0,
    ...over,
  } as never);
}

export function qpBox(over: Partial<Record<string, number | bigint>> = {}): Uint8Array {
  const box = new Uint8Array(QP_MAILBOX_BYTES);
  box.set(qpContext(over), QpModifyHeader.sizeBytes);
  return box;
}

export function mttBox(index: number, addrs: readonly bigint[]): Uint8Array {
  const box = new Uint8Array(WriteMttHeader.sizeBytes + 8 * addrs.length);
  WriteMttHeader.set(box, 0, "mtt_index", BigInt(index));
  addrs.forEach((a, i) => encodeMtt({ addr: a, present: true }, box, WriteMttHeader.sizeBytes + 8 * i));
  return box;
}

/** A firmware on a bus, with the driver-side helpers the tests use. */
export class Rig {
  readonly fw: Firmware;
  constructor(readonly bus: DeviceBus) {
    this.fw = new Firmware(bus);
  }

  run(name: string, c: Partial<FirmwareCommand> = {}): Promise<CommandResult> {
    return this.fw.execute({ opcode: command(name).opcode, opModifier: 0, inParam: 0n, inModifier: 0, token: 0, ...c });
  }

  /** runs a command that must succeed */
  async ok(name: string, c: Partial<FirmwareCommand> = {}): Promise<CommandResult> {
    const r = await this.run(name, c);
    if (r.status !== Status.OK) throw new Error(`${name} failed with ${statusName(r.status)}`);
    return r;
  }

  async state(): Promise<{ firmware: FirmwareTables; device: DeviceTables }> {
    return { firmware: this.fw.snapshot(), device: await this.bus.snapshot() };
  }

  /** INIT_HCA with the suite's sizes */
  initHca(): Promise<CommandResult> {
    return this.ok("INIT_HCA", { inbox: InitHcaIn.encode(SUITE_INIT) });
  }

  /**
   * The common starting point: HCA initialised, port 1 up, EQ FIRST.eq and CQ FIRST.cq
   * in hardware, four MTT entries written and MPT FIRST.mpt registered.
   */
  async bringUp(): Promise<void> {
    await this.initHca();
    await this.ok("INIT_PORT", { inModifier: 1 });
    await this.ok("SW2HW_EQ", { inModifier: FIRST.eq, inbox: eqContext() });
    await this.ok("SW2HW_CQ", { inModifier: FIRST.cq, inbox: cqContext(FIRST.cq) });
    await this.ok("WRITE_MTT", { inModifier: 4, inbox: mttBox(FIRST.mtt, [0x1000n, 0x2000n, 0x3000n, 0x4000n]) });
    await this.ok("SW2HW_MPT", { inModifier: FIRST.mpt, inbox: encodeMpt(mptEntry()) });
  }

  /** drives QP `qpn` from RESET into `state` through the legal transitions */
  async qpTo(qpn: number, state: QpState): Promise<void> {
    if (state === QpState.RESET) return;
    if (state === QpState.ERR) {
      await this.ok("2ERR_QP", { inModifier: qpn });
      return;
    }
    await this.ok("RST2INIT_QP", { inModifier: qpn, inbox: qpBox() });
    if (state === QpState.INIT) return;
    await this.ok("INIT2RTR_QP", { inModifier: qpn, inbox: qpBox() });
    if (state === QpState.RTR) return;
    await this.ok("RTR2RTS_QP", { inModifier: qpn, inbox: qpBox() });
  }
}

// ---- the error cases, per command ------------------------------------------------------

interface Case {
  readonly command: string;
  readonly status: Status;
  readonly what: string;
  /** "reset": start from a fresh firmware; default: from Rig.bringUp() */
  readonly from?: "reset";
  readonly setup?: (r: Rig) => Promise<unknown>;
  readonly cmd: Partial<FirmwareCommand> | ((r: Rig) => Partial<FirmwareCommand>);
}

const QPN = FIRST.qp;
const MODIFIES: readonly { name: string; from: QpState }[] = [
  { name: "RST2INIT_QP", from: QpState.RESET },
  { name: "INIT2RTR_QP", from: QpState.INIT },
  { name: "RTR2RTS_QP", from: QpState.RTR },
  { name: "RTS2RTS_QP", from: QpState.RTS },
];

/** the error cases: at least one per (command, status) the command table lists */
export const ERROR_CASES: readonly Case[] = [
  ...COMMANDS.flatMap((c): Case[] => [
    { command: c.name, status: Status.BAD_OP, what: "unsupported opcode modifier", cmd: { opModifier: 0xf } },
  ]),
  ...COMMANDS.filter((c) => !c.legalIn.includes("reset")).map(
    (c): Case => ({ command: c.name, status: Status.BAD_SYS_STATE, what: "before INIT_HCA", from: "reset", cmd: { inModifier: 1, inbox: new Uint8Array(4096), opModifier: Number(Object.keys(c.opModifiers)[0]) } }),
  ),
  { command: "INIT_HCA", status: Status.BAD_SYS_STATE, what: "twice", cmd: { inbox: InitHcaIn.encode(SUITE_INIT) } },
  { command: "INIT_HCA", status: Status.BAD_PARAM, what: "no inbox", from: "reset", cmd: {} },
  { command: "INIT_HCA", status: Status.BAD_PARAM, what: "QP table no larger than the reserved QPs", from: "reset", cmd: { inbox: InitHcaIn.encode({ ...SUITE_INIT, log_num_qps: DEFAULT_LIMITS.logRsvdQp }) } },
  { command: "INIT_HCA", status: Status.EXCEED_LIM, what: "more QPs than QUERY_DEV_CAP allows", from: "reset", cmd: { inbox: InitHcaIn.encode({ ...SUITE_INIT, log_num_qps: DEFAULT_LIMITS.logMaxQp + 1 }) } },
  { command: "INIT_HCA", status: Status.EXCEED_LIM, what: "more MTT entries than allowed", from: "reset", cmd: { inbox: InitHcaIn.encode({ ...SUITE_INIT, log_mtt_sz: DEFAULT_LIMITS.logMaxMtt + 1 }) } },
  { command: "CLOSE_HCA", status: Status.RESOURCE_BUSY, what: "orderly close with a port up", cmd: {} },
  { command: "INIT_PORT", status: Status.BAD_PARAM, what: "port 0", cmd: { inModifier: 0 } },
  { command: "INIT_PORT", status: Status.BAD_PARAM, what: "a port the device lacks", cmd: { inModifier: DEFAULT_LIMITS.numPorts + 1 } },
  { command: "INIT_PORT", status: Status.BAD_RES_STATE, what: "port already up", cmd: { inModifier: 1 } },
  { command: "CLOSE_PORT", status: Status.BAD_PARAM, what: "port 0", cmd: { inModifier: 0 } },
  { command: "CLOSE_PORT", status: Status.BAD_RES_STATE, what: "port already down", cmd: { inModifier: 2 } },
  { command: "CLOSE_PORT", status: Status.RESOURCE_BUSY, what: "a QP on the port is out of RESET", setup: (r) => r.qpTo(QPN, QpState.INIT), cmd: { inModifier: 1 } },

  { command: "SW2HW_MPT", status: Status.BAD_PARAM, what: "no inbox", cmd: { inModifier: FIRST.mpt + 1 } },
  { command: "SW2HW_MPT", status: Status.BAD_PARAM, what: "entry not in the valid state", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ state: MptState.free })) } },
  { command: "SW2HW_MPT", status: Status.BAD_PARAM, what: "PD beyond the device's PDs", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ pd: 2 ** DEFAULT_LIMITS.logMaxPd })) } },
  { command: "SW2HW_MPT", status: Status.BAD_PARAM, what: "pages beyond the MTT", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ mttBase: 2 ** SUITE_INIT.log_mtt_sz - 2 })) } },
  { command: "SW2HW_MPT", status: Status.BAD_INDEX, what: "index past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_mpt_sz, inbox: encodeMpt(mptEntry()) } },
  { command: "SW2HW_MPT", status: Status.BAD_RESOURCE, what: "reserved MPT index", cmd: { inModifier: 0, inbox: encodeMpt(mptEntry()) } },
  { command: "SW2HW_MPT", status: Status.BAD_RESOURCE, what: "pages in the reserved MTT entries", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ mttBase: 0 })) } },
  { command: "SW2HW_MPT", status: Status.BAD_RES_STATE, what: "entry already hardware-owned", cmd: { inModifier: FIRST.mpt, inbox: encodeMpt(mptEntry({ variant: 1 })) } },
  { command: "SW2HW_MPT", status: Status.BAD_SEG_PARAM, what: "region wraps around 2^64", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ start: 0xffff_ffff_ffff_f000n, length: 0x2000n })) } },
  { command: "SW2HW_MPT", status: Status.BAD_SEG_PARAM, what: "page size below 4 KiB", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ log2PageSize: 11 })) } },
  { command: "SW2HW_MPT", status: Status.EXCEED_LIM, what: "region larger than log_max_mrw_sz", cmd: { inModifier: FIRST.mpt + 1, inbox: encodeMpt(mptEntry({ log2PageSize: 31, start: 0n, length: (1n << BigInt(DEFAULT_LIMITS.logMaxMrwSz)) + 1n })) } },
  ...["HW2SW_MPT", "QUERY_MPT"].flatMap((name): Case[] => [
    { command: name, status: Status.BAD_INDEX, what: "index past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_mpt_sz } },
    { command: name, status: Status.BAD_RESOURCE, what: "reserved MPT index", cmd: { inModifier: 1 } },
    { command: name, status: Status.BAD_RES_STATE, what: "entry software-owned", cmd: { inModifier: FIRST.mpt + 1 } },
  ]),
  { command: "WRITE_MTT", status: Status.BAD_PARAM, what: "zero entries", cmd: { inModifier: 0, inbox: mttBox(FIRST.mtt, []) } },
  { command: "WRITE_MTT", status: Status.BAD_PARAM, what: "more entries than a mailbox holds", cmd: { inModifier: 511, inbox: new Uint8Array(4096) } },
  { command: "WRITE_MTT", status: Status.BAD_PARAM, what: "inbox shorter than the entry count", cmd: { inModifier: 3, inbox: mttBox(FIRST.mtt, [0x1000n, 0x2000n]) } },
  { command: "WRITE_MTT", status: Status.BAD_INDEX, what: "entries past the table", cmd: { inModifier: 2, inbox: mttBox(2 ** SUITE_INIT.log_mtt_sz - 1, [0x1000n, 0x2000n]) } },
  { command: "WRITE_MTT", status: Status.BAD_RESOURCE, what: "reserved MTT entries", cmd: { inModifier: 1, inbox: mttBox(0, [0x1000n]) } },

  { command: "MAP_EQ", status: Status.BAD_PARAM, what: "empty event mask", cmd: { inModifier: FIRST.eq, inParam: 0n } },
  { command: "MAP_EQ", status: Status.BAD_INDEX, what: "EQ past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_num_eqs, inParam: 1n } },
  { command: "MAP_EQ", status: Status.BAD_RESOURCE, what: "reserved EQ", cmd: { inModifier: 0, inParam: 1n } },
  { command: "MAP_EQ", status: Status.BAD_RES_STATE, what: "EQ software-owned", cmd: { inModifier: FIRST.eq + 1, inParam: 1n } },
  { command: "SW2HW_EQ", status: Status.BAD_PARAM, what: "no inbox", cmd: { inModifier: FIRST.eq + 1 } },
  { command: "SW2HW_EQ", status: Status.BAD_PARAM, what: "PD beyond the device's PDs", cmd: { inModifier: FIRST.eq + 1, inbox: eqContext({ pd: 2 ** DEFAULT_LIMITS.logMaxPd }) } },
  { command: "SW2HW_EQ", status: Status.BAD_INDEX, what: "EQ past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_num_eqs, inbox: eqContext() } },
  { command: "SW2HW_EQ", status: Status.BAD_RESOURCE, what: "reserved EQ", cmd: { inModifier: 0, inbox: eqContext() } },
  { command: "SW2HW_EQ", status: Status.BAD_RES_STATE, what: "EQ already hardware-owned", cmd: { inModifier: FIRST.eq, inbox: eqContext() } },
  { command: "SW2HW_EQ", status: Status.EXCEED_LIM, what: "EQ larger than the device allows", cmd: { inModifier: FIRST.eq + 1, inbox: eqContext({ log_size: DEFAULT_LIMITS.logMaxEqSz + 1 }) } },
  { command: "HW2SW_EQ", status: Status.BAD_INDEX, what: "EQ past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_num_eqs } },
  { command: "HW2SW_EQ", status: Status.BAD_RESOURCE, what: "reserved EQ", cmd: { inModifier: 0 } },
  { command: "HW2SW_EQ", status: Status.BAD_RES_STATE, what: "EQ software-owned", cmd: { inModifier: FIRST.eq + 1 } },
  { command: "HW2SW_EQ", status: Status.RESOURCE_BUSY, what: "a hardware CQ reports to it", cmd: { inModifier: FIRST.eq } },
  {
    command: "HW2SW_EQ", status: Status.RESOURCE_BUSY, what: "events are mapped to it",
    setup: async (r) => {
      await r.ok("SW2HW_EQ", { inModifier: FIRST.eq + 1, inbox: eqContext() });
      await r.ok("MAP_EQ", { inModifier: FIRST.eq + 1, inParam: 0b101n });
    },
    cmd: { inModifier: FIRST.eq + 1 },
  },
  { command: "SW2HW_CQ", status: Status.BAD_PARAM, what: "no inbox", cmd: { inModifier: FIRST.cq + 1 } },
  { command: "SW2HW_CQ", status: Status.BAD_PARAM, what: "context names another CQ", cmd: { inModifier: FIRST.cq + 1, inbox: cqContext(FIRST.cq + 2) } },
  { command: "SW2HW_CQ", status: Status.BAD_PARAM, what: "PD beyond the device's PDs", cmd: { inModifier: FIRST.cq + 1, inbox: cqContext(FIRST.cq + 1, { pd: 2 ** DEFAULT_LIMITS.logMaxPd }) } },
  { command: "SW2HW_CQ", status: Status.BAD_INDEX, what: "CQ past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_num_cqs, inbox: cqContext(2 ** SUITE_INIT.log_num_cqs) } },
  { command: "SW2HW_CQ", status: Status.BAD_RESOURCE, what: "reserved CQ", cmd: { inModifier: 0, inbox: cqContext(0) } },
  { command: "SW2HW_CQ", status: Status.BAD_RESOURCE, what: "completion EQ software-owned", cmd: { inModifier: FIRST.cq + 1, inbox: cqContext(FIRST.cq + 1, { comp_eqn: FIRST.eq + 1 }) } },
  { command: "SW2HW_CQ", status: Status.BAD_RES_STATE, what: "CQ already hardware-owned", cmd: { inModifier: FIRST.cq, inbox: cqContext(FIRST.cq) } },
  { command: "SW2HW_CQ", status: Status.EXCEED_LIM, what: "CQ larger than the device allows", cmd: { inModifier: FIRST.cq + 1, inbox: cqContext(FIRST.cq + 1, { log_size: DEFAULT_LIMITS.logMaxCqSz + 1 }) } },
  { command: "HW2SW_CQ", status: Status.BAD_INDEX, what: "CQ past the table", cmd: { inModifier: 2 ** SUITE_INIT.log_num_cqs } },
  { command: "HW2SW_CQ", status: Status.BAD_RESOURCE, what: "reserved CQ", cmd: { inModifier: 0 } },
  { command: "HW2SW_CQ", status: Status.BAD_RES_STATE, what: "CQ software-owned", cmd: { inModifier: FIRST.cq + 1 } },
  { command: "HW2SW_CQ", status: Status.RESOURCE_BUSY, what: "a QP out of RESET completes to it", setup: (r) => r.qpTo(QPN, QpState.RTS), cmd: { inModifier: FIRST.cq } },

  ...MODIFIES.flatMap(({ name, from }): Case[] => {
    const setup = (r: Rig) => r.qpTo(QPN, from);
    const wrongState = from === QpState.RESET ? QpState.INIT : QpState.RESET;
    return [
      { command: name, status: Status.BAD_PARAM, what: "EE bit set in in_modifier", setup, cmd: { inModifier: (1 << 24) | QPN, inbox: qpBox() } },
      { command: name, status: Status.BAD_PARAM, what: "unknown service type", setup, cmd: { inModifier: QPN, inbox: qpBox({ st: 2 }) } },
      { command: name, status: Status.BAD_PARAM, what: "port 0", setup, cmd: { inModifier: QPN, inbox: qpBox({ port: 0 }) } },
      { command: name, status: Status.BAD_PARAM, what: "no inbox", setup, cmd: { inModifier: QPN } },
      { command: name, status: Status.BAD_INDEX, what: "QPN past the table", setup, cmd: { inModifier: 2 ** SUITE_INIT.log_num_qps, inbox: qpBox() } },
      { command: name, status: Status.BAD_RESOURCE, what: "reserved QPN", setup, cmd: { inModifier: 1, inbox: qpBox() } },
      { command: name, status: Status.BAD_QP_STATE, what: `QP in ${QP_STATE_NAMES[wrongState]}`, setup: (r) => r.qpTo(QPN, wrongState), cmd: { inModifier: QPN, inbox: qpBox() } },
      ...(from === QpState.RESET
        ? [
            { command: name, status: Status.BAD_RESOURCE, what: "send CQ software-owned", cmd: { inModifier: QPN, inbox: qpBox({ send_cqn: FIRST.cq + 1 }) } },
            { command: name, status: Status.EXCEED_LIM, what: "send queue larger than the device allows", cmd: { inModifier: QPN, inbox: qpBox({ log_sq_size: DEFAULT_LIMITS.logMaxQpSz + 1 }) } },
          ]
        : [
            { command: name, status: Status.BAD_PARAM, what: "PD changed after RST2INIT", setup, cmd: { inModifier: QPN, inbox: qpBox({ pd: 4 }) } },
            { command: name, status: Status.BAD_PARAM, what: "MTU code 0", setup, cmd: { inModifier: QPN, inbox: qpBox({ mtu: 0 }) } },
          ]),
    ];
  }),
  ...["2ERR_QP", "2RST_QP", "QUERY_QP"].flatMap((name): Case[] => {
    const opModifier = name === "2RST_QP" ? 3 : 0;
    return [
      { command: name, status: Status.BAD_PARAM, what: "EE bit set in in_modifier", cmd: { opModifier, inModifier: (1 << 24) | QPN } },
      { command: name, status: Status.BAD_INDEX, what: "QPN past the table", cmd: { opModifier, inModifier: 2 ** SUITE_INIT.log_num_qps } },
      { command: name, status: Status.BAD_RESOURCE, what: "reserved QPN", cmd: { opModifier, inModifier: 0 } },
    ];
  }),
];

// ---- the suite ---------------------------------------------------------------------------

export function firmwareSuite(label: string, makeBus: () => DeviceBus | Promise<DeviceBus>): void {
  const open: DeviceBus[] = [];
  afterEach(async () => {
    for (const bus of open.splice(0)) await (bus as DeviceBus & { close?: () => Promise<void> }).close?.();
  });
  const rig = async (from?: "reset"): Promise<Rig> => {
    const bus = await makeBus();
    open.push(bus);
    const r = new Rig(bus);
    if (from !== "reset") await r.bringUp();
    return r;
  };

  describe(`firmware on the ${label} bus: every error status leaves every table unchanged`, () => {
    it("the cases cover every (command, status) pair the command table lists", () => {
      const covered = new Set(ERROR_CASES.map((c) => `${c.command} ${statusName(c.status)}`));
      const missing = COMMANDS.flatMap((c) => c.statuses.filter((s) => s !== Status.OK).map((s) => `${c.name} ${statusName(s)}`))
        .filter((k) => !covered.has(k));
      expect(missing).toEqual([]);
      for (const c of ERROR_CASES) expect(command(c.command).statuses, `${c.command} ${statusName(c.status)}`).toContain(c.status);
    });

    for (const c of ERROR_CASES) {
      it(`${c.command} → ${statusName(c.status)}: ${c.what}`, async () => {
        const r = await rig(c.from);
        await c.setup?.(r);
        const before = await r.state();
        const res = await r.run(c.command, typeof c.cmd === "function" ? c.cmd(r) : c.cmd);
        expect(statusName(res.status)).toBe(statusName(c.status));
        expect(res.outbox).toBeUndefined();
        expect(await r.state()).toEqual(before);
      });
    }

    it("an unknown opcode → BAD_OP, changing nothing", async () => {
      const r = await rig();
      const before = await r.state();
      for (const opcode of [0x000, 0x001, 0x020, 0xfff]) {
        expect((await r.fw.execute({ opcode, opModifier: 0, inParam: 0n, inModifier: 0, token: 0 })).status).toBe(Status.BAD_OP);
      }
      expect(await r.state()).toEqual(before);
    });
  });

  describe(`firmware on the ${label} bus: each command's success`, () => {
    it("QUERY_FW and QUERY_DEV_CAP answer in reset and report the limits", async () => {
      const r = await rig("reset");
      const fw = QueryFwOut.decode((await r.ok("QUERY_FW")).outbox!);
      expect([fw.fw_major, fw.fw_minor, fw.fw_subminor, fw.log_max_cmd]).toEqual([1, 0, 0, 0]);
      const cap = QueryDevCapOut.decode((await r.ok("QUERY_DEV_CAP")).outbox!);
      const l = DEFAULT_LIMITS;
      expect(cap).toMatchObject({
        log_max_qp: l.logMaxQp, log_rsvd_qp: l.logRsvdQp, log_max_cq: l.logMaxCq, log_max_mpt: l.logMaxMpt,
        log_rsvd_mrw: l.logRsvdMrw, log_max_mtt: l.logMaxMtt, log_rsvd_mtt: l.logRsvdMtt, num_ports: l.numPorts, log_max_pd: l.logMaxPd,
      });
      expect(await r.state()).toEqual((await rig("reset").then((x) => x.state())));
    });

    it("INIT_HCA sizes the tables; CLOSE_HCA empties them (orderly after CLOSE_PORT, or panic)", async () => {
      const r = await rig();
      expect((await r.state()).device.sizes).toEqual({ qps: 64, cqs: 16, eqs: 8, mpts: 64, mtts: 256 });
      await r.ok("CLOSE_HCA", { opModifier: 1 });
      const empty = await (await rig("reset")).state();
      expect(await r.state()).toEqual(empty);
      await r.bringUp();
      await r.ok("CLOSE_PORT", { inModifier: 1 });
      await r.ok("CLOSE_HCA");
      expect(await r.state()).toEqual(empty);
    });

    it("INIT_PORT and CLOSE_PORT", async () => {
      const r = await rig();
      await r.ok("INIT_PORT", { inModifier: 2 });
      expect((await r.state()).device.portsUp).toEqual([1, 2]);
      await r.ok("CLOSE_PORT", { inModifier: 1 });
      expect((await r.state()).device.portsUp).toEqual([2]);
    });

    it("SW2HW_MPT → QUERY_MPT → HW2SW_MPT, and re-registration with a new variant", async () => {
      const r = await rig();
      const e = mptEntry({ variant: 0x77, pd: 9 });
      await r.ok("SW2HW_MPT", { inModifier: FIRST.mpt + 1, inbox: encodeMpt(e) });
      const s = await r.state();
      expect(s.firmware.mpt.map(([i, key]) => [i, key])).toEqual([[FIRST.mpt, (FIRST.mpt << 8) | 0x5a], [FIRST.mpt + 1, ((FIRST.mpt + 1) << 8) | 0x77]]);
      expect(s.device.mpt.map(([i]) => i)).toEqual([FIRST.mpt, FIRST.mpt + 1]);
      expect(decodeMpt((await r.ok("QUERY_MPT", { inModifier: FIRST.mpt + 1 })).outbox!)).toEqual(e);
      expect(decodeMpt((await r.ok("HW2SW_MPT", { inModifier: FIRST.mpt + 1 })).outbox!)).toEqual(e);
      expect((await r.state()).device.mpt.map(([i]) => i)).toEqual([FIRST.mpt]);
      expect((await r.ok("HW2SW_MPT", { inModifier: FIRST.mpt, opModifier: 1 })).outbox).toBeUndefined();
      await r.ok("SW2HW_MPT", { inModifier: FIRST.mpt, inbox: encodeMpt(mptEntry({ variant: 0x5b })) });
      expect((await r.state()).firmware.mpt.map(([, key]) => key)).toEqual([(FIRST.mpt << 8) | 0x5b]);
    });

    it("WRITE_MTT writes consecutive entries; SYNC_TPT reaches the bus", async () => {
      const r = await rig();
      await r.ok("WRITE_MTT", { inModifier: 2, inbox: mttBox(100, [0xa000n, 0xb000n]) });
      const mtt = new Map((await r.state()).device.mtt);
      expect(mtt.get(100)).toBe("000000000000a001");
      expect(mtt.get(101)).toBe("000000000000b001");
      await r.ok("SYNC_TPT");
      expect((await r.state()).device.tptSyncs).toBe(1);
    });

    it("SW2HW_EQ, MAP_EQ (map, remap, unmap), HW2SW_EQ", async () => {
      const r = await rig();
      const ctx = eqContext({ log_size: 4 });
      await r.ok("SW2HW_EQ", { inModifier: FIRST.eq + 1, inbox: ctx });
      await r.ok("MAP_EQ", { inModifier: FIRST.eq, inParam: 0b1111n });
      await r.ok("MAP_EQ", { inModifier: FIRST.eq + 1, inParam: 0b0110n });
      expect((await r.state()).device.eventMap).toEqual([[0, FIRST.eq], [1, FIRST.eq + 1], [2, FIRST.eq + 1], [3, FIRST.eq]]);
      await r.ok("MAP_EQ", { inModifier: (1 << 31 >>> 0) | (FIRST.eq + 1), inParam: 0b1111n });
      expect((await r.state()).device.eventMap).toEqual([[0, FIRST.eq], [3, FIRST.eq]]);
      expect((await r.ok("HW2SW_EQ", { inModifier: FIRST.eq + 1 })).outbox).toEqual(ctx);
      expect((await r.state()).device.eq.map(([i]) => i)).toEqual([FIRST.eq]);
    });

    it("SW2HW_CQ and HW2SW_CQ (after the QP using it is reset)", async () => {
      const r = await rig();
      const ctx = cqContext(FIRST.cq + 1);
      await r.ok("SW2HW_CQ", { inModifier: FIRST.cq + 1, inbox: ctx });
      await r.ok("RST2INIT_QP", { inModifier: QPN, inbox: qpBox({ recv_cqn: FIRST.cq + 1 }) });
      expect((await r.run("HW2SW_CQ", { inModifier: FIRST.cq + 1 })).status).toBe(Status.RESOURCE_BUSY);
      await r.ok("2RST_QP", { inModifier: QPN, opModifier: 3 });
      expect((await r.ok("HW2SW_CQ", { inModifier: FIRST.cq + 1 })).outbox).toEqual(ctx);
    });

    it("a QP from RESET to RTS and back; QUERY_QP reports the state; 2RST returns the old context", async () => {
      const r = await rig();
      await r.qpTo(QPN, QpState.RTS);
      const q = (await r.ok("QUERY_QP", { inModifier: QPN })).outbox!;
      expect(QpContext.get(q, QpModifyHeader.sizeBytes, "state")).toBe(QpState.RTS);
      expect(QpContext.get(q, QpModifyHeader.sizeBytes, "local_qpn")).toBe(QPN);
      await r.ok("RTS2RTS_QP", { inModifier: QPN, inbox: qpBox({ retry_count: 3 }) });
      expect(r.fw.qpState(QPN)).toBe(QpState.RTS);
      await r.ok("2ERR_QP", { inModifier: QPN });
      const old = (await r.ok("2RST_QP", { inModifier: QPN, opModifier: 2 })).outbox!;
      expect(QpContext.get(old, QpModifyHeader.sizeBytes, "state")).toBe(QpState.ERR);
      expect(QpContext.get(old, QpModifyHeader.sizeBytes, "retry_count")).toBe(3);
      expect((await r.state()).device.qp).toEqual([]);
      const fresh = (await r.ok("QUERY_QP", { inModifier: QPN })).outbox!;
      expect(QpContext.get(fresh, QpModifyHeader.sizeBytes, "state")).toBe(QpState.RESET);
    });

    it("NOP succeeds in every HCA state and changes nothing", async () => {
      for (const from of ["reset", undefined] as const) {
        const r = await rig(from);
        const before = await r.state();
        await r.ok("NOP");
        expect(await r.state()).toEqual(before);
      }
    });

    it("firmware record and device tables agree after bring-up", async () => {
      const r = await rig();
      await r.qpTo(QPN, QpState.RTS);
      const { firmware, device } = await r.state();
      expect(firmware.mpt.map(([i, , hex]) => [i, hex])).toEqual(device.mpt);
      expect(firmware.cq).toEqual(device.cq);
      expect(firmware.eq).toEqual(device.eq);
      expect(firmware.qp.map(([i, , hex]) => [i, hex])).toEqual(device.qp);
      expect(firmware.portsUp).toEqual(device.portsUp);
    });
  });

  describe(`firmware on the ${label} bus: QP state machine`, () => {
    const transitions = COMMANDS.filter((c) => c.qp !== undefined && c.qp.to !== "same");
    const states = [QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.ERR];
    for (const spec of transitions) {
      for (const from of states) {
        const legal = spec.qp!.from.includes(from);
        const to = spec.qp!.to as QpState;
        const title = legal ? `${QP_STATE_NAMES[from]} → ${QP_STATE_NAMES[to]} with ${spec.name}` : `${QP_STATE_NAMES[from]}: ${spec.name} → BAD_QP_STATE`;
        it(title, async () => {
          const r = await rig();
          await r.qpTo(QPN, from);
          const before = await r.state();
          const opModifier = Number(Object.keys(spec.opModifiers)[0]);
          const res = await r.run(spec.name, { inModifier: QPN, opModifier, inbox: spec.inbox ? qpBox() : undefined });
          if (legal) {
            expect(statusName(res.status)).toBe("OK");
            expect(QP_STATE_NAMES[r.fw.qpState(QPN)]).toBe(QP_STATE_NAMES[to]);
          } else {
            expect(statusName(res.status)).toBe("BAD_QP_STATE");
            expect(await r.state()).toEqual(before);
          }
        });
      }
    }
  });
}
