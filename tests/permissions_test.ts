/**
 * The README's Permissions table, run: every CLI command and every public function with
 * exactly the flags the table lists works, and with any one of them taken away fails with
 * one line that names the missing flag — never a stack trace, never a silently short result.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
} from "./_fixtures.ts";

/** The rows of the README's table: Deno flags, by feature. */
const ENGINE = ["--allow-ffi", "--allow-run", "--allow-env"];
const JOIN = ["--allow-ffi", "--allow-env"];
const ALL = ["--allow-all"];
const COPY = ["--allow-ffi", "--allow-env"];
const FORWARD = ["--allow-ffi", "--allow-env", "--allow-net"];
/** Everything short of --allow-all a user might try for an `-A` feature. */
const ALMOST_ALL = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
];

const MOD = JSON.stringify(new URL("../mod.ts", import.meta.url).href);
const DAX = JSON.stringify(new URL("../dax.ts", import.meta.url).href);

/** A cgroup of its own for the target, so that `enter --join-cgroup` has one to join. */
const PERM_CGROUP = `nsjperm-${crypto.randomUUID().slice(0, 8)}`;

/** A writable cgroup hierarchy: the v2 one, or v1 pids (a hybrid host has no v2 mount). */
function cgroupMount(): string {
  const mounts = Deno.readTextFileSync("/proc/self/mountinfo").split("\n").map((l) => {
    const [left, right = ""] = l.split(" - ");
    return { point: left.split(" ")[4], type: right.split(" ")[0], opts: right.split(" ")[2] };
  });
  const m = mounts.find((m) => m.type === "cgroup2") ??
    mounts.find((m) => m.type === "cgroup" && m.opts?.split(",").includes("pids"));
  if (!m) throw new Error("Cannot find a cgroup v2 or v1 pids mount");
  return m.point;
}

interface Case {
  name: string;
  flags: string[];
  /** A library script (its last line printed on success), or CLI arguments. */
  script?: (pid: number, dir: string) => string;
  cli?: (pid: number) => string[];
  /** Files written beside the script first (name → text). */
  files?: Record<string, string>;
  /** What a working run prints (stdout). */
  expect: RegExp;
}

const CASES: Case[] = [
  {
    name: "NsCommand",
    flags: ENGINE,
    script: (pid) =>
      `import { NsCommand } from ${MOD};
const o = await new NsCommand("hostname", { target: ${pid} }).output();
console.log(new TextDecoder().decode(o.stdout).trim());`,
    expect: /^perm-target$/,
  },
  {
    name: "openSession",
    flags: ENGINE,
    script: (pid) =>
      `import { openSession } from ${MOD};
await using s = await openSession(${pid});
const o = await s.output("hostname");
console.log(new TextDecoder().decode(o.stdout).trim());`,
    expect: /^perm-target$/,
  },
  {
    // Text in, text out: a script that only parses a user's target or port needs no flag.
    name: "netnsPath, parseTarget, parsePortSpec, matchPodContainer, NamespaceError",
    flags: [],
    script: () =>
      `import * as n from ${MOD};
const port = n.parsePortSpec("8080:80");
const pod = { namespace: "default", name: "web", uid: "u1", sandboxId: "aa11" };
const c = n.matchPodContainer([{ engine: "containerd", id: "aa11", pid: 10, pod, source: "state" }], "cri:aa");
const e = new n.NamespaceError("Cannot join", { errno: 1, syscall: "setns" });
console.log(n.netnsPath("blue"), n.parseTarget("netns:blue"), port.localPort, c.id, e.code);`,
    expect: /^\/run\/netns\/blue \/run\/netns\/blue 8080 aa11 EPERM$/,
  },
  {
    name: "namespace and target functions",
    flags: JOIN,
    script: (pid) =>
      `import * as n from ${MOD};
const ns = n.namespacesOfSync(${pid});
const same = n.sameNamespace(${pid}, "self", "net");
const diff = n.differingNamespaces(${pid});
const type = n.namespaceTypeOfFile(ns.net!.path);
const t = n.resolveTarget(${pid});
using p = n.pinProcess(${pid});
const ok = (await n.namespacesOf("self")).net && n.startTimeOf(${pid}) === p.startTime;
console.log(same, diff.includes("uts"), type, t.kind, ok ? "ok" : "bad");`,
    expect: /^false true net process ok$/,
  },
  {
    name: "scopedJoin",
    flags: JOIN,
    script: (pid) =>
      `import { scopedJoin } from ${MOD};
{
  using _ = scopedJoin(${pid}, ["uts"]);
}
console.log("joined and back");`,
    expect: /^joined and back$/,
  },
  {
    name: "inNamespaces",
    flags: JOIN,
    script: (pid) =>
      `import { closeNamespaceWorkers, inNamespaces } from ${MOD};
const v = await inNamespaces(${pid}, (x: number) => x * 2, { namespaces: ["uts"], arg: 21 });
await closeNamespaceWorkers();
console.log(v);`,
    expect: /^42$/,
  },
  {
    // Its sealed evaluator runs in a deno process of its own (stop 26).
    name: "inNamespaces with mnt",
    flags: [...JOIN, "--allow-run"],
    script: (pid) =>
      `import { closeNamespaceWorkers, inNamespaces } from ${MOD};
const v = await inNamespaces(${pid}, (x: number) => x * 2, { namespaces: ["mnt"], arg: 21 });
await closeNamespaceWorkers();
console.log(v);`,
    expect: /^42$/,
  },
  {
    name: "listNamespaces, namespaceTree, processesInNamespace",
    flags: ALL,
    script: (pid) =>
      `import * as n from ${MOD};
const ino = n.namespacesOfSync(${pid}).uts!.inode;
const l = n.listNamespaces({ types: ["uts"] });
const tree = n.namespaceTree({ by: "owner", from: l });
const members = n.processesInNamespace(ino);
console.log(JSON.stringify(l).includes(String(ino)), tree.length > 0, JSON.stringify(members).includes("${pid}"));`,
    expect: /^true true true$/,
  },
  {
    // A module URL with mnt is bundled on the host by `deno bundle`, and runs in the
    // evaluator's process: --allow-run for both.
    name: "inNamespaces with mnt and a module URL",
    flags: [...JOIN, "--allow-run"],
    files: { "inside.ts": "export default (x: number) => x * 2;\n" },
    script: (pid, dir) =>
      `import { closeNamespaceWorkers, inNamespaces } from ${MOD};
const v = await inNamespaces(${pid}, new URL("file://${dir}/inside.ts"), { namespaces: ["mnt"], arg: 21 });
await closeNamespaceWorkers();
console.log(v);`,
    expect: /^42$/,
  },
  {
    name: "inspect",
    flags: ALL,
    script: (pid) =>
      `import { inspect } from ${MOD};
const r = inspect(${pid});
console.log(r.namespaces.find((c) => c.type === "uts")!.shared);`,
    expect: /^false$/,
  },
  {
    name: "findContainers, resolveContainer, resolveContainerUser",
    flags: ALL,
    script: (pid) =>
      `import { findContainers, resolveContainer, resolveContainerUser } from ${MOD};
if (resolveContainerUser(${pid}, "root").uid !== 0) throw new Error("root is not uid 0");
const all = await findContainers();
await resolveContainer("no-such-container-" + crypto.randomUUID()).catch((e) => {
  if (e.name === "NotCapable") throw e;
});
console.log(Array.isArray(all));`,
    expect: /^true$/,
  },
  {
    name: "daxIn",
    flags: ALL,
    // Imported inside the try: without -A the entry refuses to load (before npm dax does).
    script: (pid) =>
      `const { daxIn } = await import(${DAX});
const $ = daxIn(${pid});
console.log(await $\`hostname\`.text());`,
    expect: /^perm-target$/,
  },
  {
    name: "nsjoin enter",
    flags: JOIN,
    cli: (pid) => ["enter", "-t", `${pid}`, "-a", "hostname"],
    expect: /^perm-target$/,
  },
  {
    // The target is moved into PERM_CGROUP first (see the test): -c joins it.
    name: "nsjoin enter --join-cgroup",
    flags: JOIN,
    cli: (pid) => ["enter", "-t", `${pid}`, "-c", "-u", "cat", "/proc/self/cgroup"],
    expect: new RegExp(`:/${PERM_CGROUP}$`, "m"),
  },
  {
    name: "nsjoin exec",
    flags: ALL,
    cli: (pid) => ["exec", `${pid}`, "hostname"],
    expect: /^perm-target$/,
  },
  { name: "nsjoin ls", flags: ALL, cli: () => ["ls", "--json", "-t", "uts"], expect: /"ns"/ },
  { name: "nsjoin inspect", flags: ALL, cli: (pid) => ["inspect", `${pid}`], expect: /uts/ },
  { name: "nsjoin ps", flags: ALL, cli: () => ["ps", "--json"], expect: /^\[/ },
  {
    name: "copyFrom, copyTo, tarFrom, tarTo",
    flags: COPY,
    // No --allow-read: host files are read and written through the same dir-fd FFI as the
    // target's (a relative host path too), so the script checks what arrived through tarFrom.
    script: (pid, dir) =>
      `import { copyFrom, copyTo, tarFrom, tarTo } from ${MOD};
await copyFrom(${pid}, "/etc/passwd", "copied");
await copyTo(${pid}, "copied", "${dir}/back");
await tarTo(${pid}, "${dir}", tarFrom(${pid}, "/etc/passwd"));
const content = async (path: string) => {
  const tar = new Uint8Array(await new Response(tarFrom(${pid}, path)).arrayBuffer());
  const size = parseInt(new TextDecoder().decode(tar.subarray(124, 136)), 8);
  return new TextDecoder().decode(tar.subarray(512, 512 + size));
};
const host = await content("/etc/passwd");
console.log(host !== "" && (await content("${dir}/back")) === host &&
  (await content("${dir}/passwd")) === host);`,
    expect: /^true$/,
  },
  {
    name: "forward",
    flags: FORWARD,
    script: (pid) =>
      `import { forward } from ${MOD};
await using f = await forward(${pid}, { local: 0, remote: 9 });
console.log(f.local.port > 0);`,
    expect: /^true$/,
  },
  {
    name: "nsjoin cp",
    flags: ALL,
    cli: (pid) => ["cp", `${pid}:/etc/hostname`, "-"],
    expect: /hostname/,
  },
];

/** Runs a case with the given Deno flags: exit code, stdout, stderr. */
async function run(c: Case, pid: number, flags: readonly string[]) {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-perm-" });
  try {
    let args: string[];
    if (c.script) {
      // Errors as a library user sees them when they catch: the error's own one line.
      const lines = c.script(pid, dir).split("\n");
      const imports = lines.filter((l) => l.startsWith("import "));
      const rest = lines.filter((l) => !l.startsWith("import "));
      const body = [
        ...imports,
        "try {",
        ...rest,
        "} catch (e) {",
        "  console.error(`${(e as Error).name}: ${(e as Error).message}`);",
        "  Deno.exit(1);",
        "}",
      ].join("\n");
      await Deno.writeTextFile(`${dir}/script.ts`, body);
      for (const [name, text] of Object.entries(c.files ?? {})) {
        await Deno.writeTextFile(`${dir}/${name}`, text);
      }
      args = ["run", "--quiet", "--no-lock", "--no-prompt", ...flags, `${dir}/script.ts`];
    } else {
      args = [
        "run",
        "--quiet",
        "--no-lock",
        "--no-prompt",
        ...flags,
        `${ROOT}cli.ts`,
        ...c.cli!(pid),
      ];
    }
    return await runPiped(Deno.execPath(), { args, cwd: dir, env: { NO_COLOR: "1" } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** What each flag is called in Deno's and nsjoin's messages. */
const named = (flag: string) => flag === "--allow-all" ? /--allow-all/ : new RegExp(flag);

Deno.test({
  name: "every feature works with exactly the README's flags and names a missing one in one line",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const cgroup = `${cgroupMount()}/${PERM_CGROUP}`;
    Deno.mkdirSync(cgroup);
    // Declared first, so disposed last: a cgroup goes once its processes are reaped.
    await using _cgroup = {
      async [Symbol.asyncDispose]() {
        for (let i = 0; i < 100; i++) {
          try {
            return Deno.removeSync(cgroup);
          } catch {
            await new Promise((r) => setTimeout(r, 20));
          }
        }
      },
    };
    await using target = await makeTarget({ hostname: "perm-target" });
    Deno.writeTextFileSync(`${cgroup}/cgroup.procs`, String(target.pid));
    for (const c of CASES) {
      await t.step(`${c.name} with ${c.flags.join(" ") || "no flag"}`, async () => {
        const out = await run(c, target.pid, c.flags);
        assertEquals(out.code, 0, out.stderr);
        assertMatch(out.stdout.trim(), c.expect);
      });
      const fewer = c.flags[0] === "--allow-all"
        ? [["--allow-all", ALMOST_ALL] as const, ["--allow-all", []] as const]
        : c.flags.map((f) => [f, c.flags.filter((g) => g !== f)] as const);
      for (const [missing, flags] of fewer) {
        const what = flags.length === 0 ? "no flag at all" : missing;
        await t.step(
          `${c.name} with ${flags.length === 0 ? what : `all but ${missing}`}`,
          async () => {
            const out = await run(c, target.pid, flags);
            assert(out.code !== 0, `ran without ${missing}: ${out.stdout}`);
            if (c.cli) assertEquals(out.code, 2, out.stderr);
            const lines = out.stderr.trimEnd().split("\n");
            assertEquals(lines.length, 1, out.stderr);
            // With no flag at all, the first refusal may be of any flag the feature needs.
            assertMatch(lines[0], flags.length === 0 ? /--allow-\w+/ : named(missing));
            // What a caller catches tells a missing flag apart from any other failure:
            // inNamespaces' bundling said it in a plain Error.
            if (c.script) assertMatch(lines[0], /^NotCapable: /);
            // Deno's own words named the helper's path ("Requires run access to
            // "/proc/self/fd/23""), which no one gives: say what needs the flag.
            if (c.script && missing === "--allow-run") {
              assertMatch(lines[0], /^NotCapable: Cannot .* without --allow-run: /);
            }
            assert(!/\bat .*:\d+:\d+/.test(out.stderr), `a stack trace: ${out.stderr}`);
          },
        );
      }
    }
  },
});

Deno.test({
  name: "enter's other forms need no flag beyond enter's: --net=:NSID says what the kernel lacks",
  ignore: NEEDS_ROOT,
  async fn() {
    // It read the kernel's release with Deno.osRelease(), which needs --allow-sys: with the
    // README's flags the user got "Requires sys access" (exit 2) instead of the reason.
    const out = await runPiped(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", "--no-prompt", ...JOIN, `${ROOT}cli.ts`, "enter"]
        .concat(["-t", `${Deno.pid}`, "--net=:5", "true"]),
      env: { NO_COLOR: "1" },
    });
    assertEquals(out.code, 125, out.stderr);
    assertMatch(out.stderr, /^nsjoin enter: Cannot enter the net namespace with id 5: /);
    assertEquals(out.stderr.trimEnd().split("\n").length, 1, out.stderr);
  },
});

Deno.test("the CLI's usage and every command's --help need no permission at all", async () => {
  for (const args of [["--help"], ["enter", "--help"], ["exec", "--help"], ["ls", "--help"]]) {
    const out = await runPiped(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", "--no-prompt", `${ROOT}cli.ts`, ...args],
    });
    assertEquals(out.code, 0, out.stderr);
    assertMatch(out.stdout, args.length === 1 ? /^Usage: nsjoin/ : /^NAME\n nsjoin /);
  }
});

Deno.test("every command's --help says a missing permission is exit 2, and it is", async () => {
  // debug's EXIT STATUS said "2 bad usage" alone, while it exits 2 for a missing flag too.
  const commands: [string, string[]][] = [
    ["enter", ["-t", "1", "-a", "true"]],
    ["exec", ["1", "true"]],
    ["ls", []],
    ["ps", []],
    ["inspect", ["1"]],
    ["cp", ["1:/etc/hostname", "-"]],
    ["forward", ["1", "1:1"]],
    ["debug", ["1", "--", "true"]],
  ];
  const deno = (args: string[]) =>
    runPiped(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", "--no-prompt", `${ROOT}cli.ts`, ...args],
      env: { NO_COLOR: "1" },
    });
  for (const [command, args] of commands) {
    const help = await deno([command, "--help"]);
    const status = help.stdout.slice(help.stdout.indexOf("EXIT STATUS"));
    assertMatch(status.replace(/\s+/g, " "), /2 bad usage or a missing Deno permission/, command);
    const out = await deno([command, ...args]);
    assertEquals(out.code, 2, `${command}: ${out.stderr}`);
    assertMatch(
      out.stderr,
      new RegExp(`^nsjoin ${command}: Cannot run nsjoin ${command} without --allow-`),
    );
    assertEquals(out.stderr.trimEnd().split("\n").length, 1, out.stderr);
  }
});

Deno.test("importing the dax entry without -A fails in nsjoin, before npm dax loads", async () => {
  // A static import cannot be caught: what the user sees is Deno's report of the throw, which
  // must come from nsjoin's check, not from inside dax's dependencies (they read the
  // environment as they load).
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-perm-dax-" });
  try {
    await Deno.writeTextFile(`${dir}/script.ts`, `import { daxIn } from ${DAX};\ndaxIn(1);\n`);
    for (const flags of [[], ["--allow-read", "--allow-ffi", "--allow-run"]]) {
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "--quiet", "--no-lock", "--no-prompt", ...flags, `${dir}/script.ts`],
        env: { NO_COLOR: "1" },
      });
      assert(out.code !== 0);
      assertMatch(out.stderr, /NotCapable: Cannot load @nsjoin\/nsjoin\/dax without --allow-all/);
      assert(!/npm|node_modules|ext:deno_node/.test(out.stderr), out.stderr);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** The README's first library example (its jsr: import made the checkout's) and the flags it states. */
async function readmeLibraryExample(pid: number): Promise<{ script: string; flags: string[] }> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.slice(readme.indexOf("\n## Library\n"));
  const block = section.match(/```ts\n([\s\S]*?)```/)![1];
  const flags = section.match(/`deno run ((?:--allow-\w+ )+)ip\.ts`/)![1].trim().split(" ");
  const script = block.replace('"jsr:@nsjoin/nsjoin"', MOD).replace(
    "target: 4242",
    `target: ${pid}`,
  );
  assertMatch(script, new RegExp(`from ${MOD.replace(/[.]/g, "\\.")};[\\s\\S]*target: ${pid}`));
  return { script, flags };
}

Deno.test({
  name:
    "README's library example runs with the flags it states, and uncaught with one fewer says which in one line",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A user who copies an example and forgets a flag sees Deno's report of the uncaught
    // error: it named NSJOIN_LIBC or NSJOIN_NO_PIDFS (variables no one set) for --allow-env
    // and went on with a dozen frames of nsjoin's bundle; it says why and where in the
    // caller's script now, and nothing of ours.
    await using target = await makeTarget({ hostname: "perm-target" });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-perm-uncaught-" });
    try {
      const example = await readmeLibraryExample(target.pid);
      assertEquals(example.flags, ENGINE);
      const scripts: [string, string, string[]][] = [
        ["the README's NsCommand example", example.script, example.flags],
        [
          "inNamespaces with a module URL",
          `import { inNamespaces } from ${MOD};\n\n` +
          `const report = await inNamespaces(${target.pid}, new URL("./inside.ts", import.meta.url), { arg: "x" });\n` +
          "console.log(report);\n",
          // The target's mnt differs ("all" joins it): bundled and run in the evaluator's own
          // process, both spawned (stop 26).
          [...JOIN, "--allow-run"],
        ],
        [
          "scopedJoin",
          `import { scopedJoin } from ${MOD};\n\n{\n  using _ = scopedJoin(${target.pid}, ["uts"]);\n}\n`,
          JOIN,
        ],
      ];
      await Deno.writeTextFile(`${dir}/inside.ts`, "export default (x: string) => x;\n");
      const deno = (script: string, flags: string[]) =>
        runPiped(Deno.execPath(), {
          args: ["run", "--quiet", "--no-lock", "--no-prompt", ...flags, script],
          cwd: dir,
          env: { NO_COLOR: "1" },
        });
      const readmeScript = `${dir}/ip.ts`;
      await Deno.writeTextFile(readmeScript, example.script);
      await t.step("the README's example with its flags", async () => {
        const out = await deno(readmeScript, example.flags);
        assertEquals([out.code, out.stderr], [0, ""]);
        // The target's network namespace: its loopback alone (down, as unshare -n makes it).
        assertEquals(out.stdout.trim().split(/\s+/), ["0", "lo", "DOWN"]);
      });
      for (const [name, text, flags] of scripts) {
        const script = `${dir}/${name.replace(/\W+/g, "_")}.ts`;
        await Deno.writeTextFile(script, text);
        for (const missing of flags) {
          await t.step(`${name} without ${missing}`, async () => {
            const out = await deno(script, flags.filter((f) => f !== missing));
            assertEquals(out.code, 1, out.stderr);
            const [first, ...frames] = out.stderr.trimEnd().split("\n");
            assertMatch(
              first,
              new RegExp(
                `^error: Uncaught \\(in promise\\) NotCapable: Cannot .* without ${missing}`,
              ),
            );
            assert(!/NSJOIN_LIBC"|NSJOIN_NO_PIDFS"|Requires /.test(first), first);
            assert(frames.length > 0, "no line of the caller's");
            for (const frame of frames) assertMatch(frame, new RegExp(`^    at .*file://${dir}/`));
          });
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
