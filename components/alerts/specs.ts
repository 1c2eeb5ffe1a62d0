// The rules for the alerts' args, one group per subject: Velero, CloudNativePG, SQL Server, the off-site copy, restore
// drills and PVC coverage.
import { coverageCanFail, OPT_OUT, type CoverageRules } from "../../core/coverage";
import { maxAgeSeconds } from "../../core/schedule";
import { ScheduledJob } from "../../core/jobs";
import { uncoveredPvcsExpr } from "./coverage";
import { cnpgBackupMetrics, cnpgSelector, cronJobSelector, sel, veleroScheduleSelector } from "./selectors";
import { RUNBOOK_ANCHORS, type AlertName, type AlertRule, type AlertSpec, type AlertSubject, type AlertsArgs } from "./types";

const HOUR = 3600;

/** Seconds without an archived WAL segment before CNPGBackupStale fires. */
export const WAL_STALE_SECONDS = HOUR;

/** A rule as written: its summary and description apart; the runbook link is added from the alert's name. */
type RuleText = Omit<AlertRule, "annotations"> & { summary: string; description: string };

/** What every group of rules is built with, derived once from the args. */
interface Builder {
    /** Seconds a backup on schedule `cron` may take before it is overdue: its interval plus the grace. */
    seconds: (cron: string) => number;
    /** The grace, in words. */
    grace: string;
    /** A spec: the rule with its runbook link, and what it watches. */
    rule: (subject: AlertSubject, r: RuleText) => AlertSpec;
}

/** The builder for `args`. */
function builder(args: AlertsArgs): Builder {
    const runbook = (alert: AlertName) => `${args.runbookBaseUrl}#${RUNBOOK_ANCHORS[alert]}`;
    return {
        seconds: (cron: string) => maxAgeSeconds(cron, args.graceHours),
        grace: `${args.graceHours} hours`,
        rule: (subject: AlertSubject, r: RuleText): AlertSpec => ({
            rule: {
                alert: r.alert,
                expr: r.expr,
                for: r.for,
                labels: r.labels,
                annotations: { summary: r.summary, description: r.description, runbook_url: runbook(r.alert) },
            },
            subject,
        }),
    };
}

/** The full rule list for `args` (pure, for tests). */
export function alertRules(args: AlertsArgs): AlertRule[] {
    return alertSpecs(args).map((s) => s.rule);
}

/** The rules for `args` with what each watches (pure). */
export function alertSpecs(args: AlertsArgs): AlertSpec[] {
    const b = builder(args);
    const rules: AlertSpec[] = [
        ...veleroSpecs(args, b),
        ...cnpgSpecs(args, b),
        ...mssqlSpecs(args, b),
        ...offsiteSpecs(args, b),
        ...drillSpecs(args, b),
    ];
    if (args.coverage && coverageCanFail(args.coverage)) rules.push(coverageRule(args.coverage, b.rule));
    return rules;
}

/** Velero: failed backups, an unavailable storage location, and each schedule without a recent success. */
function veleroSpecs(args: AlertsArgs, { seconds, grace, rule }: Builder): AlertSpec[] {
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
    return rules;
}

/** CloudNativePG, when clusters are backed up: WAL archiving failing or stale, base backups too old. */
function cnpgSpecs(args: AlertsArgs, { seconds, grace, rule }: Builder): AlertSpec[] {
    const cnpg = args.cnpg;
    if (!cnpg || cnpg.clusters.length === 0) return [];
    const scope = cnpgSelector(cnpg.clusters);
    const byCluster = (expr: string) => `label_replace(${expr}, "cluster", "$1", "pod", "(.+)-[0-9]+")`;
    const { lastBackup } = cnpgBackupMetrics(cnpg.method);
    const limit = seconds(cnpg.schedule);
    const subject: AlertSubject = { kind: "cnpg", method: cnpg.method, clusters: cnpg.clusters, limitSeconds: limit };
    return [
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
    ];
}

// Late success, or no success at all once the CronJob is older than one interval. `max by` folds the series of
// several kube-state-metrics replicas and keeps the CronJob's labels in both branches (absent() has them too).
function overdue(job: ScheduledJob, limit: number): string {
    const s = cronJobSelector(job);
    const by = "max by (namespace, cronjob)";
    return (
        `(time() - ${by} (kube_cronjob_status_last_successful_time${s}) > ${limit})` +
        ` or (absent(kube_cronjob_status_last_successful_time${s}) and on() (time() - ${by} (kube_cronjob_created${s})) > ${limit})`
    );
}

/** One rule per CronJob of `jobs`, firing while it is overdue; `text` words it for a job and its limit in hours. */
function cronJobSpecs(
    { seconds, rule }: Builder,
    jobs: readonly ScheduledJob[],
    alert: AlertName,
    severity: "critical" | "warning",
    text: (job: ScheduledJob, hours: number) => { summary: string; description: string },
): AlertSpec[] {
    return jobs.map((job) => {
        const limit = seconds(job.schedule);
        return rule(
            { kind: "cronjob", job, limitSeconds: limit },
            {
                alert,
                expr: overdue(job, limit),
                for: "10m",
                labels: { severity, namespace: job.namespace, cronjob: job.cronJob },
                ...text(job, limit / HOUR),
            },
        );
    });
}

/** SQL Server: each backup CronJob without a recent success. */
function mssqlSpecs(args: AlertsArgs, b: Builder): AlertSpec[] {
    return cronJobSpecs(b, args.mssqlJobs, "MSSQLBackupMissing", "critical", (job, hours) => ({
        summary: `SQL Server backup ${job.namespace}/${job.cronJob} missing`,
        description: `CronJob ${job.namespace}/${job.cronJob} has had no successful run in ${hours} hours (its interval plus ${b.grace}).`,
    }));
}

/** The off-site copy, when it is on: its CronJob without a recent success. */
function offsiteSpecs(args: AlertsArgs, b: Builder): AlertSpec[] {
    return cronJobSpecs(b, args.offsiteJobs ?? [], "OffsiteCopyStale", "critical", (job, hours) => ({
        summary: "Off-site copy of the backup buckets is stale",
        description: `The off-site copy CronJob ${job.namespace}/${job.cronJob} has had no successful run in ${hours} hours (its interval plus ${b.grace}): losing the object store now would lose the backups made since.`,
    }));
}

/** Scheduled restore drills: each drill CronJob without a recent pass. */
function drillSpecs(args: AlertsArgs, b: Builder): AlertSpec[] {
    return cronJobSpecs(b, args.drillJobs ?? [], "CNPGRestoreDrillOverdue", "warning", (job, hours) => ({
        summary: `Restore drill ${job.namespace}/${job.cronJob} failing or not run`,
        description: `No restore drill of ${job.namespace}/${job.cronJob} has passed in ${hours} hours (its interval plus ${b.grace}): the database's backups are not proven restorable.`,
    }));
}

/** Coverage: each PVC no backup covers, by the rules `c`. */
function coverageRule(c: CoverageRules, rule: Builder["rule"]): AlertSpec {
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
