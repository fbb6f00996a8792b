/**
 * Wireshark's dissectors as a test oracle: tshark reads a capture and prints the fields
 * asked for, one row per packet. Node-only, like pcap-file.ts (not part of core/index.ts);
 * for tests and tools.
 */
import { execFileSync } from "node:child_process";

let available: boolean | undefined;

/**
 * Whether tshark runs on this machine; asked once per process. Tests that need it skip
 * without it on a developer's machine, but under CI (`CI` set) a missing tshark throws:
 * `make setup` installs it, so its absence is a broken setup, not a reason to pass.
 */
export function tsharkAvailable(): boolean {
  if (available === undefined) {
    try {
      execFileSync("tshark", ["--version"], { stdio: "ignore" });
      available = true;
    } catch {
      available = false;
    }
  }
  if (!available && process.env.CI) throw new Error("tshark is not installed, yet CI is set: `make setup` should have installed it (apt package tshark)");
  return available;
}

export interface TsharkOptions {
  /** heuristic dissectors to turn off (e.g. "eth_over_ib", which reads payload bytes as an EtherType) */
  readonly disableHeuristics?: readonly string[];
  /** packets to read at most */
  readonly count?: number;
}

/** `fields` of every packet of `file` (first occurrence of each), one row per packet */
export function tsharkFields(file: string, fields: readonly string[], opts: TsharkOptions = {}): string[][] {
  const args = ["-r", file];
  for (const h of opts.disableHeuristics ?? []) args.push("--disable-heuristic", h);
  if (opts.count !== undefined) args.push("-c", String(opts.count));
  args.push("-T", "fields", "-E", "occurrence=f", ...fields.flatMap((f) => ["-e", f]));
  const out = execFileSync("tshark", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  // only the final newlines go: a last field that is empty is still a (tab-separated) field
  return out.replace(/\n+$/, "").split("\n").map((l) => l.split("\t"));
}
