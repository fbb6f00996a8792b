/**
 * `hcasim icrc-check`: one line per RoCEv2 or InfiniBand packet of a capture with `ok` or
 * `bad`, and a summary. Wireshark dissects both but verifies neither the ICRC nor the
 * VCRC; this does, with the same models the simulation uses.
 *
 * Ethernet captures (link type 1): RoCEv2 frames, with or without the FCS (--strip-fcs
 * says they end with one, which is then checked too), padded to the Ethernet minimum or
 * not: the ICRC is found from the IP length. ERF captures (link type 197): InfiniBand
 * records (type 21), LRH … VCRC, local or global; the VCRC and the ICRC are checked.
 */
import { readFile } from "node:fs/promises";
import { ERF_TYPE_INFINIBAND, LINKTYPE_ERF, LINKTYPE_ETHERNET, readErfHeader, readPcap } from "../core/pcap.ts";
import { UserError } from "../cosim/index.ts";
import { Bth, bthOpcode, classifyRoce, ICRC_BYTES, icrcBytes } from "../hca/index.ts";
import { parseIbPacket, parseRoceFrame } from "../hca/link/index.ts";

export interface IcrcCheckSummary {
  packets: number;
  rocev2: number;
  /** InfiniBand packets (ERF captures) */
  infiniband: number;
  ok: number;
  bad: number;
  other: number;
}

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

export async function icrcCheckFile(file: string, opts: { stripFcs: boolean; write: (line: string) => void }): Promise<IcrcCheckSummary> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  let capture;
  try {
    capture = readPcap(bytes, file);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (capture.linkType !== LINKTYPE_ETHERNET && capture.linkType !== LINKTYPE_ERF) {
    throw new UserError(`${file}: link type ${capture.linkType} is neither Ethernet (1, RoCEv2) nor ERF (197, InfiniBand)`);
  }
  const s: IcrcCheckSummary = { packets: 0, rocev2: 0, infiniband: 0, ok: 0, bad: 0, other: 0 };
  const describe = (pkt: Uint8Array, len: number) => {
    const op = Bth.get(pkt, 0, "opcode");
    return `${bthOpcode(op)?.name ?? `opcode 0x${op.toString(16)}`} qp 0x${Bth.get(pkt, 0, "destQp").toString(16)} psn ${Bth.get(pkt, 0, "psn")} len ${len}`;
  };
  capture.packets.forEach((p, i) => {
    s.packets++;
    const n = i + 1; // Wireshark numbers frames from 1
    if (capture.linkType === LINKTYPE_ERF) {
      const erf = p.data.length >= 16 ? readErfHeader(p.data) : undefined;
      if (erf === undefined || erf.type !== ERF_TYPE_INFINIBAND) {
        s.other++;
        opts.write(`${n}\t-\tnot InfiniBand: ${erf === undefined ? "shorter than an ERF header" : `ERF record type ${erf.type}`}`);
        return;
      }
      const ib = p.data.subarray(16, Math.min(p.data.length, 16 + erf.wlen));
      const r = parseIbPacket(ib);
      if (r.packet === undefined && r.verdict !== "vcrc-bad") {
        s.other++;
        opts.write(`${n}\t-\t${r.verdict}: ${r.detail}`);
        return;
      }
      s.infiniband++;
      const desc = r.packet !== undefined ? describe(r.packet, ib.length) : `len ${ib.length}`;
      if (r.verdict === "ok") {
        s.ok++;
        opts.write(`${n}\tok\t${desc}`);
      } else {
        s.bad++;
        opts.write(`${n}\tbad\t${desc}: ${r.detail}`);
      }
      return;
    }
    const frame = opts.stripFcs ? p.data.subarray(0, Math.max(0, p.data.length - 4)) : p.data;
    const c = classifyRoce(frame, { icrcPresent: true });
    if (c.kind !== "rocev2") {
      s.other++;
      opts.write(`${n}\t-\t${c.kind === "runt" ? "runt" : "not RoCEv2"}: ${c.detail}`);
      return;
    }
    s.rocev2++;
    const r = parseRoceFrame(p.data, { fcs: opts.stripFcs });
    const desc = describe(frame.subarray(c.offsets.bth), frame.length);
    if (r.icrcOk === true && r.fcsOk !== false) {
      s.ok++;
      opts.write(`${n}\tok\t${desc}`);
    } else if (r.icrcOk === false) {
      s.bad++;
      const end = c.offsets.bth + r.packet!.length;
      const found = frame.subarray(end, end + ICRC_BYTES);
      const want = icrcBytes(frame.subarray(0, end));
      opts.write(`${n}\tbad\t${desc}: ICRC ${hex(found)}, expected ${hex(want)}${r.fcsOk === false ? "; FCS bad" : ""}`);
    } else {
      s.bad++;
      opts.write(`${n}\tbad\t${desc}: ${r.fcsOk === false ? r.detail : `${r.verdict}: ${r.detail}`}`);
    }
  });
  const kinds = [s.rocev2 > 0 || s.infiniband === 0 ? `${s.rocev2} RoCEv2` : "", s.infiniband > 0 ? `${s.infiniband} InfiniBand` : ""].filter((k) => k !== "").join(" + ");
  opts.write(`${s.packets} packets: ${kinds} (${s.ok} ok, ${s.bad} bad), ${s.other} other`);
  return s;
}
