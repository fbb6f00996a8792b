/**
 * The firmware worker thread: the firmware runs here, like the embedded CPU of a real
 * adapter, and programs the device's tables through a DeviceBus that lives in the main
 * thread (where the datapath model or the RTL proxy is) and reaches it as a comlink
 * proxy. Started by worker-boot.mjs; the main thread's handle is thread.ts.
 *
 * Node-only (worker_threads): not exported from firmware/index.ts.
 */
import { parentPort } from "node:worker_threads";
import * as Comlink from "comlink";
import { nodeEndpoint } from "./node-endpoint.ts";
import type { CommandResult, FirmwareCommand } from "./commands.ts";
import type { DeviceBus } from "./device-bus.ts";
import { Firmware, type FirmwareOptions, type FirmwareTables } from "./firmware.ts";

/** What the worker exposes over comlink. */
export class FirmwareWorkerApi {
  private firmware: Firmware | undefined;
  private bus: Comlink.Remote<DeviceBus> | undefined;

  /** `bus` arrives as a comlink proxy of the main thread's bus: every call is async */
  start(bus: DeviceBus, options: FirmwareOptions = {}): void {
    if (this.firmware !== undefined) throw new Error("firmware worker: already started");
    this.bus = bus as unknown as Comlink.Remote<DeviceBus>;
    this.firmware = new Firmware(bus, options);
  }

  execute(command: FirmwareCommand): Promise<CommandResult> {
    return this.need().execute(command);
  }

  snapshot(): FirmwareTables {
    return this.need().snapshot();
  }

  /** releases the bus proxy, so neither thread keeps the other's port open */
  stop(): void {
    this.bus?.[Comlink.releaseProxy]();
    this.bus = undefined;
    this.firmware = undefined;
  }

  private need(): Firmware {
    if (this.firmware === undefined) throw new Error("firmware worker: not started (call start first)");
    return this.firmware;
  }
}

if (parentPort === null) throw new Error("firmware/worker.ts must run in a worker thread (start it with startFirmwareWorker)");
Comlink.expose(new FirmwareWorkerApi(), nodeEndpoint(parentPort));
