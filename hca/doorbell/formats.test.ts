import { describe, expect, it } from "vitest";
import {
  CfgTable,
  cfgRead,
  cfgReadback,
  cfgWrite,
  CfgWrite,
  CqArmUpdate,
  CqDoorbell,
  cqDoorbell,
  DoorbellError,
  FetchRequest,
  MmioWrite,
  ReceiveDoorbell,
  SendDoorbell,
  sendDoorbell,
} from "./formats.ts";

const layouts = [MmioWrite, SendDoorbell, ReceiveDoorbell, CqDoorbell, CfgWrite, FetchRequest, CqArmUpdate, DoorbellError];

describe("doorbell formats", () => {
  for (const l of layouts) {
    it(`${l.name}: every offset is the sum of the sizes before it`, () => {
      let bit = 0;
      for (const f of l.fields) {
        expect(f.bitOffset, f.name).toBe(bit);
        expect(f.byteOffset, f.name).toBe(bit >>> 3);
        bit += f.bits;
      }
      expect(l.sizeBytes * 8).toBe(bit);
    });
  }

  it("record sizes match the stream widths in block.yaml", () => {
    expect([MmioWrite.sizeBytes, CfgWrite.sizeBytes, FetchRequest.sizeBytes, CqArmUpdate.sizeBytes, DoorbellError.sizeBytes]).toEqual([16, 8, 12, 8, 8]);
  });

  it("a send doorbell is word0 = counter << 8 | fence << 5 | opcode, word1 = qpn << 8 | size, big-endian", () => {
    const rec = sendDoorbell(3, { qpn: 0x123456, counter: 0xbeef, fence: 1, opcode: 0x0a, size: 5 });
    const dv = new DataView(rec.buffer);
    expect(dv.getUint32(0)).toBe(3 * 4096 + 0x10);
    expect(rec[4]).toBe(8);
    expect(dv.getUint32(8)).toBe((0xbeef << 8) | (1 << 5) | 0x0a);
    expect(dv.getUint32(12)).toBe(((0x123456 << 8) | 5) >>> 0);
  });

  it("a CQ doorbell is word0 = sn << 28 | cmd << 24 | cqn, word1 = ci (mlx4 layout)", () => {
    const rec = cqDoorbell(2, { cqn: 0x42, cmd: 2, ci: 0x00abcd, sn: 1 });
    const dv = new DataView(rec.buffer);
    expect(dv.getUint32(0)).toBe(2 * 4096 + 0x20);
    expect(dv.getUint32(8)).toBe((1 << 28) | (2 << 24) | 0x42);
    expect(dv.getUint32(12)).toBe(0xabcd);
  });

  it("an ownership read is a CfgWrite record with the read bit (byte 1 bit 1); its answer keeps the layout, uar 0 unless valid", () => {
    expect([...cfgWrite(CfgTable.cq, 0x12, 3)]).toEqual([1, 0x01, 0, 3, 0, 0, 0, 0x12]);
    expect([...cfgRead(CfgTable.qp, 0x345)]).toEqual([0, 0x02, 0, 0, 0, 0, 0x03, 0x45]);
    expect(CfgWrite.decode(cfgReadback(CfgTable.qp, 5, true, 9))).toMatchObject({ read: 1, valid: 1, uar: 9, number: 5 });
    expect(CfgWrite.decode(cfgReadback(CfgTable.qp, 5, false, 9))).toMatchObject({ read: 1, valid: 0, uar: 0 });
  });
});
