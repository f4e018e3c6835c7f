/**
 * What moving a process into a container's cgroups costs (what `exec` does for docker exec
 * parity), measured by a C driver outside Deno: a forked child opens each cgroup.procs
 * file of a docker container and writes "0" to it, timing every write(2). After an idle gap
 * (the machine doing no other cgroup moves) and back to back; for all of the container's
 * hierarchies in /proc/PID/cgroup's order, reversed, and the memory one alone. Needs root,
 * docker and gcc; makes its container and removes it.
 *
 *   deno run -A bench/cgroup_move_bench.ts [rounds]
 */
import { containerExecOptions, resolveContainer } from "../mod.ts";
import { removeContainers, startContainer } from "../tests/_engines.ts";

const ROUNDS = Number(Deno.args[0] ?? 15);

const DRIVER = `#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}
/* argv: rounds gap_ms file... ; prints per round: first write ms, the other writes' total ms */
int main(int argc, char **argv) {
  int rounds = atoi(argv[1]), gap = atoi(argv[2]);
  for (int r = 0; r < rounds; r++) {
    usleep(gap * 1000);
    pid_t p = fork();
    if (p == 0) {
      double first = 0, rest = 0;
      for (int i = 3; i < argc; i++) {
        int fd = open(argv[i], O_WRONLY | O_CLOEXEC);
        double a = now();
        if (fd < 0 || write(fd, "0\\n", 2) != 2) _exit(1);
        double b = now();
        close(fd);
        if (i == 3) first = b - a; else rest += b - a;
      }
      printf("%.3f %.3f\\n", first, rest);
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
  const all = containerExecOptions(web).cgroups ?? [];
  if (all.length < 2) console.log("note: not cgroup v1 here (one hierarchy): the orders agree");
  const variants: Record<string, readonly string[]> = {
    [`all ${all.length}, /proc order`]: all,
    [`all ${all.length}, reversed`]: [...all].reverse(),
    "memory alone": all.filter((p) => p.includes("/memory/")).slice(0, 1),
  };
  console.log(`cgroup.procs writes into a docker container, ${ROUNDS} rounds each (median)`);
  for (const [gapName, gap] of [["after 200 ms idle", 200], ["back to back", 0]] as const) {
    for (const [name, files] of Object.entries(variants)) {
      if (files.length === 0) continue;
      const out = await new Deno.Command(`${dir}/move`, {
        args: [String(ROUNDS), String(gap), ...files],
      }).output();
      if (!out.success) throw new Error(`driver failed: ${new TextDecoder().decode(out.stderr)}`);
      const rows = new TextDecoder().decode(out.stdout).trim().split("\n").map((l) =>
        l.split(" ").map(Number)
      );
      console.log(
        `  ${gapName.padEnd(18)} ${name.padEnd(22)} first write ${
          median(rows.map((r) => r[0])).toFixed(3)
        } ms, the other ${files.length - 1} together ${
          median(rows.map((r) => r[1])).toFixed(3)
        } ms`,
      );
    }
  }
} finally {
  await removeContainers([c]);
  await Deno.remove(dir, { recursive: true });
}
