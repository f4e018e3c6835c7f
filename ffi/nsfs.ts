/**
 * The nsfs ioctls (linux/nsfs.h) on namespace fds: a namespace's type, its owning user
 * namespace, its parent (pid and user namespaces), and a user namespace's owner uid.
 * Every call returns a negative errno instead of throwing: listing asks these questions
 * of hundreds of namespaces and a refusal (EPERM at the top of a hierarchy) is an answer.
 *
 * @module
 */

import { cstr, errno, libc, O_CLOEXEC, O_RDONLY } from "./libc.ts";

/** NS_GET_USERNS: an fd of the user namespace that owns the namespace. */
const NS_GET_USERNS = 0xb701n;
/** NS_GET_PARENT: an fd of the parent namespace (pid and user namespaces only). */
const NS_GET_PARENT = 0xb702n;
/** NS_GET_NSTYPE: the CLONE_NEW* flag of the namespace. */
const NS_GET_NSTYPE = 0xb703n;
/** NS_GET_OWNER_UID: the uid (in the caller's user namespace) that created a user namespace. */
const NS_GET_OWNER_UID = 0xb704n;

/** Opens a namespace file read-only and close-on-exec; returns the fd or -errno. */
export function nsfsOpen(path: string): number {
  const fd = libc().open(cstr(path), O_RDONLY | O_CLOEXEC, 0);
  return fd < 0 ? -errno() : fd;
}

/** Closes an fd from this module. */
export function nsfsClose(fd: number): void {
  if (fd >= 0) libc().close(fd);
}

// struct stat starts with st_dev (u64) then st_ino (u64) on both x86_64 and aarch64, the
// two architectures Deno ships for Linux; the buffer is larger than either struct.
const _stat = new BigUint64Array(32);

/** The nsfs inode and device of a namespace fd, or undefined when fstat fails. */
export function nsfsIdentity(fd: number): { ino: number; dev: number } | undefined {
  if (libc().fstat(fd, _stat) < 0) return undefined;
  return { dev: Number(_stat[0]), ino: Number(_stat[1]) };
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
