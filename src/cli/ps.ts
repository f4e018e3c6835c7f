import { assertNotFrozen, cgroupProcsOf, namespacesOwnedBy } from "../container_exec.ts";
import { type ContainerInfo, findContainers } from "../containers.ts";
import type { NamespaceType } from "../namespaces.ts";
import { escapeTerminal, jsonForTerminal } from "../terminal.ts";
import { parseOptions } from "./_args.ts";
import { report } from "./_run.ts";

/** `ps`'s options (docker ps's), for the parser and the shell completions. */
export const PS_OPTIONS = {
  json: { type: "boolean" },
  "no-trunc": { type: "boolean" },
  pods: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

/** The usage text of `ps`. */
export const PS_HELP = `NAME
 nsjoin ps - list the containers of every engine

SYNOPSIS
 nsjoin ps [OPTIONS]

DESCRIPTION
List the running containers of every engine on the host (docker, podman rootful and
rootless, containerd in any namespace, CRI-O), found from engine state, /proc and cgroups.
Another user's rootless containers are shown with their owner ("podman (uid N)", or
"docker (uid N)" from a dockerd of theirs that DOCKER_HOST names, by socket or TCP port;
one on no socket of this host is not asked); from their podman store only those whose
process runs in that user's own namespaces are listed, and exec joins no other. Names are
printed with control characters as \\xNN; --json gives them exactly. Kubernetes pods
(containerd's CRI, CRI-O) get NAMESPACE, POD and CONTAINER columns (a pod's rows together,
its sandbox first), and a "pod" object in --json; --pods lists one line per pod, its
containers grouped under its sandbox. A paused container (its cgroup frozen) has
"(paused)" after its name and "paused": true in --json: exec and debug refuse it until it
is unpaused. A docker container waiting for its restart policy (docker ps: "Restarting")
has "(restarting)" after its name, PID "-", and "restarting": true, "pid": 0 in --json,
with or without dockerd's API. A container's cgroup that no engine knows and only a
zombie holds (a main process left unreaped) is not listed, as docker ps does not list it.
Needs -A (it reads /proc and engine state).

OPTIONS
      --json        Print a JSON array
      --no-trunc    Do not truncate IDs
      --pods        One entry per Kubernetes pod, its containers grouped under its sandbox
  -q, --quiet       Only print IDs
  -h, --help        Print usage

EXIT STATUS
 0 listed; 1 the listing failed; 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin ps                                   a table like docker ps, every engine
 nsjoin ps --json                            the same as JSON
 nsjoin ps --pods                            the node's Kubernetes pods, like crictl pods`;

/** One row of `ps --json`. */
export interface PsRow {
  /** The engine. */
  engine: string;
  /** The full container ID. */
  id: string;
  /** Its name, when known. */
  name: string | null;
  /** Host PID of its first process; 0 while restarting. */
  pid: number;
  /** Docker is between two runs of its restart policy (docker ps: "Restarting"): no process. */
  restarting: boolean;
  /** The namespace types it does not share with the host. */
  namespaces: NamespaceType[];
  /** uid of the owner of a rootless container, else null. */
  owner: number | null;
  /** Where it was found: "api", "state" or "cgroup". */
  source: string;
  /** Its cgroup is frozen (docker/podman pause): exec and debug refuse it until unpaused. */
  paused: boolean;
  /**
   * For a Kubernetes pod's sandbox or container: its namespace, pod, pod UID, sandbox ID
   * and container name (null for the sandbox), from the CRI runtime's state; else null.
   */
  pod: {
    namespace: string;
    name: string;
    uid: string;
    sandboxId: string;
    container: string | null;
  } | null;
}

/** The rows `ps` prints, sorted by engine and name, a pod's rows together (sandbox first). */
export function psRows(containers: readonly ContainerInfo[]): PsRow[] {
  return containers.filter((c) => !_leftOver(c)).map((c) => ({
    engine: c.engine,
    id: c.id,
    name: c.name ?? null,
    pid: c.pid,
    restarting: c.restarting === true,
    namespaces: c.pid > 0 ? namespacesOwnedBy(c.pid) : [],
    owner: c.owner ?? null,
    source: c.source,
    paused: c.pid > 0 && _paused(c.pid),
    pod: c.pod
      ? {
        namespace: c.pod.namespace,
        name: c.pod.name,
        uid: c.pod.uid,
        sandboxId: c.pod.sandboxId,
        container: c.pod.container ?? null,
      }
      : null,
  })).sort(_byEngineAndName);
}

/**
 * Engine, then name; a pod's rows together, its sandbox first, by namespace and pod (a
 * sandbox has no name: sorted by its ID, it stood among other pods' containers).
 */
function _byEngineAndName(a: PsRow, b: PsRow): number {
  if (a.engine !== b.engine) return a.engine.localeCompare(b.engine);
  if (a.pod && b.pod) {
    return a.pod.namespace.localeCompare(b.pod.namespace) ||
      a.pod.name.localeCompare(b.pod.name) ||
      a.pod.sandboxId.localeCompare(b.pod.sandboxId) ||
      (a.pod.container ?? "").localeCompare(b.pod.container ?? "");
  }
  if (a.pod || b.pod) return a.pod ? 1 : -1;
  return (a.name ?? a.id).localeCompare(b.name ?? b.id);
}

/**
 * Found only by the /proc scan (no engine knows it: docker ps does not list it) and its
 * first process a zombie: a container's cgroup with an unreaped main process left behind,
 * nothing running and no namespaces to join. It was listed with name "-".
 */
function _leftOver(c: ContainerInfo): boolean {
  if (c.source !== "cgroup" || c.name || c.pid <= 0) return false;
  try {
    const stat = Deno.readTextFileSync(`/proc/${c.pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "Z";
  } catch {
    return true; // gone since the scan
  }
}

/** Whether the process's cgroups are frozen, as exec would find them (false if it is gone). */
function _paused(pid: number): boolean {
  try {
    assertNotFrozen(cgroupProcsOf(pid), `process ${pid}`);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "EBUSY";
  }
}

/**
 * A docker-ps-like table: header, then one line per row, columns padded; NAMESPACE, POD
 * and CONTAINER columns when any row is a Kubernetes pod's (the sandbox's CONTAINER is
 * "(sandbox)"). Names and IDs come from files other users write: control characters are
 * shown as `\xNN`.
 */
export function formatTable(rows: readonly PsRow[], noTrunc = false): string {
  const pods = rows.some((r) => r.pod);
  const podCells = (r: PsRow) =>
    !pods
      ? []
      : r.pod
      ? [r.pod.namespace, r.pod.name, r.pod.container ?? "(sandbox)"].map(escapeTerminal)
      : ["-", "-", "-"];
  const cells = [
    [
      "CONTAINER ID",
      "ENGINE",
      "NAME",
      ...(pods ? ["NAMESPACE", "POD", "CONTAINER"] : []),
      "PID",
      "NAMESPACES",
    ],
    ...rows.map((r) => [
      escapeTerminal(noTrunc ? r.id : r.id.slice(0, 12)),
      r.engine + (r.owner !== null ? ` (uid ${r.owner})` : ""),
      (r.name === null ? "-" : escapeTerminal(r.name)) + (r.paused ? " (paused)" : "") +
      (r.restarting ? " (restarting)" : ""),
      ...podCells(r),
      r.pid > 0 ? String(r.pid) : "-",
      r.namespaces.join(",") || "-",
    ]),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) =>
    row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join("   ")
  ).join("\n");
}

/** One entry of `ps --pods --json`: a pod and its running containers. */
export interface PodRow {
  /** The Kubernetes namespace. */
  namespace: string;
  /** The pod's name. */
  name: string;
  /** The pod's UID. */
  uid: string;
  /** The sandbox's CRI ID. */
  sandboxId: string;
  /** The runtime: "containerd" or "cri-o". */
  engine: string;
  /** Host PID of the sandbox's process, null when it is not running. */
  pid: number | null;
  /** The pod's containers (not the sandbox), as `ps --json` gives them. */
  containers: PsRow[];
}

/** The rows of `ps --pods`: pod members grouped by sandbox, sorted by namespace and name. */
export function podRows(rows: readonly PsRow[]): PodRow[] {
  const pods = new Map<string, PodRow>();
  for (const r of rows) {
    if (!r.pod) continue;
    const p = pods.get(r.pod.sandboxId) ?? {
      namespace: r.pod.namespace,
      name: r.pod.name,
      uid: r.pod.uid,
      sandboxId: r.pod.sandboxId,
      engine: r.engine,
      pid: null,
      containers: [],
    };
    if (r.pod.container === null) p.pid = r.pid;
    else p.containers.push(r);
    pods.set(r.pod.sandboxId, p);
  }
  return [...pods.values()].sort((a, b) =>
    a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name)
  );
}

/** The `ps --pods` table: one line per pod, its containers as `name (id)`; names escaped. */
export function formatPods(pods: readonly PodRow[], noTrunc = false): string {
  const id = (i: string) => noTrunc ? i : i.slice(0, 12);
  const cells = [
    ["SANDBOX ID", "ENGINE", "NAMESPACE", "POD", "PID", "CONTAINERS"],
    ...pods.map((p) =>
      [
        id(p.sandboxId),
        p.engine,
        p.namespace,
        p.name,
        p.pid === null ? "-" : String(p.pid),
        p.containers.map((c) => `${c.pod!.container} (${id(c.id)})`).join(", ") || "-",
      ].map(escapeTerminal)
    ),
  ];
  const widths = cells[0].map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  return cells.map((row) =>
    row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join("   ")
  ).join("\n");
}

/**
 * `nsjoin ps`: every container on the host, as a table or `--json`.
 *
 * @param argv the arguments after `ps`
 * @returns the exit code
 */
export async function ps(argv: readonly string[]): Promise<number> {
  try {
    const { values } = parseOptions(argv, PS_OPTIONS);
    if (values.help) {
      console.log(PS_HELP);
      return 0;
    }
    const rows = psRows(await findContainers());
    if (values.pods) {
      const pods = podRows(rows);
      if (values.json) console.log(jsonForTerminal(pods, 2));
      else if (values.quiet) {
        for (const p of pods) {
          console.log(escapeTerminal(values["no-trunc"] ? p.sandboxId : p.sandboxId.slice(0, 12)));
        }
      } else console.log(formatPods(pods, values["no-trunc"]));
    } else if (values.json) console.log(jsonForTerminal(rows, 2));
    else if (values.quiet) {
      for (const r of rows) {
        console.log(escapeTerminal(values["no-trunc"] ? r.id : r.id.slice(0, 12)));
      }
    } else console.log(formatTable(rows, values["no-trunc"]));
    return 0;
  } catch (error) {
    return report(error, "ps");
  }
}
