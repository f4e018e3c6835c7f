import type { NamespaceSelection, NsCommandOptions } from "./command.ts";
import { NamespaceError } from "./errors.ts";
import { differingNamespaces, type NamespaceType } from "./namespaces.ts";
import { PinnedProcess, pinProcess, startTimeOf } from "./target.ts";

/** A container engine (CRI-O and Kubernetes pods on containerd are found by the cgroup scan). */
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
  /** Supplementary groups from the engine's runtime spec. */
  additionalGids?: number[];
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
  /** Host PID of its first process. */
  pid: number;
  /** The containerd namespace ("moby" for docker, "k8s.io" for Kubernetes). */
  namespace?: string;
  /** uid of the owner of a rootless container. */
  owner?: number;
  /** Its configuration, when the engine's API or state was readable. */
  config?: ContainerConfig;
  /** Where the facts came from. */
  source: ContainerSource;
}

/** Options of {@link findContainers} and {@link resolveContainer}. */
export interface FindContainersOptions {
  /** The Docker daemon: `unix:///path` or `tcp://host:port`; default $DOCKER_HOST, then /var/run/docker.sock. */
  dockerHost?: string;
  /** Sources to use; default all: engine APIs, engine state files, the /proc + cgroup scan. */
  sources?: readonly ContainerSource[];
  /** The /proc to read (tests); default "/proc". */
  proc?: string;
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
// Docker Engine API

/**
 * One GET against the Docker Engine API. Over a unix socket this is a raw HTTP/1.0
 * request on Deno.connect: `fetch` with a unix-socket client costs ~10 ms to set up
 * on first use, which is most of the CLI's cold-start budget; HTTP/1.0 means no
 * chunked bodies and the daemon closes the connection when done.
 */
async function _dockerGet(host: string, path: string): Promise<{ status: number; body: unknown }> {
  if (host.startsWith("tcp://") || host.startsWith("http://")) {
    const res = await fetch(host.replace(/^tcp:/, "http:") + path);
    return { status: res.status, body: await res.json() };
  }
  if (!host.startsWith("unix://")) {
    throw new TypeError(`Cannot reach docker at ${host}: give unix:///path or tcp://host:port`);
  }
  const conn = await Deno.connect({ transport: "unix", path: host.slice("unix://".length) });
  try {
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: docker\r\n\r\n`));
    let raw = "";
    const decoder = new TextDecoder();
    for await (const chunk of conn.readable) raw += decoder.decode(chunk, { stream: true });
    raw += decoder.decode();
    const split = raw.indexOf("\r\n\r\n");
    const status = Number(raw.slice(9, 12));
    return { status, body: JSON.parse(raw.slice(split + 4) || "null") };
  } finally {
    try {
      conn.close();
    } catch {
      // Closed by the readable stream ending.
    }
  }
}

function _dockerHost(o: FindContainersOptions): string {
  return o.dockerHost ?? Deno.env.get("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
}

interface _DockerInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; Pid: number; Paused?: boolean };
  Config: { Env?: string[] | null; User?: string; WorkingDir?: string; Hostname?: string };
}

function _fromInspect(j: _DockerInspect): ContainerInfo {
  return {
    engine: "docker",
    id: j.Id,
    name: j.Name.replace(/^\//, ""),
    pid: j.State.Pid,
    config: {
      env: j.Config.Env ?? [],
      user: j.Config.User ?? "",
      workingDir: j.Config.WorkingDir ?? "",
      hostname: j.Config.Hostname,
      runtimeEnv: false,
    },
    source: "api",
  };
}

/** Docker's running containers from its API; undefined when the daemon is not reachable. */
async function _dockerList(o: FindContainersOptions): Promise<ContainerInfo[] | undefined> {
  let res;
  try {
    res = await _dockerGet(_dockerHost(o), "/containers/json");
  } catch (error) {
    if (error instanceof TypeError) throw error;
    return undefined;
  }
  if (res.status !== 200 || !Array.isArray(res.body)) return undefined;
  return (res.body as { Id: string; Names: string[] }[]).map((c) => ({
    engine: "docker" as const,
    id: c.Id,
    name: c.Names?.[0]?.replace(/^\//, ""),
    pid: 0,
    source: "api" as const,
  }));
}

/**
 * One docker container by name or ID (prefix) from the API: null when docker has none
 * (or, unless `strict`, only a stopped one), undefined when the API cannot answer.
 */
async function _dockerInspect(
  ref: string,
  o: FindContainersOptions,
  strict: boolean,
): Promise<ContainerInfo | null | undefined> {
  let res;
  try {
    res = await _dockerGet(_dockerHost(o), `/containers/${encodeURIComponent(ref)}/json`);
  } catch (error) {
    if (error instanceof TypeError) throw error;
    return undefined;
  }
  if (res.status === 404) return null;
  if (res.status !== 200) return undefined;
  const j = res.body as _DockerInspect;
  if (!j.State.Running && !strict) return null;
  if (!j.State.Running) {
    throw new NamespaceError(`Cannot use docker container ${j.Name.replace(/^\//, "")}`, {
      errno: 3,
      syscall: "resolve",
      target: ref,
      hint: "it is not running",
      quiet: true,
    });
  }
  return _fromInspect(j);
}

/** Where dockerd keeps each container's config.v2.json (its default data-root). */
const DOCKER_CONTAINERS = "/var/lib/docker/containers";

/**
 * Running docker containers from dockerd's own state files, for when its socket is not
 * reachable: names and Config as the API would give them (readable by root only).
 */
function _dockerStateList(): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const id of _readDir(DOCKER_CONTAINERS)) {
    const j = _readJson<_DockerInspect & { ID: string }>(
      `${DOCKER_CONTAINERS}/${id}/config.v2.json`,
    );
    if (!j?.State?.Running || !j.Config) continue;
    out.push({ ..._fromInspect({ ...j, Id: j.ID ?? id }), source: "state" });
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// OCI runtime specs and state files (podman, containerd, docker's containerd)

interface _OciSpec {
  hostname?: string;
  process?: {
    env?: string[];
    cwd?: string;
    user?: { uid: number; gid: number; additionalGids?: number[] };
  };
  annotations?: Record<string, string>;
}

function _readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

function _readDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}

function _configOfSpec(spec: _OciSpec | undefined): ContainerConfig | undefined {
  if (!spec?.process) return undefined;
  const u = spec.process.user;
  return {
    env: spec.process.env ?? [],
    user: u ? `${u.uid}:${u.gid}` : "",
    workingDir: spec.process.cwd ?? "/",
    hostname: spec.hostname,
    additionalGids: u?.additionalGids,
    runtimeEnv: true,
  };
}

/** A PID from a pidfile, if that process is alive and (when known) started at `start`. */
function _livePid(pidfile: string, start?: number): number | undefined {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(pidfile).trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const actual = startTimeOf(pid);
    return start === undefined || actual === start ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** graphroot, runroot and rootless_storage_path of a containers-storage.conf(5), if set. */
function _storageConf(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch {
    return out;
  }
  let section = "";
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (l.startsWith("[")) section = l;
    const m = l.match(/^(graphroot|runroot|rootless_storage_path)\s*=\s*"([^"]*)"/);
    if (m && section === "[storage]") out[m[1]] = m[2];
  }
  return out;
}

/**
 * The podman stores to read: root's, and each user's rootless one (only our own unless
 * root), where containers-storage.conf(5) puts them ($CONTAINERS_STORAGE_CONF for the
 * caller, /etc/containers/storage.conf, ~/.config/containers/storage.conf).
 */
function _podmanStores(): { graph: string; run: string; owner?: number }[] {
  const stores: { graph: string; run: string; owner?: number }[] = [];
  const uid = Deno.uid() ?? 0;
  const env = Deno.env.get("CONTAINERS_STORAGE_CONF");
  const system = _storageConf("/etc/containers/storage.conf");
  if (uid === 0) {
    const conf = env ? _storageConf(env) : system;
    stores.push({
      graph: conf.graphroot || "/var/lib/containers/storage",
      run: conf.runroot || "/run/containers/storage",
    });
  }
  let passwd = "";
  try {
    passwd = Deno.readTextFileSync("/etc/passwd");
  } catch {
    // No users to look at.
  }
  for (const line of passwd.split("\n")) {
    const f = line.split(":");
    const u = Number(f[2]);
    if (f.length < 7 || u === 0 || (uid !== 0 && u !== uid)) continue;
    const home = u === uid && Deno.env.get("HOME") ? Deno.env.get("HOME")! : f[5];
    const conf = u === uid && env
      ? _storageConf(env)
      : _storageConf(`${home}/.config/containers/storage.conf`);
    const expand = (p: string) =>
      p.replaceAll("$HOME", home).replaceAll("$UID", String(u)).replace(/^~/, home);
    const graph = expand(
      conf.graphroot || system.rootless_storage_path || "$HOME/.local/share/containers/storage",
    );
    if (_readDir(graph).length > 0) {
      stores.push({ graph, run: expand(conf.runroot || `/run/user/${u}/containers`), owner: u });
    }
  }
  return stores;
}

/** Running podman containers from its state files (rootful and rootless stores). */
function _podmanList(): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const store of _podmanStores()) {
    for (const dir of _readDir(store.graph).filter((d) => d.endsWith("-containers"))) {
      const list = _readJson<{ id: string; names?: string[] }[]>(
        `${store.graph}/${dir}/containers.json`,
      ) ?? [];
      for (const c of list) {
        const runc = _readJson<{ init_process_pid: number; init_process_start: number }>(
          `${
            store.owner === undefined ? "/run" : `/run/user/${store.owner}`
          }/runc/${c.id}/state.json`,
        );
        const pid = _livePid(
          `${store.run}/${dir}/${c.id}/userdata/pidfile`,
          runc?.init_process_start,
        );
        if (pid === undefined) continue;
        out.push({
          engine: "podman",
          id: c.id,
          name: c.names?.[0],
          pid,
          owner: store.owner,
          config: _configOfSpec(_readJson(`${store.graph}/${dir}/${c.id}/userdata/config.json`)),
          source: "state",
        });
      }
    }
  }
  return out;
}

/** containerd's task bundles: config.json (the OCI spec) and init.pid per container. */
const CONTAINERD_TASKS = [
  "/run/containerd/io.containerd.runtime.v2.task",
  "/run/docker/containerd/daemon/io.containerd.runtime.v2.task",
];

/** Running containers from containerd's task bundles (any namespace: moby, k8s.io, default). */
function _containerdList(): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const base of CONTAINERD_TASKS) {
    for (const ns of _readDir(base)) {
      for (const id of _readDir(`${base}/${ns}`)) {
        const bundle = `${base}/${ns}/${id}`;
        const pid = _livePid(`${bundle}/init.pid`);
        if (pid === undefined) continue;
        const spec = _readJson<_OciSpec>(`${bundle}/config.json`);
        const a = spec?.annotations ?? {};
        const k8s = a["io.kubernetes.cri.container-name"];
        out.push({
          engine: ns === "moby" ? "docker" : "containerd",
          id,
          name: k8s ? `${a["io.kubernetes.cri.sandbox-name"] ?? ""}/${k8s}` : undefined,
          pid,
          namespace: ns,
          config: _configOfSpec(spec),
          source: "state",
        });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// The /proc + cgroup scan

const CGROUP_PATTERNS: readonly [RegExp, Engine | "ns"][] = [
  [/(?:^|\/)docker[-/]([0-9a-f]{64})(?:\.scope)?(?:\/|$)/, "docker"],
  [/(?:^|\/)libpod-([0-9a-f]{64})(?:\.scope)?(?:\/|$)/, "podman"],
  [/(?:^|\/)crio-([0-9a-f]{64})(?:\.scope)?(?:\/|$)/, "cri-o"],
  [/(?:^|\/)cri-containerd-([0-9a-f]{64})(?:\.scope)?(?:\/|$)/, "containerd"],
  [/\/([0-9a-f]{64})(?:\/|$)/, "ns"],
];

/** The container ID and engine a /proc/PID/cgroup text names, if any. */
export function containerOfCgroup(
  cgroup: string,
): { engine: Engine; id: string; namespace?: string } | undefined {
  for (const line of cgroup.split("\n")) {
    const path = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
    if (path.includes("conmon-")) return undefined;
    for (const [re, engine] of CGROUP_PATTERNS) {
      const m = path.match(re);
      if (!m) continue;
      if (engine !== "ns") return { engine, id: m[1] };
      // containerd's own cgroup layout: /<namespace>/<id>; Kubernetes: /kubepods/…/<id>.
      const parts = path.split("/");
      const ns = parts[parts.indexOf(m[1]) - 1];
      return { engine: "containerd", id: m[1], namespace: ns?.startsWith("pod") ? "k8s.io" : ns };
    }
  }
  return undefined;
}

/**
 * Every container process group found from /proc: reads each /proc/PID/cgroup, keeps
 * those naming a container ID, and takes the earliest-started process of each ID as its
 * first process. Works for docker, podman, containerd, CRI-O and Kubernetes pods as long
 * as the container has cgroups of its own (rootless containers on cgroup v1 have none).
 */
function _cgroupScan(proc: string): ContainerInfo[] {
  const found = new Map<string, { info: ContainerInfo; start: number }>();
  for (const name of _readDir(proc)) {
    if (!/^[0-9]+$/.test(name)) continue;
    let cgroup: string;
    let stat: string;
    try {
      cgroup = Deno.readTextFileSync(`${proc}/${name}/cgroup`);
      stat = Deno.readTextFileSync(`${proc}/${name}/stat`);
    } catch {
      continue;
    }
    const c = containerOfCgroup(cgroup);
    if (!c) continue;
    const start = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const seen = found.get(c.id);
    if (seen && seen.start <= start) continue;
    found.set(c.id, {
      start,
      info: { ...c, pid: Number(name), source: "cgroup" },
    });
  }
  return [...found.values()].map((v) => v.info);
}

// ---------------------------------------------------------------------------------------
// Finding and matching

function _merge(lists: ContainerInfo[][]): ContainerInfo[] {
  const byId = new Map<string, ContainerInfo>();
  for (const list of lists) {
    for (const c of list) {
      const seen = byId.get(c.id);
      if (!seen) {
        byId.set(c.id, { ...c });
        continue;
      }
      seen.name ??= c.name;
      seen.config ??= c.config;
      seen.namespace ??= c.namespace;
      seen.owner ??= c.owner;
      if (!seen.pid) seen.pid = c.pid;
      if (seen.engine === "containerd" && c.engine !== "containerd") seen.engine = c.engine;
    }
  }
  return [...byId.values()].filter((c) => c.pid > 0);
}

/**
 * Every running container on the host, of any engine: from the Docker Engine API,
 * podman's state files (root's and rootless users' stores), containerd's task bundles
 * (any namespace, k8s.io included) and a /proc + cgroup scan that finds containers of
 * engines we have no other way to ask.
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
export function findContainers(
  options: FindContainersOptions = {},
): Promise<ContainerInfo[]> {
  return _find(options, { scan: true, dockerList: true });
}

/** The sources for one engine (or all), with or without the /proc scan and docker's list. */
async function _find(
  options: FindContainersOptions,
  only: { engine?: Engine; scan: boolean; dockerList: boolean },
): Promise<ContainerInfo[]> {
  const sources = new Set(options.sources ?? ["api", "state", "cgroup"]);
  const want = (e: Engine) => only.engine === undefined || only.engine === e;
  const lists: ContainerInfo[][] = [];
  const docker = sources.has("api") && want("docker") && only.dockerList
    ? _dockerList(options)
    : Promise.resolve(undefined);
  if (sources.has("state")) {
    if (want("docker")) lists.push(_dockerStateList());
    if (want("podman")) lists.push(_podmanList());
    if (want("containerd") || want("docker")) lists.push(_containerdList());
  }
  if (sources.has("cgroup") && only.scan) lists.push(_cgroupScan(options.proc ?? "/proc"));
  lists.unshift((await docker) ?? []);
  return _merge(lists);
}

/** Splits "docker:web1" into engine and reference; a bare reference has no engine. */
export function parseContainerRef(text: string): { engine?: Engine; ref: string } {
  const colon = text.indexOf(":");
  if (colon > 0) {
    const engine = text.slice(0, colon);
    if ((ENGINES as readonly string[]).includes(engine) && engine !== "cri-o") {
      const ref = text.slice(colon + 1);
      if (!ref) throw new TypeError(`Cannot resolve ${text}: give a name or ID after the colon`);
      return { engine: engine as Engine, ref };
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

const _label = (c: ContainerInfo) =>
  `${c.engine}:${c.name ?? c.id.slice(0, 12)}${c.name ? ` (${c.id.slice(0, 12)})` : ""}`;

/**
 * Picks the one container `ref` names: an exact ID or name first, then a unique ID prefix.
 *
 * @throws {NamespaceError} ESRCH with near matches when none matches; EINVAL listing the
 * matches when several do
 */
export function matchContainer(
  containers: readonly ContainerInfo[],
  ref: string,
  engine?: Engine,
): ContainerInfo {
  const pool = engine ? containers.filter((c) => c.engine === engine) : containers;
  const exact = pool.filter((c) => c.id === ref || c.name === ref);
  const matches = exact.length > 0
    ? exact
    : /^[0-9a-f]+$/.test(ref)
    ? pool.filter((c) => c.id.startsWith(ref))
    : [];
  const what = engine ? `${engine} container` : "container";
  if (matches.length === 1) return matches[0];
  if (matches.length > 1) {
    throw new NamespaceError(`Cannot pick a ${what} for ${JSON.stringify(ref)}`, {
      errno: 22,
      syscall: "resolve",
      target: ref,
      quiet: true,
      hint: `it matches ${matches.map(_label).join(", ")}; give more of the ID or engine:NAME`,
    });
  }
  const near = pool
    .filter((c) =>
      (c.name && (_distance(c.name, ref) <= 2 || c.name.includes(ref) || ref.includes(c.name))) ||
      _distance(c.id.slice(0, ref.length), ref) <= 1
    )
    .slice(0, 5);
  throw new NamespaceError(`Cannot find ${what} ${JSON.stringify(ref)}`, {
    errno: 3,
    syscall: "resolve",
    target: ref,
    quiet: true,
    hint: near.length > 0
      ? `did you mean ${near.map(_label).join(", ")}?`
      : `no running ${what} has that name or ID (see: nsjoin ps)`,
  });
}

/**
 * Resolves a container reference — `docker:NAME|ID`, `podman:NAME|ID`, `containerd:ID`,
 * or a bare name or ID prefix searched across every engine — and pins its first process
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
  const { engine, ref } = parseContainerRef(text);
  const sources = new Set(options.sources ?? ["api", "state", "cgroup"]);
  // Docker resolves its own names and ID prefixes: one request instead of a listing.
  const inspected = sources.has("api") && (engine === undefined || engine === "docker")
    ? await _dockerInspect(ref, options, engine === "docker")
    : undefined;
  let found: ContainerInfo;
  if (engine === "docker" && inspected) found = inspected;
  else {
    // Only an ID prefix can match what the /proc scan finds (it knows no names).
    const scan = /^[0-9a-f]+$/.test(ref);
    const pool = await _find(options, { engine, scan, dockerList: inspected === undefined });
    const candidates = inspected ? _merge([[inspected], pool]) : pool;
    try {
      found = matchContainer(candidates, ref, engine);
    } catch (error) {
      if (!(error instanceof NamespaceError) || error.code !== "ESRCH") throw error;
      // Nothing matched: look at everything, for near matches in the message.
      found = matchContainer(
        await _find(options, { engine, scan: true, dockerList: true }),
        ref,
        engine,
      );
    }
    if (found.engine === "docker" && found.source === "api" && !found.config) {
      found = (await _dockerInspect(found.id, options, true)) ?? found;
    }
    if (!found.pid) {
      found.pid = _cgroupScan(options.proc ?? "/proc").find((c) => c.id === found.id)?.pid ?? 0;
    }
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
  return new PinnedContainer(pinned, found);
}

// ---------------------------------------------------------------------------------------
// What a docker exec inside a container starts with

/**
 * Reads a file of a container through /proc/PID/root without following its symlinks out
 * of the container: each link is resolved against the container's root, as
 * filepath-securejoin does for runc (a container's /etc/passwd may point anywhere).
 */
export function readContainerFile(pid: number, path: string): string {
  const root = `/proc/${pid}/root`;
  const todo = path.split("/").filter(Boolean);
  const done: string[] = [];
  let links = 0;
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      done.pop();
      continue;
    }
    const here = `${root}/${[...done, part].join("/")}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(here);
    } catch {
      done.push(part);
      continue;
    }
    if (!info.isSymlink) {
      done.push(part);
      continue;
    }
    if (++links > 40) throw new Error(`Cannot read ${path} in the container: too many links`);
    const link = Deno.readLinkSync(here);
    if (link.startsWith("/")) done.length = 0;
    todo.unshift(...link.split("/").filter(Boolean));
  }
  return Deno.readTextFileSync(`${root}/${done.join("/")}`);
}

/** A user as `docker exec -u` resolves it inside the container. */
export interface ContainerUser {
  /** uid inside the container. */
  uid: number;
  /** Primary gid inside the container. */
  gid: number;
  /** Home directory from the container's /etc/passwd ("/" when not listed). */
  home: string;
  /** Supplementary groups from the container's /etc/group. */
  groups: number[];
}

function _lines(pid: number, path: string): string[][] {
  let text: string;
  try {
    text = readContainerFile(pid, path);
  } catch (error) {
    // No such file: as docker, numeric ids still work and names do not.
    if (error instanceof Deno.errors.NotFound) return [];
    throw new NamespaceError(`Cannot read ${path} of pid ${pid}`, {
      errno: error instanceof Deno.errors.PermissionDenied ? 13 : 5,
      syscall: "open",
      target: pid,
    });
  }
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map((l) => l.split(":"));
}

/**
 * Resolves `name|uid[:group|gid]` through the container's own /etc/passwd and /etc/group,
 * as docker does: a numeric uid need not be listed (its gid is then 0), a name must be.
 *
 * @param pid a process of the container
 * @param spec the user spec ("" is root)
 * @returns uid, gid, home and supplementary groups
 * @throws {NamespaceError} when a name is not in the container's files
 */
export function resolveContainerUser(pid: number, spec: string): ContainerUser {
  const [u = "", g] = spec.split(":", 2);
  const passwd = _lines(pid, "/etc/passwd");
  const groups = _lines(pid, "/etc/group");
  const user = u === "" ? "0" : u;
  const entry = /^[0-9]+$/.test(user)
    ? passwd.find((f) => f[2] === user)
    : passwd.find((f) => f[0] === user);
  if (!entry && !/^[0-9]+$/.test(user)) {
    throw new NamespaceError(
      `Cannot find user ${JSON.stringify(user)} in /etc/passwd of pid ${pid}`,
      {
        errno: 2,
        syscall: "resolve",
        target: pid,
        quiet: true,
        hint: "give a name the target knows, or a uid",
      },
    );
  }
  const uid = Number(entry ? entry[2] : user);
  let gid = entry ? Number(entry[3]) : 0;
  if (g !== undefined && g !== "") {
    if (/^[0-9]+$/.test(g)) gid = Number(g);
    else {
      const ge = groups.find((f) => f[0] === g);
      if (!ge) {
        throw new NamespaceError(
          `Cannot find group ${JSON.stringify(g)} in /etc/group of pid ${pid}`,
          {
            errno: 2,
            syscall: "resolve",
            target: pid,
            quiet: true,
            hint: "give a group the target knows, or a gid",
          },
        );
      }
      gid = Number(ge[2]);
    }
  }
  const name = entry?.[0];
  const member = name
    ? groups.filter((f) => (f[3] ?? "").split(",").includes(name)).map((f) => Number(f[2]))
    : [];
  return { uid, gid, home: entry?.[5] || "/", groups: member };
}

/** Sets KEY=VALUE in a list of entries, replacing an entry of the same key. */
export function setEnv(env: string[], entry: string): string[] {
  const key = entry.includes("=") ? entry.slice(0, entry.indexOf("=")) : entry;
  const i = env.findIndex((e) => e === key || e.startsWith(`${key}=`));
  if (i >= 0) env[i] = entry;
  else env.push(entry);
  return env;
}

/**
 * The cgroup.procs files that move a process into the cgroups of `pid`, one per hierarchy
 * (cgroup v2, and every v1 hierarchy of a hybrid or legacy host), found through
 * /proc/self/mountinfo. Hierarchies in which we already share its cgroup are left out, and
 * so are those an unprivileged caller cannot write.
 *
 * @param pid the process whose cgroups to join
 * @returns paths of cgroup.procs files
 */
export function cgroupProcsOf(pid: number): string[] {
  const parse = (text: string) =>
    new Map(
      text.trim().split("\n").map((l) => {
        const a = l.indexOf(":"), b = l.indexOf(":", a + 1);
        return [l.slice(a + 1, b), l.slice(b + 1)] as const;
      }),
    );
  const theirs = parse(Deno.readTextFileSync(`/proc/${pid}/cgroup`));
  const mine = parse(Deno.readTextFileSync("/proc/self/cgroup"));
  const mounts: { root: string; point: string; keys: Set<string>; v2: boolean }[] = [];
  for (const line of Deno.readTextFileSync("/proc/self/mountinfo").split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right) continue;
    const [fstype, , superOpts] = right.split(" ");
    if (fstype !== "cgroup" && fstype !== "cgroup2") continue;
    const f = left.split(" ");
    const unescape = (s: string) =>
      s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
    mounts.push({
      root: unescape(f[3]),
      point: unescape(f[4]),
      keys: new Set(superOpts.split(",")),
      v2: fstype === "cgroup2",
    });
  }
  const uid = Deno.uid();
  const out: string[] = [];
  for (const [controllers, path] of theirs) {
    if (mine.get(controllers) === path) continue;
    const keys = controllers.split(",");
    const mount = mounts.find((m) =>
      controllers === "" ? m.v2 : !m.v2 && keys.every((k) => m.keys.has(k))
    );
    if (!mount || !(path + "/").startsWith(mount.root.replace(/\/?$/, "/"))) continue;
    const rel = mount.root === "/" ? path : path.slice(mount.root.length);
    const procs = `${mount.point}${rel === "/" ? "" : rel}/cgroup.procs`;
    try {
      const st = Deno.statSync(procs);
      if (uid !== 0 && !(st.uid === uid && (st.mode! & 0o200))) continue;
    } catch {
      continue;
    }
    out.push(procs);
  }
  return out;
}

/** The namespace types in which a container differs from the caller. */
export function namespacesOwnedBy(pid: number): NamespaceType[] {
  try {
    return differingNamespaces(pid);
  } catch {
    return [];
  }
}

/** Options of {@link containerExecOptions}: docker exec's flags. */
export interface ContainerExecOptions {
  /** `-u`: name|uid[:group|gid], resolved in the container; default its configured user. */
  user?: string;
  /** `-w`: working directory inside; default its configured WorkingDir, else /. */
  workdir?: string;
  /** `-e` / `--env-file` entries (`KEY=VALUE`), applied over the container's Env. */
  env?: readonly string[];
  /** `-t`: a pseudo-terminal inside the container (and TERM=xterm for docker). */
  tty?: boolean;
  /** `--privileged`: keep every capability instead of the container's. */
  privileged?: boolean;
  /** Namespaces to join; default every one the container does not share with us. */
  namespaces?: NamespaceSelection;
}

/**
 * NsCommand options with `docker exec`'s semantics for a container: its configured Env
 * (docker: PATH, HOSTNAME, TERM with a tty, then Config.Env; podman and containerd: the
 * runtime spec's env), HOME from its /etc/passwd when unset, its User and WorkingDir, its
 * cgroups (every hierarchy), its capabilities and no_new_privs unless `privileged`.
 *
 * @param container a container from {@link resolveContainer}
 * @param options docker exec's flags
 * @returns options for NsCommand (add args and stdio)
 * @throws {NamespaceError} when a user or group name is not in the container's files
 *
 * @example
 * ```ts ignore
 * import { containerExecOptions, NsCommand, resolveContainer } from "@nsjoin/nsjoin";
 * using web = await resolveContainer("web1");
 * const options = containerExecOptions(web, { user: "app", env: ["DEBUG=1"] });
 * const { stdout } = await new NsCommand("id", options).output();
 * if (!new TextDecoder().decode(stdout).startsWith("uid=")) throw new Error("no id");
 * ```
 */
export function containerExecOptions(
  container: PinnedContainer,
  options: ContainerExecOptions = {},
): NsCommandOptions {
  const config = container.container.config;
  const user = resolveContainerUser(container.pid, options.user ?? config?.user ?? "");
  let env: string[];
  if (!config) {
    env = Deno.readTextFileSync(`/proc/${container.pid}/environ`).split("\0").filter(Boolean);
  } else if (config.runtimeEnv) {
    env = [...config.env];
    // podman exec -u: HOME follows the user (docker's Config.Env has no HOME to replace).
    if (options.user !== undefined) setEnv(env, `HOME=${user.home}`);
  } else {
    // docker's CreateDaemonEnvironment: PATH, HOSTNAME, TERM with a tty, then Config.Env.
    env = [
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      `HOSTNAME=${config.hostname ?? ""}`,
    ];
    if (options.tty) env.push("TERM=xterm");
    for (const e of config.env) setEnv(env, e);
  }
  for (const e of options.env ?? []) setEnv(env, e);
  if (!env.some((e) => e.startsWith("HOME="))) env.push(`HOME=${user.home}`);
  const record: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf("=");
    if (eq > 0) record[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return {
    target: container,
    namespaces: options.namespaces ?? "all",
    env: record,
    clearEnv: true,
    uid: user.uid,
    gid: user.gid,
    groups: _execGroups(user, config),
    // The configured WorkingDir is a path of the container's filesystem: only a default
    // when its mount namespace is joined.
    cwd: options.workdir ?? (_joinsMnt(options.namespaces) ? config?.workingDir || "/" : undefined),
    cgroups: cgroupProcsOf(container.pid),
    capabilities: options.privileged ? "all" : "target",
    noNewPrivs: "target",
    tty: options.tty || undefined,
  };
}

/**
 * The supplementary groups an exec gets: docker's daemon adds the primary gid to the
 * user's /etc/group memberships; podman and containerd take the memberships and the
 * runtime spec's additional gids.
 */
function _execGroups(
  user: ContainerUser,
  config: ContainerConfig | undefined,
): number[] | undefined {
  if (!config) return undefined;
  const groups = config.runtimeEnv ? [...user.groups] : [user.gid, ...user.groups];
  groups.push(...(config.additionalGids ?? []));
  return [...new Set(groups)];
}

function _joinsMnt(sel: NamespaceSelection | undefined): boolean {
  if (sel === undefined || sel === "all") return true;
  if (Array.isArray(sel)) return sel.includes("mnt");
  return (sel as Partial<Record<NamespaceType, true | string>>).mnt !== undefined;
}
