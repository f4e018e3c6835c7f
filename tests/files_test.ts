import { isNotFound, readTextFileSafe } from "../ffi/files.ts";
import { SyscallError } from "../ffi/libc.ts";
import { escapeTerminal } from "../src/terminal.ts";
import {
  assertEquals,
  assertStrictEquals,
  assertThrows,
  NEEDS_ROOT,
  ROOT,
  runPiped,
} from "./_fixtures.ts";

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

// ---- stop 26: a read as other ids gives back the thread's capabilities as they were
Deno.test({
  name: "a read as other filesystem ids leaves a capability dropped from the effective set dropped",
  ignore: NEEDS_ROOT,
  async fn() {
    // When fsuid returns to 0 the kernel raises the filesystem capabilities in the effective
    // set from the permitted set: a caller that had dropped CAP_DAC_OVERRIDE and
    // CAP_DAC_READ_SEARCH from its effective set only (keeping them permitted, to raise them
    // when it means to) had them back on that thread after any read done as other ids.
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fscaps-" });
    try {
      await Deno.writeTextFile(`${dir}/public`, "hello\n");
      await Deno.chmod(dir, 0o755);
      await Deno.chmod(`${dir}/public`, 0o644);
      await Deno.writeTextFile(
        `${dir}/probe.ts`,
        `import { readTextFileSafe } from "${ROOT}ffi/files.ts";
const lib = Deno.dlopen("libc.so.6", {
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
});
const nr = Deno.build.arch === "x86_64" ? { capget: 125n, capset: 126n } : { capget: 90n, capset: 91n };
const ptr = (a: Uint32Array) => BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(a)));
const header = new Uint32Array([0x20080522, 0]), caps = new Uint32Array(6);
if (lib.symbols.syscall(nr.capget, ptr(header), ptr(caps)) !== 0n) throw new Error("capget");
caps[0] &= ~(1 << 1 | 1 << 2); // effective only: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
if (lib.symbols.syscall(nr.capset, ptr(header), ptr(caps)) !== 0n) throw new Error("capset");
// Sync file ops run on the calling thread: this thread's own sets.
const eff = () => Deno.readTextFileSync("/proc/thread-self/status").match(/^CapEff:\\s+(\\S+)$/m)![1];
const before = eff();
const read = readTextFileSafe(Deno.args[0], { ids: { uid: 65534, gid: 65534 } });
console.log(JSON.stringify({ before, after: eff(), read }));
`,
      );
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", `${dir}/probe.ts`, `${dir}/public`],
      });
      assertEquals(out.code, 0, out.stderr);
      const seen = JSON.parse(out.stdout) as { before: string; after: string; read: string };
      assertEquals(seen.read, "hello\n");
      assertEquals(BigInt(`0x${seen.before}`) & 6n, 0n, "the probe dropped them");
      // Without the capset: 6 (both back) after the read.
      assertEquals(seen.after, seen.before);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
