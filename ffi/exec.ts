/**
 * execve(2) from Deno: replace this process with another program. The CLI uses it to
 * become the helper (as nsenter becomes its program) instead of spawning and waiting:
 * no child to relay signals to, and none of Deno's first-spawn cost.
 *
 * Kernel rules this relies on: execve from any thread of a multithreaded process ends
 * every other thread; close-on-exec fds are closed (the helper closes the rest); an ELF
 * may be executed through /proc/self/fd/N of a close-on-exec memfd, since the kernel opens
 * it before closing anything. Blocked and ignored signals survive execve: the helper's `Q`
 * option resets them.
 *
 * @module
 */
import { cstr, environEntries, errno, EXEC_SYMBOLS, libcSubset, SyscallError } from "./libc.ts";

/**
 * A NULL-terminated array of C string pointers, and the buffers it points into; a bigint
 * entry is a pointer to a string that outlives the call.
 */
function _cArray(
  entries: readonly (string | bigint)[],
): { array: BigUint64Array<ArrayBuffer>; keep: Uint8Array[] } {
  const keep: Uint8Array[] = [];
  const array = new BigUint64Array(entries.length + 1);
  entries.forEach((e, i) => {
    if (typeof e === "bigint") array[i] = e;
    else {
      const buf = cstr(e);
      keep.push(buf);
      array[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf)));
    }
  });
  return { array, keep };
}

/**
 * Replaces this process with `path`. Returns only by throwing.
 *
 * @param path the program (an absolute path: no PATH search here)
 * @param argv its argv, argv[0] included
 * @param env its whole environment, or with `inheritEnv` what replaces or adds to ours
 * @param devNull standard fds (0, 1, 2) to point at /dev/null first
 * @param inheritEnv start from this process's environment as libc holds it (bytes as they
 *   are, in its order, as nsenter passes it on), `env` replacing in place and adding at
 *   the end
 * @throws {SyscallError} when execve fails
 */
export function execve(
  path: string,
  argv: readonly string[],
  env: Record<string, string>,
  devNull: readonly number[] = [],
  inheritEnv = false,
): never {
  const args = _cArray(argv);
  const envp = _cArray(
    inheritEnv ? environEntries(env) : Object.entries(env).map(([k, v]) => `${k}=${v}`),
  );
  const lib = libcSubset(...EXEC_SYMBOLS);
  if (devNull.length) {
    // O_RDWR: the new program may read or write these, and gets EOF or a sink.
    const fd = lib.open(cstr("/dev/null"), 2, /* O_RDWR */ 0);
    if (fd < 0) throw new SyscallError("open(/dev/null)", errno());
    for (const target of devNull) lib.dup2(fd, target);
    lib.close(fd);
  }
  lib.execve(cstr(path), new Uint8Array(args.array.buffer), new Uint8Array(envp.array.buffer));
  // Still here: it failed. Keep the buffers alive until after the call.
  const e = errno();
  void args.keep;
  void envp.keep;
  throw new SyscallError("execve", e);
}
