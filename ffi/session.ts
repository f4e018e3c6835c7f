/**
 * The caller's side of an exec session's wire (ffi/helper.c option `L`): a SOCK_SEQPACKET
 * socketpair, one message per request or reply, and the pipes a request hands over with
 * SCM_RIGHTS.
 *
 * Kernel rules relied on:
 * - SOCK_SEQPACKET keeps message boundaries: one sendmsg is one recvmsg on the other side,
 *   so neither side parses a stream; a message larger than the socket's send buffer is
 *   refused whole (EMSGSIZE), never cut.
 * - Fds passed with SCM_RIGHTS are new fds of the receiver (the helper takes them
 *   close-on-exec); ours stay ours and are closed here right after the send.
 * - Every fd made here is O_CLOEXEC: a helper or program spawned meanwhile by another
 *   caller never inherits one. Our ends of the pipes are O_NONBLOCK, the program's are not
 *   (a program writing to a nonblocking stdout would see EAGAIN).
 * - Only poll(2) waits, on a thread of Deno's pool (nonblocking FFI) so the event loop goes
 *   on; the reads and writes after it never block and run on the calling thread (errno).
 *
 * @module
 */
import { errno, libcSubset } from "./libc.ts";

function _lib() {
  return libcSubset(
    "socketpair",
    "sendmsg",
    "recv",
    "pipe2",
    "poll_async",
    "fcntl",
    "read",
    "write",
    "close",
    "shutdown",
    "open",
  );
}

const AF_UNIX = 1;
const SOCK_SEQPACKET = 5;
const O_CLOEXEC = 0o2000000;
const O_NONBLOCK = 0o4000;
const F_SETFD = 2;
const F_GETFL = 3;
const F_SETFL = 4;
const FD_CLOEXEC = 1;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const EINTR = 4;
const EAGAIN = 11;

/** Largest request the helper takes (ffi/helper.c SESSION_MAX). */
export const SESSION_MAX_REQUEST = 128 * 1024;
/** Most arguments, and most environment entries, in one request (SESSION_ARGS). */
export const SESSION_MAX_STRINGS = 8192;

function _addr(buf: AllowSharedBufferSource): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buf as BufferSource)));
}

/** A close-on-exec SOCK_SEQPACKET socketpair, or the errno. */
export function socketPair(): [number, number] | number {
  const fds = new Int32Array(2);
  const r = _lib().socketpair(AF_UNIX, SOCK_SEQPACKET | O_CLOEXEC, 0, new Uint8Array(fds.buffer));
  return r < 0 ? errno() : [fds[0], fds[1]];
}

/** Sets or clears FD_CLOEXEC (an fd is inheritable only while the helper is spawned). */
export function setCloexec(fd: number, on: boolean): void {
  _lib().fcntl(fd, F_SETFD, on ? FD_CLOEXEC : 0);
}

/**
 * A pipe for a program: `ours` nonblocking, `theirs` blocking, both close-on-exec.
 * `forProgram` "write": the program writes (stdout, stderr); "read": it reads (stdin).
 *
 * @returns the two ends, or the errno
 */
export function programPipe(
  forProgram: "read" | "write",
): { ours: number; theirs: number } | number {
  const fds = new Int32Array(2);
  const lib = _lib();
  if (lib.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) < 0) return errno();
  const [ours, theirs] = forProgram === "write" ? [fds[0], fds[1]] : [fds[1], fds[0]];
  lib.fcntl(ours, F_SETFL, lib.fcntl(ours, F_GETFL, 0) | O_NONBLOCK);
  return { ours, theirs };
}

/** /dev/null for reading, close-on-exec; -errno when it cannot be opened. */
export function devNull(): number {
  const fd = _lib().open(new TextEncoder().encode("/dev/null\0"), O_CLOEXEC, 0);
  return fd < 0 ? -errno() : fd;
}

/**
 * One message with `fds` attached (SCM_RIGHTS), never raising SIGPIPE.
 *
 * @returns 0, or the errno (EPIPE: the helper is gone)
 */
export function sendMessage(sock: number, payload: Uint8Array, fds: readonly number[]): number {
  const iov = new BigUint64Array([_addr(payload), BigInt(payload.length)]);
  // struct cmsghdr: cmsg_len (size_t), level, type, then the fds, padded to 8 bytes.
  const control = new ArrayBuffer(16 + Math.ceil(fds.length / 2) * 8);
  const cv = new DataView(control);
  if (fds.length) {
    cv.setBigUint64(0, BigInt(16 + 4 * fds.length), true);
    cv.setInt32(8, SOL_SOCKET, true);
    cv.setInt32(12, SCM_RIGHTS, true);
    fds.forEach((fd, i) => cv.setInt32(16 + 4 * i, fd, true));
  }
  // struct msghdr: name, namelen (+pad), iov, iovlen, control, controllen, flags (+pad).
  const msg = new BigUint64Array([
    0n,
    0n,
    _addr(iov),
    1n,
    fds.length ? _addr(control) : 0n,
    fds.length ? BigInt(control.byteLength) : 0n,
    0n,
  ]);
  for (;;) {
    const n = _lib().sendmsg(sock, new Uint8Array(msg.buffer), MSG_NOSIGNAL);
    if (n >= 0) return 0;
    const e = errno();
    if (e !== EINTR) return e;
  }
}

/** A reply of the helper: a type letter and an int. */
export interface SessionReply {
  type: string;
  value: number;
}

/**
 * The next reply, without waiting.
 *
 * @returns the reply, null when none is waiting, or "eof" when the helper closed its end
 */
export function takeReply(sock: number): SessionReply | null | "eof" {
  const buf = new Uint8Array(8);
  for (;;) {
    const n = Number(_lib().recv(sock, buf, 8n, MSG_DONTWAIT));
    if (n === 8) {
      return {
        type: String.fromCharCode(buf[0]),
        value: new DataView(buf.buffer).getInt32(4, true),
      };
    }
    if (n === 0) return "eof";
    if (n > 0) return "eof"; // Not a reply of ours: the wire is broken, as if closed.
    const e = errno();
    if (e === EAGAIN) return null;
    if (e !== EINTR) return "eof";
  }
}

/**
 * Reads what a nonblocking fd holds into `chunks` (copies of what `buf` received), up to EOF
 * or until it would block.
 *
 * @returns true at EOF (or an error: nothing more will come)
 */
export function drainInto(fd: number, chunks: Uint8Array[], buf: Uint8Array): boolean {
  for (;;) {
    const n = Number(_lib().read(fd, buf, BigInt(buf.length)));
    if (n > 0) {
      chunks.push(buf.slice(0, n));
      continue;
    }
    if (n === 0) return true;
    const e = errno();
    if (e === EAGAIN) return false;
    if (e !== EINTR) return true;
  }
}

/**
 * Writes as much of `data` as a nonblocking fd takes.
 *
 * @returns the bytes written, or -1 when the reader is gone (EPIPE) or another error
 */
export function writeSome(fd: number, data: Uint8Array): number {
  for (;;) {
    const n = Number(_lib().write(fd, data, BigInt(data.length)));
    if (n >= 0) return n;
    const e = errno();
    if (e === EAGAIN) return 0;
    if (e !== EINTR) return -1;
  }
}

/** close(2), ignoring errors. */
export function closeFd(fd: number): void {
  if (fd >= 0) _lib().close(fd);
}

/** shutdown(SHUT_RDWR): the helper reads EOF, and a poll of ours on the socket wakes. */
export function shutdownSocket(fd: number): void {
  _lib().shutdown(fd, 2);
}

/**
 * poll(2) on a pool thread until one of `fds` is ready; the events each one had (0: none).
 * `events`: POLLIN (1) or POLLOUT (4) per fd.
 */
export async function pollReady(
  fds: readonly number[],
  events: readonly number[],
): Promise<number[]> {
  const buf = new Uint8Array(8 * fds.length);
  const v = new DataView(buf.buffer);
  fds.forEach((fd, i) => {
    v.setInt32(8 * i, fd, true);
    v.setInt16(8 * i + 4, events[i], true);
  });
  // EINTR or ENOMEM: try again (a nonblocking call's errno is another thread's).
  while (await _lib().poll_async(buf, BigInt(fds.length), -1) < 0) { /* again */ }
  return fds.map((_, i) => v.getInt16(8 * i + 6, true));
}
