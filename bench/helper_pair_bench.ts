/**
 * A paired A/B of two checkouts' helpers alone (ffi/helper.c, the ELF in each checkout's
 * src/cli/_bundle/cli/_helper_x86_64.js), run with the argv `exec docker:NAME true`'s fast
 * path gives it (src/cli/_exec_fast.ts: pin, join, the docker checks d and r, the seccomp copy,
 * limits, cgroups, then fork `true` into the container and wait): each round runs A's and B's
 * helper back to back in a random order and keeps B − A of the CPU time of each run's process
 * tree (bench/_cpu.ts). Prints each side's median and the mean of the paired differences with
 * its standard error.
 *
 * Why: a whole `cli.ts exec` run moves by 3–7 ms of CPU between rounds on a shared machine,
 * so bench/cli_pair_bench.ts needs ~500 pairs to see 0.5 ms; the helper alone (~3.5 ms CPU)
 * moves by ~0.4 ms per pair at load 5 (~2.4 at load 9), so 600 pairs tell 0.02–0.1 ms apart:
 * a change to ffi/helper.c is measured here, what Deno and the CLI's JavaScript spend there.
 * Give the same directory twice for a control. x86_64 only.
 * Needs root and docker (bash tests/setup.sh); makes its container and removes it.
 *
 *   deno run -A bench/helper_pair_bench.ts ROUNDS A B
 */
import { ensureImages, podmanUser, removeContainers, startContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const [rounds, dirA, dirB] = Deno.args;
if (!rounds || !dirA || !dirB || Deno.build.arch !== "x86_64") {
  console.error("usage (x86_64): deno run -A bench/helper_pair_bench.ts ROUNDS A B");
  Deno.exit(2);
}
const N = Number(rounds);

/** Mean ± standard error, median and standard deviation. */
function summary(d: number[]): string {
  const mean = d.reduce((s, x) => s + x, 0) / d.length;
  const sd = Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (d.length - 1));
  return `${mean >= 0 ? "+" : ""}${mean.toFixed(3)} ± ${(sd / Math.sqrt(d.length)).toFixed(3)} ms` +
    ` (median ${median(d).toFixed(3)}, sd ${sd.toFixed(2)}, ${d.length} pairs)`;
}

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

const dir = await Deno.makeTempDir({ prefix: "nsjoin-helper-pair-" });
const helpers: string[] = [];
for (const [k, root] of [["a", dirA], ["b", dirB]]) {
  const url = new URL(
    "src/cli/_bundle/cli/_helper_x86_64.js",
    `file://${root.replace(/\/?$/, "/")}`,
  );
  const { HELPER } = await import(url.href) as { HELPER: string };
  const path = `${dir}/helper-${k}`;
  Deno.writeFileSync(path, Uint8Array.from(atob(HELPER), (c) => c.charCodeAt(0)), { mode: 0o700 });
  helpers.push(path);
}
const owner = podmanUser();
if (!owner) throw new Error("run tests/setup.sh first");
await ensureImages(owner);
const container = await startContainer("docker", `nsjhelper-${crypto.randomUUID().slice(0, 8)}`);
try {
  const state = JSON.parse(
    Deno.readTextFileSync(`/var/lib/docker/containers/${container.id}/config.v2.json`),
  );
  // The fast path's argv (src/cli/_exec_fast.ts) for `exec docker:NAME true`, as root.
  const args = [
    "Q",
    `P${state.State.Pid}`,
    "J7e020080",
    "b",
    "W/",
    `d${state.ID}:${container.name}`,
    "r",
    "t",
    "hnsjoin exec",
    "iBEVzlom",
    "I",
    "p/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--",
    "true",
  ];
  const env = Object.fromEntries(
    (state.Config.Env as string[] ?? []).map((
      e,
    ) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
  );
  const cpu = async (path: string): Promise<number> => {
    const c0 = childrenCpu();
    const o = await new Deno.Command(path, {
      args,
      env,
      clearEnv: true,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!o.success) throw new Error(`${path}: ${o.code} ${new TextDecoder().decode(o.stderr)}`);
    return childrenCpu() - c0;
  };
  // A few of each first: the page cache and the kernel's caches are then warm for both.
  for (let i = 0; i < 5; i++) for (const h of helpers) await cpu(h);
  const a: number[] = [], b: number[] = [], diffs: number[] = [];
  for (let i = 0; i < N; i++) {
    let ta: number, tb: number;
    if (Math.random() < 0.5) {
      ta = await cpu(helpers[0]);
      tb = await cpu(helpers[1]);
    } else {
      tb = await cpu(helpers[1]);
      ta = await cpu(helpers[0]);
    }
    a.push(ta);
    b.push(tb);
    diffs.push(tb - ta);
  }
  console.log(
    `the helper alone with exec's fast-path argv, CPU of its process tree, ${N} interleaved ` +
      `pairs (load average ${Deno.loadavg()[0].toFixed(1)}); A = ${dirA}, B = ${dirB}`,
  );
  console.log(`  A median ${median(a).toFixed(3)} ms, B median ${median(b).toFixed(3)} ms`);
  console.log(`  B − A ${summary(diffs)}`);
} finally {
  await removeContainers([container]);
  await Deno.remove(dir, { recursive: true });
}
