/**
 * `exec k8s:NS/POD/CONTAINER true` on a real CRI runtime (tests/_cri.ts: our own containerd
 * with its CRI plugin), interleaved in one run: the CRI's ExecSync of `true` over a warm
 * gRPC connection (the floor `kubectl exec` can never beat: it adds the API server and the
 * kubelet's streaming on top), the nsjoin CLI cold (a new `deno run` each time) and the
 * library warm (resolved once, a new NsCommand each time). Prints medians, p90s and ratios
 * to ExecSync. Needs root, containerd and the CNI plugins (bash tests/setup.sh).
 *
 *   deno run -A bench/exec_k8s_bench.ts [iterations]
 */
import { containerExecOptions, NsCommand, resolveContainer } from "../mod.ts";
import { CriRuntime } from "../tests/_cri.ts";

const N = Number(Deno.args[0] ?? 30);
const ROOT = new URL("..", import.meta.url).pathname;

function stats(xs: number[]): { median: number; p90: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], p90: s[Math.floor(s.length * 0.9)] };
}

await using rt = await CriRuntime.start();
const tag = Math.random().toString(36).slice(2, 7);
const pod = await rt.runPod("default", `bench-${tag}`, [{ name: "app" }]);
const target = `k8s:default/bench-${tag}/app`;
const deno = Deno.execPath();
const env = { ...Deno.env.toObject(), NSJOIN_CONTAINERD_STATE: rt.state };
using app = await resolveContainer(target, { containerdState: [rt.state] });
const options = containerExecOptions(app);
const runs: Record<string, () => Promise<void>> = {
  "CRI ExecSync (warm gRPC)": async () => {
    const r = await rt.execSync(pod.containers.app, ["true"]);
    if (r.code !== 0) throw new Error(`ExecSync: ${r.stderr}`);
  },
  "nsjoin CLI cold": async () => {
    const o = await new Deno.Command(deno, {
      args: ["run", "-A", "--quiet", `${ROOT}cli.ts`, "exec", target, "true"],
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!o.success) throw new Error(`nsjoin CLI: ${new TextDecoder().decode(o.stderr)}`);
  },
  "nsjoin library warm": async () => {
    const o = await new NsCommand("true", { ...options, stdout: "null" }).output();
    if (!o.success) throw new Error(`nsjoin library: ${new TextDecoder().decode(o.stderr)}`);
  },
};
const samples: Record<string, number[]> = Object.fromEntries(
  Object.keys(runs).map((k) => [k, []]),
);
for (const fn of Object.values(runs)) for (let i = 0; i < 3; i++) await fn();
for (let i = 0; i < N; i++) {
  for (const [name, fn] of Object.entries(runs)) {
    const t0 = performance.now();
    await fn();
    samples[name].push(performance.now() - t0);
  }
}
const s = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)]));
console.log(`exec ${target} true, ${N} interleaved iterations`);
for (const [name, { median, p90 }] of Object.entries(s)) {
  console.log(
    `  ${name.padEnd(26)} median ${median.toFixed(2).padStart(7)} ms   p90 ${
      p90.toFixed(2).padStart(7)
    } ms`,
  );
}
const floor = s["CRI ExecSync (warm gRPC)"].median;
console.log("ratios (median / ExecSync median; goal: CLI cold <= 1.0, library warm <= 0.05)");
for (const name of ["nsjoin CLI cold", "nsjoin library warm"]) {
  console.log(`  ${name.padEnd(26)} ${(s[name].median / floor).toFixed(3)}x`);
}
