// SQL Server BACKUP TO URL (S3): a CronJob per database, and an optional restore Job rendered only
// when configured. No password or key ever appears on a command line: sqlcmd reads the password
// from SQLCMDPASSWORD and the S3 keys as scripting variables from its environment.
// The scripts the jobs run are built in scripts.ts.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { mssqlBackupJobName, mssqlRestoreJobName, PART_OF } from "../../core/names";
import { type BackupTarget, type SecretCredentials } from "../../core/targets";
import { cronJobPolicy } from "../../core/cronjob";
import { owned } from "../../core/ownership";
import { jobPath, ScheduledJob } from "../../core/jobs";
import { jobFiles, type MssqlDatabase } from "./scripts";

export {
    backupSql,
    backupUrls,
    credentialSql,
    jobFiles,
    jobScript,
    restoreFiles,
    restoreSql,
    s3UrlBase,
    type MssqlDatabase,
} from "./scripts";

/** The mssql user of Microsoft's images. */
const MSSQL_UID = 10001;

export interface MssqlBackupArgs {
    /** The database and its job settings. */
    readonly database: MssqlDatabase;
    /** Where its backups go; credentials must be a Secret (SQL Server cannot use IRSA). */
    readonly target: BackupTarget;
    /** Skip waiting for the restore Job to finish (local API servers). Default false. */
    readonly skipAwait?: boolean;
}

/** The target's key credentials, refusing what SQL Server cannot use: IRSA, or an endpoint that is not https. */
function keyCredentials(db: MssqlDatabase, t: BackupTarget): SecretCredentials {
    const secret = t.credentials;
    if (secret.kind !== "secret") throw new Error(`SQL Server ${db.name}: BACKUP TO URL needs key credentials, not IRSA`);
    if (t.endpoint !== undefined && !t.endpoint.startsWith("https://")) {
        throw new Error(`SQL Server ${db.name}: endpoint ${t.endpoint} is not https; SQL Server refuses plain http`);
    }
    return secret;
}

/** The pod of a backup or restore job: sqlcmd running the scripts from ConfigMap `scripts`, secrets from the environment. */
function jobPod(
    kind: "backup" | "restore",
    db: MssqlDatabase,
    secret: SecretCredentials,
    scripts: pulumi.Input<string>,
): k8s.types.input.core.v1.PodSpec {
    return {
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
            { name: "scripts", configMap: { name: scripts, defaultMode: 0o555 } },
            { name: "tmp", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        ],
    };
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
        const secret = keyCredentials(db, t);
        const jobName = mssqlBackupJobName(db.name);
        const labels = {
            "app.kubernetes.io/name": "mssql-backup",
            ...PART_OF,
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
                            template: { metadata: { labels }, spec: jobPod("backup", db, secret, scripts.metadata.name) },
                        },
                    },
                },
            },
            { parent: this, dependsOn: [...t.dependsOn, scripts] },
        );
        if (db.restore)
            this.restoreJob(name, args, labels, jobPod("restore", db, secret, scripts.metadata.name), [...t.dependsOn, scripts]);
        this.job = { namespace: db.namespace, cronJob: jobName, schedule: db.schedule };
        this.registerOutputs({ cronJob: jobPath(this.job) });
    }

    /** The one-off restore Job, running `pod`. */
    private restoreJob(
        name: string,
        args: MssqlBackupArgs,
        labels: Record<string, string>,
        pod: k8s.types.input.core.v1.PodSpec,
        dependsOn: pulumi.Resource[],
    ): void {
        const db = args.database;
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
                spec: { backoffLimit: 0, template: { metadata: { labels: restoreLabels }, spec: pod } },
            },
            { parent: this, dependsOn },
        );
    }
}
