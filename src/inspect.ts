/**
 * One process's namespaces side by side with the caller's (or another target's): which
 * are shared, its user namespace with uid/gid maps, its cgroups, and its memory as the
 * cgroup counts it and as `free` inside would report it.
 *
 * @module
 */

import { nsfsClose, nsfsIdentity, nsfsOpen, nsfsOwnerUid, nsfsRelated } from "../ffi/nsfs.ts";
import { userName } from "../ffi/users.ts";
import { assertPermissions } from "./_permissions.ts";
import { NamespaceError } from "./errors.ts";
import { NAMESPACE_TYPES, namespacesOfSync, type NamespaceType } from "./namespaces.ts";
import { readFileSafe, readTextFileSafe } from "../ffi/files.ts";
import { decodeBytes } from "./terminal.ts";
import { rootIdsOf } from "./_proc.ts";
import { type CgroupMount, cgroupMountTable } from "./_cgroup_mounts.ts";
import type { ContainerInfo } from "./containers.ts";
import { resolveTarget, type Target } from "./target.ts";

/** One line of /proc/PID/uid_map or gid_map: ids inside, their start outside, how many. */
export interface IdMapEntry {
  /** First id inside the namespace. */
  inside: number;
  /** The id it maps to in the parent user namespace. */
  outside: number;
  /** How many consecutive ids. */
  count: number;
}

/** A user namespace: its inode, creator, parent and id maps. */
export interface UserNamespaceInfo {
  /** nsfs inode. */
  ns: number;
  /** uid that created it (NS_GET_OWNER_UID), null when the kernel would not say. */
  ownerUid: number | null;
  /** Parent user namespace inode; 0 for the initial one (or when not visible). */
  parent: number;
  /** uid_map; null when only a namespace file was given. */
  uidMap: IdMapEntry[] | null;
  /** gid_map; null when only a namespace file was given. */
  gidMap: IdMapEntry[] | null;
}

/** One line of /proc/PID/cgroup. */
export interface CgroupMembership {
  /** Hierarchy id (0 for cgroup v2). */
  hierarchy: number;
  /** Controllers of a v1 hierarchy ("memory", "name=systemd"); empty for v2. */
  controllers: string[];
  /** Path in the hierarchy, as the caller's cgroup namespace sees it. */
  path: string;
}

/** What `free` (procps 4) prints, in bytes, from the meminfo the target sees. */
export interface FreeReport {
  /** MemTotal. */
  total: number;
  /** total − available, as procps 4 computes it. */
  used: number;
  /** MemFree. */
  free: number;
  /** Shmem. */
  shared: number;
  /** Buffers + Cached + SReclaimable. */
  buffCache: number;
  /** MemAvailable. */
  available: number;
  /** SwapTotal. */
  swapTotal: number;
  /** SwapTotal − SwapFree. */
  swapUsed: number;
  /** The file read: the target's /proc/meminfo through /proc/PID/root, or the caller's. */
  source: string;
}

/** Memory of a process: its cgroup's use and limit, and what `free` shows inside. */
export interface MemoryReport {
  /** Which cgroup version the memory controller is on. */
  cgroupVersion: 1 | 2 | null;
  /** The cgroup directory read (e.g. /sys/fs/cgroup/memory/docker/ID); null when none. */
  cgroupDir: string | null;
  /** Bytes charged to the cgroup (memory.current / memory.usage_in_bytes). */
  usage: number | null;
  /** The effective limit in bytes (the lowest of the cgroup and its ancestors); null = none. */
  limit: number | null;
  /** What `free` would report inside. */
  free: FreeReport | null;
  /** Whether `free` inside shows the limit: false when the cgroup allows less than it shows. */
  limitVisibleInside: boolean;
}

/** One side of an inspection. */
export interface InspectedSide {
  /** A process, the caller itself, or a namespace file. */
  kind: "process" | "self" | "file";
  /** The PID, null for a namespace file. */
  pid: number | null;
  /** The namespace file, for kind "file". */
  path: string | null;
  /** The container, when the target was one (resolveContainer). */
  container: { engine: string; id: string; name: string | null } | null;
  /** Command line (its name when empty); a byte that is not UTF-8 as U+DC80 + byte (decodeBytes). */
  command: string | null;
  /** uid of the process. */
  uid: number | null;
  /** Name of that uid. */
  user: string | null;
  /** Namespace inodes by type (only the file's type for kind "file"). */
  namespaces: Partial<Record<NamespaceType, number>>;
  /** Its user namespace (for a file: the owning one). */
  userNamespace: UserNamespaceInfo | null;
  /** Its cgroups; null for a file. */
  cgroups: CgroupMembership[] | null;
  /** Its memory; null for a file. */
  memory: MemoryReport | null;
}

/** One namespace type, compared. */
export interface NamespaceComparison {
  /** The type. */
  type: NamespaceType;
  /** The target's inode, or null. */
  target: number | null;
  /** The other side's inode, or null. */
  other: number | null;
  /** Same namespace (true), isolated (false), or not comparable (null). */
  shared: boolean | null;
}

/** The result of {@link inspect}. */
export interface Inspection {
  /** The target. */
  target: InspectedSide;
  /** The caller, or the second target. */
  other: InspectedSide;
  /** Every type, compared, in {@link NAMESPACE_TYPES} order. */
  namespaces: NamespaceComparison[];
}

/**
 * Inspects a process (or a namespace file) side by side with the caller, or with a second
 * target: which namespaces are shared and which isolated, the user namespace with its
 * uid/gid maps, the cgroups, and memory — the cgroup's use and limit (v1 or v2) and what
 * `free` inside would report, since a container's /proc/meminfo shows the host's memory.
 *
 * @param target a PID (or as text), a namespace file, or a pinned process or container
 * @param other a second target; default the calling thread
 * @returns both sides and the per-type comparison
 * @throws {NamespaceError} when a process does not exist or may not be read
 *
 * @example
 * ```ts
 * import { inspect } from "@nsjoin/nsjoin";
 * const report = inspect(Deno.pid);
 * if (!report.namespaces.every((n) => n.shared !== false)) throw new Error("expected all shared");
 * ```
 */
export function inspect(target: Target, other?: Target): Inspection {
  assertPermissions("inspect a process", "all");
  const a = _side(target);
  const b = other === undefined ? _self() : _side(other);
  const namespaces = NAMESPACE_TYPES.map((type): NamespaceComparison => {
    const x = a.namespaces[type] ?? null, y = b.namespaces[type] ?? null;
    return { type, target: x, other: y, shared: x === null || y === null ? null : x === y };
  });
  return { target: a, other: b, namespaces };
}

function _side(target: Target): InspectedSide {
  const resolved = resolveTarget(target);
  if (resolved.kind === "file") {
    const fd = nsfsOpen(resolved.path);
    if (fd < 0) {
      throw new NamespaceError(`Cannot open namespace file ${resolved.path}`, {
        errno: -fd,
        syscall: "open",
        target: resolved.path,
      });
    }
    try {
      const ino = nsfsIdentity(fd)?.ino ?? 0;
      let userNamespace: UserNamespaceInfo | null;
      if (resolved.type === "user") userNamespace = _userNsOfFd(fd, ino, null);
      else {
        const owner = nsfsRelated(fd, "owner");
        userNamespace = owner < 0 ? null : _userNsOfFd(owner, nsfsIdentity(owner)?.ino ?? 0, null);
        nsfsClose(owner);
      }
      return {
        kind: "file",
        pid: null,
        path: resolved.path,
        container: null,
        command: null,
        uid: null,
        user: null,
        namespaces: { [resolved.type]: ino },
        userNamespace,
        cgroups: null,
        memory: null,
      };
    } finally {
      nsfsClose(fd);
    }
  }
  const side = _processSide(resolved.pid, "process");
  if (typeof target === "object" && "container" in target) {
    const c = target.container as ContainerInfo;
    side.container = { engine: c.engine, id: c.id, name: c.name ?? null };
  }
  return side;
}

function _self(): InspectedSide {
  const side = _processSide(Deno.pid, "self");
  // Namespaces are per thread: compare with the calling thread's, not the main thread's.
  const mine = namespacesOfSync("self");
  side.namespaces = Object.fromEntries(
    Object.entries(mine).map(([t, id]) => [t, id!.inode]),
  );
  return side;
}

function _processSide(pid: number, kind: "process" | "self"): InspectedSide {
  const set = namespacesOfSync(pid);
  const namespaces: Partial<Record<NamespaceType, number>> = {};
  for (const type of NAMESPACE_TYPES) if (set[type]) namespaces[type] = set[type]!.inode;
  let uid: number | null = null;
  try {
    uid = Deno.statSync(`/proc/${pid}`).uid;
  } catch {
    // Gone meanwhile: the namespaces above are what it had.
  }
  let userNamespace: UserNamespaceInfo | null = null;
  const fd = nsfsOpen(`/proc/${pid}/ns/user`);
  if (fd >= 0) {
    try {
      userNamespace = _userNsOfFd(fd, namespaces.user ?? 0, pid);
    } finally {
      nsfsClose(fd);
    }
  }
  const cgroups = _cgroupsOf(pid);
  return {
    kind,
    pid,
    path: null,
    container: null,
    command: _commandOf(pid),
    uid,
    user: uid === null ? null : userName(uid),
    namespaces,
    userNamespace,
    cgroups,
    memory: _memoryOf(pid, cgroups ?? []),
  };
}

function _userNsOfFd(fd: number, ino: number, pid: number | null): UserNamespaceInfo {
  const owner = nsfsOwnerUid(fd);
  let parent = 0;
  const pfd = nsfsRelated(fd, "parent");
  if (pfd >= 0) {
    parent = nsfsIdentity(pfd)?.ino ?? 0;
    nsfsClose(pfd);
  }
  return {
    ns: ino,
    ownerUid: owner < 0 ? null : owner,
    parent,
    uidMap: pid === null ? null : _idMap(`/proc/${pid}/uid_map`),
    gidMap: pid === null ? null : _idMap(`/proc/${pid}/gid_map`),
  };
}

function _idMap(path: string): IdMapEntry[] | null {
  let text: string;
  try {
    text = readTextFileSafe(path);
  } catch {
    return null;
  }
  return text.trim().split("\n").filter((l) => l.trim()).map((l) => {
    const [inside, outside, count] = l.trim().split(/\s+/).map(Number);
    return { inside, outside, count };
  });
}

function _commandOf(pid: number): string | null {
  try {
    const raw = readFileSafe(`/proc/${pid}/cmdline`);
    let end = raw.length;
    while (end > 0 && raw[end - 1] === 0) end--;
    if (end > 0) return decodeBytes(raw.subarray(0, end)).replaceAll("\0", " ");
    // Its name (a zombie's, a kernel thread's): any bytes the process set (PR_SET_NAME),
    // kept as the cmdline's are (decodeBytes), not made U+FFFD.
    const comm = readFileSafe(`/proc/${pid}/comm`);
    return decodeBytes(comm.subarray(0, comm.at(-1) === 10 ? -1 : comm.length)).trim();
  } catch {
    return null;
  }
}

function _cgroupsOf(pid: number): CgroupMembership[] | null {
  let text: string;
  try {
    text = readTextFileSafe(`/proc/${pid}/cgroup`);
  } catch {
    return null;
  }
  return text.split("\n").filter((l) => l).map((l) => {
    const first = l.indexOf(":"), second = l.indexOf(":", first + 1);
    const controllers = l.slice(first + 1, second);
    return {
      hierarchy: Number(l.slice(0, first)),
      controllers: controllers ? controllers.split(",") : [],
      path: l.slice(second + 1),
    };
  });
}

/** The directory of a cgroup path under a mount, or null when the mount does not hold it. */
function _dirOf(m: CgroupMount, path: string): string | null {
  const root = m.root === "/" ? "" : m.root;
  if (root && path !== root && !path.startsWith(root + "/")) return null;
  return m.point + path.slice(root.length);
}

// Limits at or above 2^62 are the kernel's "no limit" (PAGE_COUNTER_MAX pages).
const _UNLIMITED = 2 ** 62;

function _readNumber(path: string): number | null {
  try {
    const v = readTextFileSafe(path, { noFollow: true }).trim();
    if (v === "max") return Infinity;
    const n = Number(v);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

function _memoryOf(pid: number, cgroups: CgroupMembership[]): MemoryReport {
  let version: 1 | 2 | null = null, dir: string | null = null;
  let usage: number | null = null, limit: number | null = null;
  const mounts = cgroupMountTable();
  const v1 = cgroups.find((c) => c.controllers.includes("memory"));
  const v1Mount = mounts.find((m) => !m.v2 && m.keys.has("memory"));
  const v2 = cgroups.find((c) => c.hierarchy === 0);
  const v2Mount = mounts.find((m) => m.v2);
  const v1Dir = v1 && v1Mount ? _dirOf(v1Mount, v1.path) : null;
  const v2Dir = v2 && v2Mount ? _dirOf(v2Mount, v2.path) : null;
  if (v1Dir && _readNumber(`${v1Dir}/memory.usage_in_bytes`) !== null) {
    version = 1;
    dir = v1Dir;
    usage = _readNumber(`${dir}/memory.usage_in_bytes`);
    // hierarchical_memory_limit is already the lowest limit of the cgroup and its ancestors.
    let hierarchical: number | null = null;
    try {
      const stat = readTextFileSafe(`${dir}/memory.stat`, { noFollow: true });
      const m = stat.match(/^hierarchical_memory_limit (\d+)$/m);
      if (m) hierarchical = Number(m[1]);
    } catch {
      // Fall back to the cgroup's own limit.
    }
    const own = hierarchical ?? _readNumber(`${dir}/memory.limit_in_bytes`);
    limit = own === null || own >= _UNLIMITED ? null : own;
  } else if (v2Dir && v2Mount && _readNumber(`${v2Dir}/memory.current`) !== null) {
    version = 2;
    dir = v2Dir;
    usage = _readNumber(`${dir}/memory.current`);
    // v2 has no hierarchical summary: walk up to the mount's root for the lowest memory.max.
    let lowest = Infinity;
    for (let d = dir; d.startsWith(v2Mount.point); d = d.slice(0, d.lastIndexOf("/"))) {
      const max = _readNumber(`${d}/memory.max`);
      if (max !== null && max < lowest) lowest = max;
      if (d === v2Mount.point) break;
    }
    limit = lowest === Infinity || lowest >= _UNLIMITED ? null : lowest;
  }
  const free = _freeOf(pid);
  return {
    cgroupVersion: version,
    cgroupDir: dir,
    usage,
    limit,
    free,
    limitVisibleInside: limit === null || free === null || free.total <= limit,
  };
}

function _freeOf(pid: number): FreeReport | null {
  // The target's own /proc (lxcfs bind mounts included), reached through its root with
  // its symlinks resolved inside it; the caller's /proc/meminfo when that is refused. The
  // target controls what is there (a FIFO, a symlink, a huge file): ffi/files.ts refuses
  // all but a regular file, capped; of the kernel's interfaces only the kernel's meminfo
  // (a namespace whose root may mount bound /proc/kmsg there, and our read consumed the
  // host's kernel log: stop 27), looked up and opened as that namespace's root (a host
  // file only root may read, bound there, stays unread).
  const root = `/proc/${pid}/root`;
  const own = () =>
    readTextFileSafe("/proc/meminfo", {
      root,
      maxBytes: 1 << 20,
      kernelFile: "/proc/meminfo",
      ids: rootIdsOf(pid),
    });
  const sources: [string, () => string][] = [
    [`${root}/proc/meminfo`, own],
    ["/proc/meminfo", () => readTextFileSafe("/proc/meminfo")],
  ];
  for (const [source, read] of sources) {
    let text: string;
    try {
      text = read();
    } catch {
      continue;
    }
    const kb = (key: string): number => {
      const m = text.match(new RegExp(`^${key}:\\s+(\\d+)`, "m"));
      return m ? Number(m[1]) * 1024 : 0;
    };
    const total = kb("MemTotal"), available = kb("MemAvailable");
    const swapTotal = kb("SwapTotal");
    return {
      total,
      used: total - available,
      free: kb("MemFree"),
      shared: kb("Shmem"),
      buffCache: kb("Buffers") + kb("Cached") + kb("SReclaimable"),
      available,
      swapTotal,
      swapUsed: swapTotal - kb("SwapFree"),
      source,
    };
  }
  return null;
}
