// AWS identities and the targets they make: an IRSA role for Velero, for each CloudNativePG cluster and for each
// drill cluster, scoped to its prefixes and to the bucket key through S3; an IAM user for SQL Server.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AwsConfig } from "../../config";
import { createConsumerSecret, secretLayout } from "../credentials";
import { cnpgWriters, mssqlPrefix, postgresPrefix } from "../layout";
import { CNPG_OBJECT_ACTIONS, KMS_READER_ACTIONS, KMS_WRITER_ACTIONS, MSSQL_OBJECT_ACTIONS, VELERO_OBJECT_ACTIONS } from "../actions";
import { kmsThroughS3, veleroSnapshotStatements } from "../s3/grants";
import { barmanListBucket, listBucket, policyJson, type Statement } from "../s3/bucket";
import { mssqlKey, type BackupTarget, type Consumer } from "../../core/targets";
import { drillClusterName } from "../../core/names";
import { irsaRole, type Oidc } from "./irsa";

/** What every identity of an AWS stack is built from. */
export interface Identities {
    /** Prefix of every resource name. */
    readonly name: string;
    readonly cfg: AwsConfig;
    readonly region: string;
    readonly partition: string;
    /** The buckets' KMS key; undefined with SSE-S3. */
    readonly kmsKeyArn?: pulumi.Output<string>;
    readonly oidc: Oidc;
    /** Parent of every identity and Secret (the storage component). */
    readonly parent: pulumi.Resource;
    /** `parent` and the stack's AWS provider. */
    readonly child: pulumi.CustomResourceOptions;
    /** `child` with the data-safety options (stacks/safety.ts). */
    readonly keep: pulumi.CustomResourceOptions;
}

/** ARN of a consumer's bucket. */
function bucketArn(ids: Identities, consumer: Consumer): string {
    return `arn:${ids.partition}:s3:::${ids.cfg.aws.buckets[consumer]}`;
}

/** The statement letting a consumer use the bucket key for `objects`; none with SSE-S3. */
function kmsStatements(ids: Identities, consumer: Consumer, objects: string[], actions = KMS_WRITER_ACTIONS): pulumi.Output<Statement[]> {
    // The bucket key, only through S3 in this region and only for `objects` of the consumer's bucket:
    // the key alone (e.g. SQL Server's long-lived access key) cannot encrypt or decrypt anything.
    const { kmsKeyArn, region, partition } = ids;
    return kmsKeyArn
        ? kmsKeyArn.apply((keyArn) => [
              kmsThroughS3({
                  sid: "UseBucketKeyThroughS3",
                  keyArn,
                  actions,
                  region,
                  partition,
                  bucketArn: bucketArn(ids, consumer),
                  objects,
              }),
          ])
        : pulumi.output([]);
}

/** A consumer's target in its bucket under `prefix`. */
function target(
    ids: Identities,
    consumer: Consumer,
    prefix: string,
    credentials: BackupTarget["credentials"],
    dependsOn: pulumi.Resource[],
): BackupTarget {
    return {
        consumer,
        bucket: ids.cfg.aws.buckets[consumer],
        prefix,
        region: ids.region,
        forcePathStyle: false,
        credentials,
        dependsOn,
    };
}

/** Velero's target, with the role its service account assumes. */
export function veleroTarget(ids: Identities): BackupTarget {
    const { name, cfg, region, partition } = ids;
    // Velero: its objects, and EC2 only when native (EBS) snapshots are on (CSI snapshots need
    // no AWS permission): scoped to the snapshots Velero tags.
    const veleroPrefix = cfg.velero.prefix;
    const veleroObjects = `${bucketArn(ids, "velero")}/${veleroPrefix === "" ? "" : `${veleroPrefix}/`}*`;
    const veleroSa = { namespace: cfg.velero.namespace, name: cfg.velero.serviceAccount };
    const veleroRole = irsaRole(
        `${name}-velero`,
        ids.oidc,
        veleroSa,
        kmsStatements(ids, "velero", [veleroObjects]).apply((kms) => [
            ...(cfg.velero.nativeSnapshots ? veleroSnapshotStatements(region, partition) : []),
            { Sid: "VeleroObjects", Effect: "Allow" as const, Action: VELERO_OBJECT_ACTIONS, Resource: veleroObjects },
            // The whole (Velero-only) bucket: S3 answers HeadObject of a missing key with 403 unless the caller may
            // list there, and Velero asks for velero-backup.json before every backup (e2e/test/velero.e2e.ts on RGW).
            listBucket(bucketArn(ids, "velero"), ""),
            ...kms,
        ]),
        ids.child,
    );
    return target(ids, "velero", veleroPrefix, { kind: "irsa", roleArn: veleroRole, serviceAccount: veleroSa }, []);
}

/** Every CloudNativePG cluster's target (inventory and recovery clusters), by cluster name. */
export function cnpgTargets(ids: Identities): Record<string, BackupTarget> {
    const cnpgBucket = bucketArn(ids, "cnpg");
    // CloudNativePG: one role per cluster, trusted only by that cluster's service account
    // (CNPG names it after the cluster), scoped to the cluster's prefix; a recovery cluster may
    // also read (never write) its source's prefix.
    const postgres: Record<string, BackupTarget> = {};
    for (const w of cnpgWriters(ids.cfg)) {
        const prefix = postgresPrefix(w.name);
        const sa = { namespace: w.namespace, name: w.name };
        const source = w.from === undefined ? [] : [`${cnpgBucket}/${postgresPrefix(w.from)}/*`];
        const roleArn = irsaRole(
            `${ids.name}-cnpg-${w.name}`,
            ids.oidc,
            sa,
            kmsStatements(ids, "cnpg", [`${cnpgBucket}/${prefix}/*`, ...source]).apply((kms) => [
                {
                    Sid: "BarmanObjects",
                    Effect: "Allow" as const,
                    Action: CNPG_OBJECT_ACTIONS,
                    Resource: `${cnpgBucket}/${prefix}/*`,
                },
                ...(source.length > 0
                    ? [{ Sid: "ReadRecoverySource", Effect: "Allow" as const, Action: ["s3:GetObject"], Resource: source }]
                    : []),
                barmanListBucket(cnpgBucket),
                { Sid: "BarmanBucketLocation", Effect: "Allow" as const, Action: "s3:GetBucketLocation", Resource: cnpgBucket },
                ...kms,
            ]),
            ids.child,
        );
        postgres[w.name] = target(ids, "cnpg", prefix, { kind: "irsa", roleArn, serviceAccount: sa }, []);
    }
    return postgres;
}

/** Every SQL Server database's target, by mssqlKey; the IAM user's key goes into a Secret per namespace. */
export function mssqlTargets(ids: Identities): Record<string, BackupTarget> {
    const { name, cfg, child, keep } = ids;
    // SQL Server cannot assume a role: a dedicated IAM user whose key is a Pulumi secret.
    const mssql: Record<string, BackupTarget> = {};
    if (cfg.mssql.length > 0) {
        const user = new aws.iam.User(`${name}-mssql`, { path: "/backup/", forceDestroy: false }, keep);
        const resources = cfg.mssql.map((db) => `${bucketArn(ids, "mssql")}/${mssqlPrefix(db.namespace, db.name)}/*`);
        new aws.iam.UserPolicy(
            `${name}-mssql`,
            {
                user: user.name,
                policy: kmsStatements(ids, "mssql", resources).apply((kms) =>
                    policyJson([
                        { Sid: "BackupFiles", Effect: "Allow", Action: MSSQL_OBJECT_ACTIONS, Resource: resources },
                        listBucket(bucketArn(ids, "mssql"), "mssql"),
                        ...kms,
                    ]),
                ),
            },
            child,
        );
        const key = new aws.iam.AccessKey(`${name}-mssql`, { user: user.name }, { ...keep, additionalSecretOutputs: ["id", "secret"] });
        for (const ns of [...new Set(cfg.mssql.map((db) => db.namespace))]) {
            const secret = createConsumerSecret(`${name}-mssql-${ns}`, "mssql", ns, key.id, key.secret, ids.parent);
            for (const db of cfg.mssql.filter((d) => d.namespace === ns)) {
                mssql[mssqlKey(db)] = target(ids, "mssql", mssqlPrefix(db.namespace, db.name), secretLayout("mssql", ns), [secret]);
            }
        }
    }
    return mssql;
}

/** Every drilled database's target, by database name; none when drills are off. */
export function drillTargets(ids: Identities): Record<string, BackupTarget> {
    const cnpgBucket = bucketArn(ids, "cnpg");
    // Restore drills: a read-only role per database, trusted only by its drill cluster's service
    // account (CNPG names it after the cluster, `<database>-drill`). It can read the source's
    // archive and nothing else; the drill cluster archives nowhere.
    const drills: Record<string, BackupTarget> = {};
    if (ids.cfg.drills.enabled) {
        for (const db of ids.cfg.postgres) {
            const prefix = postgresPrefix(db.name);
            const sa = { namespace: db.namespace, name: drillClusterName(db.name) };
            const decrypt = kmsStatements(ids, "cnpg", [`${cnpgBucket}/${prefix}/*`], KMS_READER_ACTIONS);
            const roleArn = irsaRole(
                `${ids.name}-cnpg-${drillClusterName(db.name)}`,
                ids.oidc,
                sa,
                decrypt.apply((kms) => [
                    {
                        Sid: "ReadArchive",
                        Effect: "Allow" as const,
                        Action: ["s3:GetObject"],
                        Resource: `${cnpgBucket}/${prefix}/*`,
                    },
                    barmanListBucket(cnpgBucket),
                    {
                        Sid: "BarmanBucketLocation",
                        Effect: "Allow" as const,
                        Action: "s3:GetBucketLocation",
                        Resource: cnpgBucket,
                    },
                    ...kms,
                ]),
                ids.child,
            );
            drills[db.name] = target(ids, "cnpg", prefix, { kind: "irsa", roleArn, serviceAccount: sa }, []);
        }
    }
    return drills;
}
