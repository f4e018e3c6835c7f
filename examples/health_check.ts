/**
 * Health-check a service that listens only on a container's loopback (127.0.0.1 inside
 * it), from the host, without curl in the container and without publishing a port: the
 * fetch runs in a Worker inside the container's network namespace.
 *
 *   deno run -A examples/health_check.ts TARGET PORT [PATH]
 *
 * TARGET is a PID, a namespace file (/run/netns/NAME) or a container name. Exits 0 when
 * the answer is 2xx, 1 otherwise, 2 on a usage error.
 */
import { inNamespaces, parseTarget, resolveContainer, type Target } from "../mod.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`health_check: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

const [where, portText, path = "/health"] = Deno.args;
// A port out of range or a PATH without its "/" is a usage error here, not a URL error
// from inside the Worker.
const port = /^[0-9]{1,5}$/.test(portText ?? "") ? Number(portText) : 0;
if (!where || port < 1 || port > 65535 || !path.startsWith("/")) {
  console.error("usage: health_check.ts TARGET PORT [PATH]");
  Deno.exit(2);
}

const target: Target = /^[0-9]+$/.test(where) || where.startsWith("/")
  ? parseTarget(where)
  : await resolveContainer(where);

const result = await inNamespaces(
  target,
  async ({ port, path }: { port: number; path: string }) => {
    const started = performance.now();
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`, {
        signal: AbortSignal.timeout(5000),
      });
      await res.body?.cancel();
      return { status: res.status, ms: performance.now() - started, error: "" };
    } catch (error) {
      // fetch says "fetch failed"; why (refused, reset, timed out) is in its cause.
      const { message, cause } = error as Error & { cause?: Error };
      const why = cause?.message ? `${message}: ${cause.message}` : message;
      return { status: 0, ms: performance.now() - started, error: why };
    }
  },
  { namespaces: ["net"], arg: { port, path } },
);

const url = `http://127.0.0.1:${portText}${path} in ${where}`;
if (result.status >= 200 && result.status < 300) {
  console.log(`healthy: ${url} answered ${result.status} in ${result.ms.toFixed(1)} ms`);
} else {
  console.log(`unhealthy: ${url} ${result.error || `answered ${result.status}`}`);
  Deno.exit(1);
}
