/**
 * `nsjoin enter`'s common forms — `-t PID` with `-a` or bare namespace options, then the
 * program — run before the rest of the CLI loads: cli.ts calls {@link enterFast} first, which
 * becomes the helper (ffi/exec_helper.ts) with the argv the full path (src/cli/enter.ts,
 * src/command.ts) would give it, and leaves to the helper what the full path reads first in
 * JavaScript: the target's pin, its checks (option `f`, in the CLI's words and exit codes)
 * and which namespaces differ from ours (`b`). Anything else — another option, a value
 * attached, a non-ASCII argument, an nsjoin variable in the environment, a missing
 * permission, a step that fails — returns, and the full path runs as before.
 *
 * Why: a cold `enter` spent ~5 ms above the least a Deno program must do to execve a
 * program (docs/measured.md) loading and running the CLI's shared chunks, the first /proc
 * reads and libc's symbols; this module is one small file and one per-architecture file
 * with the helper's bytes.
 *
 * @module
 */
import { execHelper, NSJOIN_VARIABLES, sameMountNamespace } from "../../ffi/exec_helper.ts";
import { assertPermissions } from "../_permissions.ts";

/** nsenter's namespace options (bare, no FILE), by letter: their CLONE_NEW* flag. */
export const FAST_NAMESPACES: Readonly<Record<string, number>> = {
  m: 0x00020000,
  u: 0x04000000,
  i: 0x08000000,
  n: 0x40000000,
  p: 0x20000000,
  C: 0x02000000,
  U: 0x10000000,
  T: 0x00000080,
};
const CLONE_NEWNS = 0x00020000;
/** `-a`: every type (the helper's `b` keeps those that differ from ours). */
const ALL = 0x7e020080;
/** The kernel's highest pid_max: a larger PID goes through the full path's checks. */
const PID_MAX_LIMIT = 4194304;
/** src/command.ts's PATH when the caller has none. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/**
 * The helper's argv (after "nsjoin-helper") for `enter`'s arguments, when they are one of
 * the forms this path takes: `-t PID` (or `-tPID`, `--target PID`, `--target=PID`), `-a`
 * (`--all`) or bare namespace options, `--` or not, then a program and its arguments. The
 * same options, in the same order, as the full path's, but `f` and a pin of the PID alone
 * (`P<pid>`).
 *
 * @param argv the arguments after `enter`
 * @param path the caller's PATH (undefined: none)
 * @param mountIsOurs for -m: whether the target's mount namespace is ours, which decides, as
 *   in src/command.ts, whether the program is looked up on our PATH (`p`) or inside;
 *   undefined when it cannot be told
 * @returns the helper's options, "--", the program and its arguments; undefined for any
 *   other form
 */
export const fastHelperArgs = (function fastHelperArgs(
  argv: readonly string[],
  path: string | undefined,
  mountIsOurs: (pid: number) => boolean | undefined,
): string[] | undefined {
  let pid: string | undefined;
  let all = false;
  let mask = 0;
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-")) break;
    let value: string | undefined;
    if (a === "-t" || a === "--target") value = argv[++i];
    else if (a.startsWith("--target=")) value = a.slice(9);
    else if (a.startsWith("-t")) value = a.slice(2);
    if (value !== undefined || a === "-t" || a === "--target") {
      if (pid !== undefined || !/^[1-9][0-9]{0,6}$/.test(value ?? "")) return undefined;
      if (Number(value) > PID_MAX_LIMIT) return undefined;
      pid = value;
    } else if (a === "-a" || a === "--all") all = true;
    else if (a.length === 2 && Object.hasOwn(FAST_NAMESPACES, a[1])) mask |= FAST_NAMESPACES[a[1]];
    else return undefined;
  }
  const [program, ...rest] = argv.slice(i);
  if (pid === undefined || all === (mask !== 0) || !program) return undefined;
  const out = ["f", `P${pid}`, `J${(all ? ALL : mask).toString(16)}`];
  if (all) out.push("b");
  out.push("n", "hnsjoin enter", "I");
  // As src/command.ts: -m reads the links whatever the program (a link it cannot read is
  // its error to give), and the program is looked up inside only when they differ.
  const ours = mask & CLONE_NEWNS ? mountIsOurs(Number(pid)) : true;
  if (ours === undefined) return undefined;
  if (ours && !program.includes("/")) out.push(`p${path ?? DEFAULT_PATH}`);
  out.push("--", program, ...rest);
  return out;
}).bind(undefined);

/**
 * Runs `nsjoin enter` when `argv` is one of the forms {@link fastHelperArgs} takes: this
 * process becomes the helper, which becomes the program (or prints one line and exits with
 * the full path's code). Never prompts: without --allow-ffi or --allow-env it returns, and
 * the full path names the missing flag.
 *
 * @param argv the arguments after `enter`
 * @returns only when it did not run: the caller runs the full path
 */
export const enterFast = (async function enterFast(argv: readonly string[]): Promise<void> {
  // Deno shows an argument that is not UTF-8 with U+FFFD: the full path refuses it.
  if (argv.some((a) => a.includes("\uFFFD"))) return;
  // Deno prompts for a permission it lacks only when stdin and stderr are both terminals:
  // then ask first (querySync never prompts, but its first call costs ~0.3 ms); otherwise a
  // missing --allow-env throws below, and a missing --allow-ffi in execHelper's dlopen.
  const granted = (name: "ffi" | "env") => Deno.permissions.querySync({ name }).state === "granted";
  if (Deno.stdin.isTerminal() && Deno.stderr.isTerminal() && !(granted("ffi") && granted("env"))) {
    return;
  }
  let args;
  try {
    if (NSJOIN_VARIABLES.some((name) => Deno.env.get(name) !== undefined)) return;
    args = fastHelperArgs(argv, Deno.env.get("PATH"), sameMountNamespace);
  } catch {
    return;
  }
  if (!args) return;
  // Only this machine's helper is read and compiled; the import also gives Deno the event
  // loop turn in which it writes its code cache of cli.ts, the fast paths' module and this
  // one (an execve without a turn would leave every start compiling them again: their first
  // line ~1.5 ms later, docs/measured.md "end of stop 23"; a resolved promise or an async permission
  // query is no turn, a timer or a MessageChannel one that waits milliseconds).
  const arch = Deno.build.arch;
  const elf = arch === "x86_64"
    ? (await import("./_bundle/cli/_helper_x86_64.js")).HELPER
    : arch === "aarch64"
    ? (await import("./_bundle/cli/_helper_aarch64.js")).HELPER
    : undefined;
  if (elf) execHelper(elf, ["nsjoin-helper", "Q", ...args]);
}).bind(undefined);

/**
 * Whether every Deno permission is granted, asked without prompting: `exec`'s fast path
 * (src/cli/_exec_fast.ts) runs only then — the full path, which needs them all, otherwise
 * names the missing flag before anything could prompt for a read.
 *
 * @returns true when all are granted
 */
export const allGranted = (function allGranted(): boolean {
  try {
    assertPermissions("run nsjoin exec", "all");
    return true;
  } catch {
    return false;
  }
}).bind(undefined);
