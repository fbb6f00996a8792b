/**
 * The public face of firmware/: the command table, the HCR, the firmware and the device
 * bus it programs. Other folders import from here only.
 *
 * Not re-exported: `./thread.ts` (startFirmwareWorker: runs the firmware in a worker
 * thread through comlink), `./worker.ts`, which need Node's worker_threads, and
 * `./rtl-device-bus.ts` (RtlDeviceBus: the tables in the tpt and doorbell RTL, over
 * ZeroMQ). The models stay free of Node-only APIs, so Node-side code imports those files
 * directly. `./device-config.ts` (DeviceBus calls as configuration-port transactions) is
 * plain, but only the RTL bus and the testbench use it, so it is imported directly too.
 */
export * from "./commands.ts";
export * from "./device-bus.ts";
export * from "./firmware.ts";
export * from "./hcr.ts";
