/**
 * NsCommand's `cgroups` on real cgroups made for the test: a v1 hierarchy joined through
 * its `tasks` file, the v2 directory by birth (the helper's clone3 CLONE_INTO_CGROUP) when
 * it forks and through cgroup.procs when it does not — and a v2 cgroup that cannot take a
 * process refuses the program on every path instead of running it outside.
 */
import { NsCommand } from "../mod.ts";
import { cgroupProcsOf } from "../src/container_exec.ts";
import { assert, assertEquals, assertMatch, makeTarget, NEEDS_ROOT, text } from "./_fixtures.ts";

/** Where the v2 hierarchy is mounted (hybrid: .../unified), and a v1 one (pids) if any. */
function mounts(): { v2: string; v1?: string } {
  let v2 = "", v1: string | undefined;
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [left, right] = line.split(" - ");
    const f = left?.split(" ") ?? [];
    if (right?.startsWith("cgroup2 ") && f[3] === "/") v2 ||= f[4];
    if (right?.startsWith("cgroup ") && right.split(" ")[2].split(",").includes("pids")) {
      v1 ??= f[4];
    }
  }
  return { v2, v1 };
}

/** A fresh cgroup under `mount`, removed (once its processes are reaped) after `fn`. */
async function withCgroup(
  mount: string,
  fn: (path: string, dir: string) => Promise<void>,
  setup: (dir: string) => string = (d) => d,
): Promise<void> {
  const top = `${mount}/nsjcg-${crypto.randomUUID().slice(0, 8)}`;
  Deno.mkdirSync(top);
  const dir = setup(top);
  try {
    await fn(dir.slice(mount.length), dir);
  } finally {
    const dirs = [...Deno.readDirSync(top)].filter((e) => e.isDirectory).map((e) =>
      `${top}/${e.name}`
    );
    for (const d of [...dirs, top]) {
      for (let i = 0; i < 100; i++) {
        try {
          Deno.removeSync(d);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  }
}

/** The cgroup of `hierarchy` ("" for v2, else a v1 controller) in a /proc/PID/cgroup text. */
const cgroupIn = (t: string, hierarchy: string) =>
  t.split("\n").find((l) => l.split(":")[1] === hierarchy)?.split(":")[2];

Deno.test({
  name: "cgroups: the program is in the v2 directory and the v1 tasks' cgroup, forked or not",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const { v2, v1 } = mounts();
    await using target = await makeTarget();
    await withCgroup(v2, (path2, dir2) =>
      withCgroup(v1 ?? v2, async (path1, dir1) => {
        const cgroups = v1 ? [dir2, `${dir1}/tasks`] : [dir2];
        const check = (out: string) => {
          assertEquals(cgroupIn(out, ""), path2, out);
          if (v1) assertEquals(cgroupIn(out, "pids"), path1, out);
        };
        await t.step(
          "into its pid namespace: born there, the waiting helper stays out",
          async () => {
            const child = new NsCommand("sh", {
              target: target.pid,
              namespaces: ["pid"],
              cgroups,
              args: ["-c", "cat /proc/self/cgroup; read x || true"],
              stdin: "piped",
              stdout: "piped",
            }).spawn();
            const reader = child.stdout.getReader();
            let out = "";
            while (!out.endsWith("\n") || out.split("\n").length < 3) {
              const { value, done } = await reader.read();
              if (done) break;
              out += text(value);
            }
            // The process Deno waits on supervises and never enters: clone3 made the program's
            // parent in the cgroup (a write of cgroup.procs would have moved the helper itself).
            const helper = Deno.readTextFileSync(`/proc/${child.pid}/cgroup`);
            assert(cgroupIn(helper, "") !== path2, `the helper is in the cgroup: ${helper}`);
            await child.stdin.close();
            reader.releaseLock();
            await child.stdout.cancel();
            assertEquals((await child.status).code, 0);
            check(out);
          },
        );
        for (
          const [what, extra] of [
            ["no fork (net only): cgroup.procs", { namespaces: ["net"] }],
            ["no fork (fork: false)", { namespaces: ["pid"], fork: false }],
            ["a process tree of its own (fork, no pid namespace)", {
              namespaces: ["net"],
              killTree: true,
            }],
            ["a pseudo-terminal (a relay process first)", { namespaces: ["pid"], tty: true }],
          ] as const
        ) {
          await t.step(what, async () => {
            const out = await new NsCommand("cat", {
              target: target.pid,
              cgroups,
              args: ["/proc/self/cgroup"],
              ...extra,
            }).output();
            assertEquals(out.code, 0, text(out.stderr));
            check(text(out.stdout).replaceAll("\r", ""));
          });
        }
      }));
  },
});

Deno.test({
  name: "cgroups: a v2 cgroup that cannot take the program refuses it on every path",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const { v2 } = mounts();
    await using target = await makeTarget();
    // A new child of a "domain threaded" cgroup is "domain invalid": the kernel refuses
    // processes in it (EOPNOTSUPP) to clone3 and to cgroup.procs alike. A container root with
    // a writable cgroupfs can do this to its own cgroup.
    const invalid = (top: string) => {
      Deno.mkdirSync(`${top}/t`);
      Deno.writeTextFileSync(`${top}/t/cgroup.type`, "threaded");
      Deno.mkdirSync(`${top}/d`);
      assertEquals(Deno.readTextFileSync(`${top}/d/cgroup.type`).trim(), "domain invalid");
      return `${top}/d`;
    };
    await withCgroup(v2, async (_path, dir) => {
      const marker = await Deno.makeTempDir({ prefix: "nsjoin-cg-" });
      try {
        for (
          const [what, extra] of [
            ["forked (clone3 refused, then cgroup.procs)", { namespaces: ["pid"] }],
            ["not forked (cgroup.procs)", { namespaces: ["net"] }],
          ] as const
        ) {
          await t.step(what, async () => {
            const out = await new NsCommand("/bin/touch", {
              target: target.pid,
              cgroups: [dir],
              args: [`${marker}/${extra.namespaces[0]}`],
              ...extra,
            }).output();
            assertEquals(out.code, 125, text(out.stderr));
            assertMatch(text(out.stderr), /Cannot join cgroup .*\/d\/cgroup\.procs: EOPNOTSUPP/);
            assertEquals(out.setupError?.code, "EOPNOTSUPP");
            assertEquals([...Deno.readDirSync(marker)], [], "the program ran");
          });
        }
      } finally {
        await Deno.remove(marker, { recursive: true });
      }
    }, invalid);
  },
});

Deno.test({
  name:
    "cgroups: signals reach the program born in the v2 cgroup, its death comes back, killOnExit holds",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const { v2 } = mounts();
    await using target = await makeTarget();
    const members = (dir: string) =>
      Deno.readTextFileSync(`${dir}/cgroup.procs`).trim().split("\n").filter(Boolean).map(Number);
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 250 && !ok(); i++) await new Promise((r) => setTimeout(r, 20));
      assert(ok(), what);
    };
    await withCgroup(v2, async (_path, dir) => {
      const spawn = (killOnExit: boolean) =>
        new NsCommand("sleep", {
          target: target.pid,
          namespaces: ["pid"],
          cgroups: [dir],
          args: ["1000"],
          killOnExit,
        }).spawn();
      await t.step("SIGTERM to the helper ends the program, and the status says so", async () => {
        const child = spawn(false);
        // The process born in the cgroup and the program.
        await until("both in the cgroup", () => members(dir).length === 2);
        child.kill("SIGTERM");
        assertEquals((await child.status).signal, "SIGTERM");
        await until("the cgroup empties", () => members(dir).length === 0);
      });
      await t.step("killOnExit: SIGKILL of the helper takes both with it", async () => {
        const child = spawn(true);
        await until("both in the cgroup", () => members(dir).length === 2);
        child.kill("SIGKILL");
        await child.status;
        await until("the cgroup empties", () => members(dir).length === 0);
      });
    });
  },
});

// ---- review 5: a v2 cgroup's name
Deno.test({
  name: "cgroups: a v2 cgroup a container named `tasks` is still its directory (no refused exec)",
  ignore: NEEDS_ROOT,
  async fn() {
    const { v2 } = mounts();
    await using target = await makeTarget();
    // A container root with a writable cgroupfs (a delegated subtree) names its cgroups: v2
    // has no `tasks` file, so a cgroup may be called that, and its init moved into it.
    await withCgroup(v2, async (path, dir) => {
      Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(target.pid));
      try {
        const cgroups = cgroupProcsOf(target.pid);
        assert(cgroups.includes(`${dir}/`), JSON.stringify(cgroups));
        for (const namespaces of [["pid"], ["net"]] as const) {
          const out = await new NsCommand("cat", {
            target: target.pid,
            namespaces,
            cgroups,
            args: ["/proc/self/cgroup"],
          }).output();
          assertEquals(out.code, 0, text(out.stderr));
          assertEquals(cgroupIn(text(out.stdout), ""), path);
        }
      } finally {
        // Back where it was, so that the cgroup can be removed.
        const root = v2.replace(/\/$/, "");
        Deno.writeTextFileSync(`${root}/cgroup.procs`, String(target.pid));
      }
    }, (top) => {
      Deno.mkdirSync(`${top}/tasks`);
      return `${top}/tasks`;
    });
  },
});
