/**
 * The CLI's fast paths in one module, which cli.ts imports statically: `enter`'s
 * (src/cli/_enter_fast.ts) and `exec docker:NAME`'s (src/cli/_exec_fast.ts). One file for
 * both because every module Deno loads at start costs on its own (~0.1 ms each, more than
 * ~10 KB of code): `exec`'s fast path through a URL import of its own file took 0.5–0.7 ms
 * of every such exec (docs/measured.md, stop 22), for ~0.05 ms of `enter`'s start to read
 * the rest.
 *
 * @module
 */
export { allGranted, enterFast } from "./_enter_fast.ts";
export { execFast } from "./_exec_fast.ts";
export { undoNodeShim } from "./_node_shim.ts";
