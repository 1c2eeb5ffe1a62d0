// Bare metal's buckets: one ObjectBucketClaim per bucket, owned by a user no consumer holds the keys of, with
// lifecycle rules and a bucket policy granting each user its prefixes (stacks/baremetal/access.ts).
import * as k8s from "@pulumi/kubernetes";
import type * as pulumi from "@pulumi/pulumi";
import { type BaremetalConfig } from "../../config";
import { BUCKET_OWNER, bucketGrants, rookBucketPolicy } from "./access";
import { type BucketPlan, type LifecycleRule } from "../layout";
import { owned } from "../../core/ownership";
import { PART_OF } from "../../core/names";

/** The S3 lifecycle document Rook applies (rules already sorted by ID). */
export function rookLifecycle(rules: readonly LifecycleRule[]): string {
    return JSON.stringify({
        Rules: rules.map((r) => ({
            ID: r.id,
            Status: "Enabled",
            Filter: { Prefix: r.prefix },
            ...(r.expirationDays !== undefined ? { Expiration: { Days: r.expirationDays } } : {}),
            ...(r.expiredObjectDeleteMarker ? { Expiration: { ExpiredObjectDeleteMarker: true } } : {}),
            ...(r.noncurrentDays !== undefined ? { NoncurrentVersionExpiration: { NoncurrentDays: r.noncurrentDays } } : {}),
            ...(r.abortMultipartDays !== undefined
                ? { AbortIncompleteMultipartUpload: { DaysAfterInitiation: r.abortMultipartDays } }
                : {}),
        })),
    });
}

/** The StorageClass of the bucket claims, for a stack that creates it. */
export function bucketStorageClass(
    id: string,
    bm: BaremetalConfig["baremetal"],
    child: pulumi.CustomResourceOptions,
): k8s.storage.v1.StorageClass {
    return new k8s.storage.v1.StorageClass(
        id,
        {
            metadata: owned({ name: bm.bucketStorageClass.name }),
            provisioner: bm.bucketStorageClass.provisioner,
            // Retain: deleting a claim must never delete a bucket full of backups.
            reclaimPolicy: "Retain",
            parameters: { objectStoreName: bm.objectStore, objectStoreNamespace: bm.objectStoreNamespace, region: bm.region },
        },
        child,
    );
}

/** The bucket's claim: owned by the dedicated owner, every other user granted by the policy. */
export function bucketClaim(
    name: string,
    plan: BucketPlan,
    cfg: BaremetalConfig,
    storageClass: pulumi.Resource | undefined,
    owner: pulumi.Resource,
    users: ReadonlyMap<string, { user: pulumi.Resource }>,
    replicator: boolean,
    keep: pulumi.CustomResourceOptions,
): pulumi.Resource {
    const grants = bucketGrants(cfg, plan, replicator);
    const granted = grants.map((g) => users.get(g.user)?.user).filter((u): u is pulumi.Resource => u !== undefined);
    return new k8s.apiextensions.CustomResource(
        `${name}-bucket-${plan.name}`,
        {
            apiVersion: "objectbucket.io/v1alpha1",
            kind: "ObjectBucketClaim",
            metadata: owned({
                name: plan.name,
                namespace: cfg.baremetal.objectStoreNamespace,
                labels: PART_OF,
            }),
            spec: {
                bucketName: plan.name,
                storageClassName: cfg.baremetal.bucketStorageClass.name,
                // Needs ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS to allow these keys (Rook 1.17+).
                additionalConfig: {
                    bucketOwner: BUCKET_OWNER,
                    bucketLifecycle: rookLifecycle(plan.lifecycle),
                    bucketPolicy: rookBucketPolicy(plan.name, grants),
                },
            },
        },
        { ...keep, dependsOn: [owner, ...granted, ...(storageClass ? [storageClass] : [])] },
    );
}
