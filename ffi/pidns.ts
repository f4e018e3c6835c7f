/**
 * Spawning straight into a target's pid namespace: the calling thread joins it with
 * setns(CLONE_NEWPID), which only changes where its *children* are born
 * (pid_for_children), spawns, and goes back at once. It saves the helper a fork.
 *
 * Kernel and Deno rules this relies on (DESIGN.md facts 2, 3): a thread whose
 * pid_for_children is a foreign namespace cannot create threads (clone EINVAL), so only
 * the synchronous spawn() of Deno.Command runs in between — it runs on the calling thread
 * and creates no thread; setns is never `nonblocking`.
 *
 * @module
 */
import { cstr, libc, O_CLOEXEC, O_RDONLY } from "./libc.ts";

const CLONE_NEWPID = 0x20000000;
let _home = -1;

/**
 * Runs `spawn` with the calling thread's pid_for_children set to the pid namespace of
 * `pid`. Returns undefined without calling `spawn` when the kernel refuses the join (an
 * unprivileged caller): the caller then lets the helper fork instead.
 */
export function spawnInPidNamespace<T>(pid: number, spawn: () => T): T | undefined {
  const lib = libc();
  // Our own active pid namespace, to come back to; opened once, close-on-exec.
  if (_home < 0) _home = lib.open(cstr("/proc/thread-self/ns/pid"), O_RDONLY | O_CLOEXEC, 0);
  if (_home < 0) return undefined;
  const fd = lib.open(cstr(`/proc/${pid}/ns/pid`), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) return undefined;
  if (lib.setns(fd, CLONE_NEWPID) !== 0) {
    lib.close(fd);
    return undefined;
  }
  let child: T | undefined;
  let failure: { error: unknown } | undefined;
  try {
    child = spawn();
  } catch (error) {
    failure = { error };
  }
  // Going back to our own active pid namespace is always permitted; if it ever were not,
  // this thread could never create a thread again: stop loudly.
  const back = lib.setns(_home, CLONE_NEWPID);
  lib.close(fd);
  if (back !== 0) throw new Error("Cannot return to our own pid namespace after spawning");
  if (failure) throw failure.error;
  return child;
}
