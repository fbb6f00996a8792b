import { describe, expect, it } from "vitest";
import type { Layout } from "../../core/layout.ts";
import {
  Bth,
  BTH_OPCODES,
  bthOpcode,
  Ethernet,
  EthernetVlan,
  EXTENSION_HEADER_BYTES,
  Ipv4,
  ipv4HeaderChecksum,
  Ipv6,
  ROCEV2_IPV4,
  ROCEV2_IPV6,
  Udp,
} from "./index.ts";

const hex = (s: string) => Uint8Array.from(s.replace(/\s+/g, "").match(/../g)!.map((b) => parseInt(b, 16)));

describe("header layouts", () => {
  it("have the sizes of their specs", () => {
    const sizes: [Layout, number][] = [[Ethernet, 14], [EthernetVlan, 18], [Ipv4, 20], [Ipv6, 40], [Udp, 8], [Bth, 12]];
    for (const [layout, size] of sizes) expect(layout.sizeBytes, layout.name).toBe(size);
  });

  it("place each field at the sum of the sizes before it", () => {
    for (const layout of [Ethernet, EthernetVlan, Ipv4, Ipv6, Udp, Bth] as Layout[]) {
      let bit = 0;
      for (const f of layout.fields) {
        expect(f.bitOffset, `${layout.name}.${f.name}`).toBe(bit);
        bit += f.bits;
      }
      expect(bit).toBe(layout.sizeBits);
    }
  });

  it("put the fields the ICRC masks where the specs draw them", () => {
    expect(Ipv4.field("ttl").byteOffset).toBe(8);
    expect(Ipv4.field("headerChecksum").byteOffset).toBe(10);
    expect(Ipv6.field("hopLimit").byteOffset).toBe(7);
    expect(Udp.field("checksum").byteOffset).toBe(6);
    // BTH byte 4 (resv8a in IBTA 1.2) holds FECN, BECN and resv6
    expect([Bth.field("fecn").bitOffset, Bth.field("becn").bitOffset, Bth.field("resv6").bitOffset]).toEqual([32, 33, 34]);
    expect(Bth.field("destQp").byteOffset).toBe(5);
  });

  it("stack RoCEv2 headers at the offsets of untagged frames", () => {
    expect(ROCEV2_IPV4).toEqual({ ipVersion: 4, ip: 14, udp: 34, bth: 42, afterBth: 54 });
    expect(ROCEV2_IPV6).toEqual({ ipVersion: 6, ip: 14, udp: 54, bth: 62, afterBth: 74 });
  });
});

describe("ipv4HeaderChecksum (RFC 1071)", () => {
  it("computes the checksum of a known header, ignoring the checksum field", () => {
    const h = hex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
    expect(ipv4HeaderChecksum(h, 0)).toBe(0xb861);
    h[10] = 0x12;
    expect(ipv4HeaderChecksum(h, 0)).toBe(0xb861);
  });

  it("verifies: a header with its checksum sums to 0xFFFF", () => {
    const h = hex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7");
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += (h[i] << 8) | h[i + 1];
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    expect(sum).toBe(0xffff);
  });
});

describe("BTH opcode table", () => {
  it("has unique opcodes and names", () => {
    expect(new Set(BTH_OPCODES.map((o) => o.opcode)).size).toBe(BTH_OPCODES.length);
    expect(new Set(BTH_OPCODES.map((o) => o.name)).size).toBe(BTH_OPCODES.length);
  });

  it("knows the wire values of IBTA Vol 1 §9.2.1", () => {
    const known: [number, string][] = [
      [0x00, "RC_SEND_FIRST"],
      [0x04, "RC_SEND_ONLY"],
      [0x0a, "RC_RDMA_WRITE_ONLY"],
      [0x0c, "RC_RDMA_READ_REQUEST"],
      [0x10, "RC_RDMA_READ_RESPONSE_ONLY"],
      [0x11, "RC_ACKNOWLEDGE"],
      [0x14, "RC_FETCH_ADD"],
      [0x17, "RC_SEND_ONLY_WITH_INVALIDATE"],
      [0x24, "UC_SEND_ONLY"],
      [0x2b, "UC_RDMA_WRITE_ONLY_WITH_IMMEDIATE"],
      [0x64, "UD_SEND_ONLY"],
      [0x65, "UD_SEND_ONLY_WITH_IMMEDIATE"],
    ];
    for (const [op, name] of known) expect(bthOpcode(op)?.name, `0x${op.toString(16)}`).toBe(name);
    expect(bthOpcode(0x15)).toBeUndefined(); // reserved
    expect(bthOpcode(0x2c)).toBeUndefined(); // UC has no RDMA read
    expect(bthOpcode(0x60)).toBeUndefined(); // UD has only SEND_ONLY(_WITH_IMMEDIATE)
  });

  it("sums extension header sizes from the table", () => {
    for (const o of BTH_OPCODES) {
      expect(o.headerBytes, o.name).toBe(o.headers.reduce((s, h) => s + EXTENSION_HEADER_BYTES[h], 0));
    }
    expect(bthOpcode(0x65)!.headers).toEqual(["DETH", "ImmDt"]);
    expect(bthOpcode(0x65)!.headerBytes).toBe(12);
    expect(bthOpcode(0x0b)!.headerBytes).toBe(20); // RETH + ImmDt
    expect(bthOpcode(0x12)!.headerBytes).toBe(12); // AETH + AtomicAckETH
    expect(bthOpcode(0x13)!.headerBytes).toBe(28); // AtomicETH
  });

  it("marks which opcodes carry a payload", () => {
    expect(bthOpcode(0x0c)!.payload).toBe(false);
    expect(bthOpcode(0x11)!.payload).toBe(false);
    expect(bthOpcode(0x0e)!.payload).toBe(true);
  });
});
