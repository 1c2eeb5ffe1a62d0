// IAM / bucket-policy action sets per consumer, shared by the AWS IAM policies and the RGW bucket policies.

export const VELERO_OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
];
export const CNPG_OBJECT_ACTIONS = ["s3:DeleteObject", "s3:GetObject", "s3:PutObject"];
/** SQL Server writes and reads .bak files but never deletes them: retention is the bucket lifecycle's job. */
export const MSSQL_OBJECT_ACTIONS = ["s3:AbortMultipartUpload", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:PutObject"];
/**
 * A backup writer's use of the bucket key, always through S3: a data key for uploads, Decrypt for
 * reads and for completing multipart uploads. Never Encrypt or ReEncrypt (direct use of the key).
 */
export const KMS_WRITER_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey"];
/** Reading SSE-KMS objects: a restore drill or a replica reader never needs a data key. */
export const KMS_READER_ACTIONS = ["kms:Decrypt"];
/** What the bare-metal off-site replicator may do on every backup bucket: read, never write or delete. */
export const REPLICATOR_OBJECT_ACTIONS = ["s3:GetObject"];
