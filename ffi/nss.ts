/**
 * glibc's NSS (getaddrinfo, getpwuid…: `Deno.connect` and `fetch` to a host name,
 * `os.userInfo()`) called by a thread inside a target's mount namespace. glibc reads
 * /etc/nsswitch.conf and dlopen()s each module it names, `libnss_NAME.so.2` by name, where
 * the calling thread resolves paths: the first time NSS is used, and again whenever that
 * file changed while "/" is still the inode it first saw (glibc 2.33+, nss_database.c
 * `nss_database_check_reload_and_get`; once "/" differs it stops reloading for good). A
 * namespace Worker's name lookup so ran a module of the target in our process: root's, which
 * holds a fd of the host's root (tests/security_test.ts "stop 18: inNamespaces with mnt never
 * loads the target's NSS modules"). docker cp had the same hole (CVE-2019-14271).
 *
 * So before a thread enters a target's mount namespace the host's files decide, for good:
 * {@link loadHostNss} on the caller's thread, then {@link freezeNss} on the thread that
 * joins. What stays: a module our nsswitch.conf names that this host does not have is
 * looked up by name wherever glibc first wants it.
 *
 * @module
 */
import { check, cstr, libc } from "./libc.ts";
import { readTextFileSafe } from "./files.ts";

/** Modules kept loaded for the life of the process: a later dlopen by name finds them. */
const _loaded: Deno.DynamicLibrary<Record<string, never>>[] = [];
let _done = false;

/** A lookup that goes through NSS (passwd), reentrant: another thread may use getpwuid. */
function _lookup(): void {
  const pwd = new Uint8Array(64), buf = new Uint8Array(4096), out = new Uint8Array(8);
  libc().getpwuid_r(0, pwd, buf, BigInt(buf.length), out);
}

/**
 * Loads every NSS module our /etc/nsswitch.conf names, from our files, and sets NSS up
 * from them (once per process; on a thread in our own mount namespace).
 */
export function loadHostNss(): void {
  if (_done) return;
  let conf = "";
  try {
    conf = readTextFileSafe("/etc/nsswitch.conf");
  } catch {
    // None: glibc's built-in defaults name only services built into libc.
  }
  const names = new Set<string>();
  for (const line of conf.split("\n")) {
    const services = line.replace(/#.*/, "").split(":").slice(1).join(":");
    for (const name of services.replace(/\[[^\]]*\]/g, " ").split(/\s+/)) {
      if (/^[A-Za-z0-9_-]+$/.test(name)) names.add(name);
    }
  }
  for (const name of names) {
    try {
      _loaded.push(Deno.dlopen(`libnss_${name}.so.2`, {}));
    } catch {
      // Not on this host (or built into libc: files, dns): glibc skips it here too.
    }
  }
  _lookup();
  _done = true;
}

/**
 * Makes glibc stop reloading nsswitch.conf, for the whole process: one lookup with this
 * thread's root in a directory without it (procfs: no one can put an nsswitch.conf or a
 * library there), then back to `hostRootFd`. The calling thread must have an fs_struct of its
 * own (unshare(CLONE_FS)) and be in our mount namespace, after {@link loadHostNss}.
 *
 * @param hostRootFd an fd of our root directory
 */
export function freezeNss(hostRootFd: number): void {
  check("chroot", libc().chroot(cstr("/proc/self/fdinfo")));
  try {
    _lookup();
  } finally {
    check("fchdir", libc().fchdir(hostRootFd));
    check("chroot", libc().chroot(cstr(".")));
  }
}
