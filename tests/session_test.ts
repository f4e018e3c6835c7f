/**
 * Exec sessions (src/session.ts, ffi/helper.c option L): side by side with NsCommand on
 * real unshare targets and a real docker container, and the session's lifetime and safety
 * rules — the helper leaves no fd to a program, is invisible inside the target, and is gone
 * when the target stops, the session closes or this Deno process exits.
 *
 * Needs root (and dockerd for the container steps); skips elsewhere off CI.
 */
import {
  containerExecOptions,
  NamespaceError,
  NsCommand,
  type NsCommandOptions,
  type NsCommandOutput,
  openSession,
  pinProcess,
  resolveContainer,
} from "../mod.ts";
import type { ExecSession, SessionExecOptions } from "../src/session.ts";
import {
  ensureImages,
  podmanUser,
  removeContainers,
  run,
  skipWithoutEngines,
  startContainer,
  type TestContainer,
} from "./_engines.ts";
import { CriRuntime, HAVE_CONTAINERD } from "./_cri.ts";
import {
  ALL_BUT_USER,
  assert,
  assertEquals,
  assertMatch,
  CI,
  IS_ROOT,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  sh,
  text,
} from "./_fixtures.ts";

const TAG = Math.random().toString(36).slice(2, 8);

/** What a user compares: the identity, environment, place and confinement of a program. */
const PROBES: [string, string[]][] = [
  ["id", ["id"]],
  ["env", ["sh", "-c", "env | sort"]],
  ["pwd", ["pwd"]],
  ["hostname", ["hostname"]],
  ["status", ["sh", "-c", "grep -E '^(Cap|Seccomp|NoNewPrivs|Uid|Gid|Groups)' /proc/self/status"]],
  ["cgroup", ["cat", "/proc/self/cgroup"]],
  ["ns", ["sh", "-c", "for f in /proc/self/ns/*; do echo $f $(readlink $f); done"]],
  ["exit 7", ["sh", "-c", "exit 7"]],
];

function shown(o: NsCommandOutput) {
  return {
    code: o.code,
    signal: o.signal,
    stdout: text(o.stdout),
    stderr: text(o.stderr),
    setupError: o.setupError?.message,
  };
}

/** Every probe through the session and through a new NsCommand: the same output. */
async function sameAsNsCommand(
  session: ExecSession,
  options: NsCommandOptions,
  probes = PROBES,
): Promise<void> {
  for (const [name, [program, ...args]] of probes) {
    const a = await session.output(program, { args });
    const b = await new NsCommand(program, { ...options, args }).output();
    assertEquals(shown(a), shown(b), `${name} differs between the session and NsCommand`);
  }
}

/** The error `fn` rejects with, checked to be a `kind` whose message matches `message`. */
async function rejection<E extends Error>(
  fn: () => Promise<unknown>,
  kind: new (...args: never[]) => E,
  message?: RegExp,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (!(error instanceof kind)) throw new Error(`expected a ${kind.name}, got ${error}`);
    if (message) assertMatch(error.message, message);
    return error;
  }
  throw new Error("it did not reject");
}

/** Whether `pid` ends (or is a zombie) within 30 s: a helper ending with its target, its
 * Deno process or close() takes seconds on a loaded machine. */
async function gone(pid: number): Promise<boolean> {
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
      if (/\) [ZX] /.test(stat)) return true;
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}

Deno.test({
  name: "a session runs programs as NsCommand does (unshare targets)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: `s-${TAG}` });
    await t.step("every namespace, as root", async () => {
      const options = { target: target.pid };
      await using s = await openSession(target.pid);
      await sameAsNsCommand(s, options);
    });
    await t.step("a uid, groups, the target's capabilities, no_new_privs, a cwd", async () => {
      const options: NsCommandOptions = {
        target: target.pid,
        uid: 1000,
        gid: 1000,
        groups: [5, 7],
        capabilities: "target",
        noNewPrivs: true,
        cwd: "/tmp",
        env: { ONLY: "this" },
        clearEnv: true,
      };
      await using s = await openSession(target.pid, options);
      await sameAsNsCommand(s, options);
    });
    await t.step("a user namespace (rootless-style target)", async () => {
      await using u = await makeTarget({
        flags: ["-U", "--map-root-user", ...ALL_BUT_USER],
        hostname: `u-${TAG}`,
      });
      await using s = await openSession(u.pid);
      await sameAsNsCommand(s, { target: u.pid });
    });
    await t.step("a debug session: the caller's tools, the target's pid namespace", async () => {
      const options: NsCommandOptions = { target: target.pid, debug: true };
      await using s = await openSession(target.pid, { debug: true });
      // Its private mount namespace is the session's, one for all its programs (a new
      // NsCommand makes one each): every other namespace is the same.
      await sameAsNsCommand(s, options, [
        ...PROBES.filter(([name]) => name !== "ns"),
        ["ns", [
          "sh",
          "-c",
          "for f in /proc/self/ns/*; do echo $f $(readlink $f); done | grep -v /mnt",
        ]],
        ["init", ["sh", "-c", "tr '\\0' ' ' < /proc/1/cmdline; ls /target/etc | grep -c ."]],
      ]);
    });
    await t.step("a namespace file (a named netns, as `ip netns exec`)", async () => {
      const name = `nsjs-${TAG}`;
      await sh("ip", ["netns", "add", name]);
      try {
        const file = `/run/netns/${name}`;
        await using s = await openSession(file, { netnsName: name });
        await sameAsNsCommand(s, { target: file, netnsName: name }, [
          ["links", ["ip", "-br", "link"]],
          ["sys", ["ls", "/sys/class/net"]],
          ["ns", ["readlink", "/proc/self/ns/net"]],
        ]);
      } finally {
        await sh("ip", ["netns", "del", name]);
      }
    });
    await t.step("only some namespaces, the program from the caller's PATH", async () => {
      const options: NsCommandOptions = { target: target.pid, namespaces: ["net", "uts"] };
      await using s = await openSession(target.pid, options);
      await sameAsNsCommand(s, options);
    });
  },
});

Deno.test({
  name: "a session's programs: exit codes, signals, 126/127, env, cwd, stdin, abort",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    await using s = await openSession(target.pid, { env: { BASE: "1" } });
    const out = (program: string, o?: SessionExecOptions) => s.output(program, o).then(shown);
    await t.step("exit codes and a signal death, as Deno.Command reports them", async () => {
      assertEquals((await out("sh", { args: ["-c", "exit 3"] })).code, 3);
      const killed = await out("sh", { args: ["-c", "kill -TERM $$"] });
      assertEquals([killed.code, killed.signal], [143, "SIGTERM"]);
      const ns = await new NsCommand("sh", { target: target.pid, args: ["-c", "kill -TERM $$"] })
        .output();
      assertEquals([ns.code, ns.signal], [143, "SIGTERM"]);
    });
    await t.step("a program that exits 127 itself is not a setup error", async () => {
      const own = await out("sh", { args: ["-c", "exit 127"] });
      assertEquals([own.code, own.setupError], [127, undefined]);
    });
    await t.step("not found (127) and not executable (126) carry setupError", async () => {
      const missing = await out("no-such-program");
      assertEquals(missing.code, 127);
      assertMatch(missing.setupError!, /^Cannot run no-such-program: not found in the target$/);
      assertMatch(missing.stderr, /^nsjoin: Cannot run no-such-program: not found/);
      const notExec = await out("/etc/passwd");
      assertEquals(notExec.code, 126);
      assertMatch(notExec.setupError!, /EACCES/);
    });
    await t.step("env goes over the session's, per program", async () => {
      const a = await out("sh", { args: ["-c", "echo $BASE $X"], env: { X: "2" } });
      assertEquals(a.stdout, "1 2\n");
      const b = await out("sh", { args: ["-c", "echo $BASE $X"] });
      assertEquals(b.stdout, "1\n");
    });
    await t.step("cwd inside the target; a /proc magic link on the way is refused", async () => {
      assertEquals((await out("pwd", { cwd: "/tmp" })).stdout, "/tmp\n");
      const magic = await out("pwd", { cwd: "/proc/1/root/tmp" });
      assertEquals([magic.code, magic.stdout], [125, ""]);
      assertMatch(magic.setupError!, /magic link/);
      assertEquals((await out("pwd")).stdout, "/\n");
    });
    await t.step("stdin bytes reach the program", async () => {
      const big = new Uint8Array(1 << 20).map((_, i) => 97 + i % 26);
      const r = await s.output("cat", { stdin: big });
      assertEquals(r.stdout.length, big.length);
      assert(r.stdout.every((b, i) => b === big[i]));
    });
    await t.step("more output than a pipe holds, on both streams at once", async () => {
      const script = "(yes e | head -c 3000000 >&2) & yes o | head -c 2000000; wait";
      const r = await s.output("sh", { args: ["-c", script] });
      assertEquals([r.code, r.stdout.length, r.stderr.length], [0, 2000000, 3000000]);
    });
    await t.step("an abort signal sends SIGTERM", async () => {
      const ac = new AbortController();
      const p = s.output("sleep", { args: ["100"], signal: ac.signal });
      setTimeout(() => ac.abort(), 100);
      const r = await p;
      assertEquals([r.code, r.signal], [143, "SIGTERM"]);
    });
    await t.step("calls made at once run one after the other", async () => {
      const file = `/tmp/nsjoin-session-${TAG}`;
      try {
        const first = s.output("sh", {
          args: ["-c", `echo a > ${file}; sleep 0.2; echo b >> ${file}`],
        });
        const second = s.output("cat", { args: [file] });
        assertEquals((await first).code, 0);
        assertEquals(text((await second).stdout), "a\nb\n");
      } finally {
        await s.output("rm", { args: ["-f", file] });
      }
    });
    await t.step("bad per-program input is refused before anything runs", async () => {
      await rejection(() => s.output(""), TypeError, /empty program/);
      await rejection(() => s.output("true", { env: { "A=B": "1" } }), TypeError, /has no '='/);
      await rejection(() => s.output("true", { args: ["a\0b"] }), TypeError, /NUL/);
      await rejection(
        () => s.output("true", { args: ["x".repeat(200_000)] }),
        RangeError,
        /longer than 131072 bytes/,
      );
      // A JavaScript caller's shapes: a string args was spread into one argument per character.
      const marker = `/tmp/nsjoin-session-shape-${TAG}`;
      await rejection(
        () => s.output("touch", { args: marker as unknown as string[] }),
        TypeError,
        /Cannot use args "[^"]+": give an array of strings/,
      );
      await rejection(
        () => s.output("true", { env: { A: 1 } as unknown as Record<string, string> }),
        TypeError,
        /environment variable "A": its value is a number/,
      );
      await rejection(
        () => s.output("true", { stdin: "text" as unknown as Uint8Array }),
        TypeError,
        /Cannot use stdin: give its bytes as a Uint8Array/,
      );
      await rejection(
        () => s.output("true", { signal: "x" as unknown as AbortSignal }),
        TypeError,
        /give an AbortSignal/,
      );
      assertEquals(await Deno.stat(marker).then(() => "ran", () => "not run"), "not run");
    });
  },
});

Deno.test({
  name: "a session's program holds no fd of the session (only 0-2)",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    await using s = await openSession(target.pid);
    // ls's own directory fd is 3; the session's socket, the target's pidfd and the
    // request's pipes would show as more.
    const r = await s.output("ls", { args: ["/proc/self/fd"] });
    assertEquals(text(r.stdout).trim().split(/\s+/), ["0", "1", "2", "3"]);
    const links = await s.output("sh", { args: ["-c", "readlink /proc/$$/fd/*"] });
    assert(!/socket|pidfd/.test(text(links.stdout)), text(links.stdout));
  },
});

Deno.test({
  name: "many programs in one session leak no fd, here or in the helper",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    await using s = await openSession(target.pid);
    const fds = (pid: number | "self") => [...Deno.readDirSync(`/proc/${pid}/fd`)].length;
    await s.output("true");
    const [ours, helper] = [fds("self"), fds(s.pid)];
    for (let i = 0; i < 300; i++) {
      const r = await s.output("echo", { args: [String(i)] });
      assertEquals(text(r.stdout), `${i}\n`);
    }
    assertEquals([fds("self"), fds(s.pid)], [ours, helper]);
  },
});

Deno.test({
  name: "a session ends with its target: the helper exits, a later call throws, nothing runs",
  ignore: NEEDS_ROOT,
  async fn() {
    const target = await makeTarget();
    const marker = `/tmp/nsjoin-session-ran-${TAG}`;
    // net only: the marker would be written to the host's /tmp.
    const s = await openSession(target.pid, { namespaces: ["net"] });
    try {
      assertEquals((await s.output("true")).code, 0);
      await target.kill();
      assert(await gone(s.pid), "the session's helper outlived its target");
      const error = await rejection(
        () => s.output("touch", { args: [marker] }),
        NamespaceError,
        /the target exited/,
      );
      assertEquals(error.code, "ESRCH");
      assert(!(await Deno.stat(marker).then(() => true, () => false)), "a program ran");
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "close() ends a running program and the helper; a call after it throws",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const s = await openSession(target.pid);
    const running = s.output("sleep", { args: ["100"] });
    // Its PID, seen from here: the helper's only child.
    let child = 0;
    for (let i = 0; i < 500 && !child; i++) {
      await new Promise((r) => setTimeout(r, 5));
      const c = await Deno.readTextFile(`/proc/${s.pid}/task/${s.pid}/children`).catch(() => "");
      child = Number(c.trim().split(/\s+/)[0] || 0);
    }
    assert(child > 0, "no program started");
    await s.close();
    await rejection(() => running, Error, /the session is closed/);
    assert(await gone(s.pid), "the helper outlived close()");
    assert(await gone(child), "the program outlived close()");
    await rejection(() => s.output("true"), Error, /the session is closed/);
    await s.close(); // idempotent
  },
});

Deno.test({
  name:
    "an abort and close() reach what the program started too: its process group, not the program alone",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    /** The first child of `pid` (from its main thread's children list), waited for. */
    const childOf = async (pid: number) => {
      for (let i = 0; i < 1000; i++) {
        const c = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
        const first = Number(c.trim().split(/\s+/)[0] || 0);
        if (first) return first;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error(`no child of ${pid}`);
    };
    await t.step("an aborted sh -c 'sleep 100; …' ends at once, its sleep with it", async () => {
      await using s = await openSession(target.pid);
      const ac = new AbortController();
      const p = s.output("sh", { args: ["-c", "sleep 100; echo never"], signal: ac.signal });
      const sleep = await childOf(await childOf(s.pid));
      ac.abort();
      // The sleep held sh's stdout: reaching sh alone, output() resolved 100 s later.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const r = await Promise.race([
        p,
        new Promise<never>((_, no) =>
          timer = setTimeout(() => no(new Error("the abort did not reach the sleep")), 20_000)
        ),
      ]).finally(() => clearTimeout(timer));
      assertEquals([r.signal, text(r.stdout)], ["SIGTERM", ""]);
      assert(await gone(sleep), "the sleep outlived the abort");
    });
    await t.step("close() during sh -c 'sleep 100; …' leaves no sleep in the target", async () => {
      const s = await openSession(target.pid);
      const running = s.output("sh", { args: ["-c", "sleep 100; echo never"] });
      running.catch(() => {});
      const sleep = await childOf(await childOf(s.pid));
      await s.close();
      await rejection(() => running, Error, /the session is closed/);
      assert(await gone(sleep), "the sleep outlived close()");
    });
  },
});

Deno.test({
  name: "close() does not wait for a background process holding a program's output",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const s = await openSession(target.pid);
    // sh exits at once; its sleep keeps stdout open (output() waits for it, as Deno's does).
    const marker = `/proc/${target.pid}/root/tmp/bg-${TAG}`;
    const left = s.output("sh", { args: ["-c", `sleep 100 & echo started; touch /tmp/bg-${TAG}`] });
    // sh has exited once the marker is there and the helper has no child left; the status
    // is sent right after the helper reaps it, and then the helper polls for the next
    // request. Waited for that poll, not for a fixed 0.1 s: a helper descheduled between
    // its wait4 and its send (a loaded machine) had its status cut off by close().
    const sent = async () => {
      const c = await Deno.readTextFile(`/proc/${s.pid}/task/${s.pid}/children`).catch(() => "");
      const wchan = await Deno.readTextFile(`/proc/${s.pid}/wchan`).catch(() => "");
      return c.trim() === "" && wchan.includes("poll") &&
        await Deno.stat(marker).then(() => true, () => false);
    };
    for (const end = Date.now() + 60_000; !await sent();) {
      assert(Date.now() < end, "sh never ended, or the helper never sent its status");
      await new Promise((r) => setTimeout(r, 5));
    }
    await s.close();
    const r = await left;
    assertEquals([r.code, text(r.stdout)], [0, "started\n"]);
  },
});

Deno.test({
  name: "the helper dies with the Deno process that opened the session",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const script = [
      `import { openSession } from "${ROOT}mod.ts";`,
      `const s = await openSession(${target.pid});`,
      `await s.output("true");`,
      `console.log(s.pid);`,
      `if (Deno.args[0] === "hang") await new Promise(() => setInterval(() => {}, 1000));`,
    ].join("\n");
    for (const how of ["exits without close()", "is killed (SIGKILL)"]) {
      await t.step(how, async () => {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["eval", script, how.startsWith("is") ? "hang" : "exit"],
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        const reader = child.stdout.getReader();
        let line = "";
        while (!line.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          line += text(value);
        }
        reader.releaseLock();
        await child.stdout.cancel();
        const helper = Number(line.trim());
        assert(helper > 0, `no helper PID: ${line}`);
        if (how.startsWith("is")) child.kill("SIGKILL");
        await child.status;
        assert(await gone(helper), `the helper ${helper} outlived its Deno process`);
      });
    }
  },
});

Deno.test({
  name: "a session dropped without close() ends its helper once collected (review 6)",
  ignore: NEEDS_ROOT,
  async fn() {
    // Its fds were held by nothing but the object: a program that opens sessions and drops
    // them kept one helper (in the target's cgroups, holding its pidfd) per session until it
    // exited.
    await using target = await makeTarget();
    const script = [
      `import { openSession } from "${ROOT}mod.ts";`,
      `let pid = 0;`,
      `await (async () => {`,
      `  const s = await openSession(${target.pid});`,
      `  pid = s.pid;`,
      `  await s.output("true");`,
      `})();`,
      `const stat = () => Deno.readTextFile(\`/proc/\${pid}/stat\`).catch(() => "x x Z");`,
      `const alive = async () => (await stat()).split(" ")[2] !== "Z";`,
      `for (let i = 0; i < 500 && await alive(); i++) {`,
      `  (globalThis as unknown as { gc: () => void }).gc();`,
      `  await new Promise((r) => setTimeout(r, 10));`,
      `}`,
      `console.log(await alive() ? "alive" : "gone");`,
    ].join("\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(text(out.stdout).trim(), "gone", text(out.stderr));
  },
});

Deno.test({
  name: "a session closed mid-program and collected closes nothing of a later one (review 7)",
  ignore: NEEDS_ROOT,
  async fn() {
    // close() during a program makes the wait see the socket's hang-up, which ends the wire;
    // that once registered the socket for closing at collection again, after close() had
    // closed it: the next session, given the same fd number, lost its socket at the next GC.
    await using target = await makeTarget();
    const script = [
      `import { openSession } from "${ROOT}src/session.ts";`,
      `await (async () => {`,
      `  const s = await openSession(${target.pid});`,
      `  const run = s.output("sleep", { args: ["5"] }).catch(() => {});`,
      `  await new Promise((r) => setTimeout(r, 200));`,
      `  await s.close();`,
      `  await run;`,
      `})();`,
      `await using later = await openSession(${target.pid});`,
      `for (let i = 0; i < 50; i++) {`,
      `  (globalThis as unknown as { gc: () => void }).gc();`,
      `  await new Promise((r) => setTimeout(r, 10));`,
      `}`,
      `console.log((await later.output("true")).code);`,
    ].join("\n");
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--v8-flags=--expose-gc", script],
      stdout: "piped",
      stderr: "piped",
      // It hung, its later session's socket gone: killed, it prints nothing. Not sooner than
      // 3 min: the 50 collections took 56 s on a loaded machine (six busy loops, nice 19).
      signal: AbortSignal.timeout(180_000),
    }).output();
    assertEquals(text(out.stdout).trim(), "0", `${out.signal ?? out.code}: ${text(out.stderr)}`);
  },
});

Deno.test({
  name: "session options: per-program ones are refused, a failed set-up throws",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    for (const bad of [{ tty: true }, { args: ["x"] }, { stdout: "piped" }, { fork: false }]) {
      await rejection(
        () => openSession(target.pid, bad as Record<string, unknown>),
        TypeError,
        /belongs to one program/,
      );
    }
    await rejection(
      () => openSession(target.pid, { target: 1 }),
      TypeError,
      new RegExp(
        `^Cannot open a session with two targets: ${target.pid} and options.target 1 are not the same process \\(pass the container itself: openSession\\(c, containerExecOptions\\(c\\)\\)\\)$`,
      ),
    );
    // A PID and a pinned process of that PID are one target: the pinned one is joined.
    using pinned = pinProcess(target.pid);
    for (const [given, inOptions] of [[target.pid, pinned], [pinned, target.pid]] as const) {
      await using s = await openSession(given, { target: inOptions });
      const r = await s.output("readlink", { args: ["/proc/self/ns/uts"] });
      assertEquals(text(r.stdout), `${Deno.readLinkSync(`/proc/${target.pid}/ns/uts`)}\n`);
    }
    await rejection(
      () => openSession(target.pid, { cwd: "/no/such/dir" }),
      NamespaceError,
      /^Cannot change directory to \/no\/such\/dir in the target/,
    );
  },
});

Deno.test({
  name: "a failed openSession closes only its own fds, never one opened meanwhile (review 6)",
  ignore: NEEDS_ROOT,
  async fn() {
    // It closed the helper's end of its socket after the spawn and again when the set-up
    // failed: by then the number could be a file opened meanwhile, closed under its owner.
    await using target = await makeTarget();
    // src/session.ts's own: mod.ts's loads it first, so its spawn would come after our opens.
    const { openSession: open } = await import("../src/session.ts");
    // …and its error class (mod.ts's is the bundle's copy of it).
    const { NamespaceError: SourceNamespaceError } = await import("../src/errors.ts");
    const failing = open(target.pid, { cwd: "/no/such/dir" }).then(() => null, (e) => e);
    // While it waits for the helper: files take the lowest free numbers, the ones it freed.
    const files = Array.from({ length: 8 }, () => Deno.openSync("/proc/self/stat"));
    try {
      assert((await failing) instanceof SourceNamespaceError);
      for (const f of files) assert(f.readSync(new Uint8Array(16))! > 0, "a file was closed");
    } finally {
      for (const f of files) f.close();
    }
  },
});

const SKIP_DOCKER = skipWithoutEngines("session container tests", ["docker"]);

Deno.test({
  name: "a session in a docker container: as NsCommand, invisible inside, gone when it stops",
  ignore: SKIP_DOCKER,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const owner = podmanUser();
    if (owner) await ensureImages(owner);
    const made: TestContainer[] = [];
    try {
      const [c, d] = await Promise.all([
        startContainer("docker", `nsjs${TAG}-a`, ["--user", "1000:1000", "--group-add", "5"]),
        startContainer("docker", `nsjs${TAG}-b`),
      ]);
      made.push(c, d);
      using container = await resolveContainer(c.id);
      const options = containerExecOptions(container);
      await using s = await openSession(container, options);

      await t.step(
        "the container's user, env, cwd, caps, seccomp, cgroups, namespaces",
        () => sameAsNsCommand(s, options),
      );

      await t.step("nothing inside the container sees the helper", async () => {
        const inside = await run("docker", [
          "exec",
          c.name,
          "sh",
          "-c",
          "for p in /proc/[0-9]*; do echo $p $(tr '\\0' ' ' < $p/cmdline); done",
        ]);
        assertEquals(inside.code, 0, inside.stderr);
        assert(!/nsjoin|L\d+ /.test(inside.stdout), inside.stdout);
        // And the container's PIDs: its init, and this docker exec's own shell and tr.
        const host = await Deno.readTextFile(`/proc/${s.pid}/status`);
        assertMatch(host, /^NSpid:\t\d+$/m); // one pid namespace: the caller's
      });

      await t.step(
        "the freezer files it reads before each program stay open with it, no longer",
        async () => {
          // Opened once per session (each program's check reads them again from their start):
          // closed with the session, never left behind.
          const freezerFds = () =>
            [...Deno.readDirSync("/proc/self/fd")].filter((e) => {
              try {
                const link = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
                return link.includes(c.id) &&
                  /\/(freezer\.state|cgroup\.freeze|cgroup\.events)$/.test(link);
              } catch {
                return false; // the fd of readDirSync itself, closed meanwhile
              }
            }).length;
          const before = freezerFds();
          {
            await using s3 = await openSession(container, options);
            assertEquals((await s3.output("true")).code, 0);
            assert(freezerFds() > before, "the session reads the freezer files from fds it keeps");
          }
          assertEquals(freezerFds(), before);
        },
      );

      await t.step(
        "docker stop and rm succeed with a session open; the helper is gone",
        async () => {
          const stopped = await run("docker", ["stop", "-t", "1", c.name]);
          assertEquals(stopped.code, 0, stopped.stderr);
          assert(await gone(s.pid), "the helper outlived the container");
          const removed = await run("docker", ["rm", c.name]);
          assertEquals(removed.code, 0, removed.stderr);
          await rejection(() => s.output("true"), NamespaceError, /the target exited/);
        },
      );

      await t.step("docker rm -f too", async () => {
        using other = await resolveContainer(d.id);
        // The container's PID with its options, as a user writes it: that container.
        await using byPid = await openSession(other.pid, containerExecOptions(other));
        const ns = await byPid.output("readlink", { args: ["/proc/self/ns/mnt"] });
        assertEquals(text(ns.stdout), `${Deno.readLinkSync(`/proc/${other.pid}/ns/mnt`)}\n`);
        await rejection(
          () => openSession(Deno.pid, containerExecOptions(other)),
          TypeError,
          new RegExp(`${Deno.pid} and options.target container ${other.pid} are not the same`),
        );
        await using s2 = await openSession(other, containerExecOptions(other));
        assertEquals((await s2.output("true")).code, 0);
        const removed = await run("docker", ["rm", "-f", d.name]);
        assertEquals(removed.code, 0, removed.stderr);
        assert(await gone(s2.pid), "the helper outlived the container");
      });
    } finally {
      await removeContainers(made);
    }
  },
});

const SKIP_CRI = !CI && (!IS_ROOT || !HAVE_CONTAINERD);

Deno.test({
  name: "a session in a pod runs programs as the CRI's ExecSync (kubectl exec) does",
  ignore: SKIP_CRI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using rt = await CriRuntime.start();
    const pod = await rt.runPod("nsj-s", `web-${TAG}`, [
      { name: "app", env: { FOO: "bar" }, workingDir: "/tmp" },
      { name: "sec", securityContext: { seccomp: { profile_type: "RuntimeDefault" } } },
      { name: "solo", securityContext: { run_as_user: { value: 1000 }, readonly_rootfs: true } },
    ]);
    const probes: [string, string[]][] = [
      ...PROBES.filter(([name]) => name !== "status"),
      // Uid/Gid/Groups lines differ from runc's only in the fs ids, which ExecSync's own
      // process also shows: compare what kubectl exec users look at.
      ["status", ["sh", "-c", "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status"]],
      ["write", ["sh", "-c", "echo out; echo err >&2; touch /probe-file && echo wrote"]],
    ];
    for (const name of Object.keys(pod.containers)) {
      using c = await resolveContainer(`k8s:nsj-s/web-${TAG}/${name}`, {
        containerdState: [rt.state],
      });
      await using s = await openSession(c, containerExecOptions(c));
      for (const [what, [program, ...args]] of probes) {
        const want = await rt.execSync(pod.containers[name], [program, ...args]);
        const got = shown(await s.output(program, { args }));
        assertEquals(
          { code: got.code, stdout: got.stdout, stderr: got.stderr },
          { code: want.code, stdout: want.stdout, stderr: want.stderr },
          `${name}: ${what}`,
        );
      }
    }
    // The pod deleted with a session open: removal succeeds, the helper is gone with it.
    using app = await resolveContainer(`k8s:nsj-s/web-${TAG}/app`, { containerdState: [rt.state] });
    await using s = await openSession(app, containerExecOptions(app));
    assertEquals((await s.output("true")).code, 0);
    await rt.removePod(pod);
    assert(await gone(s.pid), "the helper outlived its pod");
    await rejection(() => s.output("true"), NamespaceError, /the target exited/);
  },
});
