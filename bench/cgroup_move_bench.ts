/**
 * What moving a process into a container's cgroups costs (what `exec` does for docker exec
 * parity), measured by a C driver outside Deno. Each round a forked child moves itself into
 * every cgroup of a docker container and prints how long that took (opens included):
 *
 * - `cgroup.procs`: writes "0" to each hierarchy's cgroup.procs (what the helper did before),
 *   in /proc/PID/cgroup's order and reversed;
 * - `tasks + cgroup.procs`: each v1 hierarchy through its `tasks` file (moves one thread:
 *   the kernel skips the global rwsem whose write side waits for an RCU grace period), v2
 *   through cgroup.procs;
 * - `tasks + clone3`: a process born in the v2 cgroup (clone3 CLONE_INTO_CGROUP) writes the
 *   v1 `tasks` files — what ffi/helper.c does now when it forks.
 *
 * After an idle gap (the machine doing no other cgroup moves) and back to back. Needs root,
 * docker and gcc; makes its container and removes it.
 *
 *   deno run -A bench/cgroup_move_bench.ts [rounds]
 */
import { containerExecOptions, resolveContainer } from "../mod.ts";
import { removeContainers, startContainer } from "../tests/_engines.ts";

const ROUNDS = Number(Deno.args[0] ?? 15);

const DRIVER = `#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
static void move(const char *file) {
  int fd = open(file, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, "0\\n", 2) != 2) _exit(1);
  close(fd);
}
/* argv: rounds gap_ms v2 file... ; v2 is a cgroup.procs file (written first) or a v2
 * directory (clone3 CLONE_INTO_CGROUP, the child writes the files). Prints per round the
 * ms from the start of the first move to being in every cgroup. */
int main(int argc, char **argv) {
  int rounds = atoi(argv[1]), gap = atoi(argv[2]);
  const char *v2 = argv[3];
  int born = strcmp(v2 + strlen(v2) - 13, "/cgroup.procs") != 0;
  for (int r = 0; r < rounds; r++) {
    usleep(gap * 1000);
    pid_t p = fork();
    if (p == 0) {
      double a = now();
      if (born) {
        int dfd = open(v2, O_PATH | O_DIRECTORY | O_CLOEXEC);
        unsigned long long args[11] = {0x200000000ULL /* CLONE_INTO_CGROUP */, 0, 0, 0, 17};
        args[10] = (unsigned long long)dfd;
        long c = dfd < 0 ? -1 : syscall(435 /* clone3 */, args, sizeof args);
        if (c < 0) _exit(1);
        if (c > 0) {
          int st;
          waitpid(c, &st, 0);
          _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 1);
        }
      } else {
        move(v2);
      }
      for (int i = 4; i < argc; i++) move(argv[i]);
      printf("%.3f\\n", now() - a);
      fflush(stdout);
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  }
  return 0;
}
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const dir = await Deno.makeTempDir({ prefix: "nsjoin-cgroup-bench-" });
const c = await startContainer("docker", `nsjbench-cg-${crypto.randomUUID().slice(0, 6)}`);
try {
  await Deno.writeTextFile(`${dir}/move.c`, DRIVER);
  const cc = await new Deno.Command("gcc", { args: ["-O2", "-o", `${dir}/move`, `${dir}/move.c`] })
    .output();
  if (!cc.success) throw new Error(new TextDecoder().decode(cc.stderr));
  using web = await resolveContainer(`docker:${c.name}`);
  // The v1 hierarchies' tasks files and the v2 directory, as exec joins them.
  const all = containerExecOptions(web).cgroups ?? [];
  const v1 = all.filter((p) => p.endsWith("/tasks"));
  const v2 = all.find((p) => !p.endsWith("/tasks"));
  if (!v2) throw new Error("no cgroup v2 hierarchy for this container");
  const procs = (p: string) => p.replace(/\/tasks$/, "") + "/cgroup.procs";
  const variants: Record<string, readonly string[]> = {
    [`cgroup.procs x${all.length}, /proc order`]: [procs(v2), ...v1.map(procs)],
    [`cgroup.procs x${all.length}, reversed`]: [procs(v2), ...v1.map(procs).reverse()],
    [`tasks x${v1.length} + cgroup.procs`]: [procs(v2), ...v1],
    [`tasks x${v1.length} + clone3`]: [v2, ...v1],
  };
  console.log(
    `moving into a docker container's ${all.length} cgroups, ${ROUNDS} rounds each (median)`,
  );
  for (const [gapName, gap] of [["after 200 ms idle", 200], ["back to back", 0]] as const) {
    for (const [name, files] of Object.entries(variants)) {
      const out = await new Deno.Command(`${dir}/move`, {
        args: [String(ROUNDS), String(gap), ...files],
      }).output();
      if (!out.success) throw new Error(`driver failed: ${new TextDecoder().decode(out.stderr)}`);
      const ms = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
      console.log(
        `  ${gapName.padEnd(18)} ${name.padEnd(30)} ${median(ms).toFixed(3)} ms (max ${
          Math.max(...ms).toFixed(3)
        })`,
      );
    }
  }
} finally {
  await removeContainers([c]);
  await Deno.remove(dir, { recursive: true });
}
