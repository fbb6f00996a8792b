/**
 * Records on the wqe_fetch block's ports (hca/wqe-fetch/README.md). s_fetch reuses the
 * doorbell block's FetchRequest (hca/doorbell/formats.ts) unchanged: qpn, kind (send /
 * receive) and counter (producer counter) are used; the other fields are ignored.
 */
import { defineLayout } from "../../core/layout.ts";
import { WQE_STRIDE } from "../formats/wqe.ts";
export { FetchRequest } from "../doorbell/formats.ts";

/** s_cfg: per-QP, per-queue ring configuration (16 bytes) */
export const WqeRingCfg = defineLayout(
  "wqe-ring-cfg",
  [
    { name: "qpn", bits: 24 },
    { name: "kind", bits: 1, doc: "0 send queue, 1 receive queue" },
    { name: "reserved0", bits: 3 },
    { name: "logSize", bits: 4, doc: "ring size: 2^logSize WQEs of WQE_STRIDE bytes" },
    { name: "ci", bits: 16, doc: "consumer index reset [WQEs]" },
    { name: "reserved1", bits: 16 },
    { name: "base", bits: 64, doc: "ring base address in host memory" },
  ],
  { sizeBytes: 16 },
);

/** m_dma_rd: one DMA read request (16 bytes) */
export const DmaReadReq = defineLayout(
  "wqe-dma-rd",
  [
    { name: "tag", bits: 8 },
    { name: "reserved0", bits: 8 },
    { name: "length", bits: 16, doc: "bytes (always WQE_STRIDE)" },
    { name: "reserved1", bits: 32 },
    { name: "addr", bits: 64 },
  ],
  { sizeBytes: 16 },
);

/** s_dma_cpl: one DMA read completion: 8-byte header + WQE_STRIDE data bytes */
export const DmaCompletion = defineLayout(
  "wqe-dma-cpl",
  [
    { name: "tag", bits: 8 },
    { name: "reserved0", bits: 56 },
    { name: "data", bytes: WQE_STRIDE },
  ],
  { sizeBytes: 8 + WQE_STRIDE },
);

/** m_wr flags bits */
export const WrFlag = { signalled: 1, solicited: 2, fence: 4, inline: 8 } as const;

/**
 * m_wr: one parsed work request: a 64-byte header and a 128-byte payload area holding the
 * SGE list (16-byte data segments as in the WQE, nsge of them) or the inline data
 * (inlineBytes of them); unused payload bytes are zero. swapAdd/compare come from an atomic
 * segment, swapMask/compareMask from a masked atomic segment's second unit (zero otherwise).
 */
export const WorkRequest = defineLayout(
  "wqe-work-request",
  [
    { name: "qpn", bits: 24 },
    { name: "kind", bits: 8, doc: "0 send, 1 receive" },
    { name: "index", bits: 16, doc: "WQE counter" },
    { name: "opcode", bits: 8, doc: "WqeOpcode (0 for receive)" },
    { name: "flags", bits: 8, doc: "WrFlag" },
    { name: "nsge", bits: 8 },
    { name: "reserved0", bits: 8 },
    { name: "inlineBytes", bits: 16 },
    { name: "imm", bits: 32 },
    { name: "raddr", bits: 64 },
    { name: "rkey", bits: 32 },
    { name: "reserved1", bits: 32 },
    { name: "swapAdd", bits: 64 },
    { name: "compare", bits: 64 },
    { name: "swapMask", bits: 64, doc: "masked atomics (MaskedAtomicSeg)" },
    { name: "compareMask", bits: 64, doc: "masked atomics (MaskedAtomicSeg)" },
    { name: "payload", bytes: WQE_STRIDE },
  ],
  { sizeBytes: 64 + WQE_STRIDE },
);
/** bytes of m_wr before its payload area */
export const WR_HEADER_BYTES = WorkRequest.field("payload").byteOffset;

/** m_err: one rejected WQE (8 bytes); reason is a WqeError */
export const WqeFetchError = defineLayout(
  "wqe-fetch-error",
  [
    { name: "reason", bits: 4 },
    { name: "kind", bits: 4 },
    { name: "qpn", bits: 24 },
    { name: "index", bits: 16 },
    { name: "opcode", bits: 8, doc: "the ctrl opcode read (send)" },
    { name: "reserved", bits: 8 },
  ],
  { sizeBytes: 8 },
);
