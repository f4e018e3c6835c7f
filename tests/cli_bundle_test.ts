/**
 * cli.ts runs `enter`, `exec` and its own start-up from src/cli/_bundle/, and the package's
 * entries (mod.ts, dax.ts) run from src/_bundle/: JavaScript generated from src/ by
 * `deno task build:cli`. Every CLI and library test tests those bundles, so they must be
 * exactly what the sources build to. A source change without a rebuild fails here.
 */
import { assert, assertEquals, assertMatch, ROOT, text } from "./_fixtures.ts";

/** Runs src/cli/build_bundle.ts of the tree at `root`. */
async function builder(root: string, ...args: string[]): Promise<Deno.CommandOutput> {
  return await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${root}src/cli/build_bundle.ts`, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test("the committed bundles are a byte-for-byte rebuild of src/", async () => {
  const o = await builder(ROOT, "--check");
  assert(o.success, `a bundle is stale: run \`deno task build:cli\` and commit\n${text(o.stderr)}`);
});

Deno.test("the check fails on a stale bundle; a rebuild takes in a new export of mod.ts", async () => {
  // A copy of what the builder reads, so the committed tree is never touched.
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-bundle-test-" });
  try {
    for (const path of ["mod.ts", "dax.ts", "deno.json", "deno.lock", "src", "ffi"]) {
      const cp = await new Deno.Command("cp", { args: ["-a", `${ROOT}${path}`, dir] }).output();
      assert(cp.success, text(cp.stderr));
    }
    const root = `${dir}/`;
    assert((await builder(root, "--check")).success, "the copy is a rebuild");

    // A source change the bundle carries (the message of a thrown error).
    const netns = `${root}src/netns.ts`;
    const source = await Deno.readTextFile(netns);
    await Deno.writeTextFile(netns, source.replace("as a netns name", "as a netns NAME"));
    let o = await builder(root, "--check");
    assertEquals(o.code, 1);
    assertMatch(text(o.stderr), /do not match a rebuild of the sources.*build:cli/);

    // A new export added to mod.ts from source, as a merge adds one.
    await Deno.writeTextFile(netns, `${source}\nexport const ANSWER_FOR_TEST = 42;\n`);
    await Deno.writeTextFile(
      `${root}mod.ts`,
      `${await Deno.readTextFile(
        `${root}mod.ts`,
      )}export { ANSWER_FOR_TEST } from "./src/netns.ts";\n`,
    );
    o = await builder(root, "--check");
    assertEquals(o.code, 1, text(o.stderr));

    o = await builder(root);
    assert(o.success, text(o.stderr));
    assert((await builder(root, "--check")).success, "a rebuild passes the check");
    assertMatch(
      await Deno.readTextFile(`${root}mod.ts`),
      /\/\/ @ts-types="\.\/src\/_bundle\/mod\.ts"\nexport \{ ANSWER_FOR_TEST \} from "\.\/src\/_bundle\/mod\.js"; \/\/ src\/netns\.ts\n$/,
    );
    // The new export runs from the bundle, with the same classes as the rest of mod.ts.
    const script = `${root}use.ts`;
    await Deno.writeTextFile(
      script,
      `import { ANSWER_FOR_TEST, netnsPath } from "./mod.ts";
try { netnsPath(".."); } catch (e) { console.log(ANSWER_FOR_TEST, (e as Error).message); }`,
    );
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-lock", script],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(text(run.stderr), "");
    assertEquals(text(run.stdout), `42 Cannot use ".." as a netns name\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the CLI's chunks hold no helper bytes; they load this machine's, the committed ones", async () => {
  // Deno reads the chunk enter.js and exec.js share at every start of the CLI: the helper's
  // ELFs (base64 of "\x7fELF" is "f0VMRg") belong in the per-architecture modules only.
  const dir = `${ROOT}src/cli/_bundle/cli/`;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith("_helper_")) continue;
    const file = await Deno.readTextFile(`${dir}${entry.name}`);
    assert(!file.includes("f0VMRg"), `${entry.name} holds a helper ELF`);
  }
  const bundled = (await import(`${dir}_helper_bin.js`)).HELPER_ELF as Record<string, string>;
  const { HELPER_ELF } = await import("../ffi/helper_bin.ts");
  assertEquals(Object.keys(bundled), [Deno.build.arch]);
  assert(bundled[Deno.build.arch] === HELPER_ELF[Deno.build.arch], "not ffi/helper_bin.ts's bytes");
});
