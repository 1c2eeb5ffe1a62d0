// The alerts' vocabulary: the rule shape, the component's args, the alert names with their runbook anchors, and what
// each rule watches.
import { type CoverageRules } from "../../core/coverage";
import { ScheduledJob } from "../../core/jobs";

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
    /** Scheduled restore drill CronJobs, all on the drills' one schedule (the dashboard repeats one row over them). Default none. */
    readonly drillJobs?: readonly ScheduledJob[];
    /** Which PVCs a backup covers (components/coverage.ts); no coverage rule when absent. Default none. */
    readonly coverage?: CoverageRules;
}

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
