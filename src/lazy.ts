/**
 * The main entry's functions that load their modules at their first call: a script that
 * imports the main entry for NsCommand does not load (nor compile) Workers, cp, tar and
 * forwarding code, a few milliseconds of every start-up (bench/import_bench.ts). Only async
 * functions can be loaded so; the rest of the main entry's API is imported as it is. mod.ts
 * re-exports them.
 *
 * @module
 */
import type { CopyOptions, CopyTarget } from "./copy.ts";
import type { Forwarding, ForwardOptions } from "./forward.ts";
import type { InNamespacesFunction, InNamespacesOptions } from "./in_namespaces.ts";
import type { ExecSession, SessionOptions } from "./session.ts";
import type { Target } from "./target.ts";

// The module once loaded is called without an await first, so that a call runs as far
// synchronously as the function itself does (inNamespaces refuses to make its Worker
// inside a scoped join the caller made after the call: tests/scoped_test.ts).
let _later: typeof import("./_later.ts") | undefined;

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
 * namespace, so `import()` inside `fn` and a module URL load the host's files (a remote
 * import not yet cached is fetched through the target's network when net is joined: TLS
 * still checks it). With mnt every path is the target's, so the Worker is sealed: a module
 * URL is bundled on the host (`deno bundle`, whole graph, into one CommonJS text: no
 * top-level await, an empty `import.meta`) before it goes in; `import()` inside is refused
 * except for node: built-ins that load no code; `Worker`, `Deno.Command`, `Deno.dlopen`,
 * `process.dlopen` and WebGPU's `requestAdapter()` are refused, and a seccomp filter on the Worker's threads makes execve
 * fail in the kernel — a program of the target run from there would have your process's
 * privileges (use `NsCommand`, which enters every namespace).
 *
 * Worker startup is ~30 ms (about 1 s when mnt is joined: a Worker created by a Worker
 * starts that slowly); Workers are reused per target and namespace set (see `reuse`),
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
  options?: InNamespacesOptions<A>,
): Promise<Awaited<R>> {
  _later ??= await import("./_later.ts");
  return await _later.inNamespaces(target, fn, options);
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
  _later ??= await import("./_later.ts");
  await _later.closeNamespaceWorkers();
}

/**
 * Copies `path` from inside a target to `dest` on the host, with `docker cp`'s rules: a
 * directory is copied recursively; into an existing directory it goes under its own name,
 * `path/.` copies the contents; modes, mtimes, symlinks (as links), hard links, sparse
 * files and xattrs are kept. Owners: the caller's, or with `archive` the target's (as ids
 * inside the target). Nothing runs in the target; its symlinks and `..` stay inside it.
 *
 * @param target a PID or a pinned process (`resolveContainer()` gives one)
 * @param path the path inside the target (relative paths start at its `/`)
 * @param dest the host path
 * @param options archive, followLink, signal (device nodes are never made on the host)
 * @returns when the copy is complete
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} "Cannot copy …: reason" for a missing path, a FIFO or device as
 * the source, a directory onto a file, and the like
 *
 * @example
 * ```ts
 * import { copyFrom } from "@nsjoin/nsjoin";
 * // Our own PID stands in for a container's.
 * const dir = await Deno.makeTempDir();
 * await copyFrom(Deno.pid, "/etc/hostname", `${dir}/hostname`);
 * if (Deno.readTextFileSync(`${dir}/hostname`) !== Deno.readTextFileSync("/etc/hostname")) {
 *   throw new Error("copy differs");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function copyFrom(
  target: CopyTarget,
  path: string,
  dest: string,
  options?: Omit<CopyOptions, "devices">,
): Promise<void> {
  _later ??= await import("./_later.ts");
  await _later.copyFrom(target, path, dest, options);
}

/**
 * Copies `src` from the host to `path` inside a target, with `docker cp`'s rules (see
 * {@link copyFrom}). Files are created inside the target relative to directory fds the
 * kernel resolved within its root, never through a path it could redirect. Owners: the
 * target's root (uid 0 inside, mapped through its user namespace), or with `archive` the
 * source's ids, mapped the same way.
 *
 * @param target a PID or a pinned process
 * @param src the host path
 * @param path the destination inside the target
 * @param options archive, devices, followLink, signal
 * @returns when the copy is complete
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} "Cannot copy …: reason"
 *
 * @example
 * ```ts
 * import { copyTo } from "@nsjoin/nsjoin";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/a.txt`, "hello");
 * await copyTo(Deno.pid, `${dir}/a.txt`, `${dir}/b.txt`);
 * if (Deno.readTextFileSync(`${dir}/b.txt`) !== "hello") throw new Error("copy differs");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function copyTo(
  target: CopyTarget,
  src: string,
  path: string,
  options?: CopyOptions,
): Promise<void> {
  _later ??= await import("./_later.ts");
  await _later.copyTo(target, src, path, options);
}

/**
 * `path` inside a target as a tar stream (what `docker cp CONTAINER:PATH -` writes): the
 * entry and everything under it, named from its last component (`path/.`: its contents,
 * as `./…`). Owners are ids inside the target. Read lazily: memory stays flat whatever
 * the size.
 *
 * @param target a PID or a pinned process
 * @param path the path inside the target
 * @param options followLink, signal
 * @returns the tar stream; it errors if the copy fails midway
 * @throws {NamespaceError} when the target is gone or its root cannot be opened
 * @throws {SyscallError} when `path` cannot be opened — at the first call of a process,
 *   before nsjoin's copy code is loaded, these arrive as the stream's error instead
 *
 * @example
 * ```ts
 * import { tarFrom } from "@nsjoin/nsjoin";
 * const bytes = new Uint8Array(await new Response(tarFrom(Deno.pid, "/etc/hostname")).arrayBuffer());
 * if (new TextDecoder().decode(bytes.subarray(0, 8)) !== "hostname") throw new Error("bad tar");
 * ```
 */
export function tarFrom(
  target: CopyTarget,
  path: string,
  options?: Omit<CopyOptions, "archive" | "devices">,
): ReadableStream<Uint8Array> {
  if (_later) return _later.tarFrom(target, path, options);
  const pipe = new TransformStream<Uint8Array, Uint8Array>();
  import("./_later.ts")
    .then((later) => (_later = later).tarFrom(target, path, options))
    // pipeTo errors or closes the returned stream itself, and cancels the tar when it is.
    .then((tar) => tar.pipeTo(pipe.writable), (error) => pipe.writable.abort(error))
    .catch(() => {});
  return pipe.readable;
}

/**
 * Extracts a tar stream into directory `path` inside a target (what
 * `docker cp - CONTAINER:PATH` does). `path` must be an existing directory. Entry names
 * are kept below it: an absolute name is taken as relative, a `..` component is refused,
 * and no symlink inside the target (nor one the archive made) is followed on the way.
 *
 * @param target a PID or a pinned process
 * @param path an existing directory inside the target
 * @param stream the tar stream
 * @param options archive (keep the archive's owners, mapped; otherwise the target's root),
 * devices (make its device nodes), signal
 * @returns when every entry is written
 * @throws {SyscallError} "Cannot extract …: reason"
 *
 * @example
 * ```ts
 * import { tarFrom, tarTo } from "@nsjoin/nsjoin";
 * const dir = await Deno.makeTempDir();
 * await tarTo(Deno.pid, dir, tarFrom(Deno.pid, "/etc/hostname"));
 * if (Deno.readTextFileSync(`${dir}/hostname`) !== Deno.readTextFileSync("/etc/hostname")) {
 *   throw new Error("copy differs");
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function tarTo(
  target: CopyTarget,
  path: string,
  stream: ReadableStream<Uint8Array>,
  options?: Omit<CopyOptions, "followLink">,
): Promise<void> {
  _later ??= await import("./_later.ts");
  await _later.tarTo(target, path, stream, options);
}

/**
 * Forwards a local port to a port inside a target's network namespace. Each accepted TCP
 * connection gets its own connection inside (made by the calling thread while joined, so
 * nothing runs in the target); data flows both ways with half-close passed on. With
 * `protocol: "udp"`, each client address gets its own socket inside. Works for anything
 * with a net namespace: a container, a PID, a namespace file, `netns:NAME`.
 *
 * A connection that cannot be made inside (nothing listening) is closed at once; the
 * listener stays up. When a process target exits, every connection and the listener are
 * closed and `done` rejects.
 *
 * @param target a PID, a pinned process or container, a namespace file or /run/netns path
 * @param options remote port, local address, protocol, signal
 * @returns the running forward, with its bound address
 * @throws {NamespaceError} when the net namespace cannot be opened or joined
 * @throws {Deno.errors.AddrInUse} when the local port is taken
 *
 * @example
 * ```ts ignore
 * import { forward, resolveContainer } from "@nsjoin/nsjoin";
 * await using fwd = await forward(await resolveContainer("web1"), { remote: 80, local: 0 });
 * const res = await fetch(`http://127.0.0.1:${fwd.local.port}/`);
 * if (!res.ok) throw new Error(`status ${res.status}`);
 * ```
 */
export async function forward(target: Target, options: ForwardOptions): Promise<Forwarding> {
  _later ??= await import("./_later.ts");
  return await _later.forward(target, options);
}

/**
 * Joins a target once and keeps a helper there that runs programs on request: each
 * `session.output(program, { args, env, cwd, stdin, signal })` then costs a fork and an
 * exec in the target, about what a local `Deno.Command` costs, and returns what
 * `NsCommand#output` returns. Every program starts as an {@link NsCommand} with the same
 * options would: the target's namespaces, cgroups, credentials, capabilities and seccomp
 * filter from its first instruction; it gets only its stdin, stdout and stderr. The helper
 * stays in the caller's pid namespace (the target never sees it) and exits when the session
 * closes, when this Deno process exits and when the target exits; a call after that throws
 * and nothing runs. Programs run one at a time, in call order.
 *
 * Needs what {@link NsCommand} needs: `--allow-ffi --allow-run --allow-env` (or `-A`), and
 * the rights the kernel asks for setns(2).
 *
 * @param target a PID, a namespace file, or a pinned process or container
 * @param options where and as whom programs run: NsCommand's options without the
 *   per-program ones (`containerExecOptions(container)` fits)
 * @returns the open session; `close()` it (or `await using`) when done
 * @throws {NamespaceError} when a join or a set-up step fails (nothing ever runs then)
 *
 * @example
 * ```ts
 * import { openSession } from "@nsjoin/nsjoin";
 * // Our own process as the target, no namespace joined; give a container's PID (and its
 * // containerExecOptions) to run inside it.
 * await using session = await openSession(Deno.pid, { namespaces: [] });
 * const { code, stdout } = await session.output("echo", { args: ["hi"] });
 * if (code !== 0 || new TextDecoder().decode(stdout) !== "hi\n") throw new Error("no echo");
 * ```
 */
export async function openSession(
  target: Target,
  options?: SessionOptions,
): Promise<ExecSession> {
  _later ??= await import("./_later.ts");
  return await _later.openSession(target, options);
}
