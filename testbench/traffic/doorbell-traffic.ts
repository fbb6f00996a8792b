/**
 * Traffic for the doorbell block: an ownership configuration (several processes, each with
 * its own UAR page, QPs and CQs; page 0 is the kernel's) and a stream of UAR MMIO writes:
 * bursts on a few hot QPs (which coalesce while their fetch waits its turn), doorbells
 * spread over many QPs (fairness), and adversarial writes — a queue of another process
 * rung on one's own page, an unknown or unconfigured queue, a bad offset or length, a bad
 * CQ command.
 *
 * Every doorbell carries what the oracle expects (accepted, or rejected and why), computed
 * here from the configuration the generator chose, independently of the twin. After the
 * configuration the generator reads the ownership tables back (every configured queue, the
 * destroyed QP, an unconfigured CQ, numbers beyond the tables), each read with its answer.
 */
import type { StreamTransaction } from "../../core/block.ts";
import { Prng } from "../../core/prng.ts";
import {
  CfgTable,
  cfgRead,
  cfgReadback,
  cfgWrite,
  CqCommand,
  cqDoorbell,
  DOORBELL_DEFAULTS,
  DoorbellKind,
  DoorbellOffset,
  mmioWrite,
  receiveDoorbell,
  RejectReason,
  sendDoorbell,
  UAR_PAGE_BYTES,
  type DoorbellParams,
} from "../../hca/doorbell/index.ts";

export interface DoorbellTrafficConfig {
  seed: number;
  /** the block's parameters (defaults: block.yaml) */
  params?: Partial<DoorbellParams>;
  /** processes, each with one UAR page (pages 1..processes; page 0 is the kernel's) */
  processes?: number;
  qpsPerProcess?: number;
  cqsPerProcess?: number;
  doorbells: number;
  /** share of doorbells on the hot QPs, 0..1 */
  hotShare?: number;
  /** how many hot QPs */
  hotQps?: number;
  /** share of adversarial writes, 0..1 */
  adversarial?: number;
  /** largest gap between two ordinary doorbells [cycles] (hot bursts are back to back) */
  gapMax?: number;
}

export type Verdict = "accept" | "owner" | "invalid_queue" | "bad_offset" | "bad_command";

export interface ExpectedDoorbell {
  /** position in the s_mmio stream */
  index: number;
  startCycle: number;
  offset: number;
  /** DoorbellKind (unknown for a bad offset) */
  kind: number;
  /** QPN or CQN (0 for a bad offset) */
  number: number;
  verdict: Verdict;
  /** RejectReason, 0 when accepted */
  reason: number;
  /** accepted: producer counter / consumer index it carries */
  counter: number;
}

export interface DoorbellTraffic {
  params: DoorbellParams;
  /** QPN → owning UAR page, CQN → owning UAR page */
  qpOwner: Map<number, number>;
  cqOwner: Map<number, number>;
  hot: number[];
  /** s_cfg transactions: the ownership writes, then the reads of `readbacks` */
  cfg: StreamTransaction[];
  /** the reads among `cfg`, in order, with the m_cfg_rd answer expected */
  readbacks: { txn: StreamTransaction; expected: Uint8Array }[];
  mmio: StreamTransaction[];
  expected: ExpectedDoorbell[];
  /** how many of each verdict */
  counts: Record<Verdict, number>;
  /** per queue ("s:qpn", "r:qpn", "c:cqn"), the counter of its last accepted doorbell */
  lastCounter: Map<string, number>;
}

export const VERDICT_OF_REASON: Record<number, Verdict> = {
  0: "accept",
  [RejectReason.owner]: "owner",
  [RejectReason.invalidQueue]: "invalid_queue",
  [RejectReason.badOffset]: "bad_offset",
  [RejectReason.badCommand]: "bad_command",
};
const REASON_OF_VERDICT: Record<Verdict, number> = {
  accept: 0,
  owner: RejectReason.owner,
  invalid_queue: RejectReason.invalidQueue,
  bad_offset: RejectReason.badOffset,
  bad_command: RejectReason.badCommand,
};

export function queueKey(kind: number, number: number): string {
  return `${kind === DoorbellKind.send ? "s" : kind === DoorbellKind.receive ? "r" : "c"}:${number}`;
}

export function generateDoorbellTraffic(config: DoorbellTrafficConfig): DoorbellTraffic {
  const params: DoorbellParams = { ...DOORBELL_DEFAULTS, ...config.params };
  const rng = new Prng(config.seed);
  const processes = Math.min(config.processes ?? 6, params.uarPages - 1);
  const qpsPer = config.qpsPerProcess ?? 6;
  const cqsPer = config.cqsPerProcess ?? 2;
  const hotShare = config.hotShare ?? 0.3;
  const adversarial = config.adversarial ?? 0.08;
  const gapMax = config.gapMax ?? 3;

  // ---- ownership: QPNs and CQNs dealt out at random, some left unconfigured ----
  const qpOwner = new Map<number, number>();
  const cqOwner = new Map<number, number>();
  const deal = (entries: number, per: number, owner: Map<number, number>): void => {
    const free = Array.from({ length: entries }, (_, i) => i);
    for (let p = 1; p <= processes; p++) {
      for (let k = 0; k < per && free.length > 1; k++) {
        const n = free.splice(rng.int(0, free.length - 1), 1)[0];
        owner.set(n, p);
      }
    }
  };
  deal(params.qpEntries, qpsPer, qpOwner);
  deal(params.cqEntries, cqsPer, cqOwner);
  const cfg: StreamTransaction[] = [];
  let cycle = 0;
  const cfgTxn = (data: Uint8Array): void => {
    cfg.push({ data, user: {}, startCycle: cycle, endCycle: cycle });
    cycle++;
  };
  for (const [n, p] of qpOwner) cfgTxn(cfgWrite(CfgTable.qp, n, p));
  for (const [n, p] of cqOwner) cfgTxn(cfgWrite(CfgTable.cq, n, p));
  // an entry written and then invalidated (a destroyed QP): doorbells on it are invalid
  const unconfiguredQps = Array.from({ length: params.qpEntries }, (_, i) => i).filter((n) => !qpOwner.has(n));
  const destroyed = unconfiguredQps[rng.int(0, unconfiguredQps.length - 1)];
  cfgTxn(cfgWrite(CfgTable.qp, destroyed, 1));
  cfgTxn(cfgWrite(CfgTable.qp, destroyed, 1, false));
  // read the tables back: what the generator configured, nothing else
  const readbacks: DoorbellTraffic["readbacks"] = [];
  const unconfiguredCq = Array.from({ length: params.cqEntries }, (_, i) => i).find((n) => !cqOwner.has(n));
  const reads: [number, number, Map<number, number>][] = [
    ...[...qpOwner.keys(), destroyed, params.qpEntries, 0xff_ffff].map((n): [number, number, Map<number, number>] => [CfgTable.qp, n, qpOwner]),
    ...[...cqOwner.keys(), ...(unconfiguredCq === undefined ? [] : [unconfiguredCq]), params.cqEntries].map((n): [number, number, Map<number, number>] => [CfgTable.cq, n, cqOwner]),
  ];
  for (const [table, n, owner] of reads) {
    cfgTxn(cfgRead(table, n));
    readbacks.push({ txn: cfg.at(-1)!, expected: cfgReadback(table, n, owner.has(n), owner.get(n) ?? 0) });
  }
  cycle += 2; // the last cfg transaction is seen from the next cycle; doorbells start after it

  const qps = [...qpOwner.keys()];
  const cqs = [...cqOwner.keys()];
  const hot = Array.from({ length: Math.min(config.hotQps ?? 2, qps.length) }, (_, i) => qps[i * 3 % qps.length]);
  const counters = new Map<string, number>();
  const bump = (key: string, by: number, mod: number): number => {
    const v = ((counters.get(key) ?? 0) + by) % mod;
    counters.set(key, v);
    return v;
  };

  const mmio: StreamTransaction[] = [];
  const expected: ExpectedDoorbell[] = [];
  const counts: Record<Verdict, number> = { accept: 0, owner: 0, invalid_queue: 0, bad_offset: 0, bad_command: 0 };
  const lastCounter = new Map<string, number>();
  let burst = 0;
  let burstQp = hot[0] ?? qps[0];

  const emit = (data: Uint8Array, e: Omit<ExpectedDoorbell, "index" | "startCycle" | "reason">): void => {
    const index = mmio.length;
    mmio.push({ data, user: {}, startCycle: cycle, endCycle: cycle });
    expected.push({ ...e, index, startCycle: cycle, reason: REASON_OF_VERDICT[e.verdict] });
    counts[e.verdict]++;
    if (e.verdict === "accept") lastCounter.set(queueKey(e.kind, e.number), e.counter);
  };
  const otherPage = (p: number): number => {
    let q = rng.int(0, processes);
    while (q === p) q = rng.int(0, processes);
    return q;
  };
  const unknownQueue = (owner: Map<number, number>, entries: number): number =>
    rng.bool(0.5) ? (owner.has(destroyed) ? entries + rng.int(0, 1000) : destroyed) : entries + rng.int(0, 0xffff);

  for (let i = 0; i < config.doorbells; i++) {
    if (burst > 0) {
      burst--;
    } else {
      cycle += rng.int(0, gapMax);
      if (hot.length && rng.bool(hotShare / 8)) {
        burst = rng.int(4, 16);
        burstQp = hot[rng.int(0, hot.length - 1)];
      }
    }
    if (burst === 0 && rng.bool(adversarial)) {
      const what = rng.int(0, 3);
      if (what === 0) {
        // a QP (or CQ) of another process, rung on one's own page
        if (rng.bool(0.7)) {
          const qpn = qps[rng.int(0, qps.length - 1)];
          const page = otherPage(qpOwner.get(qpn)!);
          emit(sendDoorbell(page, { qpn, counter: rng.int(0, 0xffff) }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.send, kind: DoorbellKind.send, number: qpn, verdict: "owner", counter: 0 });
        } else {
          const cqn = cqs[rng.int(0, cqs.length - 1)];
          const page = otherPage(cqOwner.get(cqn)!);
          emit(cqDoorbell(page, { cqn, cmd: CqCommand.reqNot, ci: 1 }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.cq, kind: DoorbellKind.cq, number: cqn, verdict: "owner", counter: 0 });
        }
      } else if (what === 1) {
        const page = rng.int(1, processes);
        if (rng.bool(0.6)) {
          const qpn = unknownQueue(qpOwner, params.qpEntries) & 0xffffff;
          emit(receiveDoorbell(page, { qpn, counter: 1, nreq: 1 }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.receive, kind: DoorbellKind.receive, number: qpn, verdict: "invalid_queue", counter: 0 });
        } else {
          const cqn = (params.cqEntries + rng.int(0, 0xffff)) & 0xffffff;
          emit(cqDoorbell(page, { cqn, cmd: CqCommand.setCi, ci: 1 }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.cq, kind: DoorbellKind.cq, number: cqn, verdict: "invalid_queue", counter: 0 });
        }
      } else if (what === 2) {
        const qpn = qps[rng.int(0, qps.length - 1)];
        const page = qpOwner.get(qpn)!;
        const good = sendDoorbell(page, { qpn, counter: 7 }).subarray(8, 16);
        const kindOf = rng.int(0, 3);
        let offset = page * UAR_PAGE_BYTES + [0x14, 0x28, 0x800, 0x11][rng.int(0, 3)];
        let length = 8;
        if (kindOf === 1) offset = (params.uarPages + rng.int(0, 100)) * UAR_PAGE_BYTES + DoorbellOffset.send; // beyond the BAR's pages
        if (kindOf === 2) {
          offset = page * UAR_PAGE_BYTES + DoorbellOffset.send;
          length = 4; // a 32-bit write where a 64-bit doorbell is required
        }
        emit(mmioWrite(offset, good, length), { offset, kind: DoorbellKind.unknown, number: 0, verdict: "bad_offset", counter: 0 });
      } else {
        const cqn = cqs[rng.int(0, cqs.length - 1)];
        const page = cqOwner.get(cqn)!;
        const cmd = [0, 3, 5, 15][rng.int(0, 3)];
        emit(cqDoorbell(page, { cqn, cmd, ci: 2 }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.cq, kind: DoorbellKind.cq, number: cqn, verdict: "bad_command", counter: 0 });
      }
      continue;
    }
    // an ordinary doorbell: a hot burst, or any queue of any process
    const kindPick = burst > 0 ? 0 : rng.int(0, 9);
    if (kindPick < 6) {
      const qpn = burst > 0 ? burstQp : qps[rng.int(0, qps.length - 1)];
      const page = qpOwner.get(qpn)!;
      const counter = bump(queueKey(DoorbellKind.send, qpn), rng.int(1, 4), 0x10000);
      const f = { qpn, counter, opcode: rng.int(0, 31), fence: rng.int(0, 1), size: rng.int(1, 63) };
      emit(sendDoorbell(page, f), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.send, kind: DoorbellKind.send, number: qpn, verdict: "accept", counter });
    } else if (kindPick < 8) {
      const qpn = qps[rng.int(0, qps.length - 1)];
      const page = qpOwner.get(qpn)!;
      const nreq = rng.int(1, 255);
      const counter = bump(queueKey(DoorbellKind.receive, qpn), nreq, 0x10000);
      emit(receiveDoorbell(page, { qpn, counter, nreq }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.receive, kind: DoorbellKind.receive, number: qpn, verdict: "accept", counter });
    } else {
      const cqn = cqs[rng.int(0, cqs.length - 1)];
      const page = cqOwner.get(cqn)!;
      const ci = bump(queueKey(DoorbellKind.cq, cqn), rng.int(1, 64), 0x1000000);
      const cmd = [CqCommand.reqNot, CqCommand.reqNotSol, CqCommand.setCi][rng.int(0, 2)];
      emit(cqDoorbell(page, { cqn, cmd, ci, sn: rng.int(0, 3) }), { offset: page * UAR_PAGE_BYTES + DoorbellOffset.cq, kind: DoorbellKind.cq, number: cqn, verdict: "accept", counter: ci });
    }
  }
  return { params, qpOwner, cqOwner, hot, cfg, readbacks, mmio, expected, counts, lastCounter };
}

/** The traffic as one stimulus stream, in startCycle order across both ports. */
export function* doorbellStimulus(t: DoorbellTraffic): Generator<{ port: string; txn: StreamTransaction }> {
  for (const txn of t.cfg) yield { port: "s_cfg", txn };
  for (const txn of t.mmio) yield { port: "s_mmio", txn };
}
