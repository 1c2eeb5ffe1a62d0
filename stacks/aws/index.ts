// AWS: S3 buckets, a customer-managed KMS key, least-privilege IAM, IRSA roles for Velero and each
// CloudNativePG cluster, and an IAM user for SQL Server (which cannot use IRSA).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AwsConfig } from "../../config";
import { createConsumerSecret, secretLayout } from "../credentials";
import { activeConsumers, cnpgWriters, mssqlPrefix, planBuckets, postgresPrefix } from "../layout";
import { CNPG_OBJECT_ACTIONS, KMS_READER_ACTIONS, KMS_WRITER_ACTIONS, MSSQL_OBJECT_ACTIONS, VELERO_OBJECT_ACTIONS } from "../actions";
import { kmsThroughS3, veleroSnapshotStatements } from "../s3/grants";
import { replicateBuckets, type Replica } from "./replication";
import { backupKey, barmanListBucket, guardedBucket, listBucket, partitionOf, policyJson, type Statement } from "../s3/bucket";
import { statefulOptions } from "../safety";
import { mssqlKey, type BackupTarget, type BackupTargets, type Consumer } from "../../core/targets";
import { drillClusterName } from "../../core/names";
import { type Platform } from "../../core/platform";

export interface AwsStorageArgs {
    /** Validated stack configuration (platform aws). */
    readonly config: AwsConfig;
}

/** Buckets, key and identities on AWS; `targets` is what downstream components consume. */
export class AwsStorage extends pulumi.ComponentResource {
    public readonly targets: BackupTargets;
    /** Bucket name and ARN per active consumer. */
    public readonly buckets: Partial<Record<Consumer, { name: string; arn: pulumi.Output<string> }>>;
    /** ARN of the customer-managed KMS key, when encryption is kms. */
    public readonly kmsKeyArn?: pulumi.Output<string>;
    /** Replica bucket per active consumer, when the off-site copy is on. */
    public readonly replicas?: Partial<Record<Consumer, Replica>>;

    constructor(name: string, args: AwsStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:stacks:AwsStorage", name, {}, opts);
        const cfg = args.config;
        const region = cfg.aws.region;
        const partition = partitionOf(region);
        const provider = new aws.Provider(`${name}-aws`, { region }, { parent: this });
        const child = { parent: this, provider };
        const keep = statefulOptions(cfg, child);

        let kmsKeyArn: pulumi.Output<string> | undefined;
        if (cfg.aws.encryption === "kms") {
            kmsKeyArn = backupKey(
                `${name}-backups`,
                {
                    description: "Encrypts the backup buckets (Velero, CloudNativePG, SQL Server)",
                    alias: `alias/backup-platform-${pulumi.getStack()}`,
                },
                child,
                keep,
            ).arn;
        }
        this.kmsKeyArn = kmsKeyArn;

        const plans = planBuckets(cfg, cfg.aws.buckets);
        const sources = new Map<string, ReturnType<typeof guardedBucket>>();
        const bucketArns = new Map<string, pulumi.Output<string>>();
        for (const plan of plans) {
            const locked = cfg.aws.objectLock.enabled && plan.owner !== "velero";
            const source = guardedBucket(
                `${name}-${plan.owner}`,
                { name: plan.name, lifecycle: plan.lifecycle, kmsKeyArn, objectLockDays: locked ? cfg.aws.objectLock.days : undefined },
                child,
                keep,
            );
            sources.set(plan.name, source);
            bucketArns.set(plan.name, source.bucket.arn);
        }
        // The third copy: S3 replication of every backup bucket into a second region.
        this.replicas = cfg.offsite.enabled
            ? replicateBuckets(name, { config: cfg, plans, sources, kmsKeyArn, partition }, child, keep)
            : undefined;
        this.buckets = Object.fromEntries(
            activeConsumers(cfg).map((c) => [
                c,
                { name: cfg.aws.buckets[c], arn: bucketArns.get(cfg.aws.buckets[c]) as pulumi.Output<string> },
            ]),
        );

        const oidc = this.oidc(cfg, partition, provider);
        const bucketArn = (c: Consumer) => `arn:${partition}:s3:::${cfg.aws.buckets[c]}`;
        // The bucket key, only through S3 in this region and only for `objects` of the consumer's bucket:
        // the key alone (e.g. SQL Server's long-lived access key) cannot encrypt or decrypt anything.
        const kmsStatements = (consumer: Consumer, objects: string[], actions = KMS_WRITER_ACTIONS): pulumi.Output<Statement[]> =>
            kmsKeyArn
                ? kmsKeyArn.apply((keyArn) => [
                      kmsThroughS3({
                          sid: "UseBucketKeyThroughS3",
                          keyArn,
                          actions,
                          region,
                          partition,
                          bucketArn: bucketArn(consumer),
                          objects,
                      }),
                  ])
                : pulumi.output([]);
        const target = (
            consumer: Consumer,
            prefix: string,
            credentials: BackupTarget["credentials"],
            dependsOn: pulumi.Resource[],
        ): BackupTarget => ({
            consumer,
            bucket: cfg.aws.buckets[consumer],
            prefix,
            region,
            forcePathStyle: false,
            credentials,
            dependsOn,
        });

        // Velero: its objects, and EC2 only when native (EBS) snapshots are on (CSI snapshots need
        // no AWS permission): scoped to the snapshots Velero tags.
        const veleroPrefix = cfg.velero.prefix;
        const veleroObjects = `${bucketArn("velero")}/${veleroPrefix === "" ? "" : `${veleroPrefix}/`}*`;
        const veleroSa = { namespace: cfg.velero.namespace, name: cfg.velero.serviceAccount };
        const veleroRole = this.irsaRole(
            `${name}-velero`,
            oidc,
            veleroSa,
            kmsStatements("velero", [veleroObjects]).apply((kms) => [
                ...(cfg.velero.nativeSnapshots ? veleroSnapshotStatements(region, partition) : []),
                { Sid: "VeleroObjects", Effect: "Allow" as const, Action: VELERO_OBJECT_ACTIONS, Resource: veleroObjects },
                // The whole (Velero-only) bucket: S3 answers HeadObject of a missing key with 403 unless the caller may
                // list there, and Velero asks for velero-backup.json before every backup (e2e/test/velero.e2e.ts on RGW).
                listBucket(bucketArn("velero"), ""),
                ...kms,
            ]),
            child,
        );
        const velero = target("velero", veleroPrefix, { kind: "irsa", roleArn: veleroRole, serviceAccount: veleroSa }, []);

        // CloudNativePG: one role per cluster, trusted only by that cluster's service account
        // (CNPG names it after the cluster), scoped to the cluster's prefix; a recovery cluster may
        // also read (never write) its source's prefix.
        const postgres: Record<string, BackupTarget> = {};
        for (const w of cnpgWriters(cfg)) {
            const prefix = postgresPrefix(w.name);
            const sa = { namespace: w.namespace, name: w.name };
            const source = w.from === undefined ? [] : [`${bucketArn("cnpg")}/${postgresPrefix(w.from)}/*`];
            const roleArn = this.irsaRole(
                `${name}-cnpg-${w.name}`,
                oidc,
                sa,
                kmsStatements("cnpg", [`${bucketArn("cnpg")}/${prefix}/*`, ...source]).apply((kms) => [
                    {
                        Sid: "BarmanObjects",
                        Effect: "Allow" as const,
                        Action: CNPG_OBJECT_ACTIONS,
                        Resource: `${bucketArn("cnpg")}/${prefix}/*`,
                    },
                    ...(source.length > 0
                        ? [{ Sid: "ReadRecoverySource", Effect: "Allow" as const, Action: ["s3:GetObject"], Resource: source }]
                        : []),
                    barmanListBucket(bucketArn("cnpg")),
                    { Sid: "BarmanBucketLocation", Effect: "Allow" as const, Action: "s3:GetBucketLocation", Resource: bucketArn("cnpg") },
                    ...kms,
                ]),
                child,
            );
            postgres[w.name] = target("cnpg", prefix, { kind: "irsa", roleArn, serviceAccount: sa }, []);
        }

        // SQL Server cannot assume a role: a dedicated IAM user whose key is a Pulumi secret.
        const mssql: Record<string, BackupTarget> = {};
        if (cfg.mssql.length > 0) {
            const user = new aws.iam.User(`${name}-mssql`, { path: "/backup/", forceDestroy: false }, keep);
            const resources = cfg.mssql.map((db) => `${bucketArn("mssql")}/${mssqlPrefix(db.namespace, db.name)}/*`);
            new aws.iam.UserPolicy(
                `${name}-mssql`,
                {
                    user: user.name,
                    policy: kmsStatements("mssql", resources).apply((kms) =>
                        policyJson([
                            { Sid: "BackupFiles", Effect: "Allow", Action: MSSQL_OBJECT_ACTIONS, Resource: resources },
                            listBucket(bucketArn("mssql"), "mssql"),
                            ...kms,
                        ]),
                    ),
                },
                child,
            );
            const key = new aws.iam.AccessKey(`${name}-mssql`, { user: user.name }, { ...keep, additionalSecretOutputs: ["id", "secret"] });
            for (const ns of [...new Set(cfg.mssql.map((db) => db.namespace))]) {
                const secret = createConsumerSecret(`${name}-mssql-${ns}`, "mssql", ns, key.id, key.secret, this);
                for (const db of cfg.mssql.filter((d) => d.namespace === ns)) {
                    mssql[mssqlKey(db)] = target("mssql", mssqlPrefix(db.namespace, db.name), secretLayout("mssql", ns), [secret]);
                }
            }
        }

        // Restore drills: a read-only role per database, trusted only by its drill cluster's service
        // account (CNPG names it after the cluster, `<database>-drill`). It can read the source's
        // archive and nothing else; the drill cluster archives nowhere.
        const drills: Record<string, BackupTarget> = {};
        if (cfg.drills.enabled) {
            for (const db of cfg.postgres) {
                const prefix = postgresPrefix(db.name);
                const sa = { namespace: db.namespace, name: drillClusterName(db.name) };
                const decrypt = kmsStatements("cnpg", [`${bucketArn("cnpg")}/${prefix}/*`], KMS_READER_ACTIONS);
                const roleArn = this.irsaRole(
                    `${name}-cnpg-${drillClusterName(db.name)}`,
                    oidc,
                    sa,
                    decrypt.apply((kms) => [
                        {
                            Sid: "ReadArchive",
                            Effect: "Allow" as const,
                            Action: ["s3:GetObject"],
                            Resource: `${bucketArn("cnpg")}/${prefix}/*`,
                        },
                        barmanListBucket(bucketArn("cnpg")),
                        {
                            Sid: "BarmanBucketLocation",
                            Effect: "Allow" as const,
                            Action: "s3:GetBucketLocation",
                            Resource: bucketArn("cnpg"),
                        },
                        ...kms,
                    ]),
                    child,
                );
                drills[db.name] = target("cnpg", prefix, { kind: "irsa", roleArn, serviceAccount: sa }, []);
            }
        }

        this.targets = { velero, postgres, mssql, drills };
        this.registerOutputs({ buckets: this.buckets, kmsKeyArn, replicas: this.replicas });
    }

    /** The cluster's OIDC issuer (host/path, no scheme) and provider ARN, given or looked up. */
    private oidc(
        cfg: AwsConfig,
        partition: string,
        provider: aws.Provider,
    ): { issuer: pulumi.Output<string>; providerArn: pulumi.Output<string> } {
        if ("oidcProviderArn" in cfg.aws.eks) {
            return {
                issuer: pulumi.output(cfg.aws.eks.oidcIssuerUrl.replace(/^https:\/\//, "").replace(/\/$/, "")),
                providerArn: pulumi.output(cfg.aws.eks.oidcProviderArn),
            };
        }
        const clusterName = cfg.aws.eks.clusterName;
        const cluster = aws.eks.getClusterOutput({ name: clusterName }, { parent: this, provider });
        const issuer = cluster.identities.apply((ids) => {
            const url = ids[0]?.oidcs[0]?.issuer;
            if (!url) throw new Error(`EKS cluster "${clusterName}" (backup:aws.eks.clusterName) has no OIDC issuer; enable IRSA on it`);
            return url.replace(/^https:\/\//, "");
        });
        const account = aws.getCallerIdentityOutput({}, { parent: this, provider }).accountId;
        return { issuer, providerArn: pulumi.interpolate`arn:${partition}:iam::${account}:oidc-provider/${issuer}` };
    }

    /** A role only `sa` can assume, with one inline-equivalent policy; the ARN waits for the attachment. */
    private irsaRole(
        id: string,
        oidc: { issuer: pulumi.Output<string>; providerArn: pulumi.Output<string> },
        sa: { namespace: string; name: string },
        statements: pulumi.Output<Statement[]>,
        child: pulumi.CustomResourceOptions,
    ): pulumi.Output<string> {
        const role = new aws.iam.Role(
            id,
            {
                path: "/backup/",
                assumeRolePolicy: pulumi.all([oidc.issuer, oidc.providerArn]).apply(([issuer, arn]) =>
                    policyJson([
                        {
                            Effect: "Allow",
                            Principal: { Federated: arn },
                            Action: "sts:AssumeRoleWithWebIdentity",
                            Condition: {
                                StringEquals: {
                                    [`${issuer}:sub`]: `system:serviceaccount:${sa.namespace}:${sa.name}`,
                                    [`${issuer}:aud`]: "sts.amazonaws.com",
                                },
                            },
                        },
                    ]),
                ),
            },
            child,
        );
        const policy = new aws.iam.Policy(id, { path: "/backup/", policy: statements.apply(policyJson) }, child);
        const attachment = new aws.iam.RolePolicyAttachment(id, { role: role.name, policyArn: policy.arn }, child);
        return pulumi.all([role.arn, attachment.id]).apply(([arn]) => arn);
    }
}

/** The AWS platform: buckets, key and identities; the off-site copy, when on, is S3 replication set up here. */
export function awsPlatform(cfg: AwsConfig, opts: pulumi.ComponentResourceOptions): Platform {
    const storage = new AwsStorage("backup", { config: cfg }, opts);
    return {
        targets: storage.targets,
        outputs: {
            buckets: storage.buckets,
            kmsKeyArn: storage.kmsKeyArn,
            // Watched by CloudWatch alarms (stacks/aws/replication.ts), not by a job.
            ...(storage.replicas ? { offsite: { kind: "s3-replication", replicas: storage.replicas } } : {}),
        },
    };
}
