// AWS S3 building blocks shared by every bucket the program creates on AWS (the backup buckets,
// their replicas in a second region, a bare-metal stack's off-site bucket): one place for the
// guard rails, so no bucket can be created without them.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type LifecycleRule } from "../layout";

export interface Statement {
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

export function partitionOf(region: string): string {
    return region.startsWith("cn-") ? "aws-cn" : region.startsWith("us-gov-") ? "aws-us-gov" : "aws";
}

/** ListBucket limited to some prefixes (the whole bucket when prefix is ""). */
export function listBucket(bucketArn: string, prefix: string, more: string[] = []): Statement {
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

/**
 * ListBucket on the whole bucket, for barman-cloud (CNPG). Before every archive, backup and restore barman checks the
 * bucket with HeadBucket, which S3 (and RGW) authorize as s3:ListBucket with no `s3:prefix`: a prefix condition denies
 * it and every WAL archive fails (found by the point-in-time recovery test against RGW, e2e/pitr). So a CNPG identity
 * may list the key names of the whole cnpg bucket; reading, writing and deleting stay limited to its own prefixes.
 */
export function barmanListBucket(bucketArn: string): Statement {
    return { Sid: "BarmanBucketCheck", Effect: "Allow", Action: "s3:ListBucket", Resource: bucketArn };
}

/** A customer-managed key with rotation, and its alias; retained like the data it protects. */
export function backupKey(
    id: string,
    args: { description: string; alias: string },
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): aws.kms.Key {
    const key = new aws.kms.Key(id, { description: args.description, enableKeyRotation: true, deletionWindowInDays: 30 }, keep);
    new aws.kms.Alias(id, { name: args.alias, targetKeyId: key.keyId }, child);
    return key;
}

export interface GuardedBucketArgs {
    /** Bucket name. */
    readonly name: string;
    /** Lifecycle rules, sorted by id. */
    readonly lifecycle: readonly LifecycleRule[];
    /** SSE-KMS with this key (bucket keys on); SSE-S3 when undefined. */
    readonly kmsKeyArn?: pulumi.Output<string>;
    /** Governance-mode Object Lock default retention in days; no lock when undefined. */
    readonly objectLockDays?: number;
}

/** A bucket with its guard rails, and its versioning (what replication and lifecycle rules wait for). */
export interface GuardedBucket {
    readonly bucket: aws.s3.Bucket;
    readonly versioning: aws.s3.BucketVersioning;
}

/**
 * One bucket with every guard rail: never force-destroyed, owner-enforced, public access blocked,
 * versioned, encrypted by default, TLS only, lifecycle, optional Object Lock. The children are
 * parented to the bucket (the policy pack's stack-s3-bucket-guardrails finds them there).
 */
export function guardedBucket(
    id: string,
    args: GuardedBucketArgs,
    child: pulumi.CustomResourceOptions,
    keep: pulumi.CustomResourceOptions,
): GuardedBucket {
    const locked = args.objectLockDays !== undefined;
    const bucket = new aws.s3.Bucket(id, { bucket: args.name, forceDestroy: false, objectLockEnabled: locked }, keep);
    const on = { ...child, parent: bucket };
    new aws.s3.BucketOwnershipControls(id, { bucket: bucket.id, rule: { objectOwnership: "BucketOwnerEnforced" } }, on);
    new aws.s3.BucketPublicAccessBlock(
        id,
        { bucket: bucket.id, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
        on,
    );
    const versioning = new aws.s3.BucketVersioning(id, { bucket: bucket.id, versioningConfiguration: { status: "Enabled" } }, on);
    defaultEncryption(id, bucket, args.kmsKeyArn, on);
    tlsOnlyPolicy(id, bucket, on);
    lifecycleRules(id, bucket, args.lifecycle, { ...on, dependsOn: [versioning] });
    if (locked) {
        new aws.s3.BucketObjectLockConfiguration(
            id,
            {
                bucket: bucket.id,
                objectLockEnabled: "Enabled",
                rule: { defaultRetention: { mode: "GOVERNANCE", days: args.objectLockDays } },
            },
            { ...on, dependsOn: [versioning] },
        );
    }
    return { bucket, versioning };
}

/** Default encryption: SSE-KMS with `kmsKeyArn` and bucket keys, SSE-S3 without it. */
function defaultEncryption(
    id: string,
    bucket: aws.s3.Bucket,
    kmsKeyArn: pulumi.Output<string> | undefined,
    on: pulumi.CustomResourceOptions,
) {
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
}

/** The bucket policy that denies every request not made over TLS. */
function tlsOnlyPolicy(id: string, bucket: aws.s3.Bucket, on: pulumi.CustomResourceOptions) {
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
}

/** The bucket's lifecycle configuration, one S3 rule per planned rule. */
function lifecycleRules(id: string, bucket: aws.s3.Bucket, lifecycle: readonly LifecycleRule[], opts: pulumi.CustomResourceOptions) {
    new aws.s3.BucketLifecycleConfiguration(
        id,
        {
            bucket: bucket.id,
            rules: lifecycle.map((r) => ({
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
        opts,
    );
}
