/**
 * Every running container on this host, of any engine, and the hostname and first
 * address (from its own /etc/hosts) each one has — without docker's or podman's CLI. As root:
 *
 *   deno run -A examples/containers.ts
 *
 * A container that cannot be asked (paused, gone since the listing) is listed with why.
 */
import { containerExecOptions, findContainers, NsCommand, resolveContainer } from "../mod.ts";

const decoder = new TextDecoder();

/** Its hostname and address, or why they could not be asked. */
async function ask(id: string): Promise<{ pid: string; answer: string }> {
  try {
    using c = await resolveContainer(id);
    // One container that does not answer (its resolver hangs `hostname -i`) must not stop
    // the listing: 5 s each, then it and what it started are killed.
    const { code, signal, stdout, stderr } = await new NsCommand("sh", {
      ...containerExecOptions(c),
      args: ["-c", "hostname; hostname -i"],
      signal: AbortSignal.timeout(5000),
      killTree: true,
    }).output();
    const [hostname = "?", addr = ""] = decoder.decode(stdout).trim().split("\n");
    const answer = code === 0
      ? `${hostname} ${addr.trim()}`
      : signal === "SIGTERM"
      ? "no answer in 5 s"
      : decoder.decode(stderr).trim();
    return { pid: String(c.pid), answer };
  } catch (error) {
    return { pid: "-", answer: (error as Error).message };
  }
}

for (const found of await findContainers()) {
  const { pid, answer } = await ask(found.id);
  const name = found.name ?? found.id.slice(0, 12);
  console.log(`${found.engine.padEnd(10)} ${name.padEnd(24)} pid ${pid.padEnd(7)} ${answer}`);
}
