/**
 * Every example in examples/ (but demo.ts, which makes its own target), run as a user
 * would run it, against namespaces made here with unshare.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  text,
} from "./_fixtures.ts";
import { must, removeContainers, skipWithoutEngines, startContainer } from "./_engines.ts";

/** Runs `deno run -A examples/NAME ARGS…`: exit code, stdout, stderr. */
async function example(
  name: string,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${ROOT}examples/${name}`, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

/** The rows of a table the examples print, split on runs of two or more spaces. */
function rows(stdout: string): string[][] {
  return stdout.trim().split("\n").map((line) => line.split(/\s{2,}/));
}

/** Shell that serves `dir` over HTTP on ADDR:PORT inside the target, loopback up. */
const serve = (addr: string, dir: string) =>
  `ip link set lo up && busybox httpd -p ${addr} -h ${dir}`;

Deno.test({
  name: "examples/health_check.ts reaches a service on the target's loopback only",
  ignore: NEEDS_ROOT,
  async fn() {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/health`, "ok");
    await using target = await makeTarget({ setup: serve("127.0.0.1:8080", dir) });
    await using idle = await makeTarget({ setup: "ip link set lo up" });
    try {
      const ok = await example("health_check.ts", String(target.pid), "8080");
      assertEquals(ok.code, 0, ok.stderr);
      assertMatch(
        ok.stdout,
        /^healthy: http:\/\/127\.0\.0\.1:8080\/health in \d+ answered 200 in /,
      );
      const missing = await example("health_check.ts", String(target.pid), "8080", "/nope");
      assertEquals(missing.code, 1);
      assertMatch(missing.stdout, /^unhealthy: .* answered 404/);
      const down = await example("health_check.ts", String(idle.pid), "8080");
      assertEquals(down.code, 1);
      assertMatch(down.stdout, /^unhealthy: .*(refused|error)/i);
      assertEquals((await example("health_check.ts", String(target.pid))).code, 2);
      // Out of range or without its "/": usage, not "Invalid URL … with base 'data:…'".
      for (const args of [["99999"], ["0"], ["8080", "health"]]) {
        const bad = await example("health_check.ts", String(target.pid), ...args);
        assertEquals([bad.code, bad.stderr], [2, "usage: health_check.ts TARGET PORT [PATH]\n"]);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "examples/listening_sockets.ts lists each target's own listening sockets",
  ignore: NEEDS_ROOT,
  async fn() {
    const dir = await Deno.makeTempDir();
    await using a = await makeTarget({ setup: serve("127.0.0.1:8081", dir) });
    await using b = await makeTarget({ setup: serve("8082", dir) });
    try {
      const out = await example("listening_sockets.ts", String(a.pid), String(b.pid));
      assertEquals(out.code, 0, out.stderr);
      const table = rows(out.stdout);
      assertEquals(table[0], ["TARGET", "PROTO", "ADDRESS", "PORT"]);
      const of = (pid: number) =>
        table.slice(1).filter((r) => r[0] === String(pid)).map((r) => `${r[2]}:${r[3]}`);
      assertEquals(of(a.pid), ["127.0.0.1:8081"]);
      assertEquals(of(b.pid).length, 1);
      assertMatch(of(b.pid)[0], /^(0\.0\.0\.0|\[::\]):8082$/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "examples/shared_netns.ts finds the processes that joined a target's network",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const joined = new Deno.Command("nsenter", {
      args: [`--target=${target.pid}`, "--net", "sleep", "100000"],
      stdin: "null",
    }).spawn();
    try {
      // nsenter execs sleep once it has joined: wait for that.
      for (let i = 0; i < 50; i++) {
        const comm = Deno.readTextFileSync(`/proc/${joined.pid}/comm`).trim();
        if (comm === "sleep") break;
        await new Promise((r) => setTimeout(r, 20));
      }
      const out = await example("shared_netns.ts", String(target.pid));
      assertEquals(out.code, 0, out.stderr);
      const pids = rows(out.stdout).slice(2).map((r) => Number(r[0].trim()));
      assert(pids.includes(target.pid), out.stdout);
      assert(pids.includes(joined.pid), out.stdout);
      assert(!pids.includes(Deno.pid), "the host's own process is not in the target's network");
      assertMatch(out.stdout, /^net:\[\d+\] is shared by \d+ processes/);
    } finally {
      joined.kill("SIGKILL");
      await joined.status;
    }
  },
});

Deno.test({
  name: "examples/copy_out.ts copies a file only the target's mount namespace has",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({
      setup:
        "mount -t tmpfs nsjoin /mnt && head -c 70000 /dev/urandom > /mnt/secret.bin && chmod 640 /mnt/secret.bin",
    });
    const dest = `${await Deno.makeTempDir()}/secret.bin`;
    try {
      const out = await example("copy_out.ts", String(target.pid), "/mnt/secret.bin", dest);
      assertEquals(out.code, 0, out.stderr);
      assertMatch(out.stdout, /^copied 70000 bytes/);
      // The host sees the target's file through /proc/PID/root, not at /mnt.
      const original = await Deno.readFile(`/proc/${target.pid}/root/mnt/secret.bin`);
      assertEquals(await Deno.readFile(dest), original);
      assertEquals((await Deno.stat(dest)).mode! & 0o777, 0o640);
      assert(!(await Deno.stat("/mnt/secret.bin").then(() => true, () => false)));
      // A file that is not there inside: one line on stderr, no stack trace.
      const missing = await example("copy_out.ts", String(target.pid), "/mnt/nope", dest);
      assertEquals(missing.code, 1);
      assertMatch(missing.stderr, /^copy_out: No such file or directory.*\/mnt\/nope.*\n$/);
    } finally {
      await Deno.remove(dest.slice(0, dest.lastIndexOf("/")), { recursive: true });
    }
  },
});

Deno.test({
  name: "examples/parallel_exec.ts runs one command in every target and sums up",
  ignore: NEEDS_ROOT,
  async fn() {
    await using a = await makeTarget({ hostname: "par-a" });
    await using b = await makeTarget({ hostname: "par-b" });
    const ok = await example("parallel_exec.ts", String(a.pid), String(b.pid), "--", "hostname");
    assertEquals(ok.code, 0, ok.stderr);
    const table = rows(ok.stdout);
    assertEquals(table[0], ["TARGET", "CODE", "MS", "OUTPUT"]);
    assertEquals(table.slice(1, 3).map((r) => [r[0], r[1], r[3]]), [
      [String(a.pid), "0", "par-a"],
      [String(b.pid), "0", "par-b"],
    ]);
    assertEquals(ok.stdout.trim().split("\n").at(-1), "2 ok, 0 failed");

    const piped = await example("parallel_exec.ts", String(a.pid), "--", "hostname | tr a-z A-Z");
    assertEquals(rows(piped.stdout)[1][3], "PAR-A");

    const bad = await example(
      "parallel_exec.ts",
      String(a.pid),
      String(b.pid),
      "--",
      "sh",
      "-c",
      "hostname; exit 3",
    );
    assertEquals(bad.code, 1);
    assertEquals(rows(bad.stdout).slice(1, 3).map((r) => [r[1], r[3]]), [
      ["3", "par-a"],
      ["3", "par-b"],
    ]);
    assertEquals(bad.stdout.trim().split("\n").at(-1), "0 ok, 2 failed");
  },
});

// ---- issue 13: exec sessions
Deno.test({
  name: "examples/session_checks.ts runs a checklist in one session and sums up",
  ignore: NEEDS_ROOT,
  async fn() {
    await using t = await makeTarget({ hostname: "chk" });
    const checks = "hostname\n# a comment\ntest -d /nope\necho $((6 * 7))\n";
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", `${ROOT}examples/session_checks.ts`, String(t.pid)],
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = out.stdin.getWriter();
    await w.write(new TextEncoder().encode(checks));
    await w.close();
    const r = await out.output();
    assertEquals(r.code, 1, text(r.stderr));
    const table = rows(text(r.stdout));
    assertEquals(table[0], ["CODE", "MS", "CHECK", "OUTPUT"]);
    assertEquals(table.slice(1, 4).map((row) => [row[0], row[2], row[3] ?? ""]), [
      ["0", "hostname", "chk"],
      ["1", "test -d /nope", ""],
      ["0", "echo $((6 * 7))", "42"],
    ]);
    assertEquals(text(r.stdout).trim().split("\n").at(-1), "2 passed, 1 failed");
  },
});

// ---- trial 18: examples/containers.ts on a host where a container is paused
Deno.test({
  name: "examples/containers.ts lists every container, a paused one with why, never a crash",
  ignore: skipWithoutEngines("containers to list", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const tag = `nsjex${Math.random().toString(36).slice(2, 8)}`;
    const up = await startContainer("docker", `${tag}-up`);
    const paused = await startContainer("docker", `${tag}-paused`);
    try {
      await must("docker", ["pause", paused.name]);
      const out = await example("containers.ts");
      assertEquals(out.code, 0, out.stderr);
      const line = (name: string) => out.stdout.split("\n").find((l) => l.includes(` ${name} `));
      assertMatch(line(up.name) ?? "", new RegExp(`^docker +${up.name} +pid \\d+ +h-${up.name} `));
      assertMatch(line(paused.name) ?? "", /it is paused/);
    } finally {
      await must("docker", ["unpause", paused.name]).catch(() => {});
      await removeContainers([up, paused]);
    }
  },
});
