// Wiring: config -> platform (stacks/) -> backup targets -> components -> outputs.
import * as pulumi from "@pulumi/pulumi";
import { programConfig, type Config } from "./config";
import { type OffsiteCopyPlan, type Platform } from "./core/platform";
import { BackupAlerts, type AlertsArgs } from "./components/alerts";
import { BackupDashboard, dashboardJson, type DashboardArgs } from "./components/dashboard";
import { CnpgBackups } from "./components/cnpg";
import { Descheduler } from "./components/descheduler";
import { RestoreDrills } from "./components/drills";
import { MssqlBackup } from "./components/mssql";
import { ownedNamespace } from "./components/namespaces";
import { OFFSITE_POD_SECURITY, OffsiteCopy } from "./components/offsite";
import { Velero, veleroPodSecurity } from "./components/velero";
import { statefulOptions } from "./stacks/safety";
import { mssqlKey, type BackupTarget } from "./core/targets";
import { componentOptions, providers as defaultProviders, type Providers } from "./providers";
import { coverageRules } from "./config/coverage";
import { jobPath, type ScheduledJob } from "./core/jobs";
import { drillCronJobName, mssqlBackupJobName, OFFSITE_CRONJOB } from "./core/names";

/** What a target looks like in the stack outputs: where backups go and how the writer authenticates. */
function describeTarget(t: BackupTarget) {
    return {
        bucket: t.bucket,
        prefix: t.prefix,
        endpoint: t.endpoint ?? `https://s3.${t.region}.amazonaws.com`,
        region: t.region,
        ...(t.credentials.kind === "secret"
            ? { credentialsSecret: `${t.credentials.namespace}/${t.credentials.secretName}` }
            : {
                  roleArn: t.credentials.roleArn,
                  serviceAccount: `${t.credentials.serviceAccount.namespace}/${t.credentials.serviceAccount.name}`,
              }),
    };
}

/** The off-site copy job of a platform's plan; returns its CronJob and outputs. */
function offsiteCopy(cfg: Config, plan: OffsiteCopyPlan, p: Providers): { job: ScheduledJob; outputs: Record<string, unknown> } {
    const { source, destination } = plan;
    const namespaceResource = ownedNamespace("backup-offsite", cfg.offsite.namespace, OFFSITE_POD_SECURITY, p.kubernetes);
    const copy = new OffsiteCopy(
        "offsite",
        {
            source,
            destination,
            namespace: cfg.offsite.namespace,
            namespaceResource,
            schedule: cfg.offsite.schedule,
            bandwidthLimit: cfg.offsite.bandwidthLimit,
            image: cfg.offsite.image,
            resources: cfg.offsite.resources,
        },
        componentOptions(p),
    );
    return {
        job: copy.job,
        outputs: {
            kind: "copy",
            cronJob: jobPath(copy.job),
            schedule: cfg.offsite.schedule,
            destination: `s3://${[destination.bucket, destination.prefix].filter((x) => x !== "").join("/")}`,
            endpoint: destination.endpoint ?? `https://s3.${destination.region}.amazonaws.com`,
            region: destination.region,
            readsAs: source.user,
            buckets: source.buckets,
        },
    };
}

/** BackupAlerts' (and the dashboard's) args: the config's settings and the CronJobs the components created. */
export function alertsArgsOf(cfg: Config, jobs: Pick<AlertsArgs, "mssqlJobs" | "offsiteJobs" | "drillJobs">): AlertsArgs {
    return {
        namespace: cfg.alerts.namespace,
        labels: cfg.alerts.labels,
        runbookBaseUrl: cfg.alerts.runbookBaseUrl,
        graceHours: cfg.alerts.graceHours,
        veleroNamespace: cfg.velero.namespace,
        veleroSchedules: cfg.ha ? Object.fromEntries(Object.entries(cfg.velero.schedules).map(([n, s]) => [n, s.schedule])) : {},
        cnpg: { method: cfg.cnpg.method, schedule: cfg.cnpg.schedule, clusters: cfg.postgres },
        ...jobs,
        coverage: coverageRules(cfg),
    };
}

/** Velero on the platform's target, in its own namespace (created here, as Flux's createNamespace did in the seeds). */
function velero(cfg: Config, target: BackupTarget, namespaceResource: pulumi.Resource, use: pulumi.ComponentResourceOptions): Velero {
    return new Velero(
        "velero",
        {
            target,
            namespace: cfg.velero.namespace,
            namespaceResource,
            serviceAccount: cfg.velero.serviceAccount,
            ha: cfg.ha,
            schedules: cfg.velero.schedules,
            defaultNamespaces: cfg.namespaces,
            resources: cfg.velero.resources,
            pluginImage: cfg.velero.pluginImage,
            nodeAgent: cfg.velero.nodeAgent,
            nodeAgentResources: cfg.velero.nodeAgentResources,
            repositoryPassword: cfg.veleroRepositoryPassword === undefined ? undefined : pulumi.secret(cfg.veleroRepositoryPassword),
            snapshotMoveData: cfg.velero.snapshotMoveData,
            nativeSnapshots: cfg.velero.nativeSnapshots,
            crds: cfg.velero.crds,
            kubectlImage: cfg.velero.kubectlImage,
            chartPath: cfg.charts.velero?.path,
            skipAwait: cfg.skipAwait,
            statefulOptions: statefulOptions(cfg, {}),
        },
        use,
    );
}

/** CloudNativePG backups (ObjectStores, ScheduledBackups) and declared recoveries. */
function cnpgBackups(cfg: Config, targets: Platform["targets"], use: pulumi.ComponentResourceOptions): CnpgBackups {
    return new CnpgBackups(
        "cnpg",
        {
            clusters: cfg.postgres,
            recoveries: cfg.cnpg.recoveries,
            targets: targets.postgres,
            readers: targets.recoverySources,
            method: cfg.cnpg.method,
            retention: cfg.retention,
            schedule: cfg.cnpg.schedule,
            statefulOptions: statefulOptions(cfg, {}),
        },
        use,
    );
}

/** One SQL Server backup job per database; returns their outputs by key and their CronJobs. */
function mssqlBackups(cfg: Config, targets: Platform["targets"], use: pulumi.ComponentResourceOptions) {
    const outputs: Record<string, unknown> = {};
    const jobs: ScheduledJob[] = [];
    for (const db of cfg.mssql) {
        const key = mssqlKey(db);
        const target = targets.mssql[key];
        const backup = new MssqlBackup(`mssql-${db.namespace}-${db.name}`, { database: db, target, skipAwait: cfg.skipAwait }, use);
        outputs[key] = { ...describeTarget(target), cronJob: jobPath(backup.job) };
        jobs.push(backup.job);
    }
    return { outputs, jobs };
}

/** Restore drills when enabled: a template per database, CronJobs when scheduled. */
function restoreDrills(cfg: Config, targets: Platform["targets"], use: pulumi.ComponentResourceOptions): RestoreDrills | undefined {
    if (!cfg.drills.enabled) return undefined;
    return new RestoreDrills(
        "drills",
        {
            databases: cfg.postgres,
            readers: targets.drills ?? {},
            method: cfg.cnpg.method,
            retention: cfg.retention,
            schedule: cfg.drills.schedule,
            scheduled: cfg.drills.databases,
            timeoutMinutes: cfg.drills.timeoutMinutes,
            image: cfg.drills.image,
            checkImage: cfg.drills.checkImage,
            resources: cfg.drills.resources,
        },
        use,
    );
}

/** The Grafana dashboard when enabled, from the alerts' own thresholds. */
function dashboard(cfg: Config, alerts: AlertsArgs, use: pulumi.ComponentResourceOptions): BackupDashboard | undefined {
    return cfg.dashboard.enabled ? new BackupDashboard("backup-dashboard", dashboardArgs(cfg, alerts), use) : undefined;
}

/**
 * The alerts' args as the components will produce them, derived from config alone (the CronJob names come from
 * core/names.ts, as the components name them; test/alerts.test.ts proves both give the same rules). Used to refuse a
 * dashboard too large to ship before anything is registered.
 */
export function plannedAlertsArgs(cfg: Config): AlertsArgs {
    const byName = <T extends { name: string }>(a: T, b: T) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
    const d = cfg.drills;
    const drilled =
        d.enabled && d.schedule !== undefined
            ? [...cfg.postgres].sort(byName).filter((db) => d.databases.length === 0 || d.databases.includes(db.name))
            : [];
    return alertsArgsOf(cfg, {
        mssqlJobs: cfg.mssql.map((db) => ({ namespace: db.namespace, cronJob: mssqlBackupJobName(db.name), schedule: db.schedule })),
        offsiteJobs:
            cfg.platform === "baremetal" && cfg.offsite.enabled
                ? [{ namespace: cfg.offsite.namespace, cronJob: OFFSITE_CRONJOB, schedule: cfg.offsite.schedule }]
                : [],
        drillJobs: drilled.map((db) => ({ namespace: db.namespace, cronJob: drillCronJobName(db.name), schedule: d.schedule as string })),
    });
}

/** The dashboard's args for given alerts' args. */
function dashboardArgs(cfg: Config, alerts: AlertsArgs): DashboardArgs {
    const d = cfg.dashboard;
    return {
        alerts,
        namespace: d.namespace ?? cfg.alerts.namespace,
        labels: d.labels,
        folder: d.folder === undefined ? undefined : { annotation: d.folderAnnotation, name: d.folder },
        uid: d.uid,
    };
}

/** Builds the whole stack from validated config; returns the stack outputs. */
export async function deploy(cfg: Config, p: Providers): Promise<Record<string, unknown>> {
    const use = componentOptions(p);
    // A dashboard too large for its ConfigMap is refused here, before anything is registered.
    if (cfg.dashboard.enabled) dashboardJson(dashboardArgs(cfg, plannedAlertsArgs(cfg)));
    // Velero's namespace is created here and kept on destroy; the application and storage namespaces already
    // exist and belong to others.
    const veleroNs = ownedNamespace("velero", cfg.velero.namespace, veleroPodSecurity(cfg.velero.nodeAgent), p.kubernetes);

    // The one platform choice; each is loaded only when chosen (@pulumi/aws is large, bare metal never needs it).
    const platform: Platform =
        cfg.platform === "aws"
            ? (await import("./stacks/aws/index")).awsPlatform(cfg, use)
            : await (await import("./stacks/baremetal/index")).baremetalPlatform(cfg, { [cfg.velero.namespace]: veleroNs }, p);
    const { targets } = platform;
    const offsite = platform.offsite ? offsiteCopy(cfg, platform.offsite, p) : undefined;

    // From here on nothing knows which platform it runs on: components see only targets and their own args.
    const backups = velero(cfg, targets.velero, veleroNs, use);
    if (cfg.descheduler.enabled) {
        new Descheduler(
            "descheduler",
            { settings: cfg.descheduler, chartPath: cfg.charts.descheduler?.path, skipAwait: cfg.skipAwait },
            use,
        );
    }
    const cnpg = cnpgBackups(cfg, targets, use);
    const mssql = mssqlBackups(cfg, targets, use);
    const drills = restoreDrills(cfg, targets, use);
    // The alerts' inputs, read by the dashboard too (even with the PrometheusRule off): one set of thresholds.
    const alertsArgs = alertsArgsOf(cfg, {
        mssqlJobs: mssql.jobs,
        offsiteJobs: offsite ? [offsite.job] : [],
        drillJobs: drills?.cronJobs ?? [],
    });
    const alerts = cfg.alerts.enabled ? new BackupAlerts("backup-alerts", alertsArgs, use) : undefined;
    const board = dashboard(cfg, alertsArgs, use);

    return {
        platform: cfg.platform,
        ...platform.outputs,
        ...(offsite ? { offsite: offsite.outputs } : {}),
        velero: { ...describeTarget(targets.velero), serviceAccount: backups.serviceAccount },
        postgres: Object.fromEntries(
            Object.entries(targets.postgres).map(([name, t]) => [name, { ...describeTarget(t), ...cnpg.clusters[name] }]),
        ),
        mssql: mssql.outputs,
        ...(drills ? { drills: drills.drills } : {}),
        alerts: alerts?.alerts ?? [],
        ...(board ? { dashboard: board.configMap } : {}),
    };
}

/**
 * The Pulumi program as tests and `npm run render` run it: config first (nothing is registered for a bad one), then the
 * providers, then everything else. index.ts does the same in an order that loads less before the providers start.
 */
export async function main(): Promise<Record<string, unknown>> {
    const cfg = programConfig();
    return deploy(cfg, defaultProviders());
}
