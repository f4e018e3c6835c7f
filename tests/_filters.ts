/**
 * A process with seccomp filters of its own, for the tests of the kept filter copies
 * (tests/seccomp_cache_test.ts, tests/helper_arch_test.ts): a small C program, built here.
 */
import { assertEquals, runPiped } from "./_fixtures.ts";

/**
 * Installs one filter at start and one more on each SIGUSR1 (each allows everything but a
 * syscall number no one uses, so each program differs); on SIGUSR2 forks a child that
 * ptrace-seizes it (without stopping it) and waits to be killed.
 */
const FILTERS = `#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <unistd.h>
static int add(unsigned nr) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {sizeof f / sizeof f[0], f};
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p);
}
int main(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  sigprocmask(SIG_BLOCK, &set, 0);
  unsigned nr = 100000;
  if (add(nr++)) return 3;
  for (;;) {
    int sig = sigwaitinfo(&set, 0);
    if (sig == SIGUSR1 && add(nr++)) return 4;
    if (sig == SIGUSR2 && fork() == 0) {
      if (ptrace(PTRACE_SEIZE, getppid(), 0, 0)) _exit(5);
      for (;;) pause();
    }
  }
}
`;

/**
 * Builds the program in `dir`.
 *
 * @param dir a directory of the test's
 * @returns the program's path
 */
export async function buildFilters(dir: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/filters.c`, FILTERS);
  const cc = await runPiped("gcc", { args: ["-O", "-o", `${dir}/filters`, `${dir}/filters.c`] });
  assertEquals(cc.code, 0, cc.stderr);
  return `${dir}/filters`;
}
