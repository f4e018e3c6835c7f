/**
 * Becoming the helper with the least a Deno process can do: one `Deno.dlopen` of one
 * function, `syscall(2)`, and libc's `environ`; the helper's bytes into a sealed memfd;
 * execveat(2) of it (and, for `-m`, a stat(2) of two /proc links). For `nsjoin enter`'s fast path (src/cli/_enter_fast.ts), which runs before
 * the rest of nsjoin loads: ffi/libc.ts, ffi/helper.ts and ffi/exec.ts do the same with the
 * error handling, fallbacks and options a library needs, and cost a cold process ~2 ms more.
 *
 * Nothing here reports an error: any step that fails returns, and the caller takes the full
 * path, which does it all again and says what failed (or falls back to the helper's private
 * file, see ffi/helper.ts). The kernel rules are ffi/helper.ts's (a sealed memfd cannot be
 * changed, even through /proc/PID/exe: CVE-2019-5736) and ffi/exec.ts's (execve from any
 * thread ends every other; execveat(2) of the memfd itself, close-on-exec, runs it — an ELF:
 * a script would then find no /dev/fd/N for its interpreter).
 *
 * @module
 */
import { SYSCALL_NUMBERS } from "./libc.ts";

/**
 * Variables that change what the full path does (tests and odd hosts): the fast paths of
 * `enter` and `exec` (src/cli/_enter_fast.ts, src/cli/_exec_fast.ts) leave it to them.
 */
export const NSJOIN_VARIABLES: readonly string[] = [
  "NSJOIN_LIBC",
  "NSJOIN_HELPER",
  "NSJOIN_NO_PIDFD_SETNS",
  "NSJOIN_NO_PIDFS",
];

// memfd_create(2) flags and fcntl(2) seals, as ffi/helper.ts uses them.
const MFD_CLOEXEC_SEALING_EXEC = 0x1n | 0x2n | 0x10n;
const F_ADD_SEALS = 1033n;
/** F_SEAL_SEAL, SHRINK, GROW and WRITE; F_SEAL_EXEC (Linux 6.3+) too when the kernel has it. */
const SEALS = 0x1n | 0x2n | 0x4n | 0x8n;
const F_SEAL_EXEC = 0x20n;
/** execveat(2): execute the fd itself. */
const AT_EMPTY_PATH = 0x1000n;
const AT_FDCWD = -100n;
const O_RDWR = 2n;
const O_CLOEXEC = 0o2000000n;

/**
 * The strings as C strings in one buffer (one address to take: each `Deno.UnsafePointer.of`
 * is a call into Deno), and the offset of each; undefined when one is not ASCII (the full
 * path encodes the rest: a first TextEncoder costs a cold process ~0.2 ms) or holds a NUL.
 */
function _cStrings(strings: readonly string[]): { block: Uint8Array; at: number[] } | undefined {
  let size = 0;
  for (const s of strings) size += s.length + 1;
  const block = new Uint8Array(size);
  const at: number[] = [];
  let o = 0;
  for (const s of strings) {
    at.push(o);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0 || c >= 0x80) return undefined;
      block[o++] = c;
    }
    block[o++] = 0;
  }
  return { block, at };
}

/**
 * The one library this module binds. `syscall` returns a struct of one i64: Deno compiles
 * no fast-call trampoline (Cranelift) for a signature with a struct (Deno 2.9's turbocall
 * `is_compatible`), ~0.15 ms of this process's `Deno.dlopen` (fastest of 15: 0.59 against
 * 0.44 ms), and a struct of one 8-byte integer comes back exactly as the integer would (the
 * SysV x86-64 ABI classes it INTEGER: rax; AAPCS64 returns a composite of ≤ 16 bytes in
 * x0). Deno's generic call path may change errno before JavaScript could read it
 * (ffi/libc.ts keeps the trampoline for that): nothing here reads errno — a failed step
 * only returns.
 */
const _SYMBOLS = {
  /** long syscall(long number, long a, long b, long c, long d, long e, long f) */
  syscall: {
    parameters: ["i64", "i64", "i64", "i64", "i64", "i64", "i64"],
    result: { struct: ["i64"] },
  },
  /** char **environ: the address of the variable, which holds the array's */
  environ: { type: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

/** syscall(2), its result as the number, and libc's `environ`. */
interface _Libc {
  syscall(n: bigint, a: bigint, b: bigint, c: bigint, d: bigint, e: bigint, f: bigint): bigint;
  environ: Deno.PointerValue;
}

let _lib: _Libc | null | undefined;

/** libc, bound once; undefined when it cannot be (no --allow-ffi, no libc.so.6). */
function _libc(): _Libc | undefined {
  if (_lib === undefined) {
    try {
      const { syscall, environ } = Deno.dlopen("libc.so.6", _SYMBOLS).symbols;
      _lib = {
        syscall: (n, a, b, c, d, e, f) => {
          const r = syscall(n, a, b, c, d, e, f);
          return new BigInt64Array(r.buffer, r.byteOffset, 1)[0];
        },
        environ,
      };
    } catch {
      _lib = null;
    }
  }
  return _lib ?? undefined;
}

/**
 * Whether the mount namespace of `pid` is this thread's: a stat(2) of each /proc link, the
 * same device and inode (what src/namespaces.ts differingNamespaces reads with readlink).
 *
 * @param pid a PID
 * @returns true or false; undefined when a link cannot be read (the caller takes the full
 *   path, which says why)
 */
export const sameMountNamespace = (function sameMountNamespace(pid: number): boolean | undefined {
  const nr = SYSCALL_NUMBERS[Deno.build.arch];
  const lib = _libc();
  const paths = _cStrings(["/proc/thread-self/ns/mnt", `/proc/${pid}/ns/mnt`]);
  if (!nr || !lib || !paths) return undefined;
  // Two struct stats (144 bytes on x86_64, 128 in the generic layout), 256 bytes apart:
  // st_dev, then st_ino, 8 bytes each.
  const st = new BigUint64Array(64);
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(paths.block)));
  const stats = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(st)));
  for (let i = 0; i < 2; i++) {
    const at = base + BigInt(paths.at[i]);
    if (lib.syscall(nr.newfstatat, AT_FDCWD, at, stats + BigInt(i * 256), 0n, 0n, 0n) !== 0n) {
      return undefined;
    }
  }
  return st[0] === st[32] && st[1] === st[33];
}).bind(undefined);

/**
 * st_mode of each of these fds of ours (fstat(2)), undefined for one that is closed.
 *
 * @param fds our fds
 * @returns their modes, in order; all undefined when libc cannot be bound
 */
export const fdModes = (function fdModes(fds: readonly number[]): (number | undefined)[] {
  const nr = SYSCALL_NUMBERS[Deno.build.arch];
  const lib = _libc();
  // struct stat: st_mode after st_nlink (8 bytes) on x86_64, before it in the generic layout.
  const at = Deno.build.arch === "x86_64" ? 6 : 4;
  const st = new Uint32Array(64);
  const address = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(st)));
  return fds.map((fd) =>
    nr && lib && lib.syscall(nr.fstat, BigInt(fd), address, 0n, 0n, 0n, 0n) === 0n
      ? st[at]
      : undefined
  );
}).bind(undefined);

/**
 * Replaces this process with the helper, given `argv` (argv[0] included) and this
 * process's environment as libc holds it (in its order, bytes as they are: what ffi/exec.ts
 * passes when nothing replaces a variable).
 *
 * @param elf the helper's static ELF for this machine, base64
 * @param argv the helper's argv; ASCII only
 * @param options `env`: the helper's environment instead of ours (ASCII only); `nullStdin`:
 *   fd 0 becomes /dev/null first (as a spawn's `stdin: "null"`)
 * @returns only when a step failed (nothing was run; the caller takes the full path)
 */
export const execHelper = (function execHelper(
  elf: string,
  argv: readonly string[],
  options: { env?: readonly string[]; nullStdin?: boolean } = {},
): void {
  const nr = SYSCALL_NUMBERS[Deno.build.arch];
  const env = options.env ?? [];
  // The memfd's name and /dev/null first, then argv, then the environment given.
  const strings = _cStrings(["nsjoin-helper", "/dev/null", ...argv, ...env]);
  const lib = _libc();
  if (!nr || !strings || !lib) return;
  const sc = (n: bigint, a: bigint, b = 0n, c = 0n, d = 0n, e = 0n) =>
    lib.syscall(n, a, b, c, d, e, 0n);
  const base = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(strings.block)));
  // Native base64 (V8's Uint8Array.fromBase64), as ffi/helper.ts decodes it.
  const bytes = (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> })
    .fromBase64(elf);
  const fd = sc(nr.memfd_create, base, MFD_CLOEXEC_SEALING_EXEC);
  if (fd < 0n) return;
  const address = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes)));
  const sealed = sc(nr.write, fd, address, BigInt(bytes.length)) === BigInt(bytes.length) &&
    (sc(nr.fcntl, fd, F_ADD_SEALS, SEALS | F_SEAL_EXEC) === 0n ||
      sc(nr.fcntl, fd, F_ADD_SEALS, SEALS) === 0n);
  const at = (i: number) => base + BigInt(strings.at[i]);
  const array = new BigUint64Array(argv.length + 1);
  for (let i = 0; i < argv.length; i++) array[i] = at(i + 2);
  const envArray = options.env ? new BigUint64Array(env.length + 1) : undefined;
  for (let i = 0; i < env.length; i++) envArray![i] = at(argv.length + 2 + i);
  const environ = envArray
    ? BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(envArray)))
    : lib.environ === null
    ? 0n
    : new Deno.UnsafePointerView(lib.environ).getBigUint64(0);
  // stdin "null", as ffi/exec.ts gives it: /dev/null (O_RDWR) made fd 0. A failure leaves
  // nothing run.
  let ready = sealed && environ !== 0n;
  if (ready && options.nullStdin) {
    const dev = sc(nr.openat, AT_FDCWD, at(1), O_RDWR | O_CLOEXEC);
    ready = dev >= 0n && sc(nr.dup3, dev, 0n, 0n) === 0n;
    if (dev > 0n) sc(nr.close, dev);
  }
  if (ready) {
    // execveat(fd, "", …, AT_EMPTY_PATH): the memfd itself, no path to look up. The empty
    // string is the NUL that ends the block.
    const empty = base + BigInt(strings.block.length - 1);
    const argvAt = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(array)));
    sc(nr.execveat, fd, empty, argvAt, environ, AT_EMPTY_PATH);
  }
  // Still here: nothing ran. Keep the buffers alive until after the call.
  void strings.block;
  void array;
  void envArray;
  sc(nr.close, fd);
}).bind(undefined);
