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
  const a = parseEnterArgs(["-t", "1", "-a", "-r", "-w", "-S", "follow", "-G", "7", "-W", "/srv"]);
  assertEquals([a.root, a.wd, a.uid, a.gid, a.wdns], [true, true, "follow", 7, "/srv"]);
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
