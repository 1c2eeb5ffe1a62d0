// A real node (issue 16): e2e/node.sh registers a kubelet (built from the same k8s.io/kubernetes release as the API
// server) with Debian's containerd and runc, in their own mount and network namespaces, with the control plane the
// root hooks started. The first workload: a static Go binary in a scratch image built here (e2e/images/image.sh,
// imported with ctr, no registry) runs as a pod under the restricted Pod Security level, non-root with a read-only
// root filesystem, becomes Ready, and reaches the API server with its service account token. Then the node stops and
// the machine is as before (node.sh stop checks its kernel settings, mounts and cgroups).
import * as assert from "assert";
import { apiPath, KubeError, type Kube, type KubeObject } from "../../kube/client";
import { kube, settledNamespace } from "../harness";
import { inNode, loadImage, NODE_NAME, podReady, podsOf, startNode, stopNode, type RealNode } from "../node";
import { VERSIONS, waitFor } from "../velero/tools";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const NAMESPACE = "node-e2e";
const IMAGE = "k8s-backup-platform.local/probe:e2e";
const NS_PATH = apiPath("", "v1", "namespaces", undefined, NAMESPACE);
const POD_PATH = apiPath("", "v1", "pods", NAMESPACE, "probe");
const log = (s: string) => process.stdout.write(`      [node-e2e] ${s}\n`);

const restricted = { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } };

function probePod(name: string, securityContext: Obj = restricted): KubeObject {
    return {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace: NAMESPACE },
        spec: {
            // Bound by name, as the kubelet's own static pods are; the Deployment below goes through the scheduler.
            nodeName: NODE_NAME,
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
    let k: Kube;
    let node: RealNode | undefined;

    before(async function () {
        // The kubelet and kube-scheduler are built on first use (about half a minute after the control plane's
        // build, whose Go build cache they share); the Debian packages are installed on first use.
        this.timeout(45 * 60_000);
        k = kube(shared.kubeconfig);
        node = startNode(shared.env);
        loadImage(node, IMAGE, { go: "probe" }, ["--user", "65532:65532"]);
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
            stopNode(node);
        }
    });

    it("the node is registered and Ready: kubelet of the API server's release, containerd, cgroupfs", async () => {
        const n = await k.get(apiPath("", "v1", "nodes", undefined, NODE_NAME));
        assert.ok(n, `node ${NODE_NAME} not found`);
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
        const pod = await podReady(k, POD_PATH);
        log(`pod Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after it was created`);
        const podIP = String((pod.status as Obj).podIP);
        assert.match(podIP, /^10\.88\./);
        // From inside the node's network namespace, where the pod network is.
        const seen = inNode(node!, ["curl", "-fsS", "--max-time", "10", `http://${podIP}:8080/`]).trim();
        assert.strictEqual(seen, "uid=65532 gid=65532 rootWritable=false apiserver=200");
    });

    it("a Deployment's pod is placed by the scheduler and kept by the workload controllers", async () => {
        const labels = { app: "probe-deployment" };
        // The template names no node (probePod binds its pod by name).
        const { nodeName, ...template } = probePod("x").spec as Obj;
        assert.strictEqual(nodeName, NODE_NAME);
        await k.create(apiPath("apps", "v1", "deployments", NAMESPACE), {
            apiVersion: "apps/v1",
            kind: "Deployment",
            metadata: { name: "probe", namespace: NAMESPACE },
            spec: { replicas: 1, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: template } },
        });
        const pod = await waitFor("the Deployment's pod Ready", 120, async () => {
            const pods = await podsOf(k, NAMESPACE, "app=probe-deployment");
            const ready = pods.find((p) =>
                (((p.status as Obj | undefined)?.conditions as { type: string; status: string }[] | undefined) ?? []).some(
                    (c) => c.type === "Ready" && c.status === "True",
                ),
            );
            return ready;
        });
        assert.strictEqual((pod.spec as Obj).nodeName, NODE_NAME);
        const scheduled = ((pod.status as Obj).conditions as { type: string; status: string }[]).find((c) => c.type === "PodScheduled");
        assert.strictEqual(scheduled?.status, "True");
        assert.ok(
            ((pod.metadata as Obj).ownerReferences as { kind: string }[]).some((o) => o.kind === "ReplicaSet"),
            "the pod is the ReplicaSet's",
        );
        const dep = await k.get(apiPath("apps", "v1", "deployments", NAMESPACE, "probe"));
        log(`Deployment available replicas: ${String((dep?.status as Obj | undefined)?.availableReplicas)}`);
    });
});
