/**
 * Reach a service that listens only on a container's loopback, from the host, until
 * Ctrl-C: nothing published, nothing run inside (kubectl port-forward for any container).
 *
 *   deno run -A examples/port_forward.ts TARGET REMOTE_PORT [LOCAL_PORT]
 *
 * TARGET is a PID, a container name or netns:NAME.
 */
import { forward, parseTarget, resolveContainer } from "../mod.ts";

const [where, remote, local] = Deno.args;
if (!where || !remote) {
  console.error("usage: port_forward.ts TARGET REMOTE_PORT [LOCAL_PORT]");
  Deno.exit(2);
}
try {
  const target = /^[0-9]+$/.test(where) || where.startsWith("netns:")
    ? parseTarget(where)
    : await resolveContainer(where);
  const stop = new AbortController();
  Deno.addSignalListener("SIGINT", () => stop.abort());
  const fwd = await forward(target, {
    remote: Number(remote),
    local: Number(local ?? 0),
    signal: stop.signal,
  });
  console.log(`http://127.0.0.1:${fwd.local.port}/ -> ${where} port ${remote} (Ctrl-C stops)`);
  await fwd.done;
} catch (error) {
  console.error(`port_forward: ${(error as Error).message}`);
  Deno.exit(1);
}
