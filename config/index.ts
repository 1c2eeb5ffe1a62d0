// The configuration: one schema, parsed once. What downstream code may use of it.
export { MAX_STRIPES, isCalendarTime } from "./databases";
export { CONFIG_NAMESPACE, ConfigError } from "./errors";
export { MAX_KEEP_DAYS, cronProblem, endpointProblem } from "./formats";
export { parseConfig, PROVIDER_NAMESPACES, SECRET_KEYS, parseConfigMap, loadConfig, programConfig } from "./load";
export { activeConsumers, bucketWriters, replicaBucketName } from "./rules";
export {
    Config,
    AwsConfig,
    BaremetalConfig,
    PostgresDatabase,
    MssqlDatabase,
    VeleroScheduleConfig,
    RecoveryConfig,
    Resources,
    OffsiteConfig,
    OffsiteAwsConfig,
    DrillsConfig,
    CONFIG_KEYS,
} from "./schema";
export { AWS_REGIONS } from "./storage";
export { coverageRules } from "./coverage";
