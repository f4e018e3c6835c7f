/**
 * A paired A/B of two checkouts' CLI start-up, whole processes: each round runs
 * `A/cli.ts exec docker:NAME true` and `B/cli.ts exec docker:NAME true` back to back in a
 * random order (and the same for `enter -t PID -a true`), and keeps B − A of the CPU time of
 * each run's process tree (bench/_cpu.ts). It prints the mean of those paired differences
 * with its standard error, their median and standard deviation.
 *
 * Why paired: between rounds the CPU time of one `deno run` moves by 3–6 ms on this shared
 * machine (other engineers' work, the state of the code cache's SQLite WAL), far more than a
 * change worth keeping (≥ 0.5 ms). The two trees of a pair run under the same conditions, so
 * their difference keeps only the noise of the pair; a difference of 0.5 ms then shows in
 * ~300–500 rounds (the standard error is the per-pair deviation over √rounds). The medians of
 * bench/cli_startup_bench.ts cannot tell such a difference from one tree's run-to-run spread.
 *
 * A and B are directories holding a checkout each (say `git archive` of two commits, or a
 * scratch copy with one change). Give the same directory twice, or two copies of one tree,
 * for a control: its mean must come out within about two standard errors of 0.
 * Needs root (a target made with unshare) and docker (bash tests/setup.sh); makes its
 * container and removes it.
 *
 *   deno run -A bench/cli_pair_bench.ts ROUNDS A B [exec|enter]
 */
import { ensureImages, podmanUser, removeContainers, startContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const [rounds, dirA, dirB, only] = Deno.args;
if (!rounds || !dirA || !dirB || (only && only !== "exec" && only !== "enter")) {
  console.error("usage: deno run -A bench/cli_pair_bench.ts ROUNDS A B [exec|enter]");
  Deno.exit(2);
}
const N = Number(rounds);
const deno = Deno.execPath();

/** One run's CPU time (ms), its whole process tree. */
async function cpu(args: string[]): Promise<number> {
  const c0 = childrenCpu();
  const o = await new Deno.Command(deno, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  return childrenCpu() - c0;
}

/** Mean ± standard error, median and standard deviation of the differences. */
function summary(d: number[]): string {
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1));
  const median = [...d].sort((a, b) => a - b)[Math.floor(d.length / 2)];
  return `${mean >= 0 ? "+" : ""}${mean.toFixed(2)} ± ${(sd / Math.sqrt(d.length)).toFixed(2)} ms` +
    ` (median ${median.toFixed(2)}, sd ${sd.toFixed(2)}, ${d.length} pairs)`;
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
const container = await startContainer("docker", `nsjpair-${crypto.randomUUID().slice(0, 8)}`);
try {
  const commands: Record<string, string[]> = {
    "exec docker:NAME true": ["exec", `docker:${container.name}`, "true"],
    "enter -t PID -a true": ["enter", "-t", `${pid}`, "-a", "true"],
  };
  const names = Object.keys(commands).filter((n) => !only || n.startsWith(only));
  const cli = (dir: string) => `${dir.replace(/\/?$/, "/")}cli.ts`;
  const diffs: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  // Twice each first: Deno's code cache, and the page cache, are then what a user's is.
  for (const name of names) {
    for (const dir of [dirA, dirB, dirA, dirB]) {
      await cpu(["run", "-A", cli(dir), ...commands[name]]);
    }
  }
  for (let i = 0; i < N; i++) {
    for (const name of names) {
      const run = (dir: string) => cpu(["run", "-A", cli(dir), ...commands[name]]);
      if (Math.random() < 0.5) {
        const a = await run(dirA);
        diffs[name].push(await run(dirB) - a);
      } else {
        const b = await run(dirB);
        diffs[name].push(b - await run(dirA));
      }
    }
  }
  console.log(
    `CPU of whole processes, B − A, ${N} interleaved pairs (load average ${
      Deno.loadavg()[0].toFixed(1)
    }); A = ${dirA}, B = ${dirB}`,
  );
  for (const name of names) console.log(`  ${name.padEnd(22)} ${summary(diffs[name])}`);
} finally {
  await removeContainers([container]);
  // unshare first: util-linux 2.38's unshare, seeing its child die of SIGKILL, tries to
  // reset SIGKILL's handler (EINVAL) and prints "sigprocmask unblock failed" (its bug).
  Deno.kill(target.pid, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await target.status;
}
