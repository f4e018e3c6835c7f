import { parseArgs } from "node:util";
import { copyFrom, copyTo, tarFrom, tarTo } from "../copy.ts";
import type { PinnedProcess } from "../target.ts";
import { pinCliTarget } from "./_target.ts";
import { report, UsageError } from "./_run.ts";

/** The usage text of `cp`. */
export const CP_HELP = `Usage: nsjoin cp [OPTIONS] TARGET:SRC_PATH DEST_PATH|-
       nsjoin cp [OPTIONS] SRC_PATH|- TARGET:DEST_PATH

Copy files/folders between a container (or any process) and the local filesystem, as
docker cp does, for every engine, with nothing needed inside the container (no tar, no
shell). Paths inside are resolved by the kernel within the container's root.

TARGET: a container name or ID prefix (searched across all engines), docker:NAME|ID,
podman:NAME|ID, containerd:ID, or a PID. Use - to read a tar stream from stdin (extracted
into the directory DEST_PATH) or write one to stdout. SRC_PATH/. copies a directory's
contents.

Options:
  -a, --archive       Archive mode: keep the source's owners (mapped through the
                      container's user namespace); otherwise files in the container
                      belong to its root, files on the host to you
  -L, --follow-link   Always follow symbol link in SRC_PATH
  -h, --help          Print usage

Exit status: 0 copied; 1 the copy failed; 125 the target could not be found or opened;
2 bad usage.`;

/** `cp`'s arguments, parsed. */
export interface CpArgs {
  /** -a */
  archive: boolean;
  /** -L */
  followLink: boolean;
  /** -h */
  help: boolean;
  /** The source: a host path, "-", or a target and a path inside it. */
  src?: CpEndpoint;
  /** The destination, likewise. */
  dest?: CpEndpoint;
}

/** One side of a copy: a host path (or "-") or a path inside a target. */
export type CpEndpoint = { target?: undefined; path: string } | { target: string; path: string };

const ENGINE_PREFIX = /^(docker|podman|containerd|cri-o|crio|netns):/;

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

/**
 * Parses `cp`'s arguments.
 *
 * @param argv the arguments after `cp`
 * @returns the parsed arguments
 * @throws {UsageError} on unknown options, a wrong count, both or neither side in a target
 */
export function parseCpArgs(argv: readonly string[]): CpArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: {
        archive: { type: "boolean", short: "a" },
        "follow-link": { type: "boolean", short: "L" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split("\n")[0].replace(/\. To specify.*$/, ""));
  }
  const { values, positionals } = parsed;
  const args: CpArgs = {
    archive: values.archive ?? false,
    followLink: values["follow-link"] ?? false,
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
    const options = { archive: args.archive, followLink: args.followLink };
    pinned = await pinCliTarget((src.target ?? dest.target)!) as PinnedProcess;
    if (src.target !== undefined) {
      if (dest.path === "-") {
        await tarFrom(pinned, src.path, options).pipeTo(Deno.stdout.writable);
      } else {
        await copyFrom(pinned, src.path, dest.path, options);
      }
    } else if (src.path === "-") {
      await tarTo(pinned, dest.path, Deno.stdin.readable, options);
    } else {
      await copyTo(pinned, src.path, dest.path, options);
    }
    return 0;
  } catch (error) {
    return report(error, "cp");
  } finally {
    pinned?.close();
  }
}
