/**
 * Soak: many execs into a root-owned target and into a user-namespace target (both made
 * here with unshare, killed after), sequential and 8 at a time, while watching the
 * caller against a baseline taken after a warm-up (1,000 execs into each target): failures,
 * fd count, RSS (after a GC), zombies, whether any of its threads was left inside a target,
 * and processes left inside the target. Exits 1 if any check fails. Needs root.
 *
 *   deno run -A --v8-flags=--expose-gc bench/soak.ts [sequential=10000] [rounds=1000] [width=8]
 */
import { NsCommand } from "../mod.ts";

const SEQUENTIAL = Number(Deno.args[0] ?? 10_000);
const ROUNDS = Number(Deno.args[1] ?? 1_000);
const WIDTH = Number(Deno.args[2] ?? 8);
const WARMUP = 1_000;

interface Sample {
  fds: number;
  rssKiB: number;
}

function sample(): Sample {
  (globalThis as { gc?: () => void }).gc?.();
  const status = Deno.readTextFileSync("/proc/self/status");
  return {
    fds: [...Deno.readDirSync("/proc/self/fd")].length,
    rssKiB: Number(status.match(/^VmRSS:\s+(\d+)/m)![1]),
  };
}

function zombieChildren(): number {
  let n = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z" && Number(f[1]) === Deno.pid) n++;
    } catch {
      // Gone meanwhile.
    }
  }
  return n;
}

/** Threads of this process whose namespaces differ from the process's own. */
function threadsInside(): number {
  let n = 0;
  for (const task of Deno.readDirSync("/proc/self/task")) {
    for (const type of ["net", "uts", "ipc", "mnt", "cgroup", "user", "pid_for_children"]) {
      try {
        if (
          Deno.readLinkSync(`/proc/self/task/${task.name}/ns/${type}`) !==
            Deno.readLinkSync(`/proc/self/ns/${type}`)
        ) n++;
      } catch {
        // The thread ended meanwhile.
      }
    }
  }
  return n;
}

/** Processes inside a target's pid namespace besides its init. */
function leftInside(init: number): number {
  const ns = Deno.readLinkSync(`/proc/${init}/ns/pid`);
  let n = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === init) continue;
    try {
      if (Deno.readLinkSync(`/proc/${e.name}/ns/pid`) === ns) n++;
    } catch {
      // Gone, or not ours to read.
    }
  }
  return n;
}

async function makeTarget(flags: string[]): Promise<{ pid: number; kill(): Promise<void> }> {
  const outer = new Deno.Command("unshare", {
    args: [...flags, "sh", "-c", "hostname soak; echo ready; exec sleep 100000"],
    stdin: "null",
    stdout: "piped",
  }).spawn();
  const reader = outer.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  outer.stdout.cancel().catch(() => {});
  const pid = Number(
    Deno.readTextFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`).trim().split(" ")[0],
  );
  return {
    pid,
    async kill() {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone.
      }
      await outer.status;
    },
  };
}

interface Phase {
  target: string;
  mode: string;
  execs: number;
  failures: number;
  seconds: number;
  perSecond: number;
  fds: [number, number];
  rssKiB: [number, number];
  rssGrowth: string;
  zombies: number;
  threadsInside: number;
  leftInside: number;
}

// spawn() and status with stdio "null", as the CLI runs a program (it inherits stdio).
async function run(pid: number): Promise<boolean> {
  const status = await new NsCommand("true", {
    target: pid,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn().status;
  return status.success;
}

async function phase(
  target: string,
  pid: number,
  mode: "sequential" | "concurrent",
  baseline: Sample,
): Promise<Phase> {
  let failures = 0;
  let execs = 0;
  const t0 = performance.now();
  if (mode === "sequential") {
    for (let i = 0; i < SEQUENTIAL; i++, execs++) if (!(await run(pid))) failures++;
  } else {
    for (let r = 0; r < ROUNDS; r++) {
      const results = await Promise.all(Array.from({ length: WIDTH }, () => run(pid)));
      execs += WIDTH;
      failures += results.filter((ok) => !ok).length;
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  const after = sample();
  const p: Phase = {
    target,
    mode: mode === "sequential" ? `${SEQUENTIAL} sequential` : `${ROUNDS} x ${WIDTH} concurrent`,
    execs,
    failures,
    seconds: Math.round(seconds * 10) / 10,
    perSecond: Math.round(execs / seconds),
    fds: [baseline.fds, after.fds],
    rssKiB: [baseline.rssKiB, after.rssKiB],
    rssGrowth: `${((after.rssKiB / baseline.rssKiB - 1) * 100).toFixed(1)} %`,
    zombies: zombieChildren(),
    threadsInside: threadsInside(),
    leftInside: leftInside(pid),
  };
  console.error(JSON.stringify(p));
  return p;
}

const targets = [
  ["root-owned", await makeTarget(["-m", "-u", "-i", "-n", "-p", "-C", "--fork", "--mount-proc"])],
  [
    "user namespace",
    await makeTarget(["-U", "-r", "-m", "-u", "-i", "-n", "-p", "--fork", "--mount-proc"]),
  ],
] as const;
const phases: Phase[] = [];
try {
  for (const [, t] of targets) for (let i = 0; i < WARMUP; i++) await run(t.pid);
  const baseline = sample();
  for (const [name, t] of targets) {
    phases.push(await phase(name, t.pid, "sequential", baseline));
    phases.push(await phase(name, t.pid, "concurrent", baseline));
  }
} finally {
  for (const [, t] of targets) await t.kill();
}

const bad = phases.filter((p) =>
  p.failures || p.fds[0] !== p.fds[1] || Math.abs(p.rssKiB[1] / p.rssKiB[0] - 1) > 0.05 ||
  p.zombies || p.threadsInside || p.leftInside
);
console.log(
  "| target | execs | failures | time | execs/s | fds baseline→after | RSS KiB baseline→after | zombies | threads inside | left inside |",
);
console.log("|---|---|---|---|---|---|---|---|---|---|");
for (const p of phases) {
  console.log(
    `| ${p.target} | ${p.mode} | ${p.failures} | ${p.seconds} s | ${p.perSecond} | ${p.fds[0]}→${
      p.fds[1]
    } | ${p.rssKiB[0]}→${
      p.rssKiB[1]
    } (${p.rssGrowth}) | ${p.zombies} | ${p.threadsInside} | ${p.leftInside} |`,
  );
}
console.log(bad.length ? `FAILED: ${bad.length} phase(s)` : "ok: every check held");
Deno.exit(bad.length ? 1 : 0);
