/**
 * A real CRI runtime for tests/k8s_test.ts: a containerd of our own (Debian's 1.6, its CRI
 * plugin built in) with its own root, state dir, socket and CNI bridge, never the one
 * dockerd runs; a pause image (catatonit) and the busybox app image imported into its
 * `k8s.io` namespace; and a CRI v1 gRPC client (tests/cri.proto) making pods as a kubelet
 * would — RunPodSandbox, CreateContainer, StartContainer — and running the CRI's own
 * ExecSync, which is what `kubectl exec` ends in, and its streaming Exec with a terminal
 * (`kubectl exec -t`).
 */
import * as grpc from "npm:@grpc/grpc-js@1.14.7";
import * as protoLoader from "npm:@grpc/proto-loader@0.7.15";
import { ensureImage, ensureImages, IMAGE, must, podmanUser, run } from "./_engines.ts";

/** Whether containerd and the CNI plugins are installed (tests/setup.sh). */
export const HAVE_CONTAINERD: boolean = (() => {
  try {
    return Deno.statSync("/usr/bin/containerd").isFile &&
      Deno.statSync("/usr/lib/cni/bridge").isFile;
  } catch {
    return false;
  }
})();

/** The pause image: catatonit in pause mode, as the sandbox process. */
const PAUSE = "nsjoin-pause:1";

/** A pod the tests made. */
export interface TestPod {
  /** The sandbox ID. */
  id: string;
  /** Kubernetes namespace. */
  namespace: string;
  /** Pod name. */
  name: string;
  /** Pod UID. */
  uid: string;
  /** The sandbox config (CreateContainer needs it again). */
  config: Record<string, unknown>;
  /** Container name → CRI container ID. */
  containers: Record<string, string>;
}

/** One container of a pod to make. */
export interface TestPodContainer {
  /** Container name. */
  name: string;
  /** Extra environment. */
  env?: Record<string, string>;
  /** Working directory. */
  workingDir?: string;
  /** linux.security_context of the CRI ContainerConfig. */
  securityContext?: Record<string, unknown>;
  /** Its command; default `/bin/sleep 3600` (an init container's exits). */
  command?: string[];
}

/** What one CRI ExecSync returned. */
export interface ExecSyncResult {
  /** Exit code. */
  code: number;
  /** stdout as text. */
  stdout: string;
  /** stderr as text. */
  stderr: string;
}

type Callback = (error: grpc.ServiceError | null, reply: Record<string, unknown>) => void;
type Rpc = (req: Record<string, unknown>, opts: grpc.CallOptions, cb: Callback) => void;

/** Our own containerd with the CRI plugin and a client to it; `close()` removes everything. */
export class CriRuntime implements AsyncDisposable {
  readonly #client: grpc.Client & Record<string, Rpc>;
  readonly #pods: TestPod[] = [];

  private constructor(
    /** The directory holding its root, state, socket and CNI config. */
    readonly dir: string,
    /** The containerd process. */
    readonly daemon: Deno.ChildProcess,
    /** Its CNI network name (caches under /var/lib/cni are named for it). */
    readonly network: string,
    /** The cgroup parent of our pods (under kubepods, as the kubelet's cgroupfs driver). */
    readonly cgroupParent: string,
    client: grpc.Client,
  ) {
    this.#client = client as grpc.Client & Record<string, Rpc>;
  }

  /** containerd's state dir: its task bundles are under io.containerd.runtime.v2.task/. */
  get state(): string {
    return `${this.dir}/state`;
  }

  /** The gRPC socket. */
  get socket(): string {
    return `${this.dir}/containerd.sock`;
  }

  /**
   * Starts containerd (bounded: 30 s), imports the images, connects the client.
   *
   * @param podAnnotations the pod annotations the runtime copies into OCI specs (containerd's
   * `pod_annotations` globs); kubectl's default-container one when not given
   */
  static async start(
    podAnnotations = ["kubectl.kubernetes.io/default-container"],
  ): Promise<CriRuntime> {
    const tag = Math.random().toString(36).slice(2, 8);
    const dir = `/run/nsjoin-cri-${tag}`;
    const network = `nsjk${tag}`;
    const cgroupParent = `/kubepods/besteffort/nsjoin-${tag}`;
    await Deno.mkdir(`${dir}/cni`, { recursive: true });
    const subnet = `10.${200 + Math.floor(Math.random() * 50)}.${Math.floor(Math.random() * 250)}`;
    await Deno.writeTextFile(
      `${dir}/cni/10-nsjoin.conflist`,
      JSON.stringify({
        cniVersion: "0.4.0",
        name: network,
        plugins: [{
          type: "bridge",
          bridge: network,
          isGateway: true,
          ipMasq: false,
          ipam: { type: "host-local", ranges: [[{ subnet: `${subnet}.0/24` }]] },
        }, { type: "loopback" }],
      }),
    );
    const cri = `plugins."io.containerd.grpc.v1.cri"`;
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      [
        "version = 2",
        `root = "${dir}/root"`,
        `state = "${dir}/state"`,
        `[grpc]\naddress = "${dir}/containerd.sock"`,
        `[ttrpc]\naddress = "${dir}/containerd.sock.ttrpc"`,
        `[${cri}]`,
        `sandbox_image = "docker.io/library/${PAUSE}"`,
        // Root here cannot lower a process's OOM score: without this, RunPodSandbox fails.
        "restrict_oom_score_adj = true",
        "disable_apparmor = true",
        `[${cri}.containerd]\ndefault_runtime_name = "runc"\nsnapshotter = "overlayfs"`,
        // The pod annotation naming kubectl's default container reaches the OCI spec.
        `[${cri}.containerd.runtimes.runc]\nruntime_type = "io.containerd.runc.v2"\n` +
        `pod_annotations = ${JSON.stringify(podAnnotations)}`,
        `[${cri}.containerd.runtimes.runc.options]\nSystemdCgroup = false`,
        `[${cri}.cni]\nbin_dir = "/usr/lib/cni"\nconf_dir = "${dir}/cni"\nmax_conf_num = 1`,
        "",
      ].join("\n"),
    );
    // Its log goes to a file (a pipe would outlive nobody reading it).
    const daemon = new Deno.Command("sh", {
      args: ["-c", 'exec containerd --config "$1/config.toml" 2>"$1/containerd.log"', "sh", dir],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 300; i++) {
      if ((await run("ctr", ["-a", `${dir}/containerd.sock`, "version"])).code === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const def = protoLoader.loadSync(new URL("cri.proto", import.meta.url).pathname, {
      keepCase: true,
      longs: Number,
      defaults: true,
    });
    // deno-lint-ignore no-explicit-any
    const pkg = grpc.loadPackageDefinition(def) as any;
    const client = new pkg.runtime.v1.RuntimeService(
      `unix://${dir}/containerd.sock`,
      grpc.credentials.createInsecure(),
    );
    const rt = new CriRuntime(dir, daemon, network, cgroupParent, client);
    try {
      await rt.#importImages();
    } catch (error) {
      await rt.close();
      throw error;
    }
    return rt;
  }

  async #importImages(): Promise<void> {
    const user = podmanUser();
    if (user) await ensureImages(user);
    if ((await run("docker", ["image", "inspect", PAUSE])).code !== 0) {
      const tmp = await Deno.makeTempDir({ prefix: "nsjoin-pause-" });
      try {
        await Deno.copyFile("/usr/bin/catatonit", `${tmp}/catatonit`);
        await Deno.chmod(`${tmp}/catatonit`, 0o755);
        await must("tar", ["-C", tmp, "-cf", `${tmp}/pause.tar`, "catatonit"]);
        await must("docker", [
          "import",
          "-c",
          'ENTRYPOINT ["/catatonit", "-P"]',
          `${tmp}/pause.tar`,
          PAUSE,
        ]);
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    }
    await ensureImage("docker");
    await must("sh", [
      "-c",
      `docker save ${PAUSE} ${IMAGE} | ctr -a ${this.socket} -n k8s.io images import -`,
    ]);
  }

  #call(method: string, req: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      this.#client[method](req, { deadline: Date.now() + 60_000 }, (error, reply) => {
        if (error) reject(new Error(`CRI ${method}: ${error.details || error.message}`));
        else resolve(reply);
      });
    });
  }

  /**
   * Makes a pod as a kubelet would: the sandbox (with the io.kubernetes.pod.* labels), then
   * each container (the io.kubernetes.container.name label) started.
   */
  async runPod(
    namespace: string,
    name: string,
    containers: TestPodContainer[],
    opts: {
      annotations?: Record<string, string>;
      shareProcessNamespace?: boolean;
      hostname?: string;
    } = {},
  ): Promise<TestPod> {
    const uid = crypto.randomUUID();
    const config = {
      metadata: { name, uid, namespace, attempt: 0 },
      hostname: opts.hostname ?? name,
      labels: {
        "io.kubernetes.pod.name": name,
        "io.kubernetes.pod.namespace": namespace,
        "io.kubernetes.pod.uid": uid,
      },
      annotations: opts.annotations ?? {},
      linux: {
        cgroup_parent: `${this.cgroupParent}/pod${uid}`,
        security_context: {
          namespace_options: { pid: opts.shareProcessNamespace ? "POD" : "CONTAINER" },
        },
      },
    };
    const id = (await this.#call("RunPodSandbox", { config })).pod_sandbox_id as string;
    const pod: TestPod = { id, namespace, name, uid, config, containers: {} };
    this.#pods.push(pod);
    for (const c of containers) {
      const created = await this.#call("CreateContainer", {
        pod_sandbox_id: id,
        sandbox_config: config,
        config: {
          metadata: { name: c.name, attempt: 0 },
          image: { image: `docker.io/library/${IMAGE}` },
          command: c.command ?? ["/bin/sleep", "3600"],
          working_dir: c.workingDir ?? "",
          envs: Object.entries(c.env ?? {}).map(([key, value]) => ({ key, value })),
          labels: {
            "io.kubernetes.container.name": c.name,
            "io.kubernetes.pod.name": name,
            "io.kubernetes.pod.namespace": namespace,
            "io.kubernetes.pod.uid": uid,
          },
          linux: {
            security_context: {
              namespace_options: { pid: opts.shareProcessNamespace ? "POD" : "CONTAINER" },
              ...c.securityContext,
            },
          },
        },
      });
      const cid = created.container_id as string;
      pod.containers[c.name] = cid;
      await this.#call("StartContainer", { container_id: cid });
    }
    return pod;
  }

  /** The CRI's own exec of `cmd` in a container: what `kubectl exec` ends in. */
  async execSync(containerId: string, cmd: string[]): Promise<ExecSyncResult> {
    const r = await this.#call("ExecSync", { container_id: containerId, cmd, timeout: 30 });
    const dec = new TextDecoder();
    return {
      code: r.exit_code as number,
      stdout: dec.decode(r.stdout as Uint8Array),
      stderr: dec.decode(r.stderr as Uint8Array),
    };
  }

  /**
   * The CRI's streaming Exec with a terminal, as `kubectl exec -it` makes it (stdin kept open,
   * nothing sent): Exec returns the
   * runtime's streaming URL, read over a WebSocket (the kubelet's remotecommand protocol
   * v4.channel.k8s.io: each frame's first byte is its channel, 1 stdout, 3 the status).
   * Returns what the program wrote to its terminal.
   */
  async execTty(containerId: string, cmd: string[]): Promise<string> {
    const r = await this.#call("Exec", {
      container_id: containerId,
      cmd,
      tty: true,
      // As `kubectl exec -it`: containerd 1.6 closes a tty exec's output with its stdin, so
      // without one ("stdin closed" at once) the program's output was lost.
      stdin: true,
      stdout: true,
    });
    const ws = new WebSocket(String(r.url).replace(/^http/, "ws"), ["v4.channel.k8s.io"]);
    ws.binaryType = "arraybuffer";
    const dec = new TextDecoder();
    let out = "";
    let status = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => (ws.close(), reject(new Error("CRI Exec: timed out"))),
        30_000,
      );
      ws.onmessage = (m) => {
        const frame = new Uint8Array(m.data as ArrayBuffer);
        if (frame[0] === 1) out += dec.decode(frame.subarray(1), { stream: true });
        if (frame[0] === 3) status += dec.decode(frame.subarray(1));
      };
      ws.onclose = () => (clearTimeout(timer), resolve());
      ws.onerror = (
        e,
      ) => (clearTimeout(timer), reject(new Error(`CRI Exec: ${(e as ErrorEvent).message}`)));
    });
    if (!status.includes('"Success"')) throw new Error(`CRI Exec: ${status}`);
    return out;
  }

  /**
   * The CRI's Version: a call that does no work, so its time is what the gRPC client and the
   * runtime's server add to every call (ExecSync's included).
   */
  async version(): Promise<string> {
    return (await this.#call("Version", { version: "v1" })).runtime_version as string;
  }

  /** ListContainers: every container of this runtime. */
  async listContainers(): Promise<Record<string, unknown>[]> {
    return (await this.#call("ListContainers", {})).containers as Record<string, unknown>[];
  }

  /** ListPodSandbox: every sandbox of this runtime. */
  async listPodSandbox(): Promise<Record<string, unknown>[]> {
    return (await this.#call("ListPodSandbox", {})).items as Record<string, unknown>[];
  }

  /** Stops and removes a pod (its containers with it) and the caches it left on the host. */
  async removePod(pod: TestPod): Promise<void> {
    await this.#call("StopPodSandbox", { pod_sandbox_id: pod.id }).catch(() => {});
    await this.#call("RemovePodSandbox", { pod_sandbox_id: pod.id }).catch(() => {});
    await this.#cleanHost([pod.id, ...Object.values(pod.containers)]);
    const i = this.#pods.indexOf(pod);
    if (i >= 0) this.#pods.splice(i, 1);
    for (const dir of await _cgroupDirs(`${this.cgroupParent}/pod${pod.uid}`)) {
      await Deno.remove(dir).catch(() => {});
    }
  }

  /**
   * containerd 1.6 puts shim sockets under /run/containerd/s/ (named by a hash of our
   * socket, the namespace and the ID) and the CNI plugins cache results under
   * /var/lib/cni/results whatever our dirs are: removed by ID once the pod is gone.
   */
  async #cleanHost(ids: string[]): Promise<void> {
    for (const id of ids) {
      const hash = await crypto.subtle.digest(
        "SHA-256",
        new TextEncoder().encode(`${this.socket}/k8s.io/${id}`),
      );
      const hex = [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
      await Deno.remove(`/run/containerd/s/${hex}`).catch(() => {});
    }
    for (const name of await _names("/var/lib/cni/results")) {
      if (ids.some((id) => name.includes(id))) {
        await Deno.remove(`/var/lib/cni/results/${name}`).catch(() => {});
      }
    }
  }

  /** Removes every pod, stops containerd (SIGKILL after 10 s) and removes its dirs. */
  async close(): Promise<void> {
    for (const pod of [...this.#pods]) await this.removePod(pod);
    this.#client.close();
    try {
      this.daemon.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => {
      try {
        this.daemon.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }, 10_000);
    await this.daemon.status;
    clearTimeout(timer);
    // Overlay snapshots may still be mounted under our root.
    const mounts = (await Deno.readTextFile("/proc/self/mounts")).split("\n")
      .map((l) => l.split(" ")[1]).filter((m) => m?.startsWith(this.dir)).reverse();
    for (const m of mounts) await run("umount", ["-l", m]);
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    await Deno.remove(`/var/lib/cni/networks/${this.network}`, { recursive: true })
      .catch(() => {});
    await run("ip", ["link", "del", this.network]);
    // Our parent, then kubepods/besteffort and kubepods if nothing else uses them.
    for (const path of [this.cgroupParent, "/kubepods/besteffort", "/kubepods"]) {
      for (const dir of await _cgroupDirs(path)) await Deno.remove(dir).catch(() => {});
    }
  }

  /** `await using`: {@link close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A cgroup path in every mounted hierarchy (v1 controllers and the v2 tree). */
async function _cgroupDirs(path: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await _names("/sys/fs/cgroup")) {
    const dir = `/sys/fs/cgroup/${name}${path}`;
    if (await Deno.stat(dir).then(() => true, () => false)) out.push(dir);
  }
  if (await Deno.stat(`/sys/fs/cgroup${path}`).then(() => true, () => false)) {
    out.push(`/sys/fs/cgroup${path}`);
  }
  return out;
}

/** The names in a directory; none when it cannot be read. */
async function _names(dir: string): Promise<string[]> {
  try {
    return (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name);
  } catch {
    return [];
  }
}
