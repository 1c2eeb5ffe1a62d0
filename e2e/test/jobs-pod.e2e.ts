// The program's two Jobs as real pods on the e2e node (issue 16). `pulumi up --stack baremetal` with the off-site copy
// and a scheduled drill deploys their CronJobs; an operator's `kubectl create job --from=cronjob/...` starts each
// (the node runs no cronjob controller), and the kubelet runs what the program specified, unchanged, from stand-ins
// of the images the program pins (e2e/images/upstream.sh; e2e/STANDINS.md says how they differ):
//   - off-site copy: rclone/rclone (rclone 1.71.0, /bin/sh from BusyBox) as uid 65534, read-only root, no token,
//     copies the three backup buckets of the real RGW to a second bucket on it, both reached from the pod at
//     10.87.0.1:<port> (the stack config points the program there); every object is compared afterwards;
//   - restore drill: node:22.12.0-alpine (the official Node.js glibc build) runs the runner from its ConfigMap as the
//     database's drill runner service account; it reads the template, creates the drill Cluster, and, with no CNPG
//     operator here, times out (5 min: the config's minimum), deletes the Cluster and reports the failure in its
//     report ConfigMap. A call its Role denied would end in the report's error or cleanup errors, which are checked
//     exactly. The recovery itself is not proven here (e2e/pitr, barman-cloud, proves it).
// The drill Job is started first and checked last: its 5 minutes pass while the off-site copy runs.
import * as assert from "assert";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { apiPath, type Kube, type KubeObject } from "../../kube/client";
import { readStackConfig, stackFile } from "../../cli/stackfile";
import { drillClusterName, drillCronJobName, drillReportName, objectStoreName, OFFSITE_CRONJOB, RUN_ANNOTATION } from "../../core/names";
import { kube, localOverrides, ROOT } from "../harness";
import { containerLog, containerSpec, HOST_FROM_PODS, loadImage, podsOf, startNode, stopNode, type RealNode } from "../node";
import { sh, waitFor } from "../velero/tools";
import { Workspace } from "../workspace";
import { shared } from "./hooks";

type Obj = Record<string, unknown>;
const log = (s: string) => process.stdout.write(`      [jobs-pod] ${s}\n`);
const indent = (text: string) => text.trimEnd().replace(/^/gm, "        | ");
const since = (t0: number) => `${((Date.now() - t0) / 1000).toFixed(1)} s`;

const OFFSITE_NS = "backup-offsite";
/** The destination's key Secret (e2e/offsite/offsite.py makes it, as a platform team would). */
const DST_SECRET = "dr-s3";
const DB = "esb-postgres";
const DB_NS = "rciis-prod";
const RUNNER = `${DB}-drill-runner`;
/** backup:drills.timeoutMinutes: the smallest the config allows. */
const DRILL_TIMEOUT_MINUTES = 5;
const OFFSITE_JOB = "offsite-e2e";
const DRILL_JOB = "drill-e2e";
/**
 * The source's PostgreSQL image, pinned as CNPG advises: the drill refuses a source that names none (it cannot tell
 * which major to recover with), and the fixture's clusters name none. Applied by a field manager of its own, removed
 * in `after`.
 */
const SOURCE_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.5";
const IMAGE_PIN = "jobs-pod-e2e-image-pin";
const sourcePath = apiPath("postgresql.cnpg.io", "v1", "clusters", DB_NS, DB);
const sourcePin = (imageName?: string): KubeObject => ({
    apiVersion: "postgresql.cnpg.io/v1",
    kind: "Cluster",
    metadata: { name: DB, namespace: DB_NS },
    ...(imageName ? { spec: { imageName } } : {}),
});
/** What the plugin would report for the source's archive (the drill copies it into its report). */
const WINDOW = { firstRecoverabilityPoint: "2026-11-02T02:00:00Z", lastSuccessfulBackupTime: "2026-12-01T02:00:05Z" };

const cronJobPath = (ns: string, name: string) => apiPath("batch", "v1", "cronjobs", ns, name);
const jobPath = (ns: string, name: string) => apiPath("batch", "v1", "jobs", ns, name);

function cacheRoot(env: NodeJS.ProcessEnv): string {
    return env.BACKUP_PLATFORM_CACHE ?? path.join(env.XDG_CACHE_HOME ?? path.join(env.HOME ?? "/root", ".cache"), "k8s-backup-platform");
}

/** The pod template of a CronJob's jobs. */
function podTemplate(cronJob: KubeObject): { spec: Obj & { containers: Obj[]; securityContext?: Obj } } {
    return ((cronJob.spec as Obj).jobTemplate as { spec: { template: { spec: Obj & { containers: Obj[] } } } }).spec.template;
}

/** The Job once it has finished (a Complete or Failed condition), within `seconds`. */
function finished(k: Kube, ns: string, name: string, seconds: number): Promise<{ job: KubeObject; outcome: string }> {
    return waitFor(`job ${ns}/${name} finished`, seconds, async () => {
        const job = await k.get(jobPath(ns, name));
        const done = ((job?.status as Obj | undefined)?.conditions as { type: string; status: string }[] | undefined)?.find(
            (c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
        );
        return job && done ? { job, outcome: done.type } : undefined;
    });
}

/** The one pod of a Job, with its container's terminated state. */
async function jobPod(k: Kube, ns: string, job: string): Promise<{ pod: KubeObject; terminated: Obj; containerID: string }> {
    const pods = await podsOf(k, ns, `job-name=${job}`);
    assert.strictEqual(pods.length, 1, `pods of job ${job}: ${pods.length}`);
    const pod = pods[0];
    const cs = ((pod.status as Obj).containerStatuses as { state: { terminated?: Obj }; containerID: string }[])[0];
    assert.ok(cs.state.terminated, `container of ${job} not terminated: ${JSON.stringify(cs.state)}`);
    return { pod, terminated: cs.state.terminated, containerID: cs.containerID };
}

/** What runc was told: the pod's security settings and its container's limits, as the kernel applied them. */
function assertConfined(spec: Obj, uid: number, limits: { memoryMi: number; milliCpu: number }): void {
    const process = spec.process as { user: { uid: number; gid: number }; noNewPrivileges?: boolean; capabilities?: Obj };
    assert.strictEqual(process.user.uid, uid);
    assert.strictEqual(process.user.gid, uid);
    assert.strictEqual(process.noNewPrivileges, true);
    for (const set of Object.values(process.capabilities ?? {})) assert.deepStrictEqual(set ?? [], [], "capabilities left");
    assert.strictEqual((spec.root as { readonly?: boolean }).readonly, true, "root filesystem read-only");
    const linux = spec.linux as { seccomp?: unknown; resources: { memory: { limit: number }; cpu: { quota: number; period: number } } };
    assert.ok(linux.seccomp, "a seccomp profile (RuntimeDefault)");
    assert.strictEqual(linux.resources.memory.limit, limits.memoryMi * 1024 * 1024);
    assert.strictEqual((linux.resources.cpu.quota * 1000) / linux.resources.cpu.period, limits.milliCpu);
}

const mountPoints = (spec: Obj) => (spec.mounts as { destination: string }[]).map((m) => m.destination);
const SA_MOUNT = "/var/run/secrets/kubernetes.io/serviceaccount";

describe("the program's Jobs run as real pods: the off-site copy (rclone) and the restore-drill runner (Node.js)", function () {
    this.timeout(15 * 60_000);
    let k: Kube;
    let node: RealNode | undefined;
    let ws: Workspace | undefined;
    let tmp: string;
    let env: NodeJS.ProcessEnv;
    let python: string;
    let drillRun = "";
    const kubectl = (args: string[]) => sh("kubectl", args, env, `kubectl ${args.join(" ")}`);
    const store = (cmd: "prepare" | "verify" | "cleanup") => {
        const out = sh(
            python,
            [
                path.join(ROOT, "e2e", "offsite", "pod.py"),
                cmd,
                "--endpoint",
                shared.store.endpoint,
                "--ceph-conf",
                shared.store.cephConf,
                "--manifest",
                path.join(tmp, "manifest.json"),
            ],
            env,
            `offsite/pod.py ${cmd}`,
        );
        process.stdout.write(`${indent(out)}\n`);
        const summary = /^(\d+) passed, (\d+) failed$/m.exec(out);
        assert.ok(summary && summary[2] === "0", out.slice(-3000));
    };

    before(async function () {
        this.timeout(45 * 60_000);
        k = kube(shared.kubeconfig);
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "jobs-pod-e2e-"));
        env = { ...shared.env, KUBECONFIG: shared.kubeconfig };
        python = path.join(cacheRoot(env), "venv", "bin", "python");
        // Pods reach the machine's RGW at 10.87.0.1:<its port>: the program is pointed there (source and destination).
        const port = Number(new URL(shared.store.endpoint).port);
        const fromPods = `http://${HOST_FROM_PODS}:${port}`;
        let t0 = Date.now();
        node = startNode(shared.env, [port]);
        log(`node started in ${since(t0)}`);

        const bm = JSON.parse(readStackConfig(stackFile("baremetal")).config["backup:baremetal"]) as Obj;
        ws = new Workspace("baremetal", shared.env, shared.kubeconfig);
        ws.init({
            ...localOverrides(),
            "backup:baremetal": { ...bm, endpoint: fromPods },
            "backup:offsite": {
                enabled: true,
                prefix: "kenya",
                destination: {
                    endpoint: fromPods,
                    region: "dr-1",
                    bucket: "dr-offsite",
                    provider: "Ceph",
                    credentialsSecret: { name: DST_SECRET },
                },
            },
            "backup:drills": { enabled: true, schedule: "0 5 * * 0", databases: [DB], timeoutMinutes: DRILL_TIMEOUT_MINUTES },
        });
        t0 = Date.now();
        ws.up();
        log(`pulumi up --stack baremetal (off-site copy, scheduled drill of ${DB}) in ${since(t0)}`);

        // The image the CronJob names, built as its stand-in.
        const drill = await k.get(cronJobPath(DB_NS, drillCronJobName(DB)));
        assert.ok(drill, "the drill CronJob was deployed");
        t0 = Date.now();
        loadImage(node, String(podTemplate(drill).spec.containers[0].image), { upstream: "node" });
        log(`runner image built and imported in ${since(t0)}`);
        await k.apply(sourcePath, sourcePin(SOURCE_IMAGE), IMAGE_PIN);
        // What the Barman Cloud plugin would have reported for the source's archive: read into the report, it shows the
        // runner's `get` of the ObjectStore was allowed (the runner tolerates a failed read of it).
        await k.patchStatus(apiPath("barmancloud.cnpg.io", "v1", "objectstores", DB_NS, objectStoreName(DB)), {
            serverRecoveryWindow: { [DB]: WINDOW },
        });
    });

    after(async function () {
        this.timeout(10 * 60_000);
        try {
            if (process.env.E2E_KEEP !== "1") {
                for (const [ns, name] of [
                    [OFFSITE_NS, OFFSITE_JOB],
                    [DB_NS, DRILL_JOB],
                ]) {
                    await k?.delete(jobPath(ns, name), { propagationPolicy: "Background" }).catch(() => undefined);
                }
                // What this suite added outside the stack, so the suites after it find the cluster and store as before.
                try {
                    if (fs.existsSync(path.join(tmp, "manifest.json"))) store("cleanup");
                } catch (err) {
                    log(`cleanup of the object store failed: ${err instanceof Error ? err.message : String(err)}`);
                }
                // Applying nothing as the pin's manager removes the field it alone owned.
                await k?.apply(sourcePath, sourcePin(), IMAGE_PIN).catch(() => undefined);
                await k?.delete(apiPath("", "v1", "configmaps", DB_NS, drillReportName(DB))).catch(() => undefined);
                await k?.delete(apiPath("", "v1", "secrets", OFFSITE_NS, DST_SECRET)).catch(() => undefined);
                // With the kubelet still running, so the pods' deletion completes.
                ws?.pulumi(["destroy", "--yes", "--skip-preview", "--stack", "baremetal"], { allowFailure: true });
                ws?.remove();
                if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
            }
        } finally {
            k?.close();
            stopNode(node);
        }
    });

    it("drill: the Job from the CronJob runs the runner as its own service account; it reads the template and creates the drill Cluster", async () => {
        const t0 = Date.now();
        kubectl(["create", "job", DRILL_JOB, `--from=cronjob/${drillCronJobName(DB)}`, "-n", DB_NS]);
        const cluster = await waitFor("the drill Cluster", 120, () =>
            k.get(apiPath("postgresql.cnpg.io", "v1", "clusters", DB_NS, drillClusterName(DB))),
        );
        log(`drill Cluster created ${since(t0)} after the Job`);
        const meta = cluster.metadata as { annotations: Record<string, string>; labels: Record<string, string> };
        drillRun = meta.annotations[RUN_ANNOTATION];
        assert.match(drillRun, /^[a-z0-9]+$/);
        assert.strictEqual(meta.labels["backup.platform/drill-of"], DB);
        // The recovery the template describes (the plugin method, reading through the drill's own ObjectStore).
        const drillSpec = cluster.spec as { imageName: string; instances: number; bootstrap: { recovery: { source: string } } };
        assert.ok(drillSpec.bootstrap.recovery.source, JSON.stringify(drillSpec.bootstrap));
        assert.strictEqual(drillSpec.imageName, SOURCE_IMAGE, "the source's image, read from the live source");
        assert.strictEqual(drillSpec.instances, 1);

        const pods = await podsOf(k, DB_NS, `job-name=${DRILL_JOB}`);
        assert.strictEqual(pods.length, 1);
        const spec = pods[0].spec as Obj & { containers: Obj[] };
        assert.strictEqual(spec.serviceAccountName, RUNNER);
        const template = podTemplate((await k.get(cronJobPath(DB_NS, drillCronJobName(DB))))!).spec;
        assert.deepStrictEqual(spec.securityContext, template.securityContext);
        assert.deepStrictEqual(spec.containers[0].securityContext, template.containers[0].securityContext);
        assert.deepStrictEqual(spec.containers[0].command, ["node", "/drill/runner.js"]);
    });

    it("drill: the runner's Role is all its service account may do (a few calls outside it are denied)", async () => {
        const can = async (verb: string, group: string, resource: string, namespace: string, name?: string) => {
            const review = await k.create(apiPath("authorization.k8s.io", "v1", "subjectaccessreviews"), {
                apiVersion: "authorization.k8s.io/v1",
                kind: "SubjectAccessReview",
                spec: {
                    user: `system:serviceaccount:${DB_NS}:${RUNNER}`,
                    groups: ["system:serviceaccounts", `system:serviceaccounts:${DB_NS}`, "system:authenticated"],
                    resourceAttributes: { verb, group, resource, namespace, ...(name ? { name } : {}) },
                },
            });
            return (review?.status as { allowed?: boolean } | undefined)?.allowed === true;
        };
        const cnpg = "postgresql.cnpg.io";
        assert.ok(await can("create", cnpg, "clusters", DB_NS));
        assert.ok(await can("patch", "", "configmaps", DB_NS, drillReportName(DB)));
        assert.ok(await can("create", "", "configmaps", DB_NS, drillReportName(DB)), "the report's first apply is a create");
        for (const [verb, group, resource, ns, name] of [
            ["delete", cnpg, "clusters", DB_NS, DB], // the source
            ["patch", cnpg, "clusters", DB_NS, drillClusterName(DB)],
            ["create", cnpg, "clusters", "monitoring", undefined],
            ["list", cnpg, "clusters", DB_NS, undefined],
            ["get", "", "secrets", DB_NS, `${DB}-app`],
            ["get", "", "configmaps", DB_NS, "other"],
            ["create", "", "configmaps", DB_NS, "other"],
            ["create", "", "configmaps", DB_NS, undefined], // a POST: no name to match
            ["delete", "batch", "jobs", DB_NS, DRILL_JOB],
        ] as const) {
            assert.strictEqual(await can(verb, group, resource, ns, name), false, `${verb} ${resource}/${name ?? "*"} in ${ns} is denied`);
        }
    });

    it("off-site: the Job from the CronJob runs the rclone image as specified (uid 65534, read-only root, no token) and copies", async () => {
        let t0 = Date.now();
        const cronJob = await k.get(cronJobPath(OFFSITE_NS, OFFSITE_CRONJOB));
        assert.ok(cronJob, "the off-site CronJob was deployed");
        const template = podTemplate(cronJob).spec;
        const image = String(template.containers[0].image);
        loadImage(node!, image, { upstream: "rclone" });
        log(`${image} stand-in built and imported in ${since(t0)}`);
        t0 = Date.now();
        store("prepare");
        log(`destination made and source seeded in ${since(t0)}`);

        t0 = Date.now();
        kubectl(["create", "job", OFFSITE_JOB, `--from=cronjob/${OFFSITE_CRONJOB}`, "-n", OFFSITE_NS]);
        const { outcome } = await finished(k, OFFSITE_NS, OFFSITE_JOB, 300);
        const { pod, terminated, containerID } = await jobPod(k, OFFSITE_NS, OFFSITE_JOB);
        const out = containerLog(node!, pod, "rclone");
        log(`off-site Job ${outcome} ${since(t0)} after its creation; the pod's log:\n${indent(out)}`);
        assert.strictEqual(outcome, "Complete", out.slice(-3000));
        assert.strictEqual(terminated.exitCode, 0);
        assert.match(out, /^offsite: every bucket copied$/m);
        for (const b of ["velero-backups", "cnpg-backups", "mssql-backups"])
            assert.match(out, new RegExp(`^offsite: copying bucket ${b} to dr-offsite/kenya/${b}$`, "m"));

        // The pod is the CronJob's, unchanged: image, command, security contexts, no service account token.
        const spec = pod.spec as Obj & { containers: Obj[]; volumes?: { name: string }[] };
        assert.strictEqual(spec.containers[0].image, image);
        assert.deepStrictEqual(spec.containers[0].command, template.containers[0].command);
        assert.deepStrictEqual(spec.securityContext, template.securityContext);
        assert.deepStrictEqual(spec.containers[0].securityContext, template.containers[0].securityContext);
        assert.strictEqual(spec.automountServiceAccountToken, false);
        assert.ok(!(spec.volumes ?? []).some((v) => v.name.startsWith("kube-api-access")), "no token volume");
        // ... and what runc ran.
        const oci = containerSpec(node!, containerID);
        assertConfined(oci, 65534, { memoryMi: 512, milliCpu: 1000 }); // the config's default resources
        assert.ok(mountPoints(oci).includes("/tmp"), "the emptyDir at /tmp");
        assert.ok(!mountPoints(oci).includes(SA_MOUNT), "no service account token mounted");
        assert.deepStrictEqual((oci.process as { args: string[] }).args.slice(0, 2), ["/bin/sh", "-c"]);
    });

    it("off-site: every object of the three backup buckets is at the destination with the same bytes, and nothing else", () => {
        store("verify");
    });

    it("drill: with no CNPG operator it times out, deletes the Cluster it created and reports the failure in its ConfigMap", async () => {
        const { outcome } = await finished(k, DB_NS, DRILL_JOB, DRILL_TIMEOUT_MINUTES * 60 + 180);
        const { pod, terminated, containerID } = await jobPod(k, DB_NS, DRILL_JOB);
        const out = containerLog(node!, pod, "drill");
        log(`drill Job ${outcome}; the runner's log:\n${indent(out)}`);
        // 1: the drill failed and said so (3 would be the runner crashing; 0 a drill that passed without an operator).
        assert.strictEqual(outcome, "Failed");
        assert.strictEqual(terminated.exitCode, 1, out.slice(-3000));
        assert.doesNotMatch(out, /forbidden/i);
        assert.doesNotMatch(out, /\(node:\d+\) \w*Warning/, "Node.js warned (e.g. of listeners piling up on the abort signal)");

        const cm = await k.get(apiPath("", "v1", "configmaps", DB_NS, drillReportName(DB)));
        assert.ok(cm, "the report ConfigMap was written");
        const report = JSON.parse((cm.data as Record<string, string>)["report.json"]) as {
            ok: boolean;
            runId: string;
            method: string;
            error: string;
            startedAt: string;
            finishedAt: string;
            healthyAt: string | null;
            check: unknown;
            recoveredPoint: { firstRecoverabilityPoint: string | null; lastSuccessfulBackup: string | null };
            cleanup: { deleted: string[]; errors: string[] };
        };
        // Exactly the timeout: any denied call (template, source, ObjectStore, create, polls, delete) would show here.
        assert.strictEqual(report.ok, false);
        assert.strictEqual(report.runId, drillRun);
        assert.strictEqual(report.method, "plugin");
        assert.strictEqual(report.error, `not healthy within ${DRILL_TIMEOUT_MINUTES * 60} s; last phase: no phase yet`);
        assert.deepStrictEqual(report.recoveredPoint.firstRecoverabilityPoint, WINDOW.firstRecoverabilityPoint);
        assert.deepStrictEqual(report.recoveredPoint.lastSuccessfulBackup, WINDOW.lastSuccessfulBackupTime);
        assert.deepStrictEqual(report.cleanup, { deleted: [`cluster/${drillClusterName(DB)}`], errors: [] });
        assert.strictEqual(report.healthyAt, null);
        assert.strictEqual(report.check, null);
        const took = (Date.parse(report.finishedAt) - Date.parse(report.startedAt)) / 1000;
        log(`drill ran ${took.toFixed(1)} s (timeout ${DRILL_TIMEOUT_MINUTES * 60} s)`);
        assert.ok(took >= DRILL_TIMEOUT_MINUTES * 60, `ran ${took} s`);
        assert.strictEqual(await k.get(apiPath("postgresql.cnpg.io", "v1", "clusters", DB_NS, drillClusterName(DB))), undefined);

        const oci = containerSpec(node!, containerID);
        assertConfined(oci, 1000, { memoryMi: 128, milliCpu: 200 });
        assert.ok(mountPoints(oci).includes(SA_MOUNT), "its service account token");
        assert.ok(mountPoints(oci).includes("/drill"), "the runner's ConfigMap");
    });
});
