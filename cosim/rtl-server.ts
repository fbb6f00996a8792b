/**
 * `hcasim rtl-server`: serve one block's RTL on a tcp:// endpoint, so a co-simulation on
 * another host can run it (DESIGN.md §4, §7). Each harness session gets a fresh RTL
 * process (fresh model, reset); the server starts the next one when a session ends.
 * The conservative quantum protocol is unchanged: distance only changes the speed.
 */
import { execa } from "execa";
import type { BuiltBlock } from "./build.ts";
import { UserError } from "./errors.ts";

export interface ServeOptions {
  /** serve one session, then return */
  once?: boolean;
  log?: (line: string) => void;
  /** stop serving when this resolves */
  stop?: Promise<void>;
}

export async function serveRtl(built: BuiltBlock, listen: string, opts: ServeOptions = {}): Promise<number> {
  if (!/^tcp:\/\/[^:/]+:\d+$/.test(listen)) throw new UserError(`--listen "${listen}": expected tcp://ADDRESS:PORT (e.g. tcp://0.0.0.0:5555)`);
  const log = opts.log ?? (() => undefined);
  const m = built.block.manifest;
  let sessions = 0;
  let stopping = false;
  let current: ReturnType<typeof execa> | undefined;
  void opts.stop?.then(() => {
    stopping = true;
    current?.kill("SIGTERM");
  });
  while (!stopping) {
    log(`rtl-server: block ${m.block} (interface ${built.block.hash.slice(0, 16)}…) waiting on ${listen}`);
    current = execa(built.binary, ["--endpoint", listen, "--bind"], { reject: false, stdin: "ignore", stdout: "inherit", stderr: "inherit", cleanup: true });
    const r = await current;
    sessions++;
    if (stopping) break;
    if (r.exitCode !== 0) {
      log(`rtl-server: session ${sessions} ended with ${r.signal ? `signal ${r.signal}` : `exit code ${r.exitCode}`}`);
      // a process that cannot even bind will not bind next time either
      if (r.exitCode === 3) throw new UserError(`rtl-server: the RTL process could not serve ${listen} (see above)`);
    } else {
      log(`rtl-server: session ${sessions} done`);
    }
    if (opts.once) break;
  }
  return sessions;
}
