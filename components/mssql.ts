// SQL Server BACKUP TO URL (S3): a CronJob per database, and an optional restore Job rendered only
// when configured. No password or key ever appears on a command line: sqlcmd reads the password
// from SQLCMDPASSWORD and the S3 keys as scripting variables from its environment.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { type Resources } from "../core/workloads";
import { mssqlBackupJobName, mssqlRestoreJobName } from "../core/names";
import { type BackupTarget } from "../core/targets";
import { cronJobPolicy } from "../core/cronjob";
import { owned } from "../core/ownership";
import { assertSqlSafe, type Part, sqlIdentifier, sqlString, SqlcmdVariable, TsqlError } from "./tsql";
import { jobPath, ScheduledJob } from "../core/jobs";

/** One SQL Server database to back up (and optionally restore), as this component needs it. */
export interface MssqlDatabase {
    /** Database name inside SQL Server (an identifier: letters, digits, '_'). */
    readonly name: string;
    /** Namespace of the SQL Server StatefulSet. */
    readonly namespace: string;
    /** Backup CronJob schedule, five fields, UTC. */
    readonly schedule: string;
    /** SQL Server service host in the namespace. */
    readonly host: string;
    /** TCP port. */
    readonly port: number;
    /** Login used for BACKUP. */
    readonly user: string;
    /** Secret holding that login's password. */
    readonly passwordSecret: { readonly name: string; readonly key: string };
    /** Image with sqlcmd (mssql-tools18), pinned. */
    readonly image: string;
    /** Stripe the backup over this many URLs. */
    readonly stripes: number;
    /** Name of the SQL Server credential the job (re)creates. */
    readonly credentialName: string;
    /** Trust the server's TLS certificate without validation (sqlcmd -C). */
    readonly trustServerCertificate: boolean;
    /** Job resources. */
    readonly resources: Resources;
    /** A one-off restore Job. Default none. */
    readonly restore?: {
        /** Object name of the .bak file under the database's prefix (striped: the _1of<n> name). */
        readonly file: string;
        /** Database name to restore into. Default the backed-up database. */
        readonly targetDatabase?: string;
        /** WITH REPLACE: overwrite an existing database. */
        readonly replace: boolean;
        /** WITH MOVE pairs. */
        readonly move: readonly { readonly logicalName: string; readonly physicalPath: string }[];
    };
}

/** Where SQL Server's images keep sqlcmd (mssql-tools18). */
const SQLCMD = "/opt/mssql-tools18/bin/sqlcmd";
/** The mssql user of Microsoft's images. */
const MSSQL_UID = 10001;

/** The sqlcmd variables the scripts use on purpose: the job exports them; no config value becomes one. */
const BACKUP_STAMP = SqlcmdVariable.of("BACKUP_STAMP");
const S3_ACCESS_KEY = SqlcmdVariable.of("S3_ACCESS_KEY");
const S3_SECRET_KEY = SqlcmdVariable.of("S3_SECRET_KEY");
/** BACKUP TO URL takes at most 64 URLs. */
const MAX_STRIPES = 64;

/** `s3://host[:port]/bucket/prefix`: SQL Server's S3 URL form (always https underneath). Each piece is checked for sqlcmd. */
export function s3UrlBase(target: BackupTarget): string {
    const host =
        target.endpoint !== undefined
            ? target.endpoint.replace(/^https:\/\//, "").replace(/\/$/, "")
            : `s3.${assertSqlSafe(target.region, "region")}.amazonaws.com`;
    assertSqlSafe(host, "endpoint host");
    assertSqlSafe(target.bucket, "bucket");
    assertSqlSafe(target.prefix, "prefix");
    return `s3://${[host, target.bucket, target.prefix].filter((p) => p !== "").join("/")}`;
}

/** The URLs of one backup set, as literal parts: the stamp is substituted by sqlcmd at run time. */
export function backupUrls(target: BackupTarget, db: MssqlDatabase): Part[][] {
    const base = `${s3UrlBase(target)}/${assertSqlSafe(db.name, "database name")}_`;
    checkStripes(db.stripes, `database ${db.name}`);
    return db.stripes === 1
        ? [[base, BACKUP_STAMP, ".bak"]]
        : Array.from({ length: db.stripes }, (_, i) => [base, BACKUP_STAMP, `_${i + 1}of${db.stripes}.bak`]);
}

/** Refuses a stripe count BACKUP/RESTORE cannot use, before any array of that size is built. */
function checkStripes(n: number, what: string): void {
    if (!Number.isSafeInteger(n) || n < 1 || n > MAX_STRIPES) {
        throw new TsqlError(`SQL Server ${what}: ${n} stripes, but BACKUP TO URL takes 1 to ${MAX_STRIPES} URLs`);
    }
}

const urlList = (urls: readonly (string | Part[])[]) => urls.map((u) => `URL = ${sqlString(u, "backup URL")}`).join(",\n       ");

/** (Re)creates the S3 credential; the keys arrive as sqlcmd variables from the environment. */
export function credentialSql(db: MssqlDatabase): string {
    const name = db.credentialName;
    return [
        `IF EXISTS (SELECT 1 FROM sys.credentials WHERE name = ${sqlString(name, "credentialName")})`,
        `    DROP CREDENTIAL ${sqlIdentifier(name, "credentialName")};`,
        `CREATE CREDENTIAL ${sqlIdentifier(name, "credentialName")}`,
        `    WITH IDENTITY = ${sqlString("S3 Access Key", "identity")}, SECRET = ${sqlString([S3_ACCESS_KEY, ":", S3_SECRET_KEY], "secret")};`,
        "",
    ].join("\n");
}

/** BACKUP DATABASE ... TO URL, compressed and checksummed, region passed via BACKUP_OPTIONS. */
export function backupSql(target: BackupTarget, db: MssqlDatabase): string {
    // JSON built by JSON.stringify (a quote in the region stays inside its JSON string), then quoted as a whole.
    const options = JSON.stringify({ s3: { region: assertSqlSafe(target.region, "region") } });
    return [
        `BACKUP DATABASE ${sqlIdentifier(db.name, "database name")}`,
        `TO ${urlList(backupUrls(target, db))}`,
        `WITH CREDENTIAL = ${sqlString(db.credentialName, "credentialName")}, FORMAT, COMPRESSION, CHECKSUM, STATS = 10,`,
        // 20 MiB parts: S3 allows 10,000 parts per object, so one stripe holds up to ~200 GiB.
        "     MAXTRANSFERSIZE = 20971520,",
        `     BACKUP_OPTIONS = ${sqlString(options, "BACKUP_OPTIONS")};`,
        "",
    ].join("\n");
}

/** The object names of a restore: one file, or every stripe of a `_1of<n>.bak` set. */
export function restoreFiles(file: string): string[] {
    assertSqlSafe(file, "restore.file");
    const striped = /_1of(\d+)\.bak$/.exec(file);
    if (!striped) return [file];
    const n = Number(striped[1]);
    checkStripes(n, `restore.file ${file}`);
    return Array.from({ length: n }, (_, i) => file.replace(/_1of(\d+)\.bak$/, `_${i + 1}of$1.bak`));
}

/** RESTORE DATABASE ... FROM URL for the configured restore (pure, for tests). */
export function restoreSql(target: BackupTarget, db: MssqlDatabase): string {
    const restore = db.restore;
    if (restore === undefined) throw new Error(`no restore configured for ${db.name}`);
    const base = s3UrlBase(target);
    const options = [
        `CREDENTIAL = ${sqlString(db.credentialName, "credentialName")}`,
        "CHECKSUM",
        ...(restore.replace ? ["REPLACE"] : []),
        ...restore.move.map(
            (m) =>
                `MOVE ${sqlString(m.logicalName, "restore.move logicalName")} TO ${sqlString(m.physicalPath, "restore.move physicalPath")}`,
        ),
        "STATS = 10",
    ];
    return [
        `RESTORE DATABASE ${sqlIdentifier(restore.targetDatabase ?? db.name, "restore target database")}`,
        `FROM ${urlList(restoreFiles(restore.file).map((f) => `${base}/${f}`))}`,
        `WITH ${options.join(",\n     ")};`,
        "",
    ].join("\n");
}

/** The job's shell: wait for the server, then run the SQL files. No secret is interpolated here. */
export function jobScript(kind: "backup" | "restore"): string {
    return `#!/bin/bash
set -euo pipefail
SQLCMD="\${SQLCMD:-${SQLCMD}}"
opts=(-S "tcp:\${MSSQL_HOST},\${MSSQL_PORT}" -U "\${MSSQL_USER}" -b)
if [ "\${TRUST_SERVER_CERTIFICATE}" = "true" ]; then opts+=(-C); fi
deadline=$((SECONDS + WAIT_SECONDS))
until "$SQLCMD" "\${opts[@]}" -Q "SELECT 1" >/dev/null; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "SQL Server \${MSSQL_HOST}:\${MSSQL_PORT} not reachable after \${WAIT_SECONDS}s" >&2
    exit 1
  fi
  echo "waiting for SQL Server \${MSSQL_HOST}:\${MSSQL_PORT}"
  sleep "\${POLL_SECONDS:-5}"
done
BACKUP_STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
export BACKUP_STAMP
"$SQLCMD" "\${opts[@]}" -i "\${SCRIPTS:-/scripts}/credential.sql"
"$SQLCMD" "\${opts[@]}" -i "\${SCRIPTS:-/scripts}/${kind}.sql"
echo "${kind} of \${DATABASE} finished (stamp \${BACKUP_STAMP})"
`;
}

/** The scripts ConfigMap's files: the job's shell and the SQL it runs (the restore's only when configured). */
export function jobFiles(target: BackupTarget, db: MssqlDatabase): Record<string, string> {
    return {
        "backup.sh": jobScript("backup"),
        "credential.sql": credentialSql(db),
        "backup.sql": backupSql(target, db),
        ...(db.restore ? { "restore.sh": jobScript("restore"), "restore.sql": restoreSql(target, db) } : {}),
    };
}

export interface MssqlBackupArgs {
    /** The database and its job settings. */
    readonly database: MssqlDatabase;
    /** Where its backups go; credentials must be a Secret (SQL Server cannot use IRSA). */
    readonly target: BackupTarget;
    /** Skip waiting for the restore Job to finish (local API servers). Default false. */
    readonly skipAwait?: boolean;
}

/** A BACKUP TO URL CronJob for one database, plus its restore Job when configured. */
export class MssqlBackup extends pulumi.ComponentResource {
    /** namespace/name of the CronJob. */
    /** The backup CronJob. */
    public readonly job: ScheduledJob;

    constructor(name: string, args: MssqlBackupArgs, opts?: pulumi.ComponentResourceOptions) {
        // Built first: a value the scripts cannot carry throws before anything, this component included, is registered.
        const files = jobFiles(args.target, args.database);
        super("backup:components:MssqlBackup", name, {}, opts);
        const db = args.database;
        const t = args.target;
        const secret = t.credentials;
        if (secret.kind !== "secret") throw new Error(`SQL Server ${db.name}: BACKUP TO URL needs key credentials, not IRSA`);
        if (t.endpoint !== undefined && !t.endpoint.startsWith("https://")) {
            throw new Error(`SQL Server ${db.name}: endpoint ${t.endpoint} is not https; SQL Server refuses plain http`);
        }
        const jobName = mssqlBackupJobName(db.name);
        const labels = {
            "app.kubernetes.io/name": "mssql-backup",
            "app.kubernetes.io/part-of": "backup-platform",
            "backup.platform/database": db.name,
        };
        const scripts = new k8s.core.v1.ConfigMap(
            `${name}-scripts`,
            {
                metadata: owned({ name: `${jobName}-scripts`, namespace: db.namespace, labels }),
                data: files,
            },
            { parent: this },
        );
        const pod = (kind: "backup" | "restore"): k8s.types.input.core.v1.PodSpec => ({
            restartPolicy: kind === "backup" ? "OnFailure" : "Never",
            // sqlcmd talks to SQL Server and S3 only; a mounted API token would be a credential for nothing.
            automountServiceAccountToken: false,
            securityContext: {
                runAsNonRoot: true,
                runAsUser: MSSQL_UID,
                runAsGroup: MSSQL_UID,
                seccompProfile: { type: "RuntimeDefault" },
            },
            containers: [
                {
                    name: `mssql-${kind}`,
                    image: db.image,
                    command: ["/bin/bash", `/scripts/${kind}.sh`],
                    env: [
                        { name: "MSSQL_HOST", value: db.host },
                        { name: "MSSQL_PORT", value: String(db.port) },
                        { name: "MSSQL_USER", value: db.user },
                        { name: "DATABASE", value: db.name },
                        { name: "TRUST_SERVER_CERTIFICATE", value: String(db.trustServerCertificate) },
                        { name: "WAIT_SECONDS", value: "600" },
                        { name: "HOME", value: "/tmp" },
                        // sqlcmd reads the password from here: never -P on a command line.
                        {
                            name: "SQLCMDPASSWORD",
                            valueFrom: { secretKeyRef: { name: db.passwordSecret.name, key: db.passwordSecret.key } },
                        },
                        { name: "S3_ACCESS_KEY", valueFrom: { secretKeyRef: { name: secret.secretName, key: secret.keys.accessKeyId } } },
                        {
                            name: "S3_SECRET_KEY",
                            valueFrom: { secretKeyRef: { name: secret.secretName, key: secret.keys.secretAccessKey } },
                        },
                    ],
                    resources: db.resources,
                    securityContext: { readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } },
                    volumeMounts: [
                        { name: "scripts", mountPath: "/scripts", readOnly: true },
                        { name: "tmp", mountPath: "/tmp" },
                    ],
                },
            ],
            volumes: [
                { name: "scripts", configMap: { name: scripts.metadata.name, defaultMode: 0o555 } },
                { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
            ],
        });
        new k8s.batch.v1.CronJob(
            `${name}-backup`,
            {
                metadata: owned({ name: jobName, namespace: db.namespace, labels }),
                spec: {
                    ...cronJobPolicy(db.schedule),
                    jobTemplate: {
                        metadata: { labels },
                        spec: {
                            backoffLimit: 3,
                            ttlSecondsAfterFinished: 3600,
                            activeDeadlineSeconds: 6 * 3600,
                            template: { metadata: { labels }, spec: pod("backup") },
                        },
                    },
                },
            },
            { parent: this, dependsOn: [...t.dependsOn, scripts] },
        );
        if (db.restore) {
            // A restore is not a backup: `-l app.kubernetes.io/name=mssql-backup` (README, troubleshooting) must not list it.
            const restoreLabels = { ...labels, "app.kubernetes.io/name": "mssql-restore" };
            new k8s.batch.v1.Job(
                `${name}-restore`,
                {
                    metadata: owned({
                        name: mssqlRestoreJobName(db.name),
                        namespace: db.namespace,
                        labels: restoreLabels,
                        ...(args.skipAwait ? { annotations: { "pulumi.com/skipAwait": "true" } } : {}),
                    }),
                    spec: { backoffLimit: 0, template: { metadata: { labels: restoreLabels }, spec: pod("restore") } },
                },
                { parent: this, dependsOn: [...t.dependsOn, scripts] },
            );
        }
        this.job = { namespace: db.namespace, cronJob: jobName, schedule: db.schedule };
        this.registerOutputs({ cronJob: jobPath(this.job) });
    }
}
