/**
 * Run a checklist inside one target through one exec session (joined once, then a fork per
 * check): each line of stdin is a shell command run with `sh -c` in the target, as
 * `docker exec` would run it (a container gets its user, env, cwd and confinement). Prints
 * CODE, MS and the first line of output of each check; exits 0 when every check passed.
 *
 *   printf 'id -u\ntest -d /etc\n' | deno run -A examples/session_checks.ts TARGET
 *
 * A TARGET is a PID or a container name.
 */
import { containerExecOptions, openSession, resolveContainer } from "../mod.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`session_checks: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

if (Deno.args.length !== 1) {
  console.error("usage: session_checks.ts TARGET < CHECKS (one shell command a line)");
  Deno.exit(2);
}
const where = Deno.args[0];
const checks = (await new Response(Deno.stdin.readable).text()).split("\n")
  .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));

const container = /^[0-9]+$/.test(where) ? undefined : await resolveContainer(where);
await using session = container
  ? await openSession(container, containerExecOptions(container))
  : await openSession(Number(where));

const rows = [["CODE", "MS", "CHECK", "OUTPUT"]];
let failed = 0;
for (const check of checks) {
  const started = performance.now();
  const r = await session.output("sh", { args: ["-c", check] });
  if (r.code !== 0) failed++;
  const out = new TextDecoder().decode(r.code === 0 ? r.stdout : r.stderr).trim();
  rows.push([String(r.code), (performance.now() - started).toFixed(1), check, out.split("\n")[0]]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
console.log(`${checks.length - failed} passed, ${failed} failed`);
container?.close();
if (failed > 0) Deno.exit(1);
