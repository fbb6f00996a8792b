/**
 * `hcasim icrc-check` on captures of simulated links: RoCEv2 (padded short frames, with
 * and without the FCS) and native IB (local and global packets in ERF records).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { PcapWriter } from "../core/pcap.ts";
import { type Frame, IbFramer, LinkCapture, RoceFramer, samplePacket } from "../hca/link/index.ts";
import { icrcCheckFile } from "./icrc-check.ts";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = mkdtempSync(join(tmpdir(), "hcasim-icrc-check-"));

const v4 = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 3 });
const v6 = new RoceFramer({ srcMac: "02:00:00:00:00:01", srcGid: "fe80::1", dstGid: "fe80::2", dstMac: "02:00:00:00:00:02", localQpn: 3 });
const local = new IbFramer({ slid: 1, dlid: 2, sl: 0 });
const global = new IbFramer({ slid: 1, dlid: 2, sl: 0, grh: { sgid: "fe80::1", dgid: "fe80::2" } });
const pkt = (op: string, payloadBytes: number, psn: number) => samplePacket({ opcode: op, payloadBytes, psn });

/** frames of both kinds for a framer pair; frame #3 (1-based) corrupted by `flip` */
function frames(a: { frame(p: Uint8Array): Frame }, b: { frame(p: Uint8Array): Frame }, flip: (f: Frame) => Frame): Frame[] {
  const out = [a.frame(pkt("RC_SEND_ONLY", 0, 0)), b.frame(pkt("RC_RDMA_WRITE_ONLY", 500, 1)), a.frame(pkt("RC_SEND_ONLY", 64, 2)), b.frame(pkt("RC_ACKNOWLEDGE", 0, 3))];
  out[2] = flip(out[2]!);
  return out;
}

async function check(file: string, stripFcs = false) {
  const lines: string[] = [];
  const s = await icrcCheckFile(file, { stripFcs, write: (l) => lines.push(l) });
  return { s, lines };
}

function save(name: string, cap: LinkCapture, list: Frame[]): string {
  list.forEach((f, i) => cap.add(i * 1000, f));
  const file = join(dir, name);
  writeFileSync(file, cap.toBytes());
  return file;
}

describe("icrc-check", () => {
  it("RoCEv2 without FCS: a padded 58-byte frame is fine, a payload bit flipped in flight is a bad ICRC", async () => {
    const file = save("roce.pcap", new LinkCapture("rocev2"), frames(v4, v6, (f) => f.withFlips([(f.length - 12) * 8 + 3])));
    const { s, lines } = await check(file);
    expect(s).toEqual({ packets: 4, rocev2: 4, infiniband: 0, ok: 3, bad: 1, other: 0 });
    expect(lines[0]).toMatch(/^1\tok\tRC_SEND_ONLY qp 0x11 psn 0 len 60$/);
    expect(lines[2]).toMatch(/^3\tbad\tRC_SEND_ONLY qp 0x11 psn 2 len \d+: ICRC [0-9a-f]{8}, expected [0-9a-f]{8}$/);
    expect(lines[4]).toBe("4 packets: 4 RoCEv2 (3 ok, 1 bad), 0 other");
  });

  it("RoCEv2 with FCS (--strip-fcs): a flip in the Ethernet header passes the ICRC and fails the FCS", async () => {
    const file = save("roce-fcs.pcap", new LinkCapture("rocev2", { fcs: true }), frames(v4, v6, (f) => f.withFlips([8 * 8])));
    const { s, lines } = await check(file, true);
    expect(s).toMatchObject({ ok: 3, bad: 1 });
    expect(lines[2]).toMatch(/^3\tbad\t.*: FCS [0-9a-f]{8}, expected [0-9a-f]{8}$/);
  });

  it("InfiniBand in ERF records: local and global packets, a flipped bit is a bad VCRC", async () => {
    const file = save("ib.pcap", new LinkCapture("ib"), frames(local, global, (f) => f.withFlips([100])));
    const { s, lines } = await check(file);
    expect(s).toEqual({ packets: 4, rocev2: 0, infiniband: 4, ok: 3, bad: 1, other: 0 });
    expect(lines[1]).toMatch(/^2\tok\tRC_RDMA_WRITE_ONLY qp 0x11 psn 1 len \d+$/);
    expect(lines[2]).toMatch(/^3\tbad\t.*: VCRC [0-9a-f]{4}, expected [0-9a-f]{4}$/);
    expect(lines[4]).toBe("4 packets: 4 InfiniBand (3 ok, 1 bad), 0 other");
  });

  it("the command exits 1 on a bad packet and 2 on a capture of another link type", async () => {
    const ib = save("ib-cli.pcap", new LinkCapture("ib"), frames(local, global, (f) => f.withFlips([200])));
    const r = await execa(process.execPath, [join(ROOT, "bin/hcasim.mjs"), "icrc-check", ib], { cwd: ROOT, reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stdout.trim().split("\n")).toHaveLength(5);
    const other = join(dir, "raw.pcap");
    writeFileSync(other, new PcapWriter(101).toBytes());
    await expect(icrcCheckFile(other, { stripFcs: false, write: () => {} })).rejects.toThrow(`${other}: link type 101 is neither Ethernet (1, RoCEv2) nor ERF (197, InfiniBand)`);
  });
});
