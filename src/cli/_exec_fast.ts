/**
 * `nsjoin exec docker:NAME PROGRAM [ARG…]` — with -u, -e KEY=VALUE, -w and -i — run before
 * the rest of the CLI loads: cli.ts calls {@link execFast} first, which finds the container
 * in dockerd's state files (src/_docker_state.ts, the full path's own rule), builds its
 * environment (src/_exec_env.ts, the same) and becomes the helper (ffi/exec_helper.ts) with
 * the argv the full path (src/cli/exec.ts, src/container_exec.ts, src/command.ts) gives it —
 * but for what the full path reads in JavaScript after pinning the container: whether the
 * pinned process is the container's (a root-made cgroup named for its ID), the cgroups to
 * join, the freezer and the user, which the helper checks itself (options d and r,
 * ffi/helper.c), in the full path's words and exit codes.
 *
 * Anything else returns, and the full path runs as before: another option or form, a bare
 * name (its lookup order spans every engine), a value that is not plain ASCII, a state the
 * files do not answer unambiguously, a container with --group-add, a caller that is not
 * root or lacks a permission, an nsjoin variable in the environment, stdio the full path
 * would relay (a terminal, a socket, a file: see src/cli/exec.ts).
 *
 * Why: the full path's checks and the code that holds them cost a cold `exec` ~7-11 ms CPU
 * above the least Deno needs (docs/measured.md, "Stop 21, the floor of `exec docker:NAME`").
 *
 * @module
 */
import {
  execHelper,
  fdModes,
  NSJOIN_VARIABLES,
  sameMountNamespace,
} from "../../ffi/exec_helper.ts";
import { _dockerStateFind, DOCKER_NAME } from "../_docker_state.ts";
import { dockerExecEnv, envRecord, setEnv } from "../_exec_env.ts";
import { assertPermissions } from "../_permissions.ts";

/** What the fast path takes of `exec`'s arguments. */
export interface FastExecArgs {
  /** docker:REF's REF. */
  ref: string;
  /** -u */
  user?: string;
  /** -w */
  workdir?: string;
  /** -e, KEY=VALUE each */
  env: string[];
  /** -i */
  interactive: boolean;
  /** The program and its arguments. */
  command: string[];
}

/** A -u the helper's r takes and words as the full path does: plain characters, ids < 10⁹. */
const USER = /^[A-Za-z0-9_.@-]*(:[A-Za-z0-9_.@-]*)?$/;

/**
 * `exec`'s arguments, when they are a form this path takes: -u, -e KEY=VALUE, -w /ABS and -i
 * (short or long, value apart or after `=` for long ones), then docker:REF, an optional
 * `--`, the program and its arguments.
 *
 * @param argv the arguments after `exec`
 * @returns the parsed arguments, or undefined for any other form
 */
export const parseFastExec = (function parseFastExec(
  argv: readonly string[],
): FastExecArgs | undefined {
  const out: FastExecArgs = { ref: "", env: [], interactive: false, command: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith("-")) break;
    if (a === "-i" || a === "--interactive") {
      out.interactive = true;
      continue;
    }
    const eq = a.startsWith("--") ? a.indexOf("=") : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    // A value that looks like an option: the full path's parser decides what it is.
    if (value === undefined || value.startsWith("-")) return undefined;
    if (name === "-u" || name === "--user") {
      if (out.user !== undefined) return undefined;
      out.user = value;
    } else if (name === "-e" || name === "--env") {
      if (value.indexOf("=") <= 0) return undefined;
      out.env.push(value);
    } else if (name === "-w" || name === "--workdir") {
      if (out.workdir !== undefined || !value.startsWith("/")) return undefined;
      out.workdir = value;
    } else {
      return undefined;
    }
  }
  const target = argv[i];
  if (!target?.startsWith("docker:")) return undefined;
  out.ref = target.slice("docker:".length);
  if (!DOCKER_NAME.test(out.ref)) return undefined;
  out.command = argv[i + 1] === "--" ? argv.slice(i + 2) : argv.slice(i + 1);
  // An empty program name is the full path's usage error.
  return out.command[0] ? out : undefined;
}).bind(undefined);

const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
const S_IFCHR = 0o020000;

/**
 * Whether the full path would hand these fds of ours to the program as they are (it relays
 * a terminal, a socket and a file: src/cli/exec.ts, src/cli/_run.ts): each a pipe, or a
 * character device that is not a terminal (/dev/null). A closed fd: false (the full path
 * decides).
 */
function _plainStdio(fds: readonly number[]): boolean {
  const files = [Deno.stdin, Deno.stdout, Deno.stderr];
  if (fds.some((fd) => files[fd].isTerminal())) return false;
  return fdModes(fds).every((mode) =>
    mode !== undefined && ((mode & S_IFMT) === S_IFIFO || (mode & S_IFMT) === S_IFCHR)
  );
}

/**
 * Runs `nsjoin exec` when `argv` is one of the forms {@link parseFastExec} takes and dockerd's
 * state files answer: this process becomes the helper, which checks the container and
 * becomes the program (or prints one line and exits with the full path's code). Never
 * prompts: a permission not granted returns, and the full path names it.
 *
 * @param argv the arguments after `exec`
 * @param granted the caller knows every permission to be granted (cli.ts asked with
 *   `allGranted`): not asked again (~0.1 ms)
 * @returns only when it did not run: the caller runs the full path
 */
export const execFast = (async function execFast(
  argv: readonly string[],
  granted = false,
): Promise<void> {
  if (argv.some((a) => a.includes("\uFFFD"))) return;
  const args = parseFastExec(argv);
  if (!args) return;
  let helperArgs: string[];
  let env: string[];
  try {
    // The full path needs every permission (it reads /proc): without one it says so.
    if (!granted) assertPermissions("run nsjoin exec", "all");
    if (Deno.uid() !== 0) return;
    // NSJOIN_NO_PIDFD_SETNS=1 asks the helper for one fd per namespace (option A), as the
    // full path does (src/command.ts): taken, so that tests/degraded_test.ts runs this path's
    // checks on that join too. Any other of those variables: the full path.
    const perFd = Deno.env.get("NSJOIN_NO_PIDFD_SETNS");
    if (perFd !== undefined && perFd !== "1") return;
    const others = NSJOIN_VARIABLES.filter((name) => name !== "NSJOIN_NO_PIDFD_SETNS");
    if (others.some((name) => Deno.env.get(name) !== undefined)) return;
    if (!_plainStdio(args.interactive ? [0, 1, 2] : [1, 2])) return;
    const found = _dockerStateFind(args.ref, {});
    const config = found?.config;
    if (!found || !config || config.groupAdd?.length || !(found.pid > 0)) return;
    // Its mount namespace ours (nsjoin run inside it): the full path's host-side rules.
    if (sameMountNamespace(found.pid) !== false) return;
    // -u "" is the container's User, as docker exec (and the full path) take it.
    const user = args.user || config.user || "";
    // The image's User too: words the helper prints as the full path's JSON.stringify would.
    if (!USER.test(user) || user.split(":").some((p) => /^[0-9]{10,}$/.test(p))) return;
    const list = dockerExecEnv(config, false);
    for (const e of args.env) setEnv(list, e);
    env = Object.entries(envRecord(list)).map(([k, v]) => `${k}=${v}`);
    const [program, ...rest] = args.command;
    const path = Deno.env.get("PATH") ??
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    helperArgs = [
      `P${found.pid}`,
      "J7e020080",
      "b",
      ...(perFd === "1" ? ["A"] : []),
      `W${args.workdir ?? (config.workingDir || "/")}`,
      `d${found.id}:${found.name || found.id.slice(0, 12)}`,
      `r${user}`,
      "t",
      "hnsjoin exec",
      "iBEVzlom",
      "I",
      `p${path}`,
      "--",
      program,
      ...rest,
    ];
  } catch {
    return;
  }
  // Only this machine's helper is read and compiled (see src/cli/_enter_fast.ts).
  const arch = Deno.build.arch;
  const elf = arch === "x86_64"
    ? (await import("./_bundle/cli/_helper_x86_64.js")).HELPER
    : arch === "aarch64"
    ? (await import("./_bundle/cli/_helper_aarch64.js")).HELPER
    : undefined;
  if (elf) {
    execHelper(elf, ["nsjoin-helper", "Q", ...helperArgs], { env, nullStdin: !args.interactive });
  }
}).bind(undefined);
