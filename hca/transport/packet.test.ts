/** TransportPacket: the pool, views of a packet's bytes, and a payload held by reference. */
import { describe, expect, it } from "vitest";
import { PacketPool, packetFrom } from "./packet.ts";

describe("TransportPacket", () => {
  it("hands out the same view while offset and length repeat, a new one when they change", () => {
    const p = new PacketPool().get();
    for (let i = 0; i < 64; i++) p.buf[i] = i;
    const v = p.view(28, 16);
    expect([...v]).toEqual(Array.from({ length: 16 }, (_, i) => 28 + i));
    expect(p.view(28, 16)).toBe(v);
    p.buf[30] = 0xee; // a view, not a copy
    expect(v[2]).toBe(0xee);
    const w = p.view(12, 16);
    expect(w).not.toBe(v);
    expect(w[0]).toBe(12);
    expect(p.view(12, 4)).toEqual(Uint8Array.of(12, 13, 14, 15));
    expect(p.view(0, 0)).toHaveLength(0);
  });

  it("holds a payload by reference until its bytes are read: buf, bytes, view and copyFrom copy it in, source does not", () => {
    const page = Uint8Array.from({ length: 4096 }, (_, i) => i & 0xff);
    const pool = new PacketPool();
    const p = pool.get();
    p.store.set([1, 2, 3, 4]);
    p.length = 12;
    p.referPayload(4, 8, page, 100);
    expect(p.payloadByReference).toBe(true);
    expect(p.source(4, 8)).toBe(page);
    expect(p.sourceOffset).toBe(100);
    page[100] = 0xee; // the bytes are those of memory when the packet is read
    expect([...p.bytes]).toEqual([1, 2, 3, 4, 0xee, 101, 102, 103, 104, 105, 106, 107]);
    expect(p.payloadByReference).toBe(false);
    page[101] = 0; // copied in now: later writes to the page do not show
    expect(p.view(4, 8)[1]).toBe(101);
    expect(p.source(4, 8)).toBe(p.store);
    expect(p.sourceOffset).toBe(4);
    // any other range than the payload's is read from the store, with the payload copied in first
    const q = pool.get();
    q.length = 12;
    q.referPayload(4, 8, page, 8);
    expect(q.source(0, 12)).toBe(q.store);
    expect([...q.store.subarray(4, 12)]).toEqual([...page.subarray(8, 16)]);
    const r = pool.get();
    r.length = 12;
    r.referPayload(4, 8, page, 16);
    const copy = pool.get();
    copy.copyFrom(r);
    expect([...copy.bytes.subarray(4)]).toEqual([...page.subarray(16, 24)]);
    expect(copy.payloadByReference).toBe(false);
    // a released packet drops its reference
    r.referPayload(4, 8, page, 16);
    r.release();
    expect(pool.get().payloadByReference).toBe(false);
  });

  it("returns released packets to its pool and resets the address fields it hands out", () => {
    const pool = new PacketPool();
    const p = pool.get();
    p.length = 40;
    p.slid = 7;
    p.hasGrh = true;
    p.release();
    expect(pool.available).toBe(1);
    const q = pool.get();
    expect(q).toBe(p);
    expect([q.length, q.slid, q.hasGrh]).toEqual([0, 0, false]);
    expect(pool.created).toBe(1);
    const loose = packetFrom(Uint8Array.of(1, 2, 3));
    loose.release(); // no pool: left to the garbage collector
    expect(pool.available).toBe(0);
    expect(loose.view(1, 2)).toEqual(Uint8Array.of(2, 3));
  });
});
