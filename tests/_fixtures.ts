/**
 * Test fixtures: real namespaces made with unshare(1), killed (SIGKILL, by PID) after.
 * Every test that makes namespaces goes through here.
 */
export {
  deepEqual as assertEquals,
  equal as assertStrictEquals,
  match as assertMatch,
  notEqual as assertNotEquals,
  ok as assert,
} from "@nsjoin/assert";
import { AssertionError, rejects, throws } from "@nsjoin/assert";

// deno-lint-ignore no-explicit-any -- any constructor of an Error, whatever its parameters
type ErrorClass = abstract new (...args: any[]) => Error;
/**
 * node:assert's other ways to say which error: a RegExp on `String(error)`, a validation
 * function returning true, an object of properties.
 */
type NodeExpected = RegExp | ((error: unknown) => boolean) | object;

const isErrorClass = (x: unknown): x is ErrorClass =>
  typeof x === "function" && (x === Error || x.prototype instanceof Error);

/** The error as a failure message shows it: its class and message. */
const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Std's error checks, for its signature `(fn, ErrorClass?, msgIncludes?)`: node's third
 * argument is only the text shown on failure, so with node's `throws` an expected message
 * would never be checked and any error of the class would pass.
 */
function checkError(error: unknown, ErrorClass?: ErrorClass, msgIncludes?: string): void {
  const actual = describeError(error);
  if (ErrorClass && !(error instanceof ErrorClass)) {
    throw new AssertionError({
      message: `Expected error to be an instance of ${ErrorClass.name}, but got ${actual}`,
      actual: error,
      expected: ErrorClass,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  if (msgIncludes !== undefined && !message.includes(msgIncludes)) {
    throw new AssertionError({
      message: `Expected error message to include ${
        JSON.stringify(msgIncludes)
      }, but got ${actual}`,
      actual: message,
      expected: msgIncludes,
    });
  }
}

/** A failure message, with the caller's text after it when given. */
const failure = (message: string, msg?: string): string => msg ? `${message}: ${msg}` : message;

/** Whether `expected` is one of node's forms, which node's own `throws`/`rejects` check. */
const isNodeForm = (expected: unknown): expected is NodeExpected =>
  expected !== undefined && typeof expected !== "string" && !isErrorClass(expected);

/**
 * Asserts that `fn` throws, as std's `assertThrows`: an instance of `ErrorClass` if given,
 * whose message includes `msgIncludes` if given; a string alone is the text shown on
 * failure. node's other forms (a RegExp, a validation function or object) go to node's
 * `throws`.
 */
export function assertThrows(fn: () => unknown, msg?: string): void;
export function assertThrows(fn: () => unknown, ErrorClass: ErrorClass, msgIncludes?: string): void;
export function assertThrows(fn: () => unknown, expected: NodeExpected, msg?: string): void;
export function assertThrows(
  fn: () => unknown,
  expected?: ErrorClass | NodeExpected | string,
  text?: string,
): void {
  if (isNodeForm(expected)) return throws(fn, expected, text);
  const [ErrorClass, msgIncludes, msg] = typeof expected === "string"
    ? [undefined, undefined, expected]
    : [expected, text, undefined];
  try {
    fn();
  } catch (error) {
    return checkError(error, ErrorClass, msgIncludes);
  }
  throw new AssertionError({ message: failure("Expected the function to throw", msg) });
}

/**
 * Asserts that the promise `fn` returns rejects, as std's `assertRejects`: with an instance
 * of `ErrorClass` if given, whose message includes `msgIncludes` if given; a string alone
 * is the text shown on failure. A synchronous throw fails, as in std: the caller of an
 * async API would not expect it. node's other forms go to node's `rejects`.
 */
export function assertRejects(fn: () => PromiseLike<unknown>, msg?: string): Promise<void>;
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  ErrorClass: ErrorClass,
  msgIncludes?: string,
): Promise<void>;
export function assertRejects(
  fn: () => PromiseLike<unknown>,
  expected: NodeExpected,
  msg?: string,
): Promise<void>;
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  expected?: ErrorClass | NodeExpected | string,
  text?: string,
): Promise<void> {
  if (isNodeForm(expected)) return rejects(fn, expected, text);
  const [ErrorClass, msgIncludes, msg] = typeof expected === "string"
    ? [undefined, undefined, expected]
    : [expected, text, undefined];
  let promise: PromiseLike<unknown>;
  try {
    promise = fn();
  } catch (error) {
    throw new AssertionError({
      message: failure(
        `Expected the function to reject, but it threw ${describeError(error)}`,
        msg,
      ),
    });
  }
  try {
    await promise;
  } catch (error) {
    return checkError(error, ErrorClass, msgIncludes);
  }
  throw new AssertionError({ message: failure("Expected the promise to reject", msg) });
}

/** Whether we run in CI, where no test that needs root or an engine may skip. */
export const CI = Deno.env.get("CI") === "true";

/** Whether the process is root. */
export const IS_ROOT = Deno.uid() === 0;

/**
 * `ignore` for a Deno.test that needs root: false as root; in CI a non-root run is a
 * failure, not a skip (the test runs and fails on its first assertion).
 */
export const NEEDS_ROOT: boolean = !IS_ROOT && !CI;
if (NEEDS_ROOT) console.error("note: tests that need root are skipped: run as root (CI runs them)");

/** The repository root. */
export const ROOT: string = new URL("..", import.meta.url).pathname;

const decoder = new TextDecoder();
/** Bytes → text. */
export const text = (b: Uint8Array): string => decoder.decode(b);

/** A process in namespaces of its own, made with unshare; `kill()` ends it (SIGKILL). */
export interface TestTarget extends AsyncDisposable {
  /** PID (host view) of the process inside the new namespaces. */
  pid: number;
  /** The unshare process. */
  outer: Deno.ChildProcess;
  /** Kills the namespace's init with SIGKILL and waits for unshare. */
  kill(): Promise<void>;
}

/** What {@link makeTarget} creates. */
export interface TargetSpec {
  /** unshare flags, default all but user and time: -m -u -i -n -p -C --fork --mount-proc. */
  flags?: string[];
  /** hostname to set inside (needs -u). */
  hostname?: string;
  /** Shell run inside before `exec sleep`, after the hostname is set. */
  setup?: string;
  /** Run unshare as this user (via setpriv), for targets owned by a non-root user. */
  user?: { uid: number; gid: number };
}

/** Flags for a target in every namespace type but user and time. */
export const ALL_BUT_USER = ["-m", "-u", "-i", "-n", "-p", "-C", "--fork", "--mount-proc"];

/**
 * Makes a process in new namespaces and waits until it is ready.
 *
 * @example
 * await using t = await makeTarget({ hostname: "inner" });
 */
export async function makeTarget(spec: TargetSpec = {}): Promise<TestTarget> {
  const flags = spec.flags ?? ALL_BUT_USER;
  const script = [
    spec.hostname ? `hostname ${spec.hostname}` : "",
    spec.setup ?? "",
    "echo ready:$$",
    "exec sleep 100000",
  ].filter(Boolean).join("; ");
  let cmd = "unshare";
  let args = [...flags, "sh", "-c", script];
  if (spec.user) {
    cmd = "setpriv";
    args = [
      `--reuid=${spec.user.uid}`,
      `--regid=${spec.user.gid}`,
      "--clear-groups",
      "unshare",
      ...args,
    ];
  }
  const outer = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "piped" })
    .spawn();
  const reader = outer.stdout.getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = text((await outer.output().catch(() => ({ stderr: new Uint8Array() }))).stderr);
      throw new Error(`unshare ${flags.join(" ")} failed: ${err}`);
    }
    buf += text(value);
  }
  reader.releaseLock();
  outer.stdout.cancel().catch(() => {});
  outer.stderr.cancel().catch(() => {});
  // The host PID of the namespaced shell: unshare's child when it forks, else unshare.
  const forked = flags.includes("--fork") || flags.includes("-f");
  let pid = outer.pid;
  if (forked) {
    const children = Deno.readTextFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`).trim();
    pid = Number(children.split(/\s+/)[0]);
  }
  // "ready" is echoed by the shell before it execs sleep: until then /proc/PID/environ (and
  // cmdline, exe) are the shell's first ones, without what setup exported. Wait for the exec.
  for (let i = 0; i < 2000; i++) {
    try {
      if (Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith("sleep\0")) break;
    } catch {
      break; // gone: the caller's first use says so
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const kill = async () => {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Already gone.
    }
    // SIGKILL is delivered asynchronously: until the process is a zombie it can still be
    // joined. Wait for that (unshare --fork then reaps it and exits).
    for (let i = 0; i < 500 && _alive(pid); i++) await new Promise((r) => setTimeout(r, 2));
    if (forked) {
      const timer = setTimeout(() => {
        try {
          outer.kill("SIGKILL");
        } catch {
          // Already gone.
        }
      }, 2000);
      await outer.status;
      clearTimeout(timer);
    } else {
      await outer.status;
    }
  };
  return { pid, outer, kill, [Symbol.asyncDispose]: kill };
}

/** Whether a process is alive (not gone, not a zombie). */
function _alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Runs a command on the host and returns its stdout (throws on failure). */
export async function sh(cmd: string, args: string[] = [], stdin?: string): Promise<string> {
  const out = await runPiped(cmd, { args }, stdin);
  if (out.code !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (${out.code}): ${out.stderr}`);
  }
  return out.stdout;
}

let _userDeno: string | undefined;

/**
 * A copy of this Deno that any user may run, and a DENO_DIR any user may write: the
 * one under /root is not reachable for a test user.
 */
export function userDeno(): { deno: string; denoDir: string } {
  const dir = "/tmp/nsjoin-test-deno";
  if (!_userDeno) {
    Deno.mkdirSync(`${dir}/cache`, { recursive: true });
    Deno.chmodSync(dir, 0o755);
    Deno.chmodSync(`${dir}/cache`, 0o1777);
    const target = `${dir}/deno`;
    const size = (p: string) => {
      try {
        return Deno.statSync(p).size;
      } catch {
        return -1;
      }
    };
    if (size(target) !== size(Deno.execPath())) {
      const tmp = `${target}.${crypto.randomUUID()}`;
      Deno.copyFileSync(Deno.execPath(), tmp);
      Deno.chmodSync(tmp, 0o755);
      Deno.renameSync(tmp, target);
    }
    _userDeno = target;
  }
  return { deno: _userDeno, denoDir: `${dir}/cache` };
}

/**
 * Runs the CLI in a new Deno process, in "/" with the caller's environment (as another
 * user with `uid`): code, stdout, stderr.
 */
export async function cli(
  args: string[],
  opts: { env?: Record<string, string>; uid?: number; gid?: number; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const asUser = opts.uid !== undefined;
  const deno = asUser ? userDeno().deno : Deno.execPath();
  const base = [deno, "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`, ...args];
  const [cmd, ...rest] = !asUser ? base : [
    "setpriv",
    `--reuid=${opts.uid}`,
    `--regid=${opts.gid ?? opts.uid}`,
    "--clear-groups",
    ...base,
  ];
  return await runPiped(cmd, {
    args: rest,
    cwd: "/",
    env: { NO_COLOR: "1", ...(asUser ? { DENO_DIR: userDeno().denoDir } : {}), ...opts.env },
  }, opts.stdin);
}

/**
 * How long one command of a test may run before it is killed (SIGKILL) and the test fails
 * naming it: a daemon that stopped answering (dockerd whose process was frozen) once held a
 * `docker exec` — and so the whole suite — until CI's 90 minutes ran out (stop 22).
 */
export const COMMAND_DEADLINE_MS = 300_000;

/**
 * Runs a command with stdout and stderr piped and optional text on stdin: code, stdout,
 * stderr. A program that exits without reading its stdin is no error (the write's EPIPE is
 * dropped). One that outlives `deadlineMs` is killed and throws, naming the command.
 */
export async function runPiped(
  cmd: string,
  options: Omit<Deno.CommandOptions, "stdin" | "stdout" | "stderr">,
  stdin?: string,
  deadlineMs = COMMAND_DEADLINE_MS,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = new Deno.Command(cmd, {
    ...options,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Killed at the deadline; given up on 5 s later (a grandchild may hold the pipes open).
  let late = false, giveUp: (error: Error) => void = () => {};
  let last: ReturnType<typeof setTimeout> | undefined;
  const abandoned = new Promise<never>((_, reject) => giveUp = reject);
  const timer = setTimeout(() => {
    late = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Gone meanwhile.
    }
    last = setTimeout(() => giveUp(overdue("")), 5_000);
  }, deadlineMs);
  const overdue = (stderr: string) =>
    new Error(
      `${cmd} ${(options.args ?? []).join(" ")} did not finish within ${deadlineMs / 1000} s: ` +
        `killed${stderr ? ` (its stderr: ${JSON.stringify(stderr.slice(-500))})` : ""}`,
    );
  try {
    if (stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin)).catch(() => {});
      await w.close().catch(() => {});
    }
    const out = await Promise.race([child.output(), abandoned]);
    if (late) throw overdue(text(out.stderr));
    return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
  } finally {
    clearTimeout(timer);
    clearTimeout(last);
  }
}

/** A non-root test user (created once, with subuid/subgid ranges), for unprivileged cases. */
export async function testUser(
  name = "nsjoin-test",
): Promise<{ name: string; uid: number; gid: number }> {
  const lookup = async () => {
    const line = (await Deno.readTextFile("/etc/passwd")).split("\n").find((l) =>
      l.startsWith(`${name}:`)
    );
    return line ? line.split(":") : undefined;
  };
  let entry = await lookup();
  if (!entry) {
    await new Deno.Command("useradd", {
      args: ["--create-home", "--shell", "/bin/sh", name],
      stdout: "null",
      stderr: "null",
    })
      .output();
    entry = await lookup();
    if (!entry) throw new Error(`Cannot create test user ${name}`);
  }
  return { name, uid: Number(entry[2]), gid: Number(entry[3]) };
}
