// The whole schema: the platforms with every cross-field rule, and the types downstream code receives.
import { z } from "zod";
import { mssqlDatabase, postgresDatabase, recovery } from "./databases";
import { drills } from "./drills";
import { resources } from "./formats";
import { offsite, offsiteAws } from "./offsite";
import { common, platforms } from "./platforms";
import { checkCreatedNamespaces, checkDrills, checkMssqlNames, checkOffsite, checkSharedBuckets } from "./rules";
import { veleroSchedule } from "./velero";

export const schema = platforms.superRefine((cfg, ctx) => {
    const seen = new Set<string>();
    cfg.postgres.forEach((db, i) => {
        if (seen.has(db.name)) {
            ctx.addIssue({
                code: "custom",
                path: ["postgres", i, "name"],
                message: `duplicate database name "${db.name}": names must be unique across namespaces, because each one is also the cluster's prefix in the cnpg bucket`,
            });
        }
        seen.add(db.name);
    });
    const seenMssql = new Set<string>();
    cfg.mssql.forEach((db, i) => {
        if (db.restore && (db.restore.targetDatabase ?? db.name) === db.name && !db.restore.replace) {
            ctx.addIssue({
                code: "custom",
                path: ["mssql", i, "restore", "replace"],
                message: `restoring over the live database ${db.name} needs replace: true (or set restore.targetDatabase to a new name)`,
            });
        }
        const key = `${db.namespace}/${db.name}`;
        if (seenMssql.has(key)) {
            ctx.addIssue({ code: "custom", path: ["mssql", i, "name"], message: `duplicate SQL Server database "${key}"` });
        }
        seenMssql.add(key);
    });
    const d = cfg.descheduler;
    if (d.replicas > 1 && !d.leaderElection) {
        ctx.addIssue({
            code: "custom",
            path: ["descheduler", "leaderElection"],
            message: `must be true when backup:descheduler.replicas is ${d.replicas}: replicas without leader election evict the same pods concurrently`,
        });
    }
    if (d.podProtections !== undefined && d.evictorFlags !== undefined) {
        ctx.addIssue({
            code: "custom",
            path: ["descheduler", "evictorFlags"],
            message:
                "cannot be combined with backup:descheduler.podProtections (the descheduler rejects both); express the flags as podProtections",
        });
    }
    if (cfg.veleroRepositoryPassword !== undefined && !cfg.velero.nodeAgent) {
        ctx.addIssue({
            code: "custom",
            path: ["veleroRepositoryPassword"],
            message: "needs backup:velero.nodeAgent: true (only the node agent's repository uses it)",
        });
    }
    if (cfg.velero.snapshotMoveData && !cfg.velero.nodeAgent) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "snapshotMoveData"],
            message: "needs backup:velero.nodeAgent: true (the node agent moves the data)",
        });
    }
    const names = new Set(cfg.postgres.map((db) => db.name));
    cfg.cnpg.recoveries.forEach((r, i) => {
        if (!names.has(r.from)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i, "from"],
                message: `"${r.from}" is not in backup:postgres; allowed: ${[...names].join(", ")}`,
            });
        }
        if (names.has(r.name)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i, "name"],
                message: `"${r.name}" is already a cluster name; a recovery needs a new name`,
            });
        }
        names.add(r.name);
        if ((r.imageName === undefined) === (r.imageCatalog === undefined)) {
            ctx.addIssue({
                code: "custom",
                path: ["cnpg", "recoveries", i],
                message:
                    "give exactly one of imageName or imageCatalog: the recovered cluster must run the source's PostgreSQL major version",
            });
        }
    });
    checkDrills(cfg, ctx);
    checkOffsite(cfg, ctx);
    if (cfg.platform === "baremetal" && cfg.velero.nativeSnapshots) {
        ctx.addIssue({
            code: "custom",
            path: ["velero", "nativeSnapshots"],
            message:
                "must be false on bare metal (allowed: false): native snapshots are AWS EBS snapshots; Rook-Ceph volumes are snapshotted through CSI",
        });
    }
    checkSharedBuckets(cfg, ctx);
    checkMssqlNames(cfg, ctx);
    checkCreatedNamespaces(cfg, ctx);
    if (cfg.platform === "aws") {
        const b = cfg.aws.buckets;
        if (new Set([b.velero, b.cnpg, b.mssql]).size !== 3) {
            ctx.addIssue({
                code: "custom",
                path: ["aws", "buckets"],
                message:
                    "on AWS each consumer needs its own bucket (velero, cnpg and mssql must differ): lifecycle, object lock and key policies are per bucket",
            });
        }
    } else if (cfg.mssql.length > 0) {
        const ep = cfg.baremetal.mssqlEndpoint ?? cfg.baremetal.endpoint;
        if (!ep.startsWith("https://")) {
            ctx.addIssue({
                code: "custom",
                path: ["baremetal", cfg.baremetal.mssqlEndpoint ? "mssqlEndpoint" : "endpoint"],
                message: `SQL Server BACKUP TO URL only speaks https, but the endpoint is "${ep}"; set backup:baremetal.mssqlEndpoint to an https:// RGW endpoint`,
            });
        }
    }
});

export type Config = z.output<typeof schema>;
export type AwsConfig = Extract<Config, { platform: "aws" }>;
export type BaremetalConfig = Extract<Config, { platform: "baremetal" }>;
export type PostgresDatabase = z.output<typeof postgresDatabase>;
export type MssqlDatabase = z.output<typeof mssqlDatabase>;
export type VeleroScheduleConfig = z.output<typeof veleroSchedule>;
export type RecoveryConfig = z.output<typeof recovery>;
export type Resources = z.output<typeof resources>;
export type OffsiteConfig = z.output<typeof offsite>;
export type OffsiteAwsConfig = z.output<typeof offsiteAws>;
export type DrillsConfig = z.output<typeof drills>;

/** Top-level keys the schema accepts, for the unknown-key message. */
export const CONFIG_KEYS = ["platform", "aws", "baremetal", ...Object.keys(common)].sort();
