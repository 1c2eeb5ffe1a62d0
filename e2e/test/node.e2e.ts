// A real node (issue 16): e2e/node.sh registers a kubelet (built from the same k8s.io/kubernetes release as the API
// server) with Debian's containerd and runc, in their own mount and network namespaces, with the control plane the
// root hooks started. The first workload: a static Go binary in a scratch image built here (e2e/images/image.sh,
// imported with ctr, no registry) runs as a pod under the restricted Pod Security level, non-root with a read-only
// root filesystem, becomes Ready, and reaches the API server with its service account token. Then the node stops and
// the machine is as before (node.sh stop checks its kernel settings, mounts and cgroups).
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, KubeError, type Kube, type KubeObject } from "../../kube/client";
import { kube, ROOT, settledNamespace } from "../harness";
import { VERSIONS, waitFor } from "../velero/tools";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const NODE = "e2e-node";
const NAMESPACE = "node-e2e";
const IMAGE = "k8s-backup-platform.local/probe:e2e";
const NS_PATH = apiPath("", "v1", "namespaces", undefined, NAMESPACE);
const POD_PATH = apiPath("", "v1", "pods", NAMESPACE, "probe");
const log = (s: string) => process.stdout.write(`      [node-e2e] ${s}\n`);

/** Runs a script of e2e/, its output returned; throws with its stderr on failure. */
function sh(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 40 * 60_000): string {
    const t0 = Date.now();
    const res = spawnSync("bash", args, { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, timeout: timeoutMs });
    if (res.status !== 0) throw new Error(`${args.join(" ")} failed (${String(res.status)}):\n${res.stderr}`.slice(-8000));
    log(`${path.relative(ROOT, args[0])} ${args.slice(1, 3).join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return res.stdout;
}

const restricted = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } };

function probePod(name: string, securityContext: Obj = restricted): KubeObject {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NAMESPACE },
        spec: {
            // No scheduler runs in the e2e control plane: the pod names its node.
            nodeName: NODE,
            securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: "RuntimeDefault" } },
            containers: [
                {
                    name: "probe",
                    image: IMAGE,
                    imagePullPolicy: "Never",
                    ports: [{ containerPort: 8080 }],
                    securityContext,
                    readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 1 },
                },
            ],
        },
    };
}

describe("a real node runs the program's kind of workload (kubelet + containerd, image built here)", function () {
    this.timeout(10 * 60_000);
    const node = path.join(ROOT, "e2e", "node.sh");
    let k: Kube;
    let tmp: string;
    let started = false;

    before(async function () {
        // The kubelet is built on first use (about half a minute after the control plane's build, whose Go build
        // cache it shares); the Debian packages are installed on first use.
        this.timeout(45 * 60_000);
        k = kube(shared.kubeconfig);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "node-e2e-"));
        sh([node, "deps"], shared.env);
        sh([node, "start"], shared.env);
        started = true;
        const sock = /CONTAINERD_ADDRESS=(\S+)/.exec(sh([node, "env"], shared.env))?.[1];
        assert.ok(sock, "node.sh env printed no CONTAINERD_ADDRESS");
        const image = path.join(ROOT, "e2e", "images", "image.sh");
        sh([image, "go", "probe", IMAGE, path.join(tmp, "probe.tar"), "--user", "65532:65532"], shared.env);
        sh([image, "import", sock, path.join(tmp, "probe.tar")], shared.env);
        await settledNamespace(k, NAMESPACE);
        await k.apply(
            NS_PATH,
            {
                apiVersion: "v1",
                kind: "Namespace",
                metadata: { name: NAMESPACE, labels: { "pod-security.kubernetes.io/enforce": "restricted" } },
            },
            "node-e2e",
        );
        // The ServiceAccount admission needs the namespace's default ServiceAccount (kube-controller-manager makes it).
        await waitFor("ServiceAccount default", 30, async () => k.get(apiPath("", "v1", "serviceaccounts", NAMESPACE, "default")));
    });

    after(async () => {
        try {
            // With the kubelet still running, so the pod's deletion completes and the namespace goes.
            if (k && process.env.E2E_KEEP !== "1") {
                await k.delete(NS_PATH);
                await settledNamespace(k, NAMESPACE);
            }
        } finally {
            k?.close();
            if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
            if (started && process.env.E2E_KEEP !== "1") sh([node, "stop", "--purge"], shared.env);
        }
    });

    it("the node is registered and Ready: kubelet of the API server's release, containerd, cgroupfs", async () => {
        const n = await k.get(apiPath("", "v1", "nodes", undefined, NODE));
        assert.ok(n, `node ${NODE} not found`);
        const status = n.status as { nodeInfo: Obj; conditions: { type: string; status: string }[] };
        assert.strictEqual(status.nodeInfo.kubeletVersion, `v${VERSIONS.KUBERNETES_VERSION}`);
        assert.match(String(status.nodeInfo.containerRuntimeVersion), /^containerd:\/\/1\.6\./);
        assert.strictEqual(status.conditions.find((c) => c.type === "Ready")?.status, "True");
    });

    it("restricted Pod Security refuses a pod that may escalate, and admits the probe", async () => {
        await assert.rejects(
            k.create(`${apiPath("", "v1", "pods", NAMESPACE)}?dryRun=All`, probePod("escalating", { readOnlyRootFilesystem: true })),
            (e: unknown) => e instanceof KubeError && e.status === 403 && /violates PodSecurity "restricted/.test(e.message),
        );
        await k.create(apiPath("", "v1", "pods", NAMESPACE), probePod("probe"));
    });

    it("the probe pod becomes Ready (static binary, scratch image, non-root, read-only root) and reaches the API server", async () => {
        const t0 = Date.now();
        const pod = await waitFor("pod probe Ready", 120, async () => {
            const p = await k.get(POD_PATH);
            const conds = ((p?.status as Obj | undefined)?.conditions as { type: string; status: string }[] | undefined) ?? [];
            return conds.some((c) => c.type === "Ready" && c.status === "True") ? p : undefined;
        });
        log(`pod Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after it was created`);
        const podIP = String((pod.status as Obj).podIP);
        assert.match(podIP, /^10\.88\./);
        // From inside the node's network namespace, where the pod network is.
        const seen = sh([node, "run", "curl", "-fsS", "--max-time", "10", `http://${podIP}:8080/`], shared.env).trim();
        assert.strictEqual(seen, "uid=65532 gid=65532 rootWritable=false apiserver=200");
    });
});
