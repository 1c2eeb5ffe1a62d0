// backup:offsite.
import { z } from "zod";
import { bucketName, cron5, dnsSubdomain, httpUrl, namespaceName, pinnedImage, resources, s3Region } from "./formats";
import { awsRegion, objectLock } from "./storage";

export const offsiteAws = z.strictObject({
    /** Region of the off-site bucket(s); on the AWS stack a second region, different from aws.region. */
    region: awsRegion,
    /** Bare metal: name of the bucket the program creates there. */
    bucket: bucketName.optional(),
    /** AWS stack: replica bucket per consumer. Default <source bucket>-replica. */
    buckets: z.strictObject({ velero: bucketName.optional(), cnpg: bucketName.optional(), mssql: bucketName.optional() }).prefault({}),
    /** Bare metal: AWS shared-config profile of the account that holds the bucket. Default: the ambient AWS credentials. */
    profile: z.string().min(1).optional(),
    /** Bare metal: role the program assumes in that account. Default none. */
    assumeRoleArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/.+$/, "assumeRoleArn must be an IAM role ARN")
        .optional(),
    /** kms (customer-managed key in that region) or s3 (SSE-S3). Default kms; AWS stack: the source buckets' aws.encryption. */
    encryption: z.enum(["kms", "s3"]).optional(),
    /** Governance-mode Object Lock on the off-site bucket(s); only at bucket creation. Default off. */
    objectLock,
    /** AWS stack: SNS topic the replication CloudWatch alarms notify. Default none (alarms only show in CloudWatch). */
    alarmTopicArn: z
        .string()
        .regex(/^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:.+$/, "alarmTopicArn must be an SNS topic ARN")
        .optional(),
});

/** An existing S3 bucket elsewhere (bare metal). */
export const offsiteDestination = z.strictObject({
    /** S3 endpoint URL, no path (https://s3.eu-west-1.amazonaws.com, a MinIO or another Ceph). */
    endpoint: httpUrl,
    /** Region the endpoint signs for. */
    region: s3Region,
    /** Bucket name; it must exist, be versioned, and expire old objects itself (the copy never deletes). */
    bucket: bucketName,
    /** rclone's S3 provider name for the endpoint. Default Other. */
    provider: z.enum(["AWS", "Ceph", "Minio", "Wasabi", "Other"]).default("Other"),
    /** Secret in offsite.namespace with the destination's access key pair (you create it). */
    credentialsSecret: z.strictObject({
        name: dnsSubdomain("a Secret name"),
        /** Key holding the access key id. Default AWS_ACCESS_KEY_ID. */
        accessKeyIdKey: z.string().min(1).default("AWS_ACCESS_KEY_ID"),
        /** Key holding the secret access key. Default AWS_SECRET_ACCESS_KEY. */
        secretAccessKeyKey: z.string().min(1).default("AWS_SECRET_ACCESS_KEY"),
    }),
});

/** The third copy, in another place (seed 003: "then backup the local object storage elsewhere"). Off by default. */
export const offsite = z
    .strictObject({
        /** Copy every backup bucket off site. Default false. */
        enabled: z.boolean().default(false),
        /** Bare metal: copy CronJob schedule, five fields, UTC; also the staleness threshold. Default "0 6 * * *" (after the nightly backups). */
        schedule: cron5.default("0 6 * * *"),
        /** Bare metal: rclone --bwlimit, bytes per second with K/M/G suffix (MiB/s), or off. Default 20M. */
        bandwidthLimit: z
            .string()
            .regex(/^(off|[0-9]+(\.[0-9]+)?[BKMGTP]?)$/, "bandwidthLimit must be an rclone --bwlimit value like 20M (MiB/s), 512K or off")
            .default("20M"),
        /** Bare metal: path inside the destination bucket under which each source bucket is copied. Default none. */
        prefix: z
            .string()
            .regex(/^([a-z0-9][a-z0-9-]*)?$/, "a prefix must be lowercase letters, digits and '-'")
            .default(""),
        /** Bare metal: namespace of the copy CronJob (created by the program). Default backup-offsite. */
        namespace: namespaceName.default("backup-offsite"),
        /** Bare metal: rclone image, pinned. Default rclone/rclone:1.69.1. */
        image: pinnedImage.default("rclone/rclone:1.69.1"),
        /** Bare metal: copy job resources. Default 100m/128Mi requests, 1/512Mi limits. */
        resources: resources.default({ requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "512Mi" } }),
        /** Bare metal: an existing bucket elsewhere. Give this or aws. */
        destination: offsiteDestination.optional(),
        /** Bare metal: a bucket the program creates on AWS; AWS stack: the replica region (required there). */
        aws: offsiteAws.optional(),
    })
    .prefault({});

/** Restore drills: temporary recovery clusters proving the PostgreSQL backups restore. Off by default. */
