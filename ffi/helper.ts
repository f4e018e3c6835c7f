/**
 * The embedded helper (ffi/helper.c) made executable without touching the disk: its
 * bytes go into a sealed memfd and it is spawned as /proc/self/fd/N. When the kernel
 * forbids executable memfds (vm.memfd_noexec=2), a private copy in a directory only the
 * caller can write is used instead, its bytes verified before every spawn.
 *
 * @module
 */
import { check, cstr, errno, errnoName, EXEC_SYMBOLS, libcSubset } from "./libc.ts";
import { HELPER_ELF } from "./helper_bin.ts";
import { nsjoinSetting } from "../src/_permissions.ts";

// memfd_create(2) flags and fcntl(2) seals, include/uapi/linux/memfd.h and fcntl.h.
const MFD_CLOEXEC = 0x1;
const MFD_ALLOW_SEALING = 0x2;
const MFD_EXEC = 0x10;
const F_ADD_SEALS = 1033;
const F_SEAL_SEAL = 0x1;
const F_SEAL_SHRINK = 0x2;
const F_SEAL_GROW = 0x4;
const F_SEAL_WRITE = 0x8;
const F_SEAL_EXEC = 0x20;
const EINVAL = 22;

/** The helper's bytes for this machine. */
export function helperBytes(): Uint8Array<ArrayBuffer> {
  const b64 = HELPER_ELF[Deno.build.arch];
  if (!b64) {
    throw new Error(
      `Cannot run nsjoin on ${Deno.build.arch}: the helper is built for x86_64 and aarch64 only`,
    );
  }
  // Native base64 (V8's Uint8Array.fromBase64): a JS decode loop costs milliseconds cold.
  return (Uint8Array as unknown as { fromBase64(s: string): Uint8Array<ArrayBuffer> })
    .fromBase64(b64);
}

/** How the helper is run: a sealed memfd, or the verified private file. */
export interface Helper {
  /** The path to spawn. */
  path: string;
  /** "memfd" or "file". */
  kind: "memfd" | "file";
  /** Throws if the helper is no longer what nsjoin wrote (the file fallback only). */
  verify(): void;
}

let _helper: Helper | undefined;

/**
 * The helper, made once per process. `NSJOIN_HELPER=file` forces the file fallback
 * (for tests of hosts with vm.memfd_noexec=2).
 */
export function helper(): Helper {
  if (_helper) return _helper;
  const bytes = helperBytes();
  const errors: string[] = [];
  if (nsjoinSetting("NSJOIN_HELPER") !== "file") {
    try {
      _helper = _memfd(bytes);
      return _helper;
    } catch (error) {
      errors.push((error as Error).message);
    }
  }
  try {
    _helper = _privateFile(bytes);
    return _helper;
  } catch (error) {
    errors.push((error as Error).message);
  }
  throw new Error(`Cannot prepare the nsjoin helper: ${errors.join("; ")}`);
}

/**
 * Called when the kernel refused to execute the memfd (an LSM, say): from now on the
 * private file is used. Returns the new helper, or undefined if it was a file already.
 */
export function helperExecRefused(): Helper | undefined {
  if (!_helper || _helper.kind !== "memfd") return undefined;
  _helper = _privateFile(helperBytes());
  return _helper;
}

function _memfd(bytes: Uint8Array<ArrayBuffer>): Helper {
  const lib = libcSubset(...EXEC_SYMBOLS);
  const name = cstr("nsjoin-helper");
  let fd = lib.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
  // Before Linux 6.3 MFD_EXEC is unknown (EINVAL) and every memfd is executable.
  if (fd < 0 && errno() === EINVAL) fd = lib.memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    throw new Error(
      `memfd_create: ${errnoName(errno())} (vm.memfd_noexec may forbid executable memfds)`,
    );
  }
  let written = 0;
  while (written < bytes.length) {
    written += Number(
      check("write", lib.write(fd, bytes.subarray(written), BigInt(bytes.length - written))),
    );
  }
  // Sealed, the helper cannot be changed by anyone, even through /proc/PID/exe from inside a
  // container (CVE-2019-5736). F_SEAL_EXEC (6.3+) also freezes its mode bits.
  const seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
  if (lib.fcntl(fd, F_ADD_SEALS, seals | F_SEAL_EXEC) < 0) {
    check("fcntl(F_ADD_SEALS)", lib.fcntl(fd, F_ADD_SEALS, seals));
  }
  // MFD_EXEC asked for and granted (6.3+), or no such flag at all (before 6.3): the memfd
  // is executable. vm.memfd_noexec=2 refuses MFD_EXEC with EACCES above.
  const path = `/proc/self/fd/${fd}`;
  return { path, kind: "memfd", verify() {} };
}

function _privateFile(bytes: Uint8Array<ArrayBuffer>): Helper {
  const uid = Deno.uid() ?? 0;
  const runtime = Deno.env.get("XDG_RUNTIME_DIR");
  const dir = uid === 0 ? "/run/nsjoin" : runtime ? `${runtime}/nsjoin` : `/tmp/nsjoin-${uid}`;
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  const st = Deno.lstatSync(dir);
  if (!st.isDirectory || st.uid !== uid || (st.mode! & 0o077) !== 0) {
    throw new Error(`${dir} must be a directory owned by uid ${uid} with mode 0700`);
  }
  const path = `${dir}/nsjoin-helper-${bytes.length}-${_fnv(bytes)}`;
  const verify = () => {
    const fst = Deno.lstatSync(path);
    const same = fst.isFile && fst.uid === uid && (fst.mode! & 0o7777) === 0o500 &&
      _equal(Deno.readFileSync(path), bytes);
    if (!same) throw new Error(`Cannot trust the nsjoin helper at ${path}: it changed; remove it`);
  };
  try {
    verify();
  } catch {
    const tmp = `${path}.${crypto.randomUUID()}`;
    Deno.writeFileSync(tmp, bytes, { mode: 0o500, createNew: true });
    Deno.chmodSync(tmp, 0o500);
    Deno.renameSync(tmp, path);
    verify();
  }
  return { path, kind: "file", verify };
}

function _equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// A short name for this build of the helper, so two versions never share a file.
function _fnv(bytes: Uint8Array): string {
  let h = 0x811c9dc5;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
