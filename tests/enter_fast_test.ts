/**
 * `enter`'s fast path (src/cli/_enter_fast.ts): the forms it takes give the helper what the
 * full path gives it, every other form is left to the full path, and through either path a
 * user sees the same program run and the same one-line errors.
 */
import { enterOptions, NS_FLAGS, parseEnterArgs } from "../src/cli/enter.ts";
import { FAST_NAMESPACES, fastHelperArgs } from "../src/cli/_enter_fast.ts";
import { sameMountNamespace } from "../ffi/exec_helper.ts";
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
    ["-t", PID, "-m", "-u", "-i", "-n", "-p", "ls"],
    ["-t", PID, "-m", "/bin/ls"],
  ];
  for (const argv of forms) {
    const fast = fastHelperArgs(argv, PATH, sameMountNamespace);
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
    assertEquals(fastHelperArgs(argv, PATH, sameMountNamespace), undefined, argv.join(" "));
  }
});

Deno.test("enter's fast path knows each namespace option as enter and the kernel do", () => {
  const expected = Object.fromEntries(
    Object.entries(NS_FLAGS).map(([l, [, t]]) => [l, CLONE_FLAGS[t]]),
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
      const pid = String(target.pid);
      // Each as the fast path takes it, and as it does not (`-atPID` is `-a -t PID` to
      // getopt; `--mount` is -m): the same output, error line and exit code.
      const cases: [string, string[], string[]][] = [
        ["a live target", ["-t", pid, "-a"], ["-at" + pid]],
        ["-m -u -i -n -p", ["-t", pid, "-m", "-u", "-i", "-n", "-p"], [
          "-t",
          pid,
          "--mount",
          "-u",
          "-i",
          "-n",
          "-p",
        ]],
        ["-n only (the program from our PATH)", ["-t", pid, "-n"], ["-t", pid, "--net"]],
        ["-m of our own mount namespace", ["-t", String(Deno.pid), "-m"], [
          "-t",
          String(Deno.pid),
          "--mount",
        ]],
        ["no such process", ["-t", "4194304", "-a"], ["-at4194304"]],
        ["no such process, -m", ["-t", "4194304", "-m"], ["-t", "4194304", "--mount"]],
        ["a kernel thread", ["-t", "2", "-a"], ["-at2"]],
        ["a zombie", ["-t", zombie, "-a"], ["-at" + zombie]],
        ["a zombie, -m", ["-t", zombie, "-m"], ["-t", zombie, "--mount"]],
      ];
      // A target in a mount namespace of its own: the program is looked up inside (no p).
      const argv = ["-t", pid, "-m", "-u", "ls"];
      const { program, options } = enterOptions(parseEnterArgs(argv));
      const full = [...new NsCommand(program, options).helperArgs];
      assert(!full.some((a) => a.startsWith("p")), full.join(" "));
      assertEquals(fastHelperArgs(argv, PATH, sameMountNamespace), [
        "f",
        `P${pid}`,
        ...full.slice(1),
      ]);
      const programs = [
        ["sh", "-c", "readlink /proc/self/ns/mnt /proc/self/ns/net; hostname; echo $PATH"],
        ["nsjoin-no-such-program"],
      ];
      for (const [what, fastArgs, fullArgs] of cases) {
        await t.step(what, async () => {
          for (const program of programs) {
            const fast = await cli(["enter", ...fastArgs, ...program]);
            const full = await cli(["enter", ...fullArgs, ...program]);
            assertEquals(fast, full);
            assert(fast.stdout !== "" || fast.stderr.split("\n").length === 2, fast.stderr);
          }
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
          assert(await run(["-t", pid, "-a", "true"]), "fast form: no f");
          assert(await run(["-t", pid, "-m", "-n", "true"]), "fast form with -m: no f");
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
