/**
 * A small streaming tar (POSIX ustar + pax) writer and reader: what `docker cp -` reads and
 * writes. Hand-written rather than an npm tar library: the npm ones (tar, tar-stream) are
 * Node-stream based and would put Node-compat streams and Buffer copies on the hot path of
 * every byte; what cp needs is ~250 lines (ustar headers, pax records for long names, big
 * sizes, big ids and xattrs, GNU long-name records when reading).
 *
 * Memory stays constant: file data passes through in chunks, never a whole file.
 *
 * @module
 */

/** A tar entry's type. */
export type TarType = "file" | "dir" | "symlink" | "hardlink" | "fifo" | "char" | "block";

/** One entry's header. */
export interface TarHeader {
  /** Path inside the archive, `/`-separated, directories without the trailing slash. */
  path: string;
  /** The entry's type. */
  type: TarType;
  /** Permission bits (with setuid, setgid, sticky). */
  mode: number;
  /** Owner uid. */
  uid: number;
  /** Owner gid. */
  gid: number;
  /** Data bytes (files only). */
  size: number;
  /** Modification time, seconds. */
  mtime: number;
  /** Symlink target or hard link's archive path. */
  linkname?: string;
  /** Device major and minor (char, block). */
  devmajor?: number;
  /** Device minor. */
  devminor?: number;
  /** Extended attributes (pax SCHILY.xattr.*). */
  xattrs?: [string, Uint8Array][];
}

const BLOCK = 512;
const _enc = new TextEncoder();
const _dec = new TextDecoder();
const TYPEFLAG: Record<TarType, string> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  char: "3",
  block: "4",
  dir: "5",
  fifo: "6",
};

function _octal(buf: Uint8Array, at: number, len: number, value: number): boolean {
  const text = value.toString(8);
  if (text.length > len - 1) return false;
  buf.set(_enc.encode(text.padStart(len - 1, "0")), at);
  return true;
}

function _paxRecord(key: string, value: Uint8Array): Uint8Array {
  // "%d %s=%s\n", where the length counts itself.
  const rest = _enc.encode(` ${key}=`).length + value.length + 1;
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  const head = _enc.encode(`${len} ${key}=`);
  const out = new Uint8Array(len);
  out.set(head);
  out.set(value, head.length);
  out[len - 1] = 0x0a;
  return out;
}

function _header(
  name: Uint8Array,
  typeflag: string,
  h: Pick<TarHeader, "mode" | "uid" | "gid" | "size" | "mtime" | "devmajor" | "devminor">,
  linkname: Uint8Array,
): Uint8Array {
  const b = new Uint8Array(BLOCK);
  b.set(name.subarray(0, 100), 0);
  _octal(b, 100, 8, h.mode & 0o7777);
  _octal(b, 108, 8, h.uid) || _octal(b, 108, 8, 0);
  _octal(b, 116, 8, h.gid) || _octal(b, 116, 8, 0);
  _octal(b, 124, 12, h.size) || _octal(b, 124, 12, 0);
  _octal(b, 136, 12, Math.max(0, h.mtime)) || _octal(b, 136, 12, 0);
  b.fill(0x20, 148, 156);
  b[156] = typeflag.charCodeAt(0);
  b.set(linkname.subarray(0, 100), 157);
  b.set(_enc.encode("ustar\x0000"), 257);
  _octal(b, 329, 8, h.devmajor ?? 0);
  _octal(b, 337, 8, h.devminor ?? 0);
  let sum = 0;
  for (const x of b) sum += x;
  b.set(_enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
  return b;
}

/**
 * The header blocks of one entry: a pax extended header first when a field does not fit
 * ustar (path or link over 100 bytes, size ≥ 8 GiB, ids ≥ 2^21, xattrs), then the ustar header.
 */
export function encodeHeader(h: TarHeader): Uint8Array {
  const path = _enc.encode(h.type === "dir" ? `${h.path}/` : h.path);
  const link = _enc.encode(h.linkname ?? "");
  const records: Uint8Array[] = [];
  if (path.length > 100) records.push(_paxRecord("path", path));
  if (link.length > 100) records.push(_paxRecord("linkpath", link));
  if (h.size >= 8 ** 11) records.push(_paxRecord("size", _enc.encode(String(h.size))));
  if (h.uid >= 8 ** 7) records.push(_paxRecord("uid", _enc.encode(String(h.uid))));
  if (h.gid >= 8 ** 7) records.push(_paxRecord("gid", _enc.encode(String(h.gid))));
  for (const [k, v] of h.xattrs ?? []) records.push(_paxRecord(`SCHILY.xattr.${k}`, v));
  const ustar = _header(
    path,
    TYPEFLAG[h.type],
    { ...h, size: h.type === "file" ? h.size : 0 },
    link,
  );
  if (records.length === 0) return ustar;
  const body = _concat(records);
  const paxName = _enc.encode(`PaxHeaders/${_dec.decode(path.subarray(0, 80))}`);
  const paxHead = _header(paxName, "x", { ...h, size: body.length, mode: 0o644 }, new Uint8Array());
  return _concat([paxHead, body, new Uint8Array(_pad(body.length)), ustar]);
}

function _pad(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

function _concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Writes a tar stream through a WritableStream writer, waiting for it (backpressure) so a
 * slow reader keeps memory flat.
 */
export class TarWriter {
  #w: WritableStreamDefaultWriter<Uint8Array>;
  #left = 0;

  /** A writer over `writer`. */
  constructor(writer: WritableStreamDefaultWriter<Uint8Array>) {
    this.#w = writer;
  }

  async #put(chunk: Uint8Array): Promise<void> {
    await this.#w.ready;
    await this.#w.write(chunk);
  }

  /** Starts an entry; for a file, `data()` then gives its `size` bytes. */
  async entry(h: TarHeader): Promise<void> {
    if (this.#left !== 0) throw new Error("Cannot start a tar entry: the last file is short");
    await this.#put(encodeHeader(h));
    this.#left = h.type === "file" ? h.size : 0;
    if (this.#left === 0 && h.type === "file") return;
  }

  /** Some of the current file's data (a copy is not taken: pass a fresh buffer). */
  async data(chunk: Uint8Array): Promise<void> {
    if (chunk.length > this.#left) throw new Error("Cannot write past a tar entry's size");
    this.#left -= chunk.length;
    await this.#put(chunk);
  }

  /** Ends the current file: pads it to a block. `size` is what its header said. */
  async endFile(size: number): Promise<void> {
    if (this.#left !== 0) {
      throw new Error(`Cannot end a tar entry: ${this.#left} bytes of it were not written`);
    }
    const pad = _pad(size);
    if (pad) await this.#put(new Uint8Array(pad));
  }

  /** Ends the archive (two zero blocks) and closes the stream. */
  async close(): Promise<void> {
    await this.#put(new Uint8Array(BLOCK * 2));
    await this.#w.close();
  }
}

/** Reads exact byte counts from a stream of chunks. */
class _Bytes {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array = new Uint8Array(0);

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader();
  }

  /** Up to `max` bytes (fewer only at a chunk boundary), or null at the end. */
  async some(max: number): Promise<Uint8Array | null> {
    if (this.#buf.length === 0) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      this.#buf = value;
    }
    const out = this.#buf.subarray(0, max);
    this.#buf = this.#buf.subarray(out.length);
    return out;
  }

  async exact(n: number): Promise<Uint8Array | null> {
    const out = new Uint8Array(n);
    let at = 0;
    while (at < n) {
      const part = await this.some(n - at);
      if (!part) {
        if (at === 0) return null;
        throw new Error("Cannot read the tar stream: it ends inside a record");
      }
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  async skip(n: number): Promise<void> {
    while (n > 0) {
      const part = await this.some(n);
      if (!part) throw new Error("Cannot read the tar stream: it ends inside a file");
      n -= part.length;
    }
  }

  cancel(): void {
    this.#reader.cancel().catch(() => {});
  }
}

function _str(b: Uint8Array, at: number, len: number): string {
  const f = b.subarray(at, at + len);
  const end = f.indexOf(0);
  return _dec.decode(end < 0 ? f : f.subarray(0, end));
}

function _num(b: Uint8Array, at: number, len: number): number {
  if (b[at] & 0x80) {
    // GNU base-256 for big values.
    let v = 0;
    for (let i = 1; i < len; i++) v = v * 256 + b[at + i];
    return v;
  }
  const t = _str(b, at, len).trim();
  return t ? parseInt(t, 8) : 0;
}

function _parsePax(body: Uint8Array): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let at = 0;
  while (at < body.length) {
    const sp = body.indexOf(0x20, at);
    if (sp < 0) break;
    const len = parseInt(_dec.decode(body.subarray(at, sp)), 10);
    if (!(len > 0)) throw new Error("Cannot read the tar stream: a bad pax record");
    const rec = body.subarray(sp + 1, at + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq > 0) out.set(_dec.decode(rec.subarray(0, eq)), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

/** The largest pax header or GNU long name read (each is held in memory whole). */
const _MAX_META = 16 << 20;
/**
 * The most records global extended headers (`g`) may hold together: they apply to every
 * entry after them (GNU tar and libarchive write a handful, if any).
 */
const _MAX_GLOBAL = 1024;

const _TYPES: Record<string, TarType> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "char",
  "4": "block",
  "5": "dir",
  "6": "fifo",
};

/** A tar entry being read: its header, and its data as chunks (files only). */
export interface TarEntry {
  /** The header. */
  header: TarHeader;
  /** The data, chunk by chunk; read it all before the next entry (or it is skipped). */
  data(): AsyncIterable<Uint8Array>;
}

/**
 * The entries of a tar stream, in order. Unknown entry types (sockets, GNU volume labels)
 * are skipped.
 *
 * @throws {Error} on a damaged header (bad checksum) or a stream that ends early
 */
export async function* readTar(stream: ReadableStream<Uint8Array>): AsyncGenerator<TarEntry> {
  const r = new _Bytes(stream);
  let pax = new Map<string, Uint8Array>();
  let global = new Map<string, Uint8Array>();
  let longName: string | undefined;
  let longLink: string | undefined;
  try {
    for (;;) {
      const b = await r.exact(BLOCK);
      if (!b || b.every((x) => x === 0)) return;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : b[i];
      if (sum !== _num(b, 148, 8)) {
        throw new Error("Cannot read the tar stream: a header's checksum is wrong (not a tar?)");
      }
      const flag = String.fromCharCode(b[156]);
      let size = _num(b, 124, 12);
      if (flag === "x" || flag === "g" || flag === "L" || flag === "K") {
        // Held in memory whole: a header's records and long names are small.
        if (!Number.isSafeInteger(size) || size < 0 || size > _MAX_META) {
          throw new Error(
            "Cannot read the tar stream: an extended header's size is not a byte count up to 16 MiB",
          );
        }
        const body = (await r.exact(size)) ?? new Uint8Array();
        await r.skip(_pad(size));
        if (flag === "x") pax = _parsePax(body);
        else if (flag === "g") {
          // Global records stay for the rest of the stream and are copied into every entry's:
          // unbounded, 150 global headers of 8 MiB each (keys of their own) held 1.3 GB in
          // root's `cp -`, and one of 800 000 tiny records made each entry cost ~0.4 s
          // (a 9.6 MB stream of 300 empty files ran past 120 s).
          global = new Map([...global, ..._parsePax(body)]);
          let bytes = 0;
          for (const [k, v] of global) bytes += k.length + v.length;
          if (global.size > _MAX_GLOBAL || bytes > _MAX_META) {
            throw new Error(
              `Cannot read the tar stream: its global extended headers hold more than ${_MAX_GLOBAL} records or 16 MiB`,
            );
          }
        } else if (flag === "L") longName = _str(body, 0, body.length);
        else longLink = _str(body, 0, body.length);
        continue;
      }
      const rec = new Map([...global, ...pax]);
      const text = (k: string) => rec.has(k) ? _dec.decode(rec.get(k)) : undefined;
      const prefix = _str(b, 345, 155);
      let path = text("path") ?? longName ??
        (prefix ? `${prefix}/${_str(b, 0, 100)}` : _str(b, 0, 100));
      const linkname = text("linkpath") ?? longLink ?? _str(b, 157, 100);
      if (rec.has("size")) {
        // Digits only: a size of 1.5 had the reader ask for half a byte, get none, for ever.
        const t = text("size")!;
        size = /^[0-9]{1,16}$/.test(t) ? Number(t) : NaN;
      }
      if (!Number.isSafeInteger(size) || size < 0) {
        throw new Error("Cannot read the tar stream: an entry's size is not a byte count");
      }
      const type = _TYPES[flag];
      const xattrs: [string, Uint8Array][] = [];
      for (const [k, v] of rec) {
        if (k.startsWith("SCHILY.xattr.")) xattrs.push([k.slice("SCHILY.xattr.".length), v]);
      }
      pax = new Map();
      longName = longLink = undefined;
      if (type === "dir" || path.endsWith("/")) path = path.replace(/\/+$/, "");
      const dataSize = type === "file" || type === undefined ? size : 0;
      let consumed = 0;
      const data = async function* (): AsyncGenerator<Uint8Array> {
        while (consumed < dataSize) {
          const part = await r.some(Math.min(dataSize - consumed, 1 << 20));
          if (!part) throw new Error("Cannot read the tar stream: it ends inside a file");
          consumed += part.length;
          yield part;
        }
      };
      if (type !== undefined) {
        yield {
          header: {
            path,
            type: path.endsWith("/") ? "dir" : type,
            mode: _num(b, 100, 8),
            uid: rec.has("uid") ? Number(text("uid")) : _num(b, 108, 8),
            gid: rec.has("gid") ? Number(text("gid")) : _num(b, 116, 8),
            size: dataSize,
            mtime: rec.has("mtime") ? Math.floor(Number(text("mtime"))) : _num(b, 136, 12),
            linkname: linkname || undefined,
            devmajor: _num(b, 329, 8),
            devminor: _num(b, 337, 8),
            xattrs: xattrs.length ? xattrs : undefined,
          },
          data,
        };
      }
      await r.skip(dataSize - consumed + _pad(dataSize));
    }
  } finally {
    r.cancel();
  }
}
