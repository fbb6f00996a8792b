import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { generateTptLayouts, TPT_LAYOUTS_SVH } from "./gen-tpt-layouts.ts";

describe("gen-tpt-layouts", () => {
  it("rtl-models/tpt/tpt_layouts.svh is current (regenerate: npx tsx hca/tpt/gen-tpt-layouts.ts)", () => {
    expect(readFileSync(TPT_LAYOUTS_SVH, "utf8")).toBe(generateTptLayouts());
  });

  it("places each field from the layout (MSB index = size - 1 - bit offset)", () => {
    const s = generateTptLayouts();
    expect(s).toContain("localparam int REQ_KEY_HI = 159;"); // byte 4 of 24
    expect(s).toContain("localparam int MPT_START_HI = 191;"); // byte 8 of 32
    expect(s).toContain("localparam logic [7:0] FAULT_TRANSLATION_FAULT = 8'd7;");
  });
});
