// Cross-field rules within one section (databases, the Descheduler, Velero, recoveries, the platform's
// storage): each a named function the schema applies in order (config/schema.ts).
import { Ctx, Parsed } from "./platforms";

type Path = (string | number)[];
const issue = (ctx: Ctx, path: Path, message: string) => ctx.addIssue({ code: "custom", path, message });

/** Database names are unique across namespaces: each is also the cluster's prefix in the cnpg bucket. */
export function checkPostgresNames(cfg: Parsed, ctx: Ctx): void {
    const seen = new Set<string>();
    cfg.postgres.forEach((db, i) => {
        if (seen.has(db.name)) {
            issue(
                ctx,
                ["postgres", i, "name"],
                `duplicate database name "${db.name}": names must be unique across namespaces, because each one is also the cluster's prefix in the cnpg bucket`,
            );
        }
        seen.add(db.name);
    });
}

/** SQL Server databases: unique per namespace, and a restore over the live database only when asked for. */
export function checkMssqlDatabases(cfg: Parsed, ctx: Ctx): void {
    const seen = new Set<string>();
    cfg.mssql.forEach((db, i) => {
        if (db.restore && (db.restore.targetDatabase ?? db.name) === db.name && !db.restore.replace) {
            issue(
                ctx,
                ["mssql", i, "restore", "replace"],
                `restoring over the live database ${db.name} needs replace: true (or set restore.targetDatabase to a new name)`,
            );
        }
        const key = `${db.namespace}/${db.name}`;
        if (seen.has(key)) issue(ctx, ["mssql", i, "name"], `duplicate SQL Server database "${key}"`);
        seen.add(key);
    });
}

/** The Descheduler: replicas need leader election; evictorFlags and podProtections exclude each other. */
export function checkDescheduler(cfg: Parsed, ctx: Ctx): void {
    const d = cfg.descheduler;
    if (d.replicas > 1 && !d.leaderElection) {
        issue(
            ctx,
            ["descheduler", "leaderElection"],
            `must be true when backup:descheduler.replicas is ${d.replicas}: replicas without leader election evict the same pods concurrently`,
        );
    }
    if (d.podProtections !== undefined && d.evictorFlags !== undefined) {
        issue(
            ctx,
            ["descheduler", "evictorFlags"],
            "cannot be combined with backup:descheduler.podProtections (the descheduler rejects both); express the flags as podProtections",
        );
    }
}

/** Velero settings read only with another: the node agent's need the node agent; the CRD Job and its image go together. */
export function checkVeleroNodeAgent(cfg: Parsed, ctx: Ctx): void {
    if (cfg.veleroRepositoryPassword !== undefined && !cfg.velero.nodeAgent) {
        issue(ctx, ["veleroRepositoryPassword"], "needs backup:velero.nodeAgent: true (only the node agent's repository uses it)");
    }
    if (cfg.velero.snapshotMoveData && !cfg.velero.nodeAgent) {
        issue(ctx, ["velero", "snapshotMoveData"], "needs backup:velero.nodeAgent: true (the node agent moves the data)");
    }
    if (cfg.velero.kubectlImage !== undefined && cfg.velero.crds !== "job") {
        issue(ctx, ["velero", "kubectlImage"], "needs backup:velero.crds: job (only the CRD Job runs it; crds is one of chart, job)");
    }
    if (cfg.velero.crds === "job" && cfg.velero.kubectlImage === undefined) {
        issue(
            ctx,
            ["velero", "kubectlImage"],
            "is needed with backup:velero.crds: job: a pinned image with static sh and kubectl on its PATH " +
                "(e.g. docker.io/bitnamilegacy/kubectl:<your cluster's version>)",
        );
    }
}

/** Recoveries: from a declared database, under a new name, with exactly one way to pick the image. */
export function checkRecoveries(cfg: Parsed, ctx: Ctx): void {
    const names = new Set(cfg.postgres.map((db) => db.name));
    cfg.cnpg.recoveries.forEach((r, i) => {
        if (!names.has(r.from)) {
            issue(ctx, ["cnpg", "recoveries", i, "from"], `"${r.from}" is not in backup:postgres; allowed: ${[...names].join(", ")}`);
        }
        if (names.has(r.name)) {
            issue(ctx, ["cnpg", "recoveries", i, "name"], `"${r.name}" is already a cluster name; a recovery needs a new name`);
        }
        names.add(r.name);
        if ((r.imageName === undefined) === (r.imageCatalog === undefined)) {
            issue(
                ctx,
                ["cnpg", "recoveries", i],
                "give exactly one of imageName or imageCatalog: the recovered cluster must run the source's PostgreSQL major version",
            );
        }
    });
}

/** What each platform's storage allows: EBS snapshots only on AWS, a bucket per consumer there, https for SQL Server on RGW. */
export function checkPlatformStorage(cfg: Parsed, ctx: Ctx): void {
    if (cfg.platform === "aws") {
        const b = cfg.aws.buckets;
        if (new Set([b.velero, b.cnpg, b.mssql]).size !== 3) {
            issue(
                ctx,
                ["aws", "buckets"],
                "on AWS each consumer needs its own bucket (velero, cnpg and mssql must differ): lifecycle, object lock and key policies are per bucket",
            );
        }
        return;
    }
    if (cfg.velero.nativeSnapshots) {
        issue(
            ctx,
            ["velero", "nativeSnapshots"],
            "must be false on bare metal (allowed: false): native snapshots are AWS EBS snapshots; Rook-Ceph volumes are snapshotted through CSI",
        );
    }
    if (cfg.mssql.length > 0) {
        const ep = cfg.baremetal.mssqlEndpoint ?? cfg.baremetal.endpoint;
        if (!ep.startsWith("https://")) {
            issue(
                ctx,
                ["baremetal", cfg.baremetal.mssqlEndpoint ? "mssqlEndpoint" : "endpoint"],
                `SQL Server BACKUP TO URL only speaks https, but the endpoint is "${ep}"; set backup:baremetal.mssqlEndpoint to an https:// RGW endpoint`,
            );
        }
    }
}
