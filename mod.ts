/**
 * nsjoin: what `docker exec` and `nsenter` do underneath, as a Deno library. Open a
 * process's namespaces (/proc/PID/ns/*), join them, and run a program there.
 *
 * ```ts
 * import { NsCommand, sameNamespace } from "@nsjoin/nsjoin";
 * // `ip -br addr` in every namespace of a target that differs from ours (as nsenter -a);
 * // our own PID stands in for a container's here.
 * const target = Deno.pid;
 * const out = await new NsCommand("ip", { target, args: ["-br", "addr"] }).output();
 * if (!sameNamespace(target, "self", "net")) console.log(new TextDecoder().decode(out.stdout));
 * ```
 *
 * `NsCommand` needs `--allow-ffi --allow-run --allow-env` (it reads /proc through libc);
 * listings, `inspect` and containers need `-A` (Deno grants its own /proc reads only with
 * it): see the README's Permissions. From the kernel: root, or ownership of the target's
 * user namespace. `daxIn` has its own entry, `@nsjoin/nsjoin/dax`; the CLI is
 * `@nsjoin/nsjoin/cli`.
 *
 * @module
 */
export { NsCommand } from "./src/command.ts";
export type {
  NamespaceSelection,
  NsChildProcess,
  NsCommandOptions,
  NsCommandOutput,
  NsCommandStatus,
} from "./src/command.ts";
export { NamespaceError } from "./src/errors.ts";
export type { NamespaceErrorInit } from "./src/errors.ts";
export {
  CLONE_FLAGS,
  differingNamespaces,
  NAMESPACE_TYPES,
  namespacesOf,
  namespacesOfSync,
  namespaceTypeOfFile,
  sameNamespace,
} from "./src/namespaces.ts";
export type { NamespaceId, NamespaceSet, NamespaceType } from "./src/namespaces.ts";
export {
  parseTarget,
  PinnedProcess,
  pinProcess,
  resolveTarget,
  startTimeOf,
} from "./src/target.ts";
export type { ResolvedTarget, Target } from "./src/target.ts";
export { listNamespaces, namespaceTree, processesInNamespace } from "./src/listing.ts";
export type {
  ListOptions,
  NamespaceEntry,
  NamespaceHolder,
  NamespaceListing,
  NamespaceMembers,
  NamespaceNode,
  NamespaceProcess,
  SkippedProcesses,
  TreeOptions,
  TreeRelation,
} from "./src/listing.ts";
export { closeNamespaceWorkers, inNamespaces, WORKER_NAMESPACES } from "./src/in_namespaces.ts";
export type {
  InNamespacesFunction,
  InNamespacesOptions,
  WorkerNamespace,
} from "./src/in_namespaces.ts";
export { ScopedJoin, scopedJoin } from "./src/scoped.ts";
export type { ScopedNamespace } from "./src/scoped.ts";
export { inspect } from "./src/inspect.ts";
export type {
  CgroupMembership,
  FreeReport,
  IdMapEntry,
  InspectedSide,
  Inspection,
  MemoryReport,
  NamespaceComparison,
  UserNamespaceInfo,
} from "./src/inspect.ts";
export {
  ENGINES,
  findContainers,
  matchPodContainer,
  PinnedContainer,
  resolveContainer,
} from "./src/containers.ts";
export type {
  ContainerConfig,
  ContainerInfo,
  ContainerSource,
  Engine,
  FindContainersOptions,
  PodMember,
} from "./src/containers.ts";
export { containerExecOptions, resolveContainerUser } from "./src/container_exec.ts";
export type { ContainerExecOptions, ContainerUser } from "./src/container_exec.ts";
export { netnsPath } from "./src/netns.ts";
// ---- issue 10: the distroless toolkit (cp, forward)
export { copyFrom, copyTo, tarFrom, tarTo } from "./src/copy.ts";
export type { CopyOptions, CopyTarget } from "./src/copy.ts";
export { forward, parsePortSpec } from "./src/forward.ts";
export type { ForwardedPort, Forwarding, ForwardOptions, PortSpec } from "./src/forward.ts";
export { debugOptions } from "./src/debug.ts";
export type { DebugOptions } from "./src/debug.ts";
// ---- issue 13: exec sessions (one join, many programs)
export { ExecSession, openSession } from "./src/session.ts";
export type { SessionExecOptions, SessionOptions } from "./src/session.ts";
