/**
 * `enter`'s fast path (src/cli/_enter_fast.ts): the forms it takes give the helper what the
 * full path gives it, every other form is left to the full path, and through either path a
 * user sees the same program run and the same one-line errors.
 */
import { enterOptions, NS_FLAGS, parseEnterArgs } from "../src/cli/enter.ts";
import { FAST_NAMESPACES, fastHelperArgs } from "../src/cli/_enter_fast.ts";
import { NsCommand } from "../src/command.ts";
import { CLONE_FLAGS } from "../src/namespaces.ts";
import {
  assert,
  assertEquals,
  cli,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
  text,
} from "./_fixtures.ts";

const PID = String(Deno.pid);
const PATH = Deno.env.get("PATH");

Deno.test("enter's fast path gives the helper the full path's options, the pin left to it", () => {
  const forms = [
    ["-t", PID, "-a", "true"],
    ["-t", PID, "-n", "-u", "ip", "-br", "a"],
    ["--target", PID, "--all", "--", "/bin/echo", "-x"],
    [`-t${PID}`, "-U", "-p", "-C", "-T", "-i", "sh", "-c", "exit 3"],
    [`--target=${PID}`, "-n", "/usr/bin/env"],
  ];
  for (const argv of forms) {
    const fast = fastHelperArgs(argv, PATH);
    assert(fast, `not taken: ${argv.join(" ")}`);
    const { program, options } = enterOptions(parseEnterArgs(argv));
    const full = [...new NsCommand(program, options).helperArgs];
    // The full path pins PID:starttime:inode; the fast one names the PID and adds f, with
    // which the helper pins and checks it itself.
    assertEquals(full[0].split(":")[0], `P${PID}`);
    assertEquals(fast, ["f", `P${PID}`, ...full.slice(1)], argv.join(" "));
  }
});

Deno.test("enter's fast path leaves every other form to the full path", () => {
  const others = [
    [],
    ["-a", "true"],
    ["-t", PID, "true"],
    ["-t", PID, "-a"],
    ["-t", PID, "-a", ""],
    ["-t", PID, "-a", "-n", "true"],
    ["-t", PID, "-m", "true"],
    ["-t", PID, "-nu", "true"],
    ["-t", PID, "--net", "true"],
    ["-t", PID, "-n/run/netns/x", "true"],
    ["-atPID", "true"],
    ["-t", "0", "-a", "true"],
    ["-t", "007", "-a", "true"],
    ["-t", "4194305", "-a", "true"],
    ["-t", "12:34", "-a", "true"],
    ["-t", "/proc/1/ns/net", "-n", "true"],
    ["-t", PID, "-t", PID, "-a", "true"],
    ["--tar", PID, "-a", "true"],
    ["-t"],
    ...["-F", "-e", "-c", "-r", "-w", "-h", "-V", "--keep-caps", "-Z", "-"].map((o) => [
      "-t",
      PID,
      "-a",
      o,
      "true",
    ]),
    ["-t", PID, "-a", "-S", "0", "true"],
  ];
  for (const argv of others) {
    assertEquals(fastHelperArgs(argv, PATH), undefined, argv.join(" "));
  }
});

Deno.test("enter's fast path knows each namespace option as enter and the kernel do", () => {
  const expected = Object.fromEntries(
    Object.entries(NS_FLAGS).filter(([l]) => l !== "m").map(([l, [, t]]) => [l, CLONE_FLAGS[t]]),
  );
  assertEquals(FAST_NAMESPACES, expected);
});

Deno.test({
  name: "enter runs and refuses the same through its fast path as through the full path",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    // A zombie: a child that exits under a parent (sleep) that never reaps it.
    const parent = new Deno.Command("sh", {
      args: ["-c", "sleep 0.1 & echo $!; exec sleep 1000"],
      stdout: "piped",
    }).spawn();
    const reader = parent.stdout.getReader();
    let line = "";
    while (!line.includes("\n")) line += text((await reader.read()).value!);
    reader.releaseLock();
    parent.stdout.cancel().catch(() => {});
    const zombie = line.trim();
    try {
      for (let i = 0; i < 400; i++) {
        const stat = await Deno.readTextFile(`/proc/${zombie}/stat`);
        if (stat.slice(stat.lastIndexOf(")") + 2)[0] === "Z") break;
        await new Promise((r) => setTimeout(r, 5));
      }
      const cases: [string, string, string[]][] = [
        ["a live target", String(target.pid), ["readlink", "/proc/self/ns/net"]],
        ["a program not found there", String(target.pid), ["nsjoin-no-such-program"]],
        ["no such process", "4194304", ["true"]],
        ["a kernel thread", "2", ["true"]],
        ["a zombie", zombie, ["true"]],
      ];
      for (const [what, pid, program] of cases) {
        await t.step(what, async () => {
          // `-atPID` is `-a -t PID` to getopt, and not a form the fast path takes.
          const fast = await cli(["enter", "-t", pid, "-a", ...program]);
          const full = await cli(["enter", `-at${pid}`, ...program]);
          assertEquals(fast, full);
          assert(fast.stdout !== "" || fast.stderr.split("\n").length === 2, fast.stderr);
        });
      }
      await t.step(
        "only the fast form takes the fast path (strace: its helper has f)",
        async () => {
          const run = async (argv: string[]) => {
            const { stderr } = await runPiped("strace", {
              args: [
                "-f",
                "-e",
                "trace=execve,execveat",
                "-s",
                "16",
                Deno.execPath(),
                "run",
                "-A",
                "--quiet",
                `${ROOT}cli.ts`,
                "enter",
                ...argv,
              ],
            });
            return /execveat?\(.*"nsjoin-helper", "Q", "f", "P\d+"/.test(stderr);
          };
          assert(await run(["-t", String(target.pid), "-a", "true"]), "fast form: no f");
          assert(!(await run([`-at${target.pid}`, "true"])), "full form: f");
        },
      );
    } finally {
      parent.kill("SIGKILL");
      await parent.status;
    }
  },
});

Deno.test({
  name:
    "the memfd enter's fast path executes is sealed: its program cannot change it (CVE-2019-5736)",
  ignore: NEEDS_ROOT,
  async fn() {
    // busybox-static (a static ELF, as the helper) run by execHelper as the helper would be:
    // its /proc/self/exe is the fast path's memfd, which a process in a target could open as
    // the helper's /proc/PID/exe while it runs.
    const busybox = Deno.readFileSync("/bin/busybox");
    let binary = "";
    for (const b of busybox) binary += String.fromCharCode(b);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fast-seal-" });
    try {
      await Deno.writeTextFile(`${dir}/elf.txt`, btoa(binary));
      await Deno.writeTextFile(
        `${dir}/run.ts`,
        `import { execHelper } from "${ROOT}ffi/exec_helper.ts";
        execHelper(Deno.readTextFileSync("${dir}/elf.txt"), ["sh", "-c", Deno.args[0]]);
        Deno.exit(99);`,
      );
      // As runc's CVE-2019-5736 attack: hold the file (fd 3) and write it once nothing
      // executes it any more (here: the shell became the disk's busybox, which keeps fd 3).
      const attack = "exec 3</proc/self/exe; exec /bin/busybox sh -c '" +
        "printf x >> /proc/self/fd/3 2>/dev/null && echo wrote; " +
        "printf x > /proc/self/fd/3 2>/dev/null && echo wrote; " +
        "cmp -s /proc/self/fd/3 /bin/busybox && echo same'";
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", `${dir}/run.ts`, attack],
      });
      assertEquals([out.code, out.stdout], [0, "same\n"], out.stderr);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
