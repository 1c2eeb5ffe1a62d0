// Cluster-wide sections: labels, the Descheduler, chart sources, CNPG.
import { z } from "zod";
import { labelValueProblem } from "../core/names";
import { recovery } from "./databases";
import { cron6, resources } from "./formats";

export const labelKey = z
    .string()
    .regex(
        /^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/,
        "a label key must be [prefix/]name, the name at most 63 letters, digits, '-', '_' and '.'",
    );
export const labelValue = z.string().superRefine((v, ctx) => {
    const problem = labelValueProblem(v);
    if (problem !== undefined) ctx.addIssue({ code: "custom", message: problem });
});

export const labelRule = z.strictObject({
    /** Pod label key. */
    key: labelKey,
    /** Protected values; none = protect every pod that has the label. */
    values: z.array(labelValue).optional(),
});

export const descheduler = z
    .strictObject({
        /** Install the Descheduler. Default true. */
        enabled: z.boolean().default(true),
        /** Replicas. Default 3 (seed base); the AWS stack sets 1. */
        replicas: z.number().int().min(1).max(9).default(3),
        /** Leader election; required when replicas > 1. Default true. */
        leaderElection: z.boolean().default(true),
        /** How often the Deployment descheduler runs. Default 5m. */
        interval: z
            .string()
            .regex(/^[1-9][0-9]*(s|m|h)$/, "interval must look like 5m")
            .default("5m"),
        /** Resources. Default 50m/64Mi requests, 500m/256Mi limits; the AWS stack sets 200m/128Mi limits. */
        resources: resources.default({ requests: { cpu: "50m", memory: "64Mi" }, limits: { cpu: "500m", memory: "256Mi" } }),
        /**
         * DefaultEvictor podProtections (descheduler 0.34+). Default: the built-in protections. Only the names the
         * descheduler's own validation accepts (0.36.0: ValidateDefaultEvictorArgs); any other stops it at startup.
         */
        podProtections: z
            .strictObject({
                extraEnabled: z.array(z.enum(["PodsWithPVC", "PodsWithoutPDB", "PodsWithResourceClaims"])).default([]),
                defaultDisabled: z
                    .array(z.enum(["PodsWithLocalStorage", "DaemonSetPods", "SystemCriticalPods", "FailedBarePods"]))
                    .default([]),
            })
            .optional(),
        /** Deprecated DefaultEvictor booleans (the seeds' form); never together with podProtections. */
        evictorFlags: z
            .strictObject({
                evictLocalStoragePods: z.boolean().optional(),
                evictSystemCriticalPods: z.boolean().optional(),
                evictDaemonSetPods: z.boolean().optional(),
                evictFailedBarePods: z.boolean().optional(),
                ignorePvcPods: z.boolean().optional(),
            })
            .optional(),
        /** Pods never evicted: database pods. Default CNPG instances (cnpg.io/cluster) and SQL Server (app.kubernetes.io/name=mssql). */
        protectedPods: z.array(labelRule).default([{ key: "cnpg.io/cluster" }, { key: "app.kubernetes.io/name", values: ["mssql"] }]),
    })
    .prefault({});

export const chartSource = z.strictObject({
    /** Local chart directory or .tgz used instead of the pinned repository (offline installs, tests). */
    path: z.string().min(1).optional(),
});

export const cnpg = z
    .strictObject({
        /** barmanObjectStore (in-tree, deprecated since CNPG 1.26) or plugin (Barman Cloud Plugin). Default plugin. */
        method: z.enum(["barmanObjectStore", "plugin"]).default("plugin"),
        /** ScheduledBackup cron, six fields with seconds first. Default "0 0 2 * * *" (02:00:00 UTC daily). */
        schedule: cron6.default("0 0 2 * * *"),
        /** Point-in-time recoveries to create. Default none. */
        recoveries: z.array(recovery).default([]),
    })
    .prefault({});
