import { describe, expect, it } from "vitest";
import type { Layout } from "../../core/layout.ts";
import { QpState as FirmwareQpState } from "../../firmware/index.ts";
import { Access, CQE_SYNDROMES, CqeLayout, WcStatus } from "../formats/index.ts";
import { BTH_BYTES, BTH_OPCODES, BthOpFlag, bthOpcode, EXTENSION_HEADER_BYTES } from "../headers/index.ts";
import {
  ACK_CREDITS, ackTimeoutPs, Aeth, AtomicAckEth, AtomicEth, creditCode, Ieth, ImmDt, MaskedCompareSwapPayload, MASKED_CS_PAYLOAD, NAK_ACTIONS, OP_FLAGS,
  OP_HEADER_OFFSET, OP_PAYLOAD_OFFSET, psnAdd, psnDiff, QP_STATE_BEHAVIOUR, QP_TRANSITIONS, QpState, remoteAccessOf, Reth, RNR_TIMER_US,
  TransportWqeOpcode, WQE_OP_INFO, WqeKind,
} from "./index.ts";

const F = BthOpFlag;
const op = (name: string) => BTH_OPCODES.find((o) => o.name === name)!;

describe("opcode table attributes (hca/headers/bth.ts)", () => {
  it("places each extension header at the sum of the sizes before it, and the payload after them", () => {
    for (const o of BTH_OPCODES) {
      let at = BTH_BYTES;
      for (const h of o.headers) {
        expect(o.offsets[h], `${o.name} ${h}`).toBe(at);
        at += EXTENSION_HEADER_BYTES[h];
      }
      expect(o.payloadOffset, o.name).toBe(at);
      expect(OP_PAYLOAD_OFFSET[o.opcode]).toBe(at);
    }
  });

  it("header layouts have the sizes of EXTENSION_HEADER_BYTES", () => {
    const sizes: [Layout, number][] = [[Reth, EXTENSION_HEADER_BYTES.RETH], [Aeth, EXTENSION_HEADER_BYTES.AETH], [AtomicEth, EXTENSION_HEADER_BYTES.AtomicETH],
      [AtomicAckEth, EXTENSION_HEADER_BYTES.AtomicAckETH], [ImmDt, EXTENSION_HEADER_BYTES.ImmDt], [Ieth, EXTENSION_HEADER_BYTES.IETH], [MaskedCompareSwapPayload, MASKED_CS_PAYLOAD]];
    for (const [l, n] of sizes) {
      expect(l.sizeBytes, l.name).toBe(n);
      let bit = 0;
      for (const f of l.fields) {
        expect(f.bitOffset, `${l.name}.${f.name}`).toBe(bit);
        bit += f.bits;
      }
    }
  });

  it("marks requests and responses, positions and kinds as IBTA §9.2.1 defines them", () => {
    const expectFlags = (name: string, set: number, clear: number) => {
      expect(op(name).flags & set, `${name} has`).toBe(set);
      expect(op(name).flags & clear, `${name} lacks`).toBe(0);
    };
    expectFlags("RC_SEND_FIRST", F.request | F.send | F.first | F.takesRecvWqe, F.last | F.middle | F.response);
    expectFlags("RC_SEND_MIDDLE", F.request | F.send | F.middle, F.first | F.last | F.takesRecvWqe);
    expectFlags("RC_SEND_ONLY_WITH_INVALIDATE", F.send | F.first | F.last | F.ieth | F.takesRecvWqe, F.immDt);
    expectFlags("RC_RDMA_WRITE_FIRST", F.write | F.first | F.reth, F.last | F.takesRecvWqe);
    expectFlags("RC_RDMA_WRITE_LAST_WITH_IMMEDIATE", F.write | F.last | F.immDt | F.takesRecvWqe, F.reth | F.first);
    expectFlags("RC_RDMA_READ_REQUEST", F.request | F.read | F.first | F.last | F.reth, F.payload);
    expectFlags("RC_RDMA_READ_RESPONSE_MIDDLE", F.response | F.readResponse | F.middle | F.payload, F.aeth | F.request);
    expectFlags("RC_ACKNOWLEDGE", F.response | F.ack | F.aeth, F.payload);
    expectFlags("RC_ATOMIC_ACKNOWLEDGE", F.response | F.atomicAck | F.aeth | F.atomicAckEth, F.payload);
    expectFlags("RC_FETCH_ADD", F.request | F.atomic | F.atomicEth, F.masked | F.payload);
    expectFlags("RC_MASKED_COMPARE_SWAP", F.request | F.atomic | F.masked | F.atomicEth | F.payload, 0);
    expectFlags("UD_SEND_ONLY_WITH_IMMEDIATE", F.request | F.send | F.deth | F.immDt | F.first | F.last, F.reth);
    for (const o of BTH_OPCODES) {
      expect((o.flags & F.request) !== 0, o.name).not.toBe((o.flags & F.response) !== 0);
      expect(OP_FLAGS[o.opcode]).toBe(o.flags);
      for (const [h, off] of Object.entries(o.offsets)) expect(OP_HEADER_OFFSET[h as keyof typeof OP_HEADER_OFFSET][o.opcode]).toBe(off);
    }
  });

  it("names the remote right each request needs", () => {
    expect(op("RC_RDMA_WRITE_ONLY").right).toBe("write");
    expect(op("RC_RDMA_READ_REQUEST").right).toBe("read");
    expect(op("RC_COMPARE_SWAP").right).toBe("atomic");
    expect(op("RC_SEND_ONLY").right).toBeNull();
    expect(remoteAccessOf(op("RC_RDMA_WRITE_MIDDLE").flags)).toBe(Access.remoteWrite);
    expect(remoteAccessOf(op("RC_MASKED_FETCH_ADD").flags)).toBe(Access.remoteAtomic);
  });

  it("leaves the masked atomics in the RC range and keeps reserved opcodes unknown", () => {
    expect(bthOpcode(0x18)?.name).toBe("RC_MASKED_COMPARE_SWAP");
    expect(bthOpcode(0x19)?.name).toBe("RC_MASKED_FETCH_ADD");
    expect(bthOpcode(0x15)).toBeUndefined();
    expect(OP_FLAGS[0x15]).toBe(0);
  });
});

describe("work-request opcodes", () => {
  it("map each position of a message to the wire opcode of its kind", () => {
    const send = WQE_OP_INFO[TransportWqeOpcode.SEND_IMM]!;
    expect([send.first, send.middle, send.last, send.only].map((o) => bthOpcode(o)!.name)).toEqual([
      "RC_SEND_FIRST", "RC_SEND_MIDDLE", "RC_SEND_LAST_WITH_IMMEDIATE", "RC_SEND_ONLY_WITH_IMMEDIATE",
    ]);
    expect(bthOpcode(send.ud)!.name).toBe("UD_SEND_ONLY_WITH_IMMEDIATE");
    expect(WQE_OP_INFO[TransportWqeOpcode.RDMA_WRITE]!.ud).toBe(-1);
    expect(WQE_OP_INFO[TransportWqeOpcode.RDMA_READ]!.localAccess).toBe(Access.localWrite);
    expect(WQE_OP_INFO[TransportWqeOpcode.RDMA_WRITE]!.localAccess).toBe(0);
    for (const i of WQE_OP_INFO) {
      if (i === undefined) continue;
      const kindFlag = [F.send, F.write, F.read, F.atomic][i.kind];
      for (const o of [i.first, i.middle, i.last, i.only]) expect(OP_FLAGS[o] & kindFlag, `${i.name} → 0x${o.toString(16)}`).toBe(kindFlag);
      expect(OP_FLAGS[i.only] & (F.first | F.last)).toBe(F.first | F.last);
      if (i.kind === WqeKind.send || i.kind === WqeKind.write) expect(OP_FLAGS[i.middle] & F.middle).toBe(F.middle);
    }
  });
});

describe("PSN arithmetic", () => {
  it("wraps at 2^24 and compares across the wrap", () => {
    expect(psnAdd(0xff_ffff, 1)).toBe(0);
    expect(psnAdd(0, -1)).toBe(0xff_ffff);
    expect(psnDiff(2, 0xff_fffe)).toBe(4);
    expect(psnDiff(0xff_fffe, 2)).toBe(-4);
    expect(psnDiff(0x7f_ffff, 0)).toBe(0x7f_ffff);
    expect(psnDiff(0x80_0000, 0)).toBe(-0x80_0000);
  });
});

describe("AETH tables", () => {
  it("encode credits as the largest count not above what is available", () => {
    expect(ACK_CREDITS).toHaveLength(31);
    expect(creditCode(0)).toBe(0);
    expect(creditCode(5)).toBe(4);
    expect(ACK_CREDITS[creditCode(100)]).toBe(96);
    expect(ACK_CREDITS[creditCode(1 << 20)]).toBe(32768);
    for (let i = 1; i < ACK_CREDITS.length; i++) expect(ACK_CREDITS[i]).toBeGreaterThan(ACK_CREDITS[i - 1]);
  });

  it("give 32 RNR timer values and a timeout of 4.096 µs × 2^t", () => {
    expect(RNR_TIMER_US).toHaveLength(32);
    expect(RNR_TIMER_US[0]).toBe(655360);
    expect(RNR_TIMER_US[14]).toBe(1280);
    expect(ackTimeoutPs(0)).toBe(Infinity);
    expect(ackTimeoutPs(1)).toBe(8_192_000);
    expect(ackTimeoutPs(14)).toBe(4_096_000 * 16384);
  });

  it("map every NAK code to retry or an error status", () => {
    expect(NAK_ACTIONS.map((a) => [a.code, a.retry])).toEqual([[0, true], [1, false], [2, false], [3, false], [4, false]]);
    expect(NAK_ACTIONS[2].status).toBe(WcStatus.remoteAccessError);
    expect(NAK_ACTIONS[3].status).toBe(WcStatus.remoteOperationError);
  });
});

describe("QP states", () => {
  it("use the firmware's numbers for the states it knows", () => {
    expect([QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.ERR]).toEqual([
      FirmwareQpState.RESET, FirmwareQpState.INIT, FirmwareQpState.RTR, FirmwareQpState.RTS, FirmwareQpState.ERR,
    ]);
  });

  it("let only RTR and later states respond, only RTS (and SQD) complete, only ERR flush receives", () => {
    const who = (k: "responder" | "requester" | "flushRecv") => QP_STATE_BEHAVIOUR.flatMap((b, s) => (b?.[k] ? [s] : []));
    expect(who("responder")).toEqual([QpState.RTR, QpState.RTS, QpState.SQE, QpState.SQD]);
    expect(who("requester")).toEqual([QpState.RTS]);
    expect(who("flushRecv")).toEqual([QpState.ERR]);
    expect(QP_TRANSITIONS.filter((t) => t.to === QpState.ERR)).toHaveLength(7);
  });
});

describe("CQE syndromes", () => {
  it("give every error status one mlx4 syndrome, and the layout is 32 bytes", () => {
    expect(new Set(CQE_SYNDROMES.map((s) => s.status)).size).toBe(CQE_SYNDROMES.length);
    expect(new Set(CQE_SYNDROMES.map((s) => s.mlx4)).size).toBe(CQE_SYNDROMES.length);
    expect(CQE_SYNDROMES.find((s) => s.status === "retryExceeded")!.mlx4).toBe(0x15);
    expect(CqeLayout.sizeBytes).toBe(32);
  });
});
