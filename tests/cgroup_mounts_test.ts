// Where exec finds each cgroup hierarchy it joins: at its usual place under /sys/fs/cgroup,
// checked, or from /proc/self/mountinfo — the same mount either way.
import { type CgroupMount, cgroupMountsFor, cgroupMountTable } from "../src/_cgroup_mounts.ts";
import { assert, assertEquals } from "./_fixtures.ts";

/** The mount a hierarchy line is looked up in, as container_exec.ts's cgroupProcsOf picks it. */
function mountOf(mounts: readonly CgroupMount[], controllers: string): CgroupMount | undefined {
  const keys = controllers.split(",");
  return mounts.find((m) => controllers === "" ? m.v2 : !m.v2 && keys.every((k) => m.keys.has(k)));
}

function hierarchies(cgroup: string): string[] {
  return cgroup.trim().split("\n").map((l) => l.split(":")[1]);
}

Deno.test("each hierarchy of a process is found at the mount mountinfo names", () => {
  const table = cgroupMountTable();
  // PID 1's and ours: every hierarchy this host has mounted.
  for (const who of ["self", "1"]) {
    const cgroup = Deno.readTextFileSync(`/proc/${who}/cgroup`);
    const found = cgroupMountsFor(cgroup);
    for (const controllers of hierarchies(cgroup)) {
      const want = mountOf(table, controllers);
      const got = mountOf(found, controllers);
      // A hierarchy we have not mounted: neither finds one.
      assertEquals(
        got && { root: got.root, point: got.point, v2: got.v2 },
        want && { root: want.root, point: want.point, v2: want.v2 },
        `${who}: ${controllers || "cgroup v2"}`,
      );
    }
  }
});

Deno.test("a hierarchy not at its usual place is looked up in mountinfo", () => {
  // No such hierarchy is mounted anywhere: no usual place holds it, so mountinfo decides.
  const cgroup = `${Deno.readTextFileSync("/proc/self/cgroup")}42:name=nsjoin-nowhere:/\n`;
  const found = cgroupMountsFor(cgroup);
  assertEquals(found, cgroupMountTable());
  assert(!mountOf(found, "name=nsjoin-nowhere"));
});
