/**
 * Port specs of `forward` in kubectl port-forward's dialect: parsing only, apart from
 * src/forward.ts so that the main entry exports `parsePortSpec` without loading the
 * forwarding code.
 *
 * @module
 */

/** A parsed `[ADDR:]LOCAL:REMOTE` of the CLI. */
export interface ForwardedPort {
  /** "tcp" or "udp" (`udp/` prefix). */
  protocol: "tcp" | "udp";
  /** Listening address; undefined means the default (127.0.0.1). */
  hostname?: string;
  /** Local port; 0 means any free port. */
  localPort: number;
  /** Port inside the target. */
  remotePort: number;
}

/** A port spec as text (`8080:80`, `8080`, `:80`, `0.0.0.0:8080:80`, `udp/53`). */
export type PortSpec = string;

/** A port number from `text`; `what` names it in the error ("local", "remote"). */
export function _port(text: string, what: string, allowZero: boolean): number {
  if (!/^[0-9]+$/.test(text)) {
    throw new TypeError(`Cannot use ${JSON.stringify(text)} as the ${what} port: not a number`);
  }
  const n = Number(text);
  if (n > 65535 || (n === 0 && !allowZero)) {
    throw new RangeError(`Cannot use ${text} as the ${what} port: it must be 1-65535`);
  }
  return n;
}

/**
 * Parses a port spec in kubectl port-forward's dialect, plus a listening address:
 * `LOCAL:REMOTE`, `LOCAL` (the same port both sides), `:REMOTE` (any free local port),
 * `ADDR:LOCAL:REMOTE` (`[::1]:8080:80` for IPv6), each optionally `udp/`-prefixed.
 *
 * @param spec the text
 * @returns the parsed port
 * @throws {TypeError} or {RangeError} on a malformed spec
 *
 * @example
 * ```ts
 * import { parsePortSpec } from "@nsjoin/nsjoin";
 * const p = parsePortSpec("udp/0.0.0.0:5353:53");
 * if (p.protocol !== "udp" || p.hostname !== "0.0.0.0" || p.localPort !== 5353) throw new Error();
 * ```
 */
export function parsePortSpec(spec: PortSpec): ForwardedPort {
  let rest = spec;
  let protocol: "tcp" | "udp" = "tcp";
  const proto = rest.match(/^(tcp|udp)\//);
  if (proto) {
    protocol = proto[1] as "tcp" | "udp";
    rest = rest.slice(proto[0].length);
  }
  let hostname: string | undefined;
  const v6 = rest.match(/^\[([0-9a-fA-F:.]+)\]:(.*)$/);
  if (v6) {
    hostname = v6[1];
    rest = v6[2];
  }
  const parts = rest.split(":");
  if (!hostname && parts.length === 3) hostname = parts.shift();
  if (parts.length === 1) {
    const p = _port(parts[0], "local", false);
    return { protocol, hostname, localPort: p, remotePort: p };
  }
  if (parts.length !== 2) {
    throw new TypeError(
      `Cannot parse port spec ${JSON.stringify(spec)}: give [ADDR:]LOCAL:REMOTE, LOCAL or :REMOTE`,
    );
  }
  const localPort = parts[0] === "" ? 0 : _port(parts[0], "local", true);
  return { protocol, hostname, localPort, remotePort: _port(parts[1], "remote", false) };
}
