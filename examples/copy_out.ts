/**
 * Copy a file out of a container's mount namespace without `docker cp`, and for any
 * engine or none: a Worker inside the container's mount namespace reads it, the host
 * writes it (with its mode). Works for files under tmpfs mounts that only the container
 * sees, and for containers whose image has no shell or cat.
 *
 *   deno run -A examples/copy_out.ts TARGET PATH_INSIDE DEST_ON_HOST
 *
 * TARGET is a PID or a container name.
 */
import { inNamespaces, parseTarget, resolveContainer } from "../mod.ts";

// Errors as one line, like a CLI, not a stack trace.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  console.error(`copy_out: ${e.reason?.message ?? e.reason}`);
  Deno.exit(1);
});

const [where, inside, dest] = Deno.args;
if (!where || !inside || !dest) {
  console.error("usage: copy_out.ts TARGET PATH_INSIDE DEST_ON_HOST");
  Deno.exit(2);
}
const target = /^[0-9]+$/.test(where) ? parseTarget(where) : await resolveContainer(where);

const file = await inNamespaces(target, async (path: string) => ({
  data: await Deno.readFile(path),
  mode: (await Deno.stat(path)).mode ?? 0o644,
}), { namespaces: ["mnt"], arg: inside });
await Deno.writeFile(dest, file.data, { mode: file.mode & 0o777 });
await Deno.chmod(dest, file.mode & 0o777);
console.log(`copied ${file.data.length} bytes: ${where}:${inside} -> ${dest}`);
