/**
 * The nsjoin command line: `deno run -A jsr:@nsjoin/nsjoin/cli <command> …`.
 *
 * Commands: `enter` (nsenter's dialect). Each command is a thin adapter over the library
 * in src/cli/; this file only dispatches.
 *
 * @module
 */
import { assertUtf8Argv, EXIT, report } from "./src/cli/_run.ts";

/** A subcommand: its one-line summary and its runner (arguments after its name → exit code). */
export interface CliCommand {
  /** One line for the command list. */
  summary: string;
  /** Runs the command; returns the exit code. */
  run(argv: readonly string[]): Promise<number>;
}

/** Every subcommand, by name. */
export const COMMANDS: Record<string, CliCommand> = {
  // Each command is loaded on use: cold start is benchmarked against nsenter and docker exec.
  enter: {
    summary: "run a program in namespaces of a process (nsenter's options)",
    run: async (argv) => (await import("./src/cli/enter.ts")).enter(argv),
  },
  exec: {
    summary: "run a program in a container of any engine (docker exec's options)",
    run: async (argv) => (await import("./src/cli/exec.ts")).exec(argv),
  },
  ps: {
    summary: "list the containers of every engine, found from /proc and cgroups",
    run: async (argv) => (await import("./src/cli/ps.ts")).ps(argv),
  },
  ls: {
    summary: "list namespaces, lsns's columns and options, with --json",
    run: async (argv) => (await import("./src/cli/ls.ts")).ls(argv),
  },
  inspect: {
    summary: "a process's namespaces, user, cgroup and memory beside ours",
    run: async (argv) => (await import("./src/cli/inspect.ts")).inspect(argv),
  },
  cp: {
    summary:
      "copy files between a container and the host, nothing needed inside (docker cp's options)",
    run: async (argv) => (await import("./src/cli/cp.ts")).cp(argv),
  },
  forward: {
    summary: "forward local ports to a container's loopback (kubectl port-forward's dialect)",
    run: async (argv) => (await import("./src/cli/forward.ts")).forward(argv),
  },
};

/** The top-level usage text. */
export function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length));
  const lines = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`);
  return `Usage: nsjoin <command> [options]\n\nCommands:\n${
    lines.join("\n")
  }\n\nRun "nsjoin <command> --help" for a command's options.`;
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
  const [name, ...rest] = argv;
  if (name === undefined || name === "-h" || name === "--help" || name === "help") {
    console.log(usage());
    return name === undefined ? EXIT.usage : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`nsjoin: unknown command ${JSON.stringify(name)} (see: nsjoin --help)`);
    return EXIT.usage;
  }
  try {
    assertUtf8Argv();
  } catch (error) {
    return report(error, name);
  }
  return await command.run(rest);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
