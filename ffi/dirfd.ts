/**
 * File operations relative to directory fds, for copying into and out of a filesystem that
 * someone else controls (a container's root, seen through /proc/PID/root).
 *
 * The rules this relies on, all the kernel's own, so that nothing is checked then used:
 * - openat2(2) with RESOLVE_IN_ROOT resolves every component of a path as if the directory
 *   fd were `/`: absolute symlinks and `..` never leave it, and RESOLVE_NO_MAGICLINKS refuses
 *   /proc/self/fd-style links that could point anywhere. The result is an fd: a rename or
 *   symlink swap in the container after that changes nothing about what the fd is.
 * - Below such an fd, every name is one path component opened with O_NOFOLLOW (and
 *   RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH), so a symlink planted or swapped in by the
 *   container is never followed; new files are made with O_CREAT | O_EXCL, which never
 *   opens an existing file or follows a symlink in the last component.
 * - An O_PATH fd opens nothing (no FIFO blocks, no device driver runs); statx(AT_EMPTY_PATH)
 *   tells what it is, and only a regular file or directory is then reopened for reading
 *   through /proc/self/fd/N, which names that very inode.
 * - fchownat(AT_EMPTY_PATH), fchmod, futimens, f*xattr act on the fd, not on a path.
 *
 * Everything here is synchronous: no call can block for long on a regular file, and errno
 * must be read on the calling thread (ffi/libc.ts).
 *
 * @module
 */
import { OPENAT2_TRIES } from "./files.ts";
import { cstr, errno, errnoName, errnoText, libcSubset, SyscallError } from "./libc.ts";

const SYS_OPENAT2 = 437n; // the same number on x86_64 and asm-generic (aarch64)

/** openat(2) flags (the same values on x86_64 and aarch64, except O_DIRECTORY/O_NOFOLLOW). */
export const O = {
  RDONLY: 0,
  WRONLY: 1,
  CREAT: 0o100,
  EXCL: 0o200,
  NOCTTY: 0o400,
  NONBLOCK: 0o4000,
  DIRECTORY: Deno.build.arch === "x86_64" ? 0o200000 : 0o40000,
  NOFOLLOW: Deno.build.arch === "x86_64" ? 0o400000 : 0o100000,
  CLOEXEC: 0o2000000,
  PATH: 0o10000000,
} as const;

/** openat2(2) `resolve` flags. */
export const RESOLVE = {
  NO_XDEV: 0x01n,
  NO_MAGICLINKS: 0x02n,
  NO_SYMLINKS: 0x04n,
  BENEATH: 0x08n,
  IN_ROOT: 0x10n,
} as const;

/** Resolving a path inside a root: the container's `/` is the fd's directory. */
export const IN_ROOT: bigint = RESOLVE.IN_ROOT | RESOLVE.NO_MAGICLINKS;
/** Resolving one name below a directory fd: no symlink, nothing above it. */
export const ONE_NAME: bigint = RESOLVE.BENEATH | RESOLVE.NO_SYMLINKS | RESOLVE.NO_MAGICLINKS;

/** dirfd meaning the current directory (host paths resolved as usual). */
export const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_SYMLINK_NOFOLLOW = 0x100;
const AT_SYMLINK_FOLLOW = 0x400;
const AT_REMOVEDIR = 0x200;

/** st_mode file types. */
export const S = {
  IFMT: 0o170000,
  IFREG: 0o100000,
  IFDIR: 0o040000,
  IFLNK: 0o120000,
  IFIFO: 0o010000,
  IFCHR: 0o020000,
  IFBLK: 0o060000,
  IFSOCK: 0o140000,
} as const;

function _lib() {
  return libcSubset(
    "openat2",
    "open",
    "close",
    "statx",
    "mkdirat",
    "symlinkat",
    "readlinkat",
    "unlinkat",
    "linkat",
    "mknodat",
    "fchownat",
    "fchmod",
    "utimensat",
    "futimens",
    "lseek",
    "lseek_errno",
    "sendfile",
    "ftruncate",
    "read",
    "write",
    "flistxattr",
    "fgetxattr",
    "fsetxattr",
    "__errno_location",
  );
}

function _fail(call: string, what: string, e = errno()): never {
  throw new SyscallError(call, e, `Cannot ${what}: ${errnoName(e)} (${errnoText(e)})`);
}

/**
 * errno of an lseek that just failed. lseek's result is 64 bits wide, a BigInt that Deno
 * allocates before errno could be read (see SYMBOLS in ffi/libc.ts), so the same call is
 * made again through `lseek_errno`, whose i32 result allocates nothing: a failed lseek moves
 * nothing, and fails again the same way. EAGAIN where it succeeds this time (the file
 * changed in between): the caller fails, as it would have.
 */
function _lseekErrno(fd: number, offset: number, whence: number): number {
  return _lib().lseek_errno(fd, BigInt(offset), whence) === -1 ? errno() : 11;
}

/**
 * openat2(2): opens `path` relative to `dirfd` with `flags` (O_CLOEXEC added) under the
 * `resolve` rules, returning the fd.
 */
export function openat2(
  dirfd: number,
  path: string,
  flags: number,
  resolve: bigint,
  mode = 0,
): number {
  const how = new BigUint64Array([BigInt(flags | O.CLOEXEC), BigInt(mode), resolve]);
  for (let tries = 1;; tries++) {
    const fd = Number(_lib().openat2(SYS_OPENAT2, BigInt(dirfd), cstr(path), how, 24n));
    if (fd >= 0) return fd;
    // EAGAIN: RESOLVE_IN_ROOT/BENEATH saw a rename race on `..` somewhere; the kernel
    // asks the caller to retry rather than risk a wrong answer. Bounded, as in files.ts:
    // a target renaming in a loop must not keep a copy spinning here.
    if (errno() !== 11 || tries >= OPENAT2_TRIES) _fail("openat2", `open ${path}`);
  }
}

/** Reopens what an O_PATH fd names (the same inode, whatever its path is now). */
export function reopen(pathFd: number, flags: number): number {
  const fd = _lib().open(cstr(`/proc/self/fd/${pathFd}`), flags | O.CLOEXEC | O.NOCTTY, 0);
  if (fd < 0) _fail("open", "reopen a file");
  return fd;
}

/** close(2), ignoring errors (the fd is gone either way). */
export function close(fd: number): void {
  if (fd >= 0) _lib().close(fd);
}

/** What statx(2) says about an fd. */
export interface FdStat {
  /** st_mode: type and permission bits. */
  mode: number;
  /** Owner, as the host sees it. */
  uid: number;
  /** Group, as the host sees it. */
  gid: number;
  /** Bytes. */
  size: number;
  /** 512-byte blocks allocated (less than size/512 for a sparse file). */
  blocks: number;
  /** Hard links. */
  nlink: number;
  /** Inode number. */
  ino: number;
  /** Device of the filesystem, "major:minor". */
  dev: string;
  /** Device number of a char/block device (new_encode_dev). */
  rdev: bigint;
  /** mtime seconds. */
  mtimeSec: number;
  /** mtime nanoseconds. */
  mtimeNsec: number;
}

/** statx(2) of an fd (AT_EMPTY_PATH: works on O_PATH fds, symlinks included). */
export function fstatx(fd: number): FdStat {
  const buf = new Uint8Array(256);
  // STATX_BASIC_STATS
  if (_lib().statx(fd, cstr(""), AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, 0x7ff, buf) < 0) {
    _fail("statx", "stat a file");
  }
  const v = new DataView(buf.buffer);
  const rmaj = v.getUint32(128, true);
  const rmin = v.getUint32(132, true);
  return {
    nlink: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    gid: v.getUint32(24, true),
    mode: v.getUint16(28, true),
    ino: Number(v.getBigUint64(32, true)),
    size: Number(v.getBigUint64(40, true)),
    blocks: Number(v.getBigUint64(48, true)),
    mtimeSec: Number(v.getBigInt64(112, true)),
    mtimeNsec: v.getUint32(120, true),
    rdev: BigInt((rmin & 0xff) | (rmaj << 8) | ((rmin & ~0xff) << 12)),
    dev: `${v.getUint32(136, true)}:${v.getUint32(140, true)}`,
  };
}

/** mkdirat(2): one name in `dirfd`. */
export function mkdirat(dirfd: number, name: string, mode: number): void {
  if (_lib().mkdirat(dirfd, cstr(name), mode) < 0) _fail("mkdirat", `make directory ${name}`);
}

/** symlinkat(2): a link `name` in `dirfd` holding `target` (never followed by us). */
export function symlinkat(target: string, dirfd: number, name: string): void {
  if (_lib().symlinkat(cstr(target), dirfd, cstr(name)) < 0) {
    _fail("symlinkat", `make symbolic link ${name}`);
  }
}

/** readlinkat(2) of an O_PATH|O_NOFOLLOW fd of a symlink (empty path: the fd itself). */
export function readlinkFd(fd: number): Uint8Array {
  for (let size = 256;; size *= 4) {
    const buf = new Uint8Array(size);
    const n = Number(_lib().readlinkat(fd, cstr(""), buf, BigInt(size)));
    if (n < 0) _fail("readlinkat", "read a symbolic link");
    if (n < size) return buf.slice(0, n);
  }
}

/** unlinkat(2) of one name; `dir` removes an empty directory. */
export function unlinkat(dirfd: number, name: string, dir = false): void {
  if (_lib().unlinkat(dirfd, cstr(name), dir ? AT_REMOVEDIR : 0) < 0) {
    _fail("unlinkat", `remove ${name}`);
  }
}

/**
 * linkat(2): a new name `name` in `dirfd` for the inode an fd holds. AT_EMPTY_PATH needs
 * CAP_DAC_READ_SEARCH; without it, the /proc/self/fd/N link with AT_SYMLINK_FOLLOW does
 * the same (it names the fd's inode, not a path).
 */
export function linkFd(fd: number, dirfd: number, name: string): void {
  const lib = _lib();
  if (lib.linkat(fd, cstr(""), dirfd, cstr(name), AT_EMPTY_PATH) === 0) return;
  if (errno() !== 2 && errno() !== 1) _fail("linkat", `make hard link ${name}`);
  if (lib.linkat(AT_FDCWD, cstr(`/proc/self/fd/${fd}`), dirfd, cstr(name), AT_SYMLINK_FOLLOW) < 0) {
    _fail("linkat", `make hard link ${name}`);
  }
}

/** mknodat(2): a FIFO or device node (never opened by us). */
export function mknodat(dirfd: number, name: string, mode: number, dev: bigint): void {
  if (_lib().mknodat(dirfd, cstr(name), mode, dev) < 0) _fail("mknodat", `make node ${name}`);
}

/** fchownat(AT_EMPTY_PATH): owner of what the fd holds (an O_PATH fd of a symlink: the link). */
export function fchown(fd: number, uid: number, gid: number): void {
  if (_lib().fchownat(fd, cstr(""), uid, gid, AT_EMPTY_PATH) < 0) {
    _fail("fchownat", `change the owner of a file to ${uid}:${gid}`);
  }
}

/** fchmod(2) (not on O_PATH fds). */
export function fchmod(fd: number, mode: number): void {
  if (_lib().fchmod(fd, mode) < 0) _fail("fchmod", "change the mode of a file");
}

function _times(sec: number, nsec: number): BigInt64Array {
  // atime = UTIME_OMIT: only mtime is copied (tar and docker cp carry mtime only).
  return new BigInt64Array([0n, (1n << 30n) - 2n, BigInt(sec), BigInt(nsec)]);
}

/** futimens(3): mtime of an open file or directory. */
export function futimens(fd: number, sec: number, nsec: number): void {
  if (_lib().futimens(fd, _times(sec, nsec)) < 0) _fail("futimens", "set a modification time");
}

/** utimensat(AT_SYMLINK_NOFOLLOW) of one name: the mtime of a symlink itself. */
export function lutimensat(dirfd: number, name: string, sec: number, nsec: number): void {
  if (_lib().utimensat(dirfd, cstr(name), _times(sec, nsec), AT_SYMLINK_NOFOLLOW) < 0) {
    _fail("utimensat", `set the modification time of ${name}`);
  }
}

const SEEK_SET = 0;
const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const ENXIO = 6;

/**
 * Copies `size` bytes of regular file `src` into `dst` (both fresh fds at offset 0) in the
 * kernel (sendfile: no copy through user space, constant memory). A sparse file's holes
 * are skipped (SEEK_DATA / SEEK_HOLE) and its size set with ftruncate, so it stays sparse.
 * Calls `yieldFn` between 64 MiB chunks so a long copy lets other work run.
 */
export async function copyData(
  src: number,
  dst: number,
  size: number,
  sparse: boolean,
  yieldFn?: () => Promise<void>,
): Promise<void> {
  const lib = _lib();
  const CHUNK = 64 << 20;
  for (const [start, end] of sparse ? dataRanges(src, size) : [[0, size]]) {
    if (sparse) {
      seek(src, start);
      seek(dst, start);
    }
    let at = start;
    while (at < end) {
      const n = Number(lib.sendfile(dst, src, null, BigInt(Math.min(CHUNK, end - at))));
      if (n < 0) {
        if (errno() === 4) continue; // EINTR
        _fail("sendfile", "copy file data");
      }
      if (n === 0) break; // the file shrank while we copied
      at += n;
      if (yieldFn && at < end) await yieldFn();
    }
  }
  if (sparse) truncate(dst, size);
}

/**
 * The data ranges [start, end) of a file (SEEK_DATA / SEEK_HOLE): what is not listed is a
 * hole and reads as zeros. A filesystem without hole tracking reports one range.
 */
export function dataRanges(fd: number, size: number): [number, number][] {
  const lib = _lib();
  const out: [number, number][] = [];
  let pos = 0;
  while (pos < size) {
    const d = Number(lib.lseek(fd, BigInt(pos), SEEK_DATA));
    if (d < 0) {
      const e = _lseekErrno(fd, pos, SEEK_DATA);
      if (e === ENXIO) break;
      _fail("lseek", "find data in a file", e);
    }
    const h = Number(lib.lseek(fd, BigInt(d), SEEK_HOLE));
    if (h < 0) _fail("lseek", "find a hole in a file", _lseekErrno(fd, d, SEEK_HOLE));
    const end = Math.min(h, size);
    if (end > d) out.push([d, end]);
    pos = Math.max(end, d + 1);
  }
  if (lib.lseek(fd, 0n, SEEK_SET) < 0n) {
    _fail("lseek", "seek in a file", _lseekErrno(fd, 0, SEEK_SET));
  }
  return out;
}

/** lseek(SEEK_SET). */
export function seek(fd: number, offset: number): void {
  if (_lib().lseek(fd, BigInt(offset), SEEK_SET) < 0n) {
    _fail("lseek", "seek in a file", _lseekErrno(fd, offset, SEEK_SET));
  }
}

/** read(2) into `buf`; returns the byte count (0 at the end). */
export function readInto(fd: number, buf: Uint8Array): number {
  for (;;) {
    const n = Number(_lib().read(fd, buf, BigInt(buf.length)));
    if (n >= 0) return n;
    if (errno() !== 4) _fail("read", "read a file");
  }
}

/**
 * Writes all of `buf` at the current offset; a run of zero bytes of a whole chunk is
 * skipped with lseek instead (a hole), so sparse data from a tar stream stays sparse —
 * finish with {@link truncate} to the full size.
 */
export function writeAll(fd: number, buf: Uint8Array): void {
  const lib = _lib();
  if (buf.length >= 4096 && _allZero(buf)) {
    if (lib.lseek(fd, BigInt(buf.length), 1 /* SEEK_CUR */) < 0n) {
      _fail("lseek", "seek a file", _lseekErrno(fd, buf.length, 1));
    }
    return;
  }
  let at = 0;
  while (at < buf.length) {
    const n = Number(lib.write(fd, buf.subarray(at), BigInt(buf.length - at)));
    if (n < 0) {
      if (errno() === 4) continue;
      _fail("write", "write a file");
    }
    at += n;
  }
}

function _allZero(buf: Uint8Array): boolean {
  const words = (buf.byteOffset & 3) === 0 ? buf.length >> 2 : 0;
  const w = new Int32Array(buf.buffer, buf.byteOffset, words);
  for (let i = 0; i < words; i++) if (w[i] !== 0) return false;
  for (let i = words << 2; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}

/** ftruncate(2). */
export function truncate(fd: number, size: number): void {
  if (_lib().ftruncate(fd, BigInt(size)) < 0) _fail("ftruncate", "set the size of a file");
}

/**
 * The extended attributes of an open file or directory (name → value), or none where the
 * filesystem has none (ENOTSUP) or denies the list.
 */
export function getXattrs(fd: number): [string, Uint8Array][] {
  const lib = _lib();
  const size = Number(lib.flistxattr(fd, new Uint8Array(0), 0n));
  if (size <= 0) return [];
  const list = new Uint8Array(size);
  const n = Number(lib.flistxattr(fd, list, BigInt(size)));
  if (n <= 0) return [];
  const out: [string, Uint8Array][] = [];
  const dec = new TextDecoder();
  let start = 0;
  for (let i = 0; i < n; i++) {
    if (list[i] !== 0) continue;
    const name = dec.decode(list.subarray(start, i));
    start = i + 1;
    const vsize = Number(lib.fgetxattr(fd, cstr(name), new Uint8Array(0), 0n));
    if (vsize < 0) continue;
    const value = new Uint8Array(vsize);
    if (Number(lib.fgetxattr(fd, cstr(name), value, BigInt(vsize))) === vsize) {
      out.push([name, value]);
    }
  }
  return out;
}

/**
 * Sets extended attributes on an open file or directory. Those the destination refuses
 * (ENOTSUP on a filesystem without them, EPERM for trusted.* and security.* without
 * privilege) are skipped, as `cp -a` and tar do: "where available".
 */
export function setXattrs(fd: number, attrs: readonly [string, Uint8Array][]): void {
  for (const [name, value] of attrs) {
    // The buffer type wants a fresh ArrayBuffer-backed view.
    const v = new Uint8Array(value);
    _lib().fsetxattr(fd, cstr(name), v, BigInt(v.length), 0);
  }
}
