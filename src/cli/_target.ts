import { resolveContainer } from "../containers.ts";
import { isPidText, parseTarget, type PinnedProcess, pinProcess } from "../target.ts";

/**
 * A CLI target for cp and forward: a PID, `PID:inode`-free; a container of any engine
 * (`docker:NAME`, `podman:NAME`, a bare name or ID prefix), pinned; or, when `files` is
 * set, a namespace file or `netns:NAME` (forward needs only a net namespace).
 */
export async function pinCliTarget(
  text: string,
  files = false,
): Promise<PinnedProcess | string> {
  if (isPidText(text)) return pinProcess(parseTarget(text) as number);
  if (/^[/.]/.test(text) || text.startsWith("netns:")) {
    if (!files) {
      throw new TypeError(
        `Cannot copy with ${
          JSON.stringify(text)
        }: give a container or a PID (a namespace file has no files)`,
      );
    }
    return parseTarget(text) as string;
  }
  return await resolveContainer(text);
}
