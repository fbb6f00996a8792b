import { describe, expect, it } from "vitest";
import { Prng } from "../../core/prng.ts";
import { Bth } from "../headers/index.ts";
import { burst, FaultInjector, MAX_BURST_BITS } from "./faults.ts";
import type { Frame } from "./frame.ts";
import { RoceFramer } from "./roce-framing.ts";
import { samplePacket } from "./sample-packets.ts";

const framer = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 1 });
const frames = (n: number, op = "RC_SEND_ONLY") => Array.from({ length: n }, (_, i) => framer.frame(samplePacket({ opcode: op, payloadBytes: 64, psn: i })));
const psn = (f: Frame) => Bth.get(f.packet, 0, "psn");

describe("burst", () => {
  it("draws distinct bits inside one 16-bit window that starts at the first, and stays inside the frame", () => {
    const p = new Prng(1);
    for (let n = 0; n < 2000; n++) {
      const frameBits = p.int(1, 600);
      const count = p.int(1, MAX_BURST_BITS);
      const b = burst(p, frameBits, count);
      expect(new Set(b).size).toBe(b.length);
      expect(b[b.length - 1]! - b[0]!).toBeLessThan(MAX_BURST_BITS);
      expect(b[b.length - 1]!).toBeLessThan(frameBits);
      expect(b.length).toBe(Math.min(count, frameBits - b[0]!));
    }
  });
});

describe("FaultInjector", () => {
  it("is reproducible from its seed, and a rule's own seed overrides the link's", () => {
    const hits = (seed: string, ruleSeed?: number) => {
      const inj = new FaultInjector([{ kind: "drop", rate: 0.2, seed: ruleSeed }], seed, "x");
      return frames(200).filter((f) => inj.apply(f).dropped).map(psn);
    };
    expect(hits("a")).toEqual(hits("a"));
    expect(hits("a")).not.toEqual(hits("b"));
    expect(hits("a", 5)).toEqual(hits("b", 5));
  });

  it("numbers only the frames a rule matches", () => {
    const inj = new FaultInjector([{ kind: "drop", frames: [2], match: (f) => psn(f) % 2 === 1 }], 1, "x");
    expect(frames(6).filter((f) => inj.apply(f).dropped).map(psn)).toEqual([3]);
  });

  it("a dropped frame is only dropped; a corrupted one is a new frame with its flips recorded", () => {
    const inj = new FaultInjector([{ kind: "corrupt", frames: [1], bits: 5 }, { kind: "drop", frames: [2] }, { kind: "duplicate", frames: [2, 3] }], 1, "x");
    const [a, b, c] = frames(3);
    const oa = inj.apply(a!);
    expect(oa.frame).not.toBe(a);
    expect(oa.frame.flips).toHaveLength(5);
    expect(a!.corrupted).toBe(false);
    expect(inj.apply(b!)).toMatchObject({ dropped: true, duplicated: false });
    expect(inj.apply(c!)).toMatchObject({ dropped: false, duplicated: true });
    expect(inj.injected).toEqual({ drop: 1, corrupt: 1, duplicate: 1, reorder: 0, delay: 0 });
  });
});
