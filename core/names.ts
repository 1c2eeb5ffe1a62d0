// Every Kubernetes name and bucket path the program derives from a configured name, written once: the
// components use these to name what they create, and config validation uses them to prove, before anything
// is registered, that each derived name is valid, short enough and unique. Imports nothing of the project.

/** Kubernetes' limits: a CronJob name (the controller appends an 11-character suffix), a label, a label value. */
export const CRONJOB_NAME_MAX = 52;
export const DNS_LABEL_MAX = 63;
export const LABEL_VALUE_MAX = 63;

/** DNS-1123 label: what namespaces, CronJob and Job names must be. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A label value: empty, or alphanumerics with '-', '_', '.' inside. */
export const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** The lowercase, dashed form of a SQL Server database name that its Kubernetes objects start with. */
const mssqlBase = (database: string): string => database.toLowerCase().replace(/_/g, "-");

/** The backup CronJob of a SQL Server database. */
export const mssqlBackupJobName = (database: string): string => `${mssqlBase(database)}-mssql-backup`;
/** The one-off restore Job of a SQL Server database. */
export const mssqlRestoreJobName = (database: string): string => `${mssqlBase(database)}-mssql-restore`;
/** The ConfigMap holding a SQL Server database's job scripts. */
export const mssqlScriptsName = (database: string): string => `${mssqlBackupJobName(database)}-scripts`;

/** A problem with a derived Kubernetes name (a DNS-1123 label of at most `max` characters), or undefined. */
export function dnsLabelProblem(name: string, max: number): string | undefined {
    if (name.length > max) return `"${name}" is ${name.length} characters; the limit is ${max}`;
    if (!DNS_LABEL.test(name))
        return `"${name}" is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with one of the first two)`;
    return undefined;
}

/** A problem with a label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
    if (value.length > LABEL_VALUE_MAX)
        return `"${value}" is ${value.length} characters; a label value may have at most ${LABEL_VALUE_MAX}`;
    if (!LABEL_VALUE.test(value))
        return `"${value}" is not a valid label value (letters, digits, '-', '_' and '.', starting and ending with a letter or digit)`;
    return undefined;
}

export type BucketConsumer = "velero" | "cnpg" | "mssql";

/** Velero's top-level folders in its bucket; only backups/ and restores/ may age out. */
export const VELERO_EXPIRING = ["backups", "restores"];
export const VELERO_RESERVED = [...VELERO_EXPIRING, "kopia", "metadata", "plugins"];
/** Prefix of one PostgreSQL cluster inside the cnpg bucket (seed layout: s3://<bucket>/<cluster>). */
export const cnpgPrefix = (cluster: string): string => cluster;
/** Top-level folder of the SQL Server backups in their bucket. */
export const MSSQL_TOP = "mssql";

/** What each consumer writes at the top of its bucket. */
export interface BucketWriters {
    /** Velero's prefix ("" = Velero's own folders at the root). */
    readonly veleroPrefix: string;
    /** CNPG clusters that archive (each under its own name). */
    readonly cnpgClusters: readonly string[];
    /** Whether any SQL Server database is backed up. */
    readonly mssql: boolean;
}

/** Top-level names a consumer occupies in its bucket. */
export function bucketTopLevels(consumer: BucketConsumer, w: BucketWriters): string[] {
    switch (consumer) {
        case "velero":
            return w.veleroPrefix === "" ? VELERO_RESERVED : [w.veleroPrefix];
        case "cnpg":
            return [...w.cnpgClusters];
        case "mssql":
            return w.mssql ? [MSSQL_TOP] : [];
    }
}

/** Two consumers that share a bucket and would write under the same top-level name. */
export interface BucketCollision {
    readonly bucket: string;
    readonly top: string;
    readonly first: BucketConsumer;
    readonly second: BucketConsumer;
}

/** The first collision among `consumers` (in order) writing into `buckets`, or undefined. */
export function bucketCollision(
    consumers: readonly BucketConsumer[],
    buckets: Readonly<Record<BucketConsumer, string>>,
    w: BucketWriters,
): BucketCollision | undefined {
    const seen = new Map<string, BucketConsumer>();
    for (const c of consumers) {
        for (const top of bucketTopLevels(c, w)) {
            const key = `${buckets[c]}/${top}`;
            const first = seen.get(key);
            if (first !== undefined && first !== c) return { bucket: buckets[c], top, first, second: c };
            seen.set(key, c);
        }
    }
    return undefined;
}

// ---- CloudNativePG -------------------------------------------------------------------------------

/** The Barman Cloud Plugin's name, as Clusters and ScheduledBackups reference it. */
export const BARMAN_PLUGIN = "barman-cloud.cloudnative-pg.io";
/** ObjectStore name for a cluster's archive. */
export const objectStoreName = (cluster: string): string => `${cluster}-backup`;
/** ScheduledBackup name for a cluster. */
export const scheduledBackupName = (cluster: string): string => `${cluster}-base-backup`;

// ---- restore drills: the program, the in-cluster runner, verify and the AWS trust policy share these ----------------

/**
 * A drill's temporary cluster: a fixed name per database, so on AWS one IRSA role can trust its service account
 * (CNPG names the service account after the cluster).
 */
export const drillClusterName = (database: string): string => `${database}-drill`;
/** CronJob of a database's scheduled drill (at most 52 characters: database names are at most 44 with drills). */
export const drillCronJobName = (database: string): string => `${database}-drill`;
/** ConfigMap the program deploys with the drill's recovery source (key `template.json`). */
export const drillTemplateName = (database: string): string => `${database}-drill-template`;
/** ConfigMap the in-cluster runner writes its last report to (key `report.json`). */
export const drillReportName = (database: string): string => `${database}-drill-report`;
/** Job running the check query. */
export const drillCheckJobName = (database: string): string => `${database}-drill-check`;
/** CNPG's recovery Job of the drill cluster's first instance. */
export const recoveryJobName = (cluster: string): string => `${cluster}-1-full-recovery`;
/** The label on every object the platform creates (app.kubernetes.io/part-of), in one place. */
export const PART_OF = { "app.kubernetes.io/part-of": "backup-platform" } as const;
/** Label on everything a drill creates; its value is the database drilled. */
export const DRILL_LABEL = "backup.platform/drill-of";
/** Annotation proving which run created an object: cleanup deletes only its own. */
export const RUN_ANNOTATION = "backup.platform/drill-run";
/** Label of report ConfigMaps (verify lists them). */
export const REPORT_LABEL = "backup.platform/drill-report";

// ---- off-site copy -------------------------------------------------------------------------------

/** CronJob name in the off-site namespace (verify and the alert look it up). */
export const OFFSITE_CRONJOB = "offsite-copy";
