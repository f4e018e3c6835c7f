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
  runPiped,
} from "./_fixtures.ts";
import { engineExec, removeContainers, skipWithoutEngines, startContainer } from "./_engines.ts";
import { parseOptions } from "../src/cli/_args.ts";
import { UsageError } from "../src/cli/_run.ts";

type Run = { code: number; stdout: string; stderr: string };

/** Runs util-linux's `tool` in "/" (as cli() runs ours), stdin from `stdin` or /dev/null. */
async function anchor(
  tool: "nsenter" | "lsns",
  args: string[],
  opts: { env?: Record<string, string>; stdin?: string } = {},
): Promise<Run> {
  return await runPiped(tool, { args, cwd: "/", env: { NO_COLOR: "1", ...opts.env } }, opts.stdin);
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
