import { parseOptions } from "./_args.ts";
import { copyFrom, copyTo, tarFrom, tarTo } from "../copy.ts";
import type { PinnedProcess } from "../target.ts";
import { pinCliTarget } from "./_target.ts";
import { sealInspector } from "../../ffi/inspector.ts";
import { report, UsageError } from "./_run.ts";

/** The usage text of `cp`. */
export const CP_HELP = `NAME
 nsjoin cp - copy files between a container (or any process) and the host (docker cp's options)

SYNOPSIS
 nsjoin cp [options] TARGET:SRC_PATH DEST_PATH|-
 nsjoin cp [options] SRC_PATH|- TARGET:DEST_PATH

DESCRIPTION
 Copies files and directories as docker cp does, for every engine, with nothing needed
 inside the container (no tar, no shell): every path inside is resolved by the kernel
 within the container's root (openat2 RESOLVE_IN_ROOT), so no symlink, .. or rename race
 in the container reaches a host path. TARGET: a container name or ID prefix (searched
 across all engines), docker:NAME|ID, podman:NAME|ID, containerd:ID, or a PID. - reads a
 tar stream from stdin (extracted into DEST_PATH) or writes one to stdout (never to a
 terminal, as GNU tar refuses: it holds the target's bytes). SRC_PATH/. copies a
 directory's contents. Needs -A.

OPTIONS
 -a, --archive       archive mode: keep the source's owners (mapped through the
                     container's user namespace); otherwise files in the container
                     belong to its root, files on the host to you
 -L, --follow-link   always follow symbol link in SRC_PATH
     --devices       make the source's block and character device nodes inside the
                     container (refused by default: made by host root, a node opens a
                     host device wherever no device cgroup stops it; never on the host)
 -h, --help          display this help

EXIT STATUS
 0 copied; 1 the copy failed; 125 the target could not be found or opened; 2 bad usage or
 a missing Deno permission; 141 the reader of a tar stream on stdout went away (as SIGPIPE
 ends tar and docker cp), without a message.

EXAMPLES
 nsjoin cp web1:/etc/nginx/nginx.conf .      a file out of a container
 nsjoin cp -a ./site/. web1:/usr/share/html  a directory's contents in, owners kept
 nsjoin cp web1:/var/log - | tar -t          a tar stream to stdout`;

/** `cp`'s arguments, parsed. */
export interface CpArgs {
  /** -a */
  archive: boolean;
  /** -L */
  followLink: boolean;
  /** --devices */
  devices: boolean;
  /** -h */
  help: boolean;
  /** The source: a host path, "-", or a target and a path inside it. */
  src?: CpEndpoint;
  /** The destination, likewise. */
  dest?: CpEndpoint;
}

/** One side of a copy: a host path (or "-") or a path inside a target. */
export type CpEndpoint = { target?: undefined; path: string } | { target: string; path: string };

const ENGINE_PREFIX = /^(docker|podman|containerd|cri-o|crio|netns|k8s|cri):/;

/**
 * Splits `TARGET:PATH` as docker cp does: a path starting with `/` or `.` is local (so a
 * local name with a colon is written `./a:b`); an engine prefix (`docker:web:/etc`) belongs
 * to the target.
 */
export function parseEndpoint(arg: string): CpEndpoint {
  if (arg === "-" || arg.startsWith("/") || arg.startsWith(".")) return { path: arg };
  const skip = arg.match(ENGINE_PREFIX)?.[0].length ?? 0;
  const colon = arg.indexOf(":", skip);
  if (colon < 0) return { path: arg };
  const target = arg.slice(0, colon);
  if (!target || target.length === skip) {
    throw new UsageError(`Cannot use ${JSON.stringify(arg)}: no target before the colon`);
  }
  return { target, path: arg.slice(colon + 1) || "/" };
}

/** `cp`'s options, for the parser and the shell completions. */
export const CP_OPTIONS = {
  archive: { type: "boolean", short: "a" },
  "follow-link": { type: "boolean", short: "L" },
  devices: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `cp`'s arguments.
 *
 * @param argv the arguments after `cp`
 * @returns the parsed arguments
 * @throws {UsageError} on unknown options, a wrong count, both or neither side in a target
 */
export function parseCpArgs(argv: readonly string[]): CpArgs {
  const { values, positionals } = parseOptions(argv, CP_OPTIONS, { allowPositionals: true });
  const args: CpArgs = {
    archive: values.archive ?? false,
    followLink: values["follow-link"] ?? false,
    devices: values.devices ?? false,
    help: values.help ?? false,
  };
  if (args.help) return args;
  if (positionals.length !== 2) {
    throw new UsageError(`"cp" requires exactly 2 arguments: SRC DEST`);
  }
  args.src = parseEndpoint(positionals[0]);
  args.dest = parseEndpoint(positionals[1]);
  if (args.src.target !== undefined && args.dest.target !== undefined) {
    throw new UsageError("copying between containers is not supported");
  }
  if (args.src.target === undefined && args.dest.target === undefined) {
    throw new UsageError("must specify at least one container source (TARGET:PATH)");
  }
  if (args.devices && args.dest.target === undefined) {
    throw new UsageError("--devices: device nodes are made only inside a container");
  }
  if (args.src.path === "-" && args.dest.path === "-") {
    throw new UsageError("Cannot use - on both sides");
  }
  return args;
}

/**
 * `nsjoin cp`: docker cp's dialect, for any engine's containers and PIDs.
 *
 * @param argv the arguments after `cp`
 * @returns the exit code
 */
export async function cp(argv: readonly string[]): Promise<number> {
  let pinned: PinnedProcess | undefined;
  try {
    const args = parseCpArgs(argv);
    if (args.help) {
      console.log(CP_HELP);
      return 0;
    }
    const src = args.src!;
    const dest = args.dest!;
    // GNU tar's refusal, for a reason of ours: the stream holds the target's file names and
    // bytes as they are, and a terminal acts on the escape sequences among them (docker cp
    // writes it there).
    if (src.target !== undefined && dest.path === "-" && Deno.stdout.isTerminal()) {
      throw new UsageError(
        "Cannot write a tar stream to a terminal: its names and bytes are the target's, escape sequences included - pipe it or redirect it",
      );
    }
    const options = { archive: args.archive, followLink: args.followLink };
    const into = { ...options, devices: args.devices };
    pinned = await pinCliTarget((src.target ?? dest.target)!) as PinnedProcess;
    // A copy may take long: no inspector a SIGUSR1 could open (ffi/inspector.ts).
    await sealInspector();
    if (src.target !== undefined) {
      if (dest.path === "-") {
        try {
          await tarFrom(pinned, src.path, options).pipeTo(Deno.stdout.writable);
        } catch (error) {
          // The reader went away (`nsjoin cp web:/ - | head`): what tar and docker cp do,
          // which SIGPIPE ends — no message, status 128+13.
          if (error instanceof Deno.errors.BrokenPipe) return 141;
          throw error;
        }
      } else {
        await copyFrom(pinned, src.path, dest.path, options);
      }
    } else if (src.path === "-") {
      await tarTo(pinned, dest.path, Deno.stdin.readable, into);
    } else {
      await copyTo(pinned, src.path, dest.path, into);
    }
    return 0;
  } catch (error) {
    return report(error, "cp");
  } finally {
    pinned?.close();
  }
}
