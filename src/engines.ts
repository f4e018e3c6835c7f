/**
 * Where containers are found without any engine's CLI: the Docker Engine API over its unix
 * socket, the OCI state files of podman (rootful and every user's rootless store) and
 * containerd (any namespace), and a /proc + cgroup scan that knows every engine's cgroup
 * paths. The `_`-named exports are for src/containers.ts only.
 *
 * @module
 */
import { cgroupMountRoots } from "./_cgroup_mounts.ts";
import type {
  ContainerConfig,
  ContainerInfo,
  Engine,
  FindContainersOptions,
  PodMember,
} from "./containers.ts";
import { NamespaceError } from "./errors.ts";
import { startTimeOf } from "./target.ts";
import {
  DEFAULT_MAX_BYTES,
  existsSafe,
  fstatSafe,
  readTextFileSafe,
  statSafe,
  withPathFd,
} from "../ffi/files.ts";
import { nsfsClose, nsfsIdentity, nsfsOpen, nsfsOwnerUid } from "../ffi/nsfs.ts";
import {
  _dockerHost,
  type _DockerInspect,
  _dockerStateFind,
  _fromInspect,
  _isInspect,
  _plainRead,
  _readDir,
  _readRootJson,
  DOCKER_CONTAINERS,
  DOCKER_NAME,
} from "./_docker_state.ts";
import { nsjoinSetting } from "./_permissions.ts";

export { _dockerStateFind };

/**
 * One GET against the Docker Engine API. Over a unix socket this is a raw HTTP/1.0
 * request on Deno.connect: `fetch` with a unix-socket client costs ~10 ms to set up
 * on first use, which is most of the CLI's cold-start budget; HTTP/1.0 means no
 * chunked bodies and the daemon closes the connection when done.
 *
 * `owner`: the uid that bound the unix socket (its inode's owner; the socket is reached
 * through the very inode looked at), when it is not root — a rootless dockerd's, or any
 * socket a user made and DOCKER_HOST names. Such a daemon answers what it likes, so its
 * PIDs are taken only as that user's rootless containers (see `_isRootlessOf`).
 */
async function _dockerGet(
  host: string,
  path: string,
): Promise<{ status: number; body: unknown; owner?: number }> {
  let uid = 0;
  let conn: Deno.Conn;
  if (host.startsWith("tcp://") || host.startsWith("http://")) {
    ({ conn, uid } = await _tcpConnect(new URL(host.replace(/^tcp:/, "http:"))));
  } else if (host.startsWith("unix://")) {
    conn = await withPathFd(host.slice("unix://".length), (fd) => {
      uid = fstatSafe(fd).uid;
      return Deno.connect({ transport: "unix", path: `/proc/self/fd/${fd}` });
    });
  } else {
    throw new TypeError(`Cannot reach docker at ${host}: give unix:///path or tcp://host:port`);
  }
  const owner = uid === 0 ? undefined : uid;
  // A daemon that takes the connection and never answers (dockerd holds a container's lock
  // while a `docker start` of it hangs in `runc init`: every inspect of it waits, as
  // `docker inspect` does) ends in the caller's fallback, as one that is not reachable:
  // findContainers and resolveContainer waited for ever, for every container.
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    try {
      conn.close();
    } catch {
      // Closed already.
    }
  }, _DOCKER_TIMEOUT_MS);
  try {
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.0\r\nHost: docker\r\n\r\n`));
    const raw = await _readCapped(conn.readable);
    const split = raw.indexOf("\r\n\r\n");
    const status = Number(raw.slice(9, 12));
    return { status, body: JSON.parse(raw.slice(split + 4) || "null"), owner };
  } catch (error) {
    if (late) throw new Error(`Cannot read docker's answer: none in ${_DOCKER_TIMEOUT_MS} ms`);
    throw error;
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the readable stream ending, or by the timer.
    }
  }
}

/** How long one Docker API answer may take before the caller falls back. */
const _DOCKER_TIMEOUT_MS = 10_000;

/**
 * A connection to a TCP daemon and the uid of its listener (see {@link _tcpListenerUid}).
 * A name is tried at each of its addresses in order, and the first whose listener is ours
 * (or root's) is taken, else the first that answered: `localhost` is 127.0.0.1 and ::1
 * (Debian's /etc/hosts), and a local user listening on [::1]:2375, which root's daemon on
 * 127.0.0.1:2375 leaves free, had `DOCKER_HOST=tcp://localhost:2375` ask their daemon
 * instead of root's — its rootless containers found for root's `exec web` (stop 22).
 */
async function _tcpConnect(url: URL): Promise<{ conn: Deno.Conn; uid: number }> {
  const name = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const port = Number(url.port || 80);
  // An address is itself (node:net's isIP is not worth its load here).
  const addresses = /^[0-9.]+$/.test(name) || name.includes(":")
    ? [name]
    : (await (await import("node:dns/promises")).lookup(name, { all: true, verbatim: true }))
      .map((a) => a.address);
  const me = Deno.uid() ?? 0;
  let first: { conn: Deno.Conn; uid: number } | undefined;
  let failure: unknown;
  for (const hostname of addresses) {
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname, port });
    } catch (error) {
      failure ??= error;
      continue;
    }
    let uid: number;
    try {
      // Any local user may listen on a free port (a daemon not started yet, or stopped).
      uid = _tcpListenerUid(conn.localAddr as Deno.NetAddr, conn.remoteAddr as Deno.NetAddr);
    } catch (error) {
      conn.close();
      failure ??= error;
      continue;
    }
    if (uid === me || uid === 0) {
      first?.conn.close();
      return { conn, uid };
    }
    if (first) conn.close();
    else first = { conn, uid };
  }
  if (first) return first;
  throw failure ?? new Error(`Cannot reach docker at ${url.host}: no address`);
}

/**
 * The uid that made the listening socket at the far end of a TCP connection of ours: the
 * kernel's row for the daemon's side of it (local address = our remote, remote = our local)
 * in /proc/net/tcp{,6}, whose uid an accepted socket takes from its listener. A daemon
 * with no such row is not on this host's network namespace (another host's): its PIDs name
 * none of our processes, so it is not asked.
 */
function _tcpListenerUid(ours: Deno.NetAddr, theirs: Deno.NetAddr): number {
  const key = (hex: string) => {
    const [addr, port] = hex.split(":");
    const bytes: number[] = [];
    // Each 32-bit word as the kernel printed it (%08X of its native, little-endian, value).
    for (let w = 0; w < addr.length; w += 8) {
      for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(addr.slice(w + b, w + b + 2), 16));
    }
    // An IPv4 peer of a dual-stack socket is ::ffff:a.b.c.d in tcp6.
    const v4 = bytes.length === 16 && bytes.slice(0, 10).every((x) => x === 0) &&
        bytes[10] === 255 && bytes[11] === 255
      ? bytes.slice(12)
      : bytes;
    return `${v4.join(".")}/${parseInt(port, 16)}`;
  };
  const text = (a: Deno.NetAddr) => {
    if (!a.hostname.includes(":")) return `${a.hostname}/${a.port}`;
    const url = new URL(`http://[${a.hostname}]/`).hostname.slice(1, -1);
    const [head, tail = ""] = url.split("::");
    const words = (s: string) => (s ? s.split(":") : []);
    const all = [...words(head)];
    const rest = words(tail);
    while (all.length + rest.length < 8) all.push("0");
    const bytes = [...all, ...rest].flatMap((w) => [parseInt(w, 16) >> 8, parseInt(w, 16) & 255]);
    const v4 = bytes.slice(0, 10).every((x) => x === 0) && bytes[10] === 255 && bytes[11] === 255;
    return `${(v4 ? bytes.slice(12) : bytes).join(".")}/${a.port}`;
  };
  const want = `${text(theirs)} ${text(ours)}`;
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let table: string;
    try {
      table = readTextFileSafe(file, { maxBytes: _DOCKER_MAX_BYTES });
    } catch {
      continue; // no IPv6
    }
    for (const line of table.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 7 && `${key(f[1])} ${key(f[2])}` === want) return Number(f[7]);
    }
  }
  throw new Error(
    `Cannot trust docker at ${theirs.hostname}:${theirs.port}: no socket of this host answers`,
  );
}

/** The most of one Docker API answer read (10,000 containers' /containers/json: ~20 MB). */
const _DOCKER_MAX_BYTES = 64 << 20;

/**
 * A daemon's answer as text, at most {@link _DOCKER_MAX_BYTES}: it is held whole, and one
 * that never stops (a user's, which DOCKER_HOST names) had the caller's memory grow until
 * the OOM killer came.
 */
async function _readCapped(stream: ReadableStream<Uint8Array>): Promise<string> {
  let raw = "";
  let size = 0;
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    size += chunk.length;
    if (size > _DOCKER_MAX_BYTES) {
      throw new Error(`Cannot read docker's answer: over ${_DOCKER_MAX_BYTES >> 20} MiB`);
    }
    raw += decoder.decode(chunk, { stream: true });
  }
  return raw + decoder.decode();
}

/** Docker's running containers from its API; undefined when the daemon is not reachable. */
export async function _dockerList(o: FindContainersOptions): Promise<ContainerInfo[] | undefined> {
  let res;
  try {
    res = await _dockerGet(_dockerHost(o), "/containers/json");
  } catch (error) {
    if (error instanceof TypeError) throw error;
    return undefined;
  }
  if (res.status !== 200 || !Array.isArray(res.body)) return undefined;
  const list = res.body as { Id: unknown; Names?: unknown[]; State?: string }[];
  return list.filter((c) => typeof c?.Id === "string").map((c) => ({
    engine: "docker" as const,
    id: c.Id as string,
    name: typeof c.Names?.[0] === "string" ? c.Names[0].replace(/^\//, "") : undefined,
    pid: 0,
    owner: res.owner,
    ...(c.State === "restarting" ? { restarting: true } : {}),
    source: "api" as const,
  }));
}

/**
 * One docker container by name or ID (prefix) from the API: null when docker has none
 * (or, unless `strict`, only a stopped one), undefined when the API cannot answer.
 */
export async function _dockerInspect(
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
  if (res.status !== 200 || !_isInspect(res.body)) return undefined;
  const j = res.body;
  // Between two runs of its restart policy docker says Running, with no process (Pid 0):
  // as stopped, not as a container whose processes went missing.
  const restarting = j.State.Restarting === true;
  if ((!j.State.Running || restarting) && !strict) return null;
  if (!j.State.Running || restarting) {
    throw new NamespaceError(
      `Cannot use docker container ${j.Name.replace(/^\//, "")}`,
      {
        errno: 3,
        syscall: "resolve",
        target: ref,
        // docker exec: "Container … is restarting, wait until the container is running".
        hint: restarting ? "it is restarting, wait until it is running" : "it is not running",
        quiet: true,
      },
    );
  }
  return _fromInspect(j, res.owner);
}

/**
 * Running docker containers from dockerd's own state files, for when its socket is not
 * reachable: names and Config as the API would give them (readable by root only). One
 * between two runs of its restart policy (Running and Restarting, Pid 0) is `restarting`,
 * as /containers/json and `docker ps` say.
 */
export function _dockerStateList(ref?: string): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  const hex = ref !== undefined && /^[0-9a-f]+$/.test(ref);
  const plain = ref !== undefined && DOCKER_NAME.test(ref) ? `"Name":"/${ref}"` : undefined;
  for (const id of _readDir(DOCKER_CONTAINERS)) {
    const path = `${DOCKER_CONTAINERS}/${id}/config.v2.json`;
    const byId = ref === undefined || id === ref || (hex && id.startsWith(ref));
    // Matched by name only: a file without the name's text is not read further.
    if (!byId && plain !== undefined && !_plainRead(path)?.includes(plain)) continue;
    const j = _readJson<_DockerInspect & { ID: string }>(path);
    if (!j?.State?.Running || !j.Config) continue;
    if (!byId && j.Name !== `/${ref}`) continue;
    // The API's HostConfig is a file of its own here.
    const HostConfig = _readRootJson<_DockerInspect["HostConfig"]>(
      `${DOCKER_CONTAINERS}/${id}/hostconfig.json`,
    );
    const found: ContainerInfo = {
      ..._fromInspect({ ...j, Id: j.ID ?? id, HostConfig }),
      source: "state",
    };
    if (j.State.Restarting === true) Object.assign(found, { pid: 0, restarting: true });
    out.push(found);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// OCI runtime specs and state files (podman, containerd, docker's containerd)

/** The parts of an OCI runtime spec (config.json) read here. */
export interface _OciSpec {
  hostname?: string;
  process?: {
    env?: string[];
    cwd?: string;
    user?: { uid: number; gid: number; additionalGids?: number[] };
  };
  annotations?: Record<string, string>;
}

/**
 * A JSON state file, read safely (a FIFO, a device or a huge file is skipped, never a hang
 * or an OOM); with `owner`, only a file that uid owns.
 */
function _readJson<T>(path: string, owner?: number): T | undefined {
  try {
    return JSON.parse(readTextFileSafe(path, { owner })) as T;
  } catch {
    return undefined;
  }
}

/** The exec defaults of an OCI spec; fields of the wrong type (a hostile file) are left out. */
function _configOfSpec(spec: _OciSpec | undefined): ContainerConfig | undefined {
  const p = spec?.process;
  if (typeof p !== "object" || p === null) return undefined;
  const id = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0;
  const u = p.user;
  const gids = u?.additionalGids;
  return {
    env: Array.isArray(p.env) ? p.env.filter((e) => typeof e === "string") : [],
    user: u && id(u.uid) && id(u.gid) ? `${u.uid}:${u.gid}` : "",
    workingDir: typeof p.cwd === "string" ? p.cwd : "/",
    hostname: typeof spec!.hostname === "string" ? spec!.hostname : undefined,
    additionalGids: Array.isArray(gids) ? gids.filter(id) : undefined,
    runtimeEnv: true,
  };
}

/**
 * A PID from a pidfile (with `owner`, only a file that uid owns; `rootOnly`, one of a
 * directory only root can write to, read as {@link _readRootOnly}), if that process is alive
 * and (when known) started at `start`.
 */
function _livePid(
  pidfile: string,
  start?: number,
  owner?: number,
  rootOnly = false,
): number | undefined {
  let text: string | undefined;
  try {
    text = rootOnly
      ? _readRootOnly(pidfile, 64)
      : readTextFileSafe(pidfile, { owner, maxBytes: 64 });
  } catch {
    return undefined;
  }
  if (text === undefined) return undefined;
  if (!/^\s*[0-9]+\s*$/.test(text)) return undefined;
  const pid = Number(text);
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    const actual = startTimeOf(pid);
    return start === undefined || actual === start ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * graphroot, runroot and rootless_storage_path of a containers-storage.conf(5), if set;
 * with `owner`, only from a file that uid owns (a user's own config).
 */
function _storageConf(path: string, owner?: number): Record<string, string> {
  const out: Record<string, string> = {};
  let text: string;
  try {
    text = readTextFileSafe(path, { owner });
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
 * caller, /etc/containers/storage.conf, ~/.config/containers/storage.conf). With
 * `rootOnly`, root's store alone (CRI-O's pods are only there).
 */
function _podmanStores(rootOnly = false): { graph: string; run: string; owner?: number }[] {
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
  if (rootOnly) return stores;
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
      : _storageConf(`${home}/.config/containers/storage.conf`, u);
    const expand = (p: string) =>
      p.replaceAll("$HOME", home).replaceAll("$UID", String(u)).replace(/^~/, home);
    const graph = expand(
      conf.graphroot || system.rootless_storage_path || "$HOME/.local/share/containers/storage",
    );
    const store = { graph, run: expand(conf.runroot || `/run/user/${u}/containers`), owner: u };
    if (_containerDirs(store).length > 0) stores.push(store);
  }
  return stores;
}

/**
 * The storage drivers of containers-storage: a store keeps its containers in
 * `GRAPHROOT/DRIVER-containers/containers.json`.
 */
const _DRIVERS = ["overlay", "overlay2", "vfs", "btrfs", "zfs", "devicemapper", "aufs"];

/**
 * How many entries of a user's containers.json are looked at. Each costs a few file
 * lookups (~80 µs): a user's 4 MiB file of 260,000 IDs kept root's `ps` (and every exec of
 * a bare name, which lists every store) 20 s, and as many `X-containers` directories as
 * they liked, each a hard link of that file, as long as they liked.
 */
const _USER_STORE_ENTRIES = 1024;

/**
 * The `DRIVER-containers` directories of a store: only the drivers' in a user's, looked up
 * by name. Listing the user's graph root read every entry they put there: a million made
 * root's `ps` (and every exec of a bare name) take 6 s, and more as long as they liked.
 */
function _containerDirs(store: { graph: string; owner?: number }): string[] {
  if (store.owner === undefined) {
    return _readDir(store.graph).filter((d) => d.endsWith("-containers"));
  }
  return _DRIVERS.map((d) => `${d}-containers`).filter((d) => existsSafe(`${store.graph}/${d}`));
}

/**
 * A containers.json's entries: of another user's store, the last (newest: containers-storage
 * appends them) {@link _USER_STORE_ENTRIES}. The first ones hid a user's newest containers
 * once they had made 1024 (stopped ones count: a CI user's), from root and from the user's
 * own nsjoin, whose store is theirs to make slow for themselves only.
 */
function _entries<T>(list: T[] | undefined, owner?: number): T[] {
  if (!Array.isArray(list)) return [];
  if (owner === undefined || owner === (Deno.uid() ?? 0)) return list;
  return list.slice(-_USER_STORE_ENTRIES);
}

/**
 * Whether `pid` can be a rootless container of user `owner`: it runs in a user namespace
 * that `owner` created (NS_GET_OWNER_UID), and neither that user namespace nor its mount
 * namespace is ours. A user's store may name any PID: one outside such namespaces is not
 * their container, and joining it would run the program with our privileges in our own
 * mount namespace, found on the user's PATH.
 */
export function _isRootlessOf(pid: number, owner: number): boolean {
  const fds: number[] = [];
  const open = (path: string) => {
    const fd = nsfsOpen(path);
    if (fd >= 0) fds.push(fd);
    return fd;
  };
  try {
    const theirs = open(`/proc/${pid}/ns/user`);
    const theirMnt = open(`/proc/${pid}/ns/mnt`);
    const mine = open("/proc/self/ns/user");
    const myMnt = open("/proc/self/ns/mnt");
    if (theirs < 0 || theirMnt < 0 || mine < 0 || myMnt < 0) return false;
    const same = (a: number, b: number) => {
      const x = nsfsIdentity(a), y = nsfsIdentity(b);
      return !x || !y || (x.ino === y.ino && x.dev === y.dev);
    };
    return nsfsOwnerUid(theirs) === owner && !same(theirs, mine) && !same(theirMnt, myMnt);
  } finally {
    for (const fd of fds) nsfsClose(fd);
  }
}

/**
 * Running podman containers from its state files (rootful and rootless stores), and CRI-O's
 * pods in root's store (CRI-O keeps its containers there too). What a
 * user's store says is read only from files that user owns, and a PID it names is kept
 * only when {@link _isRootlessOf} that user. `rootOnly`: root's store alone, and only what
 * CRI-O named (for pods); of those, only the entries `keep` takes by their ID and names.
 */
export function _podmanList(
  rootOnly = false,
  keep?: (id: string, names: readonly unknown[]) => boolean,
): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const store of _podmanStores(rootOnly)) {
    const owner = store.owner;
    for (const dir of _containerDirs(store)) {
      const list = _readJson<{ id: string; names?: string[] }[]>(
        `${store.graph}/${dir}/containers.json`,
        owner,
      );
      for (const c of _entries(list, owner)) {
        if (typeof c?.id !== "string" || !/^[0-9a-f]{1,64}$/.test(c.id)) continue;
        // CRI-O names what it stores k8s_CONTAINER_POD_NAMESPACE_UID_ATTEMPT (sandboxes
        // k8s_POD_…): looking for pods, nothing else is read further.
        if (rootOnly && !c.names?.some((n) => typeof n === "string" && n.startsWith("k8s_"))) {
          continue;
        }
        if (keep && !keep(c.id, Array.isArray(c.names) ? c.names : [])) continue;
        const runc = _readJson<{ init_process_pid: number; init_process_start: number }>(
          `${owner === undefined ? "/run" : `/run/user/${owner}`}/runc/${c.id}/state.json`,
          owner,
        );
        const pid = _livePid(
          `${store.run}/${dir}/${c.id}/userdata/pidfile`,
          runc?.init_process_start,
          owner,
        );
        if (pid === undefined || (owner !== undefined && !_isRootlessOf(pid, owner))) continue;
        // Root's store without runc's state (a stopped container, whose pidfile stays; crun)
        // says nothing of when that PID's process started: it must be in a cgroup root made
        // for the container. A stopped container's PID taken by a local user's process in
        // namespaces of their own was listed as running and root's exec ran there, the
        // container's configured environment and all.
        if (
          owner === undefined && runc?.init_process_start === undefined &&
          !_inRootMadeCgroupOf(pid, c.id)
        ) continue;
        const name = c.names?.[0];
        const spec = _readJson<_OciSpec>(
          `${store.graph}/${dir}/${c.id}/userdata/config.json`,
          owner,
        );
        // CRI-O shares root's store with podman: its pods' sandboxes and containers carry
        // the CRI's annotations (a user's rootless store has no CRI-O).
        const pod = owner === undefined ? _podOfSpec(c.id, spec, "cri-o") : undefined;
        out.push({
          engine: pod ? "cri-o" : "podman",
          id: c.id,
          name: pod?.container
            ? `${pod.name}/${pod.container}`
            : typeof name === "string"
            ? name
            : undefined,
          pid,
          owner,
          pod,
          config: pod ? _configOfSpec(spec) : _podmanExecConfig(c.id, spec),
          source: "state",
        });
      }
    }
  }
  return out;
}

/**
 * The name (or ID) of a podman container in root's store — or, for a non-root caller, in
 * their own — that `ref` names (its name, its ID or a unique ID prefix) and that is not
 * running: for "it is not running" where no running container matched, as `podman exec`
 * refuses it ("can only create exec sessions on running containers"). Internal.
 *
 * With `any`, a container of those stores that `ref` names whatever its state: root's exec
 * of its own stopped container must not fall to another user's of that name.
 *
 * @param ref a container name or ID prefix
 * @param any any container so named, running or not (the first)
 * @returns what to call it in a message, undefined when no stopped container is named so
 */
export function _podmanStopped(ref: string, any = false): string | undefined {
  const uid = Deno.uid() ?? 0;
  const found: string[] = [];
  for (const store of _podmanStores()) {
    if (store.owner !== undefined && store.owner !== uid) continue;
    for (const dir of _containerDirs(store)) {
      const list = _readJson<{ id: string; names?: string[] }[]>(
        `${store.graph}/${dir}/containers.json`,
        store.owner,
      );
      for (const c of _entries(list, store.owner)) {
        if (typeof c?.id !== "string" || !/^[0-9a-f]{1,64}$/.test(c.id)) continue;
        const names = Array.isArray(c.names) ? c.names.filter((n) => typeof n === "string") : [];
        if (!names.includes(ref) && !(/^[0-9a-f]+$/.test(ref) && c.id.startsWith(ref))) continue;
        const stopped = () =>
          _livePid(`${store.run}/${dir}/${c.id}/userdata/pidfile`, undefined, store.owner) ===
            undefined;
        if (any || stopped()) found.push(names[0] ?? c.id.slice(0, 12));
      }
    }
  }
  return found.length === 1 || (any && found.length > 0) ? found[0] : undefined;
}

/**
 * What `podman exec` starts from: the spec's process, except the HOSTNAME that podman
 * appends at start when the container was created without one (its default hostname, the
 * ID's first 12 characters): exec takes the environment of the container as created.
 */
function _podmanExecConfig(id: string, spec: _OciSpec | undefined): ContainerConfig | undefined {
  const config = _configOfSpec(spec);
  if (config && config.env.at(-1) === `HOSTNAME=${id.slice(0, 12)}`) config.env.pop();
  // Nor the primary gid that podman puts first in the spec's additional gids of a container
  // created with a user (`run -u app`: [1000, 50]); its exec gives the others ([50]). Not
  // told apart from a `--group-add` of that same gid, which the program holds as its gid.
  const gids = config?.additionalGids;
  if (gids?.length && config!.user.endsWith(`:${gids[0]}`)) gids.shift();
  return config;
}

/**
 * containerd's state dirs, holding its task bundles (config.json, the OCI spec, and
 * init.pid per container) under io.containerd.runtime.v2.task/NAMESPACE/ID: a standalone
 * containerd's (Kubernetes nodes), k3s's, and the one dockerd runs.
 */
const CONTAINERD_STATES = [
  "/run/containerd",
  "/run/k3s/containerd",
  "/run/docker/containerd/daemon",
];

/**
 * The state dirs to read: the defaults, then `containerdState` or $NSJOIN_CONTAINERD_STATE
 * (colon-separated) for a containerd started with another `state` in its config.
 */
function _containerdStates(o: FindContainersOptions): string[] {
  const extra = o.containerdState ??
    (nsjoinSetting("NSJOIN_CONTAINERD_STATE") ?? "").split(":").filter(Boolean);
  return [...new Set([...CONTAINERD_STATES, ...extra])];
}

/**
 * Whether no one but root can change what `path` names: it and every directory above it
 * (symlinks resolved first) are directories owned by root that no one else may write to,
 * or sticky ones like /tmp (where only an entry's owner renames or removes it). A file
 * owned by root proves nothing in a directory another user writes to: they can put there
 * a symlink to any root-owned file (a daemon's pidfile as `init.pid`) or rename one in.
 */
export function _rootOnlyPath(path: string): boolean {
  // Each component as given, from / down; realpath(3) (one more op, and a readlink of every
  // level) only when one of them is a symlink, whose resolved path is then checked instead,
  // or for a relative path (a state dir given from the current directory).
  if (!path.startsWith("/")) return _rootOnlyResolved(path);
  const parts = path.split("/").filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    const kind = _rootOnlyDir("/" + parts.slice(0, i).join("/"));
    if (kind === "link") return _rootOnlyResolved(path);
    if (!kind) return false;
  }
  return true;
}

/** {@link _rootOnlyPath} of a path that has a symlink in it: its real path, level by level. */
function _rootOnlyResolved(path: string): boolean {
  let real: string;
  try {
    real = Deno.realPathSync(path);
  } catch {
    return false;
  }
  const parts = real.split("/").filter(Boolean);
  for (let i = 0; i <= parts.length; i++) {
    if (_rootOnlyDir("/" + parts.slice(0, i).join("/")) !== "dir") return false;
  }
  return true;
}

/**
 * One level of {@link _rootOnlyPath}: "dir" for a directory owned by root that no one else
 * may write to (or a sticky one), "link" for a symlink, undefined for anything else.
 */
function _rootOnlyDir(path: string): "dir" | "link" | undefined {
  try {
    const st = Deno.lstatSync(path);
    if (st.isSymlink) return "link";
    const mode = st.mode ?? 0;
    if (!st.isDirectory || st.uid !== 0 || ((mode & 0o022) !== 0 && !(mode & 0o1000))) {
      return undefined;
    }
    return "dir";
  } catch {
    return undefined;
  }
}

/**
 * What {@link _rootOnlyPath} checks of each component, for one entry of a directory that
 * passed it: a directory itself (not a symlink: lstat), owned by root, that no one else
 * may write to (or sticky). The path then stays root-only without resolving every level
 * again.
 *
 * @returns "sticky" for one others may write to but not rename or remove in, "root" for one
 * only root may write to, undefined for anything else
 */
function _rootOnlyEntry(path: string): "root" | "sticky" | undefined {
  try {
    const st = Deno.lstatSync(path);
    const mode = st.mode ?? 0;
    if (!st.isDirectory || st.uid !== 0) return undefined;
    return (mode & 0o022) === 0 ? "root" : (mode & 0o1000) !== 0 ? "sticky" : undefined;
  } catch {
    return undefined;
  }
}

/** A containerd ID: 1-76 characters of [A-Za-z0-9_.-] (as its identifiers package allows). */
const CONTAINERD_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,75}$/;

/**
 * Which bundles {@link _containerdList} reads in full: those whose ID passes `id` and whose
 * spec's text contains every string of `text` (others are skipped before their pidfile is
 * read or their spec parsed).
 */
export interface BundleFilter {
  /** Keeps a bundle by its ID. */
  id?: (id: string) => boolean;
  /** Strings the spec's JSON text must all contain. */
  text?: readonly string[];
}

/** Whether `text` contains every one of `needles`. */
const _hasAll = (text: string | undefined, needles: readonly string[]) =>
  text !== undefined && needles.every((n) => text.includes(n));

/**
 * A file of a bundle directory that only root can write to (the caller checks: not a sticky
 * one, where a user may add their own FIFO), with what readTextFileSafe checks (a regular
 * file, not a link, owned by root, at most `maxBytes`) asked of one lstat, warm from the
 * directory checks: no one but root can have put a FIFO, a device or a link there, nor swap
 * the file between the lstat and the read, so the reader's O_PATH open and fstat
 * (ffi/files.ts) buy nothing here, and in a cold process its seven FFI calls cost ~0.7 ms
 * for a spec and its pidfile — paid on every `exec k8s:…` and for every bundle of the node
 * a listing reads. `read`: its text, read already (see _containerdList), now checked.
 * Undefined: not there, or not such a file.
 */
function _readRootOnly(
  path: string,
  maxBytes = DEFAULT_MAX_BYTES,
  read?: string,
): string | undefined {
  try {
    const st = Deno.lstatSync(path);
    if (!st.isFile || st.uid !== 0 || st.size > maxBytes) return undefined;
    return read ?? Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}

/**
 * Running containers from containerd's task bundles (any namespace: moby, k8s.io,
 * default; only `namespace` when given — the CRI's is always k8s.io; only those `filter`
 * keeps). containerd runs as root and writes these as root: a file not owned by root is
 * not its, and is skipped. A Kubernetes pod's sandbox and containers carry the CRI's
 * `io.kubernetes.cri.*` annotations in their OCI spec: they give {@link ContainerInfo.pod}.
 */
export function _containerdList(
  o: FindContainersOptions = {},
  namespace?: string,
  filter: BundleFilter = {},
): ContainerInfo[] {
  const out: ContainerInfo[] = [];
  for (const state of _containerdStates(o)) {
    const base = `${state}/io.containerd.runtime.v2.task`;
    // One namespace (the CRI's): a state dir without it (dockerd's containerd never has
    // k8s.io; the default ones are missing on most hosts) is passed over with one syscall,
    // before its path is checked, and without the error object Deno would build (~0.3 ms).
    if (namespace !== undefined && !existsSafe(`${base}/${namespace}`)) continue;
    if (!_rootOnlyPath(base)) continue;
    for (const ns of namespace === undefined ? _readDir(base) : [namespace]) {
      // Each level below is checked too: one another user may write to is not containerd's.
      if (!_rootOnlyEntry(`${base}/${ns}`)) continue;
      for (const id of _readDir(`${base}/${ns}`)) {
        // Its shape is checked once its spec has passed a lookup's filter: readdir gives no
        // name with a "/" (nor "." or ".."), and the regular expression's first runs, ~5 µs
        // each in a cold process, were a tenth of a lookup's cost per bundle.
        if (filter.id && !filter.id(id)) continue;
        if (!filter.text && !CONTAINERD_ID.test(id)) continue;
        const bundle = `${base}/${ns}/${id}`;
        const dir = _rootOnlyEntry(bundle);
        if (!dir) continue;
        // No spec: listed without a config, as before.
        let text: string | undefined;
        if (dir === "root" && filter.text) {
          // A lookup: most bundles are not the target's. Their specs are passed over after one
          // plain read (only root can have put a file there); the lstat of _readRootOnly, ~15
          // µs warm, would cost ~1.5 ms more on a node of a hundred bundles.
          const plain = _plainRead(`${bundle}/config.json`);
          if (!_hasAll(plain, filter.text)) continue;
          text = _readRootOnly(`${bundle}/config.json`, DEFAULT_MAX_BYTES, plain);
        } else if (dir === "root") text = _readRootOnly(`${bundle}/config.json`);
        else {
          try {
            text = readTextFileSafe(`${bundle}/config.json`, { owner: 0 });
          } catch {
            // As above.
          }
        }
        if (filter.text && (!_hasAll(text, filter.text) || !CONTAINERD_ID.test(id))) continue;
        const pid = _livePid(`${bundle}/init.pid`, undefined, 0, dir === "root");
        if (pid === undefined) continue;
        let spec: _OciSpec | undefined;
        try {
          spec = text === undefined ? undefined : JSON.parse(text);
        } catch {
          // Not JSON: no config.
        }
        const pod = ns === "k8s.io" ? _podOfSpec(id, spec, "containerd") : undefined;
        out.push({
          engine: ns === "moby" ? "docker" : "containerd",
          id,
          name: pod?.container ? `${pod.name}/${pod.container}` : undefined,
          pid,
          namespace: ns,
          pod,
          config: _configOfSpec(spec),
          source: "state",
        });
      }
    }
  }
  return out;
}

/** The pod annotation naming the container `kubectl exec` picks when none is given. */
const DEFAULT_CONTAINER = "kubectl.kubernetes.io/default-container";

/**
 * The pod a CRI sandbox or container belongs to, from the annotations the runtime writes
 * into its OCI spec: containerd's CRI plugin (`io.kubernetes.cri.*`) or CRI-O
 * (`io.kubernetes.cri-o.*` and the kubelet's `io.kubernetes.pod.*` labels, pod annotations
 * as JSON in `io.kubernetes.cri-o.Annotations`). Anything missing or of the wrong shape:
 * not a pod member. Only the keys of the runtime whose state the spec came from: the others
 * are the pod's own annotations when the runtime passes them through (containerd's
 * `pod_annotations`), where a pod of another namespace named itself any pod it liked
 * (tests/security_test.ts "stop 18b: a pod's annotations…"); each runtime writes its own
 * keys after the pod's.
 */
export function _podOfSpec(
  id: string,
  spec: _OciSpec | undefined,
  runtime: "containerd" | "cri-o",
): PodMember | undefined {
  const a = spec?.annotations;
  if (typeof a !== "object" || a === null) return undefined;
  const str = (k: string) => typeof a[k] === "string" && a[k] !== "" ? a[k] : undefined;
  const crio = runtime === "cri-o";
  const key = crio
    ? {
      type: "io.kubernetes.cri-o.ContainerType",
      sandboxId: "io.kubernetes.cri-o.SandboxID",
      namespace: "io.kubernetes.pod.namespace",
      name: "io.kubernetes.pod.name",
      uid: "io.kubernetes.pod.uid",
      container: "io.kubernetes.container.name",
    }
    : {
      type: "io.kubernetes.cri.container-type",
      sandboxId: "io.kubernetes.cri.sandbox-id",
      namespace: "io.kubernetes.cri.sandbox-namespace",
      name: "io.kubernetes.cri.sandbox-name",
      uid: "io.kubernetes.cri.sandbox-uid",
      container: "io.kubernetes.cri.container-name",
    };
  // CRI-O writes a sandbox's pod annotations over its own keys and the pod's labels after
  // both (sandbox_run_linux.go): ContainerType and SandboxID there are the pod's to choose,
  // and a sandbox that called itself a container of another pod's sandbox was taken for one
  // (root's exec of that pod ran in it). Its container name, "POD", is a label CRI-O sets
  // last, and no container can have it (Kubernetes names are lowercase DNS labels): that is
  // the sandbox, its own.
  const infra = crio && str(key.container) === "POD";
  const type = infra ? "sandbox" : str(key.type);
  const sandboxId = infra ? id : str(key.sandboxId);
  const namespace = str(key.namespace);
  const name = str(key.name);
  const uid = str(key.uid);
  if (!sandboxId || !CONTAINERD_ID.test(sandboxId) || !namespace || !name || !uid) return;
  if (type === "sandbox" && sandboxId === id) {
    let defaultContainer = str(DEFAULT_CONTAINER);
    if (crio) {
      try {
        const pod = JSON.parse(str("io.kubernetes.cri-o.Annotations") ?? "{}");
        const named = pod?.[DEFAULT_CONTAINER];
        defaultContainer = typeof named === "string" ? named : undefined;
      } catch {
        // Not JSON: no default.
      }
    }
    return { namespace, name, uid, sandboxId, defaultContainer };
  }
  const container = str(key.container);
  if (type === "container" && container) return { namespace, name, uid, sandboxId, container };
  return undefined;
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

/**
 * A cgroup named for a container by its engine (see CGROUP_PATTERNS); a bare ID is checked
 * apart from it, as podman's pods (`libpod_parent/POD_ID/libpod-ID`) hold their containers in
 * one (see _rootMadeCgroup).
 */
const CONTAINER_CGROUP = /^(?:docker|libpod|crio|cri-containerd)-[0-9a-f]{64}(?:\.scope)?$/;

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
 * Whether each cgroup of a /proc/PID/cgroup text that names `id` was made by root: its
 * directory, on the hierarchy mounted in our mount namespace, is owned by root. A cgroup's
 * name is chosen by whoever creates it, and a subtree delegated to a user (systemd's
 * `user@UID.service`, a rootless engine's) lets them make `cri-containerd-ID.scope` for any
 * ID and move their own processes there; the runtimes that write root's state (containerd,
 * CRI-O, dockerd) create their containers' cgroups as root. A rootful container's root is
 * root too: a cgroup named for `id` on a named hierarchy, or below another container's
 * cgroup, does not count (see below). Unknown (no such line, no mount found): false.
 * `rootDirs` collects the directories it found root's (see cgroupViews).
 */
export function _rootMadeCgroup(
  cgroup: string,
  id: string,
  where: Map<string, string> = cgroupMountRoots(),
  rootDirs?: Set<string>,
): boolean {
  let checked = 0;
  for (const line of cgroup.split("\n")) {
    const first = line.indexOf(":"), second = line.indexOf(":", first + 1);
    if (first < 0 || second < 0) continue;
    // A named v1 hierarchy (name=systemd) holds no controller, and a rootful container's root
    // may write it: podman's systemd mode mounts that hierarchy's root read-write, where it
    // made a root-owned libpod-ID for another container and moved a process of its own there
    // (with that container's PID: a stopped one's pidfile stays). Only the lines of
    // hierarchies with controllers, and of cgroup v2, name the container; a named one's
    // root-owned directory is only collected (root joins it without comparing ours).
    const controllers = line.slice(first + 1, second);
    const named = controllers !== "" &&
      controllers.split(",").every((k) => k.startsWith("name="));
    const parts = line.slice(second + 1).split("/");
    // The deepest component named for it (ID, PREFIX-ID or PREFIX-ID.scope): what lies
    // below a root-made one may still be someone else's.
    const at = parts.findLastIndex((p) =>
      p === id || p.endsWith(`-${id}`) || p.endsWith(`-${id}.scope`)
    );
    if (at < 0) continue;
    if (named) {
      const mount = where.get(controllers.split(",")[0]);
      const dir = mount && mount + parts.slice(0, at + 1).join("/");
      try {
        if (dir && statSafe(dir).uid === 0) rootDirs?.add(dir);
      } catch { /* not there: compared with ours */ }
      continue;
    }
    // Made inside another container's cgroup: a rootful container's root, uid 0, names the
    // cgroups of the subtree delegated to it as it likes (podman's systemd mode on cgroup v2).
    // A bare ID is a container's cgroup too (docker's cgroupfs driver: /docker/ID;
    // containerd's /NAMESPACE/ID), except a podman pod's, /libpod_parent/POD_ID, which holds
    // its containers' libpod-ID.
    const inside = (p: string, k: number) =>
      CONTAINER_CGROUP.test(p) || (/^[0-9a-f]{64}$/.test(p) && parts[k - 1] !== "libpod_parent");
    if (parts.slice(0, at).some(inside)) return false;
    const mount = where.get(line.slice(first + 1, second).split(",")[0]);
    if (!mount) continue;
    try {
      // statSafe: the FFI path the caller has warmed already (Deno.statSync's first call in
      // the CLI costs more than ten statSafe); a cgroup directory is never a symlink, so
      // following one is the same.
      const dir = mount + parts.slice(0, at + 1).join("/");
      if (statSafe(dir).uid !== 0) return false;
      rootDirs?.add(dir);
    } catch {
      return false;
    }
    checked++;
  }
  return checked > 0;
}

/** Whether `pid` is in a cgroup root made for the container `id` (see _rootMadeCgroup). */
function _inRootMadeCgroupOf(pid: number, id: string): boolean {
  try {
    return _rootMadeCgroup(readTextFileSafe(`/proc/${pid}/cgroup`), id);
  } catch {
    return false;
  }
}

/**
 * Every container process group found from /proc: reads each /proc/PID/cgroup, keeps
 * those naming a container ID, and takes the earliest-started process of each ID as its
 * first process. Works for docker, podman, containerd, CRI-O and Kubernetes pods as long
 * as the container has cgroups of its own (rootless containers on cgroup v1 have none).
 */
export function _cgroupScan(proc: string): ContainerInfo[] {
  const found = new Map<string, { info: ContainerInfo; start: number }>();
  let mounts: Map<string, string> | undefined;
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
    const owner = _rootlessOwner(Number(name));
    // Not a rootless container (whose cgroup is its user's to name, and which merges only
    // with that user's store): a cgroup a user made and named for a container's ID is not
    // that container, however early its process started.
    if (owner === undefined && !_rootMadeCgroup(cgroup, c.id, mounts ??= cgroupMountRoots())) {
      continue;
    }
    const key = `${owner ?? ""}/${c.id}`;
    const seen = found.get(key);
    if (seen && seen.start <= start) continue;
    found.set(key, {
      start,
      info: { ...c, pid: Number(name), owner, source: "cgroup" },
    });
  }
  return [...found.values()].map((v) => v.info);
}

/**
 * The uid that created the user namespace of `pid`, when that is not ours and not root's
 * (a rootless container: its cgroup is that user's to name, so it merges only with what
 * that user's store says).
 */
function _rootlessOwner(pid: number): number | undefined {
  const theirs = nsfsOpen(`/proc/${pid}/ns/user`);
  const mine = nsfsOpen("/proc/self/ns/user");
  try {
    if (theirs < 0 || mine < 0) return undefined;
    const a = nsfsIdentity(theirs), b = nsfsIdentity(mine);
    if (!a || !b || (a.ino === b.ino && a.dev === b.dev)) return undefined;
    const uid = nsfsOwnerUid(theirs);
    return uid > 0 ? uid : undefined;
  } finally {
    nsfsClose(theirs);
    nsfsClose(mine);
  }
}
