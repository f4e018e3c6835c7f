import {
  type IdMapEntry,
  inspect as inspectTarget,
  type InspectedSide,
  type Inspection,
} from "../inspect.ts";
import { netnsPath } from "../netns.ts";
import { isPidText, parseTarget, type PinnedProcess } from "../target.ts";
import { escapeTerminal, jsonForTerminal } from "../terminal.ts";
import { parseOptions } from "./_args.ts";
import { report, UsageError } from "./_run.ts";
import { formatTable } from "./ls.ts";
import { versionText } from "./_version.ts";

/** `inspect`'s options, parsed. */
export interface InspectArgs {
  /** The target: a PID, a namespace file, or a container reference (engine:NAME, NAME, ID). */
  target: number | string;
  /** A second target to compare with, instead of the caller. */
  other?: number | string;
  /** --json */
  json: boolean;
  /** -h */
  help: boolean;
  /** -V */
  version?: boolean;
}

/** The usage text of `inspect`. */
export const INSPECT_HELP = `NAME
 nsjoin inspect - a process's namespaces, user, cgroup and memory beside ours

SYNOPSIS
 nsjoin inspect [options] TARGET [TARGET2]

DESCRIPTION
Show a process's namespaces side by side with ours (or with TARGET2's): which are shared
and which isolated, its user namespace with uid/gid maps, its cgroups, and its memory:
the cgroup's use and limit (v1 or v2) and what \`free\` would report inside.

TARGET is a PID, a namespace file (/proc/PID/ns/TYPE, /run/netns/NAME), netns:NAME,
or a container: docker:NAME|ID, podman:NAME|ID, containerd:ID, a Kubernetes pod's
container (k8s:NAMESPACE/POD[/CONTAINER], k8s:POD, k8s:UID, cri:ID), or a bare name or ID.
Digits are a PID up to 4194304 (the kernel's limit) and a container name or ID prefix above.
Needs -A (it reads /proc).

OPTIONS
 -J, --json    use JSON output format
 -h, --help    display this help
 -V, --version display version

What the target controls (its command line, names, paths) is shown with control bytes
escaped as \\xNN, as lsns does; --json keeps it exact.

EXIT STATUS
 0 shown; 125 the target could not be found; 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin inspect web1                         a container beside this shell
 nsjoin inspect 4242 netns:blue --json       two targets side by side, as JSON`;

/** `inspect`'s options, for the parser and the shell completions. */
export const INSPECT_OPTIONS = {
  json: { type: "boolean", short: "J" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

/**
 * Parses `inspect`'s arguments.
 *
 * @param argv the arguments after `inspect`
 * @returns the parsed options
 * @throws {UsageError} on an unknown option, a missing or extra target
 */
export function parseInspectArgs(argv: readonly string[]): InspectArgs {
  const { values, positionals } = parseOptions(argv, INSPECT_OPTIONS, { allowPositionals: true });
  if (values.help) return { target: 0, json: false, help: true };
  if (values.version) return { target: 0, json: false, help: false, version: true };
  if (positionals.length === 0) {
    throw new UsageError("no target given: give a PID, a container or a namespace file");
  }
  if (positionals.length > 2) {
    throw new UsageError(`too many targets: ${positionals.slice(2).join(" ")}`);
  }
  const target = (t: string): number | string => {
    if (t.startsWith("netns:")) return t;
    // Digits a PID can be; a path; a negative number (refused). Anything else, a docker ID
    // prefix that starts with a digit (23770d75e885) or has more digits than a PID, is a
    // container, as for exec.
    if (isPidText(t) || /^[/.]/.test(t) || /^-[0-9]/.test(t)) {
      try {
        return parseTarget(t);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    }
    return t; // a container reference, resolved when run
  };
  return {
    target: target(positionals[0]),
    other: positionals[1] === undefined ? undefined : target(positionals[1]),
    json: values.json ?? false,
    help: false,
  };
}

/**
 * Bytes in binary units, one decimal, as `free -h` reads: 67108864 → "64.0 MiB".
 *
 * @param n bytes, or null for an empty cell
 * @returns the text ("" for null)
 */
export function formatBytes(n: number | null): string {
  if (n === null) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

function _maps(m: IdMapEntry[] | null | undefined): string {
  if (!m) return "";
  return m.map((e) => `${e.inside} ${e.outside} ${e.count}`).join(", ");
}

/** A side's name: as written for a path or a container (names are case-sensitive). */
function _title(s: InspectedSide, heading = false): string {
  if (s.kind === "file") return escapeTerminal(s.path ?? "");
  if (s.container) {
    return escapeTerminal(
      `${s.container.engine}:${s.container.name ?? s.container.id.slice(0, 12)}`,
    );
  }
  const t = s.kind === "self" ? `caller (pid ${s.pid})` : `pid ${s.pid}`;
  return heading ? t.toUpperCase() : t;
}

/**
 * The human report of an inspection: one table, target and other side by side, then one
 * line per finding a reader should not miss (a memory limit `free` inside cannot see).
 *
 * @param r the inspection
 * @param color bold headings
 * @returns the text
 */
export function inspectText(r: Inspection, color = false): string {
  const a = r.target, b = r.other;
  const rows: string[][] = [];
  const row = (field: string, x: string, y: string, same = "") => rows.push([field, same, x, y]);
  // The whole command line is in --json; a table cell keeps its first 40 characters.
  const cmd = (c: string | null) =>
    !c ? "" : escapeTerminal([...c].length > 40 ? `${[...c].slice(0, 39).join("")}…` : c);
  if (a.kind !== "file" || b.kind !== "file") {
    row("command", cmd(a.command), cmd(b.command));
    row(
      "user",
      a.user === null ? "" : escapeTerminal(`${a.user} (${a.uid})`),
      b.user === null ? "" : escapeTerminal(`${b.user} (${b.uid})`),
    );
  }
  for (const n of r.namespaces) {
    if (n.target === null && n.other === null) continue;
    row(
      `ns ${n.type}`,
      n.target === null ? "" : String(n.target),
      n.other === null ? "" : String(n.other),
      n.shared === null ? "" : n.shared ? "shared" : "isolated",
    );
  }
  const ua = a.userNamespace, ub = b.userNamespace;
  const owner = (u: typeof ua) => u?.ownerUid == null ? "" : `uid ${u.ownerUid}`;
  row("userns owner", owner(ua), owner(ub));
  row("userns parent", ua ? String(ua.parent) : "", ub ? String(ub.parent) : "");
  row("uid_map", _maps(ua?.uidMap), _maps(ub?.uidMap));
  row("gid_map", _maps(ua?.gidMap), _maps(ub?.gidMap));
  const hierarchies = [
    ...new Set([...(a.cgroups ?? []), ...(b.cgroups ?? [])].map((c) => c.hierarchy)),
  ].sort((x, y) => y - x);
  for (const h of hierarchies) {
    const ca = a.cgroups?.find((c) => c.hierarchy === h);
    const cb = b.cgroups?.find((c) => c.hierarchy === h);
    const name = (ca ?? cb)!.controllers.join(",") || "v2";
    row(
      `cgroup ${escapeTerminal(name)}`,
      escapeTerminal(ca?.path ?? ""),
      escapeTerminal(cb?.path ?? ""),
    );
  }
  const ma = a.memory, mb = b.memory;
  if (ma || mb) {
    const v = (m: typeof ma) => m?.cgroupVersion ? `v${m.cgroupVersion}` : "";
    row("memory cgroup", v(ma), v(mb));
    row("memory usage", formatBytes(ma?.usage ?? null), formatBytes(mb?.usage ?? null));
    const lim = (m: typeof ma) => !m ? "" : m.limit === null ? "unlimited" : formatBytes(m.limit);
    row("memory limit", lim(ma), lim(mb));
    row("free total", formatBytes(ma?.free?.total ?? null), formatBytes(mb?.free?.total ?? null));
    row("free used", formatBytes(ma?.free?.used ?? null), formatBytes(mb?.free?.used ?? null));
    row(
      "free available",
      formatBytes(ma?.free?.available ?? null),
      formatBytes(mb?.free?.available ?? null),
    );
  }
  const text = formatTable(
    ["FIELD", "NS", _title(a, true), _title(b, true)],
    rows.map((cells) => ({ cells })),
    { color },
  );
  const notes: string[] = [];
  for (const s of [a, b]) {
    const m = s.memory;
    if (m && !m.limitVisibleInside && m.free && m.limit !== null) {
      notes.push(
        `note: inside ${_title(s)}, free reports ${formatBytes(m.free.total)} total but its ` +
          `cgroup allows ${formatBytes(m.limit)}: programs that size themselves from ` +
          `/proc/meminfo can overrun it and be OOM-killed`,
      );
    }
  }
  return [text, ...notes].join("\n");
}

/**
 * `nsjoin inspect`: a target's namespaces, user namespace, cgroups and memory side by side
 * with ours or another target's.
 *
 * @param argv the arguments after `inspect`
 * @returns the exit code
 */
export async function inspect(argv: readonly string[]): Promise<number> {
  try {
    const args = parseInspectArgs(argv);
    if (args.help) {
      console.log(INSPECT_HELP);
      return 0;
    }
    if (args.version) {
      console.log(versionText("inspect"));
      return 0;
    }
    const pinned: PinnedProcess[] = [];
    let result: Inspection;
    try {
      const a = await _resolve(args.target, pinned);
      const b = args.other === undefined ? undefined : await _resolve(args.other, pinned);
      result = inspectTarget(a, b);
    } finally {
      for (const p of pinned) p.close();
    }
    if (args.json) console.log(jsonForTerminal(result, 2));
    else {
      const color = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
      console.log(inspectText(result, color));
    }
    return 0;
  } catch (error) {
    return report(error, "inspect");
  }
}

/** A PID or path as is; netns:NAME as its file; anything else names a container. */
async function _resolve(
  t: number | string,
  pinned: PinnedProcess[],
): Promise<number | string | PinnedProcess> {
  if (typeof t === "number" || /^[/.]/.test(t)) return t;
  if (t.startsWith("netns:")) return netnsPath(t.slice("netns:".length));
  // Loaded on use: the engines' code is not needed for a PID or a file.
  const { resolveContainer } = await import("../containers.ts");
  const container = await resolveContainer(t);
  pinned.push(container);
  return container;
}
