// Bare metal's object users and what each may do, as data: which RGW users exist and the grants
// every bucket policy carries. No consumer owns a bucket: an RGW bucket owner has full access
// whatever the policy says, so the owner is a user whose keys never leave the object-store
// namespace, and every consumer gets exactly its grants, per prefix.
import { type Config } from "../../config";
import { CNPG_OBJECT_ACTIONS, MSSQL_OBJECT_ACTIONS, REPLICATOR_OBJECT_ACTIONS, VELERO_OBJECT_ACTIONS } from "../actions";
import { VELERO_RESERVED, cnpgWriters, mssqlPrefix, postgresPrefix, type BucketPlan } from "../layout";

/** Owner of every backup bucket: no consumer holds its keys (Rook generates them in the object-store namespace). */
export const BUCKET_OWNER = "backup-owner";
/** RGW user id of the read-only off-site replicator. */
export const REPLICATOR_USER = "backup-replicator";
/** RGW user id of Velero's and SQL Server's writers. */
export const consumerUser = (consumer: "velero" | "mssql"): string => `backup-${consumer}`;
/** RGW user id of the CNPG writer of one namespace. */
export const cnpgWriterUser = (namespace: string): string => `backup-cnpg-${namespace}`;
/**
 * RGW user id of the read-only CNPG reader of one namespace. Not `backup-cnpg-reader-<ns>`: that is
 * also the writer of a namespace called `reader-<ns>`.
 */
export const cnpgReaderUser = (namespace: string): string => `backup-reader-${namespace}`;

/** Reading an archive: list and get, never write or delete. */
export const READER_OBJECT_ACTIONS = ["s3:GetObject"];

/** The CNPG identities of one namespace: a writer for its clusters, and a reader when something there restores. */
export interface CnpgNamespaceAccess {
    readonly namespace: string;
    /** Clusters (inventory and recovery) the writer archives, sorted. */
    readonly writes: readonly string[];
    /** Clusters whose archives the reader reads (drilled databases, recovery sources), sorted; empty = no reader. */
    readonly reads: readonly string[];
}

const sorted = (values: Iterable<string>): string[] => [...new Set(values)].sort();

/**
 * One writer per database namespace, the unit Kubernetes RBAC protects (one Secret per namespace):
 * reading `monitoring`'s Secret no longer reaches `rciis-prod`'s archive. Sorted by namespace.
 */
export function cnpgNamespaces(cfg: Config): CnpgNamespaceAccess[] {
    const writers = cnpgWriters(cfg);
    return sorted(writers.map((w) => w.namespace)).map((namespace) => ({
        namespace,
        writes: sorted(writers.filter((w) => w.namespace === namespace).map((w) => w.name)),
        reads: sorted([
            ...(cfg.drills.enabled ? cfg.postgres.filter((db) => db.namespace === namespace).map((db) => db.name) : []),
            ...writers.filter((w) => w.namespace === namespace && w.from !== undefined).map((w) => w.from as string),
        ]),
    }));
}

/** What one RGW user may do in one bucket. Prefixes without slashes; "" = the whole bucket. */
export interface BucketGrant {
    readonly user: string;
    /** Prefixes it may list (ListBucket's `s3:prefix`). */
    readonly list: readonly string[];
    /** Prefixes whose objects it may act on. */
    readonly objects: readonly string[];
    readonly actions: readonly string[];
}

/** Every grant of a bucket's policy, sorted by user; the owner has none. */
export function bucketGrants(cfg: Config, plan: BucketPlan, replicator: boolean): BucketGrant[] {
    const grants: BucketGrant[] = [];
    for (const u of plan.users) {
        switch (u.consumer) {
            case "velero": {
                // At the root of a shared bucket Velero acts on its own folders only, never on the other writers' prefixes.
                // It lists the whole bucket: before each backup it asks for velero-backup.json with HeadObject, and RGW
                // answers a missing key with 403 instead of 404 unless the caller may list there, which a prefix
                // condition refuses (the request carries no s3:prefix): every backup failed (e2e/test/velero.e2e.ts).
                const objects = u.prefix === "" && plan.users.length > 1 ? VELERO_RESERVED : [u.prefix];
                grants.push({ user: consumerUser("velero"), list: [""], objects, actions: VELERO_OBJECT_ACTIONS });
                break;
            }
            case "mssql":
                // As on AWS: list the mssql folder, act only on each database's own prefix.
                grants.push({
                    user: consumerUser("mssql"),
                    list: [u.prefix],
                    objects: sorted(cfg.mssql.map((db) => mssqlPrefix(db.namespace, db.name))),
                    actions: MSSQL_OBJECT_ACTIONS,
                });
                break;
            case "cnpg":
                // barman-cloud lists and heads the bucket in ways a prefix-conditioned ListBucket refuses on RGW
                // (HeadBucket, and its WAL archive check's ListObjectsV2: both failed in e2e/pitr against RGW 16.2),
                // so CNPG identities list the whole cnpg bucket (key names only); objects stay per prefix.
                for (const ns of cnpgNamespaces(cfg)) {
                    const writes = ns.writes.map(postgresPrefix);
                    grants.push({ user: cnpgWriterUser(ns.namespace), list: [""], objects: writes, actions: CNPG_OBJECT_ACTIONS });
                    if (ns.reads.length === 0) continue;
                    const reads = ns.reads.map(postgresPrefix);
                    grants.push({ user: cnpgReaderUser(ns.namespace), list: [""], objects: reads, actions: READER_OBJECT_ACTIONS });
                }
                break;
        }
    }
    // The replicator reads the whole bucket (every writer's prefix): list and get, never put or delete.
    if (replicator) grants.push({ user: REPLICATOR_USER, list: [""], objects: [""], actions: REPLICATOR_OBJECT_ACTIONS });
    return grants.sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0));
}

/**
 * The bucket policy RGW evaluates for every user but the owner. Principals are tenant-less
 * (`arn:aws:iam:::user/<uid>`). GetBucketLocation has its own statement: a request for it carries no
 * `s3:prefix`, so a prefix condition would deny it. So does HeadBucket, which RGW checks as s3:ListBucket.
 */
export function rookBucketPolicy(bucket: string, grants: readonly BucketGrant[]): string {
    const statements = grants.flatMap((g) => {
        const principal = { AWS: [`arn:aws:iam:::user/${g.user}`] };
        const wholeBucket = g.list.includes("");
        const list: Record<string, unknown> = {
            Sid: `${g.user}-list`,
            Effect: "Allow",
            Principal: principal,
            Action: ["s3:ListBucket"],
            Resource: [`arn:aws:s3:::${bucket}`],
        };
        if (!wholeBucket) list.Condition = { StringLike: { "s3:prefix": g.list.flatMap((p) => [p, `${p}/*`]) } };
        return [
            {
                Sid: `${g.user}-location`,
                Effect: "Allow",
                Principal: principal,
                Action: ["s3:GetBucketLocation"],
                Resource: [`arn:aws:s3:::${bucket}`],
            },
            list,
            // HeadBucket (barman-cloud's bucket check, velero's) is authorised as s3:ListBucket, and its request
            // carries no s3:prefix, so a prefix-conditioned listing refuses it. Only HeadBucket lacks both keys
            // (every listing carries s3:max-keys): this grants it, and not the bucket's listing.
            ...(wholeBucket
                ? []
                : [
                      {
                          Sid: `${g.user}-exists`,
                          Effect: "Allow",
                          Principal: principal,
                          Action: ["s3:ListBucket"],
                          Resource: [`arn:aws:s3:::${bucket}`],
                          Condition: { Null: { "s3:prefix": "true", "s3:max-keys": "true" } },
                      },
                  ]),
            {
                Sid: `${g.user}-objects`,
                Effect: "Allow",
                Principal: principal,
                Action: [...g.actions],
                Resource: g.objects.map((p) => (p === "" ? `arn:aws:s3:::${bucket}/*` : `arn:aws:s3:::${bucket}/${p}/*`)),
            },
        ];
    });
    return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}
