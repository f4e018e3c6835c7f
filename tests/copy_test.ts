/**
 * `nsjoin cp` side by side with `docker cp` and `podman cp`, on distroless containers (an
 * image FROM scratch holding one static binary: no tar, no shell, no libc), plus the attacks
 * docker cp's CVEs are made of: symlinks out of the root, a container swapping a directory
 * and a symlink in a loop while we copy (CVE-2018-15664), FIFOs and devices where a file is
 * expected, and a 2 GiB file in constant memory.
 */
import { AT_FDCWD, close, getXattrs, O, openat2, setXattrs } from "../ffi/dirfd.ts";
import { copyFrom, copyTo, tarFrom, tarTo } from "../src/copy.ts";
import { NamespaceError } from "../src/errors.ts";
import { parseCpArgs, parseEndpoint } from "../src/cli/cp.ts";
import {
  ctrExec,
  ensureImages,
  type HostUser,
  must,
  podmanUser,
  removeCtr,
  run,
  skipWithoutEngines,
  startCtr,
} from "./_engines.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  CI,
  cli,
  IS_ROOT,
  makeTarget,
  runPiped,
} from "./_fixtures.ts";

const SKIP = skipWithoutEngines("cp tests", ["docker", "podman", "gcc", "rootless"]);

/** The distroless test image: /tool only. */
const IMAGE = "nsjoin-distroless:1";

/** The one program of the image: `sleep` waits; `race A B` swaps two paths forever. */
const TOOL_C = `#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(int argc, char **argv) {
  if (argc >= 4 && strcmp(argv[1], "race") == 0)
    for (;;) syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* RENAME_EXCHANGE */);
  for (;;) pause();
}
`;

const CLI = new URL("../cli.ts", import.meta.url).pathname;

const suffix = () => Math.random().toString(36).slice(2, 8);

/** Builds the image once per engine store: a rootfs of /tool and nothing else. */
async function ensureDistroless(user: HostUser): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-distroless-" });
  try {
    let tar: string | undefined;
    const build = async () => {
      await Deno.mkdir(`${dir}/root`);
      await Deno.writeTextFile(`${dir}/tool.c`, TOOL_C);
      await must("gcc", ["-static", "-O2", "-o", `${dir}/root/tool`, `${dir}/tool.c`]);
      await must("tar", ["-C", `${dir}/root`, "-cf", `${dir}/rootfs.tar`, "tool"]);
      await Deno.chmod(dir, 0o755);
      await Deno.chmod(`${dir}/rootfs.tar`, 0o644);
      return `${dir}/rootfs.tar`;
    };
    for (const [cmd, u] of [["docker"], ["podman"], ["podman", user]] as const) {
      if ((await run(cmd, ["image", "inspect", IMAGE], { user: u })).code === 0) continue;
      tar ??= await build();
      await must(cmd, ["import", "-c", 'CMD ["/tool", "sleep"]', tar, IMAGE], { user: u });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

interface Box {
  cli: "docker" | "podman";
  name: string;
  pid: number;
  user?: HostUser;
}

async function startBox(cli: "docker" | "podman", user?: HostUser): Promise<Box> {
  const name = `nsjoin-cp-${suffix()}`;
  const net = cli === "podman" && user ? ["--network", "none"] : [];
  await must(cli, ["run", "-d", "--name", name, ...net, IMAGE, "/tool", "sleep"], { user });
  const pid = Number((await must(cli, ["inspect", "-f", "{{.State.Pid}}", name], { user })).trim());
  return { cli, name, pid, user };
}

async function removeBox(b: Box): Promise<void> {
  await run(b.cli, ["rm", "-f", ...(b.cli === "podman" ? ["-t", "0"] : []), b.name], {
    user: b.user,
  });
}

/** What a user checks about a tree: per path its type, mode, owner, mtime (s), bytes, link. */
interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  hash?: string;
  link?: string;
  /** Paths sharing this file's inode (hard links), sorted. */
  links?: string[];
}

/**
 * A tree's snapshot. mtimes in whole seconds: docker cp truncates them (as its tar does),
 * podman cp rounds them (`round`); nsjoin keeps nanoseconds.
 */
async function snapshot(root: string, round = Math.floor): Promise<Record<string, Node>> {
  const out: Record<string, Node> = {};
  const inodes = new Map<number, string[]>();
  const walk = async (rel: string) => {
    const path = rel ? `${root}/${rel}` : root;
    const st = Deno.lstatSync(path);
    const node: Node = {
      type: st.isFile ? "file" : st.isDirectory ? "dir" : st.isSymlink ? "symlink" : "other",
      mode: st.mode! & 0o7777,
      uid: st.uid!,
      gid: st.gid!,
      mtime: round(st.mtime!.getTime() / 1000),
    };
    if (st.isSymlink) {
      node.link = Deno.readLinkSync(path);
      node.mode = 0; // symlink modes mean nothing
      node.mtime = 0; // nor do their mtimes to tar and docker cp
    }
    if (st.isFile) {
      node.hash = Array.from(
        new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(path))),
      ).map((b) => b.toString(16).padStart(2, "0")).join("");
      if (st.nlink! > 1) inodes.set(st.ino!, [...(inodes.get(st.ino!) ?? []), rel]);
    }
    out[rel || "."] = node;
    if (st.isDirectory) {
      for (const e of [...Deno.readDirSync(path)].map((e) => e.name).sort()) {
        await walk(rel ? `${rel}/${e}` : e);
      }
    }
  };
  await walk("");
  for (const paths of inodes.values()) for (const p of paths) out[p].links = paths.sort();
  return out;
}

function withoutOwners(s: Record<string, Node>, top = true): Record<string, Node> {
  return Object.fromEntries(
    Object.entries(s).map((
      [k, v],
    ) => [k, { ...v, uid: 0, gid: 0, ...(top && k === "." ? { mtime: 0 } : {}) }]),
  );
}

/** Asserts two snapshots are equal, showing only the paths that differ. */
function assertSameTree(actual: Record<string, Node>, expected: Record<string, Node>): void {
  const keys = [...new Set([...Object.keys(actual), ...Object.keys(expected)])].sort();
  const differ = keys.filter((k) => JSON.stringify(actual[k]) !== JSON.stringify(expected[k]));
  assertEquals(
    Object.fromEntries(differ.map((k) => [k, actual[k]])),
    Object.fromEntries(differ.map((k) => [k, expected[k]])),
  );
}

/**
 * An engine's copy out of a container as nsjoin makes it: files lose setuid and setgid, even
 * with -a (docker cp and podman cp keep them; GNU cp drops them for files that become yours).
 */
function asOurs(s: Record<string, Node>): Record<string, Node> {
  return Object.fromEntries(
    Object.entries(s).map(([k, v]) => [k, v.type === "file" ? { ...v, mode: v.mode & 0o1777 } : v]),
  );
}

function withoutTop(s: Record<string, Node>): Record<string, Node> {
  const { ".": _, ...rest } = s;
  return rest;
}

/** A tree with what cp must keep: odd modes, owners, mtimes, links of every kind, holes. */
async function makeTree(dir: string): Promise<string> {
  const t = `${dir}/tree`;
  await Deno.mkdir(`${t}/deep/a/b/c`, { recursive: true });
  await Deno.mkdir(`${t}/ro`);
  await Deno.writeTextFile(`${t}/plain.txt`, "plain\n");
  await Deno.chown(`${t}/plain.txt`, 1234, 2345);
  await Deno.writeTextFile(`${t}/suid`, "#!/bin/true\n");
  await Deno.chmod(`${t}/suid`, 0o4755);
  await Deno.writeTextFile(`${t}/secret`, "s3cret");
  await Deno.chmod(`${t}/secret`, 0o600);
  await Deno.writeTextFile(`${t}/ro/inner`, "inner");
  await Deno.chmod(`${t}/ro/inner`, 0o444);
  await Deno.chmod(`${t}/ro`, 0o555);
  await Deno.symlink("/etc/passwd", `${t}/abs`);
  await Deno.symlink("../plain.txt", `${t}/deep/rel`);
  await Deno.symlink("nope", `${t}/dangling`);
  await Deno.writeTextFile(`${t}/hard1`, "hard");
  await Deno.link(`${t}/hard1`, `${t}/deep/hard2`);
  await Deno.writeFile(`${t}/empty`, new Uint8Array());
  await Deno.writeFile(`${t}/bin.dat`, crypto.getRandomValues(new Uint8Array(65536)));
  await Deno.writeTextFile(`${t}/deep/a/b/c/${"long-name-".repeat(15)}.txt`, "long");
  const f = await Deno.open(`${t}/sparse`, { write: true, create: true });
  await f.seek(1 << 20, Deno.SeekMode.Start);
  await f.write(new TextEncoder().encode("data in the middle"));
  await f.truncate(64 << 20);
  f.close();
  await Deno.chown(`${t}/deep`, 1000, 50);
  for (const p of ["plain.txt", "suid", "deep/a/b/c", "ro/inner"]) {
    await Deno.utime(`${t}/${p}`, 1577934245.5, 1577934245.5);
  }
  return t;
}

Deno.test({
  name: "cp parses docker cp's arguments",
  fn() {
    assertEquals(parseEndpoint("web:/etc/hosts"), { target: "web", path: "/etc/hosts" });
    assertEquals(parseEndpoint("docker:web:/etc"), { target: "docker:web", path: "/etc" });
    assertEquals(parseEndpoint("1234:etc"), { target: "1234", path: "etc" });
    assertEquals(parseEndpoint("./a:b"), { path: "./a:b" });
    assertEquals(parseEndpoint("-"), { path: "-" });
    const a = parseCpArgs(["-a", "-L", "web:/x", "-"]);
    assertEquals([a.archive, a.followLink, a.src, a.dest], [true, true, {
      target: "web",
      path: "/x",
    }, { path: "-" }]);
    assertThrows(() => parseCpArgs(["a:/x", "b:/y"]), /between containers/);
    assertThrows(() => parseCpArgs(["/x", "/y"]), /at least one container/);
    assertThrows(() => parseCpArgs(["a:/x"]), /exactly 2/);
    assertThrows(() => parseCpArgs(["--bogus", "a:/x", "/y"]), /bogus/);
  },
});

Deno.test({
  name: "cp copies like docker cp and podman cp, both ways, on a distroless container",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const user = podmanUser()!;
    await ensureDistroless(user);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-" });
    const boxes: Box[] = [];
    try {
      const tree = await makeTree(dir);
      const source = await snapshot(tree);
      const docker = await startBox("docker");
      boxes.push(docker);
      const root = `/proc/${docker.pid}/root`;

      await t.step("the image has no shell and no tar: docker exec of them fails", async () => {
        assert((await run("docker", ["exec", docker.name, "sh", "-c", "true"])).code !== 0);
        assert((await run("docker", ["exec", docker.name, "tar", "--version"])).code !== 0);
      });

      await t.step("into the container: the same tree as docker cp's", async () => {
        await must("docker", ["cp", tree, `${docker.name}:/by-docker`]);
        const r = await cli(["cp", "-a", tree, `docker:${docker.name}:/by-nsjoin-a`]);
        assertEquals(r.code, 0, r.stderr);
        const r2 = await cli(["cp", tree, `${docker.name}:/by-nsjoin`]);
        assertEquals(r2.code, 0, r2.stderr);
        const byDocker = await snapshot(`${root}/by-docker`);
        // docker cp keeps the source's owners without -a (docker/cli#6870); with -a we do too.
        assertSameTree(await snapshot(`${root}/by-nsjoin-a`), byDocker);
        assertSameTree(byDocker, source);
        // Without -a, as docker cp's documentation says: owned by the container's root.
        const plain = await snapshot(`${root}/by-nsjoin`);
        assertSameTree(withoutOwners(plain, false), withoutOwners(byDocker, false));
        assert(Object.values(plain).every((n) => n.uid === 0 && n.gid === 0));
      });

      await t.step("out of the container: the same tree as docker cp's", async () => {
        await must("docker", ["cp", `${docker.name}:/by-docker`, `${dir}/out-docker`]);
        const r = await cli(["cp", `${docker.name}:/by-docker`, `${dir}/out-nsjoin`]);
        assertEquals(r.code, 0, r.stderr);
        const out = await snapshot(`${dir}/out-nsjoin`);
        const byDocker = await snapshot(`${dir}/out-docker`);
        // One difference, on purpose: files that become ours lose setuid (docker keeps it).
        assertEquals([byDocker.suid.mode, out.suid.mode], [0o4755, 0o755]);
        assertSameTree(out, asOurs(byDocker));
        assert(Object.values(out).every((n) => n.uid === 0)); // the caller's: root
        // -a keeps the owners inside the container, and setuid not even then (review 3).
        const r2 = await cli(["cp", "-a", `${docker.name}:/by-docker`, `${dir}/out-a`]);
        assertEquals(r2.code, 0, r2.stderr);
        assertSameTree(await snapshot(`${dir}/out-a`), asOurs(source));
      });

      await t.step("path rules: into an existing dir, SRC/. contents, file onto file", async () => {
        for (
          const [args, want] of [
            [[`${docker.name}:/by-docker/.`, `${dir}/dot-n`], "dot"],
            [[`${docker.name}:/by-docker/plain.txt`, `${dir}/out-nsjoin`], "file-into-dir"],
          ] as const
        ) {
          await Deno.mkdir(`${dir}/dot-n`, { recursive: true });
          await Deno.mkdir(`${dir}/dot-d`, { recursive: true });
          const r = await cli(["cp", ...args]);
          assertEquals(r.code, 0, `${want}: ${r.stderr}`);
        }
        await must("docker", ["cp", `${docker.name}:/by-docker/.`, `${dir}/dot-d`]);
        // As docker's, the destination directory itself keeps its own metadata: its mtime is
        // when each copy wrote into it.
        assertSameTree(
          withoutTop(await snapshot(`${dir}/dot-n`)),
          withoutTop(asOurs(await snapshot(`${dir}/dot-d`))),
        );
        assertEquals(Deno.readTextFileSync(`${dir}/out-nsjoin/plain.txt`), "plain\n");
        const bad = await cli(["cp", `${docker.name}:/by-docker`, `${dir}/out-nsjoin/plain.txt`]);
        assertEquals(bad.code, 1);
        assertMatch(bad.stderr, /^nsjoin cp: Cannot copy a directory to a file/);
        const missing = await cli(["cp", `${docker.name}:/nope`, `${dir}/x`]);
        assertEquals(missing.code, 1);
        // Named as the user named it, not by the PID it was pinned through.
        assert(missing.stderr.includes(`Cannot copy ${docker.name}:/nope: ENOENT`), missing.stderr);
        assertEquals(missing.stderr.trim().split("\n").length, 1);
      });

      await t.step("tar streams: cp - and cp … - as docker cp's", async () => {
        const ours = await run("sh", [
          "-c",
          `mkdir ${dir}/tn && deno run -A ${CLI} cp ${docker.name}:/by-docker - | tar -C ${dir}/tn -xf -`,
        ]);
        assertEquals(ours.code, 0, ours.stderr);
        await must("sh", [
          "-c",
          `mkdir ${dir}/td && docker cp ${docker.name}:/by-docker - | tar -C ${dir}/td -xf -`,
        ]);
        // "." is the directory each was extracted into, made at different times.
        assertSameTree(
          withoutTop(await snapshot(`${dir}/tn`)),
          withoutTop(await snapshot(`${dir}/td`)),
        );
        // A tar made by GNU tar, extracted into an existing directory of the container.
        await Deno.mkdir(`${dir}/extract`);
        await copyTo(docker.pid, `${dir}/extract`, "/extract");
        const into = await run("sh", [
          "-c",
          `tar -C ${dir} -cf - tree | deno run -A ${CLI} cp -a - ${docker.pid}:/extract`,
        ]);
        assertEquals(into.code, 0, into.stderr);
        assertSameTree(await snapshot(`${root}/extract/tree`), source);
      });

      await t.step("podman: the same trees as podman cp's, both ways", async () => {
        const pod = await startBox("podman");
        boxes.push(pod);
        const proot = `/proc/${pod.pid}/root`;
        // podman 4.3's cp fails on hard links whose first name is elsewhere in the tree
        // ("copier: put: error creating …: link …: no such file or directory"): compare
        // without them.
        const ptree = `${dir}/ptree`;
        await must("cp", ["-a", tree, ptree]);
        await Deno.remove(`${ptree}/hard1`);
        await must("podman", ["cp", ptree, `${pod.name}:/by-podman`]);
        const r = await cli(["cp", "-a", ptree, `podman:${pod.name}:/by-nsjoin`]);
        assertEquals(r.code, 0, r.stderr);
        assertSameTree(
          withoutOwners(await snapshot(`${proot}/by-nsjoin`, Math.round)),
          withoutOwners(await snapshot(`${proot}/by-podman`, Math.round)),
        );
        await must("podman", ["cp", `${pod.name}:/by-podman`, `${dir}/pout-podman`]);
        const r2 = await cli(["cp", `podman:${pod.name}:/by-podman`, `${dir}/pout-nsjoin`]);
        assertEquals(r2.code, 0, r2.stderr);
        assertSameTree(
          withoutOwners(await snapshot(`${dir}/pout-nsjoin`, Math.round)),
          withoutOwners(asOurs(await snapshot(`${dir}/pout-podman`, Math.round))),
        );
      });

      await t.step("rootless podman: owners mapped through its user namespace", async () => {
        const pod = await startBox("podman", user);
        boxes.push(pod);
        const proot = `/proc/${pod.pid}/root`;
        const map = Deno.readTextFileSync(`/proc/${pod.pid}/uid_map`).trim().split("\n")
          .map((l) => l.trim().split(/\s+/).map(Number));
        const toHost = (id: number) => {
          const [i, o] = map.find(([i, _o, n]) => id >= i && id < i + n)!;
          return o + id - i;
        };
        await copyTo(pod.pid, `${tree}/plain.txt`, "/root-owned");
        assertEquals(Deno.lstatSync(`${proot}/root-owned`).uid, user.uid); // its root: the owner
        await copyTo(pod.pid, `${tree}/plain.txt`, "/kept", { archive: true });
        assertEquals(Deno.lstatSync(`${proot}/kept`).uid, toHost(1234));
        assertEquals(toHost(0), user.uid);
        await copyFrom(pod.pid, "/kept", `${dir}/from-rootless`, { archive: true });
        assertEquals(Deno.lstatSync(`${dir}/from-rootless`).uid, 1234); // the id inside
      });

      await t.step("a tmpfs only the container sees is reachable (docker cp cannot)", async () => {
        const tmp = `nsjoin-cp-${suffix()}`;
        await must("docker", [
          "run",
          "-d",
          "--name",
          tmp,
          "--tmpfs",
          "/scratch",
          IMAGE,
          "/tool",
          "sleep",
        ]);
        boxes.push({ cli: "docker", name: tmp, pid: 0 });
        const pid = Number((await must("docker", ["inspect", "-f", "{{.State.Pid}}", tmp])).trim());
        await copyTo(pid, `${tree}/plain.txt`, "/scratch/in-tmpfs");
        const mounts = Deno.readTextFileSync(`/proc/${pid}/mountinfo`);
        assertMatch(mounts, / \/scratch .* tmpfs /);
        await copyFrom(pid, "/scratch/in-tmpfs", `${dir}/back-from-tmpfs`);
        assertEquals(Deno.readTextFileSync(`${dir}/back-from-tmpfs`), "plain\n");
      });
    } finally {
      for (const b of boxes) await removeBox(b);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cp never leaves the container's root (CVE-2018-15664's symlinks and races)",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await ensureDistroless(podmanUser()!);
    const box = await startBox("docker");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-attack-" });
    const root = `/proc/${box.pid}/root`;
    // A host directory the container's symlinks point at; it exists on the host only.
    const hostDir = `${dir}/host-only`;
    await Deno.mkdir(hostDir);
    await Deno.writeTextFile(`${hostDir}/secret`, "HOST SECRET");
    try {
      await t.step("absolute and .. symlinks resolve inside the container", async () => {
        await Deno.mkdir(`${root}/w`);
        await Deno.symlink(hostDir, `${root}/w/abs`);
        await Deno.symlink(`../../../../../../..${hostDir}`, `${root}/w/up`);
        for (const link of ["abs", "up"]) {
          await assertRejects(
            () => copyFrom(box.pid, `/w/${link}/secret`, `${dir}/stolen-${link}`),
            Error,
            "ENOENT",
          );
          assertThrows(() => Deno.statSync(`${dir}/stolen-${link}`), Deno.errors.NotFound);
          await assertRejects(
            () => copyTo(box.pid, `${hostDir}/secret`, `/w/${link}/planted-${link}`),
            Error,
            "ENOENT",
          );
          assertThrows(() => Deno.statSync(`${hostDir}/planted-${link}`), Deno.errors.NotFound);
        }
        // -L on a symlink source follows it inside the container too.
        await assertRejects(
          () => copyFrom(box.pid, "/w/abs", `${dir}/l`, { followLink: true }),
          Error,
          "ENOENT",
        );
        // Without -L the link itself is copied, pointing where it pointed.
        await copyFrom(box.pid, "/w/abs", `${dir}/link-copy`);
        assertEquals(Deno.readLinkSync(`${dir}/link-copy`), hostDir);
      });

      await t.step("a container swapping a directory and a symlink in a loop", async () => {
        // /r/d is a real directory; /r/l a symlink to the host-only directory. The racer
        // exchanges them as fast as it can while we copy through /r/d both ways.
        await Deno.mkdir(`${root}/r/d`, { recursive: true });
        await Deno.writeTextFile(`${root}/r/d/secret`, "container file");
        await Deno.symlink(hostDir, `${root}/r/l`);
        const racer = new Deno.Command("docker", {
          args: ["exec", box.name, "/tool", "race", "/r/d", "/r/l"],
          stdout: "null",
          stderr: "null",
        }).spawn();
        try {
          await new Promise((r) => setTimeout(r, 300));
          let copied = 0;
          for (let i = 0; i < 300; i++) {
            const out = `${dir}/race-out-${i}`;
            try {
              await copyFrom(box.pid, "/r/d/secret", out);
              copied++;
              assertEquals(Deno.readTextFileSync(out), "container file");
            } catch (error) {
              assertMatch(String(error), /ENOENT|ENOTDIR/);
            }
            try {
              await copyTo(box.pid, `${dir}/race-out-0`, `/r/d/planted-${i}`);
            } catch {
              // The swap made /r/d a dangling link for this copy: fine.
            }
          }
          assert(copied > 0, "the race never let a copy through: the test proves nothing");
          const planted = [...Deno.readDirSync(hostDir)].map((e) => e.name);
          assertEquals(planted, ["secret"]);
        } finally {
          racer.kill("SIGKILL");
          await racer.status;
        }
      });

      await t.step("a FIFO or a device as the source: a clear error, no hang", async () => {
        await new Deno.Command("mkfifo", { args: [`${root}/fifo`] }).output();
        await new Deno.Command("mknod", { args: [`${root}/zero`, "c", "1", "5"] }).output();
        for (const [p, what] of [["/fifo", "a FIFO"], ["/zero", "a character device"]]) {
          const r = await cli(["cp", `${box.name}:${p}`, `${dir}/special`]);
          assertEquals(r.code, 1);
          assertEquals(
            r.stderr.trim(),
            `nsjoin cp: Cannot copy ${box.name}:${p}: it is ${what}, not a file or directory`,
          );
        }
      });

      await t.step("a device node inside a tree is not recreated on the host", async () => {
        await Deno.mkdir(`${root}/devdir`);
        await new Deno.Command("mknod", {
          args: ["-m", "666", `${root}/devdir/disk`, "b", "8", "0"],
        })
          .output();
        await assertRejects(
          () => copyFrom(box.pid, "/devdir", `${dir}/devcopy`),
          Error,
          "Cannot copy disk: it is a block device, refused on the host",
        );
        assertThrows(() => Deno.lstatSync(`${dir}/devcopy/disk`), Deno.errors.NotFound);
      });

      await t.step("a FIFO where a file is written is replaced, never opened", async () => {
        await copyTo(box.pid, `${hostDir}/secret`, "/fifo");
        assert(Deno.lstatSync(`${root}/fifo`).isFile);
        assertEquals(Deno.readTextFileSync(`${root}/fifo`), "HOST SECRET");
      });

      await t.step("tar entries with .. are refused", async () => {
        const evil = new ReadableStream<Uint8Array>({
          start(c) {
            const h = new Uint8Array(512);
            h.set(new TextEncoder().encode("../../../escape"), 0);
            h.set(new TextEncoder().encode("0000644\0"), 100);
            for (const at of [108, 116]) h.set(new TextEncoder().encode("0000000\0"), at);
            h.set(new TextEncoder().encode("00000000000\0"), 124);
            h.set(new TextEncoder().encode("00000000000\0"), 136);
            h[156] = 0x30;
            h.fill(0x20, 148, 156);
            const sum = h.reduce((a, b) => a + b, 0);
            h.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
            c.enqueue(h);
            c.enqueue(new Uint8Array(1024));
            c.close();
          },
        });
        await assertRejects(() => tarTo(box.pid, "/w", evil), Error, ".. component");
      });

      await t.step("a 2 GiB file streams in constant memory", async () => {
        const f = await Deno.open(`${root}/big`, { write: true, create: true });
        await f.truncate(2 * 2 ** 30);
        await f.seek((1 << 30) - 5, Deno.SeekMode.Start);
        await f.write(new TextEncoder().encode("MIDDLE"));
        f.close();
        for (const dest of [`${dir}/big`, "-"]) {
          const child = new Deno.Command(Deno.execPath(), {
            args: ["run", "-A", "--quiet", CLI, "cp", `${box.pid}:/big`, dest],
            stdout: "piped",
            stderr: "piped",
          }).spawn();
          let peak = 0;
          const poll = setInterval(() => {
            try {
              const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
              peak = Math.max(peak, Number(status.match(/VmHWM:\s+(\d+)/)?.[1] ?? 0));
            } catch {
              // exited
            }
          }, 10);
          let bytes = 0;
          for await (const c of child.stdout) bytes += c.length;
          const status = await child.status;
          clearInterval(poll);
          assert(
            status.success,
            new TextDecoder().decode(await new Response(child.stderr).arrayBuffer()),
          );
          if (dest === "-") {
            assertEquals(bytes, (2 * 2 ** 30) + 512 + 1024);
          } else {
            const st = Deno.statSync(`${dir}/big`);
            assertEquals(st.size, 2 * 2 ** 30);
            assert(st.blocks! * 512 < (1 << 20), "the copy lost its holes");
          }
          assert(peak > 0, "the process was never seen");
          assert(peak < 200 * 1024, `peak RSS ${peak} KiB for a 2 GiB copy to ${dest}`);
        }
      });
    } finally {
      await removeBox(box);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cp gives each new file its owner and mode even where the directory chooses another group",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // New files are made with their final bits and chown/chmod only where the new file
    // differs: a setgid directory gives a new file the directory's group, which must not
    // survive (into a target without -a, files belong to its root: 0:0 for our own PID).
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-own-" });
    try {
      await Deno.mkdir(`${dir}/src`);
      await Deno.writeTextFile(`${dir}/src/a`, "a");
      await Deno.chmod(`${dir}/src/a`, 0o640);
      await Deno.writeTextFile(`${dir}/src/b`, "b");
      await Deno.chmod(`${dir}/src/b`, 0o4755);
      await Deno.mkdir(`${dir}/dest`);
      await Deno.chown(`${dir}/dest`, 0, 4242);
      await Deno.chmod(`${dir}/dest`, 0o2775);
      await copyTo(Deno.pid, `${dir}/src/.`, `${dir}/dest`);
      const a = await Deno.lstat(`${dir}/dest/a`);
      const b = await Deno.lstat(`${dir}/dest/b`);
      assertEquals([a.uid, a.gid, a.mode! & 0o7777], [0, 0, 0o640]);
      assertEquals([b.uid, b.gid, b.mode! & 0o7777], [0, 0, 0o4755]);
      // With -a the source's owner, whatever group the directory would give.
      await Deno.chown(`${dir}/src/a`, 1234, 5678);
      await copyTo(Deno.pid, `${dir}/src/a`, `${dir}/dest/a2`, { archive: true });
      const a2 = await Deno.lstat(`${dir}/dest/a2`);
      assertEquals([a2.uid, a2.gid, a2.mode! & 0o7777], [1234, 5678, 0o640]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cp's library refuses a process that is gone and a bad target",
  ignore: !IS_ROOT && !CI,
  async fn() {
    const child = new Deno.Command("true").spawn();
    await child.status;
    await assertRejects(
      () => copyFrom(child.pid, "/etc/hostname", "/tmp/x"),
      NamespaceError,
      `Cannot pin process ${child.pid}: ESRCH`,
    );
    assertThrows(() => tarFrom("web" as unknown as number, "/"), TypeError);
  },
});

Deno.test({
  name: "a copy's missing path rejects with code ENOENT, as a NamespaceError says its errno",
  ignore: !IS_ROOT && !CI,
  async fn() {
    // A script that copies an optional file branches on the error: the class is not
    // exported, so `code` (NamespaceError's field) is what a caller can check.
    const { copyFrom: fromMod, NamespaceError: NsError } = await import("../mod.ts");
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-code-" });
    try {
      for (
        const [path, code] of [
          ["/nsjoin-no-such-file", "ENOENT"],
          ["/etc/hostname/x", "ENOTDIR"],
          // A colon in a name (a log's time stamp) said "Cannot copy P:/a:b: Cannot open …".
          ["/nsjoin-no-such-log-12:00:01.log", "ENOENT"],
        ]
      ) {
        const error: unknown = await fromMod(Deno.pid, path, `${dir}/out`).then(
          () => undefined,
          (e) => e,
        );
        assert(error instanceof Error && !(error instanceof NsError), String(error));
        const e = error as Error & { code?: string; errno?: number; syscall?: string };
        assertEquals([e.name, e.code], ["SyscallError", code], String(error));
        assertMatch(
          e.message,
          new RegExp(`^Cannot copy ${Deno.pid}:${path}: ${code} \\([^:]*\\)$`),
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "cp of a tree holding a /proc or /sys gives their mount points empty, as docker cp; a file of theirs is refused",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  async fn() {
    // `cp TARGET:/ -` of any container failed at its /proc: "Cannot find data in a file:
    // EINVAL" (SEEK_DATA), and /proc/kmsg read as root consumes the host's kernel log.
    await using target = await makeTarget({
      flags: ["-m", "--propagation", "private"],
      setup: "mount -t tmpfs none /mnt && mkdir /mnt/p /mnt/s /mnt/d && echo data > /mnt/d/f " +
        "&& mount -t proc proc /mnt/p && mount -t sysfs sysfs /mnt/s " +
        "&& touch /mnt/d/bound && mount --bind /proc/uptime /mnt/d/bound",
    });
    const r = await runPiped("sh", {
      args: [
        "-c",
        `"$0" run -A --quiet --no-lock "$1" cp ${target.pid}:/mnt - | tar -t`,
        Deno.execPath(),
        new URL("../cli.ts", import.meta.url).pathname,
      ],
      env: { NO_COLOR: "1" },
    });
    const names = r.stdout.trim().split("\n").sort();
    assertEquals(
      [r.code, r.stderr, names],
      [0, "", ["mnt/", "mnt/d/", "mnt/d/f", "mnt/p/", "mnt/s/"]],
    );
    for (const path of ["/mnt/p/uptime", "/mnt/d/bound"]) {
      const one = await cli(["cp", `${target.pid}:${path}`, "-"]);
      assertEquals(one.stdout, "");
      assertMatch(
        one.stderr,
        new RegExp(
          `^nsjoin cp: Cannot copy ${target.pid}:${path}: it is a file of the kernel's interfaces`,
        ),
      );
      assert(one.code !== 0);
    }
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-kfs-" });
    try {
      await copyFrom(target.pid, "/mnt", `${dir}/out`);
      assertEquals([...Deno.readDirSync(`${dir}/out/p`)], []);
      assertEquals(Deno.readTextFileSync(`${dir}/out/d/f`), "data\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "examples/tar_backup.ts archives a directory only the target's mount namespace has",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  async fn() {
    // A tmpfs mounted inside the target's own mount namespace: invisible on the host.
    await using target = await makeTarget({
      flags: ["-m", "--propagation", "private"],
      setup: "mount -t tmpfs none /mnt && mkdir /mnt/conf && echo inner > /mnt/conf/app.ini",
    });
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-tarex-" });
    try {
      const r = await run(Deno.execPath(), [
        "run",
        "-A",
        "--quiet",
        new URL("../examples/tar_backup.ts", import.meta.url).pathname,
        String(target.pid),
        "/mnt/conf",
        `${dir}/conf.tar`,
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals((await must("tar", ["-tf", `${dir}/conf.tar`])).trim().split("\n"), [
        "conf/",
        "conf/app.ini",
      ]);
      assertEquals(await must("tar", ["-xOf", `${dir}/conf.tar`, "conf/app.ini"]), "inner\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cp keeps extended attributes, directly and through a tar stream",
  ignore: !IS_ROOT && !CI,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-xattr-" });
    try {
      await Deno.mkdir(`${dir}/src`);
      await Deno.writeTextFile(`${dir}/src/f`, "x");
      const fd = openat2(AT_FDCWD, `${dir}/src/f`, O.RDONLY, 0n);
      try {
        setXattrs(fd, [["user.nsjoin", new TextEncoder().encode("kept")]]);
        if (getXattrs(fd).length === 0) {
          console.error("note: this filesystem has no user xattrs; nothing to check");
          return;
        }
      } finally {
        close(fd);
      }
      const read = (path: string) => {
        const f = openat2(AT_FDCWD, path, O.RDONLY, 0n);
        try {
          return getXattrs(f).map(([k, v]) => [k, new TextDecoder().decode(v)]);
        } finally {
          close(f);
        }
      };
      // Our own process as the target: its root is the host's.
      await copyTo(Deno.pid, `${dir}/src`, `${dir}/direct`);
      assertEquals(read(`${dir}/direct/f`), [["user.nsjoin", "kept"]]);
      await Deno.mkdir(`${dir}/untar`);
      await tarTo(Deno.pid, `${dir}/untar`, tarFrom(Deno.pid, `${dir}/src`));
      assertEquals(read(`${dir}/untar/src/f`), [["user.nsjoin", "kept"]]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "cp works with a containerd task and the CLI's usage errors are one line",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await t.step("usage errors: exit 2, one line", async () => {
      for (
        const args of [["cp", "a:/x", "b:/y"], ["cp", "/x", "/y"], ["cp", "a:/x"], [
          "cp",
          "--nope",
          "a:/x",
          "/y",
        ]]
      ) {
        const r = await cli(args);
        assertEquals(r.code, 2, args.join(" "));
        assertMatch(r.stderr, /^nsjoin cp: .*\(see: nsjoin cp --help\)\n$/);
      }
      const netns = await cli(["cp", "netns:x:/etc", "/tmp/y"]);
      assertEquals(netns.code, 2);
    });

    await t.step("containerd:ID both ways, checked with ctr task exec", async () => {
      await ensureImages(podmanUser()!);
      const id = `nsjoin-cp-${suffix()}`;
      const dir = await Deno.makeTempDir({ prefix: "nsjoin-cp-ctr-" });
      try {
        await startCtr(id);
        await Deno.writeTextFile(`${dir}/in.txt`, "to containerd\n");
        const r = await cli(["cp", `${dir}/in.txt`, `containerd:${id}:/tmp/in.txt`]);
        assertEquals(r.code, 0, r.stderr);
        assertEquals((await ctrExec(id, ["/bin/cat", "/tmp/in.txt"])).stdout, "to containerd\n");
        const r2 = await cli(["cp", `containerd:${id}:/etc/passwd`, `${dir}/passwd`]);
        assertEquals(r2.code, 0, r2.stderr);
        assertEquals(
          Deno.readTextFileSync(`${dir}/passwd`),
          (await ctrExec(id, ["/bin/cat", "/etc/passwd"])).stdout,
        );
      } finally {
        await removeCtr(id);
        await Deno.remove(dir, { recursive: true });
      }
    });
  },
});

Deno.test({
  name: "cp TARGET:DIR - into a reader that stops early ends as tar does: 141, no message",
  ignore: !IS_ROOT && !CI,
  async fn() {
    await using t = await makeTarget();
    // `| head -c 10` closes the pipe long before /usr/bin's tar stream ends.
    const run = async (cmd: string) => {
      const out = await new Deno.Command("bash", {
        args: ["-c", `${cmd} | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      return { status: d.decode(out.stdout).trim(), stderr: d.decode(out.stderr) };
    };
    const tar = await run("tar -C / -cf - usr/bin");
    const ours = await run(
      `${Deno.execPath()} run -A --quiet ${CLI} cp ${t.pid}:/usr/bin -`,
    );
    assertEquals(tar, { status: "141", stderr: "" });
    assertEquals(ours, tar);
  },
});
