/**
 * Reads the seccomp filters of a process back, as the helper does before installing them
 * (ffi/helper.c, option z) — for tests and diagnostics that compare the filters of two
 * processes byte for byte; and keeps the copies the helper leaves (options x and Z), so a
 * target exec'd again is not stopped again (filterCopy).
 *
 * Kernel rules relied on: PTRACE_SECCOMP_GET_FILTER needs CAP_SYS_ADMIN in the initial user
 * namespace, a caller without a seccomp filter, and a stopped tracee (seize + interrupt);
 * the tracer is the calling *thread*, so every call below is synchronous (never
 * `nonblocking`) and runs on this one thread, and detaching resumes the tracee.
 *
 * @module
 */
import { cstr, errno, EXEC_SYMBOLS, libcSubset, SyscallError } from "./libc.ts";
import { readFileSafe } from "./files.ts";

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

// ---- The filters of a pinned target, kept between execs (helper options Z and x)

const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_NOEXEC_SEAL = 0x8;
const F_ADD_SEALS = 1033;
// F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE: the copy never changes again.
const SEALS = 0x1 | 0x2 | 0x4 | 0x8;
/** Copies kept at most (one fd each); the oldest goes first. */
const MAX_COPIES = 32;

/** Kept copies by target ("pid:start:inode"): its filters when it had `count` of them. */
const _copies = new Map<string, { count: number; fd: number }>();

/** How one spawn of the helper copies the target's filters: see {@link filterCopy}. */
export interface FilterCopy {
  /** Helper options to add to `z`: `Z<fd>` (use the kept copy) or `x<fd>` (leave one). */
  args: string[];
  /** The fds the helper inherits for them (close-on-exec again right after the spawn). */
  fds: number[];
  /** Call once the helper has exited (or never started): keeps a copy it left. Idempotent. */
  done(): void;
}

/**
 * Lets the helper skip ptrace when a target is exec'd again: the first spawn for a target
 * gets `x<fd>`, a fresh memfd the helper writes the filters it read with ptrace into; once
 * that helper exited, a well-formed copy of exactly `count` filters is sealed and kept, and
 * later spawns get `Z<fd>`. Sound because a process's seccomp filters are only ever added,
 * never removed or replaced: the same pinned process (PID, start time and pidfs inode) with
 * as many filters (`Seccomp_filters` of /proc/PID/status, Linux 5.9+) has these filters.
 * The helper checks that count again itself right before it installs a copy, and reads
 * with ptrace when it differs; a copy kept for another count is dropped here.
 *
 * @param target the pinned target's identity ("pid:start:inode")
 * @param count its filters now; undefined when the kernel does not say (no copy is kept)
 * @returns the helper options and fds for one spawn
 */
export function filterCopy(target: string, count: number | undefined): FilterCopy {
  const none: FilterCopy = { args: [], fds: [], done() {} };
  if (count === undefined || count < 1) return none;
  const lib = libcSubset(...EXEC_SYMBOLS);
  const kept = _copies.get(target);
  if (kept?.count === count) return { args: [`Z${kept.fd}`], fds: [kept.fd], done() {} };
  if (kept) {
    _copies.delete(target);
    lib.close(kept.fd);
  }
  const name = cstr("nsjoin-seccomp");
  let fd = lib.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);
  // Before Linux 6.3 MFD_NOEXEC_SEAL is unknown (EINVAL).
  if (fd < 0) fd = lib.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return none;
  let open = true;
  return {
    args: [`x${fd}`],
    fds: [fd],
    done() {
      if (!open) return;
      open = false;
      if (_wellFormed(fd, count) && lib.fcntl(fd, F_ADD_SEALS, SEALS) === 0) {
        // Another spawn may have kept one meanwhile: ours replaces it. No spawn is using
        // that fd now (spawns are synchronous, and each looks its copy up when it starts).
        const before = _copies.get(target);
        if (before) {
          _copies.delete(target);
          lib.close(before.fd);
        }
        if (_copies.size >= MAX_COPIES) {
          const [oldest, copy] = _copies.entries().next().value!;
          _copies.delete(oldest);
          lib.close(copy.fd);
        }
        _copies.set(target, { count, fd });
      } else lib.close(fd);
    },
  };
}

/**
 * Whether the memfd holds what the helper's `x` writes for `count` filters, in full: u32
 * count, count × {u32 length, u32 flags}, then the instructions (8 bytes each). Read
 * through a new open file (its own offset, from 0). The helper checks each filter again
 * when it installs the copy.
 */
function _wellFormed(fd: number, count: number): boolean {
  let bytes: Uint8Array;
  try {
    bytes = readFileSafe(`/proc/self/fd/${fd}`, { maxBytes: 4 + 8 * 256 + 8 * 32768 });
  } catch {
    return false;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4 + 8 * count || view.getUint32(0, true) !== count) return false;
  let size = 4 + 8 * count;
  for (let i = 0; i < count; i++) size += 8 * view.getUint32(4 + 8 * i, true);
  return size === bytes.length;
}
