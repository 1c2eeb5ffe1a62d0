// IAM / bucket-policy action sets per consumer, shared by the AWS IAM policies and the RGW bucket policies.

/** The action set velero-plugin-for-aws documents, minus nothing: EC2 for snapshots, S3 for the bucket. */
export const VELERO_EC2_ACTIONS = [
    "ec2:CreateSnapshot",
    "ec2:CreateTags",
    "ec2:CreateVolume",
    "ec2:DeleteSnapshot",
    "ec2:DescribeSnapshots",
    "ec2:DescribeVolumes",
];
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
export const KMS_ACTIONS = ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo"];
/** Reading SSE-KMS objects: a restore drill or a replica reader never needs to encrypt. */
export const KMS_DECRYPT_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"];
/** What the bare-metal off-site replicator may do on every backup bucket: read, never write or delete. */
export const REPLICATOR_OBJECT_ACTIONS = ["s3:GetObject"];
