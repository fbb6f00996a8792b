/**
 * Header and record layouts declared once, as data; encoders, decoders, models and docs
 * derive from them (STYLE.md "Formats are data", like rxe's opcode tables, but with the
 * offsets summed by the machine instead of by hand).
 *
 * Bit numbering is network order, as drawn in IETF and IBTA diagrams: bit 0 is the most
 * significant bit of byte 0, and multi-byte fields are big-endian.
 *
 *   const Ipv4 = defineLayout("ipv4", [
 *     { name: "version", bits: 4 }, { name: "ihl", bits: 4 }, ...,
 *     { name: "src", bits: 32 }, { name: "dst", bits: 32 },
 *   ]);
 *   Ipv4.get(frame, 14, "ttl"); Ipv4.set(frame, 14, "ttl", 63);
 *
 * Field values: up to 32 bits → number (`get`); 33..64 bits → bigint (`getBig`);
 * byte arrays declared `{ name, bytes: n }` (e.g. a 128-bit IPv6 address) → Uint8Array
 * (`getBytes`). Byte-aligned 8/16/24/32-bit fields and fields inside one byte take a fast
 * path; any other alignment is handled exactly by a general path. Per-cycle code reads and
 * writes chosen fields as plain numbers through `layout.codec(names)` (FieldCodec).
 */

/** One field as declared: an unsigned integer of `bits` (1..64) or a byte array of `bytes`. */
export type FieldDecl =
  | { readonly name: string; readonly bits: number; readonly doc?: string }
  | { readonly name: string; readonly bytes: number; readonly doc?: string };

/** One field as placed by defineLayout. */
export interface FieldSpec {
  readonly name: string;
  /** width in bits (8 × bytes for byte-array fields) */
  readonly bits: number;
  /** offset of the field's first (most significant) bit from the start of the layout */
  readonly bitOffset: number;
  /** byte holding the field's first bit: floor(bitOffset / 8) */
  readonly byteOffset: number;
  /** how values are carried: number (≤ 32 bits), bigint (33..64 bits), Uint8Array (bytes) */
  readonly kind: "uint" | "bigint" | "bytes";
  readonly doc?: string;
}

type Narrow = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10 | 11 | 12 | 13 | 14 | 15 | 16 | 17 | 18 | 19 | 20 | 21 | 22 | 23 | 24 | 25 | 26 | 27 | 28 | 29 | 30 | 31 | 32;
type Wide = 33 | 34 | 35 | 36 | 37 | 38 | 39 | 40 | 41 | 42 | 43 | 44 | 45 | 46 | 47 | 48 | 49 | 50 | 51 | 52 | 53 | 54 | 55 | 56 | 57 | 58 | 59 | 60 | 61 | 62 | 63 | 64;

/** The value type of a declared field. */
export type FieldValue<F> = F extends { bytes: number }
  ? Uint8Array
  : F extends { bits: infer B }
    ? B extends Narrow
      ? number
      : B extends Wide
        ? bigint
        : number | bigint
    : never;

/** A decoded record: one property per field. */
export type LayoutRecord<D extends readonly FieldDecl[]> = {
  [F in D[number] as F["name"]]: FieldValue<F>;
};

/** Field names of a layout. */
export type FieldName<D extends readonly FieldDecl[]> = D[number]["name"];

/** How a field of up to 32 bits is read: byte-aligned widths, inside one byte, or general. */
const enum Path {
  U8,
  U16,
  U24,
  U32,
  InByte,
  General,
  /** not a number field (bigint or bytes) */
  None,
}

/**
 * One field compiled for access. Number fields are read by one switch on `path` (a single
 * monomorphic function, which the JIT inlines) rather than a closure per field, which made
 * every call site megamorphic and cost ~10× a hand-written read.
 */
interface Accessor {
  readonly spec: FieldSpec;
  readonly byteOffset: number;
  /** one past the last byte the field touches, relative to the layout start */
  readonly endByte: number;
  readonly path: Path;
  /** bytes touched */
  readonly span: number;
  /** InByte: right shift and mask; General: 2^(bits after the field in its last byte) and 2^bits */
  readonly shift: number;
  readonly mask: number;
  readonly scale: number;
  readonly modulus: number;
}

function readNum(a: Accessor, b: Uint8Array, p: number): number {
  switch (a.path) {
    case Path.U8:
      return b[p];
    case Path.U16:
      return (b[p] << 8) | b[p + 1];
    case Path.U24:
      return (b[p] << 16) | (b[p + 1] << 8) | b[p + 2];
    case Path.U32:
      return b[p] * 0x100_0000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
    case Path.InByte:
      return (b[p] >>> a.shift) & a.mask;
    default: {
      // Spans up to 5 bytes (< 2^40): exact in a double.
      let acc = 0;
      for (let i = 0; i < a.span; i++) acc = acc * 256 + b[p + i];
      return Math.floor(acc / a.scale) % a.modulus;
    }
  }
}

function writeNum(a: Accessor, b: Uint8Array, p: number, v: number): void {
  switch (a.path) {
    case Path.U8:
      b[p] = v;
      return;
    case Path.U16:
      b[p] = v >>> 8;
      b[p + 1] = v;
      return;
    case Path.U24:
      b[p] = v >>> 16;
      b[p + 1] = v >>> 8;
      b[p + 2] = v;
      return;
    case Path.U32:
      b[p] = v >>> 24;
      b[p + 1] = v >>> 16;
      b[p + 2] = v >>> 8;
      b[p + 3] = v;
      return;
    case Path.InByte:
      b[p] = (b[p] & ~(a.mask << a.shift)) | (v << a.shift);
      return;
    default: {
      let acc = 0;
      for (let i = 0; i < a.span; i++) acc = acc * 256 + b[p + i];
      const old = Math.floor(acc / a.scale) % a.modulus;
      acc += (v - old) * a.scale;
      for (let i = a.span - 1; i >= 0; i--) {
        b[p + i] = acc % 256;
        acc = Math.floor(acc / 256);
      }
    }
  }
}

/**
 * One integer field of a layout, looked up once: for hot loops, where `layout.get(buf, off,
 * name)` would pay a name lookup per call.
 *
 *   const psn = Bth.accessor("psn");
 *   for (...) total += psn.get(pkt, 14 + 40);
 */
export class FieldAccessor {
  /** @internal use Layout.accessor */
  constructor(
    private readonly layout: Layout,
    private readonly a: Accessor,
  ) {}

  get spec(): FieldSpec {
    return this.a.spec;
  }

  /** the field (≤ 32 bits) of the layout placed at `offset` in `buf` */
  get(buf: Uint8Array, offset: number): number {
    const a = this.a;
    if (a.path === Path.None || !(offset >= 0) || offset + a.endByte > buf.length) {
      return this.layout.get(buf, offset, a.spec.name);
    }
    return readNum(a, buf, offset + a.byteOffset);
  }

  /** the field as a bigint (any integer width) */
  getBig(buf: Uint8Array, offset: number): bigint {
    return this.layout.getBig(buf, offset, this.a.spec.name);
  }

  set(buf: Uint8Array, offset: number, value: number | bigint): void {
    this.layout.set(buf, offset, this.a.spec.name, value);
  }
}

/** what a FieldCodec reads into: a number array or a typed array, reused across calls */
export interface NumberSlots {
  [index: number]: number;
  readonly length: number;
}

/**
 * Chosen integer fields of a layout compiled for per-cycle code: a record's values travel
 * in a reusable array of numbers, one slot per field of up to 32 bits and two per wider
 * field (its high bits, then its low 32 bits), so a read or write neither allocates nor
 * makes a bigint (Layout.encode/decode do both and dominated the time of models that emit
 * a record per cycle).
 *
 *   const wr = WorkRequest.codec(["qpn", "raddr"]);
 *   const v = new Float64Array(wr.slots);
 *   v[wr.slot.qpn] = 7; v[wr.slot.raddr] = hi; v[wr.slot.raddr + 1] = lo;
 *   wr.write(rec, 0, v);
 *
 * `read` and `write` are generated from the layout table as straight-line code, one
 * statement per slot with the field's offset, shift and mask as constants (the way the
 * C++ shim is generated from block.yaml): a loop over the fields with a switch per field
 * cost twice as much, and the call sites stay monomorphic because every codec has its own
 * functions. `source` shows the generated code.
 */
export class FieldCodec<N extends string = string> {
  /** numbers per record: one per field of ≤ 32 bits, two (high, low) per wider one */
  readonly slots: number;
  /** each field's slot (a wider field's high bits; its low 32 bits are at slot + 1) */
  readonly slot: Readonly<Record<N, number>>;
  /** reads the chosen fields of the layout placed at `offset` in `buf` into `out` */
  readonly read: (buf: Uint8Array, offset: number, out: NumberSlots) => void;
  /**
   * Writes the chosen fields from `values` into the layout placed at `offset` in `buf`,
   * leaving every other bit as it was. Values are integers; each is reduced modulo 2^width
   * of its slot (no range error: this is the per-cycle path, Layout.set is the checked one).
   */
  readonly write: (buf: Uint8Array, offset: number, values: ArrayLike<number>) => void;
  /** the generated code of read and write */
  readonly source: string;

  /** @internal use Layout.codec */
  constructor(layout: Layout, parts: readonly Accessor[], slot: Record<N, number>) {
    this.slots = parts.length;
    this.slot = Object.freeze(slot);
    const end = parts.reduce((m, a) => Math.max(m, a.endByte), 0);
    // a buffer too short for the record is a caller's error, named like Layout's own
    const check = `if (!(o >= 0) || o + ${end} > b.length) throw tooShort(b, o);`;
    const read = `function read(b, o, v) {\n  ${check}\n${parts.map((a, i) => `  v[${i}] = ${readExpr(a, i)};`).join("\n")}\n}`;
    const write = `function write(b, o, v) {\n  ${check}\n  let x;\n${parts.map((a, i) => `  x = v[${i}]; ${writeStmts(a, i)}`).join("\n")}\n}`;
    this.source = `${read}\n${write}`;
    const tooShort = (b: Uint8Array, o: number): Error =>
      new RangeError(`${layout.name}: the codec's fields end at byte ${o + end} but the buffer has ${b.length} bytes (layout at offset ${o})`);
    const make = new Function("parts", "readNum", "writeNum", "tooShort", `"use strict";\n${read}\n${write}\nreturn [read, write];`);
    [this.read, this.write] = make(parts, readNum, writeNum, tooShort);
  }
}

/** the generated read of slot i: its bit range at offset o of buffer b */
function readExpr(a: Accessor, i: number): string {
  const at = (k: number): string => `b[o + ${a.byteOffset + k}]`;
  switch (a.path) {
    case Path.U8:
      return at(0);
    case Path.U16:
      return `(${at(0)} << 8) | ${at(1)}`;
    case Path.U24:
      return `(${at(0)} << 16) | (${at(1)} << 8) | ${at(2)}`;
    case Path.U32:
      return `${at(0)} * 0x1000000 + ((${at(1)} << 16) | (${at(2)} << 8) | ${at(3)})`;
    case Path.InByte:
      return `(${at(0)} >>> ${a.shift}) & ${a.mask}`;
    default:
      // across up to 4 bytes: 32-bit integer arithmetic; 5 bytes: the general reader
      return a.span <= 4 ? `((${word(a, at)}) >>> ${a.shift}) & ${a.mask}` : `readNum(parts[${i}], b, o + ${a.byteOffset})`;
  }
}

/** the bytes an unaligned field spans (at most 4), as one big-endian 32-bit integer expression */
function word(a: Accessor, at: (k: number) => string): string {
  return Array.from({ length: a.span }, (_, k) => `(${at(k)} << ${8 * (a.span - 1 - k)})`).join(" | ");
}

/** the generated write of slot i from x (reduced modulo 2^width; typed-array stores keep the low 8 bits) */
function writeStmts(a: Accessor, i: number): string {
  const at = (k: number): string => `b[o + ${a.byteOffset + k}]`;
  switch (a.path) {
    case Path.U8:
      return `${at(0)} = x;`;
    case Path.U16:
      return `${at(0)} = x >>> 8; ${at(1)} = x;`;
    case Path.U24:
      return `${at(0)} = x >>> 16; ${at(1)} = x >>> 8; ${at(2)} = x;`;
    case Path.U32:
      return `${at(0)} = x >>> 24; ${at(1)} = x >>> 16; ${at(2)} = x >>> 8; ${at(3)} = x;`;
    case Path.InByte:
      return `${at(0)} = (${at(0)} & ${~(a.mask << a.shift) & 0xff}) | ((x & ${a.mask}) << ${a.shift});`;
    default: {
      if (a.span > 4) return `writeNum(parts[${i}], b, o + ${a.byteOffset}, ${a.spec.bits === 32 ? "x >>> 0" : `x & ${a.mask}`});`;
      // across up to 4 bytes: merge into the spanned bytes as one 32-bit integer (bits ≤ 31 here)
      const keep = ~(a.mask * a.scale) | 0;
      const stores = Array.from({ length: a.span }, (_, k) => `${at(k)} = x >>> ${8 * (a.span - 1 - k)};`).join(" ");
      return `x = ((${word(a, at)}) & ${keep}) | ((x & ${a.mask}) << ${a.shift}); ${stores}`;
    }
  }
}

export class Layout<D extends readonly FieldDecl[] = readonly FieldDecl[]> {
  /** total size in bits */
  readonly sizeBits: number;
  private readonly byName = new Map<string, Accessor>();
  private readonly accessors: readonly Accessor[];

  constructor(
    readonly name: string,
    /** total size in bytes */
    readonly sizeBytes: number,
    readonly fields: readonly FieldSpec[],
  ) {
    this.sizeBits = sizeBytes * 8;
    this.accessors = fields.map(compile);
    for (const a of this.accessors) this.byName.set(a.spec.name, a);
  }

  /** the placed field `name`; throws naming the layout and the field if there is none */
  field(name: FieldName<D>): FieldSpec {
    return this.lookup(name).spec;
  }

  /** the integer field `name`, looked up once for fast repeated access */
  accessor(name: FieldName<D>): FieldAccessor {
    const a = this.lookup(name);
    if (a.spec.kind === "bytes") throw this.kindError(a.spec, "accessor");
    return new FieldAccessor(this as Layout, a);
  }

  /**
   * The integer fields `names` (any width, any alignment) compiled into a FieldCodec, in
   * that slot order; throws naming the layout and field for a byte-array field, an unknown
   * name or a name given twice.
   */
  codec<const N extends FieldName<D>>(names: readonly N[]): FieldCodec<N> {
    const parts: Accessor[] = [];
    const slot = {} as Record<N, number>;
    for (const name of names) {
      const a = this.lookup(name);
      if (a.spec.kind === "bytes") throw this.kindError(a.spec, "codec");
      if (Object.hasOwn(slot, name)) throw new Error(`layout "${this.name}": codec names field "${name}" twice`);
      slot[name] = parts.length;
      const f = a.spec;
      if (f.kind === "uint") {
        parts.push(a);
      } else {
        // high bits, then the low 32, each a bit range compiled like a field of its own
        const hiBits = f.bits - 32;
        parts.push(compile({ ...f, bits: hiBits, kind: "uint" }));
        const lo = f.bitOffset + hiBits;
        parts.push(compile({ ...f, bits: 32, bitOffset: lo, byteOffset: lo >>> 3, kind: "uint" }));
      }
    }
    return new FieldCodec<N>(this as Layout, parts, slot);
  }

  /** true if the layout has a field `name` */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** a field of up to 32 bits, read from the layout placed at `offset` in `buf` */
  get(buf: Uint8Array, offset: number, name: FieldName<D>): number {
    const a = this.byName.get(name);
    if (a === undefined || a.path === Path.None || !(offset >= 0) || offset + a.endByte > buf.length) {
      return this.getSlow(buf, offset, name);
    }
    return readNum(a, buf, offset + a.byteOffset);
  }

  /** `get`'s error path, out of line to keep the fast path small */
  private getSlow(buf: Uint8Array, offset: number, name: string): never {
    const a = this.lookup(name);
    if (a.spec.kind !== "uint") throw this.kindError(a.spec, "get");
    this.checkBounds(buf, offset, a);
    throw new Error("unreachable");
  }

  /** an integer field of any width (≤ 64 bits) as a bigint */
  getBig(buf: Uint8Array, offset: number, name: FieldName<D>): bigint {
    const a = this.lookup(name);
    if (a.spec.kind === "bytes") throw this.kindError(a.spec, "getBig");
    this.checkBounds(buf, offset, a);
    const p = offset + a.byteOffset;
    return a.path === Path.None ? readBig(a, buf, p) : BigInt(readNum(a, buf, p));
  }

  /** a byte-array field, copied out */
  getBytes(buf: Uint8Array, offset: number, name: FieldName<D>): Uint8Array {
    const a = this.lookup(name);
    if (a.spec.kind !== "bytes") throw this.kindError(a.spec, "getBytes");
    this.checkBounds(buf, offset, a);
    const p = offset + a.spec.byteOffset;
    return buf.slice(p, p + a.spec.bits / 8);
  }

  /** writes an integer field; the value must fit in the field's width */
  set(buf: Uint8Array, offset: number, name: FieldName<D>, value: number | bigint): void {
    const a = this.lookup(name);
    this.checkBounds(buf, offset, a);
    this.write(buf, offset, a, value);
  }

  /** writes a byte-array field; `bytes` must have exactly the field's length */
  setBytes(buf: Uint8Array, offset: number, name: FieldName<D>, bytes: Uint8Array): void {
    const a = this.lookup(name);
    if (a.spec.kind !== "bytes") throw this.kindError(a.spec, "setBytes");
    this.checkBounds(buf, offset, a);
    this.writeBytes(buf, offset, a, bytes);
  }

  /** every field of the layout placed at `offset` in `buf` */
  decode(buf: Uint8Array, offset = 0): LayoutRecord<D> {
    this.checkSize(buf, offset);
    const out: Record<string, number | bigint | Uint8Array> = {};
    for (const a of this.accessors) {
      const p = offset + a.spec.byteOffset;
      switch (a.spec.kind) {
        case "uint":
          out[a.spec.name] = readNum(a, buf, p);
          break;
        case "bigint":
          out[a.spec.name] = readBig(a, buf, p);
          break;
        case "bytes":
          out[a.spec.name] = buf.slice(p, p + a.spec.bits / 8);
          break;
      }
    }
    return out as LayoutRecord<D>;
  }

  /**
   * Writes every field of `record` into `buf` at `offset` (a new zeroed buffer of
   * offset + sizeBytes if none is given) and returns the buffer. Fields missing from the
   * record are written as zero; a property that is not a field throws (it is a typo).
   */
  encode(record: Partial<LayoutRecord<D>>, buf?: Uint8Array, offset = 0): Uint8Array {
    const out = buf ?? new Uint8Array(offset + this.sizeBytes);
    this.checkSize(out, offset);
    const rec = record as Record<string, number | bigint | Uint8Array | undefined>;
    for (const key of Object.keys(rec)) {
      if (!this.byName.has(key)) throw this.unknownField(key);
    }
    for (const a of this.accessors) {
      const v = rec[a.spec.name];
      if (a.spec.kind === "bytes") {
        if (v === undefined) {
          const p = offset + a.spec.byteOffset;
          out.fill(0, p, p + a.spec.bits / 8);
        } else if (v instanceof Uint8Array) {
          this.writeBytes(out, offset, a, v);
        } else {
          throw new TypeError(`${this.name}.${a.spec.name}: expected a Uint8Array of ${a.spec.bits / 8} bytes`);
        }
      } else {
        if (v instanceof Uint8Array) {
          throw new TypeError(`${this.name}.${a.spec.name}: expected an integer, got a Uint8Array`);
        }
        this.write(out, offset, a, v ?? 0);
      }
    }
    return out;
  }

  /** a table of the fields, for docs and debugging */
  toString(): string {
    const w = Math.max(5, ...this.fields.map((f) => f.name.length));
    const lines = [`${this.name} (${this.sizeBytes} bytes)`, `  ${"field".padEnd(w)}  byte  bit   width`];
    for (const f of this.fields) {
      lines.push(
        `  ${f.name.padEnd(w)}  ${String(f.byteOffset).padStart(4)}  ${String(f.bitOffset).padStart(4)}  ${String(f.bits).padStart(5)}`,
      );
    }
    return lines.join("\n");
  }

  private lookup(name: string): Accessor {
    const a = this.byName.get(name);
    if (a === undefined) throw this.unknownField(name);
    return a;
  }

  private write(buf: Uint8Array, offset: number, a: Accessor, value: number | bigint): void {
    const f = a.spec;
    const p = offset + f.byteOffset;
    if (f.kind === "uint") {
      const v = typeof value === "bigint" ? Number(value) : value;
      if (!(Number.isInteger(v) && v >= 0 && v < 2 ** f.bits)) throw this.rangeError(f, value);
      writeNum(a, buf, p, v);
    } else if (f.kind === "bigint") {
      if (typeof value === "number" && !Number.isSafeInteger(value)) throw this.rangeError(f, value);
      const v = BigInt(value);
      if (v < 0n || v >= 1n << BigInt(f.bits)) throw this.rangeError(f, value);
      writeBig(a, buf, p, v);
    } else {
      throw this.kindError(f, "set");
    }
  }

  private writeBytes(buf: Uint8Array, offset: number, a: Accessor, bytes: Uint8Array): void {
    const n = a.spec.bits / 8;
    if (bytes.length !== n) {
      throw new RangeError(`${this.name}.${a.spec.name}: needs ${n} bytes, got ${bytes.length}`);
    }
    buf.set(bytes, offset + a.spec.byteOffset);
  }

  private checkBounds(buf: Uint8Array, offset: number, a: Accessor): void {
    if (!(offset >= 0) || offset + a.endByte > buf.length) {
      throw new RangeError(
        `${this.name}.${a.spec.name}: field ends at byte ${offset + a.endByte} but the buffer has ${buf.length} bytes (layout at offset ${offset})`,
      );
    }
  }

  private checkSize(buf: Uint8Array, offset: number): void {
    if (!(offset >= 0) || offset + this.sizeBytes > buf.length) {
      throw new RangeError(
        `${this.name}: needs ${this.sizeBytes} bytes at offset ${offset} but the buffer has ${buf.length} bytes`,
      );
    }
  }

  private unknownField(name: string): Error {
    return new Error(`layout "${this.name}" has no field "${name}" (fields: ${this.fields.map((f) => f.name).join(", ")})`);
  }

  private kindError(f: FieldSpec, op: string): Error {
    const use = f.kind === "uint" ? "get/set" : f.kind === "bigint" ? "getBig/set" : "getBytes/setBytes";
    return new TypeError(`${this.name}.${f.name} is a ${f.bits}-bit ${f.kind} field; ${op} cannot access it (use ${use})`);
  }

  private rangeError(f: FieldSpec, value: number | bigint): Error {
    return new RangeError(`${this.name}.${f.name}: value ${value} does not fit in ${f.bits} unsigned bits`);
  }
}

/**
 * Places `fields` one after another, MSB first, and returns the layout. Throws, naming
 * the layout and field, if a field is malformed or duplicated, if a byte-array field is
 * not byte-aligned, if the total is not a whole number of bytes, or if it differs from
 * `options.sizeBytes` when that is given (a cross-check against the spec's stated size).
 */
export function defineLayout<const D extends readonly FieldDecl[]>(
  name: string,
  fields: D,
  options: { sizeBytes?: number } = {},
): Layout<D> {
  if (typeof name !== "string" || name === "") throw new Error("defineLayout: a layout needs a name");
  const specs: FieldSpec[] = [];
  const seen = new Set<string>();
  let bit = 0;
  for (const [i, decl] of fields.entries()) {
    const fname = decl.name;
    if (typeof fname !== "string" || fname === "") throw new Error(`layout "${name}": field #${i} has no name`);
    if (seen.has(fname)) throw new Error(`layout "${name}": field "${fname}" is declared twice`);
    seen.add(fname);
    const hasBits = "bits" in decl;
    const hasBytes = "bytes" in decl;
    if (hasBits === hasBytes) {
      throw new Error(`layout "${name}": field "${fname}" must declare exactly one of bits or bytes`);
    }
    let bits: number;
    let kind: FieldSpec["kind"];
    if (hasBits) {
      bits = decl.bits;
      if (!Number.isInteger(bits) || bits < 1 || bits > 64) {
        throw new Error(
          `layout "${name}": field "${fname}" has ${bits} bits; integer fields are 1..64 bits (declare wider ones with bytes)`,
        );
      }
      kind = bits <= 32 ? "uint" : "bigint";
    } else {
      const n = decl.bytes;
      if (!Number.isInteger(n) || n < 1) throw new Error(`layout "${name}": field "${fname}" has ${n} bytes`);
      if (bit % 8 !== 0) {
        throw new Error(`layout "${name}": byte-array field "${fname}" starts at bit ${bit}, not on a byte boundary`);
      }
      bits = n * 8;
      kind = "bytes";
    }
    const spec: FieldSpec = { name: fname, bits, bitOffset: bit, byteOffset: bit >>> 3, kind };
    specs.push(Object.freeze(decl.doc === undefined ? spec : { ...spec, doc: decl.doc }));
    bit += bits;
  }
  if (bit % 8 !== 0) {
    throw new Error(`layout "${name}": fields total ${bit} bits, not a whole number of bytes (${bit % 8} bits over)`);
  }
  const sizeBytes = bit / 8;
  if (options.sizeBytes !== undefined && options.sizeBytes !== sizeBytes) {
    throw new Error(`layout "${name}": fields total ${sizeBytes} bytes, but the layout is declared as ${options.sizeBytes}`);
  }
  return new Layout<D>(name, sizeBytes, Object.freeze(specs));
}

// ---- accessor compilation --------------------------------------------------------------

const TWO_32 = 0x1_0000_0000;

function compile(spec: FieldSpec): Accessor {
  const bitInByte = spec.bitOffset & 7;
  const span = Math.ceil((bitInByte + spec.bits) / 8); // bytes touched
  const trailing = span * 8 - bitInByte - spec.bits; // bits after the field in its last byte
  let path = Path.None;
  if (spec.kind === "uint") {
    if (bitInByte === 0 && trailing === 0) path = [Path.U8, Path.U16, Path.U24, Path.U32][span - 1];
    else if (span === 1) path = Path.InByte;
    else path = Path.General;
  }
  return {
    spec,
    byteOffset: spec.byteOffset,
    endByte: spec.byteOffset + span,
    path,
    span,
    shift: trailing,
    mask: spec.bits <= 32 ? 2 ** spec.bits - 1 : 0,
    scale: 2 ** trailing,
    modulus: 2 ** spec.bits,
  };
}

/** a 33..64-bit field */
function readBig(a: Accessor, b: Uint8Array, p: number): bigint {
  if (a.shift === 0 && (a.spec.bitOffset & 7) === 0) {
    // Byte-aligned: the high (span - 4) bytes and the low 4 bytes as two numbers.
    let hi = 0;
    const q = p + a.span - 4;
    for (let i = p; i < q; i++) hi = hi * 256 + b[i];
    const lo = b[q] * 0x100_0000 + ((b[q + 1] << 16) | (b[q + 2] << 8) | b[q + 3]);
    // one bigint conversion while the value is a safe integer (hi < 2^21), two beyond
    return hi < 0x20_0000 ? BigInt(hi * TWO_32 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
  }
  let acc = 0n;
  for (let i = 0; i < a.span; i++) acc = (acc << 8n) | BigInt(b[p + i]);
  return (acc >> BigInt(a.shift)) & ((1n << BigInt(a.spec.bits)) - 1n);
}

function writeBig(a: Accessor, b: Uint8Array, p: number, v: bigint): void {
  const shift = BigInt(a.shift);
  const mask = ((1n << BigInt(a.spec.bits)) - 1n) << shift;
  let acc = 0n;
  for (let i = 0; i < a.span; i++) acc = (acc << 8n) | BigInt(b[p + i]);
  acc = (acc & ~mask) | (v << shift);
  for (let i = a.span - 1; i >= 0; i--) {
    b[p + i] = Number(acc & 0xffn);
    acc >>= 8n;
  }
}
