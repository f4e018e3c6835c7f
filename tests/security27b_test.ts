/**
 * Stop 27 (sec27b): an unprivileged local user against root's nsjoin. Each test reproduces an
 * attack and was seen failing without its fix (docs/stop27-sec27b.md).
 *
 * @module
 */
import { assert, assertEquals, NEEDS_ROOT, ROOT, testUser, text } from "./_fixtures.ts";

const CLI = `${ROOT}cli.ts`;

// ---- stop 27: sec27b

/**
 * `argv[1]` processes, each in a user namespace of its own (so each is a row of `nsjoin ls`),
 * whose /proc/PID/cmdline is `argv[2]` bytes of "A": PR_SET_MM_MAP (no privilege needed)
 * points the area at one private anonymous mapping, which the children share copy-on-write —
 * the user pays for it once, a reader of every cmdline once per process. (A file or shared
 * mapping shows nothing: the kernel reads a cmdline with FOLL_ANON; the last byte is NUL, or
 * the kernel shows one page, as for setproctitle.)
 */
const MANY_CMDLINES_C = String.raw`
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  size_t len = strtoul(argv[2], 0, 10);
  char *base = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (base == MAP_FAILED) { perror("mmap"); return 1; }
  memset(base, 'A', len - 1);
  base[len - 1] = 0;
  char buf[4096];
  FILE *f = fopen("/proc/self/stat", "r");
  if (!f || !fgets(buf, sizeof buf, f)) return 1;
  fclose(f);
  unsigned long v[64] = {0};
  int i = 3;
  for (char *t = strtok(strrchr(buf, ')') + 2, " "); t && i < 64; t = strtok(0, " ")) v[i++] = strtoul(t, 0, 10);
  struct prctl_mm_map m = {0};
  m.start_code = v[26]; m.end_code = v[27]; m.start_stack = v[28];
  m.start_data = v[45]; m.end_data = v[46]; m.start_brk = v[47]; m.brk = (unsigned long)sbrk(0);
  m.arg_start = (unsigned long)base; m.arg_end = m.arg_start + len;
  m.env_start = v[50]; m.env_end = v[51];
  m.exe_fd = -1;
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0) != 0) { perror("PR_SET_MM_MAP"); return 1; }
  for (int k = 0; k < n; k++) {
    pid_t p = fork();
    if (p < 0) { perror("fork"); return 1; }
    if (p == 0) {
      prctl(PR_SET_PDEATHSIG, 9);
      if (getppid() == 1 || unshare(CLONE_NEWUSER) != 0) _exit(1);
      pause();
      _exit(0);
    }
  }
  printf("ready\n");
  fflush(stdout);
  pause();
  return 0;
}
`;

/** Runs a command to its end, sampling its peak RSS (VmHWM, KiB) as it runs. */
async function peakRss(
  cmd: string,
  args: string[],
): Promise<{ peak: number; code: number; out: string; err: string }> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).spawn();
  let peak = 0;
  let done = false;
  const out = child.output().then((o) => {
    done = true;
    return o;
  });
  while (!done) {
    try {
      const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peak = Math.max(peak, Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0));
    } catch {
      // Exited.
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  const o = await out;
  return { peak, code: o.code, out: text(o.stdout), err: text(o.stderr) };
}

Deno.test({
  name:
    "stop 27: ls reads at most lsns's 8191 bytes of each cmdline, however many processes a local user gives 4 MiB ones",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A local user's 200 processes in user namespaces of their own, sharing one 4 MiB
    // cmdline copy-on-write (4 MiB of the user's memory in all): root's plain `nsjoin ls`
    // read 4 MiB of each (the stop-17 cap is per process), failed after 29 s at 1.7 GB with
    // "Invalid string length", exit 2. lsns shows 8191 bytes of each, in 0.1 s.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop27b-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/many.c`, MANY_CMDLINES_C);
    const cc = await new Deno.Command("gcc", {
      args: ["-O2", "-o", `${dir}/many`, `${dir}/many.c`],
    }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    const n = 100;
    const child = new Deno.Command("setpriv", {
      args: [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        `${dir}/many`,
        String(n),
        String((4 << 20) - 8),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assertEquals(text(value ?? new Uint8Array()), "ready\n");
      reader.releaseLock();
      const pids = new Set(
        Deno.readTextFileSync(`/proc/${child.pid}/task/${child.pid}/children`).trim().split(" ")
          .map(Number),
      );
      assertEquals(pids.size, n);
      const want = "A".repeat(8191);
      await t.step("ls (the table root types)", async () => {
        const r = await peakRss(Deno.execPath(), [
          "run",
          "-A",
          "--quiet",
          CLI,
          "ls",
          "-o",
          "PID,COMMAND",
        ]);
        assertEquals(r.code, 0, r.err);
        const rows = r.out.split("\n").map((l) => l.trim().split(/\s+/));
        const ours = rows.filter(([pid]) => pids.has(Number(pid)));
        assertEquals(ours.length, n);
        for (const [pid, command] of ours) assertEquals(command, want, `pid ${pid}`);
        assert(r.peak < 400 * 1024, `peak RSS ${r.peak} KiB`);
      });
      await t.step("ls NS (processesInNamespace of the host's net namespace)", async () => {
        const net = Deno.readLinkSync("/proc/self/ns/net").slice(5, -1);
        const r = await peakRss(Deno.execPath(), [
          "run",
          "-A",
          "--quiet",
          CLI,
          "ls",
          "--json",
          net,
        ]);
        assertEquals(r.code, 0, r.err);
        type Row = { pid: number; command: string; children?: Row[] };
        const ours: Row[] = [];
        const walk = (rows: Row[]) => {
          for (const row of rows) {
            if (pids.has(row.pid)) ours.push(row);
            walk(row.children ?? []);
          }
        };
        walk(JSON.parse(r.out).namespaces);
        assertEquals(ours.length, n);
        for (const row of ours) assertEquals(row.command, want, `pid ${row.pid}`);
        assert(r.peak < 400 * 1024, `peak RSS ${r.peak} KiB`);
      });
    } finally {
      child.kill("SIGKILL");
      await child.status;
      child.stdout.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
