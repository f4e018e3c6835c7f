/**
 * Stop 27, sec27c: the distroless toolkit and sessions attacked as a hostile container —
 * `forward`'s relay, `debug`, sessions, `cp` into a target (docs/stop27-sec27c.md).
 */
import { forward } from "../src/forward.ts";
import { assertEquals, CI, IS_ROOT, makeTarget } from "./_fixtures.ts";

// ---- stop 27: sec27c

/**
 * A TCP server inside the target's net namespace (Deno under nsenter -n, its socket through
 * libc: Deno's own cannot send MSG_OOB) that sends "A", then one urgent byte "!", then
 * "BCDEF" to the first client, and keeps the connection open. Prints a line once it listens.
 */
function oobServer(pid: number, port: number): Promise<Deno.ChildProcess> {
  const code = `
    const l = Deno.dlopen("libc.so.6", {
      socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
      bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
      listen: { parameters: ["i32", "i32"], result: "i32" },
      accept: { parameters: ["i32", "pointer", "pointer"], result: "i32", nonblocking: true },
      send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
    }).symbols;
    const s = l.socket(2, 1, 0);
    const sa = new Uint8Array(16);
    sa.set([2, 0, ${port >> 8}, ${port & 255}, 127, 0, 0, 1]);
    if (l.bind(s, sa, 16) !== 0 || l.listen(s, 8) !== 0) throw new Error("cannot listen");
    console.log("up");
    const c = await l.accept(s, null, null);
    const e = new TextEncoder();
    const nap = (ms) => new Promise((r) => setTimeout(r, ms));
    l.send(c, e.encode("A"), 1n, 0);
    await nap(200);
    l.send(c, e.encode("!"), 1n, 1); // MSG_OOB
    await nap(200);
    l.send(c, e.encode("BCDEF"), 5n, 0);
    await nap(1e9);`;
  const server = new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-n", Deno.execPath(), "eval", code],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  return (async () => {
    const reader = server.stdout.getReader();
    await reader.read();
    reader.releaseLock();
    server.stdout.cancel().catch(() => {});
    return server;
  })();
}

Deno.test({
  name: "stop 27 sec27c: an urgent byte from the target's server neither stalls forward nor spins it",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const server = await oobServer(target.pid, 9000);
    try {
      await using fwd = await forward(`/proc/${target.pid}/ns/net`, { remote: 9000, local: 0 });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: fwd.local.port });
      // Without the fix the bytes after the urgent mark never came (and the relay spun a
      // core for as long as the target kept the connection): give up after 15 s.
      const giveUp = setTimeout(() => conn.close(), 15_000);
      let got = "";
      const buf = new Uint8Array(64);
      try {
        while (got.length < 6) {
          const n = await conn.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
      } catch {
        // closed by the deadline
      }
      clearTimeout(giveUp);
      // The urgent byte is left out, as any read-based relay (kubectl, socat) leaves it.
      assertEquals(got, "ABCDEF");
      try {
        conn.close();
      } catch {
        // closed by the deadline
      }
    } finally {
      server.kill("SIGKILL");
      await server.status;
    }
  },
});
