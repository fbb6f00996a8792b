/**
 * The latency tests for one message size, one message in flight at a time:
 * - read_lat: A posts an RDMA READ, polls its completion, posts the next;
 * - write_lat: ping-pong of RDMA WRITEs; each side polls the last byte of its buffer,
 *   which the peer's write changes to the iteration number, and then writes back;
 * - send_lat: ping-pong of SENDs, each side polling its receive completions.
 * The samples are the times between A's posts (latFigures halves them for ping-pongs).
 */
import type { WorkRequestInit } from "../../hca/transport/index.ts";
import { TransportWqeOpcode } from "../../hca/transport/index.ts";
import { firstDifference } from "./checks.ts";
import { type LatFigures, latFigures } from "./figures.ts";
import type { PerftestNode } from "./node.ts";
import type { PerftestBench } from "./testbench.ts";

export interface LatSizeRun {
  bytes: number;
  iterations: number;
  figures: LatFigures | undefined;
  dataProblems: string[];
  messagesChecked: number;
  failed: boolean;
}

/** receives kept posted at both sides for send_lat: RECEIVE_DEPTH each, into one buffer per side of the largest size */
const RECEIVE_DEPTH = 4;
const receives = new WeakMap<PerftestBench, { a: { addr: number; key: number }; b: { addr: number; key: number }; bytes: number }>();
function receiveBuffers(tb: PerftestBench) {
  let r = receives.get(tb);
  if (r === undefined) {
    const bytes = Math.max(...tb.sc.params.sizes);
    r = { a: tb.a.buffer(bytes), b: tb.b.buffer(bytes), bytes };
    for (let i = 0; i < Math.min(tb.sc.params.rxDepth, RECEIVE_DEPTH); i++) {
      tb.a.postRecv(tb.qpsA[0]!, r.a.addr, bytes, r.a.key);
      tb.b.postRecv(tb.qpsB[0]!, r.b.addr, bytes, r.b.key);
    }
    receives.set(tb, r);
  }
  return r;
}

export function runLatSize(tb: PerftestBench, size: number, iterations: number): LatSizeRun {
  const sc = tb.sc;
  const p = sc.params;
  const op = tb.op;
  const qa = tb.qpsA[0]!;
  const qb = tb.qpsB[0]!;
  const bufA = tb.a.buffer(size);
  const bufB = tb.b.buffer(size);
  const srcA = tb.a.buffer(size);
  const srcB = tb.b.buffer(size);
  tb.a.memory.write(srcA.addr, tb.prng.bytes(size));
  tb.b.memory.write(srcB.addr, tb.prng.bytes(size));
  const posted = new Float64Array(iterations);
  const dataProblems: string[] = [];
  let messagesChecked = 0;
  let sent = 0;
  let finished = false;
  let failed = false;
  const finish = () => {
    finished = true;
    tb.sim.stop();
  };

  /** counts posts per side so signalling every cq_mod-th keeps the send queues drained */
  const postsOf = new Map<PerftestNode, number>([[tb.a, 0], [tb.b, 0]]);
  const post = (n: PerftestNode, qpn: number, wr: WorkRequestInit, payload: number): number => {
    const k = postsOf.get(n)!;
    postsOf.set(n, k + 1);
    return n.post(qpn, { ...wr, signalled: wr.signalled || (k + 1) % p.cqMod === 0 }, payload);
  };
  // error completions end the test; successful send completions need nothing
  for (const n of [tb.a, tb.b]) {
    n.onCompletions(n.sendCq, (cqes) => {
      for (const c of cqes) {
        if (c.status !== 0 && !failed) {
          failed = true;
          tb.error(n, c.wqeIndex, c);
          finish();
        }
      }
      if (op === "read") onReadCompletions(cqes);
    });
  }

  const sgl = (b: { addr: number; key: number }) => [{ addr: BigInt(b.addr), length: size, lkey: b.key }];
  const check = (want: Uint8Array, got: Uint8Array, what: string) => {
    const d = firstDifference(want, got);
    if (d !== undefined && dataProblems.length < 10) dataProblems.push(`${what}, byte ${d.at}: 0x${d.got.toString(16)}, expected 0x${d.want.toString(16)}`);
    messagesChecked++;
  };

  // ---- read_lat
  const postRead = () => {
    posted[sent++] = post(tb.a, qa, { opcode: TransportWqeOpcode.RDMA_READ, signalled: true, raddr: BigInt(srcB.addr), rkey: srcB.key, sgl: sgl(bufA) }, 0);
  };
  const onReadCompletions = (cqes: { status: number }[]) => {
    if (failed || !cqes.some((c) => c.status === 0)) return;
    if (sent < iterations) return postRead();
    if (sc.checks.data) check(tb.b.memory.read(srcB.addr, size), tb.a.memory.read(bufA.addr, size), "read_lat: the last READ");
    finish();
  };

  // ---- write_lat: the last byte carries the iteration number (never 0, so a fresh buffer does not match)
  const mark = (n: PerftestNode, src: { addr: number }, i: number) => n.memory.writeU8(src.addr + size - 1, (i % 255) + 1);
  const postWrite = (n: PerftestNode, qpn: number, src: { addr: number; key: number }, dst: { addr: number; key: number }, i: number): number => {
    mark(n, src, i);
    return post(n, qpn, { opcode: TransportWqeOpcode.RDMA_WRITE, raddr: BigInt(dst.addr), rkey: dst.key, sgl: sgl(src) }, size);
  };
  // ---- send_lat
  const postSend = (n: PerftestNode, qpn: number, src: { addr: number; key: number }): number =>
    post(n, qpn, { opcode: TransportWqeOpcode.SEND, sgl: sgl(src) }, size);

  let unwatchA: () => unknown = () => undefined;
  let unwatchB: () => unknown = () => undefined;
  let pongs = 0;
  if (op === "write") {
    // B answers each write; A posts the next one when the answer lands
    unwatchB = tb.b.watchByte(bufB.addr + size - 1, () => {
      if (failed) return;
      postWrite(tb.b, qb, srcB, bufA, pongs++);
    });
    unwatchA = tb.a.watchByte(bufA.addr + size - 1, () => {
      if (failed) return;
      if (sent < iterations) {
        posted[sent] = postWrite(tb.a, qa, srcA, bufB, sent);
        sent++;
      } else {
        if (sc.checks.data) {
          check(tb.a.memory.read(srcA.addr, size), tb.b.memory.read(bufB.addr, size), "write_lat: hostB's buffer");
          check(tb.b.memory.read(srcB.addr, size), tb.a.memory.read(bufA.addr, size), "write_lat: hostA's buffer");
        }
        finish();
      }
    });
  } else if (op === "send") {
    // receives stay posted from one size to the next: their buffers hold the largest size
    const rx = receiveBuffers(tb);
    const recvA = rx.a;
    const recvB = rx.b;
    const repost = (n: PerftestNode) => (n === tb.a ? tb.a.postRecv(qa, recvA.addr, rx.bytes, recvA.key) : tb.b.postRecv(qb, recvB.addr, rx.bytes, recvB.key));
    const onRecv = (n: PerftestNode, then: () => void) =>
      n.onCompletions(n.recvCq, (cqes) => {
        for (const c of cqes) {
          if (failed) return;
          if (c.status !== 0) {
            failed = true;
            tb.error(n, c.wqeIndex, c);
            return finish();
          }
          if (c.byteCount !== size && dataProblems.length < 10) dataProblems.push(`send_lat: a receive at ${n.host.name} holds ${c.byteCount} bytes, the SEND had ${size}`);
          repost(n);
          then();
        }
      });
    onRecv(tb.b, () => {
      if (sc.checks.data && pongs === 0) check(tb.a.memory.read(srcA.addr, size), tb.b.memory.read(recvB.addr, size), "send_lat: hostB's receive buffer");
      pongs++;
      postSend(tb.b, qb, srcB);
    });
    onRecv(tb.a, () => {
      if (sent < iterations) posted[sent++] = postSend(tb.a, qa, srcA);
      else {
        if (sc.checks.data) check(tb.b.memory.read(srcB.addr, size), tb.a.memory.read(recvA.addr, size), "send_lat: hostA's receive buffer");
        finish();
      }
    });
  }

  // the first post; the rest follow from what arrives
  if (op === "read") postRead();
  else if (op === "write") {
    posted[sent] = postWrite(tb.a, qa, srcA, bufB, sent);
    sent++;
  } else posted[sent++] = postSend(tb.a, qa, srcA);
  try {
    tb.runUntil(() => finished, `${sc.test} ${size} B`, 10_000_000_000_000);
  } finally {
    unwatchA();
    unwatchB();
  }
  const figures = failed ? undefined : latFigures(posted, op === "read" ? 1 : 2);
  return { bytes: size, iterations, figures, dataProblems, messagesChecked, failed };
}
