/**
 * Stop 27 (sec27b): an unprivileged local user against root's nsjoin. Each test reproduces an
 * attack and was seen failing without its fix (docs/security.md, "Stop 27 … (sec27b)").
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

/**
 * In a user and mount namespace of its own (uid 0 there is the user), `argv[1]` tmpfs mounts
 * stacked on one directory whose path is ~3,800 bytes long: its mountinfo is `argv[1]` lines
 * of ~3.9 KB.
 */
const MANY_MOUNTS_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int n = atoi(argv[1]);
  uid_t uid = getuid(); gid_t gid = getgid();
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) { perror("unshare"); return 1; }
  char m[64]; int fd;
  fd = open("/proc/self/setgroups", O_WRONLY); if (write(fd, "deny", 4) < 0) return 1; close(fd);
  snprintf(m, sizeof m, "0 %d 1", uid); fd = open("/proc/self/uid_map", O_WRONLY);
  if (write(fd, m, strlen(m)) < 0) return 1; close(fd);
  snprintf(m, sizeof m, "0 %d 1", gid); fd = open("/proc/self/gid_map", O_WRONLY);
  if (write(fd, m, strlen(m)) < 0) return 1; close(fd);
  if (mount("none", "/", 0, MS_REC | MS_PRIVATE, 0) != 0) { perror("private"); return 1; }
  if (mount("tmpfs", "/tmp", "tmpfs", 0, 0) != 0) { perror("tmpfs"); return 1; }
  char path[4096] = "/tmp";
  char comp[252]; memset(comp, 'm', 250); comp[250] = 0;
  for (int i = 0; i < 15; i++) { strcat(path, "/"); strcat(path, comp); mkdir(path, 0755); }
  for (int i = 0; i < n; i++) {
    if (mount("tmpfs", path, "tmpfs", 0, "size=4k") != 0) { perror("mount"); return 1; }
  }
  printf("ready\n");
  fflush(stdout);
  pause();
  return 0;
}
`;

Deno.test({
  name:
    "stop 27: ls reads at most 4 MiB of a user's mount namespace's mountinfo, however many mounts they stack there",
  ignore: NEEDS_ROOT,
  async fn() {
    // A local user's mount namespace with 10,000 tmpfs stacked on one 3,800-byte path: a
    // 38 MB mountinfo the kernel took 7 s to write out, read whole by root's `nsjoin ls`
    // (9.7 s; lsns 0.09 s), and minutes with more mounts (fs.mount-max is 100,000), for each
    // such namespace. 1,200 mounts (~4.6 MB) show the cap without the wait.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop27b-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/mounts.c`, MANY_MOUNTS_C);
    const cc = await new Deno.Command("gcc", {
      args: ["-O2", "-o", `${dir}/mounts`, `${dir}/mounts.c`],
    }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    const child = new Deno.Command("setpriv", {
      args: [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        `${dir}/mounts`,
        "1200",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assertEquals(text(value ?? new Uint8Array()), "ready\n");
      reader.releaseLock();
      assert(Deno.readFileSync(`/proc/${child.pid}/mountinfo`).length > 4 << 20);
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "ls", "--notes", "-t", "mnt", "-o", "NS,PID"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(r.code, 0, text(r.stderr));
      assert(
        text(r.stdout).split("\n").some((l) => l.trim().split(/\s+/)[1] === String(child.pid)),
        "the user's mount namespace is listed",
      );
      assert(
        text(r.stderr).includes("a mountinfo over 4 MiB"),
        `no note of the mountinfo left unread: ${text(r.stderr)}`,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
      child.stdout.cancel().catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});
