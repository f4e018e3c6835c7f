/**
 * A synchronous scoped join of the calling thread: `using` it, the thread is in the
 * target's net / uts / ipc namespaces until the block ends, then back in its own, even
 * after a throw.
 *
 * @module
 */
import { check, cstr, errno, libc, O_CLOEXEC, O_RDONLY, SyscallError } from "../ffi/libc.ts";
import { openFileSafe } from "../ffi/files.ts";
import { NamespaceError } from "./errors.ts";
import { CLONE_FLAGS, type NamespaceType } from "./namespaces.ts";
import { type ResolvedTarget, resolveTarget, startTimeOf, type Target } from "./target.ts";

/** The namespace types a scoped join takes: per-thread ones that need no unshare first. */
export type ScopedNamespace = "net" | "uts" | "ipc";

/** Types the calling thread may join and leave again (cgroup for nsjoin's own use). */
const _THREAD_TYPES: readonly NamespaceType[] = ["net", "uts", "ipc", "cgroup"];

/** Whether this thread (this isolate: one JS thread) is inside a scoped join now. */
let _joined: ScopedJoin | undefined;

/**
 * The calling thread inside a target's namespaces, made by {@link scopedJoin}. Disposing
 * it (or calling `restore()`) puts the thread back into the namespaces it came from.
 */
export class ScopedJoin implements Disposable {
  /** The target as the caller gave it. */
  readonly target: Target;
  /** The namespace types joined. */
  readonly namespaces: readonly NamespaceType[];
  #originals: Map<NamespaceType, number>;
  #active = true;
  #leftAcrossAwait = false;

  /** Use {@link scopedJoin}. */
  constructor(target: Target, originals: Map<NamespaceType, number>) {
    this.target = target;
    this.namespaces = [...originals.keys()];
    this.#originals = originals;
    // A microtask runs only when the synchronous block has ended: if the join is still
    // active then, the block awaited inside it, and other tasks would run inside the target.
    queueMicrotask(() => {
      if (!this.#active) return;
      this.#leftAcrossAwait = true;
      this.#leave();
    });
  }

  /** Whether the thread is still inside the target's namespaces. */
  get active(): boolean {
    return this.#active;
  }

  /**
   * Puts the thread back into its own namespaces; calling it again does nothing.
   *
   * @throws {Error} when the scope awaited while joined (the thread was restored at the await)
   * @throws {NamespaceError} when the kernel refuses the way back
   */
  restore(): void {
    if (this.#active) this.#leave();
    if (this.#leftAcrossAwait) {
      this.#leftAcrossAwait = false;
      throw new Error(
        "Cannot keep a scoped join across an await: the thread was restored when its synchronous block ended - use inNamespaces() for async work",
      );
    }
  }

  /** Restores the thread, as `restore()`. */
  [Symbol.dispose](): void {
    this.restore();
  }

  #leave(): void {
    this.#active = false;
    if (_joined === this) _joined = undefined;
    const failures: string[] = [];
    let first: SyscallError | undefined;
    for (const [type, fd] of this.#originals) {
      try {
        check("setns", libc().setns(fd, CLONE_FLAGS[type]));
      } catch (error) {
        if (!(error instanceof SyscallError)) throw error;
        first ??= error;
        failures.push(type);
      }
      libc().close(fd);
    }
    this.#originals.clear();
    if (first) {
      throw new NamespaceError(
        `Cannot restore the ${failures.join(", ")} namespace of this thread`,
        { errno: first.errno, syscall: "setns", namespace: failures[0] as NamespaceType },
      );
    }
  }
}

/**
 * Joins the calling thread to a target's net, uts or ipc namespaces for the length of a
 * synchronous block, for work such as creating a listening socket inside a namespace.
 *
 * Limits: synchronous work only — an `await` inside the block lets other tasks run in the
 * target, so the first microtask after the block restores the thread and `dispose` then
 * throws. Threads created inside the block (a Worker, a thread pool's first thread) keep
 * the namespaces for good. Async Deno APIs run on other threads and do not see the join.
 * Joins cannot nest. For mnt, user, pid, time, or async work, use `inNamespaces()` or
 * `NsCommand`.
 *
 * @param target a PID, a namespace file path, or a pinned process
 * @param namespaces the types to join (default `["net"]`)
 * @returns the join; dispose it (`using`) to restore the thread
 * @throws {NamespaceError} when a namespace cannot be opened or joined (nothing stays joined)
 *
 * @example
 * ```ts ignore
 * import { scopedJoin } from "@nsjoin/nsjoin";
 * let listener: Deno.Listener;
 * const join = scopedJoin(1234, ["net"]);
 * try {
 *   listener = Deno.listen({ hostname: "127.0.0.1", port: 8080 });
 * } finally {
 *   join[Symbol.dispose]();
 * }
 * if (join.active) throw new Error("expected the thread to be back in its own namespaces");
 * // listener accepts connections made inside pid 1234's network namespace
 * ```
 */
export function scopedJoin(
  target: Target,
  namespaces: readonly ScopedNamespace[] = ["net"],
): ScopedJoin {
  if (!Array.isArray(namespaces)) {
    // A string is iterable: "net" was read as the types "n", "e" and "t".
    throw new TypeError(
      `Cannot join namespaces ${
        typeof namespaces === "string" ? JSON.stringify(namespaces) : String(namespaces)
      } for a scope: give a list of types (["net"])`,
    );
  }
  for (const type of namespaces) {
    if (!["net", "uts", "ipc"].includes(type)) {
      throw new NamespaceError(
        `Cannot join the ${type} namespace for a scope: only net, uts and ipc can be joined and left by one thread of a running Deno`,
        {
          errno: 22,
          quiet: true,
          syscall: "setns",
          namespace: type as NamespaceType,
          target: _display(target),
          hint: "use inNamespaces() (a Worker, for mnt and cgroup) or NsCommand (any type)",
        },
      );
    }
  }
  return _joinThread(target, namespaces);
}

/** Whether the calling thread is inside a scoped join now. For nsjoin's own use. */
export function _inScopedJoin(): boolean {
  return _joined !== undefined;
}

/**
 * Joins the calling thread to per-thread namespaces (net, uts, ipc, cgroup) of a target.
 * For nsjoin's own use (scopedJoin checks the types users may ask for).
 */
export function _joinThread(target: Target, namespaces: readonly NamespaceType[]): ScopedJoin {
  if (_joined) {
    throw new Error(
      "Cannot join namespaces for a scope: this thread is already inside a scoped join - dispose it first",
    );
  }
  const types = [...new Set(namespaces)];
  if (types.length === 0) throw new TypeError("Cannot join no namespaces: name at least one");
  for (const type of types) {
    if (!_THREAD_TYPES.includes(type)) {
      throw new TypeError(`Cannot join the ${type} namespace from this thread`);
    }
  }
  const resolved = resolveTarget(target);
  const originals = new Map<NamespaceType, number>();
  const targets = new Map<NamespaceType, number>();
  const closeAll = () => {
    for (const fd of [...originals.values(), ...targets.values()]) libc().close(fd);
  };
  try {
    for (const type of types) {
      originals.set(type, _open(`/proc/thread-self/ns/${type}`, type, "self"));
      targets.set(type, _openNamespace(resolved, type));
    }
  } catch (error) {
    closeAll();
    throw error;
  }
  const joined = new Map<NamespaceType, number>();
  for (const type of types) {
    const r = libc().setns(targets.get(type)!, CLONE_FLAGS[type]);
    if (r < 0) {
      const code = errno();
      // All or nothing: leave what was joined before the failure.
      for (const [t, fd] of joined) libc().setns(fd, CLONE_FLAGS[t]);
      closeAll();
      throw new NamespaceError(`Cannot join the ${type} namespace of ${_display(target)}`, {
        errno: code,
        syscall: "setns",
        namespace: type,
        target: _display(target),
        hint: code === 1 ? "run as root or as the owner of its user namespace" : undefined,
      });
    }
    joined.set(type, originals.get(type)!);
  }
  for (const fd of targets.values()) libc().close(fd);
  _joined = new ScopedJoin(target, originals);
  return _joined;
}

function _startTime(pid: number): number {
  try {
    return startTimeOf(pid);
  } catch {
    return -1;
  }
}

/**
 * Opens one namespace of a resolved target (O_CLOEXEC) and checks that a process target is
 * still the one resolved, so the fd is its namespace and not a successor's. For nsjoin's
 * own use.
 */
export function _openNamespace(resolved: ResolvedTarget, type: NamespaceType): number {
  if (resolved.kind === "file") {
    if (resolved.type !== type) {
      throw new NamespaceError(
        `Cannot join the ${type} namespace of ${resolved.path}: it is a ${resolved.type} namespace file`,
        { errno: 22, quiet: true, syscall: "ioctl", namespace: type, target: resolved.path },
      );
    }
    return _open(resolved.path, type, resolved.path, true);
  }
  const fd = _open(`/proc/${resolved.pid}/ns/${type}`, type, resolved.pid);
  if (_startTime(resolved.pid) !== resolved.startTime) {
    libc().close(fd);
    throw new NamespaceError(`Cannot join process ${resolved.pid}: it exited`, {
      errno: 3,
      syscall: "open",
      target: resolved.pid,
    });
  }
  return fd;
}

/**
 * Opens a namespace file. A path the caller gave (`userPath`) was checked by resolveTarget,
 * but may name something else now (a symlink in a user's directory, flipped): opened as
 * ffi/files.ts opens what others control — O_PATH, a regular file, then non-blocking — so a
 * FIFO swapped in is refused, not waited on for ever by this thread (tests/security_test.ts
 * "stop 24: a namespace file a user swaps…"); anything else that is no namespace of the
 * type fails in setns.
 */
function _open(
  path: string,
  type: NamespaceType,
  target: number | string,
  userPath = false,
): number {
  try {
    if (userPath) return openFileSafe(path);
    return check("open", libc().open(cstr(path), O_RDONLY | O_CLOEXEC, 0));
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    throw new NamespaceError(`Cannot open the ${type} namespace of ${target}`, {
      errno: error.errno,
      syscall: "open",
      namespace: type,
      target,
    });
  }
}

function _display(target: Target): number | string {
  return typeof target === "object" ? target.pid : target;
}
