// The only place that reads Pulumi configuration. Everything is validated here, once, before any
// resource is registered; downstream code receives the typed `Config` and never reads config itself.
import * as pulumi from "@pulumi/pulumi";
import * as runtimeConfig from "@pulumi/pulumi/runtime/config";
import { Region } from "@pulumi/aws/types/enums";
import { Cron } from "croner";
import { z } from "zod";
import {
    bucketCollision,
    cnpgPrefix,
    CRONJOB_NAME_MAX,
    DNS_LABEL_MAX,
    dnsLabelProblem,
    labelValueProblem,
    mssqlBackupJobName,
    mssqlRestoreJobName,
    type BucketConsumer,
    type BucketWriters,
} from "./names";

/** Config namespace: keys are written `backup:<key>` in Pulumi.<stack>.yaml. */
export const CONFIG_NAMESPACE = "backup";

/** A config problem; the message names the key and what is allowed. */
export class ConfigError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "ConfigError";
    }
}

// ---- value formats -------------------------------------------------------------------------

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const dnsLabel = (what: string, max = 63) =>
    z
        .string()
        .max(max, `${what} must be at most ${max} characters`)
        .regex(
            DNS_LABEL,
            `${what} must be a DNS-1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit`,
        );

/** A DNS-1123 subdomain: what Secret and StorageClass names may be (dots allowed, at most 253 characters). */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const dnsSubdomain = (what: string) =>
    z
        .string()
        .max(253, `${what} must be at most 253 characters`)
        .regex(
            DNS_SUBDOMAIN,
            `${what} must be a DNS-1123 subdomain: lowercase letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit`,
        );

const namespaceName = dnsLabel("a Kubernetes namespace");

/** Prefixes and suffixes S3 reserves (AWS's "General purpose bucket naming rules"): buckets with them cannot be created. */
const AWS_RESERVED_BUCKET_PREFIXES = ["xn--", "sthree-", "amzn-s3-demo-"];
const AWS_RESERVED_BUCKET_SUFFIXES = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];

// No dots: dotted names break virtual-hosted TLS on AWS and are easy to confuse with endpoints.
const bucketName = z
    .string()
    .regex(
        /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/,
        "a bucket name must be 3-63 characters of lowercase letters, digits and '-', starting and ending with a letter or digit",
    )
    .refine(
        (b) => !AWS_RESERVED_BUCKET_PREFIXES.some((p) => b.startsWith(p)) && !AWS_RESERVED_BUCKET_SUFFIXES.some((x) => b.endsWith(x)),
        `a bucket name must not start with ${AWS_RESERVED_BUCKET_PREFIXES.join(", ")} nor end with ${AWS_RESERVED_BUCKET_SUFFIXES.join(", ")} (reserved by S3)`,
    );

/**
 * Ten years bounds every duration that becomes a bucket lifecycle: longer is no backup policy but a typo
 * (an extra digit), which would otherwise keep every object, and its cost, for centuries without a word.
 */
export const MAX_KEEP_DAYS = 3650;

/** `30d`, `4w` or `1m` (CloudNativePG's retentionPolicy syntax), at most ten years. */
const retention = z
    .string()
    .regex(/^[1-9][0-9]{0,3}[dwm]$/, "retention must look like 30d, 4w or 1m (a number followed by d, w or m)")
    .refine((r) => retentionDays(r) <= MAX_KEEP_DAYS, `retention must be at most ten years (3650d, 521w or 117m)`);

/** Velero/Go duration in hours, e.g. `720h`, at most ten years. */
const ttl = z
    .string()
    .regex(/^[1-9][0-9]*h$/, "a TTL must be a whole number of hours, like 720h")
    .refine((t) => Number(t.slice(0, -1)) <= MAX_KEEP_DAYS * 24, `a TTL must be at most ${MAX_KEEP_DAYS * 24}h (ten years)`);

/** A fixed start for enumerating runs, so derived numbers never depend on the day they are computed. */
const CRON_EPOCH = new Date(Date.UTC(2024, 0, 1));
const DAY_MS = 86_400_000;
/** Four years and a day: a whole leap cycle, so a 29 February schedule shows its real gap. */
const CRON_WINDOW_MS = (4 * 365 + 2) * DAY_MS;

/** The field names of a cron expression, seconds first; five-field expressions have no seconds. */
const CRON_FIELDS = ["second", "minute", "hour", "day of month", "month", "day of week"];
const CRON_RANGES = ["second 0-59", "minute 0-59", "hour 0-23", "day of month 1-31", "month 1-12 or jan-dec", "day of week 0-7 or sun-sat"];

/**
 * One atom of the dialect Kubernetes, Velero and CloudNativePG share (robfig/cron): `*`, `?`, a number or a
 * three-letter month or day name. The library also knows Quartz's L, W and # and a year field, which those
 * schedulers refuse, so they are refused here first.
 */
const CRON_ATOM = /^(\*|\?|[0-9]+|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i;

/** A field's problem in that dialect: lists of ranges or atoms, each with an optional step. */
function cronFieldProblem(field: string): string | undefined {
    for (const item of field.split(",")) {
        const [range, step, ...rest] = item.split("/");
        const bounds = range.split("-");
        if (
            rest.length > 0 ||
            (step !== undefined && !/^[1-9][0-9]*$/.test(step)) ||
            bounds.length > 2 ||
            !bounds.every((b) => CRON_ATOM.test(b))
        ) {
            return `"${item}" is not a value, a name, a range or a step`;
        }
    }
    return undefined;
}

/**
 * Why a cron expression of `count` fields is refused, or undefined: the fields' syntax in the schedulers'
 * dialect, then every value's range (names, steps, lists, ranges) by croner, and a schedule that never runs.
 */
export function cronProblem(expr: string, count: 5 | 6): string | undefined {
    const fields = expr.trim().split(/\s+/);
    const names = CRON_FIELDS.slice(6 - count);
    for (const [i, field] of fields.entries()) {
        const problem = cronFieldProblem(field);
        if (problem !== undefined) return `"${expr}": ${names[i]} field ${problem}`;
    }
    let next: Date | null;
    try {
        next = new Cron(expr, { timezone: "UTC" }).nextRun(CRON_EPOCH);
    } catch (err) {
        const why = (err instanceof Error ? err.message : String(err)).replace(/^CronPattern: /, "");
        return `"${expr}" is not a valid schedule (${why}); allowed: ${CRON_RANGES.slice(6 - count).join(", ")}`;
    }
    return next === null ? `"${expr}" never runs (no date matches its day, month and weekday)` : undefined;
}

const FIVE_FIELDS = 'a five-field cron expression (minute hour day month weekday), like "0 2 * * *"';

/** Standard five-field cron (Kubernetes CronJob, Velero Schedule), checked field by field. */
const cron5 = z.string().superRefine((s, ctx) => {
    if (s.trim().split(/\s+/).length !== 5) {
        ctx.addIssue({ code: "custom", message: `a schedule must be ${FIVE_FIELDS}` });
        return;
    }
    const problem = cronProblem(s, 5);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: `${problem}; a schedule must be ${FIVE_FIELDS}` });
});

/**
 * CloudNativePG ScheduledBackup cron: six fields, seconds first. A five-field value is the seeds'
 * classic mistake: CNPG reads "0 2 * * *" as second 0, minute 2 of every hour, so it runs hourly.
 */
const cron6 = z.string().superRefine((s, ctx) => {
    const n = s.trim().split(/\s+/).length;
    const issue = (message: string) => ctx.addIssue({ code: "custom", message });
    if (n === 5) {
        issue(
            `"${s}" has five fields, but CloudNativePG schedules have six with seconds first; CNPG would read it as "every hour at minute ${s.trim().split(/\s+/)[1]}". Write "0 ${s.trim()}" for the intended time`,
        );
    } else if (n !== 6) {
        issue(`"${s}" must be a six-field cron expression (second minute hour day month weekday), like "0 0 2 * * *"`);
    } else {
        const problem = cronProblem(s, 6);
        if (problem !== undefined) issue(`${problem}; a CloudNativePG schedule is six fields, seconds first, like "0 0 2 * * *"`);
    }
});

/** A host name (dot-separated DNS labels) or a bracketed IPv6 address: nothing that could break a quoted string or a shell. */
const HOST = /^([a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;

/**
 * Why an endpoint URL is refused, or undefined. The WHATWG parser finds the parts; the explicit checks refuse
 * what it would accept but must not reach specs, outputs or SQL: credentials (they would be shown in plaintext),
 * queries, fragments, paths and characters that have no business in a host.
 */
export function endpointProblem(value: string): string | undefined {
    const scheme = /^https?:\/\//.exec(value);
    if (scheme === null) return "an endpoint must be a URL like https://host:port with no path (http:// or https://)";
    const authority = value.slice(scheme[0].length).replace(/\/$/, "");
    if (authority.includes("@")) {
        return "an endpoint must not contain credentials (user:password@): they would appear in plaintext in specs and outputs; give keys through Secrets";
    }
    if (authority.includes("?")) return "an endpoint must not have a query string";
    if (authority.includes("#")) return "an endpoint must not have a fragment";
    if (authority.includes("/")) return "an endpoint must be a URL like https://host:port with no path";
    const port = /:([^:\]]*)$/.exec(authority);
    if (port !== null && !(/^[0-9]{1,5}$/.test(port[1]) && Number(port[1]) >= 1 && Number(port[1]) <= 65535)) {
        return `the endpoint's port must be a number from 1 to 65535, not "${port[1]}"`;
    }
    const host = port === null ? authority : authority.slice(0, -port[0].length);
    if (host === "") return "an endpoint needs a host";
    if (!HOST.test(host)) return `"${host}" is not a host name: lowercase letters, digits, '-' and '.' (or a [IPv6] address)`;
    try {
        return new URL(value).hostname === "" ? "an endpoint needs a host" : undefined;
    } catch {
        return "an endpoint must be a URL like https://host:port with no path";
    }
}

const httpUrl = z.string().superRefine((v, ctx) => {
    const problem = endpointProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

/** A region name an S3 endpoint signs for: it reaches scripts and SQL, so a plain name only. */
const s3Region = z
    .string()
    .min(1, "region must not be empty")
    .max(63, "region must be at most 63 characters")
    .regex(
        /^[a-z0-9][a-z0-9._-]*$/,
        "region must be lowercase letters, digits, '.', '_' and '-', starting with a letter or digit (like eu-west-1)",
    );

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti)?$/, "a quantity like 100m, 128Mi or 1Gi");
const resources = z.strictObject({
    requests: z.strictObject({ cpu: quantity, memory: quantity }),
    limits: z.strictObject({ cpu: quantity, memory: quantity }),
});

/** An image reference with an explicit tag other than `latest`, or a digest. */
const pinnedImage = z
    .string()
    .regex(
        /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[0-9]+)?[a-z0-9._/-]*(:[A-Za-z0-9_][A-Za-z0-9._-]{0,127}|@sha256:[a-f0-9]{64})$/,
        "an image must be pinned: name:tag or name@sha256:digest",
    )
    .refine((ref) => !/:latest$/.test(ref), "an image must be pinned to a version, not :latest");

// ---- sections -------------------------------------------------------------------------------

/** One PostgreSQL cluster owned by an application team, whose backups this program configures. */
const postgresDatabase = z.strictObject({
    /** CNPG Cluster name; also the object prefix in the cnpg bucket. */
    name: dnsLabel("a CNPG cluster name", 50),
    /** Namespace of the Cluster. */
    namespace: namespaceName,
});

/** SQL Server writes at most 64 backup devices (stripes), so a striped set names `_1of<n>` with n from 1 to 64. */
export const MAX_STRIPES = 64;

/** A striped restore names the first stripe, `<name>_1of<n>.bak`, of a set SQL Server can have written. */
function checkStripedFile(file: string, ctx: z.core.$RefinementCtx<string>): void {
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
const mssqlDatabase = z.strictObject({
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
const pastTime = z.string().superRefine((v, ctx) => {
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
const recovery = z.strictObject({
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

const veleroSchedule = z.strictObject({
    /** Five-field cron, UTC. */
    schedule: cron5,
    /** How long Velero keeps each backup, e.g. 720h. */
    ttl: ttl,
    /** Namespaces to include; default: the stack's `namespaces`. Ignored when includeClusterResources covers all. */
    includedNamespaces: z.array(namespaceName).optional(),
    /** Back up cluster-scoped resources and every namespace (a full-cluster backup). Default false. */
    includeClusterResources: z.boolean().default(false),
});

/** Default Velero schedules, from seed 001 (HA profile). */
const DEFAULT_VELERO_SCHEDULES = {
    "daily-namespaces": { schedule: "0 2 * * *", ttl: "720h", includeClusterResources: false },
    "weekly-full": { schedule: "0 3 * * 0", ttl: "2160h", includeClusterResources: true },
};

const velero = z
    .strictObject({
        /** Namespace Velero runs in. Default velero. */
        namespace: namespaceName.default("velero"),
        /** Velero server service account; fixed so the IRSA trust condition matches. Default velero-server. */
        serviceAccount: dnsLabel("a service account name").default("velero-server"),
        /** Object prefix inside the velero bucket. Default none. */
        prefix: z
            .string()
            .regex(/^([a-z0-9][a-z0-9-]*)?$/, "a prefix must be lowercase letters, digits and '-'")
            .default(""),
        /** Schedules, by name (used only when `ha` is true). Default: daily-namespaces and weekly-full. */
        schedules: z.record(dnsLabel("a schedule name"), veleroSchedule).default(DEFAULT_VELERO_SCHEDULES),
        /** Server resources. Default the seed's base (100m/128Mi requests, 500m/512Mi limits); the AWS stack sets the reduced ones. */
        resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "500m", memory: "512Mi" } }),
        /** velero-plugin-for-aws image. Default velero/velero-plugin-for-aws:v1.13.0 (seed). */
        pluginImage: pinnedImage.default("velero/velero-plugin-for-aws:v1.13.0"),
        /** Deploy the node agent (file-system backup and snapshot data movement). Default false (CSI snapshots only, as in the seeds). */
        nodeAgent: z.boolean().default(false),
        /**
         * Node agent resources (with nodeAgent). Default 100m/128Mi requests, 1000m/1Gi limits: Velero's own install
         * leaves it BestEffort; since 1.17 the data moves in separate data-mover pods, so the agent itself stays small
         * (the request), and 1000m/1Gi (Velero's node agent limits from before then) bounds it.
         */
        nodeAgentResources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1000m", memory: "1Gi" } }),
        /** Move CSI snapshot data into the bucket (needs nodeAgent). Default false. */
        snapshotMoveData: z.boolean().default(false),
        /**
         * Native EBS snapshots (a VolumeSnapshotLocation of the aws provider) besides CSI; AWS only. Default
         * false: CSI snapshots need no AWS permission, so Velero's role gets no EC2 action at all.
         */
        nativeSnapshots: z.boolean().default(false),
        /**
         * StorageClasses whose volumes Velero's backups capture (a CSI driver with a VolumeSnapshotClass Velero uses).
         * When set, `npm run verify` and the PersistentVolumeClaimNotBackedUp alert count a PVC in a Velero namespace
         * as covered only if its class is listed. Default: not checked (every class counts), as nothing in the stack
         * can see which drivers snapshot.
         */
        snapshotStorageClasses: z
            .array(dnsSubdomain("a StorageClass name"))
            .min(1, "list at least one StorageClass, or leave the key out")
            .optional(),
    })
    .prefault({});

/** A label key: optional DNS prefix and '/', then a name of at most 63 characters. */
const labelKey = z
    .string()
    .regex(
        /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
        "a label key must be [prefix/]name, the name at most 63 letters, digits, '-', '_' and '.'",
    );
const labelValue = z.string().superRefine((v, ctx) => {
    const problem = labelValueProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

const labelRule = z.strictObject({
    /** Pod label key. */
    key: labelKey,
    /** Protected values; none = protect every pod that has the label. */
    values: z.array(labelValue).optional(),
});

const descheduler = z
    .strictObject({
        /** Install the Descheduler. Default true. */
        enabled: z.boolean().default(true),
        /** Replicas. Default 3 (seed base); the AWS stack sets 1. */
        replicas: z.number().int().min(1).max(9).default(3),
        /** Leader election; required when replicas > 1. Default true. */
        leaderElection: z.boolean().default(true),
        /** How often the Deployment descheduler runs. Default 5m. */
        interval: z
            .string()
            .regex(/^[1-9][0-9]*(s|m|h)$/, "interval must look like 5m")
            .default("5m"),
        /** Resources. Default 50m/64Mi requests, 500m/256Mi limits; the AWS stack sets 200m/128Mi limits. */
        resources: resources.default({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } }),
        /** DefaultEvictor podProtections (descheduler 0.34+). Default: the built-in protections. */
        podProtections: z
            .strictObject({
                extraEnabled: z
                    .array(z.enum(["PodsWithPVC", "PodsWithoutPDB", "PodsWithResourceClaims", "PodsWithPDBBlockingSingleReplicaOwner"]))
                    .default([]),
                defaultDisabled: z
                    .array(z.enum(["PodsWithLocalStorage", "DaemonSetPods", "SystemCriticalPods", "FailedBarePods"]))
                    .default([]),
            })
            .optional(),
        /** Deprecated DefaultEvictor booleans (the seeds' form); never together with podProtections. */
        evictorFlags: z
            .strictObject({
                evictLocalStoragePods: z.boolean().optional(),
                evictSystemCriticalPods: z.boolean().optional(),
                evictDaemonSetPods: z.boolean().optional(),
                evictFailedBarePods: z.boolean().optional(),
                ignorePvcPods: z.boolean().optional(),
            })
            .optional(),
        /** Pods never evicted: database pods. Default CNPG instances (cnpg.io/cluster) and SQL Server (app.kubernetes.io/name=mssql). */
        protectedPods: z.array(labelRule).default([{ key: "cnpg.io/cluster" }, { key: "app.kubernetes.io/name", values: ["mssql"] }]),
    })
    .prefault({});

const chartSource = z.strictObject({
    /** Local chart directory or .tgz used instead of the pinned repository (offline installs, tests). */
    path: z.string().min(1).optional(),
});

const cnpg = z
    .strictObject({
        /** barmanObjectStore (in-tree, deprecated since CNPG 1.26) or plugin (Barman Cloud Plugin). Default plugin. */
        method: z.enum(["barmanObjectStore", "plugin"]).default("plugin"),
        /** ScheduledBackup cron, six fields with seconds first. Default "0 0 2 * * *" (02:00:00 UTC daily). */
        schedule: cron6.default("0 0 2 * * *"),
        /** Point-in-time recoveries to create. Default none. */
        recoveries: z.array(recovery).default([]),
    })
    .prefault({});

const alerts = z
    .strictObject({
        /** Emit the PrometheusRule (and the kube-state-metrics config its storage-location rule reads). Default true. */
        enabled: z.boolean().default(true),
        /** Namespace of the PrometheusRule. Default monitoring. */
        namespace: namespaceName.default("monitoring"),
        /** Labels the Prometheus operator selects rules by. Default { release: prometheus } (seed). */
        labels: z.record(labelKey, labelValue).default({ release: "prometheus" }),
        /** Where runbook links point: this README's URL in your repository. Default README.md. */
        runbookBaseUrl: z.string().min(1).default("README.md"),
        /** Hours a backup may run late beyond its schedule interval before alerts and verify flag it. Default 3. */
        graceHours: z.number().min(0).max(168).default(3),
    })
    .prefault({});

const dashboard = z
    .strictObject({
        /** Ship the Grafana dashboard ConfigMap. Default true. */
        enabled: z.boolean().default(true),
        /** Namespace of the ConfigMap; the Grafana sidecar must watch it. Default: alerts.namespace. */
        namespace: namespaceName.optional(),
        /** Labels the Grafana sidecar selects dashboards by. Default { grafana_dashboard: "1" } (kube-prometheus-stack's). */
        labels: z
            .record(labelKey, labelValue)
            .default({ grafana_dashboard: "1" })
            .refine((l) => Object.keys(l).length > 0, "give at least one label: the Grafana sidecar selects dashboards by label"),
        /** Grafana folder, set as the annotation `folderAnnotation` (the sidecar turns it into a directory). Default none. */
        folder: z
            .string()
            .regex(
                /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$/,
                "a folder must be 1-63 letters, digits, spaces, '_', '.' and '-', starting with a letter or digit (the sidecar makes it a directory name)",
            )
            .optional(),
        /** Annotation the sidecar reads the folder from (its folderAnnotation). Default grafana_folder. */
        folderAnnotation: labelKey.default("grafana_folder"),
        /** Dashboard uid: stable, unique in the Grafana (two clusters sharing one need two). Default backup-platform. */
        uid: z
            .string()
            .regex(/^[A-Za-z0-9_-]{1,40}$/, "a dashboard uid must be 1-40 letters, digits, '_' and '-' (Grafana's limit)")
            .default("backup-platform"),
    })
    .prefault({});

const lifecycle = z
    .strictObject({
        /** Days beyond (retention + one backup interval) before current objects expire. Default 7. */
        marginDays: z.number().int().min(1).max(365).default(7),
        /** Days a replaced or deleted object version is kept. Default 7. */
        noncurrentDays: z.number().int().min(1).max(3650).default(7),
        /** Days before an unfinished multipart upload is aborted. Default 3. */
        abortMultipartDays: z.number().int().min(1).max(30).default(3),
    })
    .prefault({});

const dataSafety = z
    .strictObject({
        /** Keep buckets, object users, key material and KMS keys on `pulumi destroy`. Default true. */
        retainOnDelete: z.boolean().default(true),
        /** Also mark them protected, so destroy and replacement fail until unprotected. Default false. */
        protect: z.boolean().default(false),
    })
    .prefault({});

const consumerBuckets = z.strictObject({
    /** Bucket for Velero backups. */
    velero: bucketName,
    /** Bucket for CloudNativePG WAL and base backups (one prefix per cluster). */
    cnpg: bucketName,
    /** Bucket for SQL Server .bak files. */
    mssql: bucketName,
});

const objectLock = z
    .strictObject({
        /** Enable S3 Object Lock (governance mode) on the cnpg and mssql buckets. Default false; can only be set at bucket creation. */
        enabled: z.boolean().default(false),
        /** Default retention of each object version, in days. Default 30. */
        days: z.number().int().min(1).max(3650).default(30),
    })
    .prefault({});

const EKS_ALLOWED = "{ clusterName } (the EKS cluster whose OIDC issuer is looked up) or { oidcProviderArn, oidcIssuerUrl }";
const eks = z.union(
    [
        z.strictObject({
            /** EKS cluster whose OIDC issuer is looked up. */
            clusterName: z.string().min(1),
        }),
        z.strictObject({
            /** ARN of the cluster's IAM OIDC provider. */
            oidcProviderArn: z
                .string()
                .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider\/.+$/, "oidcProviderArn must be an IAM OIDC provider ARN"),
            /** The cluster's OIDC issuer URL, https://oidc.eks.<region>.amazonaws.com/id/<id>. */
            oidcIssuerUrl: z.string().regex(/^https:\/\/[^\s]+$/, "oidcIssuerUrl must be an https:// URL"),
        }),
    ],
    { error: (iss) => (iss.input === undefined ? `required: ${EKS_ALLOWED}` : `must be ${EKS_ALLOWED}`) },
);

/** Every AWS region, from the AWS provider's own Region enum (a small module of constants, not the whole SDK). */
export const AWS_REGIONS: readonly string[] = Object.values(Region);
const awsRegion = z.string().refine((r) => AWS_REGIONS.includes(r), {
    error: (iss) => `"${String(iss.input)}" is not an AWS region; an AWS region like af-south-1: one of ${AWS_REGIONS.join(", ")}`,
});

const awsStorage = z.strictObject({
    /** AWS region of the buckets, e.g. af-south-1. */
    region: awsRegion,
    /** Bucket per consumer; must be globally unique names. */
    buckets: consumerBuckets,
    /** kms (customer-managed key, bucket keys on) or s3 (SSE-S3). Default kms. */
    encryption: z.enum(["kms", "s3"]).default("kms"),
    /** S3 Object Lock for the database buckets. */
    objectLock,
    /** How IRSA trust finds the cluster's OIDC provider: by EKS cluster name, or given explicitly. */
    eks,
});

const baremetalStorage = z.strictObject({
    /** CephObjectStore name. */
    objectStore: dnsLabel("a CephObjectStore name"),
    /** Namespace of the CephObjectStore (and of the object users). Default rook-ceph. */
    objectStoreNamespace: namespaceName.default("rook-ceph"),
    /** Region name RGW answers to (arbitrary for Ceph, but clients must agree). */
    region: s3Region,
    /** RGW endpoint as consumers in the cluster reach it. */
    endpoint: httpUrl,
    /** Endpoint for SQL Server, which only speaks https; default: `endpoint`, which must then be https. */
    mssqlEndpoint: httpUrl.optional(),
    /** PEM CA bundle for https endpoints signed by a private CA. Default none. */
    caBundle: z.string().includes("-----BEGIN CERTIFICATE-----", "caBundle must be PEM certificates").optional(),
    /** Bucket per consumer. Consumers may share a bucket: then a bucket policy grants the others their prefix. */
    buckets: consumerBuckets,
    /** StorageClass the ObjectBucketClaims use. */
    bucketStorageClass: z
        .strictObject({
            /** Name. Default backup-buckets. */
            name: dnsLabel("a StorageClass name").default("backup-buckets"),
            /** Create it with reclaimPolicy Retain (recommended: an OBC deletion then never deletes a bucket). Default true. */
            create: z.boolean().default(true),
            /** OBC provisioner; Rook prefixes it with the operator namespace. Default rook-ceph.ceph.rook.io/bucket. */
            provisioner: z.string().default("rook-ceph.ceph.rook.io/bucket"),
        })
        .prefault({}),
});

/** A bucket the program creates on AWS for the off-site copy (bare metal), or the replica region (AWS stack). */
const offsiteAws = z.strictObject({
    /** Region of the off-site bucket(s); on the AWS stack a second region, different from aws.region. */
    region: awsRegion,
    /** Bare metal: name of the bucket the program creates there. */
    bucket: bucketName.optional(),
    /** AWS stack: replica bucket per consumer. Default <source bucket>-replica. */
    buckets: z.strictObject({ velero: bucketName.optional(), cnpg: bucketName.optional(), mssql: bucketName.optional() }).prefault({}),
    /** Bare metal: AWS shared-config profile of the account that holds the bucket. Default: the ambient AWS credentials. */
    profile: z.string().min(1).optional(),
    /** Bare metal: role the program assumes in that account. Default none. */
    assumeRoleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/.+$/, "assumeRoleArn must be an IAM role ARN")
        .optional(),
    /** kms (customer-managed key in that region) or s3 (SSE-S3). Default kms; AWS stack: the source buckets' aws.encryption. */
    encryption: z.enum(["kms", "s3"]).optional(),
    /** Governance-mode Object Lock on the off-site bucket(s); only at bucket creation. Default off. */
    objectLock,
    /** AWS stack: SNS topic the replication CloudWatch alarms notify. Default none (alarms only show in CloudWatch). */
    alarmTopicArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$/, "alarmTopicArn must be an SNS topic ARN")
        .optional(),
});

/** An existing S3 bucket elsewhere (bare metal). */
const offsiteDestination = z.strictObject({
    /** S3 endpoint URL, no path (https://s3.eu-west-1.amazonaws.com, a MinIO or another Ceph). */
    endpoint: httpUrl,
    /** Region the endpoint signs for. */
    region: s3Region,
    /** Bucket name; it must exist, be versioned, and expire old objects itself (the copy never deletes). */
    bucket: bucketName,
    /** rclone's S3 provider name for the endpoint. Default Other. */
    provider: z.enum(["AWS", "Ceph", "Minio", "Wasabi", "Other"]).default("Other"),
    /** Secret in offsite.namespace with the destination's access key pair (you create it). */
    credentialsSecret: z.strictObject({
        name: dnsSubdomain("a Secret name"),
        /** Key holding the access key id. Default AWS_ACCESS_KEY_ID. */
        accessKeyIdKey: z.string().min(1).default("AWS_ACCESS_KEY_ID"),
        /** Key holding the secret access key. Default AWS_SECRET_ACCESS_KEY. */
        secretAccessKeyKey: z.string().min(1).default("AWS_SECRET_ACCESS_KEY"),
    }),
});

/** The third copy, in another place (seed 003: "then backup the local object storage elsewhere"). Off by default. */
const offsite = z
    .strictObject({
        /** Copy every backup bucket off site. Default false. */
        enabled: z.boolean().default(false),
        /** Bare metal: copy CronJob schedule, five fields, UTC; also the staleness threshold. Default "0 6 * * *" (after the nightly backups). */
        schedule: cron5.default("0 6 * * *"),
        /** Bare metal: rclone --bwlimit, bytes per second with K/M/G suffix (MiB/s), or off. Default 20M. */
        bandwidthLimit: z
            .string()
            .regex(/^(off|[0-9]+(\.[0-9]+)?[BKMGTP]?)$/, "bandwidthLimit must be an rclone --bwlimit value like 20M (MiB/s), 512K or off")
            .default("20M"),
        /** Bare metal: path inside the destination bucket under which each source bucket is copied. Default none. */
        prefix: z
            .string()
            .regex(/^([a-z0-9][a-z0-9-]*)?$/, "a prefix must be lowercase letters, digits and '-'")
            .default(""),
        /** Bare metal: namespace of the copy CronJob (created by the program). Default backup-offsite. */
        namespace: namespaceName.default("backup-offsite"),
        /** Bare metal: rclone image, pinned. Default rclone/rclone:1.69.1. */
        image: pinnedImage.default("rclone/rclone:1.69.1"),
        /** Bare metal: copy job resources. Default 100m/128Mi requests, 1/512Mi limits. */
        resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } }),
        /** Bare metal: an existing bucket elsewhere. Give this or aws. */
        destination: offsiteDestination.optional(),
        /** Bare metal: a bucket the program creates on AWS; AWS stack: the replica region (required there). */
        aws: offsiteAws.optional(),
    })
    .prefault({});

/** Restore drills: temporary recovery clusters proving the PostgreSQL backups restore. Off by default. */
const drills = z
    .strictObject({
        /** Deploy drill templates (and on AWS read-only drill roles) for every database in `postgres`; `npm run drill` needs them. Default false. */
        enabled: z.boolean().default(false),
        /** In-cluster drill CronJob schedule, five fields, UTC. Default none: drills run only from `npm run drill`. */
        schedule: cron5.optional(),
        /** Databases the schedule drills. Default: every database in `postgres`. */
        databases: z.array(dnsLabel("a CNPG cluster name", 50)).default([]),
        /** Minutes a drill cluster may take to become healthy. Default 60. */
        timeoutMinutes: z
            .number()
            .int()
            .min(5)
            .max(24 * 60)
            .default(60),
        /** Image of the in-cluster drill runner (Node.js), pinned. Default node:22.12.0-alpine. */
        image: pinnedImage.default("node:22.12.0-alpine"),
        /** psql image for the check query. Default: the image of the recovered cluster itself. */
        checkImage: pinnedImage.optional(),
        /** Runner resources. Default 50m/64Mi requests, 200m/128Mi limits. */
        resources: resources.default({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "200m", memory: "128Mi" } }),
    })
    .prefault({});

/** Suffix of a drill's temporary cluster: `<database>-drill`. */
export const DRILL_SUFFIX = "-drill";

const common = {
    /** High-availability profile: Velero schedules, ServiceMonitor, 3-replica descheduler. Default true. */
    ha: z.boolean().default(true),
    /** Backup retention for databases (CNPG retentionPolicy, SQL Server lifecycle). Default 30d. */
    retention: retention.default("30d"),
    /** Application namespaces Velero's namespace schedules include. */
    namespaces: z.array(namespaceName).min(1, "list at least one application namespace"),
    /** PostgreSQL clusters (CloudNativePG) whose backups this stack configures. Default none. */
    postgres: z.array(postgresDatabase).default([]),
    /** SQL Server databases backed up with BACKUP TO URL. Default none. */
    mssql: z.array(mssqlDatabase).default([]),
    velero,
    descheduler,
    cnpg,
    alerts,
    dashboard,
    lifecycle,
    dataSafety,
    offsite,
    drills,
    /** Local chart sources, per chart. Default: the pinned repositories (components/charts.ts). */
    charts: z.strictObject({ velero: chartSource.optional(), descheduler: chartSource.optional() }).prefault({}),
    /** Do not wait for workloads to become ready (local API servers without kubelets). Default false. */
    skipAwait: z.boolean().default(false),
    /**
     * Secret. Velero's kopia repository password to keep, for a stack re-created over an existing repository or a
     * Velero that already has one. Needs velero.nodeAgent. Default: none (generated once, by the program).
     */
    veleroRepositoryPassword: z.string().min(1, "must not be empty").optional(),
};

const platforms = z.discriminatedUnion("platform", [
    z.strictObject({ platform: z.literal("aws"), aws: awsStorage, ...common }),
    z.strictObject({ platform: z.literal("baremetal"), baremetal: baremetalStorage, ...common }),
]);
type Parsed = z.output<typeof platforms>;
type Ctx = z.core.$RefinementCtx<Parsed>;

/** `<database>-drill` for every database when drills are on: a valid, unused cluster name. */
function checkDrills(cfg: Parsed, ctx: Ctx): void {
    if (!cfg.drills.enabled) return;
    const names = new Set([...cfg.postgres.map((db) => db.name), ...cfg.cnpg.recoveries.map((r) => r.name)]);
    cfg.postgres.forEach((db, i) => {
        const drill = `${db.name}${DRILL_SUFFIX}`;
        if (drill.length > 50) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `"${db.name}" is too long for restore drills: its drill cluster "${drill}" must be at most 50 characters (44 for the database name)`,
            });
        } else if (names.has(drill)) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `"${drill}" is already a cluster name, but it is the restore drill cluster of "${db.name}"; rename one of them`,
            });
        }
    });
    cfg.drills.databases.forEach((name, i) => {
        if (!cfg.postgres.some((db) => db.name === name)) {
            ctx.addIssue({
                code: "custom",
                path: ["drills", "databases", i],
                message: `"${name}" is not in backup:postgres; allowed: ${cfg.postgres.map((db) => db.name).join(", ")}`,
            });
        }
    });
    if (cfg.postgres.length === 0) {
        ctx.addIssue({ code: "custom", path: ["drills", "enabled"], message: "restore drills need databases: backup:postgres is empty" });
    }
}

/** The off-site destination: exactly one kind per platform, and names that can exist. */
function checkOffsite(cfg: Parsed, ctx: Ctx): void {
    const o = cfg.offsite;
    if (!o.enabled) return;
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: ["offsite", ...path], message });
    if (cfg.platform === "baremetal") {
        if ((o.destination === undefined) === (o.aws === undefined)) {
            issue([], "give exactly one of destination (an existing bucket elsewhere) or aws (a bucket the program creates on AWS)");
        }
        if (o.aws !== undefined) {
            if (o.aws.bucket === undefined) issue(["aws", "bucket"], "required (string): the bucket the program creates on AWS");
            if (Object.values(o.aws.buckets).some((b) => b !== undefined)) {
                issue(["aws", "buckets"], "is for the AWS stack's replicas; on bare metal name the one off-site bucket with aws.bucket");
            }
            if (o.aws.alarmTopicArn !== undefined) issue(["aws", "alarmTopicArn"], "is for the AWS stack's replication alarms only");
        }
        return;
    }
    if (o.destination !== undefined) {
        issue(["destination"], "not used on AWS: the off-site copy is S3 replication to a second region; set backup:offsite.aws.region");
    }
    if (o.aws === undefined) {
        issue(["aws"], "required on AWS: { region: <a second region> } for S3 replication of every backup bucket");
        return;
    }
    if (cfg.aws.encryption === "kms" && o.aws.encryption === "s3") {
        issue(["aws", "encryption"], "must be kms when backup:aws.encryption is kms: S3 replicates SSE-KMS objects only into a KMS key");
    }
    if (o.aws.region === cfg.aws.region) {
        issue(["aws", "region"], `must differ from backup:aws.region (${cfg.aws.region}): the replicas belong in a second region`);
    }
    for (const key of ["bucket", "profile", "assumeRoleArn"] as const) {
        if (o.aws[key] !== undefined) {
            issue(
                ["aws", key],
                "is for bare metal; on AWS the replicas live in the stack's own account (name them with aws.buckets.<consumer>)",
            );
        }
    }
    const sources = new Set(Object.values(cfg.aws.buckets));
    const seen = new Set<string>();
    for (const consumer of ["velero", "cnpg", "mssql"] as const) {
        const name = replicaBucketName(cfg, consumer);
        const bad = (message: string) => issue(["aws", "buckets", consumer], message);
        if (name.length > 63) bad(`the default "${name}" is longer than 63 characters; name the replica bucket`);
        else if (sources.has(name)) bad(`"${name}" is a source bucket; a replica needs its own bucket`);
        else if (seen.has(name)) bad(`"${name}" is already another consumer's replica bucket`);
        seen.add(name);
    }
}

/** Consumers with something to back up: Velero always, the database writers when they have databases. */
export function activeConsumers(cfg: Parsed): BucketConsumer[] {
    return (["velero", "cnpg", "mssql"] as const).filter(
        (c) => c === "velero" || (c === "cnpg" ? cfg.postgres.length > 0 : cfg.mssql.length > 0),
    );
}

/** What each consumer writes at the top of its bucket: inventory and recovery clusters each under their name. */
export function bucketWriters(cfg: Parsed): BucketWriters {
    return {
        veleroPrefix: cfg.velero.prefix,
        cnpgClusters: [...cfg.postgres.map((db) => db.name), ...cfg.cnpg.recoveries.map((r) => r.name)].map(cnpgPrefix),
        mssql: cfg.mssql.length > 0,
    };
}

/** Consumers sharing a bucket must not write under the same top-level name (bare metal; AWS refuses sharing). */
function checkSharedBuckets(cfg: Parsed, ctx: Ctx): void {
    const buckets = cfg.platform === "aws" ? cfg.aws.buckets : cfg.baremetal.buckets;
    // Velero validates its storage location by listing the folders at its prefix: any folder not its own
    // ("Backup store contains invalid top-level directories") makes the location Unavailable, so no backup runs.
    const neighbours = activeConsumers(cfg).filter((c) => c !== "velero" && buckets[c] === buckets.velero);
    if (cfg.velero.prefix === "" && neighbours.length > 0) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "prefix"],
            message: `required when Velero shares bucket "${buckets.velero}" with ${neighbours.join(" and ")}: Velero marks a backup location Unavailable when its root holds folders other than its own (backups, kopia, metadata, plugins, restores); set a prefix such as "velero"`,
        });
    }
    const c = bucketCollision(activeConsumers(cfg), buckets, bucketWriters(cfg));
    if (c === undefined) return;
    ctx.addIssue({
        code: "custom",
        path: [cfg.platform, "buckets"],
        message: `${c.first} and ${c.second} share bucket "${c.bucket}" and would both write under "${c.top}/"; give them different buckets${c.first === "velero" ? ", or set backup:velero.prefix" : ""}`,
    });
}

/** Every SQL Server database's Kubernetes names: valid, within Kubernetes' limits, and unique in their namespace. */
function checkMssqlNames(cfg: Parsed, ctx: Ctx): void {
    const jobs = new Map<string, string>();
    cfg.mssql.forEach((db, i) => {
        const bad = (message: string) => ctx.addIssue({ code: "custom", path: ["mssql", i, "name"], message });
        const problem =
            dnsLabelProblem(mssqlBackupJobName(db.name), CRONJOB_NAME_MAX) ??
            dnsLabelProblem(mssqlRestoreJobName(db.name), DNS_LABEL_MAX) ??
            labelValueProblem(db.name);
        if (problem !== undefined) {
            bad(
                `"${db.name}" gives the CronJob "${mssqlBackupJobName(db.name)}" and the label value "${db.name}": ${problem}; use a name that starts and ends with a letter or digit, of at most 39 characters`,
            );
            return;
        }
        const key = `${db.namespace}/${mssqlBackupJobName(db.name)}`;
        const other = jobs.get(key);
        if (other !== undefined && other !== db.name) {
            bad(
                `"${db.name}" and "${other}" in namespace ${db.namespace} both give the CronJob "${mssqlBackupJobName(db.name)}" (names are lowercased, '_' becomes '-'); rename one`,
            );
        }
        jobs.set(key, db.name);
    });
}

/** Where a namespace is named in the config, by key, for the ownership check. */
function namespaceUses(cfg: Parsed): [string, string][] {
    const uses: [string, string][] = [
        ...cfg.namespaces.map((ns, i): [string, string] => [`namespaces[${i}]`, ns]),
        ...cfg.postgres.map((db, i): [string, string] => [`postgres[${i}].namespace`, db.namespace]),
        ...cfg.mssql.map((db, i): [string, string] => [`mssql[${i}].namespace`, db.namespace]),
        ["alerts.namespace", cfg.alerts.namespace],
    ];
    if (cfg.dashboard.namespace !== undefined) uses.push(["dashboard.namespace", cfg.dashboard.namespace]);
    if (cfg.platform === "baremetal") uses.push(["baremetal.objectStoreNamespace", cfg.baremetal.objectStoreNamespace]);
    for (const [name, sched] of Object.entries(cfg.velero.schedules)) {
        (sched.includedNamespaces ?? []).forEach((ns, i) => uses.push([`velero.schedules.${name}.includedNamespaces[${i}]`, ns]));
    }
    return uses;
}

/**
 * The namespaces the program creates it also deletes on destroy: each must be its own, never one that holds
 * applications, databases or the object store, nor a system namespace.
 */
function checkCreatedNamespaces(cfg: Parsed, ctx: Ctx): void {
    const created: [string, string][] = [["velero.namespace", cfg.velero.namespace]];
    if (cfg.platform === "baremetal" && cfg.offsite.enabled) created.push(["offsite.namespace", cfg.offsite.namespace]);
    const uses = [...namespaceUses(cfg), ...created];
    for (const [key, ns] of created) {
        const path = key.split(".");
        const bad = (why: string) =>
            ctx.addIssue({
                code: "custom",
                path,
                message: `"${ns}" ${why}; the program creates this namespace and deletes it on destroy, so it must be one of its own that nothing else uses`,
            });
        if (ns === "default" || ns.startsWith("kube-")) {
            bad("is a system namespace (default and kube-* are refused)");
            continue;
        }
        const other = uses.find(([k, n]) => n === ns && k !== key);
        if (other !== undefined) bad(`is already in use: backup:${other[0]} names it`);
    }
}

/** The AWS stack's replica bucket of a consumer: configured, or `<source>-replica`. */
export function replicaBucketName(cfg: Extract<Parsed, { platform: "aws" }>, consumer: "velero" | "cnpg" | "mssql"): string {
    return cfg.offsite.aws?.buckets[consumer] ?? `${cfg.aws.buckets[consumer]}-replica`;
}

const schema = platforms.superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.postgres.forEach((db, i) => {
        if (seen.has(db.name)) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `duplicate database name "${db.name}": names must be unique across namespaces, because each one is also the cluster's prefix in the cnpg bucket`,
            });
        }
        seen.add(db.name);
    });
    const seenMssql = new Set<string>();
    cfg.mssql.forEach((db, i) => {
        if (db.restore && (db.restore.targetDatabase ?? db.name) === db.name && !db.restore.replace) {
            ctx.addIssue({
                code: "custom",
                path: ["mssql", i, "restore", "replace"],
                message: `restoring over the live database ${db.name} needs replace: true (or set restore.targetDatabase to a new name)`,
            });
        }
        const key = `${db.namespace}/${db.name}`;
        if (seenMssql.has(key)) {
            ctx.addIssue({ code: "custom", path: ["mssql", i, "name"], message: `duplicate SQL Server database "${key}"` });
        }
        seenMssql.add(key);
    });
    const d = cfg.descheduler;
    if (d.replicas > 1 && !d.leaderElection) {
        ctx.addIssue({
            code: "custom",
            path: ["descheduler", "leaderElection"],
            message: `must be true when backup:descheduler.replicas is ${d.replicas}: replicas without leader election evict the same pods concurrently`,
        });
    }
    if (d.podProtections !== undefined && d.evictorFlags !== undefined) {
        ctx.addIssue({
            code: "custom",
            path: ["descheduler", "evictorFlags"],
            message:
                "cannot be combined with backup:descheduler.podProtections (the descheduler rejects both); express the flags as podProtections",
        });
    }
    if (cfg.veleroRepositoryPassword !== undefined && !cfg.velero.nodeAgent) {
        ctx.addIssue({
            code: "custom",
            path: ["veleroRepositoryPassword"],
            message: "needs backup:velero.nodeAgent: true (only the node agent's repository uses it)",
        });
    }
    if (cfg.velero.snapshotMoveData && !cfg.velero.nodeAgent) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "snapshotMoveData"],
            message: "needs backup:velero.nodeAgent: true (the node agent moves the data)",
        });
    }
    const names = new Set(cfg.postgres.map((db) => db.name));
    cfg.cnpg.recoveries.forEach((r, i) => {
        if (!names.has(r.from)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i, "from"],
                message: `"${r.from}" is not in backup:postgres; allowed: ${[...names].join(", ")}`,
            });
        }
        if (names.has(r.name)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i, "name"],
                message: `"${r.name}" is already a cluster name; a recovery needs a new name`,
            });
        }
        names.add(r.name);
        if ((r.imageName === undefined) === (r.imageCatalog === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i],
                message:
                    "give exactly one of imageName or imageCatalog: the recovered cluster must run the source's PostgreSQL major version",
            });
        }
    });
    checkDrills(cfg, ctx);
    checkOffsite(cfg, ctx);
    if (cfg.platform === "baremetal" && cfg.velero.nativeSnapshots) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "nativeSnapshots"],
            message:
                "must be false on bare metal (allowed: false): native snapshots are AWS EBS snapshots; Rook-Ceph volumes are snapshotted through CSI",
        });
    }
    checkSharedBuckets(cfg, ctx);
    checkMssqlNames(cfg, ctx);
    checkCreatedNamespaces(cfg, ctx);
    if (cfg.platform === "aws") {
        const b = cfg.aws.buckets;
        if (new Set([b.velero, b.cnpg, b.mssql]).size !== 3) {
            ctx.addIssue({
                code: "custom",
                path: ["aws", "buckets"],
                message:
                    "on AWS each consumer needs its own bucket (velero, cnpg and mssql must differ): lifecycle, object lock and key policies are per bucket",
            });
        }
    } else if (cfg.mssql.length > 0) {
        const ep = cfg.baremetal.mssqlEndpoint ?? cfg.baremetal.endpoint;
        if (!ep.startsWith("https://")) {
            ctx.addIssue({
                code: "custom",
                path: ["baremetal", cfg.baremetal.mssqlEndpoint ? "mssqlEndpoint" : "endpoint"],
                message: `SQL Server BACKUP TO URL only speaks https, but the endpoint is "${ep}"; set backup:baremetal.mssqlEndpoint to an https:// RGW endpoint`,
            });
        }
    }
});

export type Config = z.output<typeof schema>;
export type AwsConfig = Extract<Config, { platform: "aws" }>;
export type BaremetalConfig = Extract<Config, { platform: "baremetal" }>;
export type PostgresDatabase = z.output<typeof postgresDatabase>;
export type MssqlDatabase = z.output<typeof mssqlDatabase>;
export type VeleroScheduleConfig = z.output<typeof veleroSchedule>;
export type RecoveryConfig = z.output<typeof recovery>;
export type Resources = z.output<typeof resources>;
export type OffsiteConfig = z.output<typeof offsite>;
export type OffsiteAwsConfig = z.output<typeof offsiteAws>;
export type DrillsConfig = z.output<typeof drills>;

/** Top-level keys the schema accepts, for the unknown-key message. */
export const CONFIG_KEYS = ["platform", "aws", "baremetal", ...Object.keys(common)].sort();

function describe(issue: z.core.$ZodIssue): string {
    const [head, ...rest] = issue.path;
    const key = `${CONFIG_NAMESPACE}:${head === undefined ? "" : String(head)}${rest.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}`;
    switch (issue.code) {
        case "invalid_union":
            // Unions with a message of their own (aws.eks) say what is allowed; zod's default says only "Invalid input".
            if ("options" in issue && Array.isArray(issue.options)) {
                return `${key}: must be one of ${issue.options.join(", ")}`;
            }
            return `${key}: ${issue.message}`;
        case "invalid_key":
            return `${key}: ${issue.issues.map((i) => i.message).join("; ")}`;
        case "invalid_value":
            return `${key}: must be one of ${issue.values.map((v) => String(v)).join(", ")}`;
        case "unrecognized_keys":
            return `${key === `${CONFIG_NAMESPACE}:` ? "config" : key}: unknown key(s) ${issue.keys.join(", ")}${
                issue.path.length === 0 ? `; allowed keys for this platform: ${CONFIG_KEYS.join(", ")}` : ""
            }`;
        case "invalid_type":
            return issue.message.includes("received undefined") ? `${key}: required (${issue.expected})` : `${key}: ${issue.message}`;
        default:
            return `${key}: ${issue.message}`;
    }
}

/** The one shape of every config error: each problem on its own line. */
function invalid(problems: string[]): ConfigError {
    return new ConfigError(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
}

/** Validates raw config (keys without the `backup:` prefix). Throws ConfigError listing every problem. */
export function parseConfig(raw: Record<string, unknown>): Config {
    const result = schema.safeParse(raw);
    if (!result.success) {
        const lines = result.error.issues.map(describe);
        throw invalid(lines);
    }
    return result.data;
}

/** Parses a config value the way `pulumi config set` stores it: JSON where it parses, else the string. */
function decode(value: string): unknown {
    try {
        return JSON.parse(value);
    } catch {
        return value;
    }
}

/**
 * Config namespaces besides `backup:` that a stack may set: the Pulumi engine's and those of the providers the
 * program uses. Anything else is a typo (`bakup:retention`) or a key without a namespace, which Pulumi stores
 * under the project's name (`backup-platform:retention`): either way it would be silently ignored.
 */
export const PROVIDER_NAMESPACES = ["pulumi", "kubernetes", "aws", "random"] as const;

function strayKey(fullKey: string): string {
    const key = fullKey.slice(fullKey.indexOf(":") + 1);
    const hint = CONFIG_KEYS.includes(key.split(".")[0]) ? `; did you mean ${CONFIG_NAMESPACE}:${key}?` : "";
    return `${fullKey}: unknown config namespace "${fullKey.split(":")[0]}"; allowed namespaces: ${[CONFIG_NAMESPACE, ...PROVIDER_NAMESPACES].join(", ")}${hint}`;
}

/** Config keys whose values must be stored encrypted (`pulumi config set --secret`). */
export const SECRET_KEYS = ["veleroRepositoryPassword"] as const;

/**
 * Validates a flat config map as the engine passes it ("backup:key" -> string); other namespaces are ignored.
 * `isSecret` tells which keys the stack stores encrypted: the keys in SECRET_KEYS must be.
 */
export function parseConfigMap(map: Readonly<Record<string, string>>, isSecret: (fullKey: string) => boolean = () => true): Config {
    const raw: Record<string, unknown> = {};
    const strays: string[] = [];
    for (const [fullKey, value] of Object.entries(map)) {
        const colon = fullKey.indexOf(":");
        const ns = colon < 0 ? "" : fullKey.slice(0, colon);
        const key = fullKey.slice(colon + 1);
        if (ns === CONFIG_NAMESPACE) raw[key] = (SECRET_KEYS as readonly string[]).includes(key) ? value : decode(value);
        else if (!(PROVIDER_NAMESPACES as readonly string[]).includes(ns)) strays.push(fullKey);
    }
    if (strays.length > 0) throw invalid(strays.map(strayKey));
    const plain = SECRET_KEYS.filter((key) => raw[key] !== undefined && !isSecret(`${CONFIG_NAMESPACE}:${key}`));
    if (plain.length > 0) {
        throw invalid(
            plain.map(
                (key) =>
                    `${CONFIG_NAMESPACE}:${key}: must be a secret; set it with \`pulumi config set --secret ${CONFIG_NAMESPACE}:${key}\` (the value from standard input)`,
            ),
        );
    }
    return parseConfig(raw);
}

/** The SDK's own record of which config keys are secret (marked internal, so not in its typings). */
const isConfigSecret = (fullKey: string): boolean =>
    (runtimeConfig as unknown as { isConfigSecret(this: void, key: string): boolean }).isConfigSecret(fullKey);

/** Reads every `backup:*` key of the current stack and validates it. */
export function loadConfig(): Config {
    return parseConfigMap(pulumi.runtime.allConfig(), isConfigSecret);
}

/** loadConfig for the program: a config error surfaces as one clear message, without a stack trace. */
export function programConfig(): Config {
    try {
        return loadConfig();
    } catch (err) {
        if (err instanceof ConfigError) throw new pulumi.RunError(err.message);
        throw err;
    }
}

/** Days a retention string covers, rounding months up to 31 days so derived expiries never fall short. */
export function retentionDays(value: string): number {
    const n = Number(value.slice(0, -1));
    const unit = value.slice(-1);
    return unit === "w" ? n * 7 : unit === "m" ? n * 31 : n;
}

/** Hours in a Velero TTL like `720h`, as whole days rounded up. */
export function ttlDays(value: string): number {
    return Math.ceil(Number(value.slice(0, -1)) / 24);
}

/**
 * The longest gap between two runs of a (valid) cron schedule, five or six fields, in whole days rounded up,
 * at least 1. From croner's runs over a leap cycle: the first run of each day that has one (days without runs
 * are skipped by asking for the next run after the end of the day). Runs within a day are closer than a day,
 * so comparing first runs of days bounds every gap from above, exactly for schedules that run at most daily.
 */
const intervals = new Map<string, number>();

export function cronIntervalDays(expr: string): number {
    const known = intervals.get(expr);
    if (known !== undefined) return known;
    const cron = new Cron(expr, { timezone: "UTC" });
    let longest = 0;
    let run = cron.nextRun(new Date(CRON_EPOCH.getTime() - 1));
    while (run !== null && run.getTime() - CRON_EPOCH.getTime() <= CRON_WINDOW_MS) {
        const endOfDay = new Date(Math.floor(run.getTime() / DAY_MS) * DAY_MS + DAY_MS - 1);
        const next = cron.nextRun(endOfDay);
        if (next !== null) longest = Math.max(longest, next.getTime() - run.getTime());
        run = next;
    }
    const days = Math.max(1, Math.ceil(longest / DAY_MS));
    intervals.set(expr, days);
    return days;
}
