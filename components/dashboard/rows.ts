// The dashboard's rows, one group per subject: coverage, Velero, the PostgreSQL clusters, each SQL Server database,
// the off-site copy and the restore drills.
//
// What grows with the fleet is written once: the PostgreSQL row and the restore drill row are repeated by Grafana over
// a variable listing the clusters (repeat.ts); every cluster has the same thresholds (one CNPG schedule, one drill
// schedule). What stays one row or panel per target has a threshold of its own, from its own schedule, which no
// variable can carry into a panel's thresholds: the Velero schedules (a few, set by the platform, not by the fleet)
// and the SQL Server databases (each with its schedule; their names are unique only within a namespace).
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as grafana from "@grafana/grafana-foundation-sdk/dashboard";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import {
    alertRules,
    cnpgBackupMetrics,
    cnpgPodSelector,
    cronJobsSelector,
    uncoveredPvcsExpr,
    veleroScheduleSelector,
    WAL_STALE_SECONDS,
    type AlertsArgs,
} from "../alerts";
import { OPT_OUT } from "../../core/coverage";
import { maxAgeSeconds } from "../../core/schedule";
import { type ScheduledJob } from "../../core/jobs";
import { alertRunbook, cronJobPanels, cronJobPath, okWhenZero, statPanel } from "./panels";
import { repeatOver, type RepeatRefs } from "./repeat";

/** README section on point-in-time recovery, linked from the recovery-window panels. */
export const PITR_RUNBOOK = { title: "Runbook: restore to a point in time", anchor: "restore-a-postgresql-database-to-a-point-in-time" };

/** Where rows, panels and variables go, in order. */
export interface Layout {
    /** A row; `repeat`: the variable Grafana repeats it (and its panels) over. */
    row(title: string, repeat?: string): void;
    panel(p: stat.PanelBuilder): void;
    variable(v: cog.Builder<grafana.VariableModel>): void;
}

/** The CNPG part of the alerts' args. */
type Cnpg = NonNullable<AlertsArgs["cnpg"]>;

/** `items` ordered by a stable key, so reordering the config moves no panel. */
const byKey = <T>(items: readonly T[], key: (t: T) => string): T[] =>
    [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
const jobKey = (j: ScheduledJob) => `${j.namespace}/${j.cronJob}`;

/** Coverage, when configured. */
export function coverageRow(args: AlertsArgs, l: Layout): void {
    // The alert's own expression, counted: PVCs that no backup path covers, by verify's rules (components/coverage.ts).
    if (args.coverage) {
        l.row("Coverage");
        l.panel(
            statPanel(args.runbookBaseUrl, {
                title: "PVCs without a backup",
                description: `PersistentVolumeClaims no backup path covers (the PersistentVolumeClaimNotBackedUp alert's expression, counted): not in a namespace a Velero schedule includes, not a backed-up database's volume, no ${OPT_OUT} annotation with a reason. Red from 1.`,
                expr: `count(${uncoveredPvcsExpr(args.coverage)}) or vector(0)`,
                unit: "none",
                red: 1,
                runbooks: [alertRunbook("PersistentVolumeClaimNotBackedUp")],
                width: 6,
            }),
        );
    }
}

/** Velero: failed backups and the storage location, then each schedule. */
export function veleroRow(args: AlertsArgs, l: Layout): void {
    const base = args.runbookBaseUrl;
    const rules = alertRules(args);
    const ruleExpr = (alert: string) => {
        const rule = rules.find((r) => r.alert === alert);
        if (rule === undefined) throw new Error(`no alert ${alert}`);
        return rule.expr;
    };
    l.row("Velero");
    l.panel(
        statPanel(base, {
            title: "Velero: failed backups (24 h)",
            description: "Schedules with a failed or partially failed backup in the last 24 hours (VeleroBackupFailed). Red from 1.",
            expr: `count(${ruleExpr("VeleroBackupFailed")}) or vector(0)`,
            unit: "none",
            red: 1,
            runbooks: [alertRunbook("VeleroBackupFailed")],
            width: 4,
            mappings: okWhenZero("failed"),
        }),
    );
    l.panel(
        statPanel(base, {
            title: "Velero: storage location",
            description: "Backup storage locations in phase Unavailable (VeleroBackupStorageLocationUnavailable). Red from 1.",
            expr: `count(${ruleExpr("VeleroBackupStorageLocationUnavailable")}) or vector(0)`,
            unit: "none",
            red: 1,
            runbooks: [alertRunbook("VeleroBackupStorageLocationUnavailable")],
            width: 4,
            mappings: okWhenZero("unavailable"),
        }),
    );
    for (const [schedule, cron] of byKey(Object.entries(args.veleroSchedules), ([name]) => name)) {
        for (const p of veleroSchedulePanels(args, schedule, cron)) l.panel(p);
    }
}

/** A Velero schedule's age (red where VeleroBackupNotRunning fires) and last success. */
function veleroSchedulePanels(args: AlertsArgs, schedule: string, cron: string): stat.PanelBuilder[] {
    const limit = maxAgeSeconds(cron, args.graceHours);
    const s = veleroScheduleSelector(schedule);
    const runbooks = [alertRunbook("VeleroBackupNotRunning")];
    return [
        statPanel(args.runbookBaseUrl, {
            title: `${schedule}: since last success`,
            description: `Time since Velero schedule ${schedule} last completed a backup. Red from ${limit / 3600} h, where VeleroBackupNotRunning fires: schedule "${cron}" interval plus ${args.graceHours} h.`,
            expr: `time() - max(velero_backup_last_successful_timestamp${s})`,
            unit: "s",
            red: limit,
            runbooks,
            width: 4,
        }),
        statPanel(args.runbookBaseUrl, {
            title: `${schedule}: last success`,
            description: `When Velero schedule ${schedule} last completed a backup.`,
            expr: `max(velero_backup_last_successful_timestamp${s}) * 1000`,
            unit: "dateTimeAsIso",
            runbooks,
            width: 4,
        }),
    ];
}

/** The variables of a repeated row, added to the layout; what its titles and queries refer to the target by. */
function repeated(l: Layout, variable: string, label: string, targets: readonly { namespace: string; name: string }[]): RepeatRefs {
    const { variables, refs } = repeatOver(variable, label, targets);
    for (const v of variables) l.variable(v);
    return refs;
}

/** CloudNativePG: one row, repeated per cluster, its base backups, then its WAL archiving and recovery window. */
export function cnpgRows(args: AlertsArgs, l: Layout): void {
    if (args.cnpg && args.cnpg.clusters.length > 0) {
        const clusters = byKey(args.cnpg.clusters, (c) => `${c.namespace}/${c.name}`);
        const c = repeated(l, "cluster", "PostgreSQL cluster", clusters);
        l.row(`PostgreSQL ${c.path}`, c.variable);
        // The alerts' own selector (cnpgSelector), for the one cluster of the row.
        const s = cnpgPodSelector(c.namespaces, c.name);
        for (const p of [...baseBackupPanels(args, args.cnpg, s), ...walPanels(args, args.cnpg, s)]) l.panel(p);
    }
}

/** A cluster's last base backup: its age (red where CNPGBaseBackupTooOld fires) and time. */
function baseBackupPanels(args: AlertsArgs, cnpg: Cnpg, s: string): stat.PanelBuilder[] {
    const { lastBackup } = cnpgBackupMetrics(cnpg.method);
    const limit = maxAgeSeconds(cnpg.schedule, args.graceHours);
    return [
        statPanel(args.runbookBaseUrl, {
            title: "Base backup: since last",
            description: `Time since the last base backup of the row's cluster. Red from ${limit / 3600} h, where CNPGBaseBackupTooOld fires: schedule "${cnpg.schedule}" interval plus ${args.graceHours} h.`,
            expr: `time() - max(${lastBackup}${s})`,
            unit: "s",
            red: limit,
            runbooks: [alertRunbook("CNPGBaseBackupTooOld")],
            width: 5,
        }),
        statPanel(args.runbookBaseUrl, {
            title: "Base backup: last",
            description: `When the last base backup of the row's cluster became available (${lastBackup}).`,
            expr: `max(${lastBackup}${s}) * 1000`,
            unit: "dateTimeAsIso",
            runbooks: [alertRunbook("CNPGBaseBackupTooOld")],
            width: 5,
        }),
    ];
}

/** A cluster's WAL archiving, its age and failures, and the recovery window it gives. */
function walPanels(args: AlertsArgs, cnpg: Cnpg, s: string): stat.PanelBuilder[] {
    const { firstRecoverabilityPoint } = cnpgBackupMetrics(cnpg.method);
    return [
        statPanel(args.runbookBaseUrl, {
            title: "WAL: since last archived",
            description: `Time since the row's cluster last archived a WAL segment. Red from ${WAL_STALE_SECONDS / 3600} h, where CNPGBackupStale fires.`,
            expr: `time() - max(cnpg_pg_stat_archiver_last_archived_time${s})`,
            unit: "s",
            red: WAL_STALE_SECONDS,
            runbooks: [alertRunbook("CNPGBackupStale")],
            width: 4,
        }),
        statPanel(args.runbookBaseUrl, {
            title: "WAL archiving",
            description: `Instances of the row's cluster whose last WAL archive failure is newer than their last success (CNPGWALArchivingFailed). Red from 1.`,
            expr: `count(cnpg_pg_stat_archiver_last_failed_time${s} > cnpg_pg_stat_archiver_last_archived_time${s}) or vector(0)`,
            unit: "none",
            red: 1,
            runbooks: [alertRunbook("CNPGWALArchivingFailed")],
            width: 4,
            mappings: okWhenZero("failing"),
        }),
        statPanel(args.runbookBaseUrl, {
            title: "Recovery window",
            description: `How far back the row's cluster can be restored to a point in time: since its first recoverability point (${firstRecoverabilityPoint}).`,
            expr: `time() - min(${firstRecoverabilityPoint}${s} > 0)`,
            unit: "s",
            runbooks: [PITR_RUNBOOK, alertRunbook("CNPGBaseBackupTooOld")],
            width: 6,
        }),
    ];
}

/** The CronJob paths: a row per SQL Server database, then the off-site copy, then one row repeated per restore drill. */
export function cronJobRows(args: AlertsArgs, l: Layout): void {
    for (const job of byKey(args.mssqlJobs, jobKey)) {
        l.row(`SQL Server ${job.namespace}/${job.cronJob}`);
        for (const p of cronJobPanels(args, cronJobPath(job), "MSSQLBackupMissing", "Backup")) l.panel(p);
    }
    if ((args.offsiteJobs ?? []).length > 0) {
        l.row("Off-site copy");
        for (const job of byKey(args.offsiteJobs ?? [], jobKey)) {
            for (const p of cronJobPanels(args, cronJobPath(job), "OffsiteCopyStale", `Copy ${job.namespace}/${job.cronJob}`)) l.panel(p);
        }
    }
    drillRows(args, l);
}

/** The scheduled restore drills: one CronJob per drilled database, all on the drills' schedule. */
function drillRows(args: AlertsArgs, l: Layout): void {
    const jobs = byKey(args.drillJobs ?? [], jobKey);
    if (jobs.length === 0) return;
    const schedules = [...new Set(jobs.map((j) => j.schedule))];
    if (schedules.length !== 1)
        throw new Error(`dashboard: the drill CronJobs have ${schedules.length} schedules, the repeated row one threshold`);
    const d = repeated(
        l,
        "drill",
        "Restore drill",
        jobs.map((j) => ({ namespace: j.namespace, name: j.cronJob })),
    );
    l.row(`Restore drill ${d.path}`, d.variable);
    const path = { schedule: schedules[0], selector: cronJobsSelector(d.namespaces, d.name), called: "the row's drill CronJob" };
    for (const p of cronJobPanels(args, path, "CNPGRestoreDrillOverdue", "Drill", 12)) l.panel(p);
}
