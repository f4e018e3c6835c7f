/** The directory `ip netns` keeps named network namespaces in. */
export const NETNS_DIR = "/run/netns";

/**
 * The path of a named network namespace, as `ip netns` names them.
 *
 * @param name the name (no slashes, not "." or "..")
 * @returns /run/netns/NAME
 * @throws {TypeError} for a name `ip netns` would refuse
 */
export function netnsPath(name: string): string {
  if (!/^[A-Za-z0-9_.@:+-]+$/.test(name) || name === "." || name === "..") {
    throw new TypeError(`Cannot use ${JSON.stringify(name)} as a netns name`);
  }
  return `${NETNS_DIR}/${name}`;
}

// Run with the net namespace already joined: a private mount namespace whose /sys is a
// fresh sysfs (sysfs shows the devices of the net namespace that mounts it) and whose
// /etc has /etc/netns/NAME/* bound over it — what `ip netns exec` does in C.
const SCRIPT =
  'n=$1; shift; umount -l /sys 2>/dev/null; mount -t sysfs "netns-$n" /sys || exit 125; ' +
  'for f in "/etc/netns/$n"/*; do [ -e "$f" ] || continue; ' +
  'mount --bind "$f" "/etc/${f##*/}" || exit 125; done; exec "$@"';

/**
 * The program and arguments that run `program` as `ip netns exec NAME` does, once the
 * net namespace is joined: `unshare --mount --propagation slave` (util-linux, from the
 * host) and a few lines of `sh` mount /sys and bind /etc/netns/NAME. Hand-written here
 * because the helper joins only existing mount namespaces; exit 125 when a mount fails.
 *
 * @param name the netns name
 * @param program the program to run
 * @param args its arguments
 * @returns the program and arguments to give NsCommand instead
 */
export function netnsExecArgs(
  name: string,
  program: string,
  args: readonly string[],
): { program: string; args: string[] } {
  netnsPath(name);
  return {
    program: "unshare",
    args: [
      "--mount",
      "--propagation",
      "slave",
      "sh",
      "-c",
      SCRIPT,
      "nsjoin-netns",
      name,
      program,
      ...args,
    ],
  };
}
