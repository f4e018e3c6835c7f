import { parseOptions } from "./_args.ts";
import {
  forward as startForward,
  type ForwardedPort,
  type Forwarding,
  parsePortSpec,
} from "../forward.ts";
import type { PinnedProcess } from "../target.ts";
import { escapeTerminal } from "../terminal.ts";
import { pinCliTarget } from "./_target.ts";
import { sealInspector } from "../../ffi/inspector.ts";
import { report, UsageError } from "./_run.ts";

/** The usage text of `forward`. */
export const FORWARD_HELP = `NAME
 nsjoin forward - forward local ports to a container's loopback (kubectl port-forward's dialect)

SYNOPSIS
 nsjoin forward [options] TARGET [ADDR:]LOCAL_PORT:REMOTE_PORT [...]

DESCRIPTION
 Listens on the host and connects each accepted connection to REMOTE_PORT on the target's
 loopback, inside its network namespace, for any engine: services bound to 127.0.0.1 in
 the container become reachable, with no published port and nothing run in the container.
 TARGET: a container name or ID prefix (searched across all engines), docker:NAME|ID,
 podman:NAME|ID, containerd:ID, netns:NAME, a namespace file or a PID. Ports: LOCAL:REMOTE,
 LOCAL (the same port both sides), :REMOTE (a free local port), ADDR:LOCAL:REMOTE
 ([::1]:LOCAL:REMOTE for IPv6), each with an optional udp/ prefix. Runs until Ctrl-C or
 SIGTERM. A connection that finds nothing listening inside is closed; the listener stays
 up. Needs -A.

OPTIONS
     --address <list>  addresses to listen on (comma separated IP addresses or localhost;
                       default localhost: 127.0.0.1 and ::1, as kubectl, so no one else
                       takes ::1)
 -h, --help            display this help

EXIT STATUS
 0 stopped by Ctrl-C or SIGTERM; 1 the target exited ("lost connection"; every connection
 is closed) or a local address and port asked for cannot be listened on (another process
 listens there, or the address is not this host's); 125 the target could not be found;
 2 bad usage or a missing Deno permission.

EXAMPLES
 nsjoin forward web1 8080:80                 localhost:8080 to port 80 inside web1
 nsjoin forward web1 :5432                   a free local port to postgres inside
 nsjoin forward netns:blue udp/5353:53       UDP into a named network namespace`;

/** `forward`'s arguments, parsed. */
export interface ForwardArgs {
  /** -h */
  help: boolean;
  /** --address */
  addresses: string[];
  /** The target. */
  target?: string;
  /** The ports. */
  ports: ForwardedPort[];
}

/** `forward`'s options, for the parser and the shell completions. */
export const FORWARD_OPTIONS = {
  address: { type: "string", multiple: true },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * Parses `forward`'s arguments.
 *
 * @param argv the arguments after `forward`
 * @returns the parsed arguments
 * @throws {UsageError} on unknown options or a missing TARGET or port
 */
export function parseForwardArgs(argv: readonly string[]): ForwardArgs {
  const { values, positionals } = parseOptions(argv, FORWARD_OPTIONS, {
    allowPositionals: true,
  });
  const args: ForwardArgs = {
    help: values.help ?? false,
    addresses: (values.address ?? []).flatMap((a) => a.split(",")).filter(Boolean),
    ports: [],
  };
  if (args.help) return args;
  if (positionals.length < 2) {
    throw new UsageError(`"forward" requires at least 2 arguments: TARGET PORT...`);
  }
  args.target = positionals[0];
  args.ports = positionals.slice(1).map(parsePortSpec);
  // kubectl takes only IP addresses and localhost: a name was looked up on the host, and one
  // that did not resolve ended the forward as "getaddrinfo ENOTFOUND bogus", exit 1.
  for (const a of [...args.addresses, ...args.ports.flatMap((p) => p.hostname ?? [])]) {
    if (!_isListenAddress(a)) {
      throw new UsageError(
        `Cannot listen on ${JSON.stringify(a)}: give an IP address or localhost, as kubectl`,
      );
    }
  }
  return args;
}

/** Whether `text` is `localhost` or an IPv4 or IPv6 address (not a name to look up). */
function _isListenAddress(text: string): boolean {
  if (text === "localhost") return true;
  const v4 = text.match(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
  if (v4) return v4.slice(1).every((n) => Number(n) <= 255);
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(":")) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/** Whether a listen failed because this host has no such address (no IPv6 loopback). */
function _noAddress(error: unknown): boolean {
  return error instanceof Deno.errors.AddrNotAvailable ||
    /EAFNOSUPPORT|address family not supported|EADDRNOTAVAIL/i.test(String(error));
}

function _show(addr: Deno.NetAddr): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}

/**
 * `nsjoin forward`: kubectl port-forward's dialect, for any target with a net namespace.
 *
 * @param argv the arguments after `forward`
 * @returns the exit code
 */
export async function forward(argv: readonly string[]): Promise<number> {
  let pinned: PinnedProcess | string | undefined;
  const running: Forwarding[] = [];
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  try {
    const args = parseForwardArgs(argv);
    if (args.help) {
      console.log(FORWARD_HELP);
      return 0;
    }
    // It runs until stopped: no inspector a SIGUSR1 could open (ffi/inspector.ts).
    await sealInspector();
    pinned = await pinCliTarget(args.target!, true);
    const lines: string[] = [];
    for (const p of args.ports) {
      const hosts = p.hostname
        ? [p.hostname]
        : args.addresses.length
        ? args.addresses
        : ["localhost"];
      for (const host of hosts) {
        // `localhost` is both loopbacks, as kubectl listens: a client looking it up may take
        // ::1 first (Debian's /etc/hosts names both; Deno's fetch, Python, Node do), and a
        // local user listening there got the connections meant for the target (stop 22).
        let port = p.localPort;
        for (const hostname of host === "localhost" ? ["127.0.0.1", "::1"] : [host]) {
          let fwd: Forwarding;
          try {
            fwd = await startForward(pinned, {
              remote: p.remotePort,
              local: { hostname, port },
              protocol: p.protocol,
              signal: stop.signal,
              // kubectl's line names the local port, the one taken for `:REMOTE` too.
              onConnection: () => console.log(`Handling connection for ${port}`),
            });
          } catch (error) {
            // A host without IPv6: no one can listen on ::1, and no client reaches it.
            if (host === "localhost" && hostname === "::1" && _noAddress(error)) continue;
            if (error instanceof Deno.errors.AddrInUse) {
              throw new Error(
                `Cannot listen on ${_show({ transport: "tcp", hostname, port })}: ` +
                  "another process listens there" +
                  (host === "localhost" ? " (localhost is 127.0.0.1 and ::1)" : ""),
              );
            }
            throw error;
          }
          // A free port (`:REMOTE`): the same one on both loopbacks.
          port ||= fwd.local.port;
          running.push(fwd);
          const udp = p.protocol === "udp" ? "/udp" : "";
          lines.push(`Forwarding from ${_show(fwd.local)} -> ${p.remotePort}${udp}`);
        }
      }
    }
    // Said once every listener is up: a forward that fails says nothing was forwarded.
    for (const line of lines) console.log(line);
    Deno.addSignalListener("SIGINT", onSignal);
    Deno.addSignalListener("SIGTERM", onSignal);
    // The first to end decides: a signal (all resolve) or the target exiting (one rejects).
    await Promise.race(running.map((f) => f.done));
    return 0;
  } catch (error) {
    if (error instanceof Error && /it exited/.test(error.message)) {
      console.error(`nsjoin forward: ${escapeTerminal(error.message)}`);
      return 1;
    }
    return report(error, "forward");
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    await Promise.allSettled(running.map((f) => f.close()));
    if (typeof pinned === "object") pinned.close();
  }
}
