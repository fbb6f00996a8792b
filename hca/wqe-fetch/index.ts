/** wqe_fetch: fetch requests → DMA reads of WQEs → owner check, parse → work requests (README.md). */
export * from "./formats.ts";
export { parseWqe, WQE_FETCH_DEFAULTS, WqeFetchTwin, type WqeFetchParams, type WrHeaderFields } from "./wqe-fetch-twin.ts";
