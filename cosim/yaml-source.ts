/**
 * Typed reading of YAML documents with positions, so every schema error names
 * file:line:col. Used for block.yaml manifests and scenario files alike.
 */
import { readFileSync } from "node:fs";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { SourceError, UserError } from "./errors.ts";

interface Source {
  file: string;
  lines: LineCounter;
}

/** A value in a YAML document together with where it came from. */
export class YamlValue {
  constructor(
    private readonly src: Source,
    readonly node: YamlNode | null,
    /** dotted path, for messages: `ports[1].user[0].bits` */
    readonly path: string,
    /** offset used when the node is absent (points at the parent) */
    private readonly fallbackOffset = 0,
  ) {}

  get file(): string {
    return this.src.file;
  }

  /** line and column (1-based) of this value */
  position(): { line: number; col: number } {
    const offset = this.node?.range?.[0] ?? this.fallbackOffset;
    const p = this.src.lines.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** throw a SourceError at this value */
  fail(message: string): never {
    const { line, col } = this.position();
    throw new SourceError(this.src.file, line, col, message);
  }

  private get scalarValue(): unknown {
    return isScalar(this.node) ? this.node.value : undefined;
  }

  private describe(): string {
    if (this.node === null) return "nothing";
    if (isMap(this.node)) return "a mapping";
    if (isSeq(this.node)) return "a list";
    const v = this.scalarValue;
    return v === null ? "null" : `${typeof v} ${JSON.stringify(v)}`;
  }

  str(): string {
    const v = this.scalarValue;
    if (typeof v !== "string") this.fail(`${this.path}: expected a string, found ${this.describe()}`);
    return v;
  }

  num(): number {
    const v = this.scalarValue;
    if (typeof v !== "number" || !Number.isFinite(v)) this.fail(`${this.path}: expected a number, found ${this.describe()}`);
    return v;
  }

  /** an integer within [min, max] */
  int(min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.num();
    if (!Number.isInteger(v)) this.fail(`${this.path}: expected an integer, found ${v}`);
    if (v < min || v > max) this.fail(`${this.path}: ${v} is out of range [${min}, ${max}]`);
    return v;
  }

  bool(): boolean {
    const v = this.scalarValue;
    if (typeof v !== "boolean") this.fail(`${this.path}: expected true or false, found ${this.describe()}`);
    return v;
  }

  /** one of the given strings */
  oneOf<T extends string>(choices: readonly T[]): T {
    const v = this.str();
    if (!(choices as readonly string[]).includes(v)) {
      this.fail(`${this.path}: "${v}" is not one of ${choices.map((c) => `"${c}"`).join(", ")}`);
    }
    return v as T;
  }

  isScalar(): boolean {
    return isScalar(this.node);
  }
  isMap(): boolean {
    return isMap(this.node);
  }
  isSeq(): boolean {
    return isSeq(this.node);
  }

  list(): YamlValue[] {
    if (!isSeq(this.node)) this.fail(`${this.path}: expected a list, found ${this.describe()}`);
    return this.node.items.map((item, i) => new YamlValue(this.src, item as YamlNode, `${this.path}[${i}]`, this.node?.range?.[0] ?? 0));
  }

  map(): YamlMap {
    if (!isMap(this.node)) this.fail(`${this.path}: expected a mapping, found ${this.describe()}`);
    return new YamlMap(this.src, this, this.path);
  }
}

/** A mapping whose keys are consumed one by one; `done()` rejects any key left over. */
export class YamlMap {
  private readonly entries = new Map<string, { key: YamlNode; value: YamlNode | null }>();
  private readonly used = new Set<string>();

  constructor(
    private readonly src: Source,
    readonly self: YamlValue,
    private readonly path: string,
  ) {
    const node = self.node;
    if (!isMap(node)) throw new Error("YamlMap on a non-map");
    for (const pair of node.items) {
      const key = pair.key as YamlNode;
      const name = isScalar(key) ? String(key.value) : "?";
      this.entries.set(name, { key, value: (pair.value as YamlNode | null) ?? null });
    }
  }

  private child(key: string): string {
    return this.path ? `${this.path}.${key}` : key;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }

  /** a required key */
  req(key: string): YamlValue {
    const e = this.entries.get(key);
    this.used.add(key);
    if (!e) this.self.fail(`${this.path || "document"}: missing required key "${key}"`);
    return new YamlValue(this.src, e.value, this.child(key), e.key.range?.[0] ?? 0);
  }

  /** an optional key */
  opt(key: string): YamlValue | undefined {
    const e = this.entries.get(key);
    this.used.add(key);
    if (!e) return undefined;
    return new YamlValue(this.src, e.value, this.child(key), e.key.range?.[0] ?? 0);
  }

  /** reject keys nobody asked for, naming the allowed ones */
  done(): void {
    for (const [name, e] of this.entries) {
      if (this.used.has(name)) continue;
      const p = this.src.lines.linePos(e.key.range?.[0] ?? 0);
      const allowed = [...this.used].sort().join(", ");
      throw new SourceError(this.src.file, p.line, p.col, `${this.path || "document"}: unknown key "${name}" (allowed: ${allowed})`);
    }
  }
}

/** Parse YAML text; syntax errors become SourceErrors at the first error's position. */
export function parseYaml(text: string, file: string): YamlValue {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const err = doc.errors[0];
  if (err) {
    const p = err.linePos?.[0] ?? lines.linePos(err.pos[0]);
    const firstLine = err.message.split("\n")[0] ?? err.message;
    throw new SourceError(file, p.line, p.col, `YAML syntax error: ${firstLine.replace(/ at line \d+, column \d+:?$/, "")}`);
  }
  const src: Source = { file, lines };
  return new YamlValue(src, (doc.contents as YamlNode | null) ?? null, "");
}

/** Read and parse a YAML file; a missing file is a UserError naming it. */
export function readYamlFile(file: string): YamlValue {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: cannot read (${code === "ENOENT" ? "no such file" : code ?? String(e)})`);
  }
  return parseYaml(text, file);
}
