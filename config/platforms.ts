// The two platforms' shapes: every section, discriminated on `platform`.
import { z } from "zod";
import { chartSource, cnpg, descheduler } from "./cluster";
import { mssqlDatabase, postgresDatabase } from "./databases";
import { drills } from "./drills";
import { namespaceName, retention } from "./formats";
import { alerts, dashboard } from "./monitoring";
import { offsite } from "./offsite";
import { awsStorage, baremetalStorage, dataSafety, lifecycle } from "./storage";
import { velero } from "./velero";

export const common = {
    /** High-availability profile: Velero schedules, ServiceMonitor, 3-replica descheduler. Default true. */
    ha: z.boolean().default(true),
    /** Backup retention for databases (CNPG retentionPolicy, SQL Server lifecycle). Default 30d. */
    retention: retention.default("30d"),
    /** Application namespaces Velero's namespace schedules include. */
    namespaces: z.array(namespaceName).min(1, "list at least one application namespace"),
    /** PostgreSQL clusters (CloudNativePG) whose backups this stack configures. Default none. */
    postgres: z.array(postgresDatabase).default([]),
    /** SQL Server databases backed up with BACKUP TO URL. Default none. */
    mssql: z.array(mssqlDatabase).default([]),
    velero,
    descheduler,
    cnpg,
    alerts,
    dashboard,
    lifecycle,
    dataSafety,
    offsite,
    drills,
    /** Local chart sources, per chart. Default: the pinned repositories (components/charts.ts). */
    charts: z.strictObject({ velero: chartSource.optional(), descheduler: chartSource.optional() }).prefault({}),
    /** Do not wait for workloads to become ready (local API servers without kubelets). Default false. */
    skipAwait: z.boolean().default(false),
    /**
     * Secret. Velero's kopia repository password to keep, for a stack re-created over an existing repository or a
     * Velero that already has one. Needs velero.nodeAgent. Default: none (generated once, by the program).
     */
    veleroRepositoryPassword: z.string().min(1, "must not be empty").optional(),
};

export const platforms = z.discriminatedUnion("platform", [
    z.strictObject({ platform: z.literal("aws"), aws: awsStorage, ...common }),
    z.strictObject({ platform: z.literal("baremetal"), baremetal: baremetalStorage, ...common }),
]);
export type Parsed = z.output<typeof platforms>;
export type Ctx = z.core.$RefinementCtx<Parsed>;
