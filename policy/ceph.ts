// Rook-Ceph: object users are plain S3 users (no admin API), and every bucket claim names its
// owner and keeps backups long enough.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { RETENTION_DEFAULTS, RETENTION_SCHEMA } from "./s3";
import { at, configOf, expiryViolations, forTypes, isObj, s3ApiExpiryRules, text } from "./util";

export const CEPH = {
    objectStoreUser: "kubernetes:ceph.rook.io/v1:CephObjectStoreUser",
    objectBucketClaim: "kubernetes:objectbucket.io/v1alpha1:ObjectBucketClaim",
} as const;

export const cephObjectStoreUserNoCapabilities: ResourceValidationPolicy = {
    name: "ceph-objectstoreuser-no-capabilities",
    description: "Ceph object users must not be granted admin capabilities; a backup writer only needs S3 access to its bucket.",
    remediationSteps:
        'Remove `spec.capabilities` (the seeds\' `user: "*"` and `bucket: "*"` open the RGW admin API); grant bucket access with the claim\'s `bucketOwner` or `bucketPolicy` instead.',
    enforcementLevel: "mandatory",
    severity: "critical",
    validateResource: forTypes([CEPH.objectStoreUser], (args, report) => {
        const capabilities = at(args.props, "spec", "capabilities");
        if (!isObj(capabilities)) return;
        const granted = Object.entries(capabilities).filter(([, value]) => value !== undefined && value !== null && value !== "");
        if (granted.length > 0)
            report(
                `the user has admin capabilities ${granted.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(", ")} on the RGW admin API.`,
            );
    }),
};

export const cephObjectBucketClaimBucketOwner: ResourceValidationPolicy = {
    name: "ceph-objectbucketclaim-bucket-owner",
    description: "Object bucket claims must name the object user that owns the bucket, so the backup writer's own keys can use it.",
    remediationSteps:
        "Set `spec.additionalConfig.bucketOwner` to the writer's CephObjectStoreUser, and allow the field in ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS.",
    enforcementLevel: "mandatory",
    severity: "high",
    validateResource: forTypes([CEPH.objectBucketClaim], (args, report) => {
        if (text(at(args.props, "spec", "additionalConfig", "bucketOwner")) === undefined)
            report(
                "spec.additionalConfig.bucketOwner is not set: Rook creates a throwaway owner whose keys only the claim's Secret holds.",
            );
    }),
};

export const cephObjectBucketClaimLifecycleMinExpiration: ResourceValidationPolicy = {
    name: "ceph-objectbucketclaim-lifecycle-min-expiration",
    description:
        "Bucket claim lifecycle rules must keep current objects at least retention plus one base-backup interval, so point-in-time recovery keeps its base backup.",
    remediationSteps:
        "Raise the `Expiration.Days` of the claim's `bucketLifecycle` rules, or set this policy's retentionDays and baseBackupIntervalDays to the stack's real values.",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: RETENTION_SCHEMA,
    validateResource: forTypes([CEPH.objectBucketClaim], (args, report) => {
        const lifecycle: unknown = at(args.props, "spec", "additionalConfig", "bucketLifecycle");
        if (lifecycle === undefined) return;
        let doc: unknown;
        try {
            doc = typeof lifecycle === "string" ? JSON.parse(lifecycle) : lifecycle;
        } catch {
            report("spec.additionalConfig.bucketLifecycle is not valid JSON.");
            return;
        }
        const cfg = configOf(args, RETENTION_DEFAULTS);
        for (const message of expiryViolations(s3ApiExpiryRules(doc), cfg.retentionDays + cfg.baseBackupIntervalDays)) report(message);
    }),
};

export const cephPolicies: ResourceValidationPolicy[] = [
    cephObjectStoreUserNoCapabilities,
    cephObjectBucketClaimBucketOwner,
    cephObjectBucketClaimLifecycleMinExpiration,
];
