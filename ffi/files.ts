/**
 * Reading files that someone else controls: a container's /etc/passwd through
 * /proc/PID/root, a user's storage.conf, an engine's state files, /proc/PID/* of any process.
 *
 * Each of them may be a symlink to a host file, a FIFO (an open or a read that never
 * returns), a device (an open with side effects: a watchdog starts counting down), or huge
 * (`/dev/zero`, a sparse file). So every read here:
 * - resolves the path with openat2(2) — inside `root` with RESOLVE_IN_ROOT and
 *   RESOLVE_NO_MAGICLINKS (every symlink and `..` stays in that root, the kernel's own
 *   rule, with no race between check and use), or with RESOLVE_NO_SYMLINKS when asked;
 * - opens it O_PATH first (no open side effects, no blocking), checks with fstat that it is
 *   a regular file, and only then reopens that same inode for reading (O_NONBLOCK);
 * - stops at `maxBytes` with EFBIG instead of reading on.
 *
 * It is synchronous on purpose: nothing here can block (a regular file never does), and
 * `/proc/PID/root` must be resolved on the calling thread (DESIGN.md fact 3).
 *
 * @module
 */

import {
  cstr,
  decodeText,
  errno,
  EXEC_SYMBOLS,
  libcSubset,
  SYSCALL_NUMBERS,
  SyscallError,
} from "./libc.ts";

/** Options of {@link readFileSafe}. */
export interface SafeReadOptions {
  /**
   * Resolve `path` as if this directory were `/` (e.g. `/proc/PID/root`): absolute
   * symlinks, `..` and magic links can never leave it.
   */
  root?: string;
  /** Refuse a symlink in any component of the path (RESOLVE_NO_SYMLINKS). */
  noFollow?: boolean;
  /** The most bytes to read; a larger file is an EFBIG error. Default 4 MiB. */
  maxBytes?: number;
  /**
   * With {@link readFileSafe}: give the first `maxBytes` of a larger file instead of the
   * EFBIG error (what lsns shows of a cmdline: its first 8 KiB).
   */
  truncate?: boolean;
  /**
   * Refuse (EPERM) a file not owned by this uid: what a user's own config names must be
   * that user's file, never one of root's they pointed a symlink or a path at.
   */
  owner?: number;
  /**
   * Refuse (EINVAL, as "not a regular file") a file of the kernel's interface file systems
   * (procfs, sysfs, debugfs, tracefs, securityfs, configfs, bpf, pstore, efivarfs, cgroupfs):
   * their reads are checked against our capabilities, not the file's owner's (a container's
   * /etc/passwd linked to its /proc/kmsg, which needs CAP_SYSLOG, had root's exec consume the
   * host's kernel log). For files that must be stored ones (ffi/helper.c kernel_fs: the same list).
   */
  storedOnly?: boolean;
  /**
   * Take a file of the kernel's interface file systems ({@link storedOnly}'s list) only when it
   * is this file of ours: the same inode number on the same kind of file system (a procfs
   * entry has one inode number in every proc instance). For a target's own copy of a kernel
   * file (its /proc/meminfo: procfs, or lxcfs's FUSE file, or a stored one): a namespace
   * whose root may mount had its /proc/meminfo bound to /proc/kmsg, and root's `inspect`
   * consumed the host's pending kernel log reading it (stop 27).
   */
  kernelFile?: string;
  /**
   * Resolve and open the path with these filesystem ids, no supplementary groups and so no
   * capability over files (the kernel drops the fs set when fsuid leaves 0), on the calling
   * thread only, which gets ours back before this returns: for a file of a target whose user
   * namespace is not ours, read as its root can read it (see container_exec.ts
   * readContainerFile). Needs CAP_SETUID and CAP_SETGID.
   */
  ids?: { uid: number; gid: number };
}

/** statfs(2) f_type of the file systems {@link SafeReadOptions.storedOnly} refuses. */
const KERNEL_FS_MAGIC: readonly bigint[] = [
  0x9fa0n, // proc
  0x62656572n, // sysfs
  0x64626720n, // debugfs
  0x74726163n, // tracefs
  0x73636673n, // securityfs
  0x62656570n, // configfs
  0xcafe4a11n, // bpf
  0x6165676cn, // pstore
  0xde5e81e4n, // efivarfs
  0x27e0ebn, // cgroup
  0x63677270n, // cgroup2
];

/** The default cap: far above any passwd, group, storage.conf or OCI spec. */
export const DEFAULT_MAX_BYTES: number = 4 << 20;

const SYS_OPENAT2 = 437n; // the same number on x86_64 and asm-generic (aarch64)
const AT_FDCWD = -100n;
const AT_FDCWD_I32 = -100;
const O_PATH = 0o10000000;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const O_NOCTTY = 0o400;
const RESOLVE_NO_MAGICLINKS = 0x02n;
const RESOLVE_NO_SYMLINKS = 0x04n;
const RESOLVE_IN_ROOT = 0x10n;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
// st_mode's offset in struct stat: x86_64 puts st_nlink (8 bytes) before it, the generic
// layout of aarch64 puts it after. st_uid follows 4 bytes later in both.
const ST_MODE_OFFSET = Deno.build.arch === "x86_64" ? 24 : 16;
const ST_UID_OFFSET = ST_MODE_OFFSET + 4;

function _lib() {
  return libcSubset(...EXEC_SYMBOLS);
}

function _openPath(dirfd: bigint, path: string, resolve: bigint): number {
  // EAGAIN: RESOLVE_IN_ROOT met `..` while something renamed or mounted anywhere (the
  // kernel's rename_lock is global); the kernel asks for a retry. Bounded: a container's
  // rename loop must not keep us here, and under one, a few tries succeed.
  for (let tries = 1;; tries++) {
    const fd = _openPathRaw(dirfd, path, resolve);
    if (fd >= 0) return fd;
    const e = errno();
    if (e !== _EAGAIN || tries >= OPENAT2_TRIES) throw new SyscallError("openat2", e);
  }
}

const _EAGAIN = 11;
/** How often openat2 is tried when it says EAGAIN (see `_openPath`). */
export const OPENAT2_TRIES = 64;

/** openat2(2) O_PATH: the fd, or -1 with errno set. */
function _openPathRaw(dirfd: bigint, path: string, resolve: bigint): number {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, resolve]);
  return Number(_lib().openat2(SYS_OPENAT2, dirfd, cstr(path), how, 24n));
}

/**
 * Whether a path exists (as stat(2) resolves it), without building an error when it does
 * not: for files whose absence is the common case (the LSM list on a host without
 * securityfs), where the first SyscallError a process builds costs ~0.5 ms of its start.
 *
 * @param path the file, resolved from the current directory
 * @returns false on ENOENT or ENOTDIR; true otherwise (any other error is the reader's)
 *
 * @example
 * ```ts
 * import { existsSafe } from "./files.ts";
 * if (!existsSafe("/proc/self/stat") || existsSafe("/proc/self/no-such-file")) {
 *   throw new Error("wrong answer");
 * }
 * ```
 */
export function existsSafe(path: string): boolean {
  const fd = _openPathRaw(AT_FDCWD, path, 0n);
  if (fd >= 0) {
    _lib().close(fd);
    return true;
  }
  const e = errno();
  return e !== 2 && e !== 20;
}

/**
 * Runs `use` with an O_PATH fd of `path` (links followed as stat(2) follows them), closed
 * after: what is looked at through it (fstat) and used through `/proc/self/fd/N` (a unix
 * socket connected there) is one inode, whatever the path names meanwhile.
 *
 * @param path the file, resolved from the current directory
 * @param use gets the fd; must not keep it
 * @returns what `use` returns
 * @throws {SyscallError} ENOENT, EACCES… from the kernel, or what `use` throws
 */
export async function withPathFd<T>(path: string, use: (fd: number) => Promise<T>): Promise<T> {
  const fd = _openPath(AT_FDCWD, path, 0n);
  try {
    return await use(fd);
  } finally {
    _lib().close(fd);
  }
}

function _stat(fd: number): { mode: number; uid: number } {
  const st = new Uint8Array(256);
  if (_lib().fstat(fd, st) < 0) throw new SyscallError("fstat", errno());
  const view = new DataView(st.buffer);
  return {
    mode: view.getUint32(ST_MODE_OFFSET, true) & S_IFMT,
    uid: view.getUint32(ST_UID_OFFSET, true),
  };
}

/**
 * Opens `path` the safe way (see the module doc): resolved with openat2 as O_PATH, handed to
 * `verify` (which throws to refuse that inode), and only then reopened through
 * /proc/self/fd — the very inode verified, nothing can be swapped in — close-on-exec and
 * non-blocking. The caller closes the fd.
 *
 * @param path the file (inside `options.root` when given)
 * @param options root, noFollow
 * @param verify looks at the O_PATH fd; throws a SyscallError to refuse it
 * @returns the fd, opened read-only
 * @throws {SyscallError} from the kernel, or from `verify`
 */
export function openVerified(
  path: string,
  options: Pick<SafeReadOptions, "root" | "noFollow" | "ids">,
  verify: (pathFd: number) => void,
): number {
  const lib = _lib();
  let resolve = options.noFollow ? RESOLVE_NO_SYMLINKS : 0n;
  let dirfd = AT_FDCWD;
  let rootFd = -1;
  if (options.root !== undefined) {
    rootFd = _openPath(AT_FDCWD, options.root, 0n);
    dirfd = BigInt(rootFd);
    resolve |= RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  }
  let pathFd = -1;
  let restore: (() => void) | undefined;
  try {
    // The root is ours to open (/proc/PID/root needs ptrace access); what lies below it is
    // looked up, checked and opened with the ids asked for.
    if (options.ids) restore = _fsIds(options.ids.uid, options.ids.gid);
    pathFd = _openPath(dirfd, path, resolve);
    verify(pathFd);
    const fd = lib.open(
      cstr(`/proc/self/fd/${pathFd}`),
      O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
      0,
    );
    if (fd < 0) throw new SyscallError("open", errno());
    return fd;
  } finally {
    restore?.();
    if (pathFd >= 0) lib.close(pathFd);
    if (rootFd >= 0) lib.close(rootFd);
  }
}

/**
 * Gives the calling thread the filesystem ids `uid` and `gid` and no supplementary groups
 * (raw syscalls: credentials are per thread in the kernel, and glibc's wrappers would change
 * every thread of the process); returns what gives it back its own. Without CAP_SETUID and
 * CAP_SETGID (a caller that is not root) the ids stay ours and EPERM is thrown.
 */
function _fsIds(uid: number, gid: number): () => void {
  const nr = SYSCALL_NUMBERS[Deno.build.arch];
  if (!nr) {
    throw new SyscallError("setfsuid", 38, "Cannot change filesystem ids on this architecture");
  }
  const sc = (n: bigint, a: bigint | number = 0n, b: bigint | number = 0n) =>
    _lib().syscall(n, BigInt(a), BigInt(b), 0n);
  // setfs*id return the previous id whether or not they changed it; -1 changes nothing. An
  // i32 result (see SYMBOLS in ffi/libc.ts): an id above 2^31 is unsigned again with >>> 0.
  const id = (n: bigint) => sc(n, -1) >>> 0;
  const myUid = id(nr.setfsuid), myGid = id(nr.setfsgid);
  const groups = new Uint32Array(65536);
  const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(groups)));
  const n = sc(nr.getgroups, groups.length, at);
  if (n < 0) throw new SyscallError("getgroups", errno());
  // This thread's capability sets: struct __user_cap_header_struct (_LINUX_CAPABILITY_VERSION_3,
  // pid 0: the calling thread) and two struct __user_cap_data_struct (effective, permitted,
  // inheritable). When fsuid goes back to 0 the kernel raises the filesystem capabilities
  // (CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_FOWNER…) in the effective set from the permitted set
  // (cap_task_fix_setuid, cap_raise_fs_set): one this thread had dropped from its effective
  // set only came back. capset puts our effective set back as it was.
  const capHeader = new Uint32Array([0x20080522, 0]);
  const caps = new Uint32Array(6);
  const hdr = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(capHeader)));
  const data = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(caps)));
  if (sc(nr.capget, hdr, data) !== 0) throw new SyscallError("capget", errno());
  const restore = () => {
    sc(nr.setfsuid, myUid);
    sc(nr.setfsgid, myGid);
    if (
      sc(nr.setgroups, n, at) !== 0 || id(nr.setfsuid) !== myUid ||
      sc(nr.capset, hdr, data) !== 0
    ) {
      // Never go on with other ids than ours: every later file access would be wrong.
      throw new Error("Cannot get our filesystem ids, groups and capabilities back");
    }
  };
  if (sc(nr.setgroups, 0, 0) !== 0) throw new SyscallError("setgroups", errno());
  sc(nr.setfsgid, gid);
  sc(nr.setfsuid, uid);
  if (id(nr.setfsuid) !== uid || id(nr.setfsgid) !== gid) {
    restore();
    throw new SyscallError("setfsuid", 1, `Cannot read as uid ${uid} and gid ${gid}`);
  }
  return restore;
}

/**
 * Opens `path` for reading the safe way (see the module doc) and returns the fd
 * (close-on-exec, non-blocking). The caller closes it.
 *
 * @throws {SyscallError} ENOENT, ELOOP, EXDEV, EACCES… from the kernel; EINVAL when the path
 *   is not a regular file (a FIFO, a device, a socket, a directory); EPERM when `owner` is
 *   given and the file is someone else's
 */
export function openFileSafe(
  path: string,
  options: Omit<SafeReadOptions, "maxBytes"> = {},
): number {
  return openVerified(path, options, (pathFd) => {
    const { mode, uid } = _stat(pathFd);
    if (mode !== S_IFREG) {
      throw new SyscallError(
        "open",
        22,
        `Cannot read ${path}: it is ${mode === S_IFDIR ? "a directory" : "not a regular file"}`,
      );
    }
    if (options.owner !== undefined && uid !== options.owner) {
      throw new SyscallError("open", 1, `Cannot read ${path}: it belongs to uid ${uid}`);
    }
    if (options.storedOnly && _kernelFs(pathFd)) {
      throw new SyscallError("open", 22, `Cannot read ${path}: it is not a regular file`);
    }
    if (options.kernelFile !== undefined && _kernelFs(pathFd)) {
      const ours = _lib().open(cstr(options.kernelFile), O_CLOEXEC | O_PATH, 0);
      if (ours < 0) throw new SyscallError("open", errno());
      let same: boolean;
      try {
        const type = _fsType(ours);
        same = type !== undefined && type === _fsType(pathFd) &&
          fstatSafe(ours).ino === fstatSafe(pathFd).ino;
      } finally {
        _lib().close(ours);
      }
      if (!same) {
        throw new SyscallError(
          "open",
          22,
          `Cannot read ${path}: it is another file of the kernel's interfaces than ${options.kernelFile}`,
        );
      }
    }
  });
}

/**
 * Whether an fd (an O_PATH one will do) is on one of the kernel's interface file systems
 * (procfs, sysfs, cgroupfs…: {@link SafeReadOptions.storedOnly}'s list), or fstatfs failed.
 */
export function _kernelFs(fd: number): boolean {
  const type = _fsType(fd);
  return type === undefined || KERNEL_FS_MAGIC.includes(type);
}

/** fstatfs(2)'s f_type of an fd (an O_PATH one will do); undefined when fstatfs failed. */
function _fsType(fd: number): bigint | undefined {
  const nr = SYSCALL_NUMBERS[Deno.build.arch]?.fstatfs;
  // struct statfs: 120 bytes on x86_64 and aarch64, f_type (a long) first.
  const st = new BigInt64Array(32);
  const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(st)));
  if (nr === undefined || _lib().syscall(nr, BigInt(fd), at, 0n) !== 0) return undefined;
  return st[0];
}

// One read buffer for every call (reads are synchronous): a fresh 64 KiB buffer costs
// ~0.1-0.3 ms to allocate, more than all the syscalls of reading a small /proc file.
let _scratch: Uint8Array | undefined;

/**
 * Reads a whole file that someone else controls: resolved safely, regular files only,
 * capped at `maxBytes`.
 *
 * @param path the file (inside `options.root` when given)
 * @param options root, noFollow, maxBytes, truncate
 * @returns the bytes
 * @throws {SyscallError} as {@link openFileSafe}; EFBIG past `maxBytes` (unless `truncate`)
 */
export function readFileSafe(path: string, options: SafeReadOptions = {}): Uint8Array {
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const over = options.truncate ? 0 : 1;
  const lib = _lib();
  const fd = openFileSafe(path, options);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    const buf = (_scratch ??= new Uint8Array(64 << 10));
    for (;;) {
      if (over === 0 && total >= max) break;
      const n = Number(lib.read(fd, buf, BigInt(Math.min(buf.length, max - total + over))));
      if (n < 0) {
        const e = errno();
        if (e === 4) continue; // EINTR
        throw new SyscallError("read", e);
      }
      if (n === 0) break;
      total += n;
      if (total > max) {
        throw new SyscallError("read", 27, `Cannot read ${path}: larger than ${max} bytes`);
      }
      chunks.push(buf.slice(0, n));
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  } finally {
    lib.close(fd);
  }
}

/**
 * {@link readFileSafe} decoded as UTF-8 (invalid bytes become U+FFFD).
 *
 * @param path the file (inside `options.root` when given)
 * @param options root, noFollow, maxBytes
 * @returns the text
 */
export function readTextFileSafe(path: string, options: SafeReadOptions = {}): string {
  return decodeText(readFileSafe(path, options));
}

/** True when `error` says the file does not exist (ENOENT, or ENOTDIR on the way). */
export function isNotFound(error: unknown): boolean {
  return error instanceof SyscallError && (error.errno === 2 || error.errno === 20);
}

/** What {@link statSafe} and {@link fstatSafe} tell of a file. */
export interface FileStat {
  /** st_dev: with `ino`, the file's identity (a namespace's, for an nsfs file). */
  dev: number;
  /** st_ino. */
  ino: number;
  /** st_mode: type and permission bits. */
  mode: number;
  /** st_uid: the owner (of /proc/PID: the process's effective uid). */
  uid: number;
}

/**
 * fstat(2) of an open fd (a pidfd: its pidfs inode).
 *
 * @param fd an open file descriptor
 * @returns its device, inode, mode and owner
 * @throws {SyscallError} EBADF…
 */
export function fstatSafe(fd: number): FileStat {
  const st = new Uint8Array(256);
  if (_lib().fstat(fd, st) < 0) throw new SyscallError("fstat", errno());
  return _fileStat(st);
}

/** A struct stat's fields that FileStat holds. */
function _fileStat(st: Uint8Array): FileStat {
  const view = new DataView(st.buffer);
  // st_dev and st_ino lead struct stat on x86_64 and aarch64 alike; st_uid follows st_mode.
  return {
    dev: Number(view.getBigUint64(0, true)),
    ino: Number(view.getBigUint64(8, true)),
    mode: view.getUint32(ST_MODE_OFFSET, true),
    uid: view.getUint32(ST_MODE_OFFSET + 4, true),
  };
}

/**
 * stat(2) of a path, links followed as stat(2) follows them (magic ones too: /proc/PID/ns/*
 * are such links): for /proc entries, which Deno 2.9 lets `Deno.statSync` see only with
 * --allow-all, while FFI needs --allow-ffi alone. One fstatat(2) (no open, fstat and close:
 * the container exec's root-made cgroup check makes ~10 of these on every cold start, and
 * each call through FFI costs more than the syscall).
 *
 * @param path the file, resolved from the current directory
 * @returns its device, inode, mode and owner
 * @throws {SyscallError} ENOENT, EACCES… from the kernel
 */
export function statSafe(path: string): FileStat {
  if (_lib().fstatat(AT_FDCWD_I32, cstr(path), _statBuf, 0) < 0) {
    throw new SyscallError("stat", errno());
  }
  return _fileStat(_statBuf);
}

// Reused: statSafe's result is read from it before it returns.
const _statBuf = new Uint8Array(256);

/**
 * readlink(2) of a path, as Deno.readLinkSync, through libc: for the names of /proc/PID/ns/*
 * ("net:[4026531840]"), which Deno 2.9 reads only with --allow-all. One syscall, where
 * {@link statSafe} of a namespace file costs an open of it (~8 times slower).
 *
 * @param path the link
 * @returns its target
 * @throws {SyscallError} ENOENT, EACCES… from the kernel
 */
export function readLinkSafe(path: string): string {
  // Both buffers reused: differingNamespaces runs this 16 times, and cstr()'s allocations
  // cost more than the syscall.
  if (path.includes("\0")) throw new TypeError(`Cannot read a link with a NUL byte in its path`);
  _encoder ??= new TextEncoder();
  const { read, written } = _encoder.encodeInto(path, _linkPath.subarray(0, 4095));
  if (read < path.length) throw new SyscallError("readlink", 36);
  _linkPath[written] = 0;
  const n = Number(_lib().readlink(_linkPath, _linkTarget, BigInt(_linkTarget.length)));
  if (n < 0) throw new SyscallError("readlink", errno());
  return decodeText(_linkTarget.subarray(0, n));
}

// Made at the first readlink: see decodeText (ffi/libc.ts).
let _encoder: TextEncoder | undefined;
const _linkPath = new Uint8Array(4096);
const _linkTarget = new Uint8Array(256);
