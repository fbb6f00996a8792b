/** hca/tpt: the translation and protection table (twin and formats; gen-tpt-layouts.ts is a build script, not exported). The public face. */
export * from "./tpt-check.ts";
export * from "./tpt-format.ts";
export * from "./tpt-twin.ts";
