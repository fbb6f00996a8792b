import { describe, expect, it } from "vitest";
import { lintVariants, parseYosysStat, synthesise } from "./lint.ts";
import { loadManifest } from "./manifest.ts";

const fixture = loadManifest(new URL("./testdata/passthru_array/block.yaml", import.meta.url).pathname);

describe("hcasim lint", () => {
  it("lints the defaults, then each allowed value of each parameter", () => {
    expect(lintVariants(fixture)).toEqual([
      { COUNT: 3, DATA_BYTES: 8 },
      { COUNT: 1, DATA_BYTES: 8 },
      { COUNT: 9, DATA_BYTES: 8 },
      { COUNT: 3, DATA_BYTES: 64 },
    ]);
  });

  it("counts LUTs and FFs from the last stat of a Yosys log", () => {
    const log = "Number of cells: 3\n     LUT2 1\n\n=== design hierarchy ===\n   Number of cells:                 12\n     FDRE                            5\n     FDSE                            2\n     LUT3                            3\n     LUT6                            1\n     MUXF7                           1\n";
    expect(parseYosysStat(log)).toEqual({ luts: 4, ffs: 7, cells: 12 });
  });

  it("synthesises a block with Yosys synth_xilinx: one FF per register bit", async () => {
    const c = await synthesise(fixture, { COUNT: 3, DATA_BYTES: 8 });
    // 3 lanes × (64 data + 8 keep + valid + last + 4 user) + the 32-bit frame counter
    expect(c.ffs).toBe(3 * (64 + 8 + 1 + 1 + 4) + 32);
    expect(c.luts).toBeGreaterThan(32);
  });
});
