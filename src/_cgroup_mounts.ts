/**
 * Our cgroup mounts, read from /proc/self/mountinfo: where each hierarchy a process's
 * /proc/PID/cgroup names is in our mount namespace. Shared by the container finders (is a
 * container's cgroup root-made?) and exec (which cgroups to join).
 *
 * @module
 */

import { readTextFileSafe } from "../ffi/files.ts";

/** A cgroup hierarchy mounted in our mount namespace, from /proc/self/mountinfo. */
export interface CgroupMount {
  /** The cgroup mounted there (field 4: "/" for the hierarchy's root). */
  root: string;
  /** The mount point. */
  point: string;
  /** A v1 hierarchy's controllers and `name=X` (its super options). */
  keys: Set<string>;
  /** cgroup2. */
  v2: boolean;
}

/** Every cgroup mount of ours, in /proc/self/mountinfo order (none when it cannot be read). */
export function cgroupMountTable(): CgroupMount[] {
  let mountinfo = "";
  try {
    // Our own mountinfo (not a target's file): Deno's reader is one op where ffi/files.ts is
    // several FFI calls, but it needs --allow-all under /proc (DESIGN fact 9); with only
    // enter's --allow-ffi --allow-env it is read through the FFI layer instead.
    try {
      mountinfo = Deno.readTextFileSync("/proc/self/mountinfo");
    } catch (e) {
      if (!(e instanceof Deno.errors.NotCapable)) throw e;
      mountinfo = readTextFileSafe("/proc/self/mountinfo");
    }
  } catch {
    return [];
  }
  const unescape = (s: string) =>
    s.includes("\\")
      ? s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)))
      : s;
  const out: CgroupMount[] = [];
  // Only the cgroup lines, found by their separator: " - " appears once in a line (spaces in
  // its fields are escaped as \040), and a host has dozens of other mounts.
  const SEP = " - cgroup";
  for (let at = mountinfo.indexOf(SEP); at >= 0; at = mountinfo.indexOf(SEP, at + SEP.length)) {
    const start = mountinfo.lastIndexOf("\n", at) + 1;
    const end = mountinfo.indexOf("\n", at);
    const [fstype, , superOpts] = mountinfo.slice(at + 3, end < 0 ? undefined : end).split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const f = mountinfo.slice(start, at).split(" ");
    out.push({
      root: unescape(f[3]),
      point: unescape(f[4]),
      keys: new Set((superOpts ?? "").split(",")),
      v2: fstype === "cgroup2",
    });
  }
  return out;
}

/**
 * Where each cgroup hierarchy's root is mounted in our mount namespace: "" for cgroup v2,
 * else each controller or `name=X` of a v1 hierarchy.
 */
export function cgroupMountRoots(
  table: readonly CgroupMount[] = cgroupMountTable(),
): Map<string, string> {
  const where = new Map<string, string>();
  for (const m of table) {
    // A mount of a sub-cgroup (field 4 not "/") does not start at the hierarchy's root.
    if (m.root !== "/" || !m.point) continue;
    if (m.v2) where.set("", m.point);
    else for (const k of m.keys) where.set(k, m.point);
  }
  return where;
}

/** What the pinning of a container read of its cgroups: see {@link cgroupViews}. */
export interface CgroupView {
  /** Its /proc/PID/cgroup, read once it was pinned. */
  cgroup: string;
  /** Our cgroup mounts then. */
  mounts: CgroupMount[];
  /** Its cgroup directories found then, each owned by root (they hold `tasks`/`cgroup.procs`). */
  rootDirs: Set<string>;
}

/**
 * The cgroups of each pinned container as its pinning read them, for the exec that follows
 * (container_exec.ts): one read of each file, not two. A snapshot like its Config: runc too
 * joins the cgroups a container was created in, never re-reading them.
 */
export const cgroupViews: WeakMap<object, CgroupView> = new WeakMap();
