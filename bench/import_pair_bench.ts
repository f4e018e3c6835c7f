/**
 * A paired A/B of two checkouts' library start-up, whole processes: each round runs a script
 * importing `A/mod.ts` and one importing `B/mod.ts`, each running one
 * `new NsCommand("true", { target })` (bench/import_bench.ts's script, in a directory with no
 * deno.json, as a user's), back to back in a random order, and keeps B − A of the CPU time of
 * each run's process tree (bench/_cpu.ts). Prints each side's median and the mean of the paired
 * differences with its standard error.
 *
 * Why: bench/import_bench.ts prints one run's medians, which move by more than a change worth
 * keeping; a pair shares the machine's conditions (see bench/cli_pair_bench.ts). Run a
 * control too (two copies of one tree): at load 6–13 a control has come out 0.5 ms from 0,
 * more than its standard error says, so an effect is one that repeats.
 * Needs root (a target made with unshare).
 *
 *   deno run -A bench/import_pair_bench.ts ROUNDS A B
 */
import { childrenCpu } from "./_cpu.ts";

const [rounds, dirA, dirB] = Deno.args;
if (!rounds || !dirA || !dirB) {
  console.error("usage: deno run -A bench/import_pair_bench.ts ROUNDS A B");
  Deno.exit(2);
}
const N = Number(rounds);
const deno = Deno.execPath();

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

const target = new Deno.Command("unshare", {
  args: ["-n", "-u", "-i", "--fork", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());
const dir = await Deno.makeTempDir({ prefix: "nsjoin-import-pair-" });
try {
  const scripts = [dirA, dirB].map((root, k) => {
    const mod = new URL("mod.ts", `file://${root.replace(/\/?$/, "/")}`).href;
    const path = `${dir}/script-${k}.ts`;
    Deno.writeTextFileSync(
      path,
      `import { NsCommand } from ${JSON.stringify(mod)};
const o = await new NsCommand("true", { target: ${pid} }).output();
if (!o.success) Deno.exit(1);
`,
    );
    return path;
  });
  const cpu = async (script: string): Promise<number> => {
    const c0 = childrenCpu();
    const o = await new Deno.Command(deno, {
      args: ["run", "-A", script],
      cwd: dir,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!o.success) throw new Error(`${script}: ${new TextDecoder().decode(o.stderr)}`);
    return childrenCpu() - c0;
  };
  // A few of each first: Deno's code cache, and the page cache, are then what a user's is.
  for (let i = 0; i < 3; i++) for (const s of scripts) await cpu(s);
  const a: number[] = [], b: number[] = [], d: number[] = [];
  for (let i = 0; i < N; i++) {
    let ta: number, tb: number;
    if (Math.random() < 0.5) {
      ta = await cpu(scripts[0]);
      tb = await cpu(scripts[1]);
    } else {
      tb = await cpu(scripts[1]);
      ta = await cpu(scripts[0]);
    }
    a.push(ta);
    b.push(tb);
    d.push(tb - ta);
  }
  const mean = d.reduce((s, x) => s + x, 0) / N;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (N - 1));
  console.log(
    `import mod.ts + one NsCommand, CPU of whole processes, ${N} interleaved pairs (load ` +
      `average ${Deno.loadavg()[0].toFixed(1)}); A = ${dirA}, B = ${dirB}`,
  );
  console.log(`  A median ${median(a).toFixed(2)} ms, B median ${median(b).toFixed(2)} ms`);
  console.log(
    `  B − A ${mean >= 0 ? "+" : ""}${mean.toFixed(2)} ± ${(sd / Math.sqrt(N)).toFixed(2)} ms ` +
      `(median ${median(d).toFixed(2)}, sd ${sd.toFixed(2)}, ${N} pairs)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
  // unshare first (see bench/cli_pair_bench.ts), then the sleep it forked.
  Deno.kill(target.pid, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await target.status;
}
