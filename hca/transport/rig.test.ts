/** The fixture's CQE decoding and the CQE writer, against the layout's own codec. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { HostMemory } from "../../core/index.ts";
import { CQE_BYTES, CQE_VENDOR_SYNDROME, CqeLayout } from "../formats/index.ts";
import { Completion, CompletionQueue, CompletionWriter } from "./cq.ts";
import { decodeCqe } from "./rig.ts";

describe("CQEs", () => {
  it("decodeCqe gives CqeLayout.decode's record for any 32 bytes (property)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: CQE_BYTES, maxLength: CQE_BYTES }), (b) => {
        expect(decodeCqe(b)).toEqual(CqeLayout.decode(b));
      }),
    );
  });

  it("the writer puts each completion field where the layout says, every other bit zero (property)", () => {
    const arb = fc.record({
      qpn: fc.nat(0xff_ffff), isSend: fc.boolean(), opcode: fc.nat(31), wqeIndex: fc.nat(2 ** 20), byteCount: fc.nat(2 ** 32 - 1), status: fc.nat(21),
      imm: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), rqpn: fc.nat(0xff_ffff), rlid: fc.nat(0xffff), sl: fc.nat(15), grh: fc.boolean(), pi: fc.nat(100),
    });
    fc.assert(
      fc.property(arb, (c) => {
        const memory = new HostMemory();
        const cq = new CompletionQueue({ cqn: 3, ring: 0x4000, logSize: 3 });
        cq.pi = c.pi;
        const done = Object.assign(new Completion(), c);
        new CompletionWriter(memory, "t", new Map()).write(cq, done);
        const at = 0x4000 + (c.pi & 7) * CQE_BYTES;
        const want = CqeLayout.encode({
          qpn: c.qpn, imm: c.imm >>> 0, grh: c.grh ? 1 : 0, rqpn: c.rqpn, sl: c.sl, rlid: c.rlid, status: c.status, vendorErr: CQE_VENDOR_SYNDROME[c.status] ?? 0,
          byteCount: c.byteCount, wqeIndex: c.wqeIndex & 0xffff, owner: (c.pi >>> 3) & 1, isSend: c.isSend ? 1 : 0, opcode: c.opcode,
        });
        expect(memory.read(at, CQE_BYTES)).toEqual(want);
      }),
    );
  });
});
