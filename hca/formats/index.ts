/** hca/formats: memory-protection formats (keys, MPT, MTT, TPT config commands), WQEs and CQEs. The public face. */
export * from "./cqe.ts";
export * from "./keys.ts";
export * from "./mpt.ts";
export * from "./mtt.ts";
export * from "./tpt-cfg.ts";
export * from "./wqe.ts";
