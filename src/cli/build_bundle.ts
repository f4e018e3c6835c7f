/**
 * Builds the CLI's hot paths — `enter`, `exec`, and what cli.ts itself needs before it
 * dispatches — into src/cli/_bundle/: `deno bundle --code-splitting` of src/, so that each
 * command loads a few JavaScript chunks instead of dozens of TypeScript modules (each one
 * Deno loads costs its own read, cache look-ups and instantiation). With `--check`, rebuilds
 * in memory and fails when the result differs from the committed files (CI runs this, as
 * ffi/build_helper.ts --check for the helper).
 *
 * The package's entry files (mod.ts, dax.ts) run from a second bundle, src/_bundle/, with
 * chunks of its own that they share (a class has one identity across both entries; npm
 * packages stay imports), one entry module each, since every module Deno loads costs on its
 * own. Their statements stay the source of the exports, the types and the docs: each one that
 * re-exports values from a module under src/ is written as
 * `export { … } from "./src/_bundle/mod.js"; // src/x.ts` under a `// @ts-types` naming
 * src/_bundle/mod.ts, generated: the same re-exports from the sources, which is also what
 * the bundle is built from. A statement added as `export { … } from "./src/x.ts"` is
 * rewritten so by the next build (and makes `--check` fail until then). An import of a module
 * under src/ for its effect (dax.ts's permission check) gets an entry of its own, so that it
 * still runs before what the following statements import.
 *
 * After bundling, each chunk's top-level function declarations become parenthesised
 * function expressions, moved to the top of the chunk: V8 compiles those with the module
 * (so they enter Deno's code cache), where a declared function is compiled again at its
 * first call in every process (~4 ms of `enter`). Moved above all other statements they are
 * bound before any code of the chunk runs, as declarations are; the chunks import each
 * other without cycles (checked here), so no chunk can call another's before it ran.
 *
 * The output depends only on the sources and the Deno version (which fixes esbuild's).
 *
 *   deno run -A src/cli/build_bundle.ts [--check]
 *
 * @module
 */
import { parse } from "npm:acorn@8.19.0";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const OUT = "src/cli/_bundle";
/**
 * The entry points, from the repository root, sharing chunks; cli.ts imports the first
 * statically. Their outputs keep their paths under src/ (esbuild's common directory).
 */
const ENTRIES = ["src/cli/_run.ts", "src/cli/enter.ts", "src/cli/exec.ts"];
/**
 * Bundled alone, into one file: what runs without --allow-read (so from a module cli.ts
 * names, which Deno reads at every start with all it imports) — `completions`, which reads
 * every command's option table, and the other commands' --help; sharing chunks with the
 * entries above would split enter's and exec's code into more of them. Its file holds the
 * code of {@link COMPLETION_SCRIPT} only, and what it takes from the commands' modules as
 * data ({@link staticModule}).
 */
const SINGLE = "src/cli/_static.ts";
/** `completions`' own code: its scripts and its arguments, given every command's options. */
const COMPLETION_SCRIPT = "src/cli/_completion_script.ts";
/**
 * Bundled alone too: the fast paths of `enter` and `exec`, which cli.ts runs before anything
 * else loads (src/cli/_fast.ts: src/cli/_enter_fast.ts, src/cli/_exec_fast.ts). The helper's bytes it imports are not bundled into it: each
 * architecture's is a module of its own beside it ({@link HELPER_MODULE}), so a process reads
 * and compiles only its own machine's.
 */
const FAST = "src/cli/_fast.ts";
/** The per-architecture helper module, as FAST names it (from its own directory). */
const HELPER_MODULE = (arch: string) => `./_bundle/cli/_helper_${arch}.js`;
/**
 * ffi/helper_bin.ts (both architectures' bytes, ~96 KB) is not bundled into the entries'
 * chunks either: ffi/helper.ts's import of it becomes one of {@link HELPER_BIN}, a module
 * beside the chunks that loads only this machine's {@link HELPER_MODULE}. The chunk that
 * held the bytes is one enter.js imports, so Deno read them at every start of the CLI (enter's
 * fast path included, which reads its own module); exec decoded them from a lazy getter,
 * whose first call parses its ~45 KB string (docs/measured.md, stop 20).
 */
const HELPER_BIN_SOURCE = "ffi/helper_bin.ts";
/** What the chunks import instead of {@link HELPER_BIN_SOURCE} (from their directory). */
const HELPER_BIN = "./_helper_bin.js";
/** The package's entry files. */
const PACKAGE = ["mod.ts", "dax.ts"];
/**
 * Where they are bundled. Their entry modules (mod.js, dax.js) hold the code only that entry
 * uses — for mod.ts the listing, inspect and container functions, which every importer
 * loads and most scripts never call — and keep their functions lazy: V8 then pre-parses
 * them and caches only the top level, where eager ones make every import deserialize their
 * code (import of mod.ts, fastest of 25: 4.1 ms against 4.5 ms). NsCommand's code is in
 * the shared chunks, whose functions are eager where a first NsCommand runs them ({@link HOT}).
 */
const PACKAGE_OUT = "src/_bundle";
/**
 * The functions of the package's shared chunks that a script's first `NsCommand` runs — with a
 * PID or a namespace file as target, `output()`, `spawn()` and `outputSync()`, and with the PID
 * of a docker container `resolveContainer` found —, by source file: only these are made eager in
 * the chunks that mod.ts and dax.ts import statically (with what the import itself runs). The
 * others stay lazy, as esbuild wrote them: every import deserialized their code from Deno's code
 * cache, where most scripts never call them (scoped joins, sessions, filter copies, the other
 * engines). Made from V8's coverage (`deno run --coverage`) of those five scripts in fresh
 * processes: the functions with a count. A function missing here is only compiled at its first
 * call; a name that no longer exists fails the build. Import of mod.ts + one
 * `NsCommand#output()` to a PID: 76.7 M instructions with every function eager, 75.0 M with
 * these (callgrind, a DENO_DIR of its own); whole process, CPU −0.6 ms, and −0.6 ms with
 * `resolveContainer` of a docker container first (docs/stop25-perf25.md).
 */
const HOT: Readonly<Record<string, readonly string[]>> = {
  "ffi/files.ts": [
    "_fileStat",
    "_lib",
    "_openPath",
    "_openPathRaw",
    "_stat",
    "fstatSafe",
    "openFileSafe",
    "openVerified",
    "readFileSafe",
    "readTextFileSafe",
    "statSafe",
  ],
  "ffi/helper.ts": ["_memfd", "helper", "helperBytes"],
  "ffi/libc.ts": [
    "_addressOf",
    "_asInitial",
    "_cellOf",
    "_core",
    "_initialEnviron",
    "_initialKeys",
    "_keepingErrno",
    "_key",
    "_loadOnly",
    "_ownPointerArray",
    "_rawExecSymbols",
    "_readOwn",
    "_sameNames",
    "_structPointer",
    "_utf8",
    "check",
    "cstr",
    "decodeText",
    "encodeText",
    "environEntries",
    "environSnapshot",
    "libcFunction",
    "libcSubset",
  ],
  "ffi/spawn.ts": [
    "_addr",
    "_cArray",
    "_closePipes",
    "_collect",
    "_drain",
    "_envp",
    "_load",
    "_output",
    "_pipes",
    "_pollFds",
    "_reaped",
    "_start",
    "_sys",
    "spawnOutput",
    "spawnOutputSync",
  ],
  "src/_cgroup_mounts.ts": ["cgroupMountRoots", "cgroupMountTable"],
  "src/_docker_state.ts": [
    "_dockerHost",
    "_dockerStateFind",
    "_fromInspect",
    "_groupAdd",
    "_plainRead",
    "_readDir",
    "_readRootJson",
  ],
  "src/_permissions.ts": ["_granted", "allSeenGranted", "assertPermissions"],
  "src/_proc.ts": ["readProcText"],
  "src/command.ts": [
    "HEX",
    "_assertNoPipedStdin",
    "_checkFlags",
    "_checkShapes",
    "_confinementArgs",
    "_denoCommand",
    "_direct",
    "_follows",
    "_helperArgs",
    "_namespaceFileArg",
    "_plan",
    "_selection",
    "_shown",
  ],
  "src/containers.ts": [
    "_checkFindOptions",
    "_pinDockerState",
    "_pinFromDockerState",
    "_resolveContainer",
    "_rootMadeView",
    "_withView",
    "parseContainerRef",
    "resolveContainer",
  ],
  "src/engines.ts": ["_rootMadeCgroup", "containerOfCgroup"],
  "src/namespaces.ts": ["_BY_FLAG", "_openNamespaceFile", "assertPid", "namespaceTypeOfFile"],
  "src/target.ts": [
    "_hasPidfs",
    "_inodeOf",
    "_joinable",
    "_pidfdOpen",
    "_pidfsOff",
    "_procStat",
    "parseTarget",
    "pinProcess",
    "resolveTarget",
    "startTimeOf",
  ],
};

/** {@link HOT} as `eager` asks it, noting which names it found. */
class HotFunctions {
  #found = new Set<string>();
  /**
   * Whether the function `name` (a variable's name as esbuild wrote it: a clash between two
   * source modules gets a number appended) of the source module `section` is hot.
   */
  has(section: string, name: string): boolean {
    const names = HOT[section] ?? [];
    const listed = names.includes(name) ? name : name.replace(/\d+$/, "");
    if (!names.includes(listed)) return false;
    this.#found.add(`${section}:${listed}`);
    return true;
  }
  /** Throws if a listed function was never seen: renamed or gone since {@link HOT} was made. */
  assertAllFound(): void {
    const missing = Object.entries(HOT).flatMap(([section, names]) =>
      names.filter((n) => !this.#found.has(`${section}:${n}`)).map((n) => `${section}:${n}`)
    );
    if (missing.length > 0) {
      throw new Error(`Cannot bundle the package: no such hot function: ${missing.join(", ")}`);
    }
  }
}
const HEADER =
  "// Generated by `deno task build:cli` from src/ (src/cli/build_bundle.ts). Do not edit.\n";

/** Every file under `dir`, by path relative to it. */
async function readTree(dir: string, prefix = ""): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) {
      for (const [k, v] of await readTree(path, `${prefix}${entry.name}/`)) files.set(k, v);
    } else {
      files.set(`${prefix}${entry.name}`, await Deno.readTextFile(path));
    }
  }
  return files;
}

interface Node {
  type: string;
  start: number;
  end: number;
  id?: { name?: string } | null;
  source?: { value: string };
  expression?: Node;
  method?: boolean;
  kind?: string;
}

const FUNCTIONS = new Set(["FunctionExpression", "ArrowFunctionExpression"]);

/**
 * The function and arrow expressions a top-level statement holds outside any function or
 * class: `var f = function () {}`, `function () {}.bind(…)` (as esbuild prints the sources'
 * `(function f() {}).bind(undefined)`: without the parentheses), `{ apply: (v) => … }` in an
 * option table. Written without parentheses, V8 compiles them at their first call. Object
 * methods and getters cannot take parentheses; class bodies are left alone.
 */
function bareFunctions(node: Node, name = ""): [Node, string][] {
  if (FUNCTIONS.has(node.type)) return [[node, name]];
  if (node.type === "ParenthesizedExpression" && FUNCTIONS.has(node.expression!.type)) return [];
  if (/^(FunctionDeclaration|Class(Declaration|Expression))$/.test(node.type)) return [];
  if (node.type === "Property" && (node.method || node.kind !== "init")) return [];
  // The name of the variable a function is (or is in): what HOT lists.
  if (node.type === "VariableDeclarator" && !name) name = node.id?.name ?? "";
  const found: [Node, string][] = [];
  for (const value of Object.values(node)) {
    for (const child of Array.isArray(value) ? value : [value]) {
      if (child && typeof child === "object" && typeof child.type === "string") {
        found.push(...bareFunctions(child as Node, name));
      }
    }
  }
  return found;
}

/**
 * The chunk with its top-level functions made eager: declarations become parenthesised
 * expressions, first; function expressions get their parentheses. An entry's output
 * (`selfTypes` set) names its source for the type checker, which then reads no JavaScript.
 * With `lazy`, the functions are left as esbuild wrote them (see PACKAGE_OUT).
 */
function eager(
  text: string,
  selfTypes?: string,
  lazy = false,
  hot?: HotFunctions,
): { text: string; imports: string[] } {
  const body = (parse(text, {
    ecmaVersion: "latest",
    sourceType: "module",
    preserveParens: true,
  }) as unknown as {
    body: Node[];
  }).body;
  const types = selfTypes ? `// @ts-self-types="${selfTypes}"\n` : "";
  if (lazy) {
    const imports = body.flatMap((n) => n.type === "ImportDeclaration" ? [n.source!.value] : []);
    return { text: `${HEADER}${types}${text}`, imports };
  }
  const functions: string[] = [];
  const imports: string[] = [];
  // The text outside the moved declarations, with parentheses added.
  const pieces: string[] = [];
  let at = 0;
  let importsEnd = 0;
  // esbuild marks where each source module's code starts with a `// path` comment.
  const sections = [...text.matchAll(/^\/\/ (\S+\.ts)$/gm)].map((m) => [m.index!, m[1]] as const);
  const isHot = (at: number, name: string) =>
    !hot || hot.has(sections.findLast(([start]) => start < at)?.[1] ?? "", name);
  const keep = (to: number, wrap: Node[]) => {
    for (const f of wrap) {
      pieces.push(text.slice(at, f.start), `(${text.slice(f.start, f.end)})`);
      at = f.end;
    }
    pieces.push(text.slice(at, to));
    at = to;
  };
  for (const node of body) {
    if (node.type === "ImportDeclaration") {
      imports.push(node.source!.value);
      importsEnd = node.end;
    }
    if (node.type === "FunctionDeclaration") {
      const f = text.slice(node.start, node.end);
      const name = node.id!.name!;
      functions.push(`var ${name} = ${isHot(node.start, name) ? `(${f})` : f};\n`);
      keep(node.start, []);
      at = node.end;
    } else {
      const wrap = bareFunctions(node).filter(([f, name]) => isHot(f.start, name));
      keep(node.end, wrap.map(([f]) => f).sort((a, b) => a.start - b.start));
    }
  }
  keep(text.length, []);
  // Dynamic imports (`import("./x.js")`) run later, from a function: only static ones order
  // the evaluation of chunks. Imports are first in esbuild's output, untouched above.
  const rest = pieces.join("");
  const head = text.slice(0, importsEnd);
  if (!rest.startsWith(head)) throw new Error("Cannot make functions eager: imports not first");
  return {
    text: `${HEADER}${types}${head}${head ? "\n" : ""}${functions.join("")}${
      rest.slice(importsEnd)
    }`,
    imports,
  };
}

/** Throws if the chunks' static imports form a cycle (a function could then run unbound). */
function assertAcyclic(graph: Map<string, string[]>): void {
  const state = new Map<string, "open" | "done">();
  const visit = (file: string, path: string[]) => {
    if (state.get(file) === "done") return;
    if (state.get(file) === "open") {
      throw new Error(`Cannot make functions eager: chunks import in a cycle: ${path.join(" → ")}`);
    }
    state.set(file, "open");
    const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
    for (const spec of graph.get(file) ?? []) {
      if (!spec.startsWith(".")) continue;
      const target = new URL(spec, `file:///${dir}`).pathname.slice(1);
      visit(target, [...path, target]);
    }
    state.set(file, "done");
  };
  for (const file of graph.keys()) visit(file, [file]);
}

/** Runs `deno bundle` from the repository root; returns the files it wrote. */
async function bundle(flags: string[], entries: string[]): Promise<Map<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-bundle-" });
  try {
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform", "deno", ...flags, "--outdir", dir, ...entries],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (code !== 0) throw new Error(`Cannot bundle the CLI:\n${new TextDecoder().decode(stderr)}`);
    return await readTree(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A statement of a package entry file re-exporting values from a module under src/: from
 * source (`"./src/x.ts"`), or as built (`"./src/_bundle/mod.js"; // src/x.ts`, under its
 * `@ts-types`). Groups: what is exported, the specifier's path, the source of a built one.
 */
const REEXPORT =
  /^(?:\/\/ @ts-types="[^"]*"\n)?export (\{[^}]*\}) from "\.\/src\/([^"]+)\.(?:ts|js)";(?: \/\/ (src\/\S+\.ts))?$/gm;
/** An import of a module under src/ for its effect, from source or as built. */
const EFFECT = /^import "\.\/src\/(?:_bundle\/)?([^"]+)\.(?:ts|js)";$/gm;

/**
 * A package entry file (`file`, e.g. mod.ts) with its statements pointed at the bundle, and
 * the entry modules it needs, by path from the repository root: `file`'s own (its re-exports
 * from the sources) and one for each import for effect.
 */
function packageEntry(file: string, text: string): { text: string; entries: Map<string, string> } {
  const name = file.replace(/\.ts$/, "");
  const own = `${PACKAGE_OUT}/${name}.ts`;
  const header =
    `// Generated by \`deno task build:cli\` from ${file} (src/cli/build_bundle.ts). Do not edit.\n`;
  const entries = new Map<string, string>();
  const reexports: string[] = [];
  const out = text.replace(
    REEXPORT,
    (statement: string, names: string, path: string, built: string | undefined) => {
      const source = path.startsWith("_bundle/") ? built : `src/${path}.ts`;
      if (!source) throw new Error(`Cannot read ${file}: no source for ${statement}`);
      reexports.push(`export ${names} from "${posix.relative(PACKAGE_OUT, source)}";\n`);
      return `// @ts-types="./${own}"\nexport ${names} from "./${PACKAGE_OUT}/${name}.js"; // ${source}`;
    },
  ).replace(EFFECT, (_, path: string) => {
    const shim = `${PACKAGE_OUT}/${path}.ts`;
    entries.set(
      shim,
      `${header}import "${posix.relative(posix.dirname(shim), `src/${path}.ts`)}";\n`,
    );
    return `import "./${PACKAGE_OUT}/${path}.js";`;
  });
  // Any other statement that loads a source module at run time (`export * from`, an import
  // of values) would give the importer a second copy of it, with classes of its own.
  const left = out.match(/^(?:import|export)\s(?!type\s)[^;]*"\.\/src\/(?!_bundle\/)[^"]*";/m);
  if (left) throw new Error(`Cannot bundle ${file}: write \`${left[0]}\` as export { … } from`);
  if (reexports.length > 0) entries.set(own, `${header}${reexports.join("")}`);
  return { text: out, entries };
}

/**
 * `new URL("x", import.meta.url)` (a Worker's module, a directory) names a path relative to
 * the source module; in a chunk it must be relative to the chunk. esbuild marks each source
 * module's code with a `// path` comment (from the repository root): the URL is resolved from
 * there, and must name an existing file or directory.
 */
function relocateUrls(text: string, outPath: string): string {
  return text.replace(
    /new URL\("([^"]+)", import\.meta\.url\)/g,
    (match: string, spec: string, offset: number) => {
      if (!spec.startsWith(".")) return match;
      const source = [...text.slice(0, offset).matchAll(/^\/\/ (\S+\.ts)$/gm)].at(-1)?.[1];
      if (!source) throw new Error(`Cannot relocate ${match} in ${outPath}: no source comment`);
      const target = posix.join(posix.dirname(source), spec);
      Deno.statSync(`${ROOT}${target}`);
      let rel = posix.relative(posix.dirname(outPath), target) + (spec.endsWith("/") ? "/" : "");
      if (!rel.startsWith(".")) rel = `./${rel}`;
      return `new URL(${JSON.stringify(rel)}, import.meta.url)`;
    },
  );
}

/**
 * Makes the chunks `deno bundle` wrote for `entries` (sources under `base`, esbuild's common
 * directory) into the files of `out`: URLs relocated, functions eager (but in the entries'
 * own outputs with `lazyEntries`), each entry's output naming its source's types.
 */
function finish(
  written: Map<string, string>,
  entries: string[],
  out: string,
  base: string,
  lazyEntries = false,
): Map<string, string> {
  const files = new Map<string, string>();
  const graph = new Map<string, string[]>();
  const sources = new Map(
    entries.map((e) => [posix.relative(base, e).replace(/\.ts$/, ".js"), e]),
  );
  // With lazy entries (the package), the chunks they import statically are eager in HOT's
  // functions only; chunks loaded later (`import()`) stay eager throughout.
  const hot = lazyEntries ? new HotFunctions() : undefined;
  const started = new Set<string>();
  if (hot) {
    const imports = new Map(
      [...written].map(([path, text]) => [path, eager(text, undefined, true).imports]),
    );
    const visit = (path: string) => {
      if (started.has(path)) return;
      started.add(path);
      for (const spec of imports.get(path) ?? []) {
        if (spec.startsWith(".")) visit(posix.join(posix.dirname(path), spec));
      }
    };
    for (const path of sources.keys()) visit(path);
  }
  for (const [path, text] of written) {
    const source = sources.get(path);
    const outPath = `${out}/${path}`;
    const types = source && posix.relative(posix.dirname(outPath), source)
      .replace(/^(?!\.)/, "./");
    const done = eager(
      relocateUrls(text, outPath),
      types,
      lazyEntries && source !== undefined,
      started.has(path) ? hot : undefined,
    );
    files.set(outPath, done.text);
    graph.set(path, done.imports);
  }
  for (const path of sources.keys()) {
    if (!written.has(path)) throw new Error(`Cannot bundle: no output ${path} for its entry`);
  }
  hot?.assertAllFound();
  assertAcyclic(graph);
  return files;
}

/**
 * SINGLE's output: the bundle of COMPLETION_SCRIPT, then SINGLE's exports — the --help texts
 * and the version, read here from SINGLE, and `completions` with every command's options
 * (src/cli/completions.ts `commandOptions()`) as data. Bundled from SINGLE, the file held the
 * commands' modules and all they import (180 KB, where this is ~35 KB): Deno reads and
 * analyses it at every start of the CLI, `enter`'s fast path included (~0.2 ms,
 * docs/measured.md).
 */
async function staticModule(): Promise<string> {
  const [text, ...more] = (await bundle([], [COMPLETION_SCRIPT])).values();
  const exports = /\nexport \{([^}]*)\};\n$/.exec(text);
  if (more.length > 0 || !exports) throw new Error(`Cannot bundle ${SINGLE}: no single module`);
  // esbuild's `export { local as name }`: the local name of completionsWith.
  const names = new Map(
    exports[1].split(",").map((e) => {
      const [local, name = local] = e.trim().split(/\s+as\s+/);
      return [name, local];
    }),
  );
  const completionsWith = names.get("completionsWith");
  if (!completionsWith) throw new Error(`Cannot bundle ${SINGLE}: no completionsWith`);
  for (const name of ["HELP", "VERSION", "OPTIONS", "completions"]) {
    if (new RegExp(`\\b(var|let|const|function|class) ${name}\\b`).test(text)) {
      throw new Error(`Cannot bundle ${SINGLE}: ${COMPLETION_SCRIPT} has a ${name}`);
    }
  }
  const single = await import("./_static.ts");
  const exported = Object.keys(single).sort().join(", ");
  if (exported !== "HELP, VERSION, completions") {
    throw new Error(`Cannot bundle ${SINGLE}: it exports ${exported}; write the new ones here`);
  }
  const { HELP, VERSION } = single;
  const { commandOptions } = await import("./completions.ts");
  return `${text.slice(0, exports.index)}

// ${SINGLE}: what it takes from the commands' modules, as data
var HELP = ${JSON.stringify(HELP, null, 2)};
var VERSION = ${JSON.stringify(VERSION)};
var OPTIONS = ${JSON.stringify(commandOptions(), null, 2)};
function completions(argv, summaries) {
  return ${completionsWith}(argv, summaries, OPTIONS);
}
export {
  HELP,
  VERSION,
  completions
};
`;
}

/**
 * The helper's bytes for FAST, one module per architecture (`export const HELPER`, base64),
 * from ffi/helper_bin.ts; by path from the repository root.
 */
async function helperModules(): Promise<Map<string, string>> {
  const { HELPER_ELF } = await import("../../ffi/helper_bin.ts");
  const files = new Map<string, string>();
  for (const arch of Object.keys(HELPER_ELF)) {
    const path = posix.join(posix.dirname(FAST), HELPER_MODULE(arch));
    files.set(path, `${HEADER}export const HELPER = ${JSON.stringify(HELPER_ELF[arch])};\n`);
  }
  return files;
}

/**
 * {@link HELPER_BIN}: `HELPER_ELF` as ffi/helper_bin.ts exports it, with this machine's
 * entry only, from its {@link HELPER_MODULE} (a top-level await: the chunks that import it
 * are evaluated after it, as with any import).
 */
function helperBinModule(archs: readonly string[]): string {
  const arms = archs.map((arch) =>
    `arch === ${JSON.stringify(arch)}\n  ? { ${arch}: (await import(${
      JSON.stringify(`./_helper_${arch}.js`)
    })).HELPER }\n  : `
  ).join("");
  return `${HEADER}const arch = Deno.build.arch;\nexport const HELPER_ELF = ${arms}{};\n`;
}

/**
 * A chunk's static import of {@link HELPER_BIN_SOURCE}, left by `--external`, which esbuild
 * writes where ffi/helper.ts's code starts, relative to it: moved to the chunk's first line
 * (imports are hoisted: the order of the chunk's statements does not change) and pointed at
 * {@link HELPER_BIN}.
 */
function relocateHelperBin(text: string, outPath: string): string {
  const spec = posix.relative(posix.dirname("ffi/helper.ts"), HELPER_BIN_SOURCE);
  const statement = new RegExp(`^import \\{ HELPER_ELF \\} from "\\./${spec}";\\n`, "m");
  if (!statement.test(text)) return text;
  const rest = text.replace(statement, "");
  if (rest.includes(HELPER_BIN_SOURCE.slice(4))) {
    throw new Error(`Cannot relocate the helper's bytes in ${outPath}: another import of them`);
  }
  return `import { HELPER_ELF } from "${HELPER_BIN}";\n${rest}`;
}

/**
 * The `import("./…")`s of an unbundled module (`--external`) in a file bundled from `source`
 * and written at `outPath`: relative to the output. Each must name one of `known` (paths from
 * the repository root).
 */
function relocateImports(
  text: string,
  source: string,
  outPath: string,
  known: readonly string[],
): string {
  return text.replace(/import\("(\.[^"]+)"\)/g, (match: string, spec: string) => {
    const target = posix.join(posix.dirname(source), spec);
    if (!known.includes(target)) throw new Error(`Cannot relocate ${match} in ${outPath}`);
    const rel = posix.relative(posix.dirname(outPath), target);
    return `import(${JSON.stringify(rel.startsWith(".") ? rel : `./${rel}`)})`;
  });
}

/** The deepest directory holding every one of `paths` (files, from the repository root). */
function commonDir(paths: readonly string[]): string {
  const dirs = paths.map((p) => posix.dirname(p).split("/"));
  const common = dirs[0].filter((part, i) => dirs.every((d) => d[i] === part));
  return dirs[0].slice(0, common.length).join("/");
}

/**
 * Bundles the CLI's and the package's entries; returns every generated file (the package's
 * entry files included, as rewritten) by path from the repository root. The package's entry
 * modules are bundled from disk: `write` puts them there first; without it they must already
 * be there as generated, or the result is stale.
 */
async function build(write: boolean): Promise<{ files: Map<string, string>; stale: boolean }> {
  const written = await bundle(
    ["--code-splitting", "--external", `*/${posix.basename(HELPER_BIN_SOURCE)}`],
    ENTRIES,
  );
  for (const [path, text] of written) written.set(path, relocateHelperBin(text, path));
  // esbuild writes the entries' outputs by path from their common directory: placed under
  // OUT by their path from src/, as cli.ts names them, wherever that directory is.
  const base = commonDir(ENTRIES);
  const single = posix.relative(base, SINGLE).replace(/\.ts$/, ".js");
  written.set(single, await staticModule());
  const out = posix.join(OUT, posix.relative("src", base));
  const helpers = await helperModules();
  const fast = posix.relative(base, FAST).replace(/\.ts$/, ".js");
  for (const text of (await bundle(["--external", HELPER_MODULE("*")], [FAST])).values()) {
    written.set(fast, relocateImports(text, FAST, `${out}/${fast}`, [...helpers.keys()]));
  }
  const files = finish(written, [...ENTRIES, SINGLE, FAST], out, base);
  for (const [path, text] of helpers) files.set(path, text);
  const archs = Object.keys((await import("../../ffi/helper_bin.ts")).HELPER_ELF);
  files.set(posix.join(out, HELPER_BIN), helperBinModule(archs));
  const entries = new Map<string, string>();
  for (const file of PACKAGE) {
    const entry = packageEntry(file, await Deno.readTextFile(`${ROOT}${file}`));
    files.set(file, entry.text);
    for (const [path, text] of entry.entries) entries.set(path, text);
  }
  let stale = false;
  for (const [path, text] of entries) {
    files.set(path, text);
    if (write) {
      await Deno.mkdir(`${ROOT}${posix.dirname(path)}`, { recursive: true });
      await Deno.writeTextFile(`${ROOT}${path}`, text);
    } else if (await Deno.readTextFile(`${ROOT}${path}`).catch(() => "") !== text) {
      stale = true;
    }
  }
  if (!stale) {
    const paths = [...entries.keys()];
    const written2 = await bundle(["--code-splitting", "--external", "npm:*"], paths);
    for (const [path, text] of finish(written2, paths, PACKAGE_OUT, PACKAGE_OUT, true)) {
      files.set(path, text);
    }
  }
  for (const [path, text] of files) {
    if (path.endsWith(".js")) files.set(path, asciiOnly(text, path));
  }
  return { files, stale };
}

/**
 * `text` (a generated module at `path`) with every character outside ASCII written as a
 * `\uXXXX` escape: one em dash in a comment (esbuild escapes strings, not comments) cost
 * 0.3–0.5 ms of every import of mod.ts, whose NsCommand chunk holds the helper's bytes — by
 * all appearances Deno decoding the whole file for V8, which takes an all-ASCII text as
 * one-byte (docs/measured.md, stop 20). An escape means the same character in a string, a
 * regular expression, an identifier and a template's cooked text, and is plain text in a
 * comment; only a tagged template's raw text would change, which this refuses.
 */
function asciiOnly(text: string, path: string): string {
  if (!/[\u0080-\uffff]/.test(text)) return text;
  const raw: [number, number][] = [];
  const walk = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return;
    const n = node as { type?: string; quasi?: { start: number; end: number } };
    if (n.type === "TaggedTemplateExpression" && n.quasi) raw.push([n.quasi.start, n.quasi.end]);
    for (const value of Object.values(node)) walk(value);
  };
  walk(parse(text, { ecmaVersion: "latest", sourceType: "module" }));
  const out = text.replace(/[\u0080-\uffff]/g, (c: string, at: number) => {
    if (raw.some(([start, end]) => at >= start && at < end)) {
      throw new Error(`Cannot write ${path} as ASCII: a tagged template holds ${c}`);
    }
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
  // A line terminator outside strings and comments (U+2028) cannot be escaped: refused here.
  parse(out, { ecmaVersion: "latest", sourceType: "module" });
  return out;
}

/** The committed generated files: both bundles' directories and the package's entry files. */
async function committed(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const dir of [OUT, PACKAGE_OUT]) {
    const tree = await readTree(`${ROOT}${dir}`).catch(() => new Map<string, string>());
    for (const [path, text] of tree) files.set(`${dir}/${path}`, text);
  }
  for (const file of PACKAGE) files.set(file, await Deno.readTextFile(`${ROOT}${file}`));
  return files;
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  const before = await committed();
  if (!check) {
    for (const dir of [OUT, PACKAGE_OUT]) {
      await Deno.remove(`${ROOT}${dir}`, { recursive: true }).catch(() => {});
    }
  }
  const { files, stale } = await build(!check);
  if (check) {
    const differ = [...new Set([...files.keys(), ...before.keys()])]
      .filter((path) => files.get(path) !== before.get(path));
    if (stale || differ.length > 0) {
      console.error(
        `${OUT}/, ${PACKAGE_OUT}/ and ${PACKAGE.join(", ")} do not match a rebuild of the ` +
          `sources (${differ.slice(0, 3).join(", ")}): run \`deno task build:cli\` and commit`,
      );
      Deno.exit(1);
    }
    console.log(
      `${OUT}/, ${PACKAGE_OUT}/ and ${PACKAGE.join(", ")} match a rebuild of the sources`,
    );
  } else {
    for (const [path, text] of files) {
      await Deno.mkdir(`${ROOT}${posix.dirname(path)}`, { recursive: true });
      await Deno.writeTextFile(`${ROOT}${path}`, text);
    }
    console.log(`wrote ${files.size} files to ${OUT}/, ${PACKAGE_OUT}/ and ${PACKAGE.join(", ")}`);
  }
}
