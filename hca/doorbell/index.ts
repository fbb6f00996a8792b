/** doorbell: UAR doorbells, ownership check, coalescing, fair fetch issue (README.md). */
export * from "./formats.ts";
export {
  decodeMmio,
  DOORBELL_DEFAULTS,
  DOORBELL_PORTS,
  DoorbellTwin,
  type DoorbellParams,
  type DoorbellTwinOptions,
} from "./doorbell-twin.ts";
