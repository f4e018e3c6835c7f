/**
 * What each kilobyte of a module in a script's start graph costs a cold `deno run`, whether it
 * runs or not: the script imports nothing but names a padded module in a literal `import()`
 * that never runs (as cli.ts names enter's full path, `--help`'s texts and the helper's bytes),
 * or imports it statically (as cli.ts imports src/cli/_fast.ts's bundle). Deno reads every
 * module of that graph before the script's first line; the padding is a comment, JavaScript
 * statements or a base64 string literal (a helper module's shape), so the time is the bytes'
 * and not their parsing. Printed per variant: the script's first line (`performance.now()`,
 * ms after Deno's time origin) and the CPU time of the process, medians of interleaved cold
 * runs, and their slope in µs per KB against the unpadded script. In a directory with no
 * deno.json, as a user's script would be.
 *
 *   deno run -A bench/start_graph_bench.ts [iterations] [KB]
 */
import { childrenCpu } from "./_cpu.ts";

const N = Number(Deno.args[0] ?? 30);
const KB = Number(Deno.args[1] ?? 400);
const deno = Deno.execPath();

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const bytes = KB * 1024;
const PADS: Record<string, string> = {
  comment: `export const x = 1;\n/* ${"x".repeat(bytes - 26)} */\n`,
  statements: "export const x = 1;\n" +
    Array.from(
      { length: Math.ceil(bytes / 48) },
      (_, i) => `function f${i}(a, b) { return a + b * ${i % 1000}; }\n`,
    ).join("").slice(0, bytes - 20).replace(/[^\n]*$/, ""),
  base64: `export const HELPER = "${btoa("\0".repeat(Math.floor((bytes - 30) * 3 / 4)))}";\n`,
};
const FIRST = "console.log(performance.now());\n";
const dir = await Deno.makeTempDir({ prefix: "nsjoin-start-graph-" });
try {
  const runs: Record<string, string> = { "no import": `${dir}/none.js` };
  await Deno.writeTextFile(runs["no import"], FIRST);
  for (const [kind, text] of Object.entries(PADS)) {
    await Deno.writeTextFile(`${dir}/${kind}.js`, text);
    const never = `${dir}/never-${kind}.js`;
    await Deno.writeTextFile(
      never,
      `${FIRST}if (Deno.args[0] === "never") await import("./${kind}.js");\n`,
    );
    runs[`never-run import(), ${kind}`] = never;
  }
  const evaluated = `${dir}/static.js`;
  await Deno.writeTextFile(evaluated, `import { x } from "./comment.js";\n${FIRST}void x;\n`);
  runs["static import, comment"] = evaluated;
  const run = async (path: string) => {
    const c0 = childrenCpu();
    const o = await new Deno.Command(deno, { args: ["run", "-A", path], stdout: "piped" })
      .output();
    if (!o.success) throw new Error(`deno run ${path} failed`);
    return { first: Number(new TextDecoder().decode(o.stdout)), cpu: childrenCpu() - c0 };
  };
  // Twice each first: Deno's caches are then what a user's are after one run.
  for (const path of Object.values(runs)) for (let i = 0; i < 2; i++) await run(path);
  const first: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  for (const name of Object.keys(runs)) [first[name], cpu[name]] = [[], []];
  for (let i = 0; i < N; i++) {
    const order = Object.keys(runs).map((n) => [Math.random(), n] as const)
      .sort((a, b) => a[0] - b[0]).map(([, n]) => n);
    for (const name of order) {
      const r = await run(runs[name]);
      first[name].push(r.first);
      cpu[name].push(r.cpu);
    }
  }
  console.log(
    `deno run, ${N} interleaved cold runs, ${KB} KB of padding (load average ${
      Deno.loadavg()[0].toFixed(1)
    }): first line (ms after the time origin) and CPU (ms), medians; slope: µs per KB above "no import"`,
  );
  const f0 = median(first["no import"]);
  const c0 = median(cpu["no import"]);
  for (const name of Object.keys(runs)) {
    const f = median(first[name]);
    const c = median(cpu[name]);
    const slope = name === "no import"
      ? ""
      : `  slope ${((f - f0) * 1000 / KB).toFixed(2)} / ${((c - c0) * 1000 / KB).toFixed(2)} µs/KB`;
    console.log(
      `  ${name.padEnd(30)} first line ${f.toFixed(2).padStart(6)}  CPU ${
        c.toFixed(1).padStart(5)
      }${slope}`,
    );
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
