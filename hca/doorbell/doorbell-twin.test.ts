import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../../core/block.ts";
import { DoorbellTwin, type DoorbellTwinOptions } from "./doorbell-twin.ts";
import {
  CfgTable,
  cfgRead,
  cfgWrite,
  CfgWrite,
  CqArm,
  CqArmUpdate,
  CqCommand,
  cqDoorbell,
  DoorbellError,
  DoorbellKind,
  FetchRequest,
  receiveDoorbell,
  RejectReason,
  sendDoorbell,
} from "./formats.ts";

const txn = (data: Uint8Array, cycle: number): StreamTransaction => ({ data, user: {}, startCycle: cycle, endCycle: cycle });

/** a twin whose QP n (and CQ n) belongs to UAR page owner(n), for n < count */
function twinWith(count: number, owner: (n: number) => number, opts: DoorbellTwinOptions = {}): DoorbellTwin {
  const t = new DoorbellTwin(opts);
  let c = 0;
  for (let n = 0; n < count; n++) {
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, n, owner(n)), c++));
    t.offer("s_cfg", txn(cfgWrite(CfgTable.cq, n, owner(n)), c++));
  }
  t.runUntil(c + 1);
  return t;
}

function fetches(t: DoorbellTwin) {
  return t.take("m_fetch").map((x) => ({ ...FetchRequest.decode(x.data), cycle: x.startCycle }));
}

describe("doorbell twin: ownership (security)", () => {
  it("a doorbell rung on another context's UAR page is dropped, counted, raises an error event, and produces no fetch", () => {
    // QP 5 belongs to process A (UAR page 1); process B (page 2) rings it on its own page
    const t = twinWith(8, (n) => (n === 5 ? 1 : 2));
    const c0 = 100;
    t.offer("s_mmio", txn(sendDoorbell(2, { qpn: 5, counter: 9 }), c0));
    t.runUntil(c0 + 50);
    expect(fetches(t)).toEqual([]);
    const errs = t.take("m_err");
    expect(errs).toHaveLength(1);
    const e = DoorbellError.decode(errs[0]!.data);
    expect(e).toEqual({ reason: RejectReason.owner, kind: DoorbellKind.send, number: 5, offset: 2 * 4096 + 0x10 });
    expect(errs[0]!.startCycle).toBe(c0 + 2);
    expect(t.wires()).toMatchObject({ stat_doorbells: 1, stat_rejected_owner: 1, stat_rejected_other: 0, stat_fetches: 0 });
    expect(t.pendingEntries()).toBe(0);

    // the owner rings the same doorbell on its own page: accepted (the check is not a blanket drop)
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 5, counter: 9 }), c0 + 60));
    t.runUntil(c0 + 100);
    expect(fetches(t).map((f) => [f.qpn, f.counter, f.cycle])).toEqual([[5, 9, c0 + 63]]);
    expect(t.take("m_err")).toEqual([]);
  });

  it("a CQ of another context cannot be armed from one's own page", () => {
    const t = twinWith(8, (n) => (n === 3 ? 4 : 1));
    t.offer("s_mmio", txn(cqDoorbell(1, { cqn: 3, cmd: CqCommand.reqNot, ci: 7 }), 50));
    t.runUntil(80);
    expect(t.take("m_cq_arm")).toEqual([]);
    expect(DoorbellError.decode(t.take("m_err")[0]!.data).reason).toBe(RejectReason.owner);
  });

  it("unknown queues, bad offsets and bad commands are dropped with their own reasons and counted as other", () => {
    const t = twinWith(8, () => 1, { qpEntries: 16 });
    let c = 40;
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 12, counter: 1 }), c++)); // never configured
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 16, counter: 1 }), c++)); // beyond QP_ENTRIES
    const bad = sendDoorbell(1, { qpn: 2, counter: 1 });
    bad[3] = 0x28; // offset 0x28: no doorbell there
    t.offer("s_mmio", txn(bad, c++));
    t.offer("s_mmio", txn(sendDoorbell(64, { qpn: 2, counter: 1 }), c++)); // page beyond UAR_PAGES
    t.offer("s_mmio", txn(cqDoorbell(1, { cqn: 2, cmd: 3, ci: 1 }), c++));
    t.runUntil(100);
    expect(t.take("m_err").map((e) => DoorbellError.decode(e.data).reason)).toEqual([
      RejectReason.invalidQueue,
      RejectReason.invalidQueue,
      RejectReason.badOffset,
      RejectReason.badOffset,
      RejectReason.badCommand,
    ]);
    expect(t.wires()).toMatchObject({ stat_doorbells: 5, stat_rejected_owner: 0, stat_rejected_other: 5, stat_fetches: 0 });
  });

  it("a QP invalidated by firmware stops taking doorbells from the next cycle", () => {
    const t = twinWith(4, () => 1);
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 2, 1, false), 30));
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 2, counter: 1 }), 29)); // checked at 30: still valid
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 2, counter: 2 }), 30)); // checked at 31: invalid
    t.runUntil(60);
    expect(fetches(t).map((f) => f.counter)).toEqual([1]);
    expect(t.take("m_err").map((e) => DoorbellError.decode(e.data).reason)).toEqual([RejectReason.invalidQueue]);
  });
});

describe("doorbell twin: ownership read-back (s_cfg read, m_cfg_rd)", () => {
  const answers = (t: DoorbellTwin) => t.take("m_cfg_rd").map((x) => ({ ...CfgWrite.decode(x.data), cycle: x.startCycle }));

  it("answers each entry's valid bit and UAR page the cycle after the read, table and number echoed", () => {
    const t = twinWith(4, (n) => n + 1);
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 2, 7, false), 20)); // a destroyed QP
    [cfgRead(CfgTable.qp, 1), cfgRead(CfgTable.cq, 3), cfgRead(CfgTable.qp, 2), cfgRead(CfgTable.qp, 5), cfgRead(CfgTable.cq, 64), cfgRead(7, 1)]
      .forEach((r, i) => t.offer("s_cfg", txn(r, 30 + i)));
    t.runUntil(50);
    expect(answers(t).map((a) => [a.table, a.number, a.read, a.valid, a.uar, a.cycle])).toEqual([
      [CfgTable.qp, 1, 1, 1, 2, 31],
      [CfgTable.cq, 3, 1, 1, 4, 32],
      [CfgTable.qp, 2, 1, 0, 0, 33], // invalidated: valid 0, uar 0
      [CfgTable.qp, 5, 1, 0, 0, 34], // never written
      [CfgTable.cq, 64, 1, 0, 0, 35], // beyond the table
      [7, 1, 1, 0, 0, 36], // no such table
    ]);
  });

  it("a read sees the write of the cycle before it, not the one after; reads change nothing", () => {
    const t = new DoorbellTwin();
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 9, 3), 10));
    t.offer("s_cfg", txn(cfgRead(CfgTable.qp, 9), 11));
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 9, 4), 12));
    t.offer("s_cfg", txn(cfgRead(CfgTable.qp, 9), 13));
    t.offer("s_mmio", txn(sendDoorbell(4, { qpn: 9, counter: 1 }), 14));
    t.runUntil(40);
    expect(answers(t).map((a) => a.uar)).toEqual([3, 4]);
    expect(fetches(t)).toHaveLength(1);
  });

  it("s_cfg waits while an answer is not taken: later writes land only after it leaves", () => {
    // m_cfg_rd is ready only from cycle 25 on
    const t = new DoorbellTwin({ outputReady: { m_cfg_rd: (c) => c >= 25 } });
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 1, 1), 10));
    t.offer("s_cfg", txn(cfgRead(CfgTable.qp, 1), 11));
    t.offer("s_cfg", txn(cfgRead(CfgTable.qp, 1), 12)); // held: the first answer waits until 25
    t.offer("s_cfg", txn(cfgWrite(CfgTable.qp, 1, 2), 13)); // held behind it
    t.offer("s_cfg", txn(cfgRead(CfgTable.qp, 1), 14));
    t.runUntil(60);
    expect(answers(t).map((a) => [a.uar, a.cycle])).toEqual([[1, 25], [1, 26], [2, 28]]);
  });
});

describe("doorbell twin: coalescing", () => {
  it("send doorbells for a QP whose fetch is waiting merge into one request: latest counter, first WQE's opcode", () => {
    // m_fetch is held not ready until cycle 200
    const t = twinWith(4, () => 1, { outputReady: { m_fetch: (c) => c >= 200 } });
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 3, counter: 0, opcode: 1 }), 50)); // occupies the output register
    for (let i = 1; i <= 20; i++) t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 3, counter: i, opcode: 10 + i, size: i }), 50 + i));
    t.runUntil(300);
    const f = fetches(t);
    expect(f.map((x) => [x.counter, x.doorbells, x.opcode, x.size, x.cycle])).toEqual([
      [0, 1, 1, 0, 200],
      [20, 20, 11, 1, 201],
    ]);
    expect(t.wires()).toMatchObject({ stat_doorbells: 21, stat_coalesced: 19, stat_fetches: 2 });
  });

  it("receive doorbells sum their WQE counts; CQ doorbells keep the strongest arm and the latest consumer index", () => {
    const t = twinWith(4, () => 2, { outputReady: { m_fetch: (c) => c >= 100, m_cq_arm: (c) => c >= 100 } });
    let c = 40;
    t.offer("s_mmio", txn(receiveDoorbell(2, { qpn: 0, counter: 0, nreq: 1 }), c++));
    t.offer("s_mmio", txn(cqDoorbell(2, { cqn: 1, cmd: CqCommand.setCi, ci: 1 }), c++));
    for (const n of [3, 4, 5]) t.offer("s_mmio", txn(receiveDoorbell(2, { qpn: 1, counter: n * 10, nreq: n }), c++));
    t.offer("s_mmio", txn(cqDoorbell(2, { cqn: 1, cmd: CqCommand.reqNotSol, ci: 5, sn: 1 }), c++));
    t.offer("s_mmio", txn(cqDoorbell(2, { cqn: 1, cmd: CqCommand.reqNot, ci: 9, sn: 2 }), c++));
    t.offer("s_mmio", txn(cqDoorbell(2, { cqn: 1, cmd: CqCommand.setCi, ci: 12, sn: 2 }), c++));
    t.runUntil(200);
    const f = fetches(t);
    expect(f.map((x) => [x.qpn, x.kind, x.counter, x.count, x.doorbells])).toEqual([
      [0, DoorbellKind.receive, 0, 1, 1],
      [1, DoorbellKind.receive, 50, 12, 3],
    ]);
    const cq = t.take("m_cq_arm").map((x) => CqArmUpdate.decode(x.data));
    expect(cq.map((x) => [x.cqn, x.arm, x.ci, x.sn, x.doorbells])).toEqual([
      [1, CqArm.none, 1, 0, 1],
      [1, CqArm.next, 12, 2, 3],
    ]);
  });

  it("a doorbell arriving as its queue's request is granted opens a new request instead of merging into the one that left", () => {
    const t = twinWith(2, () => 1);
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 1, counter: 1 }), 10));
    t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 1, counter: 2 }), 11));
    t.runUntil(40);
    expect(fetches(t).map((f) => [f.counter, f.doorbells, f.cycle])).toEqual([[1, 1, 13], [2, 1, 14]]);
  });
});

describe("doorbell twin: fairness", () => {
  it("no QP starves under a hot QP: every queue is served within PENDING grants of its doorbell", () => {
    const P = 16;
    // m_fetch accepts one request in three cycles, so work piles up and arbitration matters
    const t = twinWith(32, (n) => 1 + (n % 4), { pending: P, outputReady: { m_fetch: (c) => c % 3 === 0 } });
    const start = 100;
    const cold = new Map<number, number>(); // qpn → cycle of its doorbell
    let counterHot = 0;
    for (let c = start; c < start + 3000; c++) {
      // the hot QP 0 rings every cycle; every 7th cycle one of the 14 cold QPs rings too
      t.offer("s_mmio", txn(sendDoorbell(1, { qpn: 0, counter: ++counterHot & 0xffff }), c));
      if ((c - start) % 7 === 3) {
        const q = 4 + (((c - start) / 7) | 0) % 14;
        if (!cold.has(q)) cold.set(q, c);
        t.offer("s_mmio", txn(sendDoorbell(1 + (q % 4), { qpn: q, counter: c & 0xffff }), c));
      }
    }
    t.runUntil(start + 20_000);
    const f = fetches(t);
    // a grant order in which the hot QP never gets two turns while a cold queue waits
    const byQp = new Map<number, number[]>();
    f.forEach((x, i) => byQp.set(x.qpn, [...(byQp.get(x.qpn) ?? []), i]));
    expect(byQp.size).toBe(15);
    let maxGap = 0;
    let lastHot = -1;
    for (const [i, x] of f.entries()) {
      if (x.qpn === 0) {
        lastHot = i;
      } else if (lastHot >= 0) {
        // between two hot grants at most P-1 other grants; cold queues are not held behind the hot one
        maxGap = Math.max(maxGap, i - lastHot);
      }
    }
    expect(maxGap).toBeLessThan(P);
    // the hot QP's doorbells coalesce heavily, and its last counter is delivered
    const hot = f.filter((x) => x.qpn === 0);
    expect(hot.length).toBeLessThan(3000 / 2);
    expect(hot.at(-1)!.counter).toBe(counterHot & 0xffff);
    expect(t.wires().stat_coalesced).toBeGreaterThan(1000);
    // every cold queue is served within P request slots of its first doorbell
    for (const [q, at] of cold) {
      const first = f.find((x) => x.qpn === q)!;
      const slotsWaited = f.filter((x) => x.cycle > at + 2 && x.cycle < first.cycle).length;
      expect(slotsWaited, `QP ${q}`).toBeLessThan(P);
    }
  });
});

// speed is measured by `make bench` (model.doorbell.doorbells_per_s), not here
describe("doorbell twin: volume", () => {
  it("accounts for every one of 400,000 back-to-back doorbells (fetched or coalesced)", () => {
    const t = twinWith(64, (n) => 1 + (n % 8));
    const recs = Array.from({ length: 64 }, (_, n) => sendDoorbell(1 + (n % 8), { qpn: n, counter: n }));
    const N = 400_000;
    for (let i = 0; i < N; i++) t.offer("s_mmio", txn(recs[(i * 7) & 63]!, 100 + i));
    t.runUntil(100 + N + 100);
    const out = t.take("m_fetch").length;
    expect(out + t.wires().stat_coalesced).toBe(N);
  });
});

describe("doorbell twin: record writer", () => {
  it("writes the same bytes as Layout.encode", async () => {
    const { recordWriter } = await import("./doorbell-twin.ts");
    const w = recordWriter(FetchRequest, ["qpn", "kind", "fence", "opcode", "counter", "size", "doorbells", "count"]);
    const v = [0xabcdef, 1, 1, 0x15, 0xfedc, 0x2a, 0x99, 0x1234];
    expect(w(v)).toEqual(FetchRequest.encode({ qpn: v[0], kind: v[1], fence: v[2], opcode: v[3], counter: v[4], size: v[5], doorbells: v[6], count: v[7] }));
    const e = recordWriter(DoorbellError, ["reason", "kind", "number", "offset"]);
    expect(e([4, 3, 0x123456, 0xfedcba98])).toEqual(DoorbellError.encode({ reason: 4, kind: 3, number: 0x123456, offset: 0xfedcba98 }));
  });
});

describe("doorbell twin: packed inputs and outputs", () => {
  it("offerPacked/takePacked give exactly what offer/take give, under back-pressure and over many quanta", async () => {
    const { generateDoorbellTraffic, doorbellStimulus } = await import("../../testbench/traffic/doorbell-traffic.ts");
    const { pack, unpack } = await import("../../core/packed-transactions.ts");
    const traffic = generateDoorbellTraffic({ seed: 4, doorbells: 20_000, processes: 5, qpsPerProcess: 6, cqsPerProcess: 2, hotShare: 0.5, adversarial: 0.1 });
    const items = [...doorbellStimulus(traffic)];
    const outputReady = { m_fetch: (c: number) => c % 7 !== 3, m_err: (c: number) => c % 5 !== 0 };
    const a = new DoorbellTwin({ outputReady });
    const b = new DoorbellTwin({ outputReady });
    const ports = ["m_fetch", "m_cq_arm", "m_err", "m_cfg_rd"];
    const seenA = new Map(ports.map((p) => [p, [] as StreamTransaction[]]));
    const seenB = new Map(ports.map((p) => [p, [] as StreamTransaction[]]));
    const Q = 997;
    let end = 0;
    for (let i = 0; i < items.length || end < items.at(-1)!.txn.startCycle + 5000; ) {
      end += Q;
      const batch: Record<string, StreamTransaction[]> = { s_cfg: [], s_mmio: [] };
      while (i < items.length && items[i]!.txn.startCycle < end) {
        batch[items[i]!.port]!.push(items[i]!.txn);
        i++;
      }
      for (const [port, ts] of Object.entries(batch)) {
        for (const t of ts) a.offer(port, t);
        if (ts.length) b.offerPacked(port, pack(ts, []), ts.length);
      }
      a.runUntil(end);
      b.runUntil(end);
      for (const p of ports) {
        seenA.get(p)!.push(...a.take(p));
        const { bytes, count } = b.takePacked(p);
        // lent until the twin runs again: copied, as the scoreboard does
        seenB.get(p)!.push(...unpack(bytes.slice(), count, [], p));
      }
    }
    const flat = (ts: StreamTransaction[]) => ts.map((t) => [t.startCycle, t.endCycle, ...t.data]);
    for (const p of ports) expect(flat(seenB.get(p)!), p).toEqual(flat(seenA.get(p)!));
    expect(seenA.get("m_fetch")!.length).toBeGreaterThan(5000);
    expect(seenA.get("m_err")!.length).toBeGreaterThan(500);
    expect(seenA.get("m_cfg_rd")!.length).toBe(traffic.readbacks.length);
    expect(b.wires()).toEqual(a.wires());
  });
});
