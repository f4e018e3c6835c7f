/**
 * Find every process that shares a network namespace with a container: sidecars, a
 * Kubernetes pod's other containers, `docker run --network container:X`, or something
 * that joined it with nsenter. Compares the nsfs inode of /proc/PID/ns/net for every
 * process with the container's.
 *
 *   deno run -A examples/shared_netns.ts TARGET
 *
 * TARGET is a PID, a namespace file (/run/netns/NAME) or a container name.
 */
import { parseTarget, resolveContainer } from "../mod.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`shared_netns: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

const where = Deno.args[0];
if (!where) {
  console.error("usage: shared_netns.ts TARGET");
  Deno.exit(2);
}
const target = /^[0-9]+$/.test(where) || where.startsWith("/")
  ? parseTarget(where)
  : await resolveContainer(where);
const file = typeof target === "number"
  ? `/proc/${target}/ns/net`
  : typeof target === "string"
  ? target
  : `/proc/${target.pid}/ns/net`;
const ns = Deno.statSync(file);

const rows: string[][] = [];
for (const entry of Deno.readDirSync("/proc")) {
  if (!/^[0-9]+$/.test(entry.name)) continue;
  try {
    const st = Deno.statSync(`/proc/${entry.name}/ns/net`);
    if (st.ino !== ns.ino || st.dev !== ns.dev) continue;
    const cmdline = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).split("\0").join(" ");
    rows.push([
      entry.name,
      cmdline.trim() || `[${Deno.readTextFileSync(`/proc/${entry.name}/comm`).trim()}]`,
    ]);
  } catch {
    // The process exited while we looked, or hides its namespaces from us.
  }
}
rows.sort((a, b) => Number(a[0]) - Number(b[0]));
console.log(`net:[${ns.ino}] is shared by ${rows.length} process${rows.length === 1 ? "" : "es"}`);
const width = Math.max(3, ...rows.map((r) => r[0].length));
console.log(`${"PID".padStart(width)}  COMMAND`);
for (const [pid, cmd] of rows) console.log(`${pid.padStart(width)}  ${cmd}`);
