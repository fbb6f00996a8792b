/**
 * The bandwidth tests (perftest's write_bw, read_bw, send_bw, atomic_bw) for one message
 * size: host A keeps `tx_depth` work requests in flight on each QP, signals every
 * `cq_mod`-th (and the last), and posts again as completions come; for send_bw host B
 * keeps `rx_depth` receives posted and reposts one per receive completion.
 *
 * Buffers are fresh per size. Without `verify` every message of a QP reuses one buffer
 * (as perftest does); with it message k has its own source and target range and its own
 * data, so the target memory can be checked message by message.
 */
import type { WorkRequestInit } from "../../hca/transport/index.ts";
import { TransportWqeOpcode } from "../../hca/transport/index.ts";
import { firstDifference, WriteOrderChecker } from "./checks.ts";
import type { BwFigures } from "./figures.ts";
import { bwFigures } from "./figures.ts";
import { type Limit, limitOf, resources, snapshot } from "./limits.ts";
import type { PerftestOp } from "./scenario.ts";
import type { PerftestBench } from "./testbench.ts";

/** per operation: the WQE opcode, and what the requester reads from host memory */
const BW_OPS: Record<PerftestOp, { readonly opcode: number; readonly readsPayload: boolean }> = {
  write: { opcode: TransportWqeOpcode.RDMA_WRITE, readsPayload: true },
  read: { opcode: TransportWqeOpcode.RDMA_READ, readsPayload: false },
  send: { opcode: TransportWqeOpcode.SEND, readsPayload: true },
  atomic: { opcode: TransportWqeOpcode.ATOMIC_FA, readsPayload: false },
};

export interface BwSizeRun {
  bytes: number;
  /** per QP */
  iterations: number;
  /** work requests that completed successfully, all QPs */
  completed: number;
  figures: BwFigures | undefined;
  limit: Limit | undefined;
  /** problems the data checks found (empty: the memory holds what it should) */
  dataProblems: string[];
  /** messages checked byte for byte */
  messagesChecked: number;
  /** an error completion stopped the test */
  failed: boolean;
}

interface QpRun {
  qpn: number;
  remoteQpn: number;
  /** A's buffer (source of write/send, destination of read/atomic) and B's */
  local: { addr: number; key: number };
  remote: { addr: number; key: number };
  slots: number;
  posted: number;
  completed: number;
  /** posts of this QP before this size (the engine's WQE counter goes on across sizes) */
  base: number;
  errored: boolean;
  // send_bw: receives posted and completed at B
  recvPosted: number;
  recvDone: number;
}

/** WQEs posted on each QP over all sizes so far (the engine's counters) */
const wqeCounters = new WeakMap<PerftestBench, Map<number, number>>();

export function runBwSize(tb: PerftestBench, size: number, iterations: number): BwSizeRun {
  const sc = tb.sc;
  const p = sc.params;
  const op = tb.op;
  const info = BW_OPS[op];
  const verify = p.verify;
  const slots = verify ? iterations : 1;
  const unit = op === "atomic" ? 8 : size;
  const counters = wqeCounters.get(tb) ?? new Map<number, number>();
  wqeCounters.set(tb, counters);

  const qps: QpRun[] = tb.qpsA.map((qpn, i) => {
    const local = tb.a.buffer(unit * slots);
    const remote = tb.b.buffer(op === "atomic" ? 8 : size * slots);
    if (op === "write" || op === "send") tb.a.memory.write(local.addr, tb.prng.bytes(size * slots));
    if (op === "read") tb.b.memory.write(remote.addr, tb.prng.bytes(size * slots));
    return { qpn, remoteQpn: tb.qpsB[i]!, local, remote, slots, posted: 0, completed: 0, base: counters.get(qpn) ?? 0, errored: false, recvPosted: 0, recvDone: 0 };
  });
  const byQpn = new Map(qps.map((q) => [q.qpn, q]));
  const byRemote = new Map(qps.map((q) => [q.remoteQpn, q]));
  const order = op === "write" && verify ? new WriteOrderChecker(tb.b.memory, tb.b.engine.name) : undefined;
  for (const q of qps) order?.expect(q.remoteQpn, q.remote.addr, size, iterations);

  const total = iterations * qps.length;
  const posted = new Float64Array(total);
  const completions: [number, number][] = [];
  let totPosted = 0;
  let totCompleted = 0;
  const dataProblems: string[] = [];
  let messagesChecked = 0;
  let finished = false;

  const wr = (q: QpRun, k: number): WorkRequestInit => {
    const slot = k % q.slots;
    const signalled = (k + 1) % p.cqMod === 0 || k + 1 === iterations;
    const base = { opcode: info.opcode, signalled, rkey: q.remote.key };
    switch (op) {
      case "write":
        return { ...base, raddr: BigInt(q.remote.addr + slot * size), sgl: [{ addr: BigInt(q.local.addr + slot * size), length: size, lkey: q.local.key }] };
      case "read":
        return { ...base, raddr: BigInt(q.remote.addr + slot * size), sgl: [{ addr: BigInt(q.local.addr + slot * size), length: size, lkey: q.local.key }] };
      case "send":
        return { ...base, sgl: [{ addr: BigInt(q.local.addr + slot * size), length: size, lkey: q.local.key }] };
      case "atomic":
        return { ...base, raddr: BigInt(q.remote.addr), swapAdd: 1n, sgl: [{ addr: BigInt(q.local.addr + slot * 8), length: 8, lkey: q.local.key }] };
    }
  };

  const fill = (q: QpRun) => {
    while (!q.errored && q.posted < iterations && q.posted - q.completed < p.txDepth) {
      const t = tb.a.post(q.qpn, wr(q, q.posted), info.readsPayload ? size : 0);
      q.posted++;
      posted[totPosted++] = t;
    }
  };

  const checkDone = () => {
    const done = qps.every((q) => (q.errored ? q.completed === q.posted : q.completed === iterations) && (op !== "send" || q.errored || q.recvDone === iterations));
    if (done && !finished) {
      finished = true;
      tb.sim.stop();
    }
  };

  // the completions of A's send queue: a signalled CQE completes every WQE up to it
  tb.a.onCompletions(tb.a.sendCq, (cqes) => {
    const now = tb.sim.now;
    for (const c of cqes) {
      const q = byQpn.get(c.qpn);
      if (q === undefined) continue;
      const abs = q.base + q.posted - 1 - ((q.base + q.posted - 1 - c.wqeIndex) & 0xffff);
      const index = abs - q.base;
      if (c.status !== 0) {
        tb.error(tb.a, index, c);
        q.errored = true;
        q.completed = Math.max(q.completed, index + 1);
        continue;
      }
      const newly = index + 1 - q.completed;
      if (newly <= 0) continue;
      q.completed = index + 1;
      totCompleted += newly;
      completions.push([totCompleted - 1, now]);
    }
    for (const q of qps) fill(q);
    checkDone();
  });

  // send_bw: B's receives
  const postRecv = (q: QpRun) => {
    while (q.recvPosted < iterations && q.recvPosted - q.recvDone < p.rxDepth) {
      const slot = q.recvPosted % q.slots;
      tb.b.postRecv(q.remoteQpn, q.remote.addr + slot * size, size, q.remote.key);
      q.recvPosted++;
    }
  };
  if (op === "send") {
    for (const q of qps) postRecv(q);
    tb.b.onCompletions(tb.b.recvCq, (cqes) => {
      for (const c of cqes) {
        const q = byRemote.get(c.qpn);
        if (q === undefined) continue;
        const k = q.recvDone++;
        if (c.status !== 0) {
          tb.error(tb.b, k, c);
          q.errored = true;
          continue;
        }
        if (c.byteCount !== size) dataProblems.push(`QP 0x${c.qpn.toString(16)}: receive ${k} holds ${c.byteCount} bytes, the SEND had ${size}`);
        if (verify || k + 1 === iterations) {
          // the message in its receive buffer, against what A sent in it
          const slot = k % q.slots;
          const got = tb.b.memory.read(q.remote.addr + slot * size, size);
          const want = tb.a.memory.read(q.local.addr + slot * size, size);
          const d = firstDifference(want, got);
          if (d !== undefined && dataProblems.length < 10) dataProblems.push(`QP 0x${c.qpn.toString(16)}: receive ${k}, byte ${d.at}: 0x${d.got.toString(16)}, expected 0x${d.want.toString(16)}`);
          messagesChecked++;
        }
      }
      for (const q of qps) postRecv(q);
      checkDone();
    });
  }

  const rs = resources(tb);
  const before = snapshot(rs);
  const recovery = () => [tb.a, tb.b].reduce((n, x) => [n[0]! + x.engine.stats.retransmissions, n[1]! + x.engine.stats.timeouts], [0, 0]);
  const recovery0 = recovery();
  for (const q of qps) fill(q);
  tb.runUntil(() => finished, `${sc.test} ${size} B`, 10_000_000_000_000);
  const after = snapshot(rs);
  for (const q of qps) counters.set(q.qpn, q.base + q.posted);

  const failed = qps.some((q) => q.errored);
  let figures: BwFigures | undefined;
  let limit: Limit | undefined;
  if (!failed && completions.length > 0) {
    figures = bwFigures(size, posted.subarray(0, totPosted), completions);
    const inFlight = op === "read" || op === "atomic" ? `${Math.min(p.txDepth, p.outstandingReads) * qps.length} ${op === "read" ? "reads" : "atomics"} (outstanding reads ${p.outstandingReads} per QP)` : `${p.txDepth * qps.length} work requests (tx depth ${p.txDepth} per QP)`;
    const roundTrip = (figures.elapsedPs / total) * Math.min(p.txDepth, op === "read" || op === "atomic" ? p.outstandingReads : p.txDepth) * qps.length;
    limit = limitOf(rs, before, after, figures.elapsedPs, { payloadBytes: info.readsPayload ? size : 0 }, inFlight, roundTrip);
    const [retransmitted, timeouts] = recovery().map((v, i) => v - recovery0[i]!);
    if (limit.kind === "latency" && retransmitted > 0) {
      // nothing was saturated: the time went into recovering lost packets
      limit = {
        ...limit,
        resource: "loss recovery",
        kind: "recovery",
        detail: `no resource saturated (busiest: ${limit.others[0]!.resource}, ${(limit.others[0]!.utilisation * 100).toFixed(0)}%): ${retransmitted} packets sent again and ${timeouts} ACK timeout${timeouts === 1 ? "" : "s"} at this size (go-back-N from each lost PSN)`,
      };
    }
  }

  // memory against what the initiator meant
  if (!failed && sc.checks.data) {
    for (const q of qps) {
      if (op === "write" || op === "read") {
        const [from, to] = op === "write" ? [tb.a, tb.b] : [tb.b, tb.a];
        const [src, dst] = op === "write" ? [q.local.addr, q.remote.addr] : [q.remote.addr, q.local.addr];
        for (let s = 0; s < q.slots; s++) {
          const want = from.memory.read(src + s * size, size);
          const got = to.memory.read(dst + s * size, size);
          const d = firstDifference(want, got);
          if (d !== undefined && dataProblems.length < 10) dataProblems.push(`QP 0x${q.qpn.toString(16)}: message ${s}, byte ${d.at} at ${to.host.name}: 0x${d.got.toString(16)}, expected 0x${d.want.toString(16)}`);
          messagesChecked++;
        }
      } else if (op === "atomic") {
        const counter = tb.b.memory.readU64Le(q.remote.addr);
        if (counter !== BigInt(iterations)) dataProblems.push(`QP 0x${q.qpn.toString(16)}: the counter at hostB is ${counter} after ${iterations} fetch-and-adds of 1`);
        // each fetch-and-add returned the count before it: 0, 1, 2, … in order
        for (let s = 0; s < q.slots; s++) {
          const orig = tb.a.memory.readU64Le(q.local.addr + s * 8);
          const want = BigInt(q.slots === 1 ? iterations - 1 : s);
          if (orig !== want && dataProblems.length < 10) dataProblems.push(`QP 0x${q.qpn.toString(16)}: fetch-and-add ${s} returned ${orig}, expected ${want}`);
        }
        messagesChecked += iterations;
      }
    }
  }
  if (order !== undefined) dataProblems.push(...order.finish());
  return { bytes: size, iterations, completed: totCompleted, figures, limit, dataProblems, messagesChecked, failed };
}
