// The database sections: PostgreSQL (CNPG) clusters, SQL Server databases, recoveries.
import { z } from "zod";
import { cron5, dnsLabel, dnsSubdomain, namespaceName, pinnedImage, quantity, resources } from "./formats";

// ---- sections -------------------------------------------------------------------------------

/** One PostgreSQL cluster owned by an application team, whose backups this program configures. */
export const postgresDatabase = z.strictObject({
    /** CNPG Cluster name; also the object prefix in the cnpg bucket. */
    name: dnsLabel("a CNPG cluster name", 50),
    /** Namespace of the Cluster. */
    namespace: namespaceName,
});

/** SQL Server writes at most 64 backup devices (stripes), so a striped set names `_1of<n>` with n from 1 to 64. */
export const MAX_STRIPES = 64;

/** A striped restore names the first stripe, `<name>_1of<n>.bak`, of a set SQL Server can have written. */
export function checkStripedFile(file: string, ctx: z.core.$RefinementCtx<string>): void {
    const stripe = /_([0-9]+)of([0-9]+)\.bak$/.exec(file);
    if (stripe === null) return;
    const n = Number(stripe[2]);
    if (!(n >= 1 && n <= MAX_STRIPES)) {
        ctx.addIssue({
            code: "custom",
            message: `a striped set "_1of${stripe[2]}" must have 1 to ${MAX_STRIPES} stripes (SQL Server's limit of backup devices)`,
        });
    } else if (stripe[1] !== "1") {
        ctx.addIssue({ code: "custom", message: `name the first stripe of the set, ..._1of${n}.bak: the restore reads all ${n} from it` });
    }
}

/** One SQL Server database backed up with BACKUP TO URL. */
export const mssqlDatabase = z.strictObject({
    /** Database name inside SQL Server (an identifier: letters, digits, '_'). */
    name: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "a SQL Server database name must be letters, digits and '_', not starting with a digit"),
    /** Namespace of the SQL Server StatefulSet. */
    namespace: namespaceName,
    /** Backup CronJob schedule, five fields, UTC. Default "0 3 * * *" (seed: 03:00 daily). */
    schedule: cron5.default("0 3 * * *"),
    /** SQL Server service host in the namespace. Default mssql. */
    host: z
        .string()
        .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "host must be a DNS name")
        .default("mssql"),
    /** TCP port. Default 1433. */
    port: z.number().int().min(1).max(65535).default(1433),
    /** Login used for BACKUP. Default sa. */
    user: z.string().min(1).default("sa"),
    /** Secret holding that login's password. Default mssql-admin / MSSQL_SA_PASSWORD (seed). */
    passwordSecret: z
        .strictObject({ name: dnsSubdomain("a Secret name").default("mssql-admin"), key: z.string().min(1).default("MSSQL_SA_PASSWORD") })
        .prefault({}),
    /** Image with sqlcmd (mssql-tools18), pinned. Default the seed's SQL Server image, which ships /opt/mssql-tools18. */
    image: pinnedImage.default("mcr.microsoft.com/mssql/server:2022-CU20-GDR2-ubuntu-22.04"),
    /** Stripe the backup over this many URLs (large databases: each S3 object is limited to 10,000 parts). Default 1. */
    stripes: z.number().int().min(1).max(MAX_STRIPES).default(1),
    /** Name of the SQL Server credential the job (re)creates. Default s3_backup_credential (seed). */
    credentialName: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "credentialName must be letters, digits and '_'")
        .default("s3_backup_credential"),
    /** Trust the server's TLS certificate without validation (sqlcmd -C), as the seeds do for in-cluster self-signed certificates. Default true. */
    trustServerCertificate: z.boolean().default(true),
    /** Job resources. Default the seed's (100m/128Mi requests, 500m/512Mi limits). */
    resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } }),
    /** Render a one-off restore Job. Default none (no Job exists unless asked for). */
    restore: z
        .strictObject({
            /** Object name of the .bak file under the database's prefix, e.g. RCIIS_20260217T030000Z.bak (striped: the _1of<n> name). */
            file: z
                .string()
                .regex(/^[A-Za-z0-9_.-]+\.bak$/, "restore.file must be a .bak object name under the database's prefix")
                .superRefine(checkStripedFile),
            /** Database name to restore into. Default the backed-up database (then `replace` must be true). */
            targetDatabase: z
                .string()
                .regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "targetDatabase must be letters, digits and '_'")
                .optional(),
            /** WITH REPLACE: overwrite an existing database. Default false. */
            replace: z.boolean().default(false),
            /** WITH MOVE pairs, for a new instance or a new name. Default none. */
            move: z
                .array(
                    z.strictObject({
                        /** Logical file name (sysname): letters, digits, '_', '-', '.' and inner spaces, at most 128. */
                        logicalName: z
                            .string()
                            .max(128, "logicalName must be at most 128 characters (a SQL Server sysname)")
                            .regex(
                                /^[A-Za-z0-9_.-]([A-Za-z0-9_. -]*[A-Za-z0-9_.-])?$/,
                                "logicalName must be letters, digits, '_', '-', '.' and spaces inside (no quotes, brackets or $)",
                            ),
                        physicalPath: z
                            .string()
                            .regex(/^\/[^']+$/, "physicalPath must be an absolute path without quotes")
                            .refine((v) => !v.includes("$("), "physicalPath must not contain $( (sqlcmd would read it as a variable)"),
                    }),
                )
                .default([]),
        })
        .optional(),
});

/** Whether an RFC 3339 time names a real instant: Date.parse rolls 2026-02-30 over to March instead of refusing it. */
export function isCalendarTime(v: string): boolean {
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/.exec(v);
    if (m === null) return false;
    const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number);
    const date = new Date(Date.UTC(year, month - 1, day));
    const zoneOk = m[8] === "Z" || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
    return date.getUTCMonth() === month - 1 && date.getUTCDate() === day && hour <= 23 && minute <= 59 && second <= 59 && zoneOk;
}

/** A point in time, RFC 3339 with an explicit zone, in the past. */
export const pastTime = z.string().superRefine((v, ctx) => {
    if (!isCalendarTime(v)) {
        ctx.addIssue({
            code: "custom",
            message: `"${v}" must be an RFC 3339 time with a zone that exists on the calendar (2026-02-30 does not), like 2026-02-17T12:00:00Z`,
        });
    } else if (Date.parse(v) > Date.now()) {
        ctx.addIssue({ code: "custom", message: `"${v}" is in the future: a recovery can only target a time that has been archived` });
    }
});

/** A point-in-time recovery: a new Cluster bootstrapped from another cluster's backups. */
export const recovery = z.strictObject({
    /** Source cluster (a name in `postgres`). */
    from: dnsLabel("a CNPG cluster name", 50),
    /** New cluster's name; it archives under its own prefix, never into the source's. */
    name: dnsLabel("a CNPG cluster name", 50),
    /** Recovery target, RFC 3339 with a zone. Default: the end of the archived WAL. */
    targetTime: pastTime.optional(),
    /** Instances. Default 1. */
    instances: z.number().int().min(1).max(9).default(1),
    /** PostgreSQL image, pinned; must be the source's major version. Give this or imageCatalog. */
    imageName: pinnedImage.optional(),
    /** Image catalog reference (seed: ImageCatalog postgresql-17, major 17). */
    imageCatalog: z
        .strictObject({
            kind: z.enum(["ImageCatalog", "ClusterImageCatalog"]).default("ImageCatalog"),
            name: z.string().min(1),
            major: z.number().int().min(12),
        })
        .optional(),
    /** Storage. Default 10Gi in the cluster's default StorageClass. */
    storage: z.strictObject({ size: quantity.default("10Gi"), storageClass: dnsSubdomain("a StorageClass name").optional() }).prefault({}),
    /** Resources. Default the seed's (500m/1Gi requests, 2/4Gi limits). */
    resources: resources.default({ requests: { cpu: "500m", memory: "1Gi" }, limits: { cpu: "2000m", memory: "4Gi" } }),
});
