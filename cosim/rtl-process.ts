/**
 * One RTL process (a Verilator build of a block with its generated shim), spoken to
 * over ZeroMQ, and supervised: if it crashes, exits, or goes silent past the timeout,
 * the run ends with a RunFailure naming the block, the cycle, the endpoint and the
 * tail of its output. The process is always reaped; none is left behind.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import * as zmq from "zeromq";
import type { BuiltBlock } from "./build.ts";
import type { ResolvedBlock } from "./manifest.ts";
import { decodeMessage, encodeMessage, hexHash, ProtocolError, textTail, type DecodedMessage } from "./codec.ts";
import { RunFailure, UserError } from "./errors.ts";
import { PROTOCOL_VERSION } from "./protocol.ts";

export interface RtlProcessOptions {
  /** silence longer than this while waiting for an answer ends the run [ms] */
  timeoutMs?: number;
  /** write a VCD waveform here (the build must be traced) */
  tracePath?: string;
  /** override the endpoint (default: a fresh ipc:// socket in the temp folder) */
  endpoint?: string;
  /** test hook: the protocol version the harness claims */
  harnessVersion?: number;
  /** test hook: the manifest hash the harness claims (hex) */
  harnessHash?: string;
}

const TAIL_LINES = 20;

class OutputTail {
  private lines: string[] = [];
  private partial = "";
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split("\n");
    this.partial = parts.pop() ?? "";
    for (const l of parts) {
      this.lines.push(l);
      if (this.lines.length > TAIL_LINES) this.lines.shift();
    }
  }
  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.length ? all.map((l) => `    | ${l}`).join("\n") : "    (nothing)";
  }
}

export class RtlProcess {
  /** last cycle the RTL reported reaching */
  cycle = 0;
  /** the cycle the harness last asked for (for messages) */
  targetCycle = 0;
  pid = 0;
  buildInfo = "";
  private seq = 0;
  private exited: { code: number | undefined; signal: string | undefined } | null = null;
  private readonly exitWait: Promise<void>;
  private closed = false;
  private readonly tail = new OutputTail();

  private constructor(
    /** the block's interface as the harness loaded it */
    readonly resolved: ResolvedBlock,
    /** the local executable, or null for a remote RTL server */
    readonly binary: string | null,
    readonly endpoint: string,
    private readonly sock: zmq.Pair,
    private readonly child: ResultPromise | null,
    private readonly timeoutMs: number,
    private readonly ipcPath: string | null,
  ) {
    child?.stderr?.on("data", (d: Buffer) => this.tail.push(d));
    child?.stdout?.on("data", (d: Buffer) => this.tail.push(d));
    // a remote server has no process here to watch: only silence can end it
    this.exitWait = child
      ? child.then(
          (r) => { this.exited = { code: r.exitCode, signal: r.signal }; },
          (e: { exitCode?: number; signal?: string }) => { this.exited = { code: e.exitCode, signal: e.signal }; },
        )
      : new Promise<void>((res) => { this.releaseRemote = res; });
  }

  private releaseRemote: (() => void) | undefined;

  get block(): string {
    return this.resolved.manifest.block;
  }

  /**
   * Connect to an RTL server (`hcasim rtl-server`) at a tcp:// endpoint, typically on
   * another host, and check protocol version and interface hash as for a local process.
   */
  static async connect(block: ResolvedBlock, endpoint: string, opts: RtlProcessOptions = {}): Promise<RtlProcess> {
    if (!/^tcp:\/\/[^:]+:\d+$/.test(endpoint)) throw new UserError(`block ${block.manifest.block}: endpoint "${endpoint}" is not tcp://HOST:PORT`);
    const sock = new zmq.Pair({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0 });
    sock.connect(endpoint);
    const p = new RtlProcess(block, null, endpoint, sock, null, opts.timeoutMs ?? 30_000, null);
    try {
      await p.handshake(opts.harnessVersion ?? PROTOCOL_VERSION, opts.harnessHash ?? block.hash);
    } catch (e) {
      await p.kill();
      throw e;
    }
    return p;
  }

  /** Spawn the RTL process, connect, and check protocol version and manifest hash. */
  static async start(built: BuiltBlock, opts: RtlProcessOptions = {}): Promise<RtlProcess> {
    const ipcPath = opts.endpoint ? null : join(tmpdir(), `hcasim-${process.pid}-${randomBytes(4).toString("hex")}.ipc`);
    const endpoint = opts.endpoint ?? `ipc://${ipcPath}`;
    const sock = new zmq.Pair({ linger: 0, receiveHighWaterMark: 0, sendHighWaterMark: 0 });
    await sock.bind(endpoint);
    const args = ["--endpoint", endpoint];
    if (opts.tracePath) {
      if (!built.trace) throw new UserError(`block ${built.block.manifest.block}: a waveform needs a traced build`);
      args.push("--trace", opts.tracePath);
    }
    const child = execa(built.binary, args, { buffer: false, reject: false, stdin: "ignore", cleanup: true, forceKillAfterDelay: 1000 });
    const p = new RtlProcess(built.block, built.binary, endpoint, sock, child, opts.timeoutMs ?? 30_000, ipcPath);
    p.pid = child.pid ?? 0;
    try {
      await p.handshake(opts.harnessVersion ?? PROTOCOL_VERSION, opts.harnessHash ?? built.block.hash);
    } catch (e) {
      await p.kill();
      throw e;
    }
    return p;
  }

  private failure(what: string): RunFailure {
    const m = this.resolved.manifest;
    return new RunFailure(
      `${this.child ? "RTL process" : "remote RTL server"} for block ${m.block} ${what}\n` +
        `  cycle: ${this.cycle}${this.targetCycle > this.cycle ? ` (advancing to ${this.targetCycle})` : ""}\n` +
        `  endpoint: ${this.endpoint}\n` +
        (this.child
          ? `  binary: ${this.binary} (pid ${this.pid})\n  last lines of its output:\n${this.tail.text()}`
          : `  (its output is on the server's terminal)`),
    );
  }

  private exitText(): string {
    const e = this.exited!;
    return e.signal ? `was killed by ${e.signal}` : `exited with code ${e.code}`;
  }

  async send(frame: Uint8Array): Promise<void> {
    if (this.exited) throw this.failure(this.exitText());
    // a Pair socket holds a send until the peer is connected: that wait is supervised too
    await this.guard(this.sock.send(frame), "took no message");
  }

  /** Wait for `op`, but end with a RunFailure if the process exits or stays silent too long. */
  private async guard<T>(op: Promise<T>, silentWhat: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((res) => { timer = setTimeout(() => res("timeout"), this.timeoutMs); });
    const exit = this.exitWait.then(() => "exit" as const);
    try {
      const r = await Promise.race([op, timeout, exit]);
      if (r === "timeout") {
        op.catch(() => undefined);
        await this.kill();
        throw this.failure(`${silentWhat} for ${this.timeoutMs} ms (timeout); it was killed`);
      }
      if (r === "exit") {
        // a message sent just before a clean exit (R2H_END) may still be in ZeroMQ's queue
        // when the exit is seen: give it a moment before calling the exit a failure
        const late = await Promise.race([op.then((v) => ({ v }), () => null), new Promise<null>((res) => setTimeout(() => res(null), 200))]);
        if (late) return late.v;
        op.catch(() => undefined);
        throw this.failure(this.exitText());
      }
      return r as T;
    } finally {
      clearTimeout(timer);
    }
  }

  sendMessage(name: Parameters<typeof encodeMessage>[0], values: Parameters<typeof encodeMessage>[2] = {}, version?: number): Promise<void> {
    return this.send(encodeMessage(name, this.seq++, values, undefined, version));
  }

  nextSeq(): number {
    return this.seq++;
  }

  /** Next message from the RTL; exit, silence and R2H_ERROR become RunFailures. */
  async receive(): Promise<DecodedMessage> {
    // no early exit check: what the process sent before it exited is still delivered
    const [frame] = await this.guard(this.sock.receive(), "sent nothing");
    let msg: DecodedMessage;
    try {
      msg = decodeMessage(frame!);
    } catch (e) {
      if (e instanceof ProtocolError) throw this.failure(`sent a bad message: ${e.message}`);
      throw e;
    }
    if (msg.name === "R2H_ERROR") {
      this.cycle = msg.fields.cycle as number;
      throw this.failure(`reported an error: ${textTail(msg)}`);
    }
    return msg;
  }

  async expect<N extends DecodedMessage["name"]>(name: N): Promise<DecodedMessage> {
    const msg = await this.receive();
    if (msg.name !== name) throw this.failure(`sent ${msg.name} where ${name} was expected`);
    return msg;
  }

  private async handshake(version: number, hashHex: string): Promise<void> {
    await this.sendMessage("H2R_HELLO", { protocolVersion: version, flags: 0, manifestHash: Buffer.from(hashHex, "hex") }, version);
    let msg: DecodedMessage;
    try {
      msg = await this.receive();
    } catch (e) {
      // the shim refuses a harness of another protocol version: that is a set-up error
      const text = (e as Error).message;
      const refusal = /reported an error: (protocol version mismatch[^\n]*)/.exec(text);
      if (refusal) throw new UserError(`block ${this.block}: ${refusal[1]}; rebuild the RTL (delete build/${this.block})`);
      throw e;
    }
    if (msg.name !== "R2H_HELLO") throw this.failure(`answered the handshake with ${msg.name}`);
    this.buildInfo = textTail(msg);
    const theirVersion = msg.fields.protocolVersion as number;
    const m = this.resolved.manifest;
    const peer = this.binary ?? `at ${this.endpoint}`;
    if (theirVersion !== version || msg.version !== version) {
      throw new UserError(`protocol version mismatch for block ${m.block}: the harness speaks v${version}, the RTL process ${peer} speaks v${theirVersion}; rebuild the RTL (delete build/${m.block})`);
    }
    const theirHash = hexHash(msg.fields.manifestHash);
    if (theirHash !== hashHex) {
      throw new UserError(
        `manifest mismatch for block ${m.block}: the harness loaded ${m.file} (interface hash ${hashHex.slice(0, 16)}…), ` +
          `the RTL process ${peer} was generated from interface hash ${theirHash.slice(0, 16)}… (${this.buildInfo}); rebuild it`,
      );
    }
  }

  /** Reset the RTL: queues dropped, reset held, cycle 0 restarts. */
  async reset(opts: { outReadyPercent?: number; seed?: number } = {}): Promise<void> {
    await this.sendMessage("H2R_RESET", {
      cycles: this.resolved.manifest.reset.cycles,
      outReadyPercent: opts.outReadyPercent ?? 100,
      seed: opts.seed ?? 0,
    });
    this.cycle = 0;
    this.targetCycle = 0;
  }

  /** End the run politely; kill if the process does not go. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    try {
      if (!this.exited) {
        await this.sendMessage("H2R_END");
        for (;;) {
          const m = await this.receive();
          if (m.name === "R2H_END") break;
        }
        if (this.child) await Promise.race([this.exitWait, new Promise((res) => setTimeout(res, 2000))]);
      }
    } finally {
      await this.kill();
    }
  }

  /** Kill the process (if alive), close the socket and remove the ipc file. */
  async kill(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.child) {
      if (!this.exited) this.child.kill("SIGKILL");
    } else {
      this.releaseRemote?.();
    }
    await this.exitWait;
    this.sock.close();
    if (this.ipcPath) rmSync(this.ipcPath, { force: true });
  }

  get alive(): boolean {
    return !this.exited;
  }
}
