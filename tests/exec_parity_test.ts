/**
 * `nsjoin exec` edge by edge beside `docker exec` and `podman exec` on the same busybox
 * containers: the program's exit status, stdout byte for byte, stderr kept apart, the
 * environment and users the engines give, and the states in which they refuse. Where nsjoin
 * deliberately differs (README "Differences from util-linux", the `exec` paragraph), the
 * test pins both sides, so a change in either shows.
 */
import {
  engineExec,
  IMAGE,
  removeContainers,
  type Run,
  run,
  skipWithoutEngines,
  startContainer,
  type TestContainer,
} from "./_engines.ts";
import { assert, assertEquals, assertMatch, cli, ROOT } from "./_fixtures.ts";

const SKIP = skipWithoutEngines("exec parity tests", ["docker", "podman"]);
const TAG = `p20-${crypto.randomUUID().slice(0, 8)}`;

/** The CLI's ref for a test container: `ENGINE:NAME`. */
const ref = (c: TestContainer) => `${c.cli}:${c.name}`;

/** The same exec through the engine and through nsjoin. */
async function both(c: TestContainer, flags: string[], cmd: string[]): Promise<[Run, Run]> {
  return await Promise.all([engineExec(c, flags, cmd), cli(["exec", ...flags, ref(c), ...cmd])]);
}

/** Runs `cmd` with `input` on stdin; stdout as bytes. */
async function bytes(cmd: string, args: string[], input?: Uint8Array) {
  const child = new Deno.Command(cmd, {
    args,
    cwd: "/",
    env: { NO_COLOR: "1" },
    stdin: input ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (input) {
    const w = child.stdin.getWriter();
    await w.write(input);
    await w.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: out.stdout };
}

const sha = async (b: Uint8Array) =>
  Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(b))))
    .map((x) => x.toString(16).padStart(2, "0")).join("");

Deno.test({
  name: "exec matches docker exec and podman exec at the edges: status, bytes, env, users",
  ignore: SKIP,
  sanitizeResources: false,
  async fn(t) {
    const made: TestContainer[] = [];
    try {
      made.push(await startContainer("docker", `${TAG}-d`));
      made.push(await startContainer("podman", `${TAG}-p`));
      for (const c of made) {
        await engineExec(c, [], [
          "sh",
          "-c",
          "mkdir /x && printf '#!/bin/sh\\necho hi\\n' > /x/script && chmod 644 /x/script",
        ]);
      }
      /** Same exit status and stdout in both, for each engine. */
      const same = async (flags: string[], cmd: string[], env?: Record<string, string>) => {
        for (const c of made) {
          const [theirs, ours] = await Promise.all([
            run(c.cli, ["exec", ...flags, c.name, ...cmd], { env }),
            cli(["exec", ...flags, ref(c), ...cmd], { env }),
          ]);
          assertEquals(
            { code: ours.code, stdout: ours.stdout },
            { code: theirs.code, stdout: theirs.stdout },
            `${c.cli} exec ${flags.join(" ")} ${cmd.join(" ")}: ${ours.stderr}`,
          );
        }
      };
      await t.step("not executable, a directory: 126 in all three", async () => {
        for (const c of made) {
          for (const path of ["/x/script", "/x"]) {
            const [theirs, ours] = await both(c, [], [path]);
            assertEquals([ours.code, theirs.code], [126, 126], `${c.cli} ${path}`);
            assertEquals(
              ours.stderr,
              `nsjoin exec: Cannot run ${path}: EACCES (permission denied)\n`,
            );
          }
        }
      });
      await t.step(
        "killed by a signal: 128+N; exit 255 and 256 as the shell gives them",
        async () => {
          await same([], ["sh", "-c", "kill -TERM $$"]);
          await same([], ["sh", "-c", "kill -KILL $$"]);
          await same([], ["sh", "-c", "exit 255"]);
          await same([], ["sh", "-c", "exit 256"]);
        },
      );
      await t.step(
        "stdout and stderr apart; options after the name are the program's",
        async () => {
          for (const c of made) {
            const cmd = ["sh", "-c", "echo o1; echo e1 >&2; echo o2; ls -d /x"];
            const [theirs, ours] = await both(c, [], cmd);
            assertEquals([ours.stdout, ours.stderr], ["o1\no2\n/x\n", "e1\n"]);
            assertEquals([theirs.stdout, theirs.stderr], [ours.stdout, ours.stderr]);
          }
          await same([], ["ls", "-l", "-d", "/x"]);
          // Long forms. docker exec --privileged fails on this host ("unable to apply caps"):
          // podman is the control.
          const podman = made.find((c) => c.cli === "podman")!;
          const [theirs, ours] = await both(podman, ["--privileged", "--workdir", "/tmp"], ["pwd"]);
          assertEquals([ours.code, ours.stdout], [0, "/tmp\n"], ours.stderr);
          assertEquals([theirs.code, theirs.stdout], [ours.code, ours.stdout]);
        },
      );
      await t.step(
        "a relative program with -w, PATH from -e, the image's PATH default",
        async () => {
          await same(["-w", "/"], ["./bin/echo", "a"]);
          await same(["-w", "/bin"], ["./echo", "b"]);
          await same([], ["sh", "-c", 'echo "$PATH"']);
          await same(["-e", "PATH=/nowhere"], ["/bin/sh", "-c", 'echo "$PATH"']);
          // The program is looked up in the PATH it gets, not in ours.
          for (const c of made) {
            for (const path of ["PATH=/nowhere", "PATH="]) {
              const [theirs, ours] = await both(c, ["-e", path], ["ls", "/"]);
              assertEquals(ours.code, 127, ours.stderr);
              assert([126, 127].includes(theirs.code), theirs.stdout + theirs.stderr);
            }
          }
        },
      );
      await t.step("a name that is a prefix of another container's ID is that name", async () => {
        for (const c of [...made]) {
          // At least 6 characters, and a letter among them: digits alone are a PID (README).
          const prefix = c.id.slice(0, Math.max(6, c.id.search(/[a-f]/) + 1));
          made.push(await startContainer(c.cli, prefix));
          const [theirs, ours] = await Promise.all([
            run(c.cli, ["exec", prefix, "hostname"]),
            cli(["exec", prefix, "hostname"]),
          ]);
          assertEquals([ours.code, ours.stdout], [0, `h-${prefix}\n`], ours.stderr);
          assertEquals([theirs.code, theirs.stdout], [ours.code, ours.stdout]);
        }
      });
      await t.step("-e VAR takes ours when set, drops it when not; -e VAR= is empty", async () => {
        await same(
          ["-e", "P20_SET", "-e", "P20_UNSET", "-e", "P20_EMPTY="],
          ["sh", "-c", "env | grep ^P20_ | sort"],
          { P20_SET: "mine" },
        );
        const env = ["sh", "-c", "env | grep ^P20_ | sort"];
        const mine = await cli([
          "exec",
          "-e",
          "P20_SET",
          "-e",
          "P20_UNSET",
          "-e",
          "P20_EMPTY=",
          ref(made[0]),
          ...env,
        ], {
          env: { P20_SET: "mine" },
        });
        assertEquals(mine.stdout, "P20_EMPTY=\nP20_SET=mine\n", mine.stderr);
      });
      await t.step("-u: a uid not in /etc/passwd (HOME /), uid:gid, :gid, name:name", async () => {
        const who = ["sh", "-c", 'id; echo "$HOME"'];
        for (const u of ["1234", "1000:50", ":50", "app:app", "1000", "root"]) {
          await same(["-u", u], who);
        }
      });
      await t.step("-u 01000, +1000, 1000:+0: numbers as runc's Atoi reads them", async () => {
        // 01000 is uid 1000 with app's gid, groups and HOME; it ran as gid 0 (root's group)
        // with HOME /, and +1000 was a user name no passwd held (125).
        const who = ["sh", "-c", 'id; echo "$HOME"'];
        for (const u of ["01000", "+1000", "1000:+0", "app:0050"]) await same(["-u", u], who);
      });
      await t.step("1 MB of binary through stdout and through -i stdin, byte exact", async () => {
        const data = crypto.getRandomValues(new Uint8Array(65536));
        const mb = new Uint8Array(1 << 20);
        for (let i = 0; i < 16; i++) mb.set(data.map((b) => b ^ i), i * 65536);
        const want = await sha(mb);
        const deno = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`];
        for (const c of made) {
          const inTheirs = await bytes(
            c.cli,
            ["exec", "-i", c.name, "sh", "-c", "cat > /tmp/b"],
            mb,
          );
          assertEquals(inTheirs.code, 0);
          const outTheirs = await bytes(c.cli, ["exec", c.name, "cat", "/tmp/b"]);
          const outOurs = await bytes(deno[0], [...deno.slice(1), "exec", ref(c), "cat", "/tmp/b"]);
          assertEquals([await sha(outOurs.stdout), await sha(outTheirs.stdout)], [want, want]);
          const inOurs = await bytes(
            deno[0],
            [...deno.slice(1), "exec", "-i", ref(c), "sh", "-c", "cat > /tmp/c; cat /tmp/c"],
            mb,
          );
          assertEquals([inOurs.code, await sha(inOurs.stdout)], [0, want]);
        }
      });
      await t.step("without -i the program's stdin is empty; with -i it reads to EOF", async () => {
        for (const c of made) {
          for (const flags of [[], ["-i"]]) {
            const cmd = ["sh", "-c", "wc -c"];
            const [theirs, ours] = await Promise.all([
              run(c.cli, ["exec", ...flags, c.name, ...cmd], { stdin: "twelve bytes" }),
              cli(["exec", ...flags, ref(c), ...cmd], { stdin: "twelve bytes" }),
            ]);
            assertEquals([ours.code, ours.stdout.trim()], [theirs.code, theirs.stdout.trim()]);
            assertEquals(ours.stdout.trim(), flags.length ? "12" : "0");
          }
        }
      });
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec differs from docker and podman where README says: setup failures, big uids, -d",
  ignore: SKIP,
  sanitizeResources: false,
  async fn(t) {
    const made: TestContainer[] = [];
    try {
      made.push(await startContainer("docker", `${TAG}-dd`));
      made.push(await startContainer("podman", `${TAG}-pd`));
      const [d, p] = made;
      await t.step(
        "a program not found: 127 (podman 127; docker 20.10 126, newer 127)",
        async () => {
          const [dockers, ours] = await both(d, [], ["no-such-program"]);
          const [podmans] = await both(p, [], ["no-such-program"]);
          assertEquals([ours.code, podmans.code], [127, 127]);
          assert([126, 127].includes(dockers.code), dockers.stdout + dockers.stderr);
          assertMatch(dockers.stdout + dockers.stderr, /executable file not found in \$PATH/);
          assertEquals(
            ours.stderr,
            "nsjoin exec: Cannot run no-such-program: not found in the target\n",
          );
        },
      );
      await t.step(
        "-e '' and -e =x are refused as usage (docker, podman: 125; ours 2)",
        async () => {
          for (const c of made) {
            for (const [e, shown] of [["", '""'], ["=x", "=x"]]) {
              const [theirs, ours] = await both(c, ["-e", e], ["echo", "ran"]);
              assertEquals(theirs.code, 125, theirs.stderr);
              assertMatch(theirs.stderr, /invalid environment variable/);
              assertEquals([ours.code, ours.stdout], [2, ""]);
              assertEquals(
                ours.stderr,
                `nsjoin exec: invalid environment variable: ${shown} (see: nsjoin exec --help)\n`,
              );
            }
          }
        },
      );
      await t.step(
        "a mistyped flag or a missing value: pflag's words, as both say them (ours 2, theirs 125)",
        async () => {
          // They said node's "Unknown option '-z'" and "Option '-u, --user <value>' argument
          // missing": a script matching docker's words on stderr missed ours.
          const forms: [string[], string][] = [
            [["--bogus", d.name, "true"], "unknown flag: --bogus"],
            [["--bogus=1", d.name, "true"], "unknown flag: --bogus"],
            [["-z", d.name, "true"], "unknown shorthand flag: 'z' in -z"],
            [["-tz", d.name, "true"], "unknown shorthand flag: 'z' in -z"],
            [["-zt", d.name, "true"], "unknown shorthand flag: 'z' in -zt"],
            [["-u"], "flag needs an argument: 'u' in -u"],
            [["-tu"], "flag needs an argument: 'u' in -u"],
            [["--user"], "flag needs an argument: --user"],
            [["-i", "--workdir"], "flag needs an argument: --workdir"],
          ];
          for (const [args, words] of forms) {
            const [dockers, podmans, ours] = await Promise.all([
              run("docker", ["exec", ...args]),
              run("podman", ["exec", ...args]),
              cli(["exec", ...args]),
            ]);
            assertEquals([dockers.code, podmans.code], [125, 125], args.join(" "));
            assertEquals(dockers.stderr.split("\n")[0], words);
            assertEquals(podmans.stderr.split("\n")[0], `Error: ${words}`);
            assertEquals(
              [ours.code, ours.stdout, ours.stderr],
              [2, "", `nsjoin exec: ${words} (see: nsjoin exec --help)\n`],
            );
          }
        },
      );
      await t.step("an empty program name is usage, exit 2 (docker 126, podman 127)", async () => {
        const [dockers, ours] = await both(d, [], [""]);
        const [podmans] = await both(p, [], [""]);
        assertEquals([dockers.code, podmans.code, ours.code], [126, 127, 2]);
        assertMatch(dockers.stdout + dockers.stderr, /exec: "": executable file not found/);
        assertEquals(
          [ours.stdout, ours.stderr],
          ["", "nsjoin exec: Cannot run an empty program name (see: nsjoin exec --help)\n"],
        );
      });
      await t.step(
        "-w to a missing directory: nothing is created; 125 (docker 126, podman 127)",
        async () => {
          const [dockers, ours] = await both(d, ["-w", "/p20-missing"], ["pwd"]);
          const [podmans] = await both(p, ["-w", "/p20-missing"], ["pwd"]);
          // docker 20.10 and podman 4.3 map every runtime failure to one code.
          assert([126, 127].includes(dockers.code), dockers.stdout + dockers.stderr);
          assertEquals([podmans.code, ours.code], [127, 125]);
          assertMatch(dockers.stdout + dockers.stderr, /chdir to cwd \("\/p20-missing"\)/);
          assertEquals(
            ours.stderr,
            "nsjoin exec: Cannot change directory to /p20-missing in the target: ENOENT (no such file or directory)\n",
          );
          for (const c of made) {
            const after = await engineExec(c, [], ["ls", "-d", "/p20-missing"]);
            assertEquals(after.code, 1, "no one created the directory");
          }
        },
      );
      await t.step("-u with a name not in /etc/passwd: 125 (docker 126, podman 255)", async () => {
        for (const u of ["nosuch", "app:nosuch"]) {
          const [dockers, ours] = await both(d, ["-u", u], ["id"]);
          const [podmans] = await both(p, ["-u", u], ["id"]);
          assert([126, 127].includes(dockers.code), dockers.stdout + dockers.stderr);
          assertEquals([podmans.code, ours.code], [255, 125], u);
          const what = u === "nosuch" ? "user" : "group";
          assertMatch(dockers.stdout + dockers.stderr, new RegExp(`unable to find ${what} nosuch`));
          assertMatch(podmans.stderr, new RegExp(`unable to find ${what} nosuch`));
          assertMatch(
            ours.stderr,
            new RegExp(`^nsjoin exec: Cannot find ${what} "nosuch" in /etc/`),
          );
        }
      });
      await t.step(
        "a uid above 2147483647 runs, as nsenter's; both engines refuse it",
        async () => {
          for (const c of made) {
            for (const u of ["3000000000", "0:3000000000"]) {
              const [theirs, ours] = await both(c, ["-u", u], ["sh", "-c", "id -u; id -g"]);
              assertMatch(theirs.stdout + theirs.stderr, /must be in range 0-2147483647/);
              assertEquals(theirs.code, c.cli === "docker" ? 126 : 255);
              const want = u === "3000000000" ? "3000000000\n0\n" : "0\n3000000000\n";
              assertEquals([ours.code, ours.stdout], [0, want], ours.stderr);
            }
          }
        },
      );
      await t.step(
        "-d: returns at once, exit 0, prints nothing (podman prints the exec ID)",
        async () => {
          const cmd = ["sh", "-c", "sleep 1; echo done > /tmp/detached"];
          for (const c of made) {
            const start = Date.now();
            const [theirs, ours] = await Promise.all([
              engineExec(c, ["-d"], cmd),
              cli(["exec", "-d", ref(c), ...cmd]),
            ]);
            assertEquals([ours.code, ours.stdout, theirs.code], [0, "", 0], ours.stderr);
            assertEquals(theirs.stdout === "", c.cli === "docker", theirs.stdout);
            assert(Date.now() - start < 30_000);
            let seen = "";
            for (let i = 0; i < 50 && !seen; i++) {
              await new Promise((r) => setTimeout(r, 200));
              seen = (await engineExec(c, [], ["cat", "/tmp/detached"])).stdout;
            }
            assertEquals(seen, "done\n", `${c.cli}: the detached program ran on`);
          }
        },
      );
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec of a restarting docker container says so, as docker exec does, and runs nothing",
  ignore: skipWithoutEngines("exec parity tests", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const name = `${TAG}-restart`;
    // docker doubles the delay before each restart: after five the container stays in
    // "restarting" (Running and Restarting true, no process) for seconds at a time.
    const made: TestContainer[] = [{ cli: "docker", engine: "docker", name, id: "", pid: 0 }];
    try {
      const r = await run("docker", [
        "run",
        "-d",
        "--name",
        name,
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "exit 1",
      ]);
      assertEquals(r.code, 0, r.stderr);
      const state = async () =>
        (await run("docker", ["inspect", "-f", "{{.State.Restarting}} {{.RestartCount}}", name]))
          .stdout.trim().split(" ");
      let ok = false;
      for (let i = 0; i < 150 && !ok; i++) {
        const [restarting, count] = await state();
        ok = restarting === "true" && Number(count) >= 5;
        if (!ok) await new Promise((r) => setTimeout(r, 100));
      }
      assert(ok, "the container never settled into restarting");
      for (const target of [`docker:${name}`, name]) {
        const [theirs, ours] = await Promise.all([
          run("docker", ["exec", name, "echo", "ran"]),
          cli(["exec", target, "echo", "ran"]),
        ]);
        assertEquals((await state())[0], "true", "still restarting: the comparison holds");
        assertEquals(theirs.code, 1);
        assertMatch(theirs.stderr, /is restarting, wait until the container is running/);
        assertEquals([ours.code, ours.stdout], [125, ""]);
        assertEquals(
          ours.stderr,
          `nsjoin exec: Cannot use docker container ${name} - it is restarting, wait until it is running\n`,
        );
      }
      // Without dockerd's API (its state files only) the same refusal, and `ps` lists it as
      // `docker ps` does: Restarting, no process — through the API and without it.
      const noApi = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
      const fallback = await cli(["exec", name, "echo", "ran"], { env: noApi });
      assertEquals([fallback.code, fallback.stdout], [125, ""]);
      assertEquals(
        fallback.stderr,
        `nsjoin exec: Cannot use docker container ${name} - it is restarting, wait until it is running\n`,
      );
      for (const env of [{}, noApi]) {
        const [theirs, json, table] = await Promise.all([
          run("docker", ["ps", "--filter", `name=^${name}$`, "--format", "{{.Status}}"]),
          cli(["ps", "--json"], { env }),
          cli(["ps"], { env }),
        ]);
        assertEquals((await state())[0], "true", "still restarting: the comparison holds");
        assertMatch(theirs.stdout, /^Restarting \(1\)/);
        type Row = { name: string; restarting: boolean; pid: number; namespaces: string[] };
        const row = (JSON.parse(json.stdout) as Row[]).find((r) => r.name === name);
        assertEquals(
          row && { restarting: row.restarting, pid: row.pid, namespaces: row.namespaces },
          { restarting: true, pid: 0, namespaces: [] },
          JSON.stringify(env),
        );
        const line = table.stdout.split("\n").find((l) => l.includes(name));
        assertMatch(
          line ?? "",
          new RegExp(`^[0-9a-f]{12} +docker +${name} \\(restarting\\) +- +-$`),
        );
      }
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec -t and debug -t tell a failure to start on stderr, one line without \\r, " +
    "as without -t (docker exec -t prints its OCI error on stdout)",
  ignore: skipWithoutEngines("exec parity tests", ["docker"]),
  sanitizeResources: false,
  async fn(t) {
    const made: TestContainer[] = [];
    try {
      const d = await startContainer("docker", `${TAG}-tty`);
      made.push(d);
      const cases: [string[], string[], number, RegExp][] = [
        [[], ["no-such-program"], 127, /^nsjoin exec: Cannot run no-such-program: not found/],
        [[], ["/etc/passwd"], 126, /^nsjoin exec: Cannot run \/etc\/passwd: EACCES/],
        [["-w", "/no-such-dir"], ["true"], 125, /^nsjoin exec: Cannot change directory to/],
        [["-u", "nosuch"], ["true"], 125, /^nsjoin exec: Cannot find user "nosuch"/],
      ];
      await t.step(
        "stdout and stderr pipes: the same line and code with -t as without",
        async () => {
          for (const [flags, cmd, code, line] of cases) {
            const what = `exec ${flags.join(" ")} ${cmd.join(" ")}`;
            const plain = await cli(["exec", ...flags, ref(d), ...cmd]);
            const tty = await cli(["exec", "-t", ...flags, ref(d), ...cmd]);
            assertEquals([plain.code, tty.code], [code, code], what);
            assertEquals(tty.stdout, "", `${what}: nothing on stdout`);
            assertEquals(tty.stderr, plain.stderr, what);
            assertMatch(tty.stderr, line);
            assertEquals(tty.stderr.split("\n").length, 2, `${what}: one line: ${tty.stderr}`);
          }
          const debug = await cli(["debug", "-t", ref(d), "no-such-program"]);
          assertEquals([debug.code, debug.stdout], [127, ""]);
          assertEquals(debug.stderr, "nsjoin debug: Cannot run no-such-program: not found\n");
        },
      );
      await t.step("a real terminal (script): the line on stderr, not in the pty", async () => {
        const err = await Deno.makeTempFile();
        try {
          const deno = `${Deno.execPath()} run -A --quiet --no-lock ${ROOT}cli.ts`;
          const r = await run("script", [
            "-qec",
            `${deno} exec -it ${ref(d)} no-such-program 2>${err}`,
            "/dev/null",
          ], { env: { NO_COLOR: "1" } });
          assertEquals(r.code, 127, r.stdout);
          assert(!r.stdout.includes("Cannot run"), `on the terminal: ${JSON.stringify(r.stdout)}`);
          assertEquals(
            await Deno.readTextFile(err),
            "nsjoin exec: Cannot run no-such-program: not found in the target\n",
          );
        } finally {
          await Deno.remove(err);
        }
      });
      await t.step(
        "docker exec -t: its OCI error on stdout, through the pty (\\r\\n)",
        async () => {
          const theirs = await run("docker", ["exec", "-t", d.name, "no-such-program"]);
          assert([126, 127].includes(theirs.code), theirs.stdout + theirs.stderr);
          assertMatch(
            theirs.stdout,
            /^OCI runtime exec failed: .*executable file not found.*\r\n$/,
          );
        },
      );
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec gives the supplementary groups docker exec and podman exec give: --group-add, -u",
  ignore: SKIP,
  sanitizeResources: false,
  async fn(t) {
    const made: TestContainer[] = [];
    try {
      // docker adds --group-add to every exec, whatever -u says; podman 4.3 only to the
      // configured user's, and leaves out the primary gid it puts first in the spec.
      const runs: [string, string[]][] = [
        ["ga", ["-u", "app", "--group-add", "60", "--group-add", "staff"]],
        ["gr", ["--group-add", "60"]],
        ["gu", ["-u", "app"]],
      ];
      for (const [suffix, extra] of runs) {
        made.push(await startContainer("docker", `${TAG}-d${suffix}`, extra));
        made.push(await startContainer("podman", `${TAG}-p${suffix}`, extra));
      }
      for (const c of made) {
        await t.step(`${c.cli} ${c.name.slice(-2)}`, async () => {
          for (const u of ["", "root", "app", "1234", "app:app", ":50"]) {
            const flags = u ? ["-u", u] : [];
            const [theirs, ours] = await both(c, flags, ["id"]);
            assertEquals([ours.code, ours.stdout], [0, theirs.stdout], `-u ${u}: ${ours.stderr}`);
          }
        });
      }
      await t.step("what each engine gives, pinned", async () => {
        const id = async (name: string, u: string) =>
          (await cli(["exec", "-u", u, name, "id", "-G"])).stdout.trim();
        // --group-add 60 on a root container: docker's exec as 1234 has it, podman's not.
        assertEquals(await id(`docker:${TAG}-dgr`, "1234"), "0 60");
        assertEquals(await id(`podman:${TAG}-pgr`, "1234"), "0");
        assertEquals(await id(`docker:${TAG}-dga`, "root"), "0 50 60");
        assertEquals(await id(`podman:${TAG}-pga`, "root"), "0");
      });
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec reads a TARGET of digits as a PID up to 4194304, above as a container's name or ID",
  ignore: SKIP,
  sanitizeResources: false,
  async fn() {
    const made: TestContainer[] = [];
    try {
      // `docker ps` shows 12-character IDs, now and then all digits; a name may be digits too.
      const long = String(100_000_000 + Math.floor(Math.random() * 899_999_999));
      for (const engine of ["docker", "podman"] as const) {
        const c = await startContainer(engine, `${long}${engine === "docker" ? 1 : 2}`);
        made.push(c);
        const [theirs, ours] = await Promise.all([
          run(engine, ["exec", c.name, "hostname"]),
          cli(["exec", c.name, "hostname"]),
        ]);
        assertEquals([ours.code, ours.stdout], [0, `h-${c.name}\n`], ours.stderr);
        assertEquals([theirs.code, theirs.stdout], [ours.code, ours.stdout]);
      }
      // A name or ID prefix that starts with a digit (62% of docker's IDs do) is a container
      // for every command that takes one: inspect took it for a bad PID (exit 2).
      const lead = await startContainer("docker", `7${TAG}`);
      made.push(lead);
      for (const target of [lead.name, made[0].name, lead.id.slice(0, 12)]) {
        const seen = await cli(["inspect", "--json", target]);
        assertEquals(seen.code, 0, `inspect ${target}: ${seen.stderr}`);
        assertEquals(
          JSON.parse(seen.stdout).target.pid,
          made.find((c) => target === c.name || c.id.startsWith(target))!.pid,
        );
        const copied = await cli(["cp", `${target}:/etc/hostname`, "-"]);
        assertEquals(copied.code, 0, `cp ${target}: ${copied.stderr}`);
      }
      // Up to PID_MAX_LIMIT it is a PID (no PID reaches 4194304): the error says what to do.
      const short = await cli(["exec", "4194304", "true"]);
      assertEquals([short.code, short.stdout], [125, ""]);
      assertEquals(
        short.stderr,
        "nsjoin exec: Cannot find process 4194304: ESRCH (no such process) - a container ID " +
          "prefix of digits only needs its engine: docker:4194304\n",
      );
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec --env-file reads a file as docker exec does (podman keeps a BOM, takes blank names)",
  ignore: SKIP,
  sanitizeResources: false,
  async fn(t) {
    const made: TestContainer[] = [];
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-envfile-" });
    try {
      made.push(await startContainer("docker", `${TAG}-ef-d`));
      made.push(await startContainer("podman", `${TAG}-ef-p`));
      const [d, p] = made;
      const env = { P20_OURS: "mine" };
      // Not through sh, which drops from what it passes on a name it cannot take.
      const cmd = ["cat", "/proc/self/environ"];
      const sorted = (r: Run) => ({ ...r, stdout: r.stdout.split("\0").sort().join("\n") });
      const exec = async (c: TestContainer, file: string) => {
        const flags = ["--env-file", file, "-e", "LEAD=from-e"];
        return (await Promise.all([
          run(c.cli, ["exec", ...flags, c.name, ...cmd], { env }),
          cli(["exec", ...flags, ref(c), ...cmd], { env }),
        ])).map(sorted);
      };
      await t.step("a BOM, blanks, comments, KEY alone, KEY=, -e after the file", async () => {
        const file = `${dir}/good`;
        await Deno.writeTextFile(
          file,
          "\ufeffBOM=1\n  LEAD=2\r\nTRAIL=3  \n# a comment\n\nP20_OURS\nP20_NOT_SET\nEMPTY=\n",
        );
        const [docker, ours] = await exec(d, file);
        assertEquals(
          [ours.code, ours.stdout],
          [docker.code, docker.stdout],
          ours.stderr + docker.stderr,
        );
        const lines = ours.stdout.split("\n");
        for (const line of ["BOM=1", "EMPTY=", "LEAD=from-e", "P20_OURS=mine", "TRAIL=3  "]) {
          assert(lines.includes(line), `${line}: ${ours.stdout}`);
        }
        assert(!ours.stdout.includes("P20_NOT_SET"), ours.stdout);
        // podman 4.3 leaves the BOM in the first name; all else the same.
        const [podman, oursP] = await exec(p, file);
        assertEquals(podman.code, 0, podman.stderr);
        assert(podman.stdout.split("\n").includes("\ufeffBOM=1"), podman.stdout);
        assertEquals(
          oursP.stdout.split("\n").filter((l) => l !== "BOM=1"),
          podman.stdout.split("\n").filter((l) => l !== "\ufeffBOM=1"),
        );
      });
      await t.step(
        "a name with a blank is refused, as docker does (podman passes it)",
        async () => {
          for (const line of ["A B=c", "A =1", "A\tB=1"]) {
            const file = `${dir}/blank`;
            await Deno.writeTextFile(file, `OK=1\n${line}\n`);
            const [docker, ours] = await exec(d, file);
            const name = line.split("=")[0];
            assertEquals(docker.code, 1);
            assertMatch(docker.stderr, new RegExp(`variable '${name}' contains whitespaces`));
            assertEquals([ours.code, ours.stdout], [2, ""]);
            assertEquals(
              ours.stderr,
              `nsjoin exec: --env-file ${file}: variable '${
                name.replace("\t", "\\x09")
              }' contains whitespaces (see: nsjoin exec --help)\n`,
            );
            const [podman] = await exec(p, file);
            assert(podman.stdout.split("\n").includes(line), podman.stdout);
          }
        },
      );
      await t.step(
        "a line without a name is refused naming the file and line, as docker does",
        async () => {
          for (const line of ["=x", "=", "  =x"]) {
            const file = `${dir}/noname`;
            await Deno.writeTextFile(file, `OK=1\n${line}\n`);
            const [docker, ours] = await exec(d, file);
            const [podman] = await exec(p, file);
            assertEquals([docker.code, podman.code], [1, 125]);
            const shown = line.trimStart();
            assertEquals(
              docker.stderr,
              `invalid env file (${file}): no variable name on line '${shown}'\n`,
            );
            assertMatch(podman.stderr, /invalid environment variable: "=/);
            assertEquals([ours.code, ours.stdout], [2, ""]);
            assertEquals(
              ours.stderr,
              `nsjoin exec: --env-file ${file}: no variable name on line '${shown}' (see: nsjoin exec --help)\n`,
            );
          }
        },
      );
      await t.step(
        "a file that cannot be read: usage, nothing runs (docker 1, podman 125)",
        async () => {
          const [docker, ours] = await exec(d, `${dir}/none`);
          const [podman] = await exec(p, `${dir}/none`);
          assertEquals([docker.code, podman.code], [1, 125]);
          assertEquals([ours.code, ours.stdout], [2, ""]);
          assertMatch(ours.stderr, /^nsjoin exec: --env-file .*: ENOENT /);
        },
      );
      await t.step(
        "a pipe (bash's <(…)), /dev/stdin and /dev/null are files to docker, and to us; bytes not UTF-8 are refused",
        async () => {
          // `--env-file <(vault read …)` keeps secrets off the disk; it was refused ("it is
          // not a regular file", exit 2) where docker exec reads it.
          const ourCli = `${Deno.execPath()} run -A --quiet --no-lock ${ROOT}cli.ts`;
          const forms: [string, string?][] = [
            [`--env-file <(printf 'A=piped\\nB=2\\n')`],
            ["--env-file /dev/stdin", "A=stdin\n"],
            ["--env-file /dev/null -e A=none"],
          ];
          for (const [flags, stdin] of forms) {
            const line = (exec: string, target: string) =>
              `${exec} ${flags} ${target} sh -c 'echo "$A $B"'`;
            const [docker, ours] = await Promise.all([
              run("bash", ["-c", line("docker exec -i", d.name)], { stdin }),
              run("bash", ["-c", line(`${ourCli} exec -i`, ref(d))], { stdin }),
            ]);
            assertEquals(docker.code, 0, docker.stderr);
            assertEquals([ours.code, ours.stdout], [0, docker.stdout], `${flags}: ${ours.stderr}`);
          }
          // Not UTF-8 (Latin-1, UTF-16): refused with the line, as docker; it was passed on
          // with U+FFFD for each bad byte.
          for (
            const [bytes, line] of [[[0x4f, 0x4b, 0x3d, 0x31, 0x0a, 0x41, 0x3d, 0xe9], 2], [[
              0xff,
              0xfe,
              0x41,
              0x00,
            ], 1]] as const
          ) {
            const file = `${dir}/latin1`;
            await Deno.writeFile(file, new Uint8Array(bytes));
            const [docker, ours] = await exec(d, file);
            assertEquals(docker.code, 1, docker.stdout);
            assertMatch(docker.stderr, new RegExp(`invalid utf8 bytes at line ${line}`));
            assertEquals([ours.code, ours.stdout], [2, ""]);
            assertEquals(
              ours.stderr,
              `nsjoin exec: --env-file ${file}: invalid utf8 bytes at line ${line} (see: nsjoin exec --help)\n`,
            );
          }
          // What never ends or is no file is still refused, one line, nothing run (docker:
          // "bufio.Scanner: token too long", "is a directory", exit 1).
          for (
            const [file, why] of [["/dev/zero", /larger than 1048576 bytes/], [
              dir,
              /it is a directory/,
            ]] as const
          ) {
            const [docker, ours] = await exec(d, file);
            assertEquals([docker.code, ours.code, ours.stdout], [1, 2, ""], docker.stderr);
            assertMatch(ours.stderr, new RegExp(`^nsjoin exec: --env-file ${file}: `));
            assertMatch(ours.stderr, why);
            assertEquals(ours.stderr.trimEnd().split("\n").length, 1, ours.stderr);
          }
        },
      );
    } finally {
      await removeContainers(made);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "exec refuses an ID prefix two containers share, as docker exec does, and runs nothing",
  ignore: skipWithoutEngines("exec parity tests", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const made: TestContainer[] = [];
    try {
      // Random IDs: containers until two of ours share a first character (16 choices).
      let pair: [TestContainer, TestContainer] | undefined;
      for (let i = 0; i < 17 && !pair; i++) {
        const c = await startContainer("docker", `${TAG}-amb${i}`);
        const twin = made.find((m) => m.id[0] === c.id[0]);
        made.push(c);
        if (twin) pair = [twin, c];
      }
      assert(pair, "17 IDs, 16 first characters");
      const [a, b] = pair!;
      let n = 0;
      while (a.id[n] === b.id[n]) n++;
      const prefix = a.id.slice(0, n);
      const mark = ["sh", "-c", "echo ran > /tmp/amb"];
      const [theirs, ours] = await Promise.all([
        run("docker", ["exec", prefix, ...mark]),
        cli(["exec", `docker:${prefix}`, ...mark]),
      ]);
      assertEquals(theirs.code, 1);
      assertMatch(theirs.stderr, /Multiple IDs found with provided prefix/);
      assertEquals([ours.code, ours.stdout], [125, ""]);
      assertMatch(
        ours.stderr,
        new RegExp(`^nsjoin exec: Cannot pick a docker container for "${prefix}" - it matches `),
      );
      for (const c of [a, b]) {
        assertMatch(ours.stderr, new RegExp(`docker:${c.name} \\(${c.id.slice(0, 12)}\\)`));
        assertEquals((await engineExec(c, [], ["cat", "/tmp/amb"])).code, 1, "nothing ran");
      }
    } finally {
      await removeContainers(made);
    }
  },
});

Deno.test({
  name: "exec gives a podman container's program the HOME and environment order podman exec gives",
  ignore: skipWithoutEngines("podman's HOME", ["podman"]),
  async fn(t) {
    // podman appends HOME to the spec it starts a container with (the configured user's home)
    // when the container was created without one; podman exec starts from the spec as created
    // and appends HOME after the -e entries, and runc fills an empty HOME from the uid's entry.
    // A HOME the container was created with stays, also under -u: it was replaced by the -u
    // user's, `-e HOME=` stayed empty, and -e entries came after HOME.
    const made: TestContainer[] = [];
    try {
      for (
        const [suffix, extra] of [["plain", []], ["home", ["-e", "HOME=/custom", "-e", "Z=1"]], [
          "user",
          ["-u", "1000"],
        ]] as const
      ) {
        made.push(await startContainer("podman", `${TAG}-home-${suffix}`, [...extra]));
      }
      for (const c of made) {
        for (
          const flags of [
            [],
            ["-e", "A=1"],
            ["-u", "1000"],
            ["-u", "1000", "-e", "A=1"],
            ["-u", "0", "-e", "A=1"],
            ["-e", "HOME="],
            ["-u", "1000", "-e", "HOME="],
            ["-u", "1000", "-e", "HOME=/e"],
          ]
        ) {
          await t.step(`${c.name} ${flags.join(" ")}`, async () => {
            const [theirs, ours] = await both(c, flags, ["env"]);
            assertEquals(theirs.code, 0, theirs.stderr);
            assertEquals([ours.code, ours.stdout], [0, theirs.stdout], ours.stderr);
          });
        }
      }
    } finally {
      await removeContainers(made);
    }
  },
});
