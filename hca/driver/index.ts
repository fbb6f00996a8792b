/**
 * hca/driver: the driver and verbs-like API (DESIGN.md §5). Firmware commands go through
 * the HCR (firmware/hcr.ts) to an injected CommandExecutor; WQEs are the layouts of
 * hca/formats/wqe.ts; doorbells are hca/doorbell/formats.ts words written into the
 * context's UAR page of an MmioBar.
 */
export * from "./command.ts";
export * from "./context.ts";
export * from "../formats/cqe.ts";
export * from "./device.ts";
export * from "./errors.ts";
export * from "./index-pool.ts";
