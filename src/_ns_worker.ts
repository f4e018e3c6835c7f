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
 * The evaluator is source text (loaded with `eval: true`), not a module file: inside a
 * target's mount namespace the host's files are not there to load.
 *
 * @module
 */
import { isMainThread, parentPort, workerData } from "node:worker_threads";
import { check, libc, SyscallError } from "../ffi/libc.ts";
import { CLONE_FLAGS } from "./namespaces.ts";

/** What to call: function source text, or a module URL whose default export is called. */
export type CallBody =
  | { kind: "fn"; source: string; arg: unknown }
  | { kind: "module"; url: string; arg: unknown };

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
  | { type: "ready" }
  | { type: "join-failed"; errno: number; syscall: string }
  | { type: "crash"; error: SerializedError };

/** `workerData.role` of the spawner. */
export const SPAWNER_ROLE = "nsjoin-mnt-spawner";

const CLONE_FS = 0x200;

/**
 * The evaluator's program. It runs as source text in a Worker, so it closes over nothing;
 * `on` and `post` adapt it to a node:worker_threads Worker or a web Worker.
 */
function _evaluator(
  on: (handler: (m: CallMessage) => void) => void,
  post: (m: ReplyMessage) => void,
): void {
  const compiled = new Map<string, (arg: unknown) => unknown>();
  const serialize = (error: unknown) =>
    error instanceof Error
      ? { name: error.name, message: error.message, stack: error.stack }
      : { name: "Error", message: `A non-Error was thrown: ${String(error)}` };
  on(async (m: CallMessage) => {
    try {
      let fn: unknown;
      if (m.kind === "fn") {
        fn = compiled.get(m.source);
        if (!fn) {
          fn = (0, eval)(`(${m.source})`);
          compiled.set(m.source, fn as (arg: unknown) => unknown);
        }
      } else {
        fn = (await import(m.url)).default;
      }
      if (typeof fn !== "function") {
        throw new TypeError(`Cannot call ${m.kind === "fn" ? "fn" : m.url}: it is not a function`);
      }
      const value = await fn(m.arg);
      post({ id: m.id, ok: true, value });
    } catch (error) {
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
    `(${_evaluator.toString()})((h) => { self.onmessage = (e) => h(e.data); }, (m) => self.postMessage(m));`,
  )
}`;

function _spawner(mntFd: number): void {
  const port = parentPort!;
  try {
    // A thread may join a mount namespace only with an fs_struct of its own (DESIGN.md fact 2).
    check("unshare", libc().unshare(CLONE_FS));
    check("setns", libc().setns(mntFd, CLONE_FLAGS.mnt));
  } catch (error) {
    if (!(error instanceof SyscallError)) throw error;
    port.postMessage({ type: "join-failed", errno: error.errno, syscall: error.syscall });
    return;
  }
  const evaluator = new globalThis.Worker(_WEB_EVALUATOR_URL, { type: "module" });
  evaluator.onmessage = (e: MessageEvent<ReplyMessage>) => port.postMessage(e.data);
  evaluator.onerror = (e: ErrorEvent) => {
    e.preventDefault();
    port.postMessage({ type: "crash", error: { name: "Error", message: e.message } });
  };
  port.on("message", (m: CallMessage) => evaluator.postMessage(m));
  port.postMessage({ type: "ready" });
}

if (!isMainThread && workerData?.role === SPAWNER_ROLE) _spawner(workerData.mntFd);
