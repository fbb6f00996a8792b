/**
 * Readers for scenario fields that recur across scenario kinds, on top of the typed YAML
 * values of cosim/yaml-source.ts: errors name file:line:col like every other field.
 */
import type { YamlValue } from "../cosim/index.ts";

/** `[min, max]`, both integers in [lo, hi], min ≤ max */
export function yamlRange(v: YamlValue, lo: number, hi: number): [number, number] {
  const items = v.list();
  if (items.length !== 2) v.fail(`${v.path}: expected [min, max]`);
  const min = items[0]!.int(lo, hi);
  const max = items[1]!.int(lo, hi);
  if (min > max) v.fail(`${v.path}: min ${min} is greater than max ${max}`);
  return [min, max];
}

/** a share in [0, 1], or `dflt` when the field is absent */
export function yamlFraction(v: YamlValue | undefined, dflt: number): number {
  if (!v) return dflt;
  const x = v.num();
  if (x < 0 || x > 1) v.fail(`${v.path}: ${x} is not a fraction in [0, 1]`);
  return x;
}
