// Bare metal's off-site bucket on AWS, when an AWS account is configured for it: the same guard
// rails as every backup bucket (stacks/s3.ts), a key in its region, and an IAM user the copy job
// writes with. The user can add and read objects, never delete them; old copies expire by lifecycle.
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { type BaremetalConfig, type OffsiteAwsConfig } from "../../config";
import { KMS_WRITER_ACTIONS } from "../actions";
import { kmsThroughS3 } from "../s3/grants";
import { offsiteLifecycle, planBuckets } from "../layout";
import { backupKey, guardedBucket, listBucket, partitionOf, policyJson, type Statement } from "../s3/bucket";
import { statefulOptions } from "../safety";
import { type OffsiteDestination } from "../../core/targets";

/** What the copy job's user may do in the off-site bucket: upload and read back (checksums), never delete. */
export const OFFSITE_WRITER_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"];
/** The writer's permissions on the off-site bucket (and its key, only through S3 in `region`). */
export function offsiteWriterStatements(bucketArn: string, prefix: string, region: string, kmsKeyArn?: string): Statement[] {
    const objects = `${bucketArn}/${prefix === "" ? "" : `${prefix}/`}*`;
    return [
        { Sid: "WriteCopies", Effect: "Allow", Action: OFFSITE_WRITER_ACTIONS, Resource: objects },
        listBucket(bucketArn, prefix),
        { Sid: "BucketLocation", Effect: "Allow", Action: "s3:GetBucketLocation", Resource: bucketArn },
        ...(kmsKeyArn !== undefined
            ? [
                  kmsThroughS3({
                      sid: "EncryptCopies",
                      keyArn: kmsKeyArn,
                      actions: KMS_WRITER_ACTIONS,
                      region,
                      partition: partitionOf(region),
                      bucketArn,
                      objects: [objects],
                  }),
              ]
            : []),
    ];
}

export interface AwsOffsiteBucketArgs {
    /** Validated stack configuration (bare metal, offsite.aws set). */
    readonly config: BaremetalConfig;
}

/** The off-site bucket on AWS, its key and its writer; `destination` is what the copy job consumes. */
export class AwsOffsiteBucket extends pulumi.ComponentResource {
    public readonly destination: OffsiteDestination;
    /** Bucket name and ARN. */
    public readonly bucket: { name: string; region: string; arn: pulumi.Output<string> };

    constructor(name: string, args: AwsOffsiteBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:stacks:AwsOffsiteBucket", name, {}, opts);
        const cfg = args.config;
        const o = cfg.offsite.aws as OffsiteAwsConfig;
        const bucketName = o.bucket as string;
        const provider = this.offsiteProvider(name, o);
        const child = { parent: this, provider };
        const keep = statefulOptions(cfg, child);
        const kmsKeyArn =
            (o.encryption ?? "kms") === "kms"
                ? backupKey(
                      `${name}-backups`,
                      {
                          description: "Encrypts the off-site copies of the backup buckets",
                          alias: `alias/backup-platform-${pulumi.getStack()}-offsite`,
                      },
                      child,
                      keep,
                  ).arn
                : undefined;
        const prefix = cfg.offsite.prefix;
        const { bucket } = guardedBucket(
            `${name}-destination`,
            {
                name: bucketName,
                lifecycle: offsiteLifecycle(planBuckets(cfg, cfg.baremetal.buckets), prefix),
                kmsKeyArn,
                objectLockDays: o.objectLock.enabled ? o.objectLock.days : undefined,
            },
            child,
            keep,
        );
        const bucketArn = `arn:${partitionOf(o.region)}:s3:::${bucketName}`;
        const { key, policy } = this.writer(name, bucketArn, prefix, o.region, kmsKeyArn, child, keep);
        this.bucket = { name: bucketName, region: o.region, arn: bucket.arn };
        this.destination = {
            region: o.region,
            provider: "AWS",
            bucket: bucketName,
            prefix,
            credentials: { kind: "keys", accessKeyId: key.id, secretAccessKey: key.secret },
            kmsKeyArn,
            dependsOn: [bucket, policy],
        };
        this.registerOutputs({ bucket: this.bucket });
    }

    /** The off-site account's provider, in the off-site region. */
    private offsiteProvider(name: string, o: OffsiteAwsConfig): aws.Provider {
        // An explicit provider: the off-site account and region are never the ambient ones by accident.
        return new aws.Provider(
            `${name}-aws`,
            {
                region: o.region,
                ...(o.profile !== undefined ? { profile: o.profile } : {}),
                ...(o.assumeRoleArn !== undefined
                    ? { assumeRoles: [{ roleArn: o.assumeRoleArn, sessionName: "backup-platform-offsite" }] }
                    : {}),
            },
            { parent: this },
        );
    }

    /** The copy job's IAM user, its policy on the bucket (and key) and its access key. */
    private writer(
        name: string,
        bucketArn: string,
        prefix: string,
        region: string,
        kmsKeyArn: pulumi.Output<string> | undefined,
        child: pulumi.CustomResourceOptions,
        keep: pulumi.CustomResourceOptions,
    ): { key: aws.iam.AccessKey; policy: aws.iam.UserPolicy } {
        const user = new aws.iam.User(`${name}-writer`, { path: "/backup/", forceDestroy: false }, keep);
        const policy = new aws.iam.UserPolicy(
            `${name}-writer`,
            {
                user: user.name,
                policy: pulumi.output(kmsKeyArn).apply((arn) => policyJson(offsiteWriterStatements(bucketArn, prefix, region, arn))),
            },
            child,
        );
        const key = new aws.iam.AccessKey(`${name}-writer`, { user: user.name }, { ...keep, additionalSecretOutputs: ["id", "secret"] });
        return { key, policy };
    }
}
