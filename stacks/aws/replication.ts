// AWS off-site copy: S3 replication of every backup bucket into a bucket in a second region.
// Replicas get the same guard rails and lifecycle as their sources, a key of their own region,
// and a replication role that can read one source and write one replica, nothing else.
// Deletions are not replicated: a delete marker in the source never hides the replica's copy.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { replicaBucketName, type AwsConfig } from "../../config";
import { viaS3 } from "../s3/grants";
import { type BucketPlan } from "../layout";
import { backupKey, guardedBucket, policyJson, type Statement } from "../s3/bucket";
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
    readonly sources: ReadonlyMap<string, { bucket: aws.s3.Bucket; versioning: aws.s3.BucketVersioning }>;
    /** The source buckets' KMS key; undefined with SSE-S3. */
    readonly kmsKeyArn?: pulumi.Output<string>;
    /** AWS partition of the account. */
    readonly partition: string;
}

/** Actions the replication role needs on a source's objects; Object Lock metadata only when the source is locked. */
export function sourceObjectActions(locked: boolean): string[] {
    return [
        "s3:GetObjectVersionAcl",
        "s3:GetObjectVersionForReplication",
        "s3:GetObjectVersionTagging",
        ...(locked ? ["s3:GetObjectLegalHold", "s3:GetObjectRetention"] : []),
    ];
}

/** The replication role's permissions: one source, one replica, and their keys through S3 only. */
export function replicationStatements(args: {
    source: string;
    replica: string;
    sourceRegion: string;
    replicaRegion: string;
    partition: string;
    locked: boolean;
    sourceKeyArn?: string;
    replicaKeyArn?: string;
}): Statement[] {
    // Replication reads and writes whole buckets: every object of the source, every replica.
    const through = (region: string, bucket: string) => viaS3(region, args.partition, bucket, [`${bucket}/*`]);
    return [
        {
            Sid: "ReadSourceConfiguration",
            Effect: "Allow",
            Action: ["s3:GetReplicationConfiguration", "s3:ListBucket"],
            Resource: args.source,
        },
        { Sid: "ReadSourceVersions", Effect: "Allow", Action: sourceObjectActions(args.locked), Resource: `${args.source}/*` },
        // ReplicateDelete is deliberately absent: deletions stay in the source.
        { Sid: "WriteReplicas", Effect: "Allow", Action: ["s3:ReplicateObject", "s3:ReplicateTags"], Resource: `${args.replica}/*` },
        ...(args.sourceKeyArn !== undefined
            ? [
                  {
                      Sid: "DecryptSource",
                      Effect: "Allow" as const,
                      Action: ["kms:Decrypt"],
                      Resource: args.sourceKeyArn,
                      Condition: through(args.sourceRegion, args.source),
                  },
              ]
            : []),
        ...(args.replicaKeyArn !== undefined
            ? [
                  {
                      Sid: "EncryptReplicas",
                      Effect: "Allow" as const,
                      Action: ["kms:Encrypt", "kms:GenerateDataKey"],
                      Resource: args.replicaKeyArn,
                      Condition: through(args.replicaRegion, args.replica),
                  },
              ]
            : []),
    ];
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
    const cfg = args.config;
    const offsite = cfg.offsite.aws;
    if (offsite === undefined) throw new Error("offsite.aws is required for replication (config validation should have caught this)");
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

    const replicas: Partial<Record<Consumer, Replica>> = {};
    for (const plan of args.plans) {
        const source = args.sources.get(plan.name);
        if (source === undefined) throw new Error(`no source bucket ${plan.name}`);
        const id = `${name}-${plan.owner}-replica`;
        const replicaName = replicaBucketName(cfg, plan.owner);
        const sourceLocked = cfg.aws.objectLock.enabled && plan.owner !== "velero";
        const replica = guardedBucket(
            id,
            {
                name: replicaName,
                lifecycle: plan.lifecycle,
                kmsKeyArn: replicaKeyArn,
                objectLockDays: offsite.objectLock.enabled ? offsite.objectLock.days : undefined,
            },
            replicaChild,
            replicaKeep,
        );
        const role = new aws.iam.Role(
            id,
            {
                path: "/backup/",
                description: `S3 replication of ${plan.name} to ${replicaName} (${region})`,
                assumeRolePolicy: policyJson([{ Effect: "Allow", Principal: { Service: "s3.amazonaws.com" }, Action: "sts:AssumeRole" }]),
            },
            child,
        );
        const rolePolicy = new aws.iam.RolePolicy(
            id,
            {
                role: role.id,
                policy: pulumi
                    .all([source.bucket.arn, replica.bucket.arn, args.kmsKeyArn, replicaKeyArn])
                    .apply(([sourceArn, replicaArn, sourceKeyArn, replicaKey]) =>
                        policyJson(
                            replicationStatements({
                                source: sourceArn,
                                replica: replicaArn,
                                sourceRegion: cfg.aws.region,
                                replicaRegion: region,
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
        new aws.s3.BucketReplicationConfig(
            `${name}-${plan.owner}`,
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
                        ...(args.kmsKeyArn !== undefined
                            ? { sourceSelectionCriteria: { sseKmsEncryptedObjects: { status: "Enabled" } } }
                            : {}),
                    },
                ],
            },
            { ...child, parent: source.bucket, dependsOn: [source.versioning, replica.versioning, rolePolicy] },
        );
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
        replicas[plan.owner] = {
            bucket: replicaName,
            region,
            arn: replica.bucket.arn,
            alarms: [alarmName("failed"), alarmName("latency")],
        };
    }
    return replicas;
}
