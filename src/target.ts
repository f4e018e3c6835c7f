import { fstatSafe, isNotFound } from "../ffi/files.ts";
import {
  check,
  errno,
  EXEC_SYMBOLS,
  libcSubset,
  SYSCALL_NUMBERS,
  SyscallError,
} from "../ffi/libc.ts";
import { NamespaceError } from "./errors.ts";
import { readProcText } from "./_proc.ts";
import { assertPid, type NamespaceType, namespaceTypeOfFile } from "./namespaces.ts";
import { netnsPath } from "./netns.ts";
import { nsjoinSetting } from "./_permissions.ts";

/**
 * What to join: a PID, a namespace file path (/proc/PID/ns/net, /run/netns/NAME), or a
 * process pinned with {@link pinProcess}.
 */
export type Target = number | string | PinnedProcess;

/** A target after resolution: a process (pinned by its start time), or one namespace file. */
export type ResolvedTarget =
  | {
    kind: "process";
    pid: number;
    startTime: number;
    /** The pidfs inode (Linux 6.9+): the helper checks it with one fstat. */
    inode?: number;
  }
  | { kind: "file"; path: string; type: NamespaceType };

/**
 * The start time of a process (field 22 of /proc/PID/stat, in clock ticks since boot):
 * with the PID, it names one process for good, even after the PID is reused.
 *
 * @param pid a PID
 * @returns its start time
 * @throws {NamespaceError} code ESRCH when there is no such process
 *
 * @example
 * ```ts
 * import { pinProcess, startTimeOf } from "@nsjoin/nsjoin";
 * using self = pinProcess(Deno.pid);
 * if (startTimeOf(Deno.pid) !== self.startTime) throw new Error("the same process");
 * ```
 */
export function startTimeOf(pid: number): number {
  return _procStat(pid).startTime;
}

/** Fields of /proc/PID/stat that decide whether a process can be joined. */
interface _ProcStat {
  state: string;
  flags: number;
  startTime: number;
}

const PF_KTHREAD = 0x00200000;

function _procStat(pid: number): _ProcStat {
  assertPid(pid);
  let stat: string;
  try {
    // Through FFI: Deno 2.9 lets its own file APIs read /proc only with --allow-all.
    stat = readProcText(`/proc/${pid}/stat`);
  } catch (error) {
    // ESRCH: the process was being reaped while we read.
    if (isNotFound(error) || (error as SyscallError).errno === 3) {
      throw new NamespaceError(`Cannot find process ${pid}`, {
        errno: 3,
        syscall: "open",
        target: pid,
      });
    }
    throw error;
  }
  // comm (field 2) may hold spaces and parentheses: count from the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: fields[0], flags: Number(fields[6]), startTime: Number(fields[19]) };
}

/** The start time of a process that can be joined: alive, not a zombie, not a kernel thread. */
function _joinable(pid: number): number {
  const st = _procStat(pid);
  if (st.state === "Z" || st.state === "X") {
    throw new NamespaceError(`Cannot join process ${pid}: it has exited (a zombie)`, {
      errno: 3,
      quiet: true,
      syscall: "open",
      target: pid,
      hint: "its namespaces are gone with it",
    });
  }
  if (st.flags & PF_KTHREAD) {
    throw new NamespaceError(`Cannot join process ${pid}: it is a kernel thread`, {
      errno: 22,
      quiet: true,
      syscall: "open",
      target: pid,
      hint: "kernel threads have no namespaces of their own",
    });
  }
  return st.startTime;
}

/**
 * nsenter's `PID:inode` (util-linux 2.42, Linux 6.9+): the inode is the process's pidfs
 * inode, unique for the life of the system, so a reused PID is caught. Before pidfs every
 * pidfd is the one anonymous inode, which would match any process: refused there, as
 * nsenter refuses it ("pidfd needs to have the pidfs file system type").
 */
function _pinnedByInode(pid: number, inode: number, text: string): number {
  using pinned = pinProcess(pid);
  if (!_hasPidfs(pinned.pidfd)) {
    throw new NamespaceError(
      `Cannot join ${text}: this kernel's pidfds have no inode of their own (pidfs, Linux 6.9+)`,
      {
        errno: 95,
        quiet: true,
        syscall: "fstatfs",
        target: text,
        hint: "every pidfd here is one anonymous inode, which names no process: give the PID alone",
      },
    );
  }
  const ino = fstatSafe(pinned.pidfd).ino;
  if (ino !== inode) {
    // pidfs numbers processes in the order they were made: an inode above the one the PID's
    // process has was never that PID's (a mistyped number), one below it was (it exited).
    throw new NamespaceError(
      inode > ino
        ? `Cannot join ${text}: pid ${pid} never was the process of that inode (its process is older: inode ${ino})`
        : `Cannot join ${text}: pid ${pid} is now another process (inode ${ino})`,
      {
        errno: 3,
        quiet: true,
        syscall: "pidfd_open",
        target: text,
        hint: inode > ino
          ? "check the number: `getino PID` prints a process's inode"
          : "the process you named has exited",
      },
    );
  }
  return pinned.startTime;
}

/**
 * Whether a CLI target given as text is a PID: digits that a PID can be, up to the kernel's
 * PID_MAX_LIMIT (4194304, include/linux/threads.h). Longer digits are a container ID
 * prefix (`docker ps` shows 12 characters, now and then all digits), as `docker exec` reads
 * them; a shorter one needs its engine (`docker:12345`).
 *
 * @param text the target as given
 * @returns whether to read it as a PID
 */
export function isPidText(text: string): boolean {
  return /^[0-9]{1,7}$/.test(text) && Number(text) <= 4194304;
}

/**
 * Parses a target given as text: "42" is a PID; a path is a namespace file; `netns:NAME`
 * is /run/netns/NAME (as `ip netns`). Container names are resolved by `resolveContainer`.
 *
 * @param text the target as a user gives it (a CLI argument)
 * @returns a PID, or the path of a namespace file (`"PID:inode"` as given)
 * @throws {RangeError} for a number that is no PID (`0`, `-5`, `1e3`)
 * @throws {TypeError} for anything else, a container name included
 *
 * @example
 * ```ts
 * import { parseTarget } from "@nsjoin/nsjoin";
 * if (parseTarget("4242") !== 4242) throw new Error("a PID");
 * if (parseTarget("netns:blue") !== "/run/netns/blue") throw new Error("a named netns");
 * try {
 *   parseTarget("web1");
 *   throw new Error("a container name is not a target here");
 * } catch (error) {
 *   if (!(error instanceof TypeError)) throw error; // resolveContainer("web1") takes it
 * }
 * ```
 */
export function parseTarget(text: string): number | string {
  if (/^[0-9]+$/.test(text)) {
    assertPid(Number(text));
    return Number(text);
  }
  if (/^[0-9]+:[0-9]+$/.test(text)) return text; // PID:inode, checked by resolveTarget
  if (text.startsWith("/") || text.startsWith(".")) return text;
  if (text.startsWith("netns:")) return netnsPath(text.slice("netns:".length));
  if (/^-?[0-9]/.test(text)) {
    throw new RangeError(`Cannot use ${text} as a PID: it must be a whole number above 0`);
  }
  // A container reference where a PID is wanted (daxIn("k8s:…"), NsCommand's target): say
  // which call takes it, as nothing here looks containers up. A bare name too (`"web1"`, a
  // name an engine could have made): the likeliest mistake of a script's first NsCommand.
  const container = /^(docker|podman(@[^:/]+)?|containerd|k8s|cri):./.test(text) ||
      /^[a-zA-Z][a-zA-Z0-9_.-]*$/.test(text)
    ? " - a container is named through resolveContainer() (the CLI: nsjoin exec)"
    : "";
  throw new TypeError(
    `Cannot resolve target ${
      JSON.stringify(text)
    }: give a PID, a namespace file path or netns:NAME${container}`,
  );
}

/**
 * Resolves a target once: checks the process exists (and records its start time) or that
 * the file is a namespace file.
 *
 * @param target a PID, a namespace file path, or a pinned process
 * @returns the resolved target
 * @throws {NamespaceError} when the process does not exist or the file is not a namespace file
 *
 * @example
 * ```ts
 * import { resolveTarget } from "@nsjoin/nsjoin";
 * const self = resolveTarget(Deno.pid);
 * if (self.kind !== "process" || self.pid !== Deno.pid) throw new Error("our own process");
 * const net = resolveTarget("/proc/self/ns/net");
 * if (net.kind !== "file" || net.type !== "net") throw new Error("a net namespace file");
 * ```
 */
export function resolveTarget(target: Target): ResolvedTarget {
  if (target instanceof PinnedProcess) {
    if (target.pidfd < 0) {
      throw new TypeError(
        `Cannot use pinned process ${target.pid}: it was closed (pin it again with pinProcess)`,
      );
    }
    const inode = target.pidfd >= 0 && _hasPidfs(target.pidfd)
      ? fstatSafe(target.pidfd).ino
      : undefined;
    return { kind: "process", pid: target.pid, startTime: target.startTime, inode };
  }
  if (typeof target !== "number" && typeof target !== "string") {
    throw new TypeError(
      `Cannot use ${
        String(target)
      } as a target: give a PID, a namespace file path or a pinned process`,
    );
  }
  const t = typeof target === "string" ? parseTarget(target) : target;
  if (typeof t === "number") {
    assertPid(t);
    // pidfd first, then the start time: both then name the process the pidfd holds.
    const fd = _pidfsOff() ? -1 : _pidfdOpen(t);
    if (fd < 0) return { kind: "process", pid: t, startTime: _joinable(t) };
    try {
      const startTime = _joinable(t);
      if (!_hasPidfs(fd)) return { kind: "process", pid: t, startTime };
      return { kind: "process", pid: t, startTime, inode: _inodeOf(fd) };
    } finally {
      libcSubset(...EXEC_SYMBOLS).close(fd);
    }
  }
  const byInode = t.match(/^([0-9]+):([0-9]+)$/);
  if (byInode) {
    const pid = Number(byInode[1]);
    assertPid(pid);
    const startTime = _pinnedByInode(pid, Number(byInode[2]), t);
    _joinable(pid);
    return { kind: "process", pid, startTime, inode: Number(byInode[2]) };
  }
  return { kind: "file", path: t, type: namespaceTypeOfFile(t) };
}

const SYS_pidfd_open = 434n;
/**
 * pidfd_send_signal(2), the same number on x86_64 and asm-generic; its 4th argument (flags)
 * is 0 from the raw syscall path libcSubset(...EXEC_SYMBOLS) takes on both.
 */
const SYS_pidfd_send_signal = 424n;

/** fstatfs(2)'s f_type of pidfs (include/uapi/linux/magic.h PID_FS_MAGIC, "PIDF"). */
const PID_FS_MAGIC = 0x50494446n;
/** ENOSYS: pidfd_open(2) before Linux 5.3. */
const ENOSYS = 38;

let _pidfs: boolean | undefined;

/** Whether pidfds are known to have no inodes of their own (or NSJOIN_NO_PIDFS=1 says so). */
function _pidfsOff(): boolean {
  if (_pidfs === undefined && nsjoinSetting("NSJOIN_NO_PIDFS") === "1") _pidfs = false;
  return _pidfs === false;
}

/**
 * Whether pidfds have inodes of their own (pidfs, Linux 6.9+), unique per process: the
 * filesystem `pidfd` is on, one fstatfs(2) (before 6.9 every pidfd is the one anonymous
 * inode, on anon_inodefs), where reading the kernel release cost a file read through FFI
 * (~0.1 ms of a process's first NsCommand, docs/measured.md).
 */
function _hasPidfs(pidfd: number): boolean {
  if (_pidfsOff()) return false;
  if (_pidfs === undefined) {
    const nr = SYSCALL_NUMBERS[Deno.build.arch]?.fstatfs;
    // struct statfs: 120 bytes on x86_64 and aarch64, f_type (a long) first.
    const st = new BigInt64Array(32);
    const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(st)));
    _pidfs = nr !== undefined &&
      libcSubset(...EXEC_SYMBOLS).syscall(nr, BigInt(pidfd), at, 0n) === 0 &&
      st[0] === PID_FS_MAGIC;
  }
  return _pidfs;
}

/** A pidfd of `pid`; -1 when the kernel has no pidfd_open (and then no pidfs either). */
function _pidfdOpen(pid: number): number {
  const fd = Number(libcSubset(...EXEC_SYMBOLS).syscall(SYS_pidfd_open, BigInt(pid), 0n, 0n));
  if (fd < 0) {
    const e = errno();
    if (e === ENOSYS) {
      _pidfs = false;
      return -1;
    }
    _refuseThread(pid, e);
    // EINVAL: a number no PID can be (above what pid_t holds).
    if (e === 3 || e === 22) {
      throw new NamespaceError(`Cannot find process ${pid}`, {
        errno: 3,
        syscall: "pidfd_open",
        target: pid,
      });
    }
    throw new NamespaceError(`Cannot pin process ${pid}`, {
      errno: e,
      syscall: "pidfd_open",
      target: pid,
    });
  }
  return fd;
}

/**
 * Refuses, in words, a thread's ID that pidfd_open refused (`errno`): it pins only a process
 * (a thread group's leader; ENOENT since Linux 6.9, EINVAL before, which read as "Cannot find
 * process" of a thread that `ps -L` shows). nsenter -t takes a thread's ID and enters that
 * thread's namespaces, which need not be its process's: nsjoin, which pins what it joins,
 * asks for the process instead of joining another thread's namespaces.
 */
function _refuseThread(pid: number, errno: number): void {
  if (errno !== 2 && errno !== 22) return;
  let tgid: number;
  try {
    tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readProcText(`/proc/${pid}/status`))?.[1] ?? pid);
  } catch {
    return;
  }
  if (tgid === pid || !(tgid > 0)) return;
  throw new NamespaceError(`Cannot pin process ${pid}: it is a thread of process ${tgid}`, {
    errno: 22,
    syscall: "pidfd_open",
    target: pid,
    quiet: true,
    hint: "give a process's PID (a thread may be in other namespaces than its process)",
  });
}

function _inodeOf(pidfd: number): number {
  return fstatSafe(pidfd).ino;
}

/**
 * A process held by a pidfd: the kernel will not hand its identity to another process
 * while the pidfd is open, and `alive` tells whether it is still the one resolved.
 * Close it (or `using` it) when done.
 *
 * @example
 * ```ts
 * import { pinProcess } from "@nsjoin/nsjoin";
 * using me = pinProcess(Deno.pid);
 * if (!me.alive) throw new Error("expected this process to be alive");
 * ```
 */
export class PinnedProcess {
  /** The PID. */
  readonly pid: number;
  /** Its start time (clock ticks since boot), checked again before every join. */
  readonly startTime: number;
  #pidfd: number;

  /** Use {@link pinProcess}. */
  constructor(pid: number, startTime: number, pidfd: number) {
    this.pid = pid;
    this.startTime = startTime;
    this.#pidfd = pidfd;
  }

  /** The pidfd (-1 once closed). */
  get pidfd(): number {
    return this.#pidfd;
  }

  /** Whether the process is still running and is the one that was pinned. */
  get alive(): boolean {
    if (this.#pidfd < 0) return false;
    try {
      // One read of /proc/PID/stat: start time and state from the same text.
      const st = _procStat(this.pid);
      return st.startTime === this.startTime && st.state !== "Z";
    } catch (error) {
      // Not found (ESRCH) is an answer; EMFILE, ENFILE, ENOMEM are ours (out of fds or
      // memory: a forward full of connections) and say nothing of the target. The pidfd
      // answers without a new fd: pidfd_send_signal(2) with signal 0 fails with ESRCH once
      // the process is gone (a zombie still counts until /proc can be read again).
      if (!(error instanceof SyscallError)) return false;
      const r = libcSubset(...EXEC_SYMBOLS).syscall(
        SYS_pidfd_send_signal,
        BigInt(this.#pidfd),
        0n,
        0n,
      );
      return r >= 0 || errno() !== 3;
    }
  }

  /** Closes the pidfd; calling it again does nothing. */
  close(): void {
    if (this.#pidfd >= 0) libcSubset(...EXEC_SYMBOLS).close(this.#pidfd);
    this.#pidfd = -1;
  }

  /** Closes the pidfd. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * Pins a process with a pidfd (pidfd_open(2), Linux 5.3+) and records its start time.
 *
 * @param pid a PID
 * @returns the pinned process; close it when done
 * @throws {NamespaceError} code ESRCH when there is no such process
 *
 * @example
 * ```ts
 * import { NsCommand, pinProcess } from "@nsjoin/nsjoin";
 * // Our own PID stands in for a container's: a pinned process is a target that a
 * // recycled PID cannot take over.
 * using target = pinProcess(Deno.pid);
 * const out = await new NsCommand("true", { target }).output();
 * if (out.code !== 0 || !target.alive) throw new Error("expected true to run");
 * ```
 */
export function pinProcess(pid: number): PinnedProcess {
  assertPid(pid);
  let fd: number;
  try {
    fd = Number(
      check("pidfd_open", libcSubset(...EXEC_SYMBOLS).syscall(SYS_pidfd_open, BigInt(pid), 0n, 0n)),
    );
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    _refuseThread(pid, error.errno);
    throw new NamespaceError(`Cannot pin process ${pid}`, {
      errno: error.errno,
      syscall: "pidfd_open",
      target: pid,
    });
  }
  try {
    // Read after the pidfd exists: if this is still the PID's process, the pidfd holds it.
    return new PinnedProcess(pid, startTimeOf(pid), fd);
  } catch (error) {
    libcSubset(...EXEC_SYMBOLS).close(fd);
    throw error;
  }
}
