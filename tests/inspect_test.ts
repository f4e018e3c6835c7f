/**
 * `inspect` against real namespaces made with unshare, a real memory cgroup, and what
 * `free` prints inside the target.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  CI,
  cli,
  IS_ROOT,
  makeTarget,
  NEEDS_ROOT,
  sh,
  type TestTarget,
  testUser,
} from "./_fixtures.ts";
import { must, removeContainers, startContainer } from "./_engines.ts";
import { inspect } from "../src/inspect.ts";
import { formatBytes, inspectText, parseInspectArgs } from "../src/cli/inspect.ts";

const ino = (path: string) => {
  const link = Deno.readLinkSync(path);
  return Number(link.slice(link.indexOf("[") + 1, -1));
};

Deno.test({
  name: "inspect tells which namespaces a target shares with the caller",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ flags: ["-u", "-n"] });
    await t.step("library", () => {
      const r = inspect(target.pid);
      const shared = Object.fromEntries(r.namespaces.map((n) => [n.type, n.shared]));
      assertEquals(shared, {
        mnt: true,
        net: false,
        pid: true,
        uts: false,
        ipc: true,
        user: true,
        cgroup: true,
        time: true,
      });
      assertEquals(r.target.namespaces.net, ino(`/proc/${target.pid}/ns/net`));
      assertEquals(r.other.kind, "self");
      assertEquals(r.other.pid, Deno.pid);
      assertEquals(r.target.command, "sleep 100000");
    });
    await t.step("CLI --json and table", async () => {
      const json = await cli(["inspect", "--json", String(target.pid)]);
      assertEquals(json.code, 0, json.stderr);
      const r = JSON.parse(json.stdout);
      assertEquals(
        r.namespaces.filter((n: { shared: boolean }) => !n.shared).map((n: { type: string }) =>
          n.type
        ),
        ["net", "uts"],
      );
      const table = await cli(["inspect", String(target.pid)]);
      assertEquals(table.code, 0, table.stderr);
      assertMatch(table.stdout, /^FIELD +NS +PID \d+ +CALLER \(PID \d+\)$/m);
      assertMatch(table.stdout, /^ns net +isolated +\d+ +\d+$/m);
      assertMatch(table.stdout, /^ns mnt +shared +(\d+) +\1$/m);
      assert(!table.stdout.includes("\x1b"), "colour off a terminal");
    });
  },
});

Deno.test({
  name: "inspect compares two targets with each other",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using a = await makeTarget();
    await using b = await makeTarget();
    await t.step("two separate sets of namespaces: all isolated but user and time", () => {
      const r = inspect(a.pid, b.pid);
      const isolated = r.namespaces.filter((n) => n.shared === false).map((n) => n.type);
      assertEquals(isolated, ["mnt", "net", "pid", "uts", "ipc", "cgroup"]);
      assertEquals(r.other.kind, "process");
    });
    await t.step("a target with itself: all shared", () => {
      assert(inspect(a.pid, String(a.pid)).namespaces.every((n) => n.shared === true));
    });
    await t.step("a namespace file against a process: only its type is compared", () => {
      const r = inspect(`/proc/${a.pid}/ns/net`, b.pid);
      assertEquals(r.target.kind, "file");
      const compared = r.namespaces.filter((n) => n.shared !== null);
      assertEquals(compared.map((n) => [n.type, n.shared]), [["net", false]]);
      assertEquals(r.target.userNamespace?.ns, ino("/proc/self/ns/user"));
      assertEquals(r.target.memory, null);
    });
  },
});

Deno.test({
  name: "inspect shows the user namespace a non-root user made, with its uid and gid maps",
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget({ user, flags: ["-U", "-r", "-u"] });
    const r = inspect(target.pid);
    const u = r.target.userNamespace!;
    assertEquals(u.ns, ino(`/proc/${target.pid}/ns/user`));
    assertEquals(u.ownerUid, user.uid);
    assertEquals(u.parent, ino("/proc/self/ns/user"));
    assertEquals(u.uidMap, [{ inside: 0, outside: user.uid, count: 1 }]);
    assertEquals(u.gidMap, [{ inside: 0, outside: user.gid, count: 1 }]);
    assertEquals(r.target.uid, user.uid);
    assertEquals(r.namespaces.find((n) => n.type === "user")?.shared, false);
  },
});

/** The memory controller's v1 mount, if this host has one. */
function memoryV1(): string | undefined {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const tail = line.slice(line.indexOf(" - ") + 3).split(" ");
    if (tail[0] === "cgroup" && tail[2]?.split(",").includes("memory")) return line.split(" ")[4];
  }
  return undefined;
}

/** The cgroup v2 mount with the memory controller, if this host has one. */
function memoryV2(): string | undefined {
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    if (!line.includes(" - cgroup2 ")) continue;
    const dir = line.split(" ")[4];
    try {
      if (Deno.readTextFileSync(`${dir}/cgroup.controllers`).split(" ").includes("memory")) {
        return dir;
      }
    } catch {
      // Not readable: not usable.
    }
  }
  return undefined;
}

Deno.test({
  name: "inspect reports the cgroup's memory limit and that free inside cannot see it",
  ignore: NEEDS_ROOT,
  async fn() {
    const v2 = memoryV2();
    const base = v2 ?? memoryV1();
    assert(base, "no memory cgroup controller on this host");
    const dir = `${base}/nsjoin-inspect-${Deno.pid}`;
    const limit = 64 * 1024 * 1024;
    Deno.mkdirSync(dir);
    if (v2) Deno.writeTextFileSync(`${dir}/memory.max`, String(limit));
    else Deno.writeTextFileSync(`${dir}/memory.limit_in_bytes`, String(limit));
    // The shell moves itself ("0") before it execs sleep, so sleep's memory is charged there.
    let target: TestTarget | undefined;
    try {
      target = await makeTarget({
        flags: ["-m", "-p", "--fork", "--mount-proc"],
        setup: `echo 0 > ${dir}/cgroup.procs`,
      });
      const r = inspect(target.pid);
      const m = r.target.memory!;
      assertEquals(m.cgroupVersion, v2 ? 2 : 1);
      assertEquals(m.cgroupDir, dir);
      assertEquals(m.limit, limit);
      assert(m.usage! > 0 && m.usage! < limit, `usage ${m.usage}`);
      // What free prints inside the target (its own /proc, mounted by --mount-proc).
      const inside = await sh("nsenter", ["-t", String(target.pid), "-m", "-p", "free", "-b"]);
      const mem = inside.split("\n").find((l) => l.startsWith("Mem:"))!.split(/\s+/);
      assertEquals(m.free!.total, Number(mem[1]));
      assertEquals(m.free!.source, `/proc/${target.pid}/root/proc/meminfo`);
      assert(m.free!.total > limit, "free inside shows the host's memory, not the limit");
      assertEquals(m.limitVisibleInside, false);
      const table = await cli(["inspect", String(target.pid)]);
      assertMatch(table.stdout, /^memory limit +64\.0 MiB +/m);
      assertMatch(
        table.stdout,
        /note: inside pid \d+, free reports .* but its cgroup allows 64\.0 MiB/,
      );
      // The caller is not in that cgroup: its column says so.
      assert(inspect(target.pid).other.memory!.cgroupDir !== dir);
    } finally {
      await target?.kill();
      for (let i = 0; i < 50; i++) {
        try {
          Deno.removeSync(dir);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20)); // the killed process leaves the cgroup
        }
      }
    }
  },
});

function _docker(): boolean {
  try {
    return new Deno.Command("docker", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "inspect docker:NAME shows the container's memory limit that free inside does not",
  // Needs dockerd (tests/setup.sh starts it); in CI it must run.
  ignore: !CI && (!IS_ROOT || !_docker()),
  async fn() {
    // Upper case in the name: inspect shows it as it is (docker names are case-sensitive).
    const name = `nsjoin-Inspect-${Deno.pid}`;
    const c = await startContainer("docker", name, ["--memory", "64m"]);
    try {
      const out = await cli(["inspect", "--json", `docker:${name}`]);
      assertEquals(out.code, 0, out.stderr);
      const r = JSON.parse(out.stdout);
      assertEquals(r.target.pid, c.pid);
      assertEquals(r.target.container, { engine: "docker", id: c.id, name });
      assertEquals(r.target.memory.limit, 64 * 1024 * 1024);
      const free = await must("docker", ["exec", name, "free", "-b"]);
      const total = Number(free.split("\n").find((l) => l.startsWith("Mem:"))!.split(/\s+/)[1]);
      assertEquals(r.target.memory.free.total, total);
      assertEquals(r.target.memory.limitVisibleInside, false);
      assertEquals(
        r.namespaces.filter((n: { shared: boolean }) => !n.shared).map((n: { type: string }) =>
          n.type
        ),
        ["mnt", "net", "pid", "uts", "ipc"],
      );
      const table = await cli(["inspect", name]);
      assertMatch(table.stdout, new RegExp(`^FIELD +NS +docker:${name} +CALLER `, "m"));
    } finally {
      await removeContainers([c]);
    }
  },
});

Deno.test("inspect rejects bad usage with exit 2 and a missing process with 125", async (t) => {
  await t.step("no target", async () => {
    const out = await cli(["inspect"]);
    assertEquals(out.code, 2);
    // Its targets include containers and pods: the message names them too.
    assertMatch(out.stderr, /no target given: give a PID, a container or a namespace file/);
  });
  await t.step("three targets", async () => {
    const out = await cli(["inspect", "1", "2", "3"]);
    assertEquals(out.code, 2);
    assertEquals(out.stderr.trim().split("\n").length, 1);
  });
  await t.step("not a PID, a path or a container reference", async () => {
    const out = await cli(["inspect", "no/pe"]);
    assertEquals(out.code, 2);
    assertMatch(out.stderr, /not a name or ID/);
  });
  await t.step("no such container", async () => {
    const out = await cli(["inspect", `nsjoin-nonexistent-${Deno.pid}`]);
    assertEquals(out.code, 125);
    assertMatch(out.stderr, /Cannot find container/);
  });
  await t.step("no such process", async () => {
    // 4194304: the kernel's PID_MAX_LIMIT, which no PID reaches; more digits are a container.
    const out = await cli(["inspect", "4194304"]);
    assertEquals(out.code, 125);
    assertMatch(out.stderr, /ESRCH/);
  });
});

Deno.test("parseInspectArgs and formatBytes", () => {
  assertEquals(parseInspectArgs(["42"]), {
    target: 42,
    other: undefined,
    json: false,
    help: false,
  });
  assertEquals(parseInspectArgs(["-J", "42", "/run/netns/x"]).other, "/run/netns/x");
  assertEquals(formatBytes(64 * 1024 * 1024), "64.0 MiB");
  assertEquals(formatBytes(512), "512 B");
});

Deno.test({
  name: "inspect escapes what the target controls as lsns does (\\x0a, \\x1b); --json stays exact",
  ignore: NEEDS_ROOT,
  async fn() {
    const evil = "evil\nFIELD forged\x1b]0;title\x07\x1b[31m";
    await using target = await makeTarget({
      flags: ["-u"],
      setup: `echo ready:$$; exec bash -c 'exec -a "$(printf "$0")" sleep 100000' ` +
        `'evil\\nFIELD forged\\033]0;title\\007\\033[31m'`,
    });
    for (let i = 0; i < 200; i++) {
      if (Deno.readTextFileSync(`/proc/${target.pid}/cmdline`).startsWith(evil)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const table = await cli(["inspect", String(target.pid)]);
    assertEquals(table.code, 0, table.stderr);
    assert(!table.stdout.includes("\x1b"), "ESC reached the terminal");
    assert(!/^FIELD forged/m.test(table.stdout), "a forged row");
    assertMatch(table.stdout, /evil\\x0aFIELD forged\\x1b\]0;title\\x07/);
    const json = JSON.parse((await cli(["inspect", "--json", String(target.pid)])).stdout);
    assertEquals(json.target.command, `${evil} 100000`);
    // A container name from a user's engine state, and a cgroup path, escaped the same way.
    const report = inspect(target.pid);
    report.target.container = { engine: "podman", id: "c0ffee", name: "web\x1b[2J\nx" };
    report.target.cgroups = [{ hierarchy: 0, controllers: [], path: "/a\x1b[0mb" }];
    const text = inspectText(report);
    assert(!text.includes("\x1b") && !text.includes("web\n"), text);
    assertMatch(text, /podman:web\\x1b\[2J\\x0ax/);
    assertMatch(text, /\/a\\x1b\[0mb/);
  },
});
