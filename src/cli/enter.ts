import { NsCommand, type NsCommandOptions } from "../command.ts";
import { NamespaceError } from "../errors.ts";
import { differingNamespaces, type NamespaceType, namespaceTypeOfFile } from "../namespaces.ts";
import { parseTarget } from "../target.ts";
import { cNumber, expandLongOption } from "./_args.ts";
import { report, UsageError } from "./_run.ts";
import { libcSubset } from "../../ffi/libc.ts";
// Imported statically, though only -c, -N, --user-parent and -V use them: Deno reads at start
// every module a dynamic import names by a string literal anyway (enter runs with no read
// permission, so it cannot load a module it did not name), and as modules of their own they
// were five more files of the CLI bundle to read on every start (~2 ms); in enter's chunks
// they cost only their top-level code.
import {
  nsfsClose,
  nsfsIdentity,
  nsfsOpen,
  nsfsRelated,
  pidfdOpen,
  socketNetns,
} from "../../ffi/nsfs.ts";
import { cgroupProcsOf } from "../container_exec.ts";
import { versionText } from "./_version.ts";
import { readProcText } from "../_proc.ts";

/** `enter`'s options, parsed: nsenter's dialect. */
export interface EnterArgs {
  /** -t: a PID (or a namespace file). */
  target?: number | string;
  /** -a: every namespace of the target that differs from ours. */
  all: boolean;
  /**
   * -m -u -i -n -p -C -U -T: true = the target's, a string = that namespace file, or
   * `{ nsid }` for `--TYPE=:NSID` (a namespace by its id, Linux 6.19+).
   */
  namespaces: Partial<Record<NamespaceType, true | string | { nsid: bigint }>>;
  /** -N: the net namespace of the socket the target holds at this fd. */
  netSocket?: number;
  /** -c: put the program into the target's cgroups. */
  joinCgroup: boolean;
  /** --keep-caps: keep the user namespace's capabilities as ambient ones. */
  keepCaps: boolean;
  /** --user-parent: join the parent of the user namespace instead. */
  userParent: boolean;
  /** -Z: follow the target's SELinux context (a no-op without SELinux, as nsenter). */
  followContext: boolean;
  /** -V */
  version: boolean;
  /** -S: a uid or "follow". */
  uid?: number | "follow";
  /** -G: a gid or "follow". */
  gid?: number | "follow";
  /** --preserve-credentials */
  preserveCredentials: boolean;
  /** --kill-on-exit: a program forked into a pid namespace dies with us. */
  killOnExit?: boolean;
  /** -r: true = the target's root, or a directory. */
  root?: true | string;
  /** -w: true = the target's cwd, or a host directory. */
  wd?: true | string;
  /** -W: a directory inside the target. */
  wdns?: string;
  /** -e: the target's environment. */
  env: boolean;
  /** -F: do not fork. */
  noFork: boolean;
  /** -h */
  help: boolean;
  /** The program and its arguments (empty: $SHELL). */
  command: string[];
}

/** Namespace options: short letter → [long name, namespace type]; each takes an optional FILE, as nsenter. */
export const NS_FLAGS: Record<string, [string, NamespaceType]> = {
  m: ["mount", "mnt"],
  u: ["uts", "uts"],
  i: ["ipc", "ipc"],
  n: ["net", "net"],
  p: ["pid", "pid"],
  C: ["cgroup", "cgroup"],
  U: ["user", "user"],
  T: ["time", "time"],
};
const LONG_NS = new Map(Object.entries(NS_FLAGS).map(([s, [l]]) => [l, s]));

/** Long options of `enter` other than the namespace ones, by their short letter. */
export const LONG: Readonly<Record<string, string>> = {
  all: "a",
  target: "t",
  setuid: "S",
  setgid: "G",
  root: "r",
  wd: "w",
  wdns: "W",
  env: "e",
  "no-fork": "F",
  "net-socket": "N",
  "join-cgroup": "c",
  "follow-context": "Z",
  help: "h",
  version: "V",
};

/** Long options that take no value and have no short letter, by the field they set. */
export const FLAGS_ONLY: Readonly<Record<string, keyof EnterArgs>> = {
  "preserve-credentials": "preserveCredentials",
  "keep-caps": "keepCaps",
  "user-parent": "userParent",
  "kill-on-exit": "killOnExit",
};

const _LONG_NAMES = [...LONG_NS.keys(), ...Object.keys(LONG), ...Object.keys(FLAGS_ONLY)];
// nsenter's long options, which getopt_long lets a user abbreviate, in nsenter's table order
// (getopt's "is ambiguous; possibilities:" lists them so); --kill-on-exit is ours and must be
// spelled out, so that `--k` stays nsenter's --keep-caps.
const _NSENTER_LONG = [
  "all",
  "help",
  "version",
  "target",
  "mount",
  "uts",
  "ipc",
  "net",
  "net-socket",
  "pid",
  "user",
  "cgroup",
  "time",
  "setuid",
  "setgid",
  "root",
  "wd",
  "wdns",
  "env",
  "no-fork",
  "join-cgroup",
  "preserve-credentials",
  "keep-caps",
  "user-parent",
  "follow-context",
];

/** The usage text of `enter`. */
export const ENTER_HELP = `NAME
 nsjoin enter - run a program with namespaces of other processes (nsenter's options)

SYNOPSIS
 nsjoin enter [options] [program [arguments]]

DESCRIPTION
 Joins namespaces of a target process (or namespace files) and replaces itself with the
 program, as nsenter does. The program defaults to $SHELL, else /bin/sh. Needs
 --allow-ffi --allow-env (or -A).

OPTIONS
 -a, --all                 enter all namespaces that differ from ours
 -t, --target <pid>        target process to get namespaces from
 -m, --mount[=<file>]      enter mount namespace
 -u, --uts[=<file>]        enter UTS namespace (hostname etc)
 -i, --ipc[=<file>]        enter System V IPC namespace
 -n, --net[=<file>]        enter network namespace
 -N, --net-socket <fd>     enter socket's network namespace (use with --target)
 -p, --pid[=<file>]        enter pid namespace
 -C, --cgroup[=<file>]     enter cgroup namespace
 -U, --user[=<file>]       enter user namespace
     --user-parent         enter parent user namespace
 -T, --time[=<file>]       enter time namespace
 -S, --setuid <uid>|follow set uid in entered namespace
 -G, --setgid <gid>|follow set gid in entered namespace
     --preserve-credentials do not touch uids or gids
     --kill-on-exit        kill the program when nsjoin dies, even by SIGKILL (else, as
                           with nsenter, a program forked into a pid namespace lives on)
 -r, --root[=<dir>]        set the root directory (default: the target's)
 -w, --wd[=<dir>]          set the working directory (a host path, opened before entering)
 -W, --wdns <dir>          set the working directory inside the namespace (as util-linux
                           2.38: -W DIR or --wdns=DIR; --wdns DIR leaves DIR the program)
 -e, --env                 inherit environment variables from the target process
 -F, --no-fork             do not fork before exec'ing <program>
 -c, --join-cgroup         join the cgroups of the target process
     --keep-caps           retain capabilities granted in user namespaces
 -Z, --follow-context      set SELinux context according to --target PID
 -h, --help                display this help
 -V, --version             display version

 --TYPE=:NSID names a namespace by its id (Linux 6.19+). A file the kernel cannot execute
 (a script without #!) runs with /bin/sh, as nsenter's execvp(3) does.

EXIT STATUS
 The program's own; 128+N when it was killed by signal N; 125 when the target could
 not be found or joined (nothing was run); 126 the program is not executable; 127 it was
 not found in the target; 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin enter -t 4242 -a ip -br addr        every namespace of pid 4242 that differs
 nsjoin enter --net=/run/netns/blue ip route  a named network namespace
 nsjoin enter -t 4242 -m -p -r -w ps aux     its mount and pid namespaces, root and cwd`;

function _id(flag: string, v: string): number | "follow" {
  if (v === "follow") return "follow";
  const digits = cNumber(v);
  if (digits === undefined) {
    throw new UsageError(`${flag} takes a number or "follow", not ${JSON.stringify(v)}`);
  }
  return Number(digits);
}

/** parseEnterArgs's state: the options so far, the arguments and the index being read. */
interface _Parse {
  out: EnterArgs;
  argv: readonly string[];
  i: number;
  /** A bare `--wdns` was seen: it sets nothing, but still excludes --wd (util-linux 2.38). */
  wdnsBare: boolean;
}

// _required and _apply are parseEnterArgs's steps, at the top level rather than closures in
// it: the bundle compiles them with the module, so Deno's code cache holds them, where a
// closure was compiled again on every start (~0.2 ms of `enter`, V8's function events).

/**
 * An option's value: `attached`, the value in the same argument (`-t5`, `--target=5`, even
 * `--setuid=`, which getopt hands over as ""); otherwise the next argument.
 */
function _required(p: _Parse, name: string, attached: string | undefined): string {
  if (attached !== undefined) return attached;
  if (p.i + 1 >= p.argv.length) throw new UsageError(`option ${name} requires an argument`);
  return p.argv[++p.i];
}

/** Applies one option; returns true when the value (attached) was consumed. */
function _apply(
  p: _Parse,
  letter: string,
  name: string,
  value: string | undefined,
  attached: boolean,
): boolean {
  const out = p.out;
  // The newest nsenter skips one "=" of a FILE or DIR (`-n=FILE`, `-w=DIR`, `-W=DIR`);
  // 2.38 opened "=FILE". A name that starts with "=" is given as "./=x".
  if (value?.startsWith("=") && (letter in NS_FLAGS || letter === "w" || letter === "W")) {
    value = value.slice(1);
  }
  // `--net=`, `--root=`, `--wd=` name the file "" (nsenter: "cannot open : No such file"),
  // not the target's.
  if (value === "" && (letter in NS_FLAGS || letter === "r" || letter === "w")) {
    throw new UsageError(
      `${name}= needs a ${letter in NS_FLAGS ? "namespace file" : "directory"} after the =`,
    );
  }
  if (letter in NS_FLAGS) {
    const type = NS_FLAGS[letter][1];
    if (value && value.startsWith(":")) {
      // nsenter 2.42: =:NSID; a file named ":x" is given as "./:x".
      if (!/^:[0-9]+$/.test(value)) {
        throw new UsageError(`${name}: invalid namespace id ${JSON.stringify(value.slice(1))}`);
      }
      out.namespaces[type] = { nsid: BigInt(value.slice(1)) };
    } else out.namespaces[type] = value ? value : true;
    return true;
  }
  switch (letter) {
    case "a":
      out.all = true;
      return false;
    case "e":
      out.env = true;
      return false;
    case "F":
      out.noFork = true;
      return false;
    case "h":
      out.help = true;
      return false;
    case "V":
      out.version = true;
      return false;
    case "c":
      out.joinCgroup = true;
      return false;
    case "Z":
      out.followContext = true;
      return false;
    case "N": {
      const v = _required(p, name, attached ? value : undefined);
      const fd = cNumber(v);
      if (fd === undefined) throw new UsageError(`${name}: invalid fd ${JSON.stringify(v)}`);
      out.netSocket = Number(fd);
      return true;
    }
    case "r":
      out.root = value ? value : true;
      return true;
    case "w":
      out.wd = value ? value : true;
      return true;
    case "t": {
      // As the newest nsenter (2.38 took the last one): two targets are a mistake.
      if (out.target !== undefined) {
        throw new UsageError("option --target may be given only once");
      }
      const v = _required(p, name, attached ? value : undefined);
      try {
        out.target = parseTarget(cNumber(v) ?? v);
      } catch (error) {
        throw new UsageError(`${name}: ${(error as Error).message}`);
      }
      return true;
    }
    case "S":
      out.uid = _id(name, _required(p, name, attached ? value : undefined));
      return true;
    case "G":
      out.gid = _id(name, _required(p, name, attached ? value : undefined));
      return true;
    case "W":
      // util-linux 2.38, the installed anchor, declares -W with a required value ("W:")
      // but --wdns with an optional one (optional_argument): `--wdns DIR` leaves DIR as
      // the program and a bare --wdns changes nothing, though it still excludes -w.
      if (name === "--wdns" && !attached) {
        p.wdnsBare = true;
        return false;
      }
      out.wdns = _required(p, name, attached ? value : undefined);
      return true;
  }
  throw new UsageError(`unknown option ${name}`);
}

// parseEnterArgs and enterOptions run on every `enter`: written as parenthesized function
// expressions so that V8 compiles them with the module and Deno's code cache holds them (see
// the note in src/command.ts).

/**
 * Parses `enter`'s arguments with getopt's rules, as nsenter does: options stop at the
 * first non-option; `-nFILE` / `--net=FILE` give a namespace file; `-mu` is -m with FILE
 * "u". (node:util parseArgs has no optional-value options, hence this small parser.)
 *
 * @param argv the arguments after `enter`
 * @returns the parsed options
 * @throws {UsageError} on an unknown option or a missing or bad value
 */
export const parseEnterArgs = (function parseEnterArgs(argv: readonly string[]): EnterArgs {
  const out: EnterArgs = {
    all: false,
    namespaces: {},
    preserveCredentials: false,
    env: false,
    noFork: false,
    joinCgroup: false,
    keepCaps: false,
    userParent: false,
    followContext: false,
    help: false,
    version: false,
    command: [],
  };
  const p: _Parse = { out, argv, i: 0, wdnsBare: false };
  for (; p.i < argv.length; p.i++) {
    const a = argv[p.i];
    if (a === "--") {
      p.i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const typed = eq < 0 ? a.slice(2) : a.slice(2, eq);
      // getopt_long: a unique prefix of nsenter's long options (`--tar 5`, `--pre`).
      const name = expandLongOption(typed, _LONG_NAMES, _NSENTER_LONG) ?? typed;
      const value = eq < 0 ? undefined : a.slice(eq + 1);
      if (name in FLAGS_ONLY) {
        if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
        (out[FLAGS_ONLY[name]] as boolean) = true;
        continue;
      }
      const letter = LONG_NS.get(name) ?? LONG[name];
      if (!letter) throw new UsageError(`unknown option --${name}`);
      if (value !== undefined && "aeFhVcZ".includes(letter)) {
        throw new UsageError(`option --${name} takes no value`);
      }
      _apply(p, letter, `--${name}`, value, value !== undefined);
      // nsenter prints its help or version as getopt meets -h or -V: what follows is unread.
      if (out.help || out.version) return out;
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const letter = a[j];
      const rest = a.slice(j + 1);
      const given = rest === "" ? undefined : rest;
      const took = _apply(p, letter, `-${letter}`, given, given !== undefined);
      if (out.help || out.version) return out;
      if (took && (rest !== "" || "tSGWN".includes(letter))) break;
    }
  }
  if (out.wd !== undefined && (out.wdns !== undefined || p.wdnsBare)) {
    throw new UsageError("options --wd and --wdns are mutually exclusive");
  }
  out.command = argv.slice(p.i);
  return out;
}).bind(undefined);

/**
 * `enter -n /run/netns/blue ip addr`: a namespace option takes its FILE attached only (getopt's
 * optional value), so the file became the program. When the program word is a namespace file
 * of the one type given bare, the line says how to give it; nothing otherwise (not a file, one
 * that cannot be read, or a missing permission).
 */
function _fileAsProgram(bare: string[], word: string | undefined): string {
  if (bare.length !== 1 || !word) return "";
  try {
    if (namespaceTypeOfFile(word) !== bare[0]) return "";
  } catch {
    return "";
  }
  const long = Object.values(NS_FLAGS).find(([, type]) => type === bare[0])?.[0];
  return ` (${word} was read as the program: a namespace option takes its FILE attached, --${long}=${word})`;
}

/**
 * Turns parsed `enter` arguments into NsCommand options. The namespaces that need an fd
 * (-N, --user-parent, =:NSID) must have been turned into files by {@link resolveEnterFds};
 * -c's cgroups are added by {@link enter} (their code is loaded only for -c).
 *
 * @param args parsed arguments
 * @returns the program and the NsCommand options
 * @throws {UsageError} when no target can be worked out
 */
export const enterOptions =
  (function enterOptions(args: EnterArgs): { program: string; options: NsCommandOptions } {
    const given: Partial<Record<NamespaceType, true | string>> = {};
    for (const [type, v] of Object.entries(args.namespaces)) {
      if (typeof v === "object") {
        throw new TypeError(`Cannot enter the ${type} namespace by id: resolve it first`);
      }
      given[type as NamespaceType] = v;
    }
    const files = Object.values(given).filter((v) => typeof v === "string") as string[];
    let target = args.target;
    if (args.netSocket !== undefined && _pidOf(target) === undefined) {
      throw new UsageError("--net-socket requires --target");
    }
    if (target === undefined) {
      // As nsenter: without -t every namespace must be given as a file.
      const bare = Object.entries(given).filter(([, v]) => v === true).map(([t]) => t);
      if (args.all || bare.length > 0 || files.length === 0) {
        throw new UsageError(
          bare.length > 0 || args.all
            ? `no target given for ${args.all ? "-a" : bare.join(", ")}: use -t PID or --TYPE=FILE${
              args.all ? "" : _fileAsProgram(bare, args.command[0])
            }`
            : "no namespace given: use -t PID with -a or a namespace option",
        );
      }
      // nsenter opens a FILE relative to the cwd; as a target a bare word would be read as
      // a PID (`--net=1` in /run/netns) or refused (`--net=blue`): name it as a path.
      const first = files[0];
      target = first.startsWith("/") || first.startsWith(".") ? first : `./${first}`;
    }
    const nsCount = Object.keys(given).length;
    if (!args.all && nsCount === 0) {
      throw new UsageError("no namespace given: use -a or one of -m -u -i -n -p -C -U -T");
    }
    const namespaces: NsCommandOptions["namespaces"] = args.all ? "all" : given;
    // No program: nsenter's exec_shell(), $SHELL (when set and not empty), else /bin/sh, as
    // a login shell ("-" and its basename as argv[0]).
    const [program = Deno.env.get("SHELL") || "/bin/sh", ...rest] = args.command;
    const argv0 = args.command.length === 0
      ? `-${program.slice(program.lastIndexOf("/") + 1)}`
      : undefined;
    const pid = _pidOf(target);
    const options: NsCommandOptions = {
      target,
      namespaces: args.all && nsCount > 0 && pid
        ? { ...Object.fromEntries(differingNamespaces(pid).map((t) => [t, true])), ...given }
        : namespaces,
      args: rest,
      uid: args.uid,
      gid: args.gid,
      preserveCredentials: args.preserveCredentials,
      killOnExit: args.killOnExit,
      targetEnv: args.env,
      fork: !args.noFork,
      keepCaps: args.keepCaps,
      // nsenter execs with execvp(3): a script without "#!" runs with /bin/sh.
      shellFallback: true,
      argv0,
      messagePrefix: "nsjoin enter",
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    };
    if (args.joinCgroup && !pid) throw new UsageError("--join-cgroup requires --target");
    if (args.root !== undefined) {
      // As nsenter ("neither filename nor target pid supplied for root"): the target's root
      // needs a target, where it was dropped without a word.
      if (args.root === true && !pid) throw new UsageError("-r without a directory needs -t PID");
      options.root = args.root === true ? true : args.root;
    }
    if (args.wd !== undefined) {
      if (args.wd === true && !pid) throw new UsageError("-w without a directory needs -t PID");
      options.hostCwd = args.wd === true ? `/proc/${pid}/cwd` : args.wd;
    }
    // nsenter changes directory before it changes ids: as root in a user namespace too.
    if (args.wdns !== undefined) {
      options.cwd = args.wdns;
      options.cwdAsCaller = true;
    }
    return { program, options };
  }).bind(undefined);

const F_SETFD = 2;

/** An fd of ours the helper opens as /proc/self/fd/N after it replaced us (execve keeps it). */
function _handOver(fd: number, held: number[]): string {
  held.push(fd);
  if (libcSubset("fcntl").fcntl(fd, F_SETFD, 0) < 0) {
    throw new NamespaceError(`Cannot pass namespace fd ${fd} on`, { errno: 9, syscall: "fcntl" });
  }
  return `/proc/self/fd/${fd}`;
}

/**
 * The parts of `enter` that need fds of this process: -N's socket gives its network namespace, --user-parent the parent user namespace, each
 * as /proc/self/fd/N for the helper; =:NSID is refused where the kernel cannot open it.
 * -Z is nsenter's no-op without SELinux.
 *
 * @param args parsed arguments (namespaces are rewritten in place)
 * @param held fds opened here, for the caller to close if nothing runs
 * @throws {NamespaceError} when a namespace cannot be found (exit 125)
 */
export function resolveEnterFds(args: EnterArgs, held: number[]): void {
  const pid = _pidOf(args.target);
  for (const [type, v] of Object.entries(args.namespaces)) {
    if (typeof v !== "object") continue;
    // Not Deno.osRelease(): it needs --allow-sys, which enter's flags do not give.
    const release = readProcText("/proc/sys/kernel/osrelease").split(".").map(Number);
    const old = release[0] < 6 || (release[0] === 6 && release[1] < 19);
    throw new NamespaceError(
      `Cannot enter the ${type} namespace with id ${v.nsid}: ` +
        (old ? "opening a namespace by its id needs Linux 6.19" : "not supported by nsjoin yet"),
      { errno: old ? 38 : 95, syscall: "open_by_handle_at", namespace: type as NamespaceType },
    );
  }
  if (args.netSocket !== undefined && pid !== undefined) {
    const pidfd = pidfdOpen(pid);
    const ns = pidfd < 0 ? pidfd : socketNetns(pidfd, args.netSocket);
    nsfsClose(pidfd);
    if (ns < 0) {
      throw new NamespaceError(
        `Cannot enter the network namespace of fd ${args.netSocket} of process ${pid}`,
        { errno: -ns, syscall: "SIOCGSKNS", namespace: "net", target: pid },
      );
    }
    args.namespaces.net = _handOver(ns, held);
  }
  if (args.userParent) {
    // nsenter 2.42: the parent of the --user FILE's namespace, else of the target's user
    // namespace (PIDFD_GET_USER_NAMESPACE), whatever else is joined: not of the owner of
    // another namespace named, which may be a different user namespace.
    const file = args.namespaces.user;
    const source = typeof file === "string"
      ? file
      : pid !== undefined
      ? `/proc/${pid}/ns/user`
      : undefined;
    if (source === undefined) throw new UsageError("--user-parent needs -t PID or --user=FILE");
    const user = nsfsOpen(source);
    // NS_GET_USERNS, nsenter's ioctl: a user namespace's owner is its parent.
    const parent = user < 0 ? user : nsfsRelated(user, "owner");
    if (user >= 0) nsfsClose(user);
    if (parent < 0) {
      throw new NamespaceError(`Cannot find the parent user namespace of ${source}`, {
        errno: -parent,
        syscall: "ioctl",
        namespace: "user",
        hint: -parent === 1 ? "it is the initial user namespace, or above ours" : undefined,
      });
    }
    // The kernel refuses to enter the caller's own user namespace (setns EINVAL), as
    // nsenter finds ("reassociate to namespace 'ns/user' failed"): said as what it is.
    const mine = nsfsOpen("/proc/self/ns/user");
    const [a, b] = [nsfsIdentity(parent), mine >= 0 ? nsfsIdentity(mine) : undefined];
    if (mine >= 0) nsfsClose(mine);
    if (a && b && a.ino === b.ino && a.dev === b.dev) {
      nsfsClose(parent);
      throw new NamespaceError(`Cannot enter the parent user namespace of ${source}`, {
        errno: 22,
        syscall: "setns",
        namespace: "user",
        hint: "it is our own user namespace, which the kernel does not let a process enter again",
      });
    }
    args.namespaces.user = _handOver(parent, held);
  }
  if (args.followContext && _selinuxEnabled()) {
    throw new NamespaceError(
      "Cannot follow the target's SELinux context: not supported by nsjoin",
      {
        errno: 95,
        syscall: "setexeccon",
      },
    );
  }
}

/** The PID of a -t value: a number, or PID:INODE (checked when the target is resolved). */
function _pidOf(target: number | string | undefined): number | undefined {
  if (typeof target === "number") return target;
  const m = target === undefined ? null : /^([0-9]+):[0-9]+$/.exec(target);
  return m ? Number(m[1]) : undefined;
}

/** Whether SELinux is on: its filesystem is mounted (libselinux's is_selinux_enabled). */
function _selinuxEnabled(): boolean {
  try {
    Deno.statSync("/sys/fs/selinux/enforce");
    return true;
  } catch {
    return false;
  }
}

/**
 * `nsjoin enter`: nsenter's dialect. On success this process becomes the program (it
 * does not return); otherwise it returns the exit code for the error it printed.
 *
 * @param argv the arguments after `enter`
 * @returns the exit code
 */
export function enter(argv: readonly string[]): number {
  let args: EnterArgs;
  const held: number[] = [];
  try {
    args = parseEnterArgs(argv);
    if (args.help) {
      console.log(ENTER_HELP);
      return 0;
    }
    if (args.version) {
      console.log(versionText("enter"));
      return 0;
    }
    resolveEnterFds(args, held);
    const { program, options } = enterOptions(args);
    if (args.joinCgroup) {
      options.cgroups = cgroupProcsOf(_pidOf(options.target as number | string)!);
    }
    // Become the helper, as nsenter becomes its program: no child to wait for.
    return new NsCommand(program, options).exec();
  } catch (error) {
    return report(error, "enter");
  } finally {
    // Reached only when nothing ran (exec replaces this process).
    for (const fd of held) nsfsClose(fd);
  }
}
