/**
 * Stop 27, sec27c: the distroless toolkit and sessions attacked as a hostile container —
 * `forward`'s relay, `debug`, sessions, `cp` into a target (docs/security.md, "Stop 27 … sec27c").
 */
import { forward } from "../src/forward.ts";
import { tarTo } from "../src/copy.ts";
import { assert, assertEquals, assertRejects, CI, IS_ROOT, makeTarget } from "./_fixtures.ts";

const CLI = new URL("../cli.ts", import.meta.url).pathname;

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
  name:
    "stop 27 sec27c: an urgent byte from the target's server neither stalls forward nor spins it",
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

/** A ustar header block: `flag` "g" (global extended header) or "0" (a file). */
function tarHeader(name: string, size: number, flag: string): Uint8Array {
  const b = new Uint8Array(512);
  const put = (at: number, text: string) => b.set(new TextEncoder().encode(text), at);
  put(0, name);
  put(100, "0000644\0");
  put(108, "0000000\0");
  put(116, "0000000\0");
  put(124, size.toString(8).padStart(11, "0") + "\0");
  put(136, "00000000000\0");
  b[156] = flag.charCodeAt(0);
  put(257, "ustar\0");
  put(263, "00");
  put(148, "        ");
  const sum = b.reduce((a, x) => a + x, 0);
  put(148, sum.toString(8).padStart(6, "0") + "\0 ");
  return b;
}

/** One pax record, its length counting itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = body.length + 1;
  while (n !== body.length + String(n).length) n = body.length + String(n).length;
  return `${n}${body}`;
}

/** A tar stream: global extended headers with `records` each, then one empty file. */
function globalTar(records: string[][]): ReadableStream<Uint8Array> {
  const parts: Uint8Array[] = [];
  for (const recs of records) {
    const data = new TextEncoder().encode(recs.join(""));
    parts.push(tarHeader("pax_global_header", data.length, "g"), data);
    parts.push(new Uint8Array((512 - data.length % 512) % 512));
  }
  parts.push(tarHeader("f", 0, "0"), new Uint8Array(1024));
  return ReadableStream.from(parts);
}

Deno.test({
  name: "stop 27 sec27c: global tar headers are bounded (memory and per-entry cost of cp -)",
  ignore: !IS_ROOT && !CI,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec27c-" });
    try {
      // Keys of their own, 8 MiB each: held for the whole stream (150 of them held 1.3 GB
      // in root's `cp -` before the cap).
      const big = "v".repeat(8 << 20);
      await assertRejects(
        () => tarTo(Deno.pid, dir, globalTar([0, 1, 2].map((i) => [paxRecord(`k${i}`, big)]))),
        Error,
        "global extended headers hold more than 1024 records or 16 MiB",
      );
      // Many tiny records, copied into every later entry's (800 000 of them: ~0.4 s per entry).
      const many = Array.from({ length: 2000 }, (_, i) => paxRecord(`k${i}`, ""));
      await assertRejects(
        () => tarTo(Deno.pid, dir, globalTar([many])),
        Error,
        "global extended headers hold more than 1024 records or 16 MiB",
      );
      // The CLI: one line, exit 1, nothing written.
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CLI, "cp", "-", `${Deno.pid}:${dir}`],
        stdin: "piped",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      await globalTar([many]).pipeTo(child.stdin).catch(() => {});
      const out = await child.output();
      const err = new TextDecoder().decode(out.stderr);
      assertEquals(out.code, 1, err);
      assertEquals(err.trim().split("\n").length, 1, err);
      assert(err.includes("global extended headers"), err);
      // A small global header (what GNU tar and libarchive write) is still read.
      await tarTo(Deno.pid, dir, globalTar([[paxRecord("comment", "hello")]]));
      assertEquals((await Deno.stat(`${dir}/f`)).size, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** A tar stream of `count` directories, each with an extended header of one xattr of `size` bytes. */
function dirXattrTar(count: number, size: number): ReadableStream<Uint8Array> {
  const record = new TextEncoder().encode(paxRecord("SCHILY.xattr.user.big", "v".repeat(size)));
  const pad = (n: number) => new Uint8Array((512 - n % 512) % 512);
  const parts: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    parts.push(tarHeader("pax", record.length, "x"), record, pad(record.length));
    parts.push(tarHeader(`d${i}/`, 0, "5"));
  }
  parts.push(new Uint8Array(1024));
  return ReadableStream.from(parts);
}

Deno.test({
  name: "stop 27 sec27c: directories' xattrs kept to the end of a tar stream are bounded",
  ignore: !IS_ROOT && !CI,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-sec27c-" });
    try {
      // 9 directories with an 8 MiB xattr each: every byte was held until the stream ended
      // (150 of them: 1.4 GB in root's `cp -`).
      await assertRejects(
        () => tarTo(Deno.pid, dir, dirXattrTar(9, 8 << 20)),
        Error,
        "directories hold more than 64 MiB of extended attributes",
      );
      // Small ones (an ACL's size) are still extracted.
      await tarTo(Deno.pid, `${dir}`, dirXattrTar(3, 64));
      assert((await Deno.stat(`${dir}/d2`)).isDirectory);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
