/**
 * `ls` and listNamespaces against util-linux lsns on the same machine at the same moment,
 * on the machine as it is and with namespaces the tests make (user namespaces nested three
 * deep, bind-mounted and fd-held network namespaces, a pid namespace of several processes).
 */
import {
  assert,
  assertEquals,
  assertMatch,
  cli,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
  sh,
  type TestTarget,
  testUser,
  text,
  userDeno,
} from "./_fixtures.ts";
import { listNamespaces, namespaceTree } from "../src/listing.ts";
import { parseLsArgs } from "../src/cli/ls.ts";

interface Row {
  ns: number;
  type: string;
  pid: number | null;
  nprocs?: number;
  children?: Row[];
  [key: string]: unknown;
}

function flatten(rows: Row[], parent = 0, out: { row: Row; parent: number }[] = []) {
  for (const row of rows) {
    out.push({ row, parent });
    flatten(row.children ?? [], row.ns, out);
  }
  return out;
}

/**
 * Runs lsns (or setpriv … lsns). lsns 2.38 gives up with exit 1 and no output when a
 * process exits while it reads it (fixed in later util-linux): run it again then.
 */
async function lsns(cmd: string, args: string[]): Promise<string> {
  for (let attempt = 1;; attempt++) {
    try {
      return await sh(cmd, args);
    } catch (error) {
      if (attempt >= 5) throw error;
    }
  }
}

async function lsnsJson(args: string[], uid?: number): Promise<Row[]> {
  const cmd = uid === undefined ? "lsns" : "setpriv";
  const pre = uid === undefined
    ? []
    : [`--reuid=${uid}`, `--regid=${uid}`, "--clear-groups", "lsns"];
  return JSON.parse(await lsns(cmd, [...pre, "-J", ...args])).namespaces;
}

const key = (r: Row) => `${r.ns} ${r.type} ${r.pid}`;

/**
 * lsns, then ours, then lsns again: every row both lsns runs show (same NS, TYPE and PID)
 * must be in ours, with the same NPROCS where both lsns runs agree — and, with `parents`,
 * under the same parent row where both agree (`parents` accepts a known difference). A
 * later lsns run would not do: a namespace can end or a process be reparented after ours.
 * Other tests make and end processes meanwhile, so a mismatch is retried a few times
 * before it counts.
 */
async function differential(
  args: string[],
  opts: { uid?: number; gid?: number; parents?: (got: number, want: number) => boolean } = {},
): Promise<{ ours: Row[]; stderr: string; stable: Row[] }> {
  let last = "";
  for (let attempt = 0; attempt < 5; attempt++) {
    const before = await lsnsJson(args, opts.uid);
    const out = await cli(["ls", "--json", ...args], opts);
    const after = await lsnsJson(args, opts.uid);
    assertEquals(out.code, 0, out.stderr);
    const ours: Row[] = JSON.parse(out.stdout).namespaces;
    const mine = new Map(flatten(ours).map((x) => [key(x.row), x]));
    const afterRows = new Map(flatten(after).map((x) => [key(x.row), x]));
    const stable = flatten(before).filter((x) => afterRows.has(key(x.row)));
    const problems: string[] = [];
    for (const { row: r, parent } of stable) {
      const m = mine.get(key(r));
      const then = afterRows.get(key(r))!;
      if (!m) problems.push(`missing ${key(r)}`);
      else if (r.nprocs !== undefined && r.nprocs === then.row.nprocs) {
        if (m.row.nprocs !== r.nprocs) {
          problems.push(`${key(r)}: nprocs ${m.row.nprocs} ≠ ${r.nprocs}`);
        }
      }
      if (m && opts.parents && parent === then.parent && m.parent !== parent) {
        if (!opts.parents(m.parent, parent)) {
          problems.push(`${key(r)}: parent row ${m.parent} ≠ ${parent}`);
        }
      }
    }
    if (problems.length === 0) {
      return { ours, stderr: out.stderr, stable: stable.map((x) => x.row) };
    }
    last = problems.join("; ");
  }
  throw new Error(`ls --json disagrees with lsns -J: ${last}`);
}

/** Namespaces the tests make: 20+ of every kind lsns and ls should see. */
interface World {
  targets: TestTarget[];
  /** user namespaces A ⊃ B ⊃ C, held only by the process in C (and C's uts). */
  chain: { pid: number; a: number; b: number; c: number; uts: number };
  /** A pid namespace with three processes. */
  crowd: TestTarget;
  /** A network namespace bind-mounted at /run/netns/NAME, with an nsid the test chose. */
  mounted: { name: string; ino: number; nsid: number };
  /** A bind-mounted network namespace (with its nsid) with a process in it. */
  busy: { name: string; pid: number; nsid: number };
  /** A network namespace bind-mounted on `file` only in the private mount ns of `pid`. */
  privateMount: { pid: number; file: string; ino: number };
  /** A network namespace held only by fd 3 of a process. */
  fdHeld: { ino: number; pid: number; child: Deno.ChildProcess };
  dispose(): Promise<void>;
}

const ino = (link: string) => Number(link.slice(link.indexOf("[") + 1, -1));

async function makeWorld(): Promise<World> {
  const targets: TestTarget[] = [];
  const cleanups: (() => Promise<void> | void)[] = [];
  const dispose = async () => {
    for (const c of cleanups.reverse()) await c();
  };
  try {
    for (let i = 0; i < 2; i++) targets.push(await makeTarget());
    cleanups.push(() => Promise.all(targets.map((t) => t.kill())).then(() => {}));
    const crowd = await makeTarget({
      setup: "sleep 100000 >/dev/null & sleep 100000 >/dev/null & true",
    });
    targets.push(crowd);
    // unshare -U execs unshare -U execs sleep: A and B keep no process, only C.
    const chainProc = new Deno.Command("unshare", {
      args: ["-U", "-r", "unshare", "-U", "-r", "unshare", "-U", "-r", "-u", "sleep", "100000"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    cleanups.push(async () => {
      try {
        chainProc.kill("SIGKILL");
      } catch {
        // Gone.
      }
      await chainProc.status;
    });
    const pid = chainProc.pid;
    let c = 0;
    for (let i = 0; i < 200; i++) {
      // Wait until the last exec: comm is "sleep".
      if (Deno.readTextFileSync(`/proc/${pid}/comm`).trim() === "sleep") {
        c = ino(Deno.readLinkSync(`/proc/${pid}/ns/user`));
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    assert(c > 0, "the nested unshare did not reach sleep");
    const parentOf = (n: number): number => {
      const found = namespaceTree({ by: "parent", types: ["user"] });
      const all = new Map<number, number>();
      const walk = (nodes: typeof found) =>
        nodes.forEach((x) => {
          all.set(x.ns, x.pns);
          walk(x.children);
        });
      walk(found);
      return all.get(n) ?? 0;
    };
    const b = parentOf(c);
    const a = parentOf(b);
    const uts = ino(Deno.readLinkSync(`/proc/${pid}/ns/uts`));
    const name = `nsjoin-ls-${Deno.pid}`;
    await sh("ip", ["netns", "add", name]);
    cleanups.push(() => sh("ip", ["netns", "del", name]).then(() => {}, () => {}));
    // nsids no other namespace has (engines and other tests assign small ones).
    const used = new Set(
      [...(await sh("ip", ["netns", "list-id"])).matchAll(/nsid (\d+)/g)].map((m) => Number(m[1])),
    );
    const free: number[] = [];
    while (free.length < 2) {
      const n = 1000 + Math.floor(Math.random() * 60000);
      if (!used.has(n) && !free.includes(n)) free.push(n);
    }
    await sh("ip", ["netns", "set", name, String(free[0])]);
    const mountedIno = Deno.statSync(`/run/netns/${name}`).ino!;
    // A third netns, bind-mounted with nsid 8 and with a process in it (ip netns exec).
    const busy = `${name}-proc`;
    await sh("ip", ["netns", "add", busy]);
    cleanups.push(() => sh("ip", ["netns", "del", busy]).then(() => {}, () => {}));
    await sh("ip", ["netns", "set", busy, String(free[1])]);
    const inBusy = new Deno.Command("ip", {
      args: ["netns", "exec", busy, "sleep", "100000"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    cleanups.push(async () => {
      try {
        inBusy.kill("SIGKILL");
      } catch {
        // Gone.
      }
      await inBusy.status;
    });
    const busyIno = Deno.statSync(`/run/netns/${busy}`).ino!;
    for (let i = 0; i < 200; i++) {
      try {
        if (ino(Deno.readLinkSync(`/proc/${inBusy.pid}/ns/net`)) === busyIno) break;
      } catch {
        // Not yet exec'd.
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    // A fourth, bind-mounted only inside a private mount namespace (as in a container).
    const file = await Deno.makeTempFile({ prefix: "nsjoin-ls-" });
    cleanups.push(() => Deno.remove(file).catch(() => {}));
    const hider = new Deno.Command("unshare", {
      args: [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `unshare -n mount --bind /proc/self/ns/net ${file} && echo ok; exec sleep 100000`,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    cleanups.push(async () => {
      try {
        hider.kill("SIGKILL");
      } catch {
        // Gone.
      }
      await hider.status;
    });
    const hiderOut = hider.stdout.getReader();
    await hiderOut.read();
    hiderOut.releaseLock();
    hider.stdout.cancel().catch(() => {});
    const privateLine = Deno.readTextFileSync(`/proc/${hider.pid}/mountinfo`).split("\n")
      .find((l) => l.includes(" - nsfs ") && l.includes(file))!;
    const privateIno = ino(privateLine.split(" ")[3]);

    // A second netns, opened by a sleeping process as fd 3, then unmounted: the fd holds it.
    const held = `${name}-fd`;
    await sh("ip", ["netns", "add", held]);
    // Deleted below once the fd holds it; this is for a failure before that.
    cleanups.push(() => sh("ip", ["netns", "del", held]).then(() => {}, () => {}));
    const heldIno = Deno.statSync(`/run/netns/${held}`).ino!;
    const child = new Deno.Command("sh", {
      args: ["-c", `exec 3</run/netns/${held}; echo ok; exec sleep 100000`],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    cleanups.push(async () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone.
      }
      await child.status;
    });
    const reader = child.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    child.stdout.cancel().catch(() => {});
    await sh("ip", ["netns", "del", held]);
    return {
      targets,
      chain: { pid, a, b, c, uts },
      crowd,
      mounted: { name, ino: mountedIno, nsid: free[0] },
      busy: { name: busy, pid: inBusy.pid, nsid: free[1] },
      privateMount: { pid: hider.pid, file, ino: privateIno },
      fdHeld: { ino: heldIno, pid: child.pid, child },
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

Deno.test({
  name: "ls --json lists every namespace lsns -J lists, with the same NS, TYPE, PID and NPROCS",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await t.step("on the machine as it is", async () => {
      const { stable } = await differential(["-o", "NS,TYPE,PID,NPROCS"]);
      assert(stable.length >= 8, "lsns should list at least the eight initial namespaces");
    });

    const world = await makeWorld();
    try {
      await t.step("with 20+ namespaces the test made", async () => {
        const { ours, stable } = await differential(["-o", "NS,TYPE,PID,NPROCS"]);
        const made = new Set(
          world.targets.flatMap((x) =>
            ["mnt", "uts", "ipc", "net", "pid", "cgroup"].map((type) =>
              ino(Deno.readLinkSync(`/proc/${x.pid}/ns/${type}`))
            )
          ),
        );
        made.add(world.chain.c).add(world.chain.uts);
        for (const n of made) assert(stable.some((r) => r.ns === n), `lsns does not list ${n}`);
        const extra = [
          world.chain.a,
          world.chain.b,
          world.mounted.ino,
          world.fdHeld.ino,
          world.privateMount.ino,
        ];
        const mine = new Set(ours.map((r) => r.ns));
        for (const n of [...made, ...extra]) assert(mine.has(n), `ls does not list ${n}`);
        assert(made.size + extra.length >= 20, `only ${made.size + extra.length} namespaces made`);
        const crowdPid = ino(Deno.readLinkSync(`/proc/${world.crowd.pid}/ns/pid`));
        assertEquals(ours.find((r) => r.ns === crowdPid)?.nprocs, 3);
      });

      await t.step("with lsns's default columns and process-tree nesting", async () => {
        // Same nesting: the parent row of each stable row is the same in both.
        const { ours } = await differential([], { parents: () => false });
        assertEquals(Object.keys(ours[0]), ["ns", "type", "nprocs", "pid", "user", "command"]);
      });

      await t.step("with --tree=owner and --tree=parent, nested as lsns nests them", async () => {
        // lsns 2.38 cannot see the processless ancestors A and B: C hangs at its top level.
        const hidden = new Set([0, world.chain.a, world.chain.b]);
        for (const tree of ["--tree=owner", "--tree=parent"]) {
          await differential([tree, "-o", "NS,TYPE,PNS,ONS"], {
            parents: (got, want) => want === 0 && hidden.has(got),
          });
        }
      });

      await t.step("with -t net, the keys lsns -J -t net has", async () => {
        const { ours } = await differential(["-t", "net"]);
        const lsns = await lsnsJson(["-t", "net"]);
        assertEquals(Object.keys(ours[0]), Object.keys(lsns[0]));
        assert(ours.every((r) => r.type === "net"));
      });

      await t.step("and the namespaces lsns cannot see: bind mounts, fds, ancestors", () => {
        const { namespaces } = listNamespaces();
        const byIno = new Map(namespaces.map((e) => [e.ns, e]));
        const mounted = byIno.get(world.mounted.ino)!;
        assertEquals(mounted.holder, "mount");
        assertEquals(mounted.path, `/run/netns/${world.mounted.name}`);
        assertEquals(mounted.nsfs, [`/run/netns/${world.mounted.name}`]);
        assertEquals(mounted.netnsid, world.mounted.nsid);
        assertEquals(mounted.nprocs, 0);
        const hidden = byIno.get(world.privateMount.ino)!;
        assertEquals(hidden.holder, "mount");
        assertEquals(hidden.path, `/proc/${world.privateMount.pid}/root${world.privateMount.file}`);
        assertEquals(hidden.nsfs, []);
        const held = byIno.get(world.fdHeld.ino)!;
        assertEquals(held.holder, "fd");
        assertEquals(held.path, `/proc/${world.fdHeld.pid}/fd/3`);
        assertEquals(held.type, "net");
        for (const n of [world.chain.a, world.chain.b]) {
          assertEquals(byIno.get(n)?.holder, "ancestor");
          assertEquals(byIno.get(n)?.type, "user");
          assertEquals(byIno.get(n)?.uid, 0);
        }
      });

      await t.step(
        "ls --tree=parent nests the user namespaces as the test built them",
        async () => {
          const out = await cli(["ls", "--json", "--tree=parent", "-t", "user", "-o", "NS,PNS"]);
          assertEquals(out.code, 0, out.stderr);
          const rows = flatten(JSON.parse(out.stdout).namespaces);
          const parent = new Map(rows.map(({ row, parent }) => [row.ns, parent]));
          const init = ino(Deno.readLinkSync("/proc/self/ns/user"));
          assertEquals(parent.get(world.chain.c), world.chain.b);
          assertEquals(parent.get(world.chain.b), world.chain.a);
          assertEquals(parent.get(world.chain.a), init);
          assertEquals(parent.get(init), 0);
          assertEquals(rows.find(({ row }) => row.ns === world.chain.c)?.row.pns, world.chain.b);
        },
      );

      await t.step("namespaceTree by owner puts C's uts namespace under C", () => {
        const roots = namespaceTree({ by: "owner", types: ["user", "uts"] });
        const path: number[] = [];
        const find = (nodes: typeof roots, trail: number[]): boolean =>
          nodes.some((n) =>
            n.ns === world.chain.uts
              ? (path.push(...trail, n.ns), true)
              : find(n.children, [...trail, n.ns])
          );
        assert(find(roots, []), "uts namespace not in the tree");
        const init = ino(Deno.readLinkSync("/proc/self/ns/user"));
        assertEquals(path, [init, world.chain.a, world.chain.b, world.chain.c, world.chain.uts]);
      });

      await t.step(
        "every column (--output-all) of the test's own namespaces equals lsns -J",
        async () => {
          const own = ["mnt", "uts", "ipc", "net", "pid", "cgroup"].flatMap((x) => ["-t", x]);
          // ip netns exec made only net and mnt namespaces: the rest are the host's, whose
          // NPROCS change while other tests run.
          const cases = [[world.crowd.pid, own], [world.busy.pid, ["-t", "net", "-t", "mnt"]]];
          for (const [pid, types] of cases as [number, string[]][]) {
            const args = ["-J", "-l", "--output-all", "-p", String(pid), ...types];
            const ours = await cli(["ls", ...args]);
            assertEquals(ours.code, 0, ours.stderr);
            assertEquals(JSON.parse(ours.stdout), JSON.parse(await lsns("lsns", args)));
          }
          // The bind mount and the nsid the test gave it, as lsns shows them.
          const net = await cli(["ls", "--json", "-l", "-p", String(world.busy.pid), "-t", "net"]);
          const row = JSON.parse(net.stdout).namespaces[0];
          assertEquals([row.nsfs, row.netnsid], [
            `/run/netns/${world.busy.name}`,
            String(world.busy.nsid),
          ]);
          // HOLDER, ours: the mounted netns without a process says what keeps it.
          const holder = await cli(["ls", "--json", "-l", "-t", "net", "-o", "NS,HOLDER"]);
          const rows: Row[] = JSON.parse(holder.stdout).namespaces;
          assertEquals(rows.find((r) => r.ns === world.mounted.ino)?.holder, "mount");
          assertEquals(rows.find((r) => r.ns === world.fdHeld.ino)?.holder, "fd");
        },
      );

      await t.step("ls NS lists the processes of one namespace as lsns NS does", async () => {
        const pidns = String(ino(Deno.readLinkSync(`/proc/${world.crowd.pid}/ns/pid`)));
        for (const args of [[pidns], ["-l", pidns], ["-o", "PID,PPID,UID,NS,TYPE,PATH", pidns]]) {
          const out = await cli(["ls", "--json", ...args]);
          assertEquals(out.code, 0, out.stderr);
          assertEquals(JSON.parse(out.stdout), JSON.parse(await lsns("lsns", ["-J", ...args])));
        }
        // The namespace's init with its two background sleeps nested under it.
        const tree: Row[] = JSON.parse((await cli(["ls", "--json", pidns])).stdout).namespaces;
        assertEquals(tree.map((r) => r.pid), [world.crowd.pid]);
        assertEquals(tree[0].children?.map((r) => r.ppid), [world.crowd.pid, world.crowd.pid]);
      });

      await t.step("ls -p PID shows that process's namespaces only", async () => {
        const out = await cli([
          "ls",
          "--json",
          "-l",
          "-p",
          String(world.crowd.pid),
          "-o",
          "NS,TYPE",
        ]);
        assertEquals(out.code, 0, out.stderr);
        const rows: Row[] = JSON.parse(out.stdout).namespaces;
        const want = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"].map((type) =>
          ino(Deno.readLinkSync(`/proc/${world.crowd.pid}/ns/${type}`))
        ).sort((a, b) => a - b);
        assertEquals(rows.map((r) => r.ns), want);
      });
    } finally {
      await world.dispose();
    }
  },
});

Deno.test({
  name: "ls prints lsns's table: header, alignment, -n, -r, no colour off a terminal",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    const pid = String(target.pid);
    await t.step("the same header and rows as lsns for one process", async () => {
      // Only the target's own namespaces: the host's NPROCS change while other tests run.
      const own = ["-t", "mnt", "-t", "uts", "-t", "ipc", "-t", "net", "-t", "pid"];
      const args = ["-l", "-p", pid, ...own, "-o", "NS,TYPE,NPROCS,PID,USER,COMMAND"];
      const ours = await cli(["ls", ...args]);
      const theirs = await lsns("lsns", args);
      assertEquals(ours.code, 0, ours.stderr);
      // The same cells; widths may differ where libsmartcols applies its width hints.
      const cells = (t: string) => t.trimEnd().split("\n").map((l) => l.trim().split(/ +/));
      assertEquals(cells(ours.stdout), cells(theirs));
      assertMatch(ours.stdout, /^ +NS TYPE +NPROCS +PID USER +COMMAND\n/);
      assertMatch(ours.stdout, /^\d{10} mnt +2 +\d+ root +\S/m);
      assert(!ours.stdout.includes("\x1b"), "colour off a terminal");
    });
    await t.step("-n drops the header, -r aligns nothing and escapes blanks", async () => {
      const n = await cli(["ls", "-n", "-l", "-p", pid]);
      assert(!n.stdout.includes("NPROCS"));
      const r = await cli(["ls", "-r", "-l", "-p", pid, "-o", "NS,COMMAND"]);
      const theirs = await lsns("lsns", ["-r", "-l", "-p", pid, "-o", "NS,COMMAND"]);
      assertEquals(r.stdout, theirs);
      assertMatch(r.stdout, /sleep\\x20100000/);
    });
  },
});

Deno.test({
  name: "ls colours its header on a terminal only without NO_COLOR, and fits COMMAND to it",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    // script(1) gives the CLI a pseudo-terminal of 70 columns.
    const onTty = async (env: Record<string, string>) => {
      const cmd = `stty cols 70; ${Deno.execPath()} run -A --quiet --no-lock ${ROOT}cli.ts ` +
        `ls -l -p ${target.pid} -t mnt -t uts`;
      const out = await new Deno.Command("script", {
        args: ["-qec", cmd, "/dev/null"],
        clearEnv: true,
        env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", HOME: "/root", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(out.code, 0, text(out.stderr));
      return text(out.stdout).replaceAll("\r", "");
    };
    await t.step("bold header on a terminal", async () => {
      const out = await onTty({});
      const bold = "\x1b[1m", reset = "\x1b[0m";
      assert(out.startsWith(bold), out);
      // stderr shares the terminal: leave its notes out.
      const plain = out.replaceAll(bold, "").replaceAll(reset, "").trimEnd().split("\n")
        .filter((l) => !l.startsWith("nsjoin ls: note:"));
      assertMatch(plain[0], /^ +NS TYPE/);
      assert(plain.every((l) => l.length <= 70), `a line is wider than the terminal:\n${out}`);
      // unshare's long command line is cut to fit, not wrapped.
      assert(plain.some((l) => /\/usr\/bin\/unshare -m -u/.test(l)));
    });
    await t.step("no colour with NO_COLOR", async () => {
      const out = await onTty({ NO_COLOR: "1" });
      assert(!out.includes("\x1b"), out);
      assertMatch(out, /^ +NS TYPE/);
    });
  },
});

Deno.test({
  name:
    "ls as a non-root user lists what lsns lists, silent as lsns; --notes counts the unreadable",
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    await using mine = await makeTarget({
      user,
      flags: ["-U", "-r", "-n", "-u", "--fork"],
    });
    const { ours, stderr } = await differential(["-o", "NS,TYPE,PID,NPROCS"], {
      uid: user.uid,
      gid: user.gid,
    });
    const net = ino(Deno.readLinkSync(`/proc/${mine.pid}/ns/net`));
    assert(ours.some((r) => r.ns === net), "the user's own network namespace is listed");
    // lsns says nothing about what it could not read; scripts capture stderr.
    assertEquals(stderr, "");
    // Root's processes (kernel threads at least) may not be read by the test user.
    const noted = await cli(["ls", "--notes", "-o", "NS"], { uid: user.uid, gid: user.gid });
    assertEquals(noted.code, 0);
    assertMatch(noted.stderr, /note: [1-9][0-9]* process(es were| was) unreadable/);
  },
});

Deno.test({
  name: "ls under /proc mounted hidepid=2 lists what lsns lists there and says why it sees less",
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    const { deno, denoDir } = userDeno();
    // A private mount namespace whose /proc hides other users' processes; then the test user.
    const inHidden = async (cmd: string[]) => {
      const out = await new Deno.Command("unshare", {
        args: [
          "-m",
          "sh",
          "-c",
          'mount -t proc -o hidepid=2 proc /proc && exec "$@"',
          "sh",
          "setpriv",
          `--reuid=${user.uid}`,
          `--regid=${user.gid}`,
          "--clear-groups",
          ...cmd,
        ],
        cwd: "/",
        env: { NO_COLOR: "1", DENO_DIR: denoDir },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
    };
    await using mine = await makeTarget({ user, flags: ["-U", "-r", "-u"] });
    const cols = ["-o", "NS,TYPE,PID,NPROCS"];
    const ourCmd = [
      ...[deno, "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`],
      ...["ls", "--json", "--notes"],
    ];
    // The lister is a process too (lsns there, deno here): compare NS and TYPE, and the PID
    // where it is the test's process; ls adds bind-mounted namespaces (no PID) on top.
    // Other tests start and end the test user's processes: retry a mismatch a few times.
    const nsType = (r: Row) => `${r.ns} ${r.type}`;
    let lsns: Row[] = [], rows: Row[] = [], stderr = "";
    for (let attempt = 0; attempt < 5; attempt++) {
      const theirs = await inHidden(["lsns", "-J", ...cols]);
      if (theirs.code !== 0) continue; // lsns 2.38 gives up when a process exits under it
      lsns = JSON.parse(theirs.stdout).namespaces;
      const ours = await inHidden([...ourCmd, ...cols]);
      assertEquals(ours.code, 0, ours.stderr);
      rows = JSON.parse(ours.stdout).namespaces;
      stderr = ours.stderr;
      const a = rows.filter((r) => r.pid !== null).map(nsType).sort().join();
      if (a === lsns.map(nsType).sort().join()) break;
    }
    const withProcess = rows.filter((r) => r.pid !== null);
    assertEquals(withProcess.map(nsType).sort(), lsns.map(nsType).sort());
    const uts = ino(Deno.readLinkSync(`/proc/${mine.pid}/ns/uts`));
    assertEquals(rows.find((r) => r.ns === uts)?.pid, mine.pid);
    assertEquals(lsns.find((r) => r.ns === uts)?.pid, mine.pid);
    assert(rows.every((r) => r.nprocs! < 20), "only the user's own processes are visible");
    assertMatch(stderr, /note: \/proc is mounted with hidepid=invisible/);
  },
});

Deno.test({
  name: "listNamespaces survives processes that exit during the scan",
  async fn() {
    const churn = new Deno.Command("sh", {
      args: ["-c", "while :; do /bin/true & /bin/true & wait; done"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 40; i++) {
        const listing = listNamespaces();
        assert(listing.namespaces.some((e) => e.type === "user" && e.pns === 0 && e.nprocs > 0));
      }
    } finally {
      churn.kill("SIGKILL");
      await churn.status;
    }
  },
});

Deno.test("ls rejects bad usage with exit 2 and one line", async (t) => {
  for (
    const [args, pattern] of [
      [["-t", "bogus"], /unknown namespace type: bogus/],
      [["-o", "NS,NOPE"], /unknown column: NOPE/],
      [["--json", "--raw"], /exclusive/],
      [["--tree=sideways"], /unknown tree type/],
      [["-p", "abc"], /invalid PID/],
    ] as const
  ) {
    await t.step(args.join(" "), async () => {
      const out = await cli(["ls", ...args]);
      assertEquals(out.code, 2);
      assertEquals(out.stderr.trim().split("\n").length, 1);
      assertMatch(out.stderr, pattern);
    });
  }
});

Deno.test("ls -p of a process that does not exist prints what lsns prints, exit 0", async () => {
  for (const args of [["-p", "999999999"], ["-J", "-p", "999999999"]]) {
    const ours = await cli(["ls", ...args]);
    // lsns 2.38 gives up (exit 1, nothing printed) when a process ends while it reads.
    let theirs = await runPiped("lsns", { args });
    for (let i = 0; i < 4 && theirs.code === 1 && !theirs.stdout; i++) {
      theirs = await runPiped("lsns", { args });
    }
    assertEquals([ours.code, ours.stdout], [theirs.code, theirs.stdout]);
    // -p named the process: one line says why nothing is listed (lsns says nothing).
    assertEquals(ours.stderr, "nsjoin ls: note: no process 999999999\n");
  }
});

Deno.test("parseLsArgs takes lsns's options", () => {
  assertEquals(parseLsArgs([]).columns, ["NS", "TYPE", "NPROCS", "PID", "USER", "COMMAND"]);
  assertEquals(parseLsArgs([]).tree, "process");
  assertEquals(parseLsArgs(["-l"]).tree, undefined);
  assertEquals(parseLsArgs(["--tree"]).tree, "owner");
  assertEquals(parseLsArgs(["-Tparent"]).tree, "parent");
  assertEquals(parseLsArgs(["-t", "net"]).columns, [
    "NS",
    "TYPE",
    "NPROCS",
    "PID",
    "USER",
    "NETNSID",
    "NSFS",
    "COMMAND",
  ]);
  assertEquals(parseLsArgs(["-o", "+pns,ONS"]).columns.slice(-2), ["PNS", "ONS"]);
  assertEquals(parseLsArgs(["-o", "NS,holder"]).columns, ["NS", "HOLDER"]);
  assert(!parseLsArgs(["--output-all"]).columns.includes("HOLDER"), "lsns has no HOLDER");
  assertEquals(parseLsArgs(["-t", "pid", "-t", "user"]).types, ["pid", "user"]);
  assertEquals(parseLsArgs(["-r"]).noWrap, true);
});

/** A printf(1) format that prints `s` exactly: every byte but plain ASCII as \ooo. */
function _printfFormat(s: string): string {
  let out = "";
  for (const b of new TextEncoder().encode(s)) {
    out += b >= 0x30 && b <= 0x7a && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\${b.toString(8).padStart(3, "0")}`;
  }
  return out;
}

/** lsns (retried as {@link lsns}) with extra environment, e.g. LANG=C. */
async function lsnsEnv(args: string[], env: Record<string, string>): Promise<string> {
  for (let attempt = 1;; attempt++) {
    const out = await runPiped("lsns", { args, env });
    if (out.code === 0 || attempt >= 5) return out.stdout;
  }
}

Deno.test({
  name: "ls prints what lsns 2.38 prints for the same arguments, where 2.38 has the feature",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const tag = `nsjoin-ls-${crypto.randomUUID().slice(0, 8)}`;
    // A process whose argv holds a newline, a tab, ESC, BEL, a non-ASCII letter and a
    // backslash before "x": the escaping must be lsns's byte for byte.
    const evil = "evil\nrow\tx\x1b[31mred\x07bell é\\x41";
    await using hostile = await makeTarget({
      flags: ["-u", "-n"],
      // dash has no `exec -a`: bash sets argv[0].
      setup: `echo ready:$$; exec bash -c 'exec -a "$(printf "$0")" sleep 100000' ` +
        `'${_printfFormat(evil)}'`,
    });
    // Not a vacuous comparison: the process is there with that argv.
    for (let i = 0; i < 200; i++) {
      if (Deno.readTextFileSync(`/proc/${hostile.pid}/cmdline`).startsWith(evil)) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    assertEquals(Deno.readTextFileSync(`/proc/${hostile.pid}/cmdline`), `${evil}\x00100000\x00`);
    // A network namespace with a process and two nsfs mount points.
    await sh("ip", ["netns", "add", tag]);
    const second = `/tmp/${tag}-second`;
    Deno.writeTextFileSync(second, "");
    await sh("mount", ["--bind", `/run/netns/${tag}`, second]);
    const inNet = new Deno.Command("ip", {
      args: ["netns", "exec", tag, "sleep", "100000"],
      stdin: "null",
    }).spawn();
    try {
      const pid = String(hostile.pid);
      const own = ["-t", "uts", "-t", "net"];
      await t.step("COMMAND with control bytes: table, raw, LANG=C and JSON", async () => {
        const cases: [string[], Record<string, string>][] = [
          [["-p", pid, ...own], {}],
          [["-r", "-p", pid, ...own], {}],
          [["-l", "-p", pid, ...own, "-o", "NS,PATH,COMMAND"], { LANG: "C", LC_ALL: "" }],
          [["-J", "-p", pid, ...own], {}],
        ];
        for (const [args, env] of cases) {
          const ours = await cli(["ls", ...args], { env });
          assertEquals(ours.code, 0, ours.stderr);
          const theirs = await lsnsEnv(args, env);
          // libsmartcols lays out JSON its own way ("},{"): compare what a parser reads.
          if (args.includes("-J")) assertEquals(JSON.parse(ours.stdout), JSON.parse(theirs));
          else {assertEquals(
              ours.stdout,
              theirs,
              `${args.join(" ")}\n${ours.stdout}\n---\n${theirs}`,
            );}
          assert(!ours.stdout.includes("\x1b") || args.includes("-J"), "ESC reached the output");
        }
        const json = JSON.parse((await cli(["ls", "-J", "-p", pid, "-t", "uts"])).stdout);
        assertEquals(json.namespaces[0].command, `${evil} 100000`, "JSON stays exact");
      });

      // Wait for `ip netns exec` to be in the namespace (it execs sleep there).
      const hostNet = Deno.readLinkSync("/proc/self/ns/net");
      let member = 0;
      for (let i = 0; i < 200 && !member; i++) {
        try {
          if (Deno.readLinkSync(`/proc/${inNet.pid}/ns/net`) !== hostNet) member = inNet.pid;
        } catch {
          // not there yet
        }
        if (!member) await new Promise((r) => setTimeout(r, 10));
      }
      const netns = String(ino(Deno.readLinkSync(`/proc/${member}/ns/net`)));
      await t.step("NSFS: one mount point per line, joined with , by -W and -r", async () => {
        for (const extra of [[], ["-W"], ["-r"], ["-J"]]) {
          const args = ["-l", "-p", String(member), "-t", "net", "-o", "NS,NSFS,PID", ...extra];
          // Other tests mount and unmount meanwhile: a run that raced one is taken again.
          let ours = await cli(["ls", ...args]);
          let theirs = await lsns("lsns", args);
          for (let i = 0; i < 3 && ours.stdout !== theirs; i++) {
            await new Promise((r) => setTimeout(r, 200));
            ours = await cli(["ls", ...args]);
            theirs = await lsns("lsns", args);
          }
          // Byte for byte: libsmartcols pads every cell but the last, and writes the
          // separator before an empty last cell (a continuation line ends in spaces).
          assertEquals(
            ours.stdout,
            theirs,
            `${extra.join(" ")}\n${ours.stdout}---\n${theirs}`,
          );
        }
        const table = (await cli(["ls", "-l", "-p", String(member), "-t", "net", "-o", "NSFS"]))
          .stdout;
        assertMatch(table, new RegExp(`^/run/netns/${tag}\\n${second}\\n?$`, "m"));
      });
      await t.step("ls NAMESPACE -o with NETNSID, NSFS, PNS, ONS as lsns NAMESPACE", async () => {
        const args = ["-J", "-o", "PID,NETNSID,NSFS,PNS,ONS", netns];
        const ours = await cli(["ls", ...args]);
        assertEquals(ours.code, 0, ours.stderr);
        assertEquals(JSON.parse(ours.stdout), JSON.parse(await lsns("lsns", args)));
      });
      await t.step("--output-all lists flat, as lsns (no tree, no children)", async () => {
        const args = ["--output-all", "-p", pid, ...own];
        const ours = await cli(["ls", "-J", ...args]);
        assertEquals(JSON.parse(ours.stdout), JSON.parse(await lsns("lsns", ["-J", ...args])));
        const all = JSON.parse((await cli(["ls", "-J", "--output-all"])).stdout).namespaces;
        assert(all.every((r: Row) => r.children === undefined), "--output-all nested rows");
      });
    } finally {
      inNet.kill("SIGKILL");
      await inNet.status;
      await runPiped("umount", { args: [second] });
      Deno.removeSync(second);
      await runPiped("ip", { args: ["netns", "del", tag] });
    }
  },
});

Deno.test({
  name: "ls takes lsns's tree forms: -T=parent, --list -T, -p PID with its parent row, ASCII art",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // A user namespace inside a user namespace: the parent tree has a row above the child.
    await using target = await makeTarget({
      flags: ["-U", "-r", "--fork"],
      setup: "unshare -U -r sh -c 'echo ready:$$; exec sleep 100000' & wait",
    });
    // The inner sleep: the unshare'd child of the shell.
    let inner = 0;
    for (let i = 0; i < 200 && !inner; i++) {
      const kids = Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`)
        .trim();
      if (kids) inner = Number(kids.split(/\s+/)[0]);
      else await new Promise((r) => setTimeout(r, 10));
    }
    const pid = String(inner);
    try {
      await _treeSteps(t, pid);
    } finally {
      Deno.kill(inner, "SIGKILL");
    }
  },
});

async function _treeSteps(t: Deno.TestContext, pid: string): Promise<void> {
  await t.step("-p PID --tree=parent shows the parent namespace's row, as lsns", async () => {
    for (const tree of ["--tree=parent", "-T=parent", "-Tparent", "--tree=owner"]) {
      const args = ["-p", pid, tree, "-t", "user", "-o", "NS,TYPE,PID"];
      const ours = await cli(["ls", ...args]);
      assertEquals(ours.code, 0, ours.stderr);
      assertEquals(ours.stdout, await lsns("lsns", args), tree);
      assertEquals(ours.stdout.trimEnd().split("\n").length, 4, "header, init, outer, inner");
    }
  });
  await t.step("--list -T draws the tree, as lsns 2.38 does", async () => {
    const args = ["--list", "-T", "-p", pid, "-t", "user", "-o", "NS,PID"];
    const ours = await cli(["ls", ...args]);
    assertEquals(ours.stdout, await lsns("lsns", args));
    assertMatch(ours.stdout, /└─/);
  });
  await t.step("LANG=C and LANG=POSIX draw the tree in ASCII, as lsns", async () => {
    for (const env of [{ LANG: "C" }, { LANG: "POSIX" }, { LANG: "", LC_ALL: "C" }]) {
      const args = ["-p", pid, "-T", "-t", "user", "-o", "NS,PID"];
      const ours = await cli(["ls", ...args], { env: { LC_ALL: "", ...env } });
      assertEquals(ours.stdout, await lsnsEnv(args, { LC_ALL: "", ...env }));
      assertMatch(ours.stdout, /`-/);
    }
  });
}

Deno.test({
  name:
    'ls -Q filters rows as scols-filter(5) says: "expression is true if param or holder are not empty"',
  ignore: NEEDS_ROOT,
  async fn(t) {
    // At least one namespace held by a bind mount (NSFS), whatever else runs on the machine.
    const netns = `nsjt-q-${Math.random().toString(36).slice(2, 8)}`;
    await sh("ip", ["netns", "add", netns]);
    try {
      await _filterSteps(t);
    } finally {
      await sh("ip", ["netns", "del", netns]).catch(() => {});
    }
  },
});

async function _filterSteps(t: Deno.TestContext): Promise<void> {
  const all: Row[] = JSON.parse((await cli(["ls", "-J", "-l", "--output-all"])).stdout)
    .namespaces;
  const run = async (expr: string, cols = "NS,TYPE,NPROCS,NSFS,COMMAND") => {
    const out = await cli(["ls", "-J", "-l", "-o", cols, "-Q", expr]);
    assertEquals(out.code, 0, out.stderr);
    return (JSON.parse(out.stdout).namespaces as Row[]).map((r) => r.ns);
  };
  const expect = (pred: (r: Row) => boolean) => all.filter(pred).map((r) => r.ns);
  // Namespaces come and go while other tests run: compare on stable ones (host's).
  const stable = (a: number[], b: number[]) => {
    const host = new Set(all.filter((r) => r.pid === 1 || r.pid === 2).map((r) => r.ns));
    assertEquals(a.filter((n) => host.has(n)), b.filter((n) => host.has(n)));
  };
  await t.step('TYPE == "net" && NPROCS > 1, and the word forms eq / and / gt', async () => {
    const want = expect((r) => r.type === "net" && (r.nprocs ?? 0) > 1);
    stable(await run('TYPE == "net" && NPROCS > 1'), want);
    stable(await run("TYPE eq 'net' and NPROCS gt 1"), want);
    stable(await run("(TYPE == 'net') AND (NPROCS GT 1)"), want);
  });
  await t.step("a column alone: NSFS (rows that have a mount point)", async () => {
    const got = await run("NSFS");
    const mounted = (r: Row) => typeof r.nsfs === "string" && r.nsfs !== "";
    const want = expect(mounted);
    // Namespaces are bind-mounted and unmounted while other tests run (an engine mounts a new
    // container's netns just after its process made it): judge only those whose mount point
    // was the same in a listing before and one after ours.
    const after: Row[] = JSON.parse((await cli(["ls", "-J", "-l", "--output-all"])).stdout)
      .namespaces;
    const before = new Map(all.map((r) => [r.ns, mounted(r)]));
    const known = new Set(after.filter((r) => before.get(r.ns) === mounted(r)).map((r) => r.ns));
    assert(got.length > 0 && got.filter((n) => known.has(n)).every((n) => want.includes(n)));
  });
  await t.step("=~ and !~ take a regular expression on the right", async () => {
    stable(await run('TYPE =~ "^(pid|user)$"'), expect((r) => /^(pid|user)$/.test(r.type)));
    stable(await run('TYPE !~ "^(pid|user)$"'), expect((r) => !/^(pid|user)$/.test(r.type)));
  });
  await t.step("! / not, || / or, != / ne, and a column the output does not show", async () => {
    stable(
      await run('!(TYPE == "net") && PID == 1', "NS"),
      expect((r) => r.type !== "net" && r.pid === 1),
    );
    stable(
      await run('TYPE == "uts" || TYPE ne "uts" && PID == 2', "NS"),
      expect((r) => r.pid === 2),
    );
  });
  await t.step("a bad expression: exit 2, one line that says where", async () => {
    for (const [expr, at] of [["NS ==", 6], ["(NS == 1", 9], ["NOPE == 1", 1], ["NS =~ 5", 7]]) {
      const out = await cli(["ls", "-Q", String(expr)]);
      assertEquals(out.code, 2, String(expr));
      assertEquals(out.stderr.trim().split("\n").length, 1);
      assertMatch(out.stderr, new RegExp(`at position ${at}\\b`));
    }
  });
}

Deno.test('ls -H: "List the available columns, use with --json or --raw to get output in machine-readable format"', async () => {
  const table = await cli(["ls", "-H"]);
  assertEquals(table.code, 0);
  assertMatch(table.stdout, /^ +NS <integer> namespace identifier \(inode number\)$/m);
  assertMatch(table.stdout, /^ +TYPE <string> +kind of namespace$/m);
  // lsns (2.40+) lists them when its getopt loop meets -H, with the -J or -r met before it:
  // `-J -H` is JSON, `-H -J` the table (sys-utils/lsns.c: case 'H': list_colunms(raw, json)).
  assertEquals((await cli(["ls", "-H", "-J"])).stdout, table.stdout);
  const json = JSON.parse((await cli(["ls", "-J", "-H"])).stdout);
  assertEquals(json["lsns-columns"][0], {
    holder: "NS",
    type: "<integer>",
    description: "namespace identifier (inode number)",
  });
  assertEquals(json["lsns-columns"].length, 14);
  const raw = await cli(["ls", "-r", "-H"]);
  assertMatch(raw.stdout, /^NS <integer> namespace\\x20identifier\\x20\(inode\\x20number\)$/m);
});

Deno.test("ls, inspect and enter print their version with -V and --version", async () => {
  const version = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).version;
  for (const cmd of ["ls", "inspect", "enter"]) {
    for (const flag of ["-V", "--version"]) {
      const out = await cli([cmd, flag]);
      // enter and ls add the util-linux release whose options they take (parity_test).
      const level = cmd === "inspect" ? "" : " (util-linux 2.42 options)";
      assertEquals([out.code, out.stdout], [0, `nsjoin ${cmd} from nsjoin ${version}${level}\n`]);
    }
  }
});

Deno.test({
  name:
    "namespaceTree by process hangs a namespace under its nearest ancestor's row; nearest: false is lsns's flat rule",
  ignore: NEEDS_ROOT,
  async fn() {
    // A (new uts) → B (same namespaces: no row of its own) → C (new net): C's row's
    // parent process B has no row, A does.
    await using a = await makeTarget({
      flags: ["-u"],
      setup: "sh -c 'unshare -n sleep 100000; true' & true",
    });
    const kids = (pid: number) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
        .filter(Boolean).map(Number);
    let b = 0, c = 0;
    for (let i = 0; i < 300 && !c; i++) {
      b = kids(a.pid).find((k) => Deno.readTextFileSync(`/proc/${k}/comm`).trim() === "sh") ?? 0;
      c = b ? kids(b)[0] ?? 0 : 0;
      if (c && Deno.readLinkSync(`/proc/${c}/ns/net`) === Deno.readLinkSync("/proc/self/ns/net")) {
        c = 0; // unshare has not made its namespace yet
      }
      if (!c) await new Promise((r) => setTimeout(r, 10));
    }
    try {
      const uts = ino(Deno.readLinkSync(`/proc/${a.pid}/ns/uts`));
      const net = ino(Deno.readLinkSync(`/proc/${c}/ns/net`));
      const from = listNamespaces({ types: ["uts", "net"] });
      const find = (
        nodes: ReturnType<typeof namespaceTree>,
        ns: number,
      ): typeof nodes[0] | undefined => {
        for (const n of nodes) {
          if (n.ns === ns) return n;
          const f = find(n.children, ns);
          if (f) return f;
        }
        return undefined;
      };
      const near = namespaceTree({ by: "process", from });
      assertEquals(find(near, uts)?.children.map((n) => n.ns), [net]);
      const flat = namespaceTree({ by: "process", from, nearest: false });
      assertEquals(find(flat, uts)?.children.length, 0);
      assert(flat.some((n) => n.ns === net), "lsns's rule: a root");
    } finally {
      for (const pid of [c, b]) if (pid) Deno.kill(pid, "SIGKILL");
    }
  },
});

// ---- chores 21: the process tree where PID 1 cannot be read
Deno.test({
  name: "namespaceTree by process nests a process tree made with unshare under our own " +
    "namespaces' rows, and an orphan of an unreadable parent is a root",
  ignore: NEEDS_ROOT,
  async fn() {
    // A (new uts) → its child C (new net, by unshare). A's parent chain is the test's own;
    // where PID 1's namespaces cannot be read (a sandbox or container, as on the machines
    // this was written on) it never reaches a row: A's rows were roots, a flat forest.
    await using a = await makeTarget({
      flags: ["-u"],
      setup: "unshare -n sleep 100000 & true",
    });
    const kids = (pid: number) =>
      Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)
        .filter(Boolean).map(Number);
    const own = (type: string) => ino(Deno.readLinkSync(`/proc/self/ns/${type}`));
    let c = 0;
    for (let i = 0; i < 300 && !c; i++) {
      c = kids(a.pid)[0] ?? 0;
      if (c && ino(Deno.readLinkSync(`/proc/${c}/ns/net`)) === own("net")) c = 0;
      if (!c) await new Promise((r) => setTimeout(r, 10));
    }
    // An orphan: its shell exits at once, the kernel hands it to PID 1 (or a subreaper).
    const started = await new Deno.Command("setsid", {
      args: ["sh", "-c", "unshare -u sleep 100000 >/dev/null 2>&1 & echo $!"],
      stdout: "piped",
    }).output();
    const orphan = Number(text(started.stdout).trim());
    try {
      assert(c > 0 && orphan > 0, "the tree was not made");
      let orphanUts = own("uts");
      for (let i = 0; i < 300 && orphanUts === own("uts"); i++) {
        await new Promise((r) => setTimeout(r, 10));
        orphanUts = ino(Deno.readLinkSync(`/proc/${orphan}/ns/uts`));
      }
      const from = listNamespaces({ types: ["uts", "net"] });
      const roots = namespaceTree({ by: "process", from });
      const path = (nodes: typeof roots, ns: number): typeof roots => {
        for (const n of nodes) {
          if (n.ns === ns) return [n];
          const below = path(n.children, ns);
          if (below.length) return [n, ...below];
        }
        return [];
      };
      const uts = ino(Deno.readLinkSync(`/proc/${a.pid}/ns/uts`));
      const net = ino(Deno.readLinkSync(`/proc/${c}/ns/net`));
      const toA = path(roots, uts);
      // A hangs under one of our own namespaces' rows (the host's), C under A.
      assert(toA.length > 1, "A's row is a root");
      assert([own("uts"), own("net")].includes(toA[0].ns), `root ${toA[0].type} ${toA[0].pid}`);
      assertEquals(path(roots, net).map((n) => n.ns), [...toA.map((n) => n.ns), net]);
      // The orphan's parent: a root when its namespaces cannot be read, else nested.
      const stat = Deno.readTextFileSync(`/proc/${orphan}/stat`);
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 4).split(" ")[0]);
      let readable = true;
      try {
        Deno.readLinkSync(`/proc/${parent}/ns/uts`);
      } catch {
        readable = false;
      }
      assertEquals(path(roots, orphanUts).length === 1, !readable, `parent ${parent}`);
    } finally {
      for (const pid of [c, orphan]) if (pid > 0) Deno.kill(pid, "SIGKILL");
    }
  },
});

Deno.test({
  name:
    "a namespace holding non-dumpable processes that changed uid (a joining helper's shape): ls counts what lsns counts, as root and as that user",
  ignore: NEEDS_ROOT,
  async fn() {
    const user = await testUser();
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-nodump-" });
    try {
      // "u": becomes the user, then non-dumpable (its /proc/PID/ns links refuse that user);
      // "f": non-dumpable root whose child does what "u" does — a helper and its fork.
      Deno.writeTextFileSync(
        `${dir}/nd.c`,
        `#define _GNU_SOURCE
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
static void drop(int id) { setresgid(id, id, id); setresuid(id, id, id); }
int main(int argc, char **argv) {
  int id = atoi(argv[2]);
  if (argv[1][0] == 'u') drop(id);
  prctl(PR_SET_DUMPABLE, 0);
  if (argv[1][0] == 'f' && fork() == 0) { drop(id); prctl(PR_SET_DUMPABLE, 0); }
  pause();
  return 0;
}
`,
      );
      const cc = await runPiped("gcc", { args: ["-o", `${dir}/nd`, `${dir}/nd.c`] });
      assertEquals(cc.code, 0, cc.stderr);
      Deno.chmodSync(dir, 0o755);
      // In a pid namespace of its own: killing its init ends them all.
      await using t = await makeTarget({
        setup: `(${dir}/nd u ${user.uid} &); (${dir}/nd f ${user.uid} &)`,
      });
      const link = Deno.readLinkSync(`/proc/${t.pid}/ns/uts`);
      const uts = ino(link);
      // Until the three nd processes wait in pause(), their last step: before, subshells
      // fork, exec and exit in the namespace and the nd processes change uid, and a listing
      // made meanwhile counts it differently from lsns a moment before and after (a fixed
      // 0.3 s wait once gave ls 2, lsns 3 and 3).
      const paused = () =>
        [...Deno.readDirSync("/proc")].filter(({ name }) => {
          try {
            return /^\d+$/.test(name) && Deno.readLinkSync(`/proc/${name}/ns/uts`) === link &&
              Deno.readTextFileSync(`/proc/${name}/comm`) === "nd\n" &&
              Deno.readTextFileSync(`/proc/${name}/wchan`).includes("pause");
          } catch {
            return false; // gone, or not a process
          }
        }).length;
      for (let i = 0; i < 1000 && paused() < 3; i++) await new Promise((r) => setTimeout(r, 10));
      assertEquals(paused(), 3, "the nd processes never all reached pause()");
      for (const as of [{}, { uid: user.uid, gid: user.gid }]) {
        const { ours } = await differential(["-t", "uts", "-o", "NS,TYPE,PID,NPROCS"], as);
        // As root, at least: the target's sleep, the two nd and nd f's child.
        if (as.uid === undefined) assert((ours.find((r) => r.ns === uts)?.nprocs ?? 0) >= 4);
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
});

// ---- trial 18: one namespace type refused, the others listed (lsns's read_process)
Deno.test({
  name: "ls -p, -t and ls NS skip only the type whose link is refused (EACCES), as lsns does",
  ignore: NEEDS_ROOT,
  async fn(t) {
    // The kernel checks ptrace access on each ns link read, so a process whose credentials
    // or dumpable flag change between two reads refuses some types and not others. strace
    // makes that happen on purpose: every access to the uts link fails with EACCES.
    await using target = await makeTarget({ flags: ["-u", "-n", "--fork"], hostname: "refused" });
    const p = String(target.pid);
    const netIno = ino(Deno.readLinkSync(`/proc/${p}/ns/net`));
    const refusing = async (paths: string[], cmd: string[]): Promise<Deno.CommandOutput> =>
      await new Deno.Command("strace", {
        args: [
          ...["-f", "-qq", "-o", "/dev/null", ...paths.flatMap((path) => ["-P", path])],
          ...["-e", "inject=all:error=EACCES", ...cmd],
        ],
        env: { NO_COLOR: "1" },
        cwd: "/",
      }).output();
    // lsns 2.38 reads "ns/uts" relative to each /proc/PID (so -P names it so); we read the
    // full path of this one process.
    const theirs = (args: string[]) => refusing(["ns/uts"], ["lsns", ...args]);
    const cli = [Deno.execPath(), "run", "-A", "--quiet", `${ROOT}cli.ts`, "ls"];
    const ours = (args: string[], refused = [`/proc/${p}/ns/uts`]) =>
      refusing(refused, [...cli, ...args]);
    // -J: the same document (our JSON is laid out by JSON.stringify).
    const same = (out: string, json: boolean) => json ? JSON.parse(out) : out;
    for (
      const args of [
        ["-p", p, "-n", "-o", "NS,TYPE"],
        ["-p", p, "-t", "net", "-t", "uts", "-n", "-o", "NS,TYPE"],
        ["-p", p, "-J", "-o", "NS,TYPE"],
      ]
    ) {
      await t.step(args.join(" "), async () => {
        const [a, b] = [await theirs(args), await ours(args)];
        assertEquals(a.code, 0, text(a.stderr));
        assert(!text(a.stdout).includes("uts"), "strace made lsns's uts read fail");
        const json = args.includes("-J");
        assertEquals(
          [b.code, same(text(b.stdout), json), text(b.stderr)],
          [0, same(text(a.stdout), json), ""],
        );
      });
    }
    await t.step("ls NS: the processes are still members of their other namespaces", async () => {
      // mnt, the first type read: refused for both processes in the new namespaces.
      const mnt = [`/proc/${target.outer.pid}/ns/mnt`, `/proc/${p}/ns/mnt`];
      const b = await ours([String(netIno), "-n", "-o", "PID"], mnt);
      assertEquals(b.code, 0, text(b.stderr));
      assert(text(b.stdout).split(/\s+/).includes(p), text(b.stdout));
    });
    await t.step("listNamespaces({ pid }) keeps the types it read", async () => {
      const script = `import { listNamespaces } from ${JSON.stringify(`${ROOT}mod.ts`)};
console.log(listNamespaces({ pid: ${p} }).namespaces.map((e) => e.type).sort().join(" "));`;
      const b = await refusing([`/proc/${p}/ns/uts`], [Deno.execPath(), "eval", script]);
      assertEquals(text(b.stdout), "cgroup ipc mnt net pid time user\n", text(b.stderr));
    });
  },
});

Deno.test({
  name:
    "a process's own name that is not UTF-8 prints as \\xff in ls and inspect, as its cmdline would",
  ignore: NEEDS_ROOT,
  async fn() {
    // A process with an empty cmdline (as a zombie's or a kernel thread's): ls and inspect
    // show its name, from /proc/PID/stat and /proc/PID/comm, which the process chose
    // (PR_SET_NAME, any bytes). execve with no argv at all: the kernel gives "", and
    // python with no script runs its stdin.
    const exec = "import ctypes; libc = ctypes.CDLL(None); " +
      'libc.execve(b"/usr/bin/python3", (ctypes.c_char_p * 1)(None), (ctypes.c_char_p * 1)(None))';
    const named = [
      "import ctypes, time",
      "libc = ctypes.CDLL(None)",
      "libc.prctl.argtypes = [ctypes.c_int, ctypes.c_char_p] + [ctypes.c_ulong] * 3",
      'assert libc.prctl(15, b"na\\xffme", 0, 0, 0) == 0',
      'print("ready", flush=True)',
      "time.sleep(100000)",
    ].join("\n");
    const child = new Deno.Command("unshare", {
      args: ["-u", "python3", "-c", exec],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(named));
      await writer.close();
      const reader = child.stdout.getReader();
      assertEquals(text((await reader.read()).value!), "ready\n");
      reader.releaseLock();
      const pid = String(child.pid);
      // Not vacuous: the name is those bytes, and the cmdline is empty.
      assertEquals([...Deno.readFileSync(`/proc/${pid}/comm`)], [110, 97, 255, 109, 101, 10]);
      assertEquals(Deno.readFileSync(`/proc/${pid}/cmdline`).filter((b) => b !== 0).length, 0);
      const ls = await cli(["ls", "-p", pid, "-t", "uts", "-o", "PID,COMMAND", "-n"]);
      // PID is right-aligned in lsns's 5 columns: a 4-digit PID gets a space before it.
      assertEquals(ls.code, 0, ls.stderr);
      assertEquals(ls.stdout, `${pid.padStart(5)} na\\xffme\n`, ls.stderr);
      const inspect = await cli(["inspect", pid]);
      assertEquals(inspect.code, 0, inspect.stderr);
      assertMatch(inspect.stdout, /^command +na\\xffme /m);
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await child.stdout.cancel().catch(() => {});
    }
  },
});
