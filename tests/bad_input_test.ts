/**
 * Bad input, table-driven, across the CLI (enter, exec) and the library: each case gives
 * exactly one line on stderr, a documented exit code, no stack trace, and runs nothing
 * (the program, when it runs, would create a file in the case's own empty directory).
 *
 * The cases run concurrently, then are checked one step each. With
 * NSJOIN_WRITE_ERRORS_MD=1 the table of what was seen is written to docs/errors.md.
 */
import { dirname } from "node:path";
// The library from its sources, as src/cli/_run.ts's report() knows its classes from them
// (mod.ts runs from a bundle, whose NamespaceError is another class).
import { NsCommand, type NsCommandOptions } from "../src/command.ts";
import { namespaceTypeOfFile, sameNamespace } from "../src/namespaces.ts";
import { pinProcess, resolveTarget } from "../src/target.ts";
import { scopedJoin } from "../src/scoped.ts";
import { listNamespaces, processesInNamespace } from "../src/listing.ts";
import { findContainers, resolveContainer } from "../src/containers.ts";
import { report } from "../src/cli/_run.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  cli,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  testUser,
  text,
  userDeno,
} from "./_fixtures.ts";

interface Seen {
  code: number;
  stderr: string;
}

/** What the cases may use: targets of several kinds and a scratch directory per case. */
interface Context {
  /** A root-made target in every namespace but user and time. */
  pid: number;
  /** A target in a user namespace where only uid/gid 0 is mapped. */
  userns: number;
  /** A target whose environment holds 1.2 MB. */
  bigEnv: number;
  /** A zombie (exited, never reaped). */
  zombie: number;
  /** A shared library without libc's symbols. */
  tinyLib: string;
  /** The unprivileged test user. */
  user: { uid: number; gid: number };
  /** A FIFO nobody writes to: opening it for reading blocks forever. */
  fifo: string;
  /** PIDs of processes a case started itself: shown as PID in docs/errors.md too. */
  started: number[];
}

interface Case {
  /** What a user types or passes, as shown in docs/errors.md. */
  input: string;
  /** Where: "enter", "exec", "cli" or "API". */
  via: string;
  code: number;
  message: RegExp;
  /** Runs the case; `marker` is where the program would leave a file. */
  run(ctx: Context, marker: string): Promise<Seen>;
}

const CLI = `${ROOT}cli.ts`;

/** `nsjoin enter ARGS... touch MARKER`, `TOUCH` standing for the program. */
const enter = (args: (ctx: Context) => string[], env?: Record<string, string>) =>
(
  ctx: Context,
  marker: string,
): Promise<Seen> =>
  cli(["enter", ...args(ctx).flatMap((a) => a === "TOUCH" ? ["touch", marker] : [a])], { env });

const exec = (args: (ctx: Context) => string[]) => (ctx: Context, marker: string): Promise<Seen> =>
  cli(["exec", ...args(ctx).flatMap((a) => a === "TOUCH" ? ["touch", marker] : [a])]);

/** A library call, its error mapped by the CLI's own report(): the line and code a CLI user gets. */
const api =
  (options: (ctx: Context, marker: string) => NsCommandOptions, program = "touch") =>
  async (ctx: Context, marker: string): Promise<Seen> => {
    let error: unknown;
    try {
      const out = await new NsCommand(program, options(ctx, marker)).output();
      return { code: out.code, stderr: text(out.stderr) };
    } catch (e) {
      error = e;
    }
    // Synchronously: the cases run concurrently, and console.error is ours only here.
    const lines: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => lines.push(args.join(" "));
    try {
      const code = report(error, "api");
      return { code, stderr: lines.map((l) => `${l}\n`).join("") };
    } finally {
      console.error = original;
    }
  };

/** A library call other than NsCommand (sync or async), its error mapped by report() as in `api`. */
const call = (fn: (ctx: Context) => unknown) => async (ctx: Context): Promise<Seen> => {
  let error: unknown;
  try {
    await fn(ctx);
    return { code: 0, stderr: "" };
  } catch (e) {
    error = e;
  }
  // Synchronously: the cases run concurrently, and console.error is ours only here.
  const lines: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => lines.push(args.join(" "));
  try {
    return { code: report(error, "api"), stderr: lines.join("\n") + "\n" };
  } finally {
    console.error = original;
  }
};

/** Any command line, run with Deno (the CLI's arguments after `cli.ts`). */
async function raw(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Seen> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd: "/",
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stderr: text(out.stderr) };
}
const denoCli = ["run", "-A", "--quiet", "--no-lock", CLI];

const CASES: Case[] = [
  // Numbers and targets.
  {
    input: "enter TOUCH (no -t, no namespace)",
    via: "enter",
    code: 2,
    message: /no namespace given/,
    run: enter(() => ["TOUCH"]),
  },
  {
    input: "-t 99999999999999999999",
    via: "enter",
    code: 2,
    message: /Cannot use 100000000000000000000 as a PID/,
    run: enter(() => ["-t", "99999999999999999999", "-a", "TOUCH"]),
  },
  {
    input: "-t 4194304 (above pid_max)",
    via: "enter",
    code: 125,
    message: /Cannot find process 4194304/,
    run: enter(() => ["-t", "4194304", "-a", "TOUCH"]),
  },
  {
    input: "-t 4294967296 (beyond 32 bits)",
    via: "enter",
    code: 125,
    message: /Cannot find process 4294967296/,
    run: enter(() => ["-t", "4294967296", "-a", "TOUCH"]),
  },
  {
    input: "-t 1e3",
    via: "enter",
    code: 2,
    message: /Cannot use 1e3 as a PID/,
    run: enter(() => ["-t", "1e3", "-a", "TOUCH"]),
  },
  {
    input: "-t 0x10",
    via: "enter",
    code: 2,
    message: /Cannot use 0x10 as a PID/,
    run: enter(() => ["-t", "0x10", "-a", "TOUCH"]),
  },
  // strtoul's leading blanks and "+" are a PID (`-t " 12"`, as nsenter); a sign twice or
  // anything after the digits is not.
  {
    input: "-t +-5",
    via: "enter",
    code: 2,
    message: /Cannot resolve target "\+-5"/,
    run: enter(() => ["-t", "+-5", "-a", "TOUCH"]),
  },
  {
    input: '-t "12 "',
    via: "enter",
    code: 2,
    message: /Cannot use 12 {2}as a PID/,
    run: enter(() => ["-t", "12 ", "-a", "TOUCH"]),
  },
  {
    input: '-t ""',
    via: "enter",
    code: 2,
    message: /Cannot resolve target ""/,
    run: enter(() => ["-t", "", "-a", "TOUCH"]),
  },
  {
    input: "-t docker:web (a container for enter)",
    via: "enter",
    code: 2,
    message:
      /Cannot resolve target "docker:web": .* - a container is named through resolveContainer\(\) \(the CLI: nsjoin exec\)/,
    run: enter(() => ["-t", "docker:web", "-a", "TOUCH"]),
  },
  {
    input: 'target: "k8s:default/web/app" (not resolved)',
    via: "API",
    code: 2,
    message:
      /Cannot resolve target "k8s:default\/web\/app": .* - a container is named through resolveContainer\(\)/,
    run: api((_, m) => ({ target: "k8s:default/web/app", args: [m] })),
  },
  {
    input: 'target: "web1" (a container name, not resolved)',
    via: "API",
    code: 2,
    message: /Cannot resolve target "web1": .* - a container is named through resolveContainer\(\)/,
    run: api((_, m) => ({ target: "web1", args: [m] })),
  },
  {
    input: "-t 12:abc",
    via: "enter",
    code: 2,
    message: /Cannot use 12:abc as a PID/,
    run: enter(() => ["-t", "12:abc", "-a", "TOUCH"]),
  },
  {
    input: "-t PID:1 (PID:inode, wrong pidfs inode)",
    via: "enter",
    code: 125,
    message: /is now another process/,
    run: enter((c) => ["-t", `${c.pid}:1`, "-a", "TOUCH"]),
  },
  {
    // Stop 27: it said the process had exited, of a process alive since before that inode.
    input: "-t PID:9007199254740991 (PID:inode, an inode newer than the PID's process)",
    via: "enter",
    code: 125,
    message: /never was the process of that inode \(its process is older: inode \d+\) - check/,
    run: enter((c) => ["-t", `${c.pid}:9007199254740991`, "-a", "TOUCH"]),
  },
  {
    // Stop 27: before pidfs (Linux 6.9) every pidfd is one anonymous inode, which matched any
    // process: the PID check ran nothing. nsenter: "pidfd needs to have the pidfs file system
    // type". NSJOIN_NO_PIDFS=1 stands in for such a kernel.
    input: "-t PID:INODE, NSJOIN_NO_PIDFS=1 (a kernel without pidfs)",
    via: "enter",
    code: 125,
    message: /Cannot join \d+:\d+: this kernel's pidfds have no inode of their own/,
    run: enter(
      (c) => {
        const r = resolveTarget(c.pid);
        return ["-t", `${c.pid}:${r.kind === "process" ? r.inode : "?"}`, "-a", "TOUCH"];
      },
      { NSJOIN_NO_PIDFS: "1" },
    ),
  },
  {
    // Stop 27: nsenter's habit `-n FILE` (the FILE after a space) ran nothing and said only
    // "no target given"; the FILE became the program (getopt's optional value is attached).
    input: "-n /proc/self/ns/net TOUCH (FILE after a space, no -t)",
    via: "enter",
    code: 2,
    message:
      /no target given for net: .*\(\/proc\/self\/ns\/net was read as the program: a namespace option takes its FILE attached, --net=\/proc\/self\/ns\/net\)/,
    run: enter(() => ["-n", "/proc/self/ns/net", "TOUCH"]),
  },
  {
    input: "-t 4194000:5 (PID:inode, no such PID)",
    via: "enter",
    code: 125,
    message: /Cannot pin process 4194000/,
    run: enter(() => ["-t", "4194000:5", "-a", "TOUCH"]),
  },
  {
    input: "-t ZOMBIE (exited, not reaped)",
    via: "enter",
    code: 125,
    message: /it has exited \(a zombie\)/,
    run: enter((c) => ["-t", String(c.zombie), "-a", "TOUCH"]),
  },
  {
    input: "-t 2 (kthreadd, a kernel thread)",
    via: "enter",
    code: 125,
    message: /it is a kernel thread/,
    run: enter(() => ["-t", "2", "-a", "TOUCH"]),
  },
  // Paths.
  {
    input: "--net=/nonexistent",
    via: "enter",
    code: 125,
    message: /Cannot open namespace file \/nonexistent: ENOENT/,
    run: enter(() => ["--net=/nonexistent", "TOUCH"]),
  },
  {
    input: "--net=/tmp (a directory)",
    via: "enter",
    code: 125,
    message: /Cannot use \/tmp: it is not a namespace file/,
    run: enter(() => ["--net=/tmp", "TOUCH"]),
  },
  {
    // Opened from the cwd, as nsenter opens it ("/" here, where there is none).
    input: "--net=relative/net (missing)",
    via: "enter",
    code: 125,
    message: /Cannot open namespace file \.\/relative\/net: ENOENT/,
    run: enter(() => ["--net=relative/net", "TOUCH"]),
  },
  {
    input: "--root=/nonexistent",
    via: "enter",
    code: 125,
    message: /Cannot open root directory \/nonexistent/,
    run: enter((c) => ["-t", String(c.pid), "-a", "--root=/nonexistent", "TOUCH"]),
  },
  {
    input: "--wd=/nonexistent",
    via: "enter",
    code: 125,
    message: /Cannot open working directory \/nonexistent/,
    run: enter((c) => ["-t", String(c.pid), "-a", "--wd=/nonexistent", "TOUCH"]),
  },
  // Flags.
  {
    input: "-X",
    via: "enter",
    code: 2,
    message: /unknown option -X/,
    run: enter((c) => ["-t", String(c.pid), "-X", "TOUCH"]),
  },
  {
    input: "-N 3 without -t",
    via: "enter",
    code: 2,
    message: /--net-socket requires --target/,
    run: enter(() => ["-N", "3", "-n/proc/self/ns/net", "TOUCH"]),
  },
  {
    input: "-N 999 (no such fd in the target)",
    via: "enter",
    code: 125,
    message: /Cannot enter the network namespace of fd 999 .*EBADF/,
    run: enter((c) => ["-t", String(c.pid), "-N", "999", "TOUCH"]),
  },
  {
    input: "--net=:x (a namespace id that is not a number)",
    via: "enter",
    code: 2,
    message: /invalid namespace id/,
    run: enter((c) => ["-t", String(c.pid), "--net=:x", "TOUCH"]),
  },
  {
    input: "--net=:5 (a namespace id, Linux < 6.19)",
    via: "enter",
    code: 125,
    message: /by its id/,
    run: enter((c) => ["-t", String(c.pid), "--net=:5", "TOUCH"]),
  },
  {
    input: "--user-parent of the initial user namespace",
    via: "enter",
    code: 125,
    message: /Cannot find the parent user namespace/,
    run: enter(() =>
      ["-t", "1", "-U", "--user-parent", "TOUCH"].map((a) => a === "1" ? String(Deno.pid) : a)
    ),
  },
  {
    input: "--all=yes",
    via: "enter",
    code: 2,
    message: /option --all takes no value/,
    run: enter((c) => ["-t", String(c.pid), "--all=yes", "TOUCH"]),
  },
  {
    input: "--preserve-credentials=1",
    via: "enter",
    code: 2,
    message: /option --preserve-credentials takes no value/,
    run: enter((c) => ["-t", String(c.pid), "-a", "--preserve-credentials=1", "TOUCH"]),
  },
  {
    input: "-S (last, no value)",
    via: "enter",
    code: 2,
    message: /option -S requires an argument/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-S"]),
  },
  // Users and groups.
  {
    input: "-S 4294967295",
    via: "enter",
    code: 2,
    message: /Cannot use uid 4294967295/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-S", "4294967295", "TOUCH"]),
  },
  {
    input: "-S -1",
    via: "enter",
    code: 2,
    message: /-S takes a number or "follow", not "-1"/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-S", "-1", "TOUCH"]),
  },
  {
    input: "-G 1.5",
    via: "enter",
    code: 2,
    message: /-G takes a number or "follow", not "1.5"/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-G", "1.5", "TOUCH"]),
  },
  {
    input: "-S 70000 (not mapped in the target's user namespace)",
    via: "enter",
    code: 125,
    message: /Cannot set user id 70000: EINVAL .* not mapped/,
    run: enter((c) => ["-t", String(c.userns), "-a", "-S", "70000", "TOUCH"]),
  },
  {
    input: "-G 70000 (not mapped in the target's user namespace)",
    via: "enter",
    code: 125,
    message: /Cannot set group id 70000: EINVAL .* not mapped/,
    run: enter((c) => ["-t", String(c.userns), "-a", "-G", "70000", "TOUCH"]),
  },
  {
    input: "--net=FILE -S follow (no process to follow)",
    via: "enter",
    code: 2,
    message: /Cannot use uid: "follow" with a namespace file as target/,
    run: enter((c) => [`--net=/proc/${c.pid}/ns/net`, "-S", "follow", "TOUCH"]),
  },
  // Working directory.
  {
    input: "-W /nonexistent",
    via: "enter",
    code: 125,
    message: /Cannot change directory to \/nonexistent in the target: ENOENT/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-W", "/nonexistent", "TOUCH"]),
  },
  {
    input: "-W /etc/hostname (a file)",
    via: "enter",
    code: 125,
    message: /Cannot change directory to \/etc\/hostname in the target: ENOTDIR/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-W", "/etc/hostname", "TOUCH"]),
  },
  {
    input: '-W ""',
    via: "enter",
    code: 125,
    message: /Cannot change directory to {2}in the target: ENOENT/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-W", "", "TOUCH"]),
  },
  // The program.
  {
    input: 'enter -t PID -a "" (empty program)',
    via: "enter",
    code: 2,
    message: /Cannot run an empty program name/,
    run: enter((c) => ["-t", String(c.pid), "-a", ""]),
  },
  {
    input: "program /tmp (a directory)",
    via: "enter",
    code: 126,
    message: /Cannot run \/tmp: EACCES/,
    run: enter((c) => ["-t", String(c.pid), "-a", "/tmp", "TOUCH"]),
  },
  {
    input: "program /etc/hostname/x (through a file)",
    via: "enter",
    code: 126,
    message: /Cannot run \/etc\/hostname\/x: ENOTDIR/,
    run: enter((c) => ["-t", String(c.pid), "-a", "/etc/hostname/x", "TOUCH"]),
  },
  // Environment.
  {
    input: "SHELL=/nonexistent, no program",
    via: "enter",
    code: 127,
    message: /Cannot run \/nonexistent: not found in the target/,
    run: enter((c) => ["-t", String(c.pid), "-a"], { SHELL: "/nonexistent" }),
  },
  {
    input: "NSJOIN_LIBC=/nonexistent.so (no libc) with a namespace file",
    via: "enter",
    code: 125,
    message: /Cannot load libc: tried \/nonexistent.so/,
    run: enter((c) => [`--net=/proc/${c.pid}/ns/net`, "TOUCH"], {
      NSJOIN_LIBC: "/nonexistent.so",
    }),
  },
  {
    input: "NSJOIN_LIBC=a library without libc's symbols",
    via: "enter",
    code: 125,
    message: /Cannot load libc: .*undefined symbol/,
    run: (c, m) =>
      enter((c) => [`--net=/proc/${c.pid}/ns/net`, "TOUCH"], { NSJOIN_LIBC: c.tinyLib })(c, m),
  },
  {
    input: "argument that is not UTF-8 (byte 0xff)",
    via: "enter",
    code: 2,
    message: /Cannot use argument ".*\\xef\\xbf\\xbd": it is not valid UTF-8/,
    run: (c, m) =>
      raw("bash", [
        "-c",
        `m="$1"$(printf '\\377'); shift; exec "$@" touch "$m"`,
        "bash",
        m,
        Deno.execPath(),
        ...denoCli,
        "enter",
        "-t",
        String(c.pid),
        "-a",
      ]),
  },
  {
    input: "1.2 MB of arguments with -e and a target holding a 1.2 MB environment",
    via: "enter",
    code: 2,
    message: /arguments and environment are too long \(E2BIG\)/,
    run: (c, m) =>
      cli([
        "enter",
        "-t",
        String(c.bigEnv),
        "-a",
        "-e",
        "touch",
        m,
        ...Array.from({ length: 12 }, () => "a".repeat(100_000)),
      ]),
  },
  // Privileges and /proc.
  {
    input: "caller without CAP_SYS_ADMIN (root, capability dropped)",
    via: "enter",
    code: 125,
    message: /Cannot join .* namespace of pid \d+: EPERM/,
    run: (c, m) =>
      raw("setpriv", [
        "--bounding-set=-sys_admin",
        "--inh-caps=-sys_admin",
        Deno.execPath(),
        ...denoCli,
        "enter",
        "-t",
        String(c.pid),
        "-a",
        "touch",
        m,
      ]),
  },
  {
    input: "/proc mounted with hidepid=2, caller not root",
    via: "enter",
    code: 125,
    message: /Cannot find process \d+/,
    run: (c, m) => {
      const { deno, denoDir } = userDeno();
      return raw("unshare", [
        "-m",
        "sh",
        "-c",
        'mount -t proc -o hidepid=2 proc /proc && exec "$@"',
        "sh",
        "setpriv",
        `--reuid=${c.user.uid}`,
        `--regid=${c.user.gid}`,
        "--clear-groups",
        "env",
        `DENO_DIR=${denoDir}`,
        deno,
        ...denoCli,
        "enter",
        "-t",
        String(c.pid),
        "-a",
        "touch",
        m,
      ]);
    },
  },
  // Container names and exec's options.
  {
    input: "exec no-such-container",
    via: "exec",
    code: 125,
    message: /Cannot find container "no-such-container-\d+"/,
    run: exec(() => [`no-such-container-${Deno.pid}`, "TOUCH"]),
  },
  {
    input: "exec docker:NAME (no such docker container)",
    via: "exec",
    code: 125,
    message: /Cannot find docker container "nosuch-\d+"/,
    run: exec(() => [`docker:nosuch-${Deno.pid}`, "TOUCH"]),
  },
  {
    input: "exec podman:NAME (no such podman container)",
    via: "exec",
    code: 125,
    message: /Cannot find podman container "nosuch-\d+"/,
    run: exec(() => [`podman:nosuch-${Deno.pid}`, "TOUCH"]),
  },
  {
    input: "exec PID (its cgroup frozen, as docker/podman pause leave it)",
    via: "exec",
    code: 125,
    message: /Cannot exec in process \d+: it is paused - unpause it first/,
    run: async (ctx, marker) => {
      // A freezer cgroup of our own: a v1 freezer hierarchy, else cgroup v2's cgroup.freeze.
      const v1 = "/sys/fs/cgroup/freezer";
      let v2 = false;
      try {
        Deno.statSync(`${v1}/tasks`);
      } catch {
        v2 = true;
      }
      const dir = `${v2 ? "/sys/fs/cgroup" : v1}/nsjoin-frozen-${Deno.pid}`;
      const state = (on: boolean) =>
        Deno.writeTextFile(
          `${dir}/${v2 ? "cgroup.freeze" : "freezer.state"}`,
          v2 ? (on ? "1" : "0") : (on ? "FROZEN" : "THAWED"),
        );
      await Deno.mkdir(dir);
      const sleeper = new Deno.Command("sleep", { args: ["1000"], stdout: "null" }).spawn();
      ctx.started.push(sleeper.pid);
      try {
        await Deno.writeTextFile(`${dir}/${v2 ? "cgroup.procs" : "tasks"}`, String(sleeper.pid));
        await state(true);
        return await cli(["exec", String(sleeper.pid), "touch", marker]);
      } finally {
        await state(false);
        sleeper.kill("SIGKILL");
        await sleeper.status;
        await Deno.remove(dir);
      }
    },
  },
  {
    input: 'exec "bad name!"',
    via: "exec",
    code: 2,
    message: /Cannot resolve container "bad name!"/,
    run: exec(() => ["bad name!", "TOUCH"]),
  },
  {
    input: "exec netns:NAME (no such named netns)",
    via: "exec",
    code: 125,
    message: /Cannot open namespace file \/run\/netns\/nosuch-\d+: ENOENT/,
    run: exec(() => [`netns:nosuch-${Deno.pid}`, "TOUCH"]),
  },
  {
    input: "exec -u nosuchuser",
    via: "exec",
    code: 125,
    message: /Cannot find user "nosuchuser" in \/etc\/passwd/,
    run: exec((c) => ["-u", "nosuchuser", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -u 0:nosuchgroup",
    via: "exec",
    code: 125,
    message: /Cannot find group "nosuchgroup" in \/etc\/group/,
    run: exec((c) => ["-u", "0:nosuchgroup", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -n bogus",
    via: "exec",
    code: 2,
    message: /--namespaces: unknown type "bogus"/,
    run: exec((c) => ["-n", "bogus", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec --env-file /nonexistent",
    via: "exec",
    code: 2,
    message: /--env-file \/nonexistent: ENOENT \(no such file or directory\)/,
    run: exec((c) => ["--env-file", "/nonexistent", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -e =x",
    via: "exec",
    code: 2,
    message: /invalid environment variable: =x/,
    run: exec((c) => ["-e", "=x", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec PID (no command)",
    via: "exec",
    code: 2,
    message: /requires at least 2 arguments/,
    run: exec((c) => [String(c.pid)]),
  },
  {
    input: "exec --security-opt apparmor=unconfined",
    via: "exec",
    code: 2,
    message: /--security-opt apparmor=unconfined: only seccomp=unconfined is supported/,
    run: exec((c) => ["--security-opt", "apparmor=unconfined", String(c.pid), "TOUCH"]),
  },
  {
    input: 'seccomp: "off"',
    via: "API",
    code: 2,
    message: /Cannot use seccomp "off": give "target" or "none"/,
    run: api((c, m) => ({ target: c.pid, seccomp: "off" as "none", args: [m] })),
  },
  {
    input: "umask: 0o1000",
    via: "API",
    code: 2,
    message: /Cannot use umask 512: give a number from 0 to 0o777/,
    run: api((c, m) => ({ target: c.pid, umask: 0o1000, args: [m] })),
  },
  {
    input: "oomScoreAdj: 5000",
    via: "API",
    code: 2,
    message: /Cannot use oomScoreAdj 5000: give a number from -1000 to 1000/,
    run: api((c, m) => ({ target: c.pid, oomScoreAdj: 5000, args: [m] })),
  },
  {
    input: "nsjoin bogus (unknown command)",
    via: "cli",
    code: 2,
    message: /unknown command "bogus"/,
    run: () => cli(["bogus", "touch", "/nonexistent-dir/x"]),
  },
  // The library, its errors mapped by the CLI's report().
  {
    input: "target: NaN",
    via: "API",
    code: 2,
    message: /Cannot use NaN as a PID/,
    run: api((_, m) => ({ target: NaN, args: [m] })),
  },
  {
    input: "target: 1.5",
    via: "API",
    code: 2,
    message: /Cannot use 1.5 as a PID/,
    run: api((_, m) => ({ target: 1.5, args: [m] })),
  },
  {
    input: "target: {} (not a PID, path or pinned process)",
    via: "API",
    code: 2,
    message: /Cannot use \[object Object\] as a target/,
    run: api((_, m) => ({ target: {} as unknown as number, args: [m] })),
  },
  {
    input: 'namespaces: "none"',
    via: "API",
    code: 2,
    message: /Cannot join namespaces "none"/,
    run: api((c, m) => ({ target: c.pid, namespaces: "none" as "all", args: [m] })),
  },
  {
    input: "namespaces: { net: /etc/hostname }",
    via: "API",
    code: 125,
    message: /Cannot use \/etc\/hostname: it is not a namespace file/,
    run: api((c, m) => ({ target: c.pid, namespaces: { net: "/etc/hostname" }, args: [m] })),
  },
  {
    input: "keepFds: [2]",
    via: "API",
    code: 2,
    message: /Cannot keep fd 2/,
    run: api((c, m) => ({ target: c.pid, keepFds: [2], args: [m] })),
  },
  {
    input: "uid: 1.5",
    via: "API",
    code: 2,
    message: /Cannot use uid 1.5/,
    run: api((c, m) => ({ target: c.pid, uid: 1.5, args: [m] })),
  },
  {
    input: 'capabilities: "some"',
    via: "API",
    code: 2,
    message: /Cannot use capabilities "some"/,
    run: api((c, m) => ({ target: c.pid, capabilities: "some" as "all", args: [m] })),
  },
  {
    input: "env value with a NUL byte",
    via: "API",
    code: 2,
    message: /Cannot pass an environment variable with a NUL byte: "A"/,
    run: api((c, m) => ({ target: c.pid, env: { A: "a\0b" }, args: [m] })),
  },
  {
    input: "env name with a NUL byte",
    via: "API",
    code: 2,
    message: /Cannot pass an environment variable with a NUL byte/,
    run: api((c, m) => ({ target: c.pid, env: { "A\0B": "x" }, args: [m] })),
  },
  {
    input: "cwd with a NUL byte",
    via: "API",
    code: 2,
    message: /Cannot use cwd "\/tmp\\u0000x": give a string with no NUL byte/,
    run: api((c, m) => ({ target: c.pid, cwd: "/tmp\0x", args: [m] })),
  },
  {
    input: "program name with a NUL byte",
    via: "API",
    code: 2,
    message: /Cannot pass an argument with a NUL byte/,
    run: api((c, m) => ({ target: c.pid, args: [m] }), "touch\0"),
  },
  {
    input: "namespace file path with a NUL byte",
    via: "API",
    code: 2,
    message: /Cannot pass a string with a NUL byte to C/,
    run: api((c, m) => ({ target: `/proc/${c.pid}/ns/net\0`, args: [m] })),
  },
  {
    input: "args: 3 MB",
    via: "API",
    code: 2,
    message: /too long \(E2BIG\)/,
    run: api((c, m) => ({
      target: c.pid,
      args: [m, ...Array.from({ length: 30 }, () => "a".repeat(100_000))],
    })),
  },
  {
    input: "cgroups: [/nonexistent/cgroup.procs]",
    via: "API",
    code: 125,
    message: /Cannot open cgroup \/nonexistent\/cgroup.procs: ENOENT/,
    run: api((c, m) => ({ target: c.pid, cgroups: ["/nonexistent/cgroup.procs"], args: [m] })),
  },
  {
    input: "hostCwd: a file",
    via: "API",
    code: 125,
    message: /Cannot change directory to \/etc\/hostname/,
    run: api((c, m) => ({
      target: c.pid,
      namespaces: ["net"],
      hostCwd: "/etc/hostname",
      args: [m],
    })),
  },
  // issue 9, findings 9 and 10: the exec engine.
  {
    input: "enter --net=FIFO",
    via: "enter",
    code: 125,
    message: /Cannot use .*fifo: it is not a namespace file/,
    run: enter((c) => [`--net=${c.fifo}`, "TOUCH"]),
  },
  {
    input: "inspect FIFO",
    via: "cli",
    code: 125,
    message: /Cannot use .*fifo: it is not a namespace file/,
    run: (c) => cli(["inspect", c.fifo]),
  },
  {
    input: "namespaceTypeOfFile(FIFO)",
    via: "API",
    code: 125,
    message: /Cannot use .*fifo: it is not a namespace file/,
    run: call((c) => namespaceTypeOfFile(c.fifo)),
  },
  {
    input: "namespaces: { net: FIFO }",
    via: "API",
    code: 125,
    message: /Cannot use .*fifo: it is not a namespace file/,
    run: api((c, m) => ({ target: c.pid, namespaces: { net: c.fifo }, args: [m] })),
  },
  {
    input: "cgroups: [FIFO]",
    via: "API",
    code: 125,
    message: /Cannot use cgroup .*fifo: it is not a cgroup v2 directory/,
    run: api((c, m) => ({ target: c.pid, cgroups: [c.fifo], args: [m] })),
  },
  {
    input: "cgroups: [a symlink named tasks to a FIFO]",
    via: "API",
    code: 125,
    message: /Cannot use cgroup .*\/tasks: it is not a cgroup file/,
    run: api((c, m) => {
      const link = `${dirname(c.fifo)}/tasks`;
      Deno.symlinkSync(c.fifo, link);
      return { target: c.pid, cgroups: [link], args: [m] };
    }),
  },
  {
    input: "cgroups: [a directory not of cgroup v2]",
    via: "API",
    code: 125,
    message: /Cannot use cgroup \S+: it is not a cgroup v2 directory/,
    run: api((c, m) => ({ target: c.pid, cgroups: [dirname(c.fifo)], args: [m] })),
  },
  {
    input: "cgroups: 2 directories",
    via: "API",
    code: 2,
    message: /Cannot join more than one cgroup v2 directory/,
    run: api((c, m) => ({
      target: c.pid,
      cgroups: ["/sys/fs/cgroup/a", "/sys/fs/cgroup/b"],
      args: [m],
    })),
  },
  {
    input: "exec --env-file /dev/zero (read, capped: never a hang)",
    via: "exec",
    code: 2,
    message: /--env-file \/dev\/zero: larger than 1048576 bytes/,
    run: exec((c) => ["--env-file", "/dev/zero", String(c.pid), "TOUCH"]),
  },
  {
    input: "--net=PATH with a newline",
    via: "enter",
    code: 125,
    message: /Cannot open namespace file \/tmp\/no\\x0a\\x1b\[31mwhere: ENOENT/,
    run: enter(() => ["--net=/tmp/no\n\x1b[31mwhere", "TOUCH"]),
  },
  {
    input: "-W with a newline",
    via: "enter",
    code: 125,
    message: /Cannot change directory to \/no\\x0awhere in the target: ENOENT/,
    run: enter((c) => ["-t", String(c.pid), "-a", "-W", "/no\nwhere", "TOUCH"]),
  },
  {
    input: "program name with a newline",
    via: "enter",
    code: 127,
    message: /Cannot run tou\\x0ach: not found in the target/,
    run: (c, m) => cli(["enter", "-t", String(c.pid), "-a", "tou\nch", m]),
  },
  {
    input: "exec -d PID /nonexistent",
    via: "exec",
    code: 127,
    message: /Cannot run \/nonexistent: ENOENT|Cannot run \/nonexistent: not found/,
    run: (c, m) => cli(["exec", "-d", String(c.pid), "/nonexistent", m]),
  },
  {
    input: "cgroups: 65 files",
    via: "API",
    code: 2,
    message: /Cannot join more than 64 cgroups/,
    run: api((c, m) => ({
      target: c.pid,
      cgroups: Array.from({ length: 65 }, (_, i) => `/sys/fs/cgroup/x${i}/cgroup.procs`),
      args: [m],
    })),
  },
  {
    input: "keepFds: 64 fds",
    via: "API",
    code: 2,
    message: /Cannot keep more than 63 fds/,
    run: api((c, m) => ({
      target: c.pid,
      keepFds: Array.from({ length: 64 }, (_, i) => i + 3),
      args: [m],
    })),
  },
  {
    input: "exec -u 0:0:0",
    via: "exec",
    code: 2,
    message: /--user 0:0:0: give name\|uid\[:group\|gid\]/,
    run: exec((c) => ["-u", "0:0:0", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -n net -u NAME (mnt not joined)",
    via: "exec",
    code: 2,
    message: /--user daemon: give uid\[:gid\] when the mount namespace is not joined/,
    run: exec((c) => ["-n", "net", "-u", "daemon", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -n pid,net PID (its mnt namespace not joined)",
    via: "exec",
    code: 2,
    message: /Cannot join the pid namespace of process \d+ without its mnt namespace/,
    run: exec((c) => ["-n", "pid,net", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec of a pid namespace file not ours",
    via: "exec",
    code: 2,
    message: /Cannot join the pid namespace \/proc\/\d+\/ns\/pid without its mnt namespace/,
    run: exec((c) => [`/proc/${c.pid}/ns/pid`, "TOUCH"]),
  },
  {
    input: "exec -d --kill-on-exit",
    via: "exec",
    code: 2,
    message: /--kill-on-exit and --detach exclude each other/,
    run: exec((c) => ["-d", "--kill-on-exit", String(c.pid), "TOUCH"]),
  },
  {
    input: 'env: { "A=B": "c" }',
    via: "API",
    code: 2,
    message: /Cannot pass an environment variable named "A=B"/,
    run: api((c, m) => ({ target: c.pid, env: { "A=B": "c" }, args: [m] })),
  },
  {
    input: 'env: { "": "x" }',
    via: "API",
    code: 2,
    message: /Cannot pass an environment variable named ""/,
    run: api((c, m) => ({ target: c.pid, env: { "": "x" }, args: [m] })),
  },
  {
    input: 'noNewPrivs: "yes"',
    via: "API",
    code: 2,
    message: /Cannot use noNewPrivs "yes": give true, false or "target"/,
    run: api((c, m) => ({ target: c.pid, noNewPrivs: "yes" as "target", args: [m] })),
  },
  {
    input: 'killTree: "yes"',
    via: "API",
    code: 2,
    message: /Cannot use killTree "yes": give true or false/,
    run: api((c, m) => ({ target: c.pid, killTree: "yes" as unknown as boolean, args: [m] })),
  },
  // A JavaScript caller's options of another shape: refused by name, nothing run (a string
  // args ran touch with one argument per character; an array env passed "0=…").
  {
    input: 'args: "MARKER" (a string)',
    via: "API",
    code: 2,
    message: /Cannot use args "[^"]+": give an array of strings/,
    run: api((c, m) => ({ target: c.pid, args: m as unknown as string[] })),
  },
  {
    input: "args: [MARKER, 1]",
    via: "API",
    code: 2,
    message: /Cannot use args item 1: give a string/,
    run: api((c, m) => ({ target: c.pid, args: [m, 1] as unknown as string[] })),
  },
  {
    input: 'env: ["A=B"] (docker\'s form)',
    via: "API",
    code: 2,
    message: /Cannot use env \(an array\): give an object of names to string values/,
    run: api((c, m) => ({
      target: c.pid,
      env: ["A=B"] as unknown as Record<string, string>,
      args: [m],
    })),
  },
  {
    input: "env: { A: 1 }",
    via: "API",
    code: 2,
    message: /Cannot pass the environment variable "A": its value is a number - give a string/,
    run: api((c, m) => ({
      target: c.pid,
      env: { A: 1 } as unknown as Record<string, string>,
      args: [m],
    })),
  },
  {
    input: 'stdout: "pipe"',
    via: "API",
    code: 2,
    message: /Cannot use stdout "pipe": give "piped", "inherit" or "null"/,
    run: api((c, m) => ({ target: c.pid, stdout: "pipe" as "piped", args: [m] })),
  },
  {
    input: 'stdin: "piped" with output()',
    via: "API",
    code: 2,
    message: /Cannot use stdin "piped" with output\(\): use spawn\(\) and write to its stdin/,
    run: api((c, m) => ({ target: c.pid, stdin: "piped", args: [m] })),
  },
  {
    input: 'signal: "x"',
    via: "API",
    code: 2,
    message: /Cannot use signal "x": give an AbortSignal/,
    run: api((c, m) => ({ target: c.pid, signal: "x" as unknown as AbortSignal, args: [m] })),
  },
  {
    input: 'cgroups: "/sys/fs/cgroup/x" (a string)',
    via: "API",
    code: 2,
    message: /Cannot use cgroups "\/sys\/fs\/cgroup\/x": give an array of cgroup paths/,
    run: api((c, m) => ({
      target: c.pid,
      cgroups: "/sys/fs/cgroup/x" as unknown as string[],
      args: [m],
    })),
  },
  {
    input: 'keepFds: ["3"]',
    via: "API",
    code: 2,
    message: /Cannot keep fd "3": give a number of 3 or more/,
    run: api((c, m) => ({ target: c.pid, keepFds: ["3"] as unknown as number[], args: [m] })),
  },
  {
    input: "program: 42",
    via: "API",
    code: 2,
    message: /Cannot run 42: give the program as a string or a file URL/,
    run: api((c, m) => ({ target: c.pid, args: [m] }), 42 as unknown as string),
  },
  {
    input: 'scopedJoin(PID, "net") (a string)',
    via: "API",
    code: 2,
    message: /Cannot join namespaces "net" for a scope: give a list of types/,
    run: call((c) => scopedJoin(c.pid, "net" as unknown as ["net"])),
  },
  // The listing and container functions' lists and numbers, as a JavaScript caller passes them.
  {
    input: 'listNamespaces({ types: "net" }) (a string)',
    via: "API",
    code: 2,
    message: /Cannot list namespaces of types "net": give a list of types/,
    run: call(() => listNamespaces({ types: "net" as unknown as ["net"] })),
  },
  {
    input: 'processesInNamespace("4026531833") (a string)',
    via: "API",
    code: 2,
    message: /Cannot use "4026531833" as a namespace: give its inode number/,
    run: call(() => processesInNamespace("4026531833" as unknown as number)),
  },
  {
    input: 'sameNamespace(PID, "self", "bogus")',
    via: "API",
    code: 2,
    message: /Cannot compare namespaces of type "bogus": use one of mnt, net/,
    run: call((c) => sameNamespace(c.pid, "self", "bogus" as "net")),
  },
  {
    input: "resolveContainer(42)",
    via: "API",
    code: 2,
    message: /Cannot resolve container 42: give a name, an ID prefix or ENGINE:NAME/,
    run: call(() => resolveContainer(42 as unknown as string)),
  },
  {
    input: 'findContainers({ containerdState: "/run/k3s/containerd" }) (a string)',
    via: "API",
    code: 2,
    message: /Cannot use containerdState "\/run\/k3s\/containerd": give a list of strings/,
    run: call(() =>
      findContainers({ containerdState: "/run/k3s/containerd" as unknown as string[] })
    ),
  },
  {
    input: "target: a closed PinnedProcess",
    via: "API",
    code: 2,
    message: /Cannot use pinned process \d+: it was closed/,
    run: api((c, m) => {
      const pinned = pinProcess(c.pid);
      pinned.close();
      return { target: pinned, args: [m] };
    }),
  },
  {
    input: 'exec -n ""',
    via: "exec",
    code: 2,
    message: /--namespaces: give at least one type/,
    run: exec((c) => ["-n", "", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -n ,",
    via: "exec",
    code: 2,
    message: /--namespaces: give at least one type/,
    run: exec((c) => ["-n", ",", String(c.pid), "TOUCH"]),
  },
  {
    input: 'namespaces: ["toString"]',
    via: "API",
    code: 2,
    message: /Cannot join a namespace of type "toString"/,
    run: api((c, m) => ({ target: c.pid, namespaces: ["toString" as "net"], args: [m] })),
  },
  {
    input: "namespaces: { toString: true }",
    via: "API",
    code: 2,
    message: /Cannot join a namespace of type "toString"/,
    run: api((c, m) => ({
      target: c.pid,
      namespaces: { toString: true } as unknown as { net: true },
      args: [m],
    })),
  },
  {
    input: 'namespaces: JSON {"__proto__": true}',
    via: "API",
    code: 2,
    message: /Cannot join a namespace of type "__proto__"/,
    run: api((c, m) => ({
      target: c.pid,
      namespaces: JSON.parse('{"__proto__": true}'),
      args: [m],
    })),
  },
  {
    input: "exec -w /proc/self/fd/0",
    via: "exec",
    code: 125,
    message: /Cannot start in \/proc\/self\/fd\/0: a working directory through \/proc\/PID\/fd/,
    run: exec((c) => ["-w", "/proc/self/fd/0", String(c.pid), "TOUCH"]),
  },
  {
    input: "exec -w tmp (relative)",
    via: "exec",
    code: 2,
    message: /--workdir tmp: give an absolute path/,
    run: exec((c) => ["-w", "tmp", String(c.pid), "TOUCH"]),
  },
];

/** Makes a zombie: a child that exits under a parent (sleep) that never reaps it. */
async function makeZombie(): Promise<{ zombie: number; parent: Deno.ChildProcess }> {
  const parent = new Deno.Command("sh", {
    args: ["-c", "sleep 0.1 & echo $!; exec sleep 1000"],
    stdin: "null",
    stdout: "piped",
  }).spawn();
  const reader = parent.stdout.getReader();
  let buf = "";
  while (!buf.includes("\n")) buf += text((await reader.read()).value!);
  reader.releaseLock();
  parent.stdout.cancel().catch(() => {});
  const zombie = Number(buf.trim());
  for (let i = 0; i < 400; i++) {
    const stat = await Deno.readTextFile(`/proc/${zombie}/stat`);
    if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") return { zombie, parent };
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`pid ${zombie} did not become a zombie`);
}

/** Runs `fn` on each item, at most `n` at a time. */
async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>) {
  const out: R[] = [];
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

Deno.test({
  name: "bad input: one line on stderr, a documented exit code, no stack trace, nothing run",
  ignore: NEEDS_ROOT,
  async fn(t) {
    assert(CASES.length >= 40, `only ${CASES.length} cases`);
    assertEquals(new Set(CASES.map((c) => c.input)).size, CASES.length, "distinct inputs");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-bad-" });
    await Deno.chmod(dir, 0o755);
    await using target = await makeTarget();
    await using userns = await makeTarget({ flags: ["-U", "-r", "-n"] });
    await using bigEnv = await makeTarget({
      setup: Array.from(
        { length: 12 },
        // LC_*: over our root, a target's environment keeps only such variables.
        (_, i) =>
          `export LC_BIG_${String.fromCharCode(65 + i)}=$(head -c 100000 /dev/zero | tr '\\0' x)`,
      ).join("; "),
    });
    const { zombie, parent } = await makeZombie();
    try {
      await Deno.writeTextFile(`${dir}/tiny.c`, "int nothing;\n");
      const cc = await new Deno.Command("gcc", {
        args: ["-shared", "-nostdlib", "-o", `${dir}/tiny.so`, `${dir}/tiny.c`],
      }).output();
      assert(cc.success, "gcc");
      const ctx: Context = {
        pid: target.pid,
        userns: userns.pid,
        bigEnv: bigEnv.pid,
        zombie,
        tinyLib: `${dir}/tiny.so`,
        user,
        fifo: `${dir}/fifo`,
        started: [],
      };
      await new Deno.Command("mkfifo", { args: [ctx.fifo] }).output();
      const seen = await pool(CASES, 8, async (c, i) => {
        const caseDir = `${dir}/case-${i}`;
        await Deno.mkdir(caseDir);
        await Deno.chmod(caseDir, 0o777);
        return await c.run(ctx, `${caseDir}/ran`);
      });
      // This run's PIDs, as the table shows them.
      const ours = [target.pid, userns.pid, bigEnv.pid, zombie, Deno.pid, ...ctx.started];
      const pids = new RegExp(`\\b(${ours.join("|")})\\b`, "g");
      // The target's pidfs inode (a PID:inode case): one per run, shown as INODE.
      const resolved = resolveTarget(target.pid);
      const inode = resolved.kind === "process" ? resolved.inode : undefined;
      const rows: string[] = [];
      for (const [i, c] of CASES.entries()) {
        const s = seen[i];
        rows.push(
          `| ${c.via} | \`${c.input.replaceAll("|", "\\|")}\` | ${s.code} | ${
            s.stderr.trim().replaceAll("|", "\\|").replace(/a{1000,}/g, "aaa…").replace(
              new RegExp(`${dir}/case-\\d+/ran`, "g"),
              "MARKER",
            ).replaceAll(dir, "TMP").replace(pids, (n) => n === String(zombie) ? "ZOMBIE" : "PID")
              .replace(/inode \d+/, "inode N").replace(
                inode === undefined ? /^$/ : new RegExp(`:${inode}\\b`, "g"),
                ":INODE",
              )
          } |`,
        );
        await t.step(`${c.via}: ${c.input}`, () => {
          assertEquals(s.code, c.code, s.stderr);
          const lines = s.stderr.split("\n").filter((l) => l !== "");
          assertEquals(lines.length, 1, `one line on stderr: ${s.stderr}`);
          assertMatch(lines[0], /^nsjoin/);
          // The helper's lines too: one prefix per command, as the CLI's own lines have.
          if (c.via === "enter" || c.via === "exec") {
            assertMatch(lines[0], new RegExp(`^nsjoin ${c.via}: `));
          }
          assertMatch(lines[0], c.message);
          assert(!/^\s+at /m.test(s.stderr) && !/Stack backtrace/.test(s.stderr), "a stack trace");
          assertEquals([...Deno.readDirSync(`${dir}/case-${i}`)], [], "the program ran");
        });
      }
      // A PID of this run left in the table would change it on every run (it once showed a
      // paused sleeper's): only the fixed numbers the cases name may stay.
      const fixed = ["2", "4194000", "4194304", "4294967296"];
      const leaked = rows.flatMap((r) => [...r.matchAll(/\b(?:process|pid) (\d+)/gi)])
        .map((m) => m[1]).filter((n) => !fixed.includes(n));
      assertEquals(leaked, [], "a PID of this run in docs/errors.md");
      if (Deno.env.get("NSJOIN_WRITE_ERRORS_MD") === "1") await writeErrorsMd(rows);
    } finally {
      parent.kill("SIGKILL");
      await parent.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function writeErrorsMd(rows: string[]): Promise<void> {
  const md = `# Errors: bad input and what nsjoin says

Every row is a case of \`tests/bad_input_test.ts\`, which checks that it prints exactly one
line on stderr, exits with the code shown, prints no stack trace and runs nothing. The
messages are what the test saw (this run's PIDs shown as PID, the program's marker file as
MARKER); regenerate with \`NSJOIN_WRITE_ERRORS_MD=1 deno test -A tests/bad_input_test.ts\`.

Exit codes (the CLI and \`report()\`; the library throws \`TypeError\`/\`RangeError\` for 2 and
\`NamespaceError\` for 125, and \`NsCommand\`'s status carries 125/126/127 from the helper, with a
typed \`setupError\` when the helper, not the program, failed):

| code | meaning |
|---|---|
| 2 | bad usage: a flag, a value or an option the library refuses; nothing was looked up or run |
| 125 | the target could not be found, pinned or joined, or this host cannot run nsjoin (libc, helper); nothing ran |
| 126 | the namespaces were joined but the program could not be executed (any execve error but ENOENT) |
| 127 | the program was not found in the target |
| 128+N | the program was killed by signal N |

| via | input | exit | stderr |
|---|---|---|---|
${rows.join("\n")}
`;
  await Deno.mkdir(`${ROOT}docs`, { recursive: true });
  await Deno.writeTextFile(`${ROOT}docs/errors.md`, md);
  // As committed: formatted (deno fmt --check runs over docs/ too).
  await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", `${ROOT}docs/errors.md`] })
    .output();
}

Deno.test("the README counts the bad inputs this test checks", async () => {
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assertMatch(readme, new RegExp(`The ${CASES.length} bad inputs \`tests/bad_input_test.ts\``));
});
