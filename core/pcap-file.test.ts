import { describe, it, expect, beforeEach, afterEach } from "vitest";
import { mkdtemp, mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PcapWriter } from "./pcap.ts";
import { readPcapFile, writePcapFile } from "./pcap-file.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "hcasim-pcap-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("pcap files", () => {
  it("writes and reads back a capture, leaving no temporary file", async () => {
    const w = new PcapWriter();
    w.add(5_000, Uint8Array.from([1, 2, 3]));
    const path = join(dir, "link0.pcap");
    await writePcapFile(path, w);
    expect(await readdir(dir)).toEqual(["link0.pcap"]);
    const f = await readPcapFile(path);
    expect(f.packets.map((p) => [p.timestampNs, [...p.data]])).toEqual([[5, [1, 2, 3]]]);
  });

  it("replaces an existing file whole", async () => {
    const path = join(dir, "x.pcap");
    await writeFile(path, "old contents");
    await writePcapFile(path, new PcapWriter().toBytes());
    expect((await readPcapFile(path)).packets).toEqual([]);
  });

  it("leaves nothing behind when the write fails", async () => {
    const target = join(dir, "is-a-directory");
    await mkdir(target);
    await expect(writePcapFile(target, new PcapWriter())).rejects.toThrow();
    expect(await readdir(dir)).toEqual(["is-a-directory"]);
    await expect(writePcapFile(join(dir, "missing", "x.pcap"), new PcapWriter())).rejects.toThrow(/ENOENT/);
  });

  it("names the file in format errors", async () => {
    const path = join(dir, "bad.pcap");
    await writeFile(path, Uint8Array.from([0x12, 0x34, 0x56, 0x78, 0, 0, 0, 0]));
    await expect(readPcapFile(path)).rejects.toThrow(`${path}: not a pcap file (magic 0x12345678)`);
  });
});
