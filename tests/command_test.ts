/**
 * The library: NsCommand (shaped like Deno.Command), namespacesOf, sameNamespace,
 * namespaceTypeOfFile — against real namespaces made with unshare.
 */
import {
  NamespaceError,
  namespacesOf,
  namespacesOfSync,
  namespaceTypeOfFile,
  NsCommand,
  openSession,
  pinProcess,
  sameNamespace,
} from "../mod.ts";
import { helper } from "../ffi/helper.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  makeTarget,
  NEEDS_ROOT,
  sh,
  text,
} from "./_fixtures.ts";

Deno.test({
  name: "NsCommand works like Deno.Command: output, outputSync, spawn with pipes",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: "lib-host" });
    await t.step("output() collects stdout, stderr and the code", async () => {
      const out = await new NsCommand("sh", {
        target: target.pid,
        args: ["-c", "hostname; echo err >&2; exit 3"],
      }).output();
      assertEquals([out.code, out.success, text(out.stdout), text(out.stderr)], [
        3,
        false,
        "lib-host\n",
        "err\n",
      ]);
    });
    await t.step("outputSync() from the calling thread", () => {
      const out = new NsCommand("hostname", { target: target.pid }).outputSync();
      assertEquals(text(out.stdout), "lib-host\n");
    });
    await t.step(
      "spawned into the pid namespace or forked there, the program is inside",
      async () => {
        const cmd = new NsCommand("sh", {
          target: target.pid,
          args: ["-c", "echo $$; readlink /proc/self/ns/pid"],
        });
        const want = Deno.readLinkSync(`/proc/${target.pid}/ns/pid`);
        for (const out of [await cmd.output(), cmd.outputSync()]) {
          const [pid, ns] = text(out.stdout).trim().split("\n");
          assert(Number(pid) > 1 && Number(pid) < 100, `pid inside: ${pid}`);
          assertEquals(ns, want);
        }
        // The caller's own pid namespace for children is back to ours afterwards.
        assertEquals(
          Deno.readLinkSync("/proc/thread-self/ns/pid_for_children"),
          Deno.readLinkSync("/proc/thread-self/ns/pid"),
        );
      },
    );
    await t.step("10 MB through stdin and stdout pipes", async () => {
      const data = new Uint8Array(10 * 1024 * 1024);
      for (let i = 0; i < data.length; i += 65536) {
        crypto.getRandomValues(data.subarray(i, i + 65536));
      }
      const child = new NsCommand("cat", { target: target.pid, stdin: "piped", stdout: "piped" })
        .spawn();
      const writing = (async () => {
        const w = child.stdin.getWriter();
        await w.write(data);
        await w.close();
      })();
      const out = await child.output();
      await writing;
      assertEquals(out.code, 0);
      assertEquals(out.stdout.length, data.length);
      const digest = async (b: Uint8Array<ArrayBuffer>) =>
        new Uint8Array(await crypto.subtle.digest("SHA-256", b));
      assertEquals(await digest(out.stdout), await digest(data));
    });
    await t.step(
      "a signal sent to the child reaches the program inside the pid namespace",
      async () => {
        const child = new NsCommand("sh", {
          target: target.pid,
          args: [
            "-c",
            "trap 'echo got-term; exit 9' TERM; echo ready; while :; do sleep 0.05; done",
          ],
          stdout: "piped",
        }).spawn();
        const reader = child.stdout.getReader();
        assertEquals(text((await reader.read()).value!), "ready\n");
        child.kill("SIGTERM");
        const rest = text((await reader.read()).value ?? new Uint8Array());
        reader.releaseLock();
        const status = await child.status;
        assertEquals([rest, status.code], ["got-term\n", 9]);
      },
    );
    await t.step("an AbortSignal kills the program", async () => {
      const ac = new AbortController();
      const child = new NsCommand("sleep", { target: target.pid, args: ["30"], signal: ac.signal })
        .spawn();
      setTimeout(() => ac.abort(), 100);
      const status = await child.status;
      assertEquals(status.success, false);
      assertEquals(status.signal, "SIGTERM");
    });
    await t.step("targetEnv takes /proc/PID/environ, env adds to it", async () => {
      const out = await new NsCommand("sh", {
        target: target.pid,
        targetEnv: true,
        env: { EXTRA: "1" },
        args: ["-c", "echo ${NSJOIN_CALLER_ONLY:-unset} $EXTRA"],
      }).output();
      assertEquals(text(out.stdout), "unset 1\n");
    });
    await t.step("cwd is a directory inside the target", async () => {
      const out = await new NsCommand("pwd", { target: target.pid, cwd: "/proc/1" }).output();
      assertEquals(text(out.stdout), "/proc/1\n");
    });
    await t.step("without cwd: where nsenter starts, not where exec starts", async () => {
      // nsenter keeps the caller's directory unless -w or -r; joining a mount namespace
      // moves it to that namespace's root (setns(2)). exec and containerExecOptions start
      // in the container's WorkingDir, as docker exec: NsCommand is the nsenter of the two.
      const dir = await Deno.makeTempDir();
      const before = Deno.cwd();
      try {
        Deno.chdir(dir);
        for (
          const [namespaces, flags] of [["all", ["-a"]], [["net", "uts"], ["-n", "-u"]]] as const
        ) {
          const anchor = await new Deno.Command("nsenter", {
            args: ["-t", String(target.pid), ...flags, "pwd"],
          }).output();
          const ours = await new NsCommand("pwd", { target: target.pid, namespaces }).output();
          assertEquals(text(ours.stdout), text(anchor.stdout), text(ours.stderr));
          assertEquals(text(ours.stdout), namespaces === "all" ? "/\n" : `${dir}\n`);
        }
      } finally {
        Deno.chdir(before);
        await Deno.remove(dir, { recursive: true });
      }
    });
    await t.step(
      "a host cwd: used when the mount namespace is ours, refused when not",
      async () => {
        const dir = await Deno.makeTempDir();
        try {
          const same = await new NsCommand("pwd", {
            target: target.pid,
            namespaces: ["net"],
            hostCwd: dir,
          })
            .output();
          assertEquals(text(same.stdout), `${dir}\n`, text(same.stderr));
          // A host directory seen from the target's mount namespace lies outside its tree
          // (CVE-2024-21626's shape): refused, and nothing runs.
          const outside = await new NsCommand("touch", {
            target: target.pid,
            hostCwd: dir,
            args: ["ran"],
          })
            .output();
          assertEquals(outside.code, 125);
          assertMatch(text(outside.stderr), /outside the target's root/);
          await assertRejects(() => Deno.stat(`${dir}/ran`), Deno.errors.NotFound);
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
  },
});

Deno.test({
  name: "NsCommand runs nothing when the target exits between resolve and join",
  ignore: NEEDS_ROOT,
  async fn() {
    const target = await makeTarget();
    const cmd = new NsCommand("touch", { target: target.pid, args: ["/tmp/nsjoin-never"] });
    assert(cmd.helperArgs.length > 0); // resolved and pinned by start time
    await target.kill();
    const out = await cmd.output();
    assertEquals(out.code, 125);
    assertMatch(text(out.stderr), /the target exited/);
    await assertRejects(() => Deno.stat("/tmp/nsjoin-never"), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "NsCommand of a pinned target that exited says so, whatever it reads of the target first",
  ignore: NEEDS_ROOT,
  async fn() {
    // A script kept a container's exec options (capabilities, rlimits… "target") and the
    // container restarted: NsCommand threw `SyscallError: openat2 failed: ENOENT`, a class
    // nsjoin does not export, saying nothing of the target.
    const target = await makeTarget();
    using pinned = pinProcess(target.pid);
    await target.kill();
    const marker = `/tmp/nsjoin-never-${crypto.randomUUID().slice(0, 8)}`;
    for (
      const options of [
        { capabilities: "target" },
        { rlimits: "target" },
        { oomScoreAdj: "target" },
        { uid: "follow" },
        { targetEnv: true },
      ] as const
    ) {
      await assertRejects(
        () => new NsCommand("touch", { target: pinned, args: [marker], ...options }).output(),
        NamespaceError,
        "the target exited",
      );
    }
    await assertRejects(() => Deno.stat(marker), Deno.errors.NotFound);
  },
});

Deno.test({
  name: "NsCommand in a user namespace: uid 0 by default, follow, preserveCredentials",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await t.step("uid and gid 0 where root is mapped (unshare -r)", async () => {
      await using target = await makeTarget({ flags: ["-U", "-r", "-n"] });
      const out = await new NsCommand("id", { target: target.pid }).output();
      assertMatch(
        text(out.stdout),
        /^uid=0\(root\) gid=0\(root\) groups=0\(root\)/,
        text(out.stderr),
      );
    });
    await using target = await makeTarget({
      flags: ["-U", "--map-user=1000", "--map-group=1000", "-n"],
    });
    await t.step("0 not mapped: one clear line and 125, as nsenter refuses it", async () => {
      const out = await new NsCommand("id", { target: target.pid }).output();
      assertEquals(out.code, 125);
      assertMatch(text(out.stderr), /not mapped in the target's user namespace/);
    });
    await t.step("follow: the target's own ids, as seen inside", async () => {
      const out = await new NsCommand("id", {
        target: target.pid,
        args: ["-u"],
        uid: "follow",
        gid: "follow",
      })
        .output();
      assertEquals(text(out.stdout), "1000\n", text(out.stderr));
    });
    await t.step("preserveCredentials keeps ours (root maps to 1000 there)", async () => {
      const out = await new NsCommand("id", {
        target: target.pid,
        args: ["-u"],
        preserveCredentials: true,
      })
        .output();
      assertEquals(text(out.stdout), "1000\n", text(out.stderr));
    });
  },
});

Deno.test({
  name: "a named netns (/run/netns/NAME) is a target of its own type",
  ignore: NEEDS_ROOT,
  async fn() {
    const name = `nsjoin-test-${Deno.pid}`;
    await sh("ip", ["netns", "add", name]);
    try {
      const path = `/run/netns/${name}`;
      assertEquals(namespaceTypeOfFile(path), "net");
      const out = await new NsCommand("ip", { target: path, args: ["-br", "link"] }).output();
      assertEquals(out.code, 0, text(out.stderr));
      assertMatch(text(out.stdout), /^lo\s+DOWN/);
      const inode = (await Deno.stat(path)).ino;
      const link = await new NsCommand("readlink", { target: path, args: ["/proc/self/ns/net"] })
        .output();
      assertEquals(text(link.stdout), `net:[${inode}]\n`);
      assertThrows(
        () => new NsCommand("true", { target: path, namespaces: ["uts"] }).helperArgs,
        NamespaceError,
        "it is a net namespace file",
      );
    } finally {
      await sh("ip", ["netns", "delete", name]);
    }
  },
});

Deno.test({
  name: "namespacesOf and sameNamespace see what readlink sees",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const ns = await namespacesOf(target.pid);
    for (const [type, id] of Object.entries(ns)) {
      assertEquals(Deno.readLinkSync(`/proc/${target.pid}/ns/${type}`), `${type}:[${id.inode}]`);
    }
    assertEquals(sameNamespace(target.pid, Deno.pid, "net"), false);
    assertEquals(sameNamespace(target.pid, Deno.pid, "user"), true);
    assertEquals(sameNamespace(`/proc/${target.pid}/ns/net`, target.pid, "net"), true);
    assertEquals(
      namespacesOfSync("self").net!.inode,
      (await Deno.stat("/proc/thread-self/ns/net")).ino,
    );
  },
});

Deno.test("bad input to the library throws before anything runs", () => {
  assertThrows(() => new NsCommand("true", { target: 0 }).helperArgs, RangeError);
  assertThrows(() => new NsCommand("true", { target: -1 }).helperArgs, RangeError);
  assertThrows(
    () => new NsCommand("true", { target: 4194000 }).helperArgs,
    NamespaceError,
    "Cannot find process",
  );
  assertThrows(() => new NsCommand("true", { target: "web1" }).helperArgs, TypeError);
  assertThrows(
    () => new NsCommand("true", { target: "/etc/hostname" }).helperArgs,
    NamespaceError,
    "not a namespace file",
  );
  assertThrows(() => new NsCommand("", { target: Deno.pid }), TypeError);
  assertThrows(
    () => new NsCommand("true", { target: Deno.pid, namespaces: ["bogus" as "net"] }).helperArgs,
    TypeError,
  );
  assertThrows(
    () => new NsCommand("true", { target: Deno.pid, args: ["a\0b"] }).helperArgs,
    TypeError,
    "NUL",
  );
  assertThrows(() => new NsCommand("true", { target: Deno.pid, uid: -5 }).helperArgs, RangeError);
});

Deno.test({
  name: "the helper runs from a sealed memfd that cannot be written",
  fn() {
    const h = helper();
    assertEquals(h.kind, "memfd");
    assertMatch(h.path, /^\/proc\/self\/fd\/\d+$/);
    const fd = h.path.split("/").pop();
    assertMatch(Deno.readLinkSync(`/proc/${Deno.pid}/fd/${fd}`), /^\/memfd:nsjoin-helper/);
    assertThrows(
      () => Deno.writeFileSync(`/proc/${Deno.pid}/fd/${fd}`, new Uint8Array([0])),
      Deno.errors.PermissionDenied,
    );
  },
});

Deno.test({
  name: "the private-file fallback runs the same when memfds may not be executed",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "fallback" });
    const script = `
      import { NsCommand } from "${new URL("../mod.ts", import.meta.url)}";
      import { helper } from "${new URL("../ffi/helper.ts", import.meta.url)}";
      const out = await new NsCommand("hostname", { target: ${target.pid} }).output();
      console.log(helper().kind, new TextDecoder().decode(out.stdout).trim());`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      env: { NSJOIN_HELPER: "file" },
    }).output();
    assertEquals(text(out.stdout), "file fallback\n", text(out.stderr));
  },
});

Deno.test({
  name: "exec() replaces the Deno process with the program inside the target",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "exec-host" });
    const script = `
      import { NsCommand } from "${new URL("../mod.ts", import.meta.url)}";
      console.log("before", Deno.pid);
      new NsCommand("sh", { target: ${target.pid}, args: ["-c", "hostname; cat; exit 4"], stdin: "null" }).exec();`;
    const child = new Deno.Command(Deno.execPath(), {
      args: ["eval", script],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await child.output(); // stdin stays open: only "null" ends cat
    const [before, host] = text(out.stdout).trim().split("\n");
    assertMatch(before, /^before \d+$/);
    // stdin "null": cat read nothing although our stdin is a pipe left open.
    assertEquals([host, out.code], ["exec-host", 4], text(out.stderr));
    assertThrows(
      () => new NsCommand("true", { target: target.pid, stdout: "piped" }).exec(),
      TypeError,
      "piped",
    );
  },
});

Deno.test({
  name: "a failed join is a typed setupError, never mistaken for a program exiting 125",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    await t.step("a program that exits 125, 126, 127 itself: no setupError", async () => {
      for (const code of [125, 126, 127]) {
        const out = await new NsCommand("sh", { target: target.pid, args: ["-c", `exit ${code}`] })
          .output();
        assertEquals(out.code, code);
        assertEquals(out.setupError, undefined);
      }
    });
    await t.step(
      "a join refused by the kernel: 125 and setupError (setns, EINVAL, user)",
      async () => {
        // Our own user namespace cannot be entered again (setns EINVAL).
        const out = await new NsCommand("true", { target: target.pid, namespaces: ["user"] })
          .output();
        assertEquals(out.code, 125);
        const error = out.setupError;
        if (!(error instanceof NamespaceError)) throw new Error(`no setupError: ${error}`);
        assertEquals(error.code, "EINVAL");
        assertEquals(error.syscall, "setns");
        assertEquals(error.namespace, "user");
        assertEquals(error.target, target.pid);
        assertMatch(error.message, /^Cannot join user namespace of pid \d+: EINVAL/);
      },
    );
    await t.step("spawn(): status carries it too; outputSync() as well", async () => {
      const child = new NsCommand("true", {
        target: target.pid,
        cgroups: ["/nonexistent/cgroup.procs"],
        stderr: "null",
      }).spawn();
      const status = await child.status;
      assertEquals(status.code, 125);
      assertEquals(status.setupError?.code, "ENOENT");
      assertEquals(status.setupError?.syscall, "open");
      const sync = new NsCommand("/nonexistent", { target: target.pid }).outputSync();
      assertEquals(sync.code, 127);
      assertEquals(sync.setupError?.syscall, "execve");
      assertEquals(sync.setupError?.code, "ENOENT");
    });
    await t.step("the program never has the pipe: only 0-2 are open in it", async () => {
      const out = await new NsCommand("ls", { target: target.pid, args: ["/proc/self/fd"] })
        .output();
      assertEquals(text(out.stdout).trim().split("\n").sort(), ["0", "1", "2", "3"]);
    });
  },
});

/** The descendants of `pid` running `comm`, through /proc/PID/task/TID/children. */
function descendants(pid: number, comm: string): number[] {
  const out: number[] = [];
  const walk = (p: number) => {
    let kids: number[] = [];
    try {
      kids = Deno.readTextFileSync(`/proc/${p}/task/${p}/children`).trim().split(/\s+/)
        .filter(Boolean).map(Number);
    } catch {
      return;
    }
    for (const k of kids) {
      try {
        if (Deno.readTextFileSync(`/proc/${k}/comm`).trim() === comm) out.push(k);
      } catch {
        // Gone meanwhile.
      }
      walk(k);
    }
  };
  walk(pid);
  return out;
}

/** Whether a process is gone (reaped or a zombie). */
function gone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return true;
  }
}

Deno.test({
  name: "kill('SIGKILL') ends the program inside a pid namespace, not only the helper",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // The helper forks into a pid namespace and waits for the program, relaying signals:
    // SIGKILL cannot be relayed. A CI runner killing a stuck exec left its program (and
    // with killTree everything it started) running in the container for good, while
    // `status` said SIGKILL (stop 25 soak: 60 kills, 240 processes left).
    await using target = await makeTarget();
    for (
      const [what, args, killTree] of [
        ["the program", ["-c", "exec sleep 1000"], false],
        ["killTree: the program and its process group", [
          "-c",
          "sleep 1000 & (sleep 1000 &); sleep 1000",
        ], true],
      ] as const
    ) {
      await t.step(what, async () => {
        const child = new NsCommand("sh", {
          target: target.pid,
          args: [...args],
          killTree,
          stdin: "null",
          stdout: "null",
        }).spawn();
        const want = killTree ? 3 : 1;
        let sleeps: number[] = [];
        // The subshell's sleep is re-parented to the target's init: look there too.
        const inTarget = () => [
          ...new Set([...descendants(child.pid, "sleep"), ...descendants(target.pid, "sleep")]),
        ];
        for (const end = Date.now() + 30_000; sleeps.length < want && Date.now() < end;) {
          sleeps = inTarget();
          if (sleeps.length < want) await new Promise((r) => setTimeout(r, 10));
        }
        assertEquals(sleeps.length, want);
        child.kill("SIGKILL");
        assertEquals((await child.status).signal, "SIGKILL");
        for (const end = Date.now() + 30_000; !sleeps.every(gone) && Date.now() < end;) {
          await new Promise((r) => setTimeout(r, 10));
        }
        const left = sleeps.filter((p) => !gone(p));
        for (const p of left) Deno.kill(p, "SIGKILL");
        assertEquals(left, [], "processes outlived kill('SIGKILL')");
      });
    }
  },
});

Deno.test({
  name: "killTree: aborting ends everything the program started, and `for await` finishes",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    for (
      const [where, pid, namespaces] of [
        ["no namespace joined", Deno.pid, []],
        ["inside a pid namespace", target.pid, "all"],
      ] as const
    ) {
      await t.step(where, async () => {
        const controller = new AbortController();
        const child = new NsCommand("sh", {
          target: pid,
          namespaces,
          // Two children hold the stdout pipe; the shell prints, then waits for them.
          args: ["-c", "sleep 1000 & sleep 1000 & echo started; wait"],
          stdout: "piped",
          signal: controller.signal,
          killTree: true,
        }).spawn();
        const lines: string[] = [];
        let sleeps: number[] = [];
        // Should the pipe stay open, end the children ourselves so the test can fail. Not
        // sooner than a minute: a step took 4 s of the 10 once allowed on a loaded machine
        // (six busy loops, nice 19), spawn to abort.
        const timer = setTimeout(() => {
          lines.push("TIMEOUT");
          for (const p of sleeps) Deno.kill(p, "SIGKILL");
        }, 60_000);
        for await (const chunk of child.stdout) {
          lines.push(text(chunk));
          if (lines.join("").includes("started")) {
            // Forked before the echo, but each exec of sleep may come later.
            for (const end = Date.now() + 30_000; sleeps.length < 2 && Date.now() < end;) {
              sleeps = descendants(child.pid, "sleep");
              if (sleeps.length < 2) await new Promise((r) => setTimeout(r, 10));
            }
            assertEquals(sleeps.length, 2);
            controller.abort();
          }
          if (lines.includes("TIMEOUT")) break;
        }
        clearTimeout(timer);
        assert(!lines.includes("TIMEOUT"), "for await never ended: children kept the pipe");
        const status = await child.status;
        assertEquals(status.signal ?? status.code, status.signal ? "SIGTERM" : 143);
        for (const end = Date.now() + 30_000; !sleeps.every(gone) && Date.now() < end;) {
          await new Promise((r) => setTimeout(r, 10));
        }
        const left = sleeps.filter((p) => !gone(p));
        for (const p of left) Deno.kill(p, "SIGKILL");
        assertEquals(left, [], "children outlived the abort");
      });
    }
  },
});

Deno.test({
  name: "cgroups: a 17th hierarchy is joined too (the helper once kept only 16)",
  ignore: NEEDS_ROOT,
  async fn() {
    // The pids hierarchy (cgroup v1) or the unified one: a new cgroup at its root.
    const lines = Deno.readTextFileSync("/proc/self/cgroup").trim().split("\n");
    const v1 = lines.some((l) => l.split(":")[1] === "pids");
    const mount = v1 ? "/sys/fs/cgroup/pids" : "/sys/fs/cgroup";
    const ours = lines.find((l) => l.split(":")[1] === (v1 ? "pids" : ""))!.split(":")[2];
    const fresh = `/nsjb-${crypto.randomUUID().slice(0, 8)}`;
    Deno.mkdirSync(`${mount}${fresh}`);
    try {
      const stay = `${mount}${ours === "/" ? "" : ours}/cgroup.procs`;
      const out = await new NsCommand("cat", {
        target: Deno.pid,
        namespaces: [],
        args: ["/proc/self/cgroup"],
        cgroups: [...Array(16).fill(stay), `${mount}${fresh}/cgroup.procs`],
      }).output();
      assertEquals(out.code, 0, text(out.stderr));
      const line = text(out.stdout).split("\n").find((l) => l.split(":")[1] === (v1 ? "pids" : ""));
      assertEquals(line?.split(":")[2], fresh);
    } finally {
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(`${mount}${fresh}`);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // the program is still being reaped
        }
      }
    }
  },
});

Deno.test({
  name:
    "messagePrefix starts the helper's failure line; setupError's message is the same without it",
  ignore: NEEDS_ROOT,
  async fn() {
    await using t = await makeTarget();
    for (const [prefix, shown] of [[undefined, "nsjoin"], ["nsjoin enter", "nsjoin enter"]]) {
      const out = await new NsCommand("/nonexistent", {
        target: t.pid,
        stderr: "piped",
        ...(prefix ? { messagePrefix: prefix } : {}),
      }).output();
      assertEquals(out.code, 127);
      assertEquals(
        new TextDecoder().decode(out.stderr),
        `${shown}: Cannot run /nonexistent: not found in the target\n`,
      );
      assertEquals(out.setupError?.message, "Cannot run /nonexistent: not found in the target");
    }
    for (const bad of ["", "x".repeat(65), "a\nb", "é"]) {
      assertThrows(
        () => new NsCommand("true", { target: t.pid, messagePrefix: bad }).helperArgs,
        TypeError,
        "as a message prefix",
      );
    }
  },
});

Deno.test({
  name:
    "an already aborted signal runs nothing: spawn, output, outputSync and a session's output throw its reason",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-aborted-" });
    try {
      // A shutdown controller aborted, or an AbortSignal.timeout() already due: Deno.Command
      // would start the program (spawn ran it to its end).
      const signal = AbortSignal.abort();
      const cmd = (name: string) =>
        new NsCommand("touch", { target: target.pid, args: [`${dir}/${name}`], signal });
      assertThrows(() => cmd("spawn").spawn(), DOMException, "aborted");
      await assertRejects(() => cmd("output").output(), DOMException, "aborted");
      assertThrows(() => cmd("outputSync").outputSync(), DOMException, "aborted");
      await using s = await openSession(target.pid);
      await assertRejects(
        () => s.output("touch", { args: [`${dir}/session`], signal }),
        DOMException,
        "aborted",
      );
      // The session still runs what comes next.
      assertEquals((await s.output("true")).code, 0);
      await new Promise((r) => setTimeout(r, 200));
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), [], "a program ran");
      // Not aborted: the same command runs (the check is not vacuous).
      await new NsCommand("touch", { target: target.pid, args: [`${dir}/ran`] }).output();
      assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["ran"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: setupError.code says the target exited
Deno.test({
  name:
    "setupError.code is ESRCH when the target exits during the set-up (its namespace files gone)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // A pinned target that exited but is not reaped yet (a zombie: its parent never waits)
    // has its PID and start time, and no namespace files: the helper's open of one is ENOENT,
    // which setupError.code said, where resolveTarget and the pidfd checks say ESRCH. A
    // caller telling "the target exited" from "a file is missing" by code was misled.
    const outer = new Deno.Command("sh", {
      args: ["-c", "sleep 0.3 & echo $!; exec sleep 60"],
      stdout: "piped",
    }).spawn();
    try {
      const reader = outer.stdout.getReader();
      const pid = Number(new TextDecoder().decode((await reader.read()).value).trim());
      reader.releaseLock();
      using pinned = pinProcess(pid);
      while (!/^State:\s+Z/m.test(await Deno.readTextFile(`/proc/${pid}/status`))) {
        await new Promise((r) => setTimeout(r, 20));
      }
      for (const namespaces of [["net" as const], "all" as const]) {
        const out = await new NsCommand("true", { target: pinned, namespaces }).output();
        assertEquals(out.code, 125);
        assertEquals(out.setupError?.code, "ESRCH", out.setupError?.message);
        assertMatch(out.setupError!.message, / - the target exited$/);
      }
    } finally {
      outer.kill("SIGKILL");
      await outer.status;
      await outer.stdout.cancel().catch(() => {});
    }
  },
});
