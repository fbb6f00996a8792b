/**
 * The responder's host reads over PCIe (the engine's responderDma): crafted READ and atomic
 * requests into a responder, the times its responses leave checked against the PCIe
 * arithmetic written out here from the figures (request up, completer latency, completions
 * down; tags or link rate), and what a duplicate reads or does not read. Each test fails if
 * the behaviour it names is taken out.
 */
import { describe, expect, it } from "vitest";
import { Prng, Simulator } from "../../core/index.ts";
import { Access } from "../formats/index.ts";
import { buildPacket, decodePacket, HostNode, PCIE_READ_DEFAULTS, QpState, type DecodedPacket, type PacketFields, type PcieReadTiming, type TransportConfig } from "./index.ts";

const PEER = 0x99;
const RQ_PSN = 100;
const CLOCK_MHZ = 250;
const CYCLE_PS = 1e6 / CLOCK_MHZ;
const PIPELINE_CYCLES = 8;

type Sent = DecodedPacket & { at: number; length: number };

/** one responder node with `qps` RC QPs; `feed` delivers a request packet at a time (`sim.run()` runs them) */
function rig(config: Partial<Omit<TransportConfig, "sim" | "memory" | "tables">>, mtu: number, qps = 1) {
  const sim = new Simulator();
  const node = new HostNode(sim, "resp", 2, { clockMhz: CLOCK_MHZ, pipelineCycles: PIPELINE_CYCLES, dmaReadLatencyNs: 0, ...config });
  const cq = node.cq(6);
  const e = node.engine;
  const qpns: number[] = [];
  for (let i = 0; i < qps; i++) {
    const qpn = node.qp("RC", cq);
    e.modifyQp(qpn, { state: QpState.INIT });
    e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: PEER + i, rqPsn: RQ_PSN, mtu, path: { dlid: 1 } });
    e.modifyQp(qpn, { state: QpState.RTS, sqPsn: 0 });
    qpns.push(qpn);
  }
  const out: Sent[] = [];
  e.connect((p) => {
    out.push({ ...decodePacket(p), at: sim.now, length: p.length });
    p.release();
  });
  /**
   * delivers a packet to QP `qpns[qp]` at `atPs` (the receive datapath idle then); returns
   * when it is through the receive datapath and the pipeline (executed, its response due)
   */
  const feed = (atPs: number, f: Omit<PacketFields, "destQp">, qp = 0): number => {
    const pkt = buildPacket({ destQp: qpns[qp], slid: 1, ...f });
    const done = atPs + Math.ceil(pkt.length / e.datapathBytes) * CYCLE_PS + PIPELINE_CYCLES * CYCLE_PS;
    sim.schedule(atPs, () => e.receive(pkt));
    return done;
  };
  const run = () => sim.run();
  const region = (bytes: number) => node.buffer(bytes, Access.remoteRead | Access.remoteWrite | Access.remoteAtomic | Access.localWrite);
  return { sim, node, e, out, feed, run, region };
}

// The PCIe arithmetic, from the figures alone [ps]
const onLinkPs = (p: PcieReadTiming, bytes: number) => Math.ceil((bytes * 1e12) / p.bytesPerSecond);
const completionBytes = (p: PcieReadTiming, n: number) => n + Math.ceil(n / p.maxPayloadBytes) * p.completionOverheadBytes;
/** one read of n ≤ MRRS bytes: MRd on the link, link latency both ways, completer latency, completions on the link */
const roundTripPs = (p: PcieReadTiming, n: number) => onLinkPs(p, p.requestOverheadBytes) + 2 * p.linkLatencyNs * 1000 + p.readLatencyNs * 1000 + onLinkPs(p, completionBytes(p, n));
/** between two MRRS reads: tags over a round trip, or the completions' link time */
const spacingPs = (p: PcieReadTiming) => Math.max(Math.ceil(roundTripPs(p, p.maxReadRequestBytes) / p.tags), onLinkPs(p, completionBytes(p, p.maxReadRequestBytes)));

const readRequest = (psn: number, buf: { addr: number; key: number }, len: number, off = 0) => ({
  opcode: "RC_RDMA_READ_REQUEST",
  psn,
  reth: { va: BigInt(buf.addr + off), rkey: buf.key, len },
});
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
const T0 = 1_000_000;

describe("responder host reads: READ latency", () => {
  it.each([2, 256, 512])("a %i-byte READ's response leaves one PCIe read round trip later than without the model", (len) => {
    const p = PCIE_READ_DEFAULTS;
    const [plain, modelled] = [rig({}, 4096), rig({ responderDma: p }, 4096)].map((r) => {
      const src = r.region(4096);
      r.node.memory.write(src.addr, bytes(len, 3));
      const done = r.feed(T0, readRequest(RQ_PSN, src, len));
      r.run();
      expect(r.out.map((x) => x.payload)).toEqual([bytes(len, 3)]);
      return { ...r, done };
    });
    expect(plain.out.map((x) => x.at)).toEqual([plain.done]);
    expect(modelled.out.map((x) => x.at)).toEqual([modelled.done + roundTripPs(p, len)]);
    expect(modelled.out[0].at - plain.out[0].at).toBe(roundTripPs(p, len));
    expect(modelled.e.responderDma!.reads).toBe(1);
  });

  it("draws the completer's latency jitter from the seeded stream: within [0, jitter], the same for the same seed", () => {
    const p = { ...PCIE_READ_DEFAULTS, readLatencyJitterNs: 300 };
    const run = (seed: number) => {
      const r = rig({ responderDma: { ...p, prng: new Prng(seed) } }, 4096);
      const src = r.region(4096);
      const extra: number[] = [];
      for (let i = 0; i < 40; i++) {
        const done = r.feed(T0 + i * 10_000_000, readRequest(RQ_PSN + i, src, 64));
        r.run();
        extra.push(r.out[i].at - done - roundTripPs(p, 64));
      }
      return extra;
    };
    const a = run(1);
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(300_000);
    expect(new Set(a).size).toBeGreaterThan(20);
    expect(run(1)).toEqual(a);
    expect(run(2)).not.toEqual(a);
  });
});

describe("responder host reads: a long READ's pacing", () => {
  const MTU = 1024;
  const LEN = 8 * MTU;

  it.each([
    ["1 tag", { ...PCIE_READ_DEFAULTS, tags: 1 }],
    ["4 tags", { ...PCIE_READ_DEFAULTS, tags: 4 }],
    ["a 1 GB/s PCIe link", { ...PCIE_READ_DEFAULTS, bytesPerSecond: 1e9 }],
  ] as const)("PCIe slower than the wire (bound by %s): response packets leave as their reads come in", (_bound, p) => {
    const r = rig({ responderDma: p }, MTU);
    const src = r.region(LEN);
    r.node.memory.write(src.addr, bytes(LEN, 7));
    const done = r.feed(T0, readRequest(RQ_PSN, src, LEN));
    r.run();
    const s = spacingPs(p);
    const mrrs = p.maxReadRequestBytes;
    // packet k ends at byte (k + 1) × MTU: its last read (index (k + 1) × MTU / MRRS − 1) is in then
    const due = Array.from({ length: LEN / MTU }, (_, k) => done + (((k + 1) * MTU) / mrrs - 1) * s + roundTripPs(p, mrrs));
    expect(r.out.map((x) => x.at)).toEqual(due);
    // the PCIe reads, not the 64-byte datapath, set the pace: MTU / MRRS reads per packet
    expect(due[1] - due[0]).toBe((MTU / mrrs) * s);
    expect(due[1] - due[0]).toBeGreaterThan(Math.ceil(r.out[0].length / 64) * CYCLE_PS);
    expect(r.out.map((x) => x.payload)).toEqual(Array.from({ length: LEN / MTU }, (_, k) => bytes(LEN, 7).subarray(k * MTU, (k + 1) * MTU)));
    expect(r.e.responderDma!.busyPs).toBe((LEN / mrrs) * s);
  });

  it("PCIe faster than the wire (a 16-byte datapath): after the first, packets leave one datapath time apart", () => {
    const p = PCIE_READ_DEFAULTS;
    const r = rig({ responderDma: p, datapathBytes: 16 }, MTU);
    const src = r.region(LEN);
    const done = r.feed(T0, readRequest(RQ_PSN, src, LEN));
    r.run();
    const s = spacingPs(p);
    expect(r.out[0].at).toBe(done + (MTU / p.maxReadRequestBytes - 1) * s + roundTripPs(p, p.maxReadRequestBytes));
    for (let k = 1; k < r.out.length; k++) {
      const wirePs = Math.ceil(r.out[k - 1].length / 16) * CYCLE_PS;
      expect(wirePs).toBeGreaterThan((MTU / p.maxReadRequestBytes) * s); // the datapath binds
      expect(r.out[k].at - r.out[k - 1].at).toBe(wirePs);
    }
    expect(r.out).toHaveLength(LEN / MTU);
  });

  it("READs of different QPs share the tags and the link: a read waits for the reads issued before it", () => {
    const p = { ...PCIE_READ_DEFAULTS, tags: 1 };
    const r = rig({ responderDma: p }, MTU, 2);
    const src = r.region(LEN);
    const s = spacingPs(p);
    const done0 = r.feed(T0, readRequest(RQ_PSN, src, 4 * 512));
    const done1 = r.feed(T0 + 10_000, readRequest(RQ_PSN, src, 2), 1);
    r.run();
    const second = r.out.find((x) => x.bth.destQp === PEER + 1)!;
    expect(done1).toBeLessThan(done0 + 4 * s);
    // QP 1's one read is issued after QP 0's four
    expect(second.at).toBe(done0 + 4 * s + roundTripPs(p, 2));
  });

  it("a zero-length READ reads nothing and answers after the pipeline", () => {
    const r = rig({ responderDma: PCIE_READ_DEFAULTS }, MTU);
    const done = r.feed(T0, { opcode: "RC_RDMA_READ_REQUEST", psn: RQ_PSN, reth: { va: 0n, rkey: 0, len: 0 } });
    r.run();
    expect(r.out.map((x) => [x.opcode, x.at])).toEqual([["RC_RDMA_READ_RESPONSE_ONLY", done]]);
    expect(r.e.responderDma!.reads).toBe(0);
  });
});

describe("responder host reads: atomics and duplicates", () => {
  it.each([
    ["RC_FETCH_ADD", 15n],
    ["RC_COMPARE_SWAP", 5n],
  ])("%s: the ACK waits for a read round trip of its 8 bytes; a duplicate replays the saved value without a read", (opcode, after) => {
    const p = PCIE_READ_DEFAULTS;
    const plain = rig({}, 256);
    const r = rig({ responderDma: p }, 256);
    const run = (x: typeof r) => {
      const ctr = x.region(64);
      x.node.memory.writeU64Le(ctr.addr, 10n);
      const f = { opcode, psn: RQ_PSN, atomic: { va: BigInt(ctr.addr), rkey: ctr.key, swapAdd: 5n, compare: 10n } };
      const done = x.feed(T0, f);
      x.run();
      const dup = x.feed(T0 + 5_000_000, f);
      x.run();
      return { ctr, done, dup };
    };
    const q = run(plain);
    const m = run(r);
    expect(plain.out.map((x) => x.at)).toEqual([q.done, q.dup]);
    expect(r.out.map((x) => x.at)).toEqual([m.done + roundTripPs(p, 8), m.dup]);
    expect(r.e.responderDma!.reads).toBe(1);
    expect(r.out.map((x) => [x.opcode, x.bth.psn, x.atomicAck!.orig])).toEqual([["RC_ATOMIC_ACKNOWLEDGE", RQ_PSN, 10n], ["RC_ATOMIC_ACKNOWLEDGE", RQ_PSN, 10n]]);
    expect(r.node.memory.readU64Le(m.ctr.addr)).toBe(after); // executed once
  });

  it("a masked fetch-add waits for its read too", () => {
    const p = PCIE_READ_DEFAULTS;
    const r = rig({ responderDma: p }, 256);
    const ctr = r.region(64);
    const done = r.feed(T0, { opcode: "RC_MASKED_FETCH_ADD", psn: RQ_PSN, atomic: { va: BigInt(ctr.addr), rkey: ctr.key, swapAdd: 1n, compare: 0n } });
    r.run();
    expect(r.out.map((x) => [x.opcode, x.at])).toEqual([["RC_ATOMIC_ACKNOWLEDGE", done + roundTripPs(p, 8)]]);
  });

  it("a duplicate READ reads host memory again: its bytes are memory's at the re-read, its responses a new round trip later", () => {
    const p = PCIE_READ_DEFAULTS;
    const MTU = 256;
    const r = rig({ responderDma: p }, MTU);
    const src = r.region(2048);
    r.node.memory.write(src.addr, bytes(1000, 5));
    const done = r.feed(T0, readRequest(RQ_PSN, src, 1000));
    r.run();
    expect(r.out.map((x) => x.bth.psn)).toEqual([100, 101, 102, 103]);
    expect(r.out[0].at).toBe(done + roundTripPs(p, 512)); // the first of two reads (MRRS 512), then the second (488 bytes)
    // the host changes the bytes; the requester lost 102 and 103 and asks again
    r.node.memory.write(src.addr, bytes(1000, 9));
    r.out.length = 0;
    const again = r.feed(T0 + 20_000_000, readRequest(RQ_PSN + 2, src, 488, 512));
    r.run();
    expect(r.out.map((x) => [x.opcode, x.bth.psn])).toEqual([["RC_RDMA_READ_RESPONSE_FIRST", 102], ["RC_RDMA_READ_RESPONSE_LAST", 103]]);
    expect(r.out[0].payload).toEqual(bytes(1000, 9).subarray(512, 768));
    expect(r.out[1].payload).toEqual(bytes(1000, 9).subarray(768, 1000));
    expect(r.out[0].at).toBe(again + roundTripPs(p, 488));
    expect(r.e.responderDma!.reads).toBe(2);
    expect(r.e.responderDma!.bytes).toBe(1000 + 488);
  });
});

describe("responder host reads: configuration", () => {
  it("refuses figures core/dma.ts would refuse, naming the field", () => {
    const sim = new Simulator();
    expect(() => new HostNode(sim, "bad", 1, { responderDma: { ...PCIE_READ_DEFAULTS, tags: 0 } })).toThrow(/bad: responderDma: tags must be a whole number in \[1, 1024\], got 0/);
    expect(() => new HostNode(sim, "bad", 1, { responderDma: { ...PCIE_READ_DEFAULTS, maxReadRequestBytes: 500 } })).toThrow(/maxReadRequestBytes must be a power of two/);
    expect(() => new HostNode(sim, "bad", 1, { responderDma: { ...PCIE_READ_DEFAULTS, bytesPerSecond: 0 } })).toThrow(/bytesPerSecond must be a finite number > 0/);
  });
});
