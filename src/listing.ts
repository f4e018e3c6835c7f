/**
 * Every namespace on the host, as lsns lists them, plus the ones lsns 2.38 cannot see:
 * namespaces kept alive only by an nsfs bind mount (/run/netns/NAME, or one inside another
 * mount namespace), by an open fd, or as the parent or owner of another namespace.
 *
 * @module
 */

import { NetnsIdSocket, NSID_NOT_ASSIGNED } from "../ffi/netlink.ts";
import {
  cachedIdentity,
  nsfsClose,
  nsfsIdentity,
  nsfsOpen,
  nsfsOwnerUid,
  nsfsRelated,
  nsfsType,
  pidfdOpen,
  socketNetns,
} from "../ffi/nsfs.ts";
import { readFileSafe } from "../ffi/files.ts";
import { SyscallError } from "../ffi/libc.ts";
import { decodeBytes } from "./terminal.ts";
import { threadOf } from "./_proc.ts";
import { userName } from "../ffi/users.ts";
import { assertPermissions } from "./_permissions.ts";
import { NamespaceError } from "./errors.ts";
import { _inScopedJoin } from "./scoped.ts";
import {
  assertPid,
  CLONE_FLAGS,
  NAMESPACE_TYPES,
  type NamespaceType,
  procExists,
} from "./namespaces.ts";

/** How a listed namespace is kept alive. */
export type NamespaceHolder = "process" | "mount" | "fd" | "socket" | "ancestor";

/** One namespace: lsns's columns (same names, lower case) and how it was found. */
export interface NamespaceEntry {
  /** nsfs inode number (lsns NS). */
  ns: number;
  /** Namespace type (lsns TYPE). */
  type: NamespaceType;
  /**
   * A file that opens it: /proc/PID/ns/TYPE, its bind mount, or /proc/PID/fd/N; null for an
   * ancestor and for a network namespace held only by a socket (as lsns).
   */
  path: string | null;
  /** Number of processes in it (0 when held by a mount, an fd or a child namespace). */
  nprocs: number;
  /** Lowest PID in it, or null. */
  pid: number | null;
  /** Parent PID of `pid`, or null. */
  ppid: number | null;
  /**
   * Command line of `pid` (its name when the command line is empty), or null: its first 8191
   * bytes, as lsns shows (each process chooses its own size: many of 4 MiB took gigabytes
   * of the caller's memory), NULs as spaces. A byte that is
   * not UTF-8 is the lone surrogate U+DC80 + byte (decodeBytes), so that `ls` prints it as
   * lsns does (`\xff`) and JSON keeps it (`\udcff`).
   */
  command: string | null;
  /** uid of `pid`; without a process, the owner uid of the owning user namespace. */
  uid: number | null;
  /** Name of `uid`. */
  user: string | null;
  /** Network namespaces: the id the caller's network namespace gave it, "unassigned", or null. */
  netnsid: number | "unassigned" | null;
  /** nsfs mount points of it in the caller's mount namespace (e.g. /run/netns/NAME). */
  nsfs: string[];
  /** Parent namespace inode (pid and user namespaces), 0 when none or not visible. */
  pns: number;
  /** Owning user namespace inode, 0 when not visible (the initial user namespace). */
  ons: number;
  /** What keeps it alive: processes, a mount, an open fd, or only a child namespace. */
  holder: NamespaceHolder;
}

/** What {@link listNamespaces} looks at. */
export interface ListOptions {
  /** Only these types (lsns -t); default all. */
  types?: readonly NamespaceType[];
  /**
   * Only the namespaces of this process (lsns -p). A PID no process has, or a thread's ID,
   * is a NamespaceError (ESRCH).
   */
  pid?: number;
  /** Also namespaces held only by an open fd (/proc/PID/fd); default true. */
  fds?: boolean;
  /**
   * Also network namespaces held only by a socket (SIOCGSKNS on each socket of each
   * process, as lsns 2.40+); default true. Needs ptrace access to the process (root).
   */
  sockets?: boolean;
}

/** Processes the scan could not use. */
export interface SkippedProcesses {
  /** Exited (or became zombies) while the scan ran. */
  vanished: number;
  /** Refused: owned by another user, or their /proc entry may not be read. */
  unreadable: number;
}

/** The result of {@link listNamespaces}. */
export interface NamespaceListing {
  /** The namespaces, by inode number (lsns's order). */
  namespaces: NamespaceEntry[];
  /** Processes read. */
  processes: number;
  /** Processes skipped, by reason. */
  skipped: SkippedProcesses;
  /** Plain sentences about what could not be found out, and why (e.g. NETNSID). */
  notes: string[];
}

interface _Ns {
  entry: NamespaceEntry;
  /** A file that opens it while the scan runs. */
  open: string | null;
  /** The root `open` is resolved in (another mount namespace's, through a process). */
  root?: string;
  /** An fd of it kept from the scan (a socket's namespace has no path to open again). */
  fd?: number;
  /** `open` crosses a FUSE or network mount: never opened (see _nsfsMounts). */
  remote?: boolean;
}

interface _Held {
  type: NamespaceType;
  path: string | null;
  fd?: number;
}

const _TYPE_SET = new Set<string>(NAMESPACE_TYPES);

/**
 * Lists every namespace the caller can see: those of processes (as lsns), those bind
 * mounted (nsfs in /proc/self/mountinfo), those held only by an fd, and the parents and
 * owners of those. Processes that vanish during the scan or may not be read are counted
 * in `skipped`, never thrown.
 *
 * @param options types, a PID, whether to look at fds
 * @returns the namespaces by inode number, the count of skipped processes, and notes
 *
 * @example
 * ```ts
 * import { listNamespaces } from "@nsjoin/nsjoin";
 * const { namespaces } = listNamespaces({ types: ["uts"], pid: Deno.pid });
 * if (namespaces.length !== 1 || namespaces[0].type !== "uts") throw new Error("expected one");
 * ```
 */
export function listNamespaces(options: ListOptions = {}): NamespaceListing {
  assertPermissions("list namespaces", "all");
  const types = options.types ?? NAMESPACE_TYPES;
  if (!Array.isArray(types)) {
    // A string is iterable: "net" was read as the types "n", "e" and "t".
    throw new TypeError(
      `Cannot list namespaces of types ${JSON.stringify(types)}: give a list of types (["net"])`,
    );
  }
  for (const type of types) {
    if (!_TYPE_SET.has(type)) {
      throw new TypeError(`Cannot list namespaces of type ${JSON.stringify(type)}: unknown type`);
    }
  }
  if (options.pid !== undefined) assertPid(options.pid);
  const wanted = new Set<string>(types);
  const found = new Map<number, _Ns>();
  const held = new Map<number, _Held>();
  const skipped: SkippedProcesses = { vanished: 0, unreadable: 0 };
  const notes: string[] = [];
  let processes = 0;
  const scanFds = options.fds ?? true;
  const scanSockets = (options.sockets ?? true) && wanted.has("net");
  const nsfsDev = Deno.statSync("/proc/self/ns/user").dev;
  // Each mount namespace and a process in it: its nsfs bind mounts are looked at too.
  const mountNamespaces = new Map<number, number>();

  for (const dirent of Deno.readDirSync("/proc")) {
    const name = dirent.name;
    const c = name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(name);
    const state = _readProcess(pid, types, found, mountNamespaces);
    if (state === "vanished") skipped.vanished++;
    else if (state === "unreadable") skipped.unreadable++;
    else {
      processes++;
      if (scanFds || scanSockets) _readFds(pid, wanted, held, nsfsDev, scanFds, scanSockets);
    }
  }

  if (options.pid !== undefined && !procExists(options.pid)) {
    throw new NamespaceError(`Cannot list the namespaces of process ${options.pid}`, {
      errno: 3,
      syscall: "stat",
      target: options.pid,
    });
  }
  // A thread's ID is no process (lsns -p lists nothing for it), and its namespaces need not
  // be its process's.
  const process = options.pid === undefined ? undefined : threadOf(options.pid);
  if (process !== undefined) {
    throw new NamespaceError(
      `Cannot list the namespaces of process ${options.pid}: it is a thread of process ${process}`,
      {
        errno: 3,
        syscall: "stat",
        target: options.pid,
        quiet: true,
        hint: "give a process's PID (a thread may be in other namespaces than its process)",
      },
    );
  }

  const infos = new Map<number, _ProcessInfo | undefined>();
  for (const entry of found.values()) _fillProcess(entry.entry, infos);

  for (const m of _nsfsMounts("/proc/self/mountinfo")) {
    const ns = found.get(m.ino);
    if (ns) ns.entry.nsfs.push(m.target);
    else if (wanted.has(m.type)) {
      const entry = _bare(m.ino, m.type, m.target, "mount");
      entry.nsfs.push(m.target);
      found.set(m.ino, { entry, open: m.target, ...(m.remote ? { remote: true } : {}) });
    }
  }
  // Bind mounts made inside other mount namespaces (a container's, a private one), opened
  // through that namespace's process: TARGET resolved inside /proc/PID/root, since whoever
  // owns that namespace may have hidden a FIFO or a symlink to a host file at TARGET
  // (nsfsOpen checks it is a namespace file before opening it). NSFS stays the caller's
  // view, as lsns's.
  const ownMnt = _inodeOfLink("/proc/self/ns/mnt");
  let tooLarge = 0;
  for (const [mnt, pid] of mountNamespaces) {
    if (mnt === ownMnt) continue;
    const mounts = _nsfsMounts(`/proc/${pid}/mountinfo`, MOUNTINFO_BYTES);
    if (!mounts) {
      tooLarge++;
      continue;
    }
    for (const m of mounts) {
      if (found.has(m.ino) || !wanted.has(m.type)) continue;
      const root = `/proc/${pid}/root`;
      found.set(m.ino, {
        entry: _bare(m.ino, m.type, root + m.target, "mount"),
        open: m.target,
        root,
        ...(m.remote ? { remote: true } : {}),
      });
    }
  }
  if (tooLarge > 0) {
    notes.push(
      `${tooLarge} mount namespace${tooLarge === 1 ? " has" : "s have"} a mountinfo over ${
        MOUNTINFO_BYTES >> 20
      } MiB: namespaces bound at a path only there are not listed`,
    );
  }
  for (const [ino, h] of held) {
    if (found.has(ino)) {
      nsfsClose(h.fd ?? -1);
      continue;
    }
    const holder = h.fd === undefined ? "fd" : "socket";
    found.set(ino, { entry: _bare(ino, h.type, h.path, holder), open: h.path, fd: h.fd });
  }

  try {
    _relate(found, wanted, notes);
  } finally {
    for (const ns of found.values()) nsfsClose(ns.fd ?? -1);
  }

  let namespaces = [...found.values()].map((n) => n.entry).sort((a, b) => a.ns - b.ns);
  if (options.pid !== undefined) {
    const mine = _inodesOf(options.pid);
    namespaces = namespaces.filter((e) => mine.has(e.ns));
  }
  if (skipped.unreadable > 0) {
    notes.push(
      `${skipped.unreadable} process${
        skipped.unreadable === 1 ? " was" : "es were"
      } unreadable (another user's, or /proc refused): their namespaces are not counted`,
    );
  }
  if (skipped.vanished > 0) {
    const n = skipped.vanished;
    notes.push(`${n} process${n === 1 ? "" : "es"} gone during the scan (exited, or zombies)`);
  }
  const hidepid = _procHidePid();
  if (hidepid) {
    notes.push(`/proc is mounted with ${hidepid}: other users' processes are not visible`);
  }
  return { namespaces, processes, skipped, notes };
}

type _ProcState = "ok" | "vanished" | "unreadable";

function _readProcess(
  pid: number,
  types: readonly NamespaceType[],
  found: Map<number, _Ns>,
  mountNamespaces: Map<number, number>,
): _ProcState {
  const base = `/proc/${pid}/ns/`;
  let any = false, refused = false;
  for (const type of types) {
    let link: string;
    try {
      link = Deno.readLinkSync(base + type);
    } catch (error) {
      // EACCES (ptrace_may_access, checked on each read: the process's credentials or
      // dumpable flag may change between two of them): this type alone is skipped, the ones
      // read stay counted, as lsns's read_process does.
      if (error instanceof Deno.errors.PermissionDenied) {
        refused = true;
        continue;
      }
      // ENOENT: gone, a zombie (no namespaces left), or a kernel without this type.
      if (error instanceof Deno.errors.NotFound) {
        if (!any && !refused && !_hasNamespaces(pid)) return "vanished";
        continue;
      }
      throw error;
    }
    any = true;
    // "net:[4026531840]"
    const ino = Number(link.slice(type.length + 2, -1));
    let ns = found.get(ino);
    if (!ns) {
      ns = { entry: _bare(ino, type, null, "process"), open: null };
      found.set(ino, ns);
    }
    const e = ns.entry;
    e.nprocs++;
    if (e.pid === null || pid < e.pid) e.pid = pid;
    if (type === "mnt" && !mountNamespaces.has(ino)) mountNamespaces.set(ino, pid);
  }
  if (!any && refused) return "unreadable";
  if (any && !types.includes("mnt")) {
    const mnt = _inodeOfLink(`${base}mnt`);
    if (mnt && !mountNamespaces.has(mnt)) mountNamespaces.set(mnt, pid);
  }
  return "ok";
}

/** The inode in a namespace link ("mnt:[4026531841]"), or 0 when it cannot be read. */
function _inodeOfLink(path: string): number {
  try {
    const link = Deno.readLinkSync(path);
    return Number(link.slice(link.indexOf("[") + 1, -1));
  } catch {
    return 0;
  }
}

function _hasNamespaces(pid: number): boolean {
  try {
    Deno.readLinkSync(`/proc/${pid}/ns/user`);
    return true;
  } catch {
    return false;
  }
}

function _readFds(
  pid: number,
  wanted: Set<string>,
  held: Map<number, _Held>,
  nsfsDev: number,
  nsFds: boolean,
  sockets: boolean,
): void {
  const dir = `/proc/${pid}/fd/`;
  let pidfd = -1;
  try {
    for (const fd of Deno.readDirSync(dir)) {
      let link: string;
      try {
        link = Deno.readLinkSync(dir + fd.name);
      } catch {
        continue; // closed meanwhile
      }
      if (link.startsWith("socket:[")) {
        if (!sockets) continue;
        if (pidfd === -1) pidfd = pidfdOpen(pid);
        if (pidfd >= 0) _heldBySocket(pidfd, Number(fd.name), held);
        continue;
      }
      if (!nsFds) continue;
      const open = link.indexOf(":[");
      if (open > 0 && link.endsWith("]")) {
        // Opened through /proc/PID/ns/TYPE: the link names the namespace.
        const type = link.slice(0, open);
        if (!wanted.has(type)) continue;
        const ino = Number(link.slice(open + 2, -1));
        if (!held.has(ino)) held.set(ino, { type: type as NamespaceType, path: dir + fd.name });
      } else if (link.startsWith("/")) {
        // Opened through a bind mount (/run/netns/NAME): the link is that path, or "/"
        // once unmounted, so only the device of the file tells it is a namespace.
        _heldByPath(dir + fd.name, wanted, held, nsfsDev);
      }
    }
  } catch {
    // The process exited, or its fds may not be read: its namespaces were counted already.
  } finally {
    nsfsClose(pidfd);
  }
}

/** The network namespace a socket was made in, kept open when nothing else holds it. */
function _heldBySocket(pidfd: number, fd: number, held: Map<number, _Held>): void {
  const ns = socketNetns(pidfd, fd, !_inScopedJoin());
  if (ns < 0) return;
  const ino = nsfsIdentity(ns)?.ino;
  if (ino === undefined || held.has(ino)) {
    nsfsClose(ns);
    return;
  }
  held.set(ino, { type: "net", path: null, fd: ns });
}

function _heldByPath(
  path: string,
  wanted: Set<string>,
  held: Map<number, _Held>,
  nsfsDev: number,
): void {
  // Not Deno.statSync: it asks the file's filesystem, and a FUSE daemon that never answers
  // kept the scan waiting for ever.
  const st = cachedIdentity(path);
  if (st === undefined || st.dev !== nsfsDev || held.has(st.ino)) return;
  const fd = nsfsOpen(path);
  if (fd < 0) return;
  try {
    const flag = nsfsType(fd);
    const type = NAMESPACE_TYPES.find((t) => CLONE_FLAGS[t] === flag);
    if (type && wanted.has(type)) held.set(st.ino, { type, path });
  } finally {
    nsfsClose(fd);
  }
}

function _bare(
  ino: number,
  type: NamespaceType,
  path: string | null,
  holder: NamespaceHolder,
): NamespaceEntry {
  return {
    ns: ino,
    type,
    path,
    nprocs: 0,
    pid: null,
    ppid: null,
    command: null,
    uid: null,
    user: null,
    netnsid: null,
    nsfs: [],
    pns: 0,
    ons: 0,
    holder,
  };
}

/** PPID, command, uid and user of the namespace's lowest PID (read once per namespace). */
function _fillProcess(e: NamespaceEntry, infos: Map<number, _ProcessInfo | undefined>): void {
  const pid = e.pid;
  if (pid === null) return;
  e.path = `/proc/${pid}/ns/${e.type}`;
  let info = infos.get(pid);
  if (!infos.has(pid)) infos.set(pid, info = _processInfo(pid));
  if (!info) return;
  e.ppid = info.ppid;
  e.command = info.command;
  e.uid = info.uid;
  e.user = info.uid === null ? null : userName(info.uid);
}

interface _ProcessInfo {
  ppid: number;
  command: string;
  uid: number | null;
}

/** What `ls` keeps of a process's cmdline, as lsns: a BUFSIZ buffer less its NUL. */
const CMDLINE_BYTES = 8191;

function _processInfo(pid: number): _ProcessInfo | undefined {
  try {
    // Bytes: the name (comm, set by the process: PR_SET_NAME) may be any bytes, kept as
    // decodeBytes keeps them (printed `\xff`, as lsns), where a text read made them U+FFFD.
    const bytes = Deno.readFileSync(`/proc/${pid}/stat`);
    const close = bytes.lastIndexOf(0x29); // ")"
    const comm = decodeBytes(bytes.subarray(bytes.indexOf(0x28) + 1, close)); // "("
    const rest = new TextDecoder().decode(bytes.subarray(close + 4));
    const ppid = Number(rest.slice(0, rest.indexOf(" ")));
    let command = comm;
    try {
      // Its first 8191 bytes, as lsns shows (util-linux reads it into a BUFSIZ buffer): a
      // process points its cmdline anywhere in its memory with PR_SET_MM_MAP, no privilege
      // needed — 4 GiB of zero pages made `ls` read gigabytes for each (stop 17), and 200
      // processes sharing one 4 MiB cmdline copy-on-write made root's `ls` fail after 29 s
      // at 1.7 GB ("Invalid string length": stop 27), with a cap of 4 MiB each.
      const raw = readFileSafe(`/proc/${pid}/cmdline`, { maxBytes: CMDLINE_BYTES, truncate: true });
      let end = raw.length;
      while (end > 0 && raw[end - 1] === 0) end--;
      if (end > 0) {
        for (let i = 0; i < end; i++) if (raw[i] === 0) raw[i] = 32;
        command = decodeBytes(raw.subarray(0, end));
      }
    } catch {
      // Keep the name from stat.
    }
    let uid: number | null = null;
    try {
      uid = Deno.statSync(`/proc/${pid}`).uid;
    } catch {
      // Gone meanwhile.
    }
    return { ppid, command, uid };
  } catch {
    return undefined;
  }
}

interface _Mount {
  ino: number;
  type: NamespaceType;
  target: string;
  /** Its path crosses (or is covered by) a FUSE or network mount: see _nsfsMounts. */
  remote: boolean;
}

/**
 * The most read of another mount namespace's mountinfo (ffi/files.ts's cap for what another
 * user controls). A user's own mount namespace holds up to fs.mount-max (100,000) mounts,
 * each shown with its path: 10,000 tmpfs stacked on one 3,800-byte path made a 38 MB
 * mountinfo that took the kernel 7 s to write out, and root's `ls` 9.7 s (lsns: 0.09 s);
 * with more mounts, minutes for each such namespace (stop 27). A host's mount namespaces
 * rarely reach 1 MiB (10,000 mounts of ~250 bytes: 2.5 MB). Ours is read whole.
 */
const MOUNTINFO_BYTES = 4 << 20;

/** Filesystems whose lookups and getattr may wait on a daemon or a server for ever. */
const _REMOTE_FS = /^(fuse(\..*|blk)?|nfs4?|cifs|smb3|9p|ceph|afs)$/;

/**
 * nsfs mounts in a mountinfo file: root "net:[4026532256]", target /run/netns/x. Opening
 * TARGET walks every mount on its way: a lookup in a FUSE directory (or a getattr of a FUSE
 * mount stacked on TARGET) waits for its daemon, and one that never answers kept `ls` waiting
 * for ever (a namespace bound at a path in a FUSE file system root may enter, from a mount
 * namespace of the user's own). Such a mount is marked `remote` and never opened.
 */
function _nsfsMounts(mountinfo: string): _Mount[];
function _nsfsMounts(mountinfo: string, maxBytes: number): _Mount[] | undefined;
function _nsfsMounts(mountinfo: string, maxBytes?: number): _Mount[] | undefined {
  const out: _Mount[] = [];
  let text: string;
  try {
    text = maxBytes === undefined
      ? Deno.readTextFileSync(mountinfo)
      : new TextDecoder().decode(readFileSafe(mountinfo, { maxBytes }));
  } catch (error) {
    // Over the cap: none of it (a FUSE mount listed past the cap could cover a target).
    if (error instanceof SyscallError && error.errno === 27) return undefined;
    return out;
  }
  const remote: string[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const f = line.split(" ");
    if (_REMOTE_FS.test(line.slice(sep + 3).split(" ")[0])) remote.push(_unescape(f[4]));
    if (line.slice(sep + 3, sep + 8) !== "nsfs ") continue;
    const root = f[3];
    const open = root.indexOf(":[");
    if (open < 0) continue;
    const type = root.slice(0, open);
    if (!_TYPE_SET.has(type)) continue;
    out.push({
      ino: Number(root.slice(open + 2, -1)),
      type: type as NamespaceType,
      target: _unescape(f[4]),
      remote: false,
    });
  }
  for (const m of out) {
    m.remote = remote.some((p) =>
      m.target === p || m.target.startsWith(p.endsWith("/") ? p : `${p}/`)
    );
  }
  return out;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function _unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/**
 * PNS, ONS, owner uids of namespaces without processes, and NETNSID: one open per
 * namespace (not per process), and the parents and owners nobody else holds are added.
 */
function _relate(found: Map<number, _Ns>, wanted: Set<string>, notes: string[]): void {
  let netlink: NetnsIdSocket | undefined;
  let netlinkWhy: string | undefined;
  const ownerUids = new Map<number, number>();
  const queue = [...found.values()];
  const work = (ns: _Ns, fd: number): void => {
    const e = ns.entry;
    const owner = nsfsRelated(fd, "owner");
    if (owner >= 0) {
      const id = nsfsIdentity(owner);
      if (id) {
        e.ons = id.ino;
        if (!ownerUids.has(id.ino)) {
          const uid = nsfsOwnerUid(owner);
          if (uid >= 0) ownerUids.set(id.ino, uid);
        }
        _ancestor(id.ino, "user", owner);
      }
      nsfsClose(owner);
    }
    if (e.type === "pid" || e.type === "user") {
      const parent = nsfsRelated(fd, "parent");
      if (parent >= 0) {
        const id = nsfsIdentity(parent);
        if (id) {
          e.pns = id.ino;
          _ancestor(id.ino, e.type, parent);
        }
        nsfsClose(parent);
      }
    }
    if (e.type === "user") {
      const uid = nsfsOwnerUid(fd);
      if (uid >= 0) ownerUids.set(e.ns, uid);
    }
    if (e.type === "net") {
      if (!netlink && netlinkWhy === undefined) {
        try {
          netlink = new NetnsIdSocket();
        } catch (error) {
          netlinkWhy = `socket(AF_NETLINK) failed: ${(error as Error).message}`;
        }
      }
      if (netlink) {
        try {
          const id = netlink.query(fd);
          e.netnsid = id === NSID_NOT_ASSIGNED ? "unassigned" : id;
        } catch (error) {
          netlinkWhy ??= `RTM_GETNSID failed: ${(error as Error).message}`;
        }
      }
    }
  };
  const _ancestor = (ino: number, type: NamespaceType, fd: number): void => {
    if (found.has(ino) || !wanted.has(type)) return;
    const ns: _Ns = { entry: _bare(ino, type, null, "ancestor"), open: null };
    found.set(ino, ns);
    work(ns, fd);
  };
  let unopened = 0;
  let remote = 0;
  try {
    for (const ns of queue) {
      const e = ns.entry;
      if (ns.fd !== undefined) {
        work(ns, ns.fd);
        continue;
      }
      const path = ns.open ?? e.path;
      if (path === null) continue;
      if (ns.remote) {
        remote++;
        continue;
      }
      const fd = nsfsOpen(path, ns.open === null ? undefined : ns.root);
      if (fd < 0) {
        unopened++;
        continue;
      }
      try {
        // The process may have moved (setns) since the scan: only trust the same inode.
        if (nsfsIdentity(fd)?.ino === e.ns) work(ns, fd);
        else unopened++;
      } finally {
        nsfsClose(fd);
      }
    }
  } finally {
    netlink?.close();
  }
  for (const { entry: e } of found.values()) {
    if (e.uid !== null) continue;
    const uid = ownerUids.get(e.type === "user" ? e.ns : e.ons);
    if (uid !== undefined) {
      e.uid = uid;
      e.user = userName(uid);
    }
  }
  if (netlinkWhy) {
    notes.push(`NETNSID is unknown: ${netlinkWhy}`);
  }
  if (remote > 0) {
    notes.push(
      `PNS and ONS of ${remote} namespace${remote === 1 ? "" : "s"} are unknown: ` +
        "bound under a FUSE or network mount, not opened (its daemon may never answer)",
    );
  }
  if (unopened > 0) {
    notes.push(
      `PNS and ONS of ${unopened} namespace${unopened === 1 ? "" : "s"} are unknown: ` +
        "their files could not be opened again (process gone or access refused)",
    );
  }
}

function _inodesOf(pid: number): Set<number> {
  const out = new Set<number>();
  let refused = false;
  for (const type of NAMESPACE_TYPES) {
    try {
      const link = Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
      out.add(Number(link.slice(type.length + 2, -1)));
    } catch (error) {
      // A type refused alone (the ptrace check is made on each read) is skipped, as lsns
      // skips it; the process is refused only when no type could be read.
      if (error instanceof Deno.errors.PermissionDenied) refused = true;
    }
  }
  if (out.size === 0 && refused) {
    throw new NamespaceError(`Cannot list the namespaces of process ${pid}`, {
      errno: 13,
      syscall: "readlink",
      target: pid,
      hint: "run as root or as the owner of the process",
    });
  }
  return out;
}

/** The hidepid option of the /proc mount on top, when it hides other users' processes. */
function _procHidePid(): string | undefined {
  let hide: string | undefined;
  try {
    for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
      if (line.split(" ")[4] !== "/proc") continue;
      const opts = line.slice(line.indexOf(" - ") + 3).split(" ")[2] ?? "";
      // The last /proc line is the mount on top; hidepid=1/noaccess still lists every PID.
      hide = opts.split(",").find((o) =>
        ["hidepid=2", "hidepid=invisible", "hidepid=4", "hidepid=ptraceable"].includes(o)
      );
    }
  } catch {
    // No mountinfo: nothing to say.
  }
  return hide;
}

/** How {@link namespaceTree} nests namespaces, as `lsns --tree`. */
export type TreeRelation = "process" | "parent" | "owner";

/** A namespace in a tree, with the namespaces nested under it. */
export interface NamespaceNode extends NamespaceEntry {
  /** Nested namespaces. */
  children: NamespaceNode[];
}

/** What {@link namespaceTree} nests. */
export interface TreeOptions extends ListOptions {
  /** process (by parent process), parent (pid/user hierarchy), or owner (user namespace); default owner. */
  by?: TreeRelation;
  /** A listing already made; when absent, {@link listNamespaces} is called with the options. */
  from?: NamespaceListing;
  /**
   * For the process tree: hang a namespace under the row of its nearest ancestor process
   * that has a row (true, the default: a container's namespaces nest under the engine's,
   * even with a shim between them; when the ancestors we can see end before any row, as
   * where PID 1 cannot be read, under the last row of the topmost one's namespaces — the
   * host's — and a root only when its parent cannot be read), or only under its direct
   * parent process's row (false: what `lsns --tree=process` draws, mostly flat).
   */
  nearest?: boolean;
}

/**
 * The namespaces as a forest, nested as `lsns --tree=owner|parent|process` nests them:
 * by owning user namespace, by parent pid or user namespace, or by process — under the row
 * of the nearest ancestor process (of each namespace's lowest PID) that has a row (where
 * the ancestors we can see end first — PID 1 unreadable — under the rows of the topmost
 * one's namespaces), or with `nearest: false` only under its direct parent's, as lsns. A
 * namespace whose relative is not listed (or cannot be read) is a root. The processes inside one namespace are
 * {@link processesInNamespace}'s.
 *
 * @param options the relation, and a listing or the options to make one
 * @returns the roots, in lsns's order
 *
 * @example
 * ```ts
 * import { namespaceTree } from "@nsjoin/nsjoin";
 * const roots = namespaceTree({ by: "owner", types: ["user", "uts"] });
 * if (!roots.some((r) => r.type === "user")) throw new Error("expected a user namespace at the top");
 * ```
 */
export function namespaceTree(options: TreeOptions = {}): NamespaceNode[] {
  assertPermissions("make a namespace tree", "all");
  const by = options.by ?? "owner";
  if (!["process", "parent", "owner"].includes(by)) {
    throw new TypeError(
      `Cannot make a tree by ${JSON.stringify(by)}: use process, parent or owner`,
    );
  }
  const listing = options.from ?? listNamespaces(options);
  const nearest = options.nearest ?? true;
  const ppids = new Map<number, number>();
  const roots: NamespaceNode[] = [];
  const nodes = new Map<number, NamespaceNode>();
  const byIno = new Map(listing.namespaces.map((e) => [e.ns, e]));
  // lsns attaches a row under the last row shown so far for its parent process.
  const lastRowOfPid = new Map<number, NamespaceNode>();

  const relative = (e: NamespaceEntry): NamespaceEntry | undefined => {
    if (by === "owner") return e.ons && e.ons !== e.ns ? byIno.get(e.ons) : undefined;
    if (by === "parent") return e.pns && e.pns !== e.ns ? byIno.get(e.pns) : undefined;
    return undefined;
  };
  const showing = new Set<number>();
  // The row of namespace `ns` (shown first when it is not yet), never `e`'s own or one that
  // is being shown (whose row would hang under `e`'s).
  const rowOf = (ns: number | undefined, e: NamespaceEntry, depth: number) => {
    const entry = ns === undefined || ns === e.ns ? undefined : byIno.get(ns);
    if (!entry || showing.has(ns!) || depth >= 64) return nodes.get(ns!);
    return show(entry, depth + 1);
  };
  const show = (e: NamespaceEntry, depth: number): NamespaceNode => {
    const done = nodes.get(e.ns);
    if (done) return done;
    showing.add(e.ns);
    const up = relative(e);
    // lsns shows the owner (or parent) first, so the child has a row to hang from.
    let upNode = up && depth < 64 ? show(up, depth + 1) : undefined;
    if (by === "parent" && !up && e.ons && e.ons !== e.ns) {
      const owner = byIno.get(e.ons);
      if (owner && depth < 64) show(owner, depth + 1);
      upNode = undefined;
    }
    const node: NamespaceNode = { ...e, children: [] };
    nodes.set(e.ns, node);
    let home = upNode;
    if (by === "process" && e.ppid !== null) {
      home = lastRowOfPid.get(e.ppid);
      // Up the process tree until a process with a row (init's parent is 0).
      let top = e.ppid;
      for (let p = e.ppid, n = 0; !home && nearest && p > 1 && n < 4096; n++) {
        p = _ppidOf(p, ppids);
        home = lastRowOfPid.get(p);
        if (p > 1 && !home) top = p;
      }
      // The chain left the processes we can see (PID 1's namespaces unreadable, as in a
      // container or a sandbox) before any row: its topmost visible ancestor stands for the
      // rest, under the last row of the process its namespace of that type is listed with —
      // the host's rows, as PID 1's would have been (a container's under them), not a root.
      if (!home && nearest && top > 1) {
        const row = rowOf(_nsInodeOf(top, e.type), e, depth);
        home = row && ((row.pid !== null && lastRowOfPid.get(row.pid)) || row);
      }
    }
    if (home) home.children.push(node);
    else roots.push(node);
    if (by === "process" && e.pid !== null) lastRowOfPid.set(e.pid, node);
    showing.delete(e.ns);
    return node;
  };
  for (const e of listing.namespaces) show(e, 0);
  return roots;
}

/** The inode of a process's namespace of one type; undefined when it cannot be read. */
function _nsInodeOf(pid: number, type: NamespaceType): number | undefined {
  try {
    return Number(Deno.readLinkSync(`/proc/${pid}/ns/${type}`).slice(type.length + 2, -1));
  } catch {
    return undefined;
  }
}

/** The parent PID of a process, 0 when gone (cached: the tree asks along whole chains). */
function _ppidOf(pid: number, cache: Map<number, number>): number {
  let ppid = cache.get(pid);
  if (ppid === undefined) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const close = stat.lastIndexOf(")");
      ppid = Number(stat.slice(close + 4, stat.indexOf(" ", close + 4))) || 0;
    } catch {
      ppid = 0;
    }
    cache.set(pid, ppid);
  }
  return ppid;
}

/** A process in one namespace, as `lsns NS` lists it. */
export interface NamespaceProcess {
  /** PID (host view). */
  pid: number;
  /** Parent PID. */
  ppid: number;
  /** uid. */
  uid: number | null;
  /** Name of `uid`. */
  user: string | null;
  /** Command line (its name when empty): its first 8191 bytes, as lsns shows. */
  command: string;
  /** The namespace file through this process, /proc/PID/ns/TYPE. */
  path: string;
  /** Processes below it (its children in the same namespace), for the process tree. */
  children: NamespaceProcess[];
}

/** The result of {@link processesInNamespace}. */
export interface NamespaceMembers {
  /** The namespace's inode. */
  ns: number;
  /** Its type. */
  type: NamespaceType;
  /** Its processes by PID, each nested under its parent when that is a member too (lsns's tree). */
  roots: NamespaceProcess[];
  /** How many processes are in it. */
  nprocs: number;
  /** Processes skipped, by reason. */
  skipped: SkippedProcesses;
}

/**
 * The processes in one namespace, as `lsns NS` lists them: by PID, each nested under its
 * parent process when the parent is in the namespace too.
 *
 * @param ns the namespace's inode number (lsns's NS column)
 * @returns its type, its processes as a tree, and the processes skipped
 * @throws {NamespaceError} ENOENT when no readable process is in that namespace
 *
 * @example
 * ```ts
 * import { processesInNamespace } from "@nsjoin/nsjoin";
 * const net = Number(Deno.readLinkSync("/proc/self/ns/net").slice(5, -1));
 * if (processesInNamespace(net).nprocs < 1) throw new Error("expected this process at least");
 * ```
 */
export function processesInNamespace(ns: number): NamespaceMembers {
  assertPermissions("list the processes of a namespace", "all");
  if (!Number.isSafeInteger(ns) || ns <= 0) {
    throw new RangeError(
      `Cannot use ${
        typeof ns === "string" ? JSON.stringify(ns) : ns
      } as a namespace: give its inode number`,
    );
  }
  const skipped: SkippedProcesses = { vanished: 0, unreadable: 0 };
  const members: NamespaceProcess[] = [];
  let type: NamespaceType | undefined;
  const suffix = `:[${ns}]`;
  for (const dirent of Deno.readDirSync("/proc")) {
    const c = dirent.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(dirent.name);
    let member = false;
    let refused = false;
    try {
      for (const t of type ? [type] : NAMESPACE_TYPES) {
        let link: string;
        try {
          link = Deno.readLinkSync(`/proc/${pid}/ns/${t}`);
        } catch (error) {
          if (error instanceof Deno.errors.NotFound && _hasNamespaces(pid)) continue;
          // A type refused alone (the ptrace check is made on each read): the others may
          // still show the process a member, as lsns reads each type on its own.
          if (error instanceof Deno.errors.PermissionDenied) {
            refused = true;
            continue;
          }
          throw error;
        }
        if (link.endsWith(suffix) && link.length === t.length + suffix.length) {
          type = t;
          member = true;
          break;
        }
      }
    } catch {
      skipped.vanished++;
      continue;
    }
    if (!member && refused) skipped.unreadable++;
    if (!member) continue;
    const info = _processInfo(pid);
    if (!info) {
      skipped.vanished++;
      continue;
    }
    members.push({
      pid,
      ppid: info.ppid,
      uid: info.uid,
      user: info.uid === null ? null : userName(info.uid),
      command: info.command,
      path: `/proc/${pid}/ns/${type}`,
      children: [],
    });
  }
  if (!type) {
    throw new NamespaceError(`Cannot find namespace ${ns}`, {
      errno: 2,
      syscall: "readlink",
      target: ns,
      hint: skipped.unreadable > 0
        ? `no readable process is in it (${skipped.unreadable} unreadable)`
        : "no process is in it (see: nsjoin ls)",
    });
  }
  members.sort((a, b) => a.pid - b.pid);
  const byPid = new Map(members.map((m) => [m.pid, m]));
  const roots: NamespaceProcess[] = [];
  for (const m of members) {
    const parent = byPid.get(m.ppid);
    if (parent && parent !== m) parent.children.push(m);
    else roots.push(m);
  }
  return { ns, type, roots, nprocs: members.length, skipped };
}
