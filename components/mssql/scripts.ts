// The files of the SQL Server jobs (pure, for tests): the T-SQL of BACKUP TO URL, of the credential and of the
// configured restore, and the shell that runs them. Every value reaches the SQL through the quoting of tsql.ts.
import { type Resources } from "../../core/workloads";
import { type BackupTarget } from "../../core/targets";
import { assertSqlSafe, type Part, sqlIdentifier, sqlString, SqlcmdVariable, TsqlError } from "../tsql";

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
