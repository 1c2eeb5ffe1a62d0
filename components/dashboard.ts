// The backup dashboard: one Grafana dashboard, built with Grafana's foundation SDK (typed builders, not hand-written
// JSON), shipped as a ConfigMap for the Grafana sidecar of kube-prometheus-stack. It is drawn from the alerts' own
// inputs (AlertsArgs) and their selectors, metrics and maxAgeSeconds, so a panel turns red where its alert fires.
//
// The SDK's v1 DashboardBuilder is marked deprecated in favour of dashboardv2, but the sidecar provisions dashboard
// files, which Grafana reads in the v1 JSON model only.
import * as cog from "@grafana/grafana-foundation-sdk/cog";
import * as common from "@grafana/grafana-foundation-sdk/common";
import * as grafana from "@grafana/grafana-foundation-sdk/dashboard";
import * as prometheus from "@grafana/grafana-foundation-sdk/prometheus";
import * as stat from "@grafana/grafana-foundation-sdk/stat";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
    alertRules,
    cnpgBackupMetrics,
    uncoveredPvcsExpr,
    cnpgSelector,
    cronJobSelector,
    RUNBOOK_ANCHORS,
    veleroScheduleSelector,
    WAL_STALE_SECONDS,
    type AlertName,
    type AlertsArgs,
} from "./alerts";
import { OPT_OUT } from "../core/coverage";
import { owned } from "../core/ownership";
import { maxAgeSeconds } from "../core/schedule";
import { type ScheduledJob } from "../core/jobs";

/** README section on point-in-time recovery, linked from the recovery-window panels. */
export const PITR_RUNBOOK = { title: "Runbook: restore to a point in time", anchor: "restore-a-postgresql-database-to-a-point-in-time" };

/** Name of the ConfigMap and of its one key's file. */
export const DASHBOARD_CONFIGMAP = "backup-platform-dashboard";

export interface DashboardArgs {
    /** What the alerts watch and their thresholds; the dashboard follows them even when the PrometheusRule is off. */
    readonly alerts: AlertsArgs;
    /** Namespace of the ConfigMap; the Grafana sidecar must watch it. */
    readonly namespace: string;
    /** Labels the sidecar selects dashboards by; kube-prometheus-stack's default is { grafana_dashboard: "1" }. */
    readonly labels: Readonly<Record<string, string>>;
    /** Grafana folder, as the annotation the sidecar's folderAnnotation names. Default none (the sidecar's folder). */
    readonly folder?: { readonly annotation: string; readonly name: string };
    /** Dashboard uid, stable across runs and unique in the Grafana. */
    readonly uid: string;
}

const DATASOURCE = { type: "prometheus", uid: "${datasource}" };
const HEIGHT = 4;

/** A README section a panel links to. */
interface Runbook {
    readonly title: string;
    readonly anchor: string;
}

/** The runbook of an alert. */
const alertRunbook = (alert: AlertName): Runbook => ({ title: `Runbook: ${alert}`, anchor: RUNBOOK_ANCHORS[alert] });

function links(base: string, runbooks: readonly Runbook[]): cog.Builder<grafana.DashboardLink>[] {
    return runbooks.map((r) =>
        new grafana.DashboardLinkBuilder(r.title).type(grafana.DashboardLinkType.Link).url(`${base}#${r.anchor}`).targetBlank(true),
    );
}

const instant = (expr: string) => new prometheus.DataqueryBuilder().expr(expr).instant().refId("A").datasource(DATASOURCE);

/** Green below `red`, red from it on; `red` undefined: one neutral colour. */
function thresholds(red: number | undefined, base = "green"): cog.Builder<grafana.ThresholdsConfig> {
    const steps: grafana.Threshold[] = [{ value: null, color: red === undefined ? "blue" : base }];
    if (red !== undefined) steps.push({ value: red, color: "red" });
    return new grafana.ThresholdsConfigBuilder().mode(grafana.ThresholdsMode.Absolute).steps(steps);
}

interface StatSpec {
    title: string;
    description: string;
    expr: string;
    unit: string;
    /** Value from which the panel is red (what its alert compares with); none: neutral. */
    red?: number;
    /** README sections linked from the panel. */
    runbooks: readonly Runbook[];
    width: number;
    mappings?: grafana.ValueMapping[];
}

function statPanel(base: string, s: StatSpec): stat.PanelBuilder {
    const p = new stat.PanelBuilder()
        .title(s.title)
        .description(s.description)
        .datasource(DATASOURCE)
        .withTarget(instant(s.expr))
        .unit(s.unit)
        .thresholds(thresholds(s.red))
        .colorMode(s.red === undefined ? common.BigValueColorMode.Value : common.BigValueColorMode.Background)
        .graphMode(common.BigValueGraphMode.None)
        .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(["lastNotNull"]))
        .noValue("no data")
        .links(links(base, s.runbooks))
        .height(HEIGHT)
        .span(s.width);
    return s.mappings ? p.mappings(s.mappings) : p;
}

const okWhenZero = (bad: string): grafana.ValueMapping[] => [
    { type: grafana.MappingType.ValueToText, options: { "0": { text: "OK" } } },
    { type: grafana.MappingType.RangeToText, options: { from: 1, to: null, result: { text: bad } } },
];

/** Seconds since a CronJob's last success, or since its creation while it never succeeded: what its alert compares. */
const cronJobAge = (job: ScheduledJob) =>
    `(time() - max(kube_cronjob_status_last_successful_time${cronJobSelector(job)})) or (time() - max(kube_cronjob_created${cronJobSelector(job)}))`;

/** The two panels of a CronJob path: age (red at its alert's threshold) and last success time. */
function cronJobPanels(args: AlertsArgs, job: ScheduledJob, alert: AlertName, what: string): stat.PanelBuilder[] {
    const limit = maxAgeSeconds(job.schedule, args.graceHours);
    const runbooks = [alertRunbook(alert)];
    return [
        statPanel(args.runbookBaseUrl, {
            title: `${what}: since last success`,
            description: `Time since the last successful run of CronJob ${job.namespace}/${job.cronJob} (since its creation if none). Red from ${limit / 3600} h, where ${alert} fires: schedule "${job.schedule}" interval plus ${args.graceHours} h.`,
            expr: cronJobAge(job),
            unit: "s",
            red: limit,
            runbooks,
            width: 6,
        }),
        statPanel(args.runbookBaseUrl, {
            title: `${what}: last success`,
            description: `When CronJob ${job.namespace}/${job.cronJob} last succeeded (kube-state-metrics).`,
            expr: `max(kube_cronjob_status_last_successful_time${cronJobSelector(job)}) * 1000`,
            unit: "dateTimeAsIso",
            runbooks,
            width: 6,
        }),
    ];
}

/** `items` ordered by a stable key, so reordering the config moves no panel. */
const byKey = <T>(items: readonly T[], key: (t: T) => string): T[] =>
    [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
const jobKey = (j: ScheduledJob) => `${j.namespace}/${j.cronJob}`;

/** The dashboard for `args` (pure, for tests): rows of stat panels, red/green by the alerts' thresholds. */
export function backupDashboard(args: AlertsArgs, uid: string): grafana.Dashboard {
    const base = args.runbookBaseUrl;
    const rules = alertRules(args);
    const ruleExpr = (alert: string) => {
        const rule = rules.find((r) => r.alert === alert);
        if (rule === undefined) throw new Error(`no alert ${alert}`);
        return rule.expr;
    };
    const d = new grafana.DashboardBuilder("Backups")
        .uid(uid)
        .description(
            "Every backup path of the backup platform, red where its alert fires. Built by the Pulumi program: edits are overwritten.",
        )
        .tags(["backup-platform"])
        .readonly()
        .timezone("utc")
        .time({ from: "now-24h", to: "now" })
        .refresh("1m")
        .withVariable(new grafana.DatasourceVariableBuilder("datasource").label("Data source").type("prometheus"));
    // Grafana keys panels by id: number rows and panels in order.
    let id = 0;
    const row = (title: string) => d.withRow(new grafana.RowBuilder(title).id(++id));
    const panel = (p: stat.PanelBuilder) => d.withPanel(p.id(++id));

    // The alert's own expression, counted: PVCs that no backup path covers, by verify's rules (components/coverage.ts).
    if (args.coverage) {
        row("Coverage");
        panel(
            statPanel(base, {
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

    row("Velero");
    panel(
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
    panel(
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
        const limit = maxAgeSeconds(cron, args.graceHours);
        const s = veleroScheduleSelector(schedule);
        const runbooks = [alertRunbook("VeleroBackupNotRunning")];
        panel(
            statPanel(base, {
                title: `${schedule}: since last success`,
                description: `Time since Velero schedule ${schedule} last completed a backup. Red from ${limit / 3600} h, where VeleroBackupNotRunning fires: schedule "${cron}" interval plus ${args.graceHours} h.`,
                expr: `time() - max(velero_backup_last_successful_timestamp${s})`,
                unit: "s",
                red: limit,
                runbooks,
                width: 4,
            }),
        );
        panel(
            statPanel(base, {
                title: `${schedule}: last success`,
                description: `When Velero schedule ${schedule} last completed a backup.`,
                expr: `max(velero_backup_last_successful_timestamp${s}) * 1000`,
                unit: "dateTimeAsIso",
                runbooks,
                width: 4,
            }),
        );
    }

    if (args.cnpg) {
        const { lastBackup, firstRecoverabilityPoint } = cnpgBackupMetrics(args.cnpg.method);
        const limit = maxAgeSeconds(args.cnpg.schedule, args.graceHours);
        for (const cluster of byKey(args.cnpg.clusters, (c) => `${c.namespace}/${c.name}`)) {
            const s = cnpgSelector([cluster]);
            row(`PostgreSQL ${cluster.namespace}/${cluster.name}`);
            panel(
                statPanel(base, {
                    title: "Base backup: since last",
                    description: `Time since the last base backup of ${cluster.name}. Red from ${limit / 3600} h, where CNPGBaseBackupTooOld fires: schedule "${args.cnpg.schedule}" interval plus ${args.graceHours} h.`,
                    expr: `time() - max(${lastBackup}${s})`,
                    unit: "s",
                    red: limit,
                    runbooks: [alertRunbook("CNPGBaseBackupTooOld")],
                    width: 5,
                }),
            );
            panel(
                statPanel(base, {
                    title: "Base backup: last",
                    description: `When the last base backup of ${cluster.name} became available (${lastBackup}).`,
                    expr: `max(${lastBackup}${s}) * 1000`,
                    unit: "dateTimeAsIso",
                    runbooks: [alertRunbook("CNPGBaseBackupTooOld")],
                    width: 5,
                }),
            );
            panel(
                statPanel(base, {
                    title: "WAL: since last archived",
                    description: `Time since ${cluster.name} last archived a WAL segment. Red from ${WAL_STALE_SECONDS / 3600} h, where CNPGBackupStale fires.`,
                    expr: `time() - max(cnpg_pg_stat_archiver_last_archived_time${s})`,
                    unit: "s",
                    red: WAL_STALE_SECONDS,
                    runbooks: [alertRunbook("CNPGBackupStale")],
                    width: 4,
                }),
            );
            panel(
                statPanel(base, {
                    title: "WAL archiving",
                    description: `Instances of ${cluster.name} whose last WAL archive failure is newer than their last success (CNPGWALArchivingFailed). Red from 1.`,
                    expr: `count(cnpg_pg_stat_archiver_last_failed_time${s} > cnpg_pg_stat_archiver_last_archived_time${s}) or vector(0)`,
                    unit: "none",
                    red: 1,
                    runbooks: [alertRunbook("CNPGWALArchivingFailed")],
                    width: 4,
                    mappings: okWhenZero("failing"),
                }),
            );
            panel(
                statPanel(base, {
                    title: "Recovery window",
                    description: `How far back ${cluster.name} can be restored to a point in time: since its first recoverability point (${firstRecoverabilityPoint}).`,
                    expr: `time() - min(${firstRecoverabilityPoint}${s} > 0)`,
                    unit: "s",
                    runbooks: [PITR_RUNBOOK, alertRunbook("CNPGBaseBackupTooOld")],
                    width: 6,
                }),
            );
        }
    }

    for (const job of byKey(args.mssqlJobs, jobKey)) {
        row(`SQL Server ${job.namespace}/${job.cronJob}`);
        for (const p of cronJobPanels(args, job, "MSSQLBackupMissing", "Backup")) panel(p);
    }
    if ((args.offsiteJobs ?? []).length > 0) {
        row("Off-site copy");
        for (const job of byKey(args.offsiteJobs ?? [], jobKey)) {
            for (const p of cronJobPanels(args, job, "OffsiteCopyStale", `Copy ${job.namespace}/${job.cronJob}`)) panel(p);
        }
    }
    if ((args.drillJobs ?? []).length > 0) {
        row("Restore drills");
        for (const job of byKey(args.drillJobs ?? [], jobKey)) {
            for (const p of cronJobPanels(args, job, "CNPGRestoreDrillOverdue", `Drill ${job.namespace}/${job.cronJob}`)) panel(p);
        }
    }
    return d.build();
}

/** Every PromQL expression of a dashboard's panels, in panel order (rows' collapsed panels included). */
export function dashboardQueries(model: grafana.Dashboard): string[] {
    const panels = (model.panels ?? []).flatMap((p) => ("panels" in p && Array.isArray(p.panels) ? [p, ...p.panels] : [p]));
    return panels.flatMap((p) =>
        "targets" in p && Array.isArray(p.targets)
            ? p.targets.map((t) => (t as prometheus.Dataquery).expr).filter((e) => e !== undefined)
            : [],
    );
}

/** The dashboard as one ConfigMap the Grafana sidecar loads. */
export class BackupDashboard extends pulumi.ComponentResource {
    /** namespace/name of the ConfigMap. */
    public readonly configMap: string;

    constructor(name: string, args: DashboardArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:components:BackupDashboard", name, {}, opts);
        new k8s.core.v1.ConfigMap(
            `${name}-configmap`,
            {
                metadata: owned({
                    name: DASHBOARD_CONFIGMAP,
                    namespace: args.namespace,
                    labels: { "app.kubernetes.io/part-of": "backup-platform", ...args.labels },
                    ...(args.folder ? { annotations: { [args.folder.annotation]: args.folder.name } } : {}),
                }),
                data: { [`${DASHBOARD_CONFIGMAP}.json`]: JSON.stringify(backupDashboard(args.alerts, args.uid)) },
            },
            { parent: this },
        );
        this.configMap = `${args.namespace}/${DASHBOARD_CONFIGMAP}`;
        this.registerOutputs({ configMap: this.configMap });
    }
}
