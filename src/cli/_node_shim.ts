/**
 * Undoes what Deno itself adds to the CLI's environment, so that the program `enter` (or
 * `debug`, or `exec -e PATH`) runs gets the caller's environment, as nsenter's does.
 *
 * Deno 2.9, started where no `node` is on PATH (a host with Deno and no Node.js), puts a
 * directory of its cache holding a `node` that is Deno first on its own PATH (or makes it the
 * whole PATH when there was none) and sets `DENO_NODE_SHIM_ACTIVE=1`, before any JavaScript
 * runs (Deno's cli/node_shim.rs, `ensure_node_on_path`). Every program nsjoin ran got them:
 * `env -i PATH=/usr/sbin nsjoin enter -t PID -u env` printed
 * `PATH=/root/.cache/deno/node_compat_bin:/usr/sbin` and `DENO_NODE_SHIM_ACTIVE=1`, and with no
 * PATH at all (`env -i`, a bare service) `enter … env` was 127 where nsenter ran /usr/bin/env.
 *
 * @module
 */

/**
 * Restores PATH and DENO_NODE_SHIM_ACTIVE as this process was started with them, when Deno
 * changed them: `/proc/self/environ` is the block execve(2) gave the process, which setenv(3)
 * never rewrites (it builds new strings). A caller whose own parent was a Deno that added
 * them started with them, and keeps them, as it would under nsenter. Does nothing without the
 * read permission (Deno 2.9 reads /proc only with --allow-all; it never prompts here) or when
 * the block is not UTF-8. Never prompts.
 */
export const undoNodeShim = (function undoNodeShim(): void {
  try {
    // Deno prompts for a permission it lacks when stdin and stderr are both terminals
    // (`nsjoin --help`, `completions` need none): then ask first, as enterFast does; otherwise
    // a missing --allow-env throws, below.
    const variable = "DENO_NODE_SHIM_ACTIVE";
    if (
      Deno.stdin.isTerminal() && Deno.stderr.isTerminal() &&
      Deno.permissions.querySync({ name: "env", variable }).state !== "granted"
    ) {
      return;
    }
    if (Deno.env.get(variable) === undefined) return;
    const path = "/proc/self/environ";
    if (Deno.permissions.querySync({ name: "read", path }).state !== "granted") return;
    const block = new TextDecoder("utf-8", { fatal: true }).decode(Deno.readFileSync(path));
    const started = new Map<string, string>();
    for (const entry of block.split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0 && !started.has(entry.slice(0, eq))) {
        started.set(entry.slice(0, eq), entry.slice(eq + 1));
      }
    }
    if (started.has("DENO_NODE_SHIM_ACTIVE")) return;
    Deno.env.delete("DENO_NODE_SHIM_ACTIVE");
    const was = started.get("PATH");
    if (was === undefined) Deno.env.delete("PATH");
    else Deno.env.set("PATH", was);
  } catch {
    // Left as Deno made it: the program sees Deno's PATH, as before.
  }
}).bind(undefined);
