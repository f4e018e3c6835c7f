import { NsCommand, type NsCommandOptions } from "../command.ts";
import { differingNamespaces, type NamespaceType } from "../namespaces.ts";
import { parseTarget } from "../target.ts";
import { report, UsageError } from "./_run.ts";

/** `enter`'s options, parsed: nsenter's dialect. */
export interface EnterArgs {
  /** -t: a PID (or a namespace file). */
  target?: number | string;
  /** -a: every namespace of the target that differs from ours. */
  all: boolean;
  /** -m -u -i -n -p -C -U -T: true = the target's, a string = that namespace file. */
  namespaces: Partial<Record<NamespaceType, true | string>>;
  /** -S: a uid or "follow". */
  uid?: number | "follow";
  /** -G: a gid or "follow". */
  gid?: number | "follow";
  /** --preserve-credentials */
  preserveCredentials: boolean;
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
  help: "h",
};

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
 -p, --pid[=<file>]        enter pid namespace
 -C, --cgroup[=<file>]     enter cgroup namespace
 -U, --user[=<file>]       enter user namespace
 -T, --time[=<file>]       enter time namespace
 -S, --setuid <uid>|follow set uid in entered namespace
 -G, --setgid <gid>|follow set gid in entered namespace
     --preserve-credentials do not touch uids or gids
 -r, --root[=<dir>]        set the root directory (default: the target's)
 -w, --wd[=<dir>]          set the working directory (a host path, opened before entering)
 -W, --wdns <dir>          set the working directory inside the namespace
 -e, --env                 inherit environment variables from the target process
 -F, --no-fork             do not fork before exec'ing <program>
 -h, --help                display this help

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
  if (!/^[0-9]+$/.test(v)) {
    throw new UsageError(`${flag} takes a number or "follow", not ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/**
 * Parses `enter`'s arguments with getopt's rules, as nsenter does: options stop at the
 * first non-option; `-nFILE` / `--net=FILE` give a namespace file; `-mu` is -m with FILE
 * "u". (node:util parseArgs has no optional-value options, hence this small parser.)
 *
 * @param argv the arguments after `enter`
 * @returns the parsed options
 * @throws {UsageError} on an unknown option or a missing or bad value
 */
export function parseEnterArgs(argv: readonly string[]): EnterArgs {
  const out: EnterArgs = {
    all: false,
    namespaces: {},
    preserveCredentials: false,
    env: false,
    noFork: false,
    help: false,
    command: [],
  };
  let i = 0;
  const required = (name: string, attached: string | undefined): string => {
    if (attached !== undefined && attached !== "") return attached;
    if (i + 1 >= argv.length) throw new UsageError(`option ${name} requires an argument`);
    return argv[++i];
  };
  const apply = (
    letter: string,
    name: string,
    value: string | undefined,
    attached: boolean,
  ): boolean => {
    // Returns true when the value (attached) was consumed.
    if (letter in NS_FLAGS) {
      out.namespaces[NS_FLAGS[letter][1]] = value ? value : true;
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
      case "r":
        out.root = value ? value : true;
        return true;
      case "w":
        out.wd = value ? value : true;
        return true;
      case "t": {
        const v = required(name, attached ? value : undefined);
        try {
          out.target = parseTarget(v);
        } catch (error) {
          throw new UsageError(`${name}: ${(error as Error).message}`);
        }
        return true;
      }
      case "S":
        out.uid = _id(name, required(name, attached ? value : undefined));
        return true;
      case "G":
        out.gid = _id(name, required(name, attached ? value : undefined));
        return true;
      case "W":
        out.wdns = required(name, attached ? value : undefined);
        return true;
    }
    throw new UsageError(`unknown option ${name}`);
  };
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--") {
      i++;
      break;
    }
    if (!a.startsWith("-") || a === "-") break;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const value = eq < 0 ? undefined : a.slice(eq + 1);
      if (name === "preserve-credentials") {
        if (value !== undefined) throw new UsageError(`option --${name} takes no value`);
        out.preserveCredentials = true;
        continue;
      }
      const letter = LONG_NS.get(name) ?? LONG[name];
      if (!letter) throw new UsageError(`unknown option --${name}`);
      if (value !== undefined && "aeFh".includes(letter)) {
        throw new UsageError(`option --${name} takes no value`);
      }
      apply(letter, `--${name}`, value, value !== undefined);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const letter = a[j];
      const rest = a.slice(j + 1);
      if (apply(letter, `-${letter}`, rest, true) && (rest !== "" || "tSGW".includes(letter))) {
        break;
      }
    }
  }
  out.command = argv.slice(i);
  return out;
}

/**
 * Turns parsed `enter` arguments into NsCommand options.
 *
 * @param args parsed arguments
 * @returns the program and the NsCommand options
 * @throws {UsageError} when no target can be worked out
 */
export function enterOptions(args: EnterArgs): { program: string; options: NsCommandOptions } {
  const files = Object.values(args.namespaces).filter((v) => typeof v === "string") as string[];
  let target = args.target;
  if (target === undefined) {
    // As nsenter: without -t every namespace must be given as a file.
    const bare = Object.entries(args.namespaces).filter(([, v]) => v === true).map(([t]) => t);
    if (args.all || bare.length > 0 || files.length === 0) {
      throw new UsageError(
        bare.length > 0 || args.all
          ? `no target given for ${args.all ? "-a" : bare.join(", ")}: use -t PID or --TYPE=FILE`
          : "no namespace given: use -t PID with -a or a namespace option",
      );
    }
    target = files[0];
  }
  const nsCount = Object.keys(args.namespaces).length;
  if (!args.all && nsCount === 0) {
    throw new UsageError("no namespace given: use -a or one of -m -u -i -n -p -C -U -T");
  }
  const namespaces: NsCommandOptions["namespaces"] = args.all ? "all" : args.namespaces;
  const [program = Deno.env.get("SHELL") || "/bin/sh", ...rest] = args.command;
  const pid = typeof target === "number" ? target : undefined;
  const options: NsCommandOptions = {
    target,
    namespaces: args.all && nsCount > 0 && pid
      ? {
        ...Object.fromEntries(differingNamespaces(pid).map((t) => [t, true])),
        ...args.namespaces,
      }
      : namespaces,
    args: rest,
    uid: args.uid,
    gid: args.gid,
    preserveCredentials: args.preserveCredentials,
    targetEnv: args.env,
    fork: !args.noFork,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  };
  if (args.root !== undefined) {
    options.root = args.root === true ? (pid ? true : undefined) : args.root;
  }
  if (args.wd !== undefined) {
    if (args.wd === true && !pid) throw new UsageError("-w without a directory needs -t PID");
    options.hostCwd = args.wd === true ? `/proc/${pid}/cwd` : args.wd;
  }
  if (args.wdns !== undefined) options.cwd = args.wdns;
  return { program, options };
}

/**
 * `nsjoin enter`: nsenter's dialect. On success this process becomes the program (it
 * does not return); otherwise it returns the exit code for the error it printed.
 *
 * @param argv the arguments after `enter`
 * @returns the exit code
 */
export function enter(argv: readonly string[]): Promise<number> {
  return Promise.resolve(_enter(argv));
}

function _enter(argv: readonly string[]): number {
  let args: EnterArgs;
  try {
    args = parseEnterArgs(argv);
    if (args.help) {
      console.log(ENTER_HELP);
      return 0;
    }
    const { program, options } = enterOptions(args);
    // Become the helper, as nsenter becomes its program: no child to wait for.
    return new NsCommand(program, options).exec();
  } catch (error) {
    return report(error, "enter");
  }
}
