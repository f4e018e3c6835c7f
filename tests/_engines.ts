/**
 * Engine fixtures for tests/containers_test.ts: an image built from busybox-static (no
 * registry is reachable: a rootfs tarball goes through `docker import` / `podman import`),
 * containers started through the engines' own CLIs (the reference we compare against),
 * and cleanup that removes every container this run made.
 */
import { CI, IS_ROOT, runPiped } from "./_fixtures.ts";

/** The image every test container runs: busybox, ENV GREETING=hello, WORKDIR /home. */
export const IMAGE = "nsjoin-busybox:1";

/** The rootless podman user tests/setup.sh creates. */
export const PODMAN_USER = "nsjoin-podman";

/** A user of the host (name, ids, home). */
export interface HostUser {
  /** Login name. */
  name: string;
  /** uid. */
  uid: number;
  /** Primary gid. */
  gid: number;
  /** Home directory. */
  home: string;
}

/** The rootless podman user, or undefined when tests/setup.sh has not made it. */
export function podmanUser(): HostUser | undefined {
  const line = Deno.readTextFileSync("/etc/passwd").split("\n").find((l) =>
    l.startsWith(`${PODMAN_USER}:`)
  );
  if (!line) return undefined;
  const f = line.split(":");
  return { name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] };
}

/** The output of a command: code, stdout, stderr. */
export interface Run {
  /** Exit code. */
  code: number;
  /** stdout as text. */
  stdout: string;
  /** stderr as text. */
  stderr: string;
}

/** Runs a command (as `user` when given, with a login-like environment), never throwing. */
export async function run(
  cmd: string,
  args: string[],
  opts: { user?: HostUser; env?: Record<string, string>; stdin?: string } = {},
): Promise<Run> {
  const u = opts.user;
  const [c, a, env] = u
    ? [
      "setpriv",
      [`--reuid=${u.uid}`, `--regid=${u.gid}`, "--init-groups", cmd, ...args],
      {
        HOME: u.home,
        USER: u.name,
        XDG_RUNTIME_DIR: `/run/user/${u.uid}`,
        PATH: "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
        ...opts.env,
      },
    ]
    : [cmd, args, opts.env];
  return await runPiped(c, {
    args: a,
    cwd: u ? "/" : undefined,
    env,
    clearEnv: u !== undefined,
  }, opts.stdin);
}

/** Runs a command and returns its stdout; throws with its stderr when it fails. */
export async function must(
  cmd: string,
  args: string[],
  opts: { user?: HostUser; env?: Record<string, string> } = {},
): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A tarball of a busybox root filesystem with users root, app (1000, in staff) and nobody. */
export async function buildRootfs(dir: string): Promise<string> {
  const root = `${dir}/rootfs`;
  for (const d of ["bin", "etc", "home/app", "tmp", "root", "proc", "sys", "dev"]) {
    await Deno.mkdir(`${root}/${d}`, { recursive: true });
  }
  await Deno.copyFile("/bin/busybox", `${root}/bin/busybox`);
  await Deno.chmod(`${root}/bin/busybox`, 0o755);
  const applets = (await must("/bin/busybox", ["--list"])).trim().split("\n");
  for (const a of applets) if (a !== "busybox") await Deno.symlink("busybox", `${root}/bin/${a}`);
  await Deno.writeTextFile(
    `${root}/etc/passwd`,
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n" +
      "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  await Deno.writeTextFile(
    `${root}/etc/group`,
    "root:x:0:\nstaff:x:50:app\napp:x:1000:\nnogroup:x:65534:\n",
  );
  await Deno.chown(`${root}/home/app`, 1000, 1000);
  await Deno.chmod(`${root}/tmp`, 0o1777);
  const tar = `${dir}/rootfs.tar`;
  await must("tar", ["-C", root, "-cf", tar, "."]);
  await Deno.chmod(dir, 0o755);
  await Deno.chmod(tar, 0o644);
  return tar;
}

const CHANGES = ["-c", "ENV GREETING=hello", "-c", "WORKDIR /home"];

const _images = new Map<string, Promise<void>>();

/**
 * Imports the image into one engine — docker, rootful podman, or `user`'s podman — unless it
 * has it (once per process). Every way a test starts a container calls it, so no test file
 * depends on another having run first (on a fresh machine, cli_test's container came
 * before any file that imported the image).
 */
export function ensureImage(cli: "docker" | "podman", user?: HostUser): Promise<void> {
  const key = `${cli} ${user?.uid ?? ""}`;
  let done = _images.get(key);
  if (!done) {
    done = (async () => {
      if ((await run(cli, ["image", "inspect", IMAGE], { user })).code === 0) return;
      const tmp = await Deno.makeTempDir({ prefix: "nsjoin-image-" });
      try {
        await must(cli, ["import", ...CHANGES, await buildRootfs(tmp), IMAGE], { user });
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    })();
    done.catch(() => _images.delete(key));
    _images.set(key, done);
  }
  return done;
}

/** Imports the image into docker, rootful podman and the rootless user's podman (once). */
export async function ensureImages(user: HostUser): Promise<void> {
  await ensureImage("docker");
  await ensureImage("podman");
  await ensureImage("podman", user);
}

/** A container the tests made. */
export interface TestContainer {
  /** The engine's CLI: "docker" or "podman". */
  cli: "docker" | "podman";
  /** Engine name as nsjoin reports it. */
  engine: "docker" | "podman";
  /** Name. */
  name: string;
  /** Full ID. */
  id: string;
  /** Host PID of its first process. */
  pid: number;
  /** The owner, for a rootless container. */
  user?: HostUser;
}

/**
 * Starts a container (detached, `tail -f /dev/null` as its process) with FOO=bar and a
 * hostname of its own, plus any extra `run` flags.
 */
export async function startContainer(
  cli: "docker" | "podman",
  name: string,
  extra: string[] = [],
  user?: HostUser,
): Promise<TestContainer> {
  await ensureImage(cli, user);
  const args = ["run", "-d", "--name", name, "-e", "FOO=bar", "--hostname", `h-${name}`];
  if (cli === "podman" && user) args.push("--network", "slirp4netns");
  const id = (await must(cli, [...args, ...extra, IMAGE, "tail", "-f", "/dev/null"], { user }))
    .trim().split("\n").pop()!;
  const pid = Number(
    (await must(cli, ["inspect", "-f", "{{.State.Pid}}", id], { user })).trim(),
  );
  return { cli, engine: cli, name, id, pid, user };
}

/** Removes containers by name (SIGKILL), ignoring those already gone. */
export async function removeContainers(list: readonly TestContainer[]): Promise<void> {
  for (const c of list) {
    const now = c.cli === "podman" ? ["-t", "0"] : []; // podman waits 10 s for SIGTERM
    await run(c.cli, ["rm", "-f", ...now, c.name], { user: c.user }).catch(() => {});
  }
}

/** Runs the engine's own exec for a container: `docker exec [flags] NAME cmd…`. */
export function engineExec(c: TestContainer, flags: string[], cmd: string[]): Promise<Run> {
  return run(c.cli, ["exec", ...flags, c.name, ...cmd], { user: c.user });
}

let _deno: string | undefined;

/**
 * A copy of this Deno that other users can run (ours may sit under /root), for running
 * the CLI as the rootless container's owner.
 */
export async function denoForUsers(): Promise<string> {
  if (_deno) return _deno;
  const dir = "/tmp/nsjoin-deno-" + Deno.version.deno;
  const path = `${dir}/deno`;
  const size = (await Deno.stat(Deno.execPath())).size;
  const have = await Deno.stat(path).then((s) => s.size).catch(() => -1);
  if (have !== size) {
    await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    await Deno.copyFile(Deno.execPath(), `${path}.tmp`);
    await Deno.chmod(`${path}.tmp`, 0o755);
    await Deno.rename(`${path}.tmp`, path);
  }
  await Deno.chmod(dir, 0o755);
  _deno = path;
  return path;
}

/** containerd's socket: a standalone containerd's, else the one dockerd runs. */
export function containerdSocket(): string | undefined {
  for (const s of ["/run/containerd/containerd.sock", "/run/docker/containerd/containerd.sock"]) {
    try {
      if (Deno.statSync(s).isSocket) return s;
    } catch {
      // Not this one.
    }
  }
  return undefined;
}

/** The containerd namespace test tasks run in (the image stays there, as docker's does). */
export const CTR_NAMESPACE = "nsjoin-test";

function _ctr(): string[] {
  const sock = containerdSocket();
  if (!sock) {
    throw new Error("no containerd socket (tests/setup.sh starts dockerd, which runs one)");
  }
  return ["-a", sock, "-n", CTR_NAMESPACE];
}

/**
 * Starts a task straight on containerd with `ctr`, in a containerd namespace of our own
 * (the image comes from `docker save`). Returns its PID; {@link removeCtr} cleans up.
 */
export async function startCtr(id: string): Promise<{ id: string; pid: number }> {
  const ctr = _ctr();
  await ensureImage("docker");
  const ref = `docker.io/library/${IMAGE}`;
  if (
    (await run("ctr", [...ctr, "images", "check", `name==${ref}`])).stdout.split("\n").length < 3
  ) {
    await must("sh", ["-c", `docker save ${IMAGE} | ctr ${ctr.join(" ")} images import -`]);
  }
  await must("ctr", [
    ...ctr,
    "run",
    "-d",
    "--env",
    "FOO=bar",
    ref,
    id,
    "/bin/tail",
    "-f",
    "/dev/null",
  ]);
  const tasks = await must("ctr", [...ctr, "task", "ls"]);
  const pid = Number(tasks.split("\n").find((l) => l.startsWith(`${id} `))?.trim().split(/\s+/)[1]);
  return { id, pid };
}

/** Kills and removes a `ctr` task and its container. */
export async function removeCtr(id: string): Promise<void> {
  const ctr = _ctr();
  await run("ctr", [...ctr, "task", "kill", "-s", "SIGKILL", id]);
  for (let i = 0; i < 50; i++) {
    if ((await run("ctr", [...ctr, "task", "rm", "-f", id])).code === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await run("ctr", [...ctr, "containers", "rm", id]);
}

/** Runs `ctr task exec` in a task: containerd's own exec, the reference for containerd. */
export function ctrExec(id: string, cmd: string[]): Promise<Run> {
  const exec = `e${Math.random().toString(36).slice(2, 10)}`;
  return run("ctr", [..._ctr(), "task", "exec", "--exec-id", exec, id, ...cmd]);
}

/** Whether `cmd` runs and succeeds with `args` (a tool is installed, a daemon answers). */
function _have(cmd: string, args: readonly string[]): boolean {
  try {
    return new Deno.Command(cmd, { args: [...args], stdout: "null", stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/**
 * `ignore` for tests that need root and engines: true, with a note on stderr saying what is
 * missing, only off CI — in CI a missing engine is a failure, not a skip.
 *
 * @param what the tests, for the note ("cp tests")
 * @param needs "docker" (dockerd answers), "rootless" (tests/setup.sh's podman user), or a
 *   command that must run with --version (podman, gcc, tmux…)
 * @returns whether to skip
 */
export function skipWithoutEngines(what: string, needs: readonly string[]): boolean {
  const missing = needs.filter((n) =>
    n === "docker"
      ? !_have("docker", ["version"])
      : n === "rootless"
      ? podmanUser() === undefined
      : !_have(n, n === "tmux" ? ["-V"] : ["--version"])
  );
  if (IS_ROOT && missing.length === 0) return false;
  if (CI) return false;
  console.error(
    `note: ${what} are skipped: they need root and ${needs.join(", ")}` +
      ` (missing: ${[...(IS_ROOT ? [] : ["root"]), ...missing].join(", ")};` +
      " run tests/setup.sh as root; CI runs them)",
  );
  return true;
}
