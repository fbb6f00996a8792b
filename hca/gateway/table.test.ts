import { describe, expect, it } from "vitest";
import {
  BROADCAST_MAC,
  decodeTableEntry,
  encodeTableEntry,
  formatMac,
  ForwardingTable,
  isMulticastMac,
  parseMac,
  QKEY,
  tableEntry,
  TableEntryLayout,
} from "./table.ts";

describe("gateway table entry layout", () => {
  it("puts every field at the byte the README gives", () => {
    const at = (n: string) => TableEntryLayout.field(n as never).byteOffset;
    expect([at("index"), at("valid"), at("mac"), at("lid"), at("qpn"), at("sl"), at("port"), at("pkey")]).toEqual([0, 1, 2, 8, 10, 13, 13, 14]);
    expect(TableEntryLayout.field("valid").bitOffset).toBe(15); // bit 0 of byte 1
    expect(TableEntryLayout.field("ib").bitOffset).toBe(14);
    expect(TableEntryLayout.field("group").bitOffset).toBe(13);
    expect(TableEntryLayout.sizeBytes).toBe(16);
    expect(QKEY).toBe(0xb1b);
  });

  it("encodes and decodes an entry byte for byte", () => {
    const e = tableEntry({ index: 5, ib: true, mac: parseMac("02:11:22:33:44:55"), lid: 0x1234, qpn: 0xabcdef, sl: 3, port: 0, pkey: 0xffff });
    const b = encodeTableEntry(e);
    expect(Buffer.from(b).toString("hex")).toBe("0503021122334455" + "1234abcdef30ffff");
    expect(decodeTableEntry(b)).toEqual(e);
    const eth = tableEntry({ index: 255, mac: 1, qpn: 0x10, port: 5, pkey: 0x8001 });
    expect(decodeTableEntry(encodeTableEntry(eth))).toEqual(eth);
  });

  it("MAC helpers", () => {
    expect(parseMac("ff:ff:ff:ff:ff:ff")).toBe(BROADCAST_MAC);
    expect(formatMac(parseMac("01-00-5e-00-00-fb"))).toBe("01:00:5e:00:00:fb");
    expect(isMulticastMac(parseMac("01:00:5e:00:00:01"))).toBe(true);
    expect(isMulticastMac(parseMac("02:00:5e:00:00:01"))).toBe(false);
    expect(() => parseMac("nope")).toThrow(/not a MAC/);
  });
});

describe("ForwardingTable", () => {
  const host = tableEntry({ index: 3, ib: true, mac: 0x0200_0000_0001, lid: 7, qpn: 0x100, sl: 1, pkey: 0xffff });
  const bcast = tableEntry({ index: 1, ib: true, group: true, mac: BROADCAST_MAC, lid: 0xc001, qpn: 0xffffff, pkey: 0xffff });
  const eth = tableEntry({ index: 2, mac: 0x0200_0000_0099, qpn: 0x200, port: 4, pkey: 0x7fff });

  it("looks up IB hosts by MAC, the broadcast group, Ethernet hosts by qpn, IB hosts by (lid, qpn)", () => {
    const t = new ForwardingTable(16);
    for (const e of [host, bcast, eth]) t.write(e);
    expect(t.ibByMac(host.mac)).toEqual(host);
    expect(t.ibByMac(eth.mac)).toBeUndefined(); // an Ethernet host is not an IB destination
    expect(t.broadcastGroup()).toEqual(bcast);
    expect(t.ibByMac(BROADCAST_MAC)).toEqual(bcast);
    expect(t.ethByQpn(0x200)).toEqual(eth);
    expect(t.ethByQpn(0x100)).toBeUndefined();
    expect(t.ibByLidQpn(7, 0x100)).toEqual(host);
    expect(t.ibByLidQpn(7, 0x101)).toBeUndefined();
  });

  it("takes raw s_cfg_axis beats, replaces by index, ignores invalid entries and out-of-range indexes", () => {
    const t = new ForwardingTable(4);
    expect(t.write(encodeTableEntry(host))).toBe(true);
    expect(t.ibByMac(host.mac)?.lid).toBe(7);
    t.write({ ...host, valid: false });
    expect(t.ibByMac(host.mac)).toBeUndefined();
    expect(t.write(tableEntry({ index: 4, ib: true, mac: 5 }))).toBe(false);
    expect(t.ibByMac(5)).toBeUndefined();
  });

  it("the lowest index wins among equal matches", () => {
    const t = new ForwardingTable(16);
    t.write({ ...host, index: 9, lid: 9 });
    t.write({ ...host, index: 4, lid: 4 });
    expect(t.ibByMac(host.mac)?.lid).toBe(4);
    t.write({ ...host, index: 4, valid: false });
    expect(t.ibByMac(host.mac)?.lid).toBe(9);
  });
});
