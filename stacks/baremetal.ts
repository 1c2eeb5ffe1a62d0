// Bare metal: Ceph RGW through Rook. One object user per consumer, with key material the program
// generates and owns; one ObjectBucketClaim per bucket, owned by its consumer's user, with lifecycle
// rules and, where several users share a bucket, a bucket policy granting each its prefix.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { type BaremetalConfig } from "../config";
import { CNPG_OBJECT_ACTIONS, MSSQL_OBJECT_ACTIONS, REPLICATOR_OBJECT_ACTIONS, VELERO_OBJECT_ACTIONS } from "./actions";
import { createConsumerSecret, secretLayout } from "./credentials";
import { activeConsumers, cnpgWriters, mssqlPrefix, planBuckets, postgresPrefix, type BucketPlan, type LifecycleRule } from "./layout";
import { statefulOptions } from "./safety";
import { mssqlKey, type BackupTarget, type BackupTargets, type Consumer, type ReplicationSource } from "./targets";
import { owned } from "../components/ownership";

/** RGW user id of a consumer's object user (the CephObjectStoreUser's name). */
export const objectUserName = (consumer: Consumer): string => `backup-${consumer}`;
/** RGW user id of the read-only off-site replicator. */
export const REPLICATOR_USER = "backup-replicator";

interface ObjectUserKeys {
    accessKeyId: pulumi.Output<string>;
    secretAccessKey: pulumi.Output<string>;
    user: pulumi.Resource;
}

const OBJECT_ACTIONS: Record<Consumer, string[]> = {
    velero: VELERO_OBJECT_ACTIONS,
    cnpg: CNPG_OBJECT_ACTIONS,
    mssql: MSSQL_OBJECT_ACTIONS,
};

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

/** A grant of one RGW user on one prefix of a bucket. */
export interface BucketGrant {
    readonly user: string;
    readonly prefix: string;
    readonly actions: readonly string[];
}

/**
 * The bucket policy for every user but the owner. RGW cannot grant a user "all current and future
 * buckets" (seed 003), so each bucket carries the grants of the users that need it.
 */
export function rookBucketPolicy(bucket: string, grants: readonly BucketGrant[]): string | undefined {
    if (grants.length === 0) return undefined;
    const statements = grants.flatMap((g) => {
        const principal = { AWS: [`arn:aws:iam:::user/${g.user}`] };
        const objects = g.prefix === "" ? `arn:aws:s3:::${bucket}/*` : `arn:aws:s3:::${bucket}/${g.prefix}/*`;
        const list: Record<string, unknown> = {
            Sid: `${g.user}-list`,
            Effect: "Allow",
            Principal: principal,
            Action: ["s3:GetBucketLocation", "s3:ListBucket"],
            Resource: [`arn:aws:s3:::${bucket}`],
        };
        if (g.prefix !== "") list.Condition = { StringLike: { "s3:prefix": [g.prefix, `${g.prefix}/*`] } };
        return [list, { Sid: `${g.user}-objects`, Effect: "Allow", Principal: principal, Action: [...g.actions], Resource: [objects] }];
    });
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

export interface BaremetalStorageArgs {
    /** Validated stack configuration (platform baremetal). */
    readonly config: BaremetalConfig;
    /** Namespaces this program creates, by name, so Secrets inside them wait for them. Default none. */
    readonly namespaces?: Readonly<Record<string, pulumi.Resource>>;
}

/** Object users, buckets and credentials on Rook-Ceph; `targets` is what downstream components consume. */
export class BaremetalStorage extends pulumi.ComponentResource {
    public readonly targets: BackupTargets;
    /** Bucket name per active consumer. */
    public readonly buckets: Partial<Record<Consumer, string>>;
    /** Object user id per active consumer. */
    public readonly objectUsers: Partial<Record<Consumer, string>>;
    /** What the off-site copy reads, when it is on. */
    public readonly replicationSource?: ReplicationSource;

    constructor(name: string, args: BaremetalStorageArgs, opts?: pulumi.ComponentResourceOptions) {
        super("backup:stacks:BaremetalStorage", name, {}, opts);
        const cfg = args.config;
        const bm = cfg.baremetal;
        const child = { parent: this };
        const keep = statefulOptions(cfg, child);
        const waitFor = (ns: string): pulumi.Resource[] => (args.namespaces?.[ns] ? [args.namespaces[ns]] : []);

        const storageClass = bm.bucketStorageClass.create
            ? new k8s.storage.v1.StorageClass(
                  `${name}-buckets`,
                  {
                      metadata: owned({ name: bm.bucketStorageClass.name }),
                      provisioner: bm.bucketStorageClass.provisioner,
                      // Retain: deleting a claim must never delete a bucket full of backups.
                      reclaimPolicy: "Retain",
                      parameters: { objectStoreName: bm.objectStore, objectStoreNamespace: bm.objectStoreNamespace, region: bm.region },
                  },
                  child,
              )
            : undefined;

        // Object users with program-owned keys (Rook 1.18+ spec.keys): no waiting for Rook to publish
        // a Secret, and the keys can be delivered anywhere in the same `up`.
        const keys: Partial<Record<Consumer, ObjectUserKeys>> = {};
        for (const consumer of activeConsumers(cfg)) {
            keys[consumer] = this.objectUser(
                `${name}-${consumer}`,
                objectUserName(consumer),
                `Backup writer: ${consumer}`,
                cfg,
                child,
                keep,
            );
        }
        // The off-site copy reads every bucket with a user of its own, which the bucket policies
        // below grant read access and nothing else.
        const replicator = cfg.offsite.enabled
            ? this.objectUser(`${name}-replicator`, REPLICATOR_USER, "Off-site replicator (read-only)", cfg, child, keep)
            : undefined;

        const plans = planBuckets(cfg, bm.buckets);
        const claims = new Map<string, pulumi.Resource>();
        for (const plan of plans) {
            claims.set(plan.name, this.claim(name, plan, cfg, storageClass, keys, replicator, keep));
        }

        const target = (consumer: Consumer, prefix: string, namespace: string, secret: pulumi.Resource): BackupTarget => ({
            consumer,
            bucket: bm.buckets[consumer],
            prefix,
            endpoint: consumer === "mssql" ? (bm.mssqlEndpoint ?? bm.endpoint) : bm.endpoint,
            region: bm.region,
            forcePathStyle: true,
            caBundle: bm.caBundle,
            credentials: secretLayout(consumer, namespace),
            // Only the credentials: Pulumi never waits for a claim to be Bound, so ordering consumers after its
            // creation guaranteed nothing (they retry until the bucket exists) and put every consumer, the
            // Velero chart first, at the end of the longest chain (measured: ~0.1 s of each no-op up).
            dependsOn: [secret],
        });
        const secretFor = (consumer: Consumer, namespace: string): pulumi.Resource => {
            const k = keys[consumer] as NonNullable<(typeof keys)[Consumer]>;
            return createConsumerSecret(
                `${name}-${consumer}-${namespace}`,
                consumer,
                namespace,
                k.accessKeyId,
                k.secretAccessKey,
                this,
                waitFor(namespace),
            );
        };

        const velero = target("velero", cfg.velero.prefix, cfg.velero.namespace, secretFor("velero", cfg.velero.namespace));
        const postgres: Record<string, BackupTarget> = {};
        const writers = cnpgWriters(cfg);
        for (const ns of unique(writers.map((w) => w.namespace))) {
            const secret = secretFor("cnpg", ns);
            for (const w of writers.filter((x) => x.namespace === ns))
                postgres[w.name] = target("cnpg", postgresPrefix(w.name), ns, secret);
        }
        const mssql: Record<string, BackupTarget> = {};
        for (const ns of unique(cfg.mssql.map((db) => db.namespace))) {
            const secret = secretFor("mssql", ns);
            for (const db of cfg.mssql.filter((d) => d.namespace === ns))
                mssql[mssqlKey(db)] = target("mssql", mssqlPrefix(db.namespace, db.name), ns, secret);
        }

        // A drill cluster reads its source's archive with the namespace's cnpg Secret; it archives nowhere.
        const drills = cfg.drills.enabled ? Object.fromEntries(cfg.postgres.map((db) => [db.name, postgres[db.name]])) : {};

        this.targets = { velero, postgres, mssql, drills };
        this.buckets = Object.fromEntries(activeConsumers(cfg).map((c) => [c, bm.buckets[c]]));
        this.objectUsers = Object.fromEntries(activeConsumers(cfg).map((c) => [c, objectUserName(c)]));
        this.replicationSource = replicator && {
            endpoint: bm.endpoint,
            region: bm.region,
            caBundle: bm.caBundle,
            buckets: plans.map((p) => p.name).sort(),
            user: REPLICATOR_USER,
            accessKeyId: replicator.accessKeyId,
            secretAccessKey: replicator.secretAccessKey,
            dependsOn: [replicator.user, ...claims.values()],
        };
        this.registerOutputs({ buckets: this.buckets, objectUsers: this.objectUsers });
    }

    /** A CephObjectStoreUser without capabilities, keyed from a program-owned Secret; user, keys and Secret are retained. */
    private objectUser(
        id: string,
        uid: string,
        displayName: string,
        cfg: BaremetalConfig,
        child: pulumi.CustomResourceOptions,
        keep: pulumi.CustomResourceOptions,
    ): ObjectUserKeys {
        const bm = cfg.baremetal;
        // Letters and digits only: SQL Server splits its credential at ':' and the keys end up in SQL literals.
        // RandomPassword, not RandomString: a RandomString's ID is its value, and IDs are never secret in the state.
        const accessKey = new random.RandomPassword(`${id}-access-key`, { length: 20, lower: false, special: false }, child);
        const secretKey = new random.RandomPassword(`${id}-secret-key`, { length: 40, special: false }, child);
        const keySecret = new k8s.core.v1.Secret(
            `${id}-keys`,
            {
                metadata: owned({
                    name: `${uid}-s3-keys`,
                    namespace: bm.objectStoreNamespace,
                    labels: { "app.kubernetes.io/part-of": "backup-platform" },
                }),
                type: "Opaque",
                stringData: { "access-key": accessKey.result, "secret-key": secretKey.result },
            },
            keep,
        );
        const user = new k8s.apiextensions.CustomResource(
            `${id}-user`,
            {
                apiVersion: "ceph.rook.io/v1",
                kind: "CephObjectStoreUser",
                metadata: owned({ name: uid, namespace: bm.objectStoreNamespace }),
                spec: {
                    store: bm.objectStore,
                    displayName,
                    // No capabilities: a backup writer needs no admin API (the seeds granted user "*" and bucket "*").
                    keys: [
                        {
                            accessKeyRef: { name: keySecret.metadata.name, key: "access-key" },
                            secretKeyRef: { name: keySecret.metadata.name, key: "secret-key" },
                        },
                    ],
                },
            },
            { ...keep, dependsOn: [keySecret] },
        );
        return { accessKeyId: accessKey.result, secretAccessKey: secretKey.result, user };
    }

    private claim(
        name: string,
        plan: BucketPlan,
        cfg: BaremetalConfig,
        storageClass: pulumi.Resource | undefined,
        keys: Partial<Record<Consumer, { user: pulumi.Resource }>>,
        replicator: { user: pulumi.Resource } | undefined,
        keep: pulumi.CustomResourceOptions,
    ): pulumi.Resource {
        const grants: BucketGrant[] = plan.users
            .filter((u) => u.consumer !== plan.owner)
            .map((u) => ({ user: objectUserName(u.consumer), prefix: u.prefix, actions: OBJECT_ACTIONS[u.consumer] }));
        // The replicator reads the whole bucket (every writer's prefix): list and get, never put or delete.
        if (replicator) grants.push({ user: REPLICATOR_USER, prefix: "", actions: REPLICATOR_OBJECT_ACTIONS });
        const policy = rookBucketPolicy(plan.name, grants);
        const users = [
            ...plan.users.map((u) => keys[u.consumer]?.user).filter((u): u is pulumi.Resource => u !== undefined),
            ...(replicator ? [replicator.user] : []),
        ];
        return new k8s.apiextensions.CustomResource(
            `${name}-bucket-${plan.name}`,
            {
                apiVersion: "objectbucket.io/v1alpha1",
                kind: "ObjectBucketClaim",
                metadata: owned({
                    name: plan.name,
                    namespace: cfg.baremetal.objectStoreNamespace,
                    labels: { "app.kubernetes.io/part-of": "backup-platform" },
                }),
                spec: {
                    bucketName: plan.name,
                    storageClassName: cfg.baremetal.bucketStorageClass.name,
                    // Needs ROOK_OBC_ALLOW_ADDITIONAL_CONFIG_FIELDS to allow these keys (Rook 1.17+).
                    additionalConfig: {
                        bucketOwner: objectUserName(plan.owner),
                        bucketLifecycle: rookLifecycle(plan.lifecycle),
                        ...(policy !== undefined ? { bucketPolicy: policy } : {}),
                    },
                },
            },
            { ...keep, dependsOn: [...users, ...(storageClass ? [storageClass] : [])] },
        );
    }
}

function unique(values: string[]): string[] {
    return [...new Set(values)];
}
