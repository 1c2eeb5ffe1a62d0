// The small records every platform returns and every component consumes. Components see only
// these: they never ask which platform they run on.
import * as pulumi from "@pulumi/pulumi";

/** The three kinds of backup writer the platform serves. */
export type Consumer = "velero" | "cnpg" | "mssql";

/** Credentials delivered as a Secret in the consumer's namespace, in the consumer's own format. */
export interface SecretCredentials {
    readonly kind: "secret";
    /** Namespace the Secret lives in (the consumer's). */
    readonly namespace: string;
    /** Secret name. */
    readonly secretName: string;
    /** Keys inside the Secret, by role (e.g. accessKeyId -> ACCESS_KEY_ID, or cloud -> cloud). */
    readonly keys: Readonly<Record<string, string>>;
}

/** Credentials by IAM Roles for Service Accounts: the consumer's service account assumes `roleArn`. */
export interface IrsaCredentials {
    readonly kind: "irsa";
    /** Role ARN; resolves only once the role's policy is attached. */
    readonly roleArn: pulumi.Output<string>;
    /** The one service account the role trusts. */
    readonly serviceAccount: { readonly namespace: string; readonly name: string };
}

/** Where one consumer writes its backups and how it authenticates. */
export interface BackupTarget {
    readonly consumer: Consumer;
    /** Bucket name. */
    readonly bucket: string;
    /** Object prefix inside the bucket, without leading or trailing slash ("" for the bucket root). */
    readonly prefix: string;
    /** S3 endpoint URL for S3-compatible storage; undefined means AWS S3's regional endpoint. */
    readonly endpoint?: string;
    /** Region the client must sign for. */
    readonly region: string;
    /** Path-style addressing (required by Ceph RGW). */
    readonly forcePathStyle: boolean;
    /** PEM CA bundle for an https endpoint signed by a private CA. */
    readonly caBundle?: string;
    readonly credentials: SecretCredentials | IrsaCredentials;
    /** Resources a consumer must wait for (its credentials Secret). */
    readonly dependsOn: pulumi.Resource[];
}

/** Everything a platform hands downstream. */
export interface BackupTargets {
    readonly velero: BackupTarget;
    /** Per PostgreSQL cluster (inventory and recovery clusters), keyed by cluster name. */
    readonly postgres: Readonly<Record<string, BackupTarget>>;
    /** Per SQL Server database, keyed by `<namespace>/<database>`. */
    readonly mssql: Readonly<Record<string, BackupTarget>>;
    /**
     * Per PostgreSQL database with restore drills, keyed by its name: how a drill cluster reads the
     * database's archive (read-only; the drill cluster archives nowhere). Empty without drills.
     */
    readonly drills?: Readonly<Record<string, BackupTarget>>;
    /**
     * Per recovery cluster (cnpg.recoveries), keyed by its name: how it reads its source's archive with an
     * identity that cannot write there. Absent: it reads with the source's target (on AWS its own role,
     * which its pods assume, already reads the source read-only).
     */
    readonly recoverySources?: Readonly<Record<string, BackupTarget>>;
}

/** What the off-site copy reads: every backup bucket, as a read-only user. */
export interface ReplicationSource {
    /** S3 endpoint of the buckets. */
    readonly endpoint: string;
    readonly region: string;
    /** PEM CA bundle for a private-CA https endpoint. */
    readonly caBundle?: string;
    /** Every backup bucket, sorted. */
    readonly buckets: readonly string[];
    /** The reading user's id. */
    readonly user: string;
    readonly accessKeyId: pulumi.Output<string>;
    readonly secretAccessKey: pulumi.Output<string>;
    /** The user and the bucket claims (with their policies) the copy needs. */
    readonly dependsOn: pulumi.Resource[];
}

/** Where the off-site copy writes: an existing bucket, or one the program created. */
export interface OffsiteDestination {
    /** S3 endpoint URL; undefined means AWS S3's regional endpoint. */
    readonly endpoint?: string;
    readonly region: string;
    /** rclone's S3 provider name (AWS, Ceph, Minio, ...). */
    readonly provider: string;
    readonly bucket: string;
    /** Path inside the bucket under which each source bucket is copied ("" = the bucket root). */
    readonly prefix: string;
    /** An existing Secret in the copy's namespace, or a key pair the program generated (Pulumi secrets). */
    readonly credentials:
        | { readonly kind: "secret"; readonly secretName: string; readonly keys: { accessKeyId: string; secretAccessKey: string } }
        | { readonly kind: "keys"; readonly accessKeyId: pulumi.Output<string>; readonly secretAccessKey: pulumi.Output<string> };
    /** KMS key the bucket encrypts with by default (SSE-KMS objects do not carry an MD5 ETag). */
    readonly kmsKeyArn?: pulumi.Output<string>;
    /** Resources the copy must wait for (the bucket and its policy, the writer's key). */
    readonly dependsOn: pulumi.Resource[];
}

/** `s3://bucket/prefix` for a target and an optional sub-path. */
export function s3Uri(target: BackupTarget, ...parts: string[]): string {
    return `s3://${[target.bucket, target.prefix, ...parts].filter((p) => p !== "").join("/")}`;
}

/** Key of an SQL Server database in `BackupTargets.mssql`. */
export function mssqlKey(db: { namespace: string; name: string }): string {
    return `${db.namespace}/${db.name}`;
}
