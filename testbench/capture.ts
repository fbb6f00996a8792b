/**
 * `--pcap DIR`: one capture file per stream (port and direction) of a run. Ethernet
 * streams are plain pcap (link type 1); InfiniBand streams are pcap link type 197 with
 * each packet in an ERF record of type 21, which Wireshark dissects (NOTES.md).
 * Files are streamed to `<name>.pcap.tmp` and renamed when the run ends, so a crash
 * leaves no half-written capture under the final name.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { StreamTransaction } from "../core/block.ts";
import { erfInfinibandRecord, LINKTYPE_ERF, LINKTYPE_ETHERNET, PcapWriter } from "../core/pcap.ts";
import type { ResolvedBlock } from "../cosim/index.ts";

interface Open {
  fd: number;
  tmp: string;
  path: string;
  writer: PcapWriter;
  ib: boolean;
  packets: number;
}

/** `s_eth_axis[3]` → `s_eth_axis-3.pcap` */
export function captureFileName(stream: string): string {
  return `${stream.replace(/\[(\d+)\]$/, "-$1")}.pcap`;
}

export class CaptureSet {
  private readonly files = new Map<string, Open>();

  constructor(
    readonly dir: string,
    block: ResolvedBlock,
    private readonly psPerCycle: number,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const s of block.streams) {
      if (s.capture === "none") continue;
      const ib = s.capture === "infiniband";
      const path = join(dir, captureFileName(s.name));
      const tmp = `${path}.tmp`;
      const writer = new PcapWriter(ib ? LINKTYPE_ERF : LINKTYPE_ETHERNET, { nanosecond: true });
      const fd = openSync(tmp, "w");
      writeSync(fd, writer.header());
      this.files.set(s.name, { fd, tmp, path, writer, ib, packets: 0 });
    }
  }

  /** record a transaction at `cycle` (inputs: when offered; outputs: their last beat) */
  add(stream: string, t: StreamTransaction, cycle: number): void {
    const f = this.files.get(stream);
    if (!f) return;
    const ps = Math.round(cycle * this.psPerCycle);
    const frame = f.ib ? erfInfinibandRecord(ps, t.data) : t.data;
    writeSync(f.fd, f.writer.record(ps, frame));
    f.packets++;
  }

  /** finish every file; returns the paths with their packet counts */
  close(): { path: string; packets: number }[] {
    const out: { path: string; packets: number }[] = [];
    for (const f of this.files.values()) {
      closeSync(f.fd);
      renameSync(f.tmp, f.path);
      out.push({ path: f.path, packets: f.packets });
    }
    this.files.clear();
    return out;
  }

  /** a failed run: remove the partial files */
  abort(): void {
    for (const f of this.files.values()) {
      closeSync(f.fd);
      rmSync(f.tmp, { force: true });
    }
    this.files.clear();
  }
}
