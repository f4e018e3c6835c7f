/**
 * Which Deno permissions a feature needs, checked up front: a missing flag is then one
 * line that names it, not a failure deep inside nor — worse — a silently short result (a
 * /proc read that Deno refuses looks like a process that has gone, and is skipped).
 *
 * The model (README, Permissions): what nsjoin reads under /proc to join a target it
 * reads through libc (ffi/files.ts), which `--allow-ffi` grants; features that scan all
 * of /proc (listings, inspect, containers) use Deno's own file APIs there, which Deno 2.9
 * grants only with `--allow-all`.
 *
 * @module
 */

/** The package's root URL (this file is src/_permissions.ts, or a chunk in src/_bundle/). */
const _ROOT = import.meta.url.slice(0, import.meta.url.lastIndexOf("/src/") + 1);

/**
 * A `NotCapable` for a missing flag whose stack holds only the caller's frames: uncaught, Deno
 * prints its one line and where in the caller's code it was called, not nsjoin's internals
 * (what a user fixes is a flag, never a line of ours).
 *
 * @param message "Cannot x without --allow-y: why"
 * @returns the error to throw
 */
export function notCapable(message: string): Deno.errors.NotCapable {
  const error = new Deno.errors.NotCapable(message);
  // The frames from a holder: once the error's own stack is read, Deno prints V8's frames of
  // it whatever the stack then says.
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 100;
  const holder: { stack?: string } = {};
  Error.captureStackTrace(holder, notCapable);
  Error.stackTraceLimit = limit;
  const ours = (frame: string) => frame.includes(`${_ROOT}src/`) || frame.includes(`${_ROOT}ffi/`);
  const frames = (holder.stack ?? "").split("\n").slice(1).filter((f) => !ours(f));
  error.stack = [`${error.name}: ${message}`, ...frames].join("\n");
  return error;
}

/**
 * An `NSJOIN_*` setting from the environment; without --allow-env, a {@link notCapable}
 * saying why nsjoin needs it rather than Deno's words, which name a variable the user never set.
 *
 * @param name the variable, `NSJOIN_…`
 * @returns its value, if set
 */
export function nsjoinSetting(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
    throw notCapable(
      `Cannot use nsjoin without --allow-env: it reads its NSJOIN_* settings (here ${name}) and passes your environment on to the program`,
    );
  }
}

/** A permission named by its `--allow-*` flag. */
export type PermissionFlag = "read" | "write" | "net" | "env" | "run" | "ffi" | "sys" | "import";

/** Every kind of Deno permission: all of them granted is what `--allow-all` grants. */
const ALL_PERMISSIONS: readonly PermissionFlag[] = [
  "read",
  "write",
  "net",
  "env",
  "run",
  "ffi",
  "sys",
  "import",
];

let _all = false;

/**
 * Whether an {@link assertPermissions} of `"all"` passed in this process (nothing is asked
 * here): Deno's own file APIs may then read /proc (DESIGN fact 9). A later
 * `Deno.permissions.revokeSync` makes those reads fail with NotCapable: callers fall back.
 *
 * @returns true once all permissions were seen granted
 */
export function allSeenGranted(): boolean {
  return _all;
}

function _granted(name: PermissionFlag): boolean {
  return Deno.permissions.querySync({ name } as Deno.PermissionDescriptor).state === "granted";
}

/**
 * Throws unless this process has the permissions `what` needs.
 *
 * @param what what is being done, as in "Cannot list namespaces"
 * @param needed `"all"`, or the permissions by flag name
 * @param loading true for a check a module makes as it is evaluated: the error keeps its own
 *   stack, since Deno hands a dynamic importer a plain `Error` for one whose stack was
 *   rewritten there (tried: its name and class were lost)
 * @throws {Deno.errors.NotCapable} naming the flags to add
 */
export function assertPermissions(
  what: string,
  needed: "all" | readonly PermissionFlag[],
  loading = false,
): void {
  const refuse = loading ? (m: string) => new Deno.errors.NotCapable(m) : notCapable;
  if (needed === "all") {
    if (ALL_PERMISSIONS.every(_granted)) {
      _all = true;
      return;
    }
    throw refuse(
      `Cannot ${what} without --allow-all (-A): it reads /proc, which Deno grants only with all permissions`,
    );
  }
  const missing = needed.filter((name) => !_granted(name));
  if (missing.length === 0) return;
  throw refuse(`Cannot ${what} without ${missing.map((m) => `--allow-${m}`).join(" ")}`);
}
