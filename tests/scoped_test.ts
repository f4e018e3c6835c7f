import { closeNamespaceWorkers, inNamespaces, NamespaceError, scopedJoin } from "../mod.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  makeTarget,
  NEEDS_ROOT,
} from "./_fixtures.ts";

const ownNs = (type: string) => Deno.readLinkSync(`/proc/thread-self/ns/${type}`);

Deno.test({
  name: "scopedJoin creates a listening socket inside the target's network namespace",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ setup: "ip link set lo up" });
    const before = ownNs("net");
    let listener: Deno.TcpListener;
    {
      using join = scopedJoin(target.pid, ["net"]);
      assert(join.active);
      assertEquals(ownNs("net"), Deno.readLinkSync(`/proc/${target.pid}/ns/net`));
      listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    }
    assertEquals(ownNs("net"), before);
    const port = listener.addr.port;
    try {
      // Reachable from inside the target, not from the host.
      const accepted = listener.accept();
      const inside = inNamespaces(target.pid, async (port: number) => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        const buf = new Uint8Array(2);
        await conn.read(buf);
        conn.close();
        return new TextDecoder().decode(buf);
      }, { namespaces: ["net"], arg: port });
      const conn = await accepted;
      await conn.write(new TextEncoder().encode("hi"));
      assertEquals(await inside, "hi");
      conn.close();
      await assertRejects(
        () => Deno.connect({ hostname: "127.0.0.1", port }),
        Deno.errors.ConnectionRefused,
      );
    } finally {
      listener.close();
      await closeNamespaceWorkers();
    }
  },
});

Deno.test({
  name: "scopedJoin restores the thread after an exception",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "scoped-inner" });
    const before = { net: ownNs("net"), uts: ownNs("uts"), host: Deno.hostname() };
    assertThrows(() => {
      using _join = scopedJoin(target.pid, ["net", "uts"]);
      assertEquals(Deno.hostname(), "scoped-inner");
      throw new Error("inside");
    }, /inside/);
    assertEquals({ net: ownNs("net"), uts: ownNs("uts"), host: Deno.hostname() }, before);
    // The thread can join again: the first join is over.
    const again = scopedJoin(target.pid, ["uts"]);
    assertEquals(Deno.hostname(), "scoped-inner");
    again.restore();
    again.restore();
    assertEquals(Deno.hostname(), before.host);
  },
});

Deno.test({
  name: "scopedJoin restores at the first await and then refuses to end quietly",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "scoped-await" });
    const host = Deno.hostname();
    let seenAfterAwait = "";
    await assertRejects(async () => {
      using _join = scopedJoin(target.pid, ["uts"]);
      assertEquals(Deno.hostname(), "scoped-await");
      await Promise.resolve();
      seenAfterAwait = Deno.hostname();
    }, /Cannot keep a scoped join across an await/);
    assertEquals(seenAfterAwait, host);
    assertEquals(Deno.hostname(), host);
  },
});

Deno.test({
  name: "scopedJoin refuses nesting, other types and mismatched files, joining nothing",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget();
    const before = ownNs("net");
    const netOfWorker = () => Deno.readLinkSync("/proc/thread-self/ns/net");
    const uts = { namespaces: ["uts"], reuse: false } as const;
    let worker: Promise<string>;
    {
      using _outer = scopedJoin(target.pid, ["net"]);
      assertThrows(() => scopedJoin(target.pid, ["uts"]), /already inside a scoped join/);
      // inNamespaces makes its Worker after an await: once this block has left the target.
      worker = inNamespaces(target.pid, netOfWorker, uts);
    }
    assertEquals(await worker, before);
    // A Worker made while the thread is still joined would keep its namespaces: refused.
    const early = inNamespaces(target.pid, netOfWorker, uts);
    const late = scopedJoin(target.pid, ["net"]);
    await assertRejects(() => early, /Cannot start a namespace Worker inside a scoped join/);
    assertThrows(() => late.restore(), /Cannot keep a scoped join across an await/);
    assertEquals(ownNs("net"), before);
    for (const type of ["mnt", "user", "pid", "time", "cgroup"]) {
      let error: unknown;
      try {
        scopedJoin(target.pid, [type as "net"]);
      } catch (e) {
        error = e;
      }
      if (!(error instanceof NamespaceError)) {
        throw new Error(`expected a NamespaceError for ${type}`);
      }
      assertMatch(error.message, new RegExp(`Cannot join the ${type} namespace for a scope`));
      assertMatch(error.message, /inNamespaces\(\)|NsCommand/);
    }
    assertThrows(
      () => scopedJoin(`/proc/${target.pid}/ns/uts`, ["net"]),
      /it is a uts namespace file/,
    );
    assertEquals(ownNs("net"), before);
    assertEquals(ownNs("uts"), Deno.readLinkSync(`/proc/${Deno.pid}/ns/uts`));
  },
});
