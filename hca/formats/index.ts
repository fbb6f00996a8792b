/** hca/formats: memory-protection formats (keys, MPT, MTT, TPT config commands). The public face. */
export * from "./keys.ts";
export * from "./mpt.ts";
export * from "./mtt.ts";
export * from "./tpt-cfg.ts";
export * from "./wqe.ts";
