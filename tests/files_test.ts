import { isNotFound, readTextFileSafe } from "../ffi/files.ts";
import { SyscallError } from "../ffi/libc.ts";
import { escapeTerminal } from "../src/terminal.ts";
import { assertEquals, assertStrictEquals, assertThrows } from "./_fixtures.ts";

function errnoOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof SyscallError) return error.errno;
    throw error;
  }
  throw new Error("did not throw");
}

Deno.test("safe reads refuse what a hostile owner can put where a file should be", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/plain`, "root:x:0:0::/root:/bin/sh\n");
    await Deno.mkdir(`${dir}/root/etc`, { recursive: true });
    await Deno.writeTextFile(`${dir}/outside`, "host secret\n");
    await Deno.symlink(`${dir}/outside`, `${dir}/root/etc/abs`);
    await Deno.symlink("../../../outside", `${dir}/root/etc/dotdot`);
    await Deno.symlink("/proc/self/root/" + `${dir}/outside`, `${dir}/root/etc/magic`);
    await Deno.symlink("/etc/real", `${dir}/root/etc/inner`);
    await Deno.writeTextFile(`${dir}/root/etc/real`, "inside\n");
    const fifo = new Deno.Command("mkfifo", { args: [`${dir}/fifo`] }).outputSync();
    assertStrictEquals(fifo.code, 0);

    await t.step("a regular file reads whole", () => {
      assertEquals(readTextFileSafe(`${dir}/plain`), "root:x:0:0::/root:/bin/sh\n");
    });
    await t.step("a FIFO is an error at once, never a hang", () => {
      assertStrictEquals(errnoOf(() => readTextFileSafe(`${dir}/fifo`)), 22);
    });
    await t.step("a device is refused before it is opened for reading", () => {
      assertStrictEquals(errnoOf(() => readTextFileSafe("/dev/zero")), 22);
    });
    await t.step("a file past the cap is EFBIG, not read on", () => {
      assertStrictEquals(errnoOf(() => readTextFileSafe(`${dir}/plain`, { maxBytes: 4 })), 27);
    });
    await t.step("inside a root, absolute and .. symlinks stay in it", () => {
      const root = `${dir}/root`;
      assertEquals(readTextFileSafe("/etc/inner", { root }), "inside\n");
      assert404(() => readTextFileSafe("/etc/abs", { root }));
      assert404(() => readTextFileSafe("/etc/dotdot", { root }));
      assert404(() => readTextFileSafe("/../../outside", { root }));
      // A magic link through /proc would leave the root: the kernel refuses it.
      assertStrictEquals(errnoOf(() => readTextFileSafe("/etc/magic", { root })), 2);
    });
    await t.step("noFollow refuses a symlink anywhere on the path", () => {
      assertStrictEquals(
        errnoOf(() => readTextFileSafe(`${dir}/root/etc/abs`, { noFollow: true })),
        40,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function assert404(fn: () => unknown): void {
  assertThrows(fn, (e: unknown) => isNotFound(e));
}

Deno.test("terminal escaping: control bytes as \\xNN, as lsns prints them", () => {
  assertEquals(escapeTerminal("sleep\n1"), "sleep\\x0a1");
  assertEquals(escapeTerminal("\x1b]0;owned\x07"), "\\x1b]0;owned\\x07");
  assertEquals(escapeTerminal("tab\there"), "tab\\x09here");
  assertEquals(escapeTerminal("C1\u009b"), "C1\\xc2\\x9b");
  assertEquals(escapeTerminal("rtl\u202eexe.txt"), "rtl\\xe2\\x80\\xaeexe.txt");
  assertEquals(escapeTerminal("a literal \\x41"), "a literal \\x5cx41");
  assertEquals(escapeTerminal("café /usr/bin/sleep 1"), "café /usr/bin/sleep 1");
});
