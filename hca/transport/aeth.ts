/**
 * The AETH syndrome (IBTA Vol 1 §9.3.5, tables 43–45) as data: the type in bits 6..5,
 * and in bits 4..0 the credit count (ACK), the RNR timer (RNR NAK) or the NAK code.
 * The completer maps a NAK code to what it does and to the WC status it reports.
 */
import { WcStatus } from "../formats/index.ts";

export const AethType = { ack: 0, rnrNak: 1, nak: 3 } as const;
export const AETH_TYPE_SHIFT = 5;
export const AETH_VALUE_MASK = 0x1f;

export function aethSyndrome(type: number, value: number): number {
  return (type << AETH_TYPE_SHIFT) | (value & AETH_VALUE_MASK);
}

/** NAK codes (table 43) */
export const NakCode = {
  psnSequenceError: 0,
  invalidRequest: 1,
  remoteAccessError: 2,
  remoteOperationalError: 3,
  invalidRdRequest: 4,
} as const;

/**
 * What a NAK makes the requester do: go back and resend from the NAK's PSN, or complete
 * the WQE at that PSN with `status` and take the QP to the error state.
 */
export const NAK_ACTIONS: readonly { readonly code: number; readonly name: string; readonly retry: boolean; readonly status: number }[] = [
  { code: NakCode.psnSequenceError, name: "psn_sequence_error", retry: true, status: WcStatus.retryExceeded },
  { code: NakCode.invalidRequest, name: "invalid_request", retry: false, status: WcStatus.remoteInvalidRequestError },
  { code: NakCode.remoteAccessError, name: "remote_access_error", retry: false, status: WcStatus.remoteAccessError },
  { code: NakCode.remoteOperationalError, name: "remote_operational_error", retry: false, status: WcStatus.remoteOperationError },
  { code: NakCode.invalidRdRequest, name: "invalid_rd_request", retry: false, status: WcStatus.remoteInvalidRequestError },
];

/** credit count encoding of an ACK (table 44): code → receive WQEs; code 31 means "not reported" */
export const ACK_CREDITS: readonly number[] = [
  0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
  32768,
];
export const ACK_CREDITS_INVALID = 31;

/** the credit code for `available` receive WQEs: the largest count not above it */
export function creditCode(available: number): number {
  if (!(available >= 1)) return 0;
  return available < CREDIT_CODE_BY_COUNT.length ? CREDIT_CODE_BY_COUNT[Math.floor(available)] : ACK_CREDITS.length - 1;
}
/** creditCode by receive WQE count below the top credit count (a lookup per ACK, not a search) */
const CREDIT_CODE_BY_COUNT: Uint8Array = (() => {
  const t = new Uint8Array(ACK_CREDITS[ACK_CREDITS.length - 1]);
  for (let n = 0, c = 0; n < t.length; n++) {
    while (c + 1 < ACK_CREDITS.length && ACK_CREDITS[c + 1] <= n) c++;
    t[n] = c;
  }
  return t;
})();

/** RNR NAK timer encoding (table 45): code → the time the requester waits [µs] */
export const RNR_TIMER_US: readonly number[] = [
  655360, 10, 20, 30, 40, 60, 80, 120, 160, 240, 320, 480, 640, 960, 1280, 1920, 2560, 3840, 5120, 7680, 10240, 15360, 20480, 30720, 40960, 61440,
  81920, 122880, 163840, 245760, 327680, 491520,
];

/** the local ACK timeout of a QP's 5-bit `timeout`: 4.096 µs × 2^timeout; 0 means no timeout [ps] */
export function ackTimeoutPs(timeout: number): number {
  return timeout === 0 ? Infinity : 4_096_000 * 2 ** timeout;
}
