// AWS: S3 buckets, a customer-managed KMS key, least-privilege IAM, IRSA roles for Velero and each
// CloudNativePG cluster, and an IAM user for SQL Server (which cannot use IRSA).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type AwsConfig } from "../../config";
import { activeConsumers, planBuckets, type BucketPlan } from "../layout";
import { replicateBuckets, type Replica } from "./replication";
import { backupKey, guardedBucket, partitionOf, type GuardedBucket } from "../s3/bucket";
import { statefulOptions } from "../safety";
import { type BackupTargets, type Consumer } from "../../core/targets";
import { type Platform } from "../../core/platform";
import { eksOidc } from "./irsa";
import { cnpgTargets, drillTargets, mssqlTargets, veleroTarget, type Identities } from "./identities";

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
        const sources = sourceBuckets(name, cfg, plans, kmsKeyArn, child, keep);
        // The third copy: S3 replication of every backup bucket into a second region.
        this.replicas = cfg.offsite.enabled
            ? replicateBuckets(name, { config: cfg, plans, sources, kmsKeyArn, partition }, child, keep)
            : undefined;
        this.buckets = Object.fromEntries(
            activeConsumers(cfg).map((c) => [
                c,
                { name: cfg.aws.buckets[c], arn: sources.get(cfg.aws.buckets[c])?.bucket.arn as pulumi.Output<string> },
            ]),
        );

        const oidc = eksOidc(cfg, partition, { parent: this, provider });
        const ids: Identities = { name, cfg, region, partition, kmsKeyArn, oidc, parent: this, child, keep };
        // Built in the order the identities have always been registered: Velero, CNPG, SQL Server, drills.
        this.targets = { velero: veleroTarget(ids), postgres: cnpgTargets(ids), mssql: mssqlTargets(ids), drills: drillTargets(ids) };
        this.registerOutputs({ buckets: this.buckets, kmsKeyArn, replicas: this.replicas });
    }
}

/** The backup buckets, by bucket name; every one but Velero's is locked when Object Lock is on. */
function sourceBuckets(
    name: string,
    cfg: AwsConfig,
    plans: readonly BucketPlan[],
    kmsKeyArn: pulumi.Output<string> | undefined,
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): Map<string, GuardedBucket> {
    const sources = new Map<string, GuardedBucket>();
    for (const plan of plans) {
        const locked = cfg.aws.objectLock.enabled && plan.owner !== "velero";
        const source = guardedBucket(
            `${name}-${plan.owner}`,
            { name: plan.name, lifecycle: plan.lifecycle, kmsKeyArn, objectLockDays: locked ? cfg.aws.objectLock.days : undefined },
            child,
            keep,
        );
        sources.set(plan.name, source);
    }
    return sources;
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
