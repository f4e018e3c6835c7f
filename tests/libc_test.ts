/**
 * ffi/libc.ts binds dlsym and __errno_location with a by-value struct result, so that Deno
 * compiles no fast-call trampoline for them, and makes the EXEC_SYMBOLS calls through
 * syscall(): results, errno and dlsym's addresses must be what the libc wrappers give.
 */
import { _CORE, SYMBOLS } from "../ffi/libc.ts";
import { assert, assertEquals, ROOT, runPiped } from "./_fixtures.ts";

// ---- stop 27: nothing is allocated between a libc call's return and its errno read
Deno.test("every libc function whose errno is read has an i32 result: Deno allocates nothing before the read", async () => {
  // Deno 2.9 makes a 64-bit result a BigInt and a pointer a v8::External, heap objects made
  // between the native return and the errno read, where a collection can change errno (an
  // i64 syscall() result gave EAGAIN for a close(-1) once in CI); an i32 is a small integer.
  // Results whose errno is never read: errno's own address, getpwuid's entry (NULL: not
  // found), poll on a pool thread, and lseek's offset (its errno comes from lseek_errno).
  const notRead = ["__errno_location", "getpwuid", "freeaddrinfo", "poll_async", "lseek"];
  const wide = Object.entries({ ...SYMBOLS, _CORE_syscall: _CORE.syscall })
    .filter(([name, def]) => !notRead.includes(name) && def.result !== "i32")
    .map(([name, def]) => `${name}: ${JSON.stringify(def.result)}`);
  assertEquals(wide, []);
  // The EXEC_SYMBOLS set goes through syscall(): in a fresh process, where every call takes
  // Deno's slow path, each result is already a number, as close(-1)'s errno is EBADF.
  const script = `
    import { errno, EXEC_SYMBOLS, libcSubset, SYSCALL_NUMBERS } from "${ROOT}ffi/libc.ts";
    const lib = libcSubset(...EXEC_SYMBOLS);
    const nr = SYSCALL_NUMBERS[Deno.build.arch];
    const buf = new Uint8Array(16);
    const path = new TextEncoder().encode("/proc/self/ns/net\\0");
    const results = {
      syscall: lib.syscall(nr.geteuid, 0n, 0n, 0n),
      read: lib.read(-1, buf, 16n),
      write: lib.write(-1, buf, 16n),
      readlink: lib.readlink(path, buf, 16n),
      openat2: lib.openat2(437n, -1n, path, buf, 24n),
      close: lib.close(-1),
    };
    const closeErrno = errno();
    console.log(JSON.stringify({ types: Object.values(results).map((r) => typeof r), closeErrno }));
  `;
  const out = await runPiped(Deno.execPath(), { args: ["eval", "--quiet", script] });
  assertEquals(out.code, 0, out.stderr);
  assertEquals(JSON.parse(out.stdout), { types: Array(6).fill("number"), closeErrno: 9 });
});

Deno.test("libc calls through syscall() give the same results and errno, cold and hot", async () => {
  // A process of its own: its first calls are cold ones.
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
      // EBADF from the call right before.
      seen.push(JSON.stringify([link, closed, errno()]));
    }
    // dlsym's struct result is the function's address: a call through it works.
    const getpid = libcFunction("getpid", { parameters: [], result: "i32" });
    console.log(JSON.stringify({ distinct: [...new Set(seen)], pid: getpid.call() === Deno.pid }));
  `;
  // Many fresh processes: with errno read by errno() after the call returned, 1–6% of them
  // saw ENOENT once (V8's one-time clock calibration on this thread, at errno()'s entry; see
  // _errnoCell in ffi/libc.ts). 100 runs (~3 s) caught that in about half the test runs.
  const expected = JSON.stringify([Deno.readLinkSync("/proc/self/ns/net"), -1, 9]);
  for (let run = 0; run < 100; run++) {
    const out = await runPiped(Deno.execPath(), { args: ["eval", "--quiet", script] });
    assertEquals(out.code, 0, out.stderr);
    assertEquals(
      JSON.parse(out.stdout),
      { distinct: [expected], pid: true },
      `run ${run}: ${out.stdout}`,
    );
  }
});

// ---- stop 22: the environment read's fast path
Deno.test("environEntries while a Worker unsets the kernel's variables: a state before or after each, never a mix", async () => {
  // Until the first setenv, environ is the array the kernel made, and an unsetenv moves its
  // pointers down in place, one at a time, while another thread may be copying it. Only a
  // copy that is exactly the kernel's layout passes for the untouched environment; a copy
  // taken mid-move (a variable twice, or one skipped) must be checked against Deno.env and
  // read again. Deno.env calls wait for the Worker's unsetenv (Rust's lock): this loop
  // calls environEntries alone, as a command's start does between two of them.
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-env-unset-" });
  try {
    await Deno.writeTextFile(
      `${dir}/worker.ts`,
      `self.onmessage = (e) => {
  const flag = new Int32Array(e.data);
  Atomics.store(flag, 0, 1);
  for (let i = 0; i < ${N_UNSET}; i++) Deno.env.delete("D" + String(i).padStart(5, "0"));
  Atomics.store(flag, 0, 2);
};
`,
    );
    await Deno.writeTextFile(
      `${dir}/main.ts`,
      `import { environEntries } from ${JSON.stringify(`${ROOT}ffi/libc.ts`)};
// Every address is one of the kernel's strings or setenv's, and neither is ever freed.
const at = new Map<bigint, string>();
const line = (e: bigint | string) => {
  if (typeof e === "string") return e;
  let l = at.get(e);
  if (l === undefined) at.set(e, l = Deno.UnsafePointerView.getCString(Deno.UnsafePointer.create(e)!));
  return l;
};
environEntries({}).forEach(line);
const flag = new Int32Array(new SharedArrayBuffer(4));
const worker = new Worker(new URL("./worker.ts", import.meta.url).href, { type: "module" });
worker.postMessage(flag.buffer);
const wrong = new Set<string>();
let copies = 0;
do {
  const during = Atomics.load(flag, 0) === 1;
  const lines = environEntries({}).map(line);
  if (during && Atomics.load(flag, 0) === 1) copies++;
  // The worker unsets D00000, D00001, … in order: what is left is D<k>…D<last>, each once
  // (in environ's order, or in Deno's where the copy kept changing).
  const ours = (l: string) => l.length === 8 && l.startsWith("D") && l.endsWith("=x");
  const d = lines.filter(ours).map((l) => Number(l.slice(1, 6))).sort((a, b) => a - b);
  const suffix = d.every((n, i) => n === ${N_UNSET} - d.length + i);
  if (new Set(lines).size !== lines.length || !lines.includes("KEEP=1") || !suffix) {
    wrong.add(JSON.stringify([d.length, d[0], lines.filter((l) => !ours(l))]));
  }
} while (Atomics.load(flag, 0) !== 2);
worker.terminate();
console.log(JSON.stringify({ copies, wrong: [...wrong].slice(0, 3) }));
`,
    );
    const env: Record<string, string> = {};
    for (let i = 0; i < N_UNSET; i++) env[`D${String(i).padStart(5, "0")}`] = "x";
    // With no PATH, Deno's start sets one (setenv): environ would no longer be the kernel's.
    Object.assign(env, { KEEP: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
    for (let run = 0; run < 2; run++) {
      const out = await runPiped(Deno.execPath(), {
        args: ["run", "-A", "--quiet", "--no-lock", `${dir}/main.ts`],
        clearEnv: true,
        env,
      });
      assertEquals(out.code, 0, out.stderr);
      const { copies, wrong } = JSON.parse(out.stdout);
      assertEquals(wrong, [], `run ${run}: ${out.stdout}`);
      assert(copies >= 3, `only ${copies} copies while the Worker unset variables, run ${run}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Variables the kernel gives the test's process, unset one by one by its Worker. */
const N_UNSET = 15000;
