/**
 * dax bound to a target: `daxIn(target)` is a dax `$` whose programs run inside the
 * target through {@link NsCommand}, with dax's shell (pipes, `&&`, redirects to and from
 * streams, buffers and `/dev/null`; not files, globs or programs by path: dax would open,
 * expand or run them on the host), `.text()`, `.json()`, `.noThrow()` and `.stdin()` as usual.
 *
 * @module
 */
import {
  build$,
  type CommandBuilder,
  type CommandContext,
  type CommandHandler,
  type CommandPipeWriter,
  CommandResult,
  type ExecuteResult,
  Path,
  RawArg,
  type Reader,
  type TemplateExpr,
} from "npm:dax-sh@0.44.1";
import { posix } from "node:path";
import { AT_FDCWD, close, IN_ROOT, O, openat2 } from "../ffi/dirfd.ts";
import { readTextFileSafe } from "../ffi/files.ts";
import { assertPermissions } from "./_permissions.ts";
import { type NamespaceSelection, NsCommand, type NsCommandOptions } from "./command.ts";
import {
  _hostProgramCapabilities,
  _joinsTargetCgroups,
  _namespaceFileExec,
  _readableEnv,
  assertMntWithPid,
  assertNotFrozen,
  assertUserWithMnt,
  cgroupProcsOf,
  containerExecOptions,
  execConfinement,
} from "./container_exec.ts";
import { PinnedContainer } from "./containers.ts";
import { differingNamespaces, type NamespaceType } from "./namespaces.ts";
import { type ResolvedTarget, resolveTarget, type Target } from "./target.ts";

/**
 * What {@link daxIn} returns: a tagged template (and `.raw`) making {@link DaxCommand}s.
 * At run time it is a whole dax `$` and its commands whole dax `CommandBuilder`s; these
 * types name the part nsjoin documents (cast to dax's types for the rest).
 */
export interface DaxShell {
  /** Builds a command from a template, escaping the values as dax does. */
  (strings: TemplateStringsArray, ...exprs: unknown[]): DaxCommand;
  /** Builds a command from a template without escaping the values. */
  raw(strings: TemplateStringsArray, ...exprs: unknown[]): DaxCommand;
}

/** A dax command bound to a target (a dax `CommandBuilder`); await it to run it. */
export interface DaxCommand extends PromiseLike<DaxResult> {
  /** Resolve instead of throwing on a non-zero exit code (all codes, or the ones given). */
  noThrow(value?: boolean | number, ...more: number[]): DaxCommand;
  /** Bytes for the command's stdin, or "inherit" / "null". */
  stdin(input: Uint8Array | ReadableStream<Uint8Array> | "inherit" | "null"): DaxCommand;
  /** Text for the command's stdin. */
  stdinText(text: string): DaxCommand;
  /** Where stdout goes: "piped" to capture it in the result. */
  stdout(kind: "inherit" | "null" | "piped" | "inheritPiped"): DaxCommand;
  /** Where stderr goes: "piped" to capture it in the result. */
  stderr(kind: "inherit" | "null" | "piped" | "inheritPiped"): DaxCommand;
  /** Capture stdout and stderr together as `combined`. */
  captureCombined(value?: boolean): DaxCommand;
  /** Silence stdout, stderr, or both (default). */
  quiet(kind?: "stdout" | "stderr" | "both"): DaxCommand;
  /** Environment variables for the command (over the target's). */
  env(items: Record<string, string | undefined>): DaxCommand;
  /** Working directory inside the target. */
  cwd(dir: string): DaxCommand;
  /** Kill the command after this many milliseconds (code 124). */
  timeout(ms: number | undefined): DaxCommand;
  /** Runs it and gives stdout as text, trailing newline trimmed. */
  text(kind?: "stdout" | "stderr" | "combined"): Promise<string>;
  /** Runs it and gives stdout's lines. */
  lines(kind?: "stdout" | "stderr" | "combined"): Promise<string[]>;
  /** Runs it and parses stdout as JSON. */
  json<T = unknown>(kind?: "stdout" | "stderr" | "combined"): Promise<T>;
  /** Runs it and gives stdout's bytes. */
  bytes(kind?: "stdout" | "stderr" | "combined"): Promise<Uint8Array>;
  /** Runs it and gives its exit code (never throws for a non-zero code). */
  code(): Promise<number>;
}

/** The result of a {@link DaxCommand} (a dax `CommandResult`). */
export interface DaxResult {
  /** The exit code. */
  readonly code: number;
  /** stdout as text, when it was piped. */
  readonly stdout: string;
  /** stderr as text, when it was piped. */
  readonly stderr: string;
  /** stdout and stderr together, with `captureCombined()`. */
  readonly combined: string;
  /** stdout's bytes, when it was piped. */
  readonly stdoutBytes: Uint8Array;
}

/** Options of {@link daxIn}. */
export interface DaxInOptions {
  /** Namespaces to join, as NsCommand takes them; default `"all"` (a namespace file: its type). */
  namespaces?: NamespaceSelection;
  /**
   * Working directory inside the target to start in (default `/`, a container's configured
   * one); `cd` changes it.
   */
  cwd?: string;
  /** Environment variables for every program, over the target's environment. */
  env?: Record<string, string>;
  /** More program names to run inside the target, besides those found on its PATH. */
  commands?: readonly string[];
  /**
   * `"target"` (default): programs get the target's seccomp filters, as `nsjoin exec` gives
   * them; reading them needs root, so for any other caller a target with a filter makes every
   * program fail with 125 and one line saying so, never run unfiltered. `"none"`: without
   * them, as `exec --security-opt seccomp=unconfined`.
   */
  seccomp?: "target" | "none";
}

/**
 * The cgroups of a process target, refusing a paused one (its programs would hang), as exec;
 * none when the programs keep our user namespace and the target's is another (stop 27).
 */
function _cgroupsOf(pid: number, sel: NamespaceSelection | undefined): string[] {
  const cgroups = cgroupProcsOf(pid);
  assertNotFrozen(cgroups, `process ${pid}`);
  return _joinsTargetCgroups(sel, pid) ? cgroups : [];
}

/** The PATH a target's programs are looked up on when its environment has none. */
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** dax built-ins that read or write the host's files: replaced, or dropped when the target lacks them. */
const HOST_FS_BUILTINS = ["cat", "cp", "mv", "rm", "mkdir", "touch", "test", "which"];

/** The names dax accepts for a registered command. */
const COMMAND_NAME = /^[a-zA-Z0-9_-]+$/;

/** dax built-ins that only touch the shell's own state: kept as they are. */
const SHELL_BUILTINS = new Set([
  "cd",
  "echo",
  "exit",
  "export",
  "unset",
  "printenv",
  "pwd",
  "sleep",
]);

/**
 * A dax `$` whose commands run inside a target's namespaces.
 *
 * The hook: dax 0.44 resolves and spawns external programs itself (a `which` on the
 * host, then node's `child_process`), with no way to replace that step; but it looks up
 * custom commands registered with `CommandBuilder.registerCommands` by name first. So
 * `daxIn` registers, for every program on the target's PATH (read through
 * /proc/PID/root when the mount namespace is joined), a command that spawns it through
 * `NsCommand`, replaces `cd` with one that checks the directory inside
 * the target, and drops dax's built-ins that touch the host's files (`cat`, `cp`, `rm`,
 * `test`, …) unless the target has a program of that name. The environment starts
 * empty on the dax side, so a name that is not found is "command not found" (127), never
 * a host program; programs get the target's environment (a process target whose mount
 * namespace is joined, as NsCommand's `targetEnv` takes it: over our root directory, only its
 * terminal, locale and time zone variables) plus `env`. For a process target they get what
 * `nsjoin exec PID` gives: its cgroups, capabilities (ours for a host program in a pid
 * namespace it shares, which it could otherwise ptrace to reach our root directory),
 * no_new_privs, seccomp filter (reading it needs root: see `seccomp`), limits,
 * oom_score_adj, umask and LSM label, in a session of their own. A namespace file is held
 * to `nsjoin exec FILE`'s rules: checked again on the fd the helper joins, and in a user
 * namespace not ours the programs get only the caller's harmless variables (see
 * `exec`'s help). A container from
 * `resolveContainer` is run as `nsjoin exec` runs it (`containerExecOptions`): its
 * configured user, working directory (the default `cwd`) and environment, its cgroups and
 * its confinement.
 *
 * Limits: a redirect to or from a file (`> out.txt`, `< in.txt`) is a TypeError: dax
 * opens it itself, on the host, as the caller, from the target's working directory (take
 * the output with `.text()` or `.bytes()`, or give an absolute `$.path()` to name a host file). Name
 * programs by name: dax accepts only names of letters, digits, `-` and `_` for registered
 * commands and would resolve and run a program given by path (`/usr/bin/ip`, `./run.sh`)
 * itself, on the host, so one named by a path or through a variable is a TypeError too; and so
 * is an unquoted `*`, `?` or `[`, a glob dax would expand against the host's files (quote it
 * and have a shell inside expand it: `` $`sh -c ${"ls /var/log/*.log"}` ``). The program list
 * is read once, here (pass `commands` for programs added later).
 *
 * @param target a PID, a namespace file, a pinned process or a container from `resolveContainer`
 * @param options namespaces, starting directory, environment, extra program names
 * @returns a dax `$` bound to the target
 * @throws {TypeError} for `namespaces` that join a process's pid namespace without the
 *   mount namespace it has of its own, or its mount namespace without its user namespace,
 *   and for a namespace file of a pid namespace not ours or of a mount namespace another
 *   user namespace owns (as `nsjoin exec` refuses them)
 *
 * @example
 * ```ts ignore
 * import { daxIn } from "@nsjoin/nsjoin/dax";
 * const $ = daxIn(1234);
 * const addrs = await $`ip -j addr`.json();
 * const lo = await $`ip -br addr | grep ^lo`.text();
 * if (!lo.startsWith("lo")) throw new Error("no loopback in the target");
 * ```
 */
export function daxIn(target: Target, options: DaxInOptions = {}): DaxShell {
  // It lists the target's programs through /proc/PID/root.
  assertPermissions("bind dax to a target", "all");
  const resolved = resolveTarget(target);
  if (resolved.kind === "process" && !(target instanceof PinnedContainer)) {
    // exec's rules (containerExecOptions applies them to a container): no target's program
    // with our privileges, no host program its processes can ptrace (stop 21).
    assertUserWithMnt(options.namespaces, resolved.pid);
    assertMntWithPid(options.namespaces, resolved.pid);
  }
  // A namespace file has no process to read its other namespaces from: `nsjoin exec FILE`'s
  // rules (stop 20). Without them root's daxIn of a local user's `unshare -Urm` mount
  // namespace file ran the program the user put over `ls` as root with every capability, and
  // in their user namespace the program (their uid) carried root's whole environment.
  const file = resolved.kind === "file" ? _namespaceFileExec(resolved.path) : undefined;
  const root = _programRoot(resolved, options.namespaces);
  // A container's programs run as `nsjoin exec` runs them: its configured user, working
  // directory and environment, in its cgroups. From the process alone they ran as root (in
  // a container configured for uid 1000), at /, and in our own cgroups, outside its limits.
  const container = target instanceof PinnedContainer
    ? containerExecOptions(target, {
      namespaces: options.namespaces,
      seccomp: options.seccomp ?? "target",
    })
    : undefined;
  const base: NsCommandOptions = container ?? {
    target,
    namespaces: options.namespaces,
    // The target's environment only inside its mount namespace (as `nsjoin exec`): outside
    // it, its LD_PRELOAD or LD_LIBRARY_PATH would name host files it chose (a user's own
    // process, a container's overlay upper dir) for programs we run.
    targetEnv: root !== "",
    // The target's programs never in our session (see NsCommandOptions.newSession).
    newSession: true,
    // Nor with more than the target has (as `nsjoin exec PID`): with our capabilities and no
    // filter, a container's own `ip` could load a kernel module on the host. Reading its
    // filter needs root: for another caller the filter was left out, and the programs ran
    // unfiltered in the target's pid namespace, where its processes (same uid, same
    // capabilities) may ptrace them and make the calls its filter refuses (stop 21): refused
    // now, as `nsjoin exec` refuses it, unless `seccomp: "none"` says so.
    // And in its cgroups with its limits, as `nsjoin exec PID`: in ours, a container's
    // process that may ptrace the program had it fork outside its pids and memory limits and
    // open devices its device cgroup refuses (stop 21).
    ...(resolved.kind === "process"
      ? {
        // A host program (mount namespace not joined) where the target sees it keeps ours:
        // with the target's it would lend it our root directory (see _hostProgramCapabilities).
        capabilities: root === "" ? _hostProgramCapabilities(resolved.pid) : "target",
        noNewPrivs: "target",
        ...execConfinement(options.seccomp ?? "target"),
        cgroups: _cgroupsOf(resolved.pid, options.namespaces),
      } as const
      : file?.readsEnv
      ? _readableEnv({})
      // What was checked of the path holds for the fd the helper joins.
      : { ownNamespaceFile: true }),
  };
  const path = resolved.kind === "process" ? _targetPath(resolved.pid) : DEFAULT_PATH;
  const programs = new Set<string>();
  // The target's PATH names its directories: resolved inside its root, where its `..` and
  // absolute symlinks (`/../../root`) stay, as they do for its own programs.
  const rootFd = root ? openat2(AT_FDCWD, root, O.PATH | O.DIRECTORY, 0n) : AT_FDCWD;
  try {
    for (const dir of path.split(":").filter((d) => d.startsWith("/"))) {
      for (const name of _programsIn(rootFd, dir)) {
        if (!SHELL_BUILTINS.has(name) && COMMAND_NAME.test(name)) programs.add(name);
      }
    }
  } finally {
    if (rootFd !== AT_FDCWD) close(rootFd);
  }
  for (const name of options.commands ?? []) {
    if (!COMMAND_NAME.test(name)) {
      throw new TypeError(
        `Cannot register ${JSON.stringify(name)} as a dax command: use letters, digits, - and _`,
      );
    }
    programs.add(name);
  }
  const $ = build$({
    commandBuilder: (builder) => {
      let b = builder.clearEnv().cwd(options.cwd ?? container?.cwd ?? "/");
      for (const name of HOST_FS_BUILTINS) b = b.unregisterCommand(name);
      return b.registerCommand("cd", _cd(root));
    },
  });
  // dax copies its whole command table on every registration, so registering a PATH's
  // thousands of programs up front takes ~0.4 s: register per command line only the
  // programs whose names appear in it.
  const bind = (
    command: CommandBuilder,
    strings: TemplateStringsArray,
    exprs: unknown[],
    raw = false,
  ) => {
    const redirect = _fileRedirect(strings, exprs, raw);
    if (redirect !== undefined) {
      throw new TypeError(
        `Cannot redirect ${JSON.stringify(redirect)} to a file in daxIn: dax opens it on the ` +
          "host, as this process, from the target's working directory — take the output with " +
          ".text() or .bytes() (or give a stream, or an absolute $.path() for a host file of yours)",
      );
    }
    const { program, glob } = _hostSide(strings, exprs, raw);
    if (program !== undefined) {
      throw new TypeError(
        `Cannot run ${JSON.stringify(program)} in daxIn: dax runs a program given by its path ` +
          "itself, on the host, as this process — name a program on the target's PATH (`commands` " +
          "for others), or run a path inside with NsCommand",
      );
    }
    if (glob !== undefined) {
      throw new TypeError(
        `Cannot expand ${JSON.stringify(glob)} in daxIn: dax expands a glob itself, against the ` +
          "host's files — quote it, and have a shell inside expand it (sh -c 'ls /var/log/*.log')",
      );
    }
    const handlers: Record<string, CommandHandler> = {};
    for (const word of _words(strings, exprs)) {
      if (programs.has(word)) handlers[word] = _spawner(word, base, options.env);
    }
    return command.registerCommands(handlers);
  };
  return new Proxy($, {
    apply(fn, self, args: [TemplateStringsArray, ...TemplateExpr[]]) {
      return bind(Reflect.apply(fn, self, args), args[0], args.slice(1));
    },
    get(fn, key, receiver) {
      if (key !== "raw") return Reflect.get(fn, key, receiver);
      return (strings: TemplateStringsArray, ...exprs: TemplateExpr[]) =>
        bind(fn.raw(strings, ...exprs), strings, exprs, true);
    },
  }) as unknown as DaxShell;
}

/**
 * The first redirect of a command line that dax would open a file for, as written, or
 * undefined. dax opens such a file itself (`Deno.open`), in this process: on the host, as
 * the caller, relative to the shell's working directory — for daxIn the target's (a
 * container's configured one, which its owner chooses) — while the program runs in the
 * target. A user whose rootless container works in a directory that is theirs on the host
 * too (/tmp/DIR, their home) put a symlink there, and root's `$\`cmd > report.txt\`` wrote
 * the container's output into a root-only file through it; `< in.txt` read one into the
 * container (tests/security_test.ts "stop 22"). Refused: words after `<` or `>` other than
 * `/dev/null` and `&N`, and a relative `$.path()` (joined to that same directory). Kept:
 * what dax makes a stream of (a value after `<`, a stream or buffer after `>`) and absolute
 * `$.path()` values (a host path the caller named). Values dax escapes are one quoted word;
 * `.raw`, RawArg and a raw command result's values are read as the text they are.
 */
function _fileRedirect(
  strings: readonly string[],
  exprs: readonly unknown[],
  raw: boolean,
): string | undefined {
  let text = "";
  const asText = (v: unknown): string =>
    v instanceof RawArg
      ? asText(v.value)
      : Array.isArray(v)
      ? v.map(asText).join(" ")
      : v instanceof CommandResult
      ? raw ? v.stdout.replace(/\r?\n$/, "") : "x"
      : raw
      ? String(v)
      : "x";
  for (let i = 0; i < strings.length; i++) {
    text += strings[i];
    if (i >= exprs.length) continue;
    // After `<` or `>` dax makes a value a stream's fd (`&N`), takes a $.path() as the
    // caller's host path, or refuses it (a string after `>`).
    const at = /[<>]\s*$/.test(text);
    // A relative $.path() is joined to the target's working directory, on the host.
    if (at && exprs[i] instanceof Path && !String(exprs[i]).startsWith("/")) {
      return `${text.trimEnd().slice(-1)} ${exprs[i]}`;
    }
    text += at ? "&9" : asText(exprs[i]);
  }
  let quote = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"') i++;
      continue;
    }
    if (c === "\\") i++;
    else if (c === "'" || c === '"') quote = c;
    else if (c === "<" || c === ">") {
      let end = i + 1;
      while (/[<>|]/.test(text[end] ?? "")) end++;
      const rest = text.slice(end).trimStart();
      if (/^(&(\d+|-)|\/dev\/null)(?=$|[\s;|&<>()])/.test(rest)) continue;
      return `${text.slice(i, end)} ${rest.split(/[\s;|&()]/)[0]}`.trim();
    }
  }
  return undefined;
}

/**
 * What of a command line dax would do with the host's files, as written, or undefined:
 * `program`, the first program named by a path (`/usr/sbin/nginx`, `./check.sh`) or through
 * a variable (`$P`) — dax looks a registered command up by its name alone and resolves any
 * other itself: a path on the host, a relative one from the shell's working directory, for
 * daxIn the target's (a container's configured one, which its owner chooses), and runs the
 * file it finds there on the host, as this process; and `glob`, the first word with an
 * unquoted `*`, `?` or `[` (a backslash does not escape them for dax), which dax expands
 * against the host's files, from that same directory, and passes on as the program's
 * arguments: the host's names, not the target's (tests/security_test.ts "stop 23"). Values
 * dax escapes are one quoted word; `.raw`, RawArg and a raw command result's values are read
 * as the text they are.
 */
function _hostSide(
  strings: readonly string[],
  exprs: readonly unknown[],
  raw: boolean,
): { program?: string; glob?: string } {
  const quoted = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const asText = (v: unknown): string =>
    v instanceof RawArg
      ? Array.isArray(v.value) ? v.value.map(String).join(" ") : String(v.value)
      : Array.isArray(v)
      ? v.map(asText).join(" ")
      : v instanceof CommandResult
      ? (raw ? (s: string) => s : quoted)(v.stdout.replace(/\r?\n$/, ""))
      : raw
      ? String(v)
      : quoted(String(v));
  let text = "";
  for (let i = 0; i < strings.length; i++) {
    text += strings[i];
    if (i < exprs.length) {
      // After `<` or `>` a value is a stream, a buffer or a path: never a program.
      text += /[<>]\s*$/.test(text) ? "x" : asText(exprs[i]);
    }
  }
  let words: string[] = [];
  let word = "";
  let inWord = false;
  let redirect = false;
  let globbed = false;
  let found: string | undefined;
  let glob: string | undefined;
  const endWord = () => {
    if (!inWord) return;
    if (globbed) glob ??= word;
    if (redirect) redirect = false; // a redirect's target, not a word of the command
    else words.push(word);
    word = "";
    inWord = false;
    globbed = false;
  };
  const endCommand = () => {
    endWord();
    // Assignments before the program (`A=1 prog`) and `!` are not it.
    const program = words.find((w) => !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w) && w !== "!");
    if (found === undefined && program !== undefined && /[/$`]/.test(program)) found = program;
    words = [];
  };
  for (let i = 0; i < text.length && found === undefined; i++) {
    const c = text[i];
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      word += text.slice(i + 1, end < 0 ? text.length : end);
      inWord = true;
      i = end < 0 ? text.length : end;
    } else if (c === '"') {
      inWord = true;
      for (i++; i < text.length && text[i] !== '"'; i++) {
        if (text[i] === "\\" && i + 1 < text.length) i++;
        word += text[i];
      }
    } else if (c === "\\") {
      word += text[++i] ?? "";
      if (/[*?[]/.test(text[i] ?? "")) globbed = true;
      inWord = true;
    } else if (c === "<" || c === ">") {
      // An fd number just before it (`2>`) belongs to the redirect.
      if (inWord && /^\d+$/.test(word) && !/\s/.test(text[i - 1] ?? " ")) {
        word = "";
        inWord = false;
      }
      endWord();
      while (/[<>&|]/.test(text[i + 1] ?? "")) i++;
      redirect = true;
    } else if (c === "$" && text[i + 1] === "(") {
      endCommand();
      i++;
    } else if (/[|&;()\n`]/.test(c)) {
      endCommand();
    } else if (/\s/.test(c)) {
      endWord();
    } else {
      // `$?` is the last status, not a glob.
      if (/[*?[]/.test(c) && !(c === "?" && text[i - 1] === "$")) globbed = true;
      word += c;
      inWord = true;
    }
  }
  endCommand();
  return { program: found, glob };
}

/** The words of a command line that could name a program: in its text and its values. */
function _words(strings: TemplateStringsArray, exprs: unknown[]): Set<string> {
  const out = new Set<string>();
  const add = (value: unknown): void => {
    if (typeof value === "string") {
      for (const word of value.match(/[a-zA-Z0-9_-]+/g) ?? []) out.add(word);
    } else if (Array.isArray(value)) value.forEach(add);
    else if (value instanceof RawArg) add(value.value);
  };
  strings.forEach(add);
  exprs.forEach(add);
  return out;
}

/** Where the target's files are seen from the host: its root when its mnt namespace is joined. */
function _programRoot(resolved: ResolvedTarget, sel: NamespaceSelection | undefined): string {
  if (resolved.kind !== "process") return "";
  let joinsMnt: boolean;
  if (sel === undefined || sel === "all") {
    joinsMnt = differingNamespaces(resolved.pid).includes("mnt");
  } else if (Array.isArray(sel)) {
    joinsMnt = (sel as readonly NamespaceType[]).includes("mnt");
  } else {
    joinsMnt = (sel as Partial<Record<NamespaceType, true | string>>).mnt === true;
  }
  return joinsMnt ? `/proc/${resolved.pid}/root` : "";
}

function _targetPath(pid: number): string {
  try {
    // Capped (ffi/files.ts): the target sets its environ's size (PR_SET_MM_MAP).
    const environ = readTextFileSafe(`/proc/${pid}/environ`).split("\0");
    const entry = environ.find((e) => e.startsWith("PATH="));
    return entry ? entry.slice(5) : DEFAULT_PATH;
  } catch {
    return DEFAULT_PATH;
  }
}

function _programsIn(rootFd: number, dir: string): string[] {
  let fd = -1;
  try {
    fd = rootFd === AT_FDCWD
      ? -1
      : openat2(rootFd, dir, O.RDONLY | O.DIRECTORY | O.NONBLOCK, IN_ROOT);
    const at = fd < 0 ? dir : `/proc/self/fd/${fd}`;
    return [...Deno.readDirSync(at)].filter((e) => !e.isDirectory).map((e) => e.name);
  } catch {
    return []; // a PATH directory the target does not have
  } finally {
    if (fd >= 0) close(fd);
  }
}

function _cd(root: string): CommandHandler {
  return async (ctx: CommandContext): Promise<ExecuteResult> => {
    if (ctx.args.length !== 1) return ctx.error("cd: expected 1 argument");
    const dir = posix.resolve(ctx.cwd, ctx.args[0]);
    try {
      if (!(await Deno.stat(`${root}${dir}`)).isDirectory) throw new Error("not a directory");
    } catch {
      return ctx.error(`cd: ${dir}: Not a directory in the target`);
    }
    return { code: 0, changes: [{ kind: "cd", dir }] };
  };
}

function _mode(kind: CommandPipeWriter["kind"]): "inherit" | "null" | "piped" {
  return kind === "inherit" || kind === "null" ? kind : "piped";
}

function _spawner(
  program: string,
  base: NsCommandOptions,
  env: Record<string, string> | undefined,
): CommandHandler {
  return async (ctx: CommandContext): Promise<ExecuteResult> => {
    // A string other than these is not a stdin dax knows (`.stdin("text")`; `.stdinText` is).
    const stdin = typeof ctx.stdin === "string"
      ? (ctx.stdin === "inherit" ? "inherit" : "null")
      : "piped";
    const stdout = _mode(ctx.stdout.kind);
    const stderr = _mode(ctx.stderr.kind);
    let child: Deno.ChildProcess;
    try {
      child = new NsCommand(program, {
        ...base,
        args: ctx.args,
        env: { ...base.env, ...env, ...ctx.env },
        cwd: ctx.cwd,
        stdin,
        stdout,
        stderr,
      }).spawn();
    } catch (error) {
      return ctx.error(125, `${program}: ${(error as Error).message}`);
    }
    const kill = (signal: Deno.Signal) => {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
    };
    ctx.signal.addListener(kill);
    try {
      // Not awaited: a program may exit without reading all of its input (`head`).
      if (stdin === "piped") _pumpIn(ctx.stdin as Reader, child.stdin);
      await Promise.all([
        stdout === "piped" ? _pumpOut(child.stdout, ctx.stdout) : undefined,
        stderr === "piped" ? _pumpOut(child.stderr, ctx.stderr) : undefined,
      ]);
      return { code: (await child.status).code };
    } finally {
      ctx.signal.removeListener(kill);
    }
  };
}

async function _pumpIn(reader: Reader, stdin: WritableStream<Uint8Array>): Promise<void> {
  const writer = stdin.getWriter();
  try {
    const buf = new Uint8Array(16 * 1024);
    while (true) {
      const n = await reader.read(buf);
      if (n === null || n === 0) break;
      await writer.write(buf.slice(0, n));
    }
    await writer.close();
  } catch {
    // The program closed its stdin (exited): the rest of the input has nowhere to go.
    writer.abort().catch(() => {});
  }
}

async function _pumpOut(
  readable: ReadableStream<Uint8Array>,
  writer: CommandPipeWriter,
): Promise<void> {
  for await (const chunk of readable) await writer.writeAll(chunk);
}
