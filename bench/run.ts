/**
 * `make bench`: one figure per line, `key=value`. Ratios are measured side by side in
 * this one run, never against numbers from another machine or day.
 */
import { benchDoorbell } from "./doorbell.ts";
import { benchGateway } from "./gateway.ts";
import { benchIcrc } from "./icrc.ts";
import { benchLink } from "./link.ts";
import { benchPerftest } from "./perftest.ts";
import { benchTpt } from "./tpt.ts";
import { benchTransport } from "./transport.ts";
import { benchWqeFetch } from "./wqe-fetch.ts";

const print = (figures: Record<string, number>) => {
  for (const [k, v] of Object.entries(figures)) process.stdout.write(`${k}=${v}\n`);
};
print(await benchIcrc({ packets: Number(process.env.HCASIM_BENCH_PACKETS ?? 30_000) }));
print(await benchGateway({ durationUs: Number(process.env.HCASIM_BENCH_GATEWAY_US ?? 4000) }));
print(await benchDoorbell({ doorbells: Number(process.env.HCASIM_BENCH_DOORBELLS ?? 200_000) }));
print(await benchTpt({ lookups: Number(process.env.HCASIM_BENCH_TPT ?? 50_000) }));
print(await benchWqeFetch({ fetches: Number(process.env.HCASIM_BENCH_WQE_FETCHES ?? 30_000) }));
print(benchTransport({ messages: Number(process.env.HCASIM_BENCH_TRANSPORT_MESSAGES ?? 100_000) }));
print(benchLink({ frames: Number(process.env.HCASIM_BENCH_LINK_FRAMES ?? 100_000) }));
print(benchPerftest({ messages: Number(process.env.HCASIM_BENCH_PERFTEST_MESSAGES ?? 256) }));
