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
 * The util-linux release whose nsenter and lsns options `enter` and `ls` take (README,
 * "Differences from util-linux").
 */
export const UTIL_LINUX_OPTIONS = "2.42";

/**
 * The -V line of a command. `enter` and `ls` add, in parentheses as util-linux 2.40+ adds its
 * features (`nsenter from util-linux 2.41 (selinux, nsfs)`), the release whose options they
 * take: a script that reads nsenter's version as the number after "util-linux" (a field
 * position does not survive those parentheses) picks the options that work, where nsjoin's own
 * 0.1.0 read as a util-linux release would pick none or fail.
 *
 * @param command the subcommand ("ls", "enter"), or "" for nsjoin itself
 * @returns the line, without a newline
 *
 * @example
 * ```ts
 * import { versionText } from "./_version.ts";
 * if (!versionText("ls").startsWith("nsjoin ls from nsjoin ")) throw new Error("bad version line");
 * if (!/\(util-linux 2\.42 options\)$/.test(versionText("enter"))) throw new Error("no level");
 * ```
 */
export function versionText(command: string): string {
  const level = command === "enter" || command === "ls"
    ? ` (util-linux ${UTIL_LINUX_OPTIONS} options)`
    : "";
  return `nsjoin${command ? ` ${command}` : ""} from nsjoin ${VERSION}${level}`;
}
