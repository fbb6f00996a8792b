/**
 * `hcasim icrc-check`: one line per RoCEv2 packet of a capture with `ok` or `bad`, and
 * a summary. Wireshark dissects RoCEv2 but does not verify the ICRC; this does, with the
 * same model the co-simulation uses.
 */
import { readFile } from "node:fs/promises";
import { readPcap } from "../core/pcap.ts";
import { UserError } from "../cosim/index.ts";
import { Bth, bthOpcode, checkIcrc, classifyRoce, ICRC_BYTES, icrcBytes } from "../hca/index.ts";

export interface IcrcCheckSummary {
  packets: number;
  rocev2: number;
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
  if (capture.linkType !== 1) throw new UserError(`${file}: link type ${capture.linkType} is not Ethernet (1); icrc-check reads RoCEv2 over Ethernet`);
  const s: IcrcCheckSummary = { packets: 0, rocev2: 0, ok: 0, bad: 0, other: 0 };
  capture.packets.forEach((p, i) => {
    s.packets++;
    const n = i + 1; // Wireshark numbers frames from 1
    const frame = opts.stripFcs ? p.data.subarray(0, Math.max(0, p.data.length - 4)) : p.data;
    const c = classifyRoce(frame, { icrcPresent: true });
    if (c.kind !== "rocev2") {
      s.other++;
      opts.write(`${n}\t-\t${c.kind === "runt" ? "runt" : "not RoCEv2"}: ${c.detail}`);
      return;
    }
    s.rocev2++;
    const bth = c.offsets.bth;
    const op = Bth.get(frame, bth, "opcode");
    const desc = `${bthOpcode(op)?.name ?? `opcode 0x${op.toString(16)}`} qp 0x${Bth.get(frame, bth, "destQp").toString(16)} psn ${Bth.get(frame, bth, "psn")} len ${frame.length}`;
    if (checkIcrc(frame)) {
      s.ok++;
      opts.write(`${n}\tok\t${desc}`);
    } else {
      s.bad++;
      const found = frame.subarray(frame.length - ICRC_BYTES);
      const want = icrcBytes(frame.subarray(0, frame.length - ICRC_BYTES));
      opts.write(`${n}\tbad\t${desc}: ICRC ${hex(found)}, expected ${hex(want)}`);
    }
  });
  opts.write(`${s.packets} packets: ${s.rocev2} RoCEv2 (${s.ok} ok, ${s.bad} bad), ${s.other} other`);
  return s;
}
