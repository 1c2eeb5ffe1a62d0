// The restore drill's scenarios, against any API: an in-memory fake here (test/drill.test.ts), a
// real local API server in the end-to-end tests. The test plays the operators: CloudNativePG (the
// drill cluster's status, its recovery Job) and the Job controller (the check Job's status).
import * as assert from "assert";
import { type KubeObject } from "../kube/client";
import { paths, runDrill, type DrillClient, type DrillOptions } from "../drill/core";
import { HEALTHY_PHASE } from "../drill/manifests";
import { DRILL_LABEL, drillCheckJobName, drillClusterName, drillTemplateName, recoveryJobName } from "../core/names";
import { type DrillReport, type DrillTemplate } from "../core/drill";

/** What a scenario needs from the API under test. */
export interface DrillEnv {
    /** The client the drill uses. */
    readonly client: DrillClient;
    /** A namespace that exists and that the scenario may fill. */
    readonly namespace: string;
    /** Plays an operator or controller: replaces an object's status (the status subresource on a real server). */
    setStatus(path: string, status: Record<string, unknown>): Promise<void>;
    /** Removes what a scenario left (source, template, leftovers). */
    reset(): Promise<void>;
}

export const DATABASE = "drill-src";
export const SOURCE_IMAGE = "ghcr.io/cloudnative-pg/postgresql:17.5-standard-bookworm";

/** The application team's source Cluster, valid against the CNPG CRD. */
export function sourceCluster(namespace: string): KubeObject {
    return {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: { name: DATABASE, namespace },
        spec: {
            instances: 3,
            imageName: SOURCE_IMAGE,
            postgresql: { parameters: { max_connections: "200" }, synchronous: { method: "any", number: 1 } },
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { cpu: "1", memory: "1Gi" } },
            storage: { size: "5Gi", storageClass: "ceph-rbd" },
            bootstrap: { initdb: { database: "app", owner: "app" } },
        },
    };
}

/** The template the program deploys (plugin method). */
export function template(): DrillTemplate {
    return {
        database: DATABASE,
        method: "plugin",
        spec: {
            instances: 1,
            bootstrap: { recovery: { source: `${DATABASE}-origin` } },
            externalClusters: [
                {
                    name: `${DATABASE}-origin`,
                    plugin: {
                        name: "barman-cloud.cloudnative-pg.io",
                        parameters: { barmanObjectName: `${DATABASE}-backup`, serverName: DATABASE },
                    },
                },
            ],
        },
    };
}

function templateConfigMap(namespace: string): KubeObject {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: { name: drillTemplateName(DATABASE), namespace },
        data: { "template.json": JSON.stringify(template()) },
    };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (briefly) until `path` exists, as an operator watching for new objects would. */
async function appears(env: DrillEnv, path: string, ms = 10_000): Promise<KubeObject> {
    const until = Date.now() + ms;
    for (;;) {
        const obj = await env.client.get(path);
        if (obj !== undefined) return obj;
        if (Date.now() > until) throw new Error(`${path} never appeared`);
        await sleep(5);
    }
}

/** A finished Job's status, as the Job controller writes it. */
const jobStatus = (type: "Complete" | "Failed", message: string) => {
    const t = new Date().toISOString();
    return {
        ...(type === "Complete" ? { succeeded: 1, completionTime: t } : { failed: 1 }),
        startTime: t,
        conditions: [
            ...(type === "Complete"
                ? [{ type: "SuccessCriteriaMet", status: "True", lastProbeTime: t, lastTransitionTime: t }]
                : [{ type: "FailureTarget", status: "True", lastProbeTime: t, lastTransitionTime: t, reason: "BackoffLimitExceeded" }]),
            {
                type,
                status: "True",
                lastProbeTime: t,
                lastTransitionTime: t,
                reason: type === "Failed" ? "BackoffLimitExceeded" : "",
                message,
            },
        ],
    };
};

/** A minimal valid Job, as CNPG would create the recovery Job. */
function recoveryJob(namespace: string): KubeObject {
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: recoveryJobName(drillClusterName(DATABASE)), namespace },
        spec: {
            backoffLimit: 0,
            template: { spec: { restartPolicy: "Never", containers: [{ name: "full-recovery", image: SOURCE_IMAGE }] } },
        },
    };
}

/**
 * Defines the scenarios under `describe(label)`. `makeEnv` runs once; `timing` keeps waits short
 * (a real server may need longer polls).
 */
export function drillScenarios(label: string, makeEnv: () => Promise<DrillEnv>, timing = { pollMs: 10, timeoutSeconds: 1 }): void {
    describe(label, function () {
        this.timeout(30_000);
        let env: DrillEnv;
        let ns: string;
        const cluster = () => paths.cluster(ns, drillClusterName(DATABASE));
        const checkJob = () => paths.job(ns, drillCheckJobName(DATABASE));
        const drill = (extra: Partial<DrillOptions> = {}) =>
            runDrill(env.client, {
                namespace: ns,
                database: DATABASE,
                timeoutSeconds: timing.timeoutSeconds,
                checkTimeoutSeconds: timing.timeoutSeconds,
                pollMs: timing.pollMs,
                ...extra,
            });
        /** Plays CNPG: the drill cluster becomes healthy on timeline 2. */
        const becomeHealthy = async () => {
            await appears(env, cluster());
            await env.setStatus(cluster(), { phase: "Setting up primary", readyInstances: 0 });
            await sleep(3 * timing.pollMs);
            await env.setStatus(cluster(), { phase: HEALTHY_PHASE, readyInstances: 1, instances: 1, timelineID: 2, image: SOURCE_IMAGE });
        };
        const finishCheck = async (type: "Complete" | "Failed") => {
            await appears(env, checkJob());
            await env.setStatus(
                checkJob(),
                jobStatus(type, type === "Failed" ? "psql: error: FATAL:  the drill cluster is still in recovery" : ""),
            );
        };
        const assertGone = async (report: DrillReport, ...expected: string[]) => {
            assert.deepStrictEqual(report.cleanup, { deleted: expected, errors: [] });
            assert.strictEqual(await env.client.get(cluster()), undefined, "the drill cluster is deleted");
            assert.strictEqual(await env.client.get(checkJob()), undefined, "the check Job is deleted");
        };

        before(async () => {
            env = await makeEnv();
            ns = env.namespace;
        });
        beforeEach(async () => {
            await env.reset();
            await env.client.create(paths.clusters(ns), sourceCluster(ns));
            await env.client.create(`/api/v1/namespaces/${ns}/configmaps`, templateConfigMap(ns));
        });
        after(async () => env.reset());

        it("healthy: recovers, runs the check, reports time and point, deletes the cluster and the check", async () => {
            let created: KubeObject | undefined;
            const [report] = await Promise.all([
                drill({ targetTime: "2026-02-17T12:00:00Z" }),
                (async () => {
                    created = await appears(env, cluster());
                    await becomeHealthy();
                    await finishCheck("Complete");
                })(),
            ]);
            assert.strictEqual(report.error, null);
            assert.strictEqual(report.ok, true);
            assert.strictEqual(report.recoveredPoint.target, "2026-02-17T12:00:00Z");
            assert.strictEqual(report.recoveredPoint.timeline, 2);
            assert.ok(report.timeToRecoverSeconds !== null && report.timeToRecoverSeconds >= 0);
            assert.ok(report.healthyAt !== null && report.finishedAt !== null);
            assert.deepStrictEqual(report.check && [report.check.passed, report.check.image], [true, SOURCE_IMAGE]);
            // What was created: the template's recovery, completed from the live source.
            const spec = created?.spec as Record<string, unknown>;
            assert.strictEqual(spec.imageName, SOURCE_IMAGE);
            assert.strictEqual(spec.instances, 1);
            // A real API server adds the CRD's defaults (resizeInUseVolumes) to what was copied.
            const storage = spec.storage as Record<string, unknown>;
            assert.deepStrictEqual([storage.size, storage.storageClass], ["5Gi", "ceph-rbd"]);
            assert.deepStrictEqual(spec.bootstrap, {
                recovery: { source: `${DATABASE}-origin`, recoveryTarget: { targetTime: "2026-02-17T12:00:00Z" } },
            });
            assert.deepStrictEqual(
                spec.postgresql,
                { parameters: { max_connections: "200" } },
                "no synchronous replication with one instance",
            );
            assert.strictEqual(spec.backup, undefined, "a drill archives nowhere");
            assert.strictEqual(spec.plugins, undefined, "a drill archives nowhere");
            assert.strictEqual(created?.metadata?.labels?.[DRILL_LABEL], DATABASE);
            await assertGone(report, `job/${drillCheckJobName(DATABASE)}`, `cluster/${drillClusterName(DATABASE)}`);
        });

        it("failing: stops at a failed phase and still deletes the cluster; no check runs", async () => {
            const [report] = await Promise.all([
                drill(),
                (async () => {
                    await appears(env, cluster());
                    await env.setStatus(cluster(), {
                        phase: "Cluster is unrecoverable and needs manual intervention",
                        phaseReason: "wal not found",
                    });
                })(),
            ]);
            assert.strictEqual(report.ok, false);
            assert.match(report.error ?? "", /recovery failed: Cluster is unrecoverable.*wal not found/);
            assert.strictEqual(report.check, null);
            assert.strictEqual(report.timeToRecoverSeconds, null);
            await assertGone(report, `cluster/${drillClusterName(DATABASE)}`);
        });

        it("failing: stops when CNPG's recovery Job fails, and still deletes the cluster", async () => {
            const [report] = await Promise.all([
                drill(),
                (async () => {
                    await appears(env, cluster());
                    await env.setStatus(cluster(), { phase: "Setting up primary" });
                    const job = recoveryJob(ns);
                    await env.client.create(paths.jobs(ns), job);
                    await env.setStatus(
                        paths.job(ns, job.metadata?.name ?? ""),
                        jobStatus("Failed", "Job has reached the specified backoff limit"),
                    );
                })(),
            ]);
            assert.strictEqual(report.ok, false);
            assert.match(report.error ?? "", /recovery job .*-1-full-recovery failed: Job has reached the specified backoff limit/);
            assert.deepStrictEqual(report.cleanup.deleted, [`cluster/${drillClusterName(DATABASE)}`]);
            assert.strictEqual(await env.client.get(cluster()), undefined);
        });

        it("never ready: times out with the last phase, and still deletes the cluster", async () => {
            const [report] = await Promise.all([
                drill(),
                (async () => {
                    await appears(env, cluster());
                    await env.setStatus(cluster(), { phase: "Setting up primary" });
                })(),
            ]);
            assert.strictEqual(report.ok, false);
            assert.strictEqual(report.error, `not healthy within ${timing.timeoutSeconds} s; last phase: Setting up primary`);
            await assertGone(report, `cluster/${drillClusterName(DATABASE)}`);
        });

        it("a failing check query fails the drill, and both the check and the cluster are deleted", async () => {
            const [report] = await Promise.all([
                drill(),
                (async () => {
                    await becomeHealthy();
                    await finishCheck("Failed");
                })(),
            ]);
            assert.strictEqual(report.ok, false);
            assert.match(report.error ?? "", /check query failed: psql: error/);
            assert.strictEqual(report.check?.passed, false);
            assert.ok(report.timeToRecoverSeconds !== null, "recovery itself succeeded");
            await assertGone(report, `job/${drillCheckJobName(DATABASE)}`, `cluster/${drillClusterName(DATABASE)}`);
        });

        it("an interrupted drill (Ctrl-C, SIGTERM) still deletes the cluster", async () => {
            const abort = new AbortController();
            const [report] = await Promise.all([
                drill({ signal: abort.signal, timeoutSeconds: 60 }),
                (async () => {
                    await appears(env, cluster());
                    abort.abort();
                })(),
            ]);
            assert.strictEqual(report.error, "interrupted");
            await assertGone(report, `cluster/${drillClusterName(DATABASE)}`);
        });

        it("without the program's template it creates nothing and says how to get one", async () => {
            await env.client.delete(paths.configMap(ns, drillTemplateName(DATABASE)));
            const report = await drill();
            assert.strictEqual(report.ok, false);
            assert.match(report.error ?? "", /drill-template not found: enable backup:drills and run pulumi up/);
            assert.deepStrictEqual(report.cleanup, { deleted: [], errors: [] });
        });

        it("never touches a cluster it did not create: a running drill, or a cluster that is not a drill", async () => {
            const running: KubeObject = {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name: drillClusterName(DATABASE), namespace: ns, labels: { [DRILL_LABEL]: DATABASE } },
                spec: { instances: 1, storage: { size: "1Gi" } },
            };
            await env.client.create(paths.clusters(ns), running);
            const busy = await drill();
            assert.match(busy.error ?? "", /a drill of drill-src is already running/);
            assert.deepStrictEqual(busy.cleanup.deleted, []);
            assert.ok(await env.client.get(cluster()), "the other run's cluster is still there");

            await env.client.delete(cluster());
            await env.client.create(paths.clusters(ns), { ...running, metadata: { ...running.metadata, labels: {} } });
            const foreign = await drill({ staleAfterSeconds: 0 });
            assert.match(foreign.error ?? "", /exists and is not a drill cluster; refusing to touch it/);
            assert.ok(await env.client.get(cluster()), "a cluster that is not a drill is never deleted");
        });

        it("replaces a stale leftover of a crashed run", async () => {
            await env.client.create(paths.clusters(ns), {
                apiVersion: "postgresql.cnpg.io/v1",
                kind: "Cluster",
                metadata: { name: drillClusterName(DATABASE), namespace: ns, labels: { [DRILL_LABEL]: DATABASE } },
                spec: { instances: 1, storage: { size: "1Gi" } },
            });
            const leftover = await env.client.get(cluster());
            const [report] = await Promise.all([
                drill({ staleAfterSeconds: 0 }),
                (async () => {
                    // Wait for the new cluster (another uid), then play CNPG.
                    for (const until = Date.now() + 10_000; ; await sleep(5)) {
                        const c = await env.client.get(cluster());
                        if (c !== undefined && c.metadata?.uid !== leftover?.metadata?.uid) break;
                        if (Date.now() > until) throw new Error("the leftover was never replaced");
                    }
                    await becomeHealthy();
                    await finishCheck("Complete");
                })(),
            ]);
            assert.strictEqual(report.error, null);
            assert.strictEqual(report.ok, true);
            await assertGone(report, `job/${drillCheckJobName(DATABASE)}`, `cluster/${drillClusterName(DATABASE)}`);
        });
    });
}
