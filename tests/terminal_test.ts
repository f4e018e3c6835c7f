/**
 * The terminal relay of `exec -t` (the helper's Y, ffi/helper.c): what happens on the
 * caller's terminal reaches the program in the order it happened there.
 */
import { assertMatch, makeTarget, NEEDS_ROOT, ROOT, sh } from "./_fixtures.ts";

/** `Key:\tvalue` of /proc/PID/status. */
function statusField(pid: number, key: string): string {
  const line = Deno.readTextFileSync(`/proc/${pid}/status`).split("\n")
    .find((l) => l.startsWith(`${key}:`));
  return line ? line.slice(key.length + 1).trim() : "";
}

const ppidOf = (pid: number): number => Number(statusField(pid, "PPid"));
const commOf = (pid: number): string => Deno.readTextFileSync(`/proc/${pid}/comm`).trim();
const nap = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "exec -it: a resize of the caller's terminal reaches the program before what is typed after it",
  ignore: NEEDS_ROOT,
  async fn() {
    // A user resizes the window, then types `stty size`: the program must see the new size.
    // The relay once copied the keystrokes into the pty before it handled the SIGWINCH that
    // came first, when both were pending at once (it was busy or descheduled); stty could
    // then run before the new size was set (seen as a flake of the tmux tests under load).
    // Here the relay is stopped while both happen, and strace makes its ioctls slow, so
    // the program wins any race the relay leaves open.
    await using target = await makeTarget({ flags: ["-u"], hostname: "resize" });
    const socket = `nsjoin-resize-${crypto.randomUUID().slice(0, 8)}`;
    const tmux = (...args: string[]) => sh("tmux", ["-L", socket, ...args]);
    const pane = async (re: RegExp): Promise<string> => {
      let text = "";
      for (let i = 0; i < 150; i++) {
        text = await tmux("capture-pane", "-p", "-t", "s");
        if (re.test(text)) return text;
        await nap(100);
      }
      throw new Error(`tmux pane never matched ${re}:\n${text}`);
    };
    let strace: Deno.ChildProcess | undefined;
    try {
      await tmux(
        ...["-f", "/dev/null", "new-session", "-d", "-x", "100", "-y", "30", "-s", "s"],
        ...["env", "TERM=xterm", Deno.execPath(), "run", "-A", "--quiet", "--no-lock"],
        ...[`${ROOT}cli.ts`, "exec", "-it", String(target.pid), "sh"],
      );
      await pane(/^# ?$/m);
      await tmux("send-keys", "-t", "s", "echo P=$$ host=$(hostname)", "Enter");
      const programPid = Number(/^P=(\d+) host=resize\s*$/m.exec(await pane(/^P=\d+ /m))![1]);
      // The helper's processes above the program: the topmost is the relay.
      const helperComm = commOf(ppidOf(programPid));
      let relay = ppidOf(programPid);
      while (commOf(ppidOf(relay)) === helperComm) relay = ppidOf(relay);

      strace = new Deno.Command("strace", {
        args: ["-qq", "-o", "/dev/null", "-e", "trace=ioctl"]
          .concat(["-e", "inject=ioctl:delay_enter=500000", "-p", String(relay)]),
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      for (let i = 0; i < 500 && statusField(relay, "TracerPid") !== String(strace.pid); i++) {
        await nap(10);
      }
      Deno.kill(relay, "SIGSTOP");
      for (let i = 0; i < 500 && !/^[tT]/.test(statusField(relay, "State")); i++) await nap(10);
      await tmux("resize-window", "-t", "s", "-x", "120", "-y", "40");
      await tmux("send-keys", "-t", "s", "stty size", "Enter");
      await nap(200);
      Deno.kill(relay, "SIGCONT");
      const after = await pane(/^(30 100|40 120)\s*$/m);
      assertMatch(after, /^40 120\s*$/m);
    } finally {
      try {
        strace?.kill("SIGTERM");
      } catch {
        // It ended already.
      }
      await strace?.status;
      await sh("tmux", ["-L", socket, "kill-server"]).catch(() => {});
    }
  },
});
