/**
 * Hex text ⇄ bytes, for test vectors, traces and error messages.
 */

const DIGITS = "0123456789abcdef";

/** lowercase hex, two digits per byte; `separator` goes between bytes (e.g. " " or ":") */
export function toHex(bytes: Uint8Array, separator = ""): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    if (i > 0 && separator !== "") s += separator;
    const b = bytes[i];
    s += DIGITS[b >>> 4] + DIGITS[b & 15];
  }
  return s;
}

function digit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

/**
 * Bytes from hex text, either case. Whitespace between digits is ignored, so multi-line
 * test vectors paste as they are. Throws on a non-hex character or an odd number of
 * digits, naming the position in the string (0-based).
 */
export function fromHex(str: string): Uint8Array {
  const out = new Uint8Array(str.length >>> 1);
  let n = 0;
  let high = -1; // pending high nibble
  let highAt = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (isSpace(c)) continue;
    const d = digit(c);
    if (d < 0) throw new SyntaxError(`fromHex: bad hex digit ${JSON.stringify(str[i])} at position ${i}`);
    if (high < 0) {
      high = d;
      highAt = i;
    } else {
      out[n++] = (high << 4) | d;
      high = -1;
    }
  }
  if (high >= 0) {
    throw new SyntaxError(`fromHex: odd number of hex digits (the last byte, at position ${highAt}, has one digit)`);
  }
  return out.slice(0, n);
}

/**
 * A classic hex dump: offset, hex bytes, and printable ASCII, `width` bytes per line.
 *   00000000  45 00 00 73 00 00 40 00  40 11 b8 61 c0 a8 00 01  |E..s..@.@..a....|
 */
export function hexDump(bytes: Uint8Array, width = 16): string {
  const lines: string[] = [];
  for (let off = 0; off < bytes.length; off += width) {
    const row = bytes.subarray(off, off + width);
    let hex = "";
    let text = "";
    for (let i = 0; i < width; i++) {
      if (i > 0) hex += i % 8 === 0 ? "  " : " ";
      if (i < row.length) {
        hex += DIGITS[row[i] >>> 4] + DIGITS[row[i] & 15];
        text += row[i] >= 0x20 && row[i] < 0x7f ? String.fromCharCode(row[i]) : ".";
      } else {
        hex += "  ";
      }
    }
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex}  |${text}|`);
  }
  return lines.join("\n");
}
