/**
 * What the mnt evaluator's process costs (stop 26: `inNamespaces` with mnt runs its sealed
 * evaluator in a `deno` process of its own), as ratios against anchors measured in the same
 * run, rounds interleaved: a first mnt call (reuse: false: the process, its spawner Worker
 * and the evaluator start) against `nsenter -t PID -m true` spawned from Deno, a cold
 * `deno run` of an empty script, and a first uts call (a Worker born in the target); a kept
 * mnt call against a kept uts call. Medians and the spread (min–max of the per-round
 * values). Against a root-owned `unshare -m -u` target made here, killed after. Needs root.
 *
 *   nice -n -20 deno run -A bench/sealed_process_bench.ts [rounds]
 */
import { closeNamespaceWorkers, inNamespaces } from "../mod.ts";

const rounds = Number(Deno.args[0] ?? 7);
const KEPT_PER_ROUND = 50;

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

const target = new Deno.Command("unshare", {
  args: ["-m", "-u", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
const reader = target.stdout.getReader();
await reader.read();
reader.releaseLock();
target.stdout.cancel();
const dir = await Deno.makeTempDir();
try {
  await Deno.writeTextFile(`${dir}/empty.ts`, "");
  const hostname = () => Deno.hostname();
  const run = async (cmd: string, args: string[]) => {
    const out = await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output();
    if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed`);
  };
  const rows: Record<string, number[]> = {};
  const add = (row: string, value: number) => (rows[row] ??= []).push(value);
  // One of each before measuring: Deno's caches, the node: modules, the TLS store.
  await inNamespaces(target.pid, hostname, { namespaces: ["mnt"], reuse: false });
  await inNamespaces(target.pid, hostname, { namespaces: ["uts"], reuse: false });
  for (let r = 0; r < rounds; r++) {
    add(
      "nsenter -t PID -m true",
      await ms(() => run("nsenter", ["-t", `${target.pid}`, "-m", "true"])),
    );
    add(
      "deno run (empty script)",
      await ms(() =>
        run(Deno.execPath(), ["run", "-A", "--no-config", "--no-lock", `${dir}/empty.ts`])
      ),
    );
    add(
      "uts, first call (Worker)",
      await ms(() => inNamespaces(target.pid, hostname, { namespaces: ["uts"], reuse: false })),
    );
    add(
      "mnt, first call (process)",
      await ms(() => inNamespaces(target.pid, hostname, { namespaces: ["mnt"], reuse: false })),
    );
    for (const namespaces of [["uts"], ["mnt"]] as const) {
      await inNamespaces(target.pid, hostname, { namespaces });
      const t: number[] = [];
      for (let i = 0; i < KEPT_PER_ROUND; i++) {
        t.push(await ms(() => inNamespaces(target.pid, hostname, { namespaces })));
      }
      add(`${namespaces[0]}, kept call`, median(t));
    }
    await closeNamespaceWorkers();
  }
  const fmt = (row: string) => {
    const xs = rows[row];
    return `${median(xs).toFixed(2)} ms (${Math.min(...xs).toFixed(2)}–${
      Math.max(...xs).toFixed(2)
    })`;
  };
  for (const row of Object.keys(rows)) console.log(`${row.padEnd(28)} ${fmt(row)}`);
  const ratio = (a: string, b: string) => {
    // Per round, so both sides met the same load.
    const xs = rows[a].map((v, i) => v / rows[b][i]);
    console.log(
      `${a} / ${b}: ${median(xs).toFixed(1)}× (${Math.min(...xs).toFixed(1)}–${
        Math.max(...xs).toFixed(1)
      })`,
    );
  };
  ratio("mnt, first call (process)", "nsenter -t PID -m true");
  ratio("mnt, first call (process)", "deno run (empty script)");
  ratio("mnt, first call (process)", "uts, first call (Worker)");
  ratio("mnt, kept call", "uts, kept call");
} finally {
  target.kill("SIGKILL");
  await target.status;
  await closeNamespaceWorkers();
  await Deno.remove(dir, { recursive: true });
}
