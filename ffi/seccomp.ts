/**
 * Reads the seccomp filters of a process back, as the helper does before installing them
 * (ffi/helper.c, option z) — for tests and diagnostics that compare the filters of two
 * processes byte for byte.
 *
 * Kernel rules relied on: PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN in the initial user
 * namespace, a caller without a seccomp filter, and a stopped tracee (seize + interrupt);
 * the tracer is the calling *thread*, so every call below is synchronous (never
 * `nonblocking`) and runs on this one thread, and detaching resumes the tracee.
 *
 * @module
 */
import { errno, libcSubset, SyscallError } from "./libc.ts";

const PTRACE_DETACH = 17;
const PTRACE_SEIZE = 0x4206;
const PTRACE_INTERRUPT = 0x4207;
const PTRACE_SECCOMP_GET_FILTER = 0x420c;
const WALL = 0x40000000;
const ENOENT = 2;
const EINVAL = 22;

/**
 * The classic BPF programs of `pid`'s seccomp filters, newest first (index 0 is the one
 * installed last), each as its raw `struct sock_filter` bytes (8 per instruction).
 *
 * @param pid the process (its main thread)
 * @returns the programs; empty when it has none
 * @throws {SyscallError} when ptrace refuses (not root, or the caller has a filter)
 */
export function seccompFilters(pid: number): Uint8Array[] {
  const c = libcSubset("ptrace", "waitpid", "__errno_location");
  const call = (what: string, r: number | bigint) => {
    if (r < 0) throw new SyscallError(what, errno());
    return Number(r);
  };
  call("ptrace(PTRACE_SEIZE)", c.ptrace(PTRACE_SEIZE, pid, 0n, null));
  try {
    call("ptrace(PTRACE_INTERRUPT)", c.ptrace(PTRACE_INTERRUPT, pid, 0n, null));
    call("waitpid", c.waitpid(pid, new Uint8Array(4), WALL));
    const out: Uint8Array[] = [];
    for (let i = 0;; i++) {
      const n = c.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, BigInt(i), null);
      // ENOENT: past the oldest filter; EINVAL at index 0: not in filter mode (none).
      if (n < 0 && (errno() === ENOENT || (i === 0 && errno() === EINVAL))) return out;
      const len = call("ptrace(PTRACE_SECCOMP_GET_FILTER)", n);
      const prog = new Uint8Array(len * 8);
      call(
        "ptrace(PTRACE_SECCOMP_GET_FILTER)",
        c.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, BigInt(i), prog),
      );
      out.push(prog);
    }
  } finally {
    c.ptrace(PTRACE_DETACH, pid, 0n, null);
  }
}
