/**
 * What splitting the code into modules costs at start-up, whole processes, interleaved in
 * one run: the source modules against the same code bundled into JavaScript chunks, next to
 * an empty `deno run`.
 * - `enter -t PID -a true`: cli.ts, which runs the bundle nsjoin ships (src/cli/_bundle/,
 *   `deno task build:cli`), against a script that runs src/cli/enter.ts from source;
 * - the import bench's script (import the main entry, run one `NsCommand`): mod.ts, which
 *   runs the bundle nsjoin ships (src/_bundle/), against the same script importing the
 *   source modules mod.ts's bundle is built from (src/_bundle/mod.ts, their re-exports), and
 *   the same script without the import.
 * Each module Deno evaluates costs its own load, cache look-ups and instantiation, whatever
 * its size: the bundles show how much of the start-up goals' gap that is.
 * Besides wall time, the CPU time of each run's process tree (getrusage(RUSAGE_CHILDREN)
 * before and after it): on a machine shared with other work the wall medians swing with the
 * load, the CPU times much less.
 * Needs root (a target made with unshare).
 *
 *   deno run -A bench/startup_floor_bench.ts [iterations]
 */
import { join } from "node:path";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 20);
const deno = Deno.execPath();
const root = new URL("..", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function run(args: string[]): Promise<void> {
  const o = await new Deno.Command(deno, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
}

const target = new Deno.Command("unshare", {
  args: ["-n", "-u", "-i", "--fork", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());
const dir = await Deno.makeTempDir({ prefix: "nsjoin-floor-bench-" });

try {
  const nsCommand = (from: string) =>
    `import { NsCommand } from ${JSON.stringify(from)};
const o = await new NsCommand("true", { target: ${pid} }).output();
if (!o.success) Deno.exit(1);`;
  const files: Record<string, string> = {
    "empty.ts": "",
    "plain.ts": `const o = await new Deno.Command("true").output();\nif (!o.success) Deno.exit(1);`,
    "mod_source.ts": nsCommand(`${root}src/_bundle/mod.ts`),
    "mod_bundle.ts": nsCommand(`${root}mod.ts`),
    // Through import(), as cli.ts did: it gives Deno the loop turn in which it writes the
    // modules' code cache, which `enter` (it replaces the process) would not give otherwise.
    "enter_source.ts": `const { enter } = await import(${
      JSON.stringify(`${root}src/cli/enter.ts`)
    });\nDeno.exit(await enter(Deno.args));`,
  };
  for (const [name, text] of Object.entries(files)) await Deno.writeTextFile(join(dir, name), text);
  const p = (name: string) => join(dir, name);
  const enterArgs = ["enter", "-t", String(pid), "-a", "true"];
  const runs: Record<string, string[]> = {
    "deno run empty.ts": ["run", "-A", p("empty.ts")],
    "enter, source modules": ["run", "-A", p("enter_source.ts"), ...enterArgs.slice(1)],
    "enter, cli.ts (shipped bundle)": ["run", "-A", `${root}cli.ts`, ...enterArgs],
    "Deno.Command(true), no import": ["run", "-A", p("plain.ts")],
    "mod.ts + NsCommand (source modules)": ["run", "-A", p("mod_source.ts")],
    "mod.ts + NsCommand (shipped bundle)": ["run", "-A", p("mod_bundle.ts")],
  };
  for (const args of Object.values(runs)) for (let i = 0; i < 2; i++) await run(args);
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N; i++) {
    for (const [name, args] of Object.entries(runs)) {
      const c0 = childrenCpu();
      const t0 = performance.now();
      await run(args);
      wall[name].push(performance.now() - t0);
      cpu[name].push(childrenCpu() - c0);
    }
  }
  console.log(`deno run, whole process, ${N} interleaved iterations (target pid ${pid})`);
  for (const name of Object.keys(runs)) {
    console.log(
      `  ${name.padEnd(40)} wall median ${median(wall[name]).toFixed(1).padStart(6)} ms, CPU ${
        median(cpu[name]).toFixed(1).padStart(6)
      } ms`,
    );
  }
  for (const [what, t] of [["wall", wall], ["CPU", cpu]] as const) {
    const m = (name: string) => median(t[name]);
    const empty = m("deno run empty.ts");
    const plain = m("Deno.Command(true), no import");
    console.log(
      `  ${what}: enter source ${(m("enter, source modules") / empty).toFixed(2)}x, ` +
        `cli.ts ${(m("enter, cli.ts (shipped bundle)") / empty).toFixed(2)}x an empty deno run ` +
        `(goal <= 1.2); import + NsCommand source ${
          (m("mod.ts + NsCommand (source modules)") / plain).toFixed(2)
        }x, bundled ${
          (m("mod.ts + NsCommand (shipped bundle)") / plain).toFixed(2)
        }x the script without the import (goal <= 1.15)`,
    );
  }
} finally {
  Deno.kill(pid, "SIGKILL");
  await target.status;
  await Deno.remove(dir, { recursive: true });
}
