/**
 * QP states (IBTA Vol 1 §10.3.1) and what each lets the transport do, as tables. The
 * values are mthca's (MTHCA_QP_STATE_*), the same numbers the firmware's QP context uses
 * for the states it knows.
 */
export const QpState = { RESET: 0, INIT: 1, RTR: 2, RTS: 3, SQE: 4, SQD: 5, ERR: 6 } as const;
export type QpStateValue = (typeof QpState)[keyof typeof QpState];

export interface QpStateBehaviour {
  readonly name: string;
  /** postSend is accepted (the WR is queued) */
  readonly postSend: boolean;
  /** postRecv is accepted */
  readonly postRecv: boolean;
  /** the requester starts new work requests */
  readonly requester: boolean;
  /** the responder accepts requests (otherwise they are dropped) */
  readonly responder: boolean;
  /** the completer takes responses */
  readonly completer: boolean;
  /** posted work requests complete with a flush error */
  readonly flushSend: boolean;
  readonly flushRecv: boolean;
}

/** what each state allows, indexed by state value */
export const QP_STATE_BEHAVIOUR: readonly QpStateBehaviour[] = (() => {
  const rows: [QpStateValue, string, boolean, boolean, boolean, boolean, boolean, boolean, boolean][] = [
    // state          name     postSend postRecv requester responder completer flushSend flushRecv
    [QpState.RESET, "RESET", false, false, false, false, false, false, false],
    [QpState.INIT, "INIT", true, true, false, false, false, false, false],
    [QpState.RTR, "RTR", true, true, false, true, false, false, false],
    [QpState.RTS, "RTS", true, true, true, true, true, false, false],
    [QpState.SQE, "SQE", true, true, false, true, false, true, false],
    [QpState.SQD, "SQD", true, true, false, true, true, false, false],
    [QpState.ERR, "ERR", true, true, false, false, false, true, true],
  ];
  const t: QpStateBehaviour[] = [];
  for (const [s, name, postSend, postRecv, requester, responder, completer, flushSend, flushRecv] of rows) {
    t[s] = Object.freeze({ name, postSend, postRecv, requester, responder, completer, flushSend, flushRecv });
  }
  return t;
})();

export function qpStateName(s: number): string {
  return QP_STATE_BEHAVIOUR[s]?.name ?? `state_${s}`;
}

/**
 * Transitions modifyQp accepts (IBTA §11.2.5 "Modify QP"), with the attributes each must
 * be given. Any state may go to RESET or ERR; the model itself also moves a QP to ERR
 * (RC errors) or SQE (a UD send error).
 */
export const QP_TRANSITIONS: readonly { readonly from: QpStateValue; readonly to: QpStateValue; readonly needs: readonly string[]; readonly rcNeeds?: readonly string[] }[] = [
  { from: QpState.RESET, to: QpState.INIT, needs: [] },
  { from: QpState.INIT, to: QpState.INIT, needs: [] },
  { from: QpState.INIT, to: QpState.RTR, needs: ["rqPsn"], rcNeeds: ["remoteQpn", "mtu"] },
  { from: QpState.RTR, to: QpState.RTS, needs: ["sqPsn"] },
  { from: QpState.RTS, to: QpState.RTS, needs: [] },
  { from: QpState.RTS, to: QpState.SQD, needs: [] },
  { from: QpState.SQD, to: QpState.RTS, needs: [] },
  { from: QpState.SQE, to: QpState.RTS, needs: [] },
  ...[QpState.RESET, QpState.INIT, QpState.RTR, QpState.RTS, QpState.SQE, QpState.SQD, QpState.ERR].flatMap((from) => [
    { from, to: QpState.RESET, needs: [] },
    { from, to: QpState.ERR, needs: [] },
  ]),
];

export function qpTransition(from: number, to: number): (typeof QP_TRANSITIONS)[number] | undefined {
  return QP_TRANSITIONS.find((t) => t.from === from && t.to === to);
}
