/**
 * Traffic sources: turn a scenario's traffic section into the input transactions of a
 * block, each with what an independent oracle expects of it (when the source knows).
 */
import type { StreamTransaction } from "../core/block.ts";
import { Prng } from "../core/prng.ts";
import { readPcap } from "../core/pcap.ts";
import { readFileSync } from "node:fs";
import { UserError, type StimulusItem } from "../cosim/index.ts";
import { appendIcrc, IcrcStatus } from "../hca/index.ts";
import { RoceFrameGenerator } from "./traffic/roce-frames.ts";
import type { DoorbellTrafficSpec, GatewayTrafficSpec, TptTrafficSpec, PcapTraffic, RoceFramesTraffic, Traffic, WqeFetchTrafficSpec } from "./scenario.ts";

type FramesTraffic = Exclude<Traffic, GatewayTrafficSpec | DoorbellTrafficSpec | TptTrafficSpec | WqeFetchTrafficSpec>;

/** An input transaction and, when the source knows it, the status the block must give it. */
export interface SourceItem extends StimulusItem {
  expectedStatus?: number;
}

export interface SourceContext {
  seed: number;
  /** bytes per beat of the input port, to space frames by their length */
  dataBytes: number;
}

/** Offered-load schedule: frame i may start `gap` idle cycles after frame i−1's beats. */
class Schedule {
  private next = 0;
  constructor(
    private readonly prng: Prng,
    private readonly gap: [number, number],
    private readonly dataBytes: number,
  ) {}
  place(bytes: number): number {
    const gap = this.gap[1] > 0 ? this.prng.int(this.gap[0], this.gap[1]) : 0;
    const start = this.next + gap;
    this.next = start + Math.max(1, Math.ceil(bytes / this.dataBytes));
    return start;
  }
}

function txn(data: Uint8Array, check: boolean, startCycle: number): StreamTransaction {
  return { data, user: { check: check ? 1 : 0 }, startCycle, endCycle: startCycle };
}

function* roceFrames(t: RoceFramesTraffic, ctx: SourceContext): Generator<SourceItem> {
  const root = new Prng(ctx.seed);
  const frames = new RoceFrameGenerator(root.fork("frames"), { ipv6Fraction: t.ipv6Fraction, payloadBytes: t.payloadBytes });
  const choice = root.fork("mode");
  const schedule = new Schedule(root.fork("gaps"), t.gapCycles, ctx.dataBytes);
  for (let i = 0; i < t.count; i++) {
    const f = frames.next();
    const check = t.mode === "check" || (t.mode === "mixed" && choice.bool());
    let data = f.data;
    let expectedStatus: number = IcrcStatus.ok;
    if (check) {
      data = appendIcrc(f.data);
      if (t.corruptFraction > 0 && choice.float() < t.corruptFraction) {
        // flip one bit the ICRC covers and no router may change: after the BTH's start
        // fields, anywhere up to and including the ICRC itself. A CRC catches every one.
        const from = f.offsets.afterBth;
        const at = choice.int(from, data.length - 1);
        data[at]! ^= 1 << choice.int(0, 7);
        expectedStatus = IcrcStatus.icrcBad;
      }
    }
    if (t.otherFraction > 0 && choice.float() < t.otherFraction) {
      ({ data, expectedStatus } = notRoce(data, f.offsets.udp, f.offsets.afterBth, choice));
    }
    yield { port: t.port, txn: txn(data, check, schedule.place(data.length)), expectedStatus };
  }
}

/** Turn a RoCEv2 frame into one the block must pass through untouched, and say which status it earns. */
function notRoce(frame: Uint8Array, udpAt: number, afterBth: number, rng: Prng): { data: Uint8Array; expectedStatus: number } {
  const data = frame.slice();
  switch (rng.int(0, 3)) {
    case 0: {
      // another UDP destination port
      let port = rng.int(0, 0xffff);
      if (port === 4791) port++;
      data[udpAt + 2] = port >> 8;
      data[udpAt + 3] = port & 0xff;
      return { data, expectedStatus: IcrcStatus.notRocev2 };
    }
    case 1:
      // ARP's EtherType
      data[12] = 0x08;
      data[13] = 0x06;
      return { data, expectedStatus: IcrcStatus.notRocev2 };
    case 2: {
      // an 802.1Q tag: this block handles untagged frames only
      const tagged = new Uint8Array(data.length + 4);
      tagged.set(data.subarray(0, 12));
      tagged.set([0x81, 0x00, rng.int(0, 0xff) & 0xef, rng.int(0, 0xff)], 12);
      tagged.set(data.subarray(12), 16);
      return { data: tagged, expectedStatus: IcrcStatus.notRocev2 };
    }
    default:
      // cut inside the headers: a runt
      return { data: data.slice(0, rng.int(0, afterBth - 1)), expectedStatus: IcrcStatus.runt };
  }
}

function* pcapFrames(t: PcapTraffic, ctx: SourceContext): Generator<SourceItem> {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(t.file);
  } catch (e) {
    throw new UserError(`${t.file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let capture;
  try {
    capture = readPcap(bytes, t.file);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (capture.linkType !== 1) throw new UserError(`${t.file}: link type ${capture.linkType} is not Ethernet (1); the icrc block takes Ethernet frames`);
  const schedule = new Schedule(new Prng(ctx.seed).fork("gaps"), t.gapCycles, ctx.dataBytes);
  const check = t.mode === "check";
  for (let r = 0; r < t.repeat; r++) {
    for (const p of capture.packets) {
      const data = t.stripFcs ? p.data.subarray(0, Math.max(0, p.data.length - 4)) : p.data;
      yield { port: t.port, txn: txn(data, check, schedule.place(data.length)) };
    }
  }
}

const SOURCES: { [K in FramesTraffic["source"]]: (t: Extract<FramesTraffic, { source: K }>, ctx: SourceContext) => Generator<SourceItem> } = {
  roce_frames: roceFrames,
  pcap: pcapFrames,
};

export function openSource(t: FramesTraffic, ctx: SourceContext): Generator<SourceItem> {
  return (SOURCES[t.source] as (t: FramesTraffic, ctx: SourceContext) => Generator<SourceItem>)(t, ctx);
}
