/** The directory `ip netns` keeps named network namespaces in. */
export const NETNS_DIR = "/run/netns";

/**
 * The path of a named network namespace, as `ip netns` names them.
 *
 * @param name the name (no slashes, not "." or "..")
 * @returns /run/netns/NAME
 * @throws {TypeError} for a name `ip netns` would refuse
 *
 * @example
 * ```ts
 * import { netnsPath } from "@nsjoin/nsjoin";
 * if (netnsPath("blue") !== "/run/netns/blue") throw new Error("unexpected path");
 * ```
 */
export function netnsPath(name: string): string {
  if (!/^[A-Za-z0-9_.@:+-]+$/.test(name) || name === "." || name === "..") {
    throw new TypeError(`Cannot use ${JSON.stringify(name)} as a netns name`);
  }
  return `${NETNS_DIR}/${name}`;
}
