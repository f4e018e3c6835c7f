/**
 * ffi/libc.ts binds its core symbols (syscall, dlsym, errno) with a by-value struct in each
 * signature, so that Deno compiles no fast-call trampoline for them, and moves the
 * EXEC_SYMBOLS calls to a syscall() bound with one after SLOW_CALLS calls. Both bindings
 * must pass the same arguments and give the same results and errno.
 */
import { assertEquals, ROOT, runPiped } from "./_fixtures.ts";

Deno.test("libc calls give the same results and errno before and after syscall() is rebound", async () => {
  // A process of its own: the switch happens once per process, at the 250th call.
  const script = `
    import { errno, EXEC_SYMBOLS, libcFunction, libcSubset } from "${ROOT}ffi/libc.ts";
    const lib = libcSubset(...EXEC_SYMBOLS);
    const path = new TextEncoder().encode("/proc/self/ns/net\\0");
    const buf = new Uint8Array(256);
    const seen = [];
    for (let i = 0; i < 600; i++) {
      const n = Number(lib.readlink(path, buf, 256n));
      const link = new TextDecoder().decode(buf.subarray(0, n));
      const closed = lib.close(-1);
      // EBADF from the call right before, whichever binding made it.
      seen.push(JSON.stringify([link, closed, errno()]));
    }
    // dlsym's struct result is the function's address: a call through it works.
    const getpid = libcFunction("getpid", { parameters: [], result: "i32" });
    console.log(JSON.stringify({ distinct: [...new Set(seen)], pid: getpid.call() === Deno.pid }));
  `;
  const out = await runPiped(Deno.execPath(), { args: ["eval", "--quiet", script] });
  assertEquals(out.code, 0, out.stderr);
  const expected = JSON.stringify([Deno.readLinkSync("/proc/self/ns/net"), -1, 9]);
  assertEquals(JSON.parse(out.stdout), { distinct: [expected], pid: true });
});
