/**
 * Containers as targets: `nsjoin exec` side by side with `docker exec` and `podman exec`
 * (rootful, and rootless joined by root and by its owner), `nsjoin ps`, netns:NAME, and
 * the resolution fallbacks. The engines are started by tests/setup.sh; in CI these tests
 * run, elsewhere they skip when docker, podman or the rootless user are missing.
 */
import { NsCommand } from "../src/command.ts";
import { parseExecArgs } from "../src/cli/exec.ts";
import {
  cgroupProcsOf,
  containerExecOptions,
  resolveContainerUser,
} from "../src/container_exec.ts";
import {
  findContainers,
  matchContainer,
  parseContainerRef,
  resolveContainer,
} from "../src/containers.ts";
import { containerOfCgroup } from "../src/engines.ts";
import { NamespaceError } from "../src/errors.ts";
import {
  buildRootfs,
  ctrExec,
  denoForUsers,
  engineExec,
  ensureImages,
  type HostUser,
  IMAGE,
  must,
  podmanUser,
  removeContainers,
  removeCtr,
  type Run,
  run,
  skipWithoutEngines,
  startContainer,
  startCtr,
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
  ROOT,
} from "./_fixtures.ts";

const SKIP = skipWithoutEngines("container tests", ["docker", "podman", "rootless", "tmux"]);

const UNCONFINED = ["--security-opt", "seccomp=unconfined"];
const RUN = `nsjt${Math.random().toString(36).slice(2, 8)}`;

/** Runs the CLI as root, or as `user` with a Deno copy that user can execute. */
async function ours(args: string[], user?: HostUser, stdin?: string): Promise<Run> {
  if (!user) return await cli(args, { stdin });
  const deno = await denoForUsers();
  // The owner of a rootless container cannot read its seccomp filter (that needs root):
  // exec is refused unless told to run without it (tests/confinement_test.ts).
  if (args[0] === "exec") args = ["exec", ...UNCONFINED, ...args.slice(1)];
  return await run(deno, ["run", "-A", "--quiet", `${ROOT}cli.ts`, ...args], {
    user,
    env: { NO_COLOR: "1" },
    stdin,
  });
}

const sorted = (s: string) => s.trim().split("\n").sort().join("\n");
/** `ls -l /proc/self/ns` without the date columns: "name -> type:[inode]" per line. */
const nsLinks = (s: string) =>
  s.trim().split("\n").filter((l) => l.includes("->")).map((l) =>
    l.replace(/^.*\s(\S+ -> \S+)$/, "$1")
  ).join("\n");

/** The same command through nsjoin and through the engine: same stdout and exit code. */
async function same(
  c: TestContainer,
  ref: string,
  flags: string[],
  cmd: string[],
  opts: { by?: HostUser; normalize?: (s: string) => string } = {},
): Promise<string> {
  const norm = opts.normalize ?? ((s: string) => s);
  const [a, b] = await Promise.all([
    ours(["exec", ...flags, ref, ...cmd], opts.by),
    engineExec(c, flags, cmd),
  ]);
  assertEquals(
    { code: a.code, stdout: norm(a.stdout) },
    { code: b.code, stdout: norm(b.stdout) },
    `nsjoin exec ${flags.join(" ")} ${ref} ${cmd.join(" ")} differs from ${c.cli} exec` +
      ` (stderr: ${a.stderr.trim()})`,
  );
  return a.stdout;
}

/** The differential every container gets: what a user compares between the two. */
async function differential(t: Deno.TestContext, c: TestContainer, ref: string, by?: HostUser) {
  const o = { by };
  await t.step("id, hostname, pwd", async () => {
    await same(c, ref, [], ["id"], o);
    assertEquals((await same(c, ref, [], ["hostname"], o)).trim(), `h-${c.name}`);
    assertEquals((await same(c, ref, [], ["pwd"], o)).trim(), "/home");
  });
  await t.step("env (the container's Env, HOME as the engine sets it)", async () => {
    // In the engine's own order: the helper puts back what Deno.Command sorts.
    const env = await same(c, ref, [], ["env"], o);
    assertMatch(env, /^FOO=bar$/m);
    assertMatch(env, /^GREETING=hello$/m);
    assertMatch(env, /^HOME=\/root$/m);
  });
  await t.step("cgroups: the program joins the container's", async () => {
    await same(c, ref, [], ["cat", "/proc/self/cgroup"], o);
    // As a non-root user (the v2 cgroup is entered before the ids change, where the
    // container's seccomp filter cannot refuse clone3) and with a pty (a relay first).
    await same(c, ref, ["-u", "app"], ["cat", "/proc/self/cgroup"], o);
    await same(c, ref, ["-t"], ["cat", "/proc/self/cgroup"], {
      ...o,
      normalize: (s) => s.replaceAll("\r", ""),
    });
  });
  await t.step("namespaces: ls -l /proc/self/ns", async () => {
    await same(c, ref, [], ["ls", "-l", "/proc/self/ns"], { ...o, normalize: nsLinks });
  });
  await t.step("capabilities: the container's, all with --privileged", async () => {
    await same(c, ref, [], ["grep", "^Cap", "/proc/self/status"], o);
    // docker exec --privileged itself fails on hosts whose root lacks a capability (runc
    // "unable to apply caps"), so --privileged is checked against our own set instead.
    const bnd = (s: string) => s.match(/^CapBnd:\s+(\S+)/m)?.[1];
    const priv = await ours(["exec", "--privileged", ref, "cat", "/proc/self/status"], by);
    const plain = await ours(["exec", ref, "cat", "/proc/self/status"], by);
    const mine = by
      ? (await run("cat", ["/proc/self/status"], { user: by })).stdout
      : Deno.readTextFileSync("/proc/self/status");
    // In a joined user namespace the program holds every capability of that namespace.
    const full =
      ((1n << BigInt(Number(Deno.readTextFileSync("/proc/sys/kernel/cap_last_cap")) + 1)) - 1n)
        .toString(16).padStart(16, "0");
    assertEquals(bnd(priv.stdout), c.user ? full : bnd(mine));
    if (!by) assert(bnd(plain.stdout) !== bnd(mine), "without --privileged caps are limited");
  });
  await t.step("-u with a name, name:group and a bare uid", async () => {
    const who = ["sh", "-c", "id -u; id -g; echo $HOME"];
    assertEquals(await same(c, ref, ["-u", "app"], who, o), "1000\n1000\n/home/app\n");
    await same(c, ref, ["-u", "app:staff"], who, o);
    await same(c, ref, ["-u", "app"], ["id"], o);
    // An explicit group: no /etc/group memberships (docker adds the primary gid, podman not).
    await same(c, ref, ["-u", "app:staff"], ["id"], o);
    await same(c, ref, ["-u", "app:0"], ["id"], o);
    await same(c, ref, ["--user=1234"], ["sh", "-c", "id -u; id -g"], o);
  });
  await t.step("-w, -e and --env-file", async () => {
    assertEquals(await same(c, ref, ["-w", "/tmp"], ["pwd"], o), "/tmp\n");
    const file = await Deno.makeTempFile({ prefix: "nsjoin-env-" });
    await Deno.chmod(file, 0o644);
    try {
      await Deno.writeTextFile(file, "# a comment\nFROM_FILE=1\n\nFOO=from-file\n");
      const env = await same(
        c,
        ref,
        ["--env-file", file, "-e", "EXTRA=x y", "-e", "GREETING=bye"],
        ["env"],
        // podman appends new variables in Go map order (not stable): compare the set.
        { ...o, normalize: sorted },
      );
      assertMatch(env, /^FROM_FILE=1$/m);
      assertMatch(env, /^FOO=from-file$/m);
      assertMatch(env, /^EXTRA=x y$/m);
      assertMatch(env, /^GREETING=bye$/m);
    } finally {
      await Deno.remove(file);
    }
  });
  await t.step("exit codes and stdin (-i)", async () => {
    await same(c, ref, [], ["sh", "-c", "exit 7"], o);
    const missing = await ours(["exec", ref, "no-such-program"], by);
    assertEquals(missing.code, 127, missing.stderr);
    const piped = await ours(["exec", "-i", ref, "cat"], by, "hello\n");
    assertEquals(piped.stdout, "hello\n");
    const closed = await ours(["exec", ref, "cat"], by, "hello\n");
    assertEquals(closed, { code: 0, stdout: "", stderr: "" });
  });
}

/** Polls a tmux pane until `re` matches its text. */
async function waitPane(socket: string, re: RegExp): Promise<string> {
  let pane = "";
  for (let i = 0; i < 150; i++) {
    pane = (await run("tmux", ["-L", socket, "capture-pane", "-p", "-t", "s"])).stdout;
    if (re.test(pane)) return pane;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tmux pane never matched ${re}:\n${pane}`);
}

let _sessions = 0;

/** An interactive `exec -it … sh` in tmux: the container's prompt, its pty, window sizes. */
async function ttySession(ref: string, user?: HostUser) {
  // A tmux server of its own per session: reusing a socket name right after kill-server
  // races the old server's exit ("server exited unexpectedly").
  const socket = `${RUN}-tty${++_sessions}`;
  // A directory of its own (no sticky bit), so the session's user can rename into it.
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-stty-" });
  await Deno.chmod(dir, 0o777);
  const after = `${dir}/stty`;
  const readAfter = () => Deno.readTextFile(after).catch(() => "");
  const deno = user ? await denoForUsers() : Deno.execPath();
  const flags = user ? `${UNCONFINED.join(" ")} ` : "";
  const line = `${deno} run -A --quiet ${ROOT}cli.ts exec -it ${flags}${ref} sh; ` +
    // Written whole, then renamed: the test reads it as soon as it is not empty.
    `{ echo rc=$?; stty -a; } > ${after}.part; mv ${after}.part ${after}; sleep 30`;
  const env = user
    ? ["env", "-i", `HOME=${user.home}`, "PATH=/usr/bin:/bin", "TERM=xterm"]
    : ["env", "TERM=xterm"];
  const wrap = user
    ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups"]
    : [];
  try {
    await must("tmux", [
      "-L",
      socket,
      "-f",
      "/dev/null",
      "new-session",
      "-d",
      "-x",
      "100",
      "-y",
      "30",
      "-s",
      "s",
      ...wrap,
      ...env,
      "sh",
      "-c",
      line,
    ]);
    await waitPane(socket, /^\/home # ?$/m);
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "tty; stty size", "Enter"]);
    const pane = await waitPane(socket, /^30 100\s*$/m);
    assertMatch(pane, /^\/dev\/pts\/[0-9]+\s*$/m);
    await must("tmux", ["-L", socket, "resize-window", "-t", "s", "-x", "120", "-y", "40"]);
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "stty size", "Enter"]);
    await waitPane(socket, /^40 120\s*$/m);
    // ^C goes through the pty to the container's foreground job, not to nsjoin.
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "sleep 1000", "Enter"]);
    await new Promise((r) => setTimeout(r, 300));
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "C-c"]);
    await waitPane(socket, /^\^C\s*$/m);
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "echo T=$TERM", "Enter"]);
    await waitPane(socket, /^T=xterm\s*$/m);
    await must("tmux", ["-L", socket, "send-keys", "-t", "s", "exit 3", "Enter"]);
    for (let i = 0; i < 100 && !(await readAfter()); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const stty = await readAfter();
    assertMatch(stty, /^rc=3$/m, "the shell's exit status is the CLI's");
    assertMatch(stty, /(^|\s)icanon(\s|$)/, "the terminal was left in raw mode");
    assertMatch(stty, /(^|\s)echo(\s|$)/, "the terminal was left without echo");
  } finally {
    await run("tmux", ["-L", socket, "kill-server"]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name: "exec behaves like docker exec and podman exec, for each engine and rootless",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const made: TestContainer[] = [];
    try {
      const [d, p, r] = await Promise.all([
        startContainer("docker", `${RUN}-same`),
        startContainer("podman", `${RUN}-same`),
        startContainer("podman", `${RUN}-rootless`, [], owner),
      ]);
      made.push(d, p, r);

      await t.step("docker", (t) => differential(t, d, `docker:${d.name}`));
      await t.step("podman (rootful)", (t) => differential(t, p, `podman:${p.name}`));
      await t.step("podman (rootless) joined by root", (t) => differential(t, r, r.name));
      await t.step(
        "podman (rootless) joined by its owner",
        (t) => differential(t, r, r.name, owner),
      );

      await t.step("containerd: a ctr task, side by side with ctr task exec", async () => {
        const id = `${RUN}-task`;
        try {
          const task = await startCtr(id);
          // ctr's exec has no PATH unless the image sets one: give absolute paths.
          const script = "hostname; env | sort; cat /proc/self/cgroup; pwd; id -u; id -g; " +
            "ls -l /proc/self/ns | sed 's/.* \\([a-z_]* -> .*\\)/\\1/'; grep ^Cap /proc/self/status";
          const [a, b] = await Promise.all([
            ours(["exec", `containerd:${id}`, "/bin/sh", "-c", script]),
            ctrExec(id, ["/bin/sh", "-c", script]),
          ]);
          assertEquals(
            { code: a.code, stdout: a.stdout },
            { code: b.code, stdout: b.stdout },
            a.stderr,
          );
          assertMatch(a.stdout, /^FOO=bar$/m);
          const rows = JSON.parse((await ours(["ps", "--json"])).stdout) as {
            id: string;
            engine: string;
            pid: number;
          }[];
          const row = rows.find((x) => x.id === id);
          assertEquals([row?.engine, row?.pid], ["containerd", task.pid]);
          const bare = await ours(["exec", id, "/bin/hostname"]);
          assertEquals(bare.code, 0, bare.stderr);
        } finally {
          await removeCtr(id);
        }
      });

      await t.step(
        "-t: a pty inside the container, its prompt, window size, terminal restored",
        async () => {
          await ttySession(`docker:${d.name}`);
          await ttySession(r.name, owner);
        },
      );

      await t.step(
        "-n joins only the namespaces named (uts here: host files, host cwd)",
        async () => {
          // cli() runs from /: the container's WorkingDir (/home) is not applied without mnt.
          const script = `hostname; pwd; test -e ${ROOT}cli.ts && echo host-files`;
          const res = await ours(["exec", "-n", "uts", `docker:${d.name}`, "sh", "-c", script]);
          assertEquals({ out: res.stdout, err: res.stderr }, {
            out: `h-${d.name}\n/\nhost-files\n`,
            err: "",
          });
        },
      );

      await t.step("SIGTERM to nsjoin ends the program in the container (exit 143)", async () => {
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--quiet",
            `${ROOT}cli.ts`,
            "exec",
            `docker:${d.name}`,
            "sleep",
            "4242",
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        const running = async () =>
          (await engineExec(d, [], ["ps", "-o", "args"])).stdout.includes("sleep 4242");
        for (let i = 0; i < 100 && !(await running()); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert(await running(), "the program never started");
        child.kill("SIGTERM");
        assertEquals((await child.status).code, 143);
        assert(!(await running()), "the program outlived nsjoin");
        // Where docker exec differs (README, the exec paragraph): its CLI exits 0 on SIGTERM
        // and leaves the program running in the container.
        const theirs = new Deno.Command("docker", {
          args: ["exec", d.name, "sleep", "4242"],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        for (let i = 0; i < 100 && !(await running()); i++) {
          await new Promise((r) => setTimeout(r, 100));
        }
        assert(await running(), "docker exec's program never started");
        theirs.kill("SIGTERM");
        assertEquals((await theirs.status).code, 0);
        await new Promise((r) => setTimeout(r, 300));
        assert(await running(), "docker exec's program ended with its CLI");
        await engineExec(d, [], ["pkill", "-f", "sleep 4242"]);
      });

      await t.step("-d returns at once; the program runs in the container", async () => {
        const res = await ours(["exec", "-d", `docker:${d.name}`, "sh", "-c", "echo ran > /tmp/d"]);
        assertEquals(res, { code: 0, stdout: "", stderr: "" });
        let out = "";
        for (let i = 0; i < 50 && out !== "ran\n"; i++) {
          out = (await engineExec(d, [], ["cat", "/tmp/d"])).stdout;
          if (out !== "ran\n") await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(out, "ran\n");
      });

      await t.step(
        "-d from a terminal: the program outlives the terminal, as docker's",
        async () => {
          // `ssh -t host 'nsjoin exec -d web daemon'`, tmux, script(1): the command's session
          // ends with it, and the kernel sends SIGHUP to the terminal's foreground group. The
          // helper that waits for the program was in that group and relayed it: killed.
          const cmd = `${Deno.execPath()} run -A --quiet ${ROOT}cli.ts exec -d docker:${d.name} ` +
            `sleep 4343; docker exec -d ${d.name} sleep 4344`;
          const r = await run("script", ["-qec", cmd, "/dev/null"], { stdin: "" });
          assertEquals(r.code, 0, r.stdout + r.stderr);
          // Both -d programs start after their exec returned (a loaded machine took more than
          // the 500 ms once waited for). Killed, ours is gone before script returns: it never
          // shows.
          let ps = "";
          for (let i = 0; i < 100; i++) {
            ps = (await engineExec(d, [], ["ps", "-o", "args"])).stdout;
            if (/^sleep 4343$/m.test(ps) && /^sleep 4344$/m.test(ps)) break;
            await new Promise((r) => setTimeout(r, 100));
          }
          assertMatch(ps, /^sleep 4344$/m, "control: docker exec -d's program runs");
          assertMatch(ps, /^sleep 4343$/m, `nsjoin's -d program was killed:\n${ps}`);
          await engineExec(d, [], ["pkill", "-f", "sleep 434[34]"]);
        },
      );

      await t.step("podman without --hostname: no HOSTNAME, as podman exec", async () => {
        const name = `${RUN}-nohost`;
        const id =
          (await must("podman", ["run", "-d", "--name", name, IMAGE, "tail", "-f", "/dev/null"]))
            .trim().split("\n").pop()!;
        const nohost: TestContainer = { cli: "podman", engine: "podman", name, id, pid: 0 };
        made.push(nohost);
        const env = await same(nohost, `podman:${name}`, [], ["env"]);
        assert(!/^HOSTNAME=/m.test(env), env);
      });

      await t.step("a container's configured user is the default", async () => {
        const u = await startContainer("docker", `${RUN}-user`, ["--user", "app", "-w", "/tmp"]);
        made.push(u);
        await same(u, u.name, [], ["sh", "-c", "id -u; id -g; pwd; echo $HOME"]);
      });

      await t.step("the same name in two engines is ambiguous: an error lists both", async () => {
        const res = await ours(["exec", d.name, "true"]);
        assertEquals(res.code, 125);
        assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
        assertMatch(res.stderr, new RegExp(`docker:${d.name}.*podman:${p.name}`));
      });

      await t.step("an unknown name: exit 125, one line with near matches", async () => {
        const res = await ours(["exec", `${RUN}-rootles`, "true"]);
        assertEquals(res.code, 125);
        assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
        assertMatch(res.stderr, /Cannot find container/);
        assertMatch(res.stderr, new RegExp(`did you mean .*${r.name}`));
      });

      await t.step(
        "docker's socket missing: found from dockerd's state, and by ID from cgroups",
        async () => {
          const env = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
          const res = await cli(["exec", d.id.slice(0, 12), "hostname"], { env });
          assertEquals({ code: res.code, stdout: res.stdout }, {
            code: 0,
            stdout: `h-${d.name}\n`,
          });
          const byName = await cli(["exec", `docker:${d.name}`, "hostname"], { env });
          assertEquals(byName.stdout, `h-${d.name}\n`, byName.stderr);
          // A bare name: each engine's state read only where it can match, still ambiguous.
          const bare = await cli(["exec", d.name, "hostname"], { env });
          assertEquals(bare.code, 125, bare.stderr);
          assertMatch(bare.stderr, new RegExp(`docker:${d.name}.*podman:${p.name}`));
          const one = await startContainer("docker", `${RUN}-bare`);
          made.push(one);
          const unique = await cli(["exec", one.name, "hostname"], { env });
          assertEquals([unique.code, unique.stdout], [0, `h-${one.name}\n`], unique.stderr);
          const scanned = await findContainers({ sources: ["cgroup"] });
          const byId = new Map(scanned.map((c) => [c.id, c]));
          assertEquals(byId.get(d.id)?.pid, d.pid);
          assertEquals(byId.get(d.id)?.engine, "docker");
          assertEquals(byId.get(p.id)?.pid, p.pid);
          assertEquals(byId.get(p.id)?.engine, "podman");
          const viaCgroup = await resolveContainer(d.id, {
            dockerHost: "unix:///nonexistent/docker.sock",
            sources: ["cgroup"],
          });
          try {
            assertEquals(viaCgroup.pid, d.pid);
            assertEquals(viaCgroup.container.source, "cgroup");
          } finally {
            viaCgroup.close();
          }
        },
      );

      await t.step(
        "ps --json lists every container with engine, name, PID, namespaces",
        async () => {
          const res = await ours(["ps", "--json"]);
          assertEquals(res.code, 0, res.stderr);
          const rows = JSON.parse(res.stdout) as {
            engine: string;
            id: string;
            name: string;
            pid: number;
            namespaces: string[];
            owner: number | null;
          }[];
          for (const c of [d, p, r]) {
            const row = rows.find((x) => x.id === c.id);
            if (!row) throw new Error(`ps --json is missing ${c.name}`);
            assertEquals([row.engine, row.name, row.pid], [c.engine, c.name, c.pid]);
            assert(row.namespaces.includes("net") && row.namespaces.includes("mnt"));
            assertEquals(row.owner, c.user ? c.user.uid : null);
          }
          const table = await ours(["ps"]);
          assertMatch(table.stdout, /^CONTAINER ID\s+ENGINE\s+NAME\s+PID\s+NAMESPACES$/m);
          assertMatch(
            table.stdout,
            new RegExp(`^${d.id.slice(0, 12)}\\s+docker\\s+${d.name}\\s`, "m"),
          );
        },
      );

      await t.step("a container stopped between resolve and exec: error, nothing run", async () => {
        const s = await startContainer("docker", `${RUN}-stop`);
        made.push(s);
        const pinned = await resolveContainer(`docker:${s.name}`);
        try {
          await must("docker", ["kill", s.name]);
          assert(!pinned.alive);
          // Either planning finds the process gone (NamespaceError ESRCH) or the helper's
          // pidfd check does (exit 125): never does the program run.
          const out = await (async () =>
            await new NsCommand("sh", { target: pinned, args: ["-c", "echo ran"] }).output())()
            .catch((error) =>
              error
            );
          if (out instanceof NamespaceError) assertEquals(out.code, "ESRCH");
          else {
            assertEquals(out.code, 125);
            assertEquals(new TextDecoder().decode(out.stdout), "");
          }
        } finally {
          pinned.close();
        }
        await assertRejects(() => resolveContainer(`docker:${s.name}`), NamespaceError);
      });

      await t.step("resolveContainer returns the engine's metadata", async () => {
        const pinned = await resolveContainer(`podman:${p.name}`);
        try {
          assertEquals(pinned.pid, p.pid);
          assertEquals(pinned.container.engine, "podman");
          assertEquals(pinned.container.id, p.id);
          assert(pinned.container.config?.env.includes("FOO=bar"));
          assertEquals(pinned.container.config?.workingDir, "/home");
          assertEquals(resolveContainerUser(p.pid, "app"), {
            uid: 1000,
            gid: 1000,
            home: "/home/app",
            groups: [50],
          });
          assert(cgroupProcsOf(p.pid).some((f) => f.includes(p.id)));
        } finally {
          pinned.close();
        }
      });
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec netns:NAME joins only the net namespace, with its /sys and /etc/netns/NAME",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  async fn() {
    const name = `${RUN}-ns`;
    await must("ip", ["netns", "add", name]);
    try {
      await Deno.mkdir(`/etc/netns/${name}`, { recursive: true });
      await Deno.writeTextFile(`/etc/netns/${name}/resolv.conf`, "nameserver 192.0.2.53\n");
      await must("ip", [
        "-n",
        name,
        "link",
        "add",
        "nsj-a",
        "type",
        "veth",
        "peer",
        "name",
        "nsj-b",
      ]);
      const script = "ls /sys/class/net; cat /etc/resolv.conf; readlink /proc/self/ns/net; " +
        "readlink /proc/self/ns/mnt | grep -v $(readlink /proc/1/ns/mnt) >/dev/null; echo $?";
      const [a, b] = await Promise.all([
        cli(["exec", `netns:${name}`, "sh", "-c", script]),
        run("ip", ["netns", "exec", name, "sh", "-c", script]),
      ]);
      assertEquals(
        { code: a.code, stdout: a.stdout },
        { code: b.code, stdout: b.stdout },
        a.stderr,
      );
      assertMatch(a.stdout, /^nsj-a$/m);
      assertMatch(a.stdout, /nameserver 192\.0\.2\.53/);
      const host = await run("sh", ["-c", "ls /sys/class/net; cat /etc/resolv.conf"]);
      assert(!host.stdout.includes("nsj-a") && !host.stdout.includes("192.0.2.53"));
      const uts = await cli(["exec", `netns:${name}`, "readlink", "/proc/self/ns/uts"]);
      assertEquals(uts.stdout.trim(), Deno.readLinkSync("/proc/self/ns/uts"));
    } finally {
      await run("ip", ["netns", "del", name]);
      await Deno.remove(`/etc/netns/${name}`, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "exec PID: the process's environment, -u through its /etc/passwd, -w inside",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  async fn() {
    await using target = await makeTarget({ hostname: "pid-target" });
    const res = await cli([
      "exec",
      "-u",
      "nobody",
      "-w",
      "/tmp",
      "-e",
      "EXTRA=1",
      String(target.pid),
      "sh",
      "-c",
      "hostname; id -un; pwd; echo $EXTRA",
    ]);
    assertEquals({ out: res.stdout, err: res.stderr, code: res.code }, {
      out: "pid-target\nnobody\n/tmp\n1\n",
      err: "",
      code: 0,
    });
    const file = await cli(["exec", `/proc/${target.pid}/ns/uts`, "hostname"]);
    assertEquals(file.stdout, "pid-target\n");
  },
});

Deno.test("exec's options stop at TARGET; the rest is the program's", () => {
  const a = parseExecArgs([
    "-it",
    "-u",
    "app:staff",
    "-e",
    "A=1",
    "--env",
    "B",
    "web1",
    "ls",
    "-u",
    "-e",
  ]);
  assertEquals([a.interactive, a.tty, a.user, a.env, a.target, a.command], [
    true,
    true,
    "app:staff",
    ["A=1", "B"],
    "web1",
    ["ls", "-u", "-e"],
  ]);
  const b = parseExecArgs(["--workdir=/tmp", "-n", "net,uts", "--", "web1", "true"]);
  assertEquals([b.workdir, b.namespaces, b.target, b.command], ["/tmp", ["net", "uts"], "web1", [
    "true",
  ]]);
  const c = parseExecArgs(["web1", "--", "ip", "-br", "addr"]);
  assertEquals([c.target, c.command], ["web1", ["ip", "-br", "addr"]]);
  assertThrows(() => parseExecArgs(["--nope", "web1", "true"]), /nope/);
  assertThrows(() => parseExecArgs(["-n", "bogus", "web1", "true"]), /bogus/);
});

Deno.test("exec: bad usage exits 2 with one line; missing command too", async () => {
  for (const args of [["exec", "--nope", "x", "true"], ["exec", "web1"], ["exec"]]) {
    const res = await cli(args);
    assertEquals(res.code, 2, res.stderr);
    assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
    assertEquals(res.stdout, "");
  }
});

Deno.test("container IDs are read from cgroup paths of every engine's layout", () => {
  const id = "a".repeat(64);
  const cases: [string, string | undefined][] = [
    [`0::/docker/${id}`, "docker"],
    [`0::/system.slice/docker-${id}.scope`, "docker"],
    [`9:name=systemd:/libpod_parent/libpod-${id}`, "podman"],
    [`0::/machine.slice/libpod-${id}.scope/container`, "podman"],
    [`0::/kubepods.slice/kubepods-besteffort.slice/crio-${id}.scope`, "cri-o"],
    [`0::/system.slice/cri-containerd-${id}.scope`, "containerd"],
    [`0::/default/${id}`, "containerd"],
    [`0::/kubepods/besteffort/pod1234/${id}`, "containerd"],
    [`0::/machine.slice/libpod-conmon-${id}.scope`, undefined],
    ["0::/user.slice/user-1000.slice/session-2.scope", undefined],
  ];
  for (const [line, engine] of cases) {
    const c = containerOfCgroup(line);
    assertEquals(c?.engine, engine, line);
    if (engine) assertEquals(c?.id, id);
  }
  assertEquals(containerOfCgroup(`0::/default/${id}`)?.namespace, "default");
  assertEquals(containerOfCgroup(`0::/kubepods/besteffort/pod1234/${id}`)?.namespace, "k8s.io");
});

Deno.test("names match exactly, then as a unique ID prefix; near matches are suggested", () => {
  const mk = (engine: "docker" | "podman", id: string, name: string) => ({
    engine,
    id: id.padEnd(64, "0"),
    name,
    pid: 1,
    source: "api" as const,
  });
  const all = [
    mk("docker", "abc1", "web1"),
    mk("podman", "abd2", "web2"),
    mk("podman", "ff", "db"),
  ];
  assertEquals(matchContainer(all, "web1").id, all[0].id);
  assertEquals(matchContainer(all, "abd").id, all[1].id);
  assertEquals(matchContainer(all, "ff", { engine: "podman" }).name, "db");
  assertThrows(() => matchContainer(all, "ab"), /docker:web1.*podman:web2/);
  assertThrows(() => matchContainer(all, "web3"), /did you mean docker:web1.*podman:web2/);
  assertThrows(
    () => matchContainer(all, "web1", { engine: "podman" }),
    /Cannot find podman container/,
  );
});

Deno.test("another user's rootless containers never shadow root's engines, nor make them ambiguous", () => {
  const mk = (engine: "docker" | "podman", id: string, name: string, owner?: number) => ({
    engine,
    id: id.padEnd(64, "0"),
    name,
    pid: 1,
    owner,
    source: "state" as const,
  });
  const docker = mk("docker", "abc1", "web");
  const rootful = mk("podman", "abc2", "db");
  const theirs = [
    mk("podman", "abc1", "web", 4242), // the same ID and name as docker's
    mk("podman", "abc3", "abc1", 4242), // named like docker's ID prefix
    mk("podman", "ee", "db", 4243),
    mk("podman", "ef", "cache", 4242),
    mk("podman", "ef1", "cache", 4243),
  ];
  const all = [...theirs, docker, rootful];
  assertEquals(matchContainer(all, "web"), docker);
  assertEquals(matchContainer(all, "abc1"), docker);
  assertEquals(matchContainer(all, docker.id), docker);
  assertEquals(matchContainer(all, "db", { engine: "podman" }), rootful);
  // Only when no trusted container matches are other users' searched, shown with owner.
  assertThrows(() => matchContainer(all, "cache"), /podman@4242:cache.*podman@4243:cache.*@UID/);
  assertEquals(matchContainer(all, "cache", { engine: "podman", owner: 4243 }), theirs[4]);
  assertEquals(matchContainer(all, "web", { engine: "podman", owner: 4242 }), theirs[0]);
  assertEquals(parseContainerRef("podman@4242:web"), { engine: "podman", ref: "web", owner: 4242 });
  assertEquals(parseContainerRef("podman@root:web").owner, 0);
  assertThrows(() => parseContainerRef("docker@4242:web"), TypeError);
});

Deno.test({
  name: "podman stores are found where containers-storage.conf puts them",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-store-" });
    const conf = `${dir}/storage.conf`;
    await Deno.writeTextFile(
      conf,
      `[storage]\ndriver = "vfs"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
    );
    const env = { CONTAINERS_STORAGE_CONF: conf };
    const name = `${RUN}-store`;
    try {
      const tar = await buildRootfs(dir);
      await must("podman", ["import", tar, IMAGE], { env });
      await must("podman", [
        "run",
        "-d",
        "--name",
        name,
        "--hostname",
        "in-store",
        IMAGE,
        "tail",
        "-f",
        "/dev/null",
      ], { env });
      const res = await cli(["exec", `podman:${name}`, "hostname"], { env });
      assertEquals({ out: res.stdout, err: res.stderr }, { out: "in-store\n", err: "" });
      const elsewhere = await cli(["exec", `podman:${name}`, "hostname"]);
      assertEquals(elsewhere.code, 125, "found without the storage.conf that names its store");
    } finally {
      await run("podman", ["rm", "-f", "-t", "0", name], { env });
      await run("podman", ["rmi", "-f", IMAGE], { env });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "exec refuses a paused container at once, as docker exec does; sessions too",
  ignore: skipWithoutEngines("pause tests", ["docker", "podman"]),
  sanitizeResources: false,
  async fn() {
    const { containerExecOptions } = await import("../src/container_exec.ts");
    const { openSession } = await import("../src/session.ts");
    for (const engine of ["docker", "podman"] as const) {
      const c = await startContainer(engine, `${RUN}-pause-${engine}`);
      let paused = false;
      const pause = async (on: boolean) => {
        await must(engine, [on ? "pause" : "unpause", c.name]);
        paused = on;
      };
      try {
        // A session opened while it runs, to ask again once it is paused.
        using pinned = await resolveContainer(`${engine}:${c.name}`);
        await using session = await openSession(pinned, containerExecOptions(pinned));
        try {
          await pause(true);
          const res = await cli(["exec", c.name, "touch", "/tmp/ran"]);
          assertEquals(res.code, 125, res.stderr);
          assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
          // Named as docker exec names it, not by its short ID.
          assertMatch(res.stderr, new RegExp(`Cannot exec in container ${c.name}: it is paused`));
          if (engine === "docker") {
            const theirs = await run("docker", ["exec", c.name, "touch", "/tmp/ran"]);
            assertMatch(theirs.stderr, new RegExp(`Container ${c.name} is paused`));
          }
          // The library: the options of an exec are refused, so no NsCommand can start.
          assertThrows(
            () => containerExecOptions(pinned),
            (e: unknown) => e instanceof NamespaceError && e.code === "EBUSY",
          );
          // A session opened now, and a program asked of the one opened before.
          const cgroups = cgroupProcsOf(c.pid);
          await assertRejects(
            () => openSession(pinned, { namespaces: "all", cgroups }),
            NamespaceError,
            "it is paused",
          );
          await assertRejects(
            () => session.output("touch", { args: ["/tmp/ran"] }),
            NamespaceError,
            "it is paused",
          );
          // Not a --pid target either: its cgroups are frozen all the same.
          const byPid = await cli(["exec", String(c.pid), "touch", "/tmp/ran"]);
          assertEquals(byPid.code, 125, byPid.stderr);
          assertMatch(byPid.stderr, new RegExp(`Cannot exec in process ${c.pid}: it is paused`));
          await pause(false);
          // Nothing ran while it was paused; everything works again now.
          const after = await cli(["exec", c.name, "sh", "-c", "ls /tmp; echo ok"]);
          assertEquals({ code: after.code, stdout: after.stdout }, { code: 0, stdout: "ok\n" });
          const again = await session.output("echo", { args: ["hi"] });
          assertEquals(new TextDecoder().decode(again.stdout), "hi\n");
        } finally {
          // A frozen helper cannot exit: thaw before the session closes.
          if (paused) await pause(false);
        }
      } finally {
        await removeContainers([c]);
      }
    }
  },
});

// ---- trial 18: a library user's first guess at containerExecOptions' env
Deno.test({
  name: "containerExecOptions refuses env given as an object with one line saying what it takes",
  ignore: skipWithoutEngines("a container to pin", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const { containerExecOptions } = await import("../src/container_exec.ts");
    const c = await startContainer("docker", `${RUN}-envobj`);
    try {
      using pinned = await resolveContainer(`docker:${c.name}`);
      // NsCommand's env is an object; docker exec's -e, which this mirrors, a list.
      const asObject = { env: { MODE: "x" } } as unknown as { env: string[] };
      assertThrows(
        () => containerExecOptions(pinned, asObject),
        TypeError,
        'Cannot use env: give a list of "KEY=VALUE" strings',
      );
      assertThrows(
        () => containerExecOptions(pinned, { env: [42 as unknown as string] }),
        TypeError,
        'Cannot use env: give a list of "KEY=VALUE" strings',
      );
      assertEquals(containerExecOptions(pinned, { env: ["MODE=x"] }).env?.MODE, "x");
    } finally {
      await removeContainers([c]);
    }
  },
});

// ---- trial 18: ps says which containers are paused, as docker ps's STATUS does
Deno.test({
  name: "ps marks a paused container (docker ps: 'Up … (Paused)'), in the table and --json",
  ignore: skipWithoutEngines("a container to pause", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const c = await startContainer("docker", `${RUN}-pspause`);
    const up = await startContainer("docker", `${RUN}-psup`);
    try {
      await must("docker", ["pause", c.name]);
      const json = await cli(["ps", "--json"]);
      assertEquals(json.code, 0, json.stderr);
      const rows = JSON.parse(json.stdout) as { id: string; paused: boolean }[];
      assertEquals(
        [c.id, up.id].map((id) => rows.find((r) => r.id === id)?.paused),
        [true, false],
      );
      const table = await cli(["ps"]);
      assertMatch(
        table.stdout,
        new RegExp(`^${c.id.slice(0, 12)}\\s+docker\\s+${c.name} \\(paused\\)\\s`, "m"),
      );
      assertMatch(
        table.stdout,
        new RegExp(`^${up.id.slice(0, 12)}\\s+docker\\s+${up.name}\\s+\\d`, "m"),
      );
    } finally {
      await must("docker", ["unpause", c.name]).catch(() => {});
      await removeContainers([c, up]);
    }
  },
});

Deno.test({
  name:
    "containerd bundles only root can write to: a spec or pidfile that is a link, a FIFO, not root's or too large is not read",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // In a bundle directory only root can write to, its spec and pidfile are read with one
    // lstat and Deno's reader (src/engines.ts _readRootOnly): what ffi/files.ts would refuse
    // is refused there too. Each case: a live process as init.pid, and a spec that names it.
    const { _containerdList } = await import("../src/engines.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-rootstate-" });
    const proc = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const spec = (hostname: string) => JSON.stringify({ hostname, process: { env: ["A=1"] } });
    const tasks = `${dir}/io.containerd.runtime.v2.task/default`;
    const bundle = async (id: string, make: (b: string) => Promise<void>) => {
      await Deno.mkdir(`${tasks}/${id}`, { recursive: true, mode: 0o755 });
      await Deno.writeTextFile(`${tasks}/${id}/init.pid`, `${proc.pid}\n`);
      await make(`${tasks}/${id}`);
    };
    try {
      await Deno.writeTextFile(`${dir}/elsewhere.json`, spec("linked"));
      await bundle("plain", (b) => Deno.writeTextFile(`${b}/config.json`, spec("plain")));
      await bundle("link", (b) => Deno.symlink(`${dir}/elsewhere.json`, `${b}/config.json`));
      await bundle("fifo", async (b) => {
        await must("mkfifo", [`${b}/config.json`]);
      });
      await bundle("theirs", async (b) => {
        await Deno.writeTextFile(`${b}/config.json`, spec("theirs"));
        await Deno.chown(`${b}/config.json`, 65534, 65534);
      });
      await bundle("huge", async (b) => {
        // Valid JSON, over the 4 MiB cap.
        const big = JSON.stringify({ ...JSON.parse(spec("huge")), pad: "x".repeat(5 << 20) });
        await Deno.writeTextFile(`${b}/config.json`, big);
      });
      await bundle("pidlink", async (b) => {
        await Deno.writeTextFile(`${b}/config.json`, spec("pidlink"));
        await Deno.remove(`${b}/init.pid`);
        await Deno.writeTextFile(`${dir}/daemon.pid`, `${proc.pid}\n`);
        await Deno.symlink(`${dir}/daemon.pid`, `${b}/init.pid`);
      });
      await bundle("pidtheirs", async (b) => {
        await Deno.writeTextFile(`${b}/config.json`, spec("pidtheirs"));
        await Deno.chown(`${b}/init.pid`, 65534, 65534);
      });
      const found = Object.fromEntries(
        _containerdList({ containerdState: [dir] }, "default").map((c) => [c.id, c]),
      );
      // The spec read: its hostname. The others are listed as before a spec is there.
      assertEquals(found.plain?.config?.hostname, "plain");
      for (const id of ["link", "fifo", "theirs", "huge"]) {
        assert(found[id], `${id}: listed`);
        assertEquals(found[id].config, undefined, `${id}: its spec was read`);
      }
      // A pidfile that is not a root-owned regular file names no process.
      assertEquals(found.pidlink, undefined);
      assertEquals(found.pidtheirs, undefined);
      // A lookup checks the spec it keeps the same way: one that fails names no pod member.
      const kept = (id: string) =>
        _containerdList({ containerdState: [dir] }, "default", { id: (i) => i === id, text: [id] });
      assertEquals(kept("plain")[0]?.config?.hostname, "plain");
      for (const id of ["link", "theirs", "huge"]) assertEquals(kept(id), [], id);
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "exec -it with a stdin that is not a terminal is refused as docker exec refuses it; -t alone and -d run",
  ignore: skipWithoutEngines("exec -it without a terminal", ["docker"]),
  async fn() {
    const c = await startContainer("docker", `nsjx19tty-${crypto.randomUUID().slice(0, 8)}`);
    try {
      // cli() and run() give the program /dev/null or a pipe on stdin, never a terminal.
      for (const flags of [["-it"], ["-i", "-t"], ["--interactive", "--tty"]]) {
        const docker = await engineExec(c, flags, ["sh", "-c", "echo ran"]);
        const ours = await cli(["exec", ...flags, c.name, "sh", "-c", "echo ran"], { stdin: "x" });
        assertEquals([docker.code, docker.stdout, docker.stderr], [
          1,
          "",
          "the input device is not a TTY\n",
        ]);
        assertEquals([ours.code, ours.stdout], [2, ""], ours.stderr);
        assertEquals(
          ours.stderr,
          "nsjoin exec: the input device is not a TTY (see: nsjoin exec --help)\n",
        );
      }
      // Not found comes first, as in docker.
      const gone = await cli(["exec", "-it", `${c.name}-none`, "true"]);
      assertEquals(gone.code, 125, gone.stderr);
      // -t alone: a terminal inside, stdin not read; -d -it: nothing to attach, it runs.
      const docker = await engineExec(c, ["-t"], ["sh", "-c", "tty; echo $?"]);
      const ours = await cli(["exec", "-t", c.name, "sh", "-c", "tty; echo $?"]);
      assertEquals(ours.code, docker.code);
      assertMatch(docker.stdout, /^\/dev\/pts\/\d+\r\n0\r\n$/);
      assertMatch(ours.stdout, /^\/dev\/pts\/\d+\r\n0\r\n$/);
      const mark = `/tmp/d-${crypto.randomUUID().slice(0, 8)}`;
      assertEquals((await engineExec(c, ["-d", "-it"], ["touch", `${mark}-docker`])).code, 0);
      assertEquals((await cli(["exec", "-d", "-it", c.name, "touch", `${mark}-ours`])).code, 0);
      // Both programs run after exec returned: wait for them, not for a fixed time.
      let seen = await engineExec(c, [], ["ls", `${mark}-docker`, `${mark}-ours`]);
      for (let i = 0; i < 100 && seen.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        seen = await engineExec(c, [], ["ls", `${mark}-docker`, `${mark}-ours`]);
      }
      assertEquals(seen.code, 0, seen.stderr);
    } finally {
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "exec -w: empty is the container's WorkingDir and a relative one is refused, as docker exec",
  ignore: skipWithoutEngines("exec -w", ["docker"]),
  async fn() {
    const c = await startContainer("docker", `nsjx19wd-${crypto.randomUUID().slice(0, 8)}`, [
      "-w",
      "/tmp",
    ]);
    try {
      const docker = await engineExec(c, ["-w", ""], ["pwd"]);
      const ours = await cli(["exec", "-w", "", c.name, "pwd"]);
      assertEquals([ours.code, ours.stdout], [docker.code, docker.stdout], ours.stderr);
      assertEquals(docker.stdout, "/tmp\n");
      // docker: 126 and runc's "Cwd must be an absolute path"; ours a usage error. A path
      // relative to / ran the program in /etc for `-w etc`, whatever the WorkingDir.
      const refused = await engineExec(c, ["-w", "etc"], ["pwd"]);
      assertEquals(refused.code, 126);
      assertMatch(refused.stdout, /Cwd must be an absolute path/); // docker prints it on stdout
      for (const target of [c.name, String(c.pid)]) {
        const r = await cli(["exec", "-w", "etc", target, "pwd"]);
        assertEquals([r.code, r.stdout], [2, ""], r.stderr);
        assertMatch(r.stderr, /^nsjoin exec: --workdir etc: give an absolute path/);
      }
      using pinned = await resolveContainer(`docker:${c.name}`);
      assertThrows(() => containerExecOptions(pinned, { workdir: "etc" }), TypeError, "absolute");
      assertEquals(containerExecOptions(pinned, { workdir: "" }).cwd, "/tmp");
    } finally {
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "containerd state reached through a symlink is read only when the link's target is root's alone",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // src/engines.ts _rootOnlyPath checks each level as given and resolves the path only when
    // a level is a symlink: a state dir named through a root-made link to a root-only
    // directory is read; one whose link leads through a directory another user may write to
    // is not (they could swap a bundle in), nor one with a level anyone may write to.
    const { _containerdList, _rootOnlyPath } = await import("../src/engines.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-statelink-" });
    const proc = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const state = (root: string) => `${root}/io.containerd.runtime.v2.task/default/c1`;
    try {
      for (const root of [`${dir}/real`, `${dir}/open/real`]) {
        await Deno.mkdir(state(root), { recursive: true, mode: 0o755 });
        await Deno.writeTextFile(`${state(root)}/init.pid`, `${proc.pid}\n`);
        await Deno.writeTextFile(`${state(root)}/config.json`, JSON.stringify({ hostname: "h" }));
      }
      await Deno.chmod(`${dir}/open`, 0o777);
      await Deno.symlink(`${dir}/real`, `${dir}/link`);
      await Deno.symlink(`${dir}/open/real`, `${dir}/openlink`);
      const ids = (root: string) =>
        _containerdList({ containerdState: [root] }, "default").map((c) => c.id);
      assert(_rootOnlyPath(`${dir}/real`));
      assert(_rootOnlyPath(`${dir}/link/io.containerd.runtime.v2.task`));
      assertEquals(ids(`${dir}/link`), ["c1"]);
      assert(!_rootOnlyPath(`${dir}/openlink`));
      assertEquals(ids(`${dir}/openlink`), []);
      assert(!_rootOnlyPath(`${dir}/open/real`));
      assertEquals(ids(`${dir}/open/real`), []);
      // A sticky level (as /tmp) is allowed, through a link or not; a missing path is not.
      await Deno.chmod(`${dir}/open`, 0o1777);
      assertEquals(ids(`${dir}/openlink`), ["c1"]);
      assert(!_rootOnlyPath(`${dir}/nowhere`));
      assert(!_rootOnlyPath(`${dir}/link/nowhere`));
      // A relative path is resolved from the current directory.
      const cwd = Deno.cwd();
      try {
        Deno.chdir(dir);
        assert(_rootOnlyPath("link/io.containerd.runtime.v2.task"));
        assertEquals(ids("link"), ["c1"]);
        assert(!_rootOnlyPath("nowhere"));
      } finally {
        Deno.chdir(cwd);
      }
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a containerd lookup keeps only bundles whose directory name is a containerd ID",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // A lookup checks a bundle's name only once its spec passed the filter (src/engines.ts
    // _containerdList): a bundle whose name is no containerd ID is still never a member.
    const { _containerdList } = await import("../src/engines.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stateid-" });
    const proc = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const tasks = `${dir}/io.containerd.runtime.v2.task/k8s.io`;
    const spec = (id: string) =>
      JSON.stringify({
        annotations: {
          "io.kubernetes.cri.container-type": "sandbox",
          "io.kubernetes.cri.sandbox-id": id,
          "io.kubernetes.cri.sandbox-namespace": "ns1",
          "io.kubernetes.cri.sandbox-name": "web",
          "io.kubernetes.cri.sandbox-uid": "u1",
        },
      });
    try {
      for (const id of ["aa11", "-aa22", "a a33"]) {
        await Deno.mkdir(`${tasks}/${id}`, { recursive: true, mode: 0o700 });
        await Deno.writeTextFile(`${tasks}/${id}/init.pid`, `${proc.pid}\n`);
        await Deno.writeTextFile(`${tasks}/${id}/config.json`, spec(id));
      }
      const o = { containerdState: [dir] };
      const text = ['"ns1"', '"web"'];
      assertEquals(_containerdList(o, "k8s.io", { text }).map((c) => c.id), ["aa11"]);
      assertEquals(_containerdList(o, "k8s.io").map((c) => c.id), ["aa11"]);
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "exec of a stopped container says it is not running, as docker exec and podman exec do",
  ignore: skipWithoutEngines("engine tests", ["docker", "podman", "rootless"]),
  async fn(t) {
    await ensureImages(podmanUser()!);
    for (
      const [engine, said] of [
        ["docker", /is not running/],
        ["podman", /can only create exec sessions on running containers/],
      ] as const
    ) {
      await t.step(engine, async () => {
        const name = `${RUN}-stopped-${engine}`;
        // Ran and stopped, as most stopped containers are (a stale pidfile may remain).
        const c = await startContainer(engine, name);
        try {
          await must(engine, ["stop", "-t", "0", name]);
          const theirs = await run(engine, ["exec", name, "true"]);
          assert(theirs.code !== 0);
          assertMatch(theirs.stderr, said);
          // By bare name, ENGINE:NAME and an ID prefix: the same line, never "Cannot find".
          for (const ref of [name, `${engine}:${name}`, c.id.slice(0, 12)]) {
            const r = await cli(["exec", ref, "true"]);
            assertEquals(r.code, 125, r.stderr);
            assertEquals(
              r.stderr,
              `nsjoin exec: Cannot use ${engine} container ${name} - it is not running\n`,
              ref,
            );
          }
        } finally {
          await run(engine, ["rm", "-f", name]);
        }
      });
    }
    // A name no engine has is still "Cannot find".
    const none = await cli(["exec", `${RUN}-none`, "true"]);
    assertEquals(none.code, 125);
    assertMatch(none.stderr, /^nsjoin exec: Cannot find container /);
  },
});

Deno.test({
  name: "a docker daemon that takes the connection and never answers: ps and findContainers end",
  ignore: !IS_ROOT,
  sanitizeResources: false,
  async fn() {
    // dockerd holds a container's lock while a `docker start` of it hangs (its `runc init`
    // stuck): every inspect of that container waits, `docker inspect` too. A script that
    // listed every container and asked each one hung there for ever (examples/containers.ts
    // on this host, trial 23); now such an answer is given up after 10 s, as an unreachable
    // daemon, and the state files and the /proc scan answer.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-mute-docker-" });
    const sock = `${dir}/docker.sock`;
    const server = Deno.listen({ transport: "unix", path: sock });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of server) held.push(c);
    })();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = (what: string) =>
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: still waiting after 30 s`)), 30_000);
      });
    try {
      const all = await Promise.race([
        findContainers({ dockerHost: `unix://${sock}` }),
        limit("findContainers"),
      ]);
      clearTimeout(timer);
      assert(Array.isArray(all));
      const ps = await Promise.race([
        cli(["ps", "--json"], { env: { DOCKER_HOST: `unix://${sock}` } }),
        limit("nsjoin ps"),
      ]);
      clearTimeout(timer);
      assertEquals(ps.code, 0, ps.stderr);
      assert(Array.isArray(JSON.parse(ps.stdout)), ps.stdout);
      assert(held.length >= 2, "the daemon was asked");
    } finally {
      clearTimeout(timer);
      server.close();
      for (const c of held) c.close();
      await accepting.catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: a container whose main process exited (its other threads still run)
Deno.test({
  name:
    "exec refuses a container whose main process exited while its threads run, and says that is why",
  ignore: skipWithoutEngines("a container to stop", ["docker"]),
  sanitizeResources: false,
  async fn() {
    // A static program whose main thread leaves with SYS_exit while a thread of it waits: the
    // container's PID is then a zombie leader, without namespace links, and docker exec says
    // "cannot exec in a stopped container". nsjoin refused it too, but said the PID was "a
    // process in our own mount namespace", and `exec PID` said "readlink failed: ENOENT"
    // with exit code 1 (the program's own codes).
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-zombie-" });
    const name = `${RUN}-zleader`;
    try {
      await Deno.writeTextFile(
        `${dir}/z.c`,
        `#include <pthread.h>
#include <unistd.h>
#include <sys/syscall.h>
static void *wait_here(void *arg) { (void)arg; for (;;) pause(); return 0; }
int main(void) {
  pthread_t t;
  pthread_create(&t, 0, wait_here, 0);
  syscall(SYS_exit, 0);
}
`,
      );
      await must("gcc", ["-static", "-pthread", "-o", `${dir}/z`, `${dir}/z.c`]);
      await must("docker", ["run", "-d", "--name", name, "-v", `${dir}:/z:ro`, IMAGE, "/z/z"]);
      const pid = Number((await must("docker", ["inspect", "-f", "{{.State.Pid}}", name])).trim());
      for (let i = 0; i < 100; i++) {
        if (/^State:\s+Z/m.test(await Deno.readTextFile(`/proc/${pid}/status`))) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assertMatch(await Deno.readTextFile(`/proc/${pid}/status`), /^State:\s+Z/m);
      const theirs = await engineExec(
        { cli: "docker", engine: "docker", name, id: name, pid },
        [],
        [
          "true",
        ],
      );
      assert(theirs.code !== 0, "docker exec refuses it too");
      const byName = await cli(["exec", `docker:${name}`, "true"]);
      assertEquals(byName.code, 125, byName.stderr);
      assertMatch(
        byName.stderr,
        /^nsjoin exec: Cannot use docker:\S+ \([0-9a-f]{12}\) - its main process has exited \(a zombie\): its namespaces are gone with it\n$/,
      );
      const byPid = await cli(["exec", String(pid), "true"]);
      assertEquals(byPid.code, 125, byPid.stderr);
      assertEquals(
        byPid.stderr,
        `nsjoin exec: Cannot join process ${pid}: it has exited (a zombie) - its namespaces are gone with it\n`,
      );
    } finally {
      // `docker rm -f` kills a container whose main process is a zombie only after its 10 s
      // kill timeout, and then says it could not remove it (a CI run left one behind): ask
      // again until docker no longer knows the name.
      for (let i = 0; i < 5; i++) {
        const rm = await run("docker", ["rm", "-f", name]);
        if ((await run("docker", ["inspect", name])).code !== 0) break;
        if (i === 4) console.error(`could not remove ${name}: ${rm.stderr}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ps does not list a container's cgroup that no engine knows and only a zombie holds",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // A docker container's main process left unreaped after docker forgot the container:
    // the /proc scan found it by its cgroup and ps listed it with name "-", PID the zombie
    // and no namespaces. docker ps does not list it, and nothing runs there to join.
    const v2 = (() => {
      try {
        Deno.statSync("/sys/fs/cgroup/cgroup.procs");
        return "/sys/fs/cgroup";
      } catch {
        return "/sys/fs/cgroup/unified";
      }
    })();
    const id = Array.from(crypto.getRandomValues(new Uint8Array(32)))
      .map((b) => b.toString(16).padStart(2, "0")).join("");
    const parentDir = `${v2}/docker`;
    const made = !(await Deno.stat(parentDir).then(() => true, () => false));
    const dir = `${parentDir}/${id}`;
    const tmp = await Deno.makeTempDir({ prefix: "nsjoin-leftover-" });
    await Deno.mkdir(dir, { recursive: true });
    const fifo = `${tmp}/go`;
    assertEquals((await run("mkfifo", [fifo])).code, 0);
    // The outer shell becomes `sleep`, which never reaps its child: the child, moved into
    // the container's cgroup, exits into a zombie there.
    const holder = new Deno.Command("sh", {
      args: ["-c", `sh -c 'read x < ${fifo}' & echo $!; exec sleep 600`],
      stdin: "null",
      stdout: "piped",
    }).spawn();
    try {
      const reader = holder.stdout.getReader();
      const zombie = Number(new TextDecoder().decode((await reader.read()).value!).trim());
      reader.releaseLock();
      holder.stdout.cancel().catch(() => {});
      await Deno.writeTextFile(`${dir}/cgroup.procs`, String(zombie));
      await Deno.writeTextFile(fifo, "go\n");
      const state = () => Deno.readTextFileSync(`/proc/${zombie}/stat`).split(") ")[1][0];
      for (let i = 0; i < 200 && state() !== "Z"; i++) await new Promise((r) => setTimeout(r, 10));
      // Not vacuous: a zombie in a cgroup named for a docker container.
      assertEquals(state(), "Z");
      assertMatch(Deno.readTextFileSync(`/proc/${zombie}/cgroup`), new RegExp(`/docker/${id}\n`));
      const json = await cli(["ps", "--json"]);
      assertEquals(json.code, 0, json.stderr);
      const rows: { id: string }[] = JSON.parse(json.stdout);
      assertEquals(rows.filter((r) => r.id === id), []);
      const table = await cli(["ps"]);
      assert(!table.stdout.includes(id.slice(0, 12)), table.stdout);
    } finally {
      holder.kill("SIGKILL");
      await holder.status;
      // Its zombie is reaped by init once its parent is gone; then the cgroup is empty.
      for (let i = 0; i < 200; i++) {
        try {
          await Deno.remove(dir);
          break;
        } catch {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (made) await Deno.remove(parentDir).catch(() => {});
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
