import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{core,hca,rnic,firmware,cosim,testbench,bench,cli}/**/*.test.ts"],
    // RTL builds are cached under build/; the first test to need a block builds it.
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
