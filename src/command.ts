import { execve } from "../ffi/exec.ts";
import { existsSafe, isNotFound, readLinkSafe, readTextFileSafe, statSafe } from "../ffi/files.ts";
import { helper, helperExecRefused } from "../ffi/helper.ts";
import {
  effectiveUid,
  environSnapshot,
  errnoName,
  EXEC_SYMBOLS,
  libcSubset,
  O_CLOEXEC,
  SyscallError,
} from "../ffi/libc.ts";
import { spawnOutput, spawnOutputSync, type SpawnRequest } from "../ffi/spawn.ts";
import { type FilterCopy, filterCopy } from "../ffi/seccomp.ts";
import { NamespaceError } from "./errors.ts";
import { readProcText } from "./_proc.ts";
import { nodeShimUndone } from "./_node_shim.ts";
import { escapeTerminal } from "./terminal.ts";
import {
  CLONE_FLAGS,
  differingNamespaces,
  NAMESPACE_TYPES,
  type NamespaceType,
  namespaceTypeOfFile,
} from "./namespaces.ts";
import { type ResolvedTarget, resolveTarget, type Target } from "./target.ts";
import { notCapable, nsjoinSetting } from "./_permissions.ts";

/**
 * Which namespaces to join: `"all"` (every namespace of the target that differs from the
 * caller's, as `nsenter -a`), a list of types, or per type `true` (the target's) or the
 * path of a namespace file to use instead.
 */
export type NamespaceSelection =
  | "all"
  | readonly NamespaceType[]
  | Partial<Record<NamespaceType, true | string>>;

/** Options of {@link NsCommand}: those of `Deno.Command` plus where to run. */
export interface NsCommandOptions {
  /** A PID, a namespace file (/proc/PID/ns/net, /run/netns/NAME), or a pinned process. */
  target: Target;
  /** Namespaces to join; default `"all"` for a process, the file's own type for a namespace file. */
  namespaces?: NamespaceSelection;
  /** Arguments of the program. */
  args?: readonly string[];
  /**
   * Environment variables to set (over the caller's, or over the target's with `targetEnv`).
   * Names are not empty and hold no `=`; `NSJOIN_ENV_ORDER` is nsjoin's own.
   */
  env?: Record<string, string>;
  /** Start from an empty environment (plus `env`). */
  clearEnv?: boolean;
  /**
   * Use the target's environment (/proc/PID/environ) instead of the caller's, as `nsenter -e`.
   * Without the target's mount namespace, or when that namespace's root is ours (the program
   * is the caller's, the files the host's), only its TERM,
   * COLORTERM, LANG, LANGUAGE, LC_*, TZ and HOSTNAME are taken, when they name no file, with
   * the caller's PATH and HOME: the rest (PYTHONPATH, NODE_OPTIONS, LD_PRELOAD…) would have
   * host programs load code the target chose.
   */
  targetEnv?: boolean;
  /**
   * Working directory inside the target (`nsenter -W`). Default as nsenter's (no -w, -W
   * or -r): the root of the target's mount namespace when that is joined (setns(2) moves
   * there), else the caller's own directory — also with a user namespace joined, where its
   * owner can reach that directory through the program's /proc/PID/cwd while it runs (give
   * `cwd: "/"` then). `nsjoin exec` and `containerExecOptions` start where docker exec
   * does instead: the container's WorkingDir, else its root. In a user namespace that is
   * joined (and with `uid` and `gid` set, as they are unless `preserveCredentials`) the path
   * is looked up as that namespace's uid and gid 0, as runc does (a directory its root may
   * not enter is refused, 125), not as the caller: a root caller is still the host's uid 0
   * there, whom the owner bits of root's own directories let in.
   */
  cwd?: string;
  /**
   * Look `cwd` up as the caller also in a joined user namespace (`nsenter -W`, which changes
   * directory before it changes ids): for a path the caller chose, never one the target did.
   */
  cwdAsCaller?: boolean;
  /** A directory of the caller's, opened before joining, to start in (`nsenter -w`); refused when it lies outside the target's root. */
  hostCwd?: string;
  /** Root directory: `true` for the target's (/proc/PID/root), or a path opened before joining (`nsenter -r`). */
  root?: true | string;
  /** User ID to run as, or "follow" for the target's (`nsenter -S`). Default 0 when a user namespace is joined. */
  uid?: number | "follow";
  /** Group ID to run as, or "follow" for the target's (`nsenter -G`). Default 0 when a user namespace is joined. */
  gid?: number | "follow";
  /** Supplementary groups to set (as docker exec does from the container's /etc/group); default: dropped when ids are set. */
  groups?: readonly number[];
  /** Keep the caller's uid, gid and groups even when joining a user namespace (`--preserve-credentials`). */
  preserveCredentials?: boolean;
  /** Fork so that the program itself is inside a joined pid namespace; default true (`nsenter -F` is false). */
  fork?: boolean;
  /**
   * Cgroups to move the program into before it starts, one per hierarchy: a cgroup v1
   * hierarchy's `tasks` (or `cgroup.procs`) file, and at most one cgroup v2 directory
   * (the program is born in it; or its `cgroup.procs` file, which costs an RCU grace
   * period after idle). A path ending in `/` is always a directory (a v2 cgroup may be
   * named `tasks`).
   */
  cgroups?: readonly string[];
  /**
   * Allocate a pseudo-terminal from the target's /dev/ptmx and make it the program's
   * controlling terminal (as `docker exec -t`); the caller's stdin and stdout are relayed
   * to it and window-size changes (SIGWINCH) passed on. Put your own terminal in raw mode
   * (`Deno.stdin.setRaw(true)`) for an interactive session. A failure to start (125, 126,
   * 127) is still its one line on the caller's stderr, not written into the pty.
   */
  tty?: boolean;
  /**
   * Capabilities of the program: "all" (default, the caller's) or "target" — limited to
   * the target's bounding and effective sets, as `docker exec` without `--privileged`.
   */
  capabilities?: "all" | "target";
  /** Set no_new_privs before exec; "target" copies the target's setting. */
  noNewPrivs?: boolean | "target";
  /**
   * Seccomp: "target" installs exactly the target's filters before exec, as `runc exec`
   * installs the container's (read from the process with ptrace: needs root; refused with
   * status 125 when they cannot be read, never run unconfined); "none" (default) installs none.
   * A target in another user namespace than ours, joined without it (`namespaces: ["net"]`),
   * gives none: its filters were made with that namespace's privileges, and would govern a
   * program that keeps ours. So does another user's plain process (every namespace ours: no
   * container) for a program that does not run as its uid: its filters are that user's.
   */
  seccomp?: "target" | "none";
  /**
   * Resource limits: "target" gives the program the target's (/proc/PID/limits); default the
   * caller's. A target in another user namespace than ours, joined without it, gives the
   * caller's: its owner set them, and the program keeps our privileges; so does another
   * user's plain process (every namespace ours) for a program that does not run as its uid.
   */
  rlimits?: "target" | "caller";
  /**
   * oom_score_adj of the program: a value, or "target" for the target's; default the caller's.
   * "target" of a target in another user namespace than ours, joined without it, or of
   * another user's plain process for a program not of its uid, keeps the caller's (its
   * owner may raise it at will).
   */
  oomScoreAdj?: number | "target";
  /**
   * umask of the program: a value, or "target" for the target's; default the caller's. For a
   * program outside the target's mount namespace (its files are ours: `namespaces: ["net"]`, a
   * target in our mount namespace) "target" never lets group or others write: the target's
   * umask with 0o022 added.
   */
  umask?: number | "target";
  /**
   * AppArmor profile / SELinux label: "target" gives the program the target's (written to
   * /proc/self/attr/exec) on a host with such an LSM, nothing elsewhere; default "none".
   */
  lsm?: "target" | "none";
  /**
   * When a user namespace is joined, keep the capabilities it grants across execve as
   * ambient capabilities, also for a non-root uid (`nsenter --keep-caps`).
   */
  keepCaps?: boolean;
  /**
   * Run a file the kernel cannot execute (ENOEXEC: a script without `#!`) with /bin/sh,
   * as execvp(3) and so `nsenter` do; default false, as `docker exec`.
   */
  shellFallback?: boolean;
  /**
   * The program's `argv[0]`, when it should not be the program's name: `nsenter` without a
   * program runs `$SHELL` as a login shell, `"-" + basename` (`"-bash"`). Default: the name.
   */
  argv0?: string;
  /**
   * What the one line on stderr starts with when the program cannot be started (before
   * `": "`); default `"nsjoin"`. The CLI gives its command (`"nsjoin enter"`), so that these
   * lines read as its own. Printable ASCII, at most 64 characters.
   */
  messagePrefix?: string;
  /**
   * With a namespace file as target: it must be one of the caller's when the helper opens it
   * (a pid or user namespace the caller is in, a mount namespace the caller's user namespace
   * owns; other types as they are), or nothing runs (exit 125). For a caller that looked at
   * the file first (`nsjoin exec FILE`): a path someone else controls may name another
   * namespace by the time the helper opens it, and this is checked on the fd it joins.
   */
  ownNamespaceFile?: boolean;
  /**
   * Do what `ip netns exec NAME` does after the join: a private mount namespace with a
   * fresh /sys (showing the joined net namespace's devices) and /etc/netns/NAME/* bound
   * over /etc. For a target /run/netns/NAME.
   */
  netnsName?: string;
  /**
   * A debug session (`nsjoin debug`): the program runs with the caller's tools (or those
   * of `tools`) in the target's net, pid, ipc, uts and cgroup namespaces (and its user
   * namespace when it has one) — never its mount namespace. It gets a private mount
   * namespace of its own, gone when it ends: the tools read-only (/usr, /bin, /sbin, /lib*,
   * a few /etc files), the target's root at `/target` (nosuid, nodev), a fresh /proc of the
   * target's pid namespace, its net namespace's /sys, a private /tmp and a minimal /dev.
   * The program is looked up on the caller's PATH. Everything under `/target` is the
   * target's and hostile: its symlinks resolve inside the debug session's root, not the
   * container's. Needs root; a PID target (not a namespace file); not with `root`, `cwd`,
   * `hostCwd`, `netnsName` or a `mnt` namespace.
   */
  debug?: boolean;
  /** With `debug`: the directory whose /usr, /bin, /lib*, /etc files are the tools (default "/"). */
  tools?: string;
  /** File descriptors to leave open for the program besides 0-2. */
  keepFds?: readonly number[];
  /**
   * How stdin is set up; default "inherit" for spawn(), "null" for output(). With "inherit"
   * the program holds our fd for its whole life inside the target (a unix socket there
   * leads a CAP_SYS_PTRACE task to its peer's fds, see docs/security.md): "piped" is the
   * caller's choice to make, as the CLI's `exec` makes it.
   */
  stdin?: "piped" | "inherit" | "null";
  /** How stdout is set up; default "inherit" for spawn(), "piped" for output(). */
  stdout?: "piped" | "inherit" | "null";
  /** How stderr is set up; default "inherit" for spawn(), "piped" for output(). */
  stderr?: "piped" | "inherit" | "null";
  /**
   * Kills the program (SIGTERM) when aborted; with `killTree`, everything it started that
   * stayed in its process group too. Aborted before the start, nothing runs: `spawn()`,
   * `output()` and `outputSync()` throw the signal's reason (an `AbortError`, as fetch).
   */
  signal?: AbortSignal;
  /**
   * The program and everything it starts form a process group of their own (a new session,
   * as `setsid`): aborting, `kill()` and every signal relayed reach the whole group, so
   * children holding the pipes end too and `for await` over stdout finishes. A process that
   * leaves the group (a daemon's own `setsid`) is not reached. Costs one fork per spawn.
   * `kill("SIGKILL")` sends the group SIGKILL too (through the helper, as SIGPWR).
   * The program has no controlling terminal then (it still reads an inherited one).
   */
  killTree?: boolean;
  /**
   * The program starts a session of its own (`setsid`, with no controlling terminal);
   * signals are relayed to it alone. Give it for a program the target controls: left in
   * our session, the caller's terminal is its `/dev/tty`, and TIOCSTI there (allowed
   * without privilege on one's own controlling terminal) types commands into the caller's
   * shell. `containerExecOptions` sets it (without `tty`), as runc does for every
   * exec, and so do `daxIn` and the CLI's `exec` and `debug`; a session's programs always
   * start one. Costs one fork per spawn. With it (and with `tty`) the program also gets a
   * session keyring of its own, as runc gives every exec: keyrings are not namespaced, and
   * a process possesses every key of its session keyring whatever its uid.
   */
  newSession?: boolean;
  /**
   * The program is killed (SIGKILL) when this Deno process dies, even by SIGKILL
   * (PR_SET_PDEATHSIG; set after every credential change, which clears it). Without it, as
   * with nsenter and docker exec, the program outlives a killed caller. The kernel ties
   * it to the *thread* that spawned: a program spawned from a Worker dies with that Worker.
   * An exec of a set-uid program inside clears it (kernel rule).
   */
  killOnExit?: boolean;
}

/**
 * The status of an {@link NsCommand}: `Deno.CommandStatus`, plus `setupError` when the
 * helper did not start the program — a join or setup step failed (code 125), or the
 * program could not be executed (126) or found (127). Without `setupError`, a 125, 126
 * or 127 is the program's own exit code. With it, the code is always the helper's: a
 * record whose code is not the exit code is not the helper's and is dropped (a program that
 * ran and exited 0 never has `setupError`); only a program that itself exits 125-127 while
 * a task of the target with CAP_SYS_PTRACE forges a record could show one.
 */
export interface NsCommandStatus extends Deno.CommandStatus {
  /** Why the program never ran; `syscall` names the step ("setns", "open", "execve"…). */
  setupError?: NamespaceError;
}

/** The output of an {@link NsCommand}: `Deno.CommandOutput` plus `setupError` (see {@link NsCommandStatus}). */
export interface NsCommandOutput extends Deno.CommandOutput {
  /** Why the program never ran (undefined when it ran). */
  setupError?: NamespaceError;
}

/** A `Deno.ChildProcess` whose `status` and `output()` carry `setupError`. */
export interface NsChildProcess extends Deno.ChildProcess {
  /** Resolves when the process exits, with `setupError` when it never started. */
  readonly status: Promise<NsCommandStatus>;
  /** Waits for the process to exit and collects its output, with `setupError`. */
  output(): Promise<NsCommandOutput>;
}

/** What {@link NsCommand} will do, worked out once per command. */
interface _Plan {
  target: ResolvedTarget;
  /** "P<pid>:<start>", or empty for a namespace file. */
  pin: string;
  /** The namespace mask to join from the target, hex ("" for none). */
  mask: string;
  /** Helper options after the join ones, then "--", program, args. */
  rest: string[];
  env?: Record<string, string>;
  clearEnv: boolean;
  killOnExit: boolean;
  /** With option z: the target's Seccomp_filters when planned, for a kept copy (filterCopy). */
  filterCount?: number;
}

/**
 * The target's variables a program run from the caller's filesystem keeps: the terminal,
 * the locale, the time zone and the host name. An allowlist, because the denylist kind
 * (glibc's UNSECURE_ENVVARS, LD_*) left PYTHONPATH, NODE_OPTIONS, PERL5OPT, HOME and the
 * like, each a way for the target to name code a host interpreter loads; a new interpreter
 * would add another.
 */
const HOST_SIDE_ENV = /^(TERM|COLORTERM|LANG|LANGUAGE|LC_[A-Z_]+|TZ|HOSTNAME)$/;

/**
 * What {@link HOST_SIDE_ENV} keeps of the target's environment, and only values naming no
 * file: glibc loads a locale named by an absolute path (LC_ALL=/proc/PID/root/…), a TZ
 * starting with `/` or `:/` is a zone file; zone names (`Europe/Paris`) stay.
 */
export function _hostSideEnv(theirs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(theirs)) {
    if (!HOST_SIDE_ENV.test(k)) continue;
    const file = k === "TZ" ? /^:?\/|\.\./.test(v) : v.includes("/");
    if (!file) out[k] = v;
  }
  return out;
}

/** The environment variable that carries the order of the keys (never argv: see ffi/helper.c). */
const ORDER_VAR = "NSJOIN_ENV_ORDER";

/**
 * The helper's argv. `parent`: the PID the helper's parent-death signal is tied to (our
 * own when spawned; 0 when we become the helper, so only a child it forks gets one);
 * `errorFd`: our private pipe for its failures.
 */
function _helperArgs(
  plan: _Plan,
  parent = Deno.pid,
  errorFd?: number,
  filters: readonly string[] = [],
): string[] {
  const args: string[] = [];
  if (plan.pin) args.push(plan.pin);
  if (plan.mask) args.push(`J${plan.mask}`);
  if (plan.killOnExit) args.push(`k${parent}`);
  if (errorFd !== undefined) args.push(`e${errorFd}`);
  return [...args, ...filters, ...plan.rest];
}

const HEX = (n: number) => (n >>> 0).toString(16);

/**
 * A program to run inside the namespaces of a target, shaped like `Deno.Command`:
 * `spawn()` gives a `Deno.ChildProcess` (pipes, status, kill, AbortSignal), `output()` and
 * `outputSync()` collect the result.
 *
 * The joins happen in a tiny single-threaded helper (the kernel refuses user and time
 * joins to multithreaded Deno): if any join fails, the program never runs and the status
 * is 125 with one line on stderr saying why. 126 and 127 mean the program could not be
 * executed or was not found. In all three cases the status (and output) carries a
 * `setupError` ({@link NamespaceError}), reported on a private pipe, so a program that
 * itself exits 125 is never taken for a failed join.
 *
 * The program name is looked up on PATH inside the target only when the target's mount
 * namespace is joined; otherwise on the caller's PATH (a PATH from the target would pick a
 * host file the target chose).
 *
 * Needs `--allow-ffi --allow-run --allow-env` (or `-A`), and the rights the kernel asks for
 * setns(2): root, or ownership of the target's user namespace.
 *
 * @example
 * ```ts
 * import { NsCommand } from "@nsjoin/nsjoin";
 * // Runs anywhere: our own process as the target, no namespace joined. Give the PID of a
 * // container's process (and the default namespaces: "all") to run inside it.
 * const cmd = new NsCommand("echo", { target: Deno.pid, namespaces: [], args: ["hi"] });
 * const { code, stdout } = await cmd.output();
 * if (code !== 0 || new TextDecoder().decode(stdout) !== "hi\n") throw new Error("no echo");
 * ```
 */
export class NsCommand {
  #program: string;
  #options: NsCommandOptions;
  #plan?: _Plan;

  /**
   * Describes the program and where to run it; nothing is resolved or run yet.
   *
   * @param program the program, looked up on PATH inside the target when it has no slash
   * @param options the target, namespaces and the `Deno.Command` options
   */
  constructor(program: string | URL, options: NsCommandOptions) {
    this.#program = program instanceof URL ? program.pathname : program;
    if (typeof this.#program !== "string") {
      throw new TypeError(
        `Cannot run ${_quoted(program)}: give the program as a string or a file URL`,
      );
    }
    if (this.#program.length === 0) throw new TypeError("Cannot run an empty program name");
    if (!options || options.target === undefined) {
      throw new TypeError("Cannot run without a target: give options.target");
    }
    this.#options = options;
  }

  /**
   * The helper command line (for tests and debugging): options, "--", program, args.
   * Resolves the target on first use.
   */
  get helperArgs(): readonly string[] {
    return _helperArgs(this.#planned());
  }

  /**
   * Starts the program inside the target.
   *
   * @param options `detached`: the helper that waits for the program starts a session of
   *   its own (`Deno.CommandOptions#detached`), so nothing our terminal sends reaches it or,
   *   relayed, the program — as a `docker exec -d` program outlives the terminal it was
   *   started from (a session's end sends SIGHUP to the terminal's foreground group)
   * @returns the child process, as `Deno.Command#spawn` returns it (its `status` and
   *   `output()` with `setupError`)
   */
  spawn(options: { detached?: boolean } = {}): NsChildProcess {
    const pipe = new _ErrorPipe();
    const detached = options.detached === true;
    try {
      const child = this.#run(
        {},
        pipe,
        (l) => _denoCommand({ ...l, options: { ...l.options, detached } }).spawn(),
      );
      if (this.#options.killTree) {
        // SIGKILL would end the helper that waits for the program, which cannot relay it:
        // SIGPWR asks it to send SIGKILL to the program's whole group (ffi/helper.c
        // supervise). Before it waits, SIGPWR ends the helper, and nothing has run.
        const kill = child.kill.bind(child);
        child.kill = (signo?: Deno.Signal | number) =>
          kill(signo === "SIGKILL" || signo === 9 ? "SIGPWR" : signo);
      }
      return pipe.wrap(child);
    } catch (error) {
      pipe.close();
      throw error;
    }
  }

  /**
   * Runs the program and collects its status and output (stdout and stderr piped).
   *
   * @returns code, signal, stdout and stderr, as `Deno.Command#output`, and `setupError`
   */
  async output(): Promise<NsCommandOutput> {
    // Command#output, not spawn().output(): in Deno 2.9 the latter keeps native memory per
    // call (1,500 calls: 148 MB of heap against 20 MB; see bench/soak.ts).
    const defaults = { stdin: "null", stdout: "piped", stderr: "piped" } as const;
    _assertNoPipedStdin(this.#options, "output");
    const pipe = new _ErrorPipe();
    try {
      // Both spawn synchronously, before their first await: the pipe's write end is
      // inherited then and can be closed right after.
      return pipe.attach(
        await this.#run(defaults, pipe, (l) => {
          const direct = _direct(l, false);
          return direct ? spawnOutput(direct) : _denoCommand(l).output();
        }),
      );
    } finally {
      pipe.close();
    }
  }

  /**
   * Runs the program synchronously. Safe here: the helper is spawned from the calling
   * thread, which never leaves the caller's namespaces.
   *
   * @returns code, signal, stdout and stderr, as `Deno.Command#outputSync`, and `setupError`
   */
  outputSync(): NsCommandOutput {
    _assertNoPipedStdin(this.#options, "outputSync");
    const pipe = new _ErrorPipe();
    try {
      const defaults = { stdin: "null", stdout: "piped", stderr: "piped" } as const;
      return pipe.attach(
        this.#run(defaults, pipe, (l) => {
          const direct = _direct(l, true);
          return direct ? spawnOutputSync(direct) : _denoCommand(l).outputSync();
        }),
      );
    } finally {
      pipe.close();
    }
  }

  /**
   * Replaces this Deno process with the program inside the target, as `nsenter` and
   * `exec(3)` do: the program inherits this process's PID, stdio and terminal, and its
   * exit status becomes this process's. Returns only by throwing. For command-line tools
   * built on nsjoin. `stdin`, `stdout` and `stderr` may be "inherit" or "null" (not
   * "piped"); `signal` does not apply.
   *
   * @returns never
   * @throws {NamespaceError} when the target cannot be resolved (nothing is replaced)
   */
  exec(): never {
    // The helper reads the target's confinement itself here (see _plan's `fromTarget`): no
    // filter copy to keep for a next spawn, as this process becomes the helper.
    const plan = this.#plan ?? _plan(this.#program, this.#options, true);
    const h = helper();
    h.verify();
    const o = this.#options;
    const devNull = ([o.stdin, o.stdout, o.stderr] as const).flatMap((how, fd) => {
      if (how === "piped") throw new TypeError("Cannot exec() with piped stdio: use spawn()");
      return how === "null" ? [fd] : [];
    });

    const argv = ["nsjoin-helper", "Q", ..._helperArgs(plan, 0)];
    try {
      execve(h.path, argv, plan.env ?? {}, devNull, !plan.clearEnv);
    } catch (error) {
      const errno = (error as { errno?: number }).errno;
      // As in #recover: a refused memfd falls back to the private file once.
      if ((errno === 13 || errno === 26) && helperExecRefused()) {
        execve(helper().path, argv, plan.env ?? {}, devNull, !plan.clearEnv);
      }
      if (errno === 7) {
        throw new RangeError(
          `Cannot run ${this.#program}: its arguments and environment are too long (E2BIG)`,
        );
      }
      throw error;
    }
  }

  #run<T>(
    defaults: Pick<NsCommandOptions, "stdin" | "stdout" | "stderr">,
    pipe: _ErrorPipe,
    start: (launch: _Launch) => T,
  ): T {
    const plan = this.#planned();
    // An already aborted signal starts nothing (Deno.Command would run the program, then
    // kill it, or not: a spawn() ran it to its end): its reason is thrown, as fetch does.
    this.#options.signal?.throwIfAborted();
    try {
      return pipe.during(() => start(this.#launch(plan, defaults, pipe)), _shown(plan));
    } catch (error) {
      const again = this.#recover(error, plan, defaults, pipe);
      return pipe.during(() => start(again), _shown(plan));
    }
  }

  /** After a failed start: the launch to try again, or the error to throw. */
  #recover(
    error: unknown,
    plan: _Plan,
    defaults: Pick<NsCommandOptions, "stdin" | "stdout" | "stderr">,
    pipe: _ErrorPipe,
  ): _Launch {
    // An LSM may refuse to execute memfds, and a hostile root inside a target may hold
    // our memfd open for writing (ETXTBSY; its seals still refuse the write): use the
    // verified private file instead. posix_spawn (ffi/spawn.ts) fails with a SyscallError;
    // Deno.Command with PermissionDenied for EACCES and EPERM, and for ETXTBSY or E2BIG
    // with a plain Error and no code, whose message ends as Rust's io::Error prints one.
    const osError = (error as Error)?.message?.match(/\(os error (\d+)\)$/)?.[1];
    const code = error instanceof SyscallError
      ? errnoName(error.errno)
      : (error as { code?: string }).code ?? (osError && errnoName(Number(osError)));
    const refused = error instanceof Deno.errors.PermissionDenied ||
      code === "EACCES" || code === "EPERM" || code === "ETXTBSY";
    if (refused && helperExecRefused()) {
      return this.#launch(plan, defaults, pipe);
    }
    if (code === "E2BIG") {
      throw new RangeError(
        `Cannot run ${this.#program}: its arguments and environment are too long (E2BIG)`,
      );
    }
    if (error instanceof Deno.errors.NotCapable && /\brun access\b/.test(error.message)) {
      throw notCapable(_withoutRun(`run ${this.#program}`));
    }
    throw error;
  }

  #launch(
    plan: _Plan,
    defaults: Pick<NsCommandOptions, "stdin" | "stdout" | "stderr">,
    pipe: _ErrorPipe,
  ): _Launch {
    const h = helper();
    h.verify();
    const o = this.#options;
    // A copy of the target's filters kept from an earlier spawn spares the ptrace stop.
    const filters = plan.filterCount === undefined || plan.target.kind !== "process"
      ? undefined
      : filterCopy(
        `${plan.target.pid}:${plan.target.startTime}:${plan.target.inode ?? 0}`,
        plan.filterCount,
      );
    if (filters) pipe.adopt(filters);
    return {
      path: h.path,
      options: {
        // A helper that forks (a pid namespace joined, killTree, newSession, tty) is what
        // `kill()` reaches, and SIGKILL cannot be relayed: without killOnExit the program
        // still dies with it ("k0": only a child it forks) — it ran on in the target while
        // `status` said SIGKILL.
        args: [
          ...(plan.killOnExit ? [] : ["k0"]),
          ..._helperArgs(plan, Deno.pid, pipe.writeFd, filters?.args),
        ],
        env: plan.env,
        clearEnv: plan.clearEnv,
        stdin: o.stdin ?? defaults.stdin,
        stdout: o.stdout ?? defaults.stdout,
        stderr: o.stderr ?? defaults.stderr,
        signal: o.signal,
      },
    };
  }

  #planned(): _Plan {
    this.#plan ??= _plan(this.#program, this.#options);
    return this.#plan;
  }
}

/**
 * output() has no way to write to stdin: Deno.Command's own refusal named Deno.Command, and
 * the posix_spawn path (ffi/spawn.ts) does not make it.
 */
function _assertNoPipedStdin(o: NsCommandOptions, call: string): void {
  if (o.stdin === "piped") {
    throw new TypeError(
      `Cannot use stdin "piped" with ${call}(): use spawn() and write to its stdin`,
    );
  }
}

/** The helper's path and `Deno.Command` options for one start. */
interface _Launch {
  path: string;
  options: Deno.CommandOptions & { args: string[] };
}

/**
 * The helper as a `Deno.Command`. Deno.Command sorts the environment it passes on; the
 * program gets ours in its order instead (`env` replacing in place, new ones after), as
 * ffi/spawn.ts and execve pass it and nsenter passes its own: the helper puts envp back in
 * the order of the keys it finds in NSJOIN_ENV_ORDER (option `O`). A key that is not UTF-8
 * cannot be named there and comes after the others.
 */
function _denoCommand(l: _Launch): Deno.Command {
  const o = l.options;
  if (o.clearEnv) return new Deno.Command(l.path, o);
  // `env` replaces in place and adds at the end: our keys, then the new ones.
  const ours = environSnapshot().keys;
  const have = new Set(ours);
  const keys = [...ours, ...Object.keys(o.env ?? {}).filter((k) => !have.has(k))];
  const at = o.args.indexOf("--");
  return new Deno.Command(l.path, {
    ...o,
    args: [...o.args.slice(0, at), "O", ...o.args.slice(at)],
    env: { ...o.env, [ORDER_VAR]: keys.filter((k) => k && k !== ORDER_VAR).join("=") },
  });
}

/**
 * How many `output()` calls of this process posix_spawn starts (ffi/spawn.ts) before
 * Deno.Command takes over. posix_spawn spares Deno's first-spawn cost (~5 ms once per
 * process: its process and streams JavaScript), but its wait goes through a pool thread,
 * 0.2–0.4 ms slower per call than a warm Deno.Command (400 calls of each, interleaved in one
 * process): after 16 calls the one-time cost is paid back, as in a ski rental — never more
 * than about twice what the better choice for the whole run would have cost.
 * `outputSync()` waits on the calling thread and is as fast either way: it always uses it.
 */
const DIRECT_OUTPUTS = 16;
let _directOutputs = 0;

/**
 * The same launch for ffi/spawn.ts, or undefined when `Deno.Command` must run it: without
 * --allow-run for the helper (so a missing flag fails as before, naming it), for a piped stdin,
 * which Deno.Command refuses to output() with its own TypeError, and for an async
 * output() past DIRECT_OUTPUTS. `NSJOIN_SPAWN=posix_spawn` or `=deno` chooses for every
 * call (tests compare the two).
 */
function _direct(launch: _Launch, sync: boolean): SpawnRequest | undefined {
  const o = launch.options;
  if (o.stdin === "piped") return undefined;
  // The check Deno.Command makes for this path: without it, a missing flag fails as before.
  const run = Deno.permissions.querySync({ name: "run", command: launch.path });
  if (run.state !== "granted") return undefined;
  const forced = nsjoinSetting("NSJOIN_SPAWN");
  if (forced === "deno" || (!forced && !sync && _directOutputs >= DIRECT_OUTPUTS)) {
    return undefined;
  }
  if (!sync) _directOutputs++;
  return {
    path: launch.path,
    argv: [launch.path, ...o.args],
    env: { ...o.env },
    inheritEnv: !o.clearEnv,
    stdio: {
      stdin: o.stdin ?? "inherit",
      stdout: o.stdout ?? "inherit",
      stderr: o.stderr ?? "inherit",
    },
    signal: o.signal,
  };
}

const SYS_PIPE2 = Deno.build.arch === "x86_64" ? 293n : 59n;
const SYS_READ = Deno.build.arch === "x86_64" ? 0n : 63n;
const F_SETFD = 2;
const FD_CLOEXEC = 1;
const O_NONBLOCK = 0o4000;

/**
 * A pipe only the helper writes to, and only when it fails (ffi/helper.c option `e`): how
 * a failed join is told apart from a program that exits 125 without reading stderr. Its
 * write end is inheritable only while the helper is spawned (spawning is synchronous), and
 * the helper closes it before execve, so the program never has it. Read once the helper
 * has exited: whatever it wrote is in the pipe by then.
 */
export class _ErrorPipe {
  #read = -1;
  #write = -1;
  #error?: NamespaceError | null;
  #target?: number | string;
  #filters: FilterCopy[] = [];

  constructor() {
    // libc first: loading it names a missing --allow-env or --allow-ffi in nsjoin's words.
    const lib = libcSubset(...EXEC_SYMBOLS);
    const fds = new Int32Array(2);
    const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fds)));
    const r = lib.syscall(
      SYS_PIPE2,
      ptr,
      BigInt(O_CLOEXEC | O_NONBLOCK),
      0n,
    );
    // Out of fds: run without the pipe (a failure then shows only on stderr and the code).
    if (r === 0) [this.#read, this.#write] = fds;
  }

  /** The write end for the helper's `e` option, while it is open. */
  get writeFd(): number | undefined {
    return this.#write >= 0 ? this.#write : undefined;
  }

  /**
   * Runs `spawn` with the write end (and the fds of adopted filter copies) inheritable,
   * then closes our copy of the write end once it spawned.
   */
  during<T>(spawn: () => T, target?: number | string): T {
    const lib = libcSubset(...EXEC_SYMBOLS);
    this.#target = target;
    if (this.#write >= 0) lib.fcntl(this.#write, F_SETFD, 0);
    try {
      const started = spawn();
      if (this.#write >= 0) lib.close(this.#write);
      this.#write = -1;
      return started;
    } finally {
      if (this.#write >= 0) lib.fcntl(this.#write, F_SETFD, FD_CLOEXEC);
      for (const f of this.#filters) for (const fd of f.fds) lib.fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
  }

  /** A filter copy for the helper being spawned (inside `during`): its fds are inheritable until then. */
  adopt(filters: FilterCopy): void {
    const lib = libcSubset(...EXEC_SYMBOLS);
    this.#filters.push(filters);
    for (const fd of filters.fds) lib.fcntl(fd, F_SETFD, 0);
  }

  /** Adds `setupError` to a status or output of the exited helper, and closes the pipe. */
  attach<T extends Deno.CommandStatus>(result: T): T & { setupError?: NamespaceError } {
    if (this.#error === undefined) this.#error = this.#take(result.signal ? -1 : result.code);
    // The helper exited: a filter copy it left is complete now.
    for (const f of this.#filters.splice(0)) f.done();
    if (this.#error) (result as { setupError?: NamespaceError }).setupError = this.#error;
    return result;
  }

  /** `child` with `status` and `output()` carrying `setupError`. */
  wrap(child: Deno.ChildProcess): NsChildProcess {
    const status = child.status.then((s) => this.attach(s));
    const output = child.output.bind(child);
    Object.defineProperty(child, "status", { get: () => status });
    Object.defineProperty(child, "output", {
      value: async () => this.attach(await output()),
    });
    return child as NsChildProcess;
  }

  /** Closes both ends (idempotent). */
  close(): void {
    const lib = libcSubset(...EXEC_SYMBOLS);
    for (const f of this.#filters.splice(0)) f.done();
    for (const fd of [this.#read, this.#write]) if (fd >= 0) lib.close(fd);
    this.#read = this.#write = -1;
  }

  #take(code: number): NamespaceError | null {
    if (this.#read < 0) return null;
    const buf = new Uint8Array(2048);
    const ptr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    const n = Number(
      libcSubset(...EXEC_SYMBOLS).syscall(SYS_READ, BigInt(this.#read), ptr, BigInt(buf.length)),
    );
    this.close();
    return n <= 0 ? null : _setupError(buf.subarray(0, n), this.#target, code);
  }
}

// Bytes the helper never leaves in a message: C0, DEL, C1, the line/paragraph separators,
// bidirectional formatting, and U+FFFD (bytes that were not UTF-8).
// deno-lint-ignore no-control-regex -- matching control characters is the point
const _FOREIGN = /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffd]/u;

/**
 * The helper's failure record, "CODE ERRNO STEP NS MESSAGE\n" (ffi/helper.c fail()), as
 * a NamespaceError; null when there is none, or when the helper's exit `code` (-1: killed
 * by a signal) is not the record's.
 */
export function _setupError(
  record: Uint8Array,
  target: number | string | undefined,
  code: number,
): NamespaceError | null {
  // STEP is one of the helper's words (fail_step): a forged record (see below) chooses every
  // field, and a caller may print `syscall`.
  const m = new TextDecoder().decode(record).match(/^(\d+) (\d+) ([a-z]+) (\S+) ([^\n]*)/);
  if (!m) return null;
  // The helper exits with the code it wrote (fail(): 125, 126 or 127; the 1 of option f's
  // read failures comes with no pipe). A record a thief forged (below) said the program
  // never ran while it ran and exited 0: a caller that retries a command that failed to
  // start ran it twice. Now a record holds only when its code is one of those three and
  // the exit code: the program itself would have to exit 125-127.
  if (!/^12[5-7]$/.test(m[1]) || Number(m[1]) !== code) return null;
  const ns = m[4] as NamespaceType;
  // The helper escapes what others chose in its lines (putesc), so a control byte here was
  // written by someone else: the program's process holds the pipe from its birth in the
  // target's pid namespace until execve, where a task with CAP_SYS_PTRACE may take it
  // (pidfd_getfd) and write a record of its own, which `exec -d` printed raw.
  const message = _FOREIGN.test(m[5]) ? escapeTerminal(m[5]) : m[5];
  return new NamespaceError(message, {
    errno: Number(m[2]),
    syscall: m[3],
    namespace: (NAMESPACE_TYPES as readonly string[]).includes(ns) ? ns : undefined,
    target,
    quiet: true,
  });
}

/**
 * For src/session.ts: the helper's argv for an exec session (every option of one exec but
 * the program's, and killed with this process), and the environment its programs start
 * from (the caller's or the target's, with `env` over it, in order).
 */
export function _sessionPlan(
  o: NsCommandOptions,
): { args: string[]; env: Record<string, string>; shown: number | string } {
  const plan = _plan("nsjoin-session", { ...o, killOnExit: true });
  const env: Record<string, string> = plan.clearEnv
    ? { ...plan.env }
    : { ..._environment(), ...plan.env };
  delete env[ORDER_VAR];
  // Each request carries its envp in order: no "O".
  const args = _helperArgs(plan).filter((a) => a !== "O");
  return { args, env, shown: _shown(plan) };
}

// The planning functions below are written `(function f() {…}).bind(undefined)`: V8 compiles
// a function expression that follows "(" with its module, so its bytecode is in Deno's code
// cache, where a declared function is compiled again on every cold start, the first time it
// is called (the first plan of a process: 4.4 → 3.6 ms, fastest of 40). `.bind` keeps the
// parenthesis through TypeScript's emit, which drops a bare one.

/** The requested namespaces: "all", or type → true (the target's) / a namespace file. */
const _selection = (function _selection(
  o: NsCommandOptions,
  target: ResolvedTarget,
): "all" | Map<NamespaceType, true | string> {
  const sel = o.namespaces ?? (target.kind === "file" ? [target.type] : "all");
  const out = new Map<NamespaceType, true | string>();
  if (typeof sel !== "object" && sel !== "all") {
    throw new TypeError(
      `Cannot join namespaces ${JSON.stringify(sel)}: give "all", a list of types or an object`,
    );
  }
  if (sel === "all") {
    if (target.kind === "process") return "all";
    out.set(target.type, true);
    return out;
  }
  if (sel === null) {
    throw new TypeError('Cannot join namespaces null: give "all", a list or an object');
  }
  // Own properties only: `in` would take "toString" or "__proto__" (from JSON) for a type.
  const entries: [string, unknown][] = Array.isArray(sel)
    ? sel.map((t) => [t, true])
    : Object.keys(sel).map((k) => [k, (sel as Record<string, unknown>)[k]]);
  for (const [type, v] of entries) {
    if (typeof type !== "string" || !Object.hasOwn(CLONE_FLAGS, type)) {
      throw new TypeError(
        `Cannot join a namespace of type ${JSON.stringify(type)}: use one of ${
          NAMESPACE_TYPES.join(", ")
        }`,
      );
    }
    if (v === true || typeof v === "string") out.set(type as NamespaceType, v);
    else if (v !== false && v !== undefined) {
      throw new TypeError(
        `Cannot join the ${type} namespace ${
          JSON.stringify(v)
        }: give true (the target's) or a namespace file`,
      );
    }
  }
  return out;
}).bind(undefined);

function _shown(plan: _Plan): number | string {
  return plan.target.kind === "process" ? plan.target.pid : plan.target.path;
}

/** Boolean options are booleans: `noNewPrivs: "yes"` is a mistake, not a silent false. */
const _checkFlags = (function _checkFlags(o: NsCommandOptions): void {
  const flags = [
    "clearEnv",
    "targetEnv",
    "preserveCredentials",
    "fork",
    "tty",
    "killTree",
    "newSession",
    "killOnExit",
    "debug",
    "ownNamespaceFile",
  ] as const;
  for (const name of flags) {
    const v = o[name];
    if (v !== undefined && typeof v !== "boolean") {
      throw new TypeError(`Cannot use ${name} ${JSON.stringify(v)}: give true or false`);
    }
  }
  if (
    o.noNewPrivs !== undefined && typeof o.noNewPrivs !== "boolean" && o.noNewPrivs !== "target"
  ) {
    throw new TypeError(
      `Cannot use noNewPrivs ${JSON.stringify(o.noNewPrivs)}: give true, false or "target"`,
    );
  }
}).bind(undefined);

/** A value in a message: strings quoted (uid "0" is not uid 0), the rest as JavaScript shows it. */
function _quoted(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (Array.isArray(v)) return "(an array)";
  if (typeof v === "object" && v !== null) return "(an object)";
  return typeof v === "function" ? "(a function)" : String(v);
}

/**
 * Options of another shape than their type are refused by name before anything is resolved,
 * as a JavaScript caller may pass them: a string `args` ran the program with one argument per
 * character, an array `env` passed variables named "0", "1"…, a `stdin` spelled wrong was
 * ignored, and a non-AbortSignal `signal` or a string `cgroups` failed inside with a message
 * about nsjoin's own code.
 */
export const _checkShapes = (function _checkShapes(o: NsCommandOptions): void {
  const refuse = (name: string, v: unknown, want: string) => {
    throw new TypeError(`Cannot use ${name} ${_quoted(v)}: give ${want}`);
  };
  const strings = (name: string, v: unknown, want: string) => {
    if (v === undefined) return;
    if (!Array.isArray(v)) refuse(name, v, want);
    const bad = (v as unknown[]).find((e) => typeof e !== "string");
    if (bad !== undefined) refuse(`${name} item`, bad, "a string");
  };
  strings("args", o.args, "an array of strings");
  const env: unknown = o.env;
  if (env !== undefined) {
    if (env === null || typeof env !== "object" || Array.isArray(env)) {
      refuse("env", env, 'an object of names to string values ({ NAME: "value" })');
    }
    for (const [k, v] of Object.entries(env as object)) {
      if (typeof v !== "string") {
        throw new TypeError(
          `Cannot pass the environment variable ${JSON.stringify(k)}: its value is ${
            v === null ? "null" : `a ${typeof v}`
          } - give a string`,
        );
      }
    }
  }
  for (const name of ["stdin", "stdout", "stderr"] as const) {
    const v = o[name];
    if (v !== undefined && v !== "piped" && v !== "inherit" && v !== "null") {
      refuse(name, v, '"piped", "inherit" or "null"');
    }
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    refuse("signal", o.signal, "an AbortSignal (AbortController#signal, AbortSignal.timeout(ms))");
  }
  const text = ["cwd", "hostCwd", "argv0", "messagePrefix", "netnsName", "tools"] as const;
  for (const name of text) {
    if (o[name] !== undefined && typeof o[name] !== "string") refuse(name, o[name], "a string");
    // Named here: the helper's argv would otherwise show it under its one-letter code ("W/…").
    if (o[name]?.includes("\0")) refuse(name, o[name], "a string with no NUL byte");
  }
  if (o.root !== undefined && o.root !== true && typeof o.root !== "string") {
    refuse("root", o.root, "a directory or true (the target's root)");
  }
  strings("cgroups", o.cgroups, "an array of cgroup paths");
  const nul = o.cgroups?.find((c) => c.includes("\0"));
  if (nul !== undefined) refuse("cgroups item", nul, "a path with no NUL byte");
  if (typeof o.root === "string" && o.root.includes("\0")) {
    refuse("root", o.root, "a directory with no NUL byte");
  }
  for (const name of ["keepFds", "groups"] as const) {
    if (o[name] !== undefined && !Array.isArray(o[name])) {
      refuse(name, o[name], "an array of numbers");
    }
  }
}).bind(undefined);

/** Whether the uid or gid is the target's ("follow"), which depends on a joined user namespace. */
function _follows(o: NsCommandOptions): boolean {
  return o.uid === "follow" || o.gid === "follow";
}

function _namespaceFileArg(type: NamespaceType, path: string, expected?: NamespaceType): string {
  const actual = expected ?? namespaceTypeOfFile(path);
  if (actual !== type) {
    throw new NamespaceError(
      expected
        ? `Cannot join the ${type} namespace of ${path}: it is a ${actual} namespace file`
        : `Cannot join ${path} as the ${type} namespace: it is a ${actual} namespace`,
      { errno: 22, quiet: true, syscall: "ioctl", namespace: type, target: path },
    );
  }
  return `N${HEX(CLONE_FLAGS[type])}=${path}`;
}

/**
 * One of the target's /proc files (status, limits, oom_score_adj; environ and the id maps
 * through readTextFileSafe, as the target writes them) for the plan. A pinned process that
 * exited since it was pinned (exec options kept across a container's restart) has none: say
 * so as resolveTarget does, where openat2's SyscallError (ENOENT) came out.
 */
function _targetProcText(pid: number, file: string, read = readProcText): string {
  try {
    return read(`/proc/${pid}/${file}`);
  } catch (error) {
    if (!isNotFound(error) && (error as SyscallError).errno !== 3) throw error;
    throw new NamespaceError(`Cannot find process ${pid}`, {
      errno: 3,
      syscall: "open",
      target: pid,
      hint: "the target exited",
    });
  }
}

/**
 * `fromTarget`: the confinement taken from the target ("target" capabilities, noNewPrivs,
 * seccomp, umask, rlimits, oomScoreAdj) is read by the helper after its pin check (option i)
 * instead of here: the same files and rules, ~10 µs there against ~0.1–0.3 ms each for a
 * cold process's first reads (`exec`'s start). Not for a spawn: it keeps a copy of the
 * filters for the next one, which needs their count now.
 */
const _plan = (function _plan(
  program: string,
  o: NsCommandOptions,
  fromTarget = false,
): _Plan {
  _checkFlags(o);
  _checkShapes(o);
  const target = resolveTarget(o.target);
  const sel = _selection(o, target);
  const pid = target.kind === "process" ? target.pid : undefined;
  const needPid = (what: string) => {
    if (pid === undefined) {
      throw new TypeError(`Cannot use ${what} with a namespace file as target: give a PID`);
    }
    return pid;
  };
  const rest: string[] = [];
  if (o.tools !== undefined && !o.debug) throw new TypeError("Cannot use tools without debug");
  if (o.debug) {
    needPid("debug");
    const clash = (["root", "cwd", "hostCwd", "netnsName"] as const).find((k) =>
      o[k] !== undefined
    );
    if (clash) throw new TypeError(`Cannot use ${clash} with debug`);
    if (sel !== "all" && sel.has("mnt")) {
      throw new TypeError("Cannot join the mnt namespace with debug: it makes its own");
    }
    if (o.tools !== undefined && (typeof o.tools !== "string" || o.tools === "")) {
      throw new TypeError(`Cannot use tools ${JSON.stringify(o.tools)}: give a directory`);
    }
    rest.push(`T${o.tools ?? "/"}`);
  }
  let mask = "";
  let joinsUser: () => boolean;
  // Whether the program is looked up in the target's mount namespace (one that is not
  // ours); a namespace file the caller named counts as the caller's choice.
  let joinsMnt: boolean;
  if (
    sel === "all" && pid !== undefined && !o.debug && !o.keepCaps && !o.targetEnv && !_follows(o)
  ) {
    // Nothing here depends on which types differ from ours: the helper compares them (b),
    // with a stat(2) each where 16 readlinks through FFI cost ~0.5 ms of every start, and
    // drops p when it joins the mount namespace. joinsUser is asked only by what is
    // excluded above.
    mask = HEX(Object.values(CLONE_FLAGS).reduce((m, f) => m | f, 0));
    rest.push("b");
    joinsUser = () => false;
    joinsMnt = false;
  } else if (sel === "all") {
    // A debug session keeps its own mount namespace (and the caller's clocks).
    const types = _differing(pid!).filter((t) => !o.debug || (t !== "mnt" && t !== "time"));
    const bits = types.reduce((m, t) => m | CLONE_FLAGS[t], 0);
    if (bits) mask = HEX(bits);
    joinsUser = () => types.includes("user");
    joinsMnt = types.includes("mnt");
  } else {
    let bits = 0;
    for (const [type, v] of sel) {
      if (typeof v === "string") rest.push(_namespaceFileArg(type, v));
      else if (target.kind === "file") rest.push(_namespaceFileArg(type, target.path, target.type));
      else bits |= CLONE_FLAGS[type];
    }
    if (bits) mask = HEX(bits);
    joinsUser = () => sel.has("user");
    const mnt = sel.get("mnt");
    joinsMnt = typeof mnt === "string" || target.kind === "file"
      ? mnt !== undefined
      : mnt === true && _differing(pid!).includes("mnt");
  }
  // Whether the program comes from the target's own filesystem (its mount namespace, or
  // its root): a mount namespace file or a root directory is the caller's choice.
  let targetFs = joinsMnt && (sel === "all" || typeof sel.get("mnt") !== "string");
  if (o.netnsName !== undefined || o.root !== undefined) {
    joinsMnt = o.root !== undefined;
    targetFs = o.root === true;
  }
  if (o.debug) joinsMnt = targetFs = false;
  if (nsjoinSetting("NSJOIN_NO_PIDFD_SETNS") === "1") rest.push("A");

  if (o.root === true) rest.push(`R/proc/${needPid("root: true")}/root`);
  else if (typeof o.root === "string") rest.push(`R${o.root}`);
  if (o.hostCwd !== undefined) rest.push(`D${o.hostCwd}`);
  if (o.cwd !== undefined) rest.push(`W${o.cwd}`);
  if (o.cwd !== undefined && o.cwdAsCaller) rest.push("w");
  if ((o.cgroups?.length ?? 0) > 64) throw new RangeError("Cannot join more than 64 cgroups");
  if ((o.keepFds?.length ?? 0) > 63) throw new RangeError("Cannot keep more than 63 fds");
  // A file (written, moving the helper) or the v2 directory (H: born in it, see helper.c).
  // A trailing "/" says directory: a v2 cgroup has no `tasks` file, so a container root
  // with a writable cgroupfs may name its cgroup that (cgroupProcsOf gives "…/tasks/").
  const dirs = (o.cgroups ?? []).filter((c) =>
    c.endsWith("/") || !/\/(tasks|cgroup\.procs)$/.test(c)
  );
  if (dirs.length > 1) throw new RangeError("Cannot join more than one cgroup v2 directory");
  for (const c of o.cgroups ?? []) {
    rest.push(dirs.includes(c) ? `H${c.length > 1 ? c.replace(/\/+$/, "") : c}` : `C${c}`);
  }
  for (const fd of o.keepFds ?? []) {
    if (!Number.isSafeInteger(fd) || fd < 3) {
      throw new RangeError(`Cannot keep fd ${_quoted(fd)}: give a number of 3 or more`);
    }
    rest.push(`K${fd}`);
  }
  if (o.ownNamespaceFile) {
    if (target.kind !== "file") {
      throw new TypeError("Cannot use ownNamespaceFile with a process as target: give a file");
    }
    rest.push("u");
  }
  if (o.fork === false) rest.push("F");
  if (o.killTree) rest.push("g");
  if (o.newSession) rest.push("t");
  if (o.tty) rest.push("Y");
  if (o.keepCaps && joinsUser()) rest.push("c");
  if (o.shellFallback) rest.push("n");
  if (o.argv0 !== undefined) rest.push(`s${o.argv0}`);
  if (o.messagePrefix !== undefined) {
    if (!/^[\x20-\x7e]{1,64}$/.test(o.messagePrefix)) {
      throw new TypeError(
        `Cannot use ${
          JSON.stringify(o.messagePrefix)
        } as a message prefix: give 1-64 printable ASCII characters`,
      );
    }
    rest.push(`h${o.messagePrefix}`);
  }
  if (o.netnsName !== undefined) {
    if (!/^[A-Za-z0-9_.@:+-]+$/.test(o.netnsName) || /^\.\.?$/.test(o.netnsName)) {
      throw new TypeError(`Cannot use ${JSON.stringify(o.netnsName)} as a netns name`);
    }
    rest.push(`M${o.netnsName}`);
  }
  const fromStatus = (["capabilities", "noNewPrivs", "seccomp", "umask"] as const)
    .find((k) => o[k] === "target");
  if (fromStatus) needPid(`${fromStatus}: "target"`);
  // Option i's letters: what the helper reads from the target itself.
  let helperReads = "";
  const status = fromStatus && !fromTarget ? _targetProcText(pid!, "status") : "";
  if (o.capabilities === "target") {
    if (fromTarget) helperReads += "BE";
    else rest.push(`B${_statusField(status, "CapBnd")}`, `E${_statusField(status, "CapEff")}`);
  } else if (o.capabilities !== undefined && o.capabilities !== "all") {
    throw new TypeError(
      `Cannot use capabilities ${JSON.stringify(o.capabilities)}: give "all" or "target"`,
    );
  }
  if (o.noNewPrivs === "target" && fromTarget) helperReads += "V";
  else if (
    o.noNewPrivs === true ||
    (o.noNewPrivs === "target" && _statusField(status, "NoNewPrivs") === "1")
  ) {
    rest.push("V");
  }
  // A filter is made with the privileges of its maker's user namespace: the kernel lets an
  // unprivileged task install one only with no_new_privs, so that it never governs a task
  // with more privileges than its maker's. Copied onto a program that stays in our user
  // namespace while the target's is another (`namespaces: ["net"]` of a local user's
  // `unshare -Urn` or a rootless container), it had the owner of that namespace choose which
  // syscalls of a program with root's credentials and every capability fail, without
  // no_new_privs (stop 27). The program is then not in that namespace's keeping: no copy.
  // So too its resource limits and oom_score_adj, which that namespace's owner sets at will
  // (a user's `ulimit -f 1` had root's host program killed by SIGXFSZ at 512 bytes, its
  // files cut short; a user's oom_score_adj 1000 made it the OOM killer's first pick): the
  // program keeps the caller's (stop 27, conf27). Capabilities and no_new_privs still narrow
  // it (they keep it no stronger than the target where the target can reach it).
  // And in our user namespace, a process that shares every namespace of ours is no
  // container (only root makes those): a local user's plain process, whose filter (added
  // with no_new_privs), limits and oom_score_adj are that user's. Root's `exec PID` of it ran
  // a uid-0 program — the owner of root's files — under them (stop 27, conf27): copied only
  // onto a program with the target's uid (`exec -u UID PID`, `uid: "follow"`).
  const copies = o.seccomp === "target" || o.rlimits === "target" || o.oomScoreAdj === "target";
  const foreignOwner = copies && pid !== undefined && (
    (sel !== "all" && sel.get("user") === undefined && _differing(pid).includes("user")) ||
    _othersPlainProcess(pid, o.uid)
  );
  // A umask says who may write the files a program makes. A program that makes ours (one not
  // in the target's mount namespace: `exec -n net`, or `exec PID` of a process in our own) got
  // the target's as it was: a container's init that ran umask(0), or a local user's plain
  // process, had every file root's host program made world-writable (stop 27). Such a program
  // gets the target's with group and others' write masked (docker exec's 0022 at least).
  const hostFiles = o.umask === "target" && pid !== undefined && !o.debug && o.root !== true &&
    !_joinsForeignMnt(pid, sel);
  let umask = o.umask;
  if (hostFiles) {
    const theirs = parseInt(_statusField(_targetProcText(pid, "status"), "Umask"), 8);
    umask = (Number.isSafeInteger(theirs) ? theirs : 0) | 0o022;
  }
  const confinement = _confinementArgs(
    {
      ...o,
      ...(foreignOwner
        ? {
          ...(o.seccomp === "target" ? { seccomp: "none" as const } : {}),
          ...(o.rlimits === "target" ? { rlimits: "caller" as const } : {}),
          ...(o.oomScoreAdj === "target" ? { oomScoreAdj: undefined } : {}),
        }
        : {}),
      umask,
    },
    fromTarget ? undefined : status,
    needPid,
  );
  rest.push(...confinement.args);
  helperReads += confinement.helperReads;
  if (helperReads) rest.push(`i${helperReads}`);
  // Only options so far: "z" is the seccomp copy.
  const filters = rest.includes("z") ? status.match(/^Seccomp_filters:\s+(\d+)/m) : null;

  const uid = o.uid === "follow" ? _followId(needPid('uid: "follow"'), "Uid", joinsUser()) : o.uid;
  const gid = o.gid === "follow" ? _followId(needPid('gid: "follow"'), "Gid", joinsUser()) : o.gid;
  for (const [name, v] of [["uid", uid], ["gid", gid]] as const) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 0 || v > 0xfffffffe)) {
      throw new RangeError(`Cannot use ${name} ${_quoted(v)}: give a number from 0 to 4294967294`);
    }
  }
  if (!o.preserveCredentials) {
    // As nsenter: entering a user namespace makes us 0/0 there unless told otherwise,
    // and setting ids drops supplementary groups.
    rest.push("I");
    if (uid !== undefined || gid !== undefined) rest.push("X");
  }
  if (o.groups !== undefined) {
    for (const g of o.groups) {
      if (!Number.isSafeInteger(g) || g < 0 || g > 0xfffffffe) {
        throw new RangeError(`Cannot use group ${_quoted(g)}: give a number from 0 to 4294967294`);
      }
    }
    if (o.groups.length > 64) throw new RangeError("Cannot set more than 64 supplementary groups");
    rest.push(`S${o.groups.join(",")}`);
  }
  if (gid !== undefined) rest.push(`G${gid}`);
  if (uid !== undefined) rest.push(`U${uid}`);
  for (const [k, v] of Object.entries(o.env ?? {})) {
    if (k.includes("\0") || String(v).includes("\0")) {
      throw new TypeError(
        `Cannot pass an environment variable with a NUL byte: ${JSON.stringify(k)}`,
      );
    }
    if (k === "" || k.includes("=") || k === ORDER_VAR) {
      throw new TypeError(
        `Cannot pass an environment variable named ${JSON.stringify(k)}: ${
          k === ORDER_VAR ? "the name is nsjoin's own" : "a name is not empty and has no '='"
        }`,
      );
    }
  }
  let env = o.env;
  let clearEnv = o.clearEnv ?? false;
  // Deno's node shim (src/_node_shim.ts): the program gets PATH as this process was started
  // with it, and no DENO_NODE_SHIM_ACTIVE, as the CLI's program does.
  const shim = nodeShimUndone();
  const callerPath = (shim ? shim.path : Deno.env.get("PATH")) ??
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  if (shim && !clearEnv && !o.targetEnv) {
    const caller = _environment();
    delete caller.DENO_NODE_SHIM_ACTIVE;
    if (shim.path === undefined) delete caller.PATH;
    else caller.PATH = shim.path;
    env = { ...caller, ...o.env };
    clearEnv = true;
  }
  if (o.targetEnv) {
    let theirs = _environOf(needPid("targetEnv"));
    // Outside its mount namespace the program is the caller's, and the target's PATH, HOME,
    // PYTHONPATH, LD_PRELOAD… would name host files it chose (its overlay upper dir, or
    // /proc/<its PID>/root, which root follows): only what names no file, plus the
    // caller's PATH and HOME for the program's own lookups. So too in a mount namespace
    // of its own over our root (a service's PrivateTmp): the files are the host's, and a
    // PATH or PYTHONPATH naming a directory of its user's ran their code as root.
    if (!targetFs || _sharesOurRoot(pid!)) {
      const home = Deno.env.get("HOME");
      theirs = { ..._hostSideEnv(theirs), PATH: callerPath, ...(home ? { HOME: home } : {}) };
    }
    env = { ...theirs, ...o.env };
    clearEnv = true;
  }
  // The program itself: on the caller's PATH unless it is looked up inside the target.
  if (!joinsMnt && !program.includes("/")) rest.push(`p${callerPath}`);
  // Deno.Command sorts the environment; an exact one keeps its order (as docker exec and
  // /proc/PID/environ have it): the helper puts envp back in the order of these keys,
  // which it reads from the environment (argv is visible to every local user).
  if (clearEnv && env) {
    rest.push("O");
    env = { ...env, [ORDER_VAR]: Object.keys(env).join("=") };
  }
  rest.push("--", program, ...(o.args ?? []));
  for (const a of rest) {
    if (a.includes("\0")) {
      throw new TypeError(`Cannot pass an argument with a NUL byte: ${JSON.stringify(a)}`);
    }
  }
  const pin = target.kind !== "process"
    ? ""
    : `P${target.pid}:${target.startTime}${target.inode ? `:${target.inode}` : ""}`;
  return {
    target,
    pin,
    mask,
    rest,
    env,
    clearEnv,
    killOnExit: o.killOnExit ?? false,
    filterCount: filters ? Number(filters[1]) : undefined,
  };
}).bind(undefined);

/**
 * Helper options for seccomp, rlimits, oom_score_adj, umask and the LSM label; without the
 * target's `status`, what is the target's is left to the helper (option i's letters).
 */
const _confinementArgs = (function _confinementArgs(
  o: NsCommandOptions,
  status: string | undefined,
  needPid: (what: string) => number,
): { args: string[]; helperReads: string } {
  const out: string[] = [];
  let helperReads = "";
  const choice = (name: string, v: unknown, allowed: readonly unknown[]) => {
    if (v !== undefined && !allowed.includes(v)) {
      throw new TypeError(
        `Cannot use ${name} ${JSON.stringify(v)}: give ${
          allowed.map((a) => `"${a}"`).join(" or ")
        }`,
      );
    }
  };
  choice("seccomp", o.seccomp, ["target", "none"]);
  choice("rlimits", o.rlimits, ["target", "caller"]);
  choice("lsm", o.lsm, ["target", "none"]);
  if (o.seccomp === "target" && status === undefined) {
    needPid("seccomp");
    helperReads += "z";
  } else if (o.seccomp === "target" && status !== undefined) {
    const mode = status.match(/^Seccomp:\s+(\d+)/m)?.[1] ?? "0";
    if (mode === "1") {
      throw new NamespaceError(
        `Cannot copy the seccomp filter of pid ${needPid("seccomp")}: it is in strict mode`,
        { errno: 22, quiet: true, syscall: "ptrace", target: needPid("seccomp") },
      );
    }
    // Mode 0: no filter to copy, and no ptrace stop of the target.
    if (mode === "2") out.push("z");
  }
  if (o.rlimits === "target") {
    const pid = needPid('rlimits: "target"');
    if (status === undefined) helperReads += "l";
    else out.push(`l${_limitsOf(pid)}`);
  }
  if (o.oomScoreAdj === "target" && status === undefined) {
    needPid('oomScoreAdj: "target"');
    helperReads += "o";
  }
  const oom = o.oomScoreAdj === "target"
    ? status === undefined
      ? undefined
      : Number(_targetProcText(needPid('oomScoreAdj: "target"'), "oom_score_adj"))
    : o.oomScoreAdj;
  if (oom !== undefined) {
    if (!Number.isSafeInteger(oom) || oom < -1000 || oom > 1000) {
      throw new RangeError(`Cannot use oomScoreAdj ${oom}: give a number from -1000 to 1000`);
    }
    // Ours already: the helper inherits it, nothing to write.
    if (oom !== Number(readProcText("/proc/self/oom_score_adj"))) out.push(`o${oom}`);
  }
  if (o.umask === "target" && status === undefined) helperReads += "m";
  const umask = o.umask === "target"
    ? status === undefined ? undefined : parseInt(_statusField(status, "Umask"), 8)
    : o.umask;
  if (umask !== undefined) {
    if (!Number.isSafeInteger(umask) || umask < 0 || umask > 0o777) {
      throw new RangeError(`Cannot use umask ${umask}: give a number from 0 to 0o777`);
    }
    out.push(`m${umask.toString(8)}`);
  }
  if (o.lsm === "target") {
    const label = lsmExecLabel(needPid('lsm: "target"'));
    if (label !== undefined) out.push(`a${label}`);
  }
  return { args: out, helperReads };
}).bind(undefined);

/** The 16 resource limits of `pid` as "soft:hard,…" ("i" for unlimited), from /proc/PID/limits. */
function _limitsOf(pid: number): string {
  const rows = _targetProcText(pid, "limits").split("\n").slice(1).filter(Boolean);
  const value = (v: string) => v === "unlimited" ? "i" : /^\d+$/.test(v) ? v : undefined;
  const pairs = rows.map((row) => {
    // "Max open files            1024                 4096                 files"
    const m = row.match(/^\S.*?\s{2,}(\S+)\s+(\S+)/);
    const [soft, hard] = [value(m?.[1] ?? ""), value(m?.[2] ?? "")];
    if (soft === undefined || hard === undefined) {
      throw new Error(`Cannot read the resource limits of pid ${pid}: unexpected line ${row}`);
    }
    return `${soft}:${hard}`;
  });
  if (pairs.length !== 16) {
    throw new Error(
      `Cannot read the resource limits of pid ${pid}: ${pairs.length} limits, not 16`,
    );
  }
  return pairs.join(",");
}

/**
 * What to write to /proc/self/attr/exec so that a program gets the LSM confinement of
 * `pid` (AppArmor: "exec PROFILE"; SELinux: its context).
 *
 * @param pid the process whose label to copy
 * @returns the text, or undefined when the host has neither AppArmor nor SELinux, or `pid`
 * is confined as we are
 */
export function lsmExecLabel(pid: number): string | undefined {
  // Absent is the common case (no securityfs, no LSM): said without building an error.
  if (!existsSafe("/sys/kernel/security/lsm")) return undefined;
  let lsms: string[];
  try {
    lsms = readTextFileSafe("/sys/kernel/security/lsm").trim().split(",");
  } catch {
    return undefined; // No securityfs or no LSM list: no AppArmor or SELinux to apply.
  }
  const read = (p: number | "self", lsm: string) => {
    for (const file of [`/proc/${p}/attr/${lsm}/current`, `/proc/${p}/attr/current`]) {
      try {
        return readTextFileSafe(file).replace(/\0/g, "").trim();
      } catch {
        // The per-LSM file exists only on kernels that stack LSMs.
      }
    }
    return undefined;
  };
  for (const lsm of ["apparmor", "selinux"]) {
    if (!lsms.includes(lsm)) continue;
    const theirs = read(pid, lsm);
    if (theirs === undefined || theirs === read("self", lsm)) return undefined;
    if (lsm === "selinux") return theirs;
    // "docker-default (enforce)": the profile name; an unconfined target needs nothing.
    const profile = theirs.replace(/ \((enforce|complain|kill|unconfined)\)$/, "");
    return profile === "unconfined" ? undefined : `exec ${profile}`;
  }
  return undefined;
}

/** differingNamespaces, with a target that exits meanwhile (its ns links gone) as one clear error. */
/**
 * Whether a selection puts the program in `pid`'s mount namespace and that namespace is not
 * ours (two stats: a namespace is its nsfs inode); a mount namespace file the caller names
 * counts as joined. Cannot tell (the target is gone): not joined, the safer reading here.
 */
function _joinsForeignMnt(
  pid: number,
  sel: "all" | Map<NamespaceType, true | string>,
): boolean {
  const mnt = sel === "all" ? true : sel.get("mnt");
  if (mnt === undefined) return false;
  if (typeof mnt === "string") return true;
  try {
    const ours = statSafe("/proc/thread-self/ns/mnt");
    const theirs = statSafe(`/proc/${pid}/ns/mnt`);
    return ours.ino !== theirs.ino || ours.dev !== theirs.dev;
  } catch {
    return false;
  }
}

function _differing(pid: number): NamespaceType[] {
  try {
    return differingNamespaces(pid);
  } catch (error) {
    const gone = isNotFound(error) || (error as { errno?: number }).errno === 3;
    if (!gone) throw error;
    throw new NamespaceError(`Cannot join process ${pid}: the target exited`, {
      errno: 3,
      quiet: true,
      syscall: "readlink",
      target: pid,
    });
  }
}

/**
 * Our environment in the order the kernel gave it, with changes made since then applied in
 * place or appended: what an exec session's programs start from (its requests carry envp as
 * strings; the one-shot paths pass libc's `environ` itself, see ffi/libc.ts environEntries).
 */
function _environment(): Record<string, string> {
  const now = Deno.env.toObject();
  const out: Record<string, string> = {};
  try {
    for (const entry of readTextFileSafe("/proc/self/environ").split("\0")) {
      const key = entry.slice(0, entry.indexOf("="));
      if (key && key in now) out[key] = now[key];
    }
  } catch {
    // No /proc: any order will do.
  }
  return Object.assign(out, now);
}

function _statusField(status: string, field: string): string {
  const m = status.match(new RegExp(`^${field}:\\s+(\\S+)`, "m"));
  if (!m) throw new Error(`Cannot read ${field} of the target: not in /proc/PID/status`);
  return m[1].replace(/^0+(?=.)/, "");
}

/** The target's real uid or gid, as seen inside its user namespace when that is joined. */
function _followId(pid: number, field: "Uid" | "Gid", inUserNs: boolean): number {
  const status = _targetProcText(pid, "status", readTextFileSafe);
  const host = Number(status.match(new RegExp(`^${field}:\\s+(\\d+)`, "m"))![1]);
  if (!inUserNs) return host;
  const map = _targetProcText(pid, field === "Uid" ? "uid_map" : "gid_map", readTextFileSafe);
  for (const line of map.trim().split("\n")) {
    const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
    if (host >= outside && host < outside + count) return inside + (host - outside);
  }
  return host;
}

/**
 * Whether `pid` is a plain process (every namespace ours) of another user than the program
 * would run as (`uid`, or ours): its confinement was then its own user's to choose. A
 * process whose ids are all 0 is root's, whatever the program's uid.
 */
export function _othersPlainProcess(pid: number, uid: number | "follow" | undefined): boolean {
  // A container first, cheaply (every exec of one asks): its mount or pid namespace.
  try {
    for (const type of ["mnt", "pid"]) {
      const theirs = readLinkSafe(`/proc/${pid}/ns/${type}`);
      if (theirs !== readLinkSafe(`/proc/thread-self/ns/${type}`)) return false;
    }
  } catch {
    // Gone, or unreadable: _differing says which.
  }
  if (_differing(pid).length !== 0) return false;
  const line = _targetProcText(pid, "status").match(/^Uid:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)/m);
  // Unreadable: as another user's (no copy); the helper's own reads still pin it.
  if (!line) return true;
  const ids = line.slice(1).map(Number);
  if (ids.every((i) => i === 0)) return false;
  const program = uid === "follow" ? ids[0] : uid ?? effectiveUid();
  return !ids.every((i) => i === program);
}

/** Whether a process's root directory is ours (fails closed: true when it cannot be told). */
function _sharesOurRoot(pid: number): boolean {
  try {
    const theirs = statSafe(`/proc/${pid}/root`), ours = statSafe("/");
    return theirs.dev === ours.dev && theirs.ino === ours.ino;
  } catch {
    return true;
  }
}

function _environOf(pid: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of _targetProcText(pid, "environ", readTextFileSafe).split("\0")) {
    const eq = entry.indexOf("=");
    if (eq > 0) out[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return out;
}

/**
 * A missing --allow-run, said for what was being done (NsCommand, openSession): Deno's own
 * "Requires run access to "/proc/self/fd/23"" named a path the user never gave.
 */
export function _withoutRun(what: string): string {
  return `Cannot ${what} in a target without --allow-run: nsjoin spawns its helper (a sealed ` +
    "memfd, /proc/self/fd/N), which joins the namespaces and runs the program";
}
