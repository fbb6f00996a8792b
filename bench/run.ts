/**
 * `make bench`: one figure per line, `key=value`. Ratios are measured side by side in
 * this one run, never against numbers from another machine or day.
 */
import { benchIcrc } from "./icrc.ts";

const packets = Number(process.env.HCASIM_BENCH_PACKETS ?? 30_000);
const figures = await benchIcrc({ packets });
for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k}=${v}\n`);
