/**
 * What reading the caller's environment costs a cold process's first command (ffi/libc.ts
 * environSnapshot, through environEntries as ffi/spawn.ts calls it): fresh processes, each
 * timing its first call in-process right after libc's core symbols are loaded (as a first
 * command has them), in two cases — the environment as the kernel gave it, and after one
 * `Deno.env.set` (the array then is glibc's: each string is checked against Deno.env). The
 * functions are the ones `import … from "mod.ts"` runs: the library's bundle (src/_bundle/), the
 * chunk that holds ffi/libc.ts, found by its content (its file name is a hash). With BASE, the
 * path of another checkout (say `git archive` of the base commit into a directory), its bundle
 * runs in the same rounds, interleaved. Prints the fastest and the median of each.
 *
 *   deno run -A bench/environ_bench.ts [processes] [BASE]
 */
const N = Number(Deno.args[0] ?? 25);
const roots: Record<string, string> = { "this tree": new URL("..", import.meta.url).pathname };
if (Deno.args[1]) roots.base = Deno.args[1].replace(/\/?$/, "/");

/** The bundle's chunk that defines environEntries (and exports it to the other chunks). */
function libcChunk(root: string): string {
  for (const e of Deno.readDirSync(`${root}src/_bundle`)) {
    const path = `${root}src/_bundle/${e.name}`;
    if (e.name.endsWith(".js") && Deno.readTextFileSync(path).includes("var environEntries = ")) {
      return path;
    }
  }
  throw new Error(`no chunk of ${root}src/_bundle defines environEntries`);
}

const script = (root: string, set: boolean) =>
  `import { environEntries, libcFunction } from ${JSON.stringify(libcChunk(root))};
libcFunction("getpid", { parameters: [], result: "i32" }).call();
${set ? 'Deno.env.set("NSJOIN_BENCH_SET", "1");' : ""}
const t0 = performance.now();
const entries = environEntries({});
const t1 = performance.now();
if (entries.length === 0) Deno.exit(1);
console.log(t1 - t0);`;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const dir = await Deno.makeTempDir({ prefix: "nsjoin-environ-bench-" });
try {
  const runs: Record<string, string> = {};
  for (const [name, root] of Object.entries(roots)) {
    for (const set of [false, true]) {
      const path = `${dir}/${name.replace(" ", "_")}_${set}.ts`;
      await Deno.writeTextFile(path, script(root, set));
      runs[`${set ? "after Deno.env.set" : "as the kernel gave it"}, ${name}`] = path;
    }
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  const run = async (path: string) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", "--no-lock", path],
      stdin: "null",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
    return Number(new TextDecoder().decode(out.stdout));
  };
  // Once each first: Deno's caches are then what a user's are.
  for (const path of Object.values(runs)) await run(path);
  for (let i = 0; i < N; i++) {
    const order = Object.entries(runs).map((r) => [Math.random(), r] as const)
      .sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    for (const [name, path] of order) times[name].push(await run(path));
  }
  console.log(
    `environEntries, first call of a cold process, in-process, ${N} processes each (load ${
      Deno.loadavg()[0].toFixed(1)
    }):`,
  );
  for (const [name, t] of Object.entries(times)) {
    const fastest = Math.min(...t);
    console.log(
      `  ${name.padEnd(36)} fastest ${fastest.toFixed(2)} ms, median ${median(t).toFixed(2)} ms`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
