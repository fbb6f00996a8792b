/**
 * testbench/perftest: perftest-style tests (write_bw, read_bw, send_bw, atomic_bw,
 * write_lat, read_lat, send_lat) between two adapters — transport engine, front end,
 * port — over hca/link links, back to back or through a switch. See README.md.
 */
export { type AdapterTiming, ADAPTER_DEFAULTS, FrontEnd, type PcieTiming, PCIE_DEFAULTS } from "./front-end.ts";
export { bwFigures, latFigures, type BwFigures, type LatFigures } from "./figures.ts";
export { type PerftestResult, type BwRow, type LatRow, formatPerftest, maxGoodputGbps } from "./report.ts";
export { runPerftest, runPerftestCommand, type PerftestOptions, type PerftestCommandOptions } from "./run.ts";
export { isPerftestScenario, loadPerftestScenario, parsePerftestScenario, PERFTEST_TESTS, type PerftestScenario, type PerftestTestName } from "./scenario.ts";
export { PerftestBench, type CompletionError } from "./testbench.ts";
