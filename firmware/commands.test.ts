import { describe, expect, it } from "vitest";
import type { Layout } from "../core/index.ts";
import {
  COMMANDS, CqContext, EqContext, InitHcaIn, MAX_MTT_PER_WRITE, Opcode, QpContext, QpState, qpTransitions, QueryDevCapOut, QueryFwOut,
  Status, STATUS_NAMES, WriteMttHeader,
} from "./commands.ts";

function contiguous(l: Layout): void {
  let bit = 0;
  for (const f of l.fields) {
    expect(f.bitOffset, `${l.name}.${f.name}`).toBe(bit);
    bit += f.bits;
  }
  expect(bit, l.name).toBe(l.sizeBytes * 8);
}

describe("firmware command table", () => {
  it("has every command the issue asks for, once, with unique opcodes", () => {
    const names = COMMANDS.map((c) => c.name);
    for (const n of ["QUERY_FW", "QUERY_DEV_CAP", "INIT_HCA", "CLOSE_HCA", "INIT_PORT", "CLOSE_PORT", "SW2HW_MPT", "HW2SW_MPT", "QUERY_MPT", "WRITE_MTT", "SYNC_TPT", "SW2HW_CQ", "HW2SW_CQ", "SW2HW_EQ", "HW2SW_EQ", "MAP_EQ", "RST2INIT_QP", "INIT2RTR_QP", "RTR2RTS_QP", "RTS2RTS_QP", "2ERR_QP", "2RST_QP", "QUERY_QP", "NOP"]) {
      expect(names).toContain(n);
    }
    expect(new Set(names).size).toBe(names.length);
    expect(new Set(COMMANDS.map((c) => c.opcode)).size).toBe(COMMANDS.length);
  });

  it("uses the mthca/mlx4 opcode numbers", () => {
    const op = Object.fromEntries(COMMANDS.map((c) => [c.name, c.opcode]));
    expect(op).toMatchObject({
      QUERY_DEV_CAP: 0x3, QUERY_FW: 0x4, INIT_HCA: 0x7, CLOSE_HCA: 0x8, INIT_PORT: 0x9, CLOSE_PORT: 0xa, SW2HW_MPT: 0xd, QUERY_MPT: 0xe,
      HW2SW_MPT: 0xf, WRITE_MTT: 0x11, MAP_EQ: 0x12, SW2HW_EQ: 0x13, HW2SW_EQ: 0x14, SW2HW_CQ: 0x16, HW2SW_CQ: 0x17, RST2INIT_QP: 0x19,
      INIT2RTR_QP: 0x1a, RTR2RTS_QP: 0x1b, RTS2RTS_QP: 0x1c, "2ERR_QP": 0x1e, "2RST_QP": 0x21, QUERY_QP: 0x22, SYNC_TPT: 0x2f, NOP: 0x31,
    });
    expect(Opcode.TO_RST_QP).toBe(0x21);
  });

  it("uses the mthca status values", () => {
    expect([Status.OK, Status.INTERNAL_ERR, Status.BAD_OP, Status.BAD_PARAM, Status.BAD_SYS_STATE, Status.BAD_RESOURCE, Status.RESOURCE_BUSY, Status.EXCEED_LIM, Status.BAD_RES_STATE, Status.BAD_INDEX, Status.BAD_NVMEM, Status.BAD_QP_STATE, Status.BAD_SEG_PARAM, Status.REG_BOUND, Status.BAD_PKT, Status.BAD_SIZE])
      .toEqual([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0a, 0x0b, 0x10, 0x20, 0x21, 0x30, 0x40]);
    expect(STATUS_NAMES[0x10]).toBe("BAD_QP_STATE");
  });

  it("every command lists OK first, BAD_OP, and BAD_SYS_STATE exactly when some HCA state forbids it", () => {
    for (const c of COMMANDS) {
      expect(c.statuses[0], c.name).toBe(Status.OK);
      expect(c.statuses, c.name).toContain(Status.BAD_OP);
      expect(c.statuses.includes(Status.BAD_SYS_STATE), c.name).toBe(c.legalIn.length < 2);
      expect(new Set(c.statuses).size, c.name).toBe(c.statuses.length);
    }
  });

  it("mailbox layouts: offsets are the sum of the sizes before them; QUERY_* fields at mthca's offsets", () => {
    for (const l of [QueryFwOut, QueryDevCapOut, InitHcaIn, WriteMttHeader, CqContext, EqContext, QpContext] as Layout[]) contiguous(l);
    expect(QueryFwOut.field("log_max_cmd").byteOffset).toBe(0x0f);
    const at = (n: string) => QueryDevCapOut.field(n as never).byteOffset;
    expect([at("log_max_qp_sz"), at("log_rsvd_qp"), at("log_max_qp"), at("log_max_cq_sz"), at("log_max_cq"), at("log_max_mpt"), at("log_max_eq"), at("log_rsvd_mtt"), at("log_max_mrw_sz"), at("log_max_mtt"), at("num_ports"), at("log_pg_sz"), at("log_max_pd")])
      .toEqual([0x11, 0x12, 0x13, 0x19, 0x1b, 0x1d, 0x1f, 0x20, 0x21, 0x23, 0x37, 0x4b, 0x65]);
    expect(MAX_MTT_PER_WRITE).toBe(510);
  });

  it("the QP transitions the table allows are the mthca modify table's (for the states modelled)", () => {
    const t = qpTransitions().map((x) => `${x.from}->${x.to}`).sort();
    const expected = [
      [QpState.RESET, QpState.INIT], [QpState.INIT, QpState.RTR], [QpState.RTR, QpState.RTS], [QpState.RTS, QpState.RTS],
      ...[QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.ERR].flatMap((f) => [[f, QpState.ERR], [f, QpState.RESET]]),
    ].map(([a, b]) => `${a}->${b}`).sort();
    expect(t).toEqual(expected);
  });
});
