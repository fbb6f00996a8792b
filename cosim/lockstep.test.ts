import { describe, expect, it } from "vitest";
import type { StreamTransaction } from "../core/block.ts";
import { Prng } from "../core/prng.ts";
import { buildBlock } from "./build.ts";
import { RunFailure } from "./errors.ts";
import { runLockstep, type StimulusItem } from "./lockstep.ts";
import { loadManifest, resolveBlock } from "./manifest.ts";
import { RtlProcess } from "./rtl-process.ts";
import { MismatchError, Scoreboard } from "./scoreboard.ts";
import { PassthruTwin } from "./testdata/passthru/passthru-twin.ts";

const manifest = loadManifest(new URL("./testdata/passthru/block.yaml", import.meta.url).pathname);

function* packets(n: number, seed: number, gapMax = 0, tagOf = (i: number) => i & 0xff): Generator<StimulusItem> {
  const rng = new Prng(seed);
  let cycle = 0;
  for (let i = 0; i < n; i++) {
    cycle += gapMax ? rng.int(0, gapMax) : 0;
    const txn: StreamTransaction = { data: rng.bytes(rng.int(1, 300)), user: { tag: tagOf(i) }, startCycle: cycle, endCycle: cycle };
    yield { port: "s_axis", txn };
  }
}

async function run(dataBytes: number, stim: Iterator<StimulusItem>, defines: string[] = [], quantumCycles = 4096) {
  const block = resolveBlock(manifest, { DATA_BYTES: dataBytes });
  const built = await buildBlock(block, { defines });
  const rtl = await RtlProcess.start(built);
  try {
    const scoreboard = new Scoreboard(block);
    const result = await runLockstep({ rtl, twin: new PassthruTwin(dataBytes), scoreboard, stimulus: stim, quantumCycles });
    return { result, report: scoreboard.report() };
  } finally {
    await rtl.close();
  }
}

describe("lockstep (passthru block)", () => {
  it("matches model and RTL in content, order and exact timing at 8 bytes/beat", async () => {
    const { result, report } = await run(8, packets(2000, 1, 40));
    expect(result.inputTransactions).toBe(2000);
    expect(result.outputTransactions).toBe(2000);
    expect(report.functional).toBe("pass");
    expect(report.timing).toBe("pass");
    expect(report.streams[0]!.latencyError.maxAbs).toBe(0);
  });

  it("handles back-to-back traffic over many quanta at 64 bytes/beat", async () => {
    const { result, report } = await run(64, packets(5000, 2), [], 1024);
    expect(result.outputTransactions).toBe(5000);
    expect(result.quanta).toBeGreaterThan(10);
    expect(report.functional).toBe("pass");
    expect(report.streams[0]!.throughputError).toBeLessThan(0.001);
  });

  it("stops at the first mismatch and names stream, transaction, cycles and byte", async () => {
    const err = await run(8, packets(300, 3, 5, (i) => (i === 77 ? 0x5a : 1)), ["HCASIM_DEFECT_CORRUPT_TAG_5A"]).catch((e) => e);
    expect(err, String(err)).toBeInstanceOf(MismatchError);
    const msg = (err as Error).message;
    expect(msg).toContain("stream m_axis, transaction #77");
    expect(msg).toMatch(/model: cycles \d+\.\.\d+/);
    expect(msg).toMatch(/rtl: {3}cycles \d+\.\.\d+/);
    expect(msg).toContain("first difference: data byte 0 (beat 0, lane 0)");
  });

  it("a model that is one cycle late fails the timing check but not the content", async () => {
    class LateTwin extends PassthruTwin {
      override take(port: string): StreamTransaction[] {
        return super.take(port).map((t) => ({ ...t, startCycle: t.startCycle + 1, endCycle: t.endCycle + 1 }));
      }
    }
    const block = resolveBlock(manifest, { DATA_BYTES: 8 });
    const rtl = await RtlProcess.start(await buildBlock(block));
    try {
      const scoreboard = new Scoreboard(block);
      await runLockstep({ rtl, twin: new LateTwin(8), scoreboard, stimulus: packets(100, 4, 10) });
      const r = scoreboard.report();
      expect(r.functional).toBe("pass");
      expect(r.timing).toBe("fail");
      expect(r.streams[0]!.latencyError.maxAbs).toBe(1);
    } finally {
      await rtl.close();
    }
  });

  it("reports an RTL process killed mid-run with block, cycle, endpoint and its output, without hanging", async () => {
    const block = resolveBlock(manifest, { DATA_BYTES: 8 });
    const rtl = await RtlProcess.start(await buildBlock(block), { timeoutMs: 5000 });
    const t0 = Date.now();
    let killed = false;
    const err = await runLockstep({
      rtl,
      twin: new PassthruTwin(8),
      scoreboard: new Scoreboard(block),
      stimulus: packets(1_000_000, 5, 2),
      quantumCycles: 2048,
      onProgress: (p) => {
        if (!killed && p.cycle > 50_000) {
          killed = true;
          process.kill(rtl.pid, "SIGKILL");
        }
      },
    }).catch((e) => e);
    await rtl.kill();
    expect(err).toBeInstanceOf(RunFailure);
    const msg = (err as Error).message;
    expect(msg).toContain("RTL process for block passthru was killed by SIGKILL");
    expect(msg).toMatch(/cycle: \d+/);
    expect(msg).toContain("endpoint: ipc://");
    expect(msg).toContain("last lines of its output");
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(() => process.kill(rtl.pid, 0)).toThrow(); // reaped, not orphaned
  });
});

describe("output backpressure", () => {
  it("the twin predicts the shim's tready pattern exactly (register slice under 60% ready)", async () => {
    const { outputReady } = await import("./ready-pattern.ts");
    // a twin of the register slice that follows the ready pattern cycle by cycle
    class ReadyTwin extends PassthruTwin {
      private q: StreamTransaction[] = [];
      private o: StreamTransaction[] = [];
      private cyc = 0;
      private beatIn = 0; // beats of q[0] accepted
      private slot: { last: boolean; txn: StreamTransaction; first: boolean } | null = null;
      private outStart = 0;
      constructor(private readonly ready: (c: number) => boolean) { super(8); }
      override offer(_p: string, t: StreamTransaction): void { this.q.push(t); }
      override runUntil(cycle: number): void {
        for (; this.cyc < cycle; this.cyc++) {
          const c = this.cyc;
          const mReady = this.ready(c);
          const sReady = !this.slot || mReady;
          if (this.slot && mReady) {
            if (this.slot.first) this.outStart = c;
            if (this.slot.last) this.o.push({ ...this.slot.txn, startCycle: this.outStart, endCycle: c });
          }
          if (sReady) this.slot = null;
          const t = this.q[0];
          if (sReady && t && t.startCycle <= c) {
            const beats = Math.max(1, Math.ceil(t.data.length / 8));
            this.slot = { txn: t, first: this.beatIn === 0, last: this.beatIn === beats - 1 };
            if (++this.beatIn === beats) { this.q.shift(); this.beatIn = 0; }
          }
        }
      }
      override take(): StreamTransaction[] { const o = this.o; this.o = []; return o; }
    }
    const block = resolveBlock(manifest, { DATA_BYTES: 8 });
    const rtl = await RtlProcess.start(await buildBlock(block));
    try {
      const scoreboard = new Scoreboard(block);
      await runLockstep({ rtl, twin: new ReadyTwin(outputReady(7, 60, 0)), scoreboard, stimulus: packets(500, 6, 3), outReadyPercent: 60, seed: 7 });
      const r = scoreboard.report();
      expect(r.streams[0]!.transactions).toBe(500);
      expect(r.timing).toBe("pass");
      expect(r.streams[0]!.latencyError.maxAbs).toBe(0);
    } finally {
      await rtl.close();
    }
  });
});

describe("port arrays and output wires (passthru_array block)", () => {
  const arrayManifest = loadManifest(new URL("./testdata/passthru_array/block.yaml", import.meta.url).pathname);

  function* spread(n: number, count: number, seed: number): Generator<StimulusItem> {
    const rng = new Prng(seed);
    const cycles = new Array(count).fill(0);
    for (let i = 0; i < n; i++) {
      const lane = rng.int(0, count - 1);
      cycles[lane] += rng.int(0, 20);
      yield { port: `s_axis[${lane}]`, txn: { data: rng.bytes(rng.int(1, 200)), user: { tag: rng.int(0, 15) }, startCycle: cycles[lane], endCycle: cycles[lane] } };
    }
  }

  for (const [count, dataBytes] of [[3, 8], [9, 8], [3, 64], [1, 8]] as const) {
    it(`element streams stay apart and the counter agrees (COUNT=${count}, DATA_BYTES=${dataBytes})`, async () => {
      const { PassthruArrayTwin } = await import("./testdata/passthru_array/passthru-array-twin.ts");
      const block = resolveBlock(arrayManifest, { COUNT: count, DATA_BYTES: dataBytes });
      expect(block.streams.map((s) => s.name).slice(0, 2)).toEqual(count > 1 ? ["s_axis[0]", "s_axis[1]"] : ["s_axis[0]", "m_axis[0]"]);
      const rtl = await RtlProcess.start(await buildBlock(block));
      try {
        const scoreboard = new Scoreboard(block);
        const result = await runLockstep({ rtl, twin: new PassthruArrayTwin(count, dataBytes), scoreboard, stimulus: spread(1500, count, count), quantumCycles: 2048 });
        const r = scoreboard.report();
        expect(result.outputTransactions).toBe(1500);
        expect(r.timing, JSON.stringify(r.streams.filter((s) => !s.withinTolerance))).toBe("pass");
        expect(result.rtlWires.frames_out).toBe(1500);
        expect(r.wires).toEqual({ frames_out: { model: 1500, rtl: 1500 } });
      } finally {
        await rtl.close();
      }
    });
  }

  it("a wire that disagrees is a mismatch naming the wire, both values and the cycle", async () => {
    const { PassthruArrayTwin } = await import("./testdata/passthru_array/passthru-array-twin.ts");
    class MiscountingTwin extends PassthruArrayTwin {
      override wires(): Record<string, number> {
        return { frames_out: super.wires().frames_out! + 1 };
      }
    }
    const block = resolveBlock(arrayManifest, { COUNT: 3, DATA_BYTES: 8 });
    const rtl = await RtlProcess.start(await buildBlock(block));
    try {
      const err = await runLockstep({ rtl, twin: new MiscountingTwin(3, 8), scoreboard: new Scoreboard(block), stimulus: spread(50, 3, 1) }).catch((e) => e);
      expect(err).toBeInstanceOf(MismatchError);
      expect((err as Error).message).toMatch(/^MISMATCH in block passthru_array, wire frames_out at cycle \d+: model 51, rtl 50$/);
    } finally {
      await rtl.close();
    }
  });
});
