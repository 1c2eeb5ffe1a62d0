// Velero as a pod on a real node (issue 16): `pulumi up --stack baremetal` with the real Velero chart and the program's
// values, on e2e/node.sh's kubelet. The chart's Deployment runs as the cluster would run it: the plugin init container
// (image velero/velero-plugin-for-aws:v1.13.0, the program's pin) copies the AWS plugin with cp-plugin, the server
// (velero/velero:v1.17.1, the chart's) starts with the credentials Secret mounted and the service account's token,
// under the program's security contexts in a `restricted` namespace. Both images are built here from velero 1.18.3 and
// velero-plugin-for-aws 1.14.3 (e2e/velero/images.ts, e2e/STANDINS.md). The in-cluster server marks the
// BackupStorageLocation Available and runs the backup and restore of e2e/test/velero.e2e.ts; the test only creates
// Backup and Restore objects through the API server, as `velero backup create` does.
// The stack runs with `velero.crds: job` (issue 17): the CRD Job (the chart's hook template, registered by the program), a pod on the node too (the server image
// with sh and kubectl copied in from the kubectl image, a stand-in built here), applies the server's CRDs before the
// BackupStorageLocation and the Schedules exist, and the CRDs stay out of the stack's state.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { velero as veleroConfig } from "../../config/velero";
import { CHART_PATHS, kube } from "../harness";
import {
    containerLog,
    containerProcess,
    describePod,
    HOST_FROM_PODS,
    inNode,
    NODE_NAME,
    podsOf,
    podStuck,
    startNode,
    stopNode,
    type RealNode,
} from "../node";
import { Workspace } from "../workspace";
import { createApplication, deleteNamespace, restoredContent } from "../velero/application";
import { chartImages, KUBECTL_IMAGE, loadKubectlImage, loadVeleroImages } from "../velero/images";
import { applySnapshotCrds, RUNNING, serverCrds, veleroBucketReady } from "../velero/server";
import { listBucket, parseCredentials, VERSIONS, waitFor } from "../velero/tools";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
type Condition = { type: string; status: string };

const NS = "velero";
const APP_NS = "velero-pod-e2e-shop";
/** Names of their own: velero.e2e.ts backs up to the same bucket in a whole run (its `shop-1` must stay free). */
const BACKUP = "pod-shop-1";
const RESTORE = "pod-shop-1-restore";
const SELECTOR = "app.kubernetes.io/name=velero";
const DEPLOYMENT = apiPath("apps", "v1", "deployments", NS, "velero");
/** The server's memory limit, the program's default. */
const LIMIT = veleroConfig.parse({}).resources.limits?.memory ?? "none";

/** The images the Deployment names, unchanged: the chart's server image and the program's plugin pin. */
const IMAGES = chartImages();
/** The schemas of a CRD's versions (compared as objects: the API server returns their keys in its own order). */
const schemasOf = (crd: KubeObject) => (((crd.spec as Obj | undefined)?.versions as Obj[] | undefined) ?? []).map((v) => v.schema);
/** The CRD Job (components/velero.ts CRD_JOB). */
const CRD_JOB = apiPath("batch", "v1", "jobs", NS, "velero-upgrade-crds");
/** The stack's field manager (core/ownership.ts), which the Job's server-side apply writes as. */
const STACK_MANAGER = "backup-platform-baremetal";
/** The program's security contexts (components/velero.ts), which Pod Security `restricted` admits. */
const POD_SECURITY_CONTEXT = { runAsNonRoot: true, runAsUser: 65534, runAsGroup: 65534, seccompProfile: { type: "RuntimeDefault" } };
const CONTAINER_SECURITY_CONTEXT = { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

const log = (s: string) => process.stdout.write(`      [velero-pod-e2e] ${s}\n`);
const secs = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
const ready = (p: KubeObject) =>
    (((p.status as Obj | undefined)?.conditions as Condition[] | undefined) ?? []).some((c) => c.type === "Ready" && c.status === "True");

describe("Velero runs as a pod on a real node: the real chart's Deployment with the program's values, images built here", function () {
    this.timeout(15 * 60_000);
    let ws: Workspace | undefined;
    let k: Kube;
    let node: RealNode | undefined;
    let tmp: string;
    /** The object store as the machine reaches it (the test's listings) and as pods do (the location's s3Url). */
    let endpoint = "";
    let podEndpoint = "";
    let pod: KubeObject | undefined;
    let failures = 0;

    const velero = (plural: string, name?: string) => apiPath("velero.io", "v1", plural, NS, name);

    /** Waits for a Backup or Restore the in-cluster server runs to leave its running phases. */
    const finished = (plural: "backups" | "restores", name: string) =>
        waitFor(`${plural} ${name} to finish`, 300, async () => {
            const o = await k.get(velero(plural, name));
            const phase = (o?.status as Obj | undefined)?.phase as string | undefined;
            return phase && !RUNNING.includes(phase) ? o : undefined;
        });

    /** The keys in the credentials file the pod mounts (the program's Secret, named by the Deployment's volume). */
    const credentials = async () => {
        const dep = await k.get(DEPLOYMENT);
        const vols = (((dep?.spec as Obj).template as Obj).spec as Obj).volumes as Obj[];
        const secretName = (vols.find((v) => v.name === "cloud-credentials")?.secret as Obj | undefined)?.secretName as string;
        const secret = await k.get(apiPath("", "v1", "secrets", NS, secretName));
        return parseCredentials(Buffer.from(((secret?.data as Obj | undefined)?.cloud as string | undefined) ?? "", "base64").toString());
    };

    afterEach(function () {
        if (this.currentTest?.state === "failed") failures++;
    });

    before(async function () {
        // Optional toolchain components (velero ~17 min cold, then cached) and the node's kubelet (first use).
        this.timeout(45 * 60_000);
        k = kube(shared.kubeconfig);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "velero-pod-e2e-"));
        endpoint = shared.store.endpoint;
        const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(endpoint)?.[1]);
        assert.ok(port > 0, `object store endpoint ${endpoint}`);
        podEndpoint = `http://${HOST_FROM_PODS}:${port}`;

        // The node first, with the object store's port forwarded, and the images in its containerd before the
        // Deployment exists: the kubelet never pulls (IfNotPresent finds them under the pinned names).
        node = startNode(shared.env, [port]);
        const t0 = Date.now();
        const imageSeconds = loadVeleroImages(node, IMAGES);
        log(
            `images ${IMAGES.server} and ${IMAGES.plugin}: toolchain check + build + import ${secs(t0)} (build + import ${imageSeconds.toFixed(1)} s)`,
        );
        log(`image ${KUBECTL_IMAGE}: build + import ${loadKubectlImage(node).toFixed(1)} s`);
        // The CSI snapshot kinds a CSI-capable cluster has (not Velero's: no Job applies them), before the server starts.
        await applySnapshotCrds(k);
        // Suites share the API server and an earlier suite's stack may have left a velero Deployment (removing a
        // workspace keeps its objects): this `up` would adopt it, and the order this suite checks (the Job first, then
        // the server) would not be seen. Gone first, with the kubelet running to stop its pods.
        for (const p of [DEPLOYMENT, CRD_JOB]) {
            if (!(await k.get(p))) continue;
            await k.delete(p, { propagationPolicy: "Foreground" });
            await waitFor(`${p} gone`, 180, async () => ((await k.get(p)) ? undefined : true));
            log(`${p}, left by an earlier suite, deleted`);
        }

        // The stack file's bare-metal settings with the object store as pods reach it (the default is the in-cluster RGW
        // Service, which has no DNS or kube-proxy here). The Descheduler is off: its image is not built here, and its
        // pods would only wait for a pull that cannot happen.
        const bm = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({
            "backup:charts": { velero: { path: CHART_PATHS.velero } },
            "backup:skipAwait": true,
            "backup:baremetal": { ...bm, endpoint: podEndpoint },
            "backup:descheduler": { enabled: false },
            "backup:velero": { crds: "job", kubectlImage: KUBECTL_IMAGE },
        });
        const t1 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (real Velero chart) in ${secs(t1)}`);
    });

    after(async function () {
        this.timeout(5 * 60_000);
        try {
            if (node && pod && failures > 0) {
                const tail = containerLog(node, pod, "velero")
                    .split("\n")
                    .filter((l) => /level=(error|warning)/.test(l))
                    .slice(-40);
                log(`velero container errors and warnings (last 40):\n${tail.join("\n")}`);
            }
            // The Deployment goes while the kubelet still runs, so its pod stops and no pod stays bound to a gone node.
            if (k && node && process.env.E2E_KEEP !== "1") {
                const t0 = Date.now();
                await k.delete(DEPLOYMENT, { propagationPolicy: "Foreground" });
                await waitFor("the velero pods gone", 180, async () => ((await podsOf(k, NS, SELECTOR)).length === 0 ? true : undefined));
                log(`Deployment velero deleted, its pod gone in ${secs(t0)}`);
            }
            if (process.env.E2E_KEEP !== "1") {
                ws?.remove();
            }
        } finally {
            k?.close();
            stopNode(node);
            if (tmp && process.env.E2E_KEEP !== "1") fs.rmSync(tmp, { recursive: true, force: true });
        }
    });

    it("the Rook stand-in binds the program's Velero bucket claim and makes its users", async () => {
        const claim = await veleroBucketReady(k);
        assert.strictEqual((claim.spec as Obj).bucketName, "velero-backups");
    });

    it("the CRD Job, a pod on the node, applied the server's own CRDs (1.18.3); the stack's state holds none", async () => {
        assert.ok(ws && node);
        // `up` waited for the Job (the BackupStorageLocation and the Schedules depend on it): it has completed.
        const job = await k.get(CRD_JOB);
        const jobStatus = (job?.status ?? {}) as Obj;
        assert.strictEqual(jobStatus.succeeded, 1, JSON.stringify(jobStatus));
        const [jobPod] = await podsOf(k, NS, `batch.kubernetes.io/job-name=velero-upgrade-crds`);
        assert.ok(jobPod, "the Job's pod is kept");
        const spec = jobPod.spec as Obj;
        assert.strictEqual(spec.nodeName, NODE_NAME);
        const [init] = spec.initContainers as Obj[];
        const [main] = spec.containers as Obj[];
        assert.deepStrictEqual([init.image, main.image], [KUBECTL_IMAGE, IMAGES.server]);
        for (const c of [init, main]) assert.deepStrictEqual(c.securityContext, CONTAINER_SECURITY_CONTEXT, `${String(c.name)}`);
        assert.deepStrictEqual(spec.securityContext, POD_SECURITY_CONTEXT);
        // What kubectl printed: one line per CRD the server's `velero install --crds-only` rendered.
        const applied = containerLog(node, jobPod, "velero").trim().split("\n");
        log(`CRD Job output (${applied.length} lines): ${applied.slice(0, 3).join("; ")} ...`);
        const wanted = serverCrds(tmp);
        assert.strictEqual(wanted.length, 13);
        for (const crd of wanted) {
            const name = (crd.metadata as Obj).name as string;
            assert.ok(
                applied.some((l) => l.startsWith(`customresourcedefinition.apiextensions.k8s.io/${name} `)),
                `${name} in the Job's output`,
            );
            const live = await k.get(apiPath("apiextensions.k8s.io", "v1", "customresourcedefinitions", undefined, name));
            assert.ok(live, `${name} exists`);
            assert.deepStrictEqual(schemasOf(live), schemasOf(crd), `${name}: the server's schema, not the chart's`);
            const managers = (((live.metadata as Obj).managedFields as { manager?: string; subresource?: string }[] | undefined) ?? [])
                .filter((f) => f.subresource === undefined)
                .map((f) => f.manager);
            assert.deepStrictEqual(managers, [STACK_MANAGER], `${name}: applied as the stack's field manager`);
        }
        // The state: the Job and its RBAC, no CRD (they were 45% of the demo stack's export, BENCHMARKS.md 3g).
        const types = (JSON.parse(ws.exportState()) as { deployment: { resources: { type: string }[] } }).deployment.resources.map(
            (r) => r.type,
        );
        assert.ok(!types.includes("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition"), "no CRD in the state");
        for (const t of ["batch/v1:Job", "rbac.authorization.k8s.io/v1:ClusterRole", "core/v1:ServiceAccount"])
            assert.ok(types.includes(`kubernetes:${t}`), `${t} in the state`);
    });

    it("the server's Deployment was created once the Job had completed, so its pod starts against the server's CRDs", async () => {
        // What Helm's pre-install hook orders, and Velero's upgrade guide asks: the CRDs first, then the server (the chart
        // depends on the Job).
        const completed = Date.parse(String(((await k.get(CRD_JOB))?.status as Obj).completionTime));
        const created = Date.parse(String(((await k.get(DEPLOYMENT))?.metadata as Obj).creationTimestamp));
        log(`CRD Job completed ${new Date(completed).toISOString()}, Deployment created ${new Date(created).toISOString()}`);
        assert.ok(created >= completed, "the Deployment waited for the Job");
        const t0 = Date.now();
        const current = async () => (await podsOf(k, NS, SELECTOR))[0];
        pod = await waitFor("a Ready velero pod", 300, async () => {
            const p = await current();
            const problem = p && podStuck(p);
            if (problem) throw new Error(`the velero pod cannot start: ${problem}`);
            return p && ready(p) ? p : undefined;
        }).catch(async (err: Error) => {
            const p = await current();
            throw new Error(`${err.message}\n${p && node ? describePod(node, p) : "no pod"}`);
        });
        log(`pod ${String((pod.metadata as Obj).name)} Ready ${secs(t0)} after \`up\` (readiness probe: 10 s delay, 30 s period)`);
    });

    it("the pod runs the pinned images under the program's security contexts, in a `restricted` namespace, on the node", async () => {
        assert.ok(pod && node);
        const nsLabels = ((await k.get(apiPath("", "v1", "namespaces", undefined, NS)))?.metadata as Obj).labels as Obj;
        assert.strictEqual(nsLabels["pod-security.kubernetes.io/enforce"], "restricted");
        const spec = pod.spec as Obj;
        const status = pod.status as Obj;
        assert.strictEqual(spec.nodeName, NODE_NAME);
        assert.strictEqual(spec.serviceAccountName, "velero-server");
        assert.deepStrictEqual(spec.securityContext, POD_SECURITY_CONTEXT);
        const [init] = spec.initContainers as Obj[];
        const [server] = spec.containers as Obj[];
        assert.deepStrictEqual([init.image, server.image], [IMAGES.plugin, IMAGES.server]);
        assert.strictEqual(init.command, undefined, "the init container runs the plugin image's entrypoint (cp-plugin)");
        for (const c of [init, server]) assert.deepStrictEqual(c.securityContext, CONTAINER_SECURITY_CONTEXT, `${String(c.name)}`);

        // The init container ran to completion and copied the plugin (its own output, from the kubelet's pod logs).
        const [initStatus] = status.initContainerStatuses as Obj[];
        const terminated = (initStatus.state as Obj).terminated as Obj;
        assert.deepStrictEqual([terminated.reason, terminated.exitCode], ["Completed", 0]);
        const initLog = containerLog(node, pod, String(init.name)).trim();
        log(`init container ${String(init.name)}: ${initLog}`);
        assert.match(initLog, /^Copying \/plugins\/velero-plugin-for-aws to \/target\/velero-plugin-for-aws \.\.\. +done\.$/);

        // The server's process as the kernel sees it: the pod's user, no capabilities, no new privileges, a seccomp
        // filter, a read-only root filesystem.
        const [serverStatus] = status.containerStatuses as Obj[];
        assert.strictEqual(serverStatus.restartCount, 0);
        const proc = containerProcess(node, String(serverStatus.containerID));
        log(
            `velero server pid ${proc.pid}: uid ${proc.uid.join(",")} gid ${proc.gid.join(",")} CapEff ${proc.capEff} NoNewPrivs ${String(proc.noNewPrivs)} Seccomp ${proc.seccomp} root ro ${String(proc.rootReadOnly)}`,
        );
        assert.deepStrictEqual(proc.uid, [65534, 65534, 65534, 65534]);
        assert.deepStrictEqual(proc.gid, [65534, 65534, 65534, 65534]);
        assert.strictEqual(proc.capEff, "0000000000000000");
        assert.strictEqual(proc.noNewPrivs, true);
        assert.strictEqual(proc.seccomp, 2);
        assert.strictEqual(proc.rootReadOnly, true);
    });

    it("the in-cluster server has the AWS plugin and marks the BackupStorageLocation Available at the endpoint pods reach", async () => {
        assert.ok(pod && node);
        // What `velero plugin get` asks: a ServerStatusRequest, answered by the server in the pod.
        await k.create(velero("serverstatusrequests"), {
            apiVersion: "velero.io/v1",
            kind: "ServerStatusRequest",
            metadata: { name: "velero-pod-e2e", namespace: NS },
            spec: {},
        });
        const ssr = await waitFor("ServerStatusRequest processed", 120, async () => {
            const o = await k.get(velero("serverstatusrequests", "velero-pod-e2e"));
            return (o?.status as Obj | undefined)?.phase === "Processed" ? o : undefined;
        });
        const ssrStatus = ssr.status as { serverVersion: string; plugins: { name: string; kind: string }[] };
        log(
            `server ${ssrStatus.serverVersion}; ObjectStore plugins: ${ssrStatus.plugins
                .filter((p) => p.kind === "ObjectStore")
                .map((p) => p.name)
                .join(", ")}`,
        );
        assert.strictEqual(ssrStatus.serverVersion, `v${VERSIONS.VELERO_VERSION}`);
        assert.ok(
            ssrStatus.plugins.some((p) => p.name === "velero.io/aws" && p.kind === "ObjectStore"),
            "velero.io/aws ObjectStore registered",
        );

        const t0 = Date.now();
        const bsl = await waitFor("BackupStorageLocation default Available", 180, async () => {
            const o = await k.get(velero("backupstoragelocations", "default"));
            return (o?.status as Obj | undefined)?.phase === "Available" ? o : undefined;
        });
        log(
            `BackupStorageLocation default Available (${secs(t0)} after the pod was Ready), s3Url ${String(((bsl.spec as Obj).config as Obj).s3Url)}`,
        );
        assert.strictEqual(((bsl.spec as Obj).config as Obj).s3Url, podEndpoint);
        assert.match(containerLog(node, pod, "velero"), /BackupStorageLocations is valid, marking as available/);
    });

    let backupObjects: Map<string, KubeObject>;

    it("backs up an application namespace through the in-cluster server; its files are in the bucket", async () => {
        assert.ok(node && pod, "the velero pod runs");
        backupObjects = await createApplication(k, APP_NS);
        const t0 = Date.now();
        // What `velero backup create pod-shop-1 --include-namespaces ...` creates.
        await k.create(velero("backups"), {
            apiVersion: "velero.io/v1",
            kind: "Backup",
            metadata: { name: BACKUP, namespace: NS },
            spec: { includedNamespaces: [APP_NS] },
        });
        const status = (await finished("backups", BACKUP)).status as Obj;
        log(`backup ${BACKUP}: ${String(status.phase)} in ${secs(t0)}, ${JSON.stringify(status.progress)}`);
        assert.strictEqual(status.phase, "Completed", JSON.stringify(status));
        assert.strictEqual((status.progress as Obj).itemsBackedUp, (status.progress as Obj).totalItems);

        // The bucket, listed from the machine with the keys the pod mounts.
        const keys = listBucket(endpoint, "velero-backups", `backups/${BACKUP}/`, await credentials());
        log(`s3://velero-backups/backups/${BACKUP}/:\n${keys.map((key) => `        ${key}`).join("\n")}`);
        for (const f of [`${BACKUP}.tar.gz`, "velero-backup.json", `${BACKUP}-logs.gz`, `${BACKUP}-resource-list.json.gz`])
            assert.ok(keys.includes(`backups/${BACKUP}/${f}`), `backups/${BACKUP}/${f} is in the bucket`);

        // `velero backup logs`: the server signs a URL for the endpoint it uses, which a pod (here: the node's network
        // namespace) can fetch.
        await k.create(velero("downloadrequests"), {
            apiVersion: "velero.io/v1",
            kind: "DownloadRequest",
            metadata: { name: `${BACKUP}-logs`, namespace: NS },
            spec: { target: { kind: "BackupLog", name: BACKUP } },
        });
        const url = await waitFor("DownloadRequest processed", 60, async () => {
            const o = await k.get(velero("downloadrequests", `${BACKUP}-logs`));
            return ((o?.status as Obj | undefined)?.downloadURL as string | undefined) || undefined;
        });
        assert.ok(url.startsWith(`${podEndpoint}/velero-backups/backups/${BACKUP}/${BACKUP}-logs.gz?`), url);
        const fetched = inNode(node, [
            "curl",
            "-sS",
            "--max-time",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download}",
            url,
        ]).trim();
        log(`backup log via the signed URL, fetched from the node: HTTP ${fetched} bytes`);
        assert.match(fetched, /^200 [1-9]\d*$/);
    });

    it("restores the deleted namespace through the in-cluster server: every object comes back with its data", async () => {
        assert.ok(backupObjects, "the backup ran");
        const t0 = Date.now();
        await deleteNamespace(k, APP_NS);
        log(`namespace ${APP_NS} deleted in ${secs(t0)}`);
        for (const p of backupObjects.keys()) assert.strictEqual(await k.get(p), undefined, `${p} is gone`);

        const t1 = Date.now();
        await k.create(velero("restores"), {
            apiVersion: "velero.io/v1",
            kind: "Restore",
            metadata: { name: RESTORE, namespace: NS },
            spec: { backupName: BACKUP },
        });
        const status = (await finished("restores", RESTORE)).status as Obj;
        log(`restore ${RESTORE}: ${String(status.phase)} in ${secs(t1)}, ${JSON.stringify(status.progress)}`);
        assert.strictEqual(status.phase, "Completed", JSON.stringify(status));
        for (const [p, before] of backupObjects) {
            const after = await k.get(p);
            assert.ok(after, `${p} restored`);
            assert.notStrictEqual((after.metadata as Obj).uid, (before.metadata as Obj).uid, `${p} is a new object`);
            assert.deepStrictEqual(restoredContent(after), restoredContent(before), `${p}: data and labels`);
            if (before.kind === "Cluster") assert.deepStrictEqual(after.spec, before.spec, `${p}: spec`);
            assert.strictEqual(((after.metadata as Obj).labels as Obj)["velero.io/restore-name"], RESTORE, `${p}: labelled by the restore`);
        }
        const keys = listBucket(endpoint, "velero-backups", `restores/${RESTORE}/`, await credentials());
        assert.ok(
            keys.includes(`restores/${RESTORE}/restore-${RESTORE}-logs.gz`),
            `the restore's log is in the bucket: ${keys.join(", ")}`,
        );
        log(
            `restored ${backupObjects.size} objects with equal data; restores/${RESTORE}/: ${keys.map((key) => key.split("/").pop()).join(", ")}`,
        );
        // Memory the server used (its limit is the program's; Velero's own install asks for 512Mi too).
        if (node && pod) {
            const [server] = (pod.status as Obj).containerStatuses as Obj[];
            const peak = containerProcess(node, String(server.containerID)).peakRssKiB;
            log(`velero server peak RSS after the backup and restore: ${(peak / 1024).toFixed(0)} MiB (limit ${LIMIT})`);
        }
    });
});
