import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { crc32 } from "../../core/crc.ts";
import { Prng } from "../../core/prng.ts";
import { Bth } from "../headers/bth.ts";
import { Deth } from "../headers/deth.ts";
import { Ipoib } from "../headers/ipoib.ts";
import { Lrh } from "../headers/lrh.ts";
import { appendIbCrcs } from "../ib/index.ts";
import { ib2ethFunction, Ib2EthTwin, type Ib2EthTwinOptions, IB_OFF } from "./ib2eth.ts";
import { encodeTableEntry, ForwardingTable, QKEY, tableEntry, type TableEntry } from "./table.ts";

const GW_LID = 0x0001;
const ETH_MAC = (i: number) => 0x02_00_00_00_e0_00 + i;
const IB_MAC = 0x02_00_00_00_1b_05;

/** Ethernet hosts 0..5 on ports 0..5 (proxy QPN 0x100 + i), one IB host (LID 5, QPN 0x55), the broadcast group */
const ENTRIES: TableEntry[] = [
  ...Array.from({ length: 6 }, (_, i) => tableEntry({ index: i, mac: ETH_MAC(i), qpn: 0x100 + i, port: i, pkey: 0xffff })),
  tableEntry({ index: 10, ib: true, mac: IB_MAC, lid: 5, qpn: 0x55, sl: 0, pkey: 0xffff }),
  tableEntry({ index: 11, ib: true, group: true, mac: 0xffff_ffff_ffff, lid: 0xc001, qpn: 0xffffff, pkey: 0x7fff }),
  // an Ethernet host on a port the 6-port gateway does not have
  tableEntry({ index: 12, mac: ETH_MAC(9), qpn: 0x109, port: 9, pkey: 0xffff }),
];

interface PacketSpec {
  payload?: Uint8Array;
  destQp?: number;
  slid?: number;
  srcQp?: number;
  dlid?: number;
  pkey?: number;
  qkey?: number;
  opcode?: number;
  lnh?: number;
  etherType?: number;
  /** add to the LRH PktLen (a lying length) */
  pktLenDelta?: number;
}

/** An IB UD SEND carrying `payload` as IPoIB, with correct ICRC and VCRC. */
function ibPacket(s: PacketSpec = {}): Uint8Array {
  const payload = s.payload ?? new Uint8Array(46).map((_, i) => i);
  const pad = -payload.length & 3;
  const body = new Uint8Array(IB_OFF.payload + payload.length + pad);
  const pktLen = ((body.length + 4) >>> 2) + (s.pktLenDelta ?? 0);
  Lrh.encode({ vl: 0, sl: 0, lnh: s.lnh ?? 2, dlid: s.dlid ?? GW_LID, pktLen, slid: s.slid ?? 5 }, body, IB_OFF.lrh);
  Bth.encode({ opcode: s.opcode ?? 0x64, migReq: 1, padCount: pad, pkey: s.pkey ?? 0xffff, destQp: s.destQp ?? 0x101, psn: 7 }, body, IB_OFF.bth);
  Deth.encode({ qkey: s.qkey ?? QKEY, srcQp: s.srcQp ?? 0x55 }, body, IB_OFF.deth);
  Ipoib.encode({ type: s.etherType ?? 0x0800 }, body, IB_OFF.ipoib);
  body.set(payload, IB_OFF.payload);
  return appendIbCrcs(body);
}

function tableOf(entries = ENTRIES): ForwardingTable {
  const t = new ForwardingTable(64);
  for (const e of entries) t.write(e);
  return t;
}

const PARAMS = { ethPorts: 6, gwLid: GW_LID, mtuBytes: 2048 };

describe("ib2ethFunction: checks in the README's order", () => {
  const t = tableOf();
  const reason = (pkt: Uint8Array, table = t) => {
    const r = ib2ethFunction(pkt, table, PARAMS);
    return r.kind === "drop" ? r.reason : "forward";
  };

  it("a good unicast packet is forwarded", () => {
    expect(reason(ibPacket())).toBe("forward");
  });

  it("runt: too short, PktLen mismatch, or too short for its pad", () => {
    expect(reason(ibPacket().subarray(0, 37))).toBe("runt");
    expect(reason(ibPacket({ pktLenDelta: 1 }))).toBe("runt");
    expect(reason(ibPacket({ pktLenDelta: -1 }))).toBe("runt");
    // 38 bytes, PadCnt 3: no room for the pad
    const p = ibPacket({ payload: new Uint8Array(0) });
    p[IB_OFF.bth + 1] |= 0x30;
    expect(reason(p)).toBe("runt");
    // runt wins over a bad CRC
    const q = ibPacket({ pktLenDelta: 1 });
    q[40] ^= 1;
    expect(reason(q)).toBe("runt");
  });

  it("bad_crc: a flipped payload bit (ICRC and VCRC), a flipped VCRC, a flipped ICRC", () => {
    const p = ibPacket();
    p[50] ^= 4;
    expect(reason(p)).toBe("bad_crc");
    const v = ibPacket();
    v[v.length - 1] ^= 1;
    expect(reason(v)).toBe("bad_crc");
    const i = ibPacket();
    i[i.length - 4] ^= 0x80;
    expect(reason(i)).toBe("bad_crc");
  });

  it("bad_header: LNH, DLID (neither ours nor multicast), opcode — checked after the CRCs", () => {
    expect(reason(ibPacket({ lnh: 3 }))).toBe("bad_header");
    expect(reason(ibPacket({ dlid: 2 }))).toBe("bad_header");
    expect(reason(ibPacket({ dlid: 0xc005 }))).toBe("forward");
    expect(reason(ibPacket({ opcode: 0x65 }))).toBe("bad_header");
  });

  it("giant: IPoIB header + packet above the MTU, not before", () => {
    expect(reason(ibPacket({ payload: new Uint8Array(2044) }))).toBe("forward");
    expect(reason(ibPacket({ payload: new Uint8Array(2045) }))).toBe("giant");
  });

  it("unknown destination: no Ethernet host with that QPN, an IB host's QPN, a port the gateway lacks", () => {
    expect(reason(ibPacket({ destQp: 0x200 }))).toBe("unknown");
    expect(reason(ibPacket({ destQp: 0x55 }))).toBe("unknown");
    expect(reason(ibPacket({ destQp: 0x109 }))).toBe("unknown");
  });

  it("key_mismatch: P_Key on 15 bits (membership bit ignored), Q_Key, multicast against the broadcast group", () => {
    expect(reason(ibPacket({ pkey: 0x7fff }))).toBe("forward");
    expect(reason(ibPacket({ pkey: 0xfffe }))).toBe("key_mismatch");
    expect(reason(ibPacket({ qkey: 0x0b1c }))).toBe("key_mismatch");
    expect(reason(ibPacket({ destQp: 0xffffff, pkey: 0xffff }))).toBe("forward");
    expect(reason(ibPacket({ destQp: 0xffffff, pkey: 0x8001 }))).toBe("key_mismatch");
    // no broadcast group entry: nothing to match
    expect(reason(ibPacket({ destQp: 0xffffff }), tableOf(ENTRIES.filter((e) => !e.group)))).toBe("key_mismatch");
    // a destination problem comes before a key problem
    expect(reason(ibPacket({ destQp: 0x200, qkey: 1 }))).toBe("unknown");
  });

  it("unknown source: no valid IB entry with (SLID, SrcQP), checked after the keys", () => {
    expect(reason(ibPacket({ slid: 6 }))).toBe("unknown");
    expect(reason(ibPacket({ srcQp: 0x56 }))).toBe("unknown");
    expect(reason(ibPacket({ srcQp: 0x56, qkey: 1 }))).toBe("key_mismatch");
    const invalid = tableOf(ENTRIES.map((e) => (e.ib && !e.group ? { ...e, valid: false } : e)));
    expect(reason(ibPacket(), invalid)).toBe("unknown");
  });
});

describe("ib2ethFunction: the Ethernet frame", () => {
  const t = tableOf();

  it("is dst MAC, src MAC, the IPoIB EtherType, the payload without pad, and the FCS LSB first", () => {
    const payload = new Prng("frame").bytes(101); // pad 3 on the IB side
    const r = ib2ethFunction(ibPacket({ payload, destQp: 0x103, etherType: 0x86dd }), t, PARAMS);
    expect(r.kind).toBe("frame");
    if (r.kind !== "frame") return;
    expect(r.port).toBe(3);
    const f = r.frame;
    expect(f.length).toBe(14 + 101 + 4);
    expect(Array.from(f.subarray(0, 14))).toEqual([0x02, 0, 0, 0, 0xe0, 0x03, 0x02, 0, 0, 0, 0x1b, 0x05, 0x86, 0xdd]);
    expect(f.subarray(14, 115)).toEqual(payload);
    const fcs = crc32(f, 0, 115);
    expect(Array.from(f.subarray(115))).toEqual([fcs & 0xff, (fcs >>> 8) & 0xff, (fcs >>> 16) & 0xff, fcs >>> 24]);
    // the receiver's check: CRC over frame + FCS is the residue
    expect(crc32(f)).toBe(0x2144df1c);
  });

  it("is zero-padded to 60 bytes before the FCS", () => {
    for (const n of [0, 1, 20, 45, 46, 47]) {
      const payload = new Uint8Array(n).fill(0xaa);
      const r = ib2ethFunction(ibPacket({ payload }), t, PARAMS);
      if (r.kind !== "frame") throw new Error(`payload ${n}: ${r.kind}`);
      expect(r.frame.length).toBe(Math.max(60, 14 + n) + 4);
      expect(r.length).toBe(14 + n);
      expect(r.frame.subarray(14 + n, Math.max(60, 14 + n)).every((b) => b === 0)).toBe(true);
      expect(crc32(r.frame)).toBe(0x2144df1c);
    }
  });

  it("multicast goes to every port with the broadcast destination MAC", () => {
    const r = ib2ethFunction(ibPacket({ destQp: 0xffffff, dlid: 0xc001 }), t, PARAMS);
    if (r.kind !== "frame") throw new Error(r.kind);
    expect(r.port).toBe(-1);
    expect(Array.from(r.frame.subarray(0, 6))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });
});

// ---- the twin ------------------------------------------------------------------------

const txn = (data: Uint8Array, startCycle = 0): StreamTransaction => ({ data, user: {}, startCycle, endCycle: startCycle });

function twinWith(o: Partial<Ib2EthTwinOptions> = {}, entries = ENTRIES): Ib2EthTwin {
  const tw = new Ib2EthTwin({ ethPorts: 6, dataBytes: 8, tableEntries: 64, fifoBeats: 512, gwLid: GW_LID, gwQpn: 0x48, mtuBytes: 2048, ...o });
  // the table is written at edges 0.. before traffic, as a scenario does
  for (const e of entries) tw.offer("s_cfg_axis", txn(encodeTableEntry(e), 0));
  return tw;
}

const PORTS = (n: number) => Array.from({ length: n }, (_, i) => `m_eth_axis[${i}]`);

function takeAll(tw: Ib2EthTwin, n = 6): StreamTransaction[][] {
  return PORTS(n).map((p) => tw.take(p));
}

describe("Ib2EthTwin: counters", () => {
  it("counts each drop reason once, forwarded frames per port, as of the cycles simulated", () => {
    const tw = twinWith();
    const bad = ibPacket();
    bad[45] ^= 1;
    const pkts = [
      ibPacket(), // forwarded, port 1
      ibPacket().subarray(0, 30), // runt
      bad, // bad_crc
      ibPacket({ opcode: 0x04 }), // bad_header
      ibPacket({ payload: new Uint8Array(2100) }), // giant
      ibPacket({ destQp: 0x777 }), // unknown
      ibPacket({ qkey: 0 }), // key_mismatch
      ibPacket({ srcQp: 0x99 }), // unknown (source)
      ibPacket({ destQp: 0xffffff, dlid: 0xc001 }), // 6 frames
    ];
    for (const p of pkts) tw.offer("s_ib_axis", txn(p, 20));
    tw.runUntil(20);
    expect(Object.values(tw.wires()).every((v) => v === 0)).toBe(true);
    tw.runUntil(2000);
    expect(tw.wires()).toEqual({
      i2e_drop_bad_crc: 1,
      i2e_drop_runt: 1,
      i2e_drop_giant: 1,
      i2e_drop_bad_header: 1,
      i2e_drop_key_mismatch: 1,
      i2e_drop_unknown: 2,
      i2e_drop_queue_full: 0,
      i2e_frames: 7,
    });
    const out = takeAll(tw);
    expect(out.map((o) => o.length)).toEqual([1, 2, 1, 1, 1, 1]);
    // multicast: the same bytes on every port
    for (let i = 0; i < 6; i++) expect(out[i][out[i].length - 1].data).toEqual(out[0][0].data);
  });
});

describe("Ib2EthTwin: timing with m_eth_axis always ready", () => {
  it("a 64-byte frame (11 beats of 8 in): first beat at 0, out on cycles 15..22", () => {
    const tw = twinWith();
    tw.offer("s_ib_axis", txn(ibPacket(), 0));
    tw.runUntil(100);
    const out = tw.take("m_eth_axis[1]");
    expect(out.map((t) => [t.startCycle, t.endCycle])).toEqual([[15, 22]]);
    expect(out[0].data.length).toBe(64);
  });

  it("line rate for 6 x 1 GbE: 64-byte frames back to back, one every 11 cycles, round robin, no drops", () => {
    const tw = twinWith();
    const n = 600;
    for (let k = 0; k < n; k++) tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0x100 + (k % 6) }), 0));
    tw.runUntil(n * 11 + 100);
    const out = takeAll(tw);
    for (let p = 0; p < 6; p++) {
      expect(out[p]).toHaveLength(n / 6);
      out[p].forEach((t, j) => expect(t.startCycle).toBe(15 + 11 * (6 * j + p)));
    }
    expect(tw.wires().i2e_frames).toBe(n);
  });

  it("at 64 bytes per beat: a 2-beat packet gives a 1-beat frame 5 cycles after its last beat", () => {
    const tw = twinWith({ dataBytes: 64 });
    tw.offer("s_ib_axis", txn(ibPacket(), 20));
    tw.offer("s_ib_axis", txn(ibPacket(), 20));
    tw.runUntil(100);
    // in at 20-21 and 22-23; popped at 23 and 25
    expect(tw.take("m_eth_axis[1]").map((t) => [t.startCycle, t.endCycle])).toEqual([[26, 26], [28, 28]]);
  });

  it("tiny packets faster than their padded frames fill the staging and slow the input, losing nothing", () => {
    const tw = twinWith();
    const n = 400;
    for (let k = 0; k < n; k++) tw.offer("s_ib_axis", txn(ibPacket({ payload: new Uint8Array(0), destQp: 0x100 + (k % 6) }), 20));
    tw.runUntil(100_000);
    const out = takeAll(tw).flat();
    expect(out).toHaveLength(n);
    // 5 beats in, 8 out: the distributor sets the pace once the descriptor FIFO fills
    const starts = out.map((t) => t.startCycle).sort((a, b) => a - b);
    expect(starts[n - 1] - starts[n - 2]).toBe(8);
    expect(tw.wires().i2e_drop_queue_full).toBe(0);
  });
});

describe("Ib2EthTwin: output FIFOs under backpressure", () => {
  it("a port that never takes fills its FIFO; later frames to it are dropped whole, others flow", () => {
    const tw = twinWith({ fifoBeats: 16, outputReady: (p) => (p === 1 ? () => false : undefined) });
    for (let k = 0; k < 5; k++) tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0x101 }), 0));
    tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0xffffff }), 0));
    tw.runUntil(1000);
    // two 8-beat frames fit in 16 beats; three more unicast and the multicast copy do not
    expect(tw.wires().i2e_drop_queue_full).toBe(4);
    expect(tw.wires().i2e_frames).toBe(2 + 5);
    expect(tw.take("m_eth_axis[1]")).toHaveLength(0);
    expect(tw.take("m_eth_axis[0]")).toHaveLength(1);
  });

  it("a port ready every other cycle sends its frames at half rate, in order", () => {
    const tw = twinWith({ outputReady: (p) => (p === 2 ? (c: number) => c % 2 === 0 : undefined) });
    tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0x102 }), 0));
    tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0x102 }), 0));
    tw.runUntil(200);
    const out = tw.take("m_eth_axis[2]");
    // first beat readable at 15 as with always-ready (an even cycle), then every other cycle
    expect(out.map((t) => [t.startCycle, t.endCycle])).toEqual([[16, 30], [32, 46]]);
  });
});

describe("Ib2EthTwin: multicast and counters over time", () => {
  it("a multicast frame is written to every port with room and counted queue_full once per port without", () => {
    const tw = twinWith({ fifoBeats: 16, outputReady: (p) => (p === 2 || p === 4 ? () => false : undefined) });
    // fill ports 2 and 4 with two 8-beat frames each, then multicast
    for (const q of [0x102, 0x102, 0x104, 0x104]) tw.offer("s_ib_axis", txn(ibPacket({ destQp: q }), 20));
    tw.offer("s_ib_axis", txn(ibPacket({ destQp: 0xffffff, dlid: 0xc001 }), 20));
    tw.runUntil(1000);
    expect(tw.wires().i2e_drop_queue_full).toBe(2);
    expect(tw.wires().i2e_frames).toBe(4 + 4);
    const out = takeAll(tw);
    expect(out.map((o) => o.length)).toEqual([1, 1, 0, 1, 0, 1]);
    expect(out[5][0].data.subarray(0, 6).every((b) => b === 0xff)).toBe(true);
  });

  it("counters change at the edge after the last beat (drops) and at the distributor's pop (frames)", () => {
    const tw = twinWith();
    tw.offer("s_ib_axis", txn(ibPacket({ opcode: 0 }), 20)); // 11 beats, last at 30, dropped at 31
    tw.offer("s_ib_axis", txn(ibPacket(), 40)); // last at 50, decided at 51, popped at 52
    tw.runUntil(31);
    expect(tw.wires().i2e_drop_bad_header).toBe(0);
    tw.runUntil(32);
    expect(tw.wires().i2e_drop_bad_header).toBe(1);
    tw.runUntil(52);
    expect(tw.wires().i2e_frames).toBe(0);
    tw.runUntil(53);
    expect(tw.wires().i2e_frames).toBe(1);
    // output: pop + 3 … pop + 10, taken only once simulated
    tw.runUntil(62);
    expect(tw.take("m_eth_axis[1]")).toHaveLength(0);
    tw.runUntil(63);
    expect(tw.take("m_eth_axis[1]").map((t) => [t.startCycle, t.endCycle])).toEqual([[55, 62]]);
  });

  it("at 64 bytes per beat, frames of every length come out whole, padded, with a good FCS", () => {
    const tw = twinWith({ dataBytes: 64 });
    const lengths = Array.from({ length: 140 }, (_, i) => i);
    for (const n of lengths) tw.offer("s_ib_axis", txn(ibPacket({ payload: new Uint8Array(n).fill(n), destQp: 0x100 + (n % 6) }), 20));
    tw.runUntil(10_000);
    const out = takeAll(tw).flat();
    expect(out).toHaveLength(lengths.length);
    for (const t of out) {
      const n = t.data.length - 18 >= 46 ? t.data.length - 18 : t.data[14] === 0 ? 0 : t.data[14];
      expect(t.data.length).toBe(Math.max(60, 14 + n) + 4);
      expect(crc32(t.data)).toBe(0x2144df1c);
      // beats: ceil(length / 64), one output beat per cycle
      expect(t.endCycle - t.startCycle + 1).toBe(Math.ceil(t.data.length / 64));
    }
  });
});

describe("Ib2EthTwin: table writes", () => {
  it("a lookup at the last beat's edge sees writes at earlier edges, not at the same edge", () => {
    for (const [writeAt, forwarded] of [[9, 1], [10, 0]] as const) {
      const tw = twinWith({}, ENTRIES.filter((e) => e.index !== 1));
      tw.runUntil(5);
      tw.offer("s_ib_axis", txn(ibPacket(), 0)); // beats 5..15 (offered at 5)
      tw.offer("s_cfg_axis", txn(encodeTableEntry(ENTRIES[1]), writeAt + 5));
      tw.runUntil(200);
      expect(tw.wires().i2e_frames, `write at ${writeAt + 5}`).toBe(forwarded);
    }
  });

  it("rejects unknown ports and out-of-order offers", () => {
    const tw = twinWith();
    expect(() => tw.offer("s_eth_axis", txn(new Uint8Array(1)))).toThrow(/no input stream port/);
    expect(() => tw.take("m_ib_axis")).toThrow(/no output stream port/);
    tw.offer("s_ib_axis", txn(ibPacket(), 10));
    expect(() => tw.offer("s_ib_axis", txn(ibPacket(), 9))).toThrow(/before the previous/);
  });
});
