/**
 * Port forwarding into a network namespace (kubectl port-forward's job, for any target):
 * listen on the host, and connect each accepted connection to a port on the target's
 * loopback, inside its network namespace — services bound to 127.0.0.1 in a container
 * become reachable with no published port and nothing in the container.
 *
 * The design, from DESIGN.md facts 3 and 4: a socket belongs to the network namespace of
 * the thread that creates it. TCP: the listener is a plain nonblocking socket made on the
 * host; the relay (src/_forward_relay.ts) accepts, makes each connection's socket inside
 * while the thread is joined (setns, socket, setns back: microseconds, synchronous) and
 * moves the bytes both ways with splice(2) in one poll(2) loop (ffi/sockets.ts): no byte
 * passes through JS (Deno's own sockets have no fd to splice, and copying through a
 * JS buffer gave 0.36-0.49x a direct connection's throughput). Nothing runs in the target.
 * UDP uses node:dgram, whose socket is made at bind() when the address lookup is
 * synchronous, on the main thread while joined.
 *
 * The net namespace is held by an fd while forwarding; a process target is watched, and
 * when it exits every connection is closed and `done` rejects (kubectl: "lost connection
 * to pod").
 *
 * @module
 */
import type dgram from "node:dgram";
import type { AddressInfo } from "node:net";
import { close as closeFd, O, openat2 } from "../ffi/dirfd.ts";
import { SyscallError } from "../ffi/libc.ts";
export { type ForwardedPort, parsePortSpec, type PortSpec } from "./port_spec.ts";
import type { RelayStart } from "./_forward_relay.ts";
import { NamespaceError } from "./errors.ts";
import { _port } from "./port_spec.ts";
import { scopedJoin } from "./scoped.ts";
import { PinnedProcess, pinProcess, type Target } from "./target.ts";
import { notCapable } from "./_permissions.ts";

/** Options of {@link forward}. */
export interface ForwardOptions {
  /** The port inside the target (on its loopback unless `remoteHost`). */
  remote: number;
  /**
   * Where to listen on the host: a port (0: any free one), or a hostname and port.
   * Default: the remote port on 127.0.0.1. Clients must then connect to 127.0.0.1: one that
   * looks `localhost` up may take ::1 first, where any local user may listen (the CLI
   * listens on both, with a second forward on `::1` and the same port).
   */
  local?: number | { hostname?: string; port: number };
  /**
   * The IP address inside the target to connect to. Default 127.0.0.1. Not a name: it would
   * be looked up (and the socket made) after the thread left the target's namespace.
   */
  remoteHost?: string;
  /** "tcp" (default) or "udp". */
  protocol?: "tcp" | "udp";
  /** Stops forwarding: the listener and every connection are closed. */
  signal?: AbortSignal;
  /** Called for each accepted TCP connection (the CLI prints "Handling connection for …"). */
  onConnection?: (from: Deno.NetAddr) => void;
  /**
   * How long a UDP client is remembered without traffic, in ms. Default 60 000. At most 256
   * clients are remembered at once: past that, the one idle longest is forgotten.
   */
  udpIdleTimeout?: number;
}

/** A running forward, from {@link forward}. */
export interface Forwarding extends AsyncDisposable {
  /** The bound local address (the real port when 0 was asked for). */
  readonly local: Deno.NetAddr;
  /** The target-side address. */
  readonly remote: { hostname: string; port: number };
  /** "tcp" or "udp". */
  readonly protocol: "tcp" | "udp";
  /** Resolves when forwarding is stopped; rejects (NamespaceError ESRCH) when the target exits. */
  readonly done: Promise<void>;
  /** Stops forwarding: closes the listener and every connection. Idempotent. */
  close(): Promise<void>;
}

/** The target's net namespace, held open; and the process to watch, if it is one. */
function _holdNetns(target: Target): { path: string; pinned?: PinnedProcess; close(): void } {
  let pinned: PinnedProcess | undefined;
  let own = false;
  if (typeof target === "number") {
    pinned = pinProcess(target);
    own = true;
  } else if (target instanceof PinnedProcess) pinned = target;
  const nsPath = pinned ? `/proc/${pinned.pid}/ns/net` : String(target);
  let fd: number;
  try {
    fd = openat2(-100, nsPath, O.RDONLY, 0n);
  } catch (error) {
    if (own) pinned?.close();
    if (!(error instanceof SyscallError)) throw error;
    throw new NamespaceError(`Cannot open the net namespace of ${nsPath}`, {
      errno: error.errno,
      syscall: "open",
      namespace: "net",
      target: pinned?.pid ?? nsPath,
    });
  }
  if (pinned && !pinned.alive) {
    closeFd(fd);
    if (own) pinned.close();
    throw new NamespaceError(`Cannot forward to process ${pinned.pid}: it exited`, {
      errno: 3,
      syscall: "open",
      target: pinned.pid,
    });
  }
  const path = `/proc/self/fd/${fd}`;
  // Checks the fd is a net namespace (and joinable) now rather than at the first connection.
  scopedJoin(path, ["net"])[Symbol.dispose]();
  return {
    path,
    pinned,
    close: () => {
      closeFd(fd);
      if (own) pinned?.close();
    },
  };
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
  const remote = { hostname: options.remoteHost ?? "127.0.0.1", port: options.remote };
  _port(String(remote.port), "remote", false);
  // Deno.connect makes its socket before its first await only for an address: a name is
  // looked up on another thread first, and the socket was made in our own namespace (the
  // host's loopback answered for the target's).
  // Loaded here, not at the top: see _udp.
  const { isIP } = await import("node:net");
  if (!isIP(remote.hostname)) {
    throw new TypeError(
      `Cannot forward to ${JSON.stringify(remote.hostname)}: give an IP address, not a name`,
    );
  }
  const local = typeof options.local === "object"
    ? { hostname: options.local.hostname ?? "127.0.0.1", port: options.local.port }
    : { hostname: "127.0.0.1", port: options.local ?? options.remote };
  options.signal?.throwIfAborted();
  const netns = _holdNetns(target);
  const protocol = options.protocol ?? "tcp";
  let stop: (() => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  const done = new Promise<void>((resolve, reject) => {
    stop = resolve;
    fail = reject;
  });
  let running: { addr: Deno.NetAddr; close(): Promise<void> };
  try {
    running = protocol === "udp"
      ? await _udp(netns.path, local, remote, options.udpIdleTimeout ?? 60_000)
      : await _tcp(netns.path, local, remote, options.onConnection, (e) => close(e));
  } catch (error) {
    netns.close();
    throw error;
  }
  let closed = false;
  let watch: ReturnType<typeof setInterval> | undefined;
  const close = async (error?: Error) => {
    if (closed) return done.catch(() => {});
    closed = true;
    if (watch !== undefined) clearInterval(watch);
    options.signal?.removeEventListener("abort", onAbort);
    await running.close();
    netns.close();
    if (error) fail!(error);
    else stop!();
  };
  const onAbort = () => close();
  options.signal?.addEventListener("abort", onAbort);
  if (netns.pinned) {
    const pinned = netns.pinned;
    watch = setInterval(() => {
      if (pinned.alive) return;
      close(
        new NamespaceError(`Cannot forward to process ${pinned.pid}: it exited`, {
          errno: 3,
          syscall: "connect",
          target: pinned.pid,
          quiet: true,
          hint: "lost connection to the target",
        }),
      );
    }, 200);
  }
  // Unhandled rejections of `done` would end the program: callers that never look at it
  // still see the error through close().
  done.catch(() => {});
  return {
    local: running.addr,
    remote,
    protocol,
    done,
    close: () => close(),
    [Symbol.asyncDispose]: () => close(),
  };
}

/** The most UDP clients relayed at once (each holds a socket in the target's namespace). */
const UDP_CLIENTS = 256;

/** A numeric address for `hostname` (a name is looked up as getaddrinfo does, /etc/hosts first). */
async function _numeric(hostname: string): Promise<string> {
  if (/^[0-9.]+$/.test(hostname) || hostname.includes(":")) return hostname;
  const { lookup } = await import("node:dns/promises");
  return (await lookup(hostname)).address;
}

/**
 * TCP: the listener is a plain socket made here (on the host), and the relay
 * (src/_forward_relay.ts) accepts, connects inside and splices both ways in the kernel.
 */
async function _tcp(
  netns: string,
  local: { hostname: string; port: number },
  remote: { hostname: string; port: number },
  onConnection: ((from: Deno.NetAddr) => void) | undefined,
  onError: (error: Error) => void,
): Promise<{ addr: Deno.NetAddr; close(): Promise<void> }> {
  // The sockets are made through FFI, which Deno's own net check does not see: the same
  // check as Deno.listen's, so --allow-net (or --allow-net=HOST) still decides.
  const host = local.hostname.includes(":") ? `[${local.hostname}]` : local.hostname;
  if (
    Deno.permissions.querySync({ name: "net", host: `${host}:${local.port}` }).state !== "granted"
  ) {
    throw notCapable(
      `Requires net access to "${host}:${local.port}", run again with the --allow-net flag`,
    );
  }
  // Loaded when a TCP forward starts, not with the main entry: every module a script loads
  // costs its start-up (bench/import_bench.ts).
  const [{ pipe, poke, tcpListen }, { relay }] = await Promise.all([
    import("../ffi/sockets.ts"),
    import("./_forward_relay.ts"),
  ]);
  const inside = { hostname: await _numeric(remote.hostname), port: remote.port };
  const listener = tcpListen(await _numeric(local.hostname), local.port);
  let wake: [number, number];
  try {
    wake = pipe(4096);
  } catch (error) {
    closeFd(listener.fd);
    throw error;
  }
  let closed = false;
  const start = { listen: listener.fd, wake: wake[0], netns, remote: inside };
  const fromRelay = (from: { hostname: string; port: number }) => {
    try {
      onConnection?.({ transport: "tcp", ...from });
    } catch {
      // A callback's failure (a closed stdout) must not stop the listener.
    }
  };
  const failed = (message: string) => {
    // The loop failed: its connections are closed; the forward stops with the reason.
    if (!closed) onError(new Error(`Cannot forward: ${message}`));
  };
  let worker: Worker | undefined;
  let running: Promise<void>;
  if (_workerLoads()) {
    worker = new Worker(new URL("./_forward_relay_worker.ts", import.meta.url), {
      type: "module",
    });
    const w = worker;
    running = new Promise<void>((resolve) => {
      w.onmessage = (e: MessageEvent<{ type: string; from?: Deno.NetAddr; message?: string }>) => {
        if (e.data.type === "connection") return fromRelay(e.data.from!);
        resolve();
        if (e.data.type === "error") failed(e.data.message!);
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        resolve();
        failed(`the relay failed: ${e.message}`);
      };
    });
    w.postMessage(start satisfies RelayStart);
  } else {
    running = relay({ ...start, onConnection: fromRelay }).catch((e: Error) => failed(e.message));
  }
  return {
    addr: { transport: "tcp", ...listener.addr },
    close: async () => {
      if (closed) return;
      closed = true;
      // A byte on the pipe ends the relay's poll: it closes every connection first.
      poke(wake[1]);
      await running;
      worker?.terminate();
      for (const fd of [listener.fd, ...wake]) closeFd(fd);
    },
  };
}

/**
 * Whether a Worker can load the relay's modules: from a remote package always (imports are
 * allowed), from files only with read permission for them (a Worker's module loads are
 * checked, unlike the modules the program itself imported).
 */
function _workerLoads(): boolean {
  const root = new URL("../", import.meta.url);
  if (root.protocol !== "file:") return true;
  return Deno.permissions.querySync({ name: "read", path: root }).state === "granted";
}

async function _udp(
  netns: string,
  local: { hostname: string; port: number },
  remote: { hostname: string; port: number },
  idleMs: number,
): Promise<{ addr: Deno.NetAddr; close(): Promise<void> }> {
  // Loaded here, not at the top: mod.ts imports this file, and node:dgram would bring
  // Node-compat start-up to every script that imports the main entry.
  const udp = (await import("node:dgram")).default;
  const family = local.hostname.includes(":") ? "udp6" : "udp4";
  const outside = udp.createSocket(family);
  await new Promise<void>((resolve, reject) => {
    outside.once("error", reject);
    outside.bind(local.port, local.hostname, () => {
      outside.off("error", reject);
      resolve();
    });
  });
  const clients = new Map<string, { socket: dgram.Socket; timer: ReturnType<typeof setTimeout> }>();
  // How the kernel reports the remote as a source: IPv6 in its shortest form.
  const remoteAddress = remote.hostname.includes(":")
    ? new URL(`http://[${remote.hostname}]/`).hostname.slice(1, -1)
    : remote.hostname;
  const lookup = (h: string, _o: unknown, cb: (e: null, a: string, f: number) => void) =>
    cb(null, h, h.includes(":") ? 6 : 4);
  const drop = (key: string) => {
    const c = clients.get(key);
    if (!c) return;
    clients.delete(key);
    clearTimeout(c.timer);
    c.socket.close();
  };
  const inside = (key: string, rinfo: dgram.RemoteInfo) => {
    let c = clients.get(key);
    if (c) {
      clearTimeout(c.timer);
      c.timer = setTimeout(() => drop(key), idleMs);
      // Last used goes last: the Map's first entry is the one idle longest.
      clients.delete(key);
      clients.set(key, c);
      return c.socket;
    }
    // Each source costs a socket (an fd) until it idles out, and any local user can send
    // from millions of (127.x.y.z, port) sources: past the cap the idlest client goes.
    if (clients.size >= UDP_CLIENTS) drop(clients.keys().next().value!);
    const socket = udp.createSocket({
      type: remote.hostname.includes(":") ? "udp6" : "udp4",
      // A synchronous lookup: bind() then makes the socket now, on this (joined) thread.
      lookup,
    } as dgram.SocketOptions);
    const join = scopedJoin(netns, ["net"]);
    try {
      socket.bind(0, remote.hostname.includes(":") ? "::" : "0.0.0.0");
    } finally {
      join[Symbol.dispose]();
    }
    // Bound to every address of the target, the socket takes datagrams from anyone who
    // reaches one (another container on its bridge): only the remote's go to the client.
    socket.on("message", (msg, from) => {
      if (from.port === remote.port && from.address === remoteAddress) {
        outside.send(msg, rinfo.port, rinfo.address);
      }
    });
    socket.on("error", () => drop(key));
    c = { socket, timer: setTimeout(() => drop(key), idleMs) };
    clients.set(key, c);
    return socket;
  };
  outside.on("message", (msg, rinfo) => {
    inside(`${rinfo.address}:${rinfo.port}`, rinfo).send(msg, remote.port, remote.hostname);
  });
  const a = outside.address() as AddressInfo;
  return {
    addr: { transport: "udp", hostname: a.address, port: a.port },
    close: async () => {
      for (const key of [...clients.keys()]) drop(key);
      await new Promise<void>((r) => outside.close(() => r()));
    },
  };
}
