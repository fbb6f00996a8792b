/** cosim: the co-simulation harness. The public face; other folders import only this. */
export * from "./build.ts";
export * from "./codec.ts";
export * from "./errors.ts";
export * from "./lockstep.ts";
export * from "./manifest.ts";
export * from "./protocol.ts";
export { outputReady } from "./ready-pattern.ts";
export * from "./rtl-process.ts";
export * from "./rtl-server.ts";
export * from "./rtl-session.ts";
export * from "./scoreboard.ts";
export * from "./yaml-source.ts";
