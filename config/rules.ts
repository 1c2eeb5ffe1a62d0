// Cross-field rules: what no single section can check alone.
import {
    bucketCollision,
    BucketConsumer,
    BucketWriters,
    cnpgPrefix,
    CRONJOB_NAME_MAX,
    DNS_LABEL_MAX,
    dnsLabelProblem,
    drillClusterName,
    labelValueProblem,
    mssqlBackupJobName,
    mssqlRestoreJobName,
} from "../core/names";
import { Ctx, Parsed } from "./platforms";

/** `<database>-drill` for every database when drills are on: a valid, unused cluster name. */
export function checkDrills(cfg: Parsed, ctx: Ctx): void {
    if (!cfg.drills.enabled) return;
    const names = new Set([...cfg.postgres.map((db) => db.name), ...cfg.cnpg.recoveries.map((r) => r.name)]);
    cfg.postgres.forEach((db, i) => {
        const drill = drillClusterName(db.name);
        if (drill.length > 50) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `"${db.name}" is too long for restore drills: its drill cluster "${drill}" must be at most 50 characters (44 for the database name)`,
            });
        } else if (names.has(drill)) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `"${drill}" is already a cluster name, but it is the restore drill cluster of "${db.name}"; rename one of them`,
            });
        }
    });
    cfg.drills.databases.forEach((name, i) => {
        if (!cfg.postgres.some((db) => db.name === name)) {
            ctx.addIssue({
                code: "custom",
                path: ["drills", "databases", i],
                message: `"${name}" is not in backup:postgres; allowed: ${cfg.postgres.map((db) => db.name).join(", ")}`,
            });
        }
    });
    if (cfg.postgres.length === 0) {
        ctx.addIssue({ code: "custom", path: ["drills", "enabled"], message: "restore drills need databases: backup:postgres is empty" });
    }
}

/** The off-site destination: exactly one kind per platform, and names that can exist. */
export function checkOffsite(cfg: Parsed, ctx: Ctx): void {
    const o = cfg.offsite;
    if (!o.enabled) return;
    const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path: ["offsite", ...path], message });
    if (cfg.platform === "baremetal") {
        if ((o.destination === undefined) === (o.aws === undefined)) {
            issue([], "give exactly one of destination (an existing bucket elsewhere) or aws (a bucket the program creates on AWS)");
        }
        if (o.aws !== undefined) {
            if (o.aws.bucket === undefined) issue(["aws", "bucket"], "required (string): the bucket the program creates on AWS");
            if (Object.values(o.aws.buckets).some((b) => b !== undefined)) {
                issue(["aws", "buckets"], "is for the AWS stack's replicas; on bare metal name the one off-site bucket with aws.bucket");
            }
            if (o.aws.alarmTopicArn !== undefined) issue(["aws", "alarmTopicArn"], "is for the AWS stack's replication alarms only");
        }
        return;
    }
    if (o.destination !== undefined) {
        issue(["destination"], "not used on AWS: the off-site copy is S3 replication to a second region; set backup:offsite.aws.region");
    }
    if (o.aws === undefined) {
        issue(["aws"], "required on AWS: { region: <a second region> } for S3 replication of every backup bucket");
        return;
    }
    if (cfg.aws.encryption === "kms" && o.aws.encryption === "s3") {
        issue(["aws", "encryption"], "must be kms when backup:aws.encryption is kms: S3 replicates SSE-KMS objects only into a KMS key");
    }
    if (o.aws.region === cfg.aws.region) {
        issue(["aws", "region"], `must differ from backup:aws.region (${cfg.aws.region}): the replicas belong in a second region`);
    }
    for (const key of ["bucket", "profile", "assumeRoleArn"] as const) {
        if (o.aws[key] !== undefined) {
            issue(
                ["aws", key],
                "is for bare metal; on AWS the replicas live in the stack's own account (name them with aws.buckets.<consumer>)",
            );
        }
    }
    const sources = new Set(Object.values(cfg.aws.buckets));
    const seen = new Set<string>();
    for (const consumer of ["velero", "cnpg", "mssql"] as const) {
        const name = replicaBucketName(cfg, consumer);
        const bad = (message: string) => issue(["aws", "buckets", consumer], message);
        if (name.length > 63) bad(`the default "${name}" is longer than 63 characters; name the replica bucket`);
        else if (sources.has(name)) bad(`"${name}" is a source bucket; a replica needs its own bucket`);
        else if (seen.has(name)) bad(`"${name}" is already another consumer's replica bucket`);
        seen.add(name);
    }
}

/** Consumers with something to back up: Velero always, the database writers when they have databases. */
export function activeConsumers(cfg: Parsed): BucketConsumer[] {
    return (["velero", "cnpg", "mssql"] as const).filter(
        (c) => c === "velero" || (c === "cnpg" ? cfg.postgres.length > 0 : cfg.mssql.length > 0),
    );
}

/** What each consumer writes at the top of its bucket: inventory and recovery clusters each under their name. */
export function bucketWriters(cfg: Parsed): BucketWriters {
    return {
        veleroPrefix: cfg.velero.prefix,
        cnpgClusters: [...cfg.postgres.map((db) => db.name), ...cfg.cnpg.recoveries.map((r) => r.name)].map(cnpgPrefix),
        mssql: cfg.mssql.length > 0,
    };
}

/** Consumers sharing a bucket must not write under the same top-level name (bare metal; AWS refuses sharing). */
export function checkSharedBuckets(cfg: Parsed, ctx: Ctx): void {
    const buckets = cfg.platform === "aws" ? cfg.aws.buckets : cfg.baremetal.buckets;
    // Velero validates its storage location by listing the folders at its prefix: any folder not its own
    // ("Backup store contains invalid top-level directories") makes the location Unavailable, so no backup runs.
    const neighbours = activeConsumers(cfg).filter((c) => c !== "velero" && buckets[c] === buckets.velero);
    if (cfg.velero.prefix === "" && neighbours.length > 0) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "prefix"],
            message: `required when Velero shares bucket "${buckets.velero}" with ${neighbours.join(" and ")}: Velero marks a backup location Unavailable when its root holds folders other than its own (backups, kopia, metadata, plugins, restores); set a prefix such as "velero"`,
        });
    }
    const c = bucketCollision(activeConsumers(cfg), buckets, bucketWriters(cfg));
    if (c === undefined) return;
    ctx.addIssue({
        code: "custom",
        path: [cfg.platform, "buckets"],
        message: `${c.first} and ${c.second} share bucket "${c.bucket}" and would both write under "${c.top}/"; give them different buckets${c.first === "velero" ? ", or set backup:velero.prefix" : ""}`,
    });
}

/** Every SQL Server database's Kubernetes names: valid, within Kubernetes' limits, and unique in their namespace. */
export function checkMssqlNames(cfg: Parsed, ctx: Ctx): void {
    const jobs = new Map<string, string>();
    cfg.mssql.forEach((db, i) => {
        const bad = (message: string) => ctx.addIssue({ code: "custom", path: ["mssql", i, "name"], message });
        const problem =
            dnsLabelProblem(mssqlBackupJobName(db.name), CRONJOB_NAME_MAX) ??
            dnsLabelProblem(mssqlRestoreJobName(db.name), DNS_LABEL_MAX) ??
            labelValueProblem(db.name);
        if (problem !== undefined) {
            bad(
                `"${db.name}" gives the CronJob "${mssqlBackupJobName(db.name)}" and the label value "${db.name}": ${problem}; use a name that starts and ends with a letter or digit, of at most 39 characters`,
            );
            return;
        }
        const key = `${db.namespace}/${mssqlBackupJobName(db.name)}`;
        const other = jobs.get(key);
        if (other !== undefined && other !== db.name) {
            bad(
                `"${db.name}" and "${other}" in namespace ${db.namespace} both give the CronJob "${mssqlBackupJobName(db.name)}" (names are lowercased, '_' becomes '-'); rename one`,
            );
        }
        jobs.set(key, db.name);
    });
}

/** Where a namespace is named in the config, by key, for the ownership check. */
export function namespaceUses(cfg: Parsed): [string, string][] {
    const uses: [string, string][] = [
        ...cfg.namespaces.map((ns, i): [string, string] => [`namespaces[${i}]`, ns]),
        ...cfg.postgres.map((db, i): [string, string] => [`postgres[${i}].namespace`, db.namespace]),
        ...cfg.mssql.map((db, i): [string, string] => [`mssql[${i}].namespace`, db.namespace]),
        ["alerts.namespace", cfg.alerts.namespace],
    ];
    if (cfg.dashboard.namespace !== undefined) uses.push(["dashboard.namespace", cfg.dashboard.namespace]);
    if (cfg.platform === "baremetal") uses.push(["baremetal.objectStoreNamespace", cfg.baremetal.objectStoreNamespace]);
    for (const [name, sched] of Object.entries(cfg.velero.schedules)) {
        (sched.includedNamespaces ?? []).forEach((ns, i) => uses.push([`velero.schedules.${name}.includedNamespaces[${i}]`, ns]));
    }
    return uses;
}

/**
 * The namespaces the program creates it also deletes on destroy: each must be its own, never one that holds
 * applications, databases or the object store, nor a system namespace.
 */
export function checkCreatedNamespaces(cfg: Parsed, ctx: Ctx): void {
    const created: [string, string][] = [["velero.namespace", cfg.velero.namespace]];
    if (cfg.platform === "baremetal" && cfg.offsite.enabled) created.push(["offsite.namespace", cfg.offsite.namespace]);
    const uses = [...namespaceUses(cfg), ...created];
    for (const [key, ns] of created) {
        const path = key.split(".");
        const bad = (why: string) =>
            ctx.addIssue({
                code: "custom",
                path,
                message: `"${ns}" ${why}; the program creates this namespace and deletes it on destroy, so it must be one of its own that nothing else uses`,
            });
        if (ns === "default" || ns.startsWith("kube-")) {
            bad("is a system namespace (default and kube-* are refused)");
            continue;
        }
        const other = uses.find(([k, n]) => n === ns && k !== key);
        if (other !== undefined) bad(`is already in use: backup:${other[0]} names it`);
    }
}

/** The AWS stack's replica bucket of a consumer: configured, or `<source>-replica`. */
export function replicaBucketName(cfg: Extract<Parsed, { platform: "aws" }>, consumer: "velero" | "cnpg" | "mssql"): string {
    return cfg.offsite.aws?.buckets[consumer] ?? `${cfg.aws.buckets[consumer]}-replica`;
}
