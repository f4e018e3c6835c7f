/**
 * The CLI start-up goals of issue 12, whole processes interleaved in a new order each round:
 * `cli.ts enter -t PID -a true` (goal ≤ 1.2×) and `cli.ts exec docker:NAME true` (goal ≤ 1.35×)
 * against an empty `deno run`, wall and CPU time (bench/_cpu.ts: the CPU time of each run's
 * process tree moves much less with the load of a shared machine). With BASE, the path of
 * another checkout (say `git archive` of the base branch into a directory), its cli.ts runs
 * in the same rounds: a before/after under the same load.
 *
 * Two floors run in the same rounds, scripts (beside the empty one, in a directory with no
 * deno.json) that do the least any Deno program must do to run `true`, the way nsjoin runs it:
 * - "floor: execve": `Deno.dlopen` of libc's execve (one symbol, as nsjoin's first dlopen binds
 *   its few) and execve(2) of /usr/bin/true with this argv and no environment: `enter` becomes
 *   the helper with execve (src/cli/enter.ts, ffi/exec.ts), and the helper, with no pid
 *   namespace joined (this target's), becomes the program without forking — no child, no wait.
 * - "floor: posix_spawn": `Deno.dlopen` of posix_spawn and waitpid, posix_spawn(3) of
 *   /usr/bin/true, waitpid, exit: what the library's `NsCommand#output()` does (ffi/spawn.ts),
 *   and the shape of `exec docker:NAME`, whose helper forks the program into the container's
 *   pid namespace and waits for it.
 * Each row is printed as a ratio to the empty run and to both floors: what nsjoin itself adds is
 * the distance to the floor of its shape, what Deno cannot avoid is the floor's to the empty run.
 * Needs root (a target made with unshare) and docker (bash tests/setup.sh); makes its
 * container and removes it.
 *
 *   deno run -A bench/cli_startup_bench.ts [iterations] [BASE]
 */
import { ensureImages, podmanUser, removeContainers, startContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 40);
const base = Deno.args[1];
const deno = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function run(args: string[]): Promise<void> {
  const o = await new Deno.Command(deno, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
}

const owner = podmanUser();
if (!owner) throw new Error("run tests/setup.sh first");
await ensureImages(owner);
const target = new Deno.Command("unshare", {
  args: ["-n", "-u", "-i", "--fork", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());
const container = await startContainer("docker", `nsjbench-${crypto.randomUUID().slice(0, 8)}`);
const dir = await Deno.makeTempDir({ prefix: "nsjoin-cli-startup-" });
const empty = `${dir}/empty.ts`;
const TRUE = "/usr/bin/true";
/** C string pointers: `const path = cstr("…")` and an argv array of them, for the floors. */
const CSTR = `const cstr = (s) => new TextEncoder().encode(s + "\\0");
const ptr = (b) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
const path = cstr(${JSON.stringify(TRUE)});
const argv = new BigUint64Array([ptr(path), 0n]);
const envp = new BigUint64Array(1);`;
const FLOORS = {
  "floor: execve": `${CSTR}
const libc = Deno.dlopen("libc.so.6", {
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
});
libc.symbols.execve(path, argv, envp);
Deno.exit(125);`,
  "floor: posix_spawn": `${CSTR}
const libc = Deno.dlopen("libc.so.6", {
  posix_spawn: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
});
const pid = new Int32Array(1);
if (libc.symbols.posix_spawn(pid, path, null, null, argv, envp) !== 0) Deno.exit(125);
const status = new Int32Array(1);
if (libc.symbols.waitpid(pid[0], status, 0) !== pid[0] || status[0] !== 0) Deno.exit(125);`,
};
try {
  await Deno.writeTextFile(empty, "");
  const runs: Record<string, string[]> = { "deno run empty.ts": ["run", "-A", empty] };
  for (const [name, text] of Object.entries(FLOORS)) {
    const path = `${dir}/${name.slice(7)}.ts`;
    await Deno.writeTextFile(path, text);
    runs[name] = ["run", "-A", path];
  }
  for (const [label, root] of [["", ROOT], ["base ", base]] as const) {
    if (!root) continue;
    const cli = `${root.replace(/\/?$/, "/")}cli.ts`;
    runs[`${label}enter -t PID -a true`] = [
      "run",
      "-A",
      cli,
      "enter",
      "-t",
      `${pid}`,
      "-a",
      "true",
    ];
    runs[`${label}exec docker:NAME true`] = [
      "run",
      "-A",
      cli,
      "exec",
      `docker:${container.name}`,
      "true",
    ];
  }
  // Twice each first: Deno's code cache, and the page cache, are then what a user's is.
  for (const args of Object.values(runs)) for (let i = 0; i < 2; i++) await run(args);
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(runs).map((k) => [k, []]));
  for (let i = 0; i < N; i++) {
    const order = Object.entries(runs).map((r) => [Math.random(), r] as const)
      .sort((a, b) => a[0] - b[0]).map(([, r]) => r);
    for (const [name, args] of order) {
      const c0 = childrenCpu();
      const t0 = performance.now();
      await run(args);
      wall[name].push(performance.now() - t0);
      cpu[name].push(childrenCpu() - c0);
    }
  }
  console.log(
    `deno run, whole process, ${N} interleaved iterations (load average ${
      Deno.loadavg()[0].toFixed(1)
    }); ratios: x an empty deno run (goal: enter <= 1.2, exec <= 1.35) / x floor: execve / ` +
      `x floor: posix_spawn`,
  );
  for (const [what, t] of [["wall", wall], ["CPU", cpu]] as const) {
    const m = (name: string) => median(t[name]);
    console.log(`  ${what}:`);
    for (const name of Object.keys(runs)) {
      const ratios = ["deno run empty.ts", "floor: execve", "floor: posix_spawn"]
        .map((to) => `${(m(name) / m(to)).toFixed(2)}x`).join(" / ");
      console.log(`    ${name.padEnd(28)} ${m(name).toFixed(1).padStart(6)} ms  ${ratios}`);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
  await removeContainers([container]);
  // unshare first: util-linux 2.38's unshare, seeing its child die of SIGKILL, tries to
  // reset SIGKILL's handler (EINVAL) and prints "sigprocmask unblock failed" (its bug).
  Deno.kill(target.pid, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await target.status;
}
