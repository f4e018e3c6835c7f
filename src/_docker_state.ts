/**
 * dockerd's own state files (root's /var/lib/docker/containers): one container found by
 * name, ID or ID prefix without an API round trip, when the files answer as the API would.
 * Apart from src/engines.ts so that `exec`'s fast path (src/cli/_exec_fast.ts) uses the very
 * same rule without loading the engines' code. Internal.
 *
 * @module
 */
import type { ContainerInfo, FindContainersOptions } from "./containers.ts";

/** The docker host asked: the option, DOCKER_HOST, or the default socket. */
export function _dockerHost(o: FindContainersOptions): string {
  return o.dockerHost ?? Deno.env.get("DOCKER_HOST") ?? "unix:///var/run/docker.sock";
}

/** The parts of docker's inspect (and of its config.v2.json) read here. */
export interface _DockerInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; Pid: number; Paused?: boolean; Restarting?: boolean };
  Config: { Env?: string[] | null; User?: string; WorkingDir?: string; Hostname?: string };
  HostConfig?: { GroupAdd?: unknown };
}

/** docker's `--group-add` entries (names or gids); anything else in the field is left out. */
function _groupAdd(host: _DockerInspect["HostConfig"]): string[] | undefined {
  const g = host?.GroupAdd;
  return Array.isArray(g) && g.length ? g.filter((e) => typeof e === "string") : undefined;
}

/**
 * Whether an inspect answer has the shape docker gives it: a daemon DOCKER_HOST names may be
 * a user's, and one answering `"Env": [null]` or a numeric `Name` made root's `exec` and `ps`
 * fail with a TypeError (exit 2, "see --help") for every engine's containers (stop 22).
 */
export function _isInspect(j: unknown): j is _DockerInspect {
  const o = j as _DockerInspect | null;
  return typeof o === "object" && o !== null && typeof o.Id === "string" &&
    typeof o.Name === "string" && typeof o.State === "object" && o.State !== null &&
    typeof o.Config === "object" && o.Config !== null;
}

/** A container as the API (or its state files) describes it; fields of another type left out. */
export function _fromInspect(j: _DockerInspect, owner?: number): ContainerInfo {
  const text = (v: unknown, otherwise: string) => (typeof v === "string" ? v : otherwise);
  return {
    engine: "docker",
    id: j.Id,
    name: j.Name.replace(/^\//, ""),
    pid: Number.isSafeInteger(j.State.Pid) ? j.State.Pid : 0,
    owner,
    config: {
      env: Array.isArray(j.Config.Env) ? j.Config.Env.filter((e) => typeof e === "string") : [],
      user: text(j.Config.User, ""),
      workingDir: text(j.Config.WorkingDir, ""),
      hostname: typeof j.Config.Hostname === "string" ? j.Config.Hostname : undefined,
      groupAdd: _groupAdd(j.HostConfig),
      runtimeEnv: false,
    },
    source: "api",
  };
}

/** Where dockerd keeps each container's config.v2.json (its default data-root). */
export const DOCKER_CONTAINERS = "/var/lib/docker/containers";

/**
 * A name docker accepts: written as it is in config.v2.json's JSON (Go escapes none of these
 * characters), so a file without `"Name":"/NAME"` is not that container's. Another name is
 * looked for in each file parsed.
 */
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/**
 * One docker container by exact ID, exact name or unique ID prefix (docker's own order)
 * from dockerd's state files, saving the CLI a round trip to the API (~10-20 ms) — only
 * where the files cannot say otherwise than the API: the default daemon (no DOCKER_HOST
 * or dockerHost naming another), exactly one match among all containers (running or not,
 * as docker resolves a prefix), and that one running. The caller still checks that its
 * PID is in the container's cgroup (the kernel's word that the files are current: see
 * {@link containerOfCgroup}). Undefined means: ask the API.
 *
 * @param ref a name, full ID or ID prefix
 * @param o the docker host
 * @param dir where dockerd keeps the containers' config.v2.json (tests)
 * @param any the one match even when it is not running (whether dockerd knows the name)
 * @returns the container as the API would describe it (source "state"), or undefined
 */
export function _dockerStateFind(
  ref: string,
  o: FindContainersOptions,
  dir: string = DOCKER_CONTAINERS,
  any = false,
): ContainerInfo | undefined {
  const host = _dockerHost(o);
  if (host !== "unix:///var/run/docker.sock" && host !== "unix:///run/docker.sock") return;
  const ids = _readDir(dir).filter((id) => /^[0-9a-f]{64}$/.test(id));
  // Each file once: a name is matched on every container's, then the match is used.
  const seen = new Map<string, (_DockerInspect & { ID?: string }) | undefined>();
  const read = (id: string, text?: string) => {
    if (!seen.has(id)) {
      const path = `${dir}/${id}/config.v2.json`;
      seen.set(id, _readRootJson<_DockerInspect & { ID?: string }>(path, text));
    }
    return seen.get(id);
  };
  // A file without the name's text is not parsed (~10 µs of each file's ~20 µs).
  const plain = DOCKER_NAME.test(ref) ? `"Name":"/${ref}"` : undefined;
  const hasName = (i: string) => {
    if (plain === undefined) return read(i)?.Name === `/${ref}`;
    const text = _plainRead(`${dir}/${i}/config.v2.json`);
    return text !== undefined && text.includes(plain) && read(i, text)?.Name === `/${ref}`;
  };
  let id: string | undefined = ids.includes(ref) ? ref : undefined;
  if (!id) {
    const named = ids.filter(hasName);
    if (named.length > 1) return;
    id = named[0];
  }
  if (!id && /^[0-9a-f]+$/.test(ref)) {
    const prefixed = ids.filter((i) => i.startsWith(ref));
    if (prefixed.length !== 1) return;
    id = prefixed[0];
  }
  if (!id) return;
  const j = read(id);
  if (any && j?.State && j.Config && typeof j.Name === "string") {
    return { ..._fromInspect({ ...j, Id: id }), source: "state" };
  }
  if (!j?.State?.Running || !(j.State.Pid > 0) || !j.Config || (j.ID ?? id) !== id) return;
  const HostConfig = _readRootJson<_DockerInspect["HostConfig"]>(`${dir}/${id}/hostconfig.json`);
  return { ..._fromInspect({ ...j, Id: id, HostConfig }), source: "state" };
}

/**
 * A JSON state file of root's own engine directory (dockerd's, mode 0710: only root makes
 * files there), read with Deno's reader: one op, where readTextFileSafe's checks against
 * what a user could plant (a FIFO, a device, a huge file) cost seven FFI calls, ~0.1 ms
 * each file in a cold process, for every container a name is looked for in. `text`: its
 * content, when already read.
 */
export function _readRootJson<T>(path: string, text?: string): T | undefined {
  try {
    return JSON.parse(text ?? Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

/** A directory's names; none when it cannot be read. */
export function _readDir(path: string): string[] {
  try {
    return [...Deno.readDirSync(path)].map((e) => e.name);
  } catch {
    return [];
  }
}

/** A file's text, or undefined. */
export function _plainRead(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return undefined;
  }
}
