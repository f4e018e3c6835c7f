/**
 * Run TypeScript itself inside a target's namespaces: `inNamespaces()` evaluates a
 * function in a Worker whose every thread is in the target, so fetch, Deno.connect and
 * listen, sync and async file I/O and Deno.hostname all see the target.
 *
 * @module
 */
import { check, cstr, libc, O_CLOEXEC, O_RDONLY } from "../ffi/libc.ts";
import { readLinkSafe, readTextFileSafe, statSafe } from "../ffi/files.ts";
import { NamespaceError } from "./errors.ts";
import {
  differingNamespaces,
  NAMESPACE_TYPES,
  type NamespaceType,
  WORKER_NAMESPACES,
  type WorkerNamespace,
} from "./namespaces.ts";
import { _inScopedJoin, _joinThread, _openNamespace } from "./scoped.ts";
import { type ResolvedTarget, resolveTarget, startTimeOf, type Target } from "./target.ts";
import type { CallBody, ReplyMessage, SerializedError } from "./_ns_worker.ts";
import { notCapable } from "./_permissions.ts";

/**
 * node:worker_threads and the Worker programs, loaded on the first call: importing them
 * starts Deno's Node compatibility (~7 ms of every cold start), which a script that
 * imports mod.ts and never calls inNamespaces should not pay.
 */
let _workers:
  | (
    & typeof import("./_ns_worker.ts")
    & typeof import("./_ns_process.ts")
    & typeof import("node:worker_threads")
    & typeof import("node:child_process")
  )
  | undefined;

/**
 * What `inNamespaces` needs of an evaluator: a node:worker_threads Worker (net, uts, ipc,
 * cgroup) or, with mnt, the {@link SealedProcess} that runs it in a process of its own.
 */
interface _WorkerLike {
  postMessage(message: unknown): void;
  ref(): void;
  unref(): void;
  terminate(): Promise<unknown>;
  on(event: "message", listener: (m: ReplyMessage) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "exit", listener: () => void): unknown;
}

export { WORKER_NAMESPACES, type WorkerNamespace } from "./namespaces.ts";

/** Options of {@link inNamespaces}. */
export interface InNamespacesOptions<A = unknown> {
  /**
   * The types to join, or `"all"` (the default): those of net, uts, ipc, cgroup and mnt
   * that differ from the caller's (for a namespace file, its own type).
   */
  namespaces?: readonly WorkerNamespace[] | "all";
  /** The argument of `fn`, structured-cloned into the Worker. */
  arg?: A;
  /** Milliseconds after which the Worker is terminated and the call rejects with a TimeoutError. */
  timeout?: number;
  /** Terminates the Worker when aborted; the call rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Keep the Worker for the next call on the same target and namespaces (default true). */
  reuse?: boolean;
}

/** What `fn` may be: a self-contained function of one argument, or a module URL. */
export type InNamespacesFunction<A, R> = ((arg: A) => R | Promise<R>) | URL;

/** How long an idle Worker is kept for reuse. */
const IDLE_MS = 5_000;
/** At most this many idle Workers per target and namespace set. */
const MAX_IDLE = 4;

interface _Slot {
  worker: _WorkerLike;
  key: string;
  pid?: number;
  startTime?: number;
  /** The call in flight. */
  call?: { id: number; resolve(value: unknown): void; reject(error: unknown): void };
  /** The fds a mnt spawner uses (mnt namespace, host and target roots): closed once it is ready. */
  spawnerFds: number[];
  /** Set once the Worker must not be used again. */
  dead: boolean;
  idleTimer?: ReturnType<typeof setTimeout>;
}

const _idle = new Map<string, _Slot[]>();
const _live = new Set<_Slot>();
let _nextId = 1;

/**
 * Runs `fn(arg)` inside the namespaces of a target, in a dedicated Worker whose threads
 * are all in the target (created from a thread that had joined it), so every Deno API in
 * `fn` sees the target. `fn` is sent as source text, like Playwright's `page.evaluate`: it
 * sees none of the caller's variables (a ReferenceError says so) — pass data through
 * `arg`. `arg` and the result are structured-cloned. An error thrown inside rejects the
 * call with its name, message and stack. A timeout or abort terminates the Worker — except
 * that a function stuck in a synchronous endless loop keeps its thread: Deno 2.9.6's
 * `Worker.terminate()` does not interrupt one (denoland/deno#35657); keep `fn` async.
 *
 * Instead of a function, `fn` may be the URL of a module whose default export is called
 * with `arg`.
 *
 * All code is loaded on the host. Without mnt the Worker is in the host's mount
 * namespace, so `import()` inside `fn` and a module URL load the host's files. A remote
 * module URL is put in Deno's cache on the host first when net is joined (`deno cache`:
 * needs `--allow-run`), never fetched through the target's network; a remote import made
 * at run time and not yet cached is (TLS still checks it; over http: the target answers). With mnt every path is the target's, so the Worker is sealed: a module
 * URL is bundled on the host (`deno bundle`, whole graph, into one CommonJS text: no
 * top-level await, an empty `import.meta`) before it goes in; `import()` inside is refused
 * except for node: built-ins that load no code; `Worker`, `Deno.Command`, `Deno.dlopen`,
 * `process.dlopen` and WebGPU's `requestAdapter()` are refused, and a seccomp filter on the Worker's threads makes execve
 * fail in the kernel — a program of the target run from there would have your process's
 * privileges (use `NsCommand`, which enters every namespace). What Deno reads once per
 * process (NSS modules, gai.conf, the time zone) is read on the host first: fn's local
 * time is the caller's zone, not the target's. With mnt, fn runs in a `deno run -A` process
 * of its own (needs `--allow-run`), so that what glibc reads under a process-wide lock —
 * the target's /etc/resolv.conf at a name lookup — never holds a lock of yours: `arg` and
 * the result cross a pipe by node:v8's serializer (structured clone, but no transferables or
 * SharedArrayBuffer), and a timeout or abort kills that process, synchronous loops included.
 *
 * Worker startup is ~30 ms (about 1 s when mnt is joined: a process, and a Worker created by
 * a Worker starts that slowly); Workers are reused per target and namespace set (see `reuse`),
 * dropped when idle for 5 s or when their target exits, and {@link closeNamespaceWorkers}
 * ends them all. No thread of the caller is ever left in a target: the caller's thread
 * is inside only during the synchronous `new Worker()`, and a terminated Worker takes its
 * threads with it.
 *
 * It runs your code in your process, not the target's: it is a way in, not a sandbox —
 * treat what the target's files and services return as untrusted input.
 *
 * user, pid and time cannot be joined here — the kernel refuses them to a multithreaded
 * process, or (pid) never moves the caller — use `NsCommand` for those.
 *
 * @param target a PID, a namespace file (/proc/PID/ns/net, /run/netns/NAME), or a pinned process
 * @param fn a self-contained function of one argument, or a module URL
 * @param options namespaces (default "all"), arg, timeout, abort signal, reuse
 * @returns what `fn` returned (awaited), structured-cloned back
 * @throws {NamespaceError} when a namespace cannot be joined, or is user, pid or time
 *
 * @example
 * ```ts ignore
 * import { inNamespaces } from "@nsjoin/nsjoin";
 * // A server that listens only on the loopback of pid 1234's network namespace:
 * const status = await inNamespaces(
 *   1234,
 *   async (port) => (await fetch(`http://127.0.0.1:${port}/health`)).status,
 *   { namespaces: ["net"], arg: 8080 },
 * );
 * if (status !== 200) throw new Error(`unhealthy: ${status}`);
 * ```
 */
export async function inNamespaces<A, R>(
  target: Target,
  fn: InNamespacesFunction<A, R>,
  options: InNamespacesOptions<A> = {},
): Promise<Awaited<R>> {
  options.signal?.throwIfAborted();
  const resolved = resolveTarget(target);
  const types = _types(target, resolved, options.namespaces ?? "all");
  const message = await _message(fn, options.arg, types);
  return await _call(resolved, types, message, options) as Awaited<R>;
}

/**
 * Terminates every idle Worker kept by {@link inNamespaces} for reuse (calls in flight
 * keep theirs until they finish).
 *
 * @returns when the Workers have exited
 *
 * @example
 * ```ts
 * import { closeNamespaceWorkers } from "@nsjoin/nsjoin";
 * await closeNamespaceWorkers();
 * ```
 */
export async function closeNamespaceWorkers(): Promise<void> {
  const slots = [..._idle.values()].flat();
  _idle.clear();
  await Promise.all(slots.map(_terminate));
}

function _types(
  target: Target,
  resolved: ResolvedTarget,
  namespaces: readonly WorkerNamespace[] | "all",
): WorkerNamespace[] {
  if (namespaces === "all") {
    if (resolved.kind === "file") namespaces = [resolved.type as WorkerNamespace];
    else {
      const differ = differingNamespaces(resolved.pid);
      return WORKER_NAMESPACES.filter((t) => differ.includes(t));
    }
  }
  if (!Array.isArray(namespaces)) {
    throw new TypeError(
      `Cannot join namespaces ${
        typeof namespaces === "string" ? JSON.stringify(namespaces) : String(namespaces)
      }: give "all" or a list of types (["net"])`,
    );
  }
  if (namespaces.length === 0) {
    throw new TypeError('Cannot join no namespaces: give a list of types or "all"');
  }
  for (const type of namespaces as readonly NamespaceType[]) {
    if (!NAMESPACE_TYPES.includes(type)) {
      throw new TypeError(
        `Cannot join a namespace of type ${JSON.stringify(type)}: use one of ${
          WORKER_NAMESPACES.join(", ")
        }`,
      );
    }
    if (!(WORKER_NAMESPACES as readonly string[]).includes(type)) {
      throw new NamespaceError(
        `Cannot join the ${type} namespace from a Deno thread: ${_RULES[type]}`,
        {
          errno: 22,
          quiet: true,
          syscall: "setns",
          namespace: type,
          target: typeof target === "object" ? target.pid : target,
          hint: "use NsCommand, which joins in a single-threaded helper process",
        },
      );
    }
  }
  return WORKER_NAMESPACES.filter((t) => namespaces.includes(t));
}

const _RULES: Partial<Record<NamespaceType, string>> = {
  user: "the kernel refuses setns(2) into a user namespace to a multithreaded process (EINVAL)",
  time: "the kernel refuses setns(2) into a time namespace to a multithreaded process (EUSERS)",
  pid:
    "setns(2) into a pid namespace never moves the caller, only the children it forks, and Deno cannot fork",
};

async function _message(
  fn: unknown,
  arg: unknown,
  types: readonly WorkerNamespace[],
): Promise<CallBody> {
  if (fn instanceof URL) {
    if (types.includes("mnt")) {
      return { kind: "bundle", url: fn.href, source: await _bundle(fn), arg };
    }
    // Without mnt the Worker loads the module from the host's files as Deno does, but it is
    // born in the target's network: a remote module it fetched came from there.
    if (types.includes("net") && fn.protocol !== "file:" && fn.protocol !== "data:") {
      await _cacheOnHost(fn);
    }
    return { kind: "module", url: fn.href, arg };
  }
  if (typeof fn !== "function") {
    throw new TypeError("Cannot run fn: give a function or a module URL");
  }
  const source = fn.toString();
  let ok = !source.includes("[native code]");
  if (ok) {
    try {
      new Function(`return (${source});`);
    } catch {
      ok = false;
    }
  }
  if (!ok) {
    throw new TypeError(
      "Cannot send fn to the Worker as source text: write it as a function expression or arrow function (not a method, bound or built-in function)",
    );
  }
  return { kind: "fn", source, arg };
}

/**
 * The module's whole graph as one CommonJS text, made by `deno bundle` on the host: a
 * Worker in a target's mount namespace must load nothing from files (they are the
 * target's). node: built-ins stay imports; the sealed evaluator serves them.
 */
async function _bundle(url: URL): Promise<string> {
  const config = _bundleConfig();
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        ...config.args,
        ..._importFlag(),
        "--quiet",
        "--format=cjs",
        "--platform=deno",
        url.href,
      ],
      cwd: config.cwd,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
  } catch (error) {
    // A missing --allow-run stays a NotCapable, as every other missing flag: a plain Error
    // could not be told apart from a module that does not bundle.
    if (error instanceof Deno.errors.NotCapable) {
      throw notCapable(
        `Cannot bundle ${url.href} on the host without --allow-run: a module for a Worker in the target's mount namespace is bundled by \`deno bundle\``,
      );
    }
    throw new Error(`Cannot bundle ${url.href} on the host: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (!out.success) {
    const stderr = new TextDecoder().decode(out.stderr);
    const why = stderr.split("\n").find((l) => l.startsWith("error: ")) ?? stderr.trim();
    throw new Error(`Cannot bundle ${url.href} on the host: ${why.replace(/^error: /, "")}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/**
 * `--allow-import` for a `deno bundle` of ours when this process may import from anywhere
 * (`-A`): the bundler refuses, as `deno run` does, a remote module from a host outside
 * Deno's default list (an http: URL of a local server) unless it is given.
 */
function _importFlag(): string[] {
  return Deno.permissions.querySync({ name: "import" }).state === "granted"
    ? ["--allow-import"]
    : [];
}

const _cachedOnHost = new Map<string, Promise<void>>();

/**
 * Puts a remote module's graph in Deno's cache with `deno cache`, started from the caller's
 * thread on the host, so that the Worker, born in the target's network namespace, loads it
 * from the cache: it fetched an uncached module through the target's network, and over
 * http: a target answering on that address of its own loopback had its code run in the
 * caller's process, as uid 0 with every permission (tests/security_test.ts "stop 27: a
 * remote module URL…"). Once per URL and process; the configuration is the bundler's.
 */
function _cacheOnHost(url: URL): Promise<void> {
  const run = { name: "run", command: Deno.execPath() } as const;
  if (Deno.permissions.querySync(run).state !== "granted") {
    return Promise.reject(notCapable(
      `Cannot fetch ${url.href} on the host without --allow-run: a remote module for a Worker in the target's network namespace is cached first by \`deno cache\`, never fetched through the target's network`,
    ));
  }
  let done = _cachedOnHost.get(url.href);
  if (done) return done;
  const config = _bundleConfig();
  done = new Deno.Command(Deno.execPath(), {
    args: ["cache", "--quiet", ...config.args, url.href],
    cwd: config.cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output().then((out) => {
    if (out.success) return;
    const stderr = new TextDecoder().decode(out.stderr);
    const why = stderr.split("\n").find((l) => l.startsWith("error: ")) ?? stderr.trim();
    throw new Error(`Cannot fetch ${url.href} on the host: ${why.replace(/^error: /, "")}`);
  });
  done.catch(() => _cachedOnHost.delete(url.href));
  _cachedOnHost.set(url.href, done);
  return done;
}

/**
 * Where `deno bundle` takes its configuration (import map, package.json, node_modules)
 * from: where this process took its own, never the caller's working directory. Deno
 * looks for deno.json from its working directory upwards, so a script of root's run from
 * (or below) a directory a user may write — their project, a build directory in /tmp —
 * bundled the user's import map: one that mapped `node:path` to their module ran it in
 * root's Worker, as uid 0 with every capability (tests/security_test.ts "stop 22").
 * Deno's own flags are passed on (`--no-config`, `--config`, `--import-map`; a relative
 * path is taken from the working directory now, as Deno took it from the one it started
 * in); otherwise the bundler starts where `deno run` looked, the main module's directory,
 * and for a main module that is not a file (jsr:, https:, npm:) it reads no configuration.
 */
function _bundleConfig(): { args: string[]; cwd: string } {
  let args: string[] = [];
  try {
    args = readTextFileSafe("/proc/self/cmdline", { maxBytes: 1 << 20 }).split("\0");
  } catch {
    // No /proc: no flags of ours to pass on.
  }
  const script = args.findIndex((a, i) =>
    i > 0 && !a.startsWith("-") &&
    (a === Deno.mainModule || Deno.mainModule.endsWith(a.replace(/^\.\//, "/")) ||
      Deno.mainModule.endsWith(`/${a}`))
  );
  const flags = args.slice(1, script < 0 ? args.length : script);
  const out: string[] = [];
  const path = (p: string) => (p.startsWith("/") || /^[a-z]+:/.test(p) ? p : `${Deno.cwd()}/${p}`);
  for (let i = 0; i < flags.length; i++) {
    const f = flags[i];
    const long = /^--(config|import-map)(?:=(.*))?$/.exec(f);
    // `-c FILE`, `-cFILE`, `-c=FILE`, `-Ac FILE`: a letter after -c (or -L) is its value.
    const short = /^-[A-Zabd-z]*c=?(.*)$/.exec(f);
    if (f === "--no-config") out.push(f);
    else if (long) out.push(`--${long[1]}`, path(long[2] ?? flags[++i] ?? ""));
    else if (short && !f.startsWith("--") && !/^-[^c]*L/.test(f)) {
      out.push("--config", path(short[1] || flags[++i] || ""));
    }
  }
  const main = new URL(Deno.mainModule);
  if (out.includes("--no-config") || out.includes("--config")) return { args: out, cwd: "/" };
  const dir = decodeURIComponent(main.pathname.replace(/\/[^/]*$/, "")) || "/";
  let there = false;
  try {
    there = main.protocol === "file:" && Deno.statSync(dir).isDirectory;
  } catch {
    // Gone since we started (or not a file URL): no configuration to look for.
  }
  if (!there) return { args: [...out, "--no-config"], cwd: "/" };
  return { args: out, cwd: dir };
}

function _key(resolved: ResolvedTarget, types: readonly WorkerNamespace[]): string {
  const who = resolved.kind === "process"
    ? `pid:${resolved.pid}:${resolved.startTime}`
    : `file:${resolved.path}`;
  return `${who}|${types.join(",")}|${_identity(resolved, types)}`;
}

/**
 * The namespaces a Worker for these types would join now (their inodes), or "?" when one
 * cannot be read. A kept Worker holds the namespaces it was born in, and a target keeps its
 * PID and start time when it moves to others (`exec unshare -m`, setns), a path its name when
 * the namespace under it is replaced (`ip netns delete` and `add`): found by PID or path
 * alone, the Worker ran fn in the namespaces the target had left, or in a deleted one
 * (tests/security_test.ts "stop 25: a kept inNamespaces Worker…").
 */
function _identity(resolved: ResolvedTarget, types: readonly WorkerNamespace[]): string {
  try {
    if (resolved.kind === "file") {
      const st = statSafe(resolved.path);
      return `${st.dev}:${st.ino}`;
    }
    // "mnt:[4026531841]": one readlink each, where a stat opens the file.
    return types.map((t) => readLinkSafe(`/proc/${resolved.pid}/ns/${t}`)).join(",");
  } catch {
    return "?";
  }
}

async function _call(
  resolved: ResolvedTarget,
  types: WorkerNamespace[],
  message: CallBody,
  options: InNamespacesOptions<unknown>,
): Promise<unknown> {
  const reuse = options.reuse ?? true;
  _workers ??= {
    ...await import("node:worker_threads"),
    ...await import("node:child_process"),
    ...await import("./_ns_worker.ts"),
    ...await import("./_ns_process.ts"),
  };
  if (types.includes("mnt")) {
    // Asked for before the cache's own `deno`: a missing --allow-run is one NotCapable.
    _assertCanRunDeno();
    await _workers.cacheChildCode();
  }
  // Aborted while we prepared (a module bundled, the first call's imports, the cache): the
  // listener added below would never fire, and fn ran all the same.
  options.signal?.throwIfAborted();
  const key = _key(resolved, types);
  const kept = _take(key);
  const slot = kept ?? (_dropExited(), _spawn(resolved, types));
  // A Worker born while the target moved may hold either set: not kept, nor one whose
  // namespaces could not be read.
  if (!kept && (key.endsWith("|?") || _key(resolved, types) !== key)) slot.dead = true;
  const id = _nextId++;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    return await new Promise((resolve, reject) => {
      slot.call = { id, resolve, reject };
      slot.worker.ref();
      if (options.timeout !== undefined) {
        timer = setTimeout(() => {
          slot.dead = true;
          reject(
            new DOMException(
              `Cannot finish fn in the target's namespaces: timed out after ${options.timeout} ms`,
              "TimeoutError",
            ),
          );
        }, options.timeout);
      }
      if (options.signal) {
        onAbort = () => {
          slot.dead = true;
          reject(options.signal!.reason);
        };
        options.signal.addEventListener("abort", onAbort, { once: true });
      }
      try {
        slot.worker.postMessage({ ...message, id });
      } catch (error) {
        reject(
          new TypeError(`Cannot send arg to the Worker: ${(error as Error).message}`, {
            cause: error,
          }),
        );
      }
    });
  } finally {
    clearTimeout(timer);
    if (onAbort) options.signal!.removeEventListener("abort", onAbort);
    slot.call = undefined;
    if (slot.dead || !reuse) await _terminate(slot);
    else _release(slot);
  }
}

function _take(key: string): _Slot | undefined {
  const list = _idle.get(key) ?? [];
  let slot: _Slot | undefined;
  // An idle Worker dies when a timer of an earlier fn throws, or when it exits.
  while ((slot = list.pop()) && slot.dead) _terminate(slot);
  if (list.length === 0) _idle.delete(key);
  if (slot) clearTimeout(slot.idleTimer);
  return slot;
}

function _release(slot: _Slot): void {
  // A target that exited takes its Workers with it: they hold its namespaces alive.
  if (slot.pid !== undefined && _startTimeOrGone(slot.pid) !== slot.startTime) {
    _terminate(slot);
    return;
  }
  const list = _idle.get(slot.key) ?? [];
  if (list.length >= MAX_IDLE) {
    _terminate(slot);
    return;
  }
  list.push(slot);
  _idle.set(slot.key, list);
  slot.worker.unref();
  slot.idleTimer = setTimeout(() => {
    const l = _idle.get(slot.key);
    if (l?.includes(slot)) {
      l.splice(l.indexOf(slot), 1);
      if (l.length === 0) _idle.delete(slot.key);
    }
    _terminate(slot);
  }, IDLE_MS);
  Deno.unrefTimer(slot.idleTimer as unknown as number);
}

/**
 * Terminates the idle Workers whose target exited. Checked when a Worker is released, a
 * target that exits later kept its Workers (and namespaces, ~10 MB each) for the idle time:
 * a script probing short-lived targets had a hundred of them. Run before each new Worker,
 * so they never outnumber the targets alive.
 */
function _dropExited(): void {
  for (const [key, list] of _idle) {
    for (const slot of [...list]) {
      if (slot.pid === undefined || _startTimeOrGone(slot.pid) === slot.startTime) continue;
      list.splice(list.indexOf(slot), 1);
      _terminate(slot);
    }
    if (list.length === 0) _idle.delete(key);
  }
}

function _startTimeOrGone(pid: number): number {
  try {
    return startTimeOf(pid);
  } catch {
    return -1;
  }
}

async function _terminate(slot: _Slot): Promise<void> {
  slot.dead = true;
  clearTimeout(slot.idleTimer);
  _closeSpawnerFds(slot);
  if (!_live.delete(slot)) return;
  await slot.worker.terminate();
}

function _closeSpawnerFds(slot: _Slot): void {
  for (const fd of slot.spawnerFds.splice(0)) libc().close(fd);
}

/**
 * The sealed evaluator's process is `deno` (Deno.execPath()) running nsjoin's
 * src/_ns_process.ts: asked for up front, so that a missing --allow-run is one NotCapable
 * naming it. A `deno compile`d program has no `deno` to run: its Deno.execPath() is the
 * program itself, which `run -A …` and `cache …` would start with those arguments.
 * `Deno.build.standalone` says so (Deno 2.9); the path is the older sign, and only for
 * local modules (Deno 2.9 serves them from `$TMPDIR/deno-compile-NAME/`; a remote module
 * keeps its https: URL).
 */
function _assertCanRunDeno(): void {
  if (Deno.build.standalone || import.meta.url.includes("/deno-compile-")) {
    throw new Error(
      "Cannot join a mount namespace with inNamespaces in a `deno compile`d program: its sealed evaluator runs in a `deno` process of its own",
    );
  }
  const run = { name: "run", command: Deno.execPath() } as const;
  if (Deno.permissions.querySync(run).state === "granted") return;
  if (Deno.permissions.requestSync(run).state === "granted") return;
  throw notCapable(
    "Cannot start the evaluator for the target's mount namespace without --allow-run: it runs in a process of its own (Deno.execPath())",
  );
}

function _spawn(resolved: ResolvedTarget, types: WorkerNamespace[]): _Slot {
  if (_inScopedJoin()) {
    // A thread created now would keep the scoped join's namespaces for good.
    throw new Error(
      "Cannot start a namespace Worker inside a scoped join: dispose the join first",
    );
  }
  const threadTypes = types.filter((t) => t !== "mnt");
  const target = resolved.kind === "process" ? resolved.pid : resolved.path;
  const spawnerFds: number[] = [];
  let worker: _WorkerLike;
  try {
    if (types.includes("mnt")) {
      _assertCanRunDeno();
      spawnerFds.push(_openNamespace(resolved, "mnt"));
      spawnerFds.push(check("open", libc().open(cstr("/"), O_RDONLY | O_CLOEXEC, 0)));
    }
    const join = threadTypes.length > 0 ? _joinThread(target, threadTypes) : undefined;
    try {
      // The Worker's thread (with mnt: the process) is created right here, inside the
      // joined namespaces.
      const [mntFd, hostRootFd] = spawnerFds;
      worker = mntFd === undefined
        ? new _workers!.Worker(_workers!.EVALUATOR_SOURCE, { eval: true })
        : new _workers!.SealedProcess(_workers!.spawn, mntFd, hostRootFd);
    } finally {
      join?.restore();
    }
  } catch (error) {
    for (const fd of spawnerFds) libc().close(fd);
    throw error;
  }
  const slot: _Slot = {
    worker,
    key: _key(resolved, types),
    pid: resolved.kind === "process" ? resolved.pid : undefined,
    startTime: resolved.kind === "process" ? resolved.startTime : undefined,
    spawnerFds,
    dead: false,
  };
  _live.add(slot);
  worker.on("message", (m: ReplyMessage) => _onReply(slot, m, target));
  worker.on("error", (error: Error) => {
    slot.dead = true;
    slot.call?.reject(error);
  });
  worker.on("exit", () => {
    slot.dead = true;
    _closeSpawnerFds(slot);
    slot.call?.reject(new Error("Cannot finish fn in the target's namespaces: the Worker exited"));
  });
  return slot;
}

function _onReply(slot: _Slot, m: ReplyMessage, target: number | string): void {
  if ("type" in m) {
    if (m.type === "opened") {
      slot.spawnerFds.push(m.fd);
    } else if (m.type === "ready") {
      _closeSpawnerFds(slot);
    } else if (m.type === "join-failed") {
      _closeSpawnerFds(slot);
      slot.dead = true;
      slot.call?.reject(
        new NamespaceError(`Cannot join the mnt namespace of ${target}`, {
          errno: m.errno,
          syscall: m.syscall,
          namespace: "mnt",
          target,
        }),
      );
    } else {
      slot.dead = true;
      slot.call?.reject(_revive(m.error));
    }
    return;
  }
  if (!slot.call || slot.call.id !== m.id) return;
  if (m.ok) slot.call.resolve(m.value);
  else slot.call.reject(_revive(m.error));
}

const _ERRORS: Record<string, ErrorConstructor> = {
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/**
 * An error from inside, rebuilt with its class (built-in or Deno.errors) where there is one.
 * The name is fn's, which may be a target's (an error a service reported, rebuilt inside):
 * only own properties are classes — "toString" found Object.prototype's, and the throw of
 * `new` here, in the Worker's message listener, ended the caller's whole process.
 */
function _revive(e: SerializedError): Error {
  const denoErrors = Deno.errors as unknown as Record<string, ErrorConstructor | undefined>;
  const own = (table: Record<string, ErrorConstructor | undefined>) =>
    Object.hasOwn(table, e.name) ? table[e.name] : undefined;
  const Ctor = own(_ERRORS) ?? own(denoErrors) ?? Error;
  const error = new Ctor(e.message);
  if (error.name !== e.name) error.name = e.name;
  error.stack = e.stack ?? `${e.name}: ${e.message}`;
  return error;
}
