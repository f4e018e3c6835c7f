/**
 * The modules of the main entry's functions that load at their first call (src/lazy.ts),
 * named as one: Deno reads and analyses, at every start of a script that imports mod.ts,
 * each file an `import("…")` names and every file it imports (~0.05 ms a file:
 * docs/measured.md), so in the package's bundle these four are one file, with the chunks only
 * they share, where they were four files and three chunks.
 *
 * @module
 */
export { closeNamespaceWorkers, inNamespaces } from "./in_namespaces.ts";
export { copyFrom, copyTo, tarFrom, tarTo } from "./copy.ts";
export { forward } from "./forward.ts";
export { openSession } from "./session.ts";
