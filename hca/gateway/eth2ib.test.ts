import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { crc32 } from "../../core/crc.ts";
import { Bth, Deth, Ipoib, Lrh } from "../headers/index.ts";
import {
  buildIbPacket,
  classifyEthFrame,
  E2I_COUNTERS,
  Eth2IbTwin,
  IB_HDR_BYTES,
  ibPacketBytes,
  SlowReason,
  UD_SEND_ONLY,
} from "./eth2ib.ts";
import { BROADCAST_MAC, encodeTableEntry, parseMac, QKEY, tableEntry, type TableEntry } from "./table.ts";

// ---- independent CRCs (no code shared with hca/ib)
function icrcRef(pkt: Uint8Array): number {
  const c = pkt.slice();
  c[0] |= 0xf0; // LRH.VL
  c[12] = 0xff; // BTH FECN, BECN, resv6
  return crc32(c);
}
function vcrcRef(bytes: Uint8Array): number {
  let r = 0xffff; // CRC-16 0x100B, MSB-first register, bytes fed LSB first, result reflected
  for (const b of bytes) {
    for (let i = 0; i < 8; i++) {
      const fb = ((r >> 15) & 1) ^ ((b >> i) & 1);
      r = (r << 1) & 0xffff;
      if (fb) r ^= 0x100b;
    }
  }
  r ^= 0xffff;
  let out = 0;
  for (let i = 0; i < 16; i++) out |= ((r >> i) & 1) << (15 - i);
  return out;
}

const HOST = tableEntry({ index: 4, ib: true, mac: parseMac("02:00:00:00:00:01"), lid: 0x0123, qpn: 0x00abcd, sl: 5, pkey: 0x8001 });
const HOST2 = tableEntry({ index: 6, ib: true, mac: parseMac("02:00:00:00:00:02"), lid: 0x0456, qpn: 0x000102, sl: 0, pkey: 0xffff });
const BCAST = tableEntry({ index: 1, ib: true, group: true, mac: BROADCAST_MAC, lid: 0xc001, qpn: 0xffffff, sl: 2, pkey: 0xffff });
const V6GROUP = tableEntry({ index: 2, ib: true, group: true, mac: parseMac("33:33:00:00:00:01"), lid: 0xc002, qpn: 0xffffff, sl: 3, pkey: 0xffff });
const ETHHOST = tableEntry({ index: 3, mac: parseMac("02:00:00:00:00:99"), qpn: 0x77, port: 1, pkey: 0xffff });
const TABLE = [HOST, HOST2, BCAST, V6GROUP, ETHHOST];

const macBytes = (m: number) => Uint8Array.from({ length: 6 }, (_, i) => Math.floor(m / 2 ** (8 * (5 - i))) % 256);

/** an Ethernet frame of `len` bytes to `dst` with `etherType`, optionally 802.1Q-tagged */
function ethFrame(dst: number, etherType: number, len: number, vlan = false): Uint8Array {
  const f = new Uint8Array(len);
  for (let i = 0; i < len; i++) f[i] = (i * 7 + 3) & 0xff;
  f.set(macBytes(dst).subarray(0, Math.min(6, len)));
  const h = vlan ? [0x81, 0x00, 0x20, 0x05, etherType >> 8, etherType & 0xff] : [etherType >> 8, etherType & 0xff];
  for (let i = 0; i < h.length && 12 + i < len; i++) f[12 + i] = h[i];
  return f;
}

const txn = (data: Uint8Array, startCycle: number, user: Record<string, number> = {}): StreamTransaction => ({ data, user, startCycle, endCycle: startCycle });

function twinWithTable(opts: ConstructorParameters<typeof Eth2IbTwin>[0] = {}, entries: TableEntry[] = TABLE): Eth2IbTwin {
  const t = new Eth2IbTwin(opts);
  entries.forEach((e) => t.offer("s_cfg_axis", txn(encodeTableEntry(e), 0)));
  return t;
}

function run(t: Eth2IbTwin, inputs: [number, StreamTransaction][], until = 100_000) {
  for (const [p, x] of inputs) t.offer(`s_eth_axis[${p}]`, x);
  t.runUntil(until);
  return { ib: t.take("m_ib_axis"), slow: t.take("m_slow_axis"), wires: t.wires() };
}

describe("classifyEthFrame (README steps 1–3)", () => {
  const ip = (len: number, vlan = false) => ethFrame(HOST.mac, 0x0800, len, vlan);
  it("fcs_bad → bad_crc, before any other check", () => {
    expect(classifyEthFrame(ip(5), true, 2048)).toEqual({ kind: "drop", reason: "bad_crc" });
  });
  it("runts: < 14 bytes, or < 18 with an 802.1Q tag", () => {
    expect(classifyEthFrame(ip(13), false, 2048)).toEqual({ kind: "drop", reason: "runt" });
    expect(classifyEthFrame(ip(0), false, 2048)).toEqual({ kind: "drop", reason: "runt" });
    expect(classifyEthFrame(ip(14), false, 2048).kind).toBe("ip");
    expect(classifyEthFrame(ip(17, true), false, 2048)).toEqual({ kind: "drop", reason: "runt" });
    expect(classifyEthFrame(ip(18, true), false, 2048).kind).toBe("ip");
  });
  it("giants: longer than header + MTU − 4 (the IPoIB header counts against the MTU)", () => {
    expect(classifyEthFrame(ip(14 + 2044), false, 2048).kind).toBe("ip");
    expect(classifyEthFrame(ip(14 + 2045), false, 2048)).toEqual({ kind: "drop", reason: "giant" });
    expect(classifyEthFrame(ip(18 + 2044, true), false, 2048).kind).toBe("ip");
    expect(classifyEthFrame(ip(18 + 2045, true), false, 2048)).toEqual({ kind: "drop", reason: "giant" });
    expect(classifyEthFrame(ip(14 + 253), false, 256)).toEqual({ kind: "drop", reason: "giant" });
  });
  it("ARP → slow path reason 0; not IPv4/IPv6/ARP → reason 2; both seen through a VLAN tag", () => {
    expect(classifyEthFrame(ethFrame(BROADCAST_MAC, 0x0806, 42), false, 2048)).toMatchObject({ kind: "slow", reason: SlowReason.arp });
    expect(classifyEthFrame(ethFrame(BROADCAST_MAC, 0x0806, 46, true), false, 2048)).toMatchObject({ kind: "slow", reason: SlowReason.arp });
    expect(classifyEthFrame(ethFrame(HOST.mac, 0x88cc, 60), false, 2048)).toMatchObject({ kind: "slow", reason: SlowReason.notIp });
    // a double tag: the inner TPID is "not IP"
    expect(classifyEthFrame(ethFrame(HOST.mac, 0x8100, 60, true), false, 2048)).toMatchObject({ kind: "slow", reason: SlowReason.notIp });
    expect(classifyEthFrame(ethFrame(HOST.mac, 0x86dd, 80, true), false, 2048)).toEqual({ kind: "ip", hdrBytes: 18, etherType: 0x86dd, dstMac: HOST.mac });
  });
});

describe("buildIbPacket (README step 5)", () => {
  const frame = ethFrame(HOST.mac, 0x0800, 14 + 45); // 45-byte payload: 3 pad bytes
  const pkt = buildIbPacket(frame, 14, 0x0800, HOST, 0x123456, { gwLid: 0x0001, gwQpn: 0x48 });

  it("LRH: VL 0, SL from the entry, LNH 2, DLID, PktLen = LRH … ICRC in words, SLID = GW_LID", () => {
    expect(Lrh.decode(pkt)).toEqual({ vl: 0, lver: 0, sl: 5, resv2: 0, lnh: 2, dlid: 0x0123, resv5: 0, pktLen: (pkt.length - 2) / 4, slid: 1 });
    expect(pkt.length).toBe(ibPacketBytes(45));
    expect(pkt.length).toBe(32 + 45 + 3 + 4 + 2);
  });

  it("BTH: UD SEND only, M 1, PadCnt, P_Key and DestQP from the entry, the PSN", () => {
    expect(Bth.decode(pkt, 8)).toEqual({
      opcode: UD_SEND_ONLY, solicitedEvent: 0, migReq: 1, padCount: 3, tver: 0, pkey: 0x8001, fecn: 0, becn: 0, resv6: 0,
      destQp: 0x00abcd, ackReq: 0, resv7: 0, psn: 0x123456,
    });
  });

  it("DETH (Q_Key, GW_QPN), IPoIB header, the payload, zero pad", () => {
    expect(Deth.decode(pkt, 20)).toEqual({ qkey: QKEY, resv8: 0, srcQp: 0x48 });
    expect(Ipoib.decode(pkt, 28)).toEqual({ type: 0x0800, reserved: 0 });
    expect(pkt.subarray(IB_HDR_BYTES, IB_HDR_BYTES + 45)).toEqual(frame.subarray(14));
    expect(Array.from(pkt.subarray(IB_HDR_BYTES + 45, IB_HDR_BYTES + 48))).toEqual([0, 0, 0]);
  });

  it("ICRC and VCRC match independent implementations, LSB first", () => {
    const n = pkt.length;
    const icrc = (pkt[n - 6] | (pkt[n - 5] << 8) | (pkt[n - 4] << 16) | (pkt[n - 3] << 24)) >>> 0;
    expect(icrc).toBe(icrcRef(pkt.subarray(0, n - 6)));
    expect(pkt[n - 2] | (pkt[n - 1] << 8)).toBe(vcrcRef(pkt.subarray(0, n - 2)));
  });
});

describe("Eth2IbTwin: destinations, slow path and counters", () => {
  it("unicast IPv4 to a known IB host → one UD SEND with the host's LID, QPN, SL, P_Key", () => {
    const f = ethFrame(HOST.mac, 0x0800, 60);
    const { ib, slow, wires } = run(twinWithTable(), [[0, txn(f, 10)]]);
    expect(slow).toEqual([]);
    expect(ib.length).toBe(1);
    expect(ib[0].data).toEqual(buildIbPacket(f, 14, 0x0800, HOST, 0, { gwLid: 1, gwQpn: 0x48 }));
    expect(ib[0].user).toEqual({});
    expect(wires).toMatchObject({ e2i_frames: 1, e2i_slow_path: 0, e2i_drop_unknown: 0 });
  });

  it("VLAN tag removed: the payload after the inner EtherType, IPoIB type from it", () => {
    const f = ethFrame(HOST2.mac, 0x86dd, 90, true);
    const { ib } = run(twinWithTable(), [[0, txn(f, 0)]]);
    expect(ib[0].data).toEqual(buildIbPacket(f, 18, 0x86dd, HOST2, 0, { gwLid: 1, gwQpn: 0x48 }));
    expect(Ipoib.get(ib[0].data, 28, "type")).toBe(0x86dd);
    expect(ib[0].data.length).toBe(ibPacketBytes(90 - 18));
  });

  it("multicast and broadcast: exact group MAC first, else the broadcast group entry", () => {
    const mc4 = ethFrame(parseMac("01:00:5e:00:00:fb"), 0x0800, 60);
    const mc6 = ethFrame(V6GROUP.mac, 0x86dd, 80);
    const bc = ethFrame(BROADCAST_MAC, 0x0800, 60);
    const { ib } = run(twinWithTable(), [[0, txn(mc4, 0)], [0, txn(mc6, 0)], [0, txn(bc, 0)]]);
    expect(ib.map((t) => [Lrh.get(t.data, 0, "dlid"), Bth.get(t.data, 8, "destQp"), Lrh.get(t.data, 0, "sl")])).toEqual([
      [0xc001, 0xffffff, 2],
      [0xc002, 0xffffff, 3],
      [0xc001, 0xffffff, 2],
    ]);
  });

  it("multicast with no broadcast group, unknown unicast, Ethernet-host MAC → slow path, reason 1 (unknown)", () => {
    const t = twinWithTable({}, [HOST, ETHHOST]);
    const frames = [ethFrame(parseMac("01:00:5e:00:00:01"), 0x0800, 60), ethFrame(parseMac("02:aa:00:00:00:01"), 0x0800, 60), ethFrame(ETHHOST.mac, 0x0800, 60)];
    const { ib, slow, wires } = run(t, frames.map((f) => [2, txn(f, 0)] as [number, StreamTransaction]));
    expect(ib).toEqual([]);
    expect(slow.map((s) => s.user)).toEqual(Array(3).fill({ src_port: 2, reason: SlowReason.unknown }));
    expect(slow.map((s) => s.data)).toEqual(frames);
    expect(wires).toMatchObject({ e2i_slow_path: 3, e2i_drop_unknown: 0, e2i_frames: 0 });
  });

  it("ARP (also tagged) and other EtherTypes go to the slow path unchanged, tag kept", () => {
    const arp = ethFrame(BROADCAST_MAC, 0x0806, 64, true);
    const lldp = ethFrame(HOST.mac, 0x88cc, 60);
    const { slow } = run(twinWithTable(), [[3, txn(arp, 0)], [4, txn(lldp, 0)]]);
    expect(slow.map((s) => [s.user.src_port, s.user.reason])).toEqual([[3, SlowReason.arp], [4, SlowReason.notIp]]);
    expect(slow[0].data).toEqual(arp);
  });

  it("every drop path is counted, and the PSN counts IB packets only", () => {
    const t = twinWithTable({ ethPorts: 2 });
    const ok = ethFrame(HOST.mac, 0x0800, 60);
    const { ib, wires } = run(t, [
      [0, txn(ok, 0, { fcs_bad: 1 })],
      [0, txn(ok.subarray(0, 13), 0)],
      [0, txn(ethFrame(HOST.mac, 0x0800, 2100), 0)],
      [0, txn(ethFrame(HOST.mac, 0x0806, 60), 0)],
      [0, txn(ok, 0)],
      [1, txn(ok, 400)],
    ]);
    expect(ib.map((x) => Bth.get(x.data, 8, "psn"))).toEqual([0, 1]);
    expect(wires).toEqual({
      e2i_drop_bad_crc: 1, e2i_drop_runt: 1, e2i_drop_giant: 1, e2i_drop_queue_full: 0, e2i_drop_unknown: 0, e2i_slow_path: 1, e2i_frames: 2,
    });
    expect(Object.keys(wires)).toEqual([...E2I_COUNTERS]);
  });
});

describe("Eth2IbTwin: timing (the RTL's pipeline)", () => {
  it("an isolated frame: output from last input beat + 4, one beat per cycle", () => {
    // 60 bytes at 8 bytes/beat: beats at 10..17, last at 17; 32 + 46 + 2 + 6 = 86 bytes = 11 beats
    const { ib } = run(twinWithTable(), [[0, txn(ethFrame(HOST.mac, 0x0800, 60), 10)]]);
    expect([ib[0].startCycle, ib[0].endCycle]).toEqual([21, 31]);
    const w64 = run(twinWithTable({ dataBytes: 64 }), [[0, txn(ethFrame(HOST.mac, 0x0800, 60), 10)]]).ib;
    expect([w64[0].startCycle, w64[0].endCycle]).toEqual([14, 15]);
  });

  it("frames waiting on several ports leave back to back, round robin", () => {
    const inputs: [number, StreamTransaction][] = [];
    for (let p = 0; p < 6; p++) inputs.push([p, txn(ethFrame(HOST.mac, 0x0800, 60 + p * 4), 0)]);
    const { ib } = run(twinWithTable(), inputs);
    for (let i = 1; i < ib.length; i++) expect(ib[i].startCycle).toBe(ib[i - 1].endCycle + 1);
    expect(ib.map((x) => x.data.length)).toEqual([86, 90, 94, 98, 102, 106]);
  });

  it("a table write is seen by lookups from the next cycle on", () => {
    // frame ends at cycle 7 (8 beats from 0); the arbiter looks it up at edge 8
    const moved = { ...HOST, lid: 0x0999 };
    for (const [cfgCycle, lid] of [[7, 0x0999], [8, 0x0123]] as const) {
      const t = twinWithTable();
      t.offer("s_cfg_axis", txn(encodeTableEntry(moved), cfgCycle));
      const { ib } = run(t, [[0, txn(ethFrame(HOST.mac, 0x0800, 64), 0)]]);
      expect(Lrh.get(ib[0].data, 0, "dlid")).toBe(lid);
    }
  });

  it("queue_full: a frame that does not fit in the port FIFO is dropped whole", () => {
    const t = twinWithTable({ ethPorts: 1, fifoBeats: 32 });
    const big = ethFrame(HOST.mac, 0x0800, 200); // 25 beats in, 31 beats out
    const { ib, wires } = run(t, [[0, txn(big, 0)], [0, txn(big, 0)], [0, txn(big, 0)]]);
    // the second frame arrives while the first is still mostly unread
    expect(wires.e2i_drop_queue_full).toBeGreaterThan(0);
    expect(ib.length + wires.e2i_drop_queue_full).toBe(3);
    expect(ib.every((x) => x.data.length === ibPacketBytes(186))).toBe(true);
  });

  it("counters read as of the cycles simulated: a drop counts once its last beat has passed", () => {
    const t = twinWithTable();
    t.offer("s_eth_axis[0]", txn(ethFrame(HOST.mac, 0x0800, 60), 0, { fcs_bad: 1 })); // last beat at 7
    t.runUntil(7);
    expect(t.wires().e2i_drop_bad_crc).toBe(0);
    t.runUntil(8);
    expect(t.wires().e2i_drop_bad_crc).toBe(1);
  });

  it("names its ports in errors", () => {
    const t = new Eth2IbTwin({ ethPorts: 2 });
    expect(() => t.offer("s_eth_axis[2]", txn(new Uint8Array(60), 0))).toThrow(/s_eth_axis\[0\] … s_eth_axis\[1\]/);
    expect(() => t.take("m_eth_axis[0]")).toThrow(/m_ib_axis, m_slow_axis/);
    expect(() => new Eth2IbTwin({ dataBytes: 16 })).toThrow(/8 or 64/);
  });

  // speed is measured by `make bench` (model.gateway.frames_per_s), not here
  it("forwards 300,000 64-byte frames at 6 × 1 GbE line rate", () => {
    const t = twinWithTable();
    const f = ethFrame(HOST.mac, 0x0800, 60);
    const n = 300_000;
    for (let i = 0; i < n; i++) {
      t.offer(`s_eth_axis[${i % 6}]`, txn(f, Math.floor(i / 6) * 105));
      if (i % 600 === 599) {
        t.runUntil(Math.floor(i / 6) * 105);
        t.take("m_ib_axis");
      }
    }
    t.runUntil(Math.ceil(n / 6) * 105 + 1000);
    const out = t.take("m_ib_axis").length;
    expect(t.wires().e2i_frames).toBe(n);
    expect(out).toBeGreaterThan(0);
  });
});
