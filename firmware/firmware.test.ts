import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { COMMAND_BY_OPCODE, COMMANDS, InitHcaIn, Status, statusName, type FirmwareCommand } from "./commands.ts";
import { ModelDeviceBus } from "./device-bus.ts";
import { cqContext, eqContext, FIRST, firmwareSuite, mptEntry, mttBox, qpBox, Rig, SUITE_INIT } from "./firmware-suite.ts";
import { encodeMpt } from "../hca/formats/index.ts";

firmwareSuite("model", () => new ModelDeviceBus());

/**
 * Random commands: mostly known opcodes, indexes near the interesting boundaries, and
 * inboxes that are either well-formed (so commands often succeed and build up state) or
 * garbage. Each command is checked against the rules every command obeys.
 */
const opcodes = COMMANDS.map((c) => c.opcode as number);
const index = fc.oneof(
  fc.integer({ min: 0, max: 20 }),
  fc.integer({ min: 0, max: 300 }),
  fc.constantFrom(FIRST.qp, FIRST.cq, FIRST.eq, FIRST.mpt, FIRST.mpt + 1, 63, 64, 255, 256, (1 << 24) | FIRST.qp, 0x8000_0001),
  fc.nat({ max: 0xffff_ffff }),
);
const small = fc.integer({ min: 0, max: 20 });
const inbox = fc.oneof(
  fc.constant(undefined),
  fc.uint8Array({ maxLength: 80 }),
  fc.constant(InitHcaIn.encode(SUITE_INIT)),
  fc.record({ log_num_qps: small, log_num_cqs: small, log_num_eqs: small, log_mpt_sz: small, log_mtt_sz: small }).map((r) => InitHcaIn.encode(r)),
  fc.record({ variant: fc.nat(255), pd: fc.nat(5000), log2PageSize: fc.integer({ min: 10, max: 33 }), mttBase: fc.nat(300), length: fc.bigInt({ min: 0n, max: 1n << 20n }), start: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), state: fc.nat(2) })
    .map((e) => encodeMpt(mptEntry({ ...e, log2PageSize: Math.min(e.log2PageSize, 255) }))),
  fc.tuple(fc.nat(300), fc.integer({ min: 0, max: 4 })).map(([i, n]) => mttBox(i, Array.from({ length: n }, (_, k) => BigInt(k + 1) << 12n))),
  fc.record({ cqn: small, comp_eqn: small, error_eqn: small, log_size: fc.nat(31), pd: fc.nat(5000) }).map((r) => cqContext(r.cqn, r)),
  fc.record({ log_size: fc.nat(31), pd: fc.nat(5000) }).map((r) => eqContext(r)),
  fc.record({ st: fc.nat(4), port: fc.nat(3), pd: fc.constantFrom(3, 4, 5000), mtu: fc.nat(6), send_cqn: small, recv_cqn: small, log_sq_size: fc.nat(15) }).map((r) => qpBox(r)),
);
const wildCommand: fc.Arbitrary<FirmwareCommand> = fc.record({
  opcode: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...opcodes) }, { weight: 1, arbitrary: fc.nat(0xfff) }),
  opModifier: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(15) }),
  inParam: fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 15n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n })),
  inModifier: index,
  token: fc.nat(0xffff),
  inbox,
});

/** mostly-valid values, so that sequences of commands build real state (QPs reach RTS, ...) */
const pick = <T,>(...v: T[]) => fc.constantFrom(...v);
const shapedInbox: Record<string, fc.Arbitrary<Uint8Array | undefined>> = {
  INIT_HCA: fc.constant(InitHcaIn.encode(SUITE_INIT)),
  SW2HW_MPT: fc.record({ variant: fc.nat(255), pd: pick(3, 3, 5000), mttBase: pick(FIRST.mtt, FIRST.mtt, 0, 255), log2PageSize: pick(12, 12, 11) })
    .map((e) => encodeMpt(mptEntry(e))),
  WRITE_MTT: fc.tuple(pick(FIRST.mtt, FIRST.mtt + 8, 0, 254), fc.integer({ min: 1, max: 4 })).map(([i, n]) => mttBox(i, Array.from({ length: n }, (_, k) => BigInt(k + 1) << 12n))),
  SW2HW_EQ: fc.record({ log_size: pick(6, 6, 17), pd: pick(3, 3, 5000) }).map((r) => eqContext(r)),
  SW2HW_CQ: fc.record({ cqn: pick(FIRST.cq, FIRST.cq + 1, FIRST.cq + 1, 0), comp_eqn: pick(FIRST.eq, FIRST.eq, FIRST.eq + 1), log_size: pick(6, 6, 17) })
    .map((r) => cqContext(r.cqn, r)),
  QP: fc.oneof(
    { weight: 3, arbitrary: fc.constant(qpBox()) },
    {
      weight: 1,
      arbitrary: fc.record({ st: pick(0, 1, 3, 2), port: pick(1, 2, 0), pd: pick(3, 4), mtu: pick(5, 0), send_cqn: pick(FIRST.cq, FIRST.cq + 1), log_sq_size: pick(6, 13) })
        .map((r) => qpBox(r)),
    },
  ),
};
const shapedIndex: Record<string, fc.Arbitrary<number>> = {
  qpn: pick(FIRST.qp, FIRST.qp, FIRST.qp, FIRST.qp + 1, 0, 64),
  cqn: pick(FIRST.cq, FIRST.cq + 1, FIRST.cq + 1, 0, 16),
  eqn: pick(FIRST.eq, FIRST.eq + 1, FIRST.eq + 1, 0, 8),
  mpt_index: pick(FIRST.mpt, FIRST.mpt + 1, FIRST.mpt + 1, 0, 64),
  port: pick(1, 2, 0, 3),
  map_eq: pick(FIRST.eq, FIRST.eq + 1, 0x8000_0000 + FIRST.eq + 1, 8),
  mtt_count: pick(1, 2, 3, 4, 0),
  none: fc.constant(0),
};
const shapedCommand: fc.Arbitrary<FirmwareCommand> = fc.constantFrom(...COMMANDS).chain((spec) =>
  fc.record({
    opcode: fc.constant(spec.opcode as number),
    opModifier: fc.constantFrom(...Object.keys(spec.opModifiers).map(Number)),
    inParam: spec.inParam === "event_mask" ? fc.bigInt({ min: 0n, max: 15n }) : fc.constant(0n),
    inModifier: shapedIndex[spec.inModifier],
    token: fc.constant(0),
    inbox: spec.inbox === undefined ? fc.constant(undefined) : (shapedInbox[spec.name] ?? shapedInbox.QP),
  }),
);
const randomCommand = fc.oneof(wildCommand, shapedCommand);

describe("firmware under random commands (fast-check)", () => {
  it("never throws, returns only statuses the table lists, and a failure changes nothing", async () => {
    await fc.assert(
      fc.asyncProperty(fc.boolean(), fc.array(randomCommand, { minLength: 1, maxLength: 40 }), async (bringUp, commands) => {
        const r = new Rig(new ModelDeviceBus());
        if (bringUp) await r.bringUp();
        for (const c of commands) {
          const before = await r.state();
          const res = await r.fw.execute(c);
          const spec = COMMAND_BY_OPCODE.get(c.opcode);
          const allowed = spec?.statuses ?? [Status.BAD_OP];
          if (!allowed.includes(res.status)) throw new Error(`${spec?.name ?? c.opcode}: ${statusName(res.status)} is not in the table`);
          const after = await r.state();
          if (res.status !== Status.OK) expect(after).toEqual(before);
          // the firmware's record and the device tables never drift apart
          expect(after.firmware.mpt.map(([i, , h]) => [i, h])).toEqual(after.device.mpt);
          expect(after.firmware.cq).toEqual(after.device.cq);
          expect(after.firmware.eq).toEqual(after.device.eq);
          expect(after.firmware.qp.map(([i, , h]) => [i, h])).toEqual(after.device.qp);
          expect(after.firmware.eventMap).toEqual(after.device.eventMap);
          expect(after.firmware.portsUp).toEqual(after.device.portsUp);
          expect(after.firmware.sizes).toEqual(after.device.sizes);
        }
      }),
      { numRuns: 150 },
    );
  });

  it("reaches success for most commands (the generator is not only producing rejections)", async () => {
    const seen = new Set<string>();
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(randomCommand, shapedCommand), { minLength: 40, maxLength: 80 }), async (commands) => {
        const r = new Rig(new ModelDeviceBus());
        await r.bringUp();
        for (const c of commands) {
          const res = await r.fw.execute(c);
          if (res.status === Status.OK) seen.add(COMMAND_BY_OPCODE.get(c.opcode)!.name);
        }
      }),
      { numRuns: 200, seed: 4 },
    );
    expect(COMMANDS.map((c) => c.name).filter((n) => !seen.has(n))).toEqual([]);
  });
});
