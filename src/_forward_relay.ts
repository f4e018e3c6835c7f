/**
 * The TCP relay of `forward` (src/forward.ts): one poll(2) loop that accepts on the host-side listener, connects each connection to the port inside the
 * target's net namespace, and moves the bytes both ways with splice(2) through a pipe per
 * direction (ffi/sockets.ts) — no byte passes through JS, and nothing waits on a promise
 * per chunk. Half-close is passed on (EOF one way: shutdown(SHUT_WR) of the other socket,
 * the other way goes on); an error either way (a reset) closes both sockets.
 *
 * Where it runs (src/forward.ts chooses): in a Worker of its own (src/_forward_relay_worker.ts),
 * whose thread waits in poll(2) itself — one wake-up per event; or, when a Worker cannot load
 * its module (no read permission for nsjoin's files), on the caller's thread with poll(2)
 * waiting on a pool thread (nonblocking FFI) — a second wake-up per event, ~+0.1 ms a round
 * trip. Everything else — accept, connect, splice, all nonblocking — runs synchronously in
 * between. The socket inside is made while the thread is joined to the target's net
 * namespace (scopedJoin: setns there, socket(2), setns back, synchronous), so it belongs to
 * the target for good and nothing runs in the target.
 *
 * @module
 */
import { close } from "../ffi/dirfd.ts";
import {
  accept,
  connectStart,
  drain,
  E,
  pipe,
  POLL,
  poll,
  readOne,
  shutdownWrite,
  sockaddr,
  socketError,
  splice,
  tcpSocket,
} from "../ffi/sockets.ts";
import { SyscallError } from "../ffi/libc.ts";
import { scopedJoin } from "./scoped.ts";

/** What the relay is given. */
export interface RelayStart {
  /** The listening socket (nonblocking), on the host. */
  listen: number;
  /** The read end of the wake-up pipe: a byte there stops the relay. */
  wake: number;
  /** The target's net namespace, as a path (/proc/self/fd/N of a held fd). */
  netns: string;
  /** The numeric address and port inside. */
  remote: { hostname: string; port: number };
  /** Called with each accepted connection's peer. */
  onConnection?: (from: { hostname: string; port: number }) => void;
  /** Wait in poll(2) on this thread (a Worker's), not on a pool thread. */
  block?: boolean;
}

/** Bytes a pipe holds, and the most one splice moves. */
const PIPE_SIZE = 1 << 20;
/**
 * What all pipes together may hold before each is held to {@link PIPE_SMALL}: pipe pages are
 * kernel memory outside the socket limits (tcp_mem), and root's pipes are outside the pipe
 * quota. Every local user can connect to the listener: 2000 connections whose client did
 * not read pinned 1 MiB each.
 */
const PIPE_BUDGET = 64 << 20;
/** What a pipe may hold once the budget is spent (a pipe's default capacity). */
const PIPE_SMALL = 64 << 10;
/** Splices per direction before the loop looks at the other connections. */
const BURST = 16;
/** How long accepting pauses when the process is out of fds or memory (ms). */
const ACCEPT_PAUSE = 100;
/** accept4 errors that concern one connection only: ECONNABORTED, EPROTO, EPERM. */
const ONE_CONNECTION = [103, 71, 1];

/** One direction: from -> pipe -> to. */
interface _Way {
  from: number;
  to: number;
  pr: number;
  pw: number;
  /** Bytes in the pipe, not yet sent on. */
  pending: number;
  /**
   * The pipe took no more although it holds less than PIPE_SIZE: its slots are full (one
   * per spliced segment, however small, or F_SETPIPE_SZ was refused). `from` is not polled
   * until some bytes went on: it stays readable, and poll would return at once, for ever.
   */
  full: boolean;
  /** `from` said EOF. */
  eof: boolean;
  /** EOF passed on (shutdown of `to`): this way is finished. */
  done: boolean;
}

interface _Conn {
  outside: number;
  inside: number;
  /** A nonblocking connect inside in progress. */
  connecting: boolean;
  ways: _Way[];
}

function _way(from: number, to: number): _Way {
  const [pr, pw] = pipe(PIPE_SIZE);
  return { from, to, pr, pw, pending: 0, full: false, eof: false, done: false };
}

/** Bytes held in every pipe of the relay (see {@link PIPE_BUDGET}). */
interface _Held {
  bytes: number;
}

/** How many more bytes a way's pipe may take now. */
function _room(w: _Way, held: _Held): number {
  return (held.bytes < PIPE_BUDGET ? PIPE_SIZE : PIPE_SMALL) - w.pending;
}

function _closeConn(c: _Conn, held: _Held): void {
  for (const w of c.ways) {
    held.bytes -= w.pending;
    w.pending = 0;
    close(w.pr);
    close(w.pw);
  }
  close(c.outside);
  close(c.inside);
}

/**
 * Moves what can be moved now, both ends at once: the pipe is read from `from` while it
 * has room and written to `to` while it holds bytes, so neither socket waits for the other
 * to drain. `readable`: poll(2) said `from` is. False when the connection failed (a reset,
 * EPIPE).
 */
function _pump(w: _Way, held: _Held, readable: boolean): boolean {
  for (let i = 0; i < BURST && !w.done; i++) {
    let moved = false;
    const room = _room(w, held);
    if (!w.eof && !w.full && room > 0) {
      let n = splice(w.from, w.pw, room);
      // Readable, yet splice takes nothing into an empty pipe: the urgent mark (a MSG_OOB
      // byte) is next, where TCP's splice stops for good. The peer (the target's server, or
      // any local client) had the loop spin a core for as long as it kept the connection,
      // and the bytes after the mark never went on: read(2) steps over it.
      if (n === -E.AGAIN && i === 0 && readable && w.pending === 0) n = readOne(w.from, w.pw);
      if (n < 0 && n !== -E.AGAIN) return false;
      // With bytes in the pipe EAGAIN may mean it is full: wait until some went on.
      if (n === -E.AGAIN && w.pending > 0) w.full = true;
      if (n === 0) w.eof = true;
      if (n >= 0) {
        w.pending += n;
        held.bytes += n;
        moved = true;
      }
    }
    if (w.pending > 0) {
      const m = splice(w.pr, w.to, w.pending);
      if (m < 0 && m !== -E.AGAIN) return false;
      if (m > 0) {
        w.pending -= m;
        held.bytes -= m;
        w.full = false;
        moved = true;
      }
    }
    if (w.eof && w.pending === 0) {
      shutdownWrite(w.to);
      w.done = true;
    }
    if (!moved) break;
  }
  return true;
}

/**
 * Runs the relay until a byte arrives on the wake-up pipe; every connection is closed then,
 * and when the loop fails (the promise rejects).
 */
export async function relay(start: RelayStart): Promise<void> {
  const conns = new Set<_Conn>();
  const held: _Held = { bytes: 0 };
  const remote = sockaddr(start.remote.hostname, start.remote.port);
  let buf = new Uint8Array(8 * 64);
  // What each poll entry is: the wake pipe, the listener, or a connection (and which way).
  let owners: (_Conn | null)[] = [];
  /** While out of fds (EMFILE) the listener stays readable: it is left out of poll a while. */
  let pausedUntil = 0;
  try {
    for (;;) {
      // Level-triggered interest: per way, the socket to read while its pipe has room, and
      // the socket to write while the pipe holds bytes; a connect in progress waits to be
      // writable.
      const pause = pausedUntil - Date.now();
      // poll(2) skips a negative fd: the listener's place is kept while accepting pauses.
      const entries: [number, number, _Conn | null][] = [
        [start.wake, POLL.IN, null],
        [pause > 0 ? -1 : start.listen, POLL.IN, null],
      ];
      for (const c of conns) {
        if (c.connecting) {
          entries.push([c.inside, POLL.OUT, c]);
          continue;
        }
        for (const w of c.ways) {
          if (w.done) continue;
          if (!w.eof && !w.full && _room(w, held) > 0) entries.push([w.from, POLL.IN, c]);
          if (w.pending > 0) entries.push([w.to, POLL.OUT, c]);
        }
      }
      if (buf.length < entries.length * 8) buf = new Uint8Array(entries.length * 16);
      const fds = new Int32Array(buf.buffer);
      const ev = new Int16Array(buf.buffer);
      owners = [];
      entries.forEach(([fd, events, c], i) => {
        fds[2 * i] = fd;
        ev[4 * i + 2] = events;
        ev[4 * i + 3] = 0;
        owners.push(c);
      });
      await poll(buf, entries.length, pause > 0 ? pause : -1, start.block ?? false);
      if (ev[3] !== 0) {
        drain(start.wake);
        return;
      }
      if (ev[7] !== 0 && !_accept(start, remote, conns, held)) {
        pausedUntil = Date.now() + ACCEPT_PAUSE;
      }
      const ready = new Set<_Conn>();
      const readable = new Set<number>();
      for (let i = 2; i < entries.length; i++) {
        const revents = ev[4 * i + 3];
        if (revents === 0) continue;
        ready.add(owners[i]!);
        if (entries[i][1] === POLL.IN && (revents & POLL.IN) !== 0) readable.add(entries[i][0]);
      }
      for (const c of ready) _step(c, conns, held, readable);
    }
  } finally {
    for (const c of conns) _closeConn(c, held);
    conns.clear();
  }
}

/**
 * Accepts every waiting connection and starts its connect inside; false when accepting must
 * pause (out of fds or memory: the waiting connections stay queued in the kernel).
 */
function _accept(
  start: RelayStart,
  remote: Uint8Array<ArrayBuffer>,
  conns: Set<_Conn>,
  held: _Held,
): boolean {
  for (;;) {
    let got: ReturnType<typeof accept>;
    try {
      got = accept(start.listen);
    } catch (error) {
      if (error instanceof SyscallError && ONE_CONNECTION.includes(error.errno)) continue;
      return false;
    }
    if (!got) return true;
    try {
      start.onConnection?.(got.from);
    } catch {
      // A callback's failure (a closed stdout) must not stop the relay.
    }
    let inside = -1;
    try {
      const join = scopedJoin(start.netns, ["net"]);
      try {
        inside = tcpSocket(start.remote.hostname);
      } finally {
        join[Symbol.dispose]();
      }
    } catch {
      // The namespace cannot be joined any more (the target is going away): this
      // connection is closed; the main thread's watch stops the relay.
      close(got.fd);
      continue;
    }
    const e = connectStart(inside, remote);
    if (e !== 0 && e !== E.INPROGRESS) {
      // Nothing listening inside: that connection is closed, the listener stays.
      close(inside);
      close(got.fd);
      continue;
    }
    const c: _Conn = { outside: got.fd, inside, connecting: e !== 0, ways: [] };
    conns.add(c);
    if (!c.connecting) _connected(c, conns, held);
  }
}

function _connected(c: _Conn, conns: Set<_Conn>, held: _Held): void {
  c.connecting = false;
  try {
    // One at a time: if the second pipe fails (EMFILE), the first is in `ways` to be closed.
    c.ways.push(_way(c.outside, c.inside));
    c.ways.push(_way(c.inside, c.outside));
  } catch {
    conns.delete(c);
    _closeConn(c, held); // out of fds: that connection is closed
  }
}

function _step(c: _Conn, conns: Set<_Conn>, held: _Held, readable: Set<number>): void {
  if (c.connecting) {
    if (socketError(c.inside) !== 0) {
      conns.delete(c);
      _closeConn(c, held);
      return;
    }
    _connected(c, conns, held);
    if (!conns.has(c)) return;
  }
  for (const w of c.ways) {
    if (!_pump(w, held, readable.has(w.from))) {
      conns.delete(c);
      _closeConn(c, held);
      return;
    }
  }
  if (c.ways.every((w) => w.done)) {
    conns.delete(c);
    _closeConn(c, held);
  }
}
