// Wiring: config -> platform (stacks/) -> backup targets -> components -> outputs.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ConfigError, loadConfig, type Config } from "./config";
import { BackupAlerts } from "./components/alerts";
import { CnpgBackups } from "./components/cnpg";
import { Descheduler } from "./components/descheduler";
import { MssqlBackup } from "./components/mssql";
import { Velero } from "./components/velero";
import { statefulOptions } from "./stacks/safety";
import { mssqlKey, type BackupTarget, type BackupTargets } from "./stacks/targets";

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

/** Builds the whole stack from validated config; returns the stack outputs. */
export async function deploy(cfg: Config): Promise<Record<string, unknown>> {
    // Velero's namespace belongs to this program (as Flux's createNamespace did in the seeds); the
    // application and storage namespaces already exist and belong to others.
    const veleroNs = new k8s.core.v1.Namespace("velero", { metadata: { name: cfg.velero.namespace } });
    const namespaces = { [cfg.velero.namespace]: veleroNs };

    let targets: BackupTargets;
    let platformOutputs: Record<string, unknown>;
    if (cfg.platform === "aws") {
        // Loaded only for this platform: @pulumi/aws is large and the bare-metal stack never needs it.
        const { AwsStorage } = await import("./stacks/aws");
        const storage = new AwsStorage("backup", { config: cfg });
        targets = storage.targets;
        platformOutputs = { buckets: storage.buckets, kmsKeyArn: storage.kmsKeyArn };
    } else {
        const { BaremetalStorage } = await import("./stacks/baremetal");
        const storage = new BaremetalStorage("backup", { config: cfg, namespaces });
        targets = storage.targets;
        platformOutputs = { buckets: storage.buckets, objectUsers: storage.objectUsers };
    }

    // From here on nothing knows which platform it runs on: components see only targets and config.
    const velero = new Velero("velero", {
        target: targets.velero,
        namespace: cfg.velero.namespace,
        namespaceResource: veleroNs,
        serviceAccount: cfg.velero.serviceAccount,
        ha: cfg.ha,
        schedules: cfg.velero.schedules,
        defaultNamespaces: cfg.namespaces,
        resources: cfg.velero.resources,
        pluginImage: cfg.velero.pluginImage,
        nodeAgent: cfg.velero.nodeAgent,
        snapshotMoveData: cfg.velero.snapshotMoveData,
        chartPath: cfg.charts.velero?.path,
        skipAwait: cfg.skipAwait,
        statefulOptions: statefulOptions(cfg, {}),
    });
    if (cfg.descheduler.enabled) {
        new Descheduler("descheduler", { settings: cfg.descheduler, chartPath: cfg.charts.descheduler?.path, skipAwait: cfg.skipAwait });
    }

    const cnpg = new CnpgBackups("cnpg", {
        clusters: cfg.postgres,
        recoveries: cfg.cnpg.recoveries,
        targets: targets.postgres,
        method: cfg.cnpg.method,
        retention: cfg.retention,
        schedule: cfg.cnpg.schedule,
        statefulOptions: statefulOptions(cfg, {}),
    });
    const mssql: Record<string, unknown> = {};
    const mssqlJobs: { namespace: string; cronJob: string; schedule: string }[] = [];
    for (const db of cfg.mssql) {
        const key = mssqlKey(db);
        const target = targets.mssql[key];
        const job = new MssqlBackup(`mssql-${db.namespace}-${db.name}`, { database: db, target, skipAwait: cfg.skipAwait });
        mssql[key] = { ...describeTarget(target), cronJob: job.cronJob };
        mssqlJobs.push({ namespace: db.namespace, cronJob: job.cronJob.split("/")[1], schedule: db.schedule });
    }
    const alerts = cfg.alerts.enabled
        ? new BackupAlerts("backup-alerts", {
              namespace: cfg.alerts.namespace,
              labels: cfg.alerts.labels,
              runbookBaseUrl: cfg.alerts.runbookBaseUrl,
              graceHours: cfg.alerts.graceHours,
              veleroNamespace: cfg.velero.namespace,
              veleroSchedules: cfg.ha ? Object.fromEntries(Object.entries(cfg.velero.schedules).map(([n, s]) => [n, s.schedule])) : {},
              cnpg: { method: cfg.cnpg.method, schedule: cfg.cnpg.schedule, clusters: cfg.postgres },
              mssqlJobs,
          })
        : undefined;

    return {
        platform: cfg.platform,
        ...platformOutputs,
        velero: { ...describeTarget(targets.velero), serviceAccount: velero.serviceAccount },
        postgres: Object.fromEntries(
            Object.entries(targets.postgres).map(([name, t]) => [name, { ...describeTarget(t), ...cnpg.clusters[name] }]),
        ),
        mssql,
        alerts: alerts?.alerts ?? [],
    };
}

/** The Pulumi program: config errors surface as one clear message, without a stack trace. */
export async function main(): Promise<Record<string, unknown>> {
    let cfg: Config;
    try {
        cfg = loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
    return deploy(cfg);
}
