/**
 * `nsjoin cp` against `docker cp`, interleaved in one run, both directions: one big file
 * and a tree of many small files, into and out of a running container. Both are whole
 * commands (the nsjoin CLI cold, a new `deno run` each time, as docker cp is a new process).
 * Prints medians and the ratio to docker cp (goal ≤ 0.5×), and GNU `cp -a` and
 * `tar -c | tar -x` through /proc/PID/root as the filesystem's own floor (unsafe: they follow
 * the container's symlinks on the host; here only to show what the disk and overlayfs cost).
 * Needs root and dockerd (bash tests/setup.sh); makes its container and files, removes them.
 *
 *   deno run -A bench/cp_bench.ts [iterations] [big file MiB] [small files]
 *   (defaults: 3 1024 10000)
 */
import {
  ensureImages,
  must,
  podmanUser,
  removeContainers,
  startContainer,
} from "../tests/_engines.ts";

const N = Number(Deno.args[0] ?? 3);
const BIG_MIB = Number(Deno.args[1] ?? 1024);
const SMALL = Number(Deno.args[2] ?? 10_000);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timed(cmd: string, args: string[]): Promise<number> {
  const t0 = performance.now();
  const o = await new Deno.Command(cmd, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  const ms = performance.now() - t0;
  if (!o.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
  }
  return ms;
}

await ensureImages(podmanUser()!);
const tag = Math.random().toString(36).slice(2, 8);
const box = await startContainer("docker", `nsjbench-cp-${tag}`);
const dir = await Deno.makeTempDir({ prefix: "nsjbench-cp-" });
try {
  // The sources: random data (no holes, nothing compressible), on the host and inside.
  const chunk = new Uint8Array(1 << 20);
  const f = await Deno.open(`${dir}/big`, { write: true, create: true });
  for (let i = 0; i < BIG_MIB; i++) {
    for (let j = 0; j < chunk.length; j += 65536) {
      crypto.getRandomValues(chunk.subarray(j, j + 65536));
    }
    await f.write(chunk);
  }
  f.close();
  for (let i = 0; i < SMALL; i++) {
    const sub = `${dir}/tree/d${Math.floor(i / 100)}`;
    if (i % 100 === 0) await Deno.mkdir(sub, { recursive: true });
    await Deno.writeFile(`${sub}/f${i}`, crypto.getRandomValues(new Uint8Array(100 + (i % 1000))));
  }
  await must("docker", ["cp", `${dir}/big`, `${box.name}:/big`]);
  await must("docker", ["cp", `${dir}/tree`, `${box.name}:/tree`]);
  const root = `/proc/${box.pid}/root`;
  const nsjoin = (...args: string[]) =>
    timed(Deno.execPath(), ["run", "-A", "--quiet", CLI, "cp", ...args]);
  const clean = async () => {
    for (const p of [`${root}/in`, `${dir}/out`]) {
      await Deno.remove(p, { recursive: true }).catch(() => {});
    }
    await Deno.mkdir(`${root}/in`);
    await Deno.mkdir(`${dir}/out`);
    await timed("sync", []);
  };
  const gnu = (src: string, dest: string) => timed("cp", ["-a", src, dest]);
  const tar = (src: string, dest: string) =>
    timed("sh", [
      "-c",
      'tar -C "$(dirname "$1")" -cf - "$(basename "$1")" | tar -C "$2" -xpf -',
      "sh",
      src,
      dest,
    ]);
  const cases: [string, ...(() => Promise<number>)[]][] = [
    [
      `${BIG_MIB} MiB file into`,
      () => timed("docker", ["cp", `${dir}/big`, `${box.name}:/in/`]),
      () => nsjoin(`${dir}/big`, `${box.name}:/in/`),
      () => gnu(`${dir}/big`, `${root}/in/`),
      () => tar(`${dir}/big`, `${root}/in/`),
    ],
    [
      `${BIG_MIB} MiB file out of`,
      () => timed("docker", ["cp", `${box.name}:/big`, `${dir}/out/`]),
      () => nsjoin(`${box.name}:/big`, `${dir}/out/`),
      () => gnu(`${root}/big`, `${dir}/out/`),
      () => tar(`${root}/big`, `${dir}/out/`),
    ],
    [
      `${SMALL} small files into`,
      () => timed("docker", ["cp", `${dir}/tree`, `${box.name}:/in/`]),
      () => nsjoin(`${dir}/tree`, `${box.name}:/in/`),
      () => gnu(`${dir}/tree`, `${root}/in/`),
      () => tar(`${dir}/tree`, `${root}/in/`),
    ],
    [
      `${SMALL} small files out of`,
      () => timed("docker", ["cp", `${box.name}:/tree`, `${dir}/out/`]),
      () => nsjoin(`${box.name}:/tree`, `${dir}/out/`),
      () => gnu(`${root}/tree`, `${dir}/out/`),
      () => tar(`${root}/tree`, `${dir}/out/`),
    ],
  ];
  const tools = ["docker", "nsjoin", "gnu", "tar"] as const;
  const results = new Map<string, Record<(typeof tools)[number], number[]>>();
  for (let i = 0; i < N; i++) {
    for (const [name, ...runs] of cases) {
      const r = results.get(name) ?? { docker: [], nsjoin: [], gnu: [], tar: [] };
      results.set(name, r);
      // Alternate which goes first, so neither always meets a warm or a dirty page cache.
      const order = tools.map((t, k) => [t, runs[k]] as const);
      for (const [which, go] of i % 2 ? order.reverse() : order) {
        await clean();
        r[which].push(await go());
      }
    }
  }
  console.log(
    `cp: ${N} interleaved iterations (${BIG_MIB} MiB file, ${SMALL} small files), medians\n`,
  );
  console.log("| case | docker cp | nsjoin cp | ratio | GNU cp -a (floor) | tar \\| tar (floor) |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const [name, r] of results) {
    const d = median(r.docker);
    const n = median(r.nsjoin);
    const g = median(r.gnu);
    const t = median(r.tar);
    const ratio = (n / d).toFixed(2);
    console.log(
      `| ${name} the container | ${d.toFixed(0)} ms | ${n.toFixed(0)} ms | ${ratio}× | ${
        g.toFixed(0)
      } ms | ${t.toFixed(0)} ms |`,
    );
  }
} finally {
  await removeContainers([box]);
  await Deno.remove(dir, { recursive: true });
}
