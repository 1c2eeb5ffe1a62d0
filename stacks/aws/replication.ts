// AWS off-site copy: S3 replication of every backup bucket into a bucket in a second region.
// Replicas get the same guard rails and lifecycle as their sources, a key of their own region,
// and a replication role that can read one source and write one replica, nothing else.
// Deletions are not replicated: a delete marker in the source never hides the replica's copy.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { replicaBucketName, type AwsConfig, type OffsiteAwsConfig } from "../../config";
import { replicationStatements } from "./replication-policy";
import { type BucketPlan } from "../layout";
import { backupKey, guardedBucket, policyJson, type GuardedBucket } from "../s3/bucket";
import { type Consumer } from "../../core/targets";

/** Id of the one replication rule on each source bucket (CloudWatch's RuleId dimension). */
export const REPLICATION_RULE_ID = "offsite";

/** Where one bucket is replicated. */
export interface Replica {
    /** Replica bucket name. */
    readonly bucket: string;
    /** Its region. */
    readonly region: string;
    /** Its ARN. */
    readonly arn: pulumi.Output<string>;
    /** CloudWatch alarms (in the source's region) watching the replication: failed operations, latency. */
    readonly alarms: string[];
}

export interface ReplicationArgs {
    /** Validated stack configuration; `offsite.aws` names the second region. */
    readonly config: AwsConfig;
    /** The source buckets' plans (lifecycle rules are mirrored). */
    readonly plans: readonly BucketPlan[];
    /** The source buckets and their versioning, by bucket name. */
    readonly sources: ReadonlyMap<string, GuardedBucket>;
    /** The source buckets' KMS key; undefined with SSE-S3. */
    readonly kmsKeyArn?: pulumi.Output<string>;
    /** AWS partition of the account. */
    readonly partition: string;
}

/** The replicas' region: its provider and key, where the alarms notify, how late a replica may be. */
interface ReplicaRegion {
    readonly region: string;
    /** Options of the replicas' resources: the source's parent, the replica region's provider. */
    readonly child: pulumi.CustomResourceOptions;
    readonly keep: pulumi.CustomResourceOptions;
    /** The replicas' KMS key; undefined with SSE-S3. */
    readonly keyArn?: pulumi.Output<string>;
    /** Governance-mode Object Lock days of the replicas; no lock when undefined. */
    readonly objectLockDays?: number;
    readonly alarmActions: string[];
    readonly latencySeconds: number;
}

/** One source bucket and its replica. */
interface BucketPair {
    readonly plan: BucketPlan;
    readonly source: GuardedBucket;
    readonly replica: GuardedBucket;
    readonly replicaName: string;
}

/**
 * Replicates every planned bucket. `child` carries the parent and the source region's provider;
 * replicas get a provider of their own region with the same credentials.
 */
export function replicateBuckets(
    name: string,
    args: ReplicationArgs,
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): Partial<Record<Consumer, Replica>> {
    const offsite = args.config.offsite.aws;
    if (offsite === undefined) throw new Error("offsite.aws is required for replication (config validation should have caught this)");
    const to = replicaRegion(name, args.config, offsite, child, keep);
    const replicas: Partial<Record<Consumer, Replica>> = {};
    for (const plan of args.plans) {
        const source = args.sources.get(plan.name);
        if (source === undefined) throw new Error(`no source bucket ${plan.name}`);
        replicas[plan.owner] = replicateBucket(name, plan, source, args, to, child);
    }
    return replicas;
}

/** The second region's provider (same credentials), its key when replicas use KMS, and the alarms' settings. */
function replicaRegion(
    name: string,
    cfg: AwsConfig,
    offsite: OffsiteAwsConfig,
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): ReplicaRegion {
    const region = offsite.region;
    const provider = new aws.Provider(`${name}-aws-replica`, { region }, { parent: child.parent });
    const replicaChild = { ...child, provider };
    const replicaKeep = { ...keep, provider };
    const kms = (offsite.encryption ?? cfg.aws.encryption) === "kms";
    const replicaKeyArn = kms
        ? backupKey(
              `${name}-backups-replica`,
              {
                  description: `Encrypts the replicas of the backup buckets (from ${cfg.aws.region})`,
                  alias: `alias/backup-platform-${pulumi.getStack()}-replica`,
              },
              replicaChild,
              replicaKeep,
          ).arn
        : undefined;
    const alarmActions = offsite.alarmTopicArn !== undefined ? [offsite.alarmTopicArn] : [];
    // Replication is continuous: an object may be late by the grace, never by a schedule interval.
    const latencySeconds = Math.max(1, cfg.alerts.graceHours) * 3600;
    return {
        region,
        child: replicaChild,
        keep: replicaKeep,
        keyArn: replicaKeyArn,
        objectLockDays: offsite.objectLock.enabled ? offsite.objectLock.days : undefined,
        alarmActions,
        latencySeconds,
    };
}

/** One replica bucket, the role that replicates into it, the source's replication rule, and its alarms. */
function replicateBucket(
    name: string,
    plan: BucketPlan,
    source: GuardedBucket,
    args: ReplicationArgs,
    to: ReplicaRegion,
    child: pulumi.CustomResourceOptions,
): Replica {
    const cfg = args.config;
    const id = `${name}-${plan.owner}-replica`;
    const replicaName = replicaBucketName(cfg, plan.owner);
    const sourceLocked = cfg.aws.objectLock.enabled && plan.owner !== "velero";
    const replica = guardedBucket(
        id,
        { name: replicaName, lifecycle: plan.lifecycle, kmsKeyArn: to.keyArn, objectLockDays: to.objectLockDays },
        to.child,
        to.keep,
    );
    const pair: BucketPair = { plan, source, replica, replicaName };
    const { role, rolePolicy } = replicationRole(id, pair, sourceLocked, args, to, child);
    replicationConfig(`${name}-${plan.owner}`, pair, role, rolePolicy, args.kmsKeyArn, to.keyArn, child);
    const alarms = replicationAlarms(id, pair, to, child);
    return { bucket: replicaName, region: to.region, arn: replica.bucket.arn, alarms };
}

/** The role S3 assumes to replicate one source into its replica, and its policy. */
function replicationRole(
    id: string,
    pair: BucketPair,
    sourceLocked: boolean,
    args: ReplicationArgs,
    to: ReplicaRegion,
    child: pulumi.CustomResourceOptions,
): { role: aws.iam.Role; rolePolicy: aws.iam.RolePolicy } {
    const role = new aws.iam.Role(
        id,
        {
            path: "/backup/",
            description: `S3 replication of ${pair.plan.name} to ${pair.replicaName} (${to.region})`,
            assumeRolePolicy: policyJson([{ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" }]),
        },
        child,
    );
    const rolePolicy = new aws.iam.RolePolicy(
        id,
        {
            role: role.id,
            policy: pulumi
                .all([pair.source.bucket.arn, pair.replica.bucket.arn, args.kmsKeyArn, to.keyArn])
                .apply(([sourceArn, replicaArn, sourceKeyArn, replicaKey]) =>
                    policyJson(
                        replicationStatements({
                            source: sourceArn,
                            replica: replicaArn,
                            sourceRegion: args.config.aws.region,
                            replicaRegion: to.region,
                            partition: args.partition,
                            locked: sourceLocked,
                            sourceKeyArn,
                            replicaKeyArn: replicaKey,
                        }),
                    ),
                ),
        },
        child,
    );
    return { role, rolePolicy };
}

/** The source's one replication rule: every object, delete markers stay, replica encrypted with the replicas' key. */
function replicationConfig(
    id: string,
    pair: BucketPair,
    role: aws.iam.Role,
    rolePolicy: aws.iam.RolePolicy,
    sourceKeyArn: pulumi.Output<string> | undefined,
    replicaKeyArn: pulumi.Output<string> | undefined,
    child: pulumi.CustomResourceOptions,
): void {
    const { source, replica } = pair;
    new aws.s3.BucketReplicationConfig(
        id,
        {
            bucket: source.bucket.id,
            role: role.arn,
            rules: [
                {
                    id: REPLICATION_RULE_ID,
                    status: "Enabled",
                    filter: { prefix: "" },
                    deleteMarkerReplication: { status: "Disabled" },
                    destination: {
                        bucket: replica.bucket.arn,
                        ...(replicaKeyArn !== undefined ? { encryptionConfiguration: { replicaKmsKeyId: replicaKeyArn } } : {}),
                        // Replication metrics feed the CloudWatch alarms below.
                        metrics: { status: "Enabled", eventThreshold: { minutes: 15 } },
                    },
                    ...(sourceKeyArn !== undefined ? { sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } } } : {}),
                },
            ],
        },
        { ...child, parent: source.bucket, dependsOn: [source.versioning, replica.versioning, rolePolicy] },
    );
}

/** CloudWatch alarms on one bucket's replication (failed operations, latency); returns their names. */
function replicationAlarms(id: string, pair: BucketPair, to: ReplicaRegion, child: pulumi.CustomResourceOptions): string[] {
    const { plan, replicaName } = pair;
    const { alarmActions, latencySeconds } = to;
    // Replication metrics are published in the source's region.
    const dimensions = { SourceBucket: plan.name, DestinationBucket: replicaName, RuleId: REPLICATION_RULE_ID };
    const alarmName = (what: string) => `backup-platform-${pulumi.getStack()}-${plan.name}-replication-${what}`;
    new aws.cloudwatch.MetricAlarm(
        `${id}-failed`,
        {
            name: alarmName("failed"),
            alarmDescription: `Objects of ${plan.name} failed to replicate to ${replicaName}: the off-site copy is incomplete (README: Alert: Off-site copy stale)`,
            namespace: "AWS/S3",
            metricName: "OperationsFailedReplication",
            dimensions,
            statistic: "Sum",
            period: 300,
            evaluationPeriods: 1,
            threshold: 0,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
            alarmActions,
        },
        child,
    );
    new aws.cloudwatch.MetricAlarm(
        `${id}-latency`,
        {
            name: alarmName("latency"),
            alarmDescription: `Replication of ${plan.name} to ${replicaName} lags by more than ${latencySeconds / 3600} h (README: Alert: Off-site copy stale)`,
            namespace: "AWS/S3",
            metricName: "ReplicationLatency",
            dimensions,
            statistic: "Maximum",
            period: 300,
            evaluationPeriods: 3,
            threshold: latencySeconds,
            comparisonOperator: "GreaterThanThreshold",
            treatMissingData: "notBreaching",
            alarmActions,
        },
        child,
    );
    return [alarmName("failed"), alarmName("latency")];
}
