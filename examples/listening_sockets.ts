/**
 * List the listening sockets of every container, like `ss -ltun` run in each, without
 * `ss` in any of them: a Worker inside each network namespace reads the kernel's socket
 * tables (/proc/thread-self/net/*), the host decodes them.
 *
 *   deno run -A examples/listening_sockets.ts [TARGET...]
 *
 * With no TARGET, every running container (docker, podman, containerd, CRI-O) is listed.
 * A TARGET is a PID, a namespace file (/run/netns/NAME) or a container name.
 */
import {
  findContainers,
  inNamespaces,
  parseTarget,
  resolveContainer,
  type Target,
} from "../mod.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`listening_sockets: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

interface Socket {
  target: string;
  proto: string;
  address: string;
  port: number;
}

/** "0100007F:1F90" (tcp) or 32 hex digits (tcp6), as the kernel prints them, to text. */
function decode(hex: string): { address: string; port: number } {
  const [addr, port] = hex.split(":");
  // The kernel prints each 32-bit word in host (little-endian) byte order.
  const bytes = addr.match(/.{8}/g)!.flatMap((w) => w.match(/../g)!.reverse());
  if (bytes.length === 4) {
    return { address: bytes.map((b) => parseInt(b, 16)).join("."), port: parseInt(port, 16) };
  }
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(parseInt(bytes[i] + bytes[i + 1], 16).toString(16));
  // The longest run of zero groups becomes "::".
  let best = { at: -1, len: 0 }, run = { at: -1, len: 0 };
  groups.forEach((g, i) => {
    run = g === "0" ? { at: run.at < 0 ? i : run.at, len: run.len + 1 } : { at: -1, len: 0 };
    if (run.len > best.len) best = run;
  });
  const text = best.len > 1
    ? `${groups.slice(0, best.at).join(":")}::${groups.slice(best.at + best.len).join(":")}`
    : groups.join(":");
  return { address: `[${text}]`, port: parseInt(port, 16) };
}

async function listening(name: string, target: Target): Promise<Socket[]> {
  const tables = await inNamespaces(target, () =>
    Object.fromEntries(
      ["tcp", "tcp6", "udp", "udp6"].map((t) => {
        try {
          return [t, Deno.readTextFileSync(`/proc/thread-self/net/${t}`)];
        } catch {
          return [t, ""]; // no IPv6 in this namespace
        }
      }),
    ), { namespaces: ["net"] });
  const out: Socket[] = [];
  for (const [proto, table] of Object.entries(tables as Record<string, string>)) {
    for (const line of table.trim().split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // State 0A is TCP_LISTEN; an unconnected UDP socket is 07 (TCP_CLOSE).
      if (f.length > 3 && f[3] === (proto.startsWith("tcp") ? "0A" : "07")) {
        out.push({ target: name, proto, ...decode(f[1]) });
      }
    }
  }
  return out;
}

const targets: [string, Target][] = [];
if (Deno.args.length > 0) {
  for (const where of Deno.args) {
    targets.push([
      where,
      /^[0-9]+$/.test(where) || where.startsWith("/")
        ? parseTarget(where)
        : await resolveContainer(where),
    ]);
  }
} else {
  for (const c of await findContainers()) targets.push([c.name ?? c.id.slice(0, 12), c.pid]);
}

const rows = (await Promise.all(targets.map(([name, t]) => listening(name, t)))).flat();
const table = [
  ["TARGET", "PROTO", "ADDRESS", "PORT"],
  ...rows.map((s) => [
    s.target,
    s.proto,
    s.address,
    String(s.port),
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
for (const r of table) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
