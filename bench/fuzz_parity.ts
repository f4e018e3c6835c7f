/**
 * Differential fuzzer: random argv built from nsenter's and lsns's options, values and noise,
 * run through util-linux (the installed nsenter and lsns) and through `nsjoin enter` / `nsjoin
 * ls` on the same target — a process made here with `unshare` in new namespaces of every type.
 * A run agrees when nsjoin ends as util-linux did: the program's own exit code as it is, and
 * util-linux's exit 1 as 2 (a mistake in the arguments) or 125 / ls 1 (a failure), with the same
 * stdout when both succeed. Forms the README documents as different on purpose (newer options,
 * -h/-V, a second -t, no namespace, `-w` of a cwd outside the target's root) are not generated. Each disagreement is printed with its
 * argv, to be fixed or documented and then pinned in tests/parity_test.ts's table.
 * Needs root; exits 1 when any run disagreed.
 *
 *   deno run -A bench/fuzz_parity.ts [count=200] [seed=1] [enter|ls|both]
 */
const COUNT = Number(Deno.args[0] ?? 200);
let seed = Number(Deno.args[1] ?? 1) >>> 0;
const WHICH = Deno.args[2] ?? "both";
const CLI = new URL("../cli.ts", import.meta.url).pathname;

// mulberry32, as bench/fuzz_args.ts: a failure can be replayed from its seed.
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

type Run = { code: number; stdout: string; stderr: string };

async function run(cmd: string, args: string[], stdin: string): Promise<Run> {
  const child = new Deno.Command(cmd, {
    args,
    cwd: "/",
    env: { NO_COLOR: "1", SHELL: "/bin/sh" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(stdin)).catch(() => {});
  await w.close().catch(() => {});
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

// util-linux 2.38's words for a mistake in the arguments (as tests/parity_test.ts reads them).
const USAGE =
  /Try '\w+ --help'|mutually exclusive|failed to parse|only once|invalid \w+ argument|unknown (namespace|tree|column)|neither filename|no target PID/;

function expected(r: Run, tool: string): number {
  if (r.code !== 1 || !new RegExp(`^(\\S*/)?${tool}: `).test(r.stderr)) return r.code;
  return USAGE.test(r.stderr) ? 2 : tool === "nsenter" ? 125 : 1;
}

const outer = new Deno.Command("unshare", {
  args: [
    "-U",
    "-r",
    "-m",
    "-u",
    "-i",
    "-n",
    "-p",
    "-C",
    "-T",
    "--fork",
    "sh",
    "-c",
    "echo r; exec sleep 100000",
  ],
  stdin: "null",
  stdout: "piped",
}).spawn();
const reader = outer.stdout.getReader();
await reader.read();
reader.releaseLock();
let pid = "";
for (let i = 0; i < 500 && !pid; i++) {
  pid = Deno.readTextFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`).trim().split(" ")[0];
  if (!pid) await new Promise((r) => setTimeout(r, 5));
}

const NS = ["m", "u", "i", "n", "p", "C", "T", "U"];
const LONG_NS = ["mount", "uts", "ipc", "net", "pid", "cgroup", "time", "user"];
const TYPES = ["mnt", "uts", "ipc", "net", "pid", "cgroup", "time", "user"];
const NUMBERS = [pid, ` ${pid}`, `+${pid}`, `${pid}x`, "0", "-1", "", "99999999999", "1"];
const PROGRAMS = [["hostname"], ["id"], ["pwd"], ["sh", "-c", "exit 3"], ["/etc"], ["-"], []];

function enterArgv(): string[] {
  const argv: string[] = [];
  const t = pick([["-t", pick(NUMBERS)], [`-t${pid}`], [`--target=${pid}`], ["--tar", pid], []]);
  argv.push(...t);
  let namespaces = 0;
  for (let i = Math.floor(random() * 5); i > 0; i--) {
    const k = Math.floor(random() * NS.length);
    const file = `/proc/${pid}/ns/${TYPES[k]}`;
    const form = pick([
      `-${NS[k]}`,
      `--${LONG_NS[k]}`,
      `-${NS[k]}${file}`,
      `--${LONG_NS[k]}=${file}`,
    ]);
    argv.splice(Math.floor(random() * (argv.length + 1)), 0, form);
    namespaces++;
  }
  if (random() < 0.2) argv.push("-a"), namespaces++;
  for (let i = Math.floor(random() * 3); i > 0; i--) {
    argv.push(...pick([
      ["-S", pick(NUMBERS)],
      ["-G", pick(["0", " 0", "x"])],
      ["-r"],
      ["-W", pick(["/", "/etc", "tmp"])],
      ["-F"],
      ["--preserve-credentials"],
      ["--no-fork"],
      ["-x"],
      ["--bogus"],
      ["--u"],
      ["-nu"],
    ]));
  }
  // Documented on purpose (README): no namespace at all is refused where 2.38 runs in place.
  if (namespaces === 0) argv.push("-u");
  if (random() < 0.3) argv.push("--");
  argv.push(...pick(PROGRAMS));
  return argv;
}

function lsArgv(): string[] {
  // -p PID, or <namespace> (lsns NS: the processes in it): one of the target's.
  const ns = () => String(Deno.statSync(`/proc/${pid}/ns/${pick(TYPES)}`).ino);
  const argv: string[] = random() < 0.25
    ? [pick([ns(), `+${ns()}`, "4026500000", "abc"])]
    : ["-p", pick(NUMBERS.filter((n) => n !== "0"))];
  for (let i = Math.floor(random() * 4); i > 0; i--) {
    argv.push(...pick([
      ["-J"],
      ["-r"],
      ["-l"],
      ["-n"],
      ["-u"],
      ["-W"],
      ["--output-all"],
      ["-t", pick([...TYPES, "bogus", "NET"])],
      ["-o", pick(["NS,TYPE", "ns", "+PID", "NS,BOGUS", "TYPE,NPROCS,PID,COMMAND"])],
      [`--output=${pick(["NS", "TYPE,NS"])}`],
      [`-T${pick(["parent", "owner", "process"])}`],
      ["-T"],
      ["--tree=parent"],
      ["--nohead"],
      ["-x"],
    ]));
  }
  // Documented (README): an owner or parent tree with a -t that leaves user out lists no
  // owners (the newest lsns; 2.38 adds them).
  const tree = argv.some((a) => /^-T(parent|owner)?$|^--tree=/.test(a));
  if (tree && argv.includes("-t") && !argv.includes("user")) argv.push("-t", "user");
  // Host namespaces' NPROCS change while we read them: only the target's own rows are stable.
  if (!argv.includes("-o") && !argv.some((a) => a.startsWith("--output="))) {
    argv.push("-o", "NS,TYPE,PID,COMMAND");
  }
  return argv;
}

let bad = 0;
try {
  for (let i = 0; i < COUNT; i++) {
    const enter = WHICH === "enter" || (WHICH === "both" && random() < 0.5);
    const argv = enter ? enterArgv() : lsArgv();
    const tool = enter ? "nsenter" : "lsns";
    let theirs = await run(tool, argv, "hostname\n");
    // lsns 2.38 gives up, silently, when a process it reads ends meanwhile: ask again.
    for (let k = 0; k < 4 && !enter && theirs.code === 1 && !theirs.stderr; k++) {
      theirs = await run(tool, argv, "hostname\n");
    }
    const ours = await run(Deno.execPath(), [
      "run",
      "-A",
      "--quiet",
      "--no-lock",
      CLI,
      enter ? "enter" : "ls",
      ...argv,
    ], "hostname\n");
    const json = argv.includes("-J");
    const same = ours.code === expected(theirs, tool) &&
      (ours.code !== 0 ||
        (json
          ? JSON.stringify(JSON.parse(ours.stdout || "null")) ===
            JSON.stringify(JSON.parse(theirs.stdout || "null"))
          : ours.stdout === theirs.stdout));
    if (!same) {
      bad++;
      console.log(`DIFF ${tool} ${JSON.stringify(argv)}`);
      console.log(
        `  theirs ${theirs.code}: ${JSON.stringify(theirs.stdout.slice(0, 200))} ${
          JSON.stringify(theirs.stderr.slice(0, 200))
        }`,
      );
      console.log(
        `  ours   ${ours.code}: ${JSON.stringify(ours.stdout.slice(0, 200))} ${
          JSON.stringify(ours.stderr.slice(0, 200))
        }`,
      );
    }
  }
} finally {
  Deno.kill(Number(pid), "SIGKILL");
  await outer.status;
}
console.log(`${COUNT} runs, ${bad} disagreed`);
if (bad) Deno.exit(1);
