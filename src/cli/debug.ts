import { NsCommand } from "../command.ts";
import { NamespaceError } from "../errors.ts";
import { debugOptions } from "../debug.ts";
import type { PinnedProcess } from "../target.ts";
import { parseOptions } from "./_args.ts";
import {
  fileOnStdio,
  relay,
  relayStdio,
  report,
  socketOnStdio,
  terminalOnStdio,
  UsageError,
} from "./_run.ts";
import { pinCliTarget } from "./_target.ts";
import { sealInspector } from "../../ffi/inspector.ts";

/** The usage text of `debug`. */
export const DEBUG_HELP = `NAME
 nsjoin debug - a shell with the host's tools in a container's namespaces

SYNOPSIS
 nsjoin debug [options] TARGET [--] [CMD [ARG...]]

DESCRIPTION
 Runs CMD (default /bin/sh) from the host's tools - or those of --tools DIR, an image's
 unpacked rootfs say - in the target's net, pid, ipc, uts and cgroup namespaces, under its
 user namespace when it has one, with its confinement (capabilities, no_new_privs, seccomp
 filters, limits, LSM label) unless --privileged. Works on images with no shell and no libc:
 nothing is copied into the container and nothing is left behind. The program has a private
 mount namespace of its own, gone when it ends:
   /usr /bin /sbin /lib*   the tools, read-only for good (and a few /etc files: ld.so.cache...)
   /target                 the target's root: its files (nosuid, nodev)
   /proc                   the target's pid namespace: ps shows its processes
   /sys /tmp /dev          its net namespace's sysfs, a private tmpfs, null/zero/tty/pts...
 /target is hostile data: the container controls it, and its symlinks resolve in the debug
 session's root (an absolute link in /target points at the tools, not into the container).
 The container's processes can see the program (ps, /proc/PID/root): its environment is
 only PATH, TERM and HOME=/root. TARGET: a container name or ID prefix (any engine),
 docker:NAME|ID, podman:NAME|ID, containerd:ID, or a PID. Needs root and -A.

OPTIONS
     --tools <dir>   take /usr, /bin, /lib*, /etc files from this directory (default /)
     --privileged    every capability, no seccomp filter, no no_new_privs, no LSM label
 -t, --tty           a pseudo-terminal (default when CMD is not given and stdin is one)
 -h, --help          display this help

EXIT STATUS
 CMD's status; 125 the target could not be found or the session not set up (nothing ran);
 126 CMD not executable; 127 not found; 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin debug web1                        a shell: ps, ip addr, ls /target, ss -tlnp
 nsjoin debug web1 -- ss -tlnp            one command
 nsjoin debug --tools /srv/busybox web1   busybox's tools instead of the host's`;

/** `debug`'s options, for the parser and the shell completions. */
export const DEBUG_OPTIONS = {
  tools: { type: "string" },
  privileged: { type: "boolean" },
  tty: { type: "boolean", short: "t" },
  help: { type: "boolean", short: "h" },
} as const;

/** `debug`'s arguments, parsed. */
export interface DebugArgs {
  /** -h */
  help: boolean;
  /** --tools */
  tools?: string;
  /** --privileged */
  privileged: boolean;
  /** -t */
  tty: boolean;
  /** The target. */
  target?: string;
  /** CMD and its arguments (default /bin/sh). */
  command: string[];
}

/**
 * Parses `debug`'s arguments.
 *
 * @param argv the arguments after `debug`
 * @returns the parsed arguments
 * @throws {UsageError} on unknown options, a missing TARGET or a namespace file as TARGET
 */
export function parseDebugArgs(argv: readonly string[]): DebugArgs {
  const { values, positionals } = parseOptions(argv, DEBUG_OPTIONS, { stopAtPositional: true });
  const [target, ...rest] = positionals;
  const command = rest[0] === "--" ? rest.slice(1) : rest;
  const args: DebugArgs = {
    help: values.help ?? false,
    tools: values.tools,
    privileged: values.privileged ?? false,
    tty: values.tty ?? (command.length === 0 && Deno.stdin.isTerminal()),
    target,
    command: command.length ? command : ["/bin/sh"],
  };
  if (args.help) return args;
  if (target === undefined) throw new UsageError(`"debug" requires a TARGET`);
  if (/^[/.]/.test(target) || target.startsWith("netns:")) {
    throw new UsageError(
      `Cannot debug ${target}: give a container or a PID (a namespace file has no root)`,
    );
  }
  return args;
}

/**
 * `nsjoin debug`: the host's tools in a container's namespaces.
 *
 * @param argv the arguments after `debug`
 * @returns the exit code
 */
export async function debug(argv: readonly string[]): Promise<number> {
  let pinned: PinnedProcess | undefined;
  let raw = false;
  try {
    const args = parseDebugArgs(argv);
    if (args.help) {
      console.log(DEBUG_HELP);
      return 0;
    }
    // Root only (see --help): as anyone else it failed later, on whatever step came first
    // (reading a seccomp filter, with a hint naming exec's --security-opt, which debug has not).
    const uid = Deno.uid();
    if (uid !== 0 && uid !== null) {
      throw new NamespaceError(`Cannot debug ${args.target} as uid ${uid}: debug needs root`, {
        errno: 1,
        quiet: true,
        syscall: "getuid",
        target: args.target,
        hint: "it enters the target's mount namespace and leaves it to copy its root; " +
          "as a rootless container's owner, exec runs the container's own programs",
      });
    }
    pinned = await pinCliTarget(args.target!) as PinnedProcess;
    const [program, ...rest] = args.command;
    // A socket, a file or a terminal on our stdio would be the program's, in the target's
    // pid namespace: relay through pipes then, as exec does (see socketOnStdio, fileOnStdio,
    // terminalOnStdio). And never in our session, as exec (a task there that ptraces the
    // program would type into our controlling terminal with TIOCSTI).
    const stdio = [0, 1, 2];
    const relayed = !args.tty &&
      (socketOnStdio(stdio) || fileOnStdio(stdio) || terminalOnStdio(stdio));
    const command = new NsCommand(program, {
      ...debugOptions(pinned, { tools: args.tools, privileged: args.privileged, tty: args.tty }),
      newSession: !args.tty,
      messagePrefix: "nsjoin debug",
      args: rest,
      stdin: relayed ? "piped" : "inherit",
      stdout: relayed ? "piped" : "inherit",
      stderr: relayed ? "piped" : "inherit",
    });
    // Deno stays, beside the program: no inspector a SIGUSR1 could open (ffi/inspector.ts).
    if (relayed || args.tty) await sealInspector();
    if (relayed) return await relayStdio(command.spawn());
    if (!args.tty) return command.exec();
    if (Deno.stdin.isTerminal()) {
      Deno.stdin.setRaw(true);
      raw = true;
    }
    return await relay(command.spawn());
  } catch (error) {
    return report(error, "debug");
  } finally {
    if (raw) Deno.stdin.setRaw(false);
    pinned?.close();
  }
}
