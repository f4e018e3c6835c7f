/**
 * Every running container on this host, of any engine, and the hostname and first
 * address (from its own /etc/hosts) each one has — without docker's or podman's CLI. As root:
 *
 *   deno run -A examples/containers.ts
 */
import { containerExecOptions, findContainers, NsCommand, resolveContainer } from "../mod.ts";

const decoder = new TextDecoder();
for (const found of await findContainers()) {
  using c = await resolveContainer(found.id);
  const { code, stdout, stderr } = await new NsCommand("sh", {
    ...containerExecOptions(c),
    args: ["-c", "hostname; hostname -i"],
  }).output();
  const [hostname = "?", addr = ""] = decoder.decode(stdout).trim().split("\n");
  console.log(
    `${c.container.engine.padEnd(10)} ${
      (c.container.name ?? c.container.id.slice(0, 12)).padEnd(24)
    }` +
      ` pid ${String(c.pid).padEnd(7)} ${
        code === 0 ? `${hostname} ${addr.trim()}` : decoder.decode(stderr).trim()
      }`,
  );
}
