import { NamespaceError } from "../errors.ts";
import { fstatSafe } from "../../ffi/files.ts";
import { escapeTerminal } from "../terminal.ts";

// For cli.ts, which checks a command's permissions before it loads: everything it needs at
// start from one entry of the CLI bundle (each more file is read and evaluated on every start).
export { assertPermissions } from "../_permissions.ts";

/** A mistake in how the CLI was called: exit 2, one line, a pointer to --help. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Exit codes of the CLI, as docker and nsenter use them. */
export const EXIT = {
  /** Bad flags or arguments. */
  usage: 2,
  /** The target could not be found or joined; nothing was run. */
  join: 125,
  /** The program exists but could not be executed. */
  notExecutable: 126,
  /** The program was not found in the target. */
  notFound: 127,
} as const;

// Linux signal numbers (x86_64 and aarch64 agree on these); not read from node:os, whose
// import alone costs ~7 ms of cold start.
const SIGNALS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** The exit code for a program's status: its code, or 128+N when killed by signal N. */
export function exitCodeOf(status: Deno.CommandStatus): number {
  if (status.signal) {
    const n = SIGNALS[status.signal];
    return 128 + (n ?? 0);
  }
  return status.code;
}

/**
 * Runs a child to its end while relaying the signals a terminal or a supervisor sends
 * us (INT, TERM, HUP, QUIT, USR1, USR2, WINCH) to it, and returns its exit code.
 */
export async function relay(child: Deno.ChildProcess): Promise<number> {
  const signals: Deno.Signal[] = [
    "SIGINT",
    "SIGTERM",
    "SIGHUP",
    "SIGQUIT",
    "SIGUSR1",
    "SIGUSR2",
    "SIGWINCH",
  ];
  const listeners = signals.map((sig) => {
    const fn = () => {
      try {
        child.kill(sig);
      } catch {
        // Already gone: its status is on its way.
      }
    };
    Deno.addSignalListener(sig, fn);
    return [sig, fn] as const;
  });
  try {
    return exitCodeOf(await child.status);
  } finally {
    for (const [sig, fn] of listeners) Deno.removeSignalListener(sig, fn);
  }
}

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;

/**
 * Whether any of these fds of ours is a unix (or any) socket. A program in a container's
 * pid namespace that holds such a socket hands it to a CAP_SYS_PTRACE task there
 * (pidfd_getfd), whose SO_PEERPIDFD names the host process at the other end (journald, the
 * service's parent) and gives every fd of that process: `exec` relays instead.
 *
 * @param fds our fds to look at (0, 1, 2)
 * @returns true when one is a socket
 */
export function socketOnStdio(fds: readonly number[]): boolean {
  return fds.some((fd) => {
    try {
      return (fstatSafe(fd).mode & S_IFMT) === S_IFSOCK;
    } catch {
      return false; // Closed: nothing to hand over.
    }
  });
}

const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;

/**
 * Whether any of these fds of ours is a file (a regular file, a block device, a directory).
 * A task that can ptrace the program (a user namespace's owner, a CAP_SYS_PTRACE task of its
 * pid namespace) takes it with pidfd_getfd and keeps it after the program ends: writes into
 * the caller's file at any offset once it was checked, and a reopen of /proc/self/fd/N
 * reaches the inode past directories it may not search (a log under root's 0700 /root).
 * `exec` relays instead, as for a socket.
 *
 * @param fds our fds to look at (0, 1, 2)
 * @returns true when one is such a file
 */
export function fileOnStdio(fds: readonly number[]): boolean {
  return fds.some((fd) => {
    try {
      const type = fstatSafe(fd).mode & S_IFMT;
      return type === S_IFREG || type === S_IFBLK || type === S_IFDIR;
    } catch {
      return false; // Closed: nothing to hand over.
    }
  });
}

/**
 * Whether any of these fds of ours is a terminal. A program holding it reads what the
 * caller types, after we exit too, and (in our session, or with CAP_SYS_ADMIN) types into
 * it with TIOCSTI: `exec` and `debug` relay instead, as docker exec does without `-t`.
 *
 * @param fds our fds to look at (0, 1, 2)
 * @returns true when one is a terminal
 */
export function terminalOnStdio(fds: readonly number[]): boolean {
  const files = [Deno.stdin, Deno.stdout, Deno.stderr];
  return fds.some((fd) => files[fd]?.isTerminal() ?? false);
}

/**
 * Runs a child spawned with piped stdio to its end as docker exec's shim does: our stdin to
 * its stdin (closed at our EOF), its stdout and stderr to our fds 1 and 2 in order, signals
 * relayed as {@link relay} does; so the program never holds our stdio.
 *
 * @param child spawned with stdout and stderr "piped", stdin "piped" or "null"
 * @returns the exit code, once its output is written (or at most 2 s after it exited)
 */
export async function relayStdio(child: Deno.ChildProcess): Promise<number> {
  const stop = new AbortController();
  const out = (from: ReadableStream<Uint8Array>, to: WritableStream<Uint8Array>) =>
    from.pipeTo(to, { preventClose: true, preventAbort: true, signal: stop.signal }).catch(() => {
      // Our end is gone (EPIPE): the program gets EPIPE/SIGPIPE at its next write, as it
      // would have writing there itself.
      from.cancel().catch(() => {});
    });
  const outputs = [
    out(child.stdout, Deno.stdout.writable),
    out(child.stderr, Deno.stderr.writable),
  ];
  let stdin: WritableStream<Uint8Array> | undefined;
  try {
    stdin = child.stdin;
  } catch {
    // "null" (no -i): Deno's getter throws.
  }
  // Not awaited: our stdin may never end after the program did.
  stdin && Deno.stdin.readable.pipeTo(stdin).catch(() => {});
  const code = await relay(child);
  // What the program started in the background (`cmd &`) holds its pipes as long as it
  // likes: waiting for their end let a container's program keep root's exec from returning
  // for ever. As docker exec (containerd's shim waits 2 s for an exec's output once it
  // exited): what comes in the next 2 s is written, then we stop reading.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(outputs),
    new Promise((r) => timer = setTimeout(r, OUTPUT_GRACE_MS)),
  ]);
  clearTimeout(timer);
  stop.abort();
  return code;
}

/** How long output is still relayed after the program exited (containerd's exec IO wait). */
const OUTPUT_GRACE_MS = 2000;

/**
 * Refuses command-line arguments that are not UTF-8: Deno would hand them to us with
 * U+FFFD in place of the bytes, and the program would get other arguments than typed.
 *
 * @throws {UsageError} naming the first such argument
 */
export function assertUtf8Argv(): void {
  // Deno shows a byte that is not UTF-8 as U+FFFD: without one, there is nothing to check.
  if (!Deno.args.some((a) => a.includes("\uFFFD"))) return;
  let cmdline: Uint8Array;
  try {
    cmdline = Deno.readFileSync("/proc/self/cmdline");
  } catch {
    return; // No /proc: nothing to compare with.
  }
  const strict = new TextDecoder("utf-8", { fatal: true });
  let start = 0;
  for (let i = 0; i < cmdline.length; i++) {
    if (cmdline[i] !== 0) continue;
    const arg = cmdline.subarray(start, i);
    start = i + 1;
    try {
      strict.decode(arg);
    } catch {
      const shown = JSON.stringify(new TextDecoder().decode(arg));
      throw new UsageError(`Cannot use argument ${shown}: it is not valid UTF-8`);
    }
  }
}

/**
 * Maps an error to one line on stderr and an exit code: usage mistakes 2, namespace and
 * target problems 125 (also when this host lacks libc or cannot run the helper: nothing ran),
 * anything else 1. Never a stack trace.
 */
export function report(error: unknown, command: string): number {
  const e = error as Error;
  // A path or name in the message may hold a newline or an escape sequence: one line, always.
  const message = escapeTerminal(e?.message ?? String(error));
  if (e instanceof UsageError || e instanceof TypeError || e instanceof RangeError) {
    console.error(`nsjoin ${command}: ${message} (see: nsjoin ${command} --help)`);
    return EXIT.usage;
  }
  if (e instanceof NamespaceError) {
    // Out of descriptors at a step that says so itself ("Cannot pin process N: EMFILE"):
    // the same advice as below, which a run out of them one open later got.
    const out = (e.code === "EMFILE" || e.code === "ENFILE") && !message.includes("ulimit -n");
    console.error(
      `nsjoin ${command}: ${message}${out ? " - raise the open-file limit (ulimit -n)" : ""}`,
    );
    return EXIT.join;
  }
  if (e instanceof Error && /^Cannot (load libc|prepare the nsjoin helper)/.test(message)) {
    // This host lacks what nsjoin needs: nothing was joined or run.
    console.error(`nsjoin ${command}: ${message}`);
    return EXIT.join;
  }
  if (_outOfFiles(e)) {
    // Under a low open-file limit (ulimit -n) the set-up's opens, pipes and spawn fail here
    // and there, each in its own words ("openat2 failed: EMFILE", "Failed to spawn
    // '/proc/self/fd/13': Too many open files (os error 24)"), with exit code 1 — a program's.
    // It happens before the program runs (its own exit is a status, not a throw).
    const which = /ENFILE|os error 23/.test(`${e.message} ${(e as { code?: string }).code}`)
      ? "ENFILE (too many open files in system)"
      : "EMFILE (too many open files)";
    const what = message.startsWith("Cannot ") ? message : `Cannot open another file: ${which}`;
    console.error(`nsjoin ${command}: ${what} - raise the open-file limit (ulimit -n)`);
    return EXIT.join;
  }
  if (e instanceof Deno.errors.NotCapable) {
    // Deno's message names the flag: "Requires env access to "X", run again with --allow-env".
    console.error(`nsjoin ${command}: ${message}`);
    return EXIT.usage;
  }
  console.error(`nsjoin ${command}: ${message}`);
  return 1;
}

/** Out of file descriptors: our SyscallError (errno 24 or 23), or Deno's "(os error 24)". */
function _outOfFiles(e: Error | undefined): boolean {
  const errno = (e as { errno?: unknown } | undefined)?.errno;
  if (e?.name === "SyscallError" && (errno === 24 || errno === 23)) return true;
  return e instanceof Error && /\b(EMFILE|ENFILE)\b|\(os error 2[34]\)/.test(e.message);
}
