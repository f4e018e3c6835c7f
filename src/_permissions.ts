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
 * @throws {Deno.errors.NotCapable} naming the flags to add
 */
export function assertPermissions(
  what: string,
  needed: "all" | readonly PermissionFlag[],
): void {
  if (needed === "all") {
    if (ALL_PERMISSIONS.every(_granted)) {
      _all = true;
      return;
    }
    throw new Deno.errors.NotCapable(
      `Cannot ${what} without --allow-all (-A): it reads /proc, which Deno grants only with all permissions`,
    );
  }
  const missing = needed.filter((name) => !_granted(name));
  if (missing.length === 0) return;
  throw new Deno.errors.NotCapable(
    `Cannot ${what} without ${missing.map((m) => `--allow-${m}`).join(" ")}`,
  );
}
