// Platform-neutral plan of the backup buckets: which consumer writes where, under which prefix,
// and how long objects live. Both platforms turn this plan into their own resources.
import * as assert from "assert";
import { activeConsumers, bucketWriters, type Config } from "../config";
import { bucketCollision, cnpgPrefix, VELERO_EXPIRING, VELERO_RESERVED } from "../core/names";
import { type Consumer } from "../core/targets";
import { cronIntervalDays, retentionDays, ttlDays } from "../core/schedule";

/** One writer inside a bucket. */
export interface BucketUser {
    readonly consumer: Consumer;
    /** Prefix without slashes ("" = bucket root). */
    readonly prefix: string;
    /** Days after which current objects under `expirePrefixes` expire. */
    readonly expireAfterDays: number;
    /** Prefixes (relative to the bucket) whose current objects expire; never Velero's kopia repository. */
    readonly expirePrefixes: readonly string[];
}

/** A lifecycle rule in platform-neutral form. */
export interface LifecycleRule {
    readonly id: string;
    /** "" = whole bucket. */
    readonly prefix: string;
    readonly expirationDays?: number;
    readonly noncurrentDays?: number;
    readonly abortMultipartDays?: number;
    readonly expiredObjectDeleteMarker?: boolean;
}

export interface BucketPlan {
    readonly name: string;
    /** The consumer that owns the bucket (first of velero, cnpg, mssql that uses it). */
    readonly owner: Consumer;
    readonly users: readonly BucketUser[];
    /** Sorted by id (Rook needs that for idempotent lifecycle updates). */
    readonly lifecycle: readonly LifecycleRule[];
}

/** Velero's top-level folders when it writes at the bucket root (its prefix is ""). */
export { VELERO_RESERVED };

/** Prefix of one PostgreSQL cluster inside the cnpg bucket (seed layout: s3://<bucket>/<cluster>). */
export const postgresPrefix = cnpgPrefix;
/** A CNPG cluster that writes backups: an inventory cluster, or a recovery cluster reading its source. */
export interface CnpgWriter {
    readonly name: string;
    readonly namespace: string;
    /** Source cluster a recovery reads from (recoveries only). */
    readonly from?: string;
}

/** Inventory clusters, then recovery clusters (which live in their source's namespace). */
export function cnpgWriters(cfg: Config): CnpgWriter[] {
    const ns = new Map(cfg.postgres.map((db) => [db.name, db.namespace]));
    return [
        ...cfg.postgres.map((db) => ({ name: db.name, namespace: db.namespace })),
        ...cfg.cnpg.recoveries.map((r) => ({ name: r.name, namespace: ns.get(r.from) ?? "", from: r.from })),
    ];
}

/** Prefix of one SQL Server database inside the mssql bucket. */
export const mssqlPrefix = (namespace: string, database: string): string => `mssql/${namespace}/${database}`;

function join(...parts: string[]): string {
    return parts.filter((p) => p !== "").join("/");
}

function userOf(cfg: Config, consumer: Consumer): BucketUser {
    const margin = cfg.lifecycle.marginDays;
    const retention = retentionDays(cfg.retention);
    switch (consumer) {
        case "velero": {
            // Velero deletes backups itself when their TTL passes; the lifecycle is a backstop that
            // must never fire before the longest TTL, or Velero would list backups that are gone.
            const ttls = cfg.ha ? Object.values(cfg.velero.schedules).map((s) => ttlDays(s.ttl)) : [];
            return {
                consumer,
                prefix: cfg.velero.prefix,
                expireAfterDays: Math.max(retention, ...ttls) + 1 + margin,
                expirePrefixes: VELERO_EXPIRING.map((p) => join(cfg.velero.prefix, p)),
            };
        }
        case "cnpg":
            // A base backup stays needed until the next one is older than the retention window:
            // expire only after retention + one backup interval + margin, so PITR keeps its base.
            return {
                consumer,
                prefix: "",
                expireAfterDays: retention + cronIntervalDays(cfg.cnpg.schedule) + margin,
                expirePrefixes: cnpgWriters(cfg).map((w) => postgresPrefix(w.name)),
            };
        case "mssql":
            return {
                consumer,
                prefix: "mssql",
                expireAfterDays: retention + Math.max(1, ...cfg.mssql.map((db) => cronIntervalDays(db.schedule))) + margin,
                expirePrefixes: ["mssql"],
            };
    }
}

/** Consumers with something to back up (defined with the config rules that check their buckets). */
export { activeConsumers };

/** Plans every bucket of the stack. Config validation has refused consumers that would collide in a shared bucket. */
export function planBuckets(cfg: Config, buckets: Readonly<Record<Consumer, string>>): BucketPlan[] {
    const collision = bucketCollision(activeConsumers(cfg), buckets, bucketWriters(cfg));
    assert.strictEqual(collision, undefined, "shared-bucket collisions are config errors (config/rules.ts checkSharedBuckets)");
    const byName = new Map<string, Consumer[]>();
    for (const c of activeConsumers(cfg)) {
        byName.set(buckets[c], [...(byName.get(buckets[c]) ?? []), c]);
    }
    const plans: BucketPlan[] = [];
    for (const [name, consumers] of byName) {
        const users = consumers.map((c) => userOf(cfg, c));
        const rules: LifecycleRule[] = [
            { id: "abort-incomplete-multipart", prefix: "", abortMultipartDays: cfg.lifecycle.abortMultipartDays },
            { id: "expire-noncurrent-versions", prefix: "", noncurrentDays: cfg.lifecycle.noncurrentDays },
            { id: "remove-expired-delete-markers", prefix: "", expiredObjectDeleteMarker: true },
        ];
        for (const u of users) {
            // A sole cnpg user expires the whole bucket in one rule; per-cluster rules would grow with the fleet.
            const prefixes = u.consumer === "cnpg" && consumers.length === 1 ? [""] : u.expirePrefixes;
            for (const prefix of prefixes) {
                rules.push({
                    id: prefixes.length === 1 ? `expire-${u.consumer}` : `expire-${u.consumer}-${prefix.split("/").pop() ?? ""}`,
                    prefix: prefix === "" ? "" : `${prefix}/`,
                    expirationDays: u.expireAfterDays,
                });
            }
        }
        rules.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
        plans.push({ name, owner: consumers[0], users, lifecycle: rules });
    }
    return plans;
}

/**
 * Lifecycle of an off-site bucket holding copies of `plans` under `<prefix>/<source bucket>/`: the
 * sources' own rules, re-rooted, so a copy lives as long as its original (plus at most one copy
 * interval, as expiry counts from the copy). Bucket-wide housekeeping rules appear once.
 */
export function offsiteLifecycle(plans: readonly BucketPlan[], prefix: string): LifecycleRule[] {
    const rules = new Map<string, LifecycleRule>();
    for (const plan of plans) {
        const root = join(prefix, plan.name);
        for (const r of plan.lifecycle) {
            if (r.expirationDays === undefined) rules.set(r.id, r);
            else rules.set(`${plan.name}-${r.id}`, { ...r, id: `${plan.name}-${r.id}`, prefix: `${root}/${r.prefix}` });
        }
    }
    return [...rules.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
