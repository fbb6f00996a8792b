import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CtrlSeg, WqeOpcode } from "../formats/wqe.ts";
import { WorkRequest } from "./formats.ts";
import { generateWqeFetchLayouts, WQE_FETCH_LAYOUTS_SVH } from "./gen-wqe-fetch-layouts.ts";

describe("gen-wqe-fetch-layouts", () => {
  it("rtl-models/wqe_fetch/wqe_fetch_layouts.svh is current (regenerate: npx tsx hca/wqe-fetch/gen-wqe-fetch-layouts.ts)", () => {
    expect(readFileSync(WQE_FETCH_LAYOUTS_SVH, "utf8")).toBe(generateWqeFetchLayouts());
  });

  it("places each field from the layout (MSB index = size - 1 - bit offset)", () => {
    const s = generateWqeFetchLayouts();
    expect(s).toContain("localparam int CTRL_OPCODE_HI = 100;"); // bits 27..31 of 128
    expect(s).toContain("localparam int CPL_DATA_HI = 1023;"); // after the 8-byte header of 136
    expect(s).toContain("localparam int WR_PAYLOAD_W = 1024;");
    expect(s).not.toMatch(/RESERVED/);
    for (const [l, p] of [[CtrlSeg, "CTRL"], [WorkRequest, "WR"]] as const) {
      for (const f of l.fields) {
        if (f.name.startsWith("reserved")) continue;
        const n = `${p}_${f.name.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase()}`;
        expect(s, n).toContain(`localparam int ${n}_HI = ${l.sizeBits - 1 - f.bitOffset};`);
      }
    }
  });

  it("writes the opcode table: every opcode with its raddr segment and atomic units, others unknown", () => {
    const s = generateWqeFetchLayouts();
    expect(s).toContain(`localparam logic [4:0] OPCODE_ATOMIC_FA = 5'h${WqeOpcode.ATOMIC_FA.toString(16).padStart(2, "0")};`);
    expect(s).toContain("localparam logic [4:0] OPCODE_MASKED_ATOMIC_CS = 5'h14;");
    expect(s).toContain("function automatic [3:0] wqe_opcode_info(input logic [4:0] opcode);");
    expect(s).toContain("OPCODE_MASKED_ATOMIC_FA: wqe_opcode_info = {1'b1, 1'b1, 2'd2};");
    expect(s).toContain("OPCODE_ATOMIC_CS: wqe_opcode_info = {1'b1, 1'b1, 2'd1};");
    expect(s).toContain("OPCODE_RDMA_READ: wqe_opcode_info = {1'b1, 1'b1, 2'd0};");
    expect(s).toContain("OPCODE_SEND_IMM: wqe_opcode_info = {1'b1, 1'b0, 2'd0};");
    expect(s).toContain("default: wqe_opcode_info = 4'd0;");
    // the masks' place in the masked atomic segment: its second 16-byte unit
    expect(s).toContain("localparam int MATOMIC_SWAP_MASK_HI = 127;");
    expect(s).toContain("localparam logic [3:0] REASON_STALE_OWNER = 4'd1;");
  });
});
