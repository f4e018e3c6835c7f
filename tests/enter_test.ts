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
  testUser,
  text,
} from "./_fixtures.ts";

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
      const r = await cli(["enter", "-t", p, "-a", "/etc/hostname"]);
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

Deno.test({
  name: "exec -it under a terminal prints \\r\\n as docker exec -it does, not \\r\\r\\n",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    // script(1) gives nsjoin a terminal and copies what reaches it, byte for byte.
    const cmd = `${Deno.execPath()} run -A --quiet --no-lock ${
      new URL("../cli.ts", import.meta.url).pathname
    } exec -it ${target.pid} printf 'a\\nb\\n'`;
    const out = await new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const seen = text(out.stdout);
    assertEquals(out.code, 0, text(out.stderr));
    assert(seen.includes("a\r\nb\r\n"), JSON.stringify(seen));
    assert(!seen.includes("\r\r\n"), JSON.stringify(seen));
  },
});
