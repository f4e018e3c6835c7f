/**
 * The picture "how docker exec works" articles draw: a process in namespaces of its own,
 * seen from outside and then from inside through nsjoin. Makes a throwaway target with
 * unshare (hostname, network, PIDs, mounts of its own), shows both views side by side,
 * and cleans up. Needs root.
 *
 *   deno task demo        (or: deno run -A examples/demo.ts)
 */
import { NsCommand } from "../mod.ts";

if (Deno.uid() !== 0) {
  console.error("demo: Cannot make namespaces without root: run it as root (sudo)");
  Deno.exit(2);
}

const SETUP = [
  "hostname nsjoin-demo",
  "ip link set lo up",
  "mount -t tmpfs demo /mnt",
  "echo 'only visible inside' > /mnt/hello.txt",
  "sleep 100000 &",
  "sleep 100000 &",
  "echo ready",
  "exec sleep 100000",
].join("\n");

const unshare = new Deno.Command("unshare", {
  args: [
    "--mount",
    "--uts",
    "--ipc",
    "--net",
    "--pid",
    "--cgroup",
    "--fork",
    "--mount-proc",
    "sh",
    "-c",
    SETUP,
  ],
  stdout: "piped",
  stderr: "null",
}).spawn();
await unshare.stdout.getReader().read();
const pid = Number(
  Deno.readTextFileSync(`/proc/${unshare.pid}/task/${unshare.pid}/children`).trim(),
);

const VIEWS: [string, string][] = [
  ["hostname", "hostname"],
  ["network interfaces", "ip -br addr | tr -s ' '"],
  [
    "processes (pid comm)",
    "for d in /proc/[0-9]*; do echo ${d#/proc/} $(cat $d/comm 2>/dev/null); done | sort -n | head -5",
  ],
  ["process count", "ls -d /proc/[0-9]* | wc -l"],
  ["/mnt", "ls /mnt"],
  ["namespace of net", "readlink /proc/self/ns/net"],
];

async function view(script: string, inside: boolean): Promise<string> {
  const out = inside
    ? await new NsCommand("sh", { target: pid, args: ["-c", script] }).output()
    : await new Deno.Command("sh", { args: ["-c", script], stdout: "piped", stderr: "piped" })
      .output();
  return new TextDecoder().decode(out.stdout).trim() || "(nothing)";
}

try {
  console.log(
    `target: pid ${pid}, made with unshare in new mnt, uts, ipc, net, pid and cgroup namespaces\n`,
  );
  const width = 44;
  for (const [title, script] of VIEWS) {
    const [outside, inside] = [await view(script, false), await view(script, true)];
    const a = outside.split("\n").slice(0, 5);
    const b = inside.split("\n");
    console.log(`== ${title}`);
    console.log(`  ${"outside (host)".padEnd(width)} | inside (nsjoin, pid ${pid})`);
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      console.log(`  ${(a[i] ?? "").slice(0, width).padEnd(width)} | ${b[i] ?? ""}`);
    }
    console.log();
  }
  console.log("the same from a shell: deno run -A cli.ts enter -t PID -a sh");
} finally {
  Deno.kill(pid, "SIGKILL"); // a namespace's init ignores SIGTERM from outside
  await unshare.status;
  console.log(`cleaned up: pid ${pid} and its namespaces are gone`);
}
