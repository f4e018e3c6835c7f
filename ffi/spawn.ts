/**
 * What `Deno.Command#output` and `#outputSync` do, through libc: posix_spawn(3), pipes,
 * ppoll(2) and wait4(2). Deno loads and compiles its process and streams JavaScript at the
 * first spawn of every process (~5–6 ms, measured with bench/import_bench.ts), which a
 * script that runs one `NsCommand` would pay for a helper that runs a millisecond.
 *
 * The child starts as Rust's `std::process::Command` (under `Deno.Command`) starts it: an
 * empty signal mask and SIGPIPE at its default (Deno ignores SIGPIPE, and ignored signals
 * survive execve), other ignored signals kept (nohup's SIGHUP), close-on-exec fds closed,
 * stdio on the pipes or /dev/null. posix_spawn runs the child on its own stack
 * (clone(CLONE_VM|CLONE_VFORK)): nothing of Deno runs in it, which makes it safe from a
 * multithreaded process where fork() followed by JavaScript would not be.
 *
 * Waiting happens on a pool thread (a `nonblocking` call: ppoll until the pipes reach EOF,
 * then wait4), where only fds and the child's PID are used — no namespace, no errno.
 *
 * @module
 */
import {
  cstr,
  encodeText,
  environEntries,
  errno,
  EXEC_SYMBOLS,
  libcFunction,
  libcSubset,
  SyscallError,
} from "./libc.ts";

/** How the child's standard fds are set up (`Deno.Command`'s values; stdin never piped here). */
export interface SpawnStdio {
  stdin: "inherit" | "null";
  stdout: "inherit" | "null" | "piped";
  stderr: "inherit" | "null" | "piped";
}

/** One program to run and collect. */
export interface SpawnRequest {
  /** An absolute path (no PATH search). */
  path: string;
  /** argv, argv[0] included. */
  argv: readonly string[];
  /** The whole environment, or with `inheritEnv` what replaces or adds to ours. */
  env: Record<string, string>;
  /**
   * Start from this process's environment as libc holds it, bytes as they are, as
   * Deno.Command does without `clearEnv` (Deno.env.toObject() leaves out what is not UTF-8).
   */
  inheritEnv?: boolean;
  stdio: SpawnStdio;
  /** Sends SIGTERM to the child when aborted, as `Deno.Command`'s `signal` (async only). */
  signal?: AbortSignal;
}

// Syscall numbers (<asm/unistd.h>: x86_64's table, aarch64's asm-generic one).
const NR = Deno.build.arch === "x86_64"
  ? {
    pipe2: 293n,
    read: 0n,
    close: 3n,
    openat: 257n,
    ppoll: 271n,
    wait4: 61n,
    waitid: 247n,
    kill: 62n,
  }
  : {
    pipe2: 59n,
    read: 63n,
    close: 57n,
    openat: 56n,
    ppoll: 73n,
    wait4: 260n,
    waitid: 95n,
    kill: 129n,
  };
const O_WRONLY = 1;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100n;
const POLLIN = 0x1;
const WNOHANG = 1;
const P_PID = 1n;
const WEXITED = 4n;
const WNOWAIT = 0x01000000n;
const SIGINFO_SIZE = 128;
const SIGTERM = 15;
const SIGPIPE = 13;
const ECHILD = 10;
// <spawn.h>, the same in glibc and musl.
const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
// sizeof(posix_spawn_file_actions_t) is 80 and sizeof(posix_spawnattr_t) 336 in glibc and
// musl on 64-bit Linux; the buffers are larger so that a libc with bigger ones still fits.
const FILE_ACTIONS_SIZE = 256;
const ATTR_SIZE = 1024;
/** sigset_t: 1024 bits in glibc (the kernel reads the first 64). */
const SIGSET_SIZE = 128;
const CHUNK = 65536;

// Linux signal names by number (the same on x86_64 and aarch64), for CommandStatus.signal.
const SIGNALS = ("- SIGHUP SIGINT SIGQUIT SIGILL SIGTRAP SIGABRT SIGBUS SIGFPE SIGKILL SIGUSR1 " +
  "SIGSEGV SIGUSR2 SIGPIPE SIGALRM SIGTERM SIGSTKFLT SIGCHLD SIGCONT SIGSTOP SIGTSTP SIGTTIN " +
  "SIGTTOU SIGURG SIGXCPU SIGXFSZ SIGVTALRM SIGPROF SIGWINCH SIGIO SIGPWR SIGSYS").split(" ");

// The functions below are written `(function f() {…}).bind(undefined)`, as the planning
// functions of src/command.ts: V8 compiles such a function with its module, so its bytecode
// is in Deno's code cache, where a declared function is compiled again at its first call in
// every process (and every one of these is called by a script's first `NsCommand`).

const _load = (function _load() {
  const buf = "buffer" as const;
  const i32 = <P extends Deno.NativeType[]>(name: string, ...parameters: P) =>
    libcFunction(name, { parameters, result: "i32" });
  const syscall = () =>
    libcFunction("syscall", {
      parameters: ["i64", "i64", "i64", "i64", "i64", "i64"],
      result: "i64",
      nonblocking: true,
    });
  return {
    posix_spawn: i32("posix_spawn", "pointer", buf, buf, buf, buf, buf),
    fa_init: i32("posix_spawn_file_actions_init", buf),
    fa_adddup2: i32("posix_spawn_file_actions_adddup2", buf, "i32", "i32"),
    fa_destroy: i32("posix_spawn_file_actions_destroy", buf),
    attr_init: i32("posix_spawnattr_init", buf),
    attr_setflags: i32("posix_spawnattr_setflags", buf, "i16"),
    attr_setsigmask: i32("posix_spawnattr_setsigmask", buf, buf),
    attr_setsigdefault: i32("posix_spawnattr_setsigdefault", buf, buf),
    attr_destroy: i32("posix_spawnattr_destroy", buf),
    /** syscall(2) on a pool thread, for the waits: its result is a Promise. */
    wait: syscall(),
  };
}).bind(undefined);

let _fns: ReturnType<typeof _load> | undefined;

/**
 * A syscall on this thread; -errno on failure. Four arguments at most (ppoll's fifth,
 * the sigset size, is read only with a sigset).
 */
const _sys = (function _sys(
  nr: bigint,
  a: number | bigint = 0,
  b: number | bigint = 0,
  c: number | bigint = 0,
): number {
  const r = libcSubset(...EXEC_SYMBOLS).syscall(nr, BigInt(a), BigInt(b), BigInt(c));
  return r < 0 ? -errno() : r;
}).bind(undefined);

const _addr = (function _addr(buf: ArrayBufferView): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as BufferSource)));
}).bind(undefined);

/**
 * A NULL-terminated array of C strings, in one buffer with the strings after the pointers
 * (one encode for the whole environment); a bigint entry is a pointer to a string that
 * outlives the call.
 */
const _cArray = (function _cArray(
  entries: readonly (string | bigint)[],
): Uint8Array<ArrayBuffer> {
  const strings = entries.filter((e): e is string => typeof e === "string");
  // cstr's check, and its error, for a string with a NUL.
  for (const s of strings) if (s.includes("\0")) cstr(s);
  const head = (entries.length + 1) * 8;
  const text = encodeText(strings.map((s) => s + "\0").join(""));
  const out = new Uint8Array(head + text.length);
  out.set(text, head);
  const ptrs = new BigUint64Array(out.buffer, 0, entries.length + 1);
  const base = _addr(out);
  let at = head;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (typeof e === "bigint") ptrs[i] = e;
    else {
      ptrs[i] = base + BigInt(at);
      at = out.indexOf(0, at) + 1;
    }
  }
  return out;
}).bind(undefined);

/** envp for `req`: with `inheritEnv`, our environment with `req.env` replacing and adding. */
const _envp = (function _envp(req: SpawnRequest): Uint8Array<ArrayBuffer> {
  if (req.inheritEnv) return _cArray(environEntries(req.env));
  return _cArray(Object.entries(req.env).map(([k, v]) => `${k}=${v}`));
}).bind(undefined);

/** A started child: its PID and our ends of its pipes (-1 when not piped). */
interface _Child {
  pid: number;
  out: number;
  err: number;
}

const _start = (function _start(req: SpawnRequest): _Child {
  _fns ??= _load();
  const fns = _fns;
  const opened: number[] = [];
  const pipe = (): [number, number] => {
    const fds = new Int32Array(2);
    const r = _sys(NR.pipe2, _addr(fds), O_CLOEXEC);
    if (r < 0) throw new SyscallError("pipe2", -r);
    opened.push(fds[0], fds[1]);
    return [fds[0], fds[1]];
  };
  // As Rust's Stdio::null (Deno.Command): read-only for stdin, write-only for the others.
  const devNull = [-1, -1];
  const nullFd = (flags: number) => {
    if (devNull[flags] < 0) {
      const fd = _sys(NR.openat, AT_FDCWD, _addr(cstr("/dev/null")), flags | O_CLOEXEC);
      if (fd < 0) throw new SyscallError("open(/dev/null)", -fd);
      opened.push(devNull[flags] = fd);
    }
    return devNull[flags];
  };
  const actions = new Uint8Array(FILE_ACTIONS_SIZE);
  const attr = new Uint8Array(ATTR_SIZE);
  const ours = { out: -1, err: -1 };
  let started = false;
  try {
    fns.fa_init.call(actions);
    fns.attr_init.call(attr);
    // dup2 clears close-on-exec on the child's copy; every fd we opened keeps it.
    if (req.stdio.stdin === "null") fns.fa_adddup2.call(actions, nullFd(0 /* O_RDONLY */), 0);
    for (const [fd, how] of [[1, req.stdio.stdout], [2, req.stdio.stderr]] as const) {
      if (how === "null") fns.fa_adddup2.call(actions, nullFd(O_WRONLY), fd);
      if (how !== "piped") continue;
      const [r, w] = pipe();
      fns.fa_adddup2.call(actions, w, fd);
      if (fd === 1) ours.out = r;
      else ours.err = r;
    }
    const none = new Uint8Array(SIGSET_SIZE);
    const pipeSig = new Uint8Array(SIGSET_SIZE);
    pipeSig[(SIGPIPE - 1) >> 3] |= 1 << ((SIGPIPE - 1) & 7);
    fns.attr_setflags.call(attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    fns.attr_setsigmask.call(attr, none);
    fns.attr_setsigdefault.call(attr, pipeSig);
    const pid = new Int32Array(1);
    const argv = _cArray(req.argv);
    const envp = _envp(req);
    // posix_spawn returns the error (of execve too: glibc's child reports it) instead of
    // setting errno.
    const rc = fns.posix_spawn.call(
      Deno.UnsafePointer.of(pid),
      cstr(req.path),
      actions,
      attr,
      argv,
      envp,
    );
    if (rc !== 0) throw new SyscallError("posix_spawn", rc);
    started = true;
    return { pid: pid[0], ...ours };
  } finally {
    fns.fa_destroy.call(actions);
    fns.attr_destroy.call(attr);
    // Our ends of the pipes stay open once started; the child's ends and /dev/null never.
    const keep = started ? [ours.out, ours.err] : [];
    for (const fd of opened) if (!keep.includes(fd)) _sys(NR.close, fd);
  }
}).bind(undefined);

/** The child's pipes while they are read: the fds not at EOF yet, and each one's bytes. */
interface _Pipes {
  open: number[];
  chunks: Map<number, Uint8Array[]>;
}

const _pipes = (function _pipes(child: _Child): _Pipes {
  const open = [child.out, child.err].filter((fd) => fd >= 0);
  return { open, chunks: new Map(open.map((fd) => [fd, []])) };
}).bind(undefined);

/** struct pollfd[] of the open pipes, or undefined when all reached EOF. */
const _pollFds = (function _pollFds(pipes: _Pipes): Uint8Array<ArrayBuffer> | undefined {
  if (!pipes.open.length) return undefined;
  const fds = new Int32Array(pipes.open.length * 2);
  pipes.open.forEach((fd, i) => {
    fds[i * 2] = fd;
    fds[i * 2 + 1] = POLLIN; // events; revents (the high half) starts at 0
  });
  return new Uint8Array(fds.buffer);
}).bind(undefined);

/** Reads what ppoll reported ready; closes a pipe at EOF. */
const _drain = (function _drain(pipes: _Pipes, polled: Uint8Array<ArrayBuffer>): void {
  const fds = new Int32Array(polled.buffer);
  for (let i = 0; i < fds.length; i += 2) {
    if (fds[i + 1] >>> 16 === 0) continue; // no revents
    const fd = fds[i];
    const buf = new Uint8Array(CHUNK);
    const n = _sys(NR.read, fd, _addr(buf), CHUNK);
    if (n > 0) pipes.chunks.get(fd)!.push(buf.subarray(0, n));
    else if (n !== -4 /* EINTR: read again */) {
      pipes.open.splice(pipes.open.indexOf(fd), 1);
      _sys(NR.close, fd);
    }
  }
}).bind(undefined);

const _closePipes = (function _closePipes(pipes: _Pipes): void {
  for (const fd of pipes.open.splice(0)) _sys(NR.close, fd);
}).bind(undefined);

/** Reaps the child if it exited: its wait status, or undefined while it runs. */
const _reaped = (function _reaped(pid: number, block: boolean): number | undefined {
  const status = new Int32Array(1);
  const r = _sys(NR.wait4, pid, _addr(status), block ? 0 : WNOHANG);
  if (r === pid) return status[0];
  if (r === -ECHILD) throw new SyscallError("wait4", ECHILD);
  return undefined;
}).bind(undefined);

const _output = (function _output(
  child: _Child,
  status: number,
  pipes: _Pipes,
): Deno.CommandOutput {
  const termsig = status & 0x7f;
  const signal = termsig === 0 ? null : (SIGNALS[termsig] as Deno.Signal | undefined) ?? null;
  const code = termsig === 0 ? (status >> 8) & 0xff : 128 + termsig;
  const out = { success: code === 0, code, signal } as Deno.CommandOutput;
  for (const [name, fd] of [["stdout", child.out], ["stderr", child.err]] as const) {
    const chunks = pipes.chunks.get(fd);
    const bytes = chunks && new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks ?? []) {
      bytes!.set(c, at);
      at += c.length;
    }
    // As Deno.CommandOutput: reading an output that was not piped throws.
    Object.defineProperty(out, name, {
      enumerable: true,
      get() {
        if (!bytes) throw new TypeError(`Cannot get '${name}': '${name}' is not piped`);
        return bytes;
      },
    });
  }
  return out;
}).bind(undefined);

const _collect = (async function _collect(
  child: _Child,
  req: SpawnRequest,
): Promise<Deno.CommandOutput> {
  const pipes = _pipes(child);
  let reaped = false;
  const onAbort = () => {
    // Not reaped yet, so the PID is still the child's (a zombie's at worst).
    if (!reaped) _sys(NR.kill, child.pid, SIGTERM);
  };
  req.signal?.addEventListener("abort", onAbort, { once: true });
  if (req.signal?.aborted) onAbort();
  const wait = _fns!.wait;
  try {
    for (let fds = _pollFds(pipes); fds; fds = _pollFds(pipes)) {
      const n = await wait.call(NR.ppoll, _addr(fds), BigInt(fds.length / 8), 0n, 0n, 8n);
      if (n > 0n) _drain(pipes, fds); // -1: EINTR on the pool thread; poll again
    }
    // waitid(WNOWAIT) leaves the child a zombie for wait4 here, where errno can be read
    // and the abort handler can still signal the PID safely until then.
    const info = new Uint8Array(SIGINFO_SIZE);
    let status = _reaped(child.pid, false);
    while (status === undefined) {
      await wait.call(NR.waitid, P_PID, BigInt(child.pid), _addr(info), WEXITED | WNOWAIT, 0n);
      status = _reaped(child.pid, false);
    }
    reaped = true;
    return _output(child, status, pipes);
  } finally {
    req.signal?.removeEventListener("abort", onAbort);
    _closePipes(pipes);
  }
}).bind(undefined);

/**
 * Runs a program and collects its status and output, as `Deno.Command#output`. The child
 * is started synchronously, before the first await, as Deno.Command#output starts its
 * own: a caller that makes an fd inheritable for the start only (NsCommand's error pipe)
 * can close it right after.
 *
 * @param req the program, its environment and stdio
 * @returns code, signal, and the piped stdout and stderr
 * @throws {SyscallError} when it cannot be started (posix_spawn's error: EACCES, E2BIG…),
 *   synchronously
 */
export const spawnOutput = (function spawnOutput(
  req: SpawnRequest,
): Promise<Deno.CommandOutput> {
  return _collect(_start(req), req);
}).bind(undefined);

/**
 * Runs a program and collects its status and output on this thread, as
 * `Deno.Command#outputSync` (which ignores `signal` too).
 *
 * @param req the program, its environment and stdio
 * @returns code, signal, and the piped stdout and stderr
 * @throws {SyscallError} when it cannot be started
 */
export const spawnOutputSync = (function spawnOutputSync(req: SpawnRequest): Deno.CommandOutput {
  const child = _start(req);
  const pipes = _pipes(child);
  try {
    for (let fds = _pollFds(pipes); fds; fds = _pollFds(pipes)) {
      if (_sys(NR.ppoll, _addr(fds), fds.length / 8, 0) > 0) _drain(pipes, fds);
    }
    let status = _reaped(child.pid, true);
    while (status === undefined) status = _reaped(child.pid, true);
    return _output(child, status, pipes);
  } finally {
    _closePipes(pipes);
  }
}).bind(undefined);
