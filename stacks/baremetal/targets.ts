// Bare metal's backup targets: each consumer's bucket and prefix on RGW, its keys delivered as a Secret in the
// namespace it reads them from (a read-only Secret for the clusters that restore).
import type * as pulumi from "@pulumi/pulumi";
import { type BaremetalConfig } from "../../config";
import { type CnpgNamespaceAccess } from "./access";
import { type KeyedUsers, type ObjectUserKeys } from "./users";
import { cnpgReaderLayout, createConsumerSecret, secretLayout } from "../credentials";
import { cnpgWriters, mssqlPrefix, postgresPrefix } from "../layout";
import { mssqlKey, type BackupTarget, type BackupTargets, type Consumer, type SecretCredentials } from "../../core/targets";

/** What the targets and their Secrets are built from. */
export interface TargetContext {
    /** Prefix of every resource name. */
    readonly name: string;
    readonly cfg: BaremetalConfig;
    /** Parent of the Secrets (the storage component). */
    readonly parent: pulumi.Resource;
    /** Namespaces this program creates, by name, so Secrets inside them wait for them. */
    readonly namespaces?: Readonly<Record<string, pulumi.Resource>>;
}

/** Every consumer's target; creates the Secrets with their keys (Velero's, then CNPG's by namespace, then SQL Server's). */
export function baremetalTargets(ctx: TargetContext, users: KeyedUsers, namespaces: readonly CnpgNamespaceAccess[]): BackupTargets {
    const cfg = ctx.cfg;
    const veleroNs = cfg.velero.namespace;
    const velero = target(
        cfg,
        "velero",
        cfg.velero.prefix,
        secretLayout("velero", veleroNs),
        secret(ctx, `${ctx.name}-velero-${veleroNs}`, "velero", veleroNs, users.velero),
    );
    const { postgres, readerOf } = cnpgTargets(ctx, users, namespaces);
    const mssql = mssqlTargets(ctx, users.mssql);

    // A drill or recovery cluster reads its source's archive with its namespace's read-only keys.
    const drills = cfg.drills.enabled ? Object.fromEntries(cfg.postgres.map((db) => [db.name, readerOf(db.namespace, db.name)])) : {};
    const recoverySources = Object.fromEntries(
        cnpgWriters(cfg)
            .filter((w) => w.from !== undefined)
            .map((w) => [w.name, readerOf(w.namespace, w.from as string)]),
    );
    return { velero, postgres, mssql, drills, recoverySources };
}

/** A consumer's target on RGW, under `prefix`, with the keys in `secret`. */
function target(
    cfg: BaremetalConfig,
    consumer: Consumer,
    prefix: string,
    credentials: SecretCredentials,
    secret: pulumi.Resource,
): BackupTarget {
    const bm = cfg.baremetal;
    return {
        consumer,
        bucket: bm.buckets[consumer],
        prefix,
        endpoint: consumer === "mssql" ? (bm.mssqlEndpoint ?? bm.endpoint) : bm.endpoint,
        region: bm.region,
        forcePathStyle: true,
        caBundle: bm.caBundle,
        credentials,
        // Only the credentials: Pulumi never waits for a claim to be Bound, so ordering consumers after its
        // creation guaranteed nothing (they retry until the bucket exists) and put every consumer, the
        // Velero chart first, at the end of the longest chain (measured: ~0.1 s of each no-op up).
        dependsOn: [secret],
    };
}

/** The Secret with a user's keys in `namespace`, waiting for the namespace when the program creates it. */
function secret(ctx: TargetContext, id: string, consumer: Consumer, namespace: string, k: ObjectUserKeys, layout?: SecretCredentials) {
    const waitFor = ctx.namespaces?.[namespace] ? [ctx.namespaces[namespace]] : [];
    return createConsumerSecret(id, consumer, namespace, k.accessKeyId, k.secretAccessKey, ctx.parent, waitFor, layout);
}

/** The CNPG writers' targets by cluster, and the read-only target of a source's archive from a namespace. */
function cnpgTargets(
    ctx: TargetContext,
    users: KeyedUsers,
    namespaces: readonly CnpgNamespaceAccess[],
): { postgres: Record<string, BackupTarget>; readerOf: (namespace: string, source: string) => BackupTarget } {
    const { name, cfg } = ctx;
    const postgres: Record<string, BackupTarget> = {};
    const readerTargets = new Map<string, (source: string) => BackupTarget>();
    for (const ns of namespaces) {
        const writer = secret(ctx, `${name}-cnpg-${ns.namespace}`, "cnpg", ns.namespace, users.writers.get(ns.namespace) as ObjectUserKeys);
        for (const cluster of ns.writes)
            postgres[cluster] = target(cfg, "cnpg", postgresPrefix(cluster), secretLayout("cnpg", ns.namespace), writer);
        const reader = users.readers.get(ns.namespace);
        if (reader === undefined) continue;
        const layout = cnpgReaderLayout(ns.namespace);
        const readerSecret = secret(ctx, `${name}-reader-${ns.namespace}`, "cnpg", ns.namespace, reader, layout);
        readerTargets.set(ns.namespace, (source) => target(cfg, "cnpg", postgresPrefix(source), layout, readerSecret));
    }
    const readerOf = (namespace: string, source: string): BackupTarget => {
        const make = readerTargets.get(namespace);
        if (make === undefined) throw new Error(`no CNPG reader in ${namespace} (stacks/baremetal/access.ts should have planned one)`);
        return make(source);
    };
    return { postgres, readerOf };
}

/** Every SQL Server database's target, by mssqlKey: one Secret per namespace with the SQL Server user's keys. */
function mssqlTargets(ctx: TargetContext, mssqlUser: ObjectUserKeys | undefined): Record<string, BackupTarget> {
    const cfg = ctx.cfg;
    const mssql: Record<string, BackupTarget> = {};
    for (const ns of unique(cfg.mssql.map((db) => db.namespace))) {
        const s = secret(ctx, `${ctx.name}-mssql-${ns}`, "mssql", ns, mssqlUser as ObjectUserKeys);
        for (const db of cfg.mssql.filter((d) => d.namespace === ns))
            mssql[mssqlKey(db)] = target(cfg, "mssql", mssqlPrefix(db.namespace, db.name), secretLayout("mssql", ns), s);
    }
    return mssql;
}

/** `values` without repeats, in first-seen order. */
function unique(values: string[]): string[] {
    return [...new Set(values)];
}
