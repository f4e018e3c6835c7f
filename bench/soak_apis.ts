/**
 * Soak of the library's APIs in one long-running process, as a monitoring daemon or a CI
 * runner uses them: each API called N times against a root-owned and a user-namespace
 * target (made here with unshare, killed after), then the caller checked against its state
 * after a warm-up: fds, threads, zombie children, processes left inside the target; and the
 * latency of the first calls against the last, as a ratio to a `Deno.Command` of `true`
 * interleaved as the anchor (so load from elsewhere cancels out). Also: targets that exit
 * between `inNamespaces` calls, and `kill("SIGKILL")` of killTree spawns. Exits 1 if a
 * count grew. Needs root.
 *
 *   deno run -A --v8-flags=--expose-gc bench/soak_apis.ts [calls=2000]
 */
import { inNamespaces, NsCommand, openSession, scopedJoin } from "../mod.ts";

const N = Number(Deno.args[0] ?? 2000);

interface Counts {
  fds: number;
  threads: number;
  zombies: number;
}

function counts(): Counts {
  (globalThis as { gc?: () => void }).gc?.();
  let zombies = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (f[0] === "Z" && Number(f[1]) === Deno.pid) zombies++;
    } catch {
      // Gone meanwhile.
    }
  }
  return {
    fds: [...Deno.readDirSync("/proc/self/fd")].length,
    threads: [...Deno.readDirSync("/proc/self/task")].length,
    zombies,
  };
}

/** Live processes (not zombies) in the target's pid namespace besides its init. */
function leftInside(init: number): number {
  const ns = Deno.readLinkSync(`/proc/${init}/ns/pid`);
  let n = 0;
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name) || Number(e.name) === init) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (stat[stat.lastIndexOf(")") + 2] === "Z") continue;
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
    stderr: "null",
  }).spawn();
  const reader = outer.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  outer.stdout.cancel().catch(() => {});
  const kids = Deno.readTextFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`).trim();
  const pid = Number(kids.split(" ")[0]);
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

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const anchor = () => new Deno.Command("true").output();

interface Row {
  api: string;
  calls: number;
  fds: string;
  threads: string;
  zombies: number;
  left: number;
  ratio: string;
  bad: boolean;
}

const rows: Row[] = [];

/** Calls `fn` N times (each followed by the anchor), after 20 warm-up calls. */
async function soak(api: string, init: number, fn: (i: number) => Promise<unknown> | unknown) {
  // The anchor too: Deno makes two sockets of its own at its first Deno.Command.
  for (let i = 0; i < 20; i++) {
    await fn(i);
    await anchor();
  }
  await sleep(300);
  const before = counts();
  const ratios: number[] = [];
  const window = Math.max(1, Math.floor(N / 10));
  let a: number[] = [], b: number[] = [];
  for (let i = 0; i < N; i++) {
    let t = performance.now();
    await fn(i);
    a.push(performance.now() - t);
    t = performance.now();
    await anchor();
    b.push(performance.now() - t);
    if (a.length === window) {
      ratios.push(median(a) / median(b));
      a = [];
      b = [];
    }
  }
  // Threads of a terminated Worker and Deno's idle pool threads end a moment later.
  await sleep(1000);
  const after = counts();
  const left = leftInside(init);
  const row: Row = {
    api,
    calls: N,
    fds: `${before.fds}→${after.fds}`,
    threads: `${before.threads}→${after.threads}`,
    zombies: after.zombies,
    left,
    ratio: ratios.map((r) => r.toFixed(2)).join(" "),
    bad: after.fds > before.fds || after.zombies > 0 || left > 0,
  };
  rows.push(row);
  console.error(JSON.stringify(row));
}

const decoder = new TextDecoder();
const targets = [
  ["root-owned", await makeTarget(["-m", "-u", "-i", "-n", "-p", "-C", "--fork", "--mount-proc"])],
  [
    "user namespace",
    await makeTarget(["-U", "-r", "-m", "-u", "-i", "-n", "-p", "--fork", "--mount-proc"]),
  ],
] as const;
try {
  for (const [name, t] of targets) {
    const check = (text: string) => {
      if (text !== "soak\n") throw new Error(`wrong output: ${JSON.stringify(text)}`);
    };
    await soak(`${name}: output()`, t.pid, async () => {
      check(decoder.decode((await new NsCommand("hostname", { target: t.pid }).output()).stdout));
    });
    await soak(`${name}: outputSync()`, t.pid, () => {
      check(decoder.decode(new NsCommand("hostname", { target: t.pid }).outputSync().stdout));
    });
    await soak(`${name}: spawn() + stdout + status`, t.pid, async () => {
      const child = new NsCommand("hostname", { target: t.pid, stdout: "piped" }).spawn();
      let text = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) text += chunk;
      await child.status;
      check(text);
    });
    await soak(`${name}: killTree spawn(), aborted or SIGKILLed`, t.pid, async (i) => {
      const controller = new AbortController();
      try {
        const child = new NsCommand("sh", {
          target: t.pid,
          args: ["-c", "sleep 30 & (sleep 30 &); sleep 30"],
          killTree: true,
          signal: controller.signal,
          stdin: "null",
        }).spawn();
        setTimeout(
          () => i % 2 ? child.kill("SIGKILL") : controller.abort(),
          (i % 7) * 3,
        );
        await child.status;
      } catch {
        // Aborted before the start.
      }
    });
    await using session = await openSession(t.pid);
    await soak(`${name}: session output()`, t.pid, async () => {
      check(decoder.decode((await session.output("hostname")).stdout));
    });
  }
  const [, root] = targets[0];
  await soak("inNamespaces (reused Worker)", root.pid, async () => {
    const h = await inNamespaces(root.pid, () => Deno.hostname(), { namespaces: ["uts", "net"] });
    if (h !== "soak") throw new Error(`wrong hostname: ${h}`);
  });
  await soak("scopedJoin", root.pid, () => {
    using _ = scopedJoin(root.pid, ["net", "uts"]);
    if (Deno.hostname() !== "soak") throw new Error("not joined");
  });
  // A target per call, gone after it: Workers must not pile up.
  const exiting = Math.min(N, 200);
  const before = counts();
  for (let i = 0; i < exiting; i++) {
    const t = await makeTarget(["-u", "--fork"]);
    await inNamespaces(t.pid, () => Deno.hostname(), { namespaces: ["uts"] });
    await t.kill();
  }
  // Counted at once: the idle timeout (5 s) would end them all. The last target's Worker
  // (and its fds) is still there: no Worker started after it exited.
  const after = counts();
  const row: Row = {
    api: "inNamespaces, a target per call that exits after it",
    calls: exiting,
    fds: `${before.fds}→${after.fds}`,
    threads: `${before.threads}→${after.threads}`,
    zombies: after.zombies,
    left: 0,
    ratio: "-",
    // Without dropping them, every Worker of the last 5 s was still there (~100 threads).
    bad: after.threads > before.threads + 4,
  };
  rows.push(row);
  console.error(JSON.stringify(row));
} finally {
  for (const [, t] of targets) await t.kill();
}

console.log(
  "| API | calls | fds | threads | zombies | left inside | latency ÷ Deno.Command, per tenth |",
);
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.api} | ${r.calls} | ${r.fds} | ${r.threads} | ${r.zombies} | ${r.left} | ${r.ratio} |`,
  );
}
const bad = rows.filter((r) => r.bad);
if (bad.length) {
  console.error(`grew: ${bad.map((r) => r.api).join(", ")}`);
  Deno.exit(1);
}
