/**
 * What Deno's node shim put in this process's environment, for the programs the library
 * runs with the caller's environment (NsCommand without `clearEnv`, as nsenter passes its
 * own). Deno 2.9, started where no `node` is on PATH, puts `<DENO_DIR>/node_compat_bin` (a
 * `node` that is Deno) first on its PATH, or makes it the whole PATH, and sets
 * `DENO_NODE_SHIM_ACTIVE=1`, before any JavaScript runs (cli/node_shim.rs,
 * `ensure_node_on_path`): `new NsCommand("env", …)` printed both. The CLI undoes them in
 * Deno.env at start (src/cli/_node_shim.ts); a library caller's Deno.env is the script's
 * own, which it may have changed on purpose, so the library leaves Deno.env alone and undoes
 * only the program's copy, and only while both are exactly what Deno made of the process's
 * start-up environment.
 *
 * @module
 */
import { readFileSafe } from "../ffi/files.ts";

const SHIM = "DENO_NODE_SHIM_ACTIVE";
const SHIM_DIR = "/node_compat_bin";

let _started: Map<string, string> | null | undefined;

/**
 * PATH as this process was started with it (`path`, undefined when it had none) when Deno's
 * shim is what changed it: `DENO_NODE_SHIM_ACTIVE=1` now but not at start, and PATH now is
 * one directory named node_compat_bin put before the start-up PATH (or the whole PATH when
 * there was none). Undefined when there is nothing of Deno's to undo: a host with `node` on
 * PATH, a caller started by a Deno that added them (its own environment has them, as a
 * nsenter's program would), a PATH the script set itself, an environment that is not all
 * UTF-8 (the program's copy is made of strings), or without `--allow-env` for every variable
 * (never prompts).
 *
 * @returns the start-up PATH to give the program instead, or undefined
 *
 * @example
 * ```ts
 * import { nodeShimUndone } from "./_node_shim.ts";
 * const undone = nodeShimUndone();
 * if (undone && Deno.env.get("DENO_NODE_SHIM_ACTIVE") !== "1") throw new Error("no shim");
 * ```
 */
export function nodeShimUndone(): { path: string | undefined } | undefined {
  try {
    // All of it: the program's copy is made from Deno.env.toObject().
    if (Deno.permissions.querySync({ name: "env" }).state !== "granted") return undefined;
    if (Deno.env.get(SHIM) !== "1") return undefined;
    const started = _startedWith();
    if (!started || started.has(SHIM)) return undefined;
    const now = Deno.env.get("PATH") ?? "";
    const was = started.get("PATH");
    const dir = was === undefined ? now : now.slice(0, -(was.length + 1));
    if (was !== undefined && now !== `${dir}:${was}`) return undefined;
    if (!dir.endsWith(SHIM_DIR) || dir.includes(":")) return undefined;
    return { path: was };
  } catch {
    return undefined;
  }
}

/** The environment execve(2) gave this process (read once: setenv never rewrites it). */
function _startedWith(): Map<string, string> | null {
  if (_started !== undefined) return _started;
  try {
    const map = new Map<string, string>();
    // Not UTF-8 somewhere: the program's copy, made of strings, would lose that variable
    // (Deno.env leaves it out), so Deno's PATH stays, as before.
    const block = new TextDecoder("utf-8", { fatal: true }).decode(
      readFileSafe("/proc/self/environ"),
    );
    for (const entry of block.split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0 && !map.has(entry.slice(0, eq))) map.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
    _started = map;
  } catch {
    _started = null;
  }
  return _started;
}
