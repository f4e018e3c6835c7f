import { NsCommand, type NsCommandOptions } from "../command.ts";
import {
  _containerExecOptions,
  _hostProgramCapabilities,
  _hostProgramCwd,
  _hostProgramEnv,
  _joinsTargetCgroups,
  _namespaceFileExec,
  _readableEnv,
  assertMntWithPid,
  assertNotFrozen,
  assertUserWithMnt,
  cgroupProcsOf,
  execConfinement,
  resolveContainerUser,
} from "../container_exec.ts";
import {
  _resolveContainer,
  type FindContainersOptions,
  type PinnedContainer,
} from "../containers.ts";
import { NAMESPACE_TYPES, type NamespaceType } from "../namespaces.ts";
import { isPidText, parseTarget, PinnedProcess, pinProcess } from "../target.ts";
import { NamespaceError } from "../errors.ts";
import { readFileSafe } from "../../ffi/files.ts";
import { sealInspector } from "../../ffi/inspector.ts";
import { errnoName, errnoText, type SyscallError } from "../../ffi/libc.ts";
import { differingNamespaces } from "../namespaces.ts";
import { parseOptions } from "./_args.ts";
import {
  fileOnStdio,
  relay,
  relayStdio,
  report,
  socketOnStdio,
  terminalOnStdio,
  UsageError,
} from "./_run.ts";

/** `exec`'s options, parsed: docker exec's dialect. */
export interface ExecArgs {
  /** -i: keep stdin attached. */
  interactive: boolean;
  /** -t: a pseudo-terminal inside the container. */
  tty: boolean;
  /** -d: start the program and return. */
  detach: boolean;
  /** -u: name|uid[:group|gid]. */
  user?: string;
  /** -w: working directory inside the container. */
  workdir?: string;
  /** -e: KEY=VALUE, or KEY to pass ours on. */
  env: string[];
  /** --env-file: files of KEY=VALUE lines. */
  envFile: string[];
  /** --privileged: keep every capability. */
  privileged: boolean;
  /** --security-opt seccomp=unconfined: run without the target's seccomp filter. */
  seccomp: "target" | "none";
  /** -n/--namespaces: only these types (default: every one the container has). */
  namespaces?: NamespaceType[];
  /** --kill-on-exit: the program dies with this process (even by SIGKILL). */
  killOnExit: boolean;
  /** -h */
  help: boolean;
  /** The target: PID, namespace file, netns:NAME, engine:NAME|ID or a bare name or ID. */
  target?: string;
  /** The program and its arguments. */
  command: string[];
}

/** The usage text of `exec`. */
export const EXEC_HELP = `NAME
 nsjoin exec - execute a command in a running container, for any engine (docker exec's options)

SYNOPSIS
 nsjoin exec [OPTIONS] TARGET COMMAND [ARG...]

DESCRIPTION
TARGET: a container name or ID prefix (searched across all engines), docker:NAME|ID,
podman:NAME|ID, containerd:ID, a Kubernetes pod's container on this node
(k8s:NAMESPACE/POD[/CONTAINER], k8s:POD, k8s:UID[/CONTAINER], cri:ID; containerd's CRI
state, $NSJOIN_CONTAINERD_STATE for another state dir), netns:NAME (as ip netns exec), a PID
or a namespace file. Digits are a PID up to 4194304 (the kernel's limit) and a container name
or ID prefix above it: give a shorter one as docker:ID. Another user's rootless container is
podman@USER:NAME; a bare name finds it only when no container of root's engines, running or
stopped, has that name.
A container's configured Env, User and WorkingDir are the defaults, as with docker exec; the
command joins its cgroups and gets its capabilities, no_new_privs, seccomp filters, resource
limits, oom_score_adj, umask and AppArmor/SELinux label, as runc gives every exec. A PID gets
its environment, cgroups and confinement the same way, except what its user chose: a target
in a user namespace that -n leaves out, or a local user's plain process (no namespace of its
own) run as another uid, gives none of its cgroups, seccomp filters, limits or oom_score_adj
(the command keeps ours). When -n leaves out the mount namespace
the command is a host program: it is looked up on our PATH and gets our environment (plus -e;
only TERM, COLORTERM, LANG, LANGUAGE, LC_*, TZ, HOSTNAME, PATH and HOME of it when it joins the
target's user namespace, where the target can read it), and -u takes only numbers (the
target's /etc/passwd and /etc/group are not used).
The target's pid namespace is never joined without its mount namespace (exit 2): there its
processes would reach our files through the host program's /proc/PID/root (use debug), and
its mount namespace only with its user namespace.
A namespace file gets the same: our environment, but only those variables of it in a user
namespace other than ours; a mount namespace file is refused (exit 2) unless its user
namespace is ours (give a PID, whose user namespace is joined with it), and so is a pid
namespace file other than ours. Needs -A (it reads /proc and engine state).

OPTIONS
  -d, --detach               Detached mode: run command in the background
      --detach-keys string   Override the key sequence for detaching a container
                             (checked as docker checks it; nsjoin has no daemon to keep
                             a detached session, so the keys reach the program)
  -e, --env list             Set environment variables
      --env-file list        Read in a file of environment variables
  -i, --interactive          Keep STDIN open even if not attached
      --kill-on-exit         Kill the command when nsjoin dies (even by SIGKILL)
  -n, --namespaces list      Join only these namespaces (e.g. net,uts); default: all
      --privileged           Give extended privileges to the command (all capabilities;
                             seccomp and the rest still apply, as with docker exec)
      --security-opt seccomp=unconfined
                             Run without the container's seccomp filter (reading it needs
                             root: a rootless container's owner needs this)
  -t, --tty                  Allocate a pseudo-TTY inside the container (TERM=xterm for
                             docker and for containerd's pods, as docker and kubectl exec)
  -u, --user string          Username or UID (format: "<name|uid>[:<group|gid>]")
  -w, --workdir string       Working directory inside the container
  -h, --help                 Print usage

EXIT STATUS
 The program's own; 128+N when it was killed by signal N; 125 when the target could
 not be found or joined, or its -u or -w is not there (nothing was run; docker exec: 126);
 126 the program is not executable; 127 it was not found in the target; 2 bad usage or a
 missing Deno permission.

EXAMPLES
 nsjoin exec web1 cat /etc/os-release        by name, whatever the engine
 nsjoin exec -it -u nobody podman:db sh      a rootless or rootful podman container
 nsjoin exec k8s:default/web/app ss -ltn     a Kubernetes pod's container, node-local
 nsjoin exec -n net web1 -- ss -ltn          only its network namespace`;

/** `exec`'s options (docker exec's), for the parser and the shell completions. */
export const OPTIONS = {
  interactive: { type: "boolean", short: "i" },
  tty: { type: "boolean", short: "t" },
  detach: { type: "boolean", short: "d" },
  "detach-keys": { type: "string" },
  user: { type: "string", short: "u" },
  workdir: { type: "string", short: "w" },
  env: { type: "string", short: "e", multiple: true },
  "env-file": { type: "string", multiple: true },
  privileged: { type: "boolean" },
  "security-opt": { type: "string", multiple: true },
  namespaces: { type: "string", short: "n" },
  "kill-on-exit": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

// parseExecArgs and planExec run on every `exec`: written as parenthesized function
// expressions so that V8 compiles them with the module and Deno's code cache holds them (see
// the note in src/command.ts).

/**
 * Parses `exec`'s arguments. docker's options stop at TARGET: everything after it is the
 * program's, even when it looks like an option.
 *
 * @param argv the arguments after `exec`
 * @returns the parsed options
 * @throws {UsageError} on an unknown option or a missing value
 */
export const parseExecArgs = (function parseExecArgs(argv: readonly string[]): ExecArgs {
  const { values, stop: split } = parseOptions(argv, OPTIONS, {
    stopAtPositional: true,
    pflag: true,
  });
  if (values["detach-keys"] !== undefined) _checkDetachKeys(values["detach-keys"]);
  let namespaces: NamespaceType[] | undefined;
  if (values.namespaces !== undefined) {
    // An empty list would join nothing and run the command on the host.
    if (!values.namespaces.split(",").some(Boolean)) {
      throw new UsageError(`--namespaces: give at least one type (${NAMESPACE_TYPES.join(",")})`);
    }
    namespaces = values.namespaces.split(",").filter(Boolean).map((n) => {
      const type = n === "mount" ? "mnt" : n === "network" ? "net" : n;
      if (!(NAMESPACE_TYPES as readonly string[]).includes(type)) {
        throw new UsageError(
          `--namespaces: unknown type ${JSON.stringify(n)} (use ${NAMESPACE_TYPES.join(",")})`,
        );
      }
      return type as NamespaceType;
    });
  }
  for (const opt of values["security-opt"] ?? []) {
    if (opt !== "seccomp=unconfined") {
      throw new UsageError(`--security-opt ${opt}: only seccomp=unconfined is supported`);
    }
  }
  return {
    interactive: values.interactive ?? false,
    tty: values.tty ?? false,
    detach: values.detach ?? false,
    user: values.user,
    workdir: values.workdir,
    env: values.env ?? [],
    envFile: values["env-file"] ?? [],
    privileged: values.privileged ?? false,
    seccomp: values["security-opt"]?.length ? "none" : "target",
    namespaces,
    killOnExit: values["kill-on-exit"] ?? false,
    help: values.help ?? false,
    target: argv[split],
    // `exec web1 -- ip addr`: a "--" right after the target only ends the options, so a
    // command that starts with "-" can follow (docker would try to run "--").
    command: argv[split + 1] === "--" ? argv.slice(split + 2) : argv.slice(split + 1),
  };
}).bind(undefined);

/**
 * docker's check of `--detach-keys` (its term.ToBytes): comma-separated keys, each one
 * character or `ctrl-` and one of a-z @ [ \\ ] ^ _. nsjoin has no daemon to keep a detached
 * session: the keys are checked, as docker's daemon checks them, and reach the program.
 */
function _checkDetachKeys(keys: string): void {
  // "" is docker's default (ctrl-p,ctrl-q).
  const ok = keys === "" ||
    // One key is one byte (Go's len()): a letter such as é, two bytes in UTF-8, is refused.
    keys.split(",").every((k) =>
      (k.length === 1 && k.charCodeAt(0) < 0x80) || /^ctrl-[a-z@[\\\]^_]$/.test(k)
    );
  if (!ok) throw new UsageError(`Invalid escape keys (${keys}) provided`);
}

const ENV_FILE_MAX = 1 << 20;

/**
 * An --env-file's bytes. The caller names it, so it is read as docker reads it: a regular
 * file, and also a pipe (bash's `<(…)`, `/dev/stdin`) or a character device (`/dev/null`);
 * capped, so `/dev/zero` ends with an error rather than never.
 */
function _readEnvFile(file: string): Uint8Array {
  try {
    return readFileSafe(file, { maxBytes: ENV_FILE_MAX });
  } catch (error) {
    // EINVAL is readFileSafe's "not a regular file" (a directory keeps its own message).
    const e = error as SyscallError;
    if (e.errno !== 22 || !e.message.endsWith("not a regular file")) throw error;
  }
  let f: Deno.FsFile;
  try {
    // Blocking, as docker's: a FIFO waits for its writer.
    f = Deno.openSync(file);
  } catch (error) {
    throw new UsageError(`--env-file ${file}: ${(error as Error).message}`);
  }
  try {
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(64 << 10);
    let total = 0;
    for (;;) {
      const n = f.readSync(buf);
      if (n === null) break;
      total += n;
      if (total > ENV_FILE_MAX) {
        throw new UsageError(`--env-file ${file}: larger than ${ENV_FILE_MAX} bytes`);
      }
      chunks.push(buf.slice(0, n));
    }
    const all = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      all.set(c, at);
      at += c.length;
    }
    return all;
  } finally {
    f.close();
  }
}

/**
 * An --env-file's text, as docker takes it: UTF-8 (a BOM dropped), and refused, naming the
 * first line that is not (utf8.Valid per line) — a Latin-1 `A=café` or a UTF-16 file was
 * passed on with U+FFFD in place of each bad byte, a value or a name the user never wrote.
 */
function _decodeEnvFile(file: string, bytes: Uint8Array): string {
  const strict = new TextDecoder("utf-8", { fatal: true });
  try {
    return strict.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      try {
        strict.decode(bytes.subarray(start, i));
      } catch {
        break;
      }
      line++;
      start = i + 1;
    }
    throw new UsageError(`--env-file ${file}: invalid utf8 bytes at line ${line}`);
  }
}

/** `-e` and `--env-file` entries, in order: `KEY` alone takes our value or is dropped, as docker. */
export function execEnvEntries(args: Pick<ExecArgs, "env" | "envFile">): string[] {
  const out: string[] = [];
  const add = (entry: string) => {
    // docker and podman refuse `-e ""` as they refuse `-e =x` (Deno.env.get would throw).
    if (entry === "") throw new UsageError('invalid environment variable: ""');
    if (entry.includes("=")) {
      if (entry.startsWith("=")) throw new UsageError(`invalid environment variable: ${entry}`);
      out.push(entry);
      return;
    }
    const value = Deno.env.get(entry);
    if (value !== undefined) out.push(`${entry}=${value}`);
  };
  for (const file of args.envFile) {
    let text: string;
    try {
      text = _decodeEnvFile(file, _readEnvFile(file));
    } catch (error) {
      if (error instanceof UsageError) throw error;
      // "Cannot read FILE: it is not a regular file / larger than N bytes", or the errno.
      const e = error as SyscallError;
      const why = e.message.startsWith("Cannot read ")
        ? e.message.slice(e.message.indexOf(": ") + 2)
        : e.errno
        ? `${errnoName(e.errno)} (${errnoText(e.errno)})`
        : e.message;
      throw new UsageError(`--env-file ${file}: ${why}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const l = line.replace(/^\s+/, "");
      if (!l || l.startsWith("#")) continue;
      // docker's parseKeyValueFile refuses a name with a blank in it (`A =1`, a typo that
      // podman passes on as the variable "A "); -e takes it, as both engines do.
      const name = l.split("=", 1)[0];
      if (/[ \t]/.test(name)) {
        throw new UsageError(`--env-file ${file}: variable '${name}' contains whitespaces`);
      }
      // docker names the file and the line (it said -e's "invalid environment variable: =x").
      if (name === "") throw new UsageError(`--env-file ${file}: no variable name on line '${l}'`);
      add(l);
    }
  }
  for (const e of args.env) add(e);
  return out;
}

/** What `exec` runs: the program and the NsCommand options, and the pinned target. */
export interface ExecPlan {
  /** The program. */
  program: string;
  /** The options for NsCommand. */
  options: NsCommandOptions;
  /** The container, when the target is one. */
  container?: PinnedContainer;
  /** The pinned process (the container's, or the PID's); close it when done. */
  pinned?: PinnedProcess;
}

/**
 * Works out the NsCommand for parsed `exec` arguments, with docker exec's defaults: the
 * container's configured environment (HOME from its /etc/passwd), user and working
 * directory, its cgroups, and its capabilities unless `--privileged`.
 *
 * @param args parsed arguments
 * @param find how to find containers
 * @returns the plan; close `container` when done
 * @throws {UsageError} without TARGET or COMMAND
 * @throws {NamespaceError} when the target cannot be found
 */
export const planExec = (async function planExec(
  args: ExecArgs,
  find: FindContainersOptions = {},
): Promise<ExecPlan> {
  if (args.target === undefined || args.command.length === 0) {
    throw new UsageError(`"exec" requires at least 2 arguments: TARGET COMMAND`);
  }
  const [program, ...rest] = args.command;
  if (args.user !== undefined && args.user.split(":").length > 2) {
    throw new UsageError(`--user ${args.user}: give name|uid[:group|gid]`);
  }
  if (args.detach && args.killOnExit) {
    throw new UsageError("--kill-on-exit and --detach exclude each other");
  }
  // As docker exec: an empty -w is the default, a relative one is refused (runc's "Cwd must
  // be an absolute path"), where a path relative to / would run the program somewhere else.
  const workdir = args.workdir || undefined;
  if (workdir !== undefined && !workdir.startsWith("/")) {
    throw new UsageError(`--workdir ${workdir}: give an absolute path`);
  }
  const extra = execEnvEntries(args);
  const common: Partial<NsCommandOptions> = {
    args: rest,
    killOnExit: args.killOnExit || undefined,
    tty: args.tty || undefined,
    stdin: args.interactive && !args.detach ? "inherit" : "null",
    stdout: args.detach ? "null" : "inherit",
    stderr: args.detach ? "null" : "inherit",
  };
  const text = args.target;
  if (isPidText(text) || /^[/.]/.test(text) || text.startsWith("netns:")) {
    const t = parseTarget(text);
    if (text.startsWith("netns:")) {
      if (args.namespaces && args.namespaces.join() !== "net") {
        throw new UsageError("a netns: target has only a net namespace");
      }
      const env: Record<string, string> = {};
      for (const e of extra) env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
      const user = args.user === undefined ? undefined : _numericUser(args.user);
      return {
        program,
        options: {
          ...common,
          target: t,
          namespaces: ["net"],
          netnsName: text.slice("netns:".length),
          env,
          cwd: workdir,
          ...user,
        },
      };
    }
    const pid = typeof t === "number" ? t : undefined;
    if (pid !== undefined) {
      assertUserWithMnt(args.namespaces, pid);
      assertMntWithPid(args.namespaces, pid);
    }
    const file = pid === undefined ? _namespaceFileExec(t as string) : undefined;
    const env: Record<string, string> = {};
    for (const e of extra) env[e.slice(0, e.indexOf("="))] = e.slice(e.indexOf("=") + 1);
    // Its environment and /etc/passwd are the target's to choose: used only when the
    // program runs in its mount namespace (else they would pick host files and groups).
    const inside = pid !== undefined &&
      (args.namespaces ?? ["mnt"]).includes("mnt") && differingNamespaces(pid).includes("mnt");
    const user = args.user === undefined
      ? undefined
      : inside
      ? resolveContainerUser(pid!, args.user)
      : _numericUser(args.user, pid !== undefined);
    const target = pid === undefined ? t : pinProcess(pid);
    let cgroups = pid ? cgroupProcsOf(pid) : undefined;
    if (cgroups) assertNotFrozen(cgroups, `process ${pid}`);
    // Not those of a user namespace's owner for a program that keeps ours (stop 27, conf27).
    if (pid && !_joinsTargetCgroups(args.namespaces, pid, user?.uid)) cgroups = [];
    const envOptions: Partial<NsCommandOptions> = inside
      ? { env, targetEnv: true }
      : pid === undefined
      ? file!.readsEnv
        ? _readableEnv(env)
        // What was checked of the path holds for the fd the helper joins.
        : { env, targetEnv: false, ownNamespaceFile: true }
      : _hostProgramEnv(args.namespaces, pid, env);
    return {
      program,
      pinned: target instanceof PinnedProcess ? target : undefined,
      options: {
        ...common,
        target,
        namespaces: args.namespaces ?? "all",
        ...envOptions,
        cwd: workdir ?? _hostProgramCwd(envOptions),
        uid: user?.uid,
        gid: user?.gid,
        cgroups,
        capabilities: !pid
          ? "all"
          : inside
          ? args.privileged ? "all" : "target"
          : _hostProgramCapabilities(pid, args.privileged),
        ...(pid ? { noNewPrivs: "target", ...execConfinement(args.seccomp) } : {}),
      },
    };
  }

  // cli.ts checked the permissions (all) before this module loaded.
  const container = await _resolveContainer(text, find);
  try {
    const options = _containerExecOptions(container, {
      user: args.user,
      workdir,
      env: extra,
      tty: args.tty,
      privileged: args.privileged,
      seccomp: args.seccomp,
      namespaces: args.namespaces,
    }, false);
    return { program, container, pinned: container, options: { ...common, ...options } };
  } catch (error) {
    container.close();
    throw error;
  }
}).bind(undefined);

function _numericUser(spec: string, hostSide = false): { uid: number; gid?: number } {
  const m = spec.match(/^([0-9]+)(?::([0-9]+))?$/);
  if (!m) {
    throw new UsageError(
      hostSide
        ? `--user ${spec}: give uid[:gid] when the mount namespace is not joined (the target's /etc/passwd would choose host credentials)`
        : `--user ${spec}: give uid[:gid] for a target without /etc/passwd`,
    );
  }
  return { uid: Number(m[1]), gid: m[2] === undefined ? undefined : Number(m[2]) };
}

/**
 * `nsjoin exec`: docker exec's dialect, for any engine's containers, named netns, PIDs.
 *
 * @param argv the arguments after `exec`
 * @returns the exit code
 */
export async function exec(argv: readonly string[]): Promise<number> {
  let plan: ExecPlan | undefined;
  let raw = false;
  try {
    const args = parseExecArgs(argv);
    if (args.help) {
      console.log(EXEC_HELP);
      return 0;
    }
    // No liveness re-read of the pin here (a /proc/PID/stat read, ~50 µs): the plan read
    // the container's /proc files after pinning it, and the helper refuses a pin that died
    // since (its PID's pidfd inode, then pidfd_send_signal once the namespaces are open:
    // exit 125, "the target exited", nothing run) — a read of a PID reused meanwhile never
    // reaches a join.
    plan = await planExec(args).catch((error) => {
      // docker exec reads digits as an ID prefix; here a short one is a PID (isPidText).
      const n = args.target;
      if (
        error instanceof NamespaceError && error.code === "ESRCH" &&
        error.message.startsWith(`Cannot find process ${n}:`)
      ) {
        throw new NamespaceError(`Cannot find process ${n}`, {
          errno: 3,
          syscall: error.syscall,
          target: Number(n),
          hint: `a container ID prefix of digits only needs its engine: docker:${n}`,
        });
      }
      throw error;
    });
    if (args.tty && args.interactive && !args.detach && !Deno.stdin.isTerminal()) {
      // docker exec's check, word for word, after the target was found (as docker's "not
      // found" comes first): a terminal inside needs one on our side to feed it keystrokes.
      // Exit 2, a usage error, where docker's CLI exits 1 (its code for every CLI error).
      throw new UsageError("the input device is not a TTY");
    }
    const ns = plan.options.namespaces ?? "all";
    const joined = (type: string) =>
      ns === "all" || (Array.isArray(ns) ? ns.includes(type) : type in ns);
    // The target's program (its mount namespace) or one a task of its pid or user namespace
    // can ptrace (in its user namespace it has that namespace's owner's uid: `-n user,net` of
    // a local user's `unshare -Ur` took root's terminal with pidfd_getfd): never in our
    // session, where the controlling terminal (/dev/tty) takes TIOCSTI from it, typing
    // commands into the caller's shell; a session of its own, as runc gives every exec.
    const hostile = !args.tty && (joined("pid") || joined("mnt") || joined("user"));
    const o = {
      ...plan.options,
      ...(hostile ? { newSession: true } : {}),
      messagePrefix: "nsjoin exec",
    };
    const stdio = o.stdin === "inherit" ? [0, 1, 2] : [1, 2];
    if (
      hostile && !args.detach &&
      (terminalOnStdio(stdio) ||
        ((joined("pid") || joined("user")) && (socketOnStdio(stdio) || fileOnStdio(stdio))))
    ) {
      // Our stdio would be the program's for its whole life: a terminal (the caller's
      // keystrokes, after we exit too) or a socket or file in the target's pid namespace (see
      // socketOnStdio, fileOnStdio) or user namespace, whose owner may ptrace the program and
      // take it: a connection of ours (the caller's uid in SO_PEERCRED), a file of ours to
      // write into when it likes. Relay through pipes, as docker exec's shim does.
      // Deno stays, beside the program: no inspector a SIGUSR1 could open (ffi/inspector.ts).
      await sealInspector();
      const piped = new NsCommand(plan.program, {
        ...o,
        stdin: o.stdin === "inherit" ? "piped" : "null",
        stdout: "piped",
        stderr: "piped",
      });
      return await relayStdio(piped.spawn());
    }
    const command = new NsCommand(plan.program, o);
    if (!args.tty && !args.detach) {
      // Become the helper, as nsenter does: no child to wait for, no relay (the pidfd
      // that pins the container is close-on-exec).
      return command.exec();
    }
    if (!args.detach) await sealInspector(); // as above: Deno stays, relaying the pty
    if (args.tty && args.interactive && !args.detach) {
      // A terminal: checked above.
      Deno.stdin.setRaw(true);
      raw = true;
    }
    const child = command.spawn({ detached: args.detach });
    if (args.detach) {
      // As docker exec -d: return once started; report a failure to join or exec that
      // shows up at once.
      const early = await Promise.race([
        child.status,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 100)),
      ]);
      child.unref();
      // stderr is /dev/null here: say why from the helper's private report (escaped: what
      // others chose by the helper, a record the target forged by _setupError).
      if (early?.setupError) console.error(`nsjoin exec: ${early.setupError.message}`);
      return early && early.code >= 125 ? early.code : 0;
    }
    return await relay(child);
  } catch (error) {
    return report(error, "exec");
  } finally {
    if (raw) Deno.stdin.setRaw(false);
    plan?.pinned?.close();
  }
}
