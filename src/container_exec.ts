/**
 * What a `docker exec` inside a container starts with: the user from the container's own
 * /etc/passwd and /etc/group, its environment, working directory, cgroups, capabilities —
 * as `NsCommand` options.
 *
 * @module
 */
import {
  _hostSideEnv,
  _othersPlainProcess,
  type NamespaceSelection,
  type NsCommandOptions,
} from "./command.ts";
import type { PinnedContainer } from "./containers.ts";
import { cgroupMountTable, type CgroupView, cgroupViews } from "./_cgroup_mounts.ts";
import { assertPermissions } from "./_permissions.ts";
import { NamespaceError } from "./errors.ts";
import { readProcText, rootIdsOf } from "./_proc.ts";
import { differingNamespaces, type NamespaceType, namespaceTypeOfFile } from "./namespaces.ts";
import { existsSafe, isNotFound, readTextFileSafe, statSafe } from "../ffi/files.ts";
import { nsfsClose, nsfsIdentity, nsfsOpen, nsfsRelated } from "../ffi/nsfs.ts";
import { effectiveUid, SyscallError } from "../ffi/libc.ts";
import { dockerExecEnv, envRecord, setEnv } from "./_exec_env.ts";
import { nodeShimUndone } from "./_node_shim.ts";

export { setEnv };

/**
 * Reads a file of a container through /proc/PID/root without ever leaving the container:
 * the kernel resolves the path with the container's root as `/` (openat2 RESOLVE_IN_ROOT:
 * absolute symlinks and `..` stay inside, magic links are refused), in one step, so a link
 * swapped in while we read cannot point out. Only a regular file is read (a FIFO or a
 * device is an error, never a hang), never one of the kernel's interfaces (procfs, sysfs…:
 * read with our capabilities, not the container's; storedOnly), and at most 4 MiB of it.
 *
 * @param pid a process of the container
 * @param path the file, as the container sees it
 * @returns its text
 * @throws {SyscallError} ENOENT, ELOOP… from the kernel; EINVAL for a file that is not a
 *   regular one; EFBIG past 4 MiB
 */
export function readContainerFile(pid: number, path: string): string {
  return readTextFileSafe(path, {
    root: `/proc/${pid}/root`,
    storedOnly: true,
    ids: rootIdsOf(pid),
  });
}

/** A user as `docker exec -u` resolves it inside the container. */
export interface ContainerUser {
  /** uid inside the container. */
  uid: number;
  /** Primary gid inside the container. */
  gid: number;
  /** Home directory from the container's /etc/passwd ("/" when not listed). */
  home: string;
  /** Supplementary groups from the container's /etc/group. */
  groups: number[];
}

function _lines(pid: number, path: string): string[][] {
  let text: string;
  try {
    text = readContainerFile(pid, path);
  } catch (error) {
    // No such file: as docker, numeric ids still work and names do not.
    if (isNotFound(error)) return [];
    const e = error instanceof SyscallError ? error.errno : 5;
    throw new NamespaceError(`Cannot read ${path} of pid ${pid}`, {
      errno: e,
      syscall: "open",
      target: pid,
      quiet: e === 22 || e === 27,
      hint: e === 22
        ? "it is not a regular file"
        : e === 27
        ? "it is larger than 4 MiB"
        : undefined,
    });
  }
  // The text up to its first NUL byte, as the helper reads it (a C string: exec's fast path,
  // ffi/helper.c etc_lines): a hostile file's users after one were found here and not there.
  // docker reads past it.
  const nul = text.indexOf("\0");
  if (nul >= 0) text = text.slice(0, nul);
  // Each line without the blanks around it, as docker's reader (runc's libcontainer/user:
  // bytes.TrimSpace) takes it: a file with CRLF line ends ended every last field in "\r", and
  // a group's last member was no member (stop 22, tests/exec_fast_test.ts).
  return text.split("\n").map((l) => l.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, ""))
    .filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

/**
 * A uid or gid field of the container's /etc/passwd or /etc/group as docker reads it where it
 * is sane: missing or empty is 0 (runc's parser leaves the field at zero), digits after an
 * optional `+` their number. Anything else (`abc`, ` 5`, `0x10`), which docker reads as 0,
 * is refused, as the helper refuses it (ffi/helper.c field_id): a name whose ids the file does
 * not say is run as no one.
 */
function _field(text: string | undefined, what: "uid" | "gid", file: string, pid: number): number {
  const t = text ?? "";
  const v = /^(\+?[0-9]+)?$/.test(t) ? Number(t) : NaN;
  if (v <= 0xfffffffe) return v;
  throw new NamespaceError(`Cannot read ${file} of pid ${pid}`, {
    errno: 22,
    syscall: "resolve",
    target: pid,
    quiet: true,
    hint: `a ${what} in it is not a number from 0 to 4294967294`,
  });
}

/**
 * Resolves `name|uid[:group|gid]` through the container's own /etc/passwd and /etc/group,
 * as docker does: a numeric uid need not be listed (its gid is then 0), a name must be.
 * The user's /etc/group memberships are its supplementary groups only when no group is
 * given (runc's rule: `-u app:staff` gets no others).
 *
 * @param pid a process of the container
 * @param spec the user spec ("" is root)
 * @returns uid, gid, home and supplementary groups
 * @throws {NamespaceError} when a name is not in the container's files
 */
export function resolveContainerUser(pid: number, spec: string): ContainerUser {
  // Refused /proc reads would otherwise read as a missing /etc/passwd.
  assertPermissions("read a container's users", "all");
  const { uid, gid, home, groups } = _containerUser(pid, spec);
  return { uid, gid, home, groups };
}

/** A ContainerUser, with the HOME runc gives a docker exec of it. */
interface _ExecUser extends ContainerUser {
  /**
   * runc's setupUser looks the uid up again: the home of the first entry of that uid ("" when
   * its field is empty: `-u alias` of uid 1000 got app's), "/" when none.
   */
  dockerHome: string;
}

/** A uid or gid as runc's strconv.Atoi reads one (digits, a leading `+`), else undefined. */
function _id(text: string): number | undefined {
  return /^\+?[0-9]+$/.test(text) ? Number(text) : undefined;
}

/** resolveContainerUser once the permissions are known to be there. */
function _containerUser(pid: number, spec: string): _ExecUser {
  const [u = "", g] = spec.split(":", 2);
  const passwd = _lines(pid, "/etc/passwd");
  // A numeric group needs no /etc/group: it is the gid, and no memberships are added to it
  // (what a CRI runtime's spec always gives: "uid:gid").
  const groups = g !== undefined && _id(g) !== undefined ? [] : _lines(pid, "/etc/group");
  const user = u === "" ? "0" : u;
  // A number is a uid, compared as a number (runc's strconv.Atoi): `-u 01000` is the user
  // whose uid is 1000, with its gid, HOME and groups; it ran with gid 0 and HOME /.
  const uidArg = _id(user);
  const entry = uidArg !== undefined
    ? passwd.find((f) => f[2] !== undefined && _id(f[2]) === uidArg)
    : passwd.find((f) => f[0] === user);
  if (!entry && uidArg === undefined) {
    throw new NamespaceError(
      `Cannot find user ${JSON.stringify(user)} in /etc/passwd of pid ${pid}`,
      {
        errno: 2,
        syscall: "resolve",
        target: pid,
        quiet: true,
        hint: "give a name the target knows, or a uid",
      },
    );
  }
  const uid = entry ? _field(entry[2], "uid", "/etc/passwd", pid) : uidArg!;
  let gid = entry ? _field(entry[3], "gid", "/etc/passwd", pid) : 0;
  if (g !== undefined && g !== "") {
    const gidArg = _id(g);
    if (gidArg !== undefined) gid = gidArg;
    else {
      const ge = groups.find((f) => f[0] === g);
      if (!ge) {
        throw new NamespaceError(
          `Cannot find group ${JSON.stringify(g)} in /etc/group of pid ${pid}`,
          {
            errno: 2,
            syscall: "resolve",
            target: pid,
            quiet: true,
            hint: "give a group the target knows, or a gid",
          },
        );
      }
      gid = _field(ge[2], "gid", "/etc/group", pid);
    }
  }
  const name = g ? undefined : entry?.[0];
  const member = name
    ? groups.filter((f) => (f[3] ?? "").split(",").includes(name))
      .map((f) => _field(f[2], "gid", "/etc/group", pid))
    : [];
  const byUid = passwd.find((f) => f[2] !== undefined && _id(f[2]) === uid);
  const dockerHome = byUid ? byUid[5] ?? "" : "/";
  return { uid, gid, home: entry?.[5] || "/", groups: member, dockerHome };
}

/**
 * What moves a process into the cgroups of `pid`, one per hierarchy, found through
 * /proc/self/mountinfo: each v1 hierarchy's `tasks` file (a hybrid or legacy host) and the
 * cgroup v2 directory, for NsCommand's `cgroups`. `tasks`, not `cgroup.procs`: the helper is
 * single-threaded, and a thread moved alone skips the kernel's global lock whose write side
 * waits for an RCU grace period; the v2 directory lets the helper create the process in it
 * (clone3 CLONE_INTO_CGROUP) for the same reason. Hierarchies in which we already share its
 * cgroup are left out, and so are those an unprivileged caller cannot write.
 *
 * @param pid the process whose cgroups to join
 * @returns paths of v1 `tasks` files and of the v2 directory (ending in "/")
 * @throws {NamespaceError} as root, for a cgroup of the target with controllers that we do not
 * share and that lies outside our mounts of its hierarchy (from a cgroup namespace of ours)
 */
export function cgroupProcsOf(pid: number): string[] {
  return _cgroupProcs(pid);
}

/**
 * cgroupProcsOf, from what the pinning of a container read (`view`) when given; `found`
 * gets the v1 freezer hierarchy's file among them (null: none).
 */
function _cgroupProcs(
  pid: number,
  view?: CgroupView,
  found?: { freezer: string | null },
): string[] {
  // Lines as the kernel writes them: a path is the cgroup's name to the byte, and whoever
  // names the target's cgroup (a delegated subtree, a container with a writable cgroupfs)
  // may end it in blanks, which a trim took off the last line (cgroup v2's, the only one on
  // a v2 host): the directory was then not found and the join left out.
  const parse = (text: string) =>
    new Map(
      text.split("\n").filter((l) => l).map((l) => {
        const a = l.indexOf(":"), b = l.indexOf(":", a + 1);
        return [l.slice(a + 1, b), l.slice(b + 1)] as const;
      }),
    );
  // Through ffi/files.ts, as every /proc read: Deno.readTextFileSync would need --allow-all
  // (DESIGN fact 9) beyond `enter`'s --allow-ffi --allow-env, and /proc/PID is the target's.
  const theirs = parse(view?.cgroup ?? readProcText(`/proc/${pid}/cgroup`));
  // Ours, read only when a hierarchy needs it (~0.15 ms cold): see below.
  let mine: Map<string, string> | undefined;
  const mounts = view?.mounts ?? cgroupMountTable();
  const uid = effectiveUid();
  const out: string[] = [];
  for (const [controllers, path] of theirs) {
    const keys = controllers.split(",");
    // A mount of the hierarchy that holds the path (one may be of a sub-cgroup only).
    const mount = mounts.find((m) =>
      (controllers === "" ? m.v2 : !m.v2 && keys.every((k) => m.keys.has(k))) &&
      (path + "/").startsWith(m.root.replace(/\/?$/, "/"))
    );
    const rel = mount && (mount.root === "/" ? path : path.slice(mount.root.length));
    // A cgroup we have no path to: its hierarchy is not mounted here, or lies outside our mount
    // of it, as paths do in a cgroup namespace of ours (`/..`: the kernel writes them relative
    // to its root, our mounts' roots too), where a `..` of the target's path led elsewhere, into
    // another hierarchy's mount. Root ran the program in its own cgroup there: refused unless
    // it is one we share or one that limits nothing (a named v1 hierarchy; no cgroup v2 mount).
    if (!mount || rel === undefined || rel.split("/").includes("..")) {
      const limits = controllers === ""
        ? mounts.some((m) => m.v2)
        : keys.some((k) => !k.startsWith("name="));
      if (uid === 0 && limits) {
        mine ??= parse(readProcText("/proc/self/cgroup"));
        if (mine.get(controllers) !== path) {
          throw new NamespaceError(
            `Cannot join the ${controllers || "cgroup v2"} cgroup of pid ${pid}`,
            {
              errno: 2,
              syscall: "cgroup",
              target: pid,
              quiet: true,
              hint: "it is outside our mounts of that hierarchy (are we in a cgroup namespace?)",
            },
          );
        }
      }
      continue;
    }
    const dir = `${mount.point}${rel === "/" ? "" : rel}`;
    const file = mount.v2 ? `${dir}/cgroup.procs` : `${dir}/tasks`;
    // A directory the pinning found root's (a cgroup named for the container, which has this
    // file: root writes it) is joined without comparing ours: we share it only when run
    // inside the container's own cgroup, where the helper's move changes nothing.
    if (uid !== 0 || !view?.rootDirs.has(dir)) {
      mine ??= parse(readProcText("/proc/self/cgroup"));
      if (mine.get(controllers) === path) continue;
      // Root joins every cgroup of the target it does not share: one it cannot find (gone
      // since /proc/PID/cgroup was read: the target moved and its owner removed it) goes to
      // the helper all the same, whose open fails (125, nothing run). Skipping it ran the
      // program in our own cgroup, outside the target's limits and device rules.
      if (uid !== 0) {
        try {
          const st = statSafe(file);
          if (!(st.uid === uid && (st.mode & 0o200))) continue;
        } catch {
          continue;
        }
      }
    }
    // The directory with a "/": a v2 cgroup named `tasks` is not a v1 tasks file.
    out.push(mount.v2 ? `${dir}/` : file);
    if (found && !mount.v2 && mount.keys.has("freezer")) found.freezer = file;
  }
  return out;
}

/**
 * Refuses to exec where the program would be frozen, as `docker exec` refuses a paused
 * container: a frozen cgroup (docker/podman pause) stops every task that joins it, so the
 * helper and the program would hang until it is thawed. Checks each of `cgroups` (as
 * {@link cgroupProcsOf} gives them: only those we would join): a v1 freezer's
 * `freezer.state` FROZEN or FREEZING, a v2 `cgroup.freeze` of 1 or `cgroup.events` frozen 1
 * (frozen through an ancestor). A file that is not there (another v1 controller) is no
 * freezer.
 *
 * @param cgroups paths of v1 `tasks` files and of the v2 directory (ending in "/")
 * @param shown the target as the message names it ("container web", "process 42")
 * @throws {NamespaceError} code EBUSY when one is frozen (nothing was run)
 */
export function assertNotFrozen(cgroups: readonly string[], shown: string): void {
  _assertNotFrozen(cgroups, shown, undefined);
}

/**
 * assertNotFrozen, told which of `cgroups` is the v1 freezer hierarchy's `tasks` file when
 * that is known (`freezer`: null for none): the other v1 hierarchies are then not asked.
 */
function _assertNotFrozen(
  cgroups: readonly string[],
  shown: string,
  freezer: string | null | undefined,
): void {
  // Not knowing, each v1 hierarchy but the freezer's has no freezer.state: asked without
  // building an error (the first SyscallError of a process costs ~0.5 ms, each one ~40 µs).
  // Knowing, the files are those cgroupProcsOf found on our cgroup mounts: the kernel's
  // (cgroupfs has neither FIFOs nor symlinks, and no one can create a file there), read
  // with Deno's reader, one op where readTextFileSafe's checks are seven FFI calls.
  const read = (file: string) => {
    if (freezer !== undefined) {
      try {
        return Deno.readTextFileSync(file);
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return "";
        throw error;
      }
    }
    if (!existsSafe(file)) return "";
    try {
      return readTextFileSafe(file, { maxBytes: 4096 });
    } catch (error) {
      if (isNotFound(error)) return "";
      throw error;
    }
  };
  for (const c of cgroups) {
    if (freezer !== undefined && !c.endsWith("/") && c !== freezer) continue;
    for (const [path, frozen] of _freezerTests(c)) {
      if (frozen(read(path))) throw _pausedError(shown);
    }
  }
}

/** How a frozen cgroup shows in each file that can say so. */
const _FROZEN: Record<string, (text: string) => boolean> = {
  // v1 freezer: FREEZING until every task stopped.
  "freezer.state": (text) => /^(FROZEN|FREEZING)$/.test(text.trim()),
  // v2: frozen itself, or (events) through an ancestor.
  "cgroup.freeze": (text) => text.trim() === "1",
  "cgroup.events": (text) => /^frozen 1$/m.test(text),
};

/**
 * The files that can say that one of {@link cgroupProcsOf}'s entries is frozen, with the test
 * of each: a v1 hierarchy's freezer.state (only the freezer's has one), the v2 directory's
 * cgroup.freeze and cgroup.events.
 */
function _freezerTests(cgroup: string): [string, (text: string) => boolean][] {
  const v2 = cgroup.endsWith("/");
  const dir = v2 ? cgroup.slice(0, -1) : cgroup.slice(0, cgroup.lastIndexOf("/"));
  const names = v2 ? ["cgroup.freeze", "cgroup.events"] : ["freezer.state"];
  return names.map((name) => [`${dir}/${name}`, _FROZEN[name]]);
}

/**
 * The files {@link assertNotFrozen} reads for `cgroups`, found once (those that are not
 * there left out: other v1 hierarchies, the root cgroup's cgroup.freeze): for a session,
 * which checks before every program and keeps them open. Internal: not in mod.ts.
 *
 * @param cgroups as {@link cgroupProcsOf} gives them
 * @returns each file's path and its test
 */
export function _freezerFiles(
  cgroups: readonly string[],
): { path: string; frozen: (text: string) => boolean }[] {
  return cgroups.flatMap(_freezerTests).filter(([path]) => existsSafe(path))
    .map(([path, frozen]) => ({ path, frozen }));
}

/**
 * A container as the paused message names it: by its name, as `docker exec` names it
 * ("Container web is paused…"), its short ID when it has none. Internal: not in mod.ts.
 *
 * @param container the engine's facts
 * @returns "container NAME" or "container 0123456789ab"
 */
export function _pausedShown(container: { id: string; name?: string }): string {
  return `container ${container.name || container.id.slice(0, 12)}`;
}

/**
 * What {@link assertNotFrozen} throws. Internal: not in mod.ts.
 *
 * @param shown the target as the message names it
 * @returns the error (EBUSY)
 */
export function _pausedError(shown: string): NamespaceError {
  return new NamespaceError(`Cannot exec in ${shown}: it is paused`, {
    errno: 16,
    syscall: "freezer",
    quiet: true,
    hint: "unpause it first (its cgroup is frozen)",
  });
}

/** The namespace types in which a container differs from the caller. */
export function namespacesOwnedBy(pid: number): NamespaceType[] {
  try {
    return differingNamespaces(pid);
  } catch {
    return [];
  }
}

/**
 * Whether `pid` has a mount namespace other than ours: two stats (a namespace is its nsfs
 * inode), where {@link namespacesOwnedBy} reads all sixteen links (NsCommand compares every
 * type again when it plans); stats, not readlinks, as a container's pinning warmed that path
 * (the first readlink of a process costs ~0.2 ms more). False when it cannot be told (the
 * process is gone), as namespacesOwnedBy says.
 */
function _ownsMnt(pid: number): boolean {
  try {
    const ours = statSafe("/proc/thread-self/ns/mnt");
    const theirs = statSafe(`/proc/${pid}/ns/mnt`);
    return ours.ino !== theirs.ino || ours.dev !== theirs.dev;
  } catch {
    return false;
  }
}

/**
 * Refuses an exec that joins a target's mount namespace but not the user namespace it has
 * of its own: its programs (a rootless container's owner chooses them) would run with our
 * uid and, as "the target's capabilities", every capability of the host's user namespace.
 * docker exec and podman exec always join it; `enter` keeps nsenter's choice.
 *
 * @param sel the namespaces asked for
 * @param pid the target
 * @throws {TypeError} when mnt is joined and a differing user namespace is not
 */
export function assertUserWithMnt(sel: NamespaceSelection | undefined, pid: number): void {
  if (sel === undefined || sel === "all") return;
  const user = Array.isArray(sel)
    ? sel.includes("user")
    : (sel as Partial<Record<NamespaceType, true | string>>).user !== undefined;
  if (user || !_joinsMnt(sel, pid) || !namespacesOwnedBy(pid).includes("user")) return;
  throw new TypeError(
    `Cannot join the mnt namespace of process ${pid} without its user namespace: its programs would run with our privileges (add user)`,
  );
}

/**
 * Whether a program joins the cgroups of `pid` that an exec takes from it: not when the
 * target's user namespace is another than ours and the program stays in ours (`exec -n net`
 * of a local user's `unshare -Urn` or a rootless container), nor when the target is another
 * user's plain process (every namespace ours) and the program does not run as its uid. Its
 * cgroups are then its user's to make and limit (a delegated subtree: pids.max 1, memory.max,
 * cgroup.freeze, cgroup.kill), and the program, which keeps our privileges and which the
 * target cannot reach, is not in that user's keeping (stop 27, conf27). The same rule as
 * NsCommand's for its seccomp filters, resource limits and oom_score_adj.
 *
 * @param sel the namespaces asked for
 * @param pid the target
 * @param uid the program's uid (default: ours)
 * @returns false when the target's cgroups are its user's choice and the program is not theirs
 */
export function _joinsTargetCgroups(
  sel: NamespaceSelection | undefined,
  pid: number,
  uid?: number,
): boolean {
  if (_othersPlainProcess(pid, uid)) return false;
  if (sel === undefined || sel === "all") return true;
  const user = Array.isArray(sel)
    ? sel.includes("user")
    : (sel as Partial<Record<NamespaceType, true | string>>).user !== undefined;
  return user || !namespacesOwnedBy(pid).includes("user");
}

/**
 * Refuses an exec that joins a target's pid namespace but not its mount namespace (when
 * they differ from ours): the program is then a host program whose root and working
 * directory are ours, in a pid namespace where the target's processes see it, and with the
 * target's uid and capabilities (what exec gives it) they may ptrace it and follow its
 * /proc/PID/root — our whole file system, read and written with their DAC_OVERRIDE: a
 * docker container with its default capabilities read a root-only host file and wrote
 * another while root's `exec -n pid,net NAME sleep` ran. `debug` is the way to run host
 * tools there (its root holds only the tools); docker exec always joins the mount namespace.
 *
 * @param sel the namespaces asked for
 * @param pid the target
 * @throws {TypeError} when a differing pid namespace is joined and a differing mount
 * namespace is not
 */
export function assertMntWithPid(sel: NamespaceSelection | undefined, pid: number): void {
  if (sel === undefined || sel === "all") return;
  const picked = (type: NamespaceType) =>
    Array.isArray(sel)
      ? sel.includes(type)
      : (sel as Partial<Record<NamespaceType, true | string>>)[type] !== undefined;
  if (!picked("pid") || picked("mnt") || !_ownsMnt(pid)) return;
  if (!namespacesOwnedBy(pid).includes("pid")) return;
  throw new TypeError(
    `Cannot join the pid namespace of process ${pid} without its mnt namespace: its processes would reach our files through the program's /proc/PID/root (add mnt, or use nsjoin debug)`,
  );
}

/**
 * The capabilities of an exec's host program (the target's mount namespace not joined):
 * the target's, as for its own programs — unless the program is in a pid namespace the
 * target shares (its pid namespace is ours: `docker run --pid=host`, a service with a mount
 * namespace of its own) and the target's files are not ours (another mount namespace or
 * root directory). There its processes see the program, and with its uid and
 * capabilities they may ptrace it and follow its /proc/PID/root, our root directory: a
 * --pid=host container with docker's default capabilities read the host's /etc/shadow
 * through root's `exec -n net NAME sleep`. With ours it is one more process of the caller's
 * there, as with `nsenter -n`: only a task holding CAP_SYS_PTRACE over the host's user
 * namespace reaches it, which reaches every root process of that pid namespace anyway.
 *
 * @param pid the target
 * @param privileged `--privileged`
 * @returns NsCommand's `capabilities`
 */
export function _hostProgramCapabilities(pid: number, privileged?: boolean): "all" | "target" {
  if (privileged) return "all";
  if (namespacesOwnedBy(pid).includes("pid")) return "target";
  // A target in our mount namespace at our root reaches our files itself: the program lends
  // it nothing, and is as confined as it. Cannot tell: as if it did not.
  try {
    const [om, tm] = [statSafe("/proc/thread-self/ns/mnt"), statSafe(`/proc/${pid}/ns/mnt`)];
    const [or, tr] = [statSafe("/"), statSafe(`/proc/${pid}/root`)];
    const same = om.ino === tm.ino && om.dev === tm.dev && or.ino === tr.ino && or.dev === tr.dev;
    return same ? "target" : "all";
  } catch {
    return "all";
  }
}

/**
 * The rules of {@link assertUserWithMnt} and {@link _hostProgramEnv} for an exec whose
 * target is a namespace FILE, which has no process to read its other namespaces from:
 * a mount namespace owned by a user namespace other than ours is refused (its owner chooses
 * its programs: a local user's `unshare -Urm` put theirs over `/bin/ls`, and root's
 * `exec /proc/PID/ns/mnt /bin/ls` ran it as root with every capability), and so is a pid
 * namespace other than ours (as {@link assertMntWithPid}: the program, with every capability
 * of ours and our root directory, is seen there, and a container's task with CAP_SYS_PTRACE
 * read and wrote host files through its /proc/PID/root); a user namespace other than ours
 * means the program's environment is the target's to read (it has its owner's uid there).
 *
 * @param path the namespace file
 * @returns whether the program gets only the caller's harmless variables
 * @throws {TypeError} for a mount namespace owned by another user namespace, or a pid
 * namespace other than ours
 * @throws {NamespaceError} when the file is not a namespace file or cannot be opened
 */
export function _namespaceFileExec(path: string): { readsEnv: boolean } {
  const type = namespaceTypeOfFile(path);
  if (type !== "mnt" && type !== "user" && type !== "pid") return { readsEnv: false };
  const ours = statSafe(`/proc/thread-self/ns/${type === "mnt" ? "user" : type}`);
  const fd = nsfsOpen(path);
  let id: { ino: number; dev: number } | undefined;
  try {
    if (type === "mnt") {
      const owner = fd < 0 ? fd : nsfsRelated(fd, "owner");
      id = owner < 0 ? undefined : nsfsIdentity(owner);
      nsfsClose(owner);
    } else {
      id = fd < 0 ? undefined : nsfsIdentity(fd);
    }
  } finally {
    nsfsClose(fd);
  }
  // Cannot tell (gone, refused): as if it were another's.
  const same = id !== undefined && id.ino === ours.ino && id.dev === ours.dev;
  if (type === "pid" && !same) {
    throw new TypeError(
      `Cannot join the pid namespace ${path} without its mnt namespace: its processes would reach our files through the program's /proc/PID/root (give a PID of it, or nsjoin enter --pid=FILE)`,
    );
  }
  if (type !== "mnt") return { readsEnv: !same };
  if (same) return { readsEnv: false };
  throw new TypeError(
    `Cannot join the mnt namespace ${path} without its user namespace: its programs would run with our privileges (give a PID of it, or nsjoin enter -U -m)`,
  );
}

/** Options of {@link containerExecOptions}: docker exec's flags. */
export interface ContainerExecOptions {
  /** `-u`: name|uid[:group|gid], resolved in the container; default (also for "") its configured user. */
  user?: string;
  /** `-w`: an absolute working directory inside; default (also for "") its configured WorkingDir, else /. */
  workdir?: string;
  /** `-e` / `--env-file` entries (`KEY=VALUE`), applied over the container's Env. */
  env?: readonly string[];
  /**
   * `-t`: a pseudo-terminal inside the container (and TERM=xterm for docker and for a pod of
   * containerd's CRI, as `docker exec -t` and `kubectl exec -t` set it).
   */
  tty?: boolean;
  /**
   * `--privileged`: keep every capability instead of the container's. As with docker and
   * podman, the container's seccomp filter, LSM label and limits still apply.
   */
  privileged?: boolean;
  /**
   * "none" runs without the container's seccomp filter (as `docker run --security-opt
   * seccomp=unconfined` would have); default "target", which needs root to read it.
   */
  seccomp?: "target" | "none";
  /**
   * Namespaces to join; default every one the container does not share with us. Its pid
   * namespace only with its mount namespace (a host program there would lend the container
   * our root directory through /proc/PID/root).
   */
  namespaces?: NamespaceSelection;
}

/**
 * NsCommand options with `docker exec`'s semantics for a container: its configured Env
 * (docker: PATH, HOSTNAME, TERM with a tty, then Config.Env; podman and containerd: the
 * runtime spec's env, with TERM=xterm for a tty in a pod of containerd's CRI), HOME from its /etc/passwd when unset, its User and WorkingDir, its
 * cgroups (every hierarchy), its capabilities unless `privileged`, and the confinement runc
 * gives every exec (see {@link execConfinement}): no_new_privs, seccomp filters, resource
 * limits, oom_score_adj, umask, AppArmor/SELinux label.
 *
 * @param container a container from {@link resolveContainer}
 * @param options docker exec's flags
 * @returns options for NsCommand (add args and stdio)
 * @throws {NamespaceError} when a user or group name is not in the container's files
 * @throws {TypeError} when `namespaces` joins its pid namespace but not its mount namespace
 *
 * @example
 * ```ts ignore
 * import { containerExecOptions, NsCommand, resolveContainer } from "@nsjoin/nsjoin";
 * using web = await resolveContainer("web1");
 * const options = containerExecOptions(web, { user: "app", env: ["DEBUG=1"] });
 * const { stdout } = await new NsCommand("id", options).output();
 * if (!new TextDecoder().decode(stdout).startsWith("uid=")) throw new Error("no id");
 * ```
 */
export function containerExecOptions(
  container: PinnedContainer,
  options: ContainerExecOptions = {},
): NsCommandOptions {
  return _containerExecOptions(container, options, true);
}

/**
 * containerExecOptions; `check` false leaves out the permission check, for the CLI, which
 * made it before the command loaded (cli.ts): each check asks Deno for eight permissions.
 * Internal: not in mod.ts.
 */
export function _containerExecOptions(
  container: PinnedContainer,
  options: ContainerExecOptions,
  check: boolean,
): NsCommandOptions {
  try {
    return _execOptions(container, options, check);
  } catch (error) {
    // Its /proc files vanish when the container stops (a pod deleted after resolving): say
    // so as a join failure, not as a missing file.
    if (error instanceof NamespaceError || container.alive) throw error;
    throw new NamespaceError(`Cannot exec in container ${container.container.id.slice(0, 12)}`, {
      errno: 3,
      syscall: "resolve",
      target: String(container.pid),
      quiet: true,
      hint: "the target exited",
    });
  }
}

function _execOptions(
  container: PinnedContainer,
  given: ContainerExecOptions,
  check: boolean,
): NsCommandOptions {
  // docker exec's rules: "" is the default (for -u too: dockerd and podman take the
  // container's User, where "" was root), a relative path is refused by runc.
  const options = { ...given, workdir: given.workdir || undefined, user: given.user || undefined };
  if (options.workdir !== undefined && !options.workdir.startsWith("/")) {
    throw new TypeError(
      `Cannot use workdir ${JSON.stringify(options.workdir)}: give an absolute path`,
    );
  }
  if (options.user !== undefined && options.user.split(":").length > 2) {
    throw new TypeError(
      `Cannot use user ${JSON.stringify(options.user)}: give name|uid[:group|gid]`,
    );
  }
  // docker exec's -e entries, unlike NsCommand's env object (a JavaScript caller's guess).
  const envList = options.env as unknown;
  if (
    envList !== undefined &&
    (!Array.isArray(envList) || !envList.every((e) => typeof e === "string"))
  ) {
    throw new TypeError(
      'Cannot use env: give a list of "KEY=VALUE" strings, as docker exec -e takes them',
    );
  }
  assertUserWithMnt(options.namespaces, container.pid);
  assertMntWithPid(options.namespaces, container.pid);
  if (!_joinsMnt(options.namespaces, container.pid)) return _hostSide(container, options);
  const config = container.container.config;
  // Refused /proc reads would otherwise read as a missing /etc/passwd.
  if (check) assertPermissions("read a container's users", "all");
  const user = _containerUser(container.pid, options.user ?? config?.user ?? "");
  let env: string[];
  if (!config) {
    env = readTextFileSafe(`/proc/${container.pid}/environ`).split("\0").filter(Boolean);
  } else if (config.runtimeEnv && container.container.engine === "podman") {
    env = [...config.env];
    // podman appends HOME (its configured user's home) to the spec when it starts a container
    // created without one, after the created spec was stored; podman exec starts from the
    // stored one and appends HOME after -e (libpod's prepareProcessExec). So a last HOME of
    // that value is podman's, and goes; one the container was created with stays, also under
    // -u (`run -e HOME=/custom`: exec -u 1000 keeps /custom; it got /home/app, and -e entries
    // went after HOME).
    const home = options.user === undefined
      ? user.home
      : _containerUser(container.pid, config.user).home;
    if (env.at(-1) === `HOME=${home}`) env.pop();
  } else if (config.runtimeEnv) {
    env = [...config.env];
    if (options.user !== undefined) setEnv(env, `HOME=${user.home}`);
    // containerd's CRI sets TERM=xterm over the spec's env for a tty exec (`kubectl exec -t`,
    // its execInternal); CRI-O and podman exec take the spec's env as it is.
    if (options.tty && container.container.engine === "containerd" && container.container.pod) {
      setEnv(env, "TERM=xterm");
    }
  } else {
    env = dockerExecEnv(config, options.tty);
  }
  for (const e of options.env ?? []) setEnv(env, e);
  if (config && !config.runtimeEnv) {
    // docker: runc sets HOME when it is unset or empty (`-e HOME=`, an image's `ENV HOME=""`),
    // in its place, from the uid's entry (ffi/helper.c does the same for the fast path).
    const i = env.findIndex((e) => e.startsWith("HOME="));
    if (i < 0) env.push(`HOME=${user.dockerHome}`);
    else if (env[i] === "HOME=") env[i] = `HOME=${user.dockerHome}`;
  } else {
    const i = env.findIndex((e) => e.startsWith("HOME="));
    if (i < 0) env.push(`HOME=${user.home}`);
    // runc, which podman runs, sets an empty HOME (`-e HOME=`) as for docker.
    else if (env[i] === "HOME=" && container.container.engine === "podman") {
      env[i] = `HOME=${user.dockerHome}`;
    }
  }
  const record = envRecord(env);
  return {
    target: container,
    namespaces: options.namespaces ?? "all",
    env: record,
    clearEnv: true,
    uid: user.uid,
    gid: user.gid,
    groups: _execGroups(user, container, Boolean(options.user)),
    // The configured WorkingDir is a path of the container's filesystem: only a default
    // when its mount namespace is joined.
    cwd: options.workdir ?? (config?.workingDir || "/"),
    cgroups: _cgroups(container),
    capabilities: options.privileged ? "all" : "target",
    noNewPrivs: "target",
    ...execConfinement(options.seccomp),
    tty: options.tty || undefined,
    // Never in the caller's session, as runc's every exec (see NsCommandOptions.newSession).
    newSession: options.tty ? undefined : true,
  };
}

/**
 * What runc applies to every exec besides capabilities and no_new_privs, taken from the
 * container's process: its seccomp filters, resource limits, oom_score_adj, umask and LSM
 * label. `docker exec --privileged` and `podman exec --privileged` keep all of these.
 *
 * @param seccomp "none" to leave the seccomp filter out
 * @returns the NsCommand options
 */
export function execConfinement(
  seccomp: "target" | "none" = "target",
): Pick<NsCommandOptions, "seccomp" | "rlimits" | "oomScoreAdj" | "umask" | "lsm"> {
  return { seccomp, rlimits: "target", oomScoreAdj: "target", umask: "target", lsm: "target" };
}

/**
 * The supplementary groups an exec gets. docker's daemon (its getUser): the primary gid, the
 * user's /etc/group memberships, and the container's `--group-add` for every exec, whatever
 * `-u` says. podman 4.3: the memberships, and the spec's additional gids (its `--group-add`)
 * only for the configured user: `podman exec -u 1234` gets none of them. containerd and
 * CRI-O, whose execs have no user of their own: the memberships and the spec's gids.
 */
function _execGroups(
  user: ContainerUser,
  container: PinnedContainer,
  explicitUser: boolean,
): number[] | undefined {
  const config = container.container.config;
  if (!config) return undefined;
  const groups = config.runtimeEnv
    ? [
      ...user.groups,
      ...(explicitUser && container.container.engine === "podman"
        ? []
        : config.additionalGids ?? []),
    ]
    : [user.gid, ...user.groups, ..._groupAdd(container.pid, config.groupAdd ?? [])];
  return [...new Set(groups)];
}

/**
 * docker's `--group-add` entries as gids: a group of that name in the container's
 * /etc/group, else a gid given as digits (runc's GetAdditionalGroups, which docker calls at
 * every exec); anything else is refused as docker exec refuses it.
 */
function _groupAdd(pid: number, entries: readonly string[]): number[] {
  if (!entries.length) return [];
  const groups = entries.every((e) => /^[0-9]+$/.test(e)) ? [] : _lines(pid, "/etc/group");
  return entries.map((e) => {
    const named = groups.find((f) => f[0] === e);
    if (named) return Number(named[2]);
    if (/^[0-9]+$/.test(e) && Number(e) <= 2147483647) return Number(e);
    throw new NamespaceError(`Cannot find group ${JSON.stringify(e)} in /etc/group of pid ${pid}`, {
      errno: 2,
      syscall: "resolve",
      target: pid,
      quiet: true,
      hint: "the container's --group-add names it",
    });
  });
}

/** The container's cgroups, after checking that it is not paused. */
function _cgroups(container: PinnedContainer): string[] {
  const found = { freezer: null as string | null };
  const view = cgroupViews.get(container);
  // Reading its /proc/PID/cgroup again would fail once it exited (a pod deleted after
  // resolving); what its pinning read does not: ask the pin (_containerExecOptions says so).
  if (view && !container.alive) throw new Deno.errors.NotFound(`/proc/${container.pid}`);
  const cgroups = _cgroupProcs(container.pid, view, found);
  _assertNotFrozen(cgroups, _pausedShown(container.container), found.freezer);
  return cgroups;
}

function _joinsMnt(sel: NamespaceSelection | undefined, pid?: number): boolean {
  const differs = () => pid === undefined || _ownsMnt(pid);
  if (sel === undefined || sel === "all") return differs();
  if (Array.isArray(sel)) return sel.includes("mnt") && differs();
  return (sel as Partial<Record<NamespaceType, true | string>>).mnt !== undefined && differs();
}

/**
 * The environment of an exec's host program (the target's mount namespace not joined): the
 * caller's, plus `env` — unless the program joins a pid or user namespace of the target's.
 * There the target reads it: in its user namespace the program has that namespace's
 * owner's uid (a local user's `unshare -Ur`), in its pid namespace a task with the
 * program's uid and capabilities may ptrace it, and /proc/PID/environ is theirs to read
 * (root's `exec PID` handed a local user its SECRET_TOKEN). Then only the caller's TERM,
 * COLORTERM, LANG, LANGUAGE, LC_*, TZ, HOSTNAME, PATH and HOME go, with `env` over them.
 * docker exec never passes the caller's environment at all.
 *
 * @param sel the namespaces asked for
 * @param pid the target
 * @param env what the caller sets (-e)
 * @returns NsCommand's `env` and `clearEnv` (and, for "all", the namespaces that differ now)
 */
export function _hostProgramEnv(
  sel: NamespaceSelection | undefined,
  pid: number,
  env: Record<string, string>,
): Pick<NsCommandOptions, "env" | "clearEnv" | "namespaces"> {
  const picked = (type: NamespaceType) =>
    sel === undefined || sel === "all" ||
    (Array.isArray(sel)
      ? sel.includes(type)
      : (sel as Partial<Record<NamespaceType, true | string>>)[type] !== undefined);
  if (!picked("pid") && !picked("user")) return { env };
  let differ: NamespaceType[];
  try {
    differ = differingNamespaces(pid);
  } catch {
    differ = ["pid", "user"]; // Cannot tell (gone, refused): as if seen.
  }
  if (!differ.some((type) => (type === "pid" || type === "user") && picked(type))) {
    // "all" would join what differs when the helper runs: a process that makes a user
    // namespace of its own meanwhile (unshare -U, any user's process) would get the
    // environment decided for one that has none. Only what differs now.
    const now = differ.filter((type) => type !== "mnt");
    return sel === undefined || sel === "all"
      ? { env, ...(now.length ? { namespaces: now } : {}) }
      : { env };
  }
  return _readableEnv(env);
}

/**
 * The working directory of an exec's host program without `-w`: where the target can read
 * the program (what {@link _hostProgramEnv} gave only harmless variables), `/`. Its
 * /proc/PID/cwd is theirs to follow, past the search permission of every directory above
 * ours: root's `exec -n user,net` from a world-searchable directory below its 0700 one let
 * the user namespace's owner read that directory. Else the caller's, as `nsenter -n` keeps it.
 *
 * @param env what {@link _hostProgramEnv} or {@link _readableEnv} returned
 * @returns NsCommand's `cwd`: "/" or undefined (the caller's)
 */
export function _hostProgramCwd(env: Pick<NsCommandOptions, "clearEnv">): string | undefined {
  return env.clearEnv ? "/" : undefined;
}

/**
 * The environment of a host program the target can read: the caller's TERM, COLORTERM,
 * LANG, LANGUAGE, LC_*, TZ and HOSTNAME (naming no file), PATH and HOME, then `env`.
 */
export function _readableEnv(
  env: Record<string, string>,
): Pick<NsCommandOptions, "env" | "clearEnv"> {
  const caller = Deno.env.toObject();
  // PATH as we were started with it, without the directory Deno's node shim put first.
  const shim = nodeShimUndone();
  if (shim?.path !== undefined) caller.PATH = shim.path;
  else if (shim) delete caller.PATH;
  const kept = _hostSideEnv(caller);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(caller)) {
    if (k in kept || k === "PATH" || k === "HOME") out[k] = v;
  }
  return { env: { ...out, ...env }, clearEnv: true };
}

/**
 * An exec that leaves out the container's mount namespace runs a host program: the
 * container's Env (PATH, LD_PRELOAD…), its configured User and its /etc/passwd and
 * /etc/group are the container's to choose and would pick host files and host groups, so
 * none is used — as `nsenter -n`: the caller's environment plus `env`, the caller's
 * credentials unless a numeric `user` is given (then no supplementary groups). Cgroups and
 * the rest of its confinement ({@link execConfinement}) stay the container's, and so do
 * capabilities unless it shares our pid namespace (see {@link _hostProgramCapabilities}).
 */
function _hostSide(container: PinnedContainer, options: ContainerExecOptions): NsCommandOptions {
  let ids: { uid?: number; gid?: number } = {};
  if (options.user !== undefined) {
    const m = options.user.match(/^([0-9]+)(?::([0-9]+))?$/);
    if (!m) {
      throw new TypeError(
        `Cannot use user ${
          JSON.stringify(options.user)
        } without the container's mount namespace: give uid[:gid] (its /etc/passwd would choose host credentials)`,
      );
    }
    ids = { uid: Number(m[1]), gid: m[2] === undefined ? undefined : Number(m[2]) };
  }
  const env: Record<string, string> = {};
  for (const e of options.env ?? []) {
    const eq = e.indexOf("=");
    if (eq > 0) env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  const hostEnv = _hostProgramEnv(options.namespaces, container.pid, env);
  // Read (and a paused container refused, as docker exec refuses it) even when not joined.
  const cgroups = _cgroups(container);
  return {
    target: container,
    namespaces: options.namespaces ?? "all",
    ...hostEnv,
    ...ids,
    cwd: options.workdir || _hostProgramCwd(hostEnv),
    cgroups: _joinsTargetCgroups(options.namespaces, container.pid) ? cgroups : [],
    capabilities: _hostProgramCapabilities(container.pid, options.privileged),
    noNewPrivs: "target",
    // As `exec -n net PID` gives it: a host program in a container's namespaces and cgroups
    // is still under its filter and limits, never with more than its own processes have.
    ...execConfinement(options.seccomp),
    tty: options.tty || undefined,
    newSession: options.tty ? undefined : true,
  };
}
