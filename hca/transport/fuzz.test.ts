/**
 * A responder under random and mutated packets (fast-check): 100,000 packets at RC and UD
 * QPs — random bytes, packets built field by field with PSNs near the expected one, keys
 * of every region (and stale ones), addresses across region edges, then mutated and cut.
 * It must never throw, and no byte of host memory may change outside what the packet's
 * operation may write: regions with the remote write right (WRITE), with the remote atomic
 * right (atomics), receive buffers (SEND), and the CQ and EQ rings.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Simulator } from "../../core/index.ts";
import { Access } from "../formats/index.ts";
import { Bth, BTH_OPCODES, BthOpFlag } from "../headers/index.ts";
import { aethSyndrome, buildPacketBytes, EQE_BYTES, GRH_BYTES, HostNode, OP_FLAGS, packetFrom, QpState, type PacketFields } from "./index.ts";

const MTU = 256;
const QKEY = 0x0bad_cafe;
const REGION = 8192;

type Region = { addr: number; key: number; access: number };

function target() {
  const sim = new Simulator();
  const node = new HostNode(sim, "fuzz", 2, { dmaReadLatencyNs: 0 });
  const e = node.engine;
  e.connect((p) => p.release());
  node.eq(1, 4);
  const cq = node.cq(4, 1);
  e.armCq(cq.cqn);
  const regions: Region[] = [Access.remoteWrite, Access.remoteRead, Access.remoteAtomic, Access.remoteRead | Access.remoteWrite | Access.remoteAtomic, Access.localWrite].map(
    (access) => ({ ...node.buffer(REGION, access | Access.localWrite), access }),
  );
  const recv = node.buffer(64 * 1024, Access.localWrite);
  const rc = [node.qp("RC", cq, cq, 4), node.qp("RC", cq, cq, 4)];
  const ud = node.qp("UD", cq, cq, 4);
  const qps = [...rc, ud];
  const bring = (qpn: number) => {
    const qp = e.qp(qpn);
    if (qp.state !== QpState.RESET) e.modifyQp(qpn, { state: QpState.RESET });
    e.modifyQp(qpn, { state: QpState.INIT, qkey: QKEY });
    e.modifyQp(qpn, { state: QpState.RTR, remoteQpn: 0x55, rqPsn: 0x10, mtu: MTU, path: { dlid: 1 }, maxDestRdAtomic: 2 });
    e.modifyQp(qpn, { state: QpState.RTS, sqPsn: 0 });
  };
  qps.forEach(bring);
  const refill = (qpn: number) => {
    const qp = e.qp(qpn);
    let k = 0;
    while (qp.rqPi - qp.rqCi < 4) {
      const off = ((qpn * 4 + k++) % 16) * 4096;
      node.postRecv(qpn, [{ addr: BigInt(recv.addr + off), length: 300, lkey: recv.key }, { addr: BigInt(recv.addr + off + 2048), length: 300, lkey: recv.key }]);
    }
  };
  // what a packet of each kind may write
  const rings = [{ addr: Number(cq.ring), len: 32 << cq.logSize }, { addr: Number(e.eqs.get(1)!.ring), len: EQE_BYTES << 4 }];
  const regionsWith = (right: number) => regions.filter((r) => r.access & right).map((r) => ({ addr: r.addr, len: REGION }));
  const allowed = {
    // receive buffers: exactly the SGEs posted (300 bytes at +0 and +2048 of each 4 KiB slot)
    send: [...rings, ...Array.from({ length: 32 }, (_, i) => ({ addr: recv.addr + (i >> 1) * 4096 + (i & 1) * 2048, len: 300 }))],
    write: [...rings, ...regionsWith(Access.remoteWrite)],
    atomic: [...rings, ...regionsWith(Access.remoteAtomic)],
    other: rings,
  };
  let current = allowed.other;
  const violations: string[] = [];
  node.memory.onWrite((w) => {
    const a = Number(w.addr);
    if (!current.some((r) => a >= r.addr && a + w.len <= r.addr + r.len)) violations.push(`write of ${w.len} bytes at 0x${a.toString(16)}`);
  });
  const feed = (bytes: Uint8Array) => {
    const f = bytes.length > 0 ? OP_FLAGS[bytes[0]] : 0;
    current = f & BthOpFlag.send ? allowed.send : f & BthOpFlag.write ? allowed.write : f & BthOpFlag.atomic ? allowed.atomic : allowed.other;
    e.receive(packetFrom(bytes, { slid: bytes.length % 7 === 0 ? 9 : 1, grh: bytes.length & 1 ? new Uint8Array(GRH_BYTES).fill(0x3c) : undefined }));
    sim.run(sim.now + 50_000_000);
    for (const q of qps) {
      if (e.qp(q).state === QpState.ERR) bring(q);
      refill(q);
    }
  };
  qps.forEach(refill);
  return { node, e, qps, regions, feed, violations };
}

type Target = ReturnType<typeof target>;

/** a packet described by choices that are resolved against the target when it is fed */
const structured = fc.record({
  op: fc.constantFrom(...BTH_OPCODES.filter((o) => o.flags & BthOpFlag.request).map((o) => o.name), "RC_ACKNOWLEDGE", "RC_RDMA_READ_RESPONSE_ONLY"),
  qp: fc.nat(3),
  psn: fc.oneof(fc.integer({ min: -2, max: 2 }), fc.integer({ min: -0x80_0000, max: 0x7f_ffff })),
  pkey: fc.oneof({ weight: 8, arbitrary: fc.constant(0xffff) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }) }),
  qkey: fc.oneof({ weight: 6, arbitrary: fc.constant(QKEY) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff_ffff }) }),
  ackReq: fc.boolean(),
  region: fc.nat(5),
  keyFlip: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff_ffff }) }),
  va: fc.oneof(fc.integer({ min: -64, max: REGION + 64 }), fc.constantFrom(REGION - 8, REGION - 1, 0, 4)),
  wildVa: fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { freq: 8 }),
  len: fc.oneof(fc.integer({ min: 0, max: 700 }), fc.constantFrom(0, 8, MTU, REGION, REGION + 1), fc.integer({ min: 0, max: 0xffff_ffff })),
  payload: fc.oneof(fc.constantFrom(0, 8, 16, MTU), fc.integer({ min: 0, max: MTU + 40 })),
  operand: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  imm: fc.integer({ min: 0, max: 0xffff_ffff }),
  mutations: fc.array(fc.record({ at: fc.nat(400), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 3 }),
  cut: fc.option(fc.nat(400), { freq: 6 }),
});
type Structured = typeof structured extends fc.Arbitrary<infer T> ? T : never;

/** a whole message, consistent as a requester would send it, at the expected PSN; then one packet mutated */
const message = fc.record({
  kind: fc.constantFrom("RDMA_WRITE", "SEND", "RDMA_WRITE_IMM", "READ", "FETCH_ADD", "COMPARE_SWAP", "MASKED_COMPARE_SWAP", "MASKED_FETCH_ADD"),
  qp: fc.nat(1),
  region: fc.nat(5),
  keyFlip: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 0xffff_ffff }) }),
  /** null: the message ends at the region's end (where any overrun is caught) */
  va: fc.option(fc.oneof(fc.integer({ min: -16, max: REGION + 16 }), fc.constantFrom(0, REGION - 8, REGION - MTU)), { freq: 2 }),
  len: fc.oneof(fc.integer({ min: 0, max: 3 * MTU + 10 }), fc.constantFrom(0, 1, MTU, MTU + 1, REGION)),
  operand: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  mutate: fc.option(fc.record({ packet: fc.nat(4), at: fc.nat(300), value: fc.integer({ min: 0, max: 255 }) }), { freq: 2 }),
  /** an extra full MIDDLE packet before the last one: the message runs past its length */
  extra: fc.boolean(),
  /** one packet's opcode replaced by another request opcode (a LAST become MIDDLE, …) */
  reop: fc.option(fc.record({ packet: fc.nat(4), opcode: fc.constantFrom(...BTH_OPCODES.filter((o) => o.transport === "RC" && o.flags & BthOpFlag.request).map((o) => o.opcode)) }), {
    freq: 4,
  }),
});
type Message = typeof message extends fc.Arbitrary<infer T> ? T : never;

const packet = fc.oneof(
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 0, maxLength: 320 }).map((b) => ({ raw: b }) as const) },
  { weight: 4, arbitrary: structured.map((s) => ({ s }) as const) },
  { weight: 3, arbitrary: message.map((m) => ({ m }) as const) },
);

/** the packets of message `m` at the target's expected PSN */
function messagePackets(t: Target, m: Message): Uint8Array[] {
  const qpn = t.qps[m.qp];
  const r = t.regions[m.region] ?? { addr: 0x10_0000, key: 0xabcd00, access: 0 };
  const rkey = (r.key ^ m.keyFlip) >>> 0;
  const va = BigInt(Math.max(0, r.addr + (m.va ?? REGION - m.len)));
  let psn = t.e.qp(qpn).epsn;
  const next = () => {
    const p = psn;
    psn = (psn + 1) & 0xff_ffff;
    return p;
  };
  const base = { destQp: qpn, ackReq: true };
  const out: Uint8Array[] = [];
  if (m.kind === "READ") out.push(buildPacketBytes({ ...base, opcode: "RC_RDMA_READ_REQUEST", psn: next(), reth: { va, rkey, len: m.len } }));
  else if (m.kind.includes("ADD") || m.kind.includes("SWAP")) {
    out.push(buildPacketBytes({
      ...base, opcode: `RC_${m.kind}`, psn: next(), atomic: { va: va & ~7n, rkey, swapAdd: m.operand, compare: m.operand >> 3n },
      masks: m.kind === "MASKED_COMPARE_SWAP" ? { swapMask: m.operand, compareMask: 0xf0n } : undefined,
    }));
  } else {
    const kind = m.kind === "SEND" ? "SEND" : "RDMA_WRITE";
    const n = Math.max(1, Math.ceil(m.len / MTU));
    for (let i = 0; i < n; i++) {
      const pos = n === 1 ? "ONLY" : i === 0 ? "FIRST" : i === n - 1 ? "LAST" : "MIDDLE";
      const imm = m.kind === "RDMA_WRITE_IMM" && (pos === "LAST" || pos === "ONLY") ? "_WITH_IMMEDIATE" : "";
      const payload = new Uint8Array(Math.min(MTU, m.len - i * MTU)).fill(0x5a);
      out.push(buildPacketBytes({
        ...base, opcode: `RC_${kind}_${pos}${imm}`, psn: next(), imm: 1, payload,
        reth: pos === "FIRST" || pos === "ONLY" ? { va, rkey, len: m.len } : undefined,
      }));
    }
  }
  if (m.extra && out.length > 1) {
    const middle = buildPacketBytes({ ...base, opcode: `RC_${m.kind === "SEND" ? "SEND" : "RDMA_WRITE"}_MIDDLE`, psn: 0, payload: new Uint8Array(MTU).fill(0x66) });
    out.splice(out.length - 1, 0, middle);
    const first = t.e.qp(qpn).epsn;
    out.forEach((b, i) => Bth.set(b, 0, "psn", (first + i) & 0xff_ffff));
  }
  if (m.mutate !== null) {
    const b = out[m.mutate.packet % out.length];
    if (m.mutate.at < b.length) b[m.mutate.at] = m.mutate.value;
  }
  if (m.reop !== null) out[m.reop.packet % out.length][0] = m.reop.opcode;
  return out;
}

function resolve(t: Target, s: Structured): Uint8Array {
  const qpn = s.qp < t.qps.length ? t.qps[s.qp] : 0x1234;
  const qp = t.e.qps.get(qpn);
  const region = s.region < t.regions.length ? t.regions[s.region] : { addr: 0x10_0000, key: 0xabcd00, access: 0 };
  const rkey = (region.key ^ s.keyFlip) >>> 0;
  const va = s.wildVa ?? BigInt(Math.max(0, region.addr + s.va));
  const opcode = qp?.type === "UD" && s.qp === 2 ? (s.op.endsWith("IMMEDIATE") ? "UD_SEND_ONLY_WITH_IMMEDIATE" : "UD_SEND_ONLY") : s.op;
  const f: PacketFields = {
    opcode, destQp: qpn, psn: ((qp?.epsn ?? 0) + s.psn) & 0xff_ffff, pkey: s.pkey, ackReq: s.ackReq,
    reth: { va, rkey, len: s.len }, atomic: { va, rkey, swapAdd: s.operand, compare: s.operand ^ 0xffn },
    masks: opcode.includes("MASKED_COMPARE") ? { swapMask: s.operand, compareMask: 0xffn } : undefined,
    aeth: { syndrome: aethSyndrome(0, 31), msn: 0 }, atomicAck: 0n, imm: s.imm, invalidateRkey: rkey, deth: { qkey: s.qkey, srcQp: 0x99 },
    payload: new Uint8Array(s.payload).fill(0xa5),
  };
  let b = buildPacketBytes(f);
  for (const m of s.mutations) if (m.at < b.length) b[m.at] = m.value;
  if (s.cut !== null) b = b.subarray(0, Math.min(b.length, s.cut));
  return b;
}

describe("responder fuzz", () => {
  it("takes 100,000 random and mutated packets without throwing or writing where it may not", () => {
    let packets = 0;
    let executed = 0;
    let written = 0;
    fc.assert(
      fc.property(fc.array(packet, { minLength: 70, maxLength: 70 }), (pkts) => {
        const t = target();
        for (const p of pkts) {
          const all = "raw" in p ? [p.raw] : "s" in p ? [resolve(t, p.s)] : messagePackets(t, p.m);
          for (const bytes of all) {
            t.feed(bytes);
            packets++;
          }
        }
        executed += t.e.stats.acksSent + t.e.writer.cqes;
        written += t.e.prot.bytesWritten;
        expect(t.violations).toEqual([]);
      }),
      { numRuns: 1000, seed: 0x7a11 },
    );
    expect(packets).toBeGreaterThanOrEqual(100_000);
    // the packets reached the execution stages, not only the header checks
    expect(executed).toBeGreaterThan(5_000);
    expect(written).toBeGreaterThan(1_000_000);
  });
});
