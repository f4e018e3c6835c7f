/**
 * Degraded hosts: executable memfds forbidden (vm.memfd_noexec), and a kernel without
 * setns(pidfd) (forced with NSJOIN_NO_PIDFD_SETNS=1, the per-namespace-fd path). Both must
 * give the same results as a full host.
 *
 * Not here: yama's ptrace_scope=3 — this kernel has no yama LSM, so there is nothing to set;
 * the helper does not depend on ptrace either way.
 */
import { assert, assertEquals, cli, makeTarget, NEEDS_ROOT, ROOT, text } from "./_fixtures.ts";
import { MEASURE, UNREACHED_FILE } from "./_fallback_filter.ts";

/** Runs `script` as init of a new pid namespace (where vm.memfd_noexec is its own). */
async function inNewPidNamespace(script: string): Promise<{ code: number; out: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-degraded-" });
  try {
    await Deno.writeTextFile(`${dir}/script.ts`, script);
    const out = await new Deno.Command("unshare", {
      args: ["-p", "--fork", "--mount-proc", "--kill-child", Deno.execPath()]
        .concat(["run", "-A", "--quiet", "--no-lock", `${dir}/script.ts`]),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { code: out.code, out: text(out.stdout) + text(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const MEMFD_SCRIPT = (level: number) => `
import { NsCommand } from "${ROOT}src/command.ts";
import { helper } from "${ROOT}ffi/helper.ts";
Deno.writeTextFileSync("/proc/sys/vm/memfd_noexec", "${level}");
const target = new Deno.Command("unshare", {
  args: ["-u", "-n", "sh", "-c", "hostname degraded; echo ready; exec sleep 1000"],
  stdin: "null", stdout: "piped",
}).spawn();
const reader = target.stdout.getReader();
await reader.read();
const run = (args: string[], opts = {}) =>
  new NsCommand("sh", { target: target.pid, args: ["-c", ...args], ...opts }).output();
const host = await run(["hostname; ls /proc/self/fd | wc -l"]);
const failed = await run(["exit 7"]);
const tty = await run(["hostname"], { tty: true });
const h = helper();
const results = {
  noexec: Deno.readTextFileSync("/proc/sys/vm/memfd_noexec").trim(),
  kind: h.kind,
  out: new TextDecoder().decode(host.stdout).split("\\n").map((l) => l.trim()).join(" ").trim(),
  err: new TextDecoder().decode(host.stderr),
  code: host.code,
  failed: failed.code,
  tty: new TextDecoder().decode(tty.stdout).trim(),
};
target.kill("SIGKILL");
await target.status;
console.log(JSON.stringify(results));
`;

Deno.test({
  name: "vm.memfd_noexec: 2 falls back to the private file, 1 keeps the memfd; both run",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const hostValue = (await Deno.readTextFile("/proc/sys/vm/memfd_noexec")).trim();
    for (const [level, kind] of [[2, "file"], [1, "memfd"]] as const) {
      await t.step(`vm.memfd_noexec=${level} in a pid namespace of its own: ${kind}`, async () => {
        const { code, out } = await inNewPidNamespace(MEMFD_SCRIPT(level));
        assertEquals(code, 0, out);
        const r = JSON.parse(out.trim().split("\n").pop()!);
        assertEquals(r, {
          noexec: String(level),
          kind,
          out: "degraded 4",
          err: "",
          code: 0,
          failed: 7,
          tty: "degraded",
        });
      });
    }
    // The sysctl belonged to those pid namespaces only.
    assertEquals((await Deno.readTextFile("/proc/sys/vm/memfd_noexec")).trim(), hostValue);
  },
});

Deno.test({
  name: "without setns(pidfd), the per-namespace-fd path gives the same results",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: "fdpath" });
    await using userns = await makeTarget({ flags: ["-U", "-r", "-n", "-u"], hostname: "u" });
    const FORCE = { NSJOIN_NO_PIDFD_SETNS: "1" };
    await t.step("the fallback is really taken (option A to the helper)", async () => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { NsCommand } from "${ROOT}src/command.ts";
          console.log(new NsCommand("true", { target: ${target.pid} }).helperArgs.includes("A"))`,
        ],
        env: FORCE,
      }).output();
      assertEquals(text(r.stdout).trim(), "true", text(r.stderr));
    });
    const probes: [string, string[]][] = [
      [
        "namespaces, hostname, pid 1",
        [
          "-t",
          String(target.pid),
          "-a",
          "sh",
          "-c",
          "for n in cgroup ipc mnt net pid uts; do readlink /proc/self/ns/$n; done; " +
          "hostname; cat /proc/1/comm; ls /proc/self/fd",
        ],
      ],
      ["net only", ["-t", String(target.pid), "-n", "readlink", "/proc/self/ns/net"]],
      [
        "user namespace: uid 0",
        [
          "-t",
          String(userns.pid),
          "-a",
          "sh",
          "-c",
          "id -u; readlink /proc/self/ns/user; hostname",
        ],
      ],
      ["exit code", ["-t", String(target.pid), "-a", "sh", "-c", "exit 9"]],
      ["not found", ["-t", String(target.pid), "-a", "no-such-program"]],
      ["unmapped uid refused", ["-t", String(userns.pid), "-a", "-S", "5", "true"]],
    ];
    for (const [name, args] of probes) {
      await t.step(name, async () => {
        const full = await cli(["enter", ...args]);
        const fallback = await cli(["enter", ...args], { env: FORCE });
        assertEquals(fallback, full);
      });
    }
    await t.step(
      "the security and race tests that reach it pass on the fallback path",
      async () => {
        // Those measured never to reach it are left out while their source is unchanged
        // (tests/_fallback_security.ts says how, and fails when the measure is stale).
        const r = await new Deno.Command(Deno.execPath(), {
          args: ["test", "-A", "--quiet", "--no-lock", `${ROOT}tests/_fallback_security.ts`],
          env: { ...FORCE, NO_COLOR: "1" },
          stdout: "piped",
          stderr: "piped",
        }).output();
        const out = text(r.stdout) + text(r.stderr);
        assert(r.success, out);
        // Every test of the file passed, however many it holds; the measured ones were left out.
        const counts = out.match(/^ok \| \d+ passed.*\| 0 failed(?:.*\| (\d+) ignored)?/m);
        assert(counts, out);
        const listed = Object.keys(JSON.parse(await Deno.readTextFile(UNREACHED_FILE)).tests);
        assert(listed.length > 0 && Number(counts?.[1] ?? 0) >= listed.length, out);
      },
    );
    await t.step(
      "a test changed since it was measured runs as a failure, not left out",
      async () => {
        const measured = JSON.parse(await Deno.readTextFile(UNREACHED_FILE));
        const [name] = Object.keys(measured.tests);
        measured.tests[name] = "0".repeat(14);
        const stale = await Deno.makeTempFile({ suffix: ".json" });
        try {
          await Deno.writeTextFile(stale, JSON.stringify(measured));
          const r = await new Deno.Command(Deno.execPath(), {
            args: ["test", "-A", "--quiet", "--no-lock", "--filter", name]
              .concat(`${ROOT}tests/_fallback_security.ts`),
            env: { ...FORCE, NO_COLOR: "1", NSJOIN_FALLBACK_UNREACHED: stale },
            stdout: "piped",
            stderr: "piped",
          }).output();
          const out = text(r.stdout) + text(r.stderr);
          assertEquals(r.success, false, out);
          assert(out.includes(`${name}: changed since it was measured`), out);
          assert(out.includes(MEASURE), out);
        } finally {
          await Deno.remove(stale);
        }
      },
    );
  },
});
