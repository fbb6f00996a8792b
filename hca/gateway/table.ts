/**
 * The gateway's forwarding table (hca/gateway/README.md, "Forwarding table entry"):
 * the 16-byte entry written on s_cfg_axis, declared once here and used by both direction
 * twins, the scenarios that program the table, and the tests. The RTL reads the same
 * offsets (byte 0 in lane 0 of s_cfg_axis_tdata).
 *
 *   byte 0     1       2..7   8..9   10..12  13          14..15
 *   | index | flags | mac  | lid  | qpn   | SL | port | pkey |
 *   flags: bit 0 valid, bit 1 ib, bit 2 group (bits 7..3 reserved, zero)
 *
 * Lookups follow the RTL's priority encoders: when several valid entries match, the one
 * with the lowest index wins.
 */
import { defineLayout } from "../../core/layout.ts";
import { IPOIB_QKEY } from "../headers/ipoib.ts";

/** The Q_Key of everything the gateway sends and requires (one per gateway). */
export const QKEY = IPOIB_QKEY;

/** The broadcast MAC, as a 48-bit number: the MAC of the IPoIB broadcast group entry. */
export const BROADCAST_MAC = 0xffff_ffff_ffff;

/** DestQP of IB multicast (a group entry's qpn). */
export const MULTICAST_QPN = 0xff_ffff;

export const TableEntryLayout = defineLayout(
  "gateway-table-entry",
  [
    { name: "index", bits: 8, doc: "entry number (< TABLE_ENTRIES)" },
    { name: "flagsReserved", bits: 5, doc: "zero" },
    { name: "group", bits: 1, doc: "an IB multicast group (ib is 1 too)" },
    { name: "ib", bits: 1, doc: "1: an IB host (or group); 0: an Ethernet host" },
    { name: "valid", bits: 1 },
    { name: "mac", bits: 48, doc: "the host's (or group's) MAC" },
    { name: "lid", bits: 16, doc: "IB host: its LID; group: the MLID" },
    { name: "qpn", bits: 24, doc: "IB host: its UD QPN; group: 0xFFFFFF; Ethernet host: its proxy QPN" },
    { name: "sl", bits: 4, doc: "service level (IB hosts and groups)" },
    { name: "port", bits: 4, doc: "Ethernet port (Ethernet hosts)" },
    { name: "pkey", bits: 16, doc: "P_Key to send with (IB) or to require (Ethernet host)" },
  ],
  { sizeBytes: 16 },
);

/** bytes of one entry (one s_cfg_axis beat) */
export const TABLE_ENTRY_BYTES = TableEntryLayout.sizeBytes;

/** One decoded entry. `mac` is a 48-bit number, byte 2 of the entry most significant. */
export interface TableEntry {
  index: number;
  valid: boolean;
  ib: boolean;
  group: boolean;
  mac: number;
  lid: number;
  qpn: number;
  sl: number;
  port: number;
  pkey: number;
}

/** An entry with every field given, or defaulted: invalid, Ethernet, zeros. */
export function tableEntry(e: Partial<TableEntry> & { index: number }): TableEntry {
  return {
    index: e.index,
    valid: e.valid ?? true,
    ib: e.ib ?? false,
    group: e.group ?? false,
    mac: e.mac ?? 0,
    lid: e.lid ?? 0,
    qpn: e.qpn ?? 0,
    sl: e.sl ?? 0,
    port: e.port ?? 0,
    pkey: e.pkey ?? 0,
  };
}

/** The 16 bytes of an entry (what a scenario writes on s_cfg_axis). Throws if a field does not fit. */
export function encodeTableEntry(e: TableEntry): Uint8Array {
  if (!(Number.isInteger(e.mac) && e.mac >= 0 && e.mac <= BROADCAST_MAC)) {
    throw new RangeError(`gateway table entry ${e.index}: mac ${e.mac} is not a 48-bit value`);
  }
  return TableEntryLayout.encode({
    index: e.index,
    group: e.group ? 1 : 0,
    ib: e.ib ? 1 : 0,
    valid: e.valid ? 1 : 0,
    mac: BigInt(e.mac),
    lid: e.lid,
    qpn: e.qpn,
    sl: e.sl,
    port: e.port,
    pkey: e.pkey,
  });
}

/** Decodes 16 entry bytes at `offset` (reserved flag bits are ignored, as the RTL does). */
export function decodeTableEntry(bytes: Uint8Array, offset = 0): TableEntry {
  if (bytes.length - offset < TABLE_ENTRY_BYTES) {
    throw new RangeError(`gateway table entry: needs ${TABLE_ENTRY_BYTES} bytes at offset ${offset}, the buffer has ${bytes.length}`);
  }
  const b = offset;
  const flags = bytes[b + 1];
  return {
    index: bytes[b],
    valid: (flags & 1) !== 0,
    ib: (flags & 2) !== 0,
    group: (flags & 4) !== 0,
    mac: macAt(bytes, b + 2),
    lid: (bytes[b + 8] << 8) | bytes[b + 9],
    qpn: (bytes[b + 10] << 16) | (bytes[b + 11] << 8) | bytes[b + 12],
    sl: bytes[b + 13] >>> 4,
    port: bytes[b + 13] & 0xf,
    pkey: (bytes[b + 14] << 8) | bytes[b + 15],
  };
}

/** The 6 bytes at `offset` as a 48-bit number (first byte most significant). */
export function macAt(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 8) | bytes[offset + 1]) * 0x1_0000_0000 +
    ((bytes[offset + 2] << 24) >>> 0) +
    ((bytes[offset + 3] << 16) | (bytes[offset + 4] << 8) | bytes[offset + 5])
  );
}

/** "aa:bb:cc:dd:ee:ff" (or with dashes) → 48-bit number */
export function parseMac(s: string): number {
  const m = /^([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})[:-]([0-9a-f]{2})$/i.exec(s.trim());
  if (!m) throw new Error(`not a MAC address: "${s}" (expected six hex bytes like 02:00:00:00:00:01)`);
  return m.slice(1).reduce((v, h) => v * 256 + parseInt(h, 16), 0);
}

/** 48-bit number → "aa:bb:cc:dd:ee:ff" */
export function formatMac(mac: number): string {
  const out: string[] = [];
  for (let i = 5; i >= 0; i--) out.push((Math.floor(mac / 2 ** (8 * i)) % 256).toString(16).padStart(2, "0"));
  return out.join(":");
}

/** true for a group (multicast or broadcast) MAC: bit 0 of the first byte */
export function isMulticastMac(mac: number): boolean {
  return Math.floor(mac / 0x100_0000_0000) % 2 === 1;
}

/**
 * The table as both directions see it. Writes replace an entry by index; lookups use
 * indexes rebuilt lazily after writes (writes are rare, lookups per frame), each keeping
 * the lowest-index match.
 */
export class ForwardingTable {
  readonly size: number;
  private readonly entries: (TableEntry | undefined)[];
  private dirty = true;
  private ibMac = new Map<number, TableEntry>();
  private ethQpn = new Map<number, TableEntry>();
  private ibLidQpn = new Map<number, TableEntry>();
  private group: TableEntry | undefined;

  /** `size`: TABLE_ENTRIES (16, 64 or 256 in the RTL; any 1..256 here) */
  constructor(size: number) {
    if (!(Number.isInteger(size) && size >= 1 && size <= 256)) {
      throw new RangeError(`ForwardingTable: size must be 1..256 entries, got ${size}`);
    }
    this.size = size;
    this.entries = new Array<TableEntry | undefined>(size).fill(undefined);
  }

  /**
   * Writes an entry (decoded, or the 16 raw bytes of an s_cfg_axis beat). An index at or
   * beyond the table size is ignored, as the RTL ignores it; returns whether it was written.
   */
  write(entry: TableEntry | Uint8Array): boolean {
    const e = entry instanceof Uint8Array ? decodeTableEntry(entry) : { ...entry };
    if (!(Number.isInteger(e.index) && e.index >= 0 && e.index < this.size)) return false;
    this.entries[e.index] = e;
    this.dirty = true;
    return true;
  }

  /** the entry at `index` (undefined if never written) */
  get(index: number): TableEntry | undefined {
    return this.entries[index];
  }

  /** Eth→IB: the valid `ib` entry (host or group) whose MAC is `mac` */
  ibByMac(mac: number): TableEntry | undefined {
    if (this.dirty) this.rebuild();
    return this.ibMac.get(mac);
  }

  /** the valid `group` entry with the broadcast MAC (the IPoIB broadcast group) */
  broadcastGroup(): TableEntry | undefined {
    if (this.dirty) this.rebuild();
    return this.group;
  }

  /** IB→Eth: the valid Ethernet-host entry whose qpn is `qpn` */
  ethByQpn(qpn: number): TableEntry | undefined {
    if (this.dirty) this.rebuild();
    return this.ethQpn.get(qpn);
  }

  /** IB→Eth: the valid `ib` entry whose (lid, qpn) is (`lid`, `qpn`) */
  ibByLidQpn(lid: number, qpn: number): TableEntry | undefined {
    if (this.dirty) this.rebuild();
    return this.ibLidQpn.get(lid * 0x100_0000 + qpn);
  }

  private rebuild(): void {
    this.ibMac.clear();
    this.ethQpn.clear();
    this.ibLidQpn.clear();
    this.group = undefined;
    // from the highest index down, so the lowest index overwrites and wins
    for (let i = this.size - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e === undefined || !e.valid) continue;
      if (e.ib) {
        this.ibMac.set(e.mac, e);
        this.ibLidQpn.set(e.lid * 0x100_0000 + e.qpn, e);
      } else {
        this.ethQpn.set(e.qpn, e);
      }
      if (e.group && e.mac === BROADCAST_MAC) this.group = e;
    }
    this.dirty = false;
  }
}
