/**
 * What tests/_fallback_security.ts and tests/_fallback_reach.ts share: where the measured
 * list lives, how a test's source is fingerprinted, and the command that measures again.
 *
 * @module
 */

/** The file _fallback_reach.ts writes: the tests measured not to reach the fallback. */
export const UNREACHED_FILE = new URL("./_fallback_unreached.json", import.meta.url);

/** The command that measures again. */
export const MEASURE = "deno run -A tests/_fallback_reach.ts";

/**
 * A fingerprint of a test's source: its function's text without whitespace (the formatter
 * and the transpiler may move spaces), hashed (cyrb53).
 *
 * @param fn the test's function
 * @returns 14 hex digits
 */
export function fingerprint(fn: (...args: never[]) => unknown): string {
  const text = fn.toString().replace(/\s+/g, "");
  let h1 = 0xdeadbeef, h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, "0");
}
