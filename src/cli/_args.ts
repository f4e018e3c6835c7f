/**
 * The CLI's option parser: node:util `parseArgs`'s strict semantics for the option tables
 * of src/cli/*.ts (same table shape: `{ name: { type, short?, multiple? } }`), without
 * importing node:util — which starts Deno's Node compatibility layer, ~7 ms of every cold
 * start (measured), more than the rest of parsing, resolving and spawning together. It adds
 * what exec needs and parseArgs lacks: stopping at the first positional (docker's options
 * end at TARGET).
 *
 * @module
 */
import { UsageError } from "./_run.ts";

/** One option, as node:util parseArgs describes it. */
export interface OptionSpec {
  /** A flag, or an option that takes a value. */
  readonly type: "boolean" | "string";
  /** Its one-letter form. */
  readonly short?: string;
  /** Whether it may be repeated (values collected in order). */
  readonly multiple?: boolean;
}

/** Options by long name. */
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The values parsed for a table: strings or booleans, arrays for `multiple`. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]?: T[K] extends { readonly type: "string" }
    ? (T[K] extends { readonly multiple: true } ? string[] : string)
    : (T[K] extends { readonly multiple: true } ? boolean[] : boolean);
};

/** How to parse. */
export interface ParseConfig {
  /** Accept positional arguments (default false: one is a usage error). */
  allowPositionals?: boolean;
  /** Stop at the first positional: it and everything after it are positionals. */
  stopAtPositional?: boolean;
  /**
   * Long names that may be abbreviated to a unique prefix, as getopt_long(3) allows
   * (`--out` for `--output` when no other name starts so): util-linux's tools take them,
   * docker's (Go pflag) do not.
   */
  abbreviable?: readonly string[];
  /**
   * Go pflag's rules, which docker's commands follow: `-u=root` gives "root" (node keeps
   * "=root"), and a flag takes a boolean after "=" (`--tty=false`, `-i=0`: strconv.ParseBool's
   * words); and pflag's words for a mistake, as docker and podman print them: "unknown flag:
   * --bogus", "unknown shorthand flag: 'z' in -zt", "flag needs an argument: 'u' in -u".
   */
  pflag?: boolean;
  /**
   * Options that end the parsing when met, as getopt's caller acts on -h and -V at once:
   * what follows them is not read (`lsns -V --bogus` prints the version).
   */
  stopAt?: readonly string[];
  /**
   * util-linux's words for a missing value or an unknown option, as `nsjoin enter` says
   * them: "option -t requires an argument", "unknown option --bogus"; and getopt's rule that
   * a value may start with a dash (`-o -n` gives "-n").
   */
  utilLinux?: boolean;
}

// strconv.ParseBool's words.
const _GO_BOOLS: Readonly<Record<string, boolean>> = {
  "1": true,
  t: true,
  T: true,
  TRUE: true,
  true: true,
  True: true,
  "0": false,
  f: false,
  F: false,
  FALSE: false,
  false: false,
  False: false,
};

/**
 * The long option `name` stands for: itself when it is one of `names`, else the one name of
 * `abbreviable` it is a prefix of (getopt_long's rule; an exact match always wins).
 *
 * @param name what was typed after `--` (without any `=value`)
 * @param names every long name
 * @param abbreviable the names that may be abbreviated
 * @returns the long name, or undefined when none matches
 * @throws {UsageError} when the prefix fits several names (getopt's "is ambiguous")
 *
 * @example
 * ```ts
 * import { expandLongOption } from "./_args.ts";
 * const names = ["output", "output-all", "type"];
 * if (expandLongOption("ty", names, names) !== "type") throw new Error("not expanded");
 * if (expandLongOption("output", names, names) !== "output") throw new Error("exact match lost");
 * ```
 */
export function expandLongOption(
  name: string,
  names: readonly string[],
  abbreviable: readonly string[],
): string | undefined {
  if (names.includes(name)) return name;
  if (name === "") return undefined;
  const fits = abbreviable.filter((n) => n.startsWith(name));
  if (fits.length > 1) {
    throw new UsageError(
      `option '--${name}' is ambiguous; possibilities: ${fits.map((n) => `'--${n}'`).join(" ")}`,
    );
  }
  return fits[0];
}

/**
 * The digits of a number as util-linux's strtoul-based parsers read it: leading blanks (C's
 * isspace) and a "+" are skipped, so `-t "$(ps -o pid= -C nginx)"` (ps pads PIDs) names
 * the PID; anything after the digits is refused, as util-linux refuses it.
 *
 * @param v the text given
 * @returns the digits, or undefined when `v` is not such a number
 *
 * @example
 * ```ts
 * import { cNumber } from "./_args.ts";
 * if (cNumber("  +42") !== "42" || cNumber("42 ") !== undefined) throw new Error("not strtoul's");
 * ```
 */
export function cNumber(v: string): string | undefined {
  return /^[ \t\n\v\f\r]*\+?([0-9]+)$/.exec(v)?.[1];
}

/** What {@link parseOptions} returns. */
export interface ParsedOptions<T extends OptionTable> {
  /** The options given. */
  values: OptionValues<T>;
  /** The positional arguments, in order (after `--` too). */
  positionals: string[];
  /** Where the options ended: the index of the first positional, or just past `--`; `args.length` when neither. */
  stop: number;
}

/**
 * Parses `args` against `options` as node:util `parseArgs({ strict: true })` does: `--name`,
 * `--name=value`, `--name value`, `-n value`, `-nvalue`, grouped flags `-it` (a value-taking
 * letter inside a group takes the rest of it: `-iuroot`), `--` ends the options; a
 * repeated option keeps the last value unless `multiple`; with `abbreviable`, getopt_long's
 * unique prefixes of those long names; with `pflag`, Go pflag's `-u=root` and `--tty=false`.
 *
 * @param args the arguments
 * @param options the option table
 * @param config positionals allowed, stop at the first one
 * @returns the values, the positionals and where the options stopped
 * @throws {UsageError} an unknown option, a missing or ambiguous value, a value given to a
 *   flag, a positional where none is allowed (messages as node's, first sentence), a prefix
 *   that fits several abbreviable names
 *
 * @example
 * ```ts
 * import { parseOptions } from "./_args.ts";
 * const table = { user: { type: "string", short: "u" }, tty: { type: "boolean", short: "t" } } as const;
 * const { values, positionals } = parseOptions(["-tu", "root", "web1", "-x"], table, {
 *   allowPositionals: true,
 *   stopAtPositional: true,
 * });
 * if (values.user !== "root" || values.tty !== true) throw new Error("bad values");
 * if (positionals.join(" ") !== "web1 -x") throw new Error("bad positionals");
 * ```
 */
export function parseOptions<T extends OptionTable>(
  args: readonly string[],
  options: T,
  config: ParseConfig = {},
): ParsedOptions<T> {
  const values: Record<string, unknown> = {};
  const positionals: string[] = [];
  let stop = args.length;
  const byShort = new Map<string, string>();
  for (const [name, spec] of Object.entries(options)) {
    if (spec.short) byShort.set(spec.short, name);
  }
  const label = (name: string) => {
    const short = options[name].short;
    return `${short ? `-${short}, ` : ""}--${name}`;
  };
  const goBool = (name: string, value: string): boolean => {
    const b = _GO_BOOLS[value];
    if (b === undefined) {
      throw new UsageError(
        `invalid argument ${JSON.stringify(value)} for "${label(name)}" flag: not a boolean`,
      );
    }
    return b;
  };
  const store = (name: string, value: string | boolean) => {
    if (options[name].multiple) ((values[name] ??= []) as unknown[]).push(value);
    else values[name] = value;
  };
  const allowed = config.allowPositionals || config.stopAtPositional;
  const refuse = (arg: string) => {
    throw new UsageError(`Unexpected argument '${arg}': this command takes none`);
  };
  // `group`: pflag names the letters from the unknown one on (`-tz` → "'z' in -z").
  const unknown = (typed: string, group?: string) =>
    new UsageError(
      config.utilLinux
        ? `unknown option ${typed}`
        : config.pflag
        ? group === undefined
          ? `unknown flag: ${typed}`
          : `unknown shorthand flag: '${typed[1]}' in -${group}`
        : `Unknown option '${typed}'`,
    );
  // The value of a string option: inline, or the next argument (never one that looks like
  // an option: node calls that ambiguous, and so does a user who forgot the value).
  const takeValue = (
    name: string,
    inline: string | undefined,
    i: number,
    typed: string,
  ): number => {
    if (inline !== undefined) {
      store(name, inline);
      return i;
    }
    const next = args[i + 1];
    if (next === undefined) {
      throw new UsageError(
        config.utilLinux
          ? `option ${typed} requires an argument`
          : config.pflag
          ? `flag needs an argument: ${
            typed.startsWith("--") ? typed : `'${typed[1]}' in ${typed}`
          }`
          : `Option '${label(name)} <value>' argument missing`,
      );
    }
    // getopt_long(3) takes the next argument whatever it is (`lsns -o -n`: a column "-n").
    if (next.startsWith("-") && next !== "-" && !config.utilLinux) {
      throw new UsageError(
        `Option '${
          label(name)
        } <value>' argument is ambiguous: to give a value starting with a dash, use --${name}=${next}`,
      );
    }
    store(name, next);
    return i + 1;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") {
      if (!allowed && i + 1 < args.length) refuse(args[i + 1]);
      stop = Math.min(stop, i + 1);
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=");
      const typed = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const name = config.abbreviable
        ? expandLongOption(typed, Object.keys(options), config.abbreviable) ?? typed
        : typed;
      const spec = Object.hasOwn(options, name) ? options[name] : undefined;
      if (!spec) throw unknown(`--${name}`);
      if (spec.type === "boolean") {
        if (eq >= 0 && config.pflag) {
          store(name, goBool(name, arg.slice(eq + 1)));
          continue;
        }
        if (eq >= 0) throw new UsageError(`Option '${label(name)}' does not take an argument`);
        store(name, true);
        if (config.stopAt?.includes(name)) {
          return { values: values as OptionValues<T>, positionals, stop };
        }
      } else {
        i = takeValue(name, eq < 0 ? undefined : arg.slice(eq + 1), i, `--${name}`);
      }
      continue;
    }
    if (arg.startsWith("-") && arg.length > 1) {
      // A group of letters: flags, until one that takes a value takes the rest.
      for (let j = 1; j < arg.length; j++) {
        const name = byShort.get(arg[j]);
        if (name === undefined) throw unknown(`-${arg[j]}`, arg.slice(j));
        // pflag: "-x=VALUE" gives the letter the rest, a flag's boolean too.
        if (config.pflag && arg[j + 1] === "=") {
          const rest = arg.slice(j + 2);
          store(name, options[name].type === "boolean" ? goBool(name, rest) : rest);
          break;
        }
        if (options[name].type === "boolean") {
          store(name, true);
          if (config.stopAt?.includes(name)) {
            return { values: values as OptionValues<T>, positionals, stop };
          }
          continue;
        }
        i = takeValue(name, j + 1 < arg.length ? arg.slice(j + 1) : undefined, i, `-${arg[j]}`);
        break;
      }
      continue;
    }
    if (!allowed) refuse(arg);
    stop = Math.min(stop, i);
    if (config.stopAtPositional) {
      positionals.push(...args.slice(i));
      break;
    }
    positionals.push(arg);
  }
  return { values: values as OptionValues<T>, positionals, stop };
}
