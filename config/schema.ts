// The whole schema: the platforms with every cross-field rule, and the types downstream code receives.
import { z } from "zod";
import { mssqlDatabase, postgresDatabase, recovery } from "./databases";
import { drills } from "./drills";
import { resources } from "./formats";
import { offsite, offsiteAws } from "./offsite";
import { common, Ctx, Parsed, platforms } from "./platforms";
import { checkCreatedNamespaces, checkDrills, checkMssqlNames, checkOffsite, checkSharedBuckets } from "./rules";
import {
    checkDescheduler,
    checkMssqlDatabases,
    checkPlatformStorage,
    checkPostgresNames,
    checkRecoveries,
    checkVeleroNodeAgent,
} from "./section-rules";
import { veleroSchedule } from "./velero";

/**
 * Every cross-field rule, in the order its errors are reported (config/rules.ts: rules across sections;
 * config/section-rules.ts: rules within one). Each rule adds issues and never throws.
 */
export const CROSS_FIELD_RULES: readonly ((cfg: Parsed, ctx: Ctx) => void)[] = [
    checkPostgresNames,
    checkMssqlDatabases,
    checkDescheduler,
    checkVeleroNodeAgent,
    checkRecoveries,
    checkDrills,
    checkOffsite,
    checkSharedBuckets,
    checkMssqlNames,
    checkCreatedNamespaces,
    checkPlatformStorage,
];

export const schema = platforms.superRefine((cfg, ctx) => {
    for (const rule of CROSS_FIELD_RULES) rule(cfg, ctx);
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
