/**
 * `exec web1 true` against real containers, interleaved in one run: `docker exec`,
 * `podman exec`, the nsjoin CLI cold (a new `deno run` each time, by engine:NAME and by
 * bare name) and the library warm (container resolved once, docker exec's defaults from
 * containerExecOptions; a new NsCommand each time, one NsCommand reused, and one without the
 * container's seccomp filter, whose difference is the cost of copying it; and an exec session,
 * joined once, whose helper forks each program: src/session.ts). Prints medians,
 * p90s and ratios to docker exec, and for the CLI the CPU time of each run beside an empty
 * `deno run`'s (bench/_cpu.ts: the load of a shared machine moves it much less than wall time).
 * Needs root and the engines (bash tests/setup.sh); makes its containers and removes them.
 *
 *   deno run -A bench/exec_containers_bench.ts [iterations]
 */
import { containerExecOptions, NsCommand, openSession, resolveContainer } from "../mod.ts";
import {
  ensureImages,
  podmanUser,
  removeContainers,
  startContainer,
  type TestContainer,
} from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 40);
const ROOT = new URL("..", import.meta.url).pathname;

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

async function run(cmd: string, args: string[]): Promise<void> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
}

const owner = podmanUser();
if (!owner) throw new Error("run tests/setup.sh first (no rootless podman user)");
await ensureImages(owner);
const tag = Math.random().toString(36).slice(2, 8);
const made: TestContainer[] = [];
try {
  const [d, p] = await Promise.all([
    startContainer("docker", `nsjbench-${tag}-web1`),
    startContainer("podman", `nsjbench-${tag}-web2`),
  ]);
  made.push(d, p);
  const deno = Deno.execPath();
  const cli = (ref: string) => () =>
    run(deno, ["run", "-A", "--quiet", `${ROOT}cli.ts`, "exec", ref, "true"]);
  using web = await resolveContainer(`docker:${d.name}`);
  const options = containerExecOptions(web);
  const check = (o: Deno.CommandOutput) => {
    if (!o.success) throw new Error(`nsjoin library: ${new TextDecoder().decode(o.stderr)}`);
  };
  const reused = new NsCommand("true", { ...options, stdout: "null" });
  await using session = await openSession(web, options);
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const runs: Record<string, () => Promise<void>> = {
    "deno run empty.ts": () => run(deno, ["run", "-A", "--quiet", empty]),
    "docker exec": () => run("docker", ["exec", d.name, "true"]),
    "podman exec": () => run("podman", ["exec", p.name, "true"]),
    "nsjoin CLI cold (docker:NAME)": cli(`docker:${d.name}`),
    "nsjoin CLI cold (bare name)": cli(d.name),
    "nsjoin CLI cold (podman:NAME)": cli(`podman:${p.name}`),
    "nsjoin library warm (new)": async () =>
      check(await new NsCommand("true", { ...options, stdout: "null" }).output()),
    "nsjoin library warm (reused)": async () => check(await reused.output()),
    // The same exec without the container's seccomp filter: the difference is what reading
    // it (ptrace stop of the container's process) and installing it cost per exec.
    "nsjoin library warm (no seccomp)": async () =>
      check(await new NsCommand("true", { ...options, seccomp: "none", stdout: "null" }).output()),
    "nsjoin library warm (session)": async () => check(await session.output("true")),
  };
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(runs).map((k) => [k, []]),
  );
  for (const fn of Object.values(runs)) for (let i = 0; i < 3; i++) await fn();
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N; i++) {
    // A new order each round: podman exec leaves its cleanup running after it returns, which
    // slows whichever run comes next in a fixed order (it was the CLI's: 87 ms here against
    // 68 ms for the same command timed alone, while an empty deno run matched).
    const order = Object.entries(runs).map((r) => [Math.random(), r] as const)
      .sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    for (const [name, fn] of order) {
      const c0 = childrenCpu();
      const t0 = performance.now();
      await fn();
      samples[name].push(performance.now() - t0);
      cpu[name].push(childrenCpu() - c0);
    }
  }
  await Deno.remove(empty);
  const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
  console.log(`exec CONTAINER true, ${N} interleaved iterations`);
  for (const [name, { median, p90 }] of Object.entries(s)) {
    console.log(
      `  ${name.padEnd(32)} median ${median.toFixed(2).padStart(7)} ms   p90 ${
        p90.toFixed(2).padStart(7)
      } ms`,
    );
  }
  const seccomp = s["nsjoin library warm (new)"].median -
    s["nsjoin library warm (no seccomp)"].median;
  console.log(
    `seccomp filter read + install per exec: ${seccomp.toFixed(2)} ms (median difference)`,
  );
  const docker = s["docker exec"].median;
  const podman = s["podman exec"].median;
  console.log("ratios (median / docker exec median; goal: CLI cold <= 0.33, library warm <= 0.03)");
  const cold = s["deno run empty.ts"].median;
  const coldCpu = stats(cpu["deno run empty.ts"]).median;
  for (const name of Object.keys(s).filter((k) => k.startsWith("nsjoin CLI cold"))) {
    console.log(
      `  ${name.padEnd(32)} ${
        (s[name].median / cold).toFixed(2)
      }x an empty deno run (goal <= 1.35); CPU ${stats(cpu[name]).median.toFixed(1)} ms, ${
        (stats(cpu[name]).median / coldCpu).toFixed(2)
      }x the empty run's ${coldCpu.toFixed(1)} ms`,
    );
  }
  for (const name of Object.keys(s).filter((k) => k.startsWith("nsjoin"))) {
    const m = s[name].median;
    console.log(
      `  ${name.padEnd(32)} ${(m / docker).toFixed(3)}x docker exec   ${
        (m / podman).toFixed(3)
      }x podman exec`,
    );
  }
} finally {
  await removeContainers(made);
}
