/**
 * `docker cp` for any target, with nothing needed inside it: files are copied between the
 * host and a process's root directory (/proc/PID/root) by the host, with no program of the
 * container run and no library of it loaded (CVE-2019-14271), and with every path inside
 * the target resolved by the kernel within the target's root (openat2 RESOLVE_IN_ROOT,
 * then one name at a time below held directory fds, ffi/dirfd.ts), so no symlink, `..` or
 * rename race in the container reaches a host path (CVE-2018-15664).
 *
 * What the copy sees is what the target process sees: /proc/PID/root is its root in its
 * own mount namespace, so its volumes, tmpfs mounts and bind mounts are there (docker cp
 * sees the image's layers and volumes only; it cannot reach a tmpfs).
 *
 * @module
 */
import {
  AT_FDCWD,
  close,
  copyData,
  dataRanges,
  fchmod,
  fchown,
  type FdStat,
  fstatx,
  futimens,
  getXattrs,
  IN_ROOT,
  linkFd,
  lutimensat,
  mkdirat,
  mknodat,
  O,
  ONE_NAME,
  openat2,
  readInto,
  readlinkFd,
  reopen,
  RESOLVE,
  S,
  seek,
  setXattrs,
  symlinkat,
  truncate,
  unlinkat,
  writeAll,
} from "../ffi/dirfd.ts";
import { _kernelFs, readTextFileSafe } from "../ffi/files.ts";
import { SyscallError } from "../ffi/libc.ts";
import { NamespaceError } from "./errors.ts";
import { readTar, type TarHeader, type TarType, TarWriter } from "./tar.ts";
import { PinnedProcess, pinProcess } from "./target.ts";

/** What to copy from or into: a PID, or a pinned process (a `PinnedContainer` too). */
export type CopyTarget = number | PinnedProcess;

/** Options of {@link copyFrom}, {@link copyTo}, {@link tarFrom} and {@link tarTo}. */
export interface CopyOptions {
  /**
   * Archive mode (`docker cp -a`): keep the source's owners, mapped through the target's
   * user namespace. Without it, as docker cp's documentation says: files copied into the
   * target belong to its root (uid 0 inside, mapped), files copied out to the caller.
   */
  archive?: boolean;
  /**
   * Make the source's block and character device nodes inside the target (`--devices`).
   * Refused by default: made by host root and owned by the target's root, a node opens a
   * host device wherever the target has no device cgroup (a user's own namespaces, a
   * process outside any engine) — a tar out of one container could hand another the host's
   * disk. Device nodes are never made on the host. FIFOs are always copied.
   */
  devices?: boolean;
  /** Follow a symbolic link given as the source path (`-L`); links below it are copied as links. */
  followLink?: boolean;
  /** Stops the copy between files; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------------------
// The target's root and its id maps

/** One line of /proc/PID/uid_map: ids [inside, inside+count) are [outside, …) on the host. */
type _Range = [inside: number, outside: number, count: number];

class _IdMap {
  #ranges: _Range[];
  constructor(ranges: _Range[]) {
    this.#ranges = ranges;
  }
  static parse(text: string): _IdMap {
    return new _IdMap(
      text.trim().split("\n").filter(Boolean).map((l) =>
        l.trim().split(/\s+/).map(Number) as _Range
      ),
    );
  }
  /** The host id of an id inside; undefined when it has none. */
  toHost(id: number): number | undefined {
    for (const [i, o, n] of this.#ranges) if (id >= i && id < i + n) return o + id - i;
    return undefined;
  }
  /** The id inside of a host id; the overflow id 65534 when unmapped, as the kernel shows it. */
  fromHost(id: number): number {
    for (const [i, o, n] of this.#ranges) if (id >= o && id < o + n) return i + id - o;
    return 65534;
  }
  /** Whether a host id has a name inside. */
  maps(id: number): boolean {
    return this.#ranges.some(([, o, n]) => id >= o && id < o + n);
  }
}

/**
 * Refuses an existing directory (or a file to hard-link) of a target that the target's own
 * root could not change: the kernel lets a user namespace's capabilities act on an inode
 * only when its owner and group are both mapped there (capabilities(7): "the inode's UID and
 * GID are mapped", privileged_wrt_inode_uidgid). What we write as host root must stay within
 * that: a local user's `unshare -Urm` (or a rootless container) can bind-mount any host
 * directory it sees, /etc say, where a copied directory goes, and our chown to the target's
 * root then gave that user the host's directory.
 */
function _ownedInside(side: _Side, fd: number, name: string, what = "write into"): void {
  if (!side.uids || !side.gids) return;
  const st = fstatx(fd);
  if (side.uids.maps(st.uid) && side.gids.maps(st.gid)) return;
  throw new SyscallError(
    "open",
    1,
    `Cannot ${what} ${name}: it belongs to ${st.uid}:${st.gid} on the host, which the ` +
      "target's user namespace does not map (a host file mounted into it; its root could " +
      "not change it either)",
  );
}

/** Where paths are resolved: the target's root (in root, with its id maps), or the host. */
interface _Side {
  /** The fd paths are resolved from. */
  fd: number;
  /** openat2 resolve flags for a path given by the user. */
  resolve: bigint;
  /** The target's uid and gid maps; absent on the host. */
  uids?: _IdMap;
  gids?: _IdMap;
  /** How to name a path of this side in messages. */
  label: (path: string) => string;
}

const _HOST: _Side = { fd: AT_FDCWD, resolve: 0n, label: (p) => p };

/** The target's root, pinned: an O_PATH fd of /proc/PID/root opened while the pidfd held it. */
function _openTarget(target: CopyTarget): _Side & { close(): void } {
  if (typeof target !== "number" && !(target instanceof PinnedProcess)) {
    throw new TypeError(
      `Cannot copy with target ${String(target)}: give a PID or a pinned process`,
    );
  }
  const pinned = typeof target === "number" ? pinProcess(target) : target;
  const own = typeof target === "number";
  let fd = -1;
  try {
    try {
      // The one magic link followed on purpose: the target's root, in its mount namespace.
      fd = openat2(AT_FDCWD, `/proc/${pinned.pid}/root`, O.PATH | O.DIRECTORY, 0n);
    } catch (error) {
      if (!(error instanceof SyscallError)) throw error;
      throw new NamespaceError(`Cannot open the root directory of process ${pinned.pid}`, {
        errno: error.errno,
        syscall: "open",
        namespace: "mnt",
        target: pinned.pid,
        hint: error.errno === 13 || error.errno === 1
          ? "run as root or as the owner of the target"
          : undefined,
      });
    }
    const uids = _IdMap.parse(readTextFileSafe(`/proc/${pinned.pid}/uid_map`));
    const gids = _IdMap.parse(readTextFileSafe(`/proc/${pinned.pid}/gid_map`));
    // Checked after the opens: if the process exited and its PID was reused in between,
    // the fd could be another process's root.
    if (!pinned.alive) {
      throw new NamespaceError(`Cannot copy with process ${pinned.pid}: it exited`, {
        errno: 3,
        syscall: "open",
        target: pinned.pid,
      });
    }
    const rootFd = fd;
    // A container is named as the user named it (`web:/etc`, as docker cp's messages name
    // it), not by the PID it was pinned through.
    const container = (pinned as { container?: { name?: string; id: string } }).container;
    const shown = container ? container.name ?? container.id.slice(0, 12) : String(pinned.pid);
    return {
      fd: rootFd,
      resolve: IN_ROOT,
      uids,
      gids,
      label: (p) => `${shown}:${p}`,
      close: () => close(rootFd),
    };
  } catch (error) {
    close(fd);
    throw error;
  } finally {
    if (own) pinned.close();
  }
}

/**
 * Refuses a directory or file of a target that its root could not read itself: one whose
 * owner or group its user namespace does not map (so no capability of it applies) and
 * whose permission bits for others (or for its root's group) do not let it read (r, and x
 * for a directory). A user's `unshare -Urm` can mount a root-only host file into what root
 * copies out of it: the copy (a backup restored into their namespaces, a tar handed back)
 * gave them its content. A rootful container maps every id: nothing changes there.
 */
function _readableInside(side: _Side, st: FdStat, name: string): void {
  if (!side.uids || !side.gids) return;
  if (side.uids.maps(st.uid) && side.gids.maps(st.gid)) return;
  const want = (st.mode & S.IFMT) === S.IFDIR ? 5 : 4;
  const other = st.mode & 7;
  const group = st.gid === side.gids.toHost(0) ? (st.mode >> 3) & 7 : 0;
  if ((other & want) === want || (group & want) === want) return;
  throw new SyscallError(
    "open",
    13,
    `Cannot copy ${name}: it belongs to ${st.uid}:${st.gid} on the host, which the ` +
      "target's user namespace does not map, and others may not read it (a host file " +
      "mounted into it; its root could not read it either)",
  );
}

// ---------------------------------------------------------------------------------------
// What is copied: metadata and the sinks that write it

/** An entry's metadata as the source's side sees it (ids inside the target for a target). */
interface _Meta {
  mode: number;
  uid: number;
  gid: number;
  mtimeSec: number;
  mtimeNsec: number;
  xattrs?: [string, Uint8Array][];
}

/** A regular file to copy: a readable fd of it, its size, whether it has holes. */
interface _Data {
  fd: number;
  size: number;
  sparse: boolean;
}

/** Where entries are written: directory fds on a side, or a tar stream. */
interface _Sink<D> {
  dir(parent: D, name: string, meta: _Meta): D | Promise<D>;
  endDir(dir: D, meta: _Meta): void | Promise<void>;
  file(parent: D, name: string, meta: _Meta, data: _Data, linkKey?: string): void | Promise<void>;
  hardlink(parent: D, name: string, linkKey: string, meta: _Meta): boolean | Promise<boolean>;
  symlink(parent: D, name: string, target: string, meta: _Meta): void | Promise<void>;
  special(parent: D, name: string, meta: _Meta, type: number, rdev: bigint): void | Promise<void>;
  close(): void;
}

function _isErrno(error: unknown, ...codes: number[]): boolean {
  return error instanceof SyscallError && codes.includes(error.errno);
}

const EEXIST = 17;
const ENOENT = 2;
const ENOTDIR = 20;
const ELOOP = 40;

/**
 * Writes into directory fds of one side. New files are made with O_CREAT|O_EXCL|O_NOFOLLOW
 * (an existing non-directory is removed first, as tar does: never opened, so a FIFO or a
 * device planted where a file goes is replaced, not written to).
 */
class _FdSink implements _Sink<number> {
  #side: _Side;
  #archive: boolean;
  #devices: boolean;
  #links = new Map<string, number>();
  /** Directories made here ("dev:ino"): ours until endDir gives them their owner. */
  #made = new Set<string>();
  /** Our uid and gid: the owner a new file gets (asked once: each Deno.uid() is a syscall). */
  #self = _ourIds();

  constructor(side: _Side, archive: boolean, devices = false) {
    this.#side = side;
    this.#archive = archive;
    this.#devices = devices;
  }

  /** The host owner to give an entry, or undefined to leave it ours. */
  #owner(meta: _Meta): [number, number] | undefined {
    const s = this.#side;
    if (!s.uids || !s.gids) return this.#archive ? [meta.uid, meta.gid] : undefined;
    const [uid, gid] = this.#archive ? [meta.uid, meta.gid] : [0, 0];
    const hu = s.uids.toHost(uid);
    const hg = s.gids.toHost(gid);
    if (hu === undefined || hg === undefined) {
      throw new SyscallError(
        "fchownat",
        22,
        `Cannot give a file the owner ${uid}:${gid}: not mapped in the target's user namespace`,
      );
    }
    return [hu, hg];
  }

  #chown(fd: number, meta: _Meta): void {
    const o = this.#owner(meta);
    if (o) fchown(fd, o[0], o[1]);
  }

  /** Makes room for a new non-directory `name`: removes what is there unless it is a directory. */
  #clear(parent: number, name: string): void {
    let fd: number;
    try {
      fd = openat2(parent, name, O.PATH | O.NOFOLLOW, ONE_NAME);
    } catch (error) {
      if (_isErrno(error, ENOENT)) return;
      throw error;
    }
    const isDir = (fstatx(fd).mode & S.IFMT) === S.IFDIR;
    close(fd);
    if (isDir) {
      throw new SyscallError("open", 21, `Cannot overwrite directory ${name} with a non-directory`);
    }
    unlinkat(parent, name);
  }

  /**
   * Refuses an existing directory the target's root could not write to itself (see
   * {@link _ownedInside}); one this copy made is ours until its end.
   */
  checkDir(fd: number, name: string): void {
    if (!this.#side.uids) return;
    const st = fstatx(fd);
    if (!this.#made.has(`${st.dev}:${st.ino}`)) _ownedInside(this.#side, fd, name);
  }

  /** Notes a directory this copy made (an fd of it). */
  madeDir(fd: number): void {
    if (!this.#side.uids) return;
    const st = fstatx(fd);
    this.#made.add(`${st.dev}:${st.ino}`);
  }

  dir(parent: number, name: string, _meta: _Meta): number {
    const flags = O.RDONLY | O.DIRECTORY | O.NOFOLLOW;
    try {
      const fd = openat2(parent, name, flags, ONE_NAME);
      try {
        this.checkDir(fd, name);
      } catch (error) {
        close(fd);
        throw error;
      }
      return fd;
    } catch (error) {
      if (_isErrno(error, ENOTDIR, ELOOP)) {
        throw new SyscallError(
          "open",
          20,
          `Cannot overwrite non-directory ${name} with a directory`,
        );
      }
      if (!_isErrno(error, ENOENT)) throw error;
    }
    mkdirat(parent, name, 0o700);
    const fd = openat2(parent, name, flags, ONE_NAME);
    this.madeDir(fd);
    return fd;
  }

  endDir(dir: number, meta: _Meta): void {
    try {
      this.#setMeta(dir, meta);
    } finally {
      close(dir);
    }
  }

  /**
   * Owner, mode, xattrs and mtime of an open file or directory, in that order. `made`: the
   * stat of a file just created, whose owner and mode are then changed only where they
   * differ (each chown and chmod is a journaled inode update, per file of a tree).
   */
  #setMeta(fd: number, meta: _Meta, made?: FdStat): void {
    // chown before chmod: chown clears setuid and setgid.
    const owner = this.#owner(meta);
    if (owner && !(made && made.uid === owner[0] && made.gid === owner[1])) {
      fchown(fd, owner[0], owner[1]);
    }
    // Setuid and setgid stay only with the owner they were set for, as GNU cp keeps them only
    // when it keeps the owner. Into a target without -a the files become its root's: a host
    // user's setuid program would become a root one there; a root-owned source's stays
    // root's. Out of a target never (docker cp keeps them): without -a the files become
    // ours, and with -a their owners are ids as the target names them — a user's own
    // namespaces made their program a root setuid one on the host.
    const into = this.#side.uids !== undefined;
    let mask = 0o1777;
    if (into && this.#archive) mask = 0o7777;
    else if (into) mask |= (meta.uid === 0 ? 0o4000 : 0) | (meta.gid === 0 ? 0o2000 : 0);
    if (!made || (made.mode & 0o7777) !== (meta.mode & mask)) fchmod(fd, meta.mode & mask);
    // File capabilities are setuid by another name: security.capability (cap_setuid=ep)
    // would make the copy a root door for every host user who can run it. Into a target
    // they are its root's, as `setcap` run inside it makes them: written by host root they
    // would count in every user namespace (a user's `unshare -Ur` got a cap_setuid program
    // it owns, valid on the host).
    // Out of a target, only what grants nothing: `user.*`. A POSIX ACL names host ids the
    // target chose (system.posix_acl_access, and _default, which every file made later in a
    // copied directory inherits): a copy that became ours gave a host user it named read
    // and write on a 0600 file and a 0700 directory (stop 22). With -a its owners are the
    // target's ids anyway, so its ACLs are too. trusted.* (overlayfs' redirects and opaque
    // markers) and security.* (LSM labels, IMA/EVM, file capabilities) are privileged
    // namespaces that root would write as the target chose; docker cp carries none of them
    // out but security.capability, which we drop as well.
    const xattrs = into
      ? _rootCaps(meta.xattrs, this.#side.uids!.toHost(0))
      : meta.xattrs?.filter(([n]) =>
        n.startsWith("user.") || (this.#archive && n.startsWith("system.posix_acl_"))
      );
    if (xattrs?.length) setXattrs(fd, xattrs);
    futimens(fd, meta.mtimeSec, meta.mtimeNsec);
  }

  /**
   * A new file `name` for writing: O_EXCL, after removing a non-directory that is there.
   * `mode`: its permission bits (less the umask); never setuid, setgid or sticky, which
   * only {@link #setMeta} gives, after the owner.
   */
  #create(parent: number, name: string, mode = 0o600): number {
    const flags = O.WRONLY | O.CREAT | O.EXCL | O.NOFOLLOW;
    try {
      return openat2(parent, name, flags, ONE_NAME, mode & 0o777);
    } catch (error) {
      if (!_isErrno(error, EEXIST)) throw error;
      this.#clear(parent, name);
      return openat2(parent, name, flags, ONE_NAME, mode & 0o777);
    }
  }

  async file(parent: number, name: string, meta: _Meta, data: _Data, linkKey?: string) {
    // When the file keeps the owner it is made with (ours: the usual case), it is made with
    // its final permission bits, so it needs no chmod: the bits give nobody more than the
    // finished copy will. A file that changes owner waits with 0600 until after its chown.
    const owner = this.#owner(meta);
    const ours = !owner || (owner[0] === this.#self?.[0] && owner[1] === this.#self[1]);
    let fd = this.#create(parent, name, ours ? meta.mode : 0o600);
    try {
      let made = fstatx(fd);
      if (owner && ours && (made.uid !== owner[0] || made.gid !== owner[1])) {
        // Made with another group than ours (a setgid directory, which the target may have
        // chosen): that group's members could open it, with its final bits, before the
        // chown, and read what is copied into it. Made again, empty still, waiting with 0600.
        close(fd);
        fd = -1;
        unlinkat(parent, name);
        fd = this.#create(parent, name, 0o600);
        made = fstatx(fd);
      }
      await copyData(data.fd, fd, data.size, data.sparse, _yield);
      this.#setMeta(fd, meta, made);
    } catch (error) {
      if (fd >= 0) close(fd);
      throw error;
    }
    // Bounded: a target's files hard-linked outside the copied tree are never matched, and
    // one held fd each ran a default 1024-fd limit out (EMFILE) a thousand files in. Past
    // the bound a later link is copied as a file of its own.
    if (linkKey && this.#links.size < _MAX_LINK_FDS) this.#links.set(linkKey, fd);
    else close(fd);
  }

  /** A file written from a stream (tar): chunks, holes kept, then its metadata. */
  async fileFrom(
    parent: number,
    name: string,
    meta: _Meta,
    size: number,
    chunks: AsyncIterable<Uint8Array>,
  ) {
    const fd = this.#create(parent, name);
    try {
      for await (const c of chunks) writeAll(fd, c);
      truncate(fd, size);
      this.#setMeta(fd, meta);
    } finally {
      close(fd);
    }
  }

  hardlink(parent: number, name: string, linkKey: string): boolean {
    const fd = this.#links.get(linkKey);
    if (fd === undefined) return false;
    this.#clear(parent, name);
    linkFd(fd, parent, name);
    return true;
  }

  /** A hard link to an fd the caller holds (tar: the earlier entry, opened by path). */
  hardlinkFd(parent: number, name: string, fd: number): void {
    this.#clear(parent, name);
    linkFd(fd, parent, name);
  }

  symlink(parent: number, name: string, target: string, meta: _Meta): void {
    this.#clear(parent, name);
    symlinkat(target, parent, name);
    this.#chownNode(parent, name, meta, S.IFLNK);
    lutimensat(parent, name, meta.mtimeSec, meta.mtimeNsec);
  }

  special(parent: number, name: string, meta: _Meta, type: number, rdev: bigint): void {
    if (type !== S.IFIFO && (!this.#side.uids || !this.#devices)) {
      // A device node a container made, recreated on the host with its mode, would open a
      // host device to whoever the container chose; into a target, to the target (docker
      // cp and podman cp make both all the same).
      throw new SyscallError(
        "mknodat",
        1,
        `Cannot copy ${name}: it is ${_TYPE_NAMES[type]}, refused ${
          this.#side.uids ? "inside a target without --devices" : "on the host"
        }`,
      );
    }
    this.#clear(parent, name);
    mknodat(parent, name, type | (meta.mode & 0o777), rdev);
    const fd = this.#chownNode(parent, name, meta, type, true);
    try {
      // chmod through the fd's /proc link: it names the node itself, which is never opened.
      Deno.chmodSync(`/proc/self/fd/${fd}`, meta.mode & 0o7777);
    } finally {
      close(fd);
    }
    lutimensat(parent, name, meta.mtimeSec, meta.mtimeNsec);
  }

  /** chown of a node just made, after checking the name still holds a node of that type. */
  #chownNode(parent: number, name: string, meta: _Meta, type: number, keep = false): number {
    // NO_XDEV: the node was made in `parent`'s mount; a host FIFO the target mounted over
    // the name since (a user's own namespaces may) is another mount, never chowned.
    const fd = openat2(parent, name, O.PATH | O.NOFOLLOW, ONE_NAME | RESOLVE.NO_XDEV);
    try {
      if ((fstatx(fd).mode & S.IFMT) !== type) {
        throw new SyscallError("open", 40, `Cannot set the owner of ${name}: it was replaced`);
      }
      this.#chown(fd, meta);
    } catch (error) {
      close(fd);
      throw error;
    }
    if (keep) return fd;
    close(fd);
    return -1;
  }

  close(): void {
    for (const fd of this.#links.values()) close(fd);
    this.#links.clear();
  }
}

/** Our uid and gid, or undefined without --allow-sys (every new file then waits with 0600). */
function _ourIds(): [number, number] | undefined {
  const granted = (kind: "uid" | "gid") =>
    Deno.permissions.querySync({ name: "sys", kind }).state === "granted";
  if (!granted("uid") || !granted("gid")) return undefined;
  return [Deno.uid()!, Deno.gid()!];
}

/** Files kept open to hard-link their later names to (see `_FdSink.file`). */
const _MAX_LINK_FDS = 256;

/** The xattr holding a file's capabilities (capabilities(7), "File capabilities"). */
const _FILE_CAPS = "security.capability";

/**
 * File capabilities that count only where `rootUid` (a host uid) is root: the VFS_CAP_REVISION_3
 * form (capability.h: magic_etc, permitted and inheritable for two words, rootid) the
 * kernel writes when a process in a user namespace sets them (cap_convert_nscap). A v1, v2
 * or v3 value from the source keeps its sets and loses its root; one that does not parse,
 * or a target whose root has no host uid, keeps none.
 */
function _rootCaps(
  xattrs: [string, Uint8Array][] | undefined,
  rootUid: number | undefined,
): [string, Uint8Array][] | undefined {
  return xattrs?.flatMap(([name, value]): [string, Uint8Array][] => {
    if (name !== _FILE_CAPS) return [[name, value]];
    const src = new DataView(value.buffer, value.byteOffset, value.length);
    const magic = value.length >= 4 ? src.getUint32(0, true) : 0;
    // Revision 1 has one 32-bit word of each set, revisions 2 and 3 two.
    const words = [0, 1, 2, 2][magic >>> 24] ?? 0;
    if (rootUid === undefined || !words || value.length < 4 + 8 * words) return [];
    const out = new DataView(new ArrayBuffer(24));
    // The effective flag is the one flag there is (VFS_CAP_FLAGS_EFFECTIVE).
    out.setUint32(0, 0x03000000 | (magic & 1), true);
    for (let i = 0; i < 4; i++) {
      out.setUint32(4 + 4 * i, i < 2 * words ? src.getUint32(4 + 4 * i, true) : 0, true);
    }
    out.setUint32(20, rootUid, true);
    return [[name, new Uint8Array(out.buffer)]];
  });
}

/** Writes entries as a tar stream; a directory handle is its path in the archive. */
class _TarSink implements _Sink<string> {
  #tar: TarWriter;
  #links = new Map<string, string>();

  constructor(tar: TarWriter) {
    this.#tar = tar;
  }

  #header(path: string, type: TarType, meta: _Meta, extra: Partial<TarHeader> = {}): TarHeader {
    return {
      path,
      type,
      mode: meta.mode & 0o7777,
      uid: meta.uid,
      gid: meta.gid,
      size: 0,
      mtime: meta.mtimeSec,
      xattrs: meta.xattrs,
      ...extra,
    };
  }

  async dir(parent: string, name: string, meta: _Meta): Promise<string> {
    const path = _join(parent, name);
    await this.#tar.entry(this.#header(path, "dir", meta));
    return path;
  }

  endDir(): void {}

  async file(parent: string, name: string, meta: _Meta, data: _Data, linkKey?: string) {
    const path = _join(parent, name);
    await this.#tar.entry(this.#header(path, "file", meta, { size: data.size }));
    // Holes are sent as zeros (plain ustar has no sparse entries) without reading them:
    // a 2 GiB sparse file costs what its data costs, plus the zeros' trip through the stream.
    const ranges = data.sparse ? dataRanges(data.fd, data.size) : [[0, data.size]];
    let at = 0;
    const zeros = async (end: number) => {
      while (at < end) {
        const n = Math.min(end - at, _ZEROS.length);
        await this.#tar.data(_ZEROS.subarray(0, n));
        at += n;
      }
    };
    for (const [start, end] of ranges) {
      await zeros(start);
      seek(data.fd, start);
      while (at < end) {
        const buf = new Uint8Array(Math.min(end - at, 256 << 10));
        const n = readInto(data.fd, buf);
        if (n === 0) {
          throw new Error(`Cannot archive ${path}: the file shrank while it was read`);
        }
        await this.#tar.data(buf.subarray(0, n));
        at += n;
      }
    }
    await zeros(data.size);
    await this.#tar.endFile(data.size);
    if (linkKey) this.#links.set(linkKey, path);
  }

  async hardlink(parent: string, name: string, linkKey: string, meta: _Meta): Promise<boolean> {
    const first = this.#links.get(linkKey);
    if (first === undefined) return false;
    await this.#tar.entry(this.#header(_join(parent, name), "hardlink", meta, { linkname: first }));
    return true;
  }

  async symlink(parent: string, name: string, target: string, meta: _Meta) {
    await this.#tar.entry(this.#header(_join(parent, name), "symlink", meta, { linkname: target }));
  }

  async special(parent: string, name: string, meta: _Meta, type: number, rdev: bigint) {
    const kind: TarType = type === S.IFIFO ? "fifo" : type === S.IFCHR ? "char" : "block";
    // new_encode_dev: minor's low 8 bits, major, minor's high bits.
    const r = Number(rdev);
    const devmajor = (r >> 8) & 0xfff;
    const devminor = (r & 0xff) | ((r >> 12) & 0xfff00);
    await this.#tar.entry(this.#header(_join(parent, name), kind, meta, { devmajor, devminor }));
  }

  close(): void {}
}

function _join(parent: string, name: string): string {
  return parent === "" ? name : `${parent}/${name}`;
}

/** Shared zeros for holes: never written to, so one buffer serves every chunk. */
const _ZEROS = new Uint8Array(1 << 20);

const _yield = () => new Promise<void>((r) => setTimeout(r, 0));

// ---------------------------------------------------------------------------------------
// Reading a tree from fds

function _meta(st: FdStat, side: _Side, xattrs?: [string, Uint8Array][]): _Meta {
  return {
    mode: st.mode & 0o7777,
    uid: side.uids ? side.uids.fromHost(st.uid) : st.uid,
    gid: side.gids ? side.gids.fromHost(st.gid) : st.gid,
    mtimeSec: st.mtimeSec,
    mtimeNsec: st.mtimeNsec,
    xattrs: xattrs && xattrs.length ? xattrs : undefined,
  };
}

const _TYPE_NAMES: Record<number, string> = {
  [S.IFIFO]: "a FIFO",
  [S.IFCHR]: "a character device",
  [S.IFBLK]: "a block device",
  [S.IFSOCK]: "a socket",
};

/** Walks the tree under an O_PATH fd and writes each entry into a sink. */
class _Walker<D> {
  #side: _Side;
  #sink: _Sink<D>;
  #signal?: AbortSignal;
  #seen = new Map<string, number>();

  constructor(side: _Side, sink: _Sink<D>, signal?: AbortSignal) {
    this.#side = side;
    this.#sink = sink;
    this.#signal = signal;
  }

  /** Copies the entry `pathFd` (its stat `st`) as `name` in `parent`. */
  async entry(pathFd: number, st: FdStat, parent: D, name: string): Promise<void> {
    this.#signal?.throwIfAborted();
    const type = st.mode & S.IFMT;
    const sink = this.#sink;
    if (type === S.IFDIR || type === S.IFREG) _readableInside(this.#side, st, name);
    if (type === S.IFDIR) {
      const dfd = reopen(pathFd, O.RDONLY | O.DIRECTORY);
      try {
        const meta = _meta(st, this.#side, getXattrs(dfd));
        const dir = await sink.dir(parent, name, meta);
        // The kernel's interfaces (a /proc, /sys, a cgroup mount in the tree) are no stored
        // data: an empty directory, as docker cp shows them. Their files' sizes are not their
        // contents (SEEK_DATA refused `cp TARGET:/ -` with EINVAL at /proc), and a read may act
        // on the host (/proc/kmsg consumes the kernel log).
        if (!_kernelFs(dfd)) await this.children(dfd, dir);
        await sink.endDir(dir, meta);
      } finally {
        close(dfd);
      }
    } else if (type === S.IFREG) {
      // One of the kernel's files bound into a directory of data: left out, as a socket.
      if (_kernelFs(pathFd)) return;
      const key = st.nlink > 1 ? `${st.dev}:${st.ino}` : undefined;
      const count = key ? (this.#seen.get(key) ?? 0) + 1 : 0;
      if (key) this.#seen.set(key, count);
      if (key && count > 1 && await sink.hardlink(parent, name, key, _meta(st, this.#side))) {
        return;
      }
      // A regular file does not block and has no open side effects; NONBLOCK all the same.
      const fd = reopen(pathFd, O.RDONLY | O.NONBLOCK);
      try {
        const sparse = st.blocks * 512 < st.size;
        await sink.file(parent, name, _meta(st, this.#side, getXattrs(fd)), {
          fd,
          size: st.size,
          sparse,
        }, key);
      } finally {
        close(fd);
      }
    } else if (type === S.IFLNK) {
      const target = new TextDecoder().decode(readlinkFd(pathFd));
      await sink.symlink(parent, name, target, _meta(st, this.#side));
    } else if (type === S.IFSOCK) {
      // tar cannot hold a socket either (GNU tar: "socket ignored").
    } else {
      await sink.special(parent, name, _meta(st, this.#side), type, st.rdev);
    }
  }

  /** Copies the entries of directory fd `dfd` into `dir`. */
  async children(dfd: number, dir: D): Promise<void> {
    for (const e of Deno.readDirSync(`/proc/self/fd/${dfd}`)) {
      if (e.name.includes("\uFFFD")) {
        throw new Error(`Cannot copy ${JSON.stringify(e.name)}: its name is not valid UTF-8`);
      }
      let fd: number;
      try {
        fd = openat2(dfd, e.name, O.PATH | O.NOFOLLOW, ONE_NAME);
      } catch (error) {
        if (_isErrno(error, ENOENT)) continue; // removed while we copied
        throw error;
      }
      try {
        await this.entry(fd, fstatx(fd), dir, e.name);
      } finally {
        close(fd);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------
// docker cp's path rules

interface _Source {
  fd: number;
  st: FdStat;
  /** The name the copy gets: the last component. */
  base: string;
  /** `SRC/.`: copy the directory's contents, not the directory. */
  contents: boolean;
}

function _base(path: string): string {
  const parts = path.split("/").filter((p) => p && p !== ".");
  return parts.length ? parts[parts.length - 1] : "";
}

function _dirname(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  const i = trimmed.lastIndexOf("/");
  if (i < 0) return ".";
  return i === 0 ? "/" : trimmed.slice(0, i);
}

function _explain(error: unknown, what: string): Error {
  if (error instanceof SyscallError) {
    // The reason after the errno's name: the path before it may hold colons of its own.
    const reason = error.message.match(/: (E[A-Z0-9]+ \(.*\))$/)?.[1] ??
      error.message.replace(/^Cannot [^:]*: /, "");
    return new SyscallError(error.syscall, error.errno, `Cannot ${what}: ${reason}`);
  }
  return error as Error;
}

function _openSource(side: _Side, path: string, follow: boolean): _Source {
  const contents = /(^|\/)\.$/.test(path) && path !== ".";
  const trailing = path.endsWith("/");
  let fd: number;
  try {
    fd = openat2(
      side.fd,
      path || "/",
      O.PATH | (follow || trailing ? 0 : O.NOFOLLOW),
      side.resolve,
    );
  } catch (error) {
    throw _explain(error, `copy ${side.label(path)}`);
  }
  const st = fstatx(fd);
  const type = st.mode & S.IFMT;
  if ((contents || trailing) && type !== S.IFDIR) {
    close(fd);
    throw new SyscallError("open", 20, `Cannot copy ${side.label(path)}: not a directory`);
  }
  if (type !== S.IFDIR && type !== S.IFREG && type !== S.IFLNK) {
    close(fd);
    throw new SyscallError(
      "open",
      22,
      `Cannot copy ${side.label(path)}: it is ${
        _TYPE_NAMES[type] ?? "not a file"
      }, not a file or directory`,
    );
  }
  if (type === S.IFREG && _kernelFs(fd)) {
    close(fd);
    throw new SyscallError(
      "open",
      22,
      `Cannot copy ${
        side.label(path)
      }: it is a file of the kernel's interfaces (procfs, sysfs…), not stored data`,
    );
  }
  try {
    // `SRC/.` is read without an entry of its own: its check is here.
    if (type !== S.IFLNK) _readableInside(side, st, side.label(path));
  } catch (error) {
    close(fd);
    throw error;
  }
  return { fd, st, base: _base(path), contents: contents || _base(path) === "" };
}

/** Runs a copy from a source into a destination of `side`, with docker cp's rules. */
async function _copyTree(
  from: _Side,
  to: _Side,
  srcPath: string,
  destPath: string,
  options: CopyOptions,
): Promise<void> {
  options.signal?.throwIfAborted();
  const src = _openSource(from, srcPath, options.followLink ?? false);
  const sink = new _FdSink(to, options.archive ?? false, options.devices ?? false);
  const walker = new _Walker(from, sink, options.signal);
  const srcIsDir = (src.st.mode & S.IFMT) === S.IFDIR;
  const opened: number[] = [src.fd];
  try {
    let dest: number | undefined;
    try {
      dest = openat2(to.fd, destPath, O.PATH | O.DIRECTORY, to.resolve);
      opened.push(dest);
      sink.checkDir(dest, destPath);
    } catch (error) {
      if (!_isErrno(error, ENOENT, ENOTDIR)) throw _explain(error, `copy to ${to.label(destPath)}`);
      if (_isErrno(error, ENOTDIR) && srcIsDir) {
        throw new SyscallError(
          "open",
          20,
          `Cannot copy a directory to a file: ${to.label(destPath)}`,
        );
      }
      if (destPath.endsWith("/") && !srcIsDir) {
        throw new SyscallError(
          "open",
          2,
          `Cannot copy to ${to.label(destPath)}: the destination directory must exist`,
        );
      }
    }
    if (dest !== undefined && !(srcIsDir && src.contents)) {
      // Into an existing directory, under the source's name.
      await walker.entry(src.fd, src.st, dest, src.base || ".");
    } else if (dest !== undefined) {
      // SRC/. into an existing directory: its contents, and its metadata on the directory.
      const dfd = reopen(src.fd, O.RDONLY | O.DIRECTORY);
      opened.push(dfd);
      // As docker cp: the destination directory keeps its own owner, mode and mtime.
      await walker.children(dfd, dest);
    } else {
      let parent: number;
      try {
        parent = openat2(to.fd, _dirname(destPath), O.PATH | O.DIRECTORY, to.resolve);
      } catch (error) {
        throw _explain(error, `copy to ${to.label(destPath)}`);
      }
      opened.push(parent);
      try {
        sink.checkDir(parent, _dirname(destPath));
      } catch (error) {
        throw _explain(error, `copy to ${to.label(destPath)}`);
      }
      await walker.entry(src.fd, src.st, parent, _base(destPath));
    }
  } finally {
    for (const fd of opened) close(fd);
    sink.close();
  }
}

// ---------------------------------------------------------------------------------------
// The API

/**
 * Copies `path` from inside a target to `dest` on the host, with `docker cp`'s rules: a
 * directory is copied recursively; into an existing directory it goes under its own name,
 * `path/.` copies the contents; modes, mtimes, symlinks (as links), hard links, sparse
 * files and `user.*` xattrs are kept (ACLs only with `archive`; no trusted.* or security.*
 * xattr). Owners: the caller's, or with `archive` the target's (as ids inside the target). Nothing runs in the target; its symlinks and `..` stay inside it.
 *
 * @param target a PID or a pinned process (`resolveContainer()` gives one)
 * @param path the path inside the target (relative paths start at its `/`)
 * @param dest the host path
 * @param options archive, followLink, signal (device nodes are never made on the host)
 * @returns when the copy is complete
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} "Cannot copy …: reason" (`code` "ENOENT"…) for a missing path, a
 * FIFO or device as the source, a directory onto a file, and the like
 *
 * @example
 * ```ts
 * import { copyFrom } from "@nsjoin/nsjoin";
 * // Our own PID stands in for a container's.
 * const dir = await Deno.makeTempDir();
 * await copyFrom(Deno.pid, "/etc/hostname", `${dir}/hostname`);
 * if (Deno.readTextFileSync(`${dir}/hostname`) !== Deno.readTextFileSync("/etc/hostname")) {
 *   throw new Error("copy differs");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function copyFrom(
  target: CopyTarget,
  path: string,
  dest: string,
  options: Omit<CopyOptions, "devices"> = {},
): Promise<void> {
  const side = _openTarget(target);
  try {
    await _copyTree(side, _HOST, path, dest, options);
  } finally {
    side.close();
  }
}

/**
 * Copies `src` from the host to `path` inside a target, with `docker cp`'s rules (see
 * {@link copyFrom}). Files are created inside the target relative to directory fds the
 * kernel resolved within its root, never through a path it could redirect. Owners: the
 * target's root (uid 0 inside, mapped through its user namespace), or with `archive` the
 * source's ids, mapped the same way.
 *
 * @param target a PID or a pinned process
 * @param src the host path
 * @param path the destination inside the target
 * @param options archive, devices, followLink, signal
 * @returns when the copy is complete
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} "Cannot copy …: reason"
 *
 * @example
 * ```ts
 * import { copyTo } from "@nsjoin/nsjoin";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * await copyTo(Deno.pid, `${dir}/a.txt`, `${dir}/b.txt`);
 * if (Deno.readTextFileSync(`${dir}/b.txt`) !== "hello") throw new Error("copy differs");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function copyTo(
  target: CopyTarget,
  src: string,
  path: string,
  options: CopyOptions = {},
): Promise<void> {
  const side = _openTarget(target);
  try {
    await _copyTree(_HOST, side, src, path, options);
  } finally {
    side.close();
  }
}

/**
 * `path` inside a target as a tar stream (what `docker cp CONTAINER:PATH -` writes): the
 * entry and everything under it, named from its last component (`path/.`: its contents,
 * as `./…`). Owners are ids inside the target. Read lazily: memory stays flat whatever
 * the size.
 *
 * @param target a PID or a pinned process
 * @param path the path inside the target
 * @param options followLink, signal
 * @returns the tar stream; it errors if the copy fails midway
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} when `path` cannot be opened
 *
 * @example
 * ```ts
 * import { tarFrom } from "@nsjoin/nsjoin";
 * const bytes = new Uint8Array(await new Response(tarFrom(Deno.pid, "/etc/hostname")).arrayBuffer());
 * if (new TextDecoder().decode(bytes.subarray(0, 8)) !== "hostname") throw new Error("bad tar");
 * ```
 */
export function tarFrom(
  target: CopyTarget,
  path: string,
  options: Omit<CopyOptions, "archive" | "devices"> = {},
): ReadableStream<Uint8Array> {
  const side = _openTarget(target);
  let src: _Source;
  try {
    src = _openSource(side, path, options.followLink ?? false);
  } catch (error) {
    side.close();
    throw error;
  }
  const pipe = new TransformStream<Uint8Array, Uint8Array>(undefined, { highWaterMark: 8 });
  const writer = pipe.writable.getWriter();
  const tar = new TarWriter(writer);
  const walker = new _Walker(side, new _TarSink(tar), options.signal);
  (async () => {
    try {
      const isDir = (src.st.mode & S.IFMT) === S.IFDIR;
      if (isDir && src.contents) {
        const dfd = reopen(src.fd, O.RDONLY | O.DIRECTORY);
        try {
          await tar.entry({ path: ".", type: "dir", ..._tarMeta(_meta(src.st, side)) });
          await walker.children(dfd, ".");
        } finally {
          close(dfd);
        }
      } else {
        await walker.entry(src.fd, src.st, "", src.base);
      }
      await tar.close();
    } catch (error) {
      await writer.abort(error).catch(() => {});
    } finally {
      close(src.fd);
      side.close();
    }
  })();
  return pipe.readable;
}

function _tarMeta(m: _Meta): Pick<TarHeader, "mode" | "uid" | "gid" | "size" | "mtime"> {
  return { mode: m.mode, uid: m.uid, gid: m.gid, size: 0, mtime: m.mtimeSec };
}

const _SPECIAL: Partial<Record<TarType, number>> = {
  fifo: S.IFIFO,
  char: S.IFCHR,
  block: S.IFBLK,
};

/**
 * The most bytes of xattrs (names and values) the directories of one tar stream may hold:
 * a directory's metadata is kept until the end of the stream (applied deepest first), and
 * 150 directories with an 8 MiB xattr each held 1.4 GB in root's `cp -` (up to the size of the
 * stream, however large). ACLs take ~70 bytes a directory.
 */
const _DIR_XATTRS = 64 << 20;

/**
 * Extracts a tar stream into directory `path` inside a target (what
 * `docker cp - CONTAINER:PATH` does). `path` must be an existing directory. Entry names
 * are kept below it: an absolute name is taken as relative, a `..` component is refused,
 * and no symlink inside the target (nor one the archive made) is followed on the way.
 *
 * @param target a PID or a pinned process
 * @param path an existing directory inside the target
 * @param stream the tar stream
 * @param options archive (keep the archive's owners, mapped; otherwise the target's root),
 * devices (make its device nodes), signal
 * @returns when every entry is written
 * @throws {SyscallError} "Cannot extract …: reason"
 *
 * @example
 * ```ts
 * import { tarFrom, tarTo } from "@nsjoin/nsjoin";
 * const dir = await Deno.makeTempDir();
 * await tarTo(Deno.pid, dir, tarFrom(Deno.pid, "/etc/hostname"));
 * if (Deno.readTextFileSync(`${dir}/hostname`) !== Deno.readTextFileSync("/etc/hostname")) {
 *   throw new Error("copy differs");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function tarTo(
  target: CopyTarget,
  path: string,
  stream: ReadableStream<Uint8Array>,
  options: Omit<CopyOptions, "followLink"> = {},
): Promise<void> {
  const side = _openTarget(target);
  const sink = new _FdSink(side, options.archive ?? false, options.devices ?? false);
  let root = -1;
  let cached: [string, number] | undefined;
  const dirs: [string, _Meta][] = [];
  /** Bytes of xattrs (names and values) held in `dirs` (see {@link _DIR_XATTRS}). */
  let dirXattrs = 0;
  try {
    try {
      root = openat2(side.fd, path, O.PATH | O.DIRECTORY, side.resolve);
      sink.checkDir(root, path);
    } catch (error) {
      throw _explain(error, `extract into ${side.label(path)}`);
    }
    /** The directory fd of an archive path's parent, made (0755) where missing. */
    const parentOf = (parts: string[]): number => {
      const key = parts.join("/");
      if (cached?.[0] === key) return cached[1];
      let fd = -1;
      try {
        fd = parts.length === 0
          ? -1
          : openat2(root, key, O.PATH | O.DIRECTORY | O.NOFOLLOW, ONE_NAME);
      } catch (error) {
        if (!_isErrno(error, ENOENT)) throw error;
        let cur = root;
        for (const p of parts) {
          let next: number;
          try {
            next = openat2(cur, p, O.PATH | O.DIRECTORY | O.NOFOLLOW, ONE_NAME);
          } catch (e) {
            if (!_isErrno(e, ENOENT)) throw e;
            sink.checkDir(cur, key);
            mkdirat(cur, p, 0o755);
            next = openat2(cur, p, O.PATH | O.DIRECTORY | O.NOFOLLOW, ONE_NAME);
            sink.madeDir(next);
          }
          if (cur !== root) close(cur);
          cur = next;
        }
        fd = cur;
      }
      if (fd !== -1) {
        try {
          sink.checkDir(fd, key);
        } catch (error) {
          close(fd);
          throw error;
        }
      }
      if (cached && cached[1] !== root) close(cached[1]);
      cached = [key, fd === -1 ? root : fd];
      return cached[1];
    };
    for await (const entry of readTar(stream)) {
      options.signal?.throwIfAborted();
      const h = entry.header;
      const parts = h.path.split("/").filter((p) => p !== "" && p !== ".");
      if (parts.includes("..")) {
        throw new SyscallError(
          "open",
          1,
          `Cannot extract ${JSON.stringify(h.path)}: it has a .. component`,
        );
      }
      const meta: _Meta = {
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtimeSec: h.mtime,
        mtimeNsec: 0,
        xattrs: h.xattrs,
      };
      if (h.type === "dir") {
        for (const [n, v] of h.xattrs ?? []) dirXattrs += n.length + v.length;
        if (dirXattrs > _DIR_XATTRS) {
          throw new Error(
            `Cannot extract into ${
              side.label(path)
            }: the archive's directories hold more than 64 MiB of extended attributes`,
          );
        }
      }
      const name = parts.pop();
      try {
        if (name === undefined) {
          if (h.type === "dir") dirs.push(["", meta]);
          continue;
        }
        const parent = parentOf(parts);
        if (h.type === "dir") {
          close(sink.dir(parent, name, meta));
          dirs.push([[...parts, name].join("/"), meta]);
        } else if (h.type === "file") {
          await sink.fileFrom(parent, name, meta, h.size, entry.data());
        } else if (h.type === "symlink") {
          sink.symlink(parent, name, h.linkname ?? "", meta);
        } else if (h.type === "hardlink") {
          const linkParts = (h.linkname ?? "").split("/").filter((p) => p !== "" && p !== ".");
          if (linkParts.includes("..") || linkParts.length === 0) {
            throw new SyscallError(
              "linkat",
              1,
              `its link target ${JSON.stringify(h.linkname)} is outside the archive`,
            );
          }
          const fd = openat2(root, linkParts.join("/"), O.PATH | O.NOFOLLOW, ONE_NAME);
          try {
            _ownedInside(side, fd, h.linkname!, "hard-link to");
            sink.hardlinkFd(parent, name, fd);
          } finally {
            close(fd);
          }
        } else {
          const dev = BigInt(
            ((h.devminor ?? 0) & 0xff) | ((h.devmajor ?? 0) << 8) |
              (((h.devminor ?? 0) & ~0xff) << 12),
          );
          sink.special(parent, name, meta, _SPECIAL[h.type]!, dev);
        }
      } catch (error) {
        throw _explain(error, `extract ${h.path} into ${side.label(path)}`);
      }
    }
    // Directories last, deepest first: their modes may forbid writing, their mtimes
    // change with every entry made in them.
    // Reopened by name: checked again, the target may have mounted a host directory there
    // since (a directory made here is ours by its inode, one mounted over it is not).
    for (const [dir, meta] of dirs.reverse()) {
      const fd = dir === ""
        ? reopen(root, O.RDONLY | O.DIRECTORY)
        : openat2(root, dir, O.RDONLY | O.DIRECTORY | O.NOFOLLOW, ONE_NAME);
      try {
        sink.checkDir(fd, dir || ".");
      } catch (error) {
        close(fd);
        throw _explain(error, `extract ${dir} into ${side.label(path)}`);
      }
      sink.endDir(fd, meta);
    }
  } finally {
    if (cached && cached[1] !== root) close(cached[1]);
    close(root);
    sink.close();
    side.close();
  }
}
