/**
 * `nsjoin enter` against real namespaces made with unshare, side by side with nsenter.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  cli,
  makeTarget,
  NEEDS_ROOT,
  runPiped,
  testUser,
  text,
} from "./_fixtures.ts";
import { nsfsClose, nsfsIdentity, pidfdOpen } from "../ffi/nsfs.ts";

const TYPES = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];
const FLAG: Record<string, string> = {
  cgroup: "-C",
  ipc: "-i",
  mnt: "-m",
  net: "-n",
  pid: "-p",
  time: "-T",
  user: "-U",
  uts: "-u",
};
const READ_NS =
  "for n in cgroup ipc mnt net pid time user uts; do echo $n $(readlink /proc/self/ns/$n); done";

function nsOf(pid: number): Record<string, string> {
  return Object.fromEntries(TYPES.map((t) => [t, Deno.readLinkSync(`/proc/${pid}/ns/${t}`)]));
}

function parseNs(out: string): Record<string, string> {
  return Object.fromEntries(out.trim().split("\n").map((l) => l.split(" ")));
}

async function nsenter(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("nsenter", {
    args,
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

const FULL = ["-m", "-u", "-i", "-n", "-p", "-C", "-T", "--fork", "--mount-proc"];
const SETUP = "mount -t tmpfs marker /mnt && touch /mnt/inside && ip link set lo up";

Deno.test({
  name: "enter joins each namespace type alone and all together",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // Without --mount-proc, so that /proc/self resolves when only mnt is joined.
    const alone = await makeTarget({ flags: FULL.slice(0, -1), hostname: "inner" });
    const theirsAlone = nsOf(alone.pid);
    await using target = await makeTarget({ flags: FULL, hostname: "inner", setup: SETUP });
    const theirs = nsOf(target.pid);
    const mine = nsOf(Deno.pid);
    for (const type of TYPES) {
      if (type === "user") continue; // a root-made target shares our user ns; see the user test
      await t.step(`${type} alone`, async () => {
        const r = await cli(["enter", "-t", String(alone.pid), FLAG[type], "sh", "-c", READ_NS]);
        assertEquals(r.code, 0, r.stderr);
        const seen = parseNs(r.stdout);
        assertEquals(seen[type], theirsAlone[type], `${type} inside`);
        // Namespaces not asked for stay ours (pid: the program is forked into it, so its
        // own pid link reads the target's, and pid_for_children follows).
        for (const other of TYPES) {
          if (other !== type) {
            assertEquals(seen[other], mine[other], `${other} untouched when joining ${type}`);
          }
        }
      });
    }
    await t.step("all (-a): every namespace, and what the target sees", async () => {
      const r = await cli([
        "enter",
        "-t",
        String(target.pid),
        "-a",
        "sh",
        "-c",
        `${READ_NS}; echo host $(hostname); echo pid1 $(cat /proc/1/comm); ip -br link | tr -s ' ' | cut -d' ' -f1,2; ls /mnt; echo self $$`,
      ]);
      assertEquals(r.code, 0, r.stderr);
      const lines = r.stdout.trim().split("\n");
      const seen = parseNs(lines.slice(0, 8).join("\n"));
      assertEquals(seen, theirs);
      assertEquals(lines[8], "host inner");
      assertEquals(lines[9], "pid1 sleep");
      assertEquals(lines[10], "lo UNKNOWN"); // up inside; down on no host
      assertEquals(lines[11], "inside");
      assert(Number(lines[12].split(" ")[1]) < 100, `a small PID inside: ${lines[12]}`);
    });
    await alone.kill();
  },
});

Deno.test({
  name: "enter runs the same as nsenter for common commands",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ flags: FULL, hostname: "diff-host", setup: SETUP });
    const p = String(target.pid);
    const commands: [string, string[]][] = [
      ["hostname", ["-a", "hostname"]],
      ["uname -n", ["-u", "uname", "-n"]],
      ["namespace links", ["-a", "sh", "-c", READ_NS]],
      ["ip -br link", ["-n", "ip", "-br", "link"]],
      ["ip -br addr", ["-n", "ip", "-br", "addr"]],
      ["id", ["-a", "id"]],
      ["pwd with -m", ["-m", "pwd"]],
      ["pwd with -n", ["-n", "pwd"]],
      ["mountinfo", ["-m", "cat", "/proc/self/mountinfo"]],
      ["ls /mnt", ["-m", "ls", "/mnt"]],
      ["pid 1 cmdline", ["-a", "cat", "/proc/1/cmdline"]],
      ["cgroup view", ["-C", "cat", "/proc/self/cgroup"]],
      ["ipc", ["-i", "cat", "/proc/sysvipc/shm"]],
      ["uptime namespace link", ["-T", "readlink", "/proc/self/ns/time"]],
      ["env", ["-a", "env"]],
      ["root dir listing", ["-a", "-r", "ls", "/"]],
      ["-W", ["-a", "-W", "/mnt", "pwd"]],
      ["-S/-G", ["-a", "-S", "65534", "-G", "65534", "id"]],
      ["exit 7", ["-a", "sh", "-c", "exit 7"]],
    ];
    for (const [name, args] of commands) {
      await t.step(name, async () => {
        const a = await nsenter(["-t", p, ...args]);
        const b = await cli(["enter", "-t", p, ...args]);
        assertEquals(
          { code: b.code, stdout: b.stdout },
          { code: a.code, stdout: a.stdout },
          b.stderr,
        );
      });
    }
  },
});

Deno.test({
  name: "enter passes exit codes, signals and 126/127 through",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const p = String(target.pid);
    for (const code of [0, 1, 7]) {
      await t.step(`exit ${code}`, async () => {
        const r = await cli(["enter", "-t", p, "-a", "sh", "-c", `exit ${code}`]);
        assertEquals(r.code, code);
      });
    }
    await t.step("killed by SIGKILL inside a joined pid namespace: 137", async () => {
      const r = await cli(["enter", "-t", p, "-a", "sh", "-c", "kill -9 $$"]);
      assertEquals(r.code, 137);
    });
    await t.step("killed by SIGTERM without a pid namespace: 143", async () => {
      const r = await cli(["enter", "-t", p, "-n", "sh", "-c", "kill -TERM $$"]);
      assertEquals(r.code, 143);
    });
    await t.step("not found in the target: 127, one line", async () => {
      const r = await cli(["enter", "-t", p, "-a", "no-such-program"]);
      assertEquals(r.code, 127);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertMatch(r.stderr, /no-such-program: not found/);
    });
    await t.step("not executable: 126, one line", async () => {
      // Not executable (0444): EACCES. A file with x but no #! runs with /bin/sh instead.
      const r = await cli(["enter", "-t", p, "-a", "/proc/version"]);
      assertEquals(r.code, 126);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
    });
  },
});

Deno.test({
  name: "enter -U gives uid 0 in a user-namespace target, as root and as its owner",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const user = await testUser();
    await t.step("root joins a root-made user namespace", async () => {
      await using target = await makeTarget({
        flags: ["-U", "-r", "-n", "-u", "-m"],
        hostname: "userns",
      });
      const r = await cli([
        "enter",
        "-t",
        String(target.pid),
        "-a",
        "sh",
        "-c",
        "id -u; id -g; readlink /proc/self/ns/user; hostname",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const [uid, gid, userns, host] = r.stdout.trim().split("\n");
      assertEquals([uid, gid, host], ["0", "0", "userns"]);
      assertEquals(userns, Deno.readLinkSync(`/proc/${target.pid}/ns/user`));
    });
    await t.step("its unprivileged owner joins it (a rootless container's case)", async () => {
      await using target = await makeTarget({
        flags: ["-U", "-r", "-n", "-u", "-m", "-p", "--fork", "--mount-proc"],
        hostname: "rootless",
        user: { uid: user.uid, gid: user.gid },
      });
      const r = await cli(
        [
          "enter",
          "-t",
          String(target.pid),
          "-a",
          "sh",
          "-c",
          "id -u; readlink /proc/self/ns/user; readlink /proc/self/ns/net; hostname; echo $$",
        ],
        { uid: user.uid, gid: user.gid },
      );
      assertEquals(r.code, 0, r.stderr);
      const [uid, userns, netns, host, self] = r.stdout.trim().split("\n");
      assert(Number(self) < 100, `the program runs inside the pid namespace: pid ${self}`);
      assertEquals(uid, "0");
      assertEquals(userns, Deno.readLinkSync(`/proc/${target.pid}/ns/user`));
      assertEquals(netns, Deno.readLinkSync(`/proc/${target.pid}/ns/net`));
      assertEquals(host, "rootless");
    });
  },
});

Deno.test({
  name: "enter -T shows the time namespace's boottime offset",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ flags: ["--time", "--boottime", "86400", "--fork"] });
    const host = Number((await Deno.readTextFile("/proc/uptime")).split(" ")[0]);
    const r = await cli(["enter", "-t", String(target.pid), "-T", "cat", "/proc/uptime"]);
    assertEquals(r.code, 0, r.stderr);
    const inside = Number(r.stdout.split(" ")[0]);
    assert(inside - host > 86000 && inside - host < 86800, `uptime inside ${inside}, host ${host}`);
  },
});

Deno.test({
  name: "enter runs nothing when a join is refused (unprivileged caller, root-owned target)",
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-marker-" });
    await Deno.chmod(dir, 0o777);
    try {
      const marker = `${dir}/ran`;
      const r = await cli(["enter", "-t", String(target.pid), "-a", "touch", marker], {
        uid: user.uid,
        gid: user.gid,
      });
      assertEquals(r.code, 125, r.stderr);
      assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
      assertMatch(r.stderr, /Cannot (join|read|open)/);
      let exists = true;
      try {
        await Deno.stat(marker);
      } catch {
        exists = false;
      }
      assertEquals(exists, false, "the program ran although a join failed");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "enter answers bad input with one line and a distinct exit code",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const p = String(target.pid);
    const cases: [string, string[], number, RegExp][] = [
      ["no such PID", ["-t", "4194000", "-a", "true"], 125, /Cannot find process 4194000/],
      ["PID 0", ["-t", "0", "-a", "true"], 2, /above 0/],
      ["PID -1", ["-t", "-1", "-a", "true"], 2, /above 0/],
      ["PID abc", ["-t", "abc", "-a", "true"], 2, /Cannot resolve target "abc"/],
      ["not a namespace file", ["--net=/etc/hostname", "true"], 125, /not a namespace file/],
      [
        "a namespace file of another type",
        [`--net=/proc/${p}/ns/uts`, "true"],
        125,
        /it is a uts namespace/,
      ],
      ["unknown flag", ["-t", p, "--bogus", "true"], 2, /unknown option --bogus/],
      ["-t without a value", ["-t"], 2, /requires an argument/],
      ["-S not a number", ["-t", p, "-a", "-S", "root", "true"], 2, /-S takes a number/],
      ["no namespace chosen", ["-t", p, "true"], 2, /no namespace given/],
    ];
    for (const [name, args, code, re] of cases) {
      await t.step(name, async () => {
        const marker = `/tmp/nsjoin-bad-${crypto.randomUUID()}`;
        const r = await cli([
          "enter",
          ...args.map((a) => a === "true" ? "touch" : a),
          ...(args.includes("true") ? [marker] : []),
        ]);
        assertEquals(r.code, code, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertMatch(r.stderr, re);
        assert(!r.stderr.includes("    at "), "no stack trace");
        let ran = true;
        try {
          Deno.statSync(marker);
          Deno.removeSync(marker);
        } catch {
          ran = false;
        }
        assertEquals(ran, false, "the program ran");
      });
    }
  },
});

Deno.test("enter --help prints nsenter-style usage", async () => {
  const r = await cli(["enter", "--help"]);
  assertEquals(r.code, 0);
  assertMatch(r.stdout, /-t, --target <pid>/);
  assertMatch(r.stdout, /--preserve-credentials/);
});

// ---- the newest nsenter's options (issue 11)

Deno.test({
  name: "enter runs an executable script without #! with /bin/sh, as nsenter (execvp)",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ flags: ["-u", "-n"] });
    const script = await Deno.makeTempFile({ prefix: "nsjoin-noshebang-" });
    try {
      Deno.writeTextFileSync(script, 'echo "$0" "$@"; hostname\n');
      Deno.chmodSync(script, 0o755);
      const args = ["-t", String(target.pid), "-u", script, "a b", "c"];
      const ours = await cli(["enter", ...args]);
      const theirs = await nsenter(args);
      assertEquals([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
      assertEquals(ours.stdout.split("\n")[0], `${script} a b c`);
      // A file neither the kernel nor sh can run is still 126/127, as nsenter.
      const missing = await cli(["enter", "-t", String(target.pid), "-u", `${script}.none`]);
      assertEquals(missing.code, 127);
    } finally {
      Deno.removeSync(script);
    }
  },
});

/** A C program that holds at fd 3 a socket made in a network namespace it then leaves. */
const SOCKET_HOLDER_C = String.raw`
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
  if (unshare(CLONE_NEWNET) != 0) return 1;
  if (socket(AF_INET, SOCK_DGRAM, 0) != 3) return 2;
  if (unshare(CLONE_NEWNET) != 0) return 3;
  puts("ready");
  fflush(stdout);
  pause();
  return 0;
}
`;

async function socketHolder(): Promise<{ pid: number; child: Deno.ChildProcess; dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-sock-" });
  Deno.writeTextFileSync(`${dir}/holder.c`, SOCKET_HOLDER_C);
  const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/holder`, `${dir}/holder.c`] })
    .output();
  assertEquals(cc.code, 0, text(cc.stderr));
  const child = new Deno.Command(`${dir}/holder`, { stdout: "piped", stdin: "null" }).spawn();
  const reader = child.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  return { pid: child.pid, child, dir };
}

Deno.test({
  name:
    'enter -N FD: "Enter the network namespace of the target process\'s socket", and ls lists a namespace only a socket holds',
  ignore: NEEDS_ROOT,
  async fn() {
    const h = await socketHolder();
    try {
      const own = Deno.readLinkSync(`/proc/${h.pid}/ns/net`);
      const out = await cli([
        "enter",
        "-t",
        String(h.pid),
        "-N",
        "3",
        "readlink",
        "/proc/self/ns/net",
      ]);
      assertEquals(out.code, 0, out.stderr);
      const sockNs = out.stdout.trim();
      assertMatch(sockNs, /^net:\[\d+\]$/);
      assert(sockNs !== own && sockNs !== Deno.readLinkSync("/proc/self/ns/net"));
      // lsns 2.40+ finds it through SIOCGSKNS; so does ls, as held by a socket.
      const ls = await cli(["ls", "-J", "-l", "-t", "net", "-o", "NS,HOLDER,PID"]);
      const row = JSON.parse(ls.stdout).namespaces.find((r: { ns: number }) =>
        `net:[${r.ns}]` === sockNs
      );
      assertEquals(row, { ns: Number(sockNs.slice(5, -1)), holder: "socket", pid: null });
      // No socket at that fd: nothing runs, one line, 125.
      const bad = await cli(["enter", "-t", String(h.pid), "-N", "4", "touch", "/tmp/never"]);
      assertEquals(bad.code, 125);
      assertMatch(bad.stderr, /^nsjoin enter: Cannot enter the network namespace of fd 4 .*EBADF/);
      // An fd that is not a socket (its stdin): named as strerror names it, not "E88".
      const notSocket = await cli(["enter", "-t", String(h.pid), "-N", "0", "true"]);
      assertEquals(notSocket.code, 125);
      assertMatch(notSocket.stderr, /fd 0 .*: ENOTSOCK \(socket operation on non-socket\)/);
    } finally {
      h.child.kill("SIGKILL");
      await h.child.status;
      Deno.removeSync(h.dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    'enter --keep-caps: "ensure that capabilities granted in the user namespace are preserved in the child process"',
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget({ user, flags: ["-U", "-r"] });
    const caps = async (extra: string[]) => {
      const args = ["-t", String(target.pid), "-U", "--preserve-credentials", ...extra];
      const out = await cli(["enter", ...args, "grep", "-E", "^Cap(Eff|Amb)", "/proc/self/status"]);
      assertEquals(out.code, 0, out.stderr);
      return out.stdout;
    };
    // Our uid is not mapped there: execve drops what setns granted, as with nsenter 2.38.
    const plain = await caps([]);
    const theirs = await nsenter([
      "-t",
      String(target.pid),
      "-U",
      "--preserve-credentials",
      "grep",
      "-E",
      "^Cap(Eff|Amb)",
      "/proc/self/status",
    ]);
    assertEquals(plain, theirs.stdout);
    assertMatch(plain, /CapEff:\t0+\n/);
    const kept = await caps(["--keep-caps"]);
    // setns into a user namespace grants every capability this kernel has.
    const last = Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap"));
    const full = ((1n << BigInt(last + 1)) - 1n).toString(16).padStart(16, "0");
    assertEquals(kept, `CapEff:\t${full}\nCapAmb:\t${full}\n`);
  },
});

Deno.test({
  name:
    'enter --user-parent: "Enter the parent user namespace", from --user or "from any other enabled namespace"',
  ignore: NEEDS_ROOT,
  async fn() {
    // A user namespace inside a user namespace that also owns a uts namespace.
    await using target = await makeTarget({
      flags: ["-U", "-r", "--fork"],
      setup: "unshare -U -r -u sh -c 'echo ready:$$; exec sleep 100000' & wait",
    });
    let inner = 0;
    for (let i = 0; i < 200 && !inner; i++) {
      const kids = Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim();
      if (kids) inner = Number(kids.split(/\s+/)[0]);
      else await new Promise((r) => setTimeout(r, 10));
    }
    try {
      const outer = Deno.readLinkSync(`/proc/${target.pid}/ns/user`);
      for (const flags of [["-U", "--user-parent"], ["-u", "--user-parent"]]) {
        const out = await cli([
          "enter",
          "-t",
          String(inner),
          ...flags,
          "readlink",
          "/proc/self/ns/user",
        ]);
        assertEquals([out.code, out.stdout.trim()], [0, outer], flags.join(" "));
      }
      // The initial user namespace has no parent: 125, nothing run.
      const top = await cli(["enter", "-t", String(Deno.pid), "-U", "--user-parent", "true"]);
      assertEquals(top.code, 125);
      assertEquals(top.stderr.trim().split("\n").length, 1);
      // The outer one's parent is our own user namespace, which setns refuses (nsenter:
      // "reassociate to namespace 'ns/user' failed"): said so, not "not of that type".
      const own = await cli(["enter", "-t", String(target.pid), "--user-parent", "true"]);
      assertEquals(own.code, 125);
      assertEquals(
        own.stderr,
        `nsjoin enter: Cannot enter the parent user namespace of /proc/${target.pid}/ns/user: ` +
          "EINVAL (invalid argument) - it is our own user namespace, which the kernel does not " +
          "let a process enter again\n",
      );
    } finally {
      if (inner) Deno.kill(inner, "SIGKILL");
    }
  },
});

Deno.test({
  name:
    "enter --user-parent is the parent of the target's user namespace whatever else is joined, as lsns's PNS names it",
  ignore: NEEDS_ROOT,
  async fn() {
    // One process in user namespace C, whose parent B owns its network namespace and has no
    // process of its own; its uts namespace is the host's. nsenter 2.42 (Linux 6.11+) takes
    // the parent from the target's user namespace (PIDFD_GET_USER_NAMESPACE), so -U, -n and
    // -u all enter B. We took the parent of the owner of the first namespace named: -n
    // entered B's parent, a user namespace the user did not ask for, and -u failed.
    await using target = await makeTarget({
      flags: ["-U", "-r", "--fork"],
      setup: "unshare -U -r -n unshare -U -r sh -c 'echo ready:$$; exec sleep 100000' & wait",
    });
    let inner = 0;
    for (let i = 0; i < 200 && !inner; i++) {
      const kids = Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim();
      if (kids) inner = Number(kids.split(/\s+/)[0]);
      else await new Promise((r) => setTimeout(r, 10));
    }
    try {
      const lsns = await runPiped("lsns", {
        args: ["-n", "-o", "PNS", "-t", "user", "-p", String(inner)],
      });
      const parent = `user:[${lsns.stdout.trim()}]`;
      assertMatch(parent, /^user:\[\d+\]$/, lsns.stderr);
      assert(parent !== Deno.readLinkSync(`/proc/${target.pid}/ns/user`), "B is not A");
      for (const flags of [["-U"], ["-n"], ["-u"], ["-n", "-u"]]) {
        const out = await cli(
          [
            "enter",
            "-t",
            String(inner),
            ...flags,
            "--user-parent",
            "readlink",
            "/proc/self/ns/user",
          ],
        );
        assertEquals([out.code, out.stdout.trim()], [0, parent], `${flags}: ${out.stderr}`);
      }
      // A --user FILE names the namespace whose parent is entered, as nsenter's -U FILE.
      const file = await cli([
        "enter",
        "-t",
        String(target.pid),
        `--user=/proc/${inner}/ns/user`,
        "--user-parent",
        "readlink",
        "/proc/self/ns/user",
      ]);
      assertEquals([file.code, file.stdout.trim()], [0, parent], file.stderr);
      // Without -t nor --user=FILE there is no user namespace to start from: nsenter says "no
      // target PID specified"; we said nothing and entered the parent of the net file's owner.
      const none = await cli(
        ["enter", `--net=/proc/${inner}/ns/net`, "--user-parent", "readlink", "/proc/self/ns/user"],
      );
      assertEquals([none.code, none.stdout], [2, ""], none.stderr);
      assertMatch(none.stderr, /^nsjoin enter: --user-parent needs -t PID or --user=FILE/);
    } finally {
      if (inner) Deno.kill(inner, "SIGKILL");
    }
  },
});

Deno.test({
  name: 'enter -c: "Add the initiated process to the cgroup of the target process"',
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ flags: ["-u"] });
    const name = `nsjoin-enter-${crypto.randomUUID().slice(0, 8)}`;
    const dir = `/sys/fs/cgroup/pids/${name}`;
    Deno.mkdirSync(dir);
    try {
      Deno.writeTextFileSync(`${dir}/cgroup.procs`, String(target.pid));
      const out = await cli([
        "enter",
        "-t",
        String(target.pid),
        "-u",
        "-c",
        "cat",
        "/proc/self/cgroup",
      ]);
      assertEquals(out.code, 0, out.stderr);
      assertMatch(out.stdout, new RegExp(`^\\d+:pids:/${name}$`, "m"));
      const without = await cli([
        "enter",
        "-t",
        String(target.pid),
        "-u",
        "cat",
        "/proc/self/cgroup",
      ]);
      assert(!without.stdout.includes(name), "joined the cgroup without -c");
    } finally {
      await target.kill();
      for (let i = 0; i < 100; i++) {
        try {
          Deno.removeSync(dir);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
  },
});

Deno.test({
  name: "enter -Z without SELinux does nothing, as nsenter; -t PID:INODE joins that very process",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ flags: ["-u"], hostname: "zctx" });
    const args = ["-Z", "-t", String(target.pid), "-u", "hostname"];
    const ours = await cli(["enter", ...args]);
    const theirs = await nsenter(args);
    assertEquals([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
    assertEquals(ours.stdout, "zctx\n");
    // The process's pidfs inode (what getino(1) prints): right one runs, wrong one does not.
    const fd = pidfdOpen(target.pid);
    const inode = nsfsIdentity(fd)!.ino;
    nsfsClose(fd);
    const right = await cli(["enter", "-t", `${target.pid}:${inode}`, "-u", "hostname"]);
    assertEquals([right.code, right.stdout], [0, "zctx\n"]);
    // -N and -c with PID:INODE take the PID from it.
    const c = await cli(["enter", "-t", `${target.pid}:${inode}`, "-u", "-c", "true"]);
    assertEquals(c.code, 0, c.stderr);
    const nsid = await cli(["enter", "-t", String(target.pid), "--uts=:12345", "hostname"]);
    assertEquals(nsid.code, 125);
    assertMatch(nsid.stderr, /by its id/);
  },
});

Deno.test({
  name: "exec -it under a terminal prints \\r\\n as docker exec -it does, not \\r\\r\\n",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    // script(1) gives nsjoin a terminal and copies what reaches it, byte for byte.
    const cmd = `${Deno.execPath()} run -A --quiet --no-lock ${
      new URL("../cli.ts", import.meta.url).pathname
    } exec -it ${target.pid} printf 'a\\nb\\n'`;
    // script's stdin stays open: at EOF on it, script types an end-of-file byte into the
    // terminal, which the terminal echoes as ^@ whenever it is not raw at that moment.
    const child = new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = await child.output();
    await child.stdin.close().catch(() => {});
    const seen = text(out.stdout);
    assertEquals(out.code, 0, text(out.stderr));
    assert(seen.includes("a\r\nb\r\n"), JSON.stringify(seen));
    assert(!seen.includes("\r\r\n"), JSON.stringify(seen));
  },
});
