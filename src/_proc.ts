/**
 * Reading the files procfs makes itself (/proc/PID/stat, status, limits, oom_score_adj,
 * cgroup; /proc/sys/…): no process can put a FIFO, a device or a symlink in their place,
 * and they are small, so Deno's reader is as safe on them as ffi/files.ts.
 *
 * @module
 */
import { allSeenGranted } from "./_permissions.ts";
import { readTextFileSafe } from "../ffi/files.ts";

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
