/**
 * Back up a directory of a container (or any process) as a .tar on the host, with no
 * tar, shell or anything else inside it: the archive is streamed (constant memory) from
 * files nsjoin opens within the container's root.
 *
 *   deno run -A examples/tar_backup.ts TARGET PATH_INSIDE OUT.tar
 *
 * TARGET is a PID or a container name (docker:NAME, podman:NAME, …).
 */
import { parseTarget, resolveContainer, tarFrom } from "../mod.ts";

const [where, inside, out] = Deno.args;
if (!where || !inside || !out) {
  console.error("usage: tar_backup.ts TARGET PATH_INSIDE OUT.tar");
  Deno.exit(2);
}
try {
  const target = /^[0-9]+$/.test(where)
    ? parseTarget(where) as number
    : await resolveContainer(where);
  const file = await Deno.open(out, { write: true, create: true, truncate: true });
  await tarFrom(target, inside).pipeTo(file.writable);
  console.log(`${where}:${inside} -> ${out} (${(await Deno.stat(out)).size} bytes)`);
} catch (error) {
  console.error(`tar_backup: ${(error as Error).message}`);
  Deno.exit(1);
}
