/**
 * The gateway's TypeScript twin: the two direction twins side by side, as the RTL top
 * instantiates the two direction modules. The configuration stream goes to both (each
 * keeps its own copy of the table); the shared counters are the directions' sums.
 */
import type { BlockTwin, StreamTransaction } from "../../core/block.ts";
import { Eth2IbTwin } from "./eth2ib.ts";
import { Ib2EthTwin } from "./ib2eth.ts";

export interface GatewayTwinOptions {
  ethPorts: number;
  dataBytes: number;
  tableEntries: number;
  fifoBeats: number;
  mtuBytes: number;
  gwLid?: number;
  gwQpn?: number;
  /** m_eth_axis[i] tready per cycle when the run applies backpressure */
  outputReady?: (port: number) => ((cycle: number) => boolean) | undefined;
}

/** The RTL's defaults for the gateway's own identity (gateway.sv parameters). */
export const GATEWAY_LID = 0x0001;
export const GATEWAY_QPN = 0x000048;

export class GatewayTwin implements BlockTwin {
  readonly block = "gateway";
  readonly eth2ib: Eth2IbTwin;
  readonly ib2eth: Ib2EthTwin;

  constructor(o: GatewayTwinOptions) {
    const common = { ethPorts: o.ethPorts, dataBytes: o.dataBytes, tableEntries: o.tableEntries, fifoBeats: o.fifoBeats, mtuBytes: o.mtuBytes, gwLid: o.gwLid ?? GATEWAY_LID, gwQpn: o.gwQpn ?? GATEWAY_QPN };
    this.eth2ib = new Eth2IbTwin(common);
    this.ib2eth = new Ib2EthTwin({ ...common, outputReady: o.outputReady });
  }

  offer(port: string, txn: StreamTransaction): void {
    if (port === "s_cfg_axis") {
      this.eth2ib.offer(port, txn);
      this.ib2eth.offer(port, txn);
    } else if (port === "s_ib_axis") {
      this.ib2eth.offer(port, txn);
    } else {
      this.eth2ib.offer(port, txn);
    }
  }

  runUntil(cycle: number): void {
    this.eth2ib.runUntil(cycle);
    this.ib2eth.runUntil(cycle);
  }

  take(port: string): StreamTransaction[] {
    return port.startsWith("m_eth_axis") ? this.ib2eth.take(port) : this.eth2ib.take(port);
  }

  wires(): Record<string, number> {
    const e = this.eth2ib.wires();
    const i = this.ib2eth.wires();
    const sum = (a: number | undefined, b: number | undefined) => ((a ?? 0) + (b ?? 0)) >>> 0;
    return {
      stat_drop_bad_crc: sum(e.e2i_drop_bad_crc, i.i2e_drop_bad_crc),
      stat_drop_runt: sum(e.e2i_drop_runt, i.i2e_drop_runt),
      stat_drop_giant: sum(e.e2i_drop_giant, i.i2e_drop_giant),
      stat_drop_bad_header: sum(0, i.i2e_drop_bad_header),
      stat_drop_key_mismatch: sum(0, i.i2e_drop_key_mismatch),
      stat_drop_unknown: sum(e.e2i_drop_unknown, i.i2e_drop_unknown),
      stat_drop_queue_full: sum(e.e2i_drop_queue_full, i.i2e_drop_queue_full),
      stat_slow_path: sum(e.e2i_slow_path, 0),
      stat_eth2ib_frames: sum(e.e2i_frames, 0),
      stat_ib2eth_frames: sum(0, i.i2e_frames),
    };
  }
}
