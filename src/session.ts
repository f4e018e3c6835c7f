/**
 * Exec sessions: join a target once, then run many programs there for the cost of a fork.
 *
 * @module
 */
import { helper, helperExecRefused } from "../ffi/helper.ts";
import {
  allPipes,
  closeFd,
  drainInto,
  pipeDevice,
  pollReady,
  readFromStart,
  requestPipe,
  SESSION_MAX_REQUEST,
  SESSION_MAX_STRINGS,
  type SessionReply,
  setCloexec,
  setNonblocking,
  shutdownSocket,
  socketPair,
  takeFd,
  takeReply,
  writeSome,
} from "../ffi/session.ts";
import {
  _checkShapes,
  _ErrorPipe,
  _sessionPlan,
  _setupError,
  _withoutRun,
  type NsCommandOptions,
  type NsCommandOutput,
} from "./command.ts";
import { _freezerFiles, _pausedError, _pausedShown, assertNotFrozen } from "./container_exec.ts";
import { isNotFound, openFileSafe } from "../ffi/files.ts";
import { SyscallError } from "../ffi/libc.ts";
import { NamespaceError } from "./errors.ts";
import type { Target } from "./target.ts";
import { notCapable } from "./_permissions.ts";

/** NsCommand options that belong to one program, not to a session. */
const PER_EXEC = [
  "args",
  "stdin",
  "stdout",
  "stderr",
  "signal",
  "tty",
  "keepFds",
  "fork",
  "killTree",
  "killOnExit",
] as const;

/**
 * Options of {@link openSession}: those of {@link NsCommand} that say where and as whom
 * programs run (namespaces, user, groups, capabilities, seccomp, cgroups, cwd, env…), as
 * {@link containerExecOptions} gives them. `target` may be given here too (it must then name
 * the process given to openSession: its PID and its pinned process or container are one,
 * and the pinned one is joined). What belongs to one program — its arguments, stdio,
 * `signal`, `tty`, `keepFds`, `fork`, `killTree` — is not a session's: see
 * {@link SessionExecOptions}. Programs always die with this Deno process (`killOnExit`) and start a session of their own
 * (`newSession`: no controlling terminal).
 * With `debug`, the private mount namespace (its /tmp too) is the session's, one for all
 * its programs.
 */
export interface SessionOptions extends
  Omit<
    NsCommandOptions,
    | "target"
    | "args"
    | "stdin"
    | "stdout"
    | "stderr"
    | "signal"
    | "tty"
    | "keepFds"
    | "fork"
    | "killTree"
    | "killOnExit"
  > {
  /** The session's target, when these options came with one (containerExecOptions). */
  target?: Target;
}

/** Options of one {@link ExecSession.output}. */
export interface SessionExecOptions {
  /** Arguments of the program. */
  args?: readonly string[];
  /** Environment variables set over the session's environment for this program. */
  env?: Record<string, string>;
  /** Working directory inside the target (no /proc magic link on the way); default the session's. */
  cwd?: string;
  /** Bytes for the program's stdin; default /dev/null. */
  stdin?: Uint8Array;
  /**
   * Sends SIGTERM to the program and its process group (what it started there: each program
   * is a session of its own) when aborted.
   */
  signal?: AbortSignal;
}

const POLLIN = 1;
const POLLOUT = 4;

/** A frame of 'K' SIGTERM (ffi/helper.c session_loop): its length, then the request. */
const TERMINATE = new Uint8Array([8, 0, 0, 0, 75, 0, 0, 0, 15, 0, 0, 0]);

/** Linux signal names by number - 1 (x86_64 and aarch64 agree), as Deno.CommandOutput gives them. */
const SIGNALS = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGSTKFLT",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGPWR",
  "SIGSYS",
] as const;

/** A file that says whether a cgroup is frozen, kept open, and its test. */
interface FreezerFile {
  fd: number;
  frozen: (text: string) => boolean;
}

const ENODEV = 19;

/**
 * Sessions dropped without close(): their fds are closed when collected, so that the helper
 * reads EOF and exits (else it ran until this Deno process exits). Only fd numbers are held.
 */
const _dropped = new FinalizationRegistry((fds: number[]) => {
  for (const fd of fds) if (fd >= 0) closeFd(fd);
});

/**
 * A target joined once, running programs on request: see {@link openSession}. One program
 * runs at a time; calls made meanwhile wait their turn, in order.
 */
export class ExecSession implements AsyncDisposable {
  /** The helper's replies (a socket it made). */
  #sock: number;
  /** Our requests (a pipe: -1 once closed). */
  #requests: number;
  /** st_dev of an anonymous pipe (the request pipe's): the program's pipes have it too. */
  #pipeDev: number;
  /** The socket and the pipe while open (-1 once closed): what _dropped closes. */
  #open: number[];
  /** A frame is being written: close() leaves the pipe to #send then. */
  #sending = false;
  #child: Deno.ChildProcess;
  #shown: number | string;
  #env: Record<string, string>;
  /** The files that say whether the cgroups the helper joined are frozen (checked before
   * each program), kept open, and the target as a refusal names it. */
  #frozen: { files: FreezerFile[]; shown: string };
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  #targetGone = false;
  /** A forged reply came: the session ended (see #forged). */
  #tampered = false;
  /** Where the programs' output is read into (and copied out of). */
  #buf = new Uint8Array(65536);

  /** @internal Made by {@link openSession}. */
  constructor(
    sock: number,
    requests: number,
    child: Deno.ChildProcess,
    shown: number | string,
    env: Record<string, string>,
    frozen: { files: FreezerFile[]; shown: string },
  ) {
    this.#sock = sock;
    this.#requests = requests;
    this.#open = [sock, requests, ...frozen.files.map((f) => f.fd)];
    this.#pipeDev = pipeDevice(requests);
    _dropped.register(this, this.#open, this);
    this.#child = child;
    this.#shown = shown;
    this.#env = env;
    this.#frozen = frozen;
  }

  /**
   * The PID of the session's helper, in the caller's pid namespace (the target never sees
   * it). With a cgroup v2 directory in `cgroups`, the process that forks the programs is its
   * only child, born in that cgroup (ffi/helper.c H); both end together.
   */
  get pid(): number {
    return this.#child.pid;
  }

  /**
   * Runs a program in the session's target and collects its status and output.
   *
   * @param program the program, looked up on PATH as {@link NsCommand} does
   * @param options arguments, environment, working directory, stdin, abort signal
   * @returns code, signal, stdout and stderr as `Deno.Command#output`, with `setupError`
   *   when the program did not start (126 not executable, 127 not found, 125 set-up)
   * @throws {NamespaceError} code ESRCH when the target exited (nothing is run)
   * @throws {Error} when the session is closed
   * @throws the signal's reason (an `AbortError`) when it was aborted before the program
   *   started: nothing is run
   */
  output(program: string, options: SessionExecOptions = {}): Promise<NsCommandOutput> {
    let request: Uint8Array;
    try {
      request = this.#request(program, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#queue.then(() => this.#run(program, request, options));
    this.#queue = run.catch(() => {});
    return run;
  }

  /**
   * Ends the session: a program still running is killed, and the helper exits.
   * Idempotent.
   *
   * @returns when the helper has exited
   */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      _dropped.unregister(this);
      // The helper reads EOF (and kills a running program); a poll of ours on the socket
      // wakes. The fds are closed once no call uses them (a frame being written: #send).
      if (!this.#sending) this.#closeRequests();
      shutdownSocket(this.#sock);
      await this.#queue;
      closeFd(this.#sock);
      this.#open[0] = -1;
      for (const f of this.#frozen.files) closeFd(f.fd);
      this.#open.fill(-1, 2);
    }
    // Unref'd at open (a session must not keep Deno alive); waited for here, it must.
    this.#child.ref();
    await this.#child.status;
  }

  /** Closes the session (`await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #closeRequests(): void {
    closeFd(this.#requests);
    this.#requests = -1;
    this.#open[1] = -1;
  }

  /**
   * Writes a frame whole (the pipe may take less at once).
   *
   * @returns false when the helper is gone or the session was closed meanwhile
   */
  async #send(frame: Uint8Array): Promise<boolean> {
    this.#sending = true;
    try {
      for (let rest = frame; this.#requests >= 0;) {
        const n = writeSome(this.#requests, rest);
        if (n < 0) return false;
        rest = rest.subarray(n);
        if (rest.length === 0) return true;
        await pollReady([this.#requests], [POLLOUT]);
      }
      return false;
    } finally {
      this.#sending = false;
      if (this.#closed) this.#closeRequests();
    }
  }

  /** The request's frame: its length, then 'X', stdin, argc, envc, then cwd, argv and envp,
   * NUL-terminated. */
  #request(program: string, o: SessionExecOptions): Uint8Array {
    if (typeof program !== "string" || program === "") {
      throw new TypeError("Cannot run an empty program name");
    }
    if (o.stdin !== undefined && !(o.stdin instanceof Uint8Array)) {
      throw new TypeError("Cannot use stdin: give its bytes as a Uint8Array");
    }
    _checkShapes({ target: 0, args: o.args, env: o.env, cwd: o.cwd, signal: o.signal });
    const env = { ...this.#env };
    for (const [k, v] of Object.entries(o.env ?? {})) {
      if (k === "" || k.includes("=") || k.includes("\0")) {
        throw new TypeError(
          `Cannot pass an environment variable named ${
            JSON.stringify(k)
          }: a name is not empty and has no '=' or NUL`,
        );
      }
      env[k] = String(v);
    }
    const argv = [program, ...(o.args ?? []).map(String)];
    const envp = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    const strings = [o.cwd ?? "", ...argv, ...envp];
    if (strings.some((s) => s.includes("\0"))) {
      throw new TypeError("Cannot pass an argument, variable or cwd with a NUL byte");
    }
    if (argv.length > SESSION_MAX_STRINGS || envp.length > SESSION_MAX_STRINGS) {
      throw new RangeError(
        `Cannot run ${program}: more than ${SESSION_MAX_STRINGS} arguments or variables`,
      );
    }
    const text = new TextEncoder().encode(strings.join("\0") + "\0");
    if (12 + text.length > SESSION_MAX_REQUEST) {
      throw new RangeError(
        `Cannot run ${program}: its arguments and environment are longer than ${SESSION_MAX_REQUEST} bytes`,
      );
    }
    const out = new Uint8Array(4 + 12 + text.length);
    const v = new DataView(out.buffer);
    v.setUint32(0, 12 + text.length, true);
    out[4] = "X".charCodeAt(0);
    out[5] = o.stdin ? 1 : 0;
    v.setUint32(8, argv.length, true);
    v.setUint32(12, envp.length, true);
    out.set(text, 16);
    return out;
  }

  async #run(
    program: string,
    request: Uint8Array,
    o: SessionExecOptions,
  ): Promise<NsCommandOutput> {
    if (this.#closed) throw new Error(`Cannot run ${program}: the session is closed`);
    // Aborted before its turn (or before the call): nothing starts, as fetch refuses.
    o.signal?.throwIfAborted();
    if (this.#targetGone) throw this.#gone(program);
    if (this.#tampered) throw this.#tamperedError(program);
    // A container paused since the session opened froze the helper (it is in its cgroups):
    // the request would wait until it is thawed, so refuse it, as `docker exec` does.
    this.#assertNotFrozen();
    // Every fd we get is closed exactly once: a second close would hit whatever Deno opened
    // under that number meanwhile.
    const open = new Set<number>();
    const close = (fd: number) => {
      if (open.delete(fd)) closeFd(fd);
    };
    try {
      let first: SessionReply | "eof" | null = null;
      if (await this.#send(request)) {
        while ((first = takeReply(this.#sock)) === null) {
          await pollReady([this.#sock], [POLLIN]);
        }
      } else {
        // The helper is gone; what it said before (the target exited) may still be waiting.
        first = takeReply(this.#sock) ?? "eof";
      }
      if (first !== "eof") { for (const fd of first.fds) open.add(fd); }
      if (first === "eof" || first.type === "D") {
        // The helper is gone (or going): nothing later may take a reply meant for this call.
        if (first !== "eof") this.#note(first);
        this.#breakWire();
        if (this.#closed) throw new Error(`Cannot run ${program}: the session is closed`);
        throw this.#gone(program);
      }
      if (first.type === "F" && first.fds.length === 0) throw this.#failed(program, -first.value);
      // Anything but the 'P' of this request, with the program's pipes, is forged.
      const fds = first.fds;
      if (first.type !== "P" || fds.length !== (o.stdin ? 4 : 3) || !allPipes(fds, this.#pipeDev)) {
        throw this.#forged(program);
      }
      const [out, err, setup, input] = fds;
      for (const fd of fds) setNonblocking(fd);
      return await this.#wait(program, { input, out, err, setup, close }, o);
    } finally {
      for (const fd of [...open]) close(fd);
    }
  }

  /**
   * assertNotFrozen on the files opened with the session: each read again from its start,
   * one syscall each (assertNotFrozen's look-ups and safe opens cost ~0.3 ms a program).
   */
  #assertNotFrozen(): void {
    for (const { fd, frozen } of this.#frozen.files) {
      const text = readFromStart(fd, this.#buf);
      // ENODEV: its cgroup was removed (the container stopped), as a file not there.
      if (typeof text === "number") {
        if (text === ENODEV) continue;
        throw new SyscallError("pread", text);
      }
      if (frozen(text)) throw _pausedError(this.#frozen.shown);
    }
  }

  #failed(program: string, errno: number): NamespaceError {
    return new NamespaceError(`Cannot run ${program} in the session`, {
      errno,
      syscall: "fork",
      target: this.#shown,
      hint: errno === 12 ? "the target's pid namespace has no init process left" : undefined,
    });
  }

  /** Collects replies and output until the program's status is in and its pipes closed. */
  async #wait(
    program: string,
    fds: {
      input?: number;
      out: number;
      err: number;
      setup: number;
      close: (fd: number) => void;
    },
    o: SessionExecOptions,
  ): Promise<NsCommandOutput> {
    const { out, err, setup } = fds;
    const stdout: Uint8Array[] = [], stderr: Uint8Array[] = [];
    let status: number | undefined, failed: number | undefined;
    let outOpen = true, errOpen = true, sockOpen = true;
    let pending = o.stdin ?? new Uint8Array();
    let inFd = fds.input ?? -1;
    const closeInput = () => {
      if (inFd >= 0) fds.close(inFd);
      inFd = -1;
    };
    if (pending.length === 0) closeInput();
    const abort = () => {
      // The pipe keeps the order: this reaches the program of this request, or nothing. A
      // frame this small is written whole or not at all (PIPE_BUF).
      if (sockOpen && status === undefined && failed === undefined && this.#requests >= 0) {
        writeSome(this.#requests, TERMINATE);
      }
    };
    o.signal?.addEventListener("abort", abort);
    if (o.signal?.aborted) abort();
    const replies = () => {
      for (let r = takeReply(this.#sock); r !== null; r = takeReply(this.#sock)) {
        if (r === "eof") {
          sockOpen = false;
          this.#breakWire();
          return;
        }
        for (const fd of r.fds) closeFd(fd);
        // The helper sends one 'P' a program, first: one now is a thief's (see #forged).
        if (r.type === "P") throw this.#forged(program);
        this.#note(r);
        if (r.type === "S") status = r.value;
        else if (r.type === "F") failed = -r.value;
      }
    };
    try {
      for (;;) {
        // Whatever is ready, without waiting: each poll is a trip through Deno's thread pool.
        if (sockOpen && status === undefined && failed === undefined) replies();
        if (outOpen) outOpen = !drainInto(out, stdout, this.#buf);
        if (errOpen) errOpen = !drainInto(err, stderr, this.#buf);
        if (inFd >= 0) {
          const n = writeSome(inFd, pending);
          pending = n < 0 ? new Uint8Array() : pending.subarray(n);
          if (pending.length === 0) closeInput();
        }
        const waiting = sockOpen && status === undefined && failed === undefined;
        // The helper ended without a status: nothing more will come.
        if (!sockOpen && status === undefined && failed === undefined) break;
        if (!waiting && !outOpen && !errOpen) break;
        // Closed: a process the program left in the background may hold its pipes for ever.
        if (this.#closed) break;
        // The helper holds the program's stdout and stderr open until it has sent the status
        // (ffi/helper.c session_loop), so the socket's data needs watching only once they
        // closed; until then only its hang-up (POLLHUP, reported unasked: close() shut it
        // down, or the helper is gone).
        const sockEvents = waiting && !outOpen && !errOpen ? POLLIN : 0;
        await pollReady(
          [sockOpen ? this.#sock : -1, outOpen ? out : -1, errOpen ? err : -1, inFd],
          [sockEvents, POLLIN, POLLIN, POLLOUT],
        );
      }
    } finally {
      o.signal?.removeEventListener("abort", abort);
      closeInput();
    }
    if (status === undefined) {
      if (failed !== undefined) throw this.#failed(program, failed);
      if (this.#closed) throw new Error(`Cannot run ${program}: the session is closed`);
      throw this.#gone(program);
    }
    const setupRecord: Uint8Array[] = [];
    drainInto(setup, setupRecord, this.#buf);
    const signo = status & 0x7f;
    const code = signo ? 128 + signo : (status >> 8) & 0xff;
    const setupError = setupRecord.length
      ? _setupError(_concat(setupRecord), this.#shown, signo ? -1 : code) ?? undefined
      : undefined;
    const result: NsCommandOutput = {
      success: code === 0,
      code,
      signal: signo ? (SIGNALS[signo - 1] ?? null) as Deno.Signal | null : null,
      stdout: _concat(stdout),
      stderr: _concat(stderr),
    };
    if (setupError) result.setupError = setupError;
    return result;
  }

  /**
   * The wire cannot be trusted any more (the helper's socket closed, or carried what the
   * helper never sends): end the session as close() does, so that no later call takes a
   * reply meant for another (the helper reads EOF, kills its program and exits).
   */
  #breakWire(): void {
    if (!this.#sending) this.#closeRequests();
    shutdownSocket(this.#sock);
  }

  /**
   * A reply the helper never sends: a task of the target with CAP_SYS_PTRACE took the
   * helper's end of the socket from a child at its birth (ffi/helper.c session_loop) and
   * wrote on it. The session ends.
   */
  #forged(program: string): Error {
    this.#breakWire();
    this.#tampered = true;
    return this.#tamperedError(program);
  }

  #tamperedError(program: string): Error {
    return new Error(
      `Cannot run ${program}: the session's replies were tampered with (one the helper never sends: a task of the target took its socket?); the session has ended`,
    );
  }

  #note(r: SessionReply): void {
    if (r.type === "D") this.#targetGone = true;
  }

  #gone(program: string): Error {
    if (!this.#targetGone) {
      return new Error(`Cannot run ${program}: the session's helper exited (killed?)`);
    }
    return new NamespaceError(`Cannot run ${program} in the session of ${this.#shown}`, {
      errno: 3,
      syscall: "session",
      target: this.#shown,
      quiet: true,
      hint: "the target exited",
    });
  }
}

/**
 * The target of `openSession(target, options)` when options have one too, as
 * containerExecOptions(c) has (`c` itself): a PID and a pinned process or container of that
 * PID name the same process, and the pinned one is kept (its start time is checked when the
 * helper joins, so a PID reused since is refused, not joined).
 */
function _oneTarget(target: Target, other: Target | undefined): Target {
  if (other === undefined || other === target) return target;
  const pidOf = (t: Target) => typeof t === "object" ? t.pid : typeof t === "number" ? t : NaN;
  const pinned = (t: Target) => typeof t === "object" ? t : undefined;
  if (pidOf(target) === pidOf(other)) {
    const a = pinned(target), b = pinned(other);
    if (!a || !b) return a ?? b!;
    if (a.startTime === b.startTime) return a;
  }
  const show = (t: Target) =>
    typeof t !== "object"
      ? JSON.stringify(t)
      : `${"container" in t ? "container" : "process"} ${t.pid}`;
  throw new TypeError(
    `Cannot open a session with two targets: ${show(target)} and options.target ${
      show(other)
    } are not the same process (pass the container itself: openSession(c, containerExecOptions(c)))`,
  );
}

function _concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Joins a target once and keeps a helper there that runs programs on request: each
 * {@link ExecSession.output} then costs a fork and an exec in the target (no Deno spawn, no
 * joins, no reading the target's /proc again), about as fast as a local `Deno.Command`.
 *
 * Every program starts exactly as a {@link NsCommand} with the same options would: in the
 * target's namespaces, cgroups, credentials, capabilities and seccomp filter, from its first
 * instruction. The helper that forks it did every privileged step itself and holds no more
 * than the target does; it stays in the caller's pid namespace, where the target cannot see
 * it, and never gives a program anything but its stdin, stdout and stderr. It exits when the
 * session is closed, when this Deno process exits, and when the target exits (so it never
 * holds a stopped container's cgroup); a call after that throws, and nothing runs.
 *
 * Programs run one at a time, in the order asked; open several sessions to run several at
 * once. A session's options are fixed: a different user or capabilities need another one.
 *
 * Needs what {@link NsCommand} needs: `--allow-ffi --allow-run --allow-env` (or `-A`), and
 * the rights the kernel asks for setns(2).
 *
 * @param target a PID, a namespace file, or a pinned process or container
 * @param options where and as whom programs run (see {@link SessionOptions})
 * @returns the open session; close it (or `await using`) when done (one dropped unclosed ends
 *   once collected)
 * @throws {NamespaceError} when a join or a set-up step fails (nothing ever runs then)
 *
 * @example
 * ```ts
 * import { openSession } from "@nsjoin/nsjoin";
 * // Our own process as the target, no namespace joined; give a container's PID (and its
 * // containerExecOptions) to run inside it.
 * await using session = await openSession(Deno.pid, { namespaces: [], env: { A: "1" } });
 * const r = await session.output("sh", { args: ["-c", "echo $A $B; pwd"], env: { B: "2" }, cwd: "/tmp" });
 * if (new TextDecoder().decode(r.stdout) !== "1 2\n/tmp\n") throw new Error("not as asked");
 * ```
 */
export async function openSession(
  target: Target,
  options: SessionOptions = {},
): Promise<ExecSession> {
  target = _oneTarget(target, options.target);
  for (const k of PER_EXEC) {
    if ((options as Record<string, unknown>)[k] !== undefined) {
      throw new TypeError(`Cannot use ${k} in a session's options: it belongs to one program`);
    }
  }
  const plan = _sessionPlan({ ...options, target });
  // The helper would join a frozen cgroup and wait there until it is thawed.
  const container = (target as { container?: { id?: unknown; name?: unknown } }).container;
  const paused = typeof container?.id === "string"
    ? _pausedShown({
      id: container.id,
      name: typeof container.name === "string" ? container.name : undefined,
    })
    : typeof plan.shown === "number"
    ? `process ${plan.shown}`
    : plan.shown;
  assertNotFrozen(options.cgroups ?? [], paused);
  // Each fd is closed once: a second close would hit whatever Deno opened under its number.
  const open = new Set<number>();
  const close = (fd: number) => {
    if (open.delete(fd)) closeFd(fd);
  };
  const frozen: FreezerFile[] = [];
  const pair = socketPair();
  if (typeof pair === "number") throw new Error(`Cannot open a session: no socket (errno ${pair})`);
  // The socket is only for the helper to hand us the one it replies on (ffi/session.ts says
  // why we never send on one it holds); requests go on the pipe.
  const [ours, theirs] = pair;
  open.add(ours).add(theirs);
  const requests = requestPipe();
  const pipe = new _ErrorPipe();
  let child: Deno.ChildProcess | undefined;
  try {
    if (typeof requests === "number") {
      throw new Error(`Cannot open a session: no pipe (errno ${requests})`);
    }
    open.add(requests.ours).add(requests.theirs);
    // What says the cgroups are frozen, for the check before each program: kept open, the
    // session's from its start (closed with the others of `open` when opening fails).
    for (const { path, frozen: test } of _freezerFiles(options.cgroups ?? [])) {
      try {
        const fd = openFileSafe(path);
        open.add(fd);
        frozen.push({ fd, frozen: test });
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    const spawn = () => {
      const h = helper();
      h.verify();
      // The helper's ends are inheritable for the spawn alone (spawning is synchronous).
      setCloexec(theirs, false);
      setCloexec(requests.theirs, false);
      try {
        return pipe.during(
          () =>
            new Deno.Command(h.path, {
              args: [
                `L${theirs}:${requests.theirs}`,
                ...(pipe.writeFd === undefined ? [] : [`e${pipe.writeFd}`]),
                ...plan.args,
              ],
              // The helper needs none: each request carries its program's environment.
              clearEnv: true,
              env: {},
              stdin: "null",
              stdout: "null",
              stderr: "null",
            }).spawn(),
          plan.shown,
        );
      } finally {
        setCloexec(theirs, true);
        setCloexec(requests.theirs, true);
      }
    };
    try {
      child = spawn();
    } catch (error) {
      // As NsCommand: a refused memfd (an LSM, ETXTBSY) falls back to the private file once.
      const code = (error as { code?: string }).code;
      const refused = error instanceof Deno.errors.PermissionDenied || code === "ETXTBSY";
      if (error instanceof Deno.errors.NotCapable && /\brun access\b/.test(error.message)) {
        throw notCapable(_withoutRun("open a session"));
      }
      if (!refused || !helperExecRefused()) throw error;
      child = spawn();
    }
    // Not kept alive by the session: when Deno exits, the helper reads EOF and exits.
    child.unref();
    close(theirs);
    close(requests.theirs);
    const replies = await _first(ours, takeFd);
    if (typeof replies === "number") open.add(replies);
    close(ours);
    const ready = typeof replies === "number" ? await _first(replies, takeReply) : "eof";
    if (ready === "eof" || ready.type !== "R") {
      child.ref();
      const status = await child.status;
      const { setupError } = pipe.attach({ ...status });
      throw setupError ??
        new Error(`Cannot open a session in ${plan.shown}: the helper exited with ${status.code}`);
    }
    pipe.close();
    return new ExecSession(
      replies as number,
      requests.ours,
      child,
      plan.shown,
      plan.env,
      { files: frozen.splice(0), shown: paused },
    );
  } catch (error) {
    for (const fd of [...open]) close(fd);
    pipe.close();
    try {
      child?.kill("SIGKILL");
    } catch {
      // It exited already (a failed set-up).
    }
    throw error;
  }
}

/** The first thing `take` gets from `sock` (the helper's reply socket, its "R"), or "eof". */
async function _first<T>(
  sock: number,
  take: (sock: number) => T | null | "eof",
): Promise<T | "eof"> {
  for (;;) {
    const r = take(sock);
    if (r !== null) return r;
    await pollReady([sock], [1]);
  }
}
