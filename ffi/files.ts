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

import { cstr, errno, libcSubset, SyscallError } from "./libc.ts";

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
   * Refuse (EPERM) a file not owned by this uid: what a user's own config names must be
   * that user's file, never one of root's they pointed a symlink or a path at.
   */
  owner?: number;
}

/** The default cap: far above any passwd, group, storage.conf or OCI spec. */
export const DEFAULT_MAX_BYTES: number = 4 << 20;

const SYS_OPENAT2 = 437n; // the same number on x86_64 and asm-generic (aarch64)
const AT_FDCWD = -100n;
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
  return libcSubset("openat2", "open", "read", "close", "fstat", "__errno_location");
}

function _openPath(dirfd: bigint, path: string, resolve: bigint): number {
  const how = new BigUint64Array([BigInt(O_PATH | O_CLOEXEC), 0n, resolve]);
  const fd = Number(_lib().openat2(SYS_OPENAT2, dirfd, cstr(path), how, 24n));
  if (fd < 0) throw new SyscallError("openat2", errno());
  return fd;
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
  try {
    pathFd = _openPath(dirfd, path, resolve);
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
    // Reopening through the O_PATH fd opens that very inode: nothing can be swapped in.
    const fd = lib.open(
      cstr(`/proc/self/fd/${pathFd}`),
      O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
      0,
    );
    if (fd < 0) throw new SyscallError("open", errno());
    return fd;
  } finally {
    if (pathFd >= 0) lib.close(pathFd);
    if (rootFd >= 0) lib.close(rootFd);
  }
}

/**
 * Reads a whole file that someone else controls: resolved safely, regular files only,
 * capped at `maxBytes`.
 *
 * @param path the file (inside `options.root` when given)
 * @param options root, noFollow, maxBytes
 * @returns the bytes
 * @throws {SyscallError} as {@link openFileSafe}; EFBIG past `maxBytes`
 */
export function readFileSafe(path: string, options: SafeReadOptions = {}): Uint8Array {
  const max = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const lib = _lib();
  const fd = openFileSafe(path, options);
  try {
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const buf = new Uint8Array(Math.min(64 << 10, max - total + 1));
      const n = Number(lib.read(fd, buf, BigInt(buf.length)));
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
      chunks.push(buf.subarray(0, n));
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
  return new TextDecoder().decode(readFileSafe(path, options));
}

/** True when `error` says the file does not exist (ENOENT, or ENOTDIR on the way). */
export function isNotFound(error: unknown): boolean {
  return error instanceof SyscallError && (error.errno === 2 || error.errno === 20);
}
