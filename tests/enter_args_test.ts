/**
 * `enter`'s argument parser: nsenter's getopt rules, without running anything.
 */
import { enterOptions, parseEnterArgs } from "../src/cli/enter.ts";
import { UsageError } from "../src/cli/_run.ts";
import { assertEquals, assertThrows } from "./_fixtures.ts";

Deno.test("enter parses nsenter's options and stops at the program", () => {
  const a = parseEnterArgs(["-t", "42", "-a", "ip", "-br", "-a", "addr"]);
  assertEquals([a.target, a.all, a.command], [42, true, ["ip", "-br", "-a", "addr"]]);
  const b = parseEnterArgs(["--target=42", "--net", "--uts", "--", "-x"]);
  assertEquals([b.target, b.namespaces, b.command], [42, { net: true, uts: true }, ["-x"]]);
});

Deno.test("enter takes namespace files as -nFILE and --net=FILE, and -mu as -m with file u", () => {
  assertEquals(parseEnterArgs(["-n/run/netns/a"]).namespaces, { net: "/run/netns/a" });
  assertEquals(parseEnterArgs(["--net=/run/netns/a"]).namespaces, { net: "/run/netns/a" });
  assertEquals(parseEnterArgs(["-mu"]).namespaces, { mnt: "u" });
  assertEquals(parseEnterArgs(["-at42"]).target, 42);
});

Deno.test("enter's -r and -w take optional values, -S -G -W required ones", () => {
  const a = parseEnterArgs(["-t", "1", "-a", "-r", "-w", "-S", "follow", "-G", "7"]);
  assertEquals([a.root, a.wd, a.uid, a.gid], [true, true, "follow", 7]);
  assertEquals(parseEnterArgs(["-t", "1", "-a", "-W", "/srv"]).wdns, "/srv");
  const b = parseEnterArgs([
    "-t",
    "1",
    "-a",
    "--root=/x",
    "--wd=/y",
    "--preserve-credentials",
    "-e",
    "-F",
  ]);
  assertEquals([b.root, b.wd, b.preserveCredentials, b.env, b.noFork], [
    "/x",
    "/y",
    true,
    true,
    true,
  ]);
});

Deno.test("enter refuses what nsenter refuses, as usage errors", () => {
  assertThrows(() => parseEnterArgs(["-q"]), UsageError, "unknown option -q");
  assertThrows(() => parseEnterArgs(["--bogus"]), UsageError, "unknown option --bogus");
  assertThrows(() => parseEnterArgs(["-t"]), UsageError, "requires an argument");
  assertThrows(() => parseEnterArgs(["-S", "root"]), UsageError, "takes a number");
  assertThrows(() => parseEnterArgs(["--all=1"]), UsageError, "takes no value");
  assertThrows(() => parseEnterArgs(["-t", "0"]), UsageError, "above 0");
  assertThrows(() => enterOptions(parseEnterArgs(["-a", "true"])), UsageError, "no target");
  assertThrows(() => enterOptions(parseEnterArgs(["-t", "5", "true"])), UsageError, "no namespace");
});

Deno.test("enter without -t uses the namespace files given, and $SHELL as the program", () => {
  const { program, options } = enterOptions(parseEnterArgs(["--net=/run/netns/x"]));
  assertEquals(options.target, "/run/netns/x");
  assertEquals(program, Deno.env.get("SHELL") || "/bin/sh");
});

Deno.test("enter parses the newest nsenter's options: -N, -c, --keep-caps, --user-parent, -Z, -V", () => {
  const a = parseEnterArgs(["-t", "42", "-N", "3", "-c", "--keep-caps", "--user-parent", "-Z"]);
  assertEquals(
    [a.netSocket, a.joinCgroup, a.keepCaps, a.userParent, a.followContext],
    [3, true, true, true, true],
  );
  assertEquals(parseEnterArgs(["-N3", "-t42"]).netSocket, 3);
  assertEquals(parseEnterArgs(["--net-socket=5", "--join-cgroup", "-t1"]).netSocket, 5);
  assertEquals(parseEnterArgs(["-V"]).version, true);
  assertEquals(parseEnterArgs(["--version"]).version, true);
  assertThrows(() => parseEnterArgs(["--keep-caps=1"]), UsageError);
  assertThrows(() => parseEnterArgs(["-N", "x"]), UsageError);
});

Deno.test('enter takes --TYPE=:NSID as the newest nsenter ("If a namespace file name starts with a colon, prepend ./")', () => {
  assertEquals(parseEnterArgs(["-t", "42:1234", "-n"]).target, "42:1234");
  assertEquals(parseEnterArgs(["--net=:77", "-t1"]).namespaces, { net: { nsid: 77n } });
  assertEquals(parseEnterArgs(["-n:77", "-t1"]).namespaces, { net: { nsid: 77n } });
  assertEquals(parseEnterArgs(["--net=./:77"]).namespaces, { net: "./:77" });
  assertThrows(() => parseEnterArgs(["--net=:x"]), UsageError);
});

Deno.test("enter's -N and -c need -t, as nsenter's", () => {
  assertThrows(() => enterOptions(parseEnterArgs(["-N", "3", "-n/run/netns/x"])), UsageError);
  assertThrows(() => enterOptions(parseEnterArgs(["-c", "-n/run/netns/x"])), UsageError);
  const o = enterOptions(parseEnterArgs(["-t", String(Deno.pid), "-n", "--keep-caps", "true"]));
  assertEquals([o.options.keepCaps, o.options.shellFallback], [true, true]);
});

Deno.test("enter takes getopt_long's unique prefixes of nsenter's long options, not of ours", () => {
  assertEquals(parseEnterArgs(["--tar", "42", "--ut", "--pre"]).target, 42);
  assertEquals(parseEnterArgs(["--tar=42", "--ipc=/run/ipc", "--mou=/run/m"]).namespaces, {
    ipc: "/run/ipc",
    mnt: "/run/m",
  });
  // An exact name wins over the longer ones it begins (--net, --net-socket; --wd, --wdns).
  assertEquals(parseEnterArgs(["--wd=/x"]).wd, "/x");
  assertThrows(() => parseEnterArgs(["--n"]), UsageError, "'--net' '--net-socket' '--no-fork'");
  assertThrows(() => parseEnterArgs(["--w", "/x"]), UsageError, "ambiguous");
  // --kill-on-exit is ours: spelled out, so --k is nsenter's --keep-caps.
  assertEquals(parseEnterArgs(["--k"]).keepCaps, true);
  assertThrows(() => parseEnterArgs(["--kill"]), UsageError, "unknown option --kill");
});

Deno.test("enter reads values as getopt hands them over: --opt= is empty, -X=FILE skips the =", () => {
  // `--setuid=` is "" (not a uid), never the next argument.
  assertThrows(() => parseEnterArgs(["--setuid=", "5"]), UsageError, 'not ""');
  assertThrows(() => parseEnterArgs(["--target=", "5"]), UsageError);
  // The newest nsenter skips one "=" of a namespace file or directory.
  assertEquals(parseEnterArgs(["-n=/run/netns/a"]).namespaces, { net: "/run/netns/a" });
  assertEquals(parseEnterArgs(["-t1", "-W=/srv"]).wdns, "/srv");
  assertEquals(parseEnterArgs(["-t1", "-w=/srv"]).wd, "/srv");
  assertEquals(parseEnterArgs(["-r=/x"]).root, "=/x");
  assertThrows(() => parseEnterArgs(["-t", "1", "-t", "2"]), UsageError, "only once");
  assertThrows(() => parseEnterArgs(["-w", "-W/x"]), UsageError, "mutually exclusive");
  // `--net=` is the file "" for getopt, never the target's namespace.
  assertThrows(() => parseEnterArgs(["-t1", "--net="]), UsageError, "needs a namespace file");
  assertThrows(() => parseEnterArgs(["-t1", "-n", "--root="]), UsageError, "needs a directory");
  assertThrows(() => parseEnterArgs(["-t1", "-n", "--wd="]), UsageError, "needs a directory");
  assertEquals(parseEnterArgs(["-t1", "--net", "-n"]).namespaces, { net: true });
});
