/**
 * Reading the files procfs makes itself (/proc/PID/stat, status, limits, oom_score_adj,
 * cgroup; /proc/sys/…): no process can put a FIFO, a device or a symlink in their place,
 * and they are small, so Deno's reader is as safe on them as ffi/files.ts.
 *
 * @module
 */
import { allSeenGranted } from "./_permissions.ts";
import { readTextFileSafe, statSafe } from "../ffi/files.ts";
import { effectiveUid } from "../ffi/libc.ts";

/**
 * A file procfs makes itself, read with Deno's reader (one op) once the process was seen to
 * have all permissions (Deno 2.9 reads /proc only with --allow-all: DESIGN fact 9), else
 * with readTextFileSafe (seven FFI calls: `enter` runs with --allow-ffi alone). A failed
 * read is made again with readTextFileSafe, so errors are its SyscallErrors (isNotFound,
 * errno) either way.
 *
 * @param path a file of procfs's own, such as `/proc/PID/stat` (never a path under
 *   /proc/PID/root, nor a link such as /proc/PID/fd/N or /proc/PID/ns/X)
 * @returns its text
 * @throws {SyscallError} as readTextFileSafe
 *
 * @example
 * ```ts
 * import { readProcText } from "./_proc.ts";
 * if (!readProcText("/proc/self/stat").startsWith(`${Deno.pid} (`)) throw new Error("not ours");
 * ```
 */
export function readProcText(path: string): string {
  if (allSeenGranted()) {
    try {
      return Deno.readTextFileSync(path);
    } catch {
      // NotCapable (revoked since) or the kernel's error: readTextFileSafe says which.
    }
  }
  return readTextFileSafe(path);
}

/**
 * The process a thread's ID belongs to (its thread group, `Tgid:` of /proc/PID/status), when
 * `pid` is a thread's ID and not a process's: /proc/TID/ns is that thread's, though readdir of
 * /proc (lsns's list) shows processes only. Undefined for a process, or when it cannot be read.
 *
 * @param pid a PID or a thread's ID
 * @returns the thread's process, or undefined
 *
 * @example
 * ```ts
 * import { threadOf } from "./_proc.ts";
 * if (threadOf(Deno.pid) !== undefined) throw new Error("a process is no thread");
 * ```
 */
export function threadOf(pid: number): number | undefined {
  try {
    const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(readProcText(`/proc/${pid}/status`))?.[1]);
    return tgid > 0 && tgid !== pid ? tgid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The host ids of uid and gid 0 of `pid`'s user namespace (65534 for one it does not map),
 * when that namespace is not ours and we are root: its files are then read as its root can
 * read them. We would read them with every capability of the host, and whoever owns that
 * namespace (a local user's rootless container, their `unshare -Urm`) can mount there any
 * host directory they can look up, /root say (they cannot enter it): a container whose
 * /etc/passwd linked into it had root's `exec -u root` read a mode 0600 file of root's and
 * hand its home field to the program as HOME (podman exec: "unable to find user root").
 * Undefined where nothing changes: our own user namespace (a rootful container: its root is
 * ours), or a caller who is not root.
 */
export function rootIdsOf(pid: number): { uid: number; gid: number } | undefined {
  if (effectiveUid() !== 0) return undefined;
  // Two stats (a namespace is its nsfs inode), not namespacesOwnedBy's sixteen readlinks:
  // this is on every exec's path. Cannot tell (gone): as another's, the safer reading.
  try {
    const ours = statSafe("/proc/thread-self/ns/user");
    const theirs = statSafe(`/proc/${pid}/ns/user`);
    if (ours.ino === theirs.ino && ours.dev === theirs.dev) return undefined;
  } catch {
    // Another's.
  }
  const root = (file: string) => {
    for (const line of readProcText(`/proc/${pid}/${file}`).split("\n")) {
      const [inside, outside, count] = line.trim().split(/\s+/).map(Number);
      if (inside === 0 && count > 0) return outside;
    }
    return 65534;
  };
  return { uid: root("uid_map"), gid: root("gid_map") };
}
