/**
 * A co-simulation spread over hosts: the RTL served on tcp:// by `hcasim rtl-server`,
 * the harness connecting to it (here both on loopback).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { describe, expect, it } from "vitest";
import { RunFailure, UserError } from "../cosim/index.ts";
import { loadScenario } from "./scenario.ts";
import { runScenario } from "./runner.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function icrcScenario(endpoint: string, dataBytes: number, timeoutMs = 30_000) {
  const sc = loadScenario(join(ROOT, "testbench/scenarios/icrc.yaml"));
  sc.block.endpoint = endpoint;
  sc.block.params.DATA_BYTES = dataBytes;
  sc.cosim.timeoutMs = timeoutMs;
  if (sc.traffic.source === "roce_frames") sc.traffic.count = 2000;
  return sc;
}

/** Start a server; the harness's connect waits for it to listen (ZeroMQ reconnects). */
function server(args: string[]): ResultPromise {
  return execa(process.execPath, [join(ROOT, "bin/hcasim.mjs"), "rtl-server", "icrc", ...args], { cwd: ROOT, reject: false, all: true });
}

const port = () => 20_000 + Math.floor(Math.random() * 30_000);

describe("hcasim rtl-server", () => {
  it("serves a lockstep run over tcp:// that passes like a local one, then the next session", async () => {
    const endpoint = `tcp://127.0.0.1:${port()}`;
    const srv = server(["--listen", endpoint, "--param", "DATA_BYTES=8"]);
    try {
      for (const seed of [1, 2]) {
        const sc = icrcScenario(endpoint, 8);
        sc.seed = seed;
        const r = await runScenario(sc);
        expect(r.verdict).toBe("PASS");
        expect(r.block.endpoint).toBe(endpoint);
        expect(r.scoreboard!.streams[0]!.transactions).toBe(2000);
        expect(r.scoreboard!.timing).toBe("pass");
      }
    } finally {
      srv.kill("SIGTERM");
      await srv;
    }
  });

  it("a server built with other parameters is refused, naming both interface hashes", async () => {
    const endpoint = `tcp://127.0.0.1:${port()}`;
    const srv = server(["--listen", endpoint, "--param", "DATA_BYTES=8", "--once"]);
    try {
      const err = await runScenario(icrcScenario(endpoint, 16)).catch((e) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as Error).message).toMatch(/manifest mismatch for block icrc: the harness loaded .*block\.yaml \(interface hash [0-9a-f]{16}…\), the RTL process at tcp:\/\/127\.0\.0\.1:\d+ was generated from interface hash [0-9a-f]{16}… \(icrc \(module icrc, DATA_BYTES=8\)\)/);
    } finally {
      srv.kill("SIGTERM");
      await srv;
    }
  });

  it("no server at the endpoint: a timeout naming the endpoint, no hang", async () => {
    const endpoint = `tcp://127.0.0.1:${port()}`;
    const t0 = Date.now();
    const err = await runScenario(icrcScenario(endpoint, 8, 1000)).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect((err as Error).message).toContain("remote RTL server for block icrc");
    expect((err as Error).message).toContain(`endpoint: ${endpoint}`);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
