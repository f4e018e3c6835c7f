/**
 * The CLI start-up goals of issue 12, whole processes interleaved in a new order each round:
 * `cli.ts enter -t PID -a true` (goal ≤ 1.2×) and `cli.ts exec docker:NAME true` (goal ≤ 1.35×)
 * against an empty `deno run`, wall and CPU time (bench/_cpu.ts: the CPU time of each run's
 * process tree moves much less with the load of a shared machine). With BASE, the path of
 * another checkout (say `git archive` of the base branch into a directory), its cli.ts runs
 * in the same rounds: a before/after under the same load.
 * Needs root (a target made with unshare) and docker (bash tests/setup.sh); makes its
 * container and removes it.
 *
 *   deno run -A bench/cli_startup_bench.ts [iterations] [BASE]
 */
import { ensureImages, podmanUser, removeContainers, startContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 40);
const base = Deno.args[1];
const deno = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function run(args: string[]): Promise<void> {
  const o = await new Deno.Command(deno, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
}

const owner = podmanUser();
if (!owner) throw new Error("run tests/setup.sh first");
await ensureImages(owner);
const target = new Deno.Command("unshare", {
  args: ["-n", "-u", "-i", "--fork", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());
const container = await startContainer("docker", `nsjbench-${crypto.randomUUID().slice(0, 8)}`);
const empty = await Deno.makeTempFile({ suffix: ".ts" });
try {
  const runs: Record<string, string[]> = { "deno run empty.ts": ["run", "-A", empty] };
  for (const [label, root] of [["", ROOT], ["base ", base]] as const) {
    if (!root) continue;
    const cli = `${root.replace(/\/?$/, "/")}cli.ts`;
    runs[`${label}enter -t PID -a true`] = [
      "run",
      "-A",
      cli,
      "enter",
      "-t",
      `${pid}`,
      "-a",
      "true",
    ];
    runs[`${label}exec docker:NAME true`] = [
      "run",
      "-A",
      cli,
      "exec",
      `docker:${container.name}`,
      "true",
    ];
  }
  // Twice each first: Deno's code cache, and the page cache, are then what a user's is.
  for (const args of Object.values(runs)) for (let i = 0; i < 2; i++) await run(args);
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N; i++) {
    const order = Object.entries(runs).map((r) => [Math.random(), r] as const)
      .sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    for (const [name, args] of order) {
      const c0 = childrenCpu();
      const t0 = performance.now();
      await run(args);
      wall[name].push(performance.now() - t0);
      cpu[name].push(childrenCpu() - c0);
    }
  }
  const empty0 = { wall: median(wall["deno run empty.ts"]), cpu: median(cpu["deno run empty.ts"]) };
  console.log(
    `deno run, whole process, ${N} interleaved iterations (load average ${
      Deno.loadavg()[0].toFixed(1)
    })`,
  );
  for (const name of Object.keys(runs)) {
    const goal = name.includes("enter")
      ? " (goal <= 1.2)"
      : name.includes("exec")
      ? " (goal <= 1.35)"
      : "";
    const w = median(wall[name]), c = median(cpu[name]);
    console.log(
      `  ${name.padEnd(28)} wall ${w.toFixed(1).padStart(6)} ms ${
        (w / empty0.wall).toFixed(2)
      }x, ` +
        `CPU ${c.toFixed(1).padStart(6)} ms ${
          (c / empty0.cpu).toFixed(2)
        }x an empty deno run${goal}`,
    );
  }
} finally {
  await Deno.remove(empty);
  await removeContainers([container]);
  // unshare first: util-linux 2.38's unshare, seeing its child die of SIGKILL, tries to
  // reset SIGKILL's handler (EINVAL) and prints "sigprocmask unblock failed" (its bug).
  Deno.kill(target.pid, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await target.status;
}
