/**
 * Captures of a link, as pcap bytes Wireshark dissects (NOTES.md): RoCEv2 as Ethernet
 * (link type 1), without the FCS by default, as a receiving NIC hands frames to the host;
 * native IB as ERF records of type 21 (link type 197), LRH through VCRC. Writing the file
 * is the caller's (core/pcap-file.ts): the models stay free of Node APIs.
 *
 *   const cap = LinkCapture.of(link);            // what arrives, both directions
 *   … run …
 *   await writePcapFile("link.pcap", cap.toBytes());
 *
 * For long runs, `stream` hands each record (after the file header) to the caller instead
 * of keeping it: e.g. `writeSync(fd, cap.header())` once, then `stream: (r) => writeSync(fd, r)`.
 */
import { erfInfinibandRecord, LINKTYPE_ERF, LINKTYPE_ETHERNET, PcapWriter } from "../../core/pcap.ts";
import type { Picoseconds } from "../../core/time.ts";
import type { Frame, FrameFormat } from "./frame.ts";
import type { CaptureTap, Link } from "./link.ts";
import { FCS_BYTES } from "./speeds.ts";

export interface LinkCaptureOptions {
  /** Ethernet: keep the 4 FCS bytes in each record; default false */
  fcs?: boolean;
  /** longest record kept [bytes]; default 262144 */
  snaplen?: number;
  /** receives each record (16-byte pcap record header + data) instead of the capture keeping it */
  stream?: (record: Uint8Array) => void;
}

export class LinkCapture {
  readonly writer: PcapWriter;
  readonly fcs: boolean;
  private readonly stream: ((record: Uint8Array) => void) | undefined;
  private streamed = 0;
  /** the function to give Link.tap */
  readonly tap: CaptureTap = (ts, frame) => this.add(ts, frame);

  constructor(
    readonly format: FrameFormat,
    opts: LinkCaptureOptions = {},
  ) {
    this.fcs = opts.fcs ?? false;
    this.stream = opts.stream;
    this.writer = new PcapWriter(format === "rocev2" ? LINKTYPE_ETHERNET : LINKTYPE_ERF, { nanosecond: true, snaplen: opts.snaplen });
  }

  /** a capture of `link`, tapped where frames arrive (or are sent) */
  static of(link: Link, opts: LinkCaptureOptions & { direction?: "a→b" | "b→a" | "both"; at?: "sender" | "receiver" } = {}): LinkCapture {
    const c = new LinkCapture(link.format, opts);
    link.tap(c.tap, opts);
    return c;
  }

  /** records `frame` (its wire image, built if it was not yet) at `timestampPs` */
  add(timestampPs: Picoseconds, frame: Frame): void {
    if (frame.format !== this.format) throw new TypeError(`LinkCapture: a ${frame.format} frame in a ${this.format} capture`);
    const b = frame.bytes();
    const data = this.format === "ib" ? erfInfinibandRecord(timestampPs, b) : this.fcs ? b : b.subarray(0, b.length - FCS_BYTES);
    if (this.stream !== undefined) {
      this.stream(this.writer.record(timestampPs, data));
      this.streamed++;
    } else this.writer.add(timestampPs, data);
  }

  get packetCount(): number {
    return this.writer.packetCount + this.streamed;
  }

  /** the 24-byte pcap file header (what a streamed file starts with) */
  header(): Uint8Array {
    return this.writer.header();
  }

  /** the pcap file (without the streamed records) */
  toBytes(): Uint8Array {
    return this.writer.toBytes();
  }
}
