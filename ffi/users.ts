/**
 * User names by uid through getpwuid(3), so NSS sources (LDAP, systemd-homed) answer as
 * they do for lsns and ps; Deno has no API for another user's name.
 *
 * @module
 */

import { libc } from "./libc.ts";

const _names = new Map<number, string>();

/** The name of a uid, or the uid as text when it has none (as lsns prints it). */
export function userName(uid: number): string {
  let name = _names.get(uid);
  if (name !== undefined) return name;
  const pw = libc().getpwuid(uid);
  // struct passwd starts with char *pw_name.
  const namePtr = pw === null ? null : new Deno.UnsafePointerView(pw).getPointer(0);
  name = namePtr === null ? String(uid) : Deno.UnsafePointerView.getCString(namePtr);
  _names.set(uid, name);
  return name;
}
