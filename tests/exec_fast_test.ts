/**
 * `nsjoin exec docker:NAME`'s fast path (src/cli/_exec_fast.ts, the helper's options d and r
 * in ffi/helper.c) against its full path (the same arguments after `--env-file /dev/null`,
 * which adds nothing and which the fast path leaves to the full path) and against
 * `docker exec`, differentially: containers whose /etc/passwd, /etc/group, User, WorkingDir and
 * Env are each an edge, and seeded random forms of -u, -e, -w, -i and programs through all
 * three. The two nsjoin paths must agree byte for byte (exit code, stdout, stderr); docker
 * must agree on what ran (exit code, stdout, stderr) and on what was refused, with the exit
 * codes and words README's docker parity section documents.
 *
 * Other seeds: `FAST22_SEEDS=7,8 deno test -A tests/exec_fast_test.ts` (not an NSJOIN_
 * variable: those send the CLI to its full path).
 */
import {
  buildRootfs,
  must,
  type Run,
  run,
  skipWithoutEngines,
  type TestContainer,
} from "./_engines.ts";
import { assert, assertEquals, cli, ROOT, runPiped } from "./_fixtures.ts";
import { parseFastExec } from "../src/cli/_exec_fast.ts";

const SKIP = skipWithoutEngines("exec fast path parity tests", ["docker"]);
const TAG = `f22-${crypto.randomUUID().slice(0, 8)}`;
const IMG = `nsjoin-fast22:${TAG}`;

/** The seeds the test always runs; FAST22_SEEDS adds others. */
const SEEDS = [
  22,
  2202,
  5,
  ...(Deno.env.get("FAST22_SEEDS") ?? "").split(",").filter(Boolean)
    .map(Number),
];
/** Random forms per container per seed. */
const PER_SEED = 4;

/**
 * An /etc/passwd with every edge docker's reader (moby/sys/user, runc's) meets: a comment and
 * a blank line, a user without a home, a uid field "01002", names with dots, '@' and '-', a
 * user in many groups, two lines of one name, a second name of uid 1000 (whose HOME runc
 * reads by uid), a line with too few fields.
 */
const PASSWD = [
  "root:x:0:0:root:/root:/bin/sh",
  "# users of the fast path's parity test",
  "",
  "app:x:1000:1000:app:/home/app:/bin/sh",
  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false",
  "nohome:x:1001:1001:no home::/bin/sh",
  "zero:x:01002:1002::/home/zero:/bin/sh",
  "first.last:x:1003:1003::/home/fl:/bin/sh",
  "a@b:x:1004:1004::/home/ab:/bin/sh",
  "x-y:x:1005:50::/home/xy:/bin/sh",
  "many:x:1006:1006::/home/many:/bin/sh",
  "dup:x:1007:1007::/home/dup1:/bin/sh",
  "dup:x:1008:1008::/home/dup2:/bin/sh",
  "alias:x:1000:1000::/home/alias:/bin/sh",
  "short:x:1009",
  "junk:x:1010:abc::/home/junk:/bin/sh",
  "junky:x:1011:1011::/home/junky:/bin/sh",
].join("\n") + "\n";

const GROUP = [
  "# groups",
  "root:x:0:",
  "staff:x:50:app,many,first.last",
  "app:x:1000:",
  "",
  ...Array.from({ length: 12 }, (_, i) => `g${i}:x:${2000 + i}:many${i % 3 ? ",x-y" : ""}`),
  "dupg:x:2100:dup",
  "dupg:x:2101:dup",
  "a@b:x:1004:a@b",
  "own:x:1000:app",
  "jg:x:0x10:junky",
  "nogroup:x:65534:",
].join("\n") + "\n";

/** The same files with CRLF line ends and no final newline. */
const crlf = (s: string) => s.trimEnd().replaceAll("\n", "\r\n");

/** A container of this test: its engine facts and the reference exec is given. */
interface Box extends TestContainer {
  /** The name exec is given (an ID prefix for one). */
  ref: string;
}

/** mulberry32: the same forms for the same seed on every machine. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USERS = [
  "root",
  "0",
  "",
  "app",
  "1000",
  "01000",
  "+1000",
  "1000:50",
  "1000:1000",
  ":50",
  ":staff",
  "app:staff",
  "app:app",
  "app:",
  "app:0050",
  "nobody",
  "65534",
  "nohome",
  "zero",
  "1002",
  "first.last",
  "a@b",
  "a@b:a@b",
  "x-y",
  "many",
  "many:g3",
  "dup",
  "alias",
  "4242",
  "4242:4242",
  "nosuch",
  "app:nosuch",
  ":nosuch",
  "short",
  "junk",
  "junky",
];
const ENVS = [
  "PATH=/bin",
  "PATH=",
  "PATH=/nowhere:/bin",
  "HOME=/x",
  "HOME=",
  "HOSTNAME=other",
  "NEW=v",
  "NEW=a=b=c",
  "NEW=",
  "GREETING=over",
  "EMPTY=now",
  "EQ==",
  "UNSET_HERE",
];
const WORKDIRS = ["/", "/tmp", "/home/app", "/srv/work", "/nonexistent", "/etc/passwd", "tmp", ""];
const PROBE = "id; echo --; env | sort; echo --; pwd; " +
  "grep -E '^(Cap|NoNewPrivs|Seccomp|Groups)' /proc/self/status; cat /proc/self/cgroup; " +
  "echo --; cat";
const PROGRAMS: string[][] = [
  ["sh", "-c", PROBE],
  ["sh", "-c", PROBE],
  ["sh", "-c", PROBE],
  ["env"],
  ["no-such-program"],
  ["/etc/passwd"],
  ["/tmp"],
  ["sh", "-c", "exit 3"],
  ["sh", "-c", "echo out; echo err >&2; exit 255"],
  ["sh", "-c", "kill -KILL $$"],
  ["sh", "-c", "kill -TERM $$"],
  ["./echo", "relative"],
  ["echo", "caf\u00e9"],
];

/** One exec: its options (before the container), the program, stdin when piped. */
interface Form {
  flags: string[];
  program: string[];
  stdin?: string;
}

function drawForm(rand: () => number): Form {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rand() * list.length)];
  const pairs: string[][] = [];
  if (rand() < 0.7) pairs.push([rand() < 0.8 ? "-u" : "--user", pick(USERS)]);
  for (let n = Math.floor(rand() * 3); n > 0; n--) pairs.push(["-e", pick(ENVS)]);
  if (rand() < 0.35) pairs.push([rand() < 0.8 ? "-w" : "--workdir", pick(WORKDIRS)]);
  const interactive = rand() < 0.3;
  if (interactive) pairs.push([rand() < 0.8 ? "-i" : "--interactive"]);
  for (let i = pairs.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [pairs[i], pairs[j]] = [pairs[j], pairs[i]];
  }
  const program = pick(PROGRAMS);
  return {
    flags: pairs.flat(),
    program,
    stdin: rand() < 0.5 ? "twelve bytes\n" : undefined,
  };
}

/** What an exec came to, as a user tells: it ran (and how), or why it was refused. */
type Outcome =
  | "ran"
  | "not found"
  | "not executable"
  | "no user"
  | "no group"
  | "no directory"
  | "relative directory"
  | "paused"
  | "not running"
  | "restarting"
  | "bad id"
  | "other";

/** docker exec's outcome, from its words (20.10 prints runc's on stdout, exit 126). */
function dockerOutcome(r: Run): Outcome {
  const said = r.stdout + r.stderr;
  if (r.code === 1 && / is paused, unpause/.test(said)) return "paused";
  if (r.code === 1 && / is not running/.test(said)) return "not running";
  if (r.code === 1 && / is restarting, wait/.test(said)) return "restarting";
  if (r.code === 126 && !r.stderr) {
    if (/unable to find user/.test(said)) return "no user";
    if (/unable to find group/.test(said)) return "no group";
    if (/Cwd must be an absolute path/.test(said)) return "relative directory";
    if (/chdir to cwd/.test(said)) return "no directory";
    if (/executable file not found|no such file or directory/.test(said)) return "not found";
    if (/permission denied|is a directory/.test(said)) return "not executable";
    return "other";
  }
  return "ran";
}

/** nsjoin's outcome, from its one line. */
function ourOutcome(r: Run): Outcome {
  const line = r.stderr.startsWith("nsjoin exec: ") ? r.stderr : "";
  if (!line) return "ran";
  if (r.code === 127 && /: not found in the target$/m.test(line)) return "not found";
  if (r.code === 126 && /^nsjoin exec: Cannot run .*: EACCES/.test(line)) return "not executable";
  if (r.code === 125 && /Cannot find user "/.test(line)) return "no user";
  if (r.code === 125 && /Cannot find group "/.test(line)) return "no group";
  if (r.code === 125 && /Cannot change directory to /.test(line)) return "no directory";
  if (r.code === 2 && /--workdir .*: give an absolute path/.test(line)) return "relative directory";
  if (r.code === 125 && /: it is paused - /.test(line)) return "paused";
  if (r.code === 125 && / - it is not running$/m.test(line)) return "not running";
  if (r.code === 125 && / - it is restarting, wait/.test(line)) return "restarting";
  if (r.code === 125 && /Cannot read \/etc\/(passwd|group) .* is not a number from 0/.test(line)) {
    return "bad id";
  }
  return "other";
}

/** `docker ARGS` as the test's other commands run (killed, failing the test, if it hangs). */
const piped = (cmd: string, args: string[], stdin?: string): Promise<Run> =>
  runPiped(cmd, { args, cwd: "/", env: { NO_COLOR: "1" } }, stdin);

/** `nsjoin exec ARGS` with pipes as stdio (a pipe or /dev/null as stdin): the fast path may run. */
const nsjoin = (args: string[], stdin?: string): Promise<Run> => cli(["exec", ...args], { stdin });

/**
 * The helper's argv when the CLI runs `exec ARGS` with pipes for stdio, by strace (its execve
 * or execveat); undefined when no helper ran (refused before).
 */
async function helperArgv(args: string[]): Promise<string[] | undefined> {
  const o = await runPiped("strace", {
    args: ["-f", "-qq", "-e", "trace=execve,execveat", "-s", "4096", "--"]
      .concat([Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`, "exec"])
      .concat(args),
  });
  const m = o.stderr.match(/execve(?:at)?\([^,]*, (?:"", )?(\["nsjoin-helper".*?\]), /);
  return m ? JSON.parse(m[1]) : undefined;
}

/** A program that ran gave the same: exit code, stdout, stderr. */
const sameRun = (a: Run, b: Run) =>
  a.code === b.code && a.stdout === b.stdout && a.stderr === b.stderr;

/**
 * The differences from docker exec README documents (docker parity): a relative -w is bad
 * usage, refused before the container is looked at (docker: runc refuses it after the user is
 * resolved, so an unknown user or group is told first); a uid or gid field of the container's
 * files that is not a number is refused (docker reads it as 0: root's group).
 */
function documented(theirs: Outcome, ours: Outcome): boolean {
  if (ours === "relative directory") return theirs !== "ran";
  return ours === "bad id" && theirs !== "no user" && theirs !== "no group";
}

/** One form through the three runners; the differences found, as lines. */
async function compare(box: Box, form: Form, label: string): Promise<string[]> {
  const target = [`docker:${box.ref}`, ...form.program];
  // The two nsjoin runs one after the other: each CLI exec reads the container's seccomp
  // filter with ptrace, one tracer at a time (README, Confinement copied).
  const [fast, docker] = await Promise.all([
    nsjoin([...form.flags, ...target], form.stdin),
    piped("docker", ["exec", ...form.flags, box.ref, ...form.program], form.stdin),
  ]);
  const full = await nsjoin(["--env-file", "/dev/null", ...form.flags, ...target], form.stdin);
  const shown = `${label} [${box.name}] exec ${JSON.stringify([...form.flags, ...target])}` +
    (form.stdin === undefined ? "" : " <data");
  const out: string[] = [];
  if (fast.code !== full.code || fast.stdout !== full.stdout || fast.stderr !== full.stderr) {
    out.push(
      `${shown}: fast and full paths differ\n  fast ${JSON.stringify(fast)}\n  full ${
        JSON.stringify(full)
      }`,
    );
  }
  const theirs = dockerOutcome(docker), ours = ourOutcome(full);
  const same = theirs === ours ? ours !== "ran" || sameRun(docker, full) : documented(theirs, ours);
  if (!same || ours === "other") {
    out.push(
      `${shown}: docker ${theirs}, nsjoin ${ours}\n  docker ${JSON.stringify(docker)}\n  nsjoin ${
        JSON.stringify(full)
      }`,
    );
  }
  return out;
}

/** `docker run -d` of one of this test's images; its facts. */
async function start(name: string, image: string, flags: string[] = []): Promise<Box> {
  const id = (await must("docker", [
    "run",
    "-d",
    "--name",
    name,
    "--hostname",
    `h-${name}`,
    ...flags,
    image,
    "tail",
    "-f",
    "/dev/null",
  ])).trim();
  const pid = Number((await must("docker", ["inspect", "-f", "{{.State.Pid}}", id])).trim());
  return { cli: "docker", engine: "docker", name, ref: name, id, pid };
}

/**
 * A container docker restarts for ever (`sh -c "exit 1"`, --restart always); `settled` once it
 * restarted five times: docker doubles the delay before each restart, so it then stays
 * "restarting" (no process) for seconds at a time.
 */
function startRestarting(name: string, image: string) {
  const box: Box = {
    cli: "docker",
    engine: "docker",
    name,
    ref: name,
    id: "",
    pid: 0,
  };
  const state = async () =>
    (await run("docker", ["inspect", "-f", "{{.State.Restarting}} {{.RestartCount}}", name]))
      .stdout.trim().split(" ");
  const settled = (async () => {
    await must("docker", [
      "run",
      "-d",
      "--name",
      name,
      "--restart",
      "always",
      image,
      "sh",
      "-c",
      "exit 1",
    ]);
    for (let i = 0; i < 200; i++) {
      const [now, count] = await state();
      if (now === "true" && Number(count) >= 5) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error("the container never settled into restarting");
  })();
  settled.catch(() => {});
  return { box, state, settled };
}

Deno.test({
  name:
    "exec docker:NAME's fast path, full path and docker exec agree on seeded random forms over edge-case users, groups, configs and states",
  ignore: SKIP,
  sanitizeResources: false,
  async fn(t) {
    const boxes: Box[] = [];
    const images: string[] = [];
    const tmp = await Deno.makeTempDir({ prefix: "nsjoin-fast22-" });
    try {
      // The image: busybox with PASSWD and GROUP; imported three times, with other configs.
      const tar = await buildRootfs(tmp);
      const root = `${tmp}/rootfs`;
      await Deno.writeTextFile(`${root}/etc/passwd`, PASSWD);
      await Deno.writeTextFile(`${root}/etc/group`, GROUP);
      await Deno.mkdir(`${root}/srv/work`, { recursive: true });
      await must("tar", ["-C", root, "-cf", tar, "."]);
      const configs: Record<string, string[]> = {
        plain: [],
        cfg: [
          "USER first.last:staff",
          "WORKDIR /srv/work",
          "ENV PATH=/usr/bin:/bin",
          "ENV HOME=/h",
          'ENV EMPTY=""',
          "ENV EQ=a=b=c",
        ],
        uid: ["USER 01002", "WORKDIR /gone", 'ENV HOME=""'],
      };
      for (const [what, changes] of Object.entries(configs)) {
        const image = `${IMG}-${what}`;
        await must("docker", ["import", ...changes.flatMap((c) => ["-c", c]), tar, image]);
        images.push(image);
      }
      const image = (what: string) => `${IMG}-${what}`;
      const restarting = startRestarting(`${TAG}-restarting`, image("plain"));
      const [rich, crlfBox, noGroup, cfg, uid, ug, unknown, named] = await Promise.all([
        start(`${TAG}-rich`, image("plain")),
        start(`${TAG}-crlf`, image("plain")),
        start(`${TAG}-nogroup`, image("plain")),
        start(`${TAG}-cfg`, image("cfg")),
        start(`${TAG}-uid`, image("uid")),
        start(`${TAG}-ug`, image("plain"), [
          "-u",
          "1000:50",
          "-w",
          "/tmp",
          "-e",
          "PATH=/bin",
          "-e",
          "HOSTNAME=custom",
        ]),
        start(`${TAG}-unknown`, image("plain"), ["-u", "x-y"]),
        start(`${TAG}-named`, image("plain"), ["-u", "a@b:g1"]),
      ]);
      boxes.push(rich, crlfBox, noGroup, cfg, uid, ug, unknown, named);
      const etc = (b: Box) => `/proc/${b.pid}/root/etc`;
      await Deno.writeTextFile(`${etc(crlfBox)}/passwd`, crlf(PASSWD));
      await Deno.writeTextFile(`${etc(crlfBox)}/group`, crlf(GROUP));
      await Deno.remove(`${etc(noGroup)}/group`);
      await Deno.remove(`/proc/${uid.pid}/root/gone`);
      await Deno.writeTextFile(
        `${etc(unknown)}/passwd`,
        PASSWD.split("\n").filter((l) => !l.startsWith("x-y:")).join("\n"),
      );

      const differences: string[] = [];
      const forms: [Box, Form, string][] = [];
      for (const seed of SEEDS) {
        const rand = prng(seed);
        for (let i = 0; i < PER_SEED; i++) {
          for (const b of boxes) forms.push([b, drawForm(rand), `seed ${seed} #${i}`]);
        }
      }

      await t.step("the forms this path takes are the fast path (strace)", async () => {
        // Each container's first form that parseFastExec takes, and one it leaves.
        const checked: string[] = [];
        for (const b of boxes) {
          const form = forms.find(([fb, f]) => {
            const parsed = parseFastExec([...f.flags, `docker:${b.ref}`, ...f.program]);
            return fb === b && parsed && /^[A-Za-z0-9_.@:-]*$/.test(parsed.user ?? "") &&
              !f.program.some((a) => /[^\x20-\x7e]/.test(a));
          });
          if (!form) continue;
          const args = [...form[1].flags, `docker:${b.ref}`, ...form[1].program];
          const argv = await helperArgv(args);
          assert(argv?.some((a) => a.startsWith(`d${b.id}:`)), `not the fast path: ${args}`);
          const full = await helperArgv(["--env-file", "/dev/null", ...args]);
          assert(!full?.some((a) => a.startsWith("d")), `the fast path: ${args}`);
          checked.push(b.name);
        }
        assertEquals(checked.length, boxes.length, `no fast form for some: ${checked}`);
      });

      for (const [b, form, label] of forms) differences.push(...await compare(b, form, label));

      // Each difference the forms found, kept with the seed that found it (with the lists as
      // they were then): fast ≠ full (a line with too few fields), or both paths ≠ docker (the
      // rest). Each also asserts what the fix gives.
      const probe = ["sh", "-c", PROBE];
      const fixed: [Box, Form, string, (r: Run) => boolean][] = [
        // seed 104 #2: fast "Cannot use gid x" (125), full "Cannot use gid NaN" (2); docker: 0.
        [
          unknown,
          { flags: ["-u", "short", "-w", "/tmp"], program: probe },
          "seed 104 #2",
          (r) => r.stdout.startsWith("uid=1009 gid=0"),
        ],
        // seed 22 #2: CRLF line ends left x-y out of every group it is the last member of.
        [
          crlfBox,
          { flags: ["-u", "x-y"], program: probe },
          "seed 22 #2",
          (r) => /^Groups:\t50 2001 2002 2004 /m.test(r.stdout),
        ],
        // seed 5 #0: -u "" ran as root; docker runs the container's User (x-y, now unknown).
        [
          unknown,
          { flags: ["-u", ""], program: ["env"] },
          "seed 5 #0",
          (r) => r.code === 125 && /Cannot find user "x-y"/.test(r.stderr),
        ],
        [
          named,
          { flags: ["--user", ""], program: ["id"] },
          "seed 5 #0 (b)",
          (r) => r.stdout.startsWith("uid=1004(a@b) gid=2001(g1)"),
        ],
        // seed 2202 #3: HOME of the uid's first entry (runc looks the uid up again).
        [
          rich,
          { flags: ["-u", "alias"], program: ["env"] },
          "seed 2202 #3",
          (r) => r.stdout.includes("HOME=/home/app\n"),
        ],
        // seeds 101 #0, 101 #1: an empty HOME (-e HOME=, the image's ENV HOME="") is replaced.
        [
          rich,
          { flags: ["-u", "zero", "-e", "HOME="], program: ["env"] },
          "seed 101 #0",
          (r) => r.stdout.includes("HOME=/home/zero\n"),
        ],
        [
          uid,
          { flags: ["-w", "/home/app"], program: ["env"] },
          "seed 101 #1",
          (r) => r.stdout.includes("HOME=/home/zero\n"),
        ],
        [
          rich,
          { flags: ["-u", "nohome"], program: ["env"] },
          "an empty home field",
          (r) => r.stdout.endsWith("HOME=\n"),
        ],
        // A uid or gid field that is not a number: refused (docker: 0) on both paths alike.
        [
          rich,
          { flags: ["-u", "junk"], program: ["id"] },
          "a junk gid field",
          (r) => r.stderr.includes("/etc/passwd of pid") && r.code === 125,
        ],
        [
          rich,
          { flags: ["-u", "junky"], program: ["id"] },
          "a junk group gid",
          (r) => r.stderr.includes("/etc/group of pid") && r.code === 125,
        ],
      ];
      await t.step(`${fixed.length} forms that found differences`, async () => {
        for (const [b, form, label, holds] of fixed) {
          differences.push(...await compare(b, form, label));
          const r = await nsjoin([...form.flags, `docker:${b.ref}`, ...form.program]);
          assert(holds(r), `${label}: ${JSON.stringify(r)}`);
        }
        // A `#` line above root's: docker reads it as an entry of uid 0 (its uid field is no
        // number) with an empty home; to us it is a comment (README). Both sides pinned.
        await Deno.writeTextFile(`${etc(noGroup)}/passwd`, `# a comment\n${PASSWD}`);
        const [theirs, ours] = await Promise.all([
          piped("docker", ["exec", noGroup.ref, "env"]),
          nsjoin([`docker:${noGroup.ref}`, "env"]),
        ]);
        assert(theirs.stdout.endsWith("HOME=\n"), theirs.stdout);
        assert(ours.stdout.endsWith("HOME=/root\n"), ours.stdout);
      });

      await t.step("bytes the two readers once took apart: NUL, a BOM, invalid UTF-8", async () => {
        // The helper's text ended at a NUL where the full path read on (app2 found by one
        // only); the full path's TextDecoder dropped a BOM (root by name found by one only) and
        // made each invalid UTF-8 sequence of a home U+FFFD, where the helper passed the bytes.
        const enc = new TextEncoder();
        const bytes = (...parts: (string | number[])[]) =>
          new Uint8Array(parts.flatMap((p) => typeof p === "string" ? [...enc.encode(p)] : p));
        const files: [string, Uint8Array, string[], RegExp][] = [
          [
            "a NUL byte",
            bytes("root:x:0:0:root:/root:/bin/sh\n", [0], "\napp2:x:1234:1234::/h:/bin/sh\n"),
            ["-u", "app2"],
            /^nsjoin exec: Cannot find user "app2"/,
          ],
          [
            "a BOM",
            bytes([0xef, 0xbb, 0xbf], "root:x:0:0:root:/root:/bin/sh\n"),
            ["-u", "root"],
            /^$/,
          ],
          [
            "invalid UTF-8 in a home",
            bytes(
              "app3:x:1235:1235::/h",
              [0xff, 0xe0, 0x80],
              "x",
              [0xf0, 0x90, 0x80],
              ":/bin/sh\n",
            ),
            ["-u", "app3"],
            /^$/,
          ],
        ];
        for (const [what, file, flags, stderr] of files) {
          await Deno.writeFile(`${etc(noGroup)}/passwd`, file);
          const args = [...flags, `docker:${noGroup.ref}`, "env"];
          const fast = await nsjoin(args);
          const full = await nsjoin(["--env-file", "/dev/null", ...args]);
          assertEquals(fast, full, what);
          assert(stderr.test(fast.stderr), `${what}: ${fast.stderr}`);
        }
      });

      await t.step(
        "paused, stopped, restarting, and a name that is another's ID prefix",
        async () => {
          const paused = await start(`${TAG}-paused`, image("plain"));
          const stopped = await start(`${TAG}-stopped`, image("plain"));
          // A name of hex digits that is a prefix of rich's ID (a letter in it: not a PID).
          const prefix = rich.id.slice(0, Math.max(6, rich.id.search(/[a-f]/) + 1));
          const prefixed = await start(prefix, image("plain"));
          boxes.push(paused, stopped, prefixed);
          await must("docker", ["pause", paused.name]);
          await must("docker", ["stop", "-t", "0", stopped.name]);
          const byId = { ...rich, ref: rich.id.slice(0, 12) };
          const argv = await helperArgv([`docker:${paused.name}`, "true"]);
          assert(argv?.some((a) => a.startsWith(`d${paused.id}:`)), "paused: not the fast path");
          const byName = await helperArgv([`docker:${prefix}`, "true"]);
          assert(
            byName?.some((a) => a.startsWith(`d${prefixed.id}:`)),
            "the name: not the fast path",
          );
          for (const b of [paused, stopped, prefixed, byId]) {
            for (
              const form of [{ flags: [], program: ["hostname"] }, {
                flags: ["-u", "app"],
                program: probe,
              }]
            ) {
              differences.push(...await compare(b, form, "state"));
            }
          }
          const host = await nsjoin([`docker:${prefix}`, "hostname"]);
          assertEquals(host.stdout, `h-${prefix}\n`, "the name wins over the ID prefix");
          assertEquals(ourOutcome(await nsjoin([`docker:${paused.name}`, "true"])), "paused");
          assertEquals(ourOutcome(await nsjoin([`docker:${stopped.name}`, "true"])), "not running");
          await restarting.settled;
          boxes.push(restarting.box);
          for (
            const form of [{ flags: [], program: ["true"] }, {
              flags: ["-u", "app", "-i"],
              program: probe,
            }]
          ) {
            differences.push(...await compare(restarting.box, form, "restarting"));
          }
          assertEquals(
            (await restarting.state())[0],
            "true",
            "still restarting: the comparison holds",
          );
          await run("docker", ["unpause", paused.name]);
        },
      );
      assertEquals(
        differences,
        [],
        `${differences.length} differences:\n${differences.join("\n")}`,
      );
    } finally {
      await run("docker", ["rm", "-f", `${TAG}-restarting`, ...boxes.map((b) => b.name)]);
      if (images.length) await run("docker", ["rmi", ...images]);
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
