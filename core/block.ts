/**
 * The transaction-level face of a datapath block: what a TypeScript twin and the
 * RTL (through the generated shim) both produce, so the scoreboard can compare them.
 *
 * Cycle numbering (both sides): cycle 0 is the first rising clock edge after reset is
 * released. A beat "handshakes at cycle c" when valid && ready are both high at rising
 * edge c. Transactions are the unit of comparison; beats are not.
 */
import type { PackedTransactions } from "./packed-transactions.ts";

/** Per-transaction sideband values, by the field names declared in block.yaml (each ≤ 32 bits). */
export type UserFields = Record<string, number>;

export interface StreamTransaction {
  /** payload bytes; byte 0 travels in lane 0 (tdata[7:0]) of the first beat; empty for data-less streams */
  data: Uint8Array;
  /** sideband fields declared in the manifest, sampled on the transaction's last beat */
  user: UserFields;
  /** input: earliest cycle the first beat may be offered; output: cycle the first beat handshook */
  startCycle: number;
  /** output: cycle the last beat handshook; input: ignored (set to startCycle) */
  endCycle: number;
}

/**
 * A TypeScript twin of an RTL block. The harness offers every input transaction in order
 * (per port), advances time, and takes the output transactions that completed.
 */
export interface BlockTwin {
  /** block name, the same as rtl-models/<block>/ */
  readonly block: string;
  /** queue an input transaction on an input stream port; per port, startCycle is non-decreasing */
  offer(port: string, txn: StreamTransaction): void;
  /** simulate every cycle below `cycle` (exclusive) */
  runUntil(cycle: number): void;
  /** output transactions completed so far on an output stream port, removed from the twin */
  take(port: string): StreamTransaction[];
  /** values of the block's output wires (by manifest name) at the cycle simulated up to */
  wires?(): Record<string, number>;
  /**
   * offer(), for `count` transactions packed in `bytes` (core/packed-transactions.ts), as
   * the harness sends them to the RTL; the twin may keep a view of `bytes` (never changed
   * afterwards). Optional: a twin that reads its inputs in place saves an object per input.
   */
  offerPacked?(port: string, bytes: Uint8Array, count: number): void;
  /**
   * take(), packed; the bytes may be lent (valid until the twin's next call). Optional:
   * outputs packed the way the RTL's arrive let the scoreboard compare the two by
   * comparing bytes.
   */
  takePacked?(port: string): PackedTransactions;
}
