import { describe, expect, it } from "vitest";
import { Bth, Ethernet, EXTENSION_HEADER_BYTES, Ipv4, Ipv6, Lrh, Udp } from "../headers/index.ts";
import { theoreticalGoodput } from "./goodput.ts";
import { ETHERNET_OVERHEAD_BYTES, linkDataRate, linkSpeed } from "./speeds.ts";

const ICRC = 4;
const FCS = 4;
const VCRC = 2;
const V4_HEAD = Ethernet.sizeBytes + Ipv4.sizeBytes + Udp.sizeBytes;

describe("theoreticalGoodput", () => {
  it("one 4 KiB RDMA WRITE on 100GbE RoCEv2/IPv4: every header, the ICRC, the FCS, preamble and gap", () => {
    const g = theoreticalGoodput({ messageBytes: 4096, mtu: 4096, speed: "100GbE" });
    const wire = V4_HEAD + Bth.sizeBytes + EXTENSION_HEADER_BYTES.RETH + 4096 + ICRC + FCS + ETHERNET_OVERHEAD_BYTES;
    expect(g.packets).toBe(1);
    expect(g.wireBytes).toBe(wire);
    expect(g.goodputBps).toBeCloseTo((4096 / wire) * 100e9, 0);
    expect(g.efficiency).toBeCloseTo(4096 / wire, 12);
    expect(g.messagesPerSecond).toBeCloseTo(100e9 / 8 / wire, 3);
  });

  it("a 64 KiB WRITE at MTU 1024 on 4X EDR: a RETH on the first packet only, delimiters rounded to 4 lanes", () => {
    const g = theoreticalGoodput({ messageBytes: 65536, mtu: 1024, speed: "4X EDR" });
    const pkt = (ext: number) => Math.ceil((Lrh.sizeBytes + Bth.sizeBytes + ext + 1024 + ICRC + VCRC + 2) / 4) * 4;
    expect(g.packets).toBe(64);
    expect(g.wireBytes).toBe(pkt(EXTENSION_HEADER_BYTES.RETH) + 63 * pkt(0));
    expect(g.goodputBps).toBeCloseTo((65536 * 8 * linkDataRate(linkSpeed("4X EDR"))) / (g.wireBytes * 8), 0);
  });

  it("short messages pay the 64-byte minimum frame; an odd size pays its pad; IPv6 and a GRH cost 20 and 40 bytes more", () => {
    const send0 = theoreticalGoodput({ messageBytes: 0, mtu: 1024, speed: "10GbE", operation: "send" });
    expect(send0.wireBytes).toBe(64 + ETHERNET_OVERHEAD_BYTES);
    expect(send0.goodputBps).toBe(0);
    const odd = theoreticalGoodput({ messageBytes: 1001, mtu: 1024, speed: "10GbE", operation: "send" });
    expect(odd.wireBytes).toBe(V4_HEAD + Bth.sizeBytes + 1004 + ICRC + FCS + ETHERNET_OVERHEAD_BYTES);
    const v6 = theoreticalGoodput({ messageBytes: 1001, mtu: 1024, speed: "10GbE", operation: "send", transport: "rocev2-ipv6" });
    expect(v6.wireBytes - odd.wireBytes).toBe(Ipv6.sizeBytes - Ipv4.sizeBytes);
    const grh = theoreticalGoodput({ messageBytes: 4096, mtu: 4096, speed: "4X HDR", transport: "ib-grh" });
    const local = theoreticalGoodput({ messageBytes: 4096, mtu: 4096, speed: "4X HDR" });
    expect(grh.wireBytes - local.wireBytes).toBe(40);
    const read = theoreticalGoodput({ messageBytes: 3 * 4096, mtu: 4096, speed: "100GbE", operation: "read" });
    const write = theoreticalGoodput({ messageBytes: 3 * 4096, mtu: 4096, speed: "100GbE", operation: "write" });
    expect(read.wireBytes - write.wireBytes).toBe(2 * EXTENSION_HEADER_BYTES.AETH - EXTENSION_HEADER_BYTES.RETH); // AETH on first and last
    const ud = theoreticalGoodput({ messageBytes: 2048, mtu: 2048, speed: "100GbE", operation: "ud-send" });
    expect(ud.wireBytes).toBe(V4_HEAD + Bth.sizeBytes + EXTENSION_HEADER_BYTES.DETH + 2048 + ICRC + FCS + ETHERNET_OVERHEAD_BYTES);
  });

  it("rises with message size toward the MTU's efficiency", () => {
    const e = [64, 256, 1024, 4096, 65536, 1 << 20].map((m) => theoreticalGoodput({ messageBytes: m, mtu: 4096, speed: "100GbE" }).efficiency);
    for (let i = 1; i < e.length; i++) expect(e[i]).toBeGreaterThan(e[i - 1]!);
    expect(e[e.length - 1]).toBeLessThan(1);
  });

  it("rejects impossible questions", () => {
    expect(() => theoreticalGoodput({ messageBytes: 100, mtu: 1500, speed: "100GbE" })).toThrow(/MTU 1500 is not one of 256, 512, 1024, 2048, 4096/);
    expect(() => theoreticalGoodput({ messageBytes: 100, mtu: 1024, speed: "100GbE", transport: "ib" })).toThrow(/ib does not run on an Ethernet link/);
    expect(() => theoreticalGoodput({ messageBytes: 5000, mtu: 4096, speed: "100GbE", operation: "ud-send" })).toThrow(/fits one packet/);
    expect(() => theoreticalGoodput({ messageBytes: -1, mtu: 4096, speed: "100GbE" })).toThrow(/whole bytes/);
  });
});
