/**
 * `exec k8s:NS/POD/CONTAINER true` on a real CRI runtime (tests/_cri.ts: our own containerd
 * with its CRI plugin), interleaved in one run: the CRI's ExecSync of `true` over a warm
 * gRPC connection (the floor `kubectl exec` can never beat: it adds the API server and the
 * kubelet's streaming on top), the nsjoin CLI cold (a new `deno run` each time) and the
 * library warm (resolved once: a new NsCommand each time, and an exec session joined once
 * whose helper forks each program, src/session.ts). Two containers of one pod: `app`
 * as the CRI makes it by default (no seccomp filter), and `sec` with the RuntimeDefault
 * seccomp profile (what `seccompProfile: RuntimeDefault` or the kubelet's SeccompDefault
 * gives): its filter is copied on every exec, with ptrace the first time and from the kept
 * copy after that (ffi/seccomp.ts filterCopy). Prints medians, p90s and ratios to the
 * ExecSync of the same container, and the floors under them measured in the same run: an
 * empty `deno run` (Deno's own start), the CLI cold with the container's PID as target (the
 * same exec without the pod lookup), a `Deno.Command` spawn of /bin/true (what the
 * library's spawn costs before nsjoin does anything), and the CRI's Version call (no work:
 * what the gRPC client and containerd's server add to each ExecSync, so that the floor is
 * the runtime's exec and not our client). For the CLI runs, the CPU time of each run's
 * process tree too (bench/_cpu.ts: it moves much less than wall time with the load of a
 * shared machine).
 *
 * `--pods N` puts N more pods (one or two containers each, in five namespaces) on the node
 * first: a node runs dozens, and the pod lookup reads every one's bundle. `--base DIR` runs
 * the CLI of another checkout (say `git archive` of the base branch into a directory) in the
 * same rounds, and an exec session of its library (its mod.ts, imported beside ours): a
 * before/after under the same load. Needs root, containerd and the CNI plugins (bash
 * tests/setup.sh).
 *
 *   deno run -A bench/exec_k8s_bench.ts [iterations] [--pods N] [--base DIR]
 */
import { parseArgs } from "node:util";
import { containerExecOptions, NsCommand, openSession, resolveContainer } from "../mod.ts";
import { CriRuntime } from "../tests/_cri.ts";
import { childrenCpu } from "./_cpu.ts";

const { values, positionals } = parseArgs({
  args: Deno.args,
  options: { pods: { type: "string" }, base: { type: "string" } },
  allowPositionals: true,
});
const N = Number(positionals[0] ?? 30);
const EXTRA_PODS = Number(values.pods ?? 0);
const BASE = values.base?.replace(/\/?$/, "/");
const ROOT = new URL("..", import.meta.url).pathname;

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

await using rt = await CriRuntime.start();
const tag = Math.random().toString(36).slice(2, 7);
for (let i = 0; i < EXTRA_PODS; i++) {
  const containers = [{ name: "main" }, ...(i % 3 === 0 ? [{ name: "side" }] : [])];
  await rt.runPod(`bench-ns${i % 5}`, `filler-${i}-${tag}`, containers);
}
const pod = await rt.runPod("default", `bench-${tag}`, [
  { name: "app" },
  { name: "sec", securityContext: { seccomp: { profile_type: "RuntimeDefault" } } },
]);
const deno = Deno.execPath();
const env = { ...Deno.env.toObject(), NSJOIN_CONTAINERD_STATE: rt.state };
const runs: Record<string, () => Promise<void>> = {};
/** CPU time (ms) of each CLI run's process tree, by row. */
const cpu: Record<string, number[]> = {};
const cli = (row: string, args: string[]) => async () => {
  const before = childrenCpu();
  const o = await new Deno.Command(deno, {
    args: ["run", "-A", "--quiet", ...args],
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  (cpu[row] ??= []).push(childrenCpu() - before);
  if (!o.success) throw new Error(`deno run: ${new TextDecoder().decode(o.stderr)}`);
};
const empty = await Deno.makeTempFile({ suffix: ".ts" });
let appPid = 0;
const sessions: { close(): Promise<void> }[] = [];
/** The base checkout's library, for its session rows. */
const baseLib: typeof import("../mod.ts") | undefined = BASE
  ? await import(new URL(`${BASE}mod.ts`, "file://").href)
  : undefined;
for (const name of ["app", "sec"]) {
  const target = `k8s:default/bench-${tag}/${name}`;
  const app = await resolveContainer(target, { containerdState: [rt.state] });
  if (name === "app") appPid = app.pid;
  const options = containerExecOptions(app);
  runs[`${name}: CRI ExecSync (warm gRPC)`] = async () => {
    const r = await rt.execSync(pod.containers[name], ["true"]);
    if (r.code !== 0) throw new Error(`ExecSync: ${r.stderr}`);
  };
  const session = await openSession(app, options);
  sessions.push(session);
  runs[`${name}: nsjoin library warm, session`] = async () => {
    const o = await session.output("true");
    if (!o.success) throw new Error(`nsjoin session: ${new TextDecoder().decode(o.stderr)}`);
  };
  if (baseLib) {
    const theirs = await baseLib.resolveContainer(target, { containerdState: [rt.state] });
    const baseSession = await baseLib.openSession(theirs, baseLib.containerExecOptions(theirs));
    sessions.push(baseSession);
    runs[`${name}: nsjoin library warm, session, base`] = async () => {
      const o = await baseSession.output("true");
      if (!o.success) throw new Error(`base session: ${new TextDecoder().decode(o.stderr)}`);
    };
  }
  const cold = `${name}: nsjoin CLI cold`;
  runs[cold] = cli(cold, [`${ROOT}cli.ts`, "exec", target, "true"]);
  if (BASE) runs[`${cold}, base`] = cli(`${cold}, base`, [`${BASE}cli.ts`, "exec", target, "true"]);
  runs[`${name}: nsjoin library warm`] = async () => {
    const o = await new NsCommand("true", { ...options, stdout: "null" }).output();
    if (!o.success) throw new Error(`nsjoin library: ${new TextDecoder().decode(o.stderr)}`);
  };
}
const emptyRow = "floor: deno run (empty script)";
runs[emptyRow] = cli(emptyRow, [empty]);
const pidRow = "floor: CLI cold, app's PID";
runs[pidRow] = cli(pidRow, [`${ROOT}cli.ts`, "exec", String(appPid), "true"]);
runs["floor: CRI Version (warm gRPC)"] = async () => void await rt.version();
runs["floor: Deno.Command /bin/true"] = async () => {
  await new Deno.Command("/bin/true", { stdin: "null", stdout: "null" }).output();
};
const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(runs).map((k) => [k, []]),
);
for (const fn of Object.values(runs)) for (let i = 0; i < 3; i++) await fn();
for (const row in cpu) cpu[row] = [];
for (let i = 0; i < N; i++) {
  for (const [name, fn] of Object.entries(runs)) {
    const t0 = performance.now();
    await fn();
    samples[name].push(performance.now() - t0);
  }
}
const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
console.log(
  `exec k8s:default/bench-${tag}/{app,sec} true, ${N} interleaved iterations, ${
    EXTRA_PODS + 1
  } pods on the node`,
);
for (const [name, { median, p90 }] of Object.entries(s)) {
  const time = cpu[name] ? `   cpu ${stats(cpu[name]).median.toFixed(2).padStart(7)} ms` : "";
  console.log(
    `  ${name.padEnd(42)} median ${median.toFixed(2).padStart(7)} ms   p90 ${
      p90.toFixed(2).padStart(7)
    } ms${time}`,
  );
}
console.log(
  "ratios (median / the container's ExecSync median; goal: CLI cold <= 1.0, library warm <= 0.05)",
);
for (const name of ["app", "sec"]) {
  const floor = s[`${name}: CRI ExecSync (warm gRPC)`].median;
  for (
    const kind of [
      "nsjoin CLI cold",
      ...(BASE ? ["nsjoin CLI cold, base"] : []),
      "nsjoin library warm",
      "nsjoin library warm, session",
      ...(BASE ? ["nsjoin library warm, session, base"] : []),
    ]
  ) {
    const row = `${name}: ${kind}`;
    console.log(`  ${row.padEnd(42)} ${(s[row].median / floor).toFixed(3)}x`);
  }
}
await Deno.remove(empty);
for (const session of sessions) await session.close();
