/**
 * `nsjoin debug` against real containers: a docker container built FROM scratch with one
 * static binary (no shell, no libc), a busybox container for the confinement comparison
 * and the attacks, a rootless podman container debugged by root.
 */
import { parseDebugArgs } from "../src/cli/debug.ts";
import { NsCommand, type NsCommandOptions } from "../src/command.ts";
import {
  ensureImages,
  must,
  podmanUser,
  removeContainers,
  run,
  skipWithoutEngines,
  startContainer,
  type TestContainer,
} from "./_engines.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  CI,
  cli,
  IS_ROOT,
  makeTarget,
  testUser,
} from "./_fixtures.ts";

const SKIP = skipWithoutEngines("debug tests", ["docker", "podman", "gcc", "rootless"]);

/** An image FROM scratch: /pause (static, no libc) and nothing else. */
const SCRATCH = "nsjoin-debug-scratch:1";
const suffix = () => Math.random().toString(36).slice(2, 8);

async function ensureScratch(): Promise<void> {
  if ((await run("docker", ["image", "inspect", SCRATCH])).code === 0) return;
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-debug-" });
  try {
    await Deno.mkdir(`${dir}/root`);
    await Deno.writeTextFile(
      `${dir}/pause.c`,
      "#include <unistd.h>\nint main(void){for(;;)pause();}\n",
    );
    await must("gcc", ["-static", "-O2", "-o", `${dir}/root/pause`, `${dir}/pause.c`]);
    await must("tar", ["-C", `${dir}/root`, "-cf", `${dir}/rootfs.tar`, "pause"]);
    await must("docker", ["import", "-c", 'CMD ["/pause"]', `${dir}/rootfs.tar`, SCRATCH]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The classic chroot escape: chroot into a subdirectory, climb with "..", chroot there. */
const ESCAPE_C = `#include <unistd.h>
#include <sys/stat.h>
int main(void) {
  mkdir("/tmp/esc", 0755);
  if (chroot("/tmp/esc") != 0) return 2;
  for (int i = 0; i < 64; i++) chdir("..");
  if (chroot(".") != 0) return 3;
  execl("/bin/sh", "sh", "-c", "test -e /etc/shadow && echo escaped || echo contained", (char *)0);
  return 4;
}
`;

const STATUS_KEYS = /^(Cap(Inh|Prm|Eff|Bnd|Amb)|Seccomp|Seccomp_filters|NoNewPrivs):/;
const confinement = (status: string) =>
  status.split("\n").filter((l) => STATUS_KEYS.test(l)).join("\n");

/**
 * The host's mount table (PID 1's view and ours), without what the engines and other
 * tests running beside us mount and unmount meanwhile (containers' overlays, netns files).
 */
const CHURN = /docker|containers|netns|overlay|nsfs|podman|\/run\/user|shm/;
const hostMounts = async () =>
  ((await Deno.readTextFile("/proc/1/mountinfo")) +
    (await Deno.readTextFile("/proc/self/mountinfo")))
    .split("\n").filter((l) => !CHURN.test(l)).join("\n");

Deno.test({
  name: "debug: parses TARGET, -- CMD, and refuses a namespace file",
  fn() {
    const a = parseDebugArgs(["--tools", "/srv/t", "web", "--", "ps", "-ef"]);
    assertEquals([a.target, a.tools, a.command], ["web", "/srv/t", ["ps", "-ef"]]);
    assertEquals(parseDebugArgs(["-t", "web"]).command, ["/bin/sh"]);
    assertThrows(() => parseDebugArgs([]), Error, "requires a TARGET");
    assertThrows(() => parseDebugArgs(["/run/netns/x"]), Error, "namespace file has no root");
  },
});

Deno.test({
  name:
    "debug on a FROM-scratch container: its processes, interfaces, files, hostname; no mount left",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    await ensureScratch();
    const name = `nsjoin-debug-${suffix()}`;
    await must("docker", ["run", "-d", "--name", name, "--hostname", `h-${name}`, SCRATCH]);
    try {
      const pid = Number((await must("docker", ["inspect", "-f", "{{.State.Pid}}", name])).trim());
      const ip = (await must("docker", [
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        name,
      ])).trim();
      const before = await hostMounts();
      const theirMounts = await Deno.readTextFile(`/proc/${pid}/mountinfo`);
      const theirRoot = [...Deno.readDirSync(`/proc/${pid}/root`)].map((e) => e.name).sort();
      const r = await cli([
        "debug",
        name,
        "--",
        "sh",
        "-c",
        "ps -eo pid,comm --no-headers; echo ==; ip -br addr; echo ==; ls -a /target; echo ==; hostname",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const [ps, addr, ls, host] = r.stdout.split("==\n");
      const procs = ps.trim().split("\n").map((l) => l.trim().split(/\s+/));
      // The container's init is PID 1 there; nothing of the host's (dockerd, deno) shows.
      assertEquals(procs[0], ["1", "pause"]);
      assertEquals(procs.map((p) => p[1]).sort(), ["pause", "ps", "sh"]);
      assertMatch(addr, new RegExp(`${ip.replaceAll(".", "\\.")}/`));
      assert(!/docker0/.test(addr), addr);
      assertEquals(ls.trim().split("\n").filter((f) => f !== "." && f !== ".."), theirRoot);
      assertEquals(host.trim(), `h-${name}`);
      // Nothing left: the host's mount table, the container's, and its root directory.
      assertEquals(await hostMounts(), before);
      assertEquals(await Deno.readTextFile(`/proc/${pid}/mountinfo`), theirMounts);
      assertEquals([...Deno.readDirSync(`/proc/${pid}/root`)].map((e) => e.name).sort(), theirRoot);
      // The debug session's private mount namespace held /target: none remains anywhere.
      const found = await run("sh", ["-c", "grep -l ' /target ' /proc/[0-9]*/mountinfo"]);
      assertEquals(found.stdout, "");

      // --tools DIR: busybox's tools instead of the host's (/usr does not exist there).
      const tools = await Deno.makeTempDir({ prefix: "nsjoin-debug-tools-" });
      try {
        await Deno.mkdir(`${tools}/bin`);
        await Deno.copyFile(await Deno.realPath("/bin/busybox"), `${tools}/bin/busybox`);
        await Deno.symlink("busybox", `${tools}/bin/sh`);
        const b = await cli([
          "debug",
          "--tools",
          tools,
          name,
          "--",
          "/bin/sh",
          "-c",
          "readlink /proc/$$/exe; test -e /usr || echo no-usr; busybox ls /target/pause",
        ]);
        assertEquals([b.code, b.stdout], [0, "/bin/busybox\nno-usr\n/target/pause\n"], b.stderr);
      } finally {
        await Deno.remove(tools, { recursive: true });
      }
    } finally {
      await run("docker", ["rm", "-f", name]);
    }
  },
});

Deno.test({
  name: "debug: NsCommand refuses tools without debug, and debug with a namespace file, cwd or mnt",
  async fn() {
    const plan = (o: Partial<NsCommandOptions>) =>
      new NsCommand("true", { target: Deno.pid, ...o }).output();
    await assertRejects(() => plan({ tools: "/" }), TypeError, "tools without debug");
    await assertRejects(() => plan({ debug: true, cwd: "/" }), TypeError, "cwd with debug");
    await assertRejects(
      () => plan({ debug: true, namespaces: ["net", "mnt"] }),
      TypeError,
      "makes its own",
    );
    await assertRejects(
      () => plan({ debug: true, target: "/proc/self/ns/net" }),
      TypeError,
      "give a PID",
    );
  },
});

Deno.test({
  name: "debug: confinement equals docker exec's; --privileged has every capability and no filter",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    const user = podmanUser()!;
    await ensureImages(user);
    const c: TestContainer[] = [];
    try {
      c.push(await startContainer("docker", `nsjoin-debug-${suffix()}`));
      const name = c[0].name;
      const anchor = await must("docker", ["exec", name, "cat", "/proc/self/status"]);
      const r = await cli(["debug", name, "--", "cat", "/proc/self/status"]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(confinement(r.stdout), confinement(anchor));
      assertMatch(confinement(r.stdout), /Seccomp:\t2/);
      const p = await cli(["debug", "--privileged", name, "--", "cat", "/proc/self/status"]);
      assertEquals(p.code, 0, p.stderr);
      const ours = confinement(await Deno.readTextFile("/proc/self/status"));
      const capEff = (s: string) => s.match(/CapEff:\t(\w+)/)![1];
      assertEquals(capEff(p.stdout), capEff(ours));
      assertMatch(p.stdout, /Seccomp:\t0/);
    } finally {
      await removeContainers(c);
    }
  },
});

Deno.test({
  name: "debug a rootless podman container as root: its user namespace, processes and files",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    const user = podmanUser()!;
    await ensureImages(user);
    const c: TestContainer[] = [];
    try {
      c.push(await startContainer("podman", `nsjoin-debug-${suffix()}`, [], user));
      const { pid } = c[0];
      const theirUserns = await Deno.readLink(`/proc/${pid}/ns/user`);
      const before = await hostMounts();
      const r = await cli([
        "debug",
        String(pid),
        "--",
        "sh",
        "-c",
        // ps alone (no pipeline whose other members may not have exec'd yet); sorted here.
        "readlink /proc/self/ns/user; id -u; echo $(ps -eo comm --no-headers); ls /target/bin/busybox; hostname",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const [ns, uid, procs, busybox, host] = r.stdout.trim().split("\n");
      assertEquals(ns, theirUserns);
      assertEquals(uid, "0");
      assertEquals(procs.trim().split(" ").sort().join(" "), "ps sh tail");
      assertEquals(busybox, "/target/bin/busybox");
      assertEquals(host, `h-${c[0].name}`);
      assertEquals(await hostMounts(), before);
      // -t: the session's devpts is mounted in the container's user namespace; its pty is
      // made there too and has a name (debug_test "debug -t" for a rootful container).
      const t = await cli([
        "debug",
        "-t",
        String(pid),
        "--",
        "sh",
        "-c",
        "tty; stat -c %u /dev/pts/0",
      ]);
      assertEquals([t.code, t.stdout], [0, "/dev/pts/0\r\n0\r\n"], t.stderr);
    } finally {
      await removeContainers(c);
    }
  },
});

Deno.test({
  name: "debug: bad input - no target (2), a namespace file (2), a gone target (125): nothing runs",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  async fn() {
    const none = await cli(["debug"]);
    assertEquals([none.code, none.stdout], [2, ""]);
    assertMatch(none.stderr, /^nsjoin debug: .*requires a TARGET.*\n$/);
    const file = await cli(["debug", "/proc/self/ns/net", "--", "echo", "ran"]);
    assertEquals([file.code, file.stdout], [2, ""]);
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    const r = await cli(["debug", String(gone.pid), "--", "echo", "ran"]);
    assertEquals([r.code, r.stdout], [125, ""]);
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    const missing = await cli(["debug", `nsjoin-no-such-${suffix()}`, "--", "echo", "ran"]);
    assertEquals([missing.code, missing.stdout], [125, ""]);
  },
});

Deno.test({
  name: "debug attack: a fake /bin/sh, ld.so.preload and symlinks to host files in the container",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    const user = podmanUser()!;
    await ensureImages(user);
    const c: TestContainer[] = [];
    try {
      c.push(await startContainer("docker", `nsjoin-debug-${suffix()}`));
      const name = c[0].name;
      // The container, as its root: a /bin/sh of its own, a preload for every dynamic
      // program, links naming host files and host tool directories.
      await must("docker", [
        "exec",
        name,
        "sh",
        "-c",
        [
          "rm /bin/sh && printf '#!/bin/busybox sh\\necho PWNED\\n' > /bin/sh && chmod +x /bin/sh",
          "echo /pwned.so > /etc/ld.so.preload",
          "ln -s /etc/shadow /shadow && mkdir -p /usr/bin && ln -s /target/bin/sh /usr/bin/sh",
        ].join(" && "),
      ]);
      const hostSh = await Deno.realPath("/bin/sh");
      const r = await cli([
        "debug",
        name,
        "--",
        "/bin/sh",
        "-c",
        "readlink /proc/$$/exe; cat /target/shadow || echo no-shadow; ls /etc",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assert(!r.stdout.includes("PWNED") && !r.stderr.includes("pwned"), r.stdout + r.stderr);
      const [exe, shadow, ...etc] = r.stdout.trim().split("\n");
      assertEquals(exe, hostSh);
      // /target/shadow -> /etc/shadow resolves in the debug root, which has no shadow file.
      assertEquals(shadow, "no-shadow");
      assert(!etc.includes("shadow") && !etc.includes("ld.so.preload"), etc.join(" "));

      // A chroot would not hold: the program keeps the container's CAP_SYS_CHROOT. A
      // binary of the container's climbs out of a nested chroot: it must find the debug
      // session's root there, never the host's.
      const dir = await Deno.makeTempDir({ prefix: "nsjoin-debug-esc-" });
      try {
        await Deno.writeTextFile(`${dir}/esc.c`, ESCAPE_C);
        await must("gcc", ["-static", "-O2", "-o", `/proc/${c[0].pid}/root/esc`, `${dir}/esc.c`]);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
      const esc = await cli(["debug", name, "--", "/target/esc"]);
      assertEquals([esc.code, esc.stdout], [0, "contained\n"], esc.stderr);

      // The container's root can reach the debug shell (/proc/PID/root, as ptrace could):
      // what it finds there is the tools, read-only, and no host secret.
      const session = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          new URL("../cli.ts", import.meta.url).pathname,
          "debug",
          name,
          "--",
          "sh",
          "-c",
          "echo $$ > /target/debug.pid; sleep 30",
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        let dpid = "";
        for (let i = 0; i < 100 && !dpid; i++) {
          await new Promise((r) => setTimeout(r, 100));
          dpid = (await run("docker", ["exec", name, "cat", "/debug.pid"])).stdout.trim();
        }
        assertMatch(dpid, /^[0-9]+$/);
        const peek = await run("docker", [
          "exec",
          name,
          "/bin/busybox",
          "sh",
          "-c",
          `ls /proc/${dpid}/root/etc; cat /proc/${dpid}/root/etc/shadow; touch /proc/${dpid}/root/usr/x`,
        ]);
        assert(peek.stdout.includes("passwd"), peek.stdout + peek.stderr);
        assert(!peek.stdout.includes("shadow"), peek.stdout);
        assertMatch(peek.stderr, /Read-only file system/);
      } finally {
        session.kill("SIGKILL");
        await session.status;
      }
    } finally {
      await removeContainers(c);
    }
  },
});

// ---- trial 18: debug of a paused container
Deno.test({
  name: "debug refuses a paused container at once, as exec does (not after a 2 s ptrace wait)",
  ignore: skipWithoutEngines("a container to pause", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const c = await startContainer("docker", `nsjoin-dbg-pause-${suffix()}`);
    try {
      await must("docker", ["pause", c.name]);
      const r = await cli(["debug", c.name, "--", "touch", "/target/tmp/ran"]);
      assertEquals([r.code, r.stdout], [125, ""], r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      // By its name, as docker exec names it ("Container NAME is paused").
      assertMatch(
        r.stderr,
        new RegExp(`Cannot exec in container ${c.name}: it is paused - unpause`),
      );
      await must("docker", ["unpause", c.name]);
      const ran = await run("docker", ["exec", c.name, "ls", "/tmp"]);
      assert(!ran.stdout.includes("ran"), "the program ran");
    } finally {
      await run("docker", ["unpause", c.name]).catch(() => {});
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "debug -t: the program's terminal has a name inside, as docker exec -t's does, from a devpts of its own",
  ignore: skipWithoutEngines("debug -t", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const c = await startContainer("docker", `nsjoin-debug-${suffix()}`);
    try {
      const script = "tty; echo $?; ls -1 /dev/pts; readlink /proc/self/fd/1";
      const anchor = await run("docker", ["exec", "-t", c.name, "sh", "-c", script]);
      const r = await cli(["debug", "-t", `docker:${c.name}`, "--", "sh", "-c", script]);
      assertEquals(anchor.code, 0, anchor.stderr);
      assertEquals(r.code, 0, r.stderr);
      // docker's pty comes from the container's devpts (0 unless another exec holds one);
      // ours from the session's own devpts: only ours there, none of the host's terminals.
      assertMatch(anchor.stdout, /^\/dev\/pts\/(\d+)\r\n0\r\n/);
      assertEquals(r.stdout, "/dev/pts/0\r\n0\r\n0\r\nptmx\r\n/dev/pts/0\r\n");
    } finally {
      await removeContainers([c]);
    }
  },
});

// ---- stop 26: where the tools cannot be locked, debug says so
Deno.test({
  name:
    "debug says so when the host's tools cannot be locked read-only (no user namespaces), and they stay read-only",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    // The lock (ffi/helper.c debug_lock) needs Linux 6.15 and a user namespace; without them
    // the copies are read-only but a container with CAP_SYS_ADMIN may remount them read-write
    // (stop 25), and nothing said so. A seccomp filter that fails unshare(CLONE_NEWUSER), set
    // on the CLI, stands for a host without user namespaces.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-nolock-" });
    await Deno.writeTextFile(
      `${dir}/nouserns.c`,
      `#define _GNU_SOURCE
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  (void)argc;
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_unshare, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, CLONE_NEWUSER, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {sizeof f / sizeof *f, f};
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return 99;
  execv(argv[1], argv + 1);
  return 98;
}
`,
    );
    await must("gcc", ["-O2", "-o", `${dir}/nouserns`, `${dir}/nouserns.c`]);
    // Unconfined: reading a container's filter needs a caller without one (DESIGN.md 11).
    const c = await startContainer("docker", `nsjoin-nolock-${suffix()}`, [
      "--cap-add",
      "SYS_ADMIN",
      "--security-opt",
      "seccomp=unconfined",
    ]);
    try {
      const debug = (wrap: boolean) =>
        runPipedDebug([
          ...(wrap ? [`${dir}/nouserns`] : []),
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          "--no-lock",
          `${new URL("..", import.meta.url).pathname}cli.ts`,
          "debug",
          c.name,
          "sh",
          "-c",
          "touch /usr/nsjoin-written; echo write $?; mount -o remount,bind,rw /usr; echo remount $?",
        ]);
      const note =
        "nsjoin debug: note: the host's tools are read-only but not locked (that needs Linux 6.15 and user namespaces): a container with CAP_SYS_ADMIN could make them writable\n";
      const locked = await debug(false);
      assertEquals(locked.code, 0, locked.stderr);
      assertMatch(locked.stdout, /^write 1\nremount [1-9]\d*\n$/);
      assert(!locked.stderr.includes("note:"), locked.stderr);
      // Without the note: the same remount 0, and not a word on stderr.
      const unlocked = await debug(true);
      assertEquals(unlocked.code, 0, unlocked.stderr);
      assertEquals(unlocked.stdout, "write 1\nremount 0\n");
      assert(unlocked.stderr.startsWith(note), unlocked.stderr);
    } finally {
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function runPipedDebug(
  argv: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

// ---- stop 27: debug as a user says it needs root
Deno.test({
  name: "debug as a user (not root): one line saying debug needs root, nothing runs",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // A user debugging their own target (a rootless podman owner's habit: `exec` works there)
    // failed on whatever step came first: reading a rootless container's seccomp filter, with
    // a hint to "exec --security-opt seccomp=unconfined", an option debug does not have, or
    // `copy usr: EPERM` with --privileged.
    const user = await testUser();
    await using target = await makeTarget({ flags: ["-U", "-r", "-u", "-n"], user });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-debug-user-" });
    try {
      await Deno.chmod(dir, 0o777);
      for (const extra of [[], ["--privileged"]]) {
        const r = await cli(["debug", ...extra, String(target.pid), "--", "touch", `${dir}/ran`], {
          uid: user.uid,
          gid: user.gid,
        });
        assertEquals(r.code, 125, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertMatch(
          r.stderr,
          new RegExp(
            `^nsjoin debug: Cannot debug ${target.pid} as uid ${user.uid}: debug needs root - `,
          ),
        );
        assertEquals([...Deno.readDirSync(dir)], [], `${extra}: the program ran`);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
