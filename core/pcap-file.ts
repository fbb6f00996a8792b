/**
 * pcap files on disk: the only Node-specific part of the capture code (core models stay
 * free of Node APIs; this file is for the CLI, testbenches and tools).
 */

import { open, readFile, rename, unlink } from "node:fs/promises";
import { readPcap, type PcapFile, PcapWriter } from "./pcap.ts";

/**
 * Writes a capture atomically: to `path.tmp`, flushed to disk, then renamed over `path`.
 * On any error the temporary file is removed and `path` is left as it was.
 */
export async function writePcapFile(path: string, capture: PcapWriter | Uint8Array): Promise<void> {
  const bytes = capture instanceof PcapWriter ? capture.toBytes() : capture;
  const tmp = `${path}.tmp`;
  try {
    const fh = await open(tmp, "w");
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

/** reads and parses a pcap file; errors name the path */
export async function readPcapFile(path: string): Promise<PcapFile> {
  const buf = await readFile(path);
  return readPcap(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}
