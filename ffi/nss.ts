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
 * joins. A module our nsswitch.conf names that this host does not have (Debian's stock
 * `services: db files` and `netgroup: nis`, without libnss-db or NIS) would still be looked
 * up by name wherever glibc first wants it: a `dns.lookupService()` in a target's mount
 * namespace ran the target's libnss_db.so.2 as root. Those lines are given to glibc without
 * it (tests/security_test.ts "stop 18b: …").
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
  const lines = new Map<string, string>();
  const names = new Set<string>();
  for (const line of conf.split("\n")) {
    const [db, ...rest] = line.replace(/#.*/, "").split(":");
    const services = rest.join(":");
    if (!rest.length) continue;
    lines.set(db.trim(), services.trim());
    for (const name of services.replace(/\[[^\]]*\]/g, " ").split(/\s+/)) {
      if (/^[A-Za-z0-9_-]+$/.test(name)) names.add(name);
    }
  }
  const missing = new Set<string>();
  for (const name of names) {
    if (BUILT_IN.has(name)) continue;
    try {
      _loaded.push(Deno.dlopen(`libnss_${name}.so.2`, {}));
    } catch {
      missing.add(name); // Not on this host: glibc would look for it wherever it is asked.
    }
  }
  for (const [db, services] of lines) {
    const line = withoutModules(services, missing);
    if (line === services) continue;
    // glibc treats a module it cannot load as UNAVAIL: the line without it does the same
    // (see withoutModules). A name glibc does not know as a database is refused (-1): a
    // line glibc ignores too.
    libc().__nss_configure_lookup(cstr(db), cstr(line));
  }
  _lookup();
  _sortAddresses();
  _done = true;
}

/**
 * Has glibc read our /etc/gai.conf, the address-sorting rules of getaddrinfo. It reads it
 * under a process-wide `pthread_once` the first time a lookup yields more than one address
 * (getaddrinfo.c `gaiconf_init`), in the calling thread's mount namespace: a target's FIFO
 * there kept that thread in open(2) inside the once, and every later lookup of two
 * addresses by any thread (`localhost`, which Debian's /etc/hosts gives ::1 and 127.0.0.1)
 * waited on it for ever (tests/security_test.ts "stop 24: …"). A passive lookup of no name
 * yields `::` and `0.0.0.0` — two addresses, no file, no network — so it runs the once here,
 * on our files. Later lookups in a target's mount namespace may still re-read its file
 * (`gaiconf_reload`, outside the once): that holds only the thread that asked.
 */
function _sortAddresses(): void {
  // struct addrinfo { int ai_flags, ai_family, ai_socktype, ai_protocol; ... } (48 bytes)
  const hints = new Int32Array(12);
  hints[0] = 1; // AI_PASSIVE
  hints[1] = 0; // AF_UNSPEC
  hints[2] = 1; // SOCK_STREAM
  const out = new BigUint64Array(1);
  if (libc().getaddrinfo(null, cstr("0"), hints, out) !== 0) return;
  libc().freeaddrinfo(Deno.UnsafePointer.create(out[0]));
}

/** Services of glibc's own (libc.so.6 since 2.34; libnss_files/dns are stubs now). */
const BUILT_IN = new Set(["files", "dns"]);

/**
 * An nsswitch.conf service line without the given modules: each is what glibc makes of a
 * module it cannot load, UNAVAIL, so it goes with its `[STATUS=action]` list, and when that
 * list says `return` for UNAVAIL the line ends there.
 *
 * @param services the part after `db:`
 * @param missing module names to take out
 * @returns the line as glibc would act on it
 */
export function withoutModules(services: string, missing: ReadonlySet<string>): string {
  const tokens = services.match(/\[[^\]]*\]|[^\s[]+/g) ?? [];
  const out: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    if (!missing.has(token)) {
      out.push(token);
      continue;
    }
    const criteria = tokens[i + 1]?.startsWith("[") ? tokens[++i] : "";
    let action = "continue";
    for (const m of criteria.matchAll(/(!?)\s*([A-Za-z]+)\s*=\s*([A-Za-z]+)/g)) {
      const unavail = m[2].toUpperCase() === "UNAVAIL";
      if (m[1] ? !unavail : unavail) action = m[3].toLowerCase();
    }
    if (action === "return") break;
  }
  return out.join(" ");
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
