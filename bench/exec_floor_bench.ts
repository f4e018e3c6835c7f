/**
 * The floor of issue 12's last goal, `cli.ts exec docker:NAME true` ≤ 1.35× an empty
 * `deno run`: a script that does only what no exec of a docker container can leave out —
 * Deno's start, one tiny module (this script) importing the helper's bytes, one dlopen,
 * the helper written to a sealed memfd and execveat(2) with a plan worked out beforehand —
 * and the helper doing all it does for the real exec: pin and check the target, copy and
 * install its seccomp filter (ptrace), capabilities, no_new_privs, LSM label, rlimits,
 * oom_score_adj, umask, cgroups, user, groups and environment, join, fork into its pid
 * namespace, run `true` and wait. The plan is the real one: the helper's argv and
 * environment of a run of `cli.ts exec docker:NAME true`, read with strace before the
 * rounds. What the floor leaves out is what nsjoin reads and checks in JavaScript to make
 * that plan (engine state, pin, root-made cgroups, user, environment): the distance from the
 * floor to the exec row is that work and its code's loading.
 *
 * A second floor leaves out the seccomp copy (the plan without option `z`): the price of
 * copying and installing the container's filter. A third reads dockerd's state files first,
 * the one part of the plan that would stay in JavaScript were every check in the helper.
 * Then a C probe (cc) times seccomp(2) itself: the container's filter, read with ptrace as
 * the helper reads it, against the same instructions with the first one made
 * `ret ALLOW` — the same length to copy, check and JIT-compile, but a program the kernel's
 * action cache (kernel/seccomp.c seccomp_cache_prepare, run at every attach: it emulates the
 * filter for each syscall number of each arch, to find those it allows whatever their
 * arguments) leaves at its first instruction. Whole processes, interleaved in a new order each round, wall and
 * CPU time of each run's process tree (bench/_cpu.ts). With BASE, another checkout's cli.ts
 * runs in the same rounds. Needs root, docker and strace (bash tests/setup.sh); makes its
 * container and removes it.
 *
 *   deno run -A bench/exec_floor_bench.ts [iterations] [BASE]
 */
import { ensureImages, podmanUser, removeContainers, startContainer } from "../tests/_engines.ts";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 40);
const base = Deno.args[1];
const deno = Deno.execPath();
const ROOT = new URL("..", import.meta.url).pathname;

/** The q-quantile of `xs` (0.5: the median). */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) * q)];
}

async function run(args: string[]): Promise<void> {
  const o = await new Deno.Command(deno, { args, stdin: "null", stdout: "null", stderr: "piped" })
    .output();
  if (!o.success) throw new Error(`deno ${args.join(" ")}: ${new TextDecoder().decode(o.stderr)}`);
}

/**
 * The helper's argv and environment in a run of `cli.ts exec TARGET true` by its full path
 * (the checks in JavaScript, as in stop 21), by strace: `--env-file` of an empty file adds
 * nothing, and exec's fast path (src/cli/_exec_fast.ts) leaves that option to the full path.
 */
async function helperPlan(
  target: string,
  emptyEnvFile: string,
): Promise<{ argv: string[]; env: string[] }> {
  const o = await new Deno.Command("strace", {
    args: ["-f", "-qq", "-e", "trace=execve", "-s", "4096", "-v", "--", deno, "run", "-A"]
      .concat([`${ROOT}cli.ts`, "exec", "--env-file", emptyEnvFile, target, "true"]),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stderr);
  // `execve("/proc/self/fd/N", ["nsjoin-helper", …], [env…]) = 0`: plain ASCII, no quotes or
  // backslashes in any string here, so strace's quoting is JSON's.
  const m = text.match(/execve\("[^"]*", (\["nsjoin-helper".*?\]), (\[.*?\])\) = 0/);
  if (!o.success || !m) throw new Error(`Cannot read the helper's plan:\n${text}`);
  return { argv: JSON.parse(m[1]), env: JSON.parse(m[2]) };
}

/**
 * The floor script: the helper's bytes, a sealed memfd, execveat with `argv` and `env`;
 * `first`, code that runs before (it exits 125 if its check fails).
 */
function floorScript(argv: readonly string[], env: readonly string[], first = ""): string {
  const helperModule = `${ROOT}src/cli/_bundle/cli/_helper_${Deno.build.arch}.js`;
  // x86_64 numbers: memfd_create 319, write 1, fcntl 72, execveat 322.
  return `${first}const { HELPER } = await import(${JSON.stringify(helperModule)});
const { syscall } = Deno.dlopen("libc.so.6", {
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: { struct: ["i64"] } },
}).symbols;
const sc = (n, a = 0n, b = 0n, c = 0n, d = 0n, e = 0n) => {
  const r = syscall(n, a, b, c, d, e, 0n);
  return new BigInt64Array(r.buffer, r.byteOffset, 1)[0];
};
const addr = (b) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
const strings = ${JSON.stringify(["nsjoin-helper", ...argv, ...env])};
let size = 0;
for (const s of strings) size += s.length + 1;
const block = new Uint8Array(size + 1);
const at = [];
let o = 0;
for (const s of strings) {
  at.push(o);
  for (let i = 0; i < s.length; i++) block[o++] = s.charCodeAt(i);
  block[o++] = 0;
}
const base = addr(block);
const pointers = (from, n) => {
  const a = new BigUint64Array(n + 1);
  for (let i = 0; i < n; i++) a[i] = base + BigInt(at[from + i]);
  return a;
};
const argv = pointers(1, ${argv.length});
const envp = pointers(${1 + argv.length}, ${env.length});
const bytes = Uint8Array.fromBase64(HELPER);
const fd = sc(319n, base, 0x13n);
sc(1n, fd, addr(bytes), BigInt(bytes.length));
sc(72n, fd, 1033n, 0x2fn);
sc(322n, fd, base + BigInt(size), addr(argv), addr(envp), 0x1000n);
Deno.exit(125);
`;
}

/**
 * The probe: reads filter 0 of PID (PTRACE_SEIZE, PTRACE_INTERRUPT, PTRACE_SECCOMP_GET_FILTER,
 * detach: what ffi/helper.c ptrace_filters does), then in ROUNDS pairs of fresh children
 * installs it (no_new_privs set first) or its at-once twin, and prints each call's thread
 * CPU time.
 */
const SECCOMP_PROBE = `#define _GNU_SOURCE
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static struct sock_filter real[32768], once[32768];
static double cpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
int main(int argc, char **argv) {
  int pid = atoi(argv[1]), rounds = atoi(argv[2]), status;
  if (ptrace(PTRACE_SEIZE, pid, 0, 0) || ptrace(PTRACE_INTERRUPT, pid, 0, 0)) return 1;
  waitpid(pid, &status, __WALL);
  long n = ptrace(PTRACE_SECCOMP_GET_FILTER, pid, 0, real);
  ptrace(PTRACE_DETACH, pid, 0, 0);
  if (n <= 0) return 1;
  printf("insns %ld\\n", n);
  for (long i = 0; i < n; i++) once[i] = real[i];
  once[0] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  for (int r = 0; r < 2 * rounds; r++) {
    fflush(stdout);
    if (fork() == 0) {
      struct sock_fprog prog = {(unsigned short)n, r % 2 ? once : real};
      prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
      double t0 = cpu();
      if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) _exit(1);
      printf("%s %.4f\\n", r % 2 ? "at-once" : "filter", cpu() - t0);
      fflush(stdout);
      _exit(0);
    }
    wait(&status);
    if (status != 0) return 1;
  }
  return 0;
}
`;

if (Deno.build.arch !== "x86_64") throw new Error("the floor script has x86_64's syscall numbers");
const owner = podmanUser();
if (!owner) throw new Error("run tests/setup.sh first");
await ensureImages(owner);
const container = await startContainer("docker", `nsjfloor-${crypto.randomUUID().slice(0, 8)}`);
const dir = await Deno.makeTempDir({ prefix: "nsjoin-exec-floor-" });
try {
  const target = `docker:${container.name}`;
  await Deno.writeTextFile(`${dir}/empty.env`, "");
  const { argv, env } = await helperPlan(target, `${dir}/empty.env`);
  // The confinement letters read from the target (option i): without z, no seccomp copy.
  const noSeccomp = argv.map((a) => a.startsWith("i") ? a.replace("z", "") : a);
  if (noSeccomp.join() === argv.join()) throw new Error("the plan copies no seccomp filter");
  await Deno.writeTextFile(`${dir}/empty.ts`, "");
  await Deno.writeTextFile(`${dir}/floor.ts`, floorScript(argv, env));
  await Deno.writeTextFile(`${dir}/floor_noseccomp.ts`, floorScript(noSeccomp, env));
  // The one part of the plan a fast path would still have to make in JavaScript were every
  // check in the helper: the container from dockerd's state files, found by name as
  // src/engines.ts _dockerStateFind does (each config.v2.json parsed; running, a PID).
  const stateRead = `const dir = "/var/lib/docker/containers";
const found = [...Deno.readDirSync(dir)].map((e) => e.name).filter((id) => /^[0-9a-f]{64}$/.test(id))
  .map((id) => {
    // Others' containers come and go meanwhile: a file gone is no match, as there.
    try {
      return JSON.parse(Deno.readTextFileSync(\`\${dir}/\${id}/config.v2.json\`));
    } catch {
      return undefined;
    }
  }).filter((j) => j?.Name === ${JSON.stringify(`/${container.name}`)});
if (found.length !== 1 || !found[0].State?.Running || !(found[0].State.Pid > 0)) Deno.exit(125);
`;
  await Deno.writeTextFile(`${dir}/floor_state.ts`, floorScript(argv, env, stateRead));
  const runs: Record<string, string[]> = {
    "deno run empty.ts": ["run", "-A", `${dir}/empty.ts`],
    "floor: exec plan": ["run", "-A", `${dir}/floor.ts`],
    "floor, no seccomp copy": ["run", "-A", `${dir}/floor_noseccomp.ts`],
    "floor + docker state read": ["run", "-A", `${dir}/floor_state.ts`],
    "exec docker:NAME true": ["run", "-A", `${ROOT}cli.ts`, "exec", target, "true"],
  };
  if (base) {
    runs["base exec docker:NAME true"] = [
      "run",
      "-A",
      `${base.replace(/\/?$/, "/")}cli.ts`,
      "exec",
      target,
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
    }); ms min / p25 / median, and the median's ratio to an empty deno run (goal: exec <= 1.35)`,
  );
  for (const [what, t] of [["wall", wall], ["CPU", cpu]] as const) {
    console.log(`  ${what}:`);
    const empty = quantile(t["deno run empty.ts"], 0.5);
    for (const name of Object.keys(runs)) {
      const q = [0, 0.25, 0.5].map((p) => quantile(t[name], p).toFixed(1)).join(" / ");
      const ratio = (quantile(t[name], 0.5) / empty).toFixed(2);
      console.log(`    ${name.padEnd(28)} ${q.padStart(18)} ms  ${ratio}x`);
    }
  }
  await seccompProbe(container.pid);
} finally {
  await Deno.remove(dir, { recursive: true });
  await removeContainers([container]);
}

/** Times seccomp(2) of `pid`'s filter, and of the same filter returning at once (above). */
async function seccompProbe(pid: number): Promise<void> {
  const source = `${dir}/seccomp_probe.c`;
  const binary = `${dir}/seccomp_probe`;
  await Deno.writeTextFile(source, SECCOMP_PROBE);
  const cc = await new Deno.Command("cc", { args: ["-O2", "-o", binary, source] }).output();
  if (!cc.success) throw new Error(`cc: ${new TextDecoder().decode(cc.stderr)}`);
  const o = await new Deno.Command(binary, { args: [String(pid), "40"] }).output();
  if (!o.success) throw new Error(`seccomp probe: ${new TextDecoder().decode(o.stderr)}`);
  const rows = new TextDecoder().decode(o.stdout).trim().split("\n").map((l) => l.split(" "));
  console.log(
    `seccomp(2) of the container's filter (${rows[0][1]} instructions), CPU ms ` +
      `min / p25 / median of ${(rows.length - 1) / 2} fresh processes each, alternating:`,
  );
  for (const kind of ["filter", "at-once"]) {
    const t = rows.filter((r) => r[0] === kind).map((r) => Number(r[1]));
    const q = [0, 0.25, 0.5].map((p) => quantile(t, p).toFixed(3)).join(" / ");
    console.log(
      `    ${kind === "filter" ? "as the container has it" : "first instruction ret ALLOW"}`
        .padEnd(34) + q,
    );
  }
}
