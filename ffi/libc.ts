/**
 * The one libc symbol table of nsjoin, its loader, and the errno checker.
 *
 * Rules this file relies on (see DESIGN.md, facts 2 and 3): namespaces and errno are
 * per thread, so nothing here is `nonblocking` — a nonblocking call would run on a
 * pool thread, join the namespace there and read that thread's errno.
 *
 * @module
 */

import { constants } from "node:os";

/** The libc symbols nsjoin calls, with the C prototype of each. */
export const SYMBOLS = {
  /** int setns(int fd, int nstype) */
  setns: { parameters: ["i32", "i32"], result: "i32" },
  /** int unshare(int flags) */
  unshare: { parameters: ["i32"], result: "i32" },
  /** int *__errno_location(void) — errno of the calling thread */
  __errno_location: { parameters: [], result: "pointer" },
  /** int open(const char *path, int flags, mode_t mode) */
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  /** int close(int fd) */
  close: { parameters: ["i32"], result: "i32" },
  /** int ioctl(int fd, unsigned long request, void *arg) */
  ioctl: { parameters: ["i32", "u64", "pointer"], result: "i32" },
  /** int memfd_create(const char *name, unsigned int flags) */
  memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
  /** ssize_t write(int fd, const void *buf, size_t count) */
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  /** int fcntl(int fd, int cmd, int arg) */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int fchdir(int fd) */
  fchdir: { parameters: ["i32"], result: "i32" },
  /** int chroot(const char *path) */
  chroot: { parameters: ["buffer"], result: "i32" },
  /** pid_t gettid(void) */
  gettid: { parameters: [], result: "i32" },
  /** long syscall(long number, long a, long b, long c) — for pidfd_open(2) */
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  /** int fstat(int fd, struct stat *buf) — for the inode of an nsfs fd */
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  /** int socket(int domain, int type, int protocol) — netlink, for NETNSID */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** ssize_t send(int fd, const void *buf, size_t len, int flags) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  /** ssize_t recv(int fd, void *buf, size_t len, int flags) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  /** struct passwd *getpwuid(uid_t uid) — user names through NSS, as lsns */
  getpwuid: { parameters: ["u32"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Paths tried, in order, when loading libc; `NSJOIN_LIBC` overrides them. */
export const LIBC_PATHS: readonly string[] = ["libc.so.6", "libc.so"];

let _libc: Libc | undefined;

/**
 * Loads libc once. When every path fails, one error lists every path tried and the
 * override variable, and says which permission is missing if that is the cause.
 */
export function libc(): Libc {
  if (_libc) return _libc;
  const override = Deno.env.get("NSJOIN_LIBC");
  const paths = override ? [override] : LIBC_PATHS;
  const failures: string[] = [];
  for (const path of paths) {
    try {
      _libc = Deno.dlopen(path, SYMBOLS).symbols;
      return _libc;
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw new Deno.errors.NotCapable(
          "Cannot load libc: nsjoin needs --allow-ffi (and --allow-read, --allow-run)",
        );
      }
      failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `Cannot load libc: tried ${failures.join("; ")} (set NSJOIN_LIBC to its path)`,
  );
}

/** errno of the calling thread; call right after the failing call, on the same thread. */
export function errno(): number {
  const ptr = libc().__errno_location();
  if (ptr === null) return 0;
  return new Deno.UnsafePointerView(ptr).getInt32();
}

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(s);
  if (bytes.includes(0)) {
    throw new TypeError(`Cannot pass a string with a NUL byte to C: ${JSON.stringify(s)}`);
  }
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** A failed libc call: the syscall name and errno; callers turn it into their own error. */
export class SyscallError extends Error {
  override name = "SyscallError";
  /** The errno value. */
  readonly errno: number;
  /** The libc function that failed. */
  readonly syscall: string;
  constructor(syscall: string, errnoValue: number) {
    super(`${syscall} failed: ${errnoName(errnoValue)} (${errnoText(errnoValue)})`);
    this.syscall = syscall;
    this.errno = errnoValue;
  }
}

/** Throws a SyscallError when `result` is negative; returns it otherwise. */
export function check<T extends number | bigint>(syscall: string, result: T): T {
  if (result < 0) throw new SyscallError(syscall, errno());
  return result;
}

const _names = new Map<number, string>();
for (const [name, value] of Object.entries(constants.errno)) {
  if (!_names.has(value)) _names.set(value, name);
}

/** "EPERM" for 1, and so on; `E<n>` when unknown. */
export function errnoName(value: number): string {
  return _names.get(value) ?? `E${value}`;
}

const _texts: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EBADF: "bad file descriptor",
  EACCES: "permission denied",
  EINVAL: "invalid argument",
  EUSERS: "too many users",
  ENOSYS: "function not implemented",
  ENOTTY: "not a namespace file",
  ENOMEM: "cannot allocate memory",
  ENOTDIR: "not a directory",
  ELOOP: "too many levels of symbolic links",
  EEXIST: "file exists",
};

/** A short lower-case text for an errno, as strerror would say it. */
export function errnoText(value: number): string {
  return _texts[errnoName(value)] ?? "system error";
}

/** open(2): read only. */
export const O_RDONLY = 0;
/** open(2): close on exec. */
export const O_CLOEXEC = 0o2000000;
