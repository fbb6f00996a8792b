/**
 * The device bus of the bring-up: the TypeScript model's tables (ModelDeviceBus), with every
 * call also turned into the configuration-port transactions the RTL blocks would get —
 * through firmware/device-config.ts, the same translation the RTL device bus sends — and
 * recorded with the epoch it happened in. The stages replay them as s_cfg stimulus.
 */
import {
  invalidateCqTxns, invalidateMptTxns, resetQpTxns, writeCqContextTxns, writeMptTxns, writeMttTxns, writeQpContextTxns, type ConfigTxn,
} from "../../firmware/device-config.ts";
import { ModelDeviceBus, type DeviceBus, type DeviceTables, type TableSizes } from "../../firmware/index.ts";

export interface RecordedTxn extends ConfigTxn {
  readonly epoch: number;
}

export class RecordingBus implements DeviceBus {
  readonly model = new ModelDeviceBus();
  readonly recorded: RecordedTxn[] = [];
  /** the epoch recorded with the next transactions */
  epoch = 0;

  private record(txns: readonly ConfigTxn[]): void {
    for (const t of txns) this.recorded.push({ ...t, epoch: this.epoch });
  }

  configure(sizes: TableSizes): void {
    this.model.configure(sizes);
  }
  reset(): void {
    this.model.reset();
  }
  setPortUp(port: number, up: boolean): void {
    this.model.setPortUp(port, up);
  }
  writeMpt(index: number, entry: Uint8Array): void {
    this.model.writeMpt(index, entry);
    this.record(writeMptTxns(index, entry));
  }
  invalidateMpt(index: number): void {
    this.model.invalidateMpt(index);
    this.record(invalidateMptTxns(index));
  }
  readMpt(index: number): Uint8Array {
    return this.model.readMpt(index);
  }
  writeMtt(index: number, entries: Uint8Array): void {
    this.model.writeMtt(index, entries);
    this.record(writeMttTxns(index, entries));
  }
  syncTpt(): void {
    this.model.syncTpt();
  }
  writeCqContext(cqn: number, context: Uint8Array): void {
    this.model.writeCqContext(cqn, context);
    this.record(writeCqContextTxns(cqn, context));
  }
  invalidateCq(cqn: number): void {
    this.model.invalidateCq(cqn);
    this.record(invalidateCqTxns(cqn));
  }
  readCqContext(cqn: number): Uint8Array {
    return this.model.readCqContext(cqn);
  }
  writeEqContext(eqn: number, context: Uint8Array): void {
    this.model.writeEqContext(eqn, context);
  }
  invalidateEq(eqn: number): void {
    this.model.invalidateEq(eqn);
  }
  readEqContext(eqn: number): Uint8Array {
    return this.model.readEqContext(eqn);
  }
  mapEvent(eventType: number, eqn: number | null): void {
    this.model.mapEvent(eventType, eqn);
  }
  writeQpContext(qpn: number, context: Uint8Array): void {
    this.model.writeQpContext(qpn, context);
    this.record(writeQpContextTxns(qpn, context));
  }
  resetQp(qpn: number): void {
    this.model.resetQp(qpn);
    this.record(resetQpTxns(qpn));
  }
  readQpContext(qpn: number): Uint8Array {
    return this.model.readQpContext(qpn);
  }
  snapshot(): DeviceTables {
    return this.model.snapshot();
  }
}
