/**
 * The published entry points load from anywhere: a script in a directory with no deno.json
 * (so no import map of ours) imports them by path and by file:// URL and uses them for real.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
  text,
} from "./_fixtures.ts";

/** Runs `source` as a script in a fresh directory with no config: code, stdout, stderr. */
async function runElsewhere(
  source: string,
  flags: string[] = ["-A"],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-import-" });
  try {
    await Deno.writeTextFile(`${dir}/script.ts`, source);
    // --no-lock: a user's script has no lock file of ours either.
    return await runPiped(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", ...flags, `${dir}/script.ts`],
      cwd: dir,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const MOD_PATH = `${ROOT}mod.ts`;
const MOD_URL = new URL("../mod.ts", import.meta.url).href;
const DAX_URL = new URL("../dax.ts", import.meta.url).href;

Deno.test("no published module names a bare specifier that only our import map resolves", async () => {
  // Every import of code under the publish list must be relative or carry its registry
  // (npm:, node:, jsr:), or a user's script that imports it fails to resolve.
  const bare: string[] = [];
  for (
    const dir of ["src", "ffi", "src/cli", "src/_bundle", "src/cli/_bundle", "src/cli/_bundle/cli"]
  ) {
    for (const entry of Deno.readDirSync(`${ROOT}${dir}`)) {
      if (entry.isFile && /\.[jt]s$/.test(entry.name)) bare.push(`${dir}/${entry.name}`);
    }
  }
  const offenders: string[] = [];
  for (const file of ["mod.ts", "dax.ts", "cli.ts", ...bare]) {
    const source = await Deno.readTextFile(`${ROOT}${file}`);
    // Import statements and dynamic imports, not the examples in doc comments.
    const statements = source.matchAll(/^(?:import|export)\b[^;]*?\sfrom\s+"([^"]+)"/gm);
    const dynamic = source.matchAll(/^(?!\s*\*).*\bimport\(\s*"([^"]+)"\s*\)/gm);
    for (const m of [...statements, ...dynamic]) {
      if (!/^(\.{1,2}\/|npm:|node:|jsr:)/.test(m[1])) offenders.push(`${file}: ${m[1]}`);
    }
  }
  assertEquals(offenders, []);
});

Deno.test("a script elsewhere imports mod.ts by path and by file:// URL", async (t) => {
  for (const [how, spec] of [["path", MOD_PATH], ["file:// URL", MOD_URL]]) {
    await t.step(`by ${how}`, async () => {
      const out = await runElsewhere(`import { namespacesOf } from ${JSON.stringify(spec)};
const ns = await namespacesOf("self");
console.log(ns.net.inode === Number(Deno.readLinkSync("/proc/self/ns/net").match(/\\d+/)![0]));`);
      assertEquals(out.stderr, "");
      assertEquals(out.stdout, "true\n");
    });
  }
});

Deno.test({
  name: "a script elsewhere runs an NsCommand into a target made with unshare",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await makeTarget({ hostname: "import-target" });
    const out = await runElsewhere(`import { NsCommand } from ${JSON.stringify(MOD_URL)};
const o = await new NsCommand("hostname", { target: ${target.pid} }).output();
console.log(o.code, new TextDecoder().decode(o.stdout).trim());`);
    assertEquals(out.stderr, "");
    assertEquals(out.stdout, "0 import-target\n");
  },
});

Deno.test({
  name: "a script elsewhere imports the dax entry and runs a pipeline in a target",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await makeTarget({ hostname: "import-dax" });
    for (const [how, spec] of [["path", `${ROOT}dax.ts`], ["file:// URL", DAX_URL]]) {
      await t.step(`by ${how}`, async () => {
        const out = await runElsewhere(`import { daxIn } from ${JSON.stringify(spec)};
const $ = daxIn(${target.pid});
console.log(await $\`hostname | tr a-z A-Z\`.text());`);
        assertEquals(out.stderr, "");
        assertEquals(out.stdout, "IMPORT-DAX\n");
      });
    }
  },
});

Deno.test({
  name:
    "a script elsewhere runs inNamespaces with mnt, importing mod.ts by path, by file:// URL and from a copy",
  ignore: NEEDS_ROOT,
  sanitizeResources: false,
  async fn(t) {
    // The mnt evaluator is a `deno run` of nsjoin's src/_ns_process.ts found from
    // import.meta.url: it must be found wherever the caller loaded nsjoin from.
    await using target = await makeTarget({
      flags: ["-m", "-u"],
      setup: "mount -t tmpfs x /mnt && echo target-file > /mnt/f",
    });
    const copy = await Deno.makeTempDir({ prefix: "nsjoin-copy-" });
    try {
      for (const f of ["mod.ts", "dax.ts", "cli.ts", "deno.json", "src", "ffi"]) {
        const out = await runPiped("cp", { args: ["-r", `${ROOT}${f}`, `${copy}/`] });
        assertEquals(out.code, 0, out.stderr);
      }
      for (
        const [how, spec] of [
          ["path", MOD_PATH],
          ["file:// URL", MOD_URL],
          ["a copy in a temp dir", `${copy}/mod.ts`],
        ]
      ) {
        await t.step(`by ${how}`, async () => {
          const out = await runElsewhere(`import { inNamespaces } from ${JSON.stringify(spec)};
console.log(await inNamespaces(${target.pid}, () => Deno.readTextFileSync("/mnt/f").trim(), {
  namespaces: ["mnt"],
}));
Deno.exit(0);`);
          assertEquals(out.stderr, "");
          assertEquals(out.stdout, "target-file\n");
        });
      }
    } finally {
      await Deno.remove(copy, { recursive: true });
    }
  },
});

Deno.test("a class is one class across the main entry and the dax entry", async () => {
  // Both run from one bundle's shared chunks: an error daxIn throws is mod.ts's NamespaceError.
  const out = await runElsewhere(`import { NamespaceError } from ${JSON.stringify(MOD_URL)};
import { daxIn } from ${JSON.stringify(DAX_URL)};
try { daxIn(4194000); } catch (e) { console.log(e instanceof NamespaceError, (e as Error).message); }`);
  assertEquals(out.stderr, "");
  assertEquals(out.stdout, "true Cannot find process 4194000: ESRCH (no such process)\n");
});

Deno.test("the main entry loads neither npm dax nor Node's worker_threads", async () => {
  // What a module graph loads statically is what every importer pays for at start-up.
  const out = await runPiped(Deno.execPath(), {
    args: ["info", "--json", "--no-lock", MOD_URL],
  });
  assertEquals(out.code, 0, out.stderr);
  const graph = JSON.parse(out.stdout) as {
    modules: { specifier: string; dependencies?: { specifier: string; code?: unknown }[] }[];
  };
  // `deno info` lists dynamic imports too: walk only the static edges from mod.ts.
  const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const walk = async (url: string): Promise<void> => {
    if (seen.has(url)) return;
    seen.add(url);
    if (!url.startsWith("file:")) return;
    const source = await Deno.readTextFile(new URL(url));
    for (const m of source.matchAll(/^(?:import|export)\s(?!type\s)[^;]*?from\s+"([^"]+)"/gm)) {
      await walk(new URL(m[1], url).href);
    }
  };
  await walk(MOD_URL);
  assert(byUrl.has(MOD_URL));
  const heavy = [...seen].filter((u) => /^(npm:|node:)|_ns_worker\.ts$|\/src\/dax\.ts$/.test(u));
  assertEquals(heavy, []);
  // It runs from the generated bundle (src/cli/build_bundle.ts), no TypeScript source.
  assert(seen.has(new URL("../src/_bundle/mod.js", import.meta.url).href), "walked the graph");
  assertEquals([...seen].filter((u) => u.endsWith(".ts") && u !== MOD_URL), []);
});

Deno.test("the entry points pass deno doc --lint together, as JSR checks a package", async () => {
  // dax.ts names types (Target, NamespaceSelection) that mod.ts exports: JSR judges a
  // package's entries together, so they are linted together.
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", `${ROOT}mod.ts`, `${ROOT}dax.ts`, `${ROOT}cli.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(o.code, 0, text(o.stderr));
  assertMatch(text(o.stderr) + text(o.stdout), /Checked 3 files/);
});
