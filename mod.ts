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
// @ts-types="./src/_bundle/mod.ts"
export { NsCommand } from "./src/_bundle/mod.js"; // src/command.ts
export type {
  NamespaceSelection,
  NsChildProcess,
  NsCommandOptions,
  NsCommandOutput,
  NsCommandStatus,
} from "./src/command.ts";
// @ts-types="./src/_bundle/mod.ts"
export { NamespaceError } from "./src/_bundle/mod.js"; // src/errors.ts
export type { NamespaceErrorInit } from "./src/errors.ts";
// @ts-types="./src/_bundle/mod.ts"
export {
  CLONE_FLAGS,
  differingNamespaces,
  NAMESPACE_TYPES,
  namespacesOf,
  namespacesOfSync,
  namespaceTypeOfFile,
  sameNamespace,
} from "./src/_bundle/mod.js"; // src/namespaces.ts
export type { NamespaceId, NamespaceSet, NamespaceType } from "./src/namespaces.ts";
// @ts-types="./src/_bundle/mod.ts"
export {
  parseTarget,
  PinnedProcess,
  pinProcess,
  resolveTarget,
  startTimeOf,
} from "./src/_bundle/mod.js"; // src/target.ts
export type { ResolvedTarget, Target } from "./src/target.ts";
// @ts-types="./src/_bundle/mod.ts"
export { listNamespaces, namespaceTree, processesInNamespace } from "./src/_bundle/mod.js"; // src/listing.ts
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
// @ts-types="./src/_bundle/mod.ts"
export { WORKER_NAMESPACES } from "./src/_bundle/mod.js"; // src/namespaces.ts
export type { WorkerNamespace } from "./src/namespaces.ts";
export type { InNamespacesFunction, InNamespacesOptions } from "./src/in_namespaces.ts";
// @ts-types="./src/_bundle/mod.ts"
export { ScopedJoin, scopedJoin } from "./src/_bundle/mod.js"; // src/scoped.ts
export type { ScopedNamespace } from "./src/scoped.ts";
// @ts-types="./src/_bundle/mod.ts"
export { inspect } from "./src/_bundle/mod.js"; // src/inspect.ts
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
// @ts-types="./src/_bundle/mod.ts"
export {
  ENGINES,
  findContainers,
  matchPodContainer,
  PinnedContainer,
  resolveContainer,
} from "./src/_bundle/mod.js"; // src/containers.ts
export type {
  ContainerConfig,
  ContainerInfo,
  ContainerSource,
  Engine,
  FindContainersOptions,
  PodMember,
} from "./src/containers.ts";
// @ts-types="./src/_bundle/mod.ts"
export { containerExecOptions, resolveContainerUser } from "./src/_bundle/mod.js"; // src/container_exec.ts
export type { ContainerExecOptions, ContainerUser } from "./src/container_exec.ts";
// @ts-types="./src/_bundle/mod.ts"
export { netnsPath } from "./src/_bundle/mod.js"; // src/netns.ts
// ---- issue 10: the distroless toolkit (cp, forward)
export type { CopyOptions, CopyTarget } from "./src/copy.ts";
// @ts-types="./src/_bundle/mod.ts"
export { parsePortSpec } from "./src/_bundle/mod.js"; // src/port_spec.ts
export type { ForwardedPort, PortSpec } from "./src/port_spec.ts";
export type { Forwarding, ForwardOptions } from "./src/forward.ts";
// @ts-types="./src/_bundle/mod.ts"
export { debugOptions } from "./src/_bundle/mod.js"; // src/debug.ts
export type { DebugOptions } from "./src/debug.ts";
// @ts-types="./src/_bundle/mod.ts"
export {
  closeNamespaceWorkers,
  copyFrom,
  copyTo,
  forward,
  inNamespaces,
  openSession,
  tarFrom,
  tarTo,
} from "./src/_bundle/mod.js"; // src/lazy.ts
// ---- issue 13: exec sessions (one join, many programs); openSession is in src/lazy.ts
export type { ExecSession, SessionExecOptions, SessionOptions } from "./src/session.ts";
