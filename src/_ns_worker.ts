/**
 * The two Worker programs behind `inNamespaces()`.
 *
 * The evaluator runs the caller's function. Its thread must be *born* inside the target's
 * namespaces: a Worker makes its thread pool while it starts, before any message of ours
 * arrives, and those threads never follow a later setns of the Worker's thread (measured:
 * async file ops then ran in the host's namespaces). So the thread that creates the
 * evaluator is in the target when it does: for net/uts/ipc/cgroup the caller's thread for
 * the length of the synchronous `new Worker()` call; for mnt, which no thread of a running
 * Deno may join without first leaving the shared fs_struct (unshare(CLONE_FS)), the
 * spawner below — a Worker of its own that unshares, joins mnt, then creates the evaluator
 * and relays messages both ways.
 *
 * The evaluator is source text (loaded with `eval: true` or as a data: URL), not a module
 * file: inside a target's mount namespace every path is the target's, so nothing may be
 * loaded from a file there. That is also why an evaluator in a mount namespace is *sealed*
 * (issue 9, finding 3): code reaching it was loaded on the host (fn's source, a module
 * bundled on the host), `import()` inside is refused by V8's per-script import hook (except
 * node: built-ins that load no code), the spawner's seccomp filter — inherited by every
 * evaluator thread — makes execve fail in the kernel, and `Worker`, `Deno.Command`,
 * `Deno.dlopen`, `process.dlopen` (and the N-API op behind it), node:sqlite's
 * `loadExtension()` and WebGPU's `requestAdapter()` (a dlopen of libvulkan by name) are
 * replaced by functions that say why.
 *
 * The sealed evaluator boots with the host's root directory (the spawner chroots to an fd
 * of it after joining: the evaluator's threads share the spawner's fs_struct), because
 * Deno's Node compatibility layer reads /proc/self/exe as it starts and panics — the whole
 * process — where the target's /proc does not show this process. Once booted, the spawner
 * chroots to an fd of the target's root opened right after joining, which makes it the root
 * and cwd of them all, and only then passes calls on.
 *
 * @module
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { check, cstr, libc, O_CLOEXEC, O_RDONLY, SyscallError } from "../ffi/libc.ts";
import { forbidExecOnThisThread } from "../ffi/no_exec.ts";
import { freezeNss } from "../ffi/nss.ts";
import { CLONE_FLAGS } from "./namespaces.ts";

/**
 * What to call: function source text, a module URL whose default export is called (loaded
 * by Deno, outside a mount namespace), or such a module bundled on the host into one
 * CommonJS text (for a sealed evaluator).
 */
export type CallBody =
  | { kind: "fn"; source: string; arg: unknown }
  | { kind: "module"; url: string; arg: unknown }
  | { kind: "bundle"; url: string; source: string; arg: unknown };

/** A call sent to the evaluator. */
export type CallMessage = CallBody & { id: number };

/** An error as it crosses the Worker boundary. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
}

/** What the evaluator and the spawner send back. */
export type ReplyMessage =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedError }
  | { type: "opened"; fd: number }
  | { type: "ready" }
  | { type: "join-failed"; errno: number; syscall: string }
  | { type: "crash"; error: SerializedError };

/** What the evaluator sends: replies, and (sealed) that it booted, to the spawner only. */
type EvaluatorMessage = ReplyMessage | { type: "booted" };

/** `workerData.role` of the spawner. */
export const SPAWNER_ROLE = "nsjoin-mnt-spawner";

const CLONE_FS = 0x200;

/**
 * The evaluator's program. It runs as source text in a Worker, so it closes over nothing;
 * `on` and `post` adapt it to a node:worker_threads Worker or a web Worker. With `vm` it is
 * sealed (see the module doc): everything it runs is compiled through node:vm with an
 * import hook.
 */
function _evaluator(
  on: (handler: (m: CallMessage) => void) => void,
  post: (m: EvaluatorMessage) => void,
  vm?: typeof import("node:vm"),
): void {
  const compiled = new Map<string, (arg: unknown) => unknown>();
  const serialize = (error: unknown) =>
    error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: "Error", message: `A non-Error was thrown: ${String(error)}` };
  const sealedWhy =
    "inside the target's mount namespace it would come from the target's files and run with your process's privileges";
  // Built-ins that load or run code from files: module (require), vm (an unhooked compile),
  // worker_threads (a Worker of a file), child_process and cluster (exec), inspector, repl
  // (its start().context.require loads any file and native addon: stop 26).
  const loaders = [
    "module",
    "vm",
    "worker_threads",
    "child_process",
    "cluster",
    "inspector",
    "repl",
  ];
  const isLoader = (specifier: string) =>
    loaders.includes(specifier.replace(/^node:/, "").split("/")[0]);
  // node:sqlite's loadExtension() dlopen()s the path it is given where this thread resolves
  // paths, and a bare name through the target's ld.so.cache: a target's library ran as root
  // in our process (stop 26). Refused on the class itself, for import() and getBuiltinModule.
  let sqliteSealed = false;
  const sealSqlite = (id: string, loaded: unknown): unknown => {
    if (!vm || sqliteSealed || id.replace(/^node:/, "") !== "sqlite") return loaded;
    const db = (loaded as { DatabaseSync?: { prototype: object } } | undefined)?.DatabaseSync;
    for (let o: object | null = db?.prototype ?? null; o; o = Object.getPrototypeOf(o)) {
      if (!Object.hasOwn(o, "loadExtension")) continue;
      Object.defineProperty(o, "loadExtension", {
        value: function loadExtension(): never {
          throw new Error(
            `Cannot use node:sqlite's loadExtension in fn: ${sealedWhy} (load extensions outside inNamespaces)`,
          );
        },
        writable: true,
        configurable: true,
      });
      sqliteSealed = true;
    }
    if (!sqliteSealed) throw new Error(`Cannot load node:sqlite in fn: ${sealedWhy}`);
    return loaded;
  };
  const hook = (specifier: string): Promise<unknown> => {
    if (specifier.startsWith("node:") && !isLoader(specifier)) {
      return import(specifier).then((m) => sealSqlite(specifier, m));
    }
    return Promise.reject(
      new Error(
        isLoader(specifier)
          ? `Cannot load ${specifier} in fn: ${sealedWhy} (use NsCommand to run programs)`
          : `Cannot import ${specifier} in fn: ${sealedWhy} - import it on the host: give inNamespaces a module URL (bundled on the host), or pass data through arg`,
      ),
    );
  };
  if (vm) {
    const refuse = (what: string, instead: string) =>
      function refused(): never {
        throw new Error(`Cannot use ${what} in fn: ${sealedWhy} (${instead})`);
      };
    delete (globalThis as { Worker?: unknown }).Worker;
    const deno = Deno as unknown as Record<string, unknown>;
    deno.Command = refuse("Deno.Command", "run programs in the target with NsCommand");
    deno.dlopen = refuse("Deno.dlopen", "load libraries outside inNamespaces");
    // Deno reads /proc/self/exe for these and panics (the whole process) where the target's
    // /proc does not show this process: answer from the value read at boot, on the host.
    const execPath = Deno.execPath();
    deno.execPath = () => execPath;
    const proc = (globalThis as {
      process: { getBuiltinModule(id: string): unknown; dlopen: unknown };
    }).process;
    proc.dlopen = refuse("process.dlopen", "load native addons outside inNamespaces");
    // WebGPU's first requestAdapter() dlopen()s libvulkan.so.1 (then libEGL) by name, where
    // this thread resolves paths: a target's library ran as root in our process (stop 25).
    const gpu = (globalThis as { GPU?: { prototype: Record<string, unknown> } }).GPU;
    if (gpu) {
      const refused = refuse("WebGPU", "its first adapter loads the system's graphics libraries");
      gpu.prototype.requestAdapter = function requestAdapter(): Promise<never> {
        return new Promise<never>(() => refused());
      };
    }
    // Deno has glibc (tzset) and ICU read the time zone again when TZ changes, for the whole
    // process and where this thread resolves paths: the target's zoneinfo file or
    // /etc/localtime became the zone of every Worker made later, and a FIFO there kept glibc's
    // lock, so root's own next change of TZ waited for ever (stop 25). process.env goes
    // through these too.
    const env = Deno.env;
    const setEnv = env.set.bind(env), deleteEnv = env.delete.bind(env);
    const tz = refuse("TZ", "the time zone is the whole process's: set it before inNamespaces");
    // The key as Deno will see it, converted once: an object whose toString() says "TZ"
    // passed a comparison with the string and reached glibc as TZ (stop 26).
    env.set = (key: string, value: string) => {
      const name = `${key}`;
      return name === "TZ" ? tz() : setEnv(name, value);
    };
    env.delete = (key: string) => {
      const name = `${key}`;
      return name === "TZ" ? tz() : deleteEnv(name);
    };
    const getBuiltinModule = proc.getBuiltinModule.bind(proc);
    proc.getBuiltinModule = (id: string) => {
      if (isLoader(id)) throw new Error(`Cannot load ${id} in fn: ${sealedWhy}`);
      return sealSqlite(id, getBuiltinModule(id));
    };
    // Deno leaves the N-API loader behind process.dlopen on Deno[Deno.internal].core.ops: a
    // path given to it is dlopen()ed here, in the target's files (stop 26). Deno's own
    // callers import the op, not this object.
    const ops = (Deno as unknown as Record<symbol, { core?: { ops?: Record<string, unknown> } }>)[
      (Deno as unknown as { internal: symbol }).internal
    ]?.core?.ops;
    if (ops && "op_napi_open" in ops) {
      ops.op_napi_open = refuse("native addons", "load them outside inNamespaces");
    }
    // Tells the spawner to switch this Worker's root from the host's to the target's.
    post({ type: "booted" });
  }
  const compile = async (
    m: Extract<CallMessage, { source: string }>,
  ): Promise<(arg: unknown) => unknown> => {
    if (m.kind === "fn") {
      if (!vm) return (0, eval)(`(${m.source})`);
      return vm.compileFunction(`return (${m.source});`, [], {
        filename: "fn",
        importModuleDynamically: hook as never,
      })() as (arg: unknown) => unknown;
    }
    // A CommonJS bundle made on the host: esbuild leaves node: built-ins as require("node:x")
    // calls, which its require serves from modules imported here first.
    const builtins = new Map<string, unknown>();
    for (const [, id] of m.source.matchAll(/\brequire\("(node:[a-z_/]+)"\)/g)) {
      builtins.set(id, await hook(id).catch(() => undefined));
    }
    const require = (id: string): unknown => {
      const loaded = builtins.get(id);
      if (loaded === undefined) throw new Error(`Cannot require ${id} in fn: ${sealedWhy}`);
      return loaded;
    };
    const module = { exports: {} as { default?: unknown } };
    vm!.compileFunction(m.source, ["exports", "require", "module"], {
      filename: m.url,
      importModuleDynamically: hook as never,
    })(module.exports, require, module);
    return module.exports.default as (arg: unknown) => unknown;
  };
  on(async (m: CallMessage) => {
    try {
      let fn: unknown;
      if (m.kind === "module") {
        fn = (await import(m.url)).default;
      } else {
        fn = compiled.get(m.source);
        if (!fn) {
          fn = await compile(m);
          compiled.set(m.source, fn as (arg: unknown) => unknown);
        }
      }
      if (typeof fn !== "function") {
        throw new TypeError(
          `Cannot call ${
            m.kind === "fn" ? "fn" : `the default export of ${m.url}`
          }: it is not a function`,
        );
      }
      const value = await fn(m.arg);
      post({ id: m.id, ok: true, value });
    } catch (error) {
      if (m.kind === "fn" && error instanceof ReferenceError) {
        error.message +=
          " (fn was sent to the Worker as source text, so it sees none of the caller's variables: pass data through the arg option" +
          (vm ? ", or give a module URL" : ", import modules inside fn") + ")";
      }
      post({ id: m.id, ok: false, error: serialize(error) });
    }
  });
}

/** The evaluator as source text for `new Worker(EVALUATOR_SOURCE, { eval: true })` (node:worker_threads). */
export const EVALUATOR_SOURCE: string = `const { parentPort } = require("node:worker_threads");
(${_evaluator.toString()})((h) => parentPort.on("message", h), (m) => parentPort.postMessage(m));`;

/**
 * The evaluator as a web Worker's URL. The spawner uses a web Worker: a node:worker_threads
 * Worker reads /proc/self/exe as it starts, and inside the target's mount namespace (its
 * own /proc) that is not there (Deno 2.9.6 panics).
 */
const _WEB_EVALUATOR_URL = `data:application/javascript,${
  encodeURIComponent(
    `import vm from "node:vm";
(${_evaluator.toString()})((h) => { self.onmessage = (e) => h(e.data); }, (m) => self.postMessage(m), vm);`,
  )
}`;

function _spawner(mntFd: number, hostRootFd: number): void {
  const port = parentPort!;
  let targetRootFd = -1;
  try {
    // A thread may join a mount namespace only with an fs_struct of its own (DESIGN.md fact 2).
    check("unshare", libc().unshare(CLONE_FS));
    // Before any thread is in the target: glibc's NSS keeps the host's modules and
    // nsswitch.conf for good, never loading the target's (see ffi/nss.ts).
    freezeNss(hostRootFd);
    // Every thread of the evaluator (and any process they fork) inherits this filter.
    forbidExecOnThisThread();
    check("setns", libc().setns(mntFd, CLONE_FLAGS.mnt));
    targetRootFd = check("open", libc().open(cstr("/"), O_RDONLY | O_CLOEXEC, 0));
    // The caller owns it from here: it closes it once this Worker is ready, or has exited.
    port.postMessage({ type: "opened", fd: targetRootFd });
    // The evaluator boots with the host's root (its threads share this fs_struct): Deno's
    // Node compatibility layer, which node:vm brings up, reads /proc/self/exe once and
    // panics where the target's /proc does not show this process.
    _chrootTo(hostRootFd);
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    port.postMessage({ type: "join-failed", errno: error.errno, syscall: error.syscall });
    return;
  }
  const evaluator = new globalThis.Worker(_WEB_EVALUATOR_URL, { type: "module" });
  // Calls wait here until the evaluator's root is the target's (Deno's port drops messages
  // that arrive before a listener).
  let waiting: CallMessage[] | undefined = [];
  port.on("message", (m: CallMessage) => waiting ? waiting.push(m) : evaluator.postMessage(m));
  evaluator.onmessage = (e: MessageEvent<EvaluatorMessage>) => {
    if (!("type" in e.data) || e.data.type !== "booted") {
      port.postMessage(e.data);
      return;
    }
    try {
      // From here on every path of every evaluator thread resolves in the target (setns
      // again is refused: this fs_struct is shared now).
      _chrootTo(targetRootFd);
    } catch (error) {
      evaluator.terminate();
      const { errno, syscall } = error as SyscallError;
      port.postMessage({ type: "join-failed", errno, syscall });
      return;
    }
    for (const m of waiting!) evaluator.postMessage(m);
    waiting = undefined;
    port.postMessage({ type: "ready" });
  };
  evaluator.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    port.postMessage({ type: "crash", error: { name: "Error", message: e.message } });
  };
}

/** Makes a directory fd the root and cwd of this thread's fs_struct. */
function _chrootTo(fd: number): void {
  check("fchdir", libc().fchdir(fd));
  check("chroot", libc().chroot(cstr(".")));
}

if (!isMainThread && workerData?.role === SPAWNER_ROLE) {
  _spawner(workerData.mntFd, workerData.hostRootFd);
}
