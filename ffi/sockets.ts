/**
 * TCP sockets as plain fds, and splice(2) between them: the data path of `forward`.
 *
 * Why not Deno.listen / Deno.connect: a Deno socket has no fd, so every byte forwarded
 * went through a read into a JS buffer and a write out of it, two copies and two promises
 * per chunk (measured: 0.36-0.49x the throughput of a direct connection). splice(2) moves
 * the data socket -> pipe -> socket inside the kernel: the pages are passed on, never
 * copied through user space, and one poll(2) loop on one thread (src/_forward_relay.ts)
 * serves every connection.
 *
 * Kernel rules relied on:
 * - A socket belongs to the network namespace of the thread that called socket(2), for
 *   good: made while the thread is joined to the target's net namespace, it connects there
 *   whatever thread uses it later. Listening sockets are made outside any join.
 * - Every socket and pipe here is O_NONBLOCK and O_CLOEXEC; splice with SPLICE_F_NONBLOCK
 *   never blocks the relay's thread, which waits only in poll(2).
 * - These calls run synchronously on the calling thread (errno is per thread); poll(2) may
 *   also wait on a pool thread, for a relay on the main thread.
 *
 * @module
 */
import { errno, errnoName, errnoText, libcSubset, SyscallError } from "./libc.ts";

function _lib() {
  return libcSubset(
    "socket",
    "bind",
    "listen",
    "accept4",
    "connect",
    "setsockopt",
    "getsockopt",
    "getsockname",
    "shutdown",
    "pipe2",
    "splice",
    "poll",
    "poll_async",
    "fcntl",
    "write",
    "read",
    "close",
    "__errno_location",
  );
}

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const IPPROTO_TCP = 6;
const TCP_NODELAY = 1;
const F_SETPIPE_SZ = 1031;
const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;

/** errno values the relay branches on. */
export const E = { AGAIN: 11, INTR: 4, INPROGRESS: 115, ADDRINUSE: 98 } as const;
/** poll(2) event bits. */
export const POLL = { IN: 1, OUT: 4, ERR: 8, HUP: 16, NVAL: 32 } as const;

function _fail(call: string, what: string, e = errno()): never {
  throw new SyscallError(call, e, `Cannot ${what}: ${errnoName(e)} (${errnoText(e)})`);
}

/** A numeric IPv4 or IPv6 address and a port, as a struct sockaddr. */
export function sockaddr(hostname: string, port: number): Uint8Array<ArrayBuffer> {
  const v4 = hostname.match(/^(\d+)\.(\d+)\.(\d+)\.(\d+)$/);
  if (v4) {
    // An octet past 255 would wrap in the byte (0.0.0.256 listened on 0.0.0.0); a leading
    // zero reads as octal elsewhere (inet_aton). Both refused, as inet_pton and isIP do.
    if (v4.slice(1).some((o) => Number(o) > 255 || (o.length > 1 && o[0] === "0"))) {
      throw new TypeError(`Cannot use ${JSON.stringify(hostname)} as an IP address`);
    }
    const b = new Uint8Array(16);
    const v = new DataView(b.buffer);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    for (let i = 0; i < 4; i++) b[4 + i] = Number(v4[i + 1]);
    return b;
  }
  const b = new Uint8Array(28);
  const v = new DataView(b.buffer);
  v.setUint16(0, AF_INET6, true);
  v.setUint16(2, port, false);
  b.set(_inet6(hostname), 8);
  return b;
}

/** The 16 bytes of an IPv6 address in text (`::1`, `fe80::1`; no embedded IPv4). */
function _inet6(text: string): Uint8Array {
  const bad = () => new TypeError(`Cannot use ${JSON.stringify(text)} as an IP address`);
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const words = (s: string) =>
    s === "" ? [] : s.split(":").map((w) => {
      if (!/^[0-9a-fA-F]{1,4}$/.test(w)) throw bad();
      return parseInt(w, 16);
    });
  const head = words(halves[0]);
  const tail = halves.length === 2 ? words(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0)) throw bad();
  const out = new Uint8Array(16);
  [...head, ...new Array(fill).fill(0), ...tail].forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

/** The address of a struct sockaddr (IPv4 or IPv6). */
export function parseSockaddr(b: Uint8Array): { hostname: string; port: number } {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const port = v.getUint16(2, false);
  if (v.getUint16(0, true) === AF_INET) return { hostname: [...b.subarray(4, 8)].join("."), port };
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push(v.getUint16(8 + 2 * i, false));
  // The longest run of two or more zero words becomes "::" (RFC 5952, as inet_ntop).
  let best = [-1, 0];
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > best[1] && j - i >= 2) best = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  const text = best[0] < 0
    ? hex(words)
    : `${hex(words.slice(0, best[0]))}::${hex(words.slice(best[0] + best[1]))}`;
  return { hostname: text, port };
}

/** A nonblocking TCP socket of the address's family, in the calling thread's net namespace. */
export function tcpSocket(hostname: string): number {
  const family = hostname.includes(":") ? AF_INET6 : AF_INET;
  const fd = _lib().socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) _fail("socket", "make a socket");
  const one = new Int32Array([1]);
  _lib().setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(one.buffer), 4);
  return fd;
}

/**
 * A listening TCP socket on a numeric address (port 0: any free port).
 *
 * @returns the fd and the bound address
 * @throws {Deno.errors.AddrInUse} when the port is taken, as Deno.listen
 */
export function tcpListen(
  hostname: string,
  port: number,
): { fd: number; addr: { hostname: string; port: number } } {
  const lib = _lib();
  const addr = sockaddr(hostname, port);
  const fd = tcpSocket(hostname);
  try {
    const one = new Int32Array([1]);
    lib.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, new Uint8Array(one.buffer), 4);
    if (lib.bind(fd, addr, addr.length) < 0) {
      const e = errno();
      if (e === E.ADDRINUSE) {
        throw new Deno.errors.AddrInUse(`Address already in use: ${hostname}:${port}`);
      }
      _fail("bind", `listen on ${hostname}:${port}`, e);
    }
    if (lib.listen(fd, 511) < 0) _fail("listen", `listen on ${hostname}:${port}`);
    const bound = new Uint8Array(28);
    const len = new Uint32Array([28]);
    if (lib.getsockname(fd, bound, new Uint8Array(len.buffer)) < 0) {
      _fail("getsockname", "read a socket's address");
    }
    return { fd, addr: parseSockaddr(bound) };
  } catch (error) {
    lib.close(fd);
    throw error;
  }
}

/** accept4(2) of a nonblocking listener: the connection and its peer, or null (none waiting). */
export function accept(
  fd: number,
): { fd: number; from: { hostname: string; port: number } } | null {
  const peer = new Uint8Array(28);
  const len = new Uint32Array([28]);
  for (;;) {
    const conn = _lib().accept4(fd, peer, new Uint8Array(len.buffer), SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (conn >= 0) {
      const one = new Int32Array([1]);
      _lib().setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, new Uint8Array(one.buffer), 4);
      return { fd: conn, from: parseSockaddr(peer) };
    }
    const e = errno();
    if (e === E.INTR) continue;
    if (e === E.AGAIN) return null;
    _fail("accept4", "accept a connection", e);
  }
}

/** Starts connecting a nonblocking socket: 0 when connected, else the errno (EINPROGRESS: wait for POLLOUT). */
export function connectStart(fd: number, addr: Uint8Array<ArrayBuffer>): number {
  return _lib().connect(fd, addr, addr.length) === 0 ? 0 : errno();
}

/** The pending error of a socket (SO_ERROR): 0 once a nonblocking connect succeeded. */
export function socketError(fd: number): number {
  const v = new Int32Array(1);
  const len = new Uint32Array([4]);
  if (
    _lib().getsockopt(
      fd,
      SOL_SOCKET,
      SO_ERROR,
      new Uint8Array(v.buffer),
      new Uint8Array(len.buffer),
    ) < 0
  ) {
    return errno();
  }
  return v[0];
}

/** shutdown(SHUT_WR): the peer reads EOF; the other direction stays open. */
export function shutdownWrite(fd: number): void {
  _lib().shutdown(fd, 1);
}

/** A nonblocking pipe, asked to hold `size` bytes (kept at the default where refused). */
export function pipe(size: number): [number, number] {
  const fds = new Int32Array(2);
  if (_lib().pipe2(new Uint8Array(fds.buffer), SOCK_NONBLOCK | SOCK_CLOEXEC) < 0) {
    _fail("pipe2", "make a pipe");
  }
  // Beyond an unprivileged user's pipe quota (fs.pipe-user-pages-soft) this fails: fine.
  _lib().fcntl(fds[1], F_SETPIPE_SZ, size);
  return [fds[0], fds[1]];
}

/** splice(2) of up to `len` bytes, nonblocking: the byte count (0: EOF), or -errno. */
export function splice(from: number, to: number, len: number): number {
  for (;;) {
    const n = Number(
      _lib().splice(from, null, to, null, BigInt(len), SPLICE_F_MOVE | SPLICE_F_NONBLOCK),
    );
    if (n >= 0) return n;
    const e = errno();
    if (e !== E.INTR) return -e;
  }
}

/**
 * Moves one byte from a socket into a pipe with read(2) and write(2): 1, 0 at EOF, or -errno.
 * For the byte splice(2) cannot take: TCP's splice stops at the urgent mark (a `MSG_OOB`
 * byte the peer sent, tcp_read_sock) and says EAGAIN for as long as the mark is next,
 * while poll(2) says readable when data follows it; read(2) steps over the urgent byte (no
 * SO_OOBINLINE: it is left out, as any read-based relay leaves it) and past the mark, and
 * splice goes on. The pipe must be empty (a 1-byte write then always fits).
 */
export function readOne(from: number, pipeWrite: number): number {
  const b = new Uint8Array(1);
  for (;;) {
    const n = _lib().read(from, b, 1n);
    if (n === 0) return 0;
    if (n < 0) {
      const e = errno();
      if (e === E.INTR) continue;
      return -e;
    }
    break;
  }
  for (;;) {
    if (_lib().write(pipeWrite, b, 1n) === 1) return 1;
    const e = errno();
    if (e !== E.INTR) return -e;
  }
}

/**
 * poll(2) over the first `count` entries of `buf`, an array of struct pollfd (8 bytes each:
 * the fd as an int32, then events and revents as int16s); -1 waits for ever. `block`: wait
 * on the calling thread (a Worker's own); otherwise on a thread of Deno's pool (nonblocking
 * FFI) so the caller's event loop goes on, and `buf` must not be touched until it resolves.
 * A failure (EINTR, ENOMEM) is retried.
 */
export async function poll(
  buf: Uint8Array<ArrayBuffer>,
  count: number,
  timeout: number,
  block: boolean,
): Promise<number> {
  for (;;) {
    const n = block
      ? _lib().poll(buf, BigInt(count), timeout)
      : await _lib().poll_async(buf, BigInt(count), timeout);
    if (n >= 0) return n;
  }
}

/** Writes one byte (the relay's wake-up pipe). */
export function poke(fd: number): void {
  _lib().write(fd, new Uint8Array(1), 1n);
}

/** Reads what a nonblocking fd holds (the wake-up pipe), ignoring errors. */
export function drain(fd: number): void {
  const buf = new Uint8Array(64);
  while (Number(_lib().read(fd, buf, 64n)) > 0) { /* keep reading */ }
}
