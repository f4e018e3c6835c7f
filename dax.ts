/**
 * dax bound to a target: `daxIn(target)` is a dax `$` whose programs run inside the
 * target's namespaces through nsjoin's exec engine, with dax's shell (pipes, `&&`,
 * redirects to streams), `.text()`, `.json()` and `.noThrow()` as usual. Programs are named
 * by name; a program by path, an unquoted glob and a redirect to a file are TypeErrors: dax
 * would run, expand or open them on the host.
 *
 * ```ts ignore
 * import { daxIn } from "@nsjoin/nsjoin/dax";
 * const $ = daxIn(1234);
 * console.log(await $`ip -br addr | grep ^lo`.text());
 * ```
 *
 * A separate entry point so that the main one (`@nsjoin/nsjoin`) never loads npm dax and
 * its Node-compat start-up. Needs `-A` (it reads /proc; see the README's Permissions),
 * checked as it loads: without it, importing it throws one NotCapable naming the flag.
 *
 * @module
 */
// First: the permission check runs before npm dax and its dependencies are evaluated.
import "./src/_bundle/_dax_permissions.js";
// @ts-types="./src/_bundle/dax.ts"
export { daxIn } from "./src/_bundle/dax.js"; // src/dax.ts
export type { DaxCommand, DaxInOptions, DaxResult, DaxShell } from "./src/dax.ts";
