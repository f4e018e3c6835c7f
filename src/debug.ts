/**
 * `debug`: the host's tools in a container's namespaces, with nothing copied into it.
 *
 * The mounts are made by the helper (option T, ffi/helper.c debug_*): a private mount
 * namespace for the program only, with the tools read-only, the target's root at /target
 * and a fresh /proc of its pid namespace; it vanishes with the program.
 *
 * @module
 */
import { _pausedShown, assertNotFrozen, cgroupProcsOf, execConfinement } from "./container_exec.ts";
import type { NsCommandOptions } from "./command.ts";
import type { PinnedProcess } from "./target.ts";

/** Options of {@link debugOptions}. */
export interface DebugOptions {
  /** A directory (an image's unpacked rootfs, say) whose /usr, /bin, /lib* are the tools; default the host's "/". */
  tools?: string;
  /** Every capability, no seccomp filter, no no_new_privs, no LSM label: the caller's confinement. */
  privileged?: boolean;
  /** A pseudo-terminal for the program (`-t`). */
  tty?: boolean;
}

/**
 * NsCommand options for a debug session in a pinned process or container: its net, pid,
 * ipc, uts and cgroup namespaces (and user namespace, when it has its own), its cgroups,
 * and, unless `privileged`, its confinement as `exec` gives it (capabilities, no_new_privs,
 * seccomp filters, resource limits, oom_score_adj, umask, LSM label). The environment is
 * not the caller's: only PATH (the caller's, to find the tools), TERM and HOME=/root, as
 * the target's processes can read the program's /proc/PID/environ. Needs root.
 *
 * @param target a process or container from `pinProcess` / `resolveContainer`
 * @param options tools directory, privileged, tty
 * @returns options for NsCommand (add args and stdio)
 * @throws {NamespaceError} code EBUSY when its cgroup is frozen (a paused container)
 *
 * @example
 * ```ts
 * import { debugOptions, pinProcess } from "@nsjoin/nsjoin";
 * using self = pinProcess(Deno.pid);
 * const options = debugOptions(self, { privileged: true, tools: "/opt/busybox" });
 * if (!options.debug || options.tools !== "/opt/busybox" || options.seccomp) throw new Error();
 * ```
 */
export function debugOptions(target: PinnedProcess, options: DebugOptions = {}): NsCommandOptions {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
  };
  const term = Deno.env.get("TERM");
  if (term !== undefined) env.TERM = term;
  // A paused container is refused at once, as exec refuses it: its frozen cgroup would
  // stop the program, and reading its seccomp filter waits 2 s for it to stop for ptrace.
  const cgroups = cgroupProcsOf(target.pid);
  const container = (target as { container?: { id: string; name?: string } }).container;
  assertNotFrozen(cgroups, container ? _pausedShown(container) : `process ${target.pid}`);
  const confinement: Partial<NsCommandOptions> = options.privileged
    ? { capabilities: "all" }
    : { capabilities: "target", noNewPrivs: "target", ...execConfinement("target") };
  return {
    target,
    debug: true,
    tools: options.tools,
    env,
    clearEnv: true,
    cgroups,
    tty: options.tty || undefined,
    ...confinement,
  };
}
