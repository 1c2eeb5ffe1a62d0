// CloudNativePG: schedules in CNPG's six-field cron, a retention on every backup target, and a
// nudge away from the in-tree Barman object store that CNPG 1.31 removes.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { CRON_FIELD, at, cronFields, forTypes, isObj, str } from "./util";

export const CNPG = {
    cluster: ["kubernetes:postgresql.cnpg.io/v1:Cluster", "kubernetes:postgresql.cnpg.io/v1:ClusterPatch"],
    scheduledBackup: ["kubernetes:postgresql.cnpg.io/v1:ScheduledBackup", "kubernetes:postgresql.cnpg.io/v1:ScheduledBackupPatch"],
    objectStore: ["kubernetes:barmancloud.cnpg.io/v1:ObjectStore", "kubernetes:barmancloud.cnpg.io/v1:ObjectStorePatch"],
} as const;

/** The Barman Cloud Plugin's name in a Cluster's `spec.plugins`. */
export const BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";

/** CNPG's `retentionPolicy` pattern (CRD: `^[1-9][0-9]*[dwm]$`). */
export const RETENTION_PATTERN = /^[1-9][0-9]*[dwm]$/;

export const cnpgScheduledBackupSixFieldSchedule: ResourceValidationPolicy = {
    name: "cnpg-scheduledbackup-six-field-schedule",
    description: "ScheduledBackup schedules must have six cron fields, seconds first, as CloudNativePG reads them.",
    remediationSteps:
        'Prefix a five-field Kubernetes cron with the seconds field: "0 2 * * *" becomes "0 0 2 * * *" (02:00 daily); set `backup:cnpg.schedule` accordingly.',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(CNPG.scheduledBackup, (args, report) => {
        const schedule = str(at(args.props, "spec", "schedule"));
        if (schedule === undefined) {
            if (args.type.endsWith(":ScheduledBackup")) report("spec.schedule is not set.");
            return;
        }
        const fields = cronFields(schedule);
        if (fields.length === 0) return; // a descriptor such as @daily
        if (fields.length === 5)
            report(
                `schedule "${schedule}" has five fields, but CloudNativePG's cron starts with a seconds field: ` +
                    `it reads this as second ${fields[0]}, minute ${fields[1]}, hour ${fields[2]}, ... ` +
                    `(e.g. "0 2 * * *" runs at minute 2 of every hour). Write "0 ${schedule}".`,
            );
        else if (fields.length !== 6) report(`schedule "${schedule}" has ${fields.length} fields; CloudNativePG needs six, seconds first.`);
        else if (!fields.every((f) => CRON_FIELD.test(f))) report(`schedule "${schedule}" has a field that is not cron syntax.`);
    }),
};

/** The in-tree object store of a Cluster's own backups (recovery sources in externalClusters do not count). */
function inTreeStore(props: Record<string, unknown>): unknown {
    return at(props, "spec", "backup", "barmanObjectStore");
}

export const cnpgClusterRetentionPolicy: ResourceValidationPolicy = {
    name: "cnpg-cluster-retention-policy",
    description: "Clusters that back up to an in-tree Barman object store must set a retention policy, or backups and WAL grow forever.",
    remediationSteps: 'Set `spec.backup.retentionPolicy` (e.g. "30d"; the stack\'s `backup:retention`).',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(CNPG.cluster, (args, report) => {
        if (!isObj(inTreeStore(args.props))) return;
        const retention = at(args.props, "spec", "backup", "retentionPolicy");
        if (retention === undefined) report("spec.backup.barmanObjectStore is set but spec.backup.retentionPolicy is not.");
        else if (typeof retention !== "string" || !RETENTION_PATTERN.test(retention))
            report(`spec.backup.retentionPolicy ${JSON.stringify(retention)} is not <n>d, <n>w or <n>m.`);
    }),
};

export const cnpgObjectStoreRetentionPolicy: ResourceValidationPolicy = {
    name: "cnpg-objectstore-retention-policy",
    description: "Barman Cloud Plugin object stores must set a retention policy, or backups and WAL grow forever.",
    remediationSteps: 'Set `spec.retentionPolicy` on the ObjectStore (e.g. "30d"; the stack\'s `backup:retention`).',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(CNPG.objectStore, (args, report) => {
        const retention = at(args.props, "spec", "retentionPolicy");
        if (retention === undefined) {
            if (args.type.endsWith(":ObjectStore")) report("spec.retentionPolicy is not set.");
        } else if (typeof retention !== "string" || !RETENTION_PATTERN.test(retention))
            report(`spec.retentionPolicy ${JSON.stringify(retention)} is not <n>d, <n>w or <n>m.`);
    }),
};

export const cnpgClusterInTreeBarmanDeprecated: ResourceValidationPolicy = {
    name: "cnpg-cluster-in-tree-barman-deprecated",
    description:
        "Clusters should back up through the Barman Cloud Plugin, because the in-tree barmanObjectStore is deprecated and removed in CloudNativePG 1.31.",
    remediationSteps:
        "Set `backup:cnpg.method: plugin`: an ObjectStore (barmancloud.cnpg.io/v1), `spec.plugins` with barman-cloud.cloudnative-pg.io as WAL archiver, and ScheduledBackups with `method: plugin`.",
    enforcementLevel: "advisory",
    severity: "medium",
    validateResource: forTypes(CNPG.cluster, (args, report) => {
        if (isObj(inTreeStore(args.props)))
            report(
                "spec.backup.barmanObjectStore is the in-tree Barman integration, deprecated since CloudNativePG 1.26 and removed in 1.31.",
            );
    }),
};

export const cnpgPolicies: ResourceValidationPolicy[] = [
    cnpgScheduledBackupSixFieldSchedule,
    cnpgClusterRetentionPolicy,
    cnpgObjectStoreRetentionPolicy,
    cnpgClusterInTreeBarmanDeprecated,
];
