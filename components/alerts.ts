// Backup alerts as one PrometheusRule. Thresholds derive from the configured schedules; rules for
// components that are not deployed are not emitted; every rule links its README runbook.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { CNPG_CLUSTER_LABEL, coverageCanFail, OPT_OUT, type CoverageRules } from "../core/coverage";
import { owned } from "../core/ownership";
import { maxAgeSeconds } from "../core/schedule";
import { ScheduledJob } from "../core/jobs";

export interface AlertRule {
    alert: AlertName;
    expr: string;
    for: string;
    /** Severity, and for rules emitted once per schedule or CronJob what tells them apart (Prometheus' duplicate-rule lint). */
    labels: { severity: "critical" | "warning"; [key: string]: string };
    annotations: { summary: string; description: string; runbook_url: string };
}

export interface AlertsArgs {
    /** Namespace of the PrometheusRule. Default monitoring. */
    readonly namespace: string;
    /** Labels the Prometheus operator selects rules by. Default { release: prometheus }. */
    readonly labels: Readonly<Record<string, string>>;
    /** Base of runbook links (README.md URL); anchors are appended. */
    readonly runbookBaseUrl: string;
    /** Velero schedules (name -> five-field cron); empty when Velero runs without schedules. */
    readonly veleroSchedules: Readonly<Record<string, string>>;
    /** Velero's namespace. */
    readonly veleroNamespace: string;
    /** CNPG clusters with backups, and how they are taken. */
    readonly cnpg?: {
        readonly method: "barmanObjectStore" | "plugin";
        readonly schedule: string;
        readonly clusters: readonly { name: string; namespace: string }[];
    };
    /** Hours a backup may be late beyond its interval. */
    readonly graceHours: number;
    /** SQL Server backup CronJobs: namespace, CronJob name and five-field schedule. */
    readonly mssqlJobs: readonly ScheduledJob[];
    /** The bare-metal off-site copy CronJob, when the off-site copy is on. Default none. */
    readonly offsiteJobs?: readonly ScheduledJob[];
    /** Scheduled restore drill CronJobs. Default none. */
    readonly drillJobs?: readonly ScheduledJob[];
    /** Which PVCs a backup covers (components/coverage.ts); no coverage rule when absent. Default none. */
    readonly coverage?: CoverageRules;
}

const HOUR = 3600;

/** README anchor of each alert's runbook. */
export const RUNBOOK_ANCHORS = {
    VeleroBackupFailed: "alert-velero-backup-failed",
    VeleroBackupNotRunning: "alert-velero-backup-not-running",
    VeleroBackupStorageLocationUnavailable: "alert-velero-backup-storage-location-unavailable",
    CNPGWALArchivingFailed: "alert-cnpg-wal-archiving-failed",
    CNPGBackupStale: "alert-cnpg-backup-stale",
    CNPGBaseBackupTooOld: "alert-cnpg-base-backup-too-old",
    MSSQLBackupMissing: "alert-mssql-backup-missing",
    OffsiteCopyStale: "alert-off-site-copy-stale",
    CNPGRestoreDrillOverdue: "alert-cnpg-restore-drill-overdue",
    PersistentVolumeClaimNotBackedUp: "alert-persistent-volume-claim-not-backed-up",
};

/** Every alert this module can emit. */
export type AlertName = keyof typeof RUNBOOK_ANCHORS;

/**
 * What one rule watches, in the terms its expression was built from: tests generate the rule's input series and
 * expected alerts from it (test/alert-cases.ts). Not rendered.
 */
export type AlertSubject =
    | { kind: "velero-failures" }
    | { kind: "velero-location"; namespace: string }
    | { kind: "velero-schedule"; schedule: string; limitSeconds: number }
    | {
          kind: "cnpg";
          method: "barmanObjectStore" | "plugin";
          clusters: readonly { name: string; namespace: string }[];
          limitSeconds: number;
      }
    | { kind: "cronjob"; job: ScheduledJob; limitSeconds: number }
    | { kind: "coverage"; rules: CoverageRules };

/** A rule and what it watches. */
export interface AlertSpec {
    rule: AlertRule;
    subject: AlertSubject;
}

/** Seconds without an archived WAL segment before CNPGBackupStale fires. */
export const WAL_STALE_SECONDS = HOUR;

const sel = (labels: Record<string, string>) =>
    `{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`;

// Selectors and metric names shared with the dashboard (components/dashboard.ts), so both watch the same series.

/** The series of one Velero schedule. */
export const veleroScheduleSelector = (schedule: string): string => sel({ schedule });

/** kube-state-metrics' series of one CronJob. */
export const cronJobSelector = (job: ScheduledJob): string => sel({ namespace: job.namespace, cronjob: job.cronJob });

/** The instance pods of `clusters` (CNPG names them `<cluster>-<n>`). */
export function cnpgSelector(clusters: readonly { name: string; namespace: string }[]): string {
    const namespaces = [...new Set(clusters.map((c) => c.namespace))].sort().join("|");
    const pods = clusters
        .map((c) => c.name)
        .sort()
        .join("|");
    return `{namespace=~"${namespaces}",pod=~"(${pods})-[0-9]+"}`;
}

/** The backup metrics of a CNPG backup method: the in-tree collector's stop moving under the plugin, which publishes its own. */
export function cnpgBackupMetrics(method: "barmanObjectStore" | "plugin"): { lastBackup: string; firstRecoverabilityPoint: string } {
    return method === "plugin"
        ? {
              lastBackup: "barman_cloud_cloudnative_pg_io_last_available_backup_timestamp",
              firstRecoverabilityPoint: "barman_cloud_cloudnative_pg_io_first_recoverability_point",
          }
        : {
              lastBackup: "cnpg_collector_last_available_backup_timestamp",
              firstRecoverabilityPoint: "cnpg_collector_first_recoverability_point",
          };
}

/** The full rule list for `args` (pure, for tests). */
export function alertRules(args: AlertsArgs): AlertRule[] {
    return alertSpecs(args).map((s) => s.rule);
}

/** A string as a literal inside a PromQL regex matcher: RE2 metacharacters escaped, the escape doubled for the "..." string. */
const reEscape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\\\${c}`);

/** The rules for `args` with what each watches (pure). */
export function alertSpecs(args: AlertsArgs): AlertSpec[] {
    const seconds = (cron: string) => maxAgeSeconds(cron, args.graceHours);
    const grace = `${args.graceHours} hours`;
    const runbook = (alert: AlertName) => `${args.runbookBaseUrl}#${RUNBOOK_ANCHORS[alert]}`;
    const rule = (subject: AlertSubject, r: Omit<AlertRule, "annotations"> & { summary: string; description: string }): AlertSpec => ({
        rule: {
            alert: r.alert,
            expr: r.expr,
            for: r.for,
            labels: r.labels,
            annotations: { summary: r.summary, description: r.description, runbook_url: runbook(r.alert) },
        },
        subject,
    });
    const rules: AlertSpec[] = [
        rule(
            { kind: "velero-failures" },
            {
                alert: "VeleroBackupFailed",
                expr: `increase(velero_backup_failure_total[24h]) > 0 or increase(velero_backup_partial_failure_total[24h]) > 0`,
                for: "5m",
                labels: { severity: "critical" },
                summary: "Velero backup failed",
                description: "A Velero backup of schedule {{ $labels.schedule }} failed or partially failed in the last 24 hours.",
            },
        ),
        // Velero has no metric for its storage location: kube-state-metrics reads the phase (README).
        rule(
            { kind: "velero-location", namespace: args.veleroNamespace },
            {
                alert: "VeleroBackupStorageLocationUnavailable",
                expr: `velero_backup_storage_location_phase${sel({ namespace: args.veleroNamespace, phase: "Unavailable" })} == 1`,
                for: "15m",
                labels: { severity: "critical" },
                summary: "Velero backup storage location {{ $labels.name }} unavailable",
                description:
                    "Velero cannot reach backup storage location {{ $labels.name }}: every backup and restore fails until it is Available.",
            },
        ),
    ];
    for (const [schedule, cron] of Object.entries(args.veleroSchedules)) {
        const limit = seconds(cron);
        rules.push(
            rule(
                { kind: "velero-schedule", schedule, limitSeconds: limit },
                {
                    alert: "VeleroBackupNotRunning",
                    expr: `time() - velero_backup_last_successful_timestamp${veleroScheduleSelector(schedule)} > ${limit}`,
                    for: "10m",
                    labels: { severity: "warning", schedule },
                    summary: `Velero schedule ${schedule} overdue`,
                    description: `No successful backup of Velero schedule ${schedule} in ${limit / HOUR} hours (its interval plus ${grace}).`,
                },
            ),
        );
    }
    if (args.cnpg && args.cnpg.clusters.length > 0) {
        const scope = cnpgSelector(args.cnpg.clusters);
        const byCluster = (expr: string) => `label_replace(${expr}, "cluster", "$1", "pod", "(.+)-[0-9]+")`;
        const { lastBackup } = cnpgBackupMetrics(args.cnpg.method);
        const limit = seconds(args.cnpg.schedule);
        const subject: AlertSubject = { kind: "cnpg", method: args.cnpg.method, clusters: args.cnpg.clusters, limitSeconds: limit };
        rules.push(
            rule(subject, {
                alert: "CNPGWALArchivingFailed",
                expr: byCluster(`cnpg_pg_stat_archiver_last_failed_time${scope} > cnpg_pg_stat_archiver_last_archived_time${scope}`),
                for: "5m",
                labels: { severity: "critical" },
                summary: "CNPG WAL archiving failing for {{ $labels.cluster }}",
                description:
                    "The last WAL archive attempt of {{ $labels.pod }} in {{ $labels.namespace }} failed after the last success: point-in-time recovery is falling behind.",
            }),
            rule(subject, {
                alert: "CNPGBackupStale",
                expr: byCluster(`time() - cnpg_pg_stat_archiver_last_archived_time${scope} > ${WAL_STALE_SECONDS}`),
                for: "10m",
                labels: { severity: "warning" },
                summary: "CNPG WAL archiving stale for {{ $labels.cluster }}",
                description: "No WAL archived for {{ $labels.pod }} in {{ $labels.namespace }} in the last hour.",
            }),
            rule(subject, {
                alert: "CNPGBaseBackupTooOld",
                expr: byCluster(`time() - max by (namespace, pod) (${lastBackup}${scope}) > ${limit}`),
                for: "10m",
                labels: { severity: "warning" },
                summary: "CNPG base backup too old for {{ $labels.cluster }}",
                description: `The last base backup of {{ $labels.cluster }} in {{ $labels.namespace }} is older than ${limit / HOUR} hours (schedule interval plus ${grace}).`,
            }),
        );
    }
    // Late success, or no success at all once the CronJob is older than one interval. `max by` folds the series of
    // several kube-state-metrics replicas and keeps the CronJob's labels in both branches (absent() has them too).
    const overdue = (job: ScheduledJob, limit: number) => {
        const s = cronJobSelector(job);
        const by = "max by (namespace, cronjob)";
        return (
            `(time() - ${by} (kube_cronjob_status_last_successful_time${s}) > ${limit})` +
            ` or (absent(kube_cronjob_status_last_successful_time${s}) and on() (time() - ${by} (kube_cronjob_created${s})) > ${limit})`
        );
    };
    for (const job of args.mssqlJobs) {
        const limit = seconds(job.schedule);
        rules.push(
            rule(
                { kind: "cronjob", job, limitSeconds: limit },
                {
                    alert: "MSSQLBackupMissing",
                    expr: overdue(job, limit),
                    for: "10m",
                    labels: { severity: "critical", namespace: job.namespace, cronjob: job.cronJob },
                    summary: `SQL Server backup ${job.namespace}/${job.cronJob} missing`,
                    description: `CronJob ${job.namespace}/${job.cronJob} has had no successful run in ${limit / HOUR} hours (its interval plus ${grace}).`,
                },
            ),
        );
    }
    for (const job of args.offsiteJobs ?? []) {
        const limit = seconds(job.schedule);
        rules.push(
            rule(
                { kind: "cronjob", job, limitSeconds: limit },
                {
                    alert: "OffsiteCopyStale",
                    expr: overdue(job, limit),
                    for: "10m",
                    labels: { severity: "critical", namespace: job.namespace, cronjob: job.cronJob },
                    summary: "Off-site copy of the backup buckets is stale",
                    description: `The off-site copy CronJob ${job.namespace}/${job.cronJob} has had no successful run in ${limit / HOUR} hours (its interval plus ${grace}): losing the object store now would lose the backups made since.`,
                },
            ),
        );
    }
    for (const job of args.drillJobs ?? []) {
        const limit = seconds(job.schedule);
        rules.push(
            rule(
                { kind: "cronjob", job, limitSeconds: limit },
                {
                    alert: "CNPGRestoreDrillOverdue",
                    expr: overdue(job, limit),
                    for: "10m",
                    labels: { severity: "warning", namespace: job.namespace, cronjob: job.cronJob },
                    summary: `Restore drill ${job.namespace}/${job.cronJob} failing or not run`,
                    description: `No restore drill of ${job.namespace}/${job.cronJob} has passed in ${limit / HOUR} hours (its interval plus ${grace}): the database's backups are not proven restorable.`,
                },
            ),
        );
    }
    if (args.coverage && coverageCanFail(args.coverage)) rules.push(coverageRule(args.coverage, rule));
    return rules;
}

/** Label and annotation names kube-state-metrics gives a PVC's allow-listed label and annotation. */
const ksmName = (prefix: "label" | "annotation", key: string) => `${prefix}_${key.replace(/[^a-zA-Z0-9_]/g, "_")}`;
export const KSM_CNPG_CLUSTER = ksmName("label", CNPG_CLUSTER_LABEL);
export const KSM_OPT_OUT = ksmName("annotation", OPT_OUT);

/**
 * PVCs no backup covers, one series each, by the rules `npm run verify` applies (components/coverage.ts): every PVC,
 * unless it is in a Velero namespace (with a snapshot StorageClass when those are listed), belongs to a backed-up or
 * drill CNPG cluster, is a SQL Server volume, or carries the opt-out annotation with a reason. `max by` folds
 * kube-state-metrics replicas. The alert and the dashboard's coverage panel share it.
 */
export function uncoveredPvcsExpr(c: CoverageRules): string {
    const on = "on (namespace, persistentvolumeclaim)";
    const info = (matchers: string) => `kube_persistentvolumeclaim_info${matchers === "" ? "" : `{${matchers}}`}`;
    const anyOf = (values: readonly string[]) => values.map(reEscape).join("|");
    const covered: string[] = [];
    const velero = [
        ...(c.veleroAllNamespaces ? [] : [`namespace=~"${anyOf(c.veleroNamespaces)}"`]),
        ...(c.snapshotStorageClasses ? [`storageclass=~"${anyOf(c.snapshotStorageClasses)}"`] : []),
    ];
    if (c.veleroAllNamespaces || c.veleroNamespaces.length > 0) covered.push(info(velero.join(",")));
    const byNamespace = new Map<string, string[]>();
    for (const cl of c.clusters) byNamespace.set(cl.namespace, [...(byNamespace.get(cl.namespace) ?? []), cl.name]);
    for (const [ns, names] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b)))
        covered.push(`kube_persistentvolumeclaim_labels{namespace="${ns}",${KSM_CNPG_CLUSTER}=~"${anyOf([...names].sort())}"}`);
    for (const m of c.mssql) covered.push(info(`namespace="${m.namespace}",persistentvolumeclaim=~".*-${reEscape(m.host)}-[0-9]+"`));
    covered.push(`kube_persistentvolumeclaim_annotations{${KSM_OPT_OUT}!=""}`);
    return `max by (namespace, persistentvolumeclaim, storageclass) (${info("")} ${covered.map((x) => `unless ${on} ${x}`).join(" ")})`;
}

function coverageRule(
    c: CoverageRules,
    rule: (subject: AlertSubject, r: Omit<AlertRule, "annotations"> & { summary: string; description: string }) => AlertSpec,
): AlertSpec {
    const expr = uncoveredPvcsExpr(c);
    return rule(
        { kind: "coverage", rules: c },
        {
            alert: "PersistentVolumeClaimNotBackedUp",
            expr,
            for: "30m",
            labels: { severity: "warning" },
            summary: "PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is not backed up",
            description: `No backup covers PersistentVolumeClaim {{ $labels.persistentvolumeclaim }} (StorageClass {{ $labels.storageclass }}) in {{ $labels.namespace }}: no Velero schedule includes the namespace${c.snapshotStorageClasses ? " with a snapshot StorageClass" : ""}, no backed-up database owns it, and it has no ${OPT_OUT} annotation saying why not.`,
        },
    );
}

/**
 * kube-state-metrics custom-resource configuration that turns each BackupStorageLocation's phase into
 * `velero_backup_storage_location_phase{phase=...}`; load it into kube-state-metrics (README).
 */
export function ksmVeleroConfig(): string {
    return JSON.stringify({
        kind: "CustomResourceStateMetrics",
        spec: {
            resources: [
                {
                    groupVersionKind: { group: "velero.io", version: "v1", kind: "BackupStorageLocation" },
                    metricNamePrefix: "velero",
                    labelsFromPath: { name: ["metadata", "name"], namespace: ["metadata", "namespace"] },
                    metrics: [
                        {
                            name: "backup_storage_location_phase",
                            help: "Phase of a Velero BackupStorageLocation",
                            each: {
                                type: "StateSet",
                                stateSet: { labelName: "phase", path: ["status", "phase"], list: ["Available", "Unavailable"] },
                            },
                        },
                    ],
                },
            ],
        },
    });
}

/**
 * kube-state-metrics exports a PVC's labels and annotations only when allow-listed: the coverage rule reads the CNPG
 * cluster label and the opt-out annotation. Values of --metric-labels-allowlist / --metric-annotations-allowlist (the
 * kube-state-metrics chart's metricLabelsAllowlist / metricAnnotationsAllowList; README).
 */
export const KSM_ALLOWLISTS = {
    labels: `persistentvolumeclaims=[${CNPG_CLUSTER_LABEL}]`,
    annotations: `persistentvolumeclaims=[${OPT_OUT}]`,
} as const;

/** The PrometheusRule, and the kube-state-metrics configuration its storage-location and coverage rules need. */
export class BackupAlerts extends pulumi.ComponentResource {
    /** Names of the alerts emitted. */
    public readonly alerts: string[];

    constructor(name: string, args: AlertsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:BackupAlerts", name, {}, opts);
        const rules = alertRules(args);
        new k8s.apiextensions.CustomResource(
            `${name}-rules`,
            {
                apiVersion: "monitoring.coreos.com/v1",
                kind: "PrometheusRule",
                metadata: owned({ name: "backup-alerts", namespace: args.namespace, labels: { ...args.labels } }),
                spec: { groups: [{ name: "backup.rules", rules }] },
            },
            { parent: this },
        );
        new k8s.core.v1.ConfigMap(
            `${name}-ksm-velero`,
            {
                metadata: owned({
                    name: "backup-platform-ksm-velero",
                    namespace: args.namespace,
                    labels: { "app.kubernetes.io/part-of": "backup-platform" },
                }),
                data: {
                    "velero-crs.json": ksmVeleroConfig(),
                    "metric-labels-allowlist": KSM_ALLOWLISTS.labels,
                    "metric-annotations-allowlist": KSM_ALLOWLISTS.annotations,
                    args: [
                        `--metric-labels-allowlist=${KSM_ALLOWLISTS.labels}`,
                        `--metric-annotations-allowlist=${KSM_ALLOWLISTS.annotations}`,
                    ].join("\n"),
                },
            },
            { parent: this },
        );
        this.alerts = [...new Set(rules.map((r) => r.alert))];
        this.registerOutputs({ alerts: this.alerts });
    }
}
