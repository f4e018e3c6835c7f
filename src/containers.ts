/**
 * Containers as targets: every running container of docker, podman (rootful and rootless),
 * containerd and CRI-O, found (src/engines.ts), matched by name or ID prefix, and pinned.
 * What an exec inside one starts with is in src/container_exec.ts.
 *
 * @module
 */
import { assertPermissions } from "./_permissions.ts";
import { NamespaceError } from "./errors.ts";
import {
  _cgroupScan,
  _containerdList,
  _dockerInspect,
  _dockerList,
  _dockerStateFind,
  _dockerStateList,
  _isRootlessOf,
  _podmanList,
  _podmanStopped,
  _rootMadeCgroup,
  type BundleFilter,
  containerOfCgroup,
} from "./engines.ts";
import {
  cgroupMountRoots,
  cgroupMountTable,
  type CgroupView,
  cgroupViews,
} from "./_cgroup_mounts.ts";
import { differingNamespaces } from "./namespaces.ts";
import { PinnedProcess, pinProcess } from "./target.ts";

/** A container engine ("cri-o": CRI-O's pods, from its state in root's containers-storage). */
export type Engine = "docker" | "podman" | "containerd" | "cri-o";

/** The engines, in the order a bare name is searched. */
export const ENGINES: readonly Engine[] = ["docker", "podman", "containerd", "cri-o"];

/** Where a container's facts came from: the engine's API, its state files, or /proc + cgroups. */
export type ContainerSource = "api" | "state" | "cgroup";

/** What `docker exec` starts from: the container's configured environment, user and directory. */
export interface ContainerConfig {
  /** `KEY=VALUE` entries as the engine gives an exec (before `-e`). */
  env: string[];
  /** The configured user: "" (root), "name", "uid", "name:group" or "uid:gid". */
  user: string;
  /** The configured working directory ("" means /). */
  workingDir: string;
  /** The container's hostname, when known. */
  hostname?: string;
  /**
   * Supplementary groups from the engine's runtime spec (podman, containerd, CRI-O): the
   * configured user's, which podman exec gives only when no `-u` is given.
   */
  additionalGids?: number[];
  /**
   * docker's `--group-add` (HostConfig.GroupAdd): group names or gids, looked up in the
   * container's /etc/group at exec and added to every exec's groups, whatever its user.
   */
  groupAdd?: string[];
  /** Whether `env` is the exact runtime environment (OCI spec) rather than docker's Config.Env. */
  runtimeEnv: boolean;
}

/** One running container, as found on the host. */
export interface ContainerInfo {
  /** The engine that runs it. */
  engine: Engine;
  /** The full ID. */
  id: string;
  /** Its name, when the engine keeps one we can read. */
  name?: string;
  /** Host PID of its first process; 0 while `restarting`. */
  pid: number;
  /**
   * Docker is between two runs of its restart policy: no process, listed as `docker ps`
   * lists it ("Restarting"); exec refuses it, as `docker exec` does, until it runs again.
   */
  restarting?: boolean;
  /** The containerd namespace ("moby" for docker, "k8s.io" for Kubernetes). */
  namespace?: string;
  /** uid of the owner of a rootless container. */
  owner?: number;
  /** The Kubernetes pod it belongs to (a sandbox or one of its containers), from the CRI's state. */
  pod?: PodMember;
  /** Its configuration, when the engine's API or state was readable. */
  config?: ContainerConfig;
  /** Where the facts came from. */
  source: ContainerSource;
}

/** A Kubernetes pod's sandbox or container, as the CRI runtime's state names it. */
export interface PodMember {
  /** The Kubernetes namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** The pod's UID. */
  uid: string;
  /** The CRI ID of the pod's sandbox (its pause container). */
  sandboxId: string;
  /** The container's name; absent for the sandbox. */
  container?: string;
  /**
   * On the sandbox: the pod's `kubectl.kubernetes.io/default-container` annotation, when
   * the runtime passes pod annotations into the spec (containerd's `pod_annotations`).
   */
  defaultContainer?: string;
}

/** Options of {@link findContainers} and {@link resolveContainer}. */
export interface FindContainersOptions {
  /** The Docker daemon: `unix:///path` or `tcp://host:port`; default $DOCKER_HOST, then /var/run/docker.sock. */
  dockerHost?: string;
  /** Sources to use; default all: engine APIs, engine state files, the /proc + cgroup scan. */
  sources?: readonly ContainerSource[];
  /** The /proc to read (tests); default "/proc". */
  proc?: string;
  /**
   * State dirs of containerd instances besides /run/containerd, /run/k3s/containerd and
   * docker's (the `state` of a containerd config); default $NSJOIN_CONTAINERD_STATE,
   * colon-separated. Only root-owned files there are read.
   */
  containerdState?: readonly string[];
}

/** A running container pinned by a pidfd on its first process, with the engine's metadata. */
export class PinnedContainer extends PinnedProcess {
  /** What the engine says about it. */
  readonly container: ContainerInfo;

  /** Use {@link resolveContainer}. */
  constructor(pinned: PinnedProcess, container: ContainerInfo) {
    super(pinned.pid, pinned.startTime, pinned.pidfd);
    this.container = container;
  }
}

// ---------------------------------------------------------------------------------------
// Finding and matching

/**
 * One entry per container from every source. Entries merge only with the same owner: what
 * a user's store says about an ID never fills in (name, PID, config) an entry of root's
 * engines or of another user, however the user named or numbered their containers.
 */
function _merge(lists: ContainerInfo[][]): ContainerInfo[] {
  const byId = new Map<string, ContainerInfo>();
  for (const list of lists) {
    for (const c of list) {
      const key = `${c.owner ?? ""}/${c.id}`;
      const seen = byId.get(key);
      if (!seen) {
        byId.set(key, { ...c });
        continue;
      }
      seen.name ??= c.name;
      seen.config ??= c.config;
      seen.namespace ??= c.namespace;
      seen.pod ??= c.pod;
      if (!seen.pid) seen.pid = c.pid;
      seen.restarting ||= c.restarting;
      if (seen.engine === "containerd" && c.engine !== "containerd") seen.engine = c.engine;
    }
  }
  // A source that saw its process (docker restarted it between two reads): running.
  for (const c of byId.values()) if (c.restarting && c.pid > 0) delete c.restarting;
  return [...byId.values()].filter((c) => c.pid > 0 || c.restarting);
}

/**
 * Every running container on the host, of any engine: from the Docker Engine API,
 * podman's state files (root's and rootless users' stores), containerd's task bundles
 * (any namespace, k8s.io included) and a /proc + cgroup scan that finds containers of
 * engines we have no other way to ask. As `docker ps`, it lists a docker container waiting
 * for its restart policy: `restarting` true, pid 0.
 *
 * @param options the docker host and which sources to use
 * @returns the containers, one per ID
 *
 * @example
 * ```ts ignore
 * import { findContainers } from "@nsjoin/nsjoin";
 * for (const c of await findContainers()) console.log(c.engine, c.id.slice(0, 12), c.name, c.pid);
 * ```
 */
export async function findContainers(
  options: FindContainersOptions = {},
): Promise<ContainerInfo[]> {
  assertPermissions("find containers", "all");
  _checkFindOptions(options);
  return await _find(options, { scan: true, dockerList: true });
}

/**
 * The lists of FindContainersOptions are lists: a string is iterable, and containerdState
 * "/run/k3s/containerd" was read as the state dirs "/", "r", "u"…; sources "state" as
 * none, an empty listing.
 */
function _checkFindOptions(options: FindContainersOptions): void {
  for (const name of ["containerdState", "sources"] as const) {
    const v: unknown = options[name];
    if (v !== undefined && (!Array.isArray(v) || v.some((e) => typeof e !== "string"))) {
      throw new TypeError(
        `Cannot use ${name} ${
          typeof v === "string" ? JSON.stringify(v) : "of that shape"
        }: give a list of strings`,
      );
    }
  }
}

/**
 * The sources for one engine (or all), with or without the /proc scan and docker's list;
 * with `ref`, dockerd's and containerd's state only where a container can match it (as
 * {@link matchContainer} matches: its ID, an ID it prefixes when hex, a docker name):
 * reading and parsing every container's file and bundle cost a bare-name exec with 30
 * other docker containers ~7 ms of CPU (docs/measured.md, "Bare names among many containers").
 */
async function _find(
  options: FindContainersOptions,
  only: { engine?: Engine; scan: boolean; dockerList: boolean; ref?: string },
): Promise<ContainerInfo[]> {
  const sources = new Set(options.sources ?? ["api", "state", "cgroup"]);
  const want = (e: Engine) => only.engine === undefined || only.engine === e;
  const lists: ContainerInfo[][] = [];
  const docker = sources.has("api") && want("docker") && only.dockerList
    ? _dockerList(options)
    : Promise.resolve(undefined);
  if (sources.has("state")) {
    const { ref } = only;
    const hex = ref !== undefined && /^[0-9a-f]+$/.test(ref);
    const byId = (id: string) => id === ref || (hex && id.startsWith(ref!));
    if (want("docker")) lists.push(_dockerStateList(ref));
    if (want("podman")) lists.push(_podmanList());
    // A containerd container's only name is a pod member's "POD/CONTAINER".
    const bundles = ref !== undefined && !ref.includes("/") ? { id: byId } : {};
    if (want("containerd") || want("docker")) {
      lists.push(_containerdList(options, undefined, bundles));
    }
  }
  if (sources.has("cgroup") && only.scan) lists.push(_cgroupScan(options.proc ?? "/proc"));
  lists.unshift((await docker) ?? []);
  return _merge(lists);
}

/**
 * Splits "docker:web1" into engine and reference; a bare reference has no engine.
 * `podman@USER:NAME` (a user name or uid) picks a rootless container of that user.
 */
export function parseContainerRef(
  text: string,
): { engine?: Engine; ref: string; owner?: number } {
  const colon = text.indexOf(":");
  if (colon > 0) {
    const [engine, user] = text.slice(0, colon).split("@", 2);
    if ((ENGINES as readonly string[]).includes(engine) && engine !== "cri-o") {
      const ref = text.slice(colon + 1);
      if (!ref) throw new TypeError(`Cannot resolve ${text}: give a name or ID after the colon`);
      if (user === undefined) return { engine: engine as Engine, ref };
      if (engine !== "podman") {
        throw new TypeError(
          `Cannot resolve ${text}: only podman has rootless stores (podman@USER:)`,
        );
      }
      return { engine, ref, owner: _uidOf(user, text) };
    }
    if (engine === "crio" || engine === "cri-o") {
      return { engine: "cri-o", ref: text.slice(colon + 1) };
    }
  }
  if (!text || /[\s/]/.test(text)) {
    throw new TypeError(`Cannot resolve container ${JSON.stringify(text)}: not a name or ID`);
  }
  return { ref: text };
}

/** A host user's uid, from a name (the host's /etc/passwd) or a number. */
function _uidOf(user: string, text: string): number {
  if (/^[0-9]+$/.test(user)) return Number(user);
  let passwd = "";
  try {
    passwd = Deno.readTextFileSync("/etc/passwd");
  } catch {
    // No users by name: only uids.
  }
  const line = passwd.split("\n").find((l) => l.split(":")[0] === user);
  if (!line) throw new TypeError(`Cannot resolve ${text}: no user ${JSON.stringify(user)} here`);
  return Number(line.split(":")[2]);
}

function _distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length];
}

/**
 * How a container is named in messages, as it can be given back: `podman@1001:web (0123…)`.
 * Raw, as every message of the library: the CLI escapes each line it prints (src/cli/_run.ts).
 */
const _label = (c: ContainerInfo) =>
  `${c.engine}${c.owner !== undefined ? `@${c.owner}` : ""}:${c.name ?? c.id.slice(0, 12)}${
    c.name ? ` (${c.id.slice(0, 12)})` : ""
  }`;

/** Options of {@link matchContainer}. */
export interface MatchContainerOptions {
  /** Only this engine's containers. */
  engine?: Engine;
  /** Only the rootless containers of this uid. */
  owner?: number;
}

/**
 * Picks the one container `ref` names: an exact ID or name first, then a unique ID prefix.
 * Containers the caller trusts — root's engines, and the caller's own rootless ones — are
 * searched first; other users' rootless containers only when none of those matches, so a
 * user can neither take over nor make ambiguous a name or ID of root's engines.
 *
 * @param containers from {@link findContainers}
 * @param ref a name, an ID or an ID prefix
 * @param options engine and owner to pick from
 * @returns the one match
 * @throws {NamespaceError} ESRCH with near matches when none matches; EINVAL listing the
 * matches when several do
 */
export function matchContainer(
  containers: readonly ContainerInfo[],
  ref: string,
  options: MatchContainerOptions = {},
): ContainerInfo {
  const { engine, owner } = options;
  const pool = containers.filter((c) =>
    (!engine || c.engine === engine) && (owner === undefined || c.owner === owner)
  );
  const find = (list: ContainerInfo[]) => {
    const exact = list.filter((c) => c.id === ref || c.name === ref);
    if (exact.length > 0 || !/^[0-9a-f]+$/.test(ref)) return exact;
    return list.filter((c) => c.id.startsWith(ref));
  };
  const me = Deno.uid();
  const trusted = (c: ContainerInfo) => c.owner === undefined || c.owner === me;
  let matches = find(pool.filter(trusted));
  if (matches.length === 0) matches = find(pool.filter((c) => !trusted(c)));
  const what = engine
    ? `${engine}${owner !== undefined ? `@${owner}` : ""} container`
    : "container";
  const shown = JSON.stringify(ref);
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new NamespaceError(`Cannot pick a ${what} for ${shown}`, {
      errno: 22,
      syscall: "resolve",
      target: ref,
      quiet: true,
      hint: `it matches ${matches.map(_label).join(", ")}; give more of the ID or ${
        matches.some((c) => c.owner !== undefined) ? "podman@UID:NAME" : "engine:NAME"
      }`,
    });
  }
  const near = pool
    .filter((c) =>
      (c.name && (_distance(c.name, ref) <= 2 || c.name.includes(ref) || ref.includes(c.name))) ||
      _distance(c.id.slice(0, ref.length), ref) <= 1
    )
    .slice(0, 5);
  throw new NamespaceError(`Cannot find ${what} ${shown}`, {
    errno: 3,
    syscall: "resolve",
    target: ref,
    quiet: true,
    hint: near.length > 0
      ? `did you mean ${near.map(_label).join(", ")}?`
      : `no running ${what} has that name or ID (see: nsjoin ps)`,
  });
}

/** A pod as it can be given back: `k8s:NAMESPACE/POD` (raw: the CLI escapes what it prints). */
const _podLabel = (p: PodMember) => `k8s:${p.namespace}/${p.name}`;

/** A pod UID (Kubernetes makes them UUIDs). */
const POD_UID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Picks the container a Kubernetes target names among the pod members of `containers`
 * (the CRI runtime's own state: no API server): `k8s:NAMESPACE/POD[/CONTAINER]`,
 * `k8s:POD` (a pod name unique across namespaces), `k8s:UID[/CONTAINER]` (the pod's
 * UID), or `cri:ID` (a prefix of a CRI container or sandbox ID, as crictl prints it).
 * Without a container name, the pod's container is the one its
 * `kubectl.kubernetes.io/default-container` annotation names, else its only running one.
 * Two pods of one name (one being replaced by the other) are a choice to make, unless a
 * container is named that only one of them runs.
 *
 * @param containers from {@link findContainers}
 * @param text the target
 * @returns the one container (or, for `cri:` with a sandbox ID, the sandbox)
 * @throws {NamespaceError} ESRCH when no pod or container matches (with near matches),
 * EINVAL listing the choices when several do
 * @throws {TypeError} when `text` is not of these forms
 *
 * @example
 * ```ts
 * import { matchPodContainer, type ContainerInfo } from "@nsjoin/nsjoin";
 * const pod = { namespace: "default", name: "web", uid: "u1", sandboxId: "aa11" };
 * const found: ContainerInfo[] = [
 *   { engine: "containerd", id: "aa11", pid: 10, pod, source: "state" },
 *   { engine: "containerd", id: "bb22", pid: 11, pod: { ...pod, container: "nginx" }, source: "state" },
 * ];
 * if (matchPodContainer(found, "k8s:default/web").id !== "bb22") throw new Error("not nginx");
 * if (matchPodContainer(found, "cri:aa").id !== "aa11") throw new Error("not the sandbox");
 * ```
 */
export function matchPodContainer(
  containers: readonly ContainerInfo[],
  text: string,
): ContainerInfo {
  const members = containers.filter((c) => c.pod);
  const shown = JSON.stringify(text);
  const fail = (errno: number, message: string, hint: string) =>
    new NamespaceError(message, { errno, syscall: "resolve", target: text, quiet: true, hint });
  const memberLabel = (c: ContainerInfo) =>
    `${_podLabel(c.pod!)}${c.pod!.container ? `/${c.pod!.container}` : ""} (${c.id.slice(0, 13)})`;
  if (text.startsWith("cri:")) {
    const ref = text.slice(4);
    if (!/^[0-9a-f]+$/.test(ref)) {
      throw new TypeError(`Cannot resolve ${shown}: give cri: and a CRI container or sandbox ID`);
    }
    const m = members.filter((c) => c.id.startsWith(ref));
    if (m.length === 1) return m[0];
    if (m.length > 1) {
      throw fail(
        22,
        `Cannot pick a CRI container for ${shown}`,
        `it matches ${m.map(memberLabel).join(", ")}; give more of the ID`,
      );
    }
    throw fail(
      3,
      `Cannot find CRI container ${shown}`,
      "no running pod sandbox or container has that ID (see: nsjoin ps)",
    );
  }
  const parts = text.slice(4).split("/");
  if (!text.startsWith("k8s:") || parts.length > 3 || parts.some((p) => !p)) {
    throw new TypeError(
      `Cannot resolve ${shown}: give k8s:NAMESPACE/POD[/CONTAINER], k8s:POD or k8s:UID[/CONTAINER]`,
    );
  }
  const byUid = POD_UID.test(parts[0]) && parts.length <= 2;
  const container = byUid ? parts[1] : parts[2];
  const wanted = (p: PodMember) =>
    byUid
      ? p.uid === parts[0]
      : parts.length === 1
      ? p.name === parts[0]
      : p.namespace === parts[0] && p.name === parts[1];
  // One entry per sandbox: the sandbox's own facts when it runs, else a member's.
  const pods = new Map<string, { pod: PodMember; members: ContainerInfo[] }>();
  for (const c of members) {
    const entry = pods.get(c.pod!.sandboxId) ?? { pod: c.pod!, members: [] };
    if (!c.pod!.container) entry.pod = c.pod!;
    entry.members.push(c);
    pods.set(c.pod!.sandboxId, entry);
  }
  let matches = [...pods.values()].filter((p) => wanted(p.pod));
  // A pod being replaced (a StatefulSet's: the old one still stopping) shares its name with
  // the new one: with a container named, the pods that run it are the choice.
  if (container !== undefined && matches.length > 1) {
    const running = matches.filter((p) => p.members.some((c) => c.pod!.container === container));
    if (running.length > 0) matches = running;
  }
  if (matches.length > 1) {
    throw fail(
      22,
      `Cannot pick a pod for ${shown}`,
      `it matches ${
        matches.map((p) => `${_podLabel(p.pod)} (uid ${p.pod.uid})`).join(", ")
      }; give k8s:NAMESPACE/POD or the pod's UID`,
    );
  }
  if (matches.length === 0) {
    const name = byUid || parts.length === 1 ? parts[0] : parts[1];
    const near = [...pods.values()].map((p) => p.pod)
      .filter((p) => p.name.includes(name) || _distance(p.name, name) <= 2).slice(0, 5);
    throw fail(
      3,
      `Cannot find pod ${shown}`,
      near.length > 0
        ? `did you mean ${near.map(_podLabel).join(", ")}?`
        : "no running pod has that name or UID on this node (see: nsjoin ps)",
    );
  }
  const { pod, members: inPod } = matches[0];
  const apps = inPod.filter((c) => c.pod!.container);
  const names = [...new Set(apps.map((c) => c.pod!.container!))].join(", ");
  const pick = container ??
    (apps.some((c) => c.pod!.container === pod.defaultContainer)
      ? pod.defaultContainer
      : undefined);
  const chosen = pick === undefined ? apps : apps.filter((c) => c.pod!.container === pick);
  if (chosen.length === 1) return chosen[0];
  if (chosen.length === 0) {
    throw fail(
      3,
      `Cannot find ${
        pick === undefined ? "a running container" : `a running container ${JSON.stringify(pick)}`
      } in pod ${_podLabel(pod)}`,
      // The runtime keeps no state of an exited container (containerd deletes its task
      // bundle): a finished init container is not told apart from a name never seen.
      apps.length > 0
        ? `its running containers: ${names} (an exited one, such as a finished init container, cannot be joined)`
        : "it has no running container (exited init containers cannot be joined)",
    );
  }
  throw fail(
    22,
    `Cannot pick a container of pod ${_podLabel(pod)}`,
    pick === undefined
      ? `it has ${names}; give ${_podLabel(pod)}/CONTAINER`
      : `several running containers are named ${pick}: give cri:ID`,
  );
}

/**
 * Resolves a container reference — `docker:NAME|ID`, `podman:NAME|ID`, `containerd:ID`,
 * a Kubernetes pod's container (`k8s:NAMESPACE/POD[/CONTAINER]`, `k8s:POD`,
 * `k8s:UID[/CONTAINER]`, `cri:ID`: see {@link matchPodContainer}), or a bare name or ID
 * prefix searched across every engine — and pins its first process
 * with a pidfd. The Docker Engine API is asked first for docker (and for its metadata);
 * podman and containerd are read from their state files; the /proc + cgroup scan finds
 * a container by ID when no engine can be asked (docker's socket missing, CRI-O).
 *
 * @param text the reference
 * @param options the docker host and which sources to use
 * @returns the pinned container; close it (or `using` it) when done
 * @throws {NamespaceError} ESRCH when no running container matches (with near matches),
 * EINVAL when the reference is ambiguous (listing the matches)
 *
 * @example
 * ```ts ignore
 * import { NsCommand, resolveContainer } from "@nsjoin/nsjoin";
 * using web = await resolveContainer("docker:web1");
 * await new NsCommand("ip", { target: web, args: ["addr"] }).output();
 * ```
 */
export async function resolveContainer(
  text: string,
  options: FindContainersOptions = {},
): Promise<PinnedContainer> {
  assertPermissions("resolve a container", "all");
  return await _resolveContainer(text, options);
}

/**
 * resolveContainer without its permission check, for the CLI, which made it before the
 * command loaded (cli.ts): each check asks Deno for eight permissions. Internal: not in
 * mod.ts.
 */
export async function _resolveContainer(
  text: string,
  options: FindContainersOptions = {},
): Promise<PinnedContainer> {
  if (typeof text !== "string") {
    throw new TypeError(
      `Cannot resolve container ${String(text)}: give a name, an ID prefix or ENGINE:NAME`,
    );
  }
  _checkFindOptions(options);
  if (text.startsWith("k8s:") || text.startsWith("cri:")) {
    // Pods are in containerd's CRI state (its k8s.io namespace) and in CRI-O's (root's
    // containers-storage); a node's kubelet talks to one CRI runtime. First only what can be
    // the target in containerd's bundles, then in CRI-O's entries; everything only when
    // neither has it, for the answer and for the near matches of the error.
    const lists = new Set(options.sources ?? ["state"]).has("state")
      ? [
        () => _containerdList(options, "k8s.io", _podFilter(text)),
        () => _podmanList(true, _crioFilter(text)),
        () => _merge([_containerdList(options, "k8s.io"), _podmanList(true)]),
      ]
      : [() => []];
    let found: ContainerInfo | undefined;
    for (const [i, list] of lists.entries()) {
      try {
        found = matchPodContainer(list(), text);
        break;
      } catch (error) {
        const last = i === lists.length - 1;
        if (last || !(error instanceof NamespaceError) || error.code !== "ESRCH") throw error;
      }
    }
    return _pinPodMember(found!, text, options);
  }
  const { engine, ref, owner } = parseContainerRef(text);
  const sources = new Set(options.sources ?? ["api", "state", "cgroup"]);
  if (engine === "docker" && sources.has("api") && sources.has("state")) {
    const pinned = _pinFromDockerState(ref, options);
    if (pinned) return pinned;
  }
  // A bare name or ID that dockerd's state answers (as for docker:REF): what the API would
  // say, without the round trip. The other engines are listed all the same, so a name two
  // engines share stays ambiguous.
  const fromState = engine === undefined && sources.has("api") && sources.has("state")
    ? _dockerStateFind(ref, options)
    : undefined;
  // Docker resolves its own names and ID prefixes: one request instead of a listing.
  const inspected = fromState ??
    (sources.has("api") && (engine === undefined || engine === "docker")
      ? await _dockerInspect(ref, options, engine === "docker")
      : undefined);
  let found: ContainerInfo;
  if (engine === "docker" && inspected) found = inspected;
  else {
    // Only an ID prefix can match what the /proc scan finds (it knows no names).
    const scan = /^[0-9a-f]+$/.test(ref);
    const pool = await _find(options, { engine, scan, dockerList: inspected === undefined, ref });
    const candidates = inspected ? _merge([[inspected], pool]) : pool;
    try {
      found = matchContainer(candidates, ref, { engine, owner });
    } catch (error) {
      if (!(error instanceof NamespaceError) || error.code !== "ESRCH") throw error;
      // Nothing matched: look at everything, for near matches in the message.
      const all = await _find(options, { engine, scan: true, dockerList: true });
      // A stopped container of that name or ID: say so, as `docker exec` ("Container … is
      // not running") and `podman exec` ("can only create exec sessions on running
      // containers") do, not that no such container exists.
      try {
        matchContainer(all, ref, { engine, owner });
      } catch (nothing) {
        if (!(nothing instanceof NamespaceError) || nothing.code !== "ESRCH") throw nothing;
        if (engine === undefined && inspected === null && sources.has("api")) {
          await _dockerInspect(ref, options, true);
        }
        const stopped = (engine === undefined || engine === "podman") && owner === undefined &&
            sources.has("state")
          ? _podmanStopped(ref)
          : undefined;
        if (stopped !== undefined) {
          throw new NamespaceError(`Cannot use podman container ${stopped}`, {
            errno: 3,
            syscall: "resolve",
            target: text,
            hint: "it is not running",
            quiet: true,
          });
        }
        throw nothing;
      }
      found = matchContainer(all, ref, { engine, owner });
    }
    if (fromState && found.engine === "docker" && found.id === fromState.id) {
      const pinned = _pinDockerState(fromState, options);
      if (pinned) return pinned;
      // The kernel does not confirm the files: the API's answer, or none.
      const api = await _dockerInspect(found.id, options, true);
      if (!api) {
        throw new NamespaceError(`Cannot use ${_label(found)}`, {
          errno: 3,
          syscall: "resolve",
          target: text,
          quiet: true,
          hint: "dockerd's state names a process outside the container's cgroups",
        });
      }
      found = api;
    }
    if (found.engine === "docker" && found.source === "api" && !found.config) {
      found = (await _dockerInspect(found.id, options, true)) ?? found;
    }
    if (found.restarting) {
      // Listed by dockerd's API or its state files (API or not, the same words as docker exec).
      throw new NamespaceError(`Cannot use docker container ${found.name ?? found.id}`, {
        errno: 3,
        syscall: "resolve",
        target: text,
        quiet: true,
        hint: "it is restarting, wait until it is running",
      });
    }
    if (!found.pid) {
      found.pid = _cgroupScan(options.proc ?? "/proc").find((c) => c.id === found.id)?.pid ?? 0;
    }
  }
  if (found.owner !== undefined && owner === undefined && found.owner !== (Deno.uid() ?? 0)) {
    await _refuseOursStopped(ref, engine, options, text, found);
  }
  if (!found.pid) {
    throw new NamespaceError(`Cannot find the processes of ${_label(found)}`, {
      errno: 3,
      syscall: "resolve",
      target: text,
      quiet: true,
      hint: "it is not running",
    });
  }
  const pinned = pinProcess(found.pid);
  const notOurs = _notInOwnMountNamespace(pinned);
  if (notOurs) {
    pinned.close();
    throw new NamespaceError(`Cannot use ${_label(found)}`, {
      errno: 3,
      syscall: "resolve",
      target: text,
      quiet: true,
      hint: notOurs,
    });
  }
  // The PID was checked when listed; checked again now that it is pinned (while the pin
  // is alive, /proc/PID is that process), so a PID reused in between cannot slip in.
  if (found.owner !== undefined && !(_isRootlessOf(pinned.pid, found.owner) && pinned.alive)) {
    pinned.close();
    throw new NamespaceError(`Cannot use ${_label(found)}`, {
      errno: 3,
      syscall: "resolve",
      target: text,
      quiet: true,
      hint: "its process is no longer in its owner's namespaces",
    });
  }
  // containerd's init.pid has no start time, nor has podman's pidfile without runc's state
  // (and a start time read when listing is no pin): as for a pod, the process a root
  // engine's state names must be in a cgroup root made for the container, or a PID reused
  // since it died would be joined (a rootless store's PID is checked above). So must the
  // Docker API's State.Pid of a daemon whose socket is root's (stop 22): that daemon may
  // be a container's — docker-in-docker, whose socket root reaches through a volume, or
  // any rootful container's root, uid 0, binding a socket there — and its PIDs are those
  // of its own pid namespace, or what it likes: a host process with a mount namespace of
  // its own (a service's PrivateTmp) passed, and root's program ran there, looked up on
  // the PATH the daemon's Config.Env gave. A PID reused by another container's process in
  // the milliseconds after the container died is refused too (left in stop 20).
  let view: CgroupView | undefined;
  if (
    (found.source === "state" || (found.engine === "docker" && found.source === "api")) &&
    found.owner === undefined
  ) {
    view = _rootMadeView(pinned, found.id, options, () => true);
    if (!view) {
      pinned.close();
      throw new NamespaceError(`Cannot use ${_label(found)}`, {
        errno: 3,
        syscall: "resolve",
        target: text,
        quiet: true,
        hint: found.source === "api"
          ? "dockerd names a process outside the container's cgroups (a daemon in a container names PIDs of its own pid namespace)"
          : "it is no longer running",
      });
    }
  }
  return _withView(new PinnedContainer(pinned, found), view);
}

/**
 * Refuses a bare name or ID (or `podman:REF`) that another user's rootless container
 * answered when one of root's engines has a container so named that is not running
 * (stopped, restarting, or dropped by the checks on its PID): {@link matchContainer} looks
 * at other users' containers only when no running container of ours matched, and a user who
 * named theirs after root's stopped one had root's `exec` run there, with root's `-e`,
 * arguments and stdin. `docker exec` and `podman exec` say "not running"; so do we
 * (`podman@USER:REF` still picks theirs).
 */
async function _refuseOursStopped(
  ref: string,
  engine: Engine | undefined,
  options: FindContainersOptions,
  text: string,
  theirs: ContainerInfo,
): Promise<void> {
  const sources = new Set(options.sources ?? ["api", "state", "cgroup"]);
  const hint = `it is not running (${_label(theirs)} is another user's)`;
  // Theirs is docker's when the daemon is theirs (DOCKER_HOST names a user's socket).
  if (engine === undefined && theirs.engine !== "docker" && sources.has("api")) {
    // Throws "not running" (or "restarting") for a container docker has and does not run.
    const api = await _dockerInspect(ref, options, true);
    const known = api ??
      (api === undefined && sources.has("state")
        ? _dockerStateFind(ref, options, undefined, true)
        : undefined);
    if (known && known.owner === undefined) {
      throw new NamespaceError(`Cannot use ${_label(known)}`, {
        errno: 3,
        syscall: "resolve",
        target: text,
        quiet: true,
        // A running one matched first unless it started just now.
        hint: api ? "it started while we looked; try again" : hint,
      });
    }
  }
  const podman = engine !== "docker" && sources.has("state")
    ? _podmanStopped(ref, true)
    : undefined;
  if (podman !== undefined) {
    throw new NamespaceError(`Cannot use podman container ${podman}`, {
      errno: 3,
      syscall: "resolve",
      target: text,
      quiet: true,
      hint,
    });
  }
}

/**
 * Whether a pinned process has a mount namespace other than ours, as every container's
 * process has (every OCI runtime makes one). The Docker API's PID (like containerd's
 * init.pid) has no start time: the container may have exited and its PID gone to a host
 * process since — or DOCKER_HOST names a user's own dockerd, which answers what it likes.
 * Joining that process would run the program on the host.
 */
/** Why the engine's PID is no container's process to join, or undefined when it is one. */
function _notInOwnMountNamespace(pinned: PinnedProcess): string | undefined {
  try {
    if (differingNamespaces(pinned.pid).includes("mnt") && pinned.alive) return undefined;
  } catch (error) {
    // A main process that exited while other threads of it run keeps its PID, without
    // namespace links (docker exec: "cannot exec in a stopped container").
    if (error instanceof NamespaceError && error.errno === 3) {
      return "its main process has exited (a zombie): its namespaces are gone with it";
    }
  }
  return pinned.alive
    ? "its PID is a process in our own mount namespace, not a container's"
    : "it exited";
}

/**
 * The bundles that can hold what a `k8s:`/`cri:` target names: every member of a pod (its
 * sandbox included) carries the pod's name, namespace and UID in its spec's annotations,
 * and a container its name, as JSON strings — Kubernetes names and UIDs need no escaping
 * there, and anything else names no pod (no filter then). So each part of the target
 * (namespace, pod name or UID, container) must be in the spec's text: with a container
 * named, its pod's sandbox and other containers are not read further. A `cri:` ID prefix
 * filters by the bundle's directory name.
 */
function _podFilter(text: string): BundleFilter {
  if (text.startsWith("cri:")) {
    const ref = text.slice(4);
    return /^[0-9a-f]+$/.test(ref) ? { id: (id) => id.startsWith(ref) } : {};
  }
  const parts = text.slice(4).split("/");
  return parts.every((p) => /^[a-z0-9.-]+$/.test(p)) ? { text: parts.map((p) => `"${p}"`) } : {};
}

/**
 * The entries of root's containers-storage that can be CRI-O's members of what a `k8s:`/`cri:`
 * target names, by the names CRI-O stores them under — `k8s_CONTAINER_POD_NAMESPACE_UID_N`,
 * a sandbox's CONTAINER being `POD` — whose fields are exact (Kubernetes names have no
 * "_"), or by a `cri:` ID prefix. With a container named, its pod's sandbox and other
 * containers are not read further (as {@link _podFilter} for containerd's).
 */
function _crioFilter(text: string): (id: string, names: readonly unknown[]) => boolean {
  if (text.startsWith("cri:")) return (id) => id.startsWith(text.slice(4));
  const parts = text.slice(4).split("/");
  const byUid = POD_UID.test(parts[0]) && parts.length <= 2;
  const container = byUid ? parts[1] : parts[2];
  return (_, names) =>
    names.some((n) => {
      if (typeof n !== "string") return false;
      const [, c, name, ns, uid] = n.split("_");
      const pod = byUid
        ? uid === parts[0]
        : parts.length === 1
        ? name === parts[0]
        : ns === parts[0] && name === parts[1];
      return pod && (container === undefined || c === container);
    });
}

/**
 * Pins a pod member's process. Its PID came from the runtime's pidfile, which says
 * nothing of when that process started: once pinned, the process must be in a cgroup
 * named for the member's ID (the runtime put it there), so a PID reused by another
 * process since the pod went away is never joined.
 */
function _pinPodMember(
  found: ContainerInfo,
  text: string,
  options: FindContainersOptions,
): PinnedContainer {
  const gone = () =>
    new NamespaceError(`Cannot use ${_label(found)}`, {
      errno: 3,
      syscall: "resolve",
      target: text,
      quiet: true,
      hint: "it is no longer running",
    });
  let pinned: PinnedProcess;
  try {
    pinned = pinProcess(found.pid);
  } catch {
    throw gone();
  }
  const view = _rootMadeView(
    pinned,
    found.id,
    options,
    (cgroup) => containerOfCgroup(cgroup)?.id === found.id,
  );
  if (!view) {
    pinned.close();
    throw gone();
  }
  return _withView(new PinnedContainer(pinned, found), view);
}

/**
 * `docker:REF` from dockerd's state files when they are unambiguous (see _dockerStateFind),
 * pinned, and confirmed by the kernel: the pinned process is in a cgroup named for the
 * container's ID. Any doubt (stale files, another daemon, a reused PID): undefined.
 * Internal (tests give `dir`): not in mod.ts.
 */
export function _pinFromDockerState(
  ref: string,
  options: FindContainersOptions,
  dir?: string,
): PinnedContainer | undefined {
  const found = _dockerStateFind(ref, options, dir);
  return found && _pinDockerState(found, options);
}

/** Pins a container _dockerStateFind found, if the kernel confirms it (see above). */
function _pinDockerState(
  found: ContainerInfo,
  options: FindContainersOptions,
): PinnedContainer | undefined {
  let pinned: PinnedProcess;
  try {
    pinned = pinProcess(found.pid);
  } catch {
    return undefined;
  }
  // Gone, or not the container's: let the API say so.
  const view = _rootMadeView(pinned, found.id, options, (cgroup) => {
    const owner = containerOfCgroup(cgroup);
    return owner?.engine === "docker" && owner.id === found.id;
  });
  if (view) return _withView(new PinnedContainer(pinned, found), view);
  pinned.close();
  return undefined;
}

/**
 * The cgroups of a pinned process, when they are the container `id`'s: its /proc/PID/cgroup
 * read after pinning (if the PID is still the container's, the pidfd now holds it) passes
 * `named` (the engine's layout names the container) and is root-made (see _rootMadeCgroup),
 * and the pin is still alive. Else undefined. What was read becomes the exec's view.
 */
function _rootMadeView(
  pinned: PinnedProcess,
  id: string,
  options: FindContainersOptions,
  named: (cgroup: string) => boolean,
): CgroupView | undefined {
  let cgroup = "";
  try {
    cgroup = Deno.readTextFileSync(`${options.proc ?? "/proc"}/${pinned.pid}/cgroup`);
  } catch {
    return undefined;
  }
  if (!named(cgroup)) return undefined;
  const mounts = cgroupMountTable();
  const rootDirs = new Set<string>();
  if (!_rootMadeCgroup(cgroup, id, cgroupMountRoots(mounts), rootDirs) || !pinned.alive) {
    return undefined;
  }
  return { cgroup, mounts, rootDirs };
}

/**
 * `container`, with the cgroups its pinning read (`view`) kept for its exec
 * (container_exec.ts): one read of each file, not two.
 */
function _withView(container: PinnedContainer, view?: CgroupView): PinnedContainer {
  if (view) cgroupViews.set(container, view);
  return container;
}
