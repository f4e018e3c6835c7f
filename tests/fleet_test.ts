/**
 * docs/fleet.md's manifests, checked offline against the Kubernetes API schema: no API server
 * is reachable here, and Debian's kubectl (1.20) cannot run `apply --dry-run=client` without
 * one. Two checks, both from kubernetes-models (generated from Kubernetes' OpenAPI spec):
 * its validator (types, required fields, formats) and its TypeScript types, which — unlike
 * the validator — refuse unknown fields (a typo like `hostPid` would silently do nothing in a
 * cluster whose apply is not strict).
 */
import { DaemonSet } from "npm:kubernetes-models@5.1.0/apps/v1/DaemonSet";
import { parse } from "npm:yaml@2.9.1";
import { assert, assertEquals, ROOT, text } from "./_fixtures.ts";

const MODELS = "npm:kubernetes-models@5.1.0";

/** The YAML blocks of a markdown file. */
function yamlBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map((m) => m[1]);
}

/** Runs `deno check` on a typed copy of a manifest; the diagnostics on failure. */
async function typeCheck(manifest: unknown, dir: string): Promise<{ ok: boolean; why: string }> {
  const file = `${dir}/manifest-${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    file,
    `import type { IDaemonSet } from "${MODELS}/apps/v1/DaemonSet";\n` +
      `export const manifest: IDaemonSet = ${JSON.stringify(manifest, null, 2)};\n`,
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["check", "--quiet", "--no-lock", "--no-config", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { ok: out.success, why: text(out.stderr) };
}

Deno.test("docs/fleet.md: the agent DaemonSet is a valid apps/v1 DaemonSet", async (t) => {
  const blocks = yamlBlocks(await Deno.readTextFile(`${ROOT}docs/fleet.md`));
  assertEquals(blocks.length, 1, "one manifest in docs/fleet.md");
  const manifest = parse(blocks[0]);
  assertEquals([manifest.apiVersion, manifest.kind], ["apps/v1", "DaemonSet"]);
  const pod = manifest.spec.template.spec;

  await t.step("the schema validator accepts it, and refuses a wrong type", () => {
    new DaemonSet(manifest).validate();
    const broken = structuredClone(manifest);
    broken.spec.template.spec.hostPID = "true";
    let refused = "";
    try {
      new DaemonSet(broken).validate();
    } catch (e) {
      refused = String(e);
    }
    assert(refused.includes("hostPID"), `a string hostPID passed: ${refused}`);
  });

  await t.step("no unknown field (the API types), and a misspelt one is refused", async () => {
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-fleet-" });
    try {
      const good = await typeCheck(manifest, dir);
      assert(good.ok, good.why);
      const typo = structuredClone(manifest);
      typo.spec.template.spec.hostPid = true;
      const bad = await typeCheck(typo, dir);
      assert(!bad.ok && bad.why.includes("hostPid"), `a misspelt field passed: ${bad.why}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step("what nsjoin needs on a node: host PIDs, privileged, engine state", () => {
    assertEquals(pod.hostPID, true);
    const agent = pod.containers[0];
    assertEquals(agent.securityContext.privileged, true);
    const mounted = new Set(agent.volumeMounts.map((m: { mountPath: string }) => m.mountPath));
    const volumes = new Map(
      pod.volumes.map((v: { name: string; hostPath: { path: string } }) => [v.name, v]),
    );
    for (const m of agent.volumeMounts) {
      assert(volumes.has(m.name), `volume ${m.name} is declared`);
      assertEquals(m.readOnly, true, `${m.mountPath} is read-only`);
    }
    for (const path of ["/run/containerd", "/run/containers/storage"]) {
      assert(mounted.has(path), `${path} is mounted`);
    }
  });
});
