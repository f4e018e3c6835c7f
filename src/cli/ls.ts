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
import { NamespaceError } from "../errors.ts";
import { threadOf } from "../_proc.ts";
import { NAMESPACE_TYPES, type NamespaceType } from "../namespaces.ts";
import { escapedByte, escapeTerminal, jsonForTerminal } from "../terminal.ts";
import { cNumber, expandLongOption, parseOptions } from "./_args.ts";
import { report, UsageError } from "./_run.ts";
import {
  FilterSyntaxError,
  type FilterType,
  parseFilter,
  type RowFilter,
} from "./_scols_filter.ts";
import { versionText } from "./_version.ts";

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

// lsns's width hints (libsmartcols whint): the narrowest a column is drawn when its header
// and data are narrower still.
const _HINTS: Partial<Record<LsColumn, number>> = {
  NS: 10,
  TYPE: 5,
  NPROCS: 5,
  PID: 5,
  PPID: 5,
  PNS: 10,
  ONS: 10,
};

// Right-aligned in tables, as lsns.
const _RIGHT = new Set<LsColumn>(["NS", "NPROCS", "PID", "PPID", "UID", "NETNSID", "PNS", "ONS"]);

/** Each column's type (for -Q and -H) and description, lsns's words (HOLDER is ours). */
export const LS_COLUMN_INFO: Readonly<Record<LsColumn, { type: FilterType; help: string }>> = {
  NS: { type: "integer", help: "namespace identifier (inode number)" },
  TYPE: { type: "string", help: "kind of namespace" },
  PATH: { type: "string", help: "path to the namespace" },
  NPROCS: { type: "integer", help: "number of processes in the namespace" },
  PID: { type: "integer", help: "lowest PID in the namespace" },
  PPID: { type: "integer", help: "PPID of the PID" },
  COMMAND: { type: "string", help: "command line of the PID" },
  UID: { type: "integer", help: "UID of the PID" },
  USER: { type: "string", help: "username of the PID" },
  NETNSID: { type: "string", help: "namespace ID as used by network subsystem" },
  NSFS: { type: "string", help: "nsfs mountpoint (usually used network subsystem)" },
  PNS: { type: "integer", help: "parent namespace identifier (inode number)" },
  ONS: { type: "integer", help: "owner namespace identifier (inode number)" },
  HOLDER: {
    type: "string",
    help: "what keeps it alive: process, mount, fd, socket or ancestor (nsjoin)",
  },
};

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
  /** -Q: the filter expression, parsed. */
  filter?: RowFilter;
  /** -H: list the columns instead. */
  listColumns: boolean;
  /** --notes: say on stderr what could not be read (lsns stays silent). */
  notes: boolean;
  /** -h */
  help: boolean;
  /** -V */
  version: boolean;
}

/** The usage text of `ls`. */
export const LS_HELP = `NAME
 nsjoin ls - list namespaces (lsns's columns and options)

SYNOPSIS
 nsjoin ls [options] [<namespace>]

DESCRIPTION
List namespaces: every namespace of every process (as lsns), and those held only by a
bind mount (/run/netns/NAME), an open fd, or a child namespace. With <namespace> (an
inode number, lsns's NS), list the processes in that namespace. Needs -A (it reads all of
/proc).

OPTIONS
 -J, --json             use JSON output format (the keys and nesting of lsns -J)
 -l, --list             use list format output (no tree)
 -n, --noheadings       don't print headings
 -o, --output <list>    define which output columns to use (+COL adds to the defaults)
     --output-all       output all columns
 -P, --persistent       only namespaces without processes
 -p, --task <pid>       print process namespaces
 -Q, --filter <expr>    apply display filter (scols-filter(5): NPROCS > 1 && TYPE == "net")
 -r, --raw              use the raw output format
 -u, --notruncate       don't truncate text in columns
 -W, --nowrap           don't use multi-line representation
 -t, --type <name>      namespace type (mnt, net, ipc, user, pid, uts, cgroup, time)
 -T, --tree[=<rel>]     use tree format (parent, owner, or process)
     --notes            say on stderr what could not be read (unreadable processes...)
 -H, --list-columns     list the available columns
 -h, --help             display this help
 -V, --version          display version

Columns: ${LS_COLUMNS.slice(0, 9).join(", ")},
${LS_COLUMNS.slice(9).join(", ")}; and HOLDER: process, mount, fd, socket or ancestor (kept
alive only as the parent or owner of another namespace).
Processes that vanish during the scan or may not be read are skipped silently, as lsns
does; --notes says how many.

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
  filter: { type: "string", short: "Q" },
  raw: { type: "boolean", short: "r" },
  notruncate: { type: "boolean", short: "u" },
  nowrap: { type: "boolean", short: "W" },
  type: { type: "string", short: "t", multiple: true },
  tree: { type: "string" },
  notes: { type: "boolean" },
  "list-columns": { type: "boolean", short: "H" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
} as const;

// lsns's long options, which getopt_long lets a user abbreviate; --notes is ours, spelled out
// (so that `--not` stays lsns's --notruncate).
const _LSNS_LONG = Object.keys(LS_OPTIONS).filter((n) => n !== "notes");
const _expandLs = (name: string) =>
  expandLongOption(name, Object.keys(LS_OPTIONS), _LSNS_LONG) ?? name;

const _NO_LS_ARGS: LsArgs = {
  types: [],
  columns: [],
  json: false,
  raw: false,
  noHeadings: false,
  noTruncate: false,
  noWrap: false,
  persistent: false,
  listColumns: false,
  notes: false,
  help: false,
  version: false,
};

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
  // -T takes an optional value: "-T" alone is lsns's default (owner); "-Tparent" and
  // "-T=parent" (lsns skips a leading "=") name one.
  // Its abbreviations too (`--tr`), up to "--", which ends the options.
  const end = argv.indexOf("--");
  const args = argv.map((a, i) =>
    (end >= 0 && i > end) || !/^-(-[^=]+|T)$|^-T./.test(a)
      ? a
      : a === "-T" || (a.startsWith("--") && _expandLs(a.slice(2)) === "tree")
      ? "--tree=owner"
      : a.startsWith("-T")
      ? `--tree=${a.slice(a[2] === "=" ? 3 : 2)}`
      : a
  );
  const { values, positionals } = parseOptions(args, LS_OPTIONS, {
    allowPositionals: true,
    abbreviable: _LSNS_LONG,
    utilLinux: true,
    stopAt: ["help", "version", "list-columns"],
  });
  // What lsns checks as getopt meets each option (so before -h, -V or -H ends the loop):
  // exclusive pairs, -t's type, -p's number, -T's relation.
  // In lsns's words (util-linux's err_exclusive_options): the group's options in its order.
  if (values.json && values.raw) throw new UsageError("mutually exclusive arguments: --json --raw");
  if (values.persistent && values.task) {
    throw new UsageError("mutually exclusive arguments: --persistent --task");
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
    // lsns reads -p with strtos32: leading blanks and a sign, up to 32 bits; a PID no
    // process has (`-p -1` too) lists nothing, exit 0. 0, which lsns reads as no -p at all,
    // is refused (README, Differences from util-linux).
    const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)$/.exec(values.task);
    const n = m ? Number(m[1]) : 0;
    // lsns's words (util-linux's strtos32_or_err), quoted as it quotes: 'abc'.
    if (n === 0 || n < -2147483648 || n > 2147483647) {
      throw new UsageError(
        `invalid PID argument: '${values.task}'${n === 0 ? "" : ": Numerical result out of range"}`,
      );
    }
    pid = n;
  }
  if (values.tree !== undefined && !["process", "parent", "owner"].includes(values.tree)) {
    throw new UsageError(`unknown tree type: ${values.tree}`);
  }
  // -h, -V and -H act at once, as lsns's getopt loop meets them: nothing after them is read
  // (parseOptions stopped there), nor <namespace> or -o's columns.
  if (values.help || values.version || values["list-columns"]) {
    return {
      ..._NO_LS_ARGS,
      json: values.json ?? false,
      raw: values.raw ?? false,
      listColumns: values["list-columns"] ?? false,
      help: values.help ?? false,
      version: values.version ?? false,
    };
  }
  if (positionals.length > 0 && values.task !== undefined) {
    throw new UsageError("--task is mutually exclusive with <namespace>");
  }
  if (positionals.length > 1) {
    // `-T parent` leaves "parent" a word of its own (-T's value is optional), which lsns
    // ignores: say how to give it.
    const hint =
      values.tree !== undefined && ["process", "parent", "owner"].includes(positionals[1])
        ? ` (-T takes its relation attached: -T${positionals[1]} or --tree=${positionals[1]})`
        : "";
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[1])}${hint}`);
  }
  let namespace: number | undefined;
  if (positionals.length === 1) {
    // lsns reads <namespace> with strtou64: leading blanks and a "+" too. 0 (lsns: no
    // <namespace>) and an id no inode number reaches exactly here are refused.
    const digits = cNumber(positionals[0]);
    const n = Number(digits ?? 0);
    if (n <= 0 || !Number.isSafeInteger(n)) {
      throw new UsageError(`invalid namespace argument: '${positionals[0]}'`);
    }
    namespace = n;
  }
  // lsns: an explicit --tree wins over --list (2.38 accepts both); without either, the
  // process tree, except with --output-all, which lists flat.
  let tree: TreeRelation | undefined;
  if (values.tree !== undefined) {
    tree = values.tree as TreeRelation;
  } else if (!values.list && (namespace !== undefined || !values["output-all"])) {
    tree = "process";
  }
  const defaults: LsColumn[] = namespace !== undefined
    ? ["PID", "PPID", "USER", "COMMAND"]
    : ["NS", "TYPE", "NPROCS", "PID", "USER"];
  if (namespace === undefined && types.includes("net")) defaults.push("NETNSID", "NSFS");
  if (namespace === undefined) defaults.push("COMMAND");
  let columns = values["output-all"] ? [...LS_COLUMNS] as LsColumn[] : defaults;
  if (values.output !== undefined) {
    const list = values.output.startsWith("+") ? values.output.slice(1) : values.output;
    const named = list.split(",").map((c) => {
      const col = _ALL_COLUMNS.find((k) => k === c.toUpperCase());
      // lsns refuses an empty name too (`-o ''`, `-o NS,`), though without a word: say it.
      if (!col) {
        throw new UsageError(
          c ? `unknown column: ${c}` : `empty column name in ${JSON.stringify(values.output)}`,
        );
      }
      return col;
    });
    columns = values.output.startsWith("+") ? [...columns, ...named] : named;
  }
  let filter: RowFilter | undefined;
  if (values.filter !== undefined) {
    try {
      filter = parseFilter(
        values.filter,
        Object.fromEntries(_ALL_COLUMNS.map((c) => [c, LS_COLUMN_INFO[c].type])),
      );
    } catch (error) {
      if (!(error instanceof FilterSyntaxError)) throw error;
      throw new UsageError(
        `failed to parse ${JSON.stringify(escapeTerminal(values.filter))}: ${error.message}`,
      );
    }
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
    filter,
    listColumns: values["list-columns"] ?? false,
    notes: values.notes ?? false,
    help: values.help ?? false,
    version: values.version ?? false,
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

/** How the tree is drawn: UTF-8 box drawing, or ASCII under a non-UTF-8 locale (as lsns). */
export interface TreeArt {
  /** A child that has siblings after it. */
  branch: string;
  /** The last child. */
  last: string;
  /** Below a child with siblings after it. */
  vertical: string;
}

const _UTF8_ART: TreeArt = { branch: "├─", last: "└─", vertical: "│ " };
const _ASCII_ART: TreeArt = { branch: "|-", last: "`-", vertical: "| " };

/**
 * Whether the locale's character set is UTF-8, as setlocale(LC_ALL, "") decides it for
 * lsns: LC_ALL, else LC_CTYPE, else LANG; unset, "C" and "POSIX" are ASCII.
 *
 * @param env the environment to read (default: this process's)
 * @returns true for a UTF-8 locale
 */
export function utf8Locale(env: (name: string) => string | undefined = Deno.env.get): boolean {
  const name = env("LC_ALL") || env("LC_CTYPE") || env("LANG") || "C";
  return /\.utf-?8(@|$)/i.test(name);
}

/**
 * A table as lsns prints it: one space between columns, numbers right-aligned, the last
 * column unpadded, tree art in the tree column, a cell with newlines (NSFS) on lines of its
 * own; raw mode escapes blanks and non-ASCII bytes as \xHH and aligns nothing. The cells
 * must be escaped already (escapeTerminal). Hand-written: console.table draws boxes and
 * quotes strings, which neither people used to lsns nor scripts reading its columns expect.
 *
 * @param header the column names
 * @param lines the cells of each row, with the tree prefix of its tree column
 * @param opts right-aligned columns, the tree column, raw, headings, truncation and colour
 * @returns the text, without a trailing newline
 */
export function formatTable(
  header: readonly string[],
  lines: readonly { cells: readonly string[]; prefix?: string; next?: string }[],
  opts: {
    right?: ReadonlySet<number>;
    treeColumn?: number;
    truncate?: number;
    truncateColumn?: number;
    raw?: boolean;
    noHeadings?: boolean;
    color?: boolean;
    hints?: readonly number[];
  } = {},
): string {
  const tc = opts.treeColumn ?? -1;
  const out: string[] = [];
  if (opts.raw) {
    if (!opts.noHeadings) out.push(header.join(" "));
    for (const l of lines) {
      out.push(l.cells.map((c, i) => _rawEscape(i === tc ? (l.prefix ?? "") + c : c)).join(" "));
    }
    return out.join("\n");
  }
  // Each row as physical lines: a multi-line cell continues below, the others blank, the
  // tree art continued with its vertical line.
  const rows: string[][] = [];
  for (const l of lines) {
    const parts = l.cells.map((c) => c.split("\n"));
    const height = Math.max(1, ...parts.map((p) => p.length));
    for (let k = 0; k < height; k++) {
      rows.push(parts.map((p, i) => {
        const c = p[k] ?? "";
        if (i !== tc) return c;
        return (k === 0 ? (l.prefix ?? "") : (l.next ?? "")) + c;
      }));
    }
  }
  // libsmartcols: at least the header; a column with a width hint (PID: 5) widens to it
  // when both its data and its header are narrower.
  const widths = header.map((h, i) => {
    const data = Math.max(0, ...rows.map((r) => _width(r[i])));
    const hint = opts.hints?.[i] ?? 0;
    if (data < h.length) return h.length;
    return hint >= 1 && data < hint && h.length < hint ? hint : data;
  });
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
      // The tree column is left-aligned (libsmartcols drops its RIGHT flag), so as the last
      // column it is not padded either (`ls -T -o TYPE,NS`).
      const right = opts.right?.has(i) && i !== tc;
      if (i === cells.length - 1 && (c === "" || !right)) return c;
      const pad = " ".repeat(Math.max(0, widths[i] - _width(c)));
      return right ? pad + c : c + pad;
    }).join(" ");
  if (!opts.noHeadings) {
    const h = fmt(header).trimEnd();
    out.push(opts.color ? `\x1b[1m${h}\x1b[0m` : h);
  }
  // Untrimmed, as libsmartcols writes them: every cell but the last padded, and the
  // separator before an empty last cell (a script diffing lsns's output sees the same bytes).
  for (const r of rows) out.push(fmt(r));
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
  for (const c of s) {
    const byte = escapedByte(c);
    for (const b of byte === undefined ? _utf8.encode(c) : [byte]) {
      out += b > 0x20 && b < 0x7f && b !== 0x5c
        ? String.fromCharCode(b)
        : `\\x${b.toString(16).padStart(2, "0")}`;
    }
  }
  return out;
}

/** Under an ASCII locale lsns cannot print other characters either: \xNN per byte. */
function _asciiEscape(s: string): string {
  return s.replace(/[^\x20-\x7e]/gu, (c) => {
    let out = "";
    for (const b of _utf8.encode(c)) out += `\\x${b.toString(16).padStart(2, "0")}`;
    return out;
  });
}

/**
 * The human table of a listing or tree, as lsns prints it: what processes and other
 * users control (COMMAND, PATH, NSFS, USER) escaped as lsns escapes it.
 *
 * @param rows the namespaces, or the roots of a tree
 * @param args the parsed options (columns, raw, headings, tree, wrap)
 * @param width the terminal width to truncate COMMAND to (0: never)
 * @param color bold headings
 * @param utf8 draw the tree with UTF-8 line art (else ASCII, and non-ASCII text escaped)
 * @returns the table text
 */
export function lsTable(
  rows: readonly (NamespaceEntry | NamespaceNode)[],
  args: LsArgs,
  width = 0,
  color = false,
  utf8 = true,
): string {
  // lsns puts each NSFS mount point on a line of its own, or joins them with "," (-W, -r).
  const sep = args.noWrap ? "," : "\n";
  const art = utf8 ? _UTF8_ART : _ASCII_ART;
  const treeColumn = args.tree === "process"
    ? args.columns.indexOf("COMMAND")
    : args.tree
    ? args.columns.indexOf("NS")
    : -1;
  // Raw output escapes every byte it does not print itself.
  const safe = (s: string): string =>
    args.raw ? s : utf8 ? escapeTerminal(s) : _asciiEscape(escapeTerminal(s));
  const lines: (_Line & { next: string })[] = [];
  const walk = (e: NamespaceEntry | NamespaceNode, prefix: string, branch: string): void => {
    const children = "children" in e ? e.children : [];
    const next = prefix + (branch === art.branch ? art.vertical : branch === art.last ? "  " : "");
    lines.push({
      cells: args.columns.map((c) => {
        if (c === "NSFS") return e.nsfs.map((m) => safe(m)).join(sep);
        const v = _cell(e, c, sep);
        return v === null ? "" : safe(String(v));
      }),
      prefix: prefix + branch,
      next: children.length > 0 ? next + art.vertical : next,
    });
    children.forEach((c, i) => walk(c, next, i === children.length - 1 ? art.last : art.branch));
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
    hints: args.columns.map((c) => _HINTS[c] ?? 0),
  });
}

/**
 * The `ls -H` table: every column with its type and description, as lsns lists them
 * (no headings; `-J` gives `{"lsns-columns": [{holder, type, description}]}`).
 *
 * @param args the parsed options (json, raw)
 * @returns the text
 */
export function lsColumnList(args: Pick<LsArgs, "json" | "raw">): string {
  const rows = _ALL_COLUMNS.map((c) => ({
    holder: c,
    type: `<${LS_COLUMN_INFO[c].type}>`,
    description: LS_COLUMN_INFO[c].help,
  }));
  if (args.json) return JSON.stringify({ "lsns-columns": rows }, null, 3);
  return formatTable(
    ["HOLDER", "TYPE", "DESCRIPTION"],
    rows.map((r) => ({ cells: [r.holder, r.type, r.description] })),
    { right: new Set([0]), raw: args.raw, noHeadings: true },
  );
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
    if (args.version) {
      console.log(versionText("ls"));
      return Promise.resolve(0);
    }
    if (args.listColumns) {
      console.log(lsColumnList(args));
      return Promise.resolve(0);
    }
    if (args.namespace !== undefined) {
      let members: NamespaceMembers;
      try {
        members = processesInNamespace(args.namespace);
      } catch (error) {
        // lsns: "not found namespace: N", exit 1 (the listing failed, not a join).
        if (!(error instanceof NamespaceError)) throw error;
        console.error(`nsjoin ls: ${escapeTerminal(error.message)}`);
        return Promise.resolve(1);
      }
      // lsns reads only the types -t names, so a namespace of another type is not found.
      if (args.types.length > 0 && !args.types.includes(members.type)) {
        console.error(
          `nsjoin ls: Cannot find namespace ${args.namespace}: it is a ${members.type} ` +
            `namespace, not ${args.types.join(" or ")} (-t)`,
        );
        return Promise.resolve(1);
      }
      const nest = args.tree === "process" && args.columns.includes("COMMAND");
      let rows = _memberRows(members, nest, args);
      if (args.filter) rows = _filterTree(rows, args.filter);
      // An owner or parent tree nests no process, but NS stays its tree column, left-aligned
      // as libsmartcols draws a tree column (`lsns NS -T`).
      _print(rows, args, nest || args.tree === "owner" || args.tree === "parent");
      const unreadable = members.skipped.unreadable;
      if (args.notes && unreadable > 0) {
        console.error(`nsjoin ls: note: ${unreadable} unreadable processes are not counted`);
      }
      return Promise.resolve(0);
    }
    const listing = listNamespaces({ types: args.types.length ? args.types : undefined });
    let selected = listing.namespaces;
    const notes = args.notes ? [...listing.notes] : [];
    if (args.pid !== undefined) {
      const mine = _inodesOfPid(args.pid);
      // lsns prints nothing and exits 0 for a PID it cannot read; -p named it, so say why.
      if (typeof mine === "string") notes.push(mine);
      const set = typeof mine === "string" ? new Set<number>() : mine;
      selected = selected.filter((e) => set.has(e.ns));
    }
    if (args.persistent) selected = selected.filter((e) => e.nprocs === 0);
    if (args.tree === "owner" || args.tree === "parent") {
      selected = _withAncestors(selected, listing.namespaces, args.tree);
    }
    if (args.filter) {
      const f = args.filter;
      selected = selected.filter((e) => f((c) => _cell(e, c as LsColumn, "\n")));
    }
    // A tree nests only through its tree column, as lsns (libsmartcols) does.
    const treeCol = args.tree === "process" ? "COMMAND" : "NS";
    const nest = args.tree !== undefined && args.columns.includes(treeCol);
    const shown = { ...listing, namespaces: selected };
    const rows = nest ? namespaceTree({ by: args.tree, from: shown, nearest: false }) : selected;
    _print(rows, args, nest);
    for (const note of notes) console.error(`nsjoin ls: note: ${note}`);
    return Promise.resolve(0);
  } catch (error) {
    return Promise.resolve(report(error, "ls"));
  }
}

/**
 * The namespace inodes of a process, or why none can be read (a thread's ID: none). A type refused (EACCES: the
 * ptrace check is made on each read, and the process's credentials or dumpable flag may
 * change between two) is skipped and the others kept, as lsns's read_process does.
 */
function _inodesOfPid(pid: number): Set<number> | string {
  // /proc/TID/ns is a thread's: lsns, which reads the processes readdir shows, lists nothing.
  const process = threadOf(pid);
  if (process !== undefined) return `${pid} is a thread of process ${process}, not a process`;
  const out = new Set<number>();
  let refused = false;
  for (const type of NAMESPACE_TYPES) {
    try {
      const link = Deno.readLinkSync(`/proc/${pid}/ns/${type}`);
      out.add(Number(link.slice(type.length + 2, -1)));
    } catch (error) {
      if (error instanceof Deno.errors.PermissionDenied) refused = true;
    }
  }
  if (out.size > 0) return out;
  return refused
    ? `cannot read the namespaces of process ${pid}: permission denied`
    : `no process ${pid}`;
}

/**
 * The rows plus the namespaces lsns draws above them in an owner or parent tree: the owner
 * (parent tree: the parent, else the owner), recursively, even where -p or -P left them out;
 * in lsns's order: each row in turn, preceded by those of its ancestors not shown yet.
 */
function _withAncestors(
  rows: NamespaceEntry[],
  all: readonly NamespaceEntry[],
  by: "owner" | "parent",
): NamespaceEntry[] {
  const byIno = new Map(all.map((e) => [e.ns, e]));
  const out: NamespaceEntry[] = [];
  const shown = new Set<number>();
  const add = (e: NamespaceEntry, depth: number): void => {
    if (shown.has(e.ns)) return;
    const up = by === "parent" && e.pns && byIno.has(e.pns) ? e.pns : e.ons;
    const above = up && up !== e.ns ? byIno.get(up) : undefined;
    if (above && depth < 64) add(above, depth + 1);
    shown.add(e.ns);
    out.push(e);
  };
  for (const e of rows) add(e, 0);
  return out;
}

/** A tree without the rows the filter refuses; their children move up to their place. */
function _filterTree(rows: NamespaceNode[], f: RowFilter): NamespaceNode[] {
  const out: NamespaceNode[] = [];
  for (const r of rows) {
    const children = _filterTree(r.children, f);
    if (f((c) => _cell(r, c as LsColumn, "\n"))) out.push({ ...r, children });
    else out.push(...children);
  }
  return out;
}

function _print(rows: (NamespaceEntry | NamespaceNode)[], args: LsArgs, nest: boolean): void {
  // libsmartcols prints no header for an empty table, and an empty JSON array this way.
  if (rows.length === 0) {
    if (args.json) console.log('{\n   "namespaces": [\n\n   ]\n}');
    return;
  }
  if (args.json) {
    console.log(jsonForTerminal(lsJson(rows, args.columns), 3));
    return;
  }
  const tty = Deno.stdout.isTerminal();
  const width = tty ? Deno.consoleSize().columns : 0;
  const color = tty && !Deno.env.get("NO_COLOR");
  const text = lsTable(
    rows,
    nest ? args : { ...args, tree: undefined },
    width,
    color,
    utf8Locale(),
  );
  if (text) console.log(text);
}

/**
 * The processes of one namespace as rows (nested by parent process for the tree), with
 * the namespace's own NETNSID, NSFS, PNS and ONS when those columns are asked for.
 */
function _memberRows(m: NamespaceMembers, nest: boolean, args: LsArgs): NamespaceNode[] {
  const needsNs = args.columns.some((c) => ["NETNSID", "NSFS", "PNS", "ONS"].includes(c)) ||
    args.filter !== undefined;
  const ns = needsNs
    ? listNamespaces({ types: [m.type] }).namespaces.find((e) => e.ns === m.ns)
    : undefined;
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
    netnsid: ns?.netnsid ?? null,
    nsfs: ns?.nsfs ?? [],
    pns: ns?.pns ?? 0,
    ons: ns?.ons ?? 0,
    holder: "process",
    children: nest ? p.children.map(row) : [],
  });
  if (nest) return m.roots.map(row);
  const flat: NamespaceProcess[] = [];
  const walk = (ps: NamespaceProcess[]) => ps.forEach((p) => (flat.push(p), walk(p.children)));
  walk(m.roots);
  return flat.sort((a, b) => a.pid - b.pid).map(row);
}
