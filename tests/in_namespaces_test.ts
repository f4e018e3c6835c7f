import {
  closeNamespaceWorkers,
  inNamespaces,
  NamespaceError,
  type WorkerNamespace,
} from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  makeTarget,
  NEEDS_ROOT,
  type TestTarget,
} from "./_fixtures.ts";

/**
 * The threads ("pid/tid") whose namespace of `type` is the target's, in the caller's process
 * and its evaluator processes (a mnt evaluator runs in a `deno` process of its own).
 */
function threadsInside(target: TestTarget, type = "net"): string[] {
  const theirs = Deno.readLinkSync(`/proc/${target.pid}/ns/${type}`);
  const pids = [Deno.pid];
  for (const e of Deno.readDirSync("/proc")) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      if (
        Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === Deno.pid &&
        Deno.readTextFileSync(`/proc/${e.name}/cmdline`).includes("_ns_process")
      ) {
        pids.push(Number(e.name));
      }
    } catch {
      // Not a process, or it ended while we looked.
    }
  }
  return pids.flatMap((pid) => {
    try {
      return [...Deno.readDirSync(`/proc/${pid}/task`)].map((t) => `${pid}/${t.name}`);
    } catch {
      return [];
    }
  }).filter((thread) => {
    try {
      return Deno.readLinkSync(`/proc/${thread.replace("/", "/task/")}/ns/${type}`) === theirs;
    } catch {
      return false; // the thread ended while we looked
    }
  });
}

/** Waits until no thread of the caller is inside the target (threads end shortly after terminate). */
async function noThreadLeft(target: TestTarget, type = "net"): Promise<string[]> {
  let left = threadsInside(target, type);
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = threadsInside(target, type);
  }
  return left;
}

/** The error a promise rejects with (node:assert's `rejects` does not return it). */
async function errorOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected the promise to reject");
}

/** A TCP port that is free on the host's loopback right now. */
function freeHostPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A target serving "ok" at /health on its own 127.0.0.1:port (busybox httpd). */
function httpTarget(port: number, dir: string): Promise<TestTarget> {
  return makeTarget({
    setup: `ip link set lo up && busybox httpd -p 127.0.0.1:${port} -h ${dir}`,
  });
}

Deno.test({
  name: "inNamespaces fetches a server that listens only on the target's loopback",
  ignore: NEEDS_ROOT,
  async fn() {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/health`, "ok\n");
    const port = freeHostPort();
    await using target = await httpTarget(port, dir);
    try {
      const got = await inNamespaces(
        target.pid,
        async (port: number) => {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          return { status: res.status, body: await res.text() };
        },
        { namespaces: ["net"], arg: port },
      );
      assertEquals(got, { status: 200, body: "ok\n" });
      // The same address from the host reaches nothing: the server is only inside.
      await assertRejects(() => fetch(`http://127.0.0.1:${port}/health`), TypeError);
    } finally {
      await closeNamespaceWorkers();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "inNamespaces sees the target's hostname and files, sync and async",
  ignore: NEEDS_ROOT,
  async fn(t) {
    const fake = await Deno.makeTempFile();
    await Deno.writeTextFile(fake, "ID=nsjoin-inside\n");
    await using target = await makeTarget({
      hostname: "inside-uts",
      setup: `mount --bind ${fake} /etc/os-release`,
    });
    try {
      await t.step("through the mount namespace (a spawner Worker joins mnt)", async () => {
        const got = await inNamespaces(target.pid, async () => ({
          host: Deno.hostname(),
          sync: Deno.readTextFileSync("/etc/os-release"),
          // Several at once, so that more than one pool thread serves them.
          async: await Promise.all(
            [1, 2, 3, 4].map(() => Deno.readTextFile("/etc/os-release")),
          ),
        }), { namespaces: ["mnt", "uts"] });
        assertEquals(got.host, "inside-uts");
        assertEquals(got.sync, "ID=nsjoin-inside\n");
        assertEquals(got.async, Array(4).fill("ID=nsjoin-inside\n"));
      });
      await t.step('"all" joins every type that differs, the host stays as it was', async () => {
        // "all" is the default.
        const got = await inNamespaces(target.pid, async () => ({
          host: Deno.hostname(),
          release: await Deno.readTextFile("/etc/os-release"),
        }));
        assertEquals(got, { host: "inside-uts", release: "ID=nsjoin-inside\n" });
        assert(Deno.hostname() !== "inside-uts");
        assert(!Deno.readTextFileSync("/etc/os-release").includes("nsjoin-inside"));
      });
      await t.step("a module URL: its default export is called with the argument", async () => {
        const dir = await Deno.makeTempDir();
        const mod = `${dir}/job.ts`;
        await Deno.writeTextFile(
          mod,
          "export default async (name: string): Promise<string> =>\n" +
            "  `${name}@${Deno.hostname()}:${(await Deno.readTextFile('/etc/os-release')).trim()}`;\n",
        );
        const url = new URL(`file://${mod}`);
        assertEquals(
          await inNamespaces(target.pid, url, { namespaces: ["uts"], arg: "job" }),
          "job@inside-uts:" + Deno.readTextFileSync("/etc/os-release").trim(),
        );
        assertEquals(
          await inNamespaces(target.pid, url, { namespaces: ["mnt", "uts"], arg: "job" }),
          "job@inside-uts:ID=nsjoin-inside",
        );
        await Deno.remove(dir, { recursive: true });
      });
    } finally {
      await closeNamespaceWorkers();
      await Deno.remove(fake);
    }
  },
});

Deno.test({
  name: "inNamespaces leaves the caller's threads and concurrent host work alone",
  ignore: NEEDS_ROOT,
  async fn() {
    const mine = Deno.readLinkSync("/proc/thread-self/ns/net");
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("host"),
    );
    await using target = await makeTarget({ setup: "ip link set lo up" });
    try {
      const inside = inNamespaces(target.pid, async (port: number) => {
        await new Promise((r) => setTimeout(r, 300));
        // The host's server is not reachable from inside.
        return await fetch(`http://127.0.0.1:${port}/`).then(() => "reached", () => "refused");
      }, { namespaces: ["net"], arg: server.addr.port });
      await new Promise((r) => setTimeout(r, 50));
      // While fn runs: the Worker's threads are inside, this thread and host fetches are not.
      assert(threadsInside(target).length > 0, "expected the Worker's threads in the target");
      assertEquals(Deno.readLinkSync("/proc/thread-self/ns/net"), mine);
      assertEquals(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "host");
      assertEquals(await inside, "refused");
      assertEquals(Deno.readLinkSync("/proc/thread-self/ns/net"), mine);
      assertEquals(await (await fetch(`http://127.0.0.1:${server.addr.port}/`)).text(), "host");
      await closeNamespaceWorkers();
      assertEquals(await noThreadLeft(target), []);
    } finally {
      await closeNamespaceWorkers();
      await server.shutdown();
    }
  },
});

Deno.test({
  name: "inNamespaces refuses user, pid and time at once, explaining the kernel rule",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ flags: ["-U", "-p", "-T", "--fork"] });
    for (const type of ["user", "pid", "time"] as const) {
      const started = performance.now();
      // The types do not accept them (WorkerNamespace); a JavaScript caller gets this error.
      const namespaces = [type, "net"] as unknown as WorkerNamespace[];
      const error = await errorOf(inNamespaces(target.pid, () => 1, { namespaces }));
      if (!(error instanceof NamespaceError)) throw error;
      assertEquals(error.namespace, type);
      assertMatch(
        error.message,
        new RegExp(`Cannot join the ${type} namespace from a Deno thread`),
      );
      assertMatch(error.message, type === "pid" ? /never moves the caller/ : /multithreaded/);
      assertMatch(error.message, /NsCommand/);
      assert(performance.now() - started < 100, "expected no Worker to be started");
    }
  },
});

Deno.test({
  name: 'inNamespaces refuses namespaces: "net" (a string) naming the mistake, not "no namespaces"',
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "ns-string" });
    const namespaces = "net" as unknown as WorkerNamespace[];
    const error = await errorOf(inNamespaces(target.pid, () => 1, { namespaces }));
    assert(error instanceof TypeError, String(error));
    assertEquals(
      error.message,
      'Cannot join namespaces "net": give "all" or a list of types (["net"])',
    );
    const none = await errorOf(inNamespaces(target.pid, () => 1, { namespaces: [] }));
    assertMatch(String(none), /Cannot join no namespaces/);
  },
});

Deno.test({
  name: "inNamespaces returns errors thrown inside with their class, message and stack",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "err-inside" });
    try {
      const error = await errorOf(
        inNamespaces(target.pid, (what: string) => {
          throw new RangeError(`bad ${what} on ${Deno.hostname()}`);
        }, { namespaces: ["uts"], arg: "thing" }),
      );
      if (!(error instanceof RangeError)) throw error;
      assertEquals(error.message, "bad thing on err-inside");
      assertMatch(error.stack!, /RangeError: bad thing on err-inside\n\s+at /);
      await assertRejects(
        () =>
          inNamespaces(target.pid, () => Deno.readTextFileSync("/nonexistent"), {
            namespaces: ["mnt"],
          }),
        Deno.errors.NotFound,
      );
      // A result that cannot be cloned is an error too, and the Worker stays usable.
      const uts = { namespaces: ["uts"] } as const;
      await assertRejects(() => inNamespaces(target.pid, () => () => 1, uts), Error);
      assertEquals(await inNamespaces(target.pid, () => Deno.hostname(), uts), "err-inside");
    } finally {
      await closeNamespaceWorkers();
    }
  },
});

Deno.test({
  name: "inNamespaces reuses the Worker for the same target and namespaces",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    try {
      const count = () => {
        const g = globalThis as { calls?: number };
        g.calls = (g.calls ?? 0) + 1;
        return g.calls;
      };
      const net = { namespaces: ["net"] } as const;
      let started = performance.now();
      assertEquals(await inNamespaces(target.pid, count, net), 1);
      const first = performance.now() - started;
      started = performance.now();
      assertEquals(await inNamespaces(target.pid, count, net), 2);
      const second = performance.now() - started;
      assert(second < first, `reuse took ${second} ms, the first call ${first} ms`);
      // A Worker that an earlier fn broke after returning (a throwing timer) is not reused.
      assertEquals(
        await inNamespaces(target.pid, () => {
          setTimeout(() => {
            throw new Error("late");
          }, 10);
          return 0;
        }, net),
        0,
      );
      await new Promise((r) => setTimeout(r, 200));
      assertEquals(await inNamespaces(target.pid, count, net), 1);
      // Another namespace set gets a Worker of its own; reuse: false a fresh one.
      assertEquals(await inNamespaces(target.pid, count, { namespaces: ["net", "uts"] }), 1);
      assertEquals(await inNamespaces(target.pid, count, { ...net, reuse: false }), 2);
      assertEquals(await inNamespaces(target.pid, count, net), 1);
    } finally {
      await closeNamespaceWorkers();
    }
  },
});

Deno.test({
  name: "inNamespaces terminates a Worker on timeout or abort and leaves no thread behind",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget();
    await t.step("timeout", async () => {
      const error = await errorOf(
        inNamespaces(target.pid, () => new Promise(() => {}), {
          namespaces: ["net"],
          timeout: 200,
        }),
      );
      if (!(error instanceof DOMException)) throw error;
      assertEquals(error.name, "TimeoutError");
      assertEquals(await noThreadLeft(target), []);
    });
    await t.step("timeout with the mnt spawner", async () => {
      // A pending promise, not a busy loop: Deno's terminate() cannot interrupt those.
      const call = errorOf(
        inNamespaces(target.pid, () => new Promise(() => {}), {
          namespaces: ["net", "mnt"],
          timeout: 10_000,
        }),
      );
      // While fn waits, the evaluator's threads (in a process of its own) are in the
      // target's mount namespace: what the checks below find gone.
      let inside: string[] = [];
      for (let i = 0; i < 180 && inside.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 50));
        inside = threadsInside(target, "mnt");
      }
      assert(inside.length > 0, "expected the evaluator's threads in the target's mnt namespace");
      assert(inside.every((t) => !t.startsWith(`${Deno.pid}/`)), `ours inside: ${inside}`);
      const error = await call;
      assertEquals(error.name, "TimeoutError");
      assertEquals(await noThreadLeft(target), []);
      assertEquals(await noThreadLeft(target, "mnt"), []);
    });
    await t.step("abort", async () => {
      const controller = new AbortController();
      const call = inNamespaces(target.pid, () => new Promise(() => {}), {
        namespaces: ["net"],
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(new Error("stop")), 100);
      await assertRejects(() => call, Error, "stop");
      assertEquals(await noThreadLeft(target), []);
    });
  },
});

Deno.test({
  name: "inNamespaces says fn was sent as source when it uses a variable of the caller",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "closure-inside" });
    const suffix = "-outside";
    try {
      for (const namespaces of [["uts"], ["mnt", "uts"]] as const) {
        const error = await errorOf(
          inNamespaces(target.pid, () => Deno.hostname() + suffix, { namespaces }),
        );
        if (!(error instanceof ReferenceError)) throw error;
        assertMatch(error.message, /^suffix is not defined \(fn was sent to the Worker as source/);
        assertMatch(error.message, /pass data through the arg option/);
        // What the message says to do works.
        assertEquals(
          await inNamespaces(target.pid, (s: string) => Deno.hostname() + s, {
            namespaces,
            arg: suffix,
          }),
          "closure-inside-outside",
        );
      }
    } finally {
      await closeNamespaceWorkers();
    }
  },
});

Deno.test({
  name: "inNamespaces with mnt: a module is bundled on the host, node: built-ins and process work",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/lib.ts`,
        "export const twice = (s: string): string => s + s;\n",
      );
      await Deno.writeTextFile(
        `${dir}/job.ts`,
        'import { basename } from "node:path";\nimport { twice } from "./lib.ts";\n' +
          "export default (p: string): string => twice(basename(p)) + process.platform;\n",
      );
      const mnt = { namespaces: ["mnt"], arg: "/a/b" } as const;
      assertEquals(await inNamespaces(target.pid, new URL(`file://${dir}/job.ts`), mnt), "bblinux");
      // A target whose /proc does not show this process: Deno.execPath() would panic there.
      assertEquals(await inNamespaces(target.pid, () => Deno.execPath(), mnt), Deno.execPath());
      // What CommonJS cannot hold is refused on the host with the bundler's reason.
      await Deno.writeTextFile(
        `${dir}/tla.ts`,
        "const x = await Promise.resolve(1);\nexport default () => x;\n",
      );
      await assertRejects(
        () => inNamespaces(target.pid, new URL(`file://${dir}/tla.ts`), mnt),
        Error,
        `Cannot bundle file://${dir}/tla.ts on the host: Top-level await is currently not supported`,
      );
    } finally {
      await closeNamespaceWorkers();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "inNamespaces leaves no fd open after its Workers end, mnt spawners included",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    // A terminated Worker's own fds (event loop, pipes) close a moment after it exits.
    const settledFds = async () => {
      let last = -1;
      for (let i = 0; i < 40; i++) {
        const n = [...Deno.readDirSync("/proc/self/fd")].length;
        if (n === last) return n;
        last = n;
        await new Promise((r) => setTimeout(r, 100));
      }
      return last;
    };
    // Warm up: libc, the helper of makeTarget, Deno's Worker machinery.
    await inNamespaces(target.pid, () => 1, { namespaces: ["mnt", "net"], reuse: false });
    const before = await settledFds();
    for (let i = 0; i < 4; i++) {
      await inNamespaces(target.pid, () => 1, { namespaces: ["mnt", "net"], reuse: false });
    }
    await assertRejects(
      () =>
        inNamespaces(target.pid, () => new Promise(() => {}), {
          namespaces: ["mnt"],
          timeout: 1500,
        }),
      DOMException,
    );
    await closeNamespaceWorkers();
    const after = await settledFds();
    assert(after <= before, `fds: ${before} before, ${after} after 5 mnt Workers`);
  },
});

Deno.test({
  name: "inNamespaces drops the idle Workers of targets that exited before it starts another",
  ignore: NEEDS_ROOT,
  async fn() {
    // A script probing short-lived targets (a container per CI job): each target's idle
    // Worker used to stay 5 s after its target exited, holding its namespaces and ~10 MB;
    // at one target every 50 ms that was a hundred Workers and 1 GB (stop 25 soak).
    const dead: string[] = [];
    try {
      for (let i = 0; i < 6; i++) {
        await using t = await makeTarget({ flags: ["-u", "--fork"], hostname: `gone${i}` });
        assertEquals(
          await inNamespaces(t.pid, () => Deno.hostname(), { namespaces: ["uts"] }),
          `gone${i}`,
        );
        dead.push(Deno.readLinkSync(`/proc/${t.pid}/ns/uts`));
      }
      await using live = await makeTarget({ flags: ["-u", "--fork"], hostname: "live" });
      assertEquals(
        await inNamespaces(live.pid, () => Deno.hostname(), { namespaces: ["uts"] }),
        "live",
      );
      // A freed namespace's inode number is given to the next new one: not live's.
      const liveUts = Deno.readLinkSync(`/proc/${live.pid}/ns/uts`);
      const gone = dead.filter((ns) => ns !== liveUts);
      // The idle timeout (5 s) would end them too: look well before it.
      const held = () =>
        [...Deno.readDirSync("/proc/self/task")].filter((t) => {
          try {
            return gone.includes(Deno.readLinkSync(`/proc/self/task/${t.name}/ns/uts`));
          } catch {
            return false; // the thread ended while we looked
          }
        }).length;
      let n = held();
      for (let i = 0; i < 20 && n > 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        n = held();
      }
      assertEquals(n, 0, `${n} threads still in the namespaces of exited targets`);
    } finally {
      await closeNamespaceWorkers();
    }
  },
});
