// The corpus of bad configurations: one row per mistake, named for what is wrong, with the key the error must
// name and a fragment of what it must say. Every row goes through the real program (test/bad-config.test.ts),
// which must refuse it before registering anything. Grow it with every new key.
import { type Raw } from "./harness";

export interface BadConfig {
    /** What is wrong, as a user would put it. */
    readonly what: string;
    readonly stack: "aws" | "baremetal";
    /** Edits the stack file's `backup:` config (keys without the prefix). */
    readonly edit?: (raw: Raw) => void;
    /** Keys of other namespaces added to the stack's config, as the engine passes them. */
    readonly extra?: Readonly<Record<string, string>>;
    /** The key the message must name, e.g. backup:retention. */
    readonly key: string;
    /** Fragments the message must contain. */
    readonly says: readonly string[];
}

type Section = Record<string, unknown>;
const section = (raw: Raw, key: string): Section => raw[key] as Section;
const nested = (raw: Raw, ...path: string[]): Section => path.reduce((o, k) => o[k] as Section, raw);
const postgres = (raw: Raw): Section[] => raw.postgres as Section[];
const mssql = (raw: Raw): Section[] => raw.mssql as Section[];

/** A bare-metal row. */
const bm = (what: string, edit: (raw: Raw) => void, key: string, ...says: string[]): BadConfig => ({
    what,
    stack: "baremetal",
    edit,
    key,
    says,
});
/** An AWS row. */
const aws = (what: string, edit: (raw: Raw) => void, key: string, ...says: string[]): BadConfig => ({
    what,
    stack: "aws",
    edit,
    key,
    says,
});

const offsiteTo = (destination: Section): Section => ({
    enabled: true,
    destination: {
        endpoint: "https://s3.eu-west-1.amazonaws.com",
        region: "eu-west-1",
        bucket: "rciis-offsite",
        credentialsSecret: { name: "dest" },
        ...destination,
    },
});
const restore = (file: string): Section => ({ file, replace: true });
const recoveryAt = (targetTime: string): Section[] => [
    { from: "esb-postgres", name: "esb-restored", targetTime, imageName: "ghcr.io/cloudnative-pg/postgresql:17.5" },
];

export const BAD_CONFIGS: readonly BadConfig[] = [
    // ---- shapes and formats (the original table of test/config.test.ts) ----
    bm("an unknown platform", (r) => (r.platform = "gcp"), "backup:platform", "aws, baremetal"),
    bm("a namespace with capitals and '_'", (r) => (postgres(r)[0].namespace = "RCIIS_Prod"), "backup:postgres[0].namespace", "DNS-1123"),
    bm(
        "a bucket name with capitals",
        (r) => (nested(r, "baremetal", "buckets").cnpg = "CNPG_backups"),
        "backup:baremetal.buckets.cnpg",
        "3-63 characters",
    ),
    bm("no region", (r) => delete section(r, "baremetal").region, "backup:baremetal.region", "required"),
    bm("a retention unlike 30d", (r) => (r.retention = "30 days"), "backup:retention", "30d, 4w or 1m"),
    bm("a retention that is not a number", (r) => (r.retention = "thirty"), "backup:retention", "30d"),
    bm(
        "two databases with one name",
        (r) => (postgres(r)[1].name = "esb-postgres"),
        "backup:postgres[1].name",
        "duplicate",
        "esb-postgres",
    ),
    bm(
        "an http endpoint for SQL Server",
        (r) => (section(r, "baremetal").mssqlEndpoint = "http://s3.rciis.africa"),
        "backup:baremetal.mssqlEndpoint",
        "https",
    ),
    bm("a five-field CNPG cron", (r) => (r.cnpg = { schedule: "0 2 * * *" }), "backup:cnpg.schedule", "six", "seconds", "0 0 2 * * *"),
    bm("an unknown CNPG method", (r) => (r.cnpg = { method: "pgdump" }), "backup:cnpg.method", "barmanObjectStore, plugin"),
    bm("a misspelt top-level key", (r) => (r.retension = "30d"), "config", "unknown key(s) retension", "allowed keys", "retention"),
    bm("an aws section on bare metal", (r) => (r.aws = {}), "config", "unknown key(s) aws"),
    bm("an endpoint with a path", (r) => (section(r, "baremetal").endpoint = "http://rgw/x/y"), "backup:baremetal.endpoint", "no path"),
    bm("no application namespaces", (r) => (r.namespaces = []), "backup:namespaces", "at least one"),
    aws(
        "one bucket for two consumers on AWS",
        (r) => (nested(r, "aws", "buckets").mssql = "rciis-cnpg-backups"),
        "backup:aws.buckets",
        "own bucket",
    ),
    aws("a region that is a continent", (r) => (section(r, "aws").region = "africa"), "backup:aws.region", "af-south-1"),
    aws(
        "half an OIDC pair",
        (r) => (section(r, "aws").eks = { oidcProviderArn: "arn:aws:iam::123456789012:oidc-provider/x" }),
        "backup:aws.eks",
        "oidcIssuerUrl",
    ),

    // ---- rules that used to fail only during deploy ----
    bm(
        "cnpg and mssql sharing a bucket with a cluster named mssql",
        (r) => {
            nested(r, "baremetal", "buckets").mssql = "cnpg-backups";
            postgres(r)[0].name = "mssql";
        },
        "backup:baremetal.buckets",
        'would both write under "mssql/"',
    ),
    bm(
        "velero and cnpg sharing a bucket with a cluster named backups",
        (r) => {
            nested(r, "baremetal", "buckets").cnpg = "velero-backups";
            postgres(r)[0].name = "backups";
        },
        "backup:baremetal.buckets",
        'velero and cnpg share bucket "velero-backups"',
        "backup:velero.prefix",
    ),
    bm(
        "velero at the root of a bucket it shares with cnpg",
        (r) => (nested(r, "baremetal", "buckets").velero = "cnpg-backups"),
        "backup:velero.prefix",
        "Unavailable",
    ),
    bm(
        "a striped restore of 4294967296 stripes",
        (r) => (mssql(r)[0].restore = restore("RCIIS_20260217T030000Z_1of4294967296.bak")),
        "backup:mssql[0].restore.file",
        "1 to 64 stripes",
    ),
    bm(
        "a striped restore of 65 stripes",
        (r) => (mssql(r)[0].restore = restore("RCIIS_20260217T030000Z_1of65.bak")),
        "backup:mssql[0].restore.file",
        "1 to 64 stripes",
    ),
    bm(
        "a striped restore of 0 stripes",
        (r) => (mssql(r)[0].restore = restore("RCIIS_20260217T030000Z_1of0.bak")),
        "backup:mssql[0].restore.file",
        "1 to 64 stripes",
    ),
    bm(
        "a restore naming the second stripe",
        (r) => (mssql(r)[0].restore = restore("RCIIS_20260217T030000Z_2of4.bak")),
        "backup:mssql[0].restore.file",
        "_1of4.bak",
    ),

    // ---- cron expressions, checked field by field (croner) ----
    ...[
        "0 3 * * *;id",
        "60 3 * * *",
        "0 24 * * *",
        "0 5 32 * *",
        "0 6 * 13 *",
        "0 3 * * funday",
        "0 3 L * *",
        "0 3 * * 5#2",
        "*/0 3 * * *",
        "0 3 5-1 * *",
    ].map((schedule) =>
        bm(
            `the SQL Server schedule "${schedule}"`,
            (r) => (mssql(r)[0].schedule = schedule),
            "backup:mssql[0].schedule",
            `"${schedule}"`,
            "five-field cron",
        ),
    ),
    bm(
        "an off-site schedule on 30 February",
        (r) => (r.offsite = { ...offsiteTo({}), schedule: "0 6 30 2 *" }),
        "backup:offsite.schedule",
        "never runs",
    ),
    bm(
        "a Velero schedule at minute 61",
        (r) => (r.velero = { schedules: { daily: { schedule: "61 2 * * *", ttl: "720h" } } }),
        "backup:velero.schedules.daily.schedule",
        "minute 0-59",
    ),
    bm(
        "an empty list of snapshot StorageClasses",
        (r) => (section(r, "velero").snapshotStorageClasses = []),
        "backup:velero.snapshotStorageClasses",
        "list at least one StorageClass",
    ),
    aws(
        "a snapshot StorageClass name with capitals and an underscore",
        (r) => (section(r, "velero").snapshotStorageClasses = ["GP3_fast"]),
        "backup:velero.snapshotStorageClasses[0]",
        "DNS-1123 subdomain",
    ),
    bm(
        "a drill schedule with seconds",
        (r) => (r.drills = { enabled: true, schedule: "0 0 5 * * 0" }),
        "backup:drills.schedule",
        "five-field cron",
    ),
    ...["0 0 24 * * *", "60 0 2 * * *", "0 0 2 * * 8", "0 0 2 * * *;id"].map((schedule) =>
        bm(
            `the CNPG schedule "${schedule}"`,
            (r) => (r.cnpg = { schedule }),
            "backup:cnpg.schedule",
            `"${schedule}"`,
            "six fields, seconds first",
        ),
    ),

    // ---- keys outside backup: ----
    {
        what: "a misspelt namespace (bakup:)",
        stack: "baremetal",
        extra: { "bakup:retention": "30d" },
        key: "bakup:retention",
        says: [
            'unknown config namespace "bakup"',
            "allowed namespaces: backup, pulumi, kubernetes, aws, random",
            "did you mean backup:retention",
        ],
    },
    {
        what: "a key without a namespace (stored under the project's name)",
        stack: "aws",
        extra: { "backup-platform:retention": "30d" },
        key: "backup-platform:retention",
        says: ['unknown config namespace "backup-platform"', "did you mean backup:retention"],
    },

    // ---- derived Kubernetes names ----
    bm(
        "a SQL Server database starting with '_'",
        (r) => (mssql(r)[0].name = "_RCIIS"),
        "backup:mssql[0].name",
        '"-rciis-mssql-backup"',
        "DNS-1123",
    ),
    bm(
        "a SQL Server database ending with '_'",
        (r) => (mssql(r)[0].name = "RCIIS_"),
        "backup:mssql[0].name",
        '"RCIIS_" is not a valid label value',
    ),
    bm(
        "a 128-character SQL Server database",
        (r) => (mssql(r)[0].name = `R${"x".repeat(127)}`),
        "backup:mssql[0].name",
        "141 characters; the limit is 52",
    ),
    bm(
        "a 40-character SQL Server database",
        (r) => (mssql(r)[0].name = `R${"x".repeat(39)}`),
        "backup:mssql[0].name",
        "the limit is 52",
        "at most 39",
    ),
    bm(
        "RCIIS and rciis in one namespace",
        (r) => (r.mssql = [...mssql(r), { name: "rciis", namespace: "rciis-prod" }]),
        "backup:mssql[1].name",
        '"rciis-mssql-backup"',
        "rename one",
    ),
    bm(
        "an alert label value over 63 characters",
        (r) => (r.alerts = { labels: { release: "p".repeat(64) } }),
        "backup:alerts.labels.release",
        "at most 63",
    ),
    bm(
        "a protected-pod label value with a quote",
        (r) => (r.descheduler = { protectedPods: [{ key: "app", values: ["db'"] }] }),
        "backup:descheduler.protectedPods[0].values[0]",
        "not a valid label value",
    ),
    bm(
        // The real descheduler (e2e/toolchain.sh descheduler, 0.36.0) refuses it at startup: "invalid pod protection
        // policy in ExtraEnabled ... Valid options are: [PodsWithPVC PodsWithoutPDB PodsWithResourceClaims]".
        "a pod protection the descheduler does not know",
        (r) => (r.descheduler = { podProtections: { extraEnabled: ["PodsWithPDBBlockingSingleReplicaOwner"] } }),
        "backup:descheduler.podProtections.extraEnabled[0]",
        "PodsWithPVC",
    ),
    bm(
        "an alert label key with a space",
        (r) => (r.alerts = { labels: { "my release": "prometheus" } }),
        "backup:alerts.labels",
        "label key",
    ),
    bm("a dashboard without labels", (r) => (r.dashboard = { labels: {} }), "backup:dashboard.labels", "at least one label"),
    bm(
        "a dashboard label value with a space",
        (r) => (r.dashboard = { labels: { grafana_dashboard: "yes please" } }),
        "backup:dashboard.labels.grafana_dashboard",
        "not a valid label value",
    ),
    bm("a dashboard folder with a slash", (r) => (r.dashboard = { folder: "ops/backups" }), "backup:dashboard.folder", "directory name"),
    bm("a dashboard folder of '..'", (r) => (r.dashboard = { folder: ".." }), "backup:dashboard.folder", "starting with a letter or digit"),
    bm(
        "a dashboard folder annotation with a space",
        (r) => (r.dashboard = { folderAnnotation: "grafana folder" }),
        "backup:dashboard.folderAnnotation",
        "label key",
    ),
    bm("a dashboard uid over 40 characters", (r) => (r.dashboard = { uid: "b".repeat(41) }), "backup:dashboard.uid", "1-40"),
    bm("a dashboard enabled as a string", (r) => (r.dashboard = { enabled: "yes" }), "backup:dashboard.enabled", "boolean"),
    bm("a dashboard key that does not exist", (r) => (r.dashboard = { title: "Backups" }), "backup:dashboard", "unknown key(s) title"),

    // ---- endpoints, regions, logical file names ----
    bm(
        "an endpoint with a password",
        (r) => (section(r, "baremetal").endpoint = "https://admin:hunter2@rgw.local"),
        "backup:baremetal.endpoint",
        "credentials",
    ),
    bm(
        "an endpoint with a query string",
        (r) => (section(r, "baremetal").endpoint = "https://rgw.local/?x=1"),
        "backup:baremetal.endpoint",
        "query",
    ),
    bm(
        "an endpoint with a fragment",
        (r) => (section(r, "baremetal").endpoint = "https://rgw.local#top"),
        "backup:baremetal.endpoint",
        "fragment",
    ),
    bm("an endpoint without a host", (r) => (section(r, "baremetal").endpoint = "https://"), "backup:baremetal.endpoint", "needs a host"),
    bm(
        "an endpoint with only a port",
        (r) => (section(r, "baremetal").endpoint = "https://:443"),
        "backup:baremetal.endpoint",
        "needs a host",
    ),
    bm(
        "an endpoint on port 99999",
        (r) => (section(r, "baremetal").endpoint = "https://rgw.local:99999"),
        "backup:baremetal.endpoint",
        "1 to 65535",
    ),
    bm(
        "an endpoint on port 0",
        (r) => (section(r, "baremetal").endpoint = "https://rgw.local:0"),
        "backup:baremetal.endpoint",
        "1 to 65535",
    ),
    bm(
        "an endpoint with a quote",
        (r) => (section(r, "baremetal").mssqlEndpoint = "https://s3.rciis.africa'--"),
        "backup:baremetal.mssqlEndpoint",
        "not a host name",
    ),
    bm(
        "an endpoint with $(",
        (r) => (section(r, "baremetal").mssqlEndpoint = "https://$(S3_SECRET_KEY)"),
        "backup:baremetal.mssqlEndpoint",
        "not a host name",
    ),
    bm(
        "an endpoint with a space",
        (r) => (section(r, "baremetal").endpoint = "https://rgw local"),
        "backup:baremetal.endpoint",
        "not a host name",
    ),
    bm(
        "an off-site endpoint with a password",
        (r) => (r.offsite = offsiteTo({ endpoint: "https://k:s@s3.example.com" })),
        "backup:offsite.destination.endpoint",
        "credentials",
    ),
    bm(
        "a region that closes the SQL batch",
        (r) => (section(r, "baremetal").region = `x"}}'; DROP DATABASE RCIIS; --`),
        "backup:baremetal.region",
        "lowercase letters, digits",
    ),
    bm(
        "a region with an sqlcmd variable",
        (r) => (section(r, "baremetal").region = "$(S3_SECRET_KEY)"),
        "backup:baremetal.region",
        "lowercase letters, digits",
    ),
    bm("a region with a brace", (r) => (section(r, "baremetal").region = "kenya}"), "backup:baremetal.region", "lowercase letters, digits"),
    bm(
        "a region with a space",
        (r) => (section(r, "baremetal").region = "rciis kenya"),
        "backup:baremetal.region",
        "lowercase letters, digits",
    ),
    bm(
        "an off-site region with a quote",
        (r) => (r.offsite = offsiteTo({ region: "eu'west" })),
        "backup:offsite.destination.region",
        "lowercase letters, digits",
    ),
    bm(
        "a logical file name that closes the SQL string",
        (r) =>
            (mssql(r)[0].restore = {
                ...restore("RCIIS_1.bak"),
                move: [{ logicalName: "RCIIS'; DROP DATABASE RCIIS; --", physicalPath: "/var/opt/mssql/data/x.mdf" }],
            }),
        "backup:mssql[0].restore.move[0].logicalName",
        "no quotes",
    ),
    bm(
        "a logical file name with an sqlcmd variable",
        (r) =>
            (mssql(r)[0].restore = {
                ...restore("RCIIS_1.bak"),
                move: [{ logicalName: "$(S3_SECRET_KEY)", physicalPath: "/var/opt/mssql/data/x.mdf" }],
            }),
        "backup:mssql[0].restore.move[0].logicalName",
        "no quotes, brackets or $",
    ),
    bm(
        "a logical file name of 129 characters",
        (r) =>
            (mssql(r)[0].restore = {
                ...restore("RCIIS_1.bak"),
                move: [{ logicalName: "L".repeat(129), physicalPath: "/var/opt/mssql/data/x.mdf" }],
            }),
        "backup:mssql[0].restore.move[0].logicalName",
        "at most 128",
    ),
    bm(
        "a physical path with an sqlcmd variable",
        (r) =>
            (mssql(r)[0].restore = {
                ...restore("RCIIS_1.bak"),
                move: [{ logicalName: "RCIIS", physicalPath: "/var/$(S3_SECRET_KEY).mdf" }],
            }),
        "backup:mssql[0].restore.move[0].physicalPath",
        "$(",
    ),

    // ---- AWS names, regions, times and durations ----
    ...["xn--backups", "sthree-backups", "sthree-configurator", "amzn-s3-demo-backups"].map((b) =>
        aws(
            `a bucket named ${b} (reserved prefix)`,
            (r) => (nested(r, "aws", "buckets").velero = b),
            "backup:aws.buckets.velero",
            "reserved by S3",
        ),
    ),
    ...["backups-s3alias", "backups--ol-s3", "backups--x-s3", "backups--table-s3"].map((b) =>
        aws(
            `a bucket named ${b} (reserved suffix)`,
            (r) => (nested(r, "aws", "buckets").cnpg = b),
            "backup:aws.buckets.cnpg",
            "reserved by S3",
        ),
    ),
    aws(
        "a region that does not exist",
        (r) => (section(r, "aws").region = "zz-moon-9"),
        "backup:aws.region",
        '"zz-moon-9" is not an AWS region',
        "eu-west-1",
    ),
    aws(
        "a replica region that does not exist",
        (r) => (r.offsite = { enabled: true, aws: { region: "zz-moon-9" } }),
        "backup:offsite.aws.region",
        "not an AWS region",
    ),
    aws(
        "a recovery target on 30 February",
        (r) => (r.cnpg = { recoveries: recoveryAt("2026-02-30T12:00:00Z") }),
        "backup:cnpg.recoveries[0].targetTime",
        "exists on the calendar",
    ),
    aws(
        "a recovery target at hour 24",
        (r) => (r.cnpg = { recoveries: recoveryAt("2026-01-10T24:00:00Z") }),
        "backup:cnpg.recoveries[0].targetTime",
        "exists on the calendar",
    ),
    aws(
        "a recovery target in a zone +25:00",
        (r) => (r.cnpg = { recoveries: recoveryAt("2026-01-10T12:00:00+25:00") }),
        "backup:cnpg.recoveries[0].targetTime",
        "exists on the calendar",
    ),
    aws(
        "a TTL of 99999999999999h",
        (r) => (section(r, "velero").schedules = { daily: { schedule: "0 2 * * *", ttl: "99999999999999h" } }),
        "backup:velero.schedules.daily.ttl",
        "at most 87600h",
    ),
    aws(
        "a TTL of 87601h",
        (r) => (section(r, "velero").schedules = { daily: { schedule: "0 2 * * *", ttl: "87601h" } }),
        "backup:velero.schedules.daily.ttl",
        "ten years",
    ),
    aws("a retention of 9999 months", (r) => (r.retention = "9999m"), "backup:retention", "at most ten years"),
    aws("a retention of 3651 days", (r) => (r.retention = "3651d"), "backup:retention", "at most ten years"),

    // ---- messages that say what is allowed ----
    aws(
        "aws.eks given as a string",
        (r) => (section(r, "aws").eks = "rciis-aws"),
        "backup:aws.eks",
        "{ clusterName }",
        "{ oidcProviderArn, oidcIssuerUrl }",
    ),
    aws("aws.eks empty", (r) => (section(r, "aws").eks = {}), "backup:aws.eks", "{ clusterName }", "{ oidcProviderArn, oidcIssuerUrl }"),
    aws("aws.eks missing", (r) => delete section(r, "aws").eks, "backup:aws.eks", "required", "{ clusterName }"),

    // ---- namespaces the program creates (and would delete) ----
    bm(
        "velero in an application namespace",
        (r) => (r.velero = { namespace: "rciis-prod" }),
        "backup:velero.namespace",
        "backup:namespaces[0]",
        "deletes it on destroy",
    ),
    bm("velero in kube-system", (r) => (r.velero = { namespace: "kube-system" }), "backup:velero.namespace", "system namespace"),
    bm("velero in default", (r) => (r.velero = { namespace: "default" }), "backup:velero.namespace", "system namespace"),
    bm(
        "velero in a database namespace",
        (r) => (r.velero = { namespace: "keycloak" }),
        "backup:velero.namespace",
        "backup:postgres[3].namespace",
    ),
    bm(
        "velero in the alerts namespace",
        (r) => ((r.velero = { namespace: "ops" }), (r.alerts = { namespace: "ops" })),
        "backup:velero.namespace",
        "backup:alerts.namespace",
    ),
    bm(
        "velero in the dashboard namespace",
        (r) => ((r.velero = { namespace: "grafana" }), (r.dashboard = { namespace: "grafana" })),
        "backup:velero.namespace",
        "backup:dashboard.namespace",
    ),
    bm("a dashboard namespace with capitals", (r) => (r.dashboard = { namespace: "Grafana" }), "backup:dashboard.namespace", "DNS-1123"),
    bm(
        "velero in the object store namespace",
        (r) => (r.velero = { namespace: "rook-ceph" }),
        "backup:velero.namespace",
        "backup:baremetal.objectStoreNamespace",
    ),
    bm(
        "velero in a namespace a schedule includes",
        (r) =>
            (r.velero = { namespace: "apps", schedules: { daily: { schedule: "0 2 * * *", ttl: "720h", includedNamespaces: ["apps"] } } }),
        "backup:velero.namespace",
        "backup:velero.schedules.daily.includedNamespaces[0]",
    ),
    aws(
        "velero in the SQL Server namespace",
        (r) => ((r.velero = { namespace: "sql" }), (mssql(r)[0].namespace = "sql")),
        "backup:velero.namespace",
        "backup:mssql[0].namespace",
    ),
    bm(
        "the off-site copy in an application namespace",
        (r) => (r.offsite = { ...offsiteTo({}), namespace: "rciis-prod" }),
        "backup:offsite.namespace",
        "already in use",
    ),
    bm(
        "the off-site copy in kube-public",
        (r) => (r.offsite = { ...offsiteTo({}), namespace: "kube-public" }),
        "backup:offsite.namespace",
        "system namespace",
    ),
    bm(
        "the off-site copy in Velero's namespace",
        (r) => (r.offsite = { ...offsiteTo({}), namespace: "velero" }),
        "backup:offsite.namespace",
        "backup:velero.namespace",
    ),
];
