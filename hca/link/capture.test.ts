/**
 * Captures of simulated links, dissected by tshark: every header of every packet — Ethernet,
 * IPv4/IPv6, UDP, LRH, GRH, BTH and each extension header the opcode table lists — must be
 * there, and nothing malformed.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/kernel.ts";
import { readPcap } from "../../core/pcap.ts";
import { bthOpcode, type ExtensionHeader } from "../headers/index.ts";
import { LinkCapture } from "./capture.ts";
import { IbFramer } from "./ib-framing.ts";
import { Link } from "./link.ts";
import { RoceFramer } from "./roce-framing.ts";
import { samplePacket } from "./sample-packets.ts";
import { tsharkAvailable, tsharkFields } from "../../core/tshark.ts";

const hasTshark = tsharkAvailable();

/** a tshark field that is present when an extension header was dissected */
const EXT_FIELD: Record<ExtensionHeader, string> = {
  RDETH: "infiniband.rdeth.eecnxt",
  DETH: "infiniband.deth.srcqp",
  RETH: "infiniband.reth.va",
  AtomicETH: "infiniband.atomiceth.swapdt",
  AETH: "infiniband.aeth.syndrome",
  AtomicAckETH: "infiniband.atomicacketh.origremdt",
  ImmDt: "infiniband.immdt",
  IETH: "infiniband.ieth",
};

/**
 * Whether a header must show (true), must not (false), or either: tshark 4.0 also fills
 * the IETH field for some packets with ImmDt (both are 4 bytes at the same place).
 */
const present = (h: ExtensionHeader, headers: readonly ExtensionHeader[]) => (h === "IETH" && headers.includes("ImmDt") ? undefined : headers.includes(h));
const check = (shown: boolean, want: boolean | undefined, what: string) => {
  if (want !== undefined) expect(shown, what).toBe(want);
};

const OPCODES = ["RC_RDMA_WRITE_FIRST", "RC_RDMA_WRITE_MIDDLE", "RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", "RC_RDMA_READ_REQUEST", "RC_RDMA_READ_RESPONSE_FIRST", "RC_ACKNOWLEDGE", "RC_SEND_ONLY", "UD_SEND_ONLY_WITH_IMMEDIATE"];

/** sends every opcode over `link` from each framer, one at a time, and returns what was sent */
function traffic(link: Link, framers: { frame(p: Uint8Array): import("./frame.ts").Frame }[]) {
  const sim = link.sim;
  link.b.attach({ receive() {} });
  const sent: { opcode: number; psn: number; framer: number }[] = [];
  let t = 0;
  OPCODES.forEach((name, k) => {
    framers.forEach((fr, j) => {
      const op = bthOpcode([...Array(256).keys()].find((o) => bthOpcode(o)?.name === name)!)!;
      const pkt = samplePacket({ opcode: name, payloadBytes: op.payload ? 40 + 3 * k : 0, psn: 100 + k, destQp: 0x40 + k });
      sim.schedule(t, () => link.a.send(fr.frame(pkt)));
      sent.push({ opcode: op.opcode, psn: 100 + k, framer: j });
      t += 50_000;
    });
  });
  sim.run();
  return sent;
}

const dir = mkdtempSync(join(tmpdir(), "hcasim-link-"));

describe("link captures", () => {
  it.skipIf(!hasTshark)("RoCEv2 over IPv4 and IPv6 as Ethernet: every header dissected, nothing malformed", () => {
    const sim = new Simulator();
    const link = new Link(sim, { name: "e", speed: "100GbE", propagationPs: 1000 });
    const cap = LinkCapture.of(link);
    const sent = traffic(link, [
      new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 7 }),
      new RoceFramer({ srcMac: "02:00:00:00:00:01", srcGid: "fe80::1", dstGid: "fe80::ff:fe00:2", localQpn: 7, dscp: 26, ecn: 2 }),
    ]);
    const file = join(dir, "rocev2.pcap");
    writeFileSync(file, cap.toBytes());
    expect(readPcap(cap.toBytes()).linkType).toBe(1);
    const exts = Object.values(EXT_FIELD);
    const rows = tsharkFields(file, ["frame.protocols", "udp.dstport", "infiniband.bth.opcode", "infiniband.bth.psn", "ip.dst", "ipv6.dst", "_ws.malformed", ...exts]);
    expect(rows).toHaveLength(sent.length);
    rows.forEach((r, i) => {
      const s = sent[i]!;
      expect(r[0], `frame ${i + 1}`).toMatch(s.framer === 0 ? /^eth:ethertype:ip:udp:infiniband/ : /^eth:ethertype:ipv6:udp:infiniband/);
      expect(r.slice(1, 4)).toEqual(["4791", String(s.opcode), String(s.psn)]);
      expect(s.framer === 0 ? r[4] : r[5]).toBe(s.framer === 0 ? "10.0.0.2" : "fe80::ff:fe00:2");
      expect(r[6], `frame ${i + 1} malformed`).toBe("");
      const want = bthOpcode(s.opcode)!.headers;
      exts.forEach((_, k) => {
        const h = (Object.keys(EXT_FIELD) as ExtensionHeader[])[k]!;
        check(r[7 + k] !== "", present(h, want), `frame ${i + 1} ${bthOpcode(s.opcode)!.name} ${h}`);
      });
    });
  });

  it.skipIf(!hasTshark)("native IB, local and global, as ERF type 21: LRH, GRH, BTH and extension headers dissected", () => {
    const sim = new Simulator();
    const link = new Link(sim, { name: "i", speed: "4X EDR" });
    const cap = LinkCapture.of(link, { at: "sender" });
    const sent = traffic(link, [new IbFramer({ slid: 3, dlid: 4, sl: 2 }), new IbFramer({ slid: 3, dlid: 4, sl: 2, grh: { sgid: "fe80::3", dgid: "fe80::4", hopLimit: 5 } })]);
    const file = join(dir, "ib.pcap");
    writeFileSync(file, cap.toBytes());
    expect(readPcap(cap.toBytes()).linkType).toBe(197);
    const exts = Object.values(EXT_FIELD);
    const rows = tsharkFields(file, ["frame.protocols", "infiniband.lrh.slid", "infiniband.lrh.dlid", "infiniband.grh.dgid", "infiniband.bth.opcode", "infiniband.bth.psn", "_ws.malformed", ...exts]);
    expect(rows).toHaveLength(sent.length);
    rows.forEach((r, i) => {
      const s = sent[i]!;
      expect(r[0], `frame ${i + 1}`).toMatch(/^erf:infiniband/);
      expect(r.slice(1, 3)).toEqual(["3", "4"]);
      expect(r[3]).toBe(s.framer === 1 ? "fe80::4" : "");
      expect(r.slice(4, 6)).toEqual([String(s.opcode), String(s.psn)]);
      expect(r[6]).toBe("");
      const want = bthOpcode(s.opcode)!.headers;
      (Object.keys(EXT_FIELD) as ExtensionHeader[]).forEach((h, k) => check(r[7 + k] !== "", present(h, want), `frame ${i + 1} ${h}`));
    });
  });

  it("streams records for long runs: header + records make the same file", () => {
    const f = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 7 });
    const kept = new LinkCapture("rocev2");
    const parts: Uint8Array[] = [];
    const streamed = new LinkCapture("rocev2", { stream: (r) => parts.push(r) });
    for (let i = 0; i < 3; i++) {
      const fr = f.frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 10 * i, psn: i }));
      kept.add(i * 1000, fr);
      streamed.add(i * 1000, fr);
    }
    expect(streamed.packetCount).toBe(3);
    expect(Buffer.concat([streamed.header(), ...parts])).toEqual(Buffer.from(kept.toBytes()));
  });

  it("keeps the FCS when asked, and refuses frames of the other kind", () => {
    const c = new LinkCapture("rocev2", { fcs: true });
    const f = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 7 }).frame(samplePacket({ opcode: "RC_SEND_ONLY", payloadBytes: 100 }));
    c.add(5, f);
    expect(readPcap(c.toBytes()).packets[0]!.data).toEqual(f.bytes());
    expect(() => c.add(0, new IbFramer({ slid: 1, dlid: 2, sl: 0 }).frame(samplePacket({ opcode: "RC_SEND_ONLY" })))).toThrow(/ib frame in a rocev2 capture/);
  });
});
