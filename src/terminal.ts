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
// deno-lint-ignore no-control-regex -- matching control characters is the point
const _UNSAFE = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]|\\(?=x)/gu;

/**
 * Escapes control and non-printable characters as `\xNN` (one per UTF-8 byte), as lsns
 * prints a process's command line: no newline, tab, ESC or BEL from `s` reaches the
 * terminal, so nobody can forge a table row or send an escape sequence. U+FFFD (where the
 * source held bytes that are not UTF-8) is escaped too.
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
    let out = "";
    _utf8 ??= new TextEncoder();
    for (const b of _utf8.encode(c)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    return out;
  });
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
