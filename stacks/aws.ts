// AWS: S3 buckets, a customer-managed KMS key, least-privilege IAM, IRSA roles for Velero and each
// CloudNativePG cluster, and an IAM user for SQL Server (which cannot use IRSA).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AwsConfig } from "../config";
import { createConsumerSecret, secretLayout } from "./credentials";
import { activeConsumers, cnpgWriters, mssqlPrefix, planBuckets, postgresPrefix, type BucketPlan } from "./layout";
import { CNPG_OBJECT_ACTIONS, KMS_ACTIONS, MSSQL_OBJECT_ACTIONS, VELERO_EC2_ACTIONS, VELERO_OBJECT_ACTIONS } from "./actions";
import { statefulOptions } from "./safety";
import { mssqlKey, type BackupTarget, type BackupTargets, type Consumer } from "./targets";

interface Statement {
    Sid?: string;
    Effect: "Allow" | "Deny";
    Action: string | string[];
    Resource?: string | string[];
    Principal?: unknown;
    Condition?: Record<string, Record<string, string | string[]>>;
}

/** IAM policy document as JSON. */
export function policyJson(statements: Statement[]): string {
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

function partitionOf(region: string): string {
    return region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
}

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
            const key = new aws.kms.Key(
                `${name}-backups`,
                {
                    description: "Encrypts the backup buckets (Velero, CloudNativePG, SQL Server)",
                    enableKeyRotation: true,
                    deletionWindowInDays: 30,
                },
                keep,
            );
            new aws.kms.Alias(`${name}-backups`, { name: `alias/backup-platform-${pulumi.getStack()}`, targetKeyId: key.keyId }, child);
            kmsKeyArn = key.arn;
        }
        this.kmsKeyArn = kmsKeyArn;

        const plans = planBuckets(cfg, cfg.aws.buckets);
        const bucketArns = new Map<string, pulumi.Output<string>>();
        for (const plan of plans) {
            bucketArns.set(plan.name, this.bucket(name, plan, cfg, kmsKeyArn, child, keep));
        }
        this.buckets = Object.fromEntries(
            activeConsumers(cfg).map((c) => [
                c,
                { name: cfg.aws.buckets[c], arn: bucketArns.get(cfg.aws.buckets[c]) as pulumi.Output<string> },
            ]),
        );

        const oidc = this.oidc(cfg, partition, provider);
        const kmsStatements = (): pulumi.Output<Statement[]> =>
            kmsKeyArn
                ? kmsKeyArn.apply((arn) => [{ Sid: "UseBucketKey", Effect: "Allow" as const, Action: KMS_ACTIONS, Resource: arn }])
                : pulumi.output([]);
        const bucketArn = (c: Consumer) => `arn:${partition}:s3:::${cfg.aws.buckets[c]}`;
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

        // Velero: the plugin's documented set, EC2 limited to this region.
        const veleroPrefix = cfg.velero.prefix;
        const veleroSa = { namespace: cfg.velero.namespace, name: cfg.velero.serviceAccount };
        const veleroRole = this.irsaRole(
            `${name}-velero`,
            oidc,
            veleroSa,
            kmsStatements().apply((kms) => [
                {
                    Sid: "VeleroSnapshots",
                    Effect: "Allow" as const,
                    Action: VELERO_EC2_ACTIONS,
                    Resource: "*",
                    Condition: { StringEquals: { "aws:RequestedRegion": region } },
                },
                {
                    Sid: "VeleroObjects",
                    Effect: "Allow" as const,
                    Action: VELERO_OBJECT_ACTIONS,
                    Resource: `${bucketArn("velero")}/${veleroPrefix === "" ? "" : `${veleroPrefix}/`}*`,
                },
                listBucket(bucketArn("velero"), veleroPrefix),
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
                kmsStatements().apply((kms) => [
                    {
                        Sid: "BarmanObjects",
                        Effect: "Allow" as const,
                        Action: CNPG_OBJECT_ACTIONS,
                        Resource: `${bucketArn("cnpg")}/${prefix}/*`,
                    },
                    ...(source.length > 0
                        ? [{ Sid: "ReadRecoverySource", Effect: "Allow" as const, Action: ["s3:GetObject"], Resource: source }]
                        : []),
                    listBucket(bucketArn("cnpg"), prefix, w.from === undefined ? [] : [postgresPrefix(w.from)]),
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
                    policy: kmsStatements().apply((kms) =>
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

        this.targets = { velero, postgres, mssql };
        this.registerOutputs({ buckets: this.buckets, kmsKeyArn });
    }

    /** One bucket with every guard rail; returns its ARN. */
    private bucket(
        name: string,
        plan: BucketPlan,
        cfg: AwsConfig,
        kmsKeyArn: pulumi.Output<string> | undefined,
        child: pulumi.CustomResourceOptions,
        keep: pulumi.CustomResourceOptions,
    ): pulumi.Output<string> {
        const id = `${name}-${plan.owner}`;
        const locked = cfg.aws.objectLock.enabled && plan.owner !== "velero";
        const bucket = new aws.s3.Bucket(id, { bucket: plan.name, forceDestroy: false, objectLockEnabled: locked }, keep);
        const on = { ...child, parent: bucket };
        new aws.s3.BucketOwnershipControls(id, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, on);
        new aws.s3.BucketPublicAccessBlock(
            id,
            { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
            on,
        );
        const versioning = new aws.s3.BucketVersioning(id, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, on);
        new aws.s3.BucketServerSideEncryptionConfiguration(
            id,
            {
                bucket: bucket.id,
                rules: [
                    kmsKeyArn
                        ? {
                              applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: kmsKeyArn },
                              bucketKeyEnabled: true,
                          }
                        : { applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" } },
                ],
            },
            on,
        );
        new aws.s3.BucketPolicy(
            id,
            {
                bucket: bucket.id,
                policy: bucket.arn.apply((arn) =>
                    policyJson([
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [arn, `${arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ]),
                ),
            },
            on,
        );
        new aws.s3.BucketLifecycleConfiguration(
            id,
            {
                bucket: bucket.id,
                rules: plan.lifecycle.map((r) => ({
                    id: r.id,
                    status: "Enabled",
                    filter: { prefix: r.prefix },
                    ...(r.expirationDays !== undefined ? { expiration: { days: r.expirationDays } } : {}),
                    ...(r.expiredObjectDeleteMarker ? { expiration: { expiredObjectDeleteMarker: true } } : {}),
                    ...(r.noncurrentDays !== undefined ? { noncurrentVersionExpiration: { noncurrentDays: r.noncurrentDays } } : {}),
                    ...(r.abortMultipartDays !== undefined
                        ? { abortIncompleteMultipartUpload: { daysAfterInitiation: r.abortMultipartDays } }
                        : {}),
                })),
            },
            { ...on, dependsOn: [versioning] },
        );
        if (locked) {
            new aws.s3.BucketObjectLockConfiguration(
                id,
                {
                    bucket: bucket.id,
                    objectLockEnabled: "Enabled",
                    rule: { defaultRetention: { mode: "GOVERNANCE", days: cfg.aws.objectLock.days } },
                },
                { ...on, dependsOn: [versioning] },
            );
        }
        return bucket.arn;
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

/** ListBucket limited to some prefixes (the whole bucket when prefix is ""). */
function listBucket(bucketArn: string, prefix: string, more: string[] = []): Statement {
    return prefix === ""
        ? { Sid: "ListBucket", Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn }
        : {
              Sid: "ListPrefix",
              Effect: "Allow",
              Action: "s3:ListBucket",
              Resource: bucketArn,
              Condition: { StringLike: { "s3:prefix": [prefix, ...more].flatMap((p) => [p, `${p}/*`]) } },
          };
}
