// S3 (AWS provider v7, split bucket resources): each guard rail is checked on the resource that
// carries it; `stack-s3-bucket-guardrails` (stack.ts) checks that every bucket has all of them.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { at, awsExpiryRules, configOf, expiryViolations, forTypes, isObj, list, statementsOf, str, type OptionsWithRetain } from "./util";

/** Type tokens, with the deprecated V2 aliases the provider still registers. */
export const S3 = {
    bucket: ["aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"],
    encryption: [
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
    ],
    versioning: ["aws:s3/bucketVersioning:BucketVersioning", "aws:s3/bucketVersioningV2:BucketVersioningV2"],
    publicAccessBlock: ["aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"],
    policy: ["aws:s3/bucketPolicy:BucketPolicy"],
    lifecycle: [
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLifecycleConfigurationV2:BucketLifecycleConfigurationV2",
    ],
} as const;

/** Config of the lifecycle checks (S3 and Rook bucket claims). */
export interface RetentionConfig {
    /** Database backup retention in days (the stack's `backup:retention`). */
    retentionDays: number;
    /** Days between two base backups (a daily ScheduledBackup: 1). */
    baseBackupIntervalDays: number;
}

export const RETENTION_DEFAULTS: RetentionConfig = { retentionDays: 30, baseBackupIntervalDays: 1 };

export const RETENTION_SCHEMA = {
    properties: {
        retentionDays: { type: "integer", minimum: 1, default: RETENTION_DEFAULTS.retentionDays, description: "Backup retention in days." },
        baseBackupIntervalDays: {
            type: "integer",
            minimum: 0,
            default: RETENTION_DEFAULTS.baseBackupIntervalDays,
            description: "Days between two base backups.",
        },
    },
} as const;

const KMS_DEFAULTS = { allowAes256: false };

export const s3BucketNoForceDestroy: ResourceValidationPolicy = {
    name: "s3-bucket-no-force-destroy",
    description: "Backup buckets must not set forceDestroy, which lets a destroy or replacement delete every object in them.",
    remediationSteps: "Set `forceDestroy: false` (the default) on the bucket; empty it deliberately by hand if it really must go.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(S3.bucket, (args, report) => {
        if (args.props.forceDestroy === true) report("forceDestroy is true: deleting this bucket would also delete every backup in it.");
    }),
};

export const s3BucketRetainOnDelete: ResourceValidationPolicy = {
    name: "s3-bucket-retain-on-delete",
    description: "Backup buckets must be protected or retained on delete, so a destroy, rename or replacement never deletes backup data.",
    remediationSteps:
        "Keep `dataSafety.retainOnDelete: true` (the default) or set `dataSafety.protect: true` in the stack config; both end up as resource options on the bucket.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(S3.bucket, (args, report) => {
        const opts = args.opts as OptionsWithRetain;
        if (opts.protect || opts.retainOnDelete === true) return;
        // @pulumi/policy 1.21 passes `protect` but not `retainOnDelete` (its analyzer protocol has no
        // such field), so under the CLI a retained bucket looks like an unprotected one.
        if (opts.retainOnDelete === undefined)
            args.notApplicable("retainOnDelete is not visible to policy packs (@pulumi/policy 1.21) and protect is not set");
        report("the bucket is neither protected nor retained on delete: `pulumi destroy` or a replacement would delete it.");
    }),
};

export const s3EncryptionKmsRequired: ResourceValidationPolicy = {
    name: "s3-encryption-kms-required",
    description: "Backup buckets must encrypt by default with a KMS key (SSE-KMS), or with SSE-S3 only where the pack's config allows it.",
    remediationSteps:
        "Use `backup:aws.encryption: kms`, or set this policy's `allowAes256: true` if SSE-S3 is an accepted risk for the stack.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            allowAes256: { type: "boolean", default: KMS_DEFAULTS.allowAes256, description: "Accept SSE-S3 (AES256) as well as SSE-KMS." },
        },
    },
    validateResource: forTypes(S3.encryption, (args, report) => {
        const { allowAes256 } = configOf(args, KMS_DEFAULTS);
        const rules = list(args.props.rules).filter(isObj);
        if (rules.length === 0) {
            report("the encryption configuration has no rules.");
            return;
        }
        for (const rule of rules) {
            const algorithm = str(at(rule, "applyServerSideEncryptionByDefault", "sseAlgorithm"));
            const allowed = allowAes256 ? ["aws:kms", "aws:kms:dsse", "AES256"] : ["aws:kms", "aws:kms:dsse"];
            if (algorithm === undefined || !allowed.includes(algorithm))
                report(`default encryption is ${algorithm ?? "not set"}; allowed: ${allowed.join(", ")}.`);
        }
    }),
};

export const s3VersioningEnabled: ResourceValidationPolicy = {
    name: "s3-versioning-enabled",
    description: "Backup buckets must have versioning enabled, so an overwritten or deleted backup can still be restored.",
    remediationSteps: 'Set `versioningConfiguration: { status: "Enabled" }` on the bucket\'s BucketVersioning.',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(S3.versioning, (args, report) => {
        const status = at(args.props, "versioningConfiguration", "status");
        if (status !== "Enabled") report(`versioning status is ${String(status)}, not Enabled.`);
    }),
};

const PUBLIC_ACCESS_FLAGS = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"] as const;

export const s3PublicAccessBlockAll: ResourceValidationPolicy = {
    name: "s3-public-access-block-all",
    description: "Backup buckets must block every form of public access.",
    remediationSteps: `Set ${PUBLIC_ACCESS_FLAGS.map((f) => `\`${f}\``).join(", ")} to true on the bucket's BucketPublicAccessBlock.`,
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes(S3.publicAccessBlock, (args, report) => {
        const off = PUBLIC_ACCESS_FLAGS.filter((flag) => args.props[flag] !== true);
        if (off.length > 0) report(`public access is not fully blocked: ${off.join(", ")} not true.`);
    }),
};

/** True when the statement denies every request made without TLS. */
function deniesInsecureTransport(statement: Record<string, unknown>): boolean {
    if (statement.Effect !== "Deny") return false;
    const value = at(statement, "Condition", "Bool", "aws:SecureTransport");
    return list(value).some((v) => v === "false" || v === false);
}

export const s3BucketPolicyDenyInsecureTransport: ResourceValidationPolicy = {
    name: "s3-bucket-policy-deny-insecure-transport",
    description: "Backup bucket policies must deny every request that does not use TLS.",
    remediationSteps:
        'Add a statement `{Effect: "Deny", Principal: "*", Action: "s3:*", Resource: [<bucket ARN>, "<bucket ARN>/*"], Condition: {Bool: {"aws:SecureTransport": "false"}}}`.',
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes(S3.policy, (args, report) => {
        const doc = statementsOf(args.props.policy);
        if ("error" in doc) report(`${doc.error}.`);
        else if (!doc.statements.some(deniesInsecureTransport))
            report('no statement denies requests with "aws:SecureTransport": "false"; plain-HTTP access to backups is allowed.');
    }),
};

export const s3LifecycleMinExpiration: ResourceValidationPolicy = {
    name: "s3-lifecycle-min-expiration",
    description:
        "Backup bucket lifecycle rules must keep current objects at least retention plus one base-backup interval, so point-in-time recovery keeps its base backup.",
    remediationSteps:
        "Raise `expiration.days` (the program derives it from `backup:retention` + 1 + `lifecycle.marginDays`), or set this policy's retentionDays and baseBackupIntervalDays to the stack's real values.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: RETENTION_SCHEMA,
    validateResource: forTypes(S3.lifecycle, (args, report) => {
        const cfg = configOf(args, RETENTION_DEFAULTS);
        const rules = list(args.props.rules);
        if (rules.length === 0) report("the lifecycle configuration has no rules.");
        for (const message of expiryViolations(awsExpiryRules(rules), cfg.retentionDays + cfg.baseBackupIntervalDays)) report(message);
    }),
};

export const s3Policies: ResourceValidationPolicy[] = [
    s3BucketNoForceDestroy,
    s3BucketRetainOnDelete,
    s3EncryptionKmsRequired,
    s3VersioningEnabled,
    s3PublicAccessBlockAll,
    s3BucketPolicyDenyInsecureTransport,
    s3LifecycleMinExpiration,
];
