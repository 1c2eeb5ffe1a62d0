// A restore drill, independent of how it talks to the cluster: create a temporary recovery Cluster
// from a database's backups, wait until it is healthy (or failing, or out of time), run a read-only
// check query against it, report how long recovery took and to which point, and delete what the
// drill created whatever happened. The command line (cli/drill.ts) and the in-cluster runner
// (drill/job.ts) both run this; tests run it against a fake client or a real API server.
import type { KubeObject } from "../kube/client";
import {
    DRILL_LABEL,
    drillCheckJobName,
    drillClusterName,
    drillReportName,
    drillTemplateName,
    recoveryJobName,
    REPORT_LABEL,
    RUN_ANNOTATION,
} from "../core/names";
import { DrillReport, DrillTemplate } from "../core/drill";

/** The API calls a drill makes. `Kube` satisfies it; tests pass fakes. */
export interface DrillClient {
    /** The object, or undefined when it does not exist. */
    get(path: string): Promise<KubeObject | undefined>;
    /** POST to a collection; rejects when the object exists. */
    create(path: string, obj: KubeObject): Promise<KubeObject | undefined>;
    /** Deletes; an absent object is not an error. */
    delete(path: string, options?: { propagationPolicy?: "Background" | "Foreground" | "Orphan" }): Promise<KubeObject | undefined>;
    /** Server-side apply as `manager`. */
    apply(path: string, obj: KubeObject, manager: string): Promise<KubeObject | undefined>;
}

/** Field manager of the report ConfigMap. */
export const FIELD_MANAGER = "backup-platform-drill";
export const HEALTHY_PHASE = "Cluster in healthy state";

export const paths = {
    clusters: (ns: string) => `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters`,
    cluster: (ns: string, name: string) => `/apis/postgresql.cnpg.io/v1/namespaces/${ns}/clusters/${name}`,
    objectStore: (ns: string, name: string) => `/apis/barmancloud.cnpg.io/v1/namespaces/${ns}/objectstores/${name}`,
    jobs: (ns: string) => `/apis/batch/v1/namespaces/${ns}/jobs`,
    job: (ns: string, name: string) => `/apis/batch/v1/namespaces/${ns}/jobs/${name}`,
    configMap: (ns: string, name: string) => `/api/v1/namespaces/${ns}/configmaps/${name}`,
};

// ---- options and report ------------------------------------------------------------------------

export interface DrillOptions {
    namespace: string;
    database: string;
    /** Recovery target, RFC 3339 with a zone; default the end of the archived WAL. */
    targetTime?: string;
    /** Seconds the drill cluster may take to become healthy. */
    timeoutSeconds: number;
    /** Seconds the check Job may take. Default 300. */
    checkTimeoutSeconds?: number;
    /** Milliseconds between polls. Default 5000. */
    pollMs?: number;
    /** psql image for the check; default the recovered cluster's own image (status.image). */
    checkImage?: string;
    /** An existing drill cluster older than this is a leftover of a crashed run and is replaced. Default 2 x timeout. */
    staleAfterSeconds?: number;
    /** Aborts waiting (Ctrl-C, SIGTERM); cleanup still runs. */
    signal?: AbortSignal;
    /** Progress lines. */
    log?: (line: string) => void;
    /** Clock and sleep, replaceable in tests. */
    now?: () => number;
    sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
    /** Identifies this run's objects. Default random. */
    runId?: string;
}

/** A drill step failed; the message says which and why. */
export class DrillError extends Error {}

type Obj = Record<string, unknown>;
const meta = (o: KubeObject | undefined) => o?.metadata ?? {};
const status = (o: KubeObject | undefined) => (o?.status ?? {}) as Obj;
const spec = (o: KubeObject | undefined) => (o?.spec ?? {}) as Obj;
const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

// ---- pure pieces -------------------------------------------------------------------------------

/** Source fields a recovery must share: image (same major), pull settings, parameters, sizes, ids. */
const COPIED_FIELDS = [
    "imageName",
    "imageCatalogRef",
    "imagePullPolicy",
    "imagePullSecrets",
    "resources",
    "postgresUID",
    "postgresGID",
] as const;

/** The drill Cluster: the program's template, completed from the live source (pure, for tests). */
export function drillCluster(
    template: DrillTemplate,
    source: KubeObject,
    opts: { namespace: string; targetTime?: string; runId: string; startedAt: string },
): KubeObject {
    const src = spec(source);
    const copied = Object.fromEntries(COPIED_FIELDS.filter((k) => src[k] !== undefined).map((k) => [k, src[k]]));
    if (copied.imageName === undefined && copied.imageCatalogRef === undefined) {
        throw new DrillError(
            `source cluster ${opts.namespace}/${template.database} names no imageName or imageCatalogRef: cannot tell which PostgreSQL major to recover with`,
        );
    }
    // Hot-standby parameters (max_connections, ...) must be at least the primary's during recovery: keep them.
    const pg = (src.postgresql ?? {}) as Obj;
    const postgresql = Object.fromEntries(Object.entries(pg).filter(([k]) => k !== "synchronous" && k !== "syncReplicaElectionConstraint"));
    const storage = (src.storage ?? {}) as Obj;
    const bootstrap = (template.spec.bootstrap ?? {}) as { recovery?: Obj };
    const name = drillClusterName(template.database);
    return {
        apiVersion: "postgresql.cnpg.io/v1",
        kind: "Cluster",
        metadata: {
            name,
            namespace: opts.namespace,
            labels: { "app.kubernetes.io/part-of": "backup-platform", [DRILL_LABEL]: template.database },
            annotations: { [RUN_ANNOTATION]: opts.runId, "backup.platform/drill-started": opts.startedAt },
        },
        spec: {
            description: `Restore drill of ${template.database} (temporary, deleted by the drill)`,
            ...copied,
            ...(Object.keys(postgresql).length > 0 ? { postgresql } : {}),
            storage: {
                size: storage.size ?? "10Gi",
                ...(storage.storageClass !== undefined ? { storageClass: storage.storageClass } : {}),
            },
            ...template.spec,
            instances: 1,
            bootstrap: {
                ...bootstrap,
                recovery: {
                    ...bootstrap.recovery,
                    ...(opts.targetTime !== undefined ? { recoveryTarget: { targetTime: opts.targetTime } } : {}),
                },
            },
        },
    };
}

/** Healthy, failed (with why), or still on its way. CNPG reports failures in its phase text. */
export function clusterState(cluster: KubeObject): { state: "healthy" | "failed" | "pending"; detail: string } {
    const s = status(cluster);
    const phase = str(s.phase) ?? "no phase yet";
    const reason = str(s.phaseReason);
    const detail = reason !== null ? `${phase}: ${reason}` : phase;
    const wanted = typeof spec(cluster).instances === "number" ? (spec(cluster).instances as number) : 1;
    if (phase === HEALTHY_PHASE && typeof s.readyInstances === "number" && s.readyInstances >= wanted) return { state: "healthy", detail };
    if (/unrecoverable|cannot|unable|not enough disk|waiting for user/i.test(phase)) return { state: "failed", detail };
    return { state: "pending", detail };
}

/** Completed, failed (with the Job's message) or running. */
export function jobState(job: KubeObject): { state: "complete" | "failed" | "running"; detail: string } {
    const conditions = ((status(job).conditions as Obj[] | undefined) ?? []).filter((c) => c.status === "True");
    const failed = conditions.find((c) => c.type === "Failed");
    if (failed) return { state: "failed", detail: str(failed.message) ?? str(failed.reason) ?? "failed" };
    if (
        conditions.some((c) => c.type === "Complete") ||
        (typeof status(job).succeeded === "number" && (status(job).succeeded as number) > 0)
    )
        return { state: "complete", detail: "completed" };
    return { state: "running", detail: "running" };
}

/** The read-only check: connected as CNPG's streaming_replica (client certificate, no password), promoted, catalogs readable. */
export const CHECK_SQL = [
    "DO $$ BEGIN IF pg_is_in_recovery() THEN RAISE EXCEPTION 'the drill cluster is still in recovery'; END IF; END $$",
    "SELECT count(*) AS databases FROM pg_database WHERE NOT datistemplate",
];

/** The check Job: psql against the drill cluster's `-r` service, read-only, owned by the drill cluster (pure, for tests). */
export function checkJob(database: string, namespace: string, image: string, owner: { uid?: string }, runId: string): KubeObject {
    const cluster = drillClusterName(database);
    const labels = { "app.kubernetes.io/part-of": "backup-platform", [DRILL_LABEL]: database };
    return {
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: {
            name: drillCheckJobName(database),
            namespace,
            labels,
            annotations: { [RUN_ANNOTATION]: runId },
            // Deleting the drill cluster also deletes the check, even if the drill itself dies.
            ...(owner.uid !== undefined
                ? { ownerReferences: [{ apiVersion: "postgresql.cnpg.io/v1", kind: "Cluster", name: cluster, uid: owner.uid }] }
                : {}),
        },
        spec: {
            backoffLimit: 2,
            activeDeadlineSeconds: 300,
            ttlSecondsAfterFinished: 3600,
            template: {
                metadata: { labels },
                spec: {
                    restartPolicy: "Never",
                    automountServiceAccountToken: false,
                    // CNPG's images run PostgreSQL as uid 26; libpq accepts a root-owned 0640 key readable through fsGroup.
                    securityContext: {
                        runAsNonRoot: true,
                        runAsUser: 26,
                        runAsGroup: 26,
                        fsGroup: 26,
                        seccompProfile: { type: "RuntimeDefault" },
                    },
                    containers: [
                        {
                            name: "check",
                            image,
                            command: ["psql"],
                            args: ["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", ...CHECK_SQL.flatMap((q) => ["-c", q])],
                            env: [
                                { name: "PGHOST", value: `${cluster}-r` },
                                { name: "PGPORT", value: "5432" },
                                { name: "PGDATABASE", value: "postgres" },
                                { name: "PGUSER", value: "streaming_replica" },
                                { name: "PGSSLMODE", value: "verify-ca" },
                                { name: "PGSSLROOTCERT", value: "/certs/ca/ca.crt" },
                                { name: "PGSSLCERT", value: "/certs/client/tls.crt" },
                                { name: "PGSSLKEY", value: "/certs/client/tls.key" },
                                { name: "PGCONNECT_TIMEOUT", value: "10" },
                                { name: "PGOPTIONS", value: "-c default_transaction_read_only=on" },
                                { name: "PGAPPNAME", value: "backup-platform-drill" },
                                { name: "HOME", value: "/tmp" },
                            ],
                            resources: { requests: { cpu: "10m", memory: "32Mi" }, limits: { cpu: "200m", memory: "128Mi" } },
                            securityContext: {
                                readOnlyRootFilesystem: true,
                                allowPrivilegeEscalation: false,
                                capabilities: { drop: ["ALL"] },
                            },
                            volumeMounts: [
                                { name: "ca", mountPath: "/certs/ca", readOnly: true },
                                { name: "client", mountPath: "/certs/client", readOnly: true },
                                { name: "tmp", mountPath: "/tmp" },
                            ],
                        },
                    ],
                    volumes: [
                        // Only the CA certificate, never the CA key stored next to it.
                        { name: "ca", secret: { secretName: `${cluster}-ca`, items: [{ key: "ca.crt", path: "ca.crt" }] } },
                        { name: "client", secret: { secretName: `${cluster}-replication`, defaultMode: 0o640 } },
                        { name: "tmp", emptyDir: { sizeLimit: "16Mi" } },
                    ],
                },
            },
        },
    };
}

/** The report as a ConfigMap for verify (pure). */
export function reportConfigMap(report: DrillReport): KubeObject {
    return {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
            name: drillReportName(report.database),
            namespace: report.namespace,
            labels: { "app.kubernetes.io/part-of": "backup-platform", [REPORT_LABEL]: "true", [DRILL_LABEL]: report.database },
        },
        data: { "report.json": JSON.stringify(report) },
    };
}

/** Human summary of a report. */
export function summary(r: DrillReport): string {
    const head = `${r.ok ? "PASSED" : "FAILED"}: restore drill of ${r.namespace}/${r.database}`;
    const lines = [
        head,
        `  recovered to:     ${r.recoveredPoint.target}${r.recoveredPoint.timeline !== null ? ` (timeline ${r.recoveredPoint.timeline})` : ""}`,
        `  archive window:   ${r.recoveredPoint.firstRecoverabilityPoint ?? "unknown"} .. last base backup ${r.recoveredPoint.lastSuccessfulBackup ?? "unknown"}`,
        `  time to recover:  ${r.timeToRecoverSeconds !== null ? `${r.timeToRecoverSeconds} s` : "not recovered"}`,
        `  check query:      ${r.check ? `${r.check.passed ? "passed" : "failed"} (${r.check.detail})` : "not run"}`,
        `  cleanup:          ${r.cleanup.errors.length === 0 ? `deleted ${r.cleanup.deleted.join(", ") || "nothing"}` : `FAILED: ${r.cleanup.errors.join("; ")}`}`,
    ];
    if (r.error !== null) lines.push(`  error:            ${r.error}`);
    return lines.join("\n");
}

// ---- the drill ---------------------------------------------------------------------------------

const defaultSleep = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
        const t = setTimeout(resolve, ms);
        signal?.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
    });

/** Runs one drill. Never throws for a drill failure: the report says what happened, `ok` whether it passed. */
export async function runDrill(client: DrillClient, opts: DrillOptions): Promise<DrillReport> {
    const now = opts.now ?? Date.now;
    const sleep = opts.sleep ?? defaultSleep;
    const pollMs = opts.pollMs ?? 5000;
    const log = opts.log ?? (() => undefined);
    const ns = opts.namespace;
    const db = opts.database;
    const name = drillClusterName(db);
    const runId = opts.runId ?? Math.random().toString(36).slice(2, 10);
    const iso = (ms: number) => new Date(ms).toISOString();
    const report: DrillReport = {
        ok: false,
        database: db,
        namespace: ns,
        cluster: name,
        method: null,
        runId,
        startedAt: iso(now()),
        finishedAt: null,
        healthyAt: null,
        timeToRecoverSeconds: null,
        recoveredPoint: { target: opts.targetTime ?? "latest", timeline: null, firstRecoverabilityPoint: null, lastSuccessfulBackup: null },
        phase: null,
        check: null,
        cleanup: { deleted: [], errors: [] },
        error: null,
    };
    const aborted = () => {
        if (opts.signal?.aborted) throw new DrillError("interrupted");
    };
    /** Polls `probe` until it returns a value or the deadline passes. */
    const until = async <T>(deadline: number, probe: () => Promise<T | undefined>, late: () => string): Promise<T> => {
        for (;;) {
            aborted();
            const value = await probe();
            if (value !== undefined) return value;
            if (now() >= deadline) throw new DrillError(late());
            await sleep(Math.min(pollMs, Math.max(0, deadline - now())), opts.signal);
        }
    };
    const gone = (path: string, what: string) =>
        until(
            now() + 120_000,
            async () => ((await client.get(path)) === undefined ? true : undefined),
            () => `${what} still exists two minutes after its deletion`,
        );

    try {
        const templateCm = await client.get(paths.configMap(ns, drillTemplateName(db)));
        const raw = (templateCm?.data as Record<string, string> | undefined)?.["template.json"];
        if (raw === undefined) {
            throw new DrillError(
                `ConfigMap ${ns}/${drillTemplateName(db)} not found: enable backup:drills and run pulumi up, which deploys the drill template`,
            );
        }
        const template = JSON.parse(raw) as DrillTemplate;
        report.method = template.method;
        const source = await client.get(paths.cluster(ns, db));
        if (source === undefined) throw new DrillError(`source cluster ${ns}/${db} not found`);
        const store =
            template.method === "plugin" ? await client.get(paths.objectStore(ns, `${db}-backup`)).catch(() => undefined) : undefined;
        const window = ((status(store).serverRecoveryWindow as Record<string, Obj> | undefined) ?? {})[db] ?? {};
        report.recoveredPoint.firstRecoverabilityPoint =
            str(window.firstRecoverabilityPoint) ?? str(status(source).firstRecoverabilityPoint);
        report.recoveredPoint.lastSuccessfulBackup = str(window.lastSuccessfulBackupTime) ?? str(status(source).lastSuccessfulBackup);

        const manifest = drillCluster(template, source, { namespace: ns, targetTime: opts.targetTime, runId, startedAt: report.startedAt });
        const existing = await client.get(paths.cluster(ns, name));
        if (existing !== undefined) {
            const created = Date.parse(meta(existing).creationTimestamp ?? "");
            const stale = opts.staleAfterSeconds ?? 2 * opts.timeoutSeconds;
            if (meta(existing).labels?.[DRILL_LABEL] !== db)
                throw new DrillError(`cluster ${ns}/${name} exists and is not a drill cluster; refusing to touch it`);
            if (meta(existing).deletionTimestamp === undefined && !(now() - created >= stale * 1000)) {
                throw new DrillError(
                    `a drill of ${db} is already running: cluster ${ns}/${name} exists since ${meta(existing).creationTimestamp ?? "?"}`,
                );
            }
            log(`removing the leftover drill cluster ${ns}/${name} (created ${meta(existing).creationTimestamp ?? "?"})`);
            await client.delete(paths.cluster(ns, name));
            await gone(paths.cluster(ns, name), `cluster ${ns}/${name}`);
        }
        log(`creating drill cluster ${ns}/${name} from the ${template.method} archive of ${db} (target: ${report.recoveredPoint.target})`);
        const createdAt = now();
        await client.create(paths.clusters(ns), manifest);

        const healthy = await until(
            createdAt + opts.timeoutSeconds * 1000,
            async () => {
                const cluster = await client.get(paths.cluster(ns, name));
                if (cluster === undefined) throw new DrillError(`drill cluster ${ns}/${name} disappeared`);
                const state = clusterState(cluster);
                if (state.detail !== report.phase) log(`phase: ${state.detail}`);
                report.phase = state.detail;
                if (state.state === "failed") throw new DrillError(`recovery failed: ${state.detail}`);
                const recovery = await client.get(paths.job(ns, recoveryJobName(name)));
                if (recovery !== undefined && jobState(recovery).state === "failed") {
                    throw new DrillError(`recovery job ${recoveryJobName(name)} failed: ${jobState(recovery).detail}`);
                }
                return state.state === "healthy" ? cluster : undefined;
            },
            () => `not healthy within ${opts.timeoutSeconds} s; last phase: ${report.phase ?? "none"}`,
        );
        report.healthyAt = iso(now());
        report.timeToRecoverSeconds = Math.round((now() - createdAt) / 1000);
        report.recoveredPoint.timeline = typeof status(healthy).timelineID === "number" ? (status(healthy).timelineID as number) : null;
        log(`healthy after ${report.timeToRecoverSeconds} s`);

        const image = opts.checkImage ?? str(status(healthy).image) ?? str(spec(healthy).imageName);
        if (image === null)
            throw new DrillError(
                "no image for the check query: the cluster reports none; pass --check-image or set backup:drills.checkImage",
            );
        const checkName = drillCheckJobName(db);
        report.check = { job: checkName, image, passed: false, detail: "not started" };
        if ((await client.get(paths.job(ns, checkName))) !== undefined) {
            // Only one drill of a database runs at a time (the cluster name is fixed): this is a leftover.
            await client.delete(paths.job(ns, checkName), { propagationPolicy: "Background" });
            await gone(paths.job(ns, checkName), `job ${ns}/${checkName}`);
        }
        log(`running the check query (job ${checkName})`);
        await client.create(paths.jobs(ns), checkJob(db, ns, image, { uid: meta(healthy).uid }, runId));
        const check = await until(
            now() + (opts.checkTimeoutSeconds ?? 300) * 1000,
            async () => {
                const job = await client.get(paths.job(ns, checkName));
                if (job === undefined) throw new DrillError(`check job ${ns}/${checkName} disappeared`);
                const state = jobState(job);
                return state.state === "running" ? undefined : state;
            },
            () => `check job ${checkName} did not finish within ${opts.checkTimeoutSeconds ?? 300} s`,
        );
        report.check = { ...report.check, passed: check.state === "complete", detail: check.detail };
        if (check.state !== "complete") throw new DrillError(`check query failed: ${check.detail}`);
        report.ok = true;
    } catch (err) {
        report.error = err instanceof DrillError ? err.message : `${err instanceof Error ? err.message : String(err)}`;
        log(`drill failed: ${report.error}`);
    } finally {
        await cleanup(client, ns, db, runId, report, log);
        report.finishedAt = iso(now());
    }
    report.ok = report.ok && report.cleanup.errors.length === 0;
    return report;
}

/** Deletes what this run created (proved by the run annotation), whatever happened before. */
async function cleanup(
    client: DrillClient,
    ns: string,
    db: string,
    runId: string,
    report: DrillReport,
    log: (line: string) => void,
): Promise<void> {
    const targets: [string, string, "Background" | undefined][] = [
        [paths.job(ns, drillCheckJobName(db)), `job/${drillCheckJobName(db)}`, "Background"],
        [paths.cluster(ns, drillClusterName(db)), `cluster/${drillClusterName(db)}`, undefined],
    ];
    for (const [path, what, propagationPolicy] of targets) {
        try {
            const obj = await client.get(path);
            if (obj === undefined || meta(obj).annotations?.[RUN_ANNOTATION] !== runId) continue;
            await client.delete(path, propagationPolicy ? { propagationPolicy } : undefined);
            report.cleanup.deleted.push(what);
            log(`deleted ${what}`);
        } catch (err) {
            report.cleanup.errors.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
        }
    }
}
