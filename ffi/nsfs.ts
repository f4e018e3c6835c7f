/**
 * The nsfs ioctls (linux/nsfs.h) on namespace fds: a namespace's type, its owning user
 * namespace, its parent (pid and user namespaces), and a user namespace's owner uid.
 * Every call returns a negative errno instead of throwing: listing asks these questions
 * of hundreds of namespaces and a refusal (EPERM at the top of a hierarchy) is an answer.
 *
 * @module
 */

import { openVerified } from "./files.ts";
import { cstr, errno, libc, libcFunction, SyscallError } from "./libc.ts";

/** NS_GET_USERNS: an fd of the user namespace that owns the namespace. */
const NS_GET_USERNS = 0xb701n;
/** NS_GET_PARENT: an fd of the parent namespace (pid and user namespaces only). */
const NS_GET_PARENT = 0xb702n;
/** NS_GET_NSTYPE: the CLONE_NEW* flag of the namespace. */
const NS_GET_NSTYPE = 0xb703n;
/** NS_GET_OWNER_UID: the uid (in the caller's user namespace) that created a user namespace. */
const NS_GET_OWNER_UID = 0xb704n;

// struct stat starts with st_dev (u64) then st_ino (u64) on both x86_64 and aarch64, the
// two architectures Deno ships for Linux; the buffer is larger than either struct.
const _stat = new BigUint64Array(32);

const ENOTTY = 25;

/** The device of nsfs: every namespace file is an inode of that one internal mount. */
let _nsfsDev: bigint | undefined;

/**
 * Opens a namespace file read-only and close-on-exec; returns the fd or -errno (-ENOTTY
 * when the path is not a namespace file).
 *
 * The path may come from someone else (a mount point in another user's mount namespace,
 * an fd of another process), so a plain open(2) could block forever on a FIFO, start a
 * device, or follow a symlink to a host file. Instead ffi/files.ts's `openVerified`:
 * openat2(2) with O_PATH (no open side effects, never blocks), resolved inside `root` with
 * RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS when given; fstat(2) must show the nsfs device
 * before that same inode is reopened for the ioctls (which refuse O_PATH fds).
 *
 * @param path the namespace file (inside `root` when given)
 * @param root a directory to resolve `path` in, e.g. /proc/PID/root
 */
export function nsfsOpen(path: string, root?: string): number {
  const lib = libc();
  try {
    if (_nsfsDev === undefined) {
      // The device of a namespace file we know is one: our own.
      const self = openVerified("/proc/self/ns/user", {}, () => {});
      // errno read before close(): any call in between may change it.
      const e = lib.fstat(self, _stat) < 0 ? errno() : 0;
      lib.close(self);
      if (e) return -e;
      _nsfsDev = _stat[0];
    }
    return openVerified(path, { root }, (pathFd) => {
      if (lib.fstat(pathFd, _stat) < 0) throw new SyscallError("fstat", errno());
      if (_stat[0] !== _nsfsDev) throw new SyscallError("open", ENOTTY);
    });
  } catch (error) {
    if (error instanceof SyscallError) return -error.errno;
    throw error;
  }
}

/** Closes an fd from this module. */
export function nsfsClose(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

/** The nsfs inode and device of a namespace fd, or undefined when fstat fails. */
export function nsfsIdentity(fd: number): { ino: number; dev: number } | undefined {
  if (libc().fstat(fd, _stat) < 0) return undefined;
  return { dev: Number(_stat[0]), ino: Number(_stat[1]) };
}

const AT_FDCWD = -100;
/** statx(2): answer from the kernel's cache, never ask the filesystem (FUSE, NFS). */
const AT_STATX_DONT_SYNC = 0x4000;
const STATX_INO = 0x100;
const _statx = new Uint8Array(256);

/**
 * The device and inode of what a path leads to (a /proc/PID/fd/N link: any file another
 * process holds), from what the kernel has cached: statx(2) with AT_STATX_DONT_SYNC, so a
 * file on FUSE or NFS is not asked. A plain stat(2) there waits for the filesystem's
 * answer: a FUSE daemon that never answers (one stopped with SIGSTOP, mounted with
 * allow_other: a user's, where /etc/fuse.conf allows it, or any of root's) kept `nsjoin ls`
 * waiting for ever in its scan of every process's fds. nsfs keeps no cache to be stale:
 * for a namespace file the answer is exact. `dev` is encoded as stat(2)'s st_dev
 * (new_encode_dev), as `Deno.statSync` gives it.
 *
 * @param path the path, links followed
 * @returns its identity, or undefined when statx fails
 */
export function cachedIdentity(path: string): { dev: number; ino: number } | undefined {
  if (libc().statx(AT_FDCWD, cstr(path), AT_STATX_DONT_SYNC, STATX_INO, _statx) < 0) {
    return undefined;
  }
  const v = new DataView(_statx.buffer);
  const major = v.getUint32(136, true);
  const minor = v.getUint32(140, true);
  return {
    dev: (minor & 0xff) + major * 256 + Math.floor(minor / 256) * 0x100000,
    ino: Number(v.getBigUint64(32, true)),
  };
}

/**
 * An fd of the namespace's owning user namespace ("owner") or of its parent ("parent",
 * pid and user namespaces only); -errno when the kernel refuses (EPERM above the caller's
 * own user namespace or at the top of the hierarchy).
 */
export function nsfsRelated(fd: number, relation: "owner" | "parent"): number {
  const r = libc().ioctl(fd, relation === "owner" ? NS_GET_USERNS : NS_GET_PARENT, null);
  return r < 0 ? -errno() : r;
}

/** The CLONE_NEW* flag of a namespace fd, or -errno (ENOTTY: not a namespace). */
export function nsfsType(fd: number): number {
  const r = libc().ioctl(fd, NS_GET_NSTYPE, null);
  return r < 0 ? -errno() : r;
}

const _uid = new Uint32Array(1);

/** The owner uid of a user namespace fd, or -errno (EINVAL for other types). */
export function nsfsOwnerUid(fd: number): number {
  const r = libc().ioctl(fd, NS_GET_OWNER_UID, Deno.UnsafePointer.of(_uid));
  return r < 0 ? -errno() : _uid[0];
}

const SYS_PIDFD_OPEN = 434n; // the same number on x86_64 and asm-generic (aarch64)
const SYS_PIDFD_GETFD = 438n;
/** SIOCGSKNS (linux/sockios.h): an fd of the network namespace a socket was created in. */
const SIOCGSKNS = 0x894cn;
const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
// st_mode's offset in struct stat: x86_64 puts st_nlink (8 bytes) before it, the generic
// layout of aarch64 puts it after.
const ST_MODE_OFFSET = Deno.build.arch === "x86_64" ? 24 : 16;

/** pidfd_open(2): a pidfd of the process (close-on-exec), or -errno. */
export function pidfdOpen(pid: number): number {
  const fd = Number(libc().syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n, 0n));
  return fd < 0 ? -errno() : fd;
}

/**
 * The network namespace of a socket another process holds at `fd`, as lsns finds
 * namespaces kept alive only by sockets: pidfd_getfd(2) copies the socket (nothing is
 * opened; the caller needs ptrace access, as root has), fstat(2) checks it still is a
 * socket — the process may have put a device at that fd since it was listed, and a
 * device's driver would get the ioctl — and SIOCGSKNS returns an nsfs fd (close-on-exec).
 *
 * @param pidfd a pidfd of the process
 * @param fd the fd number in that process
 * @param onPool close the copy on a pool thread (see _closeCopy); false only where the
 *   calling thread is inside another namespace (a scoped join), where a pool thread Deno
 *   made now would stay in it for good (DESIGN.md fact 3)
 * @returns the namespace fd, or -errno (-ENOTSOCK when it is no longer a socket)
 */
export function socketNetns(pidfd: number, fd: number, onPool = true): number {
  const lib = libc();
  const sk = Number(lib.syscall(SYS_PIDFD_GETFD, BigInt(pidfd), BigInt(fd), 0n));
  if (sk < 0) return -errno();
  try {
    if (lib.fstat(sk, _stat) < 0) return -errno();
    const mode = new DataView(_stat.buffer).getUint32(ST_MODE_OFFSET, true);
    if ((mode & S_IFMT) !== S_IFSOCK) return -88; // ENOTSOCK
    const ns = lib.ioctl(sk, SIOCGSKNS, null);
    return ns < 0 ? -errno() : ns;
  } finally {
    if (onPool) _closeCopy(sk);
    else lib.close(sk);
  }
}

let _closeAsync:
  | Deno.UnsafeFnPointer<{ parameters: ["i32"]; result: "i32"; nonblocking: true }>
  | undefined;

/**
 * close(2) of a socket copied out of another process, on a pool thread, never waited for.
 * When that process drops its own fds meanwhile (it exits, or closes them), our close is the
 * last reference and the kernel releases the socket in it: for a TCP socket with SO_LINGER
 * (inet_release passes sk_lingertime to tcp_close unless the closing task is exiting) whose
 * FIN stays queued behind data its peer never reads (a zero window), that close waits for
 * the linger time its owner chose — for ever, up to a signal. A local user's process timed
 * to exit while root's `ls` held the copy kept `ls` waiting (lsns copies no socket). On a
 * pool thread such a close waits alone; the promise is unreferenced, so it keeps no caller
 * from ending (the process's exit then drops the copy, as an exiting task, without waiting).
 */
function _closeCopy(fd: number): void {
  _closeAsync ??= libcFunction("close", { parameters: ["i32"], result: "i32", nonblocking: true });
  const done = _closeAsync.call(fd);
  // Deno's core keeps a pending op's promise from letting the event loop end; an internal
  // API (Deno 2.x), so a Deno without it only waits at exit, and only for such a socket.
  const core = (Deno as unknown as Record<
    symbol,
    { core?: { unrefOpPromise?: (p: Promise<unknown>) => void } }
  >)[
    (Deno as unknown as { internal: symbol }).internal
  ]?.core;
  core?.unrefOpPromise?.(done);
}
