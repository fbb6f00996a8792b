/**
 * The public face of firmware/: the command table, the HCR, the firmware and the device
 * bus it programs. Other folders import from here only.
 *
 * Not re-exported: `./thread.ts` (startFirmwareWorker: runs the firmware in a worker
 * thread through comlink) and `./worker.ts`, which need Node's worker_threads. The models
 * stay free of Node-only APIs, so Node-side code imports `../firmware/thread.ts` directly.
 */
export * from "./commands.ts";
export * from "./device-bus.ts";
export * from "./firmware.ts";
export * from "./hcr.ts";
