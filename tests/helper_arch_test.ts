/**
 * The aarch64 build of the helper, run under qemu's user-mode emulation against a real
 * target: its syscalls go to this (x86_64) kernel, so the joins, the fork into the pid
 * namespace, the pin check and the error lines are the real ones. The program it executes
 * is an x86_64 one, which the kernel runs natively.
 */
import { HELPER_ELF } from "../ffi/helper_bin.ts";
import { buildFilters } from "./_filters.ts";
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
      await t.step("a kept filter copy (Z) is read; a stale or cut one is not used", async () => {
        // qemu-user emulates neither ptrace nor seccomp(2): the error says which way the
        // filters were taken — installing means the copy was read and accepted (pread64,
        // the layout x wrote on x86_64, the count check), ptrace means it was refused.
        const x86 = `${dir}/nsjoin-helper-x86_64`;
        await Deno.writeFile(
          x86,
          (Uint8Array as unknown as { fromBase64(s: string): Uint8Array }).fromBase64(
            HELPER_ELF.x86_64,
          ),
          { mode: 0o755 },
        );
        const filters = new Deno.Command(await buildFilters(dir), { stdin: "null" }).spawn();
        try {
          const count = () =>
            Deno.readTextFileSync(`/proc/${filters.pid}/status`)
              .match(/^Seccomp_filters:\s+(\d+)/m)?.[1];
          for (let i = 0; i < 100 && count() !== "1"; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          const p = `P${filters.pid}:${startTimeOf(filters.pid)}`;
          const sh = async (line: string) => {
            const out = await new Deno.Command("sh", { args: ["-c", line], stdin: "null" })
              .output();
            return { code: out.code, stderr: text(out.stderr) };
          };
          const dump = await sh(`exec ${x86} ${p} z x7 -- /bin/true 7>${dir}/copy`);
          assertEquals(dump.code, 0, dump.stderr);
          const arm = (file: string) =>
            sh(`exec ${QEMU} ${helper} ${p} z Z7 -- /bin/echo ran 7<${file}`);
          const kept = await arm(`${dir}/copy`);
          assertEquals(kept.code, 125);
          assertMatch(kept.stderr, /^nsjoin: Cannot install the seccomp filter of pid \d+/);
          const bytes = await Deno.readFile(`${dir}/copy`);
          await Deno.writeFile(`${dir}/cut`, bytes.subarray(0, bytes.length - 8));
          const cut = await arm(`${dir}/cut`);
          assertMatch(cut.stderr, /^nsjoin: Cannot copy the seccomp filter of pid \d+: ptrace: /);
          Deno.kill(filters.pid, "SIGUSR1");
          for (let i = 0; i < 100 && count() !== "2"; i++) {
            await new Promise((r) => setTimeout(r, 20));
          }
          const stale = await arm(`${dir}/copy`);
          assertEquals(stale.code, 125);
          assertMatch(stale.stderr, /^nsjoin: Cannot copy the seccomp filter of pid \d+: ptrace: /);
        } finally {
          filters.kill("SIGKILL");
          await filters.status;
        }
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

Deno.test("the README gives the x86_64 helper's size", async () => {
  const kb = Math.round(atob(HELPER_ELF.x86_64).length / 1024);
  const readme = await Deno.readTextFile(new URL("../README.md", import.meta.url));
  assertMatch(readme, new RegExp(`a ${kb} KB static ELF for x86_64`));
});
