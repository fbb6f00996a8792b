/**
 * Benchmarks of the link layer (hca/link): framing, a frame's trip over a simulated link
 * to a receiver, and the CRCs. Packets carry 4 KiB payloads (RC RDMA WRITE MIDDLE).
 *
 *   model.link.frame_per_s            RoCEv2 framing alone (headers; CRCs left lazy)
 *   model.link.frames_per_s           frame → 100GbE link → receiver, "trusted" CRC mode
 *   model.link.frames_recompute_per_s the same, every CRC computed at the sender and checked at the receiver
 *   model.link.ib_frames_per_s        the "trusted" trip on 4X EDR with credits
 *   model.link.icrc_gbytes_per_s      ICRC and FCS of a 4 KiB frame checked, one shared pass [GB of frame/s]
 *   model.link.crc32_gbytes_per_s     plain CRC-32 over 4 KiB [GB/s], for comparison
 */
import { crc32 } from "../core/crc.ts";
import { Simulator } from "../core/kernel.ts";
import { type CrcMode, type Frame, IbFramer, Link, type LinkPort, parseRoceFrame, receiveFrame, RoceFramer, samplePacket } from "../hca/link/index.ts";

const PAYLOAD = 4096;

function perSecond(n: number, run: () => void): number {
  const t0 = performance.now();
  run();
  return n / ((performance.now() - t0) / 1000);
}

/** sends `n` frames made by `make` back to back from a to b; the receiver checks each in `mode` */
function trip(speed: string, n: number, make: (i: number) => Frame, mode: CrcMode): number {
  const sim = new Simulator();
  const link = new Link(sim, { name: "bench", speed });
  let okCount = 0;
  link.b.attach({
    receive(f) {
      if (receiveFrame(f, mode).verdict === "ok") okCount++;
    },
  });
  let i = 0;
  const sender = {
    receive() {},
    ready(port: LinkPort) {
      while (i < n) {
        const f = make(i);
        if (!port.canSend(f)) return port.whenReady(f);
        port.send(f);
        i++;
      }
    },
  };
  link.a.attach(sender);
  sim.schedule(0, () => sender.ready(link.a));
  const rate = perSecond(n, () => sim.run());
  if (okCount !== n) throw new Error(`bench link: ${n - okCount} of ${n} frames not ok`);
  return rate;
}

export function benchLink(opts: { frames: number }): Record<string, number> {
  const n = opts.frames;
  const packets = Array.from({ length: 64 }, (_, k) => samplePacket({ opcode: "RC_RDMA_WRITE_MIDDLE", payloadBytes: PAYLOAD, psn: k, fill: k }));
  const roce = new RoceFramer({ srcMac: "02:00:00:00:00:01", dstMac: "02:00:00:00:00:02", srcGid: "10.0.0.1", dstGid: "10.0.0.2", localQpn: 0x11 });
  const ib = new IbFramer({ slid: 1, dlid: 2, sl: 0 });
  const roceFrame = (i: number) => roce.frame(packets[i & 63]!);

  // warm up the JIT on every path first
  trip("100GbE", 20_000, roceFrame, "trusted");
  trip("100GbE", 2_000, roceFrame, "recompute");
  trip("4X EDR", 20_000, (i) => ib.frame(packets[i & 63]!), "trusted");

  let sink = 0;
  const framePerS = perSecond(n, () => {
    for (let i = 0; i < n; i++) sink += roceFrame(i).length;
  });
  const framesPerS = trip("100GbE", n, roceFrame, "trusted");
  const recomputePerS = trip("100GbE", Math.max(1, Math.floor(n / 10)), roceFrame, "recompute");
  const ibPerS = trip("4X EDR", n, (i) => ib.frame(packets[i & 63]!), "trusted");

  const m = Math.max(1, Math.floor(n / 20));
  const images = packets.map((p) => roce.frame(p).bytes());
  const icrcPerS = perSecond(m, () => {
    for (let i = 0; i < m; i++) if (parseRoceFrame(images[i & 63]!).icrcOk === true) sink++;
  });
  const crcPerS = perSecond(m, () => {
    for (let i = 0; i < m; i++) sink ^= crc32(packets[i & 63]!);
  });
  if (sink === 0.5) process.stdout.write(""); // keep the results alive
  return {
    "model.link.frame_per_s": Math.round(framePerS),
    "model.link.frames_per_s": Math.round(framesPerS),
    "model.link.frames_recompute_per_s": Math.round(recomputePerS),
    "model.link.ib_frames_per_s": Math.round(ibPerS),
    "model.link.icrc_gbytes_per_s": Number(((icrcPerS * images[0]!.length) / 1e9).toFixed(3)),
    "model.link.crc32_gbytes_per_s": Number(((crcPerS * packets[0]!.length) / 1e9).toFixed(3)),
  };
}

// `npx tsx bench/link.ts` runs it alone
if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [k, v] of Object.entries(benchLink({ frames: Number(process.env.HCASIM_BENCH_LINK_FRAMES ?? 200_000) }))) process.stdout.write(`${k}=${v}\n`);
}
