/**
 * cli.ts runs `enter`, `exec` and its own start-up from src/cli/_bundle/, JavaScript
 * generated from src/ by `deno task build:cli`: every CLI test tests that bundle, so it must
 * be exactly what the sources build to. A source change without a rebuild fails here.
 */
import { assert, ROOT } from "./_fixtures.ts";

Deno.test("the committed CLI bundle is a byte-for-byte rebuild of src/", async () => {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", `${ROOT}src/cli/build_bundle.ts`, "--check"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(o.stderr);
  assert(o.success, `src/cli/_bundle/ is stale: run \`deno task build:cli\` and commit\n${err}`);
});
