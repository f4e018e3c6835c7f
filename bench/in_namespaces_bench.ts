/**
 * What `inNamespaces()` costs against a root-owned `unshare -m -u` target (made here, killed
 * after): a new Worker and a reused one, for uts alone (the caller's thread joins) and for
 * mnt+uts (a spawner Worker joins mnt, then a sealed evaluator), and a module URL in a mnt
 * Worker (bundled on the host on every call). Medians. Needs root.
 *
 *   deno run -A bench/in_namespaces_bench.ts
 */
import { closeNamespaceWorkers, inNamespaces } from "../mod.ts";

function median(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

async function time(n: number, fn: () => Promise<unknown>): Promise<string> {
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return `${median(t).toFixed(2)} ms`;
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
  await Deno.writeTextFile(`${dir}/lib.ts`, "export const f = (s: string): string => s + '!';\n");
  await Deno.writeTextFile(
    `${dir}/job.ts`,
    "import { f } from './lib.ts';\nexport default (s: string): string => f(s);\n",
  );
  const hostname = () => Deno.hostname();
  const rows: [string, string][] = [];
  for (const namespaces of [["uts"], ["mnt", "uts"]] as const) {
    const name = namespaces.join("+");
    const n = name === "uts" ? 15 : 5;
    rows.push([
      `${name}, new Worker`,
      await time(n, () => inNamespaces(target.pid, hostname, { namespaces, reuse: false })),
    ]);
    await inNamespaces(target.pid, hostname, { namespaces });
    rows.push([
      `${name}, reused`,
      await time(100, () => inNamespaces(target.pid, hostname, { namespaces })),
    ]);
  }
  const url = new URL(`file://${dir}/job.ts`);
  rows.push([
    "mnt+uts, module URL, reused (deno bundle per call)",
    await time(10, () => inNamespaces(target.pid, url, { namespaces: ["mnt", "uts"], arg: "x" })),
  ]);
  for (const [what, ms] of rows) console.log(`${what.padEnd(52)} ${ms}`);
} finally {
  target.kill("SIGKILL");
  await target.status;
  await closeNamespaceWorkers();
  await Deno.remove(dir, { recursive: true });
}
