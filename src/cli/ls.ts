import {
  listNamespaces,
  type NamespaceEntry,
  type NamespaceMembers,
  type NamespaceNode,
  type NamespaceProcess,
  namespaceTree,
  processesInNamespace,
  type TreeRelation,
} from "../listing.ts";
import { NAMESPACE_TYPES, type NamespaceType } from "../namespaces.ts";
import { parseOptions } from "./_args.ts";
import { report, UsageError } from "./_run.ts";

/** lsns's columns, in its order. */
export const LS_COLUMNS = [
  "NS",
  "TYPE",
  "PATH",
  "NPROCS",
  "PID",
  "PPID",
  "COMMAND",
  "UID",
  "USER",
  "NETNSID",
  "NSFS",
  "PNS",
  "ONS",
] as const;

/** A column of `ls`: lsns's, and HOLDER (what keeps the namespace alive), which is ours. */
export type LsColumn = typeof LS_COLUMNS[number] | "HOLDER";

const _ALL_COLUMNS: readonly LsColumn[] = [...LS_COLUMNS, "HOLDER"];

// Right-aligned in tables, as lsns.
const _RIGHT = new Set<LsColumn>(["NS", "NPROCS", "PID", "PPID", "UID", "NETNSID", "PNS", "ONS"]);

/** `ls`'s options, parsed: lsns's dialect. */
export interface LsArgs {
  /** -t, repeatable; empty: all types. */
  types: NamespaceType[];
  /** -p */
  pid?: number;
  /** A namespace's inode (lsns NS): list its processes instead. */
  namespace?: number;
  /** The columns, after -o (and +COL) and lsns's defaults. */
  columns: LsColumn[];
  /** -J */
  json: boolean;
  /** -r */
  raw: boolean;
  /** -n */
  noHeadings: boolean;
  /** -u */
  noTruncate: boolean;
  /** -W (and -r): several NSFS mount points on one line. */
  noWrap: boolean;
  /** The tree: --tree[=REL], or "process" by default as lsns; undefined with -l. */
  tree?: TreeRelation;
  /** -P: only namespaces without processes. */
  persistent: boolean;
  /** -h */
  help: boolean;
}

/** The usage text of `ls`. */
export const LS_HELP = `NAME
 nsjoin ls - list namespaces (lsns's columns and options)

SYNOPSIS
 nsjoin ls [options] [<namespace>]

DESCRIPTION
List namespaces: every namespace of every process (as lsns), and those held only by a
bind mount (/run/netns/NAME), an open fd, or a child namespace. With <namespace> (an
inode number, lsns's NS), list the processes in that namespace. Needs -A (it reads all of /proc).

OPTIONS
 -J, --json             use JSON output format (the keys and nesting of lsns -J)
 -l, --list             use list format output (no tree)
 -n, --noheadings       don't print headings
 -o, --output <list>    define which output columns to use (+COL adds to the defaults)
     --output-all       output all columns
 -P, --persistent       only namespaces without processes
 -p, --task <pid>       print process namespaces
 -r, --raw              use the raw output format
 -u, --notruncate       don't truncate text in columns
 -W, --nowrap           don't use multi-line representation
 -t, --type <name>      namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)
 -T, --tree[=<rel>]     use tree format (parent, owner, or process)
 -h, --help             display this help

Columns: ${LS_COLUMNS.join(", ")}; and HOLDER: process, mount, fd
or ancestor (kept alive only as the parent or owner of another namespace).
Processes that vanish during the scan or may not be read are skipped; a note on stderr
says how many.

EXIT STATUS
 0 listed; 1 the listing failed; 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin ls -t net                            every network namespace
 nsjoin ls -J -o NS,TYPE,PID,NETNSID         JSON, chosen columns
 nsjoin ls 4026531840                        the processes in one namespace`;

/** `ls`'s options (lsns's), for the parser and the shell completions. */
export const LS_OPTIONS = {
  json: { type: "boolean", short: "J" },
  list: { type: "boolean", short: "l" },
  noheadings: { type: "boolean", short: "n" },
  output: { type: "string", short: "o" },
  "output-all": { type: "boolean" },
  persistent: { type: "boolean", short: "P" },
  task: { type: "string", short: "p" },
  raw: { type: "boolean", short: "r" },
  notruncate: { type: "boolean", short: "u" },
  nowrap: { type: "boolean", short: "W" },
  type: { type: "string", short: "t", multiple: true },
  tree: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `ls`'s arguments (lsns's options). `--tree` takes an
 * optional value, which the option table cannot express: a bare `--tree`/`-T` is rewritten to
 * `--tree=owner` (lsns's default) first.
 *
 * @param argv the arguments after `ls`
 * @returns the parsed options
 * @throws {UsageError} on an unknown option, column, type or tree
 */
export function parseLsArgs(argv: readonly string[]): LsArgs {
  const args = argv.map((a) =>
    a === "--tree" || a === "-T" ? "--tree=owner" : /^-T./.test(a) ? `--tree=${a.slice(2)}` : a
  );
  const { values, positionals } = parseOptions(args, LS_OPTIONS, { allowPositionals: true });
  if (positionals.length > 1) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}`);
  }
  let namespace: number | undefined;
  if (positionals.length === 1) {
    if (!/^[0-9]+$/.test(positionals[0]) || Number(positionals[0]) <= 0) {
      throw new UsageError(`invalid namespace argument: ${JSON.stringify(positionals[0])}`);
    }
    if (values.task !== undefined) {
      throw new UsageError("--task is mutually exclusive with <namespace>");
    }
    namespace = Number(positionals[0]);
  }
  if (values.json && values.raw) throw new UsageError("options --json and --raw are exclusive");
  if (values.list && values.tree) throw new UsageError("options --list and --tree are exclusive");
  if (values.persistent && values.task) {
    throw new UsageError("options --persistent and --task are exclusive");
  }
  const types: NamespaceType[] = [];
  for (const t of values.type ?? []) {
    if (!(NAMESPACE_TYPES as readonly string[]).includes(t)) {
      throw new UsageError(`unknown namespace type: ${t}`);
    }
    if (!types.includes(t as NamespaceType)) types.push(t as NamespaceType);
  }
  let pid: number | undefined;
  if (values.task !== undefined) {
    if (!/^[0-9]+$/.test(values.task) || Number(values.task) <= 0) {
      throw new UsageError(`invalid PID argument: ${JSON.stringify(values.task)}`);
    }
    pid = Number(values.task);
  }
  let tree: TreeRelation | undefined;
  if (values.tree !== undefined) {
    if (!["process", "parent", "owner"].includes(values.tree)) {
      throw new UsageError(`unknown tree type: ${values.tree}`);
    }
    tree = values.tree as TreeRelation;
  } else if (!values.list) {
    tree = "process";
  }
  const defaults: LsColumn[] = namespace !== undefined
    ? ["PID", "PPID", "USER", "COMMAND"]
    : ["NS", "TYPE", "NPROCS", "PID", "USER"];
  if (namespace === undefined && types.includes("net")) defaults.push("NETNSID", "NSFS");
  if (namespace === undefined) defaults.push("COMMAND");
  let columns = values["output-all"] ? [...LS_COLUMNS] : defaults;
  if (values.output !== undefined) {
    const list = values.output.startsWith("+") ? values.output.slice(1) : values.output;
    const named = list.split(",").filter((c) => c !== "").map((c) => {
      const col = _ALL_COLUMNS.find((k) => k === c.toUpperCase());
      if (!col) throw new UsageError(`unknown column: ${c}`);
      return col;
    });
    columns = values.output.startsWith("+") ? [...columns, ...named] : named;
  }
  if (namespace !== undefined) {
    const other = columns.find((c) => ["NETNSID", "NSFS", "PNS", "ONS"].includes(c));
    if (other) throw new UsageError(`column ${other} is not available with <namespace>`);
  }
  return {
    types,
    pid,
    namespace,
    columns,
    json: values.json ?? false,
    raw: values.raw ?? false,
    noHeadings: values.noheadings ?? false,
    noTruncate: values.notruncate ?? false,
    noWrap: (values.nowrap ?? false) || (values.raw ?? false),
    tree,
    persistent: values.persistent ?? false,
    help: values.help ?? false,
  };
}

/** A cell of a row, as lsns -J types it (numbers, strings); null when empty. */
function _cell(e: NamespaceEntry, col: LsColumn, sep: string): string | number | null {
  switch (col) {
    case "NS":
      return e.ns;
    case "TYPE":
      return e.type;
    case "PATH":
      return e.path;
    case "NPROCS":
      return e.nprocs;
    case "PID":
      return e.pid;
    case "PPID":
      return e.ppid;
    case "COMMAND":
      return e.command;
    case "UID":
      return e.uid;
    case "USER":
      return e.user;
    case "NETNSID":
      return e.netnsid === null ? null : String(e.netnsid);
    case "NSFS":
      return e.nsfs.length ? e.nsfs.join(sep) : null;
    case "PNS":
      return e.pns;
    case "ONS":
      return e.ons;
    case "HOLDER":
      return e.holder;
  }
}

/** A JSON row as lsns -J writes it: lower-case keys in column order, children nested. */
export interface LsJsonRow {
  [key: string]: string | number | null | LsJsonRow[];
}

/**
 * The `ls --json` document: `{ "namespaces": [...] }` with lsns -J's keys, types and
 * nesting (a tree nests only when its tree column is shown: COMMAND for the process tree,
 * NS for the parent and owner trees, as lsns does).
 *
 * @param rows the namespaces, or the roots of a tree
 * @param columns the columns
 * @returns the document, ready for JSON.stringify
 */
export function lsJson(
  rows: readonly (NamespaceEntry | NamespaceNode)[],
  columns: readonly LsColumn[],
): { namespaces: LsJsonRow[] } {
  const toRow = (e: NamespaceEntry | NamespaceNode): LsJsonRow => {
    const row: LsJsonRow = {};
    for (const col of columns) row[col.toLowerCase()] = _cell(e, col, "\n");
    const children = "children" in e ? e.children : [];
    if (children.length > 0) row.children = children.map(toRow);
    return row;
  };
  return { namespaces: rows.map(toRow) };
}

interface _Line {
  cells: string[];
  prefix: string;
}

/**
 * A table as lsns prints it: one space between columns, numbers right-aligned, the last
 * column unpadded, tree art in the tree column; raw mode escapes blanks and non-ASCII
 * bytes as \xHH and aligns nothing. Hand-written: console.table draws boxes and quotes
 * strings, which neither people used to lsns nor scripts reading its columns expect.
 *
 * @param header the column names
 * @param lines the cells of each row, with the tree prefix of its tree column
 * @param opts right-aligned columns, the tree column, raw, headings, truncation and colour
 * @returns the text, without a trailing newline
 */
export function formatTable(
  header: readonly string[],
  lines: readonly { cells: readonly string[]; prefix?: string }[],
  opts: {
    right?: ReadonlySet<number>;
    treeColumn?: number;
    truncate?: number;
    truncateColumn?: number;
    raw?: boolean;
    noHeadings?: boolean;
    color?: boolean;
  } = {},
): string {
  const tc = opts.treeColumn ?? -1;
  const rows = lines.map((l) => l.cells.map((c, i) => (i === tc ? (l.prefix ?? "") + c : c)));
  const out: string[] = [];
  if (opts.raw) {
    if (!opts.noHeadings) out.push(header.join(" "));
    for (const r of rows) out.push(r.map(_rawEscape).join(" "));
    return out.join("\n");
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => _width(r[i]))));
  const cut = opts.truncateColumn ?? -1;
  if (opts.truncate !== undefined && opts.truncate > 0 && cut >= 0) {
    const total = widths.reduce((a, b) => a + b, 0) + widths.length - 1;
    if (total > opts.truncate) {
      widths[cut] = Math.max(header[cut].length, widths[cut] - (total - opts.truncate));
    }
    for (const r of rows) r[cut] = _cut(r[cut], widths[cut]);
  }
  const fmt = (cells: readonly string[]): string =>
    cells.map((c, i) => {
      if (i === cells.length - 1 && !opts.right?.has(i)) return c;
      const pad = " ".repeat(Math.max(0, widths[i] - _width(c)));
      return opts.right?.has(i) && i !== tc ? pad + c : c + pad;
    }).join(" ");
  if (!opts.noHeadings) {
    const h = fmt(header).trimEnd();
    out.push(opts.color ? `\x1b[1m${h}\x1b[0m` : h);
  }
  for (const r of rows) out.push(fmt(r).trimEnd());
  return out.join("\n");
}

function _width(s: string): number {
  // Tree art is one column per code point; nothing else here is wide.
  return [...s].length;
}

function _cut(s: string, width: number): string {
  const chars = [...s];
  return chars.length <= width ? s : chars.slice(0, width).join("");
}

const _utf8 = new TextEncoder();

function _rawEscape(s: string): string {
  let out = "";
  for (const b of _utf8.encode(s)) {
    out += b > 0x20 && b < 0x7f && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * The human table of a listing or tree, as lsns prints it.
 *
 * @param rows the namespaces, or the roots of a tree
 * @param args the parsed options (columns, raw, headings, tree)
 * @param width the terminal width to truncate COMMAND to (0: never)
 * @param color bold headings
 * @returns the table text
 */
export function lsTable(
  rows: readonly (NamespaceEntry | NamespaceNode)[],
  args: LsArgs,
  width = 0,
  color = false,
): string {
  // lsns wraps several NSFS mount points onto lines of their own; one line reads better.
  const sep = ",";
  const treeColumn = args.tree === "process"
    ? args.columns.indexOf("COMMAND")
    : args.tree
    ? args.columns.indexOf("NS")
    : -1;
  const lines: _Line[] = [];
  const walk = (e: NamespaceEntry | NamespaceNode, prefix: string, branch: string): void => {
    lines.push({
      cells: args.columns.map((c) => {
        const v = _cell(e, c, sep);
        return v === null ? "" : String(v);
      }),
      prefix: prefix + branch,
    });
    const children = "children" in e ? e.children : [];
    const next = prefix + (branch === "├─" ? "│ " : branch === "└─" ? "  " : "");
    children.forEach((c, i) => walk(c, next, i === children.length - 1 ? "└─" : "├─"));
  };
  for (const r of rows) walk(r, "", "");
  const right = new Set(
    args.columns.map((c, i) => (_RIGHT.has(c) ? i : -1)).filter((i) => i >= 0),
  );
  return formatTable(args.columns, lines, {
    right,
    treeColumn,
    truncate: args.noTruncate ? 0 : width,
    truncateColumn: args.columns.indexOf("COMMAND"),
    raw: args.raw,
    noHeadings: args.noHeadings,
    color,
  });
}

/**
 * `nsjoin ls`: lsns's options and output, plus namespaces without processes.
 *
 * @param argv the arguments after `ls`
 * @returns the exit code
 */
export function ls(argv: readonly string[]): Promise<number> {
  try {
    const args = parseLsArgs(argv);
    if (args.help) {
      console.log(LS_HELP);
      return Promise.resolve(0);
    }
    if (args.namespace !== undefined) {
      const members = processesInNamespace(args.namespace);
      const nest = args.tree === "process" && args.columns.includes("COMMAND");
      _print(_memberRows(members, nest), args, nest);
      const unreadable = members.skipped.unreadable;
      if (unreadable > 0) {
        console.error(`nsjoin ls: note: ${unreadable} unreadable processes are not counted`);
      }
      return Promise.resolve(0);
    }
    const listing = listNamespaces({
      types: args.types.length ? args.types : undefined,
      pid: args.pid,
    });
    if (args.persistent) {
      listing.namespaces = listing.namespaces.filter((e) => e.holder !== "process");
    }
    // A tree nests only through its tree column, as lsns (libsmartcols) does.
    const treeCol = args.tree === "process" ? "COMMAND" : "NS";
    const nest = args.tree !== undefined && args.columns.includes(treeCol);
    const rows = nest ? namespaceTree({ by: args.tree, from: listing }) : listing.namespaces;
    _print(rows, args, nest);
    for (const note of listing.notes) console.error(`nsjoin ls: note: ${note}`);
    return Promise.resolve(0);
  } catch (error) {
    return Promise.resolve(report(error, "ls"));
  }
}

function _print(rows: (NamespaceEntry | NamespaceNode)[], args: LsArgs, nest: boolean): void {
  if (args.json) {
    console.log(JSON.stringify(lsJson(rows, args.columns), null, 3));
    return;
  }
  const tty = Deno.stdout.isTerminal();
  const width = tty ? Deno.consoleSize().columns : 0;
  const color = tty && !Deno.env.get("NO_COLOR");
  const text = lsTable(rows, nest ? args : { ...args, tree: undefined }, width, color);
  if (text) console.log(text);
}

/** The processes of one namespace as rows (nested by parent process for the tree). */
function _memberRows(m: NamespaceMembers, nest: boolean): NamespaceNode[] {
  const row = (p: NamespaceProcess): NamespaceNode => ({
    ns: m.ns,
    type: m.type,
    path: p.path,
    nprocs: m.nprocs,
    pid: p.pid,
    ppid: p.ppid,
    command: p.command,
    uid: p.uid,
    user: p.user,
    netnsid: null,
    nsfs: [],
    pns: 0,
    ons: 0,
    holder: "process",
    children: nest ? p.children.map(row) : [],
  });
  if (nest) return m.roots.map(row);
  const flat: NamespaceProcess[] = [];
  const walk = (ps: NamespaceProcess[]) => ps.forEach((p) => (flat.push(p), walk(p.children)));
  walk(m.roots);
  return flat.sort((a, b) => a.pid - b.pid).map(row);
}
