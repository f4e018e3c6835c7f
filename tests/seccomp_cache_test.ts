/**
 * The seccomp filters kept between execs of the same target (ffi/seccomp.ts filterCopy,
 * helper options Z and x): a kept copy is used while the target has as many filters, and
 * a target that adds a filter gets exactly its new stack, never the smaller copy — also
 * when it adds it after the exec was planned. A real process installs the filters (a small
 * C program, root's: no no_new_privs needed), and ptrace shows which way the helper read
 * them: while another tracer holds the target, ptrace is refused, so only a kept copy can
 * serve.
 */
import { seccompFilters } from "../ffi/seccomp.ts";
import { buildFilters } from "./_filters.ts";
import { NsCommand } from "../src/command.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  CI,
  cli,
  IS_ROOT,
  runPiped,
  text,
} from "./_fixtures.ts";

const field = (status: string, name: string) =>
  status.match(new RegExp(`^${name}:\\s+(\\d+)`, "m"))?.[1];

async function until(what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test({
  name: "kept seccomp filters: used while the target has as many, never fewer than it has",
  ignore: !IS_ROOT && !CI,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-filters-" });
    const target = { pid: 0 };
    let child: Deno.ChildProcess | undefined;
    try {
      child = new Deno.Command(await buildFilters(dir), { stdin: "null" }).spawn();
      target.pid = child.pid;
      const status = () => Deno.readTextFileSync(`/proc/${target.pid}/status`);
      const filters = () => field(status(), "Seccomp_filters");
      await until("the first filter", () => filters() === "1");
      const command = () =>
        new NsCommand("cat", {
          target: target.pid,
          namespaces: [],
          seccomp: "target",
          args: ["/proc/self/status"],
        });
      const exec = async () => {
        const o = await command().output();
        const s = text(o.stdout);
        return { code: o.code, filters: field(s, "Seccomp_filters"), stderr: text(o.stderr) };
      };
      const traced = async (on: boolean) => {
        if (on) {
          Deno.kill(target.pid, "SIGUSR2");
          await until("a tracer", () => field(status(), "TracerPid") !== "0");
        } else {
          // The tracer is the target's child, started by this test: ended by its PID.
          Deno.kill(Number(field(status(), "TracerPid")), "SIGKILL");
          await until("no tracer", () => field(status(), "TracerPid") === "0");
        }
      };
      const ptraceRefused = /^nsjoin: Cannot copy the seccomp filter of pid \d+: ptrace/;

      await t.step("the first exec reads them with ptrace and keeps a copy", async () => {
        assertEquals(await exec(), { code: 0, filters: "1", stderr: "" });
      });
      const before = seccompFilters(target.pid);
      assertEquals(before.length, 1);

      await t.step("the next exec uses the copy: no ptrace needed", async () => {
        await traced(true);
        try {
          assertEquals(await exec(), { code: 0, filters: "1", stderr: "" });
          // The program's own filters, byte for byte the target's.
          const sleeper = new NsCommand("sleep", {
            target: target.pid,
            namespaces: [],
            seccomp: "target",
            args: ["100"],
          }).spawn();
          try {
            await until("sleep", () => {
              try {
                return Deno.readTextFileSync(`/proc/${sleeper.pid}/comm`) === "sleep\n";
              } catch {
                return false;
              }
            });
            assertEquals(seccompFilters(sleeper.pid), before);
          } finally {
            sleeper.kill("SIGKILL");
            await sleeper.status;
          }
        } finally {
          await traced(false);
        }
      });

      await t.step("a filter added after the copy: the program gets it too", async () => {
        Deno.kill(target.pid, "SIGUSR1");
        await until("the second filter", () => filters() === "2");
        assertEquals(await exec(), { code: 0, filters: "2", stderr: "" });
        // And the copy of two is kept: used while ptrace is refused.
        await traced(true);
        try {
          assertEquals(await exec(), { code: 0, filters: "2", stderr: "" });
        } finally {
          await traced(false);
        }
      });

      await t.step("a filter added after the exec was planned: the helper sees it", async () => {
        const planned = command();
        // Planned now, with two filters (and the copy of two kept); run after a third.
        assert(planned.helperArgs.includes("z"));
        Deno.kill(target.pid, "SIGUSR1");
        await until("the third filter", () => filters() === "3");
        const o = await planned.output();
        assertEquals([o.code, field(text(o.stdout), "Seccomp_filters")], [0, "3"]);
      });

      await t.step("execs at the same time share the copy (one tracer at a time)", async () => {
        // Without a copy each helper would seize the target, and all but one be refused.
        assertEquals(await exec(), { code: 0, filters: "3", stderr: "" });
        const all = await Promise.all(Array.from({ length: 8 }, exec));
        assertEquals(all, Array(8).fill({ code: 0, filters: "3", stderr: "" }));
      });

      await t.step(
        "a copy of fewer filters is never used, even when ptrace is refused",
        async () => {
          await traced(true);
          try {
            Deno.kill(target.pid, "SIGUSR1");
            await until("the fourth filter", () => filters() === "4");
            const r = await exec();
            assertEquals([r.code, r.filters], [125, undefined]);
            assertMatch(r.stderr, ptraceRefused);
          } finally {
            await traced(false);
          }
        },
      );
    } finally {
      if (child) {
        // The tracer, if a step left one, dies with its parent's SIGKILL (it is its child:
        // killed first, by PID).
        try {
          const tracer = Number(
            field(Deno.readTextFileSync(`/proc/${child.pid}/status`), "TracerPid"),
          );
          if (tracer > 0) Deno.kill(tracer, "SIGKILL");
        } catch {
          // Gone.
        }
        child.kill("SIGKILL");
        await child.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: whose copy is it
Deno.test({
  name: "kept seccomp filters are one process's: another with as many filters never gets them",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // A copy is kept per pinned process (PID, start time and pidfs inode), not per filter
    // count: a second process with as many filters, exec'd while the first's copy is kept
    // and while ptrace of it is refused (a tracer holds it), must be refused, not given the
    // first's filters.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-filters2-" });
    const program = await buildFilters(dir);
    const children = [0, 1].map(() => new Deno.Command(program, { stdin: "null" }).spawn());
    const status = (pid: number) => Deno.readTextFileSync(`/proc/${pid}/status`);
    const exec = async (pid: number) => {
      const o = await new NsCommand("true", { target: pid, namespaces: [], seccomp: "target" })
        .output();
      return { code: o.code, stderr: text(o.stderr) };
    };
    const [first, second] = children.map((c) => c.pid);
    try {
      for (const pid of [first, second]) {
        await until("a filter", () => field(status(pid), "Seccomp_filters") === "1");
      }
      assertEquals(await exec(first), { code: 0, stderr: "" }); // its copy is kept now
      Deno.kill(second, "SIGUSR2");
      await until("a tracer", () => field(status(second), "TracerPid") !== "0");
      const r = await exec(second);
      assertEquals(r.code, 125);
      // The opt-out named is the library's own (it named exec's --security-opt to every caller).
      assertMatch(
        r.stderr,
        /^nsjoin: Cannot copy the seccomp filter of pid \d+: ptrace[^\n]*opt out \(seccomp: "none"\)\n$/,
      );
      // And the CLI's commands each name their own: debug has no --security-opt.
      const refused = (command: string, opt: string) =>
        new RegExp(
          `^nsjoin ${command}: Cannot copy the seccomp filter of pid ${second}: ptrace[^\\n]*opt out \\(${opt}\\)\\n$`,
        );
      const viaExec = await cli(["exec", String(second), "true"]);
      assertEquals(viaExec.code, 125);
      assertMatch(viaExec.stderr, refused("exec", "exec --security-opt seccomp=unconfined"));
      const viaDebug = await cli(["debug", String(second), "true"]);
      assertEquals(viaDebug.code, 125);
      assertMatch(
        viaDebug.stderr,
        refused("debug", "debug --privileged, which leaves out all of the confinement"),
      );
    } finally {
      for (const c of children) {
        try {
          const tracer = Number(field(status(c.pid), "TracerPid"));
          if (tracer > 0) Deno.kill(tracer, "SIGKILL");
        } catch {
          // Gone.
        }
        c.kill("SIGKILL");
        await c.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a target waiting in vfork() is refused with that reason (state D), not 'is it paused?'",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // Its filter's reading needs it stopped, and a vfork() parent stops only once its child
    // execs or exits: the helper gives up after 2 s, and said "is it paused?" of a target
    // no one paused. The child here never execs.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-vfork-" });
    await Deno.writeTextFile(
      `${dir}/vfork.c`,
      `#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  struct sock_fprog p = {1, f};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) return 3;
  if (vfork() == 0) {
    for (;;) pause();
  }
  return 0;
}
`,
    );
    const cc = await runPiped("gcc", {
      args: ["-O", "-o", `${dir}/vfork`, `${dir}/vfork.c`],
    });
    assertEquals(cc.code, 0, cc.stderr);
    const parent = new Deno.Command(`${dir}/vfork`, { stdin: "null" }).spawn();
    const children = () =>
      Deno.readTextFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`).trim();
    let child = 0;
    try {
      await until("the vfork child", () => children() !== "");
      child = Number(children());
      const state = () => Deno.readTextFileSync(`/proc/${parent.pid}/stat`).split(") ")[1][0];
      await until("state D", () => state() === "D");
      const r = await cli(["exec", String(parent.pid), "echo", "ran"]);
      assertEquals([r.code, r.stdout], [125, ""]);
      assertEquals(
        r.stderr,
        `nsjoin exec: Cannot copy the seccomp filter of pid ${parent.pid}: it did not stop for ` +
          "ptrace within 2 s: it is in an uninterruptible wait (state D), such as a vfork() " +
          "whose child has not exec'd; retry once it ends, or opt out (exec --security-opt " +
          "seccomp=unconfined)\n",
      );
    } finally {
      // Started here, ended by PID: the vfork child outlives its parent.
      if (child) Deno.kill(child, "SIGKILL");
      parent.kill("SIGKILL");
      await parent.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
