/**
 * `nsjoin exec NAME true` (a bare name) against `exec docker:NAME true` and `docker exec`,
 * cold CLI runs interleaved in one run, with N other docker containers on the host: a bare
 * name is matched across every engine, and read each engine's state for it (every docker
 * config.v2.json, every containerd bundle's spec) where docker:NAME reads one file. Prints
 * medians, p10/p90 and the ratio of each to docker:NAME and to docker exec, and the median
 * CPU time of each run (bench/_cpu.ts: the load of a shared machine moves it much less than
 * wall time). Needs root and docker (bash tests/setup.sh); makes its containers and removes
 * them.
 *
 *   nice -n -20 deno run -A bench/bare_name_bench.ts [others] [iterations]
 */
import { IMAGE, removeContainers, type TestContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const OTHERS = Number(Deno.args[0] ?? 30);
const N = Number(Deno.args[1] ?? 15);
const ROOT = new URL("..", import.meta.url).pathname;

async function run(cmd: string, args: string[]): Promise<void> {
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
}

const tag = Math.random().toString(36).slice(2, 8);
const made: TestContainer[] = [];
try {
  const names = Array.from({ length: OTHERS + 1 }, (_, i) => `nsjbare-${tag}-${i}`);
  for (const name of names) {
    made.push({ cli: "docker", engine: "docker", name, id: "", pid: 0 });
  }
  await Promise.all(
    names.map((name) => run("docker", ["run", "-d", "--name", name, IMAGE, "sleep", "3600"])),
  );
  const web = names[Math.floor(names.length / 2)];
  const deno = Deno.execPath();
  const cli = (ref: string) => () =>
    run(deno, ["run", "-A", "--quiet", `${ROOT}cli.ts`, "exec", ref, "true"]);
  const runs: Record<string, () => Promise<void>> = {
    "docker exec": () => run("docker", ["exec", web, "true"]),
    "nsjoin exec docker:NAME": cli(`docker:${web}`),
    "nsjoin exec NAME (bare)": cli(web),
  };
  const samples: Record<string, number[]> = Object.fromEntries(
    Object.keys(runs).map((k) => [k, []]),
  );
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (const f of Object.values(runs)) await f();
  for (let i = 0; i < N; i++) {
    for (const [k, f] of Object.entries(runs)) {
      const [t, c] = [performance.now(), childrenCpu()];
      await f();
      samples[k].push(performance.now() - t);
      cpu[k].push(childrenCpu() - c);
    }
  }
  const at = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * q)];
  const median = (k: string) => at(samples[k], 0.5);
  console.log(`${OTHERS} other docker containers, ${N} interleaved rounds`);
  for (const k of Object.keys(runs)) {
    console.log(
      `${k.padEnd(26)} median ${median(k).toFixed(1)} ms  p10 ${at(samples[k], 0.1).toFixed(1)}` +
        `  p90 ${at(samples[k], 0.9).toFixed(1)}  ×docker:NAME ${
          (median(k) / median("nsjoin exec docker:NAME")).toFixed(2)
        }  ×docker exec ${(median(k) / median("docker exec")).toFixed(2)}  cpu ${
          at(cpu[k], 0.5).toFixed(1)
        } ms`,
    );
  }
} finally {
  await removeContainers(made);
}
