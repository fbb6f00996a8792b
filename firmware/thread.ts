/**
 * The main thread's handle on the firmware worker (Node-only: worker_threads; import it
 * directly, it is not part of firmware/index.ts, like core/pcap-file.ts).
 *
 * The device bus stays in the calling thread and is handed to the worker as a comlink
 * proxy: the tables belong to the datapath (model or RTL), the firmware only programs
 * them, as a real adapter's embedded CPU does over its internal bus.
 */
import { Worker } from "node:worker_threads";
import * as Comlink from "comlink";
import { nodeEndpoint } from "./node-endpoint.ts";
import type { CommandExecutor, CommandResult, FirmwareCommand } from "./commands.ts";
import type { DeviceBus } from "./device-bus.ts";
import type { FirmwareOptions, FirmwareTables } from "./firmware.ts";
import type { FirmwareWorkerApi } from "./worker.ts";

export interface FirmwareWorker extends CommandExecutor {
  execute(command: FirmwareCommand): Promise<CommandResult>;
  snapshot(): Promise<FirmwareTables>;
  /** stops the firmware and the thread; resolves when the thread has exited */
  terminate(): Promise<void>;
}

export async function startFirmwareWorker(bus: DeviceBus, options: FirmwareOptions = {}): Promise<FirmwareWorker> {
  const worker = new Worker(new URL("./worker-boot.mjs", import.meta.url));
  const remote = Comlink.wrap<FirmwareWorkerApi>(nodeEndpoint(worker));
  const failed = new Promise<never>((_, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`firmware worker exited with code ${code} before it started`)));
  });
  try {
    await Promise.race([remote.start(Comlink.proxy(bus), options), failed]);
  } catch (e) {
    await worker.terminate();
    throw e;
  }
  failed.catch(() => undefined);
  let stopped = false;
  return {
    execute: (command) => remote.execute(command),
    snapshot: () => remote.snapshot(),
    async terminate() {
      if (stopped) return;
      stopped = true;
      try {
        await remote.stop();
      } finally {
        remote[Comlink.releaseProxy]();
        await worker.terminate();
      }
    },
  };
}
