/**
 * `nsjoin forward` against a direct connection and against socat through nsenter
 * (`socat TCP-LISTEN:… EXEC:"nsenter -t PID -n socat STDIO TCP:127.0.0.1:…"`), interleaved
 * in one run, to servers on the loopback of a network namespace made with unshare:
 * - throughput: MB/s of one download through one connection (goal ≥ 0.8× direct);
 * - latency: the median round trip of a 64-byte request on one open connection, and the
 *   time added over direct (goal ≤ 0.2 ms);
 * - connection set-up: connect + one round trip on a new connection.
 * "Direct" is this process connecting inside the namespace itself (the socket made while
 * joined). The forwarders run as their own processes (the CLI, and socat), as a user runs
 * them. Needs root and socat (apt-get install socat).
 *
 *   deno run -A bench/forward_bench.ts [MB per download] [round trips] [rounds]
 *   (defaults: 1024 2000 3)
 */
import { scopedJoin } from "../mod.ts";

const MB = Number(Deno.args[0] ?? 1024);
const TRIPS = Number(Deno.args[1] ?? 2000);
const ROUNDS = Number(Deno.args[2] ?? 3);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

// The servers, inside the namespace: a source that sends MB megabytes per connection, and
// an echo. Deno itself, so nothing else is needed; run with nsenter -n.
const SERVERS = `
const chunk = new Uint8Array(1 << 20);
const source = Deno.listen({ hostname: "127.0.0.1", port: 9100 });
const echo = Deno.listen({ hostname: "127.0.0.1", port: 9101 });
(async () => { for await (const c of source) (async () => {
  c.setNoDelay(true);
  const n = Number(new TextDecoder().decode(new Uint8Array(await readSome(c))));
  for (let i = 0; i < n; i++) await writeAll(c, chunk);
  c.close();
})().catch(() => {}); })();
(async () => { for await (const c of echo) (async () => {
  c.setNoDelay(true);
  const b = new Uint8Array(65536);
  for (;;) { const n = await c.read(b); if (n === null) break; await writeAll(c, b.subarray(0, n)); }
  c.close();
})().catch(() => {}); })();
async function readSome(c) { const b = new Uint8Array(64); const n = await c.read(b); return b.subarray(0, n); }
async function writeAll(c, b) { let at = 0; while (at < b.length) at += await c.write(b.subarray(at)); }
console.log("up");
`;

const ns = new Deno.Command("unshare", {
  args: ["-n", "sh", "-c", "ip link set lo up; echo $$; exec sleep 100000"],
  stdout: "piped",
}).spawn();
const nsPid = Number(new TextDecoder().decode((await ns.stdout.getReader().read()).value).trim());
const children: Deno.ChildProcess[] = [];
const spawn = (cmd: string, args: string[]) => {
  const c = new Deno.Command(cmd, { args, stdout: "piped", stderr: "inherit" }).spawn();
  children.push(c);
  return c;
};
async function firstLine(c: Deno.ChildProcess): Promise<string> {
  const r = c.stdout.getReader();
  let s = "";
  while (!s.includes("\n")) s += new TextDecoder().decode((await r.read()).value);
  r.releaseLock();
  return s;
}

try {
  await firstLine(
    spawn("nsenter", ["-t", String(nsPid), "-n", Deno.execPath(), "eval", SERVERS]),
  );
  // nsjoin forward (the CLI), one port for each server.
  const fwd = spawn(Deno.execPath(), [
    "run",
    "-A",
    "--quiet",
    CLI,
    "forward",
    String(nsPid),
    ":9100",
    ":9101",
  ]);
  const lines = await firstLine(fwd);
  const fwdSource = Number(lines.match(/127\.0\.0\.1:(\d+) -> 9100/)![1]);
  const fwdEcho = await (async () => {
    let all = lines;
    const r = fwd.stdout.getReader();
    while (!/-> 9101/.test(all)) all += new TextDecoder().decode((await r.read()).value);
    r.releaseLock();
    return Number(all.match(/127\.0\.0\.1:(\d+) -> 9101/)![1]);
  })();
  fwd.stdout.cancel().catch(() => {});
  // socat through nsenter: each connection runs nsenter + socat inside.
  const socat = (local: number, remote: number) =>
    spawn("socat", [
      `TCP-LISTEN:${local},bind=127.0.0.1,reuseaddr,fork`,
      `EXEC:nsenter -t ${nsPid} -n socat STDIO TCP\\:127.0.0.1\\:${remote}`,
    ]);
  socat(29100, 9100);
  socat(29101, 9101);
  await new Promise((r) => setTimeout(r, 500));

  const connect = (how: string, remote: number): Promise<Deno.TcpConn> => {
    if (how === "direct") {
      const join = scopedJoin(nsPid, ["net"]);
      try {
        return Deno.connect({ hostname: "127.0.0.1", port: remote });
      } finally {
        join[Symbol.dispose]();
      }
    }
    const port = how === "nsjoin forward"
      ? (remote === 9100 ? fwdSource : fwdEcho)
      : (remote === 9100 ? 29100 : 29101);
    return Deno.connect({ hostname: "127.0.0.1", port });
  };

  const download = async (how: string) => {
    const c = await connect(how, 9100);
    await c.write(new TextEncoder().encode(String(MB)));
    const buf = new Uint8Array(1 << 20);
    let n = 0;
    const t0 = performance.now();
    for (;;) {
      const k = await c.read(buf);
      if (k === null) break;
      n += k;
    }
    const s = (performance.now() - t0) / 1000;
    c.close();
    if (n !== MB << 20) throw new Error(`${how}: got ${n} bytes`);
    return n / s / 1e6;
  };
  const roundTrips = async (how: string) => {
    const c = await connect(how, 9101);
    c.setNoDelay(true);
    const msg = new Uint8Array(64).fill(7);
    const buf = new Uint8Array(64);
    const times: number[] = [];
    for (let i = 0; i < TRIPS; i++) {
      const t0 = performance.now();
      await c.write(msg);
      let got = 0;
      while (got < 64) got += (await c.read(buf.subarray(got)))!;
      times.push(performance.now() - t0);
    }
    c.close();
    return median(times);
  };
  const setup = async (how: string) => {
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
      const t0 = performance.now();
      const c = await connect(how, 9101);
      await c.write(new Uint8Array(8));
      await c.read(new Uint8Array(8));
      times.push(performance.now() - t0);
      c.close();
    }
    return median(times);
  };

  const hows = ["direct", "nsjoin forward", "socat + nsenter"];
  const res = Object.fromEntries(
    hows.map((h) => [h, { mbs: [] as number[], rtt: [] as number[], setup: [] as number[] }]),
  );
  for (const how of hows) await roundTrips(how); // warm up
  for (let r = 0; r < ROUNDS; r++) {
    for (const how of r % 2 ? [...hows].reverse() : hows) {
      res[how].mbs.push(await download(how));
      res[how].rtt.push(await roundTrips(how));
      res[how].setup.push(await setup(how));
    }
  }
  const d = { mbs: median(res.direct.mbs), rtt: median(res.direct.rtt) };
  console.log(
    `forward: ${ROUNDS} interleaved rounds; ${MB} MB per download, ${TRIPS} round trips of 64 B\n`,
  );
  console.log(
    "| | throughput | vs direct | round trip (median) | added vs direct | new connection + 1 round trip |",
  );
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const how of hows) {
    const mbs = median(res[how].mbs);
    const rtt = median(res[how].rtt);
    console.log(
      `| ${how} | ${mbs.toFixed(0)} MB/s | ${(mbs / d.mbs).toFixed(2)}× | ${
        (rtt * 1000).toFixed(0)
      } µs | ${how === "direct" ? "" : `${((rtt - d.rtt) * 1000).toFixed(0)} µs`} | ${
        median(res[how].setup).toFixed(2)
      } ms |`,
    );
  }
} finally {
  for (const c of children) {
    try {
      c.kill("SIGKILL");
    } catch {
      // gone
    }
    await c.status;
  }
  Deno.kill(nsPid, "SIGKILL");
  await ns.status;
}
