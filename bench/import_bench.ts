/**
 * What importing nsjoin costs a script, whole process: `deno run` of a script that imports
 * the main entry (mod.ts) and runs one `NsCommand("true")` in a target made with unshare,
 * interleaved with the same script without the import doing the same work by other means
 * (`Deno.Command` of util-linux `nsenter -t PID -a true`: the same namespaces joined, the same
 * two execs), with a plain `Deno.Command("true")` (no join: the stricter floor), the floor
 * itself (`Deno.dlopen` of libc's posix_spawn and waitpid, posix_spawn(3) of /usr/bin/true and
 * waitpid: how `NsCommand#output()` starts its helper, ffi/spawn.ts, with nothing else), an empty
 * script, and the same NsCommand script importing the dax entry as well. The scripts live in a
 * temporary directory with no deno.json, as a user's would. Wall time, and the CPU time of each
 * run (bench/_cpu.ts), which the load of a shared machine moves much less. With BASE, the path
 * of another checkout (say `git archive` of the base commit into a directory), its mod.ts runs
 * the NsCommand script in the same rounds: a before/after under the same load.
 * Needs root.
 *
 *   deno run -A bench/import_bench.ts [iterations] [BASE]
 */
import { join } from "node:path";
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 30);
const deno = Deno.execPath();
const mod = new URL("../mod.ts", import.meta.url).href;
const dax = new URL("../dax.ts", import.meta.url).href;
const base = Deno.args[1];
const baseMod = base ? new URL("mod.ts", `file://${base.replace(/\/?$/, "/")}`).href : undefined;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const target = new Deno.Command("unshare", {
  args: ["-n", "-u", "-i", "--fork", "sh", "-c", "echo ready; exec sleep 100000"],
  stdout: "piped",
}).spawn();
await target.stdout.getReader().read();
const pid = Number(Deno.readTextFileSync(`/proc/${target.pid}/task/${target.pid}/children`).trim());
const dir = await Deno.makeTempDir({ prefix: "nsjoin-import-bench-" });

try {
  const scripts: Record<string, string> = {
    "empty script": "",
    "Deno.Command(true), no import": `const o = await new Deno.Command("true").output();
if (!o.success) Deno.exit(1);`,
    "floor: FFI posix_spawn(true)": `const cstr = (s) => new TextEncoder().encode(s + "\\0");
const ptr = (b) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(b)));
const path = cstr("/usr/bin/true");
const argv = new BigUint64Array([ptr(path), 0n]);
const libc = Deno.dlopen("libc.so.6", {
  posix_spawn: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "buffer", "buffer"],
    result: "i32",
  },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
});
const pid = new Int32Array(1);
if (libc.symbols.posix_spawn(pid, path, null, null, argv, new BigUint64Array(1)) !== 0) Deno.exit(1);
const status = new Int32Array(1);
if (libc.symbols.waitpid(pid[0], status, 0) !== pid[0] || status[0] !== 0) Deno.exit(1);`,
    "Deno.Command(nsenter), no import": `const o = await new Deno.Command("nsenter", {
  args: ["-t", "${pid}", "-a", "true"],
}).output();
if (!o.success) Deno.exit(1);`,
    "import mod.ts + one NsCommand": `import { NsCommand } from ${JSON.stringify(mod)};
const o = await new NsCommand("true", { target: ${pid} }).output();
if (!o.success) Deno.exit(1);`,
    "import dax.ts too + one NsCommand": `import { NsCommand } from ${JSON.stringify(mod)};
import ${JSON.stringify(dax)};
const o = await new NsCommand("true", { target: ${pid} }).output();
if (!o.success) Deno.exit(1);`,
  };
  if (baseMod) {
    scripts["base: import mod.ts + one NsCommand"] = `import { NsCommand } from ${
      JSON.stringify(baseMod)
    };
const o = await new NsCommand("true", { target: ${pid} }).output();
if (!o.success) Deno.exit(1);`;
  }
  const paths: Record<string, string> = {};
  for (const [name, text] of Object.entries(scripts)) {
    paths[name] = join(dir, `${Object.keys(paths).length}.ts`);
    await Deno.writeTextFile(paths[name], text);
  }
  /** One run: [wall ms, CPU ms]. */
  const run = async (path: string): Promise<[number, number]> => {
    const c0 = childrenCpu();
    const t0 = performance.now();
    const o = await new Deno.Command(deno, { args: ["run", "-A", path], stderr: "piped" })
      .output();
    const ms = performance.now() - t0;
    if (!o.success) throw new Error(`${path} failed: ${new TextDecoder().decode(o.stderr)}`);
    return [ms, childrenCpu() - c0];
  };
  const wall: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(paths).map((k) => [k, []]));
  for (const path of Object.values(paths)) await run(path); // fill the module cache
  for (let i = 0; i < N; i++) {
    // A new order each round (Fisher-Yates): no script always follows the same one.
    const order = Object.entries(paths);
    for (let j = order.length - 1; j > 0; j--) {
      const k = Math.floor(Math.random() * (j + 1));
      [order[j], order[k]] = [order[k], order[j]];
    }
    for (const [name, path] of order) {
      const [w, c] = await run(path);
      wall[name].push(w);
      cpu[name].push(c);
    }
  }
  console.log(`deno run, whole process, ${N} interleaved iterations (target pid ${pid})`);
  for (const name of Object.keys(paths)) {
    console.log(
      `  ${name.padEnd(36)} median ${median(wall[name]).toFixed(1)} ms, CPU ${
        median(cpu[name]).toFixed(1)
      } ms`,
    );
  }
  for (const [what, t] of [["wall", wall], ["CPU", cpu]] as const) {
    const m = (name: string) => median(t[name]);
    const same = m("Deno.Command(nsenter), no import");
    const bare = m("Deno.Command(true), no import");
    const floor = m("floor: FFI posix_spawn(true)");
    const empty = m("empty script");
    const ratios = (name: string) =>
      `${(m(name) / same).toFixed(2)}x (${(m(name) / bare).toFixed(2)}x, floor ${
        (m(name) / floor).toFixed(2)
      }x, empty ${(m(name) / empty).toFixed(2)}x)`;
    console.log(
      `  ${what}: import mod.ts + NsCommand ${
        ratios("import mod.ts + one NsCommand")
      } the script without the import, nsenter (bare true, the FFI floor, an empty script) ` +
        `(goal <= 1.15); with dax.ts as well ${ratios("import dax.ts too + one NsCommand")}${
          baseMod ? `; base ${ratios("base: import mod.ts + one NsCommand")}` : ""
        }; the floor ${(floor / empty).toFixed(2)}x an empty script`,
    );
  }
} finally {
  // unshare first: util-linux 2.38's unshare, seeing its child die of SIGKILL, tries to
  // reset SIGKILL's handler (EINVAL) and prints "sigprocmask unblock failed" (its bug).
  Deno.kill(target.pid, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await target.status;
  await Deno.remove(dir, { recursive: true });
}
