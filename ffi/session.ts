/**
 * The caller's side of an exec session's wire (ffi/helper.c option `L`): requests go to the
 * helper on a pipe, replies come back on a SOCK_SEQPACKET socket the helper made, with the
 * program's pipes (made by the helper) attached to the reply that says it runs.
 *
 * Kernel rules relied on:
 * - We never send on a socket the helper holds, and its reply socket is not one we made: a
 *   child the helper forks is born holding copies of its fds, a task in the target with
 *   CAP_SYS_PTRACE may take them (pidfd_getfd), and a socket names the process that made it
 *   (SO_PEERPIDFD) and the sender of each message (SCM_PIDFD): Deno's pidfd would give that
 *   task every fd of ours. Pipes carry no credentials.
 * - A pipe keeps the order of what is written; a frame is written whole before the next
 *   (one writer: the session's queue). SOCK_SEQPACKET keeps message boundaries.
 * - Fds received with SCM_RIGHTS are new fds of ours (MSG_CMSG_CLOEXEC).
 * - What comes on the reply socket is the helper's only as long as no task of the target
 *   took the helper's end (it can: see ffi/helper.c session_loop). So fds it carries are
 *   used only if they are anonymous pipes, as the helper's are (allPipes).
 * - Every fd made here is O_CLOEXEC: a helper or program spawned meanwhile by another
 *   caller never inherits one. Our ends are O_NONBLOCK.
 * - Only poll(2) waits, on a thread of Deno's pool (nonblocking FFI) so the event loop goes
 *   on; the reads and writes after it never block and run on the calling thread (errno).
 *
 * @module
 */
import { fstatSafe } from "./files.ts";
import { errno, libcSubset } from "./libc.ts";

function _lib() {
  return libcSubset(
    "socketpair",
    "recvmsg",
    "pipe2",
    "poll_async",
    "fcntl",
    "read",
    "pread",
    "write",
    "close",
    "shutdown",
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
const MSG_CMSG_CLOEXEC = 0x40000000;
const MSG_TRUNC = 0x20;
const MSG_CTRUNC = 0x8;
const SOL_SOCKET = 1;
const SCM_RIGHTS = 1;
const S_IFMT = 0o170000;
const S_IFIFO = 0o010000;
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

/** Sets O_NONBLOCK (an fd the helper handed over: ours to use without blocking). */
export function setNonblocking(fd: number): void {
  const lib = _lib();
  lib.fcntl(fd, F_SETFL, lib.fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
}

/**
 * The session's request pipe: `ours` (the write end) nonblocking, `theirs` (the helper's read
 * end) blocking, both close-on-exec.
 *
 * @returns the two ends, or the errno
 */
export function requestPipe(): { ours: number; theirs: number } | number {
  const fds = new Int32Array(2);
  if (_lib().pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) < 0) return errno();
  setNonblocking(fds[1]);
  return { ours: fds[1], theirs: fds[0] };
}

/**
 * One message of up to `size` bytes and the fds attached to it (at most 4), without waiting.
 *
 * @returns its bytes and fds, null when none is waiting, or "eof" when the other side closed
 *   (or sent what is no message of the helper's: cut short, too many fds)
 */
function _receive(
  sock: number,
  size: number,
): { data: Uint8Array; fds: number[] } | null | "eof" {
  const data = new Uint8Array(size);
  const iov = new BigUint64Array([_addr(data), BigInt(size)]);
  // Room for more fds than a reply has: a message with more is refused, its fds closed.
  const control = new ArrayBuffer(16 + 4 * 16);
  for (;;) {
    // struct msghdr: name, namelen (+pad), iov, iovlen, control, controllen, flags (+pad).
    const msg = new BigUint64Array([
      0n,
      0n,
      _addr(iov),
      1n,
      _addr(control),
      BigInt(control.byteLength),
      0n,
    ]);
    const flags = MSG_DONTWAIT | MSG_CMSG_CLOEXEC;
    const n = Number(_lib().recvmsg(sock, new Uint8Array(msg.buffer), flags));
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN) return null;
      if (e === EINTR) continue;
      return "eof";
    }
    // struct cmsghdr: cmsg_len (size_t), level, type, then the fds.
    const cv = new DataView(control);
    const fds: number[] = [];
    if (
      msg[5] >= 16n && cv.getInt32(8, true) === SOL_SOCKET && cv.getInt32(12, true) === SCM_RIGHTS
    ) {
      const count = (Number(cv.getBigUint64(0, true)) - 16) / 4;
      for (let i = 0; i < count; i++) fds.push(cv.getInt32(16 + 4 * i, true));
    }
    if (n === 0 || Number(msg[6] & 0xffffffffn) & (MSG_TRUNC | MSG_CTRUNC) || fds.length > 4) {
      for (const fd of fds) closeFd(fd);
      return "eof";
    }
    return { data: data.subarray(0, n), fds };
  }
}

/**
 * The fd the helper hands over first (its reply socket), without waiting.
 *
 * @returns the fd, null when none is waiting, or "eof" when the helper exited without one
 */
export function takeFd(sock: number): number | null | "eof" {
  const m = _receive(sock, 1);
  if (m === null || m === "eof") return m;
  if (m.fds.length === 1) return m.fds[0];
  for (const fd of m.fds) closeFd(fd);
  return "eof";
}

/**
 * Whether every fd of `fds` is an anonymous pipe, as those of the helper's 'P' reply are
 * (pipe2): S_IFIFO on the one pipefs superblock, which every pipe2 pipe shares (`dev`, the
 * st_dev of a pipe of ours; a named FIFO is on its own file system's). Anything else on the
 * reply socket comes from a task of the target that took the helper's end: /dev/zero, a
 * sparse or FUSE file, whose reads never say "would block" (drainInto would loop for ever on
 * Deno's thread, taking memory without end), or a device of the target's.
 *
 * @param fds the fds of a reply
 * @param dev st_dev of an anonymous pipe of ours (see {@link pipeDevice})
 * @returns true when all are anonymous pipes
 */
export function allPipes(fds: readonly number[], dev: number): boolean {
  return fds.every((fd) => {
    try {
      const st = fstatSafe(fd);
      return (st.mode & S_IFMT) === S_IFIFO && st.dev === dev;
    } catch {
      return false;
    }
  });
}

/**
 * st_dev of an anonymous pipe: pipefs's, the same for every pipe2 pipe.
 *
 * @param fd an end of a pipe made with pipe2
 * @returns its st_dev
 */
export function pipeDevice(fd: number): number {
  return fstatSafe(fd).dev;
}

/** A reply of the helper: a type letter, an int, and the fds attached (the program's pipes). */
export interface SessionReply {
  type: string;
  value: number;
  fds: number[];
}

/**
 * The next reply, without waiting.
 *
 * @returns the reply, null when none is waiting, or "eof" when the helper closed its end
 */
export function takeReply(sock: number): SessionReply | null | "eof" {
  const m = _receive(sock, 8);
  if (m === null || m === "eof") return m;
  if (m.data.length !== 8) {
    // Not a reply of the helper's: the wire is broken, as if closed.
    for (const fd of m.fds) closeFd(fd);
    return "eof";
  }
  return {
    type: String.fromCharCode(m.data[0]),
    value: new DataView(m.data.buffer).getInt32(4, true),
    fds: m.fds,
  };
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

/**
 * The text of a file kept open, read again from its start (pread(2) at offset 0): a cgroup
 * file (kernfs) makes its text at each read from the start, so one open serves every check
 * of a session. At most `buf.length` bytes.
 *
 * @param fd the file, opened for reading
 * @param buf where it is read into
 * @returns its text, or the errno of a failed read (ENODEV: the cgroup was removed)
 */
export function readFromStart(fd: number, buf: Uint8Array): string | number {
  for (;;) {
    const n = Number(_lib().pread(fd, buf, BigInt(buf.length), 0n));
    if (n >= 0) return _decoder.decode(buf.subarray(0, n));
    const e = errno();
    if (e !== EINTR) return e;
  }
}

const _decoder = new TextDecoder();

/** close(2), ignoring errors. */
export function closeFd(fd: number): void {
  if (fd >= 0) _lib().close(fd);
}

/** shutdown(SHUT_RDWR): a poll of ours on the socket wakes, and the helper's next reply fails. */
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
