// Storage sections: lifecycle, data safety, buckets, Object Lock, EKS, and the two platforms' storage.
import { Region } from "@pulumi/aws/types/enums";
import { z } from "zod";
import { bucketName, dnsLabel, httpUrl, namespaceName, s3Region } from "./formats";

export const lifecycle = z
    .strictObject({
        /** Days beyond (retention + one backup interval) before current objects expire. Default 7. */
        marginDays: z.number().int().min(1).max(365).default(7),
        /** Days a replaced or deleted object version is kept. Default 7. */
        noncurrentDays: z.number().int().min(1).max(3650).default(7),
        /** Days before an unfinished multipart upload is aborted. Default 3. */
        abortMultipartDays: z.number().int().min(1).max(30).default(3),
    })
    .prefault({});

export const dataSafety = z
    .strictObject({
        /** Keep buckets, object users, key material and KMS keys on `pulumi destroy`. Default true. */
        retainOnDelete: z.boolean().default(true),
        /** Also mark them protected, so destroy and replacement fail until unprotected. Default false. */
        protect: z.boolean().default(false),
    })
    .prefault({});

export const consumerBuckets = z.strictObject({
    /** Bucket for Velero backups. */
    velero: bucketName,
    /** Bucket for CloudNativePG WAL and base backups (one prefix per cluster). */
    cnpg: bucketName,
    /** Bucket for SQL Server .bak files. */
    mssql: bucketName,
});

export const objectLock = z
    .strictObject({
        /** Enable S3 Object Lock (governance mode) on the cnpg and mssql buckets. Default false; can only be set at bucket creation. */
        enabled: z.boolean().default(false),
        /** Default retention of each object version, in days. Default 30. */
        days: z.number().int().min(1).max(3650).default(30),
    })
    .prefault({});

export const EKS_ALLOWED = "{ clusterName } (the EKS cluster whose OIDC issuer is looked up) or { oidcProviderArn, oidcIssuerUrl }";
export const eks = z.union(
    [
        z.strictObject({
            /** EKS cluster whose OIDC issuer is looked up. */
            clusterName: z.string().min(1),
        }),
        z.strictObject({
            /** ARN of the cluster's IAM OIDC provider. */
            oidcProviderArn: z
                .string()
                .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider\/.+$/, "oidcProviderArn must be an IAM OIDC provider ARN"),
            /** The cluster's OIDC issuer URL, https://oidc.eks.<region>.amazonaws.com/id/<id>. */
            oidcIssuerUrl: z.string().regex(/^https:\/\/[^\s]+$/, "oidcIssuerUrl must be an https:// URL"),
        }),
    ],
    { error: (iss) => (iss.input === undefined ? `required: ${EKS_ALLOWED}` : `must be ${EKS_ALLOWED}`) },
);

/** Every AWS region, from the AWS provider's own Region enum (a small module of constants, not the whole SDK). */
export const AWS_REGIONS: readonly string[] = Object.values(Region);
export const awsRegion = z.string().refine((r) => AWS_REGIONS.includes(r), {
    error: (iss) => `"${String(iss.input)}" is not an AWS region; an AWS region like af-south-1: one of ${AWS_REGIONS.join(", ")}`,
});

export const awsStorage = z.strictObject({
    /** AWS region of the buckets, e.g. af-south-1. */
    region: awsRegion,
    /** Bucket per consumer; must be globally unique names. */
    buckets: consumerBuckets,
    /** kms (customer-managed key, bucket keys on) or s3 (SSE-S3). Default kms. */
    encryption: z.enum(["kms", "s3"]).default("kms"),
    /** S3 Object Lock for the database buckets. */
    objectLock,
    /** How IRSA trust finds the cluster's OIDC provider: by EKS cluster name, or given explicitly. */
    eks,
});

export const baremetalStorage = z.strictObject({
    /** CephObjectStore name. */
    objectStore: dnsLabel("a CephObjectStore name"),
    /** Namespace of the CephObjectStore (and of the object users). Default rook-ceph. */
    objectStoreNamespace: namespaceName.default("rook-ceph"),
    /** Region name RGW answers to (arbitrary for Ceph, but clients must agree). */
    region: s3Region,
    /** RGW endpoint as consumers in the cluster reach it. */
    endpoint: httpUrl,
    /** Endpoint for SQL Server, which only speaks https; default: `endpoint`, which must then be https. */
    mssqlEndpoint: httpUrl.optional(),
    /** PEM CA bundle for https endpoints signed by a private CA. Default none. */
    caBundle: z.string().includes("-----BEGIN CERTIFICATE-----", "caBundle must be PEM certificates").optional(),
    /** Bucket per consumer. Consumers may share a bucket: then a bucket policy grants the others their prefix. */
    buckets: consumerBuckets,
    /** StorageClass the ObjectBucketClaims use. */
    bucketStorageClass: z
        .strictObject({
            /** Name. Default backup-buckets. */
            name: dnsLabel("a StorageClass name").default("backup-buckets"),
            /** Create it with reclaimPolicy Retain (recommended: an OBC deletion then never deletes a bucket). Default true. */
            create: z.boolean().default(true),
            /** OBC provisioner; Rook prefixes it with the operator namespace. Default rook-ceph.ceph.rook.io/bucket. */
            provisioner: z.string().default("rook-ceph.ceph.rook.io/bucket"),
        })
        .prefault({}),
});

/** A bucket the program creates on AWS for the off-site copy (bare metal), or the replica region (AWS stack). */
