/**
 * The output-backpressure pattern the shim applies (H2R_RESET.outReadyPercent/seed):
 * a stateless hash of (seed, port, cycle), so a twin can predict every tready the RTL
 * sees. Must stay bit-identical to out_ready() in shim-gen.ts.
 */
const M64 = (1n << 64n) - 1n;

export function outputReady(seed: number, percent: number, port: number): (cycle: number) => boolean {
  if (percent >= 100) return () => true;
  const s = BigInt(seed >>> 0) << 32n;
  const p = (BigInt(port) * 0xbf58476d1ce4e5b9n) & M64;
  const pct = BigInt(percent);
  return (cycle: number) => {
    let x = ((BigInt(cycle) * 0x9e3779b97f4a7c15n) & M64) ^ s ^ p;
    x ^= x >> 31n;
    x = (x * 0x94d049bb133111ebn) & M64;
    x ^= x >> 29n;
    return x % 100n < pct;
  };
}
