/**
 * Kubernetes pods as targets, on a real CRI runtime: a containerd of our own with its CRI
 * plugin (tests/_cri.ts) makes pods as a kubelet would, and the CRI's own ExecSync — what
 * `kubectl exec` ends in — is the reference every `nsjoin exec k8s:…` is compared with.
 */
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  CI,
  cli,
  IS_ROOT,
  makeTarget,
  NEEDS_ROOT,
  ROOT,
  runPiped,
} from "./_fixtures.ts";
import { CriRuntime, HAVE_CONTAINERD, type TestPod } from "./_cri.ts";
import {
  containerExecOptions,
  type ContainerInfo,
  findContainers,
  matchPodContainer,
  NamespaceError,
  NsCommand,
  resolveContainer,
} from "../mod.ts";
import { daxIn } from "../dax.ts";

const SKIP = !CI && (!IS_ROOT || !HAVE_CONTAINERD);
if (SKIP) {
  console.error("note: k8s_test needs root, containerd and CNI plugins (tests/setup.sh): skipped");
}

/** What the tests compare: each is run by ExecSync and by `nsjoin exec`. */
const PROBES: [string, string[]][] = [
  ["id", ["id"]],
  ["env", ["sh", "-c", "env | sort"]],
  ["pwd", ["pwd"]],
  ["hostname", ["hostname"]],
  ["status", ["sh", "-c", "grep -E '^(Cap|Seccomp|NoNewPrivs)' /proc/self/status"]],
  ["ns", ["sh", "-c", 'for f in /proc/self/ns/*; do echo "$f $(readlink "$f")"; done']],
  ["cgroup", ["cat", "/proc/self/cgroup"]],
  ["limits", ["sh", "-c", "cat /proc/self/limits /proc/self/oom_score_adj; umask"]],
  ["exit", ["sh", "-c", "echo out; echo err >&2; exit 7"]],
  ["write", ["sh", "-c", "touch /probe-file && echo wrote"]],
];

Deno.test({
  name: "k8s: pods on a real containerd CRI, exec'd as kubectl exec (ExecSync) does",
  ignore: SKIP,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    await using rt = await CriRuntime.start();
    const env = { NSJOIN_CONTAINERD_STATE: rt.state };
    const find = { containerdState: [rt.state] };
    const tag = Math.random().toString(36).slice(2, 7);
    const web = `web-${tag}`;
    // A two-container pod: net, ipc and uts shared with the sandbox.
    const a = await rt.runPod("nsj-a", web, [
      { name: "app", env: { FOO: "bar" }, workingDir: "/tmp" },
      { name: "side" },
    ]);
    // The same pod name in another namespace: a non-root user, a read-only rootfs, one
    // process namespace for the pod (shareProcessNamespace).
    const b = await rt.runPod("nsj-b", web, [{
      name: "solo",
      securityContext: { run_as_user: { value: 1000 }, readonly_rootfs: true },
    }], { shareProcessNamespace: true });
    // Two containers, the default named by kubectl's annotation.
    const c = await rt.runPod("nsj-a", `dflt-${tag}`, [{ name: "x" }, { name: "y" }], {
      annotations: { "kubectl.kubernetes.io/default-container": "y" },
    });

    const nsjoin = (target: string, cmd: string[]) => cli(["exec", target, "--", ...cmd], { env });

    await t.step(
      "exec matches the CRI's ExecSync: id, env, pwd, hostname, status, ns, cgroup, limits, exit codes",
      async () => {
        for (
          const [pod, name, target] of [
            [a, "app", `k8s:nsj-a/${web}/app`],
            [a, "side", `k8s:nsj-a/${web}/side`],
            [b, "solo", `k8s:nsj-b/${web}`],
          ] as [TestPod, string, string][]
        ) {
          for (const [what, cmd] of PROBES) {
            const want = await rt.execSync(pod.containers[name], cmd);
            const got = await nsjoin(target, cmd);
            assertEquals(
              { code: got.code, stdout: got.stdout, stderr: got.stderr },
              { code: want.code, stdout: want.stdout, stderr: want.stderr },
              `${target}: ${what}`,
            );
          }
        }
      },
    );

    await t.step(
      "exec -t matches the CRI's Exec with a terminal (kubectl exec -t): TERM=xterm, no \\r\\r\\n",
      async () => {
        const cmd = ["sh", "-c", "env | sort; echo; id; pwd"];
        const want = await rt.execTty(a.containers.app, cmd);
        assertMatch(want, /^TERM=xterm\r$/m, "the reference sets TERM");
        // Under a pty of its own (script), as an SRE's terminal runs it.
        const line = [Deno.execPath(), "run", "-A", "--quiet", "--no-lock", `${ROOT}cli.ts`]
          .concat(["exec", "-t", `k8s:nsj-a/${web}/app`, "--", ...cmd])
          .map((w) => `'${w.replaceAll("'", "'\\''")}'`).join(" ");
        const got = await runPiped("script", {
          args: ["-qec", line, "/dev/null"],
          cwd: "/",
          env: { ...env, NO_COLOR: "1" },
        });
        assertEquals(got.code, 0, got.stderr);
        assertEquals(got.stdout, want);
        assert(!got.stdout.includes("\r\r\n"), JSON.stringify(got.stdout));
      },
    );

    await t.step("the reference shows what it should (the comparison is not vacuous)", async () => {
      const app = await nsjoin(`k8s:nsj-a/${web}/app`, ["sh", "-c", "pwd; echo $FOO; hostname"]);
      assertEquals(app.stdout, `/tmp\nbar\n${web}\n`);
      const solo = await nsjoin(`k8s:nsj-b/${web}`, ["sh", "-c", "id -u; touch /x"]);
      assertEquals(solo.stdout, "1000\n");
      assert(solo.code !== 0, "the read-only rootfs is writable");
      // net/ipc/uts are the sandbox's for both containers; pid is the pod's only in b.
      const ns = async (pod: TestPod, name: string, type: string) =>
        (await rt.execSync(pod.containers[name], ["readlink", `/proc/self/ns/${type}`])).stdout;
      for (const type of ["net", "ipc", "uts"]) {
        assertEquals(await ns(a, "app", type), await ns(a, "side", type), type);
      }
      assert(await ns(a, "app", "pid") !== await ns(a, "side", "pid"));
      const ps = await nsjoin(`k8s:nsj-b/${web}`, ["ps", "-o", "comm"]);
      assertMatch(ps.stdout, /catatonit/, "shareProcessNamespace: the pause process is seen");
    });

    await t.step(
      "daxIn(resolveContainer(k8s:…)) runs as ExecSync does: the container's user, cwd, env, cgroups",
      async () => {
        // Pod a's app has a working dir and env; pod b's solo runs as uid 1000.
        for (
          const [pod, name, target] of [
            [a, "app", `k8s:nsj-a/${web}/app`],
            [b, "solo", `k8s:nsj-b/${web}`],
          ] as [TestPod, string, string][]
        ) {
          const script = "id; pwd; env | sort; cat /proc/self/cgroup";
          const want = await rt.execSync(pod.containers[name], ["sh", "-c", script]);
          using pinned = await resolveContainer(target, find);
          const $ = daxIn(pinned);
          const got = await $`sh -c ${script}`.stdout("piped").stderr("piped").noThrow();
          assertEquals(
            { code: got.code, stdout: got.stdout, stderr: got.stderr },
            { code: want.code, stdout: want.stdout, stderr: want.stderr },
            target,
          );
        }
      },
    );

    await t.step("cp and inspect take k8s: targets", async () => {
      const want = await rt.execSync(a.containers.app, ["cat", "/etc/hostname"]);
      const got = await cli(["cp", `k8s:nsj-a/${web}/app:/etc/hostname`, "-"], { env });
      assertEquals(got.code, 0, got.stderr);
      // cp - writes a tar stream (as docker cp): the file's text is in it.
      assert(want.stdout.length > 0 && got.stdout.includes(want.stdout), got.stdout);
      // A container beside its sandbox: net, ipc and uts always shared; pid only in the pod
      // made with shareProcessNamespace.
      const shared = async (container: string, sandbox: string) => {
        const r = await cli(["inspect", "--json", container, `cri:${sandbox}`], { env });
        assertEquals(r.code, 0, r.stderr);
        const ns = (JSON.parse(r.stdout) as { namespaces: { type: string; shared: boolean }[] })
          .namespaces.filter((n) => n.shared).map((n) => n.type);
        return ["net", "ipc", "uts", "pid", "mnt"].filter((t) => ns.includes(t));
      };
      assertEquals(await shared(`k8s:nsj-a/${web}/side`, a.id), ["net", "ipc", "uts"]);
      assertEquals(await shared(`k8s:nsj-b/${web}`, b.id), ["net", "ipc", "uts", "pid"]);
    });

    await t.step("every target form names the same container", async () => {
      const id = a.containers.app;
      const forms = [
        `k8s:nsj-a/${web}/app`,
        `k8s:${a.uid}/app`,
        `cri:${id.slice(0, 13)}`,
        `cri:${id}`,
      ];
      for (const form of forms) {
        using pinned = await resolveContainer(form, find);
        assertEquals(pinned.container.id, id, form);
        assertEquals(pinned.container.pod?.container, "app", form);
      }
      using byName = await resolveContainer(`k8s:dflt-${tag}`, find);
      assertEquals(byName.container.id, c.containers.y, "the default-container annotation");
      using byUid = await resolveContainer(`k8s:${b.uid}`, find);
      assertEquals(byUid.container.id, b.containers.solo, "a pod UID, its only container");
      using sandbox = await resolveContainer(`cri:${a.id.slice(0, 16)}`, find);
      assertEquals([sandbox.container.id, sandbox.container.pod?.container], [a.id, undefined]);
      const hostname = await nsjoin(`k8s:${a.uid}/side`, ["hostname"]);
      assertEquals([hostname.code, hostname.stdout], [0, `${web}\n`]);
    });

    await t.step(
      "ambiguous and unknown names: one line listing the choices, exit 125",
      async () => {
        const cases: [string, RegExp][] = [
          [
            `k8s:${web}`,
            new RegExp(`k8s:nsj-a/${web} .*k8s:nsj-b/${web}|k8s:nsj-b/${web} .*k8s:nsj-a/${web}`),
          ],
          [
            `k8s:nsj-a/${web}`,
            /it has (app, side|side, app); give k8s:nsj-a\/web-[a-z0-9]+\/CONTAINER/,
          ],
          [
            `k8s:nsj-a/${web}/nope`,
            /container "nope" in pod .*its running containers: (app, side|side, app)/,
          ],
          [`k8s:nsj-c/${web}`, new RegExp(`Cannot find pod .*did you mean k8s:nsj-.*${web}`)],
          [`k8s:nothing-${tag}`, /Cannot find pod .*no running pod has that name/],
          ["cri:0000000000", /Cannot find CRI container/],
        ];
        for (const [target, message] of cases) {
          const r = await nsjoin(target, ["sh", "-c", "echo ran"]);
          assertEquals(r.code, 125, `${target}: ${r.stderr}`);
          assertEquals(r.stdout, "", target);
          assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
          assertMatch(r.stderr, message, target);
        }
        const bad = await nsjoin("k8s:a/b/c/d", ["true"]);
        assertEquals(bad.code, 2, bad.stderr);
      },
    );

    await t.step(
      "an exited init container: the CRI refuses it, nsjoin says it is not running, exit 125",
      async () => {
        const pod = await rt.runPod("nsj-a", `init-${tag}`, [
          { name: "init-db", command: ["/bin/sh", "-c", "echo done"] },
          { name: "main" },
        ]);
        const marker = `/tmp/nsjoin-k8s-init-${tag}`;
        let r = { code: 0, stdout: "", stderr: "" };
        // Until the runtime has seen it exit (its task bundle deleted).
        for (let i = 0; i < 50; i++) {
          r = await nsjoin(`k8s:nsj-a/init-${tag}/init-db`, ["touch", marker]);
          if (r.code === 125) break;
          await new Promise((res) => setTimeout(res, 100));
        }
        const crictl = await rt.execSync(pod.containers["init-db"], ["true"]).then(
          () => "ran",
          (e) => String(e),
        );
        assertMatch(crictl, /CONTAINER_EXITED|not running/, "the reference refuses it too");
        assertEquals(r.code, 125, r.stderr);
        assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
        assertMatch(
          r.stderr,
          /Cannot find a running container "init-db" in pod k8s:nsj-a\/init-[a-z0-9]+ - its running containers: main \(an exited one, such as a finished init container, cannot be joined\)/,
        );
        assert(!(await Deno.stat(marker).then(() => true, () => false)), "it ran");
        await rt.removePod(pod);
      },
    );

    await t.step(
      "ps --json lists the pods' sandboxes and containers as ListContainers / ListPodSandbox",
      async () => {
        const r = await cli(["ps", "--json"], { env });
        assertEquals(r.code, 0, r.stderr);
        const rows = (JSON.parse(r.stdout) as { id: string; pod: Record<string, string> | null }[])
          .filter((row) => row.pod);
        const mine = new Set([a.id, b.id, c.id]);
        const got = rows.filter((row) => mine.has(row.pod!.sandboxId))
          .map((
            row,
          ) => [row.id, row.pod!.namespace, row.pod!.name, row.pod!.uid, row.pod!.container])
          .sort();
        const sandboxes = (await rt.listPodSandbox()).filter((s) => mine.has(s.id as string));
        const byId = new Map(
          sandboxes.map((s) => [s.id as string, s.metadata as Record<string, string>]),
        );
        const want = [
          ...sandboxes.map((s) => {
            const m = s.metadata as Record<string, string>;
            return [s.id, m.namespace, m.name, m.uid, null];
          }),
          ...(await rt.listContainers()).filter((x) => mine.has(x.pod_sandbox_id as string)).map(
            (x) => {
              const m = byId.get(x.pod_sandbox_id as string)!;
              return [
                x.id,
                m.namespace,
                m.name,
                m.uid,
                (x.metadata as Record<string, string>).name,
              ];
            },
          ),
        ].sort();
        assertEquals(got, want);
        assertEquals(got.length, 3 + 5);
        // --pods: one entry per sandbox ListPodSandbox gives, with ListContainers' containers.
        const grouped = await cli(["ps", "--pods", "--json"], { env });
        assertEquals(grouped.code, 0, grouped.stderr);
        const pods = (JSON.parse(grouped.stdout) as {
          sandboxId: string;
          namespace: string;
          name: string;
          containers: { id: string }[];
        }[]).filter((p) => mine.has(p.sandboxId))
          .map((p) => [p.sandboxId, p.namespace, p.name, p.containers.map((x) => x.id).sort()])
          .sort();
        const crictlPods = await Promise.all(sandboxes.map(async (sb) => {
          const m = sb.metadata as Record<string, string>;
          const ids = (await rt.listContainers()).filter((x) => x.pod_sandbox_id === sb.id)
            .map((x) => x.id as string).sort();
          return [sb.id, m.namespace, m.name, ids];
        }));
        assertEquals(pods, crictlPods.sort());
        const podTable = await cli(["ps", "--pods"], { env });
        const line = podTable.stdout.split("\n").find((l) => l.startsWith(a.id.slice(0, 12)));
        assertMatch(line ?? "", new RegExp(`^[0-9a-f]{12} +containerd +nsj-a +${web} +[0-9]+ +`));
        assert(line!.includes(`app (${a.containers.app.slice(0, 12)})`), line);
        assert(line!.includes(`side (${a.containers.side.slice(0, 12)})`), line);
        const table = await cli(["ps"], { env });
        assertMatch(table.stdout, /NAMESPACE +POD +CONTAINER/);
        assertMatch(table.stdout, new RegExp(`nsj-a +${web} +side`));
        // A pod's rows together, its sandbox first, as crictl pods / ps read it.
        const rowsOfA = table.stdout.split("\n").flatMap((l, i) =>
          [a.id, a.containers.app, a.containers.side].some((id) => l.startsWith(id.slice(0, 12)))
            ? [[i, l.split(/ +/)[5]]]
            : []
        );
        assertEquals(rowsOfA.map(([, c]) => c), ["(sandbox)", "app", "side"], table.stdout);
        assertEquals(rowsOfA.map(([i]) => i), [0, 1, 2].map((n) => (rowsOfA[0][0] as number) + n));
      },
    );

    await t.step(
      "a pod deleted between resolve and exec: NamespaceError, nothing runs",
      async () => {
        const gone = await rt.runPod("nsj-a", `gone-${tag}`, [{ name: "app" }]);
        using pinned = await resolveContainer(`k8s:nsj-a/gone-${tag}`, find);
        await rt.removePod(gone);
        const marker = `/tmp/nsjoin-k8s-ran-${tag}`;
        // Joining only its net namespace, the program would touch the host's /tmp: it must not.
        const out = await new NsCommand("/bin/touch", {
          target: pinned,
          namespaces: ["net"],
          args: [marker],
        }).output();
        assertEquals(out.code, 125);
        assertMatch(new TextDecoder().decode(out.stderr), /the target exited/);
        assertThrows(() => containerExecOptions(pinned), NamespaceError);
        assert(!(await Deno.stat(marker).then(() => true, () => false)), "the program ran");
        await assertRejects(() => resolveContainer(`k8s:nsj-a/gone-${tag}`, find), NamespaceError);
      },
    );
  },
});

/** A fake containerd state dir holding one pod: its sandbox and container "app". */
async function fakeState(
  pid: number,
  name = "forged",
): Promise<{ dir: string; files: string[] }> {
  const dir = await Deno.makeTempDir({ prefix: "nsjoin-k8s-state-" });
  const sandbox = "a".repeat(64);
  const files: string[] = [];
  const common = {
    "io.kubernetes.cri.sandbox-id": sandbox,
    "io.kubernetes.cri.sandbox-name": name,
    "io.kubernetes.cri.sandbox-namespace": "default",
    "io.kubernetes.cri.sandbox-uid": "00000000-0000-4000-8000-000000000000",
  };
  for (
    const [id, extra] of [
      [sandbox, { "io.kubernetes.cri.container-type": "sandbox" }],
      ["b".repeat(64), {
        "io.kubernetes.cri.container-type": "container",
        "io.kubernetes.cri.container-name": "app",
      }],
    ] as const
  ) {
    const bundle = `${dir}/io.containerd.runtime.v2.task/k8s.io/${id}`;
    await Deno.mkdir(bundle, { recursive: true });
    await Deno.writeTextFile(`${bundle}/init.pid`, String(pid));
    await Deno.writeTextFile(
      `${bundle}/config.json`,
      JSON.stringify({ process: { cwd: "/", env: [] }, annotations: { ...common, ...extra } }),
    );
    files.push(`${bundle}/config.json`, `${bundle}/init.pid`);
  }
  return { dir, files };
}

Deno.test({
  name:
    "k8s: a bundle naming a process outside the container's cgroup (a reused PID) is not joined",
  ignore: NEEDS_ROOT,
  async fn() {
    // A host process, as a PID reused after the pod went away would be.
    const host = new Deno.Command("sleep", { args: ["60"] }).spawn();
    const { dir } = await fakeState(host.pid);
    try {
      const find = { containerdState: [dir] };
      const err = await resolveContainer("k8s:default/forged", find).then(
        (pinned) => (pinned.close(), undefined),
        (e) => e,
      );
      assert(err instanceof NamespaceError && err.code === "ESRCH", String(err));
      assertMatch(err.message, /no longer running/);
      const r = await cli(["exec", "k8s:default/forged", "--", "touch", `${dir}/ran`], {
        env: { NSJOIN_CONTAINERD_STATE: dir },
      });
      assertEquals(r.code, 125, r.stderr);
      assert(!(await Deno.stat(`${dir}/ran`).then(() => true, () => false)), "it ran");
    } finally {
      host.kill("SIGKILL");
      await host.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "k8s: containerd state files not owned by root are not read",
  ignore: NEEDS_ROOT,
  async fn() {
    const { dir, files } = await fakeState(Deno.pid);
    try {
      const find = { containerdState: [dir] };
      assert((await findContainers(find)).some((c) => c.pod?.name === "forged"));
      // The lookup of one pod (its bundles picked by a plain read of each spec) found it: its
      // PID is ours, in no cgroup of the container, so it is refused as not running.
      const why = (target: string) =>
        resolveContainer(target, find).then((p) => (p.close(), "resolved"), (e) => e.message);
      assertMatch(await why("k8s:default/forged/app"), /no longer running/);
      // Found no more once a spec is not root's: what the lookup uses is read again,
      // owner-checked.
      for (const f of files.filter((f) => f.endsWith("config.json"))) {
        await Deno.chown(f, 65534, 65534);
      }
      assertMatch(await why("k8s:default/forged/app"), /Cannot find pod/);
      for (const f of files) await Deno.chown(f, 65534, 65534);
      assert(!(await findContainers(find)).some((c) => c.pod?.name === "forged"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "k8s: a user's FIFO as a spec in a sticky bundle dir does not hang the pod lookup",
  ignore: NEEDS_ROOT,
  async fn() {
    const { dir } = await fakeState(Deno.pid);
    try {
      // A bundle dir root left world-writable but sticky passes as root's (as /tmp on the
      // way does), yet a user may add files to it: their FIFO named config.json would block
      // a plain read for good. The lookup reads such a spec only the guarded way.
      const bundle = `${dir}/io.containerd.runtime.v2.task/k8s.io/${"b".repeat(64)}`;
      await Deno.chmod(bundle, 0o1777);
      await Deno.remove(`${bundle}/config.json`);
      const fifo = await runPiped("mkfifo", { args: [`${bundle}/config.json`] });
      assertEquals(fifo.code, 0, fifo.stderr);
      await Deno.chown(`${bundle}/config.json`, 65534, 65534);
      const r = await runPiped("timeout", {
        args: ["-s", "KILL", "60", Deno.execPath(), "run", "-A", "--quiet", "--no-lock"]
          .concat([`${ROOT}cli.ts`, "exec", "k8s:default/forged/app", "true"]),
        cwd: "/",
        env: { NO_COLOR: "1", NSJOIN_CONTAINERD_STATE: dir },
      });
      assertEquals(r.code, 125, `not 125 (137: it hung): ${r.stderr}`);
      assertMatch(r.stderr, /Cannot find a running container "app" in pod k8s:default\/forged/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("k8s: of two pods of one name, a container only one of them runs picks that one", () => {
  // A pod being replaced (a StatefulSet's web-0: the old one still stopping, its app gone)
  // beside the new one: both carry the name, only the new one runs "app".
  const pod = (uid: string, sandboxId: string) => ({
    namespace: "default",
    name: "web-0",
    uid,
    sandboxId,
  });
  const old = pod("00000000-0000-4000-8000-00000000000a", "aa");
  const now = pod("00000000-0000-4000-8000-00000000000b", "bb");
  const found: ContainerInfo[] = [
    { engine: "containerd", id: "aa", pid: 1, pod: old, source: "state" },
    { engine: "containerd", id: "a1", pid: 2, pod: { ...old, container: "log" }, source: "state" },
    { engine: "containerd", id: "bb", pid: 3, pod: now, source: "state" },
    { engine: "containerd", id: "b1", pid: 4, pod: { ...now, container: "app" }, source: "state" },
    { engine: "containerd", id: "b2", pid: 5, pod: { ...now, container: "log" }, source: "state" },
  ];
  assertEquals(matchPodContainer(found, "k8s:default/web-0/app").id, "b1");
  // Both run "log", and no container named: still the choice to make, listing both UIDs.
  for (const target of ["k8s:default/web-0/log", "k8s:default/web-0"]) {
    assertThrows(
      () => matchPodContainer(found, target),
      (e: unknown) =>
        e instanceof NamespaceError && e.code === "EINVAL" &&
        /0000000a.*0000000b/.test(e.message),
      target,
    );
  }
});

/**
 * CRI-O is not packaged for Debian 12: its state format is reproduced here as CRI-O
 * documents and writes it — containers-storage (shared with podman) holding each
 * container's OCI spec with the `io.kubernetes.cri-o.*` annotations and its pidfile, the
 * process in a `crio-ID.scope` cgroup — around real processes in namespaces of their own.
 */
Deno.test({
  name: "k8s: CRI-O's pods from its state format (fixtures), resolved and exec'd",
  ignore: NEEDS_ROOT,
  async fn() {
    const tag = Math.random().toString(36).slice(2, 7);
    const dir = await Deno.makeTempDir({ prefix: "nsjoin-crio-" });
    const hex = () =>
      [...crypto.getRandomValues(new Uint8Array(32))]
        .map((b) => b.toString(16).padStart(2, "0")).join("");
    const [sandbox, app] = [hex(), hex()];
    const uid = crypto.randomUUID();
    const targets = [
      await makeTarget({ hostname: `web-${tag}` }),
      await makeTarget({ hostname: `web-${tag}` }),
    ];
    const cgroups: string[] = [];
    try {
      await Deno.writeTextFile(
        `${dir}/storage.conf`,
        `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/graph"\nrunroot = "${dir}/run"\n`,
      );
      const list: { id: string; names: string[] }[] = [];
      for (const [i, id, kind] of [[0, sandbox, "sandbox"], [1, app, "container"]] as const) {
        const container = kind === "sandbox" ? "POD" : "app";
        list.push({ id, names: [`k8s_${container}_web-${tag}_default_${uid}_0`] });
        await Deno.mkdir(`${dir}/graph/overlay-containers/${id}/userdata`, { recursive: true });
        await Deno.mkdir(`${dir}/run/overlay-containers/${id}/userdata`, { recursive: true });
        await Deno.writeTextFile(
          `${dir}/run/overlay-containers/${id}/userdata/pidfile`,
          String(targets[i].pid),
        );
        await Deno.writeTextFile(
          `${dir}/graph/overlay-containers/${id}/userdata/config.json`,
          JSON.stringify({
            hostname: `web-${tag}`,
            process: {
              cwd: "/tmp",
              env: ["PATH=/usr/bin:/bin", `FROM_SPEC=${kind}`],
              user: { uid: 0, gid: 0 },
            },
            annotations: {
              "io.container.manager": "cri-o",
              "io.kubernetes.cri-o.ContainerType": kind,
              "io.kubernetes.cri-o.SandboxID": sandbox,
              "io.kubernetes.cri-o.ContainerID": id,
              "io.kubernetes.cri-o.Annotations": JSON.stringify({
                "kubectl.kubernetes.io/default-container": "app",
              }),
              "io.kubernetes.pod.name": `web-${tag}`,
              "io.kubernetes.pod.namespace": "default",
              "io.kubernetes.pod.uid": uid,
              "io.kubernetes.container.name": container,
            },
          }),
        );
        // CRI-O's cgroupfs layout: the process is in crio-ID.scope (here under a parent of ours).
        const cg = `/sys/fs/cgroup/pids/nsjoin-crio-${tag}/crio-${id}.scope`;
        await Deno.mkdir(cg, { recursive: true });
        cgroups.push(cg);
        await Deno.writeTextFile(`${cg}/cgroup.procs`, String(targets[i].pid));
      }
      await Deno.writeTextFile(
        `${dir}/graph/overlay-containers/containers.json`,
        JSON.stringify(list),
      );
      const env = { CONTAINERS_STORAGE_CONF: `${dir}/storage.conf` };
      for (
        const target of [`k8s:default/web-${tag}`, `k8s:${uid}/app`, `cri:${app.slice(0, 12)}`]
      ) {
        const r = await cli(["exec", target, "--", "sh", "-c", "echo $FROM_SPEC; pwd; hostname"], {
          env,
        });
        assertEquals(
          [r.code, r.stdout, r.stderr],
          [0, `container\n/tmp\nweb-${tag}\n`, ""],
          target,
        );
      }
      const ps = await cli(["ps", "--json"], { env });
      const rows = (JSON.parse(ps.stdout) as {
        id: string;
        engine: string;
        pod: { container: string | null } | null;
      }[])
        .filter((r) => r.id === sandbox || r.id === app)
        .map((r) => [r.id, r.engine, r.pod?.container]).sort();
      assertEquals(rows, [[sandbox, "cri-o", null], [app, "cri-o", "app"]].sort());
    } finally {
      for (const t of targets) await t.kill();
      for (const cg of cgroups) await Deno.remove(cg).catch(() => {});
      await Deno.remove(`/sys/fs/cgroup/pids/nsjoin-crio-${tag}`).catch(() => {});
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "k8s: hostile pod names from containerd's state are escaped in ps and in errors",
  ignore: NEEDS_ROOT,
  async fn() {
    const { dir } = await fakeState(Deno.pid, "evil\x1b[31mred");
    try {
      const env = { NSJOIN_CONTAINERD_STATE: dir };
      const ps = await cli(["ps"], { env });
      assertEquals(ps.code, 0, ps.stderr);
      assert(!ps.stdout.includes("\x1b"), "a raw ESC reached the terminal");
      assertMatch(ps.stdout, /evil\\x1b\[31mred/);
      const json = await cli(["ps", "--json"], { env });
      assert(json.stdout.includes("evil\\u001b[31mred"), "--json is exact");
      const r = await cli(["exec", "k8s:default/evil", "--", "true"], { env });
      assertEquals(r.code, 125, r.stderr);
      assert(!r.stderr.includes("\x1b"), "a raw ESC reached the terminal");
      assertMatch(r.stderr, /did you mean k8s:default\/evil\\x1b\[31mred/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
