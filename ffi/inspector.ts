/**
 * Deno (2.9.2 and later) starts a V8 inspector on 127.0.0.1:9229 when the process gets
 * SIGUSR1, as Node does, and that inspector asks no one for anything: whoever may send us
 * SIGUSR1 (root in a container that shares the host's pid namespace: it has our uid) and
 * whoever can connect to the host's loopback (any local user, or that container with the
 * host's network) then evaluate code in this process, with every permission it has —
 * root on the host, for a CLI run as root (tests/security_test.ts "stop 21"). Deno has no
 * switch to turn it off; a SIGUSR1 does nothing once an inspector is running. So one is
 * started where no one can reach it: in a network namespace of its own, made for the
 * calling thread alone.
 *
 * Kernel rules relied on: unshare(CLONE_NEWNET) and setns(CLONE_NEWNET) change the network
 * namespace of the calling thread only, and a thread created meanwhile (the inspector's
 * server) is born in it and stays there (DESIGN.md fact 3); a new network namespace has
 * only a loopback that is down, so its 127.0.0.1 answers no one, in it or outside.
 * Making a network namespace needs CAP_SYS_ADMIN: without it nothing is started (never one
 * on the host's loopback).
 *
 * @module
 */
import { libcFunction, SYMBOLS } from "./libc.ts";
import { readTextFileSafe } from "./files.ts";

const CLONE_NEWNET = 0x40000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_DUPFD_CLOEXEC = 1030;
const POLLIN = 1;

let _sealed = false;

/** The libc calls used here, as `libc()` types them. */
type _Calls = { [K in (typeof _NAMES)[number]]: Deno.UnsafeFnPointer<(typeof SYMBOLS)[K]>["call"] };
const _NAMES = [
  "open",
  "fcntl",
  "pipe2",
  "unshare",
  "dup2",
  "setns",
  "close",
  "poll",
  "read",
] as const;
let _calls: _Calls | undefined;

/**
 * The nine libc functions this needs, each bound alone (libcFunction, ~0.06 ms each):
 * binding libc's whole table (`libc()`, a fast-call trampoline per symbol) was 12-19 ms of
 * the seal, paid by every relayed exec, whose path binds nothing of it.
 */
function _libc(): _Calls {
  _calls ??= Object.fromEntries(_NAMES.map((name) => {
    const fn = libcFunction(name, SYMBOLS[name]);
    return [name, fn.call.bind(fn)];
  })) as unknown as _Calls;
  return _calls;
}

/**
 * Starts this process's inspector in a network namespace no one else is in, so that a
 * SIGUSR1 (which would start one on the host's 127.0.0.1:9229) does nothing. Its banner
 * ("Debugger listening on …"), which its server thread writes to stderr, is read off a
 * pipe and dropped. Call it before this process may live longer than half a second (Deno
 * starts listening for SIGUSR1 then) next to programs of a target that may see it.
 *
 * @returns whether the inspector is sealed (false without CAP_SYS_ADMIN, or when one
 *   already runs that this did not start)
 */
export async function sealInspector(): Promise<boolean> {
  if (_sealed) return true;
  const inspector = (await import("node:inspector")).default;
  if (inspector.url() !== undefined) return false;
  const c = _libc();
  const cstr = (s: string) => new TextEncoder().encode(s + "\0");
  const back = c.open(cstr("/proc/thread-self/ns/net"), O_RDONLY | O_CLOEXEC, 0);
  if (back < 0) return false;
  const pipe = new Int32Array(2);
  const saved = c.fcntl(2, F_DUPFD_CLOEXEC, 3);
  try {
    if (c.pipe2(pipe, O_CLOEXEC | O_NONBLOCK) < 0 || saved < 0) return false;
    if (c.unshare(CLONE_NEWNET) < 0) return false; // EPERM: not root
    c.dup2(pipe[1], 2);
    let opened = true;
    try {
      inspector.open(0, "127.0.0.1");
    } catch {
      // No --allow-net (or --allow-sys): none started, and a SIGUSR1 still opens one on the
      // host's loopback, whatever the permissions (tried) — every caller here has -A.
      opened = false;
    }
    // Back to our own namespace before anything else: this thread runs everything else.
    const returned = c.setns(back, CLONE_NEWNET) === 0;
    if (opened && !_quiet()) _dropBanner(pipe[0]);
    c.dup2(saved, 2);
    if (!returned) {
      throw new Error("Cannot return to our network namespace after sealing the inspector");
    }
    _sealed = opened;
    return opened;
  } finally {
    for (const fd of [back, saved, pipe[0], pipe[1]]) if (fd > 2) c.close(fd);
  }
}

/**
 * Whether Deno was started with `--quiet` (`-q`, alone or among other short flags: `-qA`,
 * `-Aq`) before the script: then its inspector prints no banner, and none is waited for.
 * Only Deno's own flags count, not the script's. (`-qA` read as not quiet had every relayed
 * exec wait the whole second for a banner that never came.) A letter after `-c` or `-L`,
 * which take a value, is that value.
 */
function _quiet(): boolean {
  const args = readTextFileSafe("/proc/self/cmdline", { maxBytes: 1 << 20 }).split("\0");
  const script = args.findIndex((a, i) =>
    i > 1 && !a.startsWith("-") &&
    (a === Deno.mainModule || Deno.mainModule.endsWith(a.replace(/^\.\//, "/")) ||
      Deno.mainModule.endsWith(`/${a}`))
  );
  return args.slice(1, script < 0 ? args.length : script).some((a) =>
    a === "--quiet" || /^-[A-Za-z]*$/.test(a) && /^-[^cL]*q/.test(a)
  );
}

/**
 * Reads the inspector's two-line banner off `fd`, which its server thread writes once it
 * listens (within ~1 ms; at most 1 s is waited).
 */
function _dropBanner(fd: number): void {
  const c = _libc();
  const pfd = new Int32Array([fd, POLLIN]); // struct pollfd: int fd; short events, revents
  const buf = new Uint8Array(4096);
  let text = "";
  const end = Date.now() + 1000;
  while (!text.includes("debugger.\n") && Date.now() < end) {
    if (c.poll(pfd, 1n, 100) <= 0) continue;
    const n = Number(c.read(fd, buf, BigInt(buf.length)));
    if (n <= 0) continue;
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
}
