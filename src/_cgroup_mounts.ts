/**
 * Our cgroup mounts: where each hierarchy a process's /proc/PID/cgroup names is in our
 * mount namespace, at its usual place or from /proc/self/mountinfo. Shared by the container
 * finders (is a container's cgroup root-made?) and exec (which cgroups to join).
 *
 * @module
 */

import { existsSafe, readLinkSafe } from "../ffi/files.ts";

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
    mountinfo = Deno.readTextFileSync("/proc/self/mountinfo");
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

/** The inode of the initial cgroup namespace: a constant of the kernel (PROC_CGROUP_INIT_INO). */
const INIT_CGROUP_NS = "cgroup:[4026531835]";

/**
 * Our mounts of the hierarchies a /proc/PID/cgroup text names: at their usual places under
 * /sys/fs/cgroup when each is there, else from /proc/self/mountinfo — which the kernel
 * writes out whole, every mount's options included (1–2 ms on a host with a few dozen
 * containers' overlay mounts, growing with them). The usual places are what systemd mounts
 * and runc looks at first (tryDefaultPath): `/sys/fs/cgroup/<controllers>` for v1, where
 * `name=` is left out (`name=systemd` → systemd, `cpu,cpuacct`, itself or the symlink
 * systemd makes), `/sys/fs/cgroup/unified` or `/sys/fs/cgroup` for v2. Only in the initial
 * cgroup namespace, where /proc/PID/cgroup paths start at each hierarchy's root; and each
 * place only when the directory is such a root: a v1 one holds `release_agent` (the kernel
 * makes it in a v1 hierarchy's root cgroup alone), a v2 one `cgroup.controllers`
 * and no `cgroup.type` (every v2 cgroup but the root has one). Only root can make anything
 * under /sys/fs/cgroup. Any doubt: mountinfo.
 *
 * @param cgroup a /proc/PID/cgroup text
 * @returns cgroup mounts, at least one for each hierarchy of `cgroup` that we have mounted
 */
export function cgroupMountsFor(cgroup: string): CgroupMount[] {
  return _usualMounts(cgroup) ?? cgroupMountTable();
}

function _usualMounts(cgroup: string): CgroupMount[] | undefined {
  try {
    if (readLinkSafe("/proc/thread-self/ns/cgroup") !== INIT_CGROUP_NS) return undefined;
  } catch {
    return undefined;
  }
  const out: CgroupMount[] = [];
  for (const line of cgroup.split("\n")) {
    const a = line.indexOf(":"), b = line.indexOf(":", a + 1);
    if (a < 0 || b < 0) continue;
    const controllers = line.slice(a + 1, b);
    if (controllers === "") {
      const point = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"].find((d) =>
        existsSafe(`${d}/cgroup.controllers`) && !existsSafe(`${d}/cgroup.type`)
      );
      if (!point) return undefined;
      out.push({ root: "/", point, keys: new Set(), v2: true });
      continue;
    }
    const name = controllers.replace(/^name=/, "");
    if (!/^[A-Za-z0-9_,.-]+$/.test(name)) return undefined;
    const point = `/sys/fs/cgroup/${name}`;
    if (!existsSafe(`${point}/release_agent`)) return undefined;
    out.push({ root: "/", point, keys: new Set(controllers.split(",")), v2: false });
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
