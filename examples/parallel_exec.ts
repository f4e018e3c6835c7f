/**
 * Run one command in many containers at once and print a summary table — exit code,
 * time, and the first line of output of each — like a tiny `pssh` for namespaces. Each
 * command runs through dax bound to its target (`daxIn`), so pipes work inside the
 * command too (quote them as one word: "ip -br addr | wc -l").
 *
 *   deno run -A examples/parallel_exec.ts TARGET... -- COMMAND [ARG...]
 *
 * A TARGET is a PID, a namespace file (/run/netns/NAME) or a container name. Exits 0 when
 * the command succeeded everywhere, 1 otherwise.
 */
import { parseTarget, resolveContainer } from "../mod.ts";
import { daxIn } from "../dax.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`parallel_exec: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

const dash = Deno.args.indexOf("--");
const wheres = Deno.args.slice(0, dash);
const command = Deno.args.slice(dash + 1);
if (dash < 1 || command.length === 0) {
  console.error("usage: parallel_exec.ts TARGET... -- COMMAND [ARG...]");
  Deno.exit(2);
}

const results = await Promise.all(wheres.map(async (where) => {
  const started = performance.now();
  try {
    const target = /^[0-9]+$/.test(where) || where.startsWith("/")
      ? parseTarget(where)
      : await resolveContainer(where);
    const $ = daxIn(target);
    // One word is a command line of its own (pipes and all); several are program + args.
    const run = command.length === 1 ? $.raw`${command[0]}` : $`${command}`;
    const r = await run.noThrow().captureCombined().quiet();
    return { where, code: r.code, ms: performance.now() - started, out: r.combined };
  } catch (error) {
    return { where, code: 125, ms: performance.now() - started, out: (error as Error).message };
  }
}));

const rows = [
  ["TARGET", "CODE", "MS", "OUTPUT"],
  ...results.map((r) => [
    r.where,
    String(r.code),
    r.ms.toFixed(0),
    r.out.trim().split("\n")[0] ?? "",
  ]),
];
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
const failed = results.filter((r) => r.code !== 0).length;
console.log(`${results.length - failed} ok, ${failed} failed`);
if (failed > 0) Deno.exit(1);
