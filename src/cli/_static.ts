/**
 * What the CLI does with no permission at all: `completions`, and the --help of the commands
 * cli.ts loads only when they run. Those need --allow-all, which lets cli.ts load them
 * through a URL Deno does not read at start; their help comes from here, in one file
 * (src/cli/_bundle/cli/_static.js) that Deno reads at start, as cli.ts names it. That file
 * is not this module bundled: src/cli/build_bundle.ts writes this module's values into it as
 * data, beside `completions`' own code (src/cli/_completion_script.ts), so that Deno does not
 * read the commands' code with it.
 *
 * @module
 */
import { CP_HELP } from "./cp.ts";
import { DEBUG_HELP } from "./debug.ts";
import { EXEC_HELP } from "./exec.ts";
import { FORWARD_HELP } from "./forward.ts";
import { INSPECT_HELP } from "./inspect.ts";
import { LS_HELP } from "./ls.ts";
import { PS_HELP } from "./ps.ts";

export { completions } from "./completions.ts";
export { VERSION } from "./_version.ts";

/** The --help text of each command cli.ts loads through a URL, by command name. */
export const HELP: Readonly<Record<string, string>> = {
  exec: EXEC_HELP,
  ps: PS_HELP,
  ls: LS_HELP,
  inspect: INSPECT_HELP,
  cp: CP_HELP,
  forward: FORWARD_HELP,
  debug: DEBUG_HELP,
};
