// The pure pieces of a restore drill: the drill Cluster and the check Job it creates, how it reads
// their state, and its report as a ConfigMap and as text. No API calls, so tests call them directly;
// drill/core.ts runs the drill with them.
import type { KubeObject } from "../kube/client";
import { DRILL_LABEL, drillCheckJobName, drillClusterName, drillReportName, PART_OF, REPORT_LABEL, RUN_ANNOTATION } from "../core/names";
import { DrillReport, DrillTemplate } from "../core/drill";

export const HEALTHY_PHASE = "Cluster in healthy state";

/** A drill step failed; the message says which and why. */
export class DrillError extends Error {}

export type Obj = Record<string, unknown>;
/** Metadata, status and spec of an object that may be absent, and a non-empty string or null (readers for the drill's objects). */
export const meta = (o: KubeObject | undefined) => o?.metadata ?? {};
export const status = (o: KubeObject | undefined) => (o?.status ?? {}) as Obj;
export const spec = (o: KubeObject | undefined) => (o?.spec ?? {}) as Obj;
export const str = (v: unknown): string | null => (typeof v === "string" && v !== "" ? v : null);

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
        // A cluster that relies on the operator's default image names none; CNPG records the image it runs in its
        // status, and the drill pins that one (a later operator upgrade could default to another major).
        const running = str(status(source).image);
        if (running === null) {
            throw new DrillError(
                `source cluster ${opts.namespace}/${template.database} names no imageName or imageCatalogRef and reports no status.image: cannot tell which PostgreSQL major to recover with`,
            );
        }
        copied.imageName = running;
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
            labels: { ...PART_OF, [DRILL_LABEL]: template.database },
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
    const labels = { ...PART_OF, [DRILL_LABEL]: database };
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
                    containers: [checkContainer(cluster, image)],
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

/** The check Job's psql container: the CHECK_SQL queries as streaming_replica over verified TLS, read-only. */
function checkContainer(cluster: string, image: string): Obj {
    return {
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
            labels: { ...PART_OF, [REPORT_LABEL]: "true", [DRILL_LABEL]: report.database },
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
