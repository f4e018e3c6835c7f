/**
 * Fuzzes the CLI's argument parsers (enter: parseEnterArgs + enterOptions; exec:
 * parseExecArgs) with random argv built from their own flags, odd values and noise. Every
 * outcome must be a parse, or an error that report() turns into one line and exit 2 or
 * 125 — never a crash, an uncaught exception, a JavaScript engine error leaking out
 * ("… is not a function", "Cannot read properties of …"), or a multi-line message.
 * Nothing is spawned. Exits 1 on the first bad outcome, printing the argv to reproduce it.
 *
 *   deno run -A bench/fuzz_args.ts [count=100000] [seed=1]
 */
import { enterOptions, parseEnterArgs } from "../src/cli/enter.ts";
import { parseExecArgs } from "../src/cli/exec.ts";
import { report } from "../src/cli/_run.ts";

const COUNT = Number(Deno.args[0] ?? 100_000);
let seed = Number(Deno.args[1] ?? 1) >>> 0;

// mulberry32: a small seeded PRNG, so a failure can be replayed.
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

const ENTER_FLAGS = [
  "-a",
  "-t",
  "-m",
  "-u",
  "-i",
  "-n",
  "-p",
  "-C",
  "-U",
  "-T",
  "-S",
  "-G",
  "-r",
  "-w",
  "-W",
  "-e",
  "-F",
  "-h",
  "--all",
  "--target",
  "--mount",
  "--uts",
  "--ipc",
  "--net",
  "--pid",
  "--cgroup",
  "--user",
  "--time",
  "--setuid",
  "--setgid",
  "--root",
  "--wd",
  "--wdns",
  "--env",
  "--no-fork",
  "--help",
  "--preserve-credentials",
  "--",
  "-",
  "-mu",
  "-nF",
  "-tn",
  "-aS",
  "-Zq",
  "--bogus",
];
const EXEC_FLAGS = [
  "-i",
  "-t",
  "-d",
  "-u",
  "-w",
  "-e",
  "-n",
  "-h",
  "-it",
  "-itd",
  "--interactive",
  "--tty",
  "--detach",
  "--user",
  "--workdir",
  "--env",
  "--env-file",
  "--privileged",
  "--namespaces",
  "--help",
  "--",
  "--bogus",
];
const VALUES = [
  "",
  "0",
  "1",
  "-1",
  "42",
  "4194304",
  "99999999999999999999",
  "1e3",
  "0x10",
  "1.5",
  "+5",
  " 12",
  "12:34",
  "12:abc",
  ":",
  "follow",
  "root",
  "0:0",
  "nobody:nogroup",
  "/",
  "/tmp",
  "/proc/self/ns/net",
  "/proc/1/ns/user",
  "/nonexistent",
  "relative/path",
  ".",
  "..",
  "netns:",
  "netns:x",
  "docker:",
  "podman:web",
  "containerd:abc",
  "KEY=VALUE",
  "=x",
  "KEY",
  "net,uts",
  "bogus",
  "mnt,",
  "é",
  "\u{1F600}",
  "a\0b",
  "\ufffd",
  "-",
  "--",
  "x".repeat(10_000),
];

function argv(flags: readonly string[]): string[] {
  const n = Math.floor(random() * 8);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.45) out.push(pick(flags));
    else if (r < 0.55) out.push(`${pick(flags.filter((f) => f.startsWith("--")))}=${pick(VALUES)}`);
    else if (r < 0.65) {
      out.push(`${pick(flags.filter((f) => /^-[a-zA-Z]$/.test(f)))}${pick(VALUES)}`);
    } else if (r < 0.95) out.push(pick(VALUES));
    else {
      // Noise: random code units, lone surrogates included.
      out.push(
        String.fromCharCode(
          ...Array.from(
            { length: 1 + Math.floor(random() * 6) },
            () => Math.floor(random() * 0xffff),
          ),
        ),
      );
    }
  }
  return out;
}

const ENGINE_ERROR =
  /is not a function|Cannot read propert|undefined is not|is not iterable|Maximum call stack/;

const outcomes: Record<string, number> = {};
const t0 = performance.now();
const errorLines: string[] = [];
const originalError = console.error;
for (let i = 0; i < COUNT; i++) {
  const which = random() < 0.6 ? "enter" : "exec";
  const args = argv(which === "enter" ? ENTER_FLAGS : EXEC_FLAGS);
  errorLines.length = 0;
  console.error = (...a: unknown[]) => errorLines.push(a.join(" "));
  let outcome: string;
  try {
    if (which === "enter") enterOptions(parseEnterArgs(args));
    else parseExecArgs(args);
    outcome = `${which}: parsed`;
  } catch (error) {
    const code = report(error, which);
    const message = errorLines.join("\n");
    const bad = (code !== 2 && code !== 125) || errorLines.length !== 1 ||
      message.includes("\n") || ENGINE_ERROR.test(message);
    if (bad) {
      console.error = originalError;
      console.error(`bad outcome (code ${code}) for ${which} ${JSON.stringify(args)}:`);
      console.error(message);
      console.error((error as Error)?.stack);
      Deno.exit(1);
    }
    outcome = `${which}: ${(error as Error).name} → ${code}`;
  } finally {
    console.error = originalError;
  }
  outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
}
const seconds = (performance.now() - t0) / 1000;
console.log(`${COUNT} random argv in ${seconds.toFixed(1)} s, no crash, no uncaught exception:`);
for (const [k, v] of Object.entries(outcomes).sort()) console.log(`  ${k}: ${v}`);
