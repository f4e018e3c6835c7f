/**
 * tests/security_test.ts on the per-namespace-fd path (NSJOIN_NO_PIDFD_SETNS=1), run by
 * tests/degraded_test.ts: only the tests that reach it. That path changes one step of the
 * helper (ffi/helper.c: the joins of a process target, when setns(pidfd) is not used); a
 * test that never starts a helper joining a process (listings, cp, forward, inNamespaces,
 * engine state) runs the same code either way, and re-running it cost ~30 of ~80 s.
 *
 * Which tests never reach it is measured, not kept by hand: tests/_fallback_reach.ts runs
 * this file with a helper that notes each time that step runs, and writes
 * tests/_fallback_unreached.json — each such test's name and a fingerprint of its source.
 * Here a listed test is ignored only while its source is still the one measured; a listed
 * test whose source changed, or that is gone, fails with the command that measures again.
 * A new test runs (not listed). Not seen by the fingerprint: a change of the library or of
 * a shared helper function that makes an unchanged test start such a helper.
 *
 * With NSJOIN_FALLBACK_TRACE=FILE (what _fallback_reach.ts sets) every test runs, and each
 * appends "START name", then "END", to FILE, around what the helper appends.
 *
 * @module
 */

import { fingerprint, MEASURE, UNREACHED_FILE } from "./_fallback_filter.ts";

const trace = Deno.env.get("NSJOIN_FALLBACK_TRACE");
// NSJOIN_FALLBACK_UNREACHED: another list (tests/degraded_test.ts, a stale one).
const list = Deno.env.get("NSJOIN_FALLBACK_UNREACHED") ?? UNREACHED_FILE;
const unreached: Record<string, string> = trace
  ? {}
  : JSON.parse(Deno.readTextFileSync(list)).tests;
const seen = new Set<string>();
const register = Deno.test;
const test = (def: Deno.TestDefinition) => {
  seen.add(def.name);
  const fn = def.fn;
  if (trace) {
    return register({
      ...def,
      fn: async (t) => {
        Deno.writeTextFileSync(trace, `START ${def.name}\n`, { append: true });
        try {
          await fn(t);
        } finally {
          Deno.writeTextFileSync(trace, "END\n", { append: true });
        }
      },
    });
  }
  const measured = unreached[def.name];
  if (measured === undefined) return register(def);
  if (measured === fingerprint(fn)) return register({ ...def, ignore: true });
  register(`${def.name}: changed since it was measured not to reach the fallback`, () => {
    throw new Error(`Cannot tell whether it reaches the fallback: run ${MEASURE}`);
  });
};
Object.defineProperty(Deno, "test", { value: test, configurable: true, writable: true });
await import("./security_test.ts");
Object.defineProperty(Deno, "test", { value: register, configurable: true, writable: true });
for (const name of Object.keys(unreached).filter((n) => !seen.has(n))) {
  register(`${name}: measured not to reach the fallback, and gone`, () => {
    throw new Error(`No such test in tests/security_test.ts: run ${MEASURE}`);
  });
}
