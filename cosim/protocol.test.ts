import { describe, expect, it } from "vitest";
import { decodeMessage, decodeStreamRecords, encodeMessage, encodeStreamMessage, ProtocolError } from "./codec.ts";
import { FIELD_SIZE, fieldOffsets, HEADER_FIELDS, HEADER_SIZE, MESSAGES, STREAM_RECORD_FIELDS, STREAM_RECORD_SIZE } from "./protocol.ts";
import { generateProtocolHeader } from "./protocol-cpp.ts";

describe("protocol tables", () => {
  it("every offset is the sum of the sizes before it", () => {
    for (const fields of [HEADER_FIELDS, STREAM_RECORD_FIELDS, ...MESSAGES.map((m) => m.fields)]) {
      const offs = fieldOffsets(fields);
      let sum = 0;
      for (const f of fields) {
        expect(offs.get(f.name)).toBe(sum);
        sum += FIELD_SIZE[f.type];
      }
    }
    expect(HEADER_SIZE).toBe(16);
    expect(STREAM_RECORD_SIZE).toBe(24);
  });

  it("type numbers are unique and fall in the range of their direction and role", () => {
    const types = MESSAGES.map((m) => m.type);
    expect(new Set(types).size).toBe(types.length);
    for (const m of MESSAGES) {
      const h2r = m.name.startsWith("H2R_");
      expect(h2r || m.name.startsWith("R2H_")).toBe(true);
      expect(m.type >= 0x80).toBe(!h2r);
      const data = m.tail === "records" || m.tail === "values";
      expect((m.type & 0x7f) >= 0x40).toBe(data);
    }
  });

  it("the generated C++ header asserts the size of every fixed part", () => {
    const h = generateProtocolHeader();
    for (const m of MESSAGES) {
      if (m.fields.length) expect(h).toContain(`static_assert(sizeof(Body_${m.name}) ==`);
      expect(h).toContain(`${m.name} = 0x`);
    }
    expect(h).toContain("static_assert(sizeof(MsgHeader) == 16");
    expect(h).toContain("static_assert(sizeof(StreamRecord) == 24");
  });
});

describe("codec", () => {
  it("round-trips a fixed message with a u64 beyond 32 bits and a hash", () => {
    const hash = new Uint8Array(32).map((_, i) => i);
    const f = encodeMessage("H2R_HELLO", 7, { protocolVersion: 1, flags: 0, manifestHash: hash });
    const m = decodeMessage(f);
    expect(m.name).toBe("H2R_HELLO");
    expect(m.seq).toBe(7);
    expect([...(m.fields.manifestHash as Uint8Array)]).toEqual([...hash]);
    const a = decodeMessage(encodeMessage("H2R_ADVANCE", 1, { untilCycle: 2 ** 40 + 5 }));
    expect(a.fields.untilCycle).toBe(2 ** 40 + 5);
  });

  it("round-trips stream records with user fields and empty data", () => {
    const txns = [
      { data: new Uint8Array([1, 2, 3]), user: { a: 5, b: 0xffffffff }, startCycle: 10, endCycle: 12 },
      { data: new Uint8Array(0), user: { a: 0, b: 1 }, startCycle: 2 ** 35, endCycle: 2 ** 35 },
    ];
    const f = encodeStreamMessage("R2H_STREAM_OUTPUT", 0, 1, txns, ["a", "b"]);
    const m = decodeMessage(f);
    expect(m.fields.port).toBe(1);
    const back = decodeStreamRecords(m.tail, m.fields.count as number, ["a", "b"], "t");
    expect(back.map((t) => ({ ...t, data: [...t.data] }))).toEqual(txns.map((t) => ({ ...t, data: [...t.data] })));
  });

  it("rejects bad magic, unknown types, short frames and length disagreements by name", () => {
    const good = encodeMessage("H2R_END", 0);
    const badMagic = good.slice();
    badMagic[0] = 0;
    expect(() => decodeMessage(badMagic)).toThrow(/bad magic/);
    const badType = good.slice();
    badType[6] = 0x3e;
    expect(() => decodeMessage(badType)).toThrow(/unknown message type 0x3e/);
    expect(() => decodeMessage(good.subarray(0, 10))).toThrow(ProtocolError);
    const long = new Uint8Array(good.length + 1);
    long.set(good);
    expect(() => decodeMessage(long)).toThrow(/header says 0 body bytes/);
    const recs = encodeStreamMessage("H2R_STREAM_INPUT", 0, 0, [{ data: new Uint8Array(4), user: { x: 1 }, startCycle: 0, endCycle: 0 }], ["x"]);
    const m = decodeMessage(recs);
    expect(() => decodeStreamRecords(m.tail, 1, ["x", "y"], "blk.s")).toThrow(/blk.s: record 0 has 1 user fields, the manifest declares 2/);
  });
});
