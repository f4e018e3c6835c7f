/**
 * The version every command prints for -V/--version, from deno.json (the one place it is
 * kept), in util-linux's words: `nsjoin ls from nsjoin 0.1.0`.
 *
 * @module
 */
import meta from "../../deno.json" with { type: "json" };

/** The package version. */
export const VERSION: string = meta.version;

/**
 * The -V line of a command.
 *
 * @param command the subcommand ("ls", "enter"), or "" for nsjoin itself
 * @returns the line, without a newline
 *
 * @example
 * ```ts
 * import { versionText } from "./_version.ts";
 * if (!versionText("ls").startsWith("nsjoin ls from nsjoin ")) throw new Error("bad version line");
 * ```
 */
export function versionText(command: string): string {
  return `nsjoin${command ? ` ${command}` : ""} from nsjoin ${VERSION}`;
}
