/**
 * The sealed evaluator's own process: `inNamespaces()` with mnt runs its spawner (and so
 * the evaluator) in a child `deno` process, started on the host, never in root's own.
 *
 * Why a process: glibc reads some files once per process under one process-wide lock — its
 * resolver parses /etc/resolv.conf holding the lock every `getaddrinfo` takes
 * (resolv/resolv_conf.c, "Parse configuration while holding the lock"). A thread whose root
 * is a target's reads the target's file there: a FIFO (or a FUSE file whose read never
 * returns) kept the lock for ever, and every later name lookup of root's process — on the
 * host too — waited on it; a huge file grew root's memory under it (docs/security.md, stop
 * 25, "Open"). In a process of its own that lock is the child's: the caller's timeout or
 * abort kills the process, and the lock dies with it.
 *
 * The child does what the caller did in-process before: it loads the host's NSS modules
 * and time zone (on the host: the child's main thread never joins), reopens the caller's
 * fds of the target's mount namespace and of the host's root through /proc/CALLER/fd (the
 * very namespace the caller pinned, kept open by the caller until the child is ready), and
 * starts the spawner Worker of `_ns_worker.ts`, which unshares, freezes NSS, installs the
 * exec filter, joins, chroots and starts the evaluator. Namespaces the caller's thread
 * joined around the spawn (net, uts, ipc, cgroup) are the whole child's: a process is
 * born in those of the thread that spawns it.
 *
 * Calls and replies cross two pipes (the child's fds 3 and 4, so that fn's console and
 * stdin stay the caller's) as node:v8 serialize frames (a 4-byte little-endian length,
 * then the bytes): the same structured-clone serializer as postMessage, without
 * transferables or SharedArrayBuffer. The child exits when its fd 3 ends (the caller
 * closed it, or died).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import type { ChildProcess } from "node:child_process";
import { deserialize, serialize } from "node:v8";
import { check, cstr, libc, O_CLOEXEC, O_RDONLY } from "../ffi/libc.ts";
import type { CallMessage, ReplyMessage } from "./_ns_worker.ts";

/** The child's program (run as the main module of `deno run`). */
const _CHILD = new URL("./_ns_process.ts", import.meta.url);

let _cached: Promise<void> | undefined;

/**
 * Makes sure the child's code is in Deno's cache, fetched by a `deno cache` started from
 * the caller's thread on the host, for nsjoin loaded from a remote URL (https:, http:, a
 * registry's). The child runs with `--cached-only`: it is born in the namespaces the
 * caller's thread joined, net among them, and fetched its modules there — from an http:
 * URL, a target that served its own `src/_ns_process.ts` on that address of its network
 * had it run as root with every permission, on the host (tests/security_test.ts "stop 26:
 * sealed process attacked"). Once per process; nothing to do for file: URLs.
 */
export function cacheChildCode(): Promise<void> {
  if (_CHILD.protocol === "file:") return Promise.resolve();
  _cached ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["cache", "--quiet", "--no-config", "--no-lock", _CHILD.href],
      cwd: "/",
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    if (out.success) return;
    _cached = undefined;
    const why = new TextDecoder().decode(out.stderr).trim().split("\n")[0].replace(/^error: /, "");
    throw new Error(
      `Cannot start the evaluator for the target's mount namespace: its code cannot be fetched on the host (${why})`,
    );
  })();
  return _cached;
}

/** What the caller sends first: where to find the fds the child reopens. */
interface _Init {
  type: "init";
  pid: number;
  mntFd: number;
  hostRootFd: number;
}

/**
 * Splits a byte stream into frames; calls `on` with each deserialized message. Chunks are
 * kept in a list and joined once a frame is whole: joining at every chunk copied the frame
 * so far each time, quadratic in its size (a 64 MB result took 30 s and 1.2 GB).
 */
function _frames(on: (message: unknown) => void): (chunk: Uint8Array | string) => void {
  let chunks: Buffer[] = [];
  let size = 0;
  return (chunk) => {
    if (typeof chunk === "string") throw new TypeError("Cannot read a frame: the pipe gave text");
    // A copy: the stream may reuse the memory behind a chunk it gave.
    chunks.push(Buffer.from(chunk));
    size += chunk.byteLength;
    while (size >= 4) {
      if (chunks[0].length < 4) chunks = [Buffer.concat(chunks)];
      const length = chunks[0].readUInt32LE(0);
      if (size < 4 + length) break;
      const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      const rest = all.subarray(4 + length);
      chunks = rest.length > 0 ? [rest] : [];
      size = rest.length;
      on(deserialize(all.subarray(4, 4 + length)));
    }
  };
}

/** One message as a frame. */
function _frame(message: unknown): Buffer {
  const body = serialize(message);
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  return Buffer.concat([head, body]);
}

/**
 * The caller's side: a child process that looks like the node:worker_threads Worker
 * `inNamespaces` used before (postMessage, ref/unref, terminate; "message", "error" and
 * "exit" events).
 */
export class SealedProcess extends EventEmitter {
  #child: ChildProcess;
  #exited: Promise<void>;
  #gone = false;

  /**
   * Starts the child on the calling thread (which is then in the namespaces it joined).
   *
   * @param spawn node:child_process's spawn
   * @param mntFd our fd of the target's mount namespace (kept open until "ready")
   * @param hostRootFd our fd of the host's root (likewise)
   */
  constructor(
    spawn: typeof import("node:child_process").spawn,
    mntFd: number,
    hostRootFd: number,
  ) {
    super();
    // -A: what the evaluator did in our process it does in its own (Workers inherited our
    // permissions, and ours included --allow-ffi, which Deno documents as a full escape).
    // Nothing of the caller's in its argv (world-readable /proc/PID/cmdline): the fds come
    // over the pipe.
    this.#child = spawn(
      Deno.execPath(),
      [
        "run",
        "-A",
        "--no-config",
        "--no-lock",
        "--cached-only",
        "--quiet",
        "--no-prompt",
        _CHILD.href,
      ],
      { cwd: "/", stdio: ["inherit", "inherit", "inherit", "pipe", "pipe"] },
    );
    this.#exited = new Promise((resolve) => {
      this.#child.once("exit", () => {
        this.#gone = true;
        resolve();
        this.emit("exit");
      });
    });
    this.#child.once("error", (error) => this.emit("error", error));
    const replies = this.#child.stdio[4]!;
    replies.on("data", _frames((m) => this.emit("message", m)));
    // A write to a child that died is an exit, reported there.
    this.#child.stdio[3]!.on("error", () => {});
    this.postMessage({ type: "init", pid: Deno.pid, mntFd, hostRootFd } satisfies _Init);
  }

  /** Sends a message (a call). */
  postMessage(message: unknown): void {
    (this.#child.stdio[3] as import("node:stream").Writable).write(_frame(message));
  }

  /** Keeps the caller's event loop alive while a call is in flight. */
  ref(): void {
    this.#child.ref();
    for (const pipe of [this.#child.stdio[3], this.#child.stdio[4]]) {
      (pipe as unknown as { ref?(): void }).ref?.();
    }
  }

  /** Lets the caller exit while the process is idle. */
  unref(): void {
    this.#child.unref();
    for (const pipe of [this.#child.stdio[3], this.#child.stdio[4]]) {
      (pipe as unknown as { unref?(): void }).unref?.();
    }
  }

  /** Kills the process (SIGKILL: a call stuck anywhere in it dies with it). */
  async terminate(): Promise<void> {
    // An idle process is unref'd: the caller's loop must wait for its exit all the same.
    this.ref();
    if (!this.#gone) this.#child.kill("SIGKILL");
    this.#child.stdio[3]!.destroy();
    await this.#exited;
  }
}

/**
 * Closes what the caller's process inherited without close-on-exec (a shell's `5<file`, a
 * service manager's socket), which Deno's spawn passed on to us: fn runs in the target's
 * mount namespace, where `/proc/self/fd/N` — fn's own path, or a target's symlink fn follows —
 * reached them (tests/security_test.ts "stop 26: sealed process attacked"). Ours are 0-2 and
 * the pipes 3 and 4; Deno's own fds are close-on-exec but one (`/dev/null`, which it opened
 * before this runs and has no use for).
 */
function _closeInherited(): void {
  const F_GETFD = 1;
  const FD_CLOEXEC = 1;
  for (const entry of [...Deno.readDirSync("/proc/self/fd")]) {
    const fd = Number(entry.name);
    if (fd < 5) continue;
    const flags = libc().fcntl(fd, F_GETFD, 0);
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) libc().close(fd);
  }
}

/** The child: relays frames between the pipes and the spawner Worker. */
async function _child(): Promise<void> {
  _closeInherited();
  const fs = await import("node:fs");
  const { Worker } = await import("node:worker_threads");
  const { loadHostNss } = await import("../ffi/nss.ts");
  const { SPAWNER_ROLE } = await import("./_ns_worker.ts");
  const out = fs.createWriteStream("", { fd: 4 });
  const send = (m: ReplyMessage) => out.write(_frame(m));
  const input = fs.createReadStream("", { fd: 3 });
  // The caller closed the pipe or died: nothing of ours may outlive it.
  input.on("end", () => Deno.exit(0));
  input.on("error", () => Deno.exit(0));
  let worker: InstanceType<typeof Worker> | undefined;
  const fds: number[] = [];
  const closeFds = () => {
    for (const fd of fds.splice(0)) libc().close(fd);
  };
  const waiting: CallMessage[] = [];
  input.on(
    "data",
    _frames((m) => {
      const message = m as _Init | CallMessage;
      if ("type" in message) {
        // Reopened through the caller's fds: the namespace it pinned, not one found again
        // by PID. The caller keeps its own open until "ready" (or the child exited).
        const reopen = (fd: number) =>
          check(
            "open",
            libc().open(cstr(`/proc/${message.pid}/fd/${fd}`), O_RDONLY | O_CLOEXEC, 0),
          );
        let mntFd: number, hostRootFd: number;
        try {
          mntFd = reopen(message.mntFd);
          fds.push(mntFd);
          hostRootFd = reopen(message.hostRootFd);
          fds.push(hostRootFd);
          // Read here, on the host, before a thread of this process is in the target
          // (ffi/nss.ts, and in_namespaces.ts for the time zone).
          loadHostNss();
          new Date(0).getTimezoneOffset();
        } catch (error) {
          const e = error as { errno?: number; syscall?: string };
          send({ type: "join-failed", errno: e.errno ?? 0, syscall: e.syscall ?? "open" });
          closeFds();
          return;
        }
        try {
          // Deno loads its TLS root store once per process, on the first TLS use of any
          // thread, and does not remember a failed load: a CA file the host lacks
          // (DENO_CERT, SSL_CERT_FILE) would be read from the target's files by fn's first
          // TLS use (tests/security_test.ts "stop 26"). Loaded here, on the host, or refused.
          Deno.createHttpClient({}).close();
        } catch (error) {
          send({
            type: "crash",
            error: {
              name: "Error",
              message:
                `Cannot start fn in the target's mount namespace: the TLS root store cannot be loaded from the host's files (${
                  (error as Error).message
                }), and TLS in fn would load it from the target's - fix DENO_CERT or SSL_CERT_FILE`,
            },
          });
          closeFds();
          return;
        }
        // node:worker_threads takes file: and data: URLs only: from a remote copy of nsjoin
        // (a registry's), a data: module that imports the spawner (from the cache: the
        // process runs with --cached-only).
        const spawner = new URL("./_ns_worker.ts", import.meta.url);
        worker = new Worker(
          spawner.protocol === "file:" ? spawner : new URL(
            `data:text/javascript,${encodeURIComponent(`import ${JSON.stringify(spawner.href)};`)}`,
          ),
          {
            workerData: { role: SPAWNER_ROLE, mntFd, hostRootFd },
          },
        );
        worker.on("message", (r: ReplyMessage) => {
          if ("type" in r && r.type === "opened") {
            fds.push(r.fd);
            return;
          }
          if ("type" in r && (r.type === "ready" || r.type === "join-failed")) closeFds();
          try {
            send(r);
          } catch (error) {
            if (!("id" in r)) throw error;
            send({
              id: r.id,
              ok: false,
              error: {
                name: "DataCloneError",
                message: `Cannot send fn's result back: ${(error as Error).message}`,
              },
            });
          }
        });
        worker.on("error", (error: Error) => {
          send({ type: "crash", error: { name: error.name, message: error.message } });
        });
        worker.on("exit", () => out.end(() => Deno.exit(0)));
        for (const w of waiting.splice(0)) worker.postMessage(w);
        return;
      }
      if (worker) worker.postMessage(message);
      else waiting.push(message);
    }),
  );
}

if (import.meta.main) await _child();
