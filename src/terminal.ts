/**
 * Text that someone else controls (a process's name and arguments, a container's name, a
 * path, a cgroup) made safe to print on a terminal, as util-linux's mbs_safe_encode does
 * for lsns: every control or non-printable character becomes `\xNN` per UTF-8 byte, and a
 * backslash that would read as such an escape becomes `\x5c`. JSON output never goes
 * through this: it stays exact.
 *
 * @module
 */

// Made at the first escape: constructed at load, it cost every command that imports this
// module (`enter` among them) TextEncoder's first-use time, ~0.2 ms.
let _utf8: TextEncoder | undefined;

// C0 controls and DEL, C1 controls, the line/paragraph separators and the bidirectional
// formatting characters (they reorder what follows them on the screen: "Trojan Source").
// Every lone surrogate too: U+DC80-U+DCFF (a byte decodeBytes found not to be UTF-8) is
// printed as that byte, another as the U+FFFD a write would make of it.
const _UNSAFE =
  // deno-lint-ignore no-control-regex -- matching control characters is the point
  /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd\ud800-\udfff]|\\(?=x)/gu;

/**
 * Escapes control and non-printable characters as `\xNN` (one per UTF-8 byte), as lsns
 * prints a process's command line: no newline, tab, ESC or BEL from `s` reaches the
 * terminal, so nobody can forge a table row or send an escape sequence. A byte that was not
 * UTF-8 (decodeBytes kept it as U+DC80 + byte) is printed as that byte, `\xff`, as lsns prints
 * it; U+FFFD (where another decoder replaced such bytes) is escaped too.
 *
 * @param s text from someone else
 * @returns the text, safe for one line of a terminal
 *
 * @example
 * ```ts
 * import { escapeTerminal } from "./terminal.ts";
 * if (escapeTerminal("a\nb\x1b[31m") !== "a\\x0ab\\x1b[31m") throw new Error("not escaped");
 * ```
 */
export function escapeTerminal(s: string): string {
  return s.replace(_UNSAFE, (c) => {
    const byte = escapedByte(c);
    if (byte !== undefined) return `\\x${byte.toString(16)}`;
    let out = "";
    _utf8 ??= new TextEncoder();
    for (const b of _utf8.encode(c)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    return out;
  });
}

/**
 * Bytes someone else chose (a process's command line) as text: UTF-8 where they are UTF-8,
 * and each byte that is not (0x80-0xff) as the lone surrogate U+DC80 + byte, as Python's
 * `surrogateescape` decodes a file name. Unlike TextDecoder's U+FFFD the byte stays known:
 * escapeTerminal prints it as `\xff`, as lsns does; JSON.stringify writes it as `\udcff`
 * (valid JSON text; Python's json and os.fsencode give the byte back). No valid UTF-8 decodes
 * to a lone surrogate, so the two never mix up. TextEncoder, console.log and a write to a
 * terminal turn it into U+FFFD's bytes, as before.
 *
 * @param bytes what was read
 * @returns the text, one UTF-16 code unit per byte that is not UTF-8
 *
 * @example
 * ```ts
 * import { decodeBytes, escapeTerminal } from "./terminal.ts";
 * const s = decodeBytes(new Uint8Array([0x61, 0xff, 0xc3, 0xa9]));
 * if (s !== "a\udcff\u00e9" || escapeTerminal(s) !== "a\\xff\u00e9") throw new Error("lost");
 * ```
 */
export function decodeBytes(bytes: Uint8Array): string {
  const strict = _strict ??= new TextDecoder("utf-8", { fatal: true });
  try {
    return strict.decode(bytes);
  } catch {
    // Not UTF-8 somewhere: decode it sequence by sequence below.
  }
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const n = _sequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + bytes[i]);
      i++;
    } else {
      out += strict.decode(bytes.subarray(i, i + n));
      i += n;
    }
  }
  return out;
}

let _strict: TextDecoder | undefined;

// The length of the well-formed UTF-8 sequence at `i` (Unicode 15, table 3-7), 0 if none:
// no overlong form, no surrogate (ED A0-BF), nothing past U+10FFFF.
function _sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf) =>
    i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80, hi = c === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80, hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/**
 * The byte a lone surrogate of decodeBytes stands for (ls's raw output escapes every byte).
 *
 * @param c one character (a code point) of decodeBytes's text
 * @returns the byte 0x80-0xff, or undefined for any other character
 *
 * @example
 * ```ts
 * import { escapedByte } from "./terminal.ts";
 * if (escapedByte("\udcff") !== 0xff || escapedByte("\u00ff") !== undefined) throw new Error("mixed");
 * ```
 */
export function escapedByte(c: string): number | undefined {
  const u = c.length === 1 ? c.charCodeAt(0) : 0;
  return u >= 0xdc80 && u <= 0xdcff ? u - 0xdc00 : undefined;
}

// What JSON.stringify leaves as it is but a terminal may act on: DEL, the C1 controls (a
// terminal that reads UTF-8-encoded C1 takes U+009B as CSI and U+009D as OSC; xterm does),
// the line and paragraph separators and the bidirectional formatting characters.
const _JSON_UNSAFE = /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * `JSON.stringify(value, null, indent)` with every character a terminal may act on written
 * as a `\uXXXX` escape: the same JSON value, exact, but no C1 control from a name someone
 * else chose (a user's container name, a process's arguments) reaches the terminal the
 * JSON is printed on (`ps --json`, `ls --json`, `inspect --json`). `JSON.stringify` escapes
 * only C0 controls.
 *
 * @param value what to print as JSON
 * @param indent spaces per level
 * @returns JSON text holding no control character
 *
 * @example
 * ```ts
 * import { jsonForTerminal } from "./terminal.ts";
 * if (jsonForTerminal({ n: "a\u009b2J" }) !== '{"n":"a\\u009b2J"}') throw new Error("raw C1");
 * ```
 */
export function jsonForTerminal(value: unknown, indent?: number): string {
  return JSON.stringify(value, null, indent).replace(
    _JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}
