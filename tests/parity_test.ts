/**
 * `enter` and `ls` side by side with util-linux nsenter and lsns on the same arguments: the
 * option forms a peer's script uses (getopt_long's abbreviations, `--opt=`, `-X=FILE`,
 * exclusive options, the default shell) give the same output, and the same kind of failure —
 * ours exits 2 for bad usage where util-linux exits 1 (README "Differences from util-linux").
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
  cli,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
  sh,
  testUser,
} from "./_fixtures.ts";
import { engineExec, removeContainers, skipWithoutEngines, startContainer } from "./_engines.ts";
import { parseOptions } from "../src/cli/_args.ts";
import { NS_FLAGS } from "../src/cli/enter.ts";
import { UsageError } from "../src/cli/_run.ts";

type Run = { code: number; stdout: string; stderr: string };

/** Runs util-linux's `tool` in "/" (as cli() runs ours), stdin from `stdin` or /dev/null. */
async function anchor(
  tool: "nsenter" | "lsns",
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string; uid?: number; gid?: number } = {},
): Promise<Run> {
  // As another user: through setpriv, as cli() runs ours.
  const [cmd, ...argv] = opts.uid === undefined
    ? [tool, ...args]
    : ["setpriv", `--reuid=${opts.uid}`, `--regid=${opts.gid}`, "--clear-groups", tool, ...args];
  const env = { NO_COLOR: "1", ...opts.env };
  return await runPiped(cmd, { args: argv, cwd: "/", env }, opts.stdin);
}

/** What kind of outcome a run is: its output when it succeeded, else how it failed. */
function outcome(r: Run, tool: "nsenter" | "lsns" | "ours"): string {
  if (r.code === 0) return `ok ${r.stdout}`;
  // util-linux: every failure is exit 1, "tool: …" first; a getopt error adds a "Try" line.
  if (tool !== "ours") {
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, new RegExp(`^(\\S*/)?${tool}: `));
    const usage =
      /Try '\w+ --help'|mutually exclusive|failed to parse|only once|invalid|unknown|no target PID|neither filename/;
    return usage.test(r.stderr) ? "usage" : "failed";
  }
  // Ours: one line, no stack trace; 2 for bad usage, 125 when it could not get in, 1 ls.
  assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert(!r.stderr.includes("    at "), r.stderr);
  return r.code === 2 ? "usage" : "failed";
}

Deno.test({
  name: "enter takes nsenter's argument forms as nsenter does, on the same target",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: "parity" });
    const p = String(target.pid);
    const cases: [string, string[]][] = [
      // getopt_long: a unique prefix of a long option, with its value apart or after "=".
      ["--tar PID (an abbreviation)", ["--tar", p, "-u", "hostname"]],
      ["--target=PID --ut", [`--target=${p}`, "--ut", "hostname"]],
      ["--pre for --preserve-credentials", ["--pre", "-t", p, "-u", "id", "-u"]],
      ["-tPID, -- before the program", [`-t${p}`, "-u", "--", "hostname"]],
      ["a prefix that fits two options", ["--u", "-t", p, "true"]],
      ["--tar without its value", ["--tar"]],
      // getopt hands `--setuid=` over as "": not a uid, and not the next argument.
      ["--setuid= (empty)", ["-t", p, "-u", "--setuid=", "id", "-u"]],
      ["-w with -W", ["-t", p, "-u", "-w", "-W", "/", "pwd"]],
      ["-S with a name", ["-t", p, "-u", "-S", "root", "true"]],
      ["an unknown long option", ["-t", p, "--bogus", "true"]],
      ["-a without a target", ["-a", "true"]],
    ];
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const theirs = await anchor("nsenter", args);
        const ours = await cli(["enter", ...args]);
        assertEquals(outcome(ours, "ours"), outcome(theirs, "nsenter"), ours.stderr);
      });
    }
    await t.step("the messages of getopt's errors name the same options", async () => {
      const ours = await cli(["enter", "--u", "-t", p, "true"]);
      assertMatch(ours.stderr, /option '--u' is ambiguous; possibilities: '--uts' '--user'/);
      const exclusive = await cli(["enter", "-t", p, "-u", "-W/", "-w/", "pwd"]);
      assertMatch(exclusive.stderr, /--wd and --wdns are mutually exclusive/);
      // `--net=` is the file "": nsenter cannot open it (1), we refuse the usage (2).
      const noFile = await anchor("nsenter", ["-t", p, "--net=", "true"]);
      const ourNoFile = await cli(["enter", "-t", p, "--net=", "true"]);
      assertEquals([noFile.code, ourNoFile.code], [1, 2], ourNoFile.stderr);
      assertMatch(ourNoFile.stderr, /--net= needs a namespace file/);
      const empty = await cli(["enter", "-t", p, "-u", "--setuid=", "id"]);
      assertMatch(empty.stderr, /--setuid takes a number or "follow", not ""/);
    });
  },
});

Deno.test({
  name: "enter without a program runs $SHELL as a login shell (argv[0] -bash), as nsenter",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "parity" });
    const args = ["-t", String(target.pid), "-u"];
    const script = 'echo "$0"; hostname; shopt -q login_shell && echo login\n';
    for (const shell of ["/bin/bash", "/bin/sh"]) {
      const env = { SHELL: shell };
      const theirs = await anchor("nsenter", args, { env, stdin: script });
      const ours = await cli(["enter", ...args], { env, stdin: script });
      assertEquals([ours.code, ours.stdout], [theirs.code, theirs.stdout], ours.stderr);
    }
    const bash = await cli(["enter", ...args], { env: { SHELL: "/bin/bash" }, stdin: script });
    assertEquals(bash.stdout, "-bash\nparity\nlogin\n");
  },
});

Deno.test({
  name:
    "enter -a on a target in our mount namespace keeps our directory, where nsenter -a starts at /; -r starts at /",
  ignore: NEEDS_ROOT,
  async fn() {
    // nsenter -a enters every namespace but a user namespace equal to ours, so its setns()
    // into our own mount namespace moves the program to that namespace's root; we join
    // only the namespaces that differ (README "Differences"). The table runs in "/", where
    // the two agree: here from another directory. An explicit -m moves both.
    await using target = await makeTarget({ hostname: "parity", flags: ["-u", "--fork"] });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-parity-cwd-" });
    try {
      const run = (cmd: string, args: string[]) =>
        runPiped(cmd, { args, cwd: dir, env: { NO_COLOR: "1" } });
      const ours = (args: string[]) =>
        run(Deno.execPath(), [
          "run",
          "-A",
          "--quiet",
          "--no-lock",
          `${ROOT}cli.ts`,
          "enter",
          ...args,
        ]);
      const p = String(target.pid);
      const cases: [string[], string, string][] = [
        [["-a"], "/", dir],
        [["-m", "-u"], "/", "/"],
        [["-u"], dir, dir],
        // -r without -w: nsenter keeps our directory (fchdir after chroot; outside the new
        // root when it is not in it), we start at the new root's /.
        [["-u", "-r"], dir, "/"],
      ];
      for (const [flags, theirs, mine] of cases) {
        const a = await run("nsenter", ["-t", p, ...flags, "pwd"]);
        const b = await ours(["-t", p, ...flags, "pwd"]);
        assertEquals([a.code, a.stdout], [0, `${theirs}\n`], a.stderr);
        assertEquals([b.code, b.stdout], [0, `${mine}\n`], b.stderr);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The state letter of /proc/PID/stat ("T" stopped, "S" sleeping…), "" once it is gone. */
function procState(pid: number): string {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
  } catch {
    return "";
  }
}

/** Polls until `ok()` or `ms` passed; returns whether it held. */
async function until(ok: () => boolean, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

Deno.test({
  name:
    "enter -p stops when its program stops, so the shell sees the job stopped and fg resumes it, as nsenter",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // nsenter forks for a pid namespace and waits with WUNTRACED (continue_as_child): when
    // the program stops, nsenter stops itself, and the SIGCONT of `fg` reaches both. A
    // program that stops on its own (less and vim raise SIGTSTP on themselves after a ^Z
    // they read as a key) left ours waiting, its job "Running" in the shell, the terminal
    // held by a stopped program.
    await using target = await makeTarget({ hostname: "parity" });
    const p = String(target.pid);
    const program = ["sh", "-c", "kill -STOP $$; echo resumed"];
    const ours = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`, "enter"];
    const cases: [string, string[]][] = [
      ["nsenter", ["nsenter", "-t", p, "-p", "-u"]],
      // enter's fast path, and the full one (a long option) with a cgroup to join (-c: the
      // helper forks once more to be born in it).
      ["enter -p -u", [...ours, "-t", p, "-p", "-u"]],
      ["enter --pid --uts -c", [...ours, "-t", p, "--pid", "--uts", "-c"]],
      ["enter -a", [...ours, "-t", p, "-a"]],
    ];
    for (const [name, [cmd, ...args]] of cases) {
      await t.step(name, async () => {
        const child = new Deno.Command(cmd, {
          args: [...args, ...program],
          cwd: "/",
          env: { NO_COLOR: "1" },
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const output = child.output();
        const stopped = await until(() => procState(child.pid) === "T");
        // Resumed as `fg` resumes a job: SIGCONT to the process the shell started.
        Deno.kill(child.pid, "SIGCONT");
        const out = await output;
        const why = new TextDecoder().decode(out.stderr);
        assert(stopped, `${name} kept running while its program was stopped`);
        assertEquals([out.code, new TextDecoder().decode(out.stdout)], [0, "resumed\n"], why);
      });
    }
  },
});

Deno.test({
  name:
    "enter gives the program the caller's environment as nsenter does, with no node on PATH and with no PATH",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // Deno, started where no `node` is on PATH, puts a `node` of its cache first on its own
    // PATH (the whole PATH when there is none) and sets DENO_NODE_SHIM_ACTIVE=1: every program
    // enter ran got both (src/cli/_node_shim.ts), and with no PATH `enter … env` was 127.
    await using target = await makeTarget({ hostname: "parity" });
    const p = String(target.pid);
    const empty = await Deno.makeTempDir({ prefix: "nsjoin-parity-path-" });
    try {
      const ours = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`, "enter"];
      const cases: [string, Record<string, string>, string[]][] = [
        ["a PATH without node (fast path)", { PATH: empty }, ["-t", p, "-u", "/usr/bin/env"]],
        ["a PATH without node (full path)", { PATH: empty }, ["-t", p, "--uts", "/usr/bin/env"]],
        ["no PATH: the program found as execvp finds it", {}, ["-t", p, "-u", "env"]],
        ["no PATH, full path", { A: "1" }, ["-t", p, "--uts", "env"]],
      ];
      for (const [name, env, args] of cases) {
        await t.step(name, async () => {
          const run = (cmd: string[]) =>
            runPiped(cmd[0], { args: [...cmd.slice(1), ...args], cwd: "/", env, clearEnv: true });
          const theirs = await run(["/usr/bin/nsenter"]);
          const mine = await run(ours);
          assertEquals(theirs.code, 0, theirs.stderr);
          assertEquals([mine.code, mine.stdout], [0, theirs.stdout], mine.stderr);
        });
      }
    } finally {
      await Deno.remove(empty);
    }
  },
});

Deno.test({
  name: "enter -t of a thread's ID names the thread's process, where nsenter enters the thread's",
  ignore: NEEDS_ROOT,
  async fn() {
    // pidfd_open pins only a thread group's leader: a thread's ID (`ps -L`) was "Cannot pin
    // process N: ENOENT" (Linux 6.9+; "Cannot find process N" before). nsenter -t takes it and
    // enters that thread's namespaces; nsjoin pins what it joins, and says which PID to give.
    const proc = new Deno.Command("python3", {
      args: [
        "-c",
        "import threading,time,sys\nt=threading.Thread(target=time.sleep,args=(300,),daemon=True)\n" +
        "t.start()\nprint('ready',flush=True)\ntime.sleep(300)",
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    try {
      const reader = proc.stdout.getReader();
      await reader.read();
      reader.releaseLock();
      const tid = [...Deno.readDirSync(`/proc/${proc.pid}/task`)].map((e) => e.name).find((n) =>
        n !== String(proc.pid)
      )!;
      assert(tid, "python has a second thread");
      const theirs = await anchor("nsenter", ["-t", tid, "-n", "true"]);
      assertEquals(theirs.code, 0, theirs.stderr);
      for (const form of [["-t", tid, "-n"], [`--target=${tid}`, "--net"]]) {
        const ours = await cli(["enter", ...form, "true"]);
        assertEquals([ours.code, ours.stdout], [125, ""]);
        assertEquals(
          ours.stderr,
          `nsjoin enter: Cannot pin process ${tid}: it is a thread of process ${proc.pid} - ` +
            "give a process's PID (a thread may be in other namespaces than its process)\n",
        );
      }
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await proc.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test({
  name: "enter takes the newest nsenter's forms where 2.38 differs: -n=FILE, one --target",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "parity" });
    const p = String(target.pid);
    // nsenter 2.38 opens "=/proc/…"; the newest skips the "=" (enable_namespace()).
    const file = await cli(["enter", `-u=/proc/${p}/ns/uts`, "hostname"]);
    assertEquals([file.code, file.stdout], [0, "parity\n"], file.stderr);
    const wdns = await cli(["enter", "-t", p, "-m", "-W=/etc", "pwd"]);
    assertEquals([wdns.code, wdns.stdout], [0, "/etc\n"], wdns.stderr);
    // 2.38 takes the last -t; the newest refuses a second one, and so do we.
    const twice = await cli(["enter", "-t", p, "-u", "-t", "1", "hostname"]);
    assertEquals(twice.code, 2);
    assertMatch(twice.stderr, /option --target may be given only once/);
  },
});

Deno.test({
  name: "enter -W DIR and --wdns[=DIR] take their value as the installed nsenter does",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: "parity" });
    const p = String(target.pid);
    // util-linux 2.38 declares -W with a required value ("W:") and --wdns with an optional
    // one (longopts: optional_argument): `--wdns DIR` leaves DIR as the program, and a bare
    // `--wdns` changes nothing. (2.42 makes -W optional too: "W::".)
    const cases: [string, string[]][] = [
      ["-W DIR", ["-W", "/etc", "pwd"]],
      ["-WDIR", ["-W/etc", "pwd"]],
      ["--wdns=DIR", ["--wdns=/etc", "pwd"]],
      ["--wdns DIR: DIR is the program", ["--wdns", "/etc", "pwd"]],
      ["--wdns alone, then the program", ["--wdns", "pwd"]],
      ["--wdns as the last word: the shell", ["--wdns"]],
    ];
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const all = ["-t", p, "-m", ...args];
        // The shell reads its commands from stdin; the other programs get none.
        const opts = { env: { SHELL: "/bin/sh" }, stdin: args.length === 1 ? "pwd\n" : undefined };
        const theirs = await anchor("nsenter", all, opts);
        const ours = await cli(["enter", ...all], opts);
        assertEquals([ours.code, ours.stdout], [theirs.code, theirs.stdout], ours.stderr);
      });
    }
    await t.step("-w with a bare --wdns is still refused, as nsenter refuses it", async () => {
      const theirs = await anchor("nsenter", ["-t", p, "-m", "-w", "--wdns", "pwd"]);
      const ours = await cli(["enter", "-t", p, "-m", "-w", "--wdns", "pwd"]);
      assertMatch(theirs.stderr, /mutually exclusive/);
      assertEquals(ours.code, 2, ours.stderr);
      assertMatch(ours.stderr, /--wd and --wdns are mutually exclusive/);
    });
  },
});

/** lsns, retried: 2.38 gives up with exit 1 when a process it reads ends meanwhile. */
async function lsnsStable(args: string[]): Promise<Run> {
  let r = await anchor("lsns", args);
  for (let i = 0; i < 4 && r.code === 1 && r.stderr === ""; i++) r = await anchor("lsns", args);
  return r;
}

Deno.test({
  name: "ls takes lsns's argument forms as lsns does, on the same target",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const p = String(target.pid);
    const cases: [string, string[]][] = [
      ["--ty and --nohead (abbreviations)", ["-p", p, "--ty", "uts", "--nohead", "-o", "NS,TYPE"]],
      ["--out fits --output and --output-all", ["-p", p, "--out", "NS"]],
      ["--t fits --task, --type and --tree", ["--t"]],
      ["--tre (--tree, no value)", ["-p", p, "--tre", "-o", "NS,TYPE"]],
      ["--tree=parent under -p: ancestors where lsns puts them", [
        "-p",
        p,
        "--tree=parent",
        "-o",
        "NS,TYPE",
      ]],
      ["--tree=owner under -p", ["-p", p, "--tree=owner", "-o", "NS,TYPE"]],
      ["-o with an empty name", ["-p", p, "-o", "NS,"]],
      ["-p with <namespace>", ["-p", p, "4026531836"]],
      ["a namespace no process is in", ["4026500000"]],
      ["-p abc", ["-p", "abc"]],
    ];
    for (const [name, args] of cases) {
      await t.step(name, async () => {
        const theirs = await lsnsStable(args);
        const ours = await cli(["ls", ...args]);
        assertEquals(outcome(ours, "ours"), outcome(theirs, "lsns"), ours.stderr);
      });
    }
    await t.step("-h and -V win over what follows them, as getopt meets them first", async () => {
      for (const args of [["-h", "x"], ["-V", "-t", "nope"], ["-V", "--bogus"], ["-hX"]]) {
        const theirs = await lsnsStable(args);
        const ours = await cli(["ls", ...args]);
        assertEquals([ours.code, theirs.code], [0, 0], ours.stderr);
        assertEquals(ours.stdout.includes("nsjoin ls"), true);
      }
      // What getopt met before them is checked first: an error, in both.
      for (const args of [["-t", "nope", "-V"], ["-p", "abc", "-h"], ["--bogus", "-V"]]) {
        const theirs = await lsnsStable(args);
        const ours = await cli(["ls", ...args]);
        assertEquals(outcome(ours, "ours"), outcome(theirs, "lsns"), args.join(" "));
      }
    });
    await t.step("nsenter too: -h and -V win over an unknown option after them", async () => {
      for (const args of [["-V", "--bogus"], ["-h", "-X"], ["-Vq"]]) {
        const theirs = await anchor("nsenter", args);
        const ours = await cli(["enter", ...args]);
        assertEquals([ours.code, theirs.code], [0, 0], `${args.join(" ")}: ${ours.stderr}`);
        assertEquals(ours.stdout.includes("nsjoin enter"), true);
      }
      const late = await cli(["enter", "--bogus", "-V"]);
      assertEquals(
        outcome(late, "ours"),
        outcome(await anchor("nsenter", ["--bogus", "-V"]), "nsenter"),
      );
    });
    await t.step("a value starting with a dash is the value, as getopt takes it", async () => {
      for (const args of [["-o", "-n"], ["-t", "-n"], ["-t"], ["--type"], ["-X"]]) {
        const theirs = await lsnsStable(args);
        const ours = await cli(["ls", ...args]);
        assertEquals(ours.code, 2, ours.stderr);
        // lsns's line, in our words for getopt's own ("option requires an argument -- 't'").
        const said = theirs.stderr.split("\n")[0].replace(/^(\S*\/)?lsns: /, "")
          .replace(/^option requires an argument -- '(.)'$/, "option -$1 requires an argument")
          .replace(/^option '(--\S+)' requires an argument$/, "option $1 requires an argument")
          .replace(/^invalid option -- '(.)'$/, "unknown option -$1");
        assertEquals(ours.stderr, `nsjoin ls: ${said} (see: nsjoin ls --help)\n`, args.join(" "));
      }
    });
    await t.step(
      "--json with --raw, a bad -p or <namespace>: lsns's line, word for word",
      async () => {
        // It said "options --json and --raw are exclusive" and quoted as JSON ("abc", no
        // "Numerical result out of range"): a script matching lsns's words missed ours.
        const cases: [string[], RegExp][] = [
          [["-J", "-r"], /^mutually exclusive arguments: --json --raw$/],
          [["-r", "-J"], /^mutually exclusive arguments: --json --raw$/],
          [["--raw", "-l", "--json"], /^mutually exclusive arguments: --json --raw$/],
          [["-p", "abc"], /^invalid PID argument: 'abc'$/],
          [["--task=1x"], /^invalid PID argument: '1x'$/],
          [["-p", "99999999999"], /^invalid PID argument: '99999999999': Numerical result/],
          [["abc"], /^invalid namespace argument: 'abc'$/],
        ];
        for (const [args, words] of cases) {
          const theirs = await lsnsStable(args);
          const ours = await cli(["ls", ...args]);
          assertEquals([theirs.code, ours.code], [1, 2], ours.stderr);
          const said = theirs.stderr.split("\n")[0].replace(/^(\S*\/)?lsns: /, "");
          assertMatch(said, words);
          assertEquals(ours.stderr, `nsjoin ls: ${said} (see: nsjoin ls --help)\n`, args.join(" "));
        }
      },
    );
    await t.step("-o '': usage, one line (lsns 2.38 exits 1 and says nothing)", async () => {
      const ours = await cli(["ls", "-p", p, "-o", ""]);
      assertEquals(ours.code, 2);
      assertMatch(ours.stderr, /empty column name/);
    });
    await t.step("a namespace no process is in: exit 1, as lsns", async () => {
      const ours = await cli(["ls", "4026500000"]);
      assertEquals(ours.code, 1);
      assertMatch(ours.stderr, /^nsjoin ls: Cannot find namespace 4026500000/);
    });
  },
});

Deno.test({
  name: "NsCommand argv0 gives the program that argv[0], found by its name all the same",
  ignore: NEEDS_ROOT,
  async fn() {
    const { NsCommand } = await import("../mod.ts");
    await using target = await makeTarget({ flags: ["-u"] });
    const out = await new NsCommand("cat", {
      target: target.pid,
      namespaces: ["uts"],
      args: ["/proc/self/cmdline"],
      argv0: "-renamed",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    assertEquals(new TextDecoder().decode(out.stdout), "-renamed\0/proc/self/cmdline\0");
  },
});

Deno.test({
  name: "exec takes docker exec's pflag forms as docker does: -u=USER, -i=false, --detach-keys",
  ignore: skipWithoutEngines("exec's pflag tests", ["docker"]),
  sanitizeResources: false,
  async fn(t) {
    const c = await startContainer("docker", `nsjP-${crypto.randomUUID().slice(0, 8)}`);
    try {
      const cases: [string, string[], string[]][] = [
        ["-u=1000 (pflag: the value after =)", ["-u=1000"], ["id", "-u"]],
        ["-e=A=1 and -w=/tmp", ["-e=A=1", "-w=/tmp"], ["sh", "-c", 'echo "$A $PWD"']],
        ["booleans after =: -i=false --tty=false", ["-i=false", "--tty=false"], ["true"]],
        ["-it=false: the last letter takes the value", ["-it=false"], ["echo", "x"]],
        ["--detach-keys, checked and kept", ["--detach-keys=ctrl-@,a"], ["echo", "hi"]],
        ["--detach-keys docker refuses", ["--detach-keys=zz"], ["echo", "hi"]],
        // Go's len() counts bytes: one key is one byte, so é (two in UTF-8) is refused.
        ["--detach-keys of a non-ASCII key", ["--detach-keys=é"], ["echo", "hi"]],
        ["--detach-keys ctrl- of a capital", ["--detach-keys=ctrl-P,a"], ["echo", "hi"]],
        ["-t=maybe: not a boolean", ["-t=maybe"], ["true"]],
        ["--priv: pflag takes no abbreviation", ["--priv"], ["true"]],
      ];
      for (const [name, flags, cmd] of cases) {
        await t.step(name, async () => {
          const theirs = await engineExec(c, flags, cmd);
          const ours = await cli(["exec", ...flags, c.name, ...cmd]);
          // docker: 125 for its own usage errors, 1 for one its daemon refuses; ours 2.
          const kind = (r: Run, own: boolean) =>
            r.code === 0
              ? `ok ${r.stdout}`
              : (own ? r.code === 2 : [1, 125].includes(r.code))
              ? "usage"
              : `failed ${r.code}`;
          assertEquals(kind(ours, true), kind(theirs, false), `${ours.stderr}|${theirs.stderr}`);
        });
      }
    } finally {
      await removeContainers([c]);
    }
  },
});

Deno.test("the option parser's pflag mode: -u=x is x, booleans take strconv.ParseBool's words", () => {
  const t = {
    user: { type: "string", short: "u" },
    json: { type: "boolean", short: "j" },
  } as const;
  const go = (argv: string[]) => parseOptions(argv, t, { pflag: true }).values;
  assertEquals(go(["-u=x"]).user, "x");
  assertEquals(go(["-ju=x"]), { json: true, user: "x" });
  assertEquals(go(["--json=false", "-j=T"]).json, true);
  assertEquals(go(["--json=0"]).json, false);
  assertThrows(() => go(["--json=maybe"]), UsageError, 'invalid argument "maybe"');
  // Without it, node's rules: "=x" is the value, a flag takes none.
  assertEquals(parseOptions(["-u=x"], t).values.user, "=x");
  assertThrows(() => parseOptions(["--json=false"], t), UsageError);
});

// ---- The differential table: every option of nsenter and lsns in each of getopt's forms,
// numbers in and out of range, bundles, prefixes, `--`, -h/-V, run through util-linux and
// through nsjoin on the same target. Where nsjoin differs on purpose, the case says how and
// the README's "Differences from util-linux" says why; a case that starts to differ, or a
// documented difference that goes away, fails.

/** A documented difference: both exit codes, and where the README gives the reason. */
interface Differs {
  theirs: number;
  ours: number;
  why: string;
}

/** One argv for both tools; stdin (a shell's commands) when it runs one. */
interface DiffCase {
  args: string[];
  differs?: Differs;
  stdin?: string;
}

// util-linux 2.38's words for a mistake in the arguments, rather than a failure to get in.
const _USAGE =
  /Try '\w+ --help'|mutually exclusive|failed to parse|only once|invalid \w+ argument|unknown (namespace|tree|column)|neither filename|no target PID/;

/**
 * What nsjoin should exit with where util-linux ended with `theirs`: the program's own code
 * (0, its status, 126, 127, 128+N) as it is; util-linux's 1 with its own message is 2 for a
 * mistake in the arguments, else 125 for enter (could not get in), 1 for ls (as lsns).
 */
function _expected(theirs: Run, tool: "nsenter" | "lsns"): number {
  if (theirs.code !== 1 || !new RegExp(`^(\\S*/)?${tool}: `).test(theirs.stderr)) {
    return theirs.code;
  }
  return _USAGE.test(theirs.stderr) ? 2 : tool === "nsenter" ? 125 : 1;
}

/** Runs each case through util-linux and nsjoin, one step each, and compares them. */
async function _differential(
  t: Deno.TestContext,
  tool: "nsenter" | "lsns",
  cases: DiffCase[],
  as: { uid?: number; gid?: number } = {},
): Promise<void> {
  const ours = tool === "nsenter" ? "enter" : "ls";
  const seen = new Set<string>();
  for (const c of cases) {
    const label = JSON.stringify(c.args);
    assert(!seen.has(label), `case twice: ${label}`);
    seen.add(label);
    await t.step(label, async () => {
      const env = { SHELL: "/bin/sh" };
      const theirs = tool === "lsns"
        ? await lsnsStable(c.args)
        : await anchor("nsenter", c.args, { env, stdin: c.stdin, ...as });
      const mine = await cli([ours, ...c.args], { env, stdin: c.stdin, ...as });
      const said = `${label}\ntheirs ${theirs.code}: ${theirs.stdout}${theirs.stderr}` +
        `\nours ${mine.code}: ${mine.stdout}${mine.stderr}`;
      if (c.differs) {
        // The difference is there, as documented.
        assertEquals([theirs.code, mine.code], [c.differs.theirs, c.differs.ours], said);
      } else {
        assertEquals(mine.code, _expected(theirs, tool), said);
        if (mine.code === 0) {
          const json = c.args.some((a) => a === "-J" || a.startsWith("--js") || /^-\w*J/.test(a));
          if (json && mine.stdout) assertEquals(JSON.parse(mine.stdout), JSON.parse(theirs.stdout));
          else assertEquals(mine.stdout, theirs.stdout, said);
        }
      }
      // Ours says every failure in one line of its own, never a stack trace.
      if (mine.code !== 0 && mine.stderr) {
        assertMatch(mine.stderr, new RegExp(`^nsjoin ${ours}: [^\\n]*\\n$`), said);
      }
    });
  }
}

/** The cases for enter on a target `p` in new mnt, uts, ipc, net, pid, cgroup, time. */
// Where the program is and who: its namespaces as one line, its cwd and its credentials.
const _FP = [
  "sh",
  "-c",
  "hostname; for n in uts net ipc mnt pid_for_children cgroup time_for_children user; " +
  "do readlink /proc/self/ns/$n; done | cksum; pwd; id; grep -E '^Cap(Eff|Amb)' /proc/self/status",
];

function _enterCases(p: string): DiffCase[] {
  const fp = _FP;
  const cases: DiffCase[] = [];
  const add = (args: string[], differs?: Differs, stdin?: string) =>
    cases.push({ args, differs, stdin });
  const newest = (ours: number): Differs => ({ theirs: 1, ours, why: "newer than 2.38" });
  // Every namespace option: bare with -t, long, its FILE attached (-nFILE, --net=FILE),
  // apart (`--net FILE`: getopt leaves FILE as the program, which is not executable), and a
  // unique prefix of its long name.
  const prefixes: Record<string, string> = {
    mount: "mou",
    uts: "ut",
    ipc: "ip",
    pid: "pi",
    cgroup: "cg",
    time: "ti",
  };
  for (const [letter, [long, type]] of Object.entries(NS_FLAGS)) {
    const file = `/proc/${p}/ns/${type}`;
    add(["-t", p, `-${letter}`, ...fp]);
    add(["-t", p, `--${long}`, ...fp]);
    add([`-${letter}${file}`, ...fp]);
    add([`--${long}=${file}`, ...fp]);
    add(["-t", p, `--${long}`, file]);
    // --net and --user have none in the newest nsenter (--net-socket, --user-parent): below.
    if (prefixes[long]) add(["-t", p, `--${prefixes[long]}`, ...fp]);
  }
  // A relative FILE is opened in the cwd ("/" here), with or without -t.
  add([`--net=proc/${p}/ns/net`, ...fp]);
  add([`-uproc/${p}/ns/uts`, "-t", p, "-n", ...fp]);
  // -t: each form, and numbers as util-linux's strtoul reads them.
  for (const form of [["-t", p], [`-t${p}`], ["--target", p], [`--target=${p}`], ["--tar", p]]) {
    add([...form, "-u", "hostname"]);
  }
  for (const v of [` ${p}`, `\t+${p}`, `0${p}`, `${p} `, "0", "1x", "", "0x1", "99999999999"]) {
    add(["-t", v, "-u", "hostname"]);
  }
  // nsenter 2.38's strtoul wraps -1 to 4294967295, a PID that cannot exist: a failure to it,
  // bad usage to us.
  add(["-t", "-1", "-u", "hostname"], { theirs: 1, ours: 2, why: "-t takes a PID above 0" });
  // A short option's "=" is part of its value: "=PID" is no PID.
  add([`-t=${p}`, "-u", "hostname"]);
  // nsenter reads -t 0 as no -t: with namespace files it runs; we refuse the PID 0.
  add(["-t", "0", `--uts=/proc/${p}/ns/uts`, "hostname"], { theirs: 0, ours: 2, why: "same" });
  // Bundles: flags and a value-taking letter, which takes the rest as its FILE or PID.
  add([`-at${p}`, "hostname"]);
  add(["-t", p, "-un", ...fp]);
  add([`-nut${p}`, "hostname"]);
  add([`-ut${p}`, "hostname"]);
  // -S, -G: uid and gid as strtoul reads them.
  for (const v of ["0", " 0", "+65534", "65534", "x", "", "1 "]) {
    add(["-t", p, "-u", "-S", v, "-G", v, "id"]);
  }
  add(["-t", p, "-u", `--setuid=1`, "--setgid", "1", "id"]);
  add(["-t", p, "-u", "--setu", "1", "-G1", "id"]);
  // 2.38 fails at setuid(2) (EINVAL); we refuse what no uid can be (README: -S/-G).
  add(["-t", p, "-u", "-S", "-1", "id"], { theirs: 1, ours: 2, why: "-S up to 4294967294" });
  add(["-t", p, "-u", "-S", "4294967295", "id"], { theirs: 1, ours: 2, why: "same" });
  // 2.38 wraps 4294967296 to uid 0 and runs the program as root.
  add(["-t", p, "-u", "-S", "4294967296", "id"], { theirs: 0, ours: 2, why: "same" });
  // -r, -w, -W: bare (the target's), attached, and a value apart (which is the program).
  for (const o of [["-r"], ["--root"], ["--root=/"], ["-r/"], ["-w"], ["--wd"], ["-W/"]]) {
    add(["-t", p, "-m", ...o, "pwd"]);
  }
  add(["-t", p, "-m", "--root", "/", "pwd"]);
  add(["-t", p, "-m", "-r", "-w", "pwd"]);
  // The target's root and cwd need a target: a namespace file names none.
  add([`--mount=/proc/${p}/ns/mnt`, "-r", "pwd"]);
  add([`--mount=/proc/${p}/ns/mnt`, "-w", "pwd"]);
  add([`--mount=/proc/${p}/ns/mnt`, "--root=/", "-W/etc", "pwd"]);
  // Flags, long and abbreviated.
  for (const f of ["-F", "--no-fork", "--no-f", "--preserve-credentials", "--pre", "-Z"]) {
    add(["-t", p, "-u", f, "hostname"]);
  }
  add(["-t", p, "-p", "--all", "-F", ...fp]);
  // The program: after --, options after it are its own, its exit code, signal, 126, 127.
  add(["-t", p, "-u", "--", "hostname"]);
  add(["-t", p, "-u", "--", "sh", "-c", "echo $#", "-", "-n", "--", "-x"]);
  add(["-t", p, "-u", "sh", "-c", "exit 3"]);
  add(["-t", p, "-u", "sh", "-c", "kill -9 $$"]);
  add(["-t", p, "-p", "sh", "-c", "kill -TERM $$"]);
  // -a of a process in all our namespaces: none differs, the program runs where we are.
  add(["-t", String(Deno.pid), "-a", ...fp]);
  add(["-t", p, "-u", "/etc"]);
  add(["-t", p, "-u", "./no-such-program"]);
  add(["-t", p, "-u", "-"]);
  add(["-t", p, "-u", "--"], undefined, "hostname\n");
  add(["-t", p, "-u"], undefined, "hostname\n");
  // nsenter execvp("") fails (127); an empty program name is bad usage to us.
  add(["-t", p, "-u", ""], { theirs: 127, ours: 2, why: "an empty program name is usage" });
  // getopt's own errors.
  for (
    const args of [
      ["-x"],
      ["--bogus"],
      ["-t"],
      ["--target"],
      ["-t", p, "-S"],
      ["--all=1", "-t", p, "true"],
      ["--u", "-t", p, "true"],
      ["--s", "0", "-t", p, "-u", "true"],
      ["--wd=/", "--wdns=/", "-t", p, "-m", "pwd"],
    ]
  ) add(args);
  // -h and -V print ours (README: -V is nsjoin's version, in util-linux's words).
  for (const args of [["-V"], ["--version"], ["--vers"], ["-h"], ["--help"], ["-t", p, "-V"]]) {
    add(args, { theirs: 0, ours: 0, why: "-h, -V: nsjoin's own text" });
  }
  // Where the newest nsenter differs from 2.38, we follow the newest (README).
  add(["-t", p, "-u", "-t", p, "hostname"], { theirs: 0, ours: 2, why: "one --target" });
  add(["-t", p, "hostname"], { theirs: 0, ours: 2, why: "no namespace given" });
  add(["-t", p, "-u", "-e", "true"], newest(0));
  add(["-t", p, "-u", "--env", "true"], newest(0));
  add(["-t", p, "-u", "-c", "true"], newest(0));
  add(["-t", p, "-u", "--keep-caps", "true"], newest(0));
  add(["-t", p, "-N", "0", "true"], newest(125));
  add(["-t", p, "--user-parent", "true"], newest(125));
  // 2.38's only --ne… and --us… were --net and --user; the newest adds --net-socket and
  // --user-parent, so these prefixes are ambiguous there and here.
  add(["--ne", "-t", p, ...fp], { theirs: 0, ours: 2, why: "ambiguous in the newest" });
  add(["--us", "-t", p, "true"], { theirs: 1, ours: 2, why: "ambiguous in the newest" });
  // A bare namespace option and then its FILE: 2.38 still wants a target for the bare one,
  // the newest (and we) take the FILE.
  add(["-T", `--time=/proc/${p}/ns/time`, ...fp], { theirs: 1, ours: 0, why: "newest" });
  return cases;
}

Deno.test({
  name: "enter and nsenter side by side: every option in each of getopt's forms",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({
      hostname: "parity",
      flags: ["-m", "-u", "-i", "-n", "-p", "-C", "-T", "--fork"],
    });
    await _differential(t, "nsenter", _enterCases(String(target.pid)));
  },
});

/** The cases for ls on a target `p` in namespaces of its own, of every type. */
function _lsCases(p: string): DiffCase[] {
  const cases: DiffCase[] = [];
  const add = (args: string[], differs?: Differs) => cases.push({ args, differs });
  const newest = (ours: number): Differs => ({ theirs: 1, ours, why: "newer than 2.38" });
  const own = ["-p", p];
  const cols = ["-o", "NS,TYPE,NPROCS,PID,USER,COMMAND"];
  // Output modes, alone and combined (bundled too), on the target's namespaces.
  for (
    const mode of [
      [],
      ["-J"],
      ["-r"],
      ["-l"],
      ["-n"],
      ["-u"],
      ["-W"],
      ["-rn"],
      ["-lJ"],
      [
        "-Jn",
      ],
      ["--json", "--noheadings"],
      ["--raw", "--notruncate", "--nowrap"],
      ["--list", "-n"],
    ]
  ) add([...own, ...mode, ...cols]);
  add([...own, "--output-all", "-r"]);
  add([...own, "-o", "NS", "--output-all", "-r"]);
  add([...own, "--output-all", "-o", "+NS", "-J"]);
  add(["-rJ", ...own]);
  // -o: case, +COL, repeated, attached, = and apart, a prefix, an unknown column.
  for (
    const o of [
      ["-o", "ns,Type"],
      ["-o", "+PID"],
      ["-o", "+pid,ns"],
      ["-o", "NS", "-o", "TYPE"],
      ["-oNS,TYPE"],
      ["--output=NS,TYPE"],
      ["--output", "NS,TYPE"],
      ["--outp", "TYPE"],
      ["-o", "NS,BOGUS"],
      ["-o", " NS"],
      ["-o", ","],
      ["-o=NS"],
      ["-t=net", "-o", "NS"],
    ]
  ) add([...own, ...o]);
  // lsns 2.38 exits 1 and says nothing for an empty column name; we say it (usage, 2).
  add([...own, "-o", "NS,,TYPE"], { theirs: 1, ours: 2, why: "empty column name" });
  add([...own, "-o", "+"], { theirs: 1, ours: 2, why: "empty column name" });
  // -t: each type, case, repeated, attached, unknown.
  for (const type of ["mnt", "net", "ipc", "user", "pid", "uts", "cgroup", "time"]) {
    add([...own, "-t", type, "-o", "NS,TYPE,NPROCS"]);
  }
  for (const t of [["-t", "NET"], ["-t", "mount"], ["-tuts", "-t", "uts"], ["--type=user"]]) {
    add([...own, ...t, "-o", "NS,TYPE"]);
  }
  // -p: each form, and numbers as lsns's strtos32 reads them (a PID no process has lists
  // nothing, exit 0; out of 32 bits is bad usage).
  for (const form of [[`-p${p}`], ["--task", p], [`--task=${p}`], ["--ta", p], [`-np${p}`]]) {
    add([...form, "-o", "NS,TYPE"]);
  }
  for (const v of [` ${p}`, `+${p}`, `${p} `, `${p}x`, "", "-1", "-2147483648", "2147483648"]) {
    add(["-p", v, "-o", "NS,TYPE"]);
  }
  add(["-p", "99999999999"]);
  add(["--task", "-1", "-J"]);
  // lsns reads -p 0 as no -p at all (every namespace); we refuse it.
  add(["-p", "0", "-n", "-o", "NS"], { theirs: 0, ours: 2, why: "ls -p 0 is refused" });
  // -T: each relation and form, under -p (with the target's ancestors).
  for (
    const tree of [["-T"], ["--tree"], ["-Tparent"], ["-T=owner"], ["--tree=process"], [
      "-T",
      "parent",
    ], ["-Tbogus"]]
  ) add([...own, "-t", "user", ...tree, "-o", "NS,TYPE"]);
  for (const mode of [["-J"], ["-r"], ["-n", "-u"], ["-l"]]) {
    add([...own, "-t", "user", "-T", ...mode, "-o", "NS,TYPE"]);
  }
  // The tree column (NS) last, or alone: not padded, as libsmartcols pads no last column.
  for (const o of ["TYPE,NS", "NS", "PID,NS"]) add([...own, "--tree=parent", "-o", o]);
  // -P (namespaces no process holds) is exclusive with -p, in every form.
  add(["-P", ...own]);
  add(["--persistent", "--task", p]);
  add([`-Pp${p}`]);
  // <namespace>: one no process is in, a bad one, with -p, with options after it, after --.
  const userNs = String(Deno.statSync(`/proc/${p}/ns/user`).ino);
  add(["-o", "PID,COMMAND", userNs]);
  add([userNs, "-o", "PID,COMMAND", "-r"]);
  add(["-o", "PID", "--", userNs]);
  add(["4026500000"]);
  add(["abc"]);
  add(["--", "-1"]);
  add([userNs, ...own]);
  // As lsns's strtou64 reads it; -t reads only those types, so another type's is not found.
  for (const v of [`+${userNs}`, ` ${userNs}`, `${userNs} `]) add([v, "-o", "PID"]);
  add([userNs, "-t", "net"]);
  add([userNs, "-t", "user", "-t", "net", "-o", "PID"]);
  add(["18446744073709551616"]);
  // An owner or parent tree over one namespace's processes: NS is the tree column, left.
  for (const tree of ["-T", "--tree=parent", "-Tprocess"]) {
    add([userNs, tree, "-o", "NS,TYPE,PID,COMMAND"]);
    add([userNs, tree, "-o", "TYPE,NS"]);
  }
  // lsns leaves "parent" of `-T parent` as a second <namespace> and ignores it; we refuse it
  // and say how to give the relation.
  add([userNs, "-T", "parent"], { theirs: 0, ours: 2, why: "one <namespace>" });
  // lsns reads 0 as no <namespace> (the whole listing); 2^64-1 is not found. Both usage here.
  add(["0", "-n", "-o", "NS"], { theirs: 0, ours: 2, why: "ls 0 is refused" });
  add(["18446744073709551615"], { theirs: 1, ours: 2, why: "beyond an exact number" });
  // lsns reads the first <namespace> and ignores the rest; we refuse what would be ignored.
  add([userNs, userNs, "-o", "PID"], { theirs: 0, ours: 2, why: "one <namespace>" });
  // getopt's own errors and exclusive options.
  for (
    const args of [["-x"], ["--bogus"], ["-o"], ["--type"], ["-t"], ["--json=1"], ["--no"], [
      "--t",
    ], ["--out", "NS"]]
  ) add(args);
  // -h and -V print ours.
  for (const args of [["-V"], ["--version"], ["-h"], ["--help"], ["--he"]]) {
    add(args, { theirs: 0, ours: 0, why: "-h, -V: nsjoin's own text" });
  }
  // Newer than 2.38: -Q, -H; --l fits --list and --list-columns in the newest.
  add([...own, "-Q", 'TYPE == "net"', "-o", "NS,TYPE"], newest(0));
  add(["-H"], newest(0));
  add(["--l", ...own, "-o", "TYPE"], { theirs: 0, ours: 2, why: "ambiguous in the newest" });
  return cases;
}

Deno.test({
  name: "ls and lsns side by side: every option in each of getopt's forms",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // Every namespace its own, so that no other process on the machine changes a row.
    await using target = await makeTarget({
      flags: ["-U", "-r", "-m", "-u", "-i", "-n", "-p", "-C", "-T", "--fork"],
    });
    const p = String(target.pid);
    await _differential(t, "lsns", _lsCases(p));
    await t.step("-T -t mnt: no owner rows of a type -t leaves out (the newest lsns)", async () => {
      // 2.38 adds the owning user namespaces as rows with no process; the newest does not
      // (add_namespace_for_nsfd() skips a type -t left out), nor do we.
      for (const tree of ["-T", "-Tparent"]) {
        const args = ["-p", p, tree, "-t", "mnt", "-o", "NS,TYPE"];
        assertMatch((await lsnsStable(args)).stdout, /\suser\s*$/m);
        const ours = await cli(["ls", ...args]);
        const types = ours.stdout.trim().split("\n").slice(1).map((l) => l.trim().split(/\s+/)[1]);
        assertEquals(types, ["mnt"], ours.stdout);
      }
    });
  },
});

Deno.test("-V and --help answer the questions scripts ask nsenter and lsns", async (t) => {
  for (const [tool, ours] of [["nsenter", "enter"], ["lsns", "ls"]] as const) {
    await t.step(`${ours} -V: the number after "util-linux", as a script reads it`, async () => {
      // The way that survives util-linux 2.40+'s "(features)" suffix: the number after
      // "util-linux". Ours is the release whose options we take, not below the installed one.
      const release = (s: string) => /util-linux ([0-9]+)\.([0-9]+)/.exec(s)?.slice(1).map(Number);
      const theirs = release((await anchor(tool, ["-V"])).stdout);
      const mine = await cli([ours, "-V"]);
      assertEquals(mine.code, 0);
      assertMatch(mine.stdout, new RegExp(`^nsjoin ${ours} from nsjoin \\S+ \\(`));
      const [major, minor] = release(mine.stdout) ?? [0, 0];
      assert(theirs && (major > theirs[0] || major === theirs[0] && minor >= theirs[1]));
    });
    await t.step(`${ours} --help names every option ${tool} --help names`, async () => {
      // A script that checks for an option (`nsenter --help | grep -q -- --wdns`) finds it.
      const options = (await anchor(tool, ["--help"])).stdout.match(/(?<=^ +|[,.] )--?[\w-]+/gm) ??
        [];
      assert(options.length > 10, "no options read from util-linux's help");
      const mine = (await cli([ours, "--help"])).stdout;
      for (const o of options) {
        assertMatch(mine, new RegExp(`(^ +|, )${o}\\b(?!-)`, "m"), `${o} missing`);
      }
    });
  }
});

/** The cases for enter on a target `p` in a user namespace of its own (and every other type). */
function _enterUserCases(p: string, asRoot: boolean): DiffCase[] {
  const fp = _FP;
  const cases: DiffCase[] = [];
  const add = (args: string[], differs?: Differs) => cases.push({ args, differs });
  // The owner of an `unshare -r` namespace (setgroups "deny") may not drop its groups: nsenter
  // (2.38 and the newest) then refuses to run ("setgroups failed") unless
  // --preserve-credentials; we run the program with the groups the owner already has (README).
  const join = (args: string[]) =>
    add(args, asRoot ? undefined : { theirs: 1, ours: 0, why: "setgroups denied" });
  join(["-t", p, "-U", ...fp]);
  join(["-t", p, "-U", "-u", "-n", ...fp]);
  join(["-t", p, "-a", ...fp]);
  add(["-t", p, "--all", "--preserve-credentials", ...fp]);
  add(["-t", p, "-U", "--preserve-credentials", ...fp]);
  join(["-t", p, "-U", "-S", "0", "-G", "0", ...fp]);
  // uid 1 is not mapped in the target's user namespace: setuid(2) fails, nothing runs.
  add(["-t", p, "-U", "-S", "1", ...fp]);
  add(["-t", p, "-U", "-G", "1", ...fp]);
  // -Uu: -U with the FILE "u", which does not exist.
  add(["-t", p, "-Uu", ...fp]);
  // Without -U: as root, the other namespaces; as the owner, EPERM.
  add(["-t", p, "-u", "-n", ...fp]);
  join([`--user=/proc/${p}/ns/user`, `--uts=/proc/${p}/ns/uts`, ...fp]);
  join([`-U/proc/${p}/ns/user`, "-t", p, "-n", ...fp]);
  join(["-t", p, "-U", "-m", "-r", "-w", ...fp]);
  join(["-t", p, "-a", "-F", "id"]);
  // Newer than 2.38: --keep-caps (the capabilities as ambient ones), --user-parent (ours: the
  // caller's own user namespace, which the kernel does not let it enter again).
  add(["-t", p, "-U", "--keep-caps", ...fp], { theirs: 1, ours: 0, why: "newer than 2.38" });
  add(["-t", p, "--user-parent", "-u", "id"], { theirs: 1, ours: 125, why: "newer than 2.38" });
  if (asRoot) add(["-t", p, "-U", "-S", "65534", "id"]);
  return cases;
}

Deno.test({
  name:
    "enter and nsenter side by side on a user namespace, as root, as its owner, as another user",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const flags = ["-U", "-r", "-m", "-u", "-i", "-n", "-p", "-C", "-T", "--fork"];
    await t.step("as root", async (t) => {
      await using target = await makeTarget({ hostname: "parity", flags });
      await _differential(t, "nsenter", _enterUserCases(String(target.pid), true));
    });
    await t.step("as the user who made it", async (t) => {
      const user = await testUser();
      await using target = await makeTarget({ hostname: "parity", flags, user });
      const as = { uid: user.uid, gid: user.gid };
      await _differential(t, "nsenter", _enterUserCases(String(target.pid), false), as);
    });
    await t.step("as a user, on root's target: refused alike", async (t) => {
      const user = await testUser();
      await using target = await makeTarget({ hostname: "parity", flags });
      const p = String(target.pid);
      const cases = [
        ["-t", p, "-u", "hostname"],
        ["-t", p, "-a", "hostname"],
        ["-t", p, "-U", "hostname"],
        [`--uts=/proc/${p}/ns/uts`, "hostname"],
        ["-t", p, "-U", "--preserve-credentials", "hostname"],
      ].map((args) => ({ args }));
      await _differential(t, "nsenter", cases, { uid: user.uid, gid: user.gid });
    });
  },
});

Deno.test({
  name: "enter --uts=1 in a directory holding a namespace file named 1 opens that file, not PID 1",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "parity", flags: ["-u", "--fork"] });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-parity-" });
    const file = `${dir}/1`;
    await Deno.writeTextFile(file, "");
    await sh("mount", ["--bind", `/proc/${target.pid}/ns/uts`, file]);
    try {
      const run = (cmd: string, args: string[]) =>
        runPiped(cmd, { args, cwd: dir, env: { NO_COLOR: "1" } });
      const ours = (args: string[]) =>
        run(Deno.execPath(), [
          "run",
          "-A",
          "--quiet",
          "--no-lock",
          `${ROOT}cli.ts`,
          "enter",
          ...args,
        ]);
      // The FILE's namespace, as nsenter.
      const theirs = await run("nsenter", ["--uts=1", "hostname"]);
      assertEquals([theirs.code, theirs.stdout], [0, "parity\n"], theirs.stderr);
      const mine = await ours(["--uts=1", "hostname"]);
      assertEquals([mine.code, mine.stdout], [0, "parity\n"], mine.stderr);
      // No target: nothing of PID 1 (its cwd, its environment) is taken, as nsenter refuses
      // -w there ("neither filename nor target pid supplied for cwd").
      assertMatch((await run("nsenter", ["--uts=1", "-w", "pwd"])).stderr, /neither filename/);
      for (const extra of [["-w"], ["-e"], ["-S", "follow"]]) {
        const r = await ours(["--uts=1", ...extra, "pwd"]);
        assertEquals([r.code, r.stdout], [2, ""], `${extra.join(" ")}: ${r.stderr}`);
      }
    } finally {
      await runPiped("umount", { args: [file] });
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "ls prints a command line's bytes that are not UTF-8 as lsns does, and keeps them in JSON",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // argv[0] "name \xff\xc3\xa9 x\x01": a byte that is not UTF-8, a UTF-8 é, a control byte.
    const outer = new Deno.Command("unshare", {
      args: ["-n", "bash", "-c", "exec -a $'name \\xff\\xc3\\xa9 x\\x01' sleep 100000"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const p = String(outer.pid);
    try {
      await until(() => {
        try {
          return Deno.readTextFileSync(`/proc/${p}/cmdline`).startsWith("name ");
        } catch {
          return false;
        }
      });
      const cases: [string, string[], Record<string, string>?][] = [
        ["the table", ["-p", p, "-t", "net"]],
        ["-r (raw)", ["-p", p, "-t", "net", "-r"]],
        ["-o COMMAND under LANG=C", ["-p", p, "-t", "net", "-o", "COMMAND"], { LANG: "C" }],
        ["-n -o NS,COMMAND -u", ["-p", p, "-t", "net", "-n", "-o", "NS,COMMAND", "-u"]],
      ];
      for (const [name, args, env] of cases) {
        await t.step(name, async () => {
          const theirs = await anchor("lsns", args, { env });
          const ours = await cli(["ls", ...args], { env });
          assertEquals(theirs.code, 0, theirs.stderr);
          assertMatch(theirs.stdout, /name( |\\x20)\\xff/);
          assertEquals([ours.code, ours.stdout], [0, theirs.stdout], ours.stderr);
        });
      }
      await t.step(
        "-J: lsns writes the raw byte, ours \\udcff (the same byte to Python)",
        async () => {
          const args = ["-p", p, "-t", "net", "-J", "-o", "COMMAND"];
          const theirs = await new Deno.Command("lsns", { args, env: { NO_COLOR: "1" } }).output();
          const raw = theirs.stdout;
          const at = raw.indexOf(0xff);
          assert(at > 0 && raw[at - 1] === 0x20 && raw[at + 1] === 0xc3, "lsns -J wrote the byte");
          const ours = await cli(["ls", ...args]);
          assertEquals(ours.code, 0, ours.stderr);
          assertMatch(ours.stdout, /"command": "name \\udcffé x\\u0001 100000"/);
          // Python's json plus surrogateescape (os.fsencode) gives back the bytes lsns wrote.
          const py = await runPiped("python3", {
            args: [
              "-c",
              "import json,os,sys; c=json.load(sys.stdin)['namespaces'][0]['command']; " +
              "sys.stdout.write(os.fsencode(c).hex())",
            ],
          }, ours.stdout);
          const bytes = Array.from(
            raw.subarray(at - 5, at + 4),
            (b) => b.toString(16).padStart(2, "0"),
          )
            .join("");
          assertEquals(py.stdout.slice(0, bytes.length), bytes, py.stderr);
        },
      );
      await t.step("inspect's command row escapes the byte as ls does", async () => {
        const ours = await cli(["inspect", p]);
        assertEquals(ours.code, 0, ours.stderr);
        assertMatch(ours.stdout, /^command +name \\xffé x\\x01 100000 /m);
        const json = await cli(["inspect", "--json", p]);
        assertMatch(json.stdout, /"command": "name \\udcffé x\\u0001 100000"/);
      });
    } finally {
      outer.kill("SIGKILL");
      await outer.status;
    }
  },
});

Deno.test({
  name: "ls -p of a thread's ID lists nothing, as lsns, and says whose thread it is",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // /proc/TID/ns is the thread's own (it may have joined others); lsns reads the processes
    // readdir of /proc shows and lists nothing for a thread's ID, exit 0. `ls` listed the
    // thread's namespaces.
    const proc = new Deno.Command("python3", {
      args: [
        "-c",
        "import threading,time,sys\nt=threading.Thread(target=time.sleep,args=(300,),daemon=True)\n" +
        "t.start()\nprint('ready',flush=True)\ntime.sleep(300)",
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    try {
      const reader = proc.stdout.getReader();
      await reader.read();
      reader.releaseLock();
      const tid = [...Deno.readDirSync(`/proc/${proc.pid}/task`)].map((e) => e.name).find((n) =>
        n !== String(proc.pid)
      )!;
      assert(tid, "python has a second thread");
      for (const args of [["-p", tid], ["-p", tid, "-J"], ["-p", tid, "-t", "net", "-r"]]) {
        await t.step(args.join(" "), async () => {
          const theirs = await lsnsStable(args);
          const ours = await cli(["ls", ...args]);
          assertEquals(theirs.code, 0, theirs.stderr);
          assertEquals([ours.code, ours.stdout], [0, theirs.stdout]);
          assertEquals(
            ours.stderr,
            `nsjoin ls: note: ${tid} is a thread of process ${proc.pid}, not a process\n`,
          );
        });
      }
      await t.step("the process's own PID lists its namespaces in both", async () => {
        const theirs = await lsnsStable(["-p", String(proc.pid), "-t", "net", "-n", "-o", "NS"]);
        const ours = await cli(["ls", "-p", String(proc.pid), "-t", "net", "-n", "-o", "NS"]);
        assertMatch(theirs.stdout, /^\s*\d+\n$/);
        assertEquals([ours.code, ours.stdout], [0, theirs.stdout], ours.stderr);
      });
      await t.step(
        "listNamespaces({ pid }) refuses a thread's ID, naming its process",
        async () => {
          const { listNamespaces, NamespaceError } = await import("../mod.ts");
          assertThrows(
            () => listNamespaces({ pid: Number(tid) }),
            NamespaceError,
            `Cannot list the namespaces of process ${tid}: it is a thread of process ${proc.pid} - `,
          );
        },
      );
    } finally {
      proc.kill("SIGKILL");
      await proc.status;
      await proc.stdout.cancel().catch(() => {});
    }
  },
});

Deno.test({
  name: "enter with stdin closed gives the program /dev/null, where nsenter's has no fd 0",
  ignore: NEEDS_ROOT,
  async fn() {
    // README Differences: Deno opens /dev/null O_RDWR for a closed fd 0 before nsjoin runs, and
    // that cannot be told from a caller's `<>/dev/null` (fdinfo flags 0100002 both).
    await using target = await makeTarget({ flags: ["-u"] });
    const closed = (argv: string[]) =>
      runPiped("sh", { args: ["-c", 'exec "$@" <&-', "sh", ...argv], cwd: "/", env: {} });
    const program = ["-t", String(target.pid), "-u", "readlink", "-v", "/proc/self/fd/0"];
    const theirs = await closed(["nsenter", ...program]);
    assertEquals(theirs.code, 1, theirs.stderr);
    assertMatch(theirs.stderr, /No such file/);
    const deno = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`];
    for (const path of [[], ["-c"]]) {
      const ours = await closed([...deno, "enter", ...path, ...program]);
      assertEquals([ours.code, ours.stdout], [0, "/dev/null\n"], ours.stderr);
    }
    const given = await runPiped("sh", {
      args: ["-c", 'exec "$@" <>/dev/null', "sh", ...deno, "enter", ...program],
      env: {},
    });
    assertEquals(given.stdout, "/dev/null\n", given.stderr);
  },
});

Deno.test({
  name: "NsCommand gives the program the caller's environment without Deno's node shim, as nsenter",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // Deno, started where no `node` is on PATH, puts <DENO_DIR>/node_compat_bin first on its
    // PATH and sets DENO_NODE_SHIM_ACTIVE=1 before the script runs: NsCommand's programs got
    // both (the CLI undid them for its own, src/cli/_node_shim.ts). The library undoes them in
    // the program's copy only while they are what Deno made: a PATH the script set stays.
    await using target = await makeTarget({ flags: ["-u"] });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-parity-shim-" });
    try {
      const script = `${dir}/run.ts`;
      await Deno.writeTextFile(
        script,
        `import { NsCommand } from ${JSON.stringify(`${ROOT}mod.ts`)};
if (Deno.args[1] === "set") Deno.env.set("PATH", "/opt/mine:" + Deno.env.get("PATH"));
const cmd = new NsCommand("/usr/bin/env", {
  target: ${target.pid},
  namespaces: ["uts"],
  stdout: "piped",
});
const out = Deno.args[0] === "sync" ? cmd.outputSync()
  : Deno.args[0] === "spawn" ? await cmd.spawn().output()
  : await cmd.output();
await Deno.stdout.write(out.stdout);
`,
      );
      const empty = `${dir}/bin`;
      await Deno.mkdir(empty);
      const deno = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", script];
      const run = (cmd: string[], env: Record<string, string>) =>
        runPiped(cmd[0], { args: cmd.slice(1), cwd: "/", env, clearEnv: true });
      const nsenter = ["/usr/bin/nsenter", "-t", String(target.pid), "-u", "/usr/bin/env"];
      const cases: [string, Record<string, string>][] = [
        ["a PATH without node", { PATH: empty, A: "1" }],
        ["no PATH", { A: "1" }],
        // A parent Deno's shim is the caller's own environment: kept, as nsenter keeps it.
        ["started with the shim already", {
          PATH: `/x/node_compat_bin:${empty}`,
          DENO_NODE_SHIM_ACTIVE: "1",
        }],
      ];
      for (const [name, env] of cases) {
        for (const mode of ["output", "sync", "spawn"]) {
          await t.step(`${name}, ${mode}()`, async () => {
            const theirs = await run(nsenter, env);
            const ours = await run([...deno, mode], env);
            assertEquals(theirs.code, 0, theirs.stderr);
            assertEquals([ours.code, ours.stdout], [0, theirs.stdout], ours.stderr);
          });
        }
      }
      await t.step("a variable that is not UTF-8 still reaches the program", async () => {
        // The program's copy is made of strings, which cannot hold it: Deno's PATH is left.
        for (const mode of ["output", "sync", "spawn"]) {
          const ours = await run(
            ["/bin/sh", "-c", `NSJOIN_BYTES=$(printf 'a\\377b') exec "$@"`, "sh", ...deno, mode],
            { PATH: empty },
          );
          assertEquals(ours.code, 0, ours.stderr);
          assertMatch(ours.stdout, /^NSJOIN_BYTES=a\uFFFDb$/m, mode);
        }
      });
      await t.step("a PATH the script set itself is the program's", async () => {
        const ours = await run([...deno, "output", "set"], { PATH: empty });
        assertEquals(ours.code, 0, ours.stderr);
        assertMatch(
          ours.stdout,
          new RegExp(`^PATH=/opt/mine:/\\S+/node_compat_bin:${empty}$`, "m"),
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("decodeBytes keeps each byte that is not UTF-8 as Python's surrogateescape does", async () => {
  // The anchor for `ls`'s COMMAND bytes: overlong forms, UTF-16 surrogates in UTF-8, past
  // U+10FFFF, a cut sequence, stray continuation bytes; and valid 1-4 byte sequences.
  const { decodeBytes } = await import("../src/terminal.ts");
  const cases = [
    "61ff62",
    "c0afe080af",
    "eda080edbfbf",
    "f4908080f5",
    "e282",
    "e282ac",
    "80bf",
    "f09f9880c3a9",
    "e2827820",
    "f0908d",
  ];
  const py = await runPiped("python3", {
    args: [
      "-c",
      "import sys\nfor h in sys.argv[1:]:\n" +
      " print(' '.join('%04x' % ord(c) for c in bytes.fromhex(h).decode('utf-8','surrogateescape')))",
      ...cases,
    ],
  });
  const theirs = py.stdout.trim().split("\n");
  cases.forEach((hex, i) => {
    const bytes = new Uint8Array(hex.match(/../g)!.map((b) => parseInt(b, 16)));
    const ours = [...decodeBytes(bytes)].map((c) =>
      c.codePointAt(0)!.toString(16).padStart(4, "0")
    );
    assertEquals(ours.join(" "), theirs[i], hex);
  });
});
