/**
 * `nsjoin forward`: an HTTP server bound to 127.0.0.1 inside a container (busybox httpd),
 * reached from the host with nothing published and nothing run inside; many connections,
 * 100 MB with a checksum, half-close, the target dying mid-stream, UDP, and the CLI.
 */
import { copyTo } from "../src/copy.ts";
import { forward, parsePortSpec } from "../src/forward.ts";
import { NamespaceError } from "../src/errors.ts";
import { parseForwardArgs } from "../src/cli/forward.ts";
import { ensureImages, IMAGE, must, podmanUser, run, skipWithoutEngines } from "./_engines.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  CI,
  IS_ROOT,
  makeTarget,
} from "./_fixtures.ts";

const SKIP = skipWithoutEngines("forward tests", ["docker", "rootless"]);

const CLI = new URL("../cli.ts", import.meta.url).pathname;
const enc = new TextEncoder();
const dec = new TextDecoder();

async function sha256(data: Uint8Array): Promise<string> {
  return Array.from(new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(data))))
    .map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** An HTTP/1.0 GET over a fresh connection: the whole response, headers and body. */
async function get(port: number, path: string): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(`GET ${path} HTTP/1.0\r\n\r\n`));
  const body = new Uint8Array(await new Response(conn.readable).arrayBuffer());
  return body;
}

function bodyOf(response: Uint8Array): Uint8Array {
  for (let i = 0; i + 3 < response.length; i++) {
    if (
      response[i] === 13 && response[i + 1] === 10 && response[i + 2] === 13 &&
      response[i + 3] === 10
    ) return response.subarray(i + 4);
  }
  throw new Error("no HTTP header end");
}

/**
 * A server inside a network namespace: Deno itself evaluating `code` under nsenter -n, which
 * prints a line once it listens. Returns once it does; kill it (SIGKILL) when done.
 */
async function serveInside(pid: number, code: string): Promise<Deno.ChildProcess> {
  const server = new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-n", Deno.execPath(), "eval", code],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = server.stdout.getReader();
  await reader.read();
  reader.releaseLock();
  server.stdout.cancel().catch(() => {});
  return server;
}

async function stop(server: Deno.ChildProcess): Promise<void> {
  server.kill("SIGKILL");
  await server.status;
}

Deno.test({
  name: "forward parses kubectl port-forward's port specs",
  fn() {
    assertEquals(parsePortSpec("8080:80"), {
      protocol: "tcp",
      hostname: undefined,
      localPort: 8080,
      remotePort: 80,
    });
    assertEquals(parsePortSpec("5000").localPort, 5000);
    assertEquals(parsePortSpec("5000").remotePort, 5000);
    assertEquals(parsePortSpec(":80").localPort, 0);
    assertEquals(parsePortSpec("0.0.0.0:8080:80").hostname, "0.0.0.0");
    assertEquals(parsePortSpec("[::1]:8080:80").hostname, "::1");
    assertEquals(parsePortSpec("udp/53").protocol, "udp");
    assertThrows(() => parsePortSpec("80:99999"), RangeError);
    assertThrows(() => parsePortSpec("a:b"), TypeError);
    assertThrows(() => parsePortSpec("1:2:3:4"), TypeError);
    assertThrows(() => parseForwardArgs(["web"]), Error, "at least 2");
    assertEquals(parseForwardArgs(["--address", "0.0.0.0", "web", "80"]).addresses, ["0.0.0.0"]);
    assertEquals(parseForwardArgs(["--address", "localhost,::1", "web", "80"]).addresses, [
      "localhost",
      "::1",
    ]);
    assertEquals(parseForwardArgs(["web", "[fe80::1]:80:80"]).ports[0].hostname, "fe80::1");
    for (const a of ["bogus", "256.1.1.1", "1.2.3", "::g"]) {
      assertThrows(() => parseForwardArgs(["--address", a, "web", "80"]), Error, "IP address");
    }
  },
});

Deno.test({
  name: "forward reaches a server bound to 127.0.0.1 inside a container",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await ensureImages(podmanUser()!);
    const name = `nsjoin-fwd-${Math.random().toString(36).slice(2, 8)}`;
    // busybox httpd on the container's loopback only; nc echoing on 9000 for half-close.
    await must("docker", [
      "run",
      "-d",
      "--name",
      name,
      IMAGE,
      "sh",
      "-c",
      "mkdir -p /www && echo hello > /www/index.html && (nc -ll -p 9000 -e cat &) && exec httpd -f -p 127.0.0.1:8080 -h /www",
    ]);
    const pid = Number((await must("docker", ["inspect", "-f", "{{.State.Pid}}", name])).trim());
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fwd-" });
    try {
      const big = crypto.getRandomValues(new Uint8Array(65536));
      const file = new Uint8Array(100 << 20);
      for (let i = 0; i < file.length; i += big.length) file.set(big, i);
      await Deno.writeFile(`${dir}/big`, file);
      await copyTo(pid, `${dir}/big`, "/www/big");
      for (let i = 0; i < 50; i++) {
        if (
          (await run("docker", [
            "exec",
            name,
            "wget",
            "-q",
            "-O",
            "/dev/null",
            "http://127.0.0.1:8080/",
          ])).code === 0
        ) break;
        await new Promise((r) => setTimeout(r, 100));
      }

      await t.step("the CLI prints kubectl's line and serves until SIGINT", async () => {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", "--quiet", CLI, "forward", name, ":8080"],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const reader = child.stdout.getReader();
        let out = "";
        while (!out.includes("\n")) {
          const { value, done } = await reader.read();
          if (done) break;
          out += dec.decode(value);
        }
        const m = out.match(/^Forwarding from 127\.0\.0\.1:(\d+) -> 8080\n/);
        assert(m, `unexpected output: ${out}`);
        const res = await fetch(`http://127.0.0.1:${m![1]}/`);
        assertEquals(await res.text(), "hello\n");
        // kubectl names the local port it took (port.Local once bound), as a script reading
        // the output would look it up: it said "for 8080", the remote port.
        while (!out.includes("Handling connection")) {
          const { value, done } = await reader.read();
          if (done) break;
          out += dec.decode(value);
        }
        while (!out.endsWith("\n")) out += dec.decode((await reader.read()).value);
        assertMatch(out, new RegExp(`\nHandling connection for ${m![1]}\n`));
        child.kill("SIGINT");
        const status = await child.status;
        reader.releaseLock();
        await child.stdout.cancel();
        const err = dec.decode(await new Response(child.stderr).arrayBuffer());
        assertEquals([status.code, err], [0, ""]);
      });

      await using fwd = await forward(pid, { remote: 8080, local: 0 });
      const port = fwd.local.port;

      await t.step("200 concurrent connections", async () => {
        const responses = await Promise.all(
          Array.from({ length: 200 }, () => get(port, "/index.html")),
        );
        for (const r of responses) assertEquals(dec.decode(bodyOf(r)), "hello\n");
      });

      await t.step("100 MB through one connection, checksum equal", async () => {
        const body = bodyOf(await get(port, "/big"));
        assertEquals(body.length, file.length);
        assertEquals(await sha256(body), await sha256(file));
      });

      await t.step("half-close: the peer sees our EOF and still answers", async () => {
        await using echo = await forward(pid, { remote: 9000, local: 0 });
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: echo.local.port });
        const sent = new Uint8Array(1 << 20);
        for (let i = 0; i < sent.length; i += 65536) {
          crypto.getRandomValues(sent.subarray(i, i + 65536));
        }
        const reading = new Response(conn.readable).arrayBuffer();
        for (let i = 0; i < sent.length; i += 65536) await conn.write(sent.subarray(i, i + 65536));
        await conn.closeWrite();
        const back = new Uint8Array(await reading);
        assertEquals(await sha256(back), await sha256(sent));
      });

      await t.step(
        "nothing listening inside: that connection closes, the listener stays",
        async () => {
          await using none = await forward(pid, { remote: 9999, local: 0 });
          for (let i = 0; i < 2; i++) {
            const conn = await Deno.connect({ hostname: "127.0.0.1", port: none.local.port });
            assertEquals(await conn.read(new Uint8Array(10)), null);
            conn.close();
          }
        },
      );

      await t.step("the target dying mid-stream ends the transfer and the forward", async () => {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        await conn.write(enc.encode("GET /big HTTP/1.0\r\n\r\n"));
        const first = new Uint8Array(65536);
        assert((await conn.read(first)) !== null);
        await must("docker", ["kill", name]);
        let got = 0;
        let failed = false;
        try {
          const buf = new Uint8Array(1 << 20);
          for (;;) {
            const n = await conn.read(buf);
            if (n === null) break;
            got += n;
          }
        } catch {
          failed = true;
        }
        conn.close();
        // The connection ended early (the client sees a truncated body or a reset).
        assert(failed || got < file.length, `got all ${got} bytes`);
        const error = await fwd.done.then(() => undefined, (e) => e);
        assert(error instanceof NamespaceError, `done settled with ${error}`);
        assertEquals(error.code, "ESRCH");
        assertMatch(error.message, /exited/);
        await assertRejects(
          () => Deno.connect({ hostname: "127.0.0.1", port }),
          Deno.errors.ConnectionRefused,
        );
      });
    } finally {
      await run("docker", ["rm", "-f", name]);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "forward carries UDP into a network namespace given as a file",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    // A UDP echo server on the target's loopback.
    const server = await serveInside(
      target.pid,
      `const s = (await import("node:dgram")).createSocket("udp4");
       s.on("message", (m, r) => s.send("echo:" + m, r.port, r.address));
       s.bind(5353, "127.0.0.1", () => console.log("up"));`,
    );
    try {
      await using fwd = await forward(`/proc/${target.pid}/ns/net`, {
        remote: 5353,
        local: 0,
        protocol: "udp",
      });
      const dgram = (await import("node:dgram")).default;
      const client = dgram.createSocket("udp4");
      const reply = new Promise<string>((resolve) =>
        client.on("message", (m) => resolve(String(m)))
      );
      client.send("ping", fwd.local.port, "127.0.0.1");
      assertEquals(await reply, "echo:ping");
      client.close();
    } finally {
      await stop(server);
    }
  },
});

Deno.test({
  name: "forward over IPv6 and a host name, a taken port, and many transfers at once",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    // An echo on the target's IPv6 loopback only: [::1]:7000.
    const server = await serveInside(
      target.pid,
      `const l = Deno.listen({ hostname: "::1", port: 7000 });
       console.log("up");
       for await (const c of l) (async () => {
         const b = new Uint8Array(65536);
         for (let n; (n = await c.read(b)) !== null;) {
           for (let at = 0; at < n;) at += await c.write(b.subarray(at, n));
         }
         await c.closeWrite();
       })().catch(() => {});`,
    );
    try {
      await using fwd = await forward(`/proc/${target.pid}/ns/net`, {
        remote: 7000,
        remoteHost: "::1",
        local: { hostname: "::1", port: 0 },
      });
      assertEquals(fwd.local.hostname, "::1");
      /** Sends `data` through the forward, half-closes, and reads the echo to its end. */
      const echo = async (data: Uint8Array): Promise<Uint8Array> => {
        const conn = await Deno.connect({ hostname: "::1", port: fwd.local.port });
        const back = (async () => {
          const parts: Uint8Array<ArrayBuffer>[] = [];
          const b = new Uint8Array(65536);
          for (let n; (n = await conn.read(b)) !== null;) parts.push(b.slice(0, n));
          return new Uint8Array(await new Blob(parts).arrayBuffer());
        })();
        for (let at = 0; at < data.length;) at += await conn.write(data.subarray(at));
        await conn.closeWrite(); // the echo sees EOF, ends, and so does its answer
        const got = await back;
        conn.close();
        return got;
      };
      await t.step("echo through [::1] on both sides, half-closed by the client", async () => {
        const data = new Uint8Array(3 << 20);
        for (let i = 0; i < data.length; i += 65536) {
          crypto.getRandomValues(data.subarray(i, i + 65536));
        }
        assertEquals(await sha256(await echo(data)), await sha256(data));
      });
      await t.step("ten transfers at once, each its own bytes", async () => {
        const got = await Promise.all(
          Array.from({ length: 10 }, (_, i) => echo(new Uint8Array(1 << 20).fill(i))),
        );
        got.forEach((b, i) => {
          assertEquals(b.length, 1 << 20);
          assert(b.every((x) => x === i), `transfer ${i} mixed with another`);
        });
      });
      await t.step(
        "without read permission the relay runs on the main thread, same bytes",
        async () => {
          // A Worker needs read permission for its module file: with forward's documented
          // flags only, the relay waits in poll(2) on a pool thread instead.
          const file = await Deno.makeTempFile({ suffix: ".ts" });
          try {
            await Deno.writeTextFile(
              file,
              `import { forward } from ${
                JSON.stringify(new URL("../mod.ts", import.meta.url).href)
              };
await using f = await forward(${JSON.stringify(`/proc/${target.pid}/ns/net`)}, {
  remote: 7000, remoteHost: "::1", local: { hostname: "::1", port: 0 } });
const c = await Deno.connect({ hostname: "::1", port: f.local.port });
await c.write(new TextEncoder().encode("ping"));
await c.closeWrite();
const b = new Uint8Array(16);
let n = 0;
for (let k; (k = await c.read(b.subarray(n))) !== null;) n += k;
c.close();
console.log(new TextDecoder().decode(b.subarray(0, n)));`,
            );
            const out = await new Deno.Command(Deno.execPath(), {
              args: [
                "run",
                "--quiet",
                "--no-lock",
                "--no-prompt",
                "--allow-ffi",
                "--allow-env",
                "--allow-net",
                file,
              ],
              stdout: "piped",
              stderr: "piped",
            }).output();
            assertEquals([out.code, dec.decode(out.stdout), dec.decode(out.stderr)], [
              0,
              "ping\n",
              "",
            ]);
          } finally {
            await Deno.remove(file);
          }
        },
      );
      await t.step("a host name is looked up; a taken port is AddrInUse", async () => {
        await using named = await forward(`/proc/${target.pid}/ns/net`, {
          remote: 7000,
          remoteHost: "::1",
          local: { hostname: "localhost", port: 0 },
        });
        assertEquals(named.local.hostname, "127.0.0.1");
        await assertRejects(
          () =>
            forward(`/proc/${target.pid}/ns/net`, {
              remote: 7000,
              local: { hostname: "127.0.0.1", port: named.local.port },
            }),
          Deno.errors.AddrInUse,
        );
      });
    } finally {
      await stop(server);
    }
  },
});

Deno.test({
  name: "forward's CLI refuses bad ports and unknown targets with one line",
  ignore: !IS_ROOT && !CI,
  async fn() {
    const bad = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "forward", "1", "80:70000"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(bad.code, 2);
    assertMatch(
      dec.decode(bad.stderr),
      /^nsjoin forward: Cannot use 70000 as the remote port: it must be 1-65535 \(see: nsjoin forward --help\)\n$/,
    );
    // A listen address is an IP or localhost, as kubectl's --address: a name was looked up
    // on the host and one that did not resolve was "getaddrinfo ENOTFOUND bogus", exit 1.
    for (const argv of [["--address", "bogus", "1", "80"], ["1", "bogus:8080:80"]]) {
      const name = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "--quiet", CLI, "forward", ...argv],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals([name.code, dec.decode(name.stderr)], [
        2,
        'nsjoin forward: Cannot listen on "bogus": give an IP address or localhost, as kubectl (see: nsjoin forward --help)\n',
      ], argv.join(" "));
    }
    const missing = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--quiet", CLI, "forward", "nsjoin-no-such-container", "80"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(missing.code, 125);
    assertEquals(dec.decode(missing.stderr).trim().split("\n").length, 1);
  },
});

Deno.test({
  name: "examples/port_forward.ts serves a loopback-only service until Ctrl-C",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const server = await serveInside(
      target.pid,
      `Deno.serve({ hostname: "127.0.0.1", port: 8088, onListen: () => console.log("up") }, () => new Response("inside"));`,
    );
    const example = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        new URL("../examples/port_forward.ts", import.meta.url).pathname,
        String(target.pid),
        "8088",
      ],
      stdout: "piped",
      stderr: "piped",
    });
    let child: Deno.ChildProcess | undefined;
    try {
      child = example.spawn();
      const reader = child.stdout.getReader();
      const line = dec.decode((await reader.read()).value);
      reader.releaseLock();
      const url = line.match(/^(http:\/\/127\.0\.0\.1:\d+\/) -> /)?.[1];
      assert(url, `unexpected output: ${line}`);
      assertEquals(await (await fetch(url!)).text(), "inside");
      child.kill("SIGINT");
      assertEquals((await child.status).code, 0);
    } finally {
      await stop(server);
      if (child) {
        await child.stdout.cancel().catch(() => {});
        await child.stderr.cancel().catch(() => {});
      }
    }
  },
});

Deno.test({
  name: "forward out of fds (RLIMIT_NOFILE) refuses connections and keeps serving",
  ignore: !IS_ROOT && !CI,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await using target = await makeTarget({ flags: ["-n"], setup: "ip link set lo up" });
    const server = await serveInside(
      target.pid,
      `const l = Deno.listen({ hostname: "127.0.0.1", port: 7200 });
       console.log("up");
       for await (const c of l) (async () => {
         const b = new Uint8Array(65536);
         for (let n; (n = await c.read(b)) !== null;) {
           for (let at = 0; at < n;) at += await c.write(b.subarray(at, n));
         }
         await c.closeWrite();
       })().catch(() => {});`,
    );
    const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (free.addr as Deno.NetAddr).port;
    free.close();
    // Deno itself holds ~30 fds; each relayed connection takes 6 (two sockets, two pipes).
    const fwd = new Deno.Command("prlimit", {
      args: [
        "--nofile=64:64",
        Deno.execPath(),
        "run",
        "-A",
        CLI,
        "forward",
        String(target.pid),
        `${port}:7200`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const clients: Deno.TcpConn[] = [];
    try {
      const reader = fwd.stdout.getReader();
      assertMatch(dec.decode((await reader.read()).value), new RegExp(`:${port} -> 7200`));
      reader.releaseLock();
      /** One echo through the forward: the bytes back, or null when the connection was refused. */
      const echo = async (conn: Deno.TcpConn, text: string): Promise<string | null> => {
        try {
          await conn.write(enc.encode(text));
          const b = new Uint8Array(64);
          const n = await conn.read(b);
          return n === null ? null : dec.decode(b.subarray(0, n));
        } catch {
          return null; // reset
        }
      };
      for (let i = 0; i < 40; i++) clients.push(await Deno.connect({ port }));
      const answers = await Promise.all(clients.map((c, i) => echo(c, `hello ${i}`)));
      const served = answers.filter((a, i) => a === `hello ${i}`).length;
      const refused = answers.filter((a) => a === null).length;
      assert(served > 0 && refused > 0 && served + refused === 40, JSON.stringify(answers));
      // Longer than the forward's liveness check (200 ms) with every fd taken.
      await new Promise((r) => setTimeout(r, 1000));
      const exited = await Promise.race([fwd.status, new Promise((r) => setTimeout(r, 0, null))]);
      assertEquals(exited, null, "the forward ended while out of fds");
      for (const c of clients.splice(0)) c.close();
      await new Promise((r) => setTimeout(r, 300));
      // Fds back: a new connection is served.
      const again = await Deno.connect({ port });
      clients.push(again);
      assertEquals(await echo(again, "still here"), "still here");
      fwd.kill("SIGTERM");
      const status = await fwd.status;
      assertEquals(status.code, 0, dec.decode(await new Response(fwd.stderr).bytes()));
    } finally {
      for (const c of clients) c.close();
      try {
        fwd.kill("SIGKILL");
      } catch {
        // already gone
      }
      await fwd.status;
      await fwd.stdout.cancel().catch(() => {});
      await fwd.stderr.cancel().catch(() => {});
      await stop(server);
    }
  },
});
