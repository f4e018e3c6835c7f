/**
 * Measures which tests of tests/security_test.ts never reach the per-namespace-fd path
 * (NSJOIN_NO_PIDFD_SETNS=1) and writes them to tests/_fallback_unreached.json, for
 * tests/_fallback_security.ts. In a copy of this tree, the helper is built with one
 * addition at the start of that path (it appends "FALLBACK" to a log), and the security
 * tests run on the fallback with each test's start and end in the same log: a test with no
 * "FALLBACK" between its two lines never ran that code. Needs root, the engines and a C
 * compiler (as deno task build:helper); takes as long as the security tests (~2 min).
 *
 *   deno run -A tests/_fallback_reach.ts
 */
import { fingerprint, MEASURE, UNREACHED_FILE } from "./_fallback_filter.ts";

const ROOT = new URL("..", import.meta.url).pathname;
/** The first line of the fallback in ffi/helper.c, where the note is put. */
const MARK = "/* No setns(pidfd) (before 5.8) or refused as a whole: one fd per namespace, which";

async function must(cmd: string, args: string[], options: Deno.CommandOptions = {}) {
  const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped", ...options })
    .output();
  const out = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  if (!o.success) throw new Error(`${cmd} ${args.join(" ")} failed:\n${out}`);
  return out;
}

const copy = await Deno.makeTempDir({ prefix: "nsjoin-fallback-reach-" });
try {
  await must("sh", [
    "-c",
    `tar -C "$1" --exclude=.git -cf - . | tar -C "$2" -xf -`,
    "sh",
    ROOT,
    copy,
  ]);
  // Helpers that run as another user (tests of rootless callers) note it too.
  const log = `${copy}/fallback.log`;
  await Deno.writeTextFile(log, "");
  await Deno.chmod(log, 0o666);
  await Deno.chmod(copy, 0o755);
  const c = await Deno.readTextFile(`${copy}/ffi/helper.c`);
  if (c.split(MARK).length !== 2) {
    throw new Error(`ffi/helper.c: the fallback's mark moved: ${MARK}`);
  }
  const note = `{ long lf = sys4(SYS_openat, AT_FDCWD, ${JSON.stringify(log)}, ` +
    `02000 | O_WRONLY | O_CLOEXEC, 0); ` +
    `if (lf >= 0) { sys3(SYS_write, lf, "FALLBACK\\n", 9); sys1(SYS_close, lf); } }\n      `;
  await Deno.writeTextFile(`${copy}/ffi/helper.c`, c.replace(MARK, note + MARK));
  await must(Deno.execPath(), ["task", "build:helper"], { cwd: copy });
  await must(Deno.execPath(), ["task", "build:cli"], { cwd: copy });
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", "--quiet", "--no-lock", "tests/_fallback_security.ts"],
    cwd: copy,
    env: { NSJOIN_NO_PIDFD_SETNS: "1", NSJOIN_FALLBACK_TRACE: log, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(run.stdout) + new TextDecoder().decode(run.stderr);
  if (!run.success) throw new Error(`The security tests failed on the fallback:\n${out}`);
  const reached = new Map<string, number>();
  let current: string | undefined;
  for (const line of (await Deno.readTextFile(log)).split("\n")) {
    if (line.startsWith("START ")) reached.set(current = line.slice(6), 0);
    else if (line === "END") current = undefined;
    else if (line === "FALLBACK" && current !== undefined) {
      reached.set(current, reached.get(current)! + 1);
    }
  }
  // The fingerprints of the tests as this tree has them (registered, never run).
  const fns = new Map<string, (...args: never[]) => unknown>();
  const register = Deno.test;
  Object.defineProperty(Deno, "test", {
    value: (def: Deno.TestDefinition) => fns.set(def.name, def.fn),
    configurable: true,
    writable: true,
  });
  await import("./security_test.ts");
  Object.defineProperty(Deno, "test", { value: register, configurable: true, writable: true });
  const unreached = [...reached].filter(([, n]) => n === 0).map(([name]) => name);
  const tests = Object.fromEntries(unreached.map((name) => [name, fingerprint(fns.get(name)!)]));
  await Deno.writeTextFile(
    UNREACHED_FILE,
    JSON.stringify(
      {
        note: `Tests of tests/security_test.ts that never reached the per-namespace-fd path, ` +
          `measured by ${MEASURE}; read by tests/_fallback_security.ts.`,
        tests,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`${reached.size} tests: ${unreached.length} never reach the fallback`);
} finally {
  await Deno.remove(copy, { recursive: true });
}
