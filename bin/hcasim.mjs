#!/usr/bin/env -S node --max-semi-space-size=128
// Entry point: registers tsx so the TypeScript sources run as they are, then starts the CLI.
// (The young-generation size in the first line: see HCASIM in the Makefile.)
import { register } from "tsx/esm/api";

register();
await import("../cli/hcasim.ts");
