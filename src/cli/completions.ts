import { FLAGS_ONLY, LONG, NS_FLAGS } from "./enter.ts";
import { OPTIONS as EXEC_OPTIONS } from "./exec.ts";
import { CP_OPTIONS } from "./cp.ts";
import { DEBUG_OPTIONS } from "./debug.ts";
import { FORWARD_OPTIONS } from "./forward.ts";
import { INSPECT_OPTIONS } from "./inspect.ts";
import { LS_COLUMNS, LS_OPTIONS } from "./ls.ts";
import { NAMESPACE_TYPES } from "../namespaces.ts";
import { PS_OPTIONS } from "./ps.ts";
import type { OptionTable } from "./_args.ts";
import {
  type CompletionOption,
  completionsWith,
  scriptFor,
  type Shell,
} from "./_completion_script.ts";

export {
  type CompletionOption,
  COMPLETIONS_HELP,
  type Shell,
  SHELLS,
} from "./_completion_script.ts";

function _fromTable(
  table: OptionTable,
  overrides: Record<string, Partial<CompletionOption>> = {},
): CompletionOption[] {
  return Object.entries(table).map(([long, spec]) => ({
    long,
    short: spec.short,
    value: spec.type === "string",
    ...overrides[long],
  }));
}

/**
 * Every command's options, from the tables its parser uses.
 *
 * @returns command name → its options
 */
export function commandOptions(): Record<string, CompletionOption[]> {
  return {
    enter: [
      // nsenter's FILE and DIR values are attached (`--net=FILE`, `-rDIR`): a flag for the shell.
      ...Object.entries(NS_FLAGS).map(([short, [long]]) => ({
        long,
        short,
        value: false,
        attachedPath: true,
      })),
      ...Object.entries(LONG).map(([long, short]) => ({
        long,
        short,
        value: "tSGWN".includes(short),
        attachedPath: "rw".includes(short),
        ...(short === "t" ? { pids: true } : {}),
        // -S/-G take a number or "follow" (util-linux's completion offers "follow" there).
        ...("SG".includes(short) ? { choices: ["follow"] } : {}),
      })),
      ...Object.keys(FLAGS_ONLY).map((long) => ({ long, value: false })),
    ],
    exec: _fromTable(EXEC_OPTIONS, { namespaces: { choices: NAMESPACE_TYPES, list: true } }),
    ps: _fromTable(PS_OPTIONS),
    ls: _fromTable(LS_OPTIONS, {
      type: { choices: NAMESPACE_TYPES },
      output: { choices: [...LS_COLUMNS, "HOLDER"], list: true },
      // lsns's -T[=REL]: its value is attached, never the next word (parseLsArgs rewrites
      // -T, which the table cannot hold, before parsing).
      tree: { short: "T", value: false },
      task: { pids: true },
    }),
    inspect: _fromTable(INSPECT_OPTIONS),
    cp: _fromTable(CP_OPTIONS),
    forward: _fromTable(FORWARD_OPTIONS),
    debug: _fromTable(DEBUG_OPTIONS),
    completions: [{ long: "help", short: "h", value: false }],
  };
}

/**
 * The completion script for a shell: nsjoin's commands with their summaries, and each
 * command's options.
 *
 * @param shell bash, zsh or fish
 * @param summaries command name → one-line summary
 * @returns the script, to be sourced (bash, zsh) or put in the completions directory
 */
export function completionScript(shell: Shell, summaries: Record<string, string>): string {
  return scriptFor(shell, summaries, commandOptions());
}

/**
 * `nsjoin completions SHELL`: prints the script.
 *
 * @param argv the arguments after `completions`
 * @param summaries command name → one-line summary
 * @returns the exit code
 */
export function completions(
  argv: readonly string[],
  summaries: Record<string, string>,
): number {
  return completionsWith(argv, summaries, commandOptions());
}
