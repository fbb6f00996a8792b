/** TransportPacket: the pool, and views of a packet's bytes. */
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
