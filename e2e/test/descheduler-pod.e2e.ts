// The program's Descheduler as real pods (issue 16): `pulumi up --stack baremetal` with the real Descheduler chart
// (0.34.0) and the program's values unchanged, on the e2e node (e2e/node.sh: a real kubelet, containerd and runc). The
// image is named as the chart renders it (registry.k8s.io/descheduler/descheduler:v0.34.0) and holds the descheduler
// built here from sigs.k8s.io/descheduler (v0.36.0, the closest version the Go proxy serves: e2e/versions.env), laid
// out like upstream's (scratch, /bin/descheduler, USER 1000). Proven here: the chart's Deployment runs, its replicas
// elect one leader through the Lease in kube-system, and the program's DefaultEvictor never evicts a database pod.
// On one node the program's own balance plugins evict nothing, which proves nothing; so the same pod spec (image,
// service account and its RBAC, security context) runs once more with the DefaultEvictor args read from the rendered
// policy ConfigMap and a plugin that evicts every pod (PodLifeTime, 1 s), against an unlabelled workload, a CNPG
// instance pod and a SQL Server pod: the first is evicted, the others are not, and the log says why.
import * as assert from "assert";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { CHART_PATHS, kube, localOverrides, ROOT, settledNamespace } from "../harness";
import { inNode, loadImage, NODE_NAME, containerLog, podsOf, startNode, stopNode, type RealNode } from "../node";
import { CACHE, sh, VERSIONS, waitFor } from "../velero/tools";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
type Container = { name: string; image: string; imagePullPolicy: string; args: string[]; securityContext: Obj };
type PodSpec = { containers: Container[]; volumes: { name: string; configMap?: { name: string } }[] } & Obj;

const SYSTEM = "kube-system";
/** The test's workloads: one that may be evicted, and the two kinds of database pods the program protects. */
const NS = "descheduler-e2e";
/** A second node (an API object, no kubelet): the program's evictor has nodeFit on, so a pod needs somewhere to go. */
const SPARE_NODE = "e2e-spare";
/** The one-shot descheduler run with the program's evictor and an evict-everything plugin (pod and ConfigMap). */
const EVICT_ALL = "descheduler-e2e-evict-all";
const PAUSE = "registry.k8s.io/pause:3.10.1";
/**
 * The one grant the served binary needs beyond the chart's ClusterRole: descheduler 0.35+ lists and watches
 * PersistentVolumeClaims (DefaultEvictor's protected storage classes) and waits for that cache before any cycle; the
 * 0.36.0 chart grants it, the 0.34.0 chart (and so the 0.34.0 image it was written for) does not.
 */
const PVC_GRANT = "descheduler-e2e-0.36-pvcs";
const DESCHEDULER_BIN = path.join(CACHE, "bin", `descheduler-${VERSIONS.DESCHEDULER_VERSION}`, "descheduler");
/** What the descheduler logs at every cycle (pkg/descheduler/descheduler.go), with one node or more. */
const CYCLE = /Skipping descheduling cycle|"Number of evictions\/requests"/;
const log = (s: string) => process.stdout.write(`      [descheduler-pod] ${s}\n`);

/** The image the chart's Deployment template names by default: `<image.repository>:v<appVersion>`. */
function chartImage(): string {
    const chart = parse(fs.readFileSync(path.join(CHART_PATHS.descheduler, "Chart.yaml"), "utf8")) as { appVersion: string };
    const values = parse(fs.readFileSync(path.join(CHART_PATHS.descheduler, "values.yaml"), "utf8")) as {
        image: { repository: string; tag: string };
    };
    return `${values.image.repository}:${values.image.tag || `v${chart.appVersion}`}`;
}

const conditionTrue = (o: KubeObject | undefined, type: string) =>
    (((o?.status as Obj | undefined)?.conditions as { type: string; status: string }[] | undefined) ?? []).some(
        (c) => c.type === type && c.status === "True",
    );
const meta = (o: KubeObject) => o.metadata as { name: string; namespace: string; uid: string; labels?: Record<string, string> };

/** PVC_GRANT: read access to PersistentVolumeClaims for the chart's ServiceAccount, as the 0.36.0 chart's ClusterRole has. */
async function grantPvcReads(k: Kube): Promise<void> {
    const rbac = (plural: string) => apiPath("rbac.authorization.k8s.io", "v1", plural, undefined, PVC_GRANT);
    await k.apply(
        rbac("clusterroles"),
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRole",
            metadata: { name: PVC_GRANT },
            rules: [{ apiGroups: [""], resources: ["persistentvolumeclaims"], verbs: ["get", "watch", "list"] }],
        },
        "descheduler-e2e",
    );
    await k.apply(
        rbac("clusterrolebindings"),
        {
            apiVersion: "rbac.authorization.k8s.io/v1",
            kind: "ClusterRoleBinding",
            metadata: { name: PVC_GRANT },
            roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: PVC_GRANT },
            subjects: [{ kind: "ServiceAccount", name: "descheduler", namespace: SYSTEM }],
        },
        "descheduler-e2e",
    );
}

/** A Deployment of the pause image whose pods carry `labels`. */
function deployment(name: string, labels: Record<string, string>): KubeObject {
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name, namespace: NS },
        spec: {
            replicas: 1,
            selector: { matchLabels: { app: name } },
            template: {
                metadata: { labels: { app: name, ...labels } },
                spec: { containers: [{ name: "main", image: PAUSE, imagePullPolicy: "Never" }], terminationGracePeriodSeconds: 5 },
            },
        },
    };
}

describe("the program's Descheduler runs as real pods (real chart, image built here) and never evicts a database pod", function () {
    this.timeout(15 * 60_000);
    const image = chartImage();
    let k: Kube;
    let node: RealNode | undefined;
    let ws: Workspace | undefined;
    let pods: KubeObject[] = [];

    before(async function () {
        // First use: the descheduler build (about 5 min on 2 busy cores, e2e/TIMINGS.md), then cached.
        this.timeout(45 * 60_000);
        k = kube(shared.kubeconfig);
        sh("bash", [path.join(ROOT, "e2e", "toolchain.sh"), "descheduler"], shared.env, "e2e/toolchain.sh descheduler");
        node = startNode(shared.env);
        // Upstream's layout (its Dockerfile at the same tag): FROM scratch, the binary at /bin/descheduler, USER 1000.
        loadImage(node, image, { files: true }, ["--file", `${DESCHEDULER_BIN}:/bin/descheduler`, "--user", "1000"]);
        await settledNamespace(k, NS);
        await grantPvcReads(k);
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init(localOverrides());
        const t0 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (real charts, program's values) in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        try {
            if (k && process.env.E2E_KEEP !== "1") {
                await k.delete(apiPath("", "v1", "pods", SYSTEM, EVICT_ALL));
                await k.delete(apiPath("", "v1", "configmaps", SYSTEM, EVICT_ALL));
                await k.delete(apiPath("", "v1", "namespaces", undefined, NS));
                await k.delete(apiPath("", "v1", "nodes", undefined, SPARE_NODE));
                await k.delete(apiPath("rbac.authorization.k8s.io", "v1", "clusterrolebindings", undefined, PVC_GRANT));
                await k.delete(apiPath("rbac.authorization.k8s.io", "v1", "clusterroles", undefined, PVC_GRANT));
                // The evicted pod's replacement may be bound to the spare node, where no kubelet confirms its deletion:
                // force-delete what the namespace's deletion leaves, as an operator would for a lost node.
                await waitFor(`namespace ${NS} gone`, 90, async () => {
                    if (!(await k.get(apiPath("", "v1", "namespaces", undefined, NS)))) return true;
                    for (const p of await k.list(apiPath("", "v1", "pods", NS)))
                        await k
                            .request("DELETE", apiPath("", "v1", "pods", NS, meta(p).name), { gracePeriodSeconds: 0 })
                            .catch(() => undefined);
                    return undefined;
                });
                // With the kubelet still running, so the Descheduler's pods terminate before the node stops.
                const t0 = Date.now();
                ws?.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"]);
                log(`pulumi destroy in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
            }
        } finally {
            k?.close();
            stopNode(node);
            if (process.env.E2E_KEEP !== "1") ws?.remove();
        }
    });

    it("the chart's Deployment runs the image built here under the program's values, every replica Ready", async () => {
        const dep = await k.get(apiPath("apps", "v1", "deployments", SYSTEM, "descheduler"));
        assert.ok(dep, "the chart created Deployment kube-system/descheduler");
        const spec = dep.spec as { replicas: number; template: { spec: PodSpec } };
        const c = spec.template.spec.containers[0];
        assert.strictEqual(c.image, image, "the image the chart renders by default");
        assert.strictEqual(c.imagePullPolicy, "IfNotPresent");
        assert.strictEqual(spec.replicas, 3, "the stack file's HA profile: three replicas");
        for (const a of ["--leader-elect=true", "--descheduling-interval=5m", "--policy-config-file=/policy-dir/policy.yaml"])
            assert.ok(c.args.includes(a), `${a} in ${c.args.join(" ")}`);
        assert.deepStrictEqual(
            [c.securityContext.runAsUser, c.securityContext.runAsNonRoot, c.securityContext.readOnlyRootFilesystem],
            [1000, true, true],
        );

        // The chart's ClusterRole: evictions, leases (leader election); PVCs only through PVC_GRANT (see there).
        const role = await k.get(apiPath("rbac.authorization.k8s.io", "v1", "clusterroles", undefined, "descheduler"));
        const rules = (role?.rules as { resources: string[]; verbs: string[]; resourceNames?: string[] }[] | undefined) ?? [];
        const can = (resource: string, verb: string) =>
            rules.some((r) => r.resources.includes(resource) && r.verbs.includes(verb) && r.resourceNames === undefined);
        assert.ok(can("pods/eviction", "create") && can("leases", "create") && can("leases", "update"), JSON.stringify(rules));
        assert.ok(!can("persistentvolumeclaims", "list"), "the chart grants PVC reads now: PVC_GRANT is no longer needed");

        const t0 = Date.now();
        pods = await waitFor("the Descheduler's 3 pods Ready", 180, async () => {
            const ps = await podsOf(k, SYSTEM, "app.kubernetes.io/name=descheduler,app.kubernetes.io/instance=descheduler");
            return ps.length === 3 && ps.every((p) => conditionTrue(p, "Ready")) ? ps : undefined;
        });
        log(`3 descheduler pods Ready ${((Date.now() - t0) / 1000).toFixed(1)} s after up`);
        for (const p of pods) {
            const status = p.status as { podIP: string; containerStatuses: { restartCount: number; image: string }[] };
            assert.strictEqual((p.spec as Obj).nodeName, NODE_NAME);
            assert.strictEqual(status.containerStatuses[0].restartCount, 0, `${meta(p).name} restarted`);
            // What the chart's liveness probe asks (HTTPS on 10258, the descheduler's own self-signed certificate).
            const healthz = inNode(node!, ["curl", "-ksS", "--max-time", "10", `https://${status.podIP}:10258/healthz`]).trim();
            assert.strictEqual(healthz, "ok", `${meta(p).name} /healthz`);
        }
        // The processes run as the chart's runAsUser (and the image's USER), not as root.
        const ps = spawnSync("ps", ["-o", "uid=,args=", "-C", "descheduler"], { encoding: "utf8" }).stdout.trim().split("\n");
        const ours = ps.filter((l) => l.includes("--policy-config-file=/policy-dir/policy.yaml") && l.includes("--leader-elect=true"));
        assert.ok(ours.length >= 3, ps.join("\n"));
        assert.ok(
            ours.every((l) => l.trim().startsWith("1000 ")),
            ours.join("\n"),
        );
    });

    it("its replicas elect one leader: the Lease kube-system/descheduler is held by one of its pods", async () => {
        const names = pods.map((p) => meta(p).name);
        const lease = await waitFor("Lease kube-system/descheduler held", 60, async () => {
            const l = await k.get(apiPath("coordination.k8s.io", "v1", "leases", SYSTEM, "descheduler"));
            return (l?.spec as Obj | undefined)?.holderIdentity ? l : undefined;
        });
        const spec = lease.spec as { holderIdentity: string; leaseDurationSeconds: number; renewTime: string };
        // The descheduler's identity is `<hostname>_<uuid>`, and a pod's hostname is its name.
        const leader = spec.holderIdentity.split("_")[0];
        assert.ok(names.includes(leader), `${spec.holderIdentity} is one of ${names.join(", ")}`);
        assert.strictEqual(spec.leaseDurationSeconds, 137, "the descheduler's default lease duration");
        log(`leader ${leader}; lease renewed ${spec.renewTime}`);
        // One pod acquired the lease and ran a descheduling cycle; the others are waiting for it.
        const leaderPod = pods.find((p) => meta(p).name === leader)!;
        await waitFor("the leader's first descheduling cycle in its log", 60, () =>
            Promise.resolve(CYCLE.test(containerLog(node!, leaderPod, "descheduler")) ? true : undefined),
        );
        const logs = Object.fromEntries(pods.map((p) => [meta(p).name, containerLog(node!, p, "descheduler")]));
        assert.match(logs[leader], /"Successfully acquired lease" lock="kube-system\/descheduler"/);
        for (const n of names.filter((n) => n !== leader)) {
            assert.match(logs[n], /"Attempting to acquire leader lease\.\.\." lock="kube-system\/descheduler"/, n);
            assert.ok(logs[n].includes(`New leader elected: ${spec.holderIdentity}`), `${n}:\n${logs[n]}`);
            assert.doesNotMatch(logs[n], /Successfully acquired lease/, n);
            assert.doesNotMatch(logs[n], CYCLE, `${n} ran a cycle without the lease`);
        }
        // On one node the descheduler skips its cycle altogether (it needs two nodes): nothing can be evicted.
        assert.match(logs[leader], /Skipping descheduling cycle: requires >=2 nodes/);
        assert.doesNotMatch(logs[leader], /"Evicted pod"/);
    });

    it("with the program's DefaultEvictor and a plugin that evicts every pod, the unlabelled pod goes and the database pods stay", async () => {
        // The workloads: CNPG instance pods are controlled by their Cluster and labelled as CNPG labels them;
        // SQL Server by its chart's name label; `web` is anything else.
        await k.create(apiPath("", "v1", "namespaces"), { apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
        const cluster = await k.create(apiPath("postgresql.cnpg.io", "v1", "clusters", NS), {
            apiVersion: "postgresql.cnpg.io/v1",
            kind: "Cluster",
            metadata: { name: "orders-pg", namespace: NS },
            spec: { instances: 1, storage: { size: "1Gi" } },
        });
        assert.ok(cluster);
        const instanceMeta = {
            name: "orders-pg-1",
            namespace: NS,
            labels: {
                "cnpg.io/cluster": "orders-pg",
                "cnpg.io/instanceName": "orders-pg-1",
                "cnpg.io/podRole": "instance",
                "cnpg.io/instanceRole": "primary",
                role: "primary",
            },
            ownerReferences: [
                {
                    apiVersion: "postgresql.cnpg.io/v1",
                    kind: "Cluster",
                    name: "orders-pg",
                    uid: meta(cluster).uid,
                    controller: true,
                    blockOwnerDeletion: true,
                },
            ],
        };
        await k.create(apiPath("", "v1", "pods", NS), {
            apiVersion: "v1",
            kind: "Pod",
            metadata: instanceMeta,
            spec: { containers: [{ name: "postgres", image: PAUSE, imagePullPolicy: "Never" }], terminationGracePeriodSeconds: 5 },
        });
        await k.create(apiPath("apps", "v1", "deployments", NS), deployment("mssql", { "app.kubernetes.io/name": "mssql" }));
        await k.create(apiPath("apps", "v1", "deployments", NS), deployment("web", { "app.kubernetes.io/name": "web" }));
        const before = await waitFor("the three workloads Running", 90, async () => {
            const ps = await podsOf(k, NS, "");
            return ps.length === 3 && ps.every((p) => (p.status as Obj).phase === "Running") ? ps : undefined;
        });
        const byName = (prefix: string) => before.find((p) => meta(p).name.startsWith(prefix))!;
        const [web, pg, mssql] = [byName("web-"), byName("orders-pg-1"), byName("mssql-")];

        // The spare node, Ready and untainted (the API server's admission taints a new node not-ready until told).
        await k.create(apiPath("", "v1", "nodes"), {
            apiVersion: "v1",
            kind: "Node",
            metadata: { name: SPARE_NODE, labels: { "kubernetes.io/hostname": SPARE_NODE, "kubernetes.io/os": "linux" } },
        });
        const now = new Date().toISOString();
        const capacity = { cpu: "4", memory: "8Gi", pods: "110" };
        await k.patchStatus(apiPath("", "v1", "nodes", undefined, SPARE_NODE), {
            capacity,
            allocatable: capacity,
            conditions: [{ type: "Ready", status: "True", reason: "E2E", lastHeartbeatTime: now, lastTransitionTime: now }],
        });
        await k.request(
            "PATCH",
            apiPath("", "v1", "nodes", undefined, SPARE_NODE),
            { spec: { taints: null } },
            "application/merge-patch+json",
        );

        // The policy the chart rendered from the program's values, with its profile's plugins replaced: the
        // DefaultEvictor entry is taken as rendered, PodLifeTime evicts every pod of NS older than a second.
        const cm = await k.get(apiPath("", "v1", "configmaps", SYSTEM, "descheduler"));
        const rendered = parse((cm?.data as Record<string, string>)["policy.yaml"]) as {
            profiles: { pluginConfig: { name: string }[] }[];
        } & Obj;
        const evictor = rendered.profiles[0].pluginConfig.find((p) => p.name === "DefaultEvictor");
        assert.ok(evictor, "the rendered policy configures the DefaultEvictor");
        const policy = {
            ...rendered,
            profiles: [
                {
                    name: "evict-everything",
                    pluginConfig: [evictor, { name: "PodLifeTime", args: { maxPodLifeTimeSeconds: 1, namespaces: { include: [NS] } } }],
                    plugins: { deschedule: { enabled: ["PodLifeTime"] } },
                },
            ],
        };
        await k.create(apiPath("", "v1", "configmaps", SYSTEM), {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: EVICT_ALL, namespace: SYSTEM },
            data: { "policy.yaml": stringify(policy) },
        });
        // The Deployment's pod spec (image, service account, security context, resources), run once: no interval and no
        // leader election (a one-shot run refuses it), -v=4 for the evictor's reasons, and the policy above.
        const dep = await k.get(apiPath("apps", "v1", "deployments", SYSTEM, "descheduler"));
        const spec = structuredClone((dep?.spec as { template: { spec: PodSpec } }).template.spec);
        const c = spec.containers[0];
        c.args = [
            ...c.args.filter((a) => !a.startsWith("--descheduling-interval") && !a.startsWith("--leader-elect") && !a.startsWith("--v=")),
            "--v=4",
        ];
        spec.volumes = spec.volumes.map((v) =>
            v.configMap?.name === "descheduler" ? { ...v, configMap: { ...v.configMap, name: EVICT_ALL } } : v,
        );
        // Bound by name: the scheduler would prefer the empty spare node, where nothing runs.
        Object.assign(spec, { restartPolicy: "Never", nodeName: NODE_NAME });
        await k.create(apiPath("", "v1", "pods", SYSTEM), {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: EVICT_ALL, namespace: SYSTEM, labels: { app: EVICT_ALL } },
            spec,
        });
        const t0 = Date.now();
        const done = await waitFor("the one-shot descheduler run finished", 120, async () => {
            const p = await k.get(apiPath("", "v1", "pods", SYSTEM, EVICT_ALL));
            const phase = (p?.status as Obj | undefined)?.phase;
            return phase === "Succeeded" || phase === "Failed" ? p : undefined;
        });
        const out = containerLog(node!, done, "descheduler");
        log(`one-shot run ${String((done.status as Obj).phase)} after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        assert.strictEqual((done.status as Obj).phase, "Succeeded", out.slice(-3000));

        // The unlabelled pod was evicted (and replaced by its ReplicaSet); the database pods are the same pods as before.
        // Read from its log: a one-shot run exits before its event recorder flushes (the Descheduled event is
        // dropped, "context canceled"), so events prove nothing either way here.
        assert.strictEqual(out.match(/"Evicted pod"/g)?.length, 1, out.slice(-3000));
        const evicted = (p: KubeObject) => new RegExp(`"Evicted pod" pod="${NS}/${meta(p).name}"`).test(out);
        assert.ok(evicted(web), `web evicted:\n${out.slice(-3000)}`);
        await waitFor(`pod ${meta(web).name} deleted`, 60, async () =>
            (await k.get(apiPath("", "v1", "pods", NS, meta(web).name))) ? undefined : true,
        );
        for (const p of [pg, mssql]) {
            assert.ok(!evicted(p), `${meta(p).name} was evicted`);
            const now = await k.get(apiPath("", "v1", "pods", NS, meta(p).name));
            assert.strictEqual(now && meta(now).uid, meta(p).uid, `${meta(p).name} is the same pod`);
            assert.strictEqual(now && (now.metadata as Obj).deletionTimestamp, undefined, `${meta(p).name} is not terminating`);
            // Why: the labelSelector the program rendered, nothing else (-v=4 prints every failed check).
            const why = new RegExp(`"Pod fails the following checks" [^\\n]*pod="${NS}/${meta(p).name}" checks="([^"]*)"`).exec(out);
            assert.strictEqual(why?.[1], "pod labels do not match the labelSelector filter in the policy parameter", out.slice(-3000));
        }
    });
});
