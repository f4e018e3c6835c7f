/**
 * The signal state a program starts with (blocked and ignored signals, /proc/PID/status
 * SigBlk and SigIgn) through every way nsjoin runs one, against nsenter and docker exec:
 * glibc's posix_spawn, which Deno's spawn and ours use, leaves its own signals 32 and 33
 * ignored in the child, and execve keeps that.
 */
import { containerExecOptions, NsCommand, openSession, resolveContainer } from "../mod.ts";
import { engineExec, removeContainers, skipWithoutEngines, startContainer } from "./_engines.ts";
import { assertEquals, cli, makeTarget, NEEDS_ROOT, runPiped, text } from "./_fixtures.ts";

const READ = ["grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"];
const NONE = "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n";

/** What NsCommand and a session give a program with `options`. */
async function library(options: Parameters<typeof openSession>[1] & { target: number }) {
  const [program, ...args] = READ;
  const command = text((await new NsCommand(program, { ...options, args }).output()).stdout);
  await using s = await openSession(options.target, options);
  const session = text((await s.output(program, { args })).stdout);
  return { command, session };
}

Deno.test({
  name:
    "programs start with no blocked or ignored signal through enter, exec, NsCommand and sessions, as under nsenter",
  ignore: NEEDS_ROOT,
  async fn() {
    await using t = await makeTarget();
    const pid = String(t.pid);
    // nsenter as a shell starts it (fork and execve): Deno's own spawn would hand it 32 and
    // 33 ignored, which it passes on, so a tiny program sets them back first (glibc's
    // sigaction refuses its own signals: the raw syscall).
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sig-" });
    let nsenter;
    try {
      Deno.writeTextFileSync(
        `${dir}/clean.c`,
        `#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  unsigned long dfl[4] = {0, 0, 0, 0};
  syscall(SYS_rt_sigaction, 32, dfl, 0, 8);
  syscall(SYS_rt_sigaction, 33, dfl, 0, 8);
  execvp(argv[1], argv + 1);
  return 127;
}
`,
      );
      const cc = await runPiped("gcc", { args: ["-o", `${dir}/clean`, `${dir}/clean.c`] });
      assertEquals(cc.code, 0, cc.stderr);
      nsenter = await runPiped(`${dir}/clean`, {
        args: ["nsenter", "-t", pid, "-n", "-u", ...READ],
      });
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
    assertEquals(nsenter.stdout, NONE, nsenter.stderr);
    const seen = {
      enter: (await cli(["enter", "-t", pid, "-n", "-u", ...READ])).stdout,
      exec: (await cli(["exec", pid, ...READ])).stdout,
      ...await library({ target: t.pid, namespaces: ["net", "uts"] }),
    };
    assertEquals(seen, { enter: NONE, exec: NONE, command: NONE, session: NONE });
  },
});

Deno.test({
  name: "a container's programs start with docker exec's signal state (exec, NsCommand, sessions)",
  ignore: skipWithoutEngines("signal state in a container", ["docker"]),
  sanitizeResources: false,
  async fn() {
    const c = await startContainer("docker", `nsjsig-${crypto.randomUUID().slice(0, 8)}`);
    try {
      const docker = await engineExec(c, [], READ);
      assertEquals(docker.stdout, NONE, docker.stderr);
      using container = await resolveContainer(c.id);
      const seen = {
        exec: (await cli(["exec", `docker:${c.name}`, ...READ])).stdout,
        ...await library({ ...containerExecOptions(container), target: container.pid }),
      };
      assertEquals(seen, { exec: docker.stdout, command: docker.stdout, session: docker.stdout });
    } finally {
      await removeContainers([c]);
    }
  },
});
