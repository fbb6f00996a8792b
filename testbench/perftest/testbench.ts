/**
 * The two-node testbench: one simulator, the fabric (fabric.ts), adapter A (the
 * initiator: perftest's client) and adapter B (the target: perftest's server), each with
 * its QPs connected to the other's, and the errors the tests collect.
 */
import { Prng, Simulator } from "../../core/index.ts";
import { ipv4MappedGid, linkLocalGid, parseMac } from "../../hca/link/index.ts";
import { WcStatus } from "../../hca/formats/index.ts";
import { Fabric } from "./fabric.ts";
import { type NodeAddress, PerftestNode } from "./node.ts";
import { type PerftestScenario, PERFTEST_TESTS } from "./scenario.ts";

/** a completion with an error status, as the host polled it */
export interface CompletionError {
  readonly node: string;
  readonly qpn: number;
  /** the work request's number within its size (posts of the QP, from 0) */
  readonly index: number;
  readonly status: number;
  readonly statusName: string;
  /** the mlx4 error syndrome the CQE carries */
  readonly syndrome: number;
  /** simulated time the host saw it [ps] */
  readonly atPs: number;
  /** work requests of the QP flushed after it (flush-error completions) */
  flushed: number;
}

const STATUS_NAMES = Object.fromEntries(Object.entries(WcStatus).map(([k, v]) => [v, k])) as Record<number, string>;
/** "retryExceeded" → "retry exceeded" */
export function statusName(status: number): string {
  return (STATUS_NAMES[status] ?? `status ${status}`).replace(/[A-Z]/g, (c) => ` ${c.toLowerCase()}`);
}

/** the adapters' addresses: MACs 02:00:00:00:00:0a/0b, IPv4 10.0.0.1/2 or their link-local IPv6 GIDs, LIDs 1/2 */
function addresses(sc: PerftestScenario): [NodeAddress, NodeAddress] {
  const t = sc.fabric.transport;
  const make = (name: string, n: number): NodeAddress => {
    const mac = parseMac(`02:00:00:00:00:0${n === 1 ? "a" : "b"}`);
    const gid = t === "rocev2-ipv4" ? ipv4MappedGid((10 << 24) | n) : linkLocalGid(mac);
    return { name, mac, gid, lid: t === "ib" ? n : 0 };
  };
  return [make("hostA", 1), make("hostB", 2)];
}

export class PerftestBench {
  readonly sim = new Simulator();
  readonly fabric: Fabric;
  readonly a: PerftestNode;
  readonly b: PerftestNode;
  readonly qpsA: number[];
  readonly qpsB: number[];
  /** the data the tests write comes from here */
  readonly prng: Prng;
  readonly errors: CompletionError[] = [];

  constructor(readonly sc: PerftestScenario) {
    const [addrA, addrB] = addresses(sc);
    const p = sc.params;
    const f = sc.fabric;
    this.prng = new Prng(sc.seed).fork("data");
    this.fabric = new Fabric(this.sim, {
      speed: f.linkName,
      topology: f.topology,
      propagationPs: f.propagationPs,
      faults: f.faults,
      seed: sc.seed,
      switch: f.switch,
      a: addrA,
      b: addrB,
    });
    const depth = Math.max(p.txDepth, p.rxDepth, 2);
    const logSize = Math.ceil(Math.log2(depth));
    const logCq = Math.min(24, logSize + Math.ceil(Math.log2(p.qps)) + 1);
    const node = (address: NodeAddress, peer: NodeAddress) =>
      new PerftestNode(this.sim, { address, peer, transport: f.transport, timing: sc.adapter, crcMode: f.crcMode, logCqSize: logCq, prng: new Prng(sc.seed).fork(`${address.name}/pcie`) });
    this.a = node(addrA, addrB);
    this.b = node(addrB, addrA);
    this.a.port.attach(this.fabric.portA);
    this.b.port.attach(this.fabric.portB);
    this.qpsA = this.a.createQps("a", p.qps, logSize);
    this.qpsB = this.b.createQps("b", p.qps, logSize);
    const psn = new Prng(sc.seed).fork("psn");
    this.qpsA.forEach((qa, i) => {
      const qb = this.qpsB[i]!;
      const psnA = psn.int(0, 0xff_ffff);
      const psnB = psn.int(0, 0xff_ffff);
      this.a.connect(qa, qb, sc.qp, p.mtu, p.outstandingReads, psnA, psnB);
      this.b.connect(qb, qa, sc.qp, p.mtu, p.outstandingReads, psnB, psnA);
    });
  }

  get op() {
    return PERFTEST_TESTS[this.sc.test].op;
  }

  /**
   * An error completion `cqe` of work request `index`: the first of its QP is recorded,
   * flush errors after it are counted against it.
   */
  error(node: PerftestNode, index: number, cqe: { qpn: number; status: number; vendorErr: number }): void {
    const first = this.errors.find((e) => e.node === node.host.name && e.qpn === cqe.qpn);
    if (first !== undefined) {
      if (cqe.status === WcStatus.wrFlushError) first.flushed++;
      return;
    }
    this.errors.push({ node: node.host.name, qpn: cqe.qpn, index, status: cqe.status, statusName: statusName(cqe.status), syndrome: cqe.vendorErr, atPs: this.sim.now, flushed: 0 });
  }

  /**
   * Runs the simulator until `done()` holds (the test stops the simulator when it does).
   * Fails (throws) if the events run out first (nothing left that could finish the test)
   * or `limitPs` of simulated time pass.
   */
  runUntil(done: () => boolean, what: string, limitPs: number): void {
    const sim = this.sim;
    const until = sim.now + limitPs;
    const step = 1_000_000_000; // 1 ms of simulated time per slice
    while (!done()) {
      if (sim.pending === 0) throw new StallError(`${what}: nothing left to happen at ${(sim.now / 1e6).toFixed(3)} µs, and the test is not finished`);
      if (sim.now >= until) throw new StallError(`${what}: not finished after ${(limitPs / 1e9).toFixed(0)} ms of simulated time`);
      sim.run(Math.min(until, sim.now + step));
    }
  }
}

/** the test cannot finish (a stalled transport, a lost completion) */
export class StallError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StallError";
  }
}
