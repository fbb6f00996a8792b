/**
 * What the tests check besides the figures: memory against what the initiator meant to
 * write, and, for RDMA WRITEs, that the responder wrote every message exactly once and in
 * order (the transport must hide drops, corruption, reordering and duplicates).
 */
import type { HostMemory } from "../../core/index.ts";

/** where two byte ranges first differ, or undefined if they are equal */
export function firstDifference(want: Uint8Array, got: Uint8Array): { at: number; want: number; got: number } | undefined {
  const n = Math.min(want.length, got.length);
  for (let i = 0; i < n; i++) if (want[i] !== got[i]) return { at: i, want: want[i]!, got: got[i]! };
  if (want.length !== got.length) return { at: n, want: want[n] ?? -1, got: got[n] ?? -1 };
  return undefined;
}

/**
 * Watches the responder's writes into the target ranges of RDMA WRITE messages: message
 * k of `size` bytes lives at `base + k × size`. Every write the responder makes there
 * must continue exactly where the previous one stopped (message by message, byte by byte):
 * a duplicate executed twice, a message out of order or a byte written twice breaks it.
 */
export class WriteOrderChecker {
  private readonly targets: { qpn: number; base: bigint; size: number; messages: number; msg: number; off: number }[] = [];
  readonly violations: string[] = [];
  private remove: (() => void) | undefined;

  constructor(memory: HostMemory, initiator: string) {
    this.remove = memory.onWrite((w) => {
      if (w.initiator !== initiator) return;
      for (const t of this.targets) {
        const end = t.base + BigInt(t.size * t.messages);
        if (w.addr + BigInt(w.len) <= t.base || w.addr >= end) continue;
        const expect = t.base + BigInt(t.msg * t.size + t.off);
        if (t.msg >= t.messages || w.addr !== expect || t.off + w.len > t.size) {
          const rel = Number(w.addr - t.base);
          if (this.violations.length < 10) {
            this.violations.push(
              `QP 0x${t.qpn.toString(16)}: ${w.len} bytes written at message ${Math.floor(rel / t.size)} offset ${rel % t.size}` +
                (t.msg < t.messages ? `, expected message ${t.msg} offset ${t.off}` : ", after every message was complete"),
            );
          }
          return;
        }
        t.off += w.len;
        if (t.off === t.size) {
          t.msg++;
          t.off = 0;
        }
      }
    });
  }

  /** messages of `size` bytes for `qpn` land at `base` */
  expect(qpn: number, base: number, size: number, messages: number): void {
    this.targets.push({ qpn, base: BigInt(base), size, messages, msg: 0, off: 0 });
  }

  /** messages written in full, per target */
  get written(): number {
    return this.targets.reduce((s, t) => s + t.msg, 0);
  }

  /** the problems found, including messages never (completely) written */
  finish(): string[] {
    this.remove?.();
    this.remove = undefined;
    const out = [...this.violations];
    for (const t of this.targets) {
      if (t.msg < t.messages) out.push(`QP 0x${t.qpn.toString(16)}: ${t.msg} of ${t.messages} messages written in full (message ${t.msg} stops at byte ${t.off})`);
    }
    return out;
  }
}
