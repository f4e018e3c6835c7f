/**
 * Per-exec latency of `true` in all namespaces of a root-owned target (made here with
 * unshare, killed after), interleaved in one run with a bare Deno.Command("true") and
 * `nsenter -t PID -a true` spawned from Deno; then CLI cold start, in wall time and in the
 * CPU time of each run (bench/_cpu.ts, which the load of a shared machine moves much less).
 * Prints medians, p90s and ratios. Needs root.
 *
 *   deno task bench            (or: deno run -A bench/exec_bench.ts [iterations])
 */
import { NsCommand } from "../mod.ts";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 500);
const COLD = Number(Deno.args[1] ?? 30);

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function check(out: Promise<Deno.CommandOutput>, what: string): Promise<void> {
  const o = await out;
  if (!o.success) throw new Error(`${what} failed: ${new TextDecoder().decode(o.stderr)}`);
}

const target = new Deno.Command("unshare", {
  args: [
    "-m",
    "-u",
    "-i",
    "-n",
    "-p",
    "-C",
    "-T",
    "--fork",
    "--mount-proc",
    "sh",
    "-c",
    "echo ready; exec sleep 100000",
  ],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());

try {
  const reused = new NsCommand("true", { target: pid });
  const runs: Record<string, () => Promise<void>> = {
    "bare Deno.Command": () => check(new Deno.Command("true", { stdout: "null" }).output(), "true"),
    "nsjoin NsCommand (new each time)": () =>
      check(new NsCommand("true", { target: pid }).output(), "nsjoin"),
    "nsjoin NsCommand (reused)": () => check(reused.output(), "nsjoin"),
    "nsenter -t PID -a": () =>
      check(
        new Deno.Command("nsenter", { args: ["-t", String(pid), "-a", "true"] }).output(),
        "nsenter",
      ),
  };
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(runs).map((k) => [k, []]),
  );
  for (const fn of Object.values(runs)) for (let i = 0; i < 20; i++) await fn(); // warm up
  for (let i = 0; i < N; i++) {
    for (const [name, fn] of Object.entries(runs)) samples[name].push(await time(fn));
  }
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  console.log(
    `per-exec latency of \`true\` in all namespaces of pid ${pid}, ${N} interleaved iterations`,
  );
  for (const [name, { median, p90 }] of Object.entries(s)) {
    console.log(`  ${name.padEnd(34)} median ${median.toFixed(3)} ms   p90 ${p90.toFixed(3)} ms`);
  }
  const bare = s["bare Deno.Command"].median;
  const ns = s["nsenter -t PID -a"].median;
  for (const name of ["nsjoin NsCommand (new each time)", "nsjoin NsCommand (reused)"]) {
    const m = s[name].median;
    console.log(
      `  ${name}: ${(m / bare).toFixed(2)}x bare spawn (goal <= 1.25), ${
        (m / ns).toFixed(2)
      }x nsenter (goal <= 0.45)`,
    );
  }

  // CLI cold start: a whole `deno run` of cli.ts vs `deno run` of an empty script vs nsenter.
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const cli = new URL("../cli.ts", import.meta.url).pathname;
  const deno = Deno.execPath();
  const cold: Record<string, () => Promise<void>> = {
    "deno run empty.ts": () =>
      check(new Deno.Command(deno, { args: ["run", "-A", empty] }).output(), "deno"),
    "deno run cli.ts enter -a true": () =>
      check(
        new Deno.Command(deno, {
          args: ["run", "-A", cli, "enter", "-t", String(pid), "-a", "true"],
        }).output(),
        "cli",
      ),
    "nsenter -t PID -a true": () =>
      check(
        new Deno.Command("nsenter", { args: ["-t", String(pid), "-a", "true"] }).output(),
        "nsenter",
      ),
  };
  const coldSamples: Record<string, number[]> = Object.fromEntries(
    Object.keys(cold).map((k) => [k, []]),
  );
  const coldCpu: Record<string, number[]> = Object.fromEntries(
    Object.keys(cold).map((k) => [k, []]),
  );
  for (const fn of Object.values(cold)) await fn();
  for (let i = 0; i < COLD; i++) {
    for (const [name, fn] of Object.entries(cold)) {
      const c0 = childrenCpu();
      coldSamples[name].push(await time(fn));
      coldCpu[name].push(childrenCpu() - c0);
    }
  }
  await Deno.remove(empty);
  console.log(`CLI cold start, ${COLD} interleaved iterations`);
  const c = Object.fromEntries(Object.entries(coldSamples).map(([k, v]) => [k, stats(v)]));
  const u = Object.fromEntries(Object.entries(coldCpu).map(([k, v]) => [k, stats(v)]));
  for (const [name, { median, p90 }] of Object.entries(c)) {
    console.log(
      `  ${name.padEnd(34)} median ${median.toFixed(2)} ms   p90 ${p90.toFixed(2)} ms   CPU ${
        u[name].median.toFixed(2)
      } ms`,
    );
  }
  const cm = c["deno run cli.ts enter -a true"].median;
  console.log(
    `  cli.ts enter: ${
      (cm / c["deno run empty.ts"].median).toFixed(2)
    }x an empty deno run (goal <= 1.2; CPU ${
      (u["deno run cli.ts enter -a true"].median / u["deno run empty.ts"].median).toFixed(2)
    }x), ${(cm / c["nsenter -t PID -a true"].median).toFixed(2)}x nsenter`,
  );
} finally {
  Deno.kill(pid, "SIGKILL");
  await target.status;
}
