/**
 * The one libc symbol table of nsjoin, its loader, and the errno checker.
 *
 * Rules this file relies on (see DESIGN.md, facts 2 and 3): namespaces and errno are
 * per thread, so nothing here is `nonblocking` — a nonblocking call would run on a
 * pool thread, join the namespace there and read that thread's errno.
 *
 * @module
 */

import { notCapable, nsjoinSetting } from "../src/_permissions.ts";

/**
 * The libc symbols nsjoin calls, with the C prototype of each.
 *
 * Every function whose errno is read has a result no wider than `i32`, ssize_t and long ones
 * too: Deno turns an i64/isize/u64/usize result into a BigInt (a heap allocation, which can
 * run the garbage collector) between the native return and the errno read, and an i32 into a
 * small integer (no allocation); see `_errnoCell`. A 64-bit return register read as i32
 * keeps the low half (x86-64 eax, AArch64 w0): exact for every value these calls return —
 * fds, 0/-1, and byte counts, which Linux caps below 2^31 (MAX_RW_COUNT, 0x7ffff000, for
 * read, write, sendfile and splice; xattrs and the buffers passed here are smaller still).
 * lseek alone needs 64 bits: {@link SYMBOLS.lseek_errno}.
 */
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
  write: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** int fcntl(int fd, int cmd, int arg) */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** int dup2(int oldfd, int newfd) */
  dup2: { parameters: ["i32", "i32"], result: "i32" },
  /** int execve(const char *path, char *const argv[], char *const envp[]) */
  execve: { parameters: ["buffer", "buffer", "buffer"], result: "i32" },
  /** int fchdir(int fd) */
  fchdir: { parameters: ["i32"], result: "i32" },
  /** int chroot(const char *path) */
  chroot: { parameters: ["buffer"], result: "i32" },
  /** pid_t gettid(void) */
  gettid: { parameters: [], result: "i32" },
  /**
   * long syscall(long number, long a, long b, long c) — for pidfd_open(2); i32: every call
   * returns an fd, 0/-1, a count or an id (callers read an unsigned id with `>>> 0`)
   */
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i32" },
  /**
   * long syscall(long number, int dirfd, const char *path, struct open_how *how, size_t size)
   * — for openat2(2), which glibc 2.36 does not wrap
   */
  openat2: {
    name: "syscall",
    parameters: ["i64", "i64", "buffer", "buffer", "usize"],
    result: "i32",
  },
  /** ssize_t read(int fd, void *buf, size_t count) */
  read: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t pread(int fd, void *buf, size_t count, off_t offset) — a kept cgroup file again */
  pread: { parameters: ["i32", "buffer", "usize", "i64"], result: "i32" },
  /** ssize_t readlink(const char *path, char *buf, size_t size) — /proc/PID/ns/* names */
  readlink: { parameters: ["buffer", "buffer", "usize"], result: "i32" },
  /** int fstat(int fd, struct stat *buf) — for the inode of an nsfs fd */
  fstat: { parameters: ["i32", "buffer"], result: "i32" },
  /** int fstatat(int dirfd, const char *path, struct stat *buf, int flags) — stat(2) of a path */
  fstatat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int socket(int domain, int type, int protocol) — netlink, for NETNSID */
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** ssize_t send(int fd, const void *buf, size_t len, int flags) */
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** ssize_t recv(int fd, void *buf, size_t len, int flags) */
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "i32" },
  /** struct passwd *getpwuid(uid_t uid) — user names through NSS, as lsns */
  getpwuid: { parameters: ["u32"], result: "pointer" },
  /** int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result) */
  getpwuid_r: { parameters: ["u32", "buffer", "buffer", "usize", "buffer"], result: "i32" },
  /**
   * int __nss_configure_lookup(const char *dbname, const char *service_line) — glibc's own
   * override of one nsswitch.conf line (ffi/nss.ts)
   */
  __nss_configure_lookup: { parameters: ["buffer", "buffer"], result: "i32" },
  /**
   * int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
   * struct addrinfo **res) — once, to have glibc read our /etc/gai.conf (ffi/nss.ts)
   */
  getaddrinfo: { parameters: ["pointer", "buffer", "buffer", "buffer"], result: "i32" },
  /** void freeaddrinfo(struct addrinfo *res) */
  freeaddrinfo: { parameters: ["pointer"], result: "void" },
  /**
   * long ptrace(enum __ptrace_request request, pid_t pid, void *addr, void *data) — i32: only
   * requests that return 0/-1 or a filter's length are made (no PEEK*)
   */
  ptrace: { parameters: ["i32", "i32", "u64", "buffer"], result: "i32" },
  /** pid_t waitpid(pid_t pid, int *status, int options) */
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // ---- issue 10: cp, file operations relative to directory fds (ffi/dirfd.ts)
  /** int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *buf) */
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  /** int mkdirat(int dirfd, const char *path, mode_t mode) */
  mkdirat: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int symlinkat(const char *target, int newdirfd, const char *linkpath) */
  symlinkat: { parameters: ["buffer", "i32", "buffer"], result: "i32" },
  /** ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size) */
  readlinkat: { parameters: ["i32", "buffer", "buffer", "usize"], result: "i32" },
  /** int unlinkat(int dirfd, const char *path, int flags) */
  unlinkat: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** int linkat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags) */
  linkat: { parameters: ["i32", "buffer", "i32", "buffer", "i32"], result: "i32" },
  /** int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev) */
  mknodat: { parameters: ["i32", "buffer", "u32", "u64"], result: "i32" },
  /** int fchownat(int dirfd, const char *path, uid_t owner, gid_t group, int flags) */
  fchownat: { parameters: ["i32", "buffer", "u32", "u32", "i32"], result: "i32" },
  /** int fchmod(int fd, mode_t mode) */
  fchmod: { parameters: ["i32", "u32"], result: "i32" },
  /** int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) */
  utimensat: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int futimens(int fd, const struct timespec times[2]) */
  futimens: { parameters: ["i32", "buffer"], result: "i32" },
  /**
   * off_t lseek(int fd, off_t offset, int whence) — i64: an offset may pass 2 GiB, so its
   * result is a BigInt; errno of a failed one is read from {@link SYMBOLS.lseek_errno}
   */
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  /**
   * off_t lseek(int fd, off_t offset, int whence) again with an i32 result, made only after
   * `lseek` failed (a failed lseek changes nothing), for an errno no BigInt was made before
   */
  lseek_errno: { name: "lseek", parameters: ["i32", "i64", "i32"], result: "i32" },
  /** ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count) */
  sendfile: { parameters: ["i32", "i32", "pointer", "usize"], result: "i32" },
  /** int ftruncate(int fd, off_t length) */
  ftruncate: { parameters: ["i32", "i64"], result: "i32" },
  /** ssize_t flistxattr(int fd, char *list, size_t size) */
  flistxattr: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  /** ssize_t fgetxattr(int fd, const char *name, void *value, size_t size) */
  fgetxattr: { parameters: ["i32", "buffer", "buffer", "usize"], result: "i32" },
  /** int fsetxattr(int fd, const char *name, const void *value, size_t size, int flags) */
  fsetxattr: { parameters: ["i32", "buffer", "buffer", "usize", "i32"], result: "i32" },
  // ---- issue 10: forward, a relay that splices between sockets (ffi/sockets.ts)
  /** int bind(int fd, const struct sockaddr *addr, socklen_t len) */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int listen(int fd, int backlog) */
  listen: { parameters: ["i32", "i32"], result: "i32" },
  /** int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) */
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  /** int connect(int fd, const struct sockaddr *addr, socklen_t len) */
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** int setsockopt(int fd, int level, int name, const void *value, socklen_t len) */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** int getsockopt(int fd, int level, int name, void *value, socklen_t *len) */
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  /** int getsockname(int fd, struct sockaddr *addr, socklen_t *len) */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** int shutdown(int fd, int how) */
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  /** int pipe2(int fds[2], int flags) */
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  /** ssize_t splice(int in, loff_t *off_in, int out, loff_t *off_out, size_t len, unsigned flags) */
  splice: {
    parameters: ["i32", "pointer", "i32", "pointer", "usize", "u32"],
    result: "i32",
  },
  /** int poll(struct pollfd *fds, nfds_t n, int timeout) */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /**
   * int poll(struct pollfd *fds, nfds_t n, int timeout) — nonblocking: it waits on a pool
   * thread while the caller's event loop runs; its errno is not read (only EINTR/ENOMEM)
   */
  poll_async: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  // ---- issue 13: exec sessions, requests to a pre-joined helper (ffi/session.ts)
  /** int socketpair(int domain, int type, int protocol, int sv[2]) */
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  /** ssize_t sendmsg(int fd, const struct msghdr *msg, int flags) */
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  /** ssize_t recvmsg(int fd, struct msghdr *msg, int flags) */
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Paths tried, in order, when loading libc; `NSJOIN_LIBC` overrides them. */
export const LIBC_PATHS: readonly string[] = ["libc.so.6", "libc.so"];

let _libc: Libc | undefined;
const _subsets = new Map<string, unknown>();

/**
 * Loads libc once. When every path fails, one error lists every path tried and the
 * override variable, and says which permission is missing if that is the cause.
 */
export function libc(): Libc {
  _libc ??= _load(SYMBOLS);
  return _libc;
}

/**
 * Only some symbols of the table, loaded once per set: Deno.dlopen costs ~0.2 ms a symbol,
 * and the exec path needs four of them on every cold start of the CLI.
 */
export function libcSubset<K extends keyof typeof SYMBOLS>(
  ...names: K[]
): Deno.DynamicLibrary<Pick<typeof SYMBOLS, K>>["symbols"] {
  // Every /proc read and join step asks for the EXEC_SYMBOLS set (dozens of calls per
  // command): found without building its key.
  if (_execSymbols && _sameNames(names, EXEC_SYMBOLS)) {
    return _execSymbols as Deno.DynamicLibrary<Pick<typeof SYMBOLS, K>>["symbols"];
  }
  const key = names.join(",");
  let lib = _subsets.get(key) as Deno.DynamicLibrary<Pick<typeof SYMBOLS, K>>["symbols"];
  if (!lib && key === EXEC_SYMBOLS.join(",") && SYSCALL_NUMBERS[Deno.build.arch]) {
    lib = _rawExecSymbols() as typeof lib;
    _subsets.set(key, lib);
  }
  if (!lib) {
    const picked = Object.fromEntries(names.map((n) => [n, SYMBOLS[n]])) as Pick<
      typeof SYMBOLS,
      K
    >;
    lib = _load(picked);
    _subsets.set(key, lib);
  }
  if (key === EXEC_SYMBOLS.join(",")) _execSymbols = lib;
  return lib;
}

let _execSymbols: unknown;

function _sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What resolving a target, reading /proc (ffi/files.ts) and becoming (or spawning) the
 * helper need: one dlopen for all of them, so `enter` and `exec` do not pay for the whole
 * table, nor for two dlopens, on every cold start.
 */
export const EXEC_SYMBOLS = [
  "memfd_create",
  "write",
  "fcntl",
  "close",
  "open",
  "dup2",
  "execve",
  "syscall",
  "ioctl",
  "openat2",
  "read",
  "fstat",
  "fstatat",
  "readlink",
] as const;

/**
 * Linux syscall numbers of the EXEC_SYMBOLS calls (from <asm/unistd.h>: x86_64's own table,
 * aarch64's asm-generic one, which has no open, dup2 or readlink: openat, dup3, readlinkat;
 * fstatat is newfstatat on both),
 * and of geteuid for {@link effectiveUid}, execveat for ffi/exec_helper.ts, fstatfs for
 * src/target.ts (is a pidfd on pidfs) and process_vm_readv for {@link environSnapshot}.
 */
export const SYSCALL_NUMBERS: Partial<Record<typeof Deno.build.arch, Record<string, bigint>>> = {
  x86_64: {
    read: 0n,
    write: 1n,
    close: 3n,
    fstat: 5n,
    ioctl: 16n,
    newfstatat: 262n,
    execve: 59n,
    fcntl: 72n,
    openat: 257n,
    readlinkat: 267n,
    dup3: 292n,
    memfd_create: 319n,
    execveat: 322n,
    geteuid: 107n,
    fstatfs: 138n,
    process_vm_readv: 310n,
    getgroups: 115n,
    setgroups: 116n,
    setfsuid: 122n,
    setfsgid: 123n,
    capget: 125n,
    capset: 126n,
  },
  aarch64: {
    dup3: 24n,
    fcntl: 25n,
    ioctl: 29n,
    openat: 56n,
    close: 57n,
    read: 63n,
    write: 64n,
    readlinkat: 78n,
    newfstatat: 79n,
    fstat: 80n,
    execve: 221n,
    geteuid: 175n,
    memfd_create: 279n,
    execveat: 281n,
    fstatfs: 44n,
    process_vm_readv: 270n,
    setfsuid: 151n,
    setfsgid: 152n,
    getgroups: 158n,
    setgroups: 159n,
    capget: 90n,
    capset: 91n,
  },
};

/**
 * The EXEC_SYMBOLS calls made through one libc symbol, `syscall(2)` (bound with an i32
 * result, as they all are: see {@link SYMBOLS}), with the same signatures as their libc
 * wrappers: Deno.dlopen spends ~0.25 ms per symbol it binds
 * (~3.5 ms for these 13, 5-20 ms on a loaded machine) against ~0.5 ms for one, and this
 * set is loaded on every cold start of `enter` and `exec`. libc's syscall() returns -1 and
 * sets errno as the wrappers do, so callers check results and read errno() unchanged.
 * Buffers are passed by address (Deno.UnsafePointer.of): the caller holds them for the
 * length of the synchronous call, as with a "buffer" parameter.
 */
function _rawExecSymbols(): Deno.DynamicLibrary<
  Pick<typeof SYMBOLS, (typeof EXEC_SYMBOLS)[number]>
>["symbols"] {
  const nr = SYSCALL_NUMBERS[Deno.build.arch]!;
  const sc = _core().syscall;
  type Arg = number | bigint;
  // Typed as the symbol table's signatures (the function's return type checks each one):
  // every result is an i32, a number, as Deno.dlopen gives it.
  const call = (n: bigint, a: Arg = 0, b: Arg = 0, c: Arg = 0, d: Arg = 0, e: Arg = 0): number =>
    sc(n, BigInt(a), BigInt(b), BigInt(c), BigInt(d), BigInt(e), 0n);
  const i32 = call;
  type Buf = AllowSharedBufferSource | null;
  const ptr = (buf: Buf): bigint =>
    buf === null
      ? 0n
      : BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as BufferSource)));
  const AT_FDCWD = -100;
  return {
    memfd_create: (name: Buf, flags: number) => i32(nr.memfd_create, ptr(name), flags),
    write: (fd: number, buf: Buf, count: Arg) => call(nr.write, fd, ptr(buf), count),
    fcntl: (fd: number, cmd: number, arg: number) => i32(nr.fcntl, fd, cmd, arg),
    close: (fd: number) => i32(nr.close, fd),
    open: (path: Buf, flags: number, mode: number) =>
      i32(nr.openat, AT_FDCWD, ptr(path), flags, mode),
    // dup3 refuses oldfd == newfd (EINVAL), where dup2 does nothing and succeeds.
    dup2: (oldfd: number, newfd: number) => oldfd === newfd ? newfd : i32(nr.dup3, oldfd, newfd, 0),
    execve: (path: Buf, argv: Buf, envp: Buf) => i32(nr.execve, ptr(path), ptr(argv), ptr(envp)),
    syscall: (n: Arg, a: Arg, b: Arg, c: Arg) => call(BigInt(n), a, b, c),
    ioctl: (fd: number, request: Arg, arg: Deno.PointerValue) =>
      i32(nr.ioctl, fd, request, arg === null ? 0n : BigInt(Deno.UnsafePointer.value(arg))),
    openat2: (n: Arg, dirfd: Arg, path: Buf, how: Buf, size: Arg) =>
      call(BigInt(n), dirfd, ptr(path), ptr(how), size),
    read: (fd: number, buf: Buf, count: Arg) => call(nr.read, fd, ptr(buf), count),
    fstat: (fd: number, buf: Buf) => i32(nr.fstat, fd, ptr(buf)),
    fstatat: (dirfd: number, path: Buf, buf: Buf, flags: number) =>
      i32(nr.newfstatat, dirfd, ptr(path), ptr(buf), flags),
    readlink: (path: Buf, buf: Buf, size: Arg) =>
      call(nr.readlinkat, AT_FDCWD, ptr(path), ptr(buf), size),
  };
}

/**
 * The symbols every command needs, in one dlopen (each dlopen has its own cost besides
 * the ~0.25 ms per symbol): syscall(2) for the EXEC_SYMBOLS calls, errno, and dlsym for
 * {@link libcFunction}.
 */
function _core(): Deno.DynamicLibrary<typeof _CORE>["symbols"] {
  _coreSymbols ??= _loadOnly(_CORE);
  _errnoCell ??= _cellOf(_structPointer(_coreSymbols.__errno_location()));
  return _coreSymbols;
}

/**
 * Deno.dlopen compiles a fast-call trampoline (Cranelift) for every symbol, except one that
 * passes or returns a struct by value (Deno 2.9's turbocall `is_compatible`): ~0.7 ms for a
 * process's first, ~0.3 ms for each next one, where a symbol without one binds in ~0.06 ms.
 * dlsym and __errno_location, bound by every process's first command and called a few
 * times each, return a struct that changes nothing in their calling convention: a struct of
 * one pointer is returned exactly as that pointer (the SysV x86-64 ABI classes it INTEGER:
 * the same register; AAPCS64 returns a composite of ≤ 16 bytes in the same general
 * registers). Neither is followed by an errno read. Exported for tests/libc_test.ts.
 */
export const _CORE = {
  /**
   * long syscall(long number, long a, long b, long c, long d, long e, long f) — bound with
   * its trampoline: without one (a struct in the signature) every call would take Deno's
   * slow path, where errno was seen changed 1–3 times in a million failed calls (EAGAIN;
   * docs/measured.md, tests/errno_test.ts). The result is an i32
   * (see {@link SYMBOLS}: every call made through it returns an fd, 0/-1, a count below
   * 2^31 or an id read with `>>> 0`): an i64 result was a BigInt, allocated between the
   * native return and the errno read, where a collection that waited on a contended lock
   * of Deno's left EAGAIN in errno (1 in 60,000 cold calls once in CI; tests/libc_test.ts)
   */
  syscall: { parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"], result: "i32" },
  /** void *dlsym(void *handle, const char *name) — handle RTLD_DEFAULT (NULL) */
  dlsym: { parameters: ["pointer", "buffer"], result: { struct: ["pointer"] } },
  /** int *__errno_location(void) */
  __errno_location: { parameters: [], result: { struct: ["pointer"] } },
} as const satisfies Deno.ForeignLibraryInterface;

/** The pointer in the 8 bytes of a struct { void * } returned by a _CORE symbol. */
function _structPointer(bytes: Uint8Array): Deno.PointerValue {
  return Deno.UnsafePointer.create(
    new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true),
  );
}

let _coreSymbols: Deno.DynamicLibrary<typeof _CORE>["symbols"] | undefined;

/**
 * One libc function called through `Deno.UnsafeFnPointer`, for functions called a few
 * times per command: binding one costs ~0.06 ms, where a `Deno.dlopen` symbol costs ~0.25
 * ms (it compiles a fast-call trampoline) but is ~3 µs faster per call. `nonblocking`
 * functions run on a pool thread: only for calls that touch no namespace and whose errno
 * is not needed (waits). A function whose errno is read needs a result no wider than i32
 * (see {@link SYMBOLS}): Deno 2.9's op_ffi_call_ptr (ext/ffi/call.rs) returns an i32
 * through serde_v8 as a small integer, but a 64-bit result as a BigInt and a pointer as a
 * `v8::External`, each allocated before errno could be read.
 *
 * @param name the libc symbol, found with dlsym(RTLD_DEFAULT) in the libc Deno runs on
 * @param definition its parameters and result, as for Deno.dlopen
 * @returns the callable pointer
 */
export function libcFunction<const D extends Deno.ForeignFunction>(
  name: string,
  definition: D,
): Deno.UnsafeFnPointer<D> {
  const ptr = _structPointer(_core().dlsym(null, cstr(name)));
  if (ptr === null) throw new Error(`Cannot find ${name} in libc`);
  const fn = new Deno.UnsafeFnPointer(
    ptr as Deno.PointerObject<Omit<D, "nonblocking">>,
    definition,
  );
  if (!definition.nonblocking) {
    const call = fn.call.bind(fn) as (...args: unknown[]) => unknown;
    fn.call = ((...args: unknown[]) => {
      const r = call(...args);
      _lastErrno = _errnoCell?.[0] ?? 0;
      return r;
    }) as typeof fn.call;
  }
  return fn;
}

/**
 * This process's environment as libc holds it (`environ`, in its order), with `env` applied
 * as glibc's setenv and docker exec's `-e` apply it: a variable `env` has is replaced in its
 * place (a later duplicate of it dropped), new ones come after, in `env`'s order — what
 * `env K=V nsenter …` passes on. The others are the addresses of their "KEY=value" strings,
 * bytes as they are (Deno.env.toObject() leaves out every variable that is not UTF-8, where
 * Deno.Command and nsenter pass them on), read as {@link environSnapshot} reads them.
 *
 * @param env variables that replace or add to ours
 * @returns each entry: an address in `environ`, or a "KEY=value" string of `env` or ours
 */
export function environEntries(env: Readonly<Record<string, string>>): (bigint | string)[] {
  const snapshot = environSnapshot();
  // Nothing to replace: the keys are not needed.
  if (Object.keys(env).length === 0) return [...snapshot.entries];
  const { entries, keys } = snapshot;
  const out: (bigint | string)[] = [];
  const placed = new Set<string>();
  entries.forEach((entry, i) => {
    // A key that is not UTF-8 decodes with U+FFFD, which no key of `env` can equal.
    const key = keys[i];
    if (Object.hasOwn(env, key)) {
      if (!placed.has(key)) out.push(`${key}=${env[key]}`);
      placed.add(key);
    } else out.push(entry);
  });
  for (const [k, v] of Object.entries(env)) if (!placed.has(k)) out.push(`${k}=${v}`);
  return out;
}

/** This process's environment: each entry (an address or a "KEY=value" string) and its key. */
export interface EnvironSnapshot {
  entries: readonly (bigint | string)[];
  keys: readonly string[];
}

/** The last snapshot read and checked, and the addresses it was read from. */
let _environSeen: (EnvironSnapshot & { id: string }) | undefined;
// Marked pure: a bundle that takes nothing else from here (enter's fast path, which imports
// SYSCALL_NUMBERS) then leaves them out instead of making them at every start (~0.1 ms).
const _strictUtf8 = /* @__PURE__ */ new TextDecoder("utf-8", { fatal: true });
const _lossyUtf8 = /* @__PURE__ */ new TextDecoder();

/**
 * This process's environment in libc's order, read without glibc's lock, which nobody
 * outside libc can take. Another thread's setenv (a Worker's Deno.env.set: Rust takes its own
 * lock, then glibc's) that adds a variable moves `environ` with realloc, which frees the old
 * array: reading it at that moment read freed memory and crashed (SIGSEGV, tests/spawn_test.ts).
 * The strings themselves are never freed (glibc's setenv keeps every string it made, unsetenv
 * frees none), so only the array is copied, with process_vm_readv on ourselves, which fails
 * with EFAULT where a load would fault.
 *
 * A copy that holds exactly the kernel's layout — one pointer to each string execve placed
 * between env_start and env_end, in its order, none left out or repeated — is the environment
 * as this process started, untouched ({@link _initialEnviron}): no string needs reading, and
 * its keys come from one copy of the kernel's block. Any other copy has each string read the
 * same way and checked against Deno.env.toObject() (read under Rust's lock): every variable
 * once, each value the same.
 * A copy equal to the last one checked is that environment again (the same addresses hold
 * the same bytes). Under a copy that keeps changing (8 tries), or where process_vm_readv is
 * refused (a seccomp profile such as docker's default without CAP_SYS_PTRACE), the
 * variables are Deno's, in its order, without those that are not UTF-8.
 *
 * @returns each entry and its key, as environ holds them
 */
export function environSnapshot(): EnvironSnapshot {
  const at = _structPointer(_core().dlsym(null, cstr("environ")));
  for (let attempt = 0; attempt < 8; attempt++) {
    const array = at &&
      BigInt(Deno.UnsafePointer.value(new Deno.UnsafePointerView(at).getPointer(0)));
    if (!array) return { entries: [], keys: [] };
    const pointers = _ownPointerArray(array);
    if (pointers === "refused") break;
    if (pointers === undefined) continue;
    const initial = _asInitial(pointers);
    if (initial) return initial;
    const id = pointers.join(",");
    if (_environSeen?.id === id) return _environSeen;
    const checked = _checkEnviron(pointers);
    if (checked) {
      _environSeen = { ...checked, id };
      return _environSeen;
    }
  }
  const now = Deno.env.toObject();
  return { entries: Object.entries(now).map(([k, v]) => `${k}=${v}`), keys: Object.keys(now) };
}

/**
 * The kernel's environment block and its strings' addresses (their keys made when first
 * asked: a command without `env` run through ffi/spawn.ts needs none); null where unreadable.
 */
let _initial:
  | { start: bigint; bytes: Uint8Array; pointers: bigint[]; keys?: string[] }
  | null
  | undefined;
/**
 * The kernel's strings decoded for _checkEnviron, once: each one's index by address, its text
 * where it is UTF-8, and (when a string elsewhere is not UTF-8) all of them lossily decoded.
 */
let _initialTexts:
  | { index: Map<bigint, number>; texts: (string | undefined)[]; lossy?: Set<string> }
  | undefined;

/**
 * The environment execve(2) placed on our stack: [env_start, env_end) of /proc/self/stat
 * (proc(5)), copied once. The kernel writes the strings there one after another, each with
 * its NUL, and the initial `environ` array points at each in that order (fs/binfmt_elf.c
 * create_elf_tables: env_end is where the last one's NUL ends). Nothing writes them later:
 * glibc's setenv points a slot at a string of its own and never writes one in place, unsetenv
 * moves the array's pointers down, and that memory (the top of the main thread's stack) is
 * never unmapped.
 *
 * @returns the block and each string's address; null when /proc/self/stat or the copy cannot
 *   be read
 */
function _initialEnviron(): typeof _initial {
  if (_initial !== undefined) return _initial;
  _initial = null;
  const nr = SYSCALL_NUMBERS[Deno.build.arch];
  if (!nr) return null;
  const sc = _core().syscall;
  const path = cstr("/proc/self/stat");
  const buf = new Uint8Array(2048);
  const fd = sc(nr.openat, -100n, _addressOf(path), BigInt(O_RDONLY | O_CLOEXEC), 0n, 0n, 0n);
  if (fd < 0) return null;
  const n = sc(nr.read, BigInt(fd), _addressOf(buf), BigInt(buf.length), 0n, 0n, 0n);
  sc(nr.close, BigInt(fd), 0n, 0n, 0n, 0n, 0n);
  // Fields 50 and 51 (Linux 3.5+), counted from the last ")", which ends comm (field 2):
  // decimal user addresses, below 2^53. Decoded as Latin-1 without TextDecoder, whose first
  // use costs a cold process ~0.2 ms.
  const after = buf.subarray(buf.lastIndexOf(0x29, n - 1) + 2, Math.max(n, 0));
  const fields = String.fromCharCode.apply(null, after as unknown as number[]).split(" ");
  const start = Number(fields[47]);
  const size = Number(fields[48]) - start;
  // 0 where the kernel hides them; past 4 MiB it is no stack execve made (ARG_MAX).
  if (!(start > 0 && size > 0 && size <= 4 << 20)) return null;
  const bytes = new Uint8Array(size);
  if (_readOwn(BigInt(start), bytes) !== size || bytes[size - 1] !== 0) return null;
  const pointers: bigint[] = [];
  for (let o = 0; o < size; o = bytes.indexOf(0, o) + 1) pointers.push(BigInt(start + o));
  _initial = { start: BigInt(start), bytes, pointers };
  return _initial;
}

/** The key of each of the kernel's strings, in order. */
function _initialKeys(initial: NonNullable<typeof _initial>): string[] {
  if (initial.keys) return initial.keys;
  const { bytes } = initial;
  initial.keys = [];
  for (let o = 0; o < bytes.length;) {
    const nul = bytes.indexOf(0, o);
    const eq = bytes.indexOf(0x3d, o);
    initial.keys.push(eq < 0 || eq > nul ? "" : _key(bytes.subarray(o, eq)));
    o = nul + 1;
  }
  return initial.keys;
}

/**
 * A key's bytes as a string, lossily decoded where they are not UTF-8. Callers give a string
 * without "=" the key "": glibc's setenv never replaces it (it compares a name up to its "="),
 * so no variable of `env` may.
 */
function _key(bytes: Uint8Array): string {
  return _utf8(bytes) ?? _lossyUtf8.decode(bytes);
}

/**
 * `bytes` as a string when they are UTF-8, else undefined. ASCII is read directly (4096 bytes
 * to an apply(), which takes a bounded count): a first TextDecoder.decode costs a cold process
 * ~0.15 ms.
 */
function _utf8(bytes: Uint8Array): string | undefined {
  let ascii = true;
  for (let i = 0; ascii && i < bytes.length; i++) ascii = bytes[i] < 0x80;
  let out = "";
  for (let i = 0; ascii && i < bytes.length; i += 4096) {
    out += String.fromCharCode.apply(null, bytes.subarray(i, i + 4096) as unknown as number[]);
  }
  if (ascii) return out;
  try {
    return _strictUtf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * The kernel's environment when `pointers` is exactly its layout. A copy made while another
 * thread's unsetenv moved the pointers down is not (a string left out or one twice), nor is
 * an array with any slot setenv replaced, or one it made (those point outside the block).
 */
function _asInitial(pointers: readonly bigint[]): EnvironSnapshot | undefined {
  const initial = _initialEnviron();
  if (!initial || pointers.length !== initial.pointers.length) return undefined;
  for (let i = 0; i < pointers.length; i++) {
    if (pointers[i] !== initial.pointers[i]) return undefined;
  }
  return {
    entries: pointers,
    get keys() {
      return _initialKeys(initial);
    },
  };
}

/** The keys of `pointers`' strings when they are the variables Deno holds, each once. */
function _checkEnviron(pointers: readonly bigint[]): EnvironSnapshot | undefined {
  const now = Deno.env.toObject();
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const p of pointers) {
    const entry = _entryAt(p);
    if (!entry) return undefined;
    const { key, text } = entry;
    if (seen.has(key)) return undefined;
    // Not UTF-8: Deno does not show it. Only one the kernel gave us is ours for sure.
    if (text === undefined && !entry.given) return undefined;
    // The value starts after the key's characters; a string without "=" has the key "",
    // which Deno never holds.
    if (
      text !== undefined && (!Object.hasOwn(now, key) || now[key] !== text.slice(key.length + 1))
    ) {
      return undefined;
    }
    keys.push(key);
    seen.add(key);
  }
  for (const k of Object.keys(now)) if (!seen.has(k)) return undefined;
  return { entries: pointers, keys };
}

/**
 * The key and text (undefined where it is not UTF-8) of the string at `address`, and whether
 * it is one the kernel placed. The kernel's are decoded once, the block as one where it is
 * UTF-8 (a NUL ends a character); any other is copied with process_vm_readv.
 */
function _entryAt(address: bigint): { key: string; text?: string; given: boolean } | undefined {
  const initial = _initialEnviron();
  if (initial && !_initialTexts) {
    const { bytes, pointers, start } = initial;
    const at = (p: bigint) =>
      bytes.subarray(Number(p - start), bytes.indexOf(0, Number(p - start)));
    _initialTexts = {
      index: new Map(pointers.map((p, i) => [p, i])),
      texts: _utf8(bytes.subarray(0, bytes.length - 1))?.split("\0") ??
        pointers.map((p) => _utf8(at(p))),
    };
  }
  const i = _initialTexts?.index.get(address);
  if (i !== undefined) {
    return { key: _initialKeys(initial!)[i], text: _initialTexts!.texts[i], given: true };
  }
  const bytes = _ownCString(address);
  if (!bytes) return undefined;
  const eq = bytes.indexOf(0x3d);
  const text = _utf8(bytes);
  let given = false;
  if (text === undefined && initial && _initialTexts) {
    _initialTexts.lossy ??= new Set(_lossyUtf8.decode(initial.bytes).split("\0"));
    given = _initialTexts.lossy.has(_lossyUtf8.decode(bytes));
  }
  return { key: eq < 0 ? "" : _key(bytes.subarray(0, eq)), text, given };
}

/** One iovec pair for process_vm_readv, reused: [local base, len, remote base, len]. */
const _iov = /* @__PURE__ */ new BigUint64Array(4);
let _pid: bigint | undefined;

/** The address of a buffer, for a syscall made while the caller holds it. */
function _addressOf(buf: BufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
}

/**
 * Copies `into.length` bytes at `address` of our own memory, or as many as are mapped from
 * it on: process_vm_readv(2) on ourselves (the same thread group: no ptrace check applies)
 * returns EFAULT, or a short count, where reading unmapped memory directly would crash.
 *
 * @returns the bytes copied, or -errno
 */
function _readOwn(address: bigint, into: Uint8Array): number {
  const nr = SYSCALL_NUMBERS[Deno.build.arch]?.process_vm_readv;
  if (nr === undefined) return -38; // ENOSYS
  _iov[0] = _addressOf(into as BufferSource);
  _iov[1] = BigInt(into.length);
  _iov[2] = address;
  _iov[3] = BigInt(into.length);
  const iov = _addressOf(_iov);
  // Deno.pid is a call into Deno each time (~15-50 µs in a cold process).
  _pid ??= BigInt(Deno.pid);
  const n = _core().syscall(nr, _pid, iov, 1n, iov + 16n, 1n, 0n);
  return n < 0 ? -(_errnoCell?.[0] ?? 0) : n;
}

/** The pointers of the NULL-terminated array at `address`; "refused" without process_vm_readv. */
function _ownPointerArray(address: bigint): bigint[] | "refused" | undefined {
  const out: bigint[] = [];
  const buf = new BigUint64Array(128);
  const bytes = new Uint8Array(buf.buffer);
  for (let at = address;;) {
    // Up to the end of a page at a time: a page is mapped or not as a whole.
    const room = Number(4096n - (at % 4096n));
    const n = _readOwn(at, bytes.subarray(0, Math.min(room, bytes.length)));
    if (n === -1 || n === -38) return "refused"; // EPERM, ENOSYS
    if (n <= 0 || n % 8) return undefined;
    for (let i = 0; i < n / 8; i++) {
      if (buf[i] === 0n) return out;
      out.push(buf[i]);
    }
    at += BigInt(n);
  }
}

/** The bytes of the C string at `address` (without its NUL), or undefined where not mapped. */
function _ownCString(address: bigint): Uint8Array | undefined {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  // Past 4 MiB it is no variable execve could pass on (MAX_ARG_STRLEN is 128 KiB).
  for (let at = address, total = 0;; at += 4096n - (at % 4096n)) {
    if (total > 4 << 20) return undefined;
    const n = _readOwn(at, buf.subarray(0, Number(4096n - (at % 4096n))));
    if (n <= 0) return undefined;
    const nul = buf.subarray(0, n).indexOf(0);
    if (nul >= 0) {
      chunks.push(buf.slice(0, nul));
      break;
    }
    chunks.push(buf.slice(0, n));
    total += n;
  }
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  chunks.reduce((n, c) => (out.set(c, n), n + c.length), 0);
  return out;
}

/**
 * errno of this thread as memory JavaScript reads directly, mapped with the first symbols
 * anyone loads (dlopen itself sets errno — a path search that misses — so mapping it lazily
 * inside errno() would report dlopen's ENOENT instead of the error of the call before it).
 *
 * Deno promises nothing about errno between two FFI calls (its FFI docs say nothing of it),
 * and its own native code on this thread changes it: when the garbage collector runs
 * between the failing call and the read (errno() used to allocate a pointer view), a
 * contended lock waits with libc's syscall(SYS_futex), which leaves EAGAIN in errno (seen
 * with gdb and strace on this thread). Reading errno through a second FFI call reported
 * EAGAIN instead of EBADF 1 to 9 times per million failed calls with garbage being made
 * (tests/errno_test.ts); an element read of this array runs no native code and allocates
 * nothing. Not all of it: V8 also runs native code at a JavaScript function's entry (its
 * interrupt check), and once per process that calibrates its clock, which leaves ENOENT
 * (strace of the main thread between close(-1) = EBADF and the read: an open of
 * /sys/devices/system/cpu/cpu0/tsc_freq_khz = ENOENT, then two short sleeps) — 1-6% of
 * fresh processes read ENOENT for a close(-1) (tests/libc_test.ts), and seccompFilters
 * stops at the first ENOENT. So this cell is read only inside the wrapper of each libc
 * function, as soon as the native call returns and before any other JavaScript function
 * is entered (_keepingErrno): 0 in 400 fresh processes and in 2 million failed calls
 * under load (tests/errno_test.ts). Between the native return and that read only Deno's
 * conversion of the result runs (Deno 2.9's ext/ffi: ir.rs `NativeValue::to_v8` on the slow
 * path, which every call takes before V8 optimizes its caller; a V8 fast-API return on the
 * fast path), and it allocates only for a 64-bit result (a BigInt: `BigInt::new_from_i64`,
 * or the fast API's Int64Representation::BigInt) or a pointer (a `v8::External`): an i32
 * becomes a small integer (`v8::Integer::new`), no heap object, so no collection can run
 * there. An i64 `syscall` result once gave EAGAIN for one of 60,000 cold close(-1) calls
 * (CI, tests/libc_test.ts): every function whose errno is read now has an i32 result (see
 * {@link SYMBOLS}; lseek, the one 64-bit result, has its errno from `lseek_errno`).
 * Deno's own code there frees Rust buffers (glibc's free keeps errno since 2.33).
 * Module state is per isolate and each isolate (the main one, each Worker) stays on one
 * thread, whose errno address never changes.
 */
let _errnoCell: Int32Array | undefined;

function _cellOf(ptr: Deno.PointerValue): Int32Array | undefined {
  return ptr === null ? undefined : new Int32Array(Deno.UnsafePointerView.getArrayBuffer(ptr, 4));
}

function _load<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const loaded = _loadOnly(symbols);
  _errnoCell ??= _cellOf(
    _structPointer(_loadOnly({ __errno_location: _CORE.__errno_location }).__errno_location()),
  );
  return loaded;
}

function _loadOnly<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const override = nsjoinSetting("NSJOIN_LIBC");
  const paths = override ? [override] : LIBC_PATHS;
  const failures: string[] = [];
  for (const path of paths) {
    try {
      return _keepingErrno(Deno.dlopen(path, symbols).symbols, symbols);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) {
        throw notCapable(
          "Cannot load libc without --allow-ffi: nsjoin joins namespaces and reads /proc through libc",
        );
      }
      failures.push(`${path}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    `Cannot load libc: tried ${failures.join("; ")} (set NSJOIN_LIBC to its path)`,
  );
}

/**
 * Each blocking function of `loaded`, made to copy errno into {@link _lastErrno} as soon as
 * the native call returns, before any other JavaScript function is entered (V8 may run
 * native code of its own at a function's entry).
 */
function _keepingErrno<S extends Deno.ForeignLibraryInterface>(
  loaded: Deno.DynamicLibrary<S>["symbols"],
  symbols: S,
): Deno.DynamicLibrary<S>["symbols"] {
  const out: Record<string, unknown> = {};
  for (const [name, f] of Object.entries(loaded)) {
    const def = symbols[name] as Deno.ForeignFunction | undefined;
    out[name] = typeof f === "function" && !def?.nonblocking
      ? (...args: unknown[]) => {
        const r = f(...args);
        _lastErrno = _errnoCell?.[0] ?? 0;
        return r;
      }
      : f;
  }
  return out as Deno.DynamicLibrary<S>["symbols"];
}

/**
 * errno of this thread as copied right after the last blocking libc call of ours returned
 * (see _errnoCell). Read it right after the failing call, with no other call of ours in
 * between.
 */
let _lastErrno = 0;

/**
 * errno of the calling thread's last failed call; call right after the failing call, on
 * the same thread, with no other FFI call of ours in between.
 */
export function errno(): number {
  return _lastErrno;
}

/**
 * geteuid(2): the uid the kernel checks file access with. Deno.uid() needs --allow-sys
 * (and gives the real uid), which `enter`'s documented flags do not include.
 */
export function effectiveUid(): number {
  const nr = SYSCALL_NUMBERS[Deno.build.arch]?.geteuid;
  if (nr === undefined) throw new Error(`Cannot find geteuid's number on ${Deno.build.arch}`);
  // An i32 result: a uid above 2^31 comes back negative, and is unsigned again here.
  return libcSubset(...EXEC_SYMBOLS).syscall(nr, 0n, 0n, 0n) >>> 0;
}

// TextEncoder and TextDecoder cost ~0.2 and ~0.3 ms at their first use in a process (Deno
// compiles their classes then), which `enter` would pay for a few short ASCII strings: paths,
// the release, /proc/PID/stat. Until a process has needed one of them, a short ASCII text is
// converted here instead (ASCII is the same bytes in UTF-8); anything else — non-ASCII, longer
// than SHORT, or once the coder exists — goes through it: byte by byte in the interpreter,
// a long text, or many short ones (a command that reads hundreds of /proc files), would cost
// more than the first use saved.
const SHORT = 512;
let _textDecoder: TextDecoder | undefined;
let _textEncoder: TextEncoder | undefined;

/**
 * UTF-8 bytes as text, as `new TextDecoder().decode(bytes)` gives it (invalid sequences as
 * U+FFFD).
 *
 * @param bytes UTF-8
 * @returns the text
 */
export function decodeText(bytes: Uint8Array): string {
  if (!_textDecoder && bytes.length <= SHORT) {
    let ascii = true;
    for (let i = 0; i < bytes.length && ascii; i++) ascii = bytes[i] < 0x80;
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  _textDecoder ??= new TextDecoder();
  return _textDecoder.decode(bytes);
}

/**
 * UTF-8 bytes of a string, as `new TextEncoder().encode(s)` gives them.
 *
 * @param s any text
 * @returns its bytes
 */
export function encodeText(s: string): Uint8Array<ArrayBuffer> {
  if (!_textEncoder && s.length <= SHORT) {
    const out = new Uint8Array(s.length);
    let i = 0;
    for (let c; i < s.length && (c = s.charCodeAt(i)) < 0x80; i++) out[i] = c;
    if (i === s.length) return out;
  }
  _textEncoder ??= new TextEncoder();
  return _textEncoder.encode(s);
}

/** A NUL-terminated C string. */
export function cstr(s: string): Uint8Array<ArrayBuffer> {
  const out = encodeText(`${s}\0`);
  if (out.indexOf(0) !== out.length - 1) {
    throw new TypeError(`Cannot pass a string with a NUL byte to C: ${JSON.stringify(s)}`);
  }
  return out;
}

/**
 * A failed libc call: the syscall name and errno; callers turn it into their own error. Some
 * reach users as they are (copyFrom's missing path): `code` is the errno's name, as
 * NamespaceError's, so one `error.code === "ENOENT"` tells either apart.
 */
export class SyscallError extends Error {
  override name = "SyscallError";
  /** The errno value. */
  readonly errno: number;
  /** The errno's name, such as `"ENOENT"`. */
  readonly code: string;
  /** The libc function that failed. */
  readonly syscall: string;
  constructor(syscall: string, errnoValue: number, message?: string) {
    super(message ?? `${syscall} failed: ${errnoName(errnoValue)} (${errnoText(errnoValue)})`);
    this.syscall = syscall;
    this.errno = errnoValue;
    this.code = errnoName(errnoValue);
  }
}

/** Throws a SyscallError when `result` is negative; returns it otherwise. */
export function check<T extends number | bigint>(syscall: string, result: T): T {
  if (result < 0) throw new SyscallError(syscall, errno());
  return result;
}

// Every Linux errno (1-133: the kernel's include/uapi/asm-generic/errno-base.h and errno.h,
// the same numbers on x86_64 and aarch64) with glibc's strerror text, lower-cased. Generated
// from glibc's strerrorname_np/strerror (see tests/errno_test.ts, which checks it against the
// kernel headers): a table rather than an FFI call, so that naming an error needs no
// permission, no library load on the error path, and works where libc lacks strerrorname_np
// (musl); rather than node:os, whose import alone costs ~7 ms of cold start.
const _ERRNO: Record<number, [string, string]> = {
  1: ["EPERM", "operation not permitted"],
  2: ["ENOENT", "no such file or directory"],
  3: ["ESRCH", "no such process"],
  4: ["EINTR", "interrupted system call"],
  5: ["EIO", "input/output error"],
  6: ["ENXIO", "no such device or address"],
  7: ["E2BIG", "argument list too long"],
  8: ["ENOEXEC", "exec format error"],
  9: ["EBADF", "bad file descriptor"],
  10: ["ECHILD", "no child processes"],
  11: ["EAGAIN", "resource temporarily unavailable"],
  12: ["ENOMEM", "cannot allocate memory"],
  13: ["EACCES", "permission denied"],
  14: ["EFAULT", "bad address"],
  15: ["ENOTBLK", "block device required"],
  16: ["EBUSY", "device or resource busy"],
  17: ["EEXIST", "file exists"],
  18: ["EXDEV", "invalid cross-device link"],
  19: ["ENODEV", "no such device"],
  20: ["ENOTDIR", "not a directory"],
  21: ["EISDIR", "is a directory"],
  22: ["EINVAL", "invalid argument"],
  23: ["ENFILE", "too many open files in system"],
  24: ["EMFILE", "too many open files"],
  // glibc's text: ENOTTY comes from terminal ioctls too (a pty, TIOCSCTTY); where an nsfs
  // ioctl returns it, the caller's own message says "it is not a namespace file".
  25: ["ENOTTY", "inappropriate ioctl for device"],
  26: ["ETXTBSY", "text file busy"],
  27: ["EFBIG", "file too large"],
  28: ["ENOSPC", "no space left on device"],
  29: ["ESPIPE", "illegal seek"],
  30: ["EROFS", "read-only file system"],
  31: ["EMLINK", "too many links"],
  32: ["EPIPE", "broken pipe"],
  33: ["EDOM", "numerical argument out of domain"],
  34: ["ERANGE", "numerical result out of range"],
  35: ["EDEADLK", "resource deadlock avoided"],
  36: ["ENAMETOOLONG", "file name too long"],
  37: ["ENOLCK", "no locks available"],
  38: ["ENOSYS", "function not implemented"],
  39: ["ENOTEMPTY", "directory not empty"],
  40: ["ELOOP", "too many levels of symbolic links"],
  42: ["ENOMSG", "no message of desired type"],
  43: ["EIDRM", "identifier removed"],
  44: ["ECHRNG", "channel number out of range"],
  45: ["EL2NSYNC", "level 2 not synchronized"],
  46: ["EL3HLT", "level 3 halted"],
  47: ["EL3RST", "level 3 reset"],
  48: ["ELNRNG", "link number out of range"],
  49: ["EUNATCH", "protocol driver not attached"],
  50: ["ENOCSI", "no CSI structure available"],
  51: ["EL2HLT", "level 2 halted"],
  52: ["EBADE", "invalid exchange"],
  53: ["EBADR", "invalid request descriptor"],
  54: ["EXFULL", "exchange full"],
  55: ["ENOANO", "no anode"],
  56: ["EBADRQC", "invalid request code"],
  57: ["EBADSLT", "invalid slot"],
  59: ["EBFONT", "bad font file format"],
  60: ["ENOSTR", "device not a stream"],
  61: ["ENODATA", "no data available"],
  62: ["ETIME", "timer expired"],
  63: ["ENOSR", "out of streams resources"],
  64: ["ENONET", "machine is not on the network"],
  65: ["ENOPKG", "package not installed"],
  66: ["EREMOTE", "object is remote"],
  67: ["ENOLINK", "link has been severed"],
  68: ["EADV", "advertise error"],
  69: ["ESRMNT", "srmount error"],
  70: ["ECOMM", "communication error on send"],
  71: ["EPROTO", "protocol error"],
  72: ["EMULTIHOP", "multihop attempted"],
  73: ["EDOTDOT", "rFS specific error"],
  74: ["EBADMSG", "bad message"],
  75: ["EOVERFLOW", "value too large for defined data type"],
  76: ["ENOTUNIQ", "name not unique on network"],
  77: ["EBADFD", "file descriptor in bad state"],
  78: ["EREMCHG", "remote address changed"],
  79: ["ELIBACC", "can not access a needed shared library"],
  80: ["ELIBBAD", "accessing a corrupted shared library"],
  81: ["ELIBSCN", ".lib section in a.out corrupted"],
  82: ["ELIBMAX", "attempting to link in too many shared libraries"],
  83: ["ELIBEXEC", "cannot exec a shared library directly"],
  84: ["EILSEQ", "invalid or incomplete multibyte or wide character"],
  85: ["ERESTART", "interrupted system call should be restarted"],
  86: ["ESTRPIPE", "streams pipe error"],
  87: ["EUSERS", "too many users"],
  88: ["ENOTSOCK", "socket operation on non-socket"],
  89: ["EDESTADDRREQ", "destination address required"],
  90: ["EMSGSIZE", "message too long"],
  91: ["EPROTOTYPE", "protocol wrong type for socket"],
  92: ["ENOPROTOOPT", "protocol not available"],
  93: ["EPROTONOSUPPORT", "protocol not supported"],
  94: ["ESOCKTNOSUPPORT", "socket type not supported"],
  95: ["EOPNOTSUPP", "operation not supported"],
  96: ["EPFNOSUPPORT", "protocol family not supported"],
  97: ["EAFNOSUPPORT", "address family not supported by protocol"],
  98: ["EADDRINUSE", "address already in use"],
  99: ["EADDRNOTAVAIL", "cannot assign requested address"],
  100: ["ENETDOWN", "network is down"],
  101: ["ENETUNREACH", "network is unreachable"],
  102: ["ENETRESET", "network dropped connection on reset"],
  103: ["ECONNABORTED", "software caused connection abort"],
  104: ["ECONNRESET", "connection reset by peer"],
  105: ["ENOBUFS", "no buffer space available"],
  106: ["EISCONN", "transport endpoint is already connected"],
  107: ["ENOTCONN", "transport endpoint is not connected"],
  108: ["ESHUTDOWN", "cannot send after transport endpoint shutdown"],
  109: ["ETOOMANYREFS", "too many references: cannot splice"],
  110: ["ETIMEDOUT", "connection timed out"],
  111: ["ECONNREFUSED", "connection refused"],
  112: ["EHOSTDOWN", "host is down"],
  113: ["EHOSTUNREACH", "no route to host"],
  114: ["EALREADY", "operation already in progress"],
  115: ["EINPROGRESS", "operation now in progress"],
  116: ["ESTALE", "stale file handle"],
  117: ["EUCLEAN", "structure needs cleaning"],
  118: ["ENOTNAM", "not a XENIX named type file"],
  119: ["ENAVAIL", "no XENIX semaphores available"],
  120: ["EISNAM", "is a named type file"],
  121: ["EREMOTEIO", "remote I/O error"],
  122: ["EDQUOT", "disk quota exceeded"],
  123: ["ENOMEDIUM", "no medium found"],
  124: ["EMEDIUMTYPE", "wrong medium type"],
  125: ["ECANCELED", "operation canceled"],
  126: ["ENOKEY", "required key not available"],
  127: ["EKEYEXPIRED", "key has expired"],
  128: ["EKEYREVOKED", "key has been revoked"],
  129: ["EKEYREJECTED", "key was rejected by service"],
  130: ["EOWNERDEAD", "owner died"],
  131: ["ENOTRECOVERABLE", "state not recoverable"],
  132: ["ERFKILL", "operation not possible due to RF-kill"],
  133: ["EHWPOISON", "memory page has hardware error"],
};

/** "EPERM" for 1, and so on; `E<n>` when unknown. */
export function errnoName(value: number): string {
  return _ERRNO[value]?.[0] ?? `E${value}`;
}

/** A short lower-case text for an errno, as strerror would say it. */
export function errnoText(value: number): string {
  return _ERRNO[value]?.[1] ?? "system error";
}

/** open(2): read only. */
export const O_RDONLY = 0;
/** open(2): close on exec. */
export const O_CLOEXEC = 0o2000000;
