import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildBlock, type BuiltBlock } from "./build.ts";
import { RunFailure, UserError } from "./errors.ts";
import { loadManifest, resolveBlock } from "./manifest.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";
import { RtlProcess } from "./rtl-process.ts";

const block = resolveBlock(loadManifest(new URL("./testdata/passthru/block.yaml", import.meta.url).pathname), { DATA_BYTES: 8 });

/** A stand-in "RTL process": a shell script, to provoke failures without Verilator. */
function fakeBinary(script: string): BuiltBlock {
  const dir = mkdtempSync(join(tmpdir(), "hcasim-fake-"));
  const binary = join(dir, "fake_shim");
  writeFileSync(binary, `#!/bin/sh\n${script}\n`);
  chmodSync(binary, 0o755);
  return { block, binary, dir, key: "fake", cached: true, trace: false, defines: [], seconds: 0 };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("RTL process supervision", () => {
  it("a process that never answers ends in a timeout error and is killed", async () => {
    const t0 = Date.now();
    let pid = 0;
    const err = await RtlProcess.start(fakeBinary("echo starting up >&2; exec sleep 60"), { timeoutMs: 500 }).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailure);
    const msg = (err as Error).message;
    expect(msg).toMatch(/RTL process for block passthru (sent nothing|took no message) for 500 ms \(timeout\); it was killed/);
    expect(msg).toContain("endpoint: ipc://");
    expect(msg).toContain("| starting up");
    pid = Number(/pid (\d+)/.exec(msg)![1]);
    expect(alive(pid)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("a process that exits reports its exit code and the tail of its stderr", async () => {
    const err = await RtlProcess.start(fakeBinary("echo '%Error: something broke' >&2; exit 3"), { timeoutMs: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(RunFailure);
    expect((err as Error).message).toContain("exited with code 3");
    expect((err as Error).message).toContain("| %Error: something broke");
  });

  it("a protocol version mismatch names both versions", async () => {
    const built = await buildBlock(block);
    const err = await RtlProcess.start(built, { harnessVersion: PROTOCOL_VERSION + 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toContain(`protocol version mismatch: harness sent v${PROTOCOL_VERSION + 1}, RTL process passthru (module passthru, DATA_BYTES=8) speaks v${PROTOCOL_VERSION}`);
  });

  it("a manifest mismatch names both interface hashes and the manifest file", async () => {
    const built = await buildBlock(block);
    const other = "ab".repeat(32);
    const err = await RtlProcess.start(built, { harnessHash: other }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    const msg = (err as Error).message;
    expect(msg).toContain("manifest mismatch for block passthru");
    expect(msg).toContain(`interface hash ${other.slice(0, 16)}`);
    expect(msg).toContain(`interface hash ${block.hash.slice(0, 16)}`);
    expect(msg).toContain("testdata/passthru/block.yaml");
  });

  it("a handshake that agrees starts and closes cleanly", async () => {
    const rtl = await RtlProcess.start(await buildBlock(block));
    expect(rtl.buildInfo).toBe("passthru (module passthru, DATA_BYTES=8)");
    const pid = rtl.pid;
    await rtl.close();
    expect(alive(pid)).toBe(false);
  });
});

describe("Verilator build", () => {
  it("a missing Verilator says how to install it", async () => {
    const err = await buildBlock(block, { verilator: "verilator", env: { PATH: "/nonexistent" } }).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect((err as Error).message).toMatch(/Verilator not found .* apt-get install -y verilator/);
  });

  it("builds once and then hits the cache; defines and parameters make new builds", async () => {
    const a = await buildBlock(block);
    const b = await buildBlock(block);
    expect(b.cached).toBe(true);
    expect(b.binary).toBe(a.binary);
    const c = await buildBlock(block, { defines: ["HCASIM_DEFECT_CORRUPT_TAG_5A"] });
    expect(c.key).not.toBe(a.key);
    const d = await buildBlock(resolveBlock(block.manifest, { DATA_BYTES: 64 }));
    expect(d.key).not.toBe(a.key);
  });

  it("an undeclared defect is refused", async () => {
    await expect(buildBlock(block, { defines: ["NOPE"] })).rejects.toThrow('block passthru: unknown defect "NOPE" (declared defects: HCASIM_DEFECT_CORRUPT_TAG_5A)');
  });
});
