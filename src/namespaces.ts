import { EXEC_SYMBOLS, libcSubset, SyscallError } from "../ffi/libc.ts";
import { isNotFound, openFileSafe, readLinkSafe, statSafe } from "../ffi/files.ts";
import { NamespaceError } from "./errors.ts";

/** The eight Linux namespace types, by the names of their /proc/PID/ns files. */
export type NamespaceType = "cgroup" | "ipc" | "mnt" | "net" | "pid" | "time" | "user" | "uts";

/** The namespace types a Worker can join: the rest the kernel refuses to a threaded process. */
export type WorkerNamespace = "net" | "uts" | "ipc" | "cgroup" | "mnt";

/**
 * The types `inNamespaces` joins for `"all"`, in the order they are joined. Here rather than
 * in src/in_namespaces.ts, so that the main entry exports it without loading that module.
 */
export const WORKER_NAMESPACES: readonly WorkerNamespace[] = ["net", "uts", "ipc", "cgroup", "mnt"];

/** Every namespace type, in lsns's order. */
export const NAMESPACE_TYPES: readonly NamespaceType[] = [
  "mnt",
  "net",
  "pid",
  "uts",
  "ipc",
  "user",
  "cgroup",
  "time",
];

/** The CLONE_NEW* flag of each namespace type, as setns(2) and unshare(2) take them. */
export const CLONE_FLAGS: Readonly<Record<NamespaceType, number>> = {
  time: 0x00000080,
  mnt: 0x00020000,
  cgroup: 0x02000000,
  uts: 0x04000000,
  ipc: 0x08000000,
  user: 0x10000000,
  pid: 0x20000000,
  net: 0x40000000,
};

/** One namespace: its nsfs inode and device (together its identity) and the file it was read from. */
export interface NamespaceId {
  /** Namespace type. */
  type: NamespaceType;
  /** nsfs inode number, the number lsns prints in its NS column. */
  inode: number;
  /** Device of the nsfs file system. */
  dev: number;
  /** The file it was read from, e.g. /proc/42/ns/net. */
  path: string;
}

/** The namespaces of one process, by type; a type the kernel lacks is absent. */
export type NamespaceSet = Partial<Record<NamespaceType, NamespaceId>>;

/** Checks that `pid` is a whole number above 0 (a PID, not a process group). */
export function assertPid(pid: number): void {
  if (!Number.isSafeInteger(pid) || pid <= 0) {
    // A string "1" shown quoted: "Cannot use 1 as a PID" read as a refusal of the number.
    const shown = typeof pid === "string" ? JSON.stringify(pid) : pid;
    throw new RangeError(`Cannot use ${shown} as a PID: it must be a whole number above 0`);
  }
}

function _statNamespace(
  path: string,
  type: NamespaceType,
  pid: number | string,
): NamespaceId | undefined {
  try {
    // Through FFI: Deno 2.9 lets Deno.statSync see /proc only with --allow-all.
    const st = statSafe(path);
    return { type, inode: st.ino, dev: st.dev, path };
  } catch (error) {
    if (isNotFound(error)) {
      // The process dir is there but not this file: the kernel lacks the type.
      if (typeof pid === "number" && !procExists(pid)) {
        throw new NamespaceError(`Cannot find process ${pid}`, {
          errno: 3,
          syscall: "stat",
          target: pid,
        });
      }
      return undefined;
    }
    if ((error as SyscallError).errno === 13) {
      throw new NamespaceError(`Cannot read the ${type} namespace of ${pid}`, {
        errno: 13,
        syscall: "stat",
        namespace: type,
        target: pid,
        hint: "run as root or as the owner of the process",
      });
    }
    throw error;
  }
}

/** Whether /proc has an entry for `pid` (a zombie counts). Internal: not in mod.ts. */
export function procExists(pid: number): boolean {
  try {
    statSafe(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * The namespaces of a process (or `"self"`, the calling thread), read from
 * /proc/PID/ns. Throws a NamespaceError with code ESRCH when there is no such process.
 *
 * @param pid a PID, or "self" for the calling thread
 * @returns each namespace type the kernel has, with its inode, device and path
 *
 * @example
 * ```ts
 * import { namespacesOfSync } from "@nsjoin/nsjoin";
 * const mine = namespacesOfSync("self");
 * if (!(mine.net!.inode > 0)) throw new Error("no net namespace");
 * ```
 */
export function namespacesOfSync(pid: number | "self"): NamespaceSet {
  if (pid !== "self") assertPid(pid);
  const dir = pid === "self" ? "/proc/thread-self/ns" : `/proc/${pid}/ns`;
  const out: NamespaceSet = {};
  for (const type of NAMESPACE_TYPES) {
    const id = _statNamespace(`${dir}/${type}`, type, pid);
    if (id) out[type] = id;
  }
  if (Object.keys(out).length === 0 && pid !== "self") {
    throw new NamespaceError(`Cannot find process ${pid}`, {
      errno: 3,
      syscall: "stat",
      target: pid,
    });
  }
  return out;
}

/**
 * The namespaces of a process, as {@link namespacesOfSync}, asynchronously.
 *
 * @param pid a PID, or "self" for the calling thread
 * @returns each namespace type the kernel has, with its inode, device and path
 *
 * @example
 * ```ts
 * import { namespacesOf } from "@nsjoin/nsjoin";
 * const ns = await namespacesOf(Deno.pid);
 * if (!ns.mnt) throw new Error("no mnt namespace");
 * ```
 */
export function namespacesOf(pid: number | "self"): Promise<NamespaceSet> {
  // The "self" case must read on the calling thread: async file ops would run on a pool thread.
  return Promise.resolve().then(() => namespacesOfSync(pid));
}

const NS_GET_NSTYPE = 0xb703;
const _BY_FLAG = new Map(Object.entries(CLONE_FLAGS).map(([t, f]) => [f, t as NamespaceType]));

/**
 * The type of a namespace file (/proc/PID/ns/X, or a bind mount of one such as
 * /run/netns/NAME), asked of the kernel with the NS_GET_NSTYPE ioctl.
 *
 * @param path a namespace file
 * @returns its namespace type
 * @throws {NamespaceError} code ENOENT when it does not exist, ENOTTY when it is not a namespace file
 *
 * @example
 * ```ts
 * import { namespaceTypeOfFile } from "@nsjoin/nsjoin";
 * if (namespaceTypeOfFile("/proc/self/ns/uts") !== "uts") throw new Error("wrong type");
 * ```
 */
export function namespaceTypeOfFile(path: string): NamespaceType {
  const fd = _openNamespaceFile(path);
  try {
    const flag = libcSubset(...EXEC_SYMBOLS).ioctl(fd, BigInt(NS_GET_NSTYPE), null);
    const type = _BY_FLAG.get(flag);
    if (flag < 0 || !type) {
      throw new NamespaceError(`Cannot use ${path}: it is not a namespace file`, {
        errno: 25,
        quiet: true,
        syscall: "ioctl",
        target: path,
        hint: "give /proc/PID/ns/TYPE or a bind mount of one (e.g. /run/netns/NAME)",
      });
    }
    return type;
  } finally {
    libcSubset(...EXEC_SYMBOLS).close(fd);
  }
}

function _openNamespaceFile(path: string): number {
  try {
    // Not a plain open(2): a FIFO there would block it forever and a device would be
    // opened with its side effects. nsfs files are regular files, opened O_PATH and checked
    // first (ffi/files.ts), then opened non-blocking.
    return openFileSafe(path);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    if (error.errno === 22) {
      throw new NamespaceError(`Cannot use ${path}: it is not a namespace file`, {
        errno: 25,
        quiet: true,
        syscall: "open",
        target: path,
        hint: "give /proc/PID/ns/TYPE or a bind mount of one (e.g. /run/netns/NAME)",
      });
    }
    throw new NamespaceError(`Cannot open namespace file ${path}`, {
      errno: error.errno,
      syscall: "open",
      target: path,
    });
  }
}

/**
 * Whether two processes (or namespace files) share the namespace of one type.
 *
 * @param a a PID, "self", or a namespace file path
 * @param b a PID, "self", or a namespace file path
 * @param type the namespace type to compare
 * @returns true when both are in the same namespace of that type
 *
 * @example
 * ```ts
 * import { sameNamespace } from "@nsjoin/nsjoin";
 * if (!sameNamespace("self", Deno.pid, "uts")) throw new Error("expected the same uts namespace");
 * ```
 */
export function sameNamespace(
  a: number | string,
  b: number | string,
  type: NamespaceType,
): boolean {
  if (typeof type !== "string" || !Object.hasOwn(CLONE_FLAGS, type)) {
    throw new TypeError(
      `Cannot compare namespaces of type ${JSON.stringify(type)}: use one of ${
        NAMESPACE_TYPES.join(", ")
      }`,
    );
  }
  const ia = _idOf(a, type);
  const ib = _idOf(b, type);
  return ia.inode === ib.inode && ia.dev === ib.dev;
}

function _idOf(x: number | string, type: NamespaceType): NamespaceId {
  if (typeof x === "string" && x !== "self") {
    const actual = namespaceTypeOfFile(x);
    if (actual !== type) {
      throw new NamespaceError(
        `Cannot compare ${x} as a ${type} namespace: it is a ${actual} namespace`,
        {
          errno: 22,
          syscall: "ioctl",
          namespace: type,
          target: x,
        },
      );
    }
    const st = statSafe(x);
    return { type, inode: st.ino, dev: st.dev, path: x };
  }
  const id = namespacesOfSync(x as number | "self")[type];
  if (!id) {
    throw new NamespaceError(`Cannot compare ${type} namespaces: this kernel has none`, {
      errno: 2,
      syscall: "stat",
      namespace: type,
    });
  }
  return id;
}

/**
 * The namespace types in which a process differs from the calling thread: what
 * `nsenter -a` enters. Joining one's own namespace again is useless at best and refused
 * at worst (a user namespace; an unprivileged caller's cgroup or time namespace).
 *
 * @param pid a PID
 * @returns the types whose namespace differs, in {@link NAMESPACE_TYPES} order
 *
 * @example
 * ```ts
 * import { differingNamespaces } from "@nsjoin/nsjoin";
 * if (differingNamespaces(Deno.pid).length !== 0) throw new Error("a process differs from itself");
 * ```
 */
export function differingNamespaces(pid: number): NamespaceType[] {
  assertPid(pid);
  // readlink is the cheapest look at a namespace ("net:[4026531840]": one nsfs, so equal
  // text is the same namespace) and this runs before every spawn of an "all" command.
  // Through libc: Deno 2.9 lets its own file APIs read /proc only with --allow-all.
  const out: NamespaceType[] = [];
  for (const type of NAMESPACE_TYPES) {
    let mine: string;
    try {
      mine = readLinkSafe(`/proc/thread-self/ns/${type}`);
    } catch (error) {
      if (isNotFound(error)) continue; // this kernel lacks the type
      throw error;
    }
    let theirs: string;
    try {
      theirs = readLinkSafe(`/proc/${pid}/ns/${type}`);
    } catch (error) {
      _statNamespace(`/proc/${pid}/ns/${type}`, type, pid); // throws the right error
      // This kernel has the type (ours was read) and /proc has the process: it has exited,
      // or its main thread has while others run (a zombie leader), and its namespace links
      // went with it. `exec PID` said "readlink failed: ENOENT" with exit code 1.
      if (isNotFound(error)) {
        throw new NamespaceError(`Cannot join process ${pid}: it has exited (a zombie)`, {
          errno: 3,
          quiet: true,
          syscall: "readlink",
          target: pid,
          hint: "its namespaces are gone with it",
        });
      }
      throw error;
    }
    if (mine !== theirs) out.push(type);
  }
  return out;
}
