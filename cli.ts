/**
 * The nsjoin command line: `deno run -A jsr:@nsjoin/nsjoin/cli <command> …`.
 *
 * Commands: `enter` (nsenter's dialect), `exec` (docker exec's), `ps`, `ls` (lsns's),
 * `inspect`, `completions`. Each command is a thin adapter over the library in src/cli/,
 * loaded only when it runs; this file checks the command's Deno permissions and dispatches.
 * Install: `deno install -g -A -n nsjoin jsr:@nsjoin/nsjoin/cli`.
 *
 * @module
 */
// The start-up hot paths (this file's own needs, `enter`, `exec`), `completions` and the
// other commands' --help run from src/cli/_bundle/, JavaScript generated from src/ by
// `deno task build:cli` (checked in CI to match a rebuild): a few chunks load faster than
// the dozens of modules they hold. Only the fast paths of enter and exec are imported
// statically (one module, which Deno evaluates at start); what runs with fewer permissions
// than --allow-all (enter's full path, completions, every --help) is named in `import()`s,
// read at start but evaluated only when used; exec, which needs --allow-all, is loaded
// through a URL (see `_later`).
import { allGranted, enterFast, execFast, undoNodeShim } from "./src/cli/_bundle/cli/_fast.js";
import type { PermissionFlag } from "./src/_permissions.ts";

export type { PermissionFlag } from "./src/_permissions.ts";

/** A subcommand: its one-line summary and its runner (arguments after its name → exit code). */
export interface CliCommand {
  /** One line for the command list. */
  summary: string;
  /**
   * The Deno permissions it needs, checked before it loads (the README's Permissions table):
   * `"all"` for commands that scan /proc, which Deno 2.9 lets its file APIs read only with
   * --allow-all; the others read /proc through libc, which --allow-ffi grants.
   */
  permissions: "all" | readonly PermissionFlag[];
  /** Runs the command; returns the exit code. */
  run(argv: readonly string[]): Promise<number>;
  /**
   * Its --help text, for a command whose module loads only when it runs (with the
   * permissions it needs): `--help` alone needs none.
   */
  help?: () => Promise<string>;
}

/**
 * Loads a command's module when it runs. Deno reads and analyses, before the first line
 * runs, every module a file names in `import("…")`, and all they import (~3 ms of `enter`
 * for the commands below, from source); a module named through a URL it loads only here,
 * with the read permission the --allow-all these commands need grants.
 */
function _later<T>(path: string): Promise<T> {
  return import(new URL(path, import.meta.url).href);
}

/** exec's bundle module, which cli.ts loads through a URL. */
type ExecModule = typeof import("./src/cli/_bundle/cli/exec.js");

/** Every subcommand, by name. */
export const COMMANDS: Record<string, CliCommand> = {
  // Each command is loaded on use: cold start is benchmarked against nsenter and docker exec.
  // enter and completions come from the bundle, read at start but run only here.
  enter: {
    summary: "run a program in namespaces of a process (nsenter's options)",
    // The process becomes the helper (execve through libc): no spawn, so no --allow-run.
    permissions: ["ffi", "env"],
    run: async (argv) => (await import("./src/cli/_bundle/cli/enter.js")).enter(argv),
  },
  exec: {
    summary: "run a program in a container of any engine (docker exec's options)",
    permissions: "all",
    // From the bundle too, but through a URL, as the commands below: Deno reads it only when
    // it runs, not at every start of `enter` (~0.3 ms, docs/measured.md).
    run: async (argv) => (await _later<ExecModule>("./src/cli/_bundle/cli/exec.js")).exec(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.exec,
  },
  ps: {
    summary: "list the containers of every engine, found from /proc and cgroups",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/ps.ts")>("./src/cli/ps.ts")).ps(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.ps,
  },
  ls: {
    summary: "list namespaces, lsns's columns and options, with --json",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/ls.ts")>("./src/cli/ls.ts")).ls(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.ls,
  },
  inspect: {
    summary: "a process's namespaces, user, cgroup and memory beside ours",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/inspect.ts")>("./src/cli/inspect.ts")).inspect(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.inspect,
  },
  cp: {
    summary:
      "copy files between a container and the host, nothing needed inside (docker cp's options)",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/cp.ts")>("./src/cli/cp.ts")).cp(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.cp,
  },
  forward: {
    summary: "forward local ports to a container's loopback (kubectl port-forward's dialect)",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/forward.ts")>("./src/cli/forward.ts")).forward(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.forward,
  },
  debug: {
    summary: "a shell with the host's tools in a container's namespaces, its root at /target",
    permissions: "all",
    run: async (argv) =>
      (await _later<typeof import("./src/cli/debug.ts")>("./src/cli/debug.ts")).debug(argv),
    help: async () => (await import("./src/cli/_bundle/cli/_static.js")).HELP.debug,
  },
  completions: {
    summary: "print a completion script for bash, zsh or fish",
    permissions: [],
    run: async (argv) =>
      (await import("./src/cli/_bundle/cli/_static.js")).completions(
        argv,
        Object.fromEntries(Object.entries(COMMANDS).map(([n, c]) => [n, c.summary])),
      ),
  },
};

/** The top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `Usage: nsjoin <command> [options]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun "nsjoin <command> --help" for a command's options; "nsjoin --version" for the version.`;
}

/**
 * Runs the CLI.
 *
 * @param argv the command-line arguments (Deno.args)
 * @returns the exit code
 *
 * @example
 * ```ts
 * import { main } from "@nsjoin/nsjoin/cli";
 * if (await main(["--help"]) !== 0) throw new Error("--help failed");
 * ```
 */
export async function main(argv: readonly string[]): Promise<number> {
  const { assertPermissions, assertUtf8Argv, EXIT, report } = await import(
    "./src/cli/_bundle/cli/_run.js"
  );
  const [name, ...rest] = argv;
  // `nsjoin help exec`, as `docker help exec`: that command's --help.
  if (name === "help" && rest.length > 0) return await main([rest[0], "--help"]);
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    console.log(usage());
    return name === undefined ? EXIT.usage : 0;
  }
  if (name === "-V" || name === "--version") {
    console.log(`nsjoin ${(await import("./src/cli/_bundle/cli/_static.js")).VERSION}`);
    return 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`nsjoin: unknown command ${JSON.stringify(name)} (see: nsjoin --help)`);
    return EXIT.usage;
  }
  try {
    // `nsjoin ls --help` needs no permission; anything more is checked before it runs.
    const help = rest.length === 1 && (rest[0] === "-h" || rest[0] === "--help");
    if (!help) assertPermissions(`run nsjoin ${name}`, command.permissions);
    assertUtf8Argv();
    if (help && command.help) {
      console.log(await command.help());
      return 0;
    }
  } catch (error) {
    return report(error, name);
  }
  return await command.run(rest);
}

if (import.meta.main) {
  // The caller's PATH, without the directory Deno put first on it (src/cli/_node_shim.ts).
  undoNodeShim();
  // `enter -t PID -a PROGRAM` and its like become the helper before the rest of the CLI
  // loads (src/cli/_enter_fast.ts); any other form returns here, for the full path.
  if (Deno.args[0] === "enter") await enterFast(Deno.args.slice(1));
  // `exec docker:NAME PROGRAM` and its like, the same way (src/cli/_exec_fast.ts), only with
  // every permission (which the full path needs: without one it names the flag). Any other
  // form, or a failure, goes on to the full path.
  if (Deno.args[0] === "exec" && allGranted()) {
    try {
      await execFast(Deno.args.slice(1), true);
    } catch {
      // The full path says what is wrong.
    }
  }
  Deno.exit(await main(Deno.args));
}
