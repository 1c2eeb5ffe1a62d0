// Stack-level checks: relations between resources that no single resource shows.
import type { PolicyResource, StackValidationPolicy } from "@pulumi/policy";
import { BARMAN_PLUGIN, CNPG } from "./cnpg";
import { S3 } from "./s3";
import { at, configOf, isObj, list, objectKey, str } from "./util";

const GUARD_RAILS: [label: string, types: readonly string[]][] = [
    ["server-side encryption configuration", S3.encryption],
    ["versioning configuration", S3.versioning],
    ["public access block", S3.publicAccessBlock],
    ["bucket policy", S3.policy],
    ["lifecycle configuration", S3.lifecycle],
];

export const stackS3BucketGuardrails: StackValidationPolicy = {
    name: "stack-s3-bucket-guardrails",
    description: "Every S3 bucket must come with its encryption, versioning, public access block, bucket policy and lifecycle resources.",
    remediationSteps:
        "Create the missing aws.s3 resource for the bucket with `parent: bucket` (as stacks/aws/ does); the resource policies then check its content.",
    enforcementLevel: "mandatory",
    severity: "critical",
    validateStack: (args, report) => {
        const buckets = args.resources.filter((r) => (S3.bucket as readonly string[]).includes(r.type));
        for (const bucket of buckets) {
            const missing = GUARD_RAILS.filter(([, types]) => {
                const candidates = args.resources.filter((r) => types.includes(r.type));
                // Children are parented to their bucket; the `bucket` prop (the bucket's ID, equal to
                // its name on AWS) is the fallback, read only when needed since it may be unknown in a preview.
                if (candidates.some((r) => r.parent?.urn === bucket.urn)) return false;
                const name = str(bucket.props.bucket);
                return name === undefined || !candidates.some((r) => r.parent === undefined && r.props.bucket === name);
            });
            if (missing.length > 0) report(`bucket ${bucket.name} has no ${missing.map(([label]) => label).join(", ")}.`, bucket.urn);
        }
    },
};

/** A CloudNativePG cluster that writes backups, merged over its Cluster and ClusterPatch resources. */
interface BackedUpCluster {
    urn: string;
    inTree: boolean;
    plugin: boolean;
    recovery: boolean;
}

function backupMethods(r: PolicyResource): { inTree: boolean; plugin: boolean } {
    const inTree = isObj(at(r.props, "spec", "backup", "barmanObjectStore"));
    const plugin = list(at(r.props, "spec", "plugins")).some((p) => at(p, "name") === BARMAN_PLUGIN && at(p, "isWALArchiver") === true);
    return { inTree, plugin };
}

/** Config of `stack-cnpg-backup-pairing`. */
export interface PairingConfig {
    /** Databases that must be backed up: a backup configuration and a ScheduledBackup each. */
    inventory: { name: string; namespace: string }[];
}

export const stackCnpgBackupPairing: StackValidationPolicy = {
    name: "stack-cnpg-backup-pairing",
    description:
        "Every CloudNativePG cluster with a backup configuration must have a matching ScheduledBackup and vice versa, and every database in the inventory must have both.",
    remediationSteps:
        "Add the database to `backup:postgres` so the program creates both, or remove the orphan; a ScheduledBackup's `method` must match how its cluster archives (plugin or barmanObjectStore).",
    enforcementLevel: "mandatory",
    severity: "high",
    configSchema: {
        properties: {
            inventory: {
                type: "array",
                default: [],
                description: "Databases ({name, namespace}) that must have a backup configuration and a ScheduledBackup.",
                items: {
                    type: "object",
                    properties: { name: { type: "string" }, namespace: { type: "string" } },
                    required: ["name", "namespace"],
                },
            },
        },
    },
    validateStack: (args, report) => {
        const { inventory } = configOf<PairingConfig>(args, { inventory: [] });
        const clusters = new Map<string, BackedUpCluster>();
        for (const r of args.resources.filter((r) => (CNPG.cluster as readonly string[]).includes(r.type))) {
            const { inTree, plugin } = backupMethods(r);
            if (!inTree && !plugin) continue;
            const key = objectKey(r.props);
            const seen = clusters.get(key);
            clusters.set(key, {
                urn: seen?.urn ?? r.urn,
                inTree: inTree || (seen?.inTree ?? false),
                plugin: plugin || (seen?.plugin ?? false),
                recovery: at(r.props, "spec", "bootstrap", "recovery") !== undefined || (seen?.recovery ?? false),
            });
        }
        const scheduled = new Set<string>();
        for (const r of args.resources.filter((r) => r.type === CNPG.scheduledBackup[0])) {
            const key = `${str(at(r.props, "metadata", "namespace")) ?? "default"}/${str(at(r.props, "spec", "cluster", "name")) ?? "?"}`;
            scheduled.add(key);
            const cluster = clusters.get(key);
            const method = str(at(r.props, "spec", "method")) ?? "barmanObjectStore";
            if (cluster === undefined)
                report(
                    `ScheduledBackup ${objectKey(r.props)} targets cluster ${key}, which has no backup configuration in this stack.`,
                    r.urn,
                );
            else if (method === "plugin" && !cluster.plugin)
                report(
                    `ScheduledBackup ${objectKey(r.props)} uses method plugin, but cluster ${key} does not archive through ${BARMAN_PLUGIN}.`,
                    r.urn,
                );
            else if (method === "barmanObjectStore" && !cluster.inTree)
                report(
                    `ScheduledBackup ${objectKey(r.props)} uses method barmanObjectStore, but cluster ${key} has no spec.backup.barmanObjectStore.`,
                    r.urn,
                );
        }
        for (const [key, cluster] of clusters)
            if (!cluster.recovery && !scheduled.has(key))
                report(
                    `cluster ${key} archives WAL but has no ScheduledBackup: without fresh base backups, recovery must replay WAL from the oldest one, and retention cannot expire it.`,
                    cluster.urn,
                );
        for (const db of inventory) {
            const key = `${db.namespace}/${db.name}`;
            if (!clusters.has(key))
                report(`inventory database ${key} has no backup configuration (Cluster or ClusterPatch with a backup target).`);
            if (!scheduled.has(key)) report(`inventory database ${key} has no ScheduledBackup.`);
        }
    },
};

export const stackPolicies: StackValidationPolicy[] = [stackS3BucketGuardrails, stackCnpgBackupPairing];
