/** The QP's queues: the response FIFO, and send-queue slots whose lists share one store. */
import { describe, expect, it } from "vitest";
import { HostMemory } from "../../core/index.ts";
import { ACCESS_ALL } from "../formats/index.ts";
import { TptFault } from "../tpt/index.ts";
import { Protection, RegionTable } from "./protection.ts";
import { RecordQueue, TransportQp } from "./qp.ts";
import { encodeWorkRequest } from "./work-request.ts";

describe("RecordQueue", () => {
  it("keeps its records in order across growth and wrap, and filters in place", () => {
    let made = 0;
    const q = new RecordQueue(() => ({ id: made++, v: 0 }), 3); // rounded up to 4
    let next = 0;
    const expected: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < 3 + round; i++) {
        q.push().v = next;
        expected.push(next++);
      }
      for (let i = 0; i < 2; i++) {
        expect(q.peek().v).toBe(expected.shift());
        q.shift();
      }
      expect(q.tail().v).toBe(expected[expected.length - 1]);
    }
    expect(q.length).toBe(expected.length);
    q.filter((r) => r.v % 2 === 0);
    const kept = expected.filter((v) => v % 2 === 0);
    const seen: number[] = [];
    while (q.length > 0) {
      seen.push(q.peek().v);
      q.shift();
    }
    expect(seen).toEqual(kept);
  });
});

describe("send-queue slots", () => {
  it("keep each slot's SGE list and translation apart, though the lists share one store", () => {
    const memory = new HostMemory();
    const tables = new RegionTable();
    const prot = new Protection(tables, memory, "t");
    const pd = 1;
    const buf = memory.alloc(16 * 4096, 4096);
    const { key } = tables.register(pd, buf, 16 * 4096, ACCESS_ALL);
    for (let i = 0; i < 16 * 4096; i += 4) memory.writeU32Be(buf + i, i);
    const qp = new TransportQp({ qpn: 0x10, type: "RC", pd, sendCqn: 1, recvCqn: 1, logSqSize: 2 });
    // every slot a different gather list: slot k takes k+1 segments, segment j 100·(k+1)+j bytes
    const lists = qp.sq.map((w, k) => {
      const sgl = Array.from({ length: k + 1 }, (_, j) => ({ addr: BigInt(buf + (k * 2 + j) * 4096 + 8 * j), length: 100 * (k + 1) + j, lkey: key }));
      w.load(encodeWorkRequest({ opcode: 0x0a, sgl }));
      return sgl;
    });
    for (const w of qp.sq) expect(w.sgl.validate(prot, pd, 0)).toBe(TptFault.ok);
    qp.sq.forEach((w, k) => {
      const sgl = lists[k];
      const total = sgl.reduce((n, s) => n + s.length, 0);
      expect(w.length).toBe(total);
      const got = new Uint8Array(total + 3);
      expect(w.sgl.read(prot, 0, total, got, 3)).toBe(true);
      const want = new Uint8Array(total + 3);
      let at = 3;
      for (const s of sgl) {
        want.set(memory.read(Number(s.addr), s.length), at);
        at += s.length;
      }
      expect(got).toEqual(want);
      // and gathered from the middle of the message, across a segment boundary
      const mid = new Uint8Array(50);
      expect(w.sgl.read(prot, sgl[0].length - 20, 50, mid, 0)).toBe(k > 0);
      if (k > 0) expect(mid).toEqual(want.subarray(3 + sgl[0].length - 20, 3 + sgl[0].length + 30));
    });
  });
});
