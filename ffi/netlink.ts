/**
 * RTM_GETNSID over a NETLINK_ROUTE socket: the id the caller's network namespace has
 * assigned to another network namespace (what `ip netns list-id` and lsns's NETNSID show).
 * Deno has no netlink sockets, hence these few raw calls.
 *
 * @module
 */

import { check, errno, libc, SyscallError } from "./libc.ts";

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const NETLINK_ROUTE = 0;
const NLMSG_ERROR = 2;
const RTM_NEWNSID = 88;
const RTM_GETNSID = 90;
const NLM_F_REQUEST = 1;
const NETNSA_NSID = 1;
const NETNSA_FD = 3;

/** NETNSA_NSID_NOT_ASSIGNED: the namespace has no id in the caller's namespace. */
export const NSID_NOT_ASSIGNED = -1;

/** A NETLINK_ROUTE socket that asks for network namespace ids; close it when done. */
export class NetnsIdSocket {
  #fd: number;
  #seq = 0;
  // nlmsghdr (16) + rtgenmsg padded (4) + rtattr (4) + u32 fd (4)
  #request = new DataView(new ArrayBuffer(28));
  #response = new Uint8Array(256);

  /** Opens the socket; throws a SyscallError (e.g. EPERM, EAFNOSUPPORT) when it cannot. */
  constructor() {
    this.#fd = check("socket", libc().socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  }

  /**
   * The id of the network namespace open as `nsFd`: a number ≥ 0, or
   * {@link NSID_NOT_ASSIGNED}. Throws a SyscallError when the kernel refuses.
   */
  query(nsFd: number): number {
    if (this.#fd < 0) throw new SyscallError("send", 9);
    const v = this.#request;
    const seq = ++this.#seq;
    v.setUint32(0, 28, true);
    v.setUint16(4, RTM_GETNSID, true);
    v.setUint16(6, NLM_F_REQUEST, true);
    v.setUint32(8, seq, true);
    v.setUint32(12, 0, true);
    v.setUint32(16, 0, true); // rtgen_family = AF_UNSPEC, and padding
    v.setUint16(20, 8, true);
    v.setUint16(22, NETNSA_FD, true);
    v.setUint32(24, nsFd, true);
    const bytes = new Uint8Array(v.buffer);
    if (libc().send(this.#fd, bytes, 28n, 0) < 0) throw new SyscallError("send", errno());
    const n = Number(libc().recv(this.#fd, this.#response, BigInt(this.#response.length), 0));
    if (n < 0) throw new SyscallError("recv", errno());
    const r = new DataView(this.#response.buffer, 0, n);
    if (n < 16) throw new SyscallError("recv", 71); // EPROTO
    const type = r.getUint16(4, true);
    if (type === NLMSG_ERROR) throw new SyscallError("RTM_GETNSID", -r.getInt32(16, true));
    if (type !== RTM_NEWNSID) throw new SyscallError("recv", 71);
    const len = Math.min(r.getUint32(0, true), n);
    for (let off = 20; off + 4 <= len;) {
      const alen = r.getUint16(off, true);
      if (alen < 4) break;
      if (r.getUint16(off + 2, true) === NETNSA_NSID && alen >= 8) return r.getInt32(off + 4, true);
      off += (alen + 3) & ~3;
    }
    throw new SyscallError("recv", 71);
  }

  /** Closes the socket; calling it again does nothing. */
  close(): void {
    if (this.#fd >= 0) libc().close(this.#fd);
    this.#fd = -1;
  }

  /** Closes the socket. */
  [Symbol.dispose](): void {
    this.close();
  }
}
