/**
 * A seccomp filter that forbids the calling thread, every thread it creates afterwards and
 * every process those fork to execute a program (`execve`, `execveat`). For the threads of
 * an `inNamespaces()` Worker in a target's mount namespace: there every path resolves in
 * the target's files, and a program found there would run with the caller's pid and user
 * namespaces and capabilities — the runc CVE class this project must not reopen.
 *
 * Kernel rules relied on (seccomp(2)): a filter installed without SECCOMP_FILTER_FLAG_TSYNC
 * applies to the calling thread only and is inherited by every thread and process it
 * creates; it can never be removed; installing one without no_new_privs needs CAP_SYS_ADMIN
 * in the caller's user namespace, which joining a mount namespace needs anyway.
 *
 * Not filtered: `mmap` of a file with PROT_EXEC (what `dlopen` does), because V8 maps
 * Deno's own binary that way for every new isolate (it checks the file's device and inode
 * against /proc/self/maps first, so a planted file is not mapped).
 *
 * @module
 */
import { check, libcSubset } from "./libc.ts";

/** Per architecture: AUDIT_ARCH_* and the syscall numbers used below. */
const _ARCH: Record<string, { audit: number; seccomp: number; execve: number; execveat: number }> =
  {
    x86_64: { audit: 0xc000003e, seccomp: 317, execve: 59, execveat: 322 },
    aarch64: { audit: 0xc00000b7, seccomp: 277, execve: 221, execveat: 281 },
  };

// linux/filter.h, linux/bpf_common.h, linux/seccomp.h
const BPF_LD_W_ABS = 0x20;
const BPF_JEQ_K = 0x15;
const BPF_JGE_K = 0x35;
const BPF_RET_K = 0x06;
const SECCOMP_RET_ALLOW = 0x7fff0000;
const SECCOMP_RET_ERRNO_EPERM = 0x00050000 | 1;
const SECCOMP_SET_MODE_FILTER = 1;
/** x86_64's x32 ABI marks syscall numbers with this bit: refused as a whole. */
const X32_SYSCALL_BIT = 0x40000000;
// struct seccomp_data: int nr; __u32 arch; ...
const NR = 0, ARCH = 4;

/**
 * Installs the filter on the calling thread. Calls from a foreign ABI (i386 `int 0x80`,
 * x32) are refused too, since their syscall numbers differ.
 *
 * @throws {SyscallError} when the kernel refuses the filter (no CAP_SYS_ADMIN, no seccomp)
 */
export function forbidExecOnThisThread(): void {
  const a = _ARCH[Deno.build.arch];
  if (!a) throw new Error(`Cannot filter exec on ${Deno.build.arch}: no syscall table for it`);
  // [code, jt, jf, k]; jumps count instructions after the next one.
  const program: [number, number, number, number][] = [
    [BPF_LD_W_ABS, 0, 0, ARCH],
    [BPF_JEQ_K, 1, 0, a.audit],
    [BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO_EPERM],
    [BPF_LD_W_ABS, 0, 0, NR],
    [BPF_JGE_K, 3, 0, X32_SYSCALL_BIT], // → deny
    [BPF_JEQ_K, 2, 0, a.execve], // → deny
    [BPF_JEQ_K, 1, 0, a.execveat], // → deny
    [BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW],
    [BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO_EPERM],
  ];
  // struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; }
  const filter = new ArrayBuffer(program.length * 8);
  const view = new DataView(filter);
  program.forEach(([code, jt, jf, k], i) => {
    view.setUint16(i * 8, code, true);
    view.setUint8(i * 8 + 2, jt);
    view.setUint8(i * 8 + 3, jf);
    view.setUint32(i * 8 + 4, k, true);
  });
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; } (pointer at 8)
  const fprog = new BigUint64Array(2);
  fprog[0] = BigInt(program.length);
  fprog[1] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(filter)));
  const fprogAddress = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(fprog)));
  check(
    "seccomp",
    libcSubset("syscall").syscall(
      BigInt(a.seccomp),
      BigInt(SECCOMP_SET_MODE_FILTER),
      0n,
      fprogAddress,
    ),
  );
}
