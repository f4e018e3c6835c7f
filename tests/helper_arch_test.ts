/**
 * The aarch64 build of the helper, run under qemu's user-mode emulation against a real
 * target: its syscalls go to this (x86_64) kernel, so the joins, the fork into the pid
 * namespace, the pin check and the error lines are the real ones. The program it executes
 * is an x86_64 one, which the kernel runs natively.
 */
import { HELPER_ELF } from "../ffi/helper_bin.ts";
import { startTimeOf } from "../mod.ts";
import { CLONE_FLAGS } from "../src/namespaces.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  CI,
  makeTarget,
  NEEDS_ROOT,
  text,
} from "./_fixtures.ts";

const QEMU = "qemu-aarch64";
const HAVE_QEMU = (() => {
  try {
    new Deno.Command(QEMU, { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
})();
if (!HAVE_QEMU && !CI) {
  console.error("note: the aarch64 helper test needs qemu-user (tests/setup.sh)");
}

Deno.test({
  name: "the aarch64 helper joins, forks into the pid namespace and relays the status",
  ignore: NEEDS_ROOT || (!HAVE_QEMU && !CI),
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-arm-" });
    const helper = `${dir}/nsjoin-helper-aarch64`;
    await Deno.writeFile(
      helper,
      (Uint8Array as unknown as { fromBase64(s: string): Uint8Array }).fromBase64(
        HELPER_ELF.aarch64,
      ),
      { mode: 0o755 },
    );
    await using target = await makeTarget({ hostname: "arm-inside" });
    const mask = ["mnt", "uts", "ipc", "net", "pid", "cgroup"] as const;
    const bits = mask.reduce((m, type) => m | CLONE_FLAGS[type], 0).toString(16);
    const pin = `P${target.pid}:${startTimeOf(target.pid)}`;
    const run = async (...args: string[]) => {
      const out = await new Deno.Command(QEMU, { args: [helper, ...args], stdin: "null" })
        .output();
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    try {
      await t.step("joins and runs the program inside, with its exit code", async () => {
        const r = await run(pin, `J${bits}`, "--", "/bin/sh", "-c", "hostname; echo $$; exit 3");
        const [host, pid] = r.stdout.trim().split("\n");
        assertEquals([r.code, host], [3, "arm-inside"], r.stderr);
        assert(Number(pid) > 1 && Number(pid) < 100, `a PID inside the target: ${pid}`);
      });
      await t.step("a program killed by SIGTERM: the helper dies the same way", async () => {
        const r = await run(pin, `J${bits}`, "--", "/bin/sh", "-c", "kill -TERM $$");
        assertEquals(r.code, 143);
      });
      await t.step("a wrong start time is refused, nothing runs", async () => {
        const r = await run(`P${target.pid}:1`, `J${bits}`, "--", "/bin/true");
        assertEquals(r.code, 125);
        assertMatch(r.stderr, /^nsjoin: Cannot join pid \d+: the target exited/);
      });
      await t.step("umask and resource limits; a seccomp copy fails closed", async () => {
        // Ours, but open files 77:88 (raising a limit needs CAP_SYS_RESOURCE).
        const limits = Deno.readTextFileSync("/proc/self/limits").trim().split("\n").slice(1)
          .map((l, k) =>
            k === 7 ? "77:88" : l.match(/\s{2,}(\S+)\s+(\S+)/)!.slice(1).join(":")
              .replaceAll("unlimited", "i")
          ).join(",");
        const r = await run(
          "m27",
          `l${limits}`,
          "--",
          "/bin/sh",
          "-c",
          "umask; ulimit -n; ulimit -Hn",
        );
        assertEquals([r.code, r.stdout], [0, "0027\n77\n88\n"], r.stderr);
        // qemu-user emulates no ptrace: the filter cannot be read, and nothing runs.
        const z = await run(pin, "z", "--", "/bin/echo", "ran");
        assertEquals([z.code, z.stdout], [125, ""]);
        assertMatch(z.stderr, /^nsjoin: Cannot copy the seccomp filter of pid \d+: ptrace: /);
      });
      await t.step("127 and 126 with one line", async () => {
        const a = await run("--", "/nonexistent");
        assertEquals([a.code, a.stderr], [
          127,
          "nsjoin: Cannot run /nonexistent: not found in the target\n",
        ]);
        const b = await run("--", "/etc/hostname");
        assertEquals(b.code, 126);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
