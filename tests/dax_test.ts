import { daxIn } from "../dax.ts";
import { assertEquals, assertMatch, assertRejects, makeTarget, NEEDS_ROOT } from "./_fixtures.ts";

/** A target with its own hostname, os-release, an empty /usr/local/bin and a directory only it has. */
function daxTarget() {
  return makeTarget({
    hostname: "dax-inside",
    setup: [
      "mount -t tmpfs nsjoin /mnt",
      "mkdir /mnt/only-inside",
      "echo ID=dax-inside > /mnt/os-release",
      "mount --bind /mnt/os-release /etc/os-release",
      "mount -t tmpfs nsjoin /usr/local/bin",
    ].join(" && "),
  });
}

Deno.test({
  name: "daxIn runs commands and pipes inside the target",
  ignore: NEEDS_ROOT,
  async fn(t) {
    await using target = await daxTarget();
    const $ = daxIn(target.pid);
    await t.step("programs see the target's uts and mount namespaces", async () => {
      assertEquals(await $`hostname`.text(), "dax-inside");
      assertEquals(await $`cat /etc/os-release`.text(), "ID=dax-inside");
    });
    await t.step("a pipe between two programs, both inside", async () => {
      assertEquals(await $`cat /etc/os-release | tr a-z A-Z`.text(), "ID=DAX-INSIDE");
      assertEquals(await $`ip -o link | wc -l`.text(), "1");
    });
    await t.step(".json() and .stdinText()", async () => {
      const links = await $`ip -j link`.json() as { ifname: string }[];
      assertEquals(links.map((l) => l.ifname), ["lo"]);
      assertEquals(await $`tr a-z A-Z`.stdinText("from the host").text(), "FROM THE HOST");
      const bytes = new TextEncoder().encode("a\nb\nc\n");
      assertEquals(await $`wc -l`.stdin(bytes).text(), "3");
    });
    await t.step("interpolated values are escaped as dax does", async () => {
      const odd = "two words; $(hostname)";
      assertEquals(await $`echo ${odd} | cat`.text(), odd);
    });
    await t.step("cd checks the directory inside the target", async () => {
      assertEquals(await $`cd /mnt/only-inside && pwd`.text(), "/mnt/only-inside");
      const r = await $`cd /mnt/not-there`.noThrow().stderr("piped");
      assertEquals(r.code, 1);
      assertMatch(r.stderr, /Not a directory in the target/);
    });
  },
});

Deno.test({
  name: "daxIn reports exit codes and never falls back to a host program",
  ignore: NEEDS_ROOT,
  async fn() {
    await using target = await daxTarget();
    const $ = daxIn(target.pid);
    assertEquals((await $`sh -c "exit 3"`.noThrow()).code, 3);
    await assertRejects(async () => {
      await $`sh -c "exit 4"`.quiet();
    }, /Exited with code: 4/);
    const failing = await $`sh -c "echo oops >&2; exit 1" && echo never`.noThrow()
      .captureCombined();
    assertEquals([failing.code, failing.combined], [1, "oops\n"]);
    // A program in the host's /usr/local/bin, which the target hides under a tmpfs.
    const name = `nsjoin-host-only-${Deno.pid}`;
    await Deno.writeTextFile(`/usr/local/bin/${name}`, "#!/bin/sh\necho host\n", { mode: 0o755 });
    try {
      assertEquals((await new Deno.Command(name, { stdout: "piped" }).output()).code, 0);
      const missing = await $`${name}`.noThrow().stderr("piped");
      assertEquals(missing.code, 127);
      assertMatch(missing.stderr, new RegExp(`${name}: command not found`));
    } finally {
      await Deno.remove(`/usr/local/bin/${name}`);
    }
    // A program that is found inside reports its own code through a pipe's last stage.
    assertEquals((await $`echo x | grep -q y`.noThrow()).code, 1);
  },
});
