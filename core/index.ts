/**
 * The public face of core/: the simulation kernel and utilities every model shares.
 * Other folders import from here only.
 *
 * Not re-exported: `./pcap-file.ts` (reads and writes capture files through Node's fs module). The
 * models must stay free of Node-only APIs, so Node-side code (cosim/, testbench/, cli/)
 * imports it directly: `import { writePcapFile } from "../core/pcap-file.ts"`.
 */

export * from "./block.ts";
export * from "./channel.ts";
export * from "./crc.ts";
export * from "./dma.ts";
export * from "./hex.ts";
export * from "./host-memory.ts";
export * from "./kernel.ts";
export * from "./layout.ts";
export * from "./mmio.ts";
export * from "./packed-transactions.ts";
export * from "./pcap.ts";
export * from "./prng.ts";
export * from "./stats.ts";
export * from "./time.ts";
