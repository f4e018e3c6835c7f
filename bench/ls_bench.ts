/**
 * Listing benchmark: a host with about 2,000 processes in about 200 namespaces (made here
 * with unshare, killed after), listed by nsjoin's in-process scan, by the whole `lsns`
 * process and by the whole `cli.ts ls` process, in one run. Prints medians and ratios.
 *
 *   deno run -A bench/ls_bench.ts [--groups 40] [--per-group 50] [--runs 15]
 *
 * Needs root (unshare of mnt, uts, ipc, net and pid namespaces).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { listNamespaces } from "../src/listing.ts";

const { values } = parseArgs({
  options: {
    groups: { type: "string", default: "40" },
    "per-group": { type: "string", default: "50" },
    runs: { type: "string", default: "15" },
  },
});
const GROUPS = Number(values.groups);
const PER_GROUP = Number(values["per-group"]);
const RUNS = Number(values.runs);
const CLI = new URL("../cli.ts", import.meta.url).pathname;

interface Group {
  outer: Deno.ChildProcess;
  init: number;
}

/** One group: five new namespaces (mnt uts ipc net pid) holding PER_GROUP processes. */
async function makeGroup(): Promise<Group> {
  const script = `for i in $(seq ${PER_GROUP - 1}); do sleep 100000 >/dev/null & done; ` +
    `echo ready; exec sleep 100000`;
  const outer = new Deno.Command("unshare", {
    args: ["-m", "-u", "-i", "-n", "-p", "--fork", "--mount-proc", "sh", "-c", script],
    stdin: "null",
    stdout: "piped",
    // unshare complains about sigprocmask when its child is SIGKILLed at cleanup.
    stderr: "null",
  }).spawn();
  const reader = outer.stdout.getReader();
  let got = "";
  while (!got.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("unshare failed: is this root?");
    got += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  await outer.stdout.cancel();
  const children = Deno.readTextFileSync(`/proc/${outer.pid}/task/${outer.pid}/children`);
  return { outer, init: Number(children.trim().split(/\s+/)[0]) };
}

async function kill(groups: Group[]): Promise<void> {
  for (const g of groups) {
    try {
      Deno.kill(g.init, "SIGKILL"); // the pid namespace's init: every process in it dies
    } catch {
      // Gone.
    }
  }
  await Promise.all(groups.map((g) => g.outer.status));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function timeSpawn(cmd: string, args: string[]): Promise<number> {
  const t = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "null",
    stderr: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const ms = performance.now() - t;
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed (${out.code})`);
  return ms;
}

const groups: Group[] = [];
try {
  for (let i = 0; i < GROUPS; i++) groups.push(await makeGroup());
  const listing = listNamespaces();
  console.log(
    `host: ${listing.processes} processes, ${listing.namespaces.length} namespaces ` +
      `(${GROUPS} groups of ${PER_GROUP} processes in 5 new namespaces each)`,
  );
  const scan: number[] = [], lsns: number[] = [], cli: number[] = [];
  // Warm up page cache and JIT once each, then interleave so load hits all three alike.
  listNamespaces();
  await timeSpawn("lsns", []);
  await timeSpawn(Deno.execPath(), ["run", "-A", "--quiet", CLI, "ls"]);
  for (let r = 0; r < RUNS; r++) {
    const t = performance.now();
    listNamespaces();
    scan.push(performance.now() - t);
    lsns.push(await timeSpawn("lsns", []));
    cli.push(await timeSpawn(Deno.execPath(), ["run", "-A", "--quiet", CLI, "ls"]));
  }
  const m = { scan: median(scan), lsns: median(lsns), cli: median(cli) };
  console.log(`median of ${RUNS} runs:`);
  console.log(`  nsjoin listNamespaces() in-process  ${m.scan.toFixed(1)} ms`);
  console.log(`  lsns (whole process)                ${m.lsns.toFixed(1)} ms`);
  console.log(`  deno run cli.ts ls (whole process)  ${m.cli.toFixed(1)} ms`);
  console.log(`ratios:`);
  console.log(`  in-process scan / lsns   ${(m.scan / m.lsns).toFixed(2)}x  (goal <= 1.00x)`);
  console.log(`  cli.ts ls / lsns         ${(m.cli / m.lsns).toFixed(2)}x`);
} finally {
  await kill(groups);
}
