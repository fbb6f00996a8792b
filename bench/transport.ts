/**
 * Benchmark of the transport model: 4096-byte RDMA WRITEs, one packet each (path MTU
 * 4096), requester → wire → responder (payload copied into host memory) → ACK →
 * completer (CQEs in host memory, every 16th WR signalled), two engines back to back.
 * The figure is request packets per wall-clock second over the whole loop, posting and
 * CQ polling included; best of `passes` passes after a warm-up pass of the same length.
 * Run it alone (anything else running on the machine lowers it):
 * `node --max-semi-space-size=128 --import tsx bench/transport.ts`.
 */
import { backToBack, connectRc, encodeWorkRequest, TransportWqeOpcode } from "../hca/transport/index.ts";

export function benchTransport(opts: { messages: number; passes?: number }): Record<string, number> {
  const bytes = 4096;
  const { sim, a, b } = backToBack({ delayPs: 500_000 });
  const cqa = a.cq(12);
  const cqb = b.cq(12);
  const qa = a.qp("RC", cqa, cqa, 10);
  const qb = b.qp("RC", cqb, cqb, 10);
  connectRc(a, qa, b, qb, { mtu: 4096, window: 256 });
  const src = a.buffer(bytes);
  const dst = b.buffer(bytes * 64);
  a.memory.write(src.addr, Uint8Array.from({ length: bytes }, (_, i) => i & 0xff));
  // the work requests are encoded once: the bench measures the transport, not the encoder
  const batch = 256;
  const records = Array.from({ length: batch }, (_, i) =>
    encodeWorkRequest({
      opcode: TransportWqeOpcode.RDMA_WRITE,
      signalled: i % 16 === 15,
      raddr: BigInt(dst.addr + (i % 64) * bytes),
      rkey: dst.key,
      sgl: [{ addr: BigInt(src.addr), length: bytes, lkey: src.key }],
    }),
  );
  const pass = (n: number): { packets: number; ms: number } => {
    const sent0 = a.engine.stats.packetsSent;
    const t0 = performance.now();
    for (let posted = 0; posted < n; posted += batch) {
      const k = Math.min(batch, n - posted);
      for (let i = 0; i < k; i++) a.engine.postSend(qa, records[i]);
      sim.run(sim.now + 1_000_000_000);
      a.poll(cqa);
    }
    return { packets: a.engine.stats.packetsSent - sent0, ms: performance.now() - t0 };
  };
  pass(opts.messages); // JIT warm-up: a whole pass, so that the passes measured run the code the JIT settled on
  let best = 0;
  let packets = 0;
  for (let i = 0; i < (opts.passes ?? 3); i++) {
    const r = pass(opts.messages);
    packets = r.packets;
    best = Math.max(best, (r.packets / r.ms) * 1000);
  }
  if (b.memory.read(dst.addr, bytes)[4095] !== 4095 % 256) throw new Error("bench: the payload did not land in the responder's memory");
  return {
    "model.transport.packets_per_s": Math.round(best),
    "model.transport.gbit_per_s": Number(((best * bytes * 8) / 1e9).toFixed(2)),
    "model.transport.packets": packets,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [k, v] of Object.entries(benchTransport({ messages: Number(process.env.HCASIM_BENCH_TRANSPORT ?? 200_000) }))) process.stdout.write(`${k}=${v}\n`);
}
